/* cluster.c: clusters ("cluster/NAME" records): create, describe, list, delete. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "account.h"
#include "arn.h"
#include "cluster.h"
#include "service.h"
#include "task.h"

const char *cluster_param(json_t *req)
{
        const char *c = jstr(req, "cluster");
        return c && *c ? c : "default";
}

/* DescribeTasks, DescribeServices, DescribeContainerInstances: a cluster and references. */
int describe_decode(json_t *req, const char *key, size_t max, struct describe_in *ret, struct err *err)
{
        ret->cluster = cluster_param(req);
        ret->tags = req_include_tags(req);
        return req_str_list(req, NULL, key, true, max, &ret->refs, err);
}

static void cluster_key(char *buf, size_t size, const char *name)
{
        snprintf(buf, size, "cluster/%s", name);
}

/* Loads a cluster record by name or ARN, whatever its status; -ENOENT when absent. */
static int cluster_load(struct sched *s, const char *ref, json_t **ret, char ret_name[NAME_MAX_ECS + 1], struct err *err)
{
        char key[NAME_MAX_ECS + 16];
        const char *name = arn_last(ref);
        if (strncmp(ref, "arn:", 4) == 0 && !strstr(ref, ":cluster/"))
                return -ENOENT;
        if (!name_valid(name))
                return -ENOENT;
        cluster_key(key, sizeof key, name);
        if (ret_name)
                snprintf(ret_name, NAME_MAX_ECS + 1, "%s", name);
        return store_get(s->store, key, ret, err);
}

int cluster_get(struct api_ctx *c, const char *ref, json_t **ret, char ret_name[NAME_MAX_ECS + 1], struct err *err)
{
        json_t *rec = NULL;
        int r = cluster_load(c->s, ref, &rec, ret_name, err);
        if (r == -ENOENT || (r == 0 && strcmp(jstr(rec, "status") ?: "", "ACTIVE") != 0)) {
                json_decref(rec);
                return err_set(err, ENOENT, E_CLUSTER_NF, "Cluster not found.");
        }
        if (r < 0)
                return r;
        *ret = rec;
        return 0;
}

/* Borrowed member or a fresh default. */
static void set_or(json_t *o, const char *key, json_t *given, json_t *dflt)
{
        if (given) {
                json_object_set(o, key, given);
                json_decref(dflt);
        } else
                json_object_set_new(o, key, dflt);
}

static json_t *cluster_new(const struct api_ctx *c, const char *name, json_t *tags, json_t *settings, json_t *cps,
                           json_t *strategy, json_t *configuration)
{
        char arn[ARN_MAX];
        json_t *rec;
        arn_cluster(c, name, arn);
        rec = json_pack("{s:s, s:s, s:s}", "clusterArn", arn, "clusterName", name, "status", "ACTIVE");
        if (!rec)
                return NULL;
        set_or(rec, "tags", tags, json_array());
        if (!settings) {
                /* A new cluster takes containerInsights from the account setting, as on ECS. */
                char insights[32] = "disabled";
                struct err e = { 0 };
                (void) account_setting_effective(c->s, "containerInsights", insights, sizeof insights, &e);
                json_object_set_new(rec, "settings", json_pack("[{s:s, s:s}]", "name", "containerInsights", "value", insights));
        } else
                json_object_set(rec, "settings", settings);
        set_or(rec, "capacityProviders", cps, json_array());
        set_or(rec, "defaultCapacityProviderStrategy", strategy, json_array());
        if (configuration)
                json_object_set(rec, "configuration", configuration);
        json_object_set_new(rec, "createdAt", jtime(now_epoch()));
        return rec;
}

