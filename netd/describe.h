/* describe.h: what the Describe* operations share: Filters matched, and one walk over a kind's records
 * (their requests are decoded with req.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;

/* true when obj passes every filter (decoded by req_filters); values(obj, name) returns the object's values for a filter name (a new array). */
bool filters_match(json_t *filters, json_t *(*values)(json_t *obj, const char *name), json_t *obj);

/* The records under "prefix/" whose id_key is in ids (all when ids is empty) and that pass the filters,
 * each through shape(): a new array in *ret. Every id in ids must exist (EC2 fails the call otherwise:
 * notfound_code, "The KIND 'ID' does not exist"). */
int describe_objects(struct netd *d, const char *prefix, const char *id_key, json_t *ids, json_t *filters,
                     json_t *(*values)(json_t *, const char *), json_t *(*shape)(struct netd *, json_t *),
                     const char *notfound_code, const char *kind, json_t **ret, struct err *err);
