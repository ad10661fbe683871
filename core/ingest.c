/*  The journal side of an ingest actor: hand journaled entries on in order,
    send journal marks after them, replay and trim by what the confirmers
    (the store) confirmed, or, without confirmers, by a cursor that trails
    what was handed on by the replay window. See sluice/ingest.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/ingest.h"
#include "sluice/log.h"
#include "sluice/metrics.h"

#define S_READ_MAX 1024     /* entries handed on per tick */
#define S_SAVE_EVERY 100000 /* us between two cursor stores */
#define S_TRIM_EVERY 1000000
#define S_TRIM_MAX 200000  /* entries deleted per trim commit */
#define S_SAMPLES 256      /* handed-on marks: 25 s of history at 100 ms */
#define S_MARK_EVERY 10000 /* us: at most one journal mark per 10 ms */

struct sl_ingest {
    char name[128];
    char *path;
    sl_journal_t *j;
    int64_t window_us;
    int64_t redeliver_us;
    int64_t retention_us;
    _Atomic uint64_t handed; /* last sequence handed on */
    uint64_t stored;         /* cursor stored durably (without confirmers) */
    /* (when, handed) every S_SAVE_EVERY: the cursor to store is the newest
       mark at least a replay window old */
    int64_t mark_t[S_SAMPLES];
    uint64_t mark_seq[S_SAMPLES];
    int marks, mark_next;
    int64_t next_save, next_trim;
    uint64_t emitted, skipped;
    int stopped; /* sl_emit said the engine stops: hand on nothing more */
    sl_actor_t *a;
    /* confirmation */
    uint64_t marked;    /* last sequence a journal mark was sent for */
    int64_t marked_t;   /* when */
    uint64_t confirmed; /* lowest confirmation of the confirmers */
    int64_t confirm_t;  /* when it last advanced, or nothing was outstanding */
    int flush_failed;
};

static int s_confirming(const sl_ingest_t *in)
{
    return in->a && sl_actor_confirmers(in->a)[0] != NULL;
}

/*  The lowest confirmation of the actor's confirmers into *low (0 if one
    has none): their number, or a negative error. */
static int s_lowest(sl_ingest_t *in, uint64_t *low)
{
    *low = 0;
    if (!in->a) {
        return 0;
    }
    const char *const *cf = sl_actor_confirmers(in->a);
    int n = 0;
    for (; cf[n]; n++) {
        uint64_t c = 0;
        int rc = sl_journal_cursor_get(in->j, cf[n], &c);
        if (rc) {
            return rc;
        }
        *low = n == 0 || c < *low ? c : *low;
    }
    return n;
}

static void s_gauges(sl_ingest_t *in, uint64_t upto)
{
    uint64_t held = 0, first = 0;
    if (sl_journal_stats(in->j, &held, &first) == SL_OK) {
        sl_metrics_journal(in->name, held, sl_journal_last(in->j), upto);
    }
}

