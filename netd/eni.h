/* eni.h: ENIs: records with a lease and a MAC, a veth or macvlan eth0 in a named namespace when attached. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;
struct knet_eni;
struct eni_create_req;
struct eni_find_req;

int op_create_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_network_interfaces(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_attach_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_detach_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* CreateTaskNetwork awsvpc (decoded by tasknet_req.c): a new ENI attached to netns, with metadata (borrowed,
 * may be NULL) kept for flow logs. *ret is the answer. */
int eni_task_create(struct netd *d, const struct eni_create_req *q, const char *netns, const char *instance_id, json_t *metadata,
                    json_t **ret, struct err *err);
/* DeleteTaskNetwork awsvpc: detach the ENI named by NetworkInterfaceId or Netns and forget it. */
int eni_task_delete(struct netd *d, const struct eni_find_req *q, json_t **ret, struct err *err);

/* Fill a knet_eni from records; strings point into the json objects. */
int eni_knet(struct netd *d, json_t *eni, json_t *subnet, json_t *vpc, struct knet_eni *ret, struct err *err);
/* A task network answer's DnsServers (the VPC CIDR's base + 2) and DnsSearch (ec2.internal in us-east-1,
 * REGION.compute.internal elsewhere), added to o; nothing when the VPC record cannot be read. */
void eni_task_dns(struct netd *d, const char *vpc_id, json_t *o);
/* The API's NetworkInterface structure: a new object. */
json_t *eni_shape(struct netd *d, json_t *eni);
/* Remove links, then record detached (or forget the ENI); drops intent ikey (may be NULL). Idempotent. */
int eni_detach_finish(struct netd *d, json_t *eni, bool forget, const char *ikey, struct err *err);
/* Start-up: roll back an interrupted attach or CreateTaskNetwork, finish a detach or DeleteTaskNetwork
 * (the intent is dropped by intent.c). */
int eni_intent_replay(struct netd *d, json_t *intent, struct err *err);
