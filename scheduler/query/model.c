/* model.c: the Query protocol over botocore's shapes: form parameters in, XML out, in both flavours: EC2's
 * (Name.N, lowerCamel locationName, <item>) and the plain Query protocol's of ELBv2 (Name.member.N,
 * Name.entry.N.key/value, UpperCamel member names, <member>). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"
#include "model.h"

#define DEPTH_MAX 12
#define LIST_MAX 1000                   /* items read of one list (EC2 caps its lists far lower) */

int query_model_load(const char *json_text, struct query_model *ret, struct err *err)
{
        json_error_t jerr;
        json_t *doc = json_loads(json_text, 0, &jerr);
        if (!doc || !json_is_object(json_object_get(doc, "shapes")) || !json_is_object(json_object_get(doc, "operations"))) {
                json_decref(doc);
                return err_set(err, EINVAL, NULL, "the built-in service model does not parse: %s", doc ? "no shapes" : jerr.text);
        }
        ret->doc = doc;
        ret->version = json_string_value(json_object_get(doc, "version"));
        ret->query = !strcmp(json_string_value(json_object_get(doc, "protocol")) ?: "", "query");
        return 0;
}

void query_model_free(struct query_model *m)
{
        json_decref(m->doc);
        m->doc = NULL;
}

const char *query_model_result_wrapper(const struct query_model *m, const char *op)
{
        return json_string_value(json_object_get(json_object_get(json_object_get(m->doc, "operations"), op), "resultWrapper"));
}

bool query_model_op(const struct query_model *m, const char *op, const char **ret_input, const char **ret_output)
{
        json_t *o = json_object_get(json_object_get(m->doc, "operations"), op ? op : "");
        if (!o)
                return false;
        *ret_input = json_string_value(json_object_get(o, "input"));
        *ret_output = json_string_value(json_object_get(o, "output"));
        return true;
}

static json_t *shape_of(const struct query_model *m, const char *name)
{
        return json_object_get(json_object_get(m->doc, "shapes"), name ? name : "");
}

static const char *type_of(json_t *shape)
{
        return json_string_value(json_object_get(shape, "type")) ?: "string";
}

/* ---- in: the EC2 serializer's names ---- */

/* EC2: queryName, else locationName with its first letter upper-cased, else the member name.
 * Query: locationName, else the member name, unchanged. */
static void wire_name(const struct query_model *m, const char *member, json_t *ref, char *buf, size_t len)
{
        const char *q = json_string_value(json_object_get(ref, "queryName"));
        const char *l = json_string_value(json_object_get(ref, "locationName"));
        if (m->query)
                snprintf(buf, len, "%s", l ? l : member);
        else if (q)
                snprintf(buf, len, "%s", q);
        else if (l) {
                snprintf(buf, len, "%s", l);
                buf[0] = (char) toupper((unsigned char) buf[0]);
        } else
                snprintf(buf, len, "%s", member);
}

