/* taskdef.h: task definitions ("taskdef/FAMILY/REV"): validation, records and their API. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct api_ctx;
struct sched;

/* Validates a RegisterTaskDefinition request and builds the TaskDefinition
 * (defaults filled in, revision and ARN left to the caller). Pure. */
int taskdef_build(json_t *req, json_t **ret, struct err *err);
/* Loads a task definition by family[:rev] or ARN (family alone: the latest ACTIVE). */
int taskdef_get(struct api_ctx *c, const char *ref, json_t **ret, struct err *err);
/* taskdef_get for RunTask, StartTask and services: an ACTIVE one, else InvalidParameterException
 * ("TaskDefinition not found." / "TaskDefinition is inactive: ARN."). */
int taskdef_get_active(struct api_ctx *c, const char *ref, json_t **ret, struct err *err);
/* The tags of the task definition with this ARN (a new reference), NULL when it has none. */
json_t *taskdef_tags(struct sched *s, const char *arn);
/* Parses a task cpu/memory value ("1024", "1 vCPU", "0.5 GB", "2GB", or a number) into units/MiB. */
int taskdef_units(json_t *v, bool memory, long *ret);
/* DeleteTaskDefinitions' request: taskDefinitions, 1 to 10 references (borrowed). Pure. */
int delete_tds_decode(json_t *req, json_t **ret, struct err *err);
/* Removes the DELETE_IN_PROGRESS revisions nothing uses any more (the loop's prune). */
void taskdefs_sweep(struct sched *s);
int op_delete_task_definitions(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_register_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_task_definitions(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_deregister_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_task_definition_families(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
