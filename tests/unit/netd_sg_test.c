/* netd_sg_test.c: IpPermissions parsing and normalising, the shape back, the disjoint set elements of CIDR rules and the peer groups of group rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/cidr.h"
#include "../../netd/sg_rules.h"

static json_t *parse_ok(const char *perms, bool egress)
{
        json_error_t jerr;
        json_t *p = json_loads(perms, 0, &jerr), *rules = NULL;
        struct err err = { 0 };
        assert_non_null(p);
        assert_int_equal(sg_perms_parse(p, egress, &rules, &err), 0);
        json_decref(p);
        return rules;
}

static const char *parse_err(const char *perms)
{
        static struct err err;
        json_t *p = json_loads(perms, 0, NULL), *rules = NULL;
        memset(&err, 0, sizeof err);
        assert_non_null(p);
        assert_true(sg_perms_parse(p, false, &rules, &err) < 0);
        assert_null(rules);
        assert_true(err.msg[0] != '\0');
        json_decref(p);
        return err.code;
}

static void test_protocols_normalised(void **state)
{
        json_t *r = parse_ok("[{\"IpProtocol\": \"6\", \"FromPort\": 80, \"ToPort\": 80, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"UDP\", \"FromPort\": \"53\", \"ToPort\": 53, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"1\", \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"all\", \"FromPort\": 5, \"ToPort\": 9, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]},"
                             " {\"IpProtocol\": 47, \"FromPort\": 1, \"ToPort\": 2, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0123456789abcdef0\"}]}]",
                             false);
        assert_int_equal(json_array_size(r), 5);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "IpProtocol")), "tcp");
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 1), "IpProtocol")), "udp");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 1), "FromPort")), 53);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 2), "IpProtocol")), "icmp");
        /* icmp without ports: any type, any code */
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 2), "FromPort")), -1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 3), "IpProtocol")), "-1");
        /* ports of -1 and other protocols are ignored, as on AWS */
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 3), "FromPort")), -1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 4), "IpProtocol")), "47");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 4), "ToPort")), -1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 4), "GroupId")), "sg-0123456789abcdef0");
        json_decref(r);
        /* fuzz_netd_request: "06", "017", "01" were kept as protocols 6, 17, 1 with their ports dropped, so
         * "06" with FromPort/ToPort 22 let every TCP port through; by number they are tcp, udp and icmp */
        r = parse_ok("[{\"IpProtocol\": \"06\", \"FromPort\": 22, \"ToPort\": 22, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                     " {\"IpProtocol\": \"017\", \"FromPort\": 53, \"ToPort\": 53, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                     " {\"IpProtocol\": \"01\", \"FromPort\": 8, \"ToPort\": 0, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                     " {\"IpProtocol\": \"047\", \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]}]", false);
        assert_int_equal(json_array_size(r), 4);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "IpProtocol")), "tcp");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "FromPort")), 22);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "ToPort")), 22);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 1), "IpProtocol")), "udp");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 1), "ToPort")), 53);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 2), "IpProtocol")), "icmp");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 2), "FromPort")), 8);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 3), "IpProtocol")), "47");
        json_decref(r);
        /* and "06" without ports is refused as "tcp" without ports is */
        assert_string_equal(parse_err("[{\"IpProtocol\": \"06\", \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]}]"), SG_ERR_MALFORMED);
}

static void test_one_rule_per_peer_and_keys(void **state)
{
        json_t *r = parse_ok("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1000, \"ToPort\": 2000, \"IpRanges\": "
                             "[{\"CidrIp\": \"10.0.0.0/8\", \"Description\": \"lan\"}, {\"CidrIp\": \"192.168.1.0/24\"}],"
                             " \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0123456789abcdef0\"}]}]", true);
        char key[160];
        assert_int_equal(json_array_size(r), 3);
        sg_rule_key(json_array_get(r, 0), key, sizeof key);
        assert_string_equal(key, "out|tcp|1000|2000|cidr:10.0.0.0/8");
        sg_rule_key(json_array_get(r, 2), key, sizeof key);
        assert_string_equal(key, "out|tcp|1000|2000|group:sg-0123456789abcdef0");
        assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "Description")), "lan");
        json_decref(r);
}

