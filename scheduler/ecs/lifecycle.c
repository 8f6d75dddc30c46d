/* lifecycle.c: the task state machine (ecs-api.md §3.2), driven by the loop (loop.c): kicks
 * (RunTask, StopTask, monitor notifications, SIGCHLD) and its 1 s tick; the pruning of old
 * STOPPED tasks. Start-up recovery is task_recover.c's.
 *
 *   PROVISIONING  netd CreateTaskNetwork (awsvpc, bridge, none)
 *   PENDING       images pulled (task_images.c, a worker thread), monitor spawned, containers starting
 *   RUNNING       the monitor reports the essential containers running
 *   DEACTIVATING  stop decided (stop-request.json written)
 *   STOPPING      monitor signalled; waiting for it to exit
 *   DEPROVISIONING netd DeleteTaskNetwork
 *   STOPPED       terminal
 *
 * Every step that touches netd or forks records first (the namespace name is
 * derived from the task id), so a crash at any point is finished or rolled back
 * by tasks_recover() (task_recover.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../logs/logs.h"
#include "../netd_client.h"
#include "../tmds/tmds.h"
#include "../sched.h"
#include "arn.h"
#include "instance.h"
#include "launch.h"
#include "lifecycle.h"
#include "lifecycle_internal.h"
#include "service.h"
#include "task.h"
#include "task_status.h"
#include "task_images.h"

#define STEADY_SWEEP 10          /* ticks between full looks at a RUNNING task (notifications cover the rest) */
#define KILL_GRACE 15.0          /* seconds past the longest stopTimeout before the monitor is killed */


json_t *adv_ebx(struct adv *a)
{
        return json_object_get(a->rec, "ebx");
}

const char *adv_tid(struct adv *a)
{
        return jstr(adv_ebx(a), "id") ?: "?";
}

static json_t *public_part(json_t *rec)
{
        /* a deep copy: rec's members change in place afterwards and are compared with this */
        _cleanup_json_ json_t *shallow = task_shape(rec, true);
        json_t *p = json_deep_copy(shallow);
        json_object_del(p, "version");
        return p;
}

/* Writes the record when it changed; version rises when its public part did. */
int adv_save(struct adv *a)
{
        struct err err = { 0 };
        json_t *p;
        int r;
        if (json_equal(a->rec, a->stored))
                return 0;
        p = public_part(a->rec);
        if (!json_equal(p, a->shape)) {
                json_object_set_new(a->rec, "version", json_integer(jint(a->stored, "version", 1) + 1));
                json_decref(a->shape);
                a->shape = p;
        } else
                json_decref(p);
        if ((r = store_put(a->s->store, a->key, a->rec, &err)) < 0)
                return log_error_errno(r, "task=%s msg=\"cannot record task state\" err=\"%s\"", adv_tid(a), err.msg);
        json_decref(a->stored);
        a->stored = json_deep_copy(a->rec);
        return 0;
}

static void set_time_once(json_t *rec, const char *key, double now)
{
        if (!json_object_get(rec, key))
                json_object_set_new(rec, key, jtime(now));
}

static void set_last(struct adv *a, const char *st)
{
        json_t *rec = a->rec;
        json_object_set_new(rec, "lastStatus", json_string(st));
        if (strcmp(st, "RUNNING") == 0) {
                /* apply_status took the monitor's own startedAt first; now is for a status without one */
                set_time_once(rec, "startedAt", a->now);
                json_object_set_new(rec, "connectivity", json_string("CONNECTED"));
                set_time_once(rec, "connectivityAt", a->now);
        } else if (strcmp(st, "DEACTIVATING") == 0 || strcmp(st, "STOPPING") == 0)
                set_time_once(rec, "stoppingAt", a->now);
        else if (strcmp(st, "DEPROVISIONING") == 0) {
                set_time_once(rec, "stoppingAt", a->now);
                set_time_once(rec, "executionStoppedAt", a->now);
        } else if (strcmp(st, "STOPPED") == 0) {
                set_time_once(rec, "stoppingAt", a->now);
                set_time_once(rec, "executionStoppedAt", a->now);
                set_time_once(rec, "stoppedAt", a->now);
        }
}

static void attachment_status(struct adv *a, const char *st)
{
        json_t *att;
        size_t i;
        json_array_foreach(json_object_get(a->rec, "attachments"), i, att)
                json_object_set_new(att, "status", json_string(st));
}

static void decide_stop(struct adv *a, const char *code, const char *reason)
{
        if (strcmp(jstr(a->rec, "desiredStatus") ?: "", "STOPPED") == 0)
                return;
        json_object_set_new(a->rec, "desiredStatus", json_string("STOPPED"));
        json_object_set_new(a->rec, "stopCode", json_string(code));
        json_object_set_new(a->rec, "stoppedReason", json_string(reason));
}

static void containers_stopped(struct adv *a, const char *reason)
{
        json_t *c;
        size_t i;
        json_array_foreach(json_object_get(a->rec, "containers"), i, c) {
                if (strcmp(jstr(c, "lastStatus") ?: "", "STOPPED") == 0)
                        continue;
                json_object_set_new(c, "lastStatus", json_string("STOPPED"));
                if (reason && !json_object_get(c, "reason"))
                        json_object_set_new(c, "reason", json_string(reason));
        }
}

/* A failure before the monitor runs: straight to DEPROVISIONING with TaskFailedToStart. */
void adv_fail_start(struct adv *a, const char *reason)
{
        json_object_set_new(a->rec, "desiredStatus", json_string("STOPPED"));
        json_object_set_new(a->rec, "stopCode", json_string("TaskFailedToStart"));
        json_object_set_new(a->rec, "stoppedReason", json_string(reason));
        containers_stopped(a, reason);
        set_last(a, "DEPROVISIONING");
        attachment_status(a, "DETACHING");
        log_warning("task=%s msg=\"task failed to start\" reason=\"%s\"", adv_tid(a), reason);
        (void) adv_save(a);
}

