/* nl.c: rtnetlink over libmnl: sockets, acked batches, single requests and dumps, link/address/route messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "nl.h"

#define NL_RECV_BUF 32768        /* the kernel sizes dump chunks up to 32 KiB */
#define NL_EXT_MAX 256
#define NL_DUMP_TRIES 5          /* as the CNI plugins retry NLM_F_DUMP_INTR */
#define NL_REPLY_TIMEOUT_S 10    /* the kernel always answers; this only guards the single-threaded daemon */

struct nl {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        char where[96];
        char rbuf[NL_RECV_BUF] __attribute__((aligned(8)));
};

int nl_open(const char *where, struct nl **ret, struct err *err)
{
        _cleanup_nl_ struct nl *n = NULL;
        struct timeval tv = { .tv_sec = NL_REPLY_TIMEOUT_S };
        int one = 1;

        n = calloc(1, sizeof *n);
        if (!n)
                return err_set(err, ENOMEM, NULL, "netlink socket for %s: %s", where, strerror(ENOMEM));
        snprintf(n->where, sizeof n->where, "%s", where);
        n->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!n->sock)
                return err_set(err, errno, NULL, "open rtnetlink socket in %s: %s", where, strerror(errno));
        /* extack: the kernel's own error text; cap: acks without the request echoed back */
        if (mnl_socket_setsockopt(n->sock, NETLINK_EXT_ACK, &one, sizeof one) < 0 ||
            mnl_socket_setsockopt(n->sock, NETLINK_CAP_ACK, &one, sizeof one) < 0)
                return err_set(err, errno, NULL, "set NETLINK_EXT_ACK on rtnetlink socket in %s: %s", where, strerror(errno));
        if (setsockopt(mnl_socket_get_fd(n->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                return err_set(err, errno, NULL, "set SO_RCVTIMEO on rtnetlink socket in %s: %s", where, strerror(errno));
        if (mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0)
                return err_set(err, errno, NULL, "bind rtnetlink socket in %s: %s", where, strerror(errno));
        n->portid = mnl_socket_get_portid(n->sock);
        n->seq = (uint32_t) time(NULL);
        *ret = TAKE_PTR(n);
        return 0;
}

struct nl *nl_close(struct nl *n)
{
        if (n) {
                if (n->sock)
                        (void) mnl_socket_close(n->sock);
                free(n);
        }
        return NULL;
}

const char *nl_where(const struct nl *n)
{
        return n->where;
}

/* The error code and extack text of an NLMSG_ERROR (or of the int heading an
 * NLMSG_DONE). Returns the negative errno or 0. */
static int ack_parse(const struct nlmsghdr *nlh, char ext[NL_EXT_MAX])
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
                                snprintf(ext, NL_EXT_MAX, "%s", mnl_attr_get_str(a));
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

void nl_batch_init(struct nl_batch *b, struct nl *n)
{
        b->nl = n;
        b->n = 0;
        b->building = false;
        b->b = mnl_nlmsg_batch_start(b->buf, NL_BATCH_LIMIT);
}

void nl_batch_fini(struct nl_batch *b)
{
        if (b->b)
                mnl_nlmsg_batch_stop(b->b);
        b->b = NULL;
}

static void batch_close_msg(struct nl_batch *b)
{
        if (b->building) {
                /* false only when the batch passed NL_BATCH_LIMIT: a programming error, the buffer has room for it */
                bool room = mnl_nlmsg_batch_next(b->b);
                if (!room)
                        abort();
                b->building = false;
        }
}

struct nlmsghdr *nl_batch_add(struct nl_batch *b, uint16_t type, uint16_t flags, const char *fmt, ...)
{
        struct nlmsghdr *nlh;
        struct nl_batch_msg *m;
        va_list ap;

        batch_close_msg(b);
        if (b->n >= NL_BATCH_MAX)
                abort();         /* callers build a known, small number of messages */
        m = &b->msg[b->n++];
        memset(m, 0, sizeof *m);
        m->ret = 1;
        va_start(ap, fmt);
        vsnprintf(m->what, sizeof m->what, fmt, ap);
        va_end(ap);
        nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b->b));
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = ++b->nl->seq;
        b->building = true;
        return nlh;
}

void nl_batch_tolerate(struct nl_batch *b, int errnum)
{
        struct nl_batch_msg *m = &b->msg[b->n - 1];
        for (size_t i = 0; i < ELEMENTSOF(m->ok); i++)
                if (m->ok[i] == 0) {
                        m->ok[i] = errnum;
                        return;
                }
}

