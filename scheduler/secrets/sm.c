/* sm.c: the Secrets Manager subset (secrets/sm/NAME): CreateSecret, PutSecretValue, GetSecretValue,
 * DescribeSecret, ListSecrets, DeleteSecret, RestoreSecret. A record keeps the secret's versions,
 * each with its value (sealed at rest, seal.h) and staging labels (AWSCURRENT, AWSPREVIOUS). */
#include <errno.h>
#include <limits.h>
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

#define NF_MSG "Secrets Manager can't find the specified secret."
#define DELETED_MSG "You can't perform this operation on the secret because it was marked for deletion."
#define SM_KEY_MAX (SM_NAME_MAX + 32)

static void sm_key(char buf[SM_KEY_MAX], const char *name)
{
        snprintf(buf, SM_KEY_MAX, SM_KEY_PREFIX "%s", name);
}

/* A version's value (SecretString or SecretBinary member), unsealed; *ret NULL when the member is absent. */
static int value_open(struct sched *s, json_t *rec, json_t *v, const char *member, char **ret, struct err *err)
{
        unsigned char key[SEAL_KEY_BYTES];
        char aad[SM_KEY_MAX];
        const char *sealed = jstr(v, member);
        int r;
        *ret = NULL;
        if (!sealed)
                return 0;
        if ((r = seal_key(s, key, err)) < 0)
                return r;
        sm_key(aad, jstr(rec, "Name") ?: "");
        r = seal_decrypt(key, aad, sealed, ret, err);
        explicit_bzero(key, sizeof key);
        return r;
}

static int value_seal(struct sched *s, json_t *rec, json_t *v, const char *member, const char *plain, struct err *err)
{
        unsigned char key[SEAL_KEY_BYTES];
        char aad[SM_KEY_MAX];
        _cleanup_free_ char *sealed = NULL;
        int r;
        if (!plain)
                return 0;
        if ((r = seal_key(s, key, err)) < 0)
                return r;
        sm_key(aad, jstr(rec, "Name") ?: "");
        r = seal_encrypt(key, aad, plain, &sealed, err);
        explicit_bzero(key, sizeof key);
        if (r < 0)
                return r;
        json_object_set_new(v, member, json_string(sealed));
        return 0;
}

static void free_secret(char *p)
{
        if (p) {
                explicit_bzero(p, strlen(p));
                free(p);
        }
}

struct arn_walk {
        const char *arn;
        json_t *found;
};

static int find_arn(const char *key, json_t *v, void *userdata)
{
        struct arn_walk *w = userdata;
        if (strcmp(jstr(v, "ARN") ?: "", w->arn) == 0) {
                w->found = json_incref(v);
                return 1;
        }
        return 0;
}

/* The record of SecretId (a name, an ARN, or an ARN without its 6 random characters). */
static int sm_find(struct sched *s, const char *id, json_t **ret, struct err *err)
{
        char key[SM_KEY_MAX];
        int r;
        if (!id || !*id || strlen(id) > SM_NAME_MAX + 128)
                return err_set(err, ENOENT, SM_E_NF, NF_MSG);
        if (strncmp(id, "arn:", 4) == 0) {
                struct arn_walk w = { id, NULL };
                const char *name = strstr(id, ":secret:");
                if ((r = store_list(s->store, SM_KEY_PREFIX, find_arn, &w, err)) < 0)
                        return r;
                if (w.found) {
                        *ret = w.found;
                        return 0;
                }
                /* a partial ARN: the name without the suffix */
                if (!name || strlen(name + 8) > SM_NAME_MAX)
                        return err_set(err, ENOENT, SM_E_NF, NF_MSG);
                id = name + 8;
        }
        sm_key(key, id);
        r = store_get(s->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, SM_E_NF, NF_MSG);
        return r;
}

static int param(int r, struct err *err)
{
        if (r < 0 && strcmp(err->code, "SerializationException") != 0)
                snprintf(err->code, sizeof err->code, "%s", SM_E_PARAM);
        return r;
}

static bool has_stage(json_t *v, const char *stage)
{
        json_t *st;
        size_t i;
        json_array_foreach(json_object_get(v, "VersionStages"), i, st)
                if (strcmp(json_string_value(st) ?: "", stage) == 0)
                        return true;
        return false;
}

