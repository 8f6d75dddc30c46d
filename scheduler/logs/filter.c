/* filter.c: CloudWatch Logs filter patterns, parsed once per FilterLogEvents call and matched
 * against each event. Supported (docs/logs.md): case-sensitive terms (all must match), "quoted
 * phrases", ?term (any of them), -term (none of them); JSON { $.a.b[0] op value } with = != < >
 * <= >=, && and || with parentheses, * wildcards in strings, IS TRUE/FALSE/NULL, NOT EXISTS;
 * space-delimited [name, name op value, ...] with one ellipsis. */
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define E_PARAM "InvalidParameterException"
#define TERMS_MAX 32
#define CONDS_MAX 16
#define FIELDS_MAX 32
#define TOKEN_MAX 256
#define DEPTH_MAX 16                    /* nested parentheses in a JSON pattern */

enum kind { F_ALL, F_TERMS, F_JSON, F_SPACE };
enum op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_TRUE, OP_FALSE, OP_NULL, OP_NOT_EXISTS, OP_NONE };

struct term {
        char text[TOKEN_MAX];
        char how;                       /* '+' all, '?' any, '-' none */
};

struct cond {
        char sel[TOKEN_MAX];            /* JSON: the selector after "$"; space: the field name */
        enum op op;
        bool numeric;
        double num;
        char str[TOKEN_MAX];
};

/* A JSON pattern's expression: conditions under && and || nodes, with parentheses. */
enum node_kind { N_COND, N_AND, N_OR };
struct node {
        enum node_kind kind;
        int a, b;                       /* N_COND: a is the condition; else the two operands */
};

struct log_filter {
        enum kind kind;
        size_t n;
        struct term terms[TERMS_MAX];
        struct cond conds[CONDS_MAX];
        struct node nodes[2 * CONDS_MAX];
        int n_nodes, root;
        /* space-delimited: field names in order, "..." for the ellipsis, and which cond applies */
        char fields[FIELDS_MAX][TOKEN_MAX];
        int field_cond[FIELDS_MAX];
        size_t n_fields;
};

static int bad(struct err *err, const char *pattern, const char *why)
{
        return err_set(err, EINVAL, E_PARAM, "Invalid filter pattern '%.200s': %s", pattern, why);
}

static const char *skip_ws(const char *p)
{
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
        return p;
}

/* A "quoted" string (backslash escapes) or a bare word ending at a space or any of stop. */
static const char *token(const char *p, const char *stop, char out[TOKEN_MAX], bool *quoted)
{
        size_t n = 0;
        *quoted = false;
        if (*p == '"') {
                *quoted = true;
                for (p++; *p && *p != '"'; p++) {
                        if (*p == '\\' && p[1])
                                p++;
                        if (n + 1 >= TOKEN_MAX)
                                return NULL;
                        out[n++] = *p;
                }
                if (*p != '"')
                        return NULL;
                out[n] = '\0';
                return p + 1;
        }
        for (; *p && *p != ' ' && *p != '\t' && !strchr(stop, *p); p++) {
                if (n + 1 >= TOKEN_MAX)
                        return NULL;
                out[n++] = *p;
        }
        out[n] = '\0';
        return n ? p : NULL;
}

static int parse_terms(struct log_filter *f, const char *pattern, struct err *err)
{
        const char *p = skip_ws(pattern);
        f->kind = F_TERMS;
        while (*p) {
                struct term *t;
                bool quoted;
                if (f->n == TERMS_MAX)
                        return bad(err, pattern, "too many terms");
                t = &f->terms[f->n];
                t->how = '+';
                if ((*p == '?' || *p == '-') && p[1] && p[1] != ' ')
                        t->how = *p++;
                if (!(p = token(p, "", t->text, &quoted)))
                        return bad(err, pattern, "unterminated quote or term too long");
                f->n++;
                p = skip_ws(p);
        }
        if (f->n == 0)
                f->kind = F_ALL;
        return 0;
}

static const char *parse_op(const char *p, enum op *op)
{
        static const struct { const char *s; enum op op; } ops[] = {
                { "!=", OP_NE }, { "<=", OP_LE }, { ">=", OP_GE }, { "=", OP_EQ }, { "<", OP_LT }, { ">", OP_GT },
        };
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
                if (strncmp(p, ops[i].s, strlen(ops[i].s)) == 0) {
                        *op = ops[i].op;
                        return p + strlen(ops[i].s);
                }
        return NULL;
}

