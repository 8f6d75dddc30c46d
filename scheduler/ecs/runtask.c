/* runtask.c: tasks_start(), the one function that checks, places and records new tasks
 * (RunTask, StartTask and the service scheduler call it), and RunTask itself. The work after
 * the answer (network, monitor, status) is lifecycle.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../netd_client.h"
#include "../sched.h"
#include "arn.h"
#include "cluster.h"
#include "cql.h"
#include "instance.h"
#include "lifecycle.h"
#include "placement.h"
#include "runtask.h"
#include "task.h"
#include "tags.h"
#include "taskdef.h"

#define PORTS_MAX 64            /* static host ports of one task that placement looks at */
#define PORT_MAP_WORDS 1024     /* a 65536-bit map of host ports */

/* One tasks_start() call: the request and what it resolves to. */
struct run {
        struct api_ctx *c;
        const struct task_start *in;
        json_t *cluster;               /* record */
        char cname[NAME_MAX_ECS + 1];
        json_t *td;
        const char *mode, *group;
        char group_buf[NAME_MAX_ECS + 16];
        json_t *containers;            /* effective definitions (overrides applied) */
        json_t *overrides_echo;
        json_t *subnets;               /* awsvpc: [Subnet objects from netd] */
        json_t *groups;                /* awsvpc: security group ids (borrowed from the request) */
        long cpu, mem;
        json_t *tcp, *udp;             /* static host ports (host and bridge modes) */
        struct cql *owned[TASK_PLACE_CONSTRAINTS_MAX + 1];   /* the task definition's and the target's */
        size_t nowned;
        struct cql *member_of[2 * TASK_PLACE_CONSTRAINTS_MAX + 1];
        size_t nmember_of;
};

static void run_free(struct run *r)
{
        json_decref(r->cluster);
        json_decref(r->td);
        json_decref(r->containers);
        json_decref(r->overrides_echo);
        json_decref(r->subnets);
        json_decref(r->tcp);
        json_decref(r->udp);
        for (size_t i = 0; i < r->nowned; i++)
                cql_free(r->owned[i]);
}

void task_start_result_done(struct task_start_result *r)
{
        json_decref(r->tasks);
        r->tasks = NULL;
        free(r->failures);
        r->failures = NULL;
        r->nfailures = 0;
}