static void drop_stage(json_t *v, const char *stage)
{
        json_t *stages = json_object_get(v, "VersionStages");
        for (size_t i = 0; i < json_array_size(stages); i++)
                if (strcmp(json_string_value(json_array_get(stages, i)) ?: "", stage) == 0)
                        json_array_remove(stages, i--);
}

/* A new version (the value of req) becomes AWSCURRENT; the old current one AWSPREVIOUS; versions left
 * without labels are dropped. */
static int version_add(struct sched *s, json_t *rec, json_t *req, double now, char vid_out[UUID_STR_MAX + 64], struct err *err)
{
        const char *str = NULL, *bin = NULL, *token = NULL;
        json_t *versions = json_object_get(rec, "Versions"), *v, *nv;
        char vid[UUID_STR_MAX + 64];
        size_t i;
        int r;
        if ((r = param(req_str(req, NULL, "SecretString", false, &str, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "SecretBinary", false, &bin, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "ClientRequestToken", false, &token, err), err)) < 0)
                return r;
        if (str && bin)
                return err_set(err, EINVAL, SM_E_PARAM, "You can't specify both a binary secret value and a string secret value in the same secret.");
        if (!str && !bin)
                return 0;
        if ((str && strlen(str) > 65536) || (bin && strlen(bin) > 65536 * 4 / 3 + 4))
                return err_set(err, EINVAL, SM_E_PARAM, "The secret value must be at most 65536 bytes.");
        if (token) {
                if (strlen(token) < 32 || strlen(token) > 64)
                        return err_set(err, EINVAL, SM_E_PARAM, "ClientRequestToken must be 32 to 64 characters.");
                snprintf(vid, sizeof vid, "%s", token);
        } else if (uuid_new(vid) < 0)
                return err_set(err, EIO, NULL, "uuid: %s", strerror(errno));
        if (!json_is_array(versions)) {
                versions = json_array();
                json_object_set_new(rec, "Versions", versions);
        }
        if ((v = jfind(versions, "VersionId", vid))) {
                /* a retried request: the same value is the same version */
                char *os = NULL, *ob = NULL;
                bool same;
                if ((r = value_open(s, rec, v, "SecretString", &os, err)) < 0 || (r = value_open(s, rec, v, "SecretBinary", &ob, err)) < 0) {
                        free_secret(os);
                        return r;
                }
                same = strcmp(os ?: "", str ?: "") == 0 && strcmp(ob ?: "", bin ?: "") == 0 && !os == !str;
                free_secret(os);
                free_secret(ob);
                if (same) {
                        snprintf(vid_out, UUID_STR_MAX + 64, "%s", vid);
                        return 1;
                }
                return err_set(err, EEXIST, SM_E_EXISTS, "You can't modify an existing version, you can only create a new version.");
        }
        json_array_foreach(versions, i, v)
                drop_stage(v, "AWSPREVIOUS");
        json_array_foreach(versions, i, v)
                if (has_stage(v, "AWSCURRENT")) {
                        drop_stage(v, "AWSCURRENT");
                        json_array_append_new(json_object_get(v, "VersionStages"), json_string("AWSPREVIOUS"));
                }
        for (i = 0; i < json_array_size(versions); i++)
                if (json_array_size(json_object_get(json_array_get(versions, i), "VersionStages")) == 0)
                        json_array_remove(versions, i--);
        nv = json_pack("{s:s, s:[s], s:o}", "VersionId", vid, "VersionStages", "AWSCURRENT", "CreatedDate", jtime(now));
        if (!nv)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = value_seal(s, rec, nv, "SecretString", str, err)) < 0 || (r = value_seal(s, rec, nv, "SecretBinary", bin, err)) < 0) {
                json_decref(nv);
                return r;
        }
        json_array_append_new(versions, nv);
        json_object_set_new(rec, "LastChangedDate", jtime(now));
        snprintf(vid_out, UUID_STR_MAX + 64, "%s", vid);
        return 1;
}

static int save(struct sched *s, json_t *rec, struct err *err)
{
        char key[SM_KEY_MAX];
        sm_key(key, jstr(rec, "Name") ?: "");
        return store_put(s->store, key, rec, err);
}

