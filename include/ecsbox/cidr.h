/* cidr.h: IPv4 addresses and CIDR blocks in host byte order. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/err.h"

#define CIDR_STR_MAX 24  /* "255.255.255.255/32" + NUL, with room */
#define IP4_STR_MAX 16


struct cidr4 {
        uint32_t addr;   /* network address, host order */
        uint8_t len;     /* prefix length 0..32 */
};

/* Parse a dotted quad strictly (no leading zeros, no missing octets). */
int ip4_parse(const char *s, uint32_t *ret_addr);
void ip4_format(uint32_t addr, char buf[IP4_STR_MAX]);

/* Parse "a.b.c.d/len"; host bits must be zero (as AWS requires), else -EINVAL. */
int cidr4_parse(const char *s, struct cidr4 *ret);
void cidr4_format(const struct cidr4 *c, char buf[CIDR_STR_MAX]);

uint32_t cidr4_mask(uint8_t len);
uint32_t cidr4_last(const struct cidr4 *c);      /* broadcast address */
uint64_t cidr4_size(const struct cidr4 *c);      /* number of addresses */
bool cidr4_contains_ip(const struct cidr4 *c, uint32_t ip);
bool cidr4_contains(const struct cidr4 *outer, const struct cidr4 *inner);
bool cidr4_overlaps(const struct cidr4 *a, const struct cidr4 *b);

/* AWS subnet rules: network, +1 router, +2 DNS, +3 reserved, broadcast. */
bool cidr4_is_reserved(const struct cidr4 *subnet, uint32_t ip);
uint64_t cidr4_usable(const struct cidr4 *subnet);
