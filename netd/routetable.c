/* routetable.c: route tables: records with their routes and associations; every change re-applies the VPC (egress.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "describe.h"
#include "ecsbox/cidr.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "egress.h"
#include "igw.h"
#include "natgw.h"
#include "netd.h"
#include "record.h"
#include "req.h"
#include "routetable.h"
#include "rtb_req.h"
#include "subnet.h"
#include "vpc.h"

static int rtb_load(struct netd *d, const char *rtb_id, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id_valid("rtb", rtb_id))
                return err_set(err, EINVAL, "InvalidRouteTableID.Malformed", "Invalid id: \"%s\"", rtb_id);
        key_fmt(key, "rtb", rtb_id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", rtb_id);
        return r;
}

int rtb_new(struct netd *d, json_t *vpc, bool main, json_t **ret, struct err *err)
{
        char id[ID_MAX], assoc[ID_MAX];
        json_t *rtb;
        int r;
        if ((r = id_new("rtb", id)) < 0 || (r = id_new("rtbassoc", assoc)) < 0)
                return err_set(err, -r, NULL, "CreateRouteTable: random id: %s", strerror(-r));
        rtb = json_pack("{s:s, s:s, s:s, s:[{s:O, s:s, s:s}], s:[], s:[], s:[]}", "RouteTableId", id, "VpcId", rec_str(vpc, "VpcId"),
                        "OwnerId", d->account, "Routes", "DestinationCidrBlock", json_object_get(vpc, "CidrBlock"), "GatewayId", "local",
                        "Origin", "CreateRouteTable", "Associations", "PropagatingVgws", "Tags");
        if (!rtb)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (main)
                json_array_append_new(json_object_get(rtb, "Associations"),
                                      json_pack("{s:b, s:s, s:s, s:{s:s}}", "Main", 1, "RouteTableAssociationId", assoc, "RouteTableId", id,
                                                "AssociationState", "State", "associated"));
        *ret = rtb;
        return 0;
}

bool rtb_is_main(json_t *rtb)
{
        json_t *a;
        size_t i;
        json_array_foreach(json_object_get(rtb, "Associations"), i, a)
                if (json_is_true(json_object_get(a, "Main")))
                        return true;
        return false;
}

bool rtb_drop_subnet(json_t *rtb, const char *subnet_id)
{
        json_t *as = json_object_get(rtb, "Associations"), *a;
        size_t i;
        json_array_foreach(as, i, a)
                if (strcmp(rec_str(a, "SubnetId") ?: "", subnet_id) == 0) {
                        json_array_remove(as, i);
                        return true;
                }
        return false;
}

int rtb_route_add(json_t *rtb, const char *dst, const char *target_key, const char *target)
{
        json_t *rt = json_pack("{s:s, s:s, s:s}", "DestinationCidrBlock", dst, target_key, target, "Origin", "CreateRoute");
        if (!rt)
                return -ENOMEM;
        return json_array_append_new(json_object_get(rtb, "Routes"), rt) < 0 ? -ENOMEM : 0;
}

/* A route's State is computed (an internet gateway detached, a NAT gateway deleted: blackhole). */
static json_t *rtb_shape(struct netd *d, json_t *rtb)
{
        json_t *o = json_deep_copy(rtb), *rt;
        size_t i;
        json_array_foreach(json_object_get(o, "Routes"), i, rt)
                json_object_set_new(rt, "State", json_string(egress_route_state(d, rtb, rt)));
        return o;
}

static int rtb_commit(struct netd *d, json_t *rtb, bool del, struct err *err)
{
        char key[KEY_MAX];
        _cleanup_json_ json_t *changes = NULL;
        key_fmt(key, "rtb", rec_str(rtb, "RouteTableId"));
        changes = del ? json_pack("[[s, n]]", key) : json_pack("[[s, O]]", key, rtb);
        return egress_commit(d, rec_str(rtb, "VpcId"), changes, err);
}