static void env_set(json_t *env, const char *name, const char *value)
{
        json_t *e = jfind(env, "name", name);
        if (e)
                json_object_set_new(e, "value", json_string(value));
        else
                json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

/* Applies containerOverrides (checked by task_overrides_check) to the definitions and keeps
 * what the task record echoes. */
static int apply_container_override(struct run *run, json_t *co, struct err *err)
{
        json_t *def = jfind(run->containers, "name", jstr(co, "name") ?: ""), *e, *v;
        size_t k;
        if (!def)
                return err_set(err, EINVAL, E_PARAM, "Override for container named %s is not a container in the TaskDefinition.",
                               jstr(co, "name") ?: "");
        if ((v = json_object_get(co, "command")) && !json_is_null(v))
                json_object_set(def, "command", v);
        json_array_foreach(json_object_get(co, "environment"), k, e)
                env_set(json_object_get(def, "environment"), jstr(e, "name"), jstr(e, "value") ?: "");
        if (json_is_integer(v = json_object_get(co, "cpu")))
                json_object_set(def, "cpu", v);
        if (json_is_integer(v = json_object_get(co, "memory")))
                json_object_set(def, "memory", v);
        if (json_is_integer(v = json_object_get(co, "memoryReservation")))
                json_object_set(def, "memoryReservation", v);
        json_array_append(json_object_get(run->overrides_echo, "containerOverrides"), co);
        return 0;
}

static int apply_overrides(struct run *run, struct err *err)
{
        json_t *ov = run->in->overrides, *co;
        size_t i;
        int r;
        run->containers = json_deep_copy(json_object_get(run->td, "containerDefinitions"));
        run->overrides_echo = json_pack("{s:[], s:[]}", "containerOverrides", "inferenceAcceleratorOverrides");
        if (!run->containers || !run->overrides_echo)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(json_object_get(ov, "containerOverrides"), i, co)
                if ((r = apply_container_override(run, co, err)) < 0)
                        return r;
        if (jstr(ov, "cpu"))
                json_object_set_new(run->overrides_echo, "cpu", json_string(jstr(ov, "cpu")));
        if (jstr(ov, "memory"))
                json_object_set_new(run->overrides_echo, "memory", json_string(jstr(ov, "memory")));
        return 0;
}

static int compute_resources(struct run *run, struct err *err)
{
        json_t *d, *pm, *v;
        size_t i, k;
        long sum_cpu = 0, sum_mem = 0, x;
        run->tcp = json_array();
        run->udp = json_array();
        json_array_foreach(run->containers, i, d) {
                sum_cpu += (long) jint(d, "cpu", 0);
                sum_mem += (long) (jint(d, "memory", 0) ?: jint(d, "memoryReservation", 0));
                if (strcmp(run->mode, "host") != 0 && strcmp(run->mode, "bridge") != 0)
                        continue;
                json_array_foreach(json_object_get(d, "portMappings"), k, pm)
                        if (jint(pm, "hostPort", 0) > 0)
                                json_array_append_new(strcmp(jstr(pm, "protocol") ?: "tcp", "udp") == 0 ? run->udp : run->tcp,
                                                      json_integer(jint(pm, "hostPort", 0)));
        }
        run->cpu = sum_cpu;
        run->mem = sum_mem;
        if ((v = json_object_get(run->overrides_echo, "cpu")) || (v = json_object_get(run->td, "cpu"))) {
                if (taskdef_units(v, false, &x) < 0)
                        return err_set(err, EINVAL, E_PARAM, "Invalid task cpu '%s'.", json_string_value(v) ?: "");
                run->cpu = x;
        }
        if ((v = json_object_get(run->overrides_echo, "memory")) || (v = json_object_get(run->td, "memory"))) {
                if (taskdef_units(v, true, &x) < 0)
                        return err_set(err, EINVAL, E_PARAM, "Invalid task memory '%s'.", json_string_value(v) ?: "");
                run->mem = x;
        }
        return 0;
}

/* memberOf constraints that bind: the task definition's, the request's, and the target instance's. */
static int build_constraints(struct run *run, struct err *err)
{
        const struct task_placement *p = &run->in->place;
        json_t *e;
        size_t i, ntd;
        int r;
        json_array_foreach(json_object_get(run->td, "placementConstraints"), i, e)
                if (run->nowned < TASK_PLACE_CONSTRAINTS_MAX && cql_parse(jstr(e, "expression") ?: "", &run->owned[run->nowned], err) >= 0)
                        run->nowned++;
        err_clear(err);
        ntd = run->nowned;
        if (ntd + p->nmember_of > TASK_PLACE_CONSTRAINTS_MAX)
                return err_set(err, EINVAL, E_PARAM, "Too many memberOf constraints.");
        for (i = 0; i < ntd; i++)
                run->member_of[run->nmember_of++] = run->owned[i];
        for (i = 0; i < p->nmember_of; i++)
                run->member_of[run->nmember_of++] = p->member_of[i];
        if (run->in->target_ec2_id) {
                char expr[128];
                snprintf(expr, sizeof expr, "ec2InstanceId == %s", run->in->target_ec2_id);
                if ((r = cql_parse(expr, &run->owned[run->nowned], err)) < 0)
                        return err_wrap(err, "target instance '%s'", run->in->target_ec2_id);
                run->member_of[run->nmember_of++] = run->owned[run->nowned++];
        }
        return 0;
}

/* The subnets of the request (or the default subnet) as netd knows them, all in one VPC. */
static int lookup_subnets(struct run *run, struct err *err)
{
        struct sched *s = run->c->s;
        _cleanup_json_ json_t *q = NULL, *ans = NULL, *dflt = NULL;
        json_t *subnets = run->in->net.subnets, *sn;
        const char *vpc = NULL;
        size_t i;
        int r;
        if (!run->in->net.awsvpc) {
                /* ecsbox convenience: no networkConfiguration means the default subnet. */
                if ((r = netd_ensure_defaults(s, err)) < 0)
                        return err_set(err, EINVAL, E_PARAM,
                                       "Network Configuration must be provided when networkMode 'awsvpc' is specified (ecsbox would use the default subnet, but: %s).",
                                       err->msg);
                subnets = dflt = json_pack("[s]", s->default_subnet);
        }
        run->subnets = json_array();
        q = json_pack("{s:s, s:O}", "Action", "DescribeSubnets", "SubnetIds", subnets);
        if ((r = s->netd_call(s, q, &ans, err)) < 0) {
                if (strncmp(netd_code(err), "InvalidSubnetID", 15) == 0)
                        return err_set(err, ENOENT, E_PARAM, "Error retrieving subnet information for %s: %s",
                                       dflt ? "the default subnet" : "the given subnets", err->msg);
                return err_wrap(err, "look up the task's subnets");
        }
        json_array_foreach(json_object_get(ans, "Subnets"), i, sn) {
                if (vpc && strcmp(vpc, jstr(sn, "VpcId") ?: "") != 0)
                        return err_set(err, EINVAL, E_PARAM, "The subnets must all be in the same VPC ('%s' is in %s, not %s).",
                                       jstr(sn, "SubnetId"), jstr(sn, "VpcId"), vpc);
                vpc = jstr(sn, "VpcId");
                json_array_append(run->subnets, sn);
        }
        if (json_array_size(run->subnets) == 0)
                return err_set(err, ENOENT, E_PARAM, "Error retrieving subnet information: no such subnet.");
        return 0;
}

/* The security groups of the request, all in the subnets' VPC. */
static int lookup_groups(struct run *run, struct err *err)
{
        struct sched *s = run->c->s;
        json_t *sgs = run->in->net.security_groups, *g;
        const char *vpc = jstr(json_array_get(run->subnets, 0), "VpcId") ?: "";
        _cleanup_json_ json_t *q = NULL, *ans = NULL;
        size_t i;
        int r;
        if (json_array_size(sgs) == 0)
                return 0;
        q = json_pack("{s:s, s:O}", "Action", "DescribeSecurityGroups", "GroupIds", sgs);
        if ((r = s->netd_call(s, q, &ans, err)) < 0) {
                if (strncmp(netd_code(err), "InvalidGroup", 12) == 0)
                        return err_set(err, ENOENT, E_PARAM, "Error retrieving security group information: %s", err->msg);
                return err_wrap(err, "look up the task's security groups");
        }
        json_array_foreach(json_object_get(ans, "SecurityGroups"), i, g)
                if (strcmp(jstr(g, "VpcId") ?: "", vpc) != 0)
                        return err_set(err, EINVAL, E_PARAM, "Security group '%s' is in VPC %s, not in the subnets' VPC %s.",
                                       jstr(g, "GroupId"), jstr(g, "VpcId"), vpc);
        run->groups = sgs;
        return 0;
}

/* awsvpc: subnets and security groups named in networkConfiguration, checked with netd. */
static int resolve_network(struct run *run, struct err *err)
{
        const struct task_network *n = &run->in->net;
        bool awsvpc = strcmp(run->mode, "awsvpc") == 0;
        int r;
        if (n->awsvpc && !awsvpc)
                return err_set(err, EINVAL, E_PARAM, "Network Configuration is not valid for the given networkMode of this task definition.");
        if (!awsvpc)
                return 0;
        if (n->assign_public_ip && strcmp(n->assign_public_ip, "ENABLED") == 0 && strcmp(run->in->launch, "EC2") == 0)
                return err_set(err, EINVAL, E_PARAM, "Assign public IP is not supported for this launch type.");
        if ((r = lookup_subnets(run, err)) < 0)
                return r;
        return lookup_groups(run, err);
}

/* A new task's tags, as ECS builds them: the tags propagated from the task definition or the
 * service, the request's own over those, then the managed aws:ecs:* tags. NULL: none. */
static json_t *task_tags(struct run *run)
{
        const struct task_start *in = run->in;
        _cleanup_json_ json_t *from = NULL, *managed = NULL;
        json_t *out;
        if (in->propagate && strcmp(in->propagate, "TASK_DEFINITION") == 0)
                from = taskdef_tags(run->c->s, jstr(run->td, "taskDefinitionArn"));
        else if (in->propagate && strcmp(in->propagate, "SERVICE") == 0)
                from = json_incref(in->service_tags);
        if (in->managed_tags) {
                managed = json_pack("[{s:s, s:s}]", "key", "aws:ecs:clusterName", "value", run->cname);
                if (in->service_name)
                        json_array_append_new(managed, json_pack("{s:s, s:s}", "key", "aws:ecs:serviceName", "value", in->service_name));
        }
        if (!from && !managed)
                return json_incref(in->tags);
        out = tags_merge(from, in->tags);
        if (out && managed)
                json_array_extend(out, managed);
        return out;
}

static json_t *task_new(struct run *run, json_t *inst, const char *subnet_id, const char *az)
{
        struct api_ctx *c = run->c;
        char id[HEX32_STR_MAX], arn[ARN_MAX], cid[UUID_STR_MAX], carn[ARN_MAX], att[UUID_STR_MAX], buf[32];
        json_t *rec, *containers = json_array(), *ebx, *d, *res;
        size_t i;
        if (hex32_new(id) < 0 || uuid_new(att) < 0)
                return NULL;
        arn_task(c, run->cname, id, arn);
        json_array_foreach(run->containers, i, d) {
                json_t *ct;
                if (uuid_new(cid) < 0)
                        return NULL;
                arn_container(c, run->cname, id, cid, carn);
                ct = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:s}", "containerArn", carn, "taskArn", arn, "name", jstr(d, "name"),
                               "image", jstr(d, "image"), "lastStatus", "PENDING", "networkBindings", "networkInterfaces", "healthStatus",
                               "UNKNOWN");
                snprintf(buf, sizeof buf, "%lld", jint(d, "cpu", 0));
                json_object_set_new(ct, "cpu", json_string(buf));
                if (json_object_get(d, "memory")) {
                        snprintf(buf, sizeof buf, "%lld", jint(d, "memory", 0));
                        json_object_set_new(ct, "memory", json_string(buf));
                }
                if (json_object_get(d, "memoryReservation")) {
                        snprintf(buf, sizeof buf, "%lld", jint(d, "memoryReservation", 0));
                        json_object_set_new(ct, "memoryReservation", json_string(buf));
                }
                json_array_append_new(containers, ct);
        }
        json_t *tags = task_tags(run);
        rec = json_pack("{s:s, s:s, s:s, s:o, s:[], s:s, s:s, s:s, s:s, s:O, s:o, s:I, s:s, s:o, s:[{s:s, s:s}], s:b}",
                        "taskArn", arn, "clusterArn", jstr(run->cluster, "clusterArn"), "taskDefinitionArn",
                        jstr(run->td, "taskDefinitionArn"), "containers", containers, "attachments", "lastStatus", "PROVISIONING",
                        "desiredStatus", "RUNNING", "launchType", run->in->launch, "group", run->group, "overrides", run->overrides_echo,
                        "createdAt", jtime(now_epoch()), "version", (json_int_t) 1, "healthStatus", "UNKNOWN", "tags",
                        tags ? tags : json_array(), "attributes", "name", "ecs.cpu-architecture", "value", "x86_64",
                        "enableExecuteCommand", run->in->exec);
        if (!rec)
                return NULL;
        snprintf(buf, sizeof buf, "%ld", run->cpu);
        json_object_set_new(rec, "cpu", json_string(buf));
        snprintf(buf, sizeof buf, "%ld", run->mem);
        json_object_set_new(rec, "memory", json_string(buf));
        if (az && *az)
                json_object_set_new(rec, "availabilityZone", json_string(az));
        if (run->in->started_by)
                json_object_set_new(rec, "startedBy", json_string(run->in->started_by));
        if (inst)
                json_object_set_new(rec, "containerInstanceArn", json_string(jstr(inst, "containerInstanceArn")));
        if (strcmp(run->mode, "awsvpc") == 0)
                json_array_append_new(json_object_get(rec, "attachments"),
                                      json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", att, "type", "ElasticNetworkInterface", "status",
                                                "PRECREATED", "details", "name", "subnetId", "value", subnet_id));
        res = json_pack("{s:I, s:I, s:i, s:O, s:O}", "cpu", (json_int_t) run->cpu, "mem", (json_int_t) run->mem, "eni",
                        strcmp(run->mode, "awsvpc") == 0 && inst ? 1 : 0, "tcp", run->tcp, "udp", run->udp);
        ebx = json_pack("{s:s, s:s, s:s, s:o, s:O}", "id", id, "cluster", run->cname, "mode", run->mode, "res", res, "containers",
                        run->containers);
        if (inst) {
                json_object_set_new(ebx, "instanceId", json_string(jstr(json_object_get(inst, "ebx"), "id")));
                json_object_set_new(ebx, "instanceNetns", json_string(jstr(json_object_get(inst, "ebx"), "netns")));
                json_object_set_new(ebx, "ec2InstanceId", json_string(jstr(inst, "ec2InstanceId")));
        }
        if (subnet_id)
                json_object_set_new(ebx, "subnetId", json_string(subnet_id));
        if (jstr(run->td, "pidMode"))
                json_object_set_new(ebx, "pidMode", json_string(jstr(run->td, "pidMode")));
        /* the role the task's credentials endpoint answers for: the override's, else the definition's */
        if (jstr(run->overrides_echo, "taskRoleArn"))
                json_object_set_new(ebx, "taskRoleArn", json_string(jstr(run->overrides_echo, "taskRoleArn")));
        else if (jstr(run->td, "taskRoleArn"))
                json_object_set_new(ebx, "taskRoleArn", json_string(jstr(run->td, "taskRoleArn")));
        if (jstr(run->td, "ipcMode"))
                json_object_set_new(ebx, "ipcMode", json_string(jstr(run->td, "ipcMode")));
        if (run->groups)
                json_object_set(ebx, "groups", run->groups);
        if (run->in->client_token)
                json_object_set_new(ebx, "clientToken", json_string(run->in->client_token));
        json_object_set_new(rec, "ebx", ebx);
        return rec;
}

