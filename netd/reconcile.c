/* reconcile.c: at start-up, finish or roll back interrupted operations, repair
 * the kernel to match the records, and remove kernel objects nothing owns. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/log.h"
#include "netd.h"
#include "tasknet.h"

static const char *str(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

struct collect {
        json_t *items;   /* [[key, value], ...] */
};

static int collect_cb(const char *key, json_t *v, void *ud)
{
        struct collect *c = ud;
        json_array_append_new(c->items, json_pack("[s, O]", key, v));
        return 0;
}

static json_t *collect(struct netd *d, const char *prefix, struct err *err)
{
        struct collect c = { json_array() };
        if (store_list(d->store, prefix, collect_cb, &c, err) < 0) {
                json_decref(c.items);
                return NULL;
        }
        return c.items;
}

static int load(struct netd *d, const char *kind, const char *id, json_t **ret)
{
        char key[KEY_MAX];
        if (!id)
                return -ENOENT;
        key_fmt(key, kind, id);
        return store_get(d->store, key, ret, NULL);
}

static int del(struct netd *d, const char *kind, const char *id)
{
        char key[KEY_MAX];
        key_fmt(key, kind, id);
        return store_del(d->store, key, NULL);
}

/* Undo the kernel side of an attach that never completed and restore the records. */
static int rollback_attach(struct netd *d, json_t *intent, bool forget, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL, *subnet = NULL, *vpc = NULL;
        struct knet_eni ke;
        const char *netns = str(intent, "Netns");
        int r;
        if (load(d, "eni", str(intent, "NetworkInterfaceId"), &eni) < 0) {
                /* nothing recorded: only a namespace netd may have made */
                if (netns && !json_is_true(json_object_get(intent, "NetnsExisted")))
                        (void) knet_netns_delete(d->knet, netns, err);
                return 0;
        }
        if (load(d, "subnet", str(eni, "SubnetId"), &subnet) == 0 && load(d, "vpc", str(eni, "VpcId"), &vpc) == 0 &&
            eni_knet(d, eni, subnet, vpc, &ke, err) == 0) {
                ke.netns = netns;
                r = knet_eni_detach(d->knet, &ke, !json_is_true(json_object_get(intent, "NetnsExisted")), err);
                if (r < 0)
                        return r;
        }
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if (netns)
                (void) del(d, "netns", netns);
        if (forget) {
                uint32_t ip;
                char key[KEY_MAX];
                if (ip4_parse(str(eni, "PrivateIpAddress"), &ip) == 0) {
                        lease_key(key, str(eni, "SubnetId"), ip);
                        (void) store_del(d->store, key, NULL);
                }
                (void) del(d, "mac", str(eni, "MacAddress"));
                (void) del(d, "eni", str(eni, "NetworkInterfaceId"));
        } else {
                char key[KEY_MAX];
                json_object_del(eni, "ebxAttachment");
                json_object_set_new(eni, "Status", json_string("available"));
                key_fmt(key, "eni", str(eni, "NetworkInterfaceId"));
                (void) store_put(d->store, key, eni, NULL);
        }
        return store_commit(d->store, err);
}

static int replay_intent(struct netd *d, const char *ikey, json_t *intent, struct err *err)
{
        const char *op = str(intent, "Op") ?: "";
        _cleanup_json_ json_t *obj = NULL, *vpc = NULL;
        int r = 0;

        if (strcmp(op, "CreateVpc") == 0 || strcmp(op, "DeleteVpc") == 0) {
                struct knet_vpc kv;
                if (load(d, "vpc", str(intent, "VpcId"), &obj) == 0) {
                        vpc_knet(obj, &kv);
                        if ((r = knet_vpc_delete(d->knet, &kv, err)) < 0)
                                return r;
                        (void) store_begin(d->store, err);
                        if (str(obj, "ebxDefaultSg"))
                                (void) del(d, "sg", str(obj, "ebxDefaultSg"));
                        (void) del(d, "vpc", str(intent, "VpcId"));
                        (void) store_commit(d->store, err);
                }
        } else if (strcmp(op, "CreateSubnet") == 0 || strcmp(op, "DeleteSubnet") == 0) {
                struct knet_subnet ks;
                if (load(d, "subnet", str(intent, "SubnetId"), &obj) == 0) {
                        if (load(d, "vpc", str(obj, "VpcId"), &vpc) == 0) {
                                subnet_knet(obj, str(vpc, "ebxNetns"), &ks);
                                if ((r = knet_subnet_delete(d->knet, &ks, err)) < 0)
                                        return r;
                        }
                        (void) del(d, "subnet", str(intent, "SubnetId"));
                }
        } else if (strcmp(op, "AttachNetworkInterface") == 0) {
                r = rollback_attach(d, intent, false, err);
        } else if (strcmp(op, "CreateTaskNetwork") == 0) {
                r = rollback_attach(d, intent, true, err);
        } else if (strcmp(op, "DetachNetworkInterface") == 0 || strcmp(op, "DeleteTaskNetwork") == 0) {
                if (load(d, "eni", str(intent, "NetworkInterfaceId"), &obj) == 0)
                        r = eni_detach_finish(d, obj, strcmp(op, "DeleteTaskNetwork") == 0, NULL, err);
        } else if ((r = tasknet_replay_intent(d, ikey, intent, err)) != 0)
                return r < 0 ? r : 0;
        else
                log_warning("msg=\"unknown intent, ignoring\" intent=%s op=%s", ikey, op);
        if (r < 0)
                return r;
        log_notice("msg=\"repaired interrupted operation\" op=%s intent=%s action=%s", op, ikey,
                   strncmp(op, "Delete", 6) == 0 || strncmp(op, "Detach", 6) == 0 ? "finished" : "rolled back");
        return store_del(d->store, ikey, err);
}

