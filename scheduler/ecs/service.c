/* service.c: services ("service/CLUSTER/NAME"): CreateService, UpdateService,
 * DeleteService, DescribeServices, ListServices (requests decoded by service_req.c) and the
 * service scheduler (REPLICA and DAEMON passes, events); deployments, their bounds and the
 * circuit breaker are deployment.c's.
 *
 * The scheduler is stateless between passes: every pass counts the service's
 * tasks in the store (group "service:NAME", startedBy the deployment id) and
 * acts on the difference, so a restart after kill -9 carries on without
 * starting duplicates. Tasks are started through tasks_start() (the one
 * function that places and records tasks) and stopped as StopTask does, with
 * stopCode ServiceSchedulerInitiated. */
#include <errno.h>
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
#include "../elb/ecs.h"
#include "../sd/ecs.h"
#include "arn.h"
#include "cluster.h"
#include "deployment.h"
#include "service_req.h"
#include "instance.h"
#include "lifecycle.h"
#include "placement.h"
#include "runtask.h"
#include "service.h"
#include "task.h"
#include "task_protect.h"
#include "taskdef.h"

#define EVENTS_MAX 100
#define RUN_BATCH 10            /* RunTask's count limit */
#define UNPLACED_REPEAT 60.0    /* seconds before the same placement failure is written again */

