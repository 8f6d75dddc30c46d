/* fuzz_netd_request.c: libFuzzer target for netd's request decoding: the first byte picks the operation
 * ('A' + k: netd_req_op_names[k] in netd_request_ops.h, every operation of netd's socket API), the rest is
 * the JSON request line. Each input also goes through the Action check of the dispatcher. What a decoder
 * accepts must keep its header's promises (ids well-formed, CIDRs canonical, ports and lengths in range,
 * strings non-NULL); a refusal must carry a code and a message; no decoder may change the request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netd_request_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t jerr;
        json_t *req;
        struct err e = { 0 };
        const char *action = NULL;
        char *before, *after;
        unsigned op;

        if (size < 1)
                return 0;
        op = netd_req_op_of(data[0]);
        /* as netd_handle_line reads a request line */
        req = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (!req)
                return 0;
        if (req_action(req, &action, &e) < 0 && !e.code[0])
                abort();
        if (json_is_object(req)) {
                before = json_dumps(req, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                memset(&e, 0, sizeof e);
                (void) netd_req_decode_checked(op, req, &e);
                after = json_dumps(req, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                if (!before || !after || strcmp(before, after) != 0) {
                        fprintf(stderr, "%s: the decoder changed the request\n", netd_req_op_names[op]);
                        abort();
                }
                free(before);
                free(after);
        }
        json_decref(req);
        return 0;
}
