/* exitcode.h: the exit codes of the aws CLI, which ecsbox keeps. */
#pragma once

#define EXIT_USAGE 252          /* bad command line */
#define EXIT_SERVICE 254        /* the service answered with an error */
#define EXIT_OTHER 255          /* the service could not be reached, or anything else */
