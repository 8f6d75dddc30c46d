/* attributes.c: custom attributes on container instances (PutAttributes, DeleteAttributes,
 * ListAttributes) and UpdateContainerInstancesState (ACTIVE <-> DRAINING). Placement reads the
 * attributes through the cluster query language (memberOf) and skips DRAINING instances. */
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
#include "attributes.h"
#include "cluster.h"
#include "instance.h"

#define ATTR_MAX 10

/* ECS: a name of 1-128 letters, digits, hyphens, underscores, periods, slashes or backslashes; a
 * value of 1-128 of those and spaces, colons, at signs. */
static bool attr_name_ok(const char *s, bool value)
{
        size_t n = strlen(s);
        if (n < 1 || n > 128)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("-_./\\", *s) ||
                      (value && strchr(" :@", *s))))
                        return false;
        return true;
}

/* PutAttributes / DeleteAttributes: up to ATTR_MAX attributes, each on a container instance. */
struct attr_item {
        const char *name, *value, *target;   /* value NULL: none (or DeleteAttributes) */
        char key[NAME_MAX_ECS + 64];         /* the target's store key, once loaded */
};
struct attr_change_in {
        const char *cluster;
        size_t n;
        struct attr_item items[ATTR_MAX];
};

static int attr_item_decode(json_t *a, size_t i, bool put, struct attr_item *it, struct err *err)
{
        char path[48];
        const char *type = NULL;
        int r;
        snprintf(path, sizeof path, "attributes[%zu]", i);
        if (!json_is_object(a))
                return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure.", path);
        if ((r = req_str(a, path, "name", true, &it->name, err)) < 0 || (r = req_str(a, path, "value", false, &it->value, err)) < 0 ||
            (r = req_str(a, path, "targetType", false, &type, err)) < 0 || (r = req_str(a, path, "targetId", false, &it->target, err)) < 0)
                return r;
        if (!attr_name_ok(it->name, false))
                return err_set(err, EINVAL, E_PARAM, "%s.name '%s' is not a valid attribute name (1-128 letters, digits, - _ . / \\).",
                               path, it->name);
        if (strncmp(it->name, "ecs.", 4) == 0 || strncmp(it->name, "ecsbox.", 7) == 0)
                return err_set(err, EINVAL, E_PARAM, "%s.name '%s': attributes starting with 'ecs.' (and 'ecsbox.') are reserved.",
                               path, it->name);
        if (put && it->value && !attr_name_ok(it->value, true))
                return err_set(err, EINVAL, E_PARAM, "%s.value '%s' is not a valid attribute value.", path, it->value);
        if (type && strcmp(type, "container-instance") != 0)
                return err_set(err, EINVAL, E_PARAM, "%s.targetType '%s' is not supported: expected container-instance.", path, type);
        if (!it->target)
                return err_set(err, EINVAL, E_PARAM, "%s.targetId is required.", path);
        if (!put)
                it->value = NULL;
        return 0;
}

static int attr_change_decode(json_t *req, bool put, struct attr_change_in *in, struct err *err)
{
        json_t *attrs = NULL, *a;
        size_t i;
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_array(req, NULL, "attributes", true, &attrs, err)) < 0)
                return r;
        if (json_array_size(attrs) == 0 || json_array_size(attrs) > ATTR_MAX)
                return err_set(err, EINVAL, E_PARAM, "attributes must hold 1 to %d attributes.", ATTR_MAX);
        json_array_foreach(attrs, i, a)
                if ((r = attr_item_decode(a, i, put, &in->items[i], err)) < 0)
                        return r;
        in->n = json_array_size(attrs);
        return 0;
}

/* Loads the instance each attribute names; *ret_targets gets {key: record} (one entry per
 * distinct instance). Nothing is changed. */
static int load_targets(struct api_ctx *c, const char *cname, struct attr_change_in *in, json_t **ret_targets, struct err *err)
{
        _cleanup_json_ json_t *targets = json_object();
        int r;
        for (size_t i = 0; i < in->n; i++) {
                struct attr_item *it = &in->items[i];
                json_t *rec = NULL;
                r = instance_get(c->s, cname, it->target, false, &rec, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, E_TARGET_NF, "Could not find attributes[%zu] (container instance '%s' is not in cluster %s).",
                                       i, it->target, cname);
                if (r < 0)
                        return r;
                instance_key(it->key, sizeof it->key, cname, jstr(json_object_get(rec, "ebx"), "id") ?: "");
                if (!json_object_get(targets, it->key))
                        json_object_set_new(targets, it->key, rec);
                else
                        json_decref(rec);
        }
        *ret_targets = json_incref(targets);
        return 0;
}

/* Sets or removes one attribute on its instance's record; the answer's entry. */
static json_t *apply_item(const struct attr_item *it, json_t *rec, bool put)
{
        json_t *list = json_object_get(rec, "attributes"), *x, *o;
        size_t j;
        if (put)
                attr_set(list, it->name, it->value);
        else
                json_array_foreach(list, j, x)
                        if (strcmp(jstr(x, "name") ?: "", it->name) == 0) {
                                json_array_remove(list, j);
                                break;
                        }
        o = json_pack("{s:s, s:s, s:s}", "name", it->name, "targetType", "container-instance", "targetId",
                      jstr(rec, "containerInstanceArn") ?: "");
        if (put && it->value)
                json_object_set_new(o, "value", json_string(it->value));
        return o;
}

