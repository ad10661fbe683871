/*  sluice/actor.h: what an actor kind is, and what actor code may call.

    An actor kind is one folder under actors/ that exports one
    `const sl_actor_kind_t` made with designated initialisers, registered by
    one line in actors/kinds.h. The engine owns threads, sockets, batching,
    partitioning, metrics and back-pressure: actor code sees events in and
    events out, never a ZeroMQ socket.

    Life of an instance (one per worker), all on the instance's own thread:
      init(a, state)          once; non-zero fails the whole start (exit 1)
      handle(a, state, ev)    per input event; ev's slices are valid only
                              during the call; a negative return counts an
                              error and drops the event
      tick(a, state)          every tick interval (sl_actor_set_tick); a
                              source returns SL_DONE when it has nothing more
      idle(a, state)          optional: the input ran dry (close a batch)
      exit(a, state)          once, after the last handle/tick
    The state is state_size bytes, zeroed, with options filled from the
    config map before init. The engine frees string options after exit. */
#ifndef SLUICE_ACTOR_H
#define SLUICE_ACTOR_H

#include "sluice/common.h"
#include "sluice/curve.h"
#include "sluice/event.h"

typedef struct sl_actor sl_actor_t;

/*  Option types of a config map, and what they store at `offset`. */
typedef enum {
    SL_OPT_STR = 1,  /* char *      (NULL if unset and no default)   */
    SL_OPT_INT,      /* int64_t                                        */
    SL_OPT_BOOL,     /* int (0/1); YAML true/false                     */
    SL_OPT_DOUBLE,   /* double                                         */
    SL_OPT_SIZE,     /* int64_t bytes; accepts 512, 64k, 10MiB, 1GB    */
    SL_OPT_DURATION, /* int64_t microseconds; accepts 250ms, 5s, 1m, 100us; bare number = ms */
    SL_OPT_STRLIST,  /* sl_strlist_t                                   */
    SL_OPT_SECRET,   /* char *; like STR, never printed or logged      */
    SL_OPT_JSON,     /* char *: any YAML value, as JSON text           */
} sl_opt_type_t;

#define SL_OPT_REQUIRED 0x1u

typedef struct {
    char **items;
    int count;
} sl_strlist_t;

/*  The items as a NULL-terminated array of borrowed pointers (for
    sl_store_opts_t.tenants): *out is NULL when the list is empty; free the
    array, not the items. SL_ENOMEM. */
int sl_strlist_nullterm(const sl_strlist_t *l, const char ***out);

typedef struct {
    const char *name;
    sl_opt_type_t type;
    const char *def; /* default as YAML scalar text; NULL = none */
    size_t offset;   /* offsetof(state, field) */
    unsigned flags;  /* SL_OPT_REQUIRED */
    const char *desc;
} sl_opt_t;

#define SL_OUTPUT_DURABLE                                                                          \
    0x1u /* a change-log output: followers read by                                                 \
            cursor, so a cycle through it is legal */

typedef struct {
    const char *name;
    const char *desc;
    unsigned flags;
} sl_output_t;

/*  The options of one actor as the topology gives them, for check_option. */
typedef struct sl_opt_values sl_opt_values_t;
/*  The value of option `name` as written (a scalar's text after ${...}
    substitution, a JSON option's JSON text; a list's text only when it is
    one scalar), or NULL if the topology does not give it. Valid during
    the check_option call. */
const char *sl_opt_value(const sl_opt_values_t *opts, const char *name);

/*  Kind flags. */
#define SL_KIND_SOURCE 0x1u /* takes no inputs */
#define SL_KIND_KEYS                                                                               \
    0x2u /* uses the tenants' CURVE keys (sl_actor_keys):                                          \
            the topology must declare some, checked at load */
/*  A source that journals what it emits (http_ingest, zmq_ingest): it sends journal
    marks after what it emitted (sl_emit_mark) and replays what its
    confirmers did not confirm (sl_actor_confirmers). */
#define SL_KIND_MARKS 0x4u
/*  Applies events durably (the store): receives marks through `mark` and
    confirms them once what came before them is durable
    (sl_actor_confirm). It does not pass marks on. */
