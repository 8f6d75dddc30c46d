/* service.c: services ("service/CLUSTER/NAME"): CreateService, UpdateService,
 * DeleteService, DescribeServices, ListServices and the service scheduler
 * (REPLICA and DAEMON, rolling deployments, circuit breaker, events).
 *
 * The scheduler is stateless between passes: every pass counts the service's
 * tasks in the store (group "service:NAME", startedBy the deployment id) and
 * acts on the difference, so a restart after kill -9 carries on without
 * starting duplicates. Tasks are started through op_run_task() itself (the one
 * function that places and records tasks) and stopped as StopTask does, with
 * stopCode ServiceSchedulerInitiated. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "cluster.h"
#include "cql.h"
#include "instance.h"
#include "lifecycle.h"
#include "placement.h"
#include "runtask.h"
#include "service.h"
#include "task.h"
#include "taskdef.h"

#define EVENTS_MAX 100
#define RUN_BATCH 10            /* RunTask's count limit */
#define UNPLACED_REPEAT 60.0    /* seconds before the same placement failure is written again */
#define HEALTHY_AFTER 2.0       /* seconds RUNNING before a task without health check counts healthy (ECS: 40) */

static const char *const create_keys[] = {
        "cluster", "serviceName", "taskDefinition", "desiredCount", "launchType", "networkConfiguration",
        "placementConstraints", "placementStrategy", "schedulingStrategy", "deploymentConfiguration",
        "deploymentController", "healthCheckGracePeriodSeconds", "tags", "clientToken", "loadBalancers",
        "serviceRegistries", "capacityProviderStrategy", "platformVersion", "role", "enableECSManagedTags",
        "propagateTags", "enableExecuteCommand", "serviceConnectConfiguration", "volumeConfigurations",
        "availabilityZoneRebalancing", NULL,
};
static const char *const update_keys[] = {
        "cluster", "service", "taskDefinition", "desiredCount", "networkConfiguration", "placementConstraints",
        "placementStrategy", "deploymentConfiguration", "forceNewDeployment", "healthCheckGracePeriodSeconds",
        "capacityProviderStrategy", "platformVersion", "enableExecuteCommand", "enableECSManagedTags",
        "loadBalancers", "propagateTags", "serviceRegistries", "serviceConnectConfiguration",
        "volumeConfigurations", "availabilityZoneRebalancing", NULL,
};

static void service_key(char *buf, size_t size, const char *cluster, const char *name)
{
        snprintf(buf, size, "service/%s/%s", cluster, name);
}

static int check_keys(json_t *req, const char *const *allowed, struct err *err)
{
        const char *k;
        json_t *v;
        json_object_foreach(req, k, v) {
                size_t i;
                for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
                        ;
                if (!allowed[i])
                        return err_set(err, EINVAL, E_PARAM, "Unknown parameter in input: \"%s\".", k);
        }
        return 0;
}

/* ---- events ---- */

static void svc_event(json_t *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void svc_event(json_t *rec, const char *fmt, ...)
{
        char msg[2048], id[UUID_STR_MAX];
        json_t *events = json_object_get(rec, "events");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (!json_is_array(events)) {
                events = json_array();
                json_object_set_new(rec, "events", events);
        }
        if (uuid_new(id) < 0)
                snprintf(id, sizeof id, "00000000-0000-4000-8000-000000000000");
        json_array_insert_new(events, 0, json_pack("{s:s, s:o, s:s}", "id", id, "createdAt", jtime(now_epoch()), "message", msg));
        while (json_array_size(events) > EVENTS_MAX)
                json_array_remove(events, json_array_size(events) - 1);
        log_info("service=%s msg=\"%s\"", jstr(rec, "serviceName") ?: "?", msg);
}

/* ---- request parts shared by CreateService and UpdateService ---- */

static int parse_deploy_config(json_t *req, bool daemon, json_t *old, json_t **ret, struct err *err)
{
        json_t *dc = NULL, *cb = NULL;
        long long maxp = daemon ? 100 : 200, minp = daemon ? 0 : 100;
        bool enable = false, rollback = false;
        int r;
        if (old) {
                maxp = jint(old, "maximumPercent", maxp);
                minp = jint(old, "minimumHealthyPercent", minp);
                enable = json_is_true(json_object_get(json_object_get(old, "deploymentCircuitBreaker"), "enable"));
                rollback = json_is_true(json_object_get(json_object_get(old, "deploymentCircuitBreaker"), "rollback"));
        }
        if ((r = req_object(req, NULL, "deploymentConfiguration", false, &dc, err)) < 0 ||
            (r = req_int(dc, "deploymentConfiguration", "maximumPercent", false, 0, 10000, &maxp, err)) < 0 ||
            (r = req_int(dc, "deploymentConfiguration", "minimumHealthyPercent", false, 0, 100, &minp, err)) < 0 ||
            (r = req_object(dc, "deploymentConfiguration", "deploymentCircuitBreaker", false, &cb, err)) < 0)
                return r;
        if (cb && ((r = req_bool(cb, "deploymentConfiguration.deploymentCircuitBreaker", "enable", true, &enable, err)) < 0 ||
                   (r = req_bool(cb, "deploymentConfiguration.deploymentCircuitBreaker", "rollback", true, &rollback, err)) < 0))
                return r;
        if (dc && json_object_get(dc, "strategy") && strcmp(jstr(dc, "strategy") ?: "", "ROLLING") != 0)
                return err_set(err, EINVAL, E_PARAM, "deploymentConfiguration.strategy '%s' is not supported by ecsbox: use ROLLING.",
                               jstr(dc, "strategy") ?: "?");
        if (maxp < 100 && minp >= maxp)
                return err_set(err, EINVAL, E_PARAM,
                               "deploymentConfiguration.maximumPercent (%lld) must be greater than minimumHealthyPercent (%lld).", maxp, minp);
        if (daemon && maxp > 100)
                return err_set(err, EINVAL, E_PARAM, "deploymentConfiguration.maximumPercent can be at most 100 for the DAEMON scheduling strategy.");
        *ret = json_pack("{s:I, s:I, s:{s:b, s:b}}", "maximumPercent", (json_int_t) maxp, "minimumHealthyPercent", (json_int_t) minp,
                         "deploymentCircuitBreaker", "enable", enable, "rollback", rollback);
        return 0;
}

/* placementConstraints / placementStrategy checked as RunTask checks them; the tasks get them as given. */
static int parse_placement(json_t *req, bool daemon, struct err *err)
{
        json_t *pcs = NULL, *pss = NULL, *e;
        size_t i;
        int r;
        if ((r = req_array(req, NULL, "placementConstraints", false, &pcs, err)) < 0 ||
            (r = req_array(req, NULL, "placementStrategy", false, &pss, err)) < 0)
                return r;
        if (json_array_size(pcs) > 10)
                return err_set(err, EINVAL, E_PARAM, "At most 10 placement constraints are allowed (got %zu).", json_array_size(pcs));
        if (json_array_size(pss) > 5)
                return err_set(err, EINVAL, E_PARAM, "At most 5 placement strategies are allowed (got %zu).", json_array_size(pss));
        if (daemon && json_array_size(pss) > 0)
                return err_set(err, EINVAL, E_PARAM, "Placement strategies are not supported with the DAEMON scheduling strategy.");
        json_array_foreach(pcs, i, e) {
                char p[48];
                const char *type = NULL, *expr = NULL;
                snprintf(p, sizeof p, "placementConstraints[%zu]", i);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(e, p, "type", true, &type, err)) < 0 || (r = req_str(e, p, "expression", false, &expr, err)) < 0)
                        return r;
                if (strcmp(type, "distinctInstance") == 0) {
                        if (expr && *expr)
                                return err_set(err, EINVAL, E_PARAM, "The distinctInstance constraint takes no expression.");
                } else if (strcmp(type, "memberOf") == 0) {
                        struct cql *q = NULL;
                        if (!expr || !*expr)
                                return err_set(err, EINVAL, E_PARAM, "The memberOf constraint needs an expression.");
                        if ((r = cql_parse(expr, &q, err)) < 0)
                                return err_wrap(err, "Invalid %s expression '%s'", p, expr);
                        cql_free(q);
                } else
                        return err_set(err, EINVAL, E_PARAM, "Unknown placement constraint type '%s': expected distinctInstance or memberOf.",
                                       type);
        }
        json_array_foreach(pss, i, e) {
                char p[48];
                const char *type = NULL, *field = NULL;
                struct place_strategy ps;
                snprintf(p, sizeof p, "placementStrategy[%zu]", i);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(e, p, "type", true, &type, err)) < 0 || (r = req_str(e, p, "field", false, &field, err)) < 0 ||
                    (r = place_strategy_parse(type, field, &ps, err)) < 0)
                        return r;
        }
        return 0;
}

