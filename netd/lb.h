/* lb.h: the load-balancer data plane's operations (the contract with ecsboxd's ELBv2 API, docs/load-balancers.md):
 * LB addresses (an ENI per subnet, served by the VPC router), target groups with their targets and health,
 * listeners; the VPC's table ip ecsbox_lb made from these records (lb_apply).
 *
 * Records (lib/store.c):
 *   lbnet/LBID   {LoadBalancerId, Name, Type, Scheme, VpcId, SubnetIds, SecurityGroups, Addresses, State}
 *   lbtg/TGID    {TargetGroupId, VpcId, Protocol, Port, PreserveClientIp, DeregistrationDelaySeconds,
 *                 HealthCheck, Targets: [{Id, Port, State, Reason, ebxDrainUntil}]}
 *   lbl/LID      {ListenerId, LoadBalancerId, Protocol, Port, TargetGroupId}
 *   eni/ENI      the LB's ENIs (InterfaceType network_load_balancer | load_balancer, RequesterManaged, in-use,
 *                ebxLoadBalancerId) with their leases. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "ecsbox/err.h"

struct netd;

int op_create_load_balancer_network(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_load_balancer_network(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_put_target_group(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_target_group(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_register_targets(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_deregister_targets(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_target_health(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_put_listener(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_listener(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* The VPC's LB addresses on lo and its table ip ecsbox_lb made exactly as the records say (one
 * transaction). A VPC without a netns record is skipped. */
int lb_apply(struct netd *d, const char *vpc_id, struct err *err);
/* Start-up: every VPC with load balancers applied again. Returns how many VPCs. */
int lb_reconcile(struct netd *d);
/* Start-up: finish an interrupted DeleteLoadBalancerNetwork, roll back an interrupted create. */
int lb_intent_replay(struct netd *d, json_t *intent, struct err *err);
/* The listener (a new reference) forwarding to target group tg_id, or NULL: the group is unused. */
json_t *lb_listener_of_group(struct netd *d, const char *tg_id);
/* The address (host order) of the first LB of a listener forwarding to tg: health checks come from
 * there, as on AWS; 0 when none. *ret_netns: the VPC netns (a copy, 64 bytes). */
uint32_t lb_group_source(struct netd *d, const char *tg_id, char ret_netns[64]);
