/* subnet.c: subnets: a bridge in the VPC namespace with the gateway at base+1 and a macvlan parent. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "describe.h"
#include "egress.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "intent.h"
#include "ipam.h"
#include "kernel/knet.h"
#include "netd.h"
#include "record.h"
#include "subnet.h"
#include "subnet_req.h"
#include "vpc.h"

int subnet_load(struct netd *d, const char *subnet_id, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id_valid("subnet", subnet_id))
                return err_set(err, EINVAL, "InvalidSubnetID.Malformed", "Invalid id: \"%s\"", subnet_id);
        key_fmt(key, "subnet", subnet_id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnet_id);
        return r;
}

void subnet_knet(json_t *s, const char *vpc_netns, struct knet_subnet *ret)
{
        struct cidr4 c = { 0 };
        memset(ret, 0, sizeof *ret);
        (void) cidr4_parse(json_string_value(json_object_get(s, "CidrBlock")), &c);
        ret->vpc_netns = vpc_netns;
        ret->bridge = json_string_value(json_object_get(s, "ebxBridge"));
        ret->mv_parent = json_string_value(json_object_get(s, "ebxMvParent"));
        (void) mac_parse(json_string_value(json_object_get(s, "ebxBridgeMac")), ret->bridge_mac);
        ret->gw_ip = c.addr + 1;
        ret->prefix_len = c.len;
}

json_t *subnet_shape(struct netd *d, json_t *s)
{
        json_t *o = json_object();
        const char *k;
        json_t *v;
        struct cidr4 c = { 0 };
        long used = ipam_subnet_used(d, json_string_value(json_object_get(s, "SubnetId")));
        json_object_foreach(s, k, v)
                if (strncmp(k, "ebx", 3) != 0)
                        json_object_set(o, k, v);
        (void) cidr4_parse(json_string_value(json_object_get(s, "CidrBlock")), &c);
        json_object_set_new(o, "AvailableIpAddressCount",
                            json_integer((json_int_t) cidr4_usable(&c) - (used > 0 ? used : 0)));
        return o;
}

/* "us-east-1a" -> "use1-az1": the AZ id AWS writes in az-id fields. */
static void az_id(const char *az, char *buf, size_t len)
{
        char abbr[16] = "";
        size_t n = 0, l = strlen(az);
        const char *p = az;
        if (l < 2) {
                snprintf(buf, len, "%s", az);
                return;
        }
        /* region parts: first two letters, then the initial of each further word, then the digit */
        while (*p && n + 1 < sizeof abbr) {
                if (p == az) {
                        abbr[n++] = p[0];
                        if (p[1] && p[1] != '-')
                                abbr[n++] = p[1];
                } else if (p[-1] == '-' && isalpha((unsigned char) *p))
                        abbr[n++] = *p;
                else if (isdigit((unsigned char) *p))
                        abbr[n++] = *p;
                p++;
                if ((size_t) (p - az) >= l - 1)
                        break;
        }
        abbr[n] = '\0';
        snprintf(buf, len, "%s-az%d", abbr, az[l - 1] - 'a' + 1);
}

struct sib_scan {
        const char *vpc_id;
        struct cidr4 cidr;
        char conflict[64];
};

static int sib_cb(const char *key, json_t *s, void *ud)
{
        struct sib_scan *c = ud;
        struct cidr4 other;
        if (strcmp(json_string_value(json_object_get(s, "VpcId")) ?: "", c->vpc_id) != 0)
                return 0;
        if (cidr4_parse(json_string_value(json_object_get(s, "CidrBlock")), &other) == 0 && cidr4_overlaps(&other, &c->cidr))
                snprintf(c->conflict, sizeof c->conflict, "%s", json_string_value(json_object_get(s, "SubnetId")));
        return 0;
}

