/* mon_user_test.c: container users against an image's passwd and group files (Docker's rules). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/monitor/spec.h"

static char dir[] = "/tmp/mon_user_testXXXXXX";
static char passwd[128], group[128];

static int setup(void **state)
{
        FILE *f;
        if (!mkdtemp(dir))
                return -1;
        snprintf(passwd, sizeof passwd, "%s/passwd", dir);
        snprintf(group, sizeof group, "%s/group", dir);
        if (!(f = fopen(passwd, "w")))
                return -1;
        fputs("root:x:0:0:root:/root:/bin/sh\n"
              "# a comment\n"
              "broken line\n"
              "www:x:33:33:www:/var/www:/bin/false\n"
              "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
              "nohome:x:1000:1000:::/bin/sh\n", f);
        fclose(f);
        if (!(f = fopen(group, "w")))
                return -1;
        fputs("root:x:0:\n"
              "www:x:33:\n"
              "web:x:500:www,nobody\n"
              "log:x:501:www\n"
              "nogroup:x:65534:\n", f);
        fclose(f);
        return 0;
}

static int teardown(void **state)
{
        unlink(passwd);
        unlink(group);
        rmdir(dir);
        return 0;
}

static void test_syntax(void **state)
{
        assert_true(user_spec_valid("www"));
        assert_true(user_spec_valid("1000"));
        assert_true(user_spec_valid("1000:1000"));
        assert_true(user_spec_valid("www:web"));
        assert_false(user_spec_valid(""));
        assert_false(user_spec_valid(":"));
        assert_false(user_spec_valid("www:"));
        assert_false(user_spec_valid(":web"));
        assert_false(user_spec_valid("a:b:c"));
        assert_false(user_spec_valid("a b"));
        assert_false(user_spec_valid(NULL));
}

static void test_default_is_root(void **state)
{
        struct user_ids u;
        assert_int_equal(user_resolve(NULL, passwd, group, &u, NULL), 0);
        assert_int_equal(u.uid, 0);
        assert_int_equal(u.gid, 0);
        assert_string_equal(u.home, "/root");
        assert_int_equal(u.n_groups, 0);
        user_ids_done(&u);
        /* root needs no passwd file */
        assert_int_equal(user_resolve("root", "/nonexistent/passwd", "/nonexistent/group", &u, NULL), 0);
        assert_int_equal(u.uid, 0);
        user_ids_done(&u);
}

static void test_name_with_groups(void **state)
{
        struct user_ids u;
        assert_int_equal(user_resolve("www", passwd, group, &u, NULL), 0);
        assert_int_equal(u.uid, 33);
        assert_int_equal(u.gid, 33);
        assert_string_equal(u.home, "/var/www");
        assert_int_equal(u.n_groups, 2);
        assert_int_equal(u.groups[0], 500);
        assert_int_equal(u.groups[1], 501);
        user_ids_done(&u);
        assert_null(u.groups);
}

static void test_numeric(void **state)
{
        struct user_ids u;
        /* a uid with an entry takes its gid and home */
        assert_int_equal(user_resolve("65534", passwd, group, &u, NULL), 0);
        assert_int_equal(u.uid, 65534);
        assert_int_equal(u.gid, 65534);
        assert_string_equal(u.home, "/nonexistent");
        assert_int_equal(u.n_groups, 1);       /* nobody is in web */
        user_ids_done(&u);
        /* a uid without one: gid 0, home / */
        assert_int_equal(user_resolve("4242", passwd, group, &u, NULL), 0);
        assert_int_equal(u.uid, 4242);
        assert_int_equal(u.gid, 0);
        assert_string_equal(u.home, "/");
        user_ids_done(&u);
        assert_int_equal(user_resolve("4242:77", "/nonexistent", "/nonexistent", &u, NULL), 0);
        assert_int_equal(u.uid, 4242);
        assert_int_equal(u.gid, 77);
        user_ids_done(&u);
        /* empty home field */
        assert_int_equal(user_resolve("nohome", passwd, group, &u, NULL), 0);
        assert_string_equal(u.home, "/");
        user_ids_done(&u);
}

static void test_group_override(void **state)
{
        struct user_ids u;
        assert_int_equal(user_resolve("www:log", passwd, group, &u, NULL), 0);
        assert_int_equal(u.uid, 33);
        assert_int_equal(u.gid, 501);
        user_ids_done(&u);
        assert_int_equal(user_resolve("33:nogroup", passwd, group, &u, NULL), 0);
        assert_int_equal(u.gid, 65534);
        user_ids_done(&u);
}

static void test_errors(void **state)
{
        struct user_ids u = { .uid = 7 };
        struct err err = { 0 };
        assert_int_equal(user_resolve("ghost", passwd, group, &u, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "unable to find user ghost"));
        assert_int_equal(u.uid, 7);     /* untouched */
        assert_int_equal(user_resolve("www:ghosts", passwd, group, &u, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "unable to find group ghosts"));
        assert_int_equal(user_resolve("www", "/nonexistent/passwd", group, &u, &err), -ENOENT);
        assert_int_equal(user_resolve("a b", passwd, group, &u, &err), -EINVAL);
        assert_int_equal(user_resolve("99999999999", passwd, group, &u, &err), -ENOENT);   /* not a uid: a name */
        assert_int_equal(u.uid, 7);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_syntax),
                cmocka_unit_test(test_default_is_root),
                cmocka_unit_test(test_name_with_groups),
                cmocka_unit_test(test_numeric),
                cmocka_unit_test(test_group_override),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
