/* instance.h: container instances ("instance/CLUSTER/ID"), their usage and their API. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"

struct sched;
struct api_ctx;

struct instance_type {
        const char *name;
        int cpu, mem, enis;
};
const struct instance_type *instance_type_find(const char *name);
/* What the tasks (records, any cluster) placed on instance id hold: resources of
 * every task not STOPPED; tcp/udp (65536-bit maps, may be NULL) get their static host ports. */
struct inst_usage {
        long cpu, mem;
        int enis, running, pending;
};
void instance_usage(json_t *tasks, const char *id, struct inst_usage *u, uint64_t *tcp, uint64_t *udp);
/* The store key of an instance record: instance/CLUSTER/ID. */
void instance_key(char *buf, size_t size, const char *cluster, const char *id);
/* registeredResources / remainingResources entries (INTEGER and STRINGSET; values is taken). */
json_t *instance_resource_int(const char *name, long v);
json_t *instance_resource_set(const char *name, json_t *values);
/* Sets (value NULL: without a value) or adds the attribute name in an attributes array. */
void attr_set(json_t *attrs, const char *name, const char *value);
/* Loads an instance record (not INACTIVE unless any) by id or ARN; -ENOENT when absent. */
int instance_get(struct sched *s, const char *cluster, const char *ref, bool any, json_t **ret, struct err *err);
/* Instance records of a cluster (ACTIVE and DRAINING unless all); *ret a new array. */
int instance_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err);
/* The public shape of an instance record, with counts and remainingResources. */
json_t *instance_shape(struct sched *s, const char *cluster, json_t *rec);
/* Releases the networks of INACTIVE instances that no task uses any more (the loop, every minute). */
void instance_release_pending(struct sched *s);
int op_register_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_deregister_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
