/* knet_sg.c: netd's nftables tables, built with libnftnl and sent with libmnl as single atomic batches:
 * `inet ecsbox` + `netdev ecsbox` in each task netns, `bridge ecsbox` in each VPC netns. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_bridge.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "knet_int.h"
#include "knet_sg.h"
#include "netns.h"

/* Kernel message types newer than this libnftnl's uapi copy (enum members, so #ifndef cannot see them). */
#define EBX_NFT_MSG_DESTROYTABLE 26
#define EBX_NFT_MSG_DESTROYSETELEM 30

/* nft datatype ids, for set key types nft can print (concatenations: 6 bits per field) */
#define DT_IPADDR 7
#define DT_ETHERADDR 9
#define DT_INET_PROTO 12
#define DT_INET_SERVICE 13
#define DT_TCP_FLAG 15
#define DT_IFNAME 41

#define LAYOUT_TAG "ecsbox-netd sg layout 1"
#define FLOW_TIMEOUT_MS 30000
#define ELEMS_PER_MSG 256        /* keeps every message far below the per-message room */
#define MSG_ROOM 65536
#define REPLY_TIMEOUT_S 10

#define R32(i) (NFT_REG32_00 + (i))

/* ---- a batch: BEGIN, messages (each acked), END, sent with one sendto() ---- */
struct nftb_msg {
        uint32_t seq;
        char what[96];
};

struct nftb {
        char *buf;
        size_t len, cap, open;   /* open: offset of the message being built, or (size_t) -1 */
        uint32_t seq;
        struct nftb_msg *msgs;
        size_t n, msgs_cap;
        int rules;               /* NEWRULE messages, for the layout check */
        uint32_t set_id;
        bool oom;
};

static void nftb_init(struct nftb *b)
{
        memset(b, 0, sizeof *b);
        b->open = (size_t) -1;
        b->seq = (uint32_t) time(NULL) << 8;
        b->set_id = 1;
}

static void nftb_fini(struct nftb *b)
{
        free(b->buf);
        free(b->msgs);
        memset(b, 0, sizeof *b);
}

static bool nftb_room(struct nftb *b, size_t want)
{
        if (b->oom)
                return false;
        if (b->cap - b->len < want) {
                size_t ncap = b->cap ? b->cap : 65536;
                char *nb;
                while (ncap - b->len < want)
                        ncap *= 2;
                nb = realloc(b->buf, ncap);
                if (!nb) {
                        b->oom = true;
                        return false;
                }
                /* libnftnl writes headers and attributes in place and reads no padding, but keep it clean */
                memset(nb + b->cap, 0, ncap - b->cap);
                b->buf = nb;
                b->cap = ncap;
        }
        return true;
}

static void nftb_close(struct nftb *b)
{
        if (b->open != (size_t) -1) {
                struct nlmsghdr *nlh = (struct nlmsghdr *) (b->buf + b->open);
                b->len = b->open + NLMSG_ALIGN(nlh->nlmsg_len);
                b->open = (size_t) -1;
        }
}

