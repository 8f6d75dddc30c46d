/* eni_req.h: the requests of the network interface operations, decoded and checked (req.h); also the parts
 * CreateTaskNetwork awsvpc (new ENI) and DeleteTaskNetwork (which ENI) share with them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "req.h"

/* A new ENI: CreateNetworkInterface, CreateTaskNetwork awsvpc. */
struct eni_create_req {
        const char *subnet_id;         /* a well-formed subnet id */
        const char *ip_s;              /* PrivateIpAddress as given, or NULL: the subnet's next free address */
        uint32_t ip;                   /* ip_s parsed */
        const char *desc;              /* Description (at most 255 characters), or NULL */
        const char *type;              /* InterfaceType "veth" (the default) or "macvlan" */
        json_t *groups;                /* Groups: 0-5 well-formed sg ids, or NULL; none: the VPC's default group */
};
/* The members above (the caller has checked the member names). */
int eni_create_fields_decode(json_t *req, struct eni_create_req *ret, struct err *err);
int eni_create_req_decode(json_t *req, struct eni_create_req *ret, struct err *err);

int eni_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);

struct eni_delete_req {
        const char *eni_id;            /* a well-formed eni id */
};
int eni_delete_req_decode(json_t *req, struct eni_delete_req *ret, struct err *err);

struct eni_attach_req {
        const char *eni_id;            /* a well-formed eni id */
        const char *netns;             /* a valid netns name (req_netns_name) */
        const char *instance_id;       /* InstanceId label, or NULL */
};
int eni_attach_req_decode(json_t *req, struct eni_attach_req *ret, struct err *err);

/* An attached ENI named by id, by its netns or by its attachment id, tried in that order (at least one set). */
struct eni_find_req {
        const char *eni_id;            /* well-formed when set */
        const char *netns;
        const char *attachment_id;
};
/* The members above (the caller has checked the member names). */
int eni_find_fields_decode(json_t *req, struct eni_find_req *ret, struct err *err);

struct eni_detach_req {
        struct eni_find_req find;
        bool force;                    /* accepted, changes nothing: a detach always removes the links */
};
int eni_detach_req_decode(json_t *req, struct eni_detach_req *ret, struct err *err);
