/* tmds.c: the task metadata endpoint (169.254.170.2:80 in every VPC that has tasks): one plain HTTP server
 * per VPC on the listening socket netd hands over (OpenMetadataListener), the container ids that are the
 * only key, the routes, and the task-role credentials. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/cidr.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/credentials.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/netd_client.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/api.h"
#include "../front/http.h"
#include "../netd_client.h"
#include "../sched.h"
#include "shape.h"
#include "stats.h"
#include "tmds.h"

#define NETD_TIMEOUT_MS 10000
#define CREDS_TTL_SECONDS (6 * 3600)   /* what the endpoint says the keys are good for */

struct tmds_vpc {
        struct tmds_vpc *next;
        char vpc_id[ID_MAX];
        struct http_server *srv;
};

struct tmds {
        struct tmds_vpc *vpcs;
        json_t *prev;                   /* DockerId -> {"s": the last stats sample, "t": when (monotonic s)} */
};

static struct tmds *state(struct sched *s)
{
        if (!s->tmds)
                s->tmds = calloc(1, sizeof(struct tmds));
        return s->tmds;
}

/* ---- ids and environment ---- */

int tmds_new_id(const char *task_id, char buf[TMDS_ID_MAX])
{
        char rnd[HEX32_STR_MAX];
        int r;
        if ((r = hex32_new(rnd)) < 0)
                return r;
        snprintf(buf, TMDS_ID_MAX, "%s-%s", task_id, rnd);
        return 0;
}