static void nftb_begin(struct nftb *b)
{
        struct nlmsghdr *nlh;
        if (!nftb_room(b, MSG_ROOM))
                return;
        nlh = nftnl_batch_begin(b->buf + b->len, b->seq++);
        b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* A new message; valid until the next call. NULL when out of memory (the batch then fails to send). */
static struct nlmsghdr *nftb_add(struct nftb *b, uint16_t type, uint16_t family, uint16_t flags, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static struct nlmsghdr *nftb_add(struct nftb *b, uint16_t type, uint16_t family, uint16_t flags, const char *fmt, ...)
{
        struct nlmsghdr *nlh;
        va_list ap;

        nftb_close(b);
        if (!nftb_room(b, MSG_ROOM))
                return NULL;
        if (b->n == b->msgs_cap) {
                size_t ncap = b->msgs_cap ? b->msgs_cap * 2 : 64;
                struct nftb_msg *nm = realloc(b->msgs, ncap * sizeof *nm);
                if (!nm) {
                        b->oom = true;
                        return NULL;
                }
                b->msgs = nm;
                b->msgs_cap = ncap;
        }
        b->msgs[b->n].seq = b->seq;
        va_start(ap, fmt);
        vsnprintf(b->msgs[b->n].what, sizeof b->msgs[b->n].what, fmt, ap);
        va_end(ap);
        b->n++;
        nlh = nftnl_nlmsg_build_hdr(b->buf + b->len, type, family, flags | NLM_F_ACK, b->seq++);
        b->open = b->len;
        if (type == NFT_MSG_NEWRULE)
                b->rules++;
        return nlh;
}

static void nftb_end(struct nftb *b)
{
        struct nlmsghdr *nlh;
        nftb_close(b);
        if (!nftb_room(b, MSG_ROOM))
                return;
        nlh = nftnl_batch_end(b->buf + b->len, b->seq++);
        b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* ---- sockets in other namespaces ---- */
struct nfsock_ctx {
        struct mnl_socket *s;
};

static int nfsock_open_cb(void *ud, struct err *err)
{
        struct nfsock_ctx *c = ud;
        struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
        int one = 1;

        c->s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!c->s)
                return err_set(err, errno, NULL, "open nfnetlink socket: %s", strerror(errno));
        (void) mnl_socket_setsockopt(c->s, NETLINK_EXT_ACK, &one, sizeof one);
        (void) mnl_socket_setsockopt(c->s, NETLINK_CAP_ACK, &one, sizeof one);
        if (setsockopt(mnl_socket_get_fd(c->s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            mnl_socket_bind(c->s, 0, MNL_SOCKET_AUTOPID) < 0) {
                int e = errno;
                mnl_socket_close(c->s);
                c->s = NULL;
                return err_set(err, e, NULL, "set up nfnetlink socket: %s", strerror(e));
        }
        return 0;
}

DEFINE_TRIVIAL_CLEANUP(struct mnl_socket *, mnl_socket_close)

/* An NETLINK_NETFILTER socket created inside the named netns (setns in, socket(), setns back). */
static int nfsock_open(struct knet *k, const char *netns, struct mnl_socket **ret, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct nfsock_ctx c = { NULL };
        int r;

        if ((r = knet_path(k, netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", netns);
        r = netns_run(path, where, k->host_fd, nfsock_open_cb, &c, NULL, err);
        if (r < 0) {
                if (c.s)
                        mnl_socket_close(c.s);
                return r;
        }
        *ret = c.s;
        return 0;
}

static int ack_err(const struct nlmsghdr *nlh, char *ext, size_t extlen)
{
        const struct nlmsgerr *m = mnl_nlmsg_get_payload(nlh);
        size_t plen = mnl_nlmsg_get_payload_len(nlh), off = sizeof *m;
        const struct nlattr *a;

        ext[0] = '\0';
        if (plen < sizeof *m)
                return -EBADMSG;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && m->msg.nlmsg_len >= sizeof(struct nlmsghdr))
                off += NLMSG_ALIGN(m->msg.nlmsg_len - sizeof(struct nlmsghdr));
        if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off < plen)
                mnl_attr_for_each(a, nlh, off)
                        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                                snprintf(ext, extlen, "%s", mnl_attr_get_str(a));
        return m->error > 0 ? -m->error : m->error;
}

/* Send the batch in one sendto() and read until every message is answered. nf_tables applies all or
 * nothing; the first failure names its message, the netns, strerror and the kernel's text. */
static int nftb_send(struct nftb *b, struct knet *k, const char *netns, struct err *err)
{
        _cleanup_(mnl_socket_closep) struct mnl_socket *s = NULL;
        char rbuf[32768] __attribute__((aligned(8))), ext[256] = "";
        size_t answered = 0;
        int first = 0, r;
        const char *first_what = "";

        nftb_end(b);
        if (b->oom)
                return err_set(err, ENOMEM, NULL, "nftables batch for netns '%s': %s", netns, strerror(ENOMEM));
        if ((r = nfsock_open(k, netns, &s, err)) < 0)
                return r;
        if (b->len > 128 * 1024) {
                int sz = (int) (b->len + 65536);
                /* one send: a large batch needs a large send buffer (netd holds CAP_NET_ADMIN) */
                if (setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
                        (void) setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        }
        if (mnl_socket_sendto(s, b->buf, b->len) < 0)
                return err_set(err, errno, NULL, "send nftables batch (%zu bytes) to netns '%s': %s", b->len, netns, strerror(errno));
        while (answered < b->n) {
                ssize_t n = recv(mnl_socket_get_fd(s), rbuf, sizeof rbuf, first ? MSG_DONTWAIT : 0);
                const struct nlmsghdr *nlh;
                int left;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (first && (errno == EAGAIN || errno == EWOULDBLOCK))
                                break;
                        return err_set(err, errno, NULL, "read nftables answers from netns '%s': %s", netns, strerror(errno));
                }
                left = (int) n;
                for (nlh = (const struct nlmsghdr *) rbuf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                        char text[256];
                        int e;
                        if (nlh->nlmsg_type != NLMSG_ERROR)
                                continue;
                        e = ack_err(nlh, text, sizeof text);
                        answered++;
                        if (e < 0 && !first) {
                                first = e;
                                snprintf(ext, sizeof ext, "%s", text);
                                for (size_t i = 0; i < b->n; i++)
                                        if (b->msgs[i].seq == nlh->nlmsg_seq)
                                                first_what = b->msgs[i].what;
                        }
                }
        }
        if (first) {
                if (ext[0])
                        return err_set(err, -first, NULL, "%s in netns '%s': %s (kernel: %s)", first_what, netns, strerror(-first), ext);
                return err_set(err, -first, NULL, "%s in netns '%s': %s", first_what, netns, strerror(-first));
        }
        return 0;
}

/* ---- expressions ---- */
static void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
        struct nftnl_expr *e = nftnl_expr_alloc("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
        nftnl_rule_add_expr(r, e);
}

static void x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
        struct nftnl_expr *e = nftnl_expr_alloc("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
        nftnl_rule_add_expr(r, e);
}

static void x_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r, e);
}

static void x_cmp8(struct nftnl_rule *r, uint32_t op, uint8_t v)
{
        x_cmp(r, NFT_REG_1, op, &v, 1);
}

/* reg1 = value & mask; then reg1 != 0 */
static void x_mask_nonzero(struct nftnl_rule *r, uint32_t mask, uint32_t len)
{
        struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
        uint32_t zero = 0;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, len);
        nftnl_rule_add_expr(r, e);
        x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, len);
}

static void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t set_id, bool invert)
{
        struct nftnl_expr *e = nftnl_expr_alloc("lookup");
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
        if (set_id)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
        if (invert)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
        nftnl_rule_add_expr(r, e);
}

static void x_dynset_update(struct nftnl_rule *r, const char *set)
{
        struct nftnl_expr *e = nftnl_expr_alloc("dynset");
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
        nftnl_rule_add_expr(r, e);
}

static void x_objref_counter(struct nftnl_rule *r, const char *name)
{
        struct nftnl_expr *e = nftnl_expr_alloc("objref");
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
        nftnl_rule_add_expr(r, e);
}

static void x_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) verdict);
        if (chain)
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
        nftnl_rule_add_expr(r, e);
}

