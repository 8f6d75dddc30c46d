/* fuzz_netd_flowlog_fmt.c: libFuzzer target for the flow-log custom format parser (LogFormat of
 * CreateFlowLogs) and the record writer and key decoders behind it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../netd/flowlog_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct fl_format f;
        struct fl_key k;
        uint8_t flags;
        char *s = malloc(size + 1), line[4096];
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (fl_format_parse(s, &f, NULL) == 0) {
                struct fl_ctx c = { .account = "000000000000", .eni = "eni-0123456789abcdef0", .region = "us-east-1" };
                struct fl_rec r = { .k = { 0x0a000104, 0x0a000105, 33410, 80, 6 }, .packets = 6, .bytes = 394,
                                    .start = 1796220000, .end = 1796220060, .tcp_flags = 19 };
                if (f.n == 0 || f.n > FL_FORMAT_MAX)
                        abort();
                int n = fl_record_format(&f, &c, &r, line, sizeof line);
                if (n >= 0 && ((size_t) n != strlen(line) || line[n - 1] != '\n'))
                        abort();
        }
        (void) fl_key5_decode(data, size, &k);
        (void) fl_key3_decode(data, size, &k);
        (void) fl_keyflags_decode(data, size, &k, &flags);
        free(s);
        return 0;
}
