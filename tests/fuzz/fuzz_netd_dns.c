/* fuzz_netd_dns.c: the VPC resolver's answer path (netd/dns/answer.c) on arbitrary messages: a query,
 * parsed by ldns, answered from a view with a private zone, or forwarded; every answer must parse back
 * as a response to the same id within the size the client takes. Also the request decoders of the
 * DNS operations (netd/dns/dns_req.c) on the same bytes read as JSON. */
#include <jansson.h>
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../netd/dns/answer.h"
#include "../../netd/dns/dns_req.h"

static json_t *rrsets;

static const char *zone_of(void *ud, const char *name)
{
        return dns_name_in(name, "corp.local") ? "corp.local" : NULL;
}

static json_t *rrset(void *ud, const char *name, const char *type)
{
        char key[400];
        snprintf(key, sizeof key, "%s/%s", type, name);
        return json_object_get(rrsets, key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct dns_view v = { .domain = "ec2.internal", .hostnames = size & 1, .zone_of = zone_of, .rrset = rrset };
        uint8_t *ans = NULL;
        size_t len = 0, max = size > 0 && (data[0] & 1) ? 512 : 65535;
        enum dns_verdict verdict;

        if (!rrsets) {
                json_t *many = json_array();
                for (int i = 0; i < 40; i++) {
                        char ip[32];
                        snprintf(ip, sizeof ip, "10.1.0.%d", i + 1);
                        json_array_append_new(many, json_string(ip));
                }
                rrsets = json_pack("{s:{s:i, s:o}, s:{s:i, s:[s]}, s:{s:i, s:[s]}}", "A/web.corp.local", "Ttl", 10, "Records", many,
                                   "SRV/web.corp.local", "Ttl", 10, "Records", "1 1 80 a.web.corp.local.",
                                   "TXT/t.corp.local", "Ttl", 60, "Records", "\"hello\"");
        }
        (void) cidr4_parse("172.31.0.0/16", &v.cidr);
        verdict = dns_answer(&v, data, size, max, &ans, &len);
        if (verdict == DNS_ANSWER) {
                ldns_pkt *p = NULL;
                if (!ans || len > max || len < LDNS_HEADER_SIZE || ldns_wire2pkt(&p, ans, len) != LDNS_STATUS_OK)
                        abort();
                if (!ldns_pkt_qr(p) || ldns_pkt_id(p) != dns_get_id(data, size))
                        abort();
                ldns_pkt_free(p);
        } else if (ans)
                abort();
        free(ans);
        if (size >= LDNS_HEADER_SIZE && dns_servfail(data, size, &ans, &len) == 0)
                free(ans);
        (void) dns_udp_limit(data, size);

        /* the same bytes as a request of the DNS operations */
        json_t *req = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
        if (req) {
                struct err err = { 0 };
                struct dns_records_req rq;
                struct dns_zone_req zq;
                struct dns_modify_attr_req mq;
                struct dns_describe_attr_req dq;
                const char *vpc;
                if (dns_records_req_decode(req, true, &rq, &err) == 0 && (!rq.type || !rq.vpc_id || strlen(rq.name) >= DNS_NAME_MAX))
                        abort();
                (void) dns_records_req_decode(req, false, &rq, &err);
                (void) dns_zone_req_decode(req, &zq, &err);
                (void) dns_modify_attr_req_decode(req, &mq, &err);
                (void) dns_describe_attr_req_decode(req, &dq, &err);
                (void) dns_list_req_decode(req, &vpc, &err);
                json_decref(req);
        }
        return 0;
}
