/* netd_lb_test.c: the load-balancer request decoders (netd/lb_req.c) with their codes and messages, and
 * the pure health state machine and target selection (netd/lb_sel.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"
#include "../../netd/lb_req.h"
#include "../../netd/lb_sel.h"

#define LB "0123456789abcdef"
#define VPC "vpc-0123456789abcdef0"
#define SUB1 "subnet-0123456789abcdef0"
#define SUB2 "subnet-0123456789abcdef1"

static json_t *load(const char *text)
{
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                fail_msg("bad test JSON '%s': %s", text, jerr.text);
        return j;
}

static int net_decode(json_t *req, struct err *err)
{
        struct lb_net_req q;
        return lb_net_req_decode(req, &q, err);
}

static int tg_decode(json_t *req, struct err *err)
{
        struct lb_tg_req q;
        return lb_tg_req_decode(req, &q, err);
}

static int targets_decode(json_t *req, struct err *err)
{
        struct lb_targets_req *q = malloc(sizeof *q);
        int r = lb_targets_req_decode(req, q, err);
        free(q);
        return r;
}

static int listener_decode(json_t *req, struct err *err)
{
        struct lb_listener_req q;
        return lb_listener_req_decode(req, &q, err);
}

#define REFUSE(call, text, want_code, want_msg) \
        do { \
                json_t *req_ = load(text); \
                struct err err_ = { 0 }; \
                assert_true(call(req_, &err_) < 0); \
                assert_string_equal(err_.code, want_code); \
                if (want_msg) \
                        assert_string_equal(err_.msg, (const char *) want_msg); \
                json_decref(req_); \
        } while (0)

#define NET(extra) "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"web\", \"VpcId\": \"" VPC \
                   "\", \"SubnetIds\": [\"" SUB1 "\", \"" SUB2 "\"]" extra "}"

static void test_net(void **state)
{
        struct lb_net_req q;
        struct err err = { 0 };
        json_t *req;
        (void) state;

        req = load(NET(", \"Type\": \"application\", \"Scheme\": \"internal\", \"SecurityGroups\": [\"sg-0123456789abcdef0\"]"));
        assert_int_equal(lb_net_req_decode(req, &q, &err), 0);
        assert_string_equal(q.lb_id, LB);
        assert_string_equal(q.name, "web");
        assert_true(q.application);
        assert_true(q.internal);
        assert_int_equal(json_array_size(q.subnets), 2);
        assert_int_equal(json_array_size(q.groups), 1);
        json_decref(req);
        req = load(NET(""));
        assert_int_equal(lb_net_req_decode(req, &q, &err), 0);
        assert_false(q.application);
        assert_false(q.internal);
        assert_null(q.groups);
        json_decref(req);

        REFUSE(net_decode, "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"ABC\"}", "InvalidParameterValue",
               "Value (ABC) for parameter LoadBalancerId is invalid: expected 16 lowercase hex digits");
        REFUSE(net_decode, "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"w\", \"VpcId\": \"" VPC "\"}",
               "MissingParameter", "The request must contain the parameter SubnetIds");
        REFUSE(net_decode, NET(", \"Type\": \"gateway\""), "InvalidParameterValue",
               "Value (gateway) for parameter Type is invalid: expected network or application");
        REFUSE(net_decode, NET(", \"Scheme\": \"public\""), "InvalidParameterValue", NULL);
        REFUSE(net_decode, NET(", \"Extra\": 1"), "UnknownParameter", NULL);
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"w\", \"VpcId\": \"" VPC
               "\", \"SubnetIds\": [\"" SUB1 "\", \"" SUB1 "\"]}",
               "InvalidParameterValue", "SubnetIds names '" SUB1 "' twice");
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"w\", \"VpcId\": \"" VPC
               "\", \"SubnetIds\": []}",
               "InvalidParameterValue", "SubnetIds must name at least one id");
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"w\", \"VpcId\": \"" VPC
               "\", \"SubnetIds\": [\"subnet-x\"]}",
               "InvalidSubnetID.Malformed", NULL);
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"w\", \"VpcId\": \"vpc-1\", "
               "\"SubnetIds\": [\"" SUB1 "\"]}",
               "InvalidVpcID.Malformed", NULL);
        /* names: 1..32 of letters, digits and hyphens, not at either end */
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"web-\", \"VpcId\": \"" VPC
               "\", \"SubnetIds\": [\"" SUB1 "\"]}",
               "InvalidParameterValue", NULL);
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"a_b\", \"VpcId\": \"" VPC
               "\", \"SubnetIds\": [\"" SUB1 "\"]}",
               "InvalidParameterValue", NULL);
        REFUSE(net_decode,
               "{\"Action\": \"CreateLoadBalancerNetwork\", \"LoadBalancerId\": \"" LB "\", \"Name\": \"abcdefghijabcdefghijabcdefghijabc\", "
               "\"VpcId\": \"" VPC "\", \"SubnetIds\": [\"" SUB1 "\"]}",
               "InvalidParameterValue", NULL);
}

