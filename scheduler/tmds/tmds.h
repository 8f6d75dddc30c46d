/* tmds.h: the task metadata endpoint (v3, v4) and the task-role credentials endpoint, at 169.254.170.2:80
 * in every VPC that has tasks ([docs/task-metadata.md]). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"
#include "shape.h"

struct sched;

/* A fresh id: TASKID-<32 random hex>; the only key to a container's metadata. */
int tmds_new_id(const char *task_id, char buf[TMDS_ID_MAX]);

/* The endpoint's variables in each container's environment (spec containers), unless the definition
 * sets them: ECS_CONTAINER_METADATA_URI_V4, ECS_CONTAINER_METADATA_URI, ECS_AGENT_URI, AWS_REGION,
 * AWS_DEFAULT_REGION, and with a task role AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. The ids are made once
 * and kept in ebx.tmds (container name -> id; "" -> the credentials id). */
int tmds_task_env(const char *task_id, json_t *ebx, json_t *containers, const char *region);

/* The VPC's endpoint served (idempotent): asks netd for its listening socket the first time. */
int tmds_vpc_ensure(struct sched *s, const char *vpc_id, struct err *err);
/* After recovery: the endpoints of the VPCs of every task not yet stopped (failures logged). */
int tmds_recover(struct sched *s);
void tmds_free(struct sched *s);
