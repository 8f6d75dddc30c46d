/* nft.c: nf_tables on the netlink core: transactions, and libnftnl tables, chains, sets, elements and rules put into them. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft.h"

#define OBJ_ROOM 8192            /* a table, chain, set or rule message */
#define ELEMS_ROOM 65536         /* NFT_ELEMS_PER_MSG elements of up to 40+40+16 bytes */

void nft_batch_init(struct nft_batch *nb, struct nlc *s)
{
        nlc_batch_init(&nb->b, s, NFNL_SUBSYS_NFTABLES);
        nb->set_id = 1;
        nb->rules = 0;
}

void nft_batch_fini(struct nft_batch *nb)
{
        nlc_batch_fini(&nb->b);
}

int nft_batch_run(struct nft_batch *nb, struct err *err)
{
        return nlc_batch_run(&nb->b, err);
}

const char *nft_family_name(uint16_t family)
{
        switch (family) {
        case NFPROTO_INET:
                return "inet";
        case NFPROTO_IPV4:
                return "ip";
        case NFPROTO_BRIDGE:
                return "bridge";
        case NFPROTO_NETDEV:
                return "netdev";
        default:
                return "?";
        }
}

struct nlmsghdr *nft_add(struct nft_batch *nb, uint16_t type, uint16_t family, uint16_t flags, size_t room, const char *fmt, ...)
{
        char what[NLC_WHAT_MAX];
        struct nlmsghdr *nlh;
        struct nfgenmsg *nfg;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        nlh = nlc_batch_add(&nb->b, (uint16_t) (NFNL_SUBSYS_NFTABLES << 8 | type), flags, room + sizeof *nfg, "%s", what);
        if (!nlh)
                return NULL;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
        nfg->nfgen_family = (uint8_t) family;
        nfg->version = NFNETLINK_V0;
        nfg->res_id = 0;
        if (type == NFT_MSG_NEWRULE)
                nb->rules++;
        return nlh;
}

static void oom(struct nft_batch *nb, const char *what)
{
        nlc_batch_fail(&nb->b, -ENOMEM, what, strerror(ENOMEM));
}

void nft_put_table(struct nft_batch *nb, uint16_t type, uint16_t family, const char *table, const void *udata, uint32_t udlen)
{
        struct nftnl_table *t = nftnl_table_alloc();
        const char *verb = type == NFT_MSG_NEWTABLE ? "create" : type == NFT_MSG_DELTABLE ? "delete" : "remove";
        struct nlmsghdr *nlh;

        if (!t)
                return oom(nb, "nftables table");
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
        if (udata)
                nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, udata, udlen);
        nlh = nft_add(nb, type, family, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, OBJ_ROOM, "%s table %s %s", verb,
                      nft_family_name(family), table);
        if (nlh)
                nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
}

void nft_put_chain(struct nft_batch *nb, uint16_t family, const char *table, const char *name, int hook, int32_t prio,
                   const char *type, uint32_t policy, const char *dev)
{
        struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh;

        if (!c)
                return oom(nb, "nftables chain");
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        if (hook >= 0) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t) hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
                if (dev)
                        nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, dev);
        }
        nlh = nft_add(nb, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, OBJ_ROOM, "create chain '%s' in table %s %s", name,
                      nft_family_name(family), table);
        if (nlh)
                nftnl_chain_nlmsg_build_payload(nlh, c);
        nftnl_chain_free(c);
}

struct nftnl_set *nft_set_new(uint16_t family, const char *table, const char *name, uint32_t id)
{
        struct nftnl_set *s = nftnl_set_alloc();

        if (!s)
                return NULL;
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, family);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, name);
        if (id)
                nftnl_set_set_u32(s, NFTNL_SET_ID, id);
        return s;
}

