/* req.c: what netd's request decoders share: ids, id lists, Filters, CIDR blocks, names, tags. Pure. */
#include <errno.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "req.h"

int req_action(json_t *req, const char **ret, struct err *err)
{
        if (!json_is_object(req))
                return err_set(err, EINVAL, "InvalidRequest", "The request must be a JSON object");
        return json_get_string(req, "Action", true, ret, err);
}

int req_id_check(const char *id, const char *prefix, const char *code, bool hint, struct err *err)
{
        if (id_valid(prefix, id))
                return 0;
        if (hint)
                return err_set(err, EINVAL, code, "Invalid id: \"%s\" (expecting \"%s-...\")", id, prefix);
        return err_set(err, EINVAL, code, "Invalid id: \"%s\"", id);
}

int req_id(json_t *req, const char *key, bool required, const char *prefix, const char *code, bool hint, const char **ret,
           struct err *err)
{
        const char *id = NULL;
        int r = json_get_string(req, key, required, &id, err);
        if (r <= 0)
                return r;
        if ((r = req_id_check(id, prefix, code, hint, err)) < 0)
                return r;
        *ret = id;
        return 1;
}

int req_ids(json_t *req, const char *key, const char *prefix, const char *code, json_t **ret, struct err *err)
{
        json_t *ids = NULL, *v;
        size_t i;
        int r = json_get_array(req, key, false, &ids, err);
        if (r < 0)
                return r;
        json_array_foreach(ids, i, v) {
                if (!json_is_string(v))
                        return err_set(err, EINVAL, JERR_INVALID, "%s.%zu must be a string", key, i + 1);
                if ((r = req_id_check(json_string_value(v), prefix, code, false, err)) < 0)
                        return r;
        }
        *ret = ids;
        return 0;
}

int req_filters(json_t *filters, const char *const *names, json_t **ret, struct err *err)
{
        json_t *f;
        size_t i;
        if (!filters || json_is_null(filters)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(filters))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter Filters: expected a list");
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

int req_describe_decode(json_t *req, const char *const *keys, const char *ids_key, const char *prefix, const char *code,
                        const char *const *fnames, struct req_describe *ret, struct err *err)
{
        struct req_describe q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = req_ids(req, ids_key, prefix, code, &q.ids, err)) < 0 ||
            (r = req_filters(json_object_get(req, "Filters"), fnames, &q.filters, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int req_cidr(const char *s, struct cidr4 *ret, struct err *err)
{
        if (cidr4_parse(s, ret) < 0)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", s);
        return 0;
}

int req_netns_name(const char *name, const char *member, struct err *err)
{
        size_t n = strlen(name);
        bool ok = n > 0 && n <= 64 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
        for (const char *p = name; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
                     *p == '-';
        if (!ok)
                return err_set(err, EINVAL, JERR_INVALID, "Invalid %s '%s': 1 to 64 characters from [A-Za-z0-9_.-]", member, name);
        if (strncmp(name, "ebx-vpc-", 8) == 0)
                return err_set(err, EPERM, JERR_INVALID, "Invalid %s '%s': names starting with 'ebx-vpc-' belong to netd's VPC routers", member, name);
        return 0;
}

int req_description(json_t *o, const char **ret, struct err *err)
{
        const char *desc = NULL;
        int r = json_get_string(o, "Description", false, &desc, err);
        if (r <= 0)
                return r;
        if (strlen(desc) > 255)
                return err_set(err, EINVAL, JERR_INVALID, "Description is longer than 255 characters");
        *ret = desc;
        return 1;
}

int req_group_ids(json_t *groups, struct err *err)
{
        json_t *g;
        size_t i;
        json_array_foreach(groups, i, g) {
                const char *id = json_string_value(g);
                if (!id || !id_valid("sg", id))
                        return err_set(err, EINVAL, "InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id ? id : "(not a string)");
        }
        if (json_array_size(groups) > 5)
                return err_set(err, EINVAL, "SecurityGroupsPerInterfaceLimitExceeded", "At most 5 security groups per network interface");
        return 0;
}

json_t *req_tags(json_t *req, const char *rtype)
{
        json_t *specs = json_object_get(req, "TagSpecifications"), *s, *tags = json_array();
        size_t i;
        json_array_foreach(specs, i, s) {
                const char *t = jstr(s, "ResourceType");
                /* a spec without a Tags list adds none (json_array_extend refuses what is not a list) */
                if (!t || strcmp(t, rtype) == 0)
                        (void) json_array_extend(tags, json_object_get(s, "Tags"));
        }
        return tags;
}
