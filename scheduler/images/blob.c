/* blob.c: content-addressed blobs: hashed while written, renamed under their digest once verified. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/fsutil.h"
#include "ref.h"

struct blob_writer {
        char *root;
        char *tmp;              /* root/blobs/.tmp/<random> */
        int fd;
        int lock_fd;            /* flock on root/blobs/.tmp/lock-<hex>, -1 without an expected digest */
        char expected[BLOB_DIGEST_MAX];
        int64_t expected_size;
        uint64_t written;
        EVP_MD_CTX *md;
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

void blob_digest_buf(const void *buf, size_t len, char ret[BLOB_DIGEST_MAX])
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        memcpy(ret, "sha256:", 7);
        if (!EVP_Digest(buf, len, d, &n, EVP_sha256(), NULL) || n != 32) {
                ret[0] = '\0';
                return;
        }
        hex_of(d, n, ret + 7);
}

char *blob_path(const char *root, const char *digest)
{
        char *p = NULL;
        if (!image_digest_valid(digest) || asprintf(&p, "%s/blobs/sha256/%s", root, digest + 7) < 0)
                return NULL;
        return p;
}

static char *tmp_dir(const char *root)
{
        char *p = NULL;
        return asprintf(&p, "%s/blobs/.tmp", root) < 0 ? NULL : p;
}

int blob_store_init(const char *root, struct err *err)
{
        _cleanup_free_ char *sha = NULL, *tmp = tmp_dir(root);
        DIR *d;
        struct dirent *de;
        int r;

        if (!tmp || asprintf(&sha, "%s/blobs/sha256", root) < 0)
                return -ENOMEM;
        if ((r = mkdir_p(sha, 0700)) < 0 || (r = mkdir_p(tmp, 0700)) < 0)
                return err_set(err, -r, NULL, "image store '%s': create blob directories: %s", root, strerror(-r));
        /* Whatever is in .tmp was being written when the last process died: none of it is a blob. */
        d = opendir(tmp);
        if (!d)
                return err_set(err, errno, NULL, "image store '%s': open '%s': %s", root, tmp, strerror(errno));
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && strncmp(de->d_name, "lock-", 5) != 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return 0;
}

bool blob_exists(const char *root, const char *digest)
{
        _cleanup_free_ char *p = blob_path(root, digest);
        return p && access(p, F_OK) == 0;
}

struct blob_writer *blob_writer_free(struct blob_writer *w)
{
        if (!w)
                return NULL;
        if (w->fd >= 0)
                (void) close(w->fd);
        if (w->tmp)
                (void) unlink(w->tmp);
        if (w->lock_fd >= 0)
                (void) close(w->lock_fd);       /* releases the flock */
        EVP_MD_CTX_free(w->md);
        free(w->tmp);
        free(w->root);
        free(w);
        return NULL;
}

int blob_writer_open(const char *root, const char *expected_digest, int64_t expected_size, struct blob_writer **ret,
                     struct err *err)
{
        _cleanup_free_ char *tdir = tmp_dir(root);
        struct blob_writer *w;

        *ret = NULL;
        if (expected_digest && !image_digest_valid(expected_digest))
                return err_set(err, EINVAL, BLOB_E_DIGEST, "blob digest '%s' is not sha256:<64 hex digits>", expected_digest);
        if (!tdir || !(w = calloc(1, sizeof *w)))
                return -ENOMEM;
        w->fd = w->lock_fd = -1;
        w->expected_size = expected_size;
        if (!(w->root = strdup(root)) || !(w->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
                blob_writer_free(w);
                return -ENOMEM;
        }
        if (expected_digest) {
                _cleanup_free_ char *lock = NULL;
                snprintf(w->expected, sizeof w->expected, "%s", expected_digest);
                if (asprintf(&lock, "%s/lock-%s", tdir, expected_digest + 7) < 0) {
                        blob_writer_free(w);
                        return -ENOMEM;
                }
                w->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (w->lock_fd < 0 || flock(w->lock_fd, LOCK_EX) < 0) {
                        int e = errno;
                        blob_writer_free(w);
                        return err_set(err, e, NULL, "blob %s: lock '%s': %s", expected_digest, lock, strerror(e));
                }
                if (blob_exists(root, expected_digest)) {
                        blob_writer_free(w);
                        return 0;
                }
        }
        if (asprintf(&w->tmp, "%s/XXXXXX", tdir) < 0) {
                w->tmp = NULL;
                blob_writer_free(w);
                return -ENOMEM;
        }
        w->fd = mkostemp(w->tmp, O_CLOEXEC);
        if (w->fd < 0) {
                int e = errno;
                free(w->tmp);
                w->tmp = NULL;
                blob_writer_free(w);
                return err_set(err, e, NULL, "blob store '%s': create a temporary file in '%s': %s", root, tdir, strerror(e));
        }
        *ret = w;
        return 0;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t n, struct err *err)
{
        int r;

        if (w->expected_size >= 0 && w->written + n > (uint64_t) w->expected_size)
                return err_set(err, EFBIG, BLOB_E_SIZE, "blob %s: more than the %lld bytes announced",
                               w->expected[0] ? w->expected : "(new)", (long long) w->expected_size);
        if (!EVP_DigestUpdate(w->md, buf, n))
                return err_set(err, EIO, NULL, "blob %s: SHA-256 update failed", w->expected);
        r = write_all(w->fd, buf, n);
        if (r < 0)
                return err_set(err, -r, NULL, "blob %s: write '%s': %s", w->expected[0] ? w->expected : "(new)", w->tmp, strerror(-r));
        w->written += n;
        return 0;
}

uint64_t blob_writer_written(const struct blob_writer *w)
{
        return w->written;
}

int blob_writer_commit(struct blob_writer *w, char ret_digest[BLOB_DIGEST_MAX], struct err *err)
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        char digest[BLOB_DIGEST_MAX] = "sha256:";
        _cleanup_free_ char *dst = NULL, *dir = NULL;
        int r = 0;

