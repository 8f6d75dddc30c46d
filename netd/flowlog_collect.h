/* flowlog_collect.h: the flow log collector, private to flowlog*.c: the flow logs in d->fl (read from
 * their records), the meters read into accumulators, windows written to files, the spool. */
#pragma once

#include <stdbool.h>

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "ecsbox/ids.h"
#include "flowlog_acc.h"
#include "flowlog_fmt.h"

struct netd;

enum { TT_ALL, TT_ACCEPT, TT_REJECT };   /* TrafficType */

struct fl_eni_acc {
        char eni[ID_MAX];
        struct fl_acc acc;
};

struct fl_log {
        char id[ID_MAX];
        char type[24];               /* NetworkInterface, Subnet, VPC */
        char resource[ID_MAX];
        char dest[PATH_MAX];
        struct fl_format fmt;
        int interval;
        int traffic;
        int64_t win_start, last_poll;
        struct fl_eni_acc *e;
        size_t ne;
        bool cut;                    /* a crash cut a pass that had read (and reset) its meters: next window SKIPDATA */
};

/* "ALL", "ACCEPT", "REJECT" -> TT_*; anything else -1. */
int fl_traffic_parse(const char *s);
/* The collector's state of a flow log record (no accumulator yet). */
int fl_log_from_record(json_t *rec, struct fl_log *ret, struct err *err);
/* Room for n more flow logs in d->fl (so that flowlog_add cannot fail). */
int flowlog_reserve(struct netd *d, size_t n, struct err *err);
/* Add flow logs made by fl_log_from_record (room reserved). The meters count from the ENI's start: an ENI
 * that only these flow logs cover starts from zero. */
void flowlog_add(struct netd *d, struct fl_log *logs, size_t n);
/* Before the records of these flow log ids go: read the meters they cover and write their last windows. */
void flowlog_flush(struct netd *d, json_t *ids);
/* After: drop their state and spools. */
void flowlog_forget(struct netd *d, json_t *ids);
