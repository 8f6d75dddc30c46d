/* tasknet.c: ECS `bridge` and `none` task networks: CreateTaskNetwork modes, DeleteTaskNetwork, DescribeTaskNetworks, records, intents, repair.
 *
 * Records (lib/store.c):
 *   tasknet/NETNS                 {Netns, NetworkMode, State creating|ok, InstanceNetns, PrivateIpAddress,
 *                                  MacAddress, HostIf, HostIp, Bindings[{containerPort, hostPort, protocol}], Metadata}
 *   bridge/INSTANCE               {IpCursor, TcpCursor, UdpCursor}: round-robin cursors of one instance
 *   bip/INSTANCE/IPHEX            {Netns}: a bridge address lease
 *   bport/INSTANCE/PROTO/PORT     {Netns}: a published host port
 *   intent/SEQ                    {Op CreateBridgeTask|DeleteBridgeTask|CreateNoneTask|DeleteNoneTask, Netns}
 * Every create first commits the records with State creating and an intent,
 * then changes the kernel, then marks the record ok and drops the intent;
 * start-up rolls an interrupted create back and finishes an interrupted delete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecsbox/log.h"
#include "ecsbox/timeutil.h"
#include "kernel/knet_bridge.h"
#include "netd.h"
#include "portmap.h"
#include "tasknet.h"

#define CODE_NETNS_NOTFOUND "InvalidNetns.NotFound"
#define CODE_PORT_IN_USE "PortInUse"

static const char *str(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static void tn_key(char buf[KEY_MAX], const char *netns)
{
        snprintf(buf, KEY_MAX, "tasknet/%s", netns);
}

static void bip_key(char buf[KEY_MAX], const char *inst, uint32_t ip)
{
        snprintf(buf, KEY_MAX, "bip/%s/%08x", inst, ip);
}

static void bport_key(char buf[KEY_MAX], const char *inst, int proto, unsigned port)
{
        snprintf(buf, KEY_MAX, "bport/%s/%s/%05u", inst, portmap_proto_name(proto), port);
}

static int put_doc(struct netd *d, const char *key, const char *netns, struct err *err)
{
        json_t *v = json_pack("{s:s}", "Netns", netns);
        int r = store_put(d->store, key, v, err);
        json_decref(v);
        return r;
}

/* ---- names ---- */

static int netns_name_check(const char *name, const char *member, struct err *err)
{
        size_t n = strlen(name);
        bool ok = n > 0 && n <= 64 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
        for (const char *p = name; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
                     *p == '-';
        if (!ok)
                return err_set(err, EINVAL, JERR_INVALID, "Invalid %s '%s': 1 to 64 characters from [A-Za-z0-9_.-]", member, name);
        if (strncmp(name, "ebx-vpc-", 8) == 0)
                return err_set(err, EPERM, JERR_INVALID, "Invalid %s '%s': names starting with 'ebx-vpc-' belong to netd's VPC routers", member, name);
        return 0;
}

/* A new task netns name: not a task network, not an ENI's netns, not any existing namespace. */
static int netns_free(struct netd *d, const char *netns, struct err *err)
{
        char key[KEY_MAX];
        tn_key(key, netns);
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
        key_fmt(key, "eni", str(idx, "NetworkInterfaceId"));
        r = store_get(d->store, key, &eni, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, CODE_NETNS_NOTFOUND, "The instance netns '%s' holds no network interface of netd", inst);
        if (r < 0)
                return r;
        if (strcmp(str(json_object_get(eni, "ebxAttachment"), "Status") ?: "", "attached") != 0 || !knet_netns_exists(d->knet, inst)) {
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
        if (ip4_parse(str(tn, "PrivateIpAddress"), &ip) < 0)
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
                b->v[b->n].proto = (uint8_t) (portmap_proto_parse(str(x, "protocol")) == PORTMAP_PROTO_UDP ? PM_UDP : PM_TCP);
                b->v[b->n].host_port = (uint16_t) json_integer_value(json_object_get(x, "hostPort"));
                b->v[b->n].container_port = (uint16_t) json_integer_value(json_object_get(x, "containerPort"));
                b->v[b->n].task_ip = ip;
                b->n++;
        }
        return 0;
}

static int btask_of(json_t *tn, struct knet_btask *ret, struct err *err)
{
        memset(ret, 0, sizeof *ret);
        ret->instance_netns = str(tn, "InstanceNetns");
        ret->netns = str(tn, "Netns");
        ret->host_if = str(tn, "HostIf");
        if (!ret->instance_netns || !ret->netns || !ret->host_if || ip4_parse(str(tn, "PrivateIpAddress"), &ret->ip) < 0 ||
            mac_parse(str(tn, "MacAddress"), ret->mac) < 0)
                return err_set(err, EIO, NULL, "task network of netns '%s': corrupt record", str(tn, "Netns") ?: "?");
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
        if (c->instance && strcmp(str(v, "InstanceNetns") ?: "", c->instance) != 0)
                return 0;
        if (c->exclude && strcmp(str(v, "Netns") ?: "", c->exclude) == 0)
                return 0;
        return json_array_append(c->items, v);
}

static int tasknets_list(struct netd *d, const char *instance, const char *exclude, json_t **ret, struct err *err)
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
        if ((r = tasknets_list(d, inst, exclude, &all, err)) < 0)
                return r;
        json_array_foreach(all, i, tn)
                if ((r = bindings_add(ret, tn)) < 0)
                        return err_set(err, -r, NULL, "bindings of netns '%s': corrupt record", str(tn, "Netns"));
        return 0;
}

