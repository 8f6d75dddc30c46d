/* task.h: task records ("task/CLUSTER/ID") and the API that reads or stops them
 * (StopTask, DescribeTasks, ListTasks, GetTaskLogs). Starting tasks: runtask.h. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "ecs.h"

struct sched;
struct api_ctx;

#define TASK_KEY_MAX (NAME_MAX_ECS + 64)

void task_key(char *buf, size_t size, const char *cluster, const char *id);
/* The public Task shape of a record (internal members removed). */
json_t *task_shape(json_t *rec, bool tags);
/* Tasks of a cluster (NULL: every cluster); all = include STOPPED. *ret a new array of records. */
int task_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err);
int task_put(struct sched *s, json_t *rec, struct err *err);
/* A task by id or ARN ("…:task/CLUSTER/ID" names its cluster); -ENOENT when absent. *ret is new. */
int task_load(struct sched *s, const char *cluster, const char *ref, json_t **ret, char ret_key[TASK_KEY_MAX], struct err *err);
int op_stop_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_get_task_logs(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
