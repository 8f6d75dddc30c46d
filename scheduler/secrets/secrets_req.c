/* secrets_req.c: the pure decoders of the secrets services (secrets_req.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/json.h"
#include "secrets_req.h"

int sm_name_check(const char *name, struct err *err)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > SM_NAME_MAX)
                return err_set(err, EINVAL, SM_E_PARAM, "Invalid name. The secret name must be 1 to %d characters.", SM_NAME_MAX);
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-", name[i]))
                        return err_set(err, EINVAL, SM_E_PARAM,
                                       "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@! ('%.512s')",
                                       name);
        return 0;
}

int ssm_name_check(const char *name, struct err *err)
{
        size_t n = name ? strlen(name) : 0, levels = 0;
        const char *base;
        if (n == 0 || n > SSM_NAME_MAX)
                return err_set(err, EINVAL, SSM_E_VALIDATION, "Parameter name must be 1 to %d characters.", SSM_NAME_MAX);
        for (size_t i = 0; i < n; i++) {
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/", name[i]))
                        return err_set(err, EINVAL, SSM_E_VALIDATION,
                                       "Parameter name: can't contain '%c'; only a-zA-Z0-9_.-/ are allowed ('%.512s').", name[i], name);
                if (name[i] == '/')
                        levels++;
        }
        if (levels && name[0] != '/')
                return err_set(err, EINVAL, SSM_E_VALIDATION, "Parameter name must be a fully qualified name: '%.512s' must start with /.", name);
        if (levels > 15)
                return err_set(err, EINVAL, SSM_E_VALIDATION, "Parameter name '%.512s' has more than 15 levels.", name);
        if (strstr(name, "//") || (n > 1 && name[n - 1] == '/'))
                return err_set(err, EINVAL, SSM_E_VALIDATION, "Parameter name '%.512s' has an empty level.", name);
        base = name[0] == '/' ? name + 1 : name;
        if (strncasecmp(base, "aws", 3) == 0 || strncasecmp(base, "ssm", 3) == 0)
                return err_set(err, EINVAL, SSM_E_VALIDATION,
                               "No access to reserved parameter name: %.512s. Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).",
                               name);
        return 0;
}

void ssm_arn(const char *region, const char *account, const char *name, char *buf, size_t size)
{
        snprintf(buf, size, "arn:aws:ssm:%s:%s:parameter%s%s", region, account, name[0] == '/' ? "" : "/", name);
}

bool ssm_name_from_arn_resource(const char *res, char *buf, size_t size)
{
        const char *rest;
        if (strncmp(res, "parameter/", 10) != 0 || !res[10])
                return false;
        rest = res + 10;
        snprintf(buf, size, "%s%s", strchr(rest, '/') ? "/" : "", rest);
        return true;
}

static void field_copy(char *dst, size_t size, const char *from, const char *to)
{
        size_t n = (size_t) (to - from);
        if (n >= size)
                n = size - 1;
        memcpy(dst, from, n);
        dst[n] = '\0';
}

int secret_ref_parse(const char *value_from, struct secret_ref *ret, struct err *err)
{
        const char *f[11], *p;
        size_t n = 0, len = value_from ? strlen(value_from) : 0;
        struct secret_ref r = { 0 };
        if (len == 0 || len >= SECRET_REF_MAX)
                return err_set(err, EINVAL, SM_E_PARAM, "invalid valueFrom '%.300s': 1 to %d characters", value_from ? value_from : "",
                               SECRET_REF_MAX - 1);
        if (strncmp(value_from, "arn:", 4) != 0) {
                /* a parameter name of the task's region */
                snprintf(r.id, sizeof r.id, "%s", value_from);
                *ret = r;
                return 0;
        }
        f[n++] = value_from;
        for (p = value_from; *p; p++)
                if (*p == ':') {
                        if (n == ELEMENTSOF(f))
                                break;
                        f[n++] = p + 1;
                }
        if (n < 6 || (strncmp(f[2], "ssm:", 4) != 0 && strncmp(f[2], "secretsmanager:", 15) != 0))
                return err_set(err, EINVAL, SM_E_PARAM, "invalid valueFrom '%s': not an ARN of Secrets Manager or SSM", value_from);
        if (strncmp(f[2], "ssm:", 4) == 0) {
                if (n != 6 || !ssm_name_from_arn_resource(f[5], r.id, sizeof r.id))
                        return err_set(err, EINVAL, SM_E_PARAM, "invalid valueFrom '%s': an SSM parameter ARN is arn:aws:ssm:REGION:ACCOUNT:parameter/NAME",
                                       value_from);
                *ret = r;
                return 0;
        }
        if (strncmp(f[2], "secretsmanager:", 15) != 0 || (n != 7 && n != 10) || strncmp(f[5], "secret:", 7) != 0 || f[6][0] == ':' ||
            !f[6][0])
                return err_set(err, EINVAL, SM_E_PARAM,
                               "unable to retrieve secret from asm: trying to retrieve secret with value %s resulted in error: an invalid ARN format for the AWS Secrets Manager secret was specified. Specify a valid ARN and try again.",
                               value_from);
        r.sm = true;
        if (n == 7) {
                snprintf(r.id, sizeof r.id, "%s", value_from);
        } else {
                field_copy(r.id, sizeof r.id, value_from, f[7] - 1);
                field_copy(r.json_key, sizeof r.json_key, f[7], f[8] - 1);
                field_copy(r.stage, sizeof r.stage, f[8], f[9] - 1);
                snprintf(r.version_id, sizeof r.version_id, "%s", f[9]);
        }
        *ret = r;
        return 0;
}

