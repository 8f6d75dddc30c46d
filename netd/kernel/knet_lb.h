/* knet_lb.h: the kernel side of network load balancers, in a VPC router netns:
 *   - each LB address a /32 on lo (the router answers ARP for it on every subnet bridge, as for the resolver);
 *   - table ip ecsbox_lb:
 *       map listeners { ipv4_addr . inet_proto . inet_service : verdict }    LB address . proto . port -> goto l<i>
 *       chain prerouting (nat, -100): ip daddr . meta l4proto . th dport vmap @listeners
 *       chain l<i>: [ct mark set LB_CT_MARK] numgen inc mod N map @t<i> -> dnat to addr . port
 *       map t<i> { integer : ipv4_addr . inet_service }                     index -> target
 *       chain postrouting (nat, 100): ct mark LB_CT_MARK snat to ct original ip daddr (the LB address)
 *     O(1) per new connection (two map lookups); replaced whole in one transaction per change, which
 *     leaves established connections alone (their NAT lives in conntrack, not in the rules);
 *   - health check sockets made inside the VPC netns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"

struct knet;

#define LB_NFT_TABLE "ecsbox_lb"
#define LB_CT_MARK 0x4c420001u          /* "LB": connections to SNAT to their LB address */

struct knet_lb_target {
        uint32_t ip;                    /* host order */
        uint16_t port;
};

/* One forwarding chain: the targets a listener's new connections are spread over. */
struct knet_lb_chain {
        bool snat;                      /* false: PreserveClientIp */
        const struct knet_lb_target *t;
        size_t n;                       /* 0: no element points here (the router refuses the connection) */
};

/* LB address . proto . port -> chain */
struct knet_lb_key {
        uint32_t addr;                  /* host order */
        uint8_t l4;                     /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t port;
        size_t chain;                   /* index into the chains */
};

/* The VPC's table ip ecsbox_lb exactly so (removed when n_keys is 0), one transaction. Idempotent. */
int knet_lb_apply(struct knet *k, const char *vpc_netns, const struct knet_lb_chain *c, size_t n_chains,
                  const struct knet_lb_key *keys, size_t n_keys, struct err *err);
/* Put (add) or remove the LB addresses (host order) on lo of the VPC netns. Idempotent; a missing
 * netns counts as done when removing. */
int knet_lb_addrs(struct knet *k, const char *vpc_netns, const uint32_t *ips, size_t n, bool add, struct err *err);
/* A non-blocking TCP socket (O_CLOEXEC) made inside the VPC netns, bound to src (0: any) for a health
 * check; the caller connects it. */
int knet_lb_probe_socket(struct knet *k, const char *vpc_netns, uint32_t src, int *ret_fd, struct err *err);