/* "arn:aws:ecs:REGION:ACCOUNT:" from the task ARN, so derived ARNs keep the task's region. */
static void arn_prefix(struct adv *a, char *buf, size_t size)
{
        const char *arn = jstr(a->rec, "taskArn") ?: "", *p = arn;
        for (int colons = 0; *p && colons < 5; p++)
                if (*p == ':')
                        colons++;
        snprintf(buf, size, "%.*s", (int) (p - arn), arn);
}

static const char *region_of(struct adv *a, char *buf, size_t size)
{
        const char *arn = jstr(a->rec, "taskArn") ?: "", *p = arn;
        const char *start = NULL;
        for (int colons = 0; *p; p++)
                if (*p == ':' && ++colons == 3)
                        start = p + 1;
                else if (*p == ':' && colons == 4)
                        break;
        if (!start || p <= start)
                return a->s->region;
        snprintf(buf, size, "%.*s", (int) (p - start), start);
        return buf;
}

void adv_netns_name(struct adv *a, char buf[32])
{
        snprintf(buf, 32, "ebx-task-%.12s", adv_tid(a));
}

/* Flow logs without extra steps (an ecsbox extension): a task whose own tags, task definition's
 * tags or cluster's tags hold `ecsbox:flow-logs` = ALL, ACCEPT or REJECT gets a flow log on its ENI,
 * written to STATE/flow-logs/<eni>.log, every `ecsbox:flow-logs-interval` seconds (1-600, default 60).
 * The first of task, definition, cluster that has the tag wins. The flow log goes when the task's network
 * is released (netd_release), after its last window is written; the file stays. */
static const char *tag_value(json_t *tags, const char *key)
{
        json_t *t;
        size_t i;
        json_array_foreach(tags, i, t)
                if (strcmp(jstr(t, "key") ?: "", key) == 0)
                        return jstr(t, "value");
        return NULL;
}

static json_t *flow_log_tags(struct adv *a)
{
        struct sched *s = a->s;
        _cleanup_json_ json_t *td = NULL, *cl = NULL;
        json_t *sources[3];
        char key[ARN_MAX + 32], family[NAME_MAX_ECS + 1];
        const char *tdarn = jstr(a->rec, "taskDefinitionArn") ?: "", *clarn = jstr(a->rec, "clusterArn") ?: "";
        long rev = 0;
        struct err err = { 0 };
        sources[0] = json_object_get(a->rec, "tags");
        if (taskdef_ref_parse(arn_last(tdarn), family, &rev, &err) == 0) {
                snprintf(key, sizeof key, "taskdef/%s/%08ld", family, rev);
                (void) store_peek(s->store, key, &td, &err);
                td = json_incref(td);
        }
        snprintf(key, sizeof key, "cluster/%s", arn_last(clarn));
        (void) store_peek(s->store, key, &cl, &err);
        cl = json_incref(cl);
        sources[1] = json_object_get(td, "tags");
        sources[2] = json_object_get(cl, "tags");
        for (size_t i = 0; i < 3; i++) {
                const char *type = tag_value(sources[i], "ecsbox:flow-logs"), *iv = tag_value(sources[i], "ecsbox:flow-logs-interval");
                if (!type)
                        continue;
                return json_pack("{s:s, s:I}", "TrafficType", type, "MaxAggregationInterval",
                                 (json_int_t) (iv && atol(iv) > 0 ? atol(iv) : 60));
        }
        return NULL;
}

static int provision_flow_log(struct adv *a, const char *eni_id)
{
        struct sched *s = a->s;
        _cleanup_json_ json_t *fl = flow_log_tags(a), *req = NULL, *ans = NULL;
        char dir[SCHED_PATH_MAX + 16];
        struct err err = { 0 };
        if (!fl)
                return 0;
        snprintf(dir, sizeof dir, "%s/flow-logs", s->state_dir);
        (void) mkdir_p(dir, 0750);
        req = json_pack("{s:s, s:s, s:[s], s:O, s:s, s:s, s:O}", "Action", "CreateFlowLogs", "ResourceType", "NetworkInterface",
                        "ResourceIds", eni_id, "TrafficType", json_object_get(fl, "TrafficType"), "LogDestinationType", "file",
                        "LogDestination", dir, "MaxAggregationInterval", json_object_get(fl, "MaxAggregationInterval"));
        if (s->netd_call(s, req, &ans, &err) < 0) {
                /* A task must not run unlogged when its tags ask for a flow log (tests/chaos found tasks
                 * running without one after a netd kill -9 between the two requests): it fails to start,
                 * and its release deletes whatever netd made. */
                char reason[ERR_MSG_MAX + 100];
                snprintf(reason, sizeof reason, "ResourceInitializationError: failed to create the flow log the task's tags ask for: %s%s%s%s",
                         err.msg, *netd_code(&err) ? " (" : "", netd_code(&err), *netd_code(&err) ? ")" : "");
                adv_fail_start(a, reason);
                return -EIO;
        }
        json_object_set_new(adv_ebx(a), "flowLogId", json_copy(json_array_get(json_object_get(ans, "FlowLogIds"), 0)));
        log_info("task=%s msg=\"flow log created\" eni=%s flowlog=%s dir=%s", adv_tid(a), eni_id,
                 json_string_value(json_array_get(json_object_get(ans, "FlowLogIds"), 0)) ?: "?", dir);
        return 0;
}

