/* logs.c: `ecsbox ecs logs` (a task's container output) and `ecsbox ecs flow-logs` (its ENI's VPC Flow Log
 * records through netd), each with --follow. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsboxd.h"
#include "exitcode.h"
#include "logs.h"
#include "netd.h"

/* The request's cluster (a new reference), "default" when none was named. */
static json_t *cluster_of(json_t *req)
{
        return json_incref(json_object_get(req, "cluster")) ?: json_string("default");
}

int cli_logs(const char *endpoint, json_t *req, bool follow)
{
        long long offset = 0;
        for (int rounds = 0;; rounds++) {
                _cleanup_json_ json_t *ans = NULL;
                json_t *ev;
                size_t i;
                int r;
                json_object_set_new(req, "offset", json_integer(offset));
                if ((r = cli_ecs_call_or_print(endpoint, "GetTaskLogs", req, &ans)) != 0)
                        return r;
                json_array_foreach(json_object_get(ans, "events"), i, ev)
                        printf("%s\n", json_string_value(json_object_get(ev, "line")) ?: "");
                fflush(stdout);
                if (json_integer_value(json_object_get(ans, "nextOffset")) != offset) {
                        offset = json_integer_value(json_object_get(ans, "nextOffset"));
                        continue;
                }
                if (!follow)
                        return 0;
                {
                        /* follow until the task has stopped and nothing more comes */
                        _cleanup_json_ json_t *dreq = json_pack("{s:o, s:[O]}", "cluster", cluster_of(req),
                                                                "tasks", json_object_get(req, "task"));
                        _cleanup_json_ json_t *dans = NULL;
                        const char *st;
                        if ((r = cli_ecs_call_or_print(endpoint, "DescribeTasks", dreq, &dans)) != 0)
                                return r;
                        st = json_string_value(json_object_get(json_array_get(json_object_get(dans, "tasks"), 0), "lastStatus"));
                        if (!st || !strcmp(st, "STOPPED"))
                                return 0;
                }
                usleep(300 * 1000);
        }
}

/* The records not printed yet, per log file (seen: file -> records printed); the header once. */
static void print_new_records(json_t *ans, json_t *seen, bool *header)
{
        json_t *fl;
        size_t i, k;
        json_array_foreach(json_object_get(ans, "FlowLogRecords"), i, fl) {
                json_t *recs = json_object_get(fl, "Records");
                const char *file = json_string_value(json_object_get(fl, "LogFile")) ?: "";
                size_t done = (size_t) json_integer_value(json_object_get(seen, file));
                if (!*header && json_string_value(json_object_get(fl, "Header"))) {
                        printf("%s\n", json_string_value(json_object_get(fl, "Header")));
                        *header = true;
                }
                if (done > json_array_size(recs))   /* rotated: start again */
                        done = 0;
                for (k = done; k < json_array_size(recs); k++)
                        printf("%s\n", json_string_value(json_array_get(recs, k)) ?: "");
                json_object_set_new(seen, file, json_integer((json_int_t) json_array_size(recs)));
        }
}

/* netd GetFlowLogs for the ENI into *ret; 0, or the exit code (error printed). */
static int get_flow_logs(const char *netd_sock, const char *eni, json_t *req, json_t **ret)
{
        _cleanup_json_ json_t *nreq = json_pack("{s:s, s:s}", "Action", "GetFlowLogs", "NetworkInterfaceId", eni);
        json_t *e;
        if (json_object_get(req, "flowLogId"))
                json_object_set(nreq, "FlowLogId", json_object_get(req, "flowLogId"));
        if (cli_netd_call(netd_sock, nreq, ret) < 0)
                return EXIT_OTHER;
        if ((e = json_object_get(*ret, "Error"))) {
                fprintf(stderr, "\nAn error occurred (%s) when calling the GetFlowLogs operation: %s\n",
                        json_string_value(json_object_get(e, "Code")), json_string_value(json_object_get(e, "Message")));
                return EXIT_SERVICE;
        }
        return 0;
}

/* No records yet, or no flow log at all? */
static bool has_flow_log(const char *netd_sock, const char *eni)
{
        _cleanup_json_ json_t *q = json_pack("{s:s, s:[{s:s, s:[s]}]}", "Action", "DescribeFlowLogs", "Filter", "Name",
                                             "resource-id", "Values", eni), *qa = NULL;
        return cli_netd_call(netd_sock, q, &qa) == 0 && json_array_size(json_object_get(qa, "FlowLogs")) > 0;
}

/* The task's VPC Flow Log records (netd GetFlowLogs on the task's ENI): the header line, then the
 * records; with follow, new records as they are written, until the task has stopped. */
int cli_flow_logs(const char *endpoint, const char *netd_sock, json_t *req, bool follow)
{
        _cleanup_json_ json_t *dreq = json_pack("{s:o, s:[O]}", "cluster", cluster_of(req),
                                                "tasks", json_object_get(req, "task"));
        _cleanup_json_ json_t *seen = json_object();   /* log file -> records printed */
        char eni[64] = "";
        bool header = false;
        int r;

        for (int round = 0;; round++) {
                _cleanup_json_ json_t *dans = NULL, *nans = NULL;
                const char *status;
                json_t *task;
                if ((r = cli_ecs_call_or_print(endpoint, "DescribeTasks", dreq, &dans)) != 0)
                        return r;
                task = json_array_get(json_object_get(dans, "tasks"), 0);
                if (!task) {
                        fprintf(stderr, "ecsbox ecs flow-logs: task '%s' not found\n", json_string_value(json_object_get(req, "task")) ?: "");
                        return EXIT_SERVICE;
                }
                status = json_string_value(json_object_get(task, "lastStatus")) ?: "";
                if (!eni[0] && cli_task_detail(task, "networkInterfaceId"))
                        snprintf(eni, sizeof eni, "%s", cli_task_detail(task, "networkInterfaceId"));
                if (!eni[0]) {
                        fprintf(stderr, "ecsbox ecs flow-logs: the task has no network interface of its own (only awsvpc tasks do; "
                                        "a bridge or host task's flows are in its container instance's ENI log)\n");
                        return EXIT_USAGE;
                }
                if ((r = get_flow_logs(netd_sock, eni, req, &nans)) != 0)
                        return r;
                if (round == 0 && json_array_size(json_object_get(nans, "FlowLogRecords")) == 0 && !has_flow_log(netd_sock, eni)) {
                        fprintf(stderr, "ecsbox ecs flow-logs: no flow log covers %s (create one with ecsbox ec2 create-flow-logs, "
                                        "or tag the task, its definition or its cluster ecsbox:flow-logs=ALL)\n", eni);
                        return EXIT_SERVICE;
                }
                print_new_records(nans, seen, &header);
                fflush(stdout);
                if (!follow || (!strcmp(status, "STOPPED") && round > 0))
                        return 0;
                usleep(1000 * 1000);
        }
}
