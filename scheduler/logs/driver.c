/* driver.c: the awslogs log driver. The monitor already writes each container's stdout and
 * stderr to TASKDIR/logs/NAME.log (what `ecsbox ecs logs` reads); ecsboxd tails those files on
 * its 1 s tick and turns each new whole line into an event of the container's stream, stamped
 * with the time it was read. The tails and their offsets are rows of the logs store, so a
 * restart of ecsboxd goes on where it stopped, without losing or repeating lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../sched.h"
#include "logs.h"
#include "logs_req.h"
#include "logstore.h"

#define READ_MAX (4 * 1024 * 1024)      /* bytes read from one file per tick */
#define LINE_MAX_BYTES 262118           /* longer lines are split, as Docker's awslogs does (256 KiB - 26) */

static const char *opt(json_t *opts, const char *key)
{
        return jstr(opts, key);
}

/* ECS: PREFIX/CONTAINER/TASK_ID; without a prefix the stream is named after the container's
 * runtime id (Docker's container id on EC2), known once the monitor started it: "" until then. */
static void stream_name(json_t *opts, const char *cname, const char *task_id, char *buf, size_t size)
{
        const char *prefix = opt(opts, "awslogs-stream-prefix");
        if (prefix && *prefix)
                snprintf(buf, size, "%s/%s/%s", prefix, cname, task_id);
        else
                buf[0] = '\0';
}

static int ensure_stream(struct logstore *ls, const char *group, const char *stream, struct err *err)
{
        int r = logs_stream_name_check(stream, err);
        if (r == 0)
                r = logstore_stream_create(ls, group, stream, logs_now_ms(), err);
        if (r == -EEXIST) {
                err_clear(err);
                return 0;
        }
        return r;
}

int logs_task_start(struct sched *s, const char *task_id, const char *key, const char *dir, json_t *defs, char *reason, size_t size)
{
        json_t *d;
        size_t i;
        if (!s->logs)
                return 0;
        json_array_foreach(defs, i, d) {
                json_t *lc = json_object_get(d, "logConfiguration"), *opts = json_object_get(lc, "options");
                const char *cname = jstr(d, "name") ?: "", *group = opt(opts, "awslogs-group");
                char stream[LOGS_NAME_MAX + 1], path[SCHED_PATH_MAX * 3];
                struct err err = { 0 };
                int r;
                if (strcmp(jstr(lc, "logDriver") ?: "", "awslogs") != 0 || !group)
                        continue;
                r = logs_group_name_check(group, &err);
                if (r == 0)
                        r = logstore_group_get(s->logs, group, NULL, NULL, &err);
                if (r == -ENOENT && strcmp(opt(opts, "awslogs-create-group") ?: "false", "true") == 0) {
                        err_clear(&err);
                        r = logstore_group_create(s->logs, group, logs_now_ms(), NULL, &err);
                        if (r == -EEXIST)
                                r = 0;
                        else if (r == 0)
                                log_info("task=%s container=%s msg=\"log group created (awslogs-create-group)\" group=%s", task_id, cname, group);
                }
                stream_name(opts, cname, task_id, stream, sizeof stream);
                if (r == 0 && stream[0])
                        r = ensure_stream(s->logs, group, stream, &err);
                if (r < 0) {
                        /* Docker's awslogs, in blocking mode, as ECS on EC2 reports it */
                        snprintf(reason, size,
                                 "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to "
                                 "create Cloudwatch log stream: %s: %s", err.code[0] ? err.code : "ServiceUnavailableException", err.msg);
                        return r;
                }
                snprintf(path, sizeof path, "%s/logs/%s.log", dir, cname);
                if ((r = logstore_tail_add(s->logs, &(struct log_tail) { task_id, cname, path, group, stream, key, 0 }, &err)) < 0) {
                        snprintf(reason, size, "CannotStartContainerError: awslogs: %s", err.msg);
                        return r;
                }
        }
        return 0;
}

/* Bytes that are not UTF-8 become U+FFFD (events are JSON strings). */
static char *utf8_clean(const char *p, size_t n, size_t *ret_len)
{
        char *out = malloc(n * 3 + 1);
        size_t o = 0;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char) p[i];
                size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
                bool ok = k > 0 && i + k <= n && !(k == 2 && c < 0xc2);
                unsigned char c1 = ok && k > 1 ? (unsigned char) p[i + 1] : 0;
                for (size_t j = 1; ok && j < k; j++)
                        ok = ((unsigned char) p[i + j] >> 6) == 2;
                /* overlong forms, surrogates and code points past U+10FFFF (jansson refuses them) */
                if (ok && k == 3 && ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)))
                        ok = false;
                if (ok && k == 4 && ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90)))
                        ok = false;
                if (ok) {
                        memcpy(out + o, p + i, k);
                        o += k;
                        i += k;
                } else {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                }
        }
        out[o] = '\0';
        *ret_len = o;
        return out;
}

struct batch {
        struct log_event_in ev[LOGS_EVENTS_MAX];
        char *owned[LOGS_EVENTS_MAX];
        size_t n;
        long long bytes;
};

static void batch_clear(struct batch *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->owned[i]);
        b->n = 0;
        b->bytes = 0;
}

