/* sched_sd_req_test.c: the Cloud Map decoders (sd_req.c): paging, filters, namespaces, DnsConfig,
 * services, instance ids and attributes, DiscoverInstances; the RRsets of a service (dns.c,
 * sd_dns_rrsets) and ECS's serviceRegistries decoding. */
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
#include "../../scheduler/ecs/service_req.h"
#include "../../scheduler/sd/sd.h"
#include "../../scheduler/sd/sd_req.h"

static json_t *parse(const char *text)
{
        json_error_t jerr;
        json_t *v = json_loads(text, 0, &jerr);
        if (!v)
                fail_msg("bad test JSON %s: %s", text, jerr.text);
        return v;
}

static void want_err(int r, const struct err *err, const char *code, const char *frag)
{
        if (r >= 0)
                fail_msg("decoded, want %s '%s'", code, frag);
        if (strcmp(err->code, code) != 0 || !strstr(err->msg, frag))
                fail_msg("got %s '%s', want %s '%s'", err->code, err->msg, code, frag);
}

static void test_paging(void **state)
{
        _cleanup_json_ json_t *all = parse("[1, 2, 3, 4, 5]"), *req = parse("{\"MaxResults\": 2}"), *page = NULL, *tok = NULL,
                              *page2 = NULL, *tok2 = NULL, *next = NULL, *bad = parse("{\"NextToken\": \"ebx1.x\"}"),
                              *big = parse("{\"MaxResults\": 101}"), *neg = parse("{\"NextToken\": \"ebx1.-1\"}");
        struct sd_page pg;
        struct err err = { 0 };
        assert_int_equal(sd_page_decode(req, 100, 100, &pg, &err), 0);
        assert_int_equal(pg.max, 2);
        assert_int_equal(pg.offset, 0);
        sd_page_take(&pg, all, &page, &tok);
        assert_int_equal(json_array_size(page), 2);
        assert_string_equal(json_string_value(tok), "ebx1.2");
        next = json_pack("{s:i, s:O}", "MaxResults", 10, "NextToken", tok);
        assert_int_equal(sd_page_decode(next, 100, 100, &pg, &err), 0);
        sd_page_take(&pg, all, &page2, &tok2);
        assert_int_equal(json_array_size(page2), 3);
        assert_int_equal(json_integer_value(json_array_get(page2, 0)), 3);
        assert_null(tok2);
        want_err(sd_page_decode(bad, 100, 100, &pg, &err), &err, "InvalidInput", "Invalid NextToken 'ebx1.x'");
        want_err(sd_page_decode(neg, 100, 100, &pg, &err), &err, "InvalidInput", "Invalid NextToken");
        want_err(sd_page_decode(big, 100, 100, &pg, &err), &err, "InvalidInput", "MaxResults");
}

static void test_filters(void **state)
{
        static const char *const names[] = { "TYPE", "NAME", NULL };
        static const char *const conds[] = { "EQ", "IN", "BEGINS_WITH", NULL };
        _cleanup_json_ json_t *ok = parse("{\"Filters\": [{\"Name\": \"TYPE\", \"Values\": [\"HTTP\", \"DNS_PRIVATE\"], \"Condition\": \"IN\"},"
                                          " {\"Name\": \"NAME\", \"Values\": [\"corp\"], \"Condition\": \"BEGINS_WITH\"}]}"),
                              *dflt = parse("{\"Filters\": [{\"Name\": \"NAME\", \"Values\": [\"a\"]}]}"),
                              *badname = parse("{\"Filters\": [{\"Name\": \"COLOR\", \"Values\": [\"a\"]}]}"),
                              *badcond = parse("{\"Filters\": [{\"Name\": \"NAME\", \"Values\": [\"a\"], \"Condition\": \"BETWEEN\"}]}"),
                              *empty = parse("{\"Filters\": [{\"Name\": \"NAME\", \"Values\": []}]}"),
                              *two = parse("{\"Filters\": [{\"Name\": \"NAME\", \"Values\": [\"a\", \"b\"], \"Condition\": \"EQ\"}]}"),
                              *novals = parse("{\"Filters\": [{\"Name\": \"NAME\"}]}");
        struct sd_filters fs;
        struct err err = { 0 };
        assert_int_equal(sd_filters_decode(ok, names, conds, &fs, &err), 0);
        assert_int_equal(fs.n, 2);
        assert_true(sd_filter_match(&fs.f[0], "HTTP"));
        assert_true(sd_filter_match(&fs.f[0], "DNS_PRIVATE"));
        assert_false(sd_filter_match(&fs.f[0], "DNS_PUBLIC"));
        assert_true(sd_filter_match(&fs.f[1], "corp.local"));
        assert_false(sd_filter_match(&fs.f[1], "cor"));
        assert_false(sd_filter_match(&fs.f[1], NULL));
        assert_ptr_equal(sd_filters_find(&fs, "NAME"), &fs.f[1]);
        assert_null(sd_filters_find(&fs, "HTTP_NAME"));
        assert_int_equal(sd_filters_decode(dflt, names, conds, &fs, &err), 0);
        assert_string_equal(fs.f[0].cond, "EQ");
        assert_true(sd_filter_match(&fs.f[0], "a"));
        assert_false(sd_filter_match(&fs.f[0], "ab"));
        want_err(sd_filters_decode(badname, names, conds, &fs, &err), &err, "InvalidInput", "'COLOR' is not a valid filter name");
        want_err(sd_filters_decode(badcond, names, conds, &fs, &err), &err, "InvalidInput", "Condition 'BETWEEN' is not supported");
        want_err(sd_filters_decode(empty, names, conds, &fs, &err), &err, "InvalidInput", "Values must not be empty");
        want_err(sd_filters_decode(two, names, conds, &fs, &err), &err, "InvalidInput", "exactly one value");
        want_err(sd_filters_decode(novals, names, conds, &fs, &err), &err, "InvalidInput", "Missing required parameter: Filters[0].Values");
}

