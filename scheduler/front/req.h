/* req.h: typed decoding of request members for the operations' decoders. Messages name the
 * member's path; a member of the wrong JSON type is a SerializationException, a missing or
 * out-of-range one an InvalidParameterException. Each returns 1 when present, 0 when absent
 * (*ret untouched), < 0 on error. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"

int req_str(json_t *o, const char *path, const char *key, bool required, const char **ret, struct err *err);
int req_int(json_t *o, const char *path, const char *key, bool required, long long min, long long max, long long *ret,
            struct err *err);
int req_bool(json_t *o, const char *path, const char *key, bool required, bool *ret, struct err *err);
int req_array(json_t *o, const char *path, const char *key, bool required, json_t **ret, struct err *err);
int req_object(json_t *o, const char *path, const char *key, bool required, json_t **ret, struct err *err);
/* An array of strings, at most max entries (0 = any). */
int req_str_list(json_t *o, const char *path, const char *key, bool required, size_t max, json_t **ret,
                 struct err *err);
/* tags: [{key, value}] (at most 50), echoed as given. */
int req_tags(json_t *o, const char *key, json_t **ret, struct err *err);
/* The maxResults/nextToken of a List* request, checked. */
struct req_page {
        long long max;                       /* maxResults, 1..100 */
        const char *token;                   /* nextToken as given, or NULL */
        size_t offset;                       /* where the page starts */
};
int req_page_decode(json_t *req, int default_max, struct req_page *ret, struct err *err);
/* One page of a list of strings: *ret gets a new array with the page and *ret_token a new string or NULL. */
int req_page_take(const struct req_page *pg, json_t *all, json_t **ret, json_t **ret_token, struct err *err);
/* req_page_decode then req_page_take. */
int req_page(json_t *req, json_t *all, int default_max, json_t **ret, json_t **ret_token, struct err *err);
/* Whether include[] holds "TAGS". */
bool req_include_tags(json_t *req);
/* Unknown member names: InvalidParameterException "Unknown parameter in input: "K"." (allowed is NULL-terminated). */
int req_check_keys(json_t *req, const char *const *allowed, struct err *err);
/* A hash of a request without its clientToken, to tell a repeat from a different request. */
void req_hash(json_t *req, char buf[20]);
