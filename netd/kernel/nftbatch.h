/* nftbatch.h: nf_tables over libmnl/libnftnl: a netfilter socket per netns and all-or-nothing batches whose every message is acked and checked. */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/err.h"

#define NFTB_WHAT_MAX 128

struct nfsock;

/* Open a NETLINK_NETFILTER socket (SOCK_CLOEXEC, NETLINK_EXT_ACK) in the
 * calling thread's current netns; it stays there for its life. where names
 * the netns in errors. */
int nfsock_open(const char *where, struct nfsock **ret, struct err *err);
struct nfsock *nfsock_close(struct nfsock *s);
DEFINE_TRIVIAL_CLEANUP(struct nfsock *, nfsock_close)
#define _cleanup_nfsock_ _cleanup_(nfsock_closep)

/* One request (a GET or a dump) with NLM_F_ACK: cb (may be NULL) sees each
 * data message. Returns 0, or -errno with err (ENOENT for a missing object). */
int nfsock_call(struct nfsock *s, struct nlmsghdr *nlh, int (*cb)(const struct nlmsghdr *nlh, void *ud), void *ud,
                const char *what, struct err *err);
uint32_t nfsock_seq_next(struct nfsock *s);

/* A batch: NFNL_MSG_BATCH_BEGIN, messages, NFNL_MSG_BATCH_END; the kernel
 * applies all of them or none. The buffer grows as needed. */
struct nftb_msg {
        char what[NFTB_WHAT_MAX];
        int ret;                  /* 1 while unanswered, then 0 or -errno */
};

struct nftb {
        struct nfsock *s;
        char *buf;
        size_t len, cap, cur;     /* cur: offset of the message being built */
        bool building;
        uint32_t seq0;            /* seq of the first message after BEGIN */
        struct nftb_msg *msg;
        unsigned n, nalloc;
};

int nftb_init(struct nftb *b, struct nfsock *s, struct err *err);
void nftb_fini(struct nftb *b);
/* Start the next message (NLM_F_ACK|flags; nf_tables family `family`) with
 * at least `room` free bytes for its payload. NULL on ENOMEM. */
struct nlmsghdr *nftb_add(struct nftb *b, uint16_t type, uint16_t family, uint16_t flags, size_t room, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
/* Send the batch (one sendmsg) and read one ack per message. Returns 0, or
 * the first failure with err naming its message, the netns, strerror and the
 * kernel's text; the kernel then applied nothing. */
int nftb_send(struct nftb *b, struct err *err);
unsigned nftb_count(const struct nftb *b);
