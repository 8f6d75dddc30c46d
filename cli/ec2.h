/* ec2.h: `ecsbox ec2 VERB --flags` (aws ec2 style, against ecsbox-netd) and `ecsbox netd-request`. */
#pragma once

#include <stdio.h>

#include "flags.h"

/* ec2 flags: PascalCase members, --filters, *-ids/--groups lists, JSON-looking values as JSON. */
extern const struct flag_dialect ec2_flag_dialect;

/* The command line's usage (ec2 verbs and flags, and the other commands). */
void ec2_usage(FILE *f);
/* argv[0] is the verb. Returns the process's exit code (0, EXIT_USAGE, EXIT_SERVICE, EXIT_OTHER). */
int cli_ec2(const char *sock, int argc, char **argv);
/* One raw JSON request from stdin, netd's answer on stdout. Returns the exit code. */
int cli_netd_request(const char *sock);
