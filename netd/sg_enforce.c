/* sg_enforce.c: security groups in the kernel: each attached ENI's task tables follow its groups' rules
 * and the members of peer groups; each VPC's bridge table knows every attached ENI's port, MAC and IP. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/log.h"
#include "knet_sg.h"
#include "netd.h"
#include "sg_rules.h"

static const char *str(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static bool attached(json_t *eni)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        return att && str(att, "Netns") && !strcmp(str(att, "Status") ?: "", "attached");
}

static bool has_group(json_t *groups, const char *id)
{
        json_t *g;
        size_t i;
        json_array_foreach(groups, i, g)
                if (json_is_string(g) && !strcmp(json_string_value(g), id))
                        return true;
        return false;
}

/* {group id: [member IPs]} over every ENI, attached or not (membership is by ENI, as on AWS). */
static json_t *members_of(json_t *enis)
{
        json_t *m = json_object(), *eni, *g;
        size_t i, j;
        json_array_foreach(enis, i, eni)
                json_array_foreach(json_object_get(eni, "Groups"), j, g) {
                        json_t *ips;
                        if (!json_is_string(g))
                                continue;
                        ips = json_object_get(m, json_string_value(g));
                        if (!ips)
                                json_object_set_new(m, json_string_value(g), ips = json_array());
                        json_array_append_new(ips, json_string(str(eni, "PrivateIpAddress")));
                }
        return m;
}

/* The rules of every group of the ENI, one flat list. */
static json_t *rules_of(struct netd *d, json_t *eni)
{
        json_t *rules = json_array(), *g;
        size_t i;
        json_array_foreach(json_object_get(eni, "Groups"), i, g) {
                _cleanup_json_ json_t *sg = NULL;
                if (sg_load(d, json_string_value(g), &sg, NULL) < 0)
                        continue;
                json_array_extend(rules, sg_rules_of(sg));
        }
        return rules;
}

enum task_op { TASK_BUILD, TASK_REFILL, TASK_CHECK };

/* Compute the ENI's elements and build, refill (building when the table is missing) or check-then-repair. */
static int task_apply(struct netd *d, json_t *eni, json_t *members, enum task_op op, struct err *err)
{
        _cleanup_json_ json_t *rules = rules_of(d, eni);
        struct sg_dir_elems in = { 0 }, out = { 0 };
        struct knet_sg_task t = { .in = &in, .out = &out };
        json_t *att = json_object_get(eni, "ebxAttachment");
        int r;

        t.netns = str(att, "Netns");
        if (!t.netns || ip4_parse(str(eni, "PrivateIpAddress") ?: "", &t.ip) < 0 || mac_parse(str(eni, "MacAddress") ?: "", t.mac) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", str(eni, "NetworkInterfaceId"));
        if ((r = sg_dir_elems_build(rules, false, members, &in)) < 0 || (r = sg_dir_elems_build(rules, true, members, &out)) < 0) {
                sg_dir_elems_free(&in);
                return err_set(err, -r, NULL, "security group elements for %s: %s", str(eni, "NetworkInterfaceId"), strerror(-r));
        }
        if (op == TASK_CHECK) {
                struct err e2 = { 0 };
                r = knet_sg_task_check(d->knet, &t, &e2);
                if (r == 0)
                        r = knet_sg_task_refill(d->knet, &t, err);
                else {
                        log_notice("msg=\"security group table not as built, rebuilding\" eni=%s netns=%s why=\"%s\"",
                                   str(eni, "NetworkInterfaceId"), t.netns, e2.msg);
                        r = knet_sg_task_build(d->knet, &t, err);
                        if (r >= 0)
                                r = 1;
                }
        } else if (op == TASK_REFILL) {
                r = knet_sg_task_refill(d->knet, &t, err);
                if (r == -ENOENT) {
                        err_clear(err);
                        r = knet_sg_task_build(d->knet, &t, err);
                }
        } else
                r = knet_sg_task_build(d->knet, &t, err);
        sg_dir_elems_free(&in);
        sg_dir_elems_free(&out);
        return r;
}

int sg_eni_refresh(struct netd *d, json_t *eni, struct err *err)
{
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        if (!attached(eni))
                return 0;
        if (!(enis = netd_records(d, "eni/", err)))
                return -EIO;
        members = members_of(enis);
        return task_apply(d, eni, members, TASK_REFILL, err);
}

int sg_task_attach(struct netd *d, json_t *eni, struct err *err)
{
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        char key[KEY_MAX];
        size_t i;
        json_t *e;
        if (!(enis = netd_records(d, "eni/", err)))
                return -EIO;
        /* the record in hand may be newer than the stored one */
        key_fmt(key, "eni", str(eni, "NetworkInterfaceId"));
        json_array_foreach(enis, i, e)
                if (!strcmp(str(e, "NetworkInterfaceId"), str(eni, "NetworkInterfaceId")))
                        json_array_set(enis, i, eni);
        members = members_of(enis);
        return task_apply(d, eni, members, TASK_BUILD, err);
}

int sg_task_detach(struct netd *d, json_t *eni, struct err *err)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        if (!att || !str(att, "Netns") || !knet_netns_exists(d->knet, str(att, "Netns")))
                return 0;
        return knet_sg_task_remove(d->knet, str(att, "Netns"), err);
}

