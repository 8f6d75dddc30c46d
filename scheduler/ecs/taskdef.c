/* taskdef.c: task definitions: records and revisions per family ("taskdef/FAMILY/%08ld", counter
 * "family/FAMILY") and their API. The request's validation is taskdef_build.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "taskdef.h"

static void taskdef_key(char *buf, size_t size, const char *family, long rev)
{
        snprintf(buf, size, "taskdef/%s/%08ld", family, rev);
}

struct latest {
        json_t *rec;
};

static int keep_latest_active(const char *key, json_t *v, void *userdata)
{
        struct latest *l = userdata;
        if (strcmp(jstr(json_object_get(v, "taskDefinition"), "status") ?: "", "ACTIVE") == 0) {
                json_decref(l->rec);
                l->rec = json_incref(v);
        }
        return 0;
}

/* The stored record {"taskDefinition": {...}, "tags": [...]}. */
static int taskdef_record(struct sched *s, const char *ref, json_t **ret, struct err *err)
{
        char family[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 32];
        long rev;
        int r;
        if ((r = taskdef_ref_parse(ref, family, &rev, err)) < 0)
                return r;
        if (rev > 0) {
                taskdef_key(key, sizeof key, family, rev);
                return store_get(s->store, key, ret, err);
        }
        {
                struct latest l = { NULL };
                snprintf(key, sizeof key, "taskdef/%s/", family);
                if ((r = store_list(s->store, key, keep_latest_active, &l, err)) < 0) {
                        json_decref(l.rec);
                        return r;
                }
                if (!l.rec)
                        return -ENOENT;
                *ret = l.rec;
                return 0;
        }
}

json_t *taskdef_tags(struct sched *s, const char *arn)
{
        _cleanup_json_ json_t *rec = NULL;
        struct err err = { 0 };
        if (!arn || taskdef_record(s, arn, &rec, &err) < 0)
                return NULL;
        return json_incref(json_object_get(rec, "tags"));
}

int taskdef_get(struct api_ctx *c, const char *ref, json_t **ret, struct err *err)
{
        json_t *rec = NULL;
        int r = taskdef_record(c->s, ref, &rec, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_CLIENT, "Unable to describe task definition.");
        if (r < 0)
                return r;
        *ret = json_incref(json_object_get(rec, "taskDefinition"));
        json_decref(rec);
        return 0;
}

int taskdef_get_active(struct api_ctx *c, const char *ref, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *td = NULL;
        int r = taskdef_get(c, ref, &td, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "TaskDefinition not found.");
        if (r < 0) {
                if (strcmp(err->code, E_CLIENT) == 0)
                        snprintf(err->code, sizeof err->code, "%s", E_PARAM);
                return r;
        }
        if (strcmp(jstr(td, "status") ?: "", "ACTIVE") != 0)
                return err_set(err, EINVAL, E_PARAM, "TaskDefinition is inactive: %s.", jstr(td, "taskDefinitionArn"));
        *ret = TAKE_PTR(td);
        return 0;
}

int op_register_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *td = NULL, *counter = NULL, *rec = NULL;
        json_t *tags = NULL;
        char key[NAME_MAX_ECS + 32], arn[ARN_MAX], by[64];
        const char *family;
        long rev = 1;
        int r;

        /* the decoder: the TaskDefinition built from the request, and its tags */
        if ((r = taskdef_build(req, &td, err)) < 0 || (r = req_tags(req, "tags", &tags, err)) < 0)
                return r;
        family = jstr(td, "family");
        snprintf(key, sizeof key, "family/%s", family);
        if ((r = store_begin(c->s->store, err)) < 0)
                return r;
        r = store_get(c->s->store, key, &counter, err);
        if (r < 0 && r != -ENOENT)
                goto fail;
        if (r == 0)
                rev = (long) jint(counter, "lastRevision", 0) + 1;
        json_decref(counter);
        counter = json_pack("{s:I}", "lastRevision", (json_int_t) rev);
        arn_taskdef(c, family, rev, arn);
        snprintf(by, sizeof by, "arn:aws:iam::%s:root", c->s->account);
        json_object_set_new(td, "taskDefinitionArn", json_string(arn));
        json_object_set_new(td, "revision", json_integer(rev));
        json_object_set_new(td, "registeredAt", jtime(now_epoch()));
        json_object_set_new(td, "registeredBy", json_string(by));
        rec = json_pack("{s:O, s:O}", "taskDefinition", td, "tags", tags ? tags : json_array());
        if (!tags)
                json_decref(json_object_get(rec, "tags"));
        if ((r = store_put(c->s->store, key, counter, err)) < 0)
                goto fail;
        taskdef_key(key, sizeof key, family, rev);
        if ((r = store_put(c->s->store, key, rec, err)) < 0 || (r = store_commit(c->s->store, err)) < 0)
                goto fail;
        log_info("op=RegisterTaskDefinition taskdef=%s:%ld", family, rev);
        *ret = json_pack("{s:O, s:O}", "taskDefinition", td, "tags", json_object_get(rec, "tags"));
        return 0;
