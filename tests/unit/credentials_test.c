/* credentials_test.c: the shared-credentials file: profiles, comments, bad lines, first-start creation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecsbox/credentials.h"
#include "ecsbox/fsutil.h"

static char dir[] = "/tmp/credentials_test.XXXXXX";

static void write_text(const char *path, const char *text)
{
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

static void test_load_profiles(void **state)
{
        char path[128];
        struct credentials c = { 0 };
        snprintf(path, sizeof path, "%s/a", dir);
        write_text(path, "# ecsbox keys\n[default]\naws_access_key_id=AKIAAAAAAAAAAAAAAAAA\n"
                         "aws_secret_access_key = s1\n\n; another\n[ecsbox]\n  aws_access_key_id = AKIABBBBBBBBBBBBBBBB  \n"
                         "aws_secret_access_key = s2/+x\naws_session_token = t\n[half]\naws_access_key_id = AKIAC\n");
        assert_int_equal(credentials_load(path, &c, NULL), 0);
        assert_int_equal(c.n, 2);   /* [half] has no secret */
        assert_string_equal(credentials_find(&c, "AKIABBBBBBBBBBBBBBBB")->secret, "s2/+x");
        assert_string_equal(credentials_find(&c, "AKIAAAAAAAAAAAAAAAAA")->profile, "default");
        assert_null(credentials_find(&c, "AKIAC"));
        assert_null(credentials_find(&c, NULL));
        assert_string_equal(credentials_profile(&c, "ecsbox")->akid, "AKIABBBBBBBBBBBBBBBB");
        assert_null(credentials_profile(&c, "half"));
        credentials_free(&c);
}

static void test_bad_lines(void **state)
{
        char path[128];
        struct credentials c = { 0 };
        struct err e = { 0 };
        snprintf(path, sizeof path, "%s/b", dir);
        write_text(path, "[ecsbox]\naws_access_key_id = A\nthis is no pair\n");
        assert_int_equal(credentials_load(path, &c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "line 3"));
        assert_non_null(strstr(e.msg, path));
        write_text(path, "aws_access_key_id = A\n");   /* a pair before any section */
        assert_int_equal(credentials_load(path, &c, &e), -EINVAL);
        write_text(path, "[ecsbox\n");
        assert_int_equal(credentials_load(path, &c, &e), -EINVAL);
        snprintf(path, sizeof path, "%s/missing", dir);
        assert_int_equal(credentials_load(path, &c, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "No such file"));
}

static void test_ensure_creates_once(void **state)
{
        char path[128];
        struct credentials c = { 0 }, c2 = { 0 };
        struct stat st;
        snprintf(path, sizeof path, "%s/credentials", dir);
        assert_int_equal(credentials_ensure(path, NULL), 1);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(credentials_load(path, &c, NULL), 0);
        assert_int_equal(c.n, 1);
        const struct cred_key *k = credentials_profile(&c, "ecsbox");
        assert_non_null(k);
        assert_int_equal(strlen(k->akid), 20);
        assert_int_equal(strncmp(k->akid, "AKIA", 4), 0);
        assert_int_equal(strspn(k->akid + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 16);
        assert_int_equal(strlen(k->secret), 40);
        /* there already: left alone */
        assert_int_equal(credentials_ensure(path, NULL), 0);
        assert_int_equal(credentials_load(path, &c2, NULL), 0);
        assert_string_equal(c2.keys[0].secret, k->secret);
        credentials_free(&c);
        credentials_free(&c2);
}

static void test_generate_differs(void **state)
{
        char a1[CRED_KEY_MAX + 1], s1[CRED_KEY_MAX + 1], a2[CRED_KEY_MAX + 1], s2[CRED_KEY_MAX + 1];
        assert_int_equal(credentials_generate(a1, s1), 0);
        assert_int_equal(credentials_generate(a2, s2), 0);
        assert_string_not_equal(a1, a2);
        assert_string_not_equal(s1, s2);
}

static int setup(void **state)
{
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        return rm_rf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_load_profiles),
                cmocka_unit_test(test_bad_lines),
                cmocka_unit_test(test_ensure_creates_once),
                cmocka_unit_test(test_generate_differs),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
