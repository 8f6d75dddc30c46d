/* knet_lb.c: network load balancers in a VPC router netns: LB addresses on lo, table ip ecsbox_lb (DNAT
 * through numgen and maps, SNAT to the LB address), health check sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "knet_int.h"
#include "knet_lb.h"
#include "netns.h"
#include "nft.h"
#include "nftexpr.h"

#define LO_INDEX 1
#define NFT_TYPE_MARK 19           /* host-endian 32 bits: how nft shows a numgen index */
#define NFT_TYPE_IPV4_ADDR 7
#define NFT_TYPE_INET_PROTO 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_BITS 6
#define SET_ID_LISTENERS 1
#define SET_ID_CHAIN0 2

int knet_lb_addrs(struct knet *k, const char *vpc_netns, const uint32_t *ips, size_t n, bool add, struct err *err)
{
        struct knet_ns *ns;
        struct nlc_batch b;
        int r;
        if (n == 0)
                return 0;
        if ((r = knet_ns_get(k, vpc_netns, &ns, err)) < 0)
                return r == -ENOENT && !add ? 0 : r;
        nlc_batch_init(&b, ns->rt, 0);
        for (size_t i = 0; i < n; i++)
                if (add)
                        rt_put_addr4(&b, LO_INDEX, "lo", ips[i], 32, true);
                else
                        rt_put_addr4_del(&b, LO_INDEX, "lo", ips[i], 32);
        if ((r = nlc_batch_run(&b, err)) < 0 && !(r == -EADDRNOTAVAIL && !add))
                return err_wrap(err, "load balancer addresses on lo of %s", vpc_netns);
        return 0;
}

static void put_listener_map(struct nft_batch *b)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_IPV4, LB_NFT_TABLE, "listeners", SET_ID_LISTENERS);
        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
                                  (NFT_TYPE_IPV4_ADDR << (2 * NFT_TYPE_BITS)) | (NFT_TYPE_INET_PROTO << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 12);       /* each part padded to 4 bytes */
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
}

static void put_target_map(struct nft_batch *b, const char *name, uint32_t id)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_IPV4, LB_NFT_TABLE, name, id);
        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_MARK);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, (NFT_TYPE_IPV4_ADDR << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 8);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
}

/* ip daddr . meta l4proto . th dport vmap @listeners */
static void rule_prerouting(struct nft_batch *b)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_IPV4, LB_NFT_TABLE, "prerouting");
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NX_R32(0));
        nx_meta(r, NFT_META_L4PROTO, NX_R32(1));
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NX_R32(2));
        nx_map(r, NFT_REG_1, NFT_REG_VERDICT, "listeners", SET_ID_LISTENERS);
        nft_put_rule(b, r);
}

/* [ct mark set LB_CT_MARK] numgen inc mod n map @t<i>: dnat to addr . port */
static void rule_chain(struct nft_batch *b, const char *chain, const char *map, uint32_t id, const struct knet_lb_chain *c)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_IPV4, LB_NFT_TABLE, chain);
        if (c->snat)
                nx_ct_set32(r, NFT_CT_MARK, LB_CT_MARK);
        nx_numgen(r, false, (uint32_t) c->n, NFT_REG_1);
        nx_map(r, NFT_REG_1, NFT_REG_1, map, id);
        nx_dnat4(r, NFT_REG_1, NFT_REG32_01);
        nft_put_rule(b, r);
}

/* ct mark LB_CT_MARK snat to ct original ip daddr: the target answers the LB address, not the client */
static void rule_postrouting(struct nft_batch *b)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_IPV4, LB_NFT_TABLE, "postrouting");
        uint32_t mark = LB_CT_MARK;
        nx_ct(r, NFT_CT_MARK, -1, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, &mark, sizeof mark);
        nx_ct(r, NFT_CT_DST, 0 /* IP_CT_DIR_ORIGINAL */, NFT_REG_1);
        nx_snat4(r, NFT_REG_1);
        nft_put_rule(b, r);
}

static int put_chains(struct nft_batch *b, const struct knet_lb_chain *c, size_t n, struct err *err)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ struct nft_elem *v = NULL;
                char chain[16], map[16];
                uint32_t id = SET_ID_CHAIN0 + (uint32_t) i;
                if (c[i].n == 0)
                        continue;
                snprintf(chain, sizeof chain, "l%zu", i);
                snprintf(map, sizeof map, "t%zu", i);
                if (!(v = calloc(c[i].n, sizeof *v)))
                        return err_set(err, ENOMEM, NULL, "nftables elements: %s", strerror(ENOMEM));
                put_target_map(b, map, id);
                nft_put_chain(b, NFPROTO_IPV4, LB_NFT_TABLE, chain, -1, 0, NULL, 0, NULL);
                rule_chain(b, chain, map, id, &c[i]);
                for (size_t j = 0; j < c[i].n; j++) {
                        uint32_t key = (uint32_t) j, ip = htonl(c[i].t[j].ip);
                        uint16_t port = htons(c[i].t[j].port);
                        memcpy(v[j].key, &key, 4);
                        v[j].len = 4;
                        memcpy(v[j].data, &ip, 4);
                        memcpy(v[j].data + 4, &port, 2);
                        v[j].dlen = 8;
                }
                nft_put_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_IPV4, LB_NFT_TABLE, map, id, v, c[i].n);
        }
        return 0;
}

