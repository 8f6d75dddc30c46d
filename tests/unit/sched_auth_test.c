/* sched_auth_test.c: ecsboxd's request authentication: a signed request passes; each refusal has AWS's
 * type, text and HTTP status; the credentials file is made at first start and re-read when it changes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecsbox/fsutil.h"
#include "../../scheduler/front/auth.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define NOW 1796220000.0   /* 20261202T140000Z */

static char dir[] = "/tmp/sched_auth_test.XXXXXX";
static char path[128];

struct req {
        struct sigv4_header h[5];
        struct sigv4_msg m;
        char *auth;
};

/* An ECS ListClusters request signed with akid/secret for region and service at amz_date. */
static void make(struct req *q, const char *akid, const char *secret, const char *region, const char *service,
                 const char *amz_date)
{
        q->h[0] = (struct sigv4_header) { "X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters" };
        q->h[1] = (struct sigv4_header) { "Content-Type", "application/x-amz-json-1.1" };
        q->h[2] = (struct sigv4_header) { "Host", "127.0.0.1:5080" };
        q->h[3] = (struct sigv4_header) { "X-Amz-Date", amz_date };
        q->m = (struct sigv4_msg) { "POST", "/", NULL, q->h, 4, "{}", 2 };
        assert_int_equal(sigv4_sign(&q->m, akid, secret, region, service, amz_date, &q->auth, NULL), 0);
        q->h[4] = (struct sigv4_header) { "Authorization", q->auth };
        q->m.n_headers = 5;
}

static int check(struct auth *a, struct req *q, double now, int *status, struct err *e)
{
        struct auth_request r = { &q->m, "ecs", now };
        struct auth_result res;
        int rc = auth_verify(a, &r, &res, status, e);
        if (rc == 0)
                assert_string_equal(res.region, "us-east-1");
        free(q->auth);
        return rc;
}

static void write_creds(const char *text)
{
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0600), 0);
}

static void test_first_start_makes_a_key(void **state)
{
        char p2[160];
        struct auth a;
        struct stat st;
        snprintf(p2, sizeof p2, "%s/fresh", dir);
        assert_int_equal(auth_open(&a, p2, NULL), 0);
        assert_int_equal(stat(p2, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(a.creds.n, 1);
        const struct cred_key *k = credentials_profile(&a.creds, "ecsbox");
        assert_non_null(k);
        struct req q;
        int status = 0;
        make(&q, k->akid, k->secret, "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, NULL), 0);
        auth_close(&a);
}

static void test_refusals(void **state)
{
        struct auth a;
        struct req q;
        struct err e = { 0 };
        int status = 0;
        write_creds("[ecsbox]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " SECRET "\n");
        assert_int_equal(auth_open(&a, path, NULL), 0);

        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW + 299, &status, &e), 0);

        /* no Authorization */
        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        q.m.n_headers = 4;
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "MissingAuthenticationTokenException");
        assert_string_equal(e.msg, "Missing Authentication Token");
        assert_int_equal(status, 403);

        make(&q, "AKIDUNKNOWN", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "UnrecognizedClientException");
        assert_string_equal(e.msg, "The security token included in the request is invalid.");
        assert_int_equal(status, 403);

        make(&q, "AKIDEXAMPLE", "wrong secret", "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "InvalidSignatureException");
        assert_non_null(strstr(e.msg, "does not match the signature you provided"));
        assert_int_equal(status, 403);

        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW + 301, &status, &e), -EACCES);
        assert_string_equal(e.code, "InvalidSignatureException");
        assert_string_equal(e.msg, "Signature expired: 20261202T140000Z is now earlier than 20261202T140001Z "
                                   "(20261202T140501Z - 5 min.)");

        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW - 301, &status, &e), -EACCES);
        assert_non_null(strstr(e.msg, "Signature not yet current: 20261202T140000Z is still later than"));

        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ec2", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "InvalidSignatureException");
        assert_string_equal(e.msg, "Credential should be scoped to correct service: 'ecs'. ");

        make(&q, "AKIDEXAMPLE", SECRET, "moon", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_non_null(strstr(e.msg, "valid region, not 'moon'"));

        /* a body changed after signing */
        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        q.m.body = "{\"x\":1}";
        q.m.body_len = 7;
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "InvalidSignatureException");

        /* an Authorization that is no SigV4 at all */
        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        q.h[4].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/ecs/aws4_request";
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "IncompleteSignatureException");
        assert_int_equal(status, 400);
        auth_close(&a);
}

static void test_reread_when_changed(void **state)
{
        struct auth a;
        struct req q;
        struct err e = { 0 };
        int status = 0;
        write_creds("[ecsbox]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " SECRET "\n");
        assert_int_equal(auth_open(&a, path, NULL), 0);
        make(&q, "AKIDSECOND", "s2", "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        write_creds("[ecsbox]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = " SECRET "\n"
                    "[ci]\naws_access_key_id = AKIDSECOND\naws_secret_access_key = s2\n");
        make(&q, "AKIDSECOND", "s2", "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), 0);
        /* a key taken out is refused from the next request on */
        write_creds("[ci]\naws_access_key_id = AKIDSECOND\naws_secret_access_key = s2\n");
        make(&q, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z");
        assert_int_equal(check(&a, &q, NOW, &status, &e), -EACCES);
        assert_string_equal(e.code, "UnrecognizedClientException");
        auth_close(&a);
}

static void test_region_names(void **state)
{
        assert_true(auth_region_valid("us-east-1"));
        assert_true(auth_region_valid("us-gov-west-1"));
        assert_true(auth_region_valid("ap-southeast-3"));
        assert_true(auth_region_valid("cn-north-1"));
        assert_false(auth_region_valid("us-east"));
        assert_false(auth_region_valid("us-east-1a"));
        assert_false(auth_region_valid("US-east-1"));
        assert_false(auth_region_valid("us--1"));
        assert_false(auth_region_valid("u"));
        assert_false(auth_region_valid(""));
        assert_false(auth_region_valid("us-east-1-"));
}

static int setup(void **state)
{
        if (!mkdtemp(dir))
                return -1;
        snprintf(path, sizeof path, "%s/credentials", dir);
        return 0;
}

static int teardown(void **state)
{
        return rm_rf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_start_makes_a_key),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_reread_when_changed),
                cmocka_unit_test(test_region_names),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
