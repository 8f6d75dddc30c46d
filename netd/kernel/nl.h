/* nl.h: rtnetlink over libmnl for netd: one socket per netns, batches in which every message is acked and checked, kernel extack text in errors. */
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/err.h"

#define NL_BATCH_MAX 16          /* messages per batch */
#define NL_BATCH_LIMIT 8192      /* bytes per batch */
#define NL_WHAT_MAX 160          /* "create veth 'v0123…'": what a message does, for errors */

struct nl;

/* Open an rtnetlink socket (SOCK_CLOEXEC, NETLINK_EXT_ACK, NETLINK_CAP_ACK) in
 * the calling thread's current netns; it stays in that netns for its life.
 * `where` names the netns in error messages: "netns 'x'" or "the host netns". */
int nl_open(const char *where, struct nl **ret, struct err *err);
struct nl *nl_close(struct nl *n);
const char *nl_where(const struct nl *n);
DEFINE_TRIVIAL_CLEANUP(struct nl *, nl_close)
#define _cleanup_nl_ _cleanup_(nl_closep)

/* ---- batches: many messages, one send(), every ack read ---- */
struct nl_batch_msg {
        char what[NL_WHAT_MAX];
        int ok[3];               /* errnos that count as success (idempotent steps) */
        int ret;                 /* 0 or -errno once sent; 1 while unanswered */
};

struct nl_batch {
        struct nl *nl;
        struct mnl_nlmsg_batch *b;
        unsigned n;
        bool building;           /* msg[n - 1] is still being filled */
        struct nl_batch_msg msg[NL_BATCH_MAX];
        char buf[2 * NL_BATCH_LIMIT] __attribute__((aligned(8)));
};

void nl_batch_init(struct nl_batch *b, struct nl *n);
void nl_batch_fini(struct nl_batch *b);
/* Start the next message: NLM_F_REQUEST|NLM_F_ACK|flags, the socket's next
 * seq. The caller appends its header and attributes to the returned nlh. */
struct nlmsghdr *nl_batch_add(struct nl_batch *b, uint16_t type, uint16_t flags, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* The message just added also succeeds when the kernel answers -errnum. */
void nl_batch_tolerate(struct nl_batch *b, int errnum);
/* Send all messages in one send() and read until every one is answered.
 * rtnetlink runs the messages after a failed one too, so each result is kept
 * (nl_batch_ret) for the caller's rollback. Returns 0, or the first failure,
 * with err naming its message, the netns, strerror and the kernel's text. */
int nl_batch_send(struct nl_batch *b, struct err *err);
int nl_batch_ret(const struct nl_batch *b, unsigned i);

/* ---- single requests ---- */
typedef int (*nl_cb_t)(const struct nlmsghdr *nlh, void *ud);
/* Send one request (a GET, a dump or a change) with NLM_F_ACK and read its
 * answer: cb (may be NULL) sees every data message; returns after the ack or
 * NLMSG_DONE. A dump that the kernel marked NLM_F_DUMP_INTR returns -EINTR
 * (the caller retries). what describes the request for err. */
int nl_call(struct nl *n, struct nlmsghdr *nlh, nl_cb_t cb, void *ud, const char *what, struct err *err);

/* ---- rtnetlink helpers ---- */
struct nl_link {
        int index;
        unsigned flags;          /* IFF_* */
        int master;              /* 0 = none */
        int link;                /* IFLA_LINK (veth peer / macvlan lower), 0 = none */
        char name[16];
        char kind[16];           /* IFLA_INFO_KIND or "" */
        uint8_t mac[6];
        bool has_mac;
};

/* Parse an RTM_NEWLINK message. */
int nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *ret);
/* RTM_GETLINK by name: -ENODEV (with err) when there is no such link. */
int nl_link_get(struct nl *n, const char *ifname, struct nl_link *ret, struct err *err);
/* RTM_GETLINK dump; cb gets every link. Retries NLM_F_DUMP_INTR up to 5
 * times; cb may then see a link twice, so it must be idempotent per attempt
 * (the caller resets its state in reset, which may be NULL). */
int nl_link_dump(struct nl *n, int (*cb)(const struct nl_link *l, void *ud), void (*reset)(void *ud), void *ud,
                 struct err *err);
/* RTM_GETADDR dump of the IPv4 addresses of ifindex (0 = all): cb(ip, prefix_len, ifindex). */
int nl_addr4_dump(struct nl *n, int ifindex, int (*cb)(uint32_t ip, uint8_t prefix_len, int ifindex, void *ud), void *ud,
                  struct err *err);

/* Message builders for batches: each adds one message and returns it, so
 * the caller may append attributes before the next add. */
/* RTM_NEWLINK on an existing link (by index, or by name when index is 0): set
 * IFF_UP, and the MAC when mac is not NULL, the master when master >= 0 (0 = none). */
struct nlmsghdr *nl_put_link_set(struct nl_batch *b, int index, const char *ifname, bool up, const uint8_t *mac, int master);
/* RTM_DELLINK by name; ENODEV counts as success. */
struct nlmsghdr *nl_put_link_del(struct nl_batch *b, const char *ifname);
/* RTM_NEWADDR ip/prefix_len on ifindex (with broadcast); EEXIST counts as success when tolerate_exists. */
struct nlmsghdr *nl_put_addr4(struct nl_batch *b, int ifindex, const char *ifname, uint32_t ip, uint8_t prefix_len, bool tolerate_exists);
/* RTM_NEWROUTE (or RTM_DELROUTE when del) dst/len via gw, oif (0 = any).
 * Create tolerates EEXIST when tolerate; delete always tolerates ESRCH. */
struct nlmsghdr *nl_put_route4(struct nl_batch *b, bool del, uint32_t dst, uint8_t len, uint32_t gw, int oif, bool tolerate);
