/* launch.c: task monitors: spec file, fork+exec, liveness, status.json, stop requests;
 * and the small file helpers around them. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/fsutil.h"
#include "../sched.h"
#include "launch.h"


/* The last non-empty line of a file, for error messages. */
void last_line(const char *path, char *buf, size_t size)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[1024];
        snprintf(buf, size, "see %s", path);
        if (!f)
                return;
        while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\n")] = '\0';
                if (line[0])
                        snprintf(buf, size, "%s", line);
        }
}

int launch_monitor(struct sched *s, json_t *spec, const char *dir, pid_t *ret_pid, struct err *err)
{
        char spec_path[SCHED_PATH_MAX * 2], log_path[SCHED_PATH_MAX * 2], logs[SCHED_PATH_MAX * 2];
        _cleanup_free_ char *txt = NULL;
        int r;
        pid_t pid;

        snprintf(spec_path, sizeof spec_path, "%s/spec.json", dir);
        snprintf(log_path, sizeof log_path, "%s/monitor.log", dir);
        snprintf(logs, sizeof logs, "%s/logs", dir);
        if ((r = mkdir_p(dir, 0700)) < 0 || (r = mkdir_p(logs, 0700)) < 0)
                return err_set(err, -r, NULL, "create task directory '%s': %s", dir, strerror(-r));
        txt = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!txt)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = write_file_atomic(spec_path, txt, strlen(txt), 0600)) < 0)
                return err_set(err, -r, NULL, "write '%s': %s", spec_path, strerror(-r));
        if (access(s->monitor_bin, X_OK) < 0)
                return err_set(err, errno, NULL, "task monitor '%s' is not executable: %s", s->monitor_bin, strerror(errno));
        /* The monitor runs in the foreground as our child, in its own session so that it
         * outlives ecsboxd (then it is reparented and adopted at the next start). posix_spawn
         * (vfork-style, so cheap) reports an exec failure as its return value; the pid is known
         * at once and the monitor's exit comes back as SIGCHLD. Its output goes to monitor.log. */
        {
                posix_spawn_file_actions_t fa;
                posix_spawnattr_t at;
                sigset_t none, all;
                char *argv[] = { (char *) "ecsbox-monitor", (char *) "--spec", spec_path, (char *) "--foreground", NULL };
                extern char **environ;
                sigemptyset(&none);
                sigfillset(&all);
                if ((r = posix_spawn_file_actions_init(&fa)) != 0)
                        return err_set(err, r, NULL, "posix_spawn_file_actions_init: %s", strerror(r));
                if ((r = posix_spawnattr_init(&at)) != 0) {
                        posix_spawn_file_actions_destroy(&fa);
                        return err_set(err, r, NULL, "posix_spawnattr_init: %s", strerror(r));
                }
                (void) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
                (void) posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
                (void) posix_spawn_file_actions_adddup2(&fa, 1, 2);
                (void) posix_spawn_file_actions_addchdir_np(&fa, "/");
                (void) posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
                (void) posix_spawnattr_setsigmask(&at, &none);
                (void) posix_spawnattr_setsigdefault(&at, &all);
                r = posix_spawn(&pid, s->monitor_bin, &fa, &at, argv, environ);
                posix_spawn_file_actions_destroy(&fa);
                posix_spawnattr_destroy(&at);
                if (r != 0)
                        return err_set(err, r, NULL, "start the task monitor '%s': %s", s->monitor_bin, strerror(r));
        }
        *ret_pid = pid;
        return 0;
}

/* An empty cmdline from a user process (one with an executable): it is inside execve, between the
 * switch to its new memory and the setting of its arguments. The kernel wakes posix_spawn's parent at
 * that switch, so a monitor looked at just after it was spawned is seen so; it counts as alive (tests/chaos
 * found ecsboxd declaring such a monitor dead, releasing the task's network under it and leaving the
 * monitor and its container running unowned). A kernel thread (no executable) is not a monitor. */
static bool exec_in_progress(pid_t pid)
{
        char path[64], exe[PATH_MAX];
        snprintf(path, sizeof path, "/proc/%ld/exe", (long) pid);
        return readlink(path, exe, sizeof exe) > 0;
}

bool monitor_alive(pid_t pid, const char *spec_path)
{
        char path[64], buf[4096], stat[512];
        _cleanup_close_ int fd = -1;
        ssize_t n;
        char *p;
        if (pid <= 1)
                return false;
        if (kill(pid, 0) < 0 && errno != EPERM)
                return false;
        /* A zombie (our child not yet reaped, or one under a PID 1 that does not reap) is dead. */
        snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, stat, sizeof stat - 1);
        close(fd);
        fd = -1;
        if (n <= 0)
                return false;
        stat[n] = '\0';
        p = strrchr(stat, ')');
        if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
                return false;
        /* The pid may have been reused: the process must be a monitor of this very spec. */
        snprintf(path, sizeof path, "/proc/%ld/cmdline", (long) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof buf - 1);
        if (n < 0)
                return false;
        if (n == 0)
                return exec_in_progress(pid);
        buf[n] = '\0';
        for (char *a = buf; a < buf + n; a += strlen(a) + 1)
                if (strcmp(a, spec_path) == 0)
                        return true;
        return false;
}

json_t *monitor_status(const char *dir)
{
        char path[SCHED_PATH_MAX * 2];
        json_error_t jerr;
        json_t *doc;
        snprintf(path, sizeof path, "%s/status.json", dir);
        doc = json_load_file(path, 0, &jerr);
        if (doc && !json_is_object(doc)) {
                json_decref(doc);
                return NULL;
        }
        return doc;
}

int monitor_stop(pid_t pid, const char *dir, const char *stop_code, const char *reason, struct err *err)
{
        char path[SCHED_PATH_MAX * 2];
        _cleanup_json_ json_t *doc = json_pack("{s:s, s:s}", "stopCode", stop_code ?: "UserInitiated", "reason", reason ?: "");
        _cleanup_free_ char *txt = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        int r;
        if (!txt)
                return err_set(err, ENOMEM, NULL, "out of memory");
        snprintf(path, sizeof path, "%s/stop-request.json", dir);
        if ((r = write_file_atomic(path, txt, strlen(txt), 0600)) < 0)
                return err_set(err, -r, NULL, "write '%s': %s", path, strerror(-r));
        if (pid > 1 && kill(pid, SIGTERM) < 0 && errno != ESRCH)
                return err_set(err, errno, NULL, "signal the task monitor (pid %ld): %s", (long) pid, strerror(errno));
        return 0;
}
