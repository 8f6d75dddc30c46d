/* subnet_req.h: the requests of CreateSubnet, DescribeSubnets and DeleteSubnet, decoded and checked (req.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"
#include "req.h"

struct subnet_create_req {
        const char *vpc_id;            /* a well-formed vpc id */
        const char *cidr_s;            /* CidrBlock as given; its prefix and place in the VPC are checked by subnet_create */
        struct cidr4 cidr;
        const char *az;                /* a zone name, or NULL: REGION + "a" */
};
/* region only names an example in the message of a bad AvailabilityZone. */
int subnet_create_req_decode(json_t *req, const char *region, struct subnet_create_req *ret, struct err *err);
/* A zone name as EC2 spells one: lowercase letters, digits and dashes, a digit, then the zone letter. */
bool subnet_req_az_valid(const char *az);

int subnet_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);

struct subnet_delete_req {
        const char *subnet_id;         /* a well-formed subnet id */
};
int subnet_delete_req_decode(json_t *req, struct subnet_delete_req *ret, struct err *err);
