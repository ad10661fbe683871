/*  Engine, in process through include/sluice/engine.h with plans from
    sl_topology_load_string():
      - malformed messages injected into an actor's input are counted
        (metrics->malformed, the actor's dropped) and the actor goes on
        handling valid events: the pipeline still delivers its exact count;
      - workers: 3 partitioning keeps per-key order;
      - an actor whose init fails makes sl_engine_start fail and leaves
        nothing running;
      - sl_engine_reload with changed options restarts only that actor: the
        others keep their endpoints, their state and their counting metrics;
      - two engines (nodes a and b) in one process linked over CurveZMQ
        with two tenants' keys: every tenant's events cross on its own
        connection in per-key order, the end of stream waits for every
        tenant's connection, and a tenant without keys is counted, not
        sent.
    Every wait is a bounded poll of the engine. Each test names its actors
    differently: a closed socket releases its inproc endpoint a little
    after sl_engine_destroy returns (ZeroMQ closes asynchronously). */
#include <czmq.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/curve.h"
#include "sluice/engine.h"
#include "sluice/event.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/topology.h"

#define S_BOUND_US (60 * 1000000LL) /* every wait: at most a minute */

/* ------------------------------------------------------------------------ */
/*  Helpers                                                                 */

typedef struct {
    char dir[256];
    sl_metrics_t *metrics;
    sl_engine_t *engine;
    void *inj; /* injector socket, closed in teardown even on failure */
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/sl-engine.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->metrics = sl_metrics_new();
    assert_non_null(f->metrics);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    if (f->inj) {
        zmq_close(f->inj); /* an open socket would block zsys_shutdown */
    }
    sl_engine_destroy(&f->engine);
    sl_metrics_destroy(&f->metrics);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] != '.') {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static sl_plan_t *s_plan(const char *yaml)
{
    sl_errors_t errors = {0};
    sl_plan_t *plan = sl_topology_load_string("test.yaml", NULL, yaml, strlen(yaml), &errors);
    for (int i = 0; i < errors.count; i++) {
        print_error("%s\n", errors.lines[i]);
    }
    sl_errors_free(&errors);
    assert_non_null(plan);
    return plan;
}

static sl_actor_metrics_t *s_metrics(sl_metrics_t *m, const char *actor, int worker)
{
    sl_actor_metrics_t *found = NULL;
    pthread_mutex_lock(&m->lock);
    for (sl_actor_metrics_t *am = m->head; am; am = am->next) {
        if (strcmp(am->actor, actor) == 0 && am->worker == worker) {
            found = am;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

static uint64_t s_in(sl_metrics_t *m, const char *actor, int worker)
{
    sl_actor_metrics_t *am = s_metrics(m, actor, worker);
    assert_non_null(am);
    return atomic_load(&am->events_in);
}

/*  Poll the engine until it has finished, within the bound. */
static void s_run_to_end(sl_engine_t *e)
{
    int64_t end = sl_mono_us() + S_BOUND_US;
    while (!sl_engine_finished(e)) {
        assert_true(sl_mono_us() < end);
        sl_engine_poll(e, 50, -1);
    }
}

/*  Poll the engine until *counter >= want, within the bound. */
static void s_wait_atomic(sl_engine_t *e, _Atomic uint64_t *counter, uint64_t want)
{
    int64_t end = sl_mono_us() + S_BOUND_US;
    while (atomic_load(counter) < want) {
        if (sl_mono_us() >= end) {
            print_error("waited for %llu, have %llu\n", (unsigned long long)want,
                        (unsigned long long)atomic_load(counter));
            fail();
        }
        sl_engine_poll(e, 10, -1);
    }
}

/*  One parsed output line. */
typedef struct {
    char tenant[32];
    char qn[64];
    long long seq;
    int hops;
} s_line_t;

static int s_field_str(const char *line, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p) {
        return -1;
    }
    p += strlen(pat);
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= outlen) {
        return -1;
    }
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return 0;
}

/*  Read a jsonl_out file. Returns the number of lines; *lines is malloc'd. */
static int s_read_out(const char *path, s_line_t **lines)
{
    FILE *fp = fopen(path, "r");
    *lines = NULL;
    if (!fp) {
        return 0;
    }
    int n = 0, cap = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t got;
    while ((got = getline(&buf, &bcap, fp)) > 0) {
        if (buf[got - 1] != '\n') {
            break; /* a line the writer has not finished yet (polled while running) */
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            *lines = realloc(*lines, (size_t)cap * sizeof **lines);
            assert_non_null(*lines);
        }
        s_line_t *l = &(*lines)[n++];
        memset(l, 0, sizeof *l);
        assert_int_equal(s_field_str(buf, "tenant", l->tenant, sizeof l->tenant), 0);
        assert_int_equal(s_field_str(buf, "qualified_name", l->qn, sizeof l->qn), 0);
        const char *s = strstr(buf, "\"seq\":");
        l->seq = s ? atoll(s + 6) : -1;
        const char *h = strstr(buf, "\"hops\":");
        l->hops = h ? atoi(h + 7) : -1;
    }
    free(buf);
    fclose(fp);
    return n;
}

/*  The generator's events among lines (tenant `tenant`) hold seq 0..n-1
    exactly once each, and each key's seq increases. Returns their count. */
static int s_check_seq(const s_line_t *lines, int n, const char *tenant, int want_contiguous)
{
    int count = 0;
    long long max = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(lines[i].tenant, tenant) == 0) {
            count++;
            if (lines[i].seq > max) {
                max = lines[i].seq;
            }
        }
    }
    char *seen = calloc((size_t)max + 2, 1);
    assert_non_null(seen);
    for (int i = 0; i < n; i++) {
        if (strcmp(lines[i].tenant, tenant) != 0) {
            continue;
        }
        assert_true(lines[i].seq >= 0);
        if (seen[lines[i].seq]) {
            print_error("duplicate seq %lld\n", lines[i].seq);
            fail();
        }
        seen[lines[i].seq] = 1;
        /* per-key order: the previous line of the same key has a lower seq */
        for (int j = i - 1; j >= 0; j--) {
            if (strcmp(lines[j].qn, lines[i].qn) == 0 && strcmp(lines[j].tenant, tenant) == 0) {
                if (lines[j].seq >= lines[i].seq) {
                    print_error("key %s: seq %lld after %lld\n", lines[i].qn, lines[i].seq,
                                lines[j].seq);
                    fail();
                }
                break;
            }
        }
    }
    if (want_contiguous) {
        for (long long s = 0; s <= max; s++) {
            if (!seen[s]) {
                print_error("gap: seq %lld missing (max %lld)\n", s, max);
                fail();
            }
        }
    }
    free(seen);
    return count;
}

