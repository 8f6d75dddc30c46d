/* flags.c: the aws CLI's `--flag VALUE ...` parser for `ecsbox ec2` and `ecsbox ecs` (one engine, two dialects). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "flags.h"
#include "names.h"
#include "shorthand.h"

/* What one flag is being parsed: messages name the command, the verb and the flag. */
struct flag_ctx {
        const struct flag_dialect *d;
        const char *verb;
        const char *flag;
        char member[96];
};

static bool is_flag(const char *arg)
{
        return strncmp(arg, "--", 2) == 0;
}

int cli_parse_filter(const char *s, json_t **ret)
{
        const char *vals;
        json_t *f, *arr;
        if (strncmp(s, "Name=", 5) != 0 || !(vals = strstr(s, ",Values=")))
                return -EINVAL;
        arr = json_array();
        f = json_pack("{s:s%, s:o}", "Name", s + 5, (size_t) (vals - s - 5), "Values", arr);
        vals += 8;
        while (*vals) {
                const char *c = strchr(vals, ',');
                size_t n = c ? (size_t) (c - vals) : strlen(vals);
                json_array_append_new(arr, json_stringn(vals, n));
                vals += n + (c ? 1 : 0);
        }
        *ret = f;
        return 0;
}

/* "ecsbox ecs run-task: --count: 'x' is not a number" */
static int __attribute__((format(printf, 2, 3))) bad(const struct flag_ctx *c, const char *fmt, ...)
{
        va_list ap;
        fprintf(stderr, "ecsbox %s %s: --%s: ", c->d->cmd, c->verb, c->flag);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EINVAL;
}

/* A value as given, or the content of file://PATH in *ret_content (an empty file reads as ""). */
static int arg_value(const struct flag_ctx *c, const char *arg, char **ret_content, const char **ret_value)
{
        _cleanup_fclose_ FILE *f = NULL;
        char *buf = NULL;
        size_t cap = 0;
        if (strncmp(arg, "file://", 7) != 0) {
                *ret_value = arg;
                return 0;
        }
        if (!(f = fopen(arg + 7, "re"))) {
                fprintf(stderr, "ecsbox %s %s: --%s: cannot read '%s': %s\n", c->d->cmd, c->verb, c->flag, arg + 7,
                        strerror(errno));
                return -EINVAL;
        }
        if (getdelim(&buf, &cap, '\0', f) < 0) {
                free(buf);
                buf = strdup("");
        }
        *ret_content = buf;
        *ret_value = buf ?: "";
        return 0;
}

static int parse_input_json(const struct flag_ctx *c, const char *src, json_t *req)
{
        json_error_t jerr;
        _cleanup_json_ json_t *in = strncmp(src, "file://", 7) == 0 ? json_load_file(src + 7, 0, &jerr)
                                                                    : json_loads(src, 0, &jerr);
        if (!json_is_object(in))
                return bad(c, "%s", in ? "not a JSON object" : jerr.text);
        json_object_update(req, in);
        return 0;
}

/* The values up to the next --flag; each as the kind wants. Returns the index after them, or < 0. */
static int parse_many(const struct flag_ctx *c, enum flag_kind kind, int i, int argc, char **argv, json_t *req)
{
        json_t *arr = kind == FLAG_FILTERS ? json_object_get(req, "Filters") : NULL;
        if (!arr) {
                arr = json_array();
                json_object_set_new(req, kind == FLAG_FILTERS ? "Filters" : c->member, arr);
        }
        for (; i < argc && !is_flag(argv[i]); i++) {
                _cleanup_free_ char *content = NULL;
                const char *v = argv[i];
                json_t *j = NULL;
                if (kind == FLAG_LIST) {
                        json_array_append_new(arr, json_string(v));
                        continue;
                }
                if (kind == FLAG_FILTERS) {
                        if (cli_parse_filter(v, &j) < 0)
                                return bad(c, "expected Name=NAME,Values=V1,V2, got '%s'", v);
                        json_array_append_new(arr, j);
                        continue;
                }
                if (arg_value(c, v, &content, &v) < 0)
                        return -EINVAL;
                j = strchr(v, '=') || v[0] == '{' || v[0] == '[' ? cli_shorthand(v) : json_string(v);
                if (!j)
                        return bad(c, "not JSON nor shorthand (key=value,list=[a,b]): '%s'", v);
                if (json_is_array(j)) {
                        json_array_extend(arr, j);
                        json_decref(j);
                } else
                        json_array_append_new(arr, j);
        }
        return i;
}

