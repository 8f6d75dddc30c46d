/* http.c: libmicrohttpd servers (TCP and Unix socket) driven from the sd-event loop.
 * Each MHD daemon runs without threads (MHD_USE_EPOLL): its epoll fd is an I/O
 * source of the loop and MHD_get_timeout() drives a timer, so every request is
 * handled on the loop's one thread and shared state needs no lock. We create,
 * bind and listen on both sockets ourselves (SOCK_CLOEXEC, clear errors naming
 * the address) and hand them over with MHD_OPTION_LISTEN_SOCKET. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "../logs/logs.h"
#include "../query/query.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "ecsbox/peer.h"
#include "ecsbox/sigv4.h"
#include "ecsbox/timeutil.h"
#include "../sched.h"
#include "api.h"
#include "auth.h"
#include "http.h"

struct http_server {
        struct sched *s;
        struct MHD_Daemon *d;
        sd_event_source *io, *timer;
        bool unix_socket;        /* root peers may call unsigned, as on Docker's socket */
        http_get_fn get;         /* a plain server (the task metadata endpoint): GET only, no signature */
        void *get_ud;
        char what[SCHED_PATH_MAX + 16];
};

#define HTTP_HEADERS_MAX 64
#define HTTP_GET_BODY_MAX 65536       /* a plain server's request body (the metadata endpoint's PUTs) */
/* Open connections per server. libmicrohttpd's default (FD_SETSIZE - 4) reset the 1000th client of a
 * burst (tests/load/load.py clients 1000); main raises RLIMIT_NOFILE to 65536. */
#define HTTP_CONNECTIONS_MAX 16384

struct http_req {
        char *buf;
        size_t len, cap, max;           /* max: SCHED_BODY_MAX, or LOGS_BODY_MAX for a Logs request */
        bool too_large;
        char region[SIGV4_SCOPE_PART_MAX + 1];   /* the signer's region, "" = the daemon's */
};

static void req_free(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        struct http_req *r = *con_cls;
        if (r) {
                free(r->buf);
                free(r);
                *con_cls = NULL;
        }
}

static enum MHD_Result reply(struct MHD_Connection *conn, struct api_response *ar)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;
        size_t n = ar->body ? strlen(ar->body) : 0;
        resp = MHD_create_response_from_buffer(n, ar->body ? ar->body : (char *) "", ar->body ? MHD_RESPMEM_MUST_FREE
                                                                                            : MHD_RESPMEM_PERSISTENT);
        if (!resp) {
                free(ar->body);
                return MHD_NO;
        }
        ar->body = NULL;
        MHD_add_response_header(resp, "Content-Type", ar->content_type ? ar->content_type : "application/x-amz-json-1.1");
        MHD_add_response_header(resp, "x-amzn-RequestId", ar->request_id);
        ret = MHD_queue_response(conn, (unsigned) ar->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

struct header_list {
        struct sigv4_header h[HTTP_HEADERS_MAX];
        size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        struct header_list *l = cls;
        if (l->n < HTTP_HEADERS_MAX)
                l->h[l->n++] = (struct sigv4_header) { key, value ? value : "" };
        return MHD_YES;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        char **q = cls, *n = NULL;
        if (asprintf(&n, "%s%s%s%s%s", *q ? *q : "", *q ? "&" : "", key, value ? "=" : "", value ? value : "") < 0)
                return MHD_NO;
        free(*q);
        *q = n;
        return MHD_YES;
}

static bool root_peer(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct peer p;
        return ci && peer_get(ci->connect_fd, (gid_t) -1, &p) == 0 && p.root;
}

/* 0 when the request may go on (r->region gets the signer's region); else ar holds the refusal, with
 * AWS's error type and HTTP status. Root on the Unix socket needs no signature. */
static int authenticate(struct http_server *srv, struct MHD_Connection *conn, const char *url, const char *method,
                        const char *service, bool query_protocol, struct http_req *r, struct api_response *ar)
{
        const char *authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        _cleanup_free_ char *query = NULL;
        struct header_list hl = { .n = 0 };
        struct auth_result res;
        struct err e = { 0 };
        int status = 403;

        if (srv->unix_socket && root_peer(conn)) {
                (void) api_auth_region(authorization, r->region, sizeof r->region);
                return 0;
        }
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &hl);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &query);
        struct sigv4_msg m = { method, url, query, hl.h, hl.n, r->buf ? r->buf : "", r->len };
        struct auth_request q = { &m, service, now_epoch() };
        if (auth_verify(srv->s->auth, &q, &res, &status, &e) == 0) {
                snprintf(r->region, sizeof r->region, "%s", res.region);
                return 0;
        }
        if (query_protocol)
                query_auth_error(ar, status, e.code, e.msg);
        else
                api_error(ar, status, e.code[0] ? e.code : "InternalFailure", e.msg);
        log_info("request=%s status=%d code=%s msg=\"%s\" server=%s", ar->request_id, status, e.code, e.msg, srv->what);
        return -1;
}

