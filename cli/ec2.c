/* ec2.c: `ecsbox ec2 VERB --flags` in the `aws ec2` style against ecsbox-netd, and `ecsbox netd-request`. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "exitcode.h"
#include "flags.h"
#include "names.h"
#include "netd.h"

static const char *const ec2_verbs[] = {
        "create-vpc", "describe-vpcs", "delete-vpc", "create-subnet", "describe-subnets", "delete-subnet",
        "create-network-interface", "describe-network-interfaces", "delete-network-interface",
        "attach-network-interface", "detach-network-interface", "create-task-network", "delete-task-network",
        "describe-security-groups", "create-security-group", "delete-security-group",
        "authorize-security-group-ingress", "authorize-security-group-egress", "revoke-security-group-ingress",
        "revoke-security-group-egress", "modify-network-interface-attribute", "create-flow-logs",
        "describe-flow-logs", "delete-flow-logs", "get-flow-logs",
        "modify-vpc-attribute", "describe-vpc-attribute", "create-internet-gateway", "attach-internet-gateway",
        "detach-internet-gateway", "delete-internet-gateway", "describe-internet-gateways", "create-nat-gateway",
        "describe-nat-gateways", "delete-nat-gateway", "create-route-table", "delete-route-table", "describe-route-tables",
        "create-route", "replace-route", "delete-route", "associate-route-table", "disassociate-route-table", NULL,
};

/* --filters; flags that take several values (aws list parameters); the rest one value. */
static enum flag_kind ec2_kind(const char *flag)
{
        size_t n = strlen(flag);
        if (!strcmp(flag, "filters") || !strcmp(flag, "filter"))   /* describe-nat-gateways: --filter */
                return FLAG_FILTERS;
        if ((n > 4 && strcmp(flag + n - 4, "-ids") == 0) || strcmp(flag, "groups") == 0 || strcmp(flag, "group-names") == 0)
                return FLAG_LIST;
        return FLAG_VALUE;
}

/* A value that is JSON (number, object, array, true/false) is sent as such; anything else as a string. */
static json_t *ec2_scalar(const char *flag, const char *v)
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

/* aws ec2 modify-vpc-attribute --enable-dns-support true|false: the attribute as {"Value": bool}, as the
 * aws CLI sends its --[no-]enable-dns-support switches. */
static void vpc_attribute_shorthand(json_t *req)
{
        static const char *const keys[] = { "EnableDnsSupport", "EnableDnsHostnames", "EnableNetworkAddressUsageMetrics" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                json_t *v = json_object_get(req, keys[i]);
                if (json_is_boolean(v))
                        json_object_set_new(req, keys[i], json_pack("{s:O}", "Value", v));
        }
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

void ec2_usage(FILE *f)
{
        fprintf(f, "usage: ecsbox [--socket PATH] ec2 VERB [--flag VALUE ...]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs VERB [--flag VALUE ...]   (ecsbox ecs help)\n"
                   "       ecsbox [--endpoint URL|SOCKET] ps [--cluster NAME] [-a]\n"
                   "       ecsbox [--endpoint URL|SOCKET] image pull|import|ls|rm|prune ...   (ecsbox image help)\n"
                   "       ecsbox [--endpoint URL|SOCKET] secret put|get|ls|rm ...   (ecsbox secret help)\n"
                   "       ecsbox [--socket PATH] netd-request   (one JSON request on stdin)\n"
                   "ec2 verbs:");
        for (const char *const *v = ec2_verbs; *v; v++)
                fprintf(f, " %s", *v);
        fprintf(f, "\nFlags are the aws ec2 ones (--cidr-block, --vpc-id, --subnet-id, --filters Name=x,Values=a,b,\n"
                   "--network-interface-id, --netns NAME, --interface-type veth|macvlan, --cli-input-json JSON;\n"
                   "security groups: --group-id, --protocol tcp|udp|icmp|-1, --port N|N-M, --cidr, --source-group,\n"
                   "--ip-permissions JSON, --groups sg-1 sg-2); a value may be file://PATH.\n"
                   "The socket is --socket, else $ECSBOX_NETD_SOCKET, else /run/ecsbox/netd.sock.\n");
}

const struct flag_dialect ec2_flag_dialect = {
        .cmd = "ec2",
        .camel = false,
        .kind = ec2_kind,
        .scalar = ec2_scalar,
};

static bool known_verb(const char *verb)
{
        for (const char *const *v = ec2_verbs; *v; v++)
                if (!strcmp(*v, verb))
                        return true;
        return false;
}

int cli_ec2(const char *sock, int argc, char **argv)
{
        char action[96];
        _cleanup_json_ json_t *req = json_object(), *ans = NULL;
        int r;
        if (argc < 1 || !strcmp(argv[0], "help") || !strcmp(argv[0], "--help")) {
                ec2_usage(argc < 1 ? stderr : stdout);
                return argc < 1 ? EXIT_USAGE : 0;
        }
        if (!known_verb(argv[0])) {
                fprintf(stderr, "ecsbox ec2: invalid choice: '%s'\n", argv[0]);
                ec2_usage(stderr);
                return EXIT_USAGE;
        }
        cli_pascal(argv[0], action, sizeof action);
        r = flags_parse(&ec2_flag_dialect, argv[0], argc - 1, argv + 1, NULL, req, NULL);
        if (r == FLAGS_HELP) {
                ec2_usage(stdout);
                return 0;
        }
        if (r >= 0 && strcmp(argv[0], "modify-vpc-attribute") == 0)
                vpc_attribute_shorthand(req);
        if (r < 0 || sg_shorthand(req, argv[0]) < 0)
                return EXIT_USAGE;
        json_object_set_new(req, "Action", json_string(action));
        if (cli_netd_call(sock, req, &ans) < 0)
                return EXIT_OTHER;
        return answer(ans, action);
}

int cli_netd_request(const char *sock)
{
        char *line = NULL;
        size_t cap = 0;
        json_error_t jerr;
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
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
        if (cli_netd_call(sock, req, &ans) < 0)
                return EXIT_OTHER;
        json_dumpf(ans, stdout, JSON_COMPACT);
        putchar('\n');
        return json_object_get(ans, "Error") ? EXIT_SERVICE : 0;
}
