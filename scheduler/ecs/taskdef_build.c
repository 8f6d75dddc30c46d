/* taskdef_build.c: RegisterTaskDefinition's decoder: the request checked member by member with
 * ECS's messages and built into a TaskDefinition (defaults filled in, ECS's derived members).
 * Pure: no store, no I/O. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "arn.h"
#include "cql.h"
#include "ecs.h"
#include "taskdef.h"

#define MAX_CONTAINERS 10

static const char *const capabilities[] = {
        "ALL", "AUDIT_CONTROL", "AUDIT_WRITE", "BLOCK_SUSPEND", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER",
        "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD",
        "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
        "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM", NULL,
};

static const char *const log_drivers[] = {
        "json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "awsfirelens", "logentries", NULL,
};

/* What ECS accepts in an awslogs logConfiguration's options. */
static const char *const awslogs_options[] = {
        "awslogs-group", "awslogs-region", "awslogs-stream-prefix", "awslogs-create-group", "awslogs-datetime-format",
        "awslogs-multiline-pattern", "awslogs-endpoint", "mode", "max-buffer-size", NULL,
};

static bool one_of(const char *s, const char *const *set)
{
        for (; *set; set++)
                if (strcmp(s, *set) == 0)
                        return true;
        return false;
}

/* "1024", "1 vCPU", "0.25 vcpu" (cpu units); "2048", "2 GB", "0.5GB", "512 MiB" (MiB). */
int taskdef_units(json_t *v, bool memory, long *ret)
{
        const char *s;
        char *end;
        double x;
        if (json_is_integer(v)) {
                if (json_integer_value(v) <= 0 || json_integer_value(v) > 10L * 1024 * 1024)
                        return -ERANGE;
                *ret = (long) json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                return -EINVAL;
        s = json_string_value(v);
        errno = 0;
        x = strtod(s, &end);
        if (errno || end == s || x <= 0 || x > 10.0 * 1024 * 1024)
                return -EINVAL;
        while (*end == ' ')
                end++;
        if (*end == '\0') {
                if (x != (double) (long) x)
                        return -EINVAL;
                *ret = (long) x;
                return 0;
        }
        if (!memory && strcasecmp(end, "vcpu") == 0)
                x *= 1024;
        else if (memory && strcasecmp(end, "gb") == 0)
                x *= 1024;
        else if (memory && (strcasecmp(end, "mb") == 0 || strcasecmp(end, "mib") == 0))
                ;
        else
                return -EINVAL;
        if (x < 1 || x != (double) (long) x)
                return -EINVAL;
        *ret = (long) x;
        return 0;
}

struct cinfo {
        const char *name;
        bool essential;
        bool health;
};

static int check_port_mappings(json_t *out, const char *path, const char *cname, const char *mode, json_t *seen,
                               struct err *err)
{
        json_t *pms = NULL, *pm;
        size_t i;
        int r;
        if ((r = req_array(out, path, "portMappings", false, &pms, err)) < 0)
                return r;
        if (!pms) {
                json_object_set_new(out, "portMappings", json_array());
                return 0;
        }
        if (strcmp(mode, "none") == 0 && json_array_size(pms) > 0)
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid setting for container '%s'. Port mappings are not allowed when networkMode=none.", cname);
        json_array_foreach(pms, i, pm) {
                char p[300], seenkey[40], protobuf[8];
                long long cport = -1, hport = -1;
                const char *proto = "tcp", *range = NULL, *s = NULL;
                snprintf(p, sizeof p, "%s.portMappings[%zu]", path, i);
                if (!json_is_object(pm))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_int(pm, p, "containerPort", false, 0, 65535, &cport, err)) < 0 ||
                    (r = req_int(pm, p, "hostPort", false, 0, 65535, &hport, err)) < 0 ||
                    (r = req_str(pm, p, "protocol", false, &proto, err)) < 0 ||
                    (r = req_str(pm, p, "containerPortRange", false, &range, err)) < 0 ||
                    (r = req_str(pm, p, "name", false, &s, err)) < 0 || (r = req_str(pm, p, "appProtocol", false, &s, err)) < 0)
                        return r;
                if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. Port mapping protocol must be tcp or udp, got '%s'.",
                                       cname, proto);
                /* proto may point into pm's own "protocol" string, which the set below frees */
                snprintf(protobuf, sizeof protobuf, "%s", proto);
                proto = protobuf;
                json_object_set_new(pm, "protocol", json_string(proto));
                if (range) {
                        unsigned a, b;
                        char tail;
                        if (cport >= 0)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. Specify either containerPort or containerPortRange, not both.",
                                               cname);
                        if (sscanf(range, "%u-%u%c", &a, &b, &tail) != 2 || a < 1 || b > 65535 || a >= b)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. containerPortRange '%s' must be 'first-last' with 1 <= first < last <= 65535.",
                                               cname, range);
                        if (hport >= 0)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. hostPort cannot be set with containerPortRange.", cname);
                        continue;
                }
                if (cport < 1)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. %s.containerPort must be between 1 and 65535.", cname, p);
                if (strcmp(mode, "awsvpc") == 0 || strcmp(mode, "host") == 0) {
                        if (hport >= 0 && hport != cport)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "When networkMode=%s, the host ports and container ports in port mappings must match.",
                                               mode);
                        hport = cport;
                } else if (hport < 0)
                        hport = 0;   /* bridge: dynamic host port */
                json_object_set_new(pm, "hostPort", json_integer(hport));
                /* In a shared namespace (awsvpc, host) a port can be bound once; in bridge a static host port too. */
                if (hport > 0) {
                        snprintf(seenkey, sizeof seenkey, "%lld/%s", hport, proto);
                        if (json_object_get(seen, seenkey))
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. Host port %lld/%s is already mapped by container '%s' of this task definition.",
                                               cname, hport, proto, json_string_value(json_object_get(seen, seenkey)));
                        json_object_set_new(seen, seenkey, json_string(cname));
                }
        }
        return 0;
}

