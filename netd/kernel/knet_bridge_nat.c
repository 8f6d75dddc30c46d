/* knet_bridge_nat.c: the instance's table ip ecsbox_nat: DNAT maps, masquerade and forward rules, elements, UDP conntrack flush. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
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
#include "nftbatch.h"

#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_IPV4_ADDR 7
#define NFT_TYPE_BITS 6
#define SET_ID_TCP 1
#define SET_ID_UDP 2

static const char *const map_name[PM_NPROTO] = { "tcp_ports", "udp_ports" };
static const uint8_t map_l4[PM_NPROTO] = { IPPROTO_TCP, IPPROTO_UDP };

DEFINE_TRIVIAL_CLEANUP(struct nftnl_table *, nftnl_table_free)
DEFINE_TRIVIAL_CLEANUP(struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP(struct nftnl_rule *, nftnl_rule_free)
DEFINE_TRIVIAL_CLEANUP(struct nftnl_set *, nftnl_set_free)

/* ---- the NAT table ---- */

static struct nftnl_expr *e_new(const char *name)
{
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e)
                abort();    /* ENOMEM on a few bytes */
        return e;
}

static void r_cmp(struct nftnl_rule *r, enum nft_cmp_ops op, const void *data, uint32_t len)
{
        struct nftnl_expr *e = e_new("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r, e);
}

static void r_meta(struct nftnl_rule *r, uint32_t key)
{
        struct nftnl_expr *e = e_new("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

static void r_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
        struct nftnl_expr *e = e_new("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

static void r_oifname(struct nftnl_rule *r, const char *name)
{
        char ifn[IFNAMSIZ] = { 0 };
        snprintf(ifn, sizeof ifn, "%s", name);
        r_meta(r, NFT_META_OIFNAME);
        r_cmp(r, NFT_CMP_EQ, ifn, sizeof ifn);
}

static void r_saddr_prefix(struct nftnl_rule *r, const void *prefix, uint32_t len)
{
        r_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, len);
        r_cmp(r, NFT_CMP_EQ, prefix, len);
}

/* fib daddr type local <l4> dport map @m: dnat to the element's ip . port */
static void rule_dnat(struct nftnl_rule *r, int proto)
{
        struct nftnl_expr *e = e_new("fib");
        uint32_t local = RTN_LOCAL;
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
        nftnl_rule_add_expr(r, e);
        r_cmp(r, NFT_CMP_EQ, &local, sizeof local);
        r_meta(r, NFT_META_L4PROTO);
        r_cmp(r, NFT_CMP_EQ, &map_l4[proto], 1);
        r_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        e = e_new("lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_1);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map_name[proto]);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, proto == PM_TCP ? SET_ID_TCP : SET_ID_UDP);
        nftnl_rule_add_expr(r, e);
        /* the data is ip . port: the address in reg 1 (32-bit reg 0), the port in the next 32-bit register */
        e = e_new("nat");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
        nftnl_rule_add_expr(r, e);
}

/* ct <key> & mask != 0 */
static void r_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t mask)
{
        struct nftnl_expr *e = e_new("ct");
        uint32_t zero = 0;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        e = e_new("bitwise");
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof mask);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof mask);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof zero);
        nftnl_rule_add_expr(r, e);
        r_cmp(r, NFT_CMP_NEQ, &zero, sizeof zero);
}

