/* nftexpr.c: libnftnl expression builders shared by every nftables table netd makes. */
#include <stdio.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <libnftnl/expr.h>
#include <stdlib.h>

#include "nftexpr.h"

static struct nftnl_expr *x_new(const char *name)
{
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e)
                abort();    /* ENOMEM on a few bytes */
        return e;
}

void nx_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
        struct nftnl_expr *e = x_new("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
        nftnl_rule_add_expr(r, e);
}

void nx_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
        struct nftnl_expr *e = x_new("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
        nftnl_rule_add_expr(r, e);
}

void nx_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
        struct nftnl_expr *e = x_new("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r, e);
}

void nx_cmp8(struct nftnl_rule *r, uint32_t op, uint8_t v)
{
        nx_cmp(r, NFT_REG_1, op, &v, 1);
}

void nx_ifname(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name)
{
        char ifn[IFNAMSIZ] = { 0 };
        snprintf(ifn, sizeof ifn, "%s", name);
        nx_meta(r, key, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, op, ifn, sizeof ifn);
}

void nx_mask_nonzero(struct nftnl_rule *r, uint32_t mask, uint32_t len)
{
        struct nftnl_expr *e = x_new("bitwise");
        uint32_t zero = 0;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, len);
        nftnl_rule_add_expr(r, e);
        nx_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, len);
}

void nx_ct(struct nftnl_rule *r, uint32_t key, int dir, uint32_t dreg)
{
        struct nftnl_expr *e = x_new("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        if (dir >= 0)
                nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t) dir);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
        nftnl_rule_add_expr(r, e);
}

void nx_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t mask)
{
        nx_ct(r, key, -1, NFT_REG_1);
        nx_mask_nonzero(r, mask, sizeof mask);
}

void nx_ipv4_only(struct nftnl_rule *r)
{
        nx_meta(r, NFT_META_NFPROTO, NFT_REG_1);
        nx_cmp8(r, NFT_CMP_EQ, NFPROTO_IPV4);
}

void nx_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t set_id, bool invert)
{
        struct nftnl_expr *e = x_new("lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        if (set_id)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
        if (invert)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
        nftnl_rule_add_expr(r, e);
}

void nx_map(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg, const char *map, uint32_t set_id)
{
        struct nftnl_expr *e = x_new("lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map);
        if (set_id)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
        nftnl_rule_add_expr(r, e);
}

void nx_dynset_update(struct nftnl_rule *r, const char *set)
{
        struct nftnl_expr *e = x_new("dynset");
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
        nftnl_rule_add_expr(r, e);
}

void nx_objref_counter(struct nftnl_rule *r, const char *name)
{
        struct nftnl_expr *e = x_new("objref");
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
        nftnl_rule_add_expr(r, e);
}

void nx_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
        struct nftnl_expr *e = x_new("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) verdict);
        if (chain)
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
        nftnl_rule_add_expr(r, e);
}

void nx_fib_daddr_type(struct nftnl_rule *r)
{
        struct nftnl_expr *e = x_new("fib");
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
        nftnl_rule_add_expr(r, e);
}

void nx_dnat4(struct nftnl_rule *r, uint32_t reg_addr, uint32_t reg_proto)
{
        struct nftnl_expr *e = x_new("nat");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
        nftnl_rule_add_expr(r, e);
}

void nx_masq(struct nftnl_rule *r)
{
        nftnl_rule_add_expr(r, x_new("masq"));
}

void nx_snat4(struct nftnl_rule *r, uint32_t reg_addr)
{
        struct nftnl_expr *e = x_new("nat");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
        nftnl_rule_add_expr(r, e);
}

void nx_numgen(struct nftnl_rule *r, bool random, uint32_t modulus, uint32_t dreg)
{
        struct nftnl_expr *e = x_new("numgen");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, dreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, modulus);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, random ? NFT_NG_RANDOM : NFT_NG_INCREMENTAL);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
        nftnl_rule_add_expr(r, e);
}

void nx_ct_set32(struct nftnl_rule *r, uint32_t key, uint32_t value)
{
        struct nftnl_expr *imm = x_new("immediate"), *e;
        nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG32_15);
        nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &value, sizeof value);
        nftnl_rule_add_expr(r, imm);
        e = x_new("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG32_15);
        nftnl_rule_add_expr(r, e);
}
