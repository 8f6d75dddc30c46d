/* api.c: the secrets services on ecsboxd's endpoint: Secrets Manager (secretsmanager.*, sm.c) and
 * SSM Parameter Store (AmazonSSM.*, ssm.c), picked by the target's prefix. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "secrets.h"
#include "sm.h"

static bool prefixed(const char *target, const char *prefix)
{
        size_t n = strlen(prefix);
        return target && strncmp(target, prefix, n) == 0 && target[n];
}

const char *secrets_signing_name(const char *target)
{
        if (prefixed(target, SM_TARGET_PREFIX))
                return SM_SIGNING_NAME;
        if (prefixed(target, SSM_TARGET_PREFIX))
                return SSM_SIGNING_NAME;
        return NULL;
}

int secrets_dispatch(struct api_ctx *c, const char *target, json_t *req, json_t **ret, struct err *err)
{
        if (prefixed(target, SM_TARGET_PREFIX))
                return sm_dispatch(c, target + strlen(SM_TARGET_PREFIX), req, ret, err);
        if (prefixed(target, SSM_TARGET_PREFIX))
                return ssm_dispatch(c, target + strlen(SSM_TARGET_PREFIX), req, ret, err);
        return err_set(err, EOPNOTSUPP, "UnknownOperationException", "Unknown target '%.200s'", target ? target : "");
}
