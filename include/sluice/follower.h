/*  sluice/follower.h: following the store's change log by cursor.

    An actor that consumes `store.changes` (lineage walker, notifiers, a
    mirror) gets change events pushed to it, but that output is durable: it
    never blocks the store, so a slow consumer loses pushed batches, and a
    restarted one missed whatever was pushed while it was down. The follower
    makes that safe. Feed it every change event received; it hands the
    actor's callback each change exactly in log order, per tenant:

      seq == cursor + 1   handed on;
      seq >  cursor + 1   the gap is read from the log first (in order),
                          then the event is handed on;
      seq <= cursor       already handled: skipped.

    The cursor (the last seq handled, per tenant) is persisted in the store
    (sl_store_cursor_set, under the consumer's name) every `persist_every`
    changes or `persist_us` microseconds, and on flush/destroy. At start,
    sl_follower_catch_up() reads the log from the persisted cursor to its
    end. After a crash the changes after the last persisted cursor are
    handed on again: at-least-once, in order; make the callback idempotent.

    A follower belongs to one thread (the actor instance's). It must not be
    fed from inside an open store batch of the same thread (cursor writes
    take LMDB's writer lock). */
#ifndef SLUICE_FOLLOWER_H
#define SLUICE_FOLLOWER_H

#include "sluice/common.h"
#include "sluice/event.h"
#include "sluice/store.h"

typedef struct sl_follower sl_follower_t;

/*  Called once per change, in seq order per tenant. `change` is an event of
    kind "change" (slices valid during the call only). A negative return
    stops delivery there: the cursor stays before this change, the caller of
    feed/catch_up gets the code, and the change is handed on again later
    (from the log at the next feed or catch-up). */
typedef int (*sl_follower_fn)(void *arg, const char *tenant, uint64_t seq,
                              const sl_event_t *change);

typedef struct {
    const char *consumer;   /* cursor name, required (e.g. the actor name) */
    const char *tenant;     /* follow only this tenant; NULL = every tenant */
    uint64_t persist_every; /* persist after this many changes (0 = 1000) */
    int64_t persist_us;     /* ... or after this long (0 = 1 s) */
    /*  Optional: the log no longer holds the changes after `after` up to
        `next` - 1 (trimmed by the store's change-log retention while this
        consumer was away or before it first ran). Called before change
        `next` is handed on; the consumer makes up for them (e.g. a full
        recomputation) and returns >= 0 to go on, negative to stop. Without
        it such a gap is SL_ESTATE. */
    int (*on_gap)(void *arg, const char *tenant, uint64_t after, uint64_t next);
    int manual; /* 1: persist only in sl_follower_flush, never on
                   its own nor at destroy: for a consumer whose
                   work on a change completes later (it flushes
                   once that work is durable) */
} sl_follower_opts_t;

/*  A follower on `store` (borrowed: must outlive the follower). NULL on
    SL_ENOMEM or a missing consumer name. Nothing is read until catch_up or
    the first feed. */
sl_follower_t *sl_follower_new(sl_store_t *store, const sl_follower_opts_t *opts, sl_follower_fn fn,
                               void *arg);

/*  Flush the cursors (errors ignored) and free. Safe twice; NULLs *f. */
void sl_follower_destroy(sl_follower_t **f);

/*  Read the log from each tenant's persisted cursor to its end (every
    tenant with data, or opts->tenant) and hand each change on. Returns the
    number of changes handed on, or a negative SL_E* code (store error, or
    the callback's). */
int64_t sl_follower_catch_up(sl_follower_t *f);

/*  Feed one event received from `store.changes`. Events of another kind or
    another tenant (with opts->tenant) are ignored (SL_OK). SL_EPROTO if a
    change event has no numeric body.seq; SL_ESTATE if the log does not hold
    the gap before it; otherwise the store's or the callback's code. */
int sl_follower_feed(sl_follower_t *f, const sl_event_t *change);

/*  Persist the cursors if persist_us passed since the last persist (call
    from the actor's tick). */
int sl_follower_tick(sl_follower_t *f);

/*  Persist every cursor that moved, now. */
int sl_follower_flush(sl_follower_t *f);

/*  The last seq handed on for `tenant` (0 if none). */
uint64_t sl_follower_cursor(const sl_follower_t *f, const char *tenant);

/*  Read body.seq of a change event. SL_EPROTO if missing or not an
    unsigned integer. */
int sl_change_seq(const sl_event_t *change, uint64_t *seq);
/*  Read a string field of a change record's body ("entity", "op", "key",
    "event_id"): *out points into the event (valid as long as it is).
    SL_ENOTFOUND if missing, SL_EPROTO if not a string. */
int sl_change_str(const sl_event_t *change, const char *field, sl_slice_t *out);

#endif
