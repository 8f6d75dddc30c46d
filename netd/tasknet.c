/* tasknet.c: task networks: CreateTaskNetwork and DeleteTaskNetwork (awsvpc through eni.c; ECS `bridge`
 * and `none` here), DescribeTaskNetworks, their records, intents and repair.
 *
 * Records (lib/store.c):
 *   tasknet/NETNS                 {Netns, NetworkMode, State creating|ok, InstanceNetns, PrivateIpAddress,
 *                                  MacAddress, HostIf, HostIp, Bindings[{containerPort, hostPort, protocol}], Metadata}
 *   bridge/INSTANCE               {IpCursor, TcpCursor, UdpCursor}: round-robin cursors of one instance (ipam.c's record)
 *   bip/INSTANCE/IPHEX            {Netns}: a bridge address lease (ipam.c)
 *   bport/INSTANCE/PROTO/PORT     {Netns}: a published host port
 *   intent/SEQ                    {Op CreateBridgeTask|DeleteBridgeTask|CreateNoneTask|DeleteNoneTask, Netns}
 * Every create first commits the records with State creating and an intent,
 * then changes the kernel, then marks the record ok and drops the intent;
 * start-up (tasknet_repair.c) rolls an interrupted create back and finishes an interrupted delete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "eni.h"
#include "intent.h"
#include "ipam.h"
#include "kernel/knet.h"
#include "kernel/knet_bridge.h"
#include "netd.h"
#include "portmap.h"
#include "record.h"
#include "tasknet.h"
#include "tasknet_int.h"
#include "tasknet_req.h"

#define CODE_NETNS_NOTFOUND "InvalidNetns.NotFound"
#define CODE_PORT_IN_USE "PortInUse"

void tasknet_key(char buf[KEY_MAX], const char *netns)
{
        snprintf(buf, KEY_MAX, "tasknet/%s", netns);
}

void tasknet_port_key(char buf[KEY_MAX], const char *inst, int proto, unsigned port)
{
        snprintf(buf, KEY_MAX, "bport/%s/%s/%05u", inst, portmap_proto_name(proto), port);
}

int tasknet_owner_put(struct netd *d, const char *key, const char *netns, struct err *err)
{
        json_t *v = json_pack("{s:s}", "Netns", netns);
        int r = store_put(d->store, key, v, err);
        json_decref(v);
        return r;
}

/* A new task netns name: not a task network, not an ENI's netns, not any existing namespace. */
static int netns_free(struct netd *d, const char *netns, struct err *err)
{
        char key[KEY_MAX];
        tasknet_key(key, netns);
        if (store_exists(d->store, key) > 0)
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already has a task network", netns);
        key_fmt(key, "netns", netns);
        if (store_exists(d->store, key) > 0)
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already has a network interface attached", netns);
        if (knet_netns_exists(d->knet, netns))
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already exists; bridge and none task networks get a namespace of their own", netns);
        return 0;
}

/* The ENI attached to instance netns `inst` (what CreateTaskNetwork awsvpc made for a container instance). */
static int instance_load(struct netd *d, const char *inst, json_t **ret_eni, struct err *err)
{
        _cleanup_json_ json_t *idx = NULL;
        json_t *eni = NULL;
        char key[KEY_MAX];
        int r;

        key_fmt(key, "netns", inst);
        r = store_get(d->store, key, &idx, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, CODE_NETNS_NOTFOUND,
                               "The instance netns '%s' does not exist or holds no network interface of netd (InstanceNetns must be the Netns of an attached ENI)", inst);
        if (r < 0)
                return r;
        key_fmt(key, "eni", rec_str(idx, "NetworkInterfaceId"));
        r = store_get(d->store, key, &eni, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, CODE_NETNS_NOTFOUND, "The instance netns '%s' holds no network interface of netd", inst);
        if (r < 0)
                return r;
        if (strcmp(rec_str(json_object_get(eni, "ebxAttachment"), "Status") ?: "", "attached") != 0 || !knet_netns_exists(d->knet, inst)) {
                json_decref(eni);
                return err_set(err, ENOENT, CODE_NETNS_NOTFOUND, "The instance netns '%s' is not attached (or its namespace is gone)", inst);
        }
        *ret_eni = eni;
        return 0;
}

