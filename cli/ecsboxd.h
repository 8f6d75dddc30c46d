/* ecsboxd.h: the command line's ECS API calls to ecsboxd (HTTP on a URL or a Unix socket path). */
#pragma once

#include <jansson.h>

/* One API call; *ret gets the answer (or the error body). Returns the HTTP status, or -1 when
 * ecsboxd could not be reached (message printed). */
int cli_ecs_call(const char *endpoint, const char *op, json_t *req, json_t **ret);
/* Calls and, on an error answer, prints it the aws way. Returns 0, EXIT_SERVICE or EXIT_OTHER. */
int cli_ecs_call_or_print(const char *endpoint, const char *op, json_t *req, json_t **ret);
/* The value of a task attachment's detail ("networkInterfaceId", "privateIPv4Address", ...), or NULL. */
const char *cli_task_detail(json_t *task, const char *name);
