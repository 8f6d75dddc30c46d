/* deployment.c: deployments of a service: records, task counts, deploymentConfiguration and its
 * rolling bounds, the circuit breaker. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "deployment.h"
#include "ecs.h"

#define HEALTHY_AFTER 2.0       /* seconds RUNNING before a task without health check counts healthy (ECS: 40) */
#define DC_PATH "deploymentConfiguration"
#define CB_PATH "deploymentConfiguration.deploymentCircuitBreaker"

int deploy_config_decode(json_t *req, struct deploy_config_in *ret, struct err *err)
{
        struct deploy_config_in in = { 0 };
        json_t *dc = NULL, *cb = NULL;
        int r;
        if ((r = req_object(req, NULL, DC_PATH, false, &dc, err)) < 0 ||
            (r = req_int(dc, DC_PATH, "maximumPercent", false, 0, 10000, &in.max_percent, err)) < 0)
                return r;
        in.has_max = r > 0;
        if ((r = req_int(dc, DC_PATH, "minimumHealthyPercent", false, 0, 100, &in.min_healthy_percent, err)) < 0)
                return r;
        in.has_min = r > 0;
        if ((r = req_object(dc, DC_PATH, "deploymentCircuitBreaker", false, &cb, err)) < 0)
                return r;
        if (cb && ((r = req_bool(cb, CB_PATH, "enable", true, &in.enable, err)) < 0 ||
                   (r = req_bool(cb, CB_PATH, "rollback", true, &in.rollback, err)) < 0))
                return r;
        in.has_breaker = cb != NULL;
        if (dc && json_object_get(dc, "strategy") && strcmp(jstr(dc, "strategy") ?: "", "ROLLING") != 0)
                return err_set(err, EINVAL, E_PARAM, "deploymentConfiguration.strategy '%s' is not supported by ecsbox: use ROLLING.",
                               jstr(dc, "strategy") ?: "?");
        in.given = dc != NULL;
        *ret = in;
        return 0;
}

int deploy_config_resolve(const struct deploy_config_in *in, bool daemon, json_t *old, json_t **ret, struct err *err)
{
        long long maxp = daemon ? 100 : 200, minp = daemon ? 0 : 100;
        bool enable = false, rollback = false;
        if (old) {
                json_t *cb = json_object_get(old, "deploymentCircuitBreaker");
                maxp = jint(old, "maximumPercent", maxp);
                minp = jint(old, "minimumHealthyPercent", minp);
                enable = json_is_true(json_object_get(cb, "enable"));
                rollback = json_is_true(json_object_get(cb, "rollback"));
        }
        if (in->has_max)
                maxp = in->max_percent;
        if (in->has_min)
                minp = in->min_healthy_percent;
        if (in->has_breaker) {
                enable = in->enable;
                rollback = in->rollback;
        }
        if (maxp < 100 && minp >= maxp)
                return err_set(err, EINVAL, E_PARAM,
                               "deploymentConfiguration.maximumPercent (%lld) must be greater than minimumHealthyPercent (%lld).", maxp, minp);
        if (daemon && maxp > 100)
                return err_set(err, EINVAL, E_PARAM, "deploymentConfiguration.maximumPercent can be at most 100 for the DAEMON scheduling strategy.");
        *ret = json_pack("{s:I, s:I, s:{s:b, s:b}}", "maximumPercent", (json_int_t) maxp, "minimumHealthyPercent", (json_int_t) minp,
                         "deploymentCircuitBreaker", "enable", enable, "rollback", rollback);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

json_t *deployment_new(const char *tdarn, json_t *netconf, const char *launch, long long desired)
{
        char id[40];
        uint64_t rnd = 0;
        json_t *d;
        (void) random_bytes(&rnd, sizeof rnd);
        snprintf(id, sizeof id, "ecs-svc/%019llu", (unsigned long long) (rnd % 10000000000000000000ull));
        d = json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:o, s:o, s:s, s:s, s:s}", "id", id, "status", "PRIMARY", "taskDefinition",
                      tdarn, "desiredCount", (json_int_t) desired, "pendingCount", 0, "runningCount", 0, "failedTasks", 0, "createdAt",
                      jtime(now_epoch()), "updatedAt", jtime(now_epoch()), "launchType", launch, "rolloutState", "IN_PROGRESS",
                      "rolloutStateReason", "ECS deployment " /* completed below */ "");
        if (d) {
                char reason[120];
                snprintf(reason, sizeof reason, "ECS deployment %s in progress.", id);
                json_object_set_new(d, "rolloutStateReason", json_string(reason));
                if (netconf)
                        json_object_set(d, "networkConfiguration", netconf);
        }
        return d;
}

json_t *deployment_primary(json_t *svc)
{
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(svc, "deployments"), i, d)
                if (strcmp(jstr(d, "status") ?: "", "PRIMARY") == 0)
                        return d;
        return NULL;
}

void deployment_set_rollout(json_t *d, const char *state, const char *what)
{
        char reason[200];
        if (strstr(what, "circuit breaker"))
                snprintf(reason, sizeof reason, "%s", what);
        else
                snprintf(reason, sizeof reason, "ECS deployment %s %s.", jstr(d, "id"), what);
        json_object_set_new(d, "rolloutState", json_string(state));
        json_object_set_new(d, "rolloutStateReason", json_string(reason));
        json_object_set_new(d, "updatedAt", jtime(now_epoch()));
}