#define TG(extra) "{\"Action\": \"PutTargetGroup\", \"TargetGroupId\": \"" LB "\", \"VpcId\": \"" VPC "\", \"Protocol\": \"TCP\", " \
                  "\"Port\": 80" extra "}"

static void test_tg(void **state)
{
        struct lb_tg_req q;
        struct err err = { 0 };
        json_t *req;
        (void) state;

        req = load(TG(""));
        assert_int_equal(lb_tg_req_decode(req, &q, &err), 0);
        assert_int_equal(q.proto, LB_TCP);
        assert_int_equal(q.port, 80);
        assert_false(q.preserve_client_ip);
        assert_int_equal(q.dereg_delay, 300);
        /* ELB's defaults for a TCP group */
        assert_false(q.hc.http);
        assert_int_equal(q.hc.port, 0);
        assert_int_equal(q.hc.interval, 30);
        assert_int_equal(q.hc.timeout, 10);
        assert_int_equal(q.hc.healthy, 5);
        assert_int_equal(q.hc.unhealthy, 2);
        assert_string_equal(q.hc.path, "/");
        assert_string_equal(q.hc.matcher, "200-399");
        json_decref(req);

        req = load(TG(", \"PreserveClientIp\": true, \"DeregistrationDelaySeconds\": 0, \"HealthCheck\": {\"Protocol\": \"HTTP\", "
                      "\"Port\": \"8080\", \"Path\": \"/health\", \"IntervalSeconds\": 5, \"TimeoutSeconds\": 5, "
                      "\"HealthyThresholdCount\": 3, \"UnhealthyThresholdCount\": 3, \"Matcher\": \"200,202-204\"}"));
        assert_int_equal(lb_tg_req_decode(req, &q, &err), 0);
        assert_true(q.preserve_client_ip);
        assert_int_equal(q.dereg_delay, 0);
        assert_true(q.hc.http);
        assert_int_equal(q.hc.port, 8080);
        assert_string_equal(q.hc.path, "/health");
        assert_int_equal(q.hc.interval, 5);
        assert_int_equal(q.hc.healthy, 3);
        json_decref(req);
        req = load(TG(", \"HealthCheck\": {\"Port\": \"traffic-port\"}"));
        assert_int_equal(lb_tg_req_decode(req, &q, &err), 0);
        assert_int_equal(q.hc.port, 0);
        json_decref(req);
        req = load("{\"Action\": \"PutTargetGroup\", \"TargetGroupId\": \"" LB "\", \"VpcId\": \"" VPC "\", \"Protocol\": \"HTTP\", \"Port\": 80}");
        assert_int_equal(lb_tg_req_decode(req, &q, &err), 0);
        assert_true(q.hc.http);
        assert_int_equal(q.hc.timeout, 6);
        json_decref(req);

        REFUSE(tg_decode, "{\"Action\": \"PutTargetGroup\", \"TargetGroupId\": \"" LB "\", \"VpcId\": \"" VPC "\", \"Protocol\": \"SCTP\", \"Port\": 80}",
               "InvalidParameterValue", "Value (SCTP) for parameter Protocol is invalid: expected TCP, UDP, TCP_UDP or HTTP");
        REFUSE(tg_decode, "{\"Action\": \"PutTargetGroup\", \"TargetGroupId\": \"" LB "\", \"VpcId\": \"" VPC "\", \"Protocol\": \"TCP\"}",
               "MissingParameter", NULL);
        REFUSE(tg_decode, TG(", \"DeregistrationDelaySeconds\": 3601"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"IntervalSeconds\": 5, \"TimeoutSeconds\": 6}"), "InvalidParameterValue",
               "HealthCheck.TimeoutSeconds (6) must not exceed IntervalSeconds (5)");
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Port\": \"99999\"}"), "InvalidParameterValue",
               "HealthCheck.Port must be traffic-port or 1 to 65535");
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Port\": \"80x\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Protocol\": \"UDP\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Path\": \"health\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Matcher\": \"200-\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Matcher\": \"200,\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Matcher\": \"399-200\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Matcher\": \"99\"}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"HealthyThresholdCount\": 11}"), "InvalidParameterValue", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": {\"Bogus\": 1}"), "UnknownParameter", NULL);
        REFUSE(tg_decode, TG(", \"HealthCheck\": 5"), "InvalidParameterValue", "HealthCheck must be an object");
}

