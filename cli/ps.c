/* ps.c: `ecsbox ps`: a docker-ps-like table of a cluster's tasks with their ENI, IP, MAC and ports. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsboxd.h"
#include "exitcode.h"
#include "ps.h"

static void ports_of(json_t *task, const char *host_ip, char *buf, size_t size)
{
        json_t *c, *b;
        size_t i, k, o = 0;
        buf[0] = '\0';
        json_array_foreach(json_object_get(task, "containers"), i, c) {
                json_array_foreach(json_object_get(c, "networkBindings"), k, b) {
                        const char *ip = host_ip ?: json_string_value(json_object_get(b, "bindIP")) ?: "0.0.0.0";
                        o += (size_t) snprintf(buf + o, o < size ? size - o : 0, "%s%s:%lld->%lld/%s", o ? "," : "", ip,
                                               json_integer_value(json_object_get(b, "hostPort")),
                                               json_integer_value(json_object_get(b, "containerPort")),
                                               json_string_value(json_object_get(b, "protocol")) ?: "tcp");
                }
        }
        if (!buf[0])
                snprintf(buf, size, "-");
}

/* Every task ARN of the cluster (RUNNING, and STOPPED with all), through every ListTasks page. */
static int list_task_arns(const char *endpoint, const char *cluster, bool all, json_t *arns)
{
        const char *statuses[] = { "RUNNING", "STOPPED" };
        int r;
        for (int s = 0; s < (all ? 2 : 1); s++) {
                _cleanup_json_ json_t *token = NULL;
                for (int page = 0; page < 1000; page++) {
                        _cleanup_json_ json_t *req = json_pack("{s:s, s:s, s:i}", "cluster", cluster, "desiredStatus", statuses[s], "maxResults", 100);
                        _cleanup_json_ json_t *ans = NULL;
                        if (token)
                                json_object_set(req, "nextToken", token);
                        if ((r = cli_ecs_call_or_print(endpoint, "ListTasks", req, &ans)) != 0)
                                return r;
                        json_array_extend(arns, json_object_get(ans, "taskArns"));
                        json_decref(token);
                        token = json_incref(json_object_get(ans, "nextToken"));
                        if (!token)
                                break;
                }
        }
        return 0;
}

/* A container instance's attributes (name -> value), asked once per instance and kept in cache. */
static json_t *instance_attributes(const char *endpoint, const char *cluster, const char *ci, json_t *cache)
{
        _cleanup_json_ json_t *q = NULL, *a = NULL;
        json_t *attr, *m = json_object_get(cache, ci);
        size_t x;
        if (m)
                return m;
        json_object_set_new(cache, ci, m = json_object());
        q = json_pack("{s:s, s:[s]}", "cluster", cluster, "containerInstances", ci);
        if (cli_ecs_call_or_print(endpoint, "DescribeContainerInstances", q, &a) == 0)
                json_array_foreach(json_object_get(json_array_get(json_object_get(a, "containerInstances"), 0), "attributes"), x, attr)
                        json_object_set(m, json_string_value(json_object_get(attr, "name")) ?: "",
                                        json_object_get(attr, "value") ?: json_null());
        return m;
}

/* A task definition's network mode, asked once per definition and kept in cache. */
static const char *network_mode(const char *endpoint, const char *tdarn, json_t *cache)
{
        const char *mode = json_string_value(json_object_get(cache, tdarn));
        if (!mode) {
                _cleanup_json_ json_t *q = json_pack("{s:s}", "taskDefinition", tdarn), *a = NULL;
                if (cli_ecs_call_or_print(endpoint, "DescribeTaskDefinition", q, &a) == 0)
                        json_object_set_new(cache, tdarn, json_string(json_string_value(json_object_get(
                                json_object_get(a, "taskDefinition"), "networkMode")) ?: "bridge"));
                mode = json_string_value(json_object_get(cache, tdarn)) ?: "?";
        }
        return mode;
}

struct ps_cache {
        json_t *modes;          /* task definition ARN -> network mode */
        json_t *instances;      /* container instance ARN -> its attributes */
};

static void print_task(const char *endpoint, const char *cluster, json_t *t, struct ps_cache *cache)
{
        const char *arn = json_string_value(json_object_get(t, "taskArn")) ?: "";
        const char *tdarn = json_string_value(json_object_get(t, "taskDefinitionArn")) ?: "";
        const char *id = strrchr(arn, '/') ? strrchr(arn, '/') + 1 : arn;
        const char *td = strrchr(tdarn, '/') ? strrchr(tdarn, '/') + 1 : tdarn;
        const char *ci = json_string_value(json_object_get(t, "containerInstanceArn"));
        const char *ci_eni = NULL, *ci_ip = NULL, *mode;
        char ports[512];
        if (ci) {
                /* bridge and host tasks are reached at their instance's ENI */
                json_t *attrs = instance_attributes(endpoint, cluster, ci, cache->instances);
                ci_eni = json_string_value(json_object_get(attrs, "ecsbox.network-interface-id"));
                ci_ip = json_string_value(json_object_get(attrs, "ecsbox.private-ipv4-address"));
        }
        mode = network_mode(endpoint, tdarn, cache->modes);
        ports_of(t, cli_task_detail(t, "privateIPv4Address") ? NULL : ci_ip, ports, sizeof ports);
        printf("%-32s  %-16s  %-14s  %-7s  %-21s  %-15s  %-17s  %s\n", id, td,
               json_string_value(json_object_get(t, "lastStatus")) ?: "?", mode,
               cli_task_detail(t, "networkInterfaceId") ?: ci_eni ?: "-", cli_task_detail(t, "privateIPv4Address") ?: ci_ip ?: "-",
               cli_task_detail(t, "macAddress") ?: "-", ports);
}

static int ps(const char *endpoint, const char *cluster, bool all)
{
        _cleanup_json_ json_t *arns = json_array(), *modes = json_object(), *instances = json_object();
        struct ps_cache cache = { .modes = modes, .instances = instances };
        int r;
        if ((r = list_task_arns(endpoint, cluster, all, arns)) != 0)
                return r;
        printf("%-32s  %-16s  %-14s  %-7s  %-21s  %-15s  %-17s  %s\n", "TASK", "DEFINITION", "STATUS", "MODE", "ENI", "IP", "MAC",
               "PORTS");
        for (size_t at = 0; at < json_array_size(arns); at += 100) {
                _cleanup_json_ json_t *req = json_pack("{s:s, s:o}", "cluster", cluster, "tasks", json_array());
                _cleanup_json_ json_t *ans = NULL;
                json_t *t;
                size_t i;
                for (size_t k = at; k < at + 100 && k < json_array_size(arns); k++)
                        json_array_append(json_object_get(req, "tasks"), json_array_get(arns, k));
                if ((r = cli_ecs_call_or_print(endpoint, "DescribeTasks", req, &ans)) != 0)
                        return r;
                json_array_foreach(json_object_get(ans, "tasks"), i, t)
                        print_task(endpoint, cluster, t, &cache);
        }
        return 0;
}

int cli_ps(const char *endpoint, int argc, char **argv)
{
        const char *cluster = "default";
        bool all = false;
        for (int i = 0; i < argc; i++) {
                if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
                        all = true;
                else if (!strcmp(argv[i], "--cluster") && i + 1 < argc)
                        cluster = argv[++i];
                else {
                        fprintf(stderr, "usage: ecsbox ps [--cluster NAME] [-a|--all]\n");
                        return EXIT_USAGE;
                }
        }
        return ps(endpoint, cluster, all);
}
