/* eni.c: ENIs: records with an address from ipam.c and a MAC, a veth or macvlan eth0 in a named namespace when
 * attached; the EC2 network interface operations and CreateTaskNetwork/DeleteTaskNetwork awsvpc (tasknet.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "describe.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "dns/dns.h"
#include "eni.h"
#include "eni_req.h"
#include "flowlog.h"
#include "intent.h"
#include "ipam.h"
#include "kernel/knet.h"
#include "netd.h"
#include "record.h"
#include "sg.h"
#include "sg_enforce.h"
#include "subnet.h"
#include "tasknet.h"
#include "vpc.h"


static int eni_load(struct netd *d, const char *id, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id_valid("eni", id))
                return err_set(err, EINVAL, "InvalidNetworkInterfaceID.Malformed", "Invalid id: \"%s\" (expecting \"eni-...\")", id);
        key_fmt(key, "eni", id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id);
        return r;
}

static int eni_put(struct netd *d, json_t *eni, struct err *err)
{
        char key[KEY_MAX];
        key_fmt(key, "eni", rec_str(eni, "NetworkInterfaceId"));
        return store_put(d->store, key, eni, err);
}

static void dns_name(struct netd *d, const char *ip, char *buf, size_t len)
{
        char dashed[IP4_STR_MAX];
        snprintf(dashed, sizeof dashed, "%s", ip);
        for (char *p = dashed; *p; p++)
                if (*p == '.')
                        *p = '-';
        if (strcmp(d->region, "us-east-1") == 0)
                snprintf(buf, len, "ip-%s.ec2.internal", dashed);
        else
                snprintf(buf, len, "ip-%s.%s.compute.internal", dashed, d->region);
}

void eni_task_dns(struct netd *d, const char *vpc_id, json_t *o)
{
        _cleanup_json_ json_t *vpc = NULL;
        char key[KEY_MAX], ip[IP4_STR_MAX], search[96];

        key_fmt(key, "vpc", vpc_id ?: "");
        if (store_get(d->store, key, &vpc, NULL) < 0)
                return;
        /* AmazonProvidedDNS at the VPC's base + 2, the DHCP options' domain-name as the search list. As on
         * AWS the DHCP options name it whatever enableDnsSupport says (off, it answers nothing). */
        ip4_format(dns_vpc_resolver_ip(vpc), ip);
        dns_domain(d, search, sizeof search);
        json_object_set_new(o, "DnsServers", json_pack("[s]", ip));
        json_object_set_new(o, "DnsSearch", json_pack("[s]", search));
}

json_t *eni_shape(struct netd *d, json_t *e)
{
        char dns[96];
        json_t *groups = json_array(), *g, *att = json_object_get(e, "ebxAttachment");
        size_t i;
        const char *ip = rec_str(e, "PrivateIpAddress");
        json_t *o;

        json_array_foreach(json_object_get(e, "Groups"), i, g) {
                char key[KEY_MAX];
                json_t *sg = NULL;
                key_fmt(key, "sg", json_string_value(g));
                if (store_get(d->store, key, &sg, NULL) == 0) {
                        json_array_append_new(groups, json_pack("{s:O, s:O}", "GroupId", g, "GroupName",
                                                                json_object_get(sg, "GroupName")));
                        json_decref(sg);
                } else
                        json_array_append_new(groups, json_pack("{s:O}", "GroupId", g));
        }
        dns_name(d, ip, dns, sizeof dns);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:b, s:s, s:s}], s:o, s:s, s:O, s:b, s:s, s:O}",
                      "NetworkInterfaceId", rec_str(e, "NetworkInterfaceId"), "SubnetId", rec_str(e, "SubnetId"),
                      "VpcId", rec_str(e, "VpcId"), "AvailabilityZone", rec_str(e, "AvailabilityZone"),
                      "Description", rec_str(e, "Description") ?: "", "InterfaceType", rec_str(e, "InterfaceType"),
                      "MacAddress", rec_str(e, "MacAddress"), "PrivateIpAddress", ip, "PrivateDnsName", dns,
                      "PrivateIpAddresses", "Primary", 1, "PrivateIpAddress", ip, "PrivateDnsName", dns,
                      "Groups", groups, "Status", rec_str(e, "Status"), "RequesterManaged",
                      json_object_get(e, "RequesterManaged") ?: json_false(), "SourceDestCheck", 1,
                      "OwnerId", rec_str(e, "OwnerId"), "TagSet", json_object_get(e, "TagSet") ?: json_array());
        if (att && json_is_object(att)) {
                char path[512];
                (void) knet_netns_path(d->knet, rec_str(att, "Netns"), path, sizeof path);
                json_t *a = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b}", "AttachmentId", rec_str(att, "AttachmentId"),
                                      "Status", rec_str(att, "Status") ?: "attached", "DeviceIndex", 0, "Netns",
                                      rec_str(att, "Netns"), "NetnsPath", path, "DeleteOnTermination", 0);
                if (rec_str(att, "AttachTime"))
                        json_object_set_new(a, "AttachTime", json_string(rec_str(att, "AttachTime")));
                if (rec_str(att, "InstanceId"))
                        json_object_set_new(a, "InstanceId", json_string(rec_str(att, "InstanceId")));
                json_object_set_new(o, "Attachment", a);
        }
        if (json_object_get(e, "ebxMetadata"))
                json_object_set(o, "TaskMetadata", json_object_get(e, "ebxMetadata"));
        return o;
}

