/* sched_decode_test.c: the request decoders of ecsboxd (RunTask, services, deployment
 * configuration, placement, paging): defaults, each kind of bad input with its ECS error type and
 * message, and what a decoded struct holds. */
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
#include "../../scheduler/ecs/deployment.h"
#include "../../scheduler/ecs/ecs.h"
#include "../../scheduler/ecs/runtask.h"
#include "../../scheduler/ecs/service_req.h"
#include "../../scheduler/front/req.h"

static json_t *parse(const char *text)
{
        json_error_t jerr;
        json_t *v = json_loads(text, 0, &jerr);
        if (!v)
                fail_msg("bad test JSON %s: %s", text, jerr.text);
        return v;
}

/* run_task_decode on text must fail with code and a message containing frag. */
static void run_task_fails(const char *text, const char *code, const char *frag)
{
        _cleanup_json_ json_t *req = parse(text);
        struct task_start in = { 0 };
        struct err err = { 0 };
        if (run_task_decode(req, &in, &err) >= 0)
                fail_msg("%s: decoded", text);
        task_start_done(&in);
        if (strcmp(err.code, code) != 0 || !strstr(err.msg, frag))
                fail_msg("%s: got %s '%s', want %s '%s'", text, err.code, err.msg, code, frag);
}

static void test_run_task_defaults(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"taskDefinition\":\"web:3\"}");
        struct task_start in = { 0 };
        struct err err = { 0 };
        assert_int_equal(run_task_decode(req, &in, &err), 0);
        assert_string_equal(in.cluster, "default");
        assert_string_equal(in.taskdef, "web:3");
        assert_int_equal(in.count, 1);
        assert_string_equal(in.launch, "EC2");
        assert_null(in.started_by);
        assert_null(in.group);
        assert_null(in.overrides);
        assert_null(in.net.awsvpc);
        assert_int_equal(in.place.nmember_of, 0);
        assert_null(in.target_ec2_id);
        task_start_done(&in);
}

static void test_run_task_members(void **state)
{
        _cleanup_json_ json_t *req = parse(
                "{\"cluster\":\"c1\",\"taskDefinition\":\"web\",\"count\":3,\"launchType\":\"FARGATE\",\"startedBy\":\"me\","
                "\"group\":\"g\",\"clientToken\":\"t1\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"}],"
                "\"overrides\":{\"containerOverrides\":[{\"name\":\"web\",\"command\":[\"sh\"],\"environment\":[{\"name\":\"A\",\"value\":\"1\"}]}]},"
                "\"placementConstraints\":[{\"type\":\"distinctInstance\"},{\"type\":\"memberOf\",\"expression\":\"attribute:x == y\"}],"
                "\"placementStrategy\":[{\"type\":\"spread\",\"field\":\"instanceId\"},{\"type\":\"binpack\",\"field\":\"memory\"}],"
                "\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[\"subnet-1\"],\"securityGroups\":[\"sg-1\"],\"assignPublicIp\":\"DISABLED\"}}}");
        _cleanup_json_ json_t *other = parse("{\"cluster\":\"c1\",\"taskDefinition\":\"web\",\"count\":3,\"clientToken\":\"t2\"}");
        struct task_start in = { 0 }, in2 = { 0 };
        struct err err = { 0 };
        assert_int_equal(run_task_decode(req, &in, &err), 0);
        assert_string_equal(in.cluster, "c1");
        assert_int_equal(in.count, 3);
        assert_string_equal(in.launch, "FARGATE");
        assert_string_equal(in.started_by, "me");
        assert_string_equal(in.group, "g");
        assert_string_equal(in.client_token, "t1");
        assert_int_equal(json_array_size(in.tags), 1);
        assert_non_null(in.overrides);
        assert_true(in.place.distinct);
        assert_int_equal(in.place.nmember_of, 1);
        assert_int_equal(in.place.nstrategies, 2);
        assert_int_equal(in.place.strategies[0].type, PLACE_SPREAD);
        assert_int_equal(in.place.strategies[1].type, PLACE_BINPACK);
        assert_int_equal(json_array_size(in.net.subnets), 1);
        assert_int_equal(json_array_size(in.net.security_groups), 1);
        assert_string_equal(in.net.assign_public_ip, "DISABLED");
        assert_int_equal(strlen(in.hash), 16);
        /* a different request, so a different hash; the token itself does not count */
        assert_int_equal(run_task_decode(other, &in2, &err), 0);
        assert_string_not_equal(in.hash, in2.hash);
        task_start_done(&in);
        task_start_done(&in2);
}

