/* spec.c: parse and validate the task spec ecsboxd writes for the monitor. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "spec.h"

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

static void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

const char *dep_condition_name(enum dep_condition c)
{
        switch (c) {
        case DEP_START: return "START";
        case DEP_COMPLETE: return "COMPLETE";
        case DEP_SUCCESS: return "SUCCESS";
        case DEP_HEALTHY: return "HEALTHY";
        }
        return "?";
}

static int dep_condition_parse(const char *s, enum dep_condition *ret)
{
        static const enum dep_condition all[] = { DEP_START, DEP_COMPLETE, DEP_SUCCESS, DEP_HEALTHY };
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                if (strcmp(s, dep_condition_name(all[i])) == 0) {
                        *ret = all[i];
                        return 0;
                }
        return -EINVAL;
}

struct task_spec *spec_free(struct task_spec *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_containers; i++) {
                struct container_spec *c = &s->containers[i];
                free(c->name);
                free(c->image);
                strv_free(c->lowerdirs);
                strv_free(c->argv);
                strv_free(c->env);
                free(c->workdir);
                free(c->user);
                for (size_t d = 0; d < c->n_deps; d++)
                        free(c->deps[d].name);
                free(c->deps);
                strv_free(c->health.argv);
                free(c->hostname);
                strv_free(c->dns_servers);
                strv_free(c->dns_search);
                strv_free(c->links);
                for (size_t h = 0; h < c->n_extra_hosts; h++) {
                        free(c->extra_hosts[h].host);
                        free(c->extra_hosts[h].ip);
                }
                free(c->extra_hosts);
        }
        free(s->containers);
        free(s->task_id);
        free(s->task_arn);
        free(s->netns);
        free(s->dir);
        free(s->notify_socket);
        free(s->hostname);
        free(s->cgroup_parent);
        free(s->network_mode);
        strv_free(s->dns_servers);
        strv_free(s->dns_search);
        free(s->private_ip);
        free(s->private_dns_name);
        free(s);
        return NULL;
}

int spec_find_container(const struct task_spec *s, const char *name)
{
        for (size_t i = 0; i < s->n_containers; i++)
                if (s->containers[i].name && strcmp(s->containers[i].name, name) == 0)
                        return (int) i;
        return -1;
}

static bool is_hex32(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
                        return false;
        return n == 32;
}

/* ECS container names: up to 255 letters, digits, hyphens and underscores. */
static bool container_name_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
                        return false;
        return true;
}

/* An image reference as a label (with rootfs): printable, no spaces, as long as Docker allows. */
static bool image_label_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 512)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] <= 0x20 || (unsigned char) s[i] == 0x7f)
                        return false;
        return true;
}

static const struct {
        const char *name;
        int sig;
} signals[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ILL", SIGILL },     { "TRAP", SIGTRAP },
        { "ABRT", SIGABRT }, { "BUS", SIGBUS },   { "FPE", SIGFPE },   { "KILL", SIGKILL },   { "USR1", SIGUSR1 },
        { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },   { "TERM", SIGTERM },
        { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },
        { "TTOU", SIGTTOU }, { "URG", SIGURG },   { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM },
        { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },   { "PWR", SIGPWR },     { "SYS", SIGSYS },
};

