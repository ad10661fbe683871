/*  store_bench: the metadata store (include/sluice/store.h) under load.

      store_bench --mode apply --dir DIR --kind asset|edge [--batch N]
                  [--seconds S] [--count N] [--nosync 1]
      store_bench --mode graph --dir DIR [--assets N] [--seed S] [--batch N]
                  [--nosync 1] [--map-size BYTES] [--hub H]
      store_bench --mode read --dir DIR [--assets N] [--seed S] [--seconds S]
                  [--writer-batch N] [--depth D] [--idle-seconds S]
      store_bench --mode size --dir DIR [--assets N] [--nosync 1] [--trim 1]

    DIR must not hold a store yet (every run starts from a fresh directory;
    the caller removes it). Tenant "acme", shared tenancy, fsync on unless
    --nosync 1. Events are built (msgpack bodies, new UUIDv7 ids) before each
    batch, outside the clock: the rates count only the time from
    sl_store_batch_begin to the end of sl_store_batch_commit.

    apply: `batch` events per batch until the counted time reaches --seconds
           (or --count events). asset: asset.upsert of new assets (~300-byte
           bodies, names in hashed order, like lmdb_raw's keys). edge:
           lineage.edge between 10000 assets loaded first (untimed), every
           edge new.
    graph: the layered lineage graph below, loaded in batches of --batch
           (1000): first every asset.upsert, then every lineage.edge. The
           load time is wall time, event building included.
    read:  loads the graph (fsync on, batches of 1000); this thread then
           alternates sl_store_asset_json of a random asset and
           sl_store_lineage_json (down, --depth 3, limit 10000) of a random
           asset that has downstream edges: first --idle-seconds (3) alone
           ("idle_*"), then --seconds while a writer thread applies batches of
           --writer-batch (100) asset.upsert updates of random assets
           continuously ("busy_*"); exact p50/p99/max and mean of each.
    size:  N assets, each asset.upsert + 5 tag.set, then 3 lineage.edge into
           each asset from 3 other assets of the set; the caller measures the
           directory (lmdb_raw --mode inspect) after this exits.

    The graph (deterministic from --seed) is the layered graph of
    bench_graph.h, with --hub H (default 0: none) for graph and read.

    Prints one JSON object per line (one result per run). */
#include <errno.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/event.h"
#include "sluice/store.h"

#include "bench_graph.h"

#define TENANT "acme"
#define QN_MAX 128
#define BODY_MAX 1024

typedef struct {
    sl_event_t ev;
    char qn[QN_MAX];
    uint8_t body[BODY_MAX];
} s_slot_t;

typedef struct {
    const char *mode, *dir, *kind;
    int batch;
    double seconds;
    long long count;
    long long assets;
    uint64_t seed;
    int nosync;
    int64_t map_size;
    long long hub; /* bench_graph.h */
    int trim;      /* size: the steady state with the log trimmed (--trim 1) */
    int writer_batch;
    int depth;
    double idle_seconds;
    int batch_set; /* --batch given (graph's default is 1000) */
} s_opts_t;

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void s_fail(const char *what, int rc)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, sl_strerror(rc));
    exit(1);
}

/* ------------------------------------------------------------ events */

static void s_pstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void s_slot_finish(s_slot_t *slot, const char *kind, msgpack_sbuffer *sb)
{
    if (sb->size > BODY_MAX) {
        fprintf(stderr, "store_bench: body too large\n");
        exit(1);
    }
    memcpy(slot->body, sb->data, sb->size);
    sl_event_t *ev = &slot->ev;
    memset(ev, 0, sizeof *ev);
    ev->version = SL_EVENT_VERSION;
    sl_event_id_new(ev->id);
    ev->tenant = SL_SLICE(TENANT);
    ev->kind = SL_SLICE(kind);
    ev->source = SL_SLICE("store_bench");
    ev->key = SL_SLICE(slot->qn);
    ev->time_us = sl_now_us();
    ev->ingest_us = ev->time_us;
    ev->body.ptr = (const char *)slot->body;
    ev->body.len = (uint32_t)sb->size;
}

