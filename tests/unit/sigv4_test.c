/* sigv4_test.c: SigV4 against signatures that botocore 1.29 (Debian's) computed for the same
 * requests (SigV4Auth.add_auth with the clock fixed), Authorization parsing and its errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* botocore: POST http://127.0.0.1:5080/ ListClusters, body "{}", 2026-12-02 14:00:00 UTC. */
static const struct sigv4_header ecs_headers[] = {
        { "X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters" },
        { "Content-Type", "application/x-amz-json-1.1" },
        { "Host", "127.0.0.1:5080" },
        { "X-Amz-Date", "20261202T140000Z" },
};
static const struct sigv4_msg ecs_msg = { "POST", "/", NULL, ecs_headers, 4, "{}", 2 };
#define ECS_SIG "589fecf7700e21a2fbb0d19eccd4323dc85cfce7a1eb653a6e1bfbaa493949b8"
#define ECS_AUTH "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/ecs/aws4_request, " \
                 "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" ECS_SIG

static void test_sign_matches_botocore(void **state)
{
        char *auth = NULL;
        assert_int_equal(sigv4_sign(&ecs_msg, "AKIDEXAMPLE", SECRET, "us-east-1", "ecs", "20261202T140000Z", &auth, NULL), 0);
        assert_string_equal(auth, ECS_AUTH);
        free(auth);
}

/* botocore: GET https://example.amazon.com/ (service "service"), 2015-08-30 12:36:00 UTC. */
static void test_get_vanilla(void **state)
{
        static const struct sigv4_header h[] = { { "host", "example.amazon.com" }, { "x-amz-date", "20150830T123600Z" } };
        struct sigv4_msg m = { "GET", "/", NULL, h, 2, NULL, 0 };
        char *auth = NULL;
        assert_int_equal(sigv4_sign(&m, "AKIDEXAMPLE", SECRET, "us-east-1", "service", "20150830T123600Z", &auth, NULL), 0);
        assert_non_null(strstr(auth, "Signature=7ab4567ae243ee168f6bf18206b2b40b61ce08277323168138fa113ed23c538e"));
        free(auth);
}

/* botocore: GET http://127.0.0.1:5080/a%20b/c?Zeta=1&Action=Describe&Name=x%2Fy (ec2, eu-west-1): the
 * path is encoded once more, the query sorted and re-encoded. */
