/* rtb_req.h: the requests of the route table operations (tables, routes, associations), decoded and checked (req.h). */
#pragma once

#include <jansson.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"
#include "req.h"

struct rtb_create_req {
        const char *vpc_id;
};
int rtb_create_req_decode(json_t *req, struct rtb_create_req *ret, struct err *err);

struct rtb_delete_req {
        const char *rtb_id;
};
int rtb_delete_req_decode(json_t *req, struct rtb_delete_req *ret, struct err *err);

int rtb_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);

/* CreateRoute, ReplaceRoute (exactly one target: GatewayId igw-... or NatGatewayId nat-...) and
 * DeleteRoute (no target). */
struct route_req {
        const char *rtb_id;
        const char *dst_s;             /* DestinationCidrBlock as given */
        struct cidr4 dst;
        const char *gateway_id;        /* igw-..., or NULL */
        const char *natgw_id;          /* nat-..., or NULL */
};
int route_create_req_decode(json_t *req, struct route_req *ret, struct err *err);
int route_delete_req_decode(json_t *req, struct route_req *ret, struct err *err);

struct rtb_assoc_req {
        const char *rtb_id;
        const char *subnet_id;
};
int rtb_assoc_req_decode(json_t *req, struct rtb_assoc_req *ret, struct err *err);

struct rtb_disassoc_req {
        const char *assoc_id;          /* rtbassoc-... */
};
int rtb_disassoc_req_decode(json_t *req, struct rtb_disassoc_req *ret, struct err *err);
