/* knet_sg.c: security groups in a task netns: table inet ecsbox (stateful; three interval-set lookups per direction for CIDR rules, a member set and permission sets per peer group) built, refilled, checked and removed as single nftables transactions. */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "knet_int.h"
#include "knet_sg_int.h"
#include "nftexpr.h"

static const char *const DIRS[] = { "in", "out" };

/* SG sets: keys in register layout (every field in its own 4-byte slot); field lengths for pipapo */
static const int T_PORT[] = { DT_INET_PROTO, DT_IPADDR, DT_INET_SERVICE };
static const uint8_t L_PORT[] = { 1, 4, 2 };
static const int T_PROTO[] = { DT_INET_PROTO, DT_IPADDR };
static const uint8_t L_PROTO[] = { 1, 4 };
static const int T_ICMP[] = { DT_IPADDR, DT_INET_SERVICE };
static const uint8_t L_ICMP[] = { 4, 2 };
/* a peer group's permission sets: the CIDR sets' keys without the address; ICMP as type . code */
static const int T_GPORT[] = { DT_INET_PROTO, DT_INET_SERVICE };
static const uint8_t L_GPORT[] = { 1, 2 };
static const int T_GICMP[] = { DT_ICMP_TYPE, DT_ICMP_CODE };
static const uint8_t L_GICMP[] = { 1, 1 };

#define SET_NAME_MAX 64              /* "gp_" + 17 hex + "_out_proto" */

uint32_t sg_concat_type(const int *types, size_t n)
{
        uint32_t t = 0;
        for (size_t i = 0; i < n; i++)
                t = t << 6 | (uint32_t) types[i];
        return t;
}

/* A concatenated interval set (the kernel picks pipapo): field_len are the real field sizes. */
static void interval_set_put(struct nft_batch *b, const char *name, const int *types, const uint8_t *field_len, size_t n)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_INET, KNET_SG_TABLE, name, b->set_id++);
        uint8_t fl[NFT_REG32_COUNT] = { 0 };

        memcpy(fl, field_len, n);
        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sg_concat_type(types, n));
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t) (4 * n));
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
                nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fl, (uint32_t) n);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
}

static void sg_sets_put(struct nft_batch *b)
{
        for (size_t i = 0; i < 2; i++) {
                char name[16];
                snprintf(name, sizeof name, "sg_%s_port", DIRS[i]);
                interval_set_put(b, name, T_PORT, L_PORT, ELEMENTSOF(T_PORT));
                snprintf(name, sizeof name, "sg_%s_proto", DIRS[i]);
                interval_set_put(b, name, T_PROTO, L_PROTO, ELEMENTSOF(T_PROTO));
                snprintf(name, sizeof name, "sg_%s_icmp", DIRS[i]);
                interval_set_put(b, name, T_ICMP, L_ICMP, ELEMENTSOF(T_ICMP));
        }
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

static void box_to_elem(const struct sg_box *x, int kind, uint8_t proto, struct nft_elem *e)
{
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

static int boxes_to_elems(const struct sg_boxes *bx, int kind, uint8_t proto, struct nft_elem **v, size_t *n, size_t *cap)
{
        for (size_t i = 0; i < bx->n; i++) {
                if (*n == *cap) {
                        size_t ncap = *cap ? *cap * 2 : 64;
                        struct nft_elem *nv = realloc(*v, ncap * sizeof *nv);
                        if (!nv)
                                return -ENOMEM;
                        *v = nv;
                        *cap = ncap;
                }
                box_to_elem(&bx->v[i], kind, proto, &(*v)[(*n)++]);
        }
        return 0;
}

/* Flush (when flush) and fill the three SG sets of one direction. */
static int sg_sets_fill(struct nft_batch *b, const struct sg_dir_elems *el, bool in, bool flush)
{
        static const char *const suffix[] = { "port", "proto", "icmp" };
        struct nft_elem *v = NULL;
        size_t n = 0, cap = 0;
        char name[16];
        int r = 0;

        for (int kind = 0; kind < 3 && r == 0; kind++) {
                n = 0;
                if (kind == 0) {
                        r = boxes_to_elems(&el->tcp, 0, IPPROTO_TCP, &v, &n, &cap);
                        if (r == 0)
                                r = boxes_to_elems(&el->udp, 0, IPPROTO_UDP, &v, &n, &cap);
                } else
                        r = boxes_to_elems(kind == 1 ? &el->proto : &el->icmp, kind, 0, &v, &n, &cap);
                if (r < 0)
                        break;
                snprintf(name, sizeof name, "sg_%s_%s", in ? "in" : "out", suffix[kind]);
                if (flush)
                        nft_put_elems(b, NFT_MSG_DELSETELEM, 0, NFPROTO_INET, KNET_SG_TABLE, name, 0, NULL, 0);
                if (n > 0)
                        nft_put_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_INET, KNET_SG_TABLE, name, 0, v, n);
        }
        free(v);
        return r;
}

/* ---- peer groups: a member set and permission sets per group the rules name ---- */
enum gkind { GK_PORT, GK_PROTO, GK_ICMP };
static const char *const GKIND[] = { "port", "proto", "icmp" };

/* "sg-0123…" -> "0123…": set names stay short and say which group */
static const char *group_hex(const char *id)
{
        return strncmp(id, "sg-", 3) == 0 ? id + 3 : id;
}

static void member_set_name(char buf[SET_NAME_MAX], const char *id)
{
        snprintf(buf, SET_NAME_MAX, "m_%s", group_hex(id));
}

static void perm_set_name(char buf[SET_NAME_MAX], const char *id, int d, enum gkind k)
{
        snprintf(buf, SET_NAME_MAX, "gp_%s_%s_%s", group_hex(id), DIRS[d], GKIND[k]);
}

/* A permission set of that kind exists (and a rule looks it up) when the group's rules of direction
 * d grant something of it; a group allowed every protocol needs none: its members are enough. */
static bool gkind_used(const struct sg_peer_group *g, int d, enum gkind k)
{
        const struct sg_dir_elems *p = &g->perm[d];
        if (!g->used[d] || g->all[d])
                return false;
        return k == GK_PORT ? p->tcp.n + p->udp.n > 0 : k == GK_PROTO ? p->proto.n > 0 : p->icmp.n > 0;
}

/* A plain hash set (no interval: one element per key, cheap to add and remove). */
static void hash_set_put(struct nft_batch *b, const char *name, int type, uint32_t key_len)
{
        struct nftnl_set *s = nft_set_new(NFPROTO_INET, KNET_SG_TABLE, name, b->set_id++);

        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, (uint32_t) type);
                nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
                nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
        }
        nft_put_set(b, s);
        nftnl_set_free(s);
}

