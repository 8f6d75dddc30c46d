/* lb_sel.h: the pure parts of the load-balancer data plane: a target's health state machine (ELB's
 * states and reasons) and which targets the DNAT map holds. No I/O: unit tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum lb_state { LB_S_INITIAL, LB_S_HEALTHY, LB_S_UNHEALTHY, LB_S_DRAINING, LB_S_UNUSED };
enum lb_reason { LB_R_NONE, LB_R_INITIAL, LB_R_TIMEOUT, LB_R_FAILED, LB_R_MISMATCH, LB_R_DEREGISTERING, LB_R_NOT_IN_USE };

/* "initial" ... "unused", and back (-1 when none). */
const char *lb_state_name(int s);
int lb_state_parse(const char *s);
/* "Elb.InitialHealthChecking" ... ; NULL for LB_R_NONE. */
const char *lb_reason_name(int r);
int lb_reason_parse(const char *s);
/* ELB's description of a reason ("Health checks failed"); "" for none. */
const char *lb_reason_text(int r);

struct lb_health {
        int state;                      /* enum lb_state */
        int reason;                     /* enum lb_reason */
        int ok_run, fail_run;           /* consecutive results of the current kind */
};

/* A registered target starts initial (Elb.InitialHealthChecking). */
void lb_health_init(struct lb_health *h);
/* One check result: ok, else why it failed (LB_R_TIMEOUT, LB_R_FAILED, LB_R_MISMATCH). A target goes
 * healthy after `healthy` successes in a row, unhealthy after `unhealthy` failures in a row (the
 * reason: the last failure's), from initial as from the other state. Draining and unused targets do
 * not change. Returns true when state or reason changed. */
bool lb_health_step(struct lb_health *h, bool ok, int why, int healthy, int unhealthy);

/* An HTTP status against an ELB Matcher ("200", "200,202", "200-399"; lb_req.c checked its form). */
bool lb_matcher_match(const char *matcher, long code);

/* The targets to forward to: the healthy ones; when none is healthy every target that is not
 * draining (fail open, as ELB does). Writes their indexes into ret_idx (room for n) in order, returns
 * how many. */
size_t lb_select(const int *states, size_t n, size_t *ret_idx);
