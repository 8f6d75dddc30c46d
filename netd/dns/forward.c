/* forward.c: queries the VPC resolver does not answer itself, sent to the host's resolvers. */
#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "forward.h"

#define RESOLV_RECHECK_USEC (2 * 1000000ull)

struct pending {
        struct dns_fwd *f;
        uint16_t id;                    /* ours, towards the upstream */
        uint16_t client_id;
        struct dns_client c;
        size_t upstream;                /* the one asked now */
        size_t tried;
        char name[DNS_NAME_MAX];
        uint16_t type, class;
        sd_event_source *timer;
        size_t len;
        uint8_t q[];
};

struct dns_fwd {
        sd_event *ev;
        dns_reply_fn reply;
        void *ud;
        char resolv_conf[256];          /* "" when the upstreams were given */
        struct timespec resolv_mtime;
        uint64_t resolv_checked;
        struct sockaddr_storage up[DNS_FWD_MAX_UPSTREAMS];
        socklen_t up_len[DNS_FWD_MAX_UPSTREAMS];
        size_t n_up;
        int fd4, fd6;
        sd_event_source *src4, *src6;
        size_t inflight;
        struct pending *slot[65536];
};

int dns_fwd_parse(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len, size_t *n_ret)
{
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL, *tok;
        size_t n = 0;
        if (!copy)
                return -ENOMEM;
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char host[INET6_ADDRSTRLEN + 1] = "";
                unsigned long port = 53;
                char *p = NULL, *end = NULL;
                if (n == DNS_FWD_MAX_UPSTREAMS)
                        return -E2BIG;
                memset(&ret[n], 0, sizeof ret[n]);
                if (tok[0] == '[') {
                        char *close = strchr(tok, ']');
                        if (!close || (size_t) (close - tok - 1) >= sizeof host)
                                return -EINVAL;
                        memcpy(host, tok + 1, (size_t) (close - tok - 1));
                        host[close - tok - 1] = 0;
                        p = close[1] == ':' ? close + 2 : close[1] ? (char *) "" : NULL;
                        if (p && !*p)
                                return -EINVAL;
                } else {
                        char *colon = strchr(tok, ':');
                        size_t hl = colon ? (size_t) (colon - tok) : strlen(tok);
                        if (hl >= sizeof host)
                                return -EINVAL;
                        memcpy(host, tok, hl);
                        host[hl] = 0;
                        p = colon ? colon + 1 : NULL;
                }
                if (p) {
                        errno = 0;
                        port = strtoul(p, &end, 10);
                        if (errno || !*p || *end || port == 0 || port > 65535)
                                return -EINVAL;
                }
                struct sockaddr_in *s4 = (struct sockaddr_in *) &ret[n];
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ret[n];
                if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons((uint16_t) port);
                        ret_len[n] = sizeof *s4;
                } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons((uint16_t) port);
                        ret_len[n] = sizeof *s6;
                } else
                        return -EINVAL;
                n++;
        }
        if (n == 0)
                return -EINVAL;
        *n_ret = n;
        return 0;
}

/* The nameservers of resolv.conf, through ldns's own reader of that file. */
static void resolv_load(struct dns_fwd *f)
{
        ldns_resolver *res = NULL;
        struct stat st;
        size_t n = 0;
        if (stat(f->resolv_conf, &st) == 0)
                f->resolv_mtime = st.st_mtim;
        if (ldns_resolver_new_frm_file(&res, f->resolv_conf) == LDNS_STATUS_OK) {
                ldns_rdf **ns = ldns_resolver_nameservers(res);
                for (size_t i = 0; i < ldns_resolver_nameserver_count(res) && n < DNS_FWD_MAX_UPSTREAMS; i++) {
                        size_t sz = 0;
                        struct sockaddr_storage *sa = ldns_rdf2native_sockaddr_storage(ns[i], 53, &sz);
                        if (!sa)
                                continue;
                        if (sz <= sizeof f->up[n]) {
                                memcpy(&f->up[n], sa, sz);
                                f->up_len[n] = (socklen_t) sz;
                                n++;
                        }
                        free(sa);
                }
                ldns_resolver_deep_free(res);
        }
        if (n != f->n_up)
                log_info("msg=\"resolver upstreams\" file=%s count=%zu", f->resolv_conf, n);
        f->n_up = n;
}

