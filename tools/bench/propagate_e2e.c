/*  propagate_e2e: propagation latency end to end through the real binary.

      propagate_e2e --sluice BIN --dir DIR [--reps N] [--fanout N] [--port P]

    Starts `BIN run` on a topology of http_ingest -> store <-> lineage_walker
    (fsync on everywhere: the journal's group commit and the store's
    commits), loads over HTTP a 10-asset chain and a tree whose root has
    about --fanout descendants, then measures from just before the POST of
    a tag.set (or tag.unset) until every copy is committed, as seen by a
    reader of the same LMDB store in this process (LMDB readers see only
    committed transactions):

      small: 10 descendants, the last one polled every ~20 us (N reps,
             alternating set and unset; p50 / p99)
      large: every copy of the root's tag counted (one scan per poll)

    The time includes the HTTP request, the journal's fsync, the store's
    commit, the change record's hop to the walker over ZeroMQ, the walk,
    the copies' hop back and their commits. One JSON line per case. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice/common.h"
#include "sluice/httpc.h"
#include "sluice/log.h"
#include "sluice/store.h"

#define T "bench"

static pid_t s_child;

static void s_stop(void)
{
    if (s_child > 0) {
        kill(s_child, SIGTERM);
        waitpid(s_child, NULL, 0);
        s_child = 0;
    }
}

static void s_die(const char *what)
{
    fprintf(stderr, "propagate_e2e: %s\n", what);
    s_stop();
    exit(1);
}

static void s_pause_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/*  POST NDJSON; 202 expected. */
static int s_post(sl_httpc_t *c, const char *body, size_t len)
{
    sl_httpc_reply_t r = {0};
    int rc = sl_httpc_request(c, "POST", body, len, &r);
    int ok = rc == SL_OK && r.status == 202;
    sl_buf_free(&r.body);
    return ok ? SL_OK : SL_EIO;
}

typedef struct {
    uint64_t n;
} s_count_t;

static int s_count_fn(void *arg, const sl_store_copy_t *c)
{
    (void)c;
    ((s_count_t *)arg)->n++;
    return 0;
}

static uint64_t s_copies(sl_store_view_t *v, const char *value, const char *source)
{
    s_count_t c = {0};
    sl_store_view_refresh(v);
    sl_store_view_copies_of(v, value, source, s_count_fn, &c);
    return c.n;
}

