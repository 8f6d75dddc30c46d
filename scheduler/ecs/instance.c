/* instance.c: container instances ("instance/CLUSTER/ID"): each is a network namespace
 * "ebx-ci-<id>" with a primary ENI from netd, with CPU/memory/ports/ENI slots to place on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "../netd_client.h"
#include "cluster.h"
#include "cql.h"
#include "instance.h"
#include "lifecycle.h"
#include "placement.h"
#include "task.h"

/* Registered CPU units and MiB (what ECS leaves after the OS), and the instance's
 * ENI limit; one ENI is the instance's own, so awsvpc tasks get limit - 1 slots. */
static const struct instance_type types[] = {
        { "t3.micro", 2048, 944, 2 },    { "t3.small", 2048, 1932, 3 },   { "t3.medium", 2048, 3904, 3 },
        { "t3.large", 2048, 7859, 3 },   { "t3.xlarge", 4096, 15807, 4 }, { "m5.large", 2048, 7680, 3 },
        { "m5.xlarge", 4096, 15576, 4 }, { "m5.2xlarge", 8192, 31403, 4 }, { "c5.large", 2048, 3763, 3 },
        { "c5.xlarge", 4096, 7624, 4 },  { "c5.2xlarge", 8192, 15453, 4 }, { "r5.large", 2048, 15576, 3 },
};
static const struct instance_type default_type = { NULL, 1024, 2048, 3 };
static const char *const reserved_ports[] = { "22", "2375", "2376", "51678", "51679", NULL };

const struct instance_type *instance_type_find(const char *name)
{
        if (!name)
                return &default_type;
        for (size_t i = 0; i < ELEMENTSOF(types); i++)
                if (strcmp(types[i].name, name) == 0)
                        return &types[i];
        return NULL;
}

void instance_key(char *buf, size_t size, const char *cluster, const char *id)
{
        snprintf(buf, size, "instance/%s/%s", cluster, id);
}

int instance_get(struct sched *s, const char *cluster, const char *ref, bool any, json_t **ret, struct err *err)
{
        char key[NAME_MAX_ECS + 64];
        const char *id = arn_last(ref);
        json_t *rec = NULL;
        const char *st;
        int r;
        if (!hex32_valid(id))
                return -ENOENT;
        instance_key(key, sizeof key, cluster, id);
        if ((r = store_get(s->store, key, &rec, err)) < 0)
                return r;
        st = jstr(rec, "status") ?: "";
        if (strcmp(st, "REGISTERING") == 0 || (!any && strcmp(st, "INACTIVE") == 0)) {
                json_decref(rec);
                return -ENOENT;
        }
        *ret = rec;
        return 0;
}

static int collect_instance(const char *key, json_t *v, void *userdata)
{
        json_t **a = userdata;
        const char *st = jstr(v, "status") ?: "";
        bool all = json_is_true(json_object_get(a[1], "all"));
        if (strcmp(st, "REGISTERING") == 0 || (!all && strcmp(st, "INACTIVE") == 0))
                return 0;
        json_array_append(a[0], v);
        return 0;
}

int instance_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err)
{
        char prefix[NAME_MAX_ECS + 32];
        json_t *a[2] = { json_array(), json_pack("{s:b}", "all", all) };
        int r;
        snprintf(prefix, sizeof prefix, "instance/%s/", cluster);
        r = store_list(s->store, prefix, collect_instance, a, err);
        json_decref(a[1]);
        if (r < 0) {
                json_decref(a[0]);
                return r;
        }
        *ret = a[0];
        return 0;
}

static void ports_mark(uint64_t *map, json_t *list)
{
        json_t *p;
        size_t i;
        if (!map)
                return;
        json_array_foreach(list, i, p)
                if (json_is_integer(p) && json_integer_value(p) >= 0 && json_integer_value(p) < 65536)
                        place_port_take(map, (uint16_t) json_integer_value(p));
}

