/* task_protect.c: GetTaskProtection and UpdateTaskProtection on service tasks, with ECS's
 * failures (MISSING for a task that is not there, TASK_NOT_VALID for a standalone or stopped one). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "cluster.h"
#include "task.h"
#include "task_protect.h"

int task_protect_decode(json_t *req, bool get, struct task_protect_in *ret, struct err *err)
{
        static const char *const get_keys[] = { "cluster", "tasks", NULL };
        static const char *const update_keys[] = { "cluster", "tasks", "protectionEnabled", "expiresInMinutes", NULL };
        struct task_protect_in in = { .minutes = TASK_PROTECT_DEFAULT_MIN };
        int r;
        if ((r = req_check_keys(req, get ? get_keys : update_keys, err)) < 0 ||
            (r = req_str(req, NULL, "cluster", true, &in.cluster, err)) < 0 ||
            (r = req_str_list(req, NULL, "tasks", !get, get ? 100 : 10, &in.tasks, err)) < 0)
                return r;
        if (!get) {
                if ((r = req_bool(req, NULL, "protectionEnabled", true, &in.enabled, err)) < 0 ||
                    (r = req_int(req, NULL, "expiresInMinutes", false, 1, TASK_PROTECT_MAX_MIN, &in.minutes, err)) < 0)
                        return r;
                if (json_array_size(in.tasks) == 0)
                        return err_set(err, EINVAL, E_PARAM, "tasks must hold 1 to 10 task IDs or ARNs.");
        }
        *ret = in;
        return 0;
}

bool task_protected(json_t *rec, double now)
{
        json_t *until = json_object_get(json_object_get(rec, "ebx"), "protectedUntil");
        return until && json_number_value(until) > now;
}

static json_t *protected_shape(json_t *rec, double now)
{
        json_t *out = json_pack("{s:s, s:b}", "taskArn", jstr(rec, "taskArn") ?: "", "protectionEnabled", task_protected(rec, now));
        if (task_protected(rec, now))
                json_object_set_new(out, "expirationDate", jtime(json_number_value(json_object_get(json_object_get(rec, "ebx"), "protectedUntil"))));
        return out;
}

static bool service_task(json_t *rec)
{
        return strncmp(jstr(rec, "group") ?: "", "service:", 8) == 0;
}

static int collect_service_task(const char *key, json_t *v, void *userdata)
{
        if (service_task(v) && strcmp(jstr(v, "lastStatus") ?: "", "STOPPED") != 0)
                json_array_append_new(userdata, json_string(jstr(v, "taskArn") ?: ""));
        return 0;
}

/* One task of the request: its record, or a failure appended. */
static int protect_target(struct api_ctx *c, const char *cname, const char *ref, json_t *failures, json_t **ret,
                          char key[TASK_KEY_MAX], struct err *err)
{
        char arn[ARN_MAX];
        json_t *rec = NULL;
        int r = task_load(c->s, cname, ref, &rec, key, err);
        if (r == -ENOENT) {
                arn_task(c, cname, arn_last(ref), arn);
                json_array_append_new(failures, json_pack("{s:s, s:s}", "arn", strncmp(ref, "arn:", 4) == 0 ? ref : arn, "reason", "MISSING"));
                return 0;
        }
        if (r < 0)
                return r;
        if (!service_task(rec) || strcmp(jstr(rec, "lastStatus") ?: "", "STOPPED") == 0 ||
            strcmp(jstr(rec, "desiredStatus") ?: "", "STOPPED") == 0) {
                json_array_append_new(failures, json_pack("{s:s, s:s, s:s}", "arn", jstr(rec, "taskArn") ?: ref, "reason", "TASK_NOT_VALID",
                                                          "detail", service_task(rec) ? "The task is stopping or stopped."
                                                                                      : "The task is not part of a service."));
                json_decref(rec);
                return 0;
        }
        *ret = rec;
        return 1;
}

static int task_protection(struct api_ctx *c, json_t *req, bool get, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *protected = json_array(), *failures = json_array(), *all = NULL;
        struct task_protect_in in;
        char cname[NAME_MAX_ECS + 1], prefix[NAME_MAX_ECS + 16];
        double now = now_epoch();
        json_t *refs, *e;
        size_t i;
        int r;
        if ((r = task_protect_decode(req, get, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        refs = in.tasks;
        if (!refs) {
                refs = all = json_array();
                snprintf(prefix, sizeof prefix, "task/%s/", cname);
                if ((r = store_list(c->s->store, prefix, collect_service_task, all, err)) < 0)
                        return r;
        }
        json_array_foreach(refs, i, e) {
                _cleanup_json_ json_t *rec = NULL;
                char key[TASK_KEY_MAX];
                if ((r = protect_target(c, cname, json_string_value(e), failures, &rec, key, err)) < 0)
                        return r;
                if (r == 0)
                        continue;
                if (!get) {
                        json_t *ebx = json_object_get(rec, "ebx");
                        if (in.enabled)
                                json_object_set_new(ebx, "protectedUntil", json_real(now + (double) in.minutes * 60));
                        else
                                json_object_del(ebx, "protectedUntil");
                        if ((r = store_put(c->s->store, key, rec, err)) < 0)
                                return r;
                        log_info("op=UpdateTaskProtection task=%s enabled=%d minutes=%lld", jstr(rec, "taskArn"), in.enabled, in.minutes);
                }
                json_array_append_new(protected, protected_shape(rec, now));
        }
        *ret = json_pack("{s:O, s:O}", "protectedTasks", protected, "failures", failures);
        return 0;
}

int op_get_task_protection(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return task_protection(c, req, true, ret, err);
}

int op_update_task_protection(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return task_protection(c, req, false, ret, err);
}
