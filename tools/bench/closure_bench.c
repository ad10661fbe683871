/*  closure_bench: downstream lineage closures (sl_store_closure_count) on
    the layered graph of bench_graph.h, and the same graph as CSV for the
    PostgreSQL side of tools/bench/closure.sh.

      closure_bench [--assets N] [--seed S] [--hub H] [--targets "10 1000 100000"]
                    [--tolerance 0.1] [--depths "3 0"] [--csv DIR]
                    [--dir DIR [--seconds S] [--min-reps N] [--max-reps N]
                               [--no-cache 1]]

    The graph is built in memory (downstream adjacency) from (assets, seed,
    hub). Roots: for each target T, the lowest-numbered asset whose
    unlimited downstream closure is within T x (1 +- tolerance), else the
    one closest to T in ratio; the closure of each root at each depth is
    computed in memory (breadth-first, exact).

    --csv DIR writes DIR/assets.csv (id,qualified_name,type) and
    DIR/edges.csv (src,dst: asset ids, one line per edge, in the order the
    store loaded them).

    --dir DIR opens the store there, which must hold the same graph (loaded
    by `store_bench --mode graph` with the same --assets, --seed and --hub;
    tenant "acme"), checks that sl_store_closure_count returns the in-memory
    count for every root and depth (exit 1 if not), then times it: 3 untimed
    calls, then calls until --seconds (2) have passed and at least
    --min-reps (20), at most --max-reps (100000); exact p50/p99 of the calls
    (CLOCK_MONOTONIC around each call; the read transaction is inside).
    --no-cache 1 turns the store's in-memory graph off: the closures then
    walk LMDB's lineage_down.

    Prints one JSON object per line: "graph", one "root" per target, one
    "sluice" per root and depth (with --dir). Depth 0 is unlimited. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/store.h"

#include "bench_graph.h"

#define TENANT "acme"
#define QN_MAX 128
#define MAX_TARGETS 8
#define MAX_DEPTHS 4

typedef struct {
    long long assets, hub;
    uint64_t seed;
    long long targets[MAX_TARGETS];
    int ntargets;
    int depths[MAX_DEPTHS];
    int ndepths;
    double tolerance;
    const char *csv, *dir;
    double seconds;
    long long min_reps, max_reps;
    int no_cache; /* --no-cache 1: walk LMDB, not the in-memory graph */
} s_opts_t;

/*  Downstream adjacency: the children of i are adj[off[i] .. off[i+1]). */
typedef struct {
    long long n, m;
    uint32_t *off, *adj;
    uint32_t *mark, stamp; /* visited = mark[i] == stamp */
    uint32_t *queue;
} s_csr_t;

static void *s_alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "closure_bench: out of memory\n");
        exit(1);
    }
    return p;
}

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*  Two passes over the generator: count the children, then place them. */
static void s_csr_build(s_csr_t *c, const s_graph_t *g)
{
    long long up[4];
    c->n = g->n;
    c->off = s_alloc((size_t)g->n + 1, sizeof *c->off);
    for (long long i = 0; i < g->n; i++) {
        int k = s_graph_upstream(g, i, up);
        for (int j = 0; j < k; j++) {
            c->off[up[j] + 1]++;
        }
    }
    for (long long i = 0; i < g->n; i++) {
        c->off[i + 1] += c->off[i];
    }
    c->m = c->off[g->n];
    c->adj = s_alloc((size_t)c->m, sizeof *c->adj);
    uint32_t *fill = s_alloc((size_t)g->n, sizeof *fill);
    memcpy(fill, c->off, (size_t)g->n * sizeof *fill);
    for (long long i = 0; i < g->n; i++) {
        int k = s_graph_upstream(g, i, up);
        for (int j = 0; j < k; j++) {
            c->adj[fill[up[j]]++] = (uint32_t)i;
        }
    }
    free(fill);
    c->mark = s_alloc((size_t)g->n, sizeof *c->mark);
    c->queue = s_alloc((size_t)g->n, sizeof *c->queue);
}

/*  Descendants of root within depth hops (0: any), root not counted;
    stops early once more than cap are found (cap < 0: no cap). */
static long long s_csr_closure(s_csr_t *c, long long root, int depth, long long cap)
{
    if (++c->stamp == 0) { /* wrapped: forget every old mark */
        memset(c->mark, 0, (size_t)c->n * sizeof *c->mark);
        c->stamp = 1;
    }
    long long head = 0, tail = 0, level_end = 1;
    int level = 0;
    c->queue[tail++] = (uint32_t)root;
    c->mark[root] = c->stamp;
    while (head < tail) {
        if (head == level_end) { /* the queue holds one level after another */
            level++;
            level_end = tail;
        }
        if (depth > 0 && level >= depth) {
            break;
        }
        uint32_t x = c->queue[head++];
        for (uint32_t e = c->off[x]; e < c->off[x + 1]; e++) {
            uint32_t y = c->adj[e];
            if (c->mark[y] != c->stamp) {
                c->mark[y] = c->stamp;
                c->queue[tail++] = y;
                if (cap >= 0 && tail - 1 > cap) {
                    return tail - 1;
                }
            }
        }
    }
    return tail - 1;
}