static int parse_one(const struct flag_ctx *c, enum flag_kind kind, const char *arg, json_t *req)
{
        _cleanup_free_ char *content = NULL;
        const char *v;
        json_t *j;
        if (arg_value(c, arg, &content, &v) < 0)
                return -EINVAL;
        if (kind == FLAG_INT) {
                char *end;
                long long n = strtoll(v, &end, 10);
                if (!*v || *end)
                        return bad(c, "'%s' is not a number", v);
                json_object_set_new(req, c->member, json_integer(n));
                return 0;
        }
        if (!(j = c->d->scalar(c->flag, v)))
                return bad(c, "not JSON nor shorthand (key=value,list=[a,b]): '%s'", v);
        json_object_set_new(req, c->member, j);
        return 0;
}

static void member_of(const struct flag_dialect *d, const char *flag, char *out, size_t len)
{
        if (d->camel)
                cli_camel(flag, out, len);
        else
                cli_pascal(flag, out, len);
}

/* A valueless flag (a command's own switch, or --x / --no-x of a FLAG_BOOL): true when it was one. */
static bool parse_switch(const struct flag_dialect *d, const char *flag, const char *const *switches, json_t *req,
                         unsigned *seen)
{
        bool no = strncmp(flag, "no-", 3) == 0;
        char member[96];
        for (unsigned k = 0; switches && switches[k]; k++)
                if (!strcmp(switches[k], flag)) {
                        *seen |= 1u << k;
                        return true;
                }
        if (d->kind(flag) == FLAG_BOOL)
                no = false;
        else if (!no || d->kind(flag + 3) != FLAG_BOOL)
                return false;
        member_of(d, no ? flag + 3 : flag, member, sizeof member);
        json_object_set_new(req, member, json_boolean(!no));
        return true;
}

int flags_parse(const struct flag_dialect *d, const char *verb, int argc, char **argv, const char *const *switches,
                json_t *req, unsigned *ret_switches)
{
        struct flag_ctx c = { .d = d, .verb = verb };
        unsigned seen = 0;
        for (int i = 0; i < argc;) {
                enum flag_kind kind;
                int r;
                if (!strcmp(argv[i], "--help"))
                        return FLAGS_HELP;
                if (!is_flag(argv[i])) {
                        fprintf(stderr, "ecsbox %s %s: expected --flag, got '%s'\n", d->cmd, verb, argv[i]);
                        return -EINVAL;
                }
                c.flag = argv[i++] + 2;
                if (parse_switch(d, c.flag, switches, req, &seen))
                        continue;
                if (i >= argc) {
                        fprintf(stderr, "ecsbox %s %s: --%s needs a value\n", d->cmd, verb, c.flag);
                        return -EINVAL;
                }
                if (!strcmp(c.flag, "cli-input-json")) {
                        if ((r = parse_input_json(&c, argv[i++], req)) < 0)
                                return r;
                        continue;
                }
                member_of(d, c.flag, c.member, sizeof c.member);
                kind = d->kind(c.flag);
                if (kind == FLAG_LIST || kind == FLAG_STRUCT_LIST || kind == FLAG_FILTERS) {
                        if ((i = parse_many(&c, kind, i, argc, argv, req)) < 0)
                                return i;
                } else if ((r = parse_one(&c, kind, argv[i++], req)) < 0)
                        return r;
        }
        if (ret_switches)
                *ret_switches = seen;
        return 0;
}
