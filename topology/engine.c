/*  The engine: actor instances as zactor threads linked by ZeroMQ PUSH/PULL.
    See include/sluice/engine.h for the model; the why of batching and of the
    drain protocol is in docs/RATIONALE.md. */
#include <assert.h>
#include <errno.h>
#include <czmq.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/curve.h"
#include "sluice/engine.h"
#include "sluice/journal.h"
#include "sluice/log.h"
#include "sluice/zap.h"

#define S_BATCH_EVENTS 128        /* events per ZeroMQ message, at most */
#define S_BATCH_BYTES (64 * 1024) /* bytes per ZeroMQ message, about */
#define S_BURST_MESSAGES 32       /* messages read before flushing outputs */
#define S_HWM 256                 /* messages queued per link */
#define S_CTL_BYTE 0xc1           /* never a msgpack value: control message */
#define S_CTL_EOS 'E'
#define S_CTL_MARK 'M'    /* journal mark: seq, sender, origin, journal id */
#define S_CTL_CONFIRM 'C' /* confirmation back to a marking source: seq, consumer, journal id */
#define S_JID_MAX 40      /* journal id text (36) and NUL */
#define S_ID_MAX 160
#define S_WARN_PER_SEC 10 /* link refusals logged one by one per second */

/* ------------------------------------------------------------------------ */
/*  Link specification: computed by the engine, handed to the instance.     */

typedef struct {
    char endpoint[256];
    char consumer[S_ID_MAX];     /* "actor/worker" of the consumer */
    sl_actor_metrics_t *metrics; /* consumer's entry (local consumers) */
    int curve;                   /* a CURVE link of tenant key.tenant */
    sl_curve_key_t key;          /* wiped with the spec */
} s_target_spec_t;

/*  A link to one consumer: n_workers x n_slots targets, worker-major.
    Over CURVE a slot is a tenant (one connection per tenant and worker);
    otherwise there is one slot that takes every tenant. */
typedef struct {
    int n_targets;
    s_target_spec_t *targets;
    int n_workers;
    int n_slots;
    int durable;
} s_link_spec_t;

typedef struct {
    int n_links;
    s_link_spec_t *links;
} s_output_spec_t;

/*  The marks of one origin that reach an instance: the upstream instances
    that carry them (the lowest of their marks is passed on). */
typedef struct {
    char *origin;
    int n_up;
    char **up;               /* ids "actor/worker" */
    s_target_spec_t confirm; /* a confirmer's way back to a remote origin
                                (endpoint "" = the origin runs in this process) */
} s_markin_spec_t;

typedef struct {
    int n_outputs;
    s_output_spec_t *outputs;
    int n_expected;
    char **expected; /* ids "actor/worker" of upstreams waited for */
    int n_markin;
    s_markin_spec_t *markin;
    char **confirmers; /* marking sources: NULL-terminated confirmer names */
} s_spec_t;

static void s_strv_free(char **v, int n)
{
    for (int i = 0; v && (n < 0 ? v[i] != NULL : i < n); i++) {
        free(v[i]);
    }
    free(v);
}

static void s_spec_free(s_spec_t *s)
{
    if (!s) {
        return;
    }
    for (int o = 0; o < s->n_outputs; o++) {
        for (int l = 0; l < s->outputs[o].n_links; l++) {
            s_link_spec_t *ls = &s->outputs[o].links[l];
            for (int t = 0; ls->targets && t < ls->n_targets; t++) {
                sl_curve_key_wipe(&ls->targets[t].key);
            }
            free(ls->targets);
        }
        free(s->outputs[o].links);
    }
    free(s->outputs);
    for (int i = 0; i < s->n_expected; i++) {
        free(s->expected[i]);
    }
    free(s->expected);
    for (int i = 0; i < s->n_markin; i++) {
        free(s->markin[i].origin);
        s_strv_free(s->markin[i].up, s->markin[i].n_up);
        sl_curve_key_wipe(&s->markin[i].confirm.key);
    }
    free(s->markin);
    s_strv_free(s->confirmers, -1);
    free(s);
}

/* ------------------------------------------------------------------------ */
/*  Instance (thread side state lives here too; only the thread touches it  */
/*  after start, except the atomics).                                       */

typedef struct {
    void *sock;
    char endpoint[256];
    char consumer[S_ID_MAX];
    char tenant[SL_CURVE_TENANT_MAX + 1]; /* CURVE: the only tenant it carries */
    sl_actor_metrics_t *metrics;
    sl_buf_t batch;
    uint32_t count; /* events in batch */
    int durable;
    int slots; /* connections to the same consumer (one per tenant): each
                  carries an end of stream, and the consumer waits for all */
} s_target_t;

typedef struct {
    int n_targets;
    s_target_t **targets; /* n_workers x n_slots, worker-major */
    int n_workers;
    int n_slots;
} s_link_t;

/*  An endpoint the instance's input binds for upstreams on other nodes. */
typedef struct {
    char endpoint[256];
    int curve;
    sl_curve_key_t key; /* the tenant's: server key and ZAP domain */
} s_bind_t;

/*  End of stream seen from an upstream instance: `got` of `need`. */
typedef struct {
    char *id;
    uint32_t got;
    uint32_t need;
} s_seen_t;

typedef struct {
    int n_links;
    s_link_t *links;
} s_output_t;

/*  The newest marks of one upstream instance, one per connection it sends
    on: over CURVE one per tenant, each its own ordered pipe, so a mark
    counts only once it came through all of them. */
typedef struct {
    int need; /* connections (from its marks) */
    int n;    /* of them seen */
    char (*key)[SL_CURVE_TENANT_MAX + 1];
    uint64_t *seq;
} s_upmark_t;

/*  Thread side of s_markin_spec_t: the newest marks of each upstream
    instance, the newest passed on, and a confirmer's way back. */
typedef struct {
    char *origin;
    int n_up;
    char **up;
    s_upmark_t *um;
    uint64_t passed;
    char journal[S_JID_MAX];
    s_target_spec_t confirm; /* remote origin: where (endpoint "" = here) */
    s_target_t *sock;        /* remote origin: PUSH to its input */
    sl_journal_t *held;      /* origin in this process: a reference on its journal */
} s_markin_t;

struct sl_actor {
    sl_engine_t *engine;
    const sl_actor_kind_t *kind;
    char name[128];
    char node[64];
    char store_path[1024];
    char id[S_ID_MAX]; /* "name/worker" */
    int worker;
    int workers;
    int gen;
    char fingerprint_hash[17];
    void *state;
    sl_plan_actor_t *pa; /* valid during init only (plan may be replaced) */
    char inproc[256];
    s_bind_t *binds; /* TCP endpoints, if an upstream runs on another node */
    int n_binds;
    int curve_in; /* the binds are CURVE: check each event's tenant */
    zactor_t *zactor;
    sl_actor_metrics_t *m;
    s_spec_t *spec; /* initial spec; then owned by the thread */
    atomic_int stopping;
    atomic_int finished;
    atomic_int init_rc;
    int is_source;
    int follows_stop; /* no upstream to wait for: finish on drain */
    /* thread side */
    void *pull;
    void *pipe;
    int n_outputs;
    s_output_t *outputs;
    int n_targets_all;
    s_target_t **all; /* every target, for flushing */
    char **expected;
    int n_expected;
    s_seen_t *seen;
    int n_seen;
    int64_t warn_second; /* rate limit of link refusal warnings */
    int warn_count;
    uint64_t warn_suppressed;
    int64_t tick_us;
    int64_t next_tick;
    int pending; /* some target has unsent events */
    /* Forwarding: while every event of the message being handled is emitted
       unchanged, once, in order, to one single-worker consumer, nothing is
       encoded: the message itself goes on with its hop counts patched. */
    zmq_msg_t *cur_msg;
    const sl_event_t *cur_ev;
    uint32_t cur_index;
    int fwd_ok;
    uint32_t fwd_n;
    s_target_t *fwd_target;
    uint32_t *ev_start; /* per event of the message: offsets, and where */
    uint32_t *ev_end;   /* its hops value is (0 = not patchable) */
    uint32_t *ev_hops;
    uint32_t ev_cap;
    int done;     /* finished: outputs closed */
    int retiring; /* replaced on reload: drain the input, no EOS */
    int term;     /* $TERM received */
    /* journal marks (docs/ingest.md "Confirmation") */
    s_markin_t *markin;
    int n_markin;
    char **confirmers; /* marking sources: NULL-terminated */
};

struct sl_engine {
    char *node;
    sl_metrics_t *metrics;
    sl_plan_t *plan;
    sl_curve_key_t *keys; /* keyed tenants of the plan, when it uses keys */
    int n_keys;
    int zap_on;
    sl_actor_t **inst;
    int n_inst;
    int draining;
    /* generation per actor name, kept across reloads */
    char **gen_names;
    int *gen_values;
    int n_gen;
    /* metrics entries by "actor/worker", kept for restarts */
    char **m_ids;
    sl_actor_metrics_t **m_entries;
    int n_m;
};

/* ------------------------------------------------------------------------ */
/*  Calls for actor code                                                    */

const char *sl_actor_name(const sl_actor_t *a)
{
    return a->name;
}

const char *sl_actor_store_path(const sl_actor_t *a)
{
    return a->store_path[0] ? a->store_path : NULL;
}

const char *sl_actor_node(const sl_actor_t *a)
{
    return a->node[0] ? a->node : NULL;
}

int sl_actor_worker(const sl_actor_t *a)
{
    return a->worker;
}

int sl_actor_workers(const sl_actor_t *a)
{
    return a->workers;
}

int sl_actor_stopping(const sl_actor_t *a)
{
    return atomic_load_explicit(&((sl_actor_t *)a)->stopping, memory_order_relaxed);
}

void sl_actor_set_tick(sl_actor_t *a, int64_t interval_us)
{
    a->tick_us = interval_us;
    a->next_tick = sl_mono_us() + (interval_us > 0 ? interval_us : 0);
}

void sl_actor_count_error(sl_actor_t *a)
{
    atomic_fetch_add_explicit(&a->m->errors, 1, memory_order_relaxed);
}

void sl_actor_count_tenant_mismatch(sl_actor_t *a, uint64_t n)
{
    atomic_fetch_add_explicit(&a->m->tenant_mismatch, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->m->dropped, n, memory_order_relaxed);
}

int sl_actor_keys(const sl_actor_t *a, const sl_curve_key_t **keys)
{
    *keys = a->engine->keys;
    return a->engine->n_keys;
}

/*  A warning about refused traffic, at most S_WARN_PER_SEC a second per
    instance; the rest are summed up at the next second's first one. */
static void s_warn_limited(sl_actor_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void s_warn_limited(sl_actor_t *a, const char *fmt, ...)
{
    int64_t sec = sl_mono_us() / 1000000;
    if (sec != a->warn_second) {
        if (a->warn_suppressed) {
            sl_warn(a->name, "%llu more link refusals (not logged one by one)",
                    (unsigned long long)a->warn_suppressed);
        }
        a->warn_second = sec;
        a->warn_count = 0;
        a->warn_suppressed = 0;
    }
    if (a->warn_count >= S_WARN_PER_SEC) {
        a->warn_suppressed++;
        return;
    }
    a->warn_count++;
    va_list ap;
    va_start(ap, fmt);
    sl_logv(SL_LOG_WARN, a->name, NULL, fmt, ap);
    va_end(ap);
}

/*  FNV-1a of tenant and key: stable across processes and releases, so the
    same key reaches the same worker wherever the producer runs. */
static uint32_t s_partition(const sl_event_t *ev)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < ev->tenant.len; i++) {
        h = (h ^ (uint8_t)ev->tenant.ptr[i]) * 16777619u;
    }
    h = (h ^ 0xffu) * 16777619u;
    for (uint32_t i = 0; i < ev->key.len; i++) {
        h = (h ^ (uint8_t)ev->key.ptr[i]) * 16777619u;
    }
    return h;
}

static int s_target_send_nowait(sl_actor_t *a, s_target_t *t);
static int s_fwd_materialize(sl_actor_t *a, int patched);

