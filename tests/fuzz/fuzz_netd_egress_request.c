/* fuzz_netd_egress_request.c: libFuzzer target for the egress request decoders (netd/igw_req.c, natgw_req.c,
 * rtb_req.c): the first byte picks the operation ('A' + k: ops[k] below), the rest is the JSON request line.
 * What a decoder accepts must keep its header's promises (ids well-formed, one route target, CIDRs with
 * their host bits zero); a refusal must carry a code and a message; no decoder may change the request.
 * Seeds: tests/fuzz/corpus/netd_egress_request. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cidr.h"
#include "ecsbox/ids.h"
#include "../../netd/igw_req.h"
#include "../../netd/natgw_req.h"
#include "../../netd/rtb_req.h"

static const char *const ops[] = {
        "CreateInternetGateway", "AttachInternetGateway", "DetachInternetGateway", "DeleteInternetGateway",
        "DescribeInternetGateways", "CreateNatGateway", "DescribeNatGateways", "DeleteNatGateway",
        "CreateRouteTable", "DeleteRouteTable", "DescribeRouteTables", "CreateRoute", "ReplaceRoute",
        "DeleteRoute", "AssociateRouteTable", "DisassociateRouteTable",
};
#define NOPS (sizeof ops / sizeof ops[0])

static void broken(unsigned op, const char *what)
{
        fprintf(stderr, "%s: accepted request breaks its invariant: %s\n", ops[op], what);
        abort();
}
#define CHECK(op, cond) \
        do { \
                if (!(cond)) \
                        broken(op, #cond); \
        } while (0)

static int ids_ok(json_t *ids, const char *prefix)
{
        json_t *v;
        size_t i;
        if (!ids)
                return 1;
        json_array_foreach(ids, i, v)
                if (!id_valid(prefix, json_string_value(v)))
                        return 0;
        return 1;
}

static int cidr_ok(const struct route_req *q)
{
        struct cidr4 c;
        return q->dst_s && cidr4_parse(q->dst_s, &c) == 0 && c.addr == q->dst.addr && c.len == q->dst.len;
}

static int decode(unsigned op, json_t *req, struct err *err)
{
        struct igw_attach_req ia;
        struct igw_delete_req id;
        struct natgw_create_req nc;
        struct natgw_delete_req nd;
        struct rtb_create_req rc;
        struct rtb_delete_req rd;
        struct route_req rr;
        struct rtb_assoc_req ra;
        struct rtb_disassoc_req rx;
        struct req_describe q;
        int r;
        switch (op) {
        case 0:
                return igw_create_req_decode(req, err);
        case 1:
        case 2:
                if ((r = igw_attach_req_decode(req, &ia, err)) == 0)
                        CHECK(op, id_valid("igw", ia.igw_id) && id_valid("vpc", ia.vpc_id));
                return r;
        case 3:
                if ((r = igw_delete_req_decode(req, &id, err)) == 0)
                        CHECK(op, id_valid("igw", id.igw_id));
                return r;
        case 4:
                if ((r = igw_describe_req_decode(req, &q, err)) == 0)
                        CHECK(op, ids_ok(q.ids, "igw"));
                return r;
        case 5:
                if ((r = natgw_create_req_decode(req, &nc, err)) == 0) {
                        CHECK(op, id_valid("subnet", nc.subnet_id));
                        CHECK(op, !nc.allocation_id || id_valid("eipalloc", nc.allocation_id));
                        CHECK(op, !(nc.private_ && nc.allocation_id));
                }
                return r;
        case 6:
                if ((r = natgw_describe_req_decode(req, &q, err)) == 0)
                        CHECK(op, ids_ok(q.ids, "nat") && (!q.filters || json_is_array(q.filters)));
                return r;
        case 7:
                if ((r = natgw_delete_req_decode(req, &nd, err)) == 0)
                        CHECK(op, id_valid("nat", nd.natgw_id));
                return r;
        case 8:
                if ((r = rtb_create_req_decode(req, &rc, err)) == 0)
                        CHECK(op, id_valid("vpc", rc.vpc_id));
                return r;
        case 9:
                if ((r = rtb_delete_req_decode(req, &rd, err)) == 0)
                        CHECK(op, id_valid("rtb", rd.rtb_id));
                return r;
        case 10:
                if ((r = rtb_describe_req_decode(req, &q, err)) == 0)
                        CHECK(op, ids_ok(q.ids, "rtb"));
                return r;
        case 11:
        case 12:
                if ((r = route_create_req_decode(req, &rr, err)) == 0) {
                        CHECK(op, id_valid("rtb", rr.rtb_id) && cidr_ok(&rr));
                        CHECK(op, !rr.gateway_id != !rr.natgw_id);
                        CHECK(op, !rr.gateway_id || id_valid("igw", rr.gateway_id));
                        CHECK(op, !rr.natgw_id || id_valid("nat", rr.natgw_id));
                }
                return r;
        case 13:
                if ((r = route_delete_req_decode(req, &rr, err)) == 0)
                        CHECK(op, id_valid("rtb", rr.rtb_id) && cidr_ok(&rr) && !rr.gateway_id && !rr.natgw_id);
                return r;
        case 14:
                if ((r = rtb_assoc_req_decode(req, &ra, err)) == 0)
                        CHECK(op, id_valid("rtb", ra.rtb_id) && id_valid("subnet", ra.subnet_id));
                return r;
        default:
                if ((r = rtb_disassoc_req_decode(req, &rx, err)) == 0)
                        CHECK(op, id_valid("rtbassoc", rx.assoc_id));
                return r;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t jerr;
        json_t *req;
        struct err e = { 0 };
        char *before, *after;
        unsigned op;
        int r;

        if (size < 1)
                return 0;
        op = (unsigned char) (data[0] - 'A') % NOPS;
        req = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (!req)
                return 0;
        if (json_is_object(req)) {
                before = json_dumps(req, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                r = decode(op, req, &e);
                if (r > 0 || (r < 0 && (!e.code[0] || !e.msg[0])))
                        broken(op, "a refusal carries a code and a message; success is 0");
                after = json_dumps(req, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                if (!before || !after || strcmp(before, after) != 0) {
                        fprintf(stderr, "%s: the decoder changed the request\n", ops[op]);
                        abort();
                }
                free(before);
                free(after);
        }
        json_decref(req);
        return 0;
}