static void resolv_maybe_reload(struct dns_fwd *f)
{
        uint64_t now = 0;
        struct stat st;
        if (!f->resolv_conf[0])
                return;
        (void) sd_event_now(f->ev, CLOCK_MONOTONIC, &now);
        if (now - f->resolv_checked < RESOLV_RECHECK_USEC)
                return;
        f->resolv_checked = now;
        if (stat(f->resolv_conf, &st) < 0 ||
            (st.st_mtim.tv_sec == f->resolv_mtime.tv_sec && st.st_mtim.tv_nsec == f->resolv_mtime.tv_nsec))
                return;
        resolv_load(f);
}

size_t dns_fwd_upstreams(struct dns_fwd *f)
{
        resolv_maybe_reload(f);
        return f->n_up;
}

static void pending_free(struct pending *p)
{
        if (!p)
                return;
        sd_event_source_disable_unref(p->timer);
        p->f->slot[p->id] = NULL;
        p->f->inflight--;
        free(p);
}

static void pending_fail(struct pending *p)
{
        _cleanup_free_ uint8_t *m = NULL;
        size_t len = 0;
        dns_set_id(p->q, p->len, p->client_id);
        if (dns_servfail(p->q, p->len, &m, &len) == 0)
                p->f->reply(p->f->ud, &p->c, m, len);
        pending_free(p);
}

static uint64_t each_usec(const struct dns_fwd *f)
{
        uint64_t per = f->n_up ? DNS_FWD_TOTAL_USEC / f->n_up : DNS_FWD_TOTAL_USEC;
        return per < DNS_FWD_EACH_USEC ? per : DNS_FWD_EACH_USEC;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata);

/* Send to the next upstream not yet tried; a send that fails at once tries the next. false: none left. */
static bool pending_send(struct pending *p)
{
        struct dns_fwd *f = p->f;
        uint64_t now = 0;
        while (p->tried < f->n_up) {
                size_t i = p->tried++;
                int fam = f->up[i].ss_family, fd = fam == AF_INET6 ? f->fd6 : f->fd4;
                if (fd < 0)
                        continue;
                if (sendto(fd, p->q, p->len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &f->up[i], f->up_len[i]) < 0) {
                        log_debug("msg=\"upstream send failed\" upstream=%zu err=\"%s\"", i, strerror(errno));
                        continue;
                }
                p->upstream = i;
                (void) sd_event_now(f->ev, CLOCK_MONOTONIC, &now);
                if (!p->timer) {
                        if (sd_event_add_time(f->ev, &p->timer, CLOCK_MONOTONIC, now + each_usec(f), 1000, on_timeout, p) < 0)
                                return false;
                } else {
                        (void) sd_event_source_set_time(p->timer, now + each_usec(f));
                        (void) sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
                }
                return true;
        }
        return false;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct pending *p = userdata;
        if (!pending_send(p))
                pending_fail(p);
        return 0;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;
                return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* Upstream answers: matched by id, the upstream asked and the question, then handed back. */
static int on_upstream(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dns_fwd *f = userdata;
        uint8_t buf[65536];
        for (int k = 0; k < 64; k++) {
                struct sockaddr_storage from;
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from, &fl);
                char name[DNS_NAME_MAX];
                uint16_t type, class;
                bool qr;
                struct pending *p;
                if (n < 0)
                        break;
                if (n < LDNS_HEADER_SIZE)
                        continue;
                p = f->slot[dns_get_id(buf, (size_t) n)];
                if (!p || !same_addr(&from, &f->up[p->upstream]))
                        continue;
                if (dns_question(buf, (size_t) n, name, &type, &class, &qr) < 0 || !qr || type != p->type || class != p->class ||
                    strcmp(name, p->name) != 0)
                        continue;
                dns_set_id(buf, (size_t) n, p->client_id);
                f->reply(f->ud, &p->c, buf, (size_t) n);
                pending_free(p);
        }
        return 0;
}