typedef struct {
    long long target, asset, count[MAX_DEPTHS];
} s_root_t;

/*  The root for one target: see the header comment. */
static long long s_pick(s_csr_t *c, long long target, double tol)
{
    long long lo = (long long)ceil((double)target * (1 - tol));
    long long hi = (long long)floor((double)target * (1 + tol));
    long long best = -1;
    double best_d = INFINITY;
    for (long long i = 0; i < c->n; i++) {
        long long k = s_csr_closure(c, i, 0, hi);
        if (k >= lo && k <= hi) {
            return i;
        }
        double d = fabs(log(((double)k + 0.5) / (double)target));
        if (d < best_d) {
            best_d = d;
            best = i;
        }
    }
    return best;
}

static void s_write_csv(const s_graph_t *g, const char *dir)
{
    char path[4096], qn[QN_MAX];
    long long up[4];
    snprintf(path, sizeof path, "%s/assets.csv", dir);
    FILE *fa = fopen(path, "w");
    snprintf(path, sizeof path, "%s/edges.csv", dir);
    FILE *fe = fopen(path, "w");
    if (!fa || !fe) {
        fprintf(stderr, "closure_bench: cannot write %s/*.csv\n", dir);
        exit(1);
    }
    for (long long i = 0; i < g->n; i++) {
        s_graph_qn(g, i, qn, sizeof qn);
        /* names hold no comma, quote or newline: plain CSV fields */
        fprintf(fa, "%lld,%s,%s\n", i, qn, s_layer_type[s_graph_layer(g, i)]);
    }
    for (long long i = 0; i < g->n; i++) {
        int k = s_graph_upstream(g, i, up);
        for (int j = 0; j < k; j++) {
            fprintf(fe, "%lld,%lld\n", up[j], i);
        }
    }
    if (fclose(fa) != 0 || fclose(fe) != 0) {
        fprintf(stderr, "closure_bench: writing %s/*.csv failed\n", dir);
        exit(1);
    }
}

static int s_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static double s_q_us(const int64_t *v, long long n, double q)
{
    long long rank = (long long)ceil(q * (double)n);
    rank = rank < 1 ? 1 : rank > n ? n : rank;
    return (double)v[rank - 1] / 1000.0;
}

/*  Checks and times one root at one depth; prints its "sluice" line. */
static int s_time(sl_store_t *st, const s_graph_t *g, const s_opts_t *o, const s_root_t *r, int di)
{
    char qn[QN_MAX];
    uint64_t got = 0;
    int depth = o->depths[di];
    s_graph_qn(g, r->asset, qn, sizeof qn);
    for (int w = 0; w < 3; w++) {
        int rc = sl_store_closure_count(st, TENANT, qn, SL_DIR_DOWN, depth, &got);
        if (rc != SL_OK) {
            fprintf(stderr, "closure_bench: sl_store_closure_count %s: %s\n", qn, sl_strerror(rc));
            return 1;
        }
        if ((long long)got != r->count[di]) {
            fprintf(stderr, "closure_bench: %s depth %d: store counts %llu, the graph %lld\n", qn,
                    depth, (unsigned long long)got, r->count[di]);
            return 1;
        }
    }
    size_t cap = 1024;
    int64_t *ns = s_alloc(cap, sizeof *ns);
    long long n = 0;
    int64_t limit = (int64_t)(o->seconds * 1e9), spent = 0, sum = 0;
    while (n < o->max_reps && (n < o->min_reps || spent < limit)) {
        int64_t t0 = s_now_ns();
        int rc = sl_store_closure_count(st, TENANT, qn, SL_DIR_DOWN, depth, &got);
        int64_t t1 = s_now_ns();
        if (rc != SL_OK || (long long)got != r->count[di]) {
            fprintf(stderr, "closure_bench: %s depth %d: rc %d, count %llu\n", qn, depth, rc,
                    (unsigned long long)got);
            free(ns);
            return 1;
        }
        if ((size_t)n == cap) {
            cap *= 2;
            int64_t *nn = realloc(ns, cap * sizeof *ns);
            if (!nn) {
                fprintf(stderr, "closure_bench: out of memory\n");
                exit(1);
            }
            ns = nn;
        }
        ns[n++] = t1 - t0;
        spent += t1 - t0;
        sum += t1 - t0;
    }
    qsort(ns, (size_t)n, sizeof *ns, s_cmp_i64);
    printf("{\"bench\":\"closure\",\"engine\":\"sluice\",\"target\":%lld,\"asset\":%lld,"
           "\"qn\":\"%s\",\"depth\":%d,\"count\":%lld,\"reps\":%lld,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"min_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f}\n",
           r->target, r->asset, qn, depth, r->count[di], n, s_q_us(ns, n, 0.5), s_q_us(ns, n, 0.99),
           s_q_us(ns, n, 0), s_q_us(ns, n, 1), (double)sum / (double)n / 1000.0);
    fflush(stdout);
    free(ns);
    return 0;
}

