/*  propagate_bench: propagation latency on a real LMDB store (issue 6).

      propagate_bench --dir DIR [--fanout N] [--small-reps R] [--nosync]

    Builds, in a fresh store, a tree whose root has about N descendants
    (root -> sqrt(N) mids -> sqrt(N) leaves each) and a small chain with 10
    descendants, then measures, with fsync on (unless --nosync):

      big set:      tag.set on the root committed -> every copy committed
      big unset:    tag.unset committed -> every copy removed and committed
      small set:    the same on the 10-descendant source, R times
                    (median and p99)

    Each run is the lineage walker's own loop in this thread (the code of
    actors/lineage_walker without the ZeroMQ hop between it and the store):
    read the change log from the cursor, collect the affected pairs,
    recompute them in a read view, and apply the operations in store
    batches of 1000 events (one commit each, as the store actor's default
    batch), in rounds of 10,000 operations (the walker's round_ops
    default) each closed by its fence: one more commit. The time of
    the ZeroMQ hops is measured separately by tools/bench/run.sh
    (engine latency). Output: one JSON line per measurement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/common.h"
#include "sluice/event.h"
#include "sluice/log.h"
#include "sluice/propagate.h"
#include "sluice/store.h"

#define T "bench"
#define S_BATCH 1000
#define S_ROUND_OPS 10000

typedef struct {
    sl_store_t *s;
    sl_prop_policies_t *pol;
    uint64_t cursor;
    sl_store_batch_t *b;
    uint64_t in_batch;
    uint64_t ops;
    sl_buf_t scratch;
    sl_prop_stats_t st;
} s_ctx_t;

static void s_die(const char *what, int rc)
{
    fprintf(stderr, "propagate_bench: %s: %s\n", what, sl_strerror(rc));
    exit(1);
}

static void s_apply_json(s_ctx_t *c, const char *kind, const char *body)
{
    char json[1024], err[256];
    sl_event_t ev;
    sl_apply_t r;
    snprintf(json, sizeof json, "{\"tenant\":\"" T "\",\"kind\":\"%s\",\"body\":%s}", kind, body);
    int rc = sl_event_from_json(json, strlen(json), &ev, &c->scratch, err, sizeof err);
    if (rc == SL_OK && !c->b) {
        rc = sl_store_batch_begin(c->s, &c->b);
    }
    if (rc == SL_OK) {
        rc = sl_store_apply(c->b, &ev, &r, err, sizeof err);
    }
    if (rc != SL_OK) {
        s_die(kind, rc);
    }
    if (++c->in_batch >= S_BATCH) {
        if ((rc = sl_store_batch_commit(&c->b)) != SL_OK) {
            s_die("commit", rc);
        }
        c->in_batch = 0;
    }
}

static void s_commit(s_ctx_t *c)
{
    if (c->b) {
        int rc = sl_store_batch_commit(&c->b);
        if (rc != SL_OK) {
            s_die("commit", rc);
        }
    }
    c->in_batch = 0;
}

static int s_op(void *arg, const sl_prop_op_t *op)
{
    s_ctx_t *c = arg;
    sl_event_t ev;
    sl_apply_t r;
    char why[128];
    int rc = sl_prop_op_event(op, T, "bench", &ev, &c->scratch);
    if (rc == SL_OK && !c->b) {
        rc = sl_store_batch_begin(c->s, &c->b);
    }
    if (rc == SL_OK) {
        rc = sl_store_apply(c->b, &ev, &r, why, sizeof why);
    }
    if (rc == SL_OK && ++c->in_batch >= S_BATCH) {
        rc = sl_store_batch_commit(&c->b);
        c->in_batch = 0;
    }
    c->ops++;
    return rc;
}

typedef struct {
    s_ctx_t *c;
    sl_store_view_t *v;
    sl_prop_work_t *w;
} s_col_t;

static int s_collect(void *arg, uint64_t seq, const sl_event_t *change)
{
    s_col_t *l = arg;
    l->c->cursor = seq;
    return sl_prop_affected(l->v, sl_prop_policy_for(l->c->pol, T), change, 0, 1, l->w);
}

/*  The walker's loop until quiet; returns the operations applied. */
static uint64_t s_walk(s_ctx_t *c)
{
    s_col_t l = {c, NULL, sl_prop_work_new()};
    uint64_t before = c->ops;
    for (;;) {
        int rc = sl_store_view_begin(c->s, T, &l.v);
        if (rc != SL_OK || sl_store_changes(c->s, T, c->cursor, 0, s_collect, &l) < 0) {
            s_die("changes", rc);
        }
        size_t n = sl_prop_work_count(l.w);
        for (size_t i = 0; i < n; i++) {
            const char *value, *source;
            sl_prop_job_t *job = NULL;
            sl_prop_work_get(l.w, i, &value, &source);
            rc = sl_prop_job_start(l.v, sl_prop_policy_for(c->pol, T), value, source, &c->st, &job);
            /*  Rounds of S_ROUND_OPS operations (the walker's round_ops
                default), each closed by its fence: one more commit. */
            while (rc == SL_OK && (rc = sl_prop_job_emit(job, S_ROUND_OPS, s_op, c, NULL)) >= 0) {
                s_apply_json(c, "propagation.fence", "{\"consumer\":\".fence/bench\",\"token\":1}");
                s_commit(c);
                rc = rc == 1 ? 1 : SL_OK;
            }
            sl_prop_job_free(&job);
            if (rc < 0) {
                s_die("recompute", rc);
            }
        }
        sl_store_view_end(&l.v);
        if (n == 0) {
            break;
        }
        sl_prop_work_clear(l.w);
    }
    sl_prop_work_free(&l.w);
    return c->ops - before;
}

