/* instance.c: container instances ("instance/CLUSTER/ID"): each is a network namespace
 * "ebx-ci-<id>" with a primary ENI from netd, with CPU/memory/ports/ENI slots to place on. */
#include <errno.h>
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
#include "../netd_client.h"
#include "cluster.h"
#include "cql.h"
#include "instance.h"
#include "lifecycle.h"
#include "placement.h"
#include "task.h"

/* Registered CPU units and MiB (what ECS leaves after the OS), and the instance's
 * ENI limit; one ENI is the instance's own, so awsvpc tasks get limit - 1 slots. */
static const struct instance_type types[] = {
        { "t3.micro", 2048, 944, 2 },    { "t3.small", 2048, 1932, 3 },   { "t3.medium", 2048, 3904, 3 },
        { "t3.large", 2048, 7859, 3 },   { "t3.xlarge", 4096, 15807, 4 }, { "m5.large", 2048, 7680, 3 },
        { "m5.xlarge", 4096, 15576, 4 }, { "m5.2xlarge", 8192, 31403, 4 }, { "c5.large", 2048, 3763, 3 },
        { "c5.xlarge", 4096, 7624, 4 },  { "c5.2xlarge", 8192, 15453, 4 }, { "r5.large", 2048, 15576, 3 },
};
static const struct instance_type default_type = { NULL, 1024, 2048, 3 };

const struct instance_type *instance_type_find(const char *name)
{
        if (!name)
                return &default_type;
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strcmp(types[i].name, name) == 0)
                        return &types[i];
        return NULL;
}

void instance_key(char *buf, size_t size, const char *cluster, const char *id)
{
        snprintf(buf, size, "instance/%s/%s", cluster, id);
}

int instance_get(struct sched *s, const char *cluster, const char *ref, bool any, json_t **ret, struct err *err)
{
        char key[NAME_MAX_ECS + 64];
        const char *id = arn_last(ref);
        json_t *rec = NULL;
        const char *st;
        int r;
        if (!hex32_valid(id))
                return -ENOENT;
        instance_key(key, sizeof key, cluster, id);
        if ((r = store_get(s->store, key, &rec, err)) < 0)
                return r;
        st = jstr(rec, "status") ?: "";
        if (strcmp(st, "REGISTERING") == 0 || (!any && strcmp(st, "INACTIVE") == 0)) {
                json_decref(rec);
                return -ENOENT;
        }
        *ret = rec;
        return 0;
}

static int collect_instance(const char *key, json_t *v, void *userdata)
{
        json_t **a = userdata;
        const char *st = jstr(v, "status") ?: "";
        bool all = json_is_true(json_object_get(a[1], "all"));
        if (strcmp(st, "REGISTERING") == 0 || (!all && strcmp(st, "INACTIVE") == 0))
                return 0;
        json_array_append(a[0], v);
        return 0;
}

int instance_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err)
{
        char prefix[NAME_MAX_ECS + 32];
        json_t *a[2] = { json_array(), json_pack("{s:b}", "all", all) };
        int r;
        snprintf(prefix, sizeof prefix, "instance/%s/", cluster);
        r = store_list(s->store, prefix, collect_instance, a, err);
        json_decref(a[1]);
        if (r < 0) {
                json_decref(a[0]);
                return r;
        }
        *ret = a[0];
        return 0;
}

static void ports_mark(uint64_t *map, json_t *list)
{
        json_t *p;
        size_t i;
        if (!map)
                return;
        json_array_foreach(list, i, p)
                if (json_is_integer(p) && json_integer_value(p) >= 0 && json_integer_value(p) < 65536)
                        place_port_take(map, (uint16_t) json_integer_value(p));
}

void instance_usage(json_t *tasks, const char *id, struct inst_usage *u, uint64_t *tcp, uint64_t *udp)
{
        json_t *t;
        size_t i;
        memset(u, 0, sizeof *u);
        json_array_foreach(tasks, i, t) {
                json_t *ebx = json_object_get(t, "ebx"), *res = json_object_get(ebx, "res");
                const char *st = jstr(t, "lastStatus") ?: "";
                if (!id || strcmp(jstr(ebx, "instanceId") ?: "", id) != 0 || strcmp(st, "STOPPED") == 0)
                        continue;
                u->cpu += (long) jint(res, "cpu", 0);
                u->mem += (long) jint(res, "mem", 0);
                u->enis += (int) jint(res, "eni", 0);
                if (strcmp(st, "RUNNING") == 0)
                        u->running++;
                else if (strcmp(st, "PROVISIONING") == 0 || strcmp(st, "PENDING") == 0 || strcmp(st, "ACTIVATING") == 0)
                        u->pending++;
                ports_mark(tcp, json_object_get(res, "tcp"));
                ports_mark(udp, json_object_get(res, "udp"));
        }
}

