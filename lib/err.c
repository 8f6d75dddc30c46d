/* err.c: the error object every layer fills and wraps on the way up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/err.h"

int err_set(struct err *err, int errnum, const char *code, const char *fmt, ...)
{
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EINVAL;
        if (err) {
                va_list ap;
                err->errnum = errnum;
                snprintf(err->code, sizeof err->code, "%s", code ? code : "");
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof err->msg, fmt, ap);
                va_end(ap);
        }
        return -errnum;
}

int err_wrap(struct err *err, const char *fmt, ...)
{
        char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
        va_list ap;

        if (!err)
                return -EIO;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
        return -(err->errnum ? err->errnum : EIO);
}

void err_default_code(struct err *err, const char *code)
{
        if (err && err->code[0] == '\0')
                snprintf(err->code, sizeof err->code, "%s", code);
}

void err_clear(struct err *err)
{
        if (err)
                memset(err, 0, sizeof *err);
}
