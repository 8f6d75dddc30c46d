/* knet_bridge_nat.c: the instance's table ip ecsbox_nat: DNAT maps, masquerade and forward rules, elements, UDP conntrack flush. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "knet_bridge.h"
#include "knet_bridge_int.h"
#include "nft.h"
#include "nftexpr.h"

#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_IPV4_ADDR 7
#define NFT_TYPE_BITS 6
#define SET_ID_TCP 1
#define SET_ID_UDP 2

static const char *const map_name[PM_NPROTO] = { "tcp_ports", "udp_ports" };
static const uint8_t map_l4[PM_NPROTO] = { IPPROTO_TCP, IPPROTO_UDP };

/* ---- the NAT table ---- */

static void saddr_prefix(struct nftnl_rule *r, const void *prefix, uint32_t len)
{
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, len, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, prefix, len);
}

/* fib daddr type local <l4> dport map @m: dnat to the element's ip . port */
static void rule_dnat(struct nft_batch *b, const char *chain, int proto)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_IPV4, BRIDGE_NAT_TABLE, chain);
        uint32_t local = RTN_LOCAL;

        nx_fib_daddr_type(r);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, &local, sizeof local);
        nx_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        nx_cmp8(r, NFT_CMP_EQ, map_l4[proto]);
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
        nx_map(r, NFT_REG_1, NFT_REG_1, map_name[proto], proto == PM_TCP ? SET_ID_TCP : SET_ID_UDP);
        /* the data is ip . port: the address in reg 1 (32-bit reg 0), the port in the next 32-bit register */
        nx_dnat4(r, NFT_REG_1, NFT_REG32_01);
        nft_put_rule(b, r);
}

enum fwd_rule { FWD_REPLIES, FWD_PUBLISHED, FWD_DROP };

/* Into ecsbox0 from elsewhere only what a task asked for or a published
 * port: a VPC neighbour that routes 172.17.0.0/16 via the instance must not
 * reach unpublished ports (Docker 28 drops such "direct routing" too). The
 * instance's own traffic to its tasks is output, not forward. */
static void rule_fwd(struct nft_batch *b, enum fwd_rule which)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_IPV4, BRIDGE_NAT_TABLE, "forward");

        nx_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, BRIDGE_IFNAME);
        nx_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, BRIDGE_IFNAME);
        if (which == FWD_REPLIES)
                nx_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
        else if (which == FWD_PUBLISHED)
                nx_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
        nx_verdict(r, which == FWD_DROP ? NF_DROP : NF_ACCEPT, NULL);
        nft_put_rule(b, r);
}

enum post_rule { POST_HAIRPIN, POST_LOOPBACK, POST_EGRESS };

static void rule_post(struct nft_batch *b, enum post_rule which)
{
        static const uint8_t net172[2] = { 0xac, 0x11 }, net127[1] = { 0x7f };
        struct nftnl_rule *r = nft_rule_new(NFPROTO_IPV4, BRIDGE_NAT_TABLE, "postrouting");

        switch (which) {
        case POST_HAIRPIN:
                /* a task reaching a published port (its own or a sibling's) is
                 * DNATed back onto ecsbox0: masquerade, or the peer answers it
                 * directly at L2 and the reply misses the reverse NAT */
                nx_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, BRIDGE_IFNAME);
                saddr_prefix(r, net172, sizeof net172);
                nx_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
                break;
        case POST_LOOPBACK:
                /* 127.0.0.1:hostPort from inside the instance (route_localnet on ecsbox0) */
                nx_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, BRIDGE_IFNAME);
                saddr_prefix(r, net127, sizeof net127);
                break;
        case POST_EGRESS:
                nx_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, BRIDGE_UPLINK);
                saddr_prefix(r, net172, sizeof net172);
                break;
        }
        nx_masq(r);
        nft_put_rule(b, r);
}

static void put_map(struct nft_batch *b, int proto)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_IPV4, BRIDGE_NAT_TABLE, map_name[proto], proto == PM_TCP ? SET_ID_TCP : SET_ID_UDP);

        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_INET_SERVICE);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 2);
                /* concatenation ipv4_addr . inet_service, each part padded to 4 bytes */
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, (NFT_TYPE_IPV4_ADDR << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 8);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
}