static void r_verdict(struct nftnl_rule *r, int verdict)
{
        struct nftnl_expr *e = e_new("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) verdict);
        nftnl_rule_add_expr(r, e);
}

enum fwd_rule { FWD_REPLIES, FWD_PUBLISHED, FWD_DROP };

/* Into ecsbox0 from elsewhere only what a task asked for or a published
 * port: a VPC neighbour that routes 172.17.0.0/16 via the instance must not
 * reach unpublished ports (Docker 28 drops such "direct routing" too). The
 * instance's own traffic to its tasks is output, not forward. */
static void rule_fwd(struct nftnl_rule *r, enum fwd_rule which)
{
        char ifn[IFNAMSIZ] = { 0 };
        snprintf(ifn, sizeof ifn, "%s", BRIDGE_IFNAME);
        r_oifname(r, BRIDGE_IFNAME);
        r_meta(r, NFT_META_IIFNAME);
        r_cmp(r, NFT_CMP_NEQ, ifn, sizeof ifn);
        if (which == FWD_REPLIES)
                r_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
        else if (which == FWD_PUBLISHED)
                r_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
        r_verdict(r, which == FWD_DROP ? NF_DROP : NF_ACCEPT);
}

enum post_rule { POST_HAIRPIN, POST_LOOPBACK, POST_EGRESS };

static void rule_post(struct nftnl_rule *r, enum post_rule which)
{
        static const uint8_t net172[2] = { 0xac, 0x11 }, net127[1] = { 0x7f };
        switch (which) {
        case POST_HAIRPIN:
                /* a task reaching a published port (its own or a sibling's) is
                 * DNATed back onto ecsbox0: masquerade, or the peer answers it
                 * directly at L2 and the reply misses the reverse NAT */
                r_oifname(r, BRIDGE_IFNAME);
                r_saddr_prefix(r, net172, sizeof net172);
                r_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
                break;
        case POST_LOOPBACK:
                /* 127.0.0.1:hostPort from inside the instance (route_localnet on ecsbox0) */
                r_oifname(r, BRIDGE_IFNAME);
                r_saddr_prefix(r, net127, sizeof net127);
                break;
        case POST_EGRESS:
                r_oifname(r, BRIDGE_UPLINK);
                r_saddr_prefix(r, net172, sizeof net172);
                break;
        }
        nftnl_rule_add_expr(r, e_new("masq"));
}

/* dnat_proto >= 0: the DNAT rule of that protocol; else post >= 0: that postrouting rule; else forward rule -post - 1. */
static int put_rule(struct nftb *b, const char *chain, int dnat_proto, int post, struct err *err)
{
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        struct nlmsghdr *nlh;
        if (!r)
                return err_set(err, ENOMEM, NULL, "nftables rule: %s", strerror(ENOMEM));
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, BRIDGE_NAT_TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        if (dnat_proto >= 0)
                rule_dnat(r, dnat_proto);
        else if (post >= 0)
                rule_post(r, (enum post_rule) post);
        else
                rule_fwd(r, (enum fwd_rule) (-post - 1));
        nlh = nftb_add(b, NFT_MSG_NEWRULE, NFPROTO_IPV4, NLM_F_CREATE | NLM_F_APPEND, 1024, "add rule to chain %s of table ip " BRIDGE_NAT_TABLE, chain);
        if (!nlh)
                return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
        nftnl_rule_nlmsg_build_payload(nlh, r);
        return 0;
}

static int put_chain(struct nftb *b, const char *name, const char *type, uint32_t hook, int32_t prio, struct err *err)
{
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh;
        if (!c)
                return err_set(err, ENOMEM, NULL, "nftables chain: %s", strerror(ENOMEM));
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_IPV4);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, BRIDGE_NAT_TABLE);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
        nlh = nftb_add(b, NFT_MSG_NEWCHAIN, NFPROTO_IPV4, NLM_F_CREATE, 512, "add chain %s to table ip " BRIDGE_NAT_TABLE, name);
        if (!nlh)
                return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
        nftnl_chain_nlmsg_build_payload(nlh, c);
        return 0;
}

static struct nftnl_set *set_new(int proto)
{
        struct nftnl_set *s = nftnl_set_alloc();
        if (!s)
                return NULL;
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, BRIDGE_NAT_TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, map_name[proto]);
        return s;
}

static int put_set(struct nftb *b, int proto, struct err *err)
{
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(proto);
        struct nlmsghdr *nlh;
        if (!s)
                return err_set(err, ENOMEM, NULL, "nftables set: %s", strerror(ENOMEM));
        nftnl_set_set_u32(s, NFTNL_SET_ID, proto == PM_TCP ? SET_ID_TCP : SET_ID_UDP);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_INET_SERVICE);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 2);
        /* concatenation ipv4_addr . inet_service, each part padded to 4 bytes */
        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, (NFT_TYPE_IPV4_ADDR << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 8);
        nlh = nftb_add(b, NFT_MSG_NEWSET, NFPROTO_IPV4, NLM_F_CREATE, 512, "add map %s to table ip " BRIDGE_NAT_TABLE, map_name[proto]);
        if (!nlh)
                return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
        nftnl_set_nlmsg_build_payload(nlh, s);
        return 0;
}