/*  A PUSH socket into an actor's input, on the engine's context. */
static void *s_injector(s_fix_t *f, const char *endpoint)
{
    assert_null(f->inj);
    void *sock = zmq_socket(zsys_init(), ZMQ_PUSH);
    assert_non_null(sock);
    f->inj = sock;
    int linger = 5000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(sock, endpoint), 0);
    return sock;
}

static void s_send(void *sock, const void *data, size_t len)
{
    assert_int_equal(zmq_send(sock, data, len, 0), (int)len);
}

/*  A valid event of tenant "inject", key `qn`, body {"qualified_name": qn,
    "seq": seq}, encoded alone (map form) into out. */
static void s_encode_event(sl_buf_t *out, const char *qn, uint8_t seq)
{
    uint8_t body[128];
    size_t n = 0, ql = strlen(qn);
    assert_true(ql < 32);
    body[n++] = 0x82;
    body[n++] = 0xa0 | 14;
    memcpy(body + n, "qualified_name", 14);
    n += 14;
    body[n++] = (uint8_t)(0xa0 | ql);
    memcpy(body + n, qn, ql);
    n += ql;
    body[n++] = 0xa3;
    memcpy(body + n, "seq", 3);
    n += 3;
    body[n++] = seq & 0x7f;
    sl_event_t ev = {0};
    ev.version = SL_EVENT_VERSION;
    sl_event_id_new(ev.id);
    ev.tenant = (sl_slice_t){"inject", 6};
    ev.kind = (sl_slice_t){"tag.set", 7};
    ev.source = (sl_slice_t){"test", 4};
    ev.key = (sl_slice_t){qn, (uint32_t)ql};
    ev.time_us = ev.ingest_us = sl_now_us();
    ev.body = (sl_slice_t){(const char *)body, (uint32_t)n};
    assert_int_equal(sl_event_encode(&ev, out), SL_OK);
}

/* ------------------------------------------------------------------------ */
/*  Malformed input                                                         */

