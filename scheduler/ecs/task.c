/* task.c: task records ("task/CLUSTER/ID"): keys, loads, the public shape; StopTask,
 * DescribeTasks, ListTasks and the GetTaskLogs extension. RunTask is runtask.c's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "cluster.h"
#include "instance.h"
#include "lifecycle.h"
#include "task.h"

#define LOG_CHUNK_MAX (1024 * 1024)
#define LOG_LINES_MAX 10000

void task_key(char *buf, size_t size, const char *cluster, const char *id)
{
        snprintf(buf, size, "task/%s/%s", cluster, id);
}

int task_put(struct sched *s, json_t *rec, struct err *err)
{
        char key[NAME_MAX_ECS + 64];
        json_t *ebx = json_object_get(rec, "ebx");
        task_key(key, sizeof key, jstr(ebx, "cluster") ?: "", jstr(ebx, "id") ?: "");
        return store_put(s->store, key, rec, err);
}

json_t *task_shape(json_t *rec, bool tags)
{
        /* A shallow copy: the members are shared with rec (callers do not change either). */
        json_t *out = json_object(), *v;
        const char *k;
        if (!out)
                return NULL;
        json_object_foreach(rec, k, v)
                if (strcmp(k, "ebx") != 0 && (tags || strcmp(k, "tags") != 0))
                        json_object_set(out, k, v);
        return out;
}

static int collect_task(const char *key, json_t *v, void *userdata)
{
        json_t **a = userdata;
        if (!json_is_true(a[1]) && strcmp(jstr(v, "lastStatus") ?: "", "STOPPED") == 0)
                return 0;
        json_array_append(a[0], v);
        return 0;
}

int task_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err)
{
        char prefix[NAME_MAX_ECS + 16];
        json_t *a[2] = { json_array(), json_boolean(all) };
        int r;
        if (cluster)
                snprintf(prefix, sizeof prefix, "task/%s/", cluster);
        else
                snprintf(prefix, sizeof prefix, "task/");
        r = store_list(s->store, prefix, collect_task, a, err);
        json_decref(a[1]);
        if (r < 0) {
                json_decref(a[0]);
                return r;
        }
        *ret = a[0];
        return 0;
}

/* A task by id or ARN ("…:task/CLUSTER/ID" names its cluster; the legacy "task/ID" does not). */
/* The store key of a task named by id or ARN (an ARN's cluster wins); -ENOENT when malformed. */
static int task_ref_key(const char *cluster, const char *ref, char key[NAME_MAX_ECS + 64])
{
        char cl[NAME_MAX_ECS + 1];
        const char *id = arn_last(ref), *p;
        snprintf(cl, sizeof cl, "%s", cluster);
        if (strncmp(ref, "arn:", 4) == 0 && (p = strstr(ref, ":task/"))) {
                const char *a = p + 6, *slash = strchr(a, '/');
                if (slash && (size_t) (slash - a) <= NAME_MAX_ECS) {
                        memcpy(cl, a, (size_t) (slash - a));
                        cl[slash - a] = '\0';
                }
        }
        if (!hex32_valid(id) || !name_valid(cl))
                return -ENOENT;
        task_key(key, NAME_MAX_ECS + 64, cl, id);
        return 0;
}

int task_load(struct sched *s, const char *cluster, const char *ref, json_t **ret, char ret_key[NAME_MAX_ECS + 64],
                     struct err *err)
{
        int r = task_ref_key(cluster, ref, ret_key);
        return r < 0 ? r : store_get(s->store, ret_key, ret, err);
}

/* task_load's read-only twin: *ret is borrowed (see store_peek). */
static int task_peek(struct sched *s, const char *cluster, const char *ref, json_t **ret, struct err *err)
{
        char key[NAME_MAX_ECS + 64];
        int r = task_ref_key(cluster, ref, key);
        return r < 0 ? r : store_peek(s->store, key, ret, err);
}

json_t *container_def_find(json_t *defs, const char *name)
{
        json_t *d;
        size_t i;
        json_array_foreach(defs, i, d)
                if (strcmp(jstr(d, "name") ?: "", name) == 0)
                        return d;
        return NULL;
}

/* ---- StopTask, DescribeTasks, ListTasks ---- */

