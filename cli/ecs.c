/* ecs.c: `ecsbox ecs VERB --flags` in the `aws ecs` style against ecsboxd (HTTP, ECS JSON 1.1),
 * `ecsbox ecs logs`, and `ecsbox ps`. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"

#define TARGET "AmazonEC2ContainerServiceV20141113."

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
        "force", "enable-execute-command", "enable-ecs-managed-tags", "force-new-deployment", NULL,
};

static bool in(const char *const *set, const char *s)
{
        for (; *set; set++)
                if (!strcmp(*set, s))
                        return true;
        return false;
}

/* "task-definition" -> "taskDefinition" */
void cli_camel(const char *kebab, char *out, size_t len)
{
        cli_pascal(kebab, out, len);
        if (out[0])
                out[0] = (char) tolower((unsigned char) out[0]);
}

/* ---- the aws shorthand syntax: a=1,b=[x,y],c={d=e} ---- */

static json_t *sh_value(const char **p, int depth);

static json_t *sh_scalar(const char **p)
{
        const char *s = *p;
        size_t n = 0;
        while (s[n] && s[n] != ',' && s[n] != ']' && s[n] != '}')
                n++;
        *p = s + n;
        if (n == 4 && !strncmp(s, "true", 4))
                return json_true();
        if (n == 5 && !strncmp(s, "false", 5))
                return json_false();
        if (n > 0 && (isdigit((unsigned char) s[0]) || (s[0] == '-' && n > 1))) {
                char *end;
                long long v = strtoll(s, &end, 10);
                if (end == s + n)
                        return json_integer(v);
        }
        return json_stringn(s, n);
}

static json_t *sh_list(const char **p, int depth)
{
        json_t *arr = json_array();
        (*p)++;
        while (**p && **p != ']') {
                json_t *v = sh_value(p, depth + 1);
                if (!v) {
                        json_decref(arr);
                        return NULL;
                }
                json_array_append_new(arr, v);
                if (**p == ',')
                        (*p)++;
        }
        if (**p != ']') {
                json_decref(arr);
                return NULL;
        }
        (*p)++;
        return arr;
}

/* key=value pairs up to the end or a closing brace */
static json_t *sh_object(const char **p, int depth, char close)
{
        json_t *obj = json_object();
        while (**p && **p != close) {
                const char *k = *p, *eq = strchr(k, '=');
                json_t *v;
                if (!eq) {
                        json_decref(obj);
                        return NULL;
                }
                *p = eq + 1;
                v = sh_value(p, depth + 1);
                if (!v) {
                        json_decref(obj);
                        return NULL;
                }
                {
                        _cleanup_free_ char *key = strndup(k, (size_t) (eq - k));
                        json_object_set_new(obj, key, v);
                }
                if (**p == ',')
                        (*p)++;
        }
        return obj;
}

static json_t *sh_value(const char **p, int depth)
{
        if (depth > 16)
                return NULL;
        if (**p == '[')
                return sh_list(p, depth);
        if (**p == '{') {
                json_t *o;
                (*p)++;
                o = sh_object(p, depth, '}');
                if (!o || **p != '}') {
                        json_decref(o);
                        return NULL;
                }
                (*p)++;
                return o;
        }
        return sh_scalar(p);
}

/* A structure value: JSON, or the shorthand "a=1,b=[x,y]". */
json_t *cli_shorthand(const char *s)
{
        const char *p = s;
        json_t *o;
        if (s[0] == '{' || s[0] == '[')
                return json_loads(s, JSON_DECODE_ANY, NULL);
        o = sh_object(&p, 0, '\0');
        if (o && *p) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static char *read_file_arg(const char *v)
{
        _cleanup_fclose_ FILE *f = fopen(v + 7, "re");
        char *buf = NULL;
        size_t cap = 0;
        ssize_t n;
        if (!f)
                return NULL;
        n = getdelim(&buf, &cap, '\0', f);
        if (n < 0) {
                free(buf);
                return strdup("");
        }
        return buf;
}

/* ---- HTTP ---- */

struct buf {
        char *data;
        size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
        struct buf *b = userdata;
        char *d = realloc(b->data, b->len + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + b->len, p, size * n);
        b->len += size * n;
        d[b->len] = '\0';
        b->data = d;
        return size * n;
}

/* One API call; *ret gets the answer (or the error body). Returns the HTTP status, or -1 when
 * ecsboxd could not be reached (message printed). */
int cli_ecs_call(const char *endpoint, const char *op, json_t *req, json_t **ret)
{
        _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
        char target[160], errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *h = NULL;
        struct buf out = { 0 };
        long status = 0;
        CURL *c;
        CURLcode rc;
        json_error_t jerr;

        c = curl_easy_init();
        if (!c || !body)
                return -1;
        snprintf(target, sizeof target, "X-Amz-Target: " TARGET "%s", op);
        h = curl_slist_append(h, target);
        h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
        if (endpoint[0] == '/') {
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, endpoint);
                curl_easy_setopt(c, CURLOPT_URL, "http://localhost/");
        } else
                curl_easy_setopt(c, CURLOPT_URL, endpoint);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                fprintf(stderr, "ecsbox: cannot reach ecsboxd at '%s': %s\n", endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
                free(out.data);
                return -1;
        }
        *ret = out.data ? json_loads(out.data, 0, &jerr) : json_object();
        if (!*ret) {
                fprintf(stderr, "ecsbox: ecsboxd answered %ld with a body that is not JSON: %.200s\n", status, out.data);
                free(out.data);
                return -1;
        }
        free(out.data);
        return (int) status;
}

