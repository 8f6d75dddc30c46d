/* netd_dns_test.c: the VPC resolver's pure parts: answers (netd/dns/answer.c) to queries built with ldns,
 * names, record data, the upstream list, and the DNS operations' request decoders (netd/dns/dns_req.c). */
#include <errno.h>
#include <ldns/ldns.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../netd/dns/answer.h"
#include "../../netd/dns/dns_req.h"
#include "../../netd/dns/forward.h"

static json_t *sets;

static const char *zone_of(void *ud, const char *name)
{
        return dns_name_in(name, "corp.local") ? "corp.local" : NULL;
}

static json_t *rrset(void *ud, const char *name, const char *type)
{
        char key[400];
        snprintf(key, sizeof key, "%s/%s", type, name);
        return json_object_get(sets, key);
}

static struct dns_view view(bool hostnames)
{
        struct dns_view v = { .domain = "ec2.internal", .hostnames = hostnames, .zone_of = zone_of, .rrset = rrset };
        assert_int_equal(cidr4_parse("172.31.0.0/16", &v.cidr), 0);
        return v;
}

/* A query for name/type, answered by v: the verdict, and the answer parsed into *ret (or NULL). */
static enum dns_verdict ask(const struct dns_view *v, const char *name, ldns_rr_type type, bool edns, size_t max, ldns_pkt **ret)
{
        ldns_pkt *q = NULL;
        uint8_t *wire = NULL, *ans = NULL;
        size_t wlen = 0, alen = 0;
        enum dns_verdict verdict;
        assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD), LDNS_STATUS_OK);
        ldns_pkt_set_id(q, 4242);
        if (edns)
                ldns_pkt_set_edns_udp_size(q, 4096);
        assert_int_equal(ldns_pkt2wire(&wire, q, &wlen), LDNS_STATUS_OK);
        verdict = dns_answer(v, wire, wlen, max, &ans, &alen);
        *ret = NULL;
        if (verdict == DNS_ANSWER) {
                assert_true(alen <= max);
                assert_int_equal(ldns_wire2pkt(ret, ans, alen), LDNS_STATUS_OK);
                assert_int_equal(ldns_pkt_id(*ret), 4242);
                assert_true(ldns_pkt_qr(*ret));
                assert_true(ldns_pkt_rd(*ret));
        } else
                assert_null(ans);
        if (edns && verdict == DNS_ANSWER)
                assert_int_equal(dns_udp_limit(wire, wlen), 1232);
        free(wire);
        free(ans);
        ldns_pkt_free(q);
        return verdict;
}

static char *first_rdata(ldns_pkt *p)
{
        ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
        assert_non_null(rr);
        return ldns_rdf2str(ldns_rr_rdf(rr, 0));
}