int op_stop_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL;
        const char *ref = NULL, *reason = NULL;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 64];
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 || (r = req_str(req, NULL, "task", true, &ref, err)) < 0 ||
            (r = req_str(req, NULL, "reason", false, &reason, err)) < 0)
                return r;
        if (reason && strlen(reason) > 255)
                return err_set(err, EINVAL, E_PARAM, "reason can be at most 255 characters long.");
        r = task_load(c->s, cname, ref, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The referenced task was not found.");
        if (r < 0)
                return r;
        if (strcmp(jstr(rec, "desiredStatus") ?: "", "STOPPED") != 0) {
                json_object_set_new(rec, "desiredStatus", json_string("STOPPED"));
                json_object_set_new(rec, "stopCode", json_string("UserInitiated"));
                json_object_set_new(rec, "stoppedReason", json_string(reason && *reason ? reason : "Task stopped by user"));
                json_object_set_new(rec, "version", json_integer(jint(rec, "version", 1) + 1));
                if ((r = store_put(c->s->store, key, rec, err)) < 0)
                        return r;
                log_info("op=StopTask cluster=%s task=%s reason=\"%s\"", cname, jstr(json_object_get(rec, "ebx"), "id"), reason ?: "");
                task_kick(c->s, jstr(json_object_get(rec, "ebx"), "id"), key);
        }
        *ret = json_pack("{s:o}", "task", task_shape(rec, true));
        return 0;
}

int op_describe_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        char cname[NAME_MAX_ECS + 1];
        bool tags = req_include_tags(req);
        json_t *refs = NULL, *e;
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 || (r = req_str_list(req, NULL, "tasks", true, 100, &refs, err)) < 0)
                return r;
        json_array_foreach(refs, i, e) {
                json_t *rec = NULL;
                r = task_peek(c->s, cname, json_string_value(e), &rec, err);
                if (r == -ENOENT) {
                        char arn[ARN_MAX];
                        arn_task(c, cname, json_string_value(e), arn);
                        failure_missing(failures, json_string_value(e), arn);
                        continue;
                }
                if (r < 0)
                        return r;
                /* shallow: it holds references to the cached record's members, which nobody changes */
                json_array_append_new(out, task_shape(rec, tags));
        }
        *ret = json_pack("{s:O, s:O}", "tasks", out, "failures", failures);
        return 0;
}

static int cmp_created(const void *a, const void *b)
{
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        double tx = json_number_value(json_object_get(x, "createdAt")), ty = json_number_value(json_object_get(y, "createdAt"));
        if (tx != ty)
                return tx < ty ? -1 : 1;
        return strcmp(jstr(x, "taskArn") ?: "", jstr(y, "taskArn") ?: "");
}

