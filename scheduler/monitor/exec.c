/* exec.c: `ecsbox-monitor --exec`: ECS Exec's command in a running container: its namespaces (ipc, uts,
 * net, pid, mnt and its root), its cgroups, its user, capabilities, environment and working directory,
 * as the health checks enter it; stdio are the caller's (a terminal when interactive). The container's
 * first process and cgroups come from the task's status.json, the rest from its spec. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "monitor.h"

extern char **environ;

/* The container's entry in DIR/status.json: its pid and cgroup directories (strings kept by doc). */
static int running_container(const char *dir, const char *name, json_t **doc, long *pid, const char **mem, const char **cpu)
{
        char path[4200];
        json_t *c;
        size_t i;
        snprintf(path, sizeof path, "%s/status.json", dir);
        if (!(*doc = json_load_file(path, 0, NULL)))
                return -ENOENT;
        json_array_foreach(json_object_get(*doc, "containers"), i, c)
                if (!strcmp(jstr(c, "name") ?: "", name)) {
                        if (strcmp(jstr(c, "lastStatus") ?: "", "RUNNING") != 0 || !json_is_integer(json_object_get(c, "pid")))
                                return -ESRCH;
                        *pid = (long) json_integer_value(json_object_get(c, "pid"));
                        *mem = jstr(c, "memoryCgroup");
                        *cpu = jstr(c, "cpuCgroup");
                        return 0;
                }
        return -ENOENT;
}

static int join_cgroup(const char *dir)
{
        char path[4200];
        if (!dir)
                return 0;
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        return write_string_file(path, "0");
}

/* Into the container of the running process pid: its cgroups, namespaces and root. 0, or 1 with the cause
 * printed (after a namespace was entered, only _exit may end the process: see monitor_exec). */
static int enter_container(long pid, const char *mem, const char *cpu)
{
        static const char *const ns[] = { "ipc", "uts", "net", "pid", "mnt" };
        int fds[ELEMENTSOF(ns)], rootfd, r;
        char path[64];

        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, ns[i]);
                if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
                        fprintf(stderr, "ecsbox-monitor --exec: %s: %s\n", path, strerror(errno));
                        return 1;
                }
        }
        snprintf(path, sizeof path, "/proc/%ld/root", pid);
        if ((rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: %s: %s\n", path, strerror(errno));
                return 1;
        }
        if ((r = join_cgroup(mem)) < 0 || (r = join_cgroup(cpu)) < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: join the container's cgroups: %s\n", strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(ns); i++)
                if (setns(fds[i], 0) < 0) {
                        fprintf(stderr, "ecsbox-monitor --exec: enter the container's %s namespace: %s\n", ns[i], strerror(errno));
                        _exit(1);
                }
        if (fchdir(rootfd) < 0 || chroot(".") < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: enter the container's root: %s\n", strerror(errno));
                _exit(1);
        }
        return 0;
}

/* Inside the container: the command as its user, in a child (so that it is in the container's PID
 * namespace); the command's status, by _exit. */
static void __attribute__((noreturn)) run_inside(const struct container_spec *cs, char **argv)
{
        struct user_ids user = { 0 };
        struct err err = { 0 };
        char msg[512], host[256];
        int status;
        pid_t child;
        char **env;

        /* the user as the container has it: its own /etc/passwd and /etc/group, now our root's */
        if (user_resolve(cs->user, "/etc/passwd", "/etc/group", &user, &err) < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: %s\n", err.msg);
                _exit(1);
        }
        if (gethostname(host, sizeof host) < 0)
                snprintf(host, sizeof host, "localhost");
        if (!(env = container_env(cs, host, user.home && *user.home ? user.home : "/"))) {
                fprintf(stderr, "ecsbox-monitor --exec: out of memory\n");
                _exit(1);
        }
        child = fork();
        if (child < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: fork: %s\n", strerror(errno));
                _exit(1);
        }
        if (child == 0) {
                container_reset_signals();
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (chdir(cs->workdir ? cs->workdir : "/") < 0) {
                        fprintf(stderr, "ecsbox-monitor --exec: workingDirectory '%s': %s\n", cs->workdir, strerror(errno));
                        _exit(126);
                }
                if (container_enter_privileges(cs, &user, msg, sizeof msg) < 0) {
                        fprintf(stderr, "ecsbox-monitor --exec: %s\n", msg);
                        _exit(126);
                }
                environ = env;
                execvp(argv[0], argv);
                fprintf(stderr, "ecsbox-monitor --exec: exec '%s': %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        /* the terminal's signals go to the command, not to us */
        signal(SIGINT, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR)
                        _exit(1);
        /* _exit: nothing of the process's exit may run in the container's mount namespace, whose /proc does
         * not show this process (LeakSanitizer's exit hook hangs there) */
        fflush(NULL);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int monitor_exec(const char *spec_path, const char *container, char **argv)
{
        struct task_spec *spec = NULL;
        const struct container_spec *cs = NULL;
        _cleanup_json_ json_t *st = NULL;
        struct err err = { 0 };
        const char *mem = NULL, *cpu = NULL;
        long pid = 0;
        int r;

        if (spec_load(spec_path, &spec, &err) < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: %s\n", err.msg);
                return 2;
        }
        for (size_t i = 0; i < spec->n_containers; i++)
                if (!strcmp(spec->containers[i].name, container))
                        cs = &spec->containers[i];
        if (!cs) {
                fprintf(stderr, "ecsbox-monitor --exec: the task has no container '%s'\n", container);
                return 2;
        }
        if ((r = running_container(spec->dir, container, &st, &pid, &mem, &cpu)) < 0) {
                fprintf(stderr, "ecsbox-monitor --exec: container '%s' %s\n", container,
                        r == -ESRCH ? "is not RUNNING" : "has no status in the task's directory");
                return 1;
        }
        if (enter_container(pid, mem, cpu) != 0)
                return 1;
        run_inside(cs, argv);
}