#define SL_KIND_CONFIRMS 0x8u

/*  Journal marks (docs/ingest.md "Confirmation"). A mark (origin, seq)
    says: every event the origin actor emitted before it has reached this
    instance's handle, or left the pipeline on the way (filtered, routed
    elsewhere, rejected). The engine sends it after the events it
    follows, passes it through every actor that has outputs (after
    flushing what that actor emitted), and where several upstream
    instances carry one origin's events it passes on only the lowest mark
    all of them have sent. An actor that holds events back across handle
    calls and emits them later must not be put between a marking source
    and a confirmer (none of the built-in kinds does). */
typedef struct {
    const char *origin; /* the marking source's actor name */
    uint64_t seq;       /* its journal sequence */
} sl_mark_t;

typedef struct sl_actor_kind {
    const char *name;
    const char *description;
    unsigned flags;
    size_t state_size;
    const sl_opt_t *options;    /* terminated by an entry with name NULL */
    const sl_output_t *outputs; /* terminated by name NULL; NULL = a sink.
                                   outputs[0] is the default output, named
                                   by the actor's name alone in `inputs` */
    int (*init)(sl_actor_t *a, void *state);
    int (*handle)(sl_actor_t *a, void *state, const sl_event_t *ev);
    int (*tick)(sl_actor_t *a, void *state);
    void (*exit)(sl_actor_t *a, void *state);
    /*  Optional: called when the instance has handled every input message
        available right now (before its outputs are flushed), and once more
        before exit on a drain. A batching sink commits here. */
    int (*idle)(sl_actor_t *a, void *state);
    /*  Optional: check the value of a JSON option (SL_OPT_JSON) when the
        topology is loaded, so a bad value is a topology error with its
        FILE:LINE:COL instead of a failed start. `json` is the value as JSON
        text; `opts` gives the actor's other options (sl_opt_value), for a
        value that only makes sense with a sibling's (a map of schemas and
        their directory): it is called once every option of the actor is
        read. Return 0 if it is good; otherwise non-zero with a reason in
        err and, in where, a JSON Pointer (RFC 6901) to the part at fault
        ("/2/rename/to"; "" = the whole value): the loader reports the
        reason at that part's position in the file. */
    int (*check_option)(const char *option, const char *json, const sl_opt_values_t *opts,
                        char *err, size_t errlen, char *where, size_t wherelen);
    /*  SL_KIND_CONFIRMS kinds: a mark reached this instance (on its own
        thread, between handle calls). m is valid during the call. The
        kind calls sl_actor_confirm(a, m->origin, m->seq) once everything
        it handled before is durable (at once if nothing is pending). */
    int (*mark)(sl_actor_t *a, void *state, const sl_mark_t *m);
} sl_actor_kind_t;

/*  Registry (actors/registry.c). */
const sl_actor_kind_t *sl_actor_kind_find(const char *name);
/*  NULL-terminated array of every registered kind, in name order. */
const sl_actor_kind_t *const *sl_actor_kinds(void);
/*  Index of output `name` in kind->outputs, or -1. */
int sl_actor_kind_output(const sl_actor_kind_t *kind, const char *name);

/*  --- Calls for actor code (only from the instance's own thread) --- */

/*  Send an event on output `output` (index into kind->outputs). The engine
    copies it (encodes) before returning, with hops = ev->hops + 1. Events
    go to every consumer of the output; to the worker of a consumer chosen
    by hash(tenant, key), so one key always reaches the same worker, in
    order. May block while a downstream queue is full (back-pressure).
    SL_ESTOPPED if the engine is stopping and the send could not complete. */
int sl_emit(sl_actor_t *a, int output, const sl_event_t *ev);

/*  SL_KIND_MARKS sources: after the events emitted so far, send the mark
    (this actor, seq) of journal `journal_id` (sl_journal_id) on every
    output; pending batches are flushed first. May wait for room like a
    flush. SL_EINVAL (not a marking kind, or workers > 1), SL_ESTOPPED. */
int sl_emit_mark(sl_actor_t *a, const char *journal_id, uint64_t seq);