void instance_usage(json_t *tasks, const char *id, struct inst_usage *u, uint64_t *tcp, uint64_t *udp)
{
        json_t *t;
        size_t i;
        memset(u, 0, sizeof *u);
        json_array_foreach(tasks, i, t) {
                json_t *ebx = json_object_get(t, "ebx"), *res = json_object_get(ebx, "res");
                const char *st = jstr(t, "lastStatus") ?: "";
                if (!id || strcmp(jstr(ebx, "instanceId") ?: "", id) != 0 || strcmp(st, "STOPPED") == 0)
                        continue;
                u->cpu += (long) jint(res, "cpu", 0);
                u->mem += (long) jint(res, "mem", 0);
                u->enis += (int) jint(res, "eni", 0);
                if (strcmp(st, "RUNNING") == 0)
                        u->running++;
                else if (strcmp(st, "PROVISIONING") == 0 || strcmp(st, "PENDING") == 0 || strcmp(st, "ACTIVATING") == 0)
                        u->pending++;
                ports_mark(tcp, json_object_get(res, "tcp"));
                ports_mark(udp, json_object_get(res, "udp"));
        }
}

static json_t *resource_int(const char *name, long v)
{
        return json_pack("{s:s, s:s, s:f, s:I, s:I, s:[]}", "name", name, "type", "INTEGER", "doubleValue", 0.0, "longValue",
                         (json_int_t) 0, "integerValue", (json_int_t) v, "stringSetValue");
}

static json_t *resource_set(const char *name, json_t *values)
{
        return json_pack("{s:s, s:s, s:f, s:I, s:I, s:o}", "name", name, "type", "STRINGSET", "doubleValue", 0.0, "longValue",
                         (json_int_t) 0, "integerValue", (json_int_t) 0, "stringSetValue", values);
}

static json_t *registered_value(json_t *rec, const char *name)
{
        json_t *r;
        size_t i;
        json_array_foreach(json_object_get(rec, "registeredResources"), i, r)
                if (strcmp(jstr(r, "name") ?: "", name) == 0)
                        return r;
        return NULL;
}

static json_t *ports_union(json_t *registered, const uint64_t *map)
{
        json_t *out = json_array(), *p;
        uint64_t seen[1024] = { 0 };
        size_t i;
        json_array_foreach(json_object_get(registered, "stringSetValue"), i, p) {
                long v = strtol(json_string_value(p) ?: "", NULL, 10);
                if (v > 0 && v < 65536)
                        place_port_take(seen, (uint16_t) v);
                json_array_append(out, p);
        }
        for (unsigned v = 1; v < 65536; v++)
                if (place_port_taken(map, (uint16_t) v) && !place_port_taken(seen, (uint16_t) v)) {
                        char b[8];
                        snprintf(b, sizeof b, "%u", v);
                        json_array_append_new(out, json_string(b));
                }
        return out;
}

json_t *instance_shape(struct sched *s, const char *cluster, json_t *rec)
{
        _cleanup_json_ json_t *tasks = NULL;
        _cleanup_free_ uint64_t *tcp = calloc(1024, sizeof *tcp), *udp = calloc(1024, sizeof *udp);
        struct inst_usage u;
        json_t *out = json_deep_copy(rec), *remaining;
        const char *id = jstr(json_object_get(rec, "ebx"), "id");
        if (!out || !tcp || !udp) {
                json_decref(out);
                return NULL;
        }
        if (task_list(s, cluster, false, &tasks, NULL) < 0)
                tasks = json_array();
        instance_usage(tasks, id, &u, tcp, udp);
        json_object_del(out, "ebx");
        json_object_set_new(out, "runningTasksCount", json_integer(u.running));
        json_object_set_new(out, "pendingTasksCount", json_integer(u.pending));
        remaining = json_array();
        json_array_append_new(remaining, resource_int("CPU", (long) jint(registered_value(rec, "CPU"), "integerValue", 0) - u.cpu));
        json_array_append_new(remaining,
                              resource_int("MEMORY", (long) jint(registered_value(rec, "MEMORY"), "integerValue", 0) - u.mem));
        json_array_append_new(remaining, resource_set("PORTS", ports_union(registered_value(rec, "PORTS"), tcp)));
        json_array_append_new(remaining, resource_set("PORTS_UDP", ports_union(registered_value(rec, "PORTS_UDP"), udp)));
        json_object_set_new(out, "remainingResources", remaining);
        return out;
}

void attr_set(json_t *attrs, const char *name, const char *value)
{
        json_t *a;
        size_t i;
        json_array_foreach(attrs, i, a)
                if (strcmp(jstr(a, "name") ?: "", name) == 0) {
                        if (value)
                                json_object_set_new(a, "value", json_string(value));
                        else
                                json_object_del(a, "value");
                        return;
                }
        a = json_pack("{s:s}", "name", name);
        if (value)
                json_object_set_new(a, "value", json_string(value));
        json_array_append_new(attrs, a);
}

