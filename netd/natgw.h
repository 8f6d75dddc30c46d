/* natgw.h: NAT gateways: CreateNatGateway, DescribeNatGateways, DeleteNatGateway. ecsbox has no
 * elastic IPs: a NAT gateway masquerades behind the host's own address (egress.c decides when a
 * route to it takes traffic out). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

int op_create_nat_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_nat_gateways(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_nat_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* The record of natgw_id, or InvalidNatGatewayID.Malformed / NatGatewayNotFound (code: the NotFound code to use). */
int natgw_load(struct netd *d, const char *natgw_id, const char *code, json_t **ret, struct err *err);
