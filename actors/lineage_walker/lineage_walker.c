/*  lineage_walker: follows the store's change log and keeps every
    propagated copy right (core/propagate.c; docs/propagation.md).

    Rounds. Changes are taken from store.changes (and from the log by
    cursor: sl_follower) and turned into the (value, source) pairs they can
    affect. When the input runs dry, a round recomputes every pending pair
    in a read view of the store and emits the differences to the store as
    propagation.set / propagation.unset events, then one propagation.fence
    per tenant touched. Until the store has applied the fence (it sets the
    cursor "<consumer>/fence" to the round's token in the same transaction
    as the round's last operations), no new change is taken: the next
    round then computes on a state that holds every operation of this one,
    so two rounds never race on one pair. The follower's cursor is
    persisted only once a round's fence is applied: after a crash the
    changes of an unfinished round are read again from the log and their
    pairs recomputed (recomputing is idempotent).

    workers: N splits the pairs by a hash of the source asset; each worker
    reads the whole log (its own cursor) and keeps its own pairs. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/follower.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/propagate.h"
#include "sluice/store.h"

typedef struct {
    char *tenant;
    sl_prop_work_t *work;
    sl_store_view_t *view;
    uint64_t fenced;    /* token of the round's fence, 0 = none pending */
    int mark_policy;    /* record the policy fingerprint once fenced */
    sl_prop_job_t *job; /* a pair whose operations are being handed out */
    size_t next;        /* work[next..] not started yet */
} s_ten_t;

typedef struct {
    /* options */
    char *policy;
    int64_t poll_us;
    int64_t flush_us;
    int64_t round_ops;
    int64_t follow_us;
    int isolated;
    sl_strlist_t tenants;
    /* run state */
    sl_actor_t *a;
    char name[128];
    char consumer[160];
    char fence[170];
    char policy_mark[170];
    int worker, workers;
    sl_prop_policies_t *pol;
    sl_store_t *store;
    sl_follower_t *fol;
    const char **allowed;
    s_ten_t *ts;
    int n_ts, cap_ts;
    int inflight;      /* a round's fences are not all applied yet */
    uint64_t token;    /* the last fence token given out */
    int64_t round_at;  /* monotonic us when the in-flight round was sent */
    int64_t warned_at; /* last "the store does not apply" warning */
    int64_t last_flush;
    int dirty; /* the follower's cursor moved since the last flush */
    int started;
    sl_buf_t scratch;
    sl_prop_stats_t st; /* totals, for the exit line */
    sl_counter_t *m_rounds, *m_sets, *m_unsets, *m_pairs, *m_gaps;
    uint64_t rounds;
    uint64_t pairs_counted; /* st.pairs already added to m_pairs */
    int64_t slowest_round_us;
} s_walker_t;

static s_ten_t *s_tenant(s_walker_t *w, const char *t)
{
    for (int i = 0; i < w->n_ts; i++) {
        if (strcmp(w->ts[i].tenant, t) == 0) {
            return &w->ts[i];
        }
    }
    if (w->n_ts == w->cap_ts) {
        int cap = w->cap_ts ? w->cap_ts * 2 : 4;
        s_ten_t *n = realloc(w->ts, (size_t)cap * sizeof *n);
        if (!n) {
            return NULL;
        }
        w->ts = n;
        w->cap_ts = cap;
    }
    s_ten_t *e = &w->ts[w->n_ts];
    memset(e, 0, sizeof *e);
    if (!(e->tenant = strdup(t)) || !(e->work = sl_prop_work_new())) {
        free(e->tenant);
        return NULL;
    }
    if (sl_store_view_begin(w->store, t, &e->view) != SL_OK) {
        sl_prop_work_free(&e->work);
        free(e->tenant);
        return NULL;
    }
    w->n_ts++;
    return e;
}