static int provision_awsvpc(struct adv *a)
{
        struct sched *s = a->s;
        char netns[32], prefix[ARN_MAX], desc[ARN_MAX], dns[128], region[32];
        _cleanup_json_ json_t *req = NULL, *ans = NULL, *ids = json_array();
        struct err err = { 0 };
        json_t *eni, *att, *c, *details;
        const char *ip, *att_id;
        size_t i;

        adv_netns_name(a, netns);
        json_object_set_new(adv_ebx(a), "netns", json_string(netns));
        json_object_set_new(adv_ebx(a), "netnsKind", json_string("task-network"));
        if (adv_save(a) < 0)
                return -EIO;
        att = json_array_get(json_object_get(a->rec, "attachments"), 0);
        att_id = jstr(att, "id") ?: "";
        arn_prefix(a, prefix, sizeof prefix);
        snprintf(desc, sizeof desc, "%sattachment/%s", prefix, att_id);
        json_array_foreach(json_object_get(a->rec, "containers"), i, c)
                json_array_append_new(ids, json_string(arn_last(jstr(c, "containerArn") ?: "")));
        req = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:O}}", "Action", "CreateTaskNetwork", "SubnetId",
                        jstr(adv_ebx(a), "subnetId") ?: "", "Netns", netns, "Description", desc, "Metadata", "clusterArn",
                        jstr(a->rec, "clusterArn") ?: "", "taskArn", jstr(a->rec, "taskArn") ?: "", "taskDefinitionArn",
                        jstr(a->rec, "taskDefinitionArn") ?: "", "serviceName", "", "containerIds", ids);
        if (jstr(a->rec, "containerInstanceArn"))
                json_object_set_new(json_object_get(req, "Metadata"), "containerInstanceArn",
                                    json_string(jstr(a->rec, "containerInstanceArn")));
        if (strncmp(jstr(a->rec, "group") ?: "", "service:", 8) == 0)
                json_object_set_new(json_object_get(req, "Metadata"), "serviceName", json_string(jstr(a->rec, "group") + 8));
        if (json_object_get(adv_ebx(a), "groups"))
                json_object_set(req, "Groups", json_object_get(adv_ebx(a), "groups"));
        if (jstr(adv_ebx(a), "ec2InstanceId"))
                json_object_set_new(req, "InstanceId", json_string(jstr(adv_ebx(a), "ec2InstanceId")));
        if (s->netd_call(s, req, &ans, &err) < 0) {
                char reason[ERR_MSG_MAX + 100];
                snprintf(reason, sizeof reason, "ResourceInitializationError: failed to create the task's network interface: %s%s%s%s",
                         err.msg, *netd_code(&err) ? " (" : "", netd_code(&err), *netd_code(&err) ? ")" : "");
                adv_fail_start(a, reason);
                return -EIO;
        }
        eni = json_object_get(ans, "NetworkInterface");
        ip = jstr(eni, "PrivateIpAddress") ?: "";
        if (jstr(eni, "PrivateDnsName") && *jstr(eni, "PrivateDnsName"))
                snprintf(dns, sizeof dns, "%s", jstr(eni, "PrivateDnsName"));
        else
                private_dns_name(region_of(a, region, sizeof region), ip, dns, sizeof dns);
        json_object_set_new(adv_ebx(a), "eniId", json_string(jstr(eni, "NetworkInterfaceId") ?: ""));
        if (jstr(eni, "VpcId")) {
                struct err e2 = { 0 };
                json_object_set_new(adv_ebx(a), "vpcId", json_string(jstr(eni, "VpcId")));
                /* the task's metadata endpoint; without it the task still runs (its variables answer nothing) */
                if (tmds_vpc_ensure(s, jstr(eni, "VpcId"), &e2) < 0)
                        log_warning("task=%s msg=\"task metadata endpoint not served\" vpc=%s err=\"%s\"", adv_tid(a),
                                    jstr(eni, "VpcId"), e2.msg);
        }
        json_object_set_new(adv_ebx(a), "privateIp", json_string(ip));
        /* what the ENI's DHCP options give the task's resolv.conf, hosts and hostname (docs/taskdns.md) */
        json_object_set_new(adv_ebx(a), "privateDnsName", json_string(dns));
        if (json_is_array(json_object_get(ans, "DnsServers")))
                json_object_set(adv_ebx(a), "dnsServers", json_object_get(ans, "DnsServers"));
        if (json_is_array(json_object_get(ans, "DnsSearch")))
                json_object_set(adv_ebx(a), "dnsSearch", json_object_get(ans, "DnsSearch"));
        details = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]", "name", "subnetId", "value",
                            jstr(eni, "SubnetId") ?: jstr(adv_ebx(a), "subnetId") ?: "", "name", "networkInterfaceId", "value",
                            jstr(eni, "NetworkInterfaceId") ?: "", "name", "macAddress", "value", jstr(eni, "MacAddress") ?: "", "name",
                            "privateDnsName", "value", dns, "name", "privateIPv4Address", "value", ip);
        json_object_set_new(att, "details", details);
        json_object_set_new(att, "status", json_string("ATTACHING"));
        json_array_foreach(json_object_get(a->rec, "containers"), i, c)
                json_object_set_new(c, "networkInterfaces",
                                    json_pack("[{s:s, s:s}]", "attachmentId", att_id, "privateIpv4Address", ip));
        log_info("task=%s msg=\"task network created\" netns=%s eni=%s ip=%s", adv_tid(a), netns, jstr(eni, "NetworkInterfaceId") ?: "",
                 ip);
        return provision_flow_log(a, jstr(eni, "NetworkInterfaceId") ?: "");
}

/* none: a namespace with only loopback. bridge: a namespace on the instance's ecsbox0 bridge,
 * its portMappings published on the instance's address (docs/netd-bridge-api.md). */
