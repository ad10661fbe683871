/*  store: applies events to the metadata store (LMDB) in batches and emits
    the resulting change records on `changes`.

    One write transaction per batch, committed at batch_events events, when
    the input runs dry (idle), or batch_us after the batch began (tick),
    whichever comes first: at low rates nothing waits for a timer, at high
    rates one fsync covers many events (docs/RATIONALE.md, "Batched store
    commits"). Change records are read back from the log and emitted only
    after their commit, so nothing is ever pushed that a crash could undo;
    what is pushed before a crash and lost is read by followers from the
    log by their cursor (the output is durable: it never blocks).

    One instance per store: LMDB has one writer, and per-tenant emission
    order comes from this instance's view of the log, so workers > 1 is
    refused at init.

    Journal marks (docs/ingest.md "Confirmation"): a mark says everything
    its origin emitted before it has been handled here. It is confirmed
    back to the origin's journal at once if no batch is open, else after
    the commit of the open batch; so a confirmed entry is durable in the
    store. Once events were refused (full map, failed commit) nothing is
    confirmed any more until a restart: those events stay in the journal
    and are replayed. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/store.h"

#define S_MARKS 8 /* origins with a mark waiting for the open batch's commit */

typedef struct {
    char origin[128];
    uint64_t seq;
} s_pending_mark_t;

/*  Per tenant: the last seq emitted, and whether this batch changed it. */
typedef struct {
    char *tenant;
    uint64_t emitted;
    int touched;
} s_tenant_t;

typedef struct {
    char *path;
    int64_t batch_events;
    int64_t batch_us;
    int fsync;
    int64_t map_size;
    int64_t retention;
    int64_t changes_retention;
    int keep_changes;
    int graph_cache;
    int isolated;
    sl_strlist_t tenants;
    /* run state */
    const char *name;
    sl_store_t *store;
    sl_store_batch_t *batch;
    int64_t batch_n;     /* events applied in the open batch */
    int64_t batch_start; /* monotonic us when it began */
    int64_t batch_dead;  /* dead letters in the open batch */
    char dead_reason[256];
    s_tenant_t *ts;
    int n_ts;
    int cap_ts;
    int full;        /* the store refuses writes (map full) */
    int64_t refused; /* events refused since the last log line */
    int64_t refused_logged;
    uint64_t commits;     /* batches committed, for the exit summary */
    uint64_t applied;     /* events in them */
    const char **allowed; /* NULL-terminated tenants for the store */
    s_pending_mark_t marks[S_MARKS];
    int n_marks;
    int unconfirming; /* events were refused: confirm nothing more */
    uint64_t confirmed;
} s_store_t;

static s_tenant_t *s_tenant(s_store_t *s, const char *t, size_t len)
{
    for (int i = 0; i < s->n_ts; i++) {
        if (strlen(s->ts[i].tenant) == len && memcmp(s->ts[i].tenant, t, len) == 0) {
            return &s->ts[i];
        }
    }
    if (s->n_ts == s->cap_ts) {
        int cap = s->cap_ts ? s->cap_ts * 2 : 8;
        s_tenant_t *n = realloc(s->ts, (size_t)cap * sizeof *n);
        if (!n) {
            return NULL;
        }
        s->ts = n;
        s->cap_ts = cap;
    }
    char *name = strndup(t, len);
    if (!name) {
        return NULL;
    }
    /*  A tenant not known at init has no data, so no log yet: its first
        change is seq 1 (this instance is the store's only writer). */
    s->ts[s->n_ts] = (s_tenant_t){.tenant = name, .emitted = 0, .touched = 0};
    return &s->ts[s->n_ts++];
}

#define S_REFUSED_LOG_US (10 * 1000000) /* at most one "refused" line per 10 s */

