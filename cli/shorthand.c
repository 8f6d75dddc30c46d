/* shorthand.c: the aws CLI shorthand syntax for structures (a=1,b=[x,y],c={d=e}), nesting at most 16 deep. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "shorthand.h"

static json_t *sh_value(const char **p, int depth);

static json_t *sh_scalar(const char **p)
{
        const char *s = *p;
        size_t n = 0;
        while (s[n] && s[n] != ',' && s[n] != ']' && s[n] != '}')
                n++;
        *p = s + n;
        if (n == 4 && !strncmp(s, "true", 4))
                return json_true();
        if (n == 5 && !strncmp(s, "false", 5))
                return json_false();
        if (n > 0 && (isdigit((unsigned char) s[0]) || (s[0] == '-' && n > 1))) {
                char *end;
                long long v = strtoll(s, &end, 10);
                if (end == s + n)
                        return json_integer(v);
        }
        return json_stringn(s, n);
}

static json_t *sh_list(const char **p, int depth)
{
        json_t *arr = json_array();
        (*p)++;
        while (**p && **p != ']') {
                json_t *v = sh_value(p, depth + 1);
                if (!v) {
                        json_decref(arr);
                        return NULL;
                }
                json_array_append_new(arr, v);
                /* a value ends at ',' or the list's ']': anything else ("[a}") is no shorthand */
                if (**p == ',')
                        (*p)++;
                else if (**p != ']')
                        break;
        }
        if (**p != ']') {
                json_decref(arr);
                return NULL;
        }
        (*p)++;
        return arr;
}

/* key=value pairs up to the end or a closing brace */
static json_t *sh_object(const char **p, int depth, char close)
{
        json_t *obj = json_object();
        while (**p && **p != close) {
                const char *k = *p, *eq = strchr(k, '=');
                json_t *v;
                if (!eq) {
                        json_decref(obj);
                        return NULL;
                }
                *p = eq + 1;
                v = sh_value(p, depth + 1);
                if (!v) {
                        json_decref(obj);
                        return NULL;
                }
                {
                        _cleanup_free_ char *key = strndup(k, (size_t) (eq - k));
                        json_object_set_new(obj, key, v);
                }
                if (**p == ',')
                        (*p)++;
                else if (**p != close) {
                        json_decref(obj);   /* "a=b}c": a value ends at ',' or the closing brace */
                        return NULL;
                }
        }
        return obj;
}

static json_t *sh_value(const char **p, int depth)
{
        if (depth > 16)
                return NULL;
        if (**p == '[')
                return sh_list(p, depth);
        if (**p == '{') {
                json_t *o;
                (*p)++;
                o = sh_object(p, depth, '}');
                if (!o || **p != '}') {
                        json_decref(o);
                        return NULL;
                }
                (*p)++;
                return o;
        }
        return sh_scalar(p);
}

json_t *cli_shorthand(const char *s)
{
        const char *p = s;
        json_t *o;
        if (s[0] == '{' || s[0] == '[')
                return json_loads(s, JSON_DECODE_ANY, NULL);
        o = sh_object(&p, 0, '\0');
        if (o && *p) {
                json_decref(o);
                return NULL;
        }
        return o;
}
