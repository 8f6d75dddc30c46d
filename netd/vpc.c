/* vpc.c: VPCs: a network namespace holding the router, reached from the host over an uplink veth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "describe.h"
#include "dns/dns.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "egress.h"
#include "intent.h"
#include "kernel/knet.h"
#include "netd.h"
#include "record.h"
#include "sg.h"
#include "vpc.h"
#include "vpc_req.h"

#define UPLINK_BASE 0x64400000u   /* 100.64.0.0/10: transit /30 per VPC, host .1, router .2 */

int vpc_load(struct netd *d, const char *vpc_id, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id_valid("vpc", vpc_id))
                return err_set(err, EINVAL, "InvalidVpcID.Malformed", "Invalid id: \"%s\"", vpc_id);
        key_fmt(key, "vpc", vpc_id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc_id);
        return r;
}

void vpc_knet(json_t *vpc, struct knet_vpc *ret)
{
        uint32_t idx = (uint32_t) json_integer_value(json_object_get(vpc, "ebxUplinkIndex"));
        memset(ret, 0, sizeof *ret);
        ret->netns = json_string_value(json_object_get(vpc, "ebxNetns"));
        ret->uplink_host = json_string_value(json_object_get(vpc, "ebxUplinkHost"));
        ret->uplink_host_ip = UPLINK_BASE + idx * 4 + 1;
        ret->uplink_router_ip = UPLINK_BASE + idx * 4 + 2;
        (void) cidr4_parse(json_string_value(json_object_get(vpc, "CidrBlock")), &ret->cidr);
        ret->host_route = json_is_true(json_object_get(vpc, "ebxHostRoute"));
}

static json_t *vpc_shape(struct netd *d, json_t *vpc)
{
        (void) d;
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(vpc, k, v)
                if (strncmp(k, "ebx", 3) != 0)
                        json_object_set(o, k, v);
        return o;
}

struct vpc_scan {
        struct cidr4 cidr;
        bool overlap;
        bool used[4096];
};

static int scan_cb(const char *key, json_t *vpc, void *ud)
{
        struct vpc_scan *s = ud;
        struct cidr4 c;
        json_int_t idx = json_integer_value(json_object_get(vpc, "ebxUplinkIndex"));
        if (cidr4_parse(json_string_value(json_object_get(vpc, "CidrBlock")), &c) == 0 && cidr4_overlaps(&c, &s->cidr))
                s->overlap = true;
        if (idx >= 0 && idx < (json_int_t) ELEMENTSOF(s->used))
                s->used[idx] = true;
        return 0;
}

/* A new VPC's uplink index (the first free one) and whether its CIDR overlaps an older VPC's. */
static int vpc_slot(struct netd *d, struct vpc_scan *scan, int *ret_idx, struct err *err)
{
        int r;
        if ((r = store_list(d->store, "vpc/", scan_cb, scan, err)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(scan->used); i++)
                if (!scan->used[i]) {
                        *ret_idx = (int) i;
                        return 0;
                }
        return err_set(err, ENOSPC, "VpcLimitExceeded", "The maximum number of VPCs (%zu) has been reached.", ELEMENTSOF(scan->used));
}

/* The new VPC's record (State pending). */
static int vpc_record(struct netd *d, const char *cidr_s, bool is_default, int idx, bool host_route, json_t **ret, struct err *err)
{
        char id[ID_MAX], assoc[ID_MAX], netns[64], uplink[16];
        json_t *vpc;
        int r;
        if ((r = id_new("vpc", id)) < 0 || (r = id_new("vpc-cidr-assoc", assoc)) < 0)
                return err_set(err, -r, NULL, "CreateVpc: random id: %s", strerror(-r));
        snprintf(netns, sizeof netns, "ebx-%s", id);
        snprintf(uplink, sizeof uplink, "ebxu%.11s", id + 4 + 6);
        vpc = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:[{s:s, s:s, s:{s:s}}], s:[], s:s, s:s, s:i, s:b}",
                        "VpcId", id, "CidrBlock", cidr_s, "State", "pending", "OwnerId", d->account,
                        "IsDefault", is_default, "DhcpOptionsId", "default", "InstanceTenancy", "default",
                        "CidrBlockAssociationSet", "AssociationId", assoc, "CidrBlock", cidr_s,
                        "CidrBlockState", "State", "associated", "Tags", "ebxNetns", netns,
                        "ebxUplinkHost", uplink, "ebxUplinkIndex", idx, "ebxHostRoute", host_route);
        if (!vpc)
                return err_set(err, ENOMEM, NULL, "out of memory");
        *ret = vpc;
        return 0;
}

