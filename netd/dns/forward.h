/* forward.h: the VPC resolver's forwarder: queries that are not its own go to the host's resolvers from
 * netd in the host netns (tasks need no route to them), one upstream after the other, SERVFAIL when
 * none answers in time. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "ecsbox/err.h"

#define DNS_FWD_TOTAL_USEC (900 * 1000ull)     /* all upstreams together: a dead upstream fails a lookup in < 1 s */
#define DNS_FWD_EACH_USEC (400 * 1000ull)      /* at most this long for each upstream */
#define DNS_FWD_MAX_INFLIGHT 1024              /* as Docker's embedded DNS; more is answered SERVFAIL */
#define DNS_FWD_MAX_UPSTREAMS 3                /* as resolv.conf's MAXNS */

/* Who asked: a UDP client (answered from fd, the socket the query came in on) or a TCP connection. */
struct dns_client {
        void *owner;                    /* the VPC resolver the query came to (cancel by owner) */
        int fd;                         /* UDP: the listening socket; -1: TCP */
        struct sockaddr_in peer;        /* UDP: the client */
        uint64_t tcp_id;                /* TCP: the connection's number */
};

/* Called with the upstream's answer (its id already set back to the client's) or a SERVFAIL. */
typedef void (*dns_reply_fn)(void *ud, const struct dns_client *c, const uint8_t *m, size_t len);

struct dns_fwd;

/* upstreams: "IP[:PORT][,IP[:PORT]...]" (IPv4 or [IPv6]:PORT), or NULL/"" for the nameservers of
 * resolv_conf (re-read when it changes). */
int dns_fwd_new(sd_event *ev, const char *upstreams, const char *resolv_conf, dns_reply_fn fn, void *ud, struct dns_fwd **ret,
                struct err *err);
struct dns_fwd *dns_fwd_free(struct dns_fwd *f);

/* Send q upstream for c. < 0 when it cannot even start (no upstream, too many in flight): the caller
 * answers SERVFAIL. */
int dns_fwd_query(struct dns_fwd *f, const struct dns_client *c, const uint8_t *q, size_t len);

/* Forget the pending queries of owner (a VPC resolver going away), or of one TCP connection (tcp_id != 0). */
void dns_fwd_cancel(struct dns_fwd *f, void *owner, uint64_t tcp_id);

/* How many upstreams are configured now (after a re-read of resolv.conf when due). */
size_t dns_fwd_upstreams(struct dns_fwd *f);

/* Parse an --dns-upstream list (pure): 0, or -EINVAL naming nothing. n_ret: how many (<= DNS_FWD_MAX_UPSTREAMS). */
int dns_fwd_parse(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len, size_t *n_ret);
