/* fuzz_credentials.c: libFuzzer target for the shared-credentials file parser (a file a user edits). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ecsbox/credentials.h"
#include "ecsbox/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct credentials c = { 0 };
        char path[64];
        int fd = memfd_create("credentials", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (write_all(fd, data, size) == 0) {
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                if (credentials_load(path, &c, NULL) == 0) {
                        for (size_t i = 0; i < c.n; i++)
                                if (!c.keys[i].akid[0] || !c.keys[i].secret[0] ||
                                    credentials_find(&c, c.keys[i].akid) == NULL)
                                        abort();
                        credentials_free(&c);
                }
        }
        close(fd);
        return 0;
}