int eni_knet(struct netd *d, json_t *eni, json_t *subnet, json_t *vpc, struct knet_eni *ret, struct err *err)
{
        struct cidr4 c;
        json_t *att = json_object_get(eni, "ebxAttachment");
        memset(ret, 0, sizeof *ret);
        if (cidr4_parse(rec_str(subnet, "CidrBlock"), &c) < 0 || ip4_parse(rec_str(eni, "PrivateIpAddress"), &ret->ip) < 0 ||
            mac_parse(rec_str(eni, "MacAddress"), ret->mac) < 0)
                return err_set(err, EIO, NULL, "network interface %s: corrupt record", rec_str(eni, "NetworkInterfaceId"));
        ret->vpc_netns = rec_str(vpc, "ebxNetns");
        ret->bridge = rec_str(subnet, "ebxBridge");
        ret->mv_parent = rec_str(subnet, "ebxMvParent");
        ret->macvlan = strcmp(rec_str(eni, "InterfaceType") ?: "veth", "macvlan") == 0;
        ret->host_if = rec_str(eni, "ebxHostIf");
        ret->prefix_len = c.len;
        ret->gw_ip = c.addr + 1;
        ret->netns = att ? rec_str(att, "Netns") : NULL;
        return 0;
}

/* A new ENI id whose MAC is unique among all ENIs: retry the (random) id on the unlikely clash. */
static int id_with_mac(struct netd *d, char id[ID_MAX], char macs[MAC_STR_MAX], struct err *err)
{
        char key[KEY_MAX];
        uint8_t mac[6];
        int r;
        for (int tries = 0;; tries++) {
                if ((r = id_new("eni", id)) < 0)
                        return err_set(err, -r, NULL, "random id: %s", strerror(-r));
                mac_from_id(id, mac);
                mac_format(mac, macs);
                key_fmt(key, "mac", macs);
                r = store_exists(d->store, key);
                if (r == 0)
                        return 0;
                if (r < 0 || tries > 8)
                        return err_set(err, EIO, NULL, "cannot find a unique MAC address");
        }
}

static int mac_index_put(struct netd *d, const char *macs, const char *id, struct err *err)
{
        _cleanup_json_ json_t *m = json_pack("{s:s}", "NetworkInterfaceId", id);
        char key[KEY_MAX];
        key_fmt(key, "mac", macs);
        return store_put(d->store, key, m, err);
}

