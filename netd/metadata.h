/* metadata.h: the task metadata endpoint's address in each VPC (see metadata.c). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

#define METADATA_IP 0xa9feaa02u         /* 169.254.170.2 */
#define METADATA_PORT 80

/* OpenMetadataListener {VpcId}: {VpcId, Address, Port} and, passed on the socket with the answer, a
 * listening TCP socket bound to 169.254.170.2:80 inside the VPC's namespace. */
int op_open_metadata_listener(struct netd *d, json_t *req, json_t **ret, struct err *err);
