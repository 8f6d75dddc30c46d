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
        if (tags && !json_object_get(out, "tags"))
                json_object_set_new(out, "tags", json_array());   /* include TAGS: the list, even empty */
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

/* ---- StopTask, DescribeTasks, ListTasks ---- */

struct stop_task_in {
        const char *cluster, *task, *reason;
};

static int stop_task_decode(json_t *req, struct stop_task_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "task", true, &in->task, err)) < 0 || (r = req_str(req, NULL, "reason", false, &in->reason, err)) < 0)
                return r;
        if (in->reason && strlen(in->reason) > 255)
                return err_set(err, EINVAL, E_PARAM, "reason can be at most 255 characters long.");
        return 0;
}

int op_stop_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL;
        struct stop_task_in in = { 0 };
        char cname[NAME_MAX_ECS + 1], key[TASK_KEY_MAX];
        const char *id;
        int r;
        if ((r = stop_task_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        r = task_load(c->s, cname, in.task, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The referenced task was not found.");
        if (r < 0)
                return r;
        id = jstr(json_object_get(rec, "ebx"), "id");
        if (strcmp(jstr(rec, "desiredStatus") ?: "", "STOPPED") != 0) {
                json_object_set_new(rec, "desiredStatus", json_string("STOPPED"));
                json_object_set_new(rec, "stopCode", json_string("UserInitiated"));
                json_object_set_new(rec, "stoppedReason", json_string(in.reason && *in.reason ? in.reason : "Task stopped by user"));
                json_object_set_new(rec, "version", json_integer(jint(rec, "version", 1) + 1));
                if ((r = store_put(c->s->store, key, rec, err)) < 0)
                        return r;
                log_info("op=StopTask cluster=%s task=%s reason=\"%s\"", cname, id, in.reason ?: "");
                task_kick(c->s, id, key);
        }
        *ret = json_pack("{s:o}", "task", task_shape(rec, true));
        return 0;
}

int op_describe_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        struct describe_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        json_t *e;
        size_t i;
        int r;
        if ((r = describe_decode(req, "tasks", 100, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        json_array_foreach(in.refs, i, e) {
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
                json_array_append_new(out, task_shape(rec, in.tags));
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

struct list_tasks_in {
        const char *cluster, *instance, *family, *started_by, *service, *desired, *launch;
        struct req_page page;
};

static int list_tasks_decode(json_t *req, struct list_tasks_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        in->desired = "RUNNING";
        if ((r = req_str(req, NULL, "containerInstance", false, &in->instance, err)) < 0 ||
            (r = req_str(req, NULL, "family", false, &in->family, err)) < 0 ||
            (r = req_str(req, NULL, "startedBy", false, &in->started_by, err)) < 0 ||
            (r = req_str(req, NULL, "serviceName", false, &in->service, err)) < 0 ||
            (r = req_str(req, NULL, "desiredStatus", false, &in->desired, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &in->launch, err)) < 0)
                return r;
        if (strcmp(in->desired, "RUNNING") != 0 && strcmp(in->desired, "PENDING") != 0 && strcmp(in->desired, "STOPPED") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid desiredStatus '%s': expected RUNNING, PENDING or STOPPED.", in->desired);
        if (in->launch && strcmp(in->launch, "EC2") != 0 && strcmp(in->launch, "FARGATE") != 0 && strcmp(in->launch, "EXTERNAL") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid launchType '%s': expected EC2, FARGATE or EXTERNAL.", in->launch);
        return req_page_decode(req, 100, &in->page, err);
}

/* ListTasks' filters: the instance's ARN and the service's group are resolved by the caller. */
static bool task_matches(json_t *t, const struct list_tasks_in *in, const char *inst_arn, const char *group)
{
        if (strcmp(jstr(t, "desiredStatus") ?: "", in->desired) != 0)
                return false;
        if (inst_arn && strcmp(jstr(t, "containerInstanceArn") ?: "", inst_arn) != 0)
                return false;
        if (in->family) {
                /* the family of the task definition ARN "…:task-definition/FAMILY:REV" */
                const char *tda = jstr(t, "taskDefinitionArn") ?: "", *p = strstr(tda, ":task-definition/");
                size_t fl = strlen(in->family);
                if (!p || strncmp(p + 17, in->family, fl) != 0 || p[17 + fl] != ':')
                        return false;
        }
        if (in->started_by && strcmp(jstr(t, "startedBy") ?: "", in->started_by) != 0)
                return false;
        if (group && strcmp(jstr(t, "group") ?: "", group) != 0)
                return false;
        return !in->launch || strcmp(jstr(t, "launchType") ?: "", in->launch) == 0;
}

/* The ARNs of the matching tasks, oldest first. */
static int matching_arns(struct sched *s, const char *cname, const struct list_tasks_in *in, const char *inst_arn, const char *group,
                         json_t *arns, struct err *err)
{
        _cleanup_json_ json_t *tasks = NULL;
        json_t **v, *t;
        size_t i, m = 0;
        int r;
        if ((r = task_list(s, cname, true, &tasks, err)) < 0)
                return r;
        v = calloc(json_array_size(tasks) + 1, sizeof *v);
        if (!v)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(tasks, i, t)
                if (task_matches(t, in, inst_arn, group))
                        v[m++] = t;
        qsort(v, m, sizeof *v, cmp_created);
        for (i = 0; i < m; i++)
                json_array_append_new(arns, json_string(jstr(v[i], "taskArn")));
        free(v);
        return 0;
}

int op_list_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *arns = json_array(), *page = NULL;
        struct list_tasks_in in = { 0 };
        char cname[NAME_MAX_ECS + 1], inst_arn[ARN_MAX], group[NAME_MAX_ECS + 16];
        json_t *token = NULL;
        int r;
        if ((r = list_tasks_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        if (in.instance) {
                _cleanup_json_ json_t *irec = NULL;
                r = instance_get(c->s, cname, in.instance, true, &irec, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, E_PARAM, "The container instance '%s' was not found in cluster '%s'.", in.instance,
                                       cname);
                if (r < 0)
                        return r;
                snprintf(inst_arn, sizeof inst_arn, "%s", jstr(irec, "containerInstanceArn"));
        }
        if (in.service)
                snprintf(group, sizeof group, "service:%s", arn_last(in.service));
        if ((r = matching_arns(c->s, cname, &in, in.instance ? inst_arn : NULL, in.service ? group : NULL, arns, err)) < 0 ||
            (r = req_page_take(&in.page, arns, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "taskArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

struct task_logs_in {
        const char *cluster, *task, *container;      /* container NULL: the task's only one */
        long long offset, limit;
};

static int task_logs_decode(json_t *req, struct task_logs_in *in, struct err *err)
{
        int r;
        in->cluster = cluster_param(req);
        in->limit = LOG_CHUNK_MAX;
        if ((r = req_str(req, NULL, "task", true, &in->task, err)) < 0 || (r = req_str(req, NULL, "container", false, &in->container, err)) < 0 ||
            (r = req_int(req, NULL, "offset", false, 0, LLONG_MAX, &in->offset, err)) < 0 ||
            (r = req_int(req, NULL, "limit", false, 1, LOG_CHUNK_MAX, &in->limit, err)) < 0)
                return r;
        return 0;
}

/* The container whose log is read: the one named, else the task's only one. */
static int logs_container(json_t *rec, const char *name, const char **ret, struct err *err)
{
        json_t *defs = json_object_get(json_object_get(rec, "ebx"), "containers"), *d;
        size_t i;
        if (name) {
                if (!jfind(defs, "name", name))
                        return err_set(err, ENOENT, E_PARAM, "The task has no container named '%s'.", name);
                *ret = name;
                return 0;
        }
        if (json_array_size(defs) != 1) {
                char names[512] = "";
                json_array_foreach(defs, i, d) {
                        strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
                        strncat(names, jstr(d, "name") ?: "", sizeof names - strlen(names) - 1);
                }
                return err_set(err, EINVAL, E_PARAM, "container is required: the task has several containers (%s).", names);
        }
        *ret = jstr(json_array_get(defs, 0), "name");
        return 0;
}

/* Whole lines of buf (got bytes read at offset) as events; *ret_used: the bytes they cover. */
static json_t *log_events(const char *container, const char *buf, size_t got, size_t limit, size_t *ret_used)
{
        json_t *events = json_array();
        size_t i, start = 0, lines = 0, used = 0;
        /* whole lines only; a last line without its newline waits for the next call */
        for (i = 0; i < got && lines < LOG_LINES_MAX; i++)
                if (buf[i] == '\n') {
                        json_array_append_new(events, json_pack("{s:s, s:s%}", "container", container, "line", buf + start, i - start));
                        start = i + 1;
                        used = start;
                        lines++;
                }
        /* a single line longer than the limit is cut rather than blocking the reader forever */
        if (used == 0 && got == limit) {
                json_array_append_new(events, json_pack("{s:s, s:s%}", "container", container, "line", buf, got));
                used = got;
        }
        *ret_used = used;
        return events;
}

/* GetTaskLogs (ecsbox): lines of dir/logs/<container>.log from a byte offset. */
int op_get_task_logs(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL, *events = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct task_logs_in in = { 0 };
        const char *container = NULL, *dir;
        char cname[NAME_MAX_ECS + 1], key[TASK_KEY_MAX], path[SCHED_PATH_MAX * 2];
        size_t used = 0;
        ssize_t got;
        int r;

        if ((r = task_logs_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        r = task_load(c->s, cname, in.task, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The referenced task was not found.");
        if (r < 0 || (r = logs_container(rec, in.container, &container, err)) < 0)
                return r;
        dir = jstr(json_object_get(rec, "ebx"), "dir");
        if (!dir) {
                *ret = json_pack("{s:[], s:I}", "events", "nextOffset", (json_int_t) in.offset);
                return 0;
        }
        snprintf(path, sizeof path, "%s/logs/%s.log", dir, container);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = json_pack("{s:[], s:I}", "events", "nextOffset", (json_int_t) in.offset);
                        return 0;
                }
                return err_set(err, errno, NULL, "open '%s': %s", path, strerror(errno));
        }
        buf = malloc((size_t) in.limit + 1);
        if (!buf)
                return err_set(err, ENOMEM, NULL, "out of memory");
        got = pread(fd, buf, (size_t) in.limit, (off_t) in.offset);
        if (got < 0)
                return err_set(err, errno, NULL, "read '%s': %s", path, strerror(errno));
        events = log_events(container, buf, (size_t) got, (size_t) in.limit, &used);
        *ret = json_pack("{s:O, s:I}", "events", events, "nextOffset", (json_int_t) (in.offset + (long long) used));
        return 0;
}
