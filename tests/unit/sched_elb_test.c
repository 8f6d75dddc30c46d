/* sched_elb_test.c: ELBv2's pure parts: the Query flattening read against botocore's ELBv2 model (the
 * captures of ../shared/reference/query-protocol.md §1.4: Name.member.N, an empty list as Name=, nested
 * structures), the XML of an answer (<member> items, UpperCamel names), and scheduler/elb/elb_req.c's
 * checks (names, ARNs, paging, health-check defaults, attributes, actions, conditions, tags). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../scheduler/elb/elb_req.h"
#include "../../scheduler/query/form.h"
#include "../../scheduler/query/model.h"

static struct query_model M;

static int setup(void **state)
{
        struct err err = { 0 };
        return query_model_load(query_elbv2_model_json, &M, &err);
}

static int teardown(void **state)
{
        query_model_free(&M);
        return 0;
}

static void flat(const char *op, const char *body, const char *want)
{
        struct err err = { 0 };
        json_t *params = NULL, *got = NULL, *w = json_loads(want, 0, NULL);
        const char *in = NULL, *out = NULL;
        assert_non_null(w);
        assert_true(query_model_op(&M, op, &in, &out));
        assert_int_equal(query_form_parse(body, strlen(body), NULL, &params, &err), 0);
        assert_int_equal(query_model_input(&M, in, params, &got, &err), 0);
        if (!json_equal(got, w)) {
                char *g = json_dumps(got, JSON_SORT_KEYS);
                fail_msg("%s: got %s, want %s", op, g, want);
        }
        assert_int_equal(json_object_size(params), 0);
        json_decref(params);
        json_decref(got);
        json_decref(w);
}

static void test_query_flattening(void **state)
{
        assert_true(M.query);
        flat("CreateLoadBalancer",
             "Name=web&Subnets.member.1=subnet-1&Subnets.member.2=subnet-2&SecurityGroups.member.1=sg-1&Scheme=internal&Tags.member.1.Key=env&Tags.member.1.Value=dev&Type=application",
             "{\"Name\":\"web\",\"Subnets\":[\"subnet-1\",\"subnet-2\"],\"SecurityGroups\":[\"sg-1\"],\"Scheme\":\"internal\","
             "\"Tags\":[{\"Key\":\"env\",\"Value\":\"dev\"}],\"Type\":\"application\"}");
        flat("CreateListener",
             "LoadBalancerArn=a&DefaultActions.member.1.Type=forward&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=arn%3Aaws%3Ax&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight=3",
             "{\"LoadBalancerArn\":\"a\",\"DefaultActions\":[{\"Type\":\"forward\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"arn:aws:x\",\"Weight\":3}]}}]}");
        flat("CreateRule", "ListenerArn=l&Conditions.member.1.Field=path-pattern&Conditions.member.1.PathPatternConfig.Values.member.1=%2Fapi%2F%2A&Priority=10",
             "{\"ListenerArn\":\"l\",\"Conditions\":[{\"Field\":\"path-pattern\",\"PathPatternConfig\":{\"Values\":[\"/api/*\"]}}],\"Priority\":10}");
        flat("ModifyTargetGroup", "TargetGroupArn=t&Matcher.HttpCode=200-299", "{\"TargetGroupArn\":\"t\",\"Matcher\":{\"HttpCode\":\"200-299\"}}");
        /* an empty list is Name=, not absent */
        flat("DescribeLoadBalancers", "Names=", "{\"Names\":[]}");
        flat("DescribeLoadBalancers", "PageSize=5&Marker=m5", "{\"PageSize\":5,\"Marker\":\"m5\"}");
}

static void test_query_bad_values(void **state)
{
        struct err err = { 0 };
        json_t *params = NULL, *got = NULL;
        const char *in = NULL, *out = NULL, *body = "PageSize=x";
        assert_true(query_model_op(&M, "DescribeLoadBalancers", &in, &out));
        assert_string_equal(query_model_result_wrapper(&M, "DescribeLoadBalancers"), "DescribeLoadBalancersResult");
        assert_int_equal(query_form_parse(body, strlen(body), NULL, &params, &err), 0);
        assert_true(query_model_input(&M, in, params, &got, &err) < 0);
        assert_non_null(strstr(err.msg, "PageSize"));
        json_decref(params);
        /* EC2 style (Name.N) is not ELBv2's: left unread */
        body = "Names.1=web";
        assert_int_equal(query_form_parse(body, strlen(body), NULL, &params, &err), 0);
        assert_int_equal(query_model_input(&M, in, params, &got, &err), 0);
        assert_non_null(json_object_get(params, "Names.1"));
        json_decref(params);
        json_decref(got);
}

