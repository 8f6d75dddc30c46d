/* ecs.h: `ecsbox ecs VERB --flags` (aws ecs style, against ecsboxd) and ecsbox's logs, flow-logs, events. */
#pragma once

#include "flags.h"

/* ecs flags: camelCase members, list, structure-list, number and boolean flags, shorthand values. */
extern const struct flag_dialect ecs_flag_dialect;

/* argv[0] is the verb. Returns the process's exit code (0, EXIT_USAGE, EXIT_SERVICE, EXIT_OTHER). */
int cli_ecs(const char *endpoint, const char *netd_sock, int argc, char **argv);
