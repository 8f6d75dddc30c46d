/* lb.c: the load-balancer data plane's records and operations: LB addresses (ENIs), target groups, targets,
 * listeners, and the VPC router's table ip ecsbox_lb made from them. Health checks: lb_health.c. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecsbox/cidr.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "eni.h"
#include "intent.h"
#include "ipam.h"
#include "kernel/knet_lb.h"
#include "lb.h"
#include "lb_req.h"
#include "lb_sel.h"
#include "netd.h"
#include "record.h"
#include "sg.h"
#include "sg_enforce.h"
#include "subnet.h"
#include "vpc.h"

#define LB_LISTENERS_MAX 256

static int load_code(struct netd *d, const char *kind, const char *id, const char *code, const char *what, json_t **ret, struct err *err)
{
        int r = record_load(d, kind, id, ret);
        if (r == -ENOENT)
                return err_set(err, ENOENT, code, "%s '%s' not found", what, id);
        if (r < 0)
                return err_set(err, -r, NULL, "%s '%s': cannot read record: %s", what, id, strerror(-r));
        return 0;
}

static int tg_load(struct netd *d, const char *id, json_t **ret, struct err *err)
{
        return load_code(d, "lbtg", id, "TargetGroupNotFound", "Target group", ret, err);
}

static json_t *records_or_empty(struct netd *d, const char *prefix)
{
        json_t *a = netd_records(d, prefix, NULL);
        return a ? a : json_array();
}

/* ---- the VPC's table ---- */

struct apply_ctx {
        struct knet_lb_chain chains[LB_LISTENERS_MAX];
        struct knet_lb_target *targets[LB_LISTENERS_MAX];
        struct knet_lb_key keys[LB_LISTENERS_MAX * 4];
        size_t n_chains, n_keys;
        uint32_t addrs[LB_LISTENERS_MAX];
        size_t n_addrs;
};

static void apply_ctx_free(struct apply_ctx *c)
{
        for (size_t i = 0; i < c->n_chains; i++)
                free(c->targets[i]);
        free(c);
}