struct elem_vec {
        struct nft_elem *v;
        size_t n, cap;
};

static struct nft_elem *elem_push(struct elem_vec *ev)
{
        if (ev->n == ev->cap) {
                size_t ncap = ev->cap ? ev->cap * 2 : 64;
                struct nft_elem *nv = realloc(ev->v, ncap * sizeof *nv);
                if (!nv)
                        return NULL;
                ev->v = nv;
                ev->cap = ncap;
        }
        memset(&ev->v[ev->n], 0, sizeof ev->v[ev->n]);
        return &ev->v[ev->n++];
}

static int member_elems(const uint32_t *ips, size_t n, struct elem_vec *ev)
{
        for (size_t i = 0; i < n; i++) {
                struct nft_elem *e = elem_push(ev);
                if (!e)
                        return -ENOMEM;
                e->len = 4;
                be32_at(e->key, ips[i]);
        }
        return 0;
}

/* The elements of one permission set (y of each box; x is 0). */
static int perm_elems(const struct sg_dir_elems *p, enum gkind k, struct elem_vec *ev)
{
        const struct sg_boxes *lists[2] = { NULL, NULL };
        const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };
        struct nft_elem *e;

        if (k == GK_PORT) {
                lists[0] = &p->tcp;
                lists[1] = &p->udp;
                for (int l = 0; l < 2; l++)
                        for (size_t i = 0; i < lists[l]->n; i++) {       /* proto . port range */
                                if (!(e = elem_push(ev)))
                                        return -ENOMEM;
                                e->len = 8;
                                e->has_end = true;
                                e->key[0] = e->end[0] = protos[l];
                                be16_at(e->key + 4, (uint16_t) lists[l]->v[i].ylo);
                                be16_at(e->end + 4, (uint16_t) lists[l]->v[i].yhi);
                        }
        } else if (k == GK_PROTO) {
                for (size_t i = 0; i < p->proto.n; i++)              /* one element per protocol */
                        for (uint32_t y = p->proto.v[i].ylo; y <= p->proto.v[i].yhi && y <= 255; y++) {
                                if (!(e = elem_push(ev)))
                                        return -ENOMEM;
                                e->len = 1;
                                e->key[0] = (uint8_t) y;
                        }
        } else {
                for (size_t i = 0; i < p->icmp.n; i++) {             /* type . code range, per type */
                        uint32_t lo = p->icmp.v[i].ylo, hi = p->icmp.v[i].yhi;
                        for (uint32_t t = lo >> 8; t <= (hi >> 8) && t <= 255; t++) {
                                if (!(e = elem_push(ev)))
                                        return -ENOMEM;
                                e->len = 8;
                                e->has_end = true;
                                e->key[0] = e->end[0] = (uint8_t) t;
                                e->key[4] = t == lo >> 8 ? (uint8_t) (lo & 0xff) : 0;
                                e->end[4] = t == hi >> 8 ? (uint8_t) (hi & 0xff) : 0xff;
                        }
                }
        }
        return 0;
}

