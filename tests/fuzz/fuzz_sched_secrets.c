/* fuzz_sched_secrets.c: libFuzzer target for the secrets decoders: the input as a container secret's
 * valueFrom, as secret and parameter names, as a paging token, as a JSON secret with a key, as
 * ListSecrets Filters and SSM ParameterFilters (checked, then matched against a fixed record), and as a sealed value (which must never open under a fixed key unless it was sealed with it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scheduler/secrets/seal.h"
#include "../../scheduler/secrets/secrets_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const unsigned char key[SEAL_KEY_BYTES] = { 1 };
        struct secret_ref ref;
        struct err e = { 0 };
        long long off;
        char *text, *v = NULL, buf[256];
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (secret_ref_parse(text, &ref, &e) == 0) {
                if (!ref.id[0] || (!ref.sm && (ref.json_key[0] || ref.stage[0] || ref.version_id[0])))
                        abort();
        }
        (void) sm_name_check(text, &e);
        (void) ssm_name_check(text, &e);
        (void) secrets_token_parse(text, "X", &off, &e);
        (void) ssm_name_from_arn_resource(text, buf, sizeof buf);
        if (secret_json_key(text, "k", &v, &e) == 0)
                free(v);
        v = NULL;
        {
                json_t *filters = json_loads(text, 0, NULL);
                json_t *secret = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "Name", "prod/db", "Description", "d", "Tags", "Key", "k", "Value", "v");
                if (filters && secret && sm_filters_check(filters, &e) == 0)
                        (void) sm_filters_match(filters, secret);
                if (filters && secret && ssm_filters_check(filters, &e) == 0)
                        (void) ssm_filters_match(filters, secret);
                json_decref(filters);
                json_decref(secret);
        }
        if (seal_decrypt(key, "aad", text, &v, &e) == 0) {
                /* only a value without the prefix comes back (as it is) */
                if (strncmp(text, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0 || strcmp(v, text) != 0)
                        abort();
                free(v);
        }
        free(text);
        return 0;
}
