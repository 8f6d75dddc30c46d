/* netd.c: one request to ecsbox-netd on its Unix socket (line-delimited JSON). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"

int cli_netd_call(const char *sock, json_t *req, json_t **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *txt = json_dumps(req, JSON_COMPACT);
        _cleanup_fclose_ FILE *f = NULL;
        char *line = NULL;
        size_t cap = 0;
        json_error_t jerr;
        if (!txt || strlen(sock) >= sizeof sa.sun_path)
                return -EINVAL;
        strcpy(sa.sun_path, sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (write(fd, txt, strlen(txt)) < 0 || write(fd, "\n", 1) < 0)
                return -errno;
        f = fdopen(TAKE_FD(fd), "r");
        if (!f || getline(&line, &cap, f) < 0) {
                free(line);
                return -EPROTO;
        }
        *ret = json_loads(line, 0, &jerr);
        free(line);
        return *ret ? 0 : -EPROTO;
}
