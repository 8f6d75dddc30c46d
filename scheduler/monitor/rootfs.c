/* rootfs.c: a container's overlayfs root: its directories in the task dir, the mount options, lookups
 * through the layers (whiteouts and opaque directories), the mount and the clean-up. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/fsutil.h"
#include "monitor.h"

/* mount(2) copies at most one page of option data. */
#define OVERLAY_OPTS_MAX 4095

int rootfs_paths(const char *task_dir, const char *name, struct rootfs_paths *ret)
{
        struct rootfs_paths p = { 0 };
        if (asprintf(&p.base, "%s/rootfs/%s", task_dir, name) < 0)
                return -ENOMEM;
        if (asprintf(&p.upper, "%s/upper", p.base) < 0 || asprintf(&p.work, "%s/work", p.base) < 0 ||
            asprintf(&p.merged, "%s/merged", p.base) < 0) {
                rootfs_paths_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

void rootfs_paths_done(struct rootfs_paths *p)
{
        free(p->base);
        free(p->upper);
        free(p->work);
        free(p->merged);
        *p = (struct rootfs_paths) { 0 };
}

/* The parent directory shared by every lowerdir (ecsboxd's layers all sit in images/layers), with a
 * trailing '/', or 0 when they do not share one. */
static size_t common_parent(const char *const *lowerdirs)
{
        const char *slash = strrchr(lowerdirs[0], '/');
        size_t n = slash ? (size_t) (slash - lowerdirs[0]) + 1 : 0;
        if (n <= 1)
                return 0;
        for (const char *const *l = lowerdirs; *l; l++)
                if (strncmp(*l, lowerdirs[0], n) != 0 || strchr(*l + n, '/') || !(*l)[n])
                        return 0;
        return n;
}

int rootfs_overlay_options(const char *const *lowerdirs, const char *upper, const char *work, char **ret_opts,
                           char **ret_chdir)
{
        size_t cut = 0, len;
        char *o, *p;

        for (int pass = 0; pass < 2; pass++) {
                len = strlen("lowerdir=,upperdir=,workdir=") + strlen(upper) + strlen(work);
                for (const char *const *l = lowerdirs; *l; l++)
                        len += strlen(*l) - cut + 1;
                if (len <= OVERLAY_OPTS_MAX)
                        break;
                /* Too long for one page: name the layers relative to their shared parent, which the
                 * mounting process makes its working directory (containerd does the same). */
                if (pass == 1 || !(cut = common_parent(lowerdirs)))
                        return -E2BIG;
        }
        if (!(o = malloc(len + 1)))
                return -ENOMEM;
        p = stpcpy(o, "lowerdir=");
        for (const char *const *l = lowerdirs; *l; l++) {
                if (l != lowerdirs)
                        *p++ = ':';
                p = stpcpy(p, *l + cut);
        }
        p += sprintf(p, ",upperdir=%s,workdir=%s", upper, work);
        if (cut) {
                char *dir = strndup(lowerdirs[0], cut);
                if (!dir) {
                        free(o);
                        return -ENOMEM;
                }
                *ret_chdir = dir;
        } else
                *ret_chdir = NULL;
        *ret_opts = o;
        return 0;
}

static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *path)
{
        char v[2];
        ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof v);
        return n == 1 && v[0] == 'y';
}

/* What overlayfs would show at rel: the first layer (top first) holding it, unless a layer above hides
 * it with a whiteout, a non-directory on its path or an opaque directory. Only regular files are
 * returned (a symlink would be followed on the host, outside the image). */
int rootfs_lookup(const char *const *lowerdirs, const char *rel, char *ret_path, size_t len)
{
        for (const char *const *l = lowerdirs; *l; l++) {
                char path[PATH_MAX];
                const char *c = rel;
                bool opaque = false;
                int n = snprintf(path, sizeof path, "%s", *l);

                while (*c) {
                        const char *e = strchrnul(c, '/');
                        struct stat st;
                        if (e == c) {
                                c = *e ? e + 1 : e;
                                continue;
                        }
                        n += snprintf(path + n, sizeof path - (size_t) n, "/%.*s", (int) (e - c), c);
                        if ((size_t) n >= sizeof path)
                                return -ENAMETOOLONG;
                        if (lstat(path, &st) < 0) {
                                if (errno != ENOENT && errno != ENOTDIR)
                                        return -errno;
                                if (opaque)
                                        return -ENOENT;
                                break;  /* not in this layer: look below */
                        }
                        if (is_whiteout(&st))
                                return -ENOENT;
                        if (!*e) {
                                if (!S_ISREG(st.st_mode))
                                        return -ENOENT;
                                snprintf(ret_path, len, "%s", path);
                                return 0;
                        }
                        if (!S_ISDIR(st.st_mode))
                                return -ENOENT;         /* a file here hides everything below it */
                        opaque |= is_opaque(path);
                        c = e + 1;
                }
        }
        return -ENOENT;
}

int rootfs_create(const struct rootfs_paths *p, struct err *err)
{
        const char *dirs[] = { p->upper, p->work, p->merged };
        int r;
        /* A fresh upper layer: whatever an earlier run left is not this container's. */
        (void) rm_rf(p->upper);
        (void) rm_rf(p->work);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if ((r = mkdir_p(dirs[i], 0755)) < 0)
                        return err_set(err, -r, NULL, "create '%s': %s", dirs[i], strerror(-r));
        return 0;
}

int rootfs_mount_overlay(const struct container_spec *cs, const struct rootfs_paths *p, char *msg, size_t len)
{
        _cleanup_free_ char *opts = NULL, *dir = NULL;
        int r = rootfs_overlay_options((const char *const *) cs->lowerdirs, p->upper, p->work, &opts, &dir);
        if (r < 0) {
                snprintf(msg, len, "overlay options for %s: %s", cs->image,
                         r == -E2BIG ? "too many layers for one mount" : strerror(-r));
                return r;
        }
        if (dir && chdir(dir) < 0) {
                r = -errno;
                snprintf(msg, len, "chdir '%s': %s", dir, strerror(-r));
                return r;
        }
        if (mount("overlay", p->merged, "overlay", 0, opts) < 0) {
                r = -errno;
                snprintf(msg, len, "mount overlay of image '%s' on '%s': %s", cs->image, p->merged, strerror(-r));
                return r;
        }
        return 0;
}

void rootfs_cleanup(const struct rootfs_paths *p)
{
        /* The overlay lived in the container's mount namespace, gone with its last process: what
         * remains are plain directories. */
        (void) rm_rf(p->upper);
        (void) rm_rf(p->work);
        (void) rmdir(p->merged);
        (void) rmdir(p->base);
}
