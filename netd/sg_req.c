/* sg_req.c: the requests of the security group operations and ModifyNetworkInterfaceAttribute, decoded and
 * checked. Pure. */
#include <errno.h>
#include <string.h>

#include "ecsbox/json.h"
#include "req.h"
#include "sg_req.h"
#include "sg_rules.h"

#define CODE_SG_MALFORMED "InvalidGroupId.Malformed"

int sg_describe_req_decode(json_t *req, struct sg_describe_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "GroupIds", "GroupNames", "Filters", "DryRun", "MaxResults",
                                            "NextToken", NULL };
        static const char *const fnames[] = { "group-id", "group-name", "vpc-id", "description", "owner-id", NULL };
        struct sg_describe_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = req_ids(req, "GroupIds", "sg", CODE_SG_MALFORMED, &q.ids, err)) < 0 ||
            (r = json_get_array(req, "GroupNames", false, &q.names, err)) < 0 ||
            (r = req_filters(json_object_get(req, "Filters"), fnames, &q.filters, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int sg_create_req_decode(json_t *req, struct sg_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "GroupName", "Description", "GroupDescription", "VpcId",
                                            "TagSpecifications", "DryRun", NULL };
        struct sg_create_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "GroupName", true, &q.name, err)) < 0 ||
            (r = json_get_string(req, "Description", false, &q.desc, err)) < 0 ||
            (!q.desc && (r = json_get_string(req, "GroupDescription", true, &q.desc, err)) < 0) ||
            (r = json_get_string(req, "VpcId", false, &q.vpc_id, err)) < 0)
                return r;
        if (!q.name[0] || strlen(q.name) > 255 || !q.desc[0] || strlen(q.desc) > 255)
                return err_set(err, EINVAL, JERR_INVALID, "GroupName and Description must be 1 to 255 characters");
        if (!strcmp(q.name, "default"))
                return err_set(err, EINVAL, "InvalidGroup.Reserved", "The security group 'default' is reserved");
        if (!strncmp(q.name, "sg-", 3))
                return err_set(err, EINVAL, JERR_INVALID, "Group names may not be in the format sg-*");
        if (q.vpc_id && (r = req_id_check(q.vpc_id, "vpc", "InvalidVpcID.Malformed", false, err)) < 0)
                return r;
        q.tags = req_tags(req, "security-group");
        *ret = q;
        return 0;
}

void sg_create_req_done(struct sg_create_req *q)
{
        json_decref(q->tags);
        q->tags = NULL;
}

/* GroupId (well-formed), or GroupName unless id_only. */
static int ref_decode(json_t *req, bool id_only, struct sg_ref *ret, struct err *err)
{
        struct sg_ref q = { 0 };
        int r;
        if ((r = json_get_string(req, "GroupId", false, &q.group_id, err)) < 0 ||
            (r = json_get_string(req, "GroupName", false, &q.group_name, err)) < 0)
                return r;
        if (q.group_id) {
                if ((r = req_id_check(q.group_id, "sg", CODE_SG_MALFORMED, true, err)) < 0)
                        return r;
                q.group_name = NULL;
        } else if (!q.group_name || id_only)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter GroupId");
        *ret = q;
        return 0;
}

int sg_delete_req_decode(json_t *req, struct sg_ref *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "GroupId", "GroupName", "DryRun", NULL };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0)
                return r;
        return ref_decode(req, false, ret, err);
}

/* IpPermissions, or the flat IpProtocol/FromPort/ToPort/CidrIp form. New reference. */
static int perms_of(json_t *req, json_t **ret, struct err *err)
{
        json_t *perms = json_object_get(req, "IpPermissions"), *p;
        if (perms) {
                if (json_object_get(req, "IpProtocol") || json_object_get(req, "CidrIp"))
                        return err_set(err, EINVAL, JERR_INVALID, "Use either IpPermissions or IpProtocol/FromPort/ToPort/CidrIp, not both");
                *ret = json_incref(perms);
                return 0;
        }
        if (!json_object_get(req, "IpProtocol") && !json_object_get(req, "CidrIp"))
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter IpPermissions");
        /* every protocol from everywhere unless said; json_object_set and "O" take references of their own */
        p = json_object();
        json_object_set_new(p, "IpProtocol", json_incref(json_object_get(req, "IpProtocol")) ?: json_string("-1"));
        if (json_object_get(req, "FromPort"))
                json_object_set(p, "FromPort", json_object_get(req, "FromPort"));
        if (json_object_get(req, "ToPort"))
                json_object_set(p, "ToPort", json_object_get(req, "ToPort"));
        json_object_set_new(p, "IpRanges", json_pack("[{s:o}]", "CidrIp", json_incref(json_object_get(req, "CidrIp")) ?: json_string("0.0.0.0/0")));
        *ret = json_pack("[o]", p);
        return 0;
}

