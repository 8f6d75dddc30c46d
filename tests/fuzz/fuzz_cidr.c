/* fuzz_cidr.c: libFuzzer target for IPv4 address and CIDR parsing; a parsed block formats back to
 * itself and obeys its own bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char s[64], buf[CIDR_STR_MAX];
        struct cidr4 c, again;
        uint32_t ip;

        if (size >= sizeof s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (ip4_parse(s, &ip) == 0) {
                char b[IP4_STR_MAX];
                ip4_format(ip, b);
                if (ip4_parse(b, &ip) != 0)
                        abort();
        }
        if (cidr4_parse(s, &c) == 0) {
                cidr4_format(&c, buf);
                if (cidr4_parse(buf, &again) != 0 || again.addr != c.addr || again.len != c.len)
                        abort();
                if (!cidr4_contains(&c, &c) || !cidr4_contains_ip(&c, cidr4_last(&c)) || cidr4_size(&c) == 0)
                        abort();
                (void) cidr4_usable(&c);
        }
        return 0;
}