/* ---- records <-> kernel descriptions ---- */

struct bindings {
        struct knet_binding *v;
        size_t n, cap;
};

static void bindings_free(struct bindings *b)
{
        free(b->v);
        b->v = NULL;
        b->n = b->cap = 0;
}

/* Append the bindings of a bridge task record. */
static int bindings_add(struct bindings *b, json_t *tn)
{
        uint32_t ip;
        json_t *x;
        size_t i;
        if (ip4_parse(rec_str(tn, "PrivateIpAddress"), &ip) < 0)
                return -EINVAL;
        json_array_foreach(json_object_get(tn, "Bindings"), i, x) {
                if (b->n == b->cap) {
                        size_t nc = b->cap ? b->cap * 2 : 16;
                        struct knet_binding *nv = realloc(b->v, nc * sizeof *nv);
                        if (!nv)
                                return -ENOMEM;
                        b->v = nv;
                        b->cap = nc;
                }
                b->v[b->n].proto = (uint8_t) (portmap_proto_parse(rec_str(x, "protocol")) == PORTMAP_PROTO_UDP ? PM_UDP : PM_TCP);
                b->v[b->n].host_port = (uint16_t) json_integer_value(json_object_get(x, "hostPort"));
                b->v[b->n].container_port = (uint16_t) json_integer_value(json_object_get(x, "containerPort"));
                b->v[b->n].task_ip = ip;
                b->n++;
        }
        return 0;
}

int tasknet_btask_of(json_t *tn, struct knet_btask *ret, struct err *err)
{
        memset(ret, 0, sizeof *ret);
        ret->instance_netns = rec_str(tn, "InstanceNetns");
        ret->netns = rec_str(tn, "Netns");
        ret->host_if = rec_str(tn, "HostIf");
        if (!ret->instance_netns || !ret->netns || !ret->host_if || ip4_parse(rec_str(tn, "PrivateIpAddress"), &ret->ip) < 0 ||
            mac_parse(rec_str(tn, "MacAddress"), ret->mac) < 0)
                return err_set(err, EIO, NULL, "task network of netns '%s': corrupt record", rec_str(tn, "Netns") ?: "?");
        return 0;
}

struct collect {
        json_t *items;        /* [record, ...] */
        const char *instance; /* only these (NULL: all) */
        const char *exclude;  /* but not this netns */
};

static int collect_cb(const char *key, json_t *v, void *ud)
{
        struct collect *c = ud;
        if (c->instance && strcmp(rec_str(v, "InstanceNetns") ?: "", c->instance) != 0)
                return 0;
        if (c->exclude && strcmp(rec_str(v, "Netns") ?: "", c->exclude) == 0)
                return 0;
        return json_array_append(c->items, v);
}

int tasknet_list(struct netd *d, const char *instance, const char *exclude, json_t **ret, struct err *err)
{
        struct collect c = { json_array(), instance, exclude };
        int r = store_list(d->store, "tasknet/", collect_cb, &c, err);
        if (r < 0) {
                json_decref(c.items);
                return r;
        }
        *ret = c.items;
        return 0;
}

/* The bindings of every recorded bridge task of an instance (but `exclude`). */
static int instance_bindings(struct netd *d, const char *inst, const char *exclude, struct bindings *ret, struct err *err)
{
        _cleanup_json_ json_t *all = NULL;
        json_t *tn;
        size_t i;
        int r;
        if ((r = tasknet_list(d, inst, exclude, &all, err)) < 0)
                return r;
        json_array_foreach(all, i, tn)
                if ((r = bindings_add(ret, tn)) < 0)
                        return err_set(err, -r, NULL, "bindings of netns '%s': corrupt record", rec_str(tn, "Netns"));
        return 0;
}

