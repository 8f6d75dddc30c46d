/* main.c: the ecsbox command line: `ecsbox ec2 VERB --flags` in the `aws ec2` style, against ecsbox-netd. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"

static const char *const ec2_verbs[] = {
        "create-vpc", "describe-vpcs", "delete-vpc", "create-subnet", "describe-subnets", "delete-subnet",
        "create-network-interface", "describe-network-interfaces", "delete-network-interface",
        "attach-network-interface", "detach-network-interface", "create-task-network", "delete-task-network",
        "describe-security-groups", "create-security-group", "delete-security-group",
        "authorize-security-group-ingress", "authorize-security-group-egress", "revoke-security-group-ingress",
        "revoke-security-group-egress", "modify-network-interface-attribute", "create-flow-logs",
        "describe-flow-logs", "delete-flow-logs", "get-flow-logs", NULL,
};

/* Flags that take several values (aws list parameters). */
static bool list_flag(const char *flag)
{
        size_t n = strlen(flag);
        return (n > 4 && strcmp(flag + n - 4, "-ids") == 0) || strcmp(flag, "groups") == 0 ||
               strcmp(flag, "group-names") == 0;
}

/* A value that is JSON (number, object, array, true/false) is sent as such; anything else as a string. */
static json_t *flag_value(const char *v)
{
        json_t *j;
        if (v[0] == '{' || v[0] == '[' || isdigit((unsigned char) v[0]) || v[0] == '-' || !strcmp(v, "true") ||
            !strcmp(v, "false")) {
                j = json_loads(v, JSON_DECODE_ANY, NULL);
                if (j)
                        return j;
        }
        return json_string(v);
}

/* aws ec2 authorize-/revoke-security-group-*: --protocol, --port N|A-B|-1, --cidr, --source-group make
 * one IpPermissions entry, as the aws CLI builds it client-side. */
static int sg_shorthand(json_t *req, const char *verb)
{
        json_t *proto = json_object_get(req, "Protocol"), *port = json_object_get(req, "Port");
        json_t *cidr = json_object_get(req, "Cidr"), *src = json_object_get(req, "SourceGroup"), *perm;
        const char *p;
        if (strstr(verb, "security-group-ingress") == NULL && strstr(verb, "security-group-egress") == NULL)
                return 0;
        if (!proto && !port && !cidr && !src)
                return 0;
        if (!proto || (!cidr && !src)) {
                fprintf(stderr, "ecsbox ec2 %s: --protocol and --cidr or --source-group go together\n", verb);
                return -EINVAL;
        }
        if (json_is_integer(proto)) {
                char buf[24];
                snprintf(buf, sizeof buf, "%lld", (long long) json_integer_value(proto));
                perm = json_pack("{s:s}", "IpProtocol", buf);
        } else
                perm = json_pack("{s:O}", "IpProtocol", proto);
        p = json_string_value(json_object_get(perm, "IpProtocol"));
        if (port) {
                long long from, to;
                if (json_is_integer(port))
                        from = to = json_integer_value(port);
                else if (!json_is_string(port) || sscanf(json_string_value(port), "%lld-%lld", &from, &to) != 2) {
                        fprintf(stderr, "ecsbox ec2 %s: --port: expected N, N-M or -1\n", verb);
                        json_decref(perm);
                        return -EINVAL;
                }
                if (from == -1 && (!strcmp(p, "tcp") || !strcmp(p, "udp") || !strcmp(p, "6") || !strcmp(p, "17"))) {
                        from = 0;
                        to = 65535;
                }
                json_object_set_new(perm, "FromPort", json_integer(from));
                json_object_set_new(perm, "ToPort", json_integer(to));
        } else if (!strcmp(p, "icmp") || !strcmp(p, "1")) {
                json_object_set_new(perm, "FromPort", json_integer(-1));
                json_object_set_new(perm, "ToPort", json_integer(-1));
        }
        if (cidr)
                json_object_set_new(perm, "IpRanges", json_pack("[{s:O}]", "CidrIp", cidr));
        if (src)
                json_object_set_new(perm, "UserIdGroupPairs", json_pack("[{s:O}]", "GroupId", src));
        json_object_del(req, "Protocol");
        json_object_del(req, "Port");
        json_object_del(req, "Cidr");
        json_object_del(req, "SourceGroup");
        json_object_set_new(req, "IpPermissions", json_pack("[o]", perm));
        return 0;
}


