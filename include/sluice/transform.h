/*  sluice/transform.h: declarative event transforms (the `transform` kind).

    Rules are written in the topology as a list of one-key maps (docs/
    transform.md has the exact shape of each): rename, set (a constant or a
    "{{body.a}}.{{body.b}}" template), drop, copy, map, lower, upper, trim,
    split, filter (keep or drop by a condition) and route (send to a named
    output). Every rule may carry `if: CONDITION`. Field paths are
    `body.a.b`, `tenant`, `kind` and `key`.

    Rules compile once, from JSON text, into a program; running it decodes
    the msgpack body into a small field table owned by the program (reused
    from event to event: no allocation once it has grown to the largest
    event), applies the rules, and re-encodes the body only if a rule
    changed it. A program is not thread-safe: each actor instance compiles
    its own. */
#ifndef SLUICE_TRANSFORM_H
#define SLUICE_TRANSFORM_H

#include "sluice/common.h"
#include "sluice/event.h"

typedef struct sl_transform sl_transform_t;

/*  Where compiling went wrong: `option` is "rules" or "tenants", `where` a
    JSON Pointer into that option's value ("/2/split/into"), `msg` the
    reason ("rule 3: unknown rule 'renam' (rules: rename, set, ...)"). */
typedef struct {
    const char *option;
    char where[256];
    char msg[300];
} sl_transform_err_t;

/*  Output index sl_transform_run() gives for a dropped event. */
#define SL_TRANSFORM_DROPPED (-1)

/*  Compile `rules` (JSON list of rules, required) and `tenants` (JSON map
    tenant -> list of rules, applied after the shared rules to events of
    that tenant; NULL = none). `outputs` is the NULL-terminated list of
    output names a route may name; outputs[0] is where an event that no
    route took goes. On success *out owns the program (free with
    sl_transform_destroy). SL_EINVAL with `err` filled for a bad rule,
    SL_ENOMEM. */
int sl_transform_new(sl_transform_t **out, const char *rules, const char *tenants,
                     const char *const *outputs, sl_transform_err_t *err);
void sl_transform_destroy(sl_transform_t **t);

/*  Check one option's JSON text the way sl_transform_new() would ("rules"
    or "tenants"): 0, or SL_EINVAL with err filled. */
int sl_transform_check(const char *option, const char *json, const char *const *outputs,
                       sl_transform_err_t *err);

/*  Apply the program to `in`. On 0, *output is the index into `outputs` to
    send *out on, or SL_TRANSFORM_DROPPED; *out is `in` with the changed
    fields, and its slices point into `in` or into the program: valid
    until the next run or destroy. SL_EPROTO if the body is not a well-formed
    msgpack map, SL_ERANGE if the result exceeds the event bounds,
    SL_ENOMEM. */
int sl_transform_run(sl_transform_t *t, const sl_event_t *in, sl_event_t *out, int *output);

#endif
