/* runtask.c: RunTask: validation, placement and records of new tasks. The work after the
 * answer (network, monitor, status) is lifecycle.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
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
#include "taskdef.h"


struct run {
        struct api_ctx *c;
        json_t *cluster;               /* record */
        const char *cname;
        json_t *td;
        const char *mode, *launch, *group, *started_by, *token;
        json_t *tags;
        json_t *containers;            /* effective definitions (overrides applied) */
        json_t *overrides_echo;
        json_t *subnets;               /* awsvpc: [Subnet objects from netd] */
        json_t *groups;                /* awsvpc: security group ids */
        long cpu, mem;
        json_t *tcp, *udp;             /* static host ports (host mode) */
        bool distinct;
        struct cql *member_of[10];
        size_t nmember_of;
        struct place_strategy strategies[5];
        size_t nstrategies;
};

static void run_free(struct run *r)
{
        json_decref(r->containers);
        json_decref(r->overrides_echo);
        json_decref(r->subnets);
        json_decref(r->tcp);
        json_decref(r->udp);
        for (size_t i = 0; i < r->nmember_of; i++)
                cql_free(r->member_of[i]);
}

static json_t *env_find(json_t *env, const char *name)
{
        json_t *e;
        size_t i;
        json_array_foreach(env, i, e)
                if (strcmp(jstr(e, "name") ?: "", name) == 0)
                        return e;
        return NULL;
}

static void env_set(json_t *env, const char *name, const char *value)
{
        json_t *e = env_find(env, name);
        if (e)
                json_object_set_new(e, "value", json_string(value));
        else
                json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static int apply_overrides(struct run *run, json_t *req, struct err *err)
{
        json_t *ov = NULL, *cos = NULL, *co;
        size_t i;
        int r;
        run->containers = json_deep_copy(json_object_get(run->td, "containerDefinitions"));
        run->overrides_echo = json_pack("{s:[], s:[]}", "containerOverrides", "inferenceAcceleratorOverrides");
        if (!run->containers || !run->overrides_echo)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = req_object(req, NULL, "overrides", false, &ov, err)) <= 0)
                return r;
        if ((r = req_array(ov, "overrides", "containerOverrides", false, &cos, err)) < 0)
                return r;
        json_array_foreach(cos, i, co) {
                char p[64];
                const char *name = NULL;
                json_t *def, *cmd = NULL, *env = NULL, *e;
                long long v;
                size_t k;
                snprintf(p, sizeof p, "overrides.containerOverrides[%zu]", i);
                if (!json_is_object(co))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(co, p, "name", true, &name, err)) < 0 || (r = req_str_list(co, p, "command", false, 0, &cmd, err)) < 0 ||
                    (r = req_array(co, p, "environment", false, &env, err)) < 0)
                        return r;
                def = container_def_find(run->containers, name);
                if (!def)
                        return err_set(err, EINVAL, E_PARAM, "Override for container named %s is not a container in the TaskDefinition.",
                                       name);
                if (cmd)
                        json_object_set(def, "command", cmd);
                json_array_foreach(env, k, e) {
                        char ep[100];
                        const char *n = NULL, *val = NULL;
                        snprintf(ep, sizeof ep, "%s.environment[%zu]", p, k);
                        if (!json_is_object(e))
                                return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", ep);
                        if ((r = req_str(e, ep, "name", true, &n, err)) < 0 || (r = req_str(e, ep, "value", false, &val, err)) < 0)
                                return r;
                        env_set(json_object_get(def, "environment"), n, val ?: "");
                }
                if ((r = req_int(co, p, "cpu", false, 0, 10240 * 1024, &v, err)) < 0)
                        return r;
                if (r > 0)
                        json_object_set_new(def, "cpu", json_integer(v));
                if ((r = req_int(co, p, "memory", false, 6, 1LL << 30, &v, err)) < 0)
                        return r;
                if (r > 0)
                        json_object_set_new(def, "memory", json_integer(v));
                if ((r = req_int(co, p, "memoryReservation", false, 6, 1LL << 30, &v, err)) < 0)
                        return r;
                if (r > 0)
                        json_object_set_new(def, "memoryReservation", json_integer(v));
                json_array_append(json_object_get(run->overrides_echo, "containerOverrides"), co);
        }
        {
                const char *s_ = NULL;
                if ((r = req_str(ov, "overrides", "cpu", false, &s_, err)) < 0)
                        return r;
                if (s_)
                        json_object_set_new(run->overrides_echo, "cpu", json_string(s_));
                s_ = NULL;
                if ((r = req_str(ov, "overrides", "memory", false, &s_, err)) < 0)
                        return r;
                if (s_)
                        json_object_set_new(run->overrides_echo, "memory", json_string(s_));
        }
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