static void test_targets(void **state)
{
        struct lb_targets_req *q = malloc(sizeof *q);
        struct err err = { 0 };
        json_t *req;
        (void) state;

        req = load("{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\", \"Targets\": [{\"Id\": \"10.0.1.5\", \"Port\": 8080}, "
                   "{\"Id\": \"10.0.1.6\"}]}");
        assert_int_equal(lb_targets_req_decode(req, q, &err), 0);
        assert_int_equal(q->n, 2);
        assert_int_equal(q->v[0].ip, 0x0a000105);
        assert_int_equal(q->v[0].port, 8080);
        assert_int_equal(q->v[1].port, 0);
        json_decref(req);
        free(q);
        REFUSE(targets_decode, "{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\", \"Targets\": []}", "InvalidParameterValue",
               "Targets must list 1 to 256 targets (got 0)");
        REFUSE(targets_decode, "{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\", \"Targets\": [{\"Id\": \"i-0abc\"}]}",
               "InvalidParameterValue", "Targets.1.Id 'i-0abc' is not an IPv4 address (netd takes ip targets)");
        REFUSE(targets_decode, "{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\", \"Targets\": [{\"Id\": \"10.0.0.1\", \"Port\": 0}]}",
               "InvalidParameterValue", NULL);
        REFUSE(targets_decode,
               "{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\", \"Targets\": [{\"Id\": \"10.0.0.1\", \"Port\": 1}, "
               "{\"Id\": \"10.0.0.1\", \"Port\": 1}]}",
               "InvalidParameterValue", "Targets names 10.0.0.1:1 twice");
        REFUSE(targets_decode, "{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\", \"Targets\": [5]}", "InvalidParameterValue",
               "Targets.1 must be an object");
        REFUSE(targets_decode, "{\"Action\": \"RegisterTargets\", \"TargetGroupId\": \"" LB "\"}", "MissingParameter", NULL);
}

static void test_listener_and_ids(void **state)
{
        struct lb_listener_req q;
        struct err err = { 0 };
        const char *id = NULL;
        json_t *req;
        (void) state;

        req = load("{\"Action\": \"PutListener\", \"LoadBalancerId\": \"" LB "\", \"ListenerId\": \"" LB "\", \"TargetGroupId\": \"" LB
                   "\", \"Protocol\": \"TCP_UDP\", \"Port\": 53}");
        assert_int_equal(lb_listener_req_decode(req, &q, &err), 0);
        assert_int_equal(q.proto, LB_TCP_UDP);
        assert_int_equal(q.port, 53);
        json_decref(req);
        REFUSE(listener_decode,
               "{\"Action\": \"PutListener\", \"LoadBalancerId\": \"" LB "\", \"ListenerId\": \"" LB "\", \"TargetGroupId\": \"" LB
               "\", \"Protocol\": \"HTTP\", \"Port\": 80}",
               "InvalidParameterValue", NULL);
        REFUSE(listener_decode,
               "{\"Action\": \"PutListener\", \"LoadBalancerId\": \"" LB "\", \"ListenerId\": \"" LB "\", \"TargetGroupId\": \"" LB
               "\", \"Protocol\": \"TCP\", \"Port\": 65536}",
               "InvalidParameterValue", NULL);
        req = load("{\"Action\": \"DeleteListener\", \"ListenerId\": \"" LB "\"}");
        assert_int_equal(lb_id_req_decode(req, "ListenerId", &id, &err), 0);
        assert_string_equal(id, LB);
        assert_true(lb_id_req_decode(req, "TargetGroupId", &id, &err) < 0);
        json_decref(req);
        assert_true(lb_id_valid("0123456789abcdef"));
        assert_false(lb_id_valid("0123456789ABCDEF"));
        assert_false(lb_id_valid("0123456789abcde"));
        assert_false(lb_id_valid(NULL));
        assert_int_equal(lb_proto_parse("UDP"), LB_UDP);
        assert_int_equal(lb_proto_parse("udp"), -1);
        assert_string_equal(lb_proto_name(LB_TCP_UDP), "TCP_UDP");
}

