/* fsutil.h: small filesystem helpers shared by the daemons. */
#pragma once

#include <sys/types.h>

/* mkdir -p: parents get 0755, the last component `mode`. Existing is fine. Returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);