/*  The map is full: say so once, clearly, and report unhealthy. */
static void s_set_full(s_store_t *s)
{
    if (s->full) {
        return;
    }
    s->full = 1;
    char reason[256] = "";
    sl_store_health(s->store, reason, sizeof reason);
    char text[512];
    if (reason[0]) {
        snprintf(text, sizeof text, "%s", reason);
    } else {
        snprintf(text, sizeof text,
                 "store %s is full (map_size %lld bytes): writes refused until restarted with a "
                 "larger map_size",
                 s->path, (long long)s->map_size);
    }
    sl_error(s->name, "%s; reads keep working, refused events are counted as errors", text);
    sl_health_set(s->name, text);
}

/*  Events were not applied: their journal entries must be replayed, so
    from now on no mark is confirmed. */
static void s_stop_confirming(s_store_t *s)
{
    if (!s->unconfirming) {
        s->unconfirming = 1;
        s->n_marks = 0;
        sl_warn(s->name, "events were refused: journal confirmations stop until a restart, so "
                         "the journal keeps them for replay");
    }
}

/*  Count events that were not applied (refused on a full map, or lost with
    an aborted batch). */
static void s_refuse(sl_actor_t *a, s_store_t *s, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        sl_actor_count_error(a);
    }
    s->refused += n;
    s_stop_confirming(s);
}

static void s_confirm(sl_actor_t *a, s_store_t *s, const char *origin, uint64_t seq)
{
    int rc = sl_actor_confirm(a, origin, seq);
    if (rc == SL_OK) {
        s->confirmed++;
    } else if (rc != SL_EAGAIN) {
        sl_debug(s->name, "confirmation %llu to %s: %s", (unsigned long long)seq, origin,
                 sl_strerror(rc));
    }
}

/*  After a successful commit: everything before the waiting marks is
    durable. */
static void s_confirm_pending(sl_actor_t *a, s_store_t *s)
{
    for (int i = 0; i < s->n_marks && !s->unconfirming; i++) {
        s_confirm(a, s, s->marks[i].origin, s->marks[i].seq);
    }
    s->n_marks = 0;
}

static int s_mark(sl_actor_t *a, void *state, const sl_mark_t *m)
{
    s_store_t *s = state;
    if (s->unconfirming) {
        return SL_OK;
    }
    if (!s->batch) {
        s_confirm(a, s, m->origin, m->seq);
        return SL_OK;
    }
    int i = 0;
    while (i < s->n_marks && strcmp(s->marks[i].origin, m->origin) != 0) {
        i++;
    }
    if (i == s->n_marks) {
        if (s->n_marks == S_MARKS) {
            return SL_OK; /* a later mark of this origin confirms it */
        }
        snprintf(s->marks[i].origin, sizeof s->marks[i].origin, "%s", m->origin);
        s->n_marks++;
    }
    s->marks[i].seq = m->seq;
    return SL_OK;
}

/*  One line per batch would be one per millisecond under load: the
    refused events are summed and logged at most every 10 s. */
static void s_log_refused(s_store_t *s, int force)
{
    int64_t now = sl_mono_us();
    if (s->refused > 0 && (force || now - s->refused_logged >= S_REFUSED_LOG_US)) {
        sl_warn(s->name, "refused %lld events: the store is full (see /healthz)",
                (long long)s->refused);
        s->refused = 0;
        s->refused_logged = now;
    }
}

static int s_emit_change(void *arg, uint64_t seq, const sl_event_t *change)
{
    sl_actor_t *a = arg;
    (void)seq;
    /*  A durable output never blocks; SL_ESTOPPED only while stopping,
        and followers read what was not pushed from the log. */
    return sl_emit(a, 0, change) == SL_ESTOPPED ? 1 : 0;
}

/*  After a commit: push every new change record of the tenants the batch
    touched, in log order. */
