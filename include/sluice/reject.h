/*  sluice/reject.h: what an actor does with an event it rejects (a schema
    refuses it): counts it, logs it rate-limited, and writes it as a dead
    letter to the topology's store when there is one.

    The store is opened at the first rejection, not at init: sl_store_open
    shares one handle per path whose options the first opener sets, and the
    store actor (with its options) should be that opener.

    Logging: up to log_per_sec rejections a second are logged one by one
    (a warning with the event id, tenant, kind and reason as fields); the
    rest are counted and summarised as "N more events <what> (not logged one
    by one)" at the next second's first rejection and at sl_reject_close.

    Not thread-safe: one per actor instance (each worker its own). */
#ifndef SLUICE_REJECT_H
#define SLUICE_REJECT_H

#include <stdint.h>

#include "sluice/event.h"
#include "sluice/store.h"

/*  Rejections logged one by one per second by default. */
#define SL_REJECT_LOG_PER_SEC 100

typedef struct {
    const char *actor;      /* log and dead-letter actor name (borrowed) */
    const char *store_path; /* NULL: no dead letters (borrowed) */
    const char *what;       /* in the log: "<what> ID (KIND): REASON" */
    int log_per_sec;        /* may be changed after init */
    sl_store_t *store;
    int store_failed; /* the open failed once: not retried */
    uint64_t rejected, dead_letters, dead_letter_errors;
    int64_t log_second;
    int log_count;
    uint64_t log_suppressed; /* not yet summarised */
} sl_reject_t;

/*  Set up `r` (any previous contents ignored). `actor`, `store_path` (NULL:
    no store) and `what` (NULL: "rejected") are borrowed and must outlive
    `r`, as the actor's name and store path do. */
void sl_reject_init(sl_reject_t *r, const char *actor, const char *store_path, const char *what);

/*  Count, log and dead-letter one rejected event. SL_OK, also when there is
    no store or it could not be opened (logged once as an error); else the
    error of sl_store_dead_letter_from (SL_EINVAL, SL_EFULL, SL_EIO), logged
    and counted in dead_letter_errors: the caller may count it as an actor
    error. The event stays the caller's. */
int sl_reject_event(sl_reject_t *r, const sl_event_t *ev, const char *reason);

/*  Log the rejections not yet summarised and close the store handle. The
    counters stay readable; safe twice. */
void sl_reject_close(sl_reject_t *r);

#endif
