/* tasknet_req.h: the requests of CreateTaskNetwork, DeleteTaskNetwork and DescribeTaskNetworks, decoded
 * and checked (req.h). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "eni_req.h"
#include "portmap.h"

enum tasknet_mode {
        TASKNET_AWSVPC,                /* the default: a new ENI in Netns (eni.c) */
        TASKNET_BRIDGE,
        TASKNET_NONE,
};

struct tasknet_create_req {
        enum tasknet_mode mode;
        const char *netns;             /* a valid netns name */
        json_t *metadata;              /* Metadata (an object), or NULL */
        /* awsvpc */
        const char *instance_id;       /* InstanceId label, or NULL */
        struct eni_create_req eni;
        /* bridge */
        const char *instance_netns;    /* a valid netns name */
        size_t npm;
        struct portmap pm[PORTMAP_MAX];
};
int tasknet_create_req_decode(json_t *req, struct tasknet_create_req *ret, struct err *err);

/* A bridge or none task network by Netns alone; an awsvpc one (its ENI) by NetworkInterfaceId or Netns. */
int tasknet_delete_req_decode(json_t *req, struct eni_find_req *ret, struct err *err);

struct tasknet_describe_req {
        json_t *names;                 /* Netns: a list of strings, or NULL: all */
        const char *instance_netns;    /* only the bridge tasks of this instance netns, or NULL */
};
int tasknet_describe_req_decode(json_t *req, struct tasknet_describe_req *ret, struct err *err);