static void service_key(char *buf, size_t size, const char *cluster, const char *name)
{
        snprintf(buf, size, "service/%s/%s", cluster, name);
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

void service_event_add(json_t *rec, const char *msg)
{
        svc_event(rec, "%s", msg);
}

/* The public Service shape (private members removed); a new object. */
static json_t *service_shape(json_t *rec, bool tags)
{
        json_t *out = json_deep_copy(rec);
        json_object_del(out, "ebx");
        if (!tags)
                json_object_del(out, "tags");
        else if (!json_object_get(out, "tags"))
                json_object_set_new(out, "tags", json_array());   /* include TAGS: the list, even empty */
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

/* A task definition a service can run: ACTIVE, and network configuration fits its mode. */
static int service_taskdef(struct api_ctx *c, const char *ref, const struct task_network *net, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *td = NULL;
        int r;
        if ((r = taskdef_get_active(c, ref, &td, err)) < 0)
                return r;
        if (net->awsvpc && strcmp(jstr(td, "networkMode") ?: "bridge", "awsvpc") != 0)
                return err_set(err, EINVAL, E_PARAM, "Network Configuration is not valid for the given networkMode of this task definition.");
        *ret = TAKE_PTR(td);
        return 0;
}

/* The record of a new service, with its first deployment. */
static json_t *service_new(struct api_ctx *c, const struct service_create_in *in, json_t *cl, const char *cname, json_t *td,
                           json_t *dc)
{
        char arn[ARN_MAX];
        json_t *rec, *dep;
        arn_service(c, cname, in->name, arn);
        rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:s, s:O, s:[], s:[], s:o, s:O, s:O, s:s, s:{s:s}, s:[], s:[], "
                        "s:b, s:s, s:b, s:s}",
                        "serviceArn", arn, "serviceName", in->name, "clusterArn", jstr(cl, "clusterArn"), "status", "ACTIVE",
                        "desiredCount", (json_int_t) (in->daemon ? 0 : in->desired), "runningCount", 0, "pendingCount", 0,
                        "launchType", in->launch, "taskDefinition", jstr(td, "taskDefinitionArn"), "deploymentConfiguration", dc,
                        "deployments", "events", "createdAt", jtime(now_epoch()), "placementConstraints",
                        in->constraints ?: json_array(), "placementStrategy", in->strategies ?: json_array(), "schedulingStrategy",
                        in->strategy, "deploymentController", "type", "ECS", "loadBalancers", "serviceRegistries",
                        "enableECSManagedTags", in->managed_tags, "propagateTags", in->propagate, "enableExecuteCommand", in->exec, "createdBy",
                        "arn:aws:iam::000000000000:root");
        if (!rec)
                return NULL;
        /* json_pack's O on a fresh array leaked a reference: drop the extra ones. */
        if (!in->constraints)
                json_decref(json_object_get(rec, "placementConstraints"));
        if (!in->strategies)
                json_decref(json_object_get(rec, "placementStrategy"));
        json_set(rec, "networkConfiguration", json_incref(in->net.config));
        if (in->registries)
                json_object_set(rec, "serviceRegistries", in->registries);
        if (in->lbs)
                json_object_set(rec, "loadBalancers", in->lbs);
        if (in->has_grace)
                json_object_set_new(rec, "healthCheckGracePeriodSeconds", json_integer(in->grace));
        if (in->tags)
                json_object_set(rec, "tags", in->tags);
        dep = deployment_new(jstr(td, "taskDefinitionArn"), in->net.config, in->launch, in->daemon ? 0 : in->desired);
        json_array_append_new(json_object_get(rec, "deployments"), dep);
        json_object_set_new(rec, "ebx", json_pack("{s:s, s:s, s:s, s:s, s:b}", "cluster", cname, "name", in->name, "region", c->region,
                                                  "hash", in->hash, "steady", 0));
        return rec;
}

int op_create_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *td = NULL, *old = NULL, *dc = NULL, *rec = NULL;
        struct service_create_in in;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        int r;

        if ((r = service_create_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0 ||
            (r = deploy_config_resolve(&in.deploy, in.daemon, NULL, &dc, err)) < 0 ||
            (r = service_taskdef(c, in.taskdef, &in.net, &td, err)) < 0 ||
            (r = sd_ecs_registries_check(c->s, in.registries, td, err)) < 0 || (r = elb_ecs_check(c->s, in.lbs, td, err)) < 0)
                return r;
        r = service_load(c->s, cname, in.name, &old, key, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && strcmp(jstr(old, "status") ?: "", "INACTIVE") != 0) {
                if (strcmp(jstr(old, "status") ?: "", "DRAINING") == 0)
                        return err_set(err, EINVAL, E_PARAM, "Unable to Start a service that is still Draining.");
                if (strcmp(jstr(json_object_get(old, "ebx"), "hash") ?: "", in.hash) != 0)
                        return err_set(err, EINVAL, E_PARAM, "Creation of service was not idempotent.");
                *ret = json_pack("{s:o}", "service", service_shape(old, true));
                return 0;
        }
        if (!(rec = service_new(c, &in, cl, cname, td, dc)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        log_info("op=CreateService cluster=%s service=%s taskdef=%s desired=%lld strategy=%s", cname, in.name,
                 jstr(td, "taskDefinitionArn"), in.desired, in.strategy);
        services_kick(c->s);
        *ret = json_pack("{s:o}", "service", service_shape(rec, true));
        return 0;
}

/* Sets rec's member to the request's value when it is given and differs; whether it changed. */
static bool member_update(json_t *rec, const char *key, json_t *given)
{
        if (!given || json_equal(given, json_object_get(rec, key)))
                return false;
        json_object_set(rec, key, given);
        return true;
}

/* A new PRIMARY deployment from the record's current settings; the old primary goes ACTIVE. */
static void redeploy(json_t *rec, const char *cname)
{
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(rec, "deployments"), i, d)
                if (strcmp(jstr(d, "status") ?: "", "PRIMARY") == 0) {
                        json_object_set_new(d, "status", json_string("ACTIVE"));
                        json_object_set_new(d, "updatedAt", jtime(now_epoch()));
                }
        d = deployment_new(jstr(rec, "taskDefinition"), json_object_get(rec, "networkConfiguration"), jstr(rec, "launchType") ?: "EC2",
                           jint(rec, "desiredCount", 0));
        json_array_insert_new(json_object_get(rec, "deployments"), 0, d);
        json_object_set_new(json_object_get(rec, "ebx"), "steady", json_false());
        log_info("op=UpdateService cluster=%s service=%s deployment=%s taskdef=%s", cname, jstr(rec, "serviceName"), jstr(d, "id"),
                 jstr(rec, "taskDefinition"));
}

/* Applies an UpdateService to the record (deployment configuration checked by the caller). */
static void service_apply_update(const struct service_update_in *in, json_t *rec, json_t *td, json_t *dc, bool daemon,
                                 const char *cname)
{
        bool changed = false;
        json_t *prim;
        json_object_set(rec, "deploymentConfiguration", dc);
        if (in->desired >= 0 && !daemon)
                json_object_set_new(rec, "desiredCount", json_integer(in->desired));
        if (in->has_grace)
                json_object_set_new(rec, "healthCheckGracePeriodSeconds", json_integer(in->grace));
        /* As on ECS, new tag settings apply to the tasks started from now on. */
        if (in->propagate)
                json_object_set_new(rec, "propagateTags", json_string(in->propagate));
        if (in->managed_tags >= 0)
                json_object_set_new(rec, "enableECSManagedTags", json_boolean(in->managed_tags));
        if (in->exec >= 0)
                json_object_set_new(rec, "enableExecuteCommand", json_boolean(in->exec));
        if (in->taskdef && strcmp(jstr(td, "taskDefinitionArn"), jstr(rec, "taskDefinition") ?: "") != 0) {
                json_object_set_new(rec, "taskDefinition", json_string(jstr(td, "taskDefinitionArn")));
                changed = true;
        }
        changed |= member_update(rec, "networkConfiguration", in->net.config);
        changed |= member_update(rec, "placementConstraints", in->constraints);
        changed |= member_update(rec, "placementStrategy", in->strategies);
        changed |= member_update(rec, "serviceRegistries", in->registries);
        changed |= member_update(rec, "loadBalancers", in->lbs);
        prim = deployment_primary(rec);
        if (changed || in->force || !prim)
                redeploy(rec, cname);
        else if (!daemon) {
                json_object_set_new(prim, "desiredCount", json_integer(jint(rec, "desiredCount", 0)));
                json_object_set_new(prim, "updatedAt", jtime(now_epoch()));
                if (in->desired >= 0)
                        json_object_set_new(json_object_get(rec, "ebx"), "steady", json_false());
        }
}

int op_update_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *td = NULL, *rec = NULL, *dc = NULL;
        struct service_update_in in;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        bool daemon;
        int r;

        if ((r = service_update_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        r = service_load(c->s, cname, in.service, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_SVC_NF, "Service not found.");
        if (r < 0)
                return r;
        if (strcmp(jstr(rec, "status") ?: "", "ACTIVE") != 0)
                return err_set(err, EINVAL, E_SVC_NA, "Service was not ACTIVE.");
        daemon = strcmp(jstr(rec, "schedulingStrategy") ?: "", "DAEMON") == 0;
        if ((r = deploy_config_resolve(&in.deploy, daemon, json_object_get(rec, "deploymentConfiguration"), &dc, err)) < 0)
                return r;
        if (daemon && in.has_strategies)
                return err_set(err, EINVAL, E_PARAM, "Placement strategies are not supported with the DAEMON scheduling strategy.");
        if (in.taskdef && (r = service_taskdef(c, in.taskdef, &in.net, &td, err)) < 0)
                return r;
        if (!td && in.net.config && (r = service_taskdef(c, jstr(rec, "taskDefinition"), &in.net, &td, err)) < 0 && r != -ENOENT)
                return r;
        if (json_array_size(in.registries) > 0) {
                if (!td && (r = service_taskdef(c, jstr(rec, "taskDefinition"), &in.net, &td, err)) < 0)
                        return r;
                if ((r = sd_ecs_registries_check(c->s, in.registries, td, err)) < 0)
                        return r;
        }
        if (json_array_size(in.lbs) > 0) {
                if (!td && (r = service_taskdef(c, jstr(rec, "taskDefinition"), &in.net, &td, err)) < 0)
                        return r;
                if ((r = elb_ecs_check(c->s, in.lbs, td, err)) < 0)
                        return r;
        }
        service_apply_update(&in, rec, td, dc, daemon, cname);
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        services_kick(c->s);
        *ret = json_pack("{s:o}", "service", service_shape(rec, true));
        return 0;
}

struct delete_service_in {
        const char *cluster, *service;
        bool force;
};

static int delete_service_decode(json_t *req, struct delete_service_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "service", true, &in->service, err)) < 0 || (r = req_bool(req, NULL, "force", false, &in->force, err)) < 0)
                return r;
        return 0;
}

