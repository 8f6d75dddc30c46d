/* server.c: the resolver of each VPC: UDP and TCP sockets at base+2 and 169.254.169.253 in the VPC
 * netns, own answers from answer.c, the rest to the forwarder. */
#include <errno.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "answer.h"
#include "dns.h"
#include "dns_int.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "forward.h"
#include "../kernel/knet.h"
#include "../record.h"

#define N_ADDR 2
#define TCP_IDLE_USEC (10 * 1000000ull)
#define TCP_MAX_CONNS 64

struct dns_state;

struct dns_vpc {
        struct dns_vpc *next;
        struct dns_state *st;
        char vpc_id[32];
        char netns[64];
        struct cidr4 cidr;
        char domain[96];
        bool hostnames;
        json_t *zones;                  /* zone names (strings) */
        uint32_t ips[N_ADDR];
        int udp[N_ADDR], tcp[N_ADDR];
        sd_event_source *src[2 * N_ADDR];
};

struct dns_tcp {
        struct dns_tcp *next;
        struct dns_vpc *v;
        uint64_t id;
        int fd;
        sd_event_source *io, *timer;
        size_t have;
        uint8_t buf[2 + 65535];
};

struct dns_state {
        struct netd *d;
        sd_event *ev;
        struct dns_vpc *vpcs;
        struct dns_tcp *tcps;
        size_t n_tcps;
        uint64_t tcp_seq;
        struct dns_fwd *fwd;
};

bool dns_vpc_support(json_t *vpc)
{
        json_t *v = json_object_get(vpc, "ebxEnableDnsSupport");
        return v ? json_is_true(v) : true;
}

bool dns_vpc_hostnames(json_t *vpc)
{
        json_t *v = json_object_get(vpc, "ebxEnableDnsHostnames");
        return v ? json_is_true(v) : json_is_true(json_object_get(vpc, "IsDefault"));
}

uint32_t dns_vpc_resolver_ip(json_t *vpc)
{
        struct cidr4 c = { 0 };
        (void) cidr4_parse(rec_str(vpc, "CidrBlock"), &c);
        return c.addr + 2;
}

void dns_domain(const struct netd *d, char *buf, size_t len)
{
        if (strcmp(d->region, "us-east-1") == 0)
                snprintf(buf, len, "ec2.internal");
        else
                snprintf(buf, len, "%s.compute.internal", d->region);
}

/* ---- the view answer.c reads ---- */

static const char *view_zone_of(void *ud, const char *name)
{
        struct dns_vpc *v = ud;
        const char *best = NULL;
        size_t i;
        json_t *z;
        json_array_foreach(v->zones, i, z) {
                const char *zn = json_string_value(z);
                if (zn && dns_name_in(name, zn) && (!best || strlen(zn) > strlen(best)))
                        best = zn;
        }
        return best;
}

static json_t *view_rrset(void *ud, const char *name, const char *type)
{
        struct dns_vpc *v = ud;
        char key[DNS_KEY_MAX];
        json_t *o = NULL;
        dns_key_rr(key, v->vpc_id, type, name);
        if (store_peek(v->st->d->store, key, &o, NULL) < 0)
                return NULL;
        return o;
}

static enum dns_verdict vpc_answer(struct dns_vpc *v, const uint8_t *q, size_t len, size_t max, uint8_t **ret, size_t *ret_len)
{
        struct dns_view view = {
                .cidr = v->cidr, .domain = v->domain, .hostnames = v->hostnames,
                .zone_of = view_zone_of, .rrset = view_rrset, .ud = v,
        };
        return dns_answer(&view, q, len, max, ret, ret_len);
}

/* ---- TCP ---- */

static void tcp_free(struct dns_tcp *c)
{
        struct dns_state *st = c->v->st;
        for (struct dns_tcp **pp = &st->tcps; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        st->n_tcps--;
        dns_fwd_cancel(st->fwd, c->v, c->id);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        close(c->fd);
        free(c);
}

/* One length-prefixed message; a connection that cannot take it at once is closed. */
static int tcp_send(struct dns_tcp *c, const uint8_t *m, size_t len)
{
        uint8_t hdr[2];
        struct iovec iov[2] = { { hdr, 2 }, { (void *) m, len } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        ldns_write_uint16(hdr, (uint16_t) len);
        return sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t) (len + 2) ? 0 : -EIO;
}

static void answer_or_forward(struct dns_vpc *v, const struct dns_client *cl, const uint8_t *q, size_t len, size_t max,
                              struct dns_tcp *tc)
{
        _cleanup_free_ uint8_t *a = NULL;
        size_t alen = 0;
        enum dns_verdict verdict = vpc_answer(v, q, len, max, &a, &alen);
        if (verdict == DNS_FORWARD && dns_fwd_query(v->st->fwd, cl, q, len) < 0) {
                /* no upstream, or too many queries in flight: SERVFAIL now */
                if (dns_servfail(q, len, &a, &alen) == 0)
                        verdict = DNS_ANSWER;
        }
        if (verdict != DNS_ANSWER)
                return;
        if (tc)
                (void) tcp_send(tc, a, alen);
        else
                (void) sendto(cl->fd, a, alen, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &cl->peer, sizeof cl->peer);
}

static int tcp_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
        tcp_free(userdata);
        return 0;
}