/*  The follower's callback: one change, in log order per tenant. */
static int s_on_change(void *arg, const char *tenant, uint64_t seq, const sl_event_t *change)
{
    s_walker_t *w = arg;
    sl_slice_t ent;
    (void)seq;
    if (w->inflight) {
        return SL_EAGAIN; /* read again from the log once the round is applied */
    }
    w->dirty = 1;
    if (sl_change_str(change, "entity", &ent) == SL_OK && sl_slice_eq(ent, "propagation")) {
        return SL_OK; /* our own results */
    }
    s_ten_t *t = s_tenant(w, tenant);
    if (!t) {
        return SL_ENOMEM;
    }
    int rc = sl_store_view_refresh(t->view);
    if (rc == SL_OK) {
        rc = sl_prop_affected(t->view, sl_prop_policy_for(w->pol, tenant), change, w->worker,
                              w->workers, t->work);
    }
    if (rc == SL_EPROTO) {
        sl_warn(w->name, "change %s/%llu: not a change record the walker understands: skipped",
                tenant, (unsigned long long)seq);
        return SL_OK;
    }
    return rc;
}

typedef struct {
    s_walker_t *w;
    const char *tenant;
    uint64_t ops;
    int rc;
} s_emit_t;

static int s_emit_op(void *arg, const sl_prop_op_t *op)
{
    s_emit_t *e = arg;
    sl_counter_add(op->set ? e->w->m_sets : e->w->m_unsets, 1);
    sl_event_t ev;
    int rc = sl_prop_op_event(op, e->tenant, e->w->name, &ev, &e->w->scratch);
    if (rc == SL_OK) {
        rc = sl_emit(e->w->a, 0, &ev);
    }
    e->ops++;
    return rc;
}

static int s_emit_fence(s_walker_t *w, s_ten_t *t)
{
    sl_event_t ev;
    sl_buf_t *b = &w->scratch;
    char json[1024];
    char err[128];
    snprintf(json, sizeof json,
             "{\"tenant\":\"%s\",\"kind\":\"propagation.fence\",\"source\":\"%s\","
             "\"key\":\"%s\",\"body\":{\"consumer\":\"%s\",\"token\":%llu}}",
             t->tenant, w->name, w->fence, w->fence, (unsigned long long)w->token);
    int rc = sl_event_from_json(json, strlen(json), &ev, b, err, sizeof err);
    if (rc == SL_OK) {
        rc = sl_emit(w->a, 0, &ev);
    }
    if (rc == SL_OK) {
        t->fenced = w->token;
    }
    return rc;
}

/*  The tenant's work set without the pairs already started. */
static int s_compact(s_ten_t *t)
{
    size_t n = sl_prop_work_count(t->work);
    if (t->next == 0) {
        return SL_OK;
    }
    sl_prop_work_t *rest = sl_prop_work_new();
    int rc = rest ? SL_OK : SL_ENOMEM;
    for (size_t i = t->next; rc == SL_OK && i < n; i++) {
        const char *value, *source;
        sl_prop_work_get(t->work, i, &value, &source);
        rc = sl_prop_work_add(rest, value, source);
    }
    if (rc != SL_OK) {
        sl_prop_work_free(&rest);
        return rc;
    }
    sl_prop_work_free(&t->work);
    t->work = rest;
    t->next = 0;
    return SL_OK;
}

/*  One tenant's share of a round: at most round_ops operations, from the
    pair in progress, then from new pairs. */
static int s_tenant_round(s_walker_t *w, s_ten_t *t, s_emit_t *e)
{
    const sl_prop_policy_t *p = sl_prop_policy_for(w->pol, t->tenant);
    size_t budget = (size_t)w->round_ops, n = sl_prop_work_count(t->work);
    int rc = sl_store_view_refresh(t->view);
    while (rc == SL_OK && budget > 0 && (t->job || t->next < n)) {
        if (!t->job) {
            const char *value, *source;
            sl_prop_work_get(t->work, t->next, &value, &source);
            if ((rc = sl_prop_job_start(t->view, p, value, source, &w->st, &t->job)) != SL_OK) {
                break;
            }
            t->next++;
        }
        size_t done = 0;
        rc = sl_prop_job_emit(t->job, budget, s_emit_op, e, &done);
        budget -= done < budget ? done : budget;
        if (rc == 1) {
            sl_prop_job_free(&t->job);
            rc = SL_OK;
        }
    }
    return rc == SL_OK ? s_compact(t) : rc;
}

/*  A round: each tenant with work gets its share (so one tenant's very
    large closure is handed out over several rounds while the others keep
    moving), then one fence per tenant touched. */