static int check_environment(json_t *out, const char *path, const char *cname, struct err *err)
{
        json_t *env = NULL, *e;
        size_t i;
        int r;
        if ((r = req_array(out, path, "environment", false, &env, err)) < 0)
                return r;
        if (!env) {
                json_object_set_new(out, "environment", json_array());
                return 0;
        }
        json_array_foreach(env, i, e) {
                char p[300];
                const char *n = NULL, *v = NULL;
                snprintf(p, sizeof p, "%s.environment[%zu]", path, i);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(e, p, "name", false, &n, err)) < 0 || (r = req_str(e, p, "value", false, &v, err)) < 0)
                        return r;
                if (!n || !*n)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. Environment variable names should not be null or empty (%s).",
                                       cname, p);
        }
        return 0;
}

static int check_health(json_t *out, const char *path, const char *cname, struct err *err)
{
        json_t *hc = NULL, *cmd = NULL;
        char p[300];
        long long v;
        int r;
        if ((r = req_object(out, path, "healthCheck", false, &hc, err)) <= 0)
                return r;
        snprintf(p, sizeof p, "%s.healthCheck", path);
        if ((r = req_str_list(hc, p, "command", false, 0, &cmd, err)) < 0)
                return r;
        if (!cmd || json_array_size(cmd) == 0)
                return err_set(err, EINVAL, E_CLIENT, "Invalid setting for container '%s'. healthCheck.command should not be null or empty.", cname);
        {
                const char *first = json_string_value(json_array_get(cmd, 0));
                if (strcmp(first, "CMD") != 0 && strcmp(first, "CMD-SHELL") != 0)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. healthCheck.command must start with CMD or CMD-SHELL, got '%s'.",
                                       cname, first);
                if (json_array_size(cmd) < 2)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. healthCheck.command needs a command after %s.", cname, first);
        }
        v = 30;
        if ((r = req_int(hc, p, "interval", false, 5, 300, &v, err)) < 0)
                return r;
        json_object_set_new(hc, "interval", json_integer(v));
        v = 5;
        if ((r = req_int(hc, p, "timeout", false, 2, 60, &v, err)) < 0)
                return r;
        json_object_set_new(hc, "timeout", json_integer(v));
        v = 3;
        if ((r = req_int(hc, p, "retries", false, 1, 10, &v, err)) < 0)
                return r;
        json_object_set_new(hc, "retries", json_integer(v));
        if ((r = req_int(hc, p, "startPeriod", false, 0, 300, &v, err)) < 0)
                return r;
        return 1;
}

