/* cql.c: parser and evaluator for the ECS cluster query language. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql.h"

enum node_kind { N_AND, N_OR, N_NOT, N_CMP };
enum cmp_op { OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_EXISTS, OP_NEXISTS, OP_IN, OP_NIN, OP_MATCH, OP_NMATCH };

struct cql {
        enum node_kind kind;
        struct cql *a, *b;
        enum cmp_op op;
        char *subject;
        char **args;     /* NULL-terminated */
        size_t nargs;
};

struct parser {
        const char *text;
        const char *p;
        struct err *err;
};

struct cql *cql_free(struct cql *q)
{
        if (!q)
                return NULL;
        cql_free(q->a);
        cql_free(q->b);
        free(q->subject);
        for (size_t i = 0; i < q->nargs; i++)
                free(q->args[i]);
        free(q->args);
        free(q);
        return NULL;
}

static int fail(struct parser *ps, const char *what)
{
        return err_set(ps->err, EINVAL, "InvalidParameterException",
                       "Invalid query expression '%s': %s at position %zu", ps->text, what,
                       (size_t) (ps->p - ps->text) + 1);
}

static void skip_ws(struct parser *ps)
{
        while (isspace((unsigned char) *ps->p))
                ps->p++;
}

/* A keyword that ends at a word boundary. */
static bool kw(struct parser *ps, const char *word)
{
        size_t n = strlen(word);
        skip_ws(ps);
        if (strncasecmp(ps->p, word, n) != 0)
                return false;
        if (isalnum((unsigned char) ps->p[n]) || ps->p[n] == '_' || ps->p[n] == ':' || ps->p[n] == '.')
                return false;
        ps->p += n;
        return true;
}

static bool sym(struct parser *ps, const char *s)
{
        size_t n = strlen(s);
        skip_ws(ps);
        if (strncmp(ps->p, s, n) != 0)
                return false;
        ps->p += n;
        return true;
}

static bool value_char(char c, bool in_list)
{
        if (c == '\0' || isspace((unsigned char) c) || c == '(' || c == ')')
                return false;
        if (in_list && (c == ',' || c == ']'))
                return false;
        return true;
}

static char *value(struct parser *ps, bool in_list)
{
        const char *start;
        skip_ws(ps);
        if (*ps->p == '"' || *ps->p == '\'') {
                char q = *ps->p++;
                start = ps->p;
                while (*ps->p && *ps->p != q)
                        ps->p++;
                if (!*ps->p)
                        return NULL;
                char *v = strndup(start, (size_t) (ps->p - start));
                ps->p++;
                return v;
        }
        start = ps->p;
        while (value_char(*ps->p, in_list))
                ps->p++;
        if (ps->p == start)
                return NULL;
        return strndup(start, (size_t) (ps->p - start));
}

static int add_arg(struct cql *n, char *v)
{
        char **na = realloc(n->args, (n->nargs + 2) * sizeof *na);
        if (!na) {
                free(v);
                return -ENOMEM;
        }
        n->args = na;
        n->args[n->nargs++] = v;
        n->args[n->nargs] = NULL;
        return 0;
}

static bool subject_valid(const char *s)
{
        static const char *const plain[] = { "ec2InstanceId", "runningTasksCount", "agentVersion", "registeredAt",
                                             "agentConnected", "instanceId", NULL };
        if (strncmp(s, "attribute:", 10) == 0)
                return s[10] != '\0';
        if (strcmp(s, "task:group") == 0)
                return true;
        for (const char *const *p = plain; *p; p++)
                if (strcmp(*p, s) == 0)
                        return true;
        return false;
}

static int parse_or(struct parser *ps, struct cql **ret);