/* Set names, to tell which of a table's group sets are still wanted. */
struct name_list {
        char (*v)[SET_NAME_MAX];
        size_t n, cap;
};

static void name_list_free(struct name_list *l)
{
        free(l->v);
        *l = (struct name_list) { 0 };
}

static int name_list_add(struct name_list *l, const char *name)
{
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 16;
                char (*nv)[SET_NAME_MAX] = realloc(l->v, ncap * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                l->v = nv;
                l->cap = ncap;
        }
        snprintf(l->v[l->n++], SET_NAME_MAX, "%s", name);
        return 0;
}

static bool name_list_has(const struct name_list *l, const char *name)
{
        for (size_t i = 0; l && i < l->n; i++)
                if (!strcmp(l->v[i], name))
                        return true;
        return false;
}

/* The group sets t needs, by name. */
static int group_set_names(const struct knet_sg_task *t, struct name_list *ret)
{
        char name[SET_NAME_MAX];
        int r = 0;

        for (size_t i = 0; t->groups && i < t->groups->n && r == 0; i++) {
                const struct sg_peer_group *g = &t->groups->v[i];
                member_set_name(name, g->id);
                r = name_list_add(ret, name);
                for (int d = 0; d < 2 && r == 0; d++)
                        for (int k = GK_PORT; k <= GK_ICMP && r == 0; k++)
                                if (gkind_used(g, d, k)) {
                                        perm_set_name(name, g->id, d, k);
                                        r = name_list_add(ret, name);
                                }
        }
        return r;
}

/* One group set: made when the table lacks it (have: the group sets there are; NULL: none), else
 * flushed; then filled. */
static void group_set_fill(struct nft_batch *b, const char *name, const struct name_list *have, void (*make)(struct nft_batch *b, const char *name),
                           const struct elem_vec *ev)
{
        if (name_list_has(have, name))
                nft_put_elems(b, NFT_MSG_DELSETELEM, 0, NFPROTO_INET, KNET_SG_TABLE, name, 0, NULL, 0);
        else
                make(b, name);
        if (ev->n > 0)
                nft_put_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_INET, KNET_SG_TABLE, name, 0, ev->v, ev->n);
}

static void make_member_set(struct nft_batch *b, const char *name)
{
        hash_set_put(b, name, DT_IPADDR, 4);
}

static void make_port_set(struct nft_batch *b, const char *name)
{
        interval_set_put(b, name, T_GPORT, L_GPORT, ELEMENTSOF(T_GPORT));
}

static void make_proto_set(struct nft_batch *b, const char *name)
{
        hash_set_put(b, name, DT_INET_PROTO, 1);
}

static void make_icmp_set(struct nft_batch *b, const char *name)
{
        interval_set_put(b, name, T_GICMP, L_GICMP, ELEMENTSOF(T_GICMP));
}

/* Every group set of t, made or refilled. */
static int group_sets_put(struct nft_batch *b, const struct knet_sg_task *t, const struct name_list *have)
{
        static void (*const make[])(struct nft_batch *b, const char *name) = { make_port_set, make_proto_set, make_icmp_set };
        struct elem_vec ev = { 0 };
        char name[SET_NAME_MAX];
        int r = 0;

        for (size_t i = 0; t->groups && i < t->groups->n && r == 0; i++) {
                const struct sg_peer_group *g = &t->groups->v[i];
                ev.n = 0;
                if ((r = member_elems(g->ips, g->n_ips, &ev)) < 0)
                        break;
                member_set_name(name, g->id);
                group_set_fill(b, name, have, make_member_set, &ev);
                for (int d = 0; d < 2 && r == 0; d++)
                        for (int k = GK_PORT; k <= GK_ICMP && r == 0; k++) {
                                if (!gkind_used(g, d, k))
                                        continue;
                                ev.n = 0;
                                if ((r = perm_elems(&g->perm[d], k, &ev)) < 0)
                                        break;
                                perm_set_name(name, g->id, d, k);
                                group_set_fill(b, name, have, make[k], &ev);
                        }
        }
        free(ev.v);
        return r;
}

static void verdict_rule(struct nft_batch *b, const char *chain, int verdict, const char *to)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);
        nx_verdict(r, verdict, to);
        nft_put_rule(b, r);
}

/* ct state <mask> goto to */
static void ct_state_rule(struct nft_batch *b, const char *chain, uint32_t mask, const char *to)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);
        nx_ct_bits(r, NFT_CT_STATE, mask);
        nx_verdict(r, NFT_GOTO, to);
        nft_put_rule(b, r);
}

