/* cli.h: shared pieces of the ecsbox command line. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* aws exit codes: 252 usage, 254 service error, 255 connection/other */
#define EXIT_USAGE 252
#define EXIT_SERVICE 254
#define EXIT_OTHER 255

void cli_pascal(const char *kebab, char *out, size_t len);
void cli_camel(const char *kebab, char *out, size_t len);
int cli_parse_filter(const char *s, json_t **ret);
json_t *cli_shorthand(const char *s);
/* One request to netd; *ret gets its answer (with "Error" on failure); -errno when unreachable. */
int cli_netd_call(const char *sock, json_t *req, json_t **ret);
int cli_ecs_call(const char *endpoint, const char *op, json_t *req, json_t **ret);
int cli_ecs(const char *endpoint, const char *netd_sock, int argc, char **argv);
int cli_ps(const char *endpoint, int argc, char **argv);