static int s_round(s_walker_t *w)
{
    int64_t t0 = sl_mono_us();
    int any = 0, rc = SL_OK;
    w->token++;
    for (int i = 0; i < w->n_ts && rc == SL_OK; i++) {
        s_ten_t *t = &w->ts[i];
        if (!t->job && sl_prop_work_count(t->work) == 0 && !t->mark_policy) {
            continue;
        }
        s_emit_t e = {w, t->tenant, 0, 0};
        if ((rc = s_tenant_round(w, t, &e)) == SL_OK) {
            rc = s_emit_fence(w, t);
            any = 1;
        }
    }
    if (rc != SL_OK) {
        /*  A failed round keeps its pairs (and the cursor): retried at the
            next tick. */
        sl_warn(w->name, "propagation round failed: %s (retrying)", sl_strerror(rc));
        sl_actor_set_tick(w->a, 100000);
        return rc;
    }
    if (any) {
        w->inflight = 1;
        w->round_at = sl_mono_us();
        w->rounds++;
        sl_counter_add(w->m_rounds, 1);
        sl_counter_add(w->m_pairs, w->st.pairs - w->pairs_counted);
        w->pairs_counted = w->st.pairs;
        sl_actor_set_tick(w->a, w->poll_us);
    }
    int64_t took = sl_mono_us() - t0;
    if (took > w->slowest_round_us) {
        w->slowest_round_us = took;
    }
    return SL_OK;
}

static int s_flush(s_walker_t *w)
{
    if (!w->dirty) {
        return SL_OK;
    }
    int rc = sl_follower_flush(w->fol);
    if (rc == SL_OK) {
        w->dirty = 0;
        w->last_flush = sl_mono_us();
    }
    return rc;
}

/*  Are the in-flight round's fences all applied? Then persist the cursor
    and take what waited in the log. */
static int s_check_fences(s_walker_t *w)
{
    for (int i = 0; i < w->n_ts; i++) {
        s_ten_t *t = &w->ts[i];
        uint64_t got = 0;
        if (!t->fenced) {
            continue;
        }
        int rc = sl_store_cursor_get(w->store, t->tenant, w->fence, &got);
        if ((rc != SL_OK && rc != SL_ENOTFOUND) || got < t->fenced) {
            return SL_EAGAIN;
        }
    }
    for (int i = 0; i < w->n_ts; i++) {
        s_ten_t *t = &w->ts[i];
        if (t->fenced && t->mark_policy) {
            sl_store_cursor_set(w->store, t->tenant, w->policy_mark,
                                sl_prop_policies_hash(w->pol) >> 1);
            t->mark_policy = 0;
        }
        t->fenced = 0;
    }
    w->inflight = 0;
    int rc = s_flush(w);
    if (rc == SL_OK) {
        int64_t n = sl_follower_catch_up(w->fol);
        rc = n < 0 ? (int)n : SL_OK;
    }
    return rc;
}

/*  A tenant whose recorded policy fingerprint differs from this run's:
    every pair of it is recomputed (a policy change, or the first run). */
static int s_policy_pairs(void *arg, const char *value, const char *source)
{
    s_walker_t *w = ((void **)arg)[0];
    s_ten_t *t = ((void **)arg)[1];
    if (sl_prop_owner(source, w->workers) != w->worker) {
        return SL_OK;
    }
    return sl_prop_work_add(t->work, value, source);
}

/*  Every pair of the tenant into its work set (our workers' share). */
static int s_recompute_tenant(s_walker_t *w, const char *tenant, int mark_policy)
{
    s_ten_t *t = s_tenant(w, tenant);
    if (!t) {
        return SL_ENOMEM;
    }
    void *arg[2] = {w, t};
    int rc = sl_store_view_refresh(t->view);
    if (rc == SL_OK && (rc = sl_store_view_all_origins(t->view, s_policy_pairs, arg)) == SL_OK) {
        rc = sl_store_view_pairs(t->view, s_policy_pairs, arg);
    }
    t->mark_policy |= mark_policy;
    return rc;
}

