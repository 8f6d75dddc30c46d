/* stats.h: Docker's stats shape for the metadata endpoint's /stats paths (see stats.c). */
#pragma once

#include <jansson.h>

/* One sample of a container: read, name, id, pids_stats, cpu_stats, memory_stats, networks (the
 * namespace of pid, lo left out). Directories may be NULL (that part reads 0). */
json_t *tmds_stats_sample(const char *docker_id, const char *name, long pid, const char *mem_dir, const char *cpu_dir, long online_cpus);

/* preread, precpu_stats and network_rate_stats of cur from the previous sample (NULL: none yet, as
 * Docker's first answer) taken seconds before. */
void tmds_stats_pair(json_t *cur, json_t *prev, double seconds);
