/* routetable.h: route tables: CreateRouteTable, DeleteRouteTable, DescribeRouteTables, CreateRoute,
 * ReplaceRoute, DeleteRoute, AssociateRouteTable, DisassociateRouteTable. Every VPC has a main table
 * (egress_vpc_created); a subnet without an association of its own uses it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;

int op_create_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_route_tables(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_create_route(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_replace_route(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_route(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_associate_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_disassociate_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* A new table record for the VPC record vpc (not stored): the local route, and the Main association when main. */
int rtb_new(struct netd *d, json_t *vpc, bool main, json_t **ret, struct err *err);
bool rtb_is_main(json_t *rtb);
/* Drop subnet_id's association from the record: true when there was one. */
bool rtb_drop_subnet(json_t *rtb, const char *subnet_id);
/* Append a route DST -> target_key (GatewayId / NatGatewayId) = target, Origin CreateRoute. */
int rtb_route_add(json_t *rtb, const char *dst, const char *target_key, const char *target);