/* The targets a listener forwards to (lb_select over the group's target states). */
static int chain_of(json_t *tg, struct knet_lb_chain *ch, struct knet_lb_target **ret_t, struct err *err)
{
        json_t *targets = json_object_get(tg, "Targets"), *t;
        size_t n = json_array_size(targets), i, k;
        _cleanup_free_ int *st = calloc(n ? n : 1, sizeof *st);
        _cleanup_free_ size_t *idx = calloc(n ? n : 1, sizeof *idx);
        struct knet_lb_target *v = calloc(n ? n : 1, sizeof *v);
        if (!st || !idx || !v) {
                free(v);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        json_array_foreach(targets, i, t)
                st[i] = lb_state_parse(rec_str(t, "State"));
        k = lb_select(st, n, idx);
        for (i = 0; i < k; i++) {
                t = json_array_get(targets, idx[i]);
                (void) ip4_parse(rec_str(t, "Id") ?: "", &v[i].ip);
                v[i].port = (uint16_t) jint(t, "Port", jint(tg, "Port", 0));
        }
        ch->snat = !json_is_true(json_object_get(tg, "PreserveClientIp"));
        ch->t = v;
        ch->n = k;
        *ret_t = v;
        return 0;
}

static void lb_addrs_of(json_t *lb, uint32_t *v, size_t *n, size_t max)
{
        json_t *a;
        size_t i;
        json_array_foreach(json_object_get(lb, "Addresses"), i, a)
                if (*n < max && ip4_parse(rec_str(a, "PrivateIpv4Address") ?: "", &v[*n]) == 0)
                        (*n)++;
}

int lb_apply(struct netd *d, const char *vpc_id, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL, *lbs = records_or_empty(d, "lbnet/"), *ls = records_or_empty(d, "lbl/");
        struct apply_ctx *c = calloc(1, sizeof *c);
        json_t *l, *lb;
        size_t i, j;
        int r;

        if (!c)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (record_load(d, "vpc", vpc_id, &vpc) < 0) {
                free(c);
                return 0;
        }
        json_array_foreach(lbs, i, lb)
                if (!strcmp(rec_str(lb, "VpcId") ?: "", vpc_id) && strcmp(rec_str(lb, "State") ?: "", "deleting") != 0)
                        lb_addrs_of(lb, c->addrs, &c->n_addrs, LB_LISTENERS_MAX);
        json_array_foreach(ls, i, l) {
                _cleanup_json_ json_t *owner = NULL, *tg = NULL;
                uint32_t a[LB_SUBNETS_MAX];
                size_t na = 0;
                int proto;
                if (record_load(d, "lbnet", rec_str(l, "LoadBalancerId"), &owner) < 0 || strcmp(rec_str(owner, "VpcId") ?: "", vpc_id) != 0 ||
                    strcmp(rec_str(owner, "State") ?: "", "deleting") == 0 || record_load(d, "lbtg", rec_str(l, "TargetGroupId"), &tg) < 0 ||
                    c->n_chains >= LB_LISTENERS_MAX)
                        continue;
                if ((r = chain_of(tg, &c->chains[c->n_chains], &c->targets[c->n_chains], err)) < 0) {
                        apply_ctx_free(c);
                        return r;
                }
                lb_addrs_of(owner, a, &na, LB_SUBNETS_MAX);
                proto = lb_proto_parse(rec_str(l, "Protocol"));
                for (j = 0; j < na && c->n_keys + 2 <= ELEMENTSOF(c->keys); j++) {
                        struct knet_lb_key k = { a[j], IPPROTO_TCP, (uint16_t) jint(l, "Port", 0), c->n_chains };
                        if (proto == LB_TCP || proto == LB_TCP_UDP)
                                c->keys[c->n_keys++] = k;
                        k.l4 = IPPROTO_UDP;
                        if (proto == LB_UDP || proto == LB_TCP_UDP)
                                c->keys[c->n_keys++] = k;
                }
                c->n_chains++;
        }
        r = knet_lb_addrs(d->knet, rec_str(vpc, "ebxNetns"), c->addrs, c->n_addrs, true, err);
        if (r >= 0)
                r = knet_lb_apply(d->knet, rec_str(vpc, "ebxNetns"), c->chains, c->n_chains, c->keys, c->n_keys, err);
        if (r >= 0)
                log_debug("op=LbApply vpc=%s addresses=%zu listeners=%zu keys=%zu", vpc_id, c->n_addrs, c->n_chains, c->n_keys);
        apply_ctx_free(c);
        return r < 0 ? r : 0;
}

int lb_reconcile(struct netd *d)
{
        _cleanup_json_ json_t *lbs = records_or_empty(d, "lbnet/"), *done = json_object();
        json_t *lb;
        size_t i;
        int n = 0;
        json_array_foreach(lbs, i, lb) {
                const char *vpc = rec_str(lb, "VpcId") ?: "";
                struct err e = { 0 };
                if (json_object_get(done, vpc))
                        continue;
                json_object_set_new(done, vpc, json_true());
                if (lb_apply(d, vpc, &e) < 0)
                        log_error("msg=\"cannot restore load balancers\" vpc=%s err=\"%s\"", vpc, e.msg);
                else
                        n++;
        }
        return n;
}

/* ---- LB addresses ---- */

/* Inside a transaction: the LB's ENI in subnet, leased and indexed like any ENI (eni.c), in-use. */
static int lb_eni_new(struct netd *d, json_t *subnet, const struct lb_net_req *q, json_t *groups, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL, *m = NULL;
        char id[ID_MAX], ips[IP4_STR_MAX], macs[MAC_STR_MAX], key[KEY_MAX], desc[128];
        uint8_t mac[6];
        uint32_t ip;
        int r;
        for (int tries = 0;; tries++) {
                if ((r = id_new("eni", id)) < 0)
                        return err_set(err, -r, NULL, "random id: %s", strerror(-r));
                mac_from_id(id, mac);
                mac_format(mac, macs);
                key_fmt(key, "mac", macs);
                if ((r = store_exists(d->store, key)) == 0)
                        break;
                if (r < 0 || tries > 8)
                        return err_set(err, EIO, NULL, "cannot find a unique MAC address");
        }
        if ((r = ipam_eni_take(d, subnet, NULL, id, &ip, err)) < 0)
                return r;
        ip4_format(ip, ips);
        snprintf(desc, sizeof desc, "ELB %s/%s/%s", q->application ? "app" : "net", q->name, q->lb_id);
        eni = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:b, s:s, s:[], s:s, s:s}", "NetworkInterfaceId", id,
                        "SubnetId", rec_str(subnet, "SubnetId"), "VpcId", rec_str(subnet, "VpcId"), "AvailabilityZone",
                        rec_str(subnet, "AvailabilityZone"), "Description", desc, "InterfaceType",
                        q->application ? "load_balancer" : "network_load_balancer", "MacAddress", macs, "PrivateIpAddress", ips,
                        "Groups", groups, "Status", "in-use", "RequesterManaged", 1, "OwnerId", d->account, "TagSet", "ebxState",
                        "ok", "ebxLoadBalancerId", q->lb_id);
        m = json_pack("{s:s}", "NetworkInterfaceId", id);
        if (!eni || !m)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_put(d->store, key, m, err)) < 0)
                return r;
        key_fmt(key, "eni", id);
        if ((r = store_put(d->store, key, eni, err)) < 0)
                return r;
        *ret = TAKE_PTR(eni);
        return 0;
}

