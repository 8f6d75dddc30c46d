/* fsutil.h: small filesystem helpers shared by the binaries (one copy of each). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: missing parents get 0755, the last component `mode`, as `mkdir -p -m`. Existing is fine.
 * Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
/* write(2) until all of data is written (EINTR retried). On a non-blocking fd that is full (a socket whose
 * peer reads slowly) waits for POLLOUT, failing with -ETIMEDOUT after 10 s without progress. 0 or -errno. */
int write_all(int fd, const void *data, size_t len);
/* Write "path.tmp.PID" (mode, O_NOFOLLOW), then rename it over path: readers see the old or the new
 * file, never a torn one. 0 or -errno; the temporary file never stays behind. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The same with fdatasync before the rename: the new content also survives a power loss (costs a disk
 * flush: for records that must not be lost, not for every spec file). */
int write_file_durable(const char *path, const void *data, size_t len, mode_t mode);
/* rm -rf without following symlinks; a missing path is success. 0 or -errno. */
int rm_rf(const char *path);
