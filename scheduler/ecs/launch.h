/* launch.h: task monitors: spawn, liveness, status, stop. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ecsbox/err.h"

struct sched;

/* Writes dir/spec.json and forks+execs the monitor; *ret_pid on success. */
int launch_monitor(struct sched *s, json_t *spec, const char *dir, pid_t *ret_pid, struct err *err);
/* Is pid a live ecsbox-monitor for this spec path (not a zombie, not a reused pid)? */
bool monitor_alive(pid_t pid, const char *spec_path);
/* The last non-empty line of a file ("see PATH" when there is none), for error messages. */
void last_line(const char *path, char *buf, size_t size);
/* dir/status.json or NULL. */
json_t *monitor_status(const char *dir);
/* Writes dir/stop-request.json then SIGTERMs the monitor. */
int monitor_stop(pid_t pid, const char *dir, const char *stop_code, const char *reason, struct err *err);
