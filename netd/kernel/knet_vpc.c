/* knet_vpc.c: VPC router namespaces with their uplink veth, and subnet bridges with their macvlan parent pairs. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "knet_int.h"
#include "netns.h"

#define UPLINK_PEER "uplink"     /* the uplink's end inside the VPC netns */

struct vpc_setup_ctx {
        const char *where;
};

/* Inside the VPC netns: lo up and its sysctls. Run at creation and again by
 * every ensure (cheap), so a VPC made by an older netd is repaired too. */
static int vpc_setup(void *ud, struct err *err)
{
        static const struct {
                const char *key, *value;
                bool optional;
        } s[] = {
                { "net.ipv4.ip_forward", "1", false },  /* the VPC router */
                /* subnets and the uplink are all one router's interfaces: no reverse-path drops */
                { "net.ipv4.conf.all.rp_filter", "0", false },
                { "net.ipv4.conf.default.rp_filter", "0", false },
                /* "no way out" answered at once to every task (egress: a subnet without a route to a
                 * gateway): destination unreachable out of the rate mask (6168 less bit 3) */
                { "net.ipv4.icmp_ratemask", "6160", true },
                /* bridged frames skip the ip hooks (1 in every new netns) */
                { "net.bridge.bridge-nf-call-iptables", "0", true },
                /* before any link is made: no IPv6 on bridges, ports, parents */
                { "net.ipv6.conf.all.accept_dad", "0", true },
                { "net.ipv6.conf.default.accept_dad", "0", true },
                { "net.ipv6.conf.all.disable_ipv6", "1", true },
                { "net.ipv6.conf.default.disable_ipv6", "1", true },
        };
        struct vpc_setup_ctx *c = ud;
        _cleanup_nlc_ struct nlc *n = NULL;
        struct nlc_batch b;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                if ((r = sysctl_write(s[i].key, s[i].value, s[i].optional, c->where, err)) < 0)
                        return r;
        if ((r = nlc_open(NETLINK_ROUTE, c->where, &n, err)) < 0)
                return r;
        nlc_batch_init(&b, n, 0);
        rt_put_link_set(&b, 1, "lo", true, NULL, -1, NULL);
        return nlc_batch_run(&b, err);
}

/* A veth pair a (in na) / b (in nb) is whole when both exist and a's peer is
 * b. Anything else (one end left over, a name taken by something else) is
 * removed so the pair can be made again. Returns 1 when whole, 0 when absent. */
static int pair_state(struct nlc *na, const char *a, struct nlc *nb, const char *bname, struct err *err)
{
        struct rt_link la, lb;
        struct err e = { 0 };
        struct nlc_batch b;
        int ra, rb, r;

        ra = rt_link_get(na, a, &la, &e);
        if (ra < 0 && ra != -ENODEV)
                return err_set(err, -ra, NULL, "%s", e.msg);
        rb = rt_link_get(nb, bname, &lb, &e);
        if (rb < 0 && rb != -ENODEV)
                return err_set(err, -rb, NULL, "%s", e.msg);
        if (ra == 0 && rb == 0 && strcmp(la.kind, "veth") == 0 && la.link == lb.index)
                return 1;
        if (ra == 0) {
                log_notice("msg=\"removing incomplete veth pair\" link=%s peer=%s where=\"%s\"", a, bname, nlc_where(na));
                nlc_batch_init(&b, na, 0);
                rt_put_link_del(&b, a);
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
        }
        if (rb == 0) {
                log_notice("msg=\"removing incomplete veth pair\" link=%s peer=%s where=\"%s\"", bname, a, nlc_where(nb));
                nlc_batch_init(&b, nb, 0);
                rt_put_link_del(&b, bname);
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
        }
        return 0;
}

/* ---- VPC ---- */

static int vpc_check(const struct knet_vpc *v, struct err *err)
{
        int r;
        if ((r = knet_check_netns_name(v->netns, err)) < 0 || (r = knet_check_ifname("uplink", v->uplink_host, err)) < 0)
                return r;
        return 0;
}

