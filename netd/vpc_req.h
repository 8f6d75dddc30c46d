/* vpc_req.h: the requests of CreateVpc, DescribeVpcs and DeleteVpc, decoded and checked (req.h). */
#pragma once

#include <jansson.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"
#include "req.h"

struct vpc_create_req {
        const char *cidr_s;            /* CidrBlock as given (canonical once checked: /16 to /28) */
        struct cidr4 cidr;
};
int vpc_create_req_decode(json_t *req, struct vpc_create_req *ret, struct err *err);
/* A VPC's CIDR block: a valid one (InvalidParameterValue) of /16 to /28 (InvalidVpc.Range). */
int vpc_req_cidr(const char *cidr_s, struct cidr4 *ret, struct err *err);

int vpc_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);

struct vpc_delete_req {
        const char *vpc_id;            /* a well-formed vpc id */
};
int vpc_delete_req_decode(json_t *req, struct vpc_delete_req *ret, struct err *err);