struct owned {
        json_t *names;   /* object: ifname -> true */
        const char *netns;
        struct netd *d;
        const char *prefixes;  /* first letters of names netd owns in this netns */
        int removed;
};

static bool ours_pattern(const char *name, const char *prefixes)
{
        /* netd's per-object names: one letter + 14 lowercase hex */
        if (strlen(name) != 15 || !strchr(prefixes, name[0]))
                return false;
        for (const char *p = name + 1; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static int link_cb(const char *ifname, const char *kind, void *ud)
{
        struct owned *o = ud;
        struct err e = { 0 };
        bool ours = o->prefixes ? ours_pattern(ifname, o->prefixes) : strncmp(ifname, "ebxu", 4) == 0;
        if (!ours || json_object_get(o->names, ifname))
                return 0;
        if (knet_link_delete(o->d->knet, o->netns, ifname, &e) < 0)
                log_warning("msg=\"cannot remove unowned link, ignoring\" netns=%s link=%s err=\"%s\"",
                            o->netns ? o->netns : "host", ifname, e.msg);
        else {
                log_notice("msg=\"removed unowned link\" netns=%s link=%s kind=%s", o->netns ? o->netns : "host", ifname, kind);
                o->removed++;
        }
        return 0;
}

static int netns_cb(const char *name, void *ud)
{
        struct owned *o = ud;
        struct err e = { 0 };
        if (strncmp(name, "ebx-vpc-", 8) != 0 || json_object_get(o->names, name))
                return 0;
        if (knet_netns_delete(o->d->knet, name, &e) < 0)
                log_warning("msg=\"cannot remove unowned VPC namespace, ignoring\" netns=%s err=\"%s\"", name, e.msg);
        else {
                log_notice("msg=\"removed unowned VPC namespace\" netns=%s", name);
                o->removed++;
        }
        return 0;
}

int netd_reconcile(struct netd *d, struct err *err)
{
        _cleanup_json_ json_t *intents = NULL, *vpcs = NULL, *subnets = NULL, *enis = NULL, *leases = NULL,
                              *macs = NULL, *nsidx = NULL, *host_links = NULL, *vpc_ns = NULL;
        json_t *it;
        size_t i;
        int repaired = 0, r;

        if (!(intents = collect(d, "intent/", err)))
                return -EIO;
        json_array_foreach(intents, i, it) {
                struct err e = { 0 };
                if (replay_intent(d, json_string_value(json_array_get(it, 0)),
                                  json_array_get(it, 1), &e) < 0)
                        log_error("msg=\"cannot repair interrupted operation\" intent=%s err=\"%s\"",
                                  json_string_value(json_array_get(it, 0)), e.msg);
                else
                        repaired++;
        }

        if (!(vpcs = collect(d, "vpc/", err)) || !(subnets = collect(d, "subnet/", err)) || !(enis = collect(d, "eni/", err)))
                return -EIO;
        host_links = json_object();
        vpc_ns = json_object();
        json_array_foreach(vpcs, i, it) {
                json_t *vpc = json_array_get(it, 1);
                struct knet_vpc kv;
                struct err e = { 0 };
                vpc_knet(vpc, &kv);
                json_object_set_new(host_links, kv.uplink_host, json_true());
                json_object_set_new(vpc_ns, kv.netns, json_object());
                if ((r = knet_vpc_ensure(d->knet, &kv, &e)) < 0)
                        log_error("msg=\"cannot repair VPC\" vpc=%s err=\"%s\"", str(vpc, "VpcId"), e.msg);
        }
        json_array_foreach(subnets, i, it) {
                json_t *s = json_array_get(it, 1), *owned;
                _cleanup_json_ json_t *vpc = NULL;
                struct knet_subnet ks;
                struct err e = { 0 };
                if (load(d, "vpc", str(s, "VpcId"), &vpc) < 0) {
                        log_warning("msg=\"subnet without VPC, ignoring\" subnet=%s", str(s, "SubnetId"));
                        continue;
                }
                subnet_knet(s, str(vpc, "ebxNetns"), &ks);
                owned = json_object_get(vpc_ns, ks.vpc_netns);
                json_object_set_new(owned, ks.bridge, json_true());
                json_object_set_new(owned, ks.mv_parent, json_true());
                {
                        char peer[16];
                        snprintf(peer, sizeof peer, "n%s", ks.mv_parent + 1);
                        json_object_set_new(owned, peer, json_true());
                }
                if ((r = knet_subnet_ensure(d->knet, &ks, &e)) < 0)
                        log_error("msg=\"cannot repair subnet\" subnet=%s err=\"%s\"", str(s, "SubnetId"), e.msg);
        }

        /* ENIs: every in-use ENI is as recorded; every ENI holds its lease. */
        json_array_foreach(enis, i, it) {
                json_t *eni = json_array_get(it, 1), *att = json_object_get(eni, "ebxAttachment");
                _cleanup_json_ json_t *subnet = NULL, *vpc = NULL;
                struct knet_eni ke;
                struct err e = { 0 };
                uint32_t ip;
                char key[KEY_MAX];
                if (load(d, "subnet", str(eni, "SubnetId"), &subnet) < 0 || load(d, "vpc", str(eni, "VpcId"), &vpc) < 0 ||
                    eni_knet(d, eni, subnet, vpc, &ke, &e) < 0) {
                        log_warning("msg=\"ENI without subnet or VPC, ignoring\" eni=%s", str(eni, "NetworkInterfaceId"));
                        continue;
                }
                if (ip4_parse(str(eni, "PrivateIpAddress"), &ip) == 0) {
                        lease_key(key, str(eni, "SubnetId"), ip);
                        if (store_exists(d->store, key) == 0) {
                                json_t *l = json_pack("{s:s}", "NetworkInterfaceId", str(eni, "NetworkInterfaceId"));
                                (void) store_put(d->store, key, l, NULL);
                                json_decref(l);
                                log_notice("msg=\"restored missing IP lease\" eni=%s ip=%s", str(eni, "NetworkInterfaceId"), str(eni, "PrivateIpAddress"));
                                repaired++;
                        }
                }
                if (!att)
                        continue;
                if (!ke.macvlan)
                        json_object_set_new(json_object_get(vpc_ns, ke.vpc_netns), ke.host_if, json_true());
                r = knet_eni_check(d->knet, &ke, &e);
                if (r == 0)
                        continue;
                log_notice("msg=\"ENI not as recorded, re-attaching\" eni=%s netns=%s why=\"%s\"", str(eni, "NetworkInterfaceId"),
                           ke.netns, e.msg);
                err_clear(&e);
                if (r != -ENOENT || knet_netns_exists(d->knet, ke.netns))
                        (void) knet_eni_detach(d->knet, &ke, false, &e);
                {
                        bool created = false;
                        err_clear(&e);
                        if (knet_eni_attach(d->knet, &ke, &created, &e) < 0)
                                log_error("msg=\"cannot re-attach ENI\" eni=%s netns=%s err=\"%s\"", str(eni, "NetworkInterfaceId"), ke.netns, e.msg);
                        else
                                repaired++;
                }
        }

        /* Index records whose ENI is gone. */
        if (!(leases = collect(d, "lease/", err)) || !(macs = collect(d, "mac/", err)) || !(nsidx = collect(d, "netns/", err)))
                return -EIO;
        {
                json_t *lists[] = { leases, macs, nsidx };
                for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                        json_array_foreach(lists[l], i, it) {
                                _cleanup_json_ json_t *eni = NULL;
                                const char *key = json_string_value(json_array_get(it, 0));
                                if (load(d, "eni", str(json_array_get(it, 1), "NetworkInterfaceId"), &eni) == 0)
                                        continue;
                                (void) store_del(d->store, key, NULL);
                                log_notice("msg=\"released record of a vanished ENI\" key=%s", key);
                                repaired++;
                        }
        }

        /* Kernel objects nothing owns: VPC namespaces, links in them, host uplinks. */
        {
                struct owned o = { vpc_ns, NULL, d, NULL, 0 };
                const char *ns;
                json_t *names;
                struct err e = { 0 };
                (void) knet_netns_list(d->knet, netns_cb, &o, &e);
                o.names = host_links;
                o.netns = NULL;
                o.prefixes = NULL;
                (void) knet_link_list(d->knet, NULL, link_cb, &o, &e);
                json_object_foreach(vpc_ns, ns, names) {
                        o.names = names;
                        o.netns = ns;
                        o.prefixes = "vbmn";
                        err_clear(&e);
                        if (knet_link_list(d->knet, ns, link_cb, &o, &e) < 0)
                                log_warning("msg=\"cannot list links, ignoring\" netns=%s err=\"%s\"", ns, e.msg);
                }
                repaired += o.removed;
        }
        {
                /* bridge and none task networks, after the instance ENIs they hang on */
                struct err e = { 0 };
                r = tasknet_reconcile(d, &e);
                if (r < 0)
                        log_error("msg=\"cannot reconcile task networks\" err=\"%s\"", e.msg);
                else
                        repaired += r;
        }
        /* security groups last: they need the ENIs' links and namespaces */
        repaired += sg_reconcile(d);
        log_info("msg=\"reconciled state with the kernel\" vpcs=%zu subnets=%zu enis=%zu repairs=%d",
                 json_array_size(vpcs), json_array_size(subnets), json_array_size(enis), repaired);
        return repaired;
}