static int provision_netns(struct adv *a, const char *mode)
{
        struct sched *s = a->s;
        char netns[32], reason[ERR_MSG_MAX + 200];
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        struct err err = { 0 };
        json_t *tn, *c, *pm, *b;
        size_t i, k, j;

        adv_netns_name(a, netns);
        json_object_set_new(adv_ebx(a), "netns", json_string(netns));
        json_object_set_new(adv_ebx(a), "netnsKind", json_string("task-network"));
        if (adv_save(a) < 0)
                return -EIO;
        req = json_pack("{s:s, s:s, s:s}", "Action", "CreateTaskNetwork", "NetworkMode", mode, "Netns", netns);
        if (strcmp(mode, "bridge") == 0) {
                json_t *maps = json_array();
                json_object_set_new(req, "InstanceNetns", json_string(jstr(adv_ebx(a), "instanceNetns") ?: ""));
                json_array_foreach(json_object_get(adv_ebx(a), "containers"), i, c)
                        json_array_foreach(json_object_get(c, "portMappings"), k, pm)
                                json_array_append_new(maps, json_pack("{s:I, s:I, s:s}", "ContainerPort", jint(pm, "containerPort", 0),
                                                                      "HostPort", jint(pm, "hostPort", 0), "Protocol",
                                                                      jstr(pm, "protocol") ?: "tcp"));
                json_object_set_new(req, "PortMappings", maps);
                json_object_set_new(req, "Metadata", json_pack("{s:s, s:s, s:s}", "clusterArn", jstr(a->rec, "clusterArn") ?: "",
                                                               "taskArn", jstr(a->rec, "taskArn") ?: "", "taskDefinitionArn",
                                                               jstr(a->rec, "taskDefinitionArn") ?: ""));
        }
        if (s->netd_call(s, req, &ans, &err) < 0) {
                snprintf(reason, sizeof reason, "ResourceInitializationError: failed to create the task's %s network: %s%s%s%s", mode,
                         err.msg, *netd_code(&err) ? " (" : "", netd_code(&err), *netd_code(&err) ? ")" : "");
                adv_fail_start(a, reason);
                return -EIO;
        }
        tn = json_object_get(ans, "TaskNetwork");
        if (strcmp(mode, "bridge") == 0) {
                /* each container gets the bindings of its own mappings, in order */
                json_t *binds = json_object_get(tn, "NetworkBindings");
                size_t n = 0;
                json_object_set_new(adv_ebx(a), "privateIp", json_string(jstr(tn, "PrivateIpAddress") ?: ""));
                json_object_set_new(adv_ebx(a), "hostIp", json_string(jstr(tn, "HostIp") ?: ""));
                json_object_set_new(adv_ebx(a), "mac", json_string(jstr(tn, "MacAddress") ?: ""));
                if (jstr(tn, "VpcId")) {
                        /* the instance's VPC serves the task's metadata endpoint, reached through the instance */
                        struct err e2 = { 0 };
                        json_object_set_new(adv_ebx(a), "vpcId", json_string(jstr(tn, "VpcId")));
                        /* the instance's resolvers, which Docker copies into a bridge container (docs/taskdns.md) */
                        if (json_is_array(json_object_get(tn, "DnsServers")))
                                json_object_set(adv_ebx(a), "dnsServers", json_object_get(tn, "DnsServers"));
                        if (json_is_array(json_object_get(tn, "DnsSearch")))
                                json_object_set(adv_ebx(a), "dnsSearch", json_object_get(tn, "DnsSearch"));
                        if (tmds_vpc_ensure(s, jstr(tn, "VpcId"), &e2) < 0)
                                log_warning("task=%s msg=\"task metadata endpoint not served\" vpc=%s err=\"%s\"", adv_tid(a),
                                            jstr(tn, "VpcId"), e2.msg);
                }
                json_array_foreach(json_object_get(adv_ebx(a), "containers"), i, c) {
                        json_t *out = json_array(), *rc = NULL, *x;
                        json_array_foreach(json_object_get(c, "portMappings"), k, pm) {
                                b = json_array_get(binds, n++);
                                if (b)
                                        json_array_append(out, b);
                        }
                        json_array_foreach(json_object_get(a->rec, "containers"), j, x)
                                if (strcmp(jstr(x, "name") ?: "", jstr(c, "name") ?: "") == 0)
                                        rc = x;
                        if (rc)
                                json_object_set_new(rc, "networkBindings", out);
                        else
                                json_decref(out);
                }
                log_info("task=%s msg=\"task network created\" mode=bridge netns=%s ip=%s bindings=%zu", adv_tid(a), netns,
                         jstr(tn, "PrivateIpAddress") ?: "", json_array_size(binds));
        }
        return 0;
}

