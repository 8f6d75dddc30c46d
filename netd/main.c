/* main.c: ecsbox-netd: options, start-up (state, kernel, reconcile, privileges) and the socket loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/fsutil.h"
#include "ecsbox/peer.h"
#include "api.h"
#include "dns/dns.h"
#include "dns/forward.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "flowlog.h"
#include "kernel/knet.h"
#include "netd.h"
#include "egress.h"
#include "lb_health.h"
#include "reconcile.h"
#include "req.h"
#include "sg_enforce.h"
#include "subnet.h"
#include "subnet_req.h"
#include "vpc.h"
#include "vpc_req.h"

struct conn {
        struct netd *d;
        int fd;
        sd_event_source *src;
        char *buf;
        size_t len, cap;
};

static struct conn *conn_free(struct conn *c)
{
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->src);
        if (c->fd >= 0)
                close(c->fd);
        free(c->buf);
        free(c);
        return NULL;
}

/* The answer line; an fd an operation hands over (member ebxFd, not sent as JSON) goes with its first
 * byte as SCM_RIGHTS, then is closed here. */
static int send_doc(struct conn *c, json_t *doc)
{
        json_t *fdj = json_object_get(doc, "ebxFd");
        int pass = json_is_integer(fdj) ? (int) json_integer_value(fdj) : -1, r;
        _cleanup_free_ char *js = NULL, *txt = NULL;
        size_t off = 0, len;
        if (pass >= 0)
                json_object_del(doc, "ebxFd");
        js = json_dumps(doc, JSON_COMPACT);
        if (!js || asprintf(&txt, "%s\n", js) < 0) {
                txt = NULL;
                if (pass >= 0)
                        close(pass);
                return -ENOMEM;
        }
        len = strlen(txt);
        if (pass >= 0) {
                union {
                        char buf[CMSG_SPACE(sizeof(int))];
                        struct cmsghdr align;
                } u;
                struct iovec iov = { txt, len };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                ssize_t n;
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &pass, sizeof(int));
                do
                        n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
                while (n < 0 && errno == EINTR);
                close(pass);
                if (n < 0)
                        return -errno;
                off = (size_t) n;
        }
        /* waits for room on the non-blocking socket */
        r = off < len ? write_all(c->fd, txt + off, len - off) : 0;
        return r;
}

static int conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct conn *c = userdata;
        for (;;) {
                char *nl;
                ssize_t n;
                if (c->cap - c->len < 65536) {
                        size_t ncap = c->cap ? c->cap * 2 : 65536 * 2;
                        char *nb = realloc(c->buf, ncap);
                        if (!nb)
                                goto drop;
                        c->buf = nb;
                        c->cap = ncap;
                }
                n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        goto drop;
                }
                if (n == 0)
                        goto drop;
                c->len += (size_t) n;
                while ((nl = memchr(c->buf, '\n', c->len))) {
                        size_t line = (size_t) (nl - c->buf);
                        json_t *ans = netd_handle_line(c->d, c->buf, line);
                        int r = send_doc(c, ans);
                        json_decref(ans);
                        memmove(c->buf, nl + 1, c->len - line - 1);
                        c->len -= line + 1;
                        if (r < 0)
                                goto drop;
                }
                if (c->len > NETD_REQUEST_MAX) {
                        json_t *e = json_pack("{s:{s:s, s:s}}", "Error", "Code", "RequestTooLarge", "Message",
                                              "The request exceeds the limit of 1048576 bytes");
                        (void) send_doc(c, e);
                        json_decref(e);
                        log_warning("msg=\"request over the size limit, closing connection\" bytes=%zu", c->len);
                        goto drop;
                }
        }
drop:
        conn_free(c);
        return 0;
}

static int listen_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct netd *d = userdata;
        for (;;) {
                struct peer peer;
                struct conn *c;
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                log_warning_errno(errno, "msg=\"accept failed, ignoring\"");
                        return 0;
                }
                /* root, netd's own user, or a member of the ecsbox group (the socket is 0660 too) */
                if (peer_get(cfd, d->socket_group, &peer) < 0 || (!peer.root && peer.uid != geteuid() && !peer.in_group)) {
                        log_warning("msg=\"refused client\" uid=%d pid=%d", (int) peer.uid, (int) peer.pid);
                        close(cfd);
                        continue;
                }
                c = calloc(1, sizeof *c);
                if (!c) {
                        close(cfd);
                        continue;
                }
                c->d = d;
                c->fd = cfd;
                if (sd_event_add_io(sd_event_source_get_event(s), &c->src, cfd, EPOLLIN, conn_io, c) < 0) {
                        conn_free(c);
                        continue;
                }
        }
}

