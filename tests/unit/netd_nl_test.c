/* netd_nl_test.c: the netlink core and rtnetlink: link parsing, batch message building with libnl, nft framing and read-only requests (no privileges, no changes). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/veth.h>
#include <linux/ip.h>
#include <linux/neighbour.h>

#include "../../netd/kernel/nft.h"
#include "../../netd/kernel/rtnl.h"


/* Just enough netlink message handling to build and read test messages (libmnl stays inside netd/kernel/). */
static struct nlmsghdr *t_put_header(void *buf)
{
        struct nlmsghdr *nlh = buf;
        memset(nlh, 0, NLMSG_HDRLEN);
        nlh->nlmsg_len = NLMSG_HDRLEN;
        return nlh;
}

static void *t_put_extra(struct nlmsghdr *nlh, size_t len)
{
        char *p = (char *) nlh + nlh->nlmsg_len;
        memset(p, 0, NLMSG_ALIGN(len));
        nlh->nlmsg_len += NLMSG_ALIGN(len);
        return p;
}

static struct nlattr *t_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
        struct nlattr *a = (struct nlattr *) ((char *) nlh + nlh->nlmsg_len);
        a->nla_type = type;
        a->nla_len = (uint16_t) (NLA_HDRLEN + len);
        if (len)
                memcpy((char *) a + NLA_HDRLEN, data, len);
        memset((char *) a + NLA_HDRLEN + len, 0, NLA_ALIGN(a->nla_len) - a->nla_len);
        nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
        return a;
}

static void t_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
        t_put(nlh, type, sizeof v, &v);
}

static void t_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *s)
{
        t_put(nlh, type, strlen(s) + 1, s);
}

static struct nlattr *t_nest_start(struct nlmsghdr *nlh, uint16_t type)
{
        return t_put(nlh, type | NLA_F_NESTED, 0, NULL);
}

static void t_nest_end(struct nlmsghdr *nlh, struct nlattr *a)
{
        a->nla_len = (uint16_t) ((char *) nlh + nlh->nlmsg_len - (char *) a);
}

static const void *t_payload(const struct nlmsghdr *nlh)
{
        return (const char *) nlh + NLMSG_HDRLEN;
}

static uint16_t t_type(const struct nlattr *a)
{
        return a->nla_type & NLA_TYPE_MASK;
}

static const void *t_apayload(const struct nlattr *a)
{
        return (const char *) a + NLA_HDRLEN;
}

static size_t t_alen(const struct nlattr *a)
{
        return a->nla_len - NLA_HDRLEN;
}

static uint32_t t_u32(const struct nlattr *a)
{
        uint32_t v;
        memcpy(&v, t_apayload(a), sizeof v);
        return v;
}

static const char *t_str(const struct nlattr *a)
{
        return t_apayload(a);
}

/* the attribute of type in [p, p + len), or NULL */
static const struct nlattr *t_find(const void *p, size_t len, uint16_t type)
{
        const struct nlattr *a = p;
        while (len >= (size_t) NLA_HDRLEN && a->nla_len >= (uint16_t) NLA_HDRLEN && a->nla_len <= len) {
                if (t_type(a) == type)
                        return a;
                len -= (size_t) NLA_ALIGN(a->nla_len) < len ? (size_t) NLA_ALIGN(a->nla_len) : len;
                a = (const struct nlattr *) ((const char *) a + NLA_ALIGN(a->nla_len));
        }
        return NULL;
}

static int t_count(const void *p, size_t len)
{
        const struct nlattr *a = p;
        int n = 0;
        while (len >= (size_t) NLA_HDRLEN && a->nla_len >= (uint16_t) NLA_HDRLEN && a->nla_len <= len) {
                n++;
                len -= (size_t) NLA_ALIGN(a->nla_len) < len ? (size_t) NLA_ALIGN(a->nla_len) : len;
                a = (const struct nlattr *) ((const char *) a + NLA_ALIGN(a->nla_len));
        }
        return n;
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type)
{
        struct nlmsghdr *nlh = t_put_header(buf);
        struct ifinfomsg *ifm;
        struct nlattr *li;
        static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

        nlh->nlmsg_type = type;
        ifm = t_put_extra(nlh, sizeof *ifm);
        ifm->ifi_index = 7;
        ifm->ifi_flags = IFF_UP;
        t_put_strz(nlh, IFLA_IFNAME, "v0123456789abcd");
        t_put(nlh, IFLA_ADDRESS, 6, mac);
        t_put_u32(nlh, IFLA_MASTER, 3);
        t_put_u32(nlh, IFLA_LINK, 9);
        t_put_u32(nlh, IFLA_MAX + 5, 42);     /* newer than our headers: ignored */
        li = t_nest_start(nlh, IFLA_LINKINFO);
        t_put_strz(nlh, IFLA_INFO_KIND, "veth");
        t_nest_end(nlh, li);
        return nlh;
}

