/* attributes.c: custom attributes on container instances (PutAttributes, DeleteAttributes,
 * ListAttributes) and UpdateContainerInstancesState (ACTIVE <-> DRAINING). Placement reads the
 * attributes through the cluster query language (memberOf) and skips DRAINING instances. */
#include <errno.h>
#include <stdio.h>
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

/* Checks every attribute of the request and loads the instance each names; *ret_targets gets
 * [{key, rec}] in request order (one entry per distinct instance). Nothing is changed. */
static int load_targets(struct api_ctx *c, const char *cname, json_t *attrs, bool put, json_t **ret_targets, struct err *err)
{
        _cleanup_json_ json_t *targets = json_object();
        json_t *a;
        size_t i;
        int r;
        if (json_array_size(attrs) == 0 || json_array_size(attrs) > ATTR_MAX)
                return err_set(err, EINVAL, E_PARAM, "attributes must hold 1 to %d attributes.", ATTR_MAX);
        json_array_foreach(attrs, i, a) {
                char path[48], key[NAME_MAX_ECS + 64];
                const char *name = NULL, *value = NULL, *type = NULL, *target = NULL;
                json_t *rec = NULL;
                snprintf(path, sizeof path, "attributes[%zu]", i);
                if (!json_is_object(a))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure.", path);
                if ((r = req_str(a, path, "name", true, &name, err)) < 0 || (r = req_str(a, path, "value", false, &value, err)) < 0 ||
                    (r = req_str(a, path, "targetType", false, &type, err)) < 0 ||
                    (r = req_str(a, path, "targetId", false, &target, err)) < 0)
                        return r;
                if (!attr_name_ok(name, false))
                        return err_set(err, EINVAL, E_PARAM, "%s.name '%s' is not a valid attribute name (1-128 letters, digits, - _ . / \\).",
                                       path, name);
                if (strncmp(name, "ecs.", 4) == 0 || strncmp(name, "ecsbox.", 7) == 0)
                        return err_set(err, EINVAL, E_PARAM, "%s.name '%s': attributes starting with 'ecs.' (and 'ecsbox.') are reserved.",
                                       path, name);
                if (put && value && !attr_name_ok(value, true))
                        return err_set(err, EINVAL, E_PARAM, "%s.value '%s' is not a valid attribute value.", path, value);
                if (type && strcmp(type, "container-instance") != 0)
                        return err_set(err, EINVAL, E_PARAM, "%s.targetType '%s' is not supported: expected container-instance.", path, type);
                if (!target)
                        return err_set(err, EINVAL, E_PARAM, "%s.targetId is required.", path);
                r = instance_get(c->s, cname, target, false, &rec, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, E_TARGET_NF, "Could not find %s (container instance '%s' is not in cluster %s).",
                                       path, target, cname);
                if (r < 0)
                        return r;
                instance_key(key, sizeof key, cname, jstr(json_object_get(rec, "ebx"), "id") ?: "");
                if (!json_object_get(targets, key))
                        json_object_set_new(targets, key, rec);
                else
                        json_decref(rec);
        }
        *ret_targets = json_incref(targets);
        return 0;
}

