/* tasknet.h: task networks: CreateTaskNetwork/DeleteTaskNetwork (awsvpc through eni.c, ECS `bridge` and
 * `none` here), DescribeTaskNetworks, their records, intents and repair. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

int op_create_task_network(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_task_network(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_task_networks(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* An ENI may not be attached to a bridge/none task's netns: -EEXIST with err. */
int tasknet_netns_check(struct netd *d, const char *netns, struct err *err);
/* An instance ENI (its netns) with bridge tasks may not go: DependencyViolation. */
int tasknet_instance_check(struct netd *d, json_t *eni, struct err *err);

/* Start-up: 1 when the intent was ours (replayed, the intent dropped, logged), 0 when not ours. */
int tasknet_replay_intent(struct netd *d, const char *ikey, json_t *intent, struct err *err);
/* Start-up, after the ENIs are repaired: bridges, tables, task links and index records agree with the records. */
int tasknet_reconcile(struct netd *d, struct err *err);
