/* knet_egress.c: internet/NAT gateway egress: policy routing in the VPC router netns, masquerade in the host netns. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "knet_egress.h"
#include "knet_int.h"
#include "netns.h"
#include "nft.h"
#include "nftexpr.h"

#define UPLINK_IF "uplink"         /* the uplink's end inside the VPC netns (knet_vpc.c) */
#define UPLINK_PREFIX "ebxu"       /* host ends of every VPC uplink */
#define EGRESS_MAX 4096            /* rules or routes seen in one dump */

struct eg_ent {
        uint32_t table;
        struct cidr4 c;            /* rule: from; route: dst */
        uint8_t type;              /* route: RTN_* */
        uint32_t gw;
};

struct eg_list {
        struct eg_ent *v;
        size_t n;
        int overflow;
};

static void eg_push(struct eg_list *l, const struct eg_ent *e)
{
        if (l->n >= EGRESS_MAX) {
                l->overflow = 1;
                return;
        }
        l->v[l->n++] = *e;
}

static int attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, RTA_MAX > FRA_MAX ? RTA_MAX : FRA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static uint32_t attr_ip(const struct nlattr *a)
{
        uint32_t be = 0;
        if (a && mnl_attr_get_payload_len(a) == 4)
                memcpy(&be, mnl_attr_get_payload(a), 4);
        return ntohl(be);
}

/* ---- dumps ---- */

static int rule_cb(const struct nlmsghdr *nlh, void *ud)
{
        const struct nlattr *tb[(RTA_MAX > FRA_MAX ? RTA_MAX : FRA_MAX) + 1] = { 0 };
        const struct fib_rule_hdr *h = mnl_nlmsg_get_payload(nlh);
        struct eg_ent e = { 0 };
        if (nlh->nlmsg_type != RTM_NEWRULE || mnl_nlmsg_get_payload_len(nlh) < sizeof *h || h->family != AF_INET)
                return 0;
        if (mnl_attr_parse(nlh, sizeof *h, attr_cb, tb) < 0)
                return 0;
        if (!tb[FRA_PRIORITY] || mnl_attr_get_u32(tb[FRA_PRIORITY]) != EGRESS_RULE_PRIO)
                return 0;
        e.table = tb[FRA_TABLE] ? mnl_attr_get_u32(tb[FRA_TABLE]) : h->table;
        e.c.len = h->src_len;
        e.c.addr = attr_ip(tb[FRA_SRC]);
        eg_push(ud, &e);
        return 0;
}

static int route_cb(const struct nlmsghdr *nlh, void *ud)
{
        const struct nlattr *tb[(RTA_MAX > FRA_MAX ? RTA_MAX : FRA_MAX) + 1] = { 0 };
        const struct rtmsg *rm = mnl_nlmsg_get_payload(nlh);
        struct eg_ent e = { 0 };
        if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof *rm || rm->rtm_family != AF_INET)
                return 0;
        if (mnl_attr_parse(nlh, sizeof *rm, attr_cb, tb) < 0)
                return 0;
        e.table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rm->rtm_table;
        if (!(e.table & EGRESS_TABLE_BIT))
                return 0;
        e.c.len = rm->rtm_dst_len;
        e.c.addr = attr_ip(tb[RTA_DST]);
        e.type = rm->rtm_type;
        e.gw = attr_ip(tb[RTA_GATEWAY]);
        eg_push(ud, &e);
        return 0;
}

static int dump(struct nlc *s, uint16_t type, nlc_cb_t cb, struct eg_list *l, const char *what, struct err *err)
{
        int r = -EINTR;
        for (int i = 0; i < 5 && r == -EINTR; i++) {
                char buf[128] __attribute__((aligned(8)));
                struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
                struct rtmsg *rm;
                l->n = 0;
                l->overflow = 0;
                nlh->nlmsg_type = type;
                nlh->nlmsg_flags = NLM_F_DUMP;
                rm = mnl_nlmsg_put_extra_header(nlh, sizeof *rm);   /* fib_rule_hdr has the same size and family offset */
                rm->rtm_family = AF_INET;
                r = nlc_call(s, nlh, cb, l, what, err);
        }
        if (r >= 0 && l->overflow)
                return err_set(err, E2BIG, NULL, "%s in %s: more than %d entries", what, nlc_where(s), EGRESS_MAX);
        return r;
}

/* ---- messages ---- */