static void s_emit_new(sl_actor_t *a, s_store_t *s)
{
    for (int i = 0; i < s->n_ts; i++) {
        s_tenant_t *t = &s->ts[i];
        if (!t->touched) {
            continue;
        }
        t->touched = 0;
        uint64_t last = 0;
        if (sl_store_last_seq(s->store, t->tenant, &last) != SL_OK) {
            continue; /* followers will read it from the log */
        }
        if (last > t->emitted) {
            int n = sl_store_changes(s->store, t->tenant, t->emitted, last - t->emitted,
                                     s_emit_change, a);
            if (n < 0) {
                sl_warn(s->name, "cannot read back changes of tenant %s: %s", t->tenant,
                        sl_strerror(n));
            }
        }
        /*  Even if the read failed: the log holds them and followers read it;
            emitting them later would only reorder what they see. */
        t->emitted = last;
    }
}

static int s_commit(sl_actor_t *a, s_store_t *s)
{
    if (!s->batch) {
        return SL_OK;
    }
    int64_t n = s->batch_n;
    int rc = sl_store_batch_commit(&s->batch);
    s->batch_n = 0;
    sl_actor_set_tick(a, -1);
    if (s->batch_dead > 0) {
        sl_warn(s->name, "%lld events dead-lettered in this batch (last reason: %s)",
                (long long)s->batch_dead, s->dead_reason);
        s->batch_dead = 0;
    }
    if (rc == SL_EFULL) {
        s_set_full(s);
        s_refuse(a, s, n);
        for (int i = 0; i < s->n_ts; i++) {
            s->ts[i].touched = 0;
        }
        return SL_OK; /* counted; the actor keeps running */
    }
    if (rc) {
        sl_error(s->name, "commit of %lld events failed: %s", (long long)n, sl_strerror(rc));
        s_refuse(a, s, n);
        for (int i = 0; i < s->n_ts; i++) {
            s->ts[i].touched = 0;
        }
        return SL_OK;
    }
    s->commits++;
    s->applied += (uint64_t)n;
    s_confirm_pending(a, s);
    s_emit_new(a, s);
    return SL_OK;
}

/*  Free what init and the run made (exit, or a failed init). */
static void s_free(s_store_t *s)
{
    sl_store_close(&s->store);
    for (int i = 0; i < s->n_ts; i++) {
        free(s->ts[i].tenant);
    }
    free(s->ts);
    s->ts = NULL;
    s->n_ts = s->cap_ts = 0;
    free((void *)s->allowed);
    s->allowed = NULL;
}

/*  Start emitting after what is already in the log: followers read the
    history (and whatever a crash kept from being pushed) by cursor. */
static int s_load_tenants(s_store_t *s)
{
    char **tenants = sl_store_tenants(s->store);
    if (!tenants) {
        return SL_ENOMEM;
    }
    int rc = SL_OK;
    for (int i = 0; tenants[i]; i++) {
        s_tenant_t *t = s_tenant(s, tenants[i], strlen(tenants[i]));
        if (!t) {
            rc = SL_ENOMEM;
            break;
        }
        rc = sl_store_last_seq(s->store, t->tenant, &t->emitted);
        if (rc) {
            sl_error(s->name, "cannot read the change log of tenant %s: %s", t->tenant,
                     sl_strerror(rc));
            break;
        }
    }
    for (int i = 0; tenants[i]; i++) {
        free(tenants[i]);
    }
    free(tenants);
    return rc;
}