static void test_query_output(void **state)
{
        struct err err = { 0 };
        const char *in = NULL, *out = NULL;
        json_t *doc = json_loads("{\"LoadBalancers\":[{\"LoadBalancerName\":\"web\",\"State\":{\"Code\":\"active\"},"
                                 "\"SecurityGroups\":[\"sg-1\"],\"CreatedTime\":1764670530.5,\"ebx\":{\"id\":\"x\"}}]}", 0, NULL);
        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
        assert_true(query_model_op(&M, "DescribeLoadBalancers", &in, &out));
        assert_int_equal(query_model_output(&M, out, doc, w, &err), 0);
        xmlTextWriterFlush(w);
        const char *x = (const char *) xmlBufferContent(buf);
        assert_non_null(strstr(x, "<LoadBalancers><member><CreatedTime>"));
        assert_non_null(strstr(x, "<LoadBalancerName>web</LoadBalancerName>"));
        assert_non_null(strstr(x, "<State><Code>active</Code></State>"));
        assert_non_null(strstr(x, "<SecurityGroups><member>sg-1</member></SecurityGroups>"));
        assert_non_null(strstr(x, "<CreatedTime>2025-12-02T10:15:30.500Z</CreatedTime>"));
        assert_null(strstr(x, "ebx"));
        xmlFreeTextWriter(w);
        xmlBufferFree(buf);
        json_decref(doc);
}

static void test_names_arns_pages(void **state)
{
        struct err err = { 0 };
        char id[ELB_ID_MAX];
        size_t off, size;
        assert_int_equal(elb_name_check("Load balancer", "web-1", true, &err), 0);
        assert_true(elb_name_check("Load balancer", "-web", true, &err) < 0);
        assert_string_equal(err.code, ELB_E_VALIDATION);
        assert_true(elb_name_check("Load balancer", "web_1", true, &err) < 0);
        assert_true(elb_name_check("Load balancer", "internal-web", true, &err) < 0);
        assert_int_equal(elb_name_check("Target group", "internal-web", false, &err), 0);
        assert_true(elb_name_check("Target group", "abcdefghijabcdefghijabcdefghijabc", false, &err) < 0);
        assert_int_equal(elb_arn_id(ELB_LB, "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/web/0123456789abcdef", id, &err), 0);
        assert_string_equal(id, "0123456789abcdef");
        assert_true(elb_arn_id(ELB_LB, "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/gwy/web/0123456789abcdef", id, &err) < 0);
        assert_true(elb_arn_id(ELB_LB, "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef", id, &err) < 0);
        assert_int_equal(elb_arn_id(ELB_TG, "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef", id, &err), 0);
        assert_true(elb_arn_id(ELB_TG, "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789ABCDEF", id, &err) < 0);
        assert_int_equal(elb_arn_id(ELB_LISTENER, "arn:aws:elasticloadbalancing:r:a:listener/app/web/0123456789abcdef/fedcba9876543210", id, &err), 0);
        assert_string_equal(id, "fedcba9876543210");
        assert_int_equal(elb_arn_id(ELB_RULE, "arn:aws:elasticloadbalancing:r:a:listener-rule/app/web/0123456789abcdef/fedcba9876543210/00112233445566aa", id, &err), 0);
        assert_true(elb_arn_id(ELB_RULE, "arn:aws:ec2:r:a:listener-rule/app/web/0123456789abcdef/fedcba9876543210/00112233445566aa", id, &err) < 0);
        assert_true(elb_arn_id(ELB_LB, NULL, id, &err) < 0);
        json_t *req = json_pack("{s:i, s:s}", "PageSize", 2, "Marker", "m4");
        assert_int_equal(elb_page_decode(req, &off, &size, &err), 0);
        assert_int_equal(off, 4);
        assert_int_equal(size, 2);
        json_object_set_new(req, "PageSize", json_integer(401));
        assert_true(elb_page_decode(req, &off, &size, &err) < 0);
        json_object_set_new(req, "PageSize", json_integer(400));
        json_object_set_new(req, "Marker", json_string("4"));
        assert_true(elb_page_decode(req, &off, &size, &err) < 0);
        json_decref(req);
}

