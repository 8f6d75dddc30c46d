/* events.c: `ecsbox ecs events`: a service's events, oldest first, with --follow. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"
#include "ecsboxd.h"
#include "events.h"
#include "exitcode.h"

/* Prints a service's events oldest first; with follow, new ones as they come until it is INACTIVE. */
int cli_events(const char *endpoint, json_t *req, bool follow)
{
        _cleanup_json_ json_t *seen = json_object();
        _cleanup_json_ json_t *dreq = json_pack("{s:s, s:[O]}", "cluster", json_string_value(json_object_get(req, "cluster")) ?: "default",
                                                "services", json_object_get(req, "service"));
        for (;;) {
                _cleanup_json_ json_t *ans = NULL;
                json_t *svc, *evs, *ev;
                size_t n;
                int r;
                if ((r = cli_ecs_call_or_print(endpoint, "DescribeServices", dreq, &ans)) != 0)
                        return r;
                svc = json_array_get(json_object_get(ans, "services"), 0);
                if (!svc) {
                        fprintf(stderr, "ecsbox ecs events: service '%s' not found\n", json_string_value(json_object_get(req, "service")));
                        return EXIT_SERVICE;
                }
                evs = json_object_get(svc, "events");
                for (n = json_array_size(evs); n-- > 0;) {
                        const char *id;
                        char when[ISO8601_MAX];
                        ev = json_array_get(evs, n);
                        id = json_string_value(json_object_get(ev, "id")) ?: "";
                        if (json_object_get(seen, id))
                                continue;
                        json_object_set_new(seen, id, json_true());
                        iso8601_s(json_number_value(json_object_get(ev, "createdAt")), when);
                        printf("%s  %s\n", when, json_string_value(json_object_get(ev, "message")) ?: "");
                }
                fflush(stdout);
                if (!follow || !strcmp(json_string_value(json_object_get(svc, "status")) ?: "", "INACTIVE"))
                        return 0;
                usleep(1000 * 1000);
        }
}