static void x_ct_state(struct nftnl_rule *r)
{
        struct nftnl_expr *e = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

static void x_ct(struct nftnl_rule *r, uint32_t key, int dir, uint32_t dreg)
{
        struct nftnl_expr *e = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        if (dir >= 0)
                nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t) dir);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
        nftnl_rule_add_expr(r, e);
}

static void x_ipv4_only(struct nftnl_rule *r)
{
        x_meta(r, NFT_META_NFPROTO, NFT_REG_1);
        x_cmp8(r, NFT_CMP_EQ, NFPROTO_IPV4);
}

/* ---- objects ---- */
static struct nftnl_rule *rule_new(uint16_t family, const char *table, const char *chain)
{
        struct nftnl_rule *r = nftnl_rule_alloc();
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        return r;
}

static void rule_put(struct nftb *b, struct nftnl_rule *r)
{
        struct nlmsghdr *nlh = nftb_add(b, NFT_MSG_NEWRULE, (uint16_t) nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
                                        NLM_F_APPEND | NLM_F_CREATE, "add rule to chain '%s'",
                                        nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
        if (nlh)
                nftnl_rule_nlmsg_build_payload(nlh, r);
        nftnl_rule_free(r);
}

static void table_put(struct nftb *b, uint16_t family, bool destroy)
{
        struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, KNET_SG_TABLE);
        if (!destroy)
                nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, LAYOUT_TAG, sizeof LAYOUT_TAG);
        nlh = nftb_add(b, destroy ? EBX_NFT_MSG_DESTROYTABLE : NFT_MSG_NEWTABLE, family, destroy ? 0 : NLM_F_CREATE,
                       "%s table %s " KNET_SG_TABLE, destroy ? "remove" : "create",
                       family == NFPROTO_INET ? "inet" : family == NFPROTO_BRIDGE ? "bridge" : "netdev");
        if (nlh)
                nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
}

static void chain_put(struct nftb *b, uint16_t family, const char *name, int hook, int prio, const char *dev)
{
        struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh;
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, KNET_SG_TABLE);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        if (hook >= 0) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t) hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_DROP);
                if (dev)
                        nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, dev);
        }
        nlh = nftb_add(b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, "create chain '%s'", name);
        if (nlh)
                nftnl_chain_nlmsg_build_payload(nlh, c);
        nftnl_chain_free(c);
}

static uint32_t concat_type(const int *types, size_t n)
{
        uint32_t t = 0;
        for (size_t i = 0; i < n; i++)
                t = t << 6 | (uint32_t) types[i];
        return t;
}

static struct nftnl_set *set_new(uint16_t family, const char *name, uint32_t id)
{
        struct nftnl_set *s = nftnl_set_alloc();
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, family);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, KNET_SG_TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, name);
        if (id)
                nftnl_set_set_u32(s, NFTNL_SET_ID, id);
        return s;
}

static void set_put(struct nftb *b, struct nftnl_set *s)
{
        struct nlmsghdr *nlh = nftb_add(b, NFT_MSG_NEWSET, (uint16_t) nftnl_set_get_u32(s, NFTNL_SET_FAMILY),
                                        NLM_F_CREATE, "create set '%s'", nftnl_set_get_str(s, NFTNL_SET_NAME));
        if (nlh)
                nftnl_set_nlmsg_build_payload(nlh, s);
}

/* A flow-meter set: dynamic, timeout 30 s, a counter per element, no size (see flow-logs.md 3.2). */
static void flow_set_put(struct nftb *b, const char *name, const int *types, size_t n)
{
        struct nftnl_set *s = set_new(NFPROTO_INET, name, b->set_id++);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, concat_type(types, n));
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t) (4 * n));
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
        nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FLOW_TIMEOUT_MS);
        nftnl_set_add_expr(s, nftnl_expr_alloc("counter"));
        set_put(b, s);
        nftnl_set_free(s);
}

/* A concatenated interval set (the kernel picks pipapo): field_len are the real field sizes. */
static void interval_set_put(struct nftb *b, const char *name, const int *types, const uint8_t *field_len, size_t n)
{
        struct nftnl_set *s = set_new(NFPROTO_INET, name, b->set_id++);
        uint8_t fl[NFT_REG32_COUNT] = { 0 };
        memcpy(fl, field_len, n);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, concat_type(types, n));
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t) (4 * n));
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
        nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fl, (uint32_t) n);
        set_put(b, s);
        nftnl_set_free(s);
}

/* Elements of a set, in messages of ELEMS_PER_MSG; type NEWSETELEM, DELSETELEM (flush when n == 0) or DESTROYSETELEM. */
struct elem {
        uint8_t key[40], end[40];
        uint32_t len;
        bool has_end;
};

static void elems_put(struct nftb *b, uint16_t type, uint16_t family, const char *set, uint32_t set_id,
                      const struct elem *v, size_t n)
{
        size_t i = 0;
        do {
                struct nftnl_set *s = set_new(family, set, set_id);
                struct nlmsghdr *nlh;
                size_t chunk = n - i < ELEMS_PER_MSG ? n - i : ELEMS_PER_MSG;
                for (size_t j = 0; j < chunk; j++) {
                        struct nftnl_set_elem *e = nftnl_set_elem_alloc();
                        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, v[i + j].key, v[i + j].len);
                        if (v[i + j].has_end)
                                nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, v[i + j].end, v[i + j].len);
                        nftnl_set_elem_add(s, e);
                }
                nlh = nftb_add(b, type, family, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, "%s %zu elements of set '%s'",
                               type == NFT_MSG_NEWSETELEM ? "add" : n == 0 ? "flush" : "remove", chunk, set);
                if (nlh)
                        nftnl_set_elems_nlmsg_build_payload(nlh, s);
                nftnl_set_free(s);
                i += chunk;
        } while (i < n);
}