int nl_batch_ret(const struct nl_batch *b, unsigned i)
{
        return i < b->n ? b->msg[i].ret : -EINVAL;
}

static bool tolerated(const struct nl_batch_msg *m, int r)
{
        for (size_t i = 0; i < ELEMENTSOF(m->ok); i++)
                if (m->ok[i] && -m->ok[i] == r)
                        return true;
        return false;
}

int nl_batch_send(struct nl_batch *b, struct err *err)
{
        struct nl *n = b->nl;
        char ext[NL_EXT_MAX], first_ext[NL_EXT_MAX] = "";
        unsigned pending, first = b->n;
        uint32_t seq0;

        batch_close_msg(b);
        if (b->n == 0)
                return 0;
        seq0 = n->seq - b->n + 1;
        if (mnl_socket_sendto(n->sock, mnl_nlmsg_batch_head(b->b), mnl_nlmsg_batch_size(b->b)) < 0) {
                int e = errno;
                for (unsigned i = 0; i < b->n; i++)
                        b->msg[i].ret = -e;
                return fail(err, -e, b->msg[0].what, n->where, NULL);
        }
        for (pending = b->n; pending > 0;) {
                ssize_t len = mnl_socket_recvfrom(n->sock, n->rbuf, sizeof n->rbuf);
                const struct nlmsghdr *nlh;
                if (len < 0) {
                        int e = errno == EAGAIN ? ETIMEDOUT : errno;
                        unsigned i;
                        for (i = 0; i < b->n; i++)
                                if (b->msg[i].ret == 1)
                                        b->msg[i].ret = -e;
                        for (i = 0; i < b->n && b->msg[i].ret == 0; i++)
                                ;
                        return fail(err, -e, b->msg[i < b->n ? i : 0].what, n->where, "no answer read");
                }
                for (nlh = (const struct nlmsghdr *) n->rbuf; mnl_nlmsg_ok(nlh, (int) len);
                     nlh = mnl_nlmsg_next(nlh, (int *) &len)) {
                        uint32_t i = nlh->nlmsg_seq - seq0;
                        int r;
                        if (nlh->nlmsg_pid != n->portid || i >= b->n || nlh->nlmsg_type != NLMSG_ERROR ||
                            b->msg[i].ret != 1)
                                continue;       /* not ours, or not an ack (NLM_F_ECHO copies) */
                        r = ack_parse(nlh, ext);
                        if (r < 0 && tolerated(&b->msg[i], r))
                                r = 0;
                        b->msg[i].ret = r;
                        pending--;
                        if (r < 0 && i < first) {
                                first = i;
                                memcpy(first_ext, ext, sizeof first_ext);
                        }
                }
        }
        if (first < b->n)
                return fail(err, b->msg[first].ret, b->msg[first].what, n->where, first_ext);
        return 0;
}

/* ---- single requests ---- */

int nl_call(struct nl *n, struct nlmsghdr *nlh, nl_cb_t cb, void *ud, const char *what, struct err *err)
{
        char ext[NL_EXT_MAX];
        uint32_t seq = ++n->seq;
        bool intr = false;
        int cb_ret = 0;

        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
                return fail(err, -errno, what, n->where, NULL);
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(n->sock, n->rbuf, sizeof n->rbuf);
                const struct nlmsghdr *m;
                if (len < 0)
                        return fail(err, errno == EAGAIN ? -ETIMEDOUT : -errno, what, n->where, "no answer read");
                for (m = (const struct nlmsghdr *) n->rbuf; mnl_nlmsg_ok(m, (int) len); m = mnl_nlmsg_next(m, (int *) &len)) {
                        int r;
                        if (m->nlmsg_pid != n->portid || m->nlmsg_seq != seq)
                                continue;
                        if (m->nlmsg_flags & NLM_F_DUMP_INTR)
                                intr = true;
                        if (m->nlmsg_type == NLMSG_ERROR || m->nlmsg_type == NLMSG_DONE) {
                                r = ack_parse(m, ext);
                                if (r < 0)
                                        return fail(err, r, what, n->where, ext);
                                if (cb_ret < 0)
                                        return cb_ret;
                                if (intr)
                                        return err_set(err, EINTR, NULL, "%s in %s: the dump was interrupted by a change",
                                                       what, n->where);
                                return 0;
                        }
                        if (m->nlmsg_type == NLMSG_NOOP || m->nlmsg_type == NLMSG_OVERRUN || !cb || cb_ret < 0)
                                continue;
                        /* keep reading after a callback error so the socket is drained */
                        cb_ret = cb(m, ud);
                }
        }
}

