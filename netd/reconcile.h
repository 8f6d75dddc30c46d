/* reconcile.h: start-up: intents replayed, the kernel repaired to match the records, orphans removed. */
#pragma once

#include "ecsbox/err.h"

struct netd;

/* Returns the number of repairs, or < 0 with err when the records cannot be read. */
int netd_reconcile(struct netd *d, struct err *err);
