/* ipam.c: per-subnet address allocation with AWS reserved addresses, round-robin. */
#include <errno.h>

#include "ecsbox/ipam.h"

int ipam_next(const struct cidr4 *subnet, uint32_t cursor, ipam_taken_fn taken, void *userdata, uint32_t *ret_ip)
{
        uint64_t size = cidr4_size(subnet);
        uint64_t off;

        if (cidr4_usable(subnet) == 0)
                return -ENOSPC;
        off = cidr4_contains_ip(subnet, cursor) ? (uint64_t) (cursor - subnet->addr) + 1 : 0;
        for (uint64_t i = 0; i < size; i++, off++) {
                uint32_t ip = subnet->addr + (uint32_t) (off % size);
                int r;
                if (cidr4_is_reserved(subnet, ip))
                        continue;
                r = taken(ip, userdata);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_ip = ip;
                        return 0;
                }
        }
        return -ENOSPC;
}
