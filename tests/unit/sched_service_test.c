/* sched_service_test.c: services without a loop or netd: request validation and error types, and
 * the scheduler's rolling bounds, scale-in and circuit breaker driven pass by pass, with task states
 * written by hand (host-mode tasks on a cluster without instances need no netd). */
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
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../../scheduler/ecs/cluster.h"
#include "../../scheduler/ecs/service.h"
#include "../../scheduler/ecs/task.h"
#include "../../scheduler/front/api.h"
#include "../../scheduler/sched.h"

static int no_netd(struct sched *s, json_t *req, json_t **ret, struct err *err)
{
        return err_set(err, ENOSYS, "netd:Unavailable", "no netd in unit tests");
}

static int setup(void **state)
{
        static struct sched s;
        struct sched_options o = { 0 };
        struct err err = { 0 };
        memset(&s, 0, sizeof s);
        s.netd_call = no_netd;
        assert_int_equal(sched_init(&s, &o, &err), 0);
        assert_int_equal(cluster_ensure_default(&s, &err), 0);
        *state = &s;
        return 0;
}

static int teardown(void **state)
{
        sched_done(*state);
        return 0;
}

static json_t *call(struct sched *s, const char *op, const char *body, struct err *err)
{
        struct api_ctx c = { .s = s, .region = "us-east-1" };
        json_error_t jerr;
        _cleanup_json_ json_t *req = json_loads(body, 0, &jerr);
        json_t *ret = NULL;
        assert_non_null(req);
        memset(err, 0, sizeof *err);
        if (api_dispatch(&c, op, req, &ret, err) < 0)
                return NULL;
        return ret;
}

static json_t *ok(struct sched *s, const char *op, const char *body)
{
        struct err err;
        json_t *r = call(s, op, body, &err);
        if (!r)
                fail_msg("%s %s: %s: %s", op, body, err.code, err.msg);
        return r;
}

static void expect_err(struct sched *s, const char *op, const char *body, const char *code, const char *frag)
{
        struct err err;
        json_t *r = call(s, op, body, &err);
        if (r)
                fail_msg("%s %s should fail", op, body);
        if (strcmp(err.code, code) != 0 || !strstr(err.msg, frag))
                fail_msg("%s %s: got %s '%s', want %s '%s'", op, body, err.code, err.msg, code, frag);
}

static void register_td(struct sched *s, const char *cmd)
{
        char body[512];
        snprintf(body, sizeof body,
                 "{\"family\":\"web\",\"networkMode\":\"host\",\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"busybox\","
                 "\"memory\":32,\"command\":[\"%s\"]}]}",
                 cmd);
        json_decref(ok(s, "RegisterTaskDefinition", body));
}

static int collect(const char *key, json_t *v, void *userdata)
{
        json_array_append(userdata, v);
        return 0;
}

static json_t *tasks(struct sched *s)
{
        struct err err = { 0 };
        json_t *a = json_array();
        assert_int_equal(store_list(s->store, "task/default/", collect, a, &err), 0);
        return a;
}

static void put(struct sched *s, json_t *t)
{
        struct err err = { 0 };
        assert_int_equal(task_put(s, t, &err), 0);
}

/* What the task state machine would do: stops finish, new tasks run (or fail, for rev `failing`). */
static void advance_tasks(struct sched *s, long failing)
{
        _cleanup_json_ json_t *a = tasks(s);
        json_t *t;
        size_t i;
        json_array_foreach(a, i, t) {
                const char *last = jstr(t, "lastStatus");
                char rev[16];
                if (strcmp(last, "STOPPED") == 0)
                        continue;
                snprintf(rev, sizeof rev, ":%ld", failing);
                if (strcmp(jstr(t, "desiredStatus"), "STOPPED") == 0)
                        json_object_set_new(t, "lastStatus", json_string("STOPPED"));
                else if (failing && strstr(jstr(t, "taskDefinitionArn"), rev) &&
                         strlen(strstr(jstr(t, "taskDefinitionArn"), rev)) == strlen(rev)) {
                        json_object_set_new(t, "lastStatus", json_string("STOPPED"));
                        json_object_set_new(t, "desiredStatus", json_string("STOPPED"));
                        json_object_set_new(t, "stopCode", json_string("EssentialContainerExited"));
                } else if (strcmp(last, "RUNNING") != 0) {
                        json_object_set_new(t, "lastStatus", json_string("RUNNING"));
                        /* long enough ago to count healthy */
                        json_object_set_new(t, "startedAt", jtime(now_epoch() - 10));
                } else
                        continue;
                put(s, t);
        }
}

