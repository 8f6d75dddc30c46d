/* task.c: the task's state machine (dependsOn, essential exits, stop sequence) and the monitor's event loop. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "monitor.h"

#define REASON_ESSENTIAL "Essential container in task exited"
#define REASON_USER "Task stopped by user"
#define REASON_OOM "OutOfMemoryError: Container killed due to memory usage"

enum dep_result { DEP_READY, DEP_WAIT, DEP_NEVER };

int monitor_init(struct monitor *m, struct task_spec *spec)
{
        memset(m, 0, sizeof *m);
        m->spec = spec;
        m->n = spec->n_containers;
        m->netns_fd = m->notify_fd = m->devnull_fd = -1;
        m->pid = getpid();
        if (!(m->ctrs = calloc(m->n, sizeof *m->ctrs)))
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++) {
                struct container *c = &m->ctrs[i];
                int r;
                c->spec = &spec->containers[i];
                if ((r = random_hex(c->runtime_id, 64)) < 0)
                        return r;
        }
        if ((m->devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
                return -errno;
        if (spec->notify_socket &&
            (m->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
                return -errno;
        return 0;
}

void monitor_done(struct monitor *m)
{
        for (size_t i = 0; i < m->n; i++)
                container_free_runtime(&m->ctrs[i]);
        free(m->ctrs);
        free(m->stop_code);
        free(m->stopped_reason);
        free(m->mem_task_dir);
        free(m->cpu_task_dir);
        closep(&m->netns_fd);
        closep(&m->notify_fd);
        closep(&m->devnull_fd);
        m->ctrs = NULL;
}

static void set_str(char **dst, const char *s)
{
        free(*dst);
        *dst = s ? strdup(s) : NULL;
}

void monitor_stop(struct monitor *m, const char *code, const char *reason)
{
        if (m->state >= TASK_STOPPING)
                return;
        log_info("task=%s state=STOPPING stopCode=%s reason=\"%s\"", m->spec->task_id, code, reason);
        m->state = TASK_STOPPING;
        m->stopping_at = now_epoch();
        set_str(&m->stop_code, code);
        set_str(&m->stopped_reason, reason);
        m->dirty = true;
        for (size_t i = 0; i < m->n; i++) {
                struct container *c = &m->ctrs[i];
                if (c->hc_pid > 0)
                        (void) kill(c->hc_pid, SIGKILL);
                c->hc_next = 0;
                /* Containers still waiting for their dependencies never start. */
                if (c->state == CTR_PENDING)
                        c->state = CTR_STOPPED;
        }
}

/* A start failure: the container's reason holds the detail, the task stops with TaskFailedToStart. */
static void fail_start(struct monitor *m, struct container *c, const char *detail)
{
        char reason[1200];
        log_error("task=%s container=%s err=\"%s\" msg=\"cannot start container\"", m->spec->task_id, c->spec->name,
                  detail);
        c->state = CTR_STOPPED;
        c->finished_at = now_epoch();
        set_str(&c->reason, detail);
        m->dirty = true;
        snprintf(reason, sizeof reason, "CannotStartContainerError: %s", detail);
        monitor_stop(m, "TaskFailedToStart", reason);
}

static uint64_t dep_deadline(const struct monitor *m, const struct container *target)
{
        if (target->spec->start_timeout < 0)
                return 0;
        return m->pending_since + (uint64_t) target->spec->start_timeout * 1000;
}

