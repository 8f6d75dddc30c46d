/* service.h: services ("service/CLUSTER/NAME"), their API and the service scheduler. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct sched;
struct api_ctx;

int op_create_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_update_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* One pass of the service scheduler over every service (the loop: every tick, and soon after a kick). */
void services_tick(struct sched *s);
/* Services of a cluster that are ACTIVE or DRAINING, or -errno. */
int services_count(struct sched *s, const char *cluster, struct err *err);
/* Asks for a pass on a coming loop turn (a service changed, or one of its tasks did). */
void services_kick(struct sched *s);
/* Adds an event (newest first, the list capped) to a service record: for the modules that follow a
 * service's tasks in its pass (elb/ecs.c). */
void service_event_add(json_t *rec, const char *msg);
