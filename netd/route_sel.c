/* route_sel.c: longest-prefix route selection among a route table's routes. Pure. */
#include "route_sel.h"

int route_select_cidr(const struct route_ent *v, size_t n, const struct cidr4 *c)
{
        int best = -1;
        for (size_t i = 0; i < n; i++) {
                if (!cidr4_contains(&v[i].dst, c))
                        continue;
                if (best < 0 || v[i].dst.len > v[best].dst.len)
                        best = (int) i;
        }
        return best;
}

int route_select(const struct route_ent *v, size_t n, uint32_t ip)
{
        struct cidr4 c = { ip, 32 };
        return route_select_cidr(v, n, &c);
}
