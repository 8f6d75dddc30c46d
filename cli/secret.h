/* secret.h: `ecsbox secret put|get|ls|rm` (secret.c). */
#pragma once

#include <stdio.h>

int cli_secret(const char *endpoint, int argc, char **argv);
void secret_usage(FILE *f);