static void test_malformed_input(void **state)
{
    s_fix_t *f = *state;
    const int N = 3000;
    char yaml[1024], out[512];
    snprintf(out, sizeof out, "%s/out.jsonl", f->dir);
    /* rated, so the relay is still running when the injection arrives */
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "name: malformed\n"
             "actors:\n"
             "  gen: { kind: generate, count: %d, rate: 6000, keys: 16, body_bytes: 64 }\n"
             "  mid: { kind: relay, inputs: [gen] }\n"
             "  out: { kind: jsonl_out, inputs: [mid], path: %s }\n",
             N, out);
    sl_plan_t *plan = s_plan(yaml);
    f->engine = sl_engine_new(NULL, f->metrics);
    assert_non_null(f->engine);
    char err[512] = "";
    assert_int_equal(sl_engine_start(f->engine, &plan, err, sizeof err), SL_OK);
    assert_null(plan);

    sl_actor_metrics_t *mid = s_metrics(f->metrics, "mid", 0);
    assert_non_null(mid);
    void *inj = s_injector(f, "inproc://sl/mid/0/0");

    /* 1. garbage bytes: not msgpack at all */
    static const char garbage[] = "this is not msgpack \x01\x02\x03";
    s_send(inj, garbage, sizeof garbage - 1);
    s_wait_atomic(f->engine, &f->metrics->malformed, 1);
    assert_int_equal(atomic_load(&mid->dropped), 1);

    /* 2. a truncated batch: array32 of 2 events, the first cut in half.
          Two events are lost with it. */
    sl_buf_t b = {0};
    assert_int_equal(sl_batch_begin(&b), SL_OK);
    s_encode_event(&b, "inj://trunc", 1);
    size_t cut = 5 + (b.len - 5) / 2;
    s_encode_event(&b, "inj://trunc", 2);
    sl_batch_end(&b, 2);
    s_send(inj, b.data, cut);
    s_wait_atomic(f->engine, &f->metrics->malformed, 2);
    sl_buf_free(&b);
    /* a truncated batch of 2 drops exactly 2 events */
    assert_int_equal(atomic_load(&mid->dropped), 1 + 2);

    /* 3. a batch of 2 whose first event is whole and second cut: the first
          goes on (exactly once, hops raised), the rest is dropped here and
          nothing malformed travels downstream. */
    uint64_t dropped_before = atomic_load(&mid->dropped);
    assert_int_equal(sl_batch_begin(&b), SL_OK);
    s_encode_event(&b, "inj://partial", 3);
    size_t first_end = b.len;
    s_encode_event(&b, "inj://partial", 4);
    sl_batch_end(&b, 2);
    s_send(inj, b.data, first_end + (b.len - first_end) / 2);
    s_wait_atomic(f->engine, &f->metrics->malformed, 3);
    sl_buf_free(&b);
    assert_int_equal(atomic_load(&mid->dropped), dropped_before + 1);
    uint64_t dropped_before_ctl = atomic_load(&mid->dropped);

    /* 4. a control message (0xc1) of a type nobody knows */
    static const uint8_t ctl[] = {0xc1, 'Z', 'g', 'e', 'n', '/', '0'};
    s_send(inj, ctl, sizeof ctl);
    /* counted and dropped like any malformed message */
    s_wait_atomic(f->engine, &f->metrics->malformed, 4);
    assert_int_equal(atomic_load(&mid->dropped), dropped_before_ctl + 1);

    /* 5. a valid event after all that: the relay still handles it */
    sl_buf_t one = {0};
    s_encode_event(&one, "inj://valid", 7);
    s_send(inj, one.data, one.len);
    sl_buf_free(&one);

    s_run_to_end(f->engine);
    zmq_close(inj);
    f->inj = NULL;
    assert_int_equal(atomic_load(&f->metrics->malformed), 4);
    assert_int_equal(atomic_load(&mid->errors), 0);
    /* the generator's N events and the two valid injected events */
    assert_int_equal(atomic_load(&mid->events_in), N + 2);
    assert_int_equal(s_in(f->metrics, "out", 0), N + 2);
    sl_actor_metrics_t *outm = s_metrics(f->metrics, "out", 0);
    assert_int_equal(atomic_load(&outm->dropped), 0);
    assert_int_equal(atomic_load(&outm->errors), 0);

    s_line_t *lines;
    int n = s_read_out(out, &lines);
    assert_int_equal(n, N + 2);
    assert_int_equal(s_check_seq(lines, n, "default", 1), N);
    int partial = 0, valid = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(lines[i].tenant, "inject") == 0) {
            assert_int_equal(lines[i].hops, 1);
            if (strcmp(lines[i].qn, "inj://partial") == 0) {
                partial++;
                assert_int_equal(lines[i].seq, 3);
            } else {
                valid++;
                assert_string_equal(lines[i].qn, "inj://valid");
                assert_int_equal(lines[i].seq, 7);
            }
        }
    }
    assert_int_equal(partial, 1);
    assert_int_equal(valid, 1);
    free(lines);
}

