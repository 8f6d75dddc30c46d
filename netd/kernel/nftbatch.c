/* nftbatch.c: nf_tables batches over a netfilter netlink socket: one sendmsg, every message acked, errors with the kernel's text. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "nftbatch.h"

#define NF_RECV_BUF 65536
#define NF_EXT_MAX 256
#define NF_REPLY_TIMEOUT_S 10
#define NF_HDR_ROOM 64          /* nlmsghdr + nfgenmsg + alignment */

struct nfsock {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        int sndbuf;
        char where[96];
        char rbuf[NF_RECV_BUF] __attribute__((aligned(8)));
};

int nfsock_open(const char *where, struct nfsock **ret, struct err *err)
{
        _cleanup_nfsock_ struct nfsock *s = NULL;
        struct timeval tv = { .tv_sec = NF_REPLY_TIMEOUT_S };
        socklen_t sl = sizeof(int);
        int one = 1;

        s = calloc(1, sizeof *s);
        if (!s)
                return err_set(err, ENOMEM, NULL, "netfilter socket for %s: %s", where, strerror(ENOMEM));
        snprintf(s->where, sizeof s->where, "%s", where);
        s->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!s->sock)
                return err_set(err, errno, NULL, "open netfilter socket in %s: %s", where, strerror(errno));
        if (mnl_socket_setsockopt(s->sock, NETLINK_EXT_ACK, &one, sizeof one) < 0 ||
            mnl_socket_setsockopt(s->sock, NETLINK_CAP_ACK, &one, sizeof one) < 0)
                return err_set(err, errno, NULL, "set NETLINK_EXT_ACK on netfilter socket in %s: %s", where, strerror(errno));
        if (setsockopt(mnl_socket_get_fd(s->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                return err_set(err, errno, NULL, "set SO_RCVTIMEO on netfilter socket in %s: %s", where, strerror(errno));
        if (mnl_socket_bind(s->sock, 0, MNL_SOCKET_AUTOPID) < 0)
                return err_set(err, errno, NULL, "bind netfilter socket in %s: %s", where, strerror(errno));
        if (getsockopt(mnl_socket_get_fd(s->sock), SOL_SOCKET, SO_SNDBUF, &s->sndbuf, &sl) < 0)
                s->sndbuf = 0;
        s->portid = mnl_socket_get_portid(s->sock);
        s->seq = (uint32_t) time(NULL);
        *ret = TAKE_PTR(s);
        return 0;
}

struct nfsock *nfsock_close(struct nfsock *s)
{
        if (s) {
                if (s->sock)
                        (void) mnl_socket_close(s->sock);
                free(s);
        }
        return NULL;
}

uint32_t nfsock_seq_next(struct nfsock *s)
{
        return ++s->seq;
}

static int ack_parse(const struct nlmsghdr *nlh, char ext[NF_EXT_MAX])
{
        size_t plen = mnl_nlmsg_get_payload_len(nlh), off;
        const struct nlmsgerr *m = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a;

        ext[0] = '\0';
        if (nlh->nlmsg_type != NLMSG_ERROR)
                return 0;
        if (plen < sizeof *m)
                return -EBADMSG;
        off = sizeof *m;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && m->msg.nlmsg_len >= sizeof(struct nlmsghdr))
                off += NLMSG_ALIGN(m->msg.nlmsg_len - sizeof(struct nlmsghdr));
        if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off < plen)
                mnl_attr_for_each(a, nlh, off) {
                        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
                                snprintf(ext, NF_EXT_MAX, "%s", mnl_attr_get_str(a));
                                ext[strcspn(ext, "\n")] = '\0';
                        }
                }
        return m->error > 0 ? -m->error : m->error;
}

static int fail(struct err *err, int r, const char *what, const char *where, const char *ext)
{
        if (ext && ext[0])
                return err_set(err, -r, NULL, "%s in %s: %s (kernel: %s)", what, where, strerror(-r), ext);
        return err_set(err, -r, NULL, "%s in %s: %s", what, where, strerror(-r));
}

int nfsock_call(struct nfsock *s, struct nlmsghdr *nlh, int (*cb)(const struct nlmsghdr *nlh, void *ud), void *ud,
                const char *what, struct err *err)
{
        char ext[NF_EXT_MAX];
        int cb_ret = 0;
        uint32_t seq;

        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        seq = nlh->nlmsg_seq;
        if (mnl_socket_sendto(s->sock, nlh, nlh->nlmsg_len) < 0)
                return fail(err, -errno, what, s->where, NULL);
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(s->sock, s->rbuf, sizeof s->rbuf);
                const struct nlmsghdr *m;
                if (len < 0)
                        return fail(err, errno == EAGAIN ? -ETIMEDOUT : -errno, what, s->where, "no answer read");
                for (m = (const struct nlmsghdr *) s->rbuf; mnl_nlmsg_ok(m, (int) len); m = mnl_nlmsg_next(m, (int *) &len)) {
                        int r;
                        if (m->nlmsg_pid != s->portid || m->nlmsg_seq != seq)
                                continue;
                        if (m->nlmsg_type == NLMSG_ERROR || m->nlmsg_type == NLMSG_DONE) {
                                /* a GET ends with its ack, a dump with DONE */
                                r = m->nlmsg_type == NLMSG_ERROR ? ack_parse(m, ext) : 0;
                                if (r < 0)
                                        return fail(err, r, what, s->where, ext);
                                return cb_ret;
                        }
                        if (m->nlmsg_type < NLMSG_MIN_TYPE || !cb || cb_ret < 0)
                                continue;
                        cb_ret = cb(m, ud);
                }
        }
}

