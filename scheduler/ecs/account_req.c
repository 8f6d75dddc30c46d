/* account_req.c: the ECS account setting names, their values and defaults, and the requests of
 * the account setting operations, checked (pure). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "account.h"

static const char *const on_off[] = { "enabled", "disabled", NULL };
static const char *const insights[] = { "enabled", "disabled", "enhanced", NULL };
static const char *const tag_auth[] = { "on", "off", NULL };
static const char *const wait_days[] = { "0", "7", "14", NULL };
static const char *const log_mode[] = { "blocking", "non-blocking", NULL };

/* ECS's defaults today: the long ARN formats are on for every account (ecsbox only makes long
 * ARNs), tag authorization is on, the default log driver mode is non-blocking (since June 2025). */
static const struct account_setting_def defs[] = {
        { "serviceLongArnFormat", on_off, "enabled", false, false },
        { "taskLongArnFormat", on_off, "enabled", false, false },
        { "containerInstanceLongArnFormat", on_off, "enabled", false, false },
        { "awsvpcTrunking", on_off, "disabled", false, false },
        { "containerInsights", insights, "disabled", false, false },
        { "fargateFIPSMode", on_off, "disabled", true, false },
        { "tagResourceAuthorization", tag_auth, "on", false, false },
        { "fargateTaskRetirementWaitPeriod", wait_days, "7", true, false },
        { "guardDutyActivate", on_off, "disabled", false, true },
        { "defaultLogDriverMode", log_mode, "non-blocking", false, false },
        { "fargateEventWindows", on_off, "disabled", false, false },
};

const struct account_setting_def *account_setting_defs(size_t *ret_n)
{
        *ret_n = sizeof defs / sizeof defs[0];
        return defs;
}

const struct account_setting_def *account_setting_def(const char *name)
{
        for (size_t i = 0; name && i < sizeof defs / sizeof defs[0]; i++)
                if (strcmp(defs[i].name, name) == 0)
                        return &defs[i];
        return NULL;
}

static int name_error(const char *name, struct err *err)
{
        char list[400] = "";
        size_t n = 0;
        for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
                n += (size_t) snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", i ? "," : "", defs[i].name);
        return err_set(err, EINVAL, E_PARAM, "Invalid setting name '%.64s': should be one of [%s]", name, list);
}

static int value_check(const struct account_setting_def *d, const char *v, struct err *err)
{
        char list[100] = "";
        size_t n = 0;
        for (size_t i = 0; d->values[i]; i++) {
                if (strcmp(d->values[i], v) == 0)
                        return 0;
                n += (size_t) snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", i ? ", " : "", d->values[i]);
        }
        return err_set(err, EINVAL, E_PARAM, "Invalid value '%.64s' for the %s setting: expected one of %s.", v, d->name, list);
}

/* arn:aws:iam::ACCOUNT:root, :user/NAME or :role/NAME (paths allowed). */
static bool principal_valid(const char *p)
{
        const char *rest;
        if (strncmp(p, "arn:aws:iam::", 13) != 0)
                return false;
        rest = p + 13;
        for (int i = 0; i < 12; i++)
                if (rest[i] < '0' || rest[i] > '9')
                        return false;
        rest += 12;
        if (*rest++ != ':')
                return false;
        if (strcmp(rest, "root") == 0)
                return true;
        if ((strncmp(rest, "user/", 5) == 0 && rest[5]) || (strncmp(rest, "role/", 5) == 0 && rest[5]))
                return strlen(p) < 1600 && !strchr(rest, ' ');
        return false;
}

int account_setting_decode(json_t *req, enum account_op op, struct account_setting_in *ret, struct err *err)
{
        static const char *const put_keys[] = { "name", "value", "principalArn", NULL };
        static const char *const default_keys[] = { "name", "value", NULL };
        static const char *const delete_keys[] = { "name", "principalArn", NULL };
        static const char *const list_keys[] = { "name", "value", "principalArn", "effectiveSettings", "nextToken", "maxResults", NULL };
        static const char *const *const keys[] = { put_keys, default_keys, delete_keys, list_keys };
        struct account_setting_in in = { .max = 10 };
        const char *name = NULL;
        int r;
        if ((r = req_check_keys(req, keys[op], err)) < 0 ||
            (r = req_str(req, NULL, "name", op != ACCOUNT_LIST, &name, err)) < 0 ||
            (op != ACCOUNT_DELETE && (r = req_str(req, NULL, "value", op != ACCOUNT_LIST, &in.value, err)) < 0) ||
            (op != ACCOUNT_PUT_DEFAULT && (r = req_str(req, NULL, "principalArn", false, &in.principal, err)) < 0))
                return r;
        if (op == ACCOUNT_LIST &&
            ((r = req_bool(req, NULL, "effectiveSettings", false, &in.effective, err)) < 0 ||
             (r = req_int(req, NULL, "maxResults", false, 1, 10, &in.max, err)) < 0 ||
             (r = req_str(req, NULL, "nextToken", false, &in.token, err)) < 0))
                return r;
        if (name && !(in.def = account_setting_def(name)))
                return name_error(name, err);
        if (in.principal && !principal_valid(in.principal))
                return err_set(err, EINVAL, E_PARAM,
                               "Invalid principalArn '%.200s': expected the ARN of an IAM user, an IAM role or the root user.",
                               in.principal);
        if (op == ACCOUNT_LIST) {
                if (in.value && !in.def)
                        return err_set(err, EINVAL, E_PARAM, "The value filter needs a setting name: specify name as well.");
        } else if (in.value && (r = value_check(in.def, in.value, err)) < 0)
                return r;
        if (op != ACCOUNT_LIST && in.def->read_only)
                return err_set(err, EINVAL, E_PARAM, "The %s setting is read only: Amazon ECS sets it.", in.def->name);
        if ((op == ACCOUNT_PUT || op == ACCOUNT_DELETE) && in.def->default_only)
                return err_set(err, EINVAL, E_PARAM, "The %s setting can only be changed with PutAccountSettingDefault.", in.def->name);
        *ret = in;
        return 0;
}