fail:
        store_rollback(c->s->store);
        return r;
}

struct describe_td_in {
        const char *ref;                     /* family, family:rev or ARN */
        bool tags;
};

static int describe_td_decode(json_t *req, struct describe_td_in *in, struct err *err)
{
        in->tags = req_include_tags(req);
        return req_str(req, NULL, "taskDefinition", true, &in->ref, err);
}

int op_describe_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        struct describe_td_in in = { 0 };
        int r;
        if ((r = describe_td_decode(req, &in, err)) < 0)
                return r;
        r = taskdef_record(c->s, in.ref, &rec, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_CLIENT, "Unable to describe task definition.");
        if (r < 0)
                return r;
        *ret = json_pack("{s:O}", "taskDefinition", json_object_get(rec, "taskDefinition"));
        if (in.tags)
                json_object_set(*ret, "tags", json_object_get(rec, "tags"));
        return 0;
}

struct td_list {
        const char *status;      /* NULL = any */
        const char *family_prefix;
        bool exact_family;
        json_t *items;           /* [[family, rev, arn]] */
};

static int collect_td(const char *key, json_t *v, void *userdata)
{
        struct td_list *l = userdata;
        json_t *td = json_object_get(v, "taskDefinition");
        const char *fam = jstr(td, "family") ?: "";
        if (l->status && strcmp(jstr(td, "status") ?: "", l->status) != 0)
                return 0;
        if (l->family_prefix && strncmp(fam, l->family_prefix, strlen(l->family_prefix)) != 0)
                return 0;
        json_array_append_new(l->items, json_pack("[s, I, s]", fam, (json_int_t) jint(td, "revision", 0),
                                                   jstr(td, "taskDefinitionArn") ?: ""));
        return 0;
}

static int cmp_td(const void *a, const void *b)
{
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        int c = strcmp(json_string_value(json_array_get(x, 0)), json_string_value(json_array_get(y, 0)));
        long long rx = json_integer_value(json_array_get(x, 1)), ry = json_integer_value(json_array_get(y, 1));
        if (c)
                return c;
        return rx < ry ? -1 : rx > ry;
}