sl_ingest_t *sl_ingest_open(const sl_ingest_opts_t *o, char *err, size_t errlen)
{
    sl_ingest_t *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(in->name, sizeof in->name, "%s", o->name);
    in->window_us = o->replay_window_us;
    in->redeliver_us = o->redeliver_us;
    in->retention_us = o->retention_us;
    in->a = o->actor;
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
    /*  With confirmers, replay from the lowest confirmation; else from this
        actor's own (trailing) cursor. */
    uint64_t cursor = 0, held = 0, first = 0;
    int rc = s_lowest(in, &cursor);
    int confirmers = rc;
    if (rc == 0) {
        rc = sl_journal_cursor_get(in->j, in->name, &cursor);
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot read the journal cursor: %s", sl_strerror(rc));
        goto fail;
    }
    atomic_store(&in->handed, cursor);
    in->stored = cursor;
    in->confirmed = cursor;
    in->confirm_t = sl_mono_us();
    uint64_t last = sl_journal_last(in->j);
    sl_journal_stats(in->j, &held, &first);
    sl_metrics_journal(in->name, held, last, cursor);
    if (last > cursor) {
        sl_info(in->name,
                "replaying %llu journaled events after cursor %llu (%s); journal holds %llu "
                "entries",
                (unsigned long long)(last - cursor), (unsigned long long)cursor,
                confirmers > 0 ? "the lowest confirmation of its confirmers" : "its own cursor",
                (unsigned long long)held);
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

/*  After what was handed on: a journal mark, for the confirmers. */
static void s_mark(sl_ingest_t *in, int64_t now)
{
    uint64_t h = atomic_load(&in->handed);
    if (h > in->marked && now - in->marked_t >= S_MARK_EVERY && s_confirming(in)) {
        int rc = sl_emit_mark(in->a, sl_journal_id(in->j), h);
        if (rc == SL_OK) {
            in->marked = h;
            in->marked_t = now;
        } else if (rc == SL_ESTOPPED) {
            in->stopped = 1;
        }
    }
}

/*  Confirmations: written down (under load the journal's group commits
    carry them already), the lowest taken as the trim point, and handed on
    again from it after a stall of `redeliver`. */
static void s_confirmations(sl_ingest_t *in, int64_t now)
{
    int rc = sl_journal_flush(in->j);
    if (rc && !in->flush_failed) {
        sl_warn(in->name, "cannot store journal confirmations: %s", sl_strerror(rc));
    }
    in->flush_failed = rc != SL_OK;
    uint64_t low = 0;
    if (s_lowest(in, &low) < 0) {
        return;
    }
    uint64_t h = atomic_load(&in->handed);
    if (low != in->confirmed || h <= low) {
        in->confirm_t = now;
    }
    in->confirmed = low;
    if (in->redeliver_us > 0 && h > low && now - in->confirm_t >= in->redeliver_us) {
        sl_warn(in->name,
                "no journal confirmation for %lld s while %llu handed-on events are "
                "unconfirmed: handing them on again from sequence %llu",
                (long long)(in->redeliver_us / 1000000), (unsigned long long)(h - low),
                (unsigned long long)(low + 1));
        atomic_store(&in->handed, low);
        in->marked = low; /* and marked again after them */
        in->confirm_t = now;
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
    int confirming = s_confirming(in);
    if (!in->stopped) {
        s_mark(in, now);
    }
    if (now >= in->next_save) {
        in->next_save = now + S_SAVE_EVERY;
        if (confirming) {
            s_confirmations(in, now);
        } else {
            in->mark_t[in->mark_next] = now;
            in->mark_seq[in->mark_next] = atomic_load(&in->handed);
            in->mark_next = (in->mark_next + 1) % S_SAMPLES;
            in->marks += in->marks < S_SAMPLES;
            s_store_cursor(in, s_safe(in, now));
        }
        s_gauges(in, confirming ? in->confirmed : in->stored);
    }
    if (now >= in->next_trim) {
        in->next_trim = now + S_TRIM_EVERY;
        uint64_t upto = confirming ? in->confirmed : in->stored;
        int rc = sl_journal_trim(in->j, upto, sl_now_us() - in->retention_us, S_TRIM_MAX, NULL);
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
    if (s_confirming(in)) {
        /*  The store may still confirm its last batch after this: the
            journal stays open until it lets go, and its last close writes
            that confirmation. */
        uint64_t low = 0, held = 0, first = 0;
        sl_journal_flush(in->j);
        s_lowest(in, &low);
        sl_journal_stats(in->j, &held, &first);
        sl_info(in->name,
                "stopped: %llu events handed on, journal at %llu, confirmed up to %llu, %llu "
                "entries held",
                (unsigned long long)in->emitted, (unsigned long long)sl_journal_last(in->j),
                (unsigned long long)low, (unsigned long long)held);
    } else {
        /*  Conservative: what was handed on in the last replay window is
            handed on again at the next start. */
        s_store_cursor(in, s_safe(in, sl_mono_us()));
        sl_info(in->name, "stopped: %llu events handed on, cursor %llu, journal at %llu",
                (unsigned long long)in->emitted, (unsigned long long)in->stored,
                (unsigned long long)sl_journal_last(in->j));
    }
    sl_journal_close(&in->j);
    free(in->path);
    free(in);
    *inp = NULL;
}
