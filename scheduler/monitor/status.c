/* status.c: dir/status.json, the task's state as ecsboxd reads it, and the notification after each write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "monitor.h"

const char *task_state_name(enum task_state s)
{
        switch (s) {
        case TASK_PENDING: return "PENDING";
        case TASK_RUNNING: return "RUNNING";
        case TASK_STOPPING: return "STOPPING";
        case TASK_STOPPED: return "STOPPED";
        }
        return "?";
}

const char *ctr_state_name(enum ctr_state s)
{
        switch (s) {
        case CTR_PENDING: return "PENDING";
        case CTR_RUNNING: return "RUNNING";
        case CTR_STOPPED: return "STOPPED";
        }
        return "?";
}

static json_t *time_or_null(double t)
{
        return t > 0 ? json_real(t) : json_null();
}

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

static json_t *container_json(const struct container *c)
{
        return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}",
                         "name", c->spec->name,
                         "image", c->spec->image,
                         "runtimeId", c->runtime_id,
                         "pid", c->pid > 0 ? json_integer(c->pid) : json_null(),
                         "lastStatus", ctr_state_name(c->state),
                         "exitCode", c->has_exit ? json_integer(c->exit_code) : json_null(),
                         "reason", string_or_null(c->reason),
                         "healthStatus", health_name(c->health),
                         "startedAt", time_or_null(c->started_at),
                         "finishedAt", time_or_null(c->finished_at),
                         "limits", string_or_null(c->cg.limits),
                         /* where the metadata endpoint's stats read the container's usage */
                         "memoryCgroup", string_or_null(c->cg.mem_dir),
                         "cpuCgroup", string_or_null(c->cg.cpu_dir));
}

static json_t *status_json(const struct monitor *m)
{
        json_t *ctrs = json_array();
        json_t *doc;
        if (!ctrs)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                if (json_array_append_new(ctrs, container_json(&m->ctrs[i])) < 0) {
                        json_decref(ctrs);
                        return NULL;
                }
        doc = json_pack("{s:s, s:o, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:o}",
                        "taskId", m->spec->task_id,
                        "taskArn", string_or_null(m->spec->task_arn),
                        "monitorPid", (json_int_t) m->pid,
                        "lastStatus", task_state_name(m->state),
                        "healthStatus", health_name(m->health),
                        "stopCode", string_or_null(m->stop_code),
                        "stoppedReason", string_or_null(m->stopped_reason),
                        "startedAt", time_or_null(m->started_at),
                        "stoppingAt", time_or_null(m->stopping_at),
                        "stoppedAt", time_or_null(m->stopped_at),
                        "version", (json_int_t) m->version,
                        "containers", ctrs);
        return doc;
}

/* Tell ecsboxd which task changed; it may be down or restarting, so a failure is only logged. */
static void notify(const struct monitor *m)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *id = m->spec->task_id;
        if (m->notify_fd < 0)
                return;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", m->spec->notify_socket);
        if (sendto(m->notify_fd, id, strlen(id), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof sa) < 0)
                log_debug("task=%s socket=%s err=\"%s\" msg=\"notify ecsboxd, ignoring\"", id, m->spec->notify_socket,
                          strerror(errno));
}

int status_write(struct monitor *m)
{
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_free_ char *text = NULL;
        char path[4096];
        int r;

        m->version++;
        doc = status_json(m);
        if (!doc || !(text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17))))
                return log_error_errno(ENOMEM, "task=%s msg=\"build status\"", m->spec->task_id);
        snprintf(path, sizeof path, "%s/status.json", m->spec->dir);
        if ((r = write_file_durable(path, text, strlen(text), 0644)) < 0)
                return log_error_errno(r, "task=%s path=%s msg=\"write status\"", m->spec->task_id, path);
        m->dirty = false;
        notify(m);
        return 0;
}
