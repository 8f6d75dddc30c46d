/* sg_rules.h: security group rules without I/O: IpPermissions parsed into flat rules and back, and the
 * set elements a task's nftables sets get from its groups' rules: disjoint boxes for CIDR rules, and
 * per peer group its members and what the rules grant them. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"

#define SG_ERR_MALFORMED "InvalidPermission.Malformed"

/* A flat rule is one permission x one peer, as EC2's SecurityGroupRule:
 *   {"Egress": b, "IpProtocol": "tcp"|"udp"|"icmp"|"-1"|"<0-255>", "FromPort": n, "ToPort": n,
 *    "CidrIp": "a.b.c.d/n" | "GroupId": "sg-...", "Description": "..."}
 * IpProtocol is normalised ("6" -> "tcp", "17" -> "udp", "1" -> "icmp", "all" -> "-1"); FromPort/ToPort are
 * the port range for tcp/udp, ICMP type/code (-1 = any) for icmp, and -1/-1 for every other protocol (AWS
 * ignores ports there). */

/* IpPermissions (a JSON array) -> a new array of flat rules. Checks shapes, protocols, ports and CIDRs;
 * GroupId peers are only checked for shape (the caller checks they exist). Exact duplicates within the
 * request fail with InvalidPermission.Duplicate. */
int sg_perms_parse(json_t *perms, bool egress, json_t **ret_rules, struct err *err);

/* Identity of a flat rule for duplicate / revoke matching ("in|tcp|80|80|cidr:10.0.0.0/8"). */
void sg_rule_key(json_t *rule, char *buf, size_t len);

/* Flat rules of one direction -> EC2 IpPermissions (rules with the same protocol and ports share one
 * permission). New reference. */
json_t *sg_rules_to_perms(json_t *rules, bool egress);

/* ---- set elements ---- */
/* A box: addresses [xlo, xhi] x a second field [ylo, yhi] (port, protocol or ICMP type<<8|code). */
struct sg_box {
        uint32_t xlo, xhi;
        uint32_t ylo, yhi;
};

struct sg_boxes {
        struct sg_box *v;
        size_t n, cap;
};

int sg_boxes_add(struct sg_boxes *b, uint32_t xlo, uint32_t xhi, uint32_t ylo, uint32_t yhi);
void sg_boxes_free(struct sg_boxes *b);

/* Rewrite in as a set of pairwise disjoint boxes covering exactly the same points (the kernel's
 * concatenated interval sets refuse overlapping elements), merging neighbours with equal second
 * ranges. A sweep: O(n log n) when few boxes overlap. */
int sg_boxes_disjoint(const struct sg_boxes *in, struct sg_boxes *out);

/* What one direction of a task's table holds for its CIDR rules (IpRanges), in sets sg_<d>_port/proto/icmp. */
struct sg_dir_elems {
        struct sg_boxes tcp;     /* sg_*_port, protocol 6: x = peer address, y = port */
        struct sg_boxes udp;     /* sg_*_port, protocol 17 */
        struct sg_boxes proto;   /* sg_*_proto: x = peer address, y = protocol (0-255 for "-1") */
        struct sg_boxes icmp;    /* sg_*_icmp: x = peer address, y = type << 8 | code */
};

void sg_dir_elems_free(struct sg_dir_elems *e);

/* Flat rules (both directions may be mixed; only those with Egress == egress count) -> disjoint
 * elements of their CIDR rules. Rules that name a group (UserIdGroupPairs) are not here: see
 * sg_peer_groups_build. */
int sg_dir_elems_build(json_t *rules, bool egress, struct sg_dir_elems *ret);

/* A group named as a peer by a task's rules (UserIdGroupPairs). Its members' addresses live in a set
 * of their own (m_<id>), so a member joining or leaving is one element there; what the rules grant
 * the group is kept apart from them, per direction ([0] ingress, [1] egress). */
#define SG_GROUP_ID_MAX 24
struct sg_peer_group {
        char id[SG_GROUP_ID_MAX];        /* "sg-" + 17 hex */
        uint32_t *ips;                   /* the members' primary addresses, sorted, unique */
        size_t n_ips;
        bool used[2];                    /* some rule of that direction names the group */
        bool all[2];                     /* one of them allows every protocol ("-1"): perm[] stays empty */
        struct sg_dir_elems perm[2];     /* x is 0; y as in sg_dir_elems: ports, protocols, ICMP type<<8|code */
};

struct sg_peer_groups {
        struct sg_peer_group *v;         /* sorted by id */
        size_t n;
};

/* The groups the rules name as peers (both directions), with their members from members
 * ({"sg-...": ["10.0.1.4", ...]}; a group missing there has none) and their merged permissions. */
int sg_peer_groups_build(json_t *rules, json_t *members, struct sg_peer_groups *ret);
void sg_peer_groups_free(struct sg_peer_groups *g);
/* The group of that id, or NULL. */
const struct sg_peer_group *sg_peer_groups_find(const struct sg_peer_groups *g, const char *id);
