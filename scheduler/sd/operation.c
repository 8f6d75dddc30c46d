/* operation.c: Cloud Map operations (GetOperation, ListOperations) and the ids of namespaces, services
 * and operations. AWS runs namespace and instance changes asynchronously; ecsbox finishes them before
 * answering, so every operation is recorded SUCCESS at once (as moto does). */
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
#include "sd.h"
#include "sd_req.h"


#define OPS_KEEP_S (7 * 86400.0)   /* finished operations stay this long (GetOperation, ListOperations) */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static int random_alnum(char *buf, size_t n)
{
        unsigned char b[64];
        int r;
        if (n > sizeof b)
                return -EINVAL;
        if ((r = random_bytes(b, n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                buf[i] = alnum[b[i] % 36];
        buf[n] = '\0';
        return 0;
}

int sd_id_new(const char *prefix, char buf[SD_ID_MAX])
{
        size_t p = strlen(prefix);
        if (p + 1 + SD_ID_LEN + 1 > SD_ID_MAX)
                return -EINVAL;
        memcpy(buf, prefix, p);
        buf[p] = '-';
        return random_alnum(buf + p + 1, SD_ID_LEN);
}

int sd_op_id_new(char buf[SD_OP_ID_MAX])
{
        int r;
        if ((r = random_alnum(buf, 32)) < 0)
                return r;
        buf[32] = '-';
        return random_alnum(buf + 33, 8);
}

int sd_operation_record(struct sched *s, const char *type, json_t *targets, char ret_id[SD_OP_ID_MAX], struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        char id[SD_OP_ID_MAX], key[SD_KEY_MAX];
        double now = now_epoch();
        int r;
        if ((r = sd_op_id_new(id)) < 0) {
                json_decref(targets);
                return err_set(err, -r, NULL, "operation id: %s", strerror(-r));
        }
        rec = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "Id", id, "Type", type, "Status", "SUCCESS", "CreateDate", jtime(now),
                        "UpdateDate", jtime(now), "Targets", targets);
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        snprintf(key, sizeof key, SD_OP_PREFIX "%s", id);
        if ((r = store_put(s->store, key, rec, err)) < 0)
                return r;
        if (ret_id)
                memcpy(ret_id, id, SD_OP_ID_MAX);
        return 0;
}

struct prune_walk {
        double before;
        json_t *keys;
};

static int prune_one(const char *key, json_t *v, void *userdata)
{
        struct prune_walk *w = userdata;
        if (json_number_value(json_object_get(v, "UpdateDate")) < w->before)
                json_array_append_new(w->keys, json_string(key));
        return 0;
}

void sd_operations_prune(struct sched *s)
{
        _cleanup_json_ json_t *keys = json_array();
        struct prune_walk w = { now_epoch() - OPS_KEEP_S, keys };
        struct err err = { 0 };
        json_t *k;
        size_t i;
        if (store_list(s->store, SD_OP_PREFIX, prune_one, &w, &err) < 0) {
                log_warning("msg=\"cannot list Cloud Map operations, ignoring\" err=\"%s\"", err.msg);
                return;
        }
        json_array_foreach(keys, i, k)
                if (store_del(s->store, json_string_value(k), &err) < 0)
                        log_warning("msg=\"cannot prune a Cloud Map operation, ignoring\" key=%s err=\"%s\"", json_string_value(k), err.msg);
        if (json_array_size(keys))
                log_debug("msg=\"Cloud Map operations pruned\" count=%zu", json_array_size(keys));
}

int sd_op_get_operation(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        char key[SD_KEY_MAX];
        int r;
        if ((r = req_str(req, NULL, "OperationId", true, &id, err)) < 0) {
                err_default_code(err, SD_E_INPUT);
                return r;
        }
        snprintf(key, sizeof key, SD_OP_PREFIX "%.64s", id);
        r = strlen(id) > 64 || strchr(id, '/') ? -ENOENT : store_get(c->s->store, key, &rec, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, SD_E_OP_NF, "No operation found with ID %s.", id);
        if (r < 0)
                return r;
        *ret = json_pack("{s:O}", "Operation", rec);
        return 0;
}

struct ops_walk {
        const struct sd_filters *fs;
        json_t *out;
};

static int ops_one(const char *key, json_t *v, void *userdata)
{
        struct ops_walk *w = userdata;
        json_t *targets = json_object_get(v, "Targets");
        for (size_t i = 0; i < w->fs->n; i++) {
                const struct sd_filter *f = &w->fs->f[i];
                const char *val = NULL;
                char date[32];
                if (strcmp(f->name, "NAMESPACE_ID") == 0)
                        val = jstr(targets, "NAMESPACE");
                else if (strcmp(f->name, "SERVICE_ID") == 0)
                        val = jstr(targets, "SERVICE");
                else if (strcmp(f->name, "STATUS") == 0)
                        val = jstr(v, "Status");
                else if (strcmp(f->name, "TYPE") == 0)
                        val = jstr(v, "Type");
                else {
                        snprintf(date, sizeof date, "%.3f", json_number_value(json_object_get(v, "UpdateDate")));
                        val = date;
                }
                if (!sd_filter_match(f, val))
                        return 0;
        }
        json_array_append_new(w->out, json_pack("{s:s, s:s, s:O}", "Id", jstr(v, "Id"), "Status", jstr(v, "Status"), "c",
                                                json_object_get(v, "CreateDate")));
        return 0;
}

/* Oldest first; operations of the same millisecond by id, so that pages do not move. */
static int by_date(const void *a, const void *b)
{
        json_t *p = *(json_t *const *) a, *q = *(json_t *const *) b;
        double x = json_number_value(json_object_get(p, "c")), y = json_number_value(json_object_get(q, "c"));
        if (x != y)
                return x < y ? -1 : 1;
        return strcmp(jstr(p, "Id") ?: "", jstr(q, "Id") ?: "");
}

int sd_op_list_operations(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        static const char *const names[] = { "NAMESPACE_ID", "SERVICE_ID", "STATUS", "TYPE", "UPDATE_DATE", NULL };
        static const char *const conds[] = { "EQ", "IN", "BETWEEN", NULL };
        _cleanup_json_ json_t *all = json_array(), *sorted = json_array(), *page = NULL, *token = NULL;
        struct sd_filters fs;
        struct sd_page pg;
        struct ops_walk w = { &fs, all };
        json_t **v, *o;
        size_t i, n;
        int r;
        if ((r = sd_filters_decode(req, names, conds, &fs, err)) < 0 || (r = sd_page_decode(req, 100, 100, &pg, err)) < 0)
                return r;
        if ((r = store_list(c->s->store, SD_OP_PREFIX, ops_one, &w, err)) < 0)
                return r;
        /* oldest first, as a page walk expects a stable order */
        n = json_array_size(all);
        v = calloc(n ? n : 1, sizeof *v);
        if (!v)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(all, i, o)
                v[i] = o;
        qsort(v, n, sizeof *v, by_date);
        for (i = 0; i < n; i++) {
                json_object_del(v[i], "c");
                json_array_append(sorted, v[i]);
        }
        free(v);
        sd_page_take(&pg, sorted, &page, &token);
        *ret = json_pack("{s:O}", "Operations", page);
        json_set(*ret, "NextToken", TAKE_PTR(token));
        return 0;
}
