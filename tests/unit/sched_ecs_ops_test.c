/* sched_ecs_ops_test.c: the pure parts of tagging, account settings, cluster updates,
 * DeleteTaskDefinitions and task protection: resource ARNs, tag limits and the aws: prefix,
 * merging tags, setting names/values/principals, cluster configuration, and their ECS errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"
#include "../../scheduler/ecs/account.h"
#include "../../scheduler/ecs/arn.h"
#include "../../scheduler/ecs/cluster.h"
#include "../../scheduler/ecs/ecs.h"
#include "../../scheduler/ecs/tags.h"
#include "../../scheduler/ecs/task_protect.h"
#include "../../scheduler/ecs/taskdef.h"

static json_t *parse(const char *text)
{
        json_error_t jerr;
        json_t *v = json_loads(text, 0, &jerr);
        if (!v)
                fail_msg("bad test JSON %s: %s", text, jerr.text);
        return v;
}

static void want_err(int r, const struct err *err, const char *text, const char *code, const char *frag)
{
        if (r >= 0)
                fail_msg("%s: decoded", text);
        if (strcmp(err->code, code) != 0 || !strstr(err->msg, frag))
                fail_msg("%s: got %s '%s', want %s '%s'", text, err->code, err->msg, code, frag);
}

static void test_arn_resource(void **state)
{
        static const struct {
                const char *arn;
                enum arn_kind kind;
                const char *cluster, *key;
        } ok[] = {
                { "arn:aws:ecs:us-east-1:000000000000:cluster/prod", ARN_KIND_CLUSTER, "prod", "cluster/prod" },
                { "arn:aws:ecs:eu-west-1:123456789012:service/prod/web", ARN_KIND_SERVICE, "prod", "service/prod/web" },
                { "arn:aws:ecs:us-east-1:000000000000:task/prod/0123456789abcdef0123456789abcdef", ARN_KIND_TASK, "prod",
                  "task/prod/0123456789abcdef0123456789abcdef" },
                { "arn:aws:ecs:us-east-1:000000000000:container-instance/c/0123456789abcdef0123456789abcdef", ARN_KIND_INSTANCE, "c",
                  "instance/c/0123456789abcdef0123456789abcdef" },
                { "arn:aws:ecs:us-east-1:000000000000:task-definition/web:12", ARN_KIND_TASKDEF, "", "taskdef/web/00000012" },
        };
        static const char *const bad[] = {
                "", "web", "arn:aws:ec2:us-east-1:000000000000:cluster/a", "arn:aws:ecs:us-east-1:0000:cluster/a",
                "arn:aws:ecs::000000000000:cluster/a", "arn:aws:ecs:us-east-1:00000000000x:cluster/a",
                "arn:aws:ecs:us-east-1:000000000000:cluster/", "arn:aws:ecs:us-east-1:000000000000:cluster/a/b",
                "arn:aws:ecs:us-east-1:000000000000:service/web", "arn:aws:ecs:us-east-1:000000000000:task/c/short",
                "arn:aws:ecs:us-east-1:000000000000:task-definition/web", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:0",
                "arn:aws:ecs:us-east-1:000000000000:capacity-provider/x", "arn:aws:ecs:us-east-1:000000000000:cluster/a b",
        };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
                struct arn_resource r;
                struct err err = { 0 };
                assert_int_equal(arn_resource_parse(ok[i].arn, &r, &err), 0);
                assert_int_equal(r.kind, ok[i].kind);
                assert_string_equal(r.cluster, ok[i].cluster);
                assert_string_equal(r.key, ok[i].key);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct arn_resource r;
                struct err err = { 0 };
                want_err(arn_resource_parse(bad[i], &r, &err), &err, bad[i], E_PARAM, "The ARN provided is invalid.");
        }
}

static void tag_fails(const char *text, const char *code, const char *frag)
{
        _cleanup_json_ json_t *req = parse(text);
        struct tag_resource_in in;
        struct err err = { 0 };
        want_err(tag_resource_decode(req, &in, &err), &err, text, code, frag);
}

static void test_tag_decode(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\","
                                           "\"tags\":[{\"key\":\"k\",\"value\":\"\"},{\"key\":\"j\"}]}");
        _cleanup_json_ json_t *big = json_array(), *breq = NULL;
        struct tag_resource_in in;
        struct err err = { 0 };
        assert_int_equal(tag_resource_decode(req, &in, &err), 0);
        assert_int_equal(json_array_size(in.tags), 2);
        assert_int_equal(in.res.kind, ARN_KIND_CLUSTER);
        tag_fails("{\"tags\":[]}", E_PARAM, "resourceArn");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\"}", E_PARAM, "tags");
        tag_fails("{\"resourceArn\":\"x\",\"tags\":[]}", E_PARAM, "The ARN provided is invalid.");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[{\"key\":\"aws:x\",\"value\":\"1\"}]}",
                  E_PARAM, "aws: prefix is reserved");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[{\"key\":\"AWS:x\"}]}", E_PARAM,
                  "reserved");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[{\"key\":\"\"}]}", E_PARAM, "1 to 128");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[{\"value\":\"v\"}]}", E_PARAM,
                  "tags[0].key");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[{\"key\":5}]}", E_SERIAL, "key");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":{}}", E_SERIAL, "tags");
        tag_fails("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[],\"extra\":1}", E_PARAM,
                  "Unknown parameter");
        for (int i = 0; i < 51; i++) {
                char k[16];
                snprintf(k, sizeof k, "k%d", i);
                json_array_append_new(big, json_pack("{s:s, s:s}", "key", k, "value", "v"));
        }
        breq = json_pack("{s:s, s:O}", "resourceArn", "arn:aws:ecs:us-east-1:000000000000:cluster/a", "tags", big);
        want_err(tag_resource_decode(breq, &in, &err), &err, "51 tags", E_PARAM, "at most 50");
        {
                char text[600];
                char v[300];
                memset(v, 'v', 257);
                v[257] = '\0';
                snprintf(text, sizeof text, "{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:cluster/a\",\"tags\":[{\"key\":\"k\",\"value\":\"%s\"}]}", v);
                tag_fails(text, E_PARAM, "at most 256");
        }
}

static void test_untag_and_list_decode(void **state)
{
        _cleanup_json_ json_t *ok = parse("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:service/c/s\",\"tagKeys\":[\"a\",\"b\"]}");
        _cleanup_json_ json_t *reserved = parse("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:service/c/s\",\"tagKeys\":[\"aws:ecs:x\"]}");
        _cleanup_json_ json_t *nokeys = parse("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:service/c/s\"}");
        _cleanup_json_ json_t *list = parse("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:task-definition/f:1\"}");
        _cleanup_json_ json_t *listx = parse("{\"resourceArn\":\"arn:aws:ecs:us-east-1:000000000000:task-definition/f:1\",\"tags\":[]}");
        struct tag_resource_in in;
        struct err err = { 0 };
        assert_int_equal(untag_resource_decode(ok, &in, &err), 0);
        assert_int_equal(json_array_size(in.keys), 2);
        assert_int_equal(in.res.kind, ARN_KIND_SERVICE);
        want_err(untag_resource_decode(reserved, &in, &err), &err, "reserved", E_PARAM, "reserved");
        want_err(untag_resource_decode(nokeys, &in, &err), &err, "no keys", E_PARAM, "tagKeys");
        assert_int_equal(list_tags_decode(list, &in, &err), 0);
        assert_string_equal(in.res.key, "taskdef/f/00000001");
        want_err(list_tags_decode(listx, &in, &err), &err, "extra", E_PARAM, "Unknown parameter");
}

static void test_tags_merge_remove(void **state)
{
        _cleanup_json_ json_t *have = parse("[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"b\",\"value\":\"2\"}]");
        _cleanup_json_ json_t *add = parse("[{\"key\":\"b\",\"value\":\"x\"},{\"key\":\"c\"},{\"key\":\"c\",\"value\":\"y\"}]");
        _cleanup_json_ json_t *want = parse("[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"b\",\"value\":\"x\"},{\"key\":\"c\",\"value\":\"y\"}]");
        _cleanup_json_ json_t *keys = parse("[\"a\",\"zz\",\"c\"]");
        _cleanup_json_ json_t *left = parse("[{\"key\":\"b\",\"value\":\"x\"}]");
        _cleanup_json_ json_t *m = tags_merge(have, add), *r = NULL, *empty = tags_merge(NULL, NULL);
        assert_true(json_equal(m, want));
        r = tags_remove(m, keys);
        assert_true(json_equal(r, left));
        assert_int_equal(json_array_size(empty), 0);
        {
                struct err err = { 0 };
                assert_int_equal(tags_propagate_check(NULL, false, &err), 0);
                assert_int_equal(tags_propagate_check("TASK_DEFINITION", false, &err), 0);
                assert_int_equal(tags_propagate_check("SERVICE", true, &err), 0);
                want_err(tags_propagate_check("SERVICE", false, &err), &err, "SERVICE for RunTask", E_PARAM, "TASK_DEFINITION or NONE");
                want_err(tags_propagate_check("ALL", true, &err), &err, "ALL", E_PARAM, "SERVICE");
        }
}

static void account_fails(const char *text, enum account_op op, const char *frag)
{
        _cleanup_json_ json_t *req = parse(text);
        struct account_setting_in in;
        struct err err = { 0 };
        want_err(account_setting_decode(req, op, &in, &err), &err, text, E_PARAM, frag);
}

static void test_account_settings(void **state)
{
        _cleanup_json_ json_t *put = parse("{\"name\":\"awsvpcTrunking\",\"value\":\"enabled\",\"principalArn\":\"arn:aws:iam::123456789012:role/x\"}");
        _cleanup_json_ json_t *list = parse("{\"effectiveSettings\":true,\"maxResults\":10}");
        struct account_setting_in in;
        struct err err = { 0 };
        size_t n;
        const struct account_setting_def *d = account_setting_defs(&n);
        assert_int_equal(n, 11);
        assert_string_equal(d[0].name, "serviceLongArnFormat");
        assert_string_equal(account_setting_def("containerInsights")->dflt, "disabled");
        assert_string_equal(account_setting_def("taskLongArnFormat")->dflt, "enabled");
        assert_string_equal(account_setting_def("fargateTaskRetirementWaitPeriod")->dflt, "7");
        assert_null(account_setting_def("nope"));
        assert_int_equal(account_setting_decode(put, ACCOUNT_PUT, &in, &err), 0);
        assert_string_equal(in.def->name, "awsvpcTrunking");
        assert_string_equal(in.value, "enabled");
        assert_string_equal(in.principal, "arn:aws:iam::123456789012:role/x");
        assert_int_equal(account_setting_decode(list, ACCOUNT_LIST, &in, &err), 0);
        assert_true(in.effective);
        assert_null(in.def);
        assert_int_equal(in.max, 10);
        account_fails("{\"name\":\"nope\",\"value\":\"enabled\"}", ACCOUNT_PUT, "should be one of [serviceLongArnFormat,");
        account_fails("{\"name\":\"containerInsights\",\"value\":\"on\"}", ACCOUNT_PUT, "enabled, disabled, enhanced");
        account_fails("{\"name\":\"containerInsights\"}", ACCOUNT_PUT, "value");
        account_fails("{\"value\":\"enabled\"}", ACCOUNT_PUT_DEFAULT, "name");
        account_fails("{\"name\":\"containerInsights\",\"value\":\"enabled\",\"principalArn\":\"x\"}", ACCOUNT_PUT_DEFAULT,
                      "Unknown parameter");
        account_fails("{\"name\":\"containerInsights\",\"value\":\"enabled\",\"principalArn\":\"arn:aws:iam::1:root\"}", ACCOUNT_PUT,
                      "principalArn");
        account_fails("{\"name\":\"containerInsights\",\"value\":\"enabled\",\"principalArn\":\"arn:aws:iam::123456789012:group/g\"}",
                      ACCOUNT_PUT, "principalArn");
        account_fails("{\"name\":\"fargateTaskRetirementWaitPeriod\",\"value\":\"7\"}", ACCOUNT_PUT, "PutAccountSettingDefault");
        account_fails("{\"name\":\"fargateTaskRetirementWaitPeriod\",\"value\":\"5\"}", ACCOUNT_PUT_DEFAULT, "0, 7, 14");
        account_fails("{\"name\":\"guardDutyActivate\",\"value\":\"enabled\"}", ACCOUNT_PUT_DEFAULT, "read only");
        account_fails("{\"name\":\"guardDutyActivate\"}", ACCOUNT_DELETE, "read only");
        account_fails("{\"value\":\"enabled\"}", ACCOUNT_LIST, "needs a setting name");
        account_fails("{\"maxResults\":11}", ACCOUNT_LIST, "maxResults");
        account_fails("{\"maxResults\":0}", ACCOUNT_LIST, "maxResults");
}

static void cluster_fails(const char *text, bool settings_only, const char *code, const char *frag)
{
        _cleanup_json_ json_t *req = parse(text);
        struct update_cluster_in in;
        struct err err = { 0 };
        want_err(update_cluster_decode(req, settings_only, &in, &err), &err, text, code, frag);
}

static void test_update_cluster(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"cluster\":\"c\",\"settings\":[{\"name\":\"containerInsights\",\"value\":\"enhanced\"}],"
                                           "\"configuration\":{\"executeCommandConfiguration\":{\"logging\":\"OVERRIDE\","
                                           "\"logConfiguration\":{\"s3BucketName\":\"b\"}}},\"serviceConnectDefaults\":{\"namespace\":\"\"}}");
        struct update_cluster_in in;
        struct err err = { 0 };
        assert_int_equal(update_cluster_decode(req, false, &in, &err), 0);
        assert_string_equal(in.cluster, "c");
        assert_non_null(in.settings);
        assert_non_null(in.configuration);
        assert_string_equal(in.namespace, "");
        cluster_fails("{\"settings\":[]}", false, E_PARAM, "cluster");
        cluster_fails("{\"cluster\":\"c\"}", true, E_PARAM, "settings");
        cluster_fails("{\"cluster\":\"c\",\"settings\":[],\"configuration\":{}}", true, E_PARAM, "Unknown parameter");
        cluster_fails("{\"cluster\":\"c\",\"settings\":[{\"name\":\"x\",\"value\":\"enabled\"}]}", true, E_PARAM, "containerInsights");
        cluster_fails("{\"cluster\":\"c\",\"settings\":[{\"name\":\"containerInsights\"}]}", true, E_PARAM, "settings[0].value");
        cluster_fails("{\"cluster\":\"c\",\"settings\":[5]}", true, E_SERIAL, "settings[0]");
        cluster_fails("{\"cluster\":\"c\",\"configuration\":{\"executeCommandConfiguration\":{\"logging\":\"OVERRIDE\"}}}", false, E_PARAM,
                      "required when logging is set to OVERRIDE");
        cluster_fails("{\"cluster\":\"c\",\"configuration\":{\"executeCommandConfiguration\":{\"logConfiguration\":{}}}}", false, E_PARAM,
                      "only be specified when logging is set to OVERRIDE");
        cluster_fails("{\"cluster\":\"c\",\"configuration\":{\"executeCommandConfiguration\":{\"logging\":\"ALL\"}}}", false, E_PARAM,
                      "NONE, DEFAULT or OVERRIDE");
        cluster_fails("{\"cluster\":\"c\",\"configuration\":{\"other\":{}}}", false, E_PARAM, "Unknown parameter");
        cluster_fails("{\"cluster\":\"c\",\"serviceConnectDefaults\":{\"namespace\":\"a-b\"}}", false, E_PARAM, "namespace");
        cluster_fails("{\"cluster\":\"c\",\"serviceConnectDefaults\":{\"namespace\":\"arn:aws:ecs:x\"}}", false, E_PARAM,
                      "Cloud Map namespace ARN");
        cluster_fails("{\"cluster\":\"c\",\"serviceConnectDefaults\":{}}", false, E_PARAM, "serviceConnectDefaults.namespace");
}

static void test_delete_tds_and_protection(void **state)
{
        _cleanup_json_ json_t *ok = parse("{\"taskDefinitions\":[\"a:1\",\"b:2\"]}"), *empty = parse("{\"taskDefinitions\":[]}");
        _cleanup_json_ json_t *many = parse("{\"taskDefinitions\":[\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\",\"a:1\"]}");
        _cleanup_json_ json_t *upd = parse("{\"cluster\":\"c\",\"tasks\":[\"t\"],\"protectionEnabled\":true}");
        _cleanup_json_ json_t *get = parse("{\"cluster\":\"c\"}");
        _cleanup_json_ json_t *long_ = parse("{\"cluster\":\"c\",\"tasks\":[\"t\"],\"protectionEnabled\":true,\"expiresInMinutes\":2881}");
        _cleanup_json_ json_t *noflag = parse("{\"cluster\":\"c\",\"tasks\":[\"t\"]}");
        _cleanup_json_ json_t *rec = parse("{\"ebx\":{\"protectedUntil\":1000.5}}");
        struct task_protect_in in;
        struct err err = { 0 };
        json_t *refs = NULL;
        assert_int_equal(delete_tds_decode(ok, &refs, &err), 0);
        assert_int_equal(json_array_size(refs), 2);
        want_err(delete_tds_decode(empty, &refs, &err), &err, "empty", E_PARAM, "greater than 0");
        want_err(delete_tds_decode(many, &refs, &err), &err, "11", E_PARAM, "cannot exceed 10");
        assert_int_equal(task_protect_decode(upd, false, &in, &err), 0);
        assert_true(in.enabled);
        assert_int_equal(in.minutes, 120);
        assert_int_equal(task_protect_decode(get, true, &in, &err), 0);
        assert_null(in.tasks);
        want_err(task_protect_decode(long_, false, &in, &err), &err, "2881", E_PARAM, "expiresInMinutes");
        want_err(task_protect_decode(noflag, false, &in, &err), &err, "no flag", E_PARAM, "protectionEnabled");
        want_err(task_protect_decode(get, false, &in, &err), &err, "no tasks", E_PARAM, "tasks");
        assert_true(task_protected(rec, 1000.0));
        assert_false(task_protected(rec, 1001.0));
        assert_false(task_protected(get, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_arn_resource),        cmocka_unit_test(test_tag_decode),
                cmocka_unit_test(test_untag_and_list_decode), cmocka_unit_test(test_tags_merge_remove),
                cmocka_unit_test(test_account_settings),    cmocka_unit_test(test_update_cluster),
                cmocka_unit_test(test_delete_tds_and_protection),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
