/*  Metrics: histogram buckets and quantiles, counters, Prometheus text, and
    add/remove while writers and a renderer run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/metrics.h"

static uint64_t s_bucket(const sl_hist_t *h, int i)
{
    return atomic_load(&h->buckets[i]);
}

/*  Index of the only non-empty bucket after one observation of `us`. */
static int s_bucket_of(uint64_t us)
{
    sl_hist_t h;
    memset(&h, 0, sizeof h);
    sl_hist_observe(&h, us);
    int found = -1;
    for (int i = 0; i < SL_HIST_BUCKETS; i++) {
        if (s_bucket(&h, i)) {
            assert_int_equal(found, -1);
            found = i;
        }
    }
    assert_int_equal(atomic_load(&h.count), 1);
    assert_int_equal(atomic_load(&h.sum_us), us);
    return found;
}

static void test_hist_buckets(void **state)
{
    (void)state;
    /* bucket i counts values <= 2^i us, above 2^(i-1) */
    assert_int_equal(s_bucket_of(0), 0);
    assert_int_equal(s_bucket_of(1), 0);
    assert_int_equal(s_bucket_of(2), 1);
    assert_int_equal(s_bucket_of(3), 2);
    assert_int_equal(s_bucket_of(4), 2);
    assert_int_equal(s_bucket_of(5), 3);
    assert_int_equal(s_bucket_of(1000), 10);
    assert_int_equal(s_bucket_of(1024), 10);
    assert_int_equal(s_bucket_of(1025), 11);
    assert_int_equal(s_bucket_of((uint64_t)1 << 25), 25);
    assert_int_equal(s_bucket_of(((uint64_t)1 << 25) + 1), SL_HIST_BUCKETS - 1);
    assert_int_equal(s_bucket_of(UINT64_MAX / 2), SL_HIST_BUCKETS - 1);
    assert_int_equal(s_bucket_of(UINT64_MAX), SL_HIST_BUCKETS - 1);
}

static void test_hist_quantile(void **state)
{
    (void)state;
    sl_hist_t h;
    memset(&h, 0, sizeof h);
    assert_int_equal(sl_hist_quantile(&h, 0.5), 0);

    /* 90 fast (<= 8 us), 9 medium (<= 1024 us), 1 slow (<= 2^20 us) */
    for (int i = 0; i < 90; i++) {
        sl_hist_observe(&h, 7);
    }
    for (int i = 0; i < 9; i++) {
        sl_hist_observe(&h, 1000);
    }
    sl_hist_observe(&h, 1000000);
    assert_int_equal(sl_hist_quantile(&h, 0.0), 8);
    assert_int_equal(sl_hist_quantile(&h, 0.5), 8);
    assert_int_equal(sl_hist_quantile(&h, 0.90), 8);
    assert_int_equal(sl_hist_quantile(&h, 0.91), 1024);
    assert_int_equal(sl_hist_quantile(&h, 0.99), 1024);
    assert_int_equal(sl_hist_quantile(&h, 0.999), 1 << 20);
    assert_int_equal(sl_hist_quantile(&h, 1.0), 1 << 20);
    /* out-of-range q is clamped, never a crash */
    assert_int_equal(sl_hist_quantile(&h, -3.0), 8);
    assert_int_equal(sl_hist_quantile(&h, 7.0), 1 << 20);

    /* a value in +Inf answers the highest finite bound */
    sl_hist_t big;
    memset(&big, 0, sizeof big);
    sl_hist_observe(&big, UINT64_C(1) << 40);
    assert_int_equal(sl_hist_quantile(&big, 0.5), UINT64_C(1) << 25);
}

