/* api.h: the Cloud Map service of ecsboxd (AWS servicediscovery 2017-03-14, JSON 1.1,
 * X-Amz-Target Route53AutoNaming_v20170314.*, SigV4 signing name servicediscovery); docs/servicediscovery.md. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

#define SD_TARGET_PREFIX "Route53AutoNaming_v20170314."
#define SD_SIGNING_NAME "servicediscovery"

struct api_ctx;

/* Runs op (without the prefix); errors in err with the JSON 1.1 __type as code. */
int sd_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);
