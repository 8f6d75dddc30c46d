/* lb_req.h: the requests of netd's load-balancer data plane (docs/load-balancers.md "Data plane"), decoded
 * and checked (req.h): CreateLoadBalancerNetwork, DeleteLoadBalancerNetwork, PutTargetGroup,
 * DeleteTargetGroup, RegisterTargets, DeregisterTargets, DescribeTargetHealth, PutListener, DeleteListener. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/err.h"

#define LB_ID_LEN 16            /* LoadBalancerId, TargetGroupId, ListenerId: 16 lowercase hex (ecsboxd's) */
#define LB_SUBNETS_MAX 16
#define LB_TARGETS_MAX 256      /* per request and per target group */

enum lb_proto { LB_TCP, LB_UDP, LB_TCP_UDP, LB_HTTP };

/* "TCP" "UDP" "TCP_UDP" "HTTP" (and back); -1 when none. */
int lb_proto_parse(const char *s);
const char *lb_proto_name(int p);

struct lb_net_req {
        const char *lb_id, *name, *vpc_id;
        bool application;               /* Type application (addresses only), else network */
        bool internal;                  /* Scheme internal (default internet-facing: only echoed) */
        json_t *subnets;                /* SubnetIds: 1..LB_SUBNETS_MAX well-formed, distinct ids */
        json_t *groups;                 /* SecurityGroups (sg ids), or NULL */
};
int lb_net_req_decode(json_t *req, struct lb_net_req *ret, struct err *err);

/* The one-id requests: member is "LoadBalancerId", "TargetGroupId" or "ListenerId". */
int lb_id_req_decode(json_t *req, const char *member, const char **ret_id, struct err *err);

struct lb_health_check {
        bool http;                      /* Protocol HTTP (checked as TCP connects for now: docs) */
        uint16_t port;                  /* 0: traffic-port */
        const char *path;               /* HTTP only, default "/" */
        const char *matcher;            /* HTTP only, default "200-399" */
        int interval, timeout, healthy, unhealthy;
};

struct lb_tg_req {
        const char *tg_id, *vpc_id;
        int proto;                      /* enum lb_proto */
        uint16_t port;
        bool preserve_client_ip;        /* default false */
        int dereg_delay;                /* 0..3600, default 300 */
        struct lb_health_check hc;
};
int lb_tg_req_decode(json_t *req, struct lb_tg_req *ret, struct err *err);

struct lb_target {
        uint32_t ip;                    /* host order */
        uint16_t port;                  /* 0: the group's port */
};
struct lb_targets_req {
        const char *tg_id;
        struct lb_target v[LB_TARGETS_MAX];
        size_t n;
};
int lb_targets_req_decode(json_t *req, struct lb_targets_req *ret, struct err *err);

struct lb_listener_req {
        const char *lb_id, *listener_id, *tg_id;
        int proto;                      /* LB_TCP, LB_UDP or LB_TCP_UDP */
        uint16_t port;
};
int lb_listener_req_decode(json_t *req, struct lb_listener_req *ret, struct err *err);

/* 16 lowercase hex digits. */
bool lb_id_valid(const char *s);
