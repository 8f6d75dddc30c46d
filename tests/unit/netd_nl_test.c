/* netd_nl_test.c: rtnetlink link parsing, batch message building and read-only requests (no privileges, no changes). */
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

#include "../../netd/kernel/nl.h"

static struct nlmsghdr *link_msg(char *buf, uint16_t type)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifm;
        struct nlattr *li;
        static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

        nlh->nlmsg_type = type;
        ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_index = 7;
        ifm->ifi_flags = IFF_UP;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, "v0123456789abcd");
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        mnl_attr_put_u32(nlh, IFLA_MASTER, 3);
        mnl_attr_put_u32(nlh, IFLA_LINK, 9);
        mnl_attr_put_u32(nlh, IFLA_MAX + 5, 42);     /* newer than our headers: ignored */
        li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        mnl_attr_nest_end(nlh, li);
        return nlh;
}

static void test_link_parse(void **state)
{
        char buf[512] __attribute__((aligned(8))) = { 0 };
        struct nl_link l;

        assert_int_equal(nl_link_parse(link_msg(buf, RTM_NEWLINK), &l), 0);
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
        struct nl_link l;

        assert_int_equal(nl_link_parse(link_msg(buf, RTM_DELLINK), &l), -EBADMSG);
        /* no room for the ifinfomsg */
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        assert_int_equal(nl_link_parse(nlh, &l), -EBADMSG);
        /* a 4-byte address is not a MAC */
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
        mnl_attr_put_u32(nlh, IFLA_ADDRESS, 0x01020304);
        assert_int_equal(nl_link_parse(nlh, &l), 0);
        assert_false(l.has_mac);
        assert_string_equal(l.kind, "");
}

static const struct nlattr *attr(const struct nlmsghdr *nlh, size_t hdrlen, uint16_t type)
{
        const struct nlattr *a;
        mnl_attr_for_each(a, nlh, hdrlen)
                if (mnl_attr_get_type(a) == type)
                        return a;
        return NULL;
}

static void test_batch_messages(void **state)
{
        _cleanup_nl_ struct nl *n = NULL;
        struct err err = { 0 };
        struct nl_batch b;
        const struct nlmsghdr *m;
        const struct ifaddrmsg *ifa;
        const struct rtmsg *rtm;
        uint32_t ip;

        assert_int_equal(nl_open("the test netns", &n, &err), 0);
        nl_batch_init(&b, n);
        nl_put_addr4(&b, 5, "eth0", 0x0a000104, 24, false);
        nl_put_route4(&b, false, 0, 0, 0x0a000101, 5, false);
        nl_put_route4(&b, true, 0x0a000000, 16, 0x64400002, 0, false);
        nl_put_link_del(&b, "v0123");
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
        ifa = mnl_nlmsg_get_payload(m);
        assert_int_equal(ifa->ifa_index, 5);
        assert_int_equal(ifa->ifa_prefixlen, 24);
        ip = mnl_attr_get_u32(attr(m, sizeof *ifa, IFA_LOCAL));
        assert_int_equal(ntohl(ip), 0x0a000104);
        ip = mnl_attr_get_u32(attr(m, sizeof *ifa, IFA_BROADCAST));
        assert_int_equal(ntohl(ip), 0x0a0001ff);

        m = (const struct nlmsghdr *) ((const char *) m + NLMSG_ALIGN(m->nlmsg_len));
        assert_int_equal(m->nlmsg_type, RTM_NEWROUTE);
        rtm = mnl_nlmsg_get_payload(m);
        assert_int_equal(rtm->rtm_dst_len, 0);
        assert_null(attr(m, sizeof *rtm, RTA_DST));
        assert_int_equal(ntohl(mnl_attr_get_u32(attr(m, sizeof *rtm, RTA_GATEWAY))), 0x0a000101);
        assert_int_equal(mnl_attr_get_u32(attr(m, sizeof *rtm, RTA_OIF)), 5);

        m = (const struct nlmsghdr *) ((const char *) m + NLMSG_ALIGN(m->nlmsg_len));
        assert_int_equal(m->nlmsg_type, RTM_DELROUTE);
        rtm = mnl_nlmsg_get_payload(m);
        assert_int_equal(rtm->rtm_dst_len, 16);
        assert_int_equal(rtm->rtm_protocol, RTPROT_UNSPEC);  /* matches any protocol */
        assert_int_equal(ntohl(mnl_attr_get_u32(attr(m, sizeof *rtm, RTA_DST))), 0x0a000000);
        /* one seq per message, from the socket's counter */
        assert_int_equal(m->nlmsg_seq, ((const struct nlmsghdr *) b.buf)->nlmsg_seq + 2);
        nl_batch_fini(&b);
}

/* Read-only requests against the kernel: need no privileges and change nothing. */
static int count_lo(const struct nl_link *l, void *ud)
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
        _cleanup_nl_ struct nl *n = NULL;
        struct err err = { 0 };
        struct nl_link l;
        int found = -1;

        assert_int_equal(nl_open("the test netns", &n, &err), 0);
        assert_int_equal(nl_link_get(n, "lo", &l, &err), 0);
        assert_int_equal(l.index, 1);
        assert_int_equal(nl_link_get(n, "ebxnosuchlink0", &l, &err), -ENODEV);
        assert_int_equal(err.errnum, ENODEV);
        assert_non_null(strstr(err.msg, "look up link 'ebxnosuchlink0' in the test netns: No such device"));
        assert_int_equal(nl_link_dump(n, count_lo, reset, &found, &err), 0);
        assert_int_equal(found, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_link_parse),
                cmocka_unit_test(test_link_parse_bad),
                cmocka_unit_test(test_batch_messages),
                cmocka_unit_test(test_kernel_read_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