static int tcp_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dns_tcp *c = userdata;
        ssize_t n = recv(fd, c->buf + c->have, sizeof c->buf - c->have, MSG_DONTWAIT);
        uint64_t now = 0;
        if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                tcp_free(c);
                return 0;
        }
        c->have += (size_t) n;
        while (c->have >= 2) {
                size_t len = ldns_read_uint16(c->buf);
                struct dns_client cl = { .owner = c->v, .fd = -1, .tcp_id = c->id };
                if (c->have < 2 + len)
                        break;
                answer_or_forward(c->v, &cl, c->buf + 2, len, 65535, c);
                memmove(c->buf, c->buf + 2 + len, c->have - 2 - len);
                c->have -= 2 + len;
        }
        (void) sd_event_now(c->v->st->ev, CLOCK_MONOTONIC, &now);
        (void) sd_event_source_set_time(c->timer, now + TCP_IDLE_USEC);
        return 0;
}

static int tcp_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dns_vpc *v = userdata;
        struct dns_state *st = v->st;
        uint64_t now = 0;
        for (int k = 0; k < 16; k++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                struct dns_tcp *c;
                if (cfd < 0)
                        return 0;
                if (st->n_tcps >= TCP_MAX_CONNS || !(c = malloc(sizeof *c))) {
                        close(cfd);
                        continue;
                }
                c->v = v;
                c->id = ++st->tcp_seq;
                c->fd = cfd;
                c->have = 0;
                c->io = c->timer = NULL;
                (void) sd_event_now(st->ev, CLOCK_MONOTONIC, &now);
                if (sd_event_add_io(st->ev, &c->io, cfd, EPOLLIN, tcp_io, c) < 0 ||
                    sd_event_add_time(st->ev, &c->timer, CLOCK_MONOTONIC, now + TCP_IDLE_USEC, 100000, tcp_idle, c) < 0) {
                        sd_event_source_disable_unref(c->io);
                        close(cfd);
                        free(c);
                        continue;
                }
                c->next = st->tcps;
                st->tcps = c;
                st->n_tcps++;
        }
        return 0;
}

/* ---- UDP ---- */

static int udp_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct dns_vpc *v = userdata;
        uint8_t buf[4096];
        for (int k = 0; k < 64; k++) {
                struct dns_client cl = { .owner = v, .fd = fd };
                socklen_t sl = sizeof cl.peer;
                ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &cl.peer, &sl);
                if (n < 0)
                        break;
                answer_or_forward(v, &cl, buf, (size_t) n, 0, NULL);
        }
        return 0;
}

/* The forwarder's answer, back to whoever asked. */
static void on_reply(void *ud, const struct dns_client *cl, const uint8_t *m, size_t len)
{
        struct dns_state *st = ud;
        if (cl->fd >= 0) {
                (void) sendto(cl->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &cl->peer, sizeof cl->peer);
                return;
        }
        for (struct dns_tcp *c = st->tcps; c; c = c->next)
                if (c->id == cl->tcp_id) {
                        /* a connection that cannot take it is left to its idle timer: this may run
                         * inside that connection's own handler (an upstream that failed at once) */
                        (void) tcp_send(c, m, len);
                        return;
                }
}

/* ---- per VPC ---- */

static struct dns_vpc *vpc_find(struct dns_state *st, const char *vpc_id)
{
        for (struct dns_vpc *v = st->vpcs; v; v = v->next)
                if (strcmp(v->vpc_id, vpc_id) == 0)
                        return v;
        return NULL;
}

static void vpc_close(struct dns_vpc *v)
{
        struct dns_state *st = v->st;
        for (struct dns_tcp *c = st->tcps, *nx; c; c = nx) {
                nx = c->next;
                if (c->v == v)
                        tcp_free(c);
        }
        dns_fwd_cancel(st->fwd, v, 0);
        for (size_t i = 0; i < ELEMENTSOF(v->src); i++)
                sd_event_source_disable_unref(v->src[i]);
        for (size_t i = 0; i < N_ADDR; i++) {
                if (v->udp[i] >= 0)
                        close(v->udp[i]);
                if (v->tcp[i] >= 0)
                        close(v->tcp[i]);
        }
        json_decref(v->zones);
        free(v);
}

static void vpc_unlink(struct dns_state *st, struct dns_vpc *v)
{
        for (struct dns_vpc **pp = &st->vpcs; *pp; pp = &(*pp)->next)
                if (*pp == v) {
                        *pp = v->next;
                        return;
                }
}