/* Inside a transaction: the new ENI record with its lease, MAC index and the subnet cursor. */
static int eni_new(struct netd *d, json_t *subnet, const struct eni_create_req *q, json_t *groups, json_t *metadata,
                   json_t **ret_eni, struct err *err)
{
        const char *subnet_id = rec_str(subnet, "SubnetId");
        char id[ID_MAX], ips[IP4_STR_MAX], macs[MAC_STR_MAX], host_if[16];
        _cleanup_json_ json_t *eni = NULL;
        uint32_t ip;
        int r;

        if ((r = id_with_mac(d, id, macs, err)) < 0 || (r = ipam_eni_take(d, subnet, q->ip_s ? &q->ip : NULL, id, &ip, err)) < 0)
                return r;
        ip4_format(ip, ips);
        snprintf(host_if, sizeof host_if, "v%s", id + strlen(id) - 14);
        eni = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:b, s:s, s:[], s:s, s:s}",
                        "NetworkInterfaceId", id, "SubnetId", subnet_id, "VpcId", rec_str(subnet, "VpcId"),
                        "AvailabilityZone", rec_str(subnet, "AvailabilityZone"), "Description", q->desc ? q->desc : "",
                        "InterfaceType", q->type, "MacAddress", macs, "PrivateIpAddress", ips, "Groups", groups,
                        "Status", "available", "RequesterManaged", 0, "OwnerId", d->account, "TagSet",
                        "ebxHostIf", host_if, "ebxState", "ok");
        if (metadata)
                json_object_set(eni, "ebxMetadata", metadata);
        if ((r = mac_index_put(d, macs, id, err)) < 0 || (r = eni_put(d, eni, err)) < 0)
                return r;
        *ret_eni = TAKE_PTR(eni);
        return 0;
}

/* Inside a transaction: drop the ENI record, its lease, MAC and netns index. */
static int eni_forget(struct netd *d, json_t *eni, struct err *err)
{
        char key[KEY_MAX];
        json_t *att = json_object_get(eni, "ebxAttachment");
        int r;
        if ((r = ipam_eni_release(d, eni, err)) < 0)
                return r;
        key_fmt(key, "mac", rec_str(eni, "MacAddress"));
        if ((r = store_del(d->store, key, err)) < 0)
                return r;
        if (att && rec_str(att, "Netns")) {
                key_fmt(key, "netns", rec_str(att, "Netns"));
                if ((r = store_del(d->store, key, err)) < 0)
                        return r;
        }
        key_fmt(key, "eni", rec_str(eni, "NetworkInterfaceId"));
        return store_del(d->store, key, err);
}

/* Tables whose rules name the ENI's groups as peers learn (before = NULL) or forget (after = NULL) its
 * address before the request is answered (sg_enforce.c). On failure every peer is put back as it was
 * (best effort, logged) and the caller fails the request. */
static int eni_members_move(struct netd *d, json_t *before, json_t *after, const char *op, struct err *err)
{
        struct err e2 = { 0 };
        json_t *rec = after ?: before;
        int r = sg_member_moved(d, before, after, err);
        if (r >= 0)
                return r;
        if (sg_member_moved(d, after, before, &e2) < 0)
                log_error("op=%s eni=%s msg=\"security group peers not rolled back\" err=\"%s\"", op,
                          rec_str(rec, "NetworkInterfaceId"), e2.msg);
        return err_wrap(err, "%s %s: security group peers", op, rec_str(rec, "NetworkInterfaceId"));
}

/* The subnet, its VPC and the groups (a new array: the checked Groups, or the VPC's default group) of a new ENI. */
static int create_params(struct netd *d, const struct eni_create_req *q, json_t **ret_subnet, json_t **ret_vpc, json_t **ret_groups,
                         struct err *err)
{
        int r;
        if ((r = subnet_load(d, q->subnet_id, ret_subnet, err)) < 0)
                return r;
        if ((r = vpc_load(d, rec_str(*ret_subnet, "VpcId"), ret_vpc, err)) < 0)
                return r;
        if (json_array_size(q->groups) > 0)
                r = sg_validate_groups(d, q->groups, rec_str(*ret_subnet, "VpcId"), ret_groups, err);
        else
                *ret_groups = json_pack("[O]", json_object_get(*ret_vpc, "ebxDefaultSg") ?: json_null());
        if (r >= 0 && json_is_null(json_array_get(*ret_groups, 0)))
                json_array_clear(*ret_groups);
        return r < 0 ? r : 0;
}