/* Inside a transaction: the ENI record, its lease and MAC index dropped. */
static int lb_eni_forget(struct netd *d, const char *eni_id, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL;
        char key[KEY_MAX];
        int r;
        if (record_load(d, "eni", eni_id, &eni) < 0)
                return 0;
        if ((r = ipam_eni_release(d, eni, err)) < 0)
                return r;
        key_fmt(key, "mac", rec_str(eni, "MacAddress") ?: "");
        if ((r = store_del(d->store, key, err)) < 0)
                return r;
        return record_del(d, "eni", eni_id, err);
}

static void lb_members(struct netd *d, json_t *lb, bool add)
{
        json_t *a;
        size_t i;
        json_array_foreach(json_object_get(lb, "Addresses"), i, a) {
                _cleanup_json_ json_t *eni = NULL;
                struct err e = { 0 };
                if (record_load(d, "eni", rec_str(a, "NetworkInterfaceId"), &eni) < 0)
                        continue;
                /* the LB address joins its security groups: targets allowing the group accept its traffic */
                if (sg_member_moved(d, add ? NULL : eni, add ? eni : NULL, &e) < 0)
                        log_warning("msg=\"security group peers not updated, ignoring\" lb=%s eni=%s err=\"%s\"", rec_str(lb, "LoadBalancerId"),
                                    rec_str(eni, "NetworkInterfaceId"), e.msg);
        }
}

static void lb_addr_list(json_t *lb, uint32_t *v, size_t *n)
{
        *n = 0;
        lb_addrs_of(lb, v, n, LB_SUBNETS_MAX);
}

static json_t *lb_answer(json_t *lb)
{
        return json_pack("{s:{s:O, s:O, s:O}}", "LoadBalancerNetwork", "LoadBalancerId", json_object_get(lb, "LoadBalancerId"), "VpcId",
                         json_object_get(lb, "VpcId"), "Addresses", json_object_get(lb, "Addresses"));
}

