/* lifecycle.h: the task state machine (PROVISIONING ... STOPPED), its queue, recovery and pruning.
 * The loop (loop.c) drives it; nothing here runs on its own. */
#pragma once

#include <sys/types.h>

#include "ecsbox/err.h"

struct sched;

/* Queue a task to be advanced on the next loop turn (no-op without a loop). key NULL: the active one. */
void task_kick(struct sched *s, const char *id, const char *key);
/* Advance one task as far as it can go now. */
void task_advance(struct sched *s, const char *key);
/* Advance the tasks queued by task_kick (those kicked meanwhile wait in s->todo for the next turn). */
void tasks_advance_queued(struct sched *s);
/* The tick's look at every active task (steady ones now and then). */
void tasks_refresh(struct sched *s);
/* Drops STOPPED tasks (and client tokens) older than the retention time, with their directories. */
void tasks_prune(struct sched *s);
/* Start-up: adopt live monitors, finish or roll back the rest (task_recover.c). */
int tasks_recover(struct sched *s, struct err *err);
/* A monitor we forked exited (SIGCHLD). */
void tasks_child_exited(struct sched *s, pid_t pid);