int op_create_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *subnet = NULL, *vpc = NULL, *groups = NULL;
        struct eni_create_req q;
        json_t *eni = NULL;
        int r;
        if ((r = eni_create_req_decode(req, &q, err)) < 0 || (r = create_params(d, &q, &subnet, &vpc, &groups, err)) < 0)
                return r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = eni_new(d, subnet, &q, groups, NULL, &eni, err)) < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                json_decref(eni);
                return r;
        }
        if ((r = eni_members_move(d, NULL, eni, "CreateNetworkInterface", err)) < 0) {
                struct err e2 = { 0 };
                if (store_begin(d->store, &e2) < 0 || eni_forget(d, eni, &e2) < 0 || store_commit(d->store, &e2) < 0) {
                        store_rollback(d->store);
                        log_error("op=CreateNetworkInterface eni=%s msg=\"rollback incomplete\" err=\"%s\"",
                                  rec_str(eni, "NetworkInterfaceId"), e2.msg);
                }
                json_decref(eni);
                return r;
        }
        log_info("op=CreateNetworkInterface eni=%s subnet=%s ip=%s mac=%s type=%s", rec_str(eni, "NetworkInterfaceId"),
                 rec_str(subnet, "SubnetId"), rec_str(eni, "PrivateIpAddress"), rec_str(eni, "MacAddress"), q.type);
        *ret = json_pack("{s:o}", "NetworkInterface", eni_shape(d, eni));
        json_decref(eni);
        return 0;
}

static json_t *eni_values(json_t *e, const char *name)
{
        static const struct { const char *filter, *member; } map[] = {
                { "network-interface-id", "NetworkInterfaceId" }, { "subnet-id", "SubnetId" }, { "vpc-id", "VpcId" },
                { "status", "Status" }, { "private-ip-address", "PrivateIpAddress" },
                { "addresses.private-ip-address", "PrivateIpAddress" }, { "mac-address", "MacAddress" },
                { "availability-zone", "AvailabilityZone" }, { "description", "Description" },
                { "interface-type", "InterfaceType" }, { "owner-id", "OwnerId" },
        };
        json_t *att = json_object_get(e, "ebxAttachment");
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(name, map[i].filter) == 0)
                        return json_pack("[O]", json_object_get(e, map[i].member));
        if (strcmp(name, "group-id") == 0)
                return json_deep_copy(json_object_get(e, "Groups"));
        if (att && strcmp(name, "attachment.netns") == 0)
                return json_pack("[O]", json_object_get(att, "Netns"));
        if (att && strcmp(name, "attachment.attachment-id") == 0)
                return json_pack("[O]", json_object_get(att, "AttachmentId"));
        if (att && strcmp(name, "attachment.instance-id") == 0 && json_object_get(att, "InstanceId"))
                return json_pack("[O]", json_object_get(att, "InstanceId"));
        return json_array();
}

int op_describe_network_interfaces(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = eni_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "eni", "NetworkInterfaceId", q.ids, q.filters, eni_values, eni_shape,
                                  "InvalidNetworkInterfaceID.NotFound", "networkInterface ID", &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "NetworkInterfaces", out);
        return 0;
}

int op_delete_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL;
        struct eni_delete_req q;
        const char *id;
        int r;
        if ((r = eni_delete_req_decode(req, &q, err)) < 0)
                return r;
        id = q.eni_id;
        if ((r = eni_load(d, id, &eni, err)) < 0)
                return r;
        if (json_object_get(eni, "ebxAttachment") || strcmp(rec_str(eni, "Status"), "available") != 0)
                return err_set(err, EBUSY, "InvalidNetworkInterface.InUse", "Network interface '%s' is currently in use (attached to netns '%s')", id,
                               rec_str(json_object_get(eni, "ebxAttachment"), "Netns") ?: "?");
        /* its peers forget it first: if they cannot, nothing has changed */
        if ((r = eni_members_move(d, eni, NULL, "DeleteNetworkInterface", err)) < 0)
                return r;
        if ((r = store_begin(d->store, err)) < 0 || (r = eni_forget(d, eni, err)) < 0 || (r = store_commit(d->store, err)) < 0) {
                struct err e2 = { 0 };
                store_rollback(d->store);
                if (sg_member_moved(d, NULL, eni, &e2) < 0)
                        log_error("op=DeleteNetworkInterface eni=%s msg=\"security group peers not rolled back\" err=\"%s\"", id, e2.msg);
                return r;
        }
        log_info("op=DeleteNetworkInterface eni=%s ip=%s", id, rec_str(eni, "PrivateIpAddress"));
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