static double s_ms(int64_t us)
{
    return (double)us / 1000.0;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long fanout = 100000, reps = 200;
    int nosync = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--fanout") && i + 1 < argc) {
            fanout = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--small-reps") && i + 1 < argc) {
            reps = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--nosync")) {
            nosync = 1;
        } else {
            fprintf(stderr, "usage: propagate_bench --dir DIR [--fanout N] [--small-reps R] "
                            "[--nosync]\n");
            return 2;
        }
    }
    if (!dir || fanout < 4 || reps < 1) {
        fprintf(stderr, "propagate_bench: --dir is required; --fanout >= 4\n");
        return 2;
    }
    sl_log_set_level(SL_LOG_WARN);
    char err[256];
    s_ctx_t c = {0};
    sl_store_opts_t o = {.path = dir, .nosync = nosync, .map_size = (int64_t)8 << 30};
    if (!(c.s = sl_store_open(&o, err, sizeof err))) {
        fprintf(stderr, "propagate_bench: %s\n", err);
        return 1;
    }
    if (sl_prop_policies_parse(NULL, &c.pol, err, sizeof err, NULL, 0) != SL_OK) {
        return 1;
    }
    /*  The graph: root -> m mids -> m leaves each; and a 10-chain. */
    long m = (long)ceil(sqrt((double)fanout));
    char body[256];
    int64_t t0 = sl_mono_us();
    for (long i = 0; i < m; i++) {
        snprintf(body, sizeof body, "{\"from\":\"root\",\"to\":\"mid%ld\"}", i);
        s_apply_json(&c, "lineage.edge", body);
        for (long j = 0; j < m; j++) {
            snprintf(body, sizeof body, "{\"from\":\"mid%ld\",\"to\":\"leaf%ld.%ld\"}", i, i, j);
            s_apply_json(&c, "lineage.edge", body);
        }
    }
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body, "{\"from\":\"small%d\",\"to\":\"small%d\"}", i, i + 1);
        s_apply_json(&c, "lineage.edge", body);
    }
    s_commit(&c);
    uint64_t last = 0;
    sl_store_last_seq(c.s, T, &last);
    c.cursor = last; /* the graph itself propagates nothing */
    long desc = m + m * m;
    fprintf(stderr, "graph: %ld descendants of root loaded in %.1f s\n", desc,
            (double)(sl_mono_us() - t0) / 1e6);

    /*  Big: set, then unset. */
    for (int unset = 0; unset < 2; unset++) {
        int64_t a = sl_mono_us();
        s_apply_json(&c, unset ? "tag.unset" : "tag.set",
                     "{\"qualified_name\":\"root\",\"tag\":\"pii\"}");
        s_commit(&c);
        int64_t b = sl_mono_us();
        uint64_t ops = s_walk(&c);
        int64_t e = sl_mono_us();
        printf("{\"bench\":\"propagate\",\"case\":\"%s\",\"descendants\":%ld,\"ops\":%llu,"
               "\"source_commit_ms\":%.2f,\"propagation_ms\":%.1f,\"total_ms\":%.1f,"
               "\"fsync\":%s,\"walk_bytes\":%zu}\n",
               unset ? "unset_100k" : "set_100k", desc, (unsigned long long)ops, s_ms(b - a),
               s_ms(e - b), s_ms(e - a), nosync ? "false" : "true", c.st.peak_bytes);
        fflush(stdout);
        if ((long)ops != desc) {
            fprintf(stderr, "propagate_bench: expected %ld operations, got %llu\n", desc,
                    (unsigned long long)ops);
            return 1;
        }
    }
    /*  Small: 10 descendants, set and unset alternately. */
    int64_t *lat = calloc((size_t)reps, sizeof *lat);
    for (long r = 0; r < reps; r++) {
        int64_t a = sl_mono_us();
        s_apply_json(&c, r % 2 ? "tag.unset" : "tag.set",
                     "{\"qualified_name\":\"small0\",\"tag\":\"pii\"}");
        s_commit(&c);
        uint64_t ops = s_walk(&c);
        lat[r] = sl_mono_us() - a;
        if (ops != 10) {
            fprintf(stderr, "propagate_bench: small: expected 10 operations, got %llu\n",
                    (unsigned long long)ops);
            return 1;
        }
    }
    qsort(lat, (size_t)reps, sizeof *lat, s_cmp);
    printf("{\"bench\":\"propagate\",\"case\":\"small_10\",\"descendants\":10,\"reps\":%ld,"
           "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"fsync\":%s}\n",
           reps, s_ms(lat[reps / 2]),
           s_ms(lat[(reps * 99) / 100 < reps ? (reps * 99) / 100 : reps - 1]), s_ms(lat[reps - 1]),
           nosync ? "false" : "true");
    free(lat);
    sl_buf_free(&c.scratch);
    sl_prop_policies_free(&c.pol);
    sl_store_close(&c.s);
    return 0;
}
