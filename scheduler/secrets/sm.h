/* sm.h: the operation tables of sm.c (Secrets Manager) and ssm.c (SSM); api.c picks one by the target's prefix. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct api_ctx;

int sm_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);
int ssm_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);