static void env_put(json_t *env, const char *name, const char *value)
{
        json_t *e;
        size_t i;
        json_array_foreach(env, i, e)
                if (strcmp(jstr(e, "name") ?: "", name) == 0) {
                        json_object_set_new(e, "value", json_string(value));
                        return;
                }
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static json_t *spec_build(struct adv *a, const char *dir)
{
        struct sched *s = a->s;
        json_t *containers = json_deep_copy(json_object_get(adv_ebx(a), "containers")), *c, *spec;
        const char *netns = jstr(adv_ebx(a), "netns");
        char netns_path[128];
        size_t i;
        task_images_apply(a, containers);
        json_array_foreach(containers, i, c) {
                json_t *env = json_object_get(c, "environment");
                if (!json_is_array(env)) {
                        env = json_array();
                        json_object_set_new(c, "environment", env);
                }
                env_put(env, "ECSBOX_TASK_ID", adv_tid(a));
                env_put(env, "ECSBOX_TASK_ARN", jstr(a->rec, "taskArn") ?: "");
                env_put(env, "AWS_EXECUTION_ENV", strcmp(jstr(a->rec, "launchType") ?: "", "FARGATE") == 0 ? "AWS_ECS_FARGATE" : "AWS_ECS_EC2");
        }
        /* the metadata endpoint is reachable from awsvpc and bridge tasks (169.254.170.2 in their or their
         * instance's VPC, docs/task-metadata.md) */
        if (jstr(adv_ebx(a), "vpcId")) {
                char region[32];
                (void) tmds_task_env(adv_tid(a), adv_ebx(a), containers, region_of(a, region, sizeof region));
        }
        spec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "taskId", adv_tid(a), "taskArn",
                         jstr(a->rec, "taskArn") ?: "", "clusterArn", jstr(a->rec, "clusterArn") ?: "", "taskDefinitionArn",
                         jstr(a->rec, "taskDefinitionArn") ?: "", "networkMode", jstr(adv_ebx(a), "mode") ?: "", "dir", dir,
                         "notifySocket", s->notify_path, "cpu", jstr(a->rec, "cpu") ?: "0", "memory",
                         jstr(a->rec, "memory") ?: "0", "containers", containers);
        if (!spec)
                return NULL;
        if (netns) {
                snprintf(netns_path, sizeof netns_path, "/run/netns/%s", netns);
                json_object_set_new(spec, "netns", json_string(netns_path));
        } else {
                json_object_set_new(spec, "netns", json_null());
        }
        /* the task's name service (the monitor writes resolv.conf and hosts from these, docs/taskdns.md) */
        if (jstr(adv_ebx(a), "privateIp") && *jstr(adv_ebx(a), "privateIp"))
                json_object_set_new(spec, "privateIp", json_string(jstr(adv_ebx(a), "privateIp")));
        if (strcmp(jstr(adv_ebx(a), "mode") ?: "", "awsvpc") == 0 && jstr(adv_ebx(a), "privateDnsName")) {
                json_object_set_new(spec, "privateDnsName", json_string(jstr(adv_ebx(a), "privateDnsName")));
                json_object_set_new(spec, "hostname", json_string(jstr(adv_ebx(a), "privateDnsName")));
        }
        if (json_is_array(json_object_get(adv_ebx(a), "dnsServers")))
                json_object_set(spec, "dnsServers", json_object_get(adv_ebx(a), "dnsServers"));
        if (json_is_array(json_object_get(adv_ebx(a), "dnsSearch")))
                json_object_set(spec, "dnsSearch", json_object_get(adv_ebx(a), "dnsSearch"));
        if (jstr(adv_ebx(a), "pidMode"))
                json_object_set_new(spec, "pidMode", json_string(jstr(adv_ebx(a), "pidMode")));
        if (jstr(adv_ebx(a), "ipcMode"))
                json_object_set_new(spec, "ipcMode", json_string(jstr(adv_ebx(a), "ipcMode")));
        return spec;
}

static void spawn(struct adv *a)
{
        struct sched *s = a->s;
        char dir[SCHED_PATH_MAX * 2], spec_path[SCHED_PATH_MAX * 2 + 16], pidkey[24], reason[ERR_MSG_MAX + 64];
        _cleanup_json_ json_t *spec = NULL;
        struct err err = { 0 };
        pid_t pid;

        snprintf(dir, sizeof dir, "%s/%s", s->tasks_dir, adv_tid(a));
        snprintf(spec_path, sizeof spec_path, "%s/spec.json", dir);
        json_object_set_new(adv_ebx(a), "dir", json_string(dir));
        json_object_set_new(adv_ebx(a), "specPath", json_string(spec_path));
        json_object_set_new(adv_ebx(a), "spawn", json_string("spawning"));
        if (adv_save(a) < 0)
                return;
        /* awslogs: the group and stream exist before the container starts, as Docker's driver wants */
        if (logs_task_start(s, adv_tid(a), a->key, dir, json_object_get(adv_ebx(a), "containers"), reason, sizeof reason) < 0) {
                adv_fail_start(a, reason);
                return;
        }
        spec = spec_build(a, dir);
        if (!spec) {
                adv_fail_start(a, "CannotStartContainerError: out of memory building the monitor spec");
                return;
        }
        if (launch_monitor(s, spec, dir, &pid, &err) < 0) {
                snprintf(reason, sizeof reason, "CannotStartContainerError: %s", err.msg);
                adv_fail_start(a, reason);
                return;
        }
        snprintf(pidkey, sizeof pidkey, "%ld", (long) pid);
        json_object_set_new(s->children, pidkey, json_string(adv_tid(a)));
        json_object_set_new(adv_ebx(a), "monitorPid", json_integer(pid));
        json_object_set_new(adv_ebx(a), "spawn", json_string("spawned"));
        (void) adv_save(a);
        log_info("task=%s msg=\"task monitor started\" pid=%ld netns=%s", adv_tid(a), (long) pid, jstr(adv_ebx(a), "netns") ?: "host");
}

bool adv_monitor_up(struct adv *a)
{
        pid_t pid = (pid_t) jint(adv_ebx(a), "monitorPid", 0);
        return pid > 1 && monitor_alive(pid, jstr(adv_ebx(a), "specPath") ?: "");
}

static int status_rank(const char *st)
{
        if (!st)
                return -1;
        if (strcmp(st, "PENDING") == 0)
                return 0;
        if (strcmp(st, "RUNNING") == 0)
                return 1;
        if (strcmp(st, "STOPPED") == 0)
                return 2;
        return -1;
}

/* Containers from the monitor's status.json; the task's healthStatus from the essential ones.
 * The times come from the monitor's record of them, whichever status ecsboxd first sees: a task
 * whose essential container exits at once may be STOPPED by then, and was never seen RUNNING. */