/* The placement engine's view of the cluster's instances: one entry per instance record. */
struct snapshot {
        size_t n;
        struct place_instance *pi;
        struct place_attr **attrs;
        const char ***groups;
        uint64_t *maps;                /* per instance: tcp then udp port maps */
        const char **reasons;
};

static void snapshot_free(struct snapshot *sn)
{
        for (size_t i = 0; i < sn->n; i++) {
                if (sn->attrs)
                        free(sn->attrs[i]);
                if (sn->groups)
                        free(sn->groups[i]);
        }
        free(sn->pi);
        free(sn->attrs);
        free(sn->groups);
        free(sn->maps);
        free(sn->reasons);
}

/* Registered resources less what the instance's tasks use; registered (reserved) ports taken. */
static void snapshot_resources(struct place_instance *pi, json_t *in, const struct inst_usage *u)
{
        json_t *reg, *p;
        size_t k, m;
        json_array_foreach(json_object_get(in, "registeredResources"), k, reg) {
                const char *name = jstr(reg, "name") ?: "";
                if (strcmp(name, "CPU") == 0)
                        pi->cpu = (int) (jint(reg, "integerValue", 0) - u->cpu);
                else if (strcmp(name, "MEMORY") == 0)
                        pi->mem = (int) (jint(reg, "integerValue", 0) - u->mem);
                else if (strcmp(name, "PORTS") == 0 || strcmp(name, "PORTS_UDP") == 0)
                        json_array_foreach(json_object_get(reg, "stringSetValue"), m, p) {
                                long v = strtol(json_string_value(p) ?: "", NULL, 10);
                                if (v > 0 && v < 65536)
                                        place_port_take(name[5] ? pi->ports_udp : pi->ports_tcp, (uint16_t) v);
                        }
        }
}

