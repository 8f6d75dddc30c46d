/* netd_client.h: ecsboxd's client of ecsbox-netd: the socket call and the few requests several modules make. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct sched;

int netd_socket_call(struct sched *s, json_t *req, json_t **ret, struct err *err);
/* Makes sure the default VPC and subnet are known (DescribeVpcs is-default,
 * else our own record, else created). */
int netd_ensure_defaults(struct sched *s, struct err *err);
/* netd error code of err ("" when the error did not come from netd). */
const char *netd_code(const struct err *err);
/* DeleteTaskNetwork by namespace name, after DeleteFlowLogs of the flow logs on its ENI; a namespace
 * netd does not know is not an error. */
int netd_release(struct sched *s, const char *netns, struct err *err);
/* DescribeSubnets for one id; *ret the Subnet object. */
int netd_subnet(struct sched *s, const char *subnet_id, json_t **ret, struct err *err);