static void put_rule(struct nlc_batch *b, bool del, const struct cidr4 *from, uint32_t table)
{
        char ip[IP4_STR_MAX];
        struct nlmsghdr *nlh;
        struct fib_rule_hdr *h;
        uint32_t be = htonl(from->addr);
        ip4_format(from->addr, ip);
        nlh = nlc_batch_add(b, del ? RTM_DELRULE : RTM_NEWRULE, del ? 0 : NLM_F_CREATE | NLM_F_EXCL, 64, "%s rule from %s/%u lookup %u",
                            del ? "delete" : "add", ip, from->len, table);
        if (!nlh)
                return;
        h = mnl_nlmsg_put_extra_header(nlh, sizeof *h);
        h->family = AF_INET;
        h->src_len = from->len;
        h->table = RT_TABLE_UNSPEC;
        h->action = FR_ACT_TO_TBL;
        mnl_attr_put_u32(nlh, FRA_PRIORITY, EGRESS_RULE_PRIO);
        mnl_attr_put_u32(nlh, FRA_TABLE, table);
        if (from->len)
                mnl_attr_put(nlh, FRA_SRC, 4, &be);
        nlc_batch_tolerate(b, del ? ENOENT : EEXIST);
}

/* out: DST via gw dev oif; else unreachable DST. del removes whatever route has that table and dst. */
static void put_route(struct nlc_batch *b, bool del, uint32_t table, const struct cidr4 *dst, bool out, uint32_t gw, int oif)
{
        char ip[IP4_STR_MAX];
        struct nlmsghdr *nlh;
        struct rtmsg *rm;
        uint32_t be = htonl(dst->addr), gbe = htonl(gw);
        ip4_format(dst->addr, ip);
        nlh = nlc_batch_add(b, del ? RTM_DELROUTE : RTM_NEWROUTE, del ? 0 : NLM_F_CREATE | NLM_F_REPLACE, 64,
                            "%s route %s%s/%u in table %u", del ? "delete" : "add", out || del ? "" : "unreachable ", ip, dst->len,
                            table);
        if (!nlh)
                return;
        rm = mnl_nlmsg_put_extra_header(nlh, sizeof *rm);
        rm->rtm_family = AF_INET;
        rm->rtm_dst_len = dst->len;
        rm->rtm_table = RT_TABLE_UNSPEC;
        rm->rtm_protocol = del ? RTPROT_UNSPEC : RTPROT_STATIC;
        rm->rtm_scope = del ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
        rm->rtm_type = del ? RTN_UNSPEC : out ? RTN_UNICAST : RTN_UNREACHABLE;
        mnl_attr_put_u32(nlh, RTA_TABLE, table);
        if (dst->len)
                mnl_attr_put(nlh, RTA_DST, 4, &be);
        if (!del && out) {
                mnl_attr_put(nlh, RTA_GATEWAY, 4, &gbe);
                mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) oif);
        }
        if (del)
                nlc_batch_tolerate(b, ESRCH);
}

/* ---- the VPC router ---- */

static bool rule_wanted(const struct eg_ent *e, const struct knet_egress_subnet *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (e->c.addr == s[i].cidr.addr && e->c.len == s[i].cidr.len && e->table == EGRESS_TABLE(s[i].cidr.addr))
                        return true;
        return false;
}

/* A route present as wanted (same table, dst, kind and gateway): kept as it is. */
static bool route_wanted(const struct eg_ent *e, const struct knet_egress_subnet *s, size_t n, uint32_t gw)
{
        for (size_t i = 0; i < n; i++) {
                if (e->table != EGRESS_TABLE(s[i].cidr.addr))
                        continue;
                for (size_t j = 0; j < s[i].n; j++) {
                        const struct knet_egress_route *w = &s[i].routes[j];
                        if (w->dst.addr == e->c.addr && w->dst.len == e->c.len)
                                return w->out ? e->type == RTN_UNICAST && e->gw == gw : e->type == RTN_UNREACHABLE;
                }
        }
        return false;
}

static bool route_present(const struct eg_list *have, uint32_t table, const struct knet_egress_route *w, uint32_t gw)
{
        for (size_t i = 0; i < have->n; i++) {
                const struct eg_ent *e = &have->v[i];
                if (e->table == table && e->c.addr == w->dst.addr && e->c.len == w->dst.len)
                        return w->out ? e->type == RTN_UNICAST && e->gw == gw : e->type == RTN_UNREACHABLE;
        }
        return false;
}

static bool rule_present(const struct eg_list *have, const struct cidr4 *c)
{
        for (size_t i = 0; i < have->n; i++)
                if (have->v[i].c.addr == c->addr && have->v[i].c.len == c->len && have->v[i].table == EGRESS_TABLE(c->addr))
                        return true;
        return false;
}

