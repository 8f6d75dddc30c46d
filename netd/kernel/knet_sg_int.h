/* knet_sg_int.h: what the task tables share (knet_sg.c: groups, knet_meter.c: flow meters, knet_guard.c: source checks); not for the rest of netd. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "knet_sg.h"
#include "nft.h"

/* the tables' userdata: a table without it was not made by this netd (or by an older layout) */
#define SG_LAYOUT_TAG "ecsbox-netd sg layout 2"   /* 2: peer groups in sets of their own */

/* nft datatype ids, for set key types nft can print (concatenations: 6 bits per field) */
#define DT_IPADDR 7
#define DT_ETHERADDR 9
#define DT_INET_PROTO 12
#define DT_INET_SERVICE 13
#define DT_ICMP_TYPE 14
#define DT_TCP_FLAG 15
#define DT_ICMP_CODE 32
#define DT_IFNAME 41

uint32_t sg_concat_type(const int *types, size_t n);

/* ---- knet_meter.c: flow meters of table inet ecsbox (see docs/flow-logs.md) ---- */
/* The counter 'unmetered' and the meter sets acc_/rej_{in,out}[_np] and tflags. */
void meter_objects_put(struct nft_batch *b);
/* The rules of chains tally_<d>, allow_<d> and deny_<d> (d: "in" or "out"): allow meters and
 * accepts, deny meters and drops. */
void meter_verdict_rules_put(struct nft_batch *b, const char *d);
/* In chain: tcp flags & (fin | syn | rst) != 0 update @tflags { saddr . daddr . sport . dport . flags } */
void meter_tflags_rule_put(struct nft_batch *b, const char *chain);

/* ---- knet_guard.c: source checks ---- */
/* table netdev ecsbox: on the task's eth0 only the ENI's own MAC and IP leave, ARP only for its own IP. */
void guard_egress_put(struct nft_batch *b, const uint8_t mac[6], uint32_t ip);