/* Drop the records of a task network (and the intent), in one transaction. */
static int tasknet_forget(struct netd *d, json_t *tn, const char *ikey, struct err *err)
{
        const char *inst = str(tn, "InstanceNetns");
        char key[KEY_MAX];
        uint32_t ip;
        json_t *x;
        size_t i;
        int r;

        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if (inst && ip4_parse(str(tn, "PrivateIpAddress"), &ip) == 0) {
                bip_key(key, inst, ip);
                r = store_del(d->store, key, err);
        }
        json_array_foreach(json_object_get(tn, "Bindings"), i, x) {
                int p = portmap_proto_parse(str(x, "protocol"));
                if (r < 0 || !inst || p < 0)
                        continue;
                bport_key(key, inst, p, (unsigned) json_integer_value(json_object_get(x, "hostPort")));
                r = store_del(d->store, key, err);
        }
        tn_key(key, str(tn, "Netns"));
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
        const char *mode = str(tn, "NetworkMode") ?: "none";
        json_t *o, *b = json_array(), *x;
        size_t i;

        (void) knet_netns_path(d->knet, str(tn, "Netns"), path, sizeof path);
        o = json_pack("{s:s, s:s, s:s}", "Netns", str(tn, "Netns"), "NetnsPath", path, "NetworkMode", mode);
        if (strcmp(mode, "bridge") == 0) {
                json_array_foreach(json_object_get(tn, "Bindings"), i, x)
                        json_array_append_new(b, json_pack("{s:s, s:O, s:O, s:O}", "bindIP", "0.0.0.0", "containerPort",
                                                           json_object_get(x, "containerPort"), "hostPort",
                                                           json_object_get(x, "hostPort"), "protocol", json_object_get(x, "protocol")));
                json_object_set_new(o, "InstanceNetns", json_string(str(tn, "InstanceNetns")));
                json_object_set_new(o, "PrivateIpAddress", json_string(str(tn, "PrivateIpAddress")));
                json_object_set_new(o, "MacAddress", json_string(str(tn, "MacAddress")));
                json_object_set_new(o, "HostIp", json_string(str(tn, "HostIp") ?: ""));
                json_object_set_new(o, "NetworkBindings", b);
        } else
                json_decref(b);
        if (json_object_get(tn, "Metadata"))
                json_object_set(o, "Metadata", json_object_get(tn, "Metadata"));
        if (str(tn, "CreatedTime"))
                json_object_set_new(o, "CreatedTime", json_string(str(tn, "CreatedTime")));
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
        tn_key(key, netns);
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = store_put(d->store, key, tn, err)) < 0 || (r = intent_add(d, intent, ikey, err)) < 0 ||
            (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        r = knet_none_create(d->knet, netns, err);
        if (r < 0) {
                struct err e2 = { 0 };
                (void) tasknet_forget(d, tn, ikey, &e2);
                return err_wrap(err, "CreateTaskNetwork netns '%s'", netns);
        }
        json_object_set_new(tn, "State", json_string("ok"));
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = store_put(d->store, key, tn, err)) < 0 || (r = intent_done(d, ikey, err)) < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
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
        bport_key(key, p->inst, proto, port);
        if ((r = store_exists(p->d->store, key)) != 0)
                return r;
        return knet_port_busy(proto, port);
}