int spec_signal_parse(const char *s, int *ret)
{
        char *end;
        long v;
        if (!s || !*s)
                return -EINVAL;
        if (s[0] >= '0' && s[0] <= '9') {
                errno = 0;
                v = strtol(s, &end, 10);
                if (errno || *end || v < 1 || v >= NSIG)
                        return -EINVAL;
                *ret = (int) v;
                return 0;
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (strcasecmp(s, signals[i].name) == 0) {
                        *ret = signals[i].sig;
                        return 0;
                }
        if (strncasecmp(s, "RTMIN+", 6) == 0) {
                errno = 0;
                v = strtol(s + 6, &end, 10);
                if (!errno && !*end && end != s + 6 && v >= 0 && SIGRTMIN + v <= SIGRTMAX) {
                        *ret = SIGRTMIN + (int) v;
                        return 0;
                }
        }
        return -EINVAL;
}

const char *spec_signal_name(int sig)
{
        static char buf[ELEMENTSOF(signals)][12];
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (signals[i].sig == sig) {
                        if (!buf[i][0])
                                snprintf(buf[i], sizeof buf[i], "SIG%s", signals[i].name);
                        return buf[i];
                }
        return NULL;
}

/* rootfs.lowerdirs: absolute paths without the characters overlayfs' option string gives a meaning
 * (',' between options, ':' between layers, a backslash escapes), at most SPEC_MAX_LOWERDIRS. */
static int parse_rootfs(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *rootfs = NULL, *arr = NULL, *e;
        size_t i;
        int r = json_get_object(c, "rootfs", false, &rootfs, err);
        if (r <= 0)
                return r < 0 ? err_wrap(err, "container %s", cs->name) : 0;
        if ((r = json_get_array(rootfs, "lowerdirs", true, &arr, err)) < 0)
                return err_wrap(err, "container %s: rootfs", cs->name);
        if (json_array_size(arr) == 0 || json_array_size(arr) > SPEC_MAX_LOWERDIRS)
                return err_set(err, EINVAL, SPEC_ERR, "container %s: rootfs.lowerdirs must hold 1 to %d layers, not %zu",
                               cs->name, SPEC_MAX_LOWERDIRS, json_array_size(arr));
        if (!(cs->lowerdirs = calloc(json_array_size(arr) + 1, sizeof(char *))))
                return -ENOMEM;
        json_array_foreach(arr, i, e) {
                const char *d = json_string_value(e);
                if (!d)
                        return err_set(err, EINVAL, SPEC_ERR, "container %s: rootfs.lowerdirs[%zu] must be a string",
                                       cs->name, i);
                if (d[0] != '/' || strpbrk(d, ",:\\") || strlen(d) >= 4096)
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: rootfs.lowerdirs[%zu] '%s' must be an absolute path without ',', ':' or '\\'",
                                       cs->name, i, d);
                if (!(cs->lowerdirs[i] = strdup(d)))
                        return -ENOMEM;
        }
        return 0;
}

static int parse_stop_signal(json_t *c, struct container_spec *cs, struct err *err)
{
        const char *s = NULL;
        int r = json_get_string(c, "stopSignal", false, &s, err);
        cs->stop_signal = SIGTERM;
        if (r <= 0)
                return r < 0 ? err_wrap(err, "container %s", cs->name) : 0;
        if (spec_signal_parse(s, &cs->stop_signal) < 0 || cs->stop_signal == SIGKILL || cs->stop_signal == SIGSTOP)
                return err_set(err, EINVAL, SPEC_ERR, "container %s: stopSignal '%s' is not a signal that can stop a container",
                               cs->name, s);
        return 0;
}

/* A relative cgroup path without "." or ".." components or empty ones. */
static bool cgroup_parent_valid(const char *s)
{
        const char *p = s;
        if (!*s || s[0] == '/' || strlen(s) > 512)
                return false;
        while (*p) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t) (e - p);
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (const char *q = p; q < e; q++)
                        if ((unsigned char) *q < 0x20)
                                return false;
                p = *e ? e + 1 : e;
        }
        return true;
}

static int get_abs_path(json_t *obj, const char *key, bool required, char **ret, struct err *err)
{
        const char *v = NULL;
        int r = json_get_string(obj, key, required, &v, err);
        if (r <= 0)
                return r;
        if (v[0] != '/')
                return err_set(err, EINVAL, SPEC_ERR, "%s must be an absolute path, not '%s'", key, v);
        if (!(*ret = strdup(v)))
                return -ENOMEM;
        return 1;
}

/* A JSON list of strings appended to a NULL-terminated vector (grown as needed). */
static int strv_append_json(json_t *arr, const char *what, char ***v, size_t *n, struct err *err)
{
        size_t i;
        json_t *e;
        char **nv = realloc(*v, (*n + json_array_size(arr) + 1) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        json_array_foreach(arr, i, e) {
                if (!json_is_string(e))
                        return err_set(err, EINVAL, SPEC_ERR, "%s[%zu] must be a string", what, i);
                if (!((*v)[*n] = strdup(json_string_value(e))))
                        return -ENOMEM;
                (*v)[++*n] = NULL;
        }
        (*v)[*n] = NULL;
        return 0;
}

/* A word that goes into resolv.conf or hosts: 1-255 printable characters without spaces, so that no
 * value can add a line of its own. */
static bool ns_word_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 255)
                return false;
        for (; *s; s++)
                if ((unsigned char) *s <= ' ' || *s == 0x7f || *s == '#' || *s == ';')
                        return false;
        return true;
}

