/* arn.c: ECS ARNs (long format), names, ids and task definition references. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sched.h"
#include "arn.h"

bool name_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > NAME_MAX_ECS)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      *s == '-'))
                        return false;
        return true;
}

bool hex32_valid(const char *s)
{
        if (!s || strlen(s) != 32)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

const char *arn_last(const char *s)
{
        const char *slash;
        if (!s)
                return NULL;
        if (strncmp(s, "arn:", 4) != 0)
                return s;
        slash = strrchr(s, '/');
        return slash ? slash + 1 : s;
}

static void arn_fmt(const struct api_ctx *c, char buf[ARN_MAX], const char *res)
{
        snprintf(buf, ARN_MAX, "arn:aws:ecs:%s:%s:%s", c->region, c->s->account, res);
}

void arn_cluster(const struct api_ctx *c, const char *name, char buf[ARN_MAX])
{
        char r[ARN_MAX];
        snprintf(r, sizeof r, "cluster/%s", name);
        arn_fmt(c, buf, r);
}

void arn_taskdef(const struct api_ctx *c, const char *family, long rev, char buf[ARN_MAX])
{
        char r[ARN_MAX];
        snprintf(r, sizeof r, "task-definition/%s:%ld", family, rev);
        arn_fmt(c, buf, r);
}

void arn_task(const struct api_ctx *c, const char *cluster, const char *id, char buf[ARN_MAX])
{
        char r[ARN_MAX];
        snprintf(r, sizeof r, "task/%s/%s", cluster, id);
        arn_fmt(c, buf, r);
}

void arn_instance(const struct api_ctx *c, const char *cluster, const char *id, char buf[ARN_MAX])
{
        char r[ARN_MAX];
        snprintf(r, sizeof r, "container-instance/%s/%s", cluster, id);
        arn_fmt(c, buf, r);
}

void arn_container(const struct api_ctx *c, const char *cluster, const char *task, const char *uuid, char buf[ARN_MAX])
{
        char r[ARN_MAX];
        snprintf(r, sizeof r, "container/%s/%s/%s", cluster, task, uuid);
        arn_fmt(c, buf, r);
}

void arn_attachment(const struct api_ctx *c, const char *uuid, char buf[ARN_MAX])
{
        char r[ARN_MAX];
        snprintf(r, sizeof r, "attachment/%s", uuid);
        arn_fmt(c, buf, r);
}

void arn_service(const struct api_ctx *c, const char *cluster, const char *name, char buf[ARN_MAX])
{
        char res[NAME_MAX_ECS * 2 + 16];
        snprintf(res, sizeof res, "service/%s/%s", cluster, name);
        arn_fmt(c, buf, res);
}

void private_dns_name(const char *region, const char *ip, char *buf, size_t size)
{
        char dashed[64];
        snprintf(dashed, sizeof dashed, "%s", ip ? ip : "");
        for (char *p = dashed; *p; p++)
                if (*p == '.')
                        *p = '-';
        if (strcmp(region, "us-east-1") == 0)
                snprintf(buf, size, "ip-%s.ec2.internal", dashed);
        else
                snprintf(buf, size, "ip-%s.%s.compute.internal", dashed, region);
}

int taskdef_ref_parse(const char *ref, char family[NAME_MAX_ECS + 1], long *ret_rev, struct err *err)
{
        const char *s = ref, *colon;
        size_t flen;
        long rev = 0;
        if (!ref || !*ref)
                return err_set(err, EINVAL, E_CLIENT, "Task definition should not be null or empty.");
        if (strncmp(ref, "arn:", 4) == 0) {
                const char *p = strstr(ref, ":task-definition/");
                if (!p)
                        return err_set(err, EINVAL, E_CLIENT, "Invalid task definition ARN '%s'", ref);
                s = p + strlen(":task-definition/");
        }
        colon = strchr(s, ':');
        flen = colon ? (size_t) (colon - s) : strlen(s);
        if (flen < 1 || flen > NAME_MAX_ECS)
                return err_set(err, EINVAL, E_CLIENT, "Invalid task definition '%s': the family must be 1 to 255 characters", ref);
        memcpy(family, s, flen);
        family[flen] = '\0';
        if (!name_valid(family))
                return err_set(err, EINVAL, E_CLIENT,
                               "Invalid task definition '%s': the family may contain only letters, numbers, hyphens and underscores",
                               ref);
        if (colon) {
                char *end;
                errno = 0;
                rev = strtol(colon + 1, &end, 10);
                if (errno || *end || rev < 1 || colon[1] == '\0' || colon[1] == '+' || colon[1] == '-')
                        return err_set(err, EINVAL, E_CLIENT, "Invalid revision number. Number: %s", colon + 1);
        } else if (strncmp(ref, "arn:", 4) == 0)
                return err_set(err, EINVAL, E_CLIENT, "Invalid task definition ARN '%s': it must end in family:revision", ref);
        *ret_rev = rev;
        return 0;
}

void failure_missing(json_t *failures, const char *ref, const char *built_arn)
{
        json_array_append_new(failures, json_pack("{s:s, s:s}", "arn", strncmp(ref, "arn:", 4) == 0 ? ref : built_arn, "reason",
                                                  "MISSING"));
}

/* Splits "a/b" (two = true) or "a" into name-valid parts. */
static bool arn_path_split(const char *s, bool two, char first[NAME_MAX_ECS + 1], char second[NAME_MAX_ECS + 1])
{
        const char *slash = strchr(s, '/');
        size_t n;
        if (!two) {
                if (slash || !name_valid(s))
                        return false;
                snprintf(first, NAME_MAX_ECS + 1, "%s", s);
                return true;
        }
        if (!slash || strchr(slash + 1, '/'))
                return false;
        n = (size_t) (slash - s);
        if (n < 1 || n > NAME_MAX_ECS)
                return false;
        memcpy(first, s, n);
        first[n] = '\0';
        snprintf(second, NAME_MAX_ECS + 1, "%s", slash + 1);
        return name_valid(first) && name_valid(second);
}

