/* sg_enforce.h: security groups in the kernel: task tables, peer refreshes, the VPC bridge guard. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;

/* Before an ENI's link exists (add) / after it is gone: its port, MAC and IP in the VPC's bridge table. */
int sg_guard_eni(struct netd *d, json_t *eni, bool add, struct err *err);
/* After the link exists: build the task netns's inet + netdev tables. */
int sg_task_attach(struct netd *d, json_t *eni, struct err *err);
/* Detach from a netns netd keeps: remove the tables. */
int sg_task_detach(struct netd *d, json_t *eni, struct err *err);
/* Refill the SG sets of one attached ENI (its groups changed). */
int sg_eni_refresh(struct netd *d, json_t *eni, struct err *err);
/* Refill every attached ENI that uses one of these groups (their rules changed). */
int sg_groups_changed(struct netd *d, json_t *group_ids, struct err *err);
/* Refill every attached ENI whose rules name one of these groups as a peer (their members changed). */
int sg_members_changed(struct netd *d, json_t *group_ids, struct err *err);
/* The same, coalesced: queued in d->sg_refresh and done from the event loop in slices of a few ms (at
 * once when no loop runs yet), so that a burst of ENI creations costs one pass over the affected tables. */
void sg_members_changed_later(struct netd *d, json_t *group_ids);
/* Drop the queue and its event source (at shut-down, before the loop goes). */
void sg_refresh_free(struct netd *d);
/* Start-up: bridge tables rebuilt, task tables checked and repaired, unowned ones removed. Returns repairs. */
int sg_reconcile(struct netd *d);
