/* task_status.h: the times a task monitor's status.json records, put on the task record (pure). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

/* Copies onto the task record rec the times the monitor recorded in its status document st
 * (docs/monitor.md, status.json), whatever the status it reports:
 *   task      startedAt           <- startedAt (every essential container started)
 *             stoppingAt          <- stoppingAt
 *             executionStoppedAt  <- stoppedAt (every container exited and reaped)
 *   container startedAt, finishedAt <- the same members of the monitor's container of that name
 * Only positive numbers count: the monitor writes null for a time not reached, so a task that
 * never started gets no startedAt. Set once: a member rec already holds is never changed, so a
 * later report cannot move it. The task's own stoppedAt is ecsboxd's (its network released).
 * Returns true when rec changed. */
bool task_status_times(json_t *rec, json_t *st);
