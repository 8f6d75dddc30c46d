/* flowlog.h: flow logs in netd: the EC2 actions (flowlog.c), the collector (flowlog_collect.c), and the kernel reader of the
 * task namespaces' meters (kernel/flowlog_read.c) that fills the accumulator (flowlog_acc.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "flowlog_acc.h"

struct knet;
struct netd;
struct sd_event;

int op_create_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_get_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* Load the flow logs into d->fl and start the collector timer on ev. */
int flowlog_start(struct netd *d, struct sd_event *ev, struct err *err);
/* Stop the collector and free d->fl (what the accumulators hold is in the spools already). */
void flowlog_stop(struct netd *d);
/* Before an ENI leaves its netns: read its meters and write its last window. */
void flowlog_eni_final(struct netd *d, json_t *eni);

/* Read and reset the meter sets and the `unmetered` counter of a task netns (flow-logs.md 3.6) into
 * acc. eni_ip tells egress tcp-flags from ingress ones. A failed dump sets acc->skip and returns <0. */
int fl_read_netns(struct knet *k, const char *netns, uint32_t eni_ip, struct fl_acc *acc, struct err *err);
/* Forget the cached socket of a netns (its ENI is going). */
void fl_read_forget(struct knet *k, const char *netns);