static void test_link_parse(void **state)
{
        char buf[512] __attribute__((aligned(8))) = { 0 };
        struct rt_link l;

        assert_int_equal(rt_link_parse(link_msg(buf, RTM_NEWLINK), &l), 0);
        assert_int_equal(l.index, 7);
        assert_true(l.flags & IFF_UP);
        assert_string_equal(l.name, "v0123456789abcd");
        assert_string_equal(l.kind, "veth");
        assert_true(l.has_mac);
        assert_int_equal(l.mac[0], 2);
        assert_int_equal(l.mac[5], 1);
        assert_int_equal(l.master, 3);
        assert_int_equal(l.link, 9);
}

static void test_link_parse_bad(void **state)
{
        char buf[512] __attribute__((aligned(8))) = { 0 };
        struct nlmsghdr *nlh;
        struct rt_link l;

        assert_int_equal(rt_link_parse(link_msg(buf, RTM_DELLINK), &l), -EBADMSG);
        /* no room for the ifinfomsg */
        nlh = t_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        assert_int_equal(rt_link_parse(nlh, &l), -EBADMSG);
        /* a 4-byte address is not a MAC */
        nlh = t_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        t_put_extra(nlh, sizeof(struct ifinfomsg));
        t_put_u32(nlh, IFLA_ADDRESS, 0x01020304);
        assert_int_equal(rt_link_parse(nlh, &l), 0);
        assert_false(l.has_mac);
        assert_string_equal(l.kind, "");
}

static const struct nlattr *attr(const struct nlmsghdr *nlh, size_t hdrlen, uint16_t type)
{
        size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);
        return t_find((const char *) nlh + off, nlh->nlmsg_len - off, type);
}

static void test_batch_messages(void **state)
{
        _cleanup_nlc_ struct nlc *n = NULL;
        struct err err = { 0 };
        struct nlc_batch b;
        const struct nlmsghdr *m;
        const struct ifaddrmsg *ifa;
        const struct rtmsg *rtm;
        uint32_t ip;

        assert_int_equal(nlc_open(NETLINK_ROUTE, "the test netns", &n, &err), 0);
        nlc_batch_init(&b, n, 0);
        rt_put_addr4(&b, 5, "eth0", 0x0a000104, 24, false);
        rt_put_route4(&b, false, 0, 0, 0x0a000101, 5, false);
        rt_put_route4(&b, true, 0x0a000000, 16, 0x64400002, 0, false);
        rt_put_link_del(&b, "v0123");
        assert_int_equal(b.n, 4);
        assert_string_equal(b.msg[0].what, "add address 10.0.1.4/24 to 'eth0'");
        assert_string_equal(b.msg[1].what, "add default route via 10.0.1.1");
        assert_string_equal(b.msg[2].what, "delete route 10.0.0.0/16 via 100.64.0.2");
        assert_string_equal(b.msg[3].what, "delete link 'v0123'");
        /* idempotent deletes: a missing route or link is success */
        assert_int_equal(b.msg[2].ok[0], ESRCH);
        assert_int_equal(b.msg[3].ok[0], ENODEV);
        assert_int_equal(b.msg[0].ok[0], 0);

        m = (const struct nlmsghdr *) b.buf;
        assert_int_equal(m->nlmsg_type, RTM_NEWADDR);
        assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        ifa = t_payload(m);
        assert_int_equal(ifa->ifa_index, 5);
        assert_int_equal(ifa->ifa_prefixlen, 24);
        ip = t_u32(attr(m, sizeof *ifa, IFA_LOCAL));
        assert_int_equal(ntohl(ip), 0x0a000104);
        ip = t_u32(attr(m, sizeof *ifa, IFA_BROADCAST));
        assert_int_equal(ntohl(ip), 0x0a0001ff);

        m = (const struct nlmsghdr *) ((const char *) m + NLMSG_ALIGN(m->nlmsg_len));
        assert_int_equal(m->nlmsg_type, RTM_NEWROUTE);
        rtm = t_payload(m);
        assert_int_equal(rtm->rtm_dst_len, 0);
        assert_null(attr(m, sizeof *rtm, RTA_DST));
        assert_int_equal(ntohl(t_u32(attr(m, sizeof *rtm, RTA_GATEWAY))), 0x0a000101);
        assert_int_equal(t_u32(attr(m, sizeof *rtm, RTA_OIF)), 5);

        m = (const struct nlmsghdr *) ((const char *) m + NLMSG_ALIGN(m->nlmsg_len));
        assert_int_equal(m->nlmsg_type, RTM_DELROUTE);
        rtm = t_payload(m);
        assert_int_equal(rtm->rtm_dst_len, 16);
        assert_int_equal(rtm->rtm_protocol, RTPROT_UNSPEC);  /* matches any protocol */
        assert_int_equal(ntohl(t_u32(attr(m, sizeof *rtm, RTA_DST))), 0x0a000000);
        /* one seq per message, from the socket's counter */
        assert_int_equal(m->nlmsg_seq, ((const struct nlmsghdr *) b.buf)->nlmsg_seq + 2);
        nlc_batch_fini(&b);
}


