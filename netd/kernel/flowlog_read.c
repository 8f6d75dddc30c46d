/* flowlog_read.c: read-and-reset a task netns's flow meters (NFT_MSG_GETSETELEM_RESET dumps, the `unmetered`
 * counter with NFT_MSG_GETOBJ_RESET) over one cached NETLINK_NETFILTER socket per netns. */
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
#include "nftbatch.h"

/* Linux >= 6.5; libnftnl 1.2.4 and older uapi headers lack them, and as enum members #ifndef cannot tell. */
#define ECSBOX_NFT_MSG_GETSETELEM_RESET 33
#define ECSBOX_NFT_MSG_GETOBJ_RESET 21
#define DUMP_RETRIES 3

/* One socket per task netns, made inside it; the netns identity (dev, ino) notices a re-created name. */
struct fl_sock {
        char netns[NAME_MAX + 1];
        dev_t dev;
        ino_t ino;
        struct nfsock *s;
};

static struct fl_sock *socks;
static size_t n_socks;

void fl_read_forget(const char *netns)
{
        for (size_t i = 0; i < n_socks; i++)
                if (strcmp(socks[i].netns, netns) == 0) {
                        nfsock_close(socks[i].s);
                        socks[i] = socks[--n_socks];
                        return;
                }
}

struct open_ctx {
        const char *where;
        struct nfsock *s;
};

static int open_cb(void *ud, struct err *err)
{
        struct open_ctx *c = ud;
        return nfsock_open(c->where, &c->s, err);
}

static int sock_get(struct knet *k, const char *netns, struct nfsock **ret, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct open_ctx c = { where, NULL };
        struct stat st;
        struct fl_sock *n;
        int r;

        if ((r = knet_path(k, netns, path, sizeof path, err)) < 0)
                return r;
        if (stat(path, &st) < 0)
                return err_set(err, errno, NULL, "netns '%s': %s", netns, strerror(errno));
        for (size_t i = 0; i < n_socks; i++)
                if (strcmp(socks[i].netns, netns) == 0) {
                        if (socks[i].dev == st.st_dev && socks[i].ino == st.st_ino) {
                                *ret = socks[i].s;
                                return 0;
                        }
                        fl_read_forget(netns);
                        break;
                }
        snprintf(where, sizeof where, "netns '%s'", netns);
        if ((r = netns_run(path, where, k->host_fd, open_cb, &c, NULL, err)) < 0) {
                nfsock_close(c.s);
                return r;
        }
        n = realloc(socks, (n_socks + 1) * sizeof *socks);
        if (!n) {
                nfsock_close(c.s);
                return err_set(err, ENOMEM, NULL, "flow log socket cache: %s", strerror(ENOMEM));
        }
        socks = n;
        memset(&socks[n_socks], 0, sizeof *socks);
        snprintf(socks[n_socks].netns, sizeof socks[n_socks].netns, "%s", netns);
        socks[n_socks].dev = st.st_dev;
        socks[n_socks].ino = st.st_ino;
        socks[n_socks].s = c.s;
        *ret = socks[n_socks++].s;
        return 0;
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

static int dump_set(struct nfsock *s, const char *name, struct dump_ctx *c, struct err *err)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
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
                nlh = nftnl_nlmsg_build_hdr(buf, ECSBOX_NFT_MSG_GETSETELEM_RESET, NFPROTO_INET, NLM_F_DUMP,
                                            nfsock_seq_next(s));
                nftnl_set_elems_nlmsg_build_payload(nlh, set);
                nftnl_set_free(set);
                c->intr = false;
                r = nfsock_call(s, nlh, dump_msg_cb, c, what, err);
                if (r < 0)
                        return r;
                if (!c->intr)
                        return 0;
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

static int reset_unmetered(struct nfsock *s, uint64_t *ret, struct err *err)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nftnl_obj *o = nftnl_obj_alloc();
        struct nlmsghdr *nlh;
        if (!o)
                return err_set(err, ENOMEM, NULL, "reset counter 'unmetered': %s", strerror(ENOMEM));
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, KNET_SG_TABLE);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, "unmetered");
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nlh = nftnl_nlmsg_build_hdr(buf, ECSBOX_NFT_MSG_GETOBJ_RESET, NFPROTO_INET, 0, nfsock_seq_next(s));
        nftnl_obj_nlmsg_build_payload(nlh, o);
        nftnl_obj_free(o);
        *ret = 0;
        return nfsock_call(s, nlh, ctr_cb, ret, "reset counter 'unmetered'", err);
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
        struct nfsock *s = NULL;
        uint64_t unmetered = 0;
        int r;

        if ((r = sock_get(k, netns, &s, err)) < 0) {
                acc->skip = true;
                return r;
        }
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
                struct dump_ctx c = { acc, sets[i].kind, sets[i].egress, sets[i].reject, false, eni_ip, 0 };
                if ((r = dump_set(s, sets[i].name, &c, err)) < 0) {
                        acc->skip = true;
                        fl_read_forget(netns);
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
