/* layer.c: a layer blob unpacked with libarchive into layers/.tmp, checked entry by entry, hashed on the
 * way (the diff id), then renamed to layers/<diff id hex>. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/fsutil.h"
#include "images.h"
#include "layer.h"
#include "ref.h"

#define OPAQUE_XATTR "trusted.overlay.opaque"
#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

static inline void archive_read_freep(struct archive **a)
{
        if (*a)
                (void) archive_read_free(*a);
}
static inline void archive_write_freep(struct archive **a)
{
        if (*a)
                (void) archive_write_free(*a);
}

/* The bytes of the uncompressed tar: read from the outer (raw, decompressing) reader, hashed, and
 * handed to the tar reader, so the diff id costs no second pass. */
struct hashing_source {
        struct archive *outer;
        EVP_MD_CTX *md;
        uint64_t total;
        char failure[256];      /* why the outer stream failed, for the message */
        char buf[65536];
};

/* One unpack: the temporary directory and the cache of the last parent directory found free of
 * symlinks. */
struct unpack {
        const char *root;
        char *dir;              /* absolute, no symlinks: root/layers/.tmp/<random> */
        int dir_fd;
        char checked_parent[PATH_MAX];
        bool have_checked;
};

static void hex_of(const unsigned char *d, unsigned n, char *out)
{
        static const char hx[] = "0123456789abcdef";
        for (unsigned i = 0; i < n; i++) {
                out[2 * i] = hx[d[i] >> 4];
                out[2 * i + 1] = hx[d[i] & 15];
        }
        out[2 * n] = '\0';
}

char *layer_path(const char *root, const char *diff_id)
{
        char *p = NULL;
        if (!image_digest_valid(diff_id) || asprintf(&p, "%s/layers/%s", root, diff_id + 7) < 0)
                return NULL;
        return p;
}

bool layer_exists(const char *root, const char *diff_id)
{
        _cleanup_free_ char *p = layer_path(root, diff_id);
        struct stat st;
        return p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int layer_remove(const char *root, const char *diff_id)
{
        _cleanup_free_ char *p = layer_path(root, diff_id);
        return p ? rm_rf(p) : -EINVAL;
}

int layer_store_init(const char *root, struct err *err)
{
        _cleanup_free_ char *tmp = NULL;
        DIR *d;
        struct dirent *de;
        int r;

        if (asprintf(&tmp, "%s/layers/.tmp", root) < 0)
                return -ENOMEM;
        if ((r = mkdir_p(tmp, 0700)) < 0)
                return err_set(err, -r, NULL, "image store '%s': create '%s': %s", root, tmp, strerror(-r));
        /* Whatever is in .tmp was being unpacked when the last process died: none of it is a layer. */
        d = opendir(tmp);
        if (!d)
                return err_set(err, errno, NULL, "image store '%s': open '%s': %s", root, tmp, strerror(errno));
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strncmp(de->d_name, "lock-", 5))
                        continue;
                if (asprintf(&p, "%s/%s", tmp, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                if ((r = rm_rf(p)) < 0) {
                        closedir(d);
                        return err_set(err, -r, NULL, "image store '%s': remove the unfinished layer '%s': %s", root, p, strerror(-r));
                }
        }
        closedir(d);
        return 0;
}

static la_ssize_t source_read(struct archive *a, void *userdata, const void **ret_buf)
{
        struct hashing_source *s = userdata;
        la_ssize_t n = archive_read_data(s->outer, s->buf, sizeof s->buf);

        if (n < 0) {
                snprintf(s->failure, sizeof s->failure, "%s", archive_error_string(s->outer) ?: "read error");
                archive_set_error(a, EIO, "%s", s->failure);
                return -1;
        }
        s->total += (uint64_t) n;
        if (s->total > LAYER_STREAM_MAX) {
                snprintf(s->failure, sizeof s->failure, "more than %llu uncompressed bytes", (unsigned long long) LAYER_STREAM_MAX);
                archive_set_error(a, EFBIG, "%s", s->failure);
                return -1;
        }
        if (n > 0 && !EVP_DigestUpdate(s->md, s->buf, (size_t) n)) {
                snprintf(s->failure, sizeof s->failure, "SHA-256 update failed");
                archive_set_error(a, EIO, "%s", s->failure);
                return -1;
        }
        *ret_buf = s->buf;
        return n;
}

/* An archive path made relative and clean: "./a//b/" -> "a/b", "./" -> "". Refuses absolute paths and
 * ".." components (Docker and containerd refuse them too, rather than clamping them to the root). */
static int clean_path(const char *in, char *out, size_t size, const char *what, struct err *err)
{
        size_t o = 0;
        const char *p = in;

        if (in[0] == '/')
                return err_set(err, EPERM, IMAGES_E_LAYER, "%s '%s': absolute path", what, in);
        while (*p) {
                const char *q = p;
                size_t n;
                while (*q && *q != '/')
                        q++;
                n = (size_t) (q - p);
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return err_set(err, EPERM, IMAGES_E_LAYER, "%s '%s': '..' in the path", what, in);
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (o + n + 2 > size)
                                return err_set(err, ENAMETOOLONG, IMAGES_E_LAYER, "%s '%.64s...': path too long", what, in);
                        if (o)
                                out[o++] = '/';
                        memcpy(out + o, p, n);
                        o += n;
                }
                p = *q ? q + 1 : q;
        }
        out[o] = '\0';
        return 0;
}