int knet_egress_apply(struct knet *k, const struct knet_vpc *v, const struct knet_egress_subnet *s, size_t n, struct err *err)
{
        _cleanup_free_ struct eg_ent *rv = calloc(EGRESS_MAX, sizeof *rv), *tv = calloc(EGRESS_MAX, sizeof *tv);
        struct eg_list rules = { rv, 0, 0 }, routes = { tv, 0, 0 };
        struct knet_ns *ns;
        struct nlc_batch b;
        int oif = 0, r;

        if (!rv || !tv)
                return err_set(err, ENOMEM, NULL, "egress of %s: %s", v->netns, strerror(ENOMEM));
        if ((r = knet_check_netns_name(v->netns, err)) < 0 || (r = knet_ns_get(k, v->netns, &ns, err)) < 0)
                return r;
        if ((r = knet_ifindex(ns, UPLINK_IF, true, &oif, err)) < 0 ||
            (r = dump(ns->rt, RTM_GETRULE, rule_cb, &rules, "list rules", err)) < 0 ||
            (r = dump(ns->rt, RTM_GETROUTE, route_cb, &routes, "list routes", err)) < 0)
                return err_wrap(err, "egress of %s", v->netns);

        /* removals first (rtnetlink runs each message on its own): rules before the routes they use */
        nlc_batch_init(&b, ns->rt, 0);
        for (size_t i = 0; i < rules.n; i++)
                if (!rule_wanted(&rules.v[i], s, n))
                        put_rule(&b, true, &rules.v[i].c, rules.v[i].table);
        for (size_t i = 0; i < routes.n; i++)
                if (!route_wanted(&routes.v[i], s, n, v->uplink_host_ip))
                        put_route(&b, true, routes.v[i].table, &routes.v[i].c, false, 0, 0);
        /* then every route (replacing a different one of that destination), then the rules */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < s[i].n; j++)
                        if (!route_present(&routes, EGRESS_TABLE(s[i].cidr.addr), &s[i].routes[j], v->uplink_host_ip))
                                put_route(&b, false, EGRESS_TABLE(s[i].cidr.addr), &s[i].routes[j].dst, s[i].routes[j].out,
                                          v->uplink_host_ip, oif);
        for (size_t i = 0; i < n; i++)
                if (!rule_present(&rules, &s[i].cidr))
                        put_rule(&b, false, &s[i].cidr, EGRESS_TABLE(s[i].cidr.addr));
        if (nlc_batch_count(&b) == 0) {
                nlc_batch_fini(&b);
                return 0;
        }
        if ((r = nlc_batch_run(&b, err)) < 0)
                return err_wrap(err, "egress of %s", v->netns);
        return 0;
}

/* ---- the host ---- */

static void ifname_prefix(struct nftnl_rule *r, uint32_t key, uint32_t op)
{
        nx_meta(r, key, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, op, UPLINK_PREFIX, strlen(UPLINK_PREFIX));
}

int knet_egress_host_ensure(struct knet *k, struct err *err)
{
        _cleanup_nlc_ struct nlc *nf = NULL;
        struct nftnl_rule *rl;
        struct nft_batch bt;
        int r;

        (void) k;
        /* the host routes between the VPC uplinks and its own interfaces */
        if ((r = sysctl_write("net.ipv4.ip_forward", "1", false, "the host netns", err)) < 0)
                return r;
        if ((r = nlc_open(NETLINK_NETFILTER, "the host netns", &nf, err)) < 0)
                return r;
        nft_batch_init(&bt, nf);
        nft_put_table(&bt, NFT_MSG_NEWTABLE, NFPROTO_IPV4, EGRESS_NFT_TABLE, NULL, 0);
        nft_put_table(&bt, NFT_MSG_DELTABLE, NFPROTO_IPV4, EGRESS_NFT_TABLE, NULL, 0);
        nft_put_table(&bt, NFT_MSG_NEWTABLE, NFPROTO_IPV4, EGRESS_NFT_TABLE, NULL, 0);
        nft_put_chain(&bt, NFPROTO_IPV4, EGRESS_NFT_TABLE, "postrouting", NF_INET_POST_ROUTING, 100, "nat", NF_ACCEPT, NULL);
        nft_put_chain(&bt, NFPROTO_IPV4, EGRESS_NFT_TABLE, "forward", NF_INET_FORWARD, 0, "filter", NF_ACCEPT, NULL);
        /* a VPC's traffic leaving the host elsewhere: behind the host's own address */
        rl = nft_rule_new(NFPROTO_IPV4, EGRESS_NFT_TABLE, "postrouting");
        ifname_prefix(rl, NFT_META_IIFNAME, NFT_CMP_EQ);
        ifname_prefix(rl, NFT_META_OIFNAME, NFT_CMP_NEQ);
        nx_masq(rl);
        nft_put_rule(&bt, rl);
        /* from one VPC into another through the host: not a way out (AWS needs peering for that) */
        rl = nft_rule_new(NFPROTO_IPV4, EGRESS_NFT_TABLE, "forward");
        ifname_prefix(rl, NFT_META_IIFNAME, NFT_CMP_EQ);
        ifname_prefix(rl, NFT_META_OIFNAME, NFT_CMP_EQ);
        nx_verdict(rl, NF_DROP, NULL);
        nft_put_rule(&bt, rl);
        if ((r = nft_batch_run(&bt, err)) < 0)
                return err_wrap(err, "table ip " EGRESS_NFT_TABLE);
        return 0;
}