/* The CIDR rules: three set lookups, whatever the number of rules. */
static void sg_lookup_rules(struct nft_batch *b, const char *task, const char *allow, bool in)
{
        const char *d = in ? "in" : "out";
        uint32_t peer_off = in ? 12 : 16;   /* ip saddr on the way in, ip daddr on the way out */
        char set[16];
        struct nftnl_rule *r;

        /* meta l4proto . ip peer . th dport @sg_*_port */
        snprintf(set, sizeof set, "sg_%s_port", d);
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        nx_ipv4_only(r);
        nx_meta(r, NFT_META_L4PROTO, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, NX_R32(1));
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NX_R32(2));
        nx_lookup(r, NX_R32(0), set, 0, false);
        nx_verdict(r, NFT_GOTO, allow);
        nft_put_rule(b, r);
        /* meta l4proto . ip peer @sg_*_proto */
        snprintf(set, sizeof set, "sg_%s_proto", d);
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        nx_ipv4_only(r);
        nx_meta(r, NFT_META_L4PROTO, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, NX_R32(1));
        nx_lookup(r, NX_R32(0), set, 0, false);
        nx_verdict(r, NFT_GOTO, allow);
        nft_put_rule(b, r);
        /* ip peer . icmp type,code @sg_*_icmp */
        snprintf(set, sizeof set, "sg_%s_icmp", d);
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        nx_meta(r, NFT_META_L4PROTO, NFT_REG_1);
        nx_cmp8(r, NFT_CMP_EQ, IPPROTO_ICMP);
        nx_ipv4_only(r);
        nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, NX_R32(0));
        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NX_R32(1));
        nx_lookup(r, NX_R32(0), set, 0, false);
        nx_verdict(r, NFT_GOTO, allow);
        nft_put_rule(b, r);
}

/* The rules of one peer group in one direction (at most three: one per permission set; one when
 * every protocol is allowed). In chain task_<d>:
 *   ip saddr @m_G goto allow_in                                              (every protocol)
 *   ip saddr @m_G meta l4proto . th dport @gp_G_in_port goto allow_in
 *   ip saddr @m_G meta l4proto @gp_G_in_proto goto allow_in
 *   meta l4proto icmp ip saddr @m_G icmp type . icmp code @gp_G_in_icmp goto allow_in
 * (ip daddr and allow_out for egress). fwd: the variants of task_fwd for DNATed connections:
 * `ct status dnat` first and the port the client used (ct original proto-dst), no ICMP. */
static void group_rules_put(struct nft_batch *b, const char *chain, const struct sg_peer_group *g, int d, bool fwd)
{
        uint32_t peer_off = d == 0 ? 12 : 16;
        const char *allow = d == 0 ? "allow_in" : "allow_out";
        char m[SET_NAME_MAX], p[SET_NAME_MAX];

        member_set_name(m, g->id);
        for (int k = GK_PORT; k <= GK_ICMP; k++) {
                struct nftnl_rule *r;
                if (g->all[d] ? k != GK_PORT : !gkind_used(g, d, k))
                        continue;
                if (fwd && k == GK_ICMP)
                        continue;
                r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, chain);
                if (!g->all[d] && k == GK_ICMP) {
                        nx_meta(r, NFT_META_L4PROTO, NFT_REG_1);
                        nx_cmp8(r, NFT_CMP_EQ, IPPROTO_ICMP);
                }
                nx_ipv4_only(r);
                if (fwd)
                        nx_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
                nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, peer_off, 4, NX_R32(0));
                nx_lookup(r, NX_R32(0), m, 0, false);
                if (!g->all[d]) {
                        perm_set_name(p, g->id, d, k);
                        if (k == GK_PORT) {
                                nx_meta(r, NFT_META_L4PROTO, NX_R32(0));
                                if (fwd)
                                        nx_ct(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, NX_R32(1));
                                else
                                        nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NX_R32(1));
                        } else if (k == GK_PROTO)
                                nx_meta(r, NFT_META_L4PROTO, NX_R32(0));
                        else {
                                nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NX_R32(0));
                                nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 1, 1, NX_R32(1));
                        }
                        nx_lookup(r, NX_R32(0), p, 0, false);
                }
                nx_verdict(r, NFT_GOTO, allow);
                nft_put_rule(b, r);
        }
}

/* Amazon DNS traffic and the task metadata endpoint are not filtered by security groups nor captured by
 * flow logs: UDP and TCP port 53 of the VPC resolver's two addresses and TCP port 80 of 169.254.170.2 (and
 * their replies on the way in), accepted before any meter. Five rules:
 *   meta l4proto . ip daddr . th dport == { udp|tcp . ADDR . PORT } accept   (ip saddr . th sport in task_in) */