static int parse_network(json_t *req, struct err *err)
{
        json_t *nc = NULL, *avc = NULL, *subnets = NULL, *sgs = NULL;
        const char *pub = NULL;
        int r;
        if ((r = req_object(req, NULL, "networkConfiguration", false, &nc, err)) < 0 ||
            (r = req_object(nc, "networkConfiguration", "awsvpcConfiguration", false, &avc, err)) < 0)
                return r;
        if (!avc)
                return 0;
        if ((r = req_str_list(avc, "networkConfiguration.awsvpcConfiguration", "subnets", true, 16, &subnets, err)) < 0 ||
            (r = req_str_list(avc, "networkConfiguration.awsvpcConfiguration", "securityGroups", false, 5, &sgs, err)) < 0 ||
            (r = req_str(avc, "networkConfiguration.awsvpcConfiguration", "assignPublicIp", false, &pub, err)) < 0)
                return r;
        if (json_array_size(subnets) == 0)
                return err_set(err, EINVAL, E_PARAM, "subnets can not be empty.");
        if (pub && strcmp(pub, "ENABLED") != 0 && strcmp(pub, "DISABLED") != 0)
                return err_set(err, EINVAL, E_PARAM, "assignPublicIp must be ENABLED or DISABLED (got '%s').", pub);
        return 0;
}

/* A task definition a service can run: ACTIVE, and network configuration fits its mode. */
static int resolve_taskdef(struct api_ctx *c, const char *ref, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *td = NULL;
        int r = taskdef_get(c, ref, &td, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "TaskDefinition not found.");
        if (r < 0) {
                if (strcmp(err->code, E_CLIENT) == 0)
                        snprintf(err->code, sizeof err->code, "%s", E_PARAM);
                return r;
        }
        if (strcmp(jstr(td, "status") ?: "", "ACTIVE") != 0)
                return err_set(err, EINVAL, E_PARAM, "TaskDefinition is inactive: %s.", jstr(td, "taskDefinitionArn"));
        if (json_object_get(json_object_get(req, "networkConfiguration"), "awsvpcConfiguration") &&
            strcmp(jstr(td, "networkMode") ?: "bridge", "awsvpc") != 0)
                return err_set(err, EINVAL, E_PARAM, "Network Configuration is not valid for the given networkMode of this task definition.");
        *ret = TAKE_PTR(td);
        return 0;
}

static json_t *deployment_new(json_t *svc, const char *tdarn, json_t *netconf, const char *launch, long long desired)
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
        (void) svc;
        return d;
}

static json_t *primary_of(json_t *svc)
{
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(svc, "deployments"), i, d)
                if (strcmp(jstr(d, "status") ?: "", "PRIMARY") == 0)
                        return d;
        return NULL;
}

/* The public Service shape (private members removed); a new object. */
static json_t *service_shape(json_t *rec, bool tags)
{
        json_t *out = json_deep_copy(rec);
        json_object_del(out, "ebx");
        if (!tags)
                json_object_del(out, "tags");
        return out;
}

/* Loads a service by name or ARN; -ENOENT when absent. */
static int service_load(struct sched *s, const char *cluster, const char *ref, json_t **ret, char key[NAME_MAX_ECS * 2 + 16],
                        struct err *err)
{
        const char *name = arn_last(ref);
        if (!name_valid(name))
                return -ENOENT;
        service_key(key, NAME_MAX_ECS * 2 + 16, cluster, name);
        return store_get(s->store, key, ret, err);
}

