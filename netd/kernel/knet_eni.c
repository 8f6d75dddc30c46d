/* knet_eni.c: ENIs in the kernel: a task netns's eth0 (veth peer or macvlan child), its address, route and announcement. */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "knet_int.h"
#include "netns.h"

#define ENI_IFNAME "eth0"
/* A macvlan child's MAC stays taken on its parent until the kernel has
 * destroyed the netns that held it (a batched worker, milliseconds), and
 * bringing a new child with that MAC up fails with EADDRINUSE meanwhile. A
 * re-attach of the same ENI right after a fast detach waits that long, at most this. */
#define ENI_MAC_BUSY_WAIT_MS 1000

static int eni_check_args(const struct knet_eni *e, struct err *err)
{
        int r;
        if ((r = knet_check_netns_name(e->vpc_netns, err)) < 0 || (r = knet_check_netns_name(e->netns, err)) < 0)
                return r;
        if (e->macvlan)
                return knet_check_ifname("macvlan parent", e->mv_parent, err);
        if ((r = knet_check_ifname("bridge", e->bridge, err)) < 0 || (r = knet_check_ifname("veth", e->host_if, err)) < 0)
                return r;
        return 0;
}

struct task_ctx {
        const char *where;
        struct nlc *rt;           /* socket inside the task netns, closed as soon as the call ends */
};

/* Inside the task netns (new or existing): its socket and its sysctls. */
static int task_enter(void *ud, struct err *err)
{
        struct task_ctx *t = ud;
        int r = nlc_open(NETLINK_ROUTE, t->where, &t->rt, err);
        if (r < 0)
                return r;
        return knet_task_sysctls(t->where, err);
}

/* One RTM_NEWLINK on the VPC socket makes eth0 in the task netns. */
static int eni_link_create(struct knet_ns *ns, const struct knet_eni *e, int lower, int nsfd, const char *task_where,
                           struct err *err)
{
        struct nlc_batch b;