/* ---- the task table ---- */
static const int T_FLOW5[] = { DT_IPADDR, DT_IPADDR, DT_INET_PROTO, DT_INET_SERVICE, DT_INET_SERVICE };
static const int T_FLOW3[] = { DT_IPADDR, DT_IPADDR, DT_INET_PROTO };
static const int T_TFLAGS[] = { DT_IPADDR, DT_IPADDR, DT_INET_SERVICE, DT_INET_SERVICE, DT_TCP_FLAG };
static const int T_PORT[] = { DT_INET_PROTO, DT_IPADDR, DT_INET_SERVICE };
static const uint8_t L_PORT[] = { 1, 4, 2 };
static const int T_PROTO[] = { DT_INET_PROTO, DT_IPADDR };
static const uint8_t L_PROTO[] = { 1, 4 };
static const int T_ICMP[] = { DT_IPADDR, DT_INET_SERVICE };
static const uint8_t L_ICMP[] = { 4, 2 };

static const uint8_t L4_METERED[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };

/* An anonymous constant set { tcp, udp, sctp }; returns its id for the one rule that binds it. */
static uint32_t anon_l4_set(struct nftb *b)
{
        uint32_t id = b->set_id++;
        struct nftnl_set *s = set_new(NFPROTO_INET, "__set%d", id);
        struct elem v[ELEMENTSOF(L4_METERED)];
        memset(v, 0, sizeof v);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, DT_INET_PROTO);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 1);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
        set_put(b, s);
        nftnl_set_free(s);
        for (size_t i = 0; i < ELEMENTSOF(L4_METERED); i++) {
                v[i].key[0] = L4_METERED[i];
                v[i].len = 1;
        }
        elems_put(b, NFT_MSG_NEWSETELEM, NFPROTO_INET, "__set%d", id, v, ELEMENTSOF(v));
        return id;
}

/* "meta l4proto [!=] { tcp, udp, sctp } update @set { 5- or 3-tuple } <verdict>" */
static void meter_rule(struct nftb *b, const char *chain, const char *set, bool five, int verdict)
{
        uint32_t id = anon_l4_set(b);
        struct nftnl_rule *r = rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);
        x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        x_lookup(r, NFT_REG_1, "__set%d", id, !five);
        x_ipv4_only(r);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R32(0));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R32(1));
        x_meta(r, NFT_META_L4PROTO, R32(2));
        if (five) {
                x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, R32(3));
                x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(4));
        }
        x_dynset_update(r, set);
        x_verdict(r, verdict, NULL);
        rule_put(b, r);
}

static void unmetered_rule(struct nftb *b, const char *chain, bool drop)
{
        struct nftnl_rule *r = rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);
        x_objref_counter(r, "unmetered");
        if (drop)
                x_verdict(r, NF_DROP, NULL);
        rule_put(b, r);
}

static void task_chains(struct nftb *b, bool in)
{
        const char *d = in ? "in" : "out";
        char tally[16], allow[16], deny[16], task[16], acc[16], acc_np[16], rej[16], rej_np[16], sport[16], sproto[16], sicmp[16];
        uint32_t peer_off = in ? 12 : 16;   /* ip saddr on the way in, ip daddr on the way out */
        struct nftnl_rule *r;
        uint8_t u8;
        uint32_t u32;

        snprintf(tally, sizeof tally, "tally_%s", d);
        snprintf(allow, sizeof allow, "allow_%s", d);
        snprintf(deny, sizeof deny, "deny_%s", d);
        snprintf(task, sizeof task, "task_%s", d);
        snprintf(acc, sizeof acc, "acc_%s", d);
        snprintf(acc_np, sizeof acc_np, "acc_%s_np", d);
        snprintf(rej, sizeof rej, "rej_%s", d);
        snprintf(rej_np, sizeof rej_np, "rej_%s_np", d);
        snprintf(sport, sizeof sport, "sg_%s_port", d);
        snprintf(sproto, sizeof sproto, "sg_%s_proto", d);
        snprintf(sicmp, sizeof sicmp, "sg_%s_icmp", d);

        /* tally: update returns; the counter after it moves only when an update failed */
        meter_rule(b, tally, acc, true, NFT_RETURN);
        meter_rule(b, tally, acc_np, false, NFT_RETURN);
        unmetered_rule(b, tally, false);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, allow);
        x_verdict(r, NFT_JUMP, tally);
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, allow);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(b, r);
        meter_rule(b, deny, rej, true, NF_DROP);
        meter_rule(b, deny, rej_np, false, NF_DROP);
        unmetered_rule(b, deny, true);

        /* iif lo accept / oif lo accept: containers of a task talk over lo */
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        x_meta(r, in ? NFT_META_IIF : NFT_META_OIF, NFT_REG_1);
        u32 = 1;
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &u32, 4);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(b, r);
        /* meta nfproto ipv6 drop: until IPv6 sets exist */
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        x_meta(r, NFT_META_NFPROTO, NFT_REG_1);
        x_cmp8(r, NFT_CMP_EQ, NFPROTO_IPV6);
        x_verdict(r, NF_DROP, NULL);
        rule_put(b, r);
        /* tcp flags & (fin | syn | rst) != 0 update @tflags { saddr . daddr . sport . dport . flags } */
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        x_cmp8(r, NFT_CMP_EQ, IPPROTO_TCP);
        x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG_1);
        x_mask_nonzero(r, 0x07, 1);
        x_ipv4_only(r);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R32(0));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R32(1));
        x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, R32(2));
        x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(3));
        x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, R32(4));
        x_dynset_update(r, "tflags");
        rule_put(b, r);
        /* ct state established,related goto allow; ct state invalid goto deny */
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        x_ct_state(r);
        x_mask_nonzero(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), 4);
        x_verdict(r, NFT_GOTO, allow);
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        x_ct_state(r);
        x_mask_nonzero(r, NF_CT_STATE_INVALID_BIT, 4);
        x_verdict(r, NFT_GOTO, deny);
        rule_put(b, r);
        /* SG rules: three set lookups, whatever the number of rules, groups or members */
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);      /* meta l4proto . ip peer . th dport @sg_*_port */
        x_ipv4_only(r);
        x_meta(r, NFT_META_L4PROTO, R32(0));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, R32(1));
        x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R32(2));
        x_lookup(r, R32(0), sport, 0, false);
        x_verdict(r, NFT_GOTO, allow);
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);      /* meta l4proto . ip peer @sg_*_proto */
        x_ipv4_only(r);
        x_meta(r, NFT_META_L4PROTO, R32(0));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, R32(1));
        x_lookup(r, R32(0), sproto, 0, false);
        x_verdict(r, NFT_GOTO, allow);
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);      /* ip peer . icmp type,code @sg_*_icmp */
        x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        u8 = IPPROTO_ICMP;
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &u8, 1);
        x_ipv4_only(r);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, R32(0));
        x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, R32(1));
        x_lookup(r, R32(0), sicmp, 0, false);
        x_verdict(r, NFT_GOTO, allow);
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        x_verdict(r, NFT_GOTO, deny);
        rule_put(b, r);
}

