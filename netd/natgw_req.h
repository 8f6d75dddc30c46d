/* natgw_req.h: the requests of CreateNatGateway, DescribeNatGateways and DeleteNatGateway, decoded and checked (req.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"
#include "req.h"

struct natgw_create_req {
        const char *subnet_id;         /* a well-formed subnet id */
        const char *allocation_id;     /* eipalloc-..., or NULL (ecsbox has no elastic IPs: only echoed) */
        bool private_;                 /* ConnectivityType private (default public) */
};
int natgw_create_req_decode(json_t *req, struct natgw_create_req *ret, struct err *err);

/* NatGatewayIds and Filter (EC2's name for this call; Filters accepted too). */
int natgw_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);

struct natgw_delete_req {
        const char *natgw_id;
};
int natgw_delete_req_decode(json_t *req, struct natgw_delete_req *ret, struct err *err);
