/* fuzz_cli_shorthand.c: libFuzzer target for the aws shorthand parser of the command line
 * (a=1,b=[x,y],c={d=e}): whatever it accepts is a JSON value that dumps. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/shorthand.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        json_t *v = cli_shorthand(s);
        if (v) {
                char *out = json_dumps(v, JSON_ENCODE_ANY);
                if (!out)
                        abort();
                free(out);
                json_decref(v);
        }
        free(s);
        return 0;
}