static int check_log_config(json_t *out, const char *path, const char *cname, struct err *err)
{
        json_t *lc = NULL, *opts = NULL, *v;
        const char *driver = NULL, *k;
        char p[300];
        int r;
        if ((r = req_object(out, path, "logConfiguration", false, &lc, err)) <= 0)
                return r;
        snprintf(p, sizeof p, "%s.logConfiguration", path);
        if ((r = req_str(lc, p, "logDriver", true, &driver, err)) < 0 || (r = req_object(lc, p, "options", false, &opts, err)) < 0)
                return r;
        if (!one_of(driver, log_drivers))
                return err_set(err, EINVAL, E_CLIENT, "Invalid setting for container '%s'. Log driver '%s' is not supported.", cname, driver);
        json_object_foreach(opts, k, v)
                if (!json_is_string(v))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s.options.%s: expected a string", p, k);
        if (strcmp(driver, "awslogs") == 0) {
                bool region = json_object_get(opts, "awslogs-region") != NULL, group = json_object_get(opts, "awslogs-group") != NULL;
                const char *cg = jstr(opts, "awslogs-create-group");
                if (!region || !group)
                        return err_set(err, EINVAL, E_CLIENT, "Log driver awslogs requires options: %s%s%s",
                                       region ? "" : "awslogs-region", !region && !group ? ", " : "", group ? "" : "awslogs-group");
                /* ECS's own checks of the awslogs options (docs/logs.md) */
                if (!*jstr(opts, "awslogs-group"))
                        return err_set(err, EINVAL, E_CLIENT, "Log driver awslogs option 'awslogs-group' should not be null or empty.");
                if (cg && strcmp(cg, "true") != 0)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Log driver awslogs option 'awslogs-create-group' should only be set to 'true', else omit option.");
                json_object_foreach(opts, k, v)
                        if (!one_of(k, awslogs_options))
                                return err_set(err, EINVAL, E_CLIENT, "Log driver awslogs disallows options: %s", k);
        }
        return 0;
}

static int check_linux_params(json_t *out, const char *path, const char *cname, struct err *err)
{
        json_t *lp = NULL, *caps = NULL, *list, *e;
        char p[300];
        bool b;
        long long v;
        int r;
        if ((r = req_object(out, path, "linuxParameters", false, &lp, err)) <= 0)
                return r;
        snprintf(p, sizeof p, "%s.linuxParameters", path);
        if ((r = req_object(lp, p, "capabilities", false, &caps, err)) < 0 ||
            (r = req_bool(lp, p, "initProcessEnabled", false, &b, err)) < 0 ||
            (r = req_int(lp, p, "sharedMemorySize", false, 1, 1LL << 40, &v, err)) < 0)
                return r;
        for (int k = 0; caps && k < 2; k++) {
                const char *which = k ? "drop" : "add";
                char cp[320];
                size_t i;
                snprintf(cp, sizeof cp, "%s.capabilities", p);
                if ((r = req_str_list(caps, cp, which, false, 0, &list, err)) < 0)
                        return r;
                if (r == 0)
                        continue;
                json_array_foreach(list, i, e)
                        if (!one_of(json_string_value(e), capabilities))
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. Unknown capability '%s' in linuxParameters.capabilities.%s (names as in Docker, without CAP_, e.g. NET_ADMIN).",
                                               cname, json_string_value(e), which);
        }
        return 0;
}

/* A resolv.conf or hosts word: no spaces or control characters, which would add lines of their own. */
static bool ns_word_ok(const char *s)
{
        if (!*s || strlen(s) > 255)
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f)
                        return false;
        return true;
}

/* hostname, dnsServers, dnsSearchDomains, extraHosts and links. awsvpc (as Fargate; Docker refuses them in
 * the agent's container:<pause> mode): all but dnsSearchDomains are refused up front, naming the field. */
