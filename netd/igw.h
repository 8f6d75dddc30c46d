/* igw.h: internet gateways: CreateInternetGateway, Attach/Detach/Delete/DescribeInternetGateways. An
 * attached gateway is what a route table's route needs to take a subnet out (egress.c). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

int op_create_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_attach_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_detach_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_internet_gateways(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* A new detached gateway's record (not stored). */
int igw_new(struct netd *d, json_t **ret, struct err *err);
/* The VPC a gateway record is attached to, or NULL. */
const char *igw_vpc(json_t *igw);
/* Attach the record to vpc_id (NULL: detach). */
void igw_set_vpc(json_t *igw, const char *vpc_id);
/* The record of igw_id, or InvalidInternetGatewayID.Malformed / .NotFound. */
int igw_load(struct netd *d, const char *igw_id, json_t **ret, struct err *err);
