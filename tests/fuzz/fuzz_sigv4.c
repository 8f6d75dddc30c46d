/* fuzz_sigv4.c: libFuzzer target for SigV4: the Authorization header parser, and the canonical request
 * over fuzzed path, query, header values and signed-header lists (what a hostile client controls). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/sigv4.h"

/* The input is split at NUL bytes: authorization, path, query, signed headers, header value, body. */
static const char *next(const char **p, const char *end)
{
        const char *s = *p;
        const char *z = memchr(s, '\0', (size_t) (end - s));
        *p = z ? z + 1 : end;
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 1);
        struct sigv4_auth a;
        char *cr = NULL, *auth = NULL;
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        const char *p = buf, *end = buf + size;
        const char *authorization = next(&p, end), *path = next(&p, end), *query = next(&p, end);
        const char *signed_headers = next(&p, end), *value = next(&p, end), *body = next(&p, end);
        struct sigv4_header h[] = { { "Host", "127.0.0.1:5080" }, { "X-Amz-Date", "20261202T140000Z" }, { "X-Fuzz", value } };
        struct sigv4_msg m = { "POST", path, query, h, 3, body, strlen(body) };
        int64_t t;

        if (sigv4_parse_auth(authorization, &a, NULL) == 0) {
                if (strlen(a.date) != 8 || !a.akid[0])
                        abort();
                (void) sigv4_verify(&m, &a, "secret", "20261202T140000Z", NULL);
        }
        if (sigv4_canonical_request(&m, signed_headers, &cr, NULL) == 0 && !cr)
                abort();
        free(cr);
        if (sigv4_sign(&m, "AKID", "secret", "us-east-1", "ecs", "20261202T140000Z", &auth, NULL) == 0) {
                /* what we sign, we verify */
                if (sigv4_parse_auth(auth, &a, NULL) != 0 || sigv4_verify(&m, &a, "secret", "20261202T140000Z", NULL) != 0)
                        abort();
        }
        free(auth);
        (void) sigv4_parse_amz_date(authorization, &t);
        free(buf);
        return 0;
}
