/* logs.h: the CloudWatch Logs subset of ecsboxd (X-Amz-Target Logs_20140328.*, signed for "logs")
 * and the awslogs log driver that feeds it from the containers' output (docs/logs.md). */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "ecsbox/err.h"

#define LOGS_TARGET_PREFIX "Logs_20140328."
#define LOGS_SIGNING_NAME "logs"
#define LOGS_MAX_BYTES_DEFAULT (1LL << 30)      /* --logs-max-bytes */
/* A request body may hold a full PutLogEvents batch (1 MiB of messages) with its JSON escaping. */
#define LOGS_BODY_MAX (8 * 1024 * 1024)

struct api_ctx;
struct sched;

/* Now in epoch milliseconds (the Logs API's times). */
long long logs_now_ms(void);

/* Opens STATE_DIR/logs.db (in memory without a state directory) into s->logs. */
int logs_open(struct sched *s, long long max_bytes, struct err *err);
void logs_close(struct sched *s);

/* "logs" when target is a Logs operation (its requests are signed for that service), else NULL. */
const char *logs_signing_name(const char *target);
/* Runs op (without the prefix); errors in err with the Logs __type as code. */
int logs_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);

/* driver.c. Before a task's monitor starts: for each awslogs container of defs (the container
 * definitions; key: the task's record in the state store, where the runtime ids appear), the group (created with awslogs-create-group "true") and stream, and a tail of
 * dir/logs/NAME.log. On a missing group: -ENOENT and ECS's stoppedReason in reason. */
int logs_task_start(struct sched *s, const char *task_id, const char *key, const char *dir, json_t *defs, char *reason, size_t size);
/* The loop's tick: new whole lines of every tailed file become events (read time as timestamp);
 * the tails of tasks no longer active are read to the end and dropped. */
void logs_tick(struct sched *s);
/* The loop's pruning: retention, then the byte cap. */
void logs_prune(struct sched *s);
