/* tags.c: TagResource, UntagResource and ListTagsForResource on the records of clusters,
 * services, tasks, task definitions and container instances (their top-level "tags"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../sched.h"
#include "tags.h"

/* The record an ARN names, as ECS looks it up: ClusterNotFoundException for a cluster that does
 * not exist, InvalidParameterException for an inactive one, ClientException for anything else
 * that is not there (another region or account included). */
static int tagged_record(struct api_ctx *c, const struct arn_resource *res, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        int r;
        if (strcmp(res->region, c->region) != 0 || strcmp(res->account, c->s->account) != 0)
                return err_set(err, ENOENT, E_CLIENT, "The specified resource is not found.");
        if (res->kind != ARN_KIND_TASKDEF) {
                char key[NAME_MAX_ECS + 16];
                _cleanup_json_ json_t *cl = NULL;
                snprintf(key, sizeof key, "cluster/%s", res->cluster);
                r = store_get(c->s->store, key, &cl, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, E_CLUSTER_NF, "Cluster not found.");
                if (r < 0)
                        return r;
                if (strcmp(jstr(cl, "status") ?: "", "ACTIVE") != 0)
                        return err_set(err, EINVAL, E_PARAM, "The specified cluster is inactive. Specify an active cluster and try again.");
                if (res->kind == ARN_KIND_CLUSTER) {
                        *ret = TAKE_PTR(cl);
                        return 0;
                }
        }
        r = store_get(c->s->store, res->key, &rec, err);
        if (r == -ENOENT || (r == 0 && res->kind == ARN_KIND_SERVICE && strcmp(jstr(rec, "status") ?: "", "INACTIVE") == 0))
                return err_set(err, ENOENT, E_CLIENT, "The specified resource is not found.");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rec);
        return 0;
}

static int tags_store(struct api_ctx *c, const struct tag_resource_in *in, json_t *rec, json_t *tags, struct err *err)
{
        if (json_array_size(tags) > TAGS_MAX) {
                json_decref(tags);
                return err_set(err, EINVAL, E_PARAM, "A resource can have at most %d tags: '%s' would have %zu.", TAGS_MAX, in->arn,
                               json_array_size(tags));
        }
        json_object_set_new(rec, "tags", tags);
        return store_put(c->s->store, in->res.key, rec, err);
}

int op_tag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct tag_resource_in in;
        _cleanup_json_ json_t *rec = NULL;
        json_t *tags;
        int r;
        if ((r = tag_resource_decode(req, &in, err)) < 0 || (r = tagged_record(c, &in.res, &rec, err)) < 0)
                return r;
        if (!(tags = tags_merge(json_object_get(rec, "tags"), in.tags)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = tags_store(c, &in, rec, tags, err)) < 0)
                return r;
        log_info("op=TagResource arn=%s tags=%zu", in.arn, json_array_size(in.tags));
        *ret = json_object();
        return 0;
}

int op_untag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct tag_resource_in in;
        _cleanup_json_ json_t *rec = NULL;
        json_t *tags;
        int r;
        if ((r = untag_resource_decode(req, &in, err)) < 0 || (r = tagged_record(c, &in.res, &rec, err)) < 0)
                return r;
        if (!(tags = tags_remove(json_object_get(rec, "tags"), in.keys)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = tags_store(c, &in, rec, tags, err)) < 0)
                return r;
        log_info("op=UntagResource arn=%s keys=%zu", in.arn, json_array_size(in.keys));
        *ret = json_object();
        return 0;
}

int op_list_tags_for_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct tag_resource_in in;
        _cleanup_json_ json_t *rec = NULL;
        json_t *tags;
        int r;
        if ((r = list_tags_decode(req, &in, err)) < 0 || (r = tagged_record(c, &in.res, &rec, err)) < 0)
                return r;
        tags = json_object_get(rec, "tags");
        *ret = json_pack("{s:o}", "tags", json_is_array(tags) ? json_incref(tags) : json_array());
        return 0;
}
