/* placement.c: ECS placement over a snapshot: resources, constraints, then strategies as tie-breakers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

int place_strategy_parse(const char *type, const char *field, struct place_strategy *ret, struct err *err)
{
        if (!type)
                return err_set(err, EINVAL, "InvalidParameterException", "placementStrategy.type must be random, spread or binpack");
        if (strcmp(type, "random") == 0) {
                if (field && *field)
                        return err_set(err, EINVAL, "InvalidParameterException", "The random placement strategy takes no field (got '%s').", field);
                *ret = (struct place_strategy) { PLACE_RANDOM, NULL };
                return 0;
        }
        if (strcmp(type, "binpack") == 0) {
                if (!field || (strcasecmp(field, "cpu") != 0 && strcasecmp(field, "memory") != 0))
                        return err_set(err, EINVAL, "InvalidParameterException", "The binpack placement strategy takes the field cpu or memory (got '%s').", field ? field : "");
                *ret = (struct place_strategy) { PLACE_BINPACK, field };
                return 0;
        }
        if (strcmp(type, "spread") == 0) {
                if (!field || !*field || (strcmp(field, "instanceId") != 0 && strcmp(field, "host") != 0 &&
                                          !(strncmp(field, "attribute:", 10) == 0 && field[10])))
                        return err_set(err, EINVAL, "InvalidParameterException", "The spread placement strategy takes the field instanceId, host or attribute:NAME (got '%s').", field ? field : "");
                *ret = (struct place_strategy) { PLACE_SPREAD, field };
                return 0;
        }
        return err_set(err, EINVAL, "InvalidParameterException", "Unknown placement strategy type '%s': expected random, spread or binpack.", type);
}

static const char *attr_value(const struct place_instance *in, const char *name)
{
        for (size_t i = 0; i < in->nattrs; i++)
                if (strcmp(in->attrs[i].name, name) == 0)
                        return in->attrs[i].value;
        return NULL;
}

struct vctx {
        struct place_instance *in;
        const char *one[2];
};

static const char *const *inst_values(void *ctx, const char *subject)
{
        struct vctx *c = ctx;
        c->one[1] = NULL;
        if (strncmp(subject, "attribute:", 10) == 0)
                c->one[0] = attr_value(c->in, subject + 10);
        else if (strcmp(subject, "ec2InstanceId") == 0 || strcmp(subject, "instanceId") == 0)
                c->one[0] = c->in->ec2_id;
        else if (strcmp(subject, "runningTasksCount") == 0) {
                snprintf(c->in->running_s, sizeof c->in->running_s, "%d", c->in->running);
                c->one[0] = c->in->running_s;
        } else if (strcmp(subject, "registeredAt") == 0)
                c->one[0] = c->in->registered_at;
        else if (strcmp(subject, "task:group") == 0)
                return c->in->groups;
        else
                c->one[0] = NULL;
        return c->one[0] ? c->one : NULL;
}

/* Why this instance cannot take the task now, or NULL when it can.
 * static_ok: -1 unknown, 0/1 the cached result of the static memberOf part. */
static const char *reject_reason(struct place_instance *in, const struct place_request *req, signed char *static_ok)
{
        struct vctx c = { in, { NULL, NULL } };
        if (!in->active)
                return "INACTIVE";
        if (in->cpu < req->cpu)
                return "RESOURCE:CPU";
        if (in->mem < req->mem)
                return "RESOURCE:MEMORY";
        for (size_t p = 0; p < req->ntcp; p++)
                if (place_port_taken(in->ports_tcp, req->tcp_ports[p]))
                        return "RESOURCE:PORTS";
        for (size_t p = 0; p < req->nudp; p++)
                if (place_port_taken(in->ports_udp, req->udp_ports[p]))
                        return "RESOURCE:PORTS_UDP";
        if (req->needs_eni && in->enis < 1)
                return "RESOURCE:ENI";
        if (req->distinct_instance && in->group_count > 0)
                return "DistinctInstance placement constraint unsatisfied";
        if (*static_ok < 0) {
                *static_ok = 1;
                for (size_t k = 0; k < req->nmember_of; k++)
                        if (cql_is_static(req->member_of[k]) && !cql_eval(req->member_of[k], inst_values, &c))
                                *static_ok = 0;
        }
        if (*static_ok == 0)
                return "MemberOf placement constraint unsatisfied";
        for (size_t k = 0; k < req->nmember_of; k++)
                if (!cql_is_static(req->member_of[k]) && !cql_eval(req->member_of[k], inst_values, &c))
                        return "MemberOf placement constraint unsatisfied";
        return NULL;
}

/* Spread: intern each instance's value of the field; counts per value. */
struct spread {
        int *value_of;      /* per instance: value index, or -1 (no value: own bucket "") */
        int *counts;        /* per value */
        int nvalues;
};

