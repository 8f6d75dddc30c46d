/* answer.h: pure: what the VPC resolver answers itself (ENI names, their PTRs, the VPC's private zones)
 * and what it forwards, over DNS messages parsed and written by ldns. No sockets, no store. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/cidr.h"

#define DNS_NAME_MAX 254        /* a presentation name without the final dot, NUL included */
#define DNS_LOCAL_TTL 60        /* ip-A-B-C-D names and their PTRs, as AWS answers them */
#define DNS_MULTIVALUE_MAX 8    /* Route 53 multivalue answers: at most 8 records, chosen at random */

/* What one VPC's resolver knows. The zone and RRset callbacks read the VPC's private zones. */
struct dns_view {
        struct cidr4 cidr;              /* the VPC's CIDR: ip- names and PTRs exist inside it */
        const char *domain;             /* "ec2.internal" (us-east-1) or "REGION.compute.internal" */
        bool hostnames;                 /* enableDnsHostnames: ip- names and PTRs answered */
        /* the longest private zone of the VPC that name (lower case, no final dot) lies in, or NULL */
        const char *(*zone_of)(void *ud, const char *name);
        /* the RRset of name and type ("A", "AAAA", "SRV", "TXT") as {"Ttl": n, "Records": [...]}, borrowed, or NULL */
        json_t *(*rrset)(void *ud, const char *name, const char *type);
        void *ud;
};

enum dns_verdict {
        DNS_DROP,       /* not a query worth an answer (too short, a response) */
        DNS_ANSWER,     /* *ret holds the answer */
        DNS_FORWARD,    /* not the resolver's own: send the query upstream */
};

/* The answer to the query q (one message, without TCP's length prefix). max_len: the largest answer the
 * client takes (TCP: 65535; 0: a UDP client's, 512 or its EDNS size up to 1232, read from q); a longer one
 * is sent truncated (TC).
 * *ret is malloc'd. */
enum dns_verdict dns_answer(const struct dns_view *v, const uint8_t *q, size_t qlen, size_t max_len, uint8_t **ret,
                            size_t *ret_len);

/* The query's only question: the name in lower case without the final dot, its type and class, and
 * whether the message is a response. -EINVAL when q is no DNS message with one question. */
int dns_question(const uint8_t *q, size_t qlen, char name[DNS_NAME_MAX], uint16_t *ret_type, uint16_t *ret_class,
                 bool *ret_qr);

/* The largest UDP answer the query's client takes: 512, or its EDNS buffer size (at most 1232). */
size_t dns_udp_limit(const uint8_t *q, size_t qlen);

/* A SERVFAIL answer to q (no upstream answered in time). -EINVAL when q cannot be parsed. */
int dns_servfail(const uint8_t *q, size_t qlen, uint8_t **ret, size_t *ret_len);

/* Set the message id of a DNS message in place (the forwarder's own id out, the client's back in). */
void dns_set_id(uint8_t *m, size_t len, uint16_t id);
uint16_t dns_get_id(const uint8_t *m, size_t len);

/* A private zone name or a record name: lower-cases it into buf (no final dot) when it is a valid domain
 * name of at most 253 characters with labels of 1..63. -EINVAL otherwise. */
int dns_name_normalize(const char *in, char buf[DNS_NAME_MAX]);

/* Is name the zone or below it? (both lower case, no final dot) */
bool dns_name_in(const char *name, const char *zone);

/* A record's data checked by ldns for type ("A", "AAAA", "SRV", "TXT"): 0 or -EINVAL. */
int dns_rdata_check(const char *type, const char *rdata);
