/*  sluice/ingest.h: what an ingest actor does between the journal and its
    output ("durable before acknowledged", DESIGN.md).

    An ingest source (zmq_ingest; docs/zmq_ingest.md) appends what it accepts
    to its own journal (sluice/journal.h), answers the sender once the
    commit is durable, and hands the journaled entries on in order from its
    actor thread. This module is that second half: it opens the journal,
    emits new entries (sl_ingest_tick), and decides what a restart replays
    and what is trimmed.

    With confirmers (a store downstream; the kind is SL_KIND_MARKS, see
    sluice/actor.h): it sends a journal mark after what it handed on (at
    most every 10 ms); each confirmer confirms the mark into the journal
    after the commit that covers it. A restart hands on again everything
    after the lowest confirmation, entries are trimmed up to it (plus the
    retention), and when confirmations stall for `redeliver` while
    handed-on events are unconfirmed (a store on another node died with
    them), those are handed on again. Without confirmers the stored cursor
    trails what was handed on by the replay window instead: on start every
    entry handed on during that window before the stop is handed on again
    (the store drops duplicates by event id). docs/ingest.md
    "Confirmation" is the reference.

    The journal may be appended to from any thread; every other call is
    the actor thread's. docs/RATIONALE.md ("Ingest: a journal per ingest
    actor") says why. */
#ifndef SLUICE_INGEST_H
#define SLUICE_INGEST_H

#include <stdint.h>

#include "sluice/actor.h"
#include "sluice/journal.h"

typedef struct sl_ingest sl_ingest_t;

/*  The journal options of an ingest kind's config map (in a `{...}` list
    of sl_opt_t), for a state type T with the fields journal (char *),
    max_lag, replay_window_us, redeliver_us, retention_us, map_size
    (int64_t) and fsync (int): the same names, defaults and meaning for
    every ingest kind. */
/* clang-format off */
#define SL_INGEST_OPTIONS(T)                                                          \
    {"journal", SL_OPT_STR, NULL, offsetof(T, journal), 0,                            \
     "journal directory (its own LMDB environment); default: <store path>/journal-"   \
     "<actor name>"},                                                                 \
    {"max_lag", SL_OPT_INT, "200000", offsetof(T, max_lag), 0,                        \
     "events journaled but not yet handed on; past it requests are refused (retry "   \
     "later)"},                                                                       \
    {"replay_window", SL_OPT_DURATION, "2s", offsetof(T, replay_window_us), 0,        \
     "only without a store downstream (nothing confirms): the stored cursor trails "  \
     "what was handed on by this long, and on start events handed on that recently "  \
     "are handed on again"},                                                          \
    {"redeliver", SL_OPT_DURATION, "30s", offsetof(T, redeliver_us), 0,               \
     "when the store's confirmations stall this long, the unconfirmed events are "    \
     "handed on again (a store on another node lost them in a crash); 0s: never"},    \
    {"retention", SL_OPT_DURATION, "0s", offsetof(T, retention_us), 0,                \
     "how long entries are kept after every confirmer confirmed them (or, without "   \
     "one, the stored cursor passed them)"},                                          \
    {"map_size", SL_OPT_SIZE, "1GiB", offsetof(T, map_size), 0,                       \
     "LMDB map size of the journal; when full, requests are refused until entries "   \
     "are trimmed"},                                                                  \
    {"fsync", SL_OPT_BOOL, "true", offsetof(T, fsync), 0,                             \
     "fsync every group commit (false: a power loss may lose acknowledged events)"}
/* clang-format on */

/*  The sl_ingest_opts_t of a state made with SL_INGEST_OPTIONS (pointer s,
    with a `name` string), for actor a. */
#define SL_INGEST_OPTS(s, a)                                                                       \
    ((sl_ingest_opts_t){.name = (s)->name,                                                         \
                        .journal = (s)->journal,                                                   \
                        .store_path = sl_actor_store_path(a),                                      \
                        .map_size = (s)->map_size,                                                 \
                        .fsync = (s)->fsync,                                                       \
                        .replay_window_us = (s)->replay_window_us,                                 \
                        .redeliver_us = (s)->redeliver_us,                                         \
                        .retention_us = (s)->retention_us,                                         \
                        .actor = (a)})

typedef struct {
    const char *name;         /* actor name: the cursor's name and logs */
    const char *journal;      /* directory; NULL = <store path>/journal-<name> */
    const char *store_path;   /* the topology's (NULL: var/sluice) */
    int64_t map_size;         /* LMDB map size of the journal */
    int fsync;                /* fsync every commit */
    int64_t replay_window_us; /* without confirmers: the stored cursor trails by this long */
    int64_t redeliver_us;     /* with confirmers: hand on again after a stall this long */
    int64_t retention_us;     /* entries kept this long after the cursor passed */
    sl_actor_t *actor;        /* the ingest actor: its confirmers (NULL: none) */
} sl_ingest_opts_t;

/*  Open the journal and read where to replay from (the lowest confirmation
    of the actor's confirmers, else its own cursor). NULL with a reason in
    err (the journal cannot be opened, or out of memory). */
sl_ingest_t *sl_ingest_open(const sl_ingest_opts_t *opts, char *err, size_t errlen);

/*  The journal, for appends from any thread. Valid until close. */
sl_journal_t *sl_ingest_journal(sl_ingest_t *in);
/*  Its directory. */
const char *sl_ingest_path(const sl_ingest_t *in);

/*  Entries journaled but not yet handed on (any thread). */
uint64_t sl_ingest_lag(sl_ingest_t *in);

/*  Wait up to wait_us for new entries, emit them on output 0 of `a` (at
    most 1024 per call), send a journal mark when due, then write the
    confirmations (or the cursor), hand on again after a stall, trim, and
    set the journal gauges (sluice_journal_*) when due. SL_OK; an entry
    that is not an event is skipped and counted as an error. */
int sl_ingest_tick(sl_ingest_t *in, sl_actor_t *a, int64_t wait_us);

/*  Write the confirmations (or store the cursor: what was handed on a
    replay window ago), log a summary, close the journal (a confirmer may
    still hold it and confirm its last batch), free. Safe twice; NULLs the
    pointer. */
void sl_ingest_close(sl_ingest_t **in);

#endif