/* Calls and, on an error answer, prints it the aws way. Returns 0, EXIT_SERVICE or EXIT_OTHER. */
static int call_or_print(const char *endpoint, const char *op, json_t *req, json_t **ret)
{
        int st = cli_ecs_call(endpoint, op, req, ret);
        if (st < 0)
                return EXIT_OTHER;
        if (st != 200) {
                const char *type = json_string_value(json_object_get(*ret, "__type")) ?: "ServerException";
                const char *hash = strrchr(type, '#');
                fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n", hash ? hash + 1 : type, op,
                        json_string_value(json_object_get(*ret, "message")) ?: json_string_value(json_object_get(*ret, "Message")) ?: "");
                json_decref(*ret);
                *ret = NULL;
                return EXIT_SERVICE;
        }
        return 0;
}

/* ---- ecsbox ecs logs ---- */

static int logs(const char *endpoint, json_t *req, bool follow)
{
        long long offset = 0;
        for (int rounds = 0;; rounds++) {
                _cleanup_json_ json_t *ans = NULL;
                json_t *ev;
                size_t i;
                int r;
                json_object_set_new(req, "offset", json_integer(offset));
                if ((r = call_or_print(endpoint, "GetTaskLogs", req, &ans)) != 0)
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
                        _cleanup_json_ json_t *dreq = json_pack("{s:O, s:[O]}", "cluster", json_object_get(req, "cluster") ?: json_string("default"),
                                                                "tasks", json_object_get(req, "task"));
                        _cleanup_json_ json_t *dans = NULL;
                        const char *st;
                        if ((r = call_or_print(endpoint, "DescribeTasks", dreq, &dans)) != 0)
                                return r;
                        st = json_string_value(json_object_get(json_array_get(json_object_get(dans, "tasks"), 0), "lastStatus"));
                        if (!st || !strcmp(st, "STOPPED"))
                                return 0;
                }
                usleep(300 * 1000);
        }
}

static const char *detail(json_t *task, const char *name);

/* ---- ecsbox ecs flow-logs ---- */

/* The task's VPC Flow Log records (netd GetFlowLogs on the task's ENI): the header line, then the
 * records; with follow, new records as they are written, until the task has stopped. */