static void linklocal_exempt_rules(struct nft_batch *b, const char *task, bool in, uint32_t dns_ip)
{
        const struct {
                uint32_t ip;
                uint8_t proto;
                uint16_t port;
        } ok[] = {
                { dns_ip, IPPROTO_UDP, 53 }, { dns_ip, IPPROTO_TCP, 53 },
                { 0xa9fea9fdu /* 169.254.169.253 */, IPPROTO_UDP, 53 }, { 0xa9fea9fdu, IPPROTO_TCP, 53 },
                { 0xa9feaa02u /* 169.254.170.2 */, IPPROTO_TCP, 80 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                uint8_t key[12] = { ok[i].proto };
                struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
                be32_at(key + 4, ok[i].ip);
                be16_at(key + 8, ok[i].port);
                nx_ipv4_only(r);
                nx_meta(r, NFT_META_L4PROTO, NX_R32(0));
                nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, in ? 12 : 16, 4, NX_R32(1));
                nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, in ? 0 : 2, 2, NX_R32(2));
                nx_cmp(r, NX_R32(0), NFT_CMP_EQ, key, sizeof key);
                nx_verdict(r, NF_ACCEPT, NULL);
                nft_put_rule(b, r);
        }
}

/* chain task_<d>: lo, IPv6, tcp flags meter, conntrack state, the CIDR lookups, the peer groups, else deny. */
static void task_chain_rules(struct nft_batch *b, const struct knet_sg_task *t, bool in)
{
        const char *d = in ? "in" : "out";
        char allow[16], deny[16], task[16];
        struct nftnl_rule *r;
        uint32_t u32 = 1;

        snprintf(allow, sizeof allow, "allow_%s", d);
        snprintf(deny, sizeof deny, "deny_%s", d);
        snprintf(task, sizeof task, "task_%s", d);
        /* iif lo accept / oif lo accept: containers of a task talk over lo */
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        nx_meta(r, in ? NFT_META_IIF : NFT_META_OIF, NFT_REG_1);
        nx_cmp(r, NFT_REG_1, NFT_CMP_EQ, &u32, 4);
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
        if (t->dns_ip)
                linklocal_exempt_rules(b, task, in, t->dns_ip);
        /* meta nfproto ipv6 drop: until IPv6 sets exist */
        r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, task);
        nx_meta(r, NFT_META_NFPROTO, NFT_REG_1);
        nx_cmp8(r, NFT_CMP_EQ, NFPROTO_IPV6);
        nx_verdict(r, NF_DROP, NULL);
        nft_put_rule(b, r);
        meter_tflags_rule_put(b, task);
        ct_state_rule(b, task, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), allow);
        ct_state_rule(b, task, NF_CT_STATE_INVALID_BIT, deny);
        sg_lookup_rules(b, task, allow, in);
        for (size_t i = 0; t->groups && i < t->groups->n; i++)
                if (t->groups->v[i].used[in ? 0 : 1])
                        group_rules_put(b, task, &t->groups->v[i], in ? 0 : 1, false);
        verdict_rule(b, task, NFT_GOTO, deny);
}

/* Traffic forwarded through this namespace: a container instance's bridge-mode tasks behind its
 * published ports (knet_bridge_nat.c DNATs them). As on EC2, the instance ENI's groups decide
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
 *     (per peer group: ct status dnat ip saddr @m_G ... goto allow_in, see group_rules_put)
 *     goto deny_in } */
static void forward_chain_rules(struct nft_batch *b, const struct knet_sg_task *t)
{
        struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");

        nx_ifname(r, NFT_META_IIFNAME, NFT_CMP_NEQ, "eth0");
        nx_verdict(r, NF_ACCEPT, NULL);
        nft_put_rule(b, r);
        ct_state_rule(b, "task_fwd", NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), "allow_in");
        ct_state_rule(b, "task_fwd", NF_CT_STATE_INVALID_BIT, "deny_in");
        for (int k = 0; k < 2; k++) {
                r = nft_rule_new(NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
                nx_ipv4_only(r);
                nx_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
                nx_meta(r, NFT_META_L4PROTO, NX_R32(0));
                nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NX_R32(1));
                if (k == 0) {
                        nx_ct(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, NX_R32(2));
                        nx_lookup(r, NX_R32(0), "sg_in_port", 0, false);
                } else
                        nx_lookup(r, NX_R32(0), "sg_in_proto", 0, false);
                nx_verdict(r, NFT_GOTO, "allow_in");
                nft_put_rule(b, r);
        }
        for (size_t i = 0; t->groups && i < t->groups->n; i++)
                if (t->groups->v[i].used[0])
                        group_rules_put(b, "task_fwd", &t->groups->v[i], 0, true);
        verdict_rule(b, "task_fwd", NFT_GOTO, "deny_in");
}

