/* exec.h: ExecuteCommand (ECS Exec): the checks ECS makes and its answer; the command itself runs through
 * `ecsbox ecs execute-command` (ecsbox-monitor --exec), see docs/exec.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct api_ctx;

struct exec_in {
        const char *cluster, *task, *container, *command;
        bool interactive;
};
/* Pure: ExecuteCommand's request (command and task required, interactive must be true as on ECS). */
int exec_decode(json_t *req, struct exec_in *in, struct err *err);

int op_execute_command(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
