/* knet.h: netd's kernel side: network namespaces, links, addresses and routes
 * over rtnetlink (libnl-route messages on the netlink core, nlcore.h), no `ip`
 * and no shell. Every function is idempotent
 * where the comment says so, returns 0 or -errno, and fills err with a message
 * that names the object (netns, interface) and carries the kernel's extack text.
 *
 * Kernel shape (see docs/architecture.md):
 *   host netns  --uplink veth-->  VPC netns (router; one bridge per subnet;
 *                                   per-subnet macvlan parent: a veth whose
 *                                   peer is a bridge port)
 *   VPC netns bridge port <--veth-->  task netns eth0        (veth ENI)
 *   VPC netns macvlan parent  -->     task netns eth0        (macvlan ENI)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"

struct knet;

/* netns_dir: where named namespaces live (/run/netns, as `ip netns` uses).
 * Makes it a shared bind mount of itself when it is not a mount point yet,
 * as iproute2 does. Remembers the caller's netns as the "host" netns. */
int knet_open(const char *netns_dir, struct knet **ret, struct err *err);
struct knet *knet_close(struct knet *k);

/* Close the sockets kept in namespaces deleted (or deleted and made again) behind netd's back: a
 * kept socket pins its netns, links and all, until it is closed. A stat per kept netns; netd calls
 * it from a timer. */
void knet_sweep(struct knet *k);

/* ---- namespaces ---- */
/* Path of a named netns: "<netns_dir>/<name>". */
int knet_netns_path(struct knet *k, const char *name, char *buf, size_t len);
bool knet_netns_exists(struct knet *k, const char *name);
/* Create a named netns with lo up and the sysctls of a task namespace
 * (ping_group_range "0 2147483647", disable_ipv6 default/all, arp_notify on by
 * default, accept_dad 0). -EEXIST when it exists. */
int knet_netns_create(struct knet *k, const char *name, struct err *err);
/* umount2(MNT_DETACH) + unlink; missing counts as success. */
int knet_netns_delete(struct knet *k, const char *name, struct err *err);
/* Calls cb for every entry of netns_dir. */
int knet_netns_list(struct knet *k, int (*cb)(const char *name, void *ud), void *ud, struct err *err);

/* ---- VPC ---- */
struct knet_vpc {
        const char *netns;          /* VPC netns name, e.g. "ebx-vpc-0123456789abcdef0" */
        const char *uplink_host;    /* uplink veth end in the host netns (<= 15 chars) */
        uint32_t uplink_host_ip;    /* host end address (/30) */
        uint32_t uplink_router_ip;  /* VPC end address (/30), named "uplink" in the VPC netns */
        struct cidr4 cidr;          /* VPC CIDR */
        bool host_route;            /* add "cidr via uplink_router_ip" in the host netns */
};
/* Create (or repair: idempotent) the VPC netns with ip_forward=1, rp_filter=0,
 * bridge-nf-call-iptables=0, lo up, the uplink pair with its addresses, and
 * the host route when asked. */
int knet_vpc_ensure(struct knet *k, const struct knet_vpc *v, struct err *err);
/* Remove the host route, the host uplink end and the VPC netns. Idempotent. */
int knet_vpc_delete(struct knet *k, const struct knet_vpc *v, struct err *err);

/* ---- subnet ---- */
struct knet_subnet {
        const char *vpc_netns;
        const char *bridge;         /* "b" + 14 hex of the subnet id */
        uint8_t bridge_mac[6];      /* pinned */
        uint32_t gw_ip;             /* base + 1 */
        uint8_t prefix_len;
        const char *mv_parent;      /* macvlan parent, "m" + 14 hex; its peer is "n" + 14 hex, a bridge port */
};
/* Create (or repair) the bridge with its pinned MAC and gateway address, up,
 * and the macvlan parent pair (both ends up, the peer enslaved). Idempotent. */
int knet_subnet_ensure(struct knet *k, const struct knet_subnet *s, struct err *err);
int knet_subnet_delete(struct knet *k, const struct knet_subnet *s, struct err *err);

/* ---- ENI ---- */
struct knet_eni {
        const char *vpc_netns;
        const char *bridge;         /* subnet bridge (veth) */
        const char *mv_parent;      /* subnet macvlan parent (macvlan) */
        bool macvlan;
        const char *host_if;        /* veth end in the VPC netns, "v" + 14 hex of the ENI id */
        uint8_t mac[6];
        uint32_t ip;
        uint8_t prefix_len;
        uint32_t gw_ip;
        const char *netns;          /* task netns name */
};
/* Give the named netns its ENI: creates the netns when missing
 * (*ret_created_netns = true), then eth0 (veth peer born in the task netns in
 * one RTM_NEWLINK, host end enslaved to the bridge and up; or a macvlan child
 * of mv_parent in bridge mode), with MAC, address, up, default route via gw,
 * and a gratuitous announcement (the MAC is set once more after the address).
 * On failure everything this call made is removed again. -EEXIST when the
 * netns already has an eth0. */
int knet_eni_attach(struct knet *k, const struct knet_eni *e, bool *ret_created_netns, struct err *err);
/* Remove the ENI's links: delete_netns=true deletes the whole netns (fast:
 * umount+unlink, the kernel destroys eth0 and its peer); false deletes eth0
 * inside it and the host end. Missing objects count as success. */
int knet_eni_detach(struct knet *k, const struct knet_eni *e, bool delete_netns, struct err *err);
/* 0 when the netns has eth0 with the ENI's MAC and IP up; -ENOENT when the
 * netns or eth0 is missing, -ESTALE when it differs. */
int knet_eni_check(struct knet *k, const struct knet_eni *e, struct err *err);

/* ---- reconcile helpers ---- */
/* Calls cb(ifname, kind ("veth", "bridge", "macvlan", ... or ""), ud) for every link in a netns (NULL = host). */
int knet_link_list(struct knet *k, const char *netns, int (*cb)(const char *ifname, const char *kind, void *ud),
                   void *ud, struct err *err);
int knet_link_delete(struct knet *k, const char *netns, const char *ifname, struct err *err);

/* ---- the VPC resolver ---- */
/* Put the n addresses (host order) on lo of the VPC netns (idempotent) and open, inside it, one UDP
 * and one listening TCP socket bound to each address's port 53 (non-blocking, O_CLOEXEC; port 53 made
 * unprivileged in that netns). udp[i]/tcp[i] are the caller's; all -1 on failure. */
int knet_dns_listen(struct knet *k, const char *netns, const uint32_t *ips, size_t n, int *udp, int *tcp, struct err *err);
/* One listening TCP socket (non-blocking, O_CLOEXEC) bound to ip:port inside the VPC netns, the address put
 * on its lo first (idempotent): the task metadata endpoint's socket, handed to ecsboxd. */
int knet_vpc_tcp_listen(struct knet *k, const char *netns, uint32_t ip, uint16_t port, int *ret_fd, struct err *err);
/* Remove those addresses again (the resolver turned off); a missing netns or address is fine. */
int knet_dns_unlisten(struct knet *k, const char *netns, const uint32_t *ips, size_t n, struct err *err);