static void test_health_and_attributes(void **state)
{
        struct err err = { 0 };
        json_t *tg = json_pack("{s:s, s:i, s:s}", "Protocol", "TCP", "Port", 80, "TargetType", "ip"), *req = json_object();
        assert_int_equal(elb_tg_health_apply(tg, req, true, &err), 0);
        assert_string_equal(json_string_value(json_object_get(tg, "HealthCheckProtocol")), "TCP");
        assert_int_equal(json_integer_value(json_object_get(tg, "HealthCheckTimeoutSeconds")), 10);
        assert_null(json_object_get(tg, "Matcher"));
        json_object_set_new(req, "HealthCheckProtocol", json_string("HTTP"));
        assert_int_equal(elb_tg_health_apply(tg, req, false, &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(tg, "Matcher"), "HttpCode")), "200-399");
        assert_string_equal(json_string_value(json_object_get(tg, "HealthCheckPath")), "/");
        json_object_set_new(req, "Matcher", json_pack("{s:s}", "HttpCode", "99"));
        assert_true(elb_tg_health_apply(tg, req, false, &err) < 0);
        json_object_set_new(req, "Matcher", json_pack("{s:s}", "HttpCode", "200,202-204"));
        assert_int_equal(elb_tg_health_apply(tg, req, false, &err), 0);
        json_object_set_new(req, "HealthCheckPort", json_string("70000"));
        assert_true(elb_tg_health_apply(tg, req, false, &err) < 0);
        json_decref(req);

        json_t *attrs = elb_tg_attributes_default(tg);
        assert_string_equal(json_string_value(json_object_get(attrs, "preserve_client_ip.enabled")), "false");
        assert_null(json_object_get(attrs, "slow_start.duration_seconds"));
        json_t *given = json_pack("[{s:s, s:s}]", "Key", "deregistration_delay.timeout_seconds", "Value", "10");
        assert_int_equal(elb_tg_attributes_apply(tg, attrs, given, &err), 0);
        assert_string_equal(json_string_value(json_object_get(attrs, "deregistration_delay.timeout_seconds")), "10");
        json_decref(given);
        given = json_pack("[{s:s, s:s}]", "Key", "stickiness.type", "Value", "lb_cookie");
        assert_true(elb_tg_attributes_apply(tg, attrs, given, &err) < 0);
        json_decref(given);
        given = json_pack("[{s:s, s:s}]", "Key", "target_group_health.dns_failover.minimum_healthy_targets.percentage", "Value", "off");
        assert_int_equal(elb_tg_attributes_apply(tg, attrs, given, &err), 0);
        json_decref(given);
        assert_true(elb_tg_attributes_apply(tg, attrs, NULL, &err) < 0);
        json_decref(attrs);
        json_decref(tg);
}

#define TGA "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"
#define TGB "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/api/0123456789abcdee"

