/* sg.c: security group records: each VPC's default group, lookups and validation of ENI groups. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netd.h"

int sg_create_default(struct netd *d, const char *vpc_id, json_t **ret_sg, struct err *err)
{
        char id[ID_MAX], key[KEY_MAX], arn[160];
        json_t *sg;
        int r;
        if ((r = id_new("sg", id)) < 0)
                return err_set(err, -r, NULL, "default security group: random id: %s", strerror(-r));
        snprintf(arn, sizeof arn, "arn:aws:ec2:%s:%s:security-group/%s", d->region, d->account, id);
        /* As on AWS: ingress from members of itself, all egress. */
        sg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s,"
                       " s:[{s:s, s:[], s:[], s:[], s:[{s:s, s:s}]}],"
                       " s:[{s:s, s:[{s:s}], s:[], s:[], s:[]}], s:[]}",
                       "GroupId", id, "GroupName", "default", "Description", "default VPC security group",
                       "VpcId", vpc_id, "OwnerId", d->account, "SecurityGroupArn", arn,
                       "IpPermissions", "IpProtocol", "-1", "IpRanges", "Ipv6Ranges", "PrefixListIds",
                       "UserIdGroupPairs", "GroupId", id, "UserId", d->account,
                       "IpPermissionsEgress", "IpProtocol", "-1", "IpRanges", "CidrIp", "0.0.0.0/0", "Ipv6Ranges",
                       "PrefixListIds", "UserIdGroupPairs", "Tags");
        if (!sg)
                return err_set(err, ENOMEM, NULL, "out of memory");
        key_fmt(key, "sg", id);
        r = store_put(d->store, key, sg, err);
        if (r < 0) {
                json_decref(sg);
                return r;
        }
        *ret_sg = sg;
        return 0;
}

static json_t *sg_values(json_t *sg, const char *name)
{
        static const struct { const char *filter, *member; } map[] = {
                { "group-id", "GroupId" }, { "group-name", "GroupName" }, { "vpc-id", "VpcId" },
                { "description", "Description" }, { "owner-id", "OwnerId" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(name, map[i].filter) == 0)
                        return json_pack("[O]", json_object_get(sg, map[i].member));
        return json_array();
}

static json_t *sg_shape(struct netd *d, json_t *sg)
{
        return json_deep_copy(sg);
}

int op_describe_security_groups(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "GroupIds", "GroupNames", "Filters", "DryRun", "MaxResults",
                                            "NextToken", NULL };
        static const char *const fnames[] = { "group-id", "group-name", "vpc-id", "description", "owner-id", NULL };
        json_t *ids = NULL, *filters = NULL, *names = NULL, *out = NULL, *v;
        size_t i;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = ids_param(req, "GroupIds", "sg", "InvalidGroupId.Malformed", &ids, err)) < 0 ||
            (r = json_get_array(req, "GroupNames", false, &names, err)) < 0 ||
            (r = filters_parse(req, fnames, &filters, err)) < 0)
                return r;
        r = describe_objects(d, "sg", "GroupId", ids, filters, sg_values, sg_shape, "InvalidGroup.NotFound",
                             "security group", &out, err);
        if (r < 0)
                return r;
        if (names && json_array_size(names) > 0) {
                json_t *kept = json_array();
                json_array_foreach(out, i, v) {
                        json_t *n;
                        size_t j;
                        json_array_foreach(names, j, n)
                                if (json_is_string(n) && strcmp(json_string_value(n), json_string_value(json_object_get(v, "GroupName"))) == 0)
                                        json_array_append(kept, v);
                }
                json_decref(out);
                out = kept;
        }
        *ret = json_pack("{s:o}", "SecurityGroups", out);
        return 0;
}

int sg_validate_groups(struct netd *d, json_t *groups, const char *vpc_id, json_t **ret_ids, struct err *err)
{
        json_t *ids = json_array(), *g;
        size_t i;
        int r;
        json_array_foreach(groups, i, g) {
                char key[KEY_MAX];
                json_t *sg = NULL;
                const char *id = json_string_value(g);
                if (!id || !id_valid("sg", id)) {
                        json_decref(ids);
                        return err_set(err, EINVAL, "InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id ? id : "(not a string)");
                }
                key_fmt(key, "sg", id);
                r = store_get(d->store, key, &sg, err);
                if (r == -ENOENT) {
                        json_decref(ids);
                        return err_set(err, ENOENT, "InvalidGroup.NotFound", "The security group '%s' does not exist", id);
                }
                if (r < 0) {
                        json_decref(ids);
                        return r;
                }
                if (strcmp(json_string_value(json_object_get(sg, "VpcId")) ?: "", vpc_id) != 0) {
                        json_decref(sg);
                        json_decref(ids);
                        return err_set(err, EINVAL, JERR_INVALID, "The security group '%s' belongs to another VPC than the subnet's (%s)", id, vpc_id);
                }
                json_decref(sg);
                json_array_append_new(ids, json_string(id));
        }
        if (json_array_size(groups) > 5) {
                json_decref(ids);
                return err_set(err, EINVAL, "SecurityGroupsPerInterfaceLimitExceeded", "At most 5 security groups per network interface");
        }
        *ret_ids = ids;
        return 0;
}