/* Drop the records of a task network (and the intent), in one transaction. */
int tasknet_forget(struct netd *d, json_t *tn, const char *ikey, struct err *err)
{
        const char *inst = rec_str(tn, "InstanceNetns");
        char key[KEY_MAX];
        uint32_t ip;
        json_t *x;
        size_t i;
        int r;

        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if (inst && ip4_parse(rec_str(tn, "PrivateIpAddress"), &ip) == 0)
                r = ipam_bridge_release(d, inst, ip, err);
        json_array_foreach(json_object_get(tn, "Bindings"), i, x) {
                int p = portmap_proto_parse(rec_str(x, "protocol"));
                if (r < 0 || !inst || p < 0)
                        continue;
                tasknet_port_key(key, inst, p, (unsigned) json_integer_value(json_object_get(x, "hostPort")));
                r = store_del(d->store, key, err);
        }
        tasknet_key(key, rec_str(tn, "Netns"));
        if (r >= 0)
                r = store_del(d->store, key, err);
        if (r >= 0 && ikey)
                r = intent_done(d, ikey, err);
        if (r < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        return 0;
}

/* ---- the answer ---- */

static json_t *tasknet_shape(struct netd *d, json_t *tn)
{
        char path[512];
        const char *mode = rec_str(tn, "NetworkMode") ?: "none";
        json_t *o, *b = json_array(), *x;
        size_t i;

        (void) knet_netns_path(d->knet, rec_str(tn, "Netns"), path, sizeof path);
        o = json_pack("{s:s, s:s, s:s}", "Netns", rec_str(tn, "Netns"), "NetnsPath", path, "NetworkMode", mode);
        if (strcmp(mode, "bridge") == 0) {
                json_array_foreach(json_object_get(tn, "Bindings"), i, x)
                        json_array_append_new(b, json_pack("{s:s, s:O, s:O, s:O}", "bindIP", "0.0.0.0", "containerPort",
                                                           json_object_get(x, "containerPort"), "hostPort",
                                                           json_object_get(x, "hostPort"), "protocol", json_object_get(x, "protocol")));
                json_object_set_new(o, "InstanceNetns", json_string(rec_str(tn, "InstanceNetns")));
                json_object_set_new(o, "PrivateIpAddress", json_string(rec_str(tn, "PrivateIpAddress")));
                json_object_set_new(o, "MacAddress", json_string(rec_str(tn, "MacAddress")));
                json_object_set_new(o, "HostIp", json_string(rec_str(tn, "HostIp") ?: ""));
                json_object_set_new(o, "NetworkBindings", b);
                {
                        /* the instance's VPC: where its tasks reach the VPC resolver and the metadata endpoint */
                        _cleanup_json_ json_t *ieni = NULL;
                        struct err e = { 0 };
                        if (instance_load(d, rec_str(tn, "InstanceNetns") ?: "", &ieni, &e) == 0 && rec_str(ieni, "VpcId")) {
                                json_object_set_new(o, "VpcId", json_string(rec_str(ieni, "VpcId")));
                                /* the instance's own resolv.conf names its VPC's resolver, as on EC2 */
                                eni_task_dns(d, rec_str(ieni, "VpcId"), o);
                        }
                }
        } else
                json_decref(b);
        if (json_object_get(tn, "Metadata"))
                json_object_set(o, "Metadata", json_object_get(tn, "Metadata"));
        if (rec_str(tn, "CreatedTime"))
                json_object_set_new(o, "CreatedTime", json_string(rec_str(tn, "CreatedTime")));
        return o;
}

/* ---- none ---- */

static int none_create(struct netd *d, const char *netns, json_t *metadata, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tn = NULL, *intent = NULL;
        char key[KEY_MAX], ikey[64], now[32];
        int r;

        if ((r = netns_free(d, netns, err)) < 0)
                return r;
        iso8601_ms(-1, now);
        tn = json_pack("{s:s, s:s, s:s, s:s}", "Netns", netns, "NetworkMode", "none", "State", "creating", "CreatedTime", now);
        if (metadata)
                json_object_set(tn, "Metadata", metadata);
        intent = json_pack("{s:s, s:s}", "Op", "CreateNoneTask", "Netns", netns);
        tasknet_key(key, netns);
        if ((r = intent_begin(d, key, tn, intent, ikey, err)) < 0)
                return r;
        r = knet_none_create(d->knet, netns, err);
        if (r < 0) {
                struct err e2 = { 0 };
                (void) tasknet_forget(d, tn, ikey, &e2);
                return err_wrap(err, "CreateTaskNetwork netns '%s'", netns);
        }
        json_object_set_new(tn, "State", json_string("ok"));
        if ((r = intent_finish(d, key, tn, ikey, err)) < 0)
                return r;
        log_info("op=CreateTaskNetwork mode=none netns=%s", netns);
        *ret = json_pack("{s:o}", "TaskNetwork", tasknet_shape(d, tn));
        return 0;
}

/* ---- bridge ---- */

struct port_probe {
        struct netd *d;
        const char *inst;
};

/* Runs inside the instance netns (bridge_reserve does): a port is taken when
 * netd published it or a process of the instance holds it (a host-mode task,
 * a daemon), as the ECS agent counts both. */
static int port_taken(int proto, uint16_t port, void *ud)
{
        struct port_probe *p = ud;
        char key[KEY_MAX];
        int r;
        tasknet_port_key(key, p->inst, proto, port);
        if ((r = store_exists(p->d->store, key)) != 0)
                return r;
        return knet_port_busy(proto, port);
}

/* A static host port of the request: free in the records and in the instance netns; recorded for netns. */
static int port_static(struct netd *d, const char *netns, const char *inst, const struct portmap *pm, struct err *err)
{
        _cleanup_json_ json_t *owner = NULL;
        const char *proto = portmap_proto_name(pm->proto);
        char key[KEY_MAX];
        int r;
        tasknet_port_key(key, inst, pm->proto, pm->host_port);
        if (store_get(d->store, key, &owner, NULL) == 0)
                return err_set(err, EADDRINUSE, CODE_PORT_IN_USE,
                               "Host port %u/%s is already published on instance netns '%s' (by task netns '%s')", pm->host_port,
                               proto, inst, rec_str(owner, "Netns") ?: "?");
        r = knet_port_busy(pm->proto, pm->host_port);
        if (r > 0)
                return err_set(err, EADDRINUSE, CODE_PORT_IN_USE, "Host port %u/%s is in use in instance netns '%s' (a process there holds it)",
                               pm->host_port, proto, inst);
        if (r < 0)
                return err_set(err, -r, NULL, "probe host port %u/%s in netns '%s': %s", pm->host_port, proto, inst, strerror(-r));
        return tasknet_owner_put(d, key, netns, err);
}

/* A dynamic host port: the next free one after the protocol's *cursor (moved); recorded for netns. */
static int port_dynamic(struct netd *d, const char *netns, const char *inst, int proto, uint16_t *cursor, uint16_t *ret_port,
                        struct err *err)
{
        struct port_probe probe = { d, inst };
        char key[KEY_MAX];
        uint16_t port;
        int r = portmap_pick(proto, *cursor, port_taken, &probe, &port);
        if (r == -ENOSPC)
                return err_set(err, ENOSPC, CODE_PORT_IN_USE, "No free %s host port left in %d-%d on instance netns '%s'",
                               portmap_proto_name(proto), PORT_EPHEMERAL_MIN, PORT_EPHEMERAL_MAX, inst);
        if (r < 0)
                return err_set(err, -r, NULL, "host port lookup failed");
        *cursor = port;
        tasknet_port_key(key, inst, proto, port);
        if ((r = tasknet_owner_put(d, key, netns, err)) < 0)
                return r;
        *ret_port = port;
        return 0;
}

/* Inside a transaction: the host ports of every mapping, static ones first so that a dynamic pick never
 * takes one this request asks for; cursor[] moves. *ret_binds: NetworkBindings[i] is PortMappings[i] (the
 * caller tells the bindings of its containers apart by position). */
static int ports_reserve(struct netd *d, const char *netns, const char *inst, const struct portmap *pm, size_t npm,
                         uint16_t cursor[PM_NPROTO], json_t **ret_binds, struct err *err)
{
        uint16_t chosen[PORTMAP_MAX];
        json_t *binds;
        int r;
        for (size_t i = 0; i < npm; i++)
                if (pm[i].host_port != 0) {
                        if ((r = port_static(d, netns, inst, &pm[i], err)) < 0)
                                return r;
                        chosen[i] = pm[i].host_port;
                }
        for (size_t i = 0; i < npm; i++)
                if (pm[i].host_port == 0 && (r = port_dynamic(d, netns, inst, pm[i].proto, &cursor[pm[i].proto], &chosen[i], err)) < 0)
                        return r;
        binds = json_array();
        for (size_t i = 0; i < npm; i++)
                json_array_append_new(binds, json_pack("{s:i, s:i, s:s}", "containerPort", (int) pm[i].container_port, "hostPort",
                                                       (int) chosen[i], "protocol", portmap_proto_name(pm[i].proto)));
        *ret_binds = binds;
        return 0;
}

/* A new bridge task record (State creating) with a random host end name and the MAC of its address. */
static int btask_record(const char *netns, const char *inst, json_t *inst_eni, uint32_t ip, json_t *binds, json_t *metadata,
                        json_t **ret_tn, struct err *err)
{
        char ips[IP4_STR_MAX], macs[MAC_STR_MAX], host_if[16], now[32];
        uint8_t rnd[7], mac[6];
        json_t *tn;
        int r;
        if ((r = random_bytes(rnd, sizeof rnd)) < 0)
                return err_set(err, -r, NULL, "random name: %s", strerror(-r));
        snprintf(host_if, sizeof host_if, "k%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6]);
        ip4_format(ip, ips);
        bridge_mac_for_ip(ip, mac);
        mac_format(mac, macs);
        iso8601_ms(-1, now);
        tn = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "Netns", netns, "NetworkMode", "bridge", "State",
                       "creating", "InstanceNetns", inst, "PrivateIpAddress", ips, "MacAddress", macs, "HostIf", host_if, "HostIp",
                       rec_str(inst_eni, "PrivateIpAddress") ?: "", "Bindings", binds, "CreatedTime", now);
        if (metadata)
                json_object_set(tn, "Metadata", metadata);
        *ret_tn = tn;
        return 0;
}

/* Inside a transaction: host ports, the address (ipam.c), the cursors, the task record and the intent. */
static int bridge_reserve(struct netd *d, const char *netns, const char *inst, json_t *inst_eni, const struct portmap *pm,
                          size_t npm, json_t *metadata, json_t **ret_tn, char ikey[64], struct err *err)
{
        _cleanup_json_ json_t *cur = ipam_bridge_cursors(d, inst), *binds = NULL, *tn = NULL, *intent = NULL;
        uint16_t cursor[PM_NPROTO];
        char key[KEY_MAX];
        uint32_t ip;
        int r;

        cursor[PM_TCP] = (uint16_t) json_integer_value(json_object_get(cur, "TcpCursor"));
        cursor[PM_UDP] = (uint16_t) json_integer_value(json_object_get(cur, "UdpCursor"));
        if ((r = ports_reserve(d, netns, inst, pm, npm, cursor, &binds, err)) < 0 ||
            (r = ipam_bridge_take(d, inst, netns, cur, &ip, err)) < 0)
                return r;
        json_object_set_new(cur, "TcpCursor", json_integer(cursor[PM_TCP]));
        json_object_set_new(cur, "UdpCursor", json_integer(cursor[PM_UDP]));
        if ((r = ipam_bridge_cursors_put(d, inst, cur, err)) < 0 ||
            (r = btask_record(netns, inst, inst_eni, ip, binds, metadata, &tn, err)) < 0)
                return r;
        tasknet_key(key, netns);
        intent = json_pack("{s:s, s:s}", "Op", "CreateBridgeTask", "Netns", netns);
        if ((r = store_put(d->store, key, tn, err)) < 0 || (r = intent_add(d, intent, ikey, err)) < 0)
                return r;
        *ret_tn = TAKE_PTR(tn);
        return 0;
}

/* ecsbox0 and the table of an instance, made (with every recorded binding but `exclude`'s) when missing. */
int tasknet_instance_ensure(struct netd *d, const char *inst, const char *exclude, bool force, struct err *err)
{
        struct bindings all = { 0 };
        int r = force ? 1 : knet_bridge_ensure(d->knet, inst, false, NULL, 0, err);
        if (r <= 0)
                return r;
        if ((r = instance_bindings(d, inst, exclude, &all, err)) >= 0)
                r = knet_bridge_ensure(d->knet, inst, true, all.v, all.n, err);
        if (r >= 0)
                log_info("msg=\"instance bridge and NAT table (re)built\" instance_netns=%s bindings=%zu", inst, all.n);
        bindings_free(&all);
        return r;
}

static void ct_flush(struct netd *d, const char *inst, const struct bindings *b)
{
        struct err e = { 0 };
        if (knet_bridge_ct_flush_udp(d->knet, inst, b->v, b->n, &e) < 0)
                log_warning("msg=\"cannot flush UDP conntrack entries, ignoring\" instance_netns=%s err=\"%s\"", inst, e.msg);
}

struct reserve_ctx {
        struct netd *d;
        const char *netns, *inst;
        json_t *inst_eni, *metadata;
        const struct portmap *pm;
        size_t npm;
        json_t *tn;
        char *ikey;
};

/* bridge_reserve inside the instance netns, where its port probes must run. */
static int reserve_in_instance(void *ud, struct err *err)
{
        struct reserve_ctx *c = ud;
        return bridge_reserve(c->d, c->netns, c->inst, c->inst_eni, c->pm, c->npm, c->metadata, &c->tn, c->ikey, err);
}

static int bridge_create(struct netd *d, const struct tasknet_create_req *q, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *inst_eni = NULL, *tn = NULL;
        const char *netns = q->netns, *inst = q->instance_netns;
        struct bindings b = { 0 };
        struct knet_btask bt;
        char key[KEY_MAX], ikey[64];
        int r;

        if ((r = instance_load(d, inst, &inst_eni, err)) < 0 || (r = netns_free(d, netns, err)) < 0)
                return r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        {
                struct reserve_ctx c = { d, netns, inst, inst_eni, q->metadata, q->pm, q->npm, NULL, ikey };
                r = knet_in_instance(d->knet, inst, reserve_in_instance, &c, err);
                tn = c.tn;
        }
        if (r < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        if ((r = tasknet_btask_of(tn, &bt, err)) < 0 || (r = bindings_add(&b, tn)) < 0)
                goto undo;
        if ((r = tasknet_instance_ensure(d, inst, netns, false, err)) < 0 || (r = knet_btask_create(d->knet, &bt, b.v, b.n, err)) < 0)
                goto undo;
        ct_flush(d, inst, &b);
        bindings_free(&b);
        json_object_set_new(tn, "State", json_string("ok"));
        tasknet_key(key, netns);
        if ((r = intent_finish(d, key, tn, ikey, err)) < 0)
                return r;
        log_info("op=CreateTaskNetwork mode=bridge netns=%s instance_netns=%s ip=%s bindings=%zu", netns, inst,
                 rec_str(tn, "PrivateIpAddress"), json_array_size(json_object_get(tn, "Bindings")));
        *ret = json_pack("{s:o}", "TaskNetwork", tasknet_shape(d, tn));
        return 0;
undo:
        bindings_free(&b);
        {
                /* knet removed what it made; give the records back */
                struct err e2 = { 0 };
                if (tasknet_forget(d, tn, ikey, &e2) < 0)
                        log_error("msg=\"cannot release records of a failed create\" netns=%s err=\"%s\"", netns, e2.msg);
        }
        return err_wrap(err, "CreateTaskNetwork netns '%s'", netns);
}

/* Kernel side of a delete, then the records; idempotent (start-up finishes an interrupted one). */
int tasknet_delete_finish(struct netd *d, json_t *tn, const char *ikey, struct err *err)
{
        int r;
        if (strcmp(rec_str(tn, "NetworkMode") ?: "", "bridge") == 0) {
                struct knet_btask bt;
                struct bindings b = { 0 };
                if ((r = tasknet_btask_of(tn, &bt, err)) < 0)
                        return r;
                if ((r = bindings_add(&b, tn)) < 0)
                        return err_set(err, -r, NULL, "netns '%s': corrupt bindings", bt.netns);
                r = knet_btask_delete(d->knet, &bt, b.v, b.n, err);
                if (r >= 0 && knet_netns_exists(d->knet, bt.instance_netns))
                        ct_flush(d, bt.instance_netns, &b);
                bindings_free(&b);
        } else
                r = knet_netns_delete(d->knet, rec_str(tn, "Netns"), err);
        if (r < 0)
                return err_wrap(err, "DeleteTaskNetwork netns '%s'", rec_str(tn, "Netns"));
        return tasknet_forget(d, tn, ikey, err);
}

/* ---- CreateTaskNetwork, DeleteTaskNetwork ---- */

int op_create_task_network(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct tasknet_create_req q;
        char key[KEY_MAX];
        int r;

        if ((r = tasknet_create_req_decode(req, &q, err)) < 0)
                return r;
        switch (q.mode) {
        case TASKNET_AWSVPC:
                /* a new ENI attached to Netns, made by eni.c */
                tasknet_key(key, q.netns);
                if (store_exists(d->store, key) > 0)
                        return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already has a task network", q.netns);
                return eni_task_create(d, &q.eni, q.netns, q.instance_id, q.metadata, ret, err);
        case TASKNET_BRIDGE:
                return bridge_create(d, &q, ret, err);
        case TASKNET_NONE:
                return none_create(d, q.netns, q.metadata, ret, err);
        }
        return err_set(err, EINVAL, NULL, "CreateTaskNetwork: unknown mode %d", (int) q.mode);
}

int op_delete_task_network(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tn = NULL, *intent = NULL;
        struct eni_find_req q;
        const char *netns;
        char key[KEY_MAX], ikey[64];
        int r;

        if ((r = tasknet_delete_req_decode(req, &q, err)) < 0)
                return r;
        /* a bridge or none task network is named by its Netns alone; anything else is an ENI's (eni.c) */
        netns = q.netns;
        if (!netns || q.eni_id)
                return eni_task_delete(d, &q, ret, err);
        tasknet_key(key, netns);
        if (store_get(d->store, key, &tn, NULL) < 0)
                return eni_task_delete(d, &q, ret, err);
        intent = json_pack("{s:s, s:s}", "Op", strcmp(rec_str(tn, "NetworkMode") ?: "", "bridge") == 0 ? "DeleteBridgeTask" : "DeleteNoneTask",
                           "Netns", netns);
        if ((r = intent_add(d, intent, ikey, err)) < 0 || (r = tasknet_delete_finish(d, tn, ikey, err)) < 0)
                return r;
        log_info("op=DeleteTaskNetwork mode=%s netns=%s", rec_str(tn, "NetworkMode"), netns);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int tasknet_netns_check(struct netd *d, const char *netns, struct err *err)
{
        char key[KEY_MAX];
        tasknet_key(key, netns);
        if (store_exists(d->store, key) > 0)
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' has a %s task network; a network interface cannot be attached to it", netns, "bridge or none");
        return 0;
}

int tasknet_instance_check(struct netd *d, json_t *eni, struct err *err)
{
        const char *netns = rec_str(json_object_get(eni, "ebxAttachment"), "Netns");
        long n;
        if (!netns)
                return 0;
        n = ipam_bridge_count(d, netns, err);
        if (n < 0)
                return (int) n;
        if (n > 0)
                return err_set(err, EBUSY, "DependencyViolation",
                               "Network interface '%s' is the instance ENI of netns '%s', which still has %ld bridge task network(s)",
                               rec_str(eni, "NetworkInterfaceId"), netns, n);
        return 0;
}

/* ---- DescribeTaskNetworks ---- */

struct awsvpc_collect {
        struct netd *d;
        json_t *out;
        json_t *want;    /* object of wanted names, or NULL */
};

static int awsvpc_cb(const char *key, json_t *e, void *ud)
{
        struct awsvpc_collect *c = ud;
        json_t *att = json_object_get(e, "ebxAttachment");
        const char *netns = rec_str(att, "Netns");
        char path[512];
        json_t *o;
        if (!att || !netns || (c->want && !json_object_get(c->want, netns)))
                return 0;
        (void) knet_netns_path(c->d->knet, netns, path, sizeof path);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Netns", netns, "NetnsPath", path, "NetworkMode", "awsvpc",
                      "NetworkInterfaceId", rec_str(e, "NetworkInterfaceId"), "SubnetId", rec_str(e, "SubnetId"), "PrivateIpAddress",
                      rec_str(e, "PrivateIpAddress"), "MacAddress", rec_str(e, "MacAddress"));
        if (json_object_get(e, "ebxMetadata"))
                json_object_set(o, "Metadata", json_object_get(e, "ebxMetadata"));
        eni_task_dns(c->d, rec_str(e, "VpcId"), o);
        return json_array_append_new(c->out, o);
}

int op_describe_task_networks(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *want = NULL, *all = NULL;
        struct tasknet_describe_req q;
        json_t *out, *tn, *v;
        const char *inst;
        size_t i;
        int r;

        if ((r = tasknet_describe_req_decode(req, &q, err)) < 0)
                return r;
        inst = q.instance_netns;
        if (q.names) {
                want = json_object();
                json_array_foreach(q.names, i, v)
                        json_object_set_new(want, json_string_value(v), json_false());
        }
        if ((r = tasknet_list(d, inst, NULL, &all, err)) < 0)
                return r;
        out = json_array();
        json_array_foreach(all, i, tn) {
                json_t *w = want ? json_object_get(want, rec_str(tn, "Netns")) : NULL;
                if (want && !w)
                        continue;
                if (w)
                        json_object_set_new(want, rec_str(tn, "Netns"), json_true());
                json_array_append_new(out, tasknet_shape(d, tn));
        }
        if (!inst) {
                struct awsvpc_collect c = { d, out, want };
                if ((r = store_list(d->store, "eni/", awsvpc_cb, &c, err)) < 0) {
                        json_decref(out);
                        return r;
                }
                json_array_foreach(out, i, tn)
                        if (want && json_object_get(want, rec_str(tn, "Netns")))
                                json_object_set_new(want, rec_str(tn, "Netns"), json_true());
        }
        if (want) {
                const char *name;
                json_object_foreach(want, name, v)
                        if (!json_is_true(v)) {
                                json_decref(out);
                                return err_set(err, ENOENT, CODE_NETNS_NOTFOUND, "The task network of netns '%s' does not exist%s", name,
                                               inst ? " on that instance" : "");
                        }
        }
        *ret = json_pack("{s:o}", "TaskNetworks", out);
        return 0;
}