static int s_has(sl_store_view_t *v, const char *target, const char *value, const char *source)
{
    sl_store_copy_t c;
    sl_store_view_refresh(v);
    return sl_store_view_copy(v, target, value, source, &c) == SL_OK;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *bin = NULL, *dir = NULL;
    long reps = 200, fanout = 100000, port = 18931;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sluice") && i + 1 < argc) {
            bin = argv[++i];
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--fanout") && i + 1 < argc) {
            fanout = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: propagate_e2e --sluice BIN --dir DIR [--reps N] "
                            "[--fanout N] [--port P]\n");
            return 2;
        }
    }
    if (!bin || !dir || reps < 2 || fanout < 4) {
        fprintf(stderr, "propagate_e2e: --sluice and --dir are required\n");
        return 2;
    }
    sl_log_set_level(SL_LOG_WARN);
    char path[1024], url[128], err[256];
    snprintf(path, sizeof path, "%s/topo.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        s_die("cannot write the topology");
    }
    fprintf(f,
            "version: 1\nname: propagate-e2e\nstore: { path: %s/store }\nactors:\n"
            "  http: { kind: http_ingest, listen: \"127.0.0.1:%ld\", tenant: " T " }\n"
            "  store: { kind: store, inputs: [http, walker] }\n"
            "  walker: { kind: lineage_walker, inputs: [store.changes] }\n",
            dir, port);
    fclose(f);
    snprintf(url, sizeof url, "http://127.0.0.1:%ld/v1/events", port);
    s_child = fork();
    if (s_child == 0) {
        char logp[1100];
        snprintf(logp, sizeof logp, "%s/run.log", dir);
        if (!freopen(logp, "w", stderr)) {
            _exit(127);
        }
        execl(bin, bin, "run", path, (char *)NULL);
        _exit(127);
    }
    sl_httpc_opts_t ho = {.url = url, .timeout_us = 30000000};
    sl_httpc_t *c = sl_httpc_new(&ho, err, sizeof err);
    if (!c || sl_httpc_header(c, "Content-Type", "application/x-ndjson") != SL_OK) {
        s_die(err);
    }
    /*  The graph: a 10-chain, and root -> m mids -> m leaves each. */
    sl_buf_t b = {0};
    char line[256];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(line, sizeof line,
                         "{\"kind\":\"lineage.edge\",\"body\":{\"from\":\"small%d\",\"to\":"
                         "\"small%d\"}}\n",
                         i, i + 1);
        sl_buf_append(&b, line, (size_t)n);
    }
    int64_t up_by = sl_mono_us() + 30000000;
    while (s_post(c, (const char *)b.data, b.len) != SL_OK) {
        if (sl_mono_us() > up_by) {
            s_die("the ingest did not answer 202 within 30 s (see DIR/run.log)");
        }
        s_pause_us(20000);
    }
    long m = 1;
    while (m * m + m < fanout) {
        m++;
    }
    for (long i = 0; i < m; i++) {
        sl_buf_reset(&b);
        int n = snprintf(line, sizeof line,
                         "{\"kind\":\"lineage.edge\",\"body\":{\"from\":\"root\",\"to\":"
                         "\"mid%ld\"}}\n",
                         i);
        sl_buf_append(&b, line, (size_t)n);
        for (long j = 0; j < m; j++) {
            n = snprintf(line, sizeof line,
                         "{\"kind\":\"lineage.edge\",\"body\":{\"from\":\"mid%ld\",\"to\":"
                         "\"leaf%ld.%ld\"}}\n",
                         i, i, j);
            sl_buf_append(&b, line, (size_t)n);
        }
        if (s_post(c, (const char *)b.data, b.len) != SL_OK) {
            s_die("loading the tree");
        }
    }
    char sp[1100];
    snprintf(sp, sizeof sp, "%s/store", dir);
    sl_store_opts_t so = {.path = sp};
    sl_store_t *st = sl_store_open(&so, err, sizeof err);
    sl_store_view_t *v = NULL;
    if (!st || sl_store_view_begin(st, T, &v) != SL_OK) {
        s_die("cannot read the store");
    }
    long desc = m + m * m;
    for (;;) { /* the load is in the store when both closures are complete */
        uint64_t n1 = 0, n2 = 0;
        if (sl_store_closure_count(st, T, "small0", SL_DIR_DOWN, 0, &n1) == SL_OK && n1 == 10 &&
            sl_store_closure_count(st, T, "root", SL_DIR_DOWN, 0, &n2) == SL_OK &&
            n2 == (uint64_t)desc) {
            break;
        }
        if (sl_mono_us() > up_by + 600000000) {
            s_die("the load did not reach the store");
        }
        s_pause_us(10000);
    }
    /*  Small: alternate set / unset, until small10 has (or lost) the copy. */
    int64_t *lat = calloc((size_t)reps, sizeof *lat);
    for (long r = 0; r < reps; r++) {
        int set = r % 2 == 0;
        snprintf(line, sizeof line,
                 "{\"kind\":\"%s\",\"body\":{\"qualified_name\":\"small0\",\"tag\":\"pii\"}}\n",
                 set ? "tag.set" : "tag.unset");
        int64_t t0 = sl_mono_us();
        if (s_post(c, line, strlen(line)) != SL_OK) {
            s_die("POST tag");
        }
        while (s_has(v, "small10", "tag:pii", "small0") != set) {
            if (sl_mono_us() - t0 > 30000000) {
                s_die("a small propagation took over 30 s");
            }
            s_pause_us(20);
        }
        lat[r] = sl_mono_us() - t0;
    }
    qsort(lat, (size_t)reps, sizeof *lat, s_cmp);
    printf("{\"bench\":\"propagate_e2e\",\"case\":\"small_10\",\"reps\":%ld,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
           reps, lat[reps / 2] / 1000.0, lat[(reps * 99) / 100] / 1000.0, lat[reps - 1] / 1000.0);
    fflush(stdout);
    /*  Large: the root's tag set, then unset, until every copy is in (out). */
    for (int set = 1; set >= 0; set--) {
        snprintf(line, sizeof line,
                 "{\"kind\":\"%s\",\"body\":{\"qualified_name\":\"root\",\"tag\":\"pii\"}}\n",
                 set ? "tag.set" : "tag.unset");
        int64_t t0 = sl_mono_us();
        if (s_post(c, line, strlen(line)) != SL_OK) {
            s_die("POST root tag");
        }
        uint64_t want = set ? (uint64_t)desc : 0, got;
        while ((got = s_copies(v, "tag:pii", "root")) != want) {
            if (sl_mono_us() - t0 > 120000000) {
                s_die("a large propagation took over 120 s");
            }
            s_pause_us(1000);
        }
        printf("{\"bench\":\"propagate_e2e\",\"case\":\"%s\",\"descendants\":%ld,"
               "\"total_ms\":%.1f}\n",
               set ? "set_large" : "unset_large", desc, (sl_mono_us() - t0) / 1000.0);
        fflush(stdout);
    }
    free(lat);
    sl_buf_free(&b);
    sl_store_view_end(&v);
    sl_store_close(&st);
    sl_httpc_destroy(&c);
    s_stop();
    return 0;
}
