/*  generate: makes synthetic events, for tests and benchmarks.

    Body: {"qualified_name": "gen://<tenant>/key-<k>", "seq": <n>, "pad": "xx.."}
    with pad sized so the body is about body_bytes long. The partition key is
    the qualified name; key k = n % keys, so every key sees increasing seq.
    With workers > 1, worker w makes the events with n % workers == w. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/log.h"

#define S_BATCH 256

typedef struct {
    int64_t count;
    double rate;
    char *tenant;
    char *event_kind;
    int64_t body_bytes;
    int64_t keys;
    /* run state */
    int64_t next;  /* next sequence number this worker makes */
    int64_t made;  /* events made by this worker */
    int64_t quota; /* events this worker makes (0 = endless) */
    int64_t start_us;
    int64_t pad_len;
    sl_buf_t body;
    char *pad;
    char source[80];
} s_gen_t;

static int s_init(sl_actor_t *a, void *state)
{
    s_gen_t *g = state;
    if (g->count < 0 || g->rate < 0 || g->keys < 1 || g->body_bytes < 0) {
        sl_error(sl_actor_name(a), "count, rate and body_bytes must be >= 0 and keys >= 1");
        return SL_EINVAL;
    }
    int w = sl_actor_worker(a), n = sl_actor_workers(a);
    g->next = w;
    if (g->count > 0) {
        g->quota = g->count / n + (w < g->count % n ? 1 : 0);
    }
    /* map3 + key strings + qn (~40) + seq (9): the rest is pad */
    g->pad_len = g->body_bytes > 80 ? g->body_bytes - 80 : 0;
    g->pad = malloc((size_t)g->pad_len + 1);
    if (!g->pad) {
        return SL_ENOMEM;
    }
    memset(g->pad, 'x', (size_t)g->pad_len);
    snprintf(g->source, sizeof g->source, "%s", sl_actor_name(a));
    g->start_us = sl_mono_us();
    /* A rated source wakes every millisecond; an unrated one runs flat out. */
    sl_actor_set_tick(a, g->rate > 0 ? 1000 : 0);
    return SL_OK;
}

static void s_put_str(sl_buf_t *b, const char *s, size_t n)
{
    uint8_t h[5];
    size_t hl;
    if (n < 32) {
        h[0] = (uint8_t)(0xa0 | n);
        hl = 1;
    } else if (n < 256) {
        h[0] = 0xd9;
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < 65536) {
        h[0] = 0xda;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[0] = 0xdb;
        h[1] = (uint8_t)(n >> 24);
        h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8);
        h[4] = (uint8_t)n;
        hl = 5;
    }
    memcpy(b->data + b->len, h, hl);
    b->len += hl;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/*  "gen://<tenant>/key-<k>" without printf: this runs once per event. */
static int s_qn(const s_gen_t *g, int64_t k, char *out, size_t cap)
{
    char digits[24];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + k % 10);
        k /= 10;
    } while (k > 0 && nd < (int)sizeof digits);
    size_t tl = strlen(g->tenant);
    if (tl > cap - 40) {
        tl = cap - 40;
    }
    size_t n = 0;
    memcpy(out, "gen://", 6);
    n += 6;
    memcpy(out + n, g->tenant, tl);
    n += tl;
    memcpy(out + n, "/key-", 5);
    n += 5;
    while (nd > 0) {
        out[n++] = digits[--nd];
    }
    out[n] = 0;
    return (int)n;
}

static int s_make_one(sl_actor_t *a, s_gen_t *g, int64_t now)
{
    char qn[160];
    int64_t seq = g->next;
    int qn_len = s_qn(g, seq % g->keys, qn, sizeof qn);
    sl_buf_t *b = &g->body;
    sl_buf_reset(b);
    int rc = sl_buf_reserve(b, (size_t)qn_len + (size_t)g->pad_len + 64);
    if (rc) {
        return rc;
    }
    b->data[b->len++] = 0x83;
    s_put_str(b, "qualified_name", 14);
    s_put_str(b, qn, (size_t)qn_len);
    s_put_str(b, "seq", 3);
    b->data[b->len++] = 0xcf;
    for (int i = 7; i >= 0; i--) {
        b->data[b->len++] = (uint8_t)((uint64_t)seq >> (i * 8));
    }
    s_put_str(b, "pad", 3);
    s_put_str(b, g->pad, (size_t)g->pad_len);

    sl_event_t ev = {0};
    ev.version = SL_EVENT_VERSION;
    sl_event_id_new(ev.id);
    ev.tenant = (sl_slice_t){g->tenant, (uint32_t)strlen(g->tenant)};
    ev.kind = (sl_slice_t){g->event_kind, (uint32_t)strlen(g->event_kind)};
    ev.source = (sl_slice_t){g->source, (uint32_t)strlen(g->source)};
    ev.key = (sl_slice_t){qn, (uint32_t)qn_len};
    ev.time_us = ev.ingest_us = now;
    ev.body = (sl_slice_t){(const char *)b->data, (uint32_t)b->len};
    rc = sl_emit(a, 0, &ev);
    if (rc == SL_OK) {
        g->next += sl_actor_workers(a);
        g->made++;
    }
    return rc;
}

static int s_tick(sl_actor_t *a, void *state)
{
    s_gen_t *g = state;
    int64_t want = S_BATCH;
    /* one clock read per tick: events of one tick share their times */
    int64_t now = sl_now_us();
    if (g->rate > 0) {
        double per_worker = g->rate / sl_actor_workers(a);
        int64_t due = (int64_t)((double)(sl_mono_us() - g->start_us) * per_worker / 1e6) + 1;
        want = due - g->made;
    }
    for (int64_t i = 0; i < want; i++) {
        if (g->quota > 0 && g->made >= g->quota) {
            return SL_DONE;
        }
        if (sl_actor_stopping(a)) {
            return SL_DONE;
        }
        int rc = s_make_one(a, g, now);
        if (rc) {
            return rc == SL_ESTOPPED ? SL_DONE : rc;
        }
    }
    if (g->quota > 0 && g->made >= g->quota) {
        return SL_DONE;
    }
    return SL_OK;
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_gen_t *g = state;
    sl_buf_free(&g->body);
    free(g->pad);
    g->pad = NULL;
}

static const sl_opt_t s_options[] = {
    {"count", SL_OPT_INT, "0", offsetof(s_gen_t, count), 0,
     "events to make, then stop (0 = endless)"},
    {"rate", SL_OPT_DOUBLE, "0", offsetof(s_gen_t, rate), 0,
     "events per second over all workers (0 = as fast as possible)"},
    {"tenant", SL_OPT_STR, "default", offsetof(s_gen_t, tenant), 0, "tenant of every event"},
    {"event_kind", SL_OPT_STR, "tag.set", offsetof(s_gen_t, event_kind), 0, "kind of every event"},
    {"body_bytes", SL_OPT_SIZE, "300", offsetof(s_gen_t, body_bytes), 0,
     "approximate size of each body in bytes"},
    {"keys", SL_OPT_INT, "16", offsetof(s_gen_t, keys), 0,
     "number of distinct partition keys (qualified names)"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "out", .desc = "the generated events"},
    {0},
};

const sl_actor_kind_t sl_actor_generate = {
    .name = "generate",
    .description = "Makes synthetic events at a given rate (tests, benchmarks).",
    .flags = SL_KIND_SOURCE,
    .state_size = sizeof(s_gen_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .tick = s_tick,
    .exit = s_exit,
};
