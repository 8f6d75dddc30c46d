/* util.c: Describe* filters and id lists, state keys, intents. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netd.h"

void key_fmt(char buf[KEY_MAX], const char *kind, const char *id)
{
        snprintf(buf, KEY_MAX, "%s/%s", kind, id);
}

void lease_key(char buf[KEY_MAX], const char *subnet_id, uint32_t ip)
{
        snprintf(buf, KEY_MAX, "lease/%s/%08x", subnet_id, ip);
}

int filters_parse(json_t *req, const char *const *names, json_t **ret, struct err *err)
{
        json_t *filters = NULL, *f;
        size_t i;
        int r = json_get_array(req, "Filters", false, &filters, err);
        if (r < 0)
                return r;
        if (!filters) {
                *ret = NULL;
                return 0;
        }
        json_array_foreach(filters, i, f) {
                const char *name = NULL;
                json_t *values = NULL, *v;
                size_t j;
                bool known = false;
                if (!json_is_object(f))
                        return err_set(err, EINVAL, JERR_INVALID, "Filters.%zu must be a structure with Name and Values", i + 1);
                if (json_get_string(f, "Name", true, &name, err) < 0 || json_get_array(f, "Values", true, &values, err) < 0)
                        return err_wrap(err, "Filters.%zu", i + 1);
                for (const char *const *n = names; *n; n++)
                        if (strcmp(*n, name) == 0)
                                known = true;
                if (!known && strncmp(name, "tag:", 4) != 0)
                        return err_set(err, EINVAL, JERR_INVALID, "The filter '%s' is invalid", name);
                json_array_foreach(values, j, v)
                        if (!json_is_string(v))
                                return err_set(err, EINVAL, JERR_INVALID, "Filters.%zu.Values must be strings", i + 1);
        }
        *ret = filters;
        return 0;
}

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

int ids_param(json_t *req, const char *key, const char *prefix, const char *code, json_t **ret, struct err *err)
{
        json_t *ids = NULL, *v;
        size_t i;
        int r = json_get_array(req, key, false, &ids, err);
        if (r < 0)
                return r;
        json_array_foreach(ids, i, v) {
                if (!json_is_string(v))
                        return err_set(err, EINVAL, JERR_INVALID, "%s.%zu must be a string", key, i + 1);
                if (!id_valid(prefix, json_string_value(v)))
                        return err_set(err, EINVAL, code, "Invalid id: \"%s\"", json_string_value(v));
        }
        *ret = ids;
        return 0;
}

int intent_add(struct netd *d, json_t *intent, char ret_key[64], struct err *err)
{
        char key[KEY_MAX];
        snprintf(key, sizeof key, "intent/%016llx", (unsigned long long) ++d->intent_seq);
        int r = store_put(d->store, key, intent, err);
        if (r < 0)
                return r;
        snprintf(ret_key, 64, "%s", key);
        return 0;
}

int intent_done(struct netd *d, const char *key, struct err *err)
{
        return store_del(d->store, key, err);
}
