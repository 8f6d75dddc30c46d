/* netd_ipam_test.c: round-robin allocation, reserved addresses, exhaustion, release. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../netd/ipam.h"

struct pool {
        struct cidr4 net;
        bool used[256];
        int fail_at;   /* taken() returns -EIO at this call count, or -1 */
        int calls;
};

static int taken(uint32_t ip, void *ud)
{
        struct pool *p = ud;
        if (p->fail_at >= 0 && p->calls++ == p->fail_at)
                return -EIO;
        return p->used[ip - p->net.addr];
}

static uint32_t alloc(struct pool *p, uint32_t cursor)
{
        uint32_t ip = 0;
        assert_int_equal(ipam_next(&p->net, cursor, taken, p, &ip), 0);
        assert_false(p->used[ip - p->net.addr]);
        p->used[ip - p->net.addr] = true;
        return ip;
}

static void test_first_and_round_robin(void **state)
{
        struct pool p = { .fail_at = -1 };
        cidr4_parse("10.0.1.0/24", &p.net);
        uint32_t a = alloc(&p, 0);
        assert_int_equal(a, 0x0a000104);   /* .0-.3 reserved */
        uint32_t b = alloc(&p, a);
        assert_int_equal(b, 0x0a000105);
        /* release a: the next allocation does not hand it back at once */
        p.used[a - p.net.addr] = false;
        uint32_t c = alloc(&p, b);
        assert_int_equal(c, 0x0a000106);
}

static void test_wrap_and_skip_broadcast(void **state)
{
        struct pool p = { .fail_at = -1 };
        cidr4_parse("10.0.1.0/24", &p.net);
        uint32_t ip = alloc(&p, 0x0a0001fd);
        assert_int_equal(ip, 0x0a0001fe);   /* .254 */
        ip = alloc(&p, ip);                  /* .255 reserved, wraps to .4 */
        assert_int_equal(ip, 0x0a000104);
}

static void test_exhaustion_small_subnet(void **state)
{
        struct pool p = { .fail_at = -1 };
        uint32_t cur = 0, ip;
        cidr4_parse("10.0.1.16/28", &p.net);
        for (int i = 0; i < 11; i++)
                cur = alloc(&p, cur);
        assert_int_equal(ipam_next(&p.net, cur, taken, &p, &ip), -ENOSPC);
        /* free one in the middle: found again after a full wrap */
        p.used[9] = false;
        assert_int_equal(ipam_next(&p.net, cur, taken, &p, &ip), 0);
        assert_int_equal(ip, p.net.addr + 9);
}

static void test_cursor_outside_subnet(void **state)
{
        struct pool p = { .fail_at = -1 };
        cidr4_parse("10.0.1.0/24", &p.net);
        assert_int_equal(alloc(&p, 0x0b000000), 0x0a000104);
}

static void test_error_propagates(void **state)
{
        struct pool p = { .fail_at = 0 };
        uint32_t ip = 0xdeadbeef;
        cidr4_parse("10.0.1.0/24", &p.net);
        assert_int_equal(ipam_next(&p.net, 0, taken, &p, &ip), -EIO);
        assert_int_equal(ip, 0xdeadbeef);  /* untouched on failure */
}

static void test_no_usable(void **state)
{
        struct pool p = { .fail_at = -1 };
        uint32_t ip;
        cidr4_parse("10.0.1.0/30", &p.net);
        assert_int_equal(ipam_next(&p.net, 0, taken, &p, &ip), -ENOSPC);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_and_round_robin),
                cmocka_unit_test(test_wrap_and_skip_broadcast),
                cmocka_unit_test(test_exhaustion_small_subnet),
                cmocka_unit_test(test_cursor_outside_subnet),
                cmocka_unit_test(test_error_propagates),
                cmocka_unit_test(test_no_usable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
