/* shape.c: pure: the task metadata endpoint's bodies as the ECS agent writes them (agent/handlers/v4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"
#include "shape.h"

static bool hex_run(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* TASKID-RANDOM: 32 hex, '-', 16..40 hex */
static bool id_ok(const char *id, size_t n, char task_id[40])
{
        if (n < 32 + 1 + 16 || n >= TMDS_ID_MAX || id[32] != '-' || !hex_run(id, 32) || !hex_run(id + 33, n - 33))
                return false;
        memcpy(task_id, id, 32);
        task_id[32] = 0;
        return true;
}

int tmds_path_parse(const char *url, struct tmds_path *ret)
{
        const char *p, *slash;
        size_t n;
        memset(ret, 0, sizeof *ret);
        if (!strncmp(url, "/v2/credentials/", 16)) {
                p = url + 16;
                n = strlen(p);
                if (!id_ok(p, n, ret->task_id))
                        return TMDS_NONE;
                memcpy(ret->id, p, n + 1);
                ret->version = 2;
                return ret->route = TMDS_CREDENTIALS;
        }
        if (!strncmp(url, "/api/", 5)) {
                p = url + 5;
                slash = strchr(p, '/');
                n = slash ? (size_t) (slash - p) : strlen(p);
                if (!id_ok(p, n, ret->task_id) || !slash || strcmp(slash, "/task-protection/v1/state") != 0)
                        return TMDS_NONE;
                memcpy(ret->id, p, n);
                ret->id[n] = 0;
                return ret->route = TMDS_TASK_PROTECTION;
        }
        if (!strncmp(url, "/v4/", 4))
                ret->version = 4;
        else if (!strncmp(url, "/v3/", 4))
                ret->version = 3;
        else
                return TMDS_NONE;
        p = url + 4;
        slash = strchr(p, '/');
        n = slash ? (size_t) (slash - p) : strlen(p);
        if (!id_ok(p, n, ret->task_id))
                return TMDS_NONE;
        memcpy(ret->id, p, n);
        ret->id[n] = 0;
        if (!slash || !strcmp(slash, "/"))
                ret->route = TMDS_CONTAINER;
        else if (!strcmp(slash, "/task"))
                ret->route = TMDS_TASK;
        else if (!strcmp(slash, "/taskWithTags") && ret->version == 4)
                ret->route = TMDS_TASK_TAGS;
        else if (!strcmp(slash, "/stats"))
                ret->route = TMDS_STATS;
        else if (!strcmp(slash, "/task/stats"))
                ret->route = TMDS_TASK_STATS;
        return ret->route;
}

json_t *tmds_error(const char *msg)
{
        return json_string(msg);
}

/* A record time (epoch seconds) as the agent writes it: RFC 3339 in UTC. */
static void put_time(json_t *o, const char *key, json_t *t)
{
        char buf[ISO8601_MAX];
        if (!json_is_number(t))
                return;
        iso8601_ms(json_number_value(t), buf);
        json_object_set_new(o, key, json_string(buf));
}

static void put_str(json_t *o, const char *key, const char *v)
{
        if (v && *v)
                json_object_set_new(o, key, json_string(v));
}

/* family and revision out of arn:...:task-definition/FAMILY:REV */
static void family_rev(json_t *rec, char fam[256], char rev[16])
{
        const char *arn = jstr(rec, "taskDefinitionArn") ?: "", *s = strstr(arn, "task-definition/"), *colon;
        fam[0] = rev[0] = 0;
        if (!s)
                return;
        s += strlen("task-definition/");
        colon = strrchr(s, ':');
        snprintf(fam, 256, "%.*s", colon ? (int) (colon - s) : (int) strlen(s), s);
        snprintf(rev, 16, "%s", colon ? colon + 1 : "");
}

static const char *cluster_of(json_t *rec, char buf[256])
{
        const char *arn = jstr(rec, "clusterArn") ?: "", *slash = strrchr(arn, '/');
        /* EC2 tasks name the cluster, Fargate tasks its ARN (the agent's two examples) */
        if (!strcmp(jstr(rec, "launchType") ?: "", "FARGATE"))
                snprintf(buf, 256, "%s", arn);
        else
                snprintf(buf, 256, "%s", slash ? slash + 1 : arn);
        return buf;
}

static json_t *networks(const struct tmds_net *net, int version)
{
        json_t *n = json_object();
        put_str(n, "NetworkMode", net->mode);
        if (net->ip && *net->ip)
                json_object_set_new(n, "IPv4Addresses", json_pack("[s]", net->ip));
        if (version >= 4 && net->mode && !strcmp(net->mode, "awsvpc")) {
                json_object_set_new(n, "AttachmentIndex", json_integer(0));
                put_str(n, "MACAddress", net->mac);
                put_str(n, "IPv4SubnetCIDRBlock", net->subnet_cidr);
                put_str(n, "PrivateDNSName", net->dns_name);
                put_str(n, "SubnetGatewayIpv4Address", net->gateway);
                if (json_array_size(net->dns_servers))
                        json_object_set(n, "DomainNameServers", net->dns_servers);
                if (json_array_size(net->dns_search))
                        json_object_set(n, "DomainNameSearchList", net->dns_search);
        }
        return json_pack("[o]", n);
}