/*  Open the target's batch if it is not. A batch buffer is handed to
    ZeroMQ when sent (no copy), so each batch starts a new one, sized once. */
static int s_target_begin(s_target_t *t)
{
    if (t->count > 0) {
        return SL_OK;
    }
    sl_buf_reset(&t->batch);
    int rc = sl_buf_reserve(&t->batch, S_BATCH_BYTES + 8192);
    if (rc) {
        return rc;
    }
    return sl_batch_begin(&t->batch);
}

static void s_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t s_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*  Forwarding broke off (or the message cannot go on whole): copy the events
    forwarded so far into the target's batch, with their hop counts raised
    (unless the message was already patched), and stop forwarding. */
static int s_fwd_materialize(sl_actor_t *a, int patched)
{
    a->fwd_ok = 0;
    if (a->fwd_n == 0) {
        return SL_OK;
    }
    s_target_t *t = a->fwd_target;
    const uint8_t *base = zmq_msg_data(a->cur_msg);
    for (uint32_t i = 0; i < a->fwd_n; i++) {
        int rc = s_target_begin(t);
        if (rc) {
            return rc;
        }
        size_t n = a->ev_end[i] - a->ev_start[i];
        rc = sl_buf_append(&t->batch, base + a->ev_start[i], n);
        if (rc) {
            return rc;
        }
        if (!patched) {
            uint8_t *h = t->batch.data + t->batch.len - n + (a->ev_hops[i] - a->ev_start[i]);
            s_put_be32(h, s_get_be32(h) + 1);
        }
        t->count++;
        a->pending = 1;
        if (t->count >= S_BATCH_EVENTS || t->batch.len >= S_BATCH_BYTES) {
            s_target_send_nowait(a, t);
        }
    }
    a->fwd_n = 0;
    return SL_OK;
}

/*  Where the 4 bytes of the hops value of an event in canonical layout are
    (offset in the message), or 0 if the layout is not the encoder's. */
static uint32_t s_hops_at(const uint8_t *base, uint32_t start, uint32_t end, const sl_event_t *ev)
{
    static const uint8_t hops_key[6] = {0xa4, 'h', 'o', 'p', 's', 0xce};
    static const uint8_t body_key[5] = {0xa4, 'b', 'o', 'd', 'y'};
    uint32_t body = ev->body.len ? (uint32_t)((const uint8_t *)ev->body.ptr - base) : end - 1;
    if (body < start + 15 || body > end) {
        return 0;
    }
    uint32_t h = body - 5 - 4;
    if (memcmp(base + h - 6, hops_key, 6) != 0 || memcmp(base + body - 5, body_key, 5) != 0) {
        return 0;
    }
    return h;
}

/*  The target of an event for worker w: over CURVE, the connection of the
    event's tenant; NULL if the tenant has none (no key) or it failed. */
static s_target_t *s_pick(s_link_t *link, uint32_t w, const sl_event_t *ev)
{
    s_target_t **row = link->targets + (size_t)w * (size_t)link->n_slots;
    if (link->n_slots == 1 && row[0] && !row[0]->tenant[0]) {
        return row[0];
    }
    for (int t = 0; t < link->n_slots; t++) {
        if (row[t] && sl_slice_eq(ev->tenant, row[t]->tenant)) {
            return row[t];
        }
    }
    return NULL;
}

/*  An event whose tenant cannot cross a CURVE link: counted, not sent. */
static void s_no_key(sl_actor_t *a, s_link_t *link, uint32_t w, const sl_event_t *ev)
{
    s_target_t *any = NULL;
    for (int t = 0; t < link->n_slots && !any; t++) {
        any = link->targets[(size_t)w * (size_t)link->n_slots + (size_t)t];
    }
    atomic_fetch_add_explicit(&a->m->no_link_key, 1, memory_order_relaxed);
    s_warn_limited(a,
                   "an event of tenant '%.*s' not sent to %s: the tenant has no key for this "
                   "CURVE link",
                   (int)(ev->tenant.len > 64 ? 64 : ev->tenant.len), ev->tenant.ptr,
                   any ? any->consumer : "its consumer");
}

