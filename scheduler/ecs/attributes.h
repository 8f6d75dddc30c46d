/* attributes.h: custom attributes of container instances and their state (ACTIVE, DRAINING). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct api_ctx;

int op_put_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_update_container_instances_state(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