static int parse_placement(struct run *run, json_t *req, struct err *err)
{
        json_t *pcs = NULL, *pss = NULL, *e;
        size_t i;
        int r;
        if ((r = req_array(req, NULL, "placementConstraints", false, &pcs, err)) < 0 ||
            (r = req_array(req, NULL, "placementStrategy", false, &pss, err)) < 0)
                return r;
        if (json_array_size(pcs) > 10)
                return err_set(err, EINVAL, E_PARAM, "At most 10 placement constraints are allowed (got %zu).", json_array_size(pcs));
        if (json_array_size(pss) > 5)
                return err_set(err, EINVAL, E_PARAM, "At most 5 placement strategies are allowed (got %zu).", json_array_size(pss));
        /* The task definition's memberOf constraints bind as well as the request's. */
        json_array_foreach(json_object_get(run->td, "placementConstraints"), i, e)
                if (run->nmember_of < ELEMENTSOF(run->member_of) &&
                    (r = cql_parse(jstr(e, "expression") ?: "", &run->member_of[run->nmember_of], err)) >= 0)
                        run->nmember_of++;
        json_array_foreach(pcs, i, e) {
                char p[48];
                const char *type = NULL, *expr = NULL;
                snprintf(p, sizeof p, "placementConstraints[%zu]", i);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(e, p, "type", true, &type, err)) < 0 || (r = req_str(e, p, "expression", false, &expr, err)) < 0)
                        return r;
                if (strcmp(type, "distinctInstance") == 0) {
                        if (expr && *expr)
                                return err_set(err, EINVAL, E_PARAM, "The distinctInstance constraint takes no expression.");
                        run->distinct = true;
                } else if (strcmp(type, "memberOf") == 0) {
                        if (!expr || !*expr)
                                return err_set(err, EINVAL, E_PARAM, "The memberOf constraint needs an expression.");
                        if (run->nmember_of >= ELEMENTSOF(run->member_of))
                                return err_set(err, EINVAL, E_PARAM, "Too many memberOf constraints.");
                        if ((r = cql_parse(expr, &run->member_of[run->nmember_of], err)) < 0)
                                return err_wrap(err, "Invalid %s expression '%s'", p, expr);
                        run->nmember_of++;
                } else
                        return err_set(err, EINVAL, E_PARAM, "Unknown placement constraint type '%s': expected distinctInstance or memberOf.",
                                       type);
        }
        json_array_foreach(pss, i, e) {
                char p[48];
                const char *type = NULL, *field = NULL;
                snprintf(p, sizeof p, "placementStrategy[%zu]", i);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(e, p, "type", true, &type, err)) < 0 || (r = req_str(e, p, "field", false, &field, err)) < 0 ||
                    (r = place_strategy_parse(type, field, &run->strategies[run->nstrategies], err)) < 0)
                        return r;
                run->nstrategies++;
        }
        return 0;
}