static int s_init(sl_actor_t *a, void *state)
{
    s_store_t *s = state;
    s->name = sl_actor_name(a);
    char err[256] = "";
    int rc = SL_EINVAL;
    if (sl_actor_workers(a) != 1) {
        sl_error(s->name, "the store actor runs one worker (LMDB has one writer), not %d",
                 sl_actor_workers(a));
        goto fail;
    }
    if (s->batch_events < 1 || s->batch_us < 0 || s->map_size < 1 || s->retention < 0) {
        sl_error(s->name, "batch_events and map_size must be >= 1, batch_us and retention >= 0");
        goto fail;
    }
    if (!s->path) {
        const char *p = sl_actor_store_path(a);
        if (!p) {
            sl_error(s->name, "no store path: give the topology a `store: {path: DIR}` section "
                              "or the actor a `path` option");
            goto fail;
        }
        s->path = strdup(p); /* freed with the options */
        if (!s->path) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    if (s->isolated && s->tenants.count == 0) {
        sl_error(s->name, "isolated: list the allowed tenants in `tenants`");
        goto fail;
    }
    if ((rc = sl_strlist_nullterm(&s->tenants, &s->allowed)) != SL_OK) {
        goto fail;
    }
    sl_store_opts_t o = {
        .path = s->path,
        .isolated = s->isolated,
        .tenants = s->allowed,
        .map_size = s->map_size,
        .nosync = !s->fsync,
        .retention_us = s->retention,
        .no_graph_cache = !s->graph_cache,
        .changes_retention_us = s->keep_changes             ? INT64_MAX
                                : s->changes_retention == 0 ? -1
                                                            : s->changes_retention,
    };
    s->store = sl_store_open(&o, err, sizeof err);
    if (!s->store) {
        sl_error(s->name, "cannot open store %s: %s", s->path, err);
        rc = SL_EIO;
        goto fail;
    }
    rc = s_load_tenants(s);
    if (rc) {
        goto fail;
    }
    char reason[256] = "";
    if (sl_store_health(s->store, reason, sizeof reason) == SL_EFULL) {
        s_set_full(s);
    }
    /*  No tick while no batch is open: an idle store does not wake up. */
    sl_actor_set_tick(a, -1);
    sl_info(s->name, "store %s open (batch %lld events / %lld us, fsync %s)", s->path,
            (long long)s->batch_events, (long long)s->batch_us, s->fsync ? "on" : "off");
    return SL_OK;
fail:
    s_free(s);
    return rc;
}

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    s_store_t *s = state;
    if (!s->batch) {
        int rc = sl_store_batch_begin(s->store, &s->batch);
        if (rc == SL_EFULL) {
            s_set_full(s);
            s_refuse(a, s, 1);
            return SL_OK;
        }
        if (rc) {
            s->batch = NULL;
            sl_error(s->name, "cannot begin a batch: %s", sl_strerror(rc));
            s_stop_confirming(s);
            return rc; /* counted by the engine */
        }
        /*  Dead letters name this actor (replay targets it by name). */
        sl_store_batch_set_actor(s->batch, s->name);
        s->batch_start = sl_mono_us();
        sl_actor_set_tick(a, s->batch_us);
    }
    sl_apply_t result = SL_APPLY_NOOP;
    char reason[256] = "";
    int rc = sl_store_apply(s->batch, ev, &result, reason, sizeof reason);
    if (rc) {
        /*  The whole batch is lost: LMDB aborts it. */
        int64_t lost = s->batch_n + 1;
        sl_store_batch_abort(&s->batch);
        sl_actor_set_tick(a, -1);
        s->batch_n = 0;
        s->batch_dead = 0;
        for (int i = 0; i < s->n_ts; i++) {
            s->ts[i].touched = 0;
        }
        if (rc == SL_EFULL) {
            s_set_full(s);
        } else {
            sl_error(s->name, "apply failed, batch of %lld events aborted: %s", (long long)lost,
                     sl_strerror(rc));
        }
        s_refuse(a, s, lost);
        return SL_OK;
    }
    s->batch_n++;
    if (result == SL_APPLY_CHANGED) {
        s_tenant_t *t = s_tenant(s, ev->tenant.ptr ? ev->tenant.ptr : "", ev->tenant.len);
        if (t) {
            t->touched = 1;
        }
    } else if (result == SL_APPLY_DEAD) {
        sl_actor_count_error(a);
        s->batch_dead++;
        snprintf(s->dead_reason, sizeof s->dead_reason, "%s", reason);
    }
    if (s->batch_n >= s->batch_events) {
        return s_commit(a, s);
    }
    return SL_OK;
}

