/* sg_enforce.c: security groups in the kernel: each attached ENI's task tables follow its groups' rules
 * and the members of peer groups (a membership change is in force in every peer's table before the
 * answer); each VPC's bridge table knows every attached ENI's port, MAC and IP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "kernel/knet.h"
#include "kernel/knet_sg.h"
#include "netd.h"
#include "record.h"
#include "sg.h"
#include "sg_enforce.h"
#include "sg_rules.h"
#include "subnet.h"
#include "vpc.h"


static bool attached(json_t *eni)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        return att && rec_str(att, "Netns") && !strcmp(rec_str(att, "Status") ?: "", "attached");
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

/* {group id: [member IPs]} over every ENI, attached or not (membership is by ENI, as on AWS); the ENI
 * `id` counts as rec says (its record replaced by rec, or left out when rec is NULL; id NULL: every
 * record as it is). */
static json_t *members_with(json_t *enis, const char *id, json_t *rec)
{
        json_t *m = json_object(), *eni, *g;
        size_t i, j;
        json_array_foreach(enis, i, eni) {
                if (id && !strcmp(rec_str(eni, "NetworkInterfaceId") ?: "", id))
                        continue;
                json_array_foreach(json_object_get(eni, "Groups"), j, g) {
                        json_t *ips;
                        if (!json_is_string(g))
                                continue;
                        ips = json_object_get(m, json_string_value(g));
                        if (!ips)
                                json_object_set_new(m, json_string_value(g), ips = json_array());
                        json_array_append_new(ips, json_string(rec_str(eni, "PrivateIpAddress")));
                }
        }
        if (id && rec) {
                _cleanup_json_ json_t *one = json_pack("[O]", rec), *mo = members_with(one, NULL, NULL);
                const char *k;
                json_t *v;
                json_object_foreach(mo, k, v) {
                        json_t *ips = json_object_get(m, k);
                        if (!ips)
                                json_object_set(m, k, v);
                        else
                                json_array_extend(ips, v);
                }
        }
        return m;
}