static int snapshot_instance(struct snapshot *sn, size_t i, json_t *in, json_t *tasks, const char *group, struct err *err)
{
        struct place_instance *pi = &sn->pi[i];
        json_t *ebx = json_object_get(in, "ebx"), *a, *t;
        size_t na = json_array_size(json_object_get(in, "attributes")), ng = 0, k;
        const char *id = jstr(ebx, "id");
        struct inst_usage u;
        pi->ports_tcp = sn->maps + i * 2 * PORT_MAP_WORDS;
        pi->ports_udp = pi->ports_tcp + PORT_MAP_WORDS;
        instance_usage(tasks, id, &u, pi->ports_tcp, pi->ports_udp);
        snapshot_resources(pi, in, &u);
        pi->arn = jstr(in, "containerInstanceArn");
        pi->ec2_id = jstr(in, "ec2InstanceId");
        pi->active = strcmp(jstr(in, "status") ?: "", "ACTIVE") == 0;
        pi->enis = (int) jint(ebx, "eniSlots", 0) - u.enis;
        pi->running = u.running;
        sn->attrs[i] = calloc(na + 1, sizeof **sn->attrs);
        sn->groups[i] = calloc(json_array_size(tasks) + 1, sizeof **sn->groups);
        if (!sn->attrs[i] || !sn->groups[i])
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(json_object_get(in, "attributes"), k, a) {
                sn->attrs[i][k].name = jstr(a, "name") ?: "";
                sn->attrs[i][k].value = jstr(a, "value");
        }
        pi->attrs = sn->attrs[i];
        pi->nattrs = na;
        json_array_foreach(tasks, k, t)
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0) {
                        sn->groups[i][ng++] = jstr(t, "group") ?: "";
                        if (strcmp(jstr(t, "group") ?: "", group) == 0)
                                pi->group_count++;
                }
        pi->groups = sn->groups[i];
        return 0;
}