static void test_between(void **state)
{
        static const char *const names[] = { "UPDATE_DATE", NULL };
        static const char *const conds[] = { "EQ", "IN", "BETWEEN", NULL };
        _cleanup_json_ json_t *req = parse("{\"Filters\": [{\"Name\": \"UPDATE_DATE\", \"Values\": [\"100\", \"200\"], \"Condition\": \"BETWEEN\"}]}");
        struct sd_filters fs;
        struct err err = { 0 };
        assert_int_equal(sd_filters_decode(req, names, conds, &fs, &err), 0);
        assert_true(sd_filter_match(&fs.f[0], "150.5"));
        assert_true(sd_filter_match(&fs.f[0], "200"));
        assert_false(sd_filter_match(&fs.f[0], "201"));
}

static void test_namespace_create(void **state)
{
        _cleanup_json_ json_t *priv = parse("{\"Name\": \"corp.local\", \"Vpc\": \"vpc-1\", \"CreatorRequestId\": \"x\","
                                            " \"Properties\": {\"DnsProperties\": {\"SOA\": {\"TTL\": 100}}}}"),
                              *http = parse("{\"Name\": \"my apps\"}"), *novpc = parse("{\"Name\": \"corp.local\"}"),
                              *dots = parse("{\"Name\": \"a..b\", \"Vpc\": \"vpc-1\"}"),
                              *label = parse("{\"Name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b\", \"Vpc\": \"vpc-1\"}"),
                              *ttl = parse("{\"Name\": \"a.b\", \"Vpc\": \"vpc-1\", \"Properties\": {\"DnsProperties\": {\"SOA\": {\"TTL\": -1}}}}"),
                              *type = parse("{\"Name\": 5}"), *plain = parse("{\"Name\": \"apps\", \"Tags\": [{\"Key\": \"k\", \"Value\": \"v\"}]}");
        struct sd_ns_create_in in;
        struct err err = { 0 };
        assert_int_equal(sd_ns_create_decode(priv, true, &in, &err), 0);
        assert_string_equal(in.name, "corp.local");
        assert_string_equal(in.vpc, "vpc-1");
        assert_string_equal(in.creator, "x");
        assert_int_equal(in.soa_ttl, 100);
        assert_int_equal(sd_ns_create_decode(plain, false, &in, &err), 0);
        assert_int_equal(in.soa_ttl, 15);
        assert_int_equal(json_array_size(in.tags), 1);
        want_err(sd_ns_create_decode(http, false, &in, &err), &err, "InvalidInput", "printable ASCII");
        want_err(sd_ns_create_decode(novpc, true, &in, &err), &err, "InvalidInput", "Missing required parameter: Vpc");
        want_err(sd_ns_create_decode(dots, true, &in, &err), &err, "InvalidInput", "not a valid DNS name");
        want_err(sd_ns_create_decode(label, true, &in, &err), &err, "InvalidInput", "longer than 63");
        want_err(sd_ns_create_decode(ttl, true, &in, &err), &err, "InvalidInput", "TTL");
        want_err(sd_ns_create_decode(type, false, &in, &err), &err, "SerializationException", "Name");
}

