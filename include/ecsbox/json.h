/* json.h: jansson helpers: cleanup, typed and validated member access. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/err.h"

/* jansson >= 2.9 provides json_decrefp() for json_auto_t; reuse it. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Error codes used by these helpers (EC2 names; ecsboxd maps them to ECS types). */
#define JERR_MISSING "MissingParameter"
#define JERR_INVALID "InvalidParameterValue"
#define JERR_UNKNOWN "UnknownParameter"

/* Each getter: absent key -> 0 and *ret untouched when !required, else
 * MissingParameter; wrong type or out of range -> InvalidParameterValue with a
 * message naming the key. Returns 1 when present, 0 when absent, <0 on error. */
int json_get_string(json_t *obj, const char *key, bool required, const char **ret, struct err *err);
int json_get_int(json_t *obj, const char *key, bool required, long long min, long long max,
                 long long *ret, struct err *err);
int json_get_bool(json_t *obj, const char *key, bool required, bool *ret, struct err *err);
int json_get_array(json_t *obj, const char *key, bool required, json_t **ret, struct err *err);
int json_get_object(json_t *obj, const char *key, bool required, json_t **ret, struct err *err);

/* Fail with UnknownParameter naming the first member not in allowed (NULL-terminated). */
int json_check_keys(json_t *obj, const char *const *allowed, struct err *err);

/* Lenient reads of documents already validated (stored records, netd answers): a string
 * member or NULL; an integer member or dflt. */
const char *jstr(json_t *o, const char *key);
long long jint(json_t *o, const char *key, long long dflt);
/* The first object of array whose string member key equals value, or NULL (borrowed). */
json_t *jfind(json_t *array, const char *key, const char *value);
/* Epoch seconds as a JSON number rounded to the millisecond (AWS timestamps). */
json_t *jtime(double t);

/* json_object_set_new that ignores NULL values (absent members are left out). */
void json_set(json_t *obj, const char *key, json_t *val);
