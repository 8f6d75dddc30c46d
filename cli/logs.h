/* logs.h: `ecsbox ecs logs` and `ecsbox ecs flow-logs`. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* req holds the parsed flags (task, cluster, container, ...). Each returns the exit code. */
int cli_logs(const char *endpoint, json_t *req, bool follow);
/* The task's VPC Flow Log records from netd (GetFlowLogs on the task's ENI). */
int cli_flow_logs(const char *endpoint, const char *netd_sock, json_t *req, bool follow);
