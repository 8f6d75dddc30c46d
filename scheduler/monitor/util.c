/* util.c: single-write and small-read file helpers (cgroup and proc files) and random hex for the monitor. */
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
