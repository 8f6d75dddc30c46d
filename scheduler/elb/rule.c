/* rule.c: CreateRule, DescribeRules, ModifyRule, DeleteRule, SetRulePriorities: an application load
 * balancer's listener rules (elb/rule/<id>), stored and checked; the default rule is the listener's
 * (created with it, Priority "default", edited through ModifyListener or ModifyRule's Actions). No data
 * plane serves them yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../sched.h"
#include "elb_int.h"

static int priority_check(json_t *v, struct err *err)
{
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 50000)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Priority must be between 1 and 50000");
        return 0;
}

/* The rules of a listener (a new array). */
static int listener_rules(struct sched *s, const char *ln_arn, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *all = NULL, *out = json_array();
        json_t *rule;
        size_t i;
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = elb_list(s, ELB_RULE, &all, err)) < 0)
                return r;
        json_array_foreach(all, i, rule)
                if (!strcmp(jstr(json_object_get(rule, "ebx"), "listener") ?: "", ln_arn))
                        json_array_append(out, rule);
        *ret = TAKE_PTR(out);
        return 0;
}

static json_t *priority_owner(json_t *rules, const char *priority, const char *except_arn)
{
        json_t *rule;
        size_t i;
        json_array_foreach(rules, i, rule)
                if (!strcmp(jstr(rule, "Priority") ?: "", priority) && strcmp(jstr(rule, "RuleArn") ?: "", except_arn ? except_arn : ""))
                        return rule;
        return NULL;
}

/* Actions of a rule of listener ln: checked, their target groups too; *ret_tgs their ARNs. */
static int rule_actions(struct sched *s, json_t *ln, json_t *actions, json_t **ret_tgs, struct err *err)
{
        _cleanup_json_ json_t *lb = NULL, *tgs = NULL;
        int r;
        if ((r = elb_get(s, ELB_LB, jstr(ln, "LoadBalancerArn"), &lb, NULL, err)) < 0 || (r = elb_actions_check(actions, false, &tgs, err)) < 0 ||
            (r = elb_action_tgs_check(s, lb, tgs, jstr(ln, "Protocol"), NULL, err)) < 0)
                return r;
        *ret_tgs = TAKE_PTR(tgs);
        return 0;
}

int elb_op_create_rule(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *ln_arn = jstr(req, "ListenerArn");
        json_t *prio = json_object_get(req, "Priority"), *tags = json_object_get(req, "Tags");
        _cleanup_json_ json_t *ln = NULL, *conds = NULL, *actions = NULL, *tgs = NULL, *rules = NULL, *rule = NULL;
        char id[ELB_ID_MAX], res[400], arn[ELB_ARN_MAX], key[ELB_KEY_MAX], pbuf[16];
        int r;
        if (!ln_arn)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "ListenerArn is required");
        if ((r = elb_get(s, ELB_LISTENER, ln_arn, &ln, NULL, err)) < 0)
                return r;
        if (json_is_true(json_object_get(json_object_get(ln, "ebx"), "network")))
                return err_set(err, EINVAL, ELB_E_CONFIG, "Rules are only for application load balancers' listeners; '%.300s' is a network one", ln_arn);
        if (!prio)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Priority is required");
        if ((r = priority_check(prio, err)) < 0)
                return r;
        conds = json_deep_copy(json_object_get(req, "Conditions"));
        if (json_array_size(conds) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "A rule needs at least one condition");
        if ((r = elb_conditions_check(conds, err)) < 0)
                return r;
        if (tags && (r = elb_tags_check(tags, err)) < 0)
                return r;
        actions = json_deep_copy(json_object_get(req, "Actions"));
        if ((r = rule_actions(s, ln, actions, &tgs, err)) < 0)
                return r;
        snprintf(pbuf, sizeof pbuf, "%lld", (long long) json_integer_value(prio));
        if ((r = listener_rules(s, ln_arn, &rules, err)) < 0)
                return r;
        if (priority_owner(rules, pbuf, NULL))
                return err_set(err, EEXIST, ELB_E_PRIO, "The specified priority %s is in use", pbuf);
        if ((r = elb_id_new(id)) < 0)
                return err_set(err, -r, NULL, "random id: %s", strerror(-r));
        /* listener/app/NAME/LBID/LID -> listener-rule/app/NAME/LBID/LID/RID */
        snprintf(res, sizeof res, "listener-rule/%s/%s", strchr(ln_arn, '/') + 1, id);
        elb_arn(c, arn, sizeof arn, res);
        rule = json_pack("{s:s, s:s, s:O, s:O, s:b, s:{s:s, s:s, s:s, s:O, s:o}}", "RuleArn", arn, "Priority", pbuf, "Conditions", conds, "Actions",
                         actions, "IsDefault", 0, "ebx", "id", id, "listener", ln_arn, "lb", jstr(ln, "LoadBalancerArn"), "tgs", tgs, "tags",
                         tags ? json_incref(tags) : json_array());
        if (!rule)
                return err_set(err, ENOMEM, NULL, "out of memory");
        elb_key(ELB_RULE, id, key);
        if ((r = store_put(s->store, key, rule, err)) < 0)
                return r;
        *ret = json_pack("{s:[o]}", "Rules", elb_public(rule));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