static void test_run_task_errors(void **state)
{
        run_task_fails("{}", E_PARAM, "Missing required parameter: taskDefinition");
        run_task_fails("{\"taskDefinition\":5}", E_SERIAL, "Invalid type for parameter taskDefinition: expected a string, got an integer");
        run_task_fails("{\"taskDefinition\":\"w\",\"count\":11}", E_PARAM, "Invalid value 11 for count: must be between 1 and 10");
        run_task_fails("{\"taskDefinition\":\"w\",\"launchType\":\"MOON\"}", E_PARAM, "Invalid launchType 'MOON'");
        run_task_fails("{\"taskDefinition\":\"w\",\"launchType\":\"EXTERNAL\"}", E_PARAM, "launchType EXTERNAL is not supported");
        run_task_fails("{\"taskDefinition\":\"w\",\"capacityProviderStrategy\":[{}]}", E_PARAM, "no capacity providers");
        run_task_fails("{\"taskDefinition\":\"w\",\"startedBy\":\"0123456789012345678901234567890123456\"}", E_PARAM,
                       "startedBy can be at most 36");
        run_task_fails("{\"taskDefinition\":\"w\",\"clientToken\":\"\"}", E_PARAM, "clientToken must be 1 to 64");
        run_task_fails("{\"taskDefinition\":\"w\",\"overrides\":{\"containerOverrides\":[5]}}", E_SERIAL,
                       "overrides.containerOverrides[0]: expected a structure");
        run_task_fails("{\"taskDefinition\":\"w\",\"overrides\":{\"containerOverrides\":[{\"name\":\"a\",\"environment\":[{\"value\":\"1\"}]}]}}",
                       E_PARAM, "Missing required parameter: overrides.containerOverrides[0].environment[0].name");
        run_task_fails("{\"taskDefinition\":\"w\",\"overrides\":{\"containerOverrides\":[{\"name\":\"a\",\"memory\":5}]}}", E_PARAM,
                       "overrides.containerOverrides[0].memory");
        run_task_fails("{\"taskDefinition\":\"w\",\"overrides\":{\"cpu\":1}}", E_SERIAL, "overrides.cpu");
        run_task_fails("{\"taskDefinition\":\"w\",\"placementConstraints\":{}}", E_SERIAL, "placementConstraints: expected a list");
        run_task_fails("{\"taskDefinition\":\"w\",\"placementConstraints\":[{\"type\":\"distinctInstance\",\"expression\":\"x\"}]}", E_PARAM,
                       "takes no expression");
        run_task_fails("{\"taskDefinition\":\"w\",\"placementConstraints\":[{\"type\":\"memberOf\"}]}", E_PARAM, "needs an expression");
        run_task_fails("{\"taskDefinition\":\"w\",\"placementConstraints\":[{\"type\":\"memberOf\",\"expression\":\"nonsense ==\"}]}", E_PARAM,
                       "Invalid placementConstraints[0] expression");
        run_task_fails("{\"taskDefinition\":\"w\",\"placementConstraints\":[{\"type\":\"sometimes\"}]}", E_PARAM,
                       "Unknown placement constraint type 'sometimes'");
        run_task_fails("{\"taskDefinition\":\"w\",\"placementStrategy\":[{\"type\":\"pack\"}]}", E_PARAM, "pack");
        run_task_fails("{\"taskDefinition\":\"w\",\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[]}}}", E_PARAM,
                       "subnets can not be empty.");
        run_task_fails("{\"taskDefinition\":\"w\",\"networkConfiguration\":{\"awsvpcConfiguration\":{}}}", E_PARAM,
                       "Missing required parameter: networkConfiguration.awsvpcConfiguration.subnets");
        run_task_fails("{\"taskDefinition\":\"w\",\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[\"s\"],\"assignPublicIp\":\"YES\"}}}",
                       E_PARAM, "assignPublicIp must be ENABLED or DISABLED (got 'YES').");
}

static void test_placement_limits(void **state)
{
        _cleanup_json_ json_t *many = parse("[{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"},"
                                            "{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"},"
                                            "{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"},"
                                            "{\"type\":\"distinctInstance\"},{\"type\":\"distinctInstance\"}]");
        _cleanup_json_ json_t *one = parse("[{\"type\":\"random\"}]");
        struct task_placement p = { 0 };
        struct err err = { 0 };
        assert_int_equal(task_placement_decode(many, NULL, false, &p, &err), -EINVAL);
        assert_string_equal(err.msg, "At most 10 placement constraints are allowed (got 11).");
        assert_int_equal(task_placement_decode(NULL, one, true, &p, &err), -EINVAL);
        assert_string_equal(err.msg, "Placement strategies are not supported with the DAEMON scheduling strategy.");
        assert_int_equal(task_placement_decode(NULL, one, false, &p, &err), 0);
        assert_int_equal(p.nstrategies, 1);
        assert_int_equal(p.strategies[0].type, PLACE_RANDOM);
        task_placement_done(&p);
}