/*  The follower's gap: changes trimmed from the log before we read them. */
static int s_on_gap(void *arg, const char *tenant, uint64_t after, uint64_t next)
{
    s_walker_t *w = arg;
    if (w->inflight) {
        return SL_EAGAIN;
    }
    sl_counter_add(w->m_gaps, 1);
    sl_warn(w->name,
            "tenant %s: changes %llu..%llu were trimmed from the log before this walker read "
            "them: recomputing every propagated value",
            tenant, (unsigned long long)after + 1, (unsigned long long)next - 1);
    return s_recompute_tenant(w, tenant, 0);
}

static int s_check_policy(s_walker_t *w)
{
    char **ts = sl_store_tenants(w->store);
    int rc = SL_OK;
    uint64_t want = sl_prop_policies_hash(w->pol) >> 1, got = 0;
    for (int i = 0; ts && ts[i] && rc == SL_OK; i++) {
        int grc = sl_store_cursor_get(w->store, ts[i], w->policy_mark, &got);
        if (grc == SL_OK && got == want) {
            continue;
        }
        sl_info(w->name, "tenant %s: policy %s: recomputing every propagated value", ts[i],
                grc == SL_OK && got ? "changed" : "not recorded yet");
        rc = s_recompute_tenant(w, ts[i], 1);
    }
    for (int i = 0; ts && ts[i]; i++) {
        free(ts[i]);
    }
    free(ts);
    return rc;
}

/*  The store opens here, not in init: the store actor (which sets the map
    size and sync mode of the shared handle) may start after us. */
static int s_start(s_walker_t *w)
{
    char err[256] = "";
    const char *path = sl_actor_store_path(w->a);
    sl_store_opts_t so = {
        .path = path ? path : "var/sluice",
        .isolated = w->isolated,
        .tenants = w->allowed,
    };
    if (!(w->store = sl_store_open(&so, err, sizeof err))) {
        sl_error(w->name, "cannot open store %s: %s", so.path, err);
        return SL_EIO;
    }
    sl_follower_opts_t fo = {.consumer = w->consumer, .manual = 1, .on_gap = s_on_gap};
    if (!(w->fol = sl_follower_new(w->store, &fo, s_on_change, w))) {
        return SL_ENOMEM;
    }
    int rc = s_check_policy(w);
    if (rc == SL_OK) {
        int64_t n = sl_follower_catch_up(w->fol);
        rc = n < 0 ? (int)n : SL_OK;
    }
    if (rc == SL_OK) {
        w->started = 1;
    }
    return rc;
}

static int s_init(sl_actor_t *a, void *state)
{
    s_walker_t *w = state;
    char err[256], where[128];
    w->a = a;
    snprintf(w->name, sizeof w->name, "%s", sl_actor_name(a));
    w->worker = sl_actor_worker(a);
    w->workers = sl_actor_workers(a);
    snprintf(w->consumer, sizeof w->consumer, "%s/%d", w->name, w->worker);
    /*  Marks start with '.': the store's change-log retention does not
        wait for them as it waits for followers' cursors. */
    snprintf(w->fence, sizeof w->fence, ".fence/%s", w->consumer);
    snprintf(w->policy_mark, sizeof w->policy_mark, ".policy/%s", w->consumer);
    if (sl_prop_policies_parse(w->policy, &w->pol, err, sizeof err, where, sizeof where) != SL_OK) {
        sl_error(w->name, "policy%s: %s", where, err);
        return SL_EINVAL;
    }
    if (w->round_ops < 1 || w->round_ops > 1000000) {
        sl_error(w->name, "round_ops must be from 1 to 1000000");
        return SL_EINVAL;
    }
    if (w->follow_us < 100 || w->follow_us > 10000000) {
        sl_error(w->name, "follow must be from 100us to 10s");
        return SL_EINVAL;
    }
    if (w->poll_us < 100 || w->poll_us > 1000000) {
        sl_error(w->name, "poll must be from 100us to 1s");
        return SL_EINVAL;
    }
    if (w->isolated && w->tenants.count == 0) {
        sl_error(w->name, "isolated: list the store's tenants in `tenants`");
        return SL_EINVAL;
    }
    if (sl_strlist_nullterm(&w->tenants, &w->allowed) != SL_OK) {
        return SL_ENOMEM;
    }
    w->token = (uint64_t)sl_now_us(); /* increasing across restarts */
    w->m_rounds =
        sl_metrics_counter("sluice_propagation_rounds_total",
                           "Propagation rounds sent to the store.", "actor", w->name, NULL);
    w->m_pairs = sl_metrics_counter("sluice_propagation_pairs_total",
                                    "(value, source) pairs recomputed.", "actor", w->name, NULL);
    w->m_sets = sl_metrics_counter("sluice_propagation_copies_total",
                                   "Propagated copies set (created or updated) or removed.",
                                   "actor", w->name, "op", "set", NULL);
    w->m_unsets = sl_metrics_counter("sluice_propagation_copies_total",
                                     "Propagated copies set (created or updated) or removed.",
                                     "actor", w->name, "op", "unset", NULL);
    w->m_gaps = sl_metrics_counter("sluice_propagation_log_gaps_total",
                                   "Change-log ranges trimmed before the walker read them (each "
                                   "makes it recompute the tenant).",
                                   "actor", w->name, NULL);
    sl_actor_set_tick(a, 1000);
    return SL_OK;
}

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    s_walker_t *w = state;
    if (!w->started) {
        return SL_OK; /* the start's catch-up reads it from the log */
    }
    /*  A change after a round: that round's fence is usually applied by
        now (it came in the store's commit that produced this change), so
        look before the next tick would, instead of refusing the change. */
    if (w->inflight && s_check_fences(w) != SL_OK && !w->inflight) {
        sl_actor_count_error(a);
    }
    int rc = sl_follower_feed(w->fol, ev);
    /*  Refused while a round is in flight: the log keeps it. A gap the
        log does not hold (SL_ESTATE) is reported by the follower. */
    return rc == SL_EAGAIN ? SL_OK : rc;
}