/* One message per map with the elements of that protocol among b[0..n). */
static int put_elements(struct nft_batch *bt, bool add, const struct knet_binding *b, size_t n, struct err *err)
{
        for (int p = 0; p < PM_NPROTO; p++) {
                _cleanup_free_ struct nft_elem *v = calloc(n ? n : 1, sizeof *v);
                size_t cnt = 0;

                if (!v)
                        return err_set(err, ENOMEM, NULL, "nftables elements: %s", strerror(ENOMEM));
                for (size_t i = 0; i < n; i++) {
                        uint16_t key = htons(b[i].host_port), port = htons(b[i].container_port);
                        uint32_t ip = htonl(b[i].task_ip);
                        struct nft_elem *e = &v[cnt];
                        if (b[i].proto != p)
                                continue;
                        memcpy(e->key, &key, sizeof key);
                        e->len = sizeof key;
                        if (add) {
                                memcpy(e->data, &ip, 4);
                                memcpy(e->data + 4, &port, 2);
                                e->dlen = 8;
                        }
                        cnt++;
                }
                if (cnt > 0)
                        nft_put_elems(bt, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
                                      NFPROTO_IPV4, BRIDGE_NAT_TABLE, map_name[p], 0, v, cnt);
        }
        return 0;
}

/* The whole table, replacing any table of that name, in one transaction:
 * add (so that the delete cannot fail), delete, add, maps, chains, rules, elements. */
int bridge_table_rebuild(struct nlc *nf, const struct knet_binding *b, size_t n, struct err *err)
{
        static const struct {
                const char *name, *type;
                int hook, prio;
        } chains[] = {
                { "prerouting", "nat", NF_INET_PRE_ROUTING, -100 },
                { "output", "nat", NF_INET_LOCAL_OUT, -100 },
                { "postrouting", "nat", NF_INET_POST_ROUTING, 100 },
                { "forward", "filter", NF_INET_FORWARD, 0 },
        };
        struct nft_batch bt;
        int r;

        nft_batch_init(&bt, nf);
        nft_put_table(&bt, NFT_MSG_NEWTABLE, NFPROTO_IPV4, BRIDGE_NAT_TABLE, NULL, 0);
        nft_put_table(&bt, NFT_MSG_DELTABLE, NFPROTO_IPV4, BRIDGE_NAT_TABLE, NULL, 0);
        nft_put_table(&bt, NFT_MSG_NEWTABLE, NFPROTO_IPV4, BRIDGE_NAT_TABLE, NULL, 0);
        put_map(&bt, PM_TCP);
        put_map(&bt, PM_UDP);
        for (size_t i = 0; i < ELEMENTSOF(chains); i++)
                nft_put_chain(&bt, NFPROTO_IPV4, BRIDGE_NAT_TABLE, chains[i].name, chains[i].hook, chains[i].prio,
                              chains[i].type, NF_ACCEPT, NULL);
        for (int p = 0; p < PM_NPROTO; p++) {
                rule_dnat(&bt, "prerouting", p);
                rule_dnat(&bt, "output", p);
        }
        rule_post(&bt, POST_HAIRPIN);
        rule_post(&bt, POST_LOOPBACK);
        rule_post(&bt, POST_EGRESS);
        rule_fwd(&bt, FWD_REPLIES);
        rule_fwd(&bt, FWD_PUBLISHED);
        rule_fwd(&bt, FWD_DROP);
        if ((r = put_elements(&bt, true, b, n, err)) < 0) {
                nft_batch_fini(&bt);
                return r;
        }
        return nft_batch_run(&bt, err);
}

int bridge_table_exists(struct nlc *nf, struct err *err)
{
        char buf[256] __attribute__((aligned(8)));
        struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;

        if (!t)
                return err_set(err, ENOMEM, NULL, "nftables table: %s", strerror(ENOMEM));
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, BRIDGE_NAT_TABLE);
        nlh = nft_req(buf, NFT_MSG_GETTABLE, NFPROTO_IPV4, 0);
        nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
        return nlc_call(nf, nlh, NULL, NULL, "look up table ip " BRIDGE_NAT_TABLE, err);
}

bool knet_bridge_has_table(struct knet *k, const char *instance_netns)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct err e = { 0 };
        struct nlc *nf;
        return bridge_nf(k, instance_netns, false, &nf, &tmp, &e) == 0 && bridge_table_exists(nf, &e) == 0;
}

static int elements_send(struct nlc *nf, bool add, const struct knet_binding *b, size_t n, struct err *err)
{
        struct nft_batch bt;
        int r;

        nft_batch_init(&bt, nf);
        if ((r = put_elements(&bt, add, b, n, err)) < 0) {
                nft_batch_fini(&bt);
                return r;
        }
        return nft_batch_run(&bt, err);
}