static void create_fails(const char *text, const char *code, const char *frag)
{
        _cleanup_json_ json_t *req = parse(text);
        struct service_create_in in;
        struct err err = { 0 };
        if (service_create_decode(req, &in, &err) >= 0)
                fail_msg("%s: decoded", text);
        if (strcmp(err.code, code) != 0 || !strstr(err.msg, frag))
                fail_msg("%s: got %s '%s', want %s '%s'", text, err.code, err.msg, code, frag);
}

static void test_create_service(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"serviceName\":\"web\",\"taskDefinition\":\"web\",\"desiredCount\":2,"
                                           "\"healthCheckGracePeriodSeconds\":5,\"clientToken\":\"a\"}");
        _cleanup_json_ json_t *again = parse("{\"serviceName\":\"web\",\"taskDefinition\":\"web\",\"desiredCount\":2,"
                                             "\"healthCheckGracePeriodSeconds\":5,\"clientToken\":\"b\"}");
        struct service_create_in in, in2;
        struct err err = { 0 };
        assert_int_equal(service_create_decode(req, &in, &err), 0);
        assert_string_equal(in.cluster, "default");
        assert_string_equal(in.name, "web");
        assert_string_equal(in.launch, "EC2");
        assert_string_equal(in.strategy, "REPLICA");
        assert_false(in.daemon);
        assert_int_equal(in.desired, 2);
        assert_true(in.has_grace);
        assert_int_equal(in.grace, 5);
        assert_false(in.deploy.given);
        assert_null(in.constraints);
        /* CreateService is idempotent whatever the clientToken */
        assert_int_equal(service_create_decode(again, &in2, &err), 0);
        assert_string_equal(in.hash, in2.hash);

        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,\"x\":1}", E_PARAM, "Unknown parameter in input: \"x\".");
        create_fails("{\"taskDefinition\":\"w\",\"desiredCount\":1}", E_PARAM, "Missing required parameter: serviceName");
        create_fails("{\"serviceName\":\"bad name\",\"taskDefinition\":\"w\",\"desiredCount\":1}", E_PARAM, "serviceName 'bad name' is invalid");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\"}", E_PARAM, "Missing required parameter: desiredCount");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":-1}", E_PARAM, "desiredCount");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"schedulingStrategy\":\"ALL\"}", E_PARAM, "Invalid schedulingStrategy 'ALL'");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"schedulingStrategy\":\"DAEMON\",\"launchType\":\"FARGATE\"}", E_PARAM,
                     "does not support the FARGATE launch type");
        create_fails("{\"serviceName\":\"a\",\"desiredCount\":1}", E_PARAM, "Missing required parameter: taskDefinition");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,\"deploymentController\":{\"type\":\"CODE_DEPLOY\"}}",
                     E_PARAM, "deploymentController.type 'CODE_DEPLOY'");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,\"loadBalancers\":[{}]}", E_PARAM,
                     "targetGroupArn");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,\"loadBalancers\":[{\"loadBalancerName\":\"x\"}]}", E_PARAM,
                     "Classic load balancers");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,\"loadBalancers\":[{\"targetGroupArn\":\"t\",\"containerName\":\"c\",\"containerPort\":0}]}",
                     E_PARAM, "containerPort");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"schedulingStrategy\":\"DAEMON\",\"placementStrategy\":[{\"type\":\"random\"}]}",
                     E_PARAM, "DAEMON");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,"
                     "\"deploymentConfiguration\":{\"deploymentCircuitBreaker\":{\"enable\":true}}}",
                     E_PARAM, "Missing required parameter: deploymentConfiguration.deploymentCircuitBreaker.rollback");
        create_fails("{\"serviceName\":\"a\",\"taskDefinition\":\"w\",\"desiredCount\":1,\"deploymentConfiguration\":{\"strategy\":\"BLUE_GREEN\"}}",
                     E_PARAM, "strategy 'BLUE_GREEN' is not supported");
}