int op_delete_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL;
        struct delete_service_in in = { 0 };
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        json_t *d;
        size_t i;
        int r;
        if ((r = delete_service_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        r = service_load(c->s, cname, in.service, &rec, key, err);
        if (r == -ENOENT || (r == 0 && strcmp(jstr(rec, "status") ?: "", "INACTIVE") == 0))
                return err_set(err, ENOENT, E_SVC_NF, "Service not found.");
        if (r < 0)
                return r;
        if (strcmp(jstr(rec, "status") ?: "", "ACTIVE") == 0) {
                if (!in.force && jint(rec, "desiredCount", 0) > 0 && strcmp(jstr(rec, "schedulingStrategy") ?: "", "REPLICA") == 0)
                        return err_set(err, EINVAL, E_PARAM, "The service cannot be stopped while it is scaled above 0.");
                json_object_set_new(rec, "status", json_string("DRAINING"));
                json_object_set_new(rec, "desiredCount", json_integer(0));
                json_array_foreach(json_object_get(rec, "deployments"), i, d)
                        json_object_set_new(d, "desiredCount", json_integer(0));
                if ((r = store_put(c->s->store, key, rec, err)) < 0)
                        return r;
                log_info("op=DeleteService cluster=%s service=%s force=%d", cname, jstr(rec, "serviceName"), in.force);
                services_kick(c->s);
        }
        *ret = json_pack("{s:o}", "service", service_shape(rec, true));
        return 0;
}

int op_describe_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        struct describe_in in = { 0 };
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS * 2 + 16];
        json_t *e;
        size_t i;
        int r;
        if ((r = describe_decode(req, "services", 10, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        json_array_foreach(in.refs, i, e) {
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
                json_array_append_new(out, service_shape(rec, in.tags));
                json_decref(rec);
        }
        *ret = json_pack("{s:O, s:O}", "services", out, "failures", failures);
        return 0;
}

struct list_services_in {
        const char *cluster, *launch, *strategy;
        struct req_page page;
};

static int list_services_decode(json_t *req, struct list_services_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "launchType", false, &in->launch, err)) < 0 ||
            (r = req_str(req, NULL, "schedulingStrategy", false, &in->strategy, err)) < 0)
                return r;
        if (in->strategy && strcmp(in->strategy, "REPLICA") != 0 && strcmp(in->strategy, "DAEMON") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid schedulingStrategy '%s': expected REPLICA or DAEMON.", in->strategy);
        return req_page_decode(req, 10, &in->page, err);
}