int knet_vpc_ensure(struct knet *k, const struct knet_vpc *v, struct err *err)
{
        _cleanup_close_ int nsfd = -1;
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct vpc_setup_ctx c = { where };
        struct knet_ns *ns;
        struct rt_link hl, vl;
        struct nlc_batch b;
        int r;

        if ((r = vpc_check(v, err)) < 0 || (r = knet_path(k, v->netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", v->netns);
        if (netns_is_live(path))
                r = netns_run(path, where, vpc_setup, &c, &nsfd, err);
        else {
                knet_ns_drop(k, v->netns);
                r = netns_create(k->dir, v->netns, k->host_fd, vpc_setup, &c, &nsfd, err);
        }
        if (r < 0)
                return r;
        if ((r = knet_ns_get(k, v->netns, &ns, err)) < 0)
                return r;

        /* the uplink pair: host end in the host netns, "uplink" in the VPC */
        r = pair_state(k->host, v->uplink_host, ns->rt, UPLINK_PEER, err);
        if (r < 0)
                return r;
        if (r == 0) {
                nlc_batch_init(&b, k->host, 0);
                rt_put_veth(&b, v->uplink_host, 0, UPLINK_PEER, NULL, nsfd, where);
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
        }
        if ((r = rt_link_get(k->host, v->uplink_host, &hl, err)) < 0 || (r = rt_link_get(ns->rt, UPLINK_PEER, &vl, err)) < 0)
                return r;

        /* VPC side first: its end up gives the host end carrier */
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_link_set(&b, vl.index, UPLINK_PEER, true, NULL, -1, NULL);
        rt_put_addr4(&b, vl.index, UPLINK_PEER, v->uplink_router_ip, 30, true);
        if ((r = nlc_batch_run(&b, err)) < 0)
                return r;

        nlc_batch_init(&b, k->host, 0);
        rt_put_link_set(&b, hl.index, v->uplink_host, true, NULL, -1, NULL);
        rt_put_addr4(&b, hl.index, v->uplink_host, v->uplink_host_ip, 30, true);
        /* EEXIST: an older VPC with an overlapping CIDR keeps the route */
        if (v->host_route)
                rt_put_route4(&b, false, v->cidr.addr, v->cidr.len, v->uplink_router_ip, hl.index, true);
        return nlc_batch_run(&b, err);
}

int knet_vpc_delete(struct knet *k, const struct knet_vpc *v, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct nlc_batch b;
        int r;

        if ((r = vpc_check(v, err)) < 0 || (r = knet_path(k, v->netns, path, sizeof path, err)) < 0)
                return r;
        /* The route names its gateway, so a route of another VPC to the same
         * CIDR stays; deleting the uplink would take ours anyway. */
        nlc_batch_init(&b, k->host, 0);
        rt_put_route4(&b, true, v->cidr.addr, v->cidr.len, v->uplink_router_ip, 0, false);
        nlc_batch_tolerate(&b, ENODEV);
        rt_put_link_del(&b, v->uplink_host);
        if ((r = nlc_batch_run(&b, err)) < 0)
                return r;
        knet_ns_drop(k, v->netns);
        snprintf(where, sizeof where, "VPC netns '%s'", v->netns);
        return netns_delete(path, where, err);
}

/* ---- subnet ---- */

static int subnet_check(const struct knet_subnet *s, char peer[KNET_IFNAME_MAX + 1], struct err *err)
{
        int r;
        if ((r = knet_check_netns_name(s->vpc_netns, err)) < 0 || (r = knet_check_ifname("bridge", s->bridge, err)) < 0 ||
            (r = knet_check_ifname("macvlan parent", s->mv_parent, err)) < 0)
                return r;
        /* the parent's peer: its name with the first letter replaced by 'n' */
        snprintf(peer, KNET_IFNAME_MAX + 1, "n%s", s->mv_parent + 1);
        if (strcmp(peer, s->mv_parent) == 0 || strcmp(peer, s->bridge) == 0)
                return err_set(err, EINVAL, NULL, "macvlan parent '%s' may not start with 'n'", s->mv_parent);
        return 0;
}

static int subnet_sysctls(void *ud, struct err *err)
{
        const char *where = ud;
        int r;
        /* before the bridge and the parent pair exist: they are born without IPv6 */
        if ((r = sysctl_write("net.ipv6.conf.default.disable_ipv6", "1", true, where, err)) < 0)
                return r;
        return sysctl_write("net.ipv6.conf.all.disable_ipv6", "1", true, where, err);
}

int knet_subnet_ensure(struct knet *k, const struct knet_subnet *s, struct err *err)
{
        char peer[KNET_IFNAME_MAX + 1], path[PATH_MAX];
        static const struct rt_inet_conf parent_conf[] = { { IPV4_DEVCONF_ARP_IGNORE, 1 }, { 0, 0 } };
        struct knet_ns *ns;
        struct nlc_batch b;
        int br, mv, r;

        if ((r = subnet_check(s, peer, err)) < 0 || (r = knet_path(k, s->vpc_netns, path, sizeof path, err)) < 0)
                return r;
        if ((r = knet_ns_get(k, s->vpc_netns, &ns, err)) < 0)
                return err_wrap(err, "subnet bridge '%s'", s->bridge);
        if ((r = netns_run(path, ns->where, subnet_sysctls, ns->where, NULL, err)) < 0)
                return r;

        /* The bridge, made or repaired in one message: NLM_F_CREATE without
         * EXCL changes an existing bridge. The MAC is pinned (an unpinned
         * bridge takes a port's MAC and changes it as ports come and go) and
         * forward_delay 0 makes new ports forward at once. */
        knet_ifindex_forget(ns, s->bridge);
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_bridge(&b, s->bridge, s->bridge_mac);
        if ((r = nlc_batch_run(&b, err)) < 0)
                return r;
        if ((r = knet_ifindex(ns, s->bridge, true, &br, err)) < 0)
                return r;

        /* the macvlan parent pair: the parent stays outside the bridge, its peer is a port */
        knet_ifindex_forget(ns, s->mv_parent);
        r = pair_state(ns->rt, s->mv_parent, ns->rt, peer, err);
        if (r < 0)
                return r;
        if (r == 0) {
                nlc_batch_init(&b, ns->rt, 0);
                rt_put_veth(&b, s->mv_parent, 0, peer, NULL, -1, NULL);
                if ((r = nlc_batch_run(&b, err)) < 0)
                        return r;
        }
        if ((r = knet_ifindex(ns, s->mv_parent, true, &mv, err)) < 0)
                return r;

        nlc_batch_init(&b, ns->rt, 0);
        rt_put_addr4(&b, br, s->bridge, s->gw_ip, s->prefix_len, true);
        /* both ends up: macvlan children's carrier follows the parent's */
        rt_put_link_set(&b, 0, peer, true, NULL, br, NULL);
        /* The parent has no address but sits in the router's netns: with the
         * default arp_ignore 0 it answered the tasks' ARP for the gateway
         * (flooded to it through its peer) with its own MAC. arp_ignore 1:
         * answer only for addresses on the parent itself, i.e. never. */
        rt_put_link_set(&b, mv, s->mv_parent, true, NULL, -1, parent_conf);
        return nlc_batch_run(&b, err);
}

int knet_subnet_delete(struct knet *k, const struct knet_subnet *s, struct err *err)
{
        char peer[KNET_IFNAME_MAX + 1];
        struct knet_ns *ns;
        struct err e = { 0 };
        struct nlc_batch b;
        int r;

        if ((r = subnet_check(s, peer, err)) < 0)
                return r;
        r = knet_ns_get(k, s->vpc_netns, &ns, &e);
        if (r == -ENOENT)
                return 0;       /* the VPC is gone, and everything in it */
        if (r < 0)
                return err_set(err, -r, NULL, "%s", e.msg);
        knet_ifindex_forget(ns, s->mv_parent);
        knet_ifindex_forget(ns, s->bridge);
        /* the parent first: it takes its peer and every macvlan child along */
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_link_del(&b, s->mv_parent);
        rt_put_link_del(&b, peer);
        rt_put_link_del(&b, s->bridge);
        return nlc_batch_run(&b, err);
}
