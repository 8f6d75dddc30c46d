/* ssm.c: the SSM Parameter Store subset (secrets/ssm/NAME): PutParameter, GetParameter, GetParameters,
 * GetParametersByPath, DeleteParameter, DeleteParameters, DescribeParameters. Values are sealed at rest
 * (seal.h); without WithDecryption a SecureString's Value is an opaque stand-in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "seal.h"
#include "secrets.h"
#include "secrets_req.h"
#include "sm.h"

#define SSM_KEY_MAX (SSM_NAME_MAX + 32)
#define ARN_MAX (SSM_NAME_MAX + 128)

static int param(int r, struct err *err)
{
        if (r < 0 && strcmp(err->code, "SerializationException") != 0)
                snprintf(err->code, sizeof err->code, "%s", SSM_E_VALIDATION);
        return r;
}

static void ssm_key(char buf[SSM_KEY_MAX], const char *name)
{
        snprintf(buf, SSM_KEY_MAX, SSM_KEY_PREFIX "%s", name);
}

/* A Name member may be an ARN of this service: its name. */
static const char *plain_name(const char *name, char buf[SSM_NAME_MAX + 2])
{
        const char *res;
        if (strncmp(name, "arn:", 4) == 0 && (res = strstr(name, ":parameter/")) && ssm_name_from_arn_resource(res + 1, buf, SSM_NAME_MAX + 2))
                return buf;
        return name;
}

/* The record's Value sealed (put) or opened (read) in place; rec is owned by the caller. */
static int value_crypt(struct sched *s, json_t *rec, bool seal, struct err *err)
{
        unsigned char key[SEAL_KEY_BYTES];
        char aad[SSM_KEY_MAX];
        char *out = NULL;
        int r;
        if (!jstr(rec, "Value"))
                return 0;
        if ((r = seal_key(s, key, err)) < 0)
                return r;
        ssm_key(aad, jstr(rec, "Name") ?: "");
        r = seal ? seal_encrypt(key, aad, jstr(rec, "Value"), &out, err) : seal_decrypt(key, aad, jstr(rec, "Value"), &out, err);
        explicit_bzero(key, sizeof key);
        if (r < 0)
                return r;
        json_object_set_new(rec, "Value", json_string(out));
        explicit_bzero(out, strlen(out));
        free(out);
        return 0;
}

static int ssm_get_rec(struct sched *s, const char *name, json_t **ret, struct err *err)
{
        char key[SSM_KEY_MAX], buf[SSM_NAME_MAX + 2];
        int r;
        name = plain_name(name, buf);
        if (strlen(name) > SSM_NAME_MAX)
                return err_set(err, ENOENT, SSM_E_NF, "Parameter %.200s not found.", name);
        ssm_key(key, name);
        r = store_get(s->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, SSM_E_NF, "Parameter %s not found.", name);
        if (r >= 0 && (r = value_crypt(s, *ret, false, err)) < 0) {
                json_decref(*ret);
                *ret = NULL;
        }
        return r;
}

int ssm_value_get(struct sched *s, const char *name, char **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        int r;
        if ((r = ssm_get_rec(s, name, &rec, err)) < 0)
                return r;
        if (!(*ret = strdup(jstr(rec, "Value") ?: "")))
                return err_set(err, ENOMEM, NULL, "out of memory");
        return 0;
}

/* The Parameter shape: the value (a stand-in for SecureString without decryption). */
static json_t *param_shape(struct api_ctx *c, json_t *rec, bool decrypt)
{
        json_t *out = json_deep_copy(rec);
        char arn[ARN_MAX];
        json_object_del(out, "Description");
        json_object_del(out, "Tier");
        json_object_del(out, "KeyId");
        ssm_arn(c->region, c->s->account, jstr(rec, "Name") ?: "", arn, sizeof arn);
        json_object_set_new(out, "ARN", json_string(arn));
        if (strcmp(jstr(rec, "Type") ?: "", "SecureString") == 0 && !decrypt) {
                unsigned char b[24];
                char hex[sizeof b * 2 + 16];
                (void) random_bytes(b, sizeof b);
                snprintf(hex, sizeof hex, "ebx-sealed:");
                for (size_t i = 0; i < sizeof b; i++)
                        snprintf(hex + strlen(hex), 3, "%02x", b[i]);
                json_object_set_new(out, "Value", json_string(hex));
        }
        return out;
}