/* When fewer tasks were placed than asked: why each instance refused. */
static int failures_add(struct task_start_result *ret, const struct snapshot *sn, struct err *err)
{
        struct task_failure *f = realloc(ret->failures, (ret->nfailures + sn->n + 1) * sizeof *f);
        if (!f)
                return err_set(err, ENOMEM, NULL, "out of memory");
        ret->failures = f;
        for (size_t i = 0; i < sn->n; i++) {
                f = &ret->failures[ret->nfailures++];
                snprintf(f->arn, sizeof f->arn, "%s", sn->pi[i].arn ?: "");
                f->reason = sn->reasons[i] ?: "RESOURCE:CPU";
        }
        return 0;
}

/* Builds the placement snapshot of the cluster's ACTIVE instances and places count copies. */
static int place(struct run *run, json_t *insts, int count, int *idx, struct task_start_result *ret, struct err *err)
{
        _cleanup_json_ json_t *tasks = NULL;
        struct snapshot sn = { .n = json_array_size(insts) };
        uint16_t tcp[PORTS_MAX], udp[PORTS_MAX];
        struct place_request req = { 0 };
        json_t *in, *t;
        size_t i;
        int r;

        sn.pi = calloc(sn.n + 1, sizeof *sn.pi);
        sn.attrs = calloc(sn.n + 1, sizeof *sn.attrs);
        sn.groups = calloc(sn.n + 1, sizeof *sn.groups);
        sn.maps = calloc((sn.n + 1) * 2 * PORT_MAP_WORDS, sizeof *sn.maps);
        sn.reasons = calloc(sn.n + 1, sizeof *sn.reasons);
        if (!sn.pi || !sn.attrs || !sn.groups || !sn.maps || !sn.reasons) {
                r = err_set(err, ENOMEM, NULL, "out of memory");
                goto out;
        }
        if ((r = task_list(run->c->s, run->cname, false, &tasks, err)) < 0)
                goto out;
        json_array_foreach(insts, i, in)
                if ((r = snapshot_instance(&sn, i, in, tasks, run->group, err)) < 0)
                        goto out;
        req.cpu = (int) run->cpu;
        req.mem = (int) run->mem;
        req.needs_eni = strcmp(run->mode, "awsvpc") == 0;
        json_array_foreach(run->tcp, i, t)
                if (req.ntcp < ELEMENTSOF(tcp))
                        tcp[req.ntcp++] = (uint16_t) json_integer_value(t);
        json_array_foreach(run->udp, i, t)
                if (req.nudp < ELEMENTSOF(udp))
                        udp[req.nudp++] = (uint16_t) json_integer_value(t);
        req.tcp_ports = tcp;
        req.udp_ports = udp;
        req.distinct_instance = run->in->place.distinct;
        req.member_of = run->member_of;
        req.nmember_of = run->nmember_of;
        req.strategies = run->in->place.strategies;
        req.nstrategies = run->in->place.nstrategies;
        (void) random_bytes(&req.seed, sizeof req.seed);
        if ((r = place_tasks(sn.pi, sn.n, &req, count, idx, sn.reasons, err)) < 0)
                goto out;
        if (r < count) {
                int placed = r;
                if ((r = failures_add(ret, &sn, err)) < 0)
                        goto out;
                r = placed;
        }
out:
        snapshot_free(&sn);
        return r;
}

