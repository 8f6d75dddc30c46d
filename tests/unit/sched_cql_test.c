/* sched_cql_test.c: the cluster query language: every operator, grouping, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../scheduler/ecs/cql.h"

struct inst {
        const char *type[2];
        const char *az[2];
        const char *id[2];
        const char *count[2];
        const char *groups[4];
        const char *custom[2];
};

static const char *const *values(void *ctx, const char *subject)
{
        struct inst *i = ctx;
        if (strcmp(subject, "attribute:ecs.instance-type") == 0) return i->type;
        if (strcmp(subject, "attribute:ecs.availability-zone") == 0) return i->az;
        if (strcmp(subject, "ec2InstanceId") == 0) return i->id;
        if (strcmp(subject, "runningTasksCount") == 0) return i->count;
        if (strcmp(subject, "task:group") == 0) return i->groups;
        if (strcmp(subject, "attribute:stack") == 0) return i->custom;
        return NULL;
}

static struct inst A = { { "t3.micro" }, { "us-east-1a" }, { "i-0aaa" }, { "3" }, { "service:web", "family:db" }, { "prod" } };
static struct inst B = { { "m5.large" }, { "us-east-1b" }, { "i-0bbb" }, { "12" }, { NULL }, { NULL } };

static bool ev(const char *expr, struct inst *i)
{
        struct cql *q = NULL;
        struct err e = { 0 };
        int r = cql_parse(expr, &q, &e);
        if (r < 0)
                fail_msg("parse '%s': %s", expr, e.msg);
        bool v = cql_eval(q, values, i);
        cql_free(q);
        return v;
}

static void test_operators(void **state)
{
        assert_true(ev("attribute:ecs.instance-type == t3.micro", &A));
        assert_false(ev("attribute:ecs.instance-type == t3.micro", &B));
        assert_true(ev("attribute:ecs.instance-type != t3.micro", &B));
        assert_true(ev("attribute:ecs.instance-type =~ t3.*", &A));
        assert_false(ev("attribute:ecs.instance-type =~ t3.*", &B));
        assert_true(ev("attribute:ecs.instance-type !~ t3.*", &B));
        assert_true(ev("attribute:ecs.availability-zone in [us-east-1a, us-east-1c]", &A));
        assert_false(ev("attribute:ecs.availability-zone in [us-east-1a, us-east-1c]", &B));
        assert_true(ev("attribute:ecs.availability-zone !in [us-east-1a]", &B));
        assert_true(ev("attribute:ecs.availability-zone not in [us-east-1a]", &B));
        assert_true(ev("runningTasksCount > 10", &B));     /* numeric, not string compare */
        assert_false(ev("runningTasksCount > 10", &A));
        assert_true(ev("runningTasksCount <= 3", &A));
        assert_true(ev("runningTasksCount >= 12", &B));
        assert_true(ev("runningTasksCount < 4", &A));
        assert_true(ev("attribute:stack exists", &A));
        assert_false(ev("attribute:stack exists", &B));
        assert_true(ev("attribute:stack !exists", &B));
        assert_true(ev("ec2InstanceId == i-0bbb", &B));
}

static void test_task_group_multi_valued(void **state)
{
        assert_true(ev("task:group == service:web", &A));
        assert_true(ev("task:group == family:db", &A));
        assert_false(ev("task:group != service:web", &A));
        assert_true(ev("task:group != service:web", &B));
        assert_true(ev("not task:group == service:web", &B));
}

static void test_logic_and_grouping(void **state)
{
        assert_true(ev("attribute:ecs.instance-type == t3.micro and attribute:stack == prod", &A));
        assert_true(ev("attribute:ecs.instance-type == t3.micro && attribute:stack == prod", &A));
        assert_false(ev("attribute:ecs.instance-type == t3.micro and attribute:stack == dev", &A));
        assert_true(ev("attribute:ecs.instance-type == m5.large or attribute:stack == prod", &A));
        assert_true(ev("attribute:ecs.instance-type == m5.large || attribute:stack == prod", &B));
        /* and binds tighter than or */
        assert_true(ev("attribute:stack == dev and runningTasksCount > 100 or ec2InstanceId == i-0aaa", &A));
        assert_false(ev("attribute:stack == dev and (runningTasksCount > 100 or ec2InstanceId == i-0aaa)", &A));
        assert_true(ev("(attribute:ecs.availability-zone in [us-east-1a, us-east-1b]) and not (task:group == service:x)", &B));
}

static void test_syntax_errors(void **state)
{
        const char *bad[] = { "", "attribute:ecs.instance-type", "attribute:x ==", "attribute:x in us-east-1a",
                              "attribute:x in [a, b", "(attribute:x == a", "attribute:x == a and", "bogus == 1",
                              "attribute: == a", "attribute:x === a", "attribute:x == a)" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct cql *q = NULL;
                struct err e = { 0 };
                assert_int_equal(cql_parse(bad[i], &q, &e), -EINVAL);
                assert_null(q);
                assert_string_equal(e.code, "InvalidParameterException");
                assert_non_null(strstr(e.msg, "position"));
        }
}

static void test_glob(void **state)
{
        assert_true(cql_glob("t3.*", "t3.micro"));
        assert_true(cql_glob("*", ""));
        assert_true(cql_glob("t?.large", "m5.large") == false);
        assert_true(cql_glob("m?.large", "m5.large"));
        assert_false(cql_glob("t3", "t3.micro"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_operators),
                cmocka_unit_test(test_task_group_multi_valued),
                cmocka_unit_test(test_logic_and_grouping),
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_glob),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