int op_create_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct rtb_create_req q;
        _cleanup_json_ json_t *vpc = NULL, *rtb = NULL;
        char key[KEY_MAX];
        int r;
        if ((r = rtb_create_req_decode(req, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0 ||
            (r = rtb_new(d, vpc, false, &rtb, err)) < 0)
                return r;
        json_object_set_new(rtb, "Tags", req_tags(req, "route-table"));
        key_fmt(key, "rtb", rec_str(rtb, "RouteTableId"));
        /* no association yet: nothing uses it */
        if ((r = store_put(d->store, key, rtb, err)) < 0)
                return r;
        log_info("op=CreateRouteTable rtb=%s vpc=%s", rec_str(rtb, "RouteTableId"), q.vpc_id);
        *ret = json_pack("{s:o}", "RouteTable", rtb_shape(d, rtb));
        return 0;
}

int op_delete_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct rtb_delete_req q;
        _cleanup_json_ json_t *rtb = NULL;
        size_t n;
        int r;
        if ((r = rtb_delete_req_decode(req, &q, err)) < 0 || (r = rtb_load(d, q.rtb_id, &rtb, err)) < 0)
                return r;
        if (rtb_is_main(rtb))
                return err_set(err, EBUSY, "DependencyViolation", "The routeTable '%s' has dependencies and cannot be deleted: it is the main route table of %s",
                               q.rtb_id, rec_str(rtb, "VpcId"));
        if ((n = json_array_size(json_object_get(rtb, "Associations"))) > 0)
                return err_set(err, EBUSY, "DependencyViolation", "The routeTable '%s' has dependencies and cannot be deleted: %zu subnet association(s) remain",
                               q.rtb_id, n);
        if ((r = rtb_commit(d, rtb, true, err)) < 0)
                return err_wrap(err, "DeleteRouteTable %s", q.rtb_id);
        log_info("op=DeleteRouteTable rtb=%s", q.rtb_id);
        *ret = json_object();
        return 0;
}

/* Every value of member key among the elements of the array member list. */
static json_t *member_values(json_t *rtb, const char *list, const char *key)
{
        json_t *out = json_array(), *e;
        size_t i;
        json_array_foreach(json_object_get(rtb, list), i, e)
                if (rec_str(e, key))
                        json_array_append(out, json_object_get(e, key));
        return out;
}

static json_t *rtb_values(json_t *rtb, const char *name)
{
        if (strcmp(name, "route-table-id") == 0)
                return json_pack("[O]", json_object_get(rtb, "RouteTableId"));
        if (strcmp(name, "vpc-id") == 0)
                return json_pack("[O]", json_object_get(rtb, "VpcId"));
        if (strcmp(name, "owner-id") == 0)
                return json_pack("[O]", json_object_get(rtb, "OwnerId"));
        if (strcmp(name, "association.main") == 0)
                return json_pack("[s]", rtb_is_main(rtb) ? "true" : "false");
        if (strcmp(name, "association.subnet-id") == 0)
                return member_values(rtb, "Associations", "SubnetId");
        if (strcmp(name, "association.route-table-association-id") == 0)
                return member_values(rtb, "Associations", "RouteTableAssociationId");
        if (strcmp(name, "association.route-table-id") == 0)
                return member_values(rtb, "Associations", "RouteTableId");
        if (strcmp(name, "route.destination-cidr-block") == 0)
                return member_values(rtb, "Routes", "DestinationCidrBlock");
        if (strcmp(name, "route.gateway-id") == 0)
                return member_values(rtb, "Routes", "GatewayId");
        if (strcmp(name, "route.nat-gateway-id") == 0)
                return member_values(rtb, "Routes", "NatGatewayId");
        if (strcmp(name, "route.origin") == 0)
                return member_values(rtb, "Routes", "Origin");
        return json_array();
}

int op_describe_route_tables(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = rtb_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "rtb", "RouteTableId", q.ids, q.filters, rtb_values, rtb_shape, "InvalidRouteTableID.NotFound",
                                  "routeTable ID", &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "RouteTables", out);
        return 0;
}

/* The index of rtb's route to dst (by its block), -1 when none. */
static int route_find(json_t *rtb, const struct cidr4 *dst)
{
        json_t *rt;
        size_t i;
        json_array_foreach(json_object_get(rtb, "Routes"), i, rt) {
                struct cidr4 c;
                if (cidr4_parse(rec_str(rt, "DestinationCidrBlock"), &c) == 0 && c.addr == dst->addr && c.len == dst->len)
                        return (int) i;
        }
        return -1;
}

