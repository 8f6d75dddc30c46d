/* err.h: an error object (errno, API code, message) passed last as `err`. */
#pragma once

#include <stdarg.h>

#define ERR_CODE_MAX 64
#define ERR_MSG_MAX 1024

struct err {
        int errnum;                  /* positive errno, 0 if none */
        char code[ERR_CODE_MAX];     /* API error code, e.g. "InvalidSubnet.Range"; "" = internal */
        char msg[ERR_MSG_MAX];       /* readable text, from the operation down to the cause */
};

/* Fill err (may be NULL) and return -errnum (or -EINVAL when errnum is 0).
 * code may be NULL for an internal error. */
int err_set(struct err *err, int errnum, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Prefix context to an error already set: "ctx: old message". Returns -err->errnum (or -EIO). */
int err_wrap(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set the code only if none is set yet (map at the API edge, keep the message). */
void err_default_code(struct err *err, const char *code);

void err_clear(struct err *err);