static int spread_init(struct spread *s, struct place_instance *insts, size_t n, const char *field)
{
        const char **vals = calloc(n + 1, sizeof *vals);
        bool by_instance = strcmp(field, "instanceId") == 0 || strcmp(field, "host") == 0;
        s->value_of = calloc(n, sizeof *s->value_of);
        s->counts = calloc(n + 1, sizeof *s->counts);
        s->nvalues = 0;
        if (!vals || !s->value_of || !s->counts) {
                free(vals);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const char *v = by_instance ? NULL : attr_value(&insts[i], field + 10);
                int idx = -1;
                if (by_instance)
                        idx = s->nvalues++;
                else {
                        if (!v)
                                v = "";
                        /* small number of distinct values in practice (zones, types): linear intern */
                        for (int j = 0; j < s->nvalues; j++)
                                if (strcmp(vals[j], v) == 0) {
                                        idx = j;
                                        break;
                                }
                        if (idx < 0) {
                                idx = s->nvalues++;
                                vals[idx] = v;
                        }
                }
                s->value_of[i] = idx;
                /* tasks of the group already there count, on active and inactive instances alike */
                s->counts[idx] += insts[i].group_count;
        }
        free(vals);
        return 0;
}

static uint64_t next_rand(uint64_t *s)
{
        /* xorshift64*: deterministic for a given seed, so placement is testable */
        uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * 0x2545f4914f6cdd1dull;
}

/* Strategies in order, each keeps only its best candidates; returns how many are left. */
static size_t apply_strategies(const struct place_instance *insts, const struct place_request *req, const struct spread *sp,
                               size_t *cand, size_t nc, uint64_t *rnd)
{
        for (size_t s = 0; s < req->nstrategies && nc > 1; s++) {
                const struct place_strategy *st = &req->strategies[s];
                size_t keep = 0;
                int best = -1;
                if (st->type == PLACE_RANDOM) {
                        cand[0] = cand[next_rand(rnd) % nc];
                        return 1;
                }
                if (st->type == PLACE_SPREAD) {
                        for (size_t c = 0; c < nc; c++) {
                                int v = sp[s].counts[sp[s].value_of[cand[c]]];
                                if (best < 0 || v < best)
                                        best = v;
                        }
                        for (size_t c = 0; c < nc; c++)
                                if (sp[s].counts[sp[s].value_of[cand[c]]] == best)
                                        cand[keep++] = cand[c];
                } else {
                        bool cpu = strcasecmp(st->field, "cpu") == 0;
                        for (size_t c = 0; c < nc; c++) {
                                int v = cpu ? insts[cand[c]].cpu : insts[cand[c]].mem;
                                if (best < 0 || v < best)
                                        best = v;
                        }
                        for (size_t c = 0; c < nc; c++)
                                if ((cpu ? insts[cand[c]].cpu : insts[cand[c]].mem) == best)
                                        cand[keep++] = cand[c];
                }
                nc = keep;
        }
        return nc;
}

/* One copy goes on insts[pick]: the snapshot takes its resources, ports and counts. */
static void take_place(struct place_instance *insts, size_t pick, const struct place_request *req, struct spread *sp)
{
        struct place_instance *in = &insts[pick];
        in->cpu -= req->cpu;
        in->mem -= req->mem;
        if (req->needs_eni)
                in->enis--;
        for (size_t p = 0; p < req->ntcp; p++)
                place_port_take(in->ports_tcp, req->tcp_ports[p]);
        for (size_t p = 0; p < req->nudp; p++)
                place_port_take(in->ports_udp, req->udp_ports[p]);
        in->group_count++;
        in->running++;
        for (size_t s = 0; s < req->nstrategies; s++)
                if (req->strategies[s].type == PLACE_SPREAD)
                        sp[s].counts[sp[s].value_of[pick]]++;
}

int place_tasks(struct place_instance *insts, size_t n, const struct place_request *req, int count, int *ret_idx,
                const char **ret_reasons, struct err *err)
{
        struct spread *sp = calloc(req->nstrategies + 1, sizeof *sp);
        size_t *cand = malloc((n + 1) * sizeof *cand);
        signed char *static_ok = malloc(n + 1);
        uint64_t rnd = req->seed;
        int placed = 0, r = 0;

        if (!sp || !cand || !static_ok) {
                r = err_set(err, ENOMEM, NULL, "placement: out of memory");
                goto out;
        }
        memset(static_ok, -1, n + 1);
        for (size_t s = 0; s < req->nstrategies; s++)
                if (req->strategies[s].type == PLACE_SPREAD && (r = spread_init(&sp[s], insts, n, req->strategies[s].field)) < 0) {
                        err_set(err, ENOMEM, NULL, "placement: out of memory");
                        goto out;
                }
        for (int k = 0; k < count; k++) {
                size_t nc = 0, pick;
                for (size_t i = 0; i < n; i++) {
                        const char *why = reject_reason(&insts[i], req, &static_ok[i]);
                        if (!why)
                                cand[nc++] = i;
                        else if (ret_reasons)
                                ret_reasons[i] = why;
                }
                if (nc == 0) {
                        for (int j = k; j < count; j++)
                                ret_idx[j] = -1;
                        break;
                }
                nc = apply_strategies(insts, req, sp, cand, nc, &rnd);
                /* With no strategy left to decide, ECS picks at random among the rest. */
                pick = nc > 1 && req->nstrategies == 0 ? cand[next_rand(&rnd) % nc] : cand[0];
                take_place(insts, pick, req, sp);
                ret_idx[k] = (int) pick;
                placed++;
        }
        r = placed;
out:
        if (sp)
                for (size_t s = 0; s < req->nstrategies; s++) {
                        free(sp[s].value_of);
                        free(sp[s].counts);
                }
        free(sp);
        free(cand);
        free(static_ok);
        return r;
}