static int put_table_msg(struct nftb *b, uint16_t type, struct err *err)
{
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;
        if (!t)
                return err_set(err, ENOMEM, NULL, "nftables table: %s", strerror(ENOMEM));
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_IPV4);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, BRIDGE_NAT_TABLE);
        nlh = nftb_add(b, type, NFPROTO_IPV4, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, 256, "%s table ip " BRIDGE_NAT_TABLE,
                       type == NFT_MSG_NEWTABLE ? "add" : "delete");
        if (!nlh)
                return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
        nftnl_table_nlmsg_build_payload(nlh, t);
        return 0;
}

/* One message per map with the elements of that protocol among b[0..n). */
static int put_elements(struct nftb *bt, bool add, const struct knet_binding *b, size_t n, struct err *err)
{
        for (int p = 0; p < PM_NPROTO; p++) {
                _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(p);
                struct nlmsghdr *nlh;
                size_t cnt = 0;
                if (!s)
                        return err_set(err, ENOMEM, NULL, "nftables set: %s", strerror(ENOMEM));
                for (size_t i = 0; i < n; i++) {
                        struct nftnl_set_elem *e;
                        uint16_t key = htons(b[i].host_port);
                        uint8_t data[8] = { 0 };
                        uint32_t ip = htonl(b[i].task_ip);
                        uint16_t port = htons(b[i].container_port);
                        if (b[i].proto != p)
                                continue;
                        if (!(e = nftnl_set_elem_alloc()))
                                return err_set(err, ENOMEM, NULL, "nftables element: %s", strerror(ENOMEM));
                        memcpy(data, &ip, 4);
                        memcpy(data + 4, &port, 2);
                        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &key, sizeof key);
                        if (add)
                                nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, sizeof data);
                        nftnl_set_elem_add(s, e);
                        cnt++;
                }
                if (cnt == 0)
                        continue;
                nlh = nftb_add(bt, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, NFPROTO_IPV4, add ? NLM_F_CREATE | NLM_F_EXCL : 0,
                               128 + cnt * 96, "%s %zu element(s) %s map %s", add ? "add" : "delete", cnt, add ? "to" : "from",
                               map_name[p]);
                if (!nlh)
                        return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
        }
        return 0;
}

/* The whole table, replacing any table of that name, in one transaction:
 * add (so that the delete cannot fail), delete, add, maps, chains, rules, elements. */
int bridge_table_rebuild(struct nfsock *nf, const struct knet_binding *b, size_t n, struct err *err)
{
        struct nftb bt;
        int r;

        if ((r = nftb_init(&bt, nf, err)) < 0)
                return r;
        if ((r = put_table_msg(&bt, NFT_MSG_NEWTABLE, err)) < 0 || (r = put_table_msg(&bt, NFT_MSG_DELTABLE, err)) < 0 ||
            (r = put_table_msg(&bt, NFT_MSG_NEWTABLE, err)) < 0 || (r = put_set(&bt, PM_TCP, err)) < 0 ||
            (r = put_set(&bt, PM_UDP, err)) < 0 ||
            (r = put_chain(&bt, "prerouting", "nat", NF_INET_PRE_ROUTING, -100, err)) < 0 ||
            (r = put_chain(&bt, "output", "nat", NF_INET_LOCAL_OUT, -100, err)) < 0 ||
            (r = put_chain(&bt, "postrouting", "nat", NF_INET_POST_ROUTING, 100, err)) < 0 ||
            (r = put_chain(&bt, "forward", "filter", NF_INET_FORWARD, 0, err)) < 0)
                goto out;
        for (int p = 0; p < PM_NPROTO; p++)
                if ((r = put_rule(&bt, "prerouting", p, 0, err)) < 0 || (r = put_rule(&bt, "output", p, 0, err)) < 0)
                        goto out;
        if ((r = put_rule(&bt, "postrouting", -1, POST_HAIRPIN, err)) < 0 ||
            (r = put_rule(&bt, "postrouting", -1, POST_LOOPBACK, err)) < 0 ||
            (r = put_rule(&bt, "postrouting", -1, POST_EGRESS, err)) < 0 ||
            (r = put_rule(&bt, "forward", -1, -1 - FWD_REPLIES, err)) < 0 ||
            (r = put_rule(&bt, "forward", -1, -1 - FWD_PUBLISHED, err)) < 0 ||
            (r = put_rule(&bt, "forward", -1, -1 - FWD_DROP, err)) < 0 || (r = put_elements(&bt, true, b, n, err)) < 0)
                goto out;
        r = nftb_send(&bt, err);
out:
        nftb_fini(&bt);
        return r;
}