/*  asset.upsert: ~300 bytes of body for a name of ~65 characters. */
static void s_make_asset(s_slot_t *slot, const char *qn, const char *type, long long i, int rev)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    snprintf(slot->qn, sizeof slot->qn, "%s", qn);
    char text[160];
    msgpack_pack_map(&pk, 6);
    s_pstr(&pk, "qualified_name");
    s_pstr(&pk, qn);
    s_pstr(&pk, "type");
    s_pstr(&pk, type);
    s_pstr(&pk, "name");
    snprintf(text, sizeof text, "tbl_%016llx", (unsigned long long)s_mix((uint64_t)i));
    s_pstr(&pk, text);
    s_pstr(&pk, "description");
    snprintf(text, sizeof text,
             "Daily snapshot of order facts, one row per order line, deduplicated (rev %d)", rev);
    s_pstr(&pk, text);
    s_pstr(&pk, "owners");
    msgpack_pack_array(&pk, 2);
    s_pstr(&pk, "data-platform@acme.example");
    snprintf(text, sizeof text, "team-%02u@acme.example", (unsigned)(i % 37));
    s_pstr(&pk, text);
    s_pstr(&pk, "attributes");
    msgpack_pack_map(&pk, 3);
    s_pstr(&pk, "rows");
    msgpack_pack_int64(&pk, (int64_t)(s_mix((uint64_t)i) % 100000000));
    s_pstr(&pk, "format");
    s_pstr(&pk, "parquet");
    s_pstr(&pk, "retention_days");
    msgpack_pack_int(&pk, 400);
    s_slot_finish(slot, "asset.upsert", &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void s_make_tag(s_slot_t *slot, const char *qn, const char *tag)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    snprintf(slot->qn, sizeof slot->qn, "%s", qn);
    msgpack_pack_map(&pk, 2);
    s_pstr(&pk, "qualified_name");
    s_pstr(&pk, qn);
    s_pstr(&pk, "tag");
    s_pstr(&pk, tag);
    s_slot_finish(slot, "tag.set", &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void s_make_edge(s_slot_t *slot, const char *from, const char *to, long long job)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    snprintf(slot->qn, sizeof slot->qn, "%s", from);
    char text[64];
    msgpack_pack_map(&pk, 5);
    s_pstr(&pk, "from");
    s_pstr(&pk, from);
    s_pstr(&pk, "to");
    s_pstr(&pk, to);
    s_pstr(&pk, "type");
    s_pstr(&pk, "data");
    s_pstr(&pk, "job");
    snprintf(text, sizeof text, "dbt://acme-prod/model_%lld", job);
    s_pstr(&pk, text);
    s_pstr(&pk, "propagate");
    msgpack_pack_true(&pk);
    s_slot_finish(slot, "lineage.edge", &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------ batches */

typedef struct {
    long long events, batches, changed, noop, dup, dead;
    int64_t store_ns; /* begin .. end of commit, summed */
    long long body_bytes;
} s_tally_t;

/*  One batch of slots[0..n): begin, apply each, commit, counted. */
static void s_apply_batch(sl_store_t *st, s_slot_t *slots, int n, s_tally_t *t)
{
    sl_store_batch_t *b = NULL;
    char reason[256];
    int64_t t0 = s_now_ns();
    int rc = sl_store_batch_begin(st, &b);
    if (rc != SL_OK) {
        s_fail("sl_store_batch_begin", rc);
    }
    for (int i = 0; i < n; i++) {
        sl_apply_t res;
        reason[0] = 0;
        rc = sl_store_apply(b, &slots[i].ev, &res, reason, sizeof reason);
        if (rc != SL_OK) {
            s_fail("sl_store_apply", rc);
        }
        switch (res) {
        case SL_APPLY_CHANGED:
            t->changed++;
            break;
        case SL_APPLY_NOOP:
            t->noop++;
            break;
        case SL_APPLY_DUPLICATE:
            t->dup++;
            break;
        default:
            if (t->dead++ == 0) {
                fprintf(stderr, "store_bench: dead letter (%.*s): %s\n", (int)slots[i].ev.kind.len,
                        slots[i].ev.kind.ptr, reason);
            }
            break;
        }
        t->body_bytes += slots[i].ev.body.len;
    }
    rc = sl_store_batch_commit(&b);
    if (rc != SL_OK) {
        s_fail("sl_store_batch_commit", rc);
    }
    t->store_ns += s_now_ns() - t0;
    t->events += n;
    t->batches++;
}

static sl_store_t *s_open(const s_opts_t *o, int nosync)
{
    char err[256] = "";
    sl_store_opts_t so = {.path = o->dir, .nosync = nosync, .map_size = o->map_size};
    if (o->trim) {
        /*  The steady state of a store whose followers keep up: applied
            ids expire at once, change records go once read (none here). */
        so.retention_us = 1;
        so.changes_retention_us = -1;
    }
    sl_store_t *st = sl_store_open(&so, err, sizeof err);
    if (!st) {
        fprintf(stderr, "store_bench: sl_store_open %s: %s\n", o->dir, err);
        exit(1);
    }
    return st;
}

static s_slot_t *s_slots(int n)
{
    s_slot_t *s = calloc((size_t)n, sizeof *s);
    if (!s) {
        fprintf(stderr, "store_bench: out of memory\n");
        exit(1);
    }
    return s;
}

/*  Load the graph: every asset.upsert, then every lineage.edge, in batches.
    Returns the number of edges. */
static long long s_graph_load(sl_store_t *st, const s_graph_t *g, int batch, s_tally_t *ta,
                              s_tally_t *te)
{
    s_slot_t *slots = s_slots(batch);
    char qn[QN_MAX], from[QN_MAX];
    int n = 0;
    for (long long i = 0; i < g->n; i++) {
        s_graph_qn(g, i, qn, sizeof qn);
        s_make_asset(&slots[n++], qn, s_layer_type[s_graph_layer(g, i)], i, 0);
        if (n == batch) {
            s_apply_batch(st, slots, n, ta);
            n = 0;
        }
    }
    if (n) {
        s_apply_batch(st, slots, n, ta);
        n = 0;
    }
    long long edges = 0;
    for (long long i = 0; i < g->n; i++) {
        long long up[4];
        int k = s_graph_upstream(g, i, up);
        if (k == 0) {
            continue;
        }
        s_graph_qn(g, i, qn, sizeof qn);
        for (int j = 0; j < k; j++) {
            if (n == batch) {
                s_apply_batch(st, slots, n, te);
                n = 0;
            }
            s_graph_qn(g, up[j], from, sizeof from);
            s_make_edge(&slots[n++], from, qn, i);
            edges++;
        }
    }
    if (n) {
        s_apply_batch(st, slots, n, te);
    }
    free(slots);
    return edges;
}

static void s_print_tally(const char *name, const s_tally_t *t, int first)
{
    printf("%s\"%s\":{\"events\":%lld,\"batches\":%lld,\"changed\":%lld,\"noop\":%lld,"
           "\"duplicate\":%lld,\"dead\":%lld,\"store_s\":%.3f,\"events_per_s\":%.1f,"
           "\"avg_body_bytes\":%.1f}",
           first ? "" : ",", name, t->events, t->batches, t->changed, t->noop, t->dup, t->dead,
           (double)t->store_ns / 1e9,
           t->store_ns ? (double)t->events / ((double)t->store_ns / 1e9) : 0,
           t->events ? (double)t->body_bytes / (double)t->events : 0);
}

/* ------------------------------------------------------------ modes */

static int s_mode_apply(const s_opts_t *o)
{
    int edge = strcmp(o->kind, "edge") == 0;
    if (!edge && strcmp(o->kind, "asset") != 0) {
        fprintf(stderr, "store_bench: --kind is asset or edge\n");
        return 2;
    }
    sl_store_t *st = s_open(o, o->nosync);
    s_slot_t *slots = s_slots(o->batch < 1000 ? 1000 : o->batch);
    char qn[QN_MAX], to[QN_MAX];
    const long long pre = 10000; /* assets the edges connect */
    s_tally_t t = {0}, tp = {0};
    if (edge) {
        for (long long i = 0; i < pre; i += 1000) {
            for (int j = 0; j < 1000; j++) {
                s_qn(qn, sizeof qn, "analytics", i + j);
                s_make_asset(&slots[j], qn, "table", i + j, 0);
            }
            s_apply_batch(st, slots, 1000, &tp);
        }
    }
    int64_t limit = (int64_t)(o->seconds * 1e9);
    long long k = 0;
    while ((o->count > 0 && k < o->count) || (o->count <= 0 && t.store_ns < limit)) {
        int n = o->batch;
        if (o->count > 0 && o->count - k < n) {
            n = (int)(o->count - k);
        }
        for (int j = 0; j < n; j++, k++) {
            if (edge) { /* edge k: (k mod pre) -> a different asset each round */
                long long from = k % pre, dst = (from + 1 + k / pre) % pre;
                s_qn(qn, sizeof qn, "analytics", from);
                s_qn(to, sizeof to, "analytics", dst);
                s_make_edge(&slots[j], qn, to, k);
            } else {
                s_qn(qn, sizeof qn, "analytics", k);
                s_make_asset(&slots[j], qn, "table", k, 0);
            }
        }
        s_apply_batch(st, slots, n, &t);
    }
    printf("{\"bench\":\"store\",\"mode\":\"apply\",\"kind\":\"%s\",\"batch\":%d,\"sync\":%d,"
           "\"events\":%lld,\"batches\":%lld,\"seconds\":%.4f,\"events_per_s\":%.1f,"
           "\"changed\":%lld,\"noop\":%lld,\"duplicate\":%lld,\"dead\":%lld,"
           "\"avg_body_bytes\":%.1f,\"preloaded_assets\":%lld}\n",
           o->kind, o->batch, !o->nosync, t.events, t.batches, (double)t.store_ns / 1e9,
           (double)t.events / ((double)t.store_ns / 1e9), t.changed, t.noop, t.dup, t.dead,
           (double)t.body_bytes / (double)(t.events ? t.events : 1), edge ? pre : 0);
    free(slots);
    sl_store_close(&st);
    return t.dead ? 1 : 0;
}

static int s_mode_graph(const s_opts_t *o)
{
    s_graph_t g;
    s_graph_init(&g, o->assets, o->seed, o->hub);
    sl_store_t *st = s_open(o, o->nosync);
    s_tally_t ta = {0}, te = {0};
    int64_t t0 = s_now_ns();
    long long edges = s_graph_load(st, &g, o->batch, &ta, &te);
    int64_t t1 = s_now_ns();
    sl_store_close(&st);
    int64_t t2 = s_now_ns();
    printf("{\"bench\":\"store\",\"mode\":\"graph\",\"assets\":%lld,\"edges\":%lld,\"seed\":%llu,"
           "\"hub\":%lld,\"batch\":%d,\"sync\":%d,\"load_s\":%.3f,\"close_s\":%.3f,\"events_per_"
           "s\":%.1f,",
           o->assets, edges, (unsigned long long)o->seed, g.hub, o->batch, !o->nosync,
           (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
           (double)(ta.events + te.events) / ((double)(t1 - t0) / 1e9));
    s_print_tally("asset_phase", &ta, 1);
    s_print_tally("edge_phase", &te, 0);
    printf("}\n");
    return ta.dead || te.dead ? 1 : 0;
}

typedef struct {
    sl_store_t *st;
    const s_graph_t *g;
    int batch;
    volatile int stop;
    s_tally_t t;
    int64_t wall_ns;
} s_writer_t;

static void *s_writer(void *arg)
{
    s_writer_t *w = arg;
    s_slot_t *slots = s_slots(w->batch);
    uint64_t rng = s_mix(w->g->seed ^ 0xabcdef);
    char qn[QN_MAX];
    int rev = 1;
    int64_t t0 = s_now_ns();
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        for (int j = 0; j < w->batch; j++) {
            long long i = (long long)(s_next(&rng) % (uint64_t)w->g->n);
            s_graph_qn(w->g, i, qn, sizeof qn);
            s_make_asset(&slots[j], qn, s_layer_type[s_graph_layer(w->g, i)], i, rev++);
        }
        s_apply_batch(w->st, slots, w->batch, &w->t);
    }
    w->wall_ns = s_now_ns() - t0;
    free(slots);
    return NULL;
}

static int s_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static double s_q_us(const int64_t *v, long long n, double q)
{
    if (n == 0) {
        return 0;
    }
    long long rank = (long long)(q * (double)n + 0.999999999);
    rank = rank < 1 ? 1 : rank > n ? n : rank;
    return (double)v[rank - 1] / 1000.0;
}

typedef struct {
    long long n;
    size_t cap;
    int64_t *asset_ns, *lineage_ns;
    long long nodes, asset_bytes, lineage_bytes;
} s_reads_t;

/*  For `seconds`: one sl_store_asset_json of a random asset, then one
    sl_store_lineage_json (down) of a random asset with downstream edges. */
static void s_read_loop(sl_store_t *st, const s_graph_t *g, const s_opts_t *o, double seconds,
                        uint64_t *rng, s_reads_t *r)
{
    sl_buf_t out = {0};
    char qn[QN_MAX];
    long long with_down = g->start[LAYERS - 1]; /* dashboards have no downstream */
    if (with_down < 1) {
        with_down = g->n;
    }
    int64_t end = s_now_ns() + (int64_t)(seconds * 1e9);
    while (s_now_ns() < end) {
        if ((size_t)r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 1 << 16;
            r->asset_ns = realloc(r->asset_ns, r->cap * sizeof *r->asset_ns);
            r->lineage_ns = realloc(r->lineage_ns, r->cap * sizeof *r->lineage_ns);
            if (!r->asset_ns || !r->lineage_ns) {
                fprintf(stderr, "store_bench: out of memory\n");
                exit(1);
            }
        }
        long long i = (long long)(s_next(rng) % (uint64_t)g->n);
        s_graph_qn(g, i, qn, sizeof qn);
        sl_buf_reset(&out);
        int64_t a0 = s_now_ns();
        int rc = sl_store_asset_json(st, TENANT, qn, &out);
        int64_t a1 = s_now_ns();
        if (rc != SL_OK) {
            s_fail("sl_store_asset_json", rc);
        }
        r->asset_bytes += (long long)out.len;
        i = (long long)(s_next(rng) % (uint64_t)with_down);
        s_graph_qn(g, i, qn, sizeof qn);
        sl_buf_reset(&out);
        int64_t l0 = s_now_ns();
        rc = sl_store_lineage_json(st, TENANT, qn, SL_DIR_DOWN, o->depth, 10000, &out);
        int64_t l1 = s_now_ns();
        if (rc != SL_OK) {
            s_fail("sl_store_lineage_json", rc);
        }
        r->lineage_bytes += (long long)out.len;
        /* nodes returned: one "depth" member per node */
        for (const char *p = (const char *)out.data, *e = p + out.len;
             (p = memmem(p, (size_t)(e - p), "\"depth\"", 7)) != NULL; p += 7) {
            r->nodes++;
        }
        r->asset_ns[r->n] = a1 - a0;
        r->lineage_ns[r->n] = l1 - l0;
        r->n++;
    }
    sl_buf_free(&out);
}

/*  Sorts the samples and prints `"<prefix>_...":` members (with a comma). */
static void s_print_reads(const char *prefix, s_reads_t *r)
{
    long long n = r->n;
    double sa = 0, sl = 0;
    for (long long i = 0; i < n; i++) {
        sa += (double)r->asset_ns[i];
        sl += (double)r->lineage_ns[i];
    }
    qsort(r->asset_ns, (size_t)n, sizeof *r->asset_ns, s_cmp_i64);
    qsort(r->lineage_ns, (size_t)n, sizeof *r->lineage_ns, s_cmp_i64);
    double dn = n ? (double)n : 1;
    printf("\"%s_reads\":%lld,\"%s_asset_p50_us\":%.1f,\"%s_asset_p99_us\":%.1f,"
           "\"%s_asset_max_us\":%.1f,\"%s_asset_mean_us\":%.1f,\"%s_lineage_p50_us\":%.1f,"
           "\"%s_lineage_p99_us\":%.1f,\"%s_lineage_max_us\":%.1f,\"%s_lineage_mean_us\":%.1f,"
           "\"%s_lineage_avg_nodes\":%.1f,\"%s_asset_avg_json_bytes\":%.0f,"
           "\"%s_lineage_avg_json_bytes\":%.0f,",
           prefix, n, prefix, s_q_us(r->asset_ns, n, 0.5), prefix, s_q_us(r->asset_ns, n, 0.99),
           prefix, s_q_us(r->asset_ns, n, 1.0), prefix, sa / dn / 1000.0, prefix,
           s_q_us(r->lineage_ns, n, 0.5), prefix, s_q_us(r->lineage_ns, n, 0.99), prefix,
           s_q_us(r->lineage_ns, n, 1.0), prefix, sl / dn / 1000.0, prefix, (double)r->nodes / dn,
           prefix, (double)r->asset_bytes / dn, prefix, (double)r->lineage_bytes / dn);
}

static int s_mode_read(const s_opts_t *o)
{
    s_graph_t g;
    s_graph_init(&g, o->assets, o->seed, o->hub);
    sl_store_t *st = s_open(o, o->nosync);
    s_tally_t ta = {0}, te = {0};
    int64_t t0 = s_now_ns();
    long long edges = s_graph_load(st, &g, 1000, &ta, &te);
    printf("{\"bench\":\"store\",\"mode\":\"read_load\",\"assets\":%lld,\"edges\":%lld,"
           "\"sync\":%d,\"load_s\":%.3f}\n",
           o->assets, edges, !o->nosync, (double)(s_now_ns() - t0) / 1e9);
    fflush(stdout);

    uint64_t rng = s_mix(o->seed ^ 0x12345);
    s_reads_t idle = {0}, busy = {0};
    if (o->idle_seconds > 0) { /* the same reads with no writer, for comparison */
        s_read_loop(st, &g, o, o->idle_seconds, &rng, &idle);
    }
    s_writer_t w = {.st = st, .g = &g, .batch = o->writer_batch};
    pthread_t th;
    if (pthread_create(&th, NULL, s_writer, &w) != 0) {
        fprintf(stderr, "store_bench: pthread_create failed\n");
        return 1;
    }
    s_read_loop(st, &g, o, o->seconds, &rng, &busy);
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    printf("{\"bench\":\"store\",\"mode\":\"read\",\"assets\":%lld,\"edges\":%lld,\"seconds\":%.1f,"
           "\"idle_seconds\":%.1f,\"lineage_depth\":%d,",
           o->assets, edges, o->seconds, o->idle_seconds, o->depth);
    s_print_reads("busy", &busy);
    s_print_reads("idle", &idle);
    printf("\"writer_batch\":%d,\"writer_events\":%lld,\"writer_events_per_s\":%.1f,"
           "\"writer_sync\":%d}\n",
           o->writer_batch, w.t.events, (double)w.t.events / ((double)w.wall_ns / 1e9), !o->nosync);
    free(idle.asset_ns);
    free(idle.lineage_ns);
    free(busy.asset_ns);
    free(busy.lineage_ns);
    sl_store_close(&st);
    return 0;
}

typedef struct {
    uint64_t seq;
} s_first_t;

static int s_first_fn(void *arg, uint64_t seq, const sl_event_t *ev)
{
    (void)ev;
    ((s_first_t *)arg)->seq = seq;
    return 1;
}

static int s_mode_size(const s_opts_t *o)
{
    static const char *const tags[5] = {"pii", "tier1", "finance", "gdpr", "certified"};
    sl_store_t *st = s_open(o, o->nosync);
    const int batch = 1000;
    s_slot_t *slots = s_slots(batch);
    s_tally_t ta = {0}, te = {0};
    char qn[QN_MAX], from[QN_MAX];
    int n = 0;
    int64_t t0 = s_now_ns();
    for (long long i = 0; i < o->assets; i++) {
        if (n + 6 > batch) {
            s_apply_batch(st, slots, n, &ta);
            n = 0;
        }
        s_qn(qn, sizeof qn, "analytics", i);
        s_make_asset(&slots[n++], qn, "table", i, 0);
        for (int t = 0; t < 5; t++) {
            s_make_tag(&slots[n++], qn, tags[t]);
        }
    }
    if (n) {
        s_apply_batch(st, slots, n, &ta);
        n = 0;
    }
    long long edges = 0;
    for (long long i = 0; o->assets > 3 && i < o->assets; i++) {
        uint64_t rng = s_mix(o->seed ^ (uint64_t)i);
        long long up[3];
        int k = 0;
        s_qn(qn, sizeof qn, "analytics", i);
        while (k < 3) {
            long long c =
                (i + 1 + (long long)(s_next(&rng) % (uint64_t)(o->assets - 1))) % o->assets;
            if ((k > 0 && up[0] == c) || (k > 1 && up[1] == c)) {
                continue;
            }
            up[k++] = c;
            if (n == batch) {
                s_apply_batch(st, slots, n, &te);
                n = 0;
            }
            s_qn(from, sizeof from, "analytics", c);
            s_make_edge(&slots[n++], from, qn, i);
            edges++;
        }
    }
    if (n) {
        s_apply_batch(st, slots, n, &te);
    }
    int64_t t1 = s_now_ns();
    int passes = 0;
    if (o->trim) {
        /*  Batches of one no-op upsert until the trim and the compaction
            (each bounded per pass) have caught up. */
        s_qn(qn, sizeof qn, "analytics", 0);
        for (uint64_t first = 0, last = 1; passes < 1000 && first < last; passes++) {
            s_make_asset(&slots[0], qn, "table", 0, 0);
            sl_event_id_new(slots[0].ev.id); /* a fresh id: not a duplicate */
            s_apply_batch(st, slots, 1, &ta);
            sl_store_last_seq(st, TENANT, &last);
            s_first_t f = {0};
            sl_store_changes(st, TENANT, 0, 1, s_first_fn, &f);
            first = f.seq;
        }
    }
    sl_store_close(&st);
    printf("{\"bench\":\"store\",\"mode\":\"size\",\"assets\":%lld,\"tags_per_asset\":5,"
           "\"edges\":%lld,\"sync\":%d,\"trim\":%d,\"trim_passes\":%d,\"load_s\":%.3f,",
           o->assets, edges, !o->nosync, o->trim, passes, (double)(t1 - t0) / 1e9);
    s_print_tally("asset_tag_phase", &ta, 1);
    s_print_tally("edge_phase", &te, 0);
    printf("}\n");
    free(slots);
    return ta.dead || te.dead ? 1 : 0;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.mode = "apply",
                  .kind = "asset",
                  .batch = 100,
                  .seconds = 3,
                  .assets = 100000,
                  .seed = 42,
                  .map_size = (int64_t)1 << 30,
                  .writer_batch = 100,
                  .depth = 3,
                  .idle_seconds = 3};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "store_bench: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--mode") == 0) {
            o.mode = v;
        } else if (strcmp(argv[i], "--dir") == 0) {
            o.dir = v;
        } else if (strcmp(argv[i], "--kind") == 0) {
            o.kind = v;
        } else if (strcmp(argv[i], "--batch") == 0) {
            o.batch = atoi(v);
            o.batch_set = 1;
        } else if (strcmp(argv[i], "--seconds") == 0) {
            o.seconds = strtod(v, NULL);
        } else if (strcmp(argv[i], "--count") == 0) {
            o.count = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--assets") == 0) {
            o.assets = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0) {
            o.seed = strtoull(v, NULL, 10);
        } else if (strcmp(argv[i], "--nosync") == 0) {
            o.nosync = atoi(v);
        } else if (strcmp(argv[i], "--trim") == 0) {
            o.trim = atoi(v);
        } else if (strcmp(argv[i], "--hub") == 0) {
            o.hub = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--map-size") == 0) {
            o.map_size = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--writer-batch") == 0) {
            o.writer_batch = atoi(v);
        } else if (strcmp(argv[i], "--idle-seconds") == 0) {
            o.idle_seconds = strtod(v, NULL);
        } else if (strcmp(argv[i], "--depth") == 0) {
            o.depth = atoi(v);
        } else {
            fprintf(stderr, "store_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!o.dir || o.batch < 1 || o.batch > 100000 || o.seconds <= 0 || o.assets < 0 ||
        o.writer_batch < 1 || o.depth < 1) {
        fprintf(stderr, "store_bench: --dir is required; batch 1..100000, seconds > 0, "
                        "assets >= 0, writer-batch >= 1, depth >= 1\n");
        return 2;
    }
    if (strcmp(o.mode, "apply") == 0) {
        return s_mode_apply(&o);
    }
    if (strcmp(o.mode, "graph") == 0) {
        o.batch = o.batch_set ? o.batch : 1000;
        return s_mode_graph(&o);
    }
    if (strcmp(o.mode, "read") == 0) {
        if (o.assets < 1) {
            fprintf(stderr, "store_bench: read needs --assets >= 1\n");
            return 2;
        }
        return s_mode_read(&o);
    }
    if (strcmp(o.mode, "size") == 0) {
        return s_mode_size(&o);
    }
    fprintf(stderr, "store_bench: mode is apply, graph, read or size\n");
    return 2;
}
