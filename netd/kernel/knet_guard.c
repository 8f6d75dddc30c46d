/* knet_guard.c: source/destination checks: a task's table netdev ecsbox (egress on eth0) and a VPC's table bridge ecsbox (ENI ports, MACs and IPs on the subnet bridges). */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_bridge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "knet_int.h"
#include "knet_sg_int.h"
#include "nftexpr.h"

static const uint8_t arp_hdr[6] = { 0x00, 0x01, 0x08, 0x00, 0x06, 0x04 };  /* ether, ipv4, 6, 4 */

static void ethertype_is(struct nftnl_rule *r, uint16_t type)
{
        uint16_t et = htons(type);
        nx_payload(r, NFT_PAYLOAD_LL_HEADER, 12, 2, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, &et, 2);
}

/* arp (ether, ip) */
static void arp_ether_ip(struct nftnl_rule *r)
{
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 6, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, arp_hdr, 6);
}

/* ---- a task's egress ---- */

void guard_egress_put(struct nft_batch *b, const uint8_t mac[6], uint32_t ip)
{
        uint8_t sender[10];
        uint32_t nip = htonl(ip);
        struct nftnl_rule *r;

        nft_put_table(b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, KNET_SG_TABLE, SG_LAYOUT_TAG, sizeof SG_LAYOUT_TAG);
        nft_put_chain(b, NFPROTO_NETDEV, KNET_SG_TABLE, "egress", NF_NETDEV_EGRESS, 0, "filter", NF_DROP, "eth0");
        /* ether saddr MAC ether type ip ip saddr IP accept */
        r = nft_rule_new(NFPROTO_NETDEV, KNET_SG_TABLE, "egress");
        nx_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, mac, 6);
        ethertype_is(r, 0x0800);
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, &nip, 4);
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
        /* ether saddr MAC ether type arp arp (ether, ip) saddr ether MAC saddr ip IP accept */
        r = nft_rule_new(NFPROTO_NETDEV, KNET_SG_TABLE, "egress");
        nx_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, mac, 6);
        ethertype_is(r, 0x0806);
        arp_ether_ip(r);
        memcpy(sender, mac, 6);
        memcpy(sender + 6, &nip, 4);
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 10, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, sender, 10);
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
}

/* ---- the VPC's bridge table ---- */
static const int T_IPOK[] = { DT_IFNAME, DT_ETHERADDR, DT_IPADDR };
static const int T_ARPOK[] = { DT_IFNAME, DT_ETHERADDR, DT_ETHERADDR, DT_IPADDR };

static void guard_elems(const struct knet_guard_port *p, struct nft_elem *ipok, struct nft_elem *arpok)
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

static void guard_set_put(struct nft_batch *b, const char *name, const int *types, size_t n, uint32_t len)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_BRIDGE, KNET_SG_TABLE, name, b->set_id++);

        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sg_concat_type(types, n));
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
}

/* chain guard: prerouting runs before the bridge learns the source MAC, so a forged frame moves no
 * FDB entry; policy drop: anything else from an ENI port (other ethertypes, VLAN tags, forged sources). */
static void guard_chain_put(struct nft_batch *b)
{
        struct nftnl_rule *r;

        nft_put_chain(b, NFPROTO_BRIDGE, KNET_SG_TABLE, "guard", NF_BR_PRE_ROUTING, -200, "filter", NF_DROP, NULL);
        /* ether type ip meta iifname . ether saddr . ip saddr @ip_ok accept */
        r = nft_rule_new(NFPROTO_BRIDGE, KNET_SG_TABLE, "guard");
        ethertype_is(r, 0x0800);
        nx_meta(r, NFT_META_IIFNAME, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NX_R32(4));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NX_R32(6));
        nx_lookup(r, NX_R32(0), "ip_ok", 0, false);
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
        /* ether type arp (ether, ip) meta iifname . ether saddr . arp saddr ether . arp saddr ip @arp_ok accept */
        r = nft_rule_new(NFPROTO_BRIDGE, KNET_SG_TABLE, "guard");
        ethertype_is(r, 0x0806);
        arp_ether_ip(r);
        nx_meta(r, NFT_META_IIFNAME, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NX_R32(4));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 6, NX_R32(6));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, NX_R32(8));
        nx_lookup(r, NX_R32(0), "arp_ok", 0, false);
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
}

int knet_guard_build(struct knet *k, const char *vpc_netns, const struct knet_guard_port *p, size_t n, struct err *err)
{
        _cleanup_free_ struct nft_elem *ipok = calloc(n + 1, sizeof *ipok), *arpok = calloc(n + 1, sizeof *arpok);
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct nft_batch b;
        struct nlc *nf;
        int r;

        if (!ipok || !arpok)
                return err_set(err, ENOMEM, NULL, "bridge table for netns '%s': %s", vpc_netns, strerror(ENOMEM));
        if ((r = knet_sock_for(k, vpc_netns, NETLINK_NETFILTER, &nf, &tmp, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                guard_elems(&p[i], &ipok[i], &arpok[i]);
        nft_batch_init(&b, nf);
        nft_put_table(&b, NFT_MSG_DESTROYTABLE_, NFPROTO_BRIDGE, KNET_SG_TABLE, NULL, 0);
        nft_put_table(&b, NFT_MSG_NEWTABLE, NFPROTO_BRIDGE, KNET_SG_TABLE, SG_LAYOUT_TAG, sizeof SG_LAYOUT_TAG);
        guard_set_put(&b, "ip_ok", T_IPOK, ELEMENTSOF(T_IPOK), 28);
        guard_set_put(&b, "arp_ok", T_ARPOK, ELEMENTSOF(T_ARPOK), 36);
        if (n > 0) {
                nft_put_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_BRIDGE, KNET_SG_TABLE, "ip_ok", 0, ipok, n);
                nft_put_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_BRIDGE, KNET_SG_TABLE, "arp_ok", 0, arpok, n);
        }
        guard_chain_put(&b);
        return nft_batch_run(&b, err);
}

int knet_guard_update(struct knet *k, const char *vpc_netns, const struct knet_guard_port *p, bool add, struct err *err)
{
        uint16_t type = add ? NFT_MSG_NEWSETELEM : NFT_MSG_DESTROYSETELEM_;
        uint16_t flags = add ? NLM_F_CREATE : 0;
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct nft_elem ipok, arpok;
        struct nft_batch b;
        struct nlc *nf;
        int r;

        if ((r = knet_sock_for(k, vpc_netns, NETLINK_NETFILTER, &nf, &tmp, err)) < 0)
                return r;
        guard_elems(p, &ipok, &arpok);
        nft_batch_init(&b, nf);
        nft_put_elems(&b, type, flags, NFPROTO_BRIDGE, KNET_SG_TABLE, "ip_ok", 0, &ipok, 1);
        nft_put_elems(&b, type, flags, NFPROTO_BRIDGE, KNET_SG_TABLE, "arp_ok", 0, &arpok, 1);
        return nft_batch_run(&b, err);
}
