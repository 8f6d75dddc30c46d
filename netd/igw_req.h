/* igw_req.h: the requests of the internet gateway operations, decoded and checked (req.h). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"
#include "req.h"

int igw_create_req_decode(json_t *req, struct err *err);

/* AttachInternetGateway and DetachInternetGateway. */
struct igw_attach_req {
        const char *igw_id;            /* a well-formed igw id */
        const char *vpc_id;            /* a well-formed vpc id */
};
int igw_attach_req_decode(json_t *req, struct igw_attach_req *ret, struct err *err);

struct igw_delete_req {
        const char *igw_id;
};
int igw_delete_req_decode(json_t *req, struct igw_delete_req *ret, struct err *err);

int igw_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);