/* ------------------------------------------------------------------------ */
/*  Partitioned workers                                                     */

static void test_workers_keep_key_order(void **state)
{
    s_fix_t *f = *state;
    const int N = 30000;
    char yaml[1024], out[512];
    snprintf(out, sizeof out, "%s/out.jsonl", f->dir);
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "name: workers\n"
             "actors:\n"
             "  wgen: { kind: generate, count: %d, keys: 64, body_bytes: 100 }\n"
             "  wmid: { kind: relay, inputs: [wgen], workers: 3 }\n"
             "  wout: { kind: jsonl_out, inputs: [wmid], path: %s }\n",
             N, out);
    sl_plan_t *plan = s_plan(yaml);
    f->engine = sl_engine_new(NULL, f->metrics);
    char err[512] = "";
    assert_int_equal(sl_engine_start(f->engine, &plan, err, sizeof err), SL_OK);
    assert_int_equal(sl_engine_running(f->engine), 5);
    s_run_to_end(f->engine);
    assert_int_equal(sl_engine_running(f->engine), 0);

    uint64_t sum = 0;
    for (int w = 0; w < 3; w++) {
        uint64_t in = s_in(f->metrics, "wmid", w);
        assert_true(in > 0); /* 64 keys spread over every worker */
        sum += in;
    }
    assert_int_equal(sum, N);
    assert_int_equal(s_in(f->metrics, "wout", 0), N);

    s_line_t *lines;
    int n = s_read_out(out, &lines);
    assert_int_equal(n, N);
    assert_int_equal(s_check_seq(lines, n, "default", 1), N);
    for (int i = 0; i < n; i++) {
        assert_int_equal(lines[i].hops, 2);
    }
    free(lines);
}

/* ------------------------------------------------------------------------ */
/*  Start failure                                                           */

static int s_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void test_start_failure_leaves_nothing(void **state)
{
    s_fix_t *f = *state;
    char yaml[1024], never[600];
    snprintf(never, sizeof never, "%s/no/such/dir/out.jsonl", f->dir);
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "name: start-failure\n"
             "actors:\n"
             "  sgen: { kind: generate, keys: 4 }\n"
             "  smid: { kind: relay, inputs: [sgen], workers: 2 }\n"
             "  sout: { kind: jsonl_out, inputs: [smid], path: %s }\n",
             never);
    sl_plan_t *plan = s_plan(yaml);
    zsys_init();
    int before = s_threads();
    f->engine = sl_engine_new(NULL, f->metrics);
    assert_non_null(f->engine);
    char err[512] = "";
    int rc = sl_engine_start(f->engine, &plan, err, sizeof err);
    assert_int_equal(rc, SL_EINVAL);
    assert_null(plan);
    assert_non_null(strstr(err, "'sout'"));
    assert_non_null(strstr(err, "jsonl_out"));
    assert_int_equal(sl_engine_running(f->engine), 0);
    assert_int_equal(atomic_load(&f->metrics->ready), 0);
    /* no instance thread is left behind (zactor threads end just after
       their destroy handshake: poll, bounded) */
    int64_t end = sl_mono_us() + S_BOUND_US;
    while (s_threads() > before) {
        if (sl_mono_us() >= end) {
            print_error("%d threads before start, %d after the failed start\n", before,
                        s_threads());
            fail();
        }
        usleep(10 * 1000);
    }
    /* nothing holds the endpoints: they can be bound again */
    const char *eps[] = {"inproc://sl/sgen/0/0", "inproc://sl/smid/0/0", "inproc://sl/smid/0/1",
                         "inproc://sl/sout/0/0"};
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        void *s = zmq_socket(zsys_init(), ZMQ_PULL);
        assert_non_null(s);
        end = sl_mono_us() + S_BOUND_US;
        while (zmq_bind(s, eps[i]) != 0) {
            if (sl_mono_us() >= end) {
                print_error("%s still bound\n", eps[i]);
                fail();
            }
            usleep(10 * 1000);
        }
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(s);
    }
    struct stat st;
    assert_int_not_equal(stat(never, &st), 0);
    /* every instance ran exit (or never got a state): destroy is clean */
    sl_engine_destroy(&f->engine);
    assert_null(f->engine);
}

/* ------------------------------------------------------------------------ */
/*  Reload with changed options                                             */

