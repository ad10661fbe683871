/*  transform: declarative rules over each event (core/transform.c,
    docs/transform.md). Rules are checked when the topology loads
    (check_option), so a bad rule is a topology error with its position. */
#include <stdio.h>

#include "sluice/actor.h"
#include "sluice/log.h"
#include "sluice/transform.h"

typedef struct {
    char *rules;
    char *tenants;
    sl_transform_t *prog;
} s_tf_t;

/*  Route targets are fixed names: a kind's outputs are static, and the
    validator checks `inputs` against them (docs/RATIONALE.md). */
static const char *const s_output_names[] = {"out",    "route1", "route2", "route3", "route4",
                                             "route5", "route6", "route7", "route8", NULL};

static int s_init(sl_actor_t *a, void *state)
{
    s_tf_t *s = state;
    sl_transform_err_t err;
    int rc = sl_transform_new(&s->prog, s->rules, s->tenants, s_output_names, &err);
    if (rc) {
        sl_log(SL_LOG_ERROR, sl_actor_name(a), NULL, "option '%s' at %s: %s",
               err.option ? err.option : "rules", err.where[0] ? err.where : "/", err.msg);
    }
    return rc;
}

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    s_tf_t *s = state;
    sl_event_t out;
    int output;
    int rc = sl_transform_run(s->prog, ev, &out, &output);
    if (rc) {
        return rc;
    }
    if (output == SL_TRANSFORM_DROPPED) {
        return 0;
    }
    return sl_emit(a, output, &out);
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_tf_t *s = state;
    sl_transform_destroy(&s->prog);
}

static int s_check(const char *option, const char *json, const sl_opt_values_t *opts, char *err,
                   size_t errlen, char *where, size_t wherelen)
{
    (void)opts;
    sl_transform_err_t e;
    int rc = sl_transform_check(option, json, s_output_names, &e);
    if (rc) {
        snprintf(err, errlen, "%s", e.msg);
        snprintf(where, wherelen, "%s", e.where);
    }
    return rc;
}

static const sl_opt_t s_options[] = {
    {"rules", SL_OPT_JSON, NULL, offsetof(s_tf_t, rules), SL_OPT_REQUIRED,
     "list of rules applied to every event in order (docs/transform.md)"},
    {"tenants", SL_OPT_JSON, NULL, offsetof(s_tf_t, tenants), 0,
     "map tenant -> list of rules, applied after the shared rules to that tenant's events"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "out", .desc = "events no route took, after every rule"},
    {.name = "route1", .desc = "events a `route: route1` rule sent"},
    {.name = "route2", .desc = "events a `route: route2` rule sent"},
    {.name = "route3", .desc = "events a `route: route3` rule sent"},
    {.name = "route4", .desc = "events a `route: route4` rule sent"},
    {.name = "route5", .desc = "events a `route: route5` rule sent"},
    {.name = "route6", .desc = "events a `route: route6` rule sent"},
    {.name = "route7", .desc = "events a `route: route7` rule sent"},
    {.name = "route8", .desc = "events a `route: route8` rule sent"},
    {0},
};

const sl_actor_kind_t sl_actor_transform = {
    .name = "transform",
    .description = "Rewrites, filters and routes events by declarative rules (rename, set, drop, "
                   "copy, map, lower, upper, trim, split, filter, route).",
    .state_size = sizeof(s_tf_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .handle = s_handle,
    .exit = s_exit,
    .check_option = s_check,
};
