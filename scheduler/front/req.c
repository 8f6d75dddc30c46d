/* req.c: typed access to ECS request members, paging and tags, with ECS error types.
 * A member of the wrong JSON type is a SerializationException (the service could
 * not deserialize it); a missing or out-of-range value an InvalidParameterException. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stdint.h>

#include "ecsbox/json.h"
#include "../ecs/ecs.h"
#include "req.h"

static void member_path(char *buf, size_t size, const char *path, const char *key)
{
        if (path && *path)
                snprintf(buf, size, "%s.%s", path, key);
        else
                snprintf(buf, size, "%s", key);
}

static const char *type_name(json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "a structure";
        case JSON_ARRAY: return "a list";
        case JSON_STRING: return "a string";
        case JSON_INTEGER: return "an integer";
        case JSON_REAL: return "a number with a fraction";
        case JSON_TRUE: case JSON_FALSE: return "a boolean";
        default: return "null";
        }
}

static int wrong_type(json_t *v, const char *path, const char *key, const char *want, struct err *err)
{
        char p[256];
        member_path(p, sizeof p, path, key);
        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected %s, got %s", p, want,
                       type_name(v));
}

static int absent(const char *path, const char *key, bool required, struct err *err)
{
        char p[256];
        if (!required)
                return 0;
        member_path(p, sizeof p, path, key);
        return err_set(err, EINVAL, E_PARAM, "Missing required parameter: %s", p);
}

int req_str(json_t *o, const char *path, const char *key, bool required, const char **ret, struct err *err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return absent(path, key, required, err);
        if (!json_is_string(v))
                return wrong_type(v, path, key, "a string", err);
        *ret = json_string_value(v);
        return 1;
}

int req_int(json_t *o, const char *path, const char *key, bool required, long long min, long long max, long long *ret,
            struct err *err)
{
        json_t *v = json_object_get(o, key);
        char p[256];
        long long x;
        if (!v || json_is_null(v))
                return absent(path, key, required, err);
        if (!json_is_integer(v))
                return wrong_type(v, path, key, "an integer", err);
        x = json_integer_value(v);
        if (x < min || x > max) {
                member_path(p, sizeof p, path, key);
                return err_set(err, ERANGE, E_PARAM, "Invalid value %lld for %s: must be between %lld and %lld", x,
                               p, min, max);
        }
        *ret = x;
        return 1;
}

int req_bool(json_t *o, const char *path, const char *key, bool required, bool *ret, struct err *err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return absent(path, key, required, err);
        if (!json_is_boolean(v))
                return wrong_type(v, path, key, "a boolean", err);
        *ret = json_is_true(v);
        return 1;
}

int req_array(json_t *o, const char *path, const char *key, bool required, json_t **ret, struct err *err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return absent(path, key, required, err);
        if (!json_is_array(v))
                return wrong_type(v, path, key, "a list", err);
        *ret = v;
        return 1;
}

int req_object(json_t *o, const char *path, const char *key, bool required, json_t **ret, struct err *err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return absent(path, key, required, err);
        if (!json_is_object(v))
                return wrong_type(v, path, key, "a structure", err);
        *ret = v;
        return 1;
}

int req_str_list(json_t *o, const char *path, const char *key, bool required, size_t max, json_t **ret,
                 struct err *err)
{
        json_t *a = NULL, *e;
        char p[256], ep[300];
        size_t i;
        int r = req_array(o, path, key, required, &a, err);
        if (r <= 0)
                return r;
        member_path(p, sizeof p, path, key);
        if (max && json_array_size(a) > max)
                return err_set(err, EINVAL, E_PARAM, "%s can hold at most %zu entries (got %zu)", p, max,
                               json_array_size(a));
        json_array_foreach(a, i, e)
                if (!json_is_string(e)) {
                        snprintf(ep, sizeof ep, "%s[%zu]", p, i);
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a string, got %s",
                                       ep, type_name(e));
                }
        *ret = a;
        return 1;
}

int req_tags(json_t *o, const char *key, json_t **ret, struct err *err)
{
        json_t *a = NULL, *t;
        size_t i;
        int r = req_array(o, NULL, key, false, &a, err);
        if (r <= 0)
                return r;
        if (json_array_size(a) > 50)
                return err_set(err, EINVAL, E_PARAM, "A resource can have at most 50 tags (got %zu)", json_array_size(a));
        json_array_foreach(a, i, t) {
                char p[64];
                const char *k = NULL, *v = NULL;
                snprintf(p, sizeof p, "%s[%zu]", key, i);
                if (!json_is_object(t))
                        return wrong_type(t, NULL, p, "a structure", err);
                if ((r = req_str(t, p, "key", true, &k, err)) < 0 || (r = req_str(t, p, "value", false, &v, err)) < 0)
                        return r;
                if (strlen(k) < 1 || strlen(k) > 128)
                        return err_set(err, EINVAL, E_PARAM, "Tag keys must be 1 to 128 characters long (%s.key)", p);
                /* ECS reserves the aws: prefix (any case) for the tags it sets itself. */
                if (strncasecmp(k, "aws:", 4) == 0)
                        return err_set(err, EINVAL, E_PARAM,
                                       "Invalid tag key '%.128s' (%s.key): the aws: prefix is reserved for AWS use.", k, p);
                if (v && strlen(v) > 256)
                        return err_set(err, EINVAL, E_PARAM, "Tag values must be at most 256 characters long (%s.value)", p);
        }
        *ret = a;
        return 1;
}