/* Maps a netd failure to what the API caller sees: netd's own internal errors are ours. */
static int netd_to_api(struct err *err, const char *what)
{
        const char *code = netd_code(err);
        if (*code && strcmp(code, "InternalError") != 0) {
                char msg[ERR_MSG_MAX];
                snprintf(msg, sizeof msg, "%s: %s (%s)", what, err->msg, code);
                return err_set(err, EINVAL, E_PARAM, "%s", msg);
        }
        return err_wrap(err, "%s", what);
}

static int parse_resources(json_t *req, long *cpu, long *mem, json_t **ports, json_t **ports_udp, struct err *err)
{
        json_t *list = NULL, *res;
        size_t i;
        int r;
        if ((r = req_array(req, NULL, "totalResources", false, &list, err)) <= 0)
                return r;
        json_array_foreach(list, i, res) {
                char p[40];
                const char *name = NULL, *type = NULL;
                long long v = 0;
                json_t *set = NULL;
                snprintf(p, sizeof p, "totalResources[%zu]", i);
                if (!json_is_object(res))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(res, p, "name", true, &name, err)) < 0 || (r = req_str(res, p, "type", false, &type, err)) < 0 ||
                    (r = req_int(res, p, "integerValue", false, 0, 1LL << 30, &v, err)) < 0 ||
                    (r = req_str_list(res, p, "stringSetValue", false, 0, &set, err)) < 0)
                        return r;
                if (strcmp(name, "CPU") == 0 && v > 0)
                        *cpu = (long) v;
                else if (strcmp(name, "MEMORY") == 0 && v > 0)
                        *mem = (long) v;
                else if (strcmp(name, "PORTS") == 0 && set)
                        *ports = set;
                else if (strcmp(name, "PORTS_UDP") == 0 && set)
                        *ports_udp = set;
        }
        return 0;
}

static int find_by_ec2_id(const char *key, json_t *v, void *userdata)
{
        json_t **a = userdata;
        if (strcmp(jstr(v, "ec2InstanceId") ?: "", json_string_value(a[0])) == 0 &&
            strcmp(jstr(v, "status") ?: "", "ACTIVE") == 0) {
                a[1] = json_incref(v);
                return -EEXIST;
        }
        return 0;
}