/* Open the directory rel (clean, "" = the layer's root) below dir_fd one component at a time,
 * never following a symlink (O_NOFOLLOW on each step); create: make missing ones (0755). Returns an
 * fd, or -errno: -ELOOP for a symlink on the way, -ENOTDIR for a non-directory, -ENOENT. */
static int walk_dir(int dir_fd, const char *rel, bool create)
{
        _cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        const char *p = rel;
        char comp[NAME_MAX + 1];

        if (fd < 0)
                return -errno;
        while (*p) {
                const char *q = strchrnul(p, '/');
                size_t n = (size_t) (q - p);
                int nfd;
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(comp, p, n);
                comp[n] = '\0';
                if (create && mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
                        return -errno;
                nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0) {
                        struct stat st;
                        int e = errno;
                        /* O_DIRECTORY answers ENOTDIR for a symlink too */
                        if (e == ENOTDIR && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                                e = ELOOP;
                        return -e;
                }
                (void) close(fd);
                fd = nfd;
                p = *q ? q + 1 : q;
        }
        return TAKE_FD(fd);
}

/* Split "a/b/c" into parent "a/b" and base "c" ("c" -> "" and "c"). */
static void split_path(const char *path, char *parent, size_t size, const char **ret_base)
{
        const char *slash = strrchr(path, '/');
        if (!slash) {
                parent[0] = '\0';
                *ret_base = path;
                return;
        }
        snprintf(parent, size, "%.*s", (int) (slash - path), path);
        *ret_base = slash + 1;
}

/* The parent of an entry must be reachable without a symlink (the "l -> /" then "l/x" attack). A
 * missing parent is fine: libarchive makes it, as real directories. */
static int check_parent(struct unpack *u, const char *parent, const char *name, struct err *err)
{
        int fd;

        if (u->have_checked && !strcmp(parent, u->checked_parent))
                return 0;
        fd = walk_dir(u->dir_fd, parent, false);
        if (fd == -ENOENT)
                return 0;
        if (fd == -ELOOP)
                return err_set(err, EPERM, IMAGES_E_LAYER, "entry '%s': written through a symlink in '%s'", name, parent);
        if (fd == -ENOTDIR)
                return err_set(err, ENOTDIR, IMAGES_E_LAYER, "entry '%s': '%s' is not a directory", name, parent);
        if (fd < 0)
                return err_set(err, -fd, IMAGES_E_LAYER, "entry '%s': open '%s': %s", name, parent, strerror(-fd));
        (void) close(fd);
        snprintf(u->checked_parent, sizeof u->checked_parent, "%s", parent);
        u->have_checked = true;
        return 0;
}

/* Whatever replaces path may turn a directory of the cached parent into something else. */
static void forget_parent(struct unpack *u, const char *path)
{
        size_t n = strlen(path);
        if (u->have_checked && !strncmp(u->checked_parent, path, n) &&
            (u->checked_parent[n] == '\0' || u->checked_parent[n] == '/'))
                u->have_checked = false;
}

/* ".wh.NAME": NAME is deleted from the layers below. overlayfs reads that from a lowerdir as a
 * character device 0/0 named NAME. */
static int apply_whiteout(struct unpack *u, const char *parent, const char *name, const char *entry, struct err *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *victim = NULL;
        struct stat st;

        if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
                return err_set(err, EPERM, IMAGES_E_LAYER, "whiteout '%s': no valid name", entry);
        fd = walk_dir(u->dir_fd, parent, true);
        if (fd < 0)
                return err_set(err, -fd, IMAGES_E_LAYER, "whiteout '%s': directory '%s': %s", entry, parent,
                               fd == -ELOOP ? "a symlink" : strerror(-fd));
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                /* the same layer made NAME before deleting it: the whiteout wins */
                int r;
                if (asprintf(&victim, "%s/%s%s%s", u->dir, parent, *parent ? "/" : "", name) < 0)
                        return -ENOMEM;
                if ((r = rm_rf(victim)) < 0)
                        return err_set(err, -r, IMAGES_E_LAYER, "whiteout '%s': remove '%s': %s", entry, victim, strerror(-r));
        }
        if (mknodat(fd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
                return err_set(err, errno, IMAGES_E_LAYER, "whiteout '%s': mknod a 0/0 device '%s': %s", entry, name, strerror(errno));
        forget_parent(u, entry);
        return 0;
}

/* ".wh..wh..opq": the directory hides everything below it; overlayfs reads the xattr. */
static int apply_opaque(struct unpack *u, const char *dir, const char *entry, struct err *err)
{
        _cleanup_close_ int fd = walk_dir(u->dir_fd, dir, true);

        if (fd < 0)
                return err_set(err, -fd, IMAGES_E_LAYER, "opaque marker '%s': directory '%s': %s", entry, dir,
                               fd == -ELOOP ? "a symlink" : strerror(-fd));
        if (fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
                return err_set(err, errno, IMAGES_E_LAYER, "opaque marker '%s': set %s on '%s': %s", entry, OPAQUE_XATTR,
                               *dir ? dir : "/", strerror(errno));
        return 0;
}

/* A hard link must name a file this layer already holds, reached without a symlink. */
static int check_hardlink(struct unpack *u, const char *name, const char *target, char *clean, size_t size, struct err *err)
{
        char parent[PATH_MAX];
        const char *base;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if ((r = clean_path(target, clean, size, "hard link target", err)) < 0)
                return err_wrap(err, "hard link '%s'", name);
        if (!*clean)
                return err_set(err, EPERM, IMAGES_E_LAYER, "hard link '%s' to the layer's root", name);
        split_path(clean, parent, sizeof parent, &base);
        fd = walk_dir(u->dir_fd, parent, false);
        if (fd < 0 || fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return err_set(err, EPERM, IMAGES_E_LAYER, "hard link '%s' to '%s': the target is not in this layer", name, target);
        if (S_ISDIR(st.st_mode))
                return err_set(err, EPERM, IMAGES_E_LAYER, "hard link '%s' to '%s': the target is a directory", name, target);
        return 0;
}

/* xattrs a layer may not set: overlayfs' own (they would change what the overlay shows) and SELinux
 * labels (the runtime labels the container). Everything else (security.capability, user.*) stays. */
static bool xattr_dropped(const char *name)
{
        return !strncmp(name, "trusted.overlay.", 16) || !strcmp(name, "security.selinux");
}

static int filter_xattrs(struct archive_entry *e)
{
        const char *name;
        const void *val;
        size_t size;
        bool drop = false;
        struct {
                char *name;
                void *val;
                size_t size;
        } *keep = NULL;
        size_t n = 0, cap;

        cap = (size_t) archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK)
                if (xattr_dropped(name))
                        drop = true;
        if (!drop)
                return 0;
        keep = calloc(cap ? cap : 1, sizeof *keep);
        if (!keep)
                return -ENOMEM;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK && n < cap) {
                if (xattr_dropped(name))
                        continue;
                keep[n].name = strdup(name);
                keep[n].val = malloc(size ? size : 1);
                if (keep[n].val)
                        memcpy(keep[n].val, val, size);
                keep[n].size = size;
                n++;
        }
        archive_entry_xattr_clear(e);
        for (size_t i = 0; i < n; i++) {
                if (keep[i].name && keep[i].val)
                        archive_entry_xattr_add_entry(e, keep[i].name, keep[i].val, keep[i].size);
                free(keep[i].name);
                free(keep[i].val);
        }
        free(keep);
        return 0;
}

static int copy_data(struct archive *in, struct archive *out, const char *name, struct err *err)
{
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t off;
                int r = archive_read_data_block(in, &buf, &size, &off);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return err_set(err, archive_errno(in) > 0 ? archive_errno(in) : EIO, IMAGES_E_LAYER, "entry '%s': read: %s",
                                       name, archive_error_string(in) ?: "error");
                if (archive_write_data_block(out, buf, size, off) < ARCHIVE_OK)
                        return err_set(err, archive_errno(out) > 0 ? archive_errno(out) : EIO, NULL, "entry '%s': write: %s", name,
                                       archive_error_string(out) ?: "error");
        }
}

static int unpack_entry(struct unpack *u, struct archive *in, struct archive *disk, struct archive_entry *e, struct err *err)
{
        const char *raw = archive_entry_pathname(e), *link = archive_entry_hardlink(e), *base;
        char rel[PATH_MAX], parent[PATH_MAX], link_rel[PATH_MAX], abs[PATH_MAX];
        mode_t type = archive_entry_filetype(e);
        int r;

        if (!raw)
                return err_set(err, EINVAL, IMAGES_E_LAYER, "an entry without a path");
        if ((r = clean_path(raw, rel, sizeof rel, "entry", err)) < 0)
                return r;
        split_path(rel, parent, sizeof parent, &base);

        if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
                if (!strcmp(base, WH_OPAQUE))
                        return apply_opaque(u, parent, raw, err);
                if (!strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)))
                        return 0;       /* AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content */
                return apply_whiteout(u, parent, base + strlen(WH_PREFIX), raw, err);
        }
        if (!link) {
                switch (type) {
                case AE_IFREG:
                case AE_IFDIR:
                case AE_IFLNK:
                case AE_IFIFO:
                        break;
                case AE_IFCHR:
                case AE_IFBLK:
                        return err_set(err, EPERM, IMAGES_E_LAYER, "entry '%s': device nodes are refused (%s %u:%u)", raw,
                                       type == AE_IFCHR ? "character" : "block", (unsigned) archive_entry_rdevmajor(e),
                                       (unsigned) archive_entry_rdevminor(e));
                default:
                        return err_set(err, EPERM, IMAGES_E_LAYER, "entry '%s': file type 0%o refused", raw, (unsigned) type);
                }
        }
        if (!*rel && (link || type != AE_IFDIR))
                return err_set(err, EPERM, IMAGES_E_LAYER, "entry '%s': the layer's root must be a directory", raw);
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > (la_int64_t) LAYER_ENTRY_MAX)
                return err_set(err, EFBIG, IMAGES_E_LAYER, "entry '%s': %lld bytes, more than the %llu allowed", raw,
                               (long long) archive_entry_size(e), (unsigned long long) LAYER_ENTRY_MAX);
        if ((r = check_parent(u, parent, raw, err)) < 0)
                return r;
        if (link) {
                if ((r = check_hardlink(u, raw, link, link_rel, sizeof link_rel, err)) < 0)
                        return r;
                if ((size_t) snprintf(abs, sizeof abs, "%s/%s", u->dir, link_rel) >= sizeof abs)
                        return err_set(err, ENAMETOOLONG, IMAGES_E_LAYER, "hard link '%s': path too long", raw);
                archive_entry_copy_hardlink(e, abs);
        }
        /* libarchive writes relative to the process's working directory, which threads share: give it
         * absolute paths below our own directory (which has no symlinks, from realpath). */
        if ((size_t) snprintf(abs, sizeof abs, "%s%s%s", u->dir, *rel ? "/" : "", rel) >= sizeof abs)
                return err_set(err, ENAMETOOLONG, IMAGES_E_LAYER, "entry '%.64s...': path too long", raw);
        archive_entry_copy_pathname(e, abs);
        if (filter_xattrs(e) < 0)
                return -ENOMEM;
        if (type != AE_IFDIR || link)
                forget_parent(u, rel);
        r = archive_write_header(disk, e);
        /* A warning is a lost owner, mode, time or xattr (file capabilities): the image would run
         * differently, so it fails the layer. */
        if (r < ARCHIVE_OK)
                return err_set(err, archive_errno(disk) > 0 ? archive_errno(disk) : EIO, IMAGES_E_LAYER, "entry '%s': %s", raw,
                               archive_error_string(disk) ?: "cannot be written");
        if (!link && type == AE_IFREG && archive_entry_size(e) > 0 && (r = copy_data(in, disk, raw, err)) < 0)
                return r;
        if (archive_write_finish_entry(disk) < ARCHIVE_OK)
                return err_set(err, archive_errno(disk) > 0 ? archive_errno(disk) : EIO, IMAGES_E_LAYER, "entry '%s': %s", raw,
                               archive_error_string(disk) ?: "cannot be finished");
        return 0;
}

