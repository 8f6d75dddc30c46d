/* image.h: `ecsbox image ...` (image.c). */
#pragma once

#include <stdio.h>

int cli_image(const char *endpoint, int argc, char **argv);
void image_usage(FILE *f);