static int open_upstream_socket(struct dns_fwd *f, int family, int *fd, sd_event_source **src, struct err *err)
{
        int r;
        *fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (*fd < 0) {
                if (family == AF_INET6 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))
                        return 0;
                return err_set(err, errno, NULL, "resolver: upstream socket: %s", strerror(errno));
        }
        if ((r = sd_event_add_io(f->ev, src, *fd, EPOLLIN, on_upstream, f)) < 0)
                return err_set(err, -r, NULL, "resolver: upstream socket: %s", strerror(-r));
        return 0;
}

int dns_fwd_new(sd_event *ev, const char *upstreams, const char *resolv_conf, dns_reply_fn fn, void *ud, struct dns_fwd **ret,
                struct err *err)
{
        struct dns_fwd *f = calloc(1, sizeof *f);
        int r;
        if (!f)
                return err_set(err, ENOMEM, NULL, "out of memory");
        f->ev = ev;
        f->reply = fn;
        f->ud = ud;
        f->fd4 = f->fd6 = -1;
        if (upstreams && *upstreams) {
                if ((r = dns_fwd_parse(upstreams, f->up, f->up_len, &f->n_up)) < 0) {
                        free(f);
                        return err_set(err, -r, NULL, "--dns-upstream '%s': expected IP[:PORT] or [IPv6]:PORT, comma-separated, at most %d",
                                       upstreams, DNS_FWD_MAX_UPSTREAMS);
                }
        } else {
                snprintf(f->resolv_conf, sizeof f->resolv_conf, "%s", resolv_conf);
                resolv_load(f);
        }
        if ((r = open_upstream_socket(f, AF_INET, &f->fd4, &f->src4, err)) < 0 ||
            (r = open_upstream_socket(f, AF_INET6, &f->fd6, &f->src6, err)) < 0) {
                dns_fwd_free(f);
                return r;
        }
        *ret = f;
        return 0;
}

struct dns_fwd *dns_fwd_free(struct dns_fwd *f)
{
        if (!f)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(f->slot); i++)
                pending_free(f->slot[i]);
        sd_event_source_disable_unref(f->src4);
        sd_event_source_disable_unref(f->src6);
        if (f->fd4 >= 0)
                close(f->fd4);
        if (f->fd6 >= 0)
                close(f->fd6);
        free(f);
        return NULL;
}

int dns_fwd_query(struct dns_fwd *f, const struct dns_client *c, const uint8_t *q, size_t len)
{
        struct pending *p;
        bool qr;
        uint16_t id;
        resolv_maybe_reload(f);
        if (f->n_up == 0 || f->inflight >= DNS_FWD_MAX_INFLIGHT)
                return -EAGAIN;
        if (!(p = calloc(1, sizeof *p + len)))
                return -ENOMEM;
        if (dns_question(q, len, p->name, &p->type, &p->class, &qr) < 0) {
                free(p);
                return -EINVAL;
        }
        /* a random free id: the only defence of a single upstream socket against forged answers */
        do
                id = (uint16_t) arc4random_uniform(65536);
        while (f->slot[id]);
        p->f = f;
        p->id = id;
        p->client_id = dns_get_id(q, len);
        p->c = *c;
        p->len = len;
        memcpy(p->q, q, len);
        dns_set_id(p->q, len, id);
        f->slot[id] = p;
        f->inflight++;
        if (!pending_send(p)) {
                pending_fail(p);
                return 0;
        }
        return 0;
}

void dns_fwd_cancel(struct dns_fwd *f, void *owner, uint64_t tcp_id)
{
        if (!f)
                return;
        for (size_t i = 0; i < ELEMENTSOF(f->slot); i++) {
                struct pending *p = f->slot[i];
                if (p && p->c.owner == owner && (tcp_id == 0 || (p->c.fd < 0 && p->c.tcp_id == tcp_id)))
                        pending_free(p);
        }
}
