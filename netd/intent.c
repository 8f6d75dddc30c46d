/* intent.c: intents: a record committed before the kernel is touched, dropped once the operation is
 * done; at start-up the ones left behind are finished (deletes, detaches) or rolled back (creations). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "egress.h"
#include "eni.h"
#include "intent.h"
#include "lb.h"
#include "netd.h"
#include "record.h"
#include "subnet.h"
#include "tasknet.h"
#include "vpc.h"

int intent_add(struct netd *d, json_t *intent, char ret_key[64], struct err *err)
{
        char key[KEY_MAX];
        snprintf(key, sizeof key, "intent/%016llx", (unsigned long long) ++d->intent_seq);
        int r = store_put(d->store, key, intent, err);
        if (r < 0)
                return r;
        snprintf(ret_key, 64, "%s", key);
        return 0;
}

int intent_done(struct netd *d, const char *key, struct err *err)
{
        return store_del(d->store, key, err);
}

int intent_begin(struct netd *d, const char *key, json_t *record, json_t *intent, char ret_key[64], struct err *err)
{
        int r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = store_put(d->store, key, record, err)) < 0 || (r = intent_add(d, intent, ret_key, err)) < 0 ||
            (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        return 0;
}

int intent_finish(struct netd *d, const char *key, json_t *record, const char *ikey, struct err *err)
{
        int r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        r = record ? store_put(d->store, key, record, err) : store_del(d->store, key, err);
        if (r < 0 || (r = intent_done(d, ikey, err)) < 0 || (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        return 0;
}

/* ---- start-up ---- */

/* The operations whose objects finish or roll back their own intents (the intent is dropped here). */
static const struct {
        const char *op;
        int (*replay)(struct netd *d, json_t *intent, struct err *err);
} replays[] = {
        { "CreateVpc", vpc_intent_replay },
        { "DeleteVpc", vpc_intent_replay },
        { "CreateSubnet", subnet_intent_replay },
        { "DeleteSubnet", subnet_intent_replay },
        { "AttachNetworkInterface", eni_intent_replay },
        { "CreateTaskNetwork", eni_intent_replay },
        { "DetachNetworkInterface", eni_intent_replay },
        { "DeleteTaskNetwork", eni_intent_replay },
        { "EgressApply", egress_intent_replay },
        { "CreateLoadBalancerNetwork", lb_intent_replay },
        { "DeleteLoadBalancerNetwork", lb_intent_replay },
};

static int replay_intent(struct netd *d, const char *ikey, json_t *intent, struct err *err)
{
        const char *op = rec_str(intent, "Op") ?: "";
        size_t i;
        int r = 0;

        for (i = 0; i < ELEMENTSOF(replays); i++)
                if (strcmp(op, replays[i].op) == 0)
                        break;
        if (i < ELEMENTSOF(replays))
                r = replays[i].replay(d, intent, err);
        else if ((r = tasknet_replay_intent(d, ikey, intent, err)) != 0)
                /* a bridge or none task network's: it drops the intent with its records */
                return r < 0 ? r : 0;
        else
                log_warning("msg=\"unknown intent, ignoring\" intent=%s op=%s", ikey, op);
        if (r < 0)
                return r;
        log_notice("msg=\"repaired interrupted operation\" op=%s intent=%s action=%s", op, ikey,
                   strncmp(op, "Delete", 6) == 0 || strncmp(op, "Detach", 6) == 0 ? "finished" : "rolled back");
        return store_del(d->store, ikey, err);
}

static int collect_cb(const char *key, json_t *v, void *ud)
{
        json_array_append_new(ud, json_pack("[s, O]", key, v));
        return 0;
}

int intent_replay_all(struct netd *d, struct err *err)
{
        _cleanup_json_ json_t *intents = json_array();
        json_t *it;
        size_t i;
        int repaired = 0;

        if (store_list(d->store, "intent/", collect_cb, intents, err) < 0)
                return -EIO;
        json_array_foreach(intents, i, it) {
                const char *ikey = json_string_value(json_array_get(it, 0));
                struct err e = { 0 };
                if (replay_intent(d, ikey, json_array_get(it, 1), &e) < 0)
                        log_error("msg=\"cannot repair interrupted operation\" intent=%s err=\"%s\"", ikey, e.msg);
                else
                        repaired++;
        }
        return repaired;
}
