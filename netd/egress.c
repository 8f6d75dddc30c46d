/* egress.c: what a VPC's route tables, internet and NAT gateways mean for its router, one commit path
 * for their operations (records + intent, kernel, intent dropped) and the VPC/subnet hooks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "egress.h"
#include "igw.h"
#include "intent.h"
#include "kernel/knet.h"
#include "kernel/knet_egress.h"
#include "netd.h"
#include "record.h"
#include "route_sel.h"
#include "routetable.h"
#include "vpc.h"

/* The host table is made once per run (start-up or the first public route); a table removed behind
 * netd's back comes back at the next start. */
static bool host_ready;

struct where_ctx {
        const char *key, *value;
        json_t *out;
};

static int where_cb(const char *k, json_t *v, void *ud)
{
        struct where_ctx *c = ud;
        (void) k;
        if (!c->key || strcmp(rec_str(v, c->key) ?: "", c->value) == 0)
                json_array_append(c->out, v);
        return 0;
}

json_t *egress_records_where(struct netd *d, const char *prefix, const char *key, const char *value)
{
        struct where_ctx c = { key, value, json_array() };
        (void) store_list(d->store, prefix, where_cb, &c, NULL);
        return c.out;
}

json_t *egress_subnet_table(struct netd *d, const char *vpc_id, const char *subnet_id)
{
        _cleanup_json_ json_t *rtbs = egress_records_where(d, "rtb/", "VpcId", vpc_id);
        json_t *rtb, *a, *main_rtb = NULL;
        size_t i, j;
        json_array_foreach(rtbs, i, rtb)
                json_array_foreach(json_object_get(rtb, "Associations"), j, a) {
                        if (json_is_true(json_object_get(a, "Main")))
                                main_rtb = rtb;
                        else if (subnet_id && strcmp(rec_str(a, "SubnetId") ?: "", subnet_id) == 0)
                                return json_incref(rtb);
                }
        return json_incref(main_rtb);
}

/* An internet gateway attached to vpc_id. */
static bool igw_attached(struct netd *d, const char *igw_id, const char *vpc_id)
{
        _cleanup_json_ json_t *igw = NULL;
        if (record_load(d, "igw", igw_id, &igw) < 0)
                return false;
        return strcmp(igw_vpc(igw) ?: "", vpc_id) == 0;
}

/* The routes of a table as route_ent (ud: the route record). *ret freed by the caller. */
static size_t table_ents(json_t *rtb, struct route_ent **ret)
{
        json_t *routes = json_object_get(rtb, "Routes"), *rt;
        struct route_ent *v = calloc(json_array_size(routes) + 1, sizeof *v);
        size_t i, n = 0;
        if (!v) {
                *ret = NULL;
                return 0;
        }
        json_array_foreach(routes, i, rt)
                if (cidr4_parse(rec_str(rt, "DestinationCidrBlock"), &v[n].dst) == 0)
                        v[n++].ud = rt;
        *ret = v;
        return n;
}

/* A NAT gateway takes traffic for dst out: available, and private (it reaches what the host
 * reaches), or in a subnet whose own table sends dst (longest prefix) to an attached internet gateway. */
static bool natgw_usable(struct netd *d, const char *natgw_id, const char *vpc_id, const struct cidr4 *dst)
{
        _cleanup_json_ json_t *nat = NULL, *rtb = NULL;
        _cleanup_free_ struct route_ent *v = NULL;
        size_t n;
        int sel;
        if (record_load(d, "natgw", natgw_id, &nat) < 0 || strcmp(rec_str(nat, "State") ?: "", "available") != 0 ||
            strcmp(rec_str(nat, "VpcId") ?: "", vpc_id) != 0)
                return false;
        if (strcmp(rec_str(nat, "ConnectivityType") ?: "", "private") == 0)
                return true;
        if (!(rtb = egress_subnet_table(d, vpc_id, rec_str(nat, "SubnetId"))))
                return false;
        n = table_ents(rtb, &v);
        sel = route_select_cidr(v, n, dst);
        if (sel < 0 || !rec_str(v[sel].ud, "GatewayId"))
                return false;
        return igw_attached(d, rec_str(v[sel].ud, "GatewayId"), vpc_id);
}

