/* cidr.c: strict IPv4 and CIDR parsing and arithmetic, with AWS reserved addresses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/cidr.h"

int ip4_parse(const char *s, uint32_t *ret_addr)
{
        uint32_t addr = 0;
        int octets = 0;

        if (!s || !*s)
                return -EINVAL;
        while (octets < 4) {
                unsigned v = 0;
                int digits = 0;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (*s == '0' && s[1] >= '0' && s[1] <= '9')
                        return -EINVAL;  /* leading zero: ambiguous (octal in inet_aton) */
                while (*s >= '0' && *s <= '9') {
                        v = v * 10 + (unsigned) (*s - '0');
                        if (++digits > 3 || v > 255)
                                return -EINVAL;
                        s++;
                }
                addr = (addr << 8) | v;
                octets++;
                if (octets < 4) {
                        if (*s != '.')
                                return -EINVAL;
                        s++;
                }
        }
        if (*s != '\0')
                return -EINVAL;
        *ret_addr = addr;
        return 0;
}

void ip4_format(uint32_t a, char buf[IP4_STR_MAX])
{
        snprintf(buf, IP4_STR_MAX, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

uint32_t cidr4_mask(uint8_t len)
{
        return len == 0 ? 0 : (uint32_t) (0xffffffffu << (32 - len));
}

int cidr4_parse(const char *s, struct cidr4 *ret)
{
        char ip[IP4_STR_MAX];
        const char *slash;
        uint32_t addr;
        unsigned len = 0;
        size_t n;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash)
                return -EINVAL;
        n = (size_t) (slash - s);
        if (n == 0 || n >= sizeof ip)
                return -EINVAL;
        memcpy(ip, s, n);
        ip[n] = '\0';
        if (ip4_parse(ip, &addr) < 0)
                return -EINVAL;
        slash++;
        if (!*slash || strlen(slash) > 2)
                return -EINVAL;
        for (; *slash; slash++) {
                if (*slash < '0' || *slash > '9')
                        return -EINVAL;
                len = len * 10 + (unsigned) (*slash - '0');
        }
        if (len > 32)
                return -EINVAL;
        if (addr & ~cidr4_mask((uint8_t) len))
                return -EINVAL;
        ret->addr = addr;
        ret->len = (uint8_t) len;
        return 0;
}

void cidr4_format(const struct cidr4 *c, char buf[CIDR_STR_MAX])
{
        char ip[IP4_STR_MAX];
        ip4_format(c->addr, ip);
        snprintf(buf, CIDR_STR_MAX, "%s/%u", ip, c->len);
}

uint32_t cidr4_last(const struct cidr4 *c)
{
        return c->addr | ~cidr4_mask(c->len);
}

uint64_t cidr4_size(const struct cidr4 *c)
{
        return (uint64_t) 1 << (32 - c->len);
}

bool cidr4_contains_ip(const struct cidr4 *c, uint32_t ip)
{
        return (ip & cidr4_mask(c->len)) == c->addr;
}

bool cidr4_contains(const struct cidr4 *outer, const struct cidr4 *inner)
{
        return inner->len >= outer->len && cidr4_contains_ip(outer, inner->addr);
}

bool cidr4_overlaps(const struct cidr4 *a, const struct cidr4 *b)
{
        return cidr4_contains(a, b) || cidr4_contains(b, a);
}

bool cidr4_is_reserved(const struct cidr4 *s, uint32_t ip)
{
        return ip - s->addr <= 3 || ip == cidr4_last(s);
}

uint64_t cidr4_usable(const struct cidr4 *s)
{
        uint64_t n = cidr4_size(s);
        return n > 5 ? n - 5 : 0;
}
