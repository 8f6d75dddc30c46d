/* knet_dns.c: the VPC resolver's addresses on lo of the VPC netns, and its UDP and TCP sockets there. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "knet_int.h"
#include "netns.h"

#define LO_INDEX 1  /* lo is always ifindex 1 in a netns */

struct dns_open_ctx {
        const char *where;
        const uint32_t *ips;
        size_t n;
        int *udp, *tcp;
};

/* A socket of type bound to ip:port in the calling thread's netns (listening for TCP). */
static int bound_socket(int type, uint32_t ip, uint16_t port, const char *where, int *ret, struct err *err)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
        _cleanup_close_ int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        char ips[IP4_STR_MAX];
        int one = 1;
        ip4_format(ip, ips);
        if (fd < 0)
                return err_set(err, errno, NULL, "socket in %s: %s", where, strerror(errno));
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return err_set(err, errno, NULL, "bind %s:%u/%s in %s: %s", ips, port, type == SOCK_DGRAM ? "udp" : "tcp", where,
                               strerror(errno));
        if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
                return err_set(err, errno, NULL, "listen on %s:%u in %s: %s", ips, port, where, strerror(errno));
        *ret = TAKE_FD(fd);
        return 0;
}

/* Inside the VPC netns: port 53 needs no privilege here (netd keeps no CAP_NET_BIND_SERVICE; nothing
 * but netd's own sockets lives in a VPC netns), then one UDP and one TCP socket per address. */
static int dns_open(void *ud, struct err *err)
{
        struct dns_open_ctx *c = ud;
        int r;
        if ((r = sysctl_write("net.ipv4.ip_unprivileged_port_start", "53", false, c->where, err)) < 0)
                return r;
        for (size_t i = 0; i < c->n; i++)
                if ((r = bound_socket(SOCK_DGRAM, c->ips[i], 53, c->where, &c->udp[i], err)) < 0 ||
                    (r = bound_socket(SOCK_STREAM, c->ips[i], 53, c->where, &c->tcp[i], err)) < 0)
                        return r;
        return 0;
}

int knet_dns_listen(struct knet *k, const char *netns, const uint32_t *ips, size_t n, int *udp, int *tcp, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct dns_open_ctx c = { where, ips, n, udp, tcp };
        struct knet_ns *ns;
        struct nlc_batch b;
        int r;

        for (size_t i = 0; i < n; i++)
                udp[i] = tcp[i] = -1;
        if ((r = knet_path(k, netns, path, sizeof path, err)) < 0 || (r = knet_ns_get(k, netns, &ns, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", netns);
        nlc_batch_init(&b, ns->rt, 0);
        for (size_t i = 0; i < n; i++)
                rt_put_addr4(&b, LO_INDEX, "lo", ips[i], 32, true);
        if ((r = nlc_batch_run(&b, err)) < 0)
                return r;
        if ((r = netns_run(path, where, dns_open, &c, NULL, err)) < 0) {
                for (size_t i = 0; i < n; i++) {
                        if (udp[i] >= 0)
                                close(udp[i]);
                        if (tcp[i] >= 0)
                                close(tcp[i]);
                        udp[i] = tcp[i] = -1;
                }
                return r;
        }
        return 0;
}

struct tcp_open_ctx {
        const char *where;
        uint32_t ip;
        uint16_t port;
        int fd;
};

static int tcp_open(void *ud, struct err *err)
{
        struct tcp_open_ctx *c = ud;
        int r;
        if ((r = sysctl_write("net.ipv4.ip_unprivileged_port_start", "53", false, c->where, err)) < 0)
                return r;
        return bound_socket(SOCK_STREAM, c->ip, c->port, c->where, &c->fd, err);
}

int knet_vpc_tcp_listen(struct knet *k, const char *netns, uint32_t ip, uint16_t port, int *ret_fd, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct tcp_open_ctx c = { where, ip, port, -1 };
        struct knet_ns *ns;
        struct nlc_batch b;
        int r;

        if ((r = knet_path(k, netns, path, sizeof path, err)) < 0 || (r = knet_ns_get(k, netns, &ns, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", netns);
        nlc_batch_init(&b, ns->rt, 0);
        rt_put_addr4(&b, LO_INDEX, "lo", ip, 32, true);
        if ((r = nlc_batch_run(&b, err)) < 0 || (r = netns_run(path, where, tcp_open, &c, NULL, err)) < 0)
                return r;
        *ret_fd = c.fd;
        return 0;
}

int knet_dns_unlisten(struct knet *k, const char *netns, const uint32_t *ips, size_t n, struct err *err)
{
        struct knet_ns *ns;
        struct nlc_batch b;
        int r;
        if ((r = knet_ns_get(k, netns, &ns, err)) < 0)
                return r == -ENOENT ? 0 : r;
        nlc_batch_init(&b, ns->rt, 0);
        for (size_t i = 0; i < n; i++)
                rt_put_addr4_del(&b, LO_INDEX, "lo", ips[i], 32);
        return nlc_batch_run(&b, err);
}
