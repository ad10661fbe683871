/*  sluice/harness.h: unit tests for a topology (`sluice test`).

    As `vector test` does for Vector: a tests file lists tests; each injects
    events at named actors and asserts what comes out of others.

      tests:
        - name: pii tags pass through
          inputs:
            - actor: tagger                  # events go into tagger's input
              events:
                - {"tenant": "acme", "kind": "tag.set",
                   "body": {"qualified_name": "db.s.t", "tag": "pii"}}
          outputs:
            - actor: tagger                  # or tagger.OUTPUT
              conditions:
                - {count: 1}
                - {field: body.tag, equals: pii}
                - {field: key, exists: true}
                - {field: body.secret, absent: true}
                - {event: 0, field: kind, equals: tag.set}
          no_output: [rejects.rejected]      # nothing comes out of these

    Events are event API objects (JSON or YAML maps, docs/events.md).
    Fields are dotted paths over the event's JSON form (tenant, kind, key,
    source, hops, body.a.b, body.list.0 ...). A field condition holds for
    every event captured (and needs at least one), or with `event: N` for the
    N-th (0-based) only. `count` is the number of events captured.

    Running a test builds a derived plan in memory: only the actors on a path
    from an injection point to an asserted actor run, in-process, with their
    real kind and options; an injected actor that is a source (an HTTP
    ingest, say) is replaced by a reader of the test's events, any other
    injected actor gets such a reader as an extra input; each asserted output
    feeds a capture sink. Readers and sinks are the jsonl_in and jsonl_out
    kinds over files in a temporary directory, which also holds the store
    when a store actor runs. The engine drains when the readers are done:
    the captured events are then compared with the conditions. */
#ifndef SLUICE_HARNESS_H
#define SLUICE_HARNESS_H

#include "sluice/common.h"
#include "sluice/topology.h"

typedef struct sl_harness sl_harness_t;

/*  Parse the tests file `path` and resolve its actor and output names
    against `plan` (borrowed; it must outlive the harness). Returns the
    harness, or NULL with every problem in `errors` as FILE:LINE:COL lines
    (the caller frees them). */
sl_harness_t *sl_harness_load(const char *path, const sl_plan_t *plan, sl_errors_t *errors);

int sl_harness_count(const sl_harness_t *h);
const char *sl_harness_name(const sl_harness_t *h, int i);

/*  Run test i on a fresh engine. Returns 1 if it passed, 0 if it failed
    (an engine that does not start or drain within timeout_ms fails the
    test); a readable report of every failed condition, expected against
    got, is appended to `report`. SL_ENOMEM / SL_EIO when the test could
    not be set up (temporary directory, files). */
int sl_harness_run(sl_harness_t *h, int i, int timeout_ms, sl_buf_t *report);

void sl_harness_destroy(sl_harness_t **h);

/*  Options of sl_harness_inject (a zeroed struct, or NULL, for defaults). */
typedef struct {
    /*  Where the store runs: NULL, a store in the temporary directory (as
        for a test); else this path, e.g. the topology's real store, so what
        the events do is kept (LMDB takes a second process writing beside a
        running `sluice run`, one write transaction at a time). */
    const char *store_path;
    int timeout_ms; /* to drain; 0: 30 s */
} sl_harness_opts_t;

/*  Run actor `actor` of `plan` and every actor downstream of it (reachable
    through inputs; sources excluded), in-process, with no captures: the
    events `ndjson` (event API JSON, one per line, `len` bytes) are injected
    at `actor` through a jsonl_in reading a temporary file, then the engine
    drains. Sinks downstream write where the topology says (for `sluice dlq
    replay`). Returns SL_OK once drained; SL_ENOTFOUND (no such actor),
    SL_EINVAL (the actor is a source), SL_EIO (temporary file), SL_ENOMEM,
    SL_ETIMEDOUT (did not start or drain in time); `report` gets a line
    saying why. */
int sl_harness_inject(const sl_plan_t *plan, const char *actor, const char *ndjson, size_t len,
                      const sl_harness_opts_t *opts, sl_buf_t *report);

#endif