int arn_resource_parse(const char *arn, struct arn_resource *ret, struct err *err)
{
        struct arn_resource r = { 0 };
        char a[NAME_MAX_ECS + 1], b[NAME_MAX_ECS + 1];
        const char *p, *region, *acct, *res;
        size_t n;
        if (!arn || strncmp(arn, "arn:aws:ecs:", 12) != 0 || strlen(arn) >= ARN_MAX)
                goto invalid;
        region = arn + 12;
        if (!(p = strchr(region, ':')) || (n = (size_t) (p - region)) < 1 || n >= sizeof r.region)
                goto invalid;
        memcpy(r.region, region, n);
        acct = p + 1;
        if (!(p = strchr(acct, ':')) || (n = (size_t) (p - acct)) != 12)
                goto invalid;
        memcpy(r.account, acct, n);
        for (size_t i = 0; i < 12; i++)
                if (r.account[i] < '0' || r.account[i] > '9')
                        goto invalid;
        res = p + 1;
        if (strncmp(res, "cluster/", 8) == 0 && arn_path_split(res + 8, false, a, NULL)) {
                r.kind = ARN_KIND_CLUSTER;
                snprintf(r.cluster, sizeof r.cluster, "%s", a);
                snprintf(r.key, sizeof r.key, "cluster/%s", a);
        } else if (strncmp(res, "service/", 8) == 0 && arn_path_split(res + 8, true, a, b)) {
                r.kind = ARN_KIND_SERVICE;
                snprintf(r.cluster, sizeof r.cluster, "%s", a);
                snprintf(r.key, sizeof r.key, "service/%s/%s", a, b);
        } else if (strncmp(res, "task/", 5) == 0 && arn_path_split(res + 5, true, a, b) && hex32_valid(b)) {
                r.kind = ARN_KIND_TASK;
                snprintf(r.cluster, sizeof r.cluster, "%s", a);
                snprintf(r.key, sizeof r.key, "task/%s/%s", a, b);
        } else if (strncmp(res, "container-instance/", 19) == 0 && arn_path_split(res + 19, true, a, b) && hex32_valid(b)) {
                r.kind = ARN_KIND_INSTANCE;
                snprintf(r.cluster, sizeof r.cluster, "%s", a);
                snprintf(r.key, sizeof r.key, "instance/%s/%s", a, b);
        } else if (strncmp(res, "task-definition/", 16) == 0) {
                struct err e = { 0 };
                long rev = 0;
                if (taskdef_ref_parse(arn, a, &rev, &e) < 0 || rev < 1)
                        goto invalid;
                r.kind = ARN_KIND_TASKDEF;
                snprintf(r.key, sizeof r.key, "taskdef/%s/%08ld", a, rev);
        } else
                goto invalid;
        *ret = r;
        return 0;
invalid:
        return err_set(err, EINVAL, E_PARAM, "The ARN provided is invalid.");
}