/* Traffic forwarded through this namespace: a container instance's bridge-mode tasks behind its
 * published ports (netd/knet_bridge_nat.c DNATs them). As on EC2, the instance ENI's groups decide
 * what may reach a host port: new connections that arrive on eth0 and were DNATed are checked
 * against the ingress sets with the port they were sent to (ct original proto-dst), and metered
 * in the ENI's ingress meters. Anything else arriving on eth0 is dropped; what leaves from the
 * bridge (task egress and replies) passes. In a task namespace forwarding is off: nothing comes here.
 *   chain task_fwd { type filter hook forward priority 0; policy drop;
 *     iifname != "eth0" accept
 *     ct state established,related goto allow_in
 *     ct state invalid goto deny_in
 *     ct status dnat meta l4proto . ip saddr . ct original proto-dst @sg_in_port goto allow_in
 *     ct status dnat meta l4proto . ip saddr @sg_in_proto goto allow_in
 *     goto deny_in } */
static void forward_chain(struct nftb *b)
{
        static const char eth0[IFNAMSIZ] = "eth0";
        struct nftnl_rule *r;

        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
        x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_NEQ, eth0, IFNAMSIZ);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
        x_ct_state(r);
        x_mask_nonzero(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), 4);
        x_verdict(r, NFT_GOTO, "allow_in");
        rule_put(b, r);
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
        x_ct_state(r);
        x_mask_nonzero(r, NF_CT_STATE_INVALID_BIT, 4);
        x_verdict(r, NFT_GOTO, "deny_in");
        rule_put(b, r);
        for (int k = 0; k < 2; k++) {
                r = rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
                x_ipv4_only(r);
                x_ct(r, NFT_CT_STATUS, -1, NFT_REG_1);
                x_mask_nonzero(r, IPS_DST_NAT, 4);
                x_meta(r, NFT_META_L4PROTO, R32(0));
                x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R32(1));
                if (k == 0) {
                        x_ct(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, R32(2));
                        x_lookup(r, R32(0), "sg_in_port", 0, false);
                } else
                        x_lookup(r, R32(0), "sg_in_proto", 0, false);
                x_verdict(r, NFT_GOTO, "allow_in");
                rule_put(b, r);
        }
        r = rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
        x_verdict(r, NFT_GOTO, "deny_in");
        rule_put(b, r);
}

static void be32_at(uint8_t *p, uint32_t v)
{
        v = htonl(v);
        memcpy(p, &v, 4);
}

static void be16_at(uint8_t *p, uint16_t v)
{
        v = htons(v);
        memcpy(p, &v, 2);
}

/* Keys in register layout: every field in its own 4-byte slot, zero padded. */
static int boxes_to_elems(const struct sg_boxes *bx, int kind, uint8_t proto, struct elem **v, size_t *n, size_t *cap)
{
        for (size_t i = 0; i < bx->n; i++) {
                const struct sg_box *x = &bx->v[i];
                struct elem *e;
                if (*n == *cap) {
                        size_t ncap = *cap ? *cap * 2 : 64;
                        struct elem *nv = realloc(*v, ncap * sizeof *nv);
                        if (!nv)
                                return -ENOMEM;
                        *v = nv;
                        *cap = ncap;
                }
                e = &(*v)[(*n)++];
                memset(e, 0, sizeof *e);
                e->has_end = true;
                if (kind == 0) {            /* proto . addr . port */
                        e->len = 12;
                        e->key[0] = e->end[0] = proto;
                        be32_at(e->key + 4, x->xlo);
                        be32_at(e->end + 4, x->xhi);
                        be16_at(e->key + 8, (uint16_t) x->ylo);
                        be16_at(e->end + 8, (uint16_t) x->yhi);
                } else if (kind == 1) {     /* proto . addr */
                        e->len = 8;
                        e->key[0] = (uint8_t) x->ylo;
                        e->end[0] = (uint8_t) x->yhi;
                        be32_at(e->key + 4, x->xlo);
                        be32_at(e->end + 4, x->xhi);
                } else {                    /* addr . icmp type,code */
                        e->len = 8;
                        be32_at(e->key, x->xlo);
                        be32_at(e->end, x->xhi);
                        be16_at(e->key + 4, (uint16_t) x->ylo);
                        be16_at(e->end + 4, (uint16_t) x->yhi);
                }
        }
        return 0;
}