static int unpack_stream(struct unpack *u, int fd, char ret_diff_id[BLOB_DIGEST_MAX], struct err *err)
{
        _cleanup_(archive_read_freep) struct archive *outer = archive_read_new(), *inner = archive_read_new();
        _cleanup_(archive_write_freep) struct archive *disk = archive_write_disk_new();
        struct hashing_source *src = calloc(1, sizeof *src);
        struct archive_entry *e;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        int r = 0;

        if (!outer || !inner || !disk || !src || !(src->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(src->md, EVP_sha256(), NULL)) {
                r = -ENOMEM;
                goto out;
        }
        src->outer = outer;
        /* Decompression in process only (no filter that runs an external program). */
        archive_read_support_filter_gzip(outer);
        archive_read_support_filter_zstd(outer);
        archive_read_support_filter_xz(outer);
        archive_read_support_filter_bzip2(outer);
        archive_read_support_format_raw(outer);
        if (archive_read_open_fd(outer, fd, 65536) != ARCHIVE_OK || archive_read_next_header(outer, &e) != ARCHIVE_OK) {
                r = err_set(err, EINVAL, IMAGES_E_LAYER, "not a layer (tar, gzip or zstd): %s",
                            archive_error_string(outer) ?: "empty");
                goto out;
        }
        archive_read_support_format_tar(inner);
        if (archive_read_open(inner, src, NULL, source_read, NULL) != ARCHIVE_OK) {
                r = err_set(err, EINVAL, IMAGES_E_LAYER, "not a tar: %s", src->failure[0] ? src->failure : archive_error_string(inner) ?: "?");
                goto out;
        }
        /* Numeric owners as the tar says (no lookup in this host's passwd); no file flags (chattr +i
         * would make the layer impossible to remove). */
        archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                     ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                     ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SPARSE);
        for (;;) {
                int ar = archive_read_next_header(inner, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = err_set(err, EINVAL, IMAGES_E_LAYER, "tar: %s",
                                    src->failure[0] ? src->failure : archive_error_string(inner) ?: "bad header");
                        goto out;
                }
                if ((r = unpack_entry(u, inner, disk, e, err)) < 0)
                        goto out;
        }
        /* Directory times and modes are set last, by close. */
        if (archive_write_close(disk) != ARCHIVE_OK) {
                r = err_set(err, EIO, IMAGES_E_LAYER, "finish directories: %s", archive_error_string(disk) ?: "error");
                goto out;
        }
        /* The diff id covers the whole stream, the padding after the end-of-archive blocks too. */
        for (;;) {
                const void *b;
                la_ssize_t n = source_read(inner, src, &b);
                if (n < 0) {
                        r = err_set(err, EIO, IMAGES_E_LAYER, "read: %s", src->failure);
                        goto out;
                }
                if (n == 0)
                        break;
        }
        if (!EVP_DigestFinal_ex(src->md, md, &mdlen) || mdlen != 32) {
                r = err_set(err, EIO, NULL, "SHA-256 final failed");
                goto out;
        }
        memcpy(ret_diff_id, "sha256:", 7);
        hex_of(md, mdlen, ret_diff_id + 7);
out:
        if (src)
                EVP_MD_CTX_free(src->md);
        free(src);
        return r;
}