static void test_health(void **state)
{
        struct lb_health h;
        (void) state;

        lb_health_init(&h);
        assert_int_equal(h.state, LB_S_INITIAL);
        assert_string_equal(lb_reason_name(h.reason), "Elb.InitialHealthChecking");
        /* initial -> healthy after 3 successes in a row, a failure in between starts over */
        assert_false(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_false(lb_health_step(&h, false, LB_R_FAILED, 3, 2));
        assert_false(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_false(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_true(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_int_equal(h.state, LB_S_HEALTHY);
        assert_null(lb_reason_name(h.reason));
        /* healthy -> unhealthy after 2 failures; the reason says timeout or failure */
        assert_false(lb_health_step(&h, false, LB_R_TIMEOUT, 3, 2));
        assert_true(lb_health_step(&h, false, LB_R_TIMEOUT, 3, 2));
        assert_int_equal(h.state, LB_S_UNHEALTHY);
        assert_string_equal(lb_reason_name(h.reason), "Target.Timeout");
        assert_true(lb_health_step(&h, false, LB_R_FAILED, 3, 2));
        assert_string_equal(lb_reason_name(h.reason), "Target.FailedHealthChecks");
        assert_false(lb_health_step(&h, false, LB_R_FAILED, 3, 2));
        /* back after 3 successes */
        assert_false(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_false(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_true(lb_health_step(&h, true, LB_R_FAILED, 3, 2));
        assert_int_equal(h.state, LB_S_HEALTHY);
        /* initial -> unhealthy too */
        lb_health_init(&h);
        assert_true(lb_health_step(&h, false, LB_R_FAILED, 5, 1));
        assert_int_equal(h.state, LB_S_UNHEALTHY);
        /* draining and unused do not move */
        h.state = LB_S_DRAINING;
        assert_false(lb_health_step(&h, true, LB_R_FAILED, 1, 1));
        assert_int_equal(h.state, LB_S_DRAINING);
        h.state = LB_S_UNUSED;
        assert_false(lb_health_step(&h, false, LB_R_FAILED, 1, 1));
        /* names both ways */
        for (int s = LB_S_INITIAL; s <= LB_S_UNUSED; s++)
                assert_int_equal(lb_state_parse(lb_state_name(s)), s);
        for (int r = LB_R_INITIAL; r <= LB_R_NOT_IN_USE; r++)
                assert_int_equal(lb_reason_parse(lb_reason_name(r)), r);
        assert_int_equal(lb_state_parse("bogus"), -1);
        assert_int_equal(lb_reason_parse(NULL), LB_R_NONE);
        assert_string_equal(lb_reason_text(LB_R_FAILED), "Health checks failed");
        /* a wrong HTTP status */
        lb_health_init(&h);
        assert_true(lb_health_step(&h, false, LB_R_MISMATCH, 2, 1));
        assert_string_equal(lb_reason_name(h.reason), "Target.ResponseCodeMismatch");
}

static void test_matcher(void **state)
{
        (void) state;
        assert_true(lb_matcher_match("200", 200));
        assert_false(lb_matcher_match("200", 201));
        assert_true(lb_matcher_match("200-399", 302));
        assert_true(lb_matcher_match("200-399", 399));
        assert_false(lb_matcher_match("200-399", 400));
        assert_false(lb_matcher_match("200-399", 199));
        assert_true(lb_matcher_match("200,202-204", 203));
        assert_true(lb_matcher_match("200,202-204", 200));
        assert_false(lb_matcher_match("200,202-204", 201));
        assert_false(lb_matcher_match("", 200));
        assert_false(lb_matcher_match(NULL, 200));
}

static void test_select(void **state)
{
        size_t idx[8];
        (void) state;
        {
                const int st[] = { LB_S_HEALTHY, LB_S_UNHEALTHY, LB_S_HEALTHY, LB_S_DRAINING, LB_S_INITIAL };
                assert_int_equal(lb_select(st, 5, idx), 2);
                assert_int_equal(idx[0], 0);
                assert_int_equal(idx[1], 2);
        }
        {
                /* none healthy: every target but the draining ones (fail open) */
                const int st[] = { LB_S_UNHEALTHY, LB_S_DRAINING, LB_S_INITIAL };
                assert_int_equal(lb_select(st, 3, idx), 2);
                assert_int_equal(idx[0], 0);
                assert_int_equal(idx[1], 2);
        }
        {
                const int st[] = { LB_S_DRAINING, LB_S_DRAINING };
                assert_int_equal(lb_select(st, 2, idx), 0);
        }
        assert_int_equal(lb_select(NULL, 0, idx), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_net),          cmocka_unit_test(test_tg),     cmocka_unit_test(test_targets),
                cmocka_unit_test(test_listener_and_ids), cmocka_unit_test(test_health), cmocka_unit_test(test_select),
                cmocka_unit_test(test_matcher),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
