/* netd_egress_test.c: the egress request decoders (netd/igw_req.c, natgw_req.c, rtb_req.c) with their exact
 * EC2 codes and messages, and route selection (netd/route_sel.c): the longest prefix among a table's routes. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"
#include "../../netd/igw_req.h"
#include "../../netd/natgw_req.h"
#include "../../netd/route_sel.h"
#include "../../netd/rtb_req.h"

#define IGW "igw-0123456789abcdef0"
#define VPC "vpc-0123456789abcdef0"
#define RTB "rtb-0123456789abcdef0"
#define NAT "nat-0123456789abcdef0"
#define SUBNET "subnet-0123456789abcdef0"

static json_t *load(const char *text)
{
        json_error_t jerr;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                fail_msg("bad test JSON '%s': %s", text, jerr.text);
        return j;
}

/* Refused with exactly this code and message. */
#define REFUSE(call, text, want_code, want_msg) \
        do { \
                json_t *req_ = load(text); \
                struct err err_ = { 0 }; \
                assert_true(call(req_, &err_) < 0); \
                assert_string_equal(err_.code, want_code); \
                assert_string_equal(err_.msg, want_msg); \
                json_decref(req_); \
        } while (0)

static void test_igw(void **state)
{
        struct igw_attach_req a;
        struct igw_delete_req d;
        struct req_describe q;
        json_t *req;
        struct err err = { 0 };
        (void) state;

        req = load("{\"Action\": \"CreateInternetGateway\", \"TagSpecifications\": []}");
        assert_int_equal(igw_create_req_decode(req, &err), 0);
        json_decref(req);
        req = load("{\"Action\": \"AttachInternetGateway\", \"InternetGatewayId\": \"" IGW "\", \"VpcId\": \"" VPC "\"}");
        assert_int_equal(igw_attach_req_decode(req, &a, &err), 0);
        assert_string_equal(a.igw_id, IGW);
        assert_string_equal(a.vpc_id, VPC);
        json_decref(req);
        req = load("{\"Action\": \"DescribeInternetGateways\", \"InternetGatewayIds\": [\"" IGW "\"],"
                   " \"Filters\": [{\"Name\": \"attachment.vpc-id\", \"Values\": [\"" VPC "\"]}]}");
        assert_int_equal(igw_describe_req_decode(req, &q, &err), 0);
        assert_int_equal(json_array_size(q.ids), 1);
        assert_int_equal(json_array_size(q.filters), 1);
        json_decref(req);

#define ATTACH(req, err) igw_attach_req_decode(req, &a, err)
#define DELETE(req, err) igw_delete_req_decode(req, &d, err)
#define DESCRIBE(req, err) igw_describe_req_decode(req, &q, err)
#define CREATE(req, err) igw_create_req_decode(req, err)
        REFUSE(ATTACH, "{\"Action\": \"AttachInternetGateway\", \"VpcId\": \"" VPC "\"}", "MissingParameter",
               "The request must contain the parameter InternetGatewayId");
        REFUSE(ATTACH, "{\"Action\": \"AttachInternetGateway\", \"InternetGatewayId\": \"igw-1\", \"VpcId\": \"" VPC "\"}",
               "InvalidInternetGatewayID.Malformed", "Invalid id: \"igw-1\"");
        REFUSE(ATTACH, "{\"Action\": \"AttachInternetGateway\", \"InternetGatewayId\": \"" IGW "\", \"VpcId\": \"vpc\"}",
               "InvalidVpcID.Malformed", "Invalid id: \"vpc\"");
        REFUSE(DELETE, "{\"Action\": \"DeleteInternetGateway\", \"InternetGatewayId\": 7}", "InvalidParameterValue",
               "Invalid value for parameter InternetGatewayId: expected a string");
        REFUSE(DESCRIBE, "{\"Action\": \"DescribeInternetGateways\", \"Filters\": [{\"Name\": \"vpc\", \"Values\": []}]}",
               "InvalidParameterValue", "The filter 'vpc' is invalid");
        REFUSE(CREATE, "{\"Action\": \"CreateInternetGateway\", \"VpcId\": \"" VPC "\"}", "UnknownParameter",
               "Unknown parameter in input: \"VpcId\"");
#undef ATTACH
#undef DELETE
#undef DESCRIBE
#undef CREATE
}

