/* tags_req.c: the pure part of tagging: the requests of TagResource, UntagResource and
 * ListTagsForResource, merging and removing tags, propagateTags values. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "tags.h"

static int resource_arn_decode(json_t *req, struct tag_resource_in *ret, struct err *err)
{
        int r;
        if ((r = req_str(req, NULL, "resourceArn", true, &ret->arn, err)) < 0)
                return r;
        return arn_resource_parse(ret->arn, &ret->res, err);
}

int tag_resource_decode(json_t *req, struct tag_resource_in *ret, struct err *err)
{
        static const char *const keys[] = { "resourceArn", "tags", NULL };
        int r;
        memset(ret, 0, sizeof *ret);
        if ((r = req_check_keys(req, keys, err)) < 0 || (r = resource_arn_decode(req, ret, err)) < 0 ||
            (r = req_tags(req, "tags", &ret->tags, err)) < 0)
                return r;
        if (!ret->tags)
                return err_set(err, EINVAL, E_PARAM, "Missing required parameter: tags");
        return 0;
}

int untag_resource_decode(json_t *req, struct tag_resource_in *ret, struct err *err)
{
        static const char *const keys[] = { "resourceArn", "tagKeys", NULL };
        json_t *k;
        size_t i;
        int r;
        memset(ret, 0, sizeof *ret);
        if ((r = req_check_keys(req, keys, err)) < 0 || (r = resource_arn_decode(req, ret, err)) < 0 ||
            (r = req_str_list(req, NULL, "tagKeys", true, TAGS_MAX, &ret->keys, err)) < 0)
                return r;
        json_array_foreach(ret->keys, i, k) {
                size_t n = strlen(json_string_value(k));
                if (n < 1 || n > 128)
                        return err_set(err, EINVAL, E_PARAM, "Tag keys must be 1 to 128 characters long (tagKeys[%zu])", i);
                if (strncasecmp(json_string_value(k), "aws:", 4) == 0)
                        return err_set(err, EINVAL, E_PARAM,
                                       "Invalid tag key '%.128s' (tagKeys[%zu]): the aws: prefix is reserved for AWS use.",
                                       json_string_value(k), i);
        }
        return 0;
}

int list_tags_decode(json_t *req, struct tag_resource_in *ret, struct err *err)
{
        static const char *const keys[] = { "resourceArn", NULL };
        int r;
        memset(ret, 0, sizeof *ret);
        if ((r = req_check_keys(req, keys, err)) < 0)
                return r;
        return resource_arn_decode(req, ret, err);
}

static json_t *tag_new(const char *k, const char *v)
{
        return json_pack("{s:s, s:s}", "key", k, "value", v ? v : "");
}

json_t *tags_merge(json_t *have, json_t *add)
{
        json_t *out = json_array(), *t, *u;
        size_t i, j;
        if (!out)
                return NULL;
        json_array_foreach(have, i, t) {
                const char *k = jstr(t, "key");
                const char *v = jstr(t, "value");
                if (!k)
                        continue;
                json_array_foreach(add, j, u)
                        if (strcmp(jstr(u, "key") ?: "", k) == 0)
                                v = jstr(u, "value");
                if (json_array_append_new(out, tag_new(k, v)) < 0)
                        return json_decref(out), NULL;
        }
        json_array_foreach(add, i, u) {
                const char *k = jstr(u, "key");
                bool seen = false;
                if (!k)
                        continue;
                json_array_foreach(out, j, t)
                        if (strcmp(jstr(t, "key"), k) == 0) {
                                /* a key given twice in one request: the last value wins */
                                json_object_set_new(t, "value", json_string(jstr(u, "value") ?: ""));
                                seen = true;
                        }
                if (!seen && json_array_append_new(out, tag_new(k, jstr(u, "value"))) < 0)
                        return json_decref(out), NULL;
        }
        return out;
}

json_t *tags_remove(json_t *have, json_t *keys)
{
        json_t *out = json_array(), *t, *k;
        size_t i, j;
        if (!out)
                return NULL;
        json_array_foreach(have, i, t) {
                bool drop = false;
                json_array_foreach(keys, j, k)
                        if (strcmp(jstr(t, "key") ?: "", json_string_value(k) ?: "") == 0)
                                drop = true;
                if (!drop)
                        json_array_append(out, t);
        }
        return out;
}

int tags_propagate_check(const char *v, bool service_allowed, struct err *err)
{
        if (!v || strcmp(v, "NONE") == 0 || strcmp(v, "TASK_DEFINITION") == 0 || (service_allowed && strcmp(v, "SERVICE") == 0))
                return 0;
        return err_set(err, EINVAL, E_PARAM, "Invalid propagateTags '%.64s': expected %s.", v,
                       service_allowed ? "TASK_DEFINITION, SERVICE or NONE" : "TASK_DEFINITION or NONE");
}
