/* rtnl.c: rtnetlink on the netlink core: link/address dumps parsed with libmnl, changes built as libnl-route objects and copied into acked batches. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtnl.h"

#define RT_DUMP_TRIES 5          /* as the CNI plugins retry NLM_F_DUMP_INTR */

/* ---- rtnetlink helpers ---- */

static int link_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int linkinfo_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, IFLA_INFO_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

int rt_link_parse(const struct nlmsghdr *nlh, struct rt_link *ret)
{
        const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof *ifm)
                return -EBADMSG;
        memset(ret, 0, sizeof *ret);
        if (mnl_attr_parse(nlh, sizeof *ifm, link_attr_cb, tb) < 0)
                return -EBADMSG;
        ret->index = ifm->ifi_index;
        ret->flags = ifm->ifi_flags;
        if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0)
                snprintf(ret->name, sizeof ret->name, "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
                memcpy(ret->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
                ret->has_mac = true;
        }
        if (tb[IFLA_MASTER] && mnl_attr_validate(tb[IFLA_MASTER], MNL_TYPE_U32) == 0)
                ret->master = (int) mnl_attr_get_u32(tb[IFLA_MASTER]);
        if (tb[IFLA_LINK] && mnl_attr_validate(tb[IFLA_LINK], MNL_TYPE_U32) == 0)
                ret->link = (int) mnl_attr_get_u32(tb[IFLA_LINK]);
        if (tb[IFLA_LINKINFO]) {
                const struct nlattr *li[IFLA_INFO_MAX + 1] = { 0 };
                if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, li) >= 0 && li[IFLA_INFO_KIND] &&
                    mnl_attr_validate(li[IFLA_INFO_KIND], MNL_TYPE_STRING) == 0)
                        snprintf(ret->kind, sizeof ret->kind, "%.*s", (int) mnl_attr_get_payload_len(li[IFLA_INFO_KIND]),
                                 mnl_attr_get_str(li[IFLA_INFO_KIND]));
        }
        return 0;
}

static int link_get_cb(const struct nlmsghdr *nlh, void *ud)
{
        return rt_link_parse(nlh, ud);
}

int rt_link_get(struct nlc *s, const char *ifname, struct rt_link *ret, struct err *err)
{
        char buf[256] __attribute__((aligned(8)));
        char what[64];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifm;
        struct rt_link l = { .index = 0 };
        int r;

        nlh->nlmsg_type = RTM_GETLINK;
        ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        snprintf(what, sizeof what, "look up link '%s'", ifname);
        r = nlc_call(s, nlh, link_get_cb, &l, what, err);
        if (r < 0)
                return r;
        if (l.index <= 0)
                return err_set(err, EBADMSG, NULL, "%s in %s: no link in the answer", what, nlc_where(s));
        *ret = l;
        return 0;
}

struct link_dump {
        int (*cb)(const struct rt_link *l, void *ud);
        void *ud;
};

static int link_dump_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct link_dump *d = ud;
        struct rt_link l;
        if (rt_link_parse(nlh, &l) < 0)
                return 0;
        return d->cb(&l, d->ud);
}

int rt_link_dump(struct nlc *s, int (*cb)(const struct rt_link *l, void *ud), void (*reset)(void *ud), void *ud,
                 struct err *err)
{
        struct link_dump d = { cb, ud };
        int r = -EINTR;

        for (int i = 0; i < RT_DUMP_TRIES && r == -EINTR; i++) {
                char buf[256] __attribute__((aligned(8)));
                struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
                struct ifinfomsg *ifm;

                if (reset)
                        reset(ud);
                nlh->nlmsg_type = RTM_GETLINK;
                nlh->nlmsg_flags = NLM_F_DUMP;
                ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
                ifm->ifi_family = AF_UNSPEC;
                mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
                r = nlc_call(s, nlh, link_dump_cb, &d, "list links", err);
        }
        return r;
}

struct addr_dump {
        int ifindex;
        int (*cb)(uint32_t ip, uint8_t prefix_len, int ifindex, void *ud);
        void *ud;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, IFA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int addr_dump_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct addr_dump *d = ud;
        const struct nlattr *tb[IFA_MAX + 1] = { 0 };
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a;

