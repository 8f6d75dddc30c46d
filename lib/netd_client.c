/* netd_client.c: one request to ecsbox-netd: connect, send a JSON line, read a JSON line, under a deadline. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/netd_client.h"
#include "ecsbox/timeutil.h"

#define NO_DEADLINE UINT64_MAX
#define RECV_CHUNK 65536

/* Waits until fd is ready for events or the deadline passes: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
        struct pollfd p = { .fd = fd, .events = events };
        for (;;) {
                uint64_t now = now_mono_ms();
                int left, r;
                if (deadline != NO_DEADLINE && now >= deadline)
                        return -ETIMEDOUT;
                left = deadline == NO_DEADLINE ? -1 : (int) (deadline - now);
                r = poll(&p, 1, left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                return 0;
        }
}

/* A non-blocking connect. A Unix socket whose backlog is full answers EAGAIN: try again shortly
 * until the deadline (a blocking connect would wait for the listener the same way). */
static int sock_connect(const char *path, const char *action, uint64_t deadline, int *ret_fd, struct err *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);
        int r;

        if (n >= sizeof sa.sun_path)
                return err_set(err, ENAMETOOLONG, NULL, "netd socket path '%s' is too long", path);
        memcpy(sa.sun_path, path, n + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_set(err, errno, NULL, "netd %s: socket: %s", action, strerror(errno));
        while (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int e = errno;
                socklen_t len = sizeof e;
                if (e == EINTR)
                        continue;
                if (e == EAGAIN) {
                        if (deadline != NO_DEADLINE && now_mono_ms() >= deadline)
                                return err_set(err, ETIMEDOUT, NULL, "network daemon unreachable at '%s' (%s): %s", path,
                                               action, "its listen queue stayed full");
                        (void) poll(NULL, 0, 5);
                        continue;
                }
                if (e == EINPROGRESS) {
                        if ((r = wait_fd(fd, POLLOUT, deadline)) < 0)
                                e = -r;
                        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                                e = errno;
                        if (e == 0)
                                break;
                }
                return err_set(err, e, NULL, "network daemon unreachable at '%s' (%s): %s", path, action, strerror(e));
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The request and its newline. */
static int send_line(int fd, const char *path, const char *action, const char *line, uint64_t deadline, struct err *err)
{
        size_t n = strlen(line), off = 0;
        int r;
        while (off <= n) {
                const char *p = off < n ? line + off : "\n";
                size_t k = off < n ? n - off : 1;
                ssize_t w = send(fd, p, k, MSG_NOSIGNAL);
                if (w >= 0) {
                        off += (size_t) w;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                r = errno == EAGAIN ? wait_fd(fd, POLLOUT, deadline) : -errno;
                if (r < 0)
                        return err_set(err, -r, NULL, "netd %s: send to '%s': %s", action, path, strerror(-r));
        }
        return 0;
}

/* Reads until the first newline; *ret_buf (NUL-terminated, owned by the caller) and *ret_len up to it. */
/* fds passed with the answer (SCM_RIGHTS): the first kept in *ret_fd (when asked and none yet), the rest closed. */
static void take_fds(struct msghdr *mh, int *ret_fd)
{
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int f;
                        memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
                        if (ret_fd && *ret_fd < 0)
                                *ret_fd = f;
                        else
                                close(f);
                }
        }
}

static int recv_line(int fd, const char *path, const char *action, uint64_t deadline, char **ret_buf, size_t *ret_len,
                     int *ret_fd, struct err *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        char *nl = NULL;
        int r;

        while (!nl) {
                ssize_t got;
                if (cap - len < RECV_CHUNK) {
                        size_t ncap = cap ? cap * 2 : RECV_CHUNK;
                        char *nb;
                        if (ncap > NETD_ANSWER_MAX)
                                return err_set(err, EMSGSIZE, NULL, "netd %s: answer from '%s' larger than %d bytes", action, path,
                                               NETD_ANSWER_MAX);
                        if (!(nb = realloc(buf, ncap)))
                                return err_set(err, ENOMEM, NULL, "netd %s: out of memory for the answer", action);
                        buf = nb;
                        cap = ncap;
                }
                union {
                        char b[CMSG_SPACE(4 * sizeof(int))];
                        struct cmsghdr align;
                } u;
                struct iovec iov = { buf + len, cap - len - 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
                got = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
                if (got >= 0)
                        take_fds(&mh, ret_fd);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return err_set(err, errno, NULL, "netd %s: receive from '%s': %s", action, path, strerror(errno));
                        if ((r = wait_fd(fd, POLLIN, deadline)) < 0)
                                return err_set(err, -r, NULL, "netd %s: no answer from '%s': %s", action, path, strerror(-r));
                        continue;
                }
                if (got == 0)
                        return err_set(err, ECONNRESET, NULL,
                                       "netd %s: the network daemon at '%s' closed the connection without answering", action, path);
                nl = memchr(buf + len, '\n', (size_t) got);
                len += (size_t) got;
        }
        *nl = '\0';
        *ret_len = (size_t) (nl - buf);
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

int netd_client_call(const char *path, json_t *req, int timeout_ms, json_t **ret_answer, struct err *err)
{
        return netd_client_call_fd(path, req, timeout_ms, ret_answer, NULL, err);
}

int netd_client_call_fd(const char *path, json_t *req, int timeout_ms, json_t **ret_answer, int *ret_fd, struct err *err)
{
        const char *action = json_string_value(json_object_get(req, "Action")) ?: "?";
        uint64_t deadline = timeout_ms > 0 ? now_mono_ms() + (uint64_t) timeout_ms : NO_DEADLINE;
        _cleanup_free_ char *line = json_dumps(req, JSON_COMPACT), *answer = NULL;
        _cleanup_close_ int fd = -1;
        json_error_t jerr;
        size_t len = 0;
        json_t *doc;
        int r;

        if (!line)
                return err_set(err, ENOMEM, NULL, "netd %s: cannot encode the request", action);
        if ((r = sock_connect(path, action, deadline, &fd, err)) < 0 ||
            (r = send_line(fd, path, action, line, deadline, err)) < 0 ||
            (r = recv_line(fd, path, action, deadline, &answer, &len, ret_fd, err)) < 0) {
                if (ret_fd && *ret_fd >= 0) {
                        close(*ret_fd);
                        *ret_fd = -1;
                }
                return r;
        }
        doc = json_loadb(answer, len, 0, &jerr);
        if (!doc && ret_fd && *ret_fd >= 0) {
                close(*ret_fd);
                *ret_fd = -1;
        }
        if (!doc)
                return err_set(err, EPROTO, NULL, "netd %s: malformed answer from '%s': %s (line %d, column %d)", action, path,
                               jerr.text, jerr.line, jerr.column);
        *ret_answer = doc;
        return 0;
}
