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
#include "sluice/schema.h"
#include "sluice/store.h"

/*  Rejections logged one by one up to this many per second; the rest are
    counted and summarised, so a flood of bad events cannot flood the log. */
#define S_LOG_PER_SEC 100

enum { S_OUT = 0, S_REJECTED = 1 };

typedef struct {
    char *schemas; /* options */
    char *map;
    char *on_unknown;
    const char *name;
    sl_schema_gate_t *gate;
    int pass_unknown;
    const char *store_path;
    sl_store_t *store;
    int store_failed;
    uint64_t valid, rejected, passed_unknown, dead_letters, dead_letter_errors;
    int64_t log_second;
    int log_count;
    uint64_t log_suppressed;
} s_check_t;

static void s_free(s_check_t *s)
{
    sl_schema_gate_destroy(&s->gate);
    sl_store_close(&s->store);
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

static void s_log_reject(s_check_t *s, const sl_event_t *ev, const char *reason)
{
    int64_t sec = sl_mono_us() / 1000000;
    if (sec != s->log_second) {
        if (s->log_suppressed) {
            sl_warn(s->name, "%llu more events rejected (not logged one by one)",
                    (unsigned long long)s->log_suppressed);
        }
        s->log_second = sec;
        s->log_count = 0;
        s->log_suppressed = 0;
    }
    if (s->log_count >= S_LOG_PER_SEC) {
        s->log_suppressed++;
        return;
    }
    s->log_count++;
    char id[37];
    sl_uuid_format(ev->id, id);
    sl_buf_t f = {0};
    static const char k1[] = "\"event_id\":\"", k2[] = "\",\"tenant\":\"", k3[] = "\",\"kind\":\"",
                      k4[] = "\",\"reason\":\"";
    int ok = sl_buf_append(&f, k1, sizeof k1 - 1) == SL_OK && sl_buf_append(&f, id, 36) == SL_OK &&
             sl_buf_append(&f, k2, sizeof k2 - 1) == SL_OK &&
             sl_json_escape(&f, ev->tenant.ptr, ev->tenant.len) == SL_OK &&
             sl_buf_append(&f, k3, sizeof k3 - 1) == SL_OK &&
             sl_json_escape(&f, ev->kind.ptr, ev->kind.len) == SL_OK &&
             sl_buf_append(&f, k4, sizeof k4 - 1) == SL_OK &&
             sl_json_escape(&f, reason, strlen(reason)) == SL_OK &&
             sl_buf_append(&f, "\"", 2) == SL_OK;
    sl_log(SL_LOG_WARN, s->name, ok ? (char *)f.data : NULL, "rejected %s (%.*s): %s", id,
           (int)(ev->kind.len > 200 ? 200 : ev->kind.len), ev->kind.ptr ? ev->kind.ptr : "",
           reason);
    sl_buf_free(&f);
}

static int s_reject(sl_actor_t *a, s_check_t *s, const sl_event_t *ev, const char *reason)
{
    s->rejected++;
    s_log_reject(s, ev, reason);
    if (s->store_path && !s->store && !s->store_failed) {
        /*  Opened at the first rejection, not in init: sl_store_open shares
            one handle per path whose options the first opener sets, and
            the store actor (with its options) should be that opener. */
        char err[256] = "";
        sl_store_opts_t o = {.path = s->store_path};
        s->store = sl_store_open(&o, err, sizeof err);
        if (!s->store) {
            s->store_failed = 1;
            sl_error(s->name, "cannot open store %s for dead letters: %s", s->store_path, err);
        }
    }
    if (s->store) {
        int rc = sl_store_dead_letter_from(s->store, ev, sl_actor_name(a), reason);
        if (rc == SL_OK) {
            s->dead_letters++;
        } else {
            s->dead_letter_errors++;
            sl_actor_count_error(a);
            sl_error(s->name, "dead letter not written: %s", sl_strerror(rc));
        }
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
    if (s->log_suppressed) {
        sl_warn(s->name, "%llu more events rejected (not logged one by one)",
                (unsigned long long)s->log_suppressed);
    }
    sl_info(s->name,
            "%llu valid, %llu rejected (%llu dead letters written, %llu failed), %llu "
            "of unknown kinds passed",
            (unsigned long long)s->valid, (unsigned long long)s->rejected,
            (unsigned long long)s->dead_letters, (unsigned long long)s->dead_letter_errors,
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