/* The kernel has the VPC: available, with its default group; the intent dropped. */
static int vpc_finish(struct netd *d, const char *key, json_t *vpc, const char *ikey, struct err *err)
{
        _cleanup_json_ json_t *sg = NULL;
        int r;
        json_object_set_new(vpc, "State", json_string("available"));
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        r = sg_create_default(d, rec_str(vpc, "VpcId"), &sg, err);
        if (r >= 0) {
                json_object_set_new(vpc, "ebxDefaultSg", json_string(rec_str(sg, "GroupId")));
                r = store_put(d->store, key, vpc, err);
        }
        if (r >= 0)
                r = intent_done(d, ikey, err);
        if (r < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        return 0;
}

int vpc_create(struct netd *d, const struct vpc_create_req *q, bool is_default, json_t **ret_vpc, struct err *err)
{
        const char *cidr_s = q->cidr_s;
        _cleanup_free_ struct vpc_scan *scan = calloc(1, sizeof *scan);
        _cleanup_json_ json_t *vpc = NULL, *intent = NULL;
        struct knet_vpc kv;
        char key[KEY_MAX], ikey[64];
        int idx = -1, r;

        if (!scan)
                return err_set(err, ENOMEM, NULL, "out of memory");
        scan->cidr = q->cidr;
        if ((r = vpc_slot(d, scan, &idx, err)) < 0 || (r = vpc_record(d, cidr_s, is_default, idx, !scan->overlap, &vpc, err)) < 0)
                return r;
        key_fmt(key, "vpc", rec_str(vpc, "VpcId"));
        intent = json_pack("{s:s, s:s}", "Op", "CreateVpc", "VpcId", rec_str(vpc, "VpcId"));
        /* intent first: a crash from here on is rolled back at start-up */
        if ((r = intent_begin(d, key, vpc, intent, ikey, err)) < 0)
                return r;
        vpc_knet(vpc, &kv);
        r = knet_vpc_ensure(d->knet, &kv, err);
        if (r < 0) {
                struct err e2 = { 0 };
                (void) knet_vpc_delete(d->knet, &kv, &e2);
                (void) store_begin(d->store, &e2);
                (void) store_del(d->store, key, &e2);
                (void) intent_done(d, ikey, &e2);
                (void) store_commit(d->store, &e2);
                return err_wrap(err, "CreateVpc %s", rec_str(vpc, "VpcId"));
        }
        if ((r = vpc_finish(d, key, vpc, ikey, err)) < 0)
                return r;
        /* the VPC exists without its resolver when that fails: logged, repaired at the next start */
        struct err e2 = { 0 };
        if (dns_vpc_sync(d, vpc, &e2) < 0)
                log_warning("msg=\"VPC resolver not started\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e2.msg);
        /* its main route table; when that fails, egress_reconcile makes it at the next start */
        err_clear(&e2);
        if (egress_vpc_created(d, vpc, &e2) < 0)
                log_warning("msg=\"main route table not made, ignoring\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e2.msg);
        log_info("op=CreateVpc vpc=%s cidr=%s netns=%s host_route=%s", rec_str(vpc, "VpcId"), cidr_s, kv.netns,
                 scan->overlap ? "no" : "yes");
        *ret_vpc = TAKE_PTR(vpc);
        return 0;
}

int op_create_vpc(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct vpc_create_req q;
        json_t *vpc = NULL;
        int r;
        if ((r = vpc_create_req_decode(req, &q, err)) < 0 || (r = vpc_create(d, &q, false, &vpc, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Vpc", vpc_shape(d, vpc));
        json_decref(vpc);
        return 0;
}

static json_t *vpc_values(json_t *vpc, const char *name)
{
        if (strcmp(name, "vpc-id") == 0)
                return json_pack("[O]", json_object_get(vpc, "VpcId"));
        if (strcmp(name, "cidr") == 0 || strcmp(name, "cidr-block-association.cidr-block") == 0)
                return json_pack("[O]", json_object_get(vpc, "CidrBlock"));
        if (strcmp(name, "is-default") == 0)
                return json_pack("[s]", json_is_true(json_object_get(vpc, "IsDefault")) ? "true" : "false");
        if (strcmp(name, "state") == 0)
                return json_pack("[O]", json_object_get(vpc, "State"));
        if (strcmp(name, "owner-id") == 0)
                return json_pack("[s]", json_string_value(json_object_get(vpc, "OwnerId")));
        return json_array();
}

int op_describe_vpcs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = vpc_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "vpc", "VpcId", q.ids, q.filters, vpc_values, vpc_shape, "InvalidVpcID.NotFound", "vpc ID",
                                  &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Vpcs", out);
        return 0;
}

struct dep_scan {
        const char *vpc_id;
        const char *default_sg;
        int subnets, enis, sgs;
};

static int dep_cb(const char *key, json_t *obj, void *ud)
{
        struct dep_scan *s = ud;
        const char *v = json_string_value(json_object_get(obj, "VpcId"));
        if (!v || strcmp(v, s->vpc_id) != 0)
                return 0;
        if (strncmp(key, "subnet/", 7) == 0)
                s->subnets++;
        else if (strncmp(key, "eni/", 4) == 0)
                s->enis++;
        else if (strncmp(key, "sg/", 3) == 0 &&
                 strcmp(json_string_value(json_object_get(obj, "GroupId")) ?: "", s->default_sg ?: "") != 0)
                s->sgs++;
        return 0;
}

int op_delete_vpc(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct vpc_delete_req q;
        struct dep_scan s = { 0 };
        struct knet_vpc kv;
        const char *id;
        char key[KEY_MAX], ikey[64];
        _cleanup_json_ json_t *vpc = NULL, *intent = NULL;
        int r;
        if ((r = vpc_delete_req_decode(req, &q, err)) < 0)
                return r;
        id = q.vpc_id;
        if ((r = vpc_load(d, id, &vpc, err)) < 0)
                return r;
        s.vpc_id = id;
        s.default_sg = json_string_value(json_object_get(vpc, "ebxDefaultSg"));
        if ((r = store_list(d->store, "subnet/", dep_cb, &s, err)) < 0 || (r = store_list(d->store, "eni/", dep_cb, &s, err)) < 0 ||
            (r = store_list(d->store, "sg/", dep_cb, &s, err)) < 0)
                return r;
        if (s.subnets || s.enis || s.sgs)
                return err_set(err, EBUSY, "DependencyViolation",
                               "The vpc '%s' has dependencies and cannot be deleted: %d subnet(s), %d network interface(s), %d security group(s) remain",
                               id, s.subnets, s.enis, s.sgs);
        if ((r = egress_vpc_dependencies(d, id, err)) < 0)
                return r;
        key_fmt(key, "vpc", id);
        intent = json_pack("{s:s, s:s}", "Op", "DeleteVpc", "VpcId", id);
        json_object_set_new(vpc, "State", json_string("deleting"));
        if ((r = intent_begin(d, key, vpc, intent, ikey, err)) < 0)
                return r;
        vpc_knet(vpc, &kv);
        dns_vpc_forget(d, id);
        /* Rolled forward at start-up if this fails half-way: the intent stays. */
        if ((r = knet_vpc_delete(d->knet, &kv, err)) < 0)
                return err_wrap(err, "DeleteVpc %s", id);
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if (s.default_sg) {
                char sgkey[KEY_MAX];
                key_fmt(sgkey, "sg", s.default_sg);
                r = store_del(d->store, sgkey, err);
        }
        if (r >= 0)
                r = dns_vpc_records_delete(d, id, err);
        if (r < 0 || (r = store_del(d->store, key, err)) < 0 || (r = intent_done(d, ikey, err)) < 0 ||
            (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        egress_vpc_deleted(d, id);
        log_info("op=DeleteVpc vpc=%s", id);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int vpc_intent_replay(struct netd *d, json_t *intent, struct err *err)
{
        _cleanup_json_ json_t *vpc = NULL;
        struct knet_vpc kv;
        int r;
        /* CreateVpc rolled back, DeleteVpc finished: both remove it */
        if (record_load(d, "vpc", rec_str(intent, "VpcId"), &vpc) < 0)
                return 0;
        vpc_knet(vpc, &kv);
        if ((r = knet_vpc_delete(d->knet, &kv, err)) < 0)
                return r;
        (void) store_begin(d->store, err);
        if (rec_str(vpc, "ebxDefaultSg"))
                (void) record_del(d, "sg", rec_str(vpc, "ebxDefaultSg"), NULL);
        (void) record_del(d, "vpc", rec_str(intent, "VpcId"), NULL);
        (void) store_commit(d->store, err);
        return 0;
}