int secret_json_key(const char *text, const char *key, char **ret, struct err *err)
{
        _cleanup_json_ json_t *doc = json_loads(text ? text : "", JSON_DECODE_ANY, NULL);
        json_t *v = json_is_object(doc) ? json_object_get(doc, key) : NULL;
        char *out;
        if (!v)
                return err_set(err, ENOENT, SM_E_PARAM, "retrieved secret from Secrets Manager did not contain json key %s", key);
        out = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        *ret = out;
        return 0;
}

int secrets_token_parse(const char *tok, const char *code, long long *ret, struct err *err)
{
        char *end;
        long long v;
        if (!tok) {
                *ret = 0;
                return 0;
        }
        if (strncmp(tok, "o/", 2) != 0)
                goto bad;
        errno = 0;
        v = strtoll(tok + 2, &end, 10);
        if (errno || *end || end == tok + 2 || v < 0)
                goto bad;
        *ret = v;
        return 0;
bad:
        return err_set(err, EINVAL, code, "Invalid NextToken '%.100s'.", tok);
}

static const char *const filter_keys[] = { "description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all", NULL };

int sm_filters_check(json_t *filters, struct err *err)
{
        json_t *f, *v;
        size_t i, k;
        if (!filters)
                return 0;
        if (!json_is_array(filters) || json_array_size(filters) > 10)
                return err_set(err, EINVAL, SM_E_PARAM, "Filters must be a list of at most 10 filters.");
        json_array_foreach(filters, i, f) {
                const char *key = jstr(f, "Key");
                json_t *values = json_object_get(f, "Values");
                bool known = false;
                for (const char *const *p = filter_keys; key && *p; p++)
                        known |= strcmp(key, *p) == 0;
                if (!known)
                        return err_set(err, EINVAL, SM_E_PARAM, "Invalid filter key '%.100s': expected one of description, name, tag-key, tag-value, primary-region, owning-service, all.",
                                       key ? key : "");
                if (!json_is_array(values) || json_array_size(values) < 1 || json_array_size(values) > 10)
                        return err_set(err, EINVAL, SM_E_PARAM, "Filter '%s' needs 1 to 10 Values.", key);
                json_array_foreach(values, k, v)
                        if (!json_is_string(v) || json_string_length(v) > 512)
                                return err_set(err, EINVAL, SM_E_PARAM, "Filter '%s': each value is a string of at most 512 characters.", key);
        }
        return 0;
}

static bool prefix(const char *s, const char *p, bool nocase)
{
        return s && (nocase ? strncasecmp(s, p, strlen(p)) : strncmp(s, p, strlen(p))) == 0;
}

/* Whether one attribute of the secret that key names starts with want. */
static bool attr_match(json_t *secret, const char *key, const char *want)
{
        json_t *t;
        size_t i;
        bool all = strcmp(key, "all") == 0;
        if ((all || !strcmp(key, "name")) && prefix(jstr(secret, "Name"), want, all))
                return true;
        if ((all || !strcmp(key, "description")) && prefix(jstr(secret, "Description"), want, true))
                return true;
        json_array_foreach(json_object_get(secret, "Tags"), i, t) {
                if ((all || !strcmp(key, "tag-key")) && prefix(jstr(t, "Key"), want, all))
                        return true;
                if ((all || !strcmp(key, "tag-value")) && prefix(jstr(t, "Value"), want, all))
                        return true;
        }
        return false;
}