static void apply_status(struct adv *a, json_t *st)
{
        json_t *c, *defs = json_object_get(adv_ebx(a), "containers");
        const char *mode = jstr(adv_ebx(a), "mode") ?: "";
        bool any_unhealthy = false, any_unknown = false, any_checked = false;
        size_t i;
        (void) task_status_times(a->rec, st);
        json_array_foreach(json_object_get(a->rec, "containers"), i, c) {
                const char *name = jstr(c, "name") ?: "";
                json_t *sc = jfind(json_object_get(st, "containers"), "name", name), *def = jfind(defs, "name", name), *v;
                if (sc) {
                        const char *ls = jstr(sc, "lastStatus");
                        if (status_rank(ls) > status_rank(jstr(c, "lastStatus")))
                                json_object_set_new(c, "lastStatus", json_string(ls));
                        if ((v = json_object_get(sc, "runtimeId")) && json_is_string(v))
                                json_object_set(c, "runtimeId", v);
                        if ((v = json_object_get(sc, "exitCode")) && json_is_integer(v))
                                json_object_set(c, "exitCode", v);
                        if ((v = json_object_get(sc, "reason")) && json_is_string(v) && *json_string_value(v))
                                json_object_set(c, "reason", v);
                        if ((v = json_object_get(sc, "healthStatus")) && json_is_string(v))
                                json_object_set(c, "healthStatus", v);
                }
                if (strcmp(mode, "host") == 0 && strcmp(jstr(c, "lastStatus") ?: "", "RUNNING") == 0 &&
                    json_array_size(json_object_get(c, "networkBindings")) == 0) {
                        json_t *pm, *b = json_array();
                        size_t k;
                        json_array_foreach(json_object_get(def, "portMappings"), k, pm)
                                if (json_object_get(pm, "containerPort"))
                                        json_array_append_new(b, json_pack("{s:s, s:I, s:I, s:s}", "bindIP", "0.0.0.0", "containerPort",
                                                                           jint(pm, "containerPort", 0), "hostPort", jint(pm, "hostPort", 0),
                                                                           "protocol", jstr(pm, "protocol") ?: "tcp"));
                        json_object_set_new(c, "networkBindings", b);
                }
                if (json_is_true(json_object_get(def, "essential")) && json_object_get(def, "healthCheck")) {
                        const char *h = jstr(c, "healthStatus") ?: "UNKNOWN";
                        any_checked = true;
                        if (strcmp(h, "UNHEALTHY") == 0)
                                any_unhealthy = true;
                        else if (strcmp(h, "HEALTHY") != 0)
                                any_unknown = true;
                }
        }
        json_object_set_new(a->rec, "healthStatus",
                            json_string(any_unhealthy ? "UNHEALTHY" : (!any_checked || any_unknown) ? "UNKNOWN" : "HEALTHY"));
}

static bool essential_state(struct adv *a, const char *want, bool all)
{
        json_t *c, *defs = json_object_get(adv_ebx(a), "containers");
        bool any = false, every = true;
        size_t i;
        json_array_foreach(json_object_get(a->rec, "containers"), i, c) {
                json_t *def = jfind(defs, "name", jstr(c, "name") ?: "");
                bool match;
                if (!json_is_true(json_object_get(def, "essential")))
                        continue;
                match = strcmp(jstr(c, "lastStatus") ?: "", want) == 0;
                any |= match;
                every &= match;
        }
        return all ? every : any;
}

static bool step_provisioning(struct adv *a)
{
        const char *mode = jstr(adv_ebx(a), "mode") ?: "";
        if (strcmp(jstr(a->rec, "desiredStatus") ?: "", "STOPPED") == 0) {
                containers_stopped(a, NULL);
                set_last(a, "DEPROVISIONING");
                (void) adv_save(a);
                return true;
        }
        if (strcmp(mode, "awsvpc") == 0) {
                if (provision_awsvpc(a) < 0)
                        return true;
        } else if (strcmp(mode, "none") == 0 || strcmp(mode, "bridge") == 0) {
                if (provision_netns(a, mode) < 0)
                        return true;
        } else if (strcmp(mode, "host") == 0) {
                /* the instance's namespace, or the host's own when the task runs without an instance */
                if (jstr(adv_ebx(a), "instanceNetns"))
                        json_object_set_new(adv_ebx(a), "netns", json_string(jstr(adv_ebx(a), "instanceNetns")));
        } else {
                adv_fail_start(a, "ResourceInitializationError: unknown network mode");
                return true;
        }
        set_last(a, "PENDING");
        (void) adv_save(a);
        return true;
}