static void test_registry_add_remove(void **state)
{
    (void)state;
    sl_metrics_t *m = sl_metrics_new();
    assert_non_null(m);
    sl_actor_metrics_t *a = sl_metrics_add(m, "gen", "generate", 0, 0);
    sl_actor_metrics_t *b = sl_metrics_add(m, "out", "jsonl_out", 1, 1);
    sl_actor_metrics_t *c = sl_metrics_add(m, "mid", "relay", 2, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_ptr_equal(m->head, a);
    assert_ptr_equal(a->next, b);
    assert_ptr_equal(b->next, c);
    assert_string_equal(b->actor, "out");
    assert_string_equal(b->kind, "jsonl_out");
    assert_int_equal(b->worker, 1);
    assert_int_equal(b->is_sink, 1);
    assert_int_equal(atomic_load(&b->events_in), 0);

    sl_metrics_remove(m, b);
    assert_ptr_equal(a->next, c);
    sl_metrics_remove(m, a);
    assert_ptr_equal(m->head, c);
    sl_metrics_remove(m, NULL);
    sl_metrics_remove(NULL, c);
    assert_ptr_equal(m->head, c);

    /* over-long names are truncated, not overflowed */
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    sl_actor_metrics_t *d = sl_metrics_add(m, longname, longname, 0, 0);
    assert_non_null(d);
    assert_int_equal(strlen(d->actor), sizeof d->actor - 1);
    assert_int_equal(strlen(d->kind), sizeof d->kind - 1);

    sl_metrics_destroy(&m);
    assert_null(m);
    sl_metrics_destroy(&m); /* safe twice */
}

static int s_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            return 1;
        }
    }
    return 0;
}

static int s_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!s_has_line((text), (line))) {                                                         \
            fail_msg("missing line: %s\n--- exposition ---\n%s", (line), (text));                  \
        }                                                                                          \
    } while (0)

static void test_render(void **state)
{
    (void)state;
    sl_metrics_t *m = sl_metrics_new();
    assert_non_null(m);
    sl_actor_metrics_t *gen = sl_metrics_add(m, "gen", "generate", 0, 0);
    sl_actor_metrics_t *out = sl_metrics_add(m, "out", "jsonl_out", 1, 1);
    atomic_fetch_add(&gen->events_out, 42);
    atomic_fetch_add(&gen->errors, 2);
    atomic_fetch_add(&out->enqueued, 10);
    atomic_fetch_add(&out->events_in, 7);
    atomic_fetch_add(&out->dropped, 1);
    sl_hist_observe(&gen->handle_us, 1);                 /* le=0.000001 */
    sl_hist_observe(&gen->handle_us, 3);                 /* le=0.000004 */
    sl_hist_observe(&gen->handle_us, 1000);              /* le=0.001024 */
    sl_hist_observe(&gen->handle_us, UINT64_C(1) << 30); /* +Inf */
    sl_hist_observe(&out->e2e_us, 1500000);              /* le=2.097152 */
    atomic_fetch_add(&m->malformed, 5);

    sl_buf_t b = {0};
    assert_int_equal(sl_metrics_render(m, &b), 0);
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    const char *t = (const char *)b.data;

    assert_line(t, "# TYPE sluice_events_in_total counter");
    assert_line(t, "# TYPE sluice_events_out_total counter");
    assert_line(t, "# TYPE sluice_events_dropped_total counter");
    assert_line(t, "# TYPE sluice_errors_total counter");
    assert_line(t, "# TYPE sluice_queue_depth gauge");
    assert_line(t, "# TYPE sluice_handle_seconds histogram");
    assert_line(t, "# TYPE sluice_e2e_latency_seconds histogram");
    assert_line(t, "# TYPE sluice_malformed_messages_total counter");
    assert_line(t, "# TYPE sluice_ready gauge");
    assert_line(t, "# TYPE sluice_up gauge");
    /* each family is declared once, however many instances there are */
    assert_int_equal(s_count(t, "# TYPE sluice_events_in_total "), 1);
    assert_int_equal(s_count(t, "# HELP sluice_events_in_total "), 1);
    assert_int_equal(s_count(t, "# TYPE sluice_handle_seconds "), 1);

    assert_line(t, "sluice_events_in_total{actor=\"gen\",kind=\"generate\",worker=\"0\"} 0");
    assert_line(t, "sluice_events_in_total{actor=\"out\",kind=\"jsonl_out\",worker=\"1\"} 7");
    assert_line(t, "sluice_events_out_total{actor=\"gen\",kind=\"generate\",worker=\"0\"} 42");
    assert_line(t, "sluice_events_dropped_total{actor=\"out\",kind=\"jsonl_out\",worker=\"1\"} 1");
    assert_line(t, "sluice_errors_total{actor=\"gen\",kind=\"generate\",worker=\"0\"} 2");
    assert_line(t, "sluice_queue_depth{actor=\"out\",kind=\"jsonl_out\",worker=\"1\"} 3");
    assert_line(t, "sluice_queue_depth{actor=\"gen\",kind=\"generate\",worker=\"0\"} 0");

    /* cumulative buckets, le in seconds */
    const char *g = "{actor=\"gen\",kind=\"generate\",worker=\"0\"";
    char line[256];
    static const struct {
        const char *le;
        int cum;
    } want[] = {
        {"0.000001", 1}, {"0.000002", 1}, {"0.000004", 2},  {"0.000512", 2},
        {"0.001024", 3}, {"1.048576", 3}, {"33.554432", 3}, {"+Inf", 4},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line, "sluice_handle_seconds_bucket%s,le=\"%s\"} %d", g, want[i].le,
                 want[i].cum);
        assert_line(t, line);
    }
    assert_int_equal(s_count(t, "sluice_handle_seconds_bucket{actor=\"gen\""), SL_HIST_BUCKETS);
    snprintf(line, sizeof line, "sluice_handle_seconds_sum%s} 1073.742828", g);
    assert_line(t, line);
    snprintf(line, sizeof line, "sluice_handle_seconds_count%s} 4", g);
    assert_line(t, line);
    assert_line(t, "sluice_handle_seconds_count{actor=\"out\",kind=\"jsonl_out\",worker=\"1\"} 0");

    /* e2e only for sinks */
    assert_line(t, "sluice_e2e_latency_seconds_bucket{actor=\"out\",kind=\"jsonl_out\",worker="
                   "\"1\",le=\"1.048576\"} 0");
    assert_line(t, "sluice_e2e_latency_seconds_bucket{actor=\"out\",kind=\"jsonl_out\",worker="
                   "\"1\",le=\"2.097152\"} 1");
    assert_line(
        t,
        "sluice_e2e_latency_seconds_sum{actor=\"out\",kind=\"jsonl_out\",worker=\"1\"} 1.500000");
    assert_line(
        t, "sluice_e2e_latency_seconds_count{actor=\"out\",kind=\"jsonl_out\",worker=\"1\"} 1");
    assert_null(strstr(t, "sluice_e2e_latency_seconds_bucket{actor=\"gen\""));

    assert_line(t, "sluice_malformed_messages_total 5");
    assert_line(t, "sluice_ready 0");
    assert_line(t, "sluice_up 1");
    assert_non_null(strstr(t, "\nprocess_start_time_seconds "));
    assert_int_equal(t[b.len - 2], '\n'); /* ends in a newline */

    /* render appends, and reflects ready */
    atomic_store(&m->ready, 1);
    sl_buf_reset(&b);
    assert_int_equal(sl_buf_append(&b, "x", 1), 0);
    assert_int_equal(sl_metrics_render(m, &b), 0);
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    t = (const char *)b.data;
    assert_int_equal(t[0], 'x');
    assert_line(t, "sluice_ready 1");
    atomic_store(&m->stopping, 1);
    sl_buf_reset(&b);
    assert_int_equal(sl_metrics_render(m, &b), 0);
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    assert_line((const char *)b.data, "sluice_ready 0");

    assert_int_equal(sl_metrics_render(NULL, &b), SL_EINVAL);
    sl_buf_free(&b);
    sl_metrics_destroy(&m);
}

