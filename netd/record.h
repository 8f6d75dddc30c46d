/* record.h: netd's records in the store: keys ("kind/id"), reading members, listing a kind. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct netd;

#define KEY_MAX 128

/* "kind/id": vpc/ID, subnet/ID, eni/ID, sg/ID, fl/ID, mac/MAC, netns/NAME. */
void key_fmt(char buf[KEY_MAX], const char *kind, const char *id);

/* A string member of a record, NULL when absent or not a string (o may be NULL). */
static inline const char *rec_str(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

/* Every record under a key prefix ("eni/", "sg/", "vpc/"): a new array, NULL on error. */
json_t *netd_records(struct netd *d, const char *prefix, struct err *err);

/* Start-up: delete every record under prefix for which keep(d, key, value, ud) is false, each logged
 * ("released record of a vanished WHAT"). Returns how many, or < 0 when the records cannot be read. */
typedef bool (*record_keep_fn)(struct netd *d, const char *key, json_t *value, void *ud);
int records_sweep(struct netd *d, const char *prefix, record_keep_fn keep, void *ud, const char *what, struct err *err);
/* A record_keep_fn: the record's NetworkInterfaceId names a stored ENI. */
bool record_eni_exists(struct netd *d, const char *key, json_t *value, void *ud);

/* The record kind/id (a new reference): -ENOENT when id is NULL or there is none; no error text, for
 * start-up and internal lookups (the API's lookups are vpc_load, subnet_load ... with EC2 codes). */
int record_load(struct netd *d, const char *kind, const char *id, json_t **ret);
/* Delete the record kind/id (absent is not an error). */
int record_del(struct netd *d, const char *kind, const char *id, struct err *err);
