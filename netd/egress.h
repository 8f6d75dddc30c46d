/* egress.h: a way out of a VPC: what the route tables, internet and NAT gateways of a VPC mean for its
 * router (computed from the records, applied by kernel/knet_egress.c), the one commit path of their
 * operations, and the hooks VPCs and subnets call. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;

/* The VPC router made to match the records of vpc_id (nothing when the VPC is gone). Idempotent. */
int egress_apply(struct netd *d, const char *vpc_id, struct err *err);

/* The records changes ([[key, record or null], ...]) and an intent {Op: EgressApply, VpcId} in one
 * transaction, then egress_apply and the intent dropped. A kernel failure keeps the intent: start-up
 * applies it again. */
int egress_commit(struct netd *d, const char *vpc_id, json_t *changes, struct err *err);
/* Start-up: an EgressApply left behind is dropped; egress_reconcile applies its VPC again. */
int egress_intent_replay(struct netd *d, json_t *intent, struct err *err);

/* "active" or "blackhole": a route of rtb to an internet gateway attached to its VPC, to an available
 * NAT gateway, or local. */
const char *egress_route_state(struct netd *d, json_t *rtb, json_t *route);

/* CreateVpc: the VPC's main route table (local route, Main association). */
int egress_vpc_created(struct netd *d, json_t *vpc, struct err *err);
/* DeleteVpc: DependencyViolation while an internet gateway is attached or a route table other than the
 * main one remains. */
int egress_vpc_dependencies(struct netd *d, const char *vpc_id, struct err *err);
/* DeleteVpc done: its main route table goes. */
void egress_vpc_deleted(struct netd *d, const char *vpc_id);
/* DeleteSubnet: DependencyViolation while a NAT gateway (not deleted) sits in it. */
int egress_subnet_dependencies(struct netd *d, const char *subnet_id, struct err *err);
/* A subnet made or deleted (deleted_id: its explicit association goes too): the VPC applied again. */
void egress_subnet_changed(struct netd *d, const char *vpc_id, const char *deleted_id);
/* The default VPC: an internet gateway, attached, and 0.0.0.0/0 to it in the main table. */
int egress_default_vpc(struct netd *d, const char *vpc_id, struct err *err);
/* Start-up: main tables for VPCs without one, records of vanished VPCs and subnets released, the
 * default VPC's gateway (once), every VPC applied, the host table. Returns the number of repairs. */
int egress_reconcile(struct netd *d);

/* The route table whose association names subnet_id, else the VPC's main table (a new reference, NULL: none). */
json_t *egress_subnet_table(struct netd *d, const char *vpc_id, const char *subnet_id);
/* Every record under prefix whose member key equals value: a new array (empty on error). */
json_t *egress_records_where(struct netd *d, const char *prefix, const char *key, const char *value);
