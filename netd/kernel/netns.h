/* netns.h: named network namespaces (nsfs bind mounts under a directory, as `ip netns` keeps them) and per-netns sysctls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"

/* mkdir -p dir, and make it a shared mount point as iproute2's netns_add
 * does: bind it onto itself first when it is not a mount point yet. */
int netns_dir_prepare(const char *dir, struct err *err);

/* Called with the calling thread inside the target netns. It may open
 * sockets there (they stay in that netns) and write /proc/sys/net, which
 * resolves against the opening thread's netns. */
typedef int (*netns_fn)(void *ud, struct err *err);

/* Create the named netns <dir>/<name>: the placeholder file with O_EXCL,
 * unshare(CLONE_NEWNET) on this thread, fn (may be NULL), bind mount of
 * /proc/thread-self/ns/net onto the file, and back to host_fd. -EEXIST when a
 * netns of that name exists (an empty placeholder a crash left behind is
 * reclaimed). On failure nothing is left; sockets fn opened are the caller's
 * to close. *ret_fd (may be NULL): an O_CLOEXEC fd of the new netns. */
int netns_create(const char *dir, const char *name, int host_fd, netns_fn fn, void *ud, int *ret_fd, struct err *err);

/* The one place that switches this thread into another netns (for sockets and sysctls made there):
 * open the netns at path, remember /proc/thread-self/ns/net, setns() in, run fn, setns() back (a
 * failed switch back aborts). -ENOENT when there is no netns at path. *ret_fd (may be NULL): an
 * O_CLOEXEC fd of that netns. */
int netns_run(const char *path, const char *label, netns_fn fn, void *ud, int *ret_fd, struct err *err);

/* Open the netns at path (O_CLOEXEC); -ENOENT when missing or not a netns. */
int netns_open(const char *path, const char *label, int *ret_fd, struct err *err);

/* umount2(MNT_DETACH) + unlink; a missing or unmounted file counts as success. */
int netns_delete(const char *path, const char *label, struct err *err);

/* True when path is a mounted netns (not merely a file). */
bool netns_is_live(const char *path);

/* Write a sysctl of the calling thread's netns, key as in sysctl(8)
 * ("net.ipv4.ip_forward"). optional: a key this kernel lacks is fine. where
 * names the netns for err. */
int sysctl_write(const char *key, const char *value, bool optional, const char *where, struct err *err);

/* Switch the calling thread back to host_fd. Aborts when it cannot: every
 * later operation would silently run in the wrong namespace. */
void netns_return(int host_fd);