int sl_emit(sl_actor_t *a, int output, const sl_event_t *ev)
{
    if (output < 0 || output >= a->n_outputs) {
        return SL_EINVAL;
    }
    if (a->done) {
        return SL_ESTOPPED;
    }
    s_output_t *out = &a->outputs[output];
    if (out->n_links == 0) {
        return SL_OK;
    }
    if (a->fwd_ok) {
        s_target_t *only =
            out->n_links == 1 && out->links[0].n_targets == 1 ? out->links[0].targets[0] : NULL;
        if (ev == a->cur_ev && a->fwd_n == a->cur_index && only &&
            (!only->tenant[0] || sl_slice_eq(ev->tenant, only->tenant)) &&
            (!a->fwd_target || a->fwd_target == only)) {
            a->fwd_target = out->links[0].targets[0];
            a->fwd_n++;
            atomic_fetch_add_explicit(&a->m->events_out, 1, memory_order_relaxed);
            return SL_OK;
        }
        int rc = s_fwd_materialize(a, 0);
        if (rc) {
            return rc;
        }
    }
    sl_event_t copy = *ev;
    copy.version = SL_EVENT_VERSION;
    copy.hops = ev->hops + 1;
    uint32_t h = 0;
    int hashed = 0;
    for (int l = 0; l < out->n_links; l++) {
        s_link_t *link = &out->links[l];
        if (link->n_targets == 0) {
            continue;
        }
        uint32_t w = 0;
        if (link->n_workers > 1) {
            if (!hashed) {
                h = s_partition(&copy);
                hashed = 1;
            }
            w = h % (uint32_t)link->n_workers;
        }
        s_target_t *t = s_pick(link, w, &copy);
        if (!t) {
            s_no_key(a, link, w, &copy);
            continue;
        }
        int rc = s_target_begin(t);
        if (rc) {
            return rc;
        }
        rc = sl_event_encode(&copy, &t->batch);
        if (rc) {
            return rc;
        }
        t->count++;
        a->pending = 1;
        if (t->count >= S_BATCH_EVENTS || t->batch.len >= S_BATCH_BYTES) {
            /* Never block inside handle: a full queue leaves the batch to
               the main loop, which waits for room and for commands. */
            s_target_send_nowait(a, t);
        }
    }
    atomic_fetch_add_explicit(&a->m->events_out, 1, memory_order_relaxed);
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/*  Thread side: targets, flushing, control messages                         */

static void *s_ctx(void)
{
    return zsys_init();
}

static s_target_t *s_target_new(const s_target_spec_t *ts, int durable, int slots)
{
    s_target_t *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->sock = zmq_socket(s_ctx(), ZMQ_PUSH);
    if (!t->sock) {
        free(t);
        return NULL;
    }
    if (ts->curve && sl_curve_client(t->sock, &ts->key) != SL_OK) {
        sl_error(NULL, "CURVE client setup for %s: %s", ts->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(t->sock);
        free(t);
        return NULL;
    }
    /* Over TCP, what is queued when the process ends must still go out:
       linger (bounded). Inproc pipes are read to the end by the peer. */
    int hwm = S_HWM, linger = strncmp(ts->endpoint, "tcp://", 6) == 0 ? 10000 : 0, immediate = 0;
    zmq_setsockopt(t->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(t->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(t->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    if (zmq_connect(t->sock, ts->endpoint) != 0) {
        sl_error(NULL, "connect %s: %s", ts->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(t->sock);
        free(t);
        return NULL;
    }
    snprintf(t->endpoint, sizeof t->endpoint, "%s", ts->endpoint);
    snprintf(t->consumer, sizeof t->consumer, "%s", ts->consumer);
    snprintf(t->tenant, sizeof t->tenant, "%s", ts->curve ? ts->key.tenant : "");
    t->metrics = ts->metrics;
    t->durable = durable;
    t->slots = slots;
    return t;
}

static void s_target_destroy(s_target_t **tp)
{
    s_target_t *t = *tp;
    if (!t) {
        return;
    }
    if (t->sock) {
        zmq_close(t->sock);
    }
    sl_buf_free(&t->batch);
    free(t);
    *tp = NULL;
}

static void s_free_batch(void *data, void *hint)
{
    free(data);
}

/*  Try to send the target's batch without waiting. SL_OK when sent (or
    nothing to send), SL_EAGAIN when the queue is full. A durable target
    that is full drops the batch: its follower reads the log by cursor. */
static int s_target_send_nowait(sl_actor_t *a, s_target_t *t)
{
    if (t->count == 0) {
        return SL_OK;
    }
    sl_batch_end(&t->batch, t->count);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, t->batch.data, t->batch.len, s_free_batch, NULL) != 0) {
        return SL_ENOMEM;
    }
    if (zmq_msg_send(&m, t->sock, ZMQ_DONTWAIT) < 0) {
        /*  Not taken: closing the message frees the buffer, so keep a copy
            (rare: the main loop waits for room before trying again). */
        size_t len = zmq_msg_size(&m);
        uint8_t *keep = malloc(len + 8192);
        if (keep) {
            memcpy(keep, zmq_msg_data(&m), len);
        }
        zmq_msg_close(&m);
        t->batch = (sl_buf_t){keep, keep ? len : 0, keep ? len + 8192 : 0};
        if (!keep) {
            t->count = 0;
            return SL_ENOMEM;
        }
        if (t->durable) {
            sl_debug(a->name, "durable output full: %u events left to the log", t->count);
            t->count = 0;
            sl_buf_reset(&t->batch);
            return SL_OK;
        }
        return SL_EAGAIN;
    }
    if (t->metrics) {
        atomic_fetch_add_explicit(&t->metrics->enqueued, t->count, memory_order_relaxed);
    }
    t->count = 0;
    t->batch = (sl_buf_t){0};
    return SL_OK;
}

static int s_handle_command(sl_actor_t *a);

/*  Send every pending batch, waiting for room; while waiting, commands from
    the engine are served (a relink may replace targets, $TERM ends it). */
static void s_flush_all(sl_actor_t *a)
{
    if (!a->pending) {
        return;
    }
restart:
    for (int i = 0; i < a->n_targets_all; i++) {
        s_target_t *t = a->all[i];
        while (t->count > 0) {
            if (s_target_send_nowait(a, t) == SL_OK) {
                break;
            }
            zmq_pollitem_t items[2] = {
                {a->pipe, 0, ZMQ_POLLIN, 0},
                {t->sock, 0, ZMQ_POLLOUT, 0},
            };
            if (zmq_poll(items, 2, 1000) < 0) {
                continue;
            }
            if (items[0].revents & ZMQ_POLLIN) {
                s_handle_command(a);
                if (a->term) {
                    return;
                }
                goto restart; /* targets may have changed */
            }
        }
    }
    a->pending = 0;
}

/*  Send a control message to every target, waiting for room (serving
    commands meanwhile). A durable target is tried once (its follower
    reads the log). Per target it adds what the consumer needs to count
    the connections it gets the message on (a CURVE link has one per
    tenant, each its own ordered pipe): end of stream (type 'E') "\0" and
    their number when more than one, a mark ('M') "\0<number>:<tenant>".
    Marks skip durable targets: they do not travel change logs. */
static int s_send_ctl(sl_actor_t *a, const void *body, size_t n, char type)
{
    char msg[16 + 4 * S_ID_MAX];
    if (n > sizeof msg - 16 - SL_CURVE_TENANT_MAX) {
        return SL_EINVAL;
    }
    memcpy(msg, body, n);
    for (int i = 0; i < a->n_targets_all && !a->term; i++) {
        s_target_t *t = a->all[i];
        size_t len = n;
        if (type == S_CTL_MARK && t->durable) {
            continue;
        }
        if (type == S_CTL_MARK) {
            msg[len++] = '\0';
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%d:%s",
                                    t->slots > 0 ? t->slots : 1, t->tenant);
        } else if (t->slots > 1) {
            msg[len++] = '\0';
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%d", t->slots);
        }
        for (;;) {
            if (zmq_send(t->sock, msg, len, ZMQ_DONTWAIT) >= 0) {
                break;
            }
            if (t->durable) {
                break;
            }
            zmq_pollitem_t items[2] = {
                {a->pipe, 0, ZMQ_POLLIN, 0},
                {t->sock, 0, ZMQ_POLLOUT, 0},
            };
            zmq_poll(items, 2, 1000);
            if (items[0].revents & ZMQ_POLLIN) {
                s_handle_command(a);
                if (a->term) {
                    return SL_ESTOPPED;
                }
                i = -1; /* targets may have changed: send to all again */
                break;
            }
        }
    }
    return a->term ? SL_ESTOPPED : SL_OK;
}

/*  End of stream: 0xc1 'E' ID (and the slots suffix, s_send_ctl). */
static int s_send_eos(sl_actor_t *a)
{
    char msg[2 + S_ID_MAX];
    msg[0] = (char)S_CTL_BYTE;
    msg[1] = S_CTL_EOS;
    size_t n = strlen(a->id);
    memcpy(msg + 2, a->id, n);
    return s_send_ctl(a, msg, n + 2, S_CTL_EOS);
}

/* ------------------------------------------------------------------------ */
/*  Journal marks and confirmations                                          */

/*  A mark or a confirmation: [0xc1][type][seq, 8 bytes big-endian] then
    NUL-separated strings, the last one running to the end. A mark's are
    sender, origin, journal id, and "<connections>:<tenant>" (added per
    target by s_send_ctl); a confirmation's are consumer and journal id. */
typedef struct {
    uint64_t seq;
    char s[4][S_ID_MAX];
} s_ctl_t;

static size_t s_ctl_build(uint8_t *buf, size_t cap, char type, uint64_t seq,
                          const char *const *strs, int n)
{
    size_t off = 10;
    buf[0] = S_CTL_BYTE;
    buf[1] = (uint8_t)type;
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    for (int i = 0; i < n; i++) {
        size_t l = strlen(strs[i]) + (i + 1 < n ? 1 : 0);
        if (off + l > cap) {
            return 0;
        }
        memcpy(buf + off, strs[i], l);
        off += l;
    }
    return off;
}

/*  Parse n strings (each 1 .. S_ID_MAX-1 bytes). SL_EPROTO if malformed:
    these may come from another node. */
static int s_ctl_parse(const uint8_t *p, size_t len, int n, s_ctl_t *c)
{
    if (len < 11) {
        return SL_EPROTO;
    }
    c->seq = 0;
    for (int i = 0; i < 8; i++) {
        c->seq = (c->seq << 8) | p[2 + i];
    }
    size_t off = 10;
    for (int i = 0; i < n; i++) {
        const uint8_t *end = p + len;
        const uint8_t *z = i + 1 < n ? memchr(p + off, 0, len - off) : NULL;
        size_t l = (size_t)((i + 1 < n ? z : end) - (p + off));
        if ((i + 1 < n && !z) || l == 0 || l >= S_ID_MAX ||
            (i + 1 == n && memchr(p + off, 0, l) != NULL)) {
            return SL_EPROTO;
        }
        memcpy(c->s[i], p + off, l);
        c->s[i][l] = '\0';
        off += l + 1;
    }
    return SL_OK;
}

static s_markin_t *s_markin_find(sl_actor_t *a, const char *origin)
{
    for (int i = 0; i < a->n_markin; i++) {
        if (strcmp(a->markin[i].origin, origin) == 0) {
            return &a->markin[i];
        }
    }
    return NULL;
}

static void s_upmark_clear(s_upmark_t *u)
{
    free(u->key);
    free(u->seq);
    memset(u, 0, sizeof *u);
}

/*  The mark an upstream instance has passed on every connection, or 0. */
static uint64_t s_upmark_value(const s_upmark_t *u)
{
    if (u->need < 1 || u->n < u->need) {
        return 0;
    }
    uint64_t low = u->seq[0];
    for (int k = 1; k < u->n; k++) {
        low = u->seq[k] < low ? u->seq[k] : low;
    }
    return low;
}

/*  Note a mark that came on connection `key` of `need`. */
static void s_upmark_note(s_upmark_t *u, int need, const char *key, uint64_t seq)
{
    if (need != u->need) {
        s_upmark_clear(u); /* its links changed: count them again */
        u->need = need;
    }
    int k = 0;
    while (k < u->n && strcmp(u->key[k], key) != 0) {
        k++;
    }
    if (k == u->n) {
        if (u->n == u->need) {
            return; /* more connections than it said: ignored */
        }
        char(*nk)[SL_CURVE_TENANT_MAX + 1] = realloc(u->key, (size_t)(u->n + 1) * sizeof *nk);
        if (nk) {
            u->key = nk;
        }
        uint64_t *ns = nk ? realloc(u->seq, (size_t)(u->n + 1) * sizeof *ns) : NULL;
        if (!ns) {
            return; /* not counted: nothing is confirmed, nothing lost */
        }
        u->seq = ns;
        snprintf(u->key[k], sizeof u->key[k], "%s", key);
        u->seq[k] = 0;
        u->n++;
    }
    if (seq > u->seq[k]) {
        u->seq[k] = seq;
    }
}

static void s_markin_clear(s_markin_t *m)
{
    free(m->origin);
    s_strv_free(m->up, m->n_up);
    for (int i = 0; m->um && i < m->n_up; i++) {
        s_upmark_clear(&m->um[i]);
    }
    free(m->um);
    sl_curve_key_wipe(&m->confirm.key);
    s_target_destroy(&m->sock);
    sl_journal_close(&m->held);
    memset(m, 0, sizeof *m);
}

static void s_markin_free_all(sl_actor_t *a)
{
    for (int i = 0; i < a->n_markin; i++) {
        s_markin_clear(&a->markin[i]);
    }
    free(a->markin);
    a->markin = NULL;
    a->n_markin = 0;
    s_strv_free(a->confirmers, -1);
    a->confirmers = NULL;
}

/*  Take the spec's marks (relink: what each upstream already sent, the
    journal reference and the way back carry over). */
static int s_apply_marks(sl_actor_t *a, s_spec_t *spec)
{
    s_markin_t *nm = calloc((size_t)spec->n_markin + 1, sizeof *nm);
    if (!nm) {
        return SL_ENOMEM;
    }
    for (int i = 0; i < spec->n_markin; i++) {
        s_markin_spec_t *ms = &spec->markin[i];
        s_markin_t *m = &nm[i];
        s_markin_t *old = s_markin_find(a, ms->origin);
        m->origin = ms->origin;
        m->up = ms->up;
        m->n_up = ms->n_up;
        ms->origin = NULL;
        ms->up = NULL;
        ms->n_up = 0;
        m->confirm = ms->confirm;
        m->um = calloc((size_t)m->n_up + 1, sizeof *m->um);
        if (!m->um) {
            continue; /* no marks pass here: nothing is confirmed, nothing lost */
        }
        if (old) {
            for (int u = 0; u < m->n_up; u++) {
                for (int k = 0; old->um && k < old->n_up; k++) {
                    if (strcmp(old->up[k], m->up[u]) == 0) {
                        m->um[u] = old->um[k];
                        memset(&old->um[k], 0, sizeof old->um[k]);
                    }
                }
            }
            m->passed = old->passed;
            memcpy(m->journal, old->journal, sizeof m->journal);
            m->held = old->held;
            old->held = NULL;
            if (strcmp(old->confirm.endpoint, m->confirm.endpoint) == 0) {
                m->sock = old->sock;
                old->sock = NULL;
            }
        }
    }
    for (int i = 0; i < a->n_markin; i++) {
        s_markin_clear(&a->markin[i]);
    }
    free(a->markin);
    a->markin = nm;
    a->n_markin = spec->n_markin;
    s_strv_free(a->confirmers, -1);
    a->confirmers = spec->confirmers;
    spec->confirmers = NULL;
    return SL_OK;
}

/*  A mark from an upstream instance: when the lowest mark of the origin
    over every upstream connection carrying it advances, pass it on (after
    flushing what this instance emitted before it) or, in a confirmer,
    hand it to the kind. */
static void s_on_mark(sl_actor_t *a, const uint8_t *p, size_t len)
{
    s_ctl_t c;
    char *colon = NULL;
    long need = 0;
    if (s_ctl_parse(p, len, 4, &c) == SL_OK) {
        need = strtol(c.s[3], &colon, 10);
    }
    if (!colon || *colon != ':' || need < 1 || need > 100000 || strlen(c.s[2]) >= S_JID_MAX ||
        strlen(colon + 1) > SL_CURVE_TENANT_MAX) {
        atomic_fetch_add_explicit(&a->engine->metrics->malformed, 1, memory_order_relaxed);
        sl_warn(a->name, "dropped a malformed journal mark of %zu bytes", len);
        return;
    }
    s_markin_t *m = s_markin_find(a, c.s[1]);
    if (!m || !m->um) {
        return; /* a sink, or not on a path of that origin */
    }
    int u = 0;
    while (u < m->n_up && strcmp(m->up[u], c.s[0]) != 0) {
        u++;
    }
    if (u == m->n_up) {
        return;
    }
    if (strcmp(m->journal, c.s[2]) != 0) {
        /*  A new journal behind the origin (first mark, or the directory
            was made anew): its sequences start again. */
        for (int k = 0; k < m->n_up; k++) {
            s_upmark_clear(&m->um[k]);
        }
        m->passed = 0;
        sl_journal_close(&m->held);
        snprintf(m->journal, sizeof m->journal, "%s", c.s[2]);
    }
    s_upmark_note(&m->um[u], (int)need, colon + 1, c.seq);
    uint64_t low = s_upmark_value(&m->um[0]);
    for (int k = 1; k < m->n_up; k++) {
        uint64_t v = s_upmark_value(&m->um[k]);
        low = v < low ? v : low;
    }
    if (low <= m->passed) {
        return;
    }
    m->passed = low;
    if (a->kind->mark && (a->kind->flags & SL_KIND_CONFIRMS)) {
        if (!m->confirm.endpoint[0] && !m->held) {
            /*  Hold the journal from the first mark on: the origin may stop
                before this instance commits what came before its last
                mark, and that confirmation must still be written. */
            m->held = sl_journal_find(m->journal);
        }
        sl_mark_t mk = {.origin = m->origin, .seq = low};
        if (a->kind->mark(a, a->state, &mk) < 0) {
            atomic_fetch_add_explicit(&a->m->errors, 1, memory_order_relaxed);
        }
        return;
    }
    if (a->n_outputs == 0) {
        return;
    }
    uint8_t buf[16 + 3 * S_ID_MAX];
    const char *strs[3] = {a->id, m->origin, m->journal};
    size_t n = s_ctl_build(buf, sizeof buf, S_CTL_MARK, low, strs, 3);
    s_flush_all(a);
    if (n > 0 && !a->term) {
        s_send_ctl(a, buf, n, S_CTL_MARK);
    }
}

/*  A confirmation from a confirmer on another node, at the origin. */
static void s_on_confirm(sl_actor_t *a, const uint8_t *p, size_t len)
{
    s_ctl_t c;
    if (!(a->kind->flags & SL_KIND_MARKS) || s_ctl_parse(p, len, 2, &c) != SL_OK) {
        atomic_fetch_add_explicit(&a->engine->metrics->malformed, 1, memory_order_relaxed);
        sl_warn(a->name, "dropped a malformed journal confirmation of %zu bytes", len);
        return;
    }
    int known = 0;
    for (int i = 0; a->confirmers && a->confirmers[i] && !known; i++) {
        known = strcmp(a->confirmers[i], c.s[0]) == 0;
    }
    if (!known) {
        s_warn_limited(a,
                       "ignored a journal confirmation from '%s', which is not a confirmer of "
                       "this actor",
                       c.s[0]);
        return;
    }
    sl_journal_t *j = sl_journal_find(c.s[1]);
    if (!j) {
        return; /* an earlier journal, or this actor's is closed: harmless */
    }
    int rc = sl_journal_confirm(j, c.s[0], c.seq);
    if (rc != SL_OK) {
        s_warn_limited(a, "journal confirmation %llu from %s refused: %s",
                       (unsigned long long)c.seq, c.s[0], sl_strerror(rc));
    }
    sl_journal_close(&j);
}

int sl_emit_mark(sl_actor_t *a, const char *journal_id, uint64_t seq)
{
    if (!(a->kind->flags & SL_KIND_MARKS) || a->workers != 1 || !journal_id ||
        strlen(journal_id) == 0 || strlen(journal_id) >= S_JID_MAX) {
        return SL_EINVAL;
    }
    if (a->done || a->term) {
        return SL_ESTOPPED;
    }
    uint8_t buf[16 + 3 * S_ID_MAX];
    const char *strs[3] = {a->id, a->name, journal_id};
    size_t n = s_ctl_build(buf, sizeof buf, S_CTL_MARK, seq, strs, 3);
    if (n == 0) {
        return SL_EINVAL;
    }
    s_flush_all(a);
    if (a->term) {
        return SL_ESTOPPED;
    }
    return s_send_ctl(a, buf, n, S_CTL_MARK);
}

int sl_actor_confirm(sl_actor_t *a, const char *origin, uint64_t seq)
{
    s_markin_t *m = origin ? s_markin_find(a, origin) : NULL;
    if (!m || !m->journal[0]) {
        return SL_ENOTFOUND;
    }
    if (seq > m->passed) {
        return SL_ERANGE;
    }
    if (!m->confirm.endpoint[0]) {
        if (!m->held) {
            m->held = sl_journal_find(m->journal);
        }
        return m->held ? sl_journal_confirm(m->held, a->name, seq) : SL_ENOTFOUND;
    }
    if (!m->sock && !(m->sock = s_target_new(&m->confirm, 0, 1))) {
        return SL_EIO;
    }
    uint8_t buf[16 + 2 * S_ID_MAX];
    const char *strs[2] = {a->name, m->journal};
    size_t n = s_ctl_build(buf, sizeof buf, S_CTL_CONFIRM, seq, strs, 2);
    if (n == 0) {
        return SL_EINVAL;
    }
    return zmq_send(m->sock->sock, buf, n, ZMQ_DONTWAIT) >= 0 ? SL_OK : SL_EAGAIN;
}

const char *const *sl_actor_confirmers(const sl_actor_t *a)
{
    static const char *const none[1] = {NULL};
    return a->confirmers ? (const char *const *)a->confirmers : none;
}

static void s_free_links(sl_actor_t *a)
{
    s_markin_free_all(a);
    for (int i = 0; i < a->n_targets_all; i++) {
        s_target_destroy(&a->all[i]);
    }
    free(a->all);
    a->all = NULL;
    a->n_targets_all = 0;
    for (int o = 0; o < a->n_outputs; o++) {
        for (int l = 0; l < a->outputs[o].n_links; l++) {
            free(a->outputs[o].links[l].targets);
        }
        free(a->outputs[o].links);
    }
    free(a->outputs);
    a->outputs = NULL;
    a->n_outputs = 0;
}

/*  Replace the instance's links with those of `spec` (owned, freed here).
    Targets whose endpoint stays are kept with their pending events; the
    others are closed, and what they held is dropped with them: it was for
    an actor that is being removed or restarted. */
static int s_apply_spec(sl_actor_t *a, s_spec_t *spec)
{
    int rc = SL_OK;
    s_target_t **old = a->all;
    int n_old = a->n_targets_all;
    s_output_t *old_outputs = a->outputs;
    int old_n_outputs = a->n_outputs;

    int total = 0;
    for (int o = 0; o < spec->n_outputs; o++) {
        for (int l = 0; l < spec->outputs[o].n_links; l++) {
            total += spec->outputs[o].links[l].n_targets;
        }
    }
    s_output_t *outs = calloc((size_t)spec->n_outputs + 1, sizeof *outs);
    s_target_t **all = calloc((size_t)total + 1, sizeof *all);
    if (!outs || !all) {
        free(outs);
        free(all);
        s_spec_free(spec);
        return SL_ENOMEM;
    }
    int k = 0;
    for (int o = 0; o < spec->n_outputs; o++) {
        s_output_spec_t *os = &spec->outputs[o];
        outs[o].links = calloc((size_t)os->n_links + 1, sizeof(s_link_t));
        if (!outs[o].links) {
            rc = SL_ENOMEM;
            continue;
        }
        outs[o].n_links = os->n_links;
        for (int l = 0; l < os->n_links; l++) {
            s_link_spec_t *ls = &os->links[l];
            s_link_t *link = &outs[o].links[l];
            link->targets = calloc((size_t)ls->n_targets + 1, sizeof(s_target_t *));
            if (!link->targets) {
                rc = SL_ENOMEM;
                continue;
            }
            link->n_workers = ls->n_workers;
            link->n_slots = ls->n_slots;
            link->n_targets = ls->n_targets; /* by position; a failed one is NULL */
            for (int t = 0; t < ls->n_targets; t++) {
                s_target_t *found = NULL;
                for (int i = 0; i < n_old; i++) {
                    if (old[i] && strcmp(old[i]->endpoint, ls->targets[t].endpoint) == 0) {
                        found = old[i];
                        old[i] = NULL;
                        break;
                    }
                }
                if (!found) {
                    found = s_target_new(&ls->targets[t], ls->durable, ls->n_slots);
                    /*  The consumer was restarted under a new endpoint: what
                        was pending for its predecessor goes to it (the same
                        tenant's, over CURVE). */
                    for (int i = 0; found && i < n_old; i++) {
                        if (old[i] && old[i]->count > 0 &&
                            strcmp(old[i]->consumer, found->consumer) == 0 &&
                            strcmp(old[i]->tenant, found->tenant) == 0) {
                            sl_buf_t tmp = found->batch;
                            found->batch = old[i]->batch;
                            found->count = old[i]->count;
                            old[i]->batch = tmp;
                            old[i]->count = 0;
                            break;
                        }
                    }
                }
                if (!found) {
                    rc = SL_EIO;
                    continue;
                }
                found->metrics = ls->targets[t].metrics;
                found->slots = ls->n_slots;
                link->targets[t] = found;
                all[k++] = found;
            }
        }
    }
    for (int i = 0; i < n_old; i++) {
        if (old[i] && old[i]->count > 0) {
            sl_warn(a->name, "%u events for %s dropped: its consumer is gone", old[i]->count,
                    old[i]->consumer);
        }
        s_target_destroy(&old[i]);
    }
    free(old);
    for (int o = 0; o < old_n_outputs; o++) {
        for (int l = 0; l < old_outputs[o].n_links; l++) {
            free(old_outputs[o].links[l].targets);
        }
        free(old_outputs[o].links);
    }
    free(old_outputs);
    a->outputs = outs;
    a->n_outputs = spec->n_outputs;
    a->all = all;
    a->n_targets_all = k;
    a->pending = 0;
    for (int i = 0; i < k; i++) {
        if (all[i]->count) {
            a->pending = 1;
        }
    }
    for (int i = 0; i < a->n_expected; i++) {
        free(a->expected[i]);
    }
    free(a->expected);
    a->expected = spec->expected;
    a->n_expected = spec->n_expected;
    spec->expected = NULL;
    spec->n_expected = 0;
    if (s_apply_marks(a, spec) != SL_OK && rc == SL_OK) {
        rc = SL_ENOMEM;
    }
    s_spec_free(spec);
    return rc;
}

/*  1 if every upstream waited for has sent end-of-stream (on each of its
    connections to this instance). */
static int s_all_seen(const sl_actor_t *a)
{
    for (int i = 0; i < a->n_expected; i++) {
        int found = 0;
        for (int j = 0; j < a->n_seen && !found; j++) {
            found = strcmp(a->expected[i], a->seen[j].id) == 0 && a->seen[j].got >= a->seen[j].need;
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/*  An end of stream: "ID" or "ID\0N" (N connections carry one each). */
static void s_note_eos(sl_actor_t *a, const char *msg, size_t len)
{
    char buf[S_ID_MAX];
    const char *nul = memchr(msg, '\0', len);
    size_t idlen = nul ? (size_t)(nul - msg) : len;
    uint32_t need = 1;
    if (nul) {
        char num[16];
        size_t nl = len - idlen - 1;
        if (nl == 0 || nl >= sizeof num) {
            return; /* malformed: ignored, like an unknown control message */
        }
        memcpy(num, nul + 1, nl);
        num[nl] = 0;
        long v = strtol(num, NULL, 10);
        need = v > 0 && v < 1000000 ? (uint32_t)v : 1;
    }
    if (idlen >= sizeof buf) {
        idlen = sizeof buf - 1;
    }
    memcpy(buf, msg, idlen);
    buf[idlen] = 0;
    for (int j = 0; j < a->n_seen; j++) {
        if (strcmp(a->seen[j].id, buf) == 0) {
            a->seen[j].got++;
            return;
        }
    }
    s_seen_t *seen = realloc(a->seen, ((size_t)a->n_seen + 1) * sizeof *seen);
    if (!seen) {
        return;
    }
    a->seen = seen;
    a->seen[a->n_seen] = (s_seen_t){strdup(buf), 1, need};
    if (a->seen[a->n_seen].id) {
        a->n_seen++;
    }
}

/*  Serve one command from the engine. */
static int s_handle_command(sl_actor_t *a)
{
    zmsg_t *msg = zmsg_recv(a->pipe);
    if (!msg) {
        a->term = 1;
        return SL_ESTOPPED;
    }
    char *cmd = zmsg_popstr(msg);
    if (cmd && strcmp(cmd, "$TERM") == 0) {
        a->term = 1;
    } else if (cmd && strcmp(cmd, "RELINK") == 0) {
        zframe_t *f = zmsg_pop(msg);
        if (f && zframe_size(f) == sizeof(void *)) {
            s_spec_t *spec;
            memcpy(&spec, zframe_data(f), sizeof spec);
            if (s_apply_spec(a, spec) != SL_OK) {
                sl_error(a->name, "relink incomplete: some outputs are not connected");
            }
        }
        zframe_destroy(&f);
        /*  The engine waits for this: after it, nothing more is sent to the
            endpoints this instance let go. */
        zstr_send(a->pipe, "RELINKED");
    } else if (cmd && strcmp(cmd, "RETIRE") == 0) {
        a->retiring = 1;
    } else if (cmd && strcmp(cmd, "STOP") == 0) {
        atomic_store(&a->stopping, 1);
    }
    free(cmd);
    zmsg_destroy(&msg);
    return SL_OK;
}

/*  Handle one received message: a batch of events or a control message. */
static int s_ev_reserve(sl_actor_t *a, uint32_t n)
{
    if (n <= a->ev_cap) {
        return SL_OK;
    }
    uint32_t cap = a->ev_cap ? a->ev_cap : 256;
    while (cap < n) {
        cap *= 2;
    }
    uint32_t *s1 = realloc(a->ev_start, cap * sizeof *s1);
    if (s1) {
        a->ev_start = s1;
    }
    uint32_t *s2 = realloc(a->ev_end, cap * sizeof *s2);
    if (s2) {
        a->ev_end = s2;
    }
    uint32_t *s3 = realloc(a->ev_hops, cap * sizeof *s3);
    if (s3) {
        a->ev_hops = s3;
    }
    if (!s1 || !s2 || !s3) {
        return SL_ENOMEM;
    }
    a->ev_cap = cap;
    return SL_OK;
}

/*  The whole message was forwarded: send it on as it is, hop counts raised
    in place, after what the target already had pending (order). */
static void s_fwd_whole(sl_actor_t *a, uint32_t n)
{
    s_target_t *t = a->fwd_target;
    if (t->count > 0 && s_target_send_nowait(a, t) != SL_OK) {
        s_fwd_materialize(a, 0);
        return;
    }
    uint8_t *base = zmq_msg_data(a->cur_msg);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *h = base + a->ev_hops[i];
        s_put_be32(h, s_get_be32(h) + 1);
    }
    if (zmq_msg_send(a->cur_msg, t->sock, ZMQ_DONTWAIT) < 0) {
        s_fwd_materialize(a, 1);
        return;
    }
    if (t->metrics) {
        atomic_fetch_add_explicit(&t->metrics->enqueued, n, memory_order_relaxed);
    }
    a->fwd_ok = 0;
    a->fwd_n = 0;
}

/*  Handle one received message: a batch of events or a control message. */
static void s_handle_message(sl_actor_t *a, zmq_msg_t *msg)
{
    const uint8_t *p = zmq_msg_data(msg);
    size_t len = zmq_msg_size(msg);
    if (len >= 1 && p[0] == S_CTL_BYTE) {
        if (len >= 2 && p[1] == S_CTL_EOS) {
            s_note_eos(a, (const char *)p + 2, len - 2);
            return;
        }
        if (len >= 2 && p[1] == S_CTL_MARK) {
            s_on_mark(a, p, len);
            return;
        }
        if (len >= 2 && p[1] == S_CTL_CONFIRM) {
            s_on_confirm(a, p, len);
            return;
        }
        atomic_fetch_add_explicit(&a->engine->metrics->malformed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->m->dropped, 1, memory_order_relaxed);
        sl_warn(a->name, "dropped an unknown control message of %zu bytes", len);
        return;
    }
    sl_batch_reader_t r;
    if (len > UINT32_MAX || sl_batch_reader_init(&r, p, len) != SL_OK) {
        atomic_fetch_add_explicit(&a->engine->metrics->malformed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->m->dropped, 1, memory_order_relaxed);
        sl_warn(a->name, "dropped a malformed message of %zu bytes", len);
        return;
    }
    /*  Over CURVE the ZAP handler named the tenant whose key the sender
        holds (inproc messages from this process carry no User-Id). A TCP
        message without one was not authenticated: never expected, since
        the handler runs before anything binds, but refused all the same. */
    const char *link_tenant = NULL;
    if (a->curve_in) {
        link_tenant = zmq_msg_gets(msg, "User-Id");
        if (!link_tenant && zmq_msg_gets(msg, "Peer-Address")) {
            atomic_fetch_add_explicit(&a->m->dropped, r.remaining, memory_order_relaxed);
            atomic_fetch_add_explicit(&a->m->tenant_mismatch, r.remaining, memory_order_relaxed);
            s_warn_limited(a, "dropped %u events from %s: not authenticated by CURVE", r.remaining,
                           zmq_msg_gets(msg, "Peer-Address"));
            return;
        }
    }
    int64_t t0 = sl_mono_us();
    int64_t now_wall = a->m->is_sink ? sl_now_us() : 0;
    uint32_t n = 0;
    sl_event_t ev;
    int rc;
    a->cur_msg = msg;
    a->cur_ev = &ev;
    a->fwd_n = 0;
    a->fwd_target = NULL;
    a->fwd_ok = s_ev_reserve(a, r.remaining) == SL_OK;
    for (;;) {
        uint32_t start = (uint32_t)r.off;
        rc = sl_batch_reader_next(&r, &ev);
        if (rc != 1) {
            break;
        }
        a->cur_index = n;
        if (a->fwd_ok) {
            uint32_t hops = s_hops_at(p, start, (uint32_t)r.off, &ev);
            if (hops == 0 || n >= a->ev_cap) {
                s_fwd_materialize(a, 0);
            } else {
                a->ev_start[n] = start;
                a->ev_end[n] = (uint32_t)r.off;
                a->ev_hops[n] = hops;
            }
        }
        n++;
        if (link_tenant && !sl_slice_eq(ev.tenant, link_tenant)) {
            /*  Stamped with another tenant than the key it came with: a
                spoof or a broken peer. Not handled; forwarding breaks off
                below since it was not emitted. */
            atomic_fetch_add_explicit(&a->m->dropped, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&a->m->tenant_mismatch, 1, memory_order_relaxed);
            s_warn_limited(
                a,
                "dropped an event of tenant '%.*s' that came over tenant '%s''s CURVE "
                "link from %s",
                (int)(ev.tenant.len > 64 ? 64 : ev.tenant.len), ev.tenant.ptr, link_tenant,
                zmq_msg_gets(msg, "Peer-Address") ? zmq_msg_gets(msg, "Peer-Address") : "?");
        } else if (a->kind->handle && a->kind->handle(a, a->state, &ev) < 0) {
            atomic_fetch_add_explicit(&a->m->errors, 1, memory_order_relaxed);
        }
        if (a->fwd_ok && a->fwd_n != n) {
            s_fwd_materialize(a, 0); /* this event was not forwarded */
        }
        if (now_wall && ev.ingest_us > 0 && now_wall >= ev.ingest_us) {
            sl_hist_observe(&a->m->e2e_us, (uint64_t)(now_wall - ev.ingest_us));
        }
    }
    if (a->fwd_ok) {
        if (rc == 0 && a->fwd_n == n && n > 0) {
            s_fwd_whole(a, n);
        } else {
            s_fwd_materialize(a, 0);
        }
    }
    a->cur_ev = NULL;
    a->cur_msg = NULL;
    if (rc < 0) {
        atomic_fetch_add_explicit(&a->engine->metrics->malformed, 1, memory_order_relaxed);
        /* the events not delivered, the broken one included (at least 1:
           trailing bytes after the last event count as one) */
        atomic_fetch_add_explicit(&a->m->dropped, r.remaining ? r.remaining : 1u,
                                  memory_order_relaxed);
        sl_warn(a->name, "dropped the rest of a malformed batch after %u events: %s", n,
                sl_strerror(rc));
    }
    if (n) {
        atomic_fetch_add_explicit(&a->m->events_in, n, memory_order_relaxed);
        uint64_t per = (uint64_t)(sl_mono_us() - t0) / n;
        sl_hist_observe(&a->m->handle_us, per);
    }
}

/*  Done: drain outputs, tell consumers, run exit, tell the engine. */
static void s_finish(sl_actor_t *a)
{
    if (a->done) {
        return;
    }
    if (!a->term && a->kind->idle && a->kind->idle(a, a->state) < 0) {
        atomic_fetch_add_explicit(&a->m->errors, 1, memory_order_relaxed);
    }
    s_flush_all(a);
    if (!a->term && !a->retiring) {
        s_send_eos(a);
    }
    a->done = 1;
    if (a->kind->exit) {
        a->kind->exit(a, a->state);
    }
    atomic_store(&a->finished, 1);
    if (!a->term) {
        zstr_send(a->pipe, "DONE");
    }
}

static void s_thread(zsock_t *pipe, void *arg)
{
    sl_actor_t *a = arg;
    a->pipe = zsock_resolve(pipe);
    a->tick_us = -1;
    int rc = SL_OK;

    a->pull = zmq_socket(s_ctx(), ZMQ_PULL);
    if (!a->pull) {
        rc = SL_EIO;
        goto ready;
    }
    int hwm = S_HWM, linger = 0;
    zmq_setsockopt(a->pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(a->pull, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(a->pull, a->inproc) != 0) {
        sl_error(a->name, "bind %s: %s", a->inproc, zmq_strerror(zmq_errno()));
        rc = SL_EIO;
        goto ready;
    }
    for (int i = 0; i < a->n_binds; i++) {
        s_bind_t *b = &a->binds[i];
        /*  Each endpoint with its tenant's key: libzmq takes the socket's
            options at bind time. */
        if (b->curve && sl_curve_server(a->pull, &b->key) != SL_OK) {
            sl_error(a->name, "CURVE setup for %s: %s", b->endpoint, zmq_strerror(zmq_errno()));
            rc = SL_EIO;
            goto ready;
        }
        sl_curve_key_wipe(&b->key);
        /*  A predecessor's listener on this port (reload) is closed by
            libzmq's I/O thread a moment after its unbind: retry, bounded. */
        int64_t until = sl_mono_us() + 3 * 1000000;
        while (zmq_bind(a->pull, b->endpoint) != 0) {
            if (zmq_errno() != EADDRINUSE || sl_mono_us() > until) {
                sl_error(a->name, "bind %s: %s", b->endpoint, zmq_strerror(zmq_errno()));
                rc = SL_EIO;
                goto ready;
            }
            zmq_poll(NULL, 0, 10);
        }
    }
    rc = s_apply_spec(a, a->spec);
    a->spec = NULL;
    if (rc) {
        goto ready;
    }
    if (a->kind->state_size) {
        a->state = calloc(1, a->kind->state_size);
        if (!a->state) {
            rc = SL_ENOMEM;
            goto ready;
        }
    }
    rc = sl_plan_actor_fill(a->pa, a->state);
    if (rc == SL_OK && a->kind->init) {
        rc = a->kind->init(a, a->state);
    }
    if (rc) {
        sl_opt_free(a->kind, a->state);
        free(a->state);
        a->state = NULL;
    }
ready:
    atomic_store(&a->init_rc, rc ? rc : SL_OK);
    atomic_store(&a->m->ready, rc == SL_OK);
    zsock_signal(pipe, rc == SL_OK ? 0 : 1);
    if (rc) {
        a->done = 1;
        atomic_store(&a->finished, 1);
    }

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (!a->term) {
        if (a->done) {
            /* finished: only wait for $TERM */
            s_handle_command(a);
            continue;
        }
        if (a->pending) {
            s_flush_all(a);
            if (a->term) {
                break;
            }
        }
        if (a->n_expected > 0 && a->n_seen > 0 && s_all_seen(a)) {
            s_finish(a);
            continue;
        }
        if (a->retiring) {
            /*  Upstreams have relinked away: what is queued is all there
                will be. Handle it, then finish without end of stream (the
                successor carries on under the same id). */
            while (!a->term && zmq_msg_recv(&msg, a->pull, ZMQ_DONTWAIT) >= 0) {
                s_handle_message(a, &msg);
                if (a->pending) {
                    s_flush_all(a);
                }
            }
            s_finish(a);
            continue;
        }
        if ((a->follows_stop || a->is_source) && atomic_load(&a->stopping)) {
            s_finish(a);
            continue;
        }
        long timeout = -1;
        int64_t now = sl_mono_us();
        if (a->tick_us >= 0 && a->kind->tick) {
            timeout = a->next_tick <= now ? 0 : (long)((a->next_tick - now + 999) / 1000);
        }
        if (a->follows_stop && timeout < 0) {
            timeout = 100; /* notice a drain without a command */
        }
        zmq_pollitem_t items[2] = {
            {a->pipe, 0, ZMQ_POLLIN, 0},
            {a->pull, 0, ZMQ_POLLIN, 0},
        };
        int np = zmq_poll(items, 2, timeout);
        if (np < 0) {
            continue;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            s_handle_command(a);
            continue;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            int drained = 0;
            for (int i = 0; i < S_BURST_MESSAGES; i++) {
                if (zmq_msg_recv(&msg, a->pull, ZMQ_DONTWAIT) < 0) {
                    drained = 1;
                    break;
                }
                s_handle_message(a, &msg);
            }
            /*  The input ran dry: the moment to close a batch (a store
                commits here, so at low rates nothing waits for a timer). */
            if (drained && a->kind->idle && a->kind->idle(a, a->state) < 0) {
                atomic_fetch_add_explicit(&a->m->errors, 1, memory_order_relaxed);
            }
        }
        if (a->tick_us >= 0 && a->kind->tick && sl_mono_us() >= a->next_tick) {
            a->next_tick = sl_mono_us() + a->tick_us;
            int trc = a->kind->tick(a, a->state);
            if (trc == SL_DONE) {
                if (a->is_source) {
                    s_finish(a);
                }
            } else if (trc < 0) {
                atomic_fetch_add_explicit(&a->m->errors, 1, memory_order_relaxed);
            }
        }
    }
    zmq_msg_close(&msg);
    if (!a->done) {
        a->done = 1;
        if (a->kind->exit && a->state) {
            a->kind->exit(a, a->state);
        }
        atomic_store(&a->finished, 1);
    }
    atomic_store(&a->m->ready, 0);
    s_free_links(a);
    if (a->pull) {
        /*  Unbind first: close is asynchronous, and a successor (or a new
            engine in the same process) may bind the same endpoint next. */
        zmq_unbind(a->pull, a->inproc);
        for (int i = 0; i < a->n_binds; i++) {
            zmq_unbind(a->pull, a->binds[i].endpoint);
        }
        zmq_close(a->pull);
        a->pull = NULL;
    }
    if (a->state) {
        sl_opt_free(a->kind, a->state);
        free(a->state);
        a->state = NULL;
    }
    for (int i = 0; i < a->n_expected; i++) {
        free(a->expected[i]);
    }
    free(a->expected);
    a->expected = NULL;
    for (int i = 0; i < a->n_seen; i++) {
        free(a->seen[i].id);
    }
    free(a->seen);
    a->seen = NULL;
    free(a->ev_start);
    free(a->ev_end);
    free(a->ev_hops);
    a->ev_start = a->ev_end = a->ev_hops = NULL;
}

/* ------------------------------------------------------------------------ */
/*  Engine side: plan -> instances and link specifications                  */

static int s_gen_get(sl_engine_t *e, const char *name)
{
    for (int i = 0; i < e->n_gen; i++) {
        if (strcmp(e->gen_names[i], name) == 0) {
            return e->gen_values[i];
        }
    }
    return 0;
}

static void s_gen_bump(sl_engine_t *e, const char *name)
{
    for (int i = 0; i < e->n_gen; i++) {
        if (strcmp(e->gen_names[i], name) == 0) {
            e->gen_values[i]++;
            return;
        }
    }
    char **names = realloc(e->gen_names, ((size_t)e->n_gen + 1) * sizeof *names);
    if (!names) {
        return;
    }
    e->gen_names = names;
    int *vals = realloc(e->gen_values, ((size_t)e->n_gen + 1) * sizeof *vals);
    if (!vals) {
        return;
    }
    e->gen_values = vals;
    e->gen_names[e->n_gen] = strdup(name);
    if (!e->gen_names[e->n_gen]) {
        return;
    }
    e->gen_values[e->n_gen] = 1;
    e->n_gen++;
}

static sl_actor_metrics_t *s_metrics_for(sl_engine_t *e, const sl_plan_actor_t *pa, int w)
{
    char id[S_ID_MAX];
    snprintf(id, sizeof id, "%s/%d", pa->name, w);
    for (int i = 0; i < e->n_m; i++) {
        if (strcmp(e->m_ids[i], id) == 0) {
            return e->m_entries[i];
        }
    }
    sl_actor_metrics_t *m =
        sl_metrics_add(e->metrics, pa->name, pa->kind->name, w, pa->kind->outputs == NULL);
    if (!m) {
        return NULL;
    }
    char **ids = realloc(e->m_ids, ((size_t)e->n_m + 1) * sizeof *ids);
    sl_actor_metrics_t **ents =
        ids ? realloc(e->m_entries, ((size_t)e->n_m + 1) * sizeof *ents) : NULL;
    if (ids) {
        e->m_ids = ids;
    }
    if (!ents) {
        return m;
    }
    e->m_entries = ents;
    e->m_ids[e->n_m] = strdup(id);
    e->m_entries[e->n_m] = m;
    if (e->m_ids[e->n_m]) {
        e->n_m++;
    }
    return m;
}

static int s_runs_here(const sl_engine_t *e, const sl_plan_actor_t *pa)
{
    return e->node == NULL || (pa->node && strcmp(pa->node, e->node) == 0);
}

static const char *s_host(const sl_plan_t *plan, const sl_plan_actor_t *pa)
{
    const sl_plan_node_t *node = pa->node ? sl_plan_node(plan, pa->node) : NULL;
    return node && node->host ? node->host : "127.0.0.1";
}

/*  1 if a link from `from` to `to` crosses processes. */
static int s_remote(const sl_engine_t *e, const sl_plan_actor_t *from, const sl_plan_actor_t *to)
{
    if (e->node == NULL) {
        return 0;
    }
    return !(from->node && to->node && strcmp(from->node, to->node) == 0);
}

static void s_endpoint(const sl_engine_t *e, const sl_plan_actor_t *from, const sl_plan_actor_t *to,
                       int w, int slot, char *out, size_t outlen)
{
    if (s_remote(e, from, to)) {
        snprintf(out, outlen, "tcp://%s:%d", s_host(e->plan, to),
                 sl_plan_tcp_port(e->plan, to, w, slot));
    } else {
        snprintf(out, outlen, "inproc://sl/%s/%d/%d", to->name,
                 s_gen_get((sl_engine_t *)e, to->name), w);
    }
}

/*  1 if `to` can be reached from `from` following inputs downstream. */
static int s_reaches(const sl_plan_t *plan, const sl_plan_actor_t *from, const sl_plan_actor_t *to)
{
    int n = plan->n_actors;
    char *seen = calloc((size_t)n, 1);
    int *stack = calloc((size_t)n + 1, sizeof *stack);
    int found = 0, sp = 0;
    if (!seen || !stack) {
        goto done;
    }
    stack[sp++] = (int)(from - plan->actors);
    while (sp > 0 && !found) {
        int cur = stack[--sp];
        for (int i = 0; i < n && !found; i++) {
            const sl_plan_actor_t *c = &plan->actors[i];
            for (int j = 0; j < c->n_inputs; j++) {
                if (strcmp(c->inputs[j].actor, plan->actors[cur].name) != 0) {
                    continue;
                }
                if (c == to) {
                    found = 1;
                    break;
                }
                if (!seen[i]) {
                    seen[i] = 1;
                    stack[sp++] = i;
                }
                break;
            }
        }
    }
done:
    free(seen);
    free(stack);
    return found;
}

/*  Marks pass through every actor with outputs except confirmers, and
    only along non-durable edges. */
static int s_passes_marks(const sl_actor_kind_t *k)
{
    return k->outputs != NULL && !(k->flags & SL_KIND_CONFIRMS);
}

static int s_takes_marks(const sl_actor_kind_t *k)
{
    return (k->flags & SL_KIND_CONFIRMS) && k->mark != NULL;
}

static int s_input_durable(const sl_plan_t *plan, const sl_plan_input_t *in)
{
    const sl_plan_actor_t *u = sl_plan_actor(plan, in->actor);
    return !u || !u->kind->outputs ||
           (u->kind->outputs[in->output_index].flags & SL_OUTPUT_DURABLE) != 0;
}

/*  1 if marks of origin `o` reach `to`. */
static int s_marks_reach(const sl_plan_t *plan, const sl_plan_actor_t *o, const sl_plan_actor_t *to)
{
    int n = plan->n_actors;
    char *seen = calloc((size_t)n + 1, 1);
    int *stack = calloc((size_t)n + 1, sizeof *stack);
    int found = 0, sp = 0;
    if (!seen || !stack) {
        goto done;
    }
    stack[sp++] = (int)(o - plan->actors);
    seen[stack[0]] = 1;
    while (sp > 0 && !found) {
        const char *cur = plan->actors[stack[--sp]].name;
        for (int i = 0; i < n && !found; i++) {
            const sl_plan_actor_t *c = &plan->actors[i];
            for (int j = 0; j < c->n_inputs; j++) {
                if (strcmp(c->inputs[j].actor, cur) != 0 || s_input_durable(plan, &c->inputs[j])) {
                    continue;
                }
                if (c == to) {
                    found = 1;
                } else if (!seen[i] && s_passes_marks(c->kind)) {
                    seen[i] = 1;
                    stack[sp++] = i;
                }
                break;
            }
        }
    }
done:
    free(seen);
    free(stack);
    return found;
}

/*  For each marking origin whose marks reach `pa`: the upstream instances
    that carry them, and for a confirmer the way back to a remote origin.
    For a marking source: the confirmers its marks reach. */
static int s_spec_marks(sl_engine_t *e, const sl_plan_actor_t *pa, s_spec_t *s)
{
    const sl_plan_t *plan = e->plan;
    if (pa->kind->flags & SL_KIND_MARKS) {
        s->confirmers = calloc((size_t)plan->n_actors + 1, sizeof *s->confirmers);
        if (!s->confirmers) {
            return SL_ENOMEM;
        }
        int k = 0;
        for (int i = 0; i < plan->n_actors; i++) {
            const sl_plan_actor_t *c = &plan->actors[i];
            if (c != pa && s_takes_marks(c->kind) && s_marks_reach(plan, pa, c) &&
                !(s->confirmers[k++] = strdup(c->name))) {
                return SL_ENOMEM;
            }
        }
    }
    if (!s_passes_marks(pa->kind) && !s_takes_marks(pa->kind)) {
        return SL_OK;
    }
    s->markin = calloc((size_t)plan->n_actors + 1, sizeof *s->markin);
    if (!s->markin) {
        return SL_ENOMEM;
    }
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *o = &plan->actors[i];
        if (o == pa || !(o->kind->flags & SL_KIND_MARKS) || !s_marks_reach(plan, o, pa)) {
            continue;
        }
        s_markin_spec_t *ms = &s->markin[s->n_markin++];
        if (!(ms->origin = strdup(o->name))) {
            return SL_ENOMEM;
        }
        for (int j = 0; j < pa->n_inputs; j++) {
            const sl_plan_actor_t *u = sl_plan_actor(plan, pa->inputs[j].actor);
            if (!u || s_input_durable(plan, &pa->inputs[j]) ||
                !(u == o || (s_passes_marks(u->kind) && s_marks_reach(plan, o, u)))) {
                continue;
            }
            char **up = realloc(ms->up, ((size_t)ms->n_up + (size_t)u->workers) * sizeof *up);
            if (!up) {
                return SL_ENOMEM;
            }
            ms->up = up;
            for (int uw = 0; uw < u->workers; uw++) {
                char id[S_ID_MAX];
                snprintf(id, sizeof id, "%s/%d", u->name, uw);
                int dup = 0;
                for (int k = 0; k < ms->n_up && !dup; k++) {
                    dup = strcmp(ms->up[k], id) == 0;
                }
                if (!dup && !(ms->up[ms->n_up++] = strdup(id))) {
                    return SL_ENOMEM;
                }
            }
        }
        if (s_takes_marks(pa->kind) && s_remote(e, pa, o)) {
            /*  Back to the origin's input (worker 0, the first link slot:
                over CURVE with the first keyed tenant's key). */
            s_target_spec_t *ts = &ms->confirm;
            s_endpoint(e, pa, o, 0, 0, ts->endpoint, sizeof ts->endpoint);
            snprintf(ts->consumer, sizeof ts->consumer, "%s/0", o->name);
            ts->curve = sl_plan_curve_links(plan) && e->n_keys > 0;
            if (ts->curve) {
                ts->key = e->keys[0];
            }
        }
    }
    return SL_OK;
}

/*  A marking source on a node takes confirmations from other nodes on its
    TCP port: always bound, so a reload that moves a confirmer to another
    node needs no restart of the source. */
static int s_takes_confirmations(const sl_engine_t *e, const sl_plan_actor_t *pa)
{
    return e->node && (pa->kind->flags & SL_KIND_MARKS);
}

static s_spec_t *s_spec_build(sl_engine_t *e, const sl_plan_actor_t *pa, int w, int *follows_stop)
{
    const sl_plan_t *plan = e->plan;
    s_spec_t *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    int n_out = 0;
    while (pa->kind->outputs && pa->kind->outputs[n_out].name) {
        n_out++;
    }
    s->n_outputs = n_out;
    s->outputs = calloc((size_t)n_out + 1, sizeof *s->outputs);
    if (!s->outputs) {
        goto fail;
    }
    for (int o = 0; o < n_out; o++) {
        s_output_spec_t *os = &s->outputs[o];
        os->links = calloc((size_t)plan->n_actors + 1, sizeof *os->links);
        if (!os->links) {
            goto fail;
        }
        for (int i = 0; i < plan->n_actors; i++) {
            const sl_plan_actor_t *c = &plan->actors[i];
            for (int j = 0; j < c->n_inputs; j++) {
                if (strcmp(c->inputs[j].actor, pa->name) != 0 || c->inputs[j].output_index != o) {
                    continue;
                }
                s_link_spec_t *ls = &os->links[os->n_links++];
                ls->durable = (pa->kind->outputs[o].flags & SL_OUTPUT_DURABLE) != 0;
                /*  Over CURVE, one connection per worker and tenant with
                    keys: a tenant's events cross on its own key only. */
                int remote = s_remote(e, pa, c);
                int curve = remote && sl_plan_curve_links(plan);
                ls->n_workers = c->workers;
                ls->n_slots = curve ? e->n_keys : 1;
                if (ls->n_slots < 1) {
                    goto fail; /* validation makes sure of keys */
                }
                ls->n_targets = c->workers * ls->n_slots;
                ls->targets = calloc((size_t)ls->n_targets, sizeof *ls->targets);
                if (!ls->targets) {
                    goto fail;
                }
                for (int k = 0; k < ls->n_targets; k++) {
                    int t = k / ls->n_slots, slot = k % ls->n_slots;
                    s_target_spec_t *ts = &ls->targets[k];
                    s_endpoint(e, pa, c, t, slot, ts->endpoint, sizeof ts->endpoint);
                    snprintf(ts->consumer, sizeof ts->consumer, "%s/%d", c->name, t);
                    ts->metrics = remote ? NULL : s_metrics_for(e, c, t);
                    ts->curve = curve;
                    if (curve) {
                        ts->key = e->keys[slot];
                    }
                }
                break;
            }
        }
    }
    /* Upstreams to wait for at end of stream: all but the edges that close
       a cycle (a non-durable edge from an actor this one reaches). */
    int cap = 0;
    for (int j = 0; j < pa->n_inputs; j++) {
        const sl_plan_actor_t *u = sl_plan_actor(plan, pa->inputs[j].actor);
        if (u) {
            cap += u->workers;
        }
    }
    s->expected = calloc((size_t)cap + 1, sizeof *s->expected);
    if (!s->expected) {
        goto fail;
    }
    for (int j = 0; j < pa->n_inputs; j++) {
        const sl_plan_actor_t *u = sl_plan_actor(plan, pa->inputs[j].actor);
        if (!u) {
            continue;
        }
        int durable = (u->kind->outputs[pa->inputs[j].output_index].flags & SL_OUTPUT_DURABLE) != 0;
        if (!durable && s_reaches(plan, pa, u)) {
            continue;
        }
        for (int uw = 0; uw < u->workers; uw++) {
            char id[S_ID_MAX];
            snprintf(id, sizeof id, "%s/%d", u->name, uw);
            s->expected[s->n_expected] = strdup(id);
            if (!s->expected[s->n_expected]) {
                goto fail;
            }
            s->n_expected++;
        }
    }
    if (follows_stop) {
        *follows_stop = !(pa->kind->flags & SL_KIND_SOURCE) && s->n_expected == 0;
    }
    if (s_spec_marks(e, pa, s) != SL_OK) {
        goto fail;
    }
    (void)w;
    return s;
fail:
    s_spec_free(s);
    return NULL;
}

static void s_instance_destroy(sl_actor_t **ap)
{
    sl_actor_t *a = *ap;
    if (!a) {
        return;
    }
    atomic_store(&a->stopping, 1);
    zactor_destroy(&a->zactor);
    s_spec_free(a->spec);
    for (int i = 0; i < a->n_binds; i++) {
        sl_curve_key_wipe(&a->binds[i].key);
    }
    free(a->binds);
    free(a);
    *ap = NULL;
}

/*  Create and start one instance; on init failure returns NULL with err. */
static sl_actor_t *s_instance_start(sl_engine_t *e, sl_plan_actor_t *pa, int w, char *err,
                                    size_t errlen)
{
    sl_actor_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->engine = e;
    a->kind = pa->kind;
    a->pa = pa;
    a->worker = w;
    a->workers = pa->workers;
    a->gen = s_gen_get(e, pa->name);
    a->is_source = (pa->kind->flags & SL_KIND_SOURCE) != 0;
    snprintf(a->name, sizeof a->name, "%s", pa->name);
    snprintf(a->node, sizeof a->node, "%s", pa->node ? pa->node : "");
    snprintf(a->store_path, sizeof a->store_path, "%s",
             e->plan->store_path ? e->plan->store_path : "");
    snprintf(a->id, sizeof a->id, "%s/%d", pa->name, w);
    snprintf(a->inproc, sizeof a->inproc, "inproc://sl/%s/%d/%d", pa->name, a->gen, w);
    /*  Bind TCP when an upstream runs on another node, and for a marking
        source on a node, whose confirmers may send confirmations back. */
    int remote = s_takes_confirmations(e, pa);
    for (int i = 0; e->node && i < pa->n_inputs && !remote; i++) {
        const sl_plan_actor_t *u = sl_plan_actor(e->plan, pa->inputs[i].actor);
        remote = u && s_remote(e, u, pa);
    }
    if (remote) {
        /*  One endpoint per link slot: over CURVE, one per tenant with
            keys, bound with that tenant's key. */
        int curve = sl_plan_curve_links(e->plan);
        int n = sl_plan_link_slots(e->plan);
        if (curve && e->n_keys != n) {
            snprintf(err, errlen, "actor '%s': CURVE links without the tenants' keys", pa->name);
            free(a);
            return NULL;
        }
        a->binds = calloc((size_t)n, sizeof *a->binds);
        if (!a->binds) {
            snprintf(err, errlen, "out of memory");
            free(a);
            return NULL;
        }
        a->n_binds = n;
        a->curve_in = curve;
        for (int t = 0; t < n; t++) {
            snprintf(a->binds[t].endpoint, sizeof a->binds[t].endpoint, "tcp://%s:%d",
                     s_host(e->plan, pa), sl_plan_tcp_port(e->plan, pa, w, t));
            a->binds[t].curve = curve;
            if (curve) {
                a->binds[t].key = e->keys[t];
            }
        }
    }
    a->m = s_metrics_for(e, pa, w);
    a->spec = s_spec_build(e, pa, w, &a->follows_stop);
    if (!a->m || !a->spec) {
        snprintf(err, errlen, "actor '%s': out of memory", pa->name);
        s_instance_destroy(&a);
        return NULL;
    }
    a->zactor = zactor_new(s_thread, a);
    if (!a->zactor) {
        snprintf(err, errlen, "actor '%s': cannot start a thread", pa->name);
        s_instance_destroy(&a);
        return NULL;
    }
    a->pa = NULL;
    int rc = atomic_load(&a->init_rc);
    if (rc != SL_OK) {
        snprintf(err, errlen, "actor '%s' (%s) failed to start: %s (its log line above says why)",
                 pa->name, pa->kind->name, sl_strerror(rc));
        s_instance_destroy(&a);
        return NULL;
    }
    return a;
}

static int s_inst_push(sl_engine_t *e, sl_actor_t *a)
{
    sl_actor_t **v = realloc(e->inst, ((size_t)e->n_inst + 1) * sizeof *v);
    if (!v) {
        return SL_ENOMEM;
    }
    e->inst = v;
    e->inst[e->n_inst++] = a;
    return SL_OK;
}

sl_engine_t *sl_engine_new(const char *node, sl_metrics_t *metrics)
{
    sl_engine_t *e = calloc(1, sizeof *e);
    if (!e) {
        return NULL;
    }
    if (node) {
        e->node = strdup(node);
        if (!e->node) {
            free(e);
            return NULL;
        }
    }
    e->metrics = metrics;
    zsys_handler_set(NULL);
    zsys_init();
    return e;
}

/*  Start the instances of actors for which `want(pa)` holds, consumers
    before producers, so inproc endpoints are bound before they are
    connected to. */
static int s_start_set(sl_engine_t *e, const char *only_names_mask, char *err, size_t errlen)
{
    int rc = SL_OK;
    for (int i = e->plan->n_actors - 1; i >= 0; i--) {
        sl_plan_actor_t *pa = &e->plan->actors[i];
        if (!s_runs_here(e, pa) || (only_names_mask && !only_names_mask[i])) {
            continue;
        }
        for (int w = 0; w < pa->workers; w++) {
            char why[512];
            sl_actor_t *a = s_instance_start(e, pa, w, why, sizeof why);
            if (!a) {
                if (rc == SL_OK) {
                    snprintf(err, errlen, "%s", why);
                }
                rc = SL_EINVAL;
                continue;
            }
            if (s_inst_push(e, a) != SL_OK) {
                s_instance_destroy(&a);
                rc = SL_ENOMEM;
            }
        }
    }
    return rc;
}

static void s_keys_free(sl_curve_key_t **keys, int n)
{
    for (int i = 0; *keys && i < n; i++) {
        sl_curve_key_wipe(&(*keys)[i]);
    }
    free(*keys);
    *keys = NULL;
}

/*  The keys `plan` uses (none if it uses none), and the ZAP handler that
    accepts them, started before any instance binds a CURVE endpoint. On
    failure nothing changes. */
static int s_keys_apply(sl_engine_t *e, const sl_plan_t *plan, char *err, size_t errlen)
{
    int n = sl_plan_uses_keys(plan) ? sl_plan_keyed_tenants(plan) : 0;
    sl_curve_key_t *keys = n ? calloc((size_t)n, sizeof *keys) : NULL;
    if (n && !keys) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    for (int t = 0; t < n; t++) {
        const sl_plan_tenant_t *pt = sl_plan_keyed_tenant(plan, t);
        char why[1024];
        if (sl_curve_key_load(pt->keys, pt->name, &keys[t], why, sizeof why) != SL_OK) {
            snprintf(err, errlen, "tenant '%s': keys: %s", pt->name, why);
            s_keys_free(&keys, n);
            return SL_EINVAL;
        }
    }
    if (n && !e->zap_on) {
        int rc = sl_zap_start(err, errlen);
        if (rc) {
            s_keys_free(&keys, n);
            return rc;
        }
        e->zap_on = 1;
    }
    if (e->zap_on && sl_zap_allow(keys, n) != SL_OK) {
        snprintf(err, errlen, "out of memory");
        s_keys_free(&keys, n);
        return SL_ENOMEM;
    }
    s_keys_free(&e->keys, e->n_keys);
    e->keys = keys;
    e->n_keys = n;
    return SL_OK;
}

static void s_update_ready(sl_engine_t *e)
{
    int ready = 1;
    for (int i = 0; i < e->n_inst; i++) {
        if (atomic_load(&e->inst[i]->init_rc) != SL_OK) {
            ready = 0;
        }
    }
    atomic_store(&e->metrics->ready, ready && !e->draining);
}

int sl_engine_start(sl_engine_t *e, sl_plan_t **plan, char *err, size_t errlen)
{
    assert(e && plan && *plan);
    e->plan = *plan;
    *plan = NULL;
    int rc = s_keys_apply(e, e->plan, err, errlen);
    if (rc != SL_OK) {
        return rc;
    }
    rc = s_start_set(e, NULL, err, errlen);
    if (rc != SL_OK) {
        for (int i = 0; i < e->n_inst; i++) {
            s_instance_destroy(&e->inst[i]);
        }
        e->n_inst = 0;
        return rc;
    }
    s_update_ready(e);
    sl_info(NULL, "started %d actor instances of topology '%s'", e->n_inst, e->plan->name);
    return SL_OK;
}

static int s_send_relink(sl_actor_t *a, s_spec_t *spec)
{
    zmsg_t *msg = zmsg_new();
    if (!msg) {
        s_spec_free(spec);
        return SL_ENOMEM;
    }
    zmsg_addstr(msg, "RELINK");
    zmsg_addmem(msg, &spec, sizeof spec);
    if (zmsg_send(&msg, a->zactor) != 0) {
        zmsg_destroy(&msg);
        s_spec_free(spec);
        return SL_EIO;
    }
    return SL_OK;
}

/*  Wait until the instance sends `reply` (other news, such as "DONE", is
    read and passed over: finished is read from the atomic). */
static int s_wait_reply(sl_actor_t *a, const char *reply, int64_t deadline)
{
    for (;;) {
        if (strcmp(reply, "DONE") == 0 && atomic_load(&a->finished)) {
            return SL_OK;
        }
        int64_t left = (deadline - sl_mono_us()) / 1000;
        if (left <= 0) {
            return SL_ETIMEDOUT;
        }
        zmq_pollitem_t item = {zsock_resolve(a->zactor), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)(left > 200 ? 200 : left)) <= 0) {
            continue;
        }
        char *got = zstr_recv(a->zactor);
        int match = got && strcmp(got, reply) == 0;
        free(got);
        if (match) {
            return SL_OK;
        }
    }
}

static void s_metrics_forget(sl_engine_t *e, const char *name, int from_worker)
{
    for (int i = 0; i < e->n_m;) {
        const char *slash = strrchr(e->m_ids[i], '/');
        size_t nl = slash ? (size_t)(slash - e->m_ids[i]) : 0;
        if (slash && nl == strlen(name) && strncmp(e->m_ids[i], name, nl) == 0 &&
            atoi(slash + 1) >= from_worker) {
            sl_metrics_remove(e->metrics, e->m_entries[i]);
            free(e->m_ids[i]);
            e->m_ids[i] = e->m_ids[e->n_m - 1];
            e->m_entries[i] = e->m_entries[e->n_m - 1];
            e->n_m--;
            continue;
        }
        i++;
    }
}

/*  1 if instance `a` (of the old plan) has an upstream among `going` that
    has not finished yet: it must drain after them. */
static int s_waits_for_going(const sl_plan_t *old, const sl_actor_t *a, sl_actor_t **going,
                             int n_going)
{
    const sl_plan_actor_t *pa = sl_plan_actor(old, a->name);
    for (int j = 0; pa && j < pa->n_inputs; j++) {
        for (int g = 0; g < n_going; g++) {
            if (going[g] && going[g] != a && !atomic_load(&going[g]->finished) &&
                strcmp(going[g]->name, pa->inputs[j].actor) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/*  Reload in four steps, so that neither the actors that stay nor the ones
    restarted lose an event:
      1. the diff: actors removed, changed (fingerprint), added;
      2. relink the instances that stay, and wait until each confirmed: from
         then on nothing is sent to an endpoint that goes away, and batches
         pending for a restarted consumer follow it to its new endpoint;
      3. retire what goes: a changed actor's old instance handles what is
         queued for it and finishes (upstreams first); removed ones stop;
      4. start the new and changed actors (a TCP port is free again now).
    Every wait is bounded; a wedged instance is stopped as it is. */
int sl_engine_reload(sl_engine_t *e, sl_plan_t **planp, char *err, size_t errlen)
{
    sl_plan_t *old = e->plan;
    sl_plan_t *plan = *planp;
    *planp = NULL;
    /*  Keys first: if the new plan's cannot be read, nothing changes. */
    int krc = s_keys_apply(e, plan, err, errlen);
    if (krc != SL_OK) {
        sl_plan_destroy(&plan);
        return krc;
    }
    int n = plan->n_actors;
    char *start = calloc((size_t)n + 1, 1);
    sl_actor_t **going = calloc((size_t)e->n_inst + 1, sizeof *going);
    char *drain = calloc((size_t)e->n_inst + 1, 1);
    int n_going = 0;
    if (!start || !going || !drain) {
        free(start);
        free(going);
        free(drain);
        sl_plan_destroy(&plan);
        return SL_ENOMEM;
    }
    int added = 0, removed = 0, changed = 0, kept = 0;

    /* 1. The diff. */
    for (int i = 0; i < e->n_inst; i++) {
        sl_actor_t *a = e->inst[i];
        const sl_plan_actor_t *np = sl_plan_actor(plan, a->name);
        const sl_plan_actor_t *op = sl_plan_actor(old, a->name);
        int here = np && s_runs_here(e, np);
        int stays = here && op && strcmp(np->fingerprint, op->fingerprint) == 0;
        if (!stays) {
            drain[n_going] = here; /* changed: hand over; removed: stop */
            going[n_going++] = a;
            e->inst[i] = NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        sl_plan_actor_t *np = &plan->actors[i];
        const sl_plan_actor_t *op = sl_plan_actor(old, np->name);
        if (!s_runs_here(e, np)) {
            continue;
        }
        if (op && s_runs_here(e, op) && strcmp(np->fingerprint, op->fingerprint) == 0) {
            kept++;
            continue;
        }
        start[i] = 1;
        if (op && s_runs_here(e, op)) {
            changed++;
        } else {
            added++;
        }
        /* new endpoints: nothing meant for a predecessor reaches it */
        s_gen_bump(e, np->name);
    }
    for (int i = 0; old && i < old->n_actors; i++) {
        const sl_plan_actor_t *np = sl_plan_actor(plan, old->actors[i].name);
        if (s_runs_here(e, &old->actors[i]) && (!np || !s_runs_here(e, np))) {
            removed++;
        }
    }
    int k = 0;
    for (int i = 0; i < e->n_inst; i++) {
        if (e->inst[i]) {
            e->inst[k++] = e->inst[i];
        }
    }
    e->n_inst = k;
    e->plan = plan;

    /* 2. Relink what stays, and wait for every confirmation. */
    int64_t deadline = sl_mono_us() + 10 * 1000000;
    char *sent = calloc((size_t)e->n_inst + 1, 1);
    for (int i = 0; sent && i < e->n_inst; i++) {
        sl_actor_t *a = e->inst[i];
        const sl_plan_actor_t *pa = sl_plan_actor(plan, a->name);
        int follows = 0;
        s_spec_t *spec = s_spec_build(e, pa, a->worker, &follows);
        sent[i] = spec && s_send_relink(a, spec) == SL_OK;
    }
    /*  A changed actor's old instance sends what it still makes to the new
        consumers too (a removed consumer would never drain it). */
    char *gsent = calloc((size_t)n_going + 1, 1);
    for (int g = 0; gsent && g < n_going; g++) {
        if (drain[g]) {
            int follows = 0;
            s_spec_t *spec =
                s_spec_build(e, sl_plan_actor(plan, going[g]->name), going[g]->worker, &follows);
            gsent[g] = spec && s_send_relink(going[g], spec) == SL_OK;
        }
    }
    for (int i = 0; sent && i < e->n_inst; i++) {
        if (sent[i] && s_wait_reply(e->inst[i], "RELINKED", deadline) != SL_OK) {
            sl_warn(e->inst[i]->name, "did not confirm the relink in time");
        }
    }
    for (int g = 0; gsent && g < n_going; g++) {
        if (gsent[g] && s_wait_reply(going[g], "RELINKED", deadline) != SL_OK) {
            sl_warn(going[g]->name, "did not confirm the relink in time");
        }
    }
    free(sent);
    free(gsent);

    /* 3. Retire what goes, upstreams before their consumers. */
    for (int g = 0; g < n_going; g++) {
        if (!drain[g]) {
            s_instance_destroy(&going[g]);
        }
    }
    deadline = sl_mono_us() + 10 * 1000000;
    char *told = calloc((size_t)n_going + 1, 1);
    for (int left = n_going; told && left > 0 && sl_mono_us() < deadline;) {
        left = 0;
        for (int g = 0; g < n_going; g++) {
            sl_actor_t *a = going[g];
            if (!a || atomic_load(&a->finished)) {
                continue;
            }
            left++;
            if (!told[g] && !s_waits_for_going(old, a, going, n_going)) {
                zstr_send(a->zactor, "RETIRE");
                told[g] = 1;
            }
        }
        for (int g = 0; g < n_going && left > 0; g++) {
            if (going[g] && told[g] && !atomic_load(&going[g]->finished)) {
                s_wait_reply(going[g], "DONE", sl_mono_us() + 50 * 1000);
            }
        }
    }
    free(told);
    for (int g = 0; g < n_going; g++) {
        if (going[g] && !atomic_load(&going[g]->finished)) {
            sl_warn(going[g]->name, "did not drain in time on reload: stopped as it is");
        }
        s_instance_destroy(&going[g]);
    }

    /* 4. Start the new and changed actors. */
    int rc = s_start_set(e, start, err, errlen);

    /* Metrics of what is gone (no local upstream refers to them any more:
       every one confirmed its relink). */
    for (int i = 0; old && i < old->n_actors; i++) {
        const sl_plan_actor_t *op = &old->actors[i];
        const sl_plan_actor_t *np = sl_plan_actor(plan, op->name);
        if (!np || !s_runs_here(e, np)) {
            s_metrics_forget(e, op->name, 0);
        } else if (np->workers < op->workers) {
            s_metrics_forget(e, op->name, np->workers);
        }
    }
    free(going);
    free(drain);
    free(start);
    sl_plan_destroy(&old);
    s_update_ready(e);
    if (rc == SL_OK) {
        sl_info(NULL, "reloaded topology '%s': %d added, %d changed, %d removed, %d unchanged",
                plan->name, added, changed, removed, kept);
    } else {
        sl_error(NULL, "reloaded topology '%s' with failures: %s", plan->name, err);
    }
    return rc;
}

void sl_engine_drain(sl_engine_t *e)
{
    if (e->draining) {
        return;
    }
    e->draining = 1;
    atomic_store(&e->metrics->stopping, 1);
    atomic_store(&e->metrics->ready, 0);
    for (int i = 0; i < e->n_inst; i++) {
        sl_actor_t *a = e->inst[i];
        if (a->is_source || a->follows_stop) {
            atomic_store(&a->stopping, 1);
            zstr_send(a->zactor, "STOP");
        }
    }
}

int sl_engine_poll(sl_engine_t *e, int timeout_ms, int extra_fd)
{
    int n = e->n_inst;
    zmq_pollitem_t *items = calloc((size_t)n + 1, sizeof *items);
    if (!items) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        items[i].socket = zsock_resolve(e->inst[i]->zactor);
        items[i].events = ZMQ_POLLIN;
    }
    int m = n;
    if (extra_fd >= 0) {
        items[m].fd = extra_fd;
        items[m].events = ZMQ_POLLIN;
        m++;
    }
    int extra = 0;
    if (zmq_poll(items, m, timeout_ms) > 0) {
        for (int i = 0; i < n; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                char *s = zstr_recv(e->inst[i]->zactor);
                free(s); /* "DONE": finished is read from the atomic */
            }
        }
        if (extra_fd >= 0 && (items[n].revents & ZMQ_POLLIN)) {
            extra = 1;
        }
    }
    free(items);
    return extra;
}

int sl_engine_running(const sl_engine_t *e)
{
    int running = 0;
    for (int i = 0; i < e->n_inst; i++) {
        running += !atomic_load(&e->inst[i]->finished);
    }
    return running;
}

int sl_engine_finished(const sl_engine_t *e)
{
    return sl_engine_running(e) == 0;
}

void sl_engine_destroy(sl_engine_t **ep)
{
    sl_engine_t *e = *ep;
    if (!e) {
        return;
    }
    /* Instances start consumers first; stop producers first, so no
       consumer is torn down under a sender still flushing to it. */
    for (int i = e->n_inst - 1; i >= 0; i--) {
        s_instance_destroy(&e->inst[i]);
    }
    free(e->inst);
    /*  Every CURVE endpoint is closed now: the handler may go. */
    if (e->zap_on) {
        sl_zap_stop();
    }
    s_keys_free(&e->keys, e->n_keys);
    sl_plan_destroy(&e->plan);
    for (int i = 0; i < e->n_gen; i++) {
        free(e->gen_names[i]);
    }
    free(e->gen_names);
    free(e->gen_values);
    for (int i = 0; i < e->n_m; i++) {
        free(e->m_ids[i]);
    }
    free(e->m_ids);
    free(e->m_entries);
    free(e->node);
    free(e);
    *ep = NULL;
}