static int check_name_service(json_t *out, const char *path, const char *cname, const char *mode, struct err *err)
{
        static const struct {
                const char *key, *docker;
        } refused[] = {
                { "dnsServers", "dns" }, { "extraHosts", "custom host-to-IP mapping" }, { "hostname", "hostname" },
                { "links", "links" },
        };
        static const char *const lists[] = { "dnsServers", "dnsSearchDomains", "links" };
        json_t *list = NULL, *e;
        const char *s = NULL;
        size_t i;
        int r;

        if ((r = req_str(out, path, "hostname", false, &s, err)) < 0)
                return r;
        if (s && (!ns_word_ok(s) || strlen(s) > 64))
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid setting for container '%s'. hostname '%.100s' must be 1-64 characters without spaces.", cname, s);
        for (i = 0; i < ELEMENTSOF(lists); i++) {
                size_t k;
                list = NULL;
                if ((r = req_str_list(out, path, lists[i], false, 0, &list, err)) < 0)
                        return r;
                json_array_foreach(list, k, e)
                        if (!ns_word_ok(json_string_value(e)))
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. %s[%zu] '%.100s' must be 1-255 characters without spaces.",
                                               cname, lists[i], k, json_string_value(e));
        }
        list = NULL;
        if ((r = req_array(out, path, "extraHosts", false, &list, err)) < 0)
                return r;
        json_array_foreach(list, i, e) {
                char p[96];
                const char *h = NULL, *ip = NULL;
                snprintf(p, sizeof p, "%s.extraHosts[%zu]", path, i);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(e, p, "hostname", true, &h, err)) < 0 || (r = req_str(e, p, "ipAddress", true, &ip, err)) < 0)
                        return r;
                if (!ns_word_ok(h) || !ns_word_ok(ip))
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. extraHosts[%zu] hostname and ipAddress must be 1-255 characters without spaces.",
                                       cname, i);
        }
        if (strcmp(mode, "awsvpc") != 0)
                return 0;
        for (i = 0; i < ELEMENTSOF(refused); i++) {
                json_t *v = json_object_get(out, refused[i].key);
                if (v && !json_is_null(v))
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Invalid setting for container '%s'. %s is not supported when networkMode=awsvpc (conflicting options: %s and the network mode).",
                                       cname, refused[i].key, refused[i].docker);
        }
        return 0;
}

/* Checks one container definition in place (defaults filled in). */
static int check_container(json_t *out, size_t idx, const char *mode, json_t *seen_ports, struct cinfo *ci, struct err *err)
{
        char path[64];
        const char *name = NULL, *image = NULL, *s = NULL;
        long long cpu = 0, mem = -1, memres = -1, v;
        bool essential = true;
        json_t *list = NULL;
        int r;

        snprintf(path, sizeof path, "containerDefinitions[%zu]", idx);
        if ((r = req_str(out, path, "name", false, &name, err)) < 0)
                return r;
        if (!name || !*name)
                return err_set(err, EINVAL, E_CLIENT, "Container.name should not be null or empty.");
        if (!name_valid(name))
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid container name '%.300s': up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.",
                               name);
        if ((r = req_str(out, path, "image", false, &image, err)) < 0)
                return r;
        if (!image || !*image)
                return err_set(err, EINVAL, E_CLIENT, "Container.image should not be null or empty.");
        if (strlen(image) > 255)
                return err_set(err, EINVAL, E_CLIENT, "Invalid setting for container '%s'. The image name must be at most 255 characters.", name);
        if ((r = req_int(out, path, "cpu", false, 0, 10240 * 1024, &cpu, err)) < 0 ||
            (r = req_int(out, path, "memory", false, LLONG_MIN, LLONG_MAX, &mem, err)) < 0 ||
            (r = req_int(out, path, "memoryReservation", false, LLONG_MIN, LLONG_MAX, &memres, err)) < 0 ||
            (r = req_bool(out, path, "essential", false, &essential, err)) < 0)
                return r;
        if (json_object_get(out, "memory") && mem < 6)
                return err_set(err, EINVAL, E_CLIENT, "Invalid 'memory' setting for container '%s'. The minimum is 6 MiB.", name);
        if (json_object_get(out, "memoryReservation") && memres < 6)
                return err_set(err, EINVAL, E_CLIENT, "Invalid 'memoryReservation' setting for container '%s'. The minimum is 6 MiB.", name);
        if (mem > 0 && memres > mem)
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid setting for container '%s'. 'memoryReservation' (%lld) must be less than or equal to 'memory' (%lld).",
                               name, memres, mem);
        json_object_set_new(out, "cpu", json_integer(cpu));
        json_object_set_new(out, "essential", json_boolean(essential));
        if ((r = req_str_list(out, path, "command", false, 0, &list, err)) < 0 ||
            (r = req_str_list(out, path, "entryPoint", false, 0, &list, err)) < 0 ||
            (r = req_str(out, path, "workingDirectory", false, &s, err)) < 0 || (r = req_str(out, path, "user", false, &s, err)) < 0 ||
            (r = req_int(out, path, "stopTimeout", false, 2, 120, &v, err)) < 0 ||
            (r = req_int(out, path, "startTimeout", false, 2, 600, &v, err)) < 0 ||
            (r = check_environment(out, path, name, err)) < 0 || (r = check_port_mappings(out, path, name, mode, seen_ports, err)) < 0 ||
            (r = check_health(out, path, name, err)) < 0)
                return r;
        ci->health = r > 0;
        if ((r = check_log_config(out, path, name, err)) < 0 || (r = check_linux_params(out, path, name, err)) < 0 ||
            (r = check_name_service(out, path, name, mode, err)) < 0 ||
            (r = req_array(out, path, "dependsOn", false, &list, err)) < 0)
                return r;
        if (!json_object_get(out, "mountPoints"))
                json_object_set_new(out, "mountPoints", json_array());
        if (!json_object_get(out, "volumesFrom"))
                json_object_set_new(out, "volumesFrom", json_array());
        ci->name = name;
        ci->essential = essential;
        return 0;
}

