/* peer.h: who is on the other end of a daemon's Unix socket (SO_PEERCRED, SO_PEERGROUPS), and the
 * `ecsbox` group that may use the daemons' sockets besides root. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define ECSBOX_GROUP "ecsbox"

struct peer {
        pid_t pid;
        uid_t uid;
        gid_t gid;
        bool root;          /* uid 0 */
        bool in_group;      /* the group asked for is its primary or a supplementary group */
};

/* The credentials of the peer of a connected Unix socket; in_group tells whether group (or -1 for
 * none) is among its groups. 0 or -errno. */
int peer_get(int fd, gid_t group, struct peer *ret);
/* The gid of the ecsbox group, or (gid_t) -1 when the machine has none. */
gid_t peer_ecsbox_group(void);
/* Gives a socket path group `group` (when it is not -1) and mode 0660. 0 or -errno. */
int peer_socket_mode(const char *path, gid_t group);
