/* api.h: the images service of ecsboxd (an ecsbox extension, X-Amz-Target EcsboxImages_20261201.*):
 * PullImage, ImportImage, ListPulls, ListImages, RemoveImage, PruneImages (docs/images.md). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

#define IMGSVC_TARGET_PREFIX "EcsboxImages_20261201."

struct api_ctx;

/* Runs op (without the prefix); errors in err with the JSON 1.1 __type as code. */
int imgsvc_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);
