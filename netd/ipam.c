/* ipam.c: every address lease: ENI addresses per subnet (AWS reserved addresses skipped) and bridge-mode
 * addresses per instance, both round-robin from a cursor; their records and their repair at start-up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ipam.h"
#include "kernel/knet_bridge.h"
#include "netd.h"
#include "record.h"

int ipam_next(const struct cidr4 *subnet, uint32_t cursor, ipam_taken_fn taken, void *userdata, uint32_t *ret_ip)
{
        uint64_t size = cidr4_size(subnet);
        uint64_t off;

        if (cidr4_usable(subnet) == 0)
                return -ENOSPC;
        off = cidr4_contains_ip(subnet, cursor) ? (uint64_t) (cursor - subnet->addr) + 1 : 0;
        for (uint64_t i = 0; i < size; i++, off++) {
                uint32_t ip = subnet->addr + (uint32_t) (off % size);
                int r;
                if (cidr4_is_reserved(subnet, ip))
                        continue;
                r = taken(ip, userdata);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_ip = ip;
                        return 0;
                }
        }
        return -ENOSPC;
}

int ipam_bridge_next(uint32_t cursor, ipam_taken_fn taken, void *userdata, uint32_t *ret_ip)
{
        const uint32_t first = BRIDGE_GW + 1, last = BRIDGE_NET + (1u << (32 - BRIDGE_PREFIX)) - 2;
        const uint32_t size = last - first + 1;
        uint32_t off = cursor >= first && cursor <= last ? cursor - first + 1 : 0;

        for (uint32_t i = 0; i < size; i++, off++) {
                uint32_t ip = first + off % size;
                int r = taken(ip, userdata);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_ip = ip;
                        return 0;
                }
        }
        return -ENOSPC;
}

/* ---- ENI addresses ---- */

/* An address lease's key: KIND/OWNER/IPHEX, lease/SUBNET/... or bip/INSTANCE/... */
static void addr_key(char buf[KEY_MAX], const char *kind, const char *owner, uint32_t ip)
{
        snprintf(buf, KEY_MAX, "%s/%s/%08x", kind, owner, ip);
}

struct probe {
        struct netd *d;
        const char *kind, *owner;
};

static int addr_taken(uint32_t ip, void *ud)
{
        struct probe *p = ud;
        char key[KEY_MAX];
        addr_key(key, p->kind, p->owner, ip);
        return store_exists(p->d->store, key);
}

static int lease_put(struct netd *d, const char *subnet_id, uint32_t ip, const char *eni_id, struct err *err)
{
        _cleanup_json_ json_t *lease = json_pack("{s:s}", "NetworkInterfaceId", eni_id);
        char key[KEY_MAX];
        addr_key(key, "lease", subnet_id, ip);
        return store_put(d->store, key, lease, err);
}

/* PrivateIpAddress asked for (parsed by eni_req.c): in the subnet, not reserved, not leased. */
static int want_check(struct netd *d, json_t *subnet, const struct cidr4 *c, uint32_t ip, struct err *err)
{
        const char *subnet_id = rec_str(subnet, "SubnetId");
        struct probe probe = { d, "lease", subnet_id };
        char want_ip[IP4_STR_MAX];
        int r;
        ip4_format(ip, want_ip);
        if (!cidr4_contains_ip(c, ip))
                return err_set(err, EINVAL, JERR_INVALID, "Address %s does not fall within the subnet's address range (%s)", want_ip,
                               rec_str(subnet, "CidrBlock"));
        if (cidr4_is_reserved(c, ip))
                return err_set(err, EINVAL, JERR_INVALID,
                               "Address %s is reserved in subnet %s (network, router, DNS, future use and broadcast addresses)", want_ip,
                               subnet_id);
        r = addr_taken(ip, &probe);
        if (r < 0)
                return err_set(err, -r, NULL, "IP lease lookup failed");
        if (r > 0)
                return err_set(err, EEXIST, "InvalidIPAddress.InUse", "The specified address %s is already in use in subnet %s", want_ip,
                               subnet_id);
        return 0;
}

/* The next free address after the subnet's cursor; the cursor moves and the subnet record is stored. */
static int next_pick(struct netd *d, json_t *subnet, const struct cidr4 *c, uint32_t *ret_ip, struct err *err)
{
        const char *subnet_id = rec_str(subnet, "SubnetId");
        struct probe probe = { d, "lease", subnet_id };
        uint32_t cursor = (uint32_t) json_integer_value(json_object_get(subnet, "ebxCursor")), ip;
        char key[KEY_MAX];
        int r = ipam_next(c, cursor, addr_taken, &probe, &ip);
        if (r == -ENOSPC)
                return err_set(err, ENOSPC, "InsufficientFreeAddressesInSubnet",
                               "There are not enough free addresses in subnet '%s' (%s) to satisfy the requested number of instances.",
                               subnet_id, rec_str(subnet, "CidrBlock"));
        if (r < 0)
                return err_set(err, -r, NULL, "IP lease lookup failed");
        json_object_set_new(subnet, "ebxCursor", json_integer(ip));
        key_fmt(key, "subnet", subnet_id);
        if ((r = store_put(d->store, key, subnet, err)) < 0)
                return r;
        *ret_ip = ip;
        return 0;
}

void ipam_subnet_init(json_t *subnet)
{
        json_object_set_new(subnet, "ebxCursor", json_integer(0));
}