static int answer(json_t *ans, const char *op)
{
        json_t *e = json_object_get(ans, "Error");
        if (e) {
                fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n",
                        json_string_value(json_object_get(e, "Code")), op,
                        json_string_value(json_object_get(e, "Message")));
                return EXIT_SERVICE;
        }
        if (strcmp(op, "GetFlowLogs") == 0 && json_is_array(json_object_get(ans, "FlowLogRecords"))) {
                /* the records as lines, as in the delivered files: the header, then one line per record */
                json_t *fl, *line;
                size_t i, j;
                json_array_foreach(json_object_get(ans, "FlowLogRecords"), i, fl) {
                        if (json_is_string(json_object_get(fl, "Header")))
                                printf("%s\n", json_string_value(json_object_get(fl, "Header")));
                        json_array_foreach(json_object_get(fl, "Records"), j, line)
                                printf("%s\n", json_string_value(line));
                }
                return 0;
        }
        if (json_object_size(ans) > 0 && !(json_object_size(ans) == 1 && json_object_get(ans, "Return"))) {
                json_dumpf(ans, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                putchar('\n');
        }
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "usage: ecsbox [--socket PATH] ec2 VERB [--flag VALUE ...]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs VERB [--flag VALUE ...]   (ecsbox ecs help)\n"
                   "       ecsbox [--endpoint URL|SOCKET] ps [--cluster NAME] [-a]\n"
                   "       ecsbox [--socket PATH] netd-request   (one JSON request on stdin)\n"
                   "ec2 verbs:");
        for (const char *const *v = ec2_verbs; *v; v++)
                fprintf(f, " %s", *v);
        fprintf(f, "\nFlags are the aws ec2 ones (--cidr-block, --vpc-id, --subnet-id, --filters Name=x,Values=a,b,\n"
                   "--network-interface-id, --netns NAME, --interface-type veth|macvlan, --cli-input-json JSON;\n"
                   "security groups: --group-id, --protocol tcp|udp|icmp|-1, --port N|N-M, --cidr, --source-group,\n"
                   "--ip-permissions JSON, --groups sg-1 sg-2).\n"
                   "The socket is --socket, else $ECSBOX_NETD_SOCKET, else /run/ecsbox/netd.sock.\n");
}