void deployment_bounds(json_t *config, long long desired, long long *ret_max_total, long long *ret_min_healthy)
{
        long long maxp = jint(config, "maximumPercent", 200), minp = jint(config, "minimumHealthyPercent", 100);
        long long max_total = desired * maxp / 100, min_healthy = (desired * minp + 99) / 100;
        /* rounding (max down, min up) can leave no room at all (1 task at 50/150 %): one task of
         * room keeps the deployment moving */
        if (desired > 0 && max_total <= min_healthy)
                max_total = min_healthy + 1;
        *ret_max_total = max_total;
        *ret_min_healthy = min_healthy;
}

bool task_live(json_t *t)
{
        return strcmp(jstr(t, "desiredStatus") ?: "", "RUNNING") == 0;
}

static bool task_has_health_check(json_t *t)
{
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(json_object_get(t, "ebx"), "containers"), i, d)
                if (json_object_get(d, "healthCheck") && !json_is_false(json_object_get(d, "essential")))
                        return true;
        return false;
}

/* RUNNING and, with a health check, HEALTHY; without one, RUNNING for HEALTHY_AFTER seconds, so
 * that a container that exits at once is not taken for healthy (ECS waits 40 s without a load balancer). */
bool task_healthy(json_t *t)
{
        if (!task_live(t) || strcmp(jstr(t, "lastStatus") ?: "", "RUNNING") != 0)
                return false;
        if (task_has_health_check(t))
                return strcmp(jstr(t, "healthStatus") ?: "", "HEALTHY") == 0;
        return now_epoch() - json_number_value(json_object_get(t, "startedAt")) >= HEALTHY_AFTER;
}

/* A stop the scheduler did not ask for that counts against the circuit breaker. */
static bool task_failed(json_t *t)
{
        const char *code = jstr(t, "stopCode") ?: "";
        if (task_live(t))
                return false;
        if (strcmp(code, "ServiceSchedulerInitiated") == 0)
                return strcmp(jstr(t, "stoppedReason") ?: "", "Task failed container health checks") == 0;
        return strcmp(code, "UserInitiated") != 0 && strcmp(code, "TerminationNotice") != 0;
}

void deployment_count(json_t *tasks, const char *dep, struct dep_count *n)
{
        json_t *t;
        size_t i;
        memset(n, 0, sizeof *n);
        json_array_foreach(tasks, i, t) {
                if (strcmp(jstr(t, "startedBy") ?: "", dep) != 0)
                        continue;
                if (task_live(t)) {
                        n->live++;
                        if (strcmp(jstr(t, "lastStatus") ?: "", "RUNNING") == 0)
                                n->running++;
                        else
                                n->pending++;
                        if (task_healthy(t))
                                n->healthy++;
                } else if (task_failed(t))
                        n->failed++;
        }
}

enum breaker_result deployment_breaker(json_t *svc, json_t *prim, long long desired, json_t **ret_rolled_back)
{
        json_t *cb = json_object_get(json_object_get(svc, "deploymentConfiguration"), "deploymentCircuitBreaker");
        json_t *ebx = json_object_get(svc, "ebx"), *last = json_object_get(ebx, "lastCompleted"), *d, *found = NULL;
        long long threshold = (desired + 1) / 2;
        size_t i;
        if (threshold > 200)
                threshold = 200;
        if (threshold < 3)
                threshold = 3;
        if (!json_is_true(json_object_get(cb, "enable")) || strcmp(jstr(prim, "rolloutState") ?: "", "IN_PROGRESS") != 0 ||
            jint(prim, "failedTasks", 0) < threshold)
                return BREAKER_OK;
        deployment_set_rollout(prim, "FAILED", "ECS deployment circuit breaker: tasks failed to start.");
        if (!json_is_true(json_object_get(cb, "rollback")) || !last)
                return BREAKER_FAILED;
        /* rollback: the last COMPLETED deployment is PRIMARY again (a new one with its settings when it left the list) */
        json_object_set_new(prim, "status", json_string("ACTIVE"));
        json_array_foreach(json_object_get(svc, "deployments"), i, d)
                if (strcmp(jstr(d, "id") ?: "", jstr(last, "id") ?: "") == 0)
                        found = d;
        d = found;
        if (!d) {
                d = deployment_new(jstr(last, "taskDefinition"), json_object_get(last, "networkConfiguration"),
                                   jstr(last, "launchType") ?: "EC2", desired);
                json_array_insert_new(json_object_get(svc, "deployments"), 0, d);
        }
        json_object_set_new(d, "status", json_string("PRIMARY"));
        json_object_set_new(d, "desiredCount", json_integer(desired));
        json_object_set_new(d, "updatedAt", jtime(now_epoch()));
        json_object_set_new(svc, "taskDefinition", json_string(jstr(d, "taskDefinition")));
        json_set(svc, "networkConfiguration", json_incref(json_object_get(d, "networkConfiguration")));
        json_object_set_new(ebx, "steady", json_false());
        *ret_rolled_back = d;
        return BREAKER_ROLLED_BACK;
}
