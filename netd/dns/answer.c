/* answer.c: pure: the VPC resolver's own answers, built and parsed with ldns. */
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

#define EDNS_SIZE 1232          /* what the resolver offers and accepts at most over UDP (DNS flag day 2020) */

static const char *const local_types[] = { "A", "AAAA", "SRV", "TXT" };

bool dns_name_in(const char *name, const char *zone)
{
        size_t n = strlen(name), z = strlen(zone);
        if (n == z)
                return strcmp(name, zone) == 0;
        return n > z && name[n - z - 1] == '.' && strcmp(name + n - z, zone) == 0;
}

/* The rdf as a lower-case name without the final dot. */
static int rdf_name(const ldns_rdf *owner, char buf[DNS_NAME_MAX])
{
        ldns_rdf *c = ldns_rdf_clone(owner);
        char *s;
        size_t n;
        if (!c)
                return -ENOMEM;
        ldns_dname2canonical(c);
        s = ldns_rdf2str(c);
        ldns_rdf_deep_free(c);
        if (!s)
                return -ENOMEM;
        n = strlen(s);
        if (n && s[n - 1] == '.')
                s[--n] = 0;
        if (n >= DNS_NAME_MAX) {
                free(s);
                return -EINVAL;
        }
        memcpy(buf, s, n + 1);
        free(s);
        return 0;
}

int dns_question(const uint8_t *q, size_t qlen, char name[DNS_NAME_MAX], uint16_t *ret_type, uint16_t *ret_class, bool *ret_qr)
{
        ldns_pkt *p = NULL;
        ldns_rr *rr;
        int r;
        if (ldns_wire2pkt(&p, q, qlen) != LDNS_STATUS_OK)
                return -EINVAL;
        if (ldns_pkt_qdcount(p) != 1 || !(rr = ldns_rr_list_rr(ldns_pkt_question(p), 0))) {
                ldns_pkt_free(p);
                return -EINVAL;
        }
        r = rdf_name(ldns_rr_owner(rr), name);
        *ret_type = (uint16_t) ldns_rr_get_type(rr);
        *ret_class = (uint16_t) ldns_rr_get_class(rr);
        *ret_qr = ldns_pkt_qr(p);
        ldns_pkt_free(p);
        return r;
}

size_t dns_udp_limit(const uint8_t *q, size_t qlen)
{
        ldns_pkt *p = NULL;
        size_t lim = 512;
        if (ldns_wire2pkt(&p, q, qlen) != LDNS_STATUS_OK)
                return lim;
        if (ldns_pkt_edns(p) && ldns_pkt_edns_udp_size(p) > 512)
                lim = ldns_pkt_edns_udp_size(p) < EDNS_SIZE ? ldns_pkt_edns_udp_size(p) : EDNS_SIZE;
        ldns_pkt_free(p);
        return lim;
}

void dns_set_id(uint8_t *m, size_t len, uint16_t id)
{
        if (len >= 2)
                ldns_write_uint16(m, id);
}

uint16_t dns_get_id(const uint8_t *m, size_t len)
{
        return len >= 2 ? ldns_read_uint16(m) : 0;
}

int dns_name_normalize(const char *in, char buf[DNS_NAME_MAX])
{
        ldns_rdf *d = NULL;
        size_t n = strlen(in);
        int r;
        if (n == 0 || n > 254 || (n == 254 && in[253] != '.') || strstr(in, "..") || in[0] == '.' || strchr(in, '\\') ||
            strchr(in, ' '))
                return -EINVAL;
        for (const char *l = in; *l;) {
                const char *e = strchr(l, '.');
                size_t ll = e ? (size_t) (e - l) : strlen(l);
                if (ll > 63)
                        return -EINVAL;
                if (!e)
                        break;
                l = e + 1;
        }
        if (ldns_str2rdf_dname(&d, in) != LDNS_STATUS_OK)
                return -EINVAL;
        r = rdf_name(d, buf);
        ldns_rdf_deep_free(d);
        return r;
}

int dns_rdata_check(const char *type, const char *rdata)
{
        char line[1200];
        ldns_rr *rr = NULL;
        ldns_status s;
        if (!rdata[0] || strchr(rdata, '\n') || strchr(rdata, ';'))
                return -EINVAL;
        if (snprintf(line, sizeof line, "x.invalid. 60 IN %s %s", type, rdata) >= (int) sizeof line)
                return -EINVAL;
        s = ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL);
        if (s != LDNS_STATUS_OK)
                return -EINVAL;
        ldns_rr_free(rr);
        return 0;
}

