/* netd_client.h: one request to ecsbox-netd on its Unix socket (one JSON line each way), under a deadline.
 * Used by the command line (cli/) and by ecsboxd (scheduler/netd_client.c). */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

/* The largest answer read (a DescribeNetworkInterfaces of thousands of ENIs fits many times). */
#define NETD_ANSWER_MAX (16 * 1024 * 1024)

/* Connects to the socket at path, sends req as one line and reads one answer line; connect, send and
 * receive all finish within timeout_ms from the call (timeout_ms <= 0: no deadline). *ret_answer gets
 * netd's answer as it came, an {"Error": {"Code", "Message"}} answer included: the caller decides what
 * netd's own errors mean. Returns 0, or < 0 (-errno) with err naming the action, the socket path and the
 * cause; a socket that cannot be reached says "network daemon unreachable at 'PATH'". Nothing is logged. */
int netd_client_call(const char *path, json_t *req, int timeout_ms, json_t **ret_answer, struct err *err);
/* The same, and *ret_fd (set to -1 by the caller) gets an fd netd passed with its answer (SCM_RIGHTS,
 * close-on-exec), or stays -1; any other fd passed is closed. */
int netd_client_call_fd(const char *path, json_t *req, int timeout_ms, json_t **ret_answer, int *ret_fd, struct err *err);