json_t *tmds_container(json_t *rec, json_t *c, json_t *def, const struct tmds_net *net, int version)
{
        json_t *o = json_object(), *labels, *lc, *hc;
        char fam[256], rev[16], cl[256], docker_id[80], docker_name[400];
        const char *carn = jstr(c, "containerArn") ?: "", *uuid = strrchr(carn, '/');
        size_t k = 0;

        if (!o)
                return NULL;
        family_rev(rec, fam, rev);
        /* the runtime id (DescribeTasks' runtimeId, 64 hex as Docker's); before the monitor reported it,
         * the container's uuid twice without dashes */
        if (jstr(c, "runtimeId"))
                k = (size_t) snprintf(docker_id, sizeof docker_id, "%s", jstr(c, "runtimeId"));
        for (int pass = 0; !jstr(c, "runtimeId") && pass < 2 && uuid; pass++)
                for (const char *p = uuid + 1; *p && k < sizeof docker_id - 1; p++)
                        if (*p != '-')
                                docker_id[k++] = *p;
        docker_id[k] = 0;
        snprintf(docker_name, sizeof docker_name, "ecs-%s-%s-%s-%.20s", fam, rev, jstr(c, "name") ?: "", docker_id);
        put_str(o, "DockerId", docker_id);
        put_str(o, "Name", jstr(c, "name"));
        put_str(o, "DockerName", docker_name);
        put_str(o, "Image", jstr(c, "image"));
        if (jstr(c, "imageDigest"))
                put_str(o, "ImageID", jstr(c, "imageDigest"));
        labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "com.amazonaws.ecs.cluster", cluster_of(rec, cl),
                           "com.amazonaws.ecs.container-name", jstr(c, "name") ?: "", "com.amazonaws.ecs.task-arn",
                           jstr(rec, "taskArn") ?: "", "com.amazonaws.ecs.task-definition-family", fam,
                           "com.amazonaws.ecs.task-definition-version", rev);
        json_object_set_new(o, "Labels", labels);
        put_str(o, "DesiredStatus", jstr(rec, "desiredStatus"));
        put_str(o, "KnownStatus", jstr(c, "lastStatus"));
        if (json_is_integer(json_object_get(c, "exitCode")))
                json_object_set(o, "ExitCode", json_object_get(c, "exitCode"));
        json_object_set_new(o, "Limits", json_pack("{s:I, s:I}", "CPU", (json_int_t) jint(def, "cpu", 0), "Memory",
                                                   (json_int_t) jint(def, "memory", jint(def, "memoryReservation", 0))));
        put_time(o, "CreatedAt", json_object_get(rec, "createdAt"));
        put_time(o, "StartedAt", json_object_get(c, "startedAt"));
        put_time(o, "FinishedAt", json_object_get(c, "finishedAt"));
        put_str(o, "Type", "NORMAL");
        if ((hc = json_object_get(def, "healthCheck")) && json_is_object(hc))
                json_object_set_new(o, "Health", json_pack("{s:s}", "status", jstr(c, "healthStatus") ?: "UNKNOWN"));
        if ((lc = json_object_get(def, "logConfiguration")) && jstr(lc, "logDriver")) {
                put_str(o, "LogDriver", jstr(lc, "logDriver"));
                if (json_is_object(json_object_get(lc, "options")))
                        json_object_set(o, "LogOptions", json_object_get(lc, "options"));
        }
        put_str(o, "ContainerARN", carn);
        json_object_set_new(o, "Networks", networks(net, version));
        return o;
}

json_t *tmds_task(json_t *rec, const struct tmds_net *net, int version, bool tags, json_t *instance_tags)
{
        json_t *o = json_object(), *cs = json_array(), *c, *defs = json_object_get(json_object_get(rec, "ebx"), "containers");
        char fam[256], rev[16], cl[256];
        size_t i;
        if (!o || !cs) {
                json_decref(o);
                json_decref(cs);
                return NULL;
        }
        family_rev(rec, fam, rev);
        put_str(o, "Cluster", cluster_of(rec, cl));
        put_str(o, "TaskARN", jstr(rec, "taskArn"));
        put_str(o, "Family", fam);
        put_str(o, "Revision", rev);
        if (!strncmp(jstr(rec, "group") ?: "", "service:", 8))
                put_str(o, "ServiceName", jstr(rec, "group") + 8);
        put_str(o, "DesiredStatus", jstr(rec, "desiredStatus"));
        put_str(o, "KnownStatus", jstr(rec, "lastStatus"));
        json_array_foreach(json_object_get(rec, "containers"), i, c) {
                json_t *d = NULL, *x;
                size_t j;
                json_array_foreach(defs, j, x)
                        if (!strcmp(jstr(x, "name") ?: "", jstr(c, "name") ?: ""))
                                d = x;
                json_array_append_new(cs, tmds_container(rec, c, d, net, version));
        }
        json_object_set_new(o, "Containers", cs);
        /* task-level limits: vCPUs and MiB, as the agent reports them */
        json_object_set_new(o, "Limits", json_pack("{s:f, s:I}", "CPU", atof(jstr(rec, "cpu") ?: "0") / 1024.0, "Memory",
                                                   (json_int_t) atol(jstr(rec, "memory") ?: "0")));
        put_time(o, "PullStartedAt", json_object_get(rec, "pullStartedAt"));
        put_time(o, "PullStoppedAt", json_object_get(rec, "pullStoppedAt"));
        put_str(o, "AvailabilityZone", jstr(rec, "availabilityZone"));
        put_str(o, "LaunchType", jstr(rec, "launchType"));
        if (version >= 4)
                put_str(o, "VPCID", net->vpc_id);
        if (tags) {
                json_t *tt = json_object(), *t;
                json_array_foreach(json_object_get(rec, "tags"), i, t)
                        if (jstr(t, "key"))
                                json_object_set_new(tt, jstr(t, "key"), json_string(jstr(t, "value") ?: ""));
                json_object_set_new(o, "TaskTags", tt);
                json_object_set_new(o, "ContainerInstanceTags", instance_tags ? json_incref(instance_tags) : json_object());
        }
        return o;
}