static int batch_flush(struct sched *s, struct batch *b, const char *group, const char *stream, struct err *err)
{
        int r = logstore_put(s->logs, group, stream, b->ev, b->n, logs_now_ms(), err);
        if (r == -ENOENT && strcmp(err->code, LOGS_E_NF) == 0 && strstr(err->msg, "stream")) {
                /* the stream was deleted under a running container: Docker's driver recreates it */
                err_clear(err);
                if ((r = ensure_stream(s->logs, group, stream, err)) == 0)
                        r = logstore_put(s->logs, group, stream, b->ev, b->n, logs_now_ms(), err);
        }
        batch_clear(b);
        return r;
}

static int batch_add(struct sched *s, struct batch *b, const char *line, size_t len, const char *group, const char *stream,
                     struct err *err)
{
        size_t clean_len;
        char *clean;
        int r;
        if (len == 0)
                return 0;       /* CloudWatch has no empty events; Docker skips empty lines */
        if (!(clean = utf8_clean(line, len, &clean_len)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (b->n == LOGS_EVENTS_MAX || b->bytes + (long long) clean_len + LOG_EVENT_OVERHEAD > LOGS_BATCH_BYTES) {
                if ((r = batch_flush(s, b, group, stream, err)) < 0) {
                        free(clean);
                        return r;
                }
        }
        b->owned[b->n] = clean;
        b->ev[b->n++] = (struct log_event_in) { logs_now_ms(), clean, clean_len };
        b->bytes += (long long) clean_len + LOG_EVENT_OVERHEAD;
        return 0;
}

/* The runtime id of a container (the stream's name without a prefix), "" while it has none. */
static void runtime_id(struct sched *s, const struct log_tail *t, char *buf, size_t size)
{
        json_t *rec = NULL, *c;
        struct err err = { 0 };
        size_t i;
        buf[0] = '\0';
        if (store_peek(s->store, t->key, &rec, &err) < 0)
                return;
        json_array_foreach(json_object_get(rec, "containers"), i, c)
                if (strcmp(jstr(c, "name") ?: "", t->container) == 0 && jstr(c, "runtimeId"))
                        snprintf(buf, size, "%s", jstr(c, "runtimeId"));
}

struct tick_ctx {
        struct sched *s;
        struct batch *b;
};

static int tail_one(const struct log_tail *t, void *userdata)
{
        struct tick_ctx *x = userdata;
        struct sched *s = x->s;
        bool active = json_object_get(s->active, t->task) != NULL, named = false;
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        char stream[LOGS_NAME_MAX + 1];
        struct err err = { 0 };
        size_t used = 0, start = 0, want;
        struct stat st;
        ssize_t got;
        int r;

        snprintf(stream, sizeof stream, "%s", t->stream);
        if (!stream[0]) {
                runtime_id(s, t, stream, sizeof stream);
                if (!stream[0]) {
                        if (!active)
                                (void) logstore_tail_del(s->logs, t->task, t->container, NULL);
                        return 0;       /* not started yet */
                }
                if (ensure_stream(s->logs, t->group, stream, &err) < 0) {
                        log_warning("task=%s container=%s group=%s msg=\"awslogs: cannot create the stream, ignoring\" err=\"%s\"", t->task,
                                    t->container, t->group, err.msg);
                        return 0;
                }
                named = true;
        }
        fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= t->offset) {
                if (!active)
                        (void) logstore_tail_del(s->logs, t->task, t->container, NULL);
                else if (named)
                        (void) logstore_tail_set(s->logs, t->task, t->container, t->offset, stream, NULL);
                return 0;
        }
        want = st.st_size - t->offset < READ_MAX ? (size_t) (st.st_size - t->offset) : READ_MAX;
        buf = malloc(want);
        if (!buf)
                return 0;
        got = pread(fd, buf, want, (off_t) t->offset);
        if (got <= 0)
                return 0;
        for (size_t i = 0; i < (size_t) got; i++) {
                if (buf[i] != '\n' && i - start < LINE_MAX_BYTES)
                        continue;
                if ((r = batch_add(s, x->b, buf + start, i - start, t->group, stream, &err)) < 0)
                        break;
                start = buf[i] == '\n' ? i + 1 : i;
                used = start;
        }
        /* a stopped task's last line may lack its newline: it is still a line */
        if (!err.msg[0] && !active && (off_t) (t->offset + got) >= st.st_size && used < (size_t) got) {
                (void) batch_add(s, x->b, buf + used, (size_t) got - used, t->group, stream, &err);
                used = (size_t) got;
        }
        if (!err.msg[0] && x->b->n)
                (void) batch_flush(s, x->b, t->group, stream, &err);
        batch_clear(x->b);
        if (err.msg[0])
                log_warning("task=%s container=%s group=%s stream=%s msg=\"awslogs: lines dropped\" err=\"%s\"", t->task, t->container,
                            t->group, stream, err.msg);
        /* lines that could not be stored are skipped (Docker's non-blocking mode drops them too) */
        if ((r = logstore_tail_set(s->logs, t->task, t->container, t->offset + (long long) used, named ? stream : NULL, &err)) < 0)
                log_warning("task=%s msg=\"awslogs: cannot record the offset\" err=\"%s\"", t->task, err.msg);
        return 0;
}

void logs_tick(struct sched *s)
{
        static struct batch b;
        struct tick_ctx t = { s, &b };
        struct err err = { 0 };
        if (!s->logs)
                return;
        if (logstore_tail_list(s->logs, tail_one, &t, &err) < 0)
                log_warning("msg=\"awslogs: reading the tails failed\" err=\"%s\"", err.msg);
}
