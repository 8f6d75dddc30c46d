/* fuzz_netd_lb_request.c: libFuzzer target for the load-balancer request decoders (netd/lb_req.c): the first
 * byte picks the operation ('A' + k: ops[k] below), the rest is the JSON request line. What a decoder
 * accepts must keep its header's promises (16-hex ids, ports in range, thresholds and timeout within the
 * interval, distinct targets); a refusal must carry a code and a message; no decoder may change the request.
 * Seeds: tests/fuzz/corpus/netd_lb_request. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "../../netd/lb_req.h"

static const char *const ops[] = {
        "CreateLoadBalancerNetwork", "DeleteLoadBalancerNetwork", "PutTargetGroup", "DeleteTargetGroup", "RegisterTargets",
        "DeregisterTargets", "DescribeTargetHealth", "PutListener", "DeleteListener",
};
#define NOPS (sizeof ops / sizeof ops[0])

static void broken(unsigned op, const char *what)
{
        fprintf(stderr, "%s: accepted request breaks its invariant: %s\n", ops[op], what);
        abort();
}
#define CHECK(op, cond) \
        do { \
                if (!(cond)) \
                        broken(op, #cond); \
        } while (0)

static struct lb_targets_req tq;

static int decode(unsigned op, json_t *req, struct err *err)
{
        static const char *const id_member[] = { NULL, "LoadBalancerId", NULL, "TargetGroupId", NULL, NULL, "TargetGroupId", NULL,
                                                 "ListenerId" };
        struct lb_net_req n;
        struct lb_tg_req t;
        struct lb_listener_req l;
        const char *id = NULL;
        int r;
        switch (op) {
        case 0:
                if ((r = lb_net_req_decode(req, &n, err)) == 0) {
                        CHECK(op, lb_id_valid(n.lb_id) && id_valid("vpc", n.vpc_id) && n.name && strlen(n.name) <= 32);
                        CHECK(op, json_array_size(n.subnets) >= 1 && json_array_size(n.subnets) <= LB_SUBNETS_MAX);
                }
                return r;
        case 2:
                if ((r = lb_tg_req_decode(req, &t, err)) == 0) {
                        CHECK(op, lb_id_valid(t.tg_id) && id_valid("vpc", t.vpc_id) && t.port >= 1);
                        CHECK(op, t.proto >= LB_TCP && t.proto <= LB_HTTP && t.dereg_delay >= 0 && t.dereg_delay <= 3600);
                        CHECK(op, t.hc.timeout >= 1 && t.hc.timeout <= t.hc.interval && t.hc.interval <= 300);
                        CHECK(op, t.hc.healthy >= 1 && t.hc.healthy <= 10 && t.hc.unhealthy >= 1 && t.hc.unhealthy <= 10);
                        CHECK(op, t.hc.path && t.hc.path[0] == '/' && t.hc.matcher);
                }
                return r;
        case 4:
        case 5:
                if ((r = lb_targets_req_decode(req, &tq, err)) == 0) {
                        CHECK(op, lb_id_valid(tq.tg_id) && tq.n >= 1 && tq.n <= LB_TARGETS_MAX);
                        for (size_t i = 0; i < tq.n; i++)
                                for (size_t j = 0; j < i; j++)
                                        CHECK(op, tq.v[i].ip != tq.v[j].ip || tq.v[i].port != tq.v[j].port);
                }
                return r;
        case 7:
                if ((r = lb_listener_req_decode(req, &l, err)) == 0) {
                        CHECK(op, lb_id_valid(l.lb_id) && lb_id_valid(l.listener_id) && lb_id_valid(l.tg_id) && l.port >= 1);
                        CHECK(op, l.proto == LB_TCP || l.proto == LB_UDP || l.proto == LB_TCP_UDP);
                }
                return r;
        default:
                if ((r = lb_id_req_decode(req, id_member[op], &id, err)) == 0)
                        CHECK(op, lb_id_valid(id));
                return r;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t jerr;
        json_t *req;
        struct err e = { 0 };
        char *before, *after;
        unsigned op;
        int r;

        if (size < 1)
                return 0;
        op = (unsigned char) (data[0] - 'A') % NOPS;
        req = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (!req)
                return 0;
        if (json_is_object(req)) {
                before = json_dumps(req, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                r = decode(op, req, &e);
                if (r > 0 || (r < 0 && (!e.code[0] || !e.msg[0])))
                        broken(op, "a refusal carries a code and a message; success is 0");
                after = json_dumps(req, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                if (!before || !after || strcmp(before, after) != 0) {
                        fprintf(stderr, "%s: the decoder changed the request\n", ops[op]);
                        abort();
                }
                free(before);
                free(after);
        }
        json_decref(req);
        return 0;
}