/* Flush (when flush) and fill the three SG sets of one direction. */
static int sg_sets_fill(struct nftb *b, const struct sg_dir_elems *el, bool in, bool flush)
{
        const char *d = in ? "in" : "out";
        char name[16];
        struct elem *v = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        for (int kind = 0; kind < 3 && r == 0; kind++) {
                static const char *const suffix[] = { "port", "proto", "icmp" };
                n = 0;
                if (kind == 0) {
                        r = boxes_to_elems(&el->tcp, 0, IPPROTO_TCP, &v, &n, &cap);
                        if (r == 0)
                                r = boxes_to_elems(&el->udp, 0, IPPROTO_UDP, &v, &n, &cap);
                } else
                        r = boxes_to_elems(kind == 1 ? &el->proto : &el->icmp, kind, 0, &v, &n, &cap);
                if (r < 0)
                        break;
                snprintf(name, sizeof name, "sg_%s_%s", d, suffix[kind]);
                if (flush)
                        elems_put(b, NFT_MSG_DELSETELEM, NFPROTO_INET, name, 0, NULL, 0);
                if (n > 0)
                        elems_put(b, NFT_MSG_NEWSETELEM, NFPROTO_INET, name, 0, v, n);
        }
        free(v);
        return r;
}

/* netdev egress on eth0: only the ENI's own MAC and IP leave, ARP only for its own IP. */
static void egress_chain(struct nftb *b, const uint8_t mac[6], uint32_t ip)
{
        static const uint8_t arp_hdr[6] = { 0x00, 0x01, 0x08, 0x00, 0x06, 0x04 };  /* ether, ipv4, 6, 4 */
        uint8_t sender[10];
        uint16_t et;
        uint32_t nip = htonl(ip);
        struct nftnl_rule *r;

        table_put(b, NFPROTO_NETDEV, false);
        chain_put(b, NFPROTO_NETDEV, "egress", NF_NETDEV_EGRESS, 0, "eth0");
        /* ether saddr MAC ether type ip ip saddr IP accept */
        r = rule_new(NFPROTO_NETDEV, KNET_SG_TABLE, "egress");
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, mac, 6);
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1);
        et = htons(0x0800);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &et, 2);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &nip, 4);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(b, r);
        /* ether saddr MAC ether type arp arp (ether, ip) saddr ether MAC saddr ip IP accept */
        r = rule_new(NFPROTO_NETDEV, KNET_SG_TABLE, "egress");
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, mac, 6);
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1);
        et = htons(0x0806);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &et, 2);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 6, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, arp_hdr, 6);
        memcpy(sender, mac, 6);
        memcpy(sender + 6, &nip, 4);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 10, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, sender, 10);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(b, r);
}

static int task_batch(struct nftb *b, const struct knet_sg_task *t)
{
        static const char *const dirs[] = { "in", "out" };
        int r;

        nftb_begin(b);
        /* replace, not patch: both tables go and come back in the same transaction */
        table_put(b, NFPROTO_INET, true);
        table_put(b, NFPROTO_NETDEV, true);
        table_put(b, NFPROTO_INET, false);
        {
                struct nftnl_obj *o = nftnl_obj_alloc();
                struct nlmsghdr *nlh;
                nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
                nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, KNET_SG_TABLE);
                nftnl_obj_set_str(o, NFTNL_OBJ_NAME, "unmetered");
                nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
                nlh = nftb_add(b, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE, "create counter 'unmetered'");
                if (nlh)
                        nftnl_obj_nlmsg_build_payload(nlh, o);
                nftnl_obj_free(o);
        }
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
        for (size_t i = 0; i < 2; i++) {
                char name[16];
                snprintf(name, sizeof name, "sg_%s_port", dirs[i]);
                interval_set_put(b, name, T_PORT, L_PORT, ELEMENTSOF(T_PORT));
                snprintf(name, sizeof name, "sg_%s_proto", dirs[i]);
                interval_set_put(b, name, T_PROTO, L_PROTO, ELEMENTSOF(T_PROTO));
                snprintf(name, sizeof name, "sg_%s_icmp", dirs[i]);
                interval_set_put(b, name, T_ICMP, L_ICMP, ELEMENTSOF(T_ICMP));
        }
        if ((r = sg_sets_fill(b, t->in, true, false)) < 0 || (r = sg_sets_fill(b, t->out, false, false)) < 0)
                return r;
        for (size_t i = 0; i < 2; i++) {
                char name[16];
                static const char *const kinds[] = { "tally", "allow", "deny" };
                for (size_t j = 0; j < ELEMENTSOF(kinds); j++) {
                        snprintf(name, sizeof name, "%s_%s", kinds[j], dirs[i]);
                        chain_put(b, NFPROTO_INET, name, -1, 0, NULL);
                }
                snprintf(name, sizeof name, "task_%s", dirs[i]);
                chain_put(b, NFPROTO_INET, name, i == 0 ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT, 0, NULL);
        }
        chain_put(b, NFPROTO_INET, "task_fwd", NF_INET_FORWARD, 0, NULL);
        task_chains(b, true);
        task_chains(b, false);
        forward_chain(b);
        egress_chain(b, t->mac, t->ip);
        return 0;
}

int knet_sg_task_build(struct knet *k, const struct knet_sg_task *t, struct err *err)
{
        struct nftb b;
        int r;

        nftb_init(&b);
        r = task_batch(&b, t);
        if (r >= 0)
                r = nftb_send(&b, k, t->netns, err);
        else
                r = err_set(err, -r, NULL, "build nftables batch for netns '%s': %s", t->netns, strerror(-r));
        nftb_fini(&b);
        return r;
}