        if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof *ifa || ifa->ifa_family != AF_INET)
                return 0;
        if (d->ifindex && (int) ifa->ifa_index != d->ifindex)
                return 0;
        if (mnl_attr_parse(nlh, sizeof *ifa, addr_attr_cb, tb) < 0)
                return 0;
        a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        if (!a || mnl_attr_get_payload_len(a) != 4)
                return 0;
        return d->cb(ntohl(mnl_attr_get_u32(a)), ifa->ifa_prefixlen, (int) ifa->ifa_index, d->ud);
}

int rt_addr4_dump(struct nlc *s, int ifindex, int (*cb)(uint32_t ip, uint8_t prefix_len, int ifindex, void *ud), void *ud,
                  struct err *err)
{
        struct addr_dump d = { ifindex, cb, ud };
        int r = -EINTR;

        for (int i = 0; i < RT_DUMP_TRIES && r == -EINTR; i++) {
                char buf[128] __attribute__((aligned(8)));
                struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
                struct ifaddrmsg *ifa;

                nlh->nlmsg_type = RTM_GETADDR;
                nlh->nlmsg_flags = NLM_F_DUMP;
                ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
                ifa->ifa_family = AF_INET;
                r = nlc_call(s, nlh, addr_dump_cb, &d, "list addresses", err);
        }
        return r;
}

/* ---- builders: libnl objects, libnl's request builders, the message copied into the batch ---- */

static void fmt_mac(const uint8_t *mac, char buf[18])
{
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static void fmt_ip(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
        uint32_t be = htonl(ip);
        inet_ntop(AF_INET, &be, buf, INET_ADDRSTRLEN);
}

/* libnl's -NLE_* once, here: only allocation can fail for these objects */
static int nle_errno(int nle)
{
        return nle == -NLE_NOMEM ? -ENOMEM : -EINVAL;
}

/* Copy libnl's message (rc: what its builder returned) into the batch with flags, and free it. */
static void put_msg(struct nlc_batch *b, int rc, struct nl_msg *msg, uint16_t flags, const char *what)
{
        if (rc < 0 || !msg)
                nlc_batch_fail(b, rc < 0 ? nle_errno(rc) : -ENOMEM, what, rc < 0 ? nl_geterror(rc) : strerror(ENOMEM));
        else
                nlc_batch_copy(b, nlmsg_hdr(msg), flags, what);
        nlmsg_free(msg);
}

/* rtnl_link_build_add_request asks for every flag to be what the object holds (ifi_change ~0),
 * which would clear IFF_MULTICAST on a new link: change only the flags in `change`. */
static void set_ifi_change(struct nl_msg *msg, unsigned change)
{
        struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(msg));
        ifi->ifi_change = change;
}

static struct nl_addr *mac_addr(const uint8_t *mac)
{
        return nl_addr_build(AF_LLC, mac, 6);
}

static struct nl_addr *ip4_addr(uint32_t ip, uint8_t prefix_len)
{
        uint32_t be = htonl(ip);
        struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
        if (a)
                nl_addr_set_prefixlen(a, prefix_len);
        return a;
}

static int link_set_mac(struct rtnl_link *l, const uint8_t *mac)
{
        struct nl_addr *a = mac_addr(mac);
        if (!a)
                return -NLE_NOMEM;
        rtnl_link_set_addr(l, a);
        nl_addr_put(a);
        return 0;
}

static void link_set_what(char *what, size_t len, const char *ifname, bool up, const uint8_t *mac, int master)
{
        char m[18];
        size_t w = (size_t) snprintf(what, len, "set link '%s'", ifname);
        const char *sep = "";

        if (up && w < len) {
                w += (size_t) snprintf(what + w, len - w, " up");
                sep = ",";
        }
        if (mac && w < len) {
                fmt_mac(mac, m);
                w += (size_t) snprintf(what + w, len - w, "%s MAC %s", sep, m);
                sep = ",";
        }
        if (master >= 0 && w < len)
                snprintf(what + w, len - w, "%s master ifindex %d", sep, master);
}

