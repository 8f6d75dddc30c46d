/* netd.h: the manager: struct netd owns all of ecsbox-netd's state; every module gets it as `d`. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "ecsbox/err.h"

struct store;
struct knet;
struct flowlog_state;   /* flowlog.c: the flow logs being collected */
struct dns_state;       /* dns/server.c: the VPC resolvers and the forwarder */
struct lb_health_state; /* lb_health.c: the load balancers' health checks */

struct netd {
        struct store *store;
        struct knet *knet;
        char region[32];
        char account[16];
        char netns_dir[256];
        char state_dir[256];
        char run_dir[256];
        uint64_t intent_seq;            /* intent.c: the last intent number handed out */
        void *event;                    /* the sd_event loop once it runs (NULL at start-up): deferred work */
        struct flowlog_state *fl;       /* from flowlog_start() to flowlog_stop(); NULL before */
        struct dns_state *dns;          /* from dns_start() to dns_stop(); NULL before */
        struct lb_health_state *lbh;    /* from lb_health_start() to lb_health_stop(); NULL before */
        char dns_upstream[256];         /* --dns-upstream, "": the host's resolv.conf */
        gid_t socket_group;             /* the ecsbox group, admitted to the socket besides root; -1: none */
};

/* A handler reads req, fills *ret (a new object) or err (with an EC2 code). */
typedef int (*netd_op_fn)(struct netd *d, json_t *req, json_t **ret, struct err *err);