static void task_chains_put(struct nft_batch *b)
{
        static const char *const kinds[] = { "tally", "allow", "deny" };

        for (size_t i = 0; i < 2; i++) {
                char name[16];
                for (size_t j = 0; j < ELEMENTSOF(kinds); j++) {
                        snprintf(name, sizeof name, "%s_%s", kinds[j], DIRS[i]);
                        nft_put_chain(b, NFPROTO_INET, KNET_SG_TABLE, name, -1, 0, NULL, 0, NULL);
                }
                snprintf(name, sizeof name, "task_%s", DIRS[i]);
                nft_put_chain(b, NFPROTO_INET, KNET_SG_TABLE, name, i == 0 ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT, 0, "filter",
                              NF_DROP, NULL);
        }
        nft_put_chain(b, NFPROTO_INET, KNET_SG_TABLE, "task_fwd", NF_INET_FORWARD, 0, "filter", NF_DROP, NULL);
}

/* Both tables of a task, replacing what is there: they go and come back in the same transaction. */
static int task_batch(struct nft_batch *b, const struct knet_sg_task *t)
{
        int r;

        nft_put_table(b, NFT_MSG_DESTROYTABLE_, NFPROTO_INET, KNET_SG_TABLE, NULL, 0);
        nft_put_table(b, NFT_MSG_DESTROYTABLE_, NFPROTO_NETDEV, KNET_SG_TABLE, NULL, 0);
        nft_put_table(b, NFT_MSG_NEWTABLE, NFPROTO_INET, KNET_SG_TABLE, SG_LAYOUT_TAG, sizeof SG_LAYOUT_TAG);
        /* the group sets first: the kernel finds a set by name walking the table's list, and member
         * changes name m_* once per peer and change */
        if ((r = group_sets_put(b, t, NULL)) < 0)
                return r;
        meter_objects_put(b);
        sg_sets_put(b);
        if ((r = sg_sets_fill(b, t->in, true, false)) < 0 || (r = sg_sets_fill(b, t->out, false, false)) < 0)
                return r;
        task_chains_put(b);
        meter_verdict_rules_put(b, "in");
        meter_verdict_rules_put(b, "out");
        task_chain_rules(b, t, true);
        task_chain_rules(b, t, false);
        forward_chain_rules(b, t);
        guard_egress_put(b, t->mac, t->ip);
        return 0;
}

/* The netfilter socket of a task netns, kept until the ENI leaves it (knet_int.h): closing one that
 * ran a transaction waits in the kernel for nf_tables's deferred destruction work (an RCU grace
 * period), which a socket per batch paid once per peer and change. */
static int task_nf(struct knet *k, const char *netns, struct nlc **ret, struct err *err)
{
        return knet_nf_keep(k, netns, ret, err);
}

/* Run a batch on the kept socket; after a failure the next batch gets a fresh socket (nothing of
 * this exchange can be left over then). */
static int task_run(struct knet *k, const char *netns, struct nft_batch *b, struct err *err)
{
        int r = nft_batch_run(b, err);
        if (r < 0)
                knet_nf_forget(k, netns);
        return r;
}

int knet_sg_task_build(struct knet *k, const struct knet_sg_task *t, struct err *err)
{
        struct nft_batch b;
        struct nlc *nf;
        int r;

        if ((r = task_nf(k, t->netns, &nf, err)) < 0)
                return r;
        nft_batch_init(&b, nf);
        if ((r = task_batch(&b, t)) < 0) {
                nft_batch_fini(&b);
                return err_set(err, -r, NULL, "build nftables batch for netns '%s': %s", t->netns, strerror(-r));
        }
        return task_run(k, t->netns, &b, err);
}

static int group_sets_have(struct nlc *s, struct name_list *ret, struct err *err);

/* The security-group part of the table again (see knet_sg.h); have: the group sets it holds. */
static int refill_batch(struct nft_batch *b, const struct knet_sg_task *t, const struct name_list *have)
{
        struct name_list want = { 0 };
        int r;

        nft_put_chain_flush(b, NFPROTO_INET, KNET_SG_TABLE, "task_in");
        nft_put_chain_flush(b, NFPROTO_INET, KNET_SG_TABLE, "task_out");
        nft_put_chain_flush(b, NFPROTO_INET, KNET_SG_TABLE, "task_fwd");
        if ((r = sg_sets_fill(b, t->in, true, true)) < 0 || (r = sg_sets_fill(b, t->out, false, true)) < 0 ||
            (r = group_set_names(t, &want)) < 0)
                goto out;
        /* sets of groups no rule names any more: their rules were flushed above */
        for (size_t i = 0; i < have->n; i++)
                if (!name_list_has(&want, have->v[i]))
                        nft_put_set_del(b, NFPROTO_INET, KNET_SG_TABLE, have->v[i]);
        if ((r = group_sets_put(b, t, have)) < 0)
                goto out;
        task_chain_rules(b, t, true);
        task_chain_rules(b, t, false);
        forward_chain_rules(b, t);
out:
        name_list_free(&want);
        return r;
}

