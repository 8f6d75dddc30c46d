/* ps.h: `ecsbox ps [--cluster NAME] [-a|--all]`. */
#pragma once

/* argv: the arguments after "ps". Returns the exit code. */
int cli_ps(const char *endpoint, int argc, char **argv);