static void test_dns_config(void **state)
{
        _cleanup_json_ json_t *asrv = parse("{\"DnsRecords\": [{\"Type\": \"A\", \"TTL\": 60}, {\"Type\": \"SRV\", \"TTL\": 30}]}"),
                              *cname = parse("{\"RoutingPolicy\": \"WEIGHTED\", \"DnsRecords\": [{\"Type\": \"CNAME\", \"TTL\": 5}]}"),
                              *cname_mv = parse("{\"DnsRecords\": [{\"Type\": \"CNAME\", \"TTL\": 5}]}"),
                              *mix = parse("{\"RoutingPolicy\": \"WEIGHTED\", \"DnsRecords\": [{\"Type\": \"CNAME\", \"TTL\": 5}, {\"Type\": \"A\", \"TTL\": 5}]}"),
                              *dup = parse("{\"DnsRecords\": [{\"Type\": \"A\", \"TTL\": 5}, {\"Type\": \"A\", \"TTL\": 6}]}"),
                              *nottl = parse("{\"DnsRecords\": [{\"Type\": \"A\"}]}"), *none = parse("{\"DnsRecords\": []}"),
                              *mx = parse("{\"DnsRecords\": [{\"Type\": \"MX\", \"TTL\": 5}]}"),
                              *pol = parse("{\"RoutingPolicy\": \"RANDOM\", \"DnsRecords\": [{\"Type\": \"A\", \"TTL\": 5}]}");
        struct sd_records r;
        struct err err = { 0 };
        assert_int_equal(sd_dns_config_decode(asrv, false, &r, &err), 0);
        assert_true(r.a && r.srv && !r.aaaa && !r.cname);
        assert_int_equal(r.ttl_a, 60);
        assert_int_equal(r.ttl_srv, 30);
        assert_string_equal(r.routing, "MULTIVALUE");
        assert_int_equal(sd_dns_config_decode(cname, false, &r, &err), 0);
        assert_true(r.cname);
        want_err(sd_dns_config_decode(cname_mv, false, &r, &err), &err, "InvalidInput", "WEIGHTED");
        want_err(sd_dns_config_decode(mix, false, &r, &err), &err, "InvalidInput", "cannot be combined");
        want_err(sd_dns_config_decode(dup, false, &r, &err), &err, "InvalidInput", "one record of type A");
        want_err(sd_dns_config_decode(nottl, false, &r, &err), &err, "InvalidInput", "Missing required parameter: DnsConfig.DnsRecords[0].TTL");
        want_err(sd_dns_config_decode(none, false, &r, &err), &err, "InvalidInput", "at least one record");
        want_err(sd_dns_config_decode(mx, false, &r, &err), &err, "InvalidInput", "Type 'MX' is invalid");
        want_err(sd_dns_config_decode(pol, false, &r, &err), &err, "InvalidInput", "RoutingPolicy 'RANDOM'");
        /* a stored config read back */
        sd_records_of(asrv, &r);
        assert_true(r.a && r.srv);
        sd_records_of(NULL, &r);
        assert_false(r.a || r.srv || r.aaaa || r.cname);
}