static int socket_listen(const char *path, gid_t group, struct err *err)
{
        int r;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        if (strlen(path) >= sizeof sa.sun_path)
                return err_set(err, ENAMETOOLONG, NULL, "socket path '%s' is too long", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return err_set(err, errno, NULL, "socket: %s", strerror(errno));
        /* A live daemon answers on the path: refuse to steal it. */
        {
                _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, (struct sockaddr *) &sa, sizeof sa) == 0)
                        return err_set(err, EADDRINUSE, NULL, "another ecsbox-netd is serving '%s'", path);
        }
        (void) unlink(path);
        {
                mode_t old = umask(0117);
                r = bind(fd, (struct sockaddr *) &sa, sizeof sa);
                umask(old);
                if (r < 0)
                        return err_set(err, errno, NULL, "bind '%s': %s", path, strerror(errno));
        }
        if ((r = peer_socket_mode(path, group)) < 0)
                return err_set(err, -r, NULL, "socket '%s': group and mode: %s", path, strerror(-r));
        if (listen(fd, 128) < 0)
                return err_set(err, errno, NULL, "listen on '%s': %s", path, strerror(errno));
        return TAKE_FD(fd);
}

/* Keep CAP_NET_ADMIN (netlink, nftables, sysctls) and CAP_SYS_ADMIN (setns,
 * mount of namespaces); drop everything else, also from the bounding set. */
static int drop_privileges(struct err *err)
{
        static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_SYS_ADMIN };
        cap_t caps;
        for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
                if (c == CAP_NET_ADMIN || c == CAP_SYS_ADMIN || c == CAP_SETPCAP)
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return err_set(err, errno, NULL, "drop capability %d from the bounding set: %s", c, strerror(errno));
        }
        caps = cap_init();
        if (!caps)
                return err_set(err, errno, NULL, "cap_init: %s", strerror(errno));
        if (cap_set_flag(caps, CAP_PERMITTED, ELEMENTSOF(keep), keep, CAP_SET) < 0 ||
            cap_set_flag(caps, CAP_EFFECTIVE, ELEMENTSOF(keep), keep, CAP_SET) < 0 || cap_set_proc(caps) < 0) {
                int e = errno;
                cap_free(caps);
                return err_set(err, e, NULL, "set capabilities: %s", strerror(e));
        }
        cap_free(caps);
        (void) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        return 0;
}

static int ensure_defaults(struct netd *d, struct err *err)
{
        static const char *const subnet_cidrs[] = { "172.31.0.0/20", "172.31.16.0/20" };
        _cleanup_json_ json_t *mark = NULL;
        struct vpc_create_req vq = { .cidr_s = "172.31.0.0/16" };
        json_t *vpc = NULL, *s = NULL;
        char az[40];
        int r;
        if (store_get(d->store, "meta/defaults", &mark, NULL) == 0)
                return 0;
        /* As on a new AWS account: a default VPC with a default subnet per zone. */
        if ((r = vpc_req_cidr(vq.cidr_s, &vq.cidr, err)) < 0 || (r = vpc_create(d, &vq, true, &vpc, err)) < 0)
                return err_wrap(err, "create the default VPC");
        for (int z = 0; z < 2; z++) {
                struct subnet_create_req sq = { .vpc_id = json_string_value(json_object_get(vpc, "VpcId")),
                                                .cidr_s = subnet_cidrs[z], .az = az };
                snprintf(az, sizeof az, "%s%c", d->region, 'a' + z);
                r = req_cidr(sq.cidr_s, &sq.cidr, err);
                if (r >= 0)
                        r = subnet_create(d, &sq, true, &s, err);
                json_decref(s);
                s = NULL;
                if (r < 0) {
                        json_decref(vpc);
                        return err_wrap(err, "create the default subnet in %s", az);
                }
        }
        /* public subnets, as on AWS: an internet gateway and 0.0.0.0/0 to it in the main table */
        if ((r = egress_default_vpc(d, json_string_value(json_object_get(vpc, "VpcId")), err)) < 0) {
                json_decref(vpc);
                return err_wrap(err, "make the default VPC public");
        }
        log_info("msg=\"created the default VPC\" vpc=%s cidr=%s", json_string_value(json_object_get(vpc, "VpcId")), vq.cidr_s);
        json_decref(vpc);
        mark = json_pack("{s:b}", "Done", 1);
        return store_put(d->store, "meta/defaults", mark, err);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        log_info("msg=\"stopping\" signal=%d", (int) si->ssi_signo);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ecsbox-netd [OPTIONS]\n"
                   "The ecsbox network daemon: VPCs, subnets and ENIs in network namespaces.\n\n"
                   "  --state-dir DIR     durable state (default /var/lib/ecsbox)\n"
                   "  --run-dir DIR       runtime files; the socket is DIR/netd.sock (default /run/ecsbox)\n"
                   "  --netns-dir DIR     named network namespaces (default /run/netns)\n"
                   "  --region NAME       region for names and ARNs (default us-east-1)\n"
                   "  --account-id ID     12-digit owner id (default 000000000000)\n"
                   "  --no-default-vpc    do not create the default VPC on first start\n"
                   "  --dns-upstream LIST where the VPC resolvers forward names they do not own:\n"
                   "                      IP[:PORT],... (default: the nameservers of /etc/resolv.conf)\n"
                   "  --log-level LEVEL   error, warning, notice, info (default) or debug\n"
                   "  -h, --help          this text\n");
}

