/* shorthand.h: the aws CLI shorthand syntax for structures: a=1,b=[x,y],c={d=e}. */
#pragma once

#include <jansson.h>

/* A structure value: JSON (starting with '{' or '['), or the shorthand "a=1,b=[x,y]" as an object
 * (numbers and true/false typed, everything else a string). NULL when it is neither. */
json_t *cli_shorthand(const char *s);