json_t *instance_resource_int(const char *name, long v)
{
        return json_pack("{s:s, s:s, s:f, s:I, s:I, s:[]}", "name", name, "type", "INTEGER", "doubleValue", 0.0, "longValue",
                         (json_int_t) 0, "integerValue", (json_int_t) v, "stringSetValue");
}

json_t *instance_resource_set(const char *name, json_t *values)
{
        return json_pack("{s:s, s:s, s:f, s:I, s:I, s:o}", "name", name, "type", "STRINGSET", "doubleValue", 0.0, "longValue",
                         (json_int_t) 0, "integerValue", (json_int_t) 0, "stringSetValue", values);
}

static json_t *registered_value(json_t *rec, const char *name)
{
        json_t *r;
        size_t i;
        json_array_foreach(json_object_get(rec, "registeredResources"), i, r)
                if (strcmp(jstr(r, "name") ?: "", name) == 0)
                        return r;
        return NULL;
}

static json_t *ports_union(json_t *registered, const uint64_t *map)
{
        json_t *out = json_array(), *p;
        uint64_t seen[1024] = { 0 };
        size_t i;
        json_array_foreach(json_object_get(registered, "stringSetValue"), i, p) {
                long v = strtol(json_string_value(p) ?: "", NULL, 10);
                if (v > 0 && v < 65536)
                        place_port_take(seen, (uint16_t) v);
                json_array_append(out, p);
        }
        for (unsigned v = 1; v < 65536; v++)
                if (place_port_taken(map, (uint16_t) v) && !place_port_taken(seen, (uint16_t) v)) {
                        char b[8];
                        snprintf(b, sizeof b, "%u", v);
                        json_array_append_new(out, json_string(b));
                }
        return out;
}

json_t *instance_shape(struct sched *s, const char *cluster, json_t *rec)
{
        _cleanup_json_ json_t *tasks = NULL;
        _cleanup_free_ uint64_t *tcp = calloc(1024, sizeof *tcp), *udp = calloc(1024, sizeof *udp);
        struct inst_usage u;
        json_t *out = json_deep_copy(rec), *remaining;
        const char *id = jstr(json_object_get(rec, "ebx"), "id");
        if (!out || !tcp || !udp) {
                json_decref(out);
                return NULL;
        }
        if (task_list(s, cluster, false, &tasks, NULL) < 0)
                tasks = json_array();
        instance_usage(tasks, id, &u, tcp, udp);
        json_object_del(out, "ebx");
        json_object_set_new(out, "runningTasksCount", json_integer(u.running));
        json_object_set_new(out, "pendingTasksCount", json_integer(u.pending));
        remaining = json_array();
        json_array_append_new(remaining, instance_resource_int("CPU", (long) jint(registered_value(rec, "CPU"), "integerValue", 0) - u.cpu));
        json_array_append_new(remaining,
                              instance_resource_int("MEMORY", (long) jint(registered_value(rec, "MEMORY"), "integerValue", 0) - u.mem));
        json_array_append_new(remaining, instance_resource_set("PORTS", ports_union(registered_value(rec, "PORTS"), tcp)));
        json_array_append_new(remaining, instance_resource_set("PORTS_UDP", ports_union(registered_value(rec, "PORTS_UDP"), udp)));
        json_object_set_new(out, "remainingResources", remaining);
        return out;
}

void attr_set(json_t *attrs, const char *name, const char *value)
{
        json_t *a;
        size_t i;
        json_array_foreach(attrs, i, a)
                if (strcmp(jstr(a, "name") ?: "", name) == 0) {
                        if (value)
                                json_object_set_new(a, "value", json_string(value));
                        else
                                json_object_del(a, "value");
                        return;
                }
        a = json_pack("{s:s}", "name", name);
        if (value)
                json_object_set_new(a, "value", json_string(value));
        json_array_append_new(attrs, a);
}

