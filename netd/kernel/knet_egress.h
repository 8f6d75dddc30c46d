/* knet_egress.h: the kernel side of internet and NAT gateways.
 *
 * In a VPC router netns, per subnet with its own table (EGRESS_TABLE(subnet base)):
 *   rule  pref 40000 from SUBNET lookup TABLE    (after main: the VPC's own subnets win)
 *   route TABLE DST via <host uplink end> dev uplink   (a route to a usable gateway)
 *   route TABLE unreachable DST                 (a route to a detached/deleted gateway: blackhole,
 *                                                and the VPC CIDR itself: addresses of no subnet)
 * In the host netns: net.ipv4.ip_forward=1 and table ip ecsbox_egress:
 *   postrouting (nat): iifname "ebxu*" oifname != "ebxu*" masquerade
 *   forward (filter):  iifname "ebxu*" oifname "ebxu*" drop   (VPCs do not reach each other this way)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"
#include "knet.h"

#define EGRESS_RULE_PRIO 40000u
#define EGRESS_TABLE_BIT 0x80000000u
/* Subnets are /28 or larger and never overlap in a VPC: base >> 4 is unique there. */
#define EGRESS_TABLE(base) (EGRESS_TABLE_BIT | ((base) >> 4))
#define EGRESS_NFT_TABLE "ecsbox_egress"

struct knet_egress_route {
        struct cidr4 dst;
        bool out;                      /* true: via the uplink to the host; false: unreachable */
};

struct knet_egress_subnet {
        struct cidr4 cidr;
        const struct knet_egress_route *routes;
        size_t n;
};

/* Make the VPC router's egress rules and tables exactly these subnets' (others' removed). Idempotent. */
int knet_egress_apply(struct knet *k, const struct knet_vpc *v, const struct knet_egress_subnet *s, size_t n, struct err *err);

/* The host netns: ip_forward on and table ip ecsbox_egress (replaced whole, one transaction). Idempotent. */
int knet_egress_host_ensure(struct knet *k, struct err *err);
