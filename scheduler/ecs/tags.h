/* tags.h: tags of ECS resources: TagResource, UntagResource, ListTagsForResource, the tag lists
 * the create calls keep, propagateTags and ECS managed tags. Every taggable record keeps its
 * tags as a top-level "tags" array of {key, value}. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"
#include "arn.h"

struct api_ctx;

#define TAGS_MAX 50

struct tag_resource_in {
        const char *arn;
        struct arn_resource res;
        json_t *tags;                        /* TagResource: [{key, value}], borrowed */
        json_t *keys;                        /* UntagResource: tagKeys, borrowed */
};
/* Pure decoders: resourceArn parsed, tags/tagKeys checked (limits, the aws: prefix). */
int tag_resource_decode(json_t *req, struct tag_resource_in *ret, struct err *err);
int untag_resource_decode(json_t *req, struct tag_resource_in *ret, struct err *err);
int list_tags_decode(json_t *req, struct tag_resource_in *ret, struct err *err);

/* A new tag list: have with add merged in (a key in add replaces the same key in have, new keys
 * are appended in order). NULL on ENOMEM. */
json_t *tags_merge(json_t *have, json_t *add);
/* A new tag list: have without the keys (strings) in keys. */
json_t *tags_remove(json_t *have, json_t *keys);

/* propagateTags: NONE, TASK_DEFINITION or SERVICE (services only); NULL when absent. */
int tags_propagate_check(const char *v, bool service_allowed, struct err *err);

int op_tag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_untag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_tags_for_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