/* awsvpc: subnets and security groups named in networkConfiguration, checked with netd. */
static int parse_network(struct run *run, json_t *req, struct err *err)
{
        struct sched *s = run->c->s;
        json_t *nc = NULL, *avc = NULL, *subnets = NULL, *sgs = NULL, *sn;
        _cleanup_json_ json_t *q = NULL, *ans = NULL, *dflt = NULL;
        const char *pub = NULL, *vpc = NULL;
        size_t i;
        int r;
        bool awsvpc = strcmp(run->mode, "awsvpc") == 0;

        if ((r = req_object(req, NULL, "networkConfiguration", false, &nc, err)) < 0 ||
            (r = req_object(nc, "networkConfiguration", "awsvpcConfiguration", false, &avc, err)) < 0)
                return r;
        if (avc && !awsvpc)
                return err_set(err, EINVAL, E_PARAM, "Network Configuration is not valid for the given networkMode of this task definition.");
        if (!awsvpc)
                return 0;
        if (avc) {
                if ((r = req_str_list(avc, "networkConfiguration.awsvpcConfiguration", "subnets", true, 16, &subnets, err)) < 0 ||
                    (r = req_str_list(avc, "networkConfiguration.awsvpcConfiguration", "securityGroups", false, 5, &sgs, err)) < 0 ||
                    (r = req_str(avc, "networkConfiguration.awsvpcConfiguration", "assignPublicIp", false, &pub, err)) < 0)
                        return r;
                if (json_array_size(subnets) == 0)
                        return err_set(err, EINVAL, E_PARAM, "subnets can not be empty.");
                if (pub && strcmp(pub, "ENABLED") != 0 && strcmp(pub, "DISABLED") != 0)
                        return err_set(err, EINVAL, E_PARAM, "assignPublicIp must be ENABLED or DISABLED (got '%s').", pub);
                if (pub && strcmp(pub, "ENABLED") == 0 && strcmp(run->launch, "EC2") == 0)
                        return err_set(err, EINVAL, E_PARAM, "Assign public IP is not supported for this launch type.");
        } else {
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
                const char *code = netd_code(err);
                if (strncmp(code, "InvalidSubnetID", 15) == 0)
                        return err_set(err, ENOENT, E_PARAM, "Error retrieving subnet information for %s: %s", dflt ? "the default subnet" : "the given subnets",
                                       err->msg);
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
        if (sgs && json_array_size(sgs) > 0) {
                _cleanup_json_ json_t *q2 = json_pack("{s:s, s:O}", "Action", "DescribeSecurityGroups", "GroupIds", sgs), *a2 = NULL;
                json_t *g;
                if ((r = s->netd_call(s, q2, &a2, err)) < 0) {
                        if (strncmp(netd_code(err), "InvalidGroup", 12) == 0)
                                return err_set(err, ENOENT, E_PARAM, "Error retrieving security group information: %s", err->msg);
                        return err_wrap(err, "look up the task's security groups");
                }
                json_array_foreach(json_object_get(a2, "SecurityGroups"), i, g)
                        if (strcmp(jstr(g, "VpcId") ?: "", vpc) != 0)
                                return err_set(err, EINVAL, E_PARAM, "Security group '%s' is in VPC %s, not in the subnets' VPC %s.",
                                               jstr(g, "GroupId"), jstr(g, "VpcId"), vpc);
                run->groups = sgs;
        }
        return 0;
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
        rec = json_pack("{s:s, s:s, s:s, s:o, s:[], s:s, s:s, s:s, s:s, s:O, s:o, s:I, s:s, s:O, s:[{s:s, s:s}], s:b}",
                        "taskArn", arn, "clusterArn", jstr(run->cluster, "clusterArn"), "taskDefinitionArn",
                        jstr(run->td, "taskDefinitionArn"), "containers", containers, "attachments", "lastStatus", "PROVISIONING",
                        "desiredStatus", "RUNNING", "launchType", run->launch, "group", run->group, "overrides", run->overrides_echo,
                        "createdAt", jtime(now_epoch()), "version", (json_int_t) 1, "healthStatus", "UNKNOWN", "tags",
                        run->tags ? run->tags : json_array(), "attributes", "name", "ecs.cpu-architecture", "value", "x86_64",
                        "enableExecuteCommand", 0);
        if (!rec)
                return NULL;
        if (!run->tags)
                json_decref(json_object_get(rec, "tags"));
        snprintf(buf, sizeof buf, "%ld", run->cpu);
        json_object_set_new(rec, "cpu", json_string(buf));
        snprintf(buf, sizeof buf, "%ld", run->mem);
        json_object_set_new(rec, "memory", json_string(buf));
        if (az && *az)
                json_object_set_new(rec, "availabilityZone", json_string(az));
        if (run->started_by)
                json_object_set_new(rec, "startedBy", json_string(run->started_by));
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
        if (jstr(run->td, "ipcMode"))
                json_object_set_new(ebx, "ipcMode", json_string(jstr(run->td, "ipcMode")));
        if (run->groups)
                json_object_set(ebx, "groups", run->groups);
        if (run->token)
                json_object_set_new(ebx, "clientToken", json_string(run->token));
        json_object_set_new(rec, "ebx", ebx);
        return rec;
}

/* Builds the placement snapshot of the cluster's ACTIVE instances and places count copies. */
static int place(struct run *run, json_t *insts, int count, int *idx, json_t *failures, struct err *err)
{
        struct sched *s = run->c->s;
        _cleanup_json_ json_t *tasks = NULL, *attr_json = json_array();
        size_t n = json_array_size(insts);
        struct place_instance *pi = calloc(n + 1, sizeof *pi);
        struct place_attr **attrs = calloc(n + 1, sizeof *attrs);
        const char ***groups = calloc(n + 1, sizeof *groups);
        uint64_t *maps = calloc((n + 1) * 2 * 1024, sizeof *maps);
        const char **reasons = calloc(n + 1, sizeof *reasons);
        uint16_t tcp[64], udp[64];
        struct place_request req = { 0 };
        json_t *in, *t;
        size_t i, k;
        int r, placed = 0;

        if (!pi || !attrs || !groups || !maps || !reasons) {
                r = err_set(err, ENOMEM, NULL, "out of memory");
                goto out;
        }
        if ((r = task_list(s, run->cname, false, &tasks, err)) < 0)
                goto out;
        json_array_foreach(insts, i, in) {
                json_t *ebx = json_object_get(in, "ebx"), *a, *reg;
                struct inst_usage u;
                size_t na = json_array_size(json_object_get(in, "attributes")), ng = 0;
                const char *id = jstr(ebx, "id");
                instance_usage(tasks, id, &u, maps + i * 2048, maps + i * 2048 + 1024);
                json_array_foreach(json_object_get(in, "registeredResources"), k, reg) {
                        const char *name = jstr(reg, "name") ?: "";
                        json_t *p;
                        size_t m;
                        if (strcmp(name, "CPU") == 0)
                                pi[i].cpu = (int) (jint(reg, "integerValue", 0) - u.cpu);
                        else if (strcmp(name, "MEMORY") == 0)
                                pi[i].mem = (int) (jint(reg, "integerValue", 0) - u.mem);
                        else if (strcmp(name, "PORTS") == 0 || strcmp(name, "PORTS_UDP") == 0)
                                json_array_foreach(json_object_get(reg, "stringSetValue"), m, p) {
                                        long v = strtol(json_string_value(p) ?: "", NULL, 10);
                                        if (v > 0 && v < 65536)
                                                place_port_take(maps + i * 2048 + (name[5] ? 1024 : 0), (uint16_t) v);
                                }
                }
                pi[i].arn = jstr(in, "containerInstanceArn");
                pi[i].ec2_id = jstr(in, "ec2InstanceId");
                pi[i].active = strcmp(jstr(in, "status") ?: "", "ACTIVE") == 0;
                pi[i].enis = (int) jint(ebx, "eniSlots", 0) - u.enis;
                pi[i].ports_tcp = maps + i * 2048;
                pi[i].ports_udp = maps + i * 2048 + 1024;
                pi[i].running = u.running;
                attrs[i] = calloc(na + 1, sizeof **attrs);
                groups[i] = calloc(json_array_size(tasks) + 1, sizeof **groups);
                if (!attrs[i] || !groups[i]) {
                        r = err_set(err, ENOMEM, NULL, "out of memory");
                        goto out;
                }
                json_array_foreach(json_object_get(in, "attributes"), k, a) {
                        attrs[i][k].name = jstr(a, "name") ?: "";
                        attrs[i][k].value = jstr(a, "value");
                }
                pi[i].attrs = attrs[i];
                pi[i].nattrs = na;
                json_array_foreach(tasks, k, t)
                        if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0) {
                                groups[i][ng++] = jstr(t, "group") ?: "";
                                if (strcmp(jstr(t, "group") ?: "", run->group) == 0)
                                        pi[i].group_count++;
                        }
                pi[i].groups = groups[i];
        }
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
        req.distinct_instance = run->distinct;
        req.member_of = run->member_of;
        req.nmember_of = run->nmember_of;
        req.strategies = run->strategies;
        req.nstrategies = run->nstrategies;
        (void) random_bytes(&req.seed, sizeof req.seed);
        r = place_tasks(pi, n, &req, count, idx, reasons, err);
        if (r < 0)
                goto out;
        placed = r;
        if (placed < count)
                for (i = 0; i < n; i++)
                        json_array_append_new(failures, json_pack("{s:s, s:s}", "arn", pi[i].arn, "reason", reasons[i] ?: "RESOURCE:CPU"));
        r = placed;
out:
        for (i = 0; i < n; i++) {
                if (attrs)
                        free(attrs[i]);
                if (groups)
                        free(groups[i]);
        }
        free(pi);
        free(attrs);
        free(groups);
        free(maps);
        free(reasons);
        return r;
}