static const struct nlmsghdr *next_msg(const struct nlmsghdr *m)
{
        return (const struct nlmsghdr *) ((const char *) m + NLMSG_ALIGN(m->nlmsg_len));
}

static const struct nlattr *nested(const struct nlattr *nest, uint16_t type)
{
        return t_find(t_apayload(nest), t_alen(nest), type);
}

static const uint8_t test_mac[6] = { 2, 0, 0, 0, 0, 9 };

/* veth, macvlan, bridge, link changes and a neighbour, built as libnl objects, in one batch */
static void links_build(struct nlc_batch *b, struct nlc **ret)
{
        static const struct rt_inet_conf conf[] = { { IPV4_DEVCONF_ARP_NOTIFY, 1 }, { 0, 0 } };
        const uint8_t *mac = test_mac;
        struct err err = { 0 };

        assert_int_equal(nlc_open(NETLINK_ROUTE, "the test netns", ret, &err), 0);
        nlc_batch_init(b, *ret, 0);
        rt_put_veth(b, "v0123", 4, "eth0", mac, 7, "netns 't'");
        rt_put_macvlan(b, "eth0", 5, "m0123", mac, 7, "netns 't'");
        rt_put_bridge(b, "b0123", mac);
        rt_put_link_set(b, 6, "eth0", true, NULL, -1, conf);
        rt_put_link_set(b, 0, "n0123", true, mac, 3, NULL);
        rt_put_neigh4(b, 8, "ecsbox0", 0xac110005, mac);
        assert_int_equal(b->build_err, 0);
        assert_int_equal(nlc_batch_count(b), 6);
        assert_string_equal(b->msg[0].what, "create veth 'v0123' (peer 'eth0' in netns 't')");
        assert_string_equal(b->msg[1].what, "create macvlan 'eth0' on 'm0123' in netns 't'");
        assert_string_equal(b->msg[2].what, "create bridge 'b0123'");
        assert_string_equal(b->msg[3].what, "set link 'eth0' up");
        assert_string_equal(b->msg[4].what, "set link 'n0123' up, MAC 02:00:00:00:00:09, master ifindex 3");
        assert_string_equal(b->msg[5].what, "set neighbour 172.17.0.5 on 'ecsbox0'");
}

static const struct nlmsghdr *msg_at(const struct nlc_batch *b, unsigned i)
{
        const struct nlmsghdr *m = (const struct nlmsghdr *) b->buf;
        while (i--)
                m = next_msg(m);
        return m;
}

/* No flag changed but IFF_UP (libnl's add request would otherwise ask for every flag, clearing IFF_MULTICAST). */
static void test_veth_message(void **state)
{
        const uint8_t *mac = test_mac;
        _cleanup_nlc_ struct nlc *n = NULL;
        const struct nlattr *li, *data, *peer, *a;
        const struct ifinfomsg *ifm, *pifm;
        const struct nlmsghdr *m;
        struct nlc_batch b;

        links_build(&b, &n);
        /* veth: up with master 4, the peer eth0 born in fd 7 with the MAC, not up */
        m = msg_at(&b, 0);
        assert_int_equal(m->nlmsg_type, RTM_NEWLINK);
        assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        ifm = t_payload(m);
        assert_int_equal(ifm->ifi_flags, IFF_UP);
        assert_int_equal(ifm->ifi_change, IFF_UP);
        assert_string_equal(t_str(attr(m, sizeof *ifm, IFLA_IFNAME)), "v0123");
        assert_int_equal(t_u32(attr(m, sizeof *ifm, IFLA_MASTER)), 4);
        li = attr(m, sizeof *ifm, IFLA_LINKINFO);
        assert_non_null(li);
        assert_string_equal(t_str(nested(li, IFLA_INFO_KIND)), "veth");
        data = nested(li, IFLA_INFO_DATA);
        peer = data ? nested(data, VETH_INFO_PEER) : NULL;
        assert_non_null(peer);
        pifm = t_apayload(peer);
        assert_int_equal(pifm->ifi_flags & IFF_UP, 0);
        {
                bool name = false, ns = false, addr = false;
                const char *pa = (const char *) pifm + NLMSG_ALIGN(sizeof *pifm);
                size_t plen = t_alen(peer) - NLMSG_ALIGN(sizeof *pifm);
                if ((a = t_find(pa, plen, IFLA_IFNAME)))
                        name = strcmp(t_str(a), "eth0") == 0;
                if ((a = t_find(pa, plen, IFLA_NET_NS_FD)))
                        ns = t_u32(a) == 7;
                if ((a = t_find(pa, plen, IFLA_ADDRESS)))
                        addr = t_alen(a) == 6 && memcmp(t_apayload(a), mac, 6) == 0;
                assert_true(name && ns && addr);
        }

        nlc_batch_fini(&b);
}