int knet_sg_task_refill(struct knet *k, const struct knet_sg_task *t, struct err *err)
{
        struct name_list have = { 0 };
        struct nft_batch b;
        struct nlc *nf;
        int r;

        if ((r = task_nf(k, t->netns, &nf, err)) < 0)
                return r;
        if ((r = group_sets_have(nf, &have, err)) < 0) {
                if (r != -ENOENT)
                        knet_nf_forget(k, t->netns);
                name_list_free(&have);
                return r;
        }
        nft_batch_init(&b, nf);
        r = refill_batch(&b, t, &have);
        name_list_free(&have);
        if (r < 0) {
                nft_batch_fini(&b);
                return err_set(err, -r, NULL, "build nftables batch for netns '%s': %s", t->netns, strerror(-r));
        }
        return task_run(k, t->netns, &b, err);
}

int knet_sg_task_members(struct knet *k, const char *netns, uint32_t ip, const struct knet_sg_member *m, size_t n,
                         struct err *err)
{
        struct nft_elem e = { .len = 4 };
        char name[SET_NAME_MAX];
        struct nft_batch b;
        struct nlc *nf;
        int r;

        if (n == 0)
                return 0;
        if ((r = task_nf(k, netns, &nf, err)) < 0)
                return r;
        be32_at(e.key, ip);
        nft_batch_init(&b, nf);
        for (size_t i = 0; i < n; i++) {
                member_set_name(name, m[i].group);
                if (m[i].add)
                        nft_put_elems(&b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, NFPROTO_INET, KNET_SG_TABLE, name, 0, &e, 1);
                else
                        nft_put_elems(&b, NFT_MSG_DESTROYSETELEM_, 0, NFPROTO_INET, KNET_SG_TABLE, name, 0, &e, 1);
        }
        return task_run(k, netns, &b, err);
}

int knet_sg_task_remove(struct knet *k, const char *netns, struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct nft_batch b;
        struct nlc *nf;
        int r;

        if ((r = knet_sock_for(k, netns, NETLINK_NETFILTER, &nf, &tmp, err)) < 0)
                return r;
        nft_batch_init(&b, nf);
        nft_put_table(&b, NFT_MSG_DESTROYTABLE_, NFPROTO_INET, KNET_SG_TABLE, NULL, 0);
        nft_put_table(&b, NFT_MSG_DESTROYTABLE_, NFPROTO_NETDEV, KNET_SG_TABLE, NULL, 0);
        r = nft_batch_run(&b, err);
        if (!tmp)
                knet_nf_forget(k, netns);    /* the tables are gone: nothing here needs a kept socket */
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
                c->tagged = tag && len == sizeof SG_LAYOUT_TAG && memcmp(tag, SG_LAYOUT_TAG, len) == 0;
        }
        nftnl_table_free(t);
        return 0;
}

static int count_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct dump_ctx *c = ud;
        c->count++;
        return 0;
}

/* One GET of table `family` ecsbox, or a dump of its rules or sets; cb sees each answer. -ENOENT (with err) when missing. */
static int nft_get(struct nlc *s, uint16_t type, uint16_t family, nlc_cb_t cb, void *ud, struct err *err)
{
        char buf[512] __attribute__((aligned(8)));
        bool dump = type == NFT_MSG_GETRULE || type == NFT_MSG_GETSET;
        struct nlmsghdr *nlh = nft_req(buf, type, family, dump ? NLM_F_DUMP : 0);
        char what[64];

        if (type == NFT_MSG_GETTABLE) {
                struct nftnl_table *t = nftnl_table_alloc();
                if (!t)
                        return err_set(err, ENOMEM, NULL, "nftables request: %s", strerror(ENOMEM));
                nftnl_table_set_str(t, NFTNL_TABLE_NAME, KNET_SG_TABLE);
                nftnl_table_nlmsg_build_payload(nlh, t);
                nftnl_table_free(t);
                snprintf(what, sizeof what, "get table %s " KNET_SG_TABLE, nft_family_name(family));
        } else if (type == NFT_MSG_GETRULE) {
                struct nftnl_rule *rl = nftnl_rule_alloc();
                if (!rl)
                        return err_set(err, ENOMEM, NULL, "nftables request: %s", strerror(ENOMEM));
                nftnl_rule_set_str(rl, NFTNL_RULE_TABLE, KNET_SG_TABLE);
                nftnl_rule_nlmsg_build_payload(nlh, rl);
                nftnl_rule_free(rl);
                snprintf(what, sizeof what, "list rules of table %s " KNET_SG_TABLE, nft_family_name(family));
        } else {
                struct nftnl_set *st = nftnl_set_alloc();
                if (!st)
                        return err_set(err, ENOMEM, NULL, "nftables request: %s", strerror(ENOMEM));
                nftnl_set_set_str(st, NFTNL_SET_TABLE, KNET_SG_TABLE);
                nftnl_set_nlmsg_build_payload(nlh, st);
                nftnl_set_free(st);
                snprintf(what, sizeof what, "list sets of table %s " KNET_SG_TABLE, nft_family_name(family));
        }
        return nlc_call(s, nlh, cb, ud, what, err);
}