/* ---- building answers ---- */

struct reply {
        ldns_pkt *p;
        const ldns_rdf *qowner;         /* the question's name as the client wrote it */
        bool failed;
};

/* name (lower case, no dot), ttl, type, rdata -> the RR pushed into section, owned by the question's
 * spelling when the name is the question's own. */
static void push(struct reply *a, ldns_pkt_section sec, const char *name, bool own, uint32_t ttl, const char *type,
                 const char *rdata)
{
        char line[1400];
        ldns_rr *rr = NULL;
        if (snprintf(line, sizeof line, "%s. %u IN %s %s", name, ttl, type, rdata) >= (int) sizeof line ||
            ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) != LDNS_STATUS_OK) {
                a->failed = true;
                return;
        }
        if (own && a->qowner) {
                ldns_rdf *o = ldns_rdf_clone(a->qowner);
                if (o) {
                        ldns_rdf_deep_free(ldns_rr_owner(rr));
                        ldns_rr_set_owner(rr, o);
                }
        }
        if (!ldns_pkt_push_rr(a->p, sec, rr)) {
                ldns_rr_free(rr);
                a->failed = true;
        }
}

/* The hot path: an A record owned by the question's name, built from its parts (no text RR to parse). */
static void push_a(struct reply *a, uint32_t ttl, const char *ip)
{
        ldns_rr *rr = ldns_rr_new_frm_type(LDNS_RR_TYPE_A);
        ldns_rdf *o = a->qowner ? ldns_rdf_clone(a->qowner) : NULL, *d = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, ip);
        if (!rr || !o || !d) {
                ldns_rr_free(rr);
                ldns_rdf_deep_free(o);
                ldns_rdf_deep_free(d);
                a->failed = true;
                return;
        }
        ldns_rr_set_owner(rr, o);
        ldns_rr_set_ttl(rr, ttl);
        ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
        ldns_rdf_deep_free(ldns_rr_set_rdf(rr, d, 0));
        if (!ldns_pkt_push_rr(a->p, LDNS_SECTION_ANSWER, rr)) {
                ldns_rr_free(rr);
                a->failed = true;
        }
}

static void push_soa(struct reply *a, const char *zone)
{
        char rdata[600];
        snprintf(rdata, sizeof rdata, "ns-0.%s. hostmaster.%s. 1 7200 900 1209600 %u", zone, zone, DNS_LOCAL_TTL);
        push(a, LDNS_SECTION_AUTHORITY, zone, false, DNS_LOCAL_TTL, "SOA", rdata);
}

/* ip-A-B-C-D.<domain> -> the address, when the name is one. */
static bool ip_name(const char *name, const char *domain, uint32_t *ret)
{
        unsigned a, b, c, d;
        int n = 0;
        char ips[32];
        if (sscanf(name, "ip-%3u-%3u-%3u-%3u%n", &a, &b, &c, &d, &n) != 4 || name[n] != '.' || strcmp(name + n + 1, domain) != 0)
                return false;
        snprintf(ips, sizeof ips, "%u.%u.%u.%u", a, b, c, d);
        /* strict: no leading zeros, each octet <= 255 (and the name spelled back the same) */
        char back[64];
        snprintf(back, sizeof back, "ip-%u-%u-%u-%u", a, b, c, d);
        if (strncmp(name, back, (size_t) n) != 0 || strlen(back) != (size_t) n)
                return false;
        return ip4_parse(ips, ret) == 0;
}

/* D.C.B.A.in-addr.arpa -> A.B.C.D */
static bool reverse_name(const char *name, uint32_t *ret)
{
        unsigned o[4];
        int n = 0;
        char ips[32], back[64];
        if (sscanf(name, "%3u.%3u.%3u.%3u%n", &o[3], &o[2], &o[1], &o[0], &n) != 4 || strcmp(name + n, ".in-addr.arpa") != 0)
                return false;
        snprintf(back, sizeof back, "%u.%u.%u.%u", o[3], o[2], o[1], o[0]);
        if (strncmp(name, back, (size_t) n) != 0 || strlen(back) != (size_t) n)
                return false;
        snprintf(ips, sizeof ips, "%u.%u.%u.%u", o[0], o[1], o[2], o[3]);
        return ip4_parse(ips, ret) == 0;
}

