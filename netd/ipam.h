/* ipam.h: every address lease of netd: ENI addresses in their subnet, bridge-mode task addresses on an
 * instance's ecsbox0, the round-robin cursors of both, and their repair at start-up.
 *
 * Records (lib/store.c):
 *   lease/SUBNET/IPHEX        {NetworkInterfaceId}: an ENI's primary address
 *   subnet/ID .ebxCursor      the last ENI address handed out in the subnet
 *   bip/INSTANCE/IPHEX        {Netns}: a bridge task's address on instance netns INSTANCE
 *   bridge/INSTANCE           {IpCursor, TcpCursor, UdpCursor}: the instance's cursors (the port cursors
 *                             are tasknet.c's, kept in the same record)
 * Callers ask for an address inside their transaction and give it back with the record that held it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"

struct netd;

/* ---- pure allocation ---- */

/* Returns 1 when ip is taken, 0 when free, <0 on error (which stops the search). */
typedef int (*ipam_taken_fn)(uint32_t ip, void *userdata);

/* Pick the first free address after `cursor` (the last address handed out; 0
 * or an address outside the subnet starts at the beginning), wrapping once
 * around the subnet and skipping the five AWS reserved addresses. Round-robin
 * keeps a just-released address (whose old link the kernel may still be
 * destroying) from being handed out again at once.
 * Returns 0 with *ret_ip, -ENOSPC when the subnet is full, or the error of taken(). */
int ipam_next(const struct cidr4 *subnet, uint32_t cursor, ipam_taken_fn taken, void *userdata, uint32_t *ret_ip);

/* Addresses of the instance bridge 172.17.0.0/16: the first free one after
 * cursor among 172.17.0.2 .. 172.17.255.254 (.0 network, .1 ecsbox0,
 * broadcast skipped), round-robin. 0, -ENOSPC or the error of taken(). */
int ipam_bridge_next(uint32_t cursor, ipam_taken_fn taken, void *userdata, uint32_t *ret_ip);

/* ---- ENI addresses ---- */

/* A new subnet record: its cursor (ebxCursor 0: the first lease is the first usable address). */
void ipam_subnet_init(json_t *subnet);
/* Inside a transaction: lease an address of subnet (a record) to eni_id: *want_ip when given (parsed by
 * the request's decoder; it must be in the subnet, not reserved, not leased), else the next free one after the subnet's cursor (the cursor
 * is moved and the subnet record stored). EC2 errors: InvalidParameterValue, InvalidIPAddress.InUse,
 * InsufficientFreeAddressesInSubnet. */
int ipam_eni_take(struct netd *d, json_t *subnet, const uint32_t *want_ip, const char *eni_id, uint32_t *ret_ip,
                  struct err *err);
/* Inside a transaction: give back the lease of an ENI record (its SubnetId and PrivateIpAddress). */
int ipam_eni_release(struct netd *d, json_t *eni, struct err *err);
/* How many addresses of the subnet are leased (< 0: unknown). */
long ipam_subnet_used(struct netd *d, const char *subnet_id);
/* Start-up: the lease of an ENI record restored when missing. 1 when restored, 0 otherwise. */
int ipam_eni_repair(struct netd *d, json_t *eni);
/* Start-up: leases whose ENI is gone released. Returns how many, or < 0. */
int ipam_eni_sweep(struct netd *d, struct err *err);

/* ---- bridge-mode addresses ---- */

/* The cursors record of an instance: a new object ({} when there is none yet). */
json_t *ipam_bridge_cursors(struct netd *d, const char *instance);
/* Store it (inside the caller's transaction). */
int ipam_bridge_cursors_put(struct netd *d, const char *instance, json_t *cursors, struct err *err);
/* Inside a transaction: lease the next free bridge address after cursors.IpCursor to task netns `netns`
 * and move IpCursor (the caller stores cursors). InsufficientFreeAddressesInSubnet when none is left. */
int ipam_bridge_take(struct netd *d, const char *instance, const char *netns, json_t *cursors, uint32_t *ret_ip,
                     struct err *err);
/* Give back a bridge task's address. */
int ipam_bridge_release(struct netd *d, const char *instance, uint32_t ip, struct err *err);
/* How many bridge addresses of an instance are leased, or -errno. */
long ipam_bridge_count(struct netd *d, const char *instance, struct err *err);
/* Start-up: the lease of a recorded bridge task (its PrivateIpAddress) restored when missing: 1 when restored. */
int ipam_bridge_repair(struct netd *d, const char *instance, const char *netns, const char *ip);
/* true when an INSTANCE-keyed index record (bip/INSTANCE/..., bport/INSTANCE/...) whose value is
 * {Netns} belongs to a live bridge task: `owners` is an object with a member "INSTANCE\nNETNS" for each. */
bool ipam_bridge_owned(const char *key, json_t *value, json_t *owners);
/* Start-up: bridge address leases of no live task (see ipam_bridge_owned) released. Returns how many, or < 0. */
int ipam_bridge_sweep(struct netd *d, json_t *owners, struct err *err);