        nlc_batch_init(&b, ns->rt, 0);
        if (e->macvlan)
                rt_put_macvlan(&b, ENI_IFNAME, lower, e->mv_parent, e->mac, nsfd, task_where);
else
                rt_put_veth(&b, e->host_if, lower, ENI_IFNAME, e->mac, nsfd, task_where);
        return nlc_batch_run(&b, err);
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* eni_link_create, repairing the two states a previous life can leave:
 * a host end of this ENI whose netns is gone or going (the name is this
 * ENI's alone, so it is stale) and a cached bridge/parent ifindex that no
 * longer holds (the subnet was made again). */
static int eni_link_make(struct knet_ns *ns, const struct knet_eni *e, int lower, int nsfd, const char *task_where,
                         struct err *err)
{
        const char *lname = e->macvlan ? e->mv_parent : e->bridge;
        struct err e2 = { 0 };
        struct rt_link l;
        int r = eni_link_create(ns, e, lower, nsfd, task_where, err);

        if (r == -EEXIST && !e->macvlan && rt_link_get(ns->rt, e->host_if, &l, &e2) == 0) {
                struct nlc_batch b;
                log_notice("msg=\"removing stale ENI host end\" link=%s netns=%s", e->host_if, ns->name);
                nlc_batch_init(&b, ns->rt, 0);
                rt_put_link_del(&b, e->host_if);
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
                return eni_link_create(ns, e, lower, nsfd, task_where, err);
        }
        if (r == -EINVAL || r == -ENODEV || r == -EOPNOTSUPP) {
                int fresh;
                if (knet_ifindex(ns, lname, true, &fresh, &e2) < 0)
                        return err_set(err, e2.errnum, NULL, "%s", e2.msg);
                if (fresh != lower)
                        return eni_link_create(ns, e, fresh, nsfd, task_where, err);
        }
        return r;
}

/* In the task netns: lo up, eth0 up (arp_notify on it too, for a netns netd
 * did not make), address, default route, and then the MAC once more: the
 * address came after the link went up, so only this NETDEV_CHANGEADDR makes
 * arp_notify announce the ENI (a waiting client otherwise takes ~1 s).
 * macvlan: all in one batch. veth: eth0 up turns the host end's carrier on,
 * but the bridge enables that port only when the kernel's linkwatch worker
 * has passed the change on, asynchronously; an announcement sent before that
 * is dropped by the bridge (6 of 60 attaches here). An RTM_GETLINK of the
 * host end runs its pending linkwatch event at once (rtnl_getlink calls
 * linkwatch_sync_dev; 60 of 60 announced), so the MAC goes in a second batch
 * after it. again: an earlier try failed part-way and left its address and
 * route. */
static int eni_configure(struct nlc *n, struct knet_ns *ns, const struct knet_eni *e, bool again, struct err *err)
{
        /* arp_notify on eth0 too, for a netns netd did not make */
        static const struct rt_inet_conf eth0_conf[] = { { IPV4_DEVCONF_ARP_NOTIFY, 1 }, { 0, 0 } };
        struct nlc_batch b;
        struct rt_link l, h;
        int r;

        if ((r = rt_link_get(n, ENI_IFNAME, &l, err)) < 0)
                return r;
        nlc_batch_init(&b, n, 0);
        rt_put_link_set(&b, 1, "lo", true, NULL, -1, NULL);
        rt_put_link_set(&b, l.index, ENI_IFNAME, true, NULL, -1, eth0_conf);
        rt_put_addr4(&b, l.index, ENI_IFNAME, e->ip, e->prefix_len, again);
        rt_put_route4(&b, false, 0, 0, e->gw_ip, l.index, again);
        if (!e->macvlan) {
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
                if ((r = rt_link_get(ns->rt, e->host_if, &h, err)) < 0)
                        return r;
                nlc_batch_init(&b, n, 0);
        }
        rt_put_link_set(&b, l.index, ENI_IFNAME, false, e->mac, -1, NULL);
        return nlc_batch_run(&b, err);
}

/* Undo a failed attach: the link synchronously (so its names and MAC are free
 * for a retry at once), then the netns when this call made it. */
static void attach_rollback(struct knet_ns *ns, const struct knet_eni *e, struct task_ctx *t, int *nsfd,
                            const char *path, bool created, bool linked)
{
        struct err e2 = { 0 };
        struct nlc_batch b;

        if (linked && (!e->macvlan || t->rt)) {
                nlc_batch_init(&b, e->macvlan ? t->rt : ns->rt, 0);
                /* for a veth the host end takes eth0 along */
                rt_put_link_del(&b, e->macvlan ? ENI_IFNAME : e->host_if);
                if (nlc_batch_run(&b, &e2) < 0)
                        log_warning("msg=\"rollback: cannot remove link, ignoring\" err=\"%s\"", e2.msg);
        }
        /* both pin the netns */
        t->rt = nlc_close(t->rt);
        if (*nsfd >= 0) {
                (void) close(*nsfd);
                *nsfd = -1;
        }
        if (created && netns_delete(path, t->where, &e2) < 0)
                log_warning("msg=\"rollback: cannot remove netns, ignoring\" err=\"%s\"", e2.msg);
}

int knet_eni_attach(struct knet *k, const struct knet_eni *e, bool *ret_created_netns, struct err *err)
{
        _cleanup_close_ int nsfd = -1;
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct task_ctx t = { where, NULL };
        bool created = false, linked = false;
        struct knet_ns *ns;
        int lower, r;

        if ((r = eni_check_args(e, err)) < 0 || (r = knet_path(k, e->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", e->netns);
        if ((r = knet_ns_get(k, e->vpc_netns, &ns, err)) < 0 ||
            (r = knet_ifindex(ns, e->macvlan ? e->mv_parent : e->bridge, false, &lower, err)) < 0)
                return r;

        /* the socket inside the task netns is opened while we are in it anyway */
        r = netns_create(k->dir, e->netns, k->host_fd, task_enter, &t, &nsfd, err);
        if (r >= 0)
                created = true;
        else if (r == -EEXIST) {
                struct rt_link l;
                struct err e2 = { 0 };
                t.rt = nlc_close(t.rt);
                r = netns_run(path, where, task_enter, &t, &nsfd, err);
                if (r >= 0) {
                        r = rt_link_get(t.rt, ENI_IFNAME, &l, &e2);
                        if (r == 0)
                                r = err_set(err, EEXIST, NULL, "%s already has an " ENI_IFNAME, where);
                        else if (r == -ENODEV)
                                r = 0;
                        else
                                r = err_set(err, -r, NULL, "%s", e2.msg);
                }
        }
        if (r < 0)
                goto fail;
        if ((r = eni_link_make(ns, e, lower, nsfd, where, err)) < 0)
                goto fail;
        linked = true;
        r = eni_configure(t.rt, ns, e, false, err);
        for (long wait = 1, waited = 0; r == -EADDRINUSE && e->macvlan && waited < ENI_MAC_BUSY_WAIT_MS; wait *= 2) {
                sleep_ms(wait);
                waited += wait;
                r = eni_configure(t.rt, ns, e, true, err);
                if (r >= 0)
                        log_notice("msg=\"ENI MAC was still held by a destroyed netns\" netns=%s waited_ms=%ld", e->netns, waited);
        }
        if (r < 0)
                goto fail;
        /* an open socket would keep the netns alive after its file is gone */
        t.rt = nlc_close(t.rt);
        *ret_created_netns = created;
        return 0;
fail:
        attach_rollback(ns, e, &t, &nsfd, path, created, linked);
        return r;
}

int knet_eni_detach(struct knet *k, const struct knet_eni *e, bool delete_netns, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct knet_ns *ns;
        struct nlc_batch b;
        int r;

        if ((r = knet_path(k, e->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", e->netns);
        knet_ns_drop(k, e->netns);
        if (delete_netns)
                /* the kernel destroys eth0 and its peer with the netns, in a batched worker */
                return netns_delete(path, where, err);

        if (netns_is_live(path)) {
                _cleanup_nlc_ struct nlc *tn = NULL;
                r = nlc_open_at(path, NETLINK_ROUTE, where, &tn, NULL, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0) {
                        nlc_batch_init(&b, tn, 0);
                        rt_put_link_del(&b, ENI_IFNAME);
                        nlc_batch_tolerate(&b, EINVAL);
                        if ((r = nlc_batch_run(&b, err)) < 0)
                                return r;
                }
        }
        if (e->macvlan || !e->host_if)
                return 0;
        /* normally gone with eth0 already; left over when the netns went away under a live VPC */
        if ((r = knet_check_ifname("veth", e->host_if, err)) < 0)
                return r;
        r = knet_ns_get(k, e->vpc_netns, &ns, err);
        if (r == -ENOENT) {
                err_clear(err);
                return 0;
        }
        if (r < 0)
                return r;
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_link_del(&b, e->host_if);
        return nlc_batch_run(&b, err);
}

struct addr_find {
        uint32_t ip;
        uint8_t len;
        bool found;
};

static int addr_find_cb(uint32_t ip, uint8_t len, int ifindex, void *ud)
{
        struct addr_find *f = ud;
        if (ip == f->ip && len == f->len)
                f->found = true;
        return 0;
}

/* Is link `lname` (looked up in ns) the one with index `want`? The cache may
 * be stale, so a mismatch is checked once more against the kernel. */
static bool index_is(struct knet_ns *ns, const char *lname, int want)
{
        struct err e2 = { 0 };
        int idx;
        if (knet_ifindex(ns, lname, false, &idx, &e2) == 0 && idx == want)
                return true;
        return knet_ifindex(ns, lname, true, &idx, &e2) == 0 && idx == want;
}

int knet_eni_check(struct knet *k, const struct knet_eni *e, struct err *err)
{
        _cleanup_nlc_ struct nlc *tn = NULL;
        char path[PATH_MAX], where[NAME_MAX + 16], have[18], want[18], ip[16];
        struct addr_find f = { e->ip, e->prefix_len, false };
        const char *kind = e->macvlan ? "macvlan" : "veth";
        struct err e2 = { 0 };
        struct knet_ns *ns;
        struct rt_link l, h;
        int r;

        if ((r = eni_check_args(e, err)) < 0 || (r = knet_path(k, e->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", e->netns);
        if (!netns_is_live(path))
                return err_set(err, ENOENT, NULL, "%s does not exist", where);
        if ((r = nlc_open_at(path, NETLINK_ROUTE, where, &tn, NULL, err)) < 0)
                return r;
        r = rt_link_get(tn, ENI_IFNAME, &l, err);
        if (r == -ENODEV)
                return err_set(err, ENOENT, NULL, "%s has no " ENI_IFNAME, where);
        if (r < 0)
                return r;
        knet_fmt_mac(e->mac, want);
        knet_fmt_mac(l.mac, have);
        if (strcmp(l.kind, kind) != 0)
                return err_set(err, ESTALE, NULL, ENI_IFNAME " in %s is a %s link, not %s", where, l.kind[0] ? l.kind : "plain", kind);
        if (!l.has_mac || memcmp(l.mac, e->mac, 6) != 0)
                return err_set(err, ESTALE, NULL, ENI_IFNAME " in %s has MAC %s, not %s", where, have, want);
        if (!(l.flags & IFF_UP))
                return err_set(err, ESTALE, NULL, ENI_IFNAME " in %s is down", where);
        if ((r = rt_addr4_dump(tn, l.index, addr_find_cb, &f, err)) < 0)
                return r;
        if (!f.found) {
                knet_fmt_ip(e->ip, ip);
                return err_set(err, ESTALE, NULL, ENI_IFNAME " in %s lacks address %s/%u", where, ip, e->prefix_len);
        }
        /* the VPC side: a veth's host end is a port of the subnet bridge; a macvlan hangs off the subnet's parent */
        if ((r = knet_ns_get(k, e->vpc_netns, &ns, err)) < 0)
                return r;
        if (e->macvlan) {
                if (!index_is(ns, e->mv_parent, l.link))
                        return err_set(err, ESTALE, NULL, ENI_IFNAME " in %s is not a child of '%s' in %s", where, e->mv_parent,
                                       ns->where);
                return 0;
        }
        r = rt_link_get(ns->rt, e->host_if, &h, &e2);
        if (r == -ENODEV || (r == 0 && h.index != l.link))
                return err_set(err, ESTALE, NULL, ENI_IFNAME " in %s: its peer is not '%s' in %s", where, e->host_if, ns->where);
        if (r < 0)
                return err_set(err, -r, NULL, "%s", e2.msg);
        if (!index_is(ns, e->bridge, h.master))
                return err_set(err, ESTALE, NULL, "'%s' in %s is not a port of bridge '%s'", e->host_if, ns->where, e->bridge);
        return 0;
}
