/* fsutil.c: small filesystem helpers shared by the daemons. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ecsbox/fsutil.h"

int mkdir_p(const char *path, mode_t mode)
{
        char tmp[4096];
        if (strlen(path) >= sizeof tmp)
                return -ENAMETOOLONG;
        snprintf(tmp, sizeof tmp, "%s", path);
        for (char *p = tmp + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}
