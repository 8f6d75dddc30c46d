/* tasknet.h: ECS `bridge` and `none` task networks (CreateTaskNetwork NetworkMode), their records, intents and repair. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

/* CreateTaskNetwork: 1 when NetworkMode is "bridge" or "none" and the
 * request was handled (*ret filled); 0 for "awsvpc" (the member is removed
 * from req and eni.c goes on); < 0 with err on bad input or failure. */
int tasknet_create_hook(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* DeleteTaskNetwork: 1 when Netns names a bridge or none task network (handled), 0 otherwise. */
int tasknet_delete_hook(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* An ENI may not be attached to a bridge/none task's netns: -EEXIST with err. */
int tasknet_netns_check(struct netd *d, const char *netns, struct err *err);
/* An instance ENI (its netns) with bridge tasks may not go: DependencyViolation. */
int tasknet_instance_check(struct netd *d, json_t *eni, struct err *err);
int op_describe_task_networks(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* Start-up: 1 when the intent was ours (and replayed), 0 when not ours. */
int tasknet_replay_intent(struct netd *d, const char *ikey, json_t *intent, struct err *err);
/* Start-up, after the ENIs are repaired: bridges, tables, task links and index records agree with the records. */
int tasknet_reconcile(struct netd *d, struct err *err);