int bridge_table_exists(struct nfsock *nf, struct err *err)
{
        char buf[256] __attribute__((aligned(8)));
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;
        if (!t)
                return err_set(err, ENOMEM, NULL, "nftables table: %s", strerror(ENOMEM));
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, BRIDGE_NAT_TABLE);
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_IPV4, NLM_F_ACK, nfsock_seq_next(nf));
        nftnl_table_nlmsg_build_payload(nlh, t);
        return nfsock_call(nf, nlh, NULL, NULL, "look up table ip " BRIDGE_NAT_TABLE, err);
}

bool knet_bridge_has_table(struct knet *k, const char *instance_netns)
{
        _cleanup_nfsock_ struct nfsock *nf = NULL;
        struct err e = { 0 };
        return bridge_nfsock(k, instance_netns, false, &nf, &e) == 0 && bridge_table_exists(nf, &e) == 0;
}

int knet_bridge_elements(struct knet *k, const char *instance_netns, bool add, const struct knet_binding *b, size_t n,
                         struct err *err)
{
        _cleanup_nfsock_ struct nfsock *nf = NULL;
        struct nftb bt;
        int r;

        if (n == 0)
                return 0;
        if ((r = bridge_nfsock(k, instance_netns, false, &nf, err)) < 0)
                return r;
        if ((r = nftb_init(&bt, nf, err)) < 0)
                return r;
        if ((r = put_elements(&bt, add, b, n, err)) >= 0)
                r = nftb_send(&bt, err);
        nftb_fini(&bt);
        if (r == -ENOENT && !add) {
                /* some already gone (an interrupted delete, a rebuilt table): one at a time, missing ones are fine */
                int r2 = 0;
                for (size_t i = 0; i < n; i++) {
                        struct err e = { 0 };
                        if ((r = nftb_init(&bt, nf, err)) < 0)
                                return r;
                        if ((r = put_elements(&bt, false, &b[i], 1, &e)) >= 0)
                                r = nftb_send(&bt, &e);
                        nftb_fini(&bt);
                        if (r < 0 && r != -ENOENT && r2 == 0)
                                r2 = err_set(err, -r, NULL, "%s", e.msg);
                }
                return r2;
        }
        return r;
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
        _cleanup_nfsock_ struct nfsock *nf = NULL;
        struct ct_collect c = { b, n, NULL, 0, 0 };
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
        if ((r = bridge_nfsock(k, instance_netns, false, &nf, err)) < 0)
                return r;
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = nfsock_seq_next(nf);
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
        nfg->nfgen_family = AF_INET;
        nfg->version = NFNETLINK_V0;
        r = nfsock_call(nf, nlh, ct_dump_cb, &c, "list conntrack entries", err);
        for (off = 0; r >= 0 && off < c.len;) {
                const struct nlattr *a = (const struct nlattr *) (c.buf + off);
                struct err e = { 0 };
                nlh = mnl_nlmsg_put_header(buf);
                nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
                nlh->nlmsg_flags = NLM_F_REQUEST;
                nlh->nlmsg_seq = nfsock_seq_next(nf);
                nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
                nfg->nfgen_family = AF_INET;
                nfg->version = NFNETLINK_V0;
                if (a->nla_len + nlh->nlmsg_len <= sizeof buf) {
                        memcpy((char *) nlh + nlh->nlmsg_len, a, a->nla_len);
                        nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
                        /* gone meanwhile (it timed out): fine */
                        if (nfsock_call(nf, nlh, NULL, NULL, "delete conntrack entry", &e) < 0 && e.errnum != ENOENT)
                                log_debug("msg=\"cannot delete conntrack entry, ignoring\" err=\"%s\"", e.msg);
                }
                off += NLA_ALIGN(a->nla_len);
        }
        free(c.buf);
        return r;
}