static int vpc_open(struct dns_state *st, json_t *vpc, struct dns_vpc **ret, struct err *err)
{
        struct dns_vpc *v = calloc(1, sizeof *v);
        int r;
        if (!v)
                return err_set(err, ENOMEM, NULL, "out of memory");
        v->st = st;
        snprintf(v->vpc_id, sizeof v->vpc_id, "%s", rec_str(vpc, "VpcId"));
        snprintf(v->netns, sizeof v->netns, "%s", rec_str(vpc, "ebxNetns") ?: "");
        for (size_t i = 0; i < N_ADDR; i++)
                v->udp[i] = v->tcp[i] = -1;
        v->ips[0] = dns_vpc_resolver_ip(vpc);
        v->ips[1] = DNS_LINK_LOCAL;
        r = knet_dns_listen(st->d->knet, v->netns, v->ips, N_ADDR, v->udp, v->tcp, err);
        for (size_t i = 0; r >= 0 && i < N_ADDR; i++) {
                if ((r = sd_event_add_io(st->ev, &v->src[2 * i], v->udp[i], EPOLLIN, udp_io, v)) < 0 ||
                    (r = sd_event_add_io(st->ev, &v->src[2 * i + 1], v->tcp[i], EPOLLIN, tcp_accept, v)) < 0)
                        err_set(err, -r, NULL, "resolver of %s: event source: %s", v->vpc_id, strerror(-r));
        }
        if (r < 0) {
                vpc_close(v);
                return r;
        }
        *ret = v;
        return 0;
}

int dns_vpc_sync(struct netd *d, json_t *vpc, struct err *err)
{
        struct dns_state *st = d->dns;
        const char *id = rec_str(vpc, "VpcId");
        struct dns_vpc *v;
        json_t *zones = NULL;
        int r;
        if (!st || !id)
                return 0;
        v = vpc_find(st, id);
        if (!dns_vpc_support(vpc) || strcmp(rec_str(vpc, "State") ?: "", "available") != 0) {
                if (v) {
                        vpc_unlink(st, v);
                        (void) knet_dns_unlisten(d->knet, v->netns, v->ips, N_ADDR, NULL);
                        vpc_close(v);
                        log_info("msg=\"resolver off\" vpc=%s", id);
                }
                return 0;
        }
        if ((r = dns_zone_names(d, id, &zones, err)) < 0)
                return r;
        if (!v) {
                if ((r = vpc_open(st, vpc, &v, err)) < 0) {
                        json_decref(zones);
                        return r;
                }
                v->next = st->vpcs;
                st->vpcs = v;
                char ips[IP4_STR_MAX];
                ip4_format(v->ips[0], ips);
                log_info("msg=\"resolver on\" vpc=%s address=%s,169.254.169.253", id, ips);
        }
        (void) cidr4_parse(rec_str(vpc, "CidrBlock"), &v->cidr);
        dns_domain(d, v->domain, sizeof v->domain);
        v->hostnames = dns_vpc_hostnames(vpc);
        json_decref(v->zones);
        v->zones = zones;
        return 0;
}

void dns_vpc_forget(struct netd *d, const char *vpc_id)
{
        struct dns_state *st = d->dns;
        struct dns_vpc *v;
        if (!st || !(v = vpc_find(st, vpc_id)))
                return;
        vpc_unlink(st, v);
        vpc_close(v);
}

static int start_cb(const char *key, json_t *vpc, void *ud)
{
        struct netd *d = ud;
        struct err e = { 0 };
        if (dns_vpc_sync(d, vpc, &e) < 0)
                log_warning("msg=\"VPC resolver not started\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e.msg);
        return 0;
}

int dns_start(struct netd *d, struct err *err)
{
        struct dns_state *st = calloc(1, sizeof *st);
        int r;
        if (!st)
                return err_set(err, ENOMEM, NULL, "out of memory");
        st->d = d;
        st->ev = d->event;
        if ((r = dns_fwd_new(st->ev, d->dns_upstream, "/etc/resolv.conf", on_reply, st, &st->fwd, err)) < 0) {
                free(st);
                return r;
        }
        d->dns = st;
        log_info("msg=\"resolver forwarder\" upstreams=%zu source=%s", dns_fwd_upstreams(st->fwd),
                 d->dns_upstream[0] ? d->dns_upstream : "/etc/resolv.conf");
        return store_list(d->store, "vpc/", start_cb, d, err);
}

void dns_stop(struct netd *d)
{
        struct dns_state *st = d->dns;
        if (!st)
                return;
        while (st->vpcs) {
                struct dns_vpc *v = st->vpcs;
                st->vpcs = v->next;
                vpc_close(v);
        }
        st->fwd = dns_fwd_free(st->fwd);
        free(st);
        d->dns = NULL;
}