static void test_natgw(void **state)
{
        struct natgw_create_req c;
        struct natgw_delete_req d;
        struct req_describe q;
        json_t *req;
        struct err err = { 0 };
        (void) state;

        req = load("{\"Action\": \"CreateNatGateway\", \"SubnetId\": \"" SUBNET "\"}");
        assert_int_equal(natgw_create_req_decode(req, &c, &err), 0);
        assert_string_equal(c.subnet_id, SUBNET);
        assert_false(c.private_);
        assert_null(c.allocation_id);
        json_decref(req);
        req = load("{\"Action\": \"CreateNatGateway\", \"SubnetId\": \"" SUBNET "\", \"ConnectivityType\": \"private\"}");
        assert_int_equal(natgw_create_req_decode(req, &c, &err), 0);
        assert_true(c.private_);
        json_decref(req);
        req = load("{\"Action\": \"CreateNatGateway\", \"SubnetId\": \"" SUBNET "\", \"AllocationId\": \"eipalloc-0123456789abcdef0\"}");
        assert_int_equal(natgw_create_req_decode(req, &c, &err), 0);
        assert_string_equal(c.allocation_id, "eipalloc-0123456789abcdef0");
        json_decref(req);
        /* EC2 names this call's filter list Filter; Filters is taken too */
        req = load("{\"Action\": \"DescribeNatGateways\", \"Filter\": [{\"Name\": \"state\", \"Values\": [\"available\"]}]}");
        assert_int_equal(natgw_describe_req_decode(req, &q, &err), 0);
        assert_int_equal(json_array_size(q.filters), 1);
        json_decref(req);
        req = load("{\"Action\": \"DescribeNatGateways\", \"Filters\": [{\"Name\": \"vpc-id\", \"Values\": [\"" VPC "\"]}]}");
        assert_int_equal(natgw_describe_req_decode(req, &q, &err), 0);
        assert_int_equal(json_array_size(q.filters), 1);
        json_decref(req);

#define CREATE(req, err) natgw_create_req_decode(req, &c, err)
#define DELETE(req, err) natgw_delete_req_decode(req, &d, err)
#define DESCRIBE(req, err) natgw_describe_req_decode(req, &q, err)
        REFUSE(CREATE, "{\"Action\": \"CreateNatGateway\"}", "MissingParameter", "The request must contain the parameter SubnetId");
        REFUSE(CREATE, "{\"Action\": \"CreateNatGateway\", \"SubnetId\": \"" SUBNET "\", \"ConnectivityType\": \"both\"}",
               "InvalidParameterValue", "Value (both) for parameter connectivityType is invalid: expected public or private");
        REFUSE(CREATE,
               "{\"Action\": \"CreateNatGateway\", \"SubnetId\": \"" SUBNET "\", \"ConnectivityType\": \"private\","
               " \"AllocationId\": \"eipalloc-0123456789abcdef0\"}",
               "InvalidParameterCombination", "A private NAT gateway takes no AllocationId (got eipalloc-0123456789abcdef0)");
        REFUSE(CREATE, "{\"Action\": \"CreateNatGateway\", \"SubnetId\": \"" SUBNET "\", \"AllocationId\": \"eip-1\"}",
               "InvalidAllocationID.Malformed", "Invalid id: \"eip-1\"");
        REFUSE(DELETE, "{\"Action\": \"DeleteNatGateway\", \"NatGatewayId\": \"nat-xyz\"}", "InvalidNatGatewayID.Malformed",
               "Invalid id: \"nat-xyz\"");
        REFUSE(DESCRIBE, "{\"Action\": \"DescribeNatGateways\", \"NatGatewayIds\": [\"" NAT "\", 3]}", "InvalidParameterValue",
               "NatGatewayIds.2 must be a string");
#undef CREATE
#undef DELETE
#undef DESCRIBE
}

