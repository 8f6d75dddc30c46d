/* tags.c: AddTags, RemoveTags, DescribeTags on load balancers, target groups, listeners and rules (kept
 * in each record's ebx.tags; a key given again replaces its value). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/store.h"
#include "../sched.h"
#include "elb_int.h"

#define TAGS_MAX 50
#define ARNS_MAX 20

static int kind_of(const char *arn, enum elb_kind *ret, struct err *err)
{
        const char *res = NULL;
        int colons = 0;
        for (const char *p = arn ? arn : ""; *p; p++)
                if (*p == ':' && ++colons == 5) {
                        res = p + 1;
                        break;
                }
        if (res && !strncmp(res, "loadbalancer/", 13))
                *ret = ELB_LB;
        else if (res && !strncmp(res, "targetgroup/", 12))
                *ret = ELB_TG;
        else if (res && !strncmp(res, "listener/", 9))
                *ret = ELB_LISTENER;
        else if (res && !strncmp(res, "listener-rule/", 14))
                *ret = ELB_RULE;
        else
                return err_set(err, EINVAL, ELB_E_VALIDATION, "'%.300s' is not a valid Elastic Load Balancing resource ARN", arn ? arn : "");
        return 0;
}

static int arns_get(json_t *req, json_t **ret, struct err *err)
{
        json_t *arns = json_object_get(req, "ResourceArns");
        if (json_array_size(arns) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "ResourceArns must contain at least one ARN");
        if (json_array_size(arns) > ARNS_MAX)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "ResourceArns takes at most %d ARNs", ARNS_MAX);
        *ret = arns;
        return 0;
}

/* Calls fn on each resource's record and stores it. */
static int each_resource(struct api_ctx *c, json_t *arns, json_t *arg, int (*fn)(json_t *rec, json_t *arg, struct err *err), struct err *err)
{
        json_t *v;
        size_t i;
        int r;
        json_array_foreach(arns, i, v) {
                _cleanup_json_ json_t *rec = NULL;
                char key[ELB_KEY_MAX];
                enum elb_kind kind;
                if ((r = kind_of(json_string_value(v), &kind, err)) < 0 ||
                    (r = elb_get(c->s, kind, json_string_value(v), &rec, key, err)) < 0 || (r = fn(rec, arg, err)) < 0 ||
                    (r = store_put(c->s->store, key, rec, err)) < 0)
                        return r;
        }
        return 0;
}

static int tags_add(json_t *rec, json_t *given, struct err *err)
{
        json_t *tags = elb_tags(rec), *t;
        size_t i, j;
        json_array_foreach(given, i, t) {
                const char *k = jstr(t, "Key");
                for (j = json_array_size(tags); j-- > 0;)
                        if (!strcmp(jstr(json_array_get(tags, j), "Key") ?: "", k))
                                json_array_remove(tags, j);
                json_t *o = json_pack("{s:s}", "Key", k);
                if (jstr(t, "Value"))
                        json_object_set_new(o, "Value", json_string(jstr(t, "Value")));
                json_array_append_new(tags, o);
        }
        if (json_array_size(tags) > TAGS_MAX)
                return err_set(err, EINVAL, ELB_E_TAGS, "A resource takes at most %d tags", TAGS_MAX);
        return 0;
}

static int tags_remove(json_t *rec, json_t *keys, struct err *err)
{
        json_t *tags = elb_tags(rec), *k;
        size_t i, j;
        json_array_foreach(keys, i, k)
                for (j = json_array_size(tags); j-- > 0;)
                        if (!strcmp(jstr(json_array_get(tags, j), "Key") ?: "", json_string_value(k) ?: ""))
                                json_array_remove(tags, j);
        return 0;
}

int elb_op_add_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *arns = NULL, *tags = json_object_get(req, "Tags");
        int r;
        if ((r = arns_get(req, &arns, err)) < 0)
                return r;
        if (json_array_size(tags) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Tags must contain at least one tag");
        if ((r = elb_tags_check(tags, err)) < 0 || (r = each_resource(c, arns, tags, tags_add, err)) < 0)
                return r;
        *ret = json_object();
        return 0;
}

int elb_op_remove_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *arns = NULL, *keys = json_object_get(req, "TagKeys");
        int r;
        if ((r = arns_get(req, &arns, err)) < 0)
                return r;
        if (json_array_size(keys) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TagKeys must contain at least one key");
        if ((r = each_resource(c, arns, keys, tags_remove, err)) < 0)
                return r;
        *ret = json_object();
        return 0;
}

int elb_op_describe_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *arns = NULL, *v;
        _cleanup_json_ json_t *out = json_array();
        size_t i;
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = arns_get(req, &arns, err)) < 0)
                return r;
        json_array_foreach(arns, i, v) {
                _cleanup_json_ json_t *rec = NULL;
                enum elb_kind kind;
                if ((r = kind_of(json_string_value(v), &kind, err)) < 0 || (r = elb_get(c->s, kind, json_string_value(v), &rec, NULL, err)) < 0)
                        return r;
                json_array_append_new(out, json_pack("{s:O, s:O}", "ResourceArn", v, "Tags", elb_tags(rec)));
        }
        *ret = json_pack("{s:O}", "TagDescriptions", out);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}
