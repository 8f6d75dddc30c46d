/* events.h: `ecsbox ecs events --service NAME [--follow]`. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* req holds the parsed flags (service, cluster). Returns the exit code. */
int cli_events(const char *endpoint, json_t *req, bool follow);
