/* tags.c: TagResource, UntagResource, ListTagsForResource on Cloud Map namespaces and services (kept
 * in their records' private part; a tag key given again replaces its value). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../front/req.h"
#include "../sched.h"
#include "sd.h"
#include "sd_req.h"

#define TAGS_MAX 200

/* The record an ARN names (a new reference) and its store key. */
static int resource_load(struct sched *s, json_t *req, json_t **ret, char key[SD_KEY_MAX], struct err *err)
{
        const char *arn = NULL, *slash;
        int r = req_str(req, NULL, "ResourceARN", true, &arn, err);
        if (r < 0) {
                if (strcmp(err->code, "InvalidParameterException") == 0)
                        snprintf(err->code, sizeof err->code, "%s", SD_E_INPUT);
                return r;
        }
        if (strncmp(arn, "arn:aws:servicediscovery:", 25) != 0 || !(slash = strrchr(arn, '/')) || strlen(slash + 1) > 64)
                return err_set(err, EINVAL, SD_E_INPUT, "ResourceARN '%.300s' is not a Cloud Map namespace or service ARN", arn);
        if (strncmp(slash - 9, "namespace", 9) == 0)
                snprintf(key, SD_KEY_MAX, SD_NS_PREFIX "%s", slash + 1);
        else if (strncmp(slash - 7, "service", 7) == 0)
                snprintf(key, SD_KEY_MAX, SD_SVC_PREFIX "%s", slash + 1);
        else
                return err_set(err, EINVAL, SD_E_INPUT, "ResourceARN '%.300s' is not a Cloud Map namespace or service ARN", arn);
        r = store_get(s->store, key, ret, err);
        if (r == -ENOENT || (r == 0 && strcmp(jstr(*ret, "Arn") ?: "", arn) != 0)) {
                if (r == 0)
                        *ret = (json_decref(*ret), NULL);
                return err_set(err, ENOENT, SD_E_RES_NF, "Resource not found: %.300s", arn);
        }
        return r;
}

static json_t *tags_of(json_t *rec)
{
        json_t *ebx = json_object_get(rec, "ebx"), *t = json_object_get(ebx, "tags");
        if (!json_is_array(t)) {
                t = json_array();
                json_object_set_new(ebx, "tags", t);
        }
        return t;
}

int sd_op_tag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        json_t *given = NULL, *tags, *t;
        char key[SD_KEY_MAX];
        size_t i, j;
        int r;
        if ((r = resource_load(c->s, req, &rec, key, err)) < 0)
                return r;
        if ((r = sd_input(req_array(req, NULL, "Tags", true, &given, err), err)) < 0)
                return r;
        tags = tags_of(rec);
        json_array_foreach(given, i, t) {
                const char *k = jstr(t, "Key"), *v = jstr(t, "Value");
                if (!k || !v || !*k || strlen(k) > 128 || strlen(v) > 256)
                        return err_set(err, EINVAL, SD_E_INPUT, "Tags[%zu]: Key (1 to 128 characters) and Value (up to 256) are required", i);
                for (j = json_array_size(tags); j-- > 0;)
                        if (strcmp(jstr(json_array_get(tags, j), "Key") ?: "", k) == 0)
                                json_array_remove(tags, j);
                json_array_append_new(tags, json_pack("{s:s, s:s}", "Key", k, "Value", v));
        }
        if (json_array_size(tags) > TAGS_MAX)
                return err_set(err, EINVAL, SD_E_TAGS, "A resource can have at most %d tags", TAGS_MAX);
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        *ret = json_object();
        return 0;
}

int sd_op_untag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        json_t *keys = NULL, *tags, *k;
        char key[SD_KEY_MAX];
        size_t i, j;
        int r;
        if ((r = resource_load(c->s, req, &rec, key, err)) < 0)
                return r;
        if ((r = sd_input(req_str_list(req, NULL, "TagKeys", true, 200, &keys, err), err)) < 0)
                return r;
        tags = tags_of(rec);
        json_array_foreach(keys, i, k)
                for (j = json_array_size(tags); j-- > 0;)
                        if (strcmp(jstr(json_array_get(tags, j), "Key") ?: "", json_string_value(k)) == 0)
                                json_array_remove(tags, j);
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        *ret = json_object();
        return 0;
}

int sd_op_list_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        char key[SD_KEY_MAX];
        int r;
        if ((r = resource_load(c->s, req, &rec, key, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "Tags", tags_of(rec));
        return 0;
}
