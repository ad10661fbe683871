/*  bench_graph.h: the seeded layered lineage graph of the benchmarks
    (store_bench --mode graph/read, closure_bench), one definition for all.

    N assets in five layers: sources 2%, staging 28%, intermediate 30%,
    marts 25%, dashboards 15%. Every asset outside the first layer has 2-4
    upstream edges (uniform), each from the layer just above with
    probability 0.8, else from any layer above, distinct per asset; the
    choices of asset i depend only on (seed, i), so the graph is the same
    for a seed however (and in whatever order) it is generated. ~2.94 edges
    per asset: 1M assets give 2940161 edges with seed 42.

    The hub (hub > 0; the closure benchmark's 110 at 1M assets): asset 0,
    itself a source, feeds sources 1..hub (one edge each), like a landing
    table that many source tables are cut from. Without it no asset has more
    than ~1.5k descendants; with 110 at 1M (seed 42) asset 0 has 99669.
    hub = 0 is the graph as it always was.

    Header-only (static inline): each bench is one .c file (CMakeLists.txt
    builds each .c file of tools/bench as its own program). */
#ifndef SLUICE_BENCH_GRAPH_H
#define SLUICE_BENCH_GRAPH_H

#include <stdint.h>
#include <stdio.h>

static inline uint64_t s_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/*  splitmix64 stream: the graph's and the readers' seeded PRNG. */
static inline uint64_t s_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define LAYERS 5
static const char *const s_layer_name[LAYERS] = {"sources", "staging", "intermediate", "marts",
                                                 "dashboards"};
static const char *const s_layer_type[LAYERS] = {"table", "view", "table", "table", "dashboard"};
static const double s_layer_share[LAYERS] = {0.02, 0.28, 0.30, 0.25, 0.15};

typedef struct {
    long long n;
    long long start[LAYERS + 1]; /* layer L is [start[L], start[L+1]) */
    uint64_t seed;
    long long hub; /* asset 0 -> sources 1..hub */
} s_graph_t;

/*  hub is cut to the sources there are (less asset 0). */
static inline void s_graph_init(s_graph_t *g, long long n, uint64_t seed, long long hub)
{
    g->n = n;
    g->seed = seed;
    double acc = 0;
    for (int l = 0; l < LAYERS; l++) {
        g->start[l] = (long long)(acc * (double)n + 0.5);
        acc += s_layer_share[l];
    }
    g->start[LAYERS] = n;
    /* Small graphs: at least one source so every upstream choice exists. */
    for (int l = 1; l < LAYERS; l++) {
        if (g->start[l] < 1 && n > 1) {
            g->start[l] = 1;
        }
    }
    g->hub = hub < 0 ? 0 : hub < g->start[1] - 1 ? hub : g->start[1] - 1;
}

static inline int s_graph_layer(const s_graph_t *g, long long i)
{
    int l = 0;
    while (l + 1 < LAYERS && i >= g->start[l + 1]) {
        l++;
    }
    return l;
}

/*  The qualified name of asset i (hashed, so names do not sort by i). */
static inline int s_qn(char *out, size_t cap, const char *layer, long long i)
{
    uint64_t h = s_mix((uint64_t)i);
    return snprintf(out, cap, "snowflake://acme-prod/%s/sch%02u/tbl_%016llx", layer,
                    (unsigned)(h % 50), (unsigned long long)h);
}

static inline void s_graph_qn(const s_graph_t *g, long long i, char *out, size_t cap)
{
    s_qn(out, cap, s_layer_name[s_graph_layer(g, i)], i);
}

/*  Upstream assets of i: fills up[] (at most 4), returns how many. */
static inline int s_graph_upstream(const s_graph_t *g, long long i, long long up[4])
{
    int l = s_graph_layer(g, i);
    if (l == 0) {
        up[0] = 0;
        return i >= 1 && i <= g->hub ? 1 : 0;
    }
    if (g->start[l] == 0) {
        return 0;
    }
    uint64_t st = s_mix(g->seed ^ s_mix((uint64_t)i + 0x51ce));
    int want = 2 + (int)(s_next(&st) % 3);
    long long prev_lo = g->start[l - 1], prev_n = g->start[l] - g->start[l - 1];
    int n = 0;
    /* Tiny layers cannot give `want` distinct parents: bounded tries. */
    for (int tries = 0; n < want && tries < 64; tries++) {
        uint64_t r = s_next(&st);
        long long c;
        if (r % 10 < 8 && prev_n > 0) {
            c = prev_lo + (long long)(s_next(&st) % (uint64_t)prev_n);
        } else {
            c = (long long)(s_next(&st) % (uint64_t)g->start[l]);
        }
        int dup = 0;
        for (int k = 0; k < n; k++) {
            dup |= up[k] == c;
        }
        if (!dup) {
            up[n++] = c;
        }
    }
    return n;
}

#endif