static bool step_active(struct adv *a)
{
        _cleanup_json_ json_t *st = NULL;
        const char *last = jstr(a->rec, "lastStatus") ?: "";
        bool alive, stopping = strcmp(jstr(a->rec, "desiredStatus") ?: "", "STOPPED") == 0;
        int r;

        if (!jstr(adv_ebx(a), "spawn")) {
                if (stopping) {
                        containers_stopped(a, NULL);
                        set_last(a, "DEPROVISIONING");
                        attachment_status(a, "DETACHING");
                        (void) adv_save(a);
                        return true;
                }
                /* ECS: the images are fetched while PENDING, before any container starts */
                r = task_images_step(a);
                if (r < 0)
                        return true;
                if (r == 0)
                        return false;
                spawn(a);
                return jstr(adv_ebx(a), "spawn") && strcmp(jstr(adv_ebx(a), "spawn"), "spawned") == 0 ? false : true;
        }
        st = monitor_status(jstr(adv_ebx(a), "dir") ?: "");
        alive = adv_monitor_up(a);
        if (st)
                apply_status(a, st);
        if (!stopping) {
                if (strcmp(last, "PENDING") == 0 &&
                    (strcmp(jstr(st, "lastStatus") ?: "", "RUNNING") == 0 || essential_state(a, "RUNNING", true))) {
                        set_last(a, "RUNNING");
                        attachment_status(a, "ATTACHED");
                        log_info("task=%s msg=\"task running\"", adv_tid(a));
                }
                /* The monitor's own stop code first: a container that could not start shows STOPPED
                 * too, and its task is TaskFailedToStart with the CannotStartContainerError, not an exit. */
                if (jstr(st, "stopCode"))
                        decide_stop(a, jstr(st, "stopCode"), jstr(st, "stoppedReason") ?: "The task monitor stopped the task");
                else if (essential_state(a, "STOPPED", false))
                        decide_stop(a, "EssentialContainerExited", "Essential container in task exited");
                else if (strcmp(jstr(st, "lastStatus") ?: "", "STOPPED") == 0)
                        decide_stop(a, jstr(st, "stopCode") ?: (strcmp(last, "RUNNING") == 0 ? "EssentialContainerExited" : "TaskFailedToStart"),
                                    jstr(st, "stoppedReason") ?: "The task monitor stopped the task");
                else if (!alive) {
                        char reason[SCHED_PATH_MAX * 2 + 1200], log_path[SCHED_PATH_MAX * 2 + 16], tail[1024] = "";
                        /* a monitor that refused its spec says why in its log's last line */
                        snprintf(log_path, sizeof log_path, "%s/monitor.log", jstr(adv_ebx(a), "dir") ?: "");
                        if (!st)
                                last_line(log_path, tail, sizeof tail);
                        snprintf(reason, sizeof reason, "%sthe task monitor (pid %lld) exited unexpectedly%s%s; see %s",
                                 strcmp(jstr(a->rec, "lastStatus") ?: "", "RUNNING") == 0 ? "" : "CannotStartContainerError: ",
                                 jint(adv_ebx(a), "monitorPid", 0), tail[0] ? ": " : "", tail, log_path);
                        decide_stop(a, jstr(st, "stopCode") ?: (strcmp(jstr(a->rec, "lastStatus"), "RUNNING") == 0 ? "EssentialContainerExited"
                                                                                                                      : "TaskFailedToStart"),
                                    reason);
                }
                stopping = strcmp(jstr(a->rec, "desiredStatus") ?: "", "STOPPED") == 0;
        }
        if (stopping) {
                set_last(a, "DEACTIVATING");
                (void) adv_save(a);
                return true;
        }
        (void) adv_save(a);
        return false;
}

static double max_stop_timeout(struct adv *a)
{
        json_t *d;
        size_t i;
        double m = 30;
        bool any = false;
        json_array_foreach(json_object_get(adv_ebx(a), "containers"), i, d)
                if (json_object_get(d, "stopTimeout")) {
                        double v = (double) jint(d, "stopTimeout", 30);
                        m = any && m > v ? m : v;
                        any = true;
                }
        return m;
}

static bool step_stopping(struct adv *a)
{
        _cleanup_json_ json_t *st = monitor_status(jstr(adv_ebx(a), "dir") ?: "");
        bool alive = adv_monitor_up(a);
        pid_t pid = (pid_t) jint(adv_ebx(a), "monitorPid", 0);
        if (st)
                apply_status(a, st);
        if (alive) {
                json_t *sig = json_object_get(adv_ebx(a), "stopSignaledAt");
                if (!sig) {
                        struct err err = { 0 };
                        if (monitor_stop(pid, jstr(adv_ebx(a), "dir") ?: "", jstr(a->rec, "stopCode"), jstr(a->rec, "stoppedReason"), &err) < 0)
                                log_warning("task=%s msg=\"cannot ask the monitor to stop, will retry\" err=\"%s\"", adv_tid(a), err.msg);
                        else
                                json_object_set_new(adv_ebx(a), "stopSignaledAt", jtime(a->now));
                } else if (a->now - json_number_value(sig) > max_stop_timeout(a) + KILL_GRACE &&
                           !json_object_get(adv_ebx(a), "killedAt")) {
                        log_warning("task=%s msg=\"the task monitor did not stop in time, killing it\" pid=%ld", adv_tid(a), (long) pid);
                        (void) kill(pid, SIGKILL);
                        json_object_set_new(adv_ebx(a), "killedAt", jtime(a->now));
                }
                if (strcmp(jstr(a->rec, "lastStatus") ?: "", "DEACTIVATING") == 0)
                        set_last(a, "STOPPING");
                (void) adv_save(a);
                return false;
        }
        containers_stopped(a, NULL);
        set_last(a, "DEPROVISIONING");
        attachment_status(a, "DETACHING");
        (void) adv_save(a);
        return true;
}

static bool step_deprovisioning(struct adv *a)
{
        struct sched *s = a->s;
        const char *kind = jstr(adv_ebx(a), "netnsKind"), *netns = jstr(adv_ebx(a), "netns");
        if (kind && netns && !json_is_true(json_object_get(adv_ebx(a), "networkReleased"))) {
                struct err err = { 0 };
                int r;
                r = netd_release(s, netns, &err);
                if (r < 0) {
                        if (!json_object_get(adv_ebx(a), "releaseWarned")) {
                                log_warning("task=%s msg=\"cannot release the task network yet, will retry\" netns=%s err=\"%s\"", adv_tid(a), netns,
                                            err.msg);
                                json_object_set_new(adv_ebx(a), "releaseWarned", json_true());
                                (void) adv_save(a);
                        }
                        return false;
                }
                json_object_set_new(adv_ebx(a), "networkReleased", json_true());
                attachment_status(a, "DELETED");
                log_info("task=%s msg=\"task network released\" netns=%s", adv_tid(a), netns);
        }
        /* the monitor is gone (or never ran): its containers' layers may go now */
        task_images_release(a);
        set_last(a, "STOPPED");
        (void) adv_save(a);
        log_info("task=%s msg=\"task stopped\" stopCode=%s reason=\"%s\"", adv_tid(a), jstr(a->rec, "stopCode") ?: "",
                 jstr(a->rec, "stoppedReason") ?: "");
        return false;
}