/* ---- batches ---- */

static int grow(struct nftb *b, size_t need)
{
        size_t cap = b->cap ? b->cap : 16384;
        char *nb;
        while (cap - b->len < need)
                cap *= 2;
        if (cap == b->cap)
                return 0;
        nb = realloc(b->buf, cap);
        if (!nb)
                return -ENOMEM;
        b->buf = nb;
        b->cap = cap;
        return 0;
}

static void close_msg(struct nftb *b)
{
        if (b->building) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) (b->buf + b->cur);
                b->len = b->cur + NLMSG_ALIGN(nlh->nlmsg_len);
                b->building = false;
        }
}

int nftb_init(struct nftb *b, struct nfsock *s, struct err *err)
{
        memset(b, 0, sizeof *b);
        b->s = s;
        if (grow(b, NF_HDR_ROOM) < 0)
                return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
        nftnl_batch_begin(b->buf, nfsock_seq_next(s));
        b->len = NLMSG_ALIGN(((struct nlmsghdr *) b->buf)->nlmsg_len);
        b->seq0 = s->seq + 1;
        return 0;
}

void nftb_fini(struct nftb *b)
{
        free(b->buf);
        free(b->msg);
        b->buf = NULL;
        b->msg = NULL;
        b->n = b->nalloc = 0;
        b->len = b->cap = 0;
}

unsigned nftb_count(const struct nftb *b)
{
        return b->n;
}

struct nlmsghdr *nftb_add(struct nftb *b, uint16_t type, uint16_t family, uint16_t flags, size_t room, const char *fmt, ...)
{
        struct nlmsghdr *nlh;
        va_list ap;

        close_msg(b);
        if (b->n == b->nalloc) {
                unsigned na = b->nalloc ? b->nalloc * 2 : 8;
                struct nftb_msg *m = realloc(b->msg, na * sizeof *m);
                if (!m)
                        return NULL;
                b->msg = m;
                b->nalloc = na;
        }
        if (grow(b, room + NF_HDR_ROOM * 2) < 0)
                return NULL;
        b->msg[b->n].ret = 1;
        va_start(ap, fmt);
        vsnprintf(b->msg[b->n].what, NFTB_WHAT_MAX, fmt, ap);
        va_end(ap);
        b->n++;
        b->cur = b->len;
        nlh = nftnl_nlmsg_build_hdr(b->buf + b->cur, type, family, NLM_F_ACK | flags, nfsock_seq_next(b->s));
        b->building = true;
        return nlh;
}

int nftb_send(struct nftb *b, struct err *err)
{
        struct nfsock *s = b->s;
        char ext[NF_EXT_MAX], first_ext[NF_EXT_MAX] = "";
        unsigned pending, first;

        close_msg(b);
        if (b->n == 0)
                return 0;
        if (grow(b, NF_HDR_ROOM) < 0)
                return err_set(err, ENOMEM, NULL, "nftables batch: %s", strerror(ENOMEM));
        nftnl_batch_end(b->buf + b->len, s->seq + 1);
        b->len += NLMSG_ALIGN(((struct nlmsghdr *) (b->buf + b->len))->nlmsg_len);
        if ((int) b->len + 4096 > s->sndbuf) {
                /* a large rebuild: the batch goes in one sendmsg, so the buffer must hold it (CAP_NET_ADMIN) */
                int want = (int) b->len + 65536;
                if (setsockopt(mnl_socket_get_fd(s->sock), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) == 0)
                        s->sndbuf = want;
        }
        if (mnl_socket_sendto(s->sock, b->buf, b->len) < 0)
                return fail(err, -errno, b->msg[0].what, s->where, NULL);
        first = b->n;
        for (pending = b->n; pending > 0;) {
                ssize_t len = mnl_socket_recvfrom(s->sock, s->rbuf, sizeof s->rbuf);
                const struct nlmsghdr *nlh;
                if (len < 0) {
                        int e = errno == EAGAIN ? ETIMEDOUT : errno;
                        return fail(err, -e, first < b->n ? b->msg[first].what : b->msg[0].what, s->where, "no answer read");
                }
                for (nlh = (const struct nlmsghdr *) s->rbuf; mnl_nlmsg_ok(nlh, (int) len); nlh = mnl_nlmsg_next(nlh, (int *) &len)) {
                        uint32_t i = nlh->nlmsg_seq - b->seq0;
                        int r;
                        if (nlh->nlmsg_pid != s->portid || nlh->nlmsg_type != NLMSG_ERROR)
                                continue;
                        r = ack_parse(nlh, ext);
                        if (i >= b->n) {
                                /* the BEGIN or END message itself failed: nothing was applied */
                                if (r < 0)
                                        return fail(err, r, "nftables batch", s->where, ext);
                                continue;
                        }
                        if (b->msg[i].ret != 1)
                                continue;
                        b->msg[i].ret = r;
                        pending--;
                        if (r < 0 && i < first) {
                                first = i;
                                memcpy(first_ext, ext, sizeof first_ext);
                        }
                }
        }
        if (first < b->n)
                return fail(err, b->msg[first].ret, b->msg[first].what, s->where, first_ext);
        return 0;
}