static int find_container(const struct cinfo *ci, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(ci[i].name, name) == 0)
                        return (int) i;
        return -1;
}

static int check_depends(json_t *defs, const struct cinfo *ci, size_t n, struct err *err)
{
        /* adjacency as a matrix: at most 10 containers */
        bool edge[MAX_CONTAINERS][MAX_CONTAINERS] = { { false } };
        int state[MAX_CONTAINERS] = { 0 }, stack[MAX_CONTAINERS + 1], pos[MAX_CONTAINERS + 1], sp;
        json_t *cd;
        size_t i;
        int r;
        json_array_foreach(defs, i, cd) {
                json_t *deps = json_object_get(cd, "dependsOn"), *d;
                size_t k;
                json_array_foreach(deps, k, d) {
                        char p[80];
                        const char *target = NULL, *cond = NULL;
                        int t;
                        snprintf(p, sizeof p, "containerDefinitions[%zu].dependsOn[%zu]", i, k);
                        if (!json_is_object(d))
                                return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                        if ((r = req_str(d, p, "containerName", true, &target, err)) < 0 ||
                            (r = req_str(d, p, "condition", true, &cond, err)) < 0)
                                return r;
                        if (strcmp(cond, "START") != 0 && strcmp(cond, "COMPLETE") != 0 && strcmp(cond, "SUCCESS") != 0 &&
                            strcmp(cond, "HEALTHY") != 0)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. dependsOn condition '%s' must be START, COMPLETE, SUCCESS or HEALTHY.",
                                               ci[i].name, cond);
                        t = find_container(ci, n, target);
                        if (t < 0)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. It depends on container '%s', which is not in the task definition.",
                                               ci[i].name, target);
                        if ((size_t) t == i)
                                return err_set(err, EINVAL, E_CLIENT, "Invalid setting for container '%s'. A container cannot depend on itself.",
                                               ci[i].name);
                        if ((strcmp(cond, "COMPLETE") == 0 || strcmp(cond, "SUCCESS") == 0) && ci[t].essential)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container (container '%s' depends on '%s').",
                                               ci[i].name, target);
                        if (strcmp(cond, "HEALTHY") == 0 && !ci[t].health)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid setting for container '%s'. It depends on '%s' being HEALTHY, but '%s' has no healthCheck.",
                                               ci[i].name, target, target);
                        edge[i][t] = true;
                }
        }
        /* cycle check: iterative depth-first search (0 new, 1 on the path, 2 done) */
        for (size_t s0 = 0; s0 < n; s0++) {
                if (state[s0])
                        continue;
                sp = 0;
                stack[0] = (int) s0;
                pos[0] = 0;
                state[s0] = 1;
                while (sp >= 0) {
                        int u = stack[sp];
                        if (pos[sp] >= (int) n) {
                                state[u] = 2;
                                sp--;
                                continue;
                        }
                        int v = pos[sp]++;
                        if (!edge[u][v])
                                continue;
                        if (state[v] == 1)
                                return err_set(err, EINVAL, E_CLIENT,
                                               "Invalid container dependencies: '%s' and '%s' depend on each other (a cycle).",
                                               ci[u].name, ci[v].name);
                        if (state[v] == 0) {
                                state[v] = 1;
                                stack[++sp] = v;
                                pos[sp] = 0;
                        }
                }
        }
        return 0;
}