/* An optional list of such words (dnsServers, dnsSearchDomains, dnsSearch) into *ret (NULL when absent). */
static int parse_ns_list(json_t *obj, const char *key, const char *who, char ***ret, struct err *err)
{
        json_t *arr = NULL;
        size_t n = 0;
        int r;
        if ((r = json_get_array(obj, key, false, &arr, err)) < 0)
                return who ? err_wrap(err, "container %s", who) : r;
        if (!arr)
                return 0;
        if (!(*ret = calloc(1, sizeof(char *))))
                return -ENOMEM;
        if ((r = strv_append_json(arr, key, ret, &n, err)) < 0)
                return who && r != -ENOMEM ? err_wrap(err, "container %s", who) : r;
        for (size_t i = 0; i < n; i++)
                if (!ns_word_valid((*ret)[i]))
                        return err_set(err, EINVAL, SPEC_ERR, "%s%s%s%s[%zu] '%s' must be 1-255 characters without spaces",
                                       who ? "container " : "", who ? who : "", who ? ": " : "", key, i, (*ret)[i]);
        return 0;
}

static int parse_hostname(json_t *obj, const char *who, char **ret, struct err *err)
{
        const char *v = NULL;
        if (json_get_string(obj, "hostname", false, &v, err) < 0)
                return who ? err_wrap(err, "container %s", who) : -EINVAL;
        if (!v)
                return 0;
        if (!v[0] || strlen(v) > 64 || !ns_word_valid(v))
                return err_set(err, EINVAL, SPEC_ERR, "%s%shostname '%s' must be 1-64 characters without spaces",
                               who ? who : "", who ? ": " : "", v);
        return (*ret = strdup(v)) ? 0 : -ENOMEM;
}

/* hostname, dnsServers, dnsSearchDomains, extraHosts [{hostname, ipAddress}] of a container definition. */
static int parse_container_dns(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *arr = NULL, *e;
        size_t i;
        int r;
        if ((r = parse_hostname(c, cs->name, &cs->hostname, err)) < 0 ||
            (r = parse_ns_list(c, "dnsServers", cs->name, &cs->dns_servers, err)) < 0 ||
            (r = parse_ns_list(c, "dnsSearchDomains", cs->name, &cs->dns_search, err)) < 0 ||
            (r = parse_ns_list(c, "links", cs->name, &cs->links, err)) < 0)
                return r;
        if ((r = json_get_array(c, "extraHosts", false, &arr, err)) < 0)
                return err_wrap(err, "container %s", cs->name);
        if (!arr || json_array_size(arr) == 0)
                return 0;
        if (!(cs->extra_hosts = calloc(json_array_size(arr), sizeof *cs->extra_hosts)))
                return -ENOMEM;
        json_array_foreach(arr, i, e) {
                const char *h = NULL, *ip = NULL;
                if (!json_is_object(e) || json_get_string(e, "hostname", true, &h, err) < 0 ||
                    json_get_string(e, "ipAddress", true, &ip, err) < 0)
                        return err_set(err, EINVAL, SPEC_ERR, "container %s: extraHosts[%zu] needs hostname and ipAddress strings",
                                       cs->name, i);
                if (!ns_word_valid(h) || !ns_word_valid(ip))
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: extraHosts[%zu] '%s' '%s' must be 1-255 characters without spaces", cs->name, i,
                                       h, ip);
                if (!(cs->extra_hosts[i].host = strdup(h)) || !(cs->extra_hosts[i].ip = strdup(ip)))
                        return -ENOMEM;
                cs->n_extra_hosts++;
        }
        return 0;
}

