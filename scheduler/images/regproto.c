/* regproto.c: WWW-Authenticate challenges, token answers and error bodies of the registry protocol. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "regproto.h"

void reg_challenge_done(struct reg_challenge *c)
{
        free(c->realm);
        free(c->service);
        free(c->scope);
        memset(c, 0, sizeof *c);
}

/* tchar of RFC 7230 */
static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ws(const char **p)
{
        while (**p == ' ' || **p == '\t')
                (*p)++;
}

/* A token at *p: its start and length; 0 when none. */
static size_t token(const char **p, const char **start)
{
        *start = *p;
        while (is_tchar(**p))
                (*p)++;
        return (size_t) (*p - *start);
}

/* A parameter value, quoted (with \-escapes) or a token (token68's '/' and '=' allowed too). */
static int value(const char **p, char **ret)
{
        const char *s = *p;
        char *out, *o;

        if (*s != '"') {
                const char *b = s;
                while (is_tchar(*s) || *s == '/' || *s == '=' || *s == ':')
                        s++;
                *p = s;
                *ret = strndup(b, (size_t) (s - b));
                return *ret ? 0 : -ENOMEM;
        }
        s++;
        if (!(o = out = malloc(strlen(s) + 1)))
                return -ENOMEM;
        while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                        s++;
                *o++ = *s++;
        }
        if (*s != '"') {
                free(out);
                return -EINVAL;         /* unterminated quote */
        }
        *o = '\0';
        *p = s + 1;
        *ret = out;
        return 0;
}

static enum regauth_scheme scheme_of(const char *s, size_t n)
{
        if (n == 5 && !strncasecmp(s, "Basic", 5))
                return REGAUTH_BASIC;
        if (n == 6 && !strncasecmp(s, "Bearer", 6))
                return REGAUTH_BEARER;
        return REGAUTH_NONE;
}

/* Parameters of one challenge up to the next challenge or the end; *p is left at the next scheme. */
static int params(const char **p, struct reg_challenge *c)
{
        for (;;) {
                const char *save, *name;
                size_t n;
                _cleanup_free_ char *v = NULL;
                char **slot = NULL;
                int r;

                skip_ws(p);
                while (**p == ',') {
                        (*p)++;
                        skip_ws(p);
                }
                if (!**p)
                        return 0;
                save = *p;
                n = token(p, &name);
                if (n == 0)
                        return -EINVAL;
                skip_ws(p);
                if (**p != '=') {       /* a new scheme begins */
                        *p = save;
                        return 0;
                }
                (*p)++;
                skip_ws(p);
                if ((r = value(p, &v)) < 0)
                        return r;
                if (n == 5 && !strncasecmp(name, "realm", 5))
                        slot = &c->realm;
                else if (n == 7 && !strncasecmp(name, "service", 7))
                        slot = &c->service;
                else if (n == 5 && !strncasecmp(name, "scope", 5))
                        slot = &c->scope;
                if (slot && !*slot)
                        *slot = TAKE_PTR(v);
                skip_ws(p);
                if (**p && **p != ',')
                        return -EINVAL;
        }
}

int reg_challenge_parse(const char *v, struct reg_challenge *ret)
{
        struct reg_challenge best = { 0 };
        const char *p = v;
        int r;

        while (skip_ws(&p), *p) {
                struct reg_challenge c = { 0 };
                const char *s;
                size_t n = token(&p, &s);

                if (n == 0) {
                        reg_challenge_done(&best);
                        return -EINVAL;
                }
                c.scheme = scheme_of(s, n);
                if ((r = params(&p, &c)) < 0) {
                        reg_challenge_done(&c);
                        reg_challenge_done(&best);
                        return r;
                }
                if (c.scheme > best.scheme) {   /* Bearer over Basic over the rest */
                        reg_challenge_done(&best);
                        best = c;
                } else
                        reg_challenge_done(&c);
        }
        *ret = best;
        return 0;
}

int reg_token_parse(const char *body, size_t len, char **ret, struct err *err)
{
        _cleanup_json_ json_t *j = NULL;
        json_error_t je;
        const char *keys[] = { "token", "access_token" };

        j = json_loadb(body, len, 0, &je);
        if (!j)
                return err_set(err, EINVAL, NULL, "token answer is not JSON: line %d column %d: %s", je.line, je.column, je.text);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *t = json_string_value(json_object_get(j, keys[i]));
                if (t && *t) {
                        *ret = strdup(t);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return err_set(err, EINVAL, NULL, "token answer has neither \"token\" nor \"access_token\"");
}

void reg_error_parse(const char *body, size_t len, char *code, size_t code_size, char *msg, size_t msg_size)
{
        _cleanup_json_ json_t *j = NULL;
        json_t *e;

        code[0] = msg[0] = '\0';
        if (!body || !len || !(j = json_loadb(body, len, 0, NULL)))
                return;
        e = json_array_get(json_object_get(j, "errors"), 0);
        if (json_is_object(e)) {
                snprintf(code, code_size, "%s", json_string_value(json_object_get(e, "code")) ?: "");
                snprintf(msg, msg_size, "%s", json_string_value(json_object_get(e, "message")) ?: "");
        } else
                snprintf(msg, msg_size, "%s", json_string_value(json_object_get(j, "details")) ?: "");
}
