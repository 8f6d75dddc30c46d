/* elb.h: Elastic Load Balancing v2 (scheduler/elb/): load balancers, target groups and their targets,
 * listeners, rules and tags, kept in the store and pushed to netd's load-balancer data plane (network
 * load balancers). The Query front (query/query.c) decodes the form over botocore's ELBv2 model and
 * calls elb_handle with the request keyed by the model's member names. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct api_ctx;

/* One ELBv2 operation: *ret gets the answer (the output shape's members); errors carry ELBv2's code
 * (LoadBalancerNotFound, ValidationError, ...), "" for an internal failure. */
int elb_handle(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);