int op_register_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *cl = NULL, *doc = NULL, *subnet = NULL, *rec = NULL, *attrs = json_array(), *ans = NULL,
                              *netreq = NULL, *regres = json_array();
        const char *iid_doc = NULL, *itype_name = NULL, *az = NULL, *subnet_id = NULL, *ec2_id = NULL, *s_ = NULL;
        json_t *user_attrs = NULL, *tags = NULL, *version = NULL, *ports = NULL, *ports_udp = NULL, *a, *eni;
        char cname[NAME_MAX_ECS + 1], id[HEX32_STR_MAX], arn[ARN_MAX], key[NAME_MAX_ECS + 64], netns[64], ec2buf[ID_MAX],
                desc[ARN_MAX + 64];
        const struct instance_type *it;
        long cpu, mem;
        size_t i;
        int r;

        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0)
                return r;
        if ((r = req_str(req, NULL, "instanceIdentityDocument", false, &iid_doc, err)) < 0 ||
            (r = req_str(req, NULL, "instanceIdentityDocumentSignature", false, &s_, err)) < 0 ||
            (r = req_str(req, NULL, "instanceType", false, &itype_name, err)) < 0 ||
            (r = req_str(req, NULL, "availabilityZone", false, &az, err)) < 0 ||
            (r = req_str(req, NULL, "subnetId", false, &subnet_id, err)) < 0 ||
            (r = req_array(req, NULL, "attributes", false, &user_attrs, err)) < 0 || (r = req_tags(req, "tags", &tags, err)) < 0 ||
            (r = req_object(req, NULL, "versionInfo", false, &version, err)) < 0 ||
            (r = req_str(req, NULL, "containerInstanceArn", false, &s_, err)) < 0)
                return r;
        if (iid_doc && *iid_doc) {
                json_error_t jerr;
                doc = json_loads(iid_doc, 0, &jerr);
                if (!doc || !json_is_object(doc))
                        return err_set(err, EINVAL, E_PARAM, "instanceIdentityDocument is not a JSON object: %s (line %d, column %d)",
                                       doc ? "not an object" : jerr.text, jerr.line, jerr.column);
                if (!itype_name)
                        itype_name = jstr(doc, "instanceType");
                if (!az)
                        az = jstr(doc, "availabilityZone");
                ec2_id = jstr(doc, "instanceId");
        }
        it = instance_type_find(itype_name);
        if (!it)
                return err_set(err, EINVAL, E_PARAM,
                               "Unknown instance type '%s' (ecsbox knows t3.micro/small/medium/large/xlarge, m5.large/xlarge/2xlarge, c5.large/xlarge/2xlarge, r5.large).",
                               itype_name);
        cpu = it->cpu;
        mem = it->mem;
        if ((r = parse_resources(req, &cpu, &mem, &ports, &ports_udp, err)) < 0)
                return r;
        if (ec2_id && *ec2_id) {
                /* Registering the same EC2 instance again answers with its record, as on ECS. */
                json_t *found[2] = { json_string(ec2_id), NULL };
                char prefix[NAME_MAX_ECS + 32];
                snprintf(prefix, sizeof prefix, "instance/%s/", cname);
                r = store_list(s->store, prefix, find_by_ec2_id, found, err);
                json_decref(found[0]);
                if (found[1]) {
                        *ret = json_pack("{s:o}", "containerInstance", instance_shape(s, cname, found[1]));
                        json_decref(found[1]);
                        return 0;
                }
                if (r < 0)
                        return r;
        } else {
                if ((r = id_new("i", ec2buf)) < 0)
                        return err_set(err, -r, NULL, "random EC2 instance id: %s", strerror(-r));
                ec2_id = ec2buf;
        }
        if (!subnet_id) {
                if ((r = netd_ensure_defaults(s, err)) < 0)
                        return err_wrap(err, "RegisterContainerInstance: no subnetId given and the default subnet is unknown");
                subnet_id = s->default_subnet;
        }
        if ((r = netd_subnet(s, subnet_id, &subnet, err)) < 0) {
                if (strcmp(netd_code(err), "InvalidSubnetID.NotFound") == 0 || strcmp(netd_code(err), "InvalidSubnetID.Malformed") == 0)
                        return err_set(err, ENOENT, E_PARAM, "The subnet '%s' does not exist.", subnet_id);
                return err_wrap(err, "look up subnet '%s'", subnet_id);
        }
        if (az && *az && strcmp(az, jstr(subnet, "AvailabilityZone") ?: "") != 0)
                return err_set(err, EINVAL, E_PARAM, "availabilityZone '%s' does not match subnet '%s', which is in '%s'.", az,
                               subnet_id, jstr(subnet, "AvailabilityZone") ?: "");
        az = jstr(subnet, "AvailabilityZone") ?: "";

        json_array_foreach(user_attrs, i, a) {
                char p[40];
                const char *n = NULL, *v = NULL;
                snprintf(p, sizeof p, "attributes[%zu]", i);
                if (!json_is_object(a))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(a, p, "name", true, &n, err)) < 0 || (r = req_str(a, p, "value", false, &v, err)) < 0)
                        return r;
                if (!*n || strlen(n) > 128)
                        return err_set(err, EINVAL, E_PARAM, "Attribute names must be 1 to 128 characters long (%s).", p);
        }
        {
                struct utsname un;
                (void) uname(&un);
                attr_set(attrs, "ecs.availability-zone", az);
                if (itype_name)
                        attr_set(attrs, "ecs.instance-type", itype_name);
                attr_set(attrs, "ecs.os-type", "linux");
                attr_set(attrs, "ecs.os-family", "LINUX");
                attr_set(attrs, "ecs.cpu-architecture", strcmp(un.machine, "aarch64") == 0 ? "arm64" : "x86_64");
                attr_set(attrs, "ecs.vpc-id", jstr(subnet, "VpcId"));
                attr_set(attrs, "ecs.subnet-id", subnet_id);
                attr_set(attrs, "ecs.capability.task-eni", NULL);
                attr_set(attrs, "ecs.capability.container-health-check", NULL);
                attr_set(attrs, "ecs.capability.container-ordering", NULL);
                attr_set(attrs, "com.amazonaws.ecs.capability.docker-remote-api.1.18", NULL);
                json_array_foreach(user_attrs, i, a)
                        attr_set(attrs, jstr(a, "name"), jstr(a, "value"));
        }
        if (!ports) {
                json_t *dflt = json_array();
                for (const char *const *p = reserved_ports; *p; p++)
                        json_array_append_new(dflt, json_string(*p));
                json_array_append_new(regres, resource_set("PORTS", dflt));
        } else
                json_array_append_new(regres, resource_set("PORTS", json_incref(ports)));
        json_array_append_new(regres, resource_set("PORTS_UDP", ports_udp ? json_incref(ports_udp) : json_array()));
        json_array_insert_new(regres, 0, resource_int("MEMORY", mem));
        json_array_insert_new(regres, 0, resource_int("CPU", cpu));

        if ((r = hex32_new(id)) < 0)
                return err_set(err, -r, NULL, "random container instance id: %s", strerror(-r));
        arn_instance(c, cname, id, arn);
        snprintf(netns, sizeof netns, "ebx-ci-%s", id);
        rec = json_pack("{s:s, s:s, s:s, s:b, s:o, s:O, s:I, s:O, s:O, s:O, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b}}",
                        "containerInstanceArn", arn, "ec2InstanceId", ec2_id, "status", "REGISTERING", "agentConnected", 1,
                        "registeredAt", jtime(now_epoch()), "versionInfo",
                        version ? version : json_pack("{s:s, s:s, s:s}", "agentVersion", "1.0.0", "agentHash", "ecsbox", "dockerVersion", "none"),
                        "version", (json_int_t) 1, "attributes", attrs, "registeredResources", regres, "tags",
                        tags ? tags : json_array(), "ebx", "id", id, "cluster", cname, "netns", netns, "subnetId", subnet_id, "vpcId",
                        jstr(subnet, "VpcId") ?: "", "az", az, "instanceType", itype_name ?: "", "eniSlots", it->enis - 1,
                        "networkReleased", 0);
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!version)
                json_decref(json_object_get(rec, "versionInfo"));
        if (!tags)
                json_decref(json_object_get(rec, "tags"));
        /* Recorded before netd is asked, so that start-up can roll a half-made instance back. */
        instance_key(key, sizeof key, cname, id);
        if ((r = store_put(s->store, key, rec, err)) < 0)
                return r;
        snprintf(desc, sizeof desc, "ecsbox container instance %s", arn);
        netreq = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "Action", "CreateTaskNetwork", "SubnetId", subnet_id, "Netns",
                           netns, "InstanceId", ec2_id, "Description", desc, "Metadata", "containerInstanceArn", arn, "clusterArn",
                           jstr(cl, "clusterArn"));
        if ((r = s->netd_call(s, netreq, &ans, err)) < 0) {
                struct err e2 = { 0 };
                (void) store_del(s->store, key, &e2);
                log_warning("op=RegisterContainerInstance cluster=%s msg=\"netd refused the instance network\" err=\"%s\"", cname, err->msg);
                return netd_to_api(err, "create the container instance's network");
        }
        eni = json_object_get(ans, "NetworkInterface");
        json_object_set_new(rec, "status", json_string("ACTIVE"));
        json_object_set_new(json_object_get(rec, "ebx"), "eniId", json_string(jstr(eni, "NetworkInterfaceId") ?: ""));
        json_object_set_new(json_object_get(rec, "ebx"), "privateIp", json_string(jstr(eni, "PrivateIpAddress") ?: ""));
        attr_set(json_object_get(rec, "attributes"), "ecsbox.private-ipv4-address", jstr(eni, "PrivateIpAddress"));
        attr_set(json_object_get(rec, "attributes"), "ecsbox.network-interface-id", jstr(eni, "NetworkInterfaceId"));
        if ((r = store_put(s->store, key, rec, err)) < 0)
                return r;
        log_info("op=RegisterContainerInstance cluster=%s instance=%s ec2=%s netns=%s ip=%s cpu=%ld mem=%ld enis=%d", cname, id, ec2_id,
                 netns, jstr(eni, "PrivateIpAddress") ?: "", cpu, mem, it->enis - 1);
        *ret = json_pack("{s:o}", "containerInstance", instance_shape(s, cname, rec));
        return 0;
}

