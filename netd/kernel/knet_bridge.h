/* knet_bridge.h: the kernel side of ECS `bridge` and `none` network modes.
 *
 * In a container instance's netns (an ENI netns netd made):
 *   ecsbox0     bridge, 172.17.0.1/16, pinned MAC, route_localnet
 *   k<14 hex>   veth host end of a bridge task, a port of ecsbox0
 *   table ip ecsbox_nat: maps tcp_ports / udp_ports (hostPort : task ip . containerPort),
 *               DNAT in prerouting and output for local destinations,
 *               masquerade of hairpinned, loopback and outgoing task traffic.
 * In a bridge task's netns: eth0 (the veth peer) 172.17.x.y/16, default route via 172.17.0.1.
 * In a `none` task's netns: lo only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "knet.h"

#define BRIDGE_IFNAME "ecsbox0"
#define BRIDGE_NET 0xac110000u      /* 172.17.0.0 */
#define BRIDGE_PREFIX 16
#define BRIDGE_GW 0xac110001u       /* 172.17.0.1 */
#define BRIDGE_NAT_TABLE "ecsbox_nat"
#define BRIDGE_UPLINK "eth0"        /* the instance's ENI */

enum { PM_TCP = 0, PM_UDP = 1, PM_NPROTO = 2 };

struct knet_binding {
        uint8_t proto;              /* PM_TCP or PM_UDP */
        uint16_t host_port;
        uint32_t task_ip;
        uint16_t container_port;
};

struct knet_btask {
        const char *instance_netns;
        const char *netns;          /* the task netns */
        const char *host_if;        /* "k" + 14 hex, in the instance netns */
        uint32_t ip;                /* in 172.17.0.0/16 */
        uint8_t mac[6];
};

/* Make sure the instance netns has its sysctls, ecsbox0 and the NAT table.
 * rebuild=false: cheap when ecsbox0 and the table exist (one look each).
 * rebuild=true: replace the table atomically with one holding exactly
 * `all` (n bindings): what start-up does, so missing elements come back and
 * unowned ones go, in one transaction. */
int knet_bridge_ensure(struct knet *k, const char *instance_netns, bool rebuild, const struct knet_binding *all, size_t n,
                       struct err *err);

/* Create the task netns (sysctls, lo up), its veth on ecsbox0 with eth0 born
 * inside, address, route, announcement, then the map elements, one nft
 * batch. An existing netns is reused (repair). On failure everything this
 * call made is removed again. */
int knet_btask_create(struct knet *k, const struct knet_btask *t, const struct knet_binding *b, size_t n, struct err *err);

/* Remove the map elements (missing ones are fine), then the netns (the
 * kernel destroys eth0 and its host end with it) and the host end when it
 * is still there. Idempotent. */
int knet_btask_delete(struct knet *k, const struct knet_btask *t, const struct knet_binding *b, size_t n, struct err *err);

/* 0 when the task netns has eth0 up with the MAC and IP and its host end is
 * a port of ecsbox0; -ENOENT / -ESTALE (with err) otherwise. */
int knet_btask_check(struct knet *k, const struct knet_btask *t, struct err *err);

/* Add or remove the map elements of some bindings in one transaction. */
int knet_bridge_elements(struct knet *k, const char *instance_netns, bool add, const struct knet_binding *b, size_t n,
                         struct err *err);

/* Re-make a bridge task's veth that differs from its record, keeping its netns
 * (and the processes in it) when it is still there; makes the netns otherwise. */
int knet_btask_repair(struct knet *k, const struct knet_btask *t, struct err *err);

/* Remove a bridge task's netns and a host end left behind, not the map (reconcile rebuilds it). */
int knet_btask_remove_links(struct knet *k, const struct knet_btask *t, struct err *err);

/* Run fn on this thread inside the instance netns (sockets it opens stay there). */
int knet_in_instance(struct knet *k, const char *instance_netns, int (*fn)(void *ud, struct err *err), void *ud, struct err *err);

/* Called inside a netns: 1 when a local socket holds proto/port on 0.0.0.0
 * (tcp: a listener), 0 when free or not probeable (a privileged port: netd
 * has no CAP_NET_BIND_SERVICE), -errno when the probe itself fails. */
int knet_port_busy(int proto, uint16_t port);

/* A `none` task: a new netns with the task sysctls and lo up. -EEXIST when it exists. */
int knet_none_create(struct knet *k, const char *netns, struct err *err);

/* true when instance_netns has a table ip ecsbox_nat. */
bool knet_bridge_has_table(struct knet *k, const char *instance_netns);

/* Forget UDP conntrack entries in the instance netns for these host ports
 * (after adding or removing a mapping, as the CNI portmap plugin does), so a
 * flow seen before does not keep its old translation. Best effort. */
int knet_bridge_ct_flush_udp(struct knet *k, const char *instance_netns, const struct knet_binding *b, size_t n,
                             struct err *err);