static int op_create_secret(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        static const char *const allowed[] = { "Name", "SecretString", "SecretBinary", "Description", "Tags", "ClientRequestToken",
                                               "KmsKeyId", "AddReplicaRegions", "ForceOverwriteReplicaSecret", NULL };
        _cleanup_json_ json_t *rec = NULL, *old = NULL;
        const char *name = NULL, *desc = NULL;
        json_t *tags = NULL, *t;
        char key[SM_KEY_MAX], arn[SM_NAME_MAX + 128], suffix[7], vid[UUID_STR_MAX + 64] = "";
        unsigned char rnd[6];
        double now = now_epoch();
        size_t i;
        int r;
        if ((r = param(req_check_keys(req, allowed, err), err)) < 0 || (r = param(req_str(req, NULL, "Name", true, &name, err), err)) < 0 ||
            (r = sm_name_check(name, err)) < 0 || (r = param(req_str(req, NULL, "Description", false, &desc, err), err)) < 0 ||
            (r = param(req_array(req, NULL, "Tags", false, &tags, err), err)) < 0)
                return r;
        json_array_foreach(tags, i, t)
                if (!json_is_object(t) || !jstr(t, "Key"))
                        return err_set(err, EINVAL, SM_E_PARAM, "Tags[%zu]: a tag needs a Key (and a Value).", i);
        sm_key(key, name);
        r = store_get(c->s->store, key, &old, err);
        if (r >= 0)
                return json_object_get(old, "DeletedDate")
                               ? err_set(err, EINVAL, SM_E_REQUEST,
                                         "You can't create this secret because a secret with this name is already scheduled for deletion.")
                               : err_set(err, EEXIST, SM_E_EXISTS, "The operation failed because the secret %s already exists.", name);
        if (r != -ENOENT)
                return r;
        if (random_bytes(rnd, sizeof rnd) < 0)
                return err_set(err, EIO, NULL, "getrandom: %s", strerror(errno));
        for (i = 0; i < 6; i++)
                suffix[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rnd[i] % 62];
        suffix[6] = '\0';
        snprintf(arn, sizeof arn, "arn:aws:secretsmanager:%s:%s:secret:%s-%s", c->region, c->s->account, name, suffix);
        rec = json_pack("{s:s, s:s, s:o, s:o, s:[]}", "ARN", arn, "Name", name, "CreatedDate", jtime(now), "LastChangedDate", jtime(now),
                        "Versions");
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_set(rec, "Description", desc ? json_string(desc) : NULL);
        json_set(rec, "Tags", tags ? json_deep_copy(tags) : NULL);
        if ((r = version_add(c->s, rec, req, now, vid, err)) < 0 || (r = save(c->s, rec, err)) < 0)
                return r;
        *ret = json_pack("{s:s, s:s}", "ARN", arn, "Name", name);
        json_set(*ret, "VersionId", vid[0] ? json_string(vid) : NULL);
        log_info("msg=\"secret created\" secret=%s", name);
        return 0;
}

static int live(struct sched *s, json_t *req, json_t **ret, struct err *err)
{
        const char *id = NULL;
        int r;
        if ((r = param(req_str(req, NULL, "SecretId", true, &id, err), err)) < 0 || (r = sm_find(s, id, ret, err)) < 0)
                return r;
        if (json_object_get(*ret, "DeletedDate")) {
                json_decref(*ret);
                *ret = NULL;
                return err_set(err, EINVAL, SM_E_REQUEST, DELETED_MSG);
        }
        return 0;
}

static int op_put_secret_value(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        char vid[UUID_STR_MAX + 64] = "";
        int r;
        if ((r = live(c->s, req, &rec, err)) < 0)
                return r;
        if (!json_object_get(req, "SecretString") && !json_object_get(req, "SecretBinary"))
                return err_set(err, EINVAL, SM_E_PARAM, "You must provide either SecretString or SecretBinary.");
        if ((r = version_add(c->s, rec, req, now_epoch(), vid, err)) < 0 || (r = save(c->s, rec, err)) < 0)
                return r;
        *ret = json_pack("{s:s, s:s, s:s, s:[s]}", "ARN", jstr(rec, "ARN"), "Name", jstr(rec, "Name"), "VersionId", vid, "VersionStages",
                         "AWSCURRENT");
        return 0;
}

