/* json.c: typed, validated access to request members with errors that name the member;
 * lenient accessors for documents already validated. */
#include <errno.h>
#include <string.h>

#include "ecsbox/json.h"

static int absent(const char *key, bool required, struct err *err)
{
        if (required)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter %s", key);
        return 0;
}

int json_get_string(json_t *obj, const char *key, bool required, const char **ret, struct err *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return absent(key, required, err);
        if (!json_is_string(v))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter %s: expected a string", key);
        *ret = json_string_value(v);
        return 1;
}

int json_get_int(json_t *obj, const char *key, bool required, long long min, long long max,
                 long long *ret, struct err *err)
{
        json_t *v = json_object_get(obj, key);
        long long x;
        if (!v || json_is_null(v))
                return absent(key, required, err);
        if (!json_is_integer(v))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter %s: expected an integer", key);
        x = json_integer_value(v);
        if (x < min || x > max)
                return err_set(err, ERANGE, JERR_INVALID,
                               "Invalid value %lld for parameter %s: must be between %lld and %lld", x, key,
                               min, max);
        *ret = x;
        return 1;
}

int json_get_bool(json_t *obj, const char *key, bool required, bool *ret, struct err *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return absent(key, required, err);
        if (!json_is_boolean(v))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter %s: expected a boolean", key);
        *ret = json_is_true(v);
        return 1;
}

int json_get_array(json_t *obj, const char *key, bool required, json_t **ret, struct err *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return absent(key, required, err);
        if (!json_is_array(v))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter %s: expected a list", key);
        *ret = v;
        return 1;
}

int json_get_object(json_t *obj, const char *key, bool required, json_t **ret, struct err *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return absent(key, required, err);
        if (!json_is_object(v))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter %s: expected a structure", key);
        *ret = v;
        return 1;
}

int json_check_keys(json_t *obj, const char *const *allowed, struct err *err)
{
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                bool ok = false;
                (void) v;
                for (const char *const *a = allowed; *a; a++)
                        if (strcmp(*a, key) == 0) {
                                ok = true;
                                break;
                        }
                if (!ok)
                        return err_set(err, EINVAL, JERR_UNKNOWN, "Unknown parameter in input: \"%s\"", key);
        }
        return 0;
}

void json_set(json_t *obj, const char *key, json_t *val)
{
        if (val)
                json_object_set_new(obj, key, val);
}

const char *jstr(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_string_value(v) : NULL;
}

long long jint(json_t *o, const char *key, long long dflt)
{
        json_t *v = json_object_get(o, key);
        return json_is_integer(v) ? json_integer_value(v) : dflt;
}

json_t *jfind(json_t *array, const char *key, const char *value)
{
        json_t *e;
        size_t i;
        json_array_foreach(array, i, e)
                if (strcmp(jstr(e, key) ?: "", value) == 0)
                        return e;
        return NULL;
}

json_t *jtime(double t)
{
        /* no libm: round half up to milliseconds (times are positive) */
        return json_real((double) (long long) (t * 1000.0 + 0.5) / 1000.0);
}