/* Remove what the LB put in the kernel and its records (the finish of a delete, the rollback of a create). */
static int lb_teardown(struct netd *d, json_t *lb, const char *ikey, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL, *ls = records_or_empty(d, "lbl/");
        const char *lb_id = rec_str(lb, "LoadBalancerId");
        uint32_t addrs[LB_SUBNETS_MAX];
        size_t n, i;
        json_t *l, *a;
        int r;

        char key[KEY_MAX];

        /* recorded as deleting first: lb_apply leaves it out from now on */
        json_object_set_new(lb, "State", json_string("deleting"));
        key_fmt(key, "lbnet", lb_id);
        if ((r = store_put(d->store, key, lb, err)) < 0)
                return r;
        lb_addr_list(lb, addrs, &n);
        if ((r = lb_apply(d, rec_str(lb, "VpcId"), err)) < 0)
                return r;
        if (record_load(d, "vpc", rec_str(lb, "VpcId"), &vpc) == 0 &&
            (r = knet_lb_addrs(d->knet, rec_str(vpc, "ebxNetns"), addrs, n, false, err)) < 0)
                return r;
        lb_members(d, lb, false);
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(ls, i, l)
                if (!strcmp(rec_str(l, "LoadBalancerId") ?: "", lb_id) && (r = record_del(d, "lbl", rec_str(l, "ListenerId"), err)) < 0)
                        goto fail;
        json_array_foreach(json_object_get(lb, "Addresses"), i, a)
                if ((r = lb_eni_forget(d, rec_str(a, "NetworkInterfaceId"), err)) < 0)
                        goto fail;
        if ((r = record_del(d, "lbnet", lb_id, err)) < 0 || (ikey && (r = intent_done(d, ikey, err)) < 0) ||
            (r = store_commit(d->store, err)) < 0)
                goto fail;
        return 0;
fail:
        store_rollback(d->store);
        return r;
}

int op_create_load_balancer_network(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL, *groups = NULL, *lb = NULL, *addrs = json_array(), *intent = NULL;
        struct lb_net_req q;
        char key[KEY_MAX], ikey[64];
        uint32_t ips[LB_SUBNETS_MAX];
        size_t i, n;
        json_t *s;
        int r;

        if ((r = lb_net_req_decode(req, &q, err)) < 0)
                return r;
        if (record_load(d, "lbnet", q.lb_id, &lb) == 0) {
                if (strcmp(rec_str(lb, "VpcId") ?: "", q.vpc_id) != 0)
                        return err_set(err, EEXIST, JERR_INVALID, "Load balancer %s exists in %s, not %s", q.lb_id, rec_str(lb, "VpcId"),
                                       q.vpc_id);
                *ret = lb_answer(lb);
                return 0;
        }
        if ((r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        json_array_foreach(q.subnets, i, s) {
                _cleanup_json_ json_t *subnet = NULL;
                if ((r = subnet_load(d, json_string_value(s), &subnet, err)) < 0)
                        return r;
                if (strcmp(rec_str(subnet, "VpcId") ?: "", q.vpc_id) != 0)
                        return err_set(err, EINVAL, JERR_INVALID, "Subnet %s is not in %s", json_string_value(s), q.vpc_id);
        }
        if (json_array_size(q.groups) > 0) {
                if ((r = sg_validate_groups(d, q.groups, q.vpc_id, &groups, err)) < 0)
                        return r;
        } else
                groups = json_array();
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(q.subnets, i, s) {
                _cleanup_json_ json_t *subnet = NULL, *eni = NULL;
                if ((r = subnet_load(d, json_string_value(s), &subnet, err)) < 0 || (r = lb_eni_new(d, subnet, &q, groups, &eni, err)) < 0)
                        goto fail;
                json_array_append_new(addrs, json_pack("{s:O, s:O, s:O, s:O}", "SubnetId", s, "AvailabilityZone",
                                                       json_object_get(subnet, "AvailabilityZone"), "PrivateIpv4Address",
                                                       json_object_get(eni, "PrivateIpAddress"), "NetworkInterfaceId",
                                                       json_object_get(eni, "NetworkInterfaceId")));
        }
        lb = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:s}", "LoadBalancerId", q.lb_id, "Name", q.name, "Type",
                       q.application ? "application" : "network", "Scheme", q.internal ? "internal" : "internet-facing", "VpcId", q.vpc_id,
                       "SubnetIds", q.subnets, "SecurityGroups", groups, "Addresses", addrs, "State", "active");
        intent = json_pack("{s:s, s:s}", "Op", "CreateLoadBalancerNetwork", "LoadBalancerId", q.lb_id);
        key_fmt(key, "lbnet", q.lb_id);
        if (!lb || !intent) {
                r = err_set(err, ENOMEM, NULL, "out of memory");
                goto fail;
        }
        if ((r = store_put(d->store, key, lb, err)) < 0 || (r = intent_add(d, intent, ikey, err)) < 0 || (r = store_commit(d->store, err)) < 0)
                goto fail;
        lb_addr_list(lb, ips, &n);
        if ((r = knet_lb_addrs(d->knet, rec_str(vpc, "ebxNetns"), ips, n, true, err)) < 0) {
                struct err e2 = { 0 };
                if (lb_teardown(d, lb, ikey, &e2) < 0)
                        log_error("op=CreateLoadBalancerNetwork lb=%s msg=\"rollback incomplete\" err=\"%s\"", q.lb_id, e2.msg);
                return err_wrap(err, "CreateLoadBalancerNetwork %s", q.lb_id);
        }
        lb_members(d, lb, true);
        if ((r = intent_done(d, ikey, err)) < 0)
                return r;
        log_info("op=CreateLoadBalancerNetwork lb=%s name=%s type=%s vpc=%s subnets=%zu", q.lb_id, q.name,
                 q.application ? "application" : "network", q.vpc_id, n);
        *ret = lb_answer(lb);
        return 0;
fail:
        store_rollback(d->store);
        return r;
}