static void ip_dashed(uint32_t ip, const char *domain, char *buf, size_t len)
{
        char s[IP4_STR_MAX];
        ip4_format(ip, s);
        for (char *p = s; *p; p++)
                if (*p == '.')
                        *p = '-';
        snprintf(buf, len, "ip-%s.%s", s, domain);
}

/* The reverse zones answered locally (RFC 6303's private ranges, as AWS's autodefined rules do). */
static const char *private_reverse_zone(const char *name)
{
        static const char *const zones[] = {
                "10.in-addr.arpa", "168.192.in-addr.arpa", "16.172.in-addr.arpa", "17.172.in-addr.arpa", "18.172.in-addr.arpa",
                "19.172.in-addr.arpa", "20.172.in-addr.arpa", "21.172.in-addr.arpa", "22.172.in-addr.arpa", "23.172.in-addr.arpa",
                "24.172.in-addr.arpa", "25.172.in-addr.arpa", "26.172.in-addr.arpa", "27.172.in-addr.arpa", "28.172.in-addr.arpa",
                "29.172.in-addr.arpa", "30.172.in-addr.arpa", "31.172.in-addr.arpa", "254.169.in-addr.arpa",
        };
        for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
                if (dns_name_in(name, zones[i]))
                        return zones[i];
        return NULL;
}

/* One RRset of a private zone into the answer: MULTIVALUE, at most 8 records picked at random. */
static bool push_rrset(struct reply *a, const char *name, const char *type, json_t *set)
{
        json_t *recs = json_object_get(set, "Records");
        size_t n = json_array_size(recs), idx[DNS_MULTIVALUE_MAX], k = 0;
        uint32_t ttl = (uint32_t) json_integer_value(json_object_get(set, "Ttl"));
        if (n == 0)
                return false;
        if (n <= DNS_MULTIVALUE_MAX)
                for (k = 0; k < n; k++)
                        idx[k] = k;
        else {
                /* reservoir sampling: 8 of n, each equally likely */
                for (size_t i = 0; i < n; i++) {
                        if (k < DNS_MULTIVALUE_MAX)
                                idx[k++] = i;
                        else {
                                uint32_t j = arc4random_uniform((uint32_t) i + 1);
                                if (j < DNS_MULTIVALUE_MAX)
                                        idx[j] = i;
                        }
                }
        }
        /* shuffle the order too, as Route 53 does */
        for (size_t i = k; i > 1; i--) {
                size_t j = arc4random_uniform((uint32_t) i), t = idx[i - 1];
                idx[i - 1] = idx[j];
                idx[j] = t;
        }
        for (size_t i = 0; i < k; i++) {
                const char *rd = json_string_value(json_array_get(recs, idx[i])) ?: "";
                if (!strcmp(type, "A"))
                        push_a(a, ttl, rd);
                else
                        push(a, LDNS_SECTION_ANSWER, name, true, ttl, type, rd);
        }
        return true;
}

static const char *type_name(uint16_t t)
{
        switch (t) {
        case LDNS_RR_TYPE_A: return "A";
        case LDNS_RR_TYPE_AAAA: return "AAAA";
        case LDNS_RR_TYPE_SRV: return "SRV";
        case LDNS_RR_TYPE_TXT: return "TXT";
        default: return NULL;
        }
}

/* A name of a private zone: 1 answered, 0 NODATA (the name exists), -ENOENT NXDOMAIN. The asked type
 * first: only a miss reads the other types (to tell NODATA from NXDOMAIN). */
static int zone_lookup(const struct dns_view *v, struct reply *a, const char *name, const char *zone, uint16_t qtype)
{
        const char *want = type_name(qtype);
        bool exists = strcmp(name, zone) == 0, answered = false;
        if (want) {
                json_t *set = v->rrset(v->ud, name, want);
                if (set && push_rrset(a, name, want, set))
                        return 1;
        }
        for (size_t i = 0; i < sizeof local_types / sizeof local_types[0]; i++) {
                json_t *set;
                if (want && strcmp(want, local_types[i]) == 0)
                        continue;
                set = v->rrset(v->ud, name, local_types[i]);
                if (!set || json_array_size(json_object_get(set, "Records")) == 0)
                        continue;
                exists = true;
                if (qtype == LDNS_RR_TYPE_ANY)
                        answered |= push_rrset(a, name, local_types[i], set);
        }
        if (strcmp(name, zone) == 0 && qtype == LDNS_RR_TYPE_SOA) {
                char rdata[600];
                snprintf(rdata, sizeof rdata, "ns-0.%s. hostmaster.%s. 1 7200 900 1209600 %u", zone, zone, DNS_LOCAL_TTL);
                push(a, LDNS_SECTION_ANSWER, name, true, DNS_LOCAL_TTL, "SOA", rdata);
                answered = true;
        }
        return answered ? 1 : exists ? 0 : -ENOENT;
}

