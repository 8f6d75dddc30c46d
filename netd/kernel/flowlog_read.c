/* flowlog_read.c: read-and-reset a task netns's flow meters (NFT_MSG_GETSETELEM_RESET dumps, the `unmetered`
 * counter with NFT_MSG_GETOBJ_RESET) over the NETLINK_NETFILTER socket struct knet keeps per netns it reads. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ecsbox/log.h"
#include "../flowlog.h"
#include "knet_int.h"
#include "knet_sg.h"
#include "netns.h"
#include "nft.h"

#define DUMP_RETRIES 3

void fl_read_forget(struct knet *k, const char *netns)
{
        knet_nf_forget(k, netns);
}

enum set_kind { K5, K3, KFLAGS };

struct dump_ctx {
        struct fl_acc *acc;
        enum set_kind kind;
        bool egress, reject, intr;
        uint32_t eni_ip;
        int bad;
};

struct ctr {
        uint64_t packets, bytes;
        bool found;
};

static int expr_cb(struct nftnl_expr *e, void *data)
{
        struct ctr *c = data;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        if (name && strcmp(name, "counter") == 0) {
                c->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
                c->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
                c->found = true;
        }
        return 0;
}

static int elem_cb(struct nftnl_set_elem *e, void *data)
{
        struct dump_ctx *c = data;
        struct ctr ctr = { 0 };
        struct fl_key k;
        uint32_t len = 0;
        const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        uint8_t flags;
        int r;

        if (!key)
                return 0;
        (void) nftnl_set_elem_expr_foreach(e, expr_cb, &ctr);
        if (!ctr.found || ctr.packets == 0)
                return 0;     /* already read: the element waits for its timeout */
        switch (c->kind) {
        case K5:
        case K3:
                r = c->kind == K5 ? fl_key5_decode(key, len, &k) : fl_key3_decode(key, len, &k);
                if (r < 0) {
                        c->bad++;
                        return 0;
                }
                if (fl_acc_add(c->acc, &k, c->egress, c->reject, ctr.packets, ctr.bytes) < 0)
                        return -1;
                break;
        case KFLAGS:
                if (fl_keyflags_decode(key, len, &k, &flags) < 0) {
                        c->bad++;
                        return 0;
                }
                fl_acc_flags(c->acc, &k, k.saddr == c->eni_ip, flags);
                break;
        }
        return 0;
}

static int dump_msg_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct dump_ctx *c = ud;
        struct nftnl_set *s = nftnl_set_alloc();
        int r;
        if (!s)
                return -ENOMEM;
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
                c->intr = true;     /* the values in hand were reset: keep them, dump again */
        r = nftnl_set_elems_nlmsg_parse(nlh, s);
        if (r >= 0)
                r = nftnl_set_elem_foreach(s, elem_cb, c) < 0 ? -ENOMEM : 0;
        else
                r = -EBADMSG;
        nftnl_set_free(s);
        return r;
}

static int dump_set(struct nlc *s, const char *name, struct dump_ctx *c, struct err *err)
{
        char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
        char what[64];
        int r = 0;

        snprintf(what, sizeof what, "read and reset set '%s'", name);
        for (int tries = 0; tries < DUMP_RETRIES; tries++) {
                struct nftnl_set *set = nftnl_set_alloc();
                struct nlmsghdr *nlh;
                if (!set)
                        return err_set(err, ENOMEM, NULL, "%s: %s", what, strerror(ENOMEM));
                nftnl_set_set_str(set, NFTNL_SET_TABLE, KNET_SG_TABLE);
                nftnl_set_set_str(set, NFTNL_SET_NAME, name);
                nlh = nft_req(buf, NFT_MSG_GETSETELEM_RESET_, NFPROTO_INET, NLM_F_DUMP);
                nftnl_set_elems_nlmsg_build_payload(nlh, set);
                nftnl_set_free(set);
                c->intr = false;
                /* interrupted: the values in hand were reset, keep them and dump again */
                r = nlc_call(s, nlh, dump_msg_cb, c, what, err);
                if (r == -EINTR)
                        c->intr = true;
                else if (r < 0)
                        return r;
                if (!c->intr)
                        return 0;
                err_clear(err);
        }
        return 0;
}

static int ctr_cb(const struct nlmsghdr *nlh, void *ud)
{
        uint64_t *pkts = ud;
        struct nftnl_obj *o = nftnl_obj_alloc();
        if (!o)
                return -ENOMEM;
        if (nftnl_obj_nlmsg_parse(nlh, o) >= 0)
                *pkts = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
        nftnl_obj_free(o);
        return 0;
}

static int reset_unmetered(struct nlc *s, uint64_t *ret, struct err *err)
{
        char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
        struct nftnl_obj *o = nftnl_obj_alloc();
        struct nlmsghdr *nlh;
        if (!o)
                return err_set(err, ENOMEM, NULL, "reset counter 'unmetered': %s", strerror(ENOMEM));
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, KNET_SG_TABLE);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, "unmetered");
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nlh = nft_req(buf, NFT_MSG_GETOBJ_RESET_, NFPROTO_INET, 0);
        nftnl_obj_nlmsg_build_payload(nlh, o);
        nftnl_obj_free(o);
        *ret = 0;
        return nlc_call(s, nlh, ctr_cb, ret, "reset counter 'unmetered'", err);
}

int fl_read_netns(struct knet *k, const char *netns, uint32_t eni_ip, struct fl_acc *acc, struct err *err)
{
        static const struct {
                const char *name;
                enum set_kind kind;
                bool egress, reject;
        } sets[] = {
                { "acc_in", K5, false, false },     { "acc_out", K5, true, false },
                { "rej_in", K5, false, true },      { "rej_out", K5, true, true },
                { "acc_in_np", K3, false, false },  { "acc_out_np", K3, true, false },
                { "rej_in_np", K3, false, true },   { "rej_out_np", K3, true, true },
                { "tflags", KFLAGS, false, false }, /* last: it ORs into the flows read above */
        };
        struct nlc *s = NULL;
        uint64_t unmetered = 0;
        int r;

        if ((r = knet_nf_keep(k, netns, &s, err)) < 0) {
                acc->skip = true;
                return r;
        }
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
                struct dump_ctx c = { acc, sets[i].kind, sets[i].egress, sets[i].reject, false, eni_ip, 0 };
                if ((r = dump_set(s, sets[i].name, &c, err)) < 0) {
                        acc->skip = true;
                        knet_nf_forget(k, netns);
                        return err_wrap(err, "flow log read of netns '%s'", netns);
                }
                if (c.bad) {
                        acc->skip = true;
                        log_warning("msg=\"meter elements with an unexpected key, ignoring\" netns=%s set=%s n=%d",
                                    netns, sets[i].name, c.bad);
                }
        }
        if ((r = reset_unmetered(s, &unmetered, err)) < 0) {
                acc->skip = true;
                return err_wrap(err, "flow log read of netns '%s'", netns);
        }
        if (unmetered > 0) {
                acc->skip = true;
                log_warning("msg=\"flows not metered (set full or allocation failed)\" netns=%s packets=%llu", netns,
                            (unsigned long long) unmetered);
        }
        return 0;
}
