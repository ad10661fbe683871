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
    Every function is thread-safe.

    Consumers confirm. A consumer that applied entries durably (the store
    actor, after its batch commit) calls sl_journal_confirm: the value is
    kept in memory (a monotonic maximum, no write on the caller's path)
    and written to "cursors" by sl_journal_flush (the owner calls it
    periodically) and at the last close. The owner replays what is after
    the lowest confirmed cursor and trims up to it. A confirmation lost
    in a crash only makes the replay longer: every apply is idempotent.

    One object per directory per process. LMDB forbids opening one
    environment twice in a process, and a consumer may still confirm
    after the owner closed (the store commits its last batch after the
    ingest actor stopped): so the journal is reference counted and kept
    in a process-wide registry. Opening a directory that is open already
    returns the same object (its first opener's options); a consumer
    takes a reference by the journal's id (sl_journal_find); the last
    sl_journal_close flushes the confirmations and closes. Each journal
    has an id (a UUID made when its directory was created, in database
    "meta"), which marks and confirmations carry across nodes, so a
    confirmation meant for an earlier journal at the same path is never
    applied to a new one. */
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

/*  Open (or create) the journal at opts->path, or take a new reference
    on it if this process has it open already (the options of that first
    open stay). NULL with a reason in err: the directory cannot be made,
    LMDB refuses (map size, permissions), or out of memory. */
sl_journal_t *sl_journal_open(const sl_journal_opts_t *opts, char *err, size_t errlen);

/*  Drop a reference; the last one flushes the confirmations, wakes every
    waiter (appends then return SL_ESTOPPED, waits return), closes the
    environment and frees. The caller makes sure no thread is still
    inside another call through this reference (stop the HTTP server
    first). Safe twice; NULLs the pointer. */
void sl_journal_close(sl_journal_t **j);

/*  The journal's id: 36 characters of UUID text, NUL-terminated, valid
    as long as the reference. */
const char *sl_journal_id(const sl_journal_t *j);

/*  A new reference on the journal with this id if this process has it
    open, else NULL. Release it with sl_journal_close. */
sl_journal_t *sl_journal_find(const char *id);

/*  Consumer `name` has durably applied every entry up to and including
    seq. In memory until sl_journal_flush; a seq at or below the one held
    is ignored (SL_OK). SL_EINVAL (name not 1..255 bytes), SL_ERANGE (seq
    beyond the last durable entry: nobody can have applied it), SL_EFULL
    (more than SL_JOURNAL_CONSUMERS consumers). */
#define SL_JOURNAL_CONSUMERS 32
int sl_journal_confirm(sl_journal_t *j, const char *name, uint64_t seq);

/*  Write every confirmation that advanced since the last flush to
    "cursors", in one commit (none if nothing advanced). SL_EIO, SL_EFULL. */
int sl_journal_flush(sl_journal_t *j);

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

/*  A consumer's cursor: the stored one, or its confirmation in memory if
    that is higher; 0 if it has none. Names are 1..255 bytes. */
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