static void test_service_create(void **state)
{
        _cleanup_json_ json_t *ok = parse("{\"Name\": \"web\", \"DnsConfig\": {\"NamespaceId\": \"ns-1\", \"DnsRecords\": [{\"Type\": \"A\", \"TTL\": 60}]},"
                                          " \"HealthCheckCustomConfig\": {\"FailureThreshold\": 3}}"),
                              *http = parse("{\"Name\": \"api\", \"NamespaceId\": \"ns-2\", \"Type\": \"HTTP\"}"),
                              *nons = parse("{\"Name\": \"api\"}"), *badname = parse("{\"Name\": \"-web\", \"NamespaceId\": \"ns-1\"}"),
                              *hc = parse("{\"Name\": \"web\", \"NamespaceId\": \"ns-1\", \"HealthCheckConfig\": {\"Type\": \"HTTP\"}}"),
                              *thr = parse("{\"Name\": \"web\", \"NamespaceId\": \"ns-1\", \"HealthCheckCustomConfig\": {\"FailureThreshold\": 11}}"),
                              *typed = parse("{\"Name\": \"web\", \"NamespaceId\": \"ns-1\", \"Type\": \"HTTP\", \"DnsConfig\": {\"DnsRecords\": [{\"Type\": \"A\", \"TTL\": 1}]}}");
        struct sd_svc_create_in in;
        struct err err = { 0 };
        assert_int_equal(sd_svc_create_decode(ok, &in, &err), 0);
        assert_string_equal(in.namespace_id, "ns-1");   /* from DnsConfig.NamespaceId (deprecated place) */
        assert_true(in.rec.a);
        assert_non_null(in.health_custom);
        assert_int_equal(sd_svc_create_decode(http, &in, &err), 0);
        assert_null(in.dns_config);
        assert_string_equal(in.type, "HTTP");
        want_err(sd_svc_create_decode(nons, &in, &err), &err, "InvalidInput", "NamespaceId");
        want_err(sd_svc_create_decode(badname, &in, &err), &err, "InvalidInput", "Name '-web' is invalid");
        want_err(sd_svc_create_decode(hc, &in, &err), &err, "InvalidInput", "HealthCheckConfig");
        want_err(sd_svc_create_decode(thr, &in, &err), &err, "InvalidInput", "FailureThreshold");
        want_err(sd_svc_create_decode(typed, &in, &err), &err, "InvalidInput", "Type HTTP cannot be combined");
}

static void test_names(void **state)
{
        assert_true(sd_service_name_valid("web"));
        assert_true(sd_service_name_valid("_http._tcp"));
        assert_true(sd_service_name_valid("a-b.c"));
        assert_true(sd_service_name_valid("."));
        assert_false(sd_service_name_valid(""));
        assert_false(sd_service_name_valid("a..b"));
        assert_false(sd_service_name_valid("a-"));
        assert_false(sd_service_name_valid("a b"));
        assert_true(sd_instance_id_valid("0123456789abcdef0123456789abcdef"));
        assert_true(sd_instance_id_valid("i/1:x.y@z_-"));
        assert_false(sd_instance_id_valid(""));
        assert_false(sd_instance_id_valid("a b"));
        assert_false(sd_instance_id_valid("01234567890123456789012345678901234567890123456789012345678901234"));
}

static void test_register_and_attributes(void **state)
{
        _cleanup_json_ json_t *ok = parse("{\"ServiceId\": \"srv-1\", \"InstanceId\": \"i1\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.1\", \"AWS_INSTANCE_PORT\": \"80\"}}"),
                              *badid = parse("{\"ServiceId\": \"srv-1\", \"InstanceId\": \"a b\", \"Attributes\": {}}"),
                              *noattrs = parse("{\"ServiceId\": \"srv-1\", \"InstanceId\": \"i1\"}"),
                              *numattr = parse("{\"ServiceId\": \"srv-1\", \"InstanceId\": \"i1\", \"Attributes\": {\"k\": 1}}"),
                              *badip = parse("{\"AWS_INSTANCE_IPV4\": \"10.0.0.300\"}"), *badport = parse("{\"AWS_INSTANCE_IPV4\": \"10.0.0.1\", \"AWS_INSTANCE_PORT\": \"70000\"}"),
                              *noport = parse("{\"AWS_INSTANCE_IPV4\": \"10.0.0.1\"}"), *v6 = parse("{\"AWS_INSTANCE_IPV6\": \"fd00::1\", \"AWS_INSTANCE_PORT\": \"1\"}"),
                              *init = parse("{\"AWS_INSTANCE_IPV4\": \"10.0.0.1\", \"AWS_INIT_HEALTH_STATUS\": \"UNHEALTHY\"}"),
                              *initbad = parse("{\"AWS_INSTANCE_IPV4\": \"10.0.0.1\", \"AWS_INIT_HEALTH_STATUS\": \"MAYBE\"}"),
                              *many = json_object();
        struct sd_register_in in;
        struct sd_records a = { .a = true }, srv = { .srv = true }, none = { 0 };
        struct err err = { 0 };
        char k[16];
        assert_int_equal(sd_register_decode(ok, &in, &err), 0);
        assert_string_equal(in.instance_id, "i1");
        assert_int_equal(sd_attributes_check(in.attrs, &a, false, &err), 0);
        assert_int_equal(sd_attributes_check(in.attrs, &srv, false, &err), 0);
        want_err(sd_register_decode(badid, &in, &err), &err, "InvalidInput", "InstanceId 'a b' is invalid");
        want_err(sd_register_decode(noattrs, &in, &err), &err, "InvalidInput", "Missing required parameter: Attributes");
        want_err(sd_register_decode(numattr, &in, &err), &err, "SerializationException", "Attributes.k");
        want_err(sd_attributes_check(badip, &none, false, &err), &err, "InvalidInput", "'10.0.0.300' is not a valid IPv4");
        want_err(sd_attributes_check(badport, &srv, false, &err), &err, "InvalidInput", "'70000' is not a valid port");
        want_err(sd_attributes_check(noport, &srv, false, &err), &err, "InvalidInput", "AWS_INSTANCE_PORT");
        want_err(sd_attributes_check(v6, &a, false, &err), &err, "InvalidInput", "AWS_INSTANCE_IPV4");
        assert_int_equal(sd_attributes_check(v6, &srv, false, &err), 0);
        want_err(sd_attributes_check(init, &a, false, &err), &err, "InvalidInput", "custom health check");
        assert_int_equal(sd_attributes_check(init, &a, true, &err), 0);
        want_err(sd_attributes_check(initbad, &a, true, &err), &err, "InvalidInput", "'MAYBE'");
        for (int i = 0; i < 31; i++) {
                snprintf(k, sizeof k, "k%d", i);
                json_object_set_new(many, k, json_string("v"));
        }
        want_err(sd_attributes_check(many, &none, false, &err), &err, "InvalidInput", "Too many custom attributes: 31");
        json_object_del(many, "k0");
        assert_int_equal(sd_attributes_check(many, &none, false, &err), 0);
}