static int parse_argv(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *ep = NULL, *cmd = NULL;
        size_t n = 0;
        int r;

        if ((r = json_get_array(c, "entryPoint", false, &ep, err)) < 0 ||
            (r = json_get_array(c, "command", false, &cmd, err)) < 0)
                return err_wrap(err, "container %s", cs->name);
        if (!(cs->argv = calloc(1, sizeof(char *))))
                return -ENOMEM;
        if (ep && (r = strv_append_json(ep, "entryPoint", &cs->argv, &n, err)) < 0)
                return err_wrap(err, "container %s", cs->name);
        if (cmd && (r = strv_append_json(cmd, "command", &cs->argv, &n, err)) < 0)
                return err_wrap(err, "container %s", cs->name);
        if (n == 0)
                return err_set(err, EINVAL, SPEC_ERR,
                               "container %s: no entryPoint and no command: nothing to run", cs->name);
        if (cs->argv[0][0] == '\0')
                return err_set(err, EINVAL, SPEC_ERR, "container %s: the program to run is an empty string",
                               cs->name);
        return 0;
}

static int parse_env(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *arr = NULL, *e;
        size_t i, n = 0;
        int r = json_get_array(c, "environment", false, &arr, err);
        if (r < 0)
                return err_wrap(err, "container %s", cs->name);
        if (!(cs->env = calloc((arr ? json_array_size(arr) : 0) + 1, sizeof(char *))))
                return -ENOMEM;
        if (!arr)
                return 0;
        json_array_foreach(arr, i, e) {
                const char *name = NULL, *value = "";
                if (!json_is_object(e))
                        return err_set(err, EINVAL, SPEC_ERR, "container %s: environment[%zu] must be an object",
                                       cs->name, i);
                if (json_get_string(e, "name", true, &name, err) < 0 ||
                    json_get_string(e, "value", false, &value, err) < 0)
                        return err_wrap(err, "container %s: environment[%zu]", cs->name, i);
                if (!name[0] || strchr(name, '='))
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: environment[%zu]: invalid variable name '%s'", cs->name, i,
                                       name);
                if (asprintf(&cs->env[n], "%s=%s", name, value) < 0) {
                        cs->env[n] = NULL;
                        return -ENOMEM;
                }
                cs->env[++n] = NULL;
        }
        return 0;
}