        if (!EVP_DigestFinal_ex(w->md, d, &n) || n != 32) {
                r = err_set(err, EIO, NULL, "blob %s: SHA-256 final failed", w->expected);
                goto out;
        }
        hex_of(d, n, digest + 7);
        if (w->expected_size >= 0 && w->written != (uint64_t) w->expected_size) {
                r = err_set(err, EIO, BLOB_E_SIZE, "blob %s: truncated: %llu of %lld bytes", w->expected[0] ? w->expected : digest,
                            (unsigned long long) w->written, (long long) w->expected_size);
                goto out;
        }
        if (w->expected[0] && strcmp(w->expected, digest) != 0) {
                r = err_set(err, EIO, BLOB_E_DIGEST, "blob %s: content has digest %s", w->expected, digest);
                goto out;
        }
        dst = blob_path(w->root, digest);
        if (!dst || asprintf(&dir, "%s/blobs/sha256", w->root) < 0) {
                r = -ENOMEM;
                goto out;
        }
        if (fsync(w->fd) < 0 || rename(w->tmp, dst) < 0) {
                r = err_set(err, errno, NULL, "blob %s: store as '%s': %s", digest, dst, strerror(errno));
                goto out;
        }
        free(w->tmp);
        w->tmp = NULL;
        {
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                        (void) fsync(dfd);
        }
        if (ret_digest)
                memcpy(ret_digest, digest, sizeof digest);
out:
        blob_writer_free(w);
        return r;
}

int blob_put_fd(const char *root, int fd, const char *expected_digest, int64_t expected_size, char ret_digest[BLOB_DIGEST_MAX],
                struct err *err)
{
        struct blob_writer *w = NULL;
        char buf[65536];
        int r = blob_writer_open(root, expected_digest, expected_size, &w, err);

        if (r < 0)
                return r;
        if (!w) {
                if (ret_digest)
                        snprintf(ret_digest, BLOB_DIGEST_MAX, "%s", expected_digest);
                return 0;
        }
        for (;;) {
                ssize_t k = read(fd, buf, sizeof buf);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = err_set(err, errno, NULL, "blob %s: read: %s", expected_digest ?: "(new)", strerror(errno));
                        blob_writer_free(w);
                        return r;
                }
                if (k == 0)
                        break;
                if ((r = blob_writer_write(w, buf, (size_t) k, err)) < 0) {
                        blob_writer_free(w);
                        return r;
                }
        }
        return blob_writer_commit(w, ret_digest, err);
}

int blob_put_buf(const char *root, const void *buf, size_t len, const char *expected_digest, char ret_digest[BLOB_DIGEST_MAX],
                 struct err *err)
{
        struct blob_writer *w = NULL;
        int r = blob_writer_open(root, expected_digest, (int64_t) len, &w, err);

        if (r < 0)
                return r;
        if (!w) {
                if (ret_digest)
                        snprintf(ret_digest, BLOB_DIGEST_MAX, "%s", expected_digest);
                return 0;
        }
        if ((r = blob_writer_write(w, buf, len, err)) < 0) {
                blob_writer_free(w);
                return r;
        }
        return blob_writer_commit(w, ret_digest, err);
}

int blob_open(const char *root, const char *digest, struct err *err)
{
        _cleanup_free_ char *p = blob_path(root, digest);
        int fd;

        if (!p)
                return err_set(err, EINVAL, BLOB_E_DIGEST, "blob digest '%s' is not sha256:<64 hex digits>", digest ?: "");
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return err_set(err, errno, errno == ENOENT ? BLOB_E_NOTFOUND : NULL, "blob %s: open '%s': %s", digest, p,
                               strerror(errno));
        return fd;
}

int blob_read(const char *root, const char *digest, size_t max, char **ret_buf, size_t *ret_len, struct err *err)
{
        _cleanup_close_ int fd = blob_open(root, digest, err);
        _cleanup_free_ char *buf = NULL;
        char got[BLOB_DIGEST_MAX];
        struct stat st;
        size_t off = 0;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return err_set(err, errno, NULL, "blob %s: stat: %s", digest, strerror(errno));
        if ((uint64_t) st.st_size > max)
                return err_set(err, EFBIG, BLOB_E_SIZE, "blob %s: %lld bytes, more than the %zu allowed", digest, (long long) st.st_size,
                               max);
        if (!(buf = malloc((size_t) st.st_size + 1)))
                return -ENOMEM;
        while (off < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + off, (size_t) st.st_size - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return err_set(err, k < 0 ? errno : EIO, NULL, "blob %s: read: %s", digest, k < 0 ? strerror(errno) : "short file");
                off += (size_t) k;
        }
        buf[off] = '\0';
        blob_digest_buf(buf, off, got);
        if (strcmp(got, digest) != 0)
                return err_set(err, EIO, BLOB_E_DIGEST, "blob %s: the stored file has digest %s (corrupted store)", digest, got);
        *ret_buf = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = off;
        return 0;
}

int blob_remove(const char *root, const char *digest)
{
        _cleanup_free_ char *p = blob_path(root, digest);
        if (!p)
                return -EINVAL;
        return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
}
