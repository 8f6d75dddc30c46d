/* mon_caps_test.c: a container's capability set: Docker's default minus NET_RAW, add, drop, refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/capability.h>
#include <cmocka.h>

#include "../../scheduler/monitor/spec.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_default_set(void **state)
{
        uint64_t d = caps_default();
        char buf[512];
        static const int want[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_SETGID,
                                    CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                                    CAP_KILL, CAP_AUDIT_WRITE };
        uint64_t expect = 0;
        for (size_t i = 0; i < N(want); i++)
                expect |= CAPS_BIT(want[i]);
        assert_int_equal(d, expect);
        assert_false(d & CAPS_BIT(CAP_NET_RAW));
        assert_false(d & CAPS_BIT(CAP_NET_ADMIN));
        assert_false(d & CAPS_BIT(CAP_SYS_ADMIN));
        assert_int_equal(__builtin_popcountll(d), 13);
        caps_format(d, buf, sizeof buf);
        assert_string_equal(buf, "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,"
                                 "SYS_CHROOT,MKNOD,AUDIT_WRITE,SETFCAP");
}

static void test_names(void **state)
{
        int c;
        assert_int_equal(caps_parse_name("NET_RAW", &c), 0);
        assert_int_equal(c, CAP_NET_RAW);
        assert_int_equal(caps_parse_name("CAP_NET_RAW", &c), 0);
        assert_int_equal(c, CAP_NET_RAW);
        assert_int_equal(caps_parse_name("cap_sys_ptrace", &c), 0);
        assert_int_equal(c, CAP_SYS_PTRACE);
        assert_int_equal(caps_parse_name("Sys_Time", &c), 0);
        assert_int_equal(c, CAP_SYS_TIME);
        assert_true(caps_parse_name("", &c) < 0);
        assert_true(caps_parse_name("NET_RAWX", &c) < 0);
        assert_true(caps_parse_name("ALL", &c) < 0);
        assert_true(caps_parse_name(NULL, &c) < 0);
}

static void test_add_drop(void **state)
{
        const char *add[] = { "NET_RAW", "SYS_PTRACE" }, *drop[] = { "CHOWN", "cap_kill" };
        uint64_t set = 0;
        assert_int_equal(caps_compute(add, N(add), drop, N(drop), &set, NULL), 0);
        assert_int_equal(set, (caps_default() | CAPS_BIT(CAP_NET_RAW) | CAPS_BIT(CAP_SYS_PTRACE)) &
                                      ~(CAPS_BIT(CAP_CHOWN) | CAPS_BIT(CAP_KILL)));
        /* no add, no drop: the default */
        assert_int_equal(caps_compute(NULL, 0, NULL, 0, &set, NULL), 0);
        assert_int_equal(set, caps_default());
        /* add and drop the same: drop wins, as in Docker */
        const char *raw[] = { "NET_RAW" };
        assert_int_equal(caps_compute(raw, 1, raw, 1, &set, NULL), 0);
        assert_false(set & CAPS_BIT(CAP_NET_RAW));
}

static void test_drop_all(void **state)
{
        const char *add[] = { "NET_BIND_SERVICE" }, *drop[] = { "ALL" };
        uint64_t set = 1;
        assert_int_equal(caps_compute(NULL, 0, drop, 1, &set, NULL), 0);
        assert_int_equal(set, 0);
        assert_int_equal(caps_compute(add, 1, drop, 1, &set, NULL), 0);
        assert_int_equal(set, CAPS_BIT(CAP_NET_BIND_SERVICE));
}

static void test_refused(void **state)
{
        static const char *const bad[] = { "NET_ADMIN", "CAP_NET_ADMIN", "sys_admin", "ALL", "all" };
        for (size_t i = 0; i < N(bad); i++) {
                struct err err = { 0 };
                uint64_t set = 42;
                const char *add[] = { "NET_RAW", bad[i] };
                assert_int_equal(caps_compute(add, 2, NULL, 0, &set, &err), -EPERM);
                assert_int_equal(set, 42);      /* untouched */
                assert_non_null(strstr(err.msg, "not allowed"));
        }
        /* dropping them is fine (they are not there anyway) */
        const char *drop[] = { "NET_ADMIN", "SYS_ADMIN" };
        uint64_t set = 0;
        assert_int_equal(caps_compute(NULL, 0, drop, 2, &set, NULL), 0);
        assert_int_equal(set, caps_default());
        struct err err = { 0 };
        const char *unknown[] = { "WARP_DRIVE" };
        assert_int_equal(caps_compute(unknown, 1, NULL, 0, &set, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "unknown capability 'WARP_DRIVE'"));
}

static void test_format_small_buffer(void **state)
{
        char buf[8];
        caps_format(caps_default(), buf, sizeof buf);
        assert_int_equal(strlen(buf), 7);
        assert_string_equal(buf, "CHOWN,D");
        caps_format(0, buf, sizeof buf);
        assert_string_equal(buf, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_set),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_add_drop),
                cmocka_unit_test(test_drop_all),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_format_small_buffer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
