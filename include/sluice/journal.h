/*  sluice/journal.h: a durable append-only journal (LMDB) with group commit
    and per-consumer cursors. HTTP ingest writes every accepted event here
    before it answers 2xx ("Durable before acknowledged", DESIGN.md).

    One journal is one LMDB environment of its own (a directory), opened
    once per process: two named databases, "entries" (key: big-endian
    uint64 sequence, value: 8-byte big-endian append time in microseconds
    then the entry's bytes) and "cursors" (consumer name -> big-endian
    uint64 sequence, the last entry the consumer is done with).
    core/journal.c is the only module of the journal that includes lmdb.h.

    Group commit: any number of threads call sl_journal_append at once.
    Each one queues its entries (sequences are assigned at once, so one
    call's entries are consecutive and calls are ordered) and waits. The
    first waiter that finds no commit running becomes the writer for every
    entry queued so far: one write transaction, one fsync, then it wakes
    the whole group. While it commits, the next group fills. No thread of
    its own, no timer: under load a commit covers every request that
    arrived during the previous one; alone, a request pays one fsync.

    Sequences start at 1 and only grow; a failed commit leaves a gap (its
    appenders got the error and answered it, so nothing was promised).
    Every function is thread-safe. */
#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stdint.h>

#include "sluice/common.h"

typedef struct sl_journal sl_journal_t;

typedef struct {
    const char *path; /* directory, created with its parents if missing */
    int64_t map_size; /* LMDB map size in bytes (default 1 GiB) */
    int nosync;       /* 1: no fsync at commit (tests, benchmarks only) */
} sl_journal_opts_t;

/*  Open (or create) the journal at opts->path. NULL with a reason in err:
    the directory cannot be made, LMDB refuses (map size, permissions),
    or out of memory. */
sl_journal_t *sl_journal_open(const sl_journal_opts_t *opts, char *err, size_t errlen);

/*  Wake every waiter (appends then return SL_ESTOPPED, waits return),
    close the environment, free. The caller makes sure no thread is still
    inside another call (stop the HTTP server first). Safe twice; NULLs
    the pointer. */
void sl_journal_close(sl_journal_t **j);

/*  Append n entries (each 1 byte .. 16 MiB) and wait until the commit
    that holds them is durable. *first_seq (may be NULL) receives the
    sequence of entries[0]; entry i has *first_seq + i.
    SL_EINVAL (n < 1 or a bad length), SL_EFULL (the map is full: nothing
    of this group was written), SL_EIO (commit failed), SL_ENOMEM,
    SL_ESTOPPED (closing). On any error nothing of the call is durable. */
int sl_journal_append(sl_journal_t *j, const sl_slice_t *entries, int n, uint64_t *first_seq);

/*  Highest durable sequence (0 if none yet). */
uint64_t sl_journal_last(sl_journal_t *j);

/*  Wait until an entry after `after` is durable, at most timeout_us.
    SL_OK if there is one, SL_ETIMEDOUT, SL_ESTOPPED if closing. */
int sl_journal_wait(sl_journal_t *j, uint64_t after, int64_t timeout_us);

/*  Called per entry by sl_journal_read; data is valid during the call
    only (it points into the LMDB map). Return 0 to go on, non-zero to
    stop (that entry counts as not visited). */
typedef int (*sl_journal_fn)(void *arg, uint64_t seq, int64_t time_us, const void *data,
                             size_t len);

/*  Visit durable entries with sequence > after, in order, at most max.
    Returns the number visited, or SL_EIO. */
int sl_journal_read(sl_journal_t *j, uint64_t after, int max, sl_journal_fn fn, void *arg);

/*  A consumer's cursor: 0 if it has none. Names are 1..255 bytes. */
int sl_journal_cursor_get(sl_journal_t *j, const char *name, uint64_t *seq);
/*  Store a consumer's cursor durably (its own commit). SL_EINVAL, SL_EFULL,
    SL_EIO. */
int sl_journal_cursor_set(sl_journal_t *j, const char *name, uint64_t seq);

/*  Delete entries with sequence <= upto that were appended before
    `before_us` (wall clock), oldest first, at most max of them in one
    commit. *removed (may be NULL) receives how many. SL_EIO. The caller
    passes the lowest cursor of every consumer as upto. */
int sl_journal_trim(sl_journal_t *j, uint64_t upto, int64_t before_us, uint64_t max,
                    uint64_t *removed);

/*  Entries held now and the lowest held sequence (0 if empty). */
int sl_journal_stats(sl_journal_t *j, uint64_t *count, uint64_t *first);

#endif
