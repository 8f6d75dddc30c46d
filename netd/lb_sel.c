/* lb_sel.c: a target's health state machine and the targets the DNAT map holds. Pure. */
#include <stdlib.h>
#include <string.h>

#include "lb_sel.h"

static const char *const states[] = { "initial", "healthy", "unhealthy", "draining", "unused" };
static const char *const reasons[] = { NULL, "Elb.InitialHealthChecking", "Target.Timeout", "Target.FailedHealthChecks",
                                       "Target.ResponseCodeMismatch", "Target.DeregistrationInProgress", "Target.NotInUse" };
static const char *const texts[] = { "", "Initial health checks in progress", "Request timed out", "Health checks failed",
                                     "Health checks failed with these codes", "Target deregistration is in progress",
                                     "Target group is not configured to receive traffic from the load balancer" };

#define N(a) (sizeof(a) / sizeof *(a))

const char *lb_state_name(int s)
{
        return s >= 0 && (size_t) s < N(states) ? states[s] : "initial";
}

int lb_state_parse(const char *s)
{
        for (size_t i = 0; s && i < N(states); i++)
                if (strcmp(s, states[i]) == 0)
                        return (int) i;
        return -1;
}

const char *lb_reason_name(int r)
{
        return r > 0 && (size_t) r < N(reasons) ? reasons[r] : NULL;
}

int lb_reason_parse(const char *s)
{
        for (size_t i = 1; s && i < N(reasons); i++)
                if (strcmp(s, reasons[i]) == 0)
                        return (int) i;
        return s ? -1 : LB_R_NONE;
}

const char *lb_reason_text(int r)
{
        return r > 0 && (size_t) r < N(texts) ? texts[r] : "";
}

void lb_health_init(struct lb_health *h)
{
        *h = (struct lb_health) { LB_S_INITIAL, LB_R_INITIAL, 0, 0 };
}

bool lb_health_step(struct lb_health *h, bool ok, int why, int healthy, int unhealthy)
{
        int state = h->state, reason = h->reason;
        if (h->state == LB_S_DRAINING || h->state == LB_S_UNUSED)
                return false;
        if (ok) {
                h->ok_run++;
                h->fail_run = 0;
                if (h->state != LB_S_HEALTHY && h->ok_run >= healthy) {
                        h->state = LB_S_HEALTHY;
                        h->reason = LB_R_NONE;
                }
        } else {
                h->fail_run++;
                h->ok_run = 0;
                if (h->fail_run >= unhealthy) {
                        h->state = LB_S_UNHEALTHY;
                        h->reason = why == LB_R_TIMEOUT || why == LB_R_MISMATCH ? why : LB_R_FAILED;
                }
        }
        return h->state != state || h->reason != reason;
}

size_t lb_select(const int *st, size_t n, size_t *ret_idx)
{
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (st[i] == LB_S_HEALTHY)
                        ret_idx[k++] = i;
        if (k > 0)
                return k;
        for (size_t i = 0; i < n; i++)
                if (st[i] != LB_S_DRAINING)
                        ret_idx[k++] = i;
        return k;
}

bool lb_matcher_match(const char *m, long code)
{
        const char *p = m;
        while (p && *p) {
                char *end;
                long lo = strtol(p, &end, 10), hi = lo;
                if (end == p)
                        return false;
                p = end;
                if (*p == '-') {
                        hi = strtol(p + 1, &end, 10);
                        p = end;
                }
                if (code >= lo && code <= hi)
                        return true;
                if (*p != ',')
                        return false;
                p++;
        }
        return false;
}