#define S_RELOAD_RATE 0 /* flat out: the replaced sink has a full queue */

static const char *s_reload_yaml(char *buf, size_t len, const char *dir, const char *outname)
{
    snprintf(buf, len,
             "version: 1\n"
             "name: reload\n"
             "actors:\n"
             "  rgen: { kind: generate, rate: %d, keys: 8, body_bytes: 64 }\n"
             "  rmid: { kind: relay, inputs: [rgen] }\n"
             "  rout: { kind: jsonl_out, inputs: [rmid], path: %s/%s }\n",
             S_RELOAD_RATE, dir, outname);
    return buf;
}

static int s_file_lines(const char *path)
{
    s_line_t *lines;
    int n = s_read_out(path, &lines);
    free(lines);
    return n;
}

static void test_reload_restarts_only_changed(void **state)
{
    s_fix_t *f = *state;
    char yaml[1024], pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/a.jsonl", f->dir);
    snprintf(pb, sizeof pb, "%s/b.jsonl", f->dir);
    sl_plan_t *plan = s_plan(s_reload_yaml(yaml, sizeof yaml, f->dir, "a.jsonl"));
    f->engine = sl_engine_new(NULL, f->metrics);
    char err[512] = "";
    assert_int_equal(sl_engine_start(f->engine, &plan, err, sizeof err), SL_OK);

    sl_actor_metrics_t *gen = s_metrics(f->metrics, "rgen", 0);
    sl_actor_metrics_t *mid = s_metrics(f->metrics, "rmid", 0);
    assert_non_null(gen);
    assert_non_null(mid);
    s_wait_atomic(f->engine, &s_metrics(f->metrics, "rout", 0)->events_in, 300);
    uint64_t gen_before = atomic_load(&gen->events_out);
    uint64_t mid_before = atomic_load(&mid->events_in);

    /* only out's options change */
    plan = s_plan(s_reload_yaml(yaml, sizeof yaml, f->dir, "b.jsonl"));
    assert_int_equal(sl_engine_reload(f->engine, &plan, err, sizeof err), SL_OK);
    assert_null(plan);
    assert_int_equal(sl_engine_running(f->engine), 3);

    /* the kept actors keep their metrics entries, which keep counting */
    assert_ptr_equal(s_metrics(f->metrics, "rgen", 0), gen);
    assert_ptr_equal(s_metrics(f->metrics, "rmid", 0), mid);
    assert_true(atomic_load(&gen->events_out) >= gen_before);
    assert_true(atomic_load(&mid->events_in) >= mid_before);
    s_wait_atomic(f->engine, &gen->events_out, gen_before + 600);
    s_wait_atomic(f->engine, &mid->events_in, mid_before + 600);

    /* the relay was not restarted: its generation-0 input still works,
       and what goes in there now reaches the new output */
    void *inj = s_injector(f, "inproc://sl/rmid/0/0");
    sl_buf_t one = {0};
    s_encode_event(&one, "inj://kept", 5);
    s_send(inj, one.data, one.len);
    sl_buf_free(&one);

    int64_t end = sl_mono_us() + S_BOUND_US;
    while (s_file_lines(pb) < 300) {
        assert_true(sl_mono_us() < end);
        sl_engine_poll(f->engine, 50, -1);
    }
    int a_final = s_file_lines(pa); /* the old out ran exit: A is complete */

    sl_engine_drain(f->engine);
    s_run_to_end(f->engine);
    zmq_close(inj);
    f->inj = NULL;

    s_line_t *la, *lb;
    int na = s_read_out(pa, &la);
    int nb = s_read_out(pb, &lb);
    assert_int_equal(na, a_final);
    assert_true(na >= 300);
    /* the generator was not restarted: B goes on from where A stopped
       (a restarted generate would begin again at seq 0) */
    long long a_max = -1, b_min = -1;
    for (int i = 0; i < na; i++) {
        if (la[i].seq > a_max) {
            a_max = la[i].seq;
        }
    }
    int injected = 0;
    for (int i = 0; i < nb; i++) {
        if (strcmp(lb[i].tenant, "inject") == 0) {
            injected++;
            continue;
        }
        if (b_min < 0 || lb[i].seq < b_min) {
            b_min = lb[i].seq;
        }
    }
    assert_int_equal(injected, 1);
    assert_true(b_min > a_max);
    assert_int_equal(s_check_seq(la, na, "default", 1), na);
    s_check_seq(lb, nb, "default", 0);
    /* what the relay made equals what the two outputs hold, plus what was
       in flight to the old output when it was replaced */
    uint64_t mid_out = atomic_load(&mid->events_out);
    print_message("reload: A %d events (max seq %lld), B %d from seq %lld, relay sent %llu\n", na,
                  a_max, nb, b_min, (unsigned long long)mid_out);
    /* DESIGN.md: "a reload (SIGHUP) applies the difference without losing
       an event": the restarted sink goes on exactly where its predecessor
       stopped, also with a full queue at the switch. */
    assert_int_equal(b_min, a_max + 1);
    free(la);
    free(lb);
}

