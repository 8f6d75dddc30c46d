/* fsutil.c: small filesystem helpers shared by the binaries (one copy of each). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/fsutil.h"

/* netd drops a client that reads nothing of its answer for this long. */
#define WRITE_STALL_MS 10000

int mkdir_p(const char *path, mode_t mode)
{
        char tmp[4096];
        size_t n = strlen(path);
        if (n == 0)
                return -EINVAL;
        if (n >= sizeof tmp)
                return -ENAMETOOLONG;
        memcpy(tmp, path, n + 1);
        for (char *p = tmp + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                        int r;
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        /* a non-blocking socket whose peer reads slowly: wait, but not forever */
                        r = poll(&pfd, 1, WRITE_STALL_MS);
                        if (r < 0 && errno != EINTR)
                                return -errno;
                        if (r == 0)
                                return -ETIMEDOUT;
                        continue;
                }
                p += w;
                len -= (size_t) w;
        }
        return 0;
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, bool sync)
{
        char tmp[4096];
        _cleanup_close_ int fd = -1;
        int r;

        if ((size_t) snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long) getpid()) >= sizeof tmp)
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        if ((r = write_all(fd, data, len)) < 0 || (sync && fdatasync(fd) < 0 && (r = -errno) < 0)) {
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        return write_atomic(path, data, len, mode, false);
}

int write_file_durable(const char *path, const void *data, size_t len, mode_t mode)
{
        return write_atomic(path, data, len, mode, true);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) ftw;
        if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT)
                return -1;
        return 0;
}

int rm_rf(const char *path)
{
        if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