static void test_bad_permissions(void **state)
{
        assert_string_equal(parse_err("[]"), "MissingParameter");
        assert_string_equal(parse_err("[{\"FromPort\": 1}]"), "MissingParameter");
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcpx\", \"FromPort\": 1, \"ToPort\": 1, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"256\", \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 9, \"ToPort\": 8, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"udp\", \"FromPort\": -1, \"ToPort\": 8, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"udp\", \"FromPort\": 1, \"ToPort\": 65536, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"icmp\", \"FromPort\": -1, \"ToPort\": 0, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"icmp\", \"FromPort\": 256, \"ToPort\": -1, \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1}]"), SG_ERR_MALFORMED);
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, \"IpRanges\": [{\"CidrIp\": \"10.0.0.1/8\"}]}]"), "InvalidParameterValue");
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, \"IpRanges\": [{\"CidrIp\": \"banana\"}]}]"), "InvalidParameterValue");
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-x\"}]}]"), "InvalidGroupId.Malformed");
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, \"Ipv6Ranges\": [{\"CidrIpv6\": \"::/0\"}]}]"), "InvalidParameterValue");
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, \"Bogus\": 1}]"), "UnknownParameter");
        assert_string_equal(parse_err("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1, \"ToPort\": 1, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}, {\"CidrIp\": \"10.0.0.0/8\"}]}]"),
                            "InvalidPermission.Duplicate");
        assert_string_equal(parse_err("[7]"), SG_ERR_MALFORMED);
}

static void test_rules_back_to_permissions(void **state)
{
        json_t *r = parse_ok("[{\"IpProtocol\": \"tcp\", \"FromPort\": 80, \"ToPort\": 80, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"6\", \"FromPort\": 80, \"ToPort\": 80, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0123456789abcdef0\"}]},"
                             " {\"IpProtocol\": \"-1\", \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]", false);
        json_t *p = sg_rules_to_perms(r, false), *e = sg_rules_to_perms(r, true);
        assert_int_equal(json_array_size(p), 2);
        assert_int_equal(json_array_size(json_object_get(json_array_get(p, 0), "IpRanges")), 1);
        assert_int_equal(json_array_size(json_object_get(json_array_get(p, 0), "UserIdGroupPairs")), 1);
        assert_null(json_object_get(json_array_get(p, 1), "FromPort"));
        assert_int_equal(json_array_size(e), 0);
        json_decref(p);
        json_decref(e);
        json_decref(r);
}

static bool covered(const struct sg_boxes *b, uint32_t x, uint32_t y)
{
        int hits = 0;
        for (size_t i = 0; i < b->n; i++)
                if (b->v[i].xlo <= x && x <= b->v[i].xhi && b->v[i].ylo <= y && y <= b->v[i].yhi)
                        hits++;
        assert_true(hits <= 1);   /* disjoint: at most one element holds a point */
        return hits == 1;
}

static void test_boxes_disjoint_same_points(void **state)
{
        struct sg_boxes in = { 0 }, out = { 0 };
        /* nested CIDRs with overlapping port ranges, a touching neighbour, the top of the address space */
        sg_boxes_add(&in, 0x0a000000, 0x0affffff, 1000, 1010);
        sg_boxes_add(&in, 0x0a000500, 0x0a0005ff, 1005, 1020);
        sg_boxes_add(&in, 0x0b000000, 0x0bffffff, 1000, 1010);
        sg_boxes_add(&in, 0xffffff00, 0xffffffff, 0, 65535);
        sg_boxes_add(&in, 0x0a000500, 0x0a0005ff, 1005, 1020);   /* exact duplicate */
        assert_int_equal(sg_boxes_disjoint(&in, &out), 0);
        for (uint32_t x = 0x09ffffff; x < 0x0c000001; x += 0x80) {
                for (uint32_t y = 990; y < 1030; y++) {
                        bool want = false;
                        for (size_t i = 0; i < in.n; i++)
                                want |= in.v[i].xlo <= x && x <= in.v[i].xhi && in.v[i].ylo <= y && y <= in.v[i].yhi;
                        assert_int_equal(covered(&out, x, y), want);
                }
        }
        assert_true(covered(&out, 0xffffffff, 65535));
        assert_false(covered(&out, 0xfffffeff, 0));
        /* 10/8 and 11/8 with equal ports became one element; the /24 split 10/8 into three */
        {
                size_t merged = 0;
                for (size_t i = 0; i < out.n; i++)
                        if (out.v[i].xhi == 0x0bffffff && out.v[i].xlo == 0x0a000600)
                                merged++;
                assert_int_equal(merged, 1);
        }
        assert_int_equal(out.n, 4);   /* 10.0.0-4, 10.0.5 (ports merged to 1000-1020), 10.0.6-11.255, top /24 */
        sg_boxes_free(&in);
        sg_boxes_free(&out);
}

