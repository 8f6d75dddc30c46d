/* natgw.c: NAT gateways: records in a subnet, available at once, kept as deleted once deleted (as EC2 shows them). */
#include <errno.h>
#include <string.h>

#include "describe.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "egress.h"
#include "natgw.h"
#include "natgw_req.h"
#include "netd.h"
#include "record.h"
#include "req.h"
#include "subnet.h"

int natgw_load(struct netd *d, const char *natgw_id, const char *code, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id_valid("nat", natgw_id))
                return err_set(err, EINVAL, "InvalidNatGatewayID.Malformed", "Invalid id: \"%s\"", natgw_id);
        key_fmt(key, "natgw", natgw_id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, code, "The NAT gateway ID '%s' does not exist", natgw_id);
        return r;
}

static json_t *natgw_shape(struct netd *d, json_t *n)
{
        (void) d;
        return json_incref(n);
}

int op_create_nat_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct natgw_create_req q;
        _cleanup_json_ json_t *subnet = NULL, *nat = NULL, *addr = NULL;
        char id[ID_MAX], key[KEY_MAX], now[ISO8601_MAX];
        int r;
        if ((r = natgw_create_req_decode(req, &q, err)) < 0 || (r = subnet_load(d, q.subnet_id, &subnet, err)) < 0)
                return r;
        if ((r = id_new("nat", id)) < 0)
                return err_set(err, -r, NULL, "CreateNatGateway: random id: %s", strerror(-r));
        iso8601_ms(-1, now);
        /* no ENI and no public address of its own: it masquerades behind the host (docs/egress.md) */
        addr = json_pack("{s:b, s:s}", "IsPrimary", 1, "Status", "succeeded");
        if (q.allocation_id)
                json_object_set_new(addr, "AllocationId", json_string(q.allocation_id));
        nat = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[O], s:o}", "NatGatewayId", id, "SubnetId", q.subnet_id, "VpcId",
                        rec_str(subnet, "VpcId"), "State", "available", "ConnectivityType", q.private_ ? "private" : "public",
                        "CreateTime", now, "NatGatewayAddresses", addr, "Tags", req_tags(req, "natgateway"));
        if (!nat)
                return err_set(err, ENOMEM, NULL, "out of memory");
        key_fmt(key, "natgw", id);
        /* routes naming this id cannot exist yet: nothing to apply */
        if ((r = store_put(d->store, key, nat, err)) < 0)
                return r;
        log_info("op=CreateNatGateway nat=%s subnet=%s type=%s", id, q.subnet_id, q.private_ ? "private" : "public");
        *ret = json_pack("{s:O}", "NatGateway", nat);
        return 0;
}

static json_t *natgw_values(json_t *n, const char *name)
{
        static const struct { const char *filter, *member; } map[] = {
                { "nat-gateway-id", "NatGatewayId" }, { "state", "State" }, { "subnet-id", "SubnetId" }, { "vpc-id", "VpcId" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(name, map[i].filter) == 0)
                        return json_pack("[O]", json_object_get(n, map[i].member));
        return json_array();
}

int op_describe_nat_gateways(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = natgw_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "natgw", "NatGatewayId", q.ids, q.filters, natgw_values, natgw_shape, "NatGatewayNotFound",
                                  "NAT gateway ID", &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "NatGateways", out);
        return 0;
}

int op_delete_nat_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct natgw_delete_req q;
        _cleanup_json_ json_t *nat = NULL, *changes = NULL;
        char key[KEY_MAX], now[ISO8601_MAX];
        int r;
        if ((r = natgw_delete_req_decode(req, &q, err)) < 0 || (r = natgw_load(d, q.natgw_id, "NatGatewayNotFound", &nat, err)) < 0)
                return r;
        if (strcmp(rec_str(nat, "State") ?: "", "deleted") != 0) {
                iso8601_ms(-1, now);
                json_object_set_new(nat, "State", json_string("deleted"));
                json_object_set_new(nat, "DeleteTime", json_string(now));
                key_fmt(key, "natgw", q.natgw_id);
                changes = json_pack("[[s, O]]", key, nat);
                /* routes to it turn blackhole */
                if ((r = egress_commit(d, rec_str(nat, "VpcId"), changes, err)) < 0)
                        return err_wrap(err, "DeleteNatGateway %s", q.natgw_id);
                log_info("op=DeleteNatGateway nat=%s", q.natgw_id);
        }
        *ret = json_pack("{s:s}", "NatGatewayId", q.natgw_id);
        return 0;
}
