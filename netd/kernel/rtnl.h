/* rtnl.h: rtnetlink on the netlink core: links, addresses, routes and neighbours built as libnl
 * objects (libnl-route-3) and copied into the core's acked batches; link and address dumps parsed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "nlcore.h"

/* ---- reading ---- */
struct rt_link {
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
int rt_link_parse(const struct nlmsghdr *nlh, struct rt_link *ret);
/* RTM_GETLINK by name: -ENODEV (with err) when there is no such link. */
int rt_link_get(struct nlc *s, const char *ifname, struct rt_link *ret, struct err *err);
/* RTM_GETLINK dump; cb gets every link. Retries NLM_F_DUMP_INTR up to 5
 * times; cb may then see a link twice, so it must be idempotent per attempt
 * (the caller resets its state in reset, which may be NULL). */
int rt_link_dump(struct nlc *s, int (*cb)(const struct rt_link *l, void *ud), void (*reset)(void *ud), void *ud,
                 struct err *err);
/* RTM_GETADDR dump of the IPv4 addresses of ifindex (0 = all): cb(ip, prefix_len, ifindex). */
int rt_addr4_dump(struct nlc *s, int ifindex, int (*cb)(uint32_t ip, uint8_t prefix_len, int ifindex, void *ud), void *ud,
                  struct err *err);

/* ---- message builders for batches (nlc_batch_init(b, s, 0)); a failure to build fails the send ---- */

/* An IPV4_DEVCONF_* value set on a link through IFLA_AF_SPEC; lists end with id 0. */
struct rt_inet_conf {
        int id;
        uint32_t value;
};

/* RTM_NEWLINK on an existing link (by index, or by name when index is 0): set IFF_UP when up, the
 * MAC when mac is not NULL, the master when master >= 0 (0 = none), the IPv4 conf values of conf
 * (may be NULL). */
void rt_put_link_set(struct nlc_batch *b, int index, const char *ifname, bool up, const uint8_t *mac, int master,
                     const struct rt_inet_conf *conf);
/* RTM_DELLINK by name; ENODEV counts as success. */
void rt_put_link_del(struct nlc_batch *b, const char *ifname);
/* One RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL) for a veth pair `name`, up, in the batch socket's netns
 * (enslaved to master when > 0), with its peer `peer` born in peer_ns_fd (-1: the same netns) with
 * peer_mac (may be NULL). Never IFF_UP on the peer: the kernel opens it before the pair is linked
 * and answers ENOTCONN. peer_where names peer_ns_fd for messages (may be NULL). */
void rt_put_veth(struct nlc_batch *b, const char *name, int master, const char *peer, const uint8_t *peer_mac,
                 int peer_ns_fd, const char *peer_where);
/* RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL): a macvlan `name` in bridge mode on lower, with mac, born in
 * ns_fd (where names it). */
void rt_put_macvlan(struct nlc_batch *b, const char *name, int lower, const char *lower_name, const uint8_t *mac,
                    int ns_fd, const char *where);
/* RTM_NEWLINK with NLM_F_CREATE but not EXCL (made, or repaired when it exists): a bridge `name`, up,
 * with a pinned MAC and forward_delay 0. */
void rt_put_bridge(struct nlc_batch *b, const char *name, const uint8_t *mac);
/* RTM_NEWADDR ip/prefix_len on ifindex (with broadcast); EEXIST counts as success when tolerate_exists. */
void rt_put_addr4(struct nlc_batch *b, int ifindex, const char *ifname, uint32_t ip, uint8_t prefix_len, bool tolerate_exists);
/* Delete an IPv4 address; an address that is not there counts as success. */
void rt_put_addr4_del(struct nlc_batch *b, int ifindex, const char *ifname, uint32_t ip, uint8_t prefix_len);
/* RTM_NEWROUTE (or RTM_DELROUTE when del) dst/len via gw, oif (0 = any).
 * Create tolerates EEXIST when tolerate; delete always tolerates ESRCH. */
void rt_put_route4(struct nlc_batch *b, bool del, uint32_t dst, uint8_t len, uint32_t gw, int oif, bool tolerate);
/* RTM_NEWNEIGH (create or replace): ip at mac on ifindex, reachable. */
void rt_put_neigh4(struct nlc_batch *b, int ifindex, const char *ifname, uint32_t ip, const uint8_t *mac);