int op_delete_load_balancer_network(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *lb = NULL, *intent = NULL;
        const char *id = NULL;
        char key[KEY_MAX], ikey[64];
        int r;
        if ((r = lb_id_req_decode(req, "LoadBalancerId", &id, err)) < 0)
                return r;
        if (record_load(d, "lbnet", id, &lb) < 0) {
                *ret = json_pack("{s:b}", "Return", 1);
                return 0;
        }
        /* first the record says "deleting" (lb_apply leaves it out) with an intent: start-up finishes it */
        json_object_set_new(lb, "State", json_string("deleting"));
        intent = json_pack("{s:s, s:s}", "Op", "DeleteLoadBalancerNetwork", "LoadBalancerId", id);
        key_fmt(key, "lbnet", id);
        if ((r = intent_begin(d, key, lb, intent, ikey, err)) < 0)
                return r;
        if ((r = lb_teardown(d, lb, ikey, err)) < 0)
                return err_wrap(err, "DeleteLoadBalancerNetwork %s", id);
        log_info("op=DeleteLoadBalancerNetwork lb=%s", id);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int lb_intent_replay(struct netd *d, json_t *intent, struct err *err)
{
        _cleanup_json_ json_t *lb = NULL;
        /* the intent itself is dropped by intent.c */
        if (record_load(d, "lbnet", rec_str(intent, "LoadBalancerId"), &lb) < 0)
                return 0;
        return lb_teardown(d, lb, NULL, err);
}

/* ---- target groups ---- */

json_t *lb_listener_of_group(struct netd *d, const char *tg_id)
{
        _cleanup_json_ json_t *ls = records_or_empty(d, "lbl/");
        json_t *l;
        size_t i;
        json_array_foreach(ls, i, l)
                if (!strcmp(rec_str(l, "TargetGroupId") ?: "", tg_id))
                        return json_incref(l);
        return NULL;
}

uint32_t lb_group_source(struct netd *d, const char *tg_id, char ret_netns[64])
{
        _cleanup_json_ json_t *l = lb_listener_of_group(d, tg_id), *lb = NULL, *vpc = NULL;
        uint32_t ip = 0;
        if (!l || record_load(d, "lbnet", rec_str(l, "LoadBalancerId"), &lb) < 0 || record_load(d, "vpc", rec_str(lb, "VpcId"), &vpc) < 0)
                return 0;
        if (ip4_parse(rec_str(json_array_get(json_object_get(lb, "Addresses"), 0), "PrivateIpv4Address") ?: "", &ip) < 0)
                return 0;
        snprintf(ret_netns, 64, "%s", rec_str(vpc, "ebxNetns") ?: "");
        return ip;
}

static int tg_store_apply(struct netd *d, json_t *tg, struct err *err)
{
        char key[KEY_MAX];
        int r;
        key_fmt(key, "lbtg", rec_str(tg, "TargetGroupId"));
        if ((r = store_put(d->store, key, tg, err)) < 0)
                return r;
        return lb_apply(d, rec_str(tg, "VpcId"), err);
}

int op_put_target_group(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL, *old = NULL, *tg = NULL, *hc = NULL;
        struct lb_tg_req q;
        int r;
        if ((r = lb_tg_req_decode(req, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        if (record_load(d, "lbtg", q.tg_id, &old) == 0 && strcmp(rec_str(old, "VpcId") ?: "", q.vpc_id) != 0)
                return err_set(err, EEXIST, JERR_INVALID, "Target group %s is in %s, not %s", q.tg_id, rec_str(old, "VpcId"), q.vpc_id);
        hc = json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:i}", "Protocol", q.hc.http ? "HTTP" : "TCP", "Port", q.hc.port, "Path",
                       q.hc.path, "Matcher", q.hc.matcher, "IntervalSeconds", q.hc.interval, "TimeoutSeconds", q.hc.timeout,
                       "HealthyThresholdCount", q.hc.healthy, "UnhealthyThresholdCount", q.hc.unhealthy);
        tg = json_pack("{s:s, s:s, s:s, s:i, s:b, s:i, s:O, s:o}", "TargetGroupId", q.tg_id, "VpcId", q.vpc_id, "Protocol",
                       lb_proto_name(q.proto), "Port", q.port, "PreserveClientIp", q.preserve_client_ip, "DeregistrationDelaySeconds",
                       q.dereg_delay, "HealthCheck", hc, "Targets",
                       old && json_is_array(json_object_get(old, "Targets")) ? json_incref(json_object_get(old, "Targets")) : json_array());
        if (!tg)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = tg_store_apply(d, tg, err)) < 0)
                return err_wrap(err, "PutTargetGroup %s", q.tg_id);
        log_info("op=PutTargetGroup tg=%s vpc=%s protocol=%s port=%u", q.tg_id, q.vpc_id, lb_proto_name(q.proto), q.port);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int op_delete_target_group(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL, *l = NULL;
        const char *id = NULL;
        int r;
        if ((r = lb_id_req_decode(req, "TargetGroupId", &id, err)) < 0)
                return r;
        if ((l = lb_listener_of_group(d, id)))
                return err_set(err, EBUSY, "ResourceInUse", "Target group '%s' is currently in use by listener '%s'", id,
                               rec_str(l, "ListenerId"));
        if (record_load(d, "lbtg", id, &tg) == 0 && (r = record_del(d, "lbtg", id, err)) < 0)
                return r;
        log_info("op=DeleteTargetGroup tg=%s", id);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

static json_t *target_find(json_t *targets, uint32_t ip, uint16_t port, size_t *ret_i)
{
        json_t *t;
        size_t i;
        json_array_foreach(targets, i, t) {
                uint32_t tip = 0;
                if (ip4_parse(rec_str(t, "Id") ?: "", &tip) == 0 && tip == ip && jint(t, "Port", 0) == port) {
                        if (ret_i)
                                *ret_i = i;
                        return t;
                }
        }
        return NULL;
}

int op_register_targets(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL, *vpc = NULL;
        struct lb_targets_req *q = calloc(1, sizeof *q);
        struct cidr4 c = { 0 };
        json_t *targets;
        int r;
        if (!q)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = lb_targets_req_decode(req, q, err)) < 0 || (r = tg_load(d, q->tg_id, &tg, err)) < 0)
                goto out;
        targets = json_object_get(tg, "Targets");
        if (record_load(d, "vpc", rec_str(tg, "VpcId"), &vpc) == 0)
                (void) cidr4_parse(rec_str(vpc, "CidrBlock") ?: "", &c);
        if (json_array_size(targets) + q->n > LB_TARGETS_MAX) {
                r = err_set(err, EINVAL, "TooManyTargets", "Target group '%s' would hold more than %d targets", q->tg_id, LB_TARGETS_MAX);
                goto out;
        }
        for (size_t i = 0; i < q->n; i++) {
                uint16_t port = q->v[i].port ? q->v[i].port : (uint16_t) jint(tg, "Port", 0);
                char ips[IP4_STR_MAX];
                json_t *t;
                ip4_format(q->v[i].ip, ips);
                if (c.len && !cidr4_contains_ip(&c, q->v[i].ip)) {
                        r = err_set(err, EINVAL, "InvalidTarget", "The IP address '%s' is not within the CIDR block of %s", ips,
                                    rec_str(tg, "VpcId"));
                        goto out;
                }
                if ((t = target_find(targets, q->v[i].ip, port, NULL))) {
                        /* registered again while draining: back in service, checked afresh */
                        if (!strcmp(rec_str(t, "State") ?: "", "draining")) {
                                json_object_set_new(t, "State", json_string("initial"));
                                json_object_set_new(t, "Reason", json_string("Elb.InitialHealthChecking"));
                                json_object_del(t, "ebxDrainUntil");
                        }
                        continue;
                }
                json_array_append_new(targets, json_pack("{s:s, s:i, s:s, s:s}", "Id", ips, "Port", port, "State", "initial", "Reason",
                                                         "Elb.InitialHealthChecking"));
        }
        if ((r = tg_store_apply(d, tg, err)) < 0) {
                r = err_wrap(err, "RegisterTargets %s", q->tg_id);
                goto out;
        }
        log_info("op=RegisterTargets tg=%s targets=%zu", q->tg_id, q->n);
        *ret = json_pack("{s:b}", "Return", 1);
out:
        free(q);
        return r < 0 ? r : 0;
}