static void test_render_escapes_labels(void **state)
{
    (void)state;
    sl_metrics_t *m = sl_metrics_new();
    assert_non_null(m);
    assert_non_null(sl_metrics_add(m, "a\"b\\c\nd", "k", 3, 0));
    sl_buf_t b = {0};
    assert_int_equal(sl_metrics_render(m, &b), 0);
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    assert_line((const char *)b.data,
                "sluice_events_in_total{actor=\"a\\\"b\\\\c\\nd\",kind=\"k\",worker=\"3\"} 0");
    sl_buf_free(&b);
    sl_metrics_destroy(&m);
}

static void test_render_empty(void **state)
{
    (void)state;
    sl_metrics_t *m = sl_metrics_new();
    assert_non_null(m);
    sl_buf_t b = {0};
    assert_int_equal(sl_metrics_render(m, &b), 0);
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    assert_line((const char *)b.data, "sluice_up 1");
    assert_null(strstr((const char *)b.data, "{actor="));
    sl_buf_free(&b);
    sl_metrics_destroy(&m);
}

/*  Concurrency (threads report failure by return value: cmocka asserts
    only work on the test's own thread). Writers hammer their own entries' atomics, a renderer
    scrapes, and a churner adds and removes its own entries, all at once.
    Writers only touch entries that are never removed while they run, which
    is the registry's contract (an instance is removed after it stopped). */
