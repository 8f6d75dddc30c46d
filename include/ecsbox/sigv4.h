/* sigv4.h: AWS Signature Version 4 (HMAC-SHA256 and SHA-256 from libcrypto): the Authorization header
 * parsed, the canonical request and string to sign built as botocore builds them, requests signed (the
 * CLI) and verified (ecsboxd). Pure: no clock, no key store; callers bring both. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_HEX_LEN 64                 /* a SHA-256 or HMAC-SHA256 in lower-case hex */
#define SIGV4_AMZ_DATE_LEN 16            /* 20261202T140000Z */
#define SIGV4_AKID_MAX 128
#define SIGV4_SCOPE_PART_MAX 64

/* AWS's error types for a refused signature (the same in every protocol; HTTP 400 except Missing: 403). */
#define SIGV4_E_MISSING "MissingAuthenticationTokenException"
#define SIGV4_E_UNKNOWN_KEY "UnrecognizedClientException"
#define SIGV4_E_SIGNATURE "InvalidSignatureException"
#define SIGV4_E_INCOMPLETE "IncompleteSignatureException"

struct sigv4_header {
        const char *name;                /* any case */
        const char *value;
};

/* One HTTP request as it came over the wire. */
struct sigv4_msg {
        const char *method;              /* "POST" */
        const char *path;                /* the raw, still percent-encoded path: "/" */
        const char *query;               /* the raw query string without '?', or NULL */
        const struct sigv4_header *headers;
        size_t n_headers;
        const void *body;
        size_t body_len;
};

/* The members of "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex". */
struct sigv4_auth {
        char akid[SIGV4_AKID_MAX + 1];
        char date[9];                    /* YYYYMMDD */
        char region[SIGV4_SCOPE_PART_MAX + 1];
        char service[SIGV4_SCOPE_PART_MAX + 1];
        char signed_headers[1024];       /* "content-type;host;x-amz-date" */
        char signature[SIGV4_HEX_LEN + 1];
};

/* Loads libcrypto's providers and digests now (one signature computed), so that a daemon's first
 * request is not slower and its memory at start-up is what it keeps (about 2 MiB). 0 or -errno. */
int sigv4_init(void);

/* Parses an Authorization header. Fails with IncompleteSignatureException naming what is missing or
 * malformed. */
int sigv4_parse_auth(const char *authorization, struct sigv4_auth *ret, struct err *err);

/* The canonical request over the headers named in signed_headers (";"-separated, lower-case, sorted, as
 * sent). *ret is malloc'ed. -EINVAL (IncompleteSignatureException) when a signed header is absent. */
int sigv4_canonical_request(const struct sigv4_msg *m, const char *signed_headers, char **ret, struct err *err);

/* hex(HMAC(signing key, string to sign)) for amz_date ("20261202T140000Z") and the scope's region and
 * service, given the canonical request. */
int sigv4_signature(const char *secret, const char *amz_date, const char *region, const char *service,
                    const char *canonical_request, char ret[SIGV4_HEX_LEN + 1]);

/* Signs m with every header it carries (which must include Host and X-Amz-Date = amz_date): *ret is
 * the malloc'ed Authorization value. */
int sigv4_sign(const struct sigv4_msg *m, const char *akid, const char *secret, const char *region,
               const char *service, const char *amz_date, char **ret, struct err *err);

/* Checks a's signature over m with secret (constant-time compare). The caller has looked the key up
 * and checked the scope and the clock. -EPERM with InvalidSignatureException and AWS's message when it
 * does not match. */
int sigv4_verify(const struct sigv4_msg *m, const struct sigv4_auth *a, const char *secret, const char *amz_date,
                 struct err *err);

/* "20261202T140000Z" -> seconds since the epoch (UTC); -EINVAL when it is no such timestamp. */
int sigv4_parse_amz_date(const char *s, int64_t *ret);
/* seconds since the epoch -> "20261202T140000Z". */
void sigv4_format_amz_date(int64_t t, char ret[SIGV4_AMZ_DATE_LEN + 1]);

/* hex(SHA-256(data)). */
void sigv4_sha256_hex(const void *data, size_t len, char ret[SIGV4_HEX_LEN + 1]);
