/* flowlog.h: flow logs in netd: the accumulator of flows, the kernel reader, and the collector. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "flowlog_fmt.h"

struct knet;

/* One flow in one direction with one action, and its counts so far. */
struct fl_flow {
        struct fl_key k;
        bool egress, reject, used;
        uint64_t packets, bytes;
        unsigned flags;           /* folded tcp-flags */
        bool has_flags;
};

/* An open-addressing table of flows (grows by doubling). */
struct fl_acc {
        struct fl_flow *v;
        size_t n, cap;
        bool skip;                /* SKIPDATA: a dump failed or `unmetered` grew */
};

void fl_acc_fini(struct fl_acc *a);
/* Add counts to the flow (created when absent). -ENOMEM. */
int fl_acc_add(struct fl_acc *a, const struct fl_key *k, bool egress, bool reject, uint64_t packets, uint64_t bytes);
/* OR raw TCP flags into the existing records of the flow in that direction (ACCEPT and REJECT). */
void fl_acc_flags(struct fl_acc *a, const struct fl_key *k, bool egress, uint8_t raw);
/* Add one flow's counts and flags. */
int fl_acc_add_flow(struct fl_acc *a, const struct fl_flow *f);
/* Add every flow of src to dst. */
int fl_acc_merge(struct fl_acc *dst, const struct fl_acc *src);

/* Read and reset the meter sets and the `unmetered` counter of a task netns (flow-logs.md 3.6) into
 * acc. eni_ip tells egress tcp-flags from ingress ones. A failed dump sets acc->skip and returns <0. */
int fl_read_netns(struct knet *k, const char *netns, uint32_t eni_ip, struct fl_acc *acc, struct err *err);
/* Forget the cached socket of a netns (its ENI is going). */
void fl_read_forget(struct knet *k, const char *netns);