void rt_put_link_set(struct nlc_batch *b, int index, const char *ifname, bool up, const uint8_t *mac, int master,
                     const struct rt_inet_conf *conf)
{
        struct rtnl_link *orig = rtnl_link_alloc(), *ch = rtnl_link_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX];
        int rc = orig && ch ? 0 : -NLE_NOMEM;

        link_set_what(what, sizeof what, ifname, up, mac, master);
        if (rc == 0) {
                /* by index; by name (in the changes) when there is none */
                if (index > 0)
                        rtnl_link_set_ifindex(orig, index);
                else
                        rtnl_link_set_name(ch, ifname);
                if (up)
                        rtnl_link_set_flags(ch, IFF_UP);
                if (master >= 0)
                        rtnl_link_set_master(ch, master);
                if (mac)
                        rc = link_set_mac(ch, mac);
                for (size_t i = 0; rc == 0 && conf && conf[i].id; i++)
                        rc = rtnl_link_inet_set_conf(ch, (unsigned) conf[i].id, conf[i].value);
        }
        if (rc == 0)
                rc = rtnl_link_build_change_request(orig, ch, 0, &msg);
        put_msg(b, rc, msg, 0, what);
        rtnl_link_put(orig);
        rtnl_link_put(ch);
}

void rt_put_link_del(struct nlc_batch *b, const char *ifname)
{
        struct rtnl_link *l = rtnl_link_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX];
        int rc = l ? 0 : -NLE_NOMEM;

        snprintf(what, sizeof what, "delete link '%s'", ifname);
        if (rc == 0) {
                rtnl_link_set_name(l, ifname);
                rc = rtnl_link_build_delete_request(l, &msg);
        }
        put_msg(b, rc, msg, 0, what);
        nlc_batch_tolerate(b, ENODEV);
        rtnl_link_put(l);
}

static int veth_fill(struct rtnl_link *l, const char *name, int master, const char *peer_name, const uint8_t *peer_mac,
                     int peer_ns_fd)
{
        struct rtnl_link *peer = rtnl_link_veth_get_peer(l);
        int rc = 0;

        if (!peer)
                return -NLE_NOMEM;
        rtnl_link_set_name(l, name);
        rtnl_link_set_flags(l, IFF_UP);
        if (master > 0)
                rtnl_link_set_master(l, master);
        rtnl_link_set_name(peer, peer_name);
        if (peer_mac)
                rc = link_set_mac(peer, peer_mac);
        if (peer_ns_fd >= 0)
                rtnl_link_set_ns_fd(peer, peer_ns_fd);
        rtnl_link_put(peer);
        return rc;
}

void rt_put_veth(struct nlc_batch *b, const char *name, int master, const char *peer, const uint8_t *peer_mac,
                 int peer_ns_fd, const char *peer_where)
{
        struct rtnl_link *l = rtnl_link_veth_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX];
        int rc = l ? 0 : -NLE_NOMEM;

        if (peer_where)
                snprintf(what, sizeof what, "create veth '%s' (peer '%s' in %s)", name, peer, peer_where);
        else
                snprintf(what, sizeof what, "create veth '%s' (peer '%s')", name, peer);
        if (rc == 0)
                rc = veth_fill(l, name, master, peer, peer_mac, peer_ns_fd);
        if (rc == 0 && (rc = rtnl_link_build_add_request(l, NLM_F_CREATE | NLM_F_EXCL, &msg)) == 0)
                set_ifi_change(msg, IFF_UP);
        put_msg(b, rc, msg, NLM_F_CREATE | NLM_F_EXCL, what);
        if (l)
                rtnl_link_veth_release(l);
}

void rt_put_macvlan(struct nlc_batch *b, const char *name, int lower, const char *lower_name, const uint8_t *mac,
                    int ns_fd, const char *where)
{
        struct rtnl_link *l = rtnl_link_macvlan_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX];
        int rc = l ? 0 : -NLE_NOMEM;

        snprintf(what, sizeof what, "create macvlan '%s' on '%s' in %s", name, lower_name, where);
        if (rc == 0) {
                rtnl_link_set_name(l, name);
                rtnl_link_set_link(l, lower);
                rtnl_link_set_ns_fd(l, ns_fd);
                /* children switch to each other in the kernel, the rest goes via the parent into the bridge */
                rc = rtnl_link_macvlan_set_mode(l, MACVLAN_MODE_BRIDGE);
        }
        if (rc == 0)
                rc = link_set_mac(l, mac);
        if (rc == 0 && (rc = rtnl_link_build_add_request(l, NLM_F_CREATE | NLM_F_EXCL, &msg)) == 0)
                set_ifi_change(msg, 0);
        put_msg(b, rc, msg, NLM_F_CREATE | NLM_F_EXCL, what);
        rtnl_link_put(l);
}