/* Refill the tables of every attached ENI for which want(eni) holds. Goes on after a failure and
 * returns the first. */
static int refill_where(struct netd *d, bool (*want)(json_t *eni, void *ud), void *ud, struct err *err)
{
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        json_t *eni;
        size_t i;
        int first = 0;
        if (!(enis = netd_records(d, "eni/", err)))
                return -EIO;
        members = members_of(enis);
        json_array_foreach(enis, i, eni) {
                struct err e2 = { 0 };
                int r;
                if (!attached(eni) || !want(eni, ud))
                        continue;
                r = task_apply(d, eni, members, TASK_REFILL, &e2);
                if (r < 0 && !first) {
                        first = r;
                        err_set(err, e2.errnum, e2.code[0] ? e2.code : NULL, "%s", e2.msg);
                }
        }
        return first;
}

static bool uses_any(json_t *eni, void *ud)
{
        json_t *ids = ud, *g;
        size_t i;
        json_array_foreach(ids, i, g)
                if (has_group(json_object_get(eni, "Groups"), json_string_value(g)))
                        return true;
        return false;
}

int sg_groups_changed(struct netd *d, json_t *group_ids, struct err *err)
{
        return refill_where(d, uses_any, group_ids, err);
}

int sg_members_changed(struct netd *d, json_t *group_ids, struct err *err)
{
        _cleanup_json_ json_t *sgs = netd_records(d, "sg/", err), *referrers = json_array();
        json_t *sg, *rule;
        size_t i, j;
        if (!sgs)
                return -EIO;
        /* the groups whose rules name one of these groups as a peer */
        json_array_foreach(sgs, i, sg)
                json_array_foreach(sg_rules_of(sg), j, rule)
                        if (str(rule, "GroupId") && has_group(group_ids, str(rule, "GroupId"))) {
                                json_array_append_new(referrers, json_string(str(sg, "GroupId")));
                                break;
                        }
        if (json_array_size(referrers) == 0)
                return 0;
        return refill_where(d, uses_any, referrers, err);
}