static int ip_taken(uint32_t ip, void *ud)
{
        struct port_probe *p = ud;
        char key[KEY_MAX];
        bip_key(key, p->inst, ip);
        return store_exists(p->d->store, key);
}

/* Inside a transaction: host ports (static ones checked, dynamic ones
 * picked), the address, the cursors, the task record and the intent. */
static int bridge_reserve(struct netd *d, const char *netns, const char *inst, json_t *inst_eni, const struct portmap *pm,
                          size_t npm, json_t *metadata, json_t **ret_tn, char ikey[64], struct err *err)
{
        struct port_probe probe = { d, inst };
        _cleanup_json_ json_t *cur = NULL, *intent = NULL;
        json_t *tn, *binds = json_array();
        uint16_t cursor[PM_NPROTO], chosen[PORTMAP_MAX];
        char key[KEY_MAX], ips[IP4_STR_MAX], macs[MAC_STR_MAX], host_if[16], now[32];
        uint8_t rnd[7], mac[6];
        uint32_t ip;
        int r;

        snprintf(key, sizeof key, "bridge/%s", inst);
        if (store_get(d->store, key, &cur, NULL) < 0)
                cur = json_object();
        cursor[PM_TCP] = (uint16_t) json_integer_value(json_object_get(cur, "TcpCursor"));
        cursor[PM_UDP] = (uint16_t) json_integer_value(json_object_get(cur, "UdpCursor"));
        /* static ports first, so a dynamic pick never takes one this request asks for */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < npm; i++) {
                        uint16_t port = pm[i].host_port;
                        if ((pass == 0) != (port != 0))
                                continue;
                        if (pass == 0) {
                                _cleanup_json_ json_t *owner = NULL;
                                bport_key(key, inst, pm[i].proto, port);
                                r = store_get(d->store, key, &owner, NULL);
                                if (r == 0) {
                                        json_decref(binds);
                                        return err_set(err, EADDRINUSE, CODE_PORT_IN_USE,
                                                       "Host port %u/%s is already published on instance netns '%s' (by task netns '%s')",
                                                       port, portmap_proto_name(pm[i].proto), inst, str(owner, "Netns") ?: "?");
                                }
                                r = knet_port_busy(pm[i].proto, port);
                                if (r != 0) {
                                        json_decref(binds);
                                        if (r > 0)
                                                return err_set(err, EADDRINUSE, CODE_PORT_IN_USE,
                                                               "Host port %u/%s is in use in instance netns '%s' (a process there holds it)",
                                                               port, portmap_proto_name(pm[i].proto), inst);
                                        return err_set(err, -r, NULL, "probe host port %u/%s in netns '%s': %s", port,
                                                       portmap_proto_name(pm[i].proto), inst, strerror(-r));
                                }
                        } else {
                                r = portmap_pick(pm[i].proto, cursor[pm[i].proto], port_taken, &probe, &port);
                                if (r == -ENOSPC) {
                                        json_decref(binds);
                                        return err_set(err, ENOSPC, CODE_PORT_IN_USE, "No free %s host port left in %d-%d on instance netns '%s'",
                                                       portmap_proto_name(pm[i].proto), PORT_EPHEMERAL_MIN, PORT_EPHEMERAL_MAX, inst);
                                }
                                if (r < 0) {
                                        json_decref(binds);
                                        return err_set(err, -r, NULL, "host port lookup failed");
                                }
                                cursor[pm[i].proto] = port;
                                bport_key(key, inst, pm[i].proto, port);
                        }
                        if ((r = put_doc(d, key, netns, err)) < 0) {
                                json_decref(binds);
                                return r;
                        }
                        chosen[i] = port;
                }
        /* NetworkBindings[i] is PortMappings[i]: the caller tells the bindings of its containers apart by position */
        for (size_t i = 0; i < npm; i++)
                json_array_append_new(binds, json_pack("{s:i, s:i, s:s}", "containerPort", (int) pm[i].container_port, "hostPort",
                                                       (int) chosen[i], "protocol", portmap_proto_name(pm[i].proto)));
        r = bridge_ip_pick((uint32_t) json_integer_value(json_object_get(cur, "IpCursor")), ip_taken, &probe, &ip);
        if (r < 0) {
                json_decref(binds);
                if (r == -ENOSPC)
                        return err_set(err, ENOSPC, "InsufficientFreeAddressesInSubnet", "No free address left on " BRIDGE_IFNAME " of instance netns '%s'", inst);
                return err_set(err, -r, NULL, "bridge address lookup failed");
        }
        bip_key(key, inst, ip);
        if ((r = put_doc(d, key, netns, err)) < 0) {
                json_decref(binds);
                return r;
        }
        json_object_set_new(cur, "IpCursor", json_integer(ip));
        json_object_set_new(cur, "TcpCursor", json_integer(cursor[PM_TCP]));
        json_object_set_new(cur, "UdpCursor", json_integer(cursor[PM_UDP]));
        snprintf(key, sizeof key, "bridge/%s", inst);
        if ((r = store_put(d->store, key, cur, err)) < 0) {
                json_decref(binds);
                return r;
        }
        if ((r = random_bytes(rnd, sizeof rnd)) < 0) {
                json_decref(binds);
                return err_set(err, -r, NULL, "random name: %s", strerror(-r));
        }
        snprintf(host_if, sizeof host_if, "k%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6]);
        ip4_format(ip, ips);
        bridge_mac_for_ip(ip, mac);
        mac_format(mac, macs);
        iso8601_ms(-1, now);
        tn = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "Netns", netns, "NetworkMode", "bridge", "State",
                       "creating", "InstanceNetns", inst, "PrivateIpAddress", ips, "MacAddress", macs, "HostIf", host_if, "HostIp",
                       str(inst_eni, "PrivateIpAddress") ?: "", "Bindings", binds, "CreatedTime", now);
        if (metadata)
                json_object_set(tn, "Metadata", metadata);
        tn_key(key, netns);
        intent = json_pack("{s:s, s:s}", "Op", "CreateBridgeTask", "Netns", netns);
        if ((r = store_put(d->store, key, tn, err)) < 0 || (r = intent_add(d, intent, ikey, err)) < 0) {
                json_decref(tn);
                return r;
        }
        *ret_tn = tn;
        return 0;
}