/* The comparison operator after a subject; -1 when there is none. */
static int parse_op(struct parser *ps)
{
        const char *save;
        if (sym(ps, "==")) return OP_EQ;
        if (sym(ps, "!=")) return OP_NE;
        if (sym(ps, ">=")) return OP_GE;
        if (sym(ps, "<=")) return OP_LE;
        if (sym(ps, ">")) return OP_GT;
        if (sym(ps, "<")) return OP_LT;
        if (sym(ps, "=~")) return OP_MATCH;
        if (sym(ps, "!~")) return OP_NMATCH;
        if (sym(ps, "!exists")) return OP_NEXISTS;
        if (kw(ps, "exists")) return OP_EXISTS;
        if (sym(ps, "!in")) return OP_NIN;
        if (kw(ps, "in")) return OP_IN;
        save = ps->p;
        if (kw(ps, "not") && kw(ps, "in"))
                return OP_NIN;
        ps->p = save;
        return -1;
}

/* "[" VALUE ("," VALUE)* "]" after in / !in. */
static int parse_list(struct parser *ps, struct cql *n)
{
        int r;
        if (!sym(ps, "["))
                return fail(ps, "expected '[' after in");
        for (;;) {
                char *v = value(ps, true);
                if (!v)
                        return fail(ps, "expected a value in the list");
                if ((r = add_arg(n, v)) < 0)
                        return r;
                if (sym(ps, ","))
                        continue;
                if (sym(ps, "]"))
                        return 0;
                return fail(ps, "expected ',' or ']'");
        }
}

