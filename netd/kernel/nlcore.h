/* nlcore.h: the one netlink core of netd's kernel layer: a socket (rtnetlink or nfnetlink) per netns,
 * acked batches (one send, a seq per message, every ACK read), single requests and dumps, and the
 * kernel's NETLINK_EXT_ACK text in struct err. rtnl.h and nft.h build their messages on top of it. */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/err.h"

#define NLC_WHAT_MAX 160         /* "create veth 'v0123…'": what a message does, for errors */

struct nlc;

/* Open a socket of protocol proto (NETLINK_ROUTE or NETLINK_NETFILTER; SOCK_CLOEXEC, NETLINK_EXT_ACK,
 * NETLINK_CAP_ACK) in the calling thread's current netns; it stays in that netns for its life.
 * `where` names the netns in error messages: "netns 'x'" or "the host netns". */
int nlc_open(int proto, const char *where, struct nlc **ret, struct err *err);
/* The same inside the netns at path: the one function that makes a socket in another netns (through
 * netns_run: open path, remember /proc/thread-self/ns/net, setns() in, open the socket, setns()
 * back). -ENOENT (with err) when path is no netns. *ret_fd (may be NULL): an O_CLOEXEC fd of it. */
int nlc_open_at(const char *path, int proto, const char *where, struct nlc **ret, int *ret_fd, struct err *err);
struct nlc *nlc_close(struct nlc *s);
const char *nlc_where(const struct nlc *s);
DEFINE_TRIVIAL_CLEANUP(struct nlc *, nlc_close)
#define _cleanup_nlc_ _cleanup_(nlc_closep)

/* ---- batches: many messages, one send(), every ack read ---- */
struct nlc_msg {
        char what[NLC_WHAT_MAX];
        int ok[3];               /* errnos that count as success (idempotent steps) */
        int ret;                 /* 0 or -errno once sent; 1 while unanswered */
};

struct nlc_batch {
        struct nlc *s;
        uint32_t *seqp;          /* the socket's seq counter, or seq_own for a batch only counted */
        uint32_t seq_own;
        char *buf;
        size_t len, cap, cur;    /* cur: offset of the message being built */
        bool building;
        uint16_t subsys;         /* nfnetlink: framed by NFNL_MSG_BATCH_BEGIN/END for that subsystem; 0: none */
        uint32_t seq0;           /* seq of msg[0] */
        struct nlc_msg *msg;
        unsigned n, nalloc;
        int build_err;           /* first failure while building (-errno), reported by send */
        char build_what[NLC_WHAT_MAX + 64];
};

/* A batch on s (NULL: built only to be looked at, never sent). subsys 0: plain messages (rtnetlink: the kernel runs each one, failed or not);
 * subsys NFNL_SUBSYS_NFTABLES: one nf_tables transaction, applied whole or not at all. */
void nlc_batch_init(struct nlc_batch *b, struct nlc *s, uint16_t subsys);
void nlc_batch_fini(struct nlc_batch *b);
/* Start the next message: a header with type, NLM_F_REQUEST|NLM_F_ACK|flags and the socket's next
 * seq, with at least room bytes free after it for the caller's payload (valid until the next add).
 * NULL when out of memory: the batch then fails to send with that error. */
struct nlmsghdr *nlc_batch_add(struct nlc_batch *b, uint16_t type, uint16_t flags, size_t room, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* Append a message built elsewhere (libnl): its type and payload, with the batch's flags and seq. */
void nlc_batch_copy(struct nlc_batch *b, const struct nlmsghdr *src, uint16_t flags, const char *what);
/* Record a failure to build the next message (-errno and text); send then fails with it. */
void nlc_batch_fail(struct nlc_batch *b, int r, const char *what, const char *cause);
/* The message just added also succeeds when the kernel answers -errnum. */
void nlc_batch_tolerate(struct nlc_batch *b, int errnum);
unsigned nlc_batch_count(const struct nlc_batch *b);
/* Send all messages in one send() and read until every one is answered (or, after a failure, until
 * the socket is drained). Returns 0, or the first failure, with err naming its message, the netns,
 * strerror and the kernel's text. rtnetlink runs the messages after a failed one too: each result
 * is kept (nlc_batch_ret) for the caller's rollback. */
int nlc_batch_send(struct nlc_batch *b, struct err *err);
int nlc_batch_ret(const struct nlc_batch *b, unsigned i);
/* Send and release. */
int nlc_batch_run(struct nlc_batch *b, struct err *err);

/* ---- single requests ---- */
typedef int (*nlc_cb_t)(const struct nlmsghdr *nlh, void *ud);
/* Send one request (a GET, a dump or a change) with NLM_F_ACK and its own seq and read its answer:
 * cb (may be NULL) sees every data message; returns after the ack or NLMSG_DONE, with cb's first
 * negative result if any. A dump the kernel marked NLM_F_DUMP_INTR returns -EINTR with err (the
 * caller retries; cb has seen every message). what describes the request for err. */
int nlc_call(struct nlc *s, struct nlmsghdr *nlh, nlc_cb_t cb, void *ud, const char *what, struct err *err);