static int op_put_parameter(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        static const char *const allowed[] = { "Name", "Description", "Value", "Type", "KeyId", "Overwrite", "AllowedPattern",
                                               "Tags", "Tier", "Policies", "DataType", NULL };
        _cleanup_json_ json_t *old = NULL, *rec = NULL;
        const char *name = NULL, *value = NULL, *type = NULL, *desc = NULL, *tier = NULL, *dtype = NULL;
        bool overwrite = false;
        long long version = 1;
        char key[SSM_KEY_MAX];
        int r;
        if ((r = param(req_check_keys(req, allowed, err), err)) < 0 || (r = param(req_str(req, NULL, "Name", true, &name, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "Value", true, &value, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "Type", false, &type, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "Description", false, &desc, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "Tier", false, &tier, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "DataType", false, &dtype, err), err)) < 0 ||
            (r = param(req_bool(req, NULL, "Overwrite", false, &overwrite, err), err)) < 0 || (r = ssm_name_check(name, err)) < 0)
                return r;
        if (type && strcmp(type, "String") && strcmp(type, "StringList") && strcmp(type, "SecureString"))
                return err_set(err, EINVAL, SSM_E_VALIDATION,
                               "1 validation error detected: Value '%.100s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]",
                               type);
        if (!*value || strlen(value) > 8192)
                return err_set(err, EINVAL, SSM_E_VALIDATION, "Parameter value must be 1 to 8192 characters (Standard tier).");
        if (dtype && strcmp(dtype, "text") != 0)
                return err_set(err, EINVAL, SSM_E_VALIDATION, "DataType '%.100s' is not supported by ecsbox: only text.", dtype);
        ssm_key(key, name);
        r = store_get(c->s->store, key, &old, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (old) {
                if (!overwrite)
                        return err_set(err, EEXIST, SSM_E_EXISTS,
                                       "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
                version = jint(old, "Version", 0) + 1;
                if (!type)
                        type = jstr(old, "Type");
                if (!desc)
                        desc = jstr(old, "Description");
        } else if (!type) {
                return err_set(err, EINVAL, SSM_E_VALIDATION, "A parameter type is required when you create a parameter.");
        }
        rec = json_pack("{s:s, s:s, s:s, s:I, s:o, s:s, s:s}", "Name", name, "Type", type, "Value", value, "Version", (json_int_t) version,
                        "LastModifiedDate", jtime(now_epoch()), "DataType", "text", "Tier", "Standard");
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_set(rec, "Description", desc ? json_string(desc) : NULL);
        if ((r = value_crypt(c->s, rec, true, err)) < 0 || (r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        *ret = json_pack("{s:I, s:s}", "Version", (json_int_t) version, "Tier", "Standard");
        log_info("msg=\"parameter put\" parameter=%s version=%lld", name, version);
        return 0;
}

static int op_get_parameter(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *name = NULL;
        bool decrypt = false;
        int r;
        if ((r = param(req_str(req, NULL, "Name", true, &name, err), err)) < 0 ||
            (r = param(req_bool(req, NULL, "WithDecryption", false, &decrypt, err), err)) < 0 || (r = ssm_get_rec(c->s, name, &rec, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Parameter", param_shape(c, rec, decrypt));
        return 0;
}

static int names_arg(json_t *req, json_t **ret, struct err *err)
{
        json_t *names = NULL, *n;
        size_t i;
        int r;
        if ((r = param(req_array(req, NULL, "Names", true, &names, err), err)) < 0)
                return r;
        if (json_array_size(names) < 1 || json_array_size(names) > 10)
                return err_set(err, EINVAL, SSM_E_VALIDATION,
                               "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10");
        json_array_foreach(names, i, n)
                if (!json_is_string(n))
                        return err_set(err, EINVAL, "SerializationException", "Invalid type for parameter Names[%zu]: expected a string", i);
        *ret = names;
        return 0;
}

static int op_get_parameters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *names = NULL, *n, *found, *invalid;
        bool decrypt = false;
        size_t i;
        int r;
        if ((r = names_arg(req, &names, err)) < 0 || (r = param(req_bool(req, NULL, "WithDecryption", false, &decrypt, err), err)) < 0)
                return r;
        found = json_array();
        invalid = json_array();
        json_array_foreach(names, i, n) {
                _cleanup_json_ json_t *rec = NULL;
                struct err e = { 0 };
                r = ssm_get_rec(c->s, json_string_value(n), &rec, &e);
                if (r == -ENOENT)
                        json_array_append(invalid, n);
                else if (r < 0) {
                        json_decref(found);
                        json_decref(invalid);
                        *err = e;
                        return r;
                } else
                        json_array_append_new(found, param_shape(c, rec, decrypt));
        }
        *ret = json_pack("{s:o, s:o}", "Parameters", found, "InvalidParameters", invalid);
        return 0;
}

struct path_walk {
        struct api_ctx *c;
        struct err *err;
        json_t *filters;
        const char *path;     /* with its trailing '/' */
        bool recursive, decrypt, meta;
        json_t *all;
};

static int path_one(const char *key, json_t *v, void *userdata)
{
        struct path_walk *w = userdata;
        const char *name = jstr(v, "Name") ?: "";
        if (w->filters && !ssm_filters_match(w->filters, v))
                return 0;
        if (w->path) {
                if (strncmp(name, w->path, strlen(w->path)) != 0)
                        return 0;
                if (!w->recursive && strchr(name + strlen(w->path), '/'))
                        return 0;
        }
        if (w->meta) {
                json_t *m = param_shape(w->c, v, false);
                json_object_del(m, "Value");
                json_set(m, "Description", jstr(v, "Description") ? json_string(jstr(v, "Description")) : NULL);
                json_object_set_new(m, "Tier", json_string("Standard"));
                json_object_set_new(m, "Policies", json_array());
                json_array_append_new(w->all, m);
        } else {
                _cleanup_json_ json_t *open_rec = json_deep_copy(v);
                int r;
                if (!open_rec)
                        return err_set(w->err, ENOMEM, NULL, "out of memory");
                if ((r = value_crypt(w->c->s, open_rec, false, w->err)) < 0)
                        return r;
                json_array_append_new(w->all, param_shape(w->c, open_rec, w->decrypt));
        }
        return 0;
}

static int page_out(json_t *req, json_t *all, long long max_max, long long dflt, json_t **ret, struct err *err)
{
        const char *tok = NULL;
        long long max = dflt, off = 0;
        json_t *page;
        int r;
        if ((r = param(req_int(req, NULL, "MaxResults", false, 1, max_max, &max, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "NextToken", false, &tok, err), err)) < 0 ||
            (r = secrets_token_parse(tok, SSM_E_VALIDATION, &off, err)) < 0)
                return r;
        page = json_array();
        for (long long i = off; i < off + max && i < (long long) json_array_size(all); i++)
                json_array_append(page, json_array_get(all, (size_t) i));
        *ret = json_pack("{s:o}", "Parameters", page);
        if (off + max < (long long) json_array_size(all)) {
                char t[32];
                snprintf(t, sizeof t, "o/%lld", off + max);
                json_object_set_new(*ret, "NextToken", json_string(t));
        }
        return 0;
}

static int op_get_parameters_by_path(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *all = json_array();
        struct path_walk w = { .c = c, .err = err, .filters = json_object_get(req, "ParameterFilters"), .all = all };
        const char *path = NULL;
        char pfx[SSM_NAME_MAX + 2];
        int r;
        if ((r = param(req_str(req, NULL, "Path", true, &path, err), err)) < 0 ||
            (r = param(req_bool(req, NULL, "Recursive", false, &w.recursive, err), err)) < 0 ||
            (r = param(req_bool(req, NULL, "WithDecryption", false, &w.decrypt, err), err)) < 0)
                return r;
        if ((r = ssm_filters_check(w.filters, err)) < 0)
                return r;
        if (path[0] != '/' || strlen(path) > SSM_NAME_MAX)
                return err_set(err, EINVAL, SSM_E_VALIDATION, "The parameter path '%.200s' must begin with a forward slash (/).", path);
        snprintf(pfx, sizeof pfx, "%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/");
        w.path = pfx;
        if ((r = store_list(c->s->store, SSM_KEY_PREFIX, path_one, &w, err)) < 0)
                return r;
        return page_out(req, all, 10, 10, ret, err);
}

static int op_describe_parameters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *all = json_array();
        struct path_walk w = { .c = c, .err = err, .filters = json_object_get(req, "ParameterFilters"), .all = all, .meta = true };
        int r;
        if (json_object_get(req, "Filters"))
                return err_set(err, EINVAL, SSM_E_VALIDATION, "The legacy Filters are not supported by ecsbox: use ParameterFilters.");
        if ((r = ssm_filters_check(w.filters, err)) < 0 || (r = store_list(c->s->store, SSM_KEY_PREFIX, path_one, &w, err)) < 0)
                return r;
        return page_out(req, all, 50, 50, ret, err);
}

static int op_delete_parameter(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *name = NULL;
        char key[SSM_KEY_MAX];
        int r;
        if ((r = param(req_str(req, NULL, "Name", true, &name, err), err)) < 0 || (r = ssm_get_rec(c->s, name, &rec, err)) < 0)
                return r;
        ssm_key(key, jstr(rec, "Name") ?: "");
        if ((r = store_del(c->s->store, key, err)) < 0)
                return r;
        log_info("msg=\"parameter deleted\" parameter=%s", jstr(rec, "Name"));
        return 0;
}

static int op_delete_parameters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *names = NULL, *n, *deleted, *invalid;
        size_t i;
        int r;
        if ((r = names_arg(req, &names, err)) < 0)
                return r;
        deleted = json_array();
        invalid = json_array();
        json_array_foreach(names, i, n) {
                _cleanup_json_ json_t *one = json_pack("{s:O}", "Name", n), *ans = NULL;
                struct err e = { 0 };
                r = op_delete_parameter(c, one, &ans, &e);
                json_array_append(r < 0 ? invalid : deleted, n);
        }
        *ret = json_pack("{s:o, s:o}", "DeletedParameters", deleted, "InvalidParameters", invalid);
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
} ops[] = {
        { "PutParameter", op_put_parameter },
        { "GetParameter", op_get_parameter },
        { "GetParameters", op_get_parameters },
        { "GetParametersByPath", op_get_parameters_by_path },
        { "DeleteParameter", op_delete_parameter },
        { "DeleteParameters", op_delete_parameters },
        { "DescribeParameters", op_describe_parameters },
};

int ssm_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].name, op) == 0) {
                        c->op = ops[i].name;
                        return ops[i].fn(c, req, ret, err);
                }
        return err_set(err, EOPNOTSUPP, "InvalidAction", "Unknown operation '%s': " SSM_TARGET_PREFIX "%s is not implemented by ecsboxd", op, op);
}
