/* vpc.h: VPCs: a namespace holding the router, an uplink to the host; CreateVpc, DescribeVpcs, DeleteVpc. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;
struct knet_vpc;
struct vpc_create_req;

int op_create_vpc(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_vpcs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_vpc(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* A new VPC with its default security group (the default VPC too) from a decoded CreateVpc (vpc_req.h):
 * *ret_vpc is the record. */
int vpc_create(struct netd *d, const struct vpc_create_req *q, bool is_default, json_t **ret_vpc, struct err *err);
/* The record of vpc_id, or InvalidVpcID.Malformed / InvalidVpcID.NotFound. */
int vpc_load(struct netd *d, const char *vpc_id, json_t **ret, struct err *err);
/* The kernel description of a VPC record; strings point into the record. */
void vpc_knet(json_t *vpc, struct knet_vpc *ret);
/* Start-up: roll back an interrupted CreateVpc, finish a DeleteVpc (the intent is dropped by intent.c). */
int vpc_intent_replay(struct netd *d, json_t *intent, struct err *err);
