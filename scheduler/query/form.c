/* form.c: form-encoded parameters decoded through libcurl. Pure. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "form.h"

/* '+' to ' ', then %XX through curl_easy_unescape (which needs no handle since 7.82). */
static int unquote_plus(const char *s, size_t n, char **ret, struct err *err)
{
        _cleanup_free_ char *t = strndup(s, n);
        char *u;
        int len = 0;
        if (!t)
                return err_set(err, ENOMEM, NULL, "out of memory");
        for (char *p = t; *p; p++)
                if (*p == '+')
                        *p = ' ';
        for (const char *p = t; (p = strchr(p, '%')); p++)
                if (!isxdigit((unsigned char) p[1]) || !isxdigit((unsigned char) p[2]))
                        return err_set(err, EINVAL, "MalformedQueryString", "The query string has a malformed escape near '%.20s'", p);
        if (!(u = curl_easy_unescape(NULL, t, 0, &len)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((size_t) len != strlen(u)) {
                curl_free(u);
                return err_set(err, EINVAL, "MalformedQueryString", "The query string holds a NUL byte");
        }
        *ret = strdup(u);
        curl_free(u);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

static int parse_into(json_t *out, const char *s, size_t len, struct err *err)
{
        const char *end = s + len;
        while (s < end) {
                const char *amp = memchr(s, '&', (size_t) (end - s));
                const char *stop = amp ? amp : end, *eq = memchr(s, '=', (size_t) (stop - s));
                _cleanup_free_ char *k = NULL, *v = NULL;
                int r;
                if (stop > s) {
                        if ((r = unquote_plus(s, (size_t) ((eq ? eq : stop) - s), &k, err)) < 0 ||
                            (r = unquote_plus(eq ? eq + 1 : stop, eq ? (size_t) (stop - eq - 1) : 0, &v, err)) < 0)
                                return r;
                        if (*k && json_object_set_new(out, k, json_string(v)) < 0)
                                return err_set(err, EINVAL, "MalformedQueryString", "Parameter '%.100s' is not valid UTF-8", k);
                }
                s = stop + 1;
        }
        return 0;
}

int query_form_parse(const char *body, size_t len, const char *url_query, json_t **ret, struct err *err)
{
        json_t *out = json_object();
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = parse_into(out, body, len, err)) < 0 || (url_query && (r = parse_into(out, url_query, strlen(url_query), err)) < 0)) {
                json_decref(out);
                return r;
        }
        *ret = out;
        return 0;
}
