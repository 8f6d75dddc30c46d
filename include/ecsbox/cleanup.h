/* cleanup.h: __attribute__((cleanup)) helpers for locals, as systemd and crun do. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **) p); }
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f)
{
        if (*f)
                (void) fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand a pointer or fd on and empty the old owner. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Define a cleanup function for a library type: DEFINE_TRIVIAL_CLEANUP(json_t *, json_decref) */
#define DEFINE_TRIVIAL_CLEANUP(type, func)                      \
        static inline void func##p(type *p)                     \
        {                                                       \
                if (*p)                                         \
                        func(*p);                               \
        }

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
