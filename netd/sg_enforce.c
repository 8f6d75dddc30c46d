/* sg_enforce.c: security groups in the kernel: each attached ENI's task tables follow its groups' rules
 * and the members of peer groups; each VPC's bridge table knows every attached ENI's port, MAC and IP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
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
                        json_array_append_new(ips, json_string(rec_str(eni, "PrivateIpAddress")));
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

/* Elements by group combination: ENIs with the same groups get the same sets, computed once per pass. */
#define ELEM_CACHE_MAX 16
struct elem_cache_entry {
        char key[6 * 24];
        struct sg_dir_elems in, out;
};

struct elem_cache {
        struct elem_cache_entry e[ELEM_CACHE_MAX];
        size_t n;
};

static void elem_cache_free(struct elem_cache *c)
{
        for (size_t i = 0; i < c->n; i++) {
                sg_dir_elems_free(&c->e[i].in);
                sg_dir_elems_free(&c->e[i].out);
        }
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

/* The ENI's elements: from the cache (c may be NULL), or computed into *in and *out (owned by the cache
 * when there is room, else by the caller: *own = true). */
static int elems_for(struct netd *d, json_t *eni, json_t *members, struct elem_cache *c, struct sg_dir_elems *in,
                     struct sg_dir_elems *out, bool *own)
{
        _cleanup_json_ json_t *rules = rules_of(d, eni);
        char key[sizeof c->e[0].key];
        int r;

        groups_key(eni, key, sizeof key);
        *own = true;
        for (size_t i = 0; c && i < c->n; i++)
                if (!strcmp(c->e[i].key, key)) {
                        *in = c->e[i].in;
                        *out = c->e[i].out;
                        *own = false;
                        return 0;
                }
        if ((r = sg_dir_elems_build(rules, false, members, in)) < 0)
                return r;
        if ((r = sg_dir_elems_build(rules, true, members, out)) < 0) {
                sg_dir_elems_free(in);
                return r;
        }
        if (c && c->n < ELEM_CACHE_MAX && strlen(key) < sizeof key - 1) {
                snprintf(c->e[c->n].key, sizeof c->e[c->n].key, "%s", key);
                c->e[c->n].in = *in;
                c->e[c->n].out = *out;
                c->n++;
                *own = false;
        }
        return 0;
}

/* Compute the ENI's elements and build, refill (building when the table is missing) or check-then-repair. */
static int task_apply_cached(struct netd *d, json_t *eni, json_t *members, struct elem_cache *c, enum task_op op,
                             struct err *err)
{
        struct sg_dir_elems in = { 0 }, out = { 0 };
        struct knet_sg_task t = { .in = &in, .out = &out };
        json_t *att = json_object_get(eni, "ebxAttachment");
        bool own = true;
        int r;

        t.netns = rec_str(att, "Netns");
        if (!t.netns || ip4_parse(rec_str(eni, "PrivateIpAddress") ?: "", &t.ip) < 0 || mac_parse(rec_str(eni, "MacAddress") ?: "", t.mac) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", rec_str(eni, "NetworkInterfaceId"));
        if ((r = elems_for(d, eni, members, c, &in, &out, &own)) < 0)
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
        if (own) {
                sg_dir_elems_free(&in);
                sg_dir_elems_free(&out);
        }
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
        members = members_of(enis);
        return task_apply(d, eni, members, TASK_REFILL, err);
}

int sg_task_attach(struct netd *d, json_t *eni, struct err *err)
{
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        size_t i;
        json_t *e;
        if (!(enis = netd_records(d, "eni/", err)))
                return -EIO;
        /* the record in hand may be newer than the stored one */
        json_array_foreach(enis, i, e)
                if (!strcmp(rec_str(e, "NetworkInterfaceId"), rec_str(eni, "NetworkInterfaceId")))
                        json_array_set(enis, i, eni);
        members = members_of(enis);
        return task_apply(d, eni, members, TASK_BUILD, err);
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

/* The groups whose rules name one of group_ids as a peer: a new array, NULL on error. */
static json_t *referrers_of(struct netd *d, json_t *group_ids, struct err *err)
{
        _cleanup_json_ json_t *sgs = netd_records(d, "sg/", err);
        json_t *referrers, *sg, *rule;
        size_t i, j;
        if (!sgs)
                return NULL;
        referrers = json_array();
        json_array_foreach(sgs, i, sg)
                json_array_foreach(sg_rules_of(sg), j, rule)
                        if (rec_str(rule, "GroupId") && has_group(group_ids, rec_str(rule, "GroupId"))) {
                                json_array_append_new(referrers, json_string(rec_str(sg, "GroupId")));
                                break;
                        }
        return referrers;
}

int sg_members_changed(struct netd *d, json_t *group_ids, struct err *err)
{
        _cleanup_json_ json_t *referrers = referrers_of(d, group_ids, err);
        if (!referrers)
                return -EIO;
        if (json_array_size(referrers) == 0)
                return 0;
        return refill_where(d, uses_any, referrers, err);
}

/* ---- coalesced membership refreshes ---- */
#define SLICE_USEC 4000          /* at most this much refilling per loop iteration */

/* d->sg_refresh: made on the first change once the event loop runs. */
struct sg_refresh {
        json_t *pending_groups;  /* {group id: true} whose members changed since the last pass began */
        json_t *queue;           /* [eni id] left in the current pass */
        sd_event_source *src;    /* the deferred pass, when armed */
};

static int pending_run(sd_event_source *s, void *ud);

/* A pass starts right after the request that caused it has been answered (and after requests the
 * client already sent, which it then covers too): before the next request when it is small. A long
 * pass continues in slices behind the requests that arrive meanwhile. */
static void pending_arm(struct netd *d, bool first_slice)
{
        struct sg_refresh *q = d->sg_refresh;
        int r;
        if (q->src)
                return;
        r = sd_event_add_defer(d->event, &q->src, pending_run, d);
        if (r >= 0)
                r = sd_event_source_set_priority(q->src, first_slice ? SD_EVENT_PRIORITY_IMPORTANT : SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(q->src, SD_EVENT_ONESHOT);
        if (r < 0) {
                q->src = sd_event_source_unref(q->src);
                log_warning("msg=\"cannot schedule security group refresh, ignoring\" err=\"%s\"", strerror(-r));
        }
}

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Start a pass: every attached ENI whose groups name a pending group as a peer. */
static int queue_fill(struct netd *d, struct err *err)
{
        struct sg_refresh *q = d->sg_refresh;
        _cleanup_json_ json_t *ids = json_array(), *referrers = NULL, *enis = NULL;
        const char *k;
        json_t *v, *eni;
        size_t i;
        json_object_foreach(q->pending_groups, k, v)
                json_array_append_new(ids, json_string(k));
        json_object_clear(q->pending_groups);
        if (!(referrers = referrers_of(d, ids, err)) || !(enis = netd_records(d, "eni/", err)))
                return -EIO;
        json_array_foreach(enis, i, eni)
                if (attached(eni) && uses_any(eni, referrers))
                        json_array_append_new(q->queue, json_string(rec_str(eni, "NetworkInterfaceId")));
        return 0;
}

static int pending_run(sd_event_source *s, void *ud)
{
        struct netd *d = ud;
        struct sg_refresh *q = d->sg_refresh;
        json_t *queue = q->queue;
        _cleanup_json_ json_t *enis = NULL, *members = NULL;
        struct elem_cache cache = { .n = 0 };
        struct err e = { 0 };
        uint64_t start = now_usec();
        size_t done = 0;

        q->src = sd_event_source_unref(q->src);
        if (json_array_size(queue) == 0 && queue_fill(d, &e) < 0)
                log_error("msg=\"cannot refresh security group peers\" err=\"%s\"", e.msg);
        if (json_array_size(queue) > 0 && (enis = netd_records(d, "eni/", &e))) {
                members = members_of(enis);
                while (json_array_size(queue) > 0 && (done == 0 || now_usec() - start < SLICE_USEC)) {
                        const char *id = json_string_value(json_array_get(queue, 0));
                        json_t *eni;
                        size_t i;
                        json_array_foreach(enis, i, eni) {
                                if (strcmp(rec_str(eni, "NetworkInterfaceId"), id) != 0 || !attached(eni))
                                        continue;
                                err_clear(&e);
                                if (task_apply_cached(d, eni, members, &cache, TASK_REFILL, &e) < 0)
                                        log_error("msg=\"cannot refresh security group peers\" eni=%s err=\"%s\"", id, e.msg);
                                break;
                        }
                        json_array_remove(queue, 0);
                        done++;
                }
                elem_cache_free(&cache);
        }
        if (json_array_size(queue) > 0)
                pending_arm(d, false);
        else if (json_object_size(q->pending_groups) > 0)
                pending_arm(d, true);
        return 0;
}

void sg_members_changed_later(struct netd *d, json_t *group_ids)
{
        struct sg_refresh *q = d->sg_refresh;
        json_t *g;
        size_t i;
        if (!d->event) {
                struct err e = { 0 };
                if (sg_members_changed(d, group_ids, &e) < 0)
                        log_warning("msg=\"cannot update security group peers, ignoring\" err=\"%s\"", e.msg);
                return;
        }
        if (!q) {
                if (!(q = calloc(1, sizeof *q))) {
                        log_warning("msg=\"cannot queue security group refresh, ignoring\" err=\"%s\"", strerror(ENOMEM));
                        return;
                }
                q->pending_groups = json_object();
                q->queue = json_array();
                d->sg_refresh = q;
        }
        json_array_foreach(group_ids, i, g)
                if (json_is_string(g))
                        json_object_set_new(q->pending_groups, json_string_value(g), json_true());
        /* a pass under way picks the new members up when it reaches each ENI; the rest comes next pass */
        if (json_array_size(q->queue) == 0)
                pending_arm(d, true);
}

void sg_refresh_free(struct netd *d)
{
        struct sg_refresh *q = d->sg_refresh;
        if (!q)
                return;
        sd_event_source_disable_unref(q->src);
        json_decref(q->pending_groups);
        json_decref(q->queue);
        free(q);
        d->sg_refresh = NULL;
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