int op_deregister_targets(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL;
        struct lb_targets_req *q = calloc(1, sizeof *q);
        long long delay;
        json_t *targets;
        int r;
        if (!q)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = lb_targets_req_decode(req, q, err)) < 0 || (r = tg_load(d, q->tg_id, &tg, err)) < 0)
                goto out;
        targets = json_object_get(tg, "Targets");
        delay = jint(tg, "DeregistrationDelaySeconds", 300);
        for (size_t i = 0; i < q->n; i++) {
                uint16_t port = q->v[i].port ? q->v[i].port : (uint16_t) jint(tg, "Port", 0);
                char ips[IP4_STR_MAX];
                size_t at = 0;
                json_t *t;
                ip4_format(q->v[i].ip, ips);
                if (!(t = target_find(targets, q->v[i].ip, port, &at))) {
                        r = err_set(err, EINVAL, "InvalidTarget", "The following targets are not registered in target group '%s': '%s:%u'",
                                    q->tg_id, ips, port);
                        goto out;
                }
                if (delay == 0)
                        json_array_remove(targets, at);
                else if (strcmp(rec_str(t, "State") ?: "", "draining") != 0) {
                        /* no new connections from now on; the established ones keep their conntrack NAT */
                        json_object_set_new(t, "State", json_string("draining"));
                        json_object_set_new(t, "Reason", json_string("Target.DeregistrationInProgress"));
                        json_object_set_new(t, "ebxDrainUntil", json_integer((json_int_t) time(NULL) + delay));
                }
        }
        if ((r = tg_store_apply(d, tg, err)) < 0) {
                r = err_wrap(err, "DeregisterTargets %s", q->tg_id);
                goto out;
        }
        log_info("op=DeregisterTargets tg=%s targets=%zu delay=%lld", q->tg_id, q->n, delay);
        *ret = json_pack("{s:b}", "Return", 1);