static void test_discover(void **state)
{
        _cleanup_json_ json_t *ok = parse("{\"NamespaceName\": \"corp.local\", \"ServiceName\": \"web\"}"),
                              *full = parse("{\"NamespaceName\": \"n\", \"ServiceName\": \"s\", \"MaxResults\": 5, \"HealthStatus\": \"ALL\","
                                            " \"QueryParameters\": {\"color\": \"red\"}}"),
                              *bad = parse("{\"NamespaceName\": \"n\", \"ServiceName\": \"s\", \"HealthStatus\": \"SOME\"}"),
                              *max = parse("{\"NamespaceName\": \"n\", \"ServiceName\": \"s\", \"MaxResults\": 1001}"),
                              *qp = parse("{\"NamespaceName\": \"n\", \"ServiceName\": \"s\", \"QueryParameters\": {\"a\": 1}}"),
                              *attrs = parse("{\"color\": \"red\", \"size\": \"L\"}"), *q1 = parse("{\"color\": \"red\"}"),
                              *q2 = parse("{\"color\": \"blue\"}"), *q3 = parse("{\"shape\": \"round\"}"), *q0 = json_object();
        struct sd_discover_in in;
        struct err err = { 0 };
        assert_int_equal(sd_discover_decode(ok, &in, &err), 0);
        assert_string_equal(in.health, "HEALTHY");
        assert_int_equal(in.max, 100);
        assert_null(in.query);
        assert_int_equal(sd_discover_decode(full, &in, &err), 0);
        assert_string_equal(in.health, "ALL");
        assert_int_equal(in.max, 5);
        assert_non_null(in.query);
        want_err(sd_discover_decode(bad, &in, &err), &err, "InvalidInput", "HealthStatus 'SOME'");
        want_err(sd_discover_decode(max, &in, &err), &err, "InvalidInput", "MaxResults");
        want_err(sd_discover_decode(qp, &in, &err), &err, "SerializationException", "QueryParameters.a");
        assert_true(sd_attrs_match(attrs, q1));
        assert_false(sd_attrs_match(attrs, q2));
        assert_false(sd_attrs_match(attrs, q3));
        assert_true(sd_attrs_match(attrs, q0));
}