int op_create_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *td = NULL, *old = NULL, *dc = NULL, *rec = NULL, *tags = NULL;
        const char *name = NULL, *tdref = NULL, *launch = "EC2", *strategy = "REPLICA";
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16], arn[ARN_MAX], hash[20];
        long long desired = 0, grace = 0;
        json_t *ctl = NULL, *dep;
        bool daemon;
        int r;

        if ((r = check_keys(req, create_keys, err)) < 0 || (r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0)
                return r;
        if ((r = req_str(req, NULL, "serviceName", true, &name, err)) < 0 || (r = req_str(req, NULL, "taskDefinition", false, &tdref, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &launch, err)) < 0 ||
            (r = req_str(req, NULL, "schedulingStrategy", false, &strategy, err)) < 0 ||
            (r = req_int(req, NULL, "desiredCount", false, 0, 5000, &desired, err)) < 0 ||
            (r = req_int(req, NULL, "healthCheckGracePeriodSeconds", false, 0, 2147483647, &grace, err)) < 0 ||
            (r = req_object(req, NULL, "deploymentController", false, &ctl, err)) < 0 || (r = req_tags(req, "tags", &tags, err)) < 0)
                return r;
        if (!name_valid(name))
                return err_set(err, EINVAL, E_PARAM,
                               "serviceName '%s' is invalid: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
                               name);
        if (strcmp(strategy, "REPLICA") != 0 && strcmp(strategy, "DAEMON") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid schedulingStrategy '%s': expected REPLICA or DAEMON.", strategy);
        daemon = strcmp(strategy, "DAEMON") == 0;
        if (strcmp(launch, "EC2") != 0 && strcmp(launch, "FARGATE") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid launchType '%s': expected EC2 or FARGATE (EXTERNAL is not supported by ecsbox).",
                               launch);
        if (daemon && strcmp(launch, "FARGATE") == 0)
                return err_set(err, EINVAL, E_PARAM, "The DAEMON scheduling strategy does not support the FARGATE launch type.");
        if (ctl && strcmp(jstr(ctl, "type") ?: "", "ECS") != 0)
                return err_set(err, EINVAL, E_PARAM, "deploymentController.type '%s' is not supported by ecsbox: use ECS.", jstr(ctl, "type") ?: "");
        if (!tdref)
                return err_set(err, EINVAL, E_PARAM, "Missing required parameter: taskDefinition (ecsbox has no external deployment controller).");
        if (!daemon && !json_object_get(req, "desiredCount"))
                return err_set(err, EINVAL, E_PARAM, "Missing required parameter: desiredCount (required for the REPLICA scheduling strategy).");
        if (json_array_size(json_object_get(req, "loadBalancers")) > 0)
                return err_set(err, EINVAL, E_PARAM, "loadBalancers are not supported by ecsbox.");
        if ((r = parse_deploy_config(req, daemon, NULL, &dc, err)) < 0 || (r = parse_placement(req, daemon, err)) < 0 ||
            (r = parse_network(req, err)) < 0 || (r = resolve_taskdef(c, tdref, req, &td, err)) < 0)
                return r;

        req_hash(req, hash);
        r = service_load(c->s, cname, name, &old, key, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && strcmp(jstr(old, "status") ?: "", "INACTIVE") != 0) {
                if (strcmp(jstr(old, "status") ?: "", "DRAINING") == 0)
                        return err_set(err, EINVAL, E_PARAM, "Unable to Start a service that is still Draining.");
                if (strcmp(jstr(json_object_get(old, "ebx"), "hash") ?: "", hash) != 0)
                        return err_set(err, EINVAL, E_PARAM, "Creation of service was not idempotent.");
                *ret = json_pack("{s:o}", "service", service_shape(old, true));
                return 0;
        }

        arn_service(c, cname, name, arn);
        rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:s, s:O, s:[], s:[], s:o, s:O, s:O, s:s, s:{s:s}, s:[], s:[], "
                        "s:b, s:s, s:b, s:s}",
                        "serviceArn", arn, "serviceName", name, "clusterArn", jstr(cl, "clusterArn"), "status", "ACTIVE", "desiredCount",
                        (json_int_t) (daemon ? 0 : desired), "runningCount", 0, "pendingCount", 0, "launchType", launch, "taskDefinition",
                        jstr(td, "taskDefinitionArn"), "deploymentConfiguration", dc, "deployments", "events", "createdAt", jtime(now_epoch()),
                        "placementConstraints", json_object_get(req, "placementConstraints") ?: json_array(), "placementStrategy",
                        json_object_get(req, "placementStrategy") ?: json_array(), "schedulingStrategy", strategy, "deploymentController",
                        "type", "ECS", "loadBalancers", "serviceRegistries", "enableECSManagedTags", 0, "propagateTags", "NONE",
                        "enableExecuteCommand", 0, "createdBy", "arn:aws:iam::000000000000:root");
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        /* json_pack's O on a fresh array leaked a reference: drop the extra ones. */
        if (!json_object_get(req, "placementConstraints"))
                json_decref(json_object_get(rec, "placementConstraints"));
        if (!json_object_get(req, "placementStrategy"))
                json_decref(json_object_get(rec, "placementStrategy"));
        json_set(rec, "networkConfiguration", json_incref(json_object_get(req, "networkConfiguration")));
        if (json_object_get(req, "healthCheckGracePeriodSeconds"))
                json_object_set_new(rec, "healthCheckGracePeriodSeconds", json_integer(grace));
        if (tags)
                json_object_set(rec, "tags", tags);
        dep = deployment_new(rec, jstr(td, "taskDefinitionArn"), json_object_get(req, "networkConfiguration"), launch,
                             daemon ? 0 : desired);
        json_array_append_new(json_object_get(rec, "deployments"), dep);
        json_object_set_new(rec, "ebx", json_pack("{s:s, s:s, s:s, s:s, s:b}", "cluster", cname, "name", name, "region", c->region,
                                                  "hash", hash, "steady", 0));
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        log_info("op=CreateService cluster=%s service=%s taskdef=%s desired=%lld strategy=%s", cname, name,
                 jstr(td, "taskDefinitionArn"), desired, strategy);
        services_kick(c->s);
        *ret = json_pack("{s:o}", "service", service_shape(rec, true));
        return 0;
}

