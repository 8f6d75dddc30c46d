/* main.c: the ecsbox command line: global options, then `ec2` (netd), `ecs`, `image`, `secret` and `ps` (ecsboxd), `netd-request`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"
#include "ecs.h"
#include "exitcode.h"
#include "image.h"
#include "ps.h"
#include "secret.h"

int main(int argc, char **argv)
{
        const char *sock = getenv("ECSBOX_NETD_SOCKET") ?: "/run/ecsbox/netd.sock";
        const char *endpoint = getenv("ECSBOX_ENDPOINT") ?: "/run/ecsbox/ecsboxd.sock";
        int i = 1;
        while (i < argc && strncmp(argv[i], "--", 2) == 0) {
                if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
                        sock = argv[i + 1];
                        i += 2;
                } else if (!strcmp(argv[i], "--endpoint") && i + 1 < argc) {
                        endpoint = argv[i + 1];
                        i += 2;
                } else if (!strcmp(argv[i], "--help")) {
                        ec2_usage(stdout);
                        return 0;
                } else {
                        fprintf(stderr, "ecsbox: unknown option '%s'\n", argv[i]);
                        return EXIT_USAGE;
                }
        }
        if (i >= argc) {
                ec2_usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(argv[i], "ec2"))
                return cli_ec2(sock, argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "netd-request"))
                return cli_netd_request(sock);
        if (!strcmp(argv[i], "ecs"))
                return cli_ecs(endpoint, sock, argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "image"))
                return cli_image(endpoint, argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "secret"))
                return cli_secret(endpoint, argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "ps"))
                return cli_ps(endpoint, argc - i - 1, argv + i + 1);
        fprintf(stderr, "ecsbox: unknown command '%s' (ec2, ecs, image, secret, ps, netd-request)\n", argv[i]);
        return EXIT_USAGE;
}
