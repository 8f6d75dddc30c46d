/* lifecycle_internal.h: what the task state machine (lifecycle.c) shares with start-up recovery
 * (task_recover.c): one task being advanced, loaded from and saved to the store. Private to
 * these two files. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecs.h"

struct sched;

struct adv {
        struct sched *s;
        char key[NAME_MAX_ECS + 64];
        json_t *rec;
        json_t *stored;          /* the record as last written */
        json_t *shape;           /* its public part without version, to see whether version must rise */
        double now;
};

/* Loads the task at key (-errno when it cannot); adv_done releases it. */
int adv_load(struct adv *a, struct sched *s, const char *key);
void adv_done(struct adv *a);
json_t *adv_ebx(struct adv *a);              /* the record's private member */
const char *adv_tid(struct adv *a);          /* the task id */
/* Writes the record when it changed (version rises with a visible change); logs failures. */
int adv_save(struct adv *a);
/* Stops the task before it ran: TaskFailedToStart with reason. */
void adv_fail_start(struct adv *a, const char *reason);
/* The task's own namespace name, ebx-task-<12 hex>. */
void adv_netns_name(struct adv *a, char buf[32]);
/* Is the task's recorded monitor alive? */
bool adv_monitor_up(struct adv *a);