static void test_routes_and_tables(void **state)
{
        struct route_req r;
        struct rtb_create_req c;
        struct rtb_assoc_req a;
        struct rtb_disassoc_req da;
        struct req_describe q;
        json_t *req;
        struct err err = { 0 };
        (void) state;

        req = load("{\"Action\": \"CreateRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"0.0.0.0/0\","
                   " \"GatewayId\": \"" IGW "\"}");
        assert_int_equal(route_create_req_decode(req, &r, &err), 0);
        assert_string_equal(r.rtb_id, RTB);
        assert_int_equal(r.dst.len, 0);
        assert_string_equal(r.gateway_id, IGW);
        assert_null(r.natgw_id);
        json_decref(req);
        req = load("{\"Action\": \"ReplaceRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"198.18.0.0/15\","
                   " \"NatGatewayId\": \"" NAT "\"}");
        assert_int_equal(route_create_req_decode(req, &r, &err), 0);
        assert_int_equal(r.dst.addr, 0xc6120000u);
        assert_int_equal(r.dst.len, 15);
        assert_string_equal(r.natgw_id, NAT);
        json_decref(req);
        req = load("{\"Action\": \"DeleteRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"10.0.0.0/8\"}");
        assert_int_equal(route_delete_req_decode(req, &r, &err), 0);
        json_decref(req);
        req = load("{\"Action\": \"CreateRouteTable\", \"VpcId\": \"" VPC "\"}");
        assert_int_equal(rtb_create_req_decode(req, &c, &err), 0);
        assert_string_equal(c.vpc_id, VPC);
        json_decref(req);
        req = load("{\"Action\": \"AssociateRouteTable\", \"RouteTableId\": \"" RTB "\", \"SubnetId\": \"" SUBNET "\"}");
        assert_int_equal(rtb_assoc_req_decode(req, &a, &err), 0);
        assert_string_equal(a.subnet_id, SUBNET);
        json_decref(req);
        req = load("{\"Action\": \"DescribeRouteTables\", \"Filters\": [{\"Name\": \"association.main\", \"Values\": [\"true\"]}]}");
        assert_int_equal(rtb_describe_req_decode(req, &q, &err), 0);
        json_decref(req);

#define ROUTE(req, err) route_create_req_decode(req, &r, err)
#define DELROUTE(req, err) route_delete_req_decode(req, &r, err)
#define DISASSOC(req, err) rtb_disassoc_req_decode(req, &da, err)
#define ASSOC(req, err) rtb_assoc_req_decode(req, &a, err)
        REFUSE(ROUTE, "{\"Action\": \"CreateRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"0.0.0.0/0\"}",
               "MissingParameter",
               "The request must contain exactly one of gatewayId, natGatewayId (ecsbox routes to internet and NAT gateways)");
        REFUSE(ROUTE,
               "{\"Action\": \"CreateRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"0.0.0.0/0\","
               " \"GatewayId\": \"" IGW "\", \"NatGatewayId\": \"" NAT "\"}",
               "InvalidParameterCombination", "The request may contain only one of gatewayId (" IGW "), natGatewayId (" NAT ")");
        REFUSE(ROUTE,
               "{\"Action\": \"CreateRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"10.0.0.1/8\","
               " \"GatewayId\": \"" IGW "\"}",
               "InvalidParameterValue", "Value (10.0.0.1/8) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.");
        REFUSE(ROUTE,
               "{\"Action\": \"CreateRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"0.0.0.0/0\","
               " \"GatewayId\": \"local\"}",
               "InvalidGatewayID.Malformed", "Invalid id: \"local\"");
        REFUSE(ROUTE,
               "{\"Action\": \"CreateRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"0.0.0.0/0\","
               " \"InstanceId\": \"i-0123456789abcdef0\"}",
               "UnknownParameter", "Unknown parameter in input: \"InstanceId\"");
        REFUSE(ROUTE, "{\"Action\": \"CreateRoute\", \"RouteTableId\": \"rtb-1\", \"DestinationCidrBlock\": \"0.0.0.0/0\"}",
               "InvalidRouteTableID.Malformed", "Invalid id: \"rtb-1\"");
        REFUSE(DELROUTE, "{\"Action\": \"DeleteRoute\", \"RouteTableId\": \"" RTB "\"}", "MissingParameter",
               "The request must contain the parameter DestinationCidrBlock");
        REFUSE(DELROUTE,
               "{\"Action\": \"DeleteRoute\", \"RouteTableId\": \"" RTB "\", \"DestinationCidrBlock\": \"0.0.0.0/0\", \"GatewayId\": \"" IGW "\"}",
               "UnknownParameter", "Unknown parameter in input: \"GatewayId\"");
        REFUSE(DISASSOC, "{\"Action\": \"DisassociateRouteTable\", \"AssociationId\": \"" RTB "\"}", "InvalidAssociationID.Malformed",
               "Invalid id: \"" RTB "\"");
        REFUSE(ASSOC, "{\"Action\": \"AssociateRouteTable\", \"RouteTableId\": \"" RTB "\"}", "MissingParameter",
               "The request must contain the parameter SubnetId");
#undef ROUTE
#undef DELROUTE
#undef DISASSOC
#undef ASSOC
}

static struct route_ent ent(const char *cidr)
{
        struct route_ent e = { { 0, 0 }, NULL };
        assert_int_equal(cidr4_parse(cidr, &e.dst), 0);
        return e;
}

static uint32_t ip(const char *s)
{
        uint32_t a;
        assert_int_equal(ip4_parse(s, &a), 0);
        return a;
}