int op_describe_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *out = json_array(), *failures = json_array();
        json_t *refs = NULL, *e;
        char cname[NAME_MAX_ECS + 1];
        bool tags = req_include_tags(req);
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str_list(req, NULL, "containerInstances", true, 100, &refs, err)) < 0)
                return r;
        json_array_foreach(refs, i, e) {
                json_t *rec = NULL, *shape;
                r = instance_get(c->s, cname, json_string_value(e), true, &rec, err);
                if (r == -ENOENT) {
                        char arn[ARN_MAX];
                        arn_instance(c, cname, json_string_value(e), arn);
                        failure_missing(failures, json_string_value(e), arn);
                        continue;
                }
                if (r < 0)
                        return r;
                shape = instance_shape(c->s, cname, rec);
                json_decref(rec);
                if (!shape)
                        return err_set(err, ENOMEM, NULL, "out of memory");
                if (!tags)
                        json_object_del(shape, "tags");
                json_array_append_new(out, shape);
        }
        *ret = json_pack("{s:O, s:O}", "containerInstances", out, "failures", failures);
        return 0;
}

struct filter_ctx {
        json_t *shape;
        const char *one[2];
        char buf[32];
};

static const char *const *filter_values(void *ctx, const char *subject)
{
        struct filter_ctx *f = ctx;
        json_t *a;
        size_t i;
        f->one[0] = NULL;
        f->one[1] = NULL;
        if (strncmp(subject, "attribute:", 10) == 0) {
                json_array_foreach(json_object_get(f->shape, "attributes"), i, a)
                        if (strcmp(jstr(a, "name") ?: "", subject + 10) == 0)
                                f->one[0] = jstr(a, "value") ?: "";
        } else if (strcmp(subject, "ec2InstanceId") == 0)
                f->one[0] = jstr(f->shape, "ec2InstanceId");
        else if (strcmp(subject, "runningTasksCount") == 0) {
                snprintf(f->buf, sizeof f->buf, "%lld", jint(f->shape, "runningTasksCount", 0));
                f->one[0] = f->buf;
        } else if (strcmp(subject, "agentVersion") == 0)
                f->one[0] = jstr(json_object_get(f->shape, "versionInfo"), "agentVersion");
        return f->one[0] ? f->one : NULL;
}

