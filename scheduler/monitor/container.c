/* container.c: start a container: new mount, PID, UTS and IPC namespaces in the task netns, rootfs, exec. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/log.h"
#include "etcfiles.h"
#include "monitor.h"

#define CHILD_STACK (256 * 1024)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

struct spawn_ctx {
        const struct monitor *m;
        const struct container *c;
        int err_fd;                     /* write end of the error pipe; closes on exec */
        int log_fd;
        const char *hostname;
};

/* In the child: report why the start failed on the error pipe and exit. The monitor reads the text
 * as the container's reason. */
static void __attribute__((noreturn, format(printf, 2, 3))) child_fail(int fd, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        int n;
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (n > 0)
                (void) !write(fd, buf, (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1);
        _exit(127);
}

/* Signal state is inherited across exec: undo the monitor's blocked mask and ignored signals. */
void container_reset_signals(void)
{
        sigset_t none;
        sigemptyset(&none);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        (void) signal(s, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

static int bind_file(const char *src, const char *dst)
{
        _cleanup_close_ int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0)
                return -errno;
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
                return -errno;
        return 0;
}

/* A minimal /dev on a small tmpfs: the host's harmless character devices bind-mounted in. */
static void setup_dev(int efd, const char *root)
{
        static const char *const devs[] = { "null", "zero", "full", "random", "urandom", "tty" };
        static const char *const links[][2] = { { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
                                                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" } };
        char dst[4096], src[64];
        int r;

        snprintf(dst, sizeof dst, "%s/dev", root);
        if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1024k") < 0)
                child_fail(efd, "mount tmpfs on '%s': %s", dst, strerror(errno));
        for (size_t i = 0; i < ELEMENTSOF(devs); i++) {
                snprintf(dst, sizeof dst, "%s/dev/%s", root, devs[i]);
                snprintf(src, sizeof src, "/dev/%s", devs[i]);
                if ((r = bind_file(src, dst)) < 0 && strcmp(devs[i], "tty") != 0)
                        child_fail(efd, "bind-mount '%s' on '%s': %s", src, dst, strerror(-r));
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(dst, sizeof dst, "%s/dev/%s", root, links[i][0]);
                if (symlink(links[i][1], dst) < 0)
                        child_fail(efd, "symlink '%s': %s", dst, strerror(errno));
        }
        snprintf(dst, sizeof dst, "%s/dev/shm", root);
        if (mkdir(dst, 01777) < 0 ||
            mount("shm", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
                child_fail(efd, "mount tmpfs on '%s': %s", dst, strerror(errno));
}

/* proc and /dev in the new root; the mount points are made first (in the upper layer), while the
 * root is writable. /tmp is the image's own, as in Docker. */
static void setup_mounts(int efd, const char *root)
{
        static const char *const dirs[] = { "proc", "dev", "tmp" };
        char path[4096];

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
                if (mkdir(path, strcmp(dirs[i], "tmp") == 0 ? 01777 : 0755) < 0 && errno != EEXIST)
                        child_fail(efd, "create mount point '%s': %s", path, strerror(errno));
        }
        snprintf(path, sizeof path, "%s/proc", root);
        if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                child_fail(efd, "mount proc on '%s': %s", path, strerror(errno));
        setup_dev(efd, root);
}

/* pivot_root(".", "."): the old root ends up stacked on the new one and is detached at once. */
static void enter_root(int efd, const char *root)
{
        if (chdir(root) < 0)
                child_fail(efd, "chdir '%s': %s", root, strerror(errno));
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                child_fail(efd, "pivot_root into '%s': %s", root, strerror(errno));
        if (umount2(".", MNT_DETACH) < 0)
                child_fail(efd, "detach the old root: %s", strerror(errno));
        if (chdir("/") < 0)
                child_fail(efd, "chdir '/': %s", strerror(errno));
}

/* The monitor's per-container file src on ROOT/etc/NAME, in the container's own mount namespace. In an
 * overlay root a missing mount point (or a symlink, such as systemd's stub-resolv.conf) is replaced by an
 * empty file in the container's upper layer; in the host's root the file must already exist: nothing on
 * the host's filesystem is created or changed, only covered inside the container. */
static void bind_etc(int efd, const char *root, const char *src, const char *name)
{
        char dst[4096];
        struct stat st;

        if (!src)
                return;
        snprintf(dst, sizeof dst, "%s/etc", root);
        if (*root && mkdir(dst, 0755) < 0 && errno != EEXIST)
                child_fail(efd, "create '%s': %s", dst, strerror(errno));
        snprintf(dst, sizeof dst, "%s/etc/%s", root, name);
        if (*root) {
                int fd, l = lstat(dst, &st);
                if (l < 0 && errno != ENOENT)
                        child_fail(efd, "stat '%s': %s", dst, strerror(errno));
                if (l == 0 && S_ISREG(st.st_mode))
                        goto bind;
                if (l == 0 && unlink(dst) < 0)
                        child_fail(efd, "replace '%s': %s", dst, strerror(errno));
                fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0)
                        child_fail(efd, "create mount point '%s': %s", dst, strerror(errno));
                close(fd);
        }
bind:
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
                child_fail(efd, "bind-mount '%s' on '%s': %s", src, dst, strerror(errno));
}

/* An image's layers: overlayfs with the container's own upper directory, writable as Docker's root
 * (read-only with readonlyRootFilesystem); mounted here, in the container's mount namespace, so it
 * goes away with the container's last process. */
static void setup_overlay_rootfs(int efd, const struct container *c)
{
        const char *root = c->overlay.merged;
        char msg[600];

        if (rootfs_mount_overlay(c->spec, &c->overlay, msg, sizeof msg) < 0)
                child_fail(efd, "%s", msg);
        setup_mounts(efd, root);
        bind_etc(efd, root, c->etc_resolv, "resolv.conf");
        bind_etc(efd, root, c->etc_hosts, "hosts");
        if (c->spec->readonly_root &&
            mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
                child_fail(efd, "bind-mount root '%s': %s", root, strerror(errno));
        if (c->spec->readonly_root && mount(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                child_fail(efd, "remount root '%s' read-only: %s", root, strerror(errno));
        enter_root(efd, root);
}

/* As Docker: parts of /proc that reach the host stay read-only or hidden (root in the container is
 * root on the host, without a user namespace). */
static void mask_proc(int efd)
{
        static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs" };
        static const char *const files[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                                             "/proc/latency_stats" };
        static const char *const dirs[] = { "/proc/acpi", "/proc/scsi", "/proc/asound", "/proc/firmware" };
        struct stat st;

        for (size_t i = 0; i < ELEMENTSOF(ro); i++) {
                if (stat(ro[i], &st) < 0)
                        continue;
                if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
                    mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          NULL) < 0)
                        child_fail(efd, "make '%s' read-only: %s", ro[i], strerror(errno));
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (stat(files[i], &st) == 0 && mount("/dev/null", files[i], NULL, MS_BIND, NULL) < 0)
                        child_fail(efd, "mask '%s': %s", files[i], strerror(errno));
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode) &&
                    mount("tmpfs", dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        child_fail(efd, "mask '%s': %s", dirs[i], strerror(errno));
}

int container_enter_privileges(const struct container_spec *cs, const struct user_ids *u, char *msg, size_t len)
{
        int r;
        if ((r = caps_drop_bounding(cs->caps)) < 0) {
                snprintf(msg, len, "drop capabilities from the bounding set: %s", strerror(-r));
                return r;
        }
        if (setgroups(u->n_groups, u->groups) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0) {
                r = -errno;
                snprintf(msg, len, "switch to uid %u gid %u: %s", (unsigned) u->uid, (unsigned) u->gid, strerror(-r));
                return r;
        }
        if ((r = caps_set_process(cs->caps)) < 0) {
                snprintf(msg, len, "set capabilities: %s", strerror(-r));
                return r;
        }
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
                r = -errno;
                snprintf(msg, len, "set no_new_privs: %s", strerror(-r));
                return r;
        }
        return 0;
}

static bool env_has(char **env, const char *name)
{
        size_t n = strlen(name);
        for (char **e = env; e && *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return true;
        return false;
}

char **container_env(const struct container_spec *cs, const char *hostname, const char *home)
{
        size_t n = 0, cap = 4;
        char **env;
        for (char **e = cs->env; e && *e; e++)
                cap++;
        if (!(env = calloc(cap, sizeof(char *))))
                return NULL;
        if (!env_has(cs->env, "PATH") && !(env[n++] = strdup("PATH=" DEFAULT_PATH)))
                goto fail;
        if (!env_has(cs->env, "HOSTNAME") && asprintf(&env[n++], "HOSTNAME=%s", hostname) < 0)
                goto fail;
        if (!env_has(cs->env, "HOME") && asprintf(&env[n++], "HOME=%s", home) < 0)
                goto fail;
        for (char **e = cs->env; e && *e; e++)
                if (!(env[n++] = strdup(*e)))
                        goto fail;
        return env;
fail:
        env[n - 1] = NULL;
        for (size_t i = 0; env[i]; i++)
                free(env[i]);
        free(env);
        return NULL;
}

static int child_main(void *arg)
{
        const struct spawn_ctx *ctx = arg;
        const struct monitor *m = ctx->m;
        const struct container *c = ctx->c;
        const struct container_spec *cs = c->spec;
        const char *wd = cs->workdir ? cs->workdir : "/";
        int efd = ctx->err_fd, r;
        char msg[512];

        container_reset_signals();
        /* The container dies with its monitor rather than run on unowned. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (m->netns_fd >= 0 && setns(m->netns_fd, CLONE_NEWNET) < 0)
                child_fail(efd, "join network namespace '%s': %s", m->spec->netns, strerror(errno));
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(efd, "make / private: %s", strerror(errno));
        if ((r = cgroup_join_self(c)) < 0)
                child_fail(efd, "join cgroup: %s", strerror(-r));
        if (sethostname(ctx->hostname, strlen(ctx->hostname)) < 0)
                child_fail(efd, "set hostname '%s': %s", ctx->hostname, strerror(errno));
        if (dup2(m->devnull_fd, 0) < 0 || dup2(ctx->log_fd, 1) < 0 || dup2(ctx->log_fd, 2) < 0)
                child_fail(efd, "set up stdio: %s", strerror(errno));
        /* Everything but 0, 1, 2 closes on exec, whatever a library may have opened. */
        (void) syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        if (c->overlay.merged)
                setup_overlay_rootfs(efd, c);
        else {
                if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        child_fail(efd, "mount proc on /proc: %s", strerror(errno));
                bind_etc(efd, "", c->etc_resolv, "resolv.conf");
                bind_etc(efd, "", c->etc_hosts, "hosts");
        }
        mask_proc(efd);
        /* Docker creates a missing working directory in a writable root. */
        if (c->overlay.merged && !cs->readonly_root && (r = mkdir_p(wd, 0755)) < 0)
                child_fail(efd, "workingDirectory '%s': %s", wd, strerror(-r));
        if (chdir(wd) < 0)
                child_fail(efd, "workingDirectory '%s': %s", wd, strerror(errno));
        if (container_enter_privileges(cs, &c->user, msg, sizeof msg) < 0)
                child_fail(efd, "%s", msg);
        environ = c->env;
        execvp(cs->argv[0], cs->argv);
        child_fail(efd, "exec '%s': %s", cs->argv[0], strerror(errno));
}

/* Through the layers for an overlay root (the merged view exists only in the container's namespace);
 * an image without the file resolves as an empty one. */
static int resolve_user(const struct container *c, struct user_ids *ret, struct err *err)
{
        char passwd[4096], group[4096];
        const char *root = c->rootfs ? c->rootfs : "";
        if (c->spec->lowerdirs) {
                const char *const *l = (const char *const *) c->spec->lowerdirs;
                if (rootfs_lookup(l, "etc/passwd", passwd, sizeof passwd) < 0)
                        snprintf(passwd, sizeof passwd, "%s/.ecsbox-none/passwd", c->overlay.base);
                if (rootfs_lookup(l, "etc/group", group, sizeof group) < 0)
                        snprintf(group, sizeof group, "%s/.ecsbox-none/group", c->overlay.base);
        } else {
                snprintf(passwd, sizeof passwd, "%s/etc/passwd", root);
                snprintf(group, sizeof group, "%s/etc/group", root);
        }
        return user_resolve(c->spec->user, passwd, group, ret, err);
}

static int prepare_overlay(struct monitor *m, struct container *c, struct err *err)
{
        const struct container_spec *cs = c->spec;
        struct stat st;
        int r;

        for (char **l = cs->lowerdirs; *l; l++) {
                r = stat(*l, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                if (r)
                        return err_set(err, r, NULL, "image '%s': layer '%s': %s", cs->image, *l, strerror(r));
        }
        if ((r = rootfs_paths(m->spec->dir, cs->name, &c->overlay)) < 0)
                return err_set(err, -r, NULL, "out of memory");
        if ((r = rootfs_create(&c->overlay, err)) < 0)
                return err_wrap(err, "image '%s'", cs->image);
        if (!(c->rootfs = strdup(c->overlay.merged)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        return 0;
}

static int write_etc(const char *dir, const char *name, const char *text, char **ret, struct err *err)
{
        _cleanup_free_ char *path = NULL;
        int r;
        if (!text)
                return 0;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = write_file_atomic(path, text, strlen(text), 0644)) < 0)
                return err_set(err, -r, NULL, "write '%s': %s", path, strerror(-r));
        free(*ret);
        *ret = TAKE_PTR(path);
        return 0;
}

/* The container's resolv.conf and hosts (etcfiles.c) as files in DIR/etc/NAME, bound in by the child.
 * The host's own files are only read. */
static int prepare_etc(struct monitor *m, struct container *c, const char *hostname, struct err *err)
{
        static char resolv[65536], upstream[65536], hosts[65536];
        struct etc_host_files host = { 0 };
        _cleanup_free_ char *dir = NULL;
        struct etc_files f = { 0 };
        int r;

        if (!m->spec->network_mode)
                return 0;
        if (read_file_small("/etc/resolv.conf", resolv, sizeof resolv) >= 0)
                host.resolv = resolv;
        if (read_file_small("/run/systemd/resolve/resolv.conf", upstream, sizeof upstream) >= 0)
                host.resolv_upstream = upstream;
        if (read_file_small("/etc/hosts", hosts, sizeof hosts) >= 0)
                host.hosts = hosts;
        if ((r = etc_files_build(m->spec, c->spec, hostname, &host, &f)) < 0)
                return err_set(err, -r, NULL, "resolv.conf and hosts: %s", strerror(-r));
        if (!f.resolv && !f.hosts)
                return 0;
        if (asprintf(&dir, "%s/etc/%s", m->spec->dir, c->spec->name) < 0) {
                etc_files_done(&f);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        if ((r = mkdir_p(dir, 0755)) < 0)
                err_set(err, -r, NULL, "create '%s': %s", dir, strerror(-r));
        else if ((r = write_etc(dir, "resolv.conf", f.resolv, &c->etc_resolv, err)) >= 0)
                r = write_etc(dir, "hosts", f.hosts, &c->etc_hosts, err);
        etc_files_done(&f);
        return r;
}

static int prepare(struct monitor *m, struct container *c, char *hostname, size_t hlen, struct err *err)
{
        const struct container_spec *cs = c->spec;
        int r;

        if (cs->lowerdirs) {
                if ((r = prepare_overlay(m, c, err)) < 0)
                        return r;
        }
        if ((r = resolve_user(c, &c->user, err)) < 0)
                return err_wrap(err, "user '%s'", cs->user ? cs->user : "root");
        snprintf(hostname, hlen, "%s", cs->hostname ?: m->spec->hostname ?: c->runtime_id);
        if (!cs->hostname && !m->spec->hostname && strlen(hostname) > 12)
                hostname[12] = '\0';    /* as Docker: the short container id */
        if (!(c->env = container_env(cs, hostname, c->user.home)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = prepare_etc(m, c, hostname, err)) < 0)
                return r;
        return cgroup_setup(m, c);
}

static int open_log(const struct monitor *m, const struct container *c, struct err *err)
{
        char path[4096];
        int fd;
        snprintf(path, sizeof path, "%s/logs/%s.log", m->spec->dir, c->spec->name);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return err_set(err, errno, NULL, "open log '%s': %s", path, strerror(errno));
        return fd;
}

/* Read the child's report: empty at EOF means exec succeeded (the pipe closed on exec). */
static ssize_t read_report(int fd, char *buf, size_t len)
{
        size_t n = 0;
        while (n < len - 1) {
                ssize_t r = read(fd, buf + n, len - 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                n += (size_t) r;
        }
        buf[n] = '\0';
        return (ssize_t) n;
}

int container_spawn(struct monitor *m, struct container *c, struct err *err)
{
        _cleanup_close_ int log_fd = -1, rd = -1, wr = -1;
        _cleanup_free_ char *stack = NULL;
        char hostname[80], report[1024];
        struct spawn_ctx ctx;
        int pipefd[2], r;
        pid_t pid;

        if ((r = prepare(m, c, hostname, sizeof hostname, err)) < 0)
                return r;
        if ((log_fd = open_log(m, c, err)) < 0)
                return log_fd;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return err_set(err, errno, NULL, "pipe: %s", strerror(errno));
        rd = pipefd[0];
        wr = pipefd[1];
        if (!(stack = malloc(CHILD_STACK)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        ctx = (struct spawn_ctx) { .m = m, .c = c, .err_fd = wr, .log_fd = log_fd, .hostname = hostname };
        /* Without CLONE_VM the child runs on its own copy of this stack; ours is freed below. */
        pid = clone(child_main, stack + CHILD_STACK, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD,
                    &ctx);
        if (pid < 0)
                return err_set(err, errno, NULL, "clone new namespaces: %s", strerror(errno));
        c->pid = pid;
        closep(&wr);
        wr = -1;
        if (read_report(rd, report, sizeof report) > 0)
                return err_set(err, EIO, NULL, "%s", report);
        return 0;
}

void container_free_runtime(struct container *c)
{
        user_ids_done(&c->user);
        for (char **e = c->env; e && *e; e++)
                free(*e);
        free(c->env);
        free(c->rootfs);
        free(c->etc_resolv);
        free(c->etc_hosts);
        c->etc_resolv = c->etc_hosts = NULL;
        rootfs_paths_done(&c->overlay);
        free(c->reason);
        free(c->cg.mem_dir);
        free(c->cg.cpu_dir);
        free(c->cg.limits);
        c->env = NULL;
        c->rootfs = c->reason = NULL;
        c->cg.mem_dir = c->cg.cpu_dir = c->cg.limits = NULL;
}
