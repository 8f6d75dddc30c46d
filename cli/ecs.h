/* ecs.h: `ecsbox ecs VERB --flags` (aws ecs style, against ecsboxd) and ecsbox's logs, flow-logs, events. */
#pragma once

/* argv[0] is the verb. Returns the process's exit code (0, EXIT_USAGE, EXIT_SERVICE, EXIT_OTHER). */
int cli_ecs(const char *endpoint, const char *netd_sock, int argc, char **argv);