/* op value, after a selector or field name. */
static const char *parse_cond_rest(const char *p, const char *stop, struct cond *c)
{
        bool quoted;
        char *end;
        p = skip_ws(p);
        if (strncasecmp(p, "IS ", 3) == 0) {
                p = skip_ws(p + 3);
                if (strncasecmp(p, "TRUE", 4) == 0)
                        c->op = OP_TRUE;
                else if (strncasecmp(p, "FALSE", 5) == 0)
                        c->op = OP_FALSE;
                else if (strncasecmp(p, "NULL", 4) == 0)
                        c->op = OP_NULL;
                else
                        return NULL;
                return p + (c->op == OP_FALSE ? 5 : 4);
        }
        if (strncasecmp(p, "NOT EXISTS", 10) == 0) {
                c->op = OP_NOT_EXISTS;
                return p + 10;
        }
        if (!(p = parse_op(p, &c->op)))
                return NULL;
        p = skip_ws(p);
        if (!(p = token(p, stop, c->str, &quoted)))
                return NULL;
        if (!quoted && c->str[0]) {
                c->num = strtod(c->str, &end);
                c->numeric = *end == '\0';
        }
        if (c->numeric ? false : (c->op != OP_EQ && c->op != OP_NE))
                return NULL;    /* < > only compare numbers */
        return p;
}

static int new_node(struct log_filter *f, enum node_kind kind, int a, int b)
{
        if (f->n_nodes == (int) (sizeof f->nodes / sizeof f->nodes[0]))
                return -1;
        f->nodes[f->n_nodes] = (struct node) { kind, a, b };
        return f->n_nodes++;
}

struct jparse {
        struct log_filter *f;
        const char *p, *why;
        int depth;
};

static int parse_or(struct jparse *j);

/* ( expr ) or $.selector op value */
static int parse_primary(struct jparse *j)
{
        struct log_filter *f = j->f;
        struct cond *c;
        size_t n = 0;
        j->p = skip_ws(j->p);
        if (*j->p == '(') {
                int e;
                if (++j->depth > DEPTH_MAX)
                        return j->why = "parentheses nested too deep", -1;
                j->p++;
                if ((e = parse_or(j)) < 0)
                        return -1;
                j->p = skip_ws(j->p);
                if (*j->p != ')')
                        return j->why = "expected )", -1;
                j->p++;
                j->depth--;
                return e;
        }
        if (f->n == CONDS_MAX)
                return j->why = "too many conditions", -1;
        c = &f->conds[f->n];
        if (*j->p != '$')
                return j->why = "a JSON condition starts with a $ selector", -1;
        for (j->p++; *j->p == '.' || *j->p == '[' || *j->p == ']' || *j->p == '_' || *j->p == '-' || *j->p == '*' ||
                     (*j->p >= '0' && *j->p <= '9') || (*j->p >= 'a' && *j->p <= 'z') || (*j->p >= 'A' && *j->p <= 'Z');
             j->p++) {
                if (n + 1 >= TOKEN_MAX)
                        return j->why = "selector too long", -1;
                c->sel[n++] = *j->p;
        }
        c->sel[n] = '\0';
        if (!(j->p = parse_cond_rest(j->p, "&|)}", c)))
                return j->why = "expected an operator and a value after the selector", -1;
        return new_node(f, N_COND, (int) f->n++, 0);
}

static int parse_and(struct jparse *j)
{
        int l = parse_primary(j), r;
        while (l >= 0) {
                j->p = skip_ws(j->p);
                if (strncmp(j->p, "&&", 2) != 0)
                        break;
                j->p += 2;
                if ((r = parse_primary(j)) < 0 || (l = new_node(j->f, N_AND, l, r)) < 0)
                        return j->why = j->why ? j->why : "too many conditions", -1;
        }
        return l;
}

/* && binds tighter than ||, as AWS evaluates them */
static int parse_or(struct jparse *j)
{
        int l = parse_and(j), r;
        while (l >= 0) {
                j->p = skip_ws(j->p);
                if (strncmp(j->p, "||", 2) != 0)
                        break;
                j->p += 2;
                if ((r = parse_and(j)) < 0 || (l = new_node(j->f, N_OR, l, r)) < 0)
                        return j->why = j->why ? j->why : "too many conditions", -1;
        }
        return l;
}