/* ecsbox0 and the table of an instance, made (with every recorded binding but `exclude`'s) when missing. */
static int instance_ensure(struct netd *d, const char *inst, const char *exclude, bool force, struct err *err)
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

static int bridge_create(struct netd *d, json_t *req, const char *netns, json_t *metadata, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *inst_eni = NULL, *tn = NULL;
        struct portmap pm[PORTMAP_MAX];
        struct bindings b = { 0 };
        struct knet_btask bt;
        const char *inst;
        size_t npm = 0;
        char key[KEY_MAX], ikey[64];
        int r;

        if ((r = json_get_string(req, "InstanceNetns", true, &inst, err)) < 0 ||
            (r = netns_name_check(inst, "InstanceNetns", err)) < 0 ||
            (r = portmap_parse(json_object_get(req, "PortMappings"), pm, &npm, err)) < 0 ||
            (r = instance_load(d, inst, &inst_eni, err)) < 0 || (r = netns_free(d, netns, err)) < 0)
                return r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        {
                struct reserve_ctx c = { d, netns, inst, inst_eni, metadata, pm, npm, NULL, ikey };
                r = knet_in_instance(d->knet, inst, reserve_in_instance, &c, err);
                tn = c.tn;
        }
        if (r < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        if ((r = btask_of(tn, &bt, err)) < 0 || (r = bindings_add(&b, tn)) < 0)
                goto undo;
        if ((r = instance_ensure(d, inst, netns, false, err)) < 0 || (r = knet_btask_create(d->knet, &bt, b.v, b.n, err)) < 0)
                goto undo;
        ct_flush(d, inst, &b);
        bindings_free(&b);
        json_object_set_new(tn, "State", json_string("ok"));
        tn_key(key, netns);
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = store_put(d->store, key, tn, err)) < 0 || (r = intent_done(d, ikey, err)) < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        log_info("op=CreateTaskNetwork mode=bridge netns=%s instance_netns=%s ip=%s bindings=%zu", netns, inst,
                 str(tn, "PrivateIpAddress"), json_array_size(json_object_get(tn, "Bindings")));
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
static int tasknet_delete_finish(struct netd *d, json_t *tn, const char *ikey, struct err *err)
{
        int r;
        if (strcmp(str(tn, "NetworkMode") ?: "", "bridge") == 0) {
                struct knet_btask bt;
                struct bindings b = { 0 };
                if ((r = btask_of(tn, &bt, err)) < 0)
                        return r;
                if ((r = bindings_add(&b, tn)) < 0)
                        return err_set(err, -r, NULL, "netns '%s': corrupt bindings", bt.netns);
                r = knet_btask_delete(d->knet, &bt, b.v, b.n, err);
                if (r >= 0 && knet_netns_exists(d->knet, bt.instance_netns))
                        ct_flush(d, bt.instance_netns, &b);
                bindings_free(&b);
        } else
                r = knet_netns_delete(d->knet, str(tn, "Netns"), err);
        if (r < 0)
                return err_wrap(err, "DeleteTaskNetwork netns '%s'", str(tn, "Netns"));
        return tasknet_forget(d, tn, ikey, err);
}

/* ---- hooks from eni.c ---- */

int tasknet_create_hook(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const bridge_keys[] = { "Action", "NetworkMode", "Netns", "InstanceNetns", "PortMappings", "Metadata", NULL };
        static const char *const none_keys[] = { "Action", "NetworkMode", "Netns", "Metadata", NULL };
        const char *mode = "awsvpc", *netns = NULL;
        json_t *metadata = NULL;
        char key[KEY_MAX];
        int r;

        if ((r = json_get_string(req, "NetworkMode", false, &mode, err)) < 0)
                return r;
        if (strcmp(mode, "awsvpc") == 0) {
                if ((r = json_get_string(req, "Netns", false, &netns, err)) < 0)
                        return r;
                if (netns) {
                        tn_key(key, netns);
                        if (store_exists(d->store, key) > 0)
                                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already has a task network", netns);
                }
                json_object_del(req, "NetworkMode");
                return 0;
        }
        if (strcmp(mode, "bridge") != 0 && strcmp(mode, "none") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value '%s' for NetworkMode: expected awsvpc, bridge or none%s", mode,
                               strcmp(mode, "host") == 0 ? " (host mode shares the instance's namespace: there is nothing for netd to make)" : "");
        if ((r = json_check_keys(req, strcmp(mode, "bridge") == 0 ? bridge_keys : none_keys, err)) < 0 ||
            (r = json_get_string(req, "Netns", true, &netns, err)) < 0 || (r = netns_name_check(netns, "Netns", err)) < 0 ||
            (r = json_get_object(req, "Metadata", false, &metadata, err)) < 0)
                return r;
        r = strcmp(mode, "bridge") == 0 ? bridge_create(d, req, netns, metadata, ret, err) : none_create(d, netns, metadata, ret, err);
        return r < 0 ? r : 1;
}

int tasknet_delete_hook(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tn = NULL, *intent = NULL;
        const char *netns = NULL;
        char key[KEY_MAX], ikey[64];
        int r;

        if (json_get_string(req, "Netns", false, &netns, NULL) <= 0 || json_object_get(req, "NetworkInterfaceId"))
                return 0;
        tn_key(key, netns);
        if (store_get(d->store, key, &tn, NULL) < 0)
                return 0;
        intent = json_pack("{s:s, s:s}", "Op", strcmp(str(tn, "NetworkMode") ?: "", "bridge") == 0 ? "DeleteBridgeTask" : "DeleteNoneTask",
                           "Netns", netns);
        if ((r = intent_add(d, intent, ikey, err)) < 0 || (r = tasknet_delete_finish(d, tn, ikey, err)) < 0)
                return r;
        log_info("op=DeleteTaskNetwork mode=%s netns=%s", str(tn, "NetworkMode"), netns);
        *ret = json_pack("{s:b}", "Return", 1);
        return 1;
}

int tasknet_netns_check(struct netd *d, const char *netns, struct err *err)
{
        char key[KEY_MAX];
        tn_key(key, netns);
        if (store_exists(d->store, key) > 0)
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' has a %s task network; a network interface cannot be attached to it", netns, "bridge or none");
        return 0;
}

int tasknet_instance_check(struct netd *d, json_t *eni, struct err *err)
{
        const char *netns = str(json_object_get(eni, "ebxAttachment"), "Netns");
        char prefix[KEY_MAX];
        long n;
        if (!netns)
                return 0;
        snprintf(prefix, sizeof prefix, "bip/%s/", netns);
        n = store_count(d->store, prefix, err);
        if (n < 0)
                return (int) n;
        if (n > 0)
                return err_set(err, EBUSY, "DependencyViolation",
                               "Network interface '%s' is the instance ENI of netns '%s', which still has %ld bridge task network(s)",
                               str(eni, "NetworkInterfaceId"), netns, n);
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
        const char *netns = str(att, "Netns");
        char path[512];
        json_t *o;
        if (!att || !netns || (c->want && !json_object_get(c->want, netns)))
                return 0;
        (void) knet_netns_path(c->d->knet, netns, path, sizeof path);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Netns", netns, "NetnsPath", path, "NetworkMode", "awsvpc",
                      "NetworkInterfaceId", str(e, "NetworkInterfaceId"), "SubnetId", str(e, "SubnetId"), "PrivateIpAddress",
                      str(e, "PrivateIpAddress"), "MacAddress", str(e, "MacAddress"));
        if (json_object_get(e, "ebxMetadata"))
                json_object_set(o, "Metadata", json_object_get(e, "ebxMetadata"));
        return json_array_append_new(c->out, o);
}