/* A plain server's request (the metadata endpoint): answered once the (small) body is in; no signature. */
static enum MHD_Result plain_request(struct http_server *srv, struct MHD_Connection *conn, const char *url, const char *method,
                                     const char *upload_data, size_t *upload_data_size, void **con_cls)
{
        struct http_req *r = *con_cls;
        struct api_response ar;
        if (!r) {
                *con_cls = calloc(1, sizeof(struct http_req));
                return *con_cls ? MHD_YES : MHD_NO;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                if (r->len + n > HTTP_GET_BODY_MAX)
                        r->too_large = true;
                else {
                        char *nb = realloc(r->buf, r->len + n + 1);
                        if (!nb)
                                return MHD_NO;
                        r->buf = nb;
                        memcpy(r->buf + r->len, upload_data, n);
                        r->len += n;
                        r->buf[r->len] = '\0';
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        memset(&ar, 0, sizeof ar);
        (void) uuid_new(ar.request_id);
        srv->get(srv->get_ud, method, url, r->too_large ? NULL : (r->buf ? r->buf : ""), r->too_large ? 0 : r->len, &ar);
        return reply(conn, &ar);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
        struct http_server *srv = cls;
        struct http_req *r = *con_cls;
        struct api_response ar;

        if (srv->get)
                return plain_request(srv, conn, url, method, upload_data, upload_data_size, con_cls);
        if (!r) {
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                r = calloc(1, sizeof *r);
                if (!r)
                        return MHD_NO;
                r->max = logs_signing_name(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target")) ? LOGS_BODY_MAX
                                                                                                                 : SCHED_BODY_MAX;
                /* A body over the limit is read and dropped, then refused whole, so that
                 * the client gets the answer rather than a reset connection. */
                if (cl && strtoull(cl, NULL, 10) > r->max)
                        r->too_large = true;
                *con_cls = r;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                /* Past the limit the rest of the body is read and dropped, then refused whole. */
                if (!r->too_large && r->len + n > r->max)
                        r->too_large = true;
                if (!r->too_large) {
                        if (r->len + n + 1 > r->cap) {
                                size_t ncap = r->cap ? r->cap : 4096;
                                char *nb;
                                while (ncap < r->len + n + 1)
                                        ncap *= 2;
                                nb = realloc(r->buf, ncap);
                                if (!nb)
                                        return MHD_NO;
                                r->buf = nb;
                                r->cap = ncap;
                        }
                        memcpy(r->buf + r->len, upload_data, n);
                        r->len += n;
                        r->buf[r->len] = '\0';
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (strcmp(method, "POST") != 0) {
                memset(&ar, 0, sizeof ar);
                (void) uuid_new(ar.request_id);
                ar.status = 400;
                ar.body = strdup("{\"__type\":\"UnknownOperationException\",\"message\":\"ecsboxd speaks the ECS JSON 1.1 "
                                 "protocol: POST / with an X-Amz-Target header\"}");
                return reply(conn, &ar);
        }
        if (query_is_form(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
                /* the Query protocol (EC2, ELBv2): signed for the service its Version names */
                _cleanup_free_ char *q = NULL;
                const char *svc;
                MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
                svc = query_signing_name(r->buf ? r->buf : "", r->len, q);
                if (!r->too_large && authenticate(srv, conn, url, method, svc ? svc : "ec2", true, r, &ar) < 0)
                        return reply(conn, &ar);
                query_handle(srv->s, r->buf ? r->buf : "", r->len, q, r->too_large, &ar);
                return reply(conn, &ar);
        }
        /* JSON 1.1 (ECS, images, Cloud Map, CloudWatch Logs): signed for the service its X-Amz-Target names */
        if (!r->too_large &&
            authenticate(srv, conn, url, method, api_signing_name(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target")),
                         false, r, &ar) < 0)
                return reply(conn, &ar);
        api_handle(srv->s, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"), r->buf ? r->buf : "", r->len,
                   r->region[0] ? r->region : NULL, r->too_large, &ar);
        return reply(conn, &ar);
}

/* The URL and its arguments stay as sent: SigV4 signs them percent-encoded. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
        return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char buf[512];
        size_t n;
        vsnprintf(buf, sizeof buf, fmt, ap);
        n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
        log_debug("component=microhttpd msg=\"%s\"", buf);
}

static void rearm(struct http_server *srv)
{
        MHD_UNSIGNED_LONG_LONG ms = 0;
        uint64_t now = 0;
        if (MHD_get_timeout(srv->d, &ms) != MHD_YES) {
                (void) sd_event_source_set_enabled(srv->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_now(sd_event_source_get_event(srv->timer), CLOCK_MONOTONIC, &now);
        (void) sd_event_source_set_time(srv->timer, now + (uint64_t) ms * 1000);
        (void) sd_event_source_set_enabled(srv->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct http_server *srv = userdata;
        (void) MHD_run(srv->d);
        rearm(srv);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
        struct http_server *srv = userdata;
        (void) MHD_run(srv->d);
        rearm(srv);
        return 0;
}

struct http_server *http_server_free(struct http_server *srv)
{
        if (!srv)
                return NULL;
        sd_event_source_disable_unref(srv->io);
        sd_event_source_disable_unref(srv->timer);
        if (srv->d)
                MHD_stop_daemon(srv->d);   /* closes the listening socket too */
        free(srv);
        return NULL;
}

/* Takes ownership of lfd (closed on failure too). */
static int server_start(struct sched *s, sd_event *ev, int lfd, const char *what, bool unix_socket, struct http_server **ret,
                        struct err *err)
{
        struct http_server *srv = calloc(1, sizeof *srv);
        const union MHD_DaemonInfo *info;
        int r;
        if (!srv) {
                close(lfd);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        srv->s = s;
        srv->unix_socket = unix_socket;
        snprintf(srv->what, sizeof srv->what, "%s", what);
        srv->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, srv,
                                  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket) lfd,
                                  MHD_OPTION_NOTIFY_COMPLETED, req_free, NULL, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 120,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTP_CONNECTIONS_MAX,
                                  MHD_OPTION_END);
        if (!srv->d) {
                close(lfd);
                free(srv);
                return err_set(err, EIO, NULL, "start the HTTP server on %s (libmicrohttpd refused)", what);
        }
        info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info || info->epoll_fd < 0) {
                http_server_free(srv);
                return err_set(err, EIO, NULL, "HTTP server on %s: no epoll fd from libmicrohttpd", what);
        }
        if ((r = sd_event_add_io(ev, &srv->io, info->epoll_fd, EPOLLIN, on_io, srv)) < 0 ||
            (r = sd_event_add_time(ev, &srv->timer, CLOCK_MONOTONIC, 0, 1 /* µs: the default accuracy is 250 ms */, on_timer, srv)) < 0) {
                http_server_free(srv);
                return err_set(err, -r, NULL, "HTTP server on %s: event loop: %s", what, strerror(-r));
        }
        rearm(srv);
        *ret = srv;
        return 0;
}

static int tcp_listen(const char *addr, struct err *err)
{
        char host[128];
        const char *colon = strrchr(addr, ':');
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } sa;
        socklen_t salen;
        unsigned long port;
        char *end;
        int one = 1, family;
        _cleanup_close_ int fd = -1;

        if (!colon || colon == addr || (size_t) (colon - addr) >= sizeof host)
                return err_set(err, EINVAL, NULL, "invalid --listen address '%s': expected IP:PORT", addr);
        memcpy(host, addr, (size_t) (colon - addr));
        host[colon - addr] = '\0';
        port = strtoul(colon + 1, &end, 10);
        if (*end || colon[1] == '\0' || port > 65535)
                return err_set(err, EINVAL, NULL, "invalid --listen address '%s': bad port", addr);
        memset(&sa, 0, sizeof sa);
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                host[strlen(host) - 1] = '\0';
                if (inet_pton(AF_INET6, host + 1, &sa.in6.sin6_addr) != 1)
                        return err_set(err, EINVAL, NULL, "invalid --listen address '%s': bad IPv6 address", addr);
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons((uint16_t) port);
                salen = sizeof sa.in6;
                family = AF_INET6;
        } else {
                if (inet_pton(AF_INET, host, &sa.in4.sin_addr) != 1)
                        return err_set(err, EINVAL, NULL, "invalid --listen address '%s': bad IPv4 address", addr);
                sa.in4.sin_family = AF_INET;
                sa.in4.sin_port = htons((uint16_t) port);
                salen = sizeof sa.in4;
                family = AF_INET;
        }
        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_set(err, errno, NULL, "socket for '%s': %s", addr, strerror(errno));
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, &sa.sa, salen) < 0)
                return err_set(err, errno, NULL, "bind '%s': %s", addr, strerror(errno));
        if (listen(fd, SOMAXCONN) < 0)
                return err_set(err, errno, NULL, "listen on '%s': %s", addr, strerror(errno));
        return TAKE_FD(fd);
}