static int s_pending(const s_walker_t *w)
{
    for (int i = 0; i < w->n_ts; i++) {
        if (w->ts[i].job || sl_prop_work_count(w->ts[i].work) || w->ts[i].mark_policy) {
            return 1;
        }
    }
    return 0;
}

/*  No snapshot is held between rounds (an old one would keep LMDB from
    reusing freed pages while the walker waits). */
static void s_release_views(s_walker_t *w)
{
    for (int i = 0; i < w->n_ts; i++) {
        sl_store_view_release(w->ts[i].view);
    }
}

static int s_idle(sl_actor_t *a, void *state)
{
    s_walker_t *w = state;
    (void)a;
    if (!w->started) {
        return SL_OK;
    }
    int rc = !w->inflight && s_pending(w) ? s_round(w) : SL_OK;
    s_release_views(w);
    return rc;
}

static int s_tick(sl_actor_t *a, void *state)
{
    s_walker_t *w = state;
    int rc = SL_OK;
    if (!w->started && (rc = s_start(w)) != SL_OK) {
        if (sl_actor_stopping(a)) {
            return SL_OK;
        }
        sl_actor_set_tick(a, 1000000); /* retry the start each second */
        return rc;
    }
    if (w->inflight && (rc = s_check_fences(w)) == SL_EAGAIN) {
        /*  A store that does not apply our rounds (stopped, map full):
            say so every 10 s while it lasts. */
        int64_t waited = sl_mono_us() - w->round_at;
        if (waited > 10000000 && sl_mono_us() - w->warned_at > 10000000) {
            w->warned_at = sl_mono_us();
            sl_warn(w->name,
                    "the store has not applied the last propagation round for %lld s: waiting "
                    "(is the store actor running and writable?)",
                    (long long)(waited / 1000000));
        }
        return SL_OK;
    }
    /*  With several workers, a change is pushed to one of them (the engine
        routes by its key), but the pairs it affects may belong to another:
        each worker also reads the log's new records itself, every
        `follow`. */
    if (rc == SL_OK && !w->inflight && w->workers > 1) {
        int64_t n = sl_follower_catch_up(w->fol);
        rc = n < 0 ? (int)n : SL_OK;
    }
    if (rc == SL_OK && !w->inflight && s_pending(w)) {
        rc = s_round(w);
    }
    if (!w->inflight) {
        /*  Idle: persist the cursor now and then (our own results move it),
            and come back only for that (or to follow the log). */
        if (w->dirty && sl_mono_us() - w->last_flush >= w->flush_us) {
            s_flush(w);
        }
        int64_t next = w->dirty ? w->flush_us : -1;
        if (w->workers > 1 && (next < 0 || w->follow_us < next)) {
            next = w->follow_us;
        }
        sl_actor_set_tick(a, next);
    }
    s_release_views(w);
    return rc;
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_walker_t *w = state;
    (void)a;
    /*  A clean stop with nothing in flight persists the cursor; otherwise
        the unfinished round is redone from the log at the next start. */
    if (w->fol && !w->inflight && !s_pending(w)) {
        s_flush(w);
    }
    if (w->rounds) {
        sl_info(w->name,
                "rounds %llu, pairs %llu, assets reached %llu, copies set %llu, removed %llu, "
                "slowest round %lld us, largest walk %zu bytes",
                (unsigned long long)w->rounds, (unsigned long long)w->st.pairs,
                (unsigned long long)w->st.visited, (unsigned long long)w->st.sets,
                (unsigned long long)w->st.unsets, (long long)w->slowest_round_us, w->st.peak_bytes);
    }
    sl_follower_destroy(&w->fol);
    for (int i = 0; i < w->n_ts; i++) {
        sl_store_view_end(&w->ts[i].view);
        sl_prop_job_free(&w->ts[i].job);
        sl_prop_work_free(&w->ts[i].work);
        free(w->ts[i].tenant);
    }
    free(w->ts);
    sl_store_close(&w->store);
    sl_prop_policies_free(&w->pol);
    sl_buf_free(&w->scratch);
    free((void *)w->allowed);
}