/* The answer when the name is the resolver's own; false: forward it. */
static bool answer_local(const struct dns_view *v, struct reply *a, const char *name, uint16_t qtype)
{
        const char *zone = NULL;
        uint32_t ip;
        int r = -ENOENT;
        char buf[DNS_NAME_MAX + 8];

        if (dns_name_in(name, v->domain)) {
                zone = v->domain;
                if (v->hostnames && ip_name(name, v->domain, &ip) && cidr4_contains_ip(&v->cidr, ip)) {
                        r = 0;
                        if (qtype == LDNS_RR_TYPE_A || qtype == LDNS_RR_TYPE_ANY) {
                                ip4_format(ip, buf);
                                push_a(a, DNS_LOCAL_TTL, buf);
                                r = 1;
                        }
                } else if (strcmp(name, zone) == 0)
                        r = 0;
        } else if (reverse_name(name, &ip) && cidr4_contains_ip(&v->cidr, ip)) {
                zone = "in-addr.arpa";
                if (v->hostnames) {
                        r = 0;
                        if (qtype == LDNS_RR_TYPE_PTR || qtype == LDNS_RR_TYPE_ANY) {
                                ip_dashed(ip, v->domain, buf, sizeof buf);
                                strcat(buf, ".");
                                push(a, LDNS_SECTION_ANSWER, name, true, DNS_LOCAL_TTL, "PTR", buf);
                                r = 1;
                        }
                }
                const char *pz = private_reverse_zone(name);
                if (pz)
                        zone = pz;
        } else if ((zone = private_reverse_zone(name))) {
                r = strcmp(name, zone) == 0 ? 0 : -ENOENT;
        } else if (v->zone_of && (zone = v->zone_of(v->ud, name))) {
                r = zone_lookup(v, a, name, zone, qtype);
        } else
                return false;

        ldns_pkt_set_aa(a->p, true);
        if (r == -ENOENT)
                ldns_pkt_set_rcode(a->p, LDNS_RCODE_NXDOMAIN);
        if (r <= 0)
                push_soa(a, zone);
        return true;
}

/* The skeleton of an answer to p: id, flags, the question echoed, EDNS when the query had it. */
static int reply_init(struct reply *a, const ldns_pkt *p, const ldns_rr *qrr)
{
        a->p = ldns_pkt_new();
        if (!a->p)
                return -ENOMEM;
        ldns_pkt_set_id(a->p, ldns_pkt_id(p));
        ldns_pkt_set_qr(a->p, true);
        ldns_pkt_set_opcode(a->p, ldns_pkt_get_opcode(p));
        ldns_pkt_set_rd(a->p, ldns_pkt_rd(p));
        ldns_pkt_set_cd(a->p, ldns_pkt_cd(p));
        ldns_pkt_set_ra(a->p, true);
        if (qrr) {
                ldns_rr *c = ldns_rr_clone(qrr);
                if (!c || !ldns_pkt_push_rr(a->p, LDNS_SECTION_QUESTION, c)) {
                        ldns_rr_free(c);
                        return -ENOMEM;
                }
                a->qowner = ldns_rr_owner(c);
        }
        if (ldns_pkt_edns(p))
                ldns_pkt_set_edns_udp_size(a->p, EDNS_SIZE);
        return 0;
}

/* a->p as wire, truncated (TC, question only) when longer than max_len. */
static int reply_wire(struct reply *a, size_t max_len, uint8_t **ret, size_t *ret_len)
{
        if (ldns_pkt2wire(ret, a->p, ret_len) != LDNS_STATUS_OK)
                return -ENOMEM;
        if (*ret_len <= max_len)
                return 0;
        free(*ret);
        *ret = NULL;
        ldns_rr_list_deep_free(ldns_pkt_answer(a->p));
        ldns_rr_list_deep_free(ldns_pkt_authority(a->p));
        ldns_rr_list_deep_free(ldns_pkt_additional(a->p));
        ldns_pkt_set_answer(a->p, ldns_rr_list_new());
        ldns_pkt_set_authority(a->p, ldns_rr_list_new());
        ldns_pkt_set_additional(a->p, ldns_rr_list_new());
        ldns_pkt_set_ancount(a->p, 0);
        ldns_pkt_set_nscount(a->p, 0);
        ldns_pkt_set_arcount(a->p, 0);
        ldns_pkt_set_tc(a->p, true);
        return ldns_pkt2wire(ret, a->p, ret_len) == LDNS_STATUS_OK ? 0 : -ENOMEM;
}