/* The version of rec that stage and/or version_id name (AWSCURRENT when neither); borrowed. */
static json_t *version_pick(json_t *rec, const char *stage, const char *vid, struct err *err)
{
        json_t *v;
        size_t i;
        if (!stage && !vid)
                stage = "AWSCURRENT";
        json_array_foreach(json_object_get(rec, "Versions"), i, v) {
                if (vid && strcmp(jstr(v, "VersionId") ?: "", vid) != 0)
                        continue;
                if (stage && !has_stage(v, stage))
                        continue;
                return v;
        }
        if (vid)
                err_set(err, ENOENT, SM_E_NF, "Secrets Manager can't find the specified secret value for VersionId: %s", vid);
        else
                err_set(err, ENOENT, SM_E_NF, "Secrets Manager can't find the specified secret value for staging label: %s", stage);
        return NULL;
}

int sm_value_get(struct sched *s, const char *id, const char *stage, const char *vid, char **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL, *req = json_pack("{s:s}", "SecretId", id ? id : "");
        json_t *v;
        int r;
        if ((r = live(s, req, &rec, err)) < 0)
                return r;
        if (!(v = version_pick(rec, stage && *stage ? stage : NULL, vid && *vid ? vid : NULL, err)))
                return -ENOENT;
        if ((r = value_open(s, rec, v, jstr(v, "SecretString") ? "SecretString" : "SecretBinary", ret, err)) < 0)
                return r;
        if (!*ret && !(*ret = strdup("")))
                return err_set(err, ENOMEM, NULL, "out of memory");
        return 0;
}

static int op_get_secret_value(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *stage = NULL, *vid = NULL;
        json_t *v;
        int r;
        if ((r = param(req_str(req, NULL, "VersionStage", false, &stage, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "VersionId", false, &vid, err), err)) < 0 || (r = live(c->s, req, &rec, err)) < 0)
                return r;
        if (!(v = version_pick(rec, stage, vid, err)))
                return -ENOENT;
        *ret = json_pack("{s:s, s:s, s:s, s:O, s:O}", "ARN", jstr(rec, "ARN"), "Name", jstr(rec, "Name"), "VersionId", jstr(v, "VersionId"),
                         "VersionStages", json_object_get(v, "VersionStages"), "CreatedDate", json_object_get(v, "CreatedDate"));
        {
                char *str = NULL, *bin = NULL;
                if ((r = value_open(c->s, rec, v, "SecretString", &str, err)) < 0 || (r = value_open(c->s, rec, v, "SecretBinary", &bin, err)) < 0) {
                        free_secret(str);
                        json_decref(*ret);
                        *ret = NULL;
                        return r;
                }
                json_set(*ret, "SecretString", str ? json_string(str) : NULL);
                json_set(*ret, "SecretBinary", bin ? json_string(bin) : NULL);
                free_secret(str);
                free_secret(bin);
        }
        json_object_set_new(rec, "LastAccessedDate", jtime((double) ((long long) now_epoch() / 86400 * 86400)));
        (void) save(c->s, rec, err);
        err_clear(err);
        return 0;
}

/* DescribeSecret's shape (also a ListSecrets entry): no values. */
static json_t *describe_shape(json_t *rec)
{
        json_t *out = json_deep_copy(rec), *stages = json_object(), *v;
        size_t i;
        json_array_foreach(json_object_get(rec, "Versions"), i, v)
                json_object_set(stages, jstr(v, "VersionId") ?: "", json_object_get(v, "VersionStages"));
        json_object_del(out, "Versions");
        json_object_set_new(out, "VersionIdsToStages", stages);
        if (!json_object_get(out, "Tags"))
                json_object_set_new(out, "Tags", json_array());
        return out;
}

static int op_describe_secret(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        int r;
        if ((r = param(req_str(req, NULL, "SecretId", true, &id, err), err)) < 0 || (r = sm_find(c->s, id, &rec, err)) < 0)
                return r;
        *ret = describe_shape(rec);
        return 0;
}

struct list_walk {
        json_t *all;
        json_t *filters;
        bool deleted;
};

static int list_one(const char *key, json_t *v, void *userdata)
{
        struct list_walk *w = userdata;
        json_t *shape;
        if (!w->deleted && json_object_get(v, "DeletedDate"))
                return 0;
        shape = describe_shape(v);
        if (w->filters && !sm_filters_match(w->filters, shape))
                json_decref(shape);
        else
                json_array_append_new(w->all, shape);
        return 0;
}