static int parse_cmp(struct parser *ps, struct cql **ret)
{
        struct cql *n = calloc(1, sizeof *n);
        const char *at;
        int r = 0, op;
        if (!n)
                return -ENOMEM;
        n->kind = N_CMP;
        skip_ws(ps);
        at = ps->p;
        n->subject = value(ps, false);
        if (!n->subject) {
                cql_free(n);
                return fail(ps, "expected a subject such as attribute:ecs.instance-type");
        }
        if (!subject_valid(n->subject)) {
                ps->p = at;
                cql_free(n);
                return fail(ps, "unknown subject");
        }
        skip_ws(ps);
        if ((op = parse_op(ps)) < 0) {
                cql_free(n);
                return fail(ps, "expected an operator (==, !=, >, >=, <, <=, exists, !exists, in, !in, =~, !~)");
        }
        n->op = op;
        if (n->op == OP_IN || n->op == OP_NIN)
                r = parse_list(ps, n);
        else if (n->op != OP_EXISTS && n->op != OP_NEXISTS) {
                char *v = value(ps, false);
                r = v ? add_arg(n, v) : fail(ps, "expected a value");
        }
        if (r < 0) {
                cql_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

static int parse_unary(struct parser *ps, struct cql **ret)
{
        int r;
        skip_ws(ps);
        if (kw(ps, "not")) {
                struct cql *n = calloc(1, sizeof *n), *a = NULL;
                if (!n)
                        return -ENOMEM;
                if ((r = parse_unary(ps, &a)) < 0) {
                        free(n);
                        return r;
                }
                n->kind = N_NOT;
                n->a = a;
                *ret = n;
                return 0;
        }
        if (sym(ps, "(")) {
                if ((r = parse_or(ps, ret)) < 0)
                        return r;
                if (!sym(ps, ")")) {
                        *ret = cql_free(*ret);
                        return fail(ps, "expected ')'");
                }
                return 0;
        }
        return parse_cmp(ps, ret);
}

static int parse_binary(struct parser *ps, struct cql **ret, bool is_or)
{
        struct cql *left = NULL;
        int r = is_or ? parse_binary(ps, &left, false) : parse_unary(ps, &left);
        if (r < 0)
                return r;
        for (;;) {
                struct cql *right = NULL, *n;
                bool more = is_or ? (sym(ps, "||") || kw(ps, "or")) : (sym(ps, "&&") || kw(ps, "and"));
                if (!more)
                        break;
                r = is_or ? parse_binary(ps, &right, false) : parse_unary(ps, &right);
                if (r < 0) {
                        cql_free(left);
                        return r;
                }
                n = calloc(1, sizeof *n);
                if (!n) {
                        cql_free(left);
                        cql_free(right);
                        return -ENOMEM;
                }
                n->kind = is_or ? N_OR : N_AND;
                n->a = left;
                n->b = right;
                left = n;
        }
        *ret = left;
        return 0;
}

static int parse_or(struct parser *ps, struct cql **ret)
{
        return parse_binary(ps, ret, true);
}

int cql_parse(const char *text, struct cql **ret, struct err *err)
{
        struct parser ps = { text, text, err };
        struct cql *q = NULL;
        int r;
        if (!text || strlen(text) > 2000)
                return err_set(err, EINVAL, "InvalidParameterException", "Invalid query expression: empty or longer than 2000 characters");
        r = parse_or(&ps, &q);
        if (r < 0)
                return r;
        skip_ws(&ps);
        if (*ps.p) {
                cql_free(q);
                return fail(&ps, "unexpected text");
        }
        *ret = q;
        return 0;
}

bool cql_glob(const char *p, const char *s)
{
        if (*p == '\0')
                return *s == '\0';
        if (*p == '*') {
                for (;; s++) {
                        if (cql_glob(p + 1, s))
                                return true;
                        if (*s == '\0')
                                return false;
                }
        }
        if (*s && (*p == '?' || *p == *s))
                return cql_glob(p + 1, s + 1);
        return false;
}

static bool as_number(const char *s, double *ret)
{
        char *end;
        if (!*s)
                return false;
        *ret = strtod(s, &end);
        return *end == '\0';
}

static int compare(const char *a, const char *b)
{
        double x, y;
        if (as_number(a, &x) && as_number(b, &y))
                return x < y ? -1 : x > y ? 1 : 0;
        return strcmp(a, b);
}

static bool one(enum cmp_op op, const char *v, const struct cql *n)
{
        switch (op) {
        case OP_EQ: return compare(v, n->args[0]) == 0;
        case OP_GT: return compare(v, n->args[0]) > 0;
        case OP_GE: return compare(v, n->args[0]) >= 0;
        case OP_LT: return compare(v, n->args[0]) < 0;
        case OP_LE: return compare(v, n->args[0]) <= 0;
        case OP_MATCH: return cql_glob(n->args[0], v);
        case OP_IN:
                for (size_t i = 0; i < n->nargs; i++)
                        if (compare(v, n->args[i]) == 0)
                                return true;
                return false;
        default: return false;
        }
}

bool cql_eval(const struct cql *q, cql_values_fn values, void *ctx)
{
        const char *const *vals;
        bool any = false;
        enum cmp_op pos;
        switch (q->kind) {
        case N_AND: return cql_eval(q->a, values, ctx) && cql_eval(q->b, values, ctx);
        case N_OR: return cql_eval(q->a, values, ctx) || cql_eval(q->b, values, ctx);
        case N_NOT: return !cql_eval(q->a, values, ctx);
        case N_CMP: break;
        }
        vals = values(ctx, q->subject);
        if (q->op == OP_EXISTS || q->op == OP_NEXISTS) {
                bool has = vals && vals[0];
                return q->op == OP_EXISTS ? has : !has;
        }
        /* negative operators hold when no value matches the positive one */
        pos = q->op == OP_NE ? OP_EQ : q->op == OP_NIN ? OP_IN : q->op == OP_NMATCH ? OP_MATCH : q->op;
        for (size_t i = 0; vals && vals[i]; i++)
                if (one(pos, vals[i], q)) {
                        any = true;
                        break;
                }
        return pos == q->op ? any : !any;
}

bool cql_is_static(const struct cql *q)
{
        if (!q)
                return true;
        if (q->kind != N_CMP)
                return cql_is_static(q->a) && cql_is_static(q->b);
        return strcmp(q->subject, "runningTasksCount") != 0 && strcmp(q->subject, "task:group") != 0;
}
