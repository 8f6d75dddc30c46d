/* peer.c: the credentials of a Unix socket's peer (SO_PEERCRED, SO_PEERGROUPS) and the ecsbox group
 * that may use the daemons' sockets. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/peer.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

static bool has_group(int fd, gid_t group)
{
        gid_t small[64], *g = small;
        socklen_t len = sizeof small;
        bool found = false;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
                if (errno != ERANGE || !(g = malloc(len)))
                        return false;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
                        len = 0;
        }
        for (size_t i = 0; i < len / sizeof *g; i++)
                if (g[i] == group)
                        found = true;
        if (g != small)
                free(g);
        return found;
}

int peer_get(int fd, gid_t group, struct peer *ret)
{
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
                return -errno;
        *ret = (struct peer) {
                .pid = cred.pid, .uid = cred.uid, .gid = cred.gid, .root = cred.uid == 0,
                .in_group = group != (gid_t) -1 && (cred.gid == group || has_group(fd, group)),
        };
        return 0;
}

gid_t peer_ecsbox_group(void)
{
        struct group g, *res = NULL;
        char buf[4096];
        if (getgrnam_r(ECSBOX_GROUP, &g, buf, sizeof buf, &res) != 0 || !res)
                return (gid_t) -1;
        return res->gr_gid;
}

int peer_socket_mode(const char *path, gid_t group)
{
        if (group != (gid_t) -1 && chown(path, (uid_t) -1, group) < 0)
                return -errno;
        if (chmod(path, 0660) < 0)
                return -errno;
        return 0;
}