static int get_int_default(json_t *obj, const char *key, long long min, long long max, long long def, int *ret,
                           struct err *err)
{
        long long v = def;
        int r = json_get_int(obj, key, false, min, max, &v, err);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

/* Ranges are looser than ECS's (interval >= 5 there) so that tests run in seconds; ecsboxd
 * validates task definitions against the ECS ranges itself. */
static int parse_health(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *hc = NULL, *cmd = NULL;
        struct health_spec *h = &cs->health;
        const char *kind;
        size_t n = 0;
        int r = json_get_object(c, "healthCheck", false, &hc, err);
        if (r <= 0)
                return r < 0 ? err_wrap(err, "container %s", cs->name) : 0;
        if ((r = json_get_array(hc, "command", true, &cmd, err)) < 0)
                return err_wrap(err, "container %s: healthCheck", cs->name);
        if (json_array_size(cmd) < 2 || !json_is_string(json_array_get(cmd, 0)))
                return err_set(err, EINVAL, SPEC_ERR,
                               "container %s: healthCheck.command must be [\"CMD\", ...] or [\"CMD-SHELL\", \"...\"]",
                               cs->name);
        kind = json_string_value(json_array_get(cmd, 0));
        if (strcmp(kind, "CMD-SHELL") == 0) {
                json_t *s = json_array_get(cmd, 1);
                if (json_array_size(cmd) != 2 || !json_is_string(s))
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: healthCheck CMD-SHELL takes exactly one string", cs->name);
                if (!(h->argv = calloc(4, sizeof(char *))) || !(h->argv[0] = strdup("/bin/sh")) ||
                    !(h->argv[1] = strdup("-c")) || !(h->argv[2] = strdup(json_string_value(s))))
                        return -ENOMEM;
        } else if (strcmp(kind, "CMD") == 0) {
                if (!(h->argv = calloc(1, sizeof(char *))))
                        return -ENOMEM;
                for (size_t i = 1; i < json_array_size(cmd); i++) {
                        json_t *e = json_array_get(cmd, i);
                        if (!json_is_string(e))
                                return err_set(err, EINVAL, SPEC_ERR,
                                               "container %s: healthCheck.command[%zu] must be a string", cs->name, i);
                        char **nv = realloc(h->argv, (n + 2) * sizeof(char *));
                        if (!nv)
                                return -ENOMEM;
                        h->argv = nv;
                        if (!(h->argv[n] = strdup(json_string_value(e))))
                                return -ENOMEM;
                        h->argv[++n] = NULL;
                }
        } else
                return err_set(err, EINVAL, SPEC_ERR,
                               "container %s: healthCheck.command[0] must be CMD or CMD-SHELL, not '%s'", cs->name,
                               kind);
        if (get_int_default(hc, "interval", 1, 300, 30, &h->interval, err) < 0 ||
            get_int_default(hc, "timeout", 1, 60, 5, &h->timeout, err) < 0 ||
            get_int_default(hc, "retries", 1, 10, 3, &h->retries, err) < 0 ||
            get_int_default(hc, "startPeriod", 0, 300, 0, &h->start_period, err) < 0)
                return err_wrap(err, "container %s: healthCheck", cs->name);
        h->present = true;
        return 0;
}

static int parse_caps(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *lp = NULL, *caps = NULL, *add = NULL, *drop = NULL;
        const char *addv[64], *dropv[64];
        size_t n_add = 0, n_drop = 0;
        int r;

        cs->caps = caps_default();
        if ((r = json_get_object(c, "linuxParameters", false, &lp, err)) <= 0)
                return r < 0 ? err_wrap(err, "container %s", cs->name) : 0;
        if ((r = json_get_object(lp, "capabilities", false, &caps, err)) <= 0)
                return r < 0 ? err_wrap(err, "container %s: linuxParameters", cs->name) : 0;
        if (json_get_array(caps, "add", false, &add, err) < 0 || json_get_array(caps, "drop", false, &drop, err) < 0)
                return err_wrap(err, "container %s: linuxParameters.capabilities", cs->name);
        for (int pass = 0; pass < 2; pass++) {
                json_t *arr = pass ? drop : add, *e;
                const char **v = pass ? dropv : addv;
                size_t *n = pass ? &n_drop : &n_add, i;
                if (!arr)
                        continue;
                if (json_array_size(arr) > ELEMENTSOF(addv))
                        return err_set(err, EINVAL, SPEC_ERR, "container %s: too many capabilities", cs->name);
                json_array_foreach(arr, i, e) {
                        if (!json_is_string(e))
                                return err_set(err, EINVAL, SPEC_ERR,
                                               "container %s: linuxParameters.capabilities.%s[%zu] must be a string",
                                               cs->name, pass ? "drop" : "add", i);
                        v[(*n)++] = json_string_value(e);
                }
        }
        if ((r = caps_compute(addv, n_add, dropv, n_drop, &cs->caps, err)) < 0)
                return err_wrap(err, "container %s", cs->name);
        return 0;
}

static int parse_deps(json_t *c, struct container_spec *cs, struct err *err)
{
        json_t *arr = NULL, *e;
        size_t i;
        int r = json_get_array(c, "dependsOn", false, &arr, err);
        if (r <= 0)
                return r < 0 ? err_wrap(err, "container %s", cs->name) : 0;
        if (json_array_size(arr) == 0)
                return 0;
        if (!(cs->deps = calloc(json_array_size(arr), sizeof *cs->deps)))
                return -ENOMEM;
        json_array_foreach(arr, i, e) {
                const char *name = NULL, *cond = NULL;
                struct dep_spec *d = &cs->deps[cs->n_deps];
                if (!json_is_object(e))
                        return err_set(err, EINVAL, SPEC_ERR, "container %s: dependsOn[%zu] must be an object",
                                       cs->name, i);
                if (json_get_string(e, "containerName", true, &name, err) < 0 ||
                    json_get_string(e, "condition", true, &cond, err) < 0)
                        return err_wrap(err, "container %s: dependsOn[%zu]", cs->name, i);
                if (dep_condition_parse(cond, &d->cond) < 0)
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: dependsOn[%zu]: condition '%s' is not START, COMPLETE, SUCCESS or HEALTHY",
                                       cs->name, i, cond);
                if (!(d->name = strdup(name)))
                        return -ENOMEM;
                cs->n_deps++;
        }
        return 0;
}

