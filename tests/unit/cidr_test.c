/* cidr_test.c: CIDR and IPv4 parsing, containment, AWS reserved addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ecsbox/cidr.h"

static void test_ip4_parse(void **state)
{
        uint32_t a;
        assert_int_equal(ip4_parse("10.0.1.4", &a), 0);
        assert_int_equal(a, 0x0a000104);
        assert_int_equal(ip4_parse("255.255.255.255", &a), 0);
        assert_int_equal(a, 0xffffffff);
        const char *bad[] = { "", "10.0.1", "10.0.1.4.5", "256.0.0.1", "10.0.01.4", "10..1.4", "a.b.c.d",
                              "10.0.1.4 ", " 10.0.1.4", "1000.0.0.0", "10.0.1.-1" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(ip4_parse(bad[i], &a), -EINVAL);
}

static void test_cidr_parse(void **state)
{
        struct cidr4 c;
        char buf[CIDR_STR_MAX];
        assert_int_equal(cidr4_parse("10.0.0.0/16", &c), 0);
        assert_int_equal(c.addr, 0x0a000000);
        assert_int_equal(c.len, 16);
        cidr4_format(&c, buf);
        assert_string_equal(buf, "10.0.0.0/16");
        assert_int_equal(cidr4_parse("10.0.0.1/16", &c), -EINVAL);   /* host bits set */
        assert_int_equal(cidr4_parse("10.0.0.0/33", &c), -EINVAL);
        assert_int_equal(cidr4_parse("10.0.0.0", &c), -EINVAL);
        assert_int_equal(cidr4_parse("10.0.0.0/", &c), -EINVAL);
        assert_int_equal(cidr4_parse("10.0.0.0/1a", &c), -EINVAL);
        assert_int_equal(cidr4_parse("/24", &c), -EINVAL);
        assert_int_equal(cidr4_parse("0.0.0.0/0", &c), 0);
        assert_int_equal(cidr4_mask(0), 0);
        assert_int_equal(cidr4_mask(32), 0xffffffff);
}

static void test_contains_overlaps(void **state)
{
        struct cidr4 vpc, a, b, c;
        cidr4_parse("10.0.0.0/16", &vpc);
        cidr4_parse("10.0.1.0/24", &a);
        cidr4_parse("10.0.1.128/25", &b);
        cidr4_parse("10.1.0.0/24", &c);
        assert_true(cidr4_contains(&vpc, &a));
        assert_true(cidr4_contains(&a, &b));
        assert_false(cidr4_contains(&b, &a));
        assert_false(cidr4_contains(&vpc, &c));
        assert_true(cidr4_overlaps(&a, &b));
        assert_true(cidr4_overlaps(&b, &a));
        assert_false(cidr4_overlaps(&a, &c));
}

static void test_reserved(void **state)
{
        struct cidr4 s;
        cidr4_parse("10.0.1.0/24", &s);
        assert_true(cidr4_is_reserved(&s, 0x0a000100));
        assert_true(cidr4_is_reserved(&s, 0x0a000101));
        assert_true(cidr4_is_reserved(&s, 0x0a000103));
        assert_false(cidr4_is_reserved(&s, 0x0a000104));
        assert_false(cidr4_is_reserved(&s, 0x0a0001fe));
        assert_true(cidr4_is_reserved(&s, 0x0a0001ff));
        assert_int_equal(cidr4_usable(&s), 251);
        cidr4_parse("10.0.1.0/28", &s);
        assert_int_equal(cidr4_usable(&s), 11);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ip4_parse),
                cmocka_unit_test(test_cidr_parse),
                cmocka_unit_test(test_contains_overlaps),
                cmocka_unit_test(test_reserved),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
