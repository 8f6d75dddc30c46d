/* ecs.h (elb/): ECS services' loadBalancers: the check against the task definition and the target
 * group, and the service's tasks registered while RUNNING (healthy when they have a health check),
 * deregistered otherwise: awsvpc tasks as ip targets, bridge and host tasks as instance targets (the
 * container instance's EC2 id, the host port). The pattern of sd/ecs.h. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct sched;

/* loadBalancers (decoded: [{targetGroupArn, containerName, containerPort}]) against the task definition
 * td: the group exists, its target type fits the network mode (ip: awsvpc, instance: bridge or host),
 * the container maps the port. ECS's InvalidParameterException. */
int elb_ecs_check(struct sched *s, json_t *lbs, json_t *td, struct err *err);

/* Reconciles the targets of each target group of the ECS service record rec (store key key) with its
 * tasks; rec's private part (ebx.elbTargets) remembers what was registered, so that a group removed
 * from loadBalancers loses them. Logs, never fails. */
void elb_ecs_sync(struct sched *s, const char *key, json_t *rec, json_t *tasks);
