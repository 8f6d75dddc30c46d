/* lb_health.h: target health checks in netd's event loop: per target group in use and target, a
 * non-blocking TCP connect from inside the VPC netns (from the LB's address) every IntervalSeconds,
 * failed after TimeoutSeconds; thresholds and states by lb_sel.c; a state change stored and the VPC's
 * table applied again (lb_apply). HTTP checks: a GET through libcurl's multi interface on the same
 * loop, its socket made the same way, the status against the Matcher. Drained targets forgotten after
 * DeregistrationDelaySeconds. */
#pragma once

#include "ecsbox/err.h"

struct netd;

/* ev: the sd_event loop. */
int lb_health_start(struct netd *d, void *ev, struct err *err);
void lb_health_stop(struct netd *d);
