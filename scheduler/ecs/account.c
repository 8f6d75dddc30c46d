/* account.c: the account setting operations on "acctset/PRINCIPAL_ARN/NAME" records. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../front/req.h"
#include "../sched.h"
#include "account.h"

static void root_arn(struct sched *s, char buf[ARN_MAX])
{
        snprintf(buf, ARN_MAX, "arn:aws:iam::%s:root", s->account);
}

static void setting_key(char *buf, size_t size, const char *principal, const char *name)
{
        snprintf(buf, size, "acctset/%s/%s", principal, name);
}

static json_t *setting_new(const char *name, const char *value, const char *principal, const char *type)
{
        return json_pack("{s:s, s:s, s:s, s:s}", "name", name, "value", value, "principalArn", principal, "type", type);
}

/* The principal's own setting (a new reference), NULL when it has none. */
static int setting_own(struct sched *s, const char *principal, const char *name, json_t **ret, struct err *err)
{
        char key[ARN_MAX * 3];
        setting_key(key, sizeof key, principal, name);
        return store_get(s->store, key, ret, err);
}

/* What the principal sees: its own setting, else the root user's, else ECS's default. */
static int setting_effective(struct sched *s, const char *principal, const struct account_setting_def *d, json_t **ret,
                             struct err *err)
{
        char root[ARN_MAX];
        json_t *rec = NULL;
        int r;
        root_arn(s, root);
        r = setting_own(s, principal, d->name, &rec, err);
        if (r == -ENOENT && strcmp(principal, root) != 0)
                r = setting_own(s, root, d->name, &rec, err);
        if (r == -ENOENT)
                rec = setting_new(d->name, d->dflt, principal, "aws_managed");
        else if (r < 0)
                return r;
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        *ret = rec;
        return 0;
}

int account_setting_effective(struct sched *s, const char *name, char *buf, size_t size, struct err *err)
{
        const struct account_setting_def *d = account_setting_def(name);
        _cleanup_json_ json_t *rec = NULL;
        char root[ARN_MAX];
        int r;
        if (!d)
                return err_set(err, EINVAL, NULL, "no account setting '%s'", name);
        root_arn(s, root);
        if ((r = setting_effective(s, root, d, &rec, err)) < 0)
                return r;
        snprintf(buf, size, "%s", jstr(rec, "value") ?: d->dflt);
        return 0;
}

static int setting_put(struct api_ctx *c, const struct account_setting_in *in, const char *principal, json_t **ret,
                       struct err *err)
{
        _cleanup_json_ json_t *rec = setting_new(in->def->name, in->value, principal, "user");
        char key[ARN_MAX * 3];
        int r;
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        setting_key(key, sizeof key, principal, in->def->name);
        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                return r;
        log_info("op=%s setting=%s value=%s principal=%s", c->op, in->def->name, in->value, principal);
        *ret = json_pack("{s:O}", "setting", rec);
        return 0;
}

int op_put_account_setting(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct account_setting_in in;
        char root[ARN_MAX];
        int r;
        if ((r = account_setting_decode(req, ACCOUNT_PUT, &in, err)) < 0)
                return r;
        root_arn(c->s, root);
        return setting_put(c, &in, in.principal ?: root, ret, err);
}

int op_put_account_setting_default(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct account_setting_in in;
        char root[ARN_MAX];
        int r;
        if ((r = account_setting_decode(req, ACCOUNT_PUT_DEFAULT, &in, err)) < 0)
                return r;
        root_arn(c->s, root);
        return setting_put(c, &in, root, ret, err);
}

/* Answers with the setting as it was deleted; one that was never set answers with what the
 * principal sees (ECS does not fail here). */
int op_delete_account_setting(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct account_setting_in in;
        _cleanup_json_ json_t *rec = NULL;
        char root[ARN_MAX], key[ARN_MAX * 3];
        const char *principal;
        int r;
        if ((r = account_setting_decode(req, ACCOUNT_DELETE, &in, err)) < 0)
                return r;
        root_arn(c->s, root);
        principal = in.principal ?: root;
        r = setting_own(c->s, principal, in.def->name, &rec, err);
        if (r == -ENOENT)
                r = setting_effective(c->s, principal, in.def, &rec, err);
        else if (r == 0) {
                setting_key(key, sizeof key, principal, in.def->name);
                r = store_del(c->s->store, key, err);
                log_info("op=DeleteAccountSetting setting=%s principal=%s", in.def->name, principal);
        }
        if (r < 0)
                return r;
        *ret = json_pack("{s:O}", "setting", rec);
        return 0;
}

int op_list_account_settings(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct account_setting_in in;
        struct req_page pg;
        _cleanup_json_ json_t *all = json_array(), *page = NULL;
        const struct account_setting_def *defs;
        json_t *token = NULL;
        char root[ARN_MAX];
        const char *principal;
        size_t n;
        int r;
        if ((r = account_setting_decode(req, ACCOUNT_LIST, &in, err)) < 0 || (r = req_page_decode(req, 10, &pg, err)) < 0)
                return r;
        root_arn(c->s, root);
        principal = in.principal ?: root;
        defs = account_setting_defs(&n);
        for (size_t i = 0; i < n; i++) {
                json_t *rec = NULL;
                if (in.def && in.def != &defs[i])
                        continue;
                r = in.effective ? setting_effective(c->s, principal, &defs[i], &rec, err) : setting_own(c->s, principal, defs[i].name, &rec, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (in.value && strcmp(jstr(rec, "value") ?: "", in.value) != 0) {
                        json_decref(rec);
                        continue;
                }
                json_array_append_new(all, rec);
        }
        if ((r = req_page_take(&pg, all, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "settings", page);
        json_set(*ret, "nextToken", token);
        return 0;
}