int op_describe_task_networks(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "Netns", "InstanceNetns", NULL };
        _cleanup_json_ json_t *want = NULL, *all = NULL;
        json_t *names = NULL, *out, *tn, *v;
        const char *inst = NULL;
        size_t i;
        int r;

        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_array(req, "Netns", false, &names, err)) < 0 ||
            (r = json_get_string(req, "InstanceNetns", false, &inst, err)) < 0)
                return r;
        if (names) {
                want = json_object();
                json_array_foreach(names, i, v) {
                        if (!json_is_string(v))
                                return err_set(err, EINVAL, JERR_INVALID, "Netns.%zu must be a string", i + 1);
                        json_object_set_new(want, json_string_value(v), json_false());
                }
        }
        if ((r = tasknets_list(d, inst, NULL, &all, err)) < 0)
                return r;
        out = json_array();
        json_array_foreach(all, i, tn) {
                json_t *w = want ? json_object_get(want, str(tn, "Netns")) : NULL;
                if (want && !w)
                        continue;
                if (w)
                        json_object_set_new(want, str(tn, "Netns"), json_true());
                json_array_append_new(out, tasknet_shape(d, tn));
        }
        if (!inst) {
                struct awsvpc_collect c = { d, out, want };
                if ((r = store_list(d->store, "eni/", awsvpc_cb, &c, err)) < 0) {
                        json_decref(out);
                        return r;
                }
                json_array_foreach(out, i, tn)
                        if (want && json_object_get(want, str(tn, "Netns")))
                                json_object_set_new(want, str(tn, "Netns"), json_true());
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

/* ---- start-up ---- */

static int load_tn(struct netd *d, const char *netns, json_t **ret)
{
        char key[KEY_MAX];
        if (!netns)
                return -ENOENT;
        tn_key(key, netns);
        return store_get(d->store, key, ret, NULL);
}

int tasknet_replay_intent(struct netd *d, const char *ikey, json_t *intent, struct err *err)
{
        const char *op = str(intent, "Op") ?: "";
        _cleanup_json_ json_t *tn = NULL;
        bool create;
        int r = 0;

        if (strcmp(op, "CreateBridgeTask") != 0 && strcmp(op, "DeleteBridgeTask") != 0 && strcmp(op, "CreateNoneTask") != 0 &&
            strcmp(op, "DeleteNoneTask") != 0)
                return 0;
        create = strncmp(op, "Create", 6) == 0;
        if (load_tn(d, str(intent, "Netns"), &tn) == 0) {
                if (create && strcmp(str(tn, "NetworkMode") ?: "", "bridge") == 0) {
                        /* roll back: links and netns; the table is rebuilt from the records later */
                        struct knet_btask bt;
                        if ((r = btask_of(tn, &bt, err)) < 0 || (r = knet_btask_remove_links(d->knet, &bt, err)) < 0)
                                return r;
                        r = tasknet_forget(d, tn, ikey, err);
                } else
                        r = tasknet_delete_finish(d, tn, ikey, err);
                if (r < 0)
                        return r;
        } else if ((r = intent_done(d, ikey, err)) < 0)
                return r;
        log_notice("msg=\"repaired interrupted operation\" op=%s netns=%s intent=%s action=%s", op, str(intent, "Netns") ?: "?", ikey,
                   create ? "rolled back" : "finished");
        return 1;
}

struct link_sweep {
        struct netd *d;
        const char *inst;
        json_t *owned;
        int removed;
};

static bool host_end_pattern(const char *name)
{
        if (strlen(name) != 15 || name[0] != 'k')
                return false;
        for (const char *p = name + 1; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static int link_sweep_cb(const char *ifname, const char *kind, void *ud)
{
        struct link_sweep *s = ud;
        struct err e = { 0 };
        if (!host_end_pattern(ifname) || json_object_get(s->owned, ifname))
                return 0;
        if (knet_link_delete(s->d->knet, s->inst, ifname, &e) < 0)
                log_warning("msg=\"cannot remove unowned bridge port, ignoring\" netns=%s link=%s err=\"%s\"", s->inst, ifname, e.msg);
        else {
                log_notice("msg=\"removed unowned bridge port\" netns=%s link=%s", s->inst, ifname);
                s->removed++;
        }
        return 0;
}

struct index_sweep {
        struct netd *d;
        json_t *keys;   /* [key, ...] to delete */
        json_t *owner;  /* "inst\nnetns" of live records */
};

static int index_cb(const char *key, json_t *v, void *ud)
{
        struct index_sweep *s = ud;
        /* bip/INST/... and bport/INST/...: the owner must be a bridge task of INST */
        const char *p = strchr(key, '/') + 1, *q = strchr(p, '/');
        char owner[KEY_MAX * 2];
        if (!q)
                return json_array_append_new(s->keys, json_string(key));
        snprintf(owner, sizeof owner, "%.*s\n%s", (int) (q - p), p, str(v, "Netns") ?: "");
        if (!json_object_get(s->owner, owner))
                return json_array_append_new(s->keys, json_string(key));
        return 0;
}

struct eni_instances {
        json_t *netns;  /* object: attached ENI netns -> true */
};

static int eni_inst_cb(const char *key, json_t *e, void *ud)
{
        struct eni_instances *c = ud;
        const char *netns = str(json_object_get(e, "ebxAttachment"), "Netns");
        if (netns)
                json_object_set_new(c->netns, netns, json_true());
        return 0;
}

int tasknet_reconcile(struct netd *d, struct err *err)
{
        _cleanup_json_ json_t *all = NULL, *owner = NULL, *by_inst = NULL, *stale = NULL;
        struct eni_instances ei = { json_object() };
        json_t *tn, *list, *k;
        const char *inst;
        size_t i;
        int repaired = 0, r;

        if ((r = tasknets_list(d, NULL, NULL, &all, err)) < 0 || (r = store_list(d->store, "eni/", eni_inst_cb, &ei, err)) < 0) {
                json_decref(ei.netns);
                return r;
        }
        owner = json_object();
        by_inst = json_object();
        json_array_foreach(all, i, tn) {
                const char *netns = str(tn, "Netns");
                struct err e = { 0 };
                if (strcmp(str(tn, "NetworkMode") ?: "", "bridge") != 0) {
                        if (!knet_netns_exists(d->knet, netns)) {
                                if (knet_none_create(d->knet, netns, &e) < 0)
                                        log_error("msg=\"cannot re-create none task netns\" netns=%s err=\"%s\"", netns, e.msg);
                                else {
                                        log_notice("msg=\"re-created missing none task netns\" netns=%s", netns);
                                        repaired++;
                                }
                        }
                        continue;
                }
                inst = str(tn, "InstanceNetns");
                if (!inst || !json_object_get(ei.netns, inst)) {
                        /* its instance is gone: so is the task's network */
                        struct knet_btask bt;
                        log_notice("msg=\"removing bridge task network of a vanished instance\" netns=%s instance_netns=%s", netns, inst ?: "?");
                        if (btask_of(tn, &bt, &e) == 0)
                                (void) knet_btask_remove_links(d->knet, &bt, &e);
                        (void) tasknet_forget(d, tn, NULL, &e);
                        repaired++;
                        continue;
                }
                {
                        char o[KEY_MAX * 2];
                        snprintf(o, sizeof o, "%s\n%s", inst, netns);
                        json_object_set_new(owner, o, json_true());
                }
                list = json_object_get(by_inst, inst);
                if (!list) {
                        list = json_array();
                        json_object_set_new(by_inst, inst, list);
                }
                json_array_append(list, tn);
        }
        /* instances with no bridge task left but a table from before: emptied, kept */
        {
                const char *n;
                json_t *v;
                json_object_foreach(ei.netns, n, v)
                        if (!json_object_get(by_inst, n) && knet_netns_exists(d->knet, n) && knet_bridge_has_table(d->knet, n))
                                json_object_set_new(by_inst, n, json_array());
        }
        json_decref(ei.netns);

        json_object_foreach(by_inst, inst, list) {
                struct link_sweep s = { d, inst, json_object(), 0 };
                struct err e = { 0 };
                if (instance_ensure(d, inst, NULL, true, &e) < 0) {
                        log_error("msg=\"cannot repair instance bridge\" instance_netns=%s err=\"%s\"", inst, e.msg);
                        json_decref(s.owned);
                        continue;
                }
                json_array_foreach(list, i, tn) {
                        struct knet_btask bt;
                        err_clear(&e);
                        if (btask_of(tn, &bt, &e) < 0) {
                                log_error("msg=\"corrupt bridge task record, ignoring\" netns=%s", str(tn, "Netns"));
                                continue;
                        }
                        json_object_set_new(s.owned, bt.host_if, json_true());
                        if (knet_btask_check(d->knet, &bt, &e) == 0)
                                continue;
                        log_notice("msg=\"bridge task network not as recorded, re-creating\" netns=%s why=\"%s\"", bt.netns, e.msg);
                        err_clear(&e);
                        /* the elements are in the rebuilt table already */
                        if (knet_btask_repair(d->knet, &bt, &e) < 0)
                                log_error("msg=\"cannot re-create bridge task network\" netns=%s err=\"%s\"", bt.netns, e.msg);
                        else
                                repaired++;
                }
                err_clear(&e);
                if (knet_link_list(d->knet, inst, link_sweep_cb, &s, &e) < 0)
                        log_warning("msg=\"cannot list links, ignoring\" netns=%s err=\"%s\"", inst, e.msg);
                repaired += s.removed;
                json_decref(s.owned);
        }

        /* index records: released when their task is gone, restored when missing */
        {
                struct index_sweep s = { d, json_array(), owner };
                if ((r = store_list(d->store, "bip/", index_cb, &s, err)) < 0 || (r = store_list(d->store, "bport/", index_cb, &s, err)) < 0) {
                        json_decref(s.keys);
                        return r;
                }
                stale = s.keys;
        }
        json_array_foreach(stale, i, k) {
                (void) store_del(d->store, json_string_value(k), NULL);
                log_notice("msg=\"released record of a vanished bridge task\" key=%s", json_string_value(k));
                repaired++;
        }
        json_object_foreach(by_inst, inst, list)
                json_array_foreach(list, i, tn) {
                        char key[KEY_MAX];
                        uint32_t ip;
                        json_t *x;
                        size_t j;
                        if (ip4_parse(str(tn, "PrivateIpAddress"), &ip) == 0) {
                                bip_key(key, inst, ip);
                                if (store_exists(d->store, key) == 0 && put_doc(d, key, str(tn, "Netns"), NULL) >= 0)
                                        repaired++;
                        }
                        json_array_foreach(json_object_get(tn, "Bindings"), j, x) {
                                int p = portmap_proto_parse(str(x, "protocol"));
                                if (p < 0)
                                        continue;
                                bport_key(key, inst, p, (unsigned) json_integer_value(json_object_get(x, "hostPort")));
                                if (store_exists(d->store, key) == 0 && put_doc(d, key, str(tn, "Netns"), NULL) >= 0)
                                        repaired++;
                        }
                }
        log_info("msg=\"reconciled task networks\" task_networks=%zu instances=%zu repairs=%d", json_array_size(all),
                 json_object_size(by_inst), repaired);
        return repaired;
}
