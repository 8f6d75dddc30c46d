/* netd.c: the command line's requests to ecsbox-netd through lib's netd client. */
#include <stdio.h>

#include "ecsbox/err.h"
#include "ecsbox/netd_client.h"
#include "netd.h"

int cli_netd_call(const char *sock, json_t *req, json_t **ret)
{
        struct err err = { 0 };
        int r = netd_client_call(sock, req, CLI_NETD_TIMEOUT_MS, ret, &err);
        if (r < 0)
                fprintf(stderr, "ecsbox: cannot talk to ecsbox-netd: %s\n", err.msg);
        return r;
}