/* true: the route takes its traffic out of the VPC. */
static bool route_out(struct netd *d, const char *vpc_id, json_t *route)
{
        const char *gw = rec_str(route, "GatewayId"), *nat = rec_str(route, "NatGatewayId");
        struct cidr4 dst;
        if (gw && strncmp(gw, "igw-", 4) == 0)
                return igw_attached(d, gw, vpc_id);
        if (nat && cidr4_parse(rec_str(route, "DestinationCidrBlock"), &dst) == 0)
                return natgw_usable(d, nat, vpc_id, &dst);
        return false;
}

const char *egress_route_state(struct netd *d, json_t *rtb, json_t *route)
{
        const char *gw = rec_str(route, "GatewayId"), *nat = rec_str(route, "NatGatewayId");
        _cleanup_json_ json_t *n = NULL;
        if (gw && strcmp(gw, "local") == 0)
                return "active";
        if (gw)
                return igw_attached(d, gw, rec_str(rtb, "VpcId")) ? "active" : "blackhole";
        if (nat && record_load(d, "natgw", nat, &n) == 0 && strcmp(rec_str(n, "State") ?: "", "available") == 0)
                return "active";
        return "blackhole";
}

int egress_apply(struct netd *d, const char *vpc_id, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL, *subnets = NULL;
        _cleanup_free_ struct knet_egress_subnet *ks = NULL;
        _cleanup_free_ struct knet_egress_route *kr = NULL;
        struct knet_vpc kv;
        struct cidr4 vpc_cidr;
        json_t *s;
        size_t i, n = 0, nr = 0, cap = 0;
        bool any_out = false;
        int r;

        if (record_load(d, "vpc", vpc_id, &vpc) < 0 || strcmp(rec_str(vpc, "State") ?: "", "available") != 0)
                return 0;
        vpc_knet(vpc, &kv);
        vpc_cidr = kv.cidr;
        subnets = egress_records_where(d, "subnet/", "VpcId", vpc_id);
        json_array_foreach(subnets, i, s) {
                _cleanup_json_ json_t *rtb = egress_subnet_table(d, vpc_id, rec_str(s, "SubnetId"));
                cap += 1 + json_array_size(json_object_get(rtb, "Routes"));
        }
        ks = calloc(json_array_size(subnets) + 1, sizeof *ks);
        kr = calloc(cap + 1, sizeof *kr);
        if (!ks || !kr)
                return err_set(err, ENOMEM, NULL, "egress of %s: %s", vpc_id, strerror(ENOMEM));
        json_array_foreach(subnets, i, s) {
                _cleanup_json_ json_t *rtb = NULL;
                json_t *rt;
                size_t j;
                if (strcmp(rec_str(s, "State") ?: "", "available") != 0 || cidr4_parse(rec_str(s, "CidrBlock"), &ks[n].cidr) < 0)
                        continue;
                ks[n].routes = &kr[nr];
                /* the local route: the VPC's own subnets are the main table's (looked up first); any
                 * other address of the VPC's block is no way out */
                kr[nr++] = (struct knet_egress_route) { vpc_cidr, false };
                ks[n].n = 1;
                rtb = egress_subnet_table(d, vpc_id, rec_str(s, "SubnetId"));
                json_array_foreach(json_object_get(rtb, "Routes"), j, rt) {
                        struct cidr4 dst;
                        if (strcmp(rec_str(rt, "GatewayId") ?: "", "local") == 0 ||
                            cidr4_parse(rec_str(rt, "DestinationCidrBlock"), &dst) < 0 || nr >= cap)
                                continue;
                        kr[nr] = (struct knet_egress_route) { dst, route_out(d, vpc_id, rt) };
                        any_out |= kr[nr].out;
                        nr++;
                        ks[n].n++;
                }
                n++;
        }
        if (any_out && !host_ready) {
                if ((r = knet_egress_host_ensure(d->knet, err)) < 0)
                        return r;
                host_ready = true;
        }
        if ((r = knet_egress_apply(d->knet, &kv, ks, n, err)) < 0)
                return r;
        log_debug("msg=\"applied egress\" vpc=%s subnets=%zu routes=%zu", vpc_id, n, nr);
        return 0;
}

