/* account.h: ECS account settings ("acctset/PRINCIPAL_ARN/NAME"): PutAccountSetting,
 * PutAccountSettingDefault, DeleteAccountSetting, ListAccountSettings. A principal's own setting
 * wins over the root user's (the account default, what PutAccountSettingDefault sets), which wins
 * over ECS's default. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "ecs.h"

struct api_ctx;
struct sched;

struct account_setting_def {
        const char *name;
        const char *const *values;           /* NULL-terminated */
        const char *dflt;                    /* ECS's default */
        bool default_only;                   /* only PutAccountSettingDefault (the account as a whole) sets it */
        bool read_only;                      /* ECS sets it (guardDutyActivate) */
};
/* Every SettingName of the ECS model, in the model's order; n gets their number. */
const struct account_setting_def *account_setting_defs(size_t *ret_n);
const struct account_setting_def *account_setting_def(const char *name);

enum account_op { ACCOUNT_PUT, ACCOUNT_PUT_DEFAULT, ACCOUNT_DELETE, ACCOUNT_LIST };
struct account_setting_in {
        const struct account_setting_def *def;   /* NULL: no name (ListAccountSettings) */
        const char *value;                   /* NULL when absent */
        const char *principal;               /* principalArn, NULL: the caller (the root user) */
        bool effective;                      /* ListAccountSettings effectiveSettings */
        long long max;                       /* ListAccountSettings maxResults, 1..10 */
        const char *token;
};
/* The request of op checked (names, values, principal ARN shape, paging). Pure. */
int account_setting_decode(json_t *req, enum account_op op, struct account_setting_in *ret, struct err *err);

/* The value a setting has for the account's root user (what new clusters take containerInsights from). */
int account_setting_effective(struct sched *s, const char *name, char *buf, size_t size, struct err *err);

int op_put_account_setting(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_put_account_setting_default(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_account_setting(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_account_settings(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