int op_update_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *td = NULL, *rec = NULL, *dc = NULL;
        const char *ref = NULL, *tdref = NULL;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        long long desired = -1, grace = 0;
        bool force = false, daemon, redeploy = false;
        json_t *prim, *d;
        size_t i;
        int r;

        if ((r = check_keys(req, update_keys, err)) < 0 || (r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0)
                return r;
        if ((r = req_str(req, NULL, "service", true, &ref, err)) < 0 || (r = req_str(req, NULL, "taskDefinition", false, &tdref, err)) < 0 ||
            (r = req_int(req, NULL, "desiredCount", false, 0, 5000, &desired, err)) < 0 ||
            (r = req_int(req, NULL, "healthCheckGracePeriodSeconds", false, 0, 2147483647, &grace, err)) < 0 ||
            (r = req_bool(req, NULL, "forceNewDeployment", false, &force, err)) < 0)
                return r;
        r = service_load(c->s, cname, ref, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_SVC_NF, "Service not found.");
        if (r < 0)
                return r;
        if (strcmp(jstr(rec, "status") ?: "", "ACTIVE") != 0)
                return err_set(err, EINVAL, E_SVC_NA, "Service was not ACTIVE.");
        daemon = strcmp(jstr(rec, "schedulingStrategy") ?: "", "DAEMON") == 0;
        if ((r = parse_deploy_config(req, daemon, json_object_get(rec, "deploymentConfiguration"), &dc, err)) < 0 ||
            (r = parse_placement(req, daemon, err)) < 0 || (r = parse_network(req, err)) < 0)
                return r;
        if (tdref && (r = resolve_taskdef(c, tdref, req, &td, err)) < 0)
                return r;
        if (!td && json_object_get(req, "networkConfiguration") &&
            (r = resolve_taskdef(c, jstr(rec, "taskDefinition"), req, &td, err)) < 0 && r != -ENOENT)
                return r;
        json_object_set(rec, "deploymentConfiguration", dc);
        if (desired >= 0 && !daemon)
                json_object_set_new(rec, "desiredCount", json_integer(desired));
        if (json_object_get(req, "healthCheckGracePeriodSeconds"))
                json_object_set_new(rec, "healthCheckGracePeriodSeconds", json_integer(grace));
        if (tdref && strcmp(jstr(td, "taskDefinitionArn"), jstr(rec, "taskDefinition") ?: "") != 0) {
                json_object_set_new(rec, "taskDefinition", json_string(jstr(td, "taskDefinitionArn")));
                redeploy = true;
        }
        if (json_object_get(req, "networkConfiguration") &&
            !json_equal(json_object_get(req, "networkConfiguration"), json_object_get(rec, "networkConfiguration"))) {
                json_object_set(rec, "networkConfiguration", json_object_get(req, "networkConfiguration"));
                redeploy = true;
        }
        if (json_object_get(req, "placementConstraints") &&
            !json_equal(json_object_get(req, "placementConstraints"), json_object_get(rec, "placementConstraints"))) {
                json_object_set(rec, "placementConstraints", json_object_get(req, "placementConstraints"));
                redeploy = true;
        }
        if (json_object_get(req, "placementStrategy") &&
            !json_equal(json_object_get(req, "placementStrategy"), json_object_get(rec, "placementStrategy"))) {
                json_object_set(rec, "placementStrategy", json_object_get(req, "placementStrategy"));
                redeploy = true;
        }
        prim = primary_of(rec);
        if (redeploy || force || !prim) {
                json_array_foreach(json_object_get(rec, "deployments"), i, d)
                        if (strcmp(jstr(d, "status") ?: "", "PRIMARY") == 0) {
                                json_object_set_new(d, "status", json_string("ACTIVE"));
                                json_object_set_new(d, "updatedAt", jtime(now_epoch()));
                        }
                d = deployment_new(rec, jstr(rec, "taskDefinition"), json_object_get(rec, "networkConfiguration"),
                                   jstr(rec, "launchType") ?: "EC2", jint(rec, "desiredCount", 0));
                json_array_insert_new(json_object_get(rec, "deployments"), 0, d);
                json_object_set_new(json_object_get(rec, "ebx"), "steady", json_false());
                log_info("op=UpdateService cluster=%s service=%s deployment=%s taskdef=%s", cname, jstr(rec, "serviceName"), jstr(d, "id"),
                         jstr(rec, "taskDefinition"));
        } else if (!daemon) {
                json_object_set_new(prim, "desiredCount", json_integer(jint(rec, "desiredCount", 0)));
                json_object_set_new(prim, "updatedAt", jtime(now_epoch()));
                if (desired >= 0)
                        json_object_set_new(json_object_get(rec, "ebx"), "steady", json_false());
        }
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        services_kick(c->s);
        *ret = json_pack("{s:o}", "service", service_shape(rec, true));
        return 0;
}

int op_delete_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL;
        const char *ref = NULL;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        bool force = false;
        json_t *d;
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 || (r = req_str(req, NULL, "service", true, &ref, err)) < 0 ||
            (r = req_bool(req, NULL, "force", false, &force, err)) < 0)
                return r;
        r = service_load(c->s, cname, ref, &rec, key, err);
        if (r == -ENOENT || (r == 0 && strcmp(jstr(rec, "status") ?: "", "INACTIVE") == 0))
                return err_set(err, ENOENT, E_SVC_NF, "Service not found.");
        if (r < 0)
                return r;
        if (strcmp(jstr(rec, "status") ?: "", "ACTIVE") == 0) {
                if (!force && jint(rec, "desiredCount", 0) > 0 && strcmp(jstr(rec, "schedulingStrategy") ?: "", "REPLICA") == 0)
                        return err_set(err, EINVAL, E_PARAM, "The service cannot be stopped while it is scaled above 0.");
                json_object_set_new(rec, "status", json_string("DRAINING"));
                json_object_set_new(rec, "desiredCount", json_integer(0));
                json_array_foreach(json_object_get(rec, "deployments"), i, d)
                        json_object_set_new(d, "desiredCount", json_integer(0));
                if ((r = store_put(c->s->store, key, rec, err)) < 0)
                        return r;
                log_info("op=DeleteService cluster=%s service=%s force=%d", cname, jstr(rec, "serviceName"), force);
                services_kick(c->s);
        }
        *ret = json_pack("{s:o}", "service", service_shape(rec, true));
        return 0;
}

int op_describe_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        bool tags = req_include_tags(req);
        json_t *refs = NULL, *e;
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str_list(req, NULL, "services", true, 10, &refs, err)) < 0)
                return r;
        json_array_foreach(refs, i, e) {
                json_t *rec = NULL;
                r = service_load(c->s, cname, json_string_value(e), &rec, key, err);
                if (r == -ENOENT) {
                        char arn[ARN_MAX];
                        arn_service(c, cname, json_string_value(e), arn);
                        failure_missing(failures, json_string_value(e), arn);
                        continue;
                }
                if (r < 0)
                        return r;
                json_array_append_new(out, service_shape(rec, tags));
                json_decref(rec);
        }
        *ret = json_pack("{s:O, s:O}", "services", out, "failures", failures);
        return 0;
}

struct list_ctx {
        const char *launch, *strategy;
        json_t *arns;
};

static int collect_list(const char *key, json_t *v, void *userdata)
{
        struct list_ctx *l = userdata;
        if (strcmp(jstr(v, "status") ?: "", "ACTIVE") != 0)
                return 0;
        if (l->launch && strcmp(jstr(v, "launchType") ?: "", l->launch) != 0)
                return 0;
        if (l->strategy && strcmp(jstr(v, "schedulingStrategy") ?: "", l->strategy) != 0)
                return 0;
        json_array_append_new(l->arns, json_string(jstr(v, "serviceArn")));
        return 0;
}

