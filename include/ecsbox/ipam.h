/* ipam.h: per-subnet address allocation: round-robin next-fit, AWS reserved addresses skipped. */
#pragma once

#include <stdint.h>

#include "ecsbox/cidr.h"

/* Returns 1 when ip is taken, 0 when free, <0 on error (which stops the search). */
typedef int (*ipam_taken_fn)(uint32_t ip, void *userdata);

/* Pick the first free address after `cursor` (the last address handed out; 0
 * or an address outside the subnet starts at the beginning), wrapping once
 * around the subnet and skipping the five AWS reserved addresses. Round-robin
 * keeps a just-released address (whose old link the kernel may still be
 * destroying) from being handed out again at once.
 * Returns 0 with *ret_ip, -ENOSPC when the subnet is full, or the error of taken(). */
int ipam_next(const struct cidr4 *subnet, uint32_t cursor, ipam_taken_fn taken, void *userdata, uint32_t *ret_ip);