int knet_sg_task_refill(struct knet *k, const struct knet_sg_task *t, struct err *err)
{
        struct nftb b;
        int r;

        nftb_init(&b);
        nftb_begin(&b);
        r = sg_sets_fill(&b, t->in, true, true);
        if (r >= 0)
                r = sg_sets_fill(&b, t->out, false, true);
        if (r >= 0)
                r = nftb_send(&b, k, t->netns, err);
        else
                r = err_set(err, -r, NULL, "build nftables batch for netns '%s': %s", t->netns, strerror(-r));
        nftb_fini(&b);
        return r;
}

int knet_sg_task_remove(struct knet *k, const char *netns, struct err *err)
{
        struct nftb b;
        int r;

        nftb_init(&b);
        nftb_begin(&b);
        table_put(&b, NFPROTO_INET, true);
        table_put(&b, NFPROTO_NETDEV, true);
        r = nftb_send(&b, k, netns, err);
        nftb_fini(&b);
        return r;
}

/* ---- reading back ---- */
struct dump_ctx {
        int count;
        bool tagged;
};

static int table_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct dump_ctx *c = ud;
        struct nftnl_table *t = nftnl_table_alloc();
        uint32_t len = 0;
        const void *tag;
        if (t && nftnl_table_nlmsg_parse(nlh, t) == 0) {
                c->count++;
                tag = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
                c->tagged = tag && len == sizeof LAYOUT_TAG && memcmp(tag, LAYOUT_TAG, len) == 0;
        }
        nftnl_table_free(t);
        return MNL_CB_OK;
}

static int count_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct dump_ctx *c = ud;
        c->count++;
        return MNL_CB_OK;
}

/* One GET (single object or dump) on s; cb sees each answer. -ENOENT when the object is missing. */
static int nft_get(struct mnl_socket *s, uint16_t type, uint16_t family, bool dump, const char *table,
                   mnl_cb_t cb, void *ud, struct err *err)
{
        char buf[MNL_SOCKET_BUFFER_SIZE * 4] __attribute__((aligned(8)));
        uint32_t seq = (uint32_t) time(NULL), portid = mnl_socket_get_portid(s);
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, family, dump ? NLM_F_DUMP : NLM_F_ACK, seq);
        ssize_t n;
        int r;

        if (type == NFT_MSG_GETTABLE) {
                struct nftnl_table *t = nftnl_table_alloc();
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
                nftnl_table_nlmsg_build_payload(nlh, t);
                nftnl_table_free(t);
        } else {
                struct nftnl_rule *rl = nftnl_rule_alloc();
                nftnl_rule_set_str(rl, NFTNL_RULE_TABLE, table);
                nftnl_rule_nlmsg_build_payload(nlh, rl);
                nftnl_rule_free(rl);
        }
        if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0)
                return err_set(err, errno, NULL, "nftables request: %s", strerror(errno));
        for (;;) {
                n = mnl_socket_recvfrom(s, buf, sizeof buf);
                if (n < 0)
                        return err_set(err, errno, NULL, "nftables answer: %s", strerror(errno));
                r = mnl_cb_run(buf, (size_t) n, seq, portid, cb, ud);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r < 0)
                        return -errno;
        }
}

int knet_sg_task_exists(struct knet *k, const char *netns, struct err *err)
{
        _cleanup_(mnl_socket_closep) struct mnl_socket *s = NULL;
        struct dump_ctx c = { 0 };
        int r;
        if ((r = nfsock_open(k, netns, &s, err)) < 0)
                return r;
        r = nft_get(s, NFT_MSG_GETTABLE, NFPROTO_INET, false, KNET_SG_TABLE, table_cb, &c, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return err_set(err, -r, NULL, "get table inet " KNET_SG_TABLE " in netns '%s': %s", netns, strerror(-r));
        return c.count > 0;
}

int knet_sg_task_check(struct knet *k, const struct knet_sg_task *t, struct err *err)
{
        _cleanup_(mnl_socket_closep) struct mnl_socket *s = NULL;
        struct dump_ctx c = { 0 }, rules = { 0 }, nd = { 0 }, ndrules = { 0 };
        struct nftb b;
        int want, r;

        nftb_init(&b);
        r = task_batch(&b, t);
        want = b.rules;
        nftb_fini(&b);
        if (r < 0)
                return err_set(err, -r, NULL, "netns '%s': %s", t->netns, strerror(-r));
        if ((r = nfsock_open(k, t->netns, &s, err)) < 0)
                return r;
        r = nft_get(s, NFT_MSG_GETTABLE, NFPROTO_INET, false, KNET_SG_TABLE, table_cb, &c, err);
        if (r == 0)
                r = nft_get(s, NFT_MSG_GETTABLE, NFPROTO_NETDEV, false, KNET_SG_TABLE, table_cb, &nd, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, NULL, "netns '%s' lacks its " KNET_SG_TABLE " tables", t->netns);
        if (r < 0)
                return err_set(err, -r, NULL, "get tables in netns '%s': %s", t->netns, strerror(-r));
        if (!c.tagged || !nd.tagged)
                return err_set(err, ESTALE, NULL, "netns '%s': table " KNET_SG_TABLE " was not made by this netd", t->netns);
        if ((r = nft_get(s, NFT_MSG_GETRULE, NFPROTO_INET, true, KNET_SG_TABLE, count_cb, &rules, err)) < 0 ||
            (r = nft_get(s, NFT_MSG_GETRULE, NFPROTO_NETDEV, true, KNET_SG_TABLE, count_cb, &ndrules, err)) < 0)
                return err_set(err, -r, NULL, "list rules in netns '%s': %s", t->netns, strerror(-r));
        if (rules.count + ndrules.count != want)
                return err_set(err, ESTALE, NULL, "netns '%s': " KNET_SG_TABLE " tables hold %d rules, not %d", t->netns,
                               rules.count + ndrules.count, want);
        return 0;
}

/* ---- the VPC's bridge table: source/destination check ---- */
static const int T_IPOK[] = { DT_IFNAME, DT_ETHERADDR, DT_IPADDR };
static const int T_ARPOK[] = { DT_IFNAME, DT_ETHERADDR, DT_ETHERADDR, DT_IPADDR };

static void guard_elems(const struct knet_guard_port *p, struct elem *ipok, struct elem *arpok)
{
        uint32_t nip = htonl(p->ip);
        memset(ipok, 0, sizeof *ipok);
        memset(arpok, 0, sizeof *arpok);
        /* ifname 16 . ether 6+2 . ip 4 */
        snprintf((char *) ipok->key, 16, "%s", p->port);
        memcpy(ipok->key + 16, p->mac, 6);
        memcpy(ipok->key + 24, &nip, 4);
        ipok->len = 28;
        /* ifname 16 . ether saddr 6+2 . arp sender MAC 6+2 . arp sender IP 4 */
        snprintf((char *) arpok->key, 16, "%s", p->port);
        memcpy(arpok->key + 16, p->mac, 6);
        memcpy(arpok->key + 24, p->mac, 6);
        memcpy(arpok->key + 32, &nip, 4);
        arpok->len = 36;
}

static void guard_set_put(struct nftb *b, const char *name, const int *types, size_t n, uint32_t len)
{
        struct nftnl_set *s = set_new(NFPROTO_BRIDGE, name, b->set_id++);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, concat_type(types, n));
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
        set_put(b, s);
        nftnl_set_free(s);
}

