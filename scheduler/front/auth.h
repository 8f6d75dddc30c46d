/* auth.h: who may call ecsboxd over HTTP: AWS Signature Version 4 verified against the
 * shared-credentials file, with the error types and HTTP statuses AWS endpoints answer. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "ecsbox/credentials.h"
#include "ecsbox/err.h"
#include "ecsbox/sigv4.h"

#define AUTH_SKEW_SECONDS 300   /* AWS refuses an X-Amz-Date more than 5 minutes away */

struct auth {
        char path[4096];
        struct credentials creds;
        dev_t dev;               /* identity of the file last read: re-read when it changes */
        ino_t ino;
        struct timespec mtime;
        off_t size;
};

/* Creates the credentials file when missing (a fresh [ecsbox] key, 0600) and reads it. */
int auth_open(struct auth *a, const char *path, struct err *err);
void auth_close(struct auth *a);

/* One request as the front saw it. */
struct auth_request {
        const struct sigv4_msg *msg;   /* method, raw path and query, every header, the body */
        const char *service;           /* the signing name the request must carry: "ecs" or "servicediscovery" */
        double now;                    /* seconds since the epoch */
};

struct auth_result {
        char akid[SIGV4_AKID_MAX + 1];
        char profile[CRED_PROFILE_MAX + 1];
        char region[SIGV4_SCOPE_PART_MAX + 1];   /* from the credential scope */
};

/* 0 when the request is signed by a known key; else -EACCES with err->code the AWS error type
 * (MissingAuthenticationTokenException, UnrecognizedClientException, InvalidSignatureException,
 * IncompleteSignatureException), err->msg AWS's text, and *ret_status the HTTP status to answer. */
int auth_verify(struct auth *a, const struct auth_request *r, struct auth_result *ret, int *ret_status,
                struct err *err);

/* Whether s looks like an AWS region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1. */
bool auth_region_valid(const char *s);