/* Attach `eni` (whose record is already stored with ebxAttachment status
 * "attaching" and an intent) to its netns in the kernel, then record it as
 * in-use and drop the intent. On failure the caller's rollback runs. */
static int attach_kernel(struct netd *d, json_t *eni, json_t *subnet, json_t *vpc, bool join, struct err *err)
{
        struct knet_eni ke;
        bool created = false;
        json_t *att = json_object_get(eni, "ebxAttachment");
        int r;
        struct err e2 = { 0 };
        if ((r = eni_knet(d, eni, subnet, vpc, &ke, err)) < 0)
                return r;
        /* the bridge must know the ENI before its first (gratuitous ARP) frame */
        if ((r = sg_guard_eni(d, eni, true, err)) < 0)
                return err_wrap(err, "attach %s: source/destination check", rec_str(eni, "NetworkInterfaceId"));
        r = knet_eni_attach(d->knet, &ke, &created, err);
        if (r < 0)
                (void) sg_guard_eni(d, eni, false, &e2);
        if (r == -EEXIST)
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already has an eth0; one ENI per namespace", ke.netns);
        if (r < 0)
                return err_wrap(err, "attach %s to netns '%s'", rec_str(eni, "NetworkInterfaceId"), ke.netns);
        r = sg_task_attach(d, eni, join, err);
        if (r < 0) {
                (void) knet_eni_detach(d->knet, &ke, created, &e2);
                if (!created)        /* a netns netd keeps: its table may have been built */
                        (void) sg_task_detach(d, eni, &e2);
                (void) sg_guard_eni(d, eni, false, &e2);
                return err_wrap(err, "attach %s: security groups", rec_str(eni, "NetworkInterfaceId"));
        }
        json_object_set_new(att, "Status", json_string("attached"));
        json_object_set_new(eni, "Status", json_string("in-use"));
        return 0;
}

static int begin_attach(struct netd *d, json_t *eni, const char *netns, const char *instance_id, const char *op,
                        char ikey[64], struct err *err)
{
        char aid[ID_MAX], now[32], key[KEY_MAX];
        bool existed = knet_netns_exists(d->knet, netns);
        json_t *intent, *att, *idx;
        int r;
        key_fmt(key, "netns", netns);
        r = store_exists(d->store, key);
        if (r > 0)
                return err_set(err, EEXIST, JERR_INVALID, "netns '%s' already has a network interface attached", netns);
        if ((r = tasknet_netns_check(d, netns, err)) < 0)
                return r;
        if ((r = id_new("eni-attach", aid)) < 0)
                return err_set(err, -r, NULL, "random id: %s", strerror(-r));
        iso8601_ms(-1, now);
        att = json_pack("{s:s, s:s, s:s, s:b, s:s}", "AttachmentId", aid, "Netns", netns, "Status", "attaching",
                        "NetnsCreated", !existed, "AttachTime", now);
        if (instance_id)
                json_object_set_new(att, "InstanceId", json_string(instance_id));
        json_object_set_new(eni, "ebxAttachment", att);
        intent = json_pack("{s:s, s:s, s:s, s:b}", "Op", op, "NetworkInterfaceId", rec_str(eni, "NetworkInterfaceId"),
                           "Netns", netns, "NetnsExisted", existed);
        idx = json_pack("{s:s}", "NetworkInterfaceId", rec_str(eni, "NetworkInterfaceId"));
        r = store_put(d->store, key, idx, err);
        if (r >= 0)
                r = eni_put(d, eni, err);
        if (r >= 0)
                r = intent_add(d, intent, ikey, err);
        json_decref(intent);
        json_decref(idx);
        return r;
}