static int change(struct api_ctx *c, json_t *req, json_t **ret, bool put, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *targets = NULL, *out = json_array();
        char cname[NAME_MAX_ECS + 1];
        json_t *attrs = NULL, *a, *rec;
        const char *key;
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_array(req, NULL, "attributes", true, &attrs, err)) < 0 ||
            (r = load_targets(c, cname, attrs, put, &targets, err)) < 0)
                return r;
        json_array_foreach(attrs, i, a) {
                char k[NAME_MAX_ECS + 64], arn[ARN_MAX];
                json_t *target = NULL;
                rec = NULL;
                if (instance_get(c->s, cname, jstr(a, "targetId"), false, &target, NULL) < 0)
                        continue;
                instance_key(k, sizeof k, cname, jstr(json_object_get(target, "ebx"), "id") ?: "");
                json_decref(target);
                rec = json_object_get(targets, k);
                if (put)
                        attr_set(json_object_get(rec, "attributes"), jstr(a, "name"), jstr(a, "value"));
                else {
                        json_t *list = json_object_get(rec, "attributes"), *x;
                        size_t j;
                        json_array_foreach(list, j, x)
                                if (strcmp(jstr(x, "name") ?: "", jstr(a, "name")) == 0) {
                                        json_array_remove(list, j);
                                        break;
                                }
                }
                snprintf(arn, sizeof arn, "%s", jstr(rec, "containerInstanceArn") ?: "");
                json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "name", jstr(a, "name"), "targetType", "container-instance",
                                                     "targetId", arn));
                if (put && jstr(a, "value"))
                        json_object_set_new(json_array_get(out, json_array_size(out) - 1), "value", json_string(jstr(a, "value")));
        }
        if ((r = store_begin(c->s->store, err)) < 0)
                return r;
        json_object_foreach(targets, key, rec)
                if ((r = store_put(c->s->store, key, rec, err)) < 0) {
                        store_rollback(c->s->store);
                        return r;
                }
        if ((r = store_commit(c->s->store, err)) < 0)
                return r;
        log_info("op=%s cluster=%s attributes=%zu instances=%zu", put ? "PutAttributes" : "DeleteAttributes", cname, json_array_size(attrs),
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

int op_list_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *insts = NULL, *all = json_array(), *page = NULL, *token = NULL, *keys = json_array();
        const char *type = NULL, *name = NULL, *value = NULL;
        char cname[NAME_MAX_ECS + 1];
        json_t *inst, *a;
        size_t i, j;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str(req, NULL, "targetType", true, &type, err)) < 0 ||
            (r = req_str(req, NULL, "attributeName", false, &name, err)) < 0 ||
            (r = req_str(req, NULL, "attributeValue", false, &value, err)) < 0)
                return r;
        if (strcmp(type, "container-instance") != 0)
                return err_set(err, EINVAL, E_PARAM, "targetType '%s' is not supported: expected container-instance.", type);
        if (value && !name)
                return err_set(err, EINVAL, E_PARAM, "attributeValue needs attributeName.");
        if ((r = instance_list(c->s, cname, false, &insts, err)) < 0)
                return r;
        json_array_foreach(insts, i, inst)
                json_array_foreach(json_object_get(inst, "attributes"), j, a) {
                        if (name && strcmp(jstr(a, "name") ?: "", name) != 0)
                                continue;
                        if (value && strcmp(jstr(a, "value") ?: "", value) != 0)
                                continue;
                        {
                                json_t *o = json_pack("{s:s, s:s, s:s}", "name", jstr(a, "name") ?: "", "targetType", "container-instance",
                                                      "targetId", jstr(inst, "containerInstanceArn") ?: "");
                                char k[16];
                                if (jstr(a, "value"))
                                        json_object_set_new(o, "value", json_string(jstr(a, "value")));
                                snprintf(k, sizeof k, "%zu", json_array_size(all));
                                json_array_append_new(keys, json_string(k));
                                json_array_append_new(all, o);
                        }
                }
        if ((r = req_page(req, keys, 100, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:[]}", "attributes");
        json_array_foreach(page, i, a)
                json_array_append(json_object_get(*ret, "attributes"), json_array_get(all, (size_t) atoi(json_string_value(a))));
        if (token)
                json_object_set(*ret, "nextToken", token);
        return 0;
}

int op_update_container_instances_state(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        char cname[NAME_MAX_ECS + 1];
        const char *status = NULL;
        json_t *refs = NULL, *e;
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str_list(req, NULL, "containerInstances", true, 10, &refs, err)) < 0 ||
            (r = req_str(req, NULL, "status", true, &status, err)) < 0)
                return r;
        if (strcmp(status, "ACTIVE") != 0 && strcmp(status, "DRAINING") != 0)
                return err_set(err, EINVAL, E_PARAM, "Container instances status should be one of [ACTIVE,DRAINING] (got '%s').", status);
        json_array_foreach(refs, i, e) {
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
