/* sigv4.c: AWS Signature Version 4 over libcrypto: Authorization parsing, canonical requests as
 * botocore builds them, signing and constant-time verification. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/sigv4.h"

/* A growing string; every append either fits or marks the buffer failed (checked once at the end). */
struct sbuf {
        char *p;
        size_t len, cap;
        bool failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
        if (b->failed)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->failed = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
        sb_add(b, s, strlen(s));
}

static void sb_char(struct sbuf *b, char c)
{
        sb_add(b, &c, 1);
}

/* ret takes the string (NULL and -ENOMEM when an append failed). */
static int sb_take(struct sbuf *b, char **ret)
{
        if (b->failed || !b->p) {
                free(b->p);
                *b = (struct sbuf) { 0 };
                return -ENOMEM;
        }
        *ret = b->p;
        *b = (struct sbuf) { 0 };
        return 0;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[d[i] >> 4];
                out[2 * i + 1] = digits[d[i] & 15];
        }
        out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char ret[SIGV4_HEX_LEN + 1])
{
        uint8_t md[SHA256_DIGEST_LENGTH];
        SHA256(data ? data : (const void *) "", len, md);
        hex(md, sizeof md, ret);
}

static int hmac(const uint8_t *key, size_t key_len, const char *msg, uint8_t out[32])
{
        unsigned out_len = 32;
        if (!HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) msg, strlen(msg), out, &out_len))
                return -EIO;
        return 0;
}

/* RFC 3986 encoding as AWS wants it: unreserved characters stay, everything else is %XX (upper-case);
 * '/' stays too when keep_slash. */
static void uri_encode(struct sbuf *b, const char *s, size_t n, bool keep_slash)
{
        static const char digits[] = "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
                        sb_char(b, (char) c);
                else {
                        char e[3] = { '%', digits[c >> 4], digits[c & 15] };
                        sb_add(b, e, 3);
                }
        }
}

static int unhex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decoding of a query component ('+' is a space, as form encoding writes it). */
static char *uri_decode(const char *s, size_t n)
{
        char *out = malloc(n + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                int h, l;
                if (s[i] == '%' && i + 2 < n && (h = unhex(s[i + 1])) >= 0 && (l = unhex(s[i + 2])) >= 0) {
                        *o++ = (char) (h * 16 + l);
                        i += 2;
                } else
                        *o++ = s[i] == '+' ? ' ' : s[i];
        }
        *o = '\0';
        return out;
}

struct qparam {
        char *key, *value;              /* already encoded for the canonical form */
};

static int qparam_cmp(const void *a, const void *b)
{
        const struct qparam *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        return c ? c : strcmp(x->value, y->value);
}

static char *encoded(const char *s, size_t n)
{
        _cleanup_free_ char *raw = uri_decode(s, n);
        struct sbuf b = { 0 };
        char *ret = NULL;
        if (!raw)
                return NULL;
        uri_encode(&b, raw, strlen(raw), false);
        if (!b.p && !b.failed)
                return strdup("");
        return sb_take(&b, &ret) < 0 ? NULL : ret;
}

/* The canonical query string: every parameter decoded and encoded again, sorted by key then value. */
static int canonical_query(struct sbuf *b, const char *query)
{
        size_t n = 0, cap = 0;
        struct qparam *v = NULL;
        int r = 0;

        for (const char *p = query; p && *p;) {
                const char *end = strchr(p, '&'), *eq;
                size_t len = end ? (size_t) (end - p) : strlen(p);
                if (len > 0) {
                        if (n == cap) {
                                struct qparam *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
                                if (!nv) {
                                        r = -ENOMEM;
                                        break;
                                }
                                v = nv;
                        }
                        eq = memchr(p, '=', len);
                        v[n].key = encoded(p, eq ? (size_t) (eq - p) : len);
                        v[n].value = eq ? encoded(eq + 1, len - (size_t) (eq + 1 - p)) : strdup("");
                        n++;
                        if (!v[n - 1].key || !v[n - 1].value) {
                                r = -ENOMEM;
                                break;
                        }
                }
                p += len + (end ? 1 : 0);
        }
        if (r == 0 && n > 0) {
                qsort(v, n, sizeof *v, qparam_cmp);
                for (size_t i = 0; i < n; i++) {
                        if (i)
                                sb_char(b, '&');
                        sb_str(b, v[i].key);
                        sb_char(b, '=');
                        sb_str(b, v[i].value);
                }
        }
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                free(v[i].value);
        }
        free(v);
        return r;
}

