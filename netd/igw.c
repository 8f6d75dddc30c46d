/* igw.c: internet gateways: records with at most one attachment; attaching and detaching re-apply the VPC's routes. */
#include <errno.h>
#include <string.h>

#include "describe.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "egress.h"
#include "igw.h"
#include "igw_req.h"
#include "netd.h"
#include "record.h"
#include "req.h"
#include "vpc.h"

int igw_load(struct netd *d, const char *igw_id, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id_valid("igw", igw_id))
                return err_set(err, EINVAL, "InvalidInternetGatewayID.Malformed", "Invalid id: \"%s\"", igw_id);
        key_fmt(key, "igw", igw_id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", igw_id);
        return r;
}

const char *igw_vpc(json_t *igw)
{
        return rec_str(json_array_get(json_object_get(igw, "Attachments"), 0), "VpcId");
}

void igw_set_vpc(json_t *igw, const char *vpc_id)
{
        json_object_set_new(igw, "Attachments", vpc_id ? json_pack("[{s:s, s:s}]", "VpcId", vpc_id, "State", "available") : json_array());
}

int igw_new(struct netd *d, json_t **ret, struct err *err)
{
        char id[ID_MAX];
        json_t *igw;
        int r;
        if ((r = id_new("igw", id)) < 0)
                return err_set(err, -r, NULL, "CreateInternetGateway: random id: %s", strerror(-r));
        igw = json_pack("{s:s, s:s, s:[], s:[]}", "InternetGatewayId", id, "OwnerId", d->account, "Attachments", "Tags");
        if (!igw)
                return err_set(err, ENOMEM, NULL, "out of memory");
        *ret = igw;
        return 0;
}

static json_t *igw_shape(struct netd *d, json_t *igw)
{
        (void) d;
        return json_incref(igw);
}

int op_create_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *igw = NULL;
        char key[KEY_MAX];
        int r;
        if ((r = igw_create_req_decode(req, err)) < 0 || (r = igw_new(d, &igw, err)) < 0)
                return r;
        json_object_set_new(igw, "Tags", req_tags(req, "internet-gateway"));
        key_fmt(key, "igw", rec_str(igw, "InternetGatewayId"));
        if ((r = store_put(d->store, key, igw, err)) < 0)
                return r;
        log_info("op=CreateInternetGateway igw=%s", rec_str(igw, "InternetGatewayId"));
        *ret = json_pack("{s:O}", "InternetGateway", igw);
        return 0;
}

struct vpc_igw_scan {
        const char *vpc_id;
        char found[ID_MAX];
};

static int vpc_igw_cb(const char *key, json_t *igw, void *ud)
{
        struct vpc_igw_scan *s = ud;
        (void) key;
        if (strcmp(igw_vpc(igw) ?: "", s->vpc_id) == 0)
                snprintf(s->found, sizeof s->found, "%s", rec_str(igw, "InternetGatewayId"));
        return 0;
}

/* Store the changed gateway and re-apply the VPC's routes. */
static int igw_commit(struct netd *d, json_t *igw, const char *vpc_id, struct err *err)
{
        char key[KEY_MAX];
        _cleanup_json_ json_t *changes = NULL;
        key_fmt(key, "igw", rec_str(igw, "InternetGatewayId"));
        changes = json_pack("[[s, O]]", key, igw);
        return egress_commit(d, vpc_id, changes, err);
}

int op_attach_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct igw_attach_req q;
        struct vpc_igw_scan s = { 0 };
        _cleanup_json_ json_t *igw = NULL, *vpc = NULL;
        int r;
        if ((r = igw_attach_req_decode(req, &q, err)) < 0 || (r = igw_load(d, q.igw_id, &igw, err)) < 0 ||
            (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        if (igw_vpc(igw))
                return err_set(err, EEXIST, "Resource.AlreadyAssociated", "resource %s is already attached to network %s", q.igw_id, igw_vpc(igw));
        s.vpc_id = q.vpc_id;
        if ((r = store_list(d->store, "igw/", vpc_igw_cb, &s, err)) < 0)
                return r;
        if (s.found[0])
                return err_set(err, EEXIST, "Resource.AlreadyAssociated", "Network %s already has an internet gateway attached (%s)", q.vpc_id,
                               s.found);
        igw_set_vpc(igw, q.vpc_id);
        if ((r = igw_commit(d, igw, q.vpc_id, err)) < 0)
                return err_wrap(err, "AttachInternetGateway %s", q.igw_id);
        log_info("op=AttachInternetGateway igw=%s vpc=%s", q.igw_id, q.vpc_id);
        *ret = json_object();
        return 0;
}

int op_detach_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct igw_attach_req q;
        _cleanup_json_ json_t *igw = NULL, *vpc = NULL;
        int r;
        if ((r = igw_attach_req_decode(req, &q, err)) < 0 || (r = igw_load(d, q.igw_id, &igw, err)) < 0 ||
            (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        if (strcmp(igw_vpc(igw) ?: "", q.vpc_id) != 0)
                return err_set(err, EINVAL, "Gateway.NotAttached", "resource %s is not attached to network %s", q.igw_id, q.vpc_id);
        igw_set_vpc(igw, NULL);
        if ((r = igw_commit(d, igw, q.vpc_id, err)) < 0)
                return err_wrap(err, "DetachInternetGateway %s", q.igw_id);
        log_info("op=DetachInternetGateway igw=%s vpc=%s", q.igw_id, q.vpc_id);
        *ret = json_object();
        return 0;
}

int op_delete_internet_gateway(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct igw_delete_req q;
        _cleanup_json_ json_t *igw = NULL;
        char key[KEY_MAX];
        int r;
        if ((r = igw_delete_req_decode(req, &q, err)) < 0 || (r = igw_load(d, q.igw_id, &igw, err)) < 0)
                return r;
        if (igw_vpc(igw))
                return err_set(err, EBUSY, "DependencyViolation", "The internetGateway '%s' has dependencies and cannot be deleted: attached to %s",
                               q.igw_id, igw_vpc(igw));
        key_fmt(key, "igw", q.igw_id);
        if ((r = store_del(d->store, key, err)) < 0)
                return r;
        log_info("op=DeleteInternetGateway igw=%s", q.igw_id);
        *ret = json_object();
        return 0;
}

static json_t *igw_values(json_t *igw, const char *name)
{
        if (strcmp(name, "internet-gateway-id") == 0)
                return json_pack("[O]", json_object_get(igw, "InternetGatewayId"));
        if (strcmp(name, "owner-id") == 0)
                return json_pack("[O]", json_object_get(igw, "OwnerId"));
        if (strcmp(name, "attachment.vpc-id") == 0)
                return igw_vpc(igw) ? json_pack("[s]", igw_vpc(igw)) : json_array();
        if (strcmp(name, "attachment.state") == 0)
                return igw_vpc(igw) ? json_pack("[s]", "available") : json_array();
        return json_array();
}

int op_describe_internet_gateways(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = igw_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "igw", "InternetGatewayId", q.ids, q.filters, igw_values, igw_shape,
                                  "InvalidInternetGatewayID.NotFound", "internetGateway ID", &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "InternetGateways", out);
        return 0;
}
