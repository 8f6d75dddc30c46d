/* nft.h: nf_tables on the netlink core: one transaction per batch (NFNL_MSG_BATCH_BEGIN/END), libnftnl
 * tables, chains, sets, elements and rules put into it; a request helper for GETs and dumps. */
#pragma once

#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"
#include "nlcore.h"

/* Kernel message types newer than this libnftnl's uapi copy (enum members, so #ifndef cannot see them). */
#define NFT_MSG_DESTROYTABLE_ 26
#define NFT_MSG_DESTROYSETELEM_ 30
#define NFT_MSG_GETOBJ_RESET_ 21
#define NFT_MSG_GETSETELEM_RESET_ 33   /* Linux >= 6.5 */

#define NFT_ELEMS_PER_MSG 256          /* keeps every element message far below its room */

struct nft_batch {
        struct nlc_batch b;
        uint32_t set_id;               /* next NFTA_SET_ID for a set made in this batch */
        int rules;                     /* NEWRULE messages, for layout checks */
};

/* One nf_tables transaction on s (a NETLINK_NETFILTER socket). */
void nft_batch_init(struct nft_batch *nb, struct nlc *s);
void nft_batch_fini(struct nft_batch *nb);
/* Send (the kernel applies all or nothing) and release. */
int nft_batch_run(struct nft_batch *nb, struct err *err);

/* "inet", "ip", "bridge", "netdev" */
const char *nft_family_name(uint16_t family);

/* A message NFT_MSG_<type> for family with its nfgenmsg and at least room bytes for libnftnl's
 * payload; NULL when out of memory (the batch then fails). */
struct nlmsghdr *nft_add(struct nft_batch *nb, uint16_t type, uint16_t family, uint16_t flags, size_t room, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

/* type NFT_MSG_NEWTABLE (with udata, may be NULL), NFT_MSG_DELTABLE or NFT_MSG_DESTROYTABLE_. */
void nft_put_table(struct nft_batch *nb, uint16_t type, uint16_t family, const char *table, const void *udata, uint32_t udlen);
/* hook < 0: a regular chain; else a base chain of `type` ("filter", "nat") with policy and, for
 * netdev, dev. */
void nft_put_chain(struct nft_batch *nb, uint16_t family, const char *table, const char *name, int hook, int32_t prio,
                   const char *type, uint32_t policy, const char *dev);
/* A set object to fill: family, table, name, and its batch id when id != 0. NULL: ENOMEM. */
struct nftnl_set *nft_set_new(uint16_t family, const char *table, const char *name, uint32_t id);
void nft_put_set(struct nft_batch *nb, struct nftnl_set *s);
/* Delete a set (NFT_MSG_DELSET: it must exist and no rule may use it once the batch has run). */
void nft_put_set_del(struct nft_batch *nb, uint16_t family, const char *table, const char *set);
/* Delete every rule of a chain (NFT_MSG_DELRULE without a handle): the chain stays. */
void nft_put_chain_flush(struct nft_batch *nb, uint16_t family, const char *table, const char *chain);
/* A rule object to fill with nftexpr.h's expressions, then nft_put_rule (which frees it). */
struct nftnl_rule *nft_rule_new(uint16_t family, const char *table, const char *chain);
void nft_put_rule(struct nft_batch *nb, struct nftnl_rule *r);

/* A set element: key (and, for intervals, key end) in register layout, map data when dlen > 0. */
struct nft_elem {
        uint8_t key[40], end[40];
        uint32_t len;
        bool has_end;
        uint8_t data[16];
        uint32_t dlen;
        const char *chain;             /* a verdict map's element: goto this chain (data unused) */
};
/* Elements of a set in messages of NFT_ELEMS_PER_MSG: type NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM
 * (a flush when n == 0) or NFT_MSG_DESTROYSETELEM_. */
void nft_put_elems(struct nft_batch *nb, uint16_t type, uint16_t flags, uint16_t family, const char *table, const char *set,
                   uint32_t set_id, const struct nft_elem *v, size_t n);

/* A GET request header for nlc_call: NFT_MSG_<type>, family, flags (NLM_F_DUMP or 0). */
struct nlmsghdr *nft_req(void *buf, uint16_t type, uint16_t family, uint16_t flags);