static void test_update_service(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"service\":\"web\",\"forceNewDeployment\":true,\"placementStrategy\":[{\"type\":\"random\"}]}");
        _cleanup_json_ json_t *bad = parse("{\"service\":\"web\",\"desiredCount\":\"3\"}");
        struct service_update_in in;
        struct err err = { 0 };
        assert_int_equal(service_update_decode(req, &in, &err), 0);
        assert_string_equal(in.service, "web");
        assert_int_equal(in.desired, -1);
        assert_true(in.force);
        assert_true(in.has_strategies);
        assert_null(in.net.config);
        assert_int_equal(service_update_decode(bad, &in, &err), -EINVAL);
        assert_string_equal(err.code, E_SERIAL);
        assert_non_null(strstr(err.msg, "desiredCount"));
}

static void test_deploy_config(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"deploymentConfiguration\":{\"minimumHealthyPercent\":50}}");
        _cleanup_json_ json_t *bad = parse("{\"deploymentConfiguration\":{\"maximumPercent\":50,\"minimumHealthyPercent\":80}}");
        _cleanup_json_ json_t *big = parse("{\"deploymentConfiguration\":{\"maximumPercent\":150}}");
        _cleanup_json_ json_t *old = parse("{\"maximumPercent\":120,\"minimumHealthyPercent\":100,"
                                           "\"deploymentCircuitBreaker\":{\"enable\":true,\"rollback\":false}}");
        _cleanup_json_ json_t *dc = NULL, *dc2 = NULL, *bounds = parse("{\"maximumPercent\":150,\"minimumHealthyPercent\":50}");
        struct deploy_config_in in;
        struct err err = { 0 };
        long long max_total, min_healthy;
        assert_int_equal(deploy_config_decode(req, &in, &err), 0);
        assert_true(in.given);
        /* the request's member over the old configuration, the rest kept */
        assert_int_equal(deploy_config_resolve(&in, false, old, &dc, &err), 0);
        assert_int_equal(jint(dc, "maximumPercent", 0), 120);
        assert_int_equal(jint(dc, "minimumHealthyPercent", 0), 50);
        assert_true(json_is_true(json_object_get(json_object_get(dc, "deploymentCircuitBreaker"), "enable")));
        /* defaults of the strategy */
        assert_int_equal(deploy_config_decode(big, &in, &err), 0);
        assert_int_equal(deploy_config_resolve(&in, true, NULL, &dc2, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "at most 100 for the DAEMON"));
        assert_int_equal(deploy_config_decode(bad, &in, &err), 0);
        assert_int_equal(deploy_config_resolve(&in, false, NULL, &dc2, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "maximumPercent (50) must be greater than minimumHealthyPercent (80)"));
        /* 1 task at 50/150 %: rounding leaves no room, one task of room is given */
        deployment_bounds(bounds, 1, &max_total, &min_healthy);
        assert_int_equal(min_healthy, 1);
        assert_int_equal(max_total, 2);
}

static void test_paging(void **state)
{
        _cleanup_json_ json_t *all = parse("[\"a\",\"b\",\"c\"]"), *req = parse("{\"maxResults\":2}"), *bad = parse("{\"nextToken\":\"x\"}");
        _cleanup_json_ json_t *page = NULL, *token = NULL, *page2 = NULL, *token2 = NULL, *next = NULL;
        struct req_page pg;
        struct err err = { 0 };
        assert_int_equal(req_page_decode(req, 100, &pg, &err), 0);
        assert_int_equal(req_page_take(&pg, all, &page, &token, &err), 0);
        assert_int_equal(json_array_size(page), 2);
        assert_string_equal(json_string_value(token), "ebx1.2");
        next = json_pack("{s:O}", "nextToken", token);
        assert_int_equal(req_page_decode(next, 100, &pg, &err), 0);
        assert_int_equal(req_page_take(&pg, all, &page2, &token2, &err), 0);
        assert_int_equal(json_array_size(page2), 1);
        assert_string_equal(json_string_value(json_array_get(page2, 0)), "c");
        assert_null(token2);
        assert_int_equal(req_page_decode(bad, 100, &pg, &err), -EINVAL);
        assert_string_equal(err.msg, "Invalid nextToken 'x'");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_run_task_defaults), cmocka_unit_test(test_run_task_members), cmocka_unit_test(test_run_task_errors),
                cmocka_unit_test(test_placement_limits),  cmocka_unit_test(test_create_service),   cmocka_unit_test(test_update_service),
                cmocka_unit_test(test_deploy_config),     cmocka_unit_test(test_paging),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