static int op_list_secrets(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *all = json_array();
        struct list_walk w = { all, json_object_get(req, "Filters"), false };
        const char *tok = NULL;
        long long max = 100, off = 0;
        json_t *page;
        int r;
        if ((r = param(req_int(req, NULL, "MaxResults", false, 1, 100, &max, err), err)) < 0 ||
            (r = param(req_str(req, NULL, "NextToken", false, &tok, err), err)) < 0 ||
            (r = param(req_bool(req, NULL, "IncludePlannedDeletion", false, &w.deleted, err), err)) < 0 ||
            (r = sm_filters_check(w.filters, err)) < 0 ||
            (r = secrets_token_parse(tok, SM_E_PARAM, &off, err)) < 0 || (r = store_list(c->s->store, SM_KEY_PREFIX, list_one, &w, err)) < 0)
                return r;
        page = json_array();
        for (long long i = off; i < off + max && i < (long long) json_array_size(all); i++)
                json_array_append(page, json_array_get(all, (size_t) i));
        *ret = json_pack("{s:o}", "SecretList", page);
        if (off + max < (long long) json_array_size(all)) {
                char t[32];
                snprintf(t, sizeof t, "o/%lld", off + max);
                json_object_set_new(*ret, "NextToken", json_string(t));
        }
        return 0;
}

static int op_delete_secret(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        bool force = false;
        long long days = 30;
        char key[SM_KEY_MAX];
        double when;
        int r, have_days;
        if ((r = param(req_str(req, NULL, "SecretId", true, &id, err), err)) < 0 ||
            (r = param(req_bool(req, NULL, "ForceDeleteWithoutRecovery", false, &force, err), err)) < 0)
                return r;
        if ((have_days = param(req_int(req, NULL, "RecoveryWindowInDays", false, LLONG_MIN, LLONG_MAX, &days, err), err)) < 0)
                return have_days;
        if (force && have_days)
                return err_set(err, EINVAL, SM_E_PARAM, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
        if (days < 7 || days > 30)
                return err_set(err, EINVAL, SM_E_PARAM, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
        if ((r = sm_find(c->s, id, &rec, err)) < 0)
                return r;
        if (json_object_get(rec, "DeletedDate") && !force)
                return err_set(err, EINVAL, SM_E_REQUEST, DELETED_MSG);
        if (force) {
                sm_key(key, jstr(rec, "Name") ?: "");
                if ((r = store_del(c->s->store, key, err)) < 0)
                        return r;
                when = now_epoch();
        } else {
                when = now_epoch() + (double) days * 86400;
                json_object_set_new(rec, "DeletedDate", jtime(when));
                if ((r = save(c->s, rec, err)) < 0)
                        return r;
        }
        *ret = json_pack("{s:s, s:s, s:o}", "ARN", jstr(rec, "ARN"), "Name", jstr(rec, "Name"), "DeletionDate", jtime(when));
        log_info("msg=\"secret deleted\" secret=%s force=%d", jstr(rec, "Name"), force);
        return 0;
}

static int op_restore_secret(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        int r;
        if ((r = param(req_str(req, NULL, "SecretId", true, &id, err), err)) < 0 || (r = sm_find(c->s, id, &rec, err)) < 0)
                return r;
        json_object_del(rec, "DeletedDate");
        if ((r = save(c->s, rec, err)) < 0)
                return r;
        *ret = json_pack("{s:s, s:s}", "ARN", jstr(rec, "ARN"), "Name", jstr(rec, "Name"));
        return 0;
}


static const struct {
        const char *name;
        int (*fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
} ops[] = {
        { "CreateSecret", op_create_secret },
        { "PutSecretValue", op_put_secret_value },
        { "GetSecretValue", op_get_secret_value },
        { "DescribeSecret", op_describe_secret },
        { "ListSecrets", op_list_secrets },
        { "DeleteSecret", op_delete_secret },
        { "RestoreSecret", op_restore_secret },
};

int sm_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].name, op) == 0) {
                        c->op = ops[i].name;
                        return ops[i].fn(c, req, ret, err);
                }
        return err_set(err, EOPNOTSUPP, "UnknownOperationException", "Unknown operation '%s': " SM_TARGET_PREFIX "%s is not implemented by ecsboxd", op, op);
}