int knet_guard_build(struct knet *k, const char *vpc_netns, const struct knet_guard_port *p, size_t n, struct err *err)
{
        static const uint8_t arp_hdr[6] = { 0x00, 0x01, 0x08, 0x00, 0x06, 0x04 };
        _cleanup_free_ struct elem *ipok = calloc(n + 1, sizeof *ipok), *arpok = calloc(n + 1, sizeof *arpok);
        struct nftnl_rule *r;
        struct nftb b;
        uint16_t et;
        int ret;

        if (!ipok || !arpok)
                return err_set(err, ENOMEM, NULL, "bridge table for netns '%s': %s", vpc_netns, strerror(ENOMEM));
        for (size_t i = 0; i < n; i++)
                guard_elems(&p[i], &ipok[i], &arpok[i]);
        nftb_init(&b);
        nftb_begin(&b);
        table_put(&b, NFPROTO_BRIDGE, true);
        table_put(&b, NFPROTO_BRIDGE, false);
        guard_set_put(&b, "ip_ok", T_IPOK, ELEMENTSOF(T_IPOK), 28);
        guard_set_put(&b, "arp_ok", T_ARPOK, ELEMENTSOF(T_ARPOK), 36);
        if (n > 0) {
                elems_put(&b, NFT_MSG_NEWSETELEM, NFPROTO_BRIDGE, "ip_ok", 0, ipok, n);
                elems_put(&b, NFT_MSG_NEWSETELEM, NFPROTO_BRIDGE, "arp_ok", 0, arpok, n);
        }
        /* prerouting runs before the bridge learns the source MAC: a forged frame moves no FDB entry */
        chain_put(&b, NFPROTO_BRIDGE, "guard", NF_BR_PRE_ROUTING, -200, NULL);
        /* ether type ip meta iifname . ether saddr . ip saddr @ip_ok accept */
        r = rule_new(NFPROTO_BRIDGE, KNET_SG_TABLE, "guard");
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1);
        et = htons(0x0800);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &et, 2);
        x_meta(r, NFT_META_IIFNAME, R32(0));
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, R32(4));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R32(6));
        x_lookup(r, R32(0), "ip_ok", 0, false);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(&b, r);
        /* ether type arp (ether, ip) meta iifname . ether saddr . arp saddr ether . arp saddr ip @arp_ok accept */
        r = rule_new(NFPROTO_BRIDGE, KNET_SG_TABLE, "guard");
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1);
        et = htons(0x0806);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &et, 2);
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 6, NFT_REG_1);
        x_cmp(r, NFT_REG_1, NFT_CMP_EQ, arp_hdr, 6);
        x_meta(r, NFT_META_IIFNAME, R32(0));
        x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, R32(4));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 6, R32(6));
        x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, R32(8));
        x_lookup(r, R32(0), "arp_ok", 0, false);
        x_verdict(r, NF_ACCEPT, NULL);
        rule_put(&b, r);
        /* policy drop: anything else from an ENI port (other ethertypes, VLAN tags, forged sources) */
        ret = nftb_send(&b, k, vpc_netns, err);
        nftb_fini(&b);
        return ret;
}

int knet_guard_update(struct knet *k, const char *vpc_netns, const struct knet_guard_port *p, bool add, struct err *err)
{
        struct elem ipok, arpok;
        uint16_t type = add ? NFT_MSG_NEWSETELEM : EBX_NFT_MSG_DESTROYSETELEM;
        struct nftb b;
        int r;

        guard_elems(p, &ipok, &arpok);
        nftb_init(&b);
        nftb_begin(&b);
        elems_put(&b, type, NFPROTO_BRIDGE, "ip_ok", 0, &ipok, 1);
        elems_put(&b, type, NFPROTO_BRIDGE, "arp_ok", 0, &arpok, 1);
        r = nftb_send(&b, k, vpc_netns, err);
        nftb_fini(&b);
        return r;
}