int subnet_create(struct netd *d, const struct subnet_create_req *q, bool default_for_az, json_t **ret_subnet, struct err *err)
{
        const char *vpc_id = q->vpc_id, *cidr_s = q->cidr_s, *az = q->az;
        struct sib_scan scan = { .vpc_id = vpc_id, .cidr = q->cidr };
        struct cidr4 vpc_cidr;
        struct knet_subnet ks;
        char id[ID_MAX], key[KEY_MAX], ikey[64], bridge[16], mvp[16], arn[160], azid[32], azbuf[40];
        char macs[MAC_STR_MAX];
        uint8_t mac[6];
        _cleanup_json_ json_t *vpc = NULL, *s = NULL, *intent = NULL;
        int r;

        if ((r = vpc_load(d, vpc_id, &vpc, err)) < 0)
                return r;
        (void) cidr4_parse(json_string_value(json_object_get(vpc, "CidrBlock")), &vpc_cidr);
        if (scan.cidr.len < 16 || scan.cidr.len > 28 || !cidr4_contains(&vpc_cidr, &scan.cidr))
                return err_set(err, EINVAL, "InvalidSubnet.Range", "The CIDR '%s' is invalid for vpc '%s' (%s): it must lie inside the VPC with a prefix from /16 to /28",
                               cidr_s, vpc_id, json_string_value(json_object_get(vpc, "CidrBlock")));
        if ((r = store_list(d->store, "subnet/", sib_cb, &scan, err)) < 0)
                return r;
        if (scan.conflict[0])
                return err_set(err, EEXIST, "InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet (%s)", cidr_s, scan.conflict);
        if (!az) {
                snprintf(azbuf, sizeof azbuf, "%sa", d->region);
                az = azbuf;
        }
        az_id(az, azid, sizeof azid);

        if ((r = id_new("subnet", id)) < 0)
                return err_set(err, -r, NULL, "CreateSubnet: random id: %s", strerror(-r));
        snprintf(bridge, sizeof bridge, "b%s", id + strlen(id) - 14);
        snprintf(mvp, sizeof mvp, "m%s", id + strlen(id) - 14);
        mac_from_id(id, mac);
        mac[0] = 0x06;   /* locally administered unicast, apart from ENI MACs (0x02) */
        mac_format(mac, macs);
        snprintf(arn, sizeof arn, "arn:aws:ec2:%s:%s:subnet/%s", d->region, d->account, id);
        s = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:[], s:s, s:s, s:s}",
                      "SubnetId", id, "VpcId", vpc_id, "CidrBlock", cidr_s, "AvailabilityZone", az,
                      "AvailabilityZoneId", azid, "State", "pending", "DefaultForAz", default_for_az,
                      "MapPublicIpOnLaunch", 0, "OwnerId", d->account, "SubnetArn", arn, "Tags",
                      "ebxBridge", bridge, "ebxMvParent", mvp, "ebxBridgeMac", macs);
        ipam_subnet_init(s);
        intent = json_pack("{s:s, s:s}", "Op", "CreateSubnet", "SubnetId", id);
        key_fmt(key, "subnet", id);
        if ((r = intent_begin(d, key, s, intent, ikey, err)) < 0)
                return r;
        subnet_knet(s, json_string_value(json_object_get(vpc, "ebxNetns")), &ks);
        if ((r = knet_subnet_ensure(d->knet, &ks, err)) < 0) {
                struct err e2 = { 0 };
                (void) knet_subnet_delete(d->knet, &ks, &e2);
                (void) store_begin(d->store, &e2);
                (void) store_del(d->store, key, &e2);
                (void) intent_done(d, ikey, &e2);
                (void) store_commit(d->store, &e2);
                return err_wrap(err, "CreateSubnet %s", id);
        }
        json_object_set_new(s, "State", json_string("available"));
        if ((r = intent_finish(d, key, s, ikey, err)) < 0)
                return r;
        log_info("op=CreateSubnet subnet=%s vpc=%s cidr=%s az=%s bridge=%s", id, vpc_id, cidr_s, az, bridge);
        egress_subnet_changed(d, vpc_id, NULL);
        *ret_subnet = TAKE_PTR(s);
        return 0;
}

