/* intent.h: intents: a record committed with an operation's first records, before the kernel is
 * touched, and dropped with its last; start-up finishes or rolls back the ones left behind. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

/* Store intent under a new key "intent/SEQ" (inside the caller's transaction when one is open). */
int intent_add(struct netd *d, json_t *intent, char ret_key[64], struct err *err);
int intent_done(struct netd *d, const char *key, struct err *err);
/* In one transaction: the operation's first record under key and its intent (*ret_key). */
int intent_begin(struct netd *d, const char *key, json_t *record, json_t *intent, char ret_key[64], struct err *err);
/* In one transaction: the record under key in its final state (deleted when record is NULL), the intent dropped. */
int intent_finish(struct netd *d, const char *key, json_t *record, const char *ikey, struct err *err);
/* Start-up: replay every intent left behind, oldest first (each logged). Returns how many were repaired. */
int intent_replay_all(struct netd *d, struct err *err);