static void test_macvlan_bridge_messages(void **state)
{
        const uint8_t *mac = test_mac;
        _cleanup_nlc_ struct nlc *n = NULL;
        const struct ifinfomsg *ifm;
        const struct nlmsghdr *m;
        const struct nlattr *li;
        struct nlc_batch b;

        links_build(&b, &n);
        /* macvlan: bridge mode on lower 5, in fd 7, no flag touched */
        m = msg_at(&b, 1);
        ifm = t_payload(m);
        assert_int_equal(ifm->ifi_change, 0);
        assert_int_equal(t_u32(attr(m, sizeof *ifm, IFLA_LINK)), 5);
        assert_int_equal(t_u32(attr(m, sizeof *ifm, IFLA_NET_NS_FD)), 7);
        li = attr(m, sizeof *ifm, IFLA_LINKINFO);
        assert_string_equal(t_str(nested(li, IFLA_INFO_KIND)), "macvlan");
        assert_int_equal(t_u32(nested(nested(li, IFLA_INFO_DATA), IFLA_MACVLAN_MODE)), MACVLAN_MODE_BRIDGE);

        /* bridge: made or repaired (no EXCL), up, pinned MAC, forward_delay 0 */
        m = msg_at(&b, 2);
        assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
        ifm = t_payload(m);
        assert_int_equal(ifm->ifi_change, IFF_UP);
        assert_memory_equal(t_apayload(attr(m, sizeof *ifm, IFLA_ADDRESS)), mac, 6);
        li = attr(m, sizeof *ifm, IFLA_LINKINFO);
        assert_string_equal(t_str(nested(li, IFLA_INFO_KIND)), "bridge");
        assert_int_equal(t_u32(nested(nested(li, IFLA_INFO_DATA), IFLA_BR_FORWARD_DELAY)), 0);

        nlc_batch_fini(&b);
}

static void test_link_change_messages(void **state)
{
        const uint8_t *mac = test_mac;
        _cleanup_nlc_ struct nlc *n = NULL;
        const struct nlattr *af, *inet, *ic;
        const struct ifinfomsg *ifm;
        const struct nlmsghdr *m;
        struct nlc_batch b;

        links_build(&b, &n);
        /* a change by index: up, and arp_notify through IFLA_AF_SPEC, nothing else */
        m = msg_at(&b, 3);
        assert_int_equal(m->nlmsg_type, RTM_NEWLINK);
        assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
        ifm = t_payload(m);
        assert_int_equal(ifm->ifi_index, 6);
        assert_int_equal(ifm->ifi_flags, IFF_UP);
        assert_int_equal(ifm->ifi_change, IFF_UP);
        assert_null(attr(m, sizeof *ifm, IFLA_IFNAME));
        af = attr(m, sizeof *ifm, IFLA_AF_SPEC);
        inet = af ? nested(af, AF_INET) : NULL;
        ic = inet ? nested(inet, IFLA_INET_CONF) : NULL;
        assert_non_null(ic);
        assert_int_equal(t_u32(nested(ic, IPV4_DEVCONF_ARP_NOTIFY)), 1);
        {
                assert_int_equal(t_count(t_apayload(ic), t_alen(ic)), 1);
        }

        /* a change by name: MAC and master */
        m = msg_at(&b, 4);
        ifm = t_payload(m);
        assert_int_equal(ifm->ifi_index, 0);
        assert_string_equal(t_str(attr(m, sizeof *ifm, IFLA_IFNAME)), "n0123");
        assert_int_equal(t_u32(attr(m, sizeof *ifm, IFLA_MASTER)), 3);
        assert_memory_equal(t_apayload(attr(m, sizeof *ifm, IFLA_ADDRESS)), mac, 6);

        nlc_batch_fini(&b);
}

