/* subnet.h: subnets: a bridge in the VPC namespace; CreateSubnet, DescribeSubnets, DeleteSubnet. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;
struct knet_subnet;
struct subnet_create_req;

int op_create_subnet(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_subnets(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_subnet(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* A new subnet from a decoded CreateSubnet (subnet_req.h): the VPC exists, the block lies in it with a
 * prefix of /16 to /28 and overlaps no other subnet of it. *ret_subnet is the record. */
int subnet_create(struct netd *d, const struct subnet_create_req *q, bool default_for_az, json_t **ret_subnet, struct err *err);
/* The record of subnet_id, or InvalidSubnetID.Malformed / InvalidSubnetID.NotFound. */
int subnet_load(struct netd *d, const char *subnet_id, json_t **ret, struct err *err);
/* The kernel description of a subnet record; strings point into the record and vpc_netns. */
void subnet_knet(json_t *subnet, const char *vpc_netns, struct knet_subnet *ret);
/* The API's Subnet structure (AvailableIpAddressCount from the leases): a new object. */
json_t *subnet_shape(struct netd *d, json_t *subnet);
/* Start-up: roll back an interrupted CreateSubnet, finish a DeleteSubnet (the intent is dropped by intent.c). */
int subnet_intent_replay(struct netd *d, json_t *intent, struct err *err);