static void test_route_select(void **state)
{
        struct route_ent v[] = { ent("10.0.0.0/16"), ent("0.0.0.0/0"), ent("198.18.0.0/15"), ent("198.18.0.0/24"), ent("198.18.0.7/32") };
        struct cidr4 c;
        (void) state;
        /* longest prefix wins, whatever the order */
        assert_int_equal(route_select(v, 5, ip("10.0.3.4")), 0);
        assert_int_equal(route_select(v, 5, ip("8.8.8.8")), 1);
        assert_int_equal(route_select(v, 5, ip("198.19.1.1")), 2);
        assert_int_equal(route_select(v, 5, ip("198.18.0.2")), 3);
        assert_int_equal(route_select(v, 5, ip("198.18.0.7")), 4);
        assert_int_equal(route_select(v, 5, ip("198.18.1.7")), 2);
        /* no default route: nothing for outside addresses */
        assert_int_equal(route_select(v + 2, 3, ip("8.8.8.8")), -1);
        assert_int_equal(route_select(v, 0, ip("8.8.8.8")), -1);
        /* a whole block: the longest route holding all of it */
        assert_int_equal(cidr4_parse("198.18.0.0/24", &c), 0);
        assert_int_equal(route_select_cidr(v, 5, &c), 3);
        assert_int_equal(cidr4_parse("198.18.0.0/23", &c), 0);
        assert_int_equal(route_select_cidr(v, 5, &c), 2);
        assert_int_equal(cidr4_parse("0.0.0.0/0", &c), 0);
        assert_int_equal(route_select_cidr(v, 5, &c), 1);
        assert_int_equal(route_select_cidr(v + 2, 3, &c), -1);
        /* equal prefixes: the first */
        {
                struct route_ent w[] = { ent("0.0.0.0/0"), ent("0.0.0.0/0") };
                assert_int_equal(route_select(w, 2, ip("1.2.3.4")), 0);
        }
        /* a /32 route covers only its address */
        assert_int_equal(route_select(v + 4, 1, ip("198.18.0.8")), -1);
        assert_int_equal(route_select(v + 4, 1, ip("198.18.0.7")), 0);
}

/* Every seed of fuzz_netd_egress_request is a request its decoder accepts (byte 'A' + k: operation k). */
static int seed_decode(unsigned op, json_t *req, struct err *err)
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
        switch (op) {
        case 0: return igw_create_req_decode(req, err);
        case 1: case 2: return igw_attach_req_decode(req, &ia, err);
        case 3: return igw_delete_req_decode(req, &id, err);
        case 4: return igw_describe_req_decode(req, &q, err);
        case 5: return natgw_create_req_decode(req, &nc, err);
        case 6: return natgw_describe_req_decode(req, &q, err);
        case 7: return natgw_delete_req_decode(req, &nd, err);
        case 8: return rtb_create_req_decode(req, &rc, err);
        case 9: return rtb_delete_req_decode(req, &rd, err);
        case 10: return rtb_describe_req_decode(req, &q, err);
        case 11: case 12: return route_create_req_decode(req, &rr, err);
        case 13: return route_delete_req_decode(req, &rr, err);
        case 14: return rtb_assoc_req_decode(req, &ra, err);
        default: return rtb_disassoc_req_decode(req, &rx, err);
        }
}

#define SEEDS "tests/fuzz/corpus/netd_egress_request"

static void test_fuzz_seeds_accepted(void **state)
{
        DIR *dir = opendir(SEEDS);
        struct dirent *de;
        unsigned seen = 0;
        (void) state;
        assert_non_null(dir);
        while ((de = readdir(dir))) {
                char path[512], buf[4096];
                struct err err = { 0 };
                json_error_t jerr;
                json_t *req;
                size_t len;
                FILE *f;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, SEEDS "/%s", de->d_name);
                assert_non_null(f = fopen(path, "re"));
                len = fread(buf, 1, sizeof buf, f);
                fclose(f);
                assert_true(len > 1 && len < sizeof buf && buf[0] >= 'A' && buf[0] < 'A' + 16);
                if (!(req = json_loadb(buf + 1, len - 1, JSON_REJECT_DUPLICATES, &jerr)))
                        fail_msg("seed %s: %s", de->d_name, jerr.text);
                if (seed_decode((unsigned) (buf[0] - 'A'), req, &err) != 0)
                        fail_msg("seed %s refused: %s: %s", de->d_name, err.code, err.msg);
                seen |= 1u << (buf[0] - 'A');
                json_decref(req);
        }
        closedir(dir);
        assert_int_equal(seen, 0xffffu);   /* a seed per operation */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_igw),
                cmocka_unit_test(test_natgw),
                cmocka_unit_test(test_routes_and_tables),
                cmocka_unit_test(test_route_select),
                cmocka_unit_test(test_fuzz_seeds_accepted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
