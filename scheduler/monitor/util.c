/* util.c: clocks, files written atomically, small reads, random hex for the monitor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/ids.h"
#include "monitor.h"

uint64_t now_mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

double now_epoch(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof buf)
                return -ENAMETOOLONG;
        memcpy(buf, path, n + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t w = write(fd, data, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += w;
                len -= (size_t) w;
        }
        return 0;
}

/* Write path.tmp, fsync, rename over path: readers see the old or the new file, never a torn one. */
int write_file_atomic(const char *path, const char *data, size_t len)
{
        char tmp[4096];
        _cleanup_close_ int fd = -1;
        int r;

        if ((size_t) snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
                return -ENAMETOOLONG;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if ((r = write_all(fd, data, len)) < 0 || (fdatasync(fd) < 0 && (r = -errno) < 0)) {
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

/* One write(2) of s to an existing file (cgroup and proc files want a single write). */
int write_string_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(s);
        ssize_t w;
        if (fd < 0)
                return -errno;
        w = write(fd, s, len);
        if (w < 0)
                return -errno;
        return (size_t) w == len ? 0 : -EIO;
}

int read_file_small(const char *path, char *buf, size_t len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        if (len == 0)
                return -EINVAL;
        if (fd < 0)
                return -errno;
        n = read(fd, buf, len - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return (int) n;
}

int random_hex(char *buf, size_t nhex)
{
        static const char hx[] = "0123456789abcdef";
        unsigned char rnd[64];
        size_t nbytes = (nhex + 1) / 2;
        int r;
        if (nbytes > sizeof rnd)
                return -EINVAL;
        if ((r = random_bytes(rnd, nbytes)) < 0)
                return r;
        for (size_t i = 0; i < nhex; i++)
                buf[i] = hx[(rnd[i / 2] >> ((i % 2) ? 0 : 4)) & 15];
        buf[nhex] = '\0';
        return 0;
}
