/* knet_bridge.c: bridge-mode kernel objects: the instance's sysctls and ecsbox0, bridge task veths and neighbours, host port probes, none-mode namespaces. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "knet_bridge.h"
#include "knet_bridge_int.h"
#include "knet_int.h"
#include "netns.h"

#define TASK_IFNAME "eth0"

/* ecsbox0's MAC, as docker0's derives from its address (02:42 + 172.17.0.1): pinned, so it never takes a port's */
static const uint8_t bridge_mac[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0x01 };

static int safe_close_fd(int fd)
{
        if (fd >= 0)
                (void) close(fd);
        return -1;
}


/* ---- entering the instance netns ---- */

struct inst_ctx {
        const char *where;
};

/* Inside the instance netns: its router sysctls (set explicitly: a new netns
 * copies some from the initial one). */
static int inst_sysctls(void *ud, struct err *err)
{
        static const struct {
                const char *key, *value;
                bool optional;
        } s[] = {
                { "net.ipv4.ip_forward", "1", false },            /* ecsbox0 <-> eth0 */
                /* DNAT happens at the IP layer only: bridged frames skip the ip hooks, so
                 * hairpinned traffic is routed through the instance and needs no hairpin port mode */
                { "net.bridge.bridge-nf-call-iptables", "0", true },
                /* a task's own published port is routed back out of ecsbox0: no redirects */
                { "net.ipv4.conf.all.send_redirects", "0", false },
                { "net.ipv4.conf.default.send_redirects", "0", false },
                /* strict reverse path: a task cannot send with a source outside 172.17.0.0/16 */
                { "net.ipv4.conf.all.rp_filter", "1", false },
                { "net.ipv4.conf.default.rp_filter", "1", false },
                { "net.ipv6.conf.all.disable_ipv6", "1", true },
                { "net.ipv6.conf.default.disable_ipv6", "1", true },
        };
        struct inst_ctx *c = ud;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                if ((r = sysctl_write(s[i].key, s[i].value, s[i].optional, c->where, err)) < 0)
                        return r;
        return 0;
}

