/* flowlog_acc.c: per (flow log, ENI) accumulator: an open-addressing table of flows and their counts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flowlog_acc.h"

void fl_acc_fini(struct fl_acc *a)
{
        free(a->v);
        memset(a, 0, sizeof *a);
}

static uint64_t flow_hash(const struct fl_key *k, bool egress, bool reject)
{
        uint64_t h = (uint64_t) k->saddr << 32 | k->daddr;
        h ^= ((uint64_t) k->sport << 32 | (uint64_t) k->dport << 16 | (uint64_t) k->proto << 8 | (uint64_t) egress << 1 |
              (uint64_t) reject) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        return h;
}

static bool same(const struct fl_flow *f, const struct fl_key *k, bool egress, bool reject)
{
        return f->k.saddr == k->saddr && f->k.daddr == k->daddr && f->k.sport == k->sport && f->k.dport == k->dport &&
               f->k.proto == k->proto && f->egress == egress && f->reject == reject;
}

static struct fl_flow *slot(const struct fl_acc *a, const struct fl_key *k, bool egress, bool reject)
{
        size_t i = (size_t) flow_hash(k, egress, reject) & (a->cap - 1);
        while (a->v[i].used && !same(&a->v[i], k, egress, reject))
                i = (i + 1) & (a->cap - 1);
        return &a->v[i];
}

static int grow(struct fl_acc *a)
{
        size_t ncap = a->cap ? a->cap * 2 : 256;
        struct fl_acc b = { calloc(ncap, sizeof(struct fl_flow)), 0, ncap, a->skip };
        if (!b.v)
                return -ENOMEM;
        for (size_t i = 0; i < a->cap; i++)
                if (a->v[i].used) {
                        *slot(&b, &a->v[i].k, a->v[i].egress, a->v[i].reject) = a->v[i];
                        b.n++;
                }
        free(a->v);
        *a = b;
        return 0;
}

static struct fl_flow *get(struct fl_acc *a, const struct fl_key *k, bool egress, bool reject)
{
        struct fl_flow *f;
        if ((a->n + 1) * 2 > a->cap && grow(a) < 0)
                return NULL;
        f = slot(a, k, egress, reject);
        if (!f->used) {
                memset(f, 0, sizeof *f);
                f->k = *k;
                f->egress = egress;
                f->reject = reject;
                f->used = true;
                a->n++;
        }
        return f;
}

int fl_acc_add(struct fl_acc *a, const struct fl_key *k, bool egress, bool reject, uint64_t packets, uint64_t bytes)
{
        struct fl_flow *f = get(a, k, egress, reject);
        if (!f)
                return -ENOMEM;
        f->packets += packets;
        f->bytes += bytes;
        return 0;
}

void fl_acc_flags(struct fl_acc *a, const struct fl_key *k, bool egress, uint8_t raw)
{
        for (int rej = 0; rej < 2 && a->cap; rej++) {
                struct fl_flow *f = slot(a, k, egress, rej);
                if (f->used) {
                        f->flags = fl_tcp_fold(f->flags, raw);
                        f->has_flags = true;
                }
        }
}

int fl_acc_add_flow(struct fl_acc *a, const struct fl_flow *s)
{
        struct fl_flow *f = get(a, &s->k, s->egress, s->reject);
        if (!f)
                return -ENOMEM;
        f->packets += s->packets;
        f->bytes += s->bytes;
        f->flags |= s->flags;
        f->has_flags |= s->has_flags;
        return 0;
}

int fl_acc_merge(struct fl_acc *dst, const struct fl_acc *src)
{
        for (size_t i = 0; i < src->cap; i++)
                if (src->v[i].used && fl_acc_add_flow(dst, &src->v[i]) < 0)
                        return -ENOMEM;
        dst->skip |= src->skip;
        return 0;
}
