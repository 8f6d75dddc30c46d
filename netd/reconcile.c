/* reconcile.c: at start-up, finish or roll back interrupted operations (intent.c), repair the kernel to
 * match the records, release index records nothing owns, and remove kernel objects nothing owns. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "egress.h"
#include "eni.h"
#include "intent.h"
#include "ipam.h"
#include "kernel/knet.h"
#include "lb.h"
#include "netd.h"
#include "reconcile.h"
#include "record.h"
#include "sg_enforce.h"
#include "subnet.h"
#include "tasknet.h"
#include "vpc.h"

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

/* Every VPC re-ensured; its uplink and namespace noted as owned. */
static void vpcs_ensure(struct netd *d, json_t *vpcs, json_t *host_links, json_t *vpc_ns)
{
        json_t *vpc;
        size_t i;
        json_array_foreach(vpcs, i, vpc) {
                struct knet_vpc kv;
                struct err e = { 0 };
                vpc_knet(vpc, &kv);
                json_object_set_new(host_links, kv.uplink_host, json_true());
                json_object_set_new(vpc_ns, kv.netns, json_object());
                if (knet_vpc_ensure(d->knet, &kv, &e) < 0)
                        log_error("msg=\"cannot repair VPC\" vpc=%s err=\"%s\"", rec_str(vpc, "VpcId"), e.msg);
        }
}

/* Every subnet re-ensured; its bridge, macvlan parent and the parent's peer noted as owned in its VPC. */
static void subnets_ensure(struct netd *d, json_t *subnets, json_t *vpc_ns)
{
        json_t *s;
        size_t i;
        json_array_foreach(subnets, i, s) {
                _cleanup_json_ json_t *vpc = NULL;
                struct knet_subnet ks;
                struct err e = { 0 };
                char peer[16];
                json_t *owned;
                if (record_load(d, "vpc", rec_str(s, "VpcId"), &vpc) < 0) {
                        log_warning("msg=\"subnet without VPC, ignoring\" subnet=%s", rec_str(s, "SubnetId"));
                        continue;
                }
                subnet_knet(s, rec_str(vpc, "ebxNetns"), &ks);
                owned = json_object_get(vpc_ns, ks.vpc_netns);
                json_object_set_new(owned, ks.bridge, json_true());
                json_object_set_new(owned, ks.mv_parent, json_true());
                snprintf(peer, sizeof peer, "n%s", ks.mv_parent + 1);
                json_object_set_new(owned, peer, json_true());
                if (knet_subnet_ensure(d->knet, &ks, &e) < 0)
                        log_error("msg=\"cannot repair subnet\" subnet=%s err=\"%s\"", rec_str(s, "SubnetId"), e.msg);
        }
}

/* An in-use ENI whose link differs from its record: removed and attached again. 1 when repaired. */
static int eni_reattach(struct netd *d, json_t *eni, struct knet_eni *ke, int why, struct err *e)
{
        bool created = false;
        log_notice("msg=\"ENI not as recorded, re-attaching\" eni=%s netns=%s why=\"%s\"", rec_str(eni, "NetworkInterfaceId"),
                   ke->netns, e->msg);
        err_clear(e);
        if (why != -ENOENT || knet_netns_exists(d->knet, ke->netns))
                (void) knet_eni_detach(d->knet, ke, false, e);
        err_clear(e);
        if (knet_eni_attach(d->knet, ke, &created, e) < 0) {
                log_error("msg=\"cannot re-attach ENI\" eni=%s netns=%s err=\"%s\"", rec_str(eni, "NetworkInterfaceId"), ke->netns, e->msg);
                return 0;
        }
        return 1;
}

/* ENIs: every ENI holds its lease; every in-use ENI is as recorded (its host end noted as owned). */
static int enis_check(struct netd *d, json_t *enis, json_t *vpc_ns)
{
        json_t *eni;
        size_t i;
        int repaired = 0, r;
        json_array_foreach(enis, i, eni) {
                _cleanup_json_ json_t *subnet = NULL, *vpc = NULL;
                struct knet_eni ke;
                struct err e = { 0 };
                if (record_load(d, "subnet", rec_str(eni, "SubnetId"), &subnet) < 0 || record_load(d, "vpc", rec_str(eni, "VpcId"), &vpc) < 0 ||
                    eni_knet(d, eni, subnet, vpc, &ke, &e) < 0) {
                        log_warning("msg=\"ENI without subnet or VPC, ignoring\" eni=%s", rec_str(eni, "NetworkInterfaceId"));
                        continue;
                }
                repaired += ipam_eni_repair(d, eni);
                if (!json_object_get(eni, "ebxAttachment"))
                        continue;
                if (!ke.macvlan)
                        json_object_set_new(json_object_get(vpc_ns, ke.vpc_netns), ke.host_if, json_true());
                r = knet_eni_check(d->knet, &ke, &e);
                if (r != 0)
                        repaired += eni_reattach(d, eni, &ke, r, &e);
        }
        return repaired;
}

/* Index records whose ENI is gone: leases, MACs, netns names. */
static int index_sweep(struct netd *d, struct err *err)
{
        int n = 0, r;
        if ((r = ipam_eni_sweep(d, err)) < 0)
                return r;
        n += r;
        if ((r = records_sweep(d, "mac/", record_eni_exists, NULL, "ENI", err)) < 0)
                return r;
        n += r;
        if ((r = records_sweep(d, "netns/", record_eni_exists, NULL, "ENI", err)) < 0)
                return r;
        n += r;
        /* private zones and records of VPCs gone (a DeleteVpc finished at start-up) */
        if ((r = dns_records_sweep(d, err)) < 0)
                return r;
        return n + r;
}

/* Kernel objects nothing owns: VPC namespaces, links in them, host uplinks. */
static int unowned_sweep(struct netd *d, json_t *host_links, json_t *vpc_ns)
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
        return o.removed;
}

int netd_reconcile(struct netd *d, struct err *err)
{
        _cleanup_json_ json_t *vpcs = NULL, *subnets = NULL, *enis = NULL, *host_links = json_object(),
                              *vpc_ns = json_object();
        struct err e = { 0 };
        int repaired, r;

        if ((repaired = intent_replay_all(d, err)) < 0)
                return repaired;
        if (!(vpcs = netd_records(d, "vpc/", err)) || !(subnets = netd_records(d, "subnet/", err)) ||
            !(enis = netd_records(d, "eni/", err)))
                return -EIO;
        vpcs_ensure(d, vpcs, host_links, vpc_ns);
        subnets_ensure(d, subnets, vpc_ns);
        repaired += enis_check(d, enis, vpc_ns);
        if ((r = index_sweep(d, err)) < 0)
                return -EIO;
        repaired += r;
        repaired += unowned_sweep(d, host_links, vpc_ns);
        /* route tables and gateways: the VPC routers' policy routing and the host's masquerade */
        repaired += egress_reconcile(d);
        /* load balancers: their addresses on the VPC routers' lo and table ip ecsbox_lb */
        (void) lb_reconcile(d);
        /* bridge and none task networks, after the instance ENIs they hang on */
        if ((r = tasknet_reconcile(d, &e)) < 0)
                log_error("msg=\"cannot reconcile task networks\" err=\"%s\"", e.msg);
        else
                repaired += r;
        /* security groups last: they need the ENIs' links and namespaces */
        repaired += sg_reconcile(d);
        log_info("msg=\"reconciled state with the kernel\" vpcs=%zu subnets=%zu enis=%zu repairs=%d",
                 json_array_size(vpcs), json_array_size(subnets), json_array_size(enis), repaired);
        return repaired;
}