/* The target of a CreateRoute/ReplaceRoute exists and belongs to the table's VPC. */
static int route_target_check(struct netd *d, json_t *rtb, const struct route_req *q, struct err *err)
{
        _cleanup_json_ json_t *t = NULL, *vpc = NULL;
        const char *vpc_id = rec_str(rtb, "VpcId");
        struct cidr4 vc;
        int r;
        if ((r = vpc_load(d, vpc_id, &vpc, err)) < 0)
                return r;
        if (cidr4_parse(rec_str(vpc, "CidrBlock"), &vc) == 0 && cidr4_overlaps(&vc, &q->dst) && q->dst.len >= vc.len)
                return err_set(err, EINVAL, JERR_INVALID,
                               "The destination CIDR block %s is equal to or more specific than the local route %s of route table %s",
                               q->dst_s, rec_str(vpc, "CidrBlock"), q->rtb_id);
        if (q->gateway_id) {
                char key[KEY_MAX];
                key_fmt(key, "igw", q->gateway_id);
                if (store_get(d->store, key, &t, NULL) < 0)
                        return err_set(err, ENOENT, "InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", q->gateway_id);
                if (strcmp(igw_vpc(t) ?: "", vpc_id) != 0)
                        return err_set(err, EINVAL, JERR_INVALID, "route table %s and network gateway %s belong to different networks",
                                       q->rtb_id, q->gateway_id);
                return 0;
        }
        if ((r = natgw_load(d, q->natgw_id, "InvalidNatGatewayID.NotFound", &t, err)) < 0)
                return r;
        if (strcmp(rec_str(t, "State") ?: "", "deleted") == 0)
                return err_set(err, ENOENT, "InvalidNatGatewayID.NotFound", "The NAT gateway ID '%s' does not exist (it is deleted)", q->natgw_id);
        if (strcmp(rec_str(t, "VpcId") ?: "", vpc_id) != 0)
                return err_set(err, EINVAL, JERR_INVALID, "route table %s and NAT gateway %s belong to different networks", q->rtb_id,
                               q->natgw_id);
        return 0;
}

static json_t *route_new(const struct route_req *q)
{
        char c[CIDR_STR_MAX];
        cidr4_format(&q->dst, c);
        return json_pack("{s:s, s:s, s:s}", "DestinationCidrBlock", c, q->gateway_id ? "GatewayId" : "NatGatewayId",
                         q->gateway_id ? q->gateway_id : q->natgw_id, "Origin", "CreateRoute");
}

static int route_change(struct netd *d, json_t *req, bool replace, json_t **ret, struct err *err)
{
        const char *op = replace ? "ReplaceRoute" : "CreateRoute";
        struct route_req q;
        _cleanup_json_ json_t *rtb = NULL;
        json_t *routes;
        int r, i;
        if ((r = route_create_req_decode(req, &q, err)) < 0 || (r = rtb_load(d, q.rtb_id, &rtb, err)) < 0)
                return r;
        routes = json_object_get(rtb, "Routes");
        i = route_find(rtb, &q.dst);
        if (!replace && i >= 0)
                return err_set(err, EEXIST, "RouteAlreadyExists", "The route identified by %s already exists in route table %s", q.dst_s, q.rtb_id);
        if (replace && i < 0)
                return err_set(err, ENOENT, "InvalidRoute.NotFound", "no route with destination-cidr-block %s in route table %s", q.dst_s, q.rtb_id);
        if (replace && strcmp(rec_str(json_array_get(routes, (size_t) i), "GatewayId") ?: "", "local") == 0)
                return err_set(err, EINVAL, JERR_INVALID, "The local route %s of route table %s cannot be replaced", q.dst_s, q.rtb_id);
        if ((r = route_target_check(d, rtb, &q, err)) < 0)
                return r;
        if (replace)
                json_array_set_new(routes, (size_t) i, route_new(&q));
        else
                json_array_append_new(routes, route_new(&q));
        if ((r = rtb_commit(d, rtb, false, err)) < 0)
                return err_wrap(err, "%s %s %s", op, q.rtb_id, q.dst_s);
        log_info("op=%s rtb=%s dst=%s target=%s", op, q.rtb_id, q.dst_s, q.gateway_id ? q.gateway_id : q.natgw_id);
        *ret = replace ? json_object() : json_pack("{s:b}", "Return", 1);
        return 0;
}

int op_create_route(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        return route_change(d, req, false, ret, err);
}

int op_replace_route(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        return route_change(d, req, true, ret, err);
}

int op_delete_route(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct route_req q;
        _cleanup_json_ json_t *rtb = NULL;
        json_t *routes;
        int r, i;
        if ((r = route_delete_req_decode(req, &q, err)) < 0 || (r = rtb_load(d, q.rtb_id, &rtb, err)) < 0)
                return r;
        routes = json_object_get(rtb, "Routes");
        if ((i = route_find(rtb, &q.dst)) < 0)
                return err_set(err, ENOENT, "InvalidRoute.NotFound", "no route with destination-cidr-block %s in route table %s", q.dst_s, q.rtb_id);
        if (strcmp(rec_str(json_array_get(routes, (size_t) i), "GatewayId") ?: "", "local") == 0)
                return err_set(err, EINVAL, JERR_INVALID, "cannot remove local route %s in route table %s", q.dst_s, q.rtb_id);
        json_array_remove(routes, (size_t) i);
        if ((r = rtb_commit(d, rtb, false, err)) < 0)
                return err_wrap(err, "DeleteRoute %s %s", q.rtb_id, q.dst_s);
        log_info("op=DeleteRoute rtb=%s dst=%s", q.rtb_id, q.dst_s);
        *ret = json_object();
        return 0;
}

