/* knet_meter.c: the flow meters of a task's table inet ecsbox: dynamic sets with a counter per flow, the rules that update them, and the 'unmetered' counter. */
#include <netinet/in.h>
#include <stdio.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "knet_sg_int.h"
#include "nftexpr.h"

#define FLOW_TIMEOUT_MS 30000

static const int T_FLOW5[] = { DT_IPADDR, DT_IPADDR, DT_INET_PROTO, DT_INET_SERVICE, DT_INET_SERVICE };
static const int T_FLOW3[] = { DT_IPADDR, DT_IPADDR, DT_INET_PROTO };
static const int T_TFLAGS[] = { DT_IPADDR, DT_IPADDR, DT_INET_SERVICE, DT_INET_SERVICE, DT_TCP_FLAG };
static const uint8_t L4_METERED[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };

/* A flow-meter set: dynamic, timeout 30 s, a counter per element, no size (see flow-logs.md 3.2). */
static void flow_set_put(struct nft_batch *b, const char *name, const int *types, size_t n)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_INET, KNET_SG_TABLE, name, b->set_id++);
        struct nftnl_expr *ctr = nftnl_expr_alloc("counter");

        if (s && ctr) {
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sg_concat_type(types, n));
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t) (4 * n));
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
                nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FLOW_TIMEOUT_MS);
                nftnl_set_add_expr(s, TAKE_PTR(ctr));
        }
        if (ctr)
                nftnl_expr_free(ctr);
        nft_put_set(b, s);
        nftnl_set_free(s);
}

static void unmetered_counter_put(struct nft_batch *b)
{
        struct nftnl_obj *o = nftnl_obj_alloc();
        struct nlmsghdr *nlh;

        if (!o) {
                nlc_batch_fail(&b->b, -ENOMEM, "create counter 'unmetered'", strerror(ENOMEM));
                return;
        }
        nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, KNET_SG_TABLE);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, "unmetered");
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nlh = nft_add(b, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE, 1024, "create counter 'unmetered'");
        if (nlh)
                nftnl_obj_nlmsg_build_payload(nlh, o);
        nftnl_obj_free(o);
}

void meter_objects_put(struct nft_batch *b)
{
        static const char *const dirs[] = { "in", "out" };

        unmetered_counter_put(b);
        for (size_t i = 0; i < 2; i++) {
                char name[16];
                snprintf(name, sizeof name, "acc_%s", dirs[i]);
                flow_set_put(b, name, T_FLOW5, ELEMENTSOF(T_FLOW5));
                snprintf(name, sizeof name, "rej_%s", dirs[i]);
                flow_set_put(b, name, T_FLOW5, ELEMENTSOF(T_FLOW5));
                snprintf(name, sizeof name, "acc_%s_np", dirs[i]);
                flow_set_put(b, name, T_FLOW3, ELEMENTSOF(T_FLOW3));
                snprintf(name, sizeof name, "rej_%s_np", dirs[i]);
                flow_set_put(b, name, T_FLOW3, ELEMENTSOF(T_FLOW3));
        }
        flow_set_put(b, "tflags", T_TFLAGS, ELEMENTSOF(T_TFLAGS));
}

/* An anonymous constant set { tcp, udp, sctp }; returns its id for the one rule that binds it. */
static uint32_t anon_l4_set(struct nft_batch *b)
{
        uint32_t id = b->set_id++;
        struct nftnl_set *s = nft_set_new(NFPROTO_INET, KNET_SG_TABLE, "__set%d", id);
        struct nft_elem v[ELEMENTSOF(L4_METERED)];

        memset(v, 0, sizeof v);
        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, DT_INET_PROTO);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 1);
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
        for (size_t i = 0; i < ELEMENTSOF(L4_METERED); i++) {
                v[i].key[0] = L4_METERED[i];
                v[i].len = 1;
        }
        nft_put_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_INET, KNET_SG_TABLE, "__set%d", id, v, ELEMENTSOF(v));
        return id;
}

/* "meta l4proto [!=] { tcp, udp, sctp } update @set { 5- or 3-tuple } <verdict>" */
static void meter_rule(struct nft_batch *b, const char *chain, const char *set, bool five, int verdict)
{
        uint32_t id = anon_l4_set(b);
        struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);

        nx_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        nx_lookup(r, NFT_REG_1, "__set%d", id, !five);
        nx_ipv4_only(r);
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NX_R32(1));
        nx_meta(r, NFT_META_L4PROTO, NX_R32(2));
        if (five) {
                nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NX_R32(3));
                nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NX_R32(4));
        }
        nx_dynset_update(r, set);
        nx_verdict(r, verdict, NULL);
        nft_put_rule(b, r);
}

static void unmetered_rule(struct nft_batch *b, const char *chain, bool drop)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);

        nx_objref_counter(r, "unmetered");
        if (drop)
                nx_verdict(r, NF_DROP, NULL);
        nft_put_rule(b, r);
}

void meter_verdict_rules_put(struct nft_batch *b, const char *d)
{
        char tally[16], allow[16], deny[16], acc[16], acc_np[16], rej[16], rej_np[16];
        struct nftnl_rule *r;

        snprintf(tally, sizeof tally, "tally_%s", d);
        snprintf(allow, sizeof allow, "allow_%s", d);
        snprintf(deny, sizeof deny, "deny_%s", d);
        snprintf(acc, sizeof acc, "acc_%s", d);
        snprintf(acc_np, sizeof acc_np, "acc_%s_np", d);
        snprintf(rej, sizeof rej, "rej_%s", d);
        snprintf(rej_np, sizeof rej_np, "rej_%s_np", d);

        /* tally: update returns; the counter after it moves only when an update failed */
        meter_rule(b, tally, acc, true, NFT_RETURN);
        meter_rule(b, tally, acc_np, false, NFT_RETURN);
        unmetered_rule(b, tally, false);
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, allow);
        nx_verdict(r, NFT_JUMP, tally);
        nft_put_rule(b, r);
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, allow);
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
        meter_rule(b, deny, rej, true, NF_DROP);
        meter_rule(b, deny, rej_np, false, NF_DROP);
        unmetered_rule(b, deny, true);
}

void meter_tflags_rule_put(struct nft_batch *b, const char *chain)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);

        nx_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        nx_cmp8(r, NFT_CMP_EQ, IPPROTO_TCP);
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG_1);
        nx_mask_nonzero(r, 0x07, 1);
        nx_ipv4_only(r);
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NX_R32(1));
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NX_R32(2));
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NX_R32(3));
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NX_R32(4));
        nx_dynset_update(r, "tflags");
        nft_put_rule(b, r);
}