static void count(struct sched *s, int *live, int *healthy)
{
        _cleanup_json_ json_t *a = tasks(s);
        json_t *t;
        size_t i;
        *live = *healthy = 0;
        json_array_foreach(a, i, t) {
                if (strcmp(jstr(t, "desiredStatus"), "RUNNING") != 0)
                        continue;
                (*live)++;
                if (strcmp(jstr(t, "lastStatus"), "RUNNING") == 0)
                        (*healthy)++;
        }
}

static json_t *describe(struct sched *s)
{
        json_t *r = ok(s, "DescribeServices", "{\"services\":[\"web\"]}");
        json_t *svc = json_incref(json_array_get(json_object_get(r, "services"), 0));
        json_decref(r);
        return svc;
}

static bool steady(struct sched *s)
{
        _cleanup_json_ json_t *svc = describe(s);
        json_t *d = json_array_get(json_object_get(svc, "deployments"), 0);
        return json_array_size(json_object_get(svc, "deployments")) == 1 && strcmp(jstr(d, "rolloutState"), "COMPLETED") == 0 &&
               jint(svc, "runningCount", -1) == jint(svc, "desiredCount", -2);
}

static void test_validation(void **state)
{
        struct sched *s = *state;
        register_td(s, "true");
        json_decref(ok(s, "CreateService", "{\"serviceName\":\"web\",\"taskDefinition\":\"web\",\"desiredCount\":0}"));
        /* the same request again: the existing service */
        json_decref(ok(s, "CreateService", "{\"serviceName\":\"web\",\"taskDefinition\":\"web\",\"desiredCount\":0}"));
        expect_err(s, "CreateService", "{\"serviceName\":\"web\",\"taskDefinition\":\"web\",\"desiredCount\":1}", E_PARAM,
                   "Creation of service was not idempotent.");
        expect_err(s, "CreateService", "{\"cluster\":\"x\",\"serviceName\":\"a\",\"taskDefinition\":\"web\",\"desiredCount\":1}",
                   E_CLUSTER_NF, "Cluster not found.");
        expect_err(s, "CreateService", "{\"serviceName\":\"a\",\"taskDefinition\":\"web\",\"desiredCount\":-1}", E_PARAM, "desiredCount");
        expect_err(s, "CreateService", "{\"serviceName\":\"a\",\"taskDefinition\":\"web\"}", E_PARAM, "desiredCount");
        expect_err(s, "CreateService", "{\"serviceName\":\"a\",\"taskDefinition\":\"web\",\"desiredCount\":1,\"x\":1}", E_PARAM,
                   "Unknown parameter in input: \"x\"");
        expect_err(s, "CreateService",
                   "{\"serviceName\":\"a\",\"taskDefinition\":\"web\",\"desiredCount\":1,\"placementStrategy\":[{\"type\":\"pack\"}]}", E_PARAM,
                   "pack");
        expect_err(s, "CreateService",
                   "{\"serviceName\":\"a\",\"taskDefinition\":\"web\",\"schedulingStrategy\":\"DAEMON\",\"placementStrategy\":[{\"type\":\"random\"}]}",
                   E_PARAM, "DAEMON");
        expect_err(s, "CreateService",
                   "{\"serviceName\":\"a\",\"taskDefinition\":\"web\",\"desiredCount\":1,\"deploymentConfiguration\":{\"minimumHealthyPercent\":101}}",
                   E_PARAM, "minimumHealthyPercent");
        expect_err(s, "CreateService", "{\"serviceName\":\"a\",\"taskDefinition\":\"web:9\",\"desiredCount\":1}", E_PARAM,
                   "TaskDefinition not found.");
        expect_err(s, "UpdateService", "{\"service\":\"nope\"}", E_SVC_NF, "Service not found.");
        expect_err(s, "DeleteService", "{\"service\":\"nope\"}", E_SVC_NF, "Service not found.");
        json_decref(ok(s, "DeleteService", "{\"service\":\"web\"}"));
        expect_err(s, "UpdateService", "{\"service\":\"web\",\"desiredCount\":1}", E_SVC_NA, "Service was not ACTIVE.");
        services_tick(s);
        {
                _cleanup_json_ json_t *svc = describe(s);
                assert_string_equal(jstr(svc, "status"), "INACTIVE");
        }
}

