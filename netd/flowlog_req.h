/* flowlog_req.h: the requests of CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs and GetFlowLogs, decoded
 * and checked (req.h). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"
#include "flowlog_fmt.h"
#include "req.h"

struct flowlog_create_req {
        const char *type;              /* ResourceType: NetworkInterface, Subnet or VPC */
        json_t *ids;                   /* ResourceIds: 1-1000 distinct well-formed ids of type */
        const char *traffic;           /* TrafficType: ACCEPT, REJECT or ALL */
        const char *format;            /* LogFormat as given, or NULL: the default */
        struct fl_format fmt;          /* format parsed */
        const char *dtype;             /* LogDestinationType: "file" */
        const char *dest;              /* LogDestination: an absolute path (flowlog.c checks the directory) */
        const char *token;             /* ClientToken, or NULL */
        long long interval;            /* MaxAggregationInterval, 1-600 (600 when absent) */
        json_t *tags;                  /* the vpc-flow-log tags of TagSpecifications: a new array, owned */
};
int flowlog_create_req_decode(json_t *req, struct flowlog_create_req *ret, struct err *err);
void flowlog_create_req_done(struct flowlog_create_req *q);

/* FlowLogIds and Filters (or Filter, as the EC2 API names DescribeFlowLogs' list). */
int flowlog_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err);

struct flowlog_delete_req {
        json_t *ids;                   /* FlowLogIds: at least one, well-formed */
};
int flowlog_delete_req_decode(json_t *req, struct flowlog_delete_req *ret, struct err *err);

struct flowlog_get_req {
        const char *eni_id;            /* a well-formed eni id */
        const char *flow_log_id;       /* a well-formed flow log id, or NULL: every flow log of the ENI */
};
int flowlog_get_req_decode(json_t *req, struct flowlog_get_req *ret, struct err *err);