int egress_commit(struct netd *d, const char *vpc_id, json_t *changes, struct err *err)
{
        _cleanup_json_ json_t *intent = json_pack("{s:s, s:s}", "Op", "EgressApply", "VpcId", vpc_id);
        char ikey[64];
        json_t *c;
        size_t i;
        int r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(changes, i, c) {
                const char *key = json_string_value(json_array_get(c, 0));
                json_t *rec = json_array_get(c, 1);
                r = json_is_object(rec) ? store_put(d->store, key, rec, err) : store_del(d->store, key, err);
                if (r < 0)
                        break;
        }
        if (r < 0 || (r = intent_add(d, intent, ikey, err)) < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        /* from here the records stand; a kernel failure leaves the intent for the next start */
        if ((r = egress_apply(d, vpc_id, err)) < 0)
                return err_wrap(err, "vpc %s (records kept, routes applied at the next start)", vpc_id);
        return intent_done(d, ikey, err);
}

int egress_intent_replay(struct netd *d, json_t *intent, struct err *err)
{
        /* Intents are replayed before the VPC namespaces are repaired; egress_reconcile applies every
         * VPC (this one too) once they are, later in the same start-up. */
        (void) err;
        log_debug("msg=\"routes applied again by egress_reconcile\" vpc=%s", rec_str(intent, "VpcId") ?: "?");
        (void) d;
        return 0;
}

/* ---- hooks ---- */

int egress_vpc_created(struct netd *d, json_t *vpc, struct err *err)
{
        _cleanup_json_ json_t *rtb = NULL;
        char key[KEY_MAX];
        int r;
        if ((r = rtb_new(d, vpc, true, &rtb, err)) < 0)
                return r;
        key_fmt(key, "rtb", rec_str(rtb, "RouteTableId"));
        return store_put(d->store, key, rtb, err);
}

int egress_vpc_dependencies(struct netd *d, const char *vpc_id, struct err *err)
{
        _cleanup_json_ json_t *all = egress_records_where(d, "igw/", NULL, NULL),
                              *rtbs = egress_records_where(d, "rtb/", "VpcId", vpc_id);
        json_t *v;
        size_t i;
        int extra = 0;
        json_array_foreach(all, i, v)
                if (strcmp(igw_vpc(v) ?: "", vpc_id) == 0)
                        return err_set(err, EBUSY, "DependencyViolation",
                                       "The vpc '%s' has dependencies and cannot be deleted: internet gateway %s is attached", vpc_id,
                                       rec_str(v, "InternetGatewayId"));
        json_array_foreach(rtbs, i, v)
                if (!rtb_is_main(v))
                        extra++;
        if (extra)
                return err_set(err, EBUSY, "DependencyViolation",
                               "The vpc '%s' has dependencies and cannot be deleted: %d route table(s) besides the main one remain", vpc_id,
                               extra);
        return 0;
}

void egress_vpc_deleted(struct netd *d, const char *vpc_id)
{
        _cleanup_json_ json_t *rtbs = egress_records_where(d, "rtb/", "VpcId", vpc_id);
        json_t *v;
        size_t i;
        json_array_foreach(rtbs, i, v)
                (void) record_del(d, "rtb", rec_str(v, "RouteTableId"), NULL);
}

int egress_subnet_dependencies(struct netd *d, const char *subnet_id, struct err *err)
{
        _cleanup_json_ json_t *nats = egress_records_where(d, "natgw/", "SubnetId", subnet_id);
        json_t *v;
        size_t i;
        json_array_foreach(nats, i, v)
                if (strcmp(rec_str(v, "State") ?: "", "deleted") != 0)
                        return err_set(err, EBUSY, "DependencyViolation",
                                       "The subnet '%s' has dependencies and cannot be deleted: NAT gateway %s (%s) sits in it", subnet_id,
                                       rec_str(v, "NatGatewayId"), rec_str(v, "State"));
        return 0;
}

void egress_subnet_changed(struct netd *d, const char *vpc_id, const char *deleted_id)
{
        _cleanup_json_ json_t *changes = json_array(), *rtbs = egress_records_where(d, "rtb/", "VpcId", vpc_id);
        struct err e = { 0 };
        json_t *rtb;
        size_t i;
        json_array_foreach(rtbs, i, rtb)
                if (deleted_id && rtb_drop_subnet(rtb, deleted_id)) {
                        char key[KEY_MAX];
                        key_fmt(key, "rtb", rec_str(rtb, "RouteTableId"));
                        json_array_append_new(changes, json_pack("[s, O]", key, rtb));
                }
        if (egress_commit(d, vpc_id, changes, &e) < 0)
                log_warning("msg=\"cannot apply routes after a subnet change, ignoring\" vpc=%s err=\"%s\"", vpc_id, e.msg);
}

static bool default_route(json_t *rtb)
{
        json_t *rt;
        size_t i;
        json_array_foreach(json_object_get(rtb, "Routes"), i, rt)
                if (strcmp(rec_str(rt, "DestinationCidrBlock") ?: "", "0.0.0.0/0") == 0)
                        return true;
        return false;
}

int egress_default_vpc(struct netd *d, const char *vpc_id, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL, *igw = NULL, *rtb = NULL, *changes = NULL;
        char ikey[KEY_MAX], rkey[KEY_MAX];
        int r;
        if ((r = record_load(d, "vpc", vpc_id, &vpc)) < 0)
                return err_set(err, -r, NULL, "default VPC %s: no record", vpc_id);
        if (!(rtb = egress_subnet_table(d, vpc_id, NULL))) {
                if ((r = egress_vpc_created(d, vpc, err)) < 0)
                        return r;
                if (!(rtb = egress_subnet_table(d, vpc_id, NULL)))
                        return err_set(err, ENOENT, NULL, "default VPC %s: no main route table", vpc_id);
        }
        {
                /* one already attached (made by hand): it stays the VPC's gateway */
                _cleanup_json_ json_t *all = egress_records_where(d, "igw/", NULL, NULL);
                json_t *v;
                size_t i;
                json_array_foreach(all, i, v)
                        if (!igw && strcmp(igw_vpc(v) ?: "", vpc_id) == 0)
                                igw = json_incref(v);
        }
        if (!igw) {
                if ((r = igw_new(d, &igw, err)) < 0)
                        return r;
                igw_set_vpc(igw, vpc_id);
        }
        if (!default_route(rtb) && (r = rtb_route_add(rtb, "0.0.0.0/0", "GatewayId", rec_str(igw, "InternetGatewayId"))) < 0)
                return err_set(err, -r, NULL, "default VPC %s: route 0.0.0.0/0", vpc_id);
        key_fmt(ikey, "igw", rec_str(igw, "InternetGatewayId"));
        key_fmt(rkey, "rtb", rec_str(rtb, "RouteTableId"));
        changes = json_pack("[[s, O], [s, O], [s, {s:b}]]", ikey, igw, rkey, rtb, "meta/default-egress", "Done", 1);
        if ((r = egress_commit(d, vpc_id, changes, err)) < 0)
                return r;
        log_info("msg=\"default VPC is public\" vpc=%s igw=%s rtb=%s", vpc_id, rec_str(igw, "InternetGatewayId"),
                 rec_str(rtb, "RouteTableId"));
        return 0;
}

/* ---- start-up ---- */

static bool exists(struct netd *d, const char *kind, const char *id)
{
        char key[KEY_MAX];
        if (!id)
                return false;
        key_fmt(key, kind, id);
        return store_exists(d->store, key) == 1;
}

/* Records whose VPC (and, for NAT gateways, subnet) is gone; associations of vanished subnets. */
static int egress_sweep(struct netd *d)
{
        _cleanup_json_ json_t *rtbs = egress_records_where(d, "rtb/", NULL, NULL), *nats = egress_records_where(d, "natgw/", NULL, NULL),
                              *igws = egress_records_where(d, "igw/", NULL, NULL);
        json_t *v, *a;
        size_t i, j;
        int n = 0;
        json_array_foreach(rtbs, i, v) {
                char key[KEY_MAX];
                bool changed = true;
                key_fmt(key, "rtb", rec_str(v, "RouteTableId"));
                if (!exists(d, "vpc", rec_str(v, "VpcId"))) {
                        (void) store_del(d->store, key, NULL);
                        log_notice("msg=\"released route table of a vanished VPC\" rtb=%s", rec_str(v, "RouteTableId"));
                        n++;
                        continue;
                }
                while (changed) {
                        changed = false;
                        json_array_foreach(json_object_get(v, "Associations"), j, a)
                                if (rec_str(a, "SubnetId") && !exists(d, "subnet", rec_str(a, "SubnetId"))) {
                                        log_notice("msg=\"released association of a vanished subnet\" rtb=%s subnet=%s",
                                                   rec_str(v, "RouteTableId"), rec_str(a, "SubnetId"));
                                        changed = rtb_drop_subnet(v, rec_str(a, "SubnetId"));
                                        n++;
                                        (void) store_put(d->store, key, v, NULL);
                                        break;
                                }
                }
        }
        json_array_foreach(nats, i, v)
                if (!exists(d, "subnet", rec_str(v, "SubnetId"))) {
                        (void) record_del(d, "natgw", rec_str(v, "NatGatewayId"), NULL);
                        log_notice("msg=\"released NAT gateway of a vanished subnet\" nat=%s", rec_str(v, "NatGatewayId"));
                        n++;
                }
        json_array_foreach(igws, i, v)
                if (igw_vpc(v) && !exists(d, "vpc", igw_vpc(v))) {
                        char key[KEY_MAX];
                        log_notice("msg=\"detached internet gateway from a vanished VPC\" igw=%s vpc=%s", rec_str(v, "InternetGatewayId"),
                                   igw_vpc(v));
                        igw_set_vpc(v, NULL);
                        key_fmt(key, "igw", rec_str(v, "InternetGatewayId"));
                        (void) store_put(d->store, key, v, NULL);
                        n++;
                }
        return n;
}

int egress_reconcile(struct netd *d)
{
        _cleanup_json_ json_t *vpcs = egress_records_where(d, "vpc/", NULL, NULL), *mark = NULL;
        json_t *vpc;
        size_t i;
        int n = egress_sweep(d);
        bool marked = store_get(d->store, "meta/default-egress", &mark, NULL) == 0;

        json_array_foreach(vpcs, i, vpc) {
                _cleanup_json_ json_t *rtb = egress_subnet_table(d, rec_str(vpc, "VpcId"), NULL);
                struct err e = { 0 };
                if (!rtb && strcmp(rec_str(vpc, "State") ?: "", "available") == 0) {
                        if (egress_vpc_created(d, vpc, &e) < 0)
                                log_error("msg=\"cannot make main route table\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e.msg);
                        else {
                                log_notice("msg=\"made missing main route table\" vpc=%s", rec_str(vpc, "VpcId"));
                                n++;
                        }
                }
                /* a default VPC made before gateways existed: public once, as a new one is */
                if (!marked && json_is_true(json_object_get(vpc, "IsDefault"))) {
                        err_clear(&e);
                        if (egress_default_vpc(d, rec_str(vpc, "VpcId"), &e) < 0)
                                log_error("msg=\"cannot make the default VPC public\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e.msg);
                        marked = true;
                }
                err_clear(&e);
                if (egress_apply(d, rec_str(vpc, "VpcId"), &e) < 0)
                        log_error("msg=\"cannot repair VPC routes\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e.msg);
        }
        return n;
}