/* The kernel has the ENI: its record (in-use, attached) stored and the intent dropped, in one transaction. */
static int attach_done(struct netd *d, json_t *eni, const char *ikey, struct err *err)
{
        char key[KEY_MAX];
        key_fmt(key, "eni", rec_str(eni, "NetworkInterfaceId"));
        return intent_finish(d, key, eni, ikey, err);
}

int op_attach_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL, *subnet = NULL, *vpc = NULL;
        struct eni_attach_req q;
        const char *id, *netns;
        char ikey[64];
        int r;
        if ((r = eni_attach_req_decode(req, &q, err)) < 0)
                return r;
        id = q.eni_id;
        netns = q.netns;
        if ((r = eni_load(d, id, &eni, err)) < 0)
                return r;
        if (json_object_get(eni, "ebxAttachment"))
                return err_set(err, EBUSY, "InvalidNetworkInterface.InUse", "Network interface '%s' is already attached to netns '%s'", id,
                               rec_str(json_object_get(eni, "ebxAttachment"), "Netns"));
        if ((r = subnet_load(d, rec_str(eni, "SubnetId"), &subnet, err)) < 0 || (r = vpc_load(d, rec_str(eni, "VpcId"), &vpc, err)) < 0)
                return r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = begin_attach(d, eni, netns, q.instance_id, "AttachNetworkInterface", ikey, err)) < 0 ||
            (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        r = attach_kernel(d, eni, subnet, vpc, false, err);   /* an available ENI is a member already */
        if (r < 0) {
                /* knet removed what it made; restore the records. */
                struct err e2 = { 0 };
                char key[KEY_MAX];
                key_fmt(key, "netns", netns);
                (void) store_begin(d->store, &e2);
                (void) store_del(d->store, key, &e2);
                json_object_del(eni, "ebxAttachment");
                json_object_set_new(eni, "Status", json_string("available"));
                (void) eni_put(d, eni, &e2);
                (void) intent_done(d, ikey, &e2);
                (void) store_commit(d->store, &e2);
                return r;
        }
        if ((r = attach_done(d, eni, ikey, err)) < 0)
                return r;
        log_info("op=AttachNetworkInterface eni=%s netns=%s ip=%s", id, netns, rec_str(eni, "PrivateIpAddress"));
        *ret = json_pack("{s:s, s:o}", "AttachmentId", rec_str(json_object_get(eni, "ebxAttachment"), "AttachmentId"),
                         "NetworkInterface", eni_shape(d, eni));
        return 0;
}

/* Remove the ENI's links (and the netns netd made); then, in one transaction,
 * record it detached, or forget it entirely when `forget`. Idempotent, so
 * start-up can roll an interrupted detach forward. */