out:
        free(q);
        return r < 0 ? r : 0;
}

int op_describe_target_health(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL, *l = NULL;
        json_t *out = json_array(), *t, *hc;
        const char *id = NULL;
        size_t i;
        int r;
        if ((r = lb_id_req_decode(req, "TargetGroupId", &id, err)) < 0 || (r = tg_load(d, id, &tg, err)) < 0) {
                json_decref(out);
                return r;
        }
        l = lb_listener_of_group(d, id);
        hc = json_object_get(tg, "HealthCheck");
        json_array_foreach(json_object_get(tg, "Targets"), i, t) {
                char port[8];
                int st = lb_state_parse(rec_str(t, "State")), reason = lb_reason_parse(rec_str(t, "Reason"));
                json_t *h;
                if (st != LB_S_DRAINING && !l) {
                        st = LB_S_UNUSED;
                        reason = LB_R_NOT_IN_USE;
                }
                snprintf(port, sizeof port, "%lld", jint(hc, "Port", 0) ? jint(hc, "Port", 0) : jint(t, "Port", 0));
                h = json_pack("{s:s}", "State", lb_state_name(st));
                if (lb_reason_name(reason)) {
                        json_object_set_new(h, "Reason", json_string(lb_reason_name(reason)));
                        json_object_set_new(h, "Description", json_string(lb_reason_text(reason)));
                }
                json_array_append_new(out, json_pack("{s:{s:O, s:O}, s:s, s:o}", "Target", "Id", json_object_get(t, "Id"), "Port",
                                                     json_object_get(t, "Port"), "HealthCheckPort", port, "TargetHealth", h));
        }
        *ret = json_pack("{s:o}", "TargetHealthDescriptions", out);
        return 0;
}