static void test_neigh_message(void **state)
{
        const uint8_t *mac = test_mac;
        _cleanup_nlc_ struct nlc *n = NULL;
        const struct nlmsghdr *m;
        struct nlc_batch b;

        links_build(&b, &n);
        /* neighbour: reachable, replaced */
        m = msg_at(&b, 5);
        assert_int_equal(m->nlmsg_type, RTM_NEWNEIGH);
        assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
        {
                const struct ndmsg *nd = t_payload(m);
                assert_int_equal(nd->ndm_family, AF_INET);
                assert_int_equal(nd->ndm_ifindex, 8);
                assert_int_equal(nd->ndm_state, NUD_REACHABLE);
                assert_int_equal(nd->ndm_type, RTN_UNICAST);
                assert_int_equal(ntohl(t_u32(attr(m, sizeof *nd, NDA_DST))), 0xac110005);
                assert_memory_equal(t_apayload(attr(m, sizeof *nd, NDA_LLADDR)), mac, 6);
        }
        nlc_batch_fini(&b);
}

/* An nf_tables batch: BEGIN and END frames around the messages, one seq each, every message acked. */
static void test_nft_framing(void **state)
{
        struct nft_batch b;
        const struct nlmsghdr *m;
        const struct nfgenmsg *nfg;
        struct err err = { 0 };

        nft_batch_init(&b, NULL);       /* counted, never sent */
        nft_put_table(&b, NFT_MSG_NEWTABLE, NFPROTO_INET, "t", NULL, 0);
        nft_put_rule(&b, nft_rule_new(NFPROTO_INET, "t", "c"));
        assert_int_equal(nlc_batch_count(&b.b), 2);
        assert_int_equal(b.rules, 1);
        assert_string_equal(b.b.msg[0].what, "create table inet t");
        assert_string_equal(b.b.msg[1].what, "add rule to chain 'c' of table inet t");
        m = (const struct nlmsghdr *) b.b.buf;
        assert_int_equal(m->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
        nfg = t_payload(m);
        assert_int_equal(ntohs(nfg->res_id), NFNL_SUBSYS_NFTABLES);
        m = next_msg(m);
        assert_int_equal(m->nlmsg_type, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE);
        assert_true(m->nlmsg_flags & NLM_F_ACK);
        assert_int_equal(m->nlmsg_seq, b.b.seq0);
        m = next_msg(m);
        assert_int_equal(m->nlmsg_type, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE);
        assert_int_equal(m->nlmsg_seq, b.b.seq0 + 1);
        /* a batch without a socket cannot be sent */
        assert_int_equal(nft_batch_run(&b, &err), -EINVAL);
}

/* Read-only requests against the kernel: need no privileges and change nothing. */
static int count_lo(const struct rt_link *l, void *ud)
{
        if (strcmp(l->name, "lo") == 0)
                ++*(int *) ud;
        return 0;
}

static void reset(void *ud)
{
        *(int *) ud = 0;
}

static void test_kernel_read_only(void **state)
{
        _cleanup_nlc_ struct nlc *n = NULL;
        struct err err = { 0 };
        struct rt_link l;
        int found = -1;

        assert_int_equal(nlc_open(NETLINK_ROUTE, "the test netns", &n, &err), 0);
        assert_int_equal(rt_link_get(n, "lo", &l, &err), 0);
        assert_int_equal(l.index, 1);
        assert_int_equal(rt_link_get(n, "ebxnosuchlink0", &l, &err), -ENODEV);
        assert_int_equal(err.errnum, ENODEV);
        assert_non_null(strstr(err.msg, "look up link 'ebxnosuchlink0' in the test netns: No such device"));
        assert_int_equal(rt_link_dump(n, count_lo, reset, &found, &err), 0);
        assert_int_equal(found, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_link_parse),
                cmocka_unit_test(test_link_parse_bad),
                cmocka_unit_test(test_batch_messages),
                cmocka_unit_test(test_veth_message),
                cmocka_unit_test(test_macvlan_bridge_messages),
                cmocka_unit_test(test_link_change_messages),
                cmocka_unit_test(test_neigh_message),
                cmocka_unit_test(test_nft_framing),
                cmocka_unit_test(test_kernel_read_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
