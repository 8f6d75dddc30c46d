/* netns.c: named network namespaces: create (unshare + bind mount), enter, delete; the netns directory; sysctls. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "ecsbox/fsutil.h"
#include "netns.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define SELF_NETNS "/proc/thread-self/ns/net"

int netns_dir_prepare(const char *dir, struct err *err)
{
        int r = mkdir_p(dir, 0755);

        if (r < 0)
                return err_set(err, r, NULL, "create netns directory '%s': %s", dir, strerror(-r));
        /* As iproute2's netns_add: a mount point may turn shared at once; any
         * other directory answers EINVAL and becomes a bind mount of itself
         * first, so that the netns mounts under it propagate to other mount
         * namespaces (`ip netns exec` and tasks see them). */
        if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0)
                return 0;
        if (errno != EINVAL)
                return err_set(err, errno, NULL, "make netns directory '%s' a shared mount: %s", dir, strerror(errno));
        if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
                return err_set(err, errno, NULL, "bind mount netns directory '%s' onto itself: %s", dir, strerror(errno));
        if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0)
                return err_set(err, errno, NULL, "make netns directory '%s' a shared mount: %s", dir, strerror(errno));
        return 0;
}

void netns_return(int host_fd)
{
        if (setns(host_fd, CLONE_NEWNET) < 0) {
                log_error_errno(errno, "msg=\"cannot return to the host network namespace, aborting\"");
                abort();
        }
}

bool netns_is_live(const char *path)
{
        struct statfs s;
        return statfs(path, &s) == 0 && (unsigned long) s.f_type == (unsigned long) NSFS_MAGIC;
}

/* An empty regular file that is not a netns: what a crash between the
 * placeholder and the bind mount leaves. */
static bool is_placeholder(const char *path)
{
        struct stat st;
        return !netns_is_live(path) && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
}

static int placeholder_create(const char *path, const char *name, struct err *err)
{
        for (int tries = 0;; tries++) {
                int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
                if (fd >= 0) {
                        (void) close(fd);
                        return 0;
                }
                if (errno == EEXIST && tries == 0 && is_placeholder(path)) {
                        log_notice("msg=\"reclaiming netns placeholder left without a namespace\" netns=%s", name);
                        (void) unlink(path);
                        continue;
                }
                if (errno == EEXIST)
                        return err_set(err, EEXIST, NULL, "create netns '%s': %s exists", name, path);
                return err_set(err, errno, NULL, "create netns '%s': create %s: %s", name, path, strerror(errno));
        }
}

int netns_create(const char *dir, const char *name, int host_fd, netns_fn fn, void *ud, int *ret_fd, struct err *err)
{
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX], where[NAME_MAX + 16];
        bool mounted = false;
        int r;

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
                return err_set(err, ENAMETOOLONG, NULL, "create netns '%s': path too long", name);
        snprintf(where, sizeof where, "netns '%s'", name);
        if ((r = placeholder_create(path, name, err)) < 0)
                return r;
        if (unshare(CLONE_NEWNET) < 0) {
                r = err_set(err, errno, NULL, "create netns '%s': unshare(CLONE_NEWNET): %s", name, strerror(errno));
                (void) unlink(path);
                return r;
        }
        r = fn ? fn(ud, err) : 0;
        if (r >= 0) {
                /* thread-self: setns/unshare are per thread, /proc/self would name the main thread's netns */
                if (mount(SELF_NETNS, path, "none", MS_BIND, NULL) < 0)
                        r = err_set(err, errno, NULL, "create netns '%s': bind mount onto %s: %s", name, path, strerror(errno));
                else
                        mounted = true;
        }
        if (r >= 0 && ret_fd) {
                fd = open(SELF_NETNS, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = err_set(err, errno, NULL, "create netns '%s': open %s: %s", name, SELF_NETNS, strerror(errno));
        }
        netns_return(host_fd);
        if (r < 0) {
                if (mounted)
                        (void) umount2(path, MNT_DETACH);
                (void) unlink(path);
                return r;
        }
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int netns_open(const char *path, const char *label, int *ret_fd, struct err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return err_set(err, errno, NULL, "open %s (%s): %s", label, path, strerror(errno));
        if (!netns_is_live(path))
                return err_set(err, ENOENT, NULL, "open %s: %s is not a network namespace", label, path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int netns_run(const char *path, const char *label, netns_fn fn, void *ud, int *ret_fd, struct err *err)
{
        _cleanup_close_ int fd = -1, self = -1;
        int r;

        if ((r = netns_open(path, label, &fd, err)) < 0)
                return r;
        /* thread-self: setns is per thread, /proc/self would name the main thread's netns */
        self = open(SELF_NETNS, O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return err_set(err, errno, NULL, "enter %s: open %s: %s", label, SELF_NETNS, strerror(errno));
        if (setns(fd, CLONE_NEWNET) < 0)
                return err_set(err, errno, NULL, "enter %s: setns: %s", label, strerror(errno));
        r = fn ? fn(ud, err) : 0;
        netns_return(self);
        if (r < 0)
                return r;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int netns_delete(const char *path, const char *label, struct err *err)
{
        /* EINVAL: not a mount point (never mounted or already detached) */
        for (int i = 0; i < 8; i++)
                if (umount2(path, MNT_DETACH) < 0) {
                        if (errno == EINVAL || errno == ENOENT)
                                break;
                        return err_set(err, errno, NULL, "delete %s: unmount %s: %s", label, path, strerror(errno));
                }
        if (unlink(path) < 0 && errno != ENOENT)
                return err_set(err, errno, NULL, "delete %s: unlink %s: %s", label, path, strerror(errno));
        return 0;
}

int sysctl_write(const char *key, const char *value, bool optional, const char *where, struct err *err)
{
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];
        size_t len = strlen(value);
        ssize_t n;
        int w = snprintf(path, sizeof path, "/proc/sys/%s", key);

        if (w < 0 || w >= (int) sizeof path)
                return err_set(err, ENAMETOOLONG, NULL, "set %s in %s: name too long", key, where);
        for (char *p = path + strlen("/proc/sys/"); *p; p++)
                if (*p == '.')
                        *p = '/';
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT && optional)
                        return 0;
                return err_set(err, errno, NULL, "set %s=%s in %s: %s", key, value, where, strerror(errno));
        }
        n = write(fd, value, len);
        if (n < 0)
                return err_set(err, errno, NULL, "set %s=%s in %s: %s", key, value, where, strerror(errno));
        if ((size_t) n != len)
                return err_set(err, EIO, NULL, "set %s=%s in %s: short write", key, value, where);
        return 0;
}
