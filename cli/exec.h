/* exec.h: `ecsbox ecs execute-command` (ECS Exec through ecsbox-monitor --exec). */
#pragma once

#include <jansson.h>

/* ExecuteCommand, then the command in the container with this terminal; the command's exit status. */
int cli_exec(const char *endpoint, json_t *req);
