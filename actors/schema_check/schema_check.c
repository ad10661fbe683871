/*  schema_check: validates each event's body against the schema its kind
    names (a registry loaded from a directory of schema files, compiled once
    at init). Valid events go out unchanged on `out`; a rejected event goes
    out unchanged on `rejected`, its reason to the dead-letter store (when
    the topology has one) and to the log. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/log.h"
#include "sluice/reject.h"
#include "sluice/schema.h"

enum { S_OUT = 0, S_REJECTED = 1 };

typedef struct {
    char *schemas; /* options */
    char *map;
    char *on_unknown;
    const char *name;
    sl_schema_gate_t *gate;
    int pass_unknown;
    const char *store_path;
    sl_reject_t reject;
    uint64_t valid, passed_unknown;
} s_check_t;

static void s_free(s_check_t *s)
{
    sl_schema_gate_destroy(&s->gate);
    sl_reject_close(&s->reject);
}

static int s_init(sl_actor_t *a, void *state)
{
    s_check_t *s = state;
    char err[512] = "";
    int rc = SL_EINVAL;
    s->name = sl_actor_name(a);
    if (strcmp(s->on_unknown, "pass") == 0) {
        s->pass_unknown = 1;
    } else if (strcmp(s->on_unknown, "reject") != 0) {
        sl_error(s->name, "on_unknown_kind: expected pass or reject, got '%s'", s->on_unknown);
        goto fail;
    }
    /*  The map (or the built-in kinds), and two mapped versions of one
        schema compatible: sl_schema_gate_new checks both. */
    s->gate = sl_schema_gate_new(s->schemas, s->map, NULL, err, sizeof err);
    if (!s->gate) {
        sl_error(s->name, "%s", err);
        goto fail;
    }
    s->store_path = sl_actor_store_path(a);
    sl_reject_init(&s->reject, s->name, s->store_path, "rejected");
    if (sl_actor_worker(a) == 0) {
        sl_info(s->name, "%d schemas from %s, %d kinds checked, unknown kinds %s%s",
                sl_schema_registry_count(sl_schema_gate_registry(s->gate)), s->schemas,
                sl_schema_gate_kinds(s->gate), s->pass_unknown ? "pass" : "rejected",
                s->store_path ? ", dead letters to the store" : "");
    }
    return SL_OK;
fail:
    s_free(s);
    return rc ? rc : SL_EINVAL;
}

static int s_reject(sl_actor_t *a, s_check_t *s, const sl_event_t *ev, const char *reason)
{
    if (sl_reject_event(&s->reject, ev, reason) != SL_OK) {
        sl_actor_count_error(a);
    }
    return sl_emit(a, S_REJECTED, ev);
}

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    s_check_t *s = state;
    char reason[512];
    int rc = sl_schema_gate_check(s->gate, ev, reason, sizeof reason);
    if (rc == SL_OK) {
        s->valid++;
        return sl_emit(a, S_OUT, ev);
    }
    if (rc == SL_ENOTFOUND && s->pass_unknown) {
        s->passed_unknown++;
        return sl_emit(a, S_OUT, ev);
    }
    return s_reject(a, s, ev, reason);
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_check_t *s = state;
    sl_reject_close(&s->reject);
    sl_info(s->name,
            "%llu valid, %llu rejected (%llu dead letters written, %llu failed), %llu "
            "of unknown kinds passed",
            (unsigned long long)s->valid, (unsigned long long)s->reject.rejected,
            (unsigned long long)s->reject.dead_letters,
            (unsigned long long)s->reject.dead_letter_errors,
            (unsigned long long)s->passed_unknown);
    s_free(s);
}

/*  At topology load: the map's schemas exist, and two mapped versions of
    one schema are compatible (a topology error at the entry at fault). */
static int s_check_option(const char *option, const char *json, const sl_opt_values_t *opts,
                          char *err, size_t errlen, char *where, size_t wherelen)
{
    if (strcmp(option, "map") != 0) {
        return 0;
    }
    return sl_schema_map_check(sl_opt_value(opts, "schemas"), json, err, errlen, where, wherelen);
}

static const sl_opt_t s_options[] = {
    {"schemas", SL_OPT_STR, NULL, offsetof(s_check_t, schemas), SL_OPT_REQUIRED,
     "directory of schema files (*.yaml, *.yml, *.json), each with a name and a version"},
    {"map", SL_OPT_JSON, NULL, offsetof(s_check_t, map), 0,
     "event kind -> \"name@version\" (or \"name\" for its highest version); default: each "
     "built-in kind -> its built-in schema <kind>@1"},
    {"on_unknown_kind", SL_OPT_STR, "reject", offsetof(s_check_t, on_unknown), 0,
     "an event whose kind the map does not name: pass (unchecked, on out) or reject"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "out", .desc = "valid events, unchanged"},
    {.name = "rejected",
     .desc = "rejected events, unchanged (the reason is in the log and the dead-letter store)"},
    {0},
};

const sl_actor_kind_t sl_actor_schema_check = {
    .name = "schema_check",
    .description = "Validates each event's body against the versioned schema its kind names; "
                   "rejects to the dead-letter store with the failing field and rule.",
    .state_size = sizeof(s_check_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .handle = s_handle,
    .exit = s_exit,
    .check_option = s_check_option,
};
