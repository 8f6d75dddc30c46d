/* sched_exec_test.c: ExecuteCommand's request decoder (scheduler/ecs/exec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "../../scheduler/ecs/exec.h"

static int decode(const char *text, struct exec_in *in, struct err *err)
{
        json_t *j = json_loads(text, 0, NULL);
        int r;
        assert_non_null(j);
        r = exec_decode(j, in, err);
        json_decref(j);
        return r;
}

static void test_decode(void **state)
{
        struct exec_in in;
        struct err err = { 0 };
        assert_int_equal(decode("{\"task\":\"t\",\"command\":\"id\",\"interactive\":true}", &in, &err), 0);
        assert_string_equal(in.cluster, "default");
        assert_null(in.container);
        assert_int_equal(decode("{\"task\":\"t\",\"command\":\"id\",\"interactive\":false}", &in, &err), -EINVAL);
        assert_string_equal(err.code, "InvalidParameterException");
        assert_non_null(strstr(err.msg, "Interactive is the only mode"));
        assert_true(decode("{\"task\":\"t\",\"interactive\":true}", &in, &err) < 0);
        assert_true(decode("{\"command\":\"id\",\"interactive\":true}", &in, &err) < 0);
        assert_true(decode("{\"task\":\"t\",\"command\":\"\",\"interactive\":true}", &in, &err) < 0);
        assert_true(decode("{\"task\":\"t\",\"command\":\"id\",\"interactive\":true,\"bogus\":1}", &in, &err) < 0);
        assert_true(decode("{\"task\":\"t\",\"command\":\"id\",\"interactive\":\"yes\"}", &in, &err) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_decode) };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