static int s_check_option(const char *option, const char *json, const sl_opt_values_t *opts,
                          char *err, size_t errlen, char *where, size_t wherelen)
{
    sl_prop_policies_t *p = NULL;
    (void)opts;
    if (strcmp(option, "policy") != 0) {
        return 0;
    }
    int rc = sl_prop_policies_parse(json, &p, err, errlen, where, wherelen);
    sl_prop_policies_free(&p);
    return rc != SL_OK;
}

static const sl_opt_t s_options[] = {
    {"policy", SL_OPT_JSON, NULL, offsetof(s_walker_t, policy), 0,
     "what propagates, per tenant: a map of \"*\" and tenant names to {tags: all | none | "
     "[names, prefixes*], owners: bool, description: bool, incidents: bool, max_depth: N "
     "(0 = unlimited), edge_types: [types]} (default: every tag and open incident, any depth, "
     "every edge type)"},
    {"poll", SL_OPT_DURATION, "1ms", offsetof(s_walker_t, poll_us), 0,
     "how often to check whether the store has applied a round (100us..1s)"},
    {"round_ops", SL_OPT_INT, "10000", offsetof(s_walker_t, round_ops), 0,
     "operations per tenant per round: a larger closure is handed out over several rounds, "
     "each tenant getting its share in every round (1..1000000)"},
    {"follow", SL_OPT_DURATION, "2ms", offsetof(s_walker_t, follow_us), 0,
     "with workers > 1: how often each worker reads the change log for records pushed to "
     "another worker (a change goes to one worker; the pairs it affects may be another's)"},
    {"flush", SL_OPT_DURATION, "1s", offsetof(s_walker_t, flush_us), 0,
     "how often the cursor is persisted when only the walker's own results moved it"},
    {"isolated", SL_OPT_BOOL, "false", offsetof(s_walker_t, isolated), 0,
     "the store has one environment per tenant (as the store actor's `isolated`)"},
    {"tenants", SL_OPT_STRLIST, NULL, offsetof(s_walker_t, tenants), 0,
     "the store's tenants (required when isolated, as the store actor's)"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "out",
     .desc = "propagation.set / propagation.unset / propagation.fence events: the store's input"},
    {0},
};

const sl_actor_kind_t sl_actor_lineage_walker = {
    .name = "lineage_walker",
    .description = "Follows the store's change log and propagates tags, owners, descriptions and "
                   "open incidents downstream along lineage, retracting them when their cause "
                   "goes away (input: store.changes; output: the store).",
    .state_size = sizeof(s_walker_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .handle = s_handle,
    .tick = s_tick,
    .idle = s_idle,
    .exit = s_exit,
    .check_option = s_check_option,
};
