/* sg_rules.h: security group rules without I/O: IpPermissions parsed into flat rules and back, and the
 * disjoint set elements a task's nftables sets get from its groups' rules. */
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

/* What one direction of a task's table holds. */
struct sg_dir_elems {
        struct sg_boxes tcp;     /* sg_*_port, protocol 6: x = peer address, y = port */
        struct sg_boxes udp;     /* sg_*_port, protocol 17 */
        struct sg_boxes proto;   /* sg_*_proto: x = peer address, y = protocol (0-255 for "-1") */
        struct sg_boxes icmp;    /* sg_*_icmp: x = peer address, y = type << 8 | code */
};

void sg_dir_elems_free(struct sg_dir_elems *e);

/* Flat rules (both directions may be mixed; only those with Egress == egress count) -> disjoint
 * elements. members: {"sg-...": ["10.0.1.4", ...]} gives the addresses of a peer group; a group
 * missing there has no members. */
int sg_dir_elems_build(json_t *rules, bool egress, json_t *members, struct sg_dir_elems *ret);
