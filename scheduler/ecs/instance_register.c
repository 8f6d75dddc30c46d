/* instance_register.c: RegisterContainerInstance: the request decoded, the instance record
 * (resources, attributes) and its network (a namespace "ebx-ci-<id>" with a primary ENI from
 * netd). The same EC2 instance registered again answers with its record, as on ECS. */
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
#include "../netd_client.h"
#include "../sched.h"
#include "arn.h"
#include "cluster.h"
#include "instance.h"

static const char *const reserved_ports[] = { "22", "2375", "2376", "51678", "51679", NULL };

struct register_in {
        const char *cluster;
        json_t *doc;                         /* instanceIdentityDocument parsed (owned), or NULL */
        const char *type_name, *az, *subnet_id, *ec2_id;
        const struct instance_type *type;
        json_t *attributes, *tags, *version; /* as given, checked; or NULL */
        long cpu, mem;                       /* totalResources, else the type's */
        json_t *ports, *ports_udp;           /* totalResources PORTS / PORTS_UDP, or NULL */
};

static void register_in_done(struct register_in *in)
{
        json_decref(in->doc);
        in->doc = NULL;
}

static int resources_decode(json_t *req, struct register_in *in, struct err *err)
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
                        in->cpu = (long) v;
                else if (strcmp(name, "MEMORY") == 0 && v > 0)
                        in->mem = (long) v;
                else if (strcmp(name, "PORTS") == 0 && set)
                        in->ports = set;
                else if (strcmp(name, "PORTS_UDP") == 0 && set)
                        in->ports_udp = set;
        }
        return 0;
}

static int attributes_check(json_t *attrs, struct err *err)
{
        json_t *a;
        size_t i;
        int r;
        json_array_foreach(attrs, i, a) {
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
        return 0;
}

/* The identity document names the instance, and its type and zone unless the request does. */
static int identity_decode(const char *text, struct register_in *in, struct err *err)
{
        json_error_t jerr;
        if (!text || !*text)
                return 0;
        in->doc = json_loads(text, 0, &jerr);
        if (!in->doc || !json_is_object(in->doc))
                return err_set(err, EINVAL, E_PARAM, "instanceIdentityDocument is not a JSON object: %s (line %d, column %d)",
                               in->doc ? "not an object" : jerr.text, jerr.line, jerr.column);
        if (!in->type_name)
                in->type_name = jstr(in->doc, "instanceType");
        if (!in->az)
                in->az = jstr(in->doc, "availabilityZone");
        in->ec2_id = jstr(in->doc, "instanceId");
        return 0;
}

static int register_decode(json_t *req, struct register_in *in, struct err *err)
{
        const char *doc = NULL, *ignored = NULL;
        int r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "instanceIdentityDocument", false, &doc, err)) < 0 ||
            (r = req_str(req, NULL, "instanceIdentityDocumentSignature", false, &ignored, err)) < 0 ||
            (r = req_str(req, NULL, "instanceType", false, &in->type_name, err)) < 0 ||
            (r = req_str(req, NULL, "availabilityZone", false, &in->az, err)) < 0 ||
            (r = req_str(req, NULL, "subnetId", false, &in->subnet_id, err)) < 0 ||
            (r = req_array(req, NULL, "attributes", false, &in->attributes, err)) < 0 || (r = req_tags(req, "tags", &in->tags, err)) < 0 ||
            (r = req_object(req, NULL, "versionInfo", false, &in->version, err)) < 0 ||
            (r = req_str(req, NULL, "containerInstanceArn", false, &ignored, err)) < 0 || (r = identity_decode(doc, in, err)) < 0)
                return r;
        in->type = instance_type_find(in->type_name);
        if (!in->type)
                return err_set(err, EINVAL, E_PARAM,
                               "Unknown instance type '%s' (ecsbox knows t3.micro/small/medium/large/xlarge, m5.large/xlarge/2xlarge, c5.large/xlarge/2xlarge, r5.large).",
                               in->type_name);
        in->cpu = in->type->cpu;
        in->mem = in->type->mem;
        if ((r = resources_decode(req, in, err)) < 0)
                return r;
        return attributes_check(in->attributes, err);
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

/* The ACTIVE record of this EC2 instance in the cluster (*ret NULL when there is none). */
static int find_registered(struct sched *s, const char *cname, const char *ec2_id, json_t **ret, struct err *err)
{
        json_t *found[2] = { json_string(ec2_id), NULL };
        char prefix[NAME_MAX_ECS + 32];
        int r;
        snprintf(prefix, sizeof prefix, "instance/%s/", cname);
        r = store_list(s->store, prefix, find_by_ec2_id, found, err);
        json_decref(found[0]);
        *ret = found[1];
        if (found[1]) {
                err_clear(err);
                return 0;
        }
        return r;
}