static int check_placement_constraints(json_t *out, struct err *err)
{
        json_t *pcs = NULL, *pc;
        size_t i;
        int r;
        if ((r = req_array(out, NULL, "placementConstraints", false, &pcs, err)) < 0)
                return r;
        if (!pcs) {
                json_object_set_new(out, "placementConstraints", json_array());
                return 0;
        }
        if (json_array_size(pcs) > 10)
                return err_set(err, EINVAL, E_CLIENT, "A task definition can have at most 10 placement constraints.");
        json_array_foreach(pcs, i, pc) {
                char p[64];
                const char *type = NULL, *expr = NULL;
                struct cql *q = NULL;
                snprintf(p, sizeof p, "placementConstraints[%zu]", i);
                if (!json_is_object(pc))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(pc, p, "type", true, &type, err)) < 0 || (r = req_str(pc, p, "expression", false, &expr, err)) < 0)
                        return r;
                if (strcmp(type, "memberOf") != 0)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Task definition placement constraints support only the memberOf type (got '%s').", type);
                if (!expr || !*expr)
                        return err_set(err, EINVAL, E_CLIENT, "A memberOf placement constraint needs an expression.");
                if ((r = cql_parse(expr, &q, err)) < 0) {
                        snprintf(err->code, sizeof err->code, "%s", E_CLIENT);
                        return err_wrap(err, "Invalid placement constraint expression '%s'", expr);
                }
                cql_free(q);
        }
        return 0;
}

static int check_task_units(json_t *out, const char *key, bool memory, long *ret, struct err *err)
{
        json_t *v = json_object_get(out, key);
        char buf[32];
        long x;
        *ret = 0;
        if (!v || json_is_null(v)) {
                json_object_del(out, key);
                return 0;
        }
        if (taskdef_units(v, memory, &x) < 0)
                return err_set(err, EINVAL, E_CLIENT,
                               memory ? "Invalid 'memory' setting for task: expected MiB ('2048') or GB ('2 GB')."
                                      : "Invalid 'cpu' setting for task: expected CPU units ('1024') or vCPUs ('1 vCPU').");
        if (!memory && (x < 128 || x > 196608))
                return err_set(err, EINVAL, E_CLIENT, "Invalid 'cpu' setting for task. The task cpu must be between 128 and 196608 CPU units (got %ld).", x);
        if (memory && x < 6)
                return err_set(err, EINVAL, E_CLIENT, "Invalid 'memory' setting for task. The minimum is 6 MiB (got %ld).", x);
        snprintf(buf, sizeof buf, "%ld", x);
        json_object_set_new(out, key, json_string(buf));
        *ret = x;
        return 0;
}

/* What taskdef_build learns on the way. */
struct td_build {
        json_t *out;                         /* the TaskDefinition being built */
        const char *mode;                    /* networkMode */
        bool ec2, fargate;                   /* requiresCompatibilities */
        long tcpu, tmem;                     /* task-level cpu units and MiB, 0 when absent */
        bool any_health, any_depends;
};

static int check_family_mode(struct td_build *b, struct err *err)
{
        const char *family = NULL, *mode = "bridge";
        int r;
        if ((r = req_str(b->out, NULL, "family", false, &family, err)) < 0)
                return r;
        if (!family || !*family)
                return err_set(err, EINVAL, E_CLIENT, "Family should not be null or empty.");
        if (!name_valid(family))
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid family name '%.300s': up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.",
                               family);
        if ((r = req_str(b->out, NULL, "networkMode", false, &mode, err)) < 0)
                return r;
        if (strcmp(mode, "bridge") != 0 && strcmp(mode, "host") != 0 && strcmp(mode, "awsvpc") != 0 && strcmp(mode, "none") != 0)
                return err_set(err, EINVAL, E_CLIENT, "Invalid networkMode '%s': expected bridge, host, awsvpc or none.", mode);
        json_object_set_new(b->out, "networkMode", json_string(mode));
        b->mode = jstr(b->out, "networkMode");
        return 0;
}

