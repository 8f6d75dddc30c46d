/* task_protect.h: task scale-in protection (GetTaskProtection, UpdateTaskProtection). A service's
 * task keeps it in its record ("ebx.protectedUntil", epoch seconds); the service scheduler does
 * not pick a protected task when it scales in or drains an old deployment. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct api_ctx;

#define TASK_PROTECT_DEFAULT_MIN 120
#define TASK_PROTECT_MAX_MIN 2880

struct task_protect_in {
        const char *cluster;
        json_t *tasks;                       /* ids or ARNs (borrowed); NULL for GetTaskProtection: all */
        bool enabled;                        /* protectionEnabled */
        long long minutes;                   /* expiresInMinutes, 1..2880 (120) */
};
/* get: GetTaskProtection (cluster required, tasks up to 100); else UpdateTaskProtection (tasks
 * 1..10 and protectionEnabled required). Pure. */
int task_protect_decode(json_t *req, bool get, struct task_protect_in *ret, struct err *err);
/* Whether a task record is protected at time now. */
bool task_protected(json_t *rec, double now);

int op_get_task_protection(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_update_task_protection(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