#define S_WRITERS 3
#define S_ROUNDS 200000

typedef struct {
    sl_metrics_t *m;
    sl_actor_metrics_t *am;
    _Atomic int *stop;
} s_worker_t;

static void *s_writer(void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < S_ROUNDS; i++) {
        atomic_fetch_add_explicit(&w->am->enqueued, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->am->events_in, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->am->events_out, 1, memory_order_relaxed);
        sl_hist_observe(&w->am->handle_us, (uint64_t)(i & 4095));
        sl_hist_observe(&w->am->e2e_us, (uint64_t)i);
    }
    return NULL;
}

static void *s_renderer(void *arg)
{
    s_worker_t *w = arg;
    sl_buf_t b = {0};
    int rounds = 0;
    while (!atomic_load(w->stop) || rounds < 10) {
        sl_buf_reset(&b);
        if (sl_metrics_render(w->m, &b) != 0 || b.len == 0) {
            sl_buf_free(&b);
            return (void *)"render failed";
        }
        rounds++;
    }
    sl_buf_free(&b);
    return NULL;
}

static void *s_churner(void *arg)
{
    s_worker_t *w = arg;
    int rounds = 0;
    while (!atomic_load(w->stop) || rounds < 100) {
        sl_actor_metrics_t *am = sl_metrics_add(w->m, "tmp", "relay", rounds, rounds & 1);
        if (!am) {
            return (void *)"add failed";
        }
        atomic_fetch_add(&am->events_in, 1);
        sl_hist_observe(&am->e2e_us, 5);
        sl_metrics_remove(w->m, am);
        rounds++;
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    sl_metrics_t *m = sl_metrics_new();
    assert_non_null(m);
    _Atomic int stop = 0;
    pthread_t wt[S_WRITERS], rt, ct;
    s_worker_t w[S_WRITERS];
    for (int i = 0; i < S_WRITERS; i++) {
        w[i] = (s_worker_t){m, sl_metrics_add(m, "w", "relay", i, 1), &stop};
        assert_non_null(w[i].am);
    }
    s_worker_t shared = {m, NULL, &stop};
    assert_int_equal(pthread_create(&rt, NULL, s_renderer, &shared), 0);
    assert_int_equal(pthread_create(&ct, NULL, s_churner, &shared), 0);
    for (int i = 0; i < S_WRITERS; i++) {
        assert_int_equal(pthread_create(&wt[i], NULL, s_writer, &w[i]), 0);
    }
    for (int i = 0; i < S_WRITERS; i++) {
        pthread_join(wt[i], NULL);
    }
    atomic_store(&stop, 1);
    void *rerr = NULL;
    void *cerr = NULL;
    pthread_join(rt, &rerr);
    pthread_join(ct, &cerr);
    assert_null(rerr);
    assert_null(cerr);

    /* exact counts after the writers are done: no lost increments */
    for (int i = 0; i < S_WRITERS; i++) {
        assert_int_equal(atomic_load(&w[i].am->events_in), S_ROUNDS);
        assert_int_equal(atomic_load(&w[i].am->handle_us.count), S_ROUNDS);
        uint64_t total = 0;
        for (int k = 0; k < SL_HIST_BUCKETS; k++) {
            total += atomic_load(&w[i].am->handle_us.buckets[k]);
        }
        assert_int_equal(total, S_ROUNDS);
    }
    /* only the writers' entries are left */
    int n = 0;
    for (sl_actor_metrics_t *am = m->head; am; am = am->next) {
        n++;
    }
    assert_int_equal(n, S_WRITERS);

    sl_buf_t b = {0};
    assert_int_equal(sl_metrics_render(m, &b), 0);
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    assert_line((const char *)b.data,
                "sluice_events_in_total{actor=\"w\",kind=\"relay\",worker=\"2\"} 200000");
    assert_line((const char *)b.data,
                "sluice_queue_depth{actor=\"w\",kind=\"relay\",worker=\"2\"} 0");
    assert_line((const char *)b.data,
                "sluice_handle_seconds_count{actor=\"w\",kind=\"relay\",worker=\"0\"} 200000");
    sl_buf_free(&b);
    sl_metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets),
        cmocka_unit_test(test_hist_quantile),
        cmocka_unit_test(test_registry_add_remove),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_escapes_labels),
        cmocka_unit_test(test_render_empty),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