static void test_boxes_empty_and_adjacent(void **state)
{
        struct sg_boxes in = { 0 }, out = { 0 };
        assert_int_equal(sg_boxes_disjoint(&in, &out), 0);
        assert_int_equal(out.n, 0);
        /* /32 members next to each other merge into one range */
        for (uint32_t a = 0x0a000104; a < 0x0a00010a; a++)
                sg_boxes_add(&in, a, a, 0, 255);
        assert_int_equal(sg_boxes_disjoint(&in, &out), 0);
        assert_int_equal(out.n, 1);
        assert_int_equal(out.v[0].xlo, 0x0a000104);
        assert_int_equal(out.v[0].xhi, 0x0a000109);
        sg_boxes_free(&in);
        sg_boxes_free(&out);
}

static void test_elements_from_rules(void **state)
{
        json_t *r = parse_ok("[{\"IpProtocol\": \"tcp\", \"FromPort\": 80, \"ToPort\": 80, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"icmp\", \"FromPort\": 8, \"ToPort\": -1, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"icmp\", \"FromPort\": 3, \"ToPort\": 4, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]},"
                             " {\"IpProtocol\": \"icmp\", \"IpRanges\": [{\"CidrIp\": \"1.2.3.4/32\"}]},"
                             " {\"IpProtocol\": \"-1\", \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0123456789abcdef0\"}]},"
                             " {\"IpProtocol\": \"udp\", \"FromPort\": 53, \"ToPort\": 53, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-00000000000000000\"}]}]",
                             false);
        struct sg_dir_elems in = { 0 }, out = { 0 };
        assert_int_equal(sg_dir_elems_build(r, false, &in), 0);
        assert_int_equal(sg_dir_elems_build(r, true, &out), 0);
        assert_int_equal(in.tcp.n, 1);
        assert_int_equal(in.tcp.v[0].xlo, 0x0a000000);
        assert_int_equal(in.tcp.v[0].ylo, 80);
        assert_int_equal(in.udp.n, 0);                  /* the udp rule names a group: not a CIDR box */
        /* icmp type 8 any code -> 0x800-0x8ff; type 3 code 4 -> 0x304 */
        assert_int_equal(in.icmp.n, 2);
        assert_int_equal(in.icmp.v[0].ylo, 0x304);
        assert_int_equal(in.icmp.v[0].yhi, 0x304);
        assert_int_equal(in.icmp.v[1].ylo, 0x800);
        assert_int_equal(in.icmp.v[1].yhi, 0x8ff);
        /* whole ICMP for 1.2.3.4 only: the group's "-1" rule is not folded into the interval sets */
        assert_int_equal(in.proto.n, 1);
        assert_int_equal(in.proto.v[0].xlo, 0x01020304);
        assert_int_equal(in.proto.v[0].ylo, 1);
        assert_int_equal(out.tcp.n + out.udp.n + out.proto.n + out.icmp.n, 0);
        sg_dir_elems_free(&in);
        sg_dir_elems_free(&out);
        json_decref(r);
}

/* Group rules: per peer group its members (sorted, unique) and its merged permissions per direction,
 * apart from the CIDR boxes. */