/* Whether c may start now, must wait, or never can (with why). */
static enum dep_result deps_check(const struct monitor *m, const struct container *c, char *why, size_t len)
{
        enum dep_result res = DEP_READY;
        for (size_t d = 0; d < c->spec->n_deps; d++) {
                const struct dep_spec *dp = &c->spec->deps[d];
                const struct container *t = &m->ctrs[dp->target];
                const char *cond = dep_condition_name(dp->cond);
                bool stopped = t->state == CTR_STOPPED, started = t->started_at > 0, sat = false;
                const char *never = NULL;
                char buf[256];

                switch (dp->cond) {
                case DEP_START:
                        sat = started;
                        never = stopped && !started ? "it did not start" : NULL;
                        break;
                case DEP_COMPLETE:
                        sat = stopped && t->has_exit;
                        never = stopped && !t->has_exit ? "it did not start" : NULL;
                        break;
                case DEP_SUCCESS:
                        sat = stopped && t->has_exit && t->exit_code == 0;
                        if (stopped && !t->has_exit)
                                never = "it did not start";
                        else if (stopped && !sat) {
                                snprintf(buf, sizeof buf, "it exited with code %d", t->exit_code);
                                never = buf;
                        }
                        break;
                case DEP_HEALTHY:
                        sat = t->ever_healthy;
                        never = stopped && !sat ? "it stopped before its health check passed" : NULL;
                        break;
                }
                if (sat)
                        continue;
                uint64_t dl = dep_deadline(m, t);
                if (!never && dl && now_mono_ms() >= dl) {
                        snprintf(buf, sizeof buf, "it did not reach %s within its startTimeout of %d s", cond,
                                 t->spec->start_timeout);
                        never = buf;
                }
                if (never) {
                        snprintf(why, len, "dependency %s of container %s cannot reach %s: %s", t->spec->name,
                                 c->spec->name, cond, never);
                        return DEP_NEVER;
                }
                res = DEP_WAIT;
        }
        return res;
}

static bool start_ready(struct monitor *m)
{
        bool progress = false;
        for (size_t i = 0; i < m->n && m->state < TASK_STOPPING; i++) {
                struct container *c = &m->ctrs[i];
                struct err err = { 0 };
                char why[512];

                if (c->state != CTR_PENDING)
                        continue;
                switch (deps_check(m, c, why, sizeof why)) {
                case DEP_WAIT:
                        continue;
                case DEP_NEVER:
                        fail_start(m, c, why);
                        return true;
                case DEP_READY:
                        break;
                }
                if (container_spawn(m, c, &err) < 0) {
                        fail_start(m, c, err.msg);
                        return true;
                }
                c->state = CTR_RUNNING;
                c->started_at = now_epoch();
                c->started_mono = now_mono_ms();
                if (c->spec->health.present)
                        c->hc_next = c->started_mono + (uint64_t) c->spec->health.interval * 1000;
                m->dirty = true;
                progress = true;
                log_info("task=%s container=%s pid=%d runtimeId=%s state=RUNNING limits=\"%s\"", m->spec->task_id,
                         c->spec->name, (int) c->pid, c->runtime_id, c->cg.limits ? c->cg.limits : "");
        }
        return progress;
}

static bool all_essential_running(const struct monitor *m)
{
        for (size_t i = 0; i < m->n; i++)
                if (m->ctrs[i].spec->essential && m->ctrs[i].state != CTR_RUNNING)
                        return false;
        return true;
}

/* Is some container that depends on t still running (or still to be signalled)? */
static bool has_running_dependent(const struct monitor *m, size_t t)
{
        for (size_t i = 0; i < m->n; i++) {
                const struct container *c = &m->ctrs[i];
                if (c->state != CTR_RUNNING)
                        continue;
                for (size_t d = 0; d < c->spec->n_deps; d++)
                        if (c->spec->deps[d].target == t)
                                return true;
        }
        return false;
}

/* Stop in reverse dependency order: a container is signalled once nothing that depends on it runs. */
static void stop_progress(struct monitor *m)
{
        for (size_t i = 0; i < m->n; i++) {
                struct container *c = &m->ctrs[i];
                if (c->state != CTR_RUNNING || c->term_sent || has_running_dependent(m, i))
                        continue;
                log_info("task=%s container=%s pid=%d signal=%s stopTimeout=%d", m->spec->task_id, c->spec->name,
                         (int) c->pid, spec_signal_name(c->spec->stop_signal) ?: "?", c->spec->stop_timeout);
                (void) kill(c->pid, c->spec->stop_signal);
                c->term_sent = true;
                c->kill_at = now_mono_ms() + (uint64_t) c->spec->stop_timeout * 1000;
        }
}

