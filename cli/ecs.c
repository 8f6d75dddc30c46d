/* ecs.c: `ecsbox ecs VERB --flags` in the `aws ecs` style against ecsboxd: the ecs flag dialect, the API
 * verbs, and the commands of ecsbox's own (logs, flow-logs, events). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ecs.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsboxd.h"
#include "events.h"
#include "exec.h"
#include "exitcode.h"
#include "flags.h"
#include "logs.h"
#include "names.h"
#include "shorthand.h"

/* Flags whose values are lists (aws: "--tasks a b c"). */
static const char *const list_flags[] = {
        "tasks", "clusters", "container-instances", "include", "services", "containers", "attribute-names", NULL,
};
/* Flags that are lists of structures: each value is JSON or shorthand (aws:
 * "--placement-strategy type=spread,field=instanceId type=binpack,field=memory"). */
static const char *const struct_list_flags[] = {
        "placement-strategy", "placement-constraints", "tags", "capacity-provider-strategy", "load-balancers",
        "service-registries", "container-definitions", "volumes", "requires-compatibilities", "attributes",
        "total-resources", NULL,
};
/* Flags that are numbers. */
static const char *const int_flags[] = {
        "count", "max-results", "desired-count", "revision", "health-check-grace-period-seconds", NULL,
};
/* Boolean switches (aws: "--force", "--no-force"). */
static const char *const bool_flags[] = {
        "force", "enable-execute-command", "enable-ecs-managed-tags", "force-new-deployment", "interactive", NULL,
};

static bool in(const char *const *set, const char *s)
{
        for (; *set; set++)
                if (!strcmp(*set, s))
                        return true;
        return false;
}

static enum flag_kind ecs_kind(const char *flag)
{
        if (in(bool_flags, flag))
                return FLAG_BOOL;
        if (in(list_flags, flag))
                return FLAG_LIST;
        if (in(struct_list_flags, flag))
                return FLAG_STRUCT_LIST;
        if (in(int_flags, flag))
                return FLAG_INT;
        return FLAG_VALUE;
}

/* JSON, or shorthand when it looks like key=value (free-text flags stay strings); else a string. */
static json_t *ecs_scalar(const char *flag, const char *v)
{
        if (v[0] == '{' || v[0] == '[' ||
            (strchr(v, '=') && !strchr(v, ' ') && strcmp(flag, "reason") != 0 && strcmp(flag, "started-by") != 0 &&
             strcmp(flag, "group") != 0))
                return cli_shorthand(v);
        return json_string(v);
}

const struct flag_dialect ecs_flag_dialect = {
        .cmd = "ecs",
        .camel = true,
        .kind = ecs_kind,
        .scalar = ecs_scalar,
};

/* ecsbox's own commands: they read with --follow and have a required flag. */
static const char *const follow_switch[] = { "follow", NULL };

static bool own_command(const char *verb)
{
        return !strcmp(verb, "logs") || !strcmp(verb, "flow-logs") || !strcmp(verb, "events");
}

static int own_run(const char *endpoint, const char *netd_sock, const char *verb, json_t *req, bool follow)
{
        if (!strcmp(verb, "events")) {
                if (!json_string_value(json_object_get(req, "service"))) {
                        fprintf(stderr, "ecsbox ecs events: --service NAME is required\n");
                        return EXIT_USAGE;
                }
                return cli_events(endpoint, req, follow);
        }
        if (!json_object_get(req, "task")) {
                fprintf(stderr, "ecsbox ecs %s: --task ID is required\n", verb);
                return EXIT_USAGE;
        }
        return !strcmp(verb, "logs") ? cli_logs(endpoint, req, follow) : cli_flow_logs(endpoint, netd_sock, req, follow);
}

static bool valid_verb(const char *verb)
{
        for (const char *p = verb; *p; p++)
                if (!islower((unsigned char) *p) && *p != '-')
                        return false;
        return true;
}

static int api_call(const char *endpoint, const char *verb, json_t *req)
{
        _cleanup_json_ json_t *ans = NULL;
        char op[96];
        int r;
        cli_pascal(verb, op, sizeof op);
        if ((r = cli_ecs_call_or_print(endpoint, op, req, &ans)) != 0)
                return r;
        if (json_object_size(ans) > 0) {
                json_dumpf(ans, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                putchar('\n');
        }
        return 0;
}

static void ecs_usage(FILE *f)
{
        fprintf(f, "usage: ecsbox [--endpoint URL|SOCKET] ecs VERB [--flag VALUE ...]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs logs --task ID [--container NAME] [--cluster C] [--follow]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs flow-logs --task ID [--cluster C] [--flow-log-id fl-...] [--follow]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs events --service NAME [--cluster C] [--follow]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs execute-command --task ID [--container NAME] --command CMD\n"
                   "                                     [--interactive] (as root: the command runs in the container)\n"
                   "       ecsbox [--endpoint URL|SOCKET] ps [--cluster C] [-a]\n"
                   "VERB is any aws ecs verb ecsboxd implements (create-cluster, register-task-definition, run-task,\n"
                   "describe-tasks, list-tasks, stop-task, register-container-instance, ...). Flags are the aws ones;\n"
                   "structures take JSON or the aws shorthand (awsvpcConfiguration={subnets=[subnet-1]}), values\n"
                   "may be file://PATH, and --cli-input-json takes a whole request.\n"
                   "The endpoint is --endpoint, else $ECSBOX_ENDPOINT, else /run/ecsbox/ecsboxd.sock.\n");
}

int cli_ecs(const char *endpoint, const char *netd_sock, int argc, char **argv)
{
        _cleanup_json_ json_t *req = json_object();
        const char *verb = argc > 0 ? argv[0] : NULL;
        unsigned switches = 0;
        int r;
        if (!verb || !strcmp(verb, "help") || !strcmp(verb, "--help")) {
                ecs_usage(verb ? stdout : stderr);
                return verb ? 0 : EXIT_USAGE;
        }
        if (!valid_verb(verb)) {
                fprintf(stderr, "ecsbox ecs: invalid choice: '%s'\n", verb);
                return EXIT_USAGE;
        }
        r = flags_parse(&ecs_flag_dialect, verb, argc - 1, argv + 1, own_command(verb) ? follow_switch : NULL, req, &switches);
        if (r == FLAGS_HELP) {
                ecs_usage(stdout);
                return 0;
        }
        if (r < 0)
                return EXIT_USAGE;
        if (own_command(verb))
                return own_run(endpoint, netd_sock, verb, req, switches & 1);
        if (!strcmp(verb, "execute-command"))
                return cli_exec(endpoint, req);
        return api_call(endpoint, verb, req);
}