static int sorted_items(json_t *items, bool desc, json_t **ret)
{
        size_t n = json_array_size(items);
        json_t **v = calloc(n + 1, sizeof *v), *out = json_array();
        if (!v || !out) {
                free(v);
                json_decref(out);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                v[i] = json_array_get(items, i);
        qsort(v, n, sizeof *v, cmp_td);
        for (size_t i = 0; i < n; i++)
                json_array_append(out, json_array_get(v[desc ? n - 1 - i : i], 2));
        free(v);
        *ret = out;
        return 0;
}

static int check_status_param(json_t *req, const char **ret, bool allow_all, struct err *err)
{
        const char *st = "ACTIVE";
        int r;
        if ((r = req_str(req, NULL, "status", false, &st, err)) < 0)
                return r;
        if (strcmp(st, "ACTIVE") != 0 && strcmp(st, "INACTIVE") != 0 && strcmp(st, "DELETE_IN_PROGRESS") != 0 &&
            !(allow_all && strcmp(st, "ALL") == 0))
                return err_set(err, EINVAL, E_PARAM, "Invalid status '%s': expected ACTIVE, INACTIVE%s.", st,
                               allow_all ? " or ALL" : " or DELETE_IN_PROGRESS");
        *ret = strcmp(st, "ALL") == 0 ? NULL : st;
        return 0;
}

struct list_tds_in {
        const char *status;                  /* NULL = any */
        const char *family;                  /* familyPrefix (a whole family for ListTaskDefinitions) */
        bool desc;                           /* sort DESC */
        struct req_page page;
};

static int list_tds_decode(json_t *req, bool families, struct list_tds_in *in, struct err *err)
{
        const char *sort = "ASC";
        int r;
        if ((r = check_status_param(req, &in->status, families, err)) < 0 ||
            (r = req_str(req, NULL, "familyPrefix", false, &in->family, err)) < 0)
                return r;
        if (!families) {
                if ((r = req_str(req, NULL, "sort", false, &sort, err)) < 0)
                        return r;
                if (strcmp(sort, "ASC") != 0 && strcmp(sort, "DESC") != 0)
                        return err_set(err, EINVAL, E_PARAM, "Invalid sort '%s': expected ASC or DESC.", sort);
                in->desc = strcmp(sort, "DESC") == 0;
        }
        return req_page_decode(req, 100, &in->page, err);
}

int op_list_task_definitions(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *items = json_array(), *all = NULL, *page = NULL;
        struct list_tds_in in = { 0 };
        struct td_list l = { .items = items };
        char prefix[NAME_MAX_ECS + 16];
        json_t *token = NULL;
        int r;
        if ((r = list_tds_decode(req, false, &in, err)) < 0)
                return r;
        l.status = in.status;
        /* familyPrefix names a whole family, as on ECS. */
        if (in.family && *in.family) {
                if (!name_valid(in.family)) {
                        *ret = json_pack("{s:[]}", "taskDefinitionArns");
                        return 0;
                }
                snprintf(prefix, sizeof prefix, "taskdef/%s/", in.family);
        } else
                snprintf(prefix, sizeof prefix, "taskdef/");
        if ((r = store_list(c->s->store, prefix, collect_td, &l, err)) < 0)
                return r;
        if (sorted_items(items, in.desc, &all) < 0)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = req_page_take(&in.page, all, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "taskDefinitionArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

int op_list_task_definition_families(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *items = json_array(), *fams = json_array(), *page = NULL, *seen = json_object();
        struct list_tds_in in = { 0 };
        struct td_list l = { .items = items };
        json_t *token = NULL, *e;
        size_t i;
        int r;
        if ((r = list_tds_decode(req, true, &in, err)) < 0)
                return r;
        l.status = in.status;
        l.family_prefix = in.family;
        if ((r = store_list(c->s->store, "taskdef/", collect_td, &l, err)) < 0)
                return r;
        json_array_foreach(items, i, e) {
                const char *f = json_string_value(json_array_get(e, 0));
                if (!json_object_get(seen, f)) {
                        json_object_set_new(seen, f, json_true());
                        json_array_append_new(fams, json_string(f));
                }
        }
        if ((r = req_page_take(&in.page, fams, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "families", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

static int deregister_td_decode(json_t *req, char family[NAME_MAX_ECS + 1], long *ret_rev, struct err *err)
{
        const char *ref = NULL;
        int r;
        if ((r = req_str(req, NULL, "taskDefinition", true, &ref, err)) < 0 || (r = taskdef_ref_parse(ref, family, ret_rev, err)) < 0)
                return r;
        if (*ret_rev == 0)
                return err_set(err, EINVAL, E_CLIENT,
                               "Task definition '%s' has no revision: deregistering needs family:revision or a full ARN.", ref);
        return 0;
}

int op_deregister_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        char family[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 32];
        json_t *td;
        long rev;
        int r;
        /* the decoder: family:revision or ARN, parsed */
        if ((r = deregister_td_decode(req, family, &rev, err)) < 0)
                return r;
        taskdef_key(key, sizeof key, family, rev);
        r = store_get(c->s->store, key, &rec, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_CLIENT, "The specified task definition does not exist.");
        if (r < 0)
                return r;
        td = json_object_get(rec, "taskDefinition");
        if (strcmp(jstr(td, "status") ?: "", "ACTIVE") == 0) {
                json_object_set_new(td, "status", json_string("INACTIVE"));
                json_object_set_new(td, "deregisteredAt", jtime(now_epoch()));
                if ((r = store_put(c->s->store, key, rec, err)) < 0)
                        return r;
                log_info("op=DeregisterTaskDefinition taskdef=%s:%ld", family, rev);
        }
        *ret = json_pack("{s:O}", "taskDefinition", td);
        return 0;
}