static void test_peer_groups_from_rules(void **state)
{
        json_t *r = parse_ok("[{\"IpProtocol\": \"tcp\", \"FromPort\": 1000, \"ToPort\": 1010, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000b\"}]},"
                             " {\"IpProtocol\": \"tcp\", \"FromPort\": 1005, \"ToPort\": 1020, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000b\"}]},"
                             " {\"IpProtocol\": \"udp\", \"FromPort\": 53, \"ToPort\": 53, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000b\"}]},"
                             " {\"IpProtocol\": \"icmp\", \"FromPort\": 8, \"ToPort\": -1, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000b\"}]},"
                             " {\"IpProtocol\": \"icmp\", \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000c\"}]},"
                             " {\"IpProtocol\": \"47\", \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000c\"}]},"
                             " {\"IpProtocol\": \"tcp\", \"FromPort\": 80, \"ToPort\": 80, \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}],"
                             "  \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000a\"}]}]",
                             false);
        json_t *out = parse_ok("[{\"IpProtocol\": \"-1\", \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000b\"}]},"
                               " {\"IpProtocol\": \"tcp\", \"FromPort\": 22, \"ToPort\": 22, \"UserIdGroupPairs\": [{\"GroupId\": \"sg-0000000000000000b\"}]}]",
                               true);
        json_t *members = json_pack("{s:[s, s, s, s], s:[s]}", "sg-0000000000000000b", "10.0.1.9", "10.0.1.4", "10.0.1.9", "bad",
                                    "sg-0000000000000000a", "10.0.2.7");
        struct sg_peer_groups g = { 0 };
        struct sg_dir_elems cidr = { 0 };
        const struct sg_peer_group *a, *b, *c;

        json_array_extend(r, out);
        json_decref(out);
        assert_int_equal(sg_peer_groups_build(r, members, &g), 0);
        assert_int_equal(g.n, 3);
        /* sorted by id, found by id */
        assert_string_equal(g.v[0].id, "sg-0000000000000000a");
        assert_string_equal(g.v[2].id, "sg-0000000000000000c");
        a = sg_peer_groups_find(&g, "sg-0000000000000000a");
        b = sg_peer_groups_find(&g, "sg-0000000000000000b");
        c = sg_peer_groups_find(&g, "sg-0000000000000000c");
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        assert_null(sg_peer_groups_find(&g, "sg-0000000000000000d"));
        /* members: sorted, the duplicate and the unparsable one dropped; a group nobody is in has none */
        assert_int_equal(b->n_ips, 2);
        assert_int_equal(b->ips[0], 0x0a000104);
        assert_int_equal(b->ips[1], 0x0a000109);
        assert_int_equal(a->n_ips, 1);
        assert_int_equal(c->n_ips, 0);
        /* b ingress: tcp 1000-1010 and 1005-1020 merged, udp 53, icmp type 8 any code */
        assert_true(b->used[0] && !b->all[0]);
        assert_int_equal(b->perm[0].tcp.n, 1);
        assert_int_equal(b->perm[0].tcp.v[0].ylo, 1000);
        assert_int_equal(b->perm[0].tcp.v[0].yhi, 1020);
        assert_int_equal(b->perm[0].tcp.v[0].xlo, 0);
        assert_int_equal(b->perm[0].tcp.v[0].xhi, 0);
        assert_int_equal(b->perm[0].udp.n, 1);
        assert_int_equal(b->perm[0].icmp.n, 1);
        assert_int_equal(b->perm[0].icmp.v[0].ylo, 0x800);
        assert_int_equal(b->perm[0].icmp.v[0].yhi, 0x8ff);
        assert_int_equal(b->perm[0].proto.n, 0);
        /* b egress: every protocol, which makes the tcp/22 rule moot */
        assert_true(b->used[1] && b->all[1]);
        assert_int_equal(b->perm[1].tcp.n + b->perm[1].udp.n + b->perm[1].proto.n + b->perm[1].icmp.n, 0);
        /* c: all ICMP and GRE are whole protocols */
        assert_true(c->used[0] && !c->used[1] && !c->all[0]);
        assert_int_equal(c->perm[0].proto.n, 2);
        assert_int_equal(c->perm[0].proto.v[0].ylo, 1);
        assert_int_equal(c->perm[0].proto.v[1].ylo, 47);
        /* a: the rule's group peer is here, its CIDR peer only in the CIDR boxes */
        assert_int_equal(a->perm[0].tcp.n, 1);
        assert_int_equal(sg_dir_elems_build(r, false, &cidr), 0);
        assert_int_equal(cidr.tcp.n, 1);
        assert_int_equal(cidr.tcp.v[0].xlo, 0x0a000000);
        assert_int_equal(cidr.udp.n + cidr.proto.n + cidr.icmp.n, 0);
        sg_dir_elems_free(&cidr);
        sg_peer_groups_free(&g);
        assert_int_equal(g.n, 0);
        assert_null(g.v);
        /* no group rules: no groups */
        assert_int_equal(sg_peer_groups_build(out = parse_ok("[{\"IpProtocol\": \"-1\", \"IpRanges\": [{\"CidrIp\": \"0.0.0.0/0\"}]}]", true),
                                              members, &g), 0);
        assert_int_equal(g.n, 0);
        sg_peer_groups_free(&g);
        json_decref(out);
        json_decref(members);
        json_decref(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_protocols_normalised),
                cmocka_unit_test(test_one_rule_per_peer_and_keys),
                cmocka_unit_test(test_bad_permissions),
                cmocka_unit_test(test_rules_back_to_permissions),
                cmocka_unit_test(test_boxes_disjoint_same_points),
                cmocka_unit_test(test_boxes_empty_and_adjacent),
                cmocka_unit_test(test_elements_from_rules),
                cmocka_unit_test(test_peer_groups_from_rules),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