static int parse_json(struct log_filter *f, const char *pattern, const char *p, struct err *err)
{
        struct jparse j = { f, p, NULL, 0 };
        f->kind = F_JSON;
        if ((f->root = parse_or(&j)) < 0)
                return bad(err, pattern, j.why ? j.why : "too many conditions");
        j.p = skip_ws(j.p);
        if (*j.p != '}')
                return bad(err, pattern, "expected &&, || or }");
        if (*skip_ws(j.p + 1))
                return bad(err, pattern, "text after the closing }");
        return 0;
}

static int parse_space(struct log_filter *f, const char *pattern, const char *p, struct err *err)
{
        bool ellipsis = false;
        f->kind = F_SPACE;
        for (;;) {
                char *name;
                size_t n = 0;
                p = skip_ws(p);
                if (f->n_fields == FIELDS_MAX)
                        return bad(err, pattern, "too many fields");
                name = f->fields[f->n_fields];
                f->field_cond[f->n_fields] = -1;
                while (*p && *p != ',' && *p != ']' && *p != ' ' && *p != '=' && *p != '!' && *p != '<' && *p != '>') {
                        if (n + 1 >= TOKEN_MAX)
                                return bad(err, pattern, "field name too long");
                        name[n++] = *p++;
                }
                name[n] = '\0';
                if (n == 0)
                        return bad(err, pattern, "empty field name");
                if (strcmp(name, "...") == 0) {
                        if (ellipsis)
                                return bad(err, pattern, "only one ... is supported");
                        ellipsis = true;
                }
                p = skip_ws(p);
                if (*p && *p != ',' && *p != ']') {
                        struct cond *c;
                        if (f->n == CONDS_MAX)
                                return bad(err, pattern, "too many conditions");
                        c = &f->conds[f->n];
                        memcpy(c->sel, name, n + 1);   /* n < TOKEN_MAX */
                        if (!(p = parse_cond_rest(p, ",]", c)))
                                return bad(err, pattern, "expected an operator and a value after a field name");
                        f->field_cond[f->n_fields] = (int) f->n++;
                        p = skip_ws(p);
                }
                f->n_fields++;
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p != ']')
                        return bad(err, pattern, "expected , or ]");
                if (*skip_ws(p + 1))
                        return bad(err, pattern, "text after the closing ]");
                return 0;
        }
}

int log_filter_parse(const char *pattern, struct log_filter **ret, struct err *err)
{
        struct log_filter *f;
        const char *p;
        int r;
        if (pattern && strlen(pattern) > LOG_FILTER_MAX)
                return err_set(err, EINVAL, E_PARAM, "filterPattern is longer than %d characters", LOG_FILTER_MAX);
        f = calloc(1, sizeof *f);
        if (!f)
                return err_set(err, ENOMEM, NULL, "out of memory");
        p = skip_ws(pattern ? pattern : "");
        if (*p == '{')
                r = parse_json(f, pattern, p + 1, err);
        else if (*p == '[')
                r = parse_space(f, pattern, p + 1, err);
        else
                r = parse_terms(f, p, err);
        if (r < 0) {
                free(f);
                return r;
        }
        *ret = f;
        return 0;
}

struct log_filter *log_filter_free(struct log_filter *f)
{
        free(f);
        return NULL;
}

static bool has(const char *msg, size_t len, const char *needle)
{
        return memmem(msg, len, needle, strlen(needle)) != NULL;
}

static bool match_terms(const struct log_filter *f, const char *msg, size_t len)
{
        bool any = false, any_seen = false;
        for (size_t i = 0; i < f->n; i++) {
                const struct term *t = &f->terms[i];
                bool h = has(msg, len, t->text);
                if (t->how == '+' && !h)
                        return false;
                if (t->how == '-' && h)
                        return false;
                if (t->how == '?') {
                        any_seen = true;
                        any = any || h;
                }
        }
        return !any_seen || any;
}

/* A string value against a pattern with * wildcards. */
static bool str_eq(const char *have, const char *want)
{
        return strchr(want, '*') ? fnmatch(want, have, 0) == 0 : strcmp(have, want) == 0;
}

static bool cmp_num(double have, enum op op, double want)
{
        switch (op) {
        case OP_EQ: return have == want;
        case OP_NE: return have != want;
        case OP_LT: return have < want;
        case OP_GT: return have > want;
        case OP_LE: return have <= want;
        case OP_GE: return have >= want;
        default: return false;
        }
}

/* A field given as text (space-delimited fields, JSON strings). */
static bool cond_text(const struct cond *c, const char *have)
{
        if (c->numeric) {
                char *end;
                double v = strtod(have, &end);
                if (end == have || *end)
                        return c->op == OP_NE;
                return cmp_num(v, c->op, c->num);
        }
        return c->op == OP_NE ? !str_eq(have, c->str) : str_eq(have, c->str);
}

