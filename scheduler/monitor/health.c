/* health.c: container health checks run inside the container's namespaces, and the task's health. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecsbox/log.h"
#include "monitor.h"

extern char **environ;

const char *health_name(enum health_status h)
{
        switch (h) {
        case HEALTH_HEALTHY: return "HEALTHY";
        case HEALTH_UNHEALTHY: return "UNHEALTHY";
        default: return "UNKNOWN";
        }
}

/* The forked child: enter the container (ipc, uts, net, pid, then mnt and its root), fork the check
 * so that it lands in the container's PID namespace, wait for it and pass its status on. The check
 * cannot be left to the container's PID 1 to reap (busybox httpd never would), hence the extra hop.
 * Exit 126 = could not enter, 127 = could not exec. */
static void __attribute__((noreturn)) check_child(const struct monitor *m, const struct container *c)
{
        static const char *const ns[] = { "ipc", "uts", "net", "pid", "mnt" };
        const struct container_spec *cs = c->spec;
        int fds[ELEMENTSOF(ns)], rootfd, status;
        char path[64], msg[256];
        pid_t pid;

        container_reset_signals();
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                snprintf(path, sizeof path, "/proc/%d/ns/%s", (int) c->pid, ns[i]);
                if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                        _exit(126);
        }
        snprintf(path, sizeof path, "/proc/%d/root", (int) c->pid);
        if ((rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                _exit(126);
        if (cgroup_join_self(c) < 0)
                _exit(126);
        for (size_t i = 0; i < ELEMENTSOF(ns); i++)
                if (setns(fds[i], 0) < 0)
                        _exit(126);
        if (fchdir(rootfd) < 0 || chroot(".") < 0)
                _exit(126);
        pid = fork();
        if (pid < 0)
                _exit(126);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (dup2(m->devnull_fd, 0) < 0 || dup2(m->devnull_fd, 1) < 0 || dup2(m->devnull_fd, 2) < 0)
                        _exit(126);
                if (chdir(cs->workdir ? cs->workdir : "/") < 0)
                        _exit(126);
                if (container_enter_privileges(cs, &c->user, msg, sizeof msg) < 0)
                        _exit(126);
                environ = c->env;
                execvp(cs->health.argv[0], cs->health.argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        _exit(126);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int health_start(struct monitor *m, struct container *c)
{
        pid_t pid = fork();
        if (pid < 0)
                return log_warning_errno(errno, "task=%s container=%s msg=\"fork health check, retrying later\"",
                                         m->spec->task_id, c->spec->name);
        if (pid == 0)
                check_child(m, c);
        c->hc_pid = pid;
        c->hc_timed_out = false;
        c->hc_deadline = now_mono_ms() + (uint64_t) c->spec->health.timeout * 1000;
        c->hc_next = 0;
        return 0;
}

void health_timeout(struct monitor *m, struct container *c)
{
        /* The check dies with its parent (PDEATHSIG), so killing the parent is enough. */
        if (c->hc_pid > 0 && kill(c->hc_pid, SIGKILL) == 0)
                c->hc_timed_out = true;
}

void health_finished(struct monitor *m, struct container *c, int status)
{
        const struct health_spec *h = &c->spec->health;
        uint64_t now = now_mono_ms();
        enum health_status before = c->health;
        bool ok = !c->hc_timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;

        c->hc_pid = 0;
        c->hc_deadline = 0;
        if (c->state != CTR_RUNNING || m->state >= TASK_STOPPING)
                return;
        if (ok) {
                c->hc_failures = 0;
                c->health = HEALTH_HEALTHY;
                c->ever_healthy = true;
        } else if (now >= c->started_mono + (uint64_t) h->start_period * 1000) {
                /* Failures inside startPeriod do not count, as on ECS and Docker. */
                if (++c->hc_failures >= h->retries)
                        c->health = HEALTH_UNHEALTHY;
        }
        log_debug("task=%s container=%s check=%s status=%d failures=%d", m->spec->task_id, c->spec->name,
                  ok ? "pass" : "fail", c->hc_timed_out ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)),
                  c->hc_failures);
        if (c->health != before) {
                log_info("task=%s container=%s health=%s", m->spec->task_id, c->spec->name, health_name(c->health));
                m->dirty = true;
        }
        c->hc_next = now + (uint64_t) h->interval * 1000;
}

/* ECS: non-essential containers do not count; UNHEALTHY if an essential container with a check is
 * unhealthy, HEALTHY if all of them passed, otherwise (or with no checks at all) UNKNOWN. */
enum health_status health_task(const struct monitor *m)
{
        bool any = false, unknown = false;
        for (size_t i = 0; i < m->n; i++) {
                const struct container *c = &m->ctrs[i];
                if (!c->spec->essential || !c->spec->health.present)
                        continue;
                any = true;
                if (c->health == HEALTH_UNHEALTHY)
                        return HEALTH_UNHEALTHY;
                if (c->health != HEALTH_HEALTHY)
                        unknown = true;
        }
        return any && !unknown ? HEALTH_HEALTHY : HEALTH_UNKNOWN;
}