/* The RRsets: healthy A addresses (all when none is healthy), SRV per chosen instance, A per instance. */
static void test_rrsets(void **state)
{
        _cleanup_json_ json_t *svc = parse("{\"Id\": \"srv-1\", \"Name\": \"Web\", \"HealthCheckCustomConfig\": {\"FailureThreshold\": 1},"
                                           " \"DnsConfig\": {\"DnsRecords\": [{\"Type\": \"A\", \"TTL\": 60}, {\"Type\": \"SRV\", \"TTL\": 30}]}}"),
                              *ns = parse("{\"Id\": \"ns-1\", \"Name\": \"corp.local.\"}"),
                              *insts = parse("[{\"Id\": \"t1\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.1\", \"AWS_INSTANCE_PORT\": \"80\"}, \"ebx\": {\"health\": \"HEALTHY\"}},"
                                             " {\"Id\": \"t2\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.2\", \"AWS_INSTANCE_PORT\": \"80\"}, \"ebx\": {\"health\": \"UNHEALTHY\"}}]"),
                              *sick = parse("[{\"Id\": \"t2\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.2\", \"AWS_INSTANCE_PORT\": \"80\"}, \"ebx\": {\"health\": \"UNHEALTHY\"}}]"),
                              *sets = sd_dns_rrsets(svc, ns, insts), *sets2 = sd_dns_rrsets(svc, ns, sick), *empty = json_array(), *none = sd_dns_rrsets(svc, ns, empty),
                              *want = parse("[{\"Name\": \"web.corp.local\", \"Type\": \"SRV\", \"Ttl\": 30, \"Records\": [\"1 1 80 t1.web.corp.local.\"]},"
                                            " {\"Name\": \"web.corp.local\", \"Type\": \"A\", \"Ttl\": 60, \"Records\": [\"10.0.0.1\"]},"
                                            " {\"Name\": \"t1.web.corp.local\", \"Type\": \"A\", \"Ttl\": 60, \"Records\": [\"10.0.0.1\"]},"
                                            " {\"Name\": \"t2.web.corp.local\", \"Type\": \"A\", \"Ttl\": 60, \"Records\": [\"10.0.0.2\"]}]"),
                              *want2 = parse("[{\"Name\": \"web.corp.local\", \"Type\": \"SRV\", \"Ttl\": 30, \"Records\": [\"1 1 80 t2.web.corp.local.\"]},"
                                             " {\"Name\": \"web.corp.local\", \"Type\": \"A\", \"Ttl\": 60, \"Records\": [\"10.0.0.2\"]},"
                                             " {\"Name\": \"t2.web.corp.local\", \"Type\": \"A\", \"Ttl\": 60, \"Records\": [\"10.0.0.2\"]}]");
        if (!json_equal(sets, want))
                fail_msg("got %s", json_dumps(sets, JSON_COMPACT));
        if (!json_equal(sets2, want2))
                fail_msg("got %s", json_dumps(sets2, JSON_COMPACT));
        assert_int_equal(json_array_size(none), 0);
}

static void test_ecs_registries(void **state)
{
        _cleanup_json_ json_t *ok = parse("{\"serviceName\": \"w\", \"taskDefinition\": \"t\", \"desiredCount\": 1,"
                                          " \"serviceRegistries\": [{\"registryArn\": \"arn:aws:servicediscovery:us-east-1:1:service/srv-1\", \"port\": 80}]}"),
                              *two = parse("{\"serviceName\": \"w\", \"taskDefinition\": \"t\", \"desiredCount\": 1,"
                                           " \"serviceRegistries\": [{\"registryArn\": \"a\"}, {\"registryArn\": \"b\"}]}"),
                              *noarn = parse("{\"serviceName\": \"w\", \"taskDefinition\": \"t\", \"desiredCount\": 1, \"serviceRegistries\": [{\"port\": 80}]}"),
                              *port = parse("{\"serviceName\": \"w\", \"taskDefinition\": \"t\", \"desiredCount\": 1,"
                                            " \"serviceRegistries\": [{\"registryArn\": \"a\", \"containerPort\": 70000}]}"),
                              *upd = parse("{\"service\": \"w\", \"serviceRegistries\": []}");
        struct service_create_in in;
        struct service_update_in up;
        struct err err = { 0 };
        assert_int_equal(service_create_decode(ok, &in, &err), 0);
        assert_int_equal(json_array_size(in.registries), 1);
        want_err(service_create_decode(two, &in, &err), &err, "InvalidParameterException", "Only one service registry");
        want_err(service_create_decode(noarn, &in, &err), &err, "InvalidParameterException", "serviceRegistries.registryArn");
        want_err(service_create_decode(port, &in, &err), &err, "InvalidParameterException", "containerPort");
        assert_int_equal(service_update_decode(upd, &up, &err), 0);
        assert_non_null(up.registries);
        assert_int_equal(json_array_size(up.registries), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paging),          cmocka_unit_test(test_filters),        cmocka_unit_test(test_between),
                cmocka_unit_test(test_namespace_create), cmocka_unit_test(test_dns_config),    cmocka_unit_test(test_service_create),
                cmocka_unit_test(test_names),           cmocka_unit_test(test_register_and_attributes), cmocka_unit_test(test_discover),
                cmocka_unit_test(test_rrsets),          cmocka_unit_test(test_ecs_registries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
