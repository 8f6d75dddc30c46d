/* knet_sg.h: nftables in netd's namespaces (libnftnl objects on the netlink core), one atomic batch per
 * change, on a netfilter socket kept per task netns (knet_int.h): a task's `table inet ecsbox`
 * (stateful SG, knet_sg.c, + flow meters, knet_meter.c) and
 * `table netdev ecsbox` (egress check on eth0), and a VPC's `table bridge ecsbox` (source/destination
 * check on the subnet bridges; both knet_guard.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "knet.h"
#include "../sg_rules.h"

#define KNET_SG_TABLE "ecsbox"

/* What the tables of one task netns hold. */
struct knet_sg_task {
        const char *netns;
        uint8_t mac[6];                  /* the ENI: the only source eth0 may send from */
        uint32_t ip;
        const struct sg_dir_elems *in;   /* CIDR rules: peers allowed in (source addresses) */
        const struct sg_dir_elems *out;  /* CIDR rules: peers allowed out (destination addresses) */
        const struct sg_peer_groups *groups;  /* groups named as peers: members and what they may */
        uint32_t dns_ip;                 /* the VPC resolver (base+2): DNS to it and to 169.254.169.253, and the
                                          * metadata endpoint 169.254.170.2:80, pass unfiltered and uncounted, as
                                          * on AWS; 0: none of that */
};

/* Replace both tables of the task netns with fresh ones in one transaction (a missing table is
 * created, a different one replaced). */
int knet_sg_task_build(struct knet *k, const struct knet_sg_task *t, struct err *err);
/* Replace the security-group part of the table in one transaction: the CIDR sets flushed and
 * refilled, the peer groups' sets made, refilled or deleted (the ones there are read first) and the
 * rules of task_in, task_out and task_fwd put again; the flow meters, their counters and the other
 * chains stay. -ENOENT when the table is missing (the caller builds it). */
int knet_sg_task_refill(struct knet *k, const struct knet_sg_task *t, struct err *err);
/* One address joins (add) or leaves the member set of peer groups in a task netns: one transaction,
 * an element per group (NEWSETELEM, or DESTROYSETELEM, which tolerates a missing element). Fails
 * as a whole (-ENOENT: the table or a group's set is missing) and leaves the sets as they were. */
struct knet_sg_member {
        const char *group;               /* "sg-..." */
        bool add;
};
int knet_sg_task_members(struct knet *k, const char *netns, uint32_t ip, const struct knet_sg_member *m, size_t n,
                         struct err *err);
/* 0 when the task's tables exist with netd's layout (chains, sets and rule count as built);
 * -ENOENT missing, -ESTALE different. */
int knet_sg_task_check(struct knet *k, const struct knet_sg_task *t, struct err *err);
/* Remove both tables from the netns (missing ones are fine) and close its kept netfilter socket. */
int knet_sg_task_remove(struct knet *k, const char *netns, struct err *err);
/* 1 when the netns holds `table inet ecsbox`, 0 when not. */
int knet_sg_task_exists(struct knet *k, const char *netns, struct err *err);

/* One bridge port an ENI's frames arrive on, with the ENI's MAC and IP. */
struct knet_guard_port {
        char port[16];       /* veth host end (veth ENI) or the macvlan parent's bridge-side peer */
        uint8_t mac[6];
        uint32_t ip;
};
/* Replace the VPC netns's bridge table, allowing exactly these ports/MACs/IPs. */
int knet_guard_build(struct knet *k, const char *vpc_netns, const struct knet_guard_port *p, size_t n, struct err *err);
/* Add or remove one ENI's elements. Adding to a missing table: -ENOENT (the caller builds it). */
int knet_guard_update(struct knet *k, const char *vpc_netns, const struct knet_guard_port *p, bool add, struct err *err);