/* ---- rtnetlink helpers ---- */

static int link_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int linkinfo_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, IFLA_INFO_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

int nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *ret)
{
        const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof *ifm)
                return -EBADMSG;
        memset(ret, 0, sizeof *ret);
        if (mnl_attr_parse(nlh, sizeof *ifm, link_attr_cb, tb) < 0)
                return -EBADMSG;
        ret->index = ifm->ifi_index;
        ret->flags = ifm->ifi_flags;
        if (tb[IFLA_IFNAME] && mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) == 0)
                snprintf(ret->name, sizeof ret->name, "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
        if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
                memcpy(ret->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
                ret->has_mac = true;
        }
        if (tb[IFLA_MASTER] && mnl_attr_validate(tb[IFLA_MASTER], MNL_TYPE_U32) == 0)
                ret->master = (int) mnl_attr_get_u32(tb[IFLA_MASTER]);
        if (tb[IFLA_LINK] && mnl_attr_validate(tb[IFLA_LINK], MNL_TYPE_U32) == 0)
                ret->link = (int) mnl_attr_get_u32(tb[IFLA_LINK]);
        if (tb[IFLA_LINKINFO]) {
                const struct nlattr *li[IFLA_INFO_MAX + 1] = { 0 };
                if (mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, li) >= 0 && li[IFLA_INFO_KIND] &&
                    mnl_attr_validate(li[IFLA_INFO_KIND], MNL_TYPE_STRING) == 0)
                        snprintf(ret->kind, sizeof ret->kind, "%.*s", (int) mnl_attr_get_payload_len(li[IFLA_INFO_KIND]),
                                 mnl_attr_get_str(li[IFLA_INFO_KIND]));
        }
        return 0;
}

static int link_get_cb(const struct nlmsghdr *nlh, void *ud)
{
        return nl_link_parse(nlh, ud);
}

int nl_link_get(struct nl *n, const char *ifname, struct nl_link *ret, struct err *err)
{
        char buf[256] __attribute__((aligned(8)));
        char what[64];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifm;
        struct nl_link l = { .index = 0 };
        int r;

        nlh->nlmsg_type = RTM_GETLINK;
        ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        snprintf(what, sizeof what, "look up link '%s'", ifname);
        r = nl_call(n, nlh, link_get_cb, &l, what, err);
        if (r < 0)
                return r;
        if (l.index <= 0)
                return err_set(err, EBADMSG, NULL, "%s in %s: no link in the answer", what, n->where);
        *ret = l;
        return 0;
}

struct link_dump {
        int (*cb)(const struct nl_link *l, void *ud);
        void *ud;
};

static int link_dump_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct link_dump *d = ud;
        struct nl_link l;
        if (nl_link_parse(nlh, &l) < 0)
                return 0;
        return d->cb(&l, d->ud);
}

int nl_link_dump(struct nl *n, int (*cb)(const struct nl_link *l, void *ud), void (*reset)(void *ud), void *ud,
                 struct err *err)
{
        struct link_dump d = { cb, ud };
        int r = -EINTR;

        for (int i = 0; i < NL_DUMP_TRIES && r == -EINTR; i++) {
                char buf[256] __attribute__((aligned(8)));
                struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
                struct ifinfomsg *ifm;

                if (reset)
                        reset(ud);
                nlh->nlmsg_type = RTM_GETLINK;
                nlh->nlmsg_flags = NLM_F_DUMP;
                ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
                ifm->ifi_family = AF_UNSPEC;
                mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
                r = nl_call(n, nlh, link_dump_cb, &d, "list links", err);
        }
        return r;
}

struct addr_dump {
        int ifindex;
        int (*cb)(uint32_t ip, uint8_t prefix_len, int ifindex, void *ud);
        void *ud;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        if (mnl_attr_type_valid(a, IFA_MAX) < 0)
                return MNL_CB_OK;
        tb[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
}

static int addr_dump_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct addr_dump *d = ud;
        const struct nlattr *tb[IFA_MAX + 1] = { 0 };
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a;

        if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof *ifa || ifa->ifa_family != AF_INET)
                return 0;
        if (d->ifindex && (int) ifa->ifa_index != d->ifindex)
                return 0;
        if (mnl_attr_parse(nlh, sizeof *ifa, addr_attr_cb, tb) < 0)
                return 0;
        a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        if (!a || mnl_attr_get_payload_len(a) != 4)
                return 0;
        return d->cb(ntohl(mnl_attr_get_u32(a)), ifa->ifa_prefixlen, (int) ifa->ifa_index, d->ud);
}

