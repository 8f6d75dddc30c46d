/* knet_bridge_int.h: what knet_bridge.c and knet_bridge_nat.c share; not for the rest of netd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "knet_bridge.h"
#include "nftbatch.h"

/* A netfilter socket inside the instance netns (entered briefly), after its
 * router sysctls when `sysctls`. */
int bridge_nfsock(struct knet *k, const char *instance_netns, bool sysctls, struct nfsock **ret, struct err *err);
/* Replace table ip ecsbox_nat with one holding exactly b[0..n), in one transaction. */
int bridge_table_rebuild(struct nfsock *nf, const struct knet_binding *b, size_t n, struct err *err);
/* 0 when the table exists, -ENOENT (with err) when not. */
int bridge_table_exists(struct nfsock *nf, struct err *err);