static int rules_decode(json_t *req, bool egress, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *perms = NULL;
        int r;
        if ((r = perms_of(req, &perms, err)) < 0)
                return r;
        return sg_perms_parse(perms, egress, ret, err);
}

int sg_authorize_req_decode(json_t *req, bool egress, struct sg_rules_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "GroupId", "GroupName", "IpPermissions", "IpProtocol", "FromPort",
                                            "ToPort", "CidrIp", "DryRun", "TagSpecifications", NULL };
        struct sg_rules_req q = { .egress = egress };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = ref_decode(req, egress, &q.ref, err)) < 0 ||
            (r = rules_decode(req, egress, &q.rules, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int sg_revoke_req_decode(json_t *req, bool egress, struct sg_rules_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "GroupId", "GroupName", "IpPermissions", "IpProtocol", "FromPort",
                                            "ToPort", "CidrIp", "DryRun", "SecurityGroupRuleIds", NULL };
        struct sg_rules_req q = { .egress = egress };
        json_t *ids = NULL;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = ref_decode(req, egress, &q.ref, err)) < 0 ||
            (r = json_get_array(req, "SecurityGroupRuleIds", false, &ids, err)) < 0)
                return r;
        /* the rule ids when there is no IpPermissions member at all */
        if (ids && !json_object_get(req, "IpPermissions"))
                q.rule_ids = ids;
        else if ((r = rules_decode(req, egress, &q.rules, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

void sg_rules_req_done(struct sg_rules_req *q)
{
        json_decref(q->rules);
        q->rules = NULL;
}

int sg_modify_eni_req_decode(json_t *req, struct sg_modify_eni_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceId", "Groups", "Description", "SourceDestCheck",
                                            "DryRun", NULL };
        struct sg_modify_eni_req q = { 0 };
        json_t *desc = NULL, *sdc = NULL;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "NetworkInterfaceId", true, &q.eni_id, err)) < 0 ||
            (r = json_get_array(req, "Groups", false, &q.groups, err)) < 0 ||
            (r = json_get_object(req, "Description", false, &desc, err)) < 0 ||
            (r = json_get_object(req, "SourceDestCheck", false, &sdc, err)) < 0 ||
            (r = req_id_check(q.eni_id, "eni", "InvalidNetworkInterfaceID.Malformed", true, err)) < 0)
                return r;
        if (!!q.groups + !!desc + !!sdc != 1)
                return err_set(err, EINVAL, JERR_INVALID, "Specify exactly one attribute: Groups, Description or SourceDestCheck");
        if (sdc) {
                if (!json_is_true(json_object_get(sdc, "Value")))
                        return err_set(err, EINVAL, JERR_INVALID, "ecsbox always checks source and destination; SourceDestCheck cannot be turned off");
                q.attr = SG_ENI_SOURCE_DEST_CHECK;
        } else if (desc) {
                q.desc = jstr(desc, "Value");
                if (!q.desc || strlen(q.desc) > 255)
                        return err_set(err, EINVAL, JERR_INVALID, "Description.Value must be a string of at most 255 characters");
                q.attr = SG_ENI_DESCRIPTION;
        } else {
                if (json_array_size(q.groups) == 0)
                        return err_set(err, EINVAL, JERR_MISSING, "The request must contain at least one security group in Groups");
                if ((r = req_group_ids(q.groups, err)) < 0)
                        return r;
                q.attr = SG_ENI_GROUPS;
        }
        *ret = q;
        return 0;
}