/* libnl 3.7 has no setter for the bridge's IFLA_INFO_DATA: the link info goes in by hand, in libnl's message */
static int bridge_info_put(struct nl_msg *msg)
{
        struct nlattr *li = nla_nest_start(msg, IFLA_LINKINFO), *data;

        if (!li || nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 || !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
            nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, 0) < 0)
                return -NLE_NOMEM;
        nla_nest_end(msg, data);
        nla_nest_end(msg, li);
        return 0;
}

void rt_put_bridge(struct nlc_batch *b, const char *name, const uint8_t *mac)
{
        struct rtnl_link *l = rtnl_link_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX];
        int rc = l ? 0 : -NLE_NOMEM;

        snprintf(what, sizeof what, "create bridge '%s'", name);
        if (rc == 0) {
                rtnl_link_set_name(l, name);
                rtnl_link_set_flags(l, IFF_UP);
                rc = link_set_mac(l, mac);
        }
        if (rc == 0 && (rc = rtnl_link_build_add_request(l, NLM_F_CREATE, &msg)) == 0) {
                set_ifi_change(msg, IFF_UP);
                rc = bridge_info_put(msg);
        }
        put_msg(b, rc, msg, NLM_F_CREATE, what);
        rtnl_link_put(l);
}

static int addr_fill(struct rtnl_addr *a, int ifindex, uint32_t ip, uint8_t prefix_len)
{
        struct nl_addr *local = ip4_addr(ip, prefix_len), *bc = NULL;
        int rc = local ? 0 : -NLE_NOMEM;

        rtnl_addr_set_ifindex(a, ifindex);
        rtnl_addr_set_family(a, AF_INET);
        rtnl_addr_set_scope(a, RT_SCOPE_UNIVERSE);
        if (rc == 0)
                rc = rtnl_addr_set_local(a, local);
        if (rc == 0 && prefix_len < 31) {
                uint32_t mask = prefix_len ? ~0u << (32 - prefix_len) : 0;
                if (!(bc = ip4_addr(ip | ~mask, 32)))
                        rc = -NLE_NOMEM;
                else
                        rc = rtnl_addr_set_broadcast(a, bc);
        }
        nl_addr_put(local);
        nl_addr_put(bc);
        return rc;
}

void rt_put_addr4(struct nlc_batch *b, int ifindex, const char *ifname, uint32_t ip, uint8_t prefix_len, bool tolerate_exists)
{
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX], ips[INET_ADDRSTRLEN];
        int rc = a ? 0 : -NLE_NOMEM;

        fmt_ip(ip, ips);
        snprintf(what, sizeof what, "add address %s/%u to '%s'", ips, prefix_len, ifname);
        if (rc == 0)
                rc = addr_fill(a, ifindex, ip, prefix_len);
        if (rc == 0)
                rc = rtnl_addr_build_add_request(a, NLM_F_CREATE | NLM_F_EXCL, &msg);
        put_msg(b, rc, msg, NLM_F_CREATE | NLM_F_EXCL, what);
        if (tolerate_exists)
                nlc_batch_tolerate(b, EEXIST);
        rtnl_addr_put(a);
}

void rt_put_addr4_del(struct nlc_batch *b, int ifindex, const char *ifname, uint32_t ip, uint8_t prefix_len)
{
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX], ips[INET_ADDRSTRLEN];
        int rc = a ? 0 : -NLE_NOMEM;

        fmt_ip(ip, ips);
        snprintf(what, sizeof what, "delete address %s/%u from '%s'", ips, prefix_len, ifname);
        if (rc == 0)
                rc = addr_fill(a, ifindex, ip, prefix_len);
        if (rc == 0)
                rc = rtnl_addr_build_delete_request(a, 0, &msg);
        put_msg(b, rc, msg, 0, what);
        nlc_batch_tolerate(b, EADDRNOTAVAIL);
        rtnl_addr_put(a);
}

