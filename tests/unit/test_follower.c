/*  The change-log follower against a real store: catch-up across a
    restart, gap fill, duplicates skipped, order kept, per-tenant cursors,
    a failing callback retried, and a follower SIGKILLed mid-stream whose
    cursor, handled changes and log still agree afterwards. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/follower.h"
#include "sluice/log.h"
#include "sluice/store.h"

#define S_MAX_SEEN 4096

typedef struct {
    char tenant[32];
    uint64_t seq;
} s_seen_t;

typedef struct {
    s_seen_t seen[S_MAX_SEEN];
    int n;
    uint64_t fail_at; /* fail once at this seq (0 = never) */
    int out_fd;       /* crash test: append each seq here (-1 = no) */
} s_rec_t;

static int s_record(void *arg, const char *tenant, uint64_t seq, const sl_event_t *change)
{
    s_rec_t *r = arg;
    uint64_t body_seq = 0;
    assert_int_equal(sl_change_seq(change, &body_seq), SL_OK);
    assert_true(body_seq == seq);
    assert_true(sl_slice_eq(change->tenant, tenant));
    if (r->fail_at && seq == r->fail_at) {
        r->fail_at = 0;
        return SL_EIO;
    }
    if (r->out_fd >= 0) {
        char line[64];
        int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)seq);
        if (write(r->out_fd, line, (size_t)n) != n) {
            return SL_EIO;
        }
    }
    if (r->n < S_MAX_SEEN) {
        snprintf(r->seen[r->n].tenant, sizeof r->seen[r->n].tenant, "%s", tenant);
        r->seen[r->n].seq = seq;
        r->n++;
    }
    return SL_OK;
}

static s_rec_t *s_rec_new(void)
{
    s_rec_t *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->out_fd = -1;
    return r;
}

/*  The seqs seen for `tenant` are exactly from..to, in order. */
static void s_expect(const s_rec_t *r, const char *tenant, uint64_t from, uint64_t to)
{
    uint64_t next = from;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->seen[i].tenant, tenant) != 0) {
            continue;
        }
        if (r->seen[i].seq != next) {
            fail_msg("tenant %s: got seq %llu, expected %llu", tenant,
                     (unsigned long long)r->seen[i].seq, (unsigned long long)next);
        }
        next++;
    }
    if (next != to + 1) {
        fail_msg("tenant %s: saw up to %llu, expected up to %llu", tenant,
                 (unsigned long long)next - 1, (unsigned long long)to);
    }
}

typedef struct {
    char dir[256];
    sl_store_t *store;
} s_fix_t;

static sl_store_t *s_open(const char *dir)
{
    char err[256] = "";
    sl_store_opts_t o = {.path = dir, .nosync = 1, .map_size = 64 << 20};
    sl_store_t *s = sl_store_open(&o, err, sizeof err);
    if (!s) {
        fail_msg("open %s: %s", dir, err);
    }
    return s;
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    if (!f) {
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s/sl-follower.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    f->store = s_open(f->dir);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sl_store_close(&f->store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", f->dir);
    }
    free(f);
    return 0;
}

/*  Apply `n` asset upserts of `tenant` in one batch (assets k..k+n-1, each
    with a new description so every one changes something). */
static void s_put(sl_store_t *s, const char *tenant, int k, int n)
{
    static int version;
    sl_store_batch_t *b = NULL;
    sl_buf_t scratch = {0};
    assert_int_equal(sl_store_batch_begin(s, &b), SL_OK);
    for (int i = k; i < k + n; i++) {
        char json[512], err[256];
        int len = snprintf(json, sizeof json,
                           "{\"tenant\":\"%s\",\"kind\":\"asset.upsert\",\"body\":"
                           "{\"qualified_name\":\"snowflake://p/db/t%d\",\"type\":\"table\","
                           "\"name\":\"t%d\",\"description\":\"v%d\"}}",
                           tenant, i, i, ++version);
        sl_event_t ev;
        if (sl_event_from_json(json, (size_t)len, &ev, &scratch, err, sizeof err) != SL_OK) {
            fail_msg("event: %s", err);
        }
        sl_apply_t res;
        char reason[256] = "";
        assert_int_equal(sl_store_apply(b, &ev, &res, reason, sizeof reason), SL_OK);
        if (res != SL_APPLY_CHANGED) {
            fail_msg("apply gave %d (%s)", (int)res, reason);
        }
    }
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    sl_buf_free(&scratch);
}

static uint64_t s_last(sl_store_t *s, const char *tenant)
{
    uint64_t last = 0;
    assert_int_equal(sl_store_last_seq(s, tenant, &last), SL_OK);
    return last;
}

/*  The log's change events of a tenant, encoded, to feed as if pushed. */
typedef struct {
    sl_buf_t *ev;
    uint64_t n;
    uint64_t cap;
} s_log_t;

static int s_collect(void *arg, uint64_t seq, const sl_event_t *change)
{
    s_log_t *l = arg;
    assert_true(seq == l->n + 1);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ev = realloc(l->ev, l->cap * sizeof *l->ev);
        assert_non_null(l->ev);
        memset(l->ev + l->n, 0, (l->cap - l->n) * sizeof *l->ev);
    }
    assert_int_equal(sl_event_encode(change, &l->ev[l->n]), SL_OK);
    l->n++;
    return 0;
}