static int parse_container(json_t *c, size_t idx, struct container_spec *cs, struct err *err)
{
        const char *name = NULL, *image = NULL, *s = NULL;
        long long v;
        int r;

        cs->memory_mib = cs->reservation_mib = cs->cpu = -1;
        cs->start_timeout = -1;
        cs->essential = true;
        if (!json_is_object(c))
                return err_set(err, EINVAL, SPEC_ERR, "containers[%zu] must be an object", idx);
        if (json_get_string(c, "name", true, &name, err) < 0)
                return err_wrap(err, "containers[%zu]", idx);
        if (!container_name_valid(name))
                return err_set(err, EINVAL, SPEC_ERR,
                               "containers[%zu]: invalid name '%s' (1-255 letters, digits, '-' or '_')", idx, name);
        if (!(cs->name = strdup(name)))
                return -ENOMEM;
        if (json_get_string(c, "image", true, &image, err) < 0)
                return err_wrap(err, "container %s", name);
        if ((r = parse_rootfs(c, cs, err)) < 0)
                return r;
        if (!image_label_valid(image))
                return err_set(err, EINVAL, SPEC_ERR,
                               "container %s: invalid image '%s' (no spaces or control characters, at most 512)", name, image);
        if (cs->lowerdirs && strcmp(image, SPEC_IMAGE_HOST) == 0)
                return err_set(err, EINVAL, SPEC_ERR, "container %s: image \"host\" takes no rootfs", name);
        if (!cs->lowerdirs && strcmp(image, SPEC_IMAGE_HOST) != 0)
                return err_set(err, EINVAL, SPEC_ERR, "container %s: image '%s' needs rootfs.lowerdirs (its layers) unless it is \"host\"",
                               name, image);
        if (!(cs->image = strdup(image)))
                return -ENOMEM;
        if ((r = parse_stop_signal(c, cs, err)) < 0)
                return r;
        if (json_get_bool(c, "readonlyRootFilesystem", false, &cs->readonly_root, err) < 0)
                return err_wrap(err, "container %s", name);
        if ((r = parse_argv(c, cs, err)) < 0 || (r = parse_env(c, cs, err)) < 0)
                return r;
        if ((r = json_get_string(c, "workingDirectory", false, &s, err)) < 0)
                return err_wrap(err, "container %s", name);
        if (r > 0) {
                if (s[0] != '/')
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: workingDirectory must be an absolute path, not '%s'", name, s);
                if (!(cs->workdir = strdup(s)))
                        return -ENOMEM;
        }
        s = NULL;
        if ((r = json_get_string(c, "user", false, &s, err)) < 0)
                return err_wrap(err, "container %s", name);
        if (r > 0) {
                if (!user_spec_valid(s))
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "container %s: invalid user '%s' (expected user, uid, user:group or uid:gid)",
                                       name, s);
                if (!(cs->user = strdup(s)))
                        return -ENOMEM;
        }
        if (json_get_bool(c, "essential", false, &cs->essential, err) < 0 ||
            json_get_int(c, "memory", false, 6, 1LL << 30, &cs->memory_mib, err) < 0 ||
            json_get_int(c, "memoryReservation", false, 4, 1LL << 30, &cs->reservation_mib, err) < 0 ||
            json_get_int(c, "cpu", false, 0, 262144, &cs->cpu, err) < 0)
                return err_wrap(err, "container %s", name);
        if (cs->memory_mib >= 0 && cs->reservation_mib > cs->memory_mib)
                return err_set(err, EINVAL, SPEC_ERR,
                               "container %s: memoryReservation %lld MiB exceeds memory %lld MiB", name,
                               cs->reservation_mib, cs->memory_mib);
        v = 30;
        if (json_get_int(c, "stopTimeout", false, 0, 3600, &v, err) < 0)
                return err_wrap(err, "container %s", name);
        cs->stop_timeout = (int) v;
        v = -1;
        if (json_get_int(c, "startTimeout", false, 0, 86400, &v, err) < 0)
                return err_wrap(err, "container %s", name);
        cs->start_timeout = (int) v;
        if ((r = parse_deps(c, cs, err)) < 0 || (r = parse_health(c, cs, err)) < 0 || (r = parse_caps(c, cs, err)) < 0 ||
            (r = parse_container_dns(c, cs, err)) < 0)
                return r;
        return 0;
}

