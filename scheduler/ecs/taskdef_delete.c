/* taskdef_delete.c: DeleteTaskDefinitions. Only INACTIVE revisions can be deleted; they turn
 * DELETE_IN_PROGRESS and their record goes as soon as no task that is not STOPPED and no
 * service deployment uses them (at once, or at a later sweep). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "taskdef.h"

#define DELETE_TDS_MAX 10

int delete_tds_decode(json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "taskDefinitions", NULL };
        json_t *refs = NULL;
        int r;
        if ((r = req_check_keys(req, keys, err)) < 0 || (r = req_str_list(req, NULL, "taskDefinitions", true, 0, &refs, err)) < 0)
                return r;
        if (json_array_size(refs) == 0)
                return err_set(err, EINVAL, E_PARAM, "size of TaskDefinition references list must be greater than 0");
        if (json_array_size(refs) > DELETE_TDS_MAX)
                return err_set(err, EINVAL, E_PARAM, "Size of TaskDefinition references list cannot exceed %d", DELETE_TDS_MAX);
        *ret = refs;
        return 0;
}

struct td_users {
        const char *arn;
        bool used;
};

static int task_uses(const char *key, json_t *v, void *userdata)
{
        struct td_users *u = userdata;
        if (strcmp(jstr(v, "lastStatus") ?: "", "STOPPED") != 0 && strcmp(jstr(v, "taskDefinitionArn") ?: "", u->arn) == 0) {
                u->used = true;
                return -1;
        }
        return 0;
}

static int service_uses(const char *key, json_t *v, void *userdata)
{
        struct td_users *u = userdata;
        json_t *d;
        size_t i;
        if (strcmp(jstr(v, "status") ?: "", "INACTIVE") == 0)
                return 0;
        json_array_foreach(json_object_get(v, "deployments"), i, d)
                if (strcmp(jstr(d, "taskDefinition") ?: "", u->arn) == 0) {
                        u->used = true;
                        return -1;
                }
        return 0;
}

static int taskdef_in_use(struct sched *s, const char *arn, bool *ret, struct err *err)
{
        struct td_users u = { .arn = arn };
        int r = store_list(s->store, "task/", task_uses, &u, err);
        if (r < 0 && r != -1)
                return r;
        if (!u.used && (r = store_list(s->store, "service/", service_uses, &u, err)) < 0 && r != -1)
                return r;
        *ret = u.used;
        return 0;
}

/* Removes the record of a DELETE_IN_PROGRESS revision when nothing uses it any more. */
static int taskdef_reap(struct sched *s, const char *key, json_t *td, struct err *err)
{
        bool used = false;
        int r;
        if ((r = taskdef_in_use(s, jstr(td, "taskDefinitionArn") ?: "", &used, err)) < 0 || used)
                return r;
        if ((r = store_del(s->store, key, err)) < 0)
                return r;
        log_info("msg=\"task definition deleted\" taskdef=%s", jstr(td, "taskDefinitionArn"));
        return 0;
}

static int collect_deleting(const char *key, json_t *v, void *userdata)
{
        if (strcmp(jstr(json_object_get(v, "taskDefinition"), "status") ?: "", "DELETE_IN_PROGRESS") == 0)
                json_object_set(userdata, key, json_object_get(v, "taskDefinition"));
        return 0;
}

void taskdefs_sweep(struct sched *s)
{
        _cleanup_json_ json_t *due = json_object();
        struct err err = { 0 };
        const char *key;
        json_t *td;
        if (store_list(s->store, "taskdef/", collect_deleting, due, &err) < 0) {
                log_warning("msg=\"task definition sweep failed, ignoring\" err=\"%s\"", err.msg);
                return;
        }
        json_object_foreach(due, key, td)
                if (taskdef_reap(s, key, td, &err) < 0)
                        log_warning("msg=\"task definition sweep failed, ignoring\" key=%s err=\"%s\"", key, err.msg);
}

static void failure_add(json_t *failures, const char *arn, const char *reason)
{
        json_array_append_new(failures, json_pack("{s:s, s:s}", "arn", arn, "reason", reason));
}

int op_delete_task_definitions(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *done = json_array(), *failures = json_array();
        json_t *refs = NULL, *e;
        size_t i;
        int r;
        if ((r = delete_tds_decode(req, &refs, err)) < 0)
                return r;
        json_array_foreach(refs, i, e) {
                const char *ref = json_string_value(e);
                char family[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 32], arn[ARN_MAX];
                _cleanup_json_ json_t *rec = NULL;
                struct err perr = { 0 };
                const char *st;
                json_t *td;
                long rev = 0;
                if (taskdef_ref_parse(ref, family, &rev, &perr) < 0 || rev == 0) {
                        failure_add(failures, ref,
                                    "The specified task definition identifier is invalid. Specify a valid name or ARN and try again.");
                        continue;
                }
                arn_taskdef(c, family, rev, arn);
                snprintf(key, sizeof key, "taskdef/%s/%08ld", family, rev);
                r = store_get(c->s->store, key, &rec, err);
                if (r == -ENOENT) {
                        failure_add(failures, arn,
                                    "The specified task definition does not exist. Specify a valid account, family, revision and try again.");
                        continue;
                }
                if (r < 0)
                        return r;
                td = json_object_get(rec, "taskDefinition");
                st = jstr(td, "status") ?: "";
                if (strcmp(st, "ACTIVE") == 0) {
                        failure_add(failures, arn,
                                    "The specified task definition is still in ACTIVE status. Please deregister the target and try again.");
                        continue;
                }
                if (strcmp(st, "DELETE_IN_PROGRESS") != 0) {
                        json_object_set_new(td, "status", json_string("DELETE_IN_PROGRESS"));
                        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                                return r;
                        log_info("op=DeleteTaskDefinitions taskdef=%s:%ld", family, rev);
                }
                json_array_append(done, td);
                if ((r = taskdef_reap(c->s, key, td, err)) < 0)
                        return r;
        }
        *ret = json_pack("{s:O, s:O}", "taskDefinitions", done, "failures", failures);
        return 0;
}