static void test_actions(void **state)
{
        struct err err = { 0 };
        json_t *tgs = NULL, *a = json_loads("[{\"Type\":\"forward\",\"TargetGroupArn\":\"" TGA "\"}]", 0, NULL);
        assert_int_equal(elb_actions_check(a, true, &tgs, &err), 0);
        assert_int_equal(json_array_size(tgs), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(json_object_get(json_array_get(a, 0), "ForwardConfig"), "TargetGroups"), 0), "Weight")), 1);
        json_decref(tgs);
        json_decref(a);
        a = json_loads("[{\"Type\":\"forward\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"" TGA "\"},{\"TargetGroupArn\":\"" TGB "\",\"Weight\":5}]}}]", 0, NULL);
        assert_true(elb_actions_check(a, true, &tgs, &err) < 0);
        assert_string_equal(err.code, ELB_E_CONFIG);
        assert_int_equal(elb_actions_check(a, false, &tgs, &err), 0);
        assert_int_equal(json_array_size(tgs), 2);
        json_decref(tgs);
        json_decref(a);
        a = json_loads("[{\"Type\":\"redirect\",\"RedirectConfig\":{\"StatusCode\":\"HTTP_302\"}}]", 0, NULL);
        assert_int_equal(elb_actions_check(a, false, &tgs, &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(a, 0), "RedirectConfig"), "Host")), "#{host}");
        json_decref(tgs);
        json_decref(a);
        static const char *const bad[] = {
                "[]",
                "[{\"Type\":\"redirect\",\"RedirectConfig\":{\"StatusCode\":\"HTTP_307\"}}]",
                "[{\"Type\":\"fixed-response\",\"FixedResponseConfig\":{\"StatusCode\":\"302\"}}]",
                "[{\"Type\":\"fixed-response\",\"FixedResponseConfig\":{\"StatusCode\":\"200\",\"ContentType\":\"image/png\"}}]",
                "[{\"Type\":\"forward\"}]",
                "[{\"Type\":\"forward\",\"TargetGroupArn\":\"tg\"}]",
                "[{\"Type\":\"authenticate-oidc\"}]",
                "[{\"Type\":\"fixed-response\",\"FixedResponseConfig\":{\"StatusCode\":\"200\"}},{\"Type\":\"forward\",\"TargetGroupArn\":\"" TGA "\"}]",
                "[{\"Type\":\"forward\",\"Order\":2,\"TargetGroupArn\":\"" TGA "\"},{\"Type\":\"forward\",\"Order\":1,\"TargetGroupArn\":\"" TGA "\"}]",
                "[{\"Type\":\"forward\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"" TGA "\",\"Weight\":1000}]}}]",
                NULL,
        };
        for (const char *const *b = bad; *b; b++) {
                a = json_loads(*b, 0, NULL);
                tgs = NULL;
                if (elb_actions_check(a, false, &tgs, &err) == 0)
                        fail_msg("accepted: %s", *b);
                json_decref(a);
        }
}

static void test_conditions_tags(void **state)
{
        struct err err = { 0 };
        json_t *c = json_loads("[{\"Field\":\"path-pattern\",\"Values\":[\"/a/*\"]},{\"Field\":\"http-request-method\",\"HttpRequestMethodConfig\":{\"Values\":[\"GET\"]}},"
                               "{\"Field\":\"source-ip\",\"SourceIpConfig\":{\"Values\":[\"10.0.0.0/8\"]}}]", 0, NULL);
        assert_int_equal(elb_conditions_check(c, &err), 0);
        assert_non_null(json_object_get(json_array_get(c, 0), "PathPatternConfig"));
        json_decref(c);
        static const char *const bad[] = {
                "[{\"Field\":\"cookie\"}]",
                "[{\"Field\":\"path-pattern\"}]",
                "[{\"Field\":\"host-header\",\"Values\":[\"a\"],\"HostHeaderConfig\":{\"Values\":[\"b\"]}}]",
                "[{\"Field\":\"http-header\",\"HttpHeaderConfig\":{\"Values\":[\"1\"]}}]",
                "[{\"Field\":\"http-request-method\",\"HttpRequestMethodConfig\":{\"Values\":[\"get\"]}}]",
                "[{\"Field\":\"source-ip\",\"SourceIpConfig\":{\"Values\":[\"10.0.0.1\"]}}]",
                "[{\"Field\":\"query-string\",\"QueryStringConfig\":{\"Values\":[{\"Key\":\"a\"}]}}]",
                "[{\"Field\":\"source-ip\",\"Values\":[\"10.0.0.0/8\"]}]",
                NULL,
        };
        for (const char *const *b = bad; *b; b++) {
                c = json_loads(*b, 0, NULL);
                if (elb_conditions_check(c, &err) == 0)
                        fail_msg("accepted: %s", *b);
                json_decref(c);
        }
        json_t *t = json_loads("[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\"}]", 0, NULL);
        assert_int_equal(elb_tags_check(t, &err), 0);
        json_array_append_new(t, json_pack("{s:s}", "Key", "a"));
        assert_true(elb_tags_check(t, &err) < 0);
        assert_string_equal(err.code, ELB_E_DUP_TAG);
        json_decref(t);
        t = json_loads("[{\"Key\":\"aws:x\"}]", 0, NULL);
        assert_true(elb_tags_check(t, &err) < 0);
        json_decref(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_query_flattening),
                cmocka_unit_test(test_query_bad_values),
                cmocka_unit_test(test_query_output),
                cmocka_unit_test(test_names_arns_pages),
                cmocka_unit_test(test_health_and_attributes),
                cmocka_unit_test(test_actions),
                cmocka_unit_test(test_conditions_tags),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