static int token_replay(struct run *run, struct task_start_result *ret, struct err *err)
{
        struct sched *s = run->c->s;
        char key[NAME_MAX_ECS + 100];
        _cleanup_json_ json_t *tok = NULL;
        json_t *arn;
        size_t i;
        int r;
        snprintf(key, sizeof key, "token/%s/%s", run->cname, run->in->client_token);
        r = store_get(s->store, key, &tok, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (strcmp(jstr(tok, "hash") ?: "", run->in->hash) != 0) {
                err_set(err, EEXIST, E_CONFLICT,
                        "The clientToken '%s' was already used with different parameters (tasks: %s).", run->in->client_token,
                        json_string_value(json_array_get(json_object_get(tok, "taskArns"), 0)) ?: "none");
                return -EEXIST;
        }
        json_array_foreach(json_object_get(tok, "taskArns"), i, arn) {
                char tkey[TASK_KEY_MAX];
                json_t *rec = NULL;
                if (task_load(s, run->cname, json_string_value(arn), &rec, tkey, err) == 0)
                        json_array_append_new(ret->tasks, rec);
        }
        err_clear(err);
        return 1;
}

/* What the task definition says about the request: an ACTIVE definition, the group, the launch type. */
static int resolve_taskdef(struct run *run, struct err *err)
{
        const struct task_start *in = run->in;
        json_t *e;
        size_t i;
        bool ok = false;
        int r;
        if ((r = taskdef_get_active(run->c, in->taskdef, &run->td, err)) < 0)
                return r;
        run->mode = jstr(run->td, "networkMode") ?: "bridge";
        if (!in->group) {
                snprintf(run->group_buf, sizeof run->group_buf, "family:%s", jstr(run->td, "family"));
                run->group = run->group_buf;
        } else if (strlen(in->group) > 255)
                return err_set(err, EINVAL, E_PARAM, "group can be at most 255 characters long.");
        else
                run->group = in->group;
        if (strcmp(in->launch, "FARGATE") != 0)
                return 0;
        json_array_foreach(json_object_get(run->td, "compatibilities"), i, e)
                ok |= strcmp(json_string_value(e), "FARGATE") == 0;
        if (!ok)
                return err_set(err, EINVAL, E_PARAM,
                               "Task definition does not support launch_type FARGATE (it needs networkMode awsvpc and task-level cpu and memory).");
        return 0;
}

/* The instances to place on; *ret NULL when the tasks run without one (FARGATE, or awsvpc,
 * host and none tasks on a cluster without instances: an ecsbox convenience). */
static int candidate_instances(struct run *run, json_t **ret, struct err *err)
{
        json_t *insts = NULL;
        int r;
        *ret = NULL;
        if (strcmp(run->in->launch, "FARGATE") == 0)
                return 0;
        if ((r = instance_list(run->c->s, run->cname, false, &insts, err)) < 0)
                return r;
        if (json_array_size(insts) > 0) {
                *ret = insts;
                return 0;
        }
        json_decref(insts);
        /* bridge tasks need an instance's bridge, as on ECS */
        if (strcmp(run->mode, "bridge") == 0)
                return err_set(err, EINVAL, E_PARAM,
                               "No Container Instances were found in your cluster. Bridge network mode publishes ports on a container instance: register one with RegisterContainerInstance (ecsbox ecs register-container-instance).");
        return 0;
}

/* One subnet per task: the instance's zone if one matches, else any. */
static const char *pick_subnet(struct run *run, const char **az)
{
        size_t ns = json_array_size(run->subnets), pick;
        uint32_t rnd = 0;
        if (!run->subnets)
                return NULL;
        (void) random_bytes(&rnd, sizeof rnd);
        pick = rnd % ns;
        for (size_t m = 0; *az && m < ns; m++)
                if (strcmp(jstr(json_array_get(run->subnets, m), "AvailabilityZone") ?: "", *az) == 0)
                        pick = m;
        if (!*az)
                *az = jstr(json_array_get(run->subnets, pick), "AvailabilityZone");
        return jstr(json_array_get(run->subnets, pick), "SubnetId");
}

/* Writes the placed tasks (and the client token) in one transaction; ret->tasks gets the records. */
static int record_tasks(struct run *run, json_t *insts, const int *idx, int placed, struct task_start_result *ret,
                        struct err *err)
{
        struct sched *s = run->c->s;
        _cleanup_json_ json_t *arns = json_array();
        int r;
        if ((r = store_begin(s->store, err)) < 0)
                return r;
        for (int k = 0; k < placed; k++) {
                json_t *inst = idx[k] >= 0 ? json_array_get(insts, (size_t) idx[k]) : NULL, *rec;
                const char *az = inst ? jstr(json_object_get(inst, "ebx"), "az") : NULL, *subnet_id = pick_subnet(run, &az);
                if (!az)
                        az = s->default_az[0] ? s->default_az : NULL;
                rec = task_new(run, inst, subnet_id, az);
                if (!rec) {
                        r = err_set(err, ENOMEM, NULL, "out of memory");
                        goto fail;
                }
                json_array_append_new(ret->tasks, rec);
                json_array_append_new(arns, json_string(jstr(rec, "taskArn")));
                if ((r = task_put(s, rec, err)) < 0)
                        goto fail;
        }
        if (run->in->client_token && placed > 0) {
                char key[NAME_MAX_ECS + 100];
                _cleanup_json_ json_t *tok = json_pack("{s:s, s:O, s:o}", "hash", run->in->hash, "taskArns", arns, "createdAt",
                                                       jtime(now_epoch()));
                snprintf(key, sizeof key, "token/%s/%s", run->cname, run->in->client_token);
                if ((r = store_put(s->store, key, tok, err)) < 0)
                        goto fail;
        }
        if ((r = store_commit(s->store, err)) < 0)
                goto fail;
        return 0;
fail:
        store_rollback(s->store);
        json_array_clear(ret->tasks);
        return r;
}

/* The recorded tasks become active: the lifecycle takes them from the next loop turn. */
static void activate_tasks(struct run *run, json_t *recs)
{
        struct sched *s = run->c->s;
        json_t *rec;
        size_t i;
        json_array_foreach(recs, i, rec) {
                json_t *ebx = json_object_get(rec, "ebx");
                char key[TASK_KEY_MAX];
                task_key(key, sizeof key, run->cname, jstr(ebx, "id"));
                json_object_set_new(s->active, jstr(ebx, "id"), json_string(key));
                task_kick(s, jstr(ebx, "id"), key);
                log_info("op=RunTask cluster=%s task=%s taskdef=%s:%lld mode=%s instance=%s", run->cname, jstr(ebx, "id"),
                         jstr(run->td, "family"), jint(run->td, "revision", 0), run->mode, jstr(ebx, "instanceId") ?: "none");
        }
}

static int resolve_cluster(struct run *run, struct err *err)
{
        if (run->in->cluster_rec) {
                run->cluster = json_incref(run->in->cluster_rec);
                snprintf(run->cname, sizeof run->cname, "%s", run->in->cluster);
                return 0;
        }
        return cluster_get(run->c, run->in->cluster, &run->cluster, run->cname, err);
}

int tasks_start(struct api_ctx *c, const struct task_start *in, struct task_start_result *ret, struct err *err)
{
        struct run run = { .c = c, .in = in };
        _cleanup_json_ json_t *insts = NULL;
        struct task_start_result res = { .tasks = json_array() };
        int idx[10], r, placed;

        if (!res.tasks)
                return err_set(err, ENOMEM, NULL, "out of memory");
        /* the decoders keep RunTask's range; a C caller is held to it too (idx has room for 10) */
        if (in->count < 1 || in->count > (int) ELEMENTSOF(idx)) {
                json_decref(res.tasks);
                return err_set(err, EINVAL, E_PARAM, "Invalid value %d for count: must be between 1 and %zu", in->count, ELEMENTSOF(idx));
        }
        if ((r = resolve_cluster(&run, err)) < 0 || (r = resolve_taskdef(&run, err)) < 0 || (r = apply_overrides(&run, err)) < 0 ||
            (r = compute_resources(&run, err)) < 0 || (r = build_constraints(&run, err)) < 0 || (r = resolve_network(&run, err)) < 0)
                goto out;
        if (in->client_token && (r = token_replay(&run, &res, err)) != 0) {
                if (r > 0)
                        goto done;
                goto out;
        }
        if ((r = candidate_instances(&run, &insts, err)) < 0)
                goto out;
        if (!insts) {
                placed = in->count;
                for (int k = 0; k < placed; k++)
                        idx[k] = -1;
        } else if ((r = placed = place(&run, insts, in->count, idx, &res, err)) < 0)
                goto out;
        if ((r = record_tasks(&run, insts, idx, placed, &res, err)) < 0)
                goto out;
        activate_tasks(&run, res.tasks);
done:
        *ret = res;
        res = (struct task_start_result) { 0 };
        r = 0;
out:
        task_start_result_done(&res);
        run_free(&run);
        return r;
}

static json_t *run_task_answer(const struct task_start_result *res)
{
        json_t *out = json_pack("{s:[], s:[]}", "tasks", "failures"), *rec;
        size_t i;
        if (!out)
                return NULL;
        json_array_foreach(res->tasks, i, rec)
                json_array_append_new(json_object_get(out, "tasks"), task_shape(rec, true));
        for (i = 0; i < res->nfailures; i++)
                json_array_append_new(json_object_get(out, "failures"),
                                      json_pack("{s:s, s:s}", "arn", res->failures[i].arn, "reason", res->failures[i].reason));
        return out;
}

int op_run_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct task_start in = { 0 };
        struct task_start_result res = { 0 };
        int r;
        if ((r = run_task_decode(req, &in, err)) < 0 || (r = tasks_start(c, &in, &res, err)) < 0)
                goto out;
        *ret = run_task_answer(&res);
        if (!*ret)
                r = err_set(err, ENOMEM, NULL, "out of memory");
out:
        task_start_result_done(&res);
        task_start_done(&in);
        return r;
}
