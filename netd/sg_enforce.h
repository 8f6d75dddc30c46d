/* sg_enforce.h: security groups in the kernel: task tables, membership changes, the VPC bridge guard. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;

/* Before an ENI's link exists (add) / after it is gone: its port, MAC and IP in the VPC's bridge table. */
int sg_guard_eni(struct netd *d, json_t *eni, bool add, struct err *err);
/* After the link exists: build the task netns's inet + netdev tables. join: the ENI is new (a member
 * of its groups from now on): its peers learn its address too, as sg_member_moved(NULL, eni) does,
 * before this returns; when they cannot, they are put back and this fails (the caller removes the
 * ENI's own table with its netns or links). */
int sg_task_attach(struct netd *d, json_t *eni, bool join, struct err *err);
/* Detach from a netns netd keeps: remove the tables. */
int sg_task_detach(struct netd *d, json_t *eni, struct err *err);
/* Refill the SG sets of one attached ENI (its groups changed). */
int sg_eni_refresh(struct netd *d, json_t *eni, struct err *err);
/* Refill every attached ENI that uses one of these groups (their rules changed). */
int sg_groups_changed(struct netd *d, json_t *group_ids, struct err *err);
/* One ENI's membership changed: before is its record as it was (NULL: it was not there), after as it
 * is now (NULL: it is gone). Every attached ENI but this one whose rules name a group it joined or
 * left gets its address added to or removed from that group's member set, one small transaction
 * per netns; a netns that refuses it is refilled from the records (with the ENI as after says).
 * Returns when every peer's transaction is acknowledged: the change is in force. A peer whose netns
 * is gone (deleted behind netd's back) has no table to update and is skipped with a warning. Stops
 * at the first peer that cannot be updated at all and fails; the caller rolls back (the same call
 * with before and after swapped). */
int sg_member_moved(struct netd *d, json_t *before, json_t *after, struct err *err);
/* Start-up: bridge tables rebuilt, task tables checked and repaired, unowned ones removed. Returns repairs. */
int sg_reconcile(struct netd *d);