static int flow_logs(const char *endpoint, const char *netd_sock, json_t *req, bool follow)
{
        _cleanup_json_ json_t *dreq = json_pack("{s:O, s:[O]}", "cluster", json_object_get(req, "cluster") ?: json_string("default"),
                                                "tasks", json_object_get(req, "task"));
        _cleanup_json_ json_t *seen = json_object();   /* log file -> records printed */
        char eni[64] = "";
        bool header = false;
        int r;

        for (int round = 0;; round++) {
                _cleanup_json_ json_t *dans = NULL, *nreq = NULL, *nans = NULL;
                json_t *task, *fl, *e;
                const char *status;
                size_t i, k;
                if ((r = call_or_print(endpoint, "DescribeTasks", dreq, &dans)) != 0)
                        return r;
                task = json_array_get(json_object_get(dans, "tasks"), 0);
                if (!task) {
                        fprintf(stderr, "ecsbox ecs flow-logs: task '%s' not found\n", json_string_value(json_object_get(req, "task")) ?: "");
                        return EXIT_SERVICE;
                }
                status = json_string_value(json_object_get(task, "lastStatus")) ?: "";
                if (!eni[0] && detail(task, "networkInterfaceId"))
                        snprintf(eni, sizeof eni, "%s", detail(task, "networkInterfaceId"));
                if (!eni[0]) {
                        fprintf(stderr, "ecsbox ecs flow-logs: the task has no network interface of its own (only awsvpc tasks do; "
                                        "a bridge or host task's flows are in its container instance's ENI log)\n");
                        return EXIT_USAGE;
                }
                nreq = json_pack("{s:s, s:s}", "Action", "GetFlowLogs", "NetworkInterfaceId", eni);
                if (json_object_get(req, "flowLogId"))
                        json_object_set(nreq, "FlowLogId", json_object_get(req, "flowLogId"));
                if ((r = cli_netd_call(netd_sock, nreq, &nans)) < 0) {
                        fprintf(stderr, "ecsbox: cannot talk to ecsbox-netd on '%s': %s\n", netd_sock, strerror(-r));
                        return EXIT_OTHER;
                }
                if ((e = json_object_get(nans, "Error"))) {
                        fprintf(stderr, "\nAn error occurred (%s) when calling the GetFlowLogs operation: %s\n",
                                json_string_value(json_object_get(e, "Code")), json_string_value(json_object_get(e, "Message")));
                        return EXIT_SERVICE;
                }
                if (round == 0 && json_array_size(json_object_get(nans, "FlowLogRecords")) == 0) {
                        /* no records yet, or no flow log at all? */
                        _cleanup_json_ json_t *q = json_pack("{s:s, s:[{s:s, s:[s]}]}", "Action", "DescribeFlowLogs", "Filter", "Name",
                                                             "resource-id", "Values", eni), *qa = NULL;
                        if (cli_netd_call(netd_sock, q, &qa) == 0 && json_array_size(json_object_get(qa, "FlowLogs")) > 0)
                                goto next;
                        fprintf(stderr, "ecsbox ecs flow-logs: no flow log covers %s (create one with ecsbox ec2 create-flow-logs, "
                                        "or tag the task, its definition or its cluster ecsbox:flow-logs=ALL)\n", eni);
                        return EXIT_SERVICE;
                }
                json_array_foreach(json_object_get(nans, "FlowLogRecords"), i, fl) {
                        json_t *recs = json_object_get(fl, "Records");
                        const char *file = json_string_value(json_object_get(fl, "LogFile")) ?: "";
                        size_t done = (size_t) json_integer_value(json_object_get(seen, file));
                        if (!header && json_string_value(json_object_get(fl, "Header"))) {
                                printf("%s\n", json_string_value(json_object_get(fl, "Header")));
                                header = true;
                        }
                        if (done > json_array_size(recs))   /* rotated: start again */
                                done = 0;
                        for (k = done; k < json_array_size(recs); k++)
                                printf("%s\n", json_string_value(json_array_get(recs, k)) ?: "");
                        json_object_set_new(seen, file, json_integer((json_int_t) json_array_size(recs)));
                }
        next:
                fflush(stdout);
                if (!follow || (!strcmp(status, "STOPPED") && round > 0))
                        return 0;
                usleep(1000 * 1000);
        }
}

/* ---- ecsbox ecs events (services) ---- */

/* Prints a service's events oldest first; with follow, new ones as they come until it is INACTIVE. */
static int events(const char *endpoint, json_t *req, bool follow)
{
        _cleanup_json_ json_t *seen = json_object();
        _cleanup_json_ json_t *dreq = json_pack("{s:s, s:[O]}", "cluster", json_string_value(json_object_get(req, "cluster")) ?: "default",
                                                "services", json_object_get(req, "service"));
        for (;;) {
                _cleanup_json_ json_t *ans = NULL;
                json_t *svc, *evs, *ev;
                size_t n;
                int r;
                if ((r = call_or_print(endpoint, "DescribeServices", dreq, &ans)) != 0)
                        return r;
                svc = json_array_get(json_object_get(ans, "services"), 0);
                if (!svc) {
                        fprintf(stderr, "ecsbox ecs events: service '%s' not found\n", json_string_value(json_object_get(req, "service")));
                        return EXIT_SERVICE;
                }
                evs = json_object_get(svc, "events");
                for (n = json_array_size(evs); n-- > 0;) {
                        const char *id;
                        char when[ISO8601_MAX];
                        ev = json_array_get(evs, n);
                        id = json_string_value(json_object_get(ev, "id")) ?: "";
                        if (json_object_get(seen, id))
                                continue;
                        json_object_set_new(seen, id, json_true());
                        iso8601_s(json_number_value(json_object_get(ev, "createdAt")), when);
                        printf("%s  %s\n", when, json_string_value(json_object_get(ev, "message")) ?: "");
                }
                fflush(stdout);
                if (!follow || !strcmp(json_string_value(json_object_get(svc, "status")) ?: "", "INACTIVE"))
                        return 0;
                usleep(1000 * 1000);
        }
}