int op_create_subnet(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct subnet_create_req q;
        json_t *s = NULL;
        int r;
        if ((r = subnet_create_req_decode(req, d->region, &q, err)) < 0 || (r = subnet_create(d, &q, false, &s, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Subnet", subnet_shape(d, s));
        json_decref(s);
        return 0;
}

static json_t *subnet_values(json_t *s, const char *name)
{
        static const struct { const char *filter, *member; } map[] = {
                { "subnet-id", "SubnetId" }, { "vpc-id", "VpcId" }, { "cidr-block", "CidrBlock" },
                { "cidr", "CidrBlock" }, { "availability-zone", "AvailabilityZone" },
                { "availability-zone-id", "AvailabilityZoneId" }, { "state", "State" }, { "owner-id", "OwnerId" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(name, map[i].filter) == 0)
                        return json_pack("[O]", json_object_get(s, map[i].member));
        if (strcmp(name, "default-for-az") == 0)
                return json_pack("[s]", json_is_true(json_object_get(s, "DefaultForAz")) ? "true" : "false");
        return json_array();
}

int op_describe_subnets(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = subnet_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "subnet", "SubnetId", q.ids, q.filters, subnet_values, subnet_shape, "InvalidSubnetID.NotFound",
                                  "subnet ID", &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Subnets", out);
        return 0;
}

struct eni_scan {
        const char *subnet_id;
        int n;
};

static int eni_cb(const char *key, json_t *e, void *ud)
{
        struct eni_scan *s = ud;
        if (strcmp(json_string_value(json_object_get(e, "SubnetId")) ?: "", s->subnet_id) == 0)
                s->n++;
        return 0;
}

int op_delete_subnet(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct subnet_delete_req q;
        const char *id;
        struct eni_scan scan = { 0 };
        struct knet_subnet ks;
        char key[KEY_MAX], ikey[64];
        _cleanup_json_ json_t *s = NULL, *vpc = NULL, *intent = NULL;
        int r;
        if ((r = subnet_delete_req_decode(req, &q, err)) < 0)
                return r;
        id = q.subnet_id;
        if ((r = subnet_load(d, id, &s, err)) < 0)
                return r;
        scan.subnet_id = id;
        if ((r = store_list(d->store, "eni/", eni_cb, &scan, err)) < 0)
                return r;
        if (scan.n > 0)
                return err_set(err, EBUSY, "DependencyViolation",
                               "The subnet '%s' has dependencies and cannot be deleted: %d network interface(s) remain", id, scan.n);
        if ((r = egress_subnet_dependencies(d, id, err)) < 0)
                return r;
        if ((r = vpc_load(d, json_string_value(json_object_get(s, "VpcId")), &vpc, err)) < 0)
                return r;
        key_fmt(key, "subnet", id);
        intent = json_pack("{s:s, s:s}", "Op", "DeleteSubnet", "SubnetId", id);
        json_object_set_new(s, "State", json_string("deleting"));
        if ((r = intent_begin(d, key, s, intent, ikey, err)) < 0)
                return r;
        subnet_knet(s, json_string_value(json_object_get(vpc, "ebxNetns")), &ks);
        if ((r = knet_subnet_delete(d->knet, &ks, err)) < 0)
                return err_wrap(err, "DeleteSubnet %s", id);
        if ((r = intent_finish(d, key, NULL, ikey, err)) < 0)
                return r;
        log_info("op=DeleteSubnet subnet=%s", id);
        egress_subnet_changed(d, rec_str(s, "VpcId"), id);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int subnet_intent_replay(struct netd *d, json_t *intent, struct err *err)
{
        _cleanup_json_ json_t *s = NULL, *vpc = NULL;
        struct knet_subnet ks;
        int r;
        /* CreateSubnet rolled back, DeleteSubnet finished: both remove it */
        if (record_load(d, "subnet", rec_str(intent, "SubnetId"), &s) < 0)
                return 0;
        if (record_load(d, "vpc", rec_str(s, "VpcId"), &vpc) == 0) {
                subnet_knet(s, rec_str(vpc, "ebxNetns"), &ks);
                if ((r = knet_subnet_delete(d->knet, &ks, err)) < 0)
                        return r;
        }
        (void) record_del(d, "subnet", rec_str(intent, "SubnetId"), NULL);
        return 0;
}
