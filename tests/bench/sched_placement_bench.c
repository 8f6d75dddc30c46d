/* sched_placement_bench.c: place 10,000 tasks on 1,000 instances with a
 * spread(zone)-then-binpack(memory) chain and a memberOf constraint, against a
 * baseline that only checks resources and takes the first fit (same run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../scheduler/ecs/placement.h"

#define NI 1000
#define NT 10000

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct place_instance *snapshot(struct place_attr (*attrs)[3])
{
        static const char *zones[] = { "us-east-1a", "us-east-1b", "us-east-1c" };
        static const char *types[] = { "t3.medium", "m5.large", "m5.xlarge", "c5.2xlarge" };
        static char ids[NI][24];
        struct place_instance *in = calloc(NI, sizeof *in);
        for (int i = 0; i < NI; i++) {
                snprintf(ids[i], sizeof ids[i], "i-%017x", i);
                attrs[i][0] = (struct place_attr) { "ecs.availability-zone", zones[i % 3] };
                attrs[i][1] = (struct place_attr) { "ecs.instance-type", types[i % 4] };
                attrs[i][2] = (struct place_attr) { "ecs.os-type", "linux" };
                in[i] = (struct place_instance) { .arn = ids[i], .ec2_id = ids[i], .active = true, .cpu = 8192,
                                                  .mem = 32768, .enis = 100, .attrs = attrs[i], .nattrs = 3 };
        }
        return in;
}

int main(void)
{
        static struct place_attr attrs[NI][3];
        static int idx[NT];
        struct place_strategy st[2];
        struct cql *q = NULL;
        struct err e = { 0 };
        double t0, engine, base;
        int placed, placed_base = 0;

        place_strategy_parse("spread", "attribute:ecs.availability-zone", &st[0], NULL);
        place_strategy_parse("binpack", "memory", &st[1], NULL);
        if (cql_parse("attribute:ecs.instance-type =~ m5.* or attribute:ecs.instance-type == c5.2xlarge", &q, &e) < 0) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
        }
        struct cql *qs[] = { q };
        struct place_request req = { .cpu = 64, .mem = 256, .member_of = qs, .nmember_of = 1, .strategies = st,
                                     .nstrategies = 2 };

        struct place_instance *in = snapshot(attrs);
        t0 = now();
        placed = place_tasks(in, NI, &req, NT, idx, NULL, NULL);
        engine = now() - t0;

        /* baseline: first fit on resources only, no constraint or strategy */
        struct place_instance *b = snapshot(attrs);
        t0 = now();
        for (int k = 0; k < NT; k++)
                for (int i = 0; i < NI; i++)
                        if (b[i].cpu >= req.cpu && b[i].mem >= req.mem) {
                                b[i].cpu -= req.cpu;
                                b[i].mem -= req.mem;
                                placed_base++;
                                break;
                        }
        base = now() - t0;

        int zone[3] = { 0 };
        for (int k = 0; k < placed; k++)
                zone[idx[k] % 3]++;
        printf("| placement: %d tasks on %d instances, spread(zone)+binpack(memory)+memberOf | %.1f ms CPU (%d placed; zones %d/%d/%d) | first-fit baseline %.1f ms (%d placed) | %.1fx | target <= 1000 ms: %s |\n",
               NT, NI, engine * 1e3, placed, zone[0], zone[1], zone[2], base * 1e3, placed_base, engine / base,
               engine <= 1.0 ? "met" : "NOT met");
        cql_free(q);
        return 0;
}