/* ---- ecsbox ps ---- */

static const char *detail(json_t *task, const char *name)
{
        json_t *att, *d;
        size_t i, k;
        json_array_foreach(json_object_get(task, "attachments"), i, att)
                json_array_foreach(json_object_get(att, "details"), k, d)
                        if (!strcmp(json_string_value(json_object_get(d, "name")) ?: "", name))
                                return json_string_value(json_object_get(d, "value"));
        return NULL;
}

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

static int ps(const char *endpoint, const char *cluster, bool all)
{
        _cleanup_json_ json_t *arns = json_array(), *modes = json_object(), *instances = json_object();
        const char *statuses[] = { "RUNNING", "STOPPED" };
        int r;
        for (int s = 0; s < (all ? 2 : 1); s++) {
                _cleanup_json_ json_t *token = NULL;
                for (int page = 0; page < 1000; page++) {
                        _cleanup_json_ json_t *req = json_pack("{s:s, s:s, s:i}", "cluster", cluster, "desiredStatus", statuses[s], "maxResults", 100);
                        _cleanup_json_ json_t *ans = NULL;
                        if (token)
                                json_object_set(req, "nextToken", token);
                        if ((r = call_or_print(endpoint, "ListTasks", req, &ans)) != 0)
                                return r;
                        json_array_extend(arns, json_object_get(ans, "taskArns"));
                        json_decref(token);
                        token = json_incref(json_object_get(ans, "nextToken"));
                        if (!token)
                                break;
                }
        }
        printf("%-32s  %-16s  %-14s  %-7s  %-21s  %-15s  %-17s  %s\n", "TASK", "DEFINITION", "STATUS", "MODE", "ENI", "IP", "MAC",
               "PORTS");
        for (size_t at = 0; at < json_array_size(arns); at += 100) {
                _cleanup_json_ json_t *req = json_pack("{s:s, s:o}", "cluster", cluster, "tasks", json_array());
                _cleanup_json_ json_t *ans = NULL;
                json_t *t;
                size_t i;
                for (size_t k = at; k < at + 100 && k < json_array_size(arns); k++)
                        json_array_append(json_object_get(req, "tasks"), json_array_get(arns, k));
                if ((r = call_or_print(endpoint, "DescribeTasks", req, &ans)) != 0)
                        return r;
                json_array_foreach(json_object_get(ans, "tasks"), i, t) {
                        const char *arn = json_string_value(json_object_get(t, "taskArn")) ?: "";
                        const char *tdarn = json_string_value(json_object_get(t, "taskDefinitionArn")) ?: "";
                        const char *id = strrchr(arn, '/') ? strrchr(arn, '/') + 1 : arn;
                        const char *td = strrchr(tdarn, '/') ? strrchr(tdarn, '/') + 1 : tdarn;
                        const char *mode = json_string_value(json_object_get(modes, tdarn));
                        const char *ci = json_string_value(json_object_get(t, "containerInstanceArn"));
                        const char *ci_eni = NULL, *ci_ip = NULL;
                        char ports[512];
                        if (ci && !json_object_get(instances, ci)) {
                                /* bridge and host tasks are reached at their instance's ENI */
                                _cleanup_json_ json_t *q = json_pack("{s:s, s:[s]}", "cluster", cluster, "containerInstances", ci);
                                _cleanup_json_ json_t *a = NULL;
                                json_t *attr, *m = json_object();
                                size_t x;
                                json_object_set_new(instances, ci, m);
                                if (call_or_print(endpoint, "DescribeContainerInstances", q, &a) == 0)
                                        json_array_foreach(json_object_get(json_array_get(json_object_get(a, "containerInstances"), 0), "attributes"), x, attr)
                                                json_object_set(m, json_string_value(json_object_get(attr, "name")) ?: "",
                                                                json_object_get(attr, "value") ?: json_null());
                        }
                        if (ci) {
                                ci_eni = json_string_value(json_object_get(json_object_get(instances, ci), "ecsbox.network-interface-id"));
                                ci_ip = json_string_value(json_object_get(json_object_get(instances, ci), "ecsbox.private-ipv4-address"));
                        }
                        if (!mode) {
                                _cleanup_json_ json_t *q = json_pack("{s:s}", "taskDefinition", tdarn), *a = NULL;
                                if (call_or_print(endpoint, "DescribeTaskDefinition", q, &a) == 0)
                                        json_object_set_new(modes, tdarn, json_string(json_string_value(json_object_get(
                                                json_object_get(a, "taskDefinition"), "networkMode")) ?: "bridge"));
                                mode = json_string_value(json_object_get(modes, tdarn)) ?: "?";
                        }
                        ports_of(t, detail(t, "privateIPv4Address") ? NULL : ci_ip, ports, sizeof ports);
                        printf("%-32s  %-16s  %-14s  %-7s  %-21s  %-15s  %-17s  %s\n", id, td,
                               json_string_value(json_object_get(t, "lastStatus")) ?: "?", mode,
                               detail(t, "networkInterfaceId") ?: ci_eni ?: "-", detail(t, "privateIPv4Address") ?: ci_ip ?: "-",
                               detail(t, "macAddress") ?: "-", ports);
                }
        }
        return 0;
}

