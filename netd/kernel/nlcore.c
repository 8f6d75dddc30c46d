/* nlcore.c: the one netlink core: sockets per netns, acked batches (optionally one nf_tables transaction), single requests, extack errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "netns.h"
#include "nlcore.h"

#define NLC_RECV_RT 32768        /* the kernel sizes rtnetlink dump chunks up to 32 KiB */
#define NLC_RECV_NF 65536
#define NLC_EXT_MAX 256
#define NLC_REPLY_TIMEOUT_S 10   /* the kernel always answers; this only guards the single-threaded daemon */
#define NLC_HDR_ROOM 64          /* a BEGIN/END frame: nlmsghdr + nfgenmsg, aligned */

struct nlc {
        struct mnl_socket *sock;
        int proto;
        uint32_t portid;
        uint32_t seq;
        int sndbuf;
        char where[96];
        size_t rlen;
        char rbuf[] __attribute__((aligned(8)));
};

static int sock_setup(struct nlc *s, struct err *err)
{
        const char *kind = s->proto == NETLINK_ROUTE ? "rtnetlink" : "netfilter";
        struct timeval tv = { .tv_sec = NLC_REPLY_TIMEOUT_S };
        socklen_t sl = sizeof s->sndbuf;
        int one = 1;

        s->sock = mnl_socket_open2(s->proto, SOCK_CLOEXEC);
        if (!s->sock)
                return err_set(err, errno, NULL, "open %s socket in %s: %s", kind, s->where, strerror(errno));
        /* extack: the kernel's own error text; cap: acks without the request echoed back */
        if (mnl_socket_setsockopt(s->sock, NETLINK_EXT_ACK, &one, sizeof one) < 0 ||
            mnl_socket_setsockopt(s->sock, NETLINK_CAP_ACK, &one, sizeof one) < 0)
                return err_set(err, errno, NULL, "set NETLINK_EXT_ACK on %s socket in %s: %s", kind, s->where, strerror(errno));
        if (setsockopt(mnl_socket_get_fd(s->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                return err_set(err, errno, NULL, "set SO_RCVTIMEO on %s socket in %s: %s", kind, s->where, strerror(errno));
        if (mnl_socket_bind(s->sock, 0, MNL_SOCKET_AUTOPID) < 0)
                return err_set(err, errno, NULL, "bind %s socket in %s: %s", kind, s->where, strerror(errno));
        if (getsockopt(mnl_socket_get_fd(s->sock), SOL_SOCKET, SO_SNDBUF, &s->sndbuf, &sl) < 0)
                s->sndbuf = 0;
        s->portid = mnl_socket_get_portid(s->sock);
        s->seq = (uint32_t) time(NULL);
        return 0;
}

int nlc_open(int proto, const char *where, struct nlc **ret, struct err *err)
{
        size_t rlen = proto == NETLINK_ROUTE ? NLC_RECV_RT : NLC_RECV_NF;
        /* its own mapping: the receive buffer's pages stay untouched until replies need them (an ack
         * uses the first), so a socket kept per task netns costs a page or two, not 64 KiB (calloc
         * from the heap zeroes, and neighbouring allocations touch, the whole buffer) */
        void *m = mmap(NULL, sizeof(struct nlc) + rlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _cleanup_nlc_ struct nlc *s = m == MAP_FAILED ? NULL : m;
        int r;

        if (!s)
                return err_set(err, ENOMEM, NULL, "netlink socket for %s: %s", where, strerror(ENOMEM));
        s->proto = proto;
        s->rlen = rlen;
        snprintf(s->where, sizeof s->where, "%s", where);
        if ((r = sock_setup(s, err)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

struct open_ctx {
        int proto;
        const char *where;
        struct nlc *s;
};

static int open_cb(void *ud, struct err *err)
{
        struct open_ctx *c = ud;
        return nlc_open(c->proto, c->where, &c->s, err);
}

int nlc_open_at(const char *path, int proto, const char *where, struct nlc **ret, int *ret_fd, struct err *err)
{
        struct open_ctx c = { proto, where, NULL };
        int r = netns_run(path, where, open_cb, &c, ret_fd, err);

        if (r < 0) {
                nlc_close(c.s);
                return r;
        }
        *ret = c.s;
        return 0;
}

struct nlc *nlc_close(struct nlc *s)
{
        if (s) {
                if (s->sock)
                        (void) mnl_socket_close(s->sock);
                (void) munmap(s, sizeof *s + s->rlen);
        }
        return NULL;
}

const char *nlc_where(const struct nlc *s)
{
        return s->where;
}

/* The error code and extack text of an NLMSG_ERROR (or of the int heading an
 * NLMSG_DONE). Returns the negative errno or 0. */
static int ack_parse(const struct nlmsghdr *nlh, char ext[NLC_EXT_MAX])
{
        size_t plen = mnl_nlmsg_get_payload_len(nlh), off;
        const struct nlattr *a;
        int e;

        ext[0] = '\0';
        if (nlh->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *m = mnl_nlmsg_get_payload(nlh);
                if (plen < sizeof *m)
                        return -EBADMSG;
                e = m->error;
                off = sizeof *m;
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && m->msg.nlmsg_len >= sizeof(struct nlmsghdr))
                        off += NLMSG_ALIGN(m->msg.nlmsg_len - sizeof(struct nlmsghdr));
        } else {
                if (plen < sizeof(int))
                        return 0;
                memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof e);
                off = NLMSG_ALIGN(sizeof(int));
        }
        if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off < plen) {
                mnl_attr_for_each(a, nlh, off) {
                        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
                                snprintf(ext, NLC_EXT_MAX, "%s", mnl_attr_get_str(a));
                                /* the kernel's text sometimes ends in a newline */
                                ext[strcspn(ext, "\n")] = '\0';
                        }
                }
        }
        return e > 0 ? -e : e;
}

static int fail(struct err *err, int r, const char *what, const char *where, const char *ext)
{
        if (ext && ext[0])
                return err_set(err, -r, NULL, "%s in %s: %s (kernel: %s)", what, where, strerror(-r), ext);
        return err_set(err, -r, NULL, "%s in %s: %s", what, where, strerror(-r));
}

/* ---- batches ---- */

static int grow(struct nlc_batch *b, size_t need)
{
        size_t cap = b->cap ? b->cap : 4096;
        char *nb;

        while (cap - b->len < need)
                cap *= 2;
        if (cap == b->cap)
                return 0;
        nb = realloc(b->buf, cap);
        if (!nb)
                return -ENOMEM;
        /* builders write headers and attributes in place; keep the padding clean */
        memset(nb + b->cap, 0, cap - b->cap);
        b->buf = nb;
        b->cap = cap;
        return 0;
}

/* NFNL_MSG_BATCH_BEGIN or _END for the batch's subsystem, as libnftnl's nftnl_batch_begin/end. */
static void put_frame(struct nlc_batch *b, uint16_t type, uint32_t seq)
{
        struct nlmsghdr *nlh;
        struct nfgenmsg *nfg;

        if (grow(b, NLC_HDR_ROOM) < 0) {
                nlc_batch_fail(b, -ENOMEM, "nftables batch", strerror(ENOMEM));
                return;
        }
        nlh = mnl_nlmsg_put_header(b->buf + b->len);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = seq;
        nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
        nfg->nfgen_family = AF_UNSPEC;
        nfg->version = NFNETLINK_V0;
        nfg->res_id = htons(b->subsys);
        b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void nlc_batch_init(struct nlc_batch *b, struct nlc *s, uint16_t subsys)
{
        memset(b, 0, sizeof *b);
        b->s = s;
        b->seqp = s ? &s->seq : &b->seq_own;
        b->subsys = subsys;
        if (subsys)
                put_frame(b, NFNL_MSG_BATCH_BEGIN, ++*b->seqp);
        b->seq0 = *b->seqp + 1;
}

void nlc_batch_fini(struct nlc_batch *b)
{
        free(b->buf);
        free(b->msg);
        b->buf = NULL;
        b->msg = NULL;
        b->n = b->nalloc = 0;
        b->len = b->cap = 0;
}

static void close_msg(struct nlc_batch *b)
{
        if (b->building) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) (b->buf + b->cur);
                b->len = b->cur + NLMSG_ALIGN(nlh->nlmsg_len);
                b->building = false;
        }
}

void nlc_batch_fail(struct nlc_batch *b, int r, const char *what, const char *cause)
{
        if (b->build_err)
                return;
        b->build_err = r < 0 ? r : -EINVAL;
        snprintf(b->build_what, sizeof b->build_what, "build message '%s': %s", what, cause);
}

static struct nlc_msg *msg_next(struct nlc_batch *b)
{
        struct nlc_msg *m;

        if (b->n == b->nalloc) {
                unsigned na = b->nalloc ? b->nalloc * 2 : 16;
                m = realloc(b->msg, na * sizeof *m);
                if (!m)
                        return NULL;
                b->msg = m;
                b->nalloc = na;
        }
        m = &b->msg[b->n++];
        memset(m->ok, 0, sizeof m->ok);
        m->ret = 1;
        return m;
}

static struct nlmsghdr *add_v(struct nlc_batch *b, uint16_t type, uint16_t flags, size_t room, const char *fmt, va_list ap)
        __attribute__((format(printf, 5, 0)));

static struct nlmsghdr *add_v(struct nlc_batch *b, uint16_t type, uint16_t flags, size_t room, const char *fmt, va_list ap)
{
        struct nlmsghdr *nlh;
        struct nlc_msg *m;
        char what[NLC_WHAT_MAX];

        vsnprintf(what, sizeof what, fmt, ap);
        close_msg(b);
        if (b->build_err)
                return NULL;
        /* the END frame needs room too */
        if (grow(b, NLMSG_ALIGN(room) + 2 * NLC_HDR_ROOM) < 0 || !(m = msg_next(b))) {
                nlc_batch_fail(b, -ENOMEM, what, strerror(ENOMEM));
                return NULL;
        }
        memcpy(m->what, what, sizeof what);
        b->cur = b->len;
        nlh = mnl_nlmsg_put_header(b->buf + b->cur);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = ++*b->seqp;
        b->building = true;
        return nlh;
}

struct nlmsghdr *nlc_batch_add(struct nlc_batch *b, uint16_t type, uint16_t flags, size_t room, const char *fmt, ...)
{
        struct nlmsghdr *nlh;
        va_list ap;

        va_start(ap, fmt);
        nlh = add_v(b, type, flags, room, fmt, ap);
        va_end(ap);
        return nlh;
}

void nlc_batch_copy(struct nlc_batch *b, const struct nlmsghdr *src, uint16_t flags, const char *what)
{
        size_t plen = src->nlmsg_len - NLMSG_HDRLEN;
        struct nlmsghdr *nlh = nlc_batch_add(b, src->nlmsg_type, flags, plen, "%s", what);

        if (!nlh)
                return;
        memcpy(mnl_nlmsg_get_payload(nlh), (const char *) src + NLMSG_HDRLEN, plen);
        nlh->nlmsg_len = src->nlmsg_len;
}

void nlc_batch_tolerate(struct nlc_batch *b, int errnum)
{
        struct nlc_msg *m;

        if (b->n == 0)
                return;
        m = &b->msg[b->n - 1];
        for (size_t i = 0; i < ELEMENTSOF(m->ok); i++)
                if (m->ok[i] == 0) {
                        m->ok[i] = errnum;
                        return;
                }
}

unsigned nlc_batch_count(const struct nlc_batch *b)
{
        return b->n;
}

int nlc_batch_ret(const struct nlc_batch *b, unsigned i)
{
        return i < b->n ? b->msg[i].ret : -EINVAL;
}

static bool tolerated(const struct nlc_msg *m, int r)
{
        for (size_t i = 0; i < ELEMENTSOF(m->ok); i++)
                if (m->ok[i] && -m->ok[i] == r)
                        return true;
        return false;
}

static int batch_write(struct nlc_batch *b, struct err *err)
{
        struct nlc *s = b->s;

        if (!s)
                return err_set(err, EINVAL, NULL, "netlink batch without a socket");
        if (b->subsys)
                put_frame(b, NFNL_MSG_BATCH_END, ++*b->seqp);
        if (b->build_err)
                return err_set(err, -b->build_err, NULL, "%s in %s", b->build_what, s->where);
        if ((int) b->len + 4096 > s->sndbuf) {
                /* a large rebuild: the batch goes in one send, so the buffer must hold it (CAP_NET_ADMIN) */
                int want = (int) b->len + 65536;
                if (setsockopt(mnl_socket_get_fd(s->sock), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) == 0)
                        s->sndbuf = want;
        }
        if (mnl_socket_sendto(s->sock, b->buf, b->len) < 0) {
                int e = errno;
                for (unsigned i = 0; i < b->n; i++)
                        b->msg[i].ret = -e;
                return fail(err, -e, b->msg[0].what, s->where, NULL);
        }
        return 0;
}

struct batch_read {
        unsigned pending, first;
        int frame_err;           /* a BEGIN/END frame failed: nothing was applied */
        char ext[NLC_EXT_MAX], first_ext[NLC_EXT_MAX];
};

static void batch_ack(struct nlc_batch *b, const struct nlmsghdr *nlh, struct batch_read *rd)
{
        uint32_t i = nlh->nlmsg_seq - b->seq0;
        int r;

        if (nlh->nlmsg_pid != b->s->portid || nlh->nlmsg_type != NLMSG_ERROR)
                return;          /* not ours, or not an ack (NLM_F_ECHO copies) */
        r = ack_parse(nlh, rd->ext);
        if (i >= b->n) {
                if (b->subsys && r < 0 && !rd->frame_err) {
                        rd->frame_err = r;
                        memcpy(rd->first_ext, rd->ext, sizeof rd->first_ext);
                }
                return;
        }
        if (b->msg[i].ret != 1)
                return;
        if (r < 0 && tolerated(&b->msg[i], r))
                r = 0;
        b->msg[i].ret = r;
        rd->pending--;
        if (r < 0 && i < rd->first) {
                rd->first = i;
                memcpy(rd->first_ext, rd->ext, sizeof rd->first_ext);
        }
}

int nlc_batch_send(struct nlc_batch *b, struct err *err)
{
        struct nlc *s = b->s;
        struct batch_read rd = { .pending = b->n, .first = b->n };
        int r;

        close_msg(b);
        if (b->n == 0 && !b->build_err)
                return 0;
        if ((r = batch_write(b, err)) < 0)
                return r;
        /* The kernel handles the whole send before it returns, so every answer is queued by now; after
         * a failure nf_tables may stop answering the rest, so read without waiting from then on. */
        while (rd.pending > 0) {
                bool failed = rd.first < b->n || rd.frame_err;
                ssize_t len = recv(mnl_socket_get_fd(s->sock), s->rbuf, s->rlen, failed ? MSG_DONTWAIT : 0);
                const struct nlmsghdr *nlh;

                if (len < 0 && errno == EINTR)
                        continue;
                if (len < 0 && failed && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (len < 0) {
                        int e = errno == EAGAIN ? ETIMEDOUT : errno;
                        unsigned i;
                        for (i = 0; i < b->n; i++)
                                if (b->msg[i].ret == 1)
                                        b->msg[i].ret = -e;
                        for (i = 0; i < b->n && b->msg[i].ret == 0; i++)
                                ;
                        return fail(err, -e, b->msg[i < b->n ? i : 0].what, s->where, "no answer read");
                }
                for (nlh = (const struct nlmsghdr *) s->rbuf; mnl_nlmsg_ok(nlh, (int) len); nlh = mnl_nlmsg_next(nlh, (int *) &len))
                        batch_ack(b, nlh, &rd);
        }
        if (rd.first < b->n)
                return fail(err, b->msg[rd.first].ret, b->msg[rd.first].what, s->where, rd.first_ext);
        if (rd.frame_err)
                return fail(err, rd.frame_err, "nftables batch", s->where, rd.first_ext);
        return 0;
}

int nlc_batch_run(struct nlc_batch *b, struct err *err)
{
        int r = nlc_batch_send(b, err);
        nlc_batch_fini(b);
        return r;
}

/* ---- single requests ---- */

int nlc_call(struct nlc *s, struct nlmsghdr *nlh, nlc_cb_t cb, void *ud, const char *what, struct err *err)
{
        char ext[NLC_EXT_MAX];
        uint32_t seq = ++s->seq;
        bool intr = false;
        int cb_ret = 0;

        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        if (mnl_socket_sendto(s->sock, nlh, nlh->nlmsg_len) < 0)
                return fail(err, -errno, what, s->where, NULL);
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(s->sock, s->rbuf, s->rlen);
                const struct nlmsghdr *m;
                if (len < 0)
                        return fail(err, errno == EAGAIN ? -ETIMEDOUT : -errno, what, s->where, "no answer read");
                for (m = (const struct nlmsghdr *) s->rbuf; mnl_nlmsg_ok(m, (int) len); m = mnl_nlmsg_next(m, (int *) &len)) {
                        int r;
                        if (m->nlmsg_pid != s->portid || m->nlmsg_seq != seq)
                                continue;
                        if (m->nlmsg_flags & NLM_F_DUMP_INTR)
                                intr = true;
                        if (m->nlmsg_type == NLMSG_ERROR || m->nlmsg_type == NLMSG_DONE) {
                                /* a GET ends with its ack, a dump with DONE */
                                r = ack_parse(m, ext);
                                if (r < 0)
                                        return fail(err, r, what, s->where, ext);
                                if (cb_ret < 0)
                                        return cb_ret;
                                if (intr)
                                        return err_set(err, EINTR, NULL, "%s in %s: the dump was interrupted by a change",
                                                       what, s->where);
                                return 0;
                        }
                        if (m->nlmsg_type < NLMSG_MIN_TYPE || !cb || cb_ret < 0)
                                continue;
                        /* keep reading after a callback error so the socket is drained */
                        cb_ret = cb(m, ud);
                }
        }
}
