/* sched_sd_dns_test.c: the Cloud Map DNS pushes to netd (sd/dns.c) against a stub netd: the zone of
 * a DNS_PRIVATE namespace, the RRsets after each instance change, a failed push kept and retried,
 * sets no longer wanted emptied, the zone deleted, everything pushed again after a restart; operations older than a week pruned. */
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
#include "ecsbox/store.h"
#include "../../scheduler/front/api.h"
#include "../../scheduler/sched.h"
#include "../../scheduler/sd/api.h"
#include "../../scheduler/sd/sd.h"

struct stub {
        json_t *log;            /* the requests netd got (DescribeVpcs left out) */
        bool down;              /* every call fails as with netd away */
};

static int stub_netd(struct sched *s, json_t *req, json_t **ret, struct err *err)
{
        struct stub *st = s->test_data;
        const char *action = jstr(req, "Action") ?: "";
        if (st->down)
                return err_set(err, ECONNREFUSED, NULL, "connect netd: Connection refused");
        if (strcmp(action, "PutDnsZone") == 0 && strcmp(jstr(req, "Name") ?: "", "ec2.internal") == 0)
                return err_set(err, EIO, "netd:InvalidParameterValue", "Zone 'ec2.internal' is the VPC's own domain");
        if (strcmp(action, "DescribeVpcs") == 0) {
                const char *id = json_string_value(json_array_get(json_object_get(req, "VpcIds"), 0));
                if (strcmp(id ?: "", "vpc-1") != 0)
                        return err_set(err, EIO, "netd:InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id ?: "");
                *ret = json_pack("{s:[{s:s}]}", "Vpcs", "VpcId", "vpc-1");
                return 0;
        }
        json_array_append(st->log, req);
        *ret = json_object();
        return 0;
}

static int setup(void **state)
{
        static struct sched s;
        static struct stub st;
        struct sched_options o = { 0 };
        struct err err = { 0 };
        memset(&s, 0, sizeof s);
        st.log = json_array();
        st.down = false;
        s.netd_call = stub_netd;
        s.test_data = &st;
        assert_int_equal(sched_init(&s, &o, &err), 0);
        *state = &s;
        return 0;
}

static int teardown(void **state)
{
        struct sched *s = *state;
        json_decref(((struct stub *) s->test_data)->log);
        sched_done(s);
        return 0;
}

static json_t *ok(struct sched *s, const char *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *ok(struct sched *s, const char *op, const char *fmt, ...)
{
        struct api_ctx c = { .s = s, .region = "us-east-1" };
        char body[2048];
        json_error_t jerr;
        va_list ap;
        _cleanup_json_ json_t *req = NULL;
        json_t *ret = NULL;
        struct err err = { 0 };
        va_start(ap, fmt);
        vsnprintf(body, sizeof body, fmt, ap);
        va_end(ap);
        req = json_loads(body, 0, &jerr);
        assert_non_null(req);
        if (sd_dispatch(&c, op, req, &ret, &err) < 0)
                fail_msg("%s %s: %s: %s", op, body, err.code, err.msg);
        return ret;
}

static json_t *take_log(struct sched *s)
{
        struct stub *st = s->test_data;
        json_t *l = st->log;
        st->log = json_array();
        return l;
}

/* The last PutDnsRecords of log for name/type, or NULL. */
static json_t *put_req(json_t *log, const char *name, const char *type)
{
        json_t *r, *found = NULL;
        size_t i;
        json_array_foreach(log, i, r)
                if (strcmp(jstr(r, "Action") ?: "", "PutDnsRecords") == 0 && strcmp(jstr(r, "Name") ?: "", name) == 0 &&
                    strcmp(jstr(r, "Type") ?: "", type) == 0)
                        found = r;
        return found;
}

static json_t *records(json_t *log, const char *name, const char *type)
{
        return json_object_get(put_req(log, name, type), "Records");
}

static void want_records(json_t *log, const char *name, const char *type, const char *want)
{
        json_error_t jerr;
        _cleanup_json_ json_t *w = json_loads(want, 0, &jerr);
        json_t *got = records(log, name, type);
        if (!got || !json_equal(got, w))
                fail_msg("%s %s: got %s, want %s (log %s)", name, type, got ? json_dumps(got, JSON_COMPACT) : "nothing", want,
                         json_dumps(log, JSON_COMPACT));
}

static void test_pushes(void **state)
{
        struct sched *s = *state;
        struct stub *st = s->test_data;
        _cleanup_json_ json_t *op = NULL, *get = NULL, *svc = NULL, *log = NULL, *r1 = NULL, *r2 = NULL, *d1 = NULL, *d2 = NULL,
                              *del = NULL, *dns = NULL, *ns2 = NULL, *x = NULL;
        const char *ns, *sid;
        char key[128];

        op = ok(s, "CreatePrivateDnsNamespace", "{\"Name\": \"Corp.Local\", \"Vpc\": \"vpc-1\"}");
        get = ok(s, "GetOperation", "{\"OperationId\": \"%s\"}", jstr(op, "OperationId"));
        ns = jstr(json_object_get(json_object_get(get, "Operation"), "Targets"), "NAMESPACE");
        log = take_log(s);
        /* the check before the record, then the push (idempotent) */
        assert_int_equal(json_array_size(log), 2);
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(jstr(json_array_get(log, i), "Action"), "PutDnsZone");
                assert_string_equal(jstr(json_array_get(log, i), "VpcId"), "vpc-1");
                assert_string_equal(jstr(json_array_get(log, i), "Name"), "corp.local");
        }
        json_decref(log);

        svc = ok(s, "CreateService", "{\"Name\": \"web\", \"NamespaceId\": \"%s\", \"DnsConfig\": {\"DnsRecords\": "
                                     "[{\"Type\": \"A\", \"TTL\": 60}, {\"Type\": \"SRV\", \"TTL\": 30}]}}", ns);
        sid = jstr(json_object_get(svc, "Service"), "Id");
        r1 = ok(s, "RegisterInstance", "{\"ServiceId\": \"%s\", \"InstanceId\": \"t1\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.1\", \"AWS_INSTANCE_PORT\": \"80\"}}", sid);
        log = take_log(s);
        want_records(log, "web.corp.local", "A", "[\"10.0.0.1\"]");
        want_records(log, "web.corp.local", "SRV", "[\"1 1 80 t1.web.corp.local.\"]");
        want_records(log, "t1.web.corp.local", "A", "[\"10.0.0.1\"]");
        assert_int_equal(jint(put_req(log, "web.corp.local", "A"), "Ttl", 0), 60);
        assert_int_equal(jint(put_req(log, "web.corp.local", "SRV"), "Ttl", 0), 30);
        assert_string_equal(jstr(put_req(log, "web.corp.local", "A"), "VpcId"), "vpc-1");
        json_decref(log);

        /* netd away: the change is kept, pushed once netd is back */
        st->down = true;
        r2 = ok(s, "RegisterInstance", "{\"ServiceId\": \"%s\", \"InstanceId\": \"t2\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.2\", \"AWS_INSTANCE_PORT\": \"80\"}}", sid);
        snprintf(key, sizeof key, "svc:%s", sid);
        assert_non_null(json_object_get(s->sd_dirty, key));
        sd_dns_flush(s);
        assert_int_equal(jint(json_object_get(s->sd_dirty, key), "tries", 0), 2);
        st->down = false;
        sd_dns_flush(s);
        assert_null(json_object_get(s->sd_dirty, key));
        log = take_log(s);
        want_records(log, "web.corp.local", "A", "[\"10.0.0.1\", \"10.0.0.2\"]");
        want_records(log, "t2.web.corp.local", "A", "[\"10.0.0.2\"]");
        json_decref(log);

        /* only what changed is pushed again: t1's own record stays as netd has it */
        x = ok(s, "RegisterInstance", "{\"ServiceId\": \"%s\", \"InstanceId\": \"t3\", \"Attributes\": {\"AWS_INSTANCE_IPV4\": \"10.0.0.3\", \"AWS_INSTANCE_PORT\": \"80\"}}", sid);
        json_decref(x);
        log = take_log(s);
        assert_int_equal(json_array_size(log), 3);
        want_records(log, "web.corp.local", "A", "[\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]");
        want_records(log, "t3.web.corp.local", "A", "[\"10.0.0.3\"]");
        assert_null(records(log, "t1.web.corp.local", "A"));
        json_decref(log);
        x = ok(s, "DeregisterInstance", "{\"ServiceId\": \"%s\", \"InstanceId\": \"t3\"}", sid);
        json_decref(x);
        json_decref(take_log(s));
        /* a forced pass (start-up, each minute) pushes every set */
        sd_dns_mark_all(s);
        sd_dns_flush(s);
        log = take_log(s);
        want_records(log, "t1.web.corp.local", "A", "[\"10.0.0.1\"]");
        assert_int_equal(json_array_size(log), 1 + 4);   /* the zone, web A and SRV, t1 and t2 */
        json_decref(log);
        x = NULL;

        /* a deregistered instance's own A record is emptied */
        d1 = ok(s, "DeregisterInstance", "{\"ServiceId\": \"%s\", \"InstanceId\": \"t1\"}", sid);
        log = take_log(s);
        want_records(log, "web.corp.local", "A", "[\"10.0.0.2\"]");
        want_records(log, "t1.web.corp.local", "A", "[]");
        json_decref(log);

        /* the last one: every set emptied, nothing remembered */
        d2 = ok(s, "DeregisterInstance", "{\"ServiceId\": \"%s\", \"InstanceId\": \"t2\"}", sid);
        log = take_log(s);
        want_records(log, "web.corp.local", "A", "[]");
        want_records(log, "web.corp.local", "SRV", "[]");
        want_records(log, "t2.web.corp.local", "A", "[]");
        json_decref(log);
        snprintf(key, sizeof key, SD_DNS_PREFIX "%s", sid);
        assert_int_equal(store_get(s->store, key, &dns, NULL), -ENOENT);

        /* after a restart (netd may have lost them) every zone is pushed again */
        ns2 = ok(s, "CreatePrivateDnsNamespace", "{\"Name\": \"other.local\", \"Vpc\": \"vpc-1\"}");
        json_decref(take_log(s));
        sd_dns_mark_all(s);
        sd_dns_flush(s);
        log = take_log(s);
        assert_int_equal(json_array_size(log), 2);   /* both zones; the service has no sets left */
        json_decref(log);

        x = ok(s, "DeleteService", "{\"Id\": \"%s\"}", sid);
        json_decref(take_log(s));
        del = ok(s, "DeleteNamespace", "{\"Id\": \"%s\"}", ns);
        log = take_log(s);
        assert_int_equal(json_array_size(log), 1);
        assert_string_equal(jstr(json_array_get(log, 0), "Action"), "DeleteDnsZone");
        assert_string_equal(jstr(json_array_get(log, 0), "Name"), "corp.local");
        json_decref(log);
        log = NULL;
}

static void test_http_namespace_pushes_nothing(void **state)
{
        struct sched *s = *state;
        _cleanup_json_ json_t *op = NULL, *log = NULL;
        op = ok(s, "CreateHttpNamespace", "{\"Name\": \"apps\"}");
        sd_dns_flush(s);
        log = take_log(s);
        assert_int_equal(json_array_size(log), 0);
}

static void fails(struct sched *s, const char *op, const char *body, const char *code, const char *frag)
{
        struct api_ctx c = { .s = s, .region = "us-east-1" };
        json_error_t jerr;
        _cleanup_json_ json_t *req = json_loads(body, 0, &jerr);
        json_t *ret = NULL;
        struct err err = { 0 };
        assert_non_null(req);
        if (sd_dispatch(&c, op, req, &ret, &err) >= 0)
                fail_msg("%s %s should fail", op, body);
        if (strcmp(err.code, code) != 0 || !strstr(err.msg, frag))
                fail_msg("%s: got %s '%s', want %s '%s'", op, err.code, err.msg, code, frag);
}

/* A zone netd refuses, or a VPC it does not have, fails the create; so does netd away (the VPC check). */
static void test_zone_refused(void **state)
{
        struct sched *s = *state;
        struct stub *st = s->test_data;
        _cleanup_json_ json_t *list = NULL, *log = NULL;
        fails(s, "CreatePrivateDnsNamespace", "{\"Name\": \"ec2.internal\", \"Vpc\": \"vpc-1\"}", "InvalidInput",
              "cannot be a zone of VPC vpc-1: Zone 'ec2.internal' is the VPC's own domain");
        fails(s, "CreatePrivateDnsNamespace", "{\"Name\": \"x.local\", \"Vpc\": \"vpc-2\"}", "InvalidInput", "VPC vpc-2 does not exist");
        list = ok(s, "ListNamespaces", "{}");
        assert_int_equal(json_array_size(json_object_get(list, "Namespaces")), 0);
        json_decref(take_log(s));
        /* the VPC check needs netd: with netd away the create fails as an internal error */
        st->down = true;
        fails(s, "CreatePrivateDnsNamespace", "{\"Name\": \"x.local\", \"Vpc\": \"vpc-1\"}", "", "Connection refused");
        st->down = false;
        log = take_log(s);
        assert_int_equal(json_array_size(log), 0);
}

/* Operations older than a week go; newer ones stay. */
static void test_operations_prune(void **state)
{
        struct sched *s = *state;
        _cleanup_json_ json_t *old = json_pack("{s:s, s:s, s:f}", "Id", "old", "Status", "SUCCESS", "UpdateDate", 1000.0), *op = NULL,
                              *got = NULL;
        struct err err = { 0 };
        assert_int_equal(store_put(s->store, SD_OP_PREFIX "old", old, &err), 0);
        op = ok(s, "CreateHttpNamespace", "{\"Name\": \"apps\"}");
        sd_operations_prune(s);
        assert_int_equal(store_exists(s->store, SD_OP_PREFIX "old"), 0);
        got = ok(s, "GetOperation", "{\"OperationId\": \"%s\"}", jstr(op, "OperationId"));
        assert_string_equal(jstr(json_object_get(got, "Operation"), "Status"), "SUCCESS");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pushes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_http_namespace_pushes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_operations_prune, setup, teardown),
                cmocka_unit_test_setup_teardown(test_zone_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