static void test_path_and_query(void **state)
{
        static const struct sigv4_header h[] = { { "Host", "127.0.0.1:5080" }, { "X-Amz-Date", "20261202T140000Z" } };
        struct sigv4_msg m = { "GET", "/a%20b/c", "Zeta=1&Action=Describe&Name=x%2Fy", h, 2, NULL, 0 };
        char *cr = NULL, *auth = NULL;
        assert_int_equal(sigv4_canonical_request(&m, "host;x-amz-date", &cr, NULL), 0);
        assert_string_equal(cr, "GET\n/a%2520b/c\nAction=Describe&Name=x%2Fy&Zeta=1\nhost:127.0.0.1:5080\n"
                                "x-amz-date:20261202T140000Z\n\nhost;x-amz-date\n"
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_int_equal(sigv4_sign(&m, "AKIDEXAMPLE", SECRET, "eu-west-1", "ec2", "20261202T140000Z", &auth, NULL), 0);
        assert_non_null(strstr(auth, "Signature=61498afebd9a3491d7e1adc252d28636e873048e3d666c274fffd8b68fb8ad1c"));
        free(cr);
        free(auth);
}

static void test_verify(void **state)
{
        struct sigv4_auth a;
        struct err e = { 0 };
        assert_int_equal(sigv4_parse_auth(ECS_AUTH, &a, &e), 0);
        assert_string_equal(a.akid, "AKIDEXAMPLE");
        assert_string_equal(a.date, "20261202");
        assert_string_equal(a.region, "us-east-1");
        assert_string_equal(a.service, "ecs");
        assert_string_equal(a.signed_headers, "content-type;host;x-amz-date;x-amz-target");
        assert_string_equal(a.signature, ECS_SIG);
        assert_int_equal(sigv4_verify(&ecs_msg, &a, SECRET, "20261202T140000Z", &e), 0);

        /* another secret, another body, another date: each refused as InvalidSignatureException */
        assert_int_equal(sigv4_verify(&ecs_msg, &a, "not-the-secret", "20261202T140000Z", &e), -EPERM);
        assert_string_equal(e.code, SIGV4_E_SIGNATURE);
        assert_non_null(strstr(e.msg, "does not match the signature you provided"));
        struct sigv4_msg other = ecs_msg;
        other.body = "{\"maxResults\":1}";
        other.body_len = strlen(other.body);
        assert_int_equal(sigv4_verify(&other, &a, SECRET, "20261202T140000Z", &e), -EPERM);
        assert_int_equal(sigv4_verify(&ecs_msg, &a, SECRET, "20261202T140001Z", &e), -EPERM);
        /* a signed header that is not in the request */
        other = ecs_msg;
        other.n_headers = 3;   /* no X-Amz-Date */
        assert_int_equal(sigv4_verify(&other, &a, SECRET, "20261202T140000Z", &e), -EINVAL);
        assert_string_equal(e.code, SIGV4_E_SIGNATURE);
        assert_non_null(strstr(e.msg, "'x-amz-date'"));
}

static void test_canonical_headers_trimmed_and_joined(void **state)
{
        static const struct sigv4_header h[] = {
                { "Host", "h" }, { "X-Multi", "  a   b  " }, { "x-multi", "c" }, { "X-Amz-Date", "20261202T140000Z" },
        };
        struct sigv4_msg m = { "POST", "", NULL, h, 4, "", 0 };
        char *cr = NULL;
        assert_int_equal(sigv4_canonical_request(&m, "host;x-multi", &cr, NULL), 0);
        assert_non_null(strstr(cr, "\nhost:h\nx-multi:a b,c\n\nhost;x-multi\n"));
        assert_int_equal(strncmp(cr, "POST\n/\n\n", 8), 0);
        free(cr);
}

static void test_parse_auth_errors(void **state)
{
        struct sigv4_auth a;
        struct err e = { 0 };
        assert_int_equal(sigv4_parse_auth(NULL, &a, &e), -EINVAL);
        assert_string_equal(e.code, SIGV4_E_MISSING);
        assert_string_equal(e.msg, "Missing Authentication Token");
        assert_int_equal(sigv4_parse_auth("", &a, &e), -EINVAL);
        assert_string_equal(e.code, SIGV4_E_MISSING);
        assert_int_equal(sigv4_parse_auth("Basic dXNlcjpwYXNz", &a, &e), -EINVAL);
        assert_string_equal(e.code, SIGV4_E_INCOMPLETE);
        assert_int_equal(sigv4_parse_auth("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", &a, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "'Credential'"));
        assert_int_equal(sigv4_parse_auth("AWS4-HMAC-SHA256 Credential=A/20261202/r/s/aws4_request, Signature=00", &a, &e),
                         -EINVAL);
        assert_non_null(strstr(e.msg, "'SignedHeaders'"));
        assert_int_equal(sigv4_parse_auth("AWS4-HMAC-SHA256 Credential=A/20261202/r/s/aws4_request, SignedHeaders=host",
                                          &a, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "'Signature'"));
        assert_int_equal(sigv4_parse_auth("AWS4-HMAC-SHA256 Credential=A/2026/r/s/aws4_request, SignedHeaders=host, "
                                          "Signature=00", &a, &e), -EINVAL);
        assert_int_equal(sigv4_parse_auth("AWS4-HMAC-SHA256 Credential=A/20261202/r/s/aws5_request, SignedHeaders=host, "
                                          "Signature=00", &a, &e), -EINVAL);
        assert_int_equal(sigv4_parse_auth("AWS4-HMAC-SHA256 Credential=A/20261202/r/s/aws4_request/x, SignedHeaders=host, "
                                          "Signature=00", &a, &e), -EINVAL);
        assert_string_equal(e.code, SIGV4_E_INCOMPLETE);
}

static void test_amz_date(void **state)
{
        int64_t t = 0;
        char buf[SIGV4_AMZ_DATE_LEN + 1];
        assert_int_equal(sigv4_parse_amz_date("20261202T140000Z", &t), 0);
        assert_int_equal(t, 1796220000);
        sigv4_format_amz_date(t, buf);
        assert_string_equal(buf, "20261202T140000Z");
        assert_int_equal(sigv4_parse_amz_date("20261202T140000", &t), -EINVAL);
        assert_int_equal(sigv4_parse_amz_date("2026-12-02T14:00", &t), -EINVAL);
        assert_int_equal(sigv4_parse_amz_date("20261302T140000Z", &t), -EINVAL);
        assert_int_equal(sigv4_parse_amz_date(NULL, &t), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sign_matches_botocore),
                cmocka_unit_test(test_get_vanilla),
                cmocka_unit_test(test_path_and_query),
                cmocka_unit_test(test_verify),
                cmocka_unit_test(test_canonical_headers_trimmed_and_joined),
                cmocka_unit_test(test_parse_auth_errors),
                cmocka_unit_test(test_amz_date),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