static int rule_cmp(const void *a, const void *b)
{
        json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
        bool dx = json_is_true(json_object_get(x, "IsDefault")), dy = json_is_true(json_object_get(y, "IsDefault"));
        if (dx != dy)
                return dx ? 1 : -1;
        long px = atol(jstr(x, "Priority") ?: "0"), py = atol(jstr(y, "Priority") ?: "0");
        return px < py ? -1 : px > py;
}

/* rules sorted by priority, the default last, as public shapes (a new array). */
static json_t *rules_sorted(json_t *rules)
{
        size_t n = json_array_size(rules), i;
        json_t **v = calloc(n ? n : 1, sizeof *v), *out = json_array();
        if (!v || !out) {
                free(v);
                json_decref(out);
                return NULL;
        }
        for (i = 0; i < n; i++)
                v[i] = json_array_get(rules, i);
        qsort(v, n, sizeof *v, rule_cmp);
        for (i = 0; i < n; i++)
                json_array_append_new(out, elb_public(v[i]));
        free(v);
        return out;
}

int elb_op_describe_rules(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        const char *ln_arn = jstr(req, "ListenerArn");
        json_t *arns = json_object_get(req, "RuleArns"), *v;
        _cleanup_json_ json_t *sel = NULL, *sorted = NULL, *out = json_object(), *ln = NULL;
        size_t i;
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!ln_arn == !json_array_size(arns))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "You must specify either rule ARNs or a listener ARN");
        if (ln_arn) {
                if ((r = elb_get(c->s, ELB_LISTENER, ln_arn, &ln, NULL, err)) < 0 || (r = listener_rules(c->s, ln_arn, &sel, err)) < 0)
                        return r;
        } else {
                if (!(sel = json_array()))
                        return err_set(err, ENOMEM, NULL, "out of memory");
                json_array_foreach(arns, i, v) {
                        json_t *rule = NULL;
                        if ((r = elb_get(c->s, ELB_RULE, json_string_value(v), &rule, NULL, err)) < 0)
                                return r;
                        json_array_append_new(sel, rule);
                }
        }
        if (!(sorted = rules_sorted(sel)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = elb_page(req, sorted, out, "Rules", err)) < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

/* The default rule's actions are the listener's DefaultActions. */
static int listener_defaults_set(struct sched *s, json_t *rule, json_t *actions, json_t *tgs, struct err *err)
{
        _cleanup_json_ json_t *ln = NULL;
        char key[ELB_KEY_MAX];
        int r;
        if ((r = elb_get(s, ELB_LISTENER, jstr(json_object_get(rule, "ebx"), "listener"), &ln, key, err)) < 0)
                return r;
        json_object_set(ln, "DefaultActions", actions);
        json_object_set(json_object_get(ln, "ebx"), "tgs", tgs);
        return store_put(s->store, key, ln, err);
}

int elb_op_modify_rule(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rule = NULL, *ln = NULL, *conds = NULL, *actions = NULL, *tgs = NULL;
        char key[ELB_KEY_MAX];
        bool dflt;
        int r;
        if (!jstr(req, "RuleArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "RuleArn is required");
        if ((r = elb_get(c->s, ELB_RULE, jstr(req, "RuleArn"), &rule, key, err)) < 0 ||
            (r = elb_get(c->s, ELB_LISTENER, jstr(json_object_get(rule, "ebx"), "listener"), &ln, NULL, err)) < 0)
                return r;
        dflt = json_is_true(json_object_get(rule, "IsDefault"));
        if (json_object_get(req, "Conditions")) {
                if (dflt)
                        return err_set(err, EPERM, ELB_E_NOT_PERMITTED, "The conditions of a default rule cannot be modified");
                conds = json_deep_copy(json_object_get(req, "Conditions"));
                if (json_array_size(conds) == 0)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "A rule needs at least one condition");
                if ((r = elb_conditions_check(conds, err)) < 0)
                        return r;
                json_object_set(rule, "Conditions", conds);
        }
        if (json_object_get(req, "Actions")) {
                actions = json_deep_copy(json_object_get(req, "Actions"));
                if ((r = rule_actions(c->s, ln, actions, &tgs, err)) < 0)
                        return r;
                json_object_set(rule, "Actions", actions);
                json_object_set(json_object_get(rule, "ebx"), "tgs", tgs);
                if (dflt && (r = listener_defaults_set(c->s, rule, actions, tgs, err)) < 0)
                        return r;
        }
        if ((r = store_put(c->s->store, key, rule, err)) < 0)
                return r;
        *ret = json_pack("{s:[o]}", "Rules", elb_public(rule));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_op_delete_rule(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rule = NULL;
        char key[ELB_KEY_MAX];
        int r;
        if (!jstr(req, "RuleArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "RuleArn is required");
        if ((r = elb_get(c->s, ELB_RULE, jstr(req, "RuleArn"), &rule, key, err)) < 0)
                return r;
        if (json_is_true(json_object_get(rule, "IsDefault")))
                return err_set(err, EPERM, ELB_E_NOT_PERMITTED, "A default rule cannot be deleted");
        if ((r = store_del(c->s->store, key, err)) < 0)
                return r;
        *ret = json_object();
        return 0;
}

int elb_op_set_rule_priorities(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *given = json_object_get(req, "RulePriorities"), *p;
        _cleanup_json_ json_t *recs = json_array(), *keys = json_array(), *out = NULL;
        size_t i, j;
        int r;
        if (!recs || !keys)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (json_array_size(given) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "RulePriorities must contain at least one rule");
        json_array_foreach(given, i, p) {
                json_t *rule = NULL;
                char key[ELB_KEY_MAX], pbuf[16];
                if (!jstr(p, "RuleArn") || !json_object_get(p, "Priority"))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "RulePriorities[%zu]: RuleArn and Priority are required", i + 1);
                if ((r = priority_check(json_object_get(p, "Priority"), err)) < 0 ||
                    (r = elb_get(c->s, ELB_RULE, jstr(p, "RuleArn"), &rule, key, err)) < 0)
                        return r;
                json_array_append_new(recs, rule);
                json_array_append_new(keys, json_string(key));
                if (json_is_true(json_object_get(rule, "IsDefault")))
                        return err_set(err, EPERM, ELB_E_NOT_PERMITTED, "The priority of a default rule cannot be changed");
                snprintf(pbuf, sizeof pbuf, "%lld", (long long) json_integer_value(json_object_get(p, "Priority")));
                json_object_set_new(rule, "Priority", json_string(pbuf));
        }
        /* no two rules of one listener with one priority, counting the rules not named here */
        json_array_foreach(recs, i, p) {
                _cleanup_json_ json_t *rules = NULL;
                json_t *o;
                const char *ln = jstr(json_object_get(p, "ebx"), "listener");
                for (j = 0; j < i; j++) {
                        json_t *q = json_array_get(recs, j);
                        if (!strcmp(jstr(json_object_get(q, "ebx"), "listener"), ln) && !strcmp(jstr(q, "Priority"), jstr(p, "Priority")))
                                return err_set(err, EEXIST, ELB_E_PRIO, "The specified priority %s is in use", jstr(p, "Priority"));
                }
                if ((r = listener_rules(c->s, ln, &rules, err)) < 0)
                        return r;
                json_array_foreach(rules, j, o) {
                        bool named = false;
                        for (size_t k = 0; k < json_array_size(recs); k++)
                                named |= !strcmp(jstr(json_array_get(recs, k), "RuleArn"), jstr(o, "RuleArn"));
                        if (!named && !strcmp(jstr(o, "Priority"), jstr(p, "Priority")))
                                return err_set(err, EEXIST, ELB_E_PRIO, "The specified priority %s is in use", jstr(p, "Priority"));
                }
        }
        json_array_foreach(recs, i, p)
                if ((r = store_put(c->s->store, json_string_value(json_array_get(keys, i)), p, err)) < 0)
                        return r;
        if (!(out = rules_sorted(recs)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        *ret = json_pack("{s:O}", "Rules", out);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}
