/* store_test.c: the JSON key/value store: put/get/delete, prefix listing, transactions. */
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

#include "ecsbox/json.h"
#include "ecsbox/store.h"

static char dir[64];

static int setup(void **state)
{
        char path[128];
        struct store *s = NULL;
        snprintf(dir, sizeof dir, "/tmp/ecsbox-store-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/t.db", dir);
        assert_int_equal(store_open(path, &s, NULL), 0);
        *state = s;
        return 0;
}

static int teardown(void **state)
{
        char cmd[160];
        store_close(*state);
        snprintf(cmd, sizeof cmd, "%s/t.db", dir);
        unlink(cmd);
        snprintf(cmd, sizeof cmd, "%s/t.db-wal", dir);
        unlink(cmd);
        snprintf(cmd, sizeof cmd, "%s/t.db-shm", dir);
        unlink(cmd);
        rmdir(dir);
        return 0;
}

static int count_cb(const char *key, json_t *v, void *ud)
{
        (*(int *) ud)++;
        return 0;
}

static void test_put_get_del(void **state)
{
        struct store *s = *state;
        json_t *v = json_pack("{s:s}", "a", "b"), *got = NULL;
        assert_int_equal(store_put(s, "x/1", v, NULL), 0);
        assert_int_equal(store_get(s, "x/1", &got, NULL), 0);
        assert_true(json_equal(v, got));
        json_decref(got);
        assert_int_equal(store_exists(s, "x/1"), 1);
        assert_int_equal(store_del(s, "x/1", NULL), 0);
        assert_int_equal(store_get(s, "x/1", &got, NULL), -ENOENT);
        assert_int_equal(store_del(s, "x/1", NULL), 0);   /* absent: not an error */
        json_decref(v);
}

static void test_prefix_list(void **state)
{
        struct store *s = *state;
        json_t *v = json_object();
        int n = 0;
        store_put(s, "vpc/a", v, NULL);
        store_put(s, "vpc/b", v, NULL);
        store_put(s, "vpcx/c", v, NULL);
        store_put(s, "vp", v, NULL);
        store_put(s, "w", v, NULL);
        assert_int_equal(store_list(s, "vpc/", count_cb, &n, NULL), 0);
        assert_int_equal(n, 2);
        assert_int_equal(store_count(s, "vpc", NULL), 3);
        assert_int_equal(store_count(s, "", NULL), 5);
        json_decref(v);
}

static void test_transactions(void **state)
{
        struct store *s = *state;
        json_t *v = json_object();
        assert_int_equal(store_begin(s, NULL), 0);
        assert_int_equal(store_begin(s, NULL), 0);   /* nested */
        store_put(s, "t/1", v, NULL);
        assert_int_equal(store_commit(s, NULL), 0);  /* inner: nothing yet */
        store_rollback(s);                            /* aborts the outer one */
        assert_int_equal(store_exists(s, "t/1"), 0);
        assert_int_equal(store_begin(s, NULL), 0);
        store_put(s, "t/2", v, NULL);
        assert_int_equal(store_commit(s, NULL), 0);
        assert_int_equal(store_exists(s, "t/2"), 1);
        json_decref(v);
}

/* The read cache: private copies (a caller changing what it got or gave changes nothing
 * stored), peeks see the latest write, a rollback forgets the rolled-back writes. */
static void test_cache(void **state)
{
        struct store *s = *state;
        json_t *v = json_pack("{s:i}", "n", 1), *got = NULL, *peek = NULL;
        assert_int_equal(store_put(s, "c/1", v, NULL), 0);
        json_object_set_new(v, "n", json_integer(2));          /* the caller's object, changed after the put */
        assert_int_equal(store_peek(s, "c/1", &peek, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), 1);
        assert_int_equal(store_get(s, "c/1", &got, NULL), 0);
        json_object_set_new(got, "n", json_integer(3));        /* a copy: the cache keeps 1 */
        json_decref(got);
        assert_int_equal(store_peek(s, "c/1", &peek, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), 1);
        assert_int_equal(store_begin(s, NULL), 0);
        assert_int_equal(store_put(s, "c/1", v, NULL), 0);
        assert_int_equal(store_peek(s, "c/1", &peek, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), 2);
        store_rollback(s);
        assert_int_equal(store_peek(s, "c/1", &peek, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), 1);
        assert_int_equal(store_del(s, "c/1", NULL), 0);
        assert_int_equal(store_peek(s, "c/1", &peek, NULL), -ENOENT);
        json_decref(v);
}

/* Many more documents than one cache generation (2048): every one still reads back right, a
 * peeked document survives the next rotation, and the latest write wins over an older cached copy. */
static void test_cache_generations(void **state)
{
        struct store *s = *state;
        json_t *peek = NULL, *got = NULL;
        char key[32];
        assert_int_equal(store_begin(s, NULL), 0);
        for (int i = 0; i < 12000; i++) {
                _cleanup_json_ json_t *v = json_pack("{s:i}", "n", i);
                snprintf(key, sizeof key, "g/%05d", i);
                assert_int_equal(store_put(s, key, v, NULL), 0);
        }
        assert_int_equal(store_commit(s, NULL), 0);
        assert_int_equal(store_peek(s, "g/00007", &peek, NULL), 0);     /* long gone from the cache: read again */
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), 7);
        for (int i = 4000; i < 5500; i++) {                              /* at most one rotation */
                snprintf(key, sizeof key, "g/%05d", i);
                assert_int_equal(store_get(s, key, &got, NULL), 0);
                assert_int_equal(json_integer_value(json_object_get(got, "n")), i);
                json_decref(got);
        }
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), 7);   /* still valid (ASan would say) */
        {
                _cleanup_json_ json_t *v = json_pack("{s:i}", "n", -7);
                assert_int_equal(store_put(s, "g/00007", v, NULL), 0);
        }
        assert_int_equal(store_peek(s, "g/00007", &peek, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(peek, "n")), -7);
        for (int i = 0; i < 12000; i += 997) {
                snprintf(key, sizeof key, "g/%05d", i);
                assert_int_equal(store_get(s, key, &got, NULL), 0);
                assert_int_equal(json_integer_value(json_object_get(got, "n")), i == 7 ? -7 : i);
                json_decref(got);
        }
}

static void test_corrupt_open(void **state)
{
        struct store *s = NULL;
        struct err e = { 0 };
        assert_true(store_open("/nonexistent-dir/x.db", &s, &e) < 0);
        assert_non_null(strstr(e.msg, "/nonexistent-dir/x.db"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prefix_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cache_generations, setup, teardown),
                cmocka_unit_test(test_corrupt_open),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
