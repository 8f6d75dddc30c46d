/* cli_util_test.c: flag names, --filters and the aws shorthand syntax. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../cli/flags.h"
#include "../../cli/names.h"
#include "../../cli/shorthand.h"

static void test_names(void **state)
{
        char buf[64];
        cli_pascal("describe-network-interfaces", buf, sizeof buf);
        assert_string_equal(buf, "DescribeNetworkInterfaces");
        cli_camel("task-definition", buf, sizeof buf);
        assert_string_equal(buf, "taskDefinition");
        cli_camel("count", buf, sizeof buf);
        assert_string_equal(buf, "count");
}

static void test_filter(void **state)
{
        json_t *f = NULL;
        assert_int_equal(cli_parse_filter("Name=subnet-id,Values=a,b", &f), 0);
        assert_string_equal(json_string_value(json_object_get(f, "Name")), "subnet-id");
        assert_int_equal(json_array_size(json_object_get(f, "Values")), 2);
        json_decref(f);
        assert_int_equal(cli_parse_filter("subnet-id=a", &f), -EINVAL);
}

static void expect(const char *in, const char *want)
{
        json_t *got = cli_shorthand(in), *w = json_loads(want, JSON_DECODE_ANY, NULL);
        assert_non_null(w);
        if (!got || !json_equal(got, w)) {
                char *s = got ? json_dumps(got, 0) : NULL;
                fail_msg("shorthand '%s': got %s, want %s", in, s ? s : "NULL", want);
        }
        json_decref(got);
        json_decref(w);
}

static void test_shorthand(void **state)
{
        expect("awsvpcConfiguration={subnets=[subnet-1,subnet-2],securityGroups=[sg-1],assignPublicIp=DISABLED}",
               "{\"awsvpcConfiguration\": {\"subnets\": [\"subnet-1\", \"subnet-2\"], \"securityGroups\": [\"sg-1\"],"
               " \"assignPublicIp\": \"DISABLED\"}}");
        expect("type=spread,field=attribute:ecs.availability-zone",
               "{\"type\": \"spread\", \"field\": \"attribute:ecs.availability-zone\"}");
        expect("name=x,value=3,flag=true", "{\"name\": \"x\", \"value\": 3, \"flag\": true}");
        expect("{\"a\": [1]}", "{\"a\": [1]}");
        expect("list=[]", "{\"list\": []}");
        assert_null(cli_shorthand("a={b=1"));
        assert_null(cli_shorthand("noequals"));
        assert_null(cli_shorthand("a=[1,2"));
        /* found by fuzz_cli_shorthand: a list closed by '}' looped, appending empty strings, until OOM */
        assert_null(cli_shorthand("a=[g}"));
        assert_null(cli_shorthand("=1,b=[x,y],,c={d=e^f=[g]\x0c" "f=[g}"));
        assert_null(cli_shorthand("a=b}c=d"));
        assert_null(cli_shorthand("a={b=c]d=e}"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_filter),
                cmocka_unit_test(test_shorthand),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
