/* starttask.h: StartTask: one task on each container instance the caller names. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct api_ctx;

int op_start_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