/* Depth-first search for a cycle through dependsOn; colour 1 = on the stack, 2 = done. */
static int dep_cycle_from(const struct task_spec *s, size_t i, unsigned char *colour, struct err *err)
{
        colour[i] = 1;
        for (size_t d = 0; d < s->containers[i].n_deps; d++) {
                size_t t = s->containers[i].deps[d].target;
                if (colour[t] == 1)
                        return err_set(err, EINVAL, SPEC_ERR, "dependsOn cycle: container %s depends on %s",
                                       s->containers[i].name, s->containers[t].name);
                if (colour[t] == 0 && dep_cycle_from(s, t, colour, err) < 0)
                        return -EINVAL;
        }
        colour[i] = 2;
        return 0;
}

static int validate_deps(struct task_spec *s, struct err *err)
{
        _cleanup_free_ unsigned char *colour = calloc(s->n_containers, 1);
        if (!colour)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_containers; i++) {
                struct container_spec *c = &s->containers[i];
                for (size_t d = 0; d < c->n_deps; d++) {
                        struct dep_spec *dp = &c->deps[d];
                        int t = spec_find_container(s, dp->name);
                        if (t < 0)
                                return err_set(err, EINVAL, SPEC_ERR,
                                               "container %s: dependsOn names an unknown container '%s'", c->name,
                                               dp->name);
                        if ((size_t) t == i)
                                return err_set(err, EINVAL, SPEC_ERR, "container %s: dependsOn names itself",
                                               c->name);
                        dp->target = (size_t) t;
                        if ((dp->cond == DEP_COMPLETE || dp->cond == DEP_SUCCESS) && s->containers[t].essential)
                                return err_set(err, EINVAL, SPEC_ERR,
                                               "container %s: dependsOn %s with condition %s: the target must not be essential",
                                               c->name, dp->name, dep_condition_name(dp->cond));
                        if (dp->cond == DEP_HEALTHY && !s->containers[t].health.present)
                                return err_set(err, EINVAL, SPEC_ERR,
                                               "container %s: dependsOn %s with condition HEALTHY: %s has no healthCheck",
                                               c->name, dp->name, dp->name);
                }
        }
        for (size_t i = 0; i < s->n_containers; i++)
                if (colour[i] == 0 && dep_cycle_from(s, i, colour, err) < 0)
                        return -EINVAL;
        return 0;
}

static int parse_task_strings(json_t *root, struct task_spec *s, struct err *err)
{
        const char *v = NULL;
        int r;

        if (json_get_string(root, "taskId", true, &v, err) < 0)
                return -EINVAL;
        if (!is_hex32(v))
                return err_set(err, EINVAL, SPEC_ERR, "taskId must be 32 lowercase hex digits, not '%s'", v);
        if (!(s->task_id = strdup(v)))
                return -ENOMEM;
        v = NULL;
        if (json_get_string(root, "taskArn", false, &v, err) < 0)
                return -EINVAL;
        if (!(s->task_arn = dup_or_null(v)) && v)
                return -ENOMEM;
        if ((r = get_abs_path(root, "netns", false, &s->netns, err)) < 0 ||
            (r = get_abs_path(root, "dir", true, &s->dir, err)) < 0 ||
            (r = get_abs_path(root, "notifySocket", false, &s->notify_socket, err)) < 0)
                return r;
        if (s->notify_socket && strlen(s->notify_socket) >= 108)
                return err_set(err, ENAMETOOLONG, SPEC_ERR, "notifySocket '%s' is longer than a socket path may be",
                               s->notify_socket);
        if ((r = parse_hostname(root, NULL, &s->hostname, err)) < 0)
                return r;
        v = NULL;
        if (json_get_string(root, "cgroupParent", false, &v, err) < 0)
                return -EINVAL;
        if (v) {
                if (!cgroup_parent_valid(v))
                        return err_set(err, EINVAL, SPEC_ERR,
                                       "cgroupParent '%s' must be a relative path below the monitor's own cgroup", v);
                if (!(s->cgroup_parent = strdup(v)))
                        return -ENOMEM;
        }
        return 0;
}