static int check_compatibilities(struct td_build *b, struct err *err)
{
        json_t *rc = NULL, *e;
        size_t i;
        int r;
        b->ec2 = true;
        if ((r = req_str_list(b->out, NULL, "requiresCompatibilities", false, 0, &rc, err)) < 0)
                return r;
        if (json_array_size(rc) == 0)
                return 0;
        b->ec2 = false;
        json_array_foreach(rc, i, e) {
                const char *c = json_string_value(e);
                if (strcmp(c, "EC2") == 0)
                        b->ec2 = true;
                else if (strcmp(c, "FARGATE") == 0)
                        b->fargate = true;
                else if (strcmp(c, "EXTERNAL") != 0)
                        return err_set(err, EINVAL, E_CLIENT, "Invalid requiresCompatibilities value '%s': expected EC2, FARGATE or EXTERNAL.", c);
        }
        return 0;
}

/* Task-level cpu and memory, roles, pidMode, ipcMode, and what Fargate needs of them. */
static int check_task_level(struct td_build *b, struct err *err)
{
        const char *s = NULL;
        int r;
        if ((r = check_task_units(b->out, "cpu", false, &b->tcpu, err)) < 0 || (r = check_task_units(b->out, "memory", true, &b->tmem, err)) < 0)
                return r;
        if ((r = req_str(b->out, NULL, "taskRoleArn", false, &s, err)) < 0 || (r = req_str(b->out, NULL, "executionRoleArn", false, &s, err)) < 0)
                return r;
        s = NULL;
        if ((r = req_str(b->out, NULL, "pidMode", false, &s, err)) < 0)
                return r;
        if (s && strcmp(s, "host") != 0 && strcmp(s, "task") != 0)
                return err_set(err, EINVAL, E_CLIENT, "Invalid pidMode '%s': expected host or task.", s);
        s = NULL;
        if ((r = req_str(b->out, NULL, "ipcMode", false, &s, err)) < 0)
                return r;
        if (s && strcmp(s, "host") != 0 && strcmp(s, "task") != 0 && strcmp(s, "none") != 0)
                return err_set(err, EINVAL, E_CLIENT, "Invalid ipcMode '%s': expected host, task or none.", s);
        if (!b->fargate)
                return 0;
        if (strcmp(b->mode, "awsvpc") != 0)
                return err_set(err, EINVAL, E_CLIENT, "Fargate only supports network mode 'awsvpc'.");
        if (!b->tcpu)
                return err_set(err, EINVAL, E_CLIENT, "Fargate requires that 'cpu' be defined at the task level.");
        if (!b->tmem)
                return err_set(err, EINVAL, E_CLIENT, "Fargate requires that 'memory' be defined at the task level.");
        return 0;
}

static int check_volumes(json_t *out, struct err *err)
{
        json_t *vols = NULL, *vol;
        size_t i;
        int r;
        if ((r = req_array(out, NULL, "volumes", false, &vols, err)) < 0)
                return r;
        if (!vols)
                json_object_set_new(out, "volumes", json_array());
        json_array_foreach(vols, i, vol) {
                char p[40];
                const char *vn = NULL;
                snprintf(p, sizeof p, "volumes[%zu]", i);
                if (!json_is_object(vol))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(vol, p, "name", false, &vn, err)) < 0)
                        return r;
                if (!vn || !name_valid(vn))
                        return err_set(err, EINVAL, E_CLIENT, "Invalid volume name in %s: up to 255 letters, numbers, hyphens, and underscores.", p);
        }
        return 0;
}

/* One container's memory against the task's (EC2 needs one of memory or memoryReservation). */
static int check_container_memory(const struct td_build *b, json_t *cd, const char *name, struct err *err)
{
        if (b->ec2 && !b->tmem && !json_object_get(cd, "memory") && !json_object_get(cd, "memoryReservation"))
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", name);
        if (b->tmem && jint(cd, "memory", 0) > b->tmem)
                return err_set(err, EINVAL, E_CLIENT, "The 'memory' setting for container '%s' is greater than for the task.", name);
        if (b->tmem && jint(cd, "memoryReservation", 0) > b->tmem)
                return err_set(err, EINVAL, E_CLIENT, "The 'memoryReservation' setting for container '%s' is greater than for the task.",
                               name);
        return 0;
}