bool sm_filters_match(json_t *filters, json_t *secret)
{
        json_t *f, *v;
        size_t i, k;
        json_array_foreach(filters, i, f) {
                bool any = false;
                json_array_foreach(json_object_get(f, "Values"), k, v) {
                        const char *want = json_string_value(v);
                        bool neg = want[0] == '!';
                        if (attr_match(secret, jstr(f, "Key"), want + neg) != neg)
                                any = true;
                }
                if (!any)
                        return false;
        }
        return true;
}

int ssm_filters_check(json_t *filters, struct err *err)
{
        json_t *f, *v;
        size_t i, k;
        if (!filters)
                return 0;
        if (!json_is_array(filters))
                return err_set(err, EINVAL, SSM_E_VALIDATION, "ParameterFilters must be a list.");
        json_array_foreach(filters, i, f) {
                const char *key = jstr(f, "Key") ?: "", *opt = jstr(f, "Option");
                json_t *values = json_object_get(f, "Values");
                bool name = !strcmp(key, "Name"), path = !strcmp(key, "Path");
                if (!name && !path && strcmp(key, "Type") && strcmp(key, "Tier") && strcmp(key, "DataType"))
                        return err_set(err, EINVAL, SSM_E_VALIDATION,
                                       "The parameter filter key '%.100s' is not supported by ecsbox (Name, Type, Tier, DataType, Path).", key);
                if (opt && !(name && (!strcmp(opt, "Equals") || !strcmp(opt, "BeginsWith") || !strcmp(opt, "Contains"))) &&
                    !(path && (!strcmp(opt, "OneLevel") || !strcmp(opt, "Recursive"))) && !(!name && !path && !strcmp(opt, "Equals")))
                        return err_set(err, EINVAL, SSM_E_VALIDATION, "The parameter filter option '%.100s' is not valid for key %s.", opt, key);
                if (values && (!json_is_array(values) || json_array_size(values) > 50))
                        return err_set(err, EINVAL, SSM_E_VALIDATION, "The parameter filter %s takes at most 50 values.", key);
                if (!json_array_size(values) && !path)
                        return err_set(err, EINVAL, SSM_E_VALIDATION, "The parameter filter %s needs values.", key);
                json_array_foreach(values, k, v)
                        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024)
                                return err_set(err, EINVAL, SSM_E_VALIDATION, "The parameter filter %s: each value is a string of 1 to 1024 characters.",
                                               key);
        }
        return 0;
}

/* name under path ("/a" or "/a/"; "/" the root): directly (OneLevel) or at any depth (Recursive). */
static bool path_match(const char *name, const char *path, bool recursive)
{
        size_t n = strlen(path);
        const char *rest;
        if (n && path[n - 1] == '/')
                n--;
        if (strncmp(name, path, n) != 0 || name[n] != '/')
                return false;
        rest = name + n + 1;
        return *rest && (recursive || !strchr(rest, '/'));
}

bool ssm_filters_match(json_t *filters, json_t *param)
{
        json_t *f, *v;
        size_t i, k;
        json_array_foreach(filters, i, f) {
                const char *key = jstr(f, "Key") ?: "", *opt = jstr(f, "Option") ?: "", *name = jstr(param, "Name") ?: "";
                bool any = false;
                if (!strcmp(key, "Path") && !json_array_size(json_object_get(f, "Values")))
                        any = path_match(name, "/", !strcmp(opt, "Recursive"));
                json_array_foreach(json_object_get(f, "Values"), k, v) {
                        const char *want = json_string_value(v);
                        if (!strcmp(key, "Name"))
                                any |= !strcmp(opt, "BeginsWith") ? strncmp(name, want, strlen(want)) == 0
                                       : !strcmp(opt, "Contains") ? strstr(name, want) != NULL
                                                                  : strcmp(name, want) == 0;
                        else if (!strcmp(key, "Path"))
                                any |= path_match(name, want, !strcmp(opt, "Recursive"));
                        else
                                any |= strcmp(jstr(param, key) ?: (!strcmp(key, "Tier") ? "Standard" : !strcmp(key, "DataType") ? "text" : ""), want) == 0;
                }
                if (!any)
                        return false;
        }
        return true;
}