static void test_rolling_bounds_and_breaker(void **state)
{
        struct sched *s = *state;
        int live, healthy, i;
        register_td(s, "true");  /* web:1 */
        register_td(s, "true");  /* web:2 */
        register_td(s, "false"); /* web:3, fails */
        json_decref(ok(s, "CreateService",
                       "{\"serviceName\":\"web\",\"taskDefinition\":\"web:1\",\"desiredCount\":4,\"deploymentConfiguration\":"
                       "{\"minimumHealthyPercent\":50,\"maximumPercent\":150,\"deploymentCircuitBreaker\":{\"enable\":true,\"rollback\":true}}}"));
        services_tick(s);
        count(s, &live, &healthy);
        assert_int_equal(live, 4);
        advance_tasks(s, 0);
        services_tick(s);
        assert_true(steady(s));

        /* rev 2: never more than 6 tasks, never fewer than 2 running */
        json_decref(ok(s, "UpdateService", "{\"service\":\"web\",\"taskDefinition\":\"web:2\"}"));
        for (i = 0; i < 20 && !steady(s); i++) {
                services_tick(s);
                count(s, &live, &healthy);
                assert_true(live <= 6);
                assert_true(healthy >= 2);
                advance_tasks(s, 0);
                count(s, &live, &healthy);
                assert_true(healthy >= 2);
        }
        assert_true(steady(s));
        {
                _cleanup_json_ json_t *svc = describe(s);
                assert_non_null(strstr(jstr(svc, "taskDefinition"), "web:2"));
        }

        /* scale in to 1 */
        json_decref(ok(s, "UpdateService", "{\"service\":\"web\",\"desiredCount\":1}"));
        services_tick(s);
        count(s, &live, &healthy);
        assert_int_equal(live, 1);

        /* rev 3 fails: after 3 failed tasks FAILED, rollback to rev 2's deployment */
        json_decref(ok(s, "UpdateService", "{\"service\":\"web\",\"taskDefinition\":\"web:3\"}"));
        for (i = 0; i < 20 && !steady(s); i++) {
                services_tick(s);
                advance_tasks(s, 3);
        }
        assert_true(steady(s));
        {
                _cleanup_json_ json_t *svc = describe(s);
                json_t *ev = json_object_get(svc, "events"), *e;
                size_t k;
                bool failed = false, rolled = false;
                assert_non_null(strstr(jstr(svc, "taskDefinition"), "web:2"));
                json_array_foreach(ev, k, e) {
                        failed |= strstr(jstr(e, "message"), "deployment failed: tasks failed to start.") != NULL;
                        rolled |= strstr(jstr(e, "message"), "rolling back to deployment ecs-svc/") != NULL;
                }
                assert_true(failed && rolled);
                assert_string_equal(jstr(json_array_get(ev, 0), "message"), "(service web) has reached a steady state.");
        }
        count(s, &live, &healthy);
        assert_int_equal(live, 1);

        /* forceNewDeployment: a new deployment of the same revision replaces the task */
        {
                _cleanup_json_ json_t *before = describe(s), *r = NULL, *after = NULL;
                char old_id[64];
                snprintf(old_id, sizeof old_id, "%s", jstr(json_array_get(json_object_get(before, "deployments"), 0), "id"));
                r = ok(s, "UpdateService", "{\"service\":\"web\",\"forceNewDeployment\":true}");
                assert_int_equal(json_array_size(json_object_get(json_object_get(r, "service"), "deployments")), 2);
                for (i = 0; i < 20 && !steady(s); i++) {
                        services_tick(s);
                        advance_tasks(s, 0);
                }
                assert_true(steady(s));
                after = describe(s);
                assert_string_not_equal(jstr(json_array_get(json_object_get(after, "deployments"), 0), "id"), old_id);
                assert_non_null(strstr(jstr(after, "taskDefinition"), "web:2"));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rolling_bounds_and_breaker, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