/* networkMode, dnsServers, dnsSearch, privateIp, privateDnsName: the task's name service. */
static int parse_task_dns(json_t *root, struct task_spec *s, struct err *err)
{
        static const char *const modes[] = { "awsvpc", "bridge", "host", "none" };
        const char *v = NULL;
        int r;
        if (json_get_string(root, "networkMode", false, &v, err) < 0)
                return -EINVAL;
        if (v && *v) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(modes) && strcmp(v, modes[i]) != 0; i++)
                        ;
                if (i == ELEMENTSOF(modes))
                        return err_set(err, EINVAL, SPEC_ERR, "networkMode '%s' must be awsvpc, bridge, host or none", v);
                if (!(s->network_mode = strdup(v)))
                        return -ENOMEM;
        }
        if ((r = parse_ns_list(root, "dnsServers", NULL, &s->dns_servers, err)) < 0 ||
            (r = parse_ns_list(root, "dnsSearch", NULL, &s->dns_search, err)) < 0)
                return r;
        v = NULL;
        if (json_get_string(root, "privateIp", false, &v, err) < 0)
                return -EINVAL;
        if (v && !ns_word_valid(v))
                return err_set(err, EINVAL, SPEC_ERR, "privateIp '%s' must be an address", v);
        if (v && !(s->private_ip = strdup(v)))
                return -ENOMEM;
        v = NULL;
        if (json_get_string(root, "privateDnsName", false, &v, err) < 0)
                return -EINVAL;
        if (v && !ns_word_valid(v))
                return err_set(err, EINVAL, SPEC_ERR, "privateDnsName '%s' must be 1-255 characters without spaces", v);
        if (v && !(s->private_dns_name = strdup(v)))
                return -ENOMEM;
        return 0;
}

static int parse_task(json_t *root, struct task_spec *s, struct err *err)
{
        json_t *arr = NULL, *c;
        size_t i, n_essential = 0;
        int r;

        if (!json_is_object(root))
                return err_set(err, EINVAL, SPEC_ERR, "the spec must be a JSON object");
        if ((r = parse_task_strings(root, s, err)) < 0 || (r = parse_task_dns(root, s, err)) < 0)
                return r;
        if (json_get_array(root, "containers", true, &arr, err) < 0)
                return -EINVAL;
        if (json_array_size(arr) == 0 || json_array_size(arr) > SPEC_MAX_CONTAINERS)
                return err_set(err, EINVAL, SPEC_ERR, "containers must hold 1 to %d containers, not %zu",
                               SPEC_MAX_CONTAINERS, json_array_size(arr));
        if (!(s->containers = calloc(json_array_size(arr), sizeof *s->containers)))
                return -ENOMEM;
        json_array_foreach(arr, i, c) {
                struct container_spec *cs = &s->containers[i];
                s->n_containers++;
                if ((r = parse_container(c, i, cs, err)) < 0)
                        return r;
                if (spec_find_container(s, cs->name) != (int) i)
                        return err_set(err, EINVAL, SPEC_ERR, "containers[%zu]: duplicate container name '%s'", i,
                                       cs->name);
                n_essential += cs->essential;
        }
        if (n_essential == 0)
                return err_set(err, EINVAL, SPEC_ERR, "at least one container must be essential");
        return validate_deps(s, err);
}

int spec_parse(json_t *root, struct task_spec **ret, struct err *err)
{
        struct task_spec *s = calloc(1, sizeof *s);
        int r;
        if (!s)
                return err_set(err, ENOMEM, SPEC_ERR, "out of memory");
        r = parse_task(root, s, err);
        if (r < 0) {
                if (r == -ENOMEM)
                        err_set(err, ENOMEM, SPEC_ERR, "out of memory");
                err_default_code(err, SPEC_ERR);
                spec_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int spec_load(const char *path, struct task_spec **ret, struct err *err)
{
        json_error_t jerr;
        _cleanup_json_ json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        int r;
        if (!root)
                return err_set(err, EINVAL, SPEC_ERR, "spec '%s': line %d column %d: %s", path, jerr.line,
                               jerr.column, jerr.text);
        r = spec_parse(root, ret, err);
        if (r < 0)
                return err_wrap(err, "spec '%s'", path);
        return 0;
}