/* An answer carrying only an rcode (FORMERR for an unparsable query: its id, nothing else). */
static enum dns_verdict rcode_only(const uint8_t *q, size_t qlen, const ldns_pkt *p, const ldns_rr *qrr, uint8_t rcode,
                                   uint8_t **ret, size_t *ret_len)
{
        struct reply a = { 0 };
        enum dns_verdict v = DNS_DROP;
        if (p) {
                if (reply_init(&a, p, qrr) < 0)
                        goto out;
        } else {
                if (!(a.p = ldns_pkt_new()))
                        return DNS_DROP;
                ldns_pkt_set_id(a.p, dns_get_id(q, qlen));
                ldns_pkt_set_qr(a.p, true);
        }
        ldns_pkt_set_rcode(a.p, rcode);
        if (reply_wire(&a, 65535, ret, ret_len) == 0)
                v = DNS_ANSWER;
out:
        ldns_pkt_free(a.p);
        return v;
}

int dns_servfail(const uint8_t *q, size_t qlen, uint8_t **ret, size_t *ret_len)
{
        ldns_pkt *p = NULL;
        enum dns_verdict v;
        if (ldns_wire2pkt(&p, q, qlen) != LDNS_STATUS_OK)
                return -EINVAL;
        v = rcode_only(q, qlen, p, ldns_rr_list_rr(ldns_pkt_question(p), 0), LDNS_RCODE_SERVFAIL, ret, ret_len);
        ldns_pkt_free(p);
        return v == DNS_ANSWER ? 0 : -ENOMEM;
}

enum dns_verdict dns_answer(const struct dns_view *v, const uint8_t *q, size_t qlen, size_t max_len, uint8_t **ret, size_t *ret_len)
{
        ldns_pkt *p = NULL;
        ldns_rr *qrr;
        struct reply a = { 0 };
        char name[DNS_NAME_MAX];
        enum dns_verdict verdict = DNS_DROP;
        uint16_t qtype;

        *ret = NULL;
        *ret_len = 0;
        if (qlen < LDNS_HEADER_SIZE || LDNS_QR_WIRE(q))
                return DNS_DROP;
        if (ldns_wire2pkt(&p, q, qlen) != LDNS_STATUS_OK)
                return rcode_only(q, qlen, NULL, NULL, LDNS_RCODE_FORMERR, ret, ret_len);
        qrr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
        if (max_len == 0) {
                /* UDP: what the client takes, from the packet parsed here once */
                max_len = 512;
                if (ldns_pkt_edns(p) && ldns_pkt_edns_udp_size(p) > 512)
                        max_len = ldns_pkt_edns_udp_size(p) < EDNS_SIZE ? ldns_pkt_edns_udp_size(p) : EDNS_SIZE;
        }
        if (ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY)
                verdict = rcode_only(q, qlen, p, qrr, LDNS_RCODE_NOTIMPL, ret, ret_len);
        else if (ldns_pkt_qdcount(p) != 1 || !qrr || rdf_name(ldns_rr_owner(qrr), name) < 0)
                verdict = rcode_only(q, qlen, p, qrr, LDNS_RCODE_FORMERR, ret, ret_len);
        else if (ldns_rr_get_class(qrr) != LDNS_RR_CLASS_IN)
                verdict = rcode_only(q, qlen, p, qrr, LDNS_RCODE_REFUSED, ret, ret_len);
        else {
                qtype = (uint16_t) ldns_rr_get_type(qrr);
                if (reply_init(&a, p, qrr) < 0)
                        goto out;
                if (!answer_local(v, &a, name, qtype))
                        verdict = DNS_FORWARD;
                else if (a.failed)
                        verdict = rcode_only(q, qlen, p, qrr, LDNS_RCODE_SERVFAIL, ret, ret_len);
                else if (reply_wire(&a, max_len, ret, ret_len) == 0)
                        verdict = DNS_ANSWER;
        }
out:
        ldns_pkt_free(a.p);
        ldns_pkt_free(p);
        return verdict;
}