static bool all_done(const struct monitor *m)
{
        for (size_t i = 0; i < m->n; i++) {
                const struct container *c = &m->ctrs[i];
                if (c->state != CTR_STOPPED || (c->pid > 0 && !c->reaped) || c->hc_pid > 0)
                        return false;
        }
        return true;
}

static void step(struct monitor *m)
{
        enum health_status h;

        while (m->state < TASK_STOPPING && start_ready(m))
                ;
        if (m->state == TASK_PENDING && all_essential_running(m)) {
                m->state = TASK_RUNNING;
                m->started_at = now_epoch();
                m->dirty = true;
                log_info("task=%s state=RUNNING", m->spec->task_id);
        }
        if (m->state == TASK_STOPPING) {
                stop_progress(m);
                if (all_done(m)) {
                        m->state = TASK_STOPPED;
                        m->stopped_at = now_epoch();
                        m->dirty = true;
                        log_info("task=%s state=STOPPED stopCode=%s", m->spec->task_id, m->stop_code);
                }
        }
        h = health_task(m);
        if (h != m->health) {
                m->health = h;
                m->dirty = true;
        }
        if (m->dirty)
                (void) status_write(m);
}

static void container_exited(struct monitor *m, struct container *c, int status)
{
        c->reaped = true;
        if (c->state == CTR_STOPPED)
                return;         /* it failed before exec; already recorded */
        c->state = CTR_STOPPED;
        c->finished_at = now_epoch();
        c->has_exit = true;
        c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (cgroup_oom_killed(c))
                set_str(&c->reason, REASON_OOM);
        if (c->hc_pid > 0)
                (void) kill(c->hc_pid, SIGKILL);
        c->hc_next = 0;
        m->dirty = true;
        log_info("task=%s container=%s state=STOPPED exitCode=%d%s%s", m->spec->task_id, c->spec->name, c->exit_code,
                 c->reason ? " reason=" : "", c->reason ? c->reason : "");
        if (c->spec->essential)
                monitor_stop(m, "EssentialContainerExited", REASON_ESSENTIAL);
}

static void reap(struct monitor *m)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        return;
                for (size_t i = 0; i < m->n; i++) {
                        struct container *c = &m->ctrs[i];
                        if (c->pid == pid && !c->reaped) {
                                container_exited(m, c, status);
                                break;
                        }
                        if (c->hc_pid == pid) {
                                health_finished(m, c, status);
                                break;
                        }
                }
                /* Anything else is an orphan we inherited as subreaper: reaped and forgotten. */
        }
}

/* SIGTERM = StopTask. ecsboxd leaves dir/stop-request.json {"stopCode","reason"} before signalling. */
static void stop_requested(struct monitor *m)
{
        char path[4096];
        const char *code = "UserInitiated", *reason = REASON_USER;
        json_error_t jerr;
        json_t *req;

        snprintf(path, sizeof path, "%s/stop-request.json", m->spec->dir);
        req = json_load_file(path, 0, &jerr);
        if (req) {
                json_t *v = json_object_get(req, "stopCode");
                if (json_is_string(v) && json_string_length(v) > 0)
                        code = json_string_value(v);
                v = json_object_get(req, "reason");
                if (json_is_string(v) && json_string_length(v) > 0)
                        reason = json_string_value(v);
        }
        monitor_stop(m, code, reason);
        json_decref(req);
}

static void timers(struct monitor *m)
{
        uint64_t now = now_mono_ms();
        for (size_t i = 0; i < m->n; i++) {
                struct container *c = &m->ctrs[i];
                if (c->state == CTR_RUNNING && c->term_sent && !c->kill_sent && now >= c->kill_at) {
                        log_info("task=%s container=%s pid=%d signal=SIGKILL msg=\"stopTimeout passed\"",
                                 m->spec->task_id, c->spec->name, (int) c->pid);
                        (void) kill(c->pid, SIGKILL);
                        c->kill_sent = true;
                }
                if (c->hc_pid > 0 && !c->hc_timed_out && c->hc_deadline && now >= c->hc_deadline)
                        health_timeout(m, c);
                if (c->state == CTR_RUNNING && m->state < TASK_STOPPING && c->hc_pid == 0 && c->hc_next &&
                    now >= c->hc_next)
                        (void) health_start(m, c);
        }
}