struct set_names_ctx {
        struct name_list *l;
        int r;
};

static int set_name_cb(const struct nlmsghdr *nlh, void *ud)
{
        struct set_names_ctx *c = ud;
        struct nftnl_set *st = nftnl_set_alloc();
        const char *name;

        if (st && nftnl_set_nlmsg_parse(nlh, st) == 0 && (name = nftnl_set_get_str(st, NFTNL_SET_NAME)) &&
            (!strncmp(name, "m_", 2) || !strncmp(name, "gp_", 3)) && c->r == 0)
                c->r = name_list_add(c->l, name);
        nftnl_set_free(st);
        return 0;
}

/* The peer-group sets (m_*, gp_*) table inet ecsbox holds. -ENOENT (with err) when the table is missing. */
static int group_sets_have(struct nlc *s, struct name_list *ret, struct err *err)
{
        struct set_names_ctx c = { ret, 0 };
        struct dump_ctx t = { 0 };
        int r;

        /* a dump of a missing table's sets is empty, not an error: ask for the table first */
        if ((r = nft_get(s, NFT_MSG_GETTABLE, NFPROTO_INET, table_cb, &t, err)) < 0)
                return r;
        for (int tries = 0;; tries++) {
                r = nft_get(s, NFT_MSG_GETSET, NFPROTO_INET, set_name_cb, &c, err);
                if (r != -EINTR || tries == 2)
                        break;
                err_clear(err);
                ret->n = 0;
        }
        if (r == 0 && c.r < 0)
                r = err_set(err, -c.r, NULL, "list sets of table inet " KNET_SG_TABLE ": %s", strerror(-c.r));
        return r;
}

int knet_sg_task_exists(struct knet *k, const char *netns, struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct dump_ctx c = { 0 };
        struct nlc *nf;
        int r;

        /* any netns, netd's or not: a socket for this call only, unless one is kept already */
        if ((r = knet_sock_for(k, netns, NETLINK_NETFILTER, &nf, &tmp, err)) < 0)
                return r;
        r = nft_get(nf, NFT_MSG_GETTABLE, NFPROTO_INET, table_cb, &c, err);
        if (r == -ENOENT) {
                err_clear(err);
                return 0;
        }
        if (r < 0)
                return r;
        return c.count > 0;
}

/* The number of rules task_batch makes, counted on a batch that is never sent. */
static int task_rule_count(const struct knet_sg_task *t, int *ret)
{
        struct nft_batch b;
        int r;

        nft_batch_init(&b, NULL);
        r = task_batch(&b, t);
        *ret = b.rules;
        nft_batch_fini(&b);
        return r;
}

int knet_sg_task_check(struct knet *k, const struct knet_sg_task *t, struct err *err)
{
        struct dump_ctx c = { 0 }, rules = { 0 }, nd = { 0 }, ndrules = { 0 };
        struct nlc *nf;
        int want, r;

        if ((r = task_rule_count(t, &want)) < 0)
                return err_set(err, -r, NULL, "netns '%s': %s", t->netns, strerror(-r));
        if ((r = task_nf(k, t->netns, &nf, err)) < 0)
                return r;
        r = nft_get(nf, NFT_MSG_GETTABLE, NFPROTO_INET, table_cb, &c, err);
        if (r == 0)
                r = nft_get(nf, NFT_MSG_GETTABLE, NFPROTO_NETDEV, table_cb, &nd, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, NULL, "netns '%s' lacks its " KNET_SG_TABLE " tables", t->netns);
        if (r < 0)
                return r;
        if (!c.tagged || !nd.tagged)
                return err_set(err, ESTALE, NULL, "netns '%s': table " KNET_SG_TABLE " was not made by this netd", t->netns);
        if ((r = nft_get(nf, NFT_MSG_GETRULE, NFPROTO_INET, count_cb, &rules, err)) < 0 ||
            (r = nft_get(nf, NFT_MSG_GETRULE, NFPROTO_NETDEV, count_cb, &ndrules, err)) < 0)
                return r;
        if (rules.count + ndrules.count != want)
                return err_set(err, ESTALE, NULL, "netns '%s': " KNET_SG_TABLE " tables hold %d rules, not %d", t->netns,
                               rules.count + ndrules.count, want);
        return 0;
}