static bool step(struct adv *a)
{
        const char *last = jstr(a->rec, "lastStatus") ?: "";
        if (strcmp(last, "PROVISIONING") == 0)
                return step_provisioning(a);
        if (strcmp(last, "PENDING") == 0 || strcmp(last, "ACTIVATING") == 0 || strcmp(last, "RUNNING") == 0)
                return step_active(a);
        if (strcmp(last, "DEACTIVATING") == 0 || strcmp(last, "STOPPING") == 0)
                return step_stopping(a);
        if (strcmp(last, "DEPROVISIONING") == 0)
                return step_deprovisioning(a);
        return false;
}

int adv_load(struct adv *a, struct sched *s, const char *key)
{
        struct err err = { 0 };
        int r;
        memset(a, 0, sizeof *a);
        a->s = s;
        a->now = now_epoch();
        snprintf(a->key, sizeof a->key, "%s", key);
        if ((r = store_get(s->store, key, &a->rec, &err)) < 0) {
                if (r != -ENOENT)
                        log_error("key=%s msg=\"cannot load task\" err=\"%s\"", key, err.msg);
                return r;
        }
        a->stored = json_deep_copy(a->rec);
        a->shape = public_part(a->rec);
        return 0;
}

void adv_done(struct adv *a)
{
        json_decref(a->rec);
        json_decref(a->stored);
        json_decref(a->shape);
}

void task_advance(struct sched *s, const char *key)
{
        struct adv a;
        long long version;
        if (adv_load(&a, s, key) < 0) {
                return;
        }
        version = jint(a.rec, "version", 0);
        for (int i = 0; i < 12 && step(&a); i++)
                a.now = now_epoch();
        /* a service's task changed: its scheduler looks on the next loop turn */
        if (jint(a.rec, "version", 0) != version && strncmp(jstr(a.rec, "group") ?: "", "service:", 8) == 0)
                services_kick(s);
        if (strcmp(jstr(a.rec, "lastStatus") ?: "", "STOPPED") == 0)
                json_object_del(s->active, adv_tid(&a));
        else
                json_object_set_new(s->active, adv_tid(&a), json_string(key));
        /* A task RUNNING as desired changes only through its monitor, which notifies us (and
         * SIGCHLD when it is our child): the tick looks at it only now and then. */
        if (strcmp(jstr(a.rec, "lastStatus") ?: "", "RUNNING") == 0 && strcmp(jstr(a.rec, "desiredStatus") ?: "", "RUNNING") == 0)
                json_object_set_new(s->steady, adv_tid(&a), json_true());
        else
                json_object_del(s->steady, adv_tid(&a));
        adv_done(&a);
}

void tasks_advance_queued(struct sched *s)
{
        json_t *todo = s->todo, *v;
        const char *id;
        s->todo = json_object();
        json_object_foreach(todo, id, v)
                task_advance(s, json_string_value(v));
        json_decref(todo);
}

void task_kick(struct sched *s, const char *id, const char *key)
{
        if (!s->defer_src || !id)
                return;
        if (!key)
                key = json_string_value(json_object_get(s->active, id));
        if (!key)
                return;
        json_object_set_new(s->todo, id, json_string(key));
        sched_wake(s);
}

void tasks_child_exited(struct sched *s, pid_t pid)
{
        char pidkey[24];
        const char *id;
        snprintf(pidkey, sizeof pidkey, "%ld", (long) pid);
        id = json_string_value(json_object_get(s->children, pidkey));
        if (id) {
                log_debug("task=%s msg=\"task monitor exited\" pid=%ld", id, (long) pid);
                task_kick(s, id, NULL);
        }
        json_object_del(s->children, pidkey);
}

struct prune_ctx {
        double before;
        json_t *keys;
};

static int collect_prune(const char *key, json_t *v, void *userdata)
{
        struct prune_ctx *p = userdata;
        json_t *t = json_object_get(v, strncmp(key, "task/", 5) == 0 ? "stoppedAt" : "createdAt");
        if (strncmp(key, "task/", 5) == 0 && strcmp(jstr(v, "lastStatus") ?: "", "STOPPED") != 0)
                return 0;
        if (json_is_number(t) && json_number_value(t) < p->before)
                json_array_append_new(p->keys, json_pack("[s, s]", key, jstr(json_object_get(v, "ebx"), "dir") ?: ""));
        return 0;
}

/* STOPPED tasks stay describable for the retention time (ECS: at least an hour), then go with their directory. */
void tasks_prune(struct sched *s)
{
        struct prune_ctx p = { now_epoch() - s->stopped_retention, json_array() };
        struct err err = { 0 };
        json_t *e;
        size_t i;
        if (store_list(s->store, "task/", collect_prune, &p, &err) < 0 || store_list(s->store, "token/", collect_prune, &p, &err) < 0)
                log_warning("msg=\"prune old tasks, ignoring\" err=\"%s\"", err.msg);
        json_array_foreach(p.keys, i, e) {
                const char *dir = json_string_value(json_array_get(e, 1));
                if (store_del(s->store, json_string_value(json_array_get(e, 0)), &err) < 0)
                        continue;
                if (dir && *dir)
                        (void) rm_rf(dir);
                log_debug("msg=\"pruned\" key=%s", json_string_value(json_array_get(e, 0)));
        }
        json_decref(p.keys);
}

void tasks_refresh(struct sched *s)
{
        json_t *keys = json_deep_copy(s->active), *v;
        const char *id;
        /* steady tasks get a full look every STEADY_SWEEP ticks, spread over the ticks */
        s->ticks++;
        json_object_foreach(keys, id, v) {
                if (json_object_get(s->steady, id) && (s->ticks + (unsigned) strtoul(id + 24, NULL, 16)) % STEADY_SWEEP != 0)
                        continue;
                task_advance(s, json_string_value(v));
        }
        json_decref(keys);
}