static json_t *members_of(json_t *enis)
{
        return members_with(enis, NULL, NULL);
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

/* What one ENI's table holds: the CIDR rules' boxes per direction and the peer groups. */
struct task_elems {
        struct sg_dir_elems in, out;
        struct sg_peer_groups groups;
};

static void task_elems_free(struct task_elems *e)
{
        sg_dir_elems_free(&e->in);
        sg_dir_elems_free(&e->out);
        sg_peer_groups_free(&e->groups);
}

static int task_elems_build(json_t *rules, json_t *members, struct task_elems *ret)
{
        struct task_elems e = { 0 };
        int r;
        if ((r = sg_dir_elems_build(rules, false, &e.in)) < 0 || (r = sg_dir_elems_build(rules, true, &e.out)) < 0 ||
            (r = sg_peer_groups_build(rules, members, &e.groups)) < 0) {
                task_elems_free(&e);
                return r;
        }
        *ret = e;
        return 0;
}

/* Elements by group combination: ENIs with the same groups get the same sets, computed once per pass. */
#define ELEM_CACHE_MAX 16
struct elem_cache_entry {
        char key[6 * 24];
        struct task_elems e;
};

struct elem_cache {
        struct elem_cache_entry e[ELEM_CACHE_MAX];
        size_t n;
};

static void elem_cache_free(struct elem_cache *c)
{
        for (size_t i = 0; i < c->n; i++)
                task_elems_free(&c->e[i].e);
        c->n = 0;
}

static void groups_key(json_t *eni, char *buf, size_t len)
{
        json_t *g;
        size_t i, o = 0;
        buf[0] = '\0';
        json_array_foreach(json_object_get(eni, "Groups"), i, g)
                if (json_is_string(g) && o < len)
                        o += (size_t) snprintf(buf + o, len - o, "%s,", json_string_value(g));
}

/* The ENI's elements: from the cache (c may be NULL), or computed into *e (owned by the cache when
 * there is room, else by the caller: *own = true). */
static int elems_for(struct netd *d, json_t *eni, json_t *members, struct elem_cache *c, struct task_elems *e, bool *own)
{
        _cleanup_json_ json_t *rules = NULL;
        char key[sizeof c->e[0].key];
        int r;

        groups_key(eni, key, sizeof key);
        *own = true;
        for (size_t i = 0; c && i < c->n; i++)
                if (!strcmp(c->e[i].key, key)) {
                        *e = c->e[i].e;
                        *own = false;
                        return 0;
                }
        rules = rules_of(d, eni);
        if ((r = task_elems_build(rules, members, e)) < 0)
                return r;
        if (c && c->n < ELEM_CACHE_MAX && strlen(key) < sizeof key - 1) {
                snprintf(c->e[c->n].key, sizeof c->e[c->n].key, "%s", key);
                c->e[c->n].e = *e;
                c->n++;
                *own = false;
        }
        return 0;
}

/* The resolver address of the ENI's VPC (its DNS passes the table unfiltered), 0 when unknown. */
static uint32_t eni_dns_ip(struct netd *d, json_t *eni)
{
        char key[KEY_MAX];
        json_t *vpc = NULL;
        key_fmt(key, "vpc", rec_str(eni, "VpcId") ?: "");
        if (store_peek(d->store, key, &vpc, NULL) < 0)
                return 0;
        return dns_vpc_resolver_ip(vpc);
}

/* Compute the ENI's elements and build, refill (building when the table is missing) or check-then-repair. */
static int task_apply_cached(struct netd *d, json_t *eni, json_t *members, struct elem_cache *c, enum task_op op,
                             struct err *err)
{
        struct task_elems e = { 0 };
        struct knet_sg_task t = { .in = &e.in, .out = &e.out, .groups = &e.groups };
        json_t *att = json_object_get(eni, "ebxAttachment");
        bool own = true;
        int r;

        t.netns = rec_str(att, "Netns");
        t.dns_ip = eni_dns_ip(d, eni);
        if (!t.netns || ip4_parse(rec_str(eni, "PrivateIpAddress") ?: "", &t.ip) < 0 || mac_parse(rec_str(eni, "MacAddress") ?: "", t.mac) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", rec_str(eni, "NetworkInterfaceId"));
        if ((r = elems_for(d, eni, members, c, &e, &own)) < 0)
                return err_set(err, -r, NULL, "security group elements for %s: %s", rec_str(eni, "NetworkInterfaceId"), strerror(-r));
        if (op == TASK_CHECK) {
                struct err e2 = { 0 };
                r = knet_sg_task_check(d->knet, &t, &e2);
                if (r == 0)
                        r = knet_sg_task_refill(d->knet, &t, err);
                else {
                        log_notice("msg=\"security group table not as built, rebuilding\" eni=%s netns=%s why=\"%s\"",
                                   rec_str(eni, "NetworkInterfaceId"), t.netns, e2.msg);
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
        if (own)
                task_elems_free(&e);
        return r;
}

static int task_apply(struct netd *d, json_t *eni, json_t *members, enum task_op op, struct err *err)
{
        return task_apply_cached(d, eni, members, NULL, op, err);
}

int sg_eni_refresh(struct netd *d, json_t *eni, struct err *err)
{
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        if (!attached(eni))
                return 0;
        if (!(enis = netd_records(d, "eni/", err)))
                return -EIO;
        members = members_with(enis, rec_str(eni, "NetworkInterfaceId"), eni);
        return task_apply(d, eni, members, TASK_REFILL, err);
}

static int member_moved_in(struct netd *d, json_t *enis, json_t *before, json_t *after, struct err *err);

int sg_task_attach(struct netd *d, json_t *eni, bool join, struct err *err)
{
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        struct err e2 = { 0 };
        int r;
        if (!(enis = netd_records(d, "eni/", err)))
                return -EIO;
        /* the record in hand may be newer than the stored one */
        members = members_with(enis, rec_str(eni, "NetworkInterfaceId"), eni);
        if ((r = task_apply(d, eni, members, TASK_BUILD, err)) < 0 || !join)
                return r;
        /* the same records serve the peers: one read of every ENI per request */
        if ((r = member_moved_in(d, enis, NULL, eni, err)) < 0 && sg_member_moved(d, eni, NULL, &e2) < 0)
                log_error("eni=%s msg=\"security group peers not rolled back\" err=\"%s\"", rec_str(eni, "NetworkInterfaceId"), e2.msg);
        return r;
}

int sg_task_detach(struct netd *d, json_t *eni, struct err *err)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        if (!att || !rec_str(att, "Netns") || !knet_netns_exists(d->knet, rec_str(att, "Netns")))
                return 0;
        return knet_sg_task_remove(d->knet, rec_str(att, "Netns"), err);
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
        struct elem_cache cache = { .n = 0 };
        members = members_of(enis);
        json_array_foreach(enis, i, eni) {
                struct err e2 = { 0 };
                int r;
                if (!attached(eni) || !want(eni, ud))
                        continue;
                r = task_apply_cached(d, eni, members, &cache, TASK_REFILL, &e2);
                if (r < 0 && !first) {
                        first = r;
                        err_set(err, e2.errnum, e2.code[0] ? e2.code : NULL, "%s", e2.msg);
                }
        }
        elem_cache_free(&cache);
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

/* ---- one ENI's membership, in force in its peers' tables before the answer ---- */

/* The groups the ENI is in on one side only: [{"id": ..., "add": bool}]. */
static json_t *groups_moved(json_t *before, json_t *after)
{
        json_t *gb = before ? json_object_get(before, "Groups") : NULL, *ga = after ? json_object_get(after, "Groups") : NULL;
        json_t *out = json_array(), *g;
        size_t i;
        json_array_foreach(gb, i, g)
                if (json_is_string(g) && !has_group(ga, json_string_value(g)))
                        json_array_append_new(out, json_pack("{s:O, s:b}", "id", g, "add", 0));
        json_array_foreach(ga, i, g)
                if (json_is_string(g) && !has_group(gb, json_string_value(g)))
                        json_array_append_new(out, json_pack("{s:O, s:b}", "id", g, "add", 1));
        return out;
}

/* {group id: {peer group id: true}}: the groups each group's rules name as peers. */
static json_t *peer_refs(json_t *sgs)
{
        json_t *refs = json_object(), *sg, *rule;
        size_t i, j;
        json_array_foreach(sgs, i, sg) {
                json_t *peers = json_object();
                json_array_foreach(sg_rules_of(sg), j, rule)
                        if (rec_str(rule, "GroupId"))
                                json_object_set_new(peers, rec_str(rule, "GroupId"), json_true());
                json_object_set_new(refs, rec_str(sg, "GroupId") ?: "", peers);
        }
        return refs;
}

/* The member sets of one peer that change: the moved groups its groups' rules name. */
static size_t peer_ops(json_t *eni, json_t *refs, json_t *moved, struct knet_sg_member *ops, size_t max)
{
        json_t *mv, *g;
        size_t i, j, n = 0;
        json_array_foreach(moved, i, mv) {
                const char *id = rec_str(mv, "id");
                json_array_foreach(json_object_get(eni, "Groups"), j, g)
                        if (json_is_string(g) && json_object_get(json_object_get(refs, json_string_value(g)), id)) {
                                if (n < max)
                                        ops[n++] = (struct knet_sg_member) { id, json_is_true(json_object_get(mv, "add")) };
                                break;
                        }
        }
        return n;
}

/* Another ENI than `id` with address ip is in group gid: the address stays a member. */
static bool address_stays(json_t *enis, const char *id, const char *ip, const char *gid)
{
        json_t *e;
        size_t i;
        json_array_foreach(enis, i, e)
                if (strcmp(rec_str(e, "NetworkInterfaceId") ?: "", id) && !strcmp(rec_str(e, "PrivateIpAddress") ?: "", ip) &&
                    has_group(json_object_get(e, "Groups"), gid))
                        return true;
        return false;
}

#define MOVED_MAX 16             /* an ENI has at most 5 groups: 10 moves at most */

/* sg_member_moved on records already read (enis: every ENI record; NULL: read them here, when
 * some group names a moved one at all). */
static int member_moved_in(struct netd *d, json_t *enis_in, json_t *before, json_t *after, struct err *err)
{
        json_t *rec = after ?: before;
        const char *id = rec_str(rec, "NetworkInterfaceId") ?: "", *ips = rec_str(rec, "PrivateIpAddress") ?: "";
        _cleanup_json_ json_t *moved = groups_moved(before, after), *sgs = NULL, *refs = NULL, *own = NULL, *members = NULL;
        struct knet_sg_member ops[MOVED_MAX];
        json_t *eni, *mv, *enis = enis_in;
        bool named = false;
        uint32_t ip;
        size_t i;

        if (json_array_size(moved) == 0)
                return 0;
        if (ip4_parse(ips, &ip) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", id);
        if (!(sgs = netd_records(d, "sg/", err)))
                return -EIO;
        refs = peer_refs(sgs);
        {
                const char *k;
                json_t *peers;
                json_object_foreach(refs, k, peers)
                        json_array_foreach(moved, i, mv)
                                named |= json_object_get(peers, rec_str(mv, "id")) != NULL;
        }
        if (!named)             /* no rule names a group it joined or left: no table changes */
                return 0;
        if (!enis && !(enis = own = netd_records(d, "eni/", err)))
                return -EIO;
        json_array_foreach(moved, i, mv)
                if (!json_is_true(json_object_get(mv, "add")) && address_stays(enis, id, ips, rec_str(mv, "id"))) {
                        json_array_remove(moved, i);
                        i--;
                }
        json_array_foreach(enis, i, eni) {
                const char *peer = rec_str(eni, "NetworkInterfaceId") ?: "";
                const char *netns = rec_str(json_object_get(eni, "ebxAttachment"), "Netns");
                struct err e2 = { 0 };
                size_t n;
                int r;

                /* the ENI's own table is built or refilled by its caller */
                if (!attached(eni) || !strcmp(peer, id) || (n = peer_ops(eni, refs, moved, ops, MOVED_MAX)) == 0)
                        continue;
                if (knet_sg_task_members(d->knet, netns, ip, ops, n, &e2) >= 0)
                        continue;
                if (!knet_netns_exists(d->knet, netns)) {
                        /* deleted behind netd's back: no table there to keep in force (its ENI is
                         * still recorded; DeleteTaskNetwork or the next start cleans up) */
                        log_warning("msg=\"peer netns is gone, ignoring\" eni=%s peer=%s netns=%s", id, peer, netns);
                        continue;
                }
                log_notice("msg=\"security group member update refused, refilling\" eni=%s peer=%s netns=%s why=\"%s\"", id, peer,
                           netns, e2.msg);
                if (!members)
                        members = members_with(enis, id, after);
                if ((r = task_apply(d, eni, members, TASK_REFILL, err)) < 0)
                        return err_wrap(err, "security groups of peer %s", peer);
        }
        return 0;
}

int sg_member_moved(struct netd *d, json_t *before, json_t *after, struct err *err)
{
        return member_moved_in(d, NULL, before, after, err);
}

/* ---- the VPC bridge guard ---- */
static int guard_port(struct netd *d, json_t *eni, json_t *subnet, struct knet_guard_port *p, struct err *err)
{
        memset(p, 0, sizeof *p);
        if (ip4_parse(rec_str(eni, "PrivateIpAddress") ?: "", &p->ip) < 0 || mac_parse(rec_str(eni, "MacAddress") ?: "", p->mac) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", rec_str(eni, "NetworkInterfaceId"));
        if (!strcmp(rec_str(eni, "InterfaceType") ?: "veth", "macvlan"))
                /* macvlan children reach the bridge through the parent's peer: "n" + the parent's 14 hex */
                snprintf(p->port, sizeof p->port, "n%s", (rec_str(subnet, "ebxMvParent") ?: "m") + 1);
        else
                snprintf(p->port, sizeof p->port, "%s", rec_str(eni, "ebxHostIf") ?: "");
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
                if (strcmp(rec_str(eni, "VpcId") ?: "", rec_str(vpc, "VpcId")) != 0 || !json_object_get(eni, "ebxAttachment"))
                        continue;
                if (subnet_load(d, rec_str(eni, "SubnetId"), &subnet, NULL) < 0 || guard_port(d, eni, subnet, &ports[n], NULL) < 0)
                        continue;
                n++;
        }
        return knet_guard_build(d->knet, rec_str(vpc, "ebxNetns"), ports, n, err);
}

int sg_guard_eni(struct netd *d, json_t *eni, bool add, struct err *err)
{
        _cleanup_json_ json_t *subnet = NULL, *vpc = NULL;
        struct knet_guard_port p;
        int r;
        if ((r = subnet_load(d, rec_str(eni, "SubnetId"), &subnet, err)) < 0 || (r = vpc_load(d, rec_str(eni, "VpcId"), &vpc, err)) < 0 ||
            (r = guard_port(d, eni, subnet, &p, err)) < 0)
                return r;
        r = knet_guard_update(d->knet, rec_str(vpc, "ebxNetns"), &p, add, err);
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
                        log_error("msg=\"cannot rebuild source/destination check\" vpc=%s err=\"%s\"", rec_str(x, "VpcId"), e.msg);
        }
        members = members_of(enis);
        json_array_foreach(enis, i, x) {
                int r;
                if (!attached(x))
                        continue;
                json_object_set_new(owned, rec_str(json_object_get(x, "ebxAttachment"), "Netns"), json_true());
                err_clear(&e);
                r = task_apply(d, x, members, TASK_CHECK, &e);
                if (r < 0)
                        log_error("msg=\"cannot repair security group table\" eni=%s err=\"%s\"", rec_str(x, "NetworkInterfaceId"), e.msg);
                else if (r > 0)
                        repaired++;
        }
        err_clear(&e);
        (void) knet_netns_list(d->knet, netns_cb, &u, &e);
        return repaired + u.removed;
}
