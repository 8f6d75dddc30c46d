/* loop.h: ecsboxd's loop: the 1 s tick and the deferred work (queued tasks, service passes),
 * SIGCHLD and the monitors' notifications. It alone drives tasks, services, instances and pruning. */
#pragma once

#include "ecsbox/err.h"

struct sched;
struct sd_event;

/* Before recovery: the defer source (kicks) and SIGCHLD (SIGCHLD must be blocked already). */
int loop_init(struct sched *s, struct sd_event *ev, struct err *err);
/* After recovery: the notify socket and the tick. */
int loop_start(struct sched *s, struct err *err);
/* Releases the sources and the notify socket (its path is unlinked). */
void loop_done(struct sched *s);
