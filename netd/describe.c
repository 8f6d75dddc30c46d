/* describe.c: what the Describe* operations share: Filters matched, and one walk over a kind's records. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "describe.h"
#include "ecsbox/json.h"
#include "ecsbox/store.h"
#include "netd.h"
#include "record.h"

static bool tag_match(json_t *obj, const char *key, json_t *values)
{
        json_t *tags = json_object_get(obj, "Tags");
        json_t *t, *v;
        size_t i, j;
        if (!tags)
                tags = json_object_get(obj, "TagSet");
        json_array_foreach(tags, i, t) {
                if (strcmp(json_string_value(json_object_get(t, "Key")) ?: "", key) != 0)
                        continue;
                json_array_foreach(values, j, v)
                        if (strcmp(json_string_value(json_object_get(t, "Value")) ?: "", json_string_value(v)) == 0)
                                return true;
        }
        return false;
}

bool filters_match(json_t *filters, json_t *(*values)(json_t *obj, const char *name), json_t *obj)
{
        json_t *f;
        size_t i;
        json_array_foreach(filters, i, f) {
                const char *name = json_string_value(json_object_get(f, "Name"));
                json_t *want = json_object_get(f, "Values");
                json_t *have, *h, *w;
                size_t j, k;
                bool hit = false;
                if (strncmp(name, "tag:", 4) == 0) {
                        if (!tag_match(obj, name + 4, want))
                                return false;
                        continue;
                }
                have = values(obj, name);
                json_array_foreach(have, j, h)
                        json_array_foreach(want, k, w)
                                if (strcmp(json_string_value(h), json_string_value(w)) == 0)
                                        hit = true;
                json_decref(have);
                if (!hit)
                        return false;
        }
        return true;
}

struct describe_ctx {
        json_t *ids;
        json_t *filters;
        json_t *out;
        struct netd *d;
        json_t *(*values)(json_t *, const char *);
        json_t *(*shape)(struct netd *, json_t *);
        const char *id_key;
};

static bool id_wanted(json_t *ids, const char *id)
{
        json_t *v;
        size_t i;
        if (!ids || json_array_size(ids) == 0)
                return true;
        json_array_foreach(ids, i, v)
                if (strcmp(json_string_value(v), id) == 0)
                        return true;
        return false;
}

static int describe_cb(const char *key, json_t *obj, void *ud)
{
        struct describe_ctx *c = ud;
        if (!id_wanted(c->ids, json_string_value(json_object_get(obj, c->id_key))))
                return 0;
        if (c->filters && !filters_match(c->filters, c->values, obj))
                return 0;
        json_array_append_new(c->out, c->shape(c->d, obj));
        return 0;
}

/* Shared by the Describe* operations: every requested id must exist (EC2 fails the call otherwise). */
int describe_objects(struct netd *d, const char *prefix, const char *id_key, json_t *ids, json_t *filters,
                     json_t *(*values)(json_t *, const char *), json_t *(*shape)(struct netd *, json_t *),
                     const char *notfound_code, const char *kind, json_t **ret, struct err *err)
{
        struct describe_ctx c = { ids, filters, json_array(), d, values, shape, id_key };
        json_t *v;
        size_t i;
        int r;
        json_array_foreach(ids, i, v) {
                char key[KEY_MAX];
                key_fmt(key, prefix, json_string_value(v));
                r = store_exists(d->store, key);
                if (r == 0) {
                        json_decref(c.out);
                        return err_set(err, ENOENT, notfound_code, "The %s '%s' does not exist", kind, json_string_value(v));
                }
        }
        {
                char p[KEY_MAX];
                snprintf(p, sizeof p, "%s/", prefix);
                r = store_list(d->store, p, describe_cb, &c, err);
        }
        if (r < 0) {
                json_decref(c.out);
                return r;
        }
        *ret = c.out;
        return 0;
}