/* ------------------------------------------------------------------------ */
/*  CURVE links between two engines                                         */

static void test_curve_links_two_engines(void **state)
{
    s_fix_t *f = *state;
    const int NA = 3000, NG = 2000, NN = 50;
    char pub[41], err[512] = "";
    assert_int_equal(sl_curve_keygen(f->dir, "acme", 0, pub, err, sizeof err), SL_OK);
    assert_int_equal(sl_curve_keygen(f->dir, "globex", 0, pub, err, sizeof err), SL_OK);
    /* below the ephemeral range; 8 ports per node (4 on b: hop's 2 workers
       x 2 tenants; 8 on a: 4 actors x 2) */
    int base = 20000 + (int)(getpid() % 4000) * 3;
    char yaml[2048], out[512];
    snprintf(out, sizeof out, "%s/out.jsonl", f->dir);
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "name: curve\n"
             "tenants:\n"
             "  acme: { keys: %s }\n"
             "  globex: { keys: %s }\n"
             "  nokeys:\n"
             "nodes:\n"
             "  a: { host: 127.0.0.1, port: %d }\n"
             "  b: { host: 127.0.0.1, port: %d }\n"
             "actors:\n"
             "  cga: { kind: generate, node: a, count: %d, keys: 16, tenant: acme }\n"
             "  cgg: { kind: generate, node: a, count: %d, keys: 16, tenant: globex }\n"
             "  cgn: { kind: generate, node: a, count: %d, tenant: nokeys }\n"
             "  chop: { kind: relay, node: b, inputs: [cga, cgg, cgn], workers: 2 }\n"
             "  cout: { kind: jsonl_out, node: a, inputs: [chop], path: %s }\n",
             f->dir, f->dir, base, base + 8, NA, NG, NN, out);
    sl_plan_t *pa = s_plan(yaml), *pb = s_plan(yaml);
    assert_int_equal(sl_plan_link_slots(pa), 2);
    assert_int_equal(sl_plan_tcp_port(pa, sl_plan_actor(pa, "chop"), 1, 1), base + 8 + 3);
    sl_metrics_t *mb = sl_metrics_new();
    sl_engine_t *b = sl_engine_new("b", mb);
    assert_int_equal(sl_engine_start(b, &pb, err, sizeof err), SL_OK);
    f->engine = sl_engine_new("a", f->metrics);
    assert_int_equal(sl_engine_start(f->engine, &pa, err, sizeof err), SL_OK);
    int64_t end = sl_mono_us() + S_BOUND_US;
    while (!sl_engine_finished(f->engine) || !sl_engine_finished(b)) {
        assert_true(sl_mono_us() < end);
        sl_engine_poll(f->engine, 10, -1);
        sl_engine_poll(b, 10, -1);
    }
    /* the tenant without keys never left node a: counted once per event */
    sl_actor_metrics_t *gn = s_metrics(f->metrics, "cgn", 0);
    assert_int_equal(atomic_load(&gn->no_link_key), NN);
    assert_int_equal(s_in(mb, "chop", 0) + s_in(mb, "chop", 1), NA + NG);
    assert_int_equal(atomic_load(&s_metrics(mb, "chop", 0)->tenant_mismatch), 0);
    s_line_t *lines;
    int n = s_read_out(out, &lines);
    assert_int_equal(n, NA + NG);
    assert_int_equal(s_check_seq(lines, n, "acme", 1), NA);
    assert_int_equal(s_check_seq(lines, n, "globex", 1), NG);
    free(lines);
    sl_engine_destroy(&b);
    sl_metrics_destroy(&mb);
    char path[600];
    snprintf(path, sizeof path, "%s/acme.cert_secret", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

int main(void)
{
    sl_log_set_level(SL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_malformed_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_workers_keep_key_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_start_failure_leaves_nothing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reload_restarts_only_changed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_curve_links_two_engines, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zsys_shutdown();
    return rc;
}