static void min_deadline(uint64_t *best, uint64_t t)
{
        if (t && (!*best || t < *best))
                *best = t;
}

static int poll_timeout(const struct monitor *m)
{
        uint64_t next = 0, now = now_mono_ms();
        for (size_t i = 0; i < m->n; i++) {
                const struct container *c = &m->ctrs[i];
                if (c->state == CTR_RUNNING && c->term_sent && !c->kill_sent)
                        min_deadline(&next, c->kill_at);
                if (c->hc_pid > 0 && !c->hc_timed_out)
                        min_deadline(&next, c->hc_deadline);
                if (c->state == CTR_RUNNING && c->hc_pid == 0 && m->state < TASK_STOPPING)
                        min_deadline(&next, c->hc_next);
                if (c->state == CTR_PENDING)
                        for (size_t d = 0; d < c->spec->n_deps; d++)
                                min_deadline(&next, dep_deadline(m, &m->ctrs[c->spec->deps[d].target]));
        }
        if (!next)
                return -1;
        return next <= now ? 0 : (int) (next - now > 60000 ? 60000 : next - now);
}

/* Open the task's netns (kept for every container start) and check that it is one. */
static int open_netns(struct monitor *m, char *why, size_t len)
{
        int fd, type;
        if (!m->spec->netns)
                return 0;
        fd = open(m->spec->netns, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                snprintf(why, len, "open network namespace '%s': %s", m->spec->netns, strerror(errno));
                return -errno;
        }
        type = ioctl(fd, NS_GET_NSTYPE);
        if (type != CLONE_NEWNET) {
                snprintf(why, len, "'%s' is not a network namespace", m->spec->netns);
                close(fd);
                return -EINVAL;
        }
        m->netns_fd = fd;
        return 0;
}

static int handle_signals(struct monitor *m, int sfd)
{
        struct signalfd_siginfo si;
        for (;;) {
                ssize_t n = read(sfd, &si, sizeof si);
                if (n < 0)
                        return errno == EAGAIN ? 0 : -errno;
                if (n != sizeof si)
                        return -EIO;
                if (si.ssi_signo == SIGCHLD)
                        reap(m);
                else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        log_info("task=%s signal=%s from_pid=%u msg=\"stop requested\"", m->spec->task_id,
                                 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", si.ssi_pid);
                        stop_requested(m);
                }
        }
}

int monitor_run(struct monitor *m)
{
        _cleanup_close_ int sfd = -1;
        sigset_t mask;
        char why[600];
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "msg=\"block signals\"");
        if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
                return log_error_errno(errno, "msg=\"signalfd\"");
        m->pending_since = now_mono_ms();
        m->dirty = true;
        if (open_netns(m, why, sizeof why) < 0) {
                char reason[700];
                snprintf(reason, sizeof reason, "ResourceInitializationError: %s", why);
                log_error("task=%s err=\"%s\"", m->spec->task_id, why);
                monitor_stop(m, "TaskFailedToStart", reason);
        }
        log_info("task=%s pid=%d containers=%zu netns=%s msg=\"monitor started\"", m->spec->task_id, (int) m->pid,
                 m->n, m->spec->netns ? m->spec->netns : "host");
        step(m);
        while (m->state != TASK_STOPPED) {
                struct pollfd pfd = { .fd = sfd, .events = POLLIN };
                r = poll(&pfd, 1, poll_timeout(m));
                if (r < 0 && errno != EINTR)
                        return log_error_errno(errno, "msg=\"poll\"");
                if (r > 0 && (r = handle_signals(m, sfd)) < 0)
                        return log_error_errno(r, "msg=\"read signalfd\"");
                timers(m);
                step(m);
        }
        cgroup_task_cleanup(m);
        /* Every container process was reaped: their mount namespaces, and the overlays in them, are gone. */
        for (size_t i = 0; i < m->n; i++)
                if (m->ctrs[i].overlay.base)
                        rootfs_cleanup(&m->ctrs[i].overlay);
        return 0;
}