static void test_ip_names_and_ptr(void **state)
{
        struct dns_view v = view(true), off = view(false);
        ldns_pkt *a;
        char *s;

        assert_int_equal(ask(&v, "IP-172-31-5-9.ec2.internal.", LDNS_RR_TYPE_A, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
        assert_true(ldns_pkt_aa(a));
        assert_int_equal(ldns_pkt_ancount(a), 1);
        assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), 60);
        s = first_rdata(a);
        assert_string_equal(s, "172.31.5.9");
        /* the answer's owner keeps the question's spelling (0x20-safe) */
        char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(a), 0)));
        assert_string_equal(owner, "IP-172-31-5-9.ec2.internal.");
        free(owner);
        free(s);
        ldns_pkt_free(a);

        assert_int_equal(ask(&v, "9.5.31.172.in-addr.arpa.", LDNS_RR_TYPE_PTR, false, 512, &a), DNS_ANSWER);
        s = first_rdata(a);
        assert_string_equal(s, "ip-172-31-5-9.ec2.internal.");
        free(s);
        ldns_pkt_free(a);

        /* NODATA: the name exists, not the type; the SOA in authority */
        assert_int_equal(ask(&v, "ip-172-31-5-9.ec2.internal.", LDNS_RR_TYPE_AAAA, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
        assert_int_equal(ldns_pkt_ancount(a), 0);
        assert_int_equal(ldns_pkt_nscount(a), 1);
        ldns_pkt_free(a);

        /* outside the CIDR, leading zeros, octets > 255, another domain's ip- name */
        static const char *const nx[] = { "ip-10-0-0-1.ec2.internal.", "ip-172-31-05-9.ec2.internal.",
                                          "ip-172-31-256-9.ec2.internal.", "foo.ec2.internal.", "ip-172-31-5-9.x.ec2.internal." };
        for (size_t i = 0; i < sizeof nx / sizeof nx[0]; i++) {
                assert_int_equal(ask(&v, nx[i], LDNS_RR_TYPE_A, false, 512, &a), DNS_ANSWER);
                assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
                assert_true(ldns_pkt_aa(a));
                ldns_pkt_free(a);
        }
        /* hostnames off: no ip- names, no PTRs */
        assert_int_equal(ask(&off, "ip-172-31-5-9.ec2.internal.", LDNS_RR_TYPE_A, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        ldns_pkt_free(a);
        assert_int_equal(ask(&off, "9.5.31.172.in-addr.arpa.", LDNS_RR_TYPE_PTR, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        ldns_pkt_free(a);
        /* private reverse space outside the VPC: local NXDOMAIN; public reverse space: forwarded */
        assert_int_equal(ask(&v, "1.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        ldns_pkt_free(a);
        assert_int_equal(ask(&v, "8.8.8.8.in-addr.arpa.", LDNS_RR_TYPE_PTR, false, 512, &a), DNS_FORWARD);
        assert_int_equal(ask(&v, "www.example.com.", LDNS_RR_TYPE_A, false, 512, &a), DNS_FORWARD);
}

static void test_zone_multivalue_truncation(void **state)
{
        struct dns_view v = view(true);
        ldns_pkt *a;
        json_t *many = json_array();
        for (int i = 0; i < 30; i++) {
                char ip[32];
                snprintf(ip, sizeof ip, "10.1.0.%d", i + 1);
                json_array_append_new(many, json_string(ip));
        }
        json_t *srv = json_array();
        for (int i = 0; i < 30; i++) {
                char r[128];
                snprintf(r, sizeof r, "1 1 8080 task-%02d-with-a-long-name-for-the-size.web.corp.local.", i);
                json_array_append_new(srv, json_string(r));
        }
        sets = json_pack("{s:{s:i, s:o}, s:{s:i, s:o}}", "A/web.corp.local", "Ttl", 15, "Records", many, "SRV/big.corp.local",
                         "Ttl", 15, "Records", srv);

        assert_int_equal(ask(&v, "web.corp.local.", LDNS_RR_TYPE_A, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_ancount(a), DNS_MULTIVALUE_MAX);
        assert_true(ldns_pkt_aa(a));
        assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(a), 0)), 15);
        ldns_pkt_free(a);
        /* 8 SRV records of this size do not fit 512 bytes: TC, nothing but the question */
        assert_int_equal(ask(&v, "big.corp.local.", LDNS_RR_TYPE_SRV, false, 512, &a), DNS_ANSWER);
        assert_true(ldns_pkt_tc(a));
        assert_int_equal(ldns_pkt_ancount(a), 0);
        assert_int_equal(ldns_pkt_qdcount(a), 1);
        ldns_pkt_free(a);
        assert_int_equal(ask(&v, "big.corp.local.", LDNS_RR_TYPE_SRV, true, 1232, &a), DNS_ANSWER);
        assert_false(ldns_pkt_tc(a));
        assert_int_equal(ldns_pkt_ancount(a), DNS_MULTIVALUE_MAX);
        ldns_pkt_free(a);
        /* NXDOMAIN in the zone, NODATA at the apex, SOA at the apex */
        assert_int_equal(ask(&v, "nope.corp.local.", LDNS_RR_TYPE_A, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NXDOMAIN);
        ldns_pkt_free(a);
        assert_int_equal(ask(&v, "corp.local.", LDNS_RR_TYPE_A, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_get_rcode(a), LDNS_RCODE_NOERROR);
        assert_int_equal(ldns_pkt_ancount(a), 0);
        ldns_pkt_free(a);
        assert_int_equal(ask(&v, "corp.local.", LDNS_RR_TYPE_SOA, false, 512, &a), DNS_ANSWER);
        assert_int_equal(ldns_pkt_ancount(a), 1);
        ldns_pkt_free(a);
        json_decref(sets);
        sets = NULL;
}

static void test_bad_messages(void **state)
{
        struct dns_view v = view(true);
        uint8_t *ans = NULL, junk[20] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x05 };
        size_t len = 0;
        ldns_pkt *p = NULL;
        /* too short: dropped; a response: dropped; garbage with a header: FORMERR with its id */
        assert_int_equal(dns_answer(&v, junk, 5, 512, &ans, &len), DNS_DROP);
        junk[2] = 0x81;
        assert_int_equal(dns_answer(&v, junk, sizeof junk, 512, &ans, &len), DNS_DROP);
        junk[2] = 0x01;
        assert_int_equal(dns_answer(&v, junk, sizeof junk, 512, &ans, &len), DNS_ANSWER);
        assert_int_equal(ldns_wire2pkt(&p, ans, len), LDNS_STATUS_OK);
        assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
        assert_int_equal(ldns_pkt_id(p), 0x1234);
        ldns_pkt_free(p);
        free(ans);
        dns_set_id(junk, sizeof junk, 7);
        assert_int_equal(dns_get_id(junk, sizeof junk), 7);
}

static void test_names_rdata_upstreams(void **state)
{
        char buf[DNS_NAME_MAX];
        struct sockaddr_storage ss[DNS_FWD_MAX_UPSTREAMS];
        socklen_t sl[DNS_FWD_MAX_UPSTREAMS];
        size_t n = 0;
        char l64[80];
        assert_int_equal(dns_name_normalize("Corp.Local.", buf), 0);
        assert_string_equal(buf, "corp.local");
        memset(l64, 'a', 64);
        strcpy(l64 + 64, ".local");
        assert_int_equal(dns_name_normalize(l64, buf), -EINVAL);
        assert_int_equal(dns_name_normalize("a..b", buf), -EINVAL);
        assert_int_equal(dns_name_normalize("", buf), -EINVAL);
        assert_int_equal(dns_name_normalize("a b.c", buf), -EINVAL);
        assert_true(dns_name_in("x.corp.local", "corp.local"));
        assert_true(dns_name_in("corp.local", "corp.local"));
        assert_false(dns_name_in("xcorp.local", "corp.local"));
        assert_int_equal(dns_rdata_check("A", "10.0.0.1"), 0);
        assert_int_equal(dns_rdata_check("A", "10.0.0.256"), -EINVAL);
        assert_int_equal(dns_rdata_check("SRV", "1 1 80 a.b."), 0);
        assert_int_equal(dns_rdata_check("SRV", "1 1 a.b."), -EINVAL);
        assert_int_equal(dns_rdata_check("AAAA", "fd00::1"), 0);
        assert_int_equal(dns_rdata_check("A", "10.0.0.1\n; x"), -EINVAL);
        assert_int_equal(dns_fwd_parse("10.0.0.2,[fd00::53]:5353,127.0.0.1:53", ss, sl, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(ss[1].ss_family, AF_INET6);
        assert_int_equal(ntohs(((struct sockaddr_in6 *) &ss[1])->sin6_port), 5353);
        assert_int_equal(dns_fwd_parse("10.0.0.2:0", ss, sl, &n), -EINVAL);
        assert_int_equal(dns_fwd_parse("host.example", ss, sl, &n), -EINVAL);
        assert_int_equal(dns_fwd_parse("1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4", ss, sl, &n), -E2BIG);
}

static json_t *load(const char *text)
{
        json_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        return j;
}

#define VPC "\"VpcId\":\"vpc-0123456789abcdef0\""

static void test_request_decoders(void **state)
{
        struct err err = { 0 };
        struct dns_modify_attr_req m;
        struct dns_describe_attr_req d;
        struct dns_records_req r;
        struct dns_zone_req z;
        json_t *j;

        j = load("{\"Action\":\"ModifyVpcAttribute\"," VPC ",\"EnableDnsHostnames\":{\"Value\":true}}");
        assert_int_equal(dns_modify_attr_req_decode(j, &m, &err), 0);
        assert_int_equal(m.attr, DNS_ATTR_HOSTNAMES);
        assert_true(m.value);
        json_decref(j);
        j = load("{\"Action\":\"ModifyVpcAttribute\"," VPC ",\"EnableDnsHostnames\":{\"Value\":1}}");
        assert_true(dns_modify_attr_req_decode(j, &m, &err) < 0);
        json_decref(j);
        j = load("{\"Action\":\"ModifyVpcAttribute\"," VPC "}");
        assert_true(dns_modify_attr_req_decode(j, &m, &err) < 0);
        assert_string_equal(err.code, "MissingParameter");
        json_decref(j);
        j = load("{\"Action\":\"DescribeVpcAttribute\"," VPC ",\"Attribute\":\"enableDnsSupport\"}");
        assert_int_equal(dns_describe_attr_req_decode(j, &d, &err), 0);
        assert_string_equal(dns_attr_member(d.attr), "EnableDnsSupport");
        json_decref(j);
        j = load("{\"Action\":\"DescribeVpcAttribute\",\"VpcId\":\"vpc-x\",\"Attribute\":\"enableDnsSupport\"}");
        assert_true(dns_describe_attr_req_decode(j, &d, &err) < 0);
        assert_string_equal(err.code, "InvalidVpcID.Malformed");
        json_decref(j);
        j = load("{\"Action\":\"PutDnsRecords\"," VPC ",\"Name\":\"Web.Corp.Local\",\"Type\":\"A\",\"Records\":[\"10.0.0.1\"]}");
        assert_int_equal(dns_records_req_decode(j, true, &r, &err), 0);
        assert_string_equal(r.name, "web.corp.local");
        assert_int_equal(r.ttl, 60);
        json_decref(j);
        j = load("{\"Action\":\"PutDnsRecords\"," VPC ",\"Name\":\"w.corp.local\",\"Type\":\"A\",\"Records\":[\"x\"]}");
        assert_true(dns_records_req_decode(j, true, &r, &err) < 0);
        assert_string_equal(err.code, "InvalidParameterValue");
        assert_non_null(strstr(err.msg, "Records[0] of w.corp.local A"));
        json_decref(j);
        j = load("{\"Action\":\"DeleteDnsRecords\"," VPC ",\"Name\":\"w.corp.local\",\"Type\":\"A\",\"Ttl\":5}");
        assert_true(dns_records_req_decode(j, false, &r, &err) < 0);
        json_decref(j);
        j = load("{\"Action\":\"PutDnsZone\"," VPC ",\"Name\":\"local\"}");
        assert_true(dns_zone_req_decode(j, &z, &err) < 0);
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ip_names_and_ptr),
                cmocka_unit_test(test_zone_multivalue_truncation),
                cmocka_unit_test(test_bad_messages),
                cmocka_unit_test(test_names_rdata_upstreams),
                cmocka_unit_test(test_request_decoders),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
