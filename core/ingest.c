/*  The journal side of an ingest actor: hand journaled entries on in order,
    keep a cursor that trails them by the replay window, trim behind it.
    See sluice/ingest.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/ingest.h"
#include "sluice/log.h"

#define S_READ_MAX 1024     /* entries handed on per tick */
#define S_SAVE_EVERY 100000 /* us between two cursor stores */
#define S_TRIM_EVERY 1000000
#define S_TRIM_MAX 200000 /* entries deleted per trim commit */
#define S_SAMPLES 256     /* handed-on marks: 25 s of history at 100 ms */

struct sl_ingest {
    char name[128];
    char *path;
    sl_journal_t *j;
    int64_t window_us;
    int64_t retention_us;
    _Atomic uint64_t handed; /* last sequence handed on */
    uint64_t stored;         /* cursor stored durably */
    /* (when, handed) every S_SAVE_EVERY: the cursor to store is the newest
       mark at least a replay window old */
    int64_t mark_t[S_SAMPLES];
    uint64_t mark_seq[S_SAMPLES];
    int marks, mark_next;
    int64_t next_save, next_trim;
    uint64_t emitted, skipped;
    int stopped; /* sl_emit said the engine stops: hand on nothing more */
    sl_actor_t *a;
};

sl_ingest_t *sl_ingest_open(const sl_ingest_opts_t *o, char *err, size_t errlen)
{
    sl_ingest_t *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(in->name, sizeof in->name, "%s", o->name);
    in->window_us = o->replay_window_us;
    in->retention_us = o->retention_us;
    if (o->journal) {
        in->path = strdup(o->journal);
    } else if (asprintf(&in->path, "%s/journal-%s", o->store_path ? o->store_path : "var/sluice",
                        o->name) < 0) {
        in->path = NULL;
    }
    if (!in->path) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    sl_journal_opts_t jo = {.path = in->path, .map_size = o->map_size, .nosync = !o->fsync};
    in->j = sl_journal_open(&jo, err, errlen);
    if (!in->j) {
        goto fail;
    }
    uint64_t cursor = 0;
    int rc = sl_journal_cursor_get(in->j, in->name, &cursor);
    if (rc) {
        snprintf(err, errlen, "cannot read the journal cursor: %s", sl_strerror(rc));
        goto fail;
    }
    atomic_store(&in->handed, cursor);
    in->stored = cursor;
    uint64_t last = sl_journal_last(in->j);
    if (last > cursor) {
        sl_info(in->name, "replaying %llu journaled events after cursor %llu",
                (unsigned long long)(last - cursor), (unsigned long long)cursor);
    }
    return in;
fail:
    sl_journal_close(&in->j);
    free(in->path);
    free(in);
    return NULL;
}

sl_journal_t *sl_ingest_journal(sl_ingest_t *in)
{
    return in->j;
}

const char *sl_ingest_path(const sl_ingest_t *in)
{
    return in->path;
}

uint64_t sl_ingest_lag(sl_ingest_t *in)
{
    uint64_t last = sl_journal_last(in->j), handed = atomic_load(&in->handed);
    return last > handed ? last - handed : 0;
}

static int s_hand_on(void *arg, uint64_t seq, int64_t time_us, const void *data, size_t len)
{
    sl_ingest_t *in = arg;
    (void)time_us;
    sl_event_t ev;
    size_t used = 0;
    int rc = sl_event_decode(data, len, &used, &ev);
    if (rc == SL_OK && used == len) {
        rc = sl_emit(in->a, 0, &ev);
        if (rc == SL_ESTOPPED) {
            in->stopped = 1;
            return 1; /* not handed on: replayed at the next start */
        }
        in->emitted += rc == SL_OK;
    } else {
        /*  Only the actor writes its journal, from envelopes it encoded: a
            bad entry is a bug or a damaged file. Skipped, loudly. */
        in->skipped++;
        sl_error(in->name, "journal entry %llu is not an event (%s): skipped",
                 (unsigned long long)seq, sl_strerror(rc ? rc : SL_EPROTO));
        sl_actor_count_error(in->a);
    }
    atomic_store(&in->handed, seq);
    return 0;
}

/*  The cursor that may be stored at `now`: what was handed on a replay
    window ago. */
static uint64_t s_safe(const sl_ingest_t *in, int64_t now)
{
    for (int i = 1; i <= in->marks; i++) {
        int k = (in->mark_next - i + S_SAMPLES) % S_SAMPLES;
        if (now - in->mark_t[k] >= in->window_us) {
            return in->mark_seq[k] > in->stored ? in->mark_seq[k] : in->stored;
        }
    }
    return in->stored;
}

static void s_store_cursor(sl_ingest_t *in, uint64_t safe)
{
    if (safe <= in->stored) {
        return;
    }
    int rc = sl_journal_cursor_set(in->j, in->name, safe);
    if (rc == SL_OK) {
        in->stored = safe;
    } else {
        sl_warn(in->name, "cannot store the journal cursor: %s", sl_strerror(rc));
    }
}

int sl_ingest_tick(sl_ingest_t *in, sl_actor_t *a, int64_t wait_us)
{
    in->a = a;
    uint64_t handed = atomic_load(&in->handed);
    if (!in->stopped && sl_journal_wait(in->j, handed, wait_us) == SL_OK) {
        int n = sl_journal_read(in->j, handed, S_READ_MAX, s_hand_on, in);
        if (n < 0) {
            sl_error(in->name, "cannot read the journal: %s", sl_strerror(n));
        }
    }
    int64_t now = sl_mono_us();
    if (now >= in->next_save) {
        in->next_save = now + S_SAVE_EVERY;
        in->mark_t[in->mark_next] = now;
        in->mark_seq[in->mark_next] = atomic_load(&in->handed);
        in->mark_next = (in->mark_next + 1) % S_SAMPLES;
        in->marks += in->marks < S_SAMPLES;
        s_store_cursor(in, s_safe(in, now));
    }
    if (now >= in->next_trim) {
        in->next_trim = now + S_TRIM_EVERY;
        int rc =
            sl_journal_trim(in->j, in->stored, sl_now_us() - in->retention_us, S_TRIM_MAX, NULL);
        if (rc) {
            sl_warn(in->name, "cannot trim the journal: %s", sl_strerror(rc));
        }
    }
    return SL_OK;
}

void sl_ingest_close(sl_ingest_t **inp)
{
    sl_ingest_t *in = *inp;
    if (!in) {
        return;
    }
    /*  Conservative: what was handed on in the last replay window is handed
        on again at the next start. */
    s_store_cursor(in, s_safe(in, sl_mono_us()));
    sl_info(in->name, "stopped: %llu events handed on, cursor %llu, journal at %llu",
            (unsigned long long)in->emitted, (unsigned long long)in->stored,
            (unsigned long long)sl_journal_last(in->j));
    sl_journal_close(&in->j);
    free(in->path);
    free(in);
    *inp = NULL;
}