int cluster_ensure_default(struct sched *s, struct err *err)
{
        struct api_ctx c = { .s = s };
        _cleanup_json_ json_t *rec = NULL;
        int r;
        snprintf(c.region, sizeof c.region, "%s", s->region);
        r = store_get(s->store, "cluster/default", &rec, err);
        if (r == 0 && strcmp(jstr(rec, "status") ?: "", "ACTIVE") == 0)
                return 0;
        if (r < 0 && r != -ENOENT)
                return r;
        json_decref(rec);
        rec = cluster_new(&c, "default", NULL, NULL, NULL, NULL, NULL);
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_put(s->store, "cluster/default", rec, err)) < 0)
                return r;
        log_info("msg=\"created the default cluster\" cluster=default");
        return 0;
}

struct counts {
        long instances, running, pending, active_tasks;
};

static int count_task(const char *key, json_t *v, void *userdata)
{
        struct counts *n = userdata;
        const char *st = jstr(v, "lastStatus") ?: "";
        if (strcmp(st, "RUNNING") == 0)
                n->running++;
        else if (strcmp(st, "PROVISIONING") == 0 || strcmp(st, "PENDING") == 0 || strcmp(st, "ACTIVATING") == 0)
                n->pending++;
        if (strcmp(st, "STOPPED") != 0)
                n->active_tasks++;
        return 0;
}

static int count_instance(const char *key, json_t *v, void *userdata)
{
        struct counts *n = userdata;
        const char *st = jstr(v, "status") ?: "";
        if (strcmp(st, "ACTIVE") == 0 || strcmp(st, "DRAINING") == 0)
                n->instances++;
        return 0;
}

static int cluster_counts(struct sched *s, const char *name, struct counts *n, struct err *err)
{
        char prefix[NAME_MAX_ECS + 32];
        int r;
        memset(n, 0, sizeof *n);
        snprintf(prefix, sizeof prefix, "task/%s/", name);
        if ((r = store_list(s->store, prefix, count_task, n, err)) < 0)
                return r;
        snprintf(prefix, sizeof prefix, "instance/%s/", name);
        return store_list(s->store, prefix, count_instance, n, err);
}

/* The Cluster shape: the record with live counts; tags only when asked for. */
static int cluster_shape(struct sched *s, json_t *rec, bool tags, json_t **ret, struct err *err)
{
        struct counts n;
        json_t *out;
        int r;
        if ((r = cluster_counts(s, jstr(rec, "clusterName"), &n, err)) < 0)
                return r;
        out = json_deep_copy(rec);
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_object_del(out, "createdAt");
        if (!tags)
                json_object_del(out, "tags");
        json_object_set_new(out, "registeredContainerInstancesCount", json_integer(n.instances));
        json_object_set_new(out, "runningTasksCount", json_integer(n.running));
        json_object_set_new(out, "pendingTasksCount", json_integer(n.pending));
        r = services_count(s, jstr(rec, "clusterName") ?: "", err);
        json_object_set_new(out, "activeServicesCount", json_integer(r > 0 ? r : 0));
        json_object_set_new(out, "statistics", json_array());
        *ret = out;
        return 0;
}

struct create_cluster_in {
        const char *name;
        json_t *tags, *settings, *capacity_providers, *strategy, *configuration;   /* as given, or NULL */
};

static int create_cluster_decode(json_t *req, struct create_cluster_in *in, struct err *err)
{
        int r;
        in->name = "default";
        if ((r = req_str(req, NULL, "clusterName", false, &in->name, err)) < 0 || (r = req_tags(req, "tags", &in->tags, err)) < 0 ||
            (r = req_array(req, NULL, "settings", false, &in->settings, err)) < 0 ||
            (r = req_str_list(req, NULL, "capacityProviders", false, 0, &in->capacity_providers, err)) < 0 ||
            (r = req_array(req, NULL, "defaultCapacityProviderStrategy", false, &in->strategy, err)) < 0 ||
            (r = req_object(req, NULL, "configuration", false, &in->configuration, err)) < 0 ||
            (r = cluster_settings_check(in->settings, err)) < 0 || (r = cluster_configuration_check(in->configuration, err)) < 0)
                return r;
        if (!name_valid(in->name))
                return err_set(err, EINVAL, E_PARAM,
                               "Invalid cluster name '%.300s': up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
                               in->name);
        return 0;
}