static json_t *select_json(json_t *doc, const char *sel)
{
        const char *p = sel;
        while (doc && *p) {
                char key[TOKEN_MAX];
                size_t n = 0;
                if (*p == '.') {
                        for (p++; *p && *p != '.' && *p != '['; p++)
                                key[n++] = *p;
                        key[n] = '\0';
                        doc = json_is_object(doc) ? json_object_get(doc, key) : NULL;
                } else if (*p == '[') {
                        char *end;
                        long i = strtol(p + 1, &end, 10);
                        if (*end != ']' || i < 0)
                                return NULL;
                        doc = json_is_array(doc) ? json_array_get(doc, (size_t) i) : NULL;
                        p = end + 1;
                } else {
                        return NULL;
                }
        }
        return doc;
}

static bool cond_json(const struct cond *c, json_t *doc)
{
        json_t *v = select_json(doc, c->sel);
        switch (c->op) {
        case OP_NOT_EXISTS: return v == NULL;
        case OP_TRUE: return json_is_true(v);
        case OP_FALSE: return json_is_false(v);
        case OP_NULL: return json_is_null(v);
        default: break;
        }
        if (!v)
                return false;
        if (json_is_number(v))
                return c->numeric ? cmp_num(json_number_value(v), c->op, c->num) : c->op == OP_NE;
        if (json_is_string(v))
                return cond_text(c, json_string_value(v));
        if (json_is_boolean(v))
                return cond_text(c, json_is_true(v) ? "true" : "false");
        return c->op == OP_NE;
}

static bool eval_node(const struct log_filter *f, int i, json_t *doc)
{
        const struct node *n = &f->nodes[i];
        switch (n->kind) {
        case N_COND: return cond_json(&f->conds[n->a], doc);
        case N_AND: return eval_node(f, n->a, doc) && eval_node(f, n->b, doc);
        case N_OR: return eval_node(f, n->a, doc) || eval_node(f, n->b, doc);
        }
        return false;
}

static bool match_json(const struct log_filter *f, const char *msg, size_t len)
{
        json_t *doc = json_loadb(msg, len, JSON_DECODE_ANY, NULL);
        bool ok = (json_is_object(doc) || json_is_array(doc)) && eval_node(f, f->root, doc);
        json_decref(doc);
        return ok;
}

/* Splits msg on spaces; "..." and [...] are one field each (without their quotes and brackets). */
static size_t split_fields(const char *msg, size_t len, char (*out)[TOKEN_MAX], size_t max)
{
        size_t i = 0, n = 0;
        while (i < len && n < max) {
                size_t k = 0;
                char close = 0;
                while (i < len && msg[i] == ' ')
                        i++;
                if (i == len)
                        break;
                if (msg[i] == '"' || msg[i] == '[')
                        close = msg[i++] == '"' ? '"' : ']';
                for (; i < len && (close ? msg[i] != close : msg[i] != ' '); i++)
                        if (k + 1 < TOKEN_MAX)
                                out[n][k++] = msg[i];
                if (close && i < len)
                        i++;
                out[n++][k] = '\0';
        }
        return n;
}

static bool match_space(const struct log_filter *f, const char *msg, size_t len)
{
        static __thread char fields[FIELDS_MAX * 4][TOKEN_MAX];
        bool res[CONDS_MAX] = { false };
        size_t n = split_fields(msg, len, fields, FIELDS_MAX * 4), ell = f->n_fields;
        for (size_t i = 0; i < f->n_fields; i++)
                if (strcmp(f->fields[i], "...") == 0)
                        ell = i;
        if (ell == f->n_fields ? n != f->n_fields : n + 1 < f->n_fields)
                return false;
        for (size_t i = 0; i < f->n_fields; i++) {
                int ci = f->field_cond[i];
                size_t at;
                if (i == ell || ci < 0)
                        continue;
                at = i < ell ? i : n - (f->n_fields - i);
                res[ci] = cond_text(&f->conds[ci], fields[at]);
        }
        for (size_t i = 0; i < f->n; i++)
                if (!res[i])
                        return false;
        return true;
}

bool log_filter_match(const struct log_filter *f, const char *msg, size_t len)
{
        switch (f->kind) {
        case F_ALL: return true;
        case F_TERMS: return match_terms(f, msg, len);
        case F_JSON: return match_json(f, msg, len);
        case F_SPACE: return match_space(f, msg, len);
        }
        return false;
}
