/* api.h: the ECS JSON 1.1 edge: X-Amz-Target routing, body parsing, error answers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "ecsbox/ids.h"

#define SCHED_BODY_MAX (1024 * 1024)    /* request bodies above this are refused */
#define ECS_SIGNING_NAME "ecs"          /* the service in an ECS request's SigV4 credential scope */

struct sched;
struct api_ctx;

struct api_response {
        int status;                          /* 200, 400, 403 or 500 */
        char *body;                          /* malloc'ed JSON text (or XML: content_type) */
        const char *content_type;            /* NULL: application/x-amz-json-1.1 */
        char request_id[UUID_STR_MAX];
};
/* Handles one request (already authenticated) completely; never fails (errors become 4xx/5xx bodies).
 * region: the signer's (ARNs are made in it), NULL for the daemon's. */
void api_handle(struct sched *s, const char *target, const char *body, size_t len, const char *region,
                bool too_large, struct api_response *ret);
/* An error answer (a new request id) of type with msg, for refusals before api_handle. */
void api_error(struct api_response *ret, int status, const char *type, const char *msg);
/* The SigV4 signing name a request for target must be scoped to: "servicediscovery" for Cloud Map
 * (Route53AutoNaming_v20170314.*), else "ecs" (ECS and the images service). */
const char *api_signing_name(const char *target);
/* The region in "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/ecs/aws4_request, ..." or false. */
bool api_auth_region(const char *authorization, char *buf, size_t size);
/* Runs an operation on a parsed request (used by api_handle and unit tests). */
int api_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);