/* The instance's subnet (the default one when the request names none), in the requested zone. */
static int instance_subnet(struct sched *s, struct register_in *in, json_t **ret, struct err *err)
{
        int r;
        if (!in->subnet_id) {
                if ((r = netd_ensure_defaults(s, err)) < 0)
                        return err_wrap(err, "RegisterContainerInstance: no subnetId given and the default subnet is unknown");
                in->subnet_id = s->default_subnet;
        }
        if ((r = netd_subnet(s, in->subnet_id, ret, err)) < 0) {
                if (strcmp(netd_code(err), "InvalidSubnetID.NotFound") == 0 || strcmp(netd_code(err), "InvalidSubnetID.Malformed") == 0)
                        return err_set(err, ENOENT, E_PARAM, "The subnet '%s' does not exist.", in->subnet_id);
                return err_wrap(err, "look up subnet '%s'", in->subnet_id);
        }
        if (in->az && *in->az && strcmp(in->az, jstr(*ret, "AvailabilityZone") ?: "") != 0)
                return err_set(err, EINVAL, E_PARAM, "availabilityZone '%s' does not match subnet '%s', which is in '%s'.", in->az,
                               in->subnet_id, jstr(*ret, "AvailabilityZone") ?: "");
        in->az = jstr(*ret, "AvailabilityZone") ?: "";
        return 0;
}

/* ECS's standard attributes, then the request's. */
static json_t *instance_attributes(const struct register_in *in, json_t *subnet)
{
        json_t *attrs = json_array(), *a;
        struct utsname un;
        size_t i;
        (void) uname(&un);
        attr_set(attrs, "ecs.availability-zone", in->az);
        if (in->type_name)
                attr_set(attrs, "ecs.instance-type", in->type_name);
        attr_set(attrs, "ecs.os-type", "linux");
        attr_set(attrs, "ecs.os-family", "LINUX");
        attr_set(attrs, "ecs.cpu-architecture", strcmp(un.machine, "aarch64") == 0 ? "arm64" : "x86_64");
        attr_set(attrs, "ecs.vpc-id", jstr(subnet, "VpcId"));
        attr_set(attrs, "ecs.subnet-id", in->subnet_id);
        attr_set(attrs, "ecs.capability.task-eni", NULL);
        attr_set(attrs, "ecs.capability.container-health-check", NULL);
        attr_set(attrs, "ecs.capability.container-ordering", NULL);
        attr_set(attrs, "com.amazonaws.ecs.capability.docker-remote-api.1.18", NULL);
        json_array_foreach(in->attributes, i, a)
                attr_set(attrs, jstr(a, "name"), jstr(a, "value"));
        return attrs;
}

static json_t *registered_resources(const struct register_in *in)
{
        json_t *regres = json_array();
        if (!in->ports) {
                json_t *dflt = json_array();
                for (const char *const *p = reserved_ports; *p; p++)
                        json_array_append_new(dflt, json_string(*p));
                json_array_append_new(regres, instance_resource_set("PORTS", dflt));
        } else
                json_array_append_new(regres, instance_resource_set("PORTS", json_incref(in->ports)));
        json_array_append_new(regres, instance_resource_set("PORTS_UDP", in->ports_udp ? json_incref(in->ports_udp) : json_array()));
        json_array_insert_new(regres, 0, instance_resource_int("MEMORY", in->mem));
        json_array_insert_new(regres, 0, instance_resource_int("CPU", in->cpu));
        return regres;
}