/* "name:value" for one signed header: every header of that name, values trimmed, inner runs of
 * spaces collapsed, joined with ','. false when the message has no such header. */
static bool canonical_header(struct sbuf *b, const struct sigv4_msg *m, const char *name, size_t name_len)
{
        bool found = false;
        sb_add(b, name, name_len);
        sb_char(b, ':');
        for (size_t i = 0; i < m->n_headers; i++) {
                const char *v = m->headers[i].value ? m->headers[i].value : "";
                if (strlen(m->headers[i].name) != name_len || strncasecmp(m->headers[i].name, name, name_len))
                        continue;
                if (found)
                        sb_char(b, ',');
                found = true;
                while (*v == ' ' || *v == '\t')
                        v++;
                size_t len = strlen(v);
                while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                        len--;
                for (size_t k = 0; k < len; k++) {
                        bool space = v[k] == ' ' || v[k] == '\t';
                        if (space && k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
                                continue;
                        sb_char(b, space ? ' ' : v[k]);
                }
        }
        sb_char(b, '\n');
        return found;
}

static const char *header_value(const struct sigv4_msg *m, const char *name)
{
        for (size_t i = 0; i < m->n_headers; i++)
                if (!strcasecmp(m->headers[i].name, name))
                        return m->headers[i].value;
        return NULL;
}

int sigv4_init(void)
{
        char sig[SIGV4_HEX_LEN + 1];
        return sigv4_signature("secret", "20261202T140000Z", "us-east-1", "ecs", "GET\n/\n\n\n\n", sig);
}

int sigv4_canonical_request(const struct sigv4_msg *m, const char *signed_headers, char **ret, struct err *err)
{
        struct sbuf b = { 0 };
        char body_hash[SIGV4_HEX_LEN + 1];
        const char *path = m->path && *m->path ? m->path : "/";
        const char *payload;
        int r;

        sb_str(&b, m->method);
        sb_char(&b, '\n');
        /* botocore encodes the path as sent once more (services other than S3 sign it so). */
        uri_encode(&b, path, strlen(path), true);
        sb_char(&b, '\n');
        if ((r = canonical_query(&b, m->query)) < 0) {
                free(b.p);
                return err_set(err, -r, NULL, "sigv4: canonical query: %s", strerror(-r));
        }
        sb_char(&b, '\n');
        for (const char *p = signed_headers; *p;) {
                const char *end = strchr(p, ';');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                if (len == 0 || !canonical_header(&b, m, p, len)) {
                        free(b.p);
                        return err_set(err, EINVAL, SIGV4_E_SIGNATURE,
                                       "The request signature we calculated does not match the signature you provided. "
                                       "Signed header '%.*s' is not in the request.", (int) len, p);
                }
                p += len + (end ? 1 : 0);
        }
        sb_char(&b, '\n');
        sb_str(&b, signed_headers);
        sb_char(&b, '\n');
        payload = header_value(m, "x-amz-content-sha256");
        if (!payload) {
                sigv4_sha256_hex(m->body, m->body_len, body_hash);
                payload = body_hash;
        }
        sb_str(&b, payload);
        if ((r = sb_take(&b, ret)) < 0)
                return err_set(err, ENOMEM, NULL, "sigv4: canonical request: %s", strerror(ENOMEM));
        return 0;
}

int sigv4_signature(const char *secret, const char *amz_date, const char *region, const char *service,
                    const char *canonical_request, char ret[SIGV4_HEX_LEN + 1])
{
        char date[9], cr_hash[SIGV4_HEX_LEN + 1];
        _cleanup_free_ char *key0 = NULL, *sts = NULL;
        uint8_t k[32], sig[32];

        if (strlen(amz_date) != SIGV4_AMZ_DATE_LEN)
                return -EINVAL;
        memcpy(date, amz_date, 8);
        date[8] = '\0';
        sigv4_sha256_hex(canonical_request, strlen(canonical_request), cr_hash);
        if (asprintf(&key0, "AWS4%s", secret) < 0) {
                key0 = NULL;
                return -ENOMEM;
        }
        if (asprintf(&sts, SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date, region, service,
                     cr_hash) < 0) {
                sts = NULL;
                return -ENOMEM;
        }
        if (hmac((const uint8_t *) key0, strlen(key0), date, k) < 0 || hmac(k, 32, region, k) < 0 ||
            hmac(k, 32, service, k) < 0 || hmac(k, 32, "aws4_request", k) < 0 || hmac(k, 32, sts, sig) < 0)
                return -EIO;
        OPENSSL_cleanse(k, sizeof k);
        OPENSSL_cleanse(key0, strlen(key0));
        hex(sig, sizeof sig, ret);
        return 0;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Every header name of m, lower-case, sorted, de-duplicated, ';'-joined. */
static int all_signed_headers(const struct sigv4_msg *m, char **ret)
{
        _cleanup_free_ char **names = calloc(m->n_headers ? m->n_headers : 1, sizeof *names);
        struct sbuf b = { 0 };
        int r = 0;
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_headers; i++) {
                if (!(names[i] = strdup(m->headers[i].name))) {
                        r = -ENOMEM;
                        break;
                }
                for (char *p = names[i]; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
        }
        if (r == 0) {
                qsort(names, m->n_headers, sizeof *names, name_cmp);
                for (size_t i = 0; i < m->n_headers; i++) {
                        if (i && !strcmp(names[i], names[i - 1]))
                                continue;
                        if (b.len)
                                sb_char(&b, ';');
                        sb_str(&b, names[i]);
                }
                r = sb_take(&b, ret);
        }
        for (size_t i = 0; i < m->n_headers; i++)
                free(names[i]);
        return r;
}

int sigv4_sign(const struct sigv4_msg *m, const char *akid, const char *secret, const char *region,
               const char *service, const char *amz_date, char **ret, struct err *err)
{
        _cleanup_free_ char *signed_headers = NULL, *cr = NULL;
        char sig[SIGV4_HEX_LEN + 1];
        int r;

        if ((r = all_signed_headers(m, &signed_headers)) < 0)
                return err_set(err, -r, NULL, "sigv4: %s", strerror(-r));
        if ((r = sigv4_canonical_request(m, signed_headers, &cr, err)) < 0)
                return r;
        if ((r = sigv4_signature(secret, amz_date, region, service, cr, sig)) < 0)
                return err_set(err, -r, NULL, "sigv4: signing with date '%s': %s", amz_date, strerror(-r));
        if (asprintf(ret, SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                     akid, amz_date, region, service, signed_headers, sig) < 0) {
                *ret = NULL;
                return err_set(err, ENOMEM, NULL, "sigv4: %s", strerror(ENOMEM));
        }
        return 0;
}

int sigv4_verify(const struct sigv4_msg *m, const struct sigv4_auth *a, const char *secret, const char *amz_date,
                 struct err *err)
{
        _cleanup_free_ char *cr = NULL;
        char sig[SIGV4_HEX_LEN + 1];
        int r;

        if ((r = sigv4_canonical_request(m, a->signed_headers, &cr, err)) < 0)
                return r;
        if ((r = sigv4_signature(secret, amz_date, a->region, a->service, cr, sig)) < 0)
                return err_set(err, -r, NULL, "sigv4: signing with date '%s': %s", amz_date, strerror(-r));
        if (strlen(a->signature) != SIGV4_HEX_LEN || CRYPTO_memcmp(sig, a->signature, SIGV4_HEX_LEN) != 0)
                return err_set(err, EPERM, SIGV4_E_SIGNATURE,
                               "The request signature we calculated does not match the signature you provided. "
                               "Check your AWS Secret Access Key and signing method. Consult the service "
                               "documentation for details.");
        return 0;
}

/* Copies the value of "Name=value" ending at ',' or the end into buf; false when too long or empty. */
static bool auth_member(const char *auth, const char *name, char *buf, size_t size)
{
        size_t nl = strlen(name);
        for (const char *p = auth; (p = strstr(p, name)); p += nl) {
                if (p != auth && p[-1] != ' ' && p[-1] != ',')
                        continue;
                if (p[nl] != '=')
                        continue;
                const char *v = p + nl + 1;
                size_t len = strcspn(v, ", ");
                if (len == 0 || len >= size)
                        return false;
                memcpy(buf, v, len);
                buf[len] = '\0';
                return true;
        }
        return false;
}

static int incomplete(struct err *err, const char *what, const char *auth)
{
        return err_set(err, EINVAL, SIGV4_E_INCOMPLETE,
                       "Authorization header requires '%s' parameter. Authorization=%.200s", what, auth);
}

int sigv4_parse_auth(const char *authorization, struct sigv4_auth *ret, struct err *err)
{
        struct sigv4_auth a = { 0 };
        char cred[SIGV4_AKID_MAX + 3 * SIGV4_SCOPE_PART_MAX + 32];
        char *parts[5], *save = NULL;
        size_t n = 0;
        const char *alg_end;

        if (!authorization || !*authorization)
                return err_set(err, EINVAL, SIGV4_E_MISSING, "Missing Authentication Token");
        alg_end = strchr(authorization, ' ');
        if (!alg_end || (size_t) (alg_end - authorization) != strlen(SIGV4_ALGORITHM) ||
            strncmp(authorization, SIGV4_ALGORITHM, strlen(SIGV4_ALGORITHM)))
                return err_set(err, EINVAL, SIGV4_E_INCOMPLETE,
                               "Unsupported Authorization Type: only " SIGV4_ALGORITHM " is accepted");
        if (!auth_member(alg_end, "Credential", cred, sizeof cred))
                return incomplete(err, "Credential", authorization);
        if (!auth_member(alg_end, "SignedHeaders", a.signed_headers, sizeof a.signed_headers))
                return incomplete(err, "SignedHeaders", authorization);
        if (!auth_member(alg_end, "Signature", a.signature, sizeof a.signature))
                return incomplete(err, "Signature", authorization);
        for (char *t = strtok_r(cred, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (n == 5) {
                        n++;   /* too many parts */
                        break;
                }
                parts[n++] = t;
        }
        if (n != 5 || strcmp(parts[4], "aws4_request") || strlen(parts[1]) != 8 ||
            strlen(parts[0]) > SIGV4_AKID_MAX || strlen(parts[2]) > SIGV4_SCOPE_PART_MAX ||
            strlen(parts[3]) > SIGV4_SCOPE_PART_MAX)
                return err_set(err, EINVAL, SIGV4_E_INCOMPLETE,
                               "Credential should be scoped to a valid region, not '%.100s'. "
                               "Expected AKID/YYYYMMDD/REGION/SERVICE/aws4_request.", cred);
        strcpy(a.akid, parts[0]);
        strcpy(a.date, parts[1]);
        strcpy(a.region, parts[2]);
        strcpy(a.service, parts[3]);
        *ret = a;
        return 0;
}

int sigv4_parse_amz_date(const char *s, int64_t *ret)
{
        struct tm tm = { 0 };
        const char *end;
        if (!s || strlen(s) != SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
                return -EINVAL;
        end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
        if (!end || *end)
                return -EINVAL;
        *ret = (int64_t) timegm(&tm);
        return 0;
}

void sigv4_format_amz_date(int64_t t, char ret[SIGV4_AMZ_DATE_LEN + 1])
{
        time_t tt = (time_t) t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(ret, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}