static s_log_t *s_log_read(sl_store_t *s, const char *tenant)
{
    s_log_t *l = calloc(1, sizeof *l);
    assert_non_null(l);
    int n = sl_store_changes(s, tenant, 0, 0, s_collect, l);
    assert_true(n >= 0 && (uint64_t)n == l->n);
    return l;
}

static void s_log_free(s_log_t *l)
{
    for (uint64_t i = 0; i < l->n; i++) {
        sl_buf_free(&l->ev[i]);
    }
    free(l->ev);
    free(l);
}

/*  Feed change `seq` (1-based) of the log to the follower. */
static int s_feed(sl_follower_t *fo, const s_log_t *l, uint64_t seq)
{
    sl_event_t ev;
    size_t used;
    assert_true(seq >= 1 && seq <= l->n);
    assert_int_equal(sl_event_decode(l->ev[seq - 1].data, l->ev[seq - 1].len, &used, &ev), SL_OK);
    return sl_follower_feed(fo, &ev);
}

static void test_catch_up_across_restart(void **state)
{
    s_fix_t *f = *state;
    s_put(f->store, "acme", 0, 10);
    uint64_t first = s_last(f->store, "acme");
    assert_true(first >= 10);

    s_rec_t *r = s_rec_new();
    sl_follower_opts_t o = {.consumer = "walker"};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    assert_non_null(fo);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)first);
    s_expect(r, "acme", 1, first);
    assert_true(sl_follower_cursor(fo, "acme") == first);
    sl_follower_destroy(&fo);
    assert_null(fo);
    sl_follower_destroy(&fo); /* safe twice */

    uint64_t cur = 0;
    assert_int_equal(sl_store_cursor_get(f->store, "acme", "walker", &cur), SL_OK);
    assert_true(cur == first);

    /* while "down": more changes; then a restart catches up from the cursor */
    s_put(f->store, "acme", 10, 5);
    uint64_t second = s_last(f->store, "acme");
    r->n = 0;
    fo = sl_follower_new(f->store, &o, s_record, r);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)(second - first));
    s_expect(r, "acme", first + 1, second);
    /* nothing more: a second catch-up hands on nothing */
    assert_int_equal(sl_follower_catch_up(fo), 0);
    sl_follower_destroy(&fo);

    /* another consumer has its own cursor: it sees everything */
    r->n = 0;
    sl_follower_opts_t o2 = {.consumer = "slack"};
    fo = sl_follower_new(f->store, &o2, s_record, r);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)second);
    s_expect(r, "acme", 1, second);
    sl_follower_destroy(&fo);
    free(r);
}

static void test_gap_fill_duplicates_order(void **state)
{
    s_fix_t *f = *state;
    s_put(f->store, "acme", 0, 12);
    s_log_t *l = s_log_read(f->store, "acme");
    assert_true(l->n >= 12);

    s_rec_t *r = s_rec_new();
    sl_follower_opts_t o = {.consumer = "c"};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    assert_int_equal(s_feed(fo, l, 1), SL_OK);
    assert_int_equal(s_feed(fo, l, 5), SL_OK); /* 2..4 lost in transit */
    s_expect(r, "acme", 1, 5);
    assert_int_equal(s_feed(fo, l, 3), SL_OK); /* late duplicate */
    assert_int_equal(s_feed(fo, l, 5), SL_OK); /* duplicate */
    assert_int_equal(s_feed(fo, l, 1), SL_OK);
    s_expect(r, "acme", 1, 5);
    assert_int_equal(s_feed(fo, l, l->n), SL_OK); /* jump to the end */
    s_expect(r, "acme", 1, l->n);
    /* everything again: nothing new */
    for (uint64_t i = 1; i <= l->n; i++) {
        assert_int_equal(s_feed(fo, l, i), SL_OK);
    }
    s_expect(r, "acme", 1, l->n);
    assert_true(sl_follower_cursor(fo, "acme") == l->n);

    /* not a change, or a change without a seq */
    sl_event_t other = {.kind = SL_SLICE("tag.set"), .tenant = SL_SLICE("acme")};
    assert_int_equal(sl_follower_feed(fo, &other), SL_OK);
    sl_event_t bad = {.kind = SL_SLICE("change"), .tenant = SL_SLICE("acme")};
    assert_int_equal(sl_follower_feed(fo, &bad), SL_EPROTO);

    sl_follower_destroy(&fo);
    s_log_free(l);
    free(r);
}