int op_create_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct create_cluster_in in = { 0 };
        _cleanup_json_ json_t *rec = NULL;
        json_t *shape = NULL;
        char key[NAME_MAX_ECS + 16];
        int r;

        if ((r = create_cluster_decode(req, &in, err)) < 0)
                return r;
        cluster_key(key, sizeof key, in.name);
        r = store_get(c->s->store, key, &rec, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && strcmp(jstr(rec, "status") ?: "", "ACTIVE") == 0) {
                /* As on ECS: creating an existing cluster answers with it. */
                if ((r = cluster_shape(c->s, rec, true, &shape, err)) < 0)
                        return r;
                *ret = json_pack("{s:o}", "cluster", shape);
                return 0;
        }
        json_decref(rec);
        rec = cluster_new(c, in.name, in.tags, in.settings, in.capacity_providers, in.strategy, in.configuration);
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        log_info("op=CreateCluster cluster=%s", in.name);
        if ((r = cluster_shape(c->s, rec, true, &shape, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "cluster", shape);
        return 0;
}

struct describe_clusters_in {
        json_t *names;                       /* names or ARNs, at most 100 (none: the default cluster) */
        bool tags;
};

static int describe_clusters_decode(json_t *req, struct describe_clusters_in *in, struct err *err)
{
        in->tags = req_include_tags(req);
        return req_str_list(req, NULL, "clusters", false, 100, &in->names, err);
}

int op_describe_clusters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct describe_clusters_in in = { 0 };
        _cleanup_json_ json_t *clusters = json_array(), *failures = json_array(), *dflt = NULL;
        json_t *names, *e;
        size_t i;
        int r;

        if ((r = describe_clusters_decode(req, &in, err)) < 0)
                return r;
        names = in.names;
        if (!names || json_array_size(names) == 0)
                names = dflt = json_pack("[s]", "default");
        json_array_foreach(names, i, e) {
                const char *ref = json_string_value(e);
                _cleanup_json_ json_t *rec = NULL;
                json_t *shape = NULL;
                r = cluster_load(c->s, ref, &rec, NULL, err);
                if (r == -ENOENT) {
                        char arn[ARN_MAX];
                        arn_cluster(c, ref, arn);
                        failure_missing(failures, ref, arn);
                        continue;
                }
                if (r < 0 || (r = cluster_shape(c->s, rec, in.tags, &shape, err)) < 0)
                        return r;
                json_array_append_new(clusters, shape);
        }
        *ret = json_pack("{s:O, s:O}", "clusters", clusters, "failures", failures);
        return 0;
}

static int collect_active_arn(const char *key, json_t *v, void *userdata)
{
        if (strcmp(jstr(v, "status") ?: "", "ACTIVE") == 0)
                json_array_append_new(userdata, json_string(jstr(v, "clusterArn")));
        return 0;
}