/* nextToken is "ebx1.<offset>": opaque to clients, which only hand it back. */
int req_page_decode(json_t *req, int default_max, struct req_page *ret, struct err *err)
{
        struct req_page pg = { .max = default_max };
        int r;
        if ((r = req_int(req, NULL, "maxResults", false, 1, 100, &pg.max, err)) < 0 ||
            (r = req_str(req, NULL, "nextToken", false, &pg.token, err)) < 0)
                return r;
        if (pg.token && *pg.token) {
                char *end;
                long long off;
                if (strncmp(pg.token, "ebx1.", 5) != 0)
                        return err_set(err, EINVAL, E_PARAM, "Invalid nextToken '%.64s'", pg.token);
                errno = 0;
                off = strtoll(pg.token + 5, &end, 10);
                if (errno || *end || off < 0)
                        return err_set(err, EINVAL, E_PARAM, "Invalid nextToken '%.64s'", pg.token);
                pg.offset = (size_t) off;
        }
        *ret = pg;
        return 0;
}

int req_page_take(const struct req_page *pg, json_t *all, json_t **ret, json_t **ret_token, struct err *err)
{
        size_t n = json_array_size(all), off = pg->offset;
        json_t *page = json_array();
        if (!page)
                return err_set(err, ENOMEM, NULL, "out of memory");
        for (size_t i = off; i < n && (long long) (i - off) < pg->max; i++)
                json_array_append(page, json_array_get(all, i));
        *ret_token = NULL;
        if (off + json_array_size(page) < n) {
                char t[40];
                snprintf(t, sizeof t, "ebx1.%zu", off + json_array_size(page));
                *ret_token = json_string(t);
        }
        *ret = page;
        return 0;
}

int req_page(json_t *req, json_t *all, int default_max, json_t **ret, json_t **ret_token, struct err *err)
{
        struct req_page pg;
        int r;
        if ((r = req_page_decode(req, default_max, &pg, err)) < 0)
                return r;
        return req_page_take(&pg, all, ret, ret_token, err);
}

bool req_include_tags(json_t *req)
{
        json_t *inc = json_object_get(req, "include"), *e;
        size_t i;
        json_array_foreach(inc, i, e)
                if (json_is_string(e) && strcmp(json_string_value(e), "TAGS") == 0)
                        return true;
        return false;
}

/* FNV-1a over the canonical request without its clientToken: "same parameters" (RunTask's
 * clientToken, CreateService's idempotence). */
void req_hash(json_t *req, char buf[20])
{
        _cleanup_json_ json_t *copy = json_deep_copy(req);
        _cleanup_free_ char *txt = NULL;
        uint64_t h = 0xcbf29ce484222325ull;
        json_object_del(copy, "clientToken");
        txt = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
        for (const char *p = txt ? txt : ""; *p; p++) {
                h ^= (unsigned char) *p;
                h *= 0x100000001b3ull;
        }
        snprintf(buf, 20, "%016llx", (unsigned long long) h);
}

int req_check_keys(json_t *req, const char *const *allowed, struct err *err)
{
        const char *k;
        json_t *v;
        json_object_foreach(req, k, v) {
                size_t i;
                for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
                        ;
                if (!allowed[i])
                        return err_set(err, EINVAL, E_PARAM, "Unknown parameter in input: \"%s\".", k);
        }
        return 0;
}