static int check_containers(struct td_build *b, struct err *err)
{
        _cleanup_json_ json_t *seen_ports = json_object();
        struct cinfo ci[MAX_CONTAINERS];
        json_t *defs = NULL, *cd;
        bool any_essential = false;
        long sum_cpu = 0;
        size_t i, n;
        int r;
        if (!seen_ports)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = req_array(b->out, NULL, "containerDefinitions", false, &defs, err)) < 0)
                return r;
        n = defs ? json_array_size(defs) : 0;
        if (n == 0)
                return err_set(err, EINVAL, E_CLIENT, "Container list cannot be empty.");
        if (n > MAX_CONTAINERS)
                return err_set(err, EINVAL, E_CLIENT, "Too many containers. A task definition can have at most %d (got %zu).", MAX_CONTAINERS, n);
        json_array_foreach(defs, i, cd) {
                char p[40];
                snprintf(p, sizeof p, "containerDefinitions[%zu]", i);
                if (!json_is_object(cd))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = check_container(cd, i, b->mode, seen_ports, &ci[i], err)) < 0)
                        return r;
                if (find_container(ci, i, ci[i].name) >= 0)
                        return err_set(err, EINVAL, E_CLIENT,
                                       "Duplicate container name '%s': container names must be unique within a task definition.", ci[i].name);
                any_essential |= ci[i].essential;
                b->any_health |= ci[i].health;
                b->any_depends |= json_array_size(json_object_get(cd, "dependsOn")) > 0;
                sum_cpu += (long) jint(cd, "cpu", 0);
                if ((r = check_container_memory(b, cd, ci[i].name, err)) < 0)
                        return r;
        }
        if (!any_essential)
                return err_set(err, EINVAL, E_CLIENT, "Task definition must have at least one essential container.");
        if (b->tcpu && sum_cpu > b->tcpu)
                return err_set(err, EINVAL, E_CLIENT,
                               "The sum of all container 'cpu' values (%ld) cannot be greater than the value of the task 'cpu' (%ld).",
                               sum_cpu, b->tcpu);
        return check_depends(defs, ci, n, err);
}

/* requiresAttributes, compatibilities and status, as ECS derives them. */
static void derived_members(struct td_build *b)
{
        json_t *attrs = json_array(), *compat;
        json_array_append_new(attrs, json_pack("{s:s}", "name", "com.amazonaws.ecs.capability.docker-remote-api.1.18"));
        if (strcmp(b->mode, "awsvpc") == 0)
                json_array_append_new(attrs, json_pack("{s:s}", "name", "ecs.capability.task-eni"));
        if (b->any_health)
                json_array_append_new(attrs, json_pack("{s:s}", "name", "ecs.capability.container-health-check"));
        if (b->any_depends)
                json_array_append_new(attrs, json_pack("{s:s}", "name", "ecs.capability.container-ordering"));
        json_object_set_new(b->out, "requiresAttributes", attrs);
        compat = json_pack("[s]", "EC2");
        if (strcmp(b->mode, "awsvpc") == 0 && b->tcpu && b->tmem)
                json_array_append_new(compat, json_string("FARGATE"));
        json_object_set_new(b->out, "compatibilities", compat);
        json_object_set_new(b->out, "status", json_string("ACTIVE"));
}

int taskdef_build(json_t *req, json_t **ret, struct err *err)
{
        static const char *const keep[] = {
                "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform", NULL,
        };
        _cleanup_json_ json_t *out = json_object();
        struct td_build b = { 0 };
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        for (const char *const *k = keep; *k; k++) {
                json_t *v = json_object_get(req, *k);
                if (v)
                        json_object_set_new(out, *k, json_deep_copy(v));
        }
        b.out = out;
        if ((r = check_family_mode(&b, err)) < 0 || (r = check_compatibilities(&b, err)) < 0 || (r = check_task_level(&b, err)) < 0 ||
            (r = check_volumes(out, err)) < 0 || (r = check_placement_constraints(out, err)) < 0 || (r = check_containers(&b, err)) < 0)
                return r;
        derived_members(&b);
        *ret = TAKE_PTR(out);
        return 0;
}