void nft_put_set(struct nft_batch *nb, struct nftnl_set *s)
{
        struct nlmsghdr *nlh;

        if (!s)
                return oom(nb, "nftables set");
        nlh = nft_add(nb, NFT_MSG_NEWSET, (uint16_t) nftnl_set_get_u32(s, NFTNL_SET_FAMILY), NLM_F_CREATE, OBJ_ROOM,
                      "create set '%s'", nftnl_set_get_str(s, NFTNL_SET_NAME));
        if (nlh)
                nftnl_set_nlmsg_build_payload(nlh, s);
}

void nft_put_set_del(struct nft_batch *nb, uint16_t family, const char *table, const char *set)
{
        struct nftnl_set *s = nft_set_new(family, table, set, 0);
        struct nlmsghdr *nlh;

        if (!s)
                return oom(nb, "nftables set");
        nlh = nft_add(nb, NFT_MSG_DELSET, family, 0, OBJ_ROOM, "delete set '%s'", set);
        if (nlh)
                nftnl_set_nlmsg_build_payload(nlh, s);
        nftnl_set_free(s);
}

void nft_put_chain_flush(struct nft_batch *nb, uint16_t family, const char *table, const char *chain)
{
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct nlmsghdr *nlh;

        if (!r)
                return oom(nb, "nftables rule");
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nlh = nft_add(nb, NFT_MSG_DELRULE, family, 0, OBJ_ROOM, "flush chain '%s' of table %s %s", chain, nft_family_name(family),
                      table);
        if (nlh)
                nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);
}

struct nftnl_rule *nft_rule_new(uint16_t family, const char *table, const char *chain)
{
        struct nftnl_rule *r = nftnl_rule_alloc();

        if (!r)
                abort();         /* ENOMEM on a few bytes; the expressions abort alike */
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        return r;
}

void nft_put_rule(struct nft_batch *nb, struct nftnl_rule *r)
{
        struct nlmsghdr *nlh = nft_add(nb, NFT_MSG_NEWRULE, (uint16_t) nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
                                       NLM_F_APPEND | NLM_F_CREATE, OBJ_ROOM, "add rule to chain '%s' of table %s %s",
                                       nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
                                       nft_family_name((uint16_t) nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY)),
                                       nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
        if (nlh)
                nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);
}

static int elems_fill(struct nftnl_set *s, const struct nft_elem *v, size_t n)
{
        for (size_t j = 0; j < n; j++) {
                struct nftnl_set_elem *e = nftnl_set_elem_alloc();
                if (!e)
                        return -ENOMEM;
                nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, v[j].key, v[j].len);
                if (v[j].has_end)
                        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, v[j].end, v[j].len);
                if (v[j].dlen)
                        nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, v[j].data, v[j].dlen);
                if (v[j].chain) {
                        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t) NFT_GOTO);
                        nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, v[j].chain);
                }
                nftnl_set_elem_add(s, e);
        }
        return 0;
}

void nft_put_elems(struct nft_batch *nb, uint16_t type, uint16_t flags, uint16_t family, const char *table, const char *set,
                   uint32_t set_id, const struct nft_elem *v, size_t n)
{
        const char *verb = type == NFT_MSG_NEWSETELEM ? "add" : n == 0 ? "flush" : "remove";
        size_t i = 0;

        do {
                struct nftnl_set *s = nft_set_new(family, table, set, set_id);
                size_t chunk = n - i < NFT_ELEMS_PER_MSG ? n - i : NFT_ELEMS_PER_MSG;
                struct nlmsghdr *nlh;

                if (!s || elems_fill(s, v + i, chunk) < 0) {
                        nftnl_set_free(s);
                        return oom(nb, "nftables set elements");
                }
                nlh = nft_add(nb, type, family, flags, ELEMS_ROOM, "%s %zu elements of set '%s'", verb, chunk, set);
                if (nlh)
                        nftnl_set_elems_nlmsg_build_payload(nlh, s);
                nftnl_set_free(s);
                i += chunk;
        } while (i < n);
}

struct nlmsghdr *nft_req(void *buf, uint16_t type, uint16_t family, uint16_t flags)
{
        return nftnl_nlmsg_build_hdr(buf, type, family, flags, 0);
}
