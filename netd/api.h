/* api.h: netd's socket API: one JSON request per line, dispatched by Action, EC2-style errors. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "ecsbox/err.h"

struct netd;

#define NETD_REQUEST_MAX (1024 * 1024)   /* a request line longer than this closes the connection */

int netd_dispatch(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* One request line -> its answer (a new object: the result, or {"Error": {Code, Message}}). */
json_t *netd_handle_line(struct netd *d, const char *line, size_t len);