static int token_replay(struct run *run, const char *hash, json_t **ret, struct err *err)
{
        struct sched *s = run->c->s;
        char key[NAME_MAX_ECS + 100];
        _cleanup_json_ json_t *tok = NULL, *tasks = json_array();
        json_t *arn;
        size_t i;
        int r;
        snprintf(key, sizeof key, "token/%s/%s", run->cname, run->token);
        r = store_get(s->store, key, &tok, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (strcmp(jstr(tok, "hash") ?: "", hash) != 0) {
                err_set(err, EEXIST, E_CONFLICT,
                        "The clientToken '%s' was already used with different parameters (tasks: %s).", run->token,
                        json_string_value(json_array_get(json_object_get(tok, "taskArns"), 0)) ?: "none");
                return -EEXIST;
        }
        json_array_foreach(json_object_get(tok, "taskArns"), i, arn) {
                char tkey[NAME_MAX_ECS + 64];
                json_t *rec = NULL;
                if (task_load(s, run->cname, json_string_value(arn), &rec, tkey, err) == 0) {
                        json_array_append_new(tasks, task_shape(rec, true));
                        json_decref(rec);
                }
        }
        *ret = json_pack("{s:O, s:[]}", "tasks", tasks, "failures");
        return 1;
}

int op_run_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        struct run run = { .c = c, .launch = "EC2" };
        _cleanup_json_ json_t *cl = NULL, *td = NULL, *insts = NULL, *failures = json_array(), *out = json_array(), *recs = json_array(),
                              *arns = json_array();
        char cname[NAME_MAX_ECS + 1], group[NAME_MAX_ECS + 16], hash[20];
        const char *tdref = NULL;
        long long count = 1;
        int idx[10], r, placed;
        bool no_instance = false;
        json_t *rec;
        size_t i;

        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0)
                return r;
        run.cluster = cl;
        run.cname = cname;
        if ((r = req_str(req, NULL, "taskDefinition", true, &tdref, err)) < 0 || (r = req_int(req, NULL, "count", false, 1, 10, &count, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &run.launch, err)) < 0 ||
            (r = req_str(req, NULL, "startedBy", false, &run.started_by, err)) < 0 ||
            (r = req_str(req, NULL, "group", false, &run.group, err)) < 0 || (r = req_tags(req, "tags", &run.tags, err)) < 0 ||
            (r = req_str(req, NULL, "clientToken", false, &run.token, err)) < 0)
                return r;
        if (json_object_get(req, "capacityProviderStrategy") && json_array_size(json_object_get(req, "capacityProviderStrategy")) > 0)
                return err_set(err, EINVAL, E_PARAM, "ecsbox has no capacity providers: use launchType EC2 or FARGATE.");
        if (strcmp(run.launch, "EC2") != 0 && strcmp(run.launch, "FARGATE") != 0) {
                if (strcmp(run.launch, "EXTERNAL") == 0)
                        return err_set(err, EINVAL, E_PARAM, "launchType EXTERNAL is not supported by ecsbox: use EC2 or FARGATE.");
                return err_set(err, EINVAL, E_PARAM, "Invalid launchType '%s': expected EC2, FARGATE or EXTERNAL.", run.launch);
        }
        if (run.started_by && strlen(run.started_by) > 36)
                return err_set(err, EINVAL, E_PARAM, "startedBy can be at most 36 characters long.");
        if (run.token && (strlen(run.token) < 1 || strlen(run.token) > 64))
                return err_set(err, EINVAL, E_PARAM, "clientToken must be 1 to 64 characters long.");
        r = taskdef_get(c, tdref, &td, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "TaskDefinition not found.");
        if (r < 0) {
                if (strcmp(err->code, E_CLIENT) == 0)
                        snprintf(err->code, sizeof err->code, "%s", E_PARAM);
                return r;
        }
        if (strcmp(jstr(td, "status") ?: "", "ACTIVE") != 0)
                return err_set(err, EINVAL, E_PARAM, "TaskDefinition is inactive: %s.", jstr(td, "taskDefinitionArn"));
        run.td = td;
        run.mode = jstr(td, "networkMode") ?: "bridge";
        if (!run.group) {
                snprintf(group, sizeof group, "family:%s", jstr(td, "family"));
                run.group = group;
        } else if (strlen(run.group) > 255)
                return err_set(err, EINVAL, E_PARAM, "group can be at most 255 characters long.");
        if (strcmp(run.launch, "FARGATE") == 0) {
                json_t *e;
                bool ok = false;
                json_array_foreach(json_object_get(td, "compatibilities"), i, e)
                        ok |= strcmp(json_string_value(e), "FARGATE") == 0;
                if (!ok)
                        return err_set(err, EINVAL, E_PARAM,
                                       "Task definition does not support launch_type FARGATE (it needs networkMode awsvpc and task-level cpu and memory).");
        }
        if ((r = apply_overrides(&run, req, err)) < 0 || (r = compute_resources(&run, err)) < 0 ||
            (r = parse_placement(&run, req, err)) < 0 || (r = parse_network(&run, req, err)) < 0)
                goto out;
        if (run.token) {
                req_hash(req, hash);
                if ((r = token_replay(&run, hash, ret, err)) != 0)
                        goto out;
        }

        if (strcmp(run.launch, "FARGATE") == 0)
                no_instance = true;
        else {
                if ((r = instance_list(s, cname, false, &insts, err)) < 0)
                        goto out;
                /* ecsbox convenience: a cluster without container instances runs awsvpc, host and
                 * none tasks on the host itself; bridge tasks need an instance's bridge, as on ECS. */
                if (json_array_size(insts) == 0) {
                        if (strcmp(run.mode, "bridge") == 0) {
                                r = err_set(err, EINVAL, E_PARAM,
                                            "No Container Instances were found in your cluster. Bridge network mode publishes ports on a container instance: register one with RegisterContainerInstance (ecsbox ecs register-container-instance).");
                                goto out;
                        }
                        no_instance = true;
                }
        }
        if (no_instance) {
                placed = (int) count;
                for (int k = 0; k < placed; k++)
                        idx[k] = -1;
        } else if ((r = placed = place(&run, insts, (int) count, idx, failures, err)) < 0)
                goto out;

        if ((r = store_begin(s->store, err)) < 0)
                goto out;
        for (int k = 0; k < placed; k++) {
                json_t *inst = idx[k] >= 0 ? json_array_get(insts, (size_t) idx[k]) : NULL;
                const char *subnet_id = NULL, *az = inst ? jstr(json_object_get(inst, "ebx"), "az") : NULL;
                if (run.subnets) {
                        /* one subnet per task: the instance's zone if one matches, else any */
                        size_t ns = json_array_size(run.subnets), pick = 0;
                        uint32_t rnd = 0;
                        (void) random_bytes(&rnd, sizeof rnd);
                        pick = rnd % ns;
                        for (size_t m = 0; az && m < ns; m++)
                                if (strcmp(jstr(json_array_get(run.subnets, m), "AvailabilityZone") ?: "", az) == 0)
                                        pick = m;
                        subnet_id = jstr(json_array_get(run.subnets, pick), "SubnetId");
                        if (!az)
                                az = jstr(json_array_get(run.subnets, pick), "AvailabilityZone");
                }
                if (!az)
                        az = s->default_az[0] ? s->default_az : NULL;
                rec = task_new(&run, inst, subnet_id, az);
                if (!rec) {
                        store_rollback(s->store);
                        r = err_set(err, ENOMEM, NULL, "out of memory");
                        goto out;
                }
                json_array_append_new(recs, rec);
                json_array_append_new(arns, json_string(jstr(rec, "taskArn")));
                if ((r = task_put(s, rec, err)) < 0) {
                        store_rollback(s->store);
                        goto out;
                }
        }
        if (run.token && placed > 0) {
                char key[NAME_MAX_ECS + 100];
                _cleanup_json_ json_t *tok = json_pack("{s:s, s:O, s:o}", "hash", hash, "taskArns", arns, "createdAt", jtime(now_epoch()));
                snprintf(key, sizeof key, "token/%s/%s", cname, run.token);
                if ((r = store_put(s->store, key, tok, err)) < 0) {
                        store_rollback(s->store);
                        goto out;
                }
        }
        if ((r = store_commit(s->store, err)) < 0) {
                store_rollback(s->store);
                goto out;
        }
        json_array_foreach(recs, i, rec) {
                json_t *ebx = json_object_get(rec, "ebx");
                char key[NAME_MAX_ECS + 64];
                task_key(key, sizeof key, cname, jstr(ebx, "id"));
                json_object_set_new(s->active, jstr(ebx, "id"), json_string(key));
                task_kick(s, jstr(ebx, "id"), key);
                log_info("op=RunTask cluster=%s task=%s taskdef=%s:%lld mode=%s instance=%s", cname, jstr(ebx, "id"), jstr(td, "family"),
                         jint(td, "revision", 0), run.mode, jstr(ebx, "instanceId") ?: "none");
                json_array_append_new(out, task_shape(rec, true));
        }
        *ret = json_pack("{s:O, s:O}", "tasks", out, "failures", failures);
        r = 0;
out:
        run_free(&run);
        return r;
}

