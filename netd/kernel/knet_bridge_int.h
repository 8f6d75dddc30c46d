/* knet_bridge_int.h: what knet_bridge.c and knet_bridge_nat.c share; not for the rest of netd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "knet_bridge.h"
#include "nlcore.h"

/* A netfilter socket in the instance netns (knet_sock_for: the kept one or a new one in *ret_tmp,
 * which the caller closes), after its router sysctls when `sysctls`. */
int bridge_nf(struct knet *k, const char *instance_netns, bool sysctls, struct nlc **ret, struct nlc **ret_tmp,
              struct err *err);
/* Replace table ip ecsbox_nat with one holding exactly b[0..n), in one transaction. */
int bridge_table_rebuild(struct nlc *nf, const struct knet_binding *b, size_t n, struct err *err);
/* 0 when the table exists, -ENOENT (with err) when not. */
int bridge_table_exists(struct nlc *nf, struct err *err);