/* ---- the VPC bridge guard ---- */
static int guard_port(struct netd *d, json_t *eni, json_t *subnet, struct knet_guard_port *p, struct err *err)
{
        memset(p, 0, sizeof *p);
        if (ip4_parse(str(eni, "PrivateIpAddress") ?: "", &p->ip) < 0 || mac_parse(str(eni, "MacAddress") ?: "", p->mac) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", str(eni, "NetworkInterfaceId"));
        if (!strcmp(str(eni, "InterfaceType") ?: "veth", "macvlan"))
                /* macvlan children reach the bridge through the parent's peer: "n" + the parent's 14 hex */
                snprintf(p->port, sizeof p->port, "n%s", (str(subnet, "ebxMvParent") ?: "m") + 1);
        else
                snprintf(p->port, sizeof p->port, "%s", str(eni, "ebxHostIf") ?: "");
        return 0;
}

static int guard_rebuild(struct netd *d, json_t *vpc, struct err *err)
{
        _cleanup_json_ json_t *enis = netd_records(d, "eni/", err);
        _cleanup_free_ struct knet_guard_port *ports = NULL;
        size_t n = 0, i;
        json_t *eni;
        if (!enis)
                return -EIO;
        ports = calloc(json_array_size(enis) + 1, sizeof *ports);
        if (!ports)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(enis, i, eni) {
                _cleanup_json_ json_t *subnet = NULL;
                if (strcmp(str(eni, "VpcId") ?: "", str(vpc, "VpcId")) != 0 || !json_object_get(eni, "ebxAttachment"))
                        continue;
                if (subnet_load(d, str(eni, "SubnetId"), &subnet, NULL) < 0 || guard_port(d, eni, subnet, &ports[n], NULL) < 0)
                        continue;
                n++;
        }
        return knet_guard_build(d->knet, str(vpc, "ebxNetns"), ports, n, err);
}

int sg_guard_eni(struct netd *d, json_t *eni, bool add, struct err *err)
{
        _cleanup_json_ json_t *subnet = NULL, *vpc = NULL;
        struct knet_guard_port p;
        int r;
        if ((r = subnet_load(d, str(eni, "SubnetId"), &subnet, err)) < 0 || (r = vpc_load(d, str(eni, "VpcId"), &vpc, err)) < 0 ||
            (r = guard_port(d, eni, subnet, &p, err)) < 0)
                return r;
        r = knet_guard_update(d->knet, str(vpc, "ebxNetns"), &p, add, err);
        if (r == -ENOENT && add) {
                /* the VPC's first ENI (or the table went away): build it from the records, this ENI included */
                err_clear(err);
                return guard_rebuild(d, vpc, err);
        }
        if (r == -ENOENT && !add) {
                err_clear(err);
                return 0;
        }
        return r;
}

/* ---- start-up ---- */
struct unowned {
        struct netd *d;
        json_t *owned;
        int removed;
};

static int netns_cb(const char *name, void *ud)
{
        struct unowned *u = ud;
        struct err e = { 0 };
        if (!strncmp(name, "ebx-vpc-", 8) || json_object_get(u->owned, name))
                return 0;
        if (knet_sg_task_exists(u->d->knet, name, &e) <= 0)
                return 0;
        if (knet_sg_task_remove(u->d->knet, name, &e) < 0)
                log_warning("msg=\"cannot remove unowned security group table, ignoring\" netns=%s err=\"%s\"", name, e.msg);
        else {
                log_notice("msg=\"removed unowned security group tables\" netns=%s", name);
                u->removed++;
        }
        return 0;
}

int sg_reconcile(struct netd *d)
{
        _cleanup_json_ json_t *enis = NULL, *vpcs = NULL, *members = NULL, *owned = json_object();
        struct err e = { 0 };
        struct unowned u = { d, owned, 0 };
        json_t *x;
        size_t i;
        int repaired = 0;

        if (!(enis = netd_records(d, "eni/", &e)) || !(vpcs = netd_records(d, "vpc/", &e))) {
                log_error("msg=\"cannot reconcile security groups\" err=\"%s\"", e.msg);
                return 0;
        }
        json_array_foreach(vpcs, i, x) {
                err_clear(&e);
                if (guard_rebuild(d, x, &e) < 0)
                        log_error("msg=\"cannot rebuild source/destination check\" vpc=%s err=\"%s\"", str(x, "VpcId"), e.msg);
        }
        members = members_of(enis);
        json_array_foreach(enis, i, x) {
                int r;
                if (!attached(x))
                        continue;
                json_object_set_new(owned, str(json_object_get(x, "ebxAttachment"), "Netns"), json_true());
                err_clear(&e);
                r = task_apply(d, x, members, TASK_CHECK, &e);
                if (r < 0)
                        log_error("msg=\"cannot repair security group table\" eni=%s err=\"%s\"", str(x, "NetworkInterfaceId"), e.msg);
                else if (r > 0)
                        repaired++;
        }
        err_clear(&e);
        (void) knet_netns_list(d->knet, netns_cb, &u, &e);
        return repaired + u.removed;
}