int op_describe_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        struct describe_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        json_t *e;
        size_t i;
        int r;
        if ((r = describe_decode(req, "containerInstances", 100, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        json_array_foreach(in.refs, i, e) {
                json_t *rec = NULL, *shape;
                r = instance_get(c->s, cname, json_string_value(e), true, &rec, err);
                if (r == -ENOENT) {
                        char arn[ARN_MAX];
                        arn_instance(c, cname, json_string_value(e), arn);
                        failure_missing(failures, json_string_value(e), arn);
                        continue;
                }
                if (r < 0)
                        return r;
                shape = instance_shape(c->s, cname, rec);
                json_decref(rec);
                if (!shape)
                        return err_set(err, ENOMEM, NULL, "out of memory");
                if (!in.tags)
                        json_object_del(shape, "tags");
                else if (!json_object_get(shape, "tags"))
                        json_object_set_new(shape, "tags", json_array());
                json_array_append_new(out, shape);
        }
        *ret = json_pack("{s:O, s:O}", "containerInstances", out, "failures", failures);
        return 0;
}

struct filter_ctx {
        json_t *shape;
        const char *one[2];
        char buf[32];
};

static const char *const *filter_values(void *ctx, const char *subject)
{
        struct filter_ctx *f = ctx;
        json_t *a;
        size_t i;
        f->one[0] = NULL;
        f->one[1] = NULL;
        if (strncmp(subject, "attribute:", 10) == 0) {
                json_array_foreach(json_object_get(f->shape, "attributes"), i, a)
                        if (strcmp(jstr(a, "name") ?: "", subject + 10) == 0)
                                f->one[0] = jstr(a, "value") ?: "";
        } else if (strcmp(subject, "ec2InstanceId") == 0)
                f->one[0] = jstr(f->shape, "ec2InstanceId");
        else if (strcmp(subject, "runningTasksCount") == 0) {
                snprintf(f->buf, sizeof f->buf, "%lld", jint(f->shape, "runningTasksCount", 0));
                f->one[0] = f->buf;
        } else if (strcmp(subject, "agentVersion") == 0)
                f->one[0] = jstr(json_object_get(f->shape, "versionInfo"), "agentVersion");
        return f->one[0] ? f->one : NULL;
}

struct list_instances_in {
        const char *cluster, *status;        /* status NULL: any */
        struct cql *filter;                  /* parsed, owned; NULL: none */
        struct req_page page;
};

static int list_instances_decode(json_t *req, struct list_instances_in *in, struct err *err)
{
        const char *filter = NULL, *st;
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "status", false, &in->status, err)) < 0 || (r = req_str(req, NULL, "filter", false, &filter, err)) < 0)
                return r;
        st = in->status;
        if (st && strcmp(st, "ACTIVE") != 0 && strcmp(st, "DRAINING") != 0 && strcmp(st, "REGISTERING") != 0 &&
            strcmp(st, "DEREGISTERING") != 0 && strcmp(st, "REGISTRATION_FAILED") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid status '%s': expected ACTIVE, DRAINING, REGISTERING, DEREGISTERING or REGISTRATION_FAILED.",
                               st);
        if (filter && *filter && (r = cql_parse(filter, &in->filter, err)) < 0)
                return err_wrap(err, "Invalid filter '%s'", filter);
        return req_page_decode(req, 100, &in->page, err);
}

static int matching_instances(struct sched *s, const char *cname, const struct list_instances_in *in, json_t *arns, struct err *err)
{
        _cleanup_json_ json_t *recs = NULL;
        json_t *rec;
        size_t i;
        int r;
        if ((r = instance_list(s, cname, false, &recs, err)) < 0)
                return r;
        json_array_foreach(recs, i, rec) {
                if (in->status && strcmp(jstr(rec, "status") ?: "", in->status) != 0)
                        continue;
                if (in->filter) {
                        struct filter_ctx f = { .shape = instance_shape(s, cname, rec) };
                        bool ok = f.shape && cql_eval(in->filter, filter_values, &f);
                        json_decref(f.shape);
                        if (!ok)
                                continue;
                }
                json_array_append_new(arns, json_string(jstr(rec, "containerInstanceArn")));
        }
        return 0;
}

int op_list_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *arns = json_array(), *page = NULL;
        struct list_instances_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        json_t *token = NULL;
        int r;
        if ((r = list_instances_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0 ||
            (r = matching_instances(c->s, cname, &in, arns, err)) < 0 || (r = req_page_take(&in.page, arns, &page, &token, err)) < 0)
                goto out;
        *ret = json_pack("{s:O}", "containerInstanceArns", page);
        json_set(*ret, "nextToken", token);
out:
        cql_free(in.filter);
        return r;
}

struct deregister_in {
        const char *cluster, *instance;
        bool force;
};

static int deregister_decode(json_t *req, struct deregister_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "containerInstance", true, &in->instance, err)) < 0 ||
            (r = req_bool(req, NULL, "force", false, &in->force, err)) < 0)
                return r;
        return 0;
}

/* force: the instance's tasks are stopped (ecsbox cannot leave processes without an owner), and
 * the instance goes INACTIVE, in one transaction. */
