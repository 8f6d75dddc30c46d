/* http.h: the HTTP servers of ecsboxd (libmicrohttpd inside the sd-event loop). */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "ecsbox/err.h"

struct sched;

struct http_server;
struct api_response;

/* A plain server's handler: the whole answer for method, url and the request body (NULL: over 64 KiB). */
typedef void (*http_get_fn)(void *ud, const char *method, const char *url, const char *body, size_t len,
                            struct api_response *ret);

/* Serve lfd (a listening socket, owned from here on, closed on failure too) with fn: no signature; the
 * task metadata endpoint. */
int http_start_get(struct sched *s, sd_event *ev, int lfd, const char *what, http_get_fn fn, void *ud, struct http_server **ret,
                   struct err *err);

/* Listen on "IP:PORT" ("[v6]:PORT" too). */
int http_start_tcp(struct sched *s, sd_event *ev, const char *addr, struct http_server **ret, struct err *err);
/* Listen on a Unix stream socket at path (mode 0660; a stale socket there is replaced). */
int http_start_unix(struct sched *s, sd_event *ev, const char *path, struct http_server **ret, struct err *err);
struct http_server *http_server_free(struct http_server *srv);
/* A bound Unix socket of the given type (SOCK_STREAM listens), close-on-exec and non-blocking. */
int unix_listen(const char *path, int type, mode_t mode, struct err *err);