/*  "a b c" -> numbers; returns how many (at most max), -1 if malformed. */
static int s_list(const char *v, long long *out, int max)
{
    int n = 0;
    char *end;
    while (*v) {
        while (*v == ' ' || *v == ',') {
            v++;
        }
        if (!*v) {
            break;
        }
        long long x = strtoll(v, &end, 10);
        if (end == v || n == max) {
            return -1;
        }
        out[n++] = x;
        v = end;
    }
    return n;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.assets = 1000000,
                  .seed = 42,
                  .targets = {10, 1000, 100000},
                  .ntargets = 3,
                  .depths = {3, 0},
                  .ndepths = 2,
                  .tolerance = 0.1,
                  .seconds = 2,
                  .min_reps = 20,
                  .max_reps = 100000};
    long long tmp[MAX_DEPTHS];
    int bad = 0;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "closure_bench: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--assets") == 0) {
            o.assets = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0) {
            o.seed = strtoull(v, NULL, 10);
        } else if (strcmp(argv[i], "--hub") == 0) {
            o.hub = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--targets") == 0) {
            o.ntargets = s_list(v, o.targets, MAX_TARGETS);
            bad |= o.ntargets < 1;
        } else if (strcmp(argv[i], "--depths") == 0) {
            o.ndepths = s_list(v, tmp, MAX_DEPTHS);
            bad |= o.ndepths < 1;
            for (int k = 0; k < o.ndepths; k++) {
                bad |= tmp[k] < 0 || tmp[k] > 1000;
                o.depths[k] = (int)tmp[k];
            }
        } else if (strcmp(argv[i], "--tolerance") == 0) {
            o.tolerance = strtod(v, NULL);
        } else if (strcmp(argv[i], "--csv") == 0) {
            o.csv = v;
        } else if (strcmp(argv[i], "--dir") == 0) {
            o.dir = v;
        } else if (strcmp(argv[i], "--seconds") == 0) {
            o.seconds = strtod(v, NULL);
        } else if (strcmp(argv[i], "--min-reps") == 0) {
            o.min_reps = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--max-reps") == 0) {
            o.max_reps = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--no-cache") == 0) {
            o.no_cache = atoi(v);
        } else {
            fprintf(stderr, "closure_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (bad || o.assets < 2 || o.assets > UINT32_MAX / 4 || o.tolerance < 0 || o.tolerance >= 1 ||
        o.seconds < 0 || o.min_reps < 1 || o.max_reps < o.min_reps) {
        fprintf(stderr, "closure_bench: assets 2..2^30, targets and depths are lists of "
                        "numbers (depth 0..1000), tolerance 0..1, min-reps 1..max-reps\n");
        return 2;
    }

    s_graph_t g;
    s_graph_init(&g, o.assets, o.seed, o.hub);
    s_csr_t c = {0};
    int64_t t0 = s_now_ns();
    s_csr_build(&c, &g);
    s_root_t roots[MAX_TARGETS];
    for (int t = 0; t < o.ntargets; t++) {
        roots[t].target = o.targets[t];
        roots[t].asset = s_pick(&c, o.targets[t], o.tolerance);
        for (int d = 0; d < o.ndepths; d++) {
            roots[t].count[d] = s_csr_closure(&c, roots[t].asset, o.depths[d], -1);
        }
    }
    printf("{\"bench\":\"closure\",\"mode\":\"graph\",\"assets\":%lld,\"edges\":%lld,"
           "\"seed\":%llu,\"hub\":%lld,\"pick_s\":%.3f}\n",
           o.assets, c.m, (unsigned long long)o.seed, g.hub, (double)(s_now_ns() - t0) / 1e9);
    for (int t = 0; t < o.ntargets; t++) {
        char qn[QN_MAX];
        s_graph_qn(&g, roots[t].asset, qn, sizeof qn);
        printf("{\"bench\":\"closure\",\"mode\":\"root\",\"target\":%lld,\"asset\":%lld,"
               "\"qn\":\"%s\",\"layer\":\"%s\"",
               roots[t].target, roots[t].asset, qn,
               s_layer_name[s_graph_layer(&g, roots[t].asset)]);
        for (int d = 0; d < o.ndepths; d++) {
            printf(",\"count_d%d\":%lld", o.depths[d], roots[t].count[d]);
        }
        printf("}\n");
    }
    fflush(stdout);
    if (o.csv) {
        s_write_csv(&g, o.csv);
    }
    int rc = 0;
    if (o.dir) {
        char err[256] = "";
        sl_store_opts_t so = {.path = o.dir,
                              .nosync = 1,
                              .map_size = (int64_t)64 << 30,
                              .no_graph_cache = o.no_cache};
        sl_store_t *st = sl_store_open(&so, err, sizeof err);
        if (!st) {
            fprintf(stderr, "closure_bench: sl_store_open %s: %s\n", o.dir, err);
            return 1;
        }
        for (int t = 0; t < o.ntargets && rc == 0; t++) {
            for (int d = 0; d < o.ndepths && rc == 0; d++) {
                rc = s_time(st, &g, &o, &roots[t], d);
            }
        }
        sl_store_close(&st);
    }
    free(c.off);
    free(c.adj);
    free(c.mark);
    free(c.queue);
    return rc;
}
