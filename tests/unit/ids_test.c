/* ids_test.c: AWS-shaped ids, MACs from ids, UUIDs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/ids.h"

static void test_id_new_and_valid(void **state)
{
        char a[ID_MAX], b[ID_MAX];
        assert_int_equal(id_new("eni", a), 0);
        assert_int_equal(id_new("eni", b), 0);
        assert_int_equal(strlen(a), 4 + 17);
        assert_true(id_valid("eni", a));
        assert_false(id_valid("vpc", a));
        assert_string_not_equal(a, b);
        assert_true(id_valid("vpc", "vpc-0123abcd"));            /* legacy 8 hex */
        assert_false(id_valid("vpc", "vpc-0123ABCD"));           /* uppercase */
        assert_false(id_valid("vpc", "vpc-0123abc"));
        assert_false(id_valid("vpc", "vpc0123456789abcdef0"));
        assert_false(id_valid("vpc", "vpc-0123456789abcdef0x"));
        assert_false(id_valid("vpc", NULL));
        assert_true(id_valid("eni-attach", "eni-attach-0123456789abcdef0"));
}

static void test_mac(void **state)
{
        uint8_t m[6], p[6];
        char s[MAC_STR_MAX];
        mac_from_id("eni-0123456789abcdef0", m);
        mac_format(m, s);
        assert_string_equal(s, "02:78:9a:bc:de:f0");   /* the last 10 hex digits */
        assert_int_equal(m[0] & 1, 0);     /* unicast */
        assert_int_equal(m[0] & 2, 2);     /* locally administered */
        assert_int_equal(mac_parse(s, p), 0);
        assert_memory_equal(m, p, 6);
        assert_int_equal(mac_parse("02:89:ab:cd:ef", p), -EINVAL);
        assert_int_equal(mac_parse("02-89-ab-cd-ef-00", p), -EINVAL);
        assert_int_equal(mac_parse("02:89:ab:cd:ef:0g", p), -EINVAL);
}

static void test_uuid_hex32(void **state)
{
        char u[UUID_STR_MAX], h[HEX32_STR_MAX];
        assert_int_equal(uuid_new(u), 0);
        assert_int_equal(strlen(u), 36);
        assert_int_equal(u[8], '-');
        assert_int_equal(u[14], '4');
        assert_int_equal(hex32_new(h), 0);
        assert_int_equal(strlen(h), 32);
        for (int i = 0; i < 32; i++)
                assert_true((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_id_new_and_valid),
                cmocka_unit_test(test_mac),
                cmocka_unit_test(test_uuid_hex32),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
