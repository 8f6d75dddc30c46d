/* nftexpr.h: the one set of libnftnl expression builders netd's tables use (security groups, flow
 * meters, the source/destination guard, bridge-mode NAT). Each appends to a rule; allocation of
 * these few bytes aborts on ENOMEM. */
#pragma once

#include <libnftnl/rule.h>
#include <stdbool.h>
#include <stdint.h>

#define NX_R32(i) (NFT_REG32_00 + (i))

/* payload @base,off,len -> dreg */
void nx_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);
/* meta key -> dreg */
void nx_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
/* sreg <op> data */
void nx_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
void nx_cmp8(struct nftnl_rule *r, uint32_t op, uint8_t v);
/* meta iifname/oifname (key) <op> name */
void nx_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name);
/* reg1 & mask != 0 (reg1 holds len bytes) */
void nx_mask_nonzero(struct nftnl_rule *r, uint32_t mask, uint32_t len);
/* ct key [dir] -> dreg (dir < 0: none) */
void nx_ct(struct nftnl_rule *r, uint32_t key, int dir, uint32_t dreg);
/* ct key & mask != 0 (a 4-byte key: state, status) */
void nx_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t mask);
/* meta nfproto ipv4 */
void nx_ipv4_only(struct nftnl_rule *r);
/* sreg [!]@set (set_id: the batch id of a set made in the same batch, 0: none) */
void nx_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t set_id, bool invert);
/* sreg @map -> dreg */
void nx_map(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg, const char *map, uint32_t set_id);
/* update @set { reg1... } */
void nx_dynset_update(struct nftnl_rule *r, const char *set);
/* counter name "name" */
void nx_objref_counter(struct nftnl_rule *r, const char *name);
/* verdict (NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_JUMP/NFT_GOTO chain) */
void nx_verdict(struct nftnl_rule *r, int verdict, const char *chain);
/* fib daddr type -> reg1 */
void nx_fib_daddr_type(struct nftnl_rule *r);
/* dnat to reg_addr (ipv4) : reg_proto */
void nx_dnat4(struct nftnl_rule *r, uint32_t reg_addr, uint32_t reg_proto);
void nx_masq(struct nftnl_rule *r);
/* snat to reg_addr (ipv4), the source port kept */
void nx_snat4(struct nftnl_rule *r, uint32_t reg_addr);
/* numgen inc (or random) mod modulus -> dreg */
void nx_numgen(struct nftnl_rule *r, bool random, uint32_t modulus, uint32_t dreg);
/* ct key set <value> (a 4-byte key: mark), through register NFT_REG32_15 */
void nx_ct_set32(struct nftnl_rule *r, uint32_t key, uint32_t value);