int op_list_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *arns = json_array(), *page = NULL;
        struct list_ctx l = { .arns = arns };
        char cname[NAME_MAX_ECS + 1], prefix[NAME_MAX_ECS + 16];
        json_t *token = NULL;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &l.launch, err)) < 0 ||
            (r = req_str(req, NULL, "schedulingStrategy", false, &l.strategy, err)) < 0)
                return r;
        if (l.strategy && strcmp(l.strategy, "REPLICA") != 0 && strcmp(l.strategy, "DAEMON") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid schedulingStrategy '%s': expected REPLICA or DAEMON.", l.strategy);
        snprintf(prefix, sizeof prefix, "service/%s/", cname);
        if ((r = store_list(c->s->store, prefix, collect_list, &l, err)) < 0 || (r = req_page(req, arns, 10, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "serviceArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

/* ---- the service scheduler ---- */

struct dep_count {
        int live, running, pending, healthy, failed;
};

static bool task_live(json_t *t)
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
static bool task_healthy(json_t *t)
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

static void count_tasks(json_t *tasks, const char *dep, struct dep_count *n)
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

struct pass {
        struct sched *s;
        struct api_ctx c;
        json_t *rec, *ebx, *tasks;
        const char *cname, *name;
        char group[NAME_MAX_ECS + 16];
        json_t *started;         /* task ids started this pass, for the event */
        json_t *stopped;         /* task ids stopped this pass */
};

static int stop_task(struct pass *p, json_t *t, const char *reason)
{
        _cleanup_json_ json_t *rec = NULL;
        struct err err = { 0 };
        char key[NAME_MAX_ECS + 64];
        const char *id = jstr(json_object_get(t, "ebx"), "id") ?: "";
        int r;
        snprintf(key, sizeof key, "task/%s/%s", p->cname, id);
        if ((r = store_get(p->s->store, key, &rec, &err)) < 0)
                return r;
        if (strcmp(jstr(rec, "desiredStatus") ?: "", "STOPPED") != 0) {
                json_object_set_new(rec, "desiredStatus", json_string("STOPPED"));
                json_object_set_new(rec, "stopCode", json_string("ServiceSchedulerInitiated"));
                json_object_set_new(rec, "stoppedReason", json_string(reason));
                json_object_set_new(rec, "version", json_integer(jint(rec, "version", 1) + 1));
                if ((r = store_put(p->s->store, key, rec, &err)) < 0) {
                        log_error("service=%s task=%s msg=\"cannot stop task\" err=\"%s\"", p->name, id, err.msg);
                        return r;
                }
                task_kick(p->s, id, key);
                json_array_append_new(p->stopped, json_string(id));
        }
        /* this pass sees it stopped */
        json_object_set_new(t, "desiredStatus", json_string("STOPPED"));
        json_object_set_new(t, "stopCode", json_string("ServiceSchedulerInitiated"));
        json_object_set_new(t, "stoppedReason", json_string(reason));
        return 0;
}

static void unplaced_event(struct pass *p, const char *reason)
{
        json_t *e;
        size_t i;
        char msg[1024];
        snprintf(msg, sizeof msg, "(service %s) was unable to place a task because no container instance met all of its requirements. Reason: %s",
                 p->name, reason);
        /* the same failure at most once per UNPLACED_REPEAT (the pass retries every second) */
        json_array_foreach(json_object_get(p->rec, "events"), i, e) {
                if (now_epoch() - json_number_value(json_object_get(e, "createdAt")) >= UNPLACED_REPEAT)
                        break;
                if (strcmp(jstr(e, "message") ?: "", msg) == 0)
                        return;
        }
        svc_event(p->rec, "%s", msg);
}

/* A deployment's task_start: the service's placement (decoded from its record) and the
 * deployment's network configuration; target_ec2_id for DAEMON. */
static int deployment_start_req(struct pass *p, json_t *dep, const char *target_ec2_id, struct task_start *ret, struct err *err)
{
        int r;
        memset(ret, 0, sizeof *ret);
        ret->cluster = p->cname;
        ret->taskdef = jstr(dep, "taskDefinition");
        ret->launch = jstr(dep, "launchType") ?: "EC2";
        ret->group = p->group;
        ret->started_by = jstr(dep, "id");
        ret->target_ec2_id = target_ec2_id;
        if (!ret->taskdef)
                return err_set(err, EINVAL, E_PARAM, "Missing required parameter: taskDefinition");
        if ((r = task_network_decode(dep, &ret->net, err)) < 0 ||
            (r = task_placement_decode(json_object_get(p->rec, "placementConstraints"), json_object_get(p->rec, "placementStrategy"),
                                       false, &ret->place, err)) < 0)
                return r;
        return 0;
}

/* The placement failures of a batch, each reason once: "RESOURCE:CPU, ATTRIBUTE"; whether all were ATTRIBUTE. */
static bool failure_reasons(const struct task_start_result *res, char *buf, size_t size)
{
        bool attribute_only = res->nfailures > 0;
        buf[0] = '\0';
        for (size_t i = 0; i < res->nfailures; i++) {
                const char *why = res->failures[i].reason;
                if (strcmp(why, "ATTRIBUTE") != 0)
                        attribute_only = false;
                if (!strstr(buf, why)) {
                        strncat(buf, buf[0] ? ", " : "", size - strlen(buf) - 1);
                        strncat(buf, why, size - strlen(buf) - 1);
                }
        }
        return attribute_only;
}

/* The pass counts a started task from now on: a record-shaped copy of its public shape. */
static void count_started(struct pass *p, json_t *rec)
{
        const char *id = jstr(json_object_get(rec, "ebx"), "id");
        _cleanup_json_ json_t *shape = task_shape(rec, true);
        json_t *copy = json_deep_copy(shape);
        json_object_set_new(copy, "ebx", json_pack("{s:s}", "id", id));
        json_array_append_new(p->tasks, copy);
        json_array_append_new(p->started, json_string(id));
}

/* Starts up to n tasks of deployment dep through tasks_start(); target_ec2_id: that instance only
 * (DAEMON); returns the number started, or -1 when the placement refused for an attribute (the
 * instance does not qualify) and quiet_attribute. */
static int start_tasks(struct pass *p, json_t *dep, int n, const char *target_ec2_id, bool quiet_attribute)
{
        struct task_start req;
        struct err err = { 0 };
        int started = 0;
        if (deployment_start_req(p, dep, target_ec2_id, &req, &err) < 0) {
                unplaced_event(p, err.msg);
                task_start_done(&req);
                return 0;
        }
        while (started < n) {
                struct task_start_result res = { 0 };
                char reasons[512];
                json_t *t;
                size_t i;
                req.count = n - started > RUN_BATCH ? RUN_BATCH : n - started;
                if (tasks_start(&p->c, &req, &res, &err) < 0) {
                        unplaced_event(p, err.msg);
                        break;
                }
                json_array_foreach(res.tasks, i, t) {
                        count_started(p, t);
                        started++;
                }
                if ((int) json_array_size(res.tasks) < req.count) {
                        bool attribute_only = failure_reasons(&res, reasons, sizeof reasons);
                        task_start_result_done(&res);
                        if (attribute_only && quiet_attribute) {
                                if (!started)
                                        started = -1;
                                break;
                        }
                        unplaced_event(p, reasons[0] ? reasons : "No Container Instances were found in your cluster.");
                        break;
                }
                task_start_result_done(&res);
        }
        task_start_done(&req);
        return started;
}

static void pass_events(struct pass *p)
{
        char msg[1600];
        json_t *id;
        size_t i;
        if (json_array_size(p->stopped) > 0) {
                snprintf(msg, sizeof msg, "(service %s) has stopped %zu running tasks:", p->name, json_array_size(p->stopped));
                json_array_foreach(p->stopped, i, id)
                        if (strlen(msg) + 50 < sizeof msg)
                                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (task %s)", json_string_value(id));
                svc_event(p->rec, "%s.", msg);
        }
        if (json_array_size(p->started) > 0) {
                snprintf(msg, sizeof msg, "(service %s) has started %zu tasks:", p->name, json_array_size(p->started));
                json_array_foreach(p->started, i, id)
                        if (strlen(msg) + 50 < sizeof msg)
                                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (task %s)", json_string_value(id));
                svc_event(p->rec, "%s.", msg);
        }
        json_array_clear(p->started);
        json_array_clear(p->stopped);
}

static int cmp_stop_order(const void *a, const void *b)
{
        /* pending before running, then the newest first */
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        bool rx = task_healthy(x), ry = task_healthy(y);
        double tx = json_number_value(json_object_get(x, "createdAt")), ty = json_number_value(json_object_get(y, "createdAt"));
        if (rx != ry)
                return rx ? 1 : -1;
        return tx < ty ? 1 : tx > ty ? -1 : 0;
}

/* Stops up to n live tasks of deployment dep (unhealthy ones first when only_unhealthy is false). */
static int stop_some(struct pass *p, const char *dep, int n, bool only_unhealthy, const char *reason)
{
        json_t *t, **v;
        size_t i, m = 0;
        int done = 0;
        if (n <= 0)
                return 0;
        v = calloc(json_array_size(p->tasks) + 1, sizeof *v);
        if (!v)
                return 0;
        json_array_foreach(p->tasks, i, t)
                if (task_live(t) && strcmp(jstr(t, "startedBy") ?: "", dep) == 0 && (!only_unhealthy || !task_healthy(t)))
                        v[m++] = t;
        qsort(v, m, sizeof *v, cmp_stop_order);
        for (i = 0; i < m && done < n; i++)
                if (stop_task(p, v[i], reason) == 0)
                        done++;
        free(v);
        return done;
}

static void deployment_reason(json_t *d, const char *state, const char *what)
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

/* Failed tasks stop the deployment at max(3, min(200, ceil(desired / 2))) (ECS's threshold). */
static void circuit_breaker(struct pass *p, json_t *prim, long long desired)
{
        json_t *cb = json_object_get(json_object_get(p->rec, "deploymentConfiguration"), "deploymentCircuitBreaker");
        json_t *last = json_object_get(p->ebx, "lastCompleted"), *d, *found = NULL;
        long long threshold = (desired + 1) / 2;
        size_t i;
        if (threshold > 200)
                threshold = 200;
        if (threshold < 3)
                threshold = 3;
        if (!json_is_true(json_object_get(cb, "enable")) || strcmp(jstr(prim, "rolloutState") ?: "", "IN_PROGRESS") != 0 ||
            jint(prim, "failedTasks", 0) < threshold)
                return;
        deployment_reason(prim, "FAILED", "ECS deployment circuit breaker: tasks failed to start.");
        svc_event(p->rec, "(service %s) (deployment %s) deployment failed: tasks failed to start.", p->name, jstr(prim, "id"));
        if (!json_is_true(json_object_get(cb, "rollback")) || !last)
                return;
        /* rollback: the last COMPLETED deployment is PRIMARY again (a new one with its settings when it left the list) */
        json_object_set_new(prim, "status", json_string("ACTIVE"));
        json_array_foreach(json_object_get(p->rec, "deployments"), i, d)
                if (strcmp(jstr(d, "id") ?: "", jstr(last, "id") ?: "") == 0)
                        found = d;
        d = found;
        if (!d) {
                d = deployment_new(p->rec, jstr(last, "taskDefinition"), json_object_get(last, "networkConfiguration"),
                                   jstr(last, "launchType") ?: "EC2", desired);
                json_array_insert_new(json_object_get(p->rec, "deployments"), 0, d);
        }
        json_object_set_new(d, "status", json_string("PRIMARY"));
        json_object_set_new(d, "desiredCount", json_integer(desired));
        json_object_set_new(d, "updatedAt", jtime(now_epoch()));
        json_object_set_new(p->rec, "taskDefinition", json_string(jstr(d, "taskDefinition")));
        json_set(p->rec, "networkConfiguration", json_incref(json_object_get(d, "networkConfiguration")));
        json_object_set_new(p->ebx, "steady", json_false());
        svc_event(p->rec, "(service %s) rolling back to deployment %s.", p->name, jstr(d, "id"));
}

/* Ids of the cluster's DRAINING container instances ({id: true}). */
static json_t *draining_instances(struct pass *p)
{
        _cleanup_json_ json_t *insts = NULL;
        json_t *out = json_object(), *in;
        size_t i;
        if (instance_list(p->s, p->cname, false, &insts, NULL) < 0)
                return out;
        json_array_foreach(insts, i, in)
                if (strcmp(jstr(in, "status") ?: "", "DRAINING") == 0)
                        json_object_set_new(out, jstr(json_object_get(in, "ebx"), "id") ?: "", json_true());
        return out;
}

static void replica_pass(struct pass *p)
{
        json_t *deps = json_object_get(p->rec, "deployments"), *prim = primary_of(p->rec), *d, *t;
        json_t *dc = json_object_get(p->rec, "deploymentConfiguration");
        long long desired = jint(p->rec, "desiredCount", 0);
        long long maxp = jint(dc, "maximumPercent", 200), minp = jint(dc, "minimumHealthyPercent", 100);
        long long max_total = desired * maxp / 100, min_healthy = (desired * minp + 99) / 100;
        long long grace = jint(p->rec, "healthCheckGracePeriodSeconds", 0);
        struct dep_count pc, oc = { 0 }, n;
        char reason[200];
        size_t i;
        int healthy;

        if (!prim)
                return;
        /* rounding (max down, min up) can leave no room at all (1 task at 50/150 %): one task of
         * room keeps the deployment moving */
        if (desired > 0 && max_total <= min_healthy)
                max_total = min_healthy + 1;
        if (jint(prim, "desiredCount", -1) != desired)
                json_object_set_new(prim, "desiredCount", json_integer(desired));
        snprintf(reason, sizeof reason, "Scaling activity initiated by (deployment %s)", jstr(prim, "id"));
        /* Health checks: a RUNNING task found UNHEALTHY after the grace period is replaced. */
        json_array_foreach(p->tasks, i, t)
                if (task_live(t) && strcmp(jstr(t, "lastStatus") ?: "", "RUNNING") == 0 &&
                    strcmp(jstr(t, "healthStatus") ?: "", "UNHEALTHY") == 0 &&
                    now_epoch() - json_number_value(json_object_get(t, "startedAt")) >= (double) grace)
                        (void) stop_task(p, t, "Task failed container health checks");

        count_tasks(p->tasks, jstr(prim, "id"), &pc);
        json_object_set_new(prim, "failedTasks", json_integer(pc.failed));
        circuit_breaker(p, prim, desired);
        prim = primary_of(p->rec);
        count_tasks(p->tasks, jstr(prim, "id"), &pc);
        json_array_foreach(deps, i, d)
                if (d != prim) {
                        count_tasks(p->tasks, jstr(d, "id"), &n);
                        oc.live += n.live;
                        oc.healthy += n.healthy;
                }
        /* scale in the primary: excess tasks, not-yet-running ones first */
        if (pc.live > desired)
                pc.live -= stop_some(p, jstr(prim, "id"), (int) (pc.live - desired), false, reason);
        /* old deployments: unhealthy tasks go at once; healthy ones while enough stay healthy */
        healthy = pc.healthy + oc.healthy;
        json_array_foreach(deps, i, d) {
                int k;
                if (d == prim)
                        continue;
                count_tasks(p->tasks, jstr(d, "id"), &n);
                k = stop_some(p, jstr(d, "id"), n.live - n.healthy, true, reason);
                oc.live -= k;
                if (strcmp(jstr(prim, "rolloutState") ?: "", "FAILED") == 0)
                        continue; /* a failed deployment without rollback keeps the old tasks */
                k = healthy - (int) min_healthy;
                if (k > n.healthy)
                        k = n.healthy;
                /* at most as many as the primary still needs room for, once it can fill it */
                k = stop_some(p, jstr(d, "id"), k, false, reason);
                oc.live -= k;
                healthy -= k;
        }
        /* Tasks on DRAINING instances are replaced elsewhere within the deployment limits: they do
         * not count toward the desired count when starting, and go once enough stay healthy. */
        {
                _cleanup_json_ json_t *drained = draining_instances(p);
                int dr = 0, dr_healthy = 0;
                json_array_foreach(p->tasks, i, t)
                        if (task_live(t) && json_object_get(drained, jstr(json_object_get(t, "ebx"), "instanceId") ?: "")) {
                                dr++;
                                dr_healthy += task_healthy(t);
                        }
                /* scale out the primary within maximumPercent */
                if (strcmp(jstr(prim, "rolloutState") ?: "", "FAILED") != 0 && pc.live - dr < desired) {
                        long long want = desired - (pc.live - dr), room = max_total - pc.live - oc.live;
                        if (room < want)
                                want = room;
                        if (want > 0)
                                (void) start_tasks(p, prim, (int) want, NULL, false);
                }
                if (dr > 0) {
                        /* the unhealthy ones at once, the healthy ones while minimumHealthyPercent holds */
                        int k = (pc.healthy + oc.healthy) - (int) min_healthy, stopped = 0;
                        json_array_foreach(p->tasks, i, t) {
                                if (!task_live(t) || !json_object_get(drained, jstr(json_object_get(t, "ebx"), "instanceId") ?: ""))
                                        continue;
                                if (!task_healthy(t) || stopped < k) {
                                        stopped += task_healthy(t);
                                        (void) stop_task(p, t, "Container instance is draining");
                                }
                        }
                }
        }
}

/* DAEMON: one task per ACTIVE container instance that meets the constraints. */
static void daemon_pass(struct pass *p)
{
        _cleanup_json_ json_t *insts = NULL;
        json_t *prim = primary_of(p->rec), *in, *t;
        struct err err = { 0 };
        char reason[200];
        size_t i, k;
        long long eligible = 0;
        if (!prim || instance_list(p->s, p->cname, true, &insts, &err) < 0)
                return;
        snprintf(reason, sizeof reason, "Scaling activity initiated by (deployment %s)", jstr(prim, "id"));
        /* tasks on instances that are no longer ACTIVE go */
        json_array_foreach(p->tasks, k, t) {
                const char *iid = jstr(json_object_get(t, "ebx"), "instanceId");
                bool ok = false;
                if (!task_live(t))
                        continue;
                json_array_foreach(insts, i, in)
                        if (iid && strcmp(jstr(json_object_get(in, "ebx"), "id") ?: "", iid) == 0)
                                ok = strcmp(jstr(in, "status") ?: "", "ACTIVE") == 0;
                if (!ok)
                        (void) stop_task(p, t, reason);
        }
        json_array_foreach(insts, i, in) {
                const char *iid = jstr(json_object_get(in, "ebx"), "id") ?: "";
                bool mine = false, other = false;
                if (strcmp(jstr(in, "status") ?: "", "ACTIVE") != 0)
                        continue;
                json_array_foreach(p->tasks, k, t) {
                        if (!task_live(t))
                                continue;
                        /* a task just started this pass has no instanceId in its copy: look at the ARN */
                        if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", iid) != 0 &&
                            strcmp(jstr(t, "containerInstanceArn") ?: "-", jstr(in, "containerInstanceArn") ?: "") != 0)
                                continue;
                        if (strcmp(jstr(t, "startedBy") ?: "", jstr(prim, "id")) == 0)
                                mine = true;
                        else
                                other = true;
                }
                if (mine) {
                        eligible++;
                        /* an old task beside a new one goes */
                        json_array_foreach(p->tasks, k, t)
                                if (task_live(t) && strcmp(jstr(t, "startedBy") ?: "", jstr(prim, "id")) != 0 &&
                                    strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", iid) == 0)
                                        (void) stop_task(p, t, reason);
                        continue;
                }
                if (other) {
                        /* DAEMON deployments replace in place (maximumPercent 100): stop, then start */
                        eligible++;
                        json_array_foreach(p->tasks, k, t)
                                if (task_live(t) && strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", iid) == 0)
                                        (void) stop_task(p, t, reason);
                        continue;
                }
                if (strcmp(jstr(prim, "rolloutState") ?: "", "FAILED") == 0)
                        continue;
                if (start_tasks(p, prim, 1, jstr(in, "ec2InstanceId") ?: "?", true) >= 0)
                        eligible++;
        }
        json_object_set_new(p->rec, "desiredCount", json_integer(eligible));
        json_object_set_new(prim, "desiredCount", json_integer(eligible));
        {
                struct dep_count pc;
                count_tasks(p->tasks, jstr(prim, "id"), &pc);
                json_object_set_new(prim, "failedTasks", json_integer(pc.failed));
                circuit_breaker(p, prim, eligible);
        }
}

/* Counts, steady state, finished deployments. */
static void pass_finish(struct pass *p)
{
        json_t *deps = json_object_get(p->rec, "deployments"), *prim = primary_of(p->rec), *d, *t;
        long long running = 0, pending = 0, others_left = 0;
        struct dep_count n;
        size_t i, j;
        bool steady;
        json_array_foreach(deps, i, d) {
                count_tasks(p->tasks, jstr(d, "id"), &n);
                running += n.running;
                pending += n.pending;
                if (jint(d, "runningCount", -1) != n.running || jint(d, "pendingCount", -1) != n.pending) {
                        json_object_set_new(d, "runningCount", json_integer(n.running));
                        json_object_set_new(d, "pendingCount", json_integer(n.pending));
                        json_object_set_new(d, "updatedAt", jtime(now_epoch()));
                }
                if (d != prim) {
                        json_object_set_new(d, "desiredCount", json_integer(n.live));
                        /* tasks of the deployment still on their way down count too */
                        json_array_foreach(p->tasks, j, t)
                                if (strcmp(jstr(t, "startedBy") ?: "", jstr(d, "id") ?: "") == 0 &&
                                    strcmp(jstr(t, "lastStatus") ?: "", "STOPPED") != 0)
                                        others_left++;
                }
        }
        json_object_set_new(p->rec, "runningCount", json_integer(running));
        json_object_set_new(p->rec, "pendingCount", json_integer(pending));
        if (!prim)
                return;
        count_tasks(p->tasks, jstr(prim, "id"), &n);
        steady = others_left == 0 && n.live == jint(p->rec, "desiredCount", 0) && n.healthy == n.live && n.pending == 0;
        if (steady && json_array_size(deps) > 1) {
                /* the old deployments are drained: INACTIVE, out of the list */
                for (i = json_array_size(deps); i-- > 0;)
                        if (json_array_get(deps, i) != prim)
                                json_array_remove(deps, i);
        }
        if (steady && strcmp(jstr(prim, "rolloutState") ?: "", "IN_PROGRESS") == 0) {
                deployment_reason(prim, "COMPLETED", "completed");
                svc_event(p->rec, "(service %s) (deployment %s) deployment completed.", p->name, jstr(prim, "id"));
        }
        if (steady && strcmp(jstr(prim, "rolloutState") ?: "", "COMPLETED") == 0)
                json_object_set_new(p->ebx, "lastCompleted",
                                    json_pack("{s:s, s:s, s:s, s:O?}", "id", jstr(prim, "id"), "taskDefinition", jstr(prim, "taskDefinition"),
                                              "launchType", jstr(prim, "launchType") ?: "EC2", "networkConfiguration",
                                              json_object_get(prim, "networkConfiguration")));
        if (steady && !json_is_true(json_object_get(p->ebx, "steady")))
                svc_event(p->rec, "(service %s) has reached a steady state.", p->name);
        json_object_set_new(p->ebx, "steady", json_boolean(steady));
}

static void draining_pass(struct pass *p)
{
        json_t *t;
        size_t i;
        bool left = false;
        json_array_foreach(p->tasks, i, t) {
                if (task_live(t))
                        (void) stop_task(p, t, "Service is being deleted");
                if (strcmp(jstr(t, "lastStatus") ?: "", "STOPPED") != 0)
                        left = true;
        }
        pass_finish(p);
        if (!left) {
                json_t *d;
                json_object_set_new(p->rec, "status", json_string("INACTIVE"));
                json_array_foreach(json_object_get(p->rec, "deployments"), i, d)
                        json_object_set_new(d, "status", json_string("INACTIVE"));
                json_object_set_new(p->rec, "deployments", json_array());
                log_info("service=%s cluster=%s msg=\"service deleted\"", p->name, p->cname);
        }
}

static int collect_group(const char *key, json_t *v, void *userdata)
{
        json_t **a = userdata;
        /* v is parsed for this walk (not the store's cache): the pass may keep and change it */
        if (strcmp(jstr(v, "group") ?: "", json_string_value(a[1])) == 0)
                json_array_append(a[0], v);
        return 0;
}

/* One pass over one service; writes the record when it changed. */
static void service_pass(struct sched *s, const char *key)
{
        _cleanup_json_ json_t *rec = NULL, *orig = NULL, *tasks = json_array(), *gname = NULL, *started = json_array(),
                              *stopped = json_array();
        struct err err = { 0 };
        struct pass p = { .s = s };
        char prefix[NAME_MAX_ECS + 16];
        json_t *a[2];
        const char *status;
        if (store_get(s->store, key, &rec, &err) < 0)
                return;
        status = jstr(rec, "status") ?: "";
        if (strcmp(status, "INACTIVE") == 0)
                return;
        orig = json_deep_copy(rec);
        p.rec = rec;
        p.ebx = json_object_get(rec, "ebx");
        p.cname = jstr(p.ebx, "cluster") ?: "default";
        p.name = jstr(p.ebx, "name") ?: "?";
        p.c.s = s;
        p.c.op = "CreateService";
        snprintf(p.c.region, sizeof p.c.region, "%s", jstr(p.ebx, "region") ?: s->region);
        snprintf(p.group, sizeof p.group, "service:%s", p.name);
        gname = json_string(p.group);
        a[0] = tasks;
        a[1] = gname;
        snprintf(prefix, sizeof prefix, "task/%s/", p.cname);
        if (store_list(s->store, prefix, collect_group, a, &err) < 0) {
                log_warning("service=%s msg=\"cannot list tasks, ignoring\" err=\"%s\"", p.name, err.msg);
                return;
        }
        p.tasks = tasks;
        p.started = started;
        p.stopped = stopped;
        if (strcmp(status, "DRAINING") == 0)
                draining_pass(&p);
        else {
                if (strcmp(jstr(rec, "schedulingStrategy") ?: "", "DAEMON") == 0)
                        daemon_pass(&p);
                else
                        replica_pass(&p);
                pass_events(&p);
                pass_finish(&p);
        }
        pass_events(&p);
        if (!json_equal(rec, orig) && store_put(s->store, key, rec, &err) < 0)
                log_error("service=%s msg=\"cannot record service\" err=\"%s\"", p.name, err.msg);
}

static int collect_keys(const char *key, json_t *v, void *userdata)
{
        if (strcmp(jstr(v, "status") ?: "", "INACTIVE") != 0)
                json_array_append_new(userdata, json_string(key));
        return 0;
}

int services_count(struct sched *s, const char *cluster, struct err *err)
{
        _cleanup_json_ json_t *keys = json_array();
        char prefix[NAME_MAX_ECS + 16];
        int r;
        snprintf(prefix, sizeof prefix, "service/%s/", cluster);
        if ((r = store_list(s->store, prefix, collect_keys, keys, err)) < 0)
                return r;
        return (int) json_array_size(keys);
}

void services_tick(struct sched *s)
{
        _cleanup_json_ json_t *keys = json_array();
        struct err err = { 0 };
        json_t *k;
        size_t i;
        s->services_due = false;
        s->services_last = now_epoch();
        if (store_list(s->store, "service/", collect_keys, keys, &err) < 0) {
                log_warning("msg=\"cannot list services, ignoring\" err=\"%s\"", err.msg);
                return;
        }
        json_array_foreach(keys, i, k)
                service_pass(s, json_string_value(k));
}

void services_kick(struct sched *s)
{
        s->services_due = true;
        sched_wake(s);
}