int op_list_clusters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *all = json_array(), *page = NULL;
        struct req_page pg;
        json_t *token = NULL;
        int r;
        if ((r = req_page_decode(req, 100, &pg, err)) < 0 || (r = store_list(c->s->store, "cluster/", collect_active_arn, all, err)) < 0 ||
            (r = req_page_take(&pg, all, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "clusterArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

int op_delete_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        const char *ref = NULL;     /* DeleteCluster's one member */
        char name[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 16];
        _cleanup_json_ json_t *rec = NULL;
        json_t *shape = NULL;
        struct counts n;
        int r;
        if ((r = req_str(req, NULL, "cluster", true, &ref, err)) < 0 || (r = cluster_get(c, ref, &rec, name, err)) < 0 ||
            (r = cluster_counts(c->s, name, &n, err)) < 0)
                return r;
        if (n.instances > 0)
                return err_set(err, EBUSY, "ClusterContainsContainerInstancesException",
                               "The Cluster cannot be deleted while Container Instances are active or draining.");
        if ((r = services_count(c->s, name, err)) != 0)
                return r < 0 ? r : err_set(err, EBUSY, "ClusterContainsServicesException",
                                           "The Cluster cannot be deleted while Services are active.");
        if (n.active_tasks > 0)
                return err_set(err, EBUSY, "ClusterContainsTasksException",
                               "The Cluster cannot be deleted while Tasks are active.");
        json_object_set_new(rec, "status", json_string("INACTIVE"));
        cluster_key(key, sizeof key, name);
        if ((r = store_put(c->s->store, key, rec, err)) < 0 || (r = cluster_shape(c->s, rec, true, &shape, err)) < 0)
                return r;
        log_info("op=DeleteCluster cluster=%s", name);
        *ret = json_pack("{s:o}", "cluster", shape);
        return 0;
}

/* The settings of rec with each given one replacing the one of the same name. */
static void settings_merge(json_t *rec, json_t *given)
{
        json_t *have = json_object_get(rec, "settings"), *g, *h;
        size_t i, j;
        if (!json_is_array(have)) {
                have = json_array();
                json_object_set_new(rec, "settings", have);
        }
        json_array_foreach(given, i, g) {
                bool found = false;
                json_array_foreach(have, j, h)
                        if (strcmp(jstr(h, "name") ?: "", jstr(g, "name")) == 0) {
                                json_object_set_new(h, "value", json_string(jstr(g, "value")));
                                found = true;
                        }
                if (!found)
                        json_array_append_new(have, json_pack("{s:s, s:s}", "name", jstr(g, "name"), "value", jstr(g, "value")));
        }
}

/* serviceConnectDefaults as ECS answers it: the namespace's ARN. ecsbox makes no Cloud Map
 * namespace here: a name gets an ARN with an id derived from the name. */
static json_t *service_connect_defaults(const struct api_ctx *c, const char *ns)
{
        char arn[ARN_MAX + 64];
        unsigned long long h = 0xcbf29ce484222325ull;
        if (strncmp(ns, "arn:", 4) == 0)
                return json_pack("{s:s}", "namespace", ns);
        for (const char *p = ns; *p; p++) {
                h ^= (unsigned char) *p;
                h *= 0x100000001b3ull;
        }
        snprintf(arn, sizeof arn, "arn:aws:servicediscovery:%s:%s:namespace/ns-%016llx", c->region, c->s->account, h);
        return json_pack("{s:s}", "namespace", arn);
}

static int cluster_update(struct api_ctx *c, json_t *req, bool settings_only, json_t **ret, struct err *err)
{
        struct update_cluster_in in;
        _cleanup_json_ json_t *rec = NULL;
        char name[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 16];
        json_t *shape = NULL;
        int r;
        if ((r = update_cluster_decode(req, settings_only, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &rec, name, err)) < 0)
                return r;
        if (in.settings)
                settings_merge(rec, in.settings);
        if (in.configuration)
                json_object_set(rec, "configuration", in.configuration);
        if (in.namespace && !*in.namespace)
                json_object_del(rec, "serviceConnectDefaults");
        else if (in.namespace)
                json_object_set_new(rec, "serviceConnectDefaults", service_connect_defaults(c, in.namespace));
        cluster_key(key, sizeof key, name);
        if ((r = store_put(c->s->store, key, rec, err)) < 0 || (r = cluster_shape(c->s, rec, false, &shape, err)) < 0)
                return r;
        log_info("op=%s cluster=%s", c->op, name);
        *ret = json_pack("{s:o}", "cluster", shape);
        return 0;
}

int op_update_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return cluster_update(c, req, false, ret, err);
}

int op_update_cluster_settings(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return cluster_update(c, req, true, ret, err);
}