static int scalar_in(json_t *shape, const char *key, const char *v, json_t **ret, struct err *err)
{
        const char *t = type_of(shape);
        char *end = NULL;
        if (!strcmp(t, "integer") || !strcmp(t, "long")) {
                long long n;
                errno = 0;
                n = strtoll(v, &end, 10);
                if (errno || !*v || *end)
                        return err_set(err, EINVAL, "InvalidParameterValue", "Value (%.100s) for parameter %s is invalid. Expected an integer.",
                                       v, key);
                *ret = json_integer(n);
        } else if (!strcmp(t, "boolean")) {
                if (strcmp(v, "true") && strcmp(v, "false"))
                        return err_set(err, EINVAL, "InvalidParameterValue",
                                       "Value (%.100s) for parameter %s is invalid. Expected 'true' or 'false'.", v, key);
                *ret = json_boolean(!strcmp(v, "true"));
        } else if (!strcmp(t, "double") || !strcmp(t, "float")) {
                double d;
                errno = 0;
                d = strtod(v, &end);
                if (errno || !*v || *end)
                        return err_set(err, EINVAL, "InvalidParameterValue", "Value (%.100s) for parameter %s is invalid. Expected a number.",
                                       v, key);
                *ret = json_real(d);
        } else
                *ret = json_string(v);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

/* The value at key (a scalar, a structure at key.Member, or a list at key.N): 1 found (*ret), 0 absent. */
static int value_in(const struct query_model *m, json_t *shape, const char *key, json_t *params, int depth, json_t **ret,
                    struct err *err);

static int struct_in(const struct query_model *m, json_t *shape, const char *prefix, json_t *params, int depth, json_t **ret,
                     struct err *err)
{
        json_t *members = json_object_get(shape, "members"), *pair, *out = NULL;
        size_t i;
        if (depth > DEPTH_MAX)
                return 0;
        json_array_foreach(members, i, pair) {
                const char *name = json_string_value(json_array_get(pair, 0));
                json_t *ref = json_array_get(pair, 1), *v = NULL;
                char wire[128], key[512];
                int r;
                wire_name(m, name, ref, wire, sizeof wire);
                if (prefix)
                        snprintf(key, sizeof key, "%s.%s", prefix, wire);
                else
                        snprintf(key, sizeof key, "%s", wire);
                r = value_in(m, shape_of(m, json_string_value(json_object_get(ref, "shape"))), key, params, depth + 1, &v, err);
                if (r < 0) {
                        json_decref(out);
                        return r;
                }
                if (r == 0)
                        continue;
                if (!out && !(out = json_object())) {
                        json_decref(v);
                        return err_set(err, ENOMEM, NULL, "out of memory");
                }
                json_object_set_new(out, name, v);
        }
        if (!out)
                return 0;
        *ret = out;
        return 1;
}

/* A map: Name.entry.N.key / Name.entry.N.value (Query), Name.N.key / .value (EC2). Keys are strings. */
static int map_in(const struct query_model *m, json_t *shape, const char *key, json_t *params, int depth, json_t **ret,
                  struct err *err)
{
        json_t *vshape = shape_of(m, json_string_value(json_object_get(json_object_get(shape, "value"), "shape")));
        json_t *out = NULL;
        int r;
        if (depth > DEPTH_MAX)
                return 0;
        for (int n = 1; n <= LIST_MAX; n++) {
                char kkey[600], vkey[600];
                json_t *k, *v = NULL;
                snprintf(kkey, sizeof kkey, m->query ? "%s.entry.%d.key" : "%s.%d.key", key, n);
                snprintf(vkey, sizeof vkey, m->query ? "%s.entry.%d.value" : "%s.%d.value", key, n);
                if (!(k = json_object_get(params, kkey)))
                        break;
                if ((r = value_in(m, vshape, vkey, params, depth + 1, &v, err)) < 0) {
                        json_decref(out);
                        return r;
                }
                if (!out && !(out = json_object())) {
                        json_decref(v);
                        return err_set(err, ENOMEM, NULL, "out of memory");
                }
                json_object_set_new(out, json_string_value(k) ?: "", r ? v : json_string(""));
                json_object_del(params, kkey);
        }
        if (!out)
                return 0;
        *ret = out;
        return 1;
}

static int value_in(const struct query_model *m, json_t *shape, const char *key, json_t *params, int depth, json_t **ret,
                    struct err *err)
{
        const char *t = type_of(shape);
        int r;
        if (!strcmp(t, "structure"))
                return struct_in(m, shape, key, params, depth, ret, err);
        if (!strcmp(t, "list")) {
                json_t *mshape = shape_of(m, json_string_value(json_object_get(json_object_get(shape, "member"), "shape")));
                json_t *out = NULL, *empty;
                if (m->query && (empty = json_object_get(params, key)) && !strcmp(json_string_value(empty) ?: "", "")) {
                        /* Query: an empty list is sent as Name= */
                        json_object_del(params, key);
                        if (!(*ret = json_array()))
                                return err_set(err, ENOMEM, NULL, "out of memory");
                        return 1;
                }
                for (int n = 1; n <= LIST_MAX; n++) {
                        char ikey[600];
                        json_t *v = NULL;
                        snprintf(ikey, sizeof ikey, m->query ? "%s.member.%d" : "%s.%d", key, n);
                        if ((r = value_in(m, mshape, ikey, params, depth + 1, &v, err)) < 0) {
                                json_decref(out);
                                return r;
                        }
                        if (r == 0)
                                break;
                        if (!out)
                                out = json_array();
                        json_array_append_new(out, v);
                }
                if (!out)
                        return 0;
                *ret = out;
                return 1;
        }
        if (!strcmp(t, "map"))
                return map_in(m, shape, key, params, depth, ret, err);
        json_t *v = json_object_get(params, key);
        if (!v)
                return 0;
        if ((r = scalar_in(shape, key, json_string_value(v), ret, err)) < 0)
                return r;
        json_object_del(params, key);
        return 1;
}

int query_ec2_input(const struct query_model *m, const char *shape, json_t *params, json_t **ret, struct err *err)
{
        return query_model_input(m, shape, params, ret, err);
}

int query_model_input(const struct query_model *m, const char *shape, json_t *params, json_t **ret, struct err *err)
{
        json_t *out = NULL;
        int r;
        if (!shape) {
                *ret = json_object();
                return 0;
        }
        r = struct_in(m, shape_of(m, shape), NULL, params, 0, &out, err);
        if (r < 0)
                return r;
        *ret = r ? out : json_object();
        return 0;
}

/* ---- out: EC2's XML ---- */

static int w_ok(int rc, struct err *err)
{
        return rc < 0 ? err_set(err, EIO, NULL, "writing the XML answer failed") : 0;
}

static int value_out(const struct query_model *m, json_t *shape, const char *elem, json_t *v, xmlTextWriterPtr w, int depth,
                     struct err *err);

static int struct_out(const struct query_model *m, json_t *shape, json_t *obj, xmlTextWriterPtr w, int depth, struct err *err)
{
        json_t *pair;
        size_t i;
        int r;
        if (depth > DEPTH_MAX)
                return 0;
        json_array_foreach(json_object_get(shape, "members"), i, pair) {
                const char *name = json_string_value(json_array_get(pair, 0));
                json_t *ref = json_array_get(pair, 1), *v = json_object_get(obj, name);
                const char *loc = json_string_value(json_object_get(ref, "locationName"));
                if (!v || json_is_null(v))
                        continue;
                if ((r = value_out(m, shape_of(m, json_string_value(json_object_get(ref, "shape"))), loc ? loc : name, v, w,
                                   depth + 1, err)) < 0)
                        return r;
        }
        return 0;
}

static int value_out(const struct query_model *m, json_t *shape, const char *elem, json_t *v, xmlTextWriterPtr w, int depth,
                     struct err *err)
{
        const char *t = type_of(shape);
        char buf[64];
        int r;
        if (!strcmp(t, "structure")) {
                if (!json_is_object(v))
                        return 0;
                if ((r = w_ok(xmlTextWriterStartElement(w, BAD_CAST elem), err)) < 0 || (r = struct_out(m, shape, v, w, depth, err)) < 0)
                        return r;
                return w_ok(xmlTextWriterEndElement(w), err);
        }
        if (!strcmp(t, "list")) {
                json_t *mref = json_object_get(shape, "member"), *item;
                json_t *mshape = shape_of(m, json_string_value(json_object_get(mref, "shape")));
                const char *iname = json_string_value(json_object_get(mref, "locationName")) ?: (m->query ? "member" : "item");
                size_t i;
                if (!json_is_array(v))
                        return 0;
                if ((r = w_ok(xmlTextWriterStartElement(w, BAD_CAST elem), err)) < 0)
                        return r;
                json_array_foreach(v, i, item)
                        if ((r = value_out(m, mshape, iname, item, w, depth + 1, err)) < 0)
                                return r;
                return w_ok(xmlTextWriterEndElement(w), err);
        }
        if (json_is_boolean(v))
                snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
        else if (!strcmp(t, "timestamp") && json_is_number(v)) {
                char iso[ISO8601_MAX];
                iso8601_ms(json_number_value(v), iso);
                snprintf(buf, sizeof buf, "%s", iso);
        } else if (json_is_integer(v))
                snprintf(buf, sizeof buf, "%lld", (long long) json_integer_value(v));
        else if (json_is_real(v))
                snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        else if (json_is_string(v))
                return w_ok(xmlTextWriterWriteElement(w, BAD_CAST elem, BAD_CAST json_string_value(v)), err);
        else
                return 0;
        return w_ok(xmlTextWriterWriteElement(w, BAD_CAST elem, BAD_CAST buf), err);
}

int query_ec2_output(const struct query_model *m, const char *shape, json_t *doc, xmlTextWriterPtr w, struct err *err)
{
        return query_model_output(m, shape, doc, w, err);
}

int query_model_output(const struct query_model *m, const char *shape, json_t *doc, xmlTextWriterPtr w, struct err *err)
{
        if (!shape && m->query)
                return 0;
        if (!shape) {
                /* no output in the model: AWS answers <return>true</return> */
                return w_ok(xmlTextWriterWriteElement(w, BAD_CAST "return", BAD_CAST "true"), err);
        }
        return struct_out(m, shape_of(m, shape), doc, w, 0, err);
}
