/* netd.h: the command line's requests to ecsbox-netd (lib's client, with the CLI's timeout). */
#pragma once

#include <jansson.h>

/* Long enough for netd's slowest answers under load (ecsboxd waits as long); as the aws CLI's read timeout. */
#define CLI_NETD_TIMEOUT_MS 60000

/* One request; *ret gets netd's answer, an {"Error": ...} one included. When netd cannot be reached
 * (or does not answer in time) prints why, naming the socket, and returns -errno. */
int cli_netd_call(const char *sock, json_t *req, json_t **ret);