/* ---- listeners ---- */

static bool protos_overlap(int a, int b)
{
        return a == b || a == LB_TCP_UDP || b == LB_TCP_UDP;
}

int op_put_listener(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *lb = NULL, *tg = NULL, *ls = NULL, *l = NULL;
        struct lb_listener_req q;
        char key[KEY_MAX];
        json_t *x;
        size_t i;
        int r;
        if ((r = lb_listener_req_decode(req, &q, err)) < 0 ||
            (r = load_code(d, "lbnet", q.lb_id, "LoadBalancerNotFound", "Load balancer", &lb, err)) < 0 || (r = tg_load(d, q.tg_id, &tg, err)) < 0)
                return r;
        if (!strcmp(rec_str(lb, "Type") ?: "", "application"))
                return err_set(err, EINVAL, "InvalidConfigurationRequest", "Load balancer '%s' is an application load balancer: netd forwards "
                               "for network load balancers only", q.lb_id);
        if (strcmp(rec_str(tg, "VpcId") ?: "", rec_str(lb, "VpcId") ?: "") != 0)
                return err_set(err, EINVAL, "InvalidConfigurationRequest", "Target group '%s' is in %s, load balancer '%s' in %s", q.tg_id,
                               rec_str(tg, "VpcId"), q.lb_id, rec_str(lb, "VpcId"));
        if (lb_proto_parse(rec_str(tg, "Protocol")) != q.proto)
                return err_set(err, EINVAL, "IncompatibleProtocols", "The listener's protocol %s does not match target group '%s''s %s",
                               lb_proto_name(q.proto), q.tg_id, rec_str(tg, "Protocol"));
        ls = records_or_empty(d, "lbl/");
        json_array_foreach(ls, i, x)
                if (!strcmp(rec_str(x, "LoadBalancerId") ?: "", q.lb_id) && strcmp(rec_str(x, "ListenerId") ?: "", q.listener_id) != 0 &&
                    jint(x, "Port", 0) == q.port && protos_overlap(lb_proto_parse(rec_str(x, "Protocol")), q.proto))
                        return err_set(err, EEXIST, "DuplicateListener", "Load balancer '%s' has listener '%s' on port %u already", q.lb_id,
                                       rec_str(x, "ListenerId"), q.port);
        l = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ListenerId", q.listener_id, "LoadBalancerId", q.lb_id, "Protocol", lb_proto_name(q.proto),
                      "Port", q.port, "TargetGroupId", q.tg_id);
        key_fmt(key, "lbl", q.listener_id);
        if (!l)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_put(d->store, key, l, err)) < 0)
                return r;
        if ((r = lb_apply(d, rec_str(lb, "VpcId"), err)) < 0)
                return err_wrap(err, "PutListener %s", q.listener_id);
        log_info("op=PutListener listener=%s lb=%s protocol=%s port=%u tg=%s", q.listener_id, q.lb_id, lb_proto_name(q.proto), q.port, q.tg_id);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int op_delete_listener(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *l = NULL, *lb = NULL;
        const char *id = NULL;
        int r;
        if ((r = lb_id_req_decode(req, "ListenerId", &id, err)) < 0)
                return r;
        if (record_load(d, "lbl", id, &l) == 0) {
                if ((r = record_del(d, "lbl", id, err)) < 0)
                        return r;
                if (record_load(d, "lbnet", rec_str(l, "LoadBalancerId"), &lb) == 0 && (r = lb_apply(d, rec_str(lb, "VpcId"), err)) < 0)
                        return err_wrap(err, "DeleteListener %s", id);
                log_info("op=DeleteListener listener=%s", id);
        }
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}