static int put_keys(struct nft_batch *b, const struct knet_lb_chain *c, size_t n_chains, const struct knet_lb_key *keys, size_t n,
                    struct err *err)
{
        _cleanup_free_ struct nft_elem *v = calloc(n ? n : 1, sizeof *v);
        char (*names)[16] = NULL;
        size_t cnt = 0;
        if (!v || !(names = calloc(n ? n : 1, sizeof *names))) {
                free(names);
                return err_set(err, ENOMEM, NULL, "nftables elements: %s", strerror(ENOMEM));
        }
        for (size_t i = 0; i < n; i++) {
                uint32_t addr = htonl(keys[i].addr);
                uint16_t port = htons(keys[i].port);
                if (keys[i].chain >= n_chains || c[keys[i].chain].n == 0)
                        continue;
                memcpy(v[cnt].key, &addr, 4);
                v[cnt].key[4] = keys[i].l4;
                memcpy(v[cnt].key + 8, &port, 2);
                v[cnt].len = 12;
                snprintf(names[cnt], sizeof names[cnt], "l%zu", keys[i].chain);
                v[cnt].chain = names[cnt];
                cnt++;
        }
        if (cnt > 0)
                nft_put_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_IPV4, LB_NFT_TABLE, "listeners", SET_ID_LISTENERS, v, cnt);
        /* the messages copied the names */
        free(names);
        return 0;
}

int knet_lb_apply(struct knet *k, const char *vpc_netns, const struct knet_lb_chain *c, size_t n_chains,
                  const struct knet_lb_key *keys, size_t n_keys, struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct nft_batch bt;
        struct nlc *nf;
        int r;

        if ((r = knet_check_netns_name(vpc_netns, err)) < 0 || (r = knet_sock_for(k, vpc_netns, NETLINK_NETFILTER, &nf, &tmp, err)) < 0)
                return r;
        nft_batch_init(&bt, nf);
        /* add (so that the delete cannot fail), delete, and build again unless nothing is left */
        nft_put_table(&bt, NFT_MSG_NEWTABLE, NFPROTO_IPV4, LB_NFT_TABLE, NULL, 0);
        nft_put_table(&bt, NFT_MSG_DELTABLE, NFPROTO_IPV4, LB_NFT_TABLE, NULL, 0);
        if (n_keys > 0) {
                nft_put_table(&bt, NFT_MSG_NEWTABLE, NFPROTO_IPV4, LB_NFT_TABLE, NULL, 0);
                put_listener_map(&bt);
                nft_put_chain(&bt, NFPROTO_IPV4, LB_NFT_TABLE, "prerouting", NF_INET_PRE_ROUTING, -100, "nat", NF_ACCEPT, NULL);
                nft_put_chain(&bt, NFPROTO_IPV4, LB_NFT_TABLE, "postrouting", NF_INET_POST_ROUTING, 100, "nat", NF_ACCEPT, NULL);
                if ((r = put_chains(&bt, c, n_chains, err)) < 0 || (r = put_keys(&bt, c, n_chains, keys, n_keys, err)) < 0) {
                        nft_batch_fini(&bt);
                        return r;
                }
                rule_prerouting(&bt);
                rule_postrouting(&bt);
        }
        if ((r = nft_batch_run(&bt, err)) < 0)
                return err_wrap(err, "table ip " LB_NFT_TABLE " of %s", vpc_netns);
        return 0;
}

struct probe_ctx {
        const char *where;
        uint32_t src;
        int fd;
};

static int probe_open(void *ud, struct err *err)
{
        struct probe_ctx *c = ud;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(c->src) };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0)
                return err_set(err, errno, NULL, "health check socket in %s: %s", c->where, strerror(errno));
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (c->src && bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                char ips[IP4_STR_MAX];
                ip4_format(c->src, ips);
                return err_set(err, errno, NULL, "health check socket: bind %s in %s: %s", ips, c->where, strerror(errno));
        }
        c->fd = TAKE_FD(fd);
        return 0;
}

int knet_lb_probe_socket(struct knet *k, const char *vpc_netns, uint32_t src, int *ret_fd, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct probe_ctx c = { where, src, -1 };
        int r;
        if ((r = knet_path(k, vpc_netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", vpc_netns);
        if ((r = netns_run(path, where, probe_open, &c, NULL, err)) < 0)
                return r;
        *ret_fd = c.fd;
        return 0;
}