int op_list_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *tasks = NULL, *arns = json_array(), *page = NULL;
        const char *inst = NULL, *family = NULL, *started_by = NULL, *service = NULL, *desired = "RUNNING", *launch = NULL;
        char cname[NAME_MAX_ECS + 1], fam_arn_prefix[ARN_MAX], service_group[NAME_MAX_ECS + 16];
        json_t *token = NULL, **v = NULL, *t;
        size_t i, n, m = 0;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str(req, NULL, "containerInstance", false, &inst, err)) < 0 || (r = req_str(req, NULL, "family", false, &family, err)) < 0 ||
            (r = req_str(req, NULL, "startedBy", false, &started_by, err)) < 0 ||
            (r = req_str(req, NULL, "serviceName", false, &service, err)) < 0 ||
            (r = req_str(req, NULL, "desiredStatus", false, &desired, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &launch, err)) < 0)
                return r;
        if (strcmp(desired, "RUNNING") != 0 && strcmp(desired, "PENDING") != 0 && strcmp(desired, "STOPPED") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid desiredStatus '%s': expected RUNNING, PENDING or STOPPED.", desired);
        if (launch && strcmp(launch, "EC2") != 0 && strcmp(launch, "FARGATE") != 0 && strcmp(launch, "EXTERNAL") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid launchType '%s': expected EC2, FARGATE or EXTERNAL.", launch);
        if (inst) {
                json_t *irec = NULL;
                r = instance_get(c->s, cname, inst, true, &irec, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, E_PARAM, "The container instance '%s' was not found in cluster '%s'.", inst, cname);
                if (r < 0)
                        return r;
                inst = NULL;
                snprintf(fam_arn_prefix, sizeof fam_arn_prefix, "%s", jstr(irec, "containerInstanceArn"));
                json_decref(irec);
                inst = fam_arn_prefix;
        }
        if (service)
                snprintf(service_group, sizeof service_group, "service:%s", arn_last(service));
        if ((r = task_list(c->s, cname, true, &tasks, err)) < 0)
                return r;
        n = json_array_size(tasks);
        v = calloc(n + 1, sizeof *v);
        if (!v)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(tasks, i, t) {
                const char *d = jstr(t, "desiredStatus") ?: "";
                if (strcmp(d, desired) != 0)
                        continue;
                if (inst && strcmp(jstr(t, "containerInstanceArn") ?: "", inst) != 0)
                        continue;
                if (family) {
                        /* the family of the task definition ARN "…:task-definition/FAMILY:REV" */
                        const char *tda = jstr(t, "taskDefinitionArn") ?: "", *p = strstr(tda, ":task-definition/");
                        size_t fl = strlen(family);
                        if (!p || strncmp(p + 17, family, fl) != 0 || p[17 + fl] != ':')
                                continue;
                }
                if (started_by && strcmp(jstr(t, "startedBy") ?: "", started_by) != 0)
                        continue;
                if (service && strcmp(jstr(t, "group") ?: "", service_group) != 0)
                        continue;
                if (launch && strcmp(jstr(t, "launchType") ?: "", launch) != 0)
                        continue;
                v[m++] = t;
        }
        qsort(v, m, sizeof *v, cmp_created);
        for (i = 0; i < m; i++)
                json_array_append_new(arns, json_string(jstr(v[i], "taskArn")));
        free(v);
        if ((r = req_page(req, arns, 100, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "taskArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

/* GetTaskLogs (ecsbox): lines of dir/logs/<container>.log from a byte offset. */
int op_get_task_logs(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL, *events = json_array();
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        const char *ref = NULL, *container = NULL, *dir;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 64], path[SCHED_PATH_MAX * 2];
        long long offset = 0, limit = LOG_CHUNK_MAX;
        json_t *defs, *d;
        ssize_t got;
        size_t i, start = 0, lines = 0, used = 0;
        int r;

        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 || (r = req_str(req, NULL, "task", true, &ref, err)) < 0 ||
            (r = req_str(req, NULL, "container", false, &container, err)) < 0 ||
            (r = req_int(req, NULL, "offset", false, 0, LLONG_MAX, &offset, err)) < 0 ||
            (r = req_int(req, NULL, "limit", false, 1, LOG_CHUNK_MAX, &limit, err)) < 0)
                return r;
        r = task_load(c->s, cname, ref, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The referenced task was not found.");
        if (r < 0)
                return r;
        defs = json_object_get(json_object_get(rec, "ebx"), "containers");
        if (!container) {
                if (json_array_size(defs) != 1) {
                        char names[512] = "";
                        json_array_foreach(defs, i, d) {
                                strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
                                strncat(names, jstr(d, "name") ?: "", sizeof names - strlen(names) - 1);
                        }
                        return err_set(err, EINVAL, E_PARAM, "container is required: the task has several containers (%s).", names);
                }
                container = jstr(json_array_get(defs, 0), "name");
        } else if (!container_def_find(defs, container))
                return err_set(err, ENOENT, E_PARAM, "The task has no container named '%s'.", container);
        dir = jstr(json_object_get(rec, "ebx"), "dir");
        *ret = NULL;
        if (!dir) {
                *ret = json_pack("{s:[], s:I}", "events", "nextOffset", (json_int_t) offset);
                return 0;
        }
        snprintf(path, sizeof path, "%s/logs/%s.log", dir, container);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = json_pack("{s:[], s:I}", "events", "nextOffset", (json_int_t) offset);
                        return 0;
                }
                return err_set(err, errno, NULL, "open '%s': %s", path, strerror(errno));
        }
        buf = malloc((size_t) limit + 1);
        if (!buf)
                return err_set(err, ENOMEM, NULL, "out of memory");
        got = pread(fd, buf, (size_t) limit, (off_t) offset);
        if (got < 0)
                return err_set(err, errno, NULL, "read '%s': %s", path, strerror(errno));
        /* whole lines only; a last line without its newline waits for the next call */
        for (i = 0; i < (size_t) got && lines < LOG_LINES_MAX; i++)
                if (buf[i] == '\n') {
                        json_array_append_new(events, json_pack("{s:s, s:s%}", "container", container, "line", buf + start, i - start));
                        start = i + 1;
                        used = start;
                        lines++;
                }
        /* a single line longer than the limit is cut rather than blocking the reader forever */
        if (used == 0 && (size_t) got == (size_t) limit) {
                json_array_append_new(events, json_pack("{s:s, s:s%}", "container", container, "line", buf, (size_t) got));
                used = (size_t) got;
        }
        *ret = json_pack("{s:O, s:I}", "events", events, "nextOffset", (json_int_t) (offset + (long long) used));
        return 0;
}