static int ec2(const char *sock, int argc, char **argv)
{
        char action[96], member[96];
        _cleanup_json_ json_t *req = json_object(), *ans = NULL;
        bool known = false;
        int r;
        if (argc < 1 || !strcmp(argv[0], "help") || !strcmp(argv[0], "--help")) {
                usage(argc < 1 ? stderr : stdout);
                return argc < 1 ? EXIT_USAGE : 0;
        }
        for (const char *const *v = ec2_verbs; *v; v++)
                known |= strcmp(*v, argv[0]) == 0;
        if (!known) {
                fprintf(stderr, "ecsbox ec2: invalid choice: '%s'\n", argv[0]);
                usage(stderr);
                return EXIT_USAGE;
        }
        cli_pascal(argv[0], action, sizeof action);
        for (int i = 1; i < argc;) {
                const char *flag = argv[i];
                if (!strcmp(flag, "--help")) {
                        usage(stdout);
                        return 0;
                }
                if (strncmp(flag, "--", 2) != 0 || i + 1 >= argc) {
                        fprintf(stderr, "ecsbox ec2 %s: expected --flag VALUE, got '%s'\n", argv[0], flag);
                        return EXIT_USAGE;
                }
                flag += 2;
                i++;
                if (!strcmp(flag, "cli-input-json")) {
                        const char *src = argv[i++];
                        json_error_t jerr;
                        json_t *in = strncmp(src, "file://", 7) == 0 ? json_load_file(src + 7, 0, &jerr)
                                                                     : json_loads(src, 0, &jerr);
                        if (!in || !json_is_object(in)) {
                                fprintf(stderr, "ecsbox ec2 %s: --cli-input-json: %s\n", argv[0], in ? "not an object" : jerr.text);
                                json_decref(in);
                                return EXIT_USAGE;
                        }
                        json_object_update(req, in);
                        json_decref(in);
                        continue;
                }
                if (!strcmp(flag, "filters")) {
                        json_t *fl = json_object_get(req, "Filters");
                        if (!fl)
                                json_object_set_new(req, "Filters", fl = json_array());
                        for (; i < argc && strncmp(argv[i], "--", 2) != 0; i++) {
                                json_t *f;
                                if (cli_parse_filter(argv[i], &f) < 0) {
                                        fprintf(stderr, "ecsbox ec2 %s: --filters: expected Name=NAME,Values=V1,V2, got '%s'\n", argv[0], argv[i]);
                                        return EXIT_USAGE;
                                }
                                json_array_append_new(fl, f);
                        }
                        continue;
                }
                cli_pascal(flag, member, sizeof member);
                if (list_flag(flag)) {
                        json_t *arr = json_array();
                        for (; i < argc && strncmp(argv[i], "--", 2) != 0; i++)
                                json_array_append_new(arr, json_string(argv[i]));
                        json_object_set_new(req, member, arr);
                } else
                        json_object_set_new(req, member, flag_value(argv[i++]));
        }
        if (sg_shorthand(req, argv[0]) < 0)
                return EXIT_USAGE;
        json_object_set_new(req, "Action", json_string(action));
        r = cli_netd_call(sock, req, &ans);
        if (r < 0) {
                fprintf(stderr, "ecsbox: cannot talk to ecsbox-netd on '%s': %s\n", sock, strerror(-r));
                return EXIT_OTHER;
        }
        return answer(ans, action);
}

static int netd_request(const char *sock)
{
        char *line = NULL;
        size_t cap = 0;
        json_error_t jerr;
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        int r;
        if (getline(&line, &cap, stdin) < 0) {
                fprintf(stderr, "ecsbox netd-request: no request on stdin\n");
                free(line);
                return EXIT_USAGE;
        }
        req = json_loads(line, 0, &jerr);
        free(line);
        if (!req) {
                fprintf(stderr, "ecsbox netd-request: malformed JSON: %s\n", jerr.text);
                return EXIT_USAGE;
        }
        r = cli_netd_call(sock, req, &ans);
        if (r < 0) {
                fprintf(stderr, "ecsbox: cannot talk to ecsbox-netd on '%s': %s\n", sock, strerror(-r));
                return EXIT_OTHER;
        }
        json_dumpf(ans, stdout, JSON_COMPACT);
        putchar('\n');
        return json_object_get(ans, "Error") ? EXIT_SERVICE : 0;
}

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
                        usage(stdout);
                        return 0;
                } else {
                        fprintf(stderr, "ecsbox: unknown option '%s'\n", argv[i]);
                        return EXIT_USAGE;
                }
        }
        if (i >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(argv[i], "ec2"))
                return ec2(sock, argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "netd-request"))
                return netd_request(sock);
        if (!strcmp(argv[i], "ecs"))
                return cli_ecs(endpoint, sock, argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "ps"))
                return cli_ps(endpoint, argc - i - 1, argv + i + 1);
        fprintf(stderr, "ecsbox: unknown command '%s' (ec2, ecs, ps, netd-request)\n", argv[i]);
        return EXIT_USAGE;
}
