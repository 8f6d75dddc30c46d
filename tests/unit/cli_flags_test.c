/* cli_flags_test.c: the aws-style flag parser with the ec2 and ecs dialects. */
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
#include <jansson.h>

#include "../../cli/ec2.h"
#include "../../cli/ecs.h"
#include "../../cli/flags.h"

/* Parses a NULL-terminated argument list with dialect d; returns what flags_parse returns. */
static int parse(const struct flag_dialect *d, json_t **ret, unsigned *sw, const char *const *switches, ...)
{
        char *argv[32];
        int argc = 0, r;
        va_list ap;
        va_start(ap, switches);
        for (const char *a; (a = va_arg(ap, const char *));)
                argv[argc++] = (char *) a;
        va_end(ap);
        *ret = json_object();
        r = flags_parse(d, "verb", argc, argv, switches, *ret, sw);
        return r;
}

static void assert_json(json_t *got, const char *want)
{
        json_t *w = json_loads(want, 0, NULL);
        assert_non_null(w);
        if (!json_equal(got, w)) {
                char *s = json_dumps(got, JSON_SORT_KEYS);
                fail_msg("got %s, want %s", s, want);
        }
        json_decref(w);
}

static void test_ec2(void **state)
{
        json_t *req;
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--cidr-block", "10.0.0.0/16", "--vpc-ids", "vpc-1",
                               "vpc-2", "--port", "80", "--from", "-1", "--range", "1000-2000", "--enabled", "true",
                               "--ip-permissions", "[{\"IpProtocol\": \"tcp\"}]", "--filters", "Name=a,Values=x,y",
                               "Name=b,Values=z", "--groups", "sg-1", "--description", "a=b c", NULL), 0);
        assert_json(req, "{\"CidrBlock\": \"10.0.0.0/16\", \"VpcIds\": [\"vpc-1\", \"vpc-2\"], \"Port\": 80, \"From\": -1,"
                         " \"Range\": \"1000-2000\", \"Enabled\": true, \"IpPermissions\": [{\"IpProtocol\": \"tcp\"}],"
                         " \"Filters\": [{\"Name\": \"a\", \"Values\": [\"x\", \"y\"]}, {\"Name\": \"b\", \"Values\": [\"z\"]}],"
                         " \"Groups\": [\"sg-1\"], \"Description\": \"a=b c\"}");
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--filters", "subnet-id=x", NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--cidr-block", NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "cidr", NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--vpc-id", "v", "--help", NULL), FLAGS_HELP);
        json_decref(req);
}

static void test_ecs(void **state)
{
        json_t *req;
        unsigned sw = 0;
        static const char *const follow[] = { "follow", NULL };
        assert_int_equal(parse(&ecs_flag_dialect, &req, &sw, follow, "--task-definition", "web:3", "--count", "10",
                               "--force", "--no-enable-execute-command", "--tasks", "a", "b", "--network-configuration",
                               "awsvpcConfiguration={subnets=[subnet-1],assignPublicIp=DISABLED}", "--placement-strategy",
                               "type=spread,field=instanceId", "[{\"type\": \"binpack\", \"field\": \"memory\"}]",
                               "--requires-compatibilities", "EC2", "--reason", "a=b", "--follow", NULL), 0);
        assert_json(req, "{\"taskDefinition\": \"web:3\", \"count\": 10, \"force\": true, \"enableExecuteCommand\": false,"
                         " \"tasks\": [\"a\", \"b\"], \"networkConfiguration\": {\"awsvpcConfiguration\":"
                         " {\"subnets\": [\"subnet-1\"], \"assignPublicIp\": \"DISABLED\"}}, \"placementStrategy\":"
                         " [{\"type\": \"spread\", \"field\": \"instanceId\"}, {\"type\": \"binpack\", \"field\": \"memory\"}],"
                         " \"requiresCompatibilities\": [\"EC2\"], \"reason\": \"a=b\"}");
        assert_int_equal(sw, 1);
        json_decref(req);
        /* --follow is only a switch where the command says so */
        assert_int_equal(parse(&ecs_flag_dialect, &req, &sw, NULL, "--follow", NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ecs_flag_dialect, &req, NULL, NULL, "--count", "ten", NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ecs_flag_dialect, &req, NULL, NULL, "--overrides", "a={b=1", NULL), -EINVAL);
        json_decref(req);
}

static void test_files_and_input_json(void **state)
{
        char path[] = "/tmp/cli_flags_testXXXXXX", arg[64], bad[] = "file:///nonexistent/x";
        const char *doc = "{\"cluster\": \"c1\", \"count\": 2}";
        int fd = mkstemp(path);
        json_t *req;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, doc, strlen(doc)), (int) strlen(doc));
        close(fd);
        snprintf(arg, sizeof arg, "file://%s", path);
        /* file:// for a whole request, for a value, and for an ec2 value too */
        assert_int_equal(parse(&ecs_flag_dialect, &req, NULL, NULL, "--cli-input-json", arg, "--overrides", arg, NULL), 0);
        assert_json(req, "{\"cluster\": \"c1\", \"count\": 2, \"overrides\": {\"cluster\": \"c1\", \"count\": 2}}");
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--ip-permissions", arg, NULL), 0);
        assert_json(req, "{\"IpPermissions\": {\"cluster\": \"c1\", \"count\": 2}}");
        json_decref(req);
        assert_int_equal(parse(&ecs_flag_dialect, &req, NULL, NULL, "--overrides", bad, NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--cli-input-json", "[1]", NULL), -EINVAL);
        json_decref(req);
        assert_int_equal(parse(&ec2_flag_dialect, &req, NULL, NULL, "--cli-input-json", "{\"VpcId\": \"v\"}", NULL), 0);
        assert_json(req, "{\"VpcId\": \"v\"}");
        json_decref(req);
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ec2),
                cmocka_unit_test(test_ecs),
                cmocka_unit_test(test_files_and_input_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
