/* route_sel.h: route selection in a route table: the longest prefix among its routes that covers an
 * address or a whole CIDR block. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ecsbox/cidr.h"

struct route_ent {
        struct cidr4 dst;
        void *ud;                      /* the caller's route (a json_t in egress.c) */
};

/* The index of the route with the longest prefix covering ip (the first of equal ones), -1 when none. */
int route_select(const struct route_ent *v, size_t n, uint32_t ip);
/* The same for a whole block: the longest prefix that contains every address of c. */
int route_select_cidr(const struct route_ent *v, size_t n, const struct cidr4 *c);