/* The options into d and *defaults: -1 to go on, else the exit code (--help, bad usage). */
static int options_parse(int argc, char **argv, struct netd *d, bool *defaults)
{
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, 's' }, { "run-dir", required_argument, NULL, 'r' },
                { "netns-dir", required_argument, NULL, 'n' }, { "region", required_argument, NULL, 'R' },
                { "account-id", required_argument, NULL, 'a' }, { "log-level", required_argument, NULL, 'l' },
                { "no-default-vpc", no_argument, NULL, 'N' }, { "dns-upstream", required_argument, NULL, 'D' }, { "help", no_argument, NULL, 'h' }, { 0 },
        };
        int c;

        snprintf(d->state_dir, sizeof d->state_dir, "/var/lib/ecsbox");
        snprintf(d->run_dir, sizeof d->run_dir, "/run/ecsbox");
        snprintf(d->netns_dir, sizeof d->netns_dir, "/run/netns");
        snprintf(d->region, sizeof d->region, "us-east-1");
        snprintf(d->account, sizeof d->account, "000000000000");
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's': snprintf(d->state_dir, sizeof d->state_dir, "%s", optarg); break;
                case 'r': snprintf(d->run_dir, sizeof d->run_dir, "%s", optarg); break;
                case 'n': snprintf(d->netns_dir, sizeof d->netns_dir, "%s", optarg); break;
                case 'R': snprintf(d->region, sizeof d->region, "%s", optarg); break;
                case 'a':
                        if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12) {
                                fprintf(stderr, "ecsbox-netd: --account-id must be 12 digits, got '%s'\n", optarg);
                                return 2;
                        }
                        snprintf(d->account, sizeof d->account, "%s", optarg);
                        break;
                case 'l': {
                        int lvl = log_parse_level(optarg);
                        if (lvl < 0) {
                                fprintf(stderr, "ecsbox-netd: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        log_set_max_level(lvl);
                        break;
                }
                case 'N': *defaults = false; break;
                case 'D': {
                        struct sockaddr_storage ss[DNS_FWD_MAX_UPSTREAMS];
                        socklen_t sl[DNS_FWD_MAX_UPSTREAMS];
                        size_t n;
                        if (strlen(optarg) >= sizeof d->dns_upstream || dns_fwd_parse(optarg, ss, sl, &n) < 0) {
                                fprintf(stderr, "ecsbox-netd: --dns-upstream '%s': expected IP[:PORT] or [IPv6]:PORT, comma-separated, at most %d\n",
                                        optarg, DNS_FWD_MAX_UPSTREAMS);
                                return 2;
                        }
                        snprintf(d->dns_upstream, sizeof d->dns_upstream, "%s", optarg);
                        break;
                }
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "ecsbox-netd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        return -1;
}

/* State opened, the kernel repaired to match it, the default VPC made, the socket listening (only once
 * the state is repaired: a client that connects is served at once), privileges dropped. Logs what failed. */
static int start_up(struct netd *d, bool defaults, const char *db, const char *sock, int *ret_lfd)
{
        struct rlimit rl = { 65536, 65536 };
        struct err err = { 0 };
        struct timespec ts;
        int r;

        if ((r = mkdir_p(d->state_dir, 0700)) < 0 || (r = mkdir_p(d->run_dir, 0755)) < 0) {
                log_error_errno(r, "msg=\"cannot create state or run directory\" state_dir=%s run_dir=%s", d->state_dir, d->run_dir);
                return r;
        }
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        clock_gettime(CLOCK_REALTIME, &ts);
        d->intent_seq = (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
        if ((r = store_open(db, &d->store, &err)) < 0 || (r = knet_open(d->netns_dir, &d->knet, &err)) < 0) {
                log_error("msg=\"start-up failed\" err=\"%s\"", err.msg);
                return r;
        }
        if ((r = netd_reconcile(d, &err)) < 0) {
                log_error("msg=\"reconcile failed\" err=\"%s\"", err.msg);
                return r;
        }
        if ((defaults && (r = ensure_defaults(d, &err)) < 0) || (r = *ret_lfd = socket_listen(sock, d->socket_group, &err)) < 0) {
                log_error("msg=\"start-up failed\" err=\"%s\"", err.msg);
                return r;
        }
        if ((r = drop_privileges(&err)) < 0) {
                log_error("msg=\"cannot drop privileges\" err=\"%s\"", err.msg);
                return r;
        }
        return 0;
}

#define SWEEP_USEC (10 * 1000000ull)

/* Every SWEEP_USEC: kept netlink sockets of namespaces deleted behind netd's back are closed, so none
 * pins a deleted namespace for longer. */
static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct netd *d = userdata;
        knet_sweep(d->knet);
        (void) sd_event_source_set_time(s, usec + SWEEP_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

/* The event loop (signals, the socket, the flow log collector, the socket sweep) until SIGTERM or SIGINT. Logs what failed. */
static int serve(struct netd *d, int lfd, const char *db, const char *sock)
{
        struct err err = { 0 };
        sd_event *ev = NULL;
        sd_event_source *sweep = NULL;
        uint64_t now = 0;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_new(&ev)) < 0 || (r = sd_event_add_signal(ev, NULL, SIGTERM, on_signal, NULL)) < 0 ||
            (r = sd_event_add_signal(ev, NULL, SIGINT, on_signal, NULL)) < 0 ||
            (r = sd_event_add_io(ev, NULL, lfd, EPOLLIN, listen_io, d)) < 0 || (r = sd_event_now(ev, CLOCK_MONOTONIC, &now)) < 0 ||
            (r = sd_event_add_time(ev, &sweep, CLOCK_MONOTONIC, now + SWEEP_USEC, 1000000, on_sweep, d)) < 0 ||
            (r = sd_event_source_set_enabled(sweep, SD_EVENT_ON)) < 0) {
                log_error_errno(r, "msg=\"event loop set-up failed\"");
                return r;
        }
        d->event = ev;
        if ((r = flowlog_start(d, ev, &err)) < 0 || (r = dns_start(d, &err)) < 0 || (r = lb_health_start(d, ev, &err)) < 0) {
                log_error("msg=\"start-up failed\" err=\"%s\"", err.msg);
                return r;
        }
        log_info("msg=\"ready\" socket=%s state=%s netns_dir=%s", sock, db, d->netns_dir);
        r = sd_event_loop(ev);
        lb_health_stop(d);
        dns_stop(d);
        flowlog_stop(d);
        sd_event_source_disable_unref(sweep);
        d->event = NULL;
        (void) unlink(sock);
        sd_event_unref(ev);
        return r;
}

int main(int argc, char **argv)
{
        struct netd d = { .socket_group = peer_ecsbox_group() };
        char db[600], sock[600];
        bool defaults = true;
        _cleanup_close_ int lfd = -1;
        int r;

        log_set_ident("ecsbox-netd");
        if ((r = options_parse(argc, argv, &d, &defaults)) >= 0)
                return r;
        if (geteuid() != 0) {
                fprintf(stderr, "ecsbox-netd: must run as root (it keeps only CAP_NET_ADMIN and CAP_SYS_ADMIN after start)\n");
                return 1;
        }
        snprintf(db, sizeof db, "%s/netd.db", d.state_dir);
        snprintf(sock, sizeof sock, "%s/netd.sock", d.run_dir);
        if (start_up(&d, defaults, db, sock, &lfd) < 0)
                return 1;
        r = serve(&d, lfd, db, sock);
        d.knet = knet_close(d.knet);
        d.store = store_close(d.store);
        return r < 0 ? 1 : 0;
}