static void env_default(json_t *env, const char *name, const char *value)
{
        json_t *e;
        size_t i;
        json_array_foreach(env, i, e)
                if (!strcmp(jstr(e, "name") ?: "", name))
                        return;
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

int tmds_task_env(const char *task_id, json_t *ebx, json_t *containers, const char *region)
{
        json_t *ids = json_object_get(ebx, "tmds"), *c;
        char id[TMDS_ID_MAX], url[TMDS_ID_MAX + 64];
        size_t i;
        int r;
        if (!json_is_object(ids)) {
                ids = json_object();
                json_object_set_new(ebx, "tmds", ids);
        }
        if (jstr(ebx, "taskRoleArn") && !jstr(ids, "")) {
                if ((r = tmds_new_id(task_id, id)) < 0)
                        return r;
                json_object_set_new(ids, "", json_string(id));
        }
        json_array_foreach(containers, i, c) {
                const char *name = jstr(c, "name") ?: "";
                json_t *env = json_object_get(c, "environment");
                if (!*name || !json_is_array(env))
                        continue;
                if (!jstr(ids, name)) {
                        if ((r = tmds_new_id(task_id, id)) < 0)
                                return r;
                        json_object_set_new(ids, name, json_string(id));
                }
                snprintf(url, sizeof url, "http://169.254.170.2/v4/%s", jstr(ids, name));
                env_default(env, "ECS_CONTAINER_METADATA_URI_V4", url);
                snprintf(url, sizeof url, "http://169.254.170.2/v3/%s", jstr(ids, name));
                env_default(env, "ECS_CONTAINER_METADATA_URI", url);
                snprintf(url, sizeof url, "http://169.254.170.2/api/%s", jstr(ids, name));
                env_default(env, "ECS_AGENT_URI", url);
                env_default(env, "AWS_REGION", region);
                env_default(env, "AWS_DEFAULT_REGION", region);
                if (jstr(ids, "")) {
                        snprintf(url, sizeof url, "/v2/credentials/%s", jstr(ids, ""));
                        env_default(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", url);
                }
        }
        return 0;
}

/* ---- answers ---- */

static void answer(struct api_response *ret, int status, json_t *body)
{
        ret->status = status;
        ret->content_type = "application/json";
        ret->body = body ? json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        if (!ret->body) {
                ret->status = 500;
                ret->body = strdup("\"internal error\"");
        }
        json_decref(body);
}

/* The task of id (active tasks only: the endpoint serves running containers) and the member of ebx.tmds
 * (a container name, or "" for the task's credentials) the id belongs to. */
static int lookup(struct sched *s, const struct tmds_path *p, json_t **ret_rec, const char **ret_container)
{
        const char *key = jstr(s->active, p->task_id), *name;
        json_t *rec = NULL, *v;
        if (!key || store_get(s->store, key, &rec, NULL) < 0)
                return -ENOENT;
        json_object_foreach(json_object_get(json_object_get(rec, "ebx"), "tmds"), name, v)
                if (json_is_string(v) && !strcmp(json_string_value(v), p->id)) {
                        *ret_rec = rec;
                        *ret_container = name;
                        return 0;
                }
        json_decref(rec);
        return -ENOENT;
}

/* The network part of the bodies; the subnet's CIDR and gateway from netd (strings kept in *subnet). */
static void net_of(struct sched *s, json_t *rec, json_t **subnet, char gw[CIDR_STR_MAX + 8], struct tmds_net *net)
{
        json_t *ebx = json_object_get(rec, "ebx"), *att = NULL, *a, *d;
        size_t i;
        struct cidr4 c;
        struct err e = { 0 };
        memset(net, 0, sizeof *net);
        net->mode = jstr(ebx, "mode");
        net->ip = jstr(ebx, "privateIp");
        net->dns_name = jstr(ebx, "privateDnsName");
        net->dns_servers = json_object_get(ebx, "dnsServers");
        net->dns_search = json_object_get(ebx, "dnsSearch");
        net->vpc_id = jstr(ebx, "vpcId");
        json_array_foreach(json_object_get(rec, "attachments"), i, a)
                if (!strcmp(jstr(a, "type") ?: "", "ElasticNetworkInterface"))
                        att = a;
        json_array_foreach(json_object_get(att, "details"), i, d)
                if (!strcmp(jstr(d, "name") ?: "", "macAddress"))
                        net->mac = jstr(d, "value");
        *subnet = NULL;
        if (jstr(ebx, "subnetId") && netd_subnet(s, jstr(ebx, "subnetId"), subnet, &e) == 0 &&
            cidr4_parse(jstr(*subnet, "CidrBlock") ?: "", &c) == 0) {
                char ip[IP4_STR_MAX];
                net->subnet_cidr = jstr(*subnet, "CidrBlock");
                ip4_format(c.addr + 1, ip);
                snprintf(gw, CIDR_STR_MAX + 8, "%s/%u", ip, c.len);
                net->gateway = gw;
                if (!net->vpc_id)
                        net->vpc_id = jstr(*subnet, "VpcId");
        }
}

/* /v2/credentials/ID: the keys the operator mapped to the task's role (by ARN, else by role name). */
static void credentials_answer(struct sched *s, json_t *rec, struct api_response *ret)
{
        const char *role = jstr(json_object_get(rec, "ebx"), "taskRoleArn"), *name;
        struct credentials creds = { 0 };
        const struct cred_key *k = NULL;
        struct err e = { 0 };
        char exp[ISO8601_MAX], msg[600];
        if (!role) {
                answer(ret, 400, tmds_error("CredentialsV2Request: the task has no role (taskRoleArn)"));
                return;
        }
        if (credentials_load(s->task_role_credentials, &creds, &e) == 0) {
                k = credentials_profile(&creds, role);
                if (!k && (name = strstr(role, ":role/")))
                        k = credentials_profile(&creds, strrchr(name, '/') + 1);
        }
        if (!k) {
                snprintf(msg, sizeof msg,
                         "CredentialsV2Request: no credentials for role '%.200s': map it in %.200s (a profile named by the role ARN or name)%s%.100s",
                         role, s->task_role_credentials, e.msg[0] ? ": " : "", e.msg);
                credentials_free(&creds);
                answer(ret, 404, tmds_error(msg));
                return;
        }
        iso8601_s(now_epoch() + CREDS_TTL_SECONDS, exp);
        answer(ret, 200, json_pack("{s:s, s:s, s:s, s:s, s:s}", "RoleArn", role, "AccessKeyId", k->akid, "SecretAccessKey", k->secret,
                                   "Token", "", "Expiration", exp));
        credentials_free(&creds);
}

/* The stats of one container (name) or, name NULL, of the task's containers keyed by DockerId. */
static json_t *stats_answer(struct sched *s, json_t *rec, const char *name)
{
        struct tmds *t = state(s);
        char path[SCHED_PATH_MAX + 32];
        _cleanup_json_ json_t *st = NULL;
        json_t *out = name ? NULL : json_object(), *sc, *rc;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        double now = (double) now_mono_ms() / 1000.0;
        size_t i, j;
        snprintf(path, sizeof path, "%s/status.json", jstr(json_object_get(rec, "ebx"), "dir") ?: "/nonexistent");
        st = json_load_file(path, 0, NULL);
        if (!t->prev)
                t->prev = json_object();
        if (json_object_size(t->prev) > 4096) {
                /* samples of containers nobody asked about for 10 minutes go */
                const char *k;
                json_t *v, *tmp;
                json_object_foreach_safe(t->prev, tmp, k, v)
                        if (now - json_real_value(json_object_get(v, "t")) > 600)
                                json_object_del(t->prev, k);
        }
        json_array_foreach(json_object_get(rec, "containers"), i, rc) {
                const char *cn = jstr(rc, "name") ?: "", *id = jstr(rc, "runtimeId") ?: "";
                json_t *entry = NULL, *sample, *prev;
                char dname[300];
                if (name && strcmp(name, cn) != 0)
                        continue;
                json_array_foreach(json_object_get(st, "containers"), j, sc)
                        if (!strcmp(jstr(sc, "name") ?: "", cn))
                                entry = sc;
                snprintf(dname, sizeof dname, "/ecs-%s", cn);
                sample = tmds_stats_sample(id, dname, (long) jint(entry, "pid", 0), jstr(entry, "memoryCgroup"), jstr(entry, "cpuCgroup"),
                                           cpus > 0 ? cpus : 1);
                if (!sample)
                        continue;
                prev = json_object_get(t->prev, id);
                tmds_stats_pair(sample, json_object_get(prev, "s"),
                                prev ? now - json_real_value(json_object_get(prev, "t")) : 0);
                json_object_set_new(t->prev, id, json_pack("{s:O, s:f}", "s", sample, "t", now));
                if (name)
                        return sample;
                json_object_set_new(out, id, sample);
        }
        return out ? out : json_null();
}

/* $ECS_AGENT_URI/task-protection/v1/state: GET, or PUT {"ProtectionEnabled", "ExpiresInMinutes"}, through
 * GetTaskProtection / UpdateTaskProtection, answered as the agent does: {"protection": {...}}, else
 * {"failure": {Arn, Reason, Detail}} or {"error": {Arn, Code, Message}}. */
static void protection_answer(struct sched *s, json_t *rec, const char *method, const char *body, size_t len,
                              struct api_response *ret)
{
        struct api_ctx c = { .s = s, .op = "TaskProtection" };
        _cleanup_json_ json_t *req = NULL, *in = NULL, *out = NULL;
        struct err err = { 0 };
        const char *arn = jstr(rec, "taskArn") ?: "";
        json_t *pt, *f;
        int r;
        snprintf(c.region, sizeof c.region, "%s", s->region);
        req = json_pack("{s:s, s:[s]}", "cluster", jstr(rec, "clusterArn") ?: "", "tasks", arn);
        if (!strcmp(method, "PUT")) {
                json_error_t jerr;
                in = body ? json_loadb(body, len, 0, &jerr) : NULL;
                if (!json_is_object(in) || !json_is_boolean(json_object_get(in, "ProtectionEnabled"))) {
                        answer(ret, 400, json_pack("{s:{s:s, s:s, s:s}}", "error", "Arn", arn, "Code", "InvalidParameterException",
                                                   "Message", "Invalid request: ProtectionEnabled (a boolean) is required"));
                        return;
                }
                json_object_set(req, "protectionEnabled", json_object_get(in, "ProtectionEnabled"));
                if (json_is_integer(json_object_get(in, "ExpiresInMinutes")))
                        json_object_set(req, "expiresInMinutes", json_object_get(in, "ExpiresInMinutes"));
                r = api_dispatch(&c, "UpdateTaskProtection", req, &out, &err);
        } else if (!strcmp(method, "GET"))
                r = api_dispatch(&c, "GetTaskProtection", req, &out, &err);
        else {
                answer(ret, 405, tmds_error("Method not allowed: GET or PUT"));
                return;
        }
        if (r < 0) {
                answer(ret, 400, json_pack("{s:{s:s, s:s, s:s}}", "error", "Arn", arn, "Code", err.code[0] ? err.code : "ServerException",
                                           "Message", err.msg));
                return;
        }
        if ((f = json_array_get(json_object_get(out, "failures"), 0))) {
                answer(ret, 200, json_pack("{s:{s:s, s:s, s:s}}", "failure", "Arn", jstr(f, "arn") ?: arn, "Reason",
                                           jstr(f, "reason") ?: "", "Detail", jstr(f, "detail") ?: ""));
                return;
        }
        pt = json_array_get(json_object_get(out, "protectedTasks"), 0);
        json_t *p = json_pack("{s:s, s:b}", "TaskArn", jstr(pt, "taskArn") ?: arn, "ProtectionEnabled",
                              json_is_true(json_object_get(pt, "protectionEnabled")));
        if (json_is_number(json_object_get(pt, "expirationDate"))) {
                char iso[ISO8601_MAX];
                iso8601_s(json_number_value(json_object_get(pt, "expirationDate")), iso);
                json_object_set_new(p, "ExpirationDate", json_string(iso));
        }
        answer(ret, 200, json_pack("{s:o}", "protection", p));
}

static void on_get(void *ud, const char *method, const char *url, const char *body, size_t len, struct api_response *ret)
{
        struct sched *s = ud;
        struct tmds_path p;
        _cleanup_json_ json_t *rec = NULL, *subnet = NULL;
        const char *cname = NULL;
        struct tmds_net net;
        char gw[CIDR_STR_MAX + 8];
        json_t *c = NULL, *def = NULL, *x;
        size_t i;

        if (tmds_path_parse(url, &p) == TMDS_NONE) {
                answer(ret, 404, tmds_error("Not found: expected /v4/ID, /v4/ID/task, /v4/ID/taskWithTags, /v4/ID/stats, "
                                            "/v4/ID/task/stats, the same under /v3, or /v2/credentials/ID"));
                return;
        }
        if (strcmp(method, "GET") != 0 && p.route != TMDS_TASK_PROTECTION) {
                answer(ret, 405, tmds_error("Method not allowed: the task metadata endpoint answers GET"));
                return;
        }
        if (lookup(s, &p, &rec, &cname) < 0) {
                answer(ret, p.route == TMDS_CREDENTIALS ? 400 : 404,
                       tmds_error(p.route == TMDS_CREDENTIALS ? "CredentialsV2Request: Credentials not found"
                                                              : "Unable to get task arn from request: the id is not a running container's"));
                return;
        }
        if (p.route == TMDS_TASK_PROTECTION && strcmp(cname, "") != 0) {
                protection_answer(s, rec, method, body, len, ret);
                return;
        }
        if (p.route == TMDS_CREDENTIALS || !strcmp(cname, "")) {
                if (p.route != TMDS_CREDENTIALS) {
                        answer(ret, 404, tmds_error("Unable to get container from request"));
                        return;
                }
                credentials_answer(s, rec, ret);
                return;
        }
        json_array_foreach(json_object_get(rec, "containers"), i, x)
                if (!strcmp(jstr(x, "name") ?: "", cname))
                        c = x;
        json_array_foreach(json_object_get(json_object_get(rec, "ebx"), "containers"), i, x)
                if (!strcmp(jstr(x, "name") ?: "", cname))
                        def = x;
        net_of(s, rec, &subnet, gw, &net);
        switch (p.route) {
        case TMDS_CONTAINER:
                answer(ret, 200, tmds_container(rec, c, def, &net, p.version));
                return;
        case TMDS_TASK:
        case TMDS_TASK_TAGS:
                answer(ret, 200, tmds_task(rec, &net, p.version, p.route == TMDS_TASK_TAGS, NULL));
                return;
        case TMDS_STATS:
        case TMDS_TASK_STATS:
                answer(ret, 200, stats_answer(s, rec, p.route == TMDS_STATS ? cname : NULL));
                return;
        default:
                answer(ret, 404, tmds_error("Not found"));
                return;
        }
}

/* ---- the servers ---- */

int tmds_vpc_ensure(struct sched *s, const char *vpc_id, struct err *err)
{
        struct tmds *t = state(s);
        struct tmds_vpc *v;
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        char what[64];
        int fd = -1, r;
        if (!t)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!s->ev || !vpc_id || !*vpc_id)
                return 0;
        for (v = t->vpcs; v; v = v->next)
                if (!strcmp(v->vpc_id, vpc_id))
                        return 0;
        req = json_pack("{s:s, s:s}", "Action", "OpenMetadataListener", "VpcId", vpc_id);
        if ((r = netd_client_call_fd(s->netd_sock, req, NETD_TIMEOUT_MS, &ans, &fd, err)) < 0)
                return r;
        if (json_object_get(ans, "Error")) {
                if (fd >= 0)
                        close(fd);
                return err_set(err, EIO, NULL, "metadata endpoint of %s: netd: %s", vpc_id,
                               jstr(json_object_get(ans, "Error"), "Message") ?: "?");
        }
        if (fd < 0)
                return err_set(err, EPROTO, NULL, "metadata endpoint of %s: netd passed no socket", vpc_id);
        if (!(v = calloc(1, sizeof *v))) {
                close(fd);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        snprintf(v->vpc_id, sizeof v->vpc_id, "%s", vpc_id);
        snprintf(what, sizeof what, "169.254.170.2:80 in %s", vpc_id);
        if ((r = http_start_get(s, s->ev, fd, what, on_get, s, &v->srv, err)) < 0) {
                free(v);
                return r;
        }
        v->next = t->vpcs;
        t->vpcs = v;
        log_info("msg=\"task metadata endpoint serving\" vpc=%s address=169.254.170.2:80", vpc_id);
        return 0;
}

int tmds_recover(struct sched *s)
{
        const char *id, *key;
        json_t *v;
        int n = 0;
        json_object_foreach(s->active, id, v) {
                _cleanup_json_ json_t *rec = NULL;
                struct err e = { 0 };
                const char *vpc;
                key = json_string_value(v);
                if (!key || store_get(s->store, key, &rec, NULL) < 0)
                        continue;
                vpc = jstr(json_object_get(rec, "ebx"), "vpcId");
                if (vpc && tmds_vpc_ensure(s, vpc, &e) < 0)
                        log_warning("task=%s msg=\"task metadata endpoint not served\" vpc=%s err=\"%s\"", id, vpc, e.msg);
                else if (vpc)
                        n++;
        }
        return n;
}

void tmds_free(struct sched *s)
{
        struct tmds *t = s->tmds;
        if (!t)
                return;
        while (t->vpcs) {
                struct tmds_vpc *v = t->vpcs;
                t->vpcs = v->next;
                http_server_free(v->srv);
                free(v);
        }
        json_decref(t->prev);
        free(t);
        s->tmds = NULL;
}