int ipam_eni_take(struct netd *d, json_t *subnet, const uint32_t *want_ip, const char *eni_id, uint32_t *ret_ip,
                  struct err *err)
{
        struct cidr4 c;
        uint32_t ip = 0;
        int r;
        (void) cidr4_parse(rec_str(subnet, "CidrBlock"), &c);
        if (want_ip) {
                ip = *want_ip;
                r = want_check(d, subnet, &c, ip, err);
        } else
                r = next_pick(d, subnet, &c, &ip, err);
        if (r < 0 || (r = lease_put(d, rec_str(subnet, "SubnetId"), ip, eni_id, err)) < 0)
                return r;
        *ret_ip = ip;
        return 0;
}

int ipam_eni_release(struct netd *d, json_t *eni, struct err *err)
{
        char key[KEY_MAX];
        uint32_t ip;
        if (ip4_parse(rec_str(eni, "PrivateIpAddress"), &ip) < 0)
                return 0;
        addr_key(key, "lease", rec_str(eni, "SubnetId"), ip);
        return store_del(d->store, key, err);
}

long ipam_subnet_used(struct netd *d, const char *subnet_id)
{
        char prefix[KEY_MAX];
        snprintf(prefix, sizeof prefix, "lease/%s/", subnet_id);
        return store_count(d->store, prefix, NULL);
}

int ipam_eni_repair(struct netd *d, json_t *eni)
{
        const char *id = rec_str(eni, "NetworkInterfaceId");
        char key[KEY_MAX];
        uint32_t ip;
        if (ip4_parse(rec_str(eni, "PrivateIpAddress"), &ip) < 0)
                return 0;
        addr_key(key, "lease", rec_str(eni, "SubnetId"), ip);
        if (store_exists(d->store, key) != 0)
                return 0;
        (void) lease_put(d, rec_str(eni, "SubnetId"), ip, id, NULL);
        log_notice("msg=\"restored missing IP lease\" eni=%s ip=%s", id, rec_str(eni, "PrivateIpAddress"));
        return 1;
}

int ipam_eni_sweep(struct netd *d, struct err *err)
{
        return records_sweep(d, "lease/", record_eni_exists, NULL, "ENI", err);
}

/* ---- bridge-mode addresses ---- */

static void cursors_key(char buf[KEY_MAX], const char *inst)
{
        snprintf(buf, KEY_MAX, "bridge/%s", inst);
}

static int bip_put(struct netd *d, const char *key, const char *netns, struct err *err)
{
        _cleanup_json_ json_t *v = json_pack("{s:s}", "Netns", netns);
        return store_put(d->store, key, v, err);
}

json_t *ipam_bridge_cursors(struct netd *d, const char *inst)
{
        json_t *cur = NULL;
        char key[KEY_MAX];
        cursors_key(key, inst);
        if (store_get(d->store, key, &cur, NULL) < 0)
                cur = json_object();
        return cur;
}

int ipam_bridge_cursors_put(struct netd *d, const char *inst, json_t *cursors, struct err *err)
{
        char key[KEY_MAX];
        cursors_key(key, inst);
        return store_put(d->store, key, cursors, err);
}

int ipam_bridge_take(struct netd *d, const char *inst, const char *netns, json_t *cursors, uint32_t *ret_ip,
                     struct err *err)
{
        struct probe probe = { d, "bip", inst };
        char key[KEY_MAX];
        uint32_t ip;
        int r = ipam_bridge_next((uint32_t) json_integer_value(json_object_get(cursors, "IpCursor")), addr_taken, &probe, &ip);
        if (r == -ENOSPC)
                return err_set(err, ENOSPC, "InsufficientFreeAddressesInSubnet", "No free address left on " BRIDGE_IFNAME " of instance netns '%s'", inst);
        if (r < 0)
                return err_set(err, -r, NULL, "bridge address lookup failed");
        addr_key(key, "bip", inst, ip);
        if ((r = bip_put(d, key, netns, err)) < 0)
                return r;
        json_object_set_new(cursors, "IpCursor", json_integer(ip));
        *ret_ip = ip;
        return 0;
}

int ipam_bridge_release(struct netd *d, const char *inst, uint32_t ip, struct err *err)
{
        char key[KEY_MAX];
        addr_key(key, "bip", inst, ip);
        return store_del(d->store, key, err);
}

long ipam_bridge_count(struct netd *d, const char *inst, struct err *err)
{
        char prefix[KEY_MAX];
        snprintf(prefix, sizeof prefix, "bip/%s/", inst);
        return store_count(d->store, prefix, err);
}

int ipam_bridge_repair(struct netd *d, const char *inst, const char *netns, const char *ips)
{
        char key[KEY_MAX];
        uint32_t ip;
        if (ip4_parse(ips, &ip) < 0)
                return 0;
        addr_key(key, "bip", inst, ip);
        return store_exists(d->store, key) == 0 && bip_put(d, key, netns, NULL) >= 0;
}

bool ipam_bridge_owned(const char *key, json_t *value, json_t *owners)
{
        /* PREFIX/INSTANCE/...: the owner must be a bridge task of INSTANCE */
        const char *p = strchr(key, '/') + 1, *q = strchr(p, '/');
        char owner[KEY_MAX * 2];
        if (!q)
                return false;
        snprintf(owner, sizeof owner, "%.*s\n%s", (int) (q - p), p, rec_str(value, "Netns") ?: "");
        return json_object_get(owners, owner) != NULL;
}

static bool bip_owned(struct netd *d, const char *key, json_t *value, void *owners)
{
        (void) d;
        return ipam_bridge_owned(key, value, owners);
}

int ipam_bridge_sweep(struct netd *d, json_t *owners, struct err *err)
{
        return records_sweep(d, "bip/", bip_owned, owners, "bridge task", err);
}