int unix_listen(const char *path, int type, mode_t mode, struct err *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        _cleanup_close_ int fd = -1;
        mode_t old;
        int r;
        if (strlen(path) >= sizeof sa.sun_path)
                return err_set(err, ENAMETOOLONG, NULL, "socket path '%s' is too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_set(err, errno, NULL, "socket for '%s': %s", path, strerror(errno));
        /* A stale socket from an earlier run; anything else at that path is left alone. */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                (void) unlink(path);
        old = umask(0777 & ~mode);
        r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0)
                return err_set(err, errno, NULL, "bind '%s': %s", path, strerror(errno));
        if (chmod(path, mode) < 0)
                return err_set(err, errno, NULL, "chmod '%s': %s", path, strerror(errno));
        if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
                return err_set(err, errno, NULL, "listen on '%s': %s", path, strerror(errno));
        return TAKE_FD(fd);
}

int http_start_get(struct sched *s, sd_event *ev, int lfd, const char *what, http_get_fn fn, void *ud, struct http_server **ret,
                   struct err *err)
{
        int r = server_start(s, ev, lfd, what, false, ret, err);
        if (r >= 0) {
                (*ret)->get = fn;
                (*ret)->get_ud = ud;
        }
        return r;
}

int http_start_tcp(struct sched *s, sd_event *ev, const char *addr, struct http_server **ret, struct err *err)
{
        char what[200];
        int fd = tcp_listen(addr, err);
        if (fd < 0)
                return fd;
        snprintf(what, sizeof what, "http://%s", addr);
        return server_start(s, ev, fd, what, false, ret, err);
}

int http_start_unix(struct sched *s, sd_event *ev, const char *path, struct http_server **ret, struct err *err)
{
        char what[SCHED_PATH_MAX + 16];
        int r, fd = unix_listen(path, SOCK_STREAM, 0660, err);
        if (fd < 0)
                return fd;
        if ((r = peer_socket_mode(path, peer_ecsbox_group())) < 0) {
                close(fd);
                return err_set(err, -r, NULL, "socket '%s': group and mode: %s", path, strerror(-r));
        }
        snprintf(what, sizeof what, "unix:%s", path);
        return server_start(s, ev, fd, what, true, ret, err);
}