static int route_fill(struct rtnl_route *rt, bool del, uint32_t dst, uint8_t len, uint32_t gw, int oif)
{
        /* a default route has no RTA_DST: a zero-length address */
        struct nl_addr *d = len ? ip4_addr(dst, len) : nl_addr_build(AF_INET, NULL, 0), *g = ip4_addr(gw, 32);
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        int rc = d && g && nh ? 0 : -NLE_NOMEM;

        rtnl_route_set_family(rt, AF_INET);
        rtnl_route_set_table(rt, RT_TABLE_MAIN);
        rtnl_route_set_type(rt, RTN_UNICAST);
        /* delete: any protocol and scope, matched by destination and gateway */
        rtnl_route_set_protocol(rt, del ? RTPROT_UNSPEC : RTPROT_STATIC);
        rtnl_route_set_scope(rt, del ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE);
        if (rc == 0)
                rc = rtnl_route_set_dst(rt, d);
        if (rc == 0) {
                rtnl_route_nh_set_gateway(nh, g);
                if (oif > 0)
                        rtnl_route_nh_set_ifindex(nh, oif);
                rtnl_route_add_nexthop(rt, nh);      /* the route owns it now */
                nh = NULL;
        }
        if (nh)
                rtnl_route_nh_free(nh);
        nl_addr_put(d);
        nl_addr_put(g);
        return rc;
}

void rt_put_route4(struct nlc_batch *b, bool del, uint32_t dst, uint8_t len, uint32_t gw, int oif, bool tolerate)
{
        struct rtnl_route *rt = rtnl_route_alloc();
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX], d[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
        uint16_t flags = del ? 0 : NLM_F_CREATE | NLM_F_EXCL;
        int rc = rt ? 0 : -NLE_NOMEM;

        fmt_ip(dst, d);
        fmt_ip(gw, g);
        if (del)
                snprintf(what, sizeof what, "delete route %s/%u via %s", d, len, g);
        else if (len)
                snprintf(what, sizeof what, "add route %s/%u via %s", d, len, g);
        else
                snprintf(what, sizeof what, "add default route via %s", g);
        if (rc == 0)
                rc = route_fill(rt, del, dst, len, gw, oif);
        if (rc == 0)
                rc = del ? rtnl_route_build_del_request(rt, 0, &msg) : rtnl_route_build_add_request(rt, flags, &msg);
        put_msg(b, rc, msg, flags, what);
        if (del)
                nlc_batch_tolerate(b, ESRCH);
        else if (tolerate)
                nlc_batch_tolerate(b, EEXIST);
        rtnl_route_put(rt);
}

void rt_put_neigh4(struct nlc_batch *b, int ifindex, const char *ifname, uint32_t ip, const uint8_t *mac)
{
        struct rtnl_neigh *n = rtnl_neigh_alloc();
        struct nl_addr *dst = ip4_addr(ip, 32), *ll = mac_addr(mac);
        struct nl_msg *msg = NULL;
        char what[NLC_WHAT_MAX], ips[INET_ADDRSTRLEN];
        int rc = n && dst && ll ? 0 : -NLE_NOMEM;

        fmt_ip(ip, ips);
        snprintf(what, sizeof what, "set neighbour %s on '%s'", ips, ifname);
        if (rc == 0) {
                rtnl_neigh_set_family(n, AF_INET);
                rtnl_neigh_set_ifindex(n, ifindex);
                rtnl_neigh_set_state(n, NUD_REACHABLE);
                rtnl_neigh_set_lladdr(n, ll);
                rc = rtnl_neigh_set_dst(n, dst);
        }
        if (rc == 0 && (rc = rtnl_neigh_build_add_request(n, NLM_F_CREATE | NLM_F_REPLACE, &msg)) == 0) {
                /* libnl 3.7's rtnl_neigh_set_type drops the state set on the object (and the state its type):
                 * the type goes into the built header instead */
                struct ndmsg *ndm = nlmsg_data(nlmsg_hdr(msg));
                ndm->ndm_type = RTN_UNICAST;
        }
        put_msg(b, rc, msg, NLM_F_CREATE | NLM_F_REPLACE, what);
        nl_addr_put(dst);
        nl_addr_put(ll);
        rtnl_neigh_put(n);
}