static int change(struct api_ctx *c, json_t *req, json_t **ret, bool put, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *targets = NULL, *out = json_array();
        struct attr_change_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        const char *key;
        json_t *rec;
        int r;
        if ((r = attr_change_decode(req, put, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0 ||
            (r = load_targets(c, cname, &in, &targets, err)) < 0)
                return r;
        for (size_t i = 0; i < in.n; i++)
                json_array_append_new(out, apply_item(&in.items[i], json_object_get(targets, in.items[i].key), put));
        if ((r = store_begin(c->s->store, err)) < 0)
                return r;
        json_object_foreach(targets, key, rec)
                if ((r = store_put(c->s->store, key, rec, err)) < 0) {
                        store_rollback(c->s->store);
                        return r;
                }
        if ((r = store_commit(c->s->store, err)) < 0)
                return r;
        log_info("op=%s cluster=%s attributes=%zu instances=%zu", put ? "PutAttributes" : "DeleteAttributes", cname, in.n,
                 json_object_size(targets));
        *ret = json_pack("{s:O}", "attributes", out);
        return 0;
}

int op_put_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return change(c, req, ret, true, err);
}

int op_delete_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return change(c, req, ret, false, err);
}

struct list_attrs_in {
        const char *cluster, *name, *value;  /* name/value NULL: any */
        struct req_page page;
};

static int list_attrs_decode(json_t *req, struct list_attrs_in *in, struct err *err)
{
        const char *type = NULL;
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "targetType", true, &type, err)) < 0 ||
            (r = req_str(req, NULL, "attributeName", false, &in->name, err)) < 0 ||
            (r = req_str(req, NULL, "attributeValue", false, &in->value, err)) < 0)
                return r;
        if (strcmp(type, "container-instance") != 0)
                return err_set(err, EINVAL, E_PARAM, "targetType '%s' is not supported: expected container-instance.", type);
        if (in->value && !in->name)
                return err_set(err, EINVAL, E_PARAM, "attributeValue needs attributeName.");
        return req_page_decode(req, 100, &in->page, err);
}

/* Every matching attribute of the cluster's instances, in order. */
static void matching_attributes(json_t *insts, const struct list_attrs_in *in, json_t *all)
{
        json_t *inst, *a;
        size_t i, j;
        json_array_foreach(insts, i, inst)
                json_array_foreach(json_object_get(inst, "attributes"), j, a) {
                        json_t *o;
                        if (in->name && strcmp(jstr(a, "name") ?: "", in->name) != 0)
                                continue;
                        if (in->value && strcmp(jstr(a, "value") ?: "", in->value) != 0)
                                continue;
                        o = json_pack("{s:s, s:s, s:s}", "name", jstr(a, "name") ?: "", "targetType", "container-instance", "targetId",
                                      jstr(inst, "containerInstanceArn") ?: "");
                        if (jstr(a, "value"))
                                json_object_set_new(o, "value", json_string(jstr(a, "value")));
                        json_array_append_new(all, o);
                }
}

int op_list_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *insts = NULL, *all = json_array(), *page = NULL, *token = NULL, *keys = json_array();
        struct list_attrs_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        json_t *a;
        size_t i;
        int r;
        if ((r = list_attrs_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0 ||
            (r = instance_list(c->s, cname, false, &insts, err)) < 0)
                return r;
        matching_attributes(insts, &in, all);
        /* pages over the indexes of the matches */
        for (i = 0; i < json_array_size(all); i++) {
                char k[16];
                snprintf(k, sizeof k, "%zu", i);
                json_array_append_new(keys, json_string(k));
        }
        if ((r = req_page_take(&in.page, keys, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:[]}", "attributes");
        json_array_foreach(page, i, a)
                json_array_append(json_object_get(*ret, "attributes"), json_array_get(all, (size_t) atoi(json_string_value(a))));
        if (token)
                json_object_set(*ret, "nextToken", token);
        return 0;
}

struct instances_state_in {
        const char *cluster, *status;
        json_t *refs;                        /* 1..10 ids or ARNs */
};

static int instances_state_decode(json_t *req, struct instances_state_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str_list(req, NULL, "containerInstances", true, 10, &in->refs, err)) < 0 ||
            (r = req_str(req, NULL, "status", true, &in->status, err)) < 0)
                return r;
        if (strcmp(in->status, "ACTIVE") != 0 && strcmp(in->status, "DRAINING") != 0)
                return err_set(err, EINVAL, E_PARAM, "Container instances status should be one of [ACTIVE,DRAINING] (got '%s').", in->status);
        return 0;
}

int op_update_container_instances_state(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        struct instances_state_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        const char *status;
        json_t *e;
        size_t i;
        int r;
        if ((r = instances_state_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        status = in.status;
        json_array_foreach(in.refs, i, e) {
                _cleanup_json_ json_t *rec = NULL;
                char key[NAME_MAX_ECS + 64];
                r = instance_get(c->s, cname, json_string_value(e), false, &rec, err);
                if (r == -ENOENT) {
                        char arn[ARN_MAX];
                        err_clear(err);
                        arn_instance(c, cname, json_string_value(e), arn);
                        failure_missing(failures, json_string_value(e), arn);
                        continue;
                }
                if (r < 0)
                        return r;
                if (strcmp(jstr(rec, "status") ?: "", status) != 0) {
                        json_object_set_new(rec, "status", json_string(status));
                        instance_key(key, sizeof key, cname, jstr(json_object_get(rec, "ebx"), "id") ?: "");
                        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                                return r;
                        log_info("op=UpdateContainerInstancesState cluster=%s instance=%s status=%s", cname,
                                 jstr(json_object_get(rec, "ebx"), "id") ?: "", status);
                }
                json_array_append_new(out, instance_shape(c->s, cname, rec));
        }
        *ret = json_pack("{s:O, s:O}", "containerInstances", out, "failures", failures);
        return 0;
}
