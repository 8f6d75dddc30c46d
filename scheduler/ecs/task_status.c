/* task_status.c: the times of a monitor's status.json copied, set once, onto the task record. */
#include <stddef.h>
#include <string.h>

#include "ecsbox/json.h"
#include "task_status.h"

/* Does rec lack key while src holds a time for it? Then rec gets it (ms, as every AWS time). */
static bool take_time(json_t *rec, const char *key, json_t *src, const char *src_key)
{
        json_t *v = json_object_get(src, src_key);
        if (!json_is_object(rec) || json_object_get(rec, key) || !json_is_number(v) || json_number_value(v) <= 0)
                return false;
        return json_object_set_new(rec, key, jtime(json_number_value(v))) == 0;
}

bool task_status_times(json_t *rec, json_t *st)
{
        json_t *c;
        size_t i;
        bool changed = false;

        if (!json_is_object(st))
                return false;
        changed |= take_time(rec, "startedAt", st, "startedAt");
        changed |= take_time(rec, "stoppingAt", st, "stoppingAt");
        changed |= take_time(rec, "executionStoppedAt", st, "stoppedAt");
        json_array_foreach(json_object_get(rec, "containers"), i, c) {
                const char *name = jstr(c, "name");
                json_t *sc = name ? jfind(json_object_get(st, "containers"), "name", name) : NULL;
                if (!sc)
                        continue;
                changed |= take_time(c, "startedAt", sc, "startedAt");
                changed |= take_time(c, "finishedAt", sc, "finishedAt");
        }
        return changed;
}
