/* sign.h: SigV4 for the command line's calls to ecsboxd over TCP, with a key from the shared-credentials
 * file, as the aws CLI finds it (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE, AWS_REGION). */
#pragma once

#include <curl/curl.h>
#include <stddef.h>

#define CLI_CREDENTIALS_DEFAULT "/var/lib/ecsbox/credentials"

/* Appends Host, X-Amz-Date and Authorization for a POST of body to url, signed as service "ecs" (or the
 * service its X-Amz-Target names: secretsmanager, ssm, logs).
 * Returns 0, or -1 with the reason printed (file missing or unreadable, no such profile, bad URL). */
int cli_sign(const char *url, struct curl_slist **headers, const char *body, size_t body_len);