int op_list_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *recs = NULL, *arns = json_array(), *page = NULL;
        const char *status = NULL, *filter = NULL;
        char cname[NAME_MAX_ECS + 1];
        struct cql *q = NULL;
        json_t *token = NULL, *rec;
        size_t i;
        int r;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 || (r = req_str(req, NULL, "status", false, &status, err)) < 0 ||
            (r = req_str(req, NULL, "filter", false, &filter, err)) < 0)
                return r;
        if (status && strcmp(status, "ACTIVE") != 0 && strcmp(status, "DRAINING") != 0 && strcmp(status, "REGISTERING") != 0 &&
            strcmp(status, "DEREGISTERING") != 0 && strcmp(status, "REGISTRATION_FAILED") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid status '%s': expected ACTIVE, DRAINING, REGISTERING, DEREGISTERING or REGISTRATION_FAILED.",
                               status);
        if (filter && *filter && (r = cql_parse(filter, &q, err)) < 0)
                return err_wrap(err, "Invalid filter '%s'", filter);
        if ((r = instance_list(c->s, cname, false, &recs, err)) < 0) {
                cql_free(q);
                return r;
        }
        json_array_foreach(recs, i, rec) {
                if (status && strcmp(jstr(rec, "status") ?: "", status) != 0)
                        continue;
                if (q) {
                        struct filter_ctx f = { .shape = instance_shape(c->s, cname, rec) };
                        bool ok = f.shape && cql_eval(q, filter_values, &f);
                        json_decref(f.shape);
                        if (!ok)
                                continue;
                }
                json_array_append_new(arns, json_string(jstr(rec, "containerInstanceArn")));
        }
        cql_free(q);
        if ((r = req_page(req, arns, 100, &page, &token, err)) < 0)
                return r;
        *ret = json_pack("{s:O}", "containerInstanceArns", page);
        json_set(*ret, "nextToken", token);
        return 0;
}