struct list_ctx {
        const struct list_services_in *in;
        json_t *arns;
};

static int collect_list(const char *key, json_t *v, void *userdata)
{
        struct list_ctx *l = userdata;
        if (strcmp(jstr(v, "status") ?: "", "ACTIVE") != 0)
                return 0;
        if (l->in->launch && strcmp(jstr(v, "launchType") ?: "", l->in->launch) != 0)
                return 0;
        if (l->in->strategy && strcmp(jstr(v, "schedulingStrategy") ?: "", l->in->strategy) != 0)
                return 0;
        json_array_append_new(l->arns, json_string(jstr(v, "serviceArn")));
        return 0;
}

int op_list_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *arns = json_array(), *page = NULL;
        struct list_services_in in = { 0 };
        struct list_ctx l = { .in = &in, .arns = arns };
        char cname[NAME_MAX_ECS + 1], prefix[NAME_MAX_ECS + 16];
        json_t *token = NULL;
        int r;
        if ((r = list_services_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        snprintf(prefix, sizeof prefix, "service/%s/", cname);
        if ((r = store_list(c->s->store, prefix, collect_list, &l, err)) < 0 || (r = req_page_take(&in.page, arns, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "serviceArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

/* ---- the service scheduler ---- */

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
        ret->propagate = jstr(p->rec, "propagateTags");
        ret->managed_tags = json_is_true(json_object_get(p->rec, "enableECSManagedTags"));
        ret->exec = json_is_true(json_object_get(p->rec, "enableExecuteCommand"));
        ret->service_name = jstr(p->rec, "serviceName");
        ret->service_tags = json_object_get(p->rec, "tags");
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

/* Stops up to n live tasks of deployment dep (unhealthy ones first when only_unhealthy is false).
 * As on ECS, scale-in and deployments leave tasks with scale-in protection alone (until it
 * expires); a task failing its health checks is replaced all the same (stop_unhealthy). */
static int stop_some(struct pass *p, const char *dep, int n, bool only_unhealthy, const char *reason)
{
        json_t *t, **v;
        size_t i, m = 0;
        double now = now_epoch();
        int done = 0;
        if (n <= 0)
                return 0;
        v = calloc(json_array_size(p->tasks) + 1, sizeof *v);
        if (!v)
                return 0;
        json_array_foreach(p->tasks, i, t)
                if (task_live(t) && strcmp(jstr(t, "startedBy") ?: "", dep) == 0 && (!only_unhealthy || !task_healthy(t)) &&
                    !task_protected(t, now))
                        v[m++] = t;
        qsort(v, m, sizeof *v, cmp_stop_order);
        for (i = 0; i < m && done < n; i++)
                if (stop_task(p, v[i], reason) == 0)
                        done++;
        free(v);
        return done;
}

/* The circuit breaker's verdict on the primary deployment, written as service events. */
static void circuit_breaker(struct pass *p, json_t *prim, long long desired)
{
        json_t *back = NULL;
        enum breaker_result b = deployment_breaker(p->rec, prim, desired, &back);
        if (b == BREAKER_OK)
                return;
        svc_event(p->rec, "(service %s) (deployment %s) deployment failed: tasks failed to start.", p->name, jstr(prim, "id"));
        if (b == BREAKER_ROLLED_BACK)
                svc_event(p->rec, "(service %s) rolling back to deployment %s.", p->name, jstr(back, "id"));
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

/* Health checks: a RUNNING task found UNHEALTHY after the grace period is replaced. */
static void stop_unhealthy(struct pass *p)
{
        long long grace = jint(p->rec, "healthCheckGracePeriodSeconds", 0);
        json_t *t;
        size_t i;
        json_array_foreach(p->tasks, i, t)
                if (task_live(t) && strcmp(jstr(t, "lastStatus") ?: "", "RUNNING") == 0 &&
                    strcmp(jstr(t, "healthStatus") ?: "", "UNHEALTHY") == 0 &&
                    now_epoch() - json_number_value(json_object_get(t, "startedAt")) >= (double) grace)
                        (void) stop_task(p, t, "Task failed container health checks");
}

/* Old deployments: unhealthy tasks go at once; healthy ones while enough stay healthy.
 * Returns how many were stopped. */
static int drain_old(struct pass *p, json_t *prim, int healthy, long long min_healthy, const char *reason)
{
        json_t *d;
        size_t i;
        int stopped = 0;
        json_array_foreach(json_object_get(p->rec, "deployments"), i, d) {
                struct dep_count n;
                int k;
                if (d == prim)
                        continue;
                deployment_count(p->tasks, jstr(d, "id"), &n);
                stopped += stop_some(p, jstr(d, "id"), n.live - n.healthy, true, reason);
                if (strcmp(jstr(prim, "rolloutState") ?: "", "FAILED") == 0)
                        continue; /* a failed deployment without rollback keeps the old tasks */
                k = healthy - (int) min_healthy;
                if (k > n.healthy)
                        k = n.healthy;
                /* at most as many as the primary still needs room for, once it can fill it */
                k = stop_some(p, jstr(d, "id"), k, false, reason);
                stopped += k;
                healthy -= k;
        }
        return stopped;
}

/* Scale out the primary within maximumPercent; tasks on DRAINING instances are replaced
 * elsewhere: they do not count toward the desired count when starting, and go once enough
 * stay healthy (the unhealthy ones at once). */
static void scale_out(struct pass *p, json_t *prim, const struct dep_count *pc, const struct dep_count *oc, long long desired,
                      long long max_total, long long min_healthy)
{
        _cleanup_json_ json_t *drained = draining_instances(p);
        json_t *t;
        size_t i;
        int dr = 0, k, stopped = 0;
        json_array_foreach(p->tasks, i, t)
                if (task_live(t) && json_object_get(drained, jstr(json_object_get(t, "ebx"), "instanceId") ?: ""))
                        dr++;
        if (strcmp(jstr(prim, "rolloutState") ?: "", "FAILED") != 0 && pc->live - dr < desired) {
                long long want = desired - (pc->live - dr), room = max_total - pc->live - oc->live;
                if (room < want)
                        want = room;
                if (want > 0)
                        (void) start_tasks(p, prim, (int) want, NULL, false);
        }
        if (dr == 0)
                return;
        k = (pc->healthy + oc->healthy) - (int) min_healthy;
        json_array_foreach(p->tasks, i, t) {
                if (!task_live(t) || !json_object_get(drained, jstr(json_object_get(t, "ebx"), "instanceId") ?: ""))
                        continue;
                if (!task_healthy(t) || stopped < k) {
                        stopped += task_healthy(t);
                        (void) stop_task(p, t, "Container instance is draining");
                }
        }
}

/* REPLICA: desiredCount tasks of the primary deployment, rolled within the deployment bounds. */
static void replica_pass(struct pass *p)
{
        json_t *prim = deployment_primary(p->rec), *d;
        long long desired = jint(p->rec, "desiredCount", 0), max_total, min_healthy;
        struct dep_count pc, oc = { 0 }, n;
        char reason[200];
        size_t i;

        if (!prim)
                return;
        deployment_bounds(json_object_get(p->rec, "deploymentConfiguration"), desired, &max_total, &min_healthy);
        if (jint(prim, "desiredCount", -1) != desired)
                json_object_set_new(prim, "desiredCount", json_integer(desired));
        snprintf(reason, sizeof reason, "Scaling activity initiated by (deployment %s)", jstr(prim, "id"));
        stop_unhealthy(p);
        deployment_count(p->tasks, jstr(prim, "id"), &pc);
        json_object_set_new(prim, "failedTasks", json_integer(pc.failed));
        circuit_breaker(p, prim, desired);
        prim = deployment_primary(p->rec);
        deployment_count(p->tasks, jstr(prim, "id"), &pc);
        json_array_foreach(json_object_get(p->rec, "deployments"), i, d)
                if (d != prim) {
                        deployment_count(p->tasks, jstr(d, "id"), &n);
                        oc.live += n.live;
                        oc.healthy += n.healthy;
                }
        /* scale in the primary: excess tasks, not-yet-running ones first */
        if (pc.live > desired)
                pc.live -= stop_some(p, jstr(prim, "id"), (int) (pc.live - desired), false, reason);
        oc.live -= drain_old(p, prim, pc.healthy + oc.healthy, min_healthy, reason);
        scale_out(p, prim, &pc, &oc, desired, max_total, min_healthy);
}

/* DAEMON: one task per ACTIVE container instance that meets the constraints. */
static void daemon_pass(struct pass *p)
{
        _cleanup_json_ json_t *insts = NULL;
        json_t *prim = deployment_primary(p->rec), *in, *t;
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
                deployment_count(p->tasks, jstr(prim, "id"), &pc);
                json_object_set_new(prim, "failedTasks", json_integer(pc.failed));
                circuit_breaker(p, prim, eligible);
        }
}

/* Counts, steady state, finished deployments. */
static void pass_finish(struct pass *p)
{
        json_t *deps = json_object_get(p->rec, "deployments"), *prim = deployment_primary(p->rec), *d, *t;
        long long running = 0, pending = 0, others_left = 0;
        struct dep_count n;
        size_t i, j;
        bool steady;
        json_array_foreach(deps, i, d) {
                deployment_count(p->tasks, jstr(d, "id"), &n);
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
        deployment_count(p->tasks, jstr(prim, "id"), &n);
        steady = others_left == 0 && n.live == jint(p->rec, "desiredCount", 0) && n.healthy == n.live && n.pending == 0;
        if (steady && json_array_size(deps) > 1) {
                /* the old deployments are drained: INACTIVE, out of the list */
                for (i = json_array_size(deps); i-- > 0;)
                        if (json_array_get(deps, i) != prim)
                                json_array_remove(deps, i);
        }
        if (steady && strcmp(jstr(prim, "rolloutState") ?: "", "IN_PROGRESS") == 0) {
                deployment_set_rollout(prim, "COMPLETED", "completed");
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
        /* Cloud Map instances follow the tasks (serviceRegistries) */
        sd_ecs_sync(s, key, rec, tasks);
        /* and the target groups of loadBalancers */
        elb_ecs_sync(s, key, rec, tasks);
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