int knet_bridge_elements(struct knet *k, const char *instance_netns, bool add, const struct knet_binding *b, size_t n,
                         struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct nlc *nf;
        int r, r2 = 0;

        if (n == 0)
                return 0;
        if ((r = bridge_nf(k, instance_netns, false, &nf, &tmp, err)) < 0)
                return r;
        r = elements_send(nf, add, b, n, err);
        if (r != -ENOENT || add)
                return r;
        /* some already gone (an interrupted delete, a rebuilt table): one at a time, missing ones are fine */
        for (size_t i = 0; i < n; i++) {
                struct err e = { 0 };
                r = elements_send(nf, false, &b[i], 1, &e);
                if (r < 0 && r != -ENOENT && r2 == 0)
                        r2 = err_set(err, -r, NULL, "%s", e.msg);
        }
        return r2;
}

/* ---- UDP conntrack ---- */

struct ct_collect {
        const struct knet_binding *b;
        size_t n;
        char *buf;               /* matching CTA_TUPLE_ORIG attributes, back to back */
        size_t len, cap;
};

static int ct_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, CTA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int tuple_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, CTA_TUPLE_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int proto_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, CTA_PROTO_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int ct_dump_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct ct_collect *c = ud;
        const struct nlattr *tb[CTA_MAX + 1] = { 0 }, *tt[CTA_TUPLE_MAX + 1] = { 0 }, *pt[CTA_PROTO_MAX + 1] = { 0 };
        uint16_t dport;
        if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), ct_attr_cb, tb) < 0 || !tb[CTA_TUPLE_ORIG])
                return 0;
        if (mnl_attr_parse_nested(tb[CTA_TUPLE_ORIG], tuple_attr_cb, tt) < 0 || !tt[CTA_TUPLE_PROTO])
                return 0;
        if (mnl_attr_parse_nested(tt[CTA_TUPLE_PROTO], proto_attr_cb, pt) < 0 || !pt[CTA_PROTO_NUM] || !pt[CTA_PROTO_DST_PORT])
                return 0;
        if (mnl_attr_get_u8(pt[CTA_PROTO_NUM]) != IPPROTO_UDP)
                return 0;
        dport = ntohs(mnl_attr_get_u16(pt[CTA_PROTO_DST_PORT]));
        for (size_t i = 0; i < c->n; i++)
                if (c->b[i].proto == PM_UDP && c->b[i].host_port == dport) {
                        size_t alen = NLA_ALIGN(tb[CTA_TUPLE_ORIG]->nla_len);
                        if (c->cap - c->len < alen) {
                                size_t ncap = (c->cap ? c->cap * 2 : 4096) + alen;
                                char *nb = realloc(c->buf, ncap);
                                if (!nb)
                                        return -ENOMEM;
                                c->buf = nb;
                                c->cap = ncap;
                        }
                        memcpy(c->buf + c->len, tb[CTA_TUPLE_ORIG], tb[CTA_TUPLE_ORIG]->nla_len);
                        c->len += alen;
                        break;
                }
        return 0;
}

int knet_bridge_ct_flush_udp(struct knet *k, const char *instance_netns, const struct knet_binding *b, size_t n, struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct ct_collect c = { b, n, NULL, 0, 0 };
        struct nlc *nf;
        char buf[512] __attribute__((aligned(8)));
        struct nlmsghdr *nlh;
        struct nfgenmsg *nfg;
        size_t off;
        bool any = false;
        int r;

        for (size_t i = 0; i < n; i++)
                if (b[i].proto == PM_UDP)
                        any = true;
        if (!any)
                return 0;
        if ((r = bridge_nf(k, instance_netns, false, &nf, &tmp, err)) < 0)
                return r;
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
        nfg->nfgen_family = AF_INET;
        nfg->version = NFNETLINK_V0;
        r = nlc_call(nf, nlh, ct_dump_cb, &c, "list conntrack entries", err);
        for (off = 0; r >= 0 && off < c.len;) {
                const struct nlattr *a = (const struct nlattr *) (c.buf + off);
                struct err e = { 0 };
                nlh = mnl_nlmsg_put_header(buf);
                nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
                nlh->nlmsg_flags = NLM_F_REQUEST;
                        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
                nfg->nfgen_family = AF_INET;
                nfg->version = NFNETLINK_V0;
                if (a->nla_len + nlh->nlmsg_len <= sizeof buf) {
                        memcpy((char *) nlh + nlh->nlmsg_len, a, a->nla_len);
                        nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
                        /* gone meanwhile (it timed out): fine */
                        if (nlc_call(nf, nlh, NULL, NULL, "delete conntrack entry", &e) < 0 && e.errnum != ENOENT)
                                log_debug("msg=\"cannot delete conntrack entry, ignoring\" err=\"%s\"", e.msg);
                }
                off += NLA_ALIGN(a->nla_len);
        }
        free(c.buf);
        return r;
}