static int lock_diff_id(const char *root, const char *diff_id, struct err *err)
{
        _cleanup_free_ char *p = NULL;
        int fd;

        if (asprintf(&p, "%s/layers/.tmp/lock-%s", root, diff_id + 7) < 0)
                return -ENOMEM;
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return err_set(err, errno, NULL, "layer %s: lock '%s': %s", diff_id, p, strerror(errno));
        if (flock(fd, LOCK_EX) < 0) {
                int e = errno;
                (void) close(fd);
                return err_set(err, e, NULL, "layer %s: lock '%s': %s", diff_id, p, strerror(e));
        }
        return fd;
}

static int fsync_dir(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

int layer_unpack(const char *root, int fd, const char *expected_diff_id, char ret_diff_id[BLOB_DIGEST_MAX], struct err *err)
{
        _cleanup_free_ char *tmpl = NULL, *layers = NULL, *dst = NULL, *rroot = NULL;
        _cleanup_close_ int lock = -1;
        struct unpack u = { .root = root, .dir_fd = -1 };
        char diff_id[BLOB_DIGEST_MAX];
        int r;

        if (expected_diff_id && !*expected_diff_id)
                expected_diff_id = NULL;
        if (expected_diff_id && !image_digest_valid(expected_diff_id))
                return err_set(err, EINVAL, IMAGES_E_LAYER, "diff id '%s' is not sha256:<64 hex digits>", expected_diff_id);
        if (expected_diff_id) {
                if ((lock = lock_diff_id(root, expected_diff_id, err)) < 0)
                        return lock;
                if (layer_exists(root, expected_diff_id)) {
                        if (ret_diff_id)
                                snprintf(ret_diff_id, BLOB_DIGEST_MAX, "%s", expected_diff_id);
                        return 0;
                }
        }
        if (!(rroot = realpath(root, NULL)))
                return err_set(err, errno, NULL, "image store '%s': %s", root, strerror(errno));
        if (asprintf(&layers, "%s/layers", rroot) < 0 || asprintf(&tmpl, "%s/.tmp/XXXXXX", layers) < 0)
                return -ENOMEM;
        if (!mkdtemp(tmpl))
                return err_set(err, errno, NULL, "image store '%s': create a directory in '%s/.tmp': %s", root, layers, strerror(errno));
        u.dir = tmpl;
        /* The layer's root is the container's "/" when no entry says otherwise: 0755, as Docker's. */
        if (chmod(tmpl, 0755) < 0 || (u.dir_fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                r = err_set(err, errno, NULL, "layer: open '%s': %s", tmpl, strerror(errno));
                goto fail;
        }
        if ((r = unpack_stream(&u, fd, diff_id, err)) < 0)
                goto fail;
        if (expected_diff_id && strcmp(diff_id, expected_diff_id) != 0) {
                r = err_set(err, EIO, IMAGES_E_LAYER, "diff id mismatch: the configuration says %s, the layer's tar has %s",
                            expected_diff_id, diff_id);
                goto fail;
        }
        if (!expected_diff_id && (lock = lock_diff_id(root, diff_id, err)) < 0) {
                r = lock;
                goto fail;
        }
        if (layer_exists(root, diff_id)) {
                (void) rm_rf(tmpl);
                goto done;
        }
        /* One flush for the whole layer instead of an fsync per file; then it gets its name. */
        if (syncfs(u.dir_fd) < 0) {
                r = err_set(err, errno, NULL, "layer %s: syncfs '%s': %s", diff_id, tmpl, strerror(errno));
                goto fail;
        }
        if (!(dst = layer_path(rroot, diff_id))) {
                r = -ENOMEM;
                goto fail;
        }
        if (rename(tmpl, dst) < 0) {
                r = err_set(err, errno, NULL, "layer %s: rename '%s' to '%s': %s", diff_id, tmpl, dst, strerror(errno));
                goto fail;
        }
        (void) fsync_dir(layers);
done:
        (void) close(u.dir_fd);
        if (ret_diff_id)
                memcpy(ret_diff_id, diff_id, BLOB_DIGEST_MAX);
        return 0;
fail:
        if (u.dir_fd >= 0)
                (void) close(u.dir_fd);
        (void) rm_rf(tmpl);
        return r;
}
