/* ecs.h: ECS services with serviceRegistries: the check of the registry against the task definition and
 * Cloud Map, and the registration of the service's tasks as Cloud Map instances (one per task,
 * InstanceId = task id). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct sched;

/* The serviceRegistries (already decoded: at most one, members typed) against the task definition td
 * and the Cloud Map service its registryArn names; ECS's InvalidParameterException / ClientException. */
int sd_ecs_registries_check(struct sched *s, json_t *registries, json_t *td, struct err *err);

/* Reconciles the Cloud Map instances of the ECS service record rec (store key key, e.g.
 * "service/default/web") with its tasks: a task RUNNING as desired (and HEALTHY when it has a health
 * check) is registered, any other instance of the service deregistered. rec's private part remembers
 * the Cloud Map service, so that removing the registry deregisters what it had. Logs, never fails. */
void sd_ecs_sync(struct sched *s, const char *key, json_t *rec, json_t *tasks);