static void test_seq_beyond_log(void **state)
{
    s_fix_t *f = *state;
    s_put(f->store, "acme", 0, 3);
    uint64_t last = s_last(f->store, "acme");
    /*  A change whose seq is past the log's end (pushed by some other store,
        or a log that lost its tail): the gap cannot be filled. */
    uint64_t seq = last + 5;
    uint8_t body[] = {0x81, 0xa3, 's', 'e', 'q', 0xcd, (uint8_t)(seq >> 8), (uint8_t)seq};
    sl_event_t ev = {.kind = SL_SLICE("change"),
                     .tenant = SL_SLICE("acme"),
                     .body = {(const char *)body, sizeof body}};
    uint64_t got = 0;
    assert_int_equal(sl_change_seq(&ev, &got), SL_OK);
    assert_true(got == seq);
    s_rec_t *r = s_rec_new();
    sl_follower_opts_t o = {.consumer = "c"};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    assert_int_equal(sl_follower_feed(fo, &ev), SL_ESTATE);
    /* what the log had was handed on, in order; the cursor is its end */
    s_expect(r, "acme", 1, last);
    assert_true(sl_follower_cursor(fo, "acme") == last);
    sl_follower_destroy(&fo);
    free(r);
}

static void test_tenants_apart(void **state)
{
    s_fix_t *f = *state;
    s_put(f->store, "acme", 0, 4);
    s_put(f->store, "globex", 0, 7);
    s_put(f->store, "acme", 4, 2);
    uint64_t la = s_last(f->store, "acme"), lg = s_last(f->store, "globex");

    s_rec_t *r = s_rec_new();
    sl_follower_opts_t o = {.consumer = "c"};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)(la + lg));
    s_expect(r, "acme", 1, la);
    s_expect(r, "globex", 1, lg);
    sl_follower_destroy(&fo);

    /* a follower of one tenant ignores the other's events */
    r->n = 0;
    sl_follower_opts_t og = {.consumer = "only-globex", .tenant = "globex"};
    fo = sl_follower_new(f->store, &og, s_record, r);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)lg);
    s_log_t *la_log = s_log_read(f->store, "acme");
    assert_int_equal(s_feed(fo, la_log, la_log->n), SL_OK);
    s_expect(r, "globex", 1, lg);
    s_expect(r, "acme", 1, 0);
    s_log_free(la_log);
    sl_follower_destroy(&fo);
    uint64_t cur = 99;
    assert_int_equal(sl_store_cursor_get(f->store, "acme", "only-globex", &cur), SL_OK);
    assert_true(cur == 0);
    free(r);
}

static void test_callback_failure_retried(void **state)
{
    s_fix_t *f = *state;
    s_put(f->store, "acme", 0, 6);
    s_log_t *l = s_log_read(f->store, "acme");
    s_rec_t *r = s_rec_new();
    r->fail_at = 3;
    sl_follower_opts_t o = {.consumer = "c"};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    assert_int_equal(s_feed(fo, l, 1), SL_OK);
    assert_int_equal(s_feed(fo, l, 2), SL_OK);
    assert_int_equal(s_feed(fo, l, 3), SL_EIO);
    assert_true(sl_follower_cursor(fo, "acme") == 2);
    /* the next push fills 3 from the log, then hands on 4 */
    assert_int_equal(s_feed(fo, l, 4), SL_OK);
    s_expect(r, "acme", 1, 4);
    /* a failure inside a gap read stops there too */
    r->fail_at = 5;
    assert_int_equal(s_feed(fo, l, l->n), SL_EIO);
    assert_true(sl_follower_cursor(fo, "acme") == 4);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)(l->n - 4));
    s_expect(r, "acme", 1, l->n);
    sl_follower_destroy(&fo);
    s_log_free(l);
    free(r);
}