static int s_idle(sl_actor_t *a, void *state)
{
    s_store_t *s = state;
    s_log_refused(s, 0);
    return s_commit(a, s);
}

static int s_tick(sl_actor_t *a, void *state)
{
    s_store_t *s = state;
    s_log_refused(s, 0);
    if (s->batch && sl_mono_us() - s->batch_start >= s->batch_us) {
        return s_commit(a, s);
    }
    return SL_OK;
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_store_t *s = state;
    if (s->batch) {
        s_commit(a, s);
    }
    s_log_refused(s, 1);
    if (s->commits) {
        sl_info(s->name,
                "%llu events in %llu commits (%.1f per commit), %llu journal confirmations",
                (unsigned long long)s->applied, (unsigned long long)s->commits,
                (double)s->applied / (double)s->commits, (unsigned long long)s->confirmed);
    }
    if (s->full) {
        sl_health_clear(s->name);
    }
    s_free(s);
}

static const sl_opt_t s_options[] = {
    {"path", SL_OPT_STR, NULL, offsetof(s_store_t, path), 0,
     "LMDB directory; default: the topology's store path (`store: {path}`), which every "
     "reader of the store (sluice store/query, http_api) uses"},
    {"batch_events", SL_OPT_INT, "1000", offsetof(s_store_t, batch_events), 0,
     "commit a batch once it holds this many events"},
    {"batch_us", SL_OPT_DURATION, "1ms", offsetof(s_store_t, batch_us), 0,
     "commit a batch at the latest this long after it began (it also commits as soon as "
     "the input runs dry)"},
    {"fsync", SL_OPT_BOOL, "true", offsetof(s_store_t, fsync), 0,
     "fsync at every commit (false: faster, but a power loss may lose the last batches)"},
    {"map_size", SL_OPT_SIZE, "1GiB", offsetof(s_store_t, map_size), 0,
     "LMDB map size per environment; when full, writes are refused (logged, counted, "
     "/healthz 503) until restarted with a larger one"},
    {"retention", SL_OPT_DURATION, "168h", offsetof(s_store_t, retention), 0,
     "how long applied event ids are remembered (the idempotency window; default 7 days)"},
    {"changes_retention", SL_OPT_DURATION, "168h", offsetof(s_store_t, changes_retention), 0,
     "change records older than this that every follower (lineage walker, notifier, mirror: "
     "each keeps a cursor) has read are deleted; 0 = as soon as every follower has read them"},
    {"graph_cache", SL_OPT_BOOL, "true", offsetof(s_store_t, graph_cache), 0,
     "keep an in-memory copy of the lineage graph for closures and propagation walks (about "
     "24 bytes plus the name per asset with edges, 8 per edge; docs/store.md \"Graph cache\")"},
    {"keep_changes", SL_OPT_BOOL, "false", offsetof(s_store_t, keep_changes), 0,
     "keep the whole change log for ever (changes_retention is then ignored)"},
    {"isolated", SL_OPT_BOOL, "false", offsetof(s_store_t, isolated), 0,
     "one environment per tenant under path (set it when the topology's tenancy is "
     "isolated)"},
    {"tenants", SL_OPT_STRLIST, NULL, offsetof(s_store_t, tenants), 0,
     "tenants allowed to write (required when isolated; others are dead-lettered)"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "changes",
     .desc = "change records, one per applied change (a change log followers read by cursor)",
     .flags = SL_OUTPUT_DURABLE},
    {0},
};

const sl_actor_kind_t sl_actor_store = {
    .name = "store",
    .description = "Applies events to the metadata store (LMDB) in batched, idempotent "
                   "commits and emits each resulting change on `changes`; confirms journal "
                   "marks to the ingest journal after the commit that covers them.",
    .flags = SL_KIND_CONFIRMS,
    .state_size = sizeof(s_store_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .handle = s_handle,
    .tick = s_tick,
    .exit = s_exit,
    .idle = s_idle,
    .mark = s_mark,
};