static int deregister_commit(struct sched *s, const char *cname, const char *id, json_t *rec, json_t *tasks, struct err *err)
{
        char key[NAME_MAX_ECS + 64];
        json_t *t;
        size_t i;
        int r;
        if ((r = store_begin(s->store, err)) < 0)
                return r;
        json_array_foreach(tasks, i, t) {
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) != 0 ||
                    strcmp(jstr(t, "desiredStatus") ?: "", "STOPPED") == 0)
                        continue;
                json_object_set_new(t, "desiredStatus", json_string("STOPPED"));
                json_object_set_new(t, "stopCode", json_string("TerminationNotice"));
                json_object_set_new(t, "stoppedReason", json_string("Container instance deregistered"));
                json_object_set_new(t, "version", json_integer(jint(t, "version", 1) + 1));
                if ((r = task_put(s, t, err)) < 0) {
                        store_rollback(s->store);
                        return r;
                }
        }
        json_object_set_new(rec, "status", json_string("INACTIVE"));
        json_object_set_new(rec, "agentConnected", json_false());
        json_object_set_new(rec, "version", json_integer(jint(rec, "version", 1) + 1));
        instance_key(key, sizeof key, cname, id);
        if ((r = store_put(s->store, key, rec, err)) < 0 || (r = store_commit(s->store, err)) < 0) {
                store_rollback(s->store);
                return r;
        }
        return 0;
}

int op_deregister_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL, *tasks = NULL;
        struct deregister_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        const char *id;
        json_t *t;
        size_t i;
        int r, active = 0;
        if ((r = deregister_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        r = instance_get(c->s, cname, in.instance, false, &rec, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The container instance '%s' was not found in cluster '%s'.", in.instance, cname);
        if (r < 0)
                return r;
        id = jstr(json_object_get(rec, "ebx"), "id");
        if ((r = task_list(c->s, cname, false, &tasks, err)) < 0)
                return r;
        json_array_foreach(tasks, i, t)
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0)
                        active++;
        if (active && !in.force)
                return err_set(err, EBUSY, E_PARAM,
                               "The container instance has %d task(s) that are not stopped. Stop them first, or deregister with force.", active);
        if ((r = deregister_commit(c->s, cname, id, rec, tasks, err)) < 0)
                return r;
        json_array_foreach(tasks, i, t)
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0)
                        task_kick(c->s, jstr(json_object_get(t, "ebx"), "id"), NULL);
        log_info("op=DeregisterContainerInstance cluster=%s instance=%s tasks_stopped=%d", cname, id, active);
        instance_release_pending(c->s);
        *ret = json_pack("{s:o}", "containerInstance", instance_shape(c->s, cname, rec));
        return 0;
}

struct release_ctx {
        struct sched *s;
        json_t *todo;
};

static int collect_release(const char *key, json_t *v, void *userdata)
{
        struct release_ctx *rc = userdata;
        json_t *ebx = json_object_get(v, "ebx");
        if (strcmp(jstr(v, "status") ?: "", "INACTIVE") == 0 && !json_is_true(json_object_get(ebx, "networkReleased")))
                json_array_append_new(rc->todo, json_pack("[s, O]", key, v));
        return 0;
}

void instance_release_pending(struct sched *s)
{
        struct release_ctx rc = { s, json_array() };
        struct err err = { 0 };
        json_t *e;
        size_t i;
        if (store_list(s->store, "instance/", collect_release, &rc, &err) < 0) {
                log_warning("msg=\"list instances to release, ignoring\" err=\"%s\"", err.msg);
                json_decref(rc.todo);
                return;
        }
        json_array_foreach(rc.todo, i, e) {
                json_t *rec = json_array_get(e, 1), *ebx = json_object_get(rec, "ebx"), *tasks = NULL, *t;
                const char *id = jstr(ebx, "id");
                bool busy = false;
                size_t k;
                if (task_list(s, jstr(ebx, "cluster"), false, &tasks, &err) < 0)
                        continue;
                json_array_foreach(tasks, k, t)
                        if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0)
                                busy = true;
                json_decref(tasks);
                if (busy)
                        continue;
                if (netd_release(s, jstr(ebx, "netns"), &err) < 0) {
                        log_warning("msg=\"release the network of a deregistered instance, will retry\" instance=%s netns=%s err=\"%s\"", id,
                                    jstr(ebx, "netns"), err.msg);
                        err_clear(&err);
                        continue;
                }
                json_object_set_new(ebx, "networkReleased", json_true());
                if (store_put(s->store, json_string_value(json_array_get(e, 0)), rec, &err) < 0) {
                        log_warning("msg=\"record released instance network, ignoring\" err=\"%s\"", err.msg);
                        err_clear(&err);
                        continue;
                }
                log_info("msg=\"released the network of a deregistered instance\" instance=%s netns=%s", id, jstr(ebx, "netns"));
        }
        json_decref(rc.todo);
}