/* ---- ecsbox ecs ---- */

static void ecs_usage(FILE *f)
{
        fprintf(f, "usage: ecsbox [--endpoint URL|SOCKET] ecs VERB [--flag VALUE ...]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs logs --task ID [--container NAME] [--cluster C] [--follow]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs flow-logs --task ID [--cluster C] [--flow-log-id fl-...] [--follow]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ecs events --service NAME [--cluster C] [--follow]\n"
                   "       ecsbox [--endpoint URL|SOCKET] ps [--cluster C] [-a]\n"
                   "VERB is any aws ecs verb ecsboxd implements (create-cluster, register-task-definition, run-task,\n"
                   "describe-tasks, list-tasks, stop-task, register-container-instance, ...). Flags are the aws ones;\n"
                   "structures take JSON or the aws shorthand (awsvpcConfiguration={subnets=[subnet-1]}), values\n"
                   "may be file://PATH, and --cli-input-json takes a whole request.\n"
                   "The endpoint is --endpoint, else $ECSBOX_ENDPOINT, else /run/ecsbox/ecsboxd.sock.\n");
}

int cli_ecs(const char *endpoint, const char *netd_sock, int argc, char **argv)
{
        char op[96], member[96];
        _cleanup_json_ json_t *req = json_object(), *ans = NULL;
        bool follow = false;
        int r;
        if (argc < 1 || !strcmp(argv[0], "help") || !strcmp(argv[0], "--help")) {
                ecs_usage(argc < 1 ? stderr : stdout);
                return argc < 1 ? EXIT_USAGE : 0;
        }
        for (const char *p = argv[0]; *p; p++)
                if (!islower((unsigned char) *p) && *p != '-') {
                        fprintf(stderr, "ecsbox ecs: invalid choice: '%s'\n", argv[0]);
                        return EXIT_USAGE;
                }
        cli_pascal(argv[0], op, sizeof op);
        for (int i = 1; i < argc;) {
                const char *flag = argv[i];
                _cleanup_free_ char *file = NULL;
                const char *v;
                if (!strcmp(flag, "--help")) {
                        ecs_usage(stdout);
                        return 0;
                }
                if (strncmp(flag, "--", 2) != 0) {
                        fprintf(stderr, "ecsbox ecs %s: expected --flag, got '%s'\n", argv[0], flag);
                        return EXIT_USAGE;
                }
                flag += 2;
                i++;
                if (!strcmp(flag, "follow") &&
                    (!strcmp(argv[0], "logs") || !strcmp(argv[0], "flow-logs") || !strcmp(argv[0], "events"))) {
                        follow = true;
                        continue;
                }
                if (in(bool_flags, flag) || (!strncmp(flag, "no-", 3) && in(bool_flags, flag + 3))) {
                        bool no = !strncmp(flag, "no-", 3);
                        cli_camel(no ? flag + 3 : flag, member, sizeof member);
                        json_object_set_new(req, member, json_boolean(!no));
                        continue;
                }
                if (i >= argc) {
                        fprintf(stderr, "ecsbox ecs %s: --%s needs a value\n", argv[0], flag);
                        return EXIT_USAGE;
                }
                if (!strcmp(flag, "cli-input-json")) {
                        json_error_t jerr;
                        const char *src = argv[i++];
                        json_t *o = !strncmp(src, "file://", 7) ? json_load_file(src + 7, 0, &jerr) : json_loads(src, 0, &jerr);
                        if (!json_is_object(o)) {
                                fprintf(stderr, "ecsbox ecs %s: --cli-input-json: %s\n", argv[0], o ? "not a JSON object" : jerr.text);
                                json_decref(o);
                                return EXIT_USAGE;
                        }
                        json_object_update(req, o);
                        json_decref(o);
                        continue;
                }
                cli_camel(flag, member, sizeof member);
                if (in(list_flags, flag)) {
                        json_t *arr = json_array();
                        for (; i < argc && strncmp(argv[i], "--", 2) != 0; i++)
                                json_array_append_new(arr, json_string(argv[i]));
                        json_object_set_new(req, member, arr);
                        continue;
                }
                if (in(struct_list_flags, flag)) {
                        json_t *arr = json_array();
                        json_object_set_new(req, member, arr);
                        for (; i < argc && strncmp(argv[i], "--", 2) != 0; i++) {
                                _cleanup_free_ char *content = NULL;
                                const char *x = argv[i];
                                json_t *j;
                                if (!strncmp(x, "file://", 7)) {
                                        if (!(content = read_file_arg(x))) {
                                                fprintf(stderr, "ecsbox ecs %s: --%s: cannot read '%s': %s\n", argv[0], flag, x + 7, strerror(errno));
                                                return EXIT_USAGE;
                                        }
                                        x = content;
                                }
                                j = strchr(x, '=') || x[0] == '{' || x[0] == '[' ? cli_shorthand(x) : json_string(x);
                                if (!j) {
                                        fprintf(stderr, "ecsbox ecs %s: --%s: not JSON nor shorthand (key=value,list=[a,b]): '%s'\n", argv[0], flag, x);
                                        return EXIT_USAGE;
                                }
                                if (json_is_array(j)) {
                                        json_array_extend(arr, j);
                                        json_decref(j);
                                } else
                                        json_array_append_new(arr, j);
                        }
                        continue;
                }
                v = argv[i++];
                if (!strncmp(v, "file://", 7)) {
                        if (!(file = read_file_arg(v))) {
                                fprintf(stderr, "ecsbox ecs %s: --%s: cannot read '%s': %s\n", argv[0], flag, v + 7, strerror(errno));
                                return EXIT_USAGE;
                        }
                        v = file;
                }
                if (in(int_flags, flag)) {
                        char *end;
                        long long n = strtoll(v, &end, 10);
                        if (!*v || *end) {
                                fprintf(stderr, "ecsbox ecs %s: --%s: '%s' is not a number\n", argv[0], flag, v);
                                return EXIT_USAGE;
                        }
                        json_object_set_new(req, member, json_integer(n));
                } else if (v[0] == '{' || v[0] == '[' || (strchr(v, '=') && !strchr(v, ' ') && strcmp(flag, "reason") != 0 &&
                                                           strcmp(flag, "started-by") != 0 && strcmp(flag, "group") != 0)) {
                        json_t *j = cli_shorthand(v);
                        if (!j) {
                                fprintf(stderr, "ecsbox ecs %s: --%s: not JSON nor shorthand (key=value,list=[a,b]): '%s'\n", argv[0], flag, v);
                                return EXIT_USAGE;
                        }
                        json_object_set_new(req, member, j);
                } else
                        json_object_set_new(req, member, json_string(v));
        }
        if (!strcmp(argv[0], "logs") || !strcmp(argv[0], "flow-logs")) {
                if (!json_object_get(req, "task")) {
                        fprintf(stderr, "ecsbox ecs %s: --task ID is required\n", argv[0]);
                        return EXIT_USAGE;
                }
                return !strcmp(argv[0], "logs") ? logs(endpoint, req, follow) : flow_logs(endpoint, netd_sock, req, follow);
        }
        if (!strcmp(argv[0], "events")) {
                if (!json_string_value(json_object_get(req, "service"))) {
                        fprintf(stderr, "ecsbox ecs events: --service NAME is required\n");
                        return EXIT_USAGE;
                }
                return events(endpoint, req, follow);
        }
        if ((r = call_or_print(endpoint, op, req, &ans)) != 0)
                return r;
        if (json_object_size(ans) > 0) {
                json_dumpf(ans, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                putchar('\n');
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