int bridge_nf(struct knet *k, const char *instance_netns, bool sysctls, struct nlc **ret, struct nlc **ret_tmp,
              struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct inst_ctx c = { where };
        int r;

        *ret_tmp = NULL;
        if ((r = knet_path(k, instance_netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", instance_netns);
        if (sysctls && (r = netns_run(path, where, inst_sysctls, &c, NULL, err)) < 0)
                return r;
        return knet_sock_for(k, instance_netns, NETLINK_NETFILTER, ret, ret_tmp, err);
}

/* ---- ecsbox0 ---- */

static int bridge_link_ensure(struct knet_ns *ns, struct err *err)
{
        /* 127.0.0.1:hostPort from the instance: DNATed packets keep their loopback source until masqueraded */
        static const struct rt_inet_conf conf[] = {
                { IPV4_DEVCONF_ROUTE_LOCALNET, 1 }, { IPV4_DEVCONF_SEND_REDIRECTS, 0 }, { 0, 0 }
        };
        struct nlc_batch b;
        int br, r;

        /* NLM_F_CREATE without EXCL: made, or repaired when it exists */
        knet_ifindex_forget(ns, BRIDGE_IFNAME);
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_bridge(&b, BRIDGE_IFNAME, bridge_mac);
        if ((r = nlc_batch_run(&b, err)) < 0)
                return r;
        if ((r = knet_ifindex(ns, BRIDGE_IFNAME, true, &br, err)) < 0)
                return r;
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_link_set(&b, br, BRIDGE_IFNAME, true, NULL, -1, conf);
        rt_put_addr4(&b, br, BRIDGE_IFNAME, BRIDGE_GW, BRIDGE_PREFIX, true);
        return nlc_batch_run(&b, err);
}

int knet_bridge_ensure(struct knet *k, const char *instance_netns, bool rebuild, const struct knet_binding *all, size_t n,
                       struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct knet_ns *ns;
        struct nlc *nf;
        struct rt_link l;
        struct err e = { 0 };
        int r;

        if ((r = knet_ns_get(k, instance_netns, &ns, err)) < 0)
                return r;
        if (!rebuild) {
                /* the fast path of every create: both there, nothing to do */
                int br;
                if (knet_ifindex(ns, BRIDGE_IFNAME, false, &br, &e) == 0 && bridge_nf(k, instance_netns, false, &nf, &tmp, &e) == 0 &&
                    bridge_table_exists(nf, &e) == 0)
                        return 0;
                return 1;
        }
        if ((r = bridge_nf(k, instance_netns, true, &nf, &tmp, err)) < 0)
                return r;
        if (rt_link_get(ns->rt, BRIDGE_UPLINK, &l, &e) < 0)
                return err_set(err, ENODEV, NULL, "netns '%s' has no " BRIDGE_UPLINK " (the instance's ENI)", instance_netns);
        if ((r = bridge_link_ensure(ns, err)) < 0)
                return r;
        return bridge_table_rebuild(nf, all, n, err);
}

/* ---- bridge tasks ---- */

static int host_end_delete(struct knet_ns *ns, const char *ifname, struct err *err);

struct task_ctx {
        const char *where;
        struct nlc *rt;
};

static int task_enter(void *ud, struct err *err)
{
        struct task_ctx *t = ud;
        int r = knet_task_sysctls(t->where, err);
        if (r < 0)
                return r;
        return nlc_open(NETLINK_ROUTE, t->where, &t->rt, err);
}

/* In the task netns: lo up, eth0 up (arp_notify), address, default route.
 * No gratuitous ARP: flooded to every port of ecsbox0 it cost the most of
 * the growth with 1000 tasks (p50 at 1000: 5.4 ms with it, 2.9 ms without).
 * The one neighbour that matters, the instance (it DNATs and routes for the
 * task), gets the entry written instead: one message, which also replaces a
 * FAILED entry left by an earlier probe of the address. An RTM_GETLINK of the
 * host end first runs its pending carrier change (linkwatch), so the bridge
 * port forwards before the answer goes out. */
static int btask_configure(struct nlc *n, struct knet_ns *ns, int br, const struct knet_btask *t, struct err *err)
{
        static const struct rt_inet_conf eth0_conf[] = { { IPV4_DEVCONF_ARP_NOTIFY, 1 }, { 0, 0 } };
        struct nlc_batch b;
        struct rt_link l, h;
        int r;

        if ((r = rt_link_get(n, TASK_IFNAME, &l, err)) < 0)
                return r;
        nlc_batch_init(&b, n, 0);
        rt_put_link_set(&b, 1, "lo", true, NULL, -1, NULL);
        rt_put_link_set(&b, l.index, TASK_IFNAME, true, NULL, -1, eth0_conf);
        rt_put_addr4(&b, l.index, TASK_IFNAME, t->ip, BRIDGE_PREFIX, false);
        rt_put_route4(&b, false, 0, 0, BRIDGE_GW, l.index, false);
        if ((r = nlc_batch_run(&b, err)) < 0)
                return r;
        if ((r = rt_link_get(ns->rt, t->host_if, &h, err)) < 0)
                return r;
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_neigh4(&b, br, BRIDGE_IFNAME, t->ip, t->mac);
        return nlc_batch_run(&b, err);
}

static int btask_check_args(const struct knet_btask *t, struct err *err)
{
        int r;
        if ((r = knet_check_netns_name(t->instance_netns, err)) < 0 || (r = knet_check_netns_name(t->netns, err)) < 0 ||
            (r = knet_check_ifname("veth", t->host_if, err)) < 0)
                return r;
        return 0;
}

int knet_btask_create(struct knet *k, const struct knet_btask *t, const struct knet_binding *b, size_t n, struct err *err)
{
        _cleanup_close_ int nsfd = -1;
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct task_ctx tc = { where, NULL };
        struct knet_ns *ns;
        struct nlc_batch nb;
        bool linked = false, created = true;
        struct err e2 = { 0 };
        int br, r;

        if ((r = btask_check_args(t, err)) < 0 || (r = knet_path(k, t->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", t->netns);
        if ((r = knet_ns_get(k, t->instance_netns, &ns, err)) < 0 || (r = knet_ifindex(ns, BRIDGE_IFNAME, false, &br, err)) < 0)
                return r;
        r = netns_create(k->dir, t->netns, k->host_fd, task_enter, &tc, &nsfd, err);
        if (r == -EEXIST) {
                /* repair: the task's processes may live in it; give it its eth0 back */
                tc.rt = nlc_close(tc.rt);
                err_clear(err);
                created = false;
                r = netns_run(path, where, task_enter, &tc, &nsfd, err);
        }
        if (r < 0) {
                tc.rt = nlc_close(tc.rt);
                return r;
        }
        nlc_batch_init(&nb, ns->rt, 0);
        rt_put_veth(&nb, t->host_if, br, TASK_IFNAME, t->mac, nsfd, where);
        r = nlc_batch_run(&nb, err);
        if (r == -ENODEV || r == -EINVAL) {
                /* a cached ecsbox0 index from before the instance netns was made again */
                if (knet_ifindex(ns, BRIDGE_IFNAME, true, &br, &e2) == 0) {
                        nlc_batch_init(&nb, ns->rt, 0);
                        rt_put_veth(&nb, t->host_if, br, TASK_IFNAME, t->mac, nsfd, where);
                        r = nlc_batch_run(&nb, err);
                }
        }
        if (r < 0)
                goto fail;
        linked = true;
        if ((r = btask_configure(tc.rt, ns, br, t, err)) < 0)
                goto fail;
        /* both pin the task netns: closed before anything can delete it */
        tc.rt = nlc_close(tc.rt);
        nsfd = safe_close_fd(nsfd);
        if ((r = knet_bridge_elements(k, t->instance_netns, true, b, n, err)) < 0)
                goto fail;
        return 0;
fail:
        tc.rt = nlc_close(tc.rt);
        nsfd = safe_close_fd(nsfd);
        if (linked) {
                /* synchronously, so the name and addresses are free for a retry at once */
                nlc_batch_init(&nb, ns->rt, 0);
                rt_put_link_del(&nb, t->host_if);
                if (nlc_batch_run(&nb, &e2) < 0)
                        log_warning("msg=\"rollback: cannot remove link, ignoring\" link=%s err=\"%s\"", t->host_if, e2.msg);
        }
        if (created && netns_delete(path, where, &e2) < 0)
                log_warning("msg=\"rollback: cannot remove netns, ignoring\" netns=%s err=\"%s\"", t->netns, e2.msg);
        return r;
}

int knet_btask_repair(struct knet *k, const struct knet_btask *t, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct knet_ns *ns;
        struct nlc_batch b;
        int r;

        if ((r = btask_check_args(t, err)) < 0 || (r = knet_path(k, t->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", t->netns);
        if ((r = knet_ns_get(k, t->instance_netns, &ns, err)) < 0)
                return r;
        /* what is left of the old pair, on either side (synchronously: the names are reused at once) */
        if ((r = host_end_delete(ns, t->host_if, err)) < 0)
                return r;
        if (netns_is_live(path)) {
                _cleanup_nlc_ struct nlc *tn = NULL;
                if ((r = nlc_open_at(path, NETLINK_ROUTE, where, &tn, NULL, err)) < 0)
                        return r;
                nlc_batch_init(&b, tn, 0);
                rt_put_link_del(&b, TASK_IFNAME);
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
        }
        return knet_btask_create(k, t, NULL, 0, err);
}

int knet_btask_delete(struct knet *k, const struct knet_btask *t, const struct knet_binding *b, size_t n, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        bool inst_live;
        int r;

        if ((r = btask_check_args(t, err)) < 0 || (r = knet_path(k, t->netns, path, sizeof path, err)) < 0)
                return r;
        inst_live = knet_netns_exists(k, t->instance_netns);
        /* elements first: from here no new flow reaches the task */
        if (inst_live && (r = knet_bridge_elements(k, t->instance_netns, false, b, n, err)) < 0 && r != -ENOENT)
                return r;
        err_clear(err);
        snprintf(where, sizeof where, "netns '%s'", t->netns);
        knet_ns_drop(k, t->netns);
        /* the kernel destroys eth0 and its host end with the netns, in a batched worker */
        if ((r = netns_delete(path, where, err)) < 0)
                return r;
        return 0;
}

/* The host end left behind by a task netns that is gone (reconcile). */
static int host_end_delete(struct knet_ns *ns, const char *ifname, struct err *err)
{
        struct nlc_batch b;
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_link_del(&b, ifname);
        return nlc_batch_run(&b, err);
}

struct addr_find {
        uint32_t ip;
        bool found;
};

static int addr_find_cb(uint32_t ip, uint8_t len, int ifindex, void *ud)
{
        struct addr_find *f = ud;
        if (ip == f->ip && len == BRIDGE_PREFIX)
                f->found = true;
        return 0;
}

int knet_btask_check(struct knet *k, const struct knet_btask *t, struct err *err)
{
        _cleanup_nlc_ struct nlc *tn = NULL;
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct addr_find f = { t->ip, false };
        struct knet_ns *ns;
        struct rt_link l, h;
        int br, r;

        if ((r = btask_check_args(t, err)) < 0 || (r = knet_path(k, t->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", t->netns);
        if (!netns_is_live(path))
                return err_set(err, ENOENT, NULL, "%s does not exist", where);
        if ((r = nlc_open_at(path, NETLINK_ROUTE, where, &tn, NULL, err)) < 0)
                return r;
        r = rt_link_get(tn, TASK_IFNAME, &l, err);
        if (r == -ENODEV)
                return err_set(err, ENOENT, NULL, "%s has no " TASK_IFNAME, where);
        if (r < 0)
                return r;
        if (strcmp(l.kind, "veth") != 0 || !l.has_mac || memcmp(l.mac, t->mac, 6) != 0 || !(l.flags & IFF_UP))
                return err_set(err, ESTALE, NULL, TASK_IFNAME " in %s is not the recorded veth (kind, MAC or state differ)", where);
        if ((r = rt_addr4_dump(tn, l.index, addr_find_cb, &f, err)) < 0)
                return r;
        if (!f.found)
                return err_set(err, ESTALE, NULL, TASK_IFNAME " in %s lacks its address", where);
        if ((r = knet_ns_get(k, t->instance_netns, &ns, err)) < 0)
                return r;
        if ((r = rt_link_get(ns->rt, t->host_if, &h, err)) < 0)
                return err_set(err, ESTALE, NULL, "host end '%s' of %s: %s", t->host_if, where, err->msg);
        if ((r = knet_ifindex(ns, BRIDGE_IFNAME, true, &br, err)) < 0)
                return r;
        if (h.master != br || !(h.flags & IFF_UP))
                return err_set(err, ESTALE, NULL, "host end '%s' of %s is not an up port of " BRIDGE_IFNAME, t->host_if, where);
        return 0;
}

int knet_btask_remove_links(struct knet *k, const struct knet_btask *t, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct knet_ns *ns;
        struct err e2 = { 0 };
        int r;

        if ((r = btask_check_args(t, err)) < 0 || (r = knet_path(k, t->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", t->netns);
        knet_ns_drop(k, t->netns);
        if ((r = netns_delete(path, where, err)) < 0)
                return r;
        if (knet_ns_get(k, t->instance_netns, &ns, &e2) == 0)
                return host_end_delete(ns, t->host_if, err);
        return 0;
}

int knet_in_instance(struct knet *k, const char *instance_netns, int (*fn)(void *ud, struct err *err), void *ud, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        int r;
        if ((r = knet_path(k, instance_netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", instance_netns);
        return netns_run(path, where, fn, ud, NULL, err);
}

int knet_port_busy(int proto, uint16_t port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
        _cleanup_close_ int fd = socket(AF_INET, (proto == PM_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0)
                return -errno;
        /* tcp: only a listener makes the port busy, not connections using it (TIME_WAIT, outgoing) */
        if (proto == PM_TCP && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &a, sizeof a) == 0)
                return 0;
        if (errno == EADDRINUSE)
                return 1;
        /* below ip_unprivileged_port_start netd (without CAP_NET_BIND_SERVICE) cannot probe: its records decide */
        if (errno == EACCES)
                return 0;
        return -errno;
}

int knet_none_create(struct knet *k, const char *netns, struct err *err)
{
        return knet_netns_create(k, netns, err);
}
