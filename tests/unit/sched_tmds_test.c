/* sched_tmds_test.c: the metadata endpoint's pure parts (scheduler/tmds/shape.c): its paths, and the v4
 * container and task bodies built from a task record (the agent's field names, empty fields left out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../scheduler/tmds/shape.h"

#define TID "0123456789abcdef0123456789abcdef"

static void test_paths(void **state)
{
        struct tmds_path p;
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899aabbccddeeff", &p), TMDS_CONTAINER);
        assert_int_equal(p.version, 4);
        assert_string_equal(p.task_id, TID);
        assert_string_equal(p.id, TID "-00112233445566778899aabbccddeeff");
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899aabbccddeeff/", &p), TMDS_CONTAINER);
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899aabbccddeeff/task", &p), TMDS_TASK);
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899aabbccddeeff/taskWithTags", &p), TMDS_TASK_TAGS);
        assert_int_equal(tmds_path_parse("/v3/" TID "-00112233445566778899aabbccddeeff/taskWithTags", &p), TMDS_NONE);
        assert_int_equal(tmds_path_parse("/v3/" TID "-00112233445566778899aabbccddeeff/stats", &p), TMDS_STATS);
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899aabbccddeeff/task/stats", &p), TMDS_TASK_STATS);
        assert_int_equal(tmds_path_parse("/v2/credentials/" TID "-00112233445566778899aabbccddeeff", &p), TMDS_CREDENTIALS);
        /* malformed ids: short, upper case, no dash, traversal */
        assert_int_equal(tmds_path_parse("/v4/" TID "-0011", &p), TMDS_NONE);
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899AABBCCDDEEFF", &p), TMDS_NONE);
        assert_int_equal(tmds_path_parse("/v4/" TID "000112233445566778899aabbccddeeff", &p), TMDS_NONE);
        assert_int_equal(tmds_path_parse("/v4/../../etc/passwd", &p), TMDS_NONE);
        assert_int_equal(tmds_path_parse("/", &p), TMDS_NONE);
        assert_int_equal(tmds_path_parse("/v4/" TID "-00112233445566778899aabbccddeeff/other", &p), TMDS_NONE);
}

static void test_bodies(void **state)
{
        json_t *rec = json_loads(
                "{\"taskArn\":\"arn:aws:ecs:us-east-1:000000000000:task/default/" TID "\","
                "\"clusterArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/default\","
                "\"taskDefinitionArn\":\"arn:aws:ecs:us-east-1:000000000000:task-definition/web:7\","
                "\"desiredStatus\":\"RUNNING\",\"lastStatus\":\"RUNNING\",\"launchType\":\"EC2\",\"cpu\":\"512\",\"memory\":\"1024\","
                "\"availabilityZone\":\"us-east-1a\",\"createdAt\":1764000000.5,\"group\":\"service:svc\","
                "\"tags\":[{\"key\":\"team\",\"value\":\"blue\"}],"
                "\"containers\":[{\"name\":\"app\",\"image\":\"nginx\",\"lastStatus\":\"RUNNING\",\"runtimeId\":\"ab\","
                "\"containerArn\":\"arn:aws:ecs:us-east-1:000000000000:container/default/" TID "/6f1c\",\"startedAt\":1764000001}],"
                "\"ebx\":{\"containers\":[{\"name\":\"app\",\"cpu\":256,\"memory\":128,"
                "\"logConfiguration\":{\"logDriver\":\"awslogs\",\"options\":{\"awslogs-group\":\"g\"}}}]}}", 0, NULL);
        json_t *dns = json_pack("[s]", "10.0.0.2");
        struct tmds_net net = { .mode = "awsvpc", .ip = "10.0.1.5", .mac = "0a:58:0a:00:01:05", .dns_name = "ip-10-0-1-5.ec2.internal",
                                .subnet_cidr = "10.0.1.0/24", .gateway = "10.0.1.1/24", .dns_servers = dns, .vpc_id = "vpc-1" };
        json_t *c = tmds_container(rec, json_array_get(json_object_get(rec, "containers"), 0),
                                   json_array_get(json_object_get(json_object_get(rec, "ebx"), "containers"), 0), &net, 4);
        json_t *n = json_array_get(json_object_get(c, "Networks"), 0), *t;
        assert_string_equal(json_string_value(json_object_get(c, "DockerId")), "ab");
        assert_string_equal(json_string_value(json_object_get(c, "DockerName")), "ecs-web-7-app-ab");
        assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "com.amazonaws.ecs.cluster")), "default");
        assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "com.amazonaws.ecs.task-definition-version")), "7");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "Limits"), "CPU")), 256);
        assert_string_equal(json_string_value(json_object_get(c, "LogDriver")), "awslogs");
        assert_string_equal(json_string_value(json_object_get(c, "CreatedAt")), "2025-11-24T16:00:00.500Z");
        assert_null(json_object_get(c, "FinishedAt"));
        assert_null(json_object_get(c, "ExitCode"));
        assert_null(json_object_get(c, "Health"));
        assert_string_equal(json_string_value(json_object_get(n, "SubnetGatewayIpv4Address")), "10.0.1.1/24");
        assert_int_equal(json_integer_value(json_object_get(n, "AttachmentIndex")), 0);
        assert_null(json_object_get(n, "DomainNameSearchList"));
        json_decref(c);
        c = tmds_container(rec, json_array_get(json_object_get(rec, "containers"), 0), NULL, &net, 3);
        assert_null(json_object_get(json_array_get(json_object_get(c, "Networks"), 0), "MACAddress"));
        json_decref(c);
        t = tmds_task(rec, &net, 4, true, NULL);
        assert_string_equal(json_string_value(json_object_get(t, "Revision")), "7");
        assert_string_equal(json_string_value(json_object_get(t, "ServiceName")), "svc");
        assert_string_equal(json_string_value(json_object_get(t, "VPCID")), "vpc-1");
        assert_true(json_real_value(json_object_get(json_object_get(t, "Limits"), "CPU")) == 0.5);
        assert_string_equal(json_string_value(json_object_get(json_object_get(t, "TaskTags"), "team")), "blue");
        assert_int_equal(json_array_size(json_object_get(t, "Containers")), 1);
        json_decref(t);
        json_decref(dns);
        json_decref(rec);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_bodies),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
