/* json_test.c: validated request member access and error messages; the lenient accessors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"

static void test_getters(void **state)
{
        json_t *o = json_pack("{s:s, s:i, s:b, s:[], s:{}}", "s", "v", "i", 7, "b", 1, "a", "o");
        const char *s = NULL;
        long long i = 0;
        bool b = false;
        json_t *a = NULL, *ob = NULL;
        struct err e = { 0 };
        assert_int_equal(json_get_string(o, "s", true, &s, &e), 1);
        assert_string_equal(s, "v");
        assert_int_equal(json_get_int(o, "i", true, 0, 10, &i, &e), 1);
        assert_int_equal(i, 7);
        assert_int_equal(json_get_bool(o, "b", true, &b, &e), 1);
        assert_true(b);
        assert_int_equal(json_get_array(o, "a", true, &a, &e), 1);
        assert_int_equal(json_get_object(o, "o", true, &ob, &e), 1);
        assert_int_equal(json_get_string(o, "missing", false, &s, &e), 0);
        assert_string_equal(s, "v");   /* untouched */
        json_decref(o);
}

static void test_errors(void **state)
{
        json_t *o = json_pack("{s:i, s:s}", "i", 70, "s", "x");
        const char *s;
        long long i;
        struct err e = { 0 };
        assert_true(json_get_string(o, "Cidr", true, &s, &e) < 0);
        assert_string_equal(e.code, JERR_MISSING);
        assert_non_null(strstr(e.msg, "Cidr"));
        assert_true(json_get_int(o, "i", true, 0, 10, &i, &e) < 0);
        assert_string_equal(e.code, JERR_INVALID);
        assert_non_null(strstr(e.msg, "70"));
        assert_true(json_get_int(o, "s", true, 0, 10, &i, &e) < 0);
        assert_string_equal(e.code, JERR_INVALID);
        static const char *const keys[] = { "i", NULL };
        assert_true(json_check_keys(o, keys, &e) < 0);
        assert_string_equal(e.code, JERR_UNKNOWN);
        assert_non_null(strstr(e.msg, "\"s\""));
        json_decref(o);
}

static void test_err_wrap(void **state)
{
        struct err e = { 0 };
        assert_int_equal(err_set(&e, ENOENT, "X.NotFound", "thing '%s'", "a"), -ENOENT);
        err_wrap(&e, "Op %s", "b");
        assert_string_equal(e.msg, "Op b: thing 'a'");
        assert_string_equal(e.code, "X.NotFound");
        err_default_code(&e, "Other");
        assert_string_equal(e.code, "X.NotFound");
}

static void test_lenient(void **state)
{
        json_t *o = json_pack("{s:s, s:i, s:f, s:[{s:s}, {s:s, s:i}]}", "s", "v", "i", 7, "r", 1.5, "a", "name", "x", "name", "y", "n", 2);
        json_t *t;
        assert_string_equal(jstr(o, "s"), "v");
        assert_null(jstr(o, "i"));              /* not a string */
        assert_null(jstr(o, "missing"));
        assert_null(jstr(NULL, "s"));
        assert_int_equal(jint(o, "i", -1), 7);
        assert_int_equal(jint(o, "r", -1), -1); /* a real is no integer */
        assert_int_equal(jint(o, "missing", 3), 3);
        assert_int_equal(jint(jfind(json_object_get(o, "a"), "name", "y"), "n", 0), 2);
        assert_null(jfind(json_object_get(o, "a"), "name", "z"));
        assert_null(jfind(NULL, "name", "x"));
        /* milliseconds, rounded half up */
        t = jtime(1764000000.1234);
        assert_true(json_real_value(t) == 1764000000.123);
        json_decref(t);
        t = jtime(1764000000.0005);
        assert_true(json_real_value(t) == 1764000000.001);
        json_decref(t);
        json_decref(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_getters),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_err_wrap),
                cmocka_unit_test(test_lenient),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