/*  SL_KIND_CONFIRMS kinds: everything before mark (origin, seq) is
    durable. The engine writes the confirmation to the origin's journal
    when the origin runs in this process, or sends it back to the
    origin's node as a control message. SL_ENOTFOUND (no mark of that
    origin reached this instance, or its journal is gone), SL_ERANGE (seq
    past the newest mark), SL_EAGAIN (the link back is full: the next
    confirmation carries it). */
int sl_actor_confirm(sl_actor_t *a, const char *origin, uint64_t seq);

/*  SL_KIND_MARKS sources: NULL-terminated names of the confirming actors
    that its marks reach (empty: none; nothing will confirm). Valid until
    the next tick (a reload may change it). */
const char *const *sl_actor_confirmers(const sl_actor_t *a);

/*  Call tick every `interval_us` microseconds; 0 = as often as possible
    (a busy source), negative = never (the default). */
void sl_actor_set_tick(sl_actor_t *a, int64_t interval_us);

const char *sl_actor_name(const sl_actor_t *a);
/*  The topology's store path (top-level `store: {path}`), or NULL if the
    file has no store section. Actors that open the store use it. */
const char *sl_actor_store_path(const sl_actor_t *a);
const char *sl_actor_node(const sl_actor_t *a); /* NULL when single-node */
int sl_actor_worker(const sl_actor_t *a);       /* 0 .. workers-1 */
int sl_actor_workers(const sl_actor_t *a);
/*  Count n events refused because their tenant is not the one their
    sender authenticated as (sluice_link_tenant_mismatch_total, and
    dropped). Any thread may call it. */
void sl_actor_count_tenant_mismatch(sl_actor_t *a, uint64_t n);
/*  The key pairs of the topology's tenants that have keys, in file order
    (in an isolated run, only that tenant's): their count, and *keys set.
    Valid during init only: configure sockets there, or copy. A kind that
    calls this sets SL_KIND_KEYS. */
int sl_actor_keys(const sl_actor_t *a, const sl_curve_key_t **keys);
/*  Non-zero once the engine asked this actor to stop: a long tick should
    return early. */
int sl_actor_stopping(const sl_actor_t *a);
/*  Count an error against this instance in metrics (already done for
    negative returns of handle and tick). */
void sl_actor_count_error(sl_actor_t *a);

/*  --- Config maps (core/config.c): used by the topology loader and by
    `sluice actors`; actor code does not call these. --- */

/*  Parse `text` as a value of `type` into `dst` (the field at offset).
    For STRLIST pass items via sl_opt_set_list instead. Writes a reason such
    as "expected an integer, got 'two'" on SL_EINVAL. Never echoes secrets. */
int sl_opt_parse(const sl_opt_t *opt, const char *text, void *dst, char *err, size_t errlen);
int sl_opt_set_list(const sl_opt_t *opt, char *const *items, int count, void *dst);
/*  A setting inside a JSON option (a quota's size, an auth duration):
    `value` (a json_t) is a JSON string ("30s", "1GiB") or an integer
    (bytes; milliseconds for a duration), parsed as an option of `type`
    (SIZE, DURATION or INT) would be. SL_EINVAL with a reason that starts
    with `name`. */
struct json_t;
int sl_opt_parse_json(sl_opt_type_t type, const char *name, const struct json_t *value,
                      int64_t *out, char *err, size_t errlen);
/*  For a check_option: the reason (printf) into err and the JSON Pointer
    `at` into where; returns SL_EINVAL. */
int sl_opt_check_fail(char *err, size_t errlen, char *where, size_t wherelen, const char *at,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/*  base + "/" + key as a JSON Pointer ('~' and '/' escaped, RFC 6901). */
void sl_opt_json_pointer(char *out, size_t len, const char *base, const char *key);

/*  Fill every option of `kind` that has a default into state. */
int sl_opt_apply_defaults(const sl_actor_kind_t *kind, void *state);
/*  Free the strings an options fill allocated in state. */
void sl_opt_free(const sl_actor_kind_t *kind, void *state);
const sl_opt_t *sl_opt_find(const sl_actor_kind_t *kind, const char *name);
const char *sl_opt_type_name(sl_opt_type_t type);

#endif