static void test_persist_every(void **state)
{
    s_fix_t *f = *state;
    s_put(f->store, "acme", 0, 10);
    s_log_t *l = s_log_read(f->store, "acme");
    s_rec_t *r = s_rec_new();
    sl_follower_opts_t o = {.consumer = "c", .persist_every = 3, .persist_us = 3600000000LL};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    uint64_t cur = 0;
    for (uint64_t i = 1; i <= 7; i++) {
        assert_int_equal(s_feed(fo, l, i), SL_OK);
        assert_int_equal(sl_store_cursor_get(f->store, "acme", "c", &cur), SL_OK);
        /* persisted every 3: never behind by 3 or more, never ahead */
        assert_true(cur <= i && i - cur < 3);
    }
    assert_true(cur == 6);
    assert_int_equal(sl_follower_flush(fo), SL_OK);
    assert_int_equal(sl_store_cursor_get(f->store, "acme", "c", &cur), SL_OK);
    assert_true(cur == 7);
    sl_follower_destroy(&fo);
    s_log_free(l);
    free(r);
}

/*  The child of the crash test: write batches and follow them, forever. */
static void s_crash_child(const char *dir, const char *out)
{
    sl_store_t *s = s_open(dir);
    s_rec_t *r = s_rec_new();
    r->out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (r->out_fd < 0) {
        _exit(3);
    }
    sl_follower_opts_t o = {.consumer = "crash", .persist_every = 7};
    sl_follower_t *fo = sl_follower_new(s, &o, s_record, r);
    if (!fo || sl_follower_catch_up(fo) < 0) {
        _exit(4);
    }
    for (int k = 0;; k += 3) {
        s_put(s, "acme", k % 50, 3);
        if (sl_follower_catch_up(fo) < 0) {
            _exit(5);
        }
        r->n = 0;
    }
}

static void test_sigkill_mid_stream(void **state)
{
    s_fix_t *f = *state;
    sl_store_close(&f->store); /* the child owns the store until killed */
    char out[300];
    snprintf(out, sizeof out, "%s/handled.txt", f->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        s_crash_child(f->dir, out);
        _exit(0);
    }
    /* bounded poll until the child has handled a few hundred changes */
    for (int i = 0; i < 2000; i++) {
        struct stat st;
        if (stat(out, &st) == 0 && st.st_size > 3000) {
            break;
        }
        usleep(5000);
    }
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    f->store = s_open(f->dir);
    uint64_t last = s_last(f->store, "acme");
    uint64_t cur = 0;
    assert_int_equal(sl_store_cursor_get(f->store, "acme", "crash", &cur), SL_OK);
    /* what the child handled: 1..H in order, each once */
    FILE *in = fopen(out, "r");
    assert_non_null(in);
    unsigned long long v;
    uint64_t handled = 0;
    while (fscanf(in, "%llu", &v) == 1) {
        assert_true(v == handled + 1);
        handled = v;
    }
    fclose(in);
    assert_true(handled > 100);
    /* the cursor never runs ahead of what was handled, nor past the log */
    assert_true(cur <= handled);
    assert_true(handled <= last);
    assert_true(cur > 0);

    /* a restarted follower resumes right after the cursor, to the end */
    s_rec_t *r = s_rec_new();
    sl_follower_opts_t o = {.consumer = "crash"};
    sl_follower_t *fo = sl_follower_new(f->store, &o, s_record, r);
    assert_int_equal(sl_follower_catch_up(fo), (int64_t)(last - cur));
    s_expect(r, "acme", cur + 1, last);
    sl_follower_destroy(&fo);

    /* every asset the log names is in the store */
    s_log_t *l = s_log_read(f->store, "acme");
    assert_true(l->n == last);
    sl_buf_t json = {0};
    for (uint64_t i = 0; i < l->n; i++) {
        sl_event_t ev;
        size_t used;
        assert_int_equal(sl_event_decode(l->ev[i].data, l->ev[i].len, &used, &ev), SL_OK);
        sl_slice_t entity, key;
        assert_int_equal(sl_change_str(&ev, "entity", &entity), SL_OK);
        assert_int_equal(sl_change_str(&ev, "key", &key), SL_OK);
        if (sl_slice_eq(entity, "asset")) {
            char qn[256];
            snprintf(qn, sizeof qn, "%.*s", (int)key.len, key.ptr);
            sl_buf_reset(&json);
            assert_int_equal(sl_store_asset_json(f->store, "acme", qn, &json), SL_OK);
        }
    }
    sl_buf_free(&json);
    s_log_free(l);
    free(r);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catch_up_across_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gap_fill_duplicates_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_beyond_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tenants_apart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_callback_failure_retried, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_persist_every, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_mid_stream, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
