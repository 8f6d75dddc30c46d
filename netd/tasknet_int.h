/* tasknet_int.h: what tasknet.c (the task networks) shares with tasknet_repair.c (their start-up). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"
#include "record.h"

struct netd;
struct knet_btask;

/* tasknet/NETNS */
void tasknet_key(char buf[KEY_MAX], const char *netns);
/* bport/INSTANCE/PROTO/PORT */
void tasknet_port_key(char buf[KEY_MAX], const char *inst, int proto, unsigned port);
/* An index record {Netns} under key. */
int tasknet_owner_put(struct netd *d, const char *key, const char *netns, struct err *err);
/* The kernel description of a bridge task record; strings point into the record. */
int tasknet_btask_of(json_t *tn, struct knet_btask *ret, struct err *err);
/* The task network records (of one instance netns, but `exclude`'s; NULL: all): a new array. */
int tasknet_list(struct netd *d, const char *instance, const char *exclude, json_t **ret, struct err *err);
/* Drop the records of a task network (its address and ports too) and the intent ikey, in one transaction. */
int tasknet_forget(struct netd *d, json_t *tn, const char *ikey, struct err *err);
/* ecsbox0 and the NAT table of an instance, made (with every recorded binding but `exclude`'s) when
 * missing, or rebuilt when force. */
int tasknet_instance_ensure(struct netd *d, const char *inst, const char *exclude, bool force, struct err *err);
/* Kernel side of a delete, then the records; idempotent (start-up finishes an interrupted one). */
int tasknet_delete_finish(struct netd *d, json_t *tn, const char *ikey, struct err *err);