int nl_addr4_dump(struct nl *n, int ifindex, int (*cb)(uint32_t ip, uint8_t prefix_len, int ifindex, void *ud), void *ud,
                  struct err *err)
{
        struct addr_dump d = { ifindex, cb, ud };
        int r = -EINTR;

        for (int i = 0; i < NL_DUMP_TRIES && r == -EINTR; i++) {
                char buf[128] __attribute__((aligned(8)));
                struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
                struct ifaddrmsg *ifa;

                nlh->nlmsg_type = RTM_GETADDR;
                nlh->nlmsg_flags = NLM_F_DUMP;
                ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
                ifa->ifa_family = AF_INET;
                r = nl_call(n, nlh, addr_dump_cb, &d, "list addresses", err);
        }
        return r;
}

static void fmt_mac(const uint8_t *mac, char buf[18])
{
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

struct nlmsghdr *nl_put_link_set(struct nl_batch *b, int index, const char *ifname, bool up, const uint8_t *mac, int master)
{
        char what[96] = "", m[18];
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifm;
        size_t w = 0;

        if (up)
                w += (size_t) snprintf(what + w, sizeof what - w, " up");
        if (mac) {
                fmt_mac(mac, m);
                w += (size_t) snprintf(what + w, sizeof what - w, "%s MAC %s", w ? "," : "", m);
        }
        if (master >= 0 && w < sizeof what)
                snprintf(what + w, sizeof what - w, "%s master ifindex %d", w ? "," : "", master);
        nlh = nl_batch_add(b, RTM_NEWLINK, 0, "set link '%s'%s", ifname, what);
        ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = index;
        if (up) {
                ifm->ifi_flags = IFF_UP;
                ifm->ifi_change = IFF_UP;
        }
        if (index <= 0)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        if (mac)
                mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        if (master >= 0)
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) master);
        return nlh;
}

struct nlmsghdr *nl_put_link_del(struct nl_batch *b, const char *ifname)
{
        struct nlmsghdr *nlh = nl_batch_add(b, RTM_DELLINK, 0, "delete link '%s'", ifname);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);

        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        nl_batch_tolerate(b, ENODEV);
        return nlh;
}

struct nlmsghdr *nl_put_addr4(struct nl_batch *b, int ifindex, const char *ifname, uint32_t ip, uint8_t prefix_len,
                              bool tolerate_exists)
{
        char a[INET_ADDRSTRLEN];
        uint32_t be = htonl(ip);
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;

        inet_ntop(AF_INET, &be, a, sizeof a);
        nlh = nl_batch_add(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, "add address %s/%u to '%s'", a, prefix_len, ifname);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = prefix_len;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (uint32_t) ifindex;
        mnl_attr_put_u32(nlh, IFA_LOCAL, be);
        mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
        if (prefix_len < 31) {
                uint32_t mask = prefix_len ? ~0u << (32 - prefix_len) : 0;
                mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(ip | ~mask));
        }
        if (tolerate_exists)
                nl_batch_tolerate(b, EEXIST);
        return nlh;
}

struct nlmsghdr *nl_put_route4(struct nl_batch *b, bool del, uint32_t dst, uint8_t len, uint32_t gw, int oif, bool tolerate)
{
        char d[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
        uint32_t dbe = htonl(dst), gbe = htonl(gw);
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;

        inet_ntop(AF_INET, &dbe, d, sizeof d);
        inet_ntop(AF_INET, &gbe, g, sizeof g);
        if (del)
                nlh = nl_batch_add(b, RTM_DELROUTE, 0, "delete route %s/%u via %s", d, len, g);
        else if (len)
                nlh = nl_batch_add(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, "add route %s/%u via %s", d, len, g);
        else
                nlh = nl_batch_add(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, "add default route via %s", g);
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = len;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_type = RTN_UNICAST;
        /* delete: any protocol and scope, matched by destination and gateway */
        rtm->rtm_protocol = del ? RTPROT_UNSPEC : RTPROT_STATIC;
        rtm->rtm_scope = del ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE;
        if (len)
                mnl_attr_put_u32(nlh, RTA_DST, dbe);
        mnl_attr_put_u32(nlh, RTA_GATEWAY, gbe);
        if (oif > 0)
                mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) oif);
        if (del)
                nl_batch_tolerate(b, ESRCH);
        else if (tolerate)
                nl_batch_tolerate(b, EEXIST);
        return nlh;
}
