/* main.c: ecsbox-monitor: validate the spec, daemonise away from ecsboxd, run one task to STOPPED. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "monitor.h"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: ecsbox-monitor --spec FILE [--foreground] [--log-level LEVEL]\n"
                "       ecsbox-monitor --spec FILE --exec CONTAINER -- COMMAND [ARG...]\n"
                "Run one ecsbox task: start its containers, reap them, write DIR/status.json.\n"
                "With --exec: run COMMAND in that running container (ECS Exec), with this process's stdio;\n"
                "its exit status is the command's.\n\n"
                "  --spec FILE        the task spec (JSON, see docs/monitor.md)\n"
                "  --foreground       do not daemonise; exit when the task is STOPPED\n"
                "  --log-level LEVEL  error, warning, notice, info (default) or debug\n"
                "  -h, --help         this text\n\n"
                "Exit: 0 the monitor runs (its PID printed on stdout) or, in the foreground, the task\n"
                "stopped; 1 it could not start; 2 bad usage or an invalid spec (reason on stderr).\n");
}

static int parse_level(const char *s)
{
        static const struct { const char *name; int level; } levels[] = {
                { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO }, { "debug", LOG_DEBUG } };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcmp(s, levels[i].name) == 0)
                        return levels[i].level;
        return -1;
}

/* Double fork + setsid: the monitor belongs to no session or process group of ecsboxd's, so that
 * ecsboxd can die (even by SIGKILL) and restart while tasks run. The original process waits until the
 * monitor wrote monitor.pid (or died), prints its PID and exits; it returns only in the monitor,
 * with ret_ready_fd to be closed once ready. */
static int daemonise(const char *dir, int *ret_ready_fd)
{
        int p[2], status;
        pid_t pid;
        char buf[32], log_path[4096];
        ssize_t n;

        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "msg=\"pipe\"");
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "msg=\"fork\"");
        if (pid > 0) {
                close(p[1]);
                while ((n = read(p[0], buf, sizeof buf - 1)) < 0 && errno == EINTR)
                        ;
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                if (n <= 0) {
                        log_error("dir=%s msg=\"the monitor died during start-up, see %s/monitor.log\"", dir, dir);
                        exit(1);
                }
                buf[n] = '\0';
                printf("%s\n", buf);
                exit(0);
        }
        close(p[0]);
        if (setsid() < 0)
                _exit(1);
        pid = fork();
        if (pid < 0)
                _exit(1);
        if (pid > 0)
                _exit(0);
        /* The monitor itself: its own log, no terminal, no working directory held. */
        snprintf(log_path, sizeof log_path, "%s/monitor.log", dir);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC), lf = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (nul < 0 || lf < 0 || dup2(nul, 0) < 0 || dup2(lf, 1) < 0 || dup2(lf, 2) < 0)
                _exit(1);
        close(nul);
        close(lf);
        if (chdir("/") < 0)
                _exit(1);
        umask(022);
        *ret_ready_fd = p[1];
        return 0;
}

static int write_pid_file(const char *dir)
{
        char path[4096], buf[32];
        snprintf(path, sizeof path, "%s/monitor.pid", dir);
        snprintf(buf, sizeof buf, "%d\n", (int) getpid());
        return write_file_durable(path, buf, strlen(buf), 0644);
}

/* ecsbox-monitor --spec FILE --exec CONTAINER -- COMMAND...: monitor_exec's exit status. */
static int exec_main(int argc, char **argv, const struct option *opts)
{
        const char *spec_path = NULL, *container = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1)
                switch (c) {
                case 's': spec_path = optarg; break;
                case 'x': container = optarg; break;
                case 'l': break;
                default: usage(stderr); return 2;
                }
        if (!spec_path || !container || !*container || optind >= argc) {
                usage(stderr);
                return 2;
        }
        return monitor_exec(spec_path, container, argv + optind);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = { { "spec", required_argument, NULL, 's' },
                                               { "foreground", no_argument, NULL, 'f' },
                                               { "log-level", required_argument, NULL, 'l' },
                                               { "exec", required_argument, NULL, 'x' },
                                               { "help", no_argument, NULL, 'h' },
                                               {} };
        const char *spec_path = NULL;
        bool foreground = false;
        struct task_spec *spec = NULL;
        struct monitor m;
        struct err err = { 0 };
        char logs[4096];
        sigset_t mask;
        int c, r, ready_fd = -1;

        log_set_ident("ecsbox-monitor");
        /* --exec runs in the foreground of a terminal: its signals are left alone */
        for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
                if (!strcmp(argv[i], "--exec") || !strncmp(argv[i], "--exec=", 7))
                        return exec_main(argc, argv, opts);
        /* Blocked from the start (the event loop reads them from a signalfd): a SIGTERM sent as soon as
         * monitor.pid exists waits for the loop instead of killing the monitor. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's': spec_path = optarg; break;
                case 'f': foreground = true; break;
                case 'l':
                        if (parse_level(optarg) < 0) {
                                fprintf(stderr, "ecsbox-monitor: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        log_set_max_level(parse_level(optarg));
                        break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (!spec_path || optind != argc) {
                usage(stderr);
                return 2;
        }
        if (spec_load(spec_path, &spec, &err) < 0) {
                log_error("spec=%s code=%s err=\"%s\"", spec_path, err.code, err.msg);
                return 2;
        }
        snprintf(logs, sizeof logs, "%s/logs", spec->dir);
        if ((r = mkdir_p(logs, 0755)) < 0) {
                log_error_errno(r, "task=%s dir=%s msg=\"create task directory\"", spec->task_id, logs);
                spec_free(spec);
                return 1;
        }
        if (!foreground && daemonise(spec->dir, &ready_fd) < 0) {
                spec_free(spec);
                return 1;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        (void) signal(SIGHUP, SIG_IGN);
        /* Orphans of the containers (and their PID namespaces' last processes) come back to us. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ||
            (r = monitor_init(&m, spec)) < 0 || (r = write_pid_file(spec->dir)) < 0) {
                log_error_errno(r < 0 ? r : -errno, "task=%s msg=\"monitor start-up\"", spec->task_id);
                return 1;
        }
        if (ready_fd >= 0) {
                char buf[32];
                int n = snprintf(buf, sizeof buf, "%d", (int) getpid());
                (void) !write(ready_fd, buf, (size_t) n);
                close(ready_fd);
        }
        r = monitor_run(&m);
        monitor_done(&m);
        spec_free(spec);
        return r < 0 ? 1 : 0;
}