/* The REGISTERING record (status ACTIVE once netd made the network). */
static json_t *instance_record(struct api_ctx *c, const struct register_in *in, const char *cname, const char *id,
                               const char *ec2_id, json_t *subnet)
{
        char arn[ARN_MAX], netns[64];
        json_t *rec;
        arn_instance(c, cname, id, arn);
        snprintf(netns, sizeof netns, "ebx-ci-%s", id);
        rec = json_pack("{s:s, s:s, s:s, s:b, s:o, s:O, s:I, s:o, s:o, s:O, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b}}",
                        "containerInstanceArn", arn, "ec2InstanceId", ec2_id, "status", "REGISTERING", "agentConnected", 1,
                        "registeredAt", jtime(now_epoch()), "versionInfo",
                        in->version ? in->version
                                    : json_pack("{s:s, s:s, s:s}", "agentVersion", "1.0.0", "agentHash", "ecsbox", "dockerVersion", "none"),
                        "version", (json_int_t) 1, "attributes", instance_attributes(in, subnet), "registeredResources",
                        registered_resources(in), "tags", in->tags ? in->tags : json_array(), "ebx", "id", id, "cluster", cname, "netns",
                        netns, "subnetId", in->subnet_id, "vpcId", jstr(subnet, "VpcId") ?: "", "az", in->az, "instanceType",
                        in->type_name ?: "", "eniSlots", in->type->enis - 1, "networkReleased", 0);
        if (!rec)
                return NULL;
        if (!in->version)
                json_decref(json_object_get(rec, "versionInfo"));
        if (!in->tags)
                json_decref(json_object_get(rec, "tags"));
        return rec;
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

/* netd makes the instance's namespace and primary ENI; the record (written before, so that
 * start-up can roll a half-made instance back) becomes ACTIVE with the ENI's address. */
static int instance_network(struct sched *s, json_t *rec, const char *key, json_t *cl, struct err *err)
{
        json_t *ebx = json_object_get(rec, "ebx"), *eni;
        _cleanup_json_ json_t *netreq = NULL, *ans = NULL;
        const char *arn = jstr(rec, "containerInstanceArn");
        char desc[ARN_MAX + 64];
        int r;
        snprintf(desc, sizeof desc, "ecsbox container instance %s", arn);
        netreq = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "Action", "CreateTaskNetwork", "SubnetId", jstr(ebx, "subnetId"),
                           "Netns", jstr(ebx, "netns"), "InstanceId", jstr(rec, "ec2InstanceId"), "Description", desc, "Metadata",
                           "containerInstanceArn", arn, "clusterArn", jstr(cl, "clusterArn"));
        if ((r = s->netd_call(s, netreq, &ans, err)) < 0) {
                struct err e2 = { 0 };
                (void) store_del(s->store, key, &e2);
                log_warning("op=RegisterContainerInstance cluster=%s msg=\"netd refused the instance network\" err=\"%s\"",
                            jstr(ebx, "cluster"), err->msg);
                return netd_to_api(err, "create the container instance's network");
        }
        eni = json_object_get(ans, "NetworkInterface");
        json_object_set_new(rec, "status", json_string("ACTIVE"));
        json_object_set_new(ebx, "eniId", json_string(jstr(eni, "NetworkInterfaceId") ?: ""));
        json_object_set_new(ebx, "privateIp", json_string(jstr(eni, "PrivateIpAddress") ?: ""));
        attr_set(json_object_get(rec, "attributes"), "ecsbox.private-ipv4-address", jstr(eni, "PrivateIpAddress"));
        attr_set(json_object_get(rec, "attributes"), "ecsbox.network-interface-id", jstr(eni, "NetworkInterfaceId"));
        return store_put(s->store, key, rec, err);
}

static int register_instance(struct api_ctx *c, struct register_in *in, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *cl = NULL, *subnet = NULL, *rec = NULL;
        char cname[NAME_MAX_ECS + 1], id[HEX32_STR_MAX], key[NAME_MAX_ECS + 64], ec2buf[ID_MAX];
        const char *ec2_id = in->ec2_id;
        int r;
        if ((r = cluster_get(c, in->cluster, &cl, cname, err)) < 0)
                return r;
        if (ec2_id && *ec2_id) {
                if ((r = find_registered(s, cname, ec2_id, &rec, err)) < 0)
                        return r;
                if (rec) {
                        *ret = json_pack("{s:o}", "containerInstance", instance_shape(s, cname, rec));
                        return 0;
                }
        } else {
                if ((r = id_new("i", ec2buf)) < 0)
                        return err_set(err, -r, NULL, "random EC2 instance id: %s", strerror(-r));
                ec2_id = ec2buf;
        }
        if ((r = instance_subnet(s, in, &subnet, err)) < 0)
                return r;
        if ((r = hex32_new(id)) < 0)
                return err_set(err, -r, NULL, "random container instance id: %s", strerror(-r));
        if (!(rec = instance_record(c, in, cname, id, ec2_id, subnet)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        instance_key(key, sizeof key, cname, id);
        if ((r = store_put(s->store, key, rec, err)) < 0 || (r = instance_network(s, rec, key, cl, err)) < 0)
                return r;
        log_info("op=RegisterContainerInstance cluster=%s instance=%s ec2=%s netns=%s ip=%s cpu=%ld mem=%ld enis=%d", cname, id,
                 ec2_id, jstr(json_object_get(rec, "ebx"), "netns"), jstr(json_object_get(rec, "ebx"), "privateIp") ?: "", in->cpu,
                 in->mem, in->type->enis - 1);
        *ret = json_pack("{s:o}", "containerInstance", instance_shape(s, cname, rec));
        return 0;
}

int op_register_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct register_in in = { 0 };
        int r;
        if ((r = register_decode(req, &in, err)) >= 0)
                r = register_instance(c, &in, ret, err);
        register_in_done(&in);
        return r;
}