int op_deregister_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL, *tasks = NULL;
        const char *ref = NULL, *id;
        char cname[NAME_MAX_ECS + 1], key[NAME_MAX_ECS + 64];
        bool force = false;
        json_t *t, *shape;
        size_t i;
        int r, active = 0;
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str(req, NULL, "containerInstance", true, &ref, err)) < 0 || (r = req_bool(req, NULL, "force", false, &force, err)) < 0)
                return r;
        r = instance_get(c->s, cname, ref, false, &rec, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The container instance '%s' was not found in cluster '%s'.", ref, cname);
        if (r < 0)
                return r;
        id = jstr(json_object_get(rec, "ebx"), "id");
        if ((r = task_list(c->s, cname, false, &tasks, err)) < 0)
                return r;
        json_array_foreach(tasks, i, t)
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0)
                        active++;
        if (active && !force)
                return err_set(err, EBUSY, E_PARAM,
                               "The container instance has %d task(s) that are not stopped. Stop them first, or deregister with force.", active);
        if ((r = store_begin(c->s->store, err)) < 0)
                return r;
        /* force: its tasks are stopped (ecsbox cannot leave processes without an owner). */
        json_array_foreach(tasks, i, t) {
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) != 0 ||
                    strcmp(jstr(t, "desiredStatus") ?: "", "STOPPED") == 0)
                        continue;
                json_object_set_new(t, "desiredStatus", json_string("STOPPED"));
                json_object_set_new(t, "stopCode", json_string("TerminationNotice"));
                json_object_set_new(t, "stoppedReason", json_string("Container instance deregistered"));
                json_object_set_new(t, "version", json_integer(jint(t, "version", 1) + 1));
                if ((r = task_put(c->s, t, err)) < 0) {
                        store_rollback(c->s->store);
                        return r;
                }
        }
        json_object_set_new(rec, "status", json_string("INACTIVE"));
        json_object_set_new(rec, "agentConnected", json_false());
        json_object_set_new(rec, "version", json_integer(jint(rec, "version", 1) + 1));
        instance_key(key, sizeof key, cname, id);
        if ((r = store_put(c->s->store, key, rec, err)) < 0 || (r = store_commit(c->s->store, err)) < 0) {
                store_rollback(c->s->store);
                return r;
        }
        json_array_foreach(tasks, i, t)
                if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0)
                        task_kick(c->s, jstr(json_object_get(t, "ebx"), "id"), NULL);
        log_info("op=DeregisterContainerInstance cluster=%s instance=%s tasks_stopped=%d", cname, id, active);
        instance_release_pending(c->s);
        shape = instance_shape(c->s, cname, rec);
        *ret = json_pack("{s:o}", "containerInstance", shape);
        return 0;
}

struct release_ctx {
        struct sched *s;
        json_t *todo;
};

static int collect_release(const char *key, json_t *v, void *userdata)
{
        struct release_ctx *rc = userdata;
        json_t *ebx = json_object_get(v, "ebx");
        if (strcmp(jstr(v, "status") ?: "", "INACTIVE") == 0 && !json_is_true(json_object_get(ebx, "networkReleased")))
                json_array_append_new(rc->todo, json_pack("[s, O]", key, v));
        return 0;
}

void instance_release_pending(struct sched *s)
{
        struct release_ctx rc = { s, json_array() };
        struct err err = { 0 };
        json_t *e;
        size_t i;
        if (store_list(s->store, "instance/", collect_release, &rc, &err) < 0) {
                log_warning("msg=\"list instances to release, ignoring\" err=\"%s\"", err.msg);
                json_decref(rc.todo);
                return;
        }
        json_array_foreach(rc.todo, i, e) {
                json_t *rec = json_array_get(e, 1), *ebx = json_object_get(rec, "ebx"), *tasks = NULL, *t;
                const char *id = jstr(ebx, "id");
                bool busy = false;
                size_t k;
                if (task_list(s, jstr(ebx, "cluster"), false, &tasks, &err) < 0)
                        continue;
                json_array_foreach(tasks, k, t)
                        if (strcmp(jstr(json_object_get(t, "ebx"), "instanceId") ?: "", id) == 0)
                                busy = true;
                json_decref(tasks);
                if (busy)
                        continue;
                if (netd_release(s, jstr(ebx, "netns"), &err) < 0) {
                        log_warning("msg=\"release the network of a deregistered instance, will retry\" instance=%s netns=%s err=\"%s\"", id,
                                    jstr(ebx, "netns"), err.msg);
                        err_clear(&err);
                        continue;
                }
                json_object_set_new(ebx, "networkReleased", json_true());
                if (store_put(s->store, json_string_value(json_array_get(e, 0)), rec, &err) < 0) {
                        log_warning("msg=\"record released instance network, ignoring\" err=\"%s\"", err.msg);
                        err_clear(&err);
                        continue;
                }
                log_info("msg=\"released the network of a deregistered instance\" instance=%s netns=%s", id, jstr(ebx, "netns"));
        }
        json_decref(rc.todo);
}
