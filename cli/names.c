/* names.c: aws CLI kebab-case names to EC2 (PascalCase) and ECS (camelCase) API names. */
#include <ctype.h>
#include <stdbool.h>

#include "names.h"

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

void cli_camel(const char *kebab, char *out, size_t len)
{
        cli_pascal(kebab, out, len);
        if (out[0])
                out[0] = (char) tolower((unsigned char) out[0]);
}