int op_associate_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct rtb_assoc_req q;
        _cleanup_json_ json_t *rtb = NULL, *subnet = NULL, *cur = NULL;
        char assoc[ID_MAX];
        int r;
        if ((r = rtb_assoc_req_decode(req, &q, err)) < 0 || (r = rtb_load(d, q.rtb_id, &rtb, err)) < 0 ||
            (r = subnet_load(d, q.subnet_id, &subnet, err)) < 0)
                return r;
        if (strcmp(rec_str(subnet, "VpcId") ?: "", rec_str(rtb, "VpcId") ?: "") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Route table %s and subnet %s belong to different networks", q.rtb_id, q.subnet_id);
        cur = egress_subnet_table(d, rec_str(rtb, "VpcId"), q.subnet_id);
        if (cur) {
                json_t *a;
                size_t i;
                json_array_foreach(json_object_get(cur, "Associations"), i, a)
                        if (strcmp(rec_str(a, "SubnetId") ?: "", q.subnet_id) == 0)
                                return err_set(err, EEXIST, "Resource.AlreadyAssociated",
                                               "the specified association for route table %s conflicts with an existing association (%s of %s)",
                                               q.rtb_id, rec_str(a, "RouteTableAssociationId"), rec_str(cur, "RouteTableId"));
        }
        if ((r = id_new("rtbassoc", assoc)) < 0)
                return err_set(err, -r, NULL, "AssociateRouteTable: random id: %s", strerror(-r));
        json_array_append_new(json_object_get(rtb, "Associations"),
                              json_pack("{s:b, s:s, s:s, s:s, s:{s:s}}", "Main", 0, "RouteTableAssociationId", assoc, "RouteTableId",
                                        q.rtb_id, "SubnetId", q.subnet_id, "AssociationState", "State", "associated"));
        if ((r = rtb_commit(d, rtb, false, err)) < 0)
                return err_wrap(err, "AssociateRouteTable %s %s", q.rtb_id, q.subnet_id);
        log_info("op=AssociateRouteTable rtb=%s subnet=%s assoc=%s", q.rtb_id, q.subnet_id, assoc);
        *ret = json_pack("{s:s, s:{s:s}}", "AssociationId", assoc, "AssociationState", "State", "associated");
        return 0;
}

struct assoc_scan {
        const char *id;
        json_t *rtb;
        size_t index;
        bool main;
};

static int assoc_cb(const char *key, json_t *rtb, void *ud)
{
        struct assoc_scan *s = ud;
        json_t *a;
        size_t i;
        (void) key;
        json_array_foreach(json_object_get(rtb, "Associations"), i, a)
                if (strcmp(rec_str(a, "RouteTableAssociationId") ?: "", s->id) == 0 && !s->rtb) {
                        s->rtb = json_incref(rtb);
                        s->index = i;
                        s->main = json_is_true(json_object_get(a, "Main"));
                }
        return 0;
}

int op_disassociate_route_table(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct rtb_disassoc_req q;
        struct assoc_scan s = { 0 };
        _cleanup_json_ json_t *rtb = NULL;
        int r;
        if ((r = rtb_disassoc_req_decode(req, &q, err)) < 0)
                return r;
        s.id = q.assoc_id;
        if ((r = store_list(d->store, "rtb/", assoc_cb, &s, err)) < 0)
                return r;
        rtb = s.rtb;
        if (!rtb)
                return err_set(err, ENOENT, "InvalidAssociationID.NotFound", "The association ID '%s' does not exist", q.assoc_id);
        if (s.main)
                return err_set(err, EINVAL, JERR_INVALID, "cannot disassociate the main route table association %s (of %s)", q.assoc_id,
                               rec_str(rtb, "RouteTableId"));
        json_array_remove(json_object_get(rtb, "Associations"), s.index);
        if ((r = rtb_commit(d, rtb, false, err)) < 0)
                return err_wrap(err, "DisassociateRouteTable %s", q.assoc_id);
        log_info("op=DisassociateRouteTable assoc=%s rtb=%s", q.assoc_id, rec_str(rtb, "RouteTableId"));
        *ret = json_object();
        return 0;
}
