/* exec.c: `ecsbox ecs execute-command --task ID [--container NAME] --command CMD --interactive`: ecsboxd's
 * ExecuteCommand checks the task (enableExecuteCommand, RUNNING) and names its spec; the command then runs
 * in the container through `ecsbox-monitor --exec`, which this process becomes (so the terminal, its
 * signals and the exit status are the command's). Entering a container's namespaces needs root, as
 * `docker exec` needs the Docker socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsboxd.h"
#include "exec.h"
#include "exitcode.h"

/* Like the SSM agent: a plain command is split at blanks, one with shell syntax runs through /bin/sh -c. */
static char **command_argv(const char *cmd, char *buf)
{
        static const char shell_chars[] = "|&;<>()$`\\\"'*?[#~=%{}\n";
        char **argv = calloc(strlen(cmd) / 2 + 4, sizeof(char *));
        size_t n = 0;
        if (!argv)
                return NULL;
        if (strpbrk(cmd, shell_chars)) {
                argv[n++] = (char *) "/bin/sh";
                argv[n++] = (char *) "-c";
                argv[n++] = (char *) cmd;
                return argv;
        }
        strcpy(buf, cmd);
        for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
                argv[n++] = t;
        return argv;
}

int cli_exec(const char *endpoint, json_t *req)
{
        _cleanup_json_ json_t *ans = NULL;
        const char *cmd = json_string_value(json_object_get(req, "command")), *spec, *mon, *container;
        char *buf, **argv, **full;
        size_t n = 0;
        int r;

        if (!json_object_get(req, "interactive"))
                json_object_set_new(req, "interactive", json_true());
        if ((r = cli_ecs_call_or_print(endpoint, "ExecuteCommand", req, &ans)) != 0)
                return r;
        spec = json_string_value(json_object_get(json_object_get(ans, "ecsboxExec"), "spec"));
        mon = json_string_value(json_object_get(json_object_get(ans, "ecsboxExec"), "monitor"));
        container = json_string_value(json_object_get(ans, "containerName"));
        if (!spec || !*spec || !mon || !container || !cmd) {
                fprintf(stderr, "ecsbox ecs execute-command: ecsboxd's answer names no task spec to enter\n");
                return EXIT_FAILURE;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "ecsbox ecs execute-command: entering the container needs root (the session %s was opened)\n",
                        json_string_value(json_object_get(json_object_get(ans, "session"), "sessionId")) ?: "?");
                return EXIT_FAILURE;
        }
        if (!(buf = malloc(strlen(cmd) + 1)) || !(argv = command_argv(cmd, buf))) {
                fprintf(stderr, "ecsbox ecs execute-command: out of memory\n");
                return EXIT_FAILURE;
        }
        for (char **a = argv; *a; a++)
                n++;
        if (n == 0) {
                fprintf(stderr, "ecsbox ecs execute-command: --command is empty\n");
                return EXIT_USAGE;
        }
        if (!(full = calloc(n + 7, sizeof(char *))))
                return EXIT_FAILURE;
        full[0] = (char *) mon;
        full[1] = (char *) "--spec";
        full[2] = (char *) spec;
        full[3] = (char *) "--exec";
        full[4] = (char *) container;
        full[5] = (char *) "--";
        memcpy(full + 6, argv, n * sizeof(char *));
        fflush(stdout);
        execv(mon, full);
        fprintf(stderr, "ecsbox ecs execute-command: exec %s: %m\n", mon);
        return EXIT_FAILURE;
}