int eni_detach_finish(struct netd *d, json_t *eni, bool forget, const char *ikey, struct err *err)
{
        _cleanup_json_ json_t *subnet = NULL, *vpc = NULL;
        json_t *att = json_object_get(eni, "ebxAttachment");
        struct knet_eni ke;
        char key[KEY_MAX];
        int r;
        if (att) {
                if ((r = subnet_load(d, rec_str(eni, "SubnetId"), &subnet, err)) < 0 || (r = vpc_load(d, rec_str(eni, "VpcId"), &vpc, err)) < 0 ||
                    (r = eni_knet(d, eni, subnet, vpc, &ke, err)) < 0)
                        return r;
                bool del_ns = json_is_true(json_object_get(att, "NetnsCreated"));
                struct err e2 = { 0 };
                flowlog_eni_final(d, eni);   /* the meters go with the netns or its table */
                r = knet_eni_detach(d->knet, &ke, del_ns, err);
                if (r < 0)
                        return err_wrap(err, "detach %s from netns '%s'", rec_str(eni, "NetworkInterfaceId"), ke.netns);
                if ((!del_ns && sg_task_detach(d, eni, &e2) < 0) || sg_guard_eni(d, eni, false, &e2) < 0)
                        log_warning("msg=\"cannot remove security group state, ignoring\" eni=%s err=\"%s\"",
                                    rec_str(eni, "NetworkInterfaceId"), e2.msg);
        }
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if (forget)
                r = eni_forget(d, eni, err);
        else {
                if (att) {
                        key_fmt(key, "netns", rec_str(att, "Netns"));
                        r = store_del(d->store, key, err);
                }
                json_object_del(eni, "ebxAttachment");
                json_object_del(eni, "ebxMetadata");
                json_object_set_new(eni, "Status", json_string("available"));
                if (r >= 0)
                        r = eni_put(d, eni, err);
        }
        if (r >= 0 && ikey)
                r = intent_done(d, ikey, err);
        if (r < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        return 0;
}

static int find_eni(struct netd *d, const struct eni_find_req *q, json_t **ret, struct err *err)
{
        const char *id = q->eni_id, *netns = q->netns, *aid = q->attachment_id;
        int r;
        if (id)
                return eni_load(d, id, ret, err);
        if (netns) {
                char key[KEY_MAX];
                json_t *idx = NULL;
                key_fmt(key, "netns", netns);
                r = store_get(d->store, key, &idx, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, "InvalidNetworkInterfaceID.NotFound", "No network interface is attached to netns '%s'", netns);
                if (r < 0)
                        return r;
                r = eni_load(d, rec_str(idx, "NetworkInterfaceId"), ret, err);
                json_decref(idx);
                return r;
        }
        {
                /* eni-attach-<17 hex> (the decoder leaves no other case): find it by walking the attached ENIs. */
                json_t *out = NULL, *e;
                json_t *f = json_pack("{s:[{s:s, s:[s]}]}", "Filters", "Name", "attachment.attachment-id", "Values", aid);
                size_t i;
                r = op_describe_network_interfaces(d, f, &out, err);
                json_decref(f);
                if (r < 0)
                        return r;
                json_array_foreach(json_object_get(out, "NetworkInterfaces"), i, e) {
                        r = eni_load(d, rec_str(e, "NetworkInterfaceId"), ret, err);
                        json_decref(out);
                        return r;
                }
                json_decref(out);
        }
        return err_set(err, ENOENT, "InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", aid);
}

static int detach_or_delete(struct netd *d, const struct eni_find_req *q, bool forget, const char *op, json_t **ret,
                            struct err *err)
{
        _cleanup_json_ json_t *eni = NULL, *intent = NULL;
        char ikey[64];
        int r;
        if ((r = find_eni(d, q, &eni, err)) < 0)
                return r;
        if ((r = tasknet_instance_check(d, eni, err)) < 0)
                return r;
        if (!forget && !json_object_get(eni, "ebxAttachment"))
                return err_set(err, EINVAL, "IncorrectState", "Network interface '%s' is not attached", rec_str(eni, "NetworkInterfaceId"));
        /* deleting: its peers forget it first (a start-up replay of the intent leaves that to sg_reconcile) */
        if (forget && (r = eni_members_move(d, eni, NULL, op, err)) < 0)
                return r;
        intent = json_pack("{s:s, s:s}", "Op", op, "NetworkInterfaceId", rec_str(eni, "NetworkInterfaceId"));
        if ((r = intent_add(d, intent, ikey, err)) < 0 || (r = eni_detach_finish(d, eni, forget, ikey, err)) < 0) {
                struct err e2 = { 0 };
                /* the ENI is still there (a recorded intent finishes the delete at the next start) */
                if (forget && sg_member_moved(d, NULL, eni, &e2) < 0)
                        log_error("op=%s eni=%s msg=\"security group peers not rolled back\" err=\"%s\"", op,
                                  rec_str(eni, "NetworkInterfaceId"), e2.msg);
                return r;
        }
        log_info("op=%s eni=%s ip=%s", op, rec_str(eni, "NetworkInterfaceId"), rec_str(eni, "PrivateIpAddress"));
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int op_detach_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct eni_detach_req q;
        int r;
        if ((r = eni_detach_req_decode(req, &q, err)) < 0)
                return r;
        return detach_or_delete(d, &q.find, false, "DetachNetworkInterface", ret, err);
}

int eni_task_delete(struct netd *d, const struct eni_find_req *q, json_t **ret, struct err *err)
{
        return detach_or_delete(d, q, true, "DeleteTaskNetwork", ret, err);
}

int eni_task_create(struct netd *d, const struct eni_create_req *q, const char *netns, const char *instance, json_t *metadata,
                    json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *subnet = NULL, *vpc = NULL, *groups = NULL, *eni = NULL;
        char ikey[64];
        int r;
        if ((r = create_params(d, q, &subnet, &vpc, &groups, err)) < 0)
                return r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = eni_new(d, subnet, q, groups, metadata, &eni, err)) < 0 ||
            (r = begin_attach(d, eni, netns, instance, "CreateTaskNetwork", ikey, err)) < 0 ||
            (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        /* a new member: every peer whose rules name its groups learns its address before the answer */
        r = attach_kernel(d, eni, subnet, vpc, true, err);
        if (r < 0) {
                struct err e2 = { 0 };
                (void) store_begin(d->store, &e2);
                (void) eni_forget(d, eni, &e2);
                (void) intent_done(d, ikey, &e2);
                (void) store_commit(d->store, &e2);
                return r;
        }
        if ((r = attach_done(d, eni, ikey, err)) < 0)
                return r;
        log_info("op=CreateTaskNetwork eni=%s netns=%s ip=%s mac=%s", rec_str(eni, "NetworkInterfaceId"), netns,
                 rec_str(eni, "PrivateIpAddress"), rec_str(eni, "MacAddress"));
        *ret = json_pack("{s:o}", "NetworkInterface", eni_shape(d, eni));
        eni_task_dns(d, rec_str(eni, "VpcId"), *ret);
        return 0;
}

/* ---- start-up ---- */

/* Undo the kernel side of an attach that never completed and restore the records. */
static int rollback_attach(struct netd *d, json_t *intent, bool forget, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL, *subnet = NULL, *vpc = NULL;
        struct knet_eni ke;
        const char *netns = rec_str(intent, "Netns");
        int r;
        if (record_load(d, "eni", rec_str(intent, "NetworkInterfaceId"), &eni) < 0) {
                /* nothing recorded: only a namespace netd may have made */
                if (netns && !json_is_true(json_object_get(intent, "NetnsExisted")))
                        (void) knet_netns_delete(d->knet, netns, err);
                return 0;
        }
        if (record_load(d, "subnet", rec_str(eni, "SubnetId"), &subnet) == 0 && record_load(d, "vpc", rec_str(eni, "VpcId"), &vpc) == 0 &&
            eni_knet(d, eni, subnet, vpc, &ke, err) == 0) {
                ke.netns = netns;
                r = knet_eni_detach(d->knet, &ke, !json_is_true(json_object_get(intent, "NetnsExisted")), err);
                if (r < 0)
                        return r;
        }
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if (netns)
                (void) record_del(d, "netns", netns, NULL);
        if (forget) {
                (void) ipam_eni_release(d, eni, NULL);
                (void) record_del(d, "mac", rec_str(eni, "MacAddress"), NULL);
                (void) record_del(d, "eni", rec_str(eni, "NetworkInterfaceId"), NULL);
        } else {
                json_object_del(eni, "ebxAttachment");
                json_object_set_new(eni, "Status", json_string("available"));
                (void) eni_put(d, eni, NULL);
        }
        return store_commit(d->store, err);
}

int eni_intent_replay(struct netd *d, json_t *intent, struct err *err)
{
        const char *op = rec_str(intent, "Op") ?: "";
        _cleanup_json_ json_t *eni = NULL;
        if (strcmp(op, "AttachNetworkInterface") == 0)
                return rollback_attach(d, intent, false, err);
        if (strcmp(op, "CreateTaskNetwork") == 0)
                return rollback_attach(d, intent, true, err);
        /* DetachNetworkInterface, DeleteTaskNetwork: finish it */
        if (record_load(d, "eni", rec_str(intent, "NetworkInterfaceId"), &eni) < 0)
                return 0;
        return eni_detach_finish(d, eni, strcmp(op, "DeleteTaskNetwork") == 0, NULL, err);
}
