/* util.c: small pure helpers of the command line (tested in tests/unit/cli_util_test.c). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"

/* "create-vpc" -> "CreateVpc"; "vpc-ids" -> "VpcIds"; "netns" -> "Netns". */
void cli_pascal(const char *kebab, char *out, size_t len)
{
        size_t o = 0;
        bool up = true;
        for (const char *p = kebab; *p && o + 1 < len; p++) {
                if (*p == '-') {
                        up = true;
                        continue;
                }
                out[o++] = up ? (char) toupper((unsigned char) *p) : *p;
                up = false;
        }
        out[o] = '\0';
}

/* "Name=subnet-id,Values=a,b" -> {"Name": "subnet-id", "Values": ["a", "b"]} */
int cli_parse_filter(const char *s, json_t **ret)
{
        const char *vals;
        json_t *f, *arr;
        if (strncmp(s, "Name=", 5) != 0 || !(vals = strstr(s, ",Values=")))
                return -EINVAL;
        arr = json_array();
        f = json_pack("{s:s%, s:o}", "Name", s + 5, (size_t) (vals - s - 5), "Values", arr);
        vals += 8;
        while (*vals) {
                const char *c = strchr(vals, ',');
                size_t n = c ? (size_t) (c - vals) : strlen(vals);
                json_array_append_new(arr, json_stringn(vals, n));
                vals += n + (c ? 1 : 0);
        }
        *ret = f;
        return 0;
}

