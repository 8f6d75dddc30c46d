/* ecs.h (elb/): ECS services' loadBalancers: the check against the task definition and the target
 * group, and the service's awsvpc tasks registered as ip targets while RUNNING (healthy when they have
 * a health check), deregistered otherwise. The pattern of sd/ecs.h. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct sched;

/* loadBalancers (decoded: [{targetGroupArn, containerName, containerPort}]) against the task definition
 * td: the group exists and takes ip targets, the task definition is awsvpc, the container maps the
 * port. ECS's InvalidParameterException. */
int elb_ecs_check(struct sched *s, json_t *lbs, json_t *td, struct err *err);

/* Reconciles the targets of each target group of the ECS service record rec (store key key) with its
 * tasks; rec's private part (ebx.elbTargets) remembers what was registered, so that a group removed
 * from loadBalancers loses them. Logs, never fails. */
void elb_ecs_sync(struct sched *s, const char *key, json_t *rec, json_t *tasks);
