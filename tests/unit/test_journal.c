/*  Journal: append, read, cursors, replay after reopen, trim, group commit
    from several threads, errors. Each test uses its own directory under
    /tmp, removed at the end. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/common.h"
#include "sluice/journal.h"

typedef struct {
    char dir[64];
    char path[96];
    sl_journal_t *j;
} s_fix_t;

static void s_rmrf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static sl_journal_t *s_open(const char *path, int64_t map_size)
{
    char err[256] = "";
    sl_journal_opts_t o = {.path = path, .map_size = map_size, .nosync = 1};
    sl_journal_t *j = sl_journal_open(&o, err, sizeof err);
    if (!j) {
        fprintf(stderr, "open: %s\n", err);
    }
    return j;
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sl_journal_XXXXXX");
    if (!mkdtemp(f->dir)) {
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/journal-in", f->dir);
    f->j = s_open(f->path, 0);
    *state = f;
    return f->j ? 0 : -1;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sl_journal_close(&f->j);
    s_rmrf(f->dir);
    free(f);
    return 0;
}

static int s_append_str(sl_journal_t *j, const char *s, uint64_t *seq)
{
    sl_slice_t e = {s, (uint32_t)strlen(s)};
    return sl_journal_append(j, &e, 1, seq);
}

typedef struct {
    uint64_t seqs[64];
    char data[64][32];
    int n;
    int stop_at; /* stop before visiting this index (0 = never) */
} s_seen_t;

static int s_collect(void *arg, uint64_t seq, int64_t time_us, const void *data, size_t len)
{
    s_seen_t *s = arg;
    if (s->stop_at && s->n == s->stop_at) {
        return 1;
    }
    assert_true(time_us > 0);
    assert_true(len < sizeof s->data[0]);
    s->seqs[s->n] = seq;
    memcpy(s->data[s->n], data, len);
    s->data[s->n][len] = '\0';
    s->n++;
    return 0;
}

static void test_append_read(void **state)
{
    s_fix_t *f = *state;
    uint64_t seq = 0;
    assert_int_equal(sl_journal_last(f->j), 0);
    assert_int_equal(s_append_str(f->j, "a", &seq), SL_OK);
    assert_int_equal(seq, 1);
    sl_slice_t batch[3] = {{"b", 1}, {"cc", 2}, {"ddd", 3}};
    assert_int_equal(sl_journal_append(f->j, batch, 3, &seq), SL_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(sl_journal_last(f->j), 4);

    s_seen_t s = {0};
    assert_int_equal(sl_journal_read(f->j, 0, 100, s_collect, &s), 4);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.data[0], "a");
    assert_string_equal(s.data[3], "ddd");
    assert_int_equal(s.seqs[3], 4);

    memset(&s, 0, sizeof s);
    assert_int_equal(sl_journal_read(f->j, 2, 1, s_collect, &s), 1);
    assert_int_equal(s.seqs[0], 3);
    assert_string_equal(s.data[0], "cc");

    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    assert_int_equal(sl_journal_read(f->j, 0, 100, s_collect, &s), 2);

    memset(&s, 0, sizeof s);
    assert_int_equal(sl_journal_read(f->j, 4, 100, s_collect, &s), 0);

    /* bad arguments never write */
    sl_slice_t empty = {"", 0};
    assert_int_equal(sl_journal_append(f->j, &empty, 1, &seq), SL_EINVAL);
    assert_int_equal(sl_journal_append(f->j, batch, 0, &seq), SL_EINVAL);
    assert_int_equal(sl_journal_last(f->j), 4);
}

static void test_wait(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(sl_journal_wait(f->j, 0, 1000), SL_ETIMEDOUT);
    assert_int_equal(s_append_str(f->j, "x", NULL), SL_OK);
    assert_int_equal(sl_journal_wait(f->j, 0, 1000), SL_OK);
    assert_int_equal(sl_journal_wait(f->j, 1, 1000), SL_ETIMEDOUT);
}

static void test_cursor_replay_reopen(void **state)
{
    s_fix_t *f = *state;
    char buf[16];
    for (int i = 0; i < 10; i++) {
        snprintf(buf, sizeof buf, "e%d", i);
        assert_int_equal(s_append_str(f->j, buf, NULL), SL_OK);
    }
    uint64_t c = 99;
    assert_int_equal(sl_journal_cursor_get(f->j, "ingest", &c), SL_OK);
    assert_int_equal(c, 0);
    assert_int_equal(sl_journal_cursor_set(f->j, "ingest", 6), SL_OK);
    assert_int_equal(sl_journal_cursor_set(f->j, "other", 2), SL_OK);
    assert_int_equal(sl_journal_cursor_set(f->j, "", 2), SL_EINVAL);

    /* reopen: cursors and entries survive; replay from the cursor */
    sl_journal_close(&f->j);
    sl_journal_close(&f->j); /* safe twice */
    f->j = s_open(f->path, 0);
    assert_non_null(f->j);
    assert_int_equal(sl_journal_last(f->j), 10);
    assert_int_equal(sl_journal_cursor_get(f->j, "ingest", &c), SL_OK);
    assert_int_equal(c, 6);
    s_seen_t s = {0};
    assert_int_equal(sl_journal_read(f->j, c, 100, s_collect, &s), 4);
    assert_string_equal(s.data[0], "e6");
    assert_int_equal(s.seqs[0], 7);

    /* new appends continue the sequence */
    uint64_t seq = 0;
    assert_int_equal(s_append_str(f->j, "after", &seq), SL_OK);
    assert_int_equal(seq, 11);
}

static void test_trim(void **state)
{
    s_fix_t *f = *state;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(s_append_str(f->j, "t", NULL), SL_OK);
    }
    uint64_t n = 0, first = 0, removed = 0;
    /* nothing is old enough yet */
    int64_t t0 = sl_now_us() - 60 * 1000000LL;
    assert_int_equal(sl_journal_trim(f->j, 20, t0, 1000, &removed), SL_OK);
    assert_int_equal(removed, 0);
    /* past the cursor: only what the cursor passed goes, at most max */
    int64_t later = sl_now_us() + 1000000;
    assert_int_equal(sl_journal_trim(f->j, 12, later, 5, &removed), SL_OK);
    assert_int_equal(removed, 5);
    assert_int_equal(sl_journal_trim(f->j, 12, later, 1000, &removed), SL_OK);
    assert_int_equal(removed, 7);
    assert_int_equal(sl_journal_stats(f->j, &n, &first), SL_OK);
    assert_int_equal(n, 8);
    assert_int_equal(first, 13);
    s_seen_t s = {0};
    assert_int_equal(sl_journal_read(f->j, 0, 100, s_collect, &s), 8);
    assert_int_equal(s.seqs[0], 13);

    /* everything trimmed: after a reopen the sequence still goes on */
    assert_int_equal(sl_journal_cursor_set(f->j, "in", 20), SL_OK);
    assert_int_equal(sl_journal_trim(f->j, 20, later, 1000, &removed), SL_OK);
    assert_int_equal(removed, 8);
    sl_journal_close(&f->j);
    f->j = s_open(f->path, 0);
    assert_non_null(f->j);
    assert_int_equal(sl_journal_last(f->j), 20);
    uint64_t seq = 0;
    assert_int_equal(s_append_str(f->j, "x", &seq), SL_OK);
    assert_int_equal(seq, 21);
}

/*  Confirmations: in memory until flushed, monotonic, never past the last
    durable entry, the lowest one decides what a trim may delete, and
    they survive a reopen once flushed. */
static void test_confirm_flush_trim(void **state)
{
    s_fix_t *f = *state;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(s_append_str(f->j, "c", NULL), SL_OK);
    }
    uint64_t c = 0;
    assert_int_equal(sl_journal_confirm(f->j, "store", 12), SL_OK);
    assert_int_equal(sl_journal_confirm(f->j, "store", 7), SL_OK); /* lower: ignored */
    assert_int_equal(sl_journal_cursor_get(f->j, "store", &c), SL_OK);
    assert_int_equal(c, 12);
    assert_int_equal(sl_journal_confirm(f->j, "store", 31), SL_ERANGE);
    assert_int_equal(sl_journal_confirm(f->j, "", 3), SL_EINVAL);
    assert_int_equal(sl_journal_confirm(f->j, "mirror", 20), SL_OK);

    /* the owner trims up to the lowest confirmation */
    uint64_t lo = 0, hi = 0, removed = 0, n = 0, first = 0;
    assert_int_equal(sl_journal_cursor_get(f->j, "store", &lo), SL_OK);
    assert_int_equal(sl_journal_cursor_get(f->j, "mirror", &hi), SL_OK);
    uint64_t upto = lo < hi ? lo : hi;
    assert_int_equal(upto, 12);
    assert_int_equal(sl_journal_trim(f->j, upto, sl_now_us() + 1000000, 1000, &removed), SL_OK);
    assert_int_equal(removed, 12);
    assert_int_equal(sl_journal_stats(f->j, &n, &first), SL_OK);
    assert_int_equal(n, 18);
    assert_int_equal(first, 13);

    /* not flushed: a reopen (the last reference closing flushes) keeps them */
    sl_journal_close(&f->j);
    f->j = s_open(f->path, 0);
    assert_non_null(f->j);
    assert_int_equal(sl_journal_cursor_get(f->j, "store", &c), SL_OK);
    assert_int_equal(c, 12);
    assert_int_equal(sl_journal_cursor_get(f->j, "mirror", &c), SL_OK);
    assert_int_equal(c, 20);

    /* flushed explicitly; a stored cursor is never moved back by a flush */
    assert_int_equal(sl_journal_cursor_set(f->j, "mirror", 25), SL_OK);
    assert_int_equal(sl_journal_confirm(f->j, "store", 30), SL_OK);
    assert_int_equal(sl_journal_confirm(f->j, "mirror", 22), SL_OK);
    assert_int_equal(sl_journal_flush(f->j), SL_OK);
    assert_int_equal(sl_journal_flush(f->j), SL_OK); /* nothing new: no commit */
    assert_int_equal(sl_journal_cursor_get(f->j, "mirror", &c), SL_OK);
    assert_int_equal(c, 25);
    /* entries after the lowest cursor are what a restart replays */
    s_seen_t s = {0};
    assert_int_equal(sl_journal_read(f->j, 25, 100, s_collect, &s), 5);
    assert_int_equal(s.seqs[0], 26);

    /* bounded number of consumers */
    char name[32];
    int rc = SL_OK;
    for (int i = 0; i < SL_JOURNAL_CONSUMERS + 1 && rc == SL_OK; i++) {
        snprintf(name, sizeof name, "c%d", i);
        rc = sl_journal_confirm(f->j, name, 1);
    }
    assert_int_equal(rc, SL_EFULL);
}

/*  One object per directory per process, found by id; a consumer's
    reference keeps it open after the owner closed, and its late
    confirmation is written when the last reference goes. */
static void test_registry_refs(void **state)
{
    s_fix_t *f = *state;
    const char *id = sl_journal_id(f->j);
    assert_int_equal(strlen(id), 36);
    char saved[37];
    snprintf(saved, sizeof saved, "%s", id);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s_append_str(f->j, "r", NULL), SL_OK);
    }
    /* a second open of the same directory (another spelling) is the same object */
    char other[160];
    snprintf(other, sizeof other, "%s/../%s", f->path, strrchr(f->path, '/') + 1);
    sl_journal_t *j2 = s_open(other, 0);
    assert_ptr_equal(j2, f->j);
    sl_journal_close(&j2);
    assert_null(j2);

    sl_journal_t *held = sl_journal_find(saved);
    assert_ptr_equal(held, f->j);
    assert_null(sl_journal_find("00000000-0000-7000-8000-000000000000"));
    assert_null(sl_journal_find(NULL));

    /* the owner goes; the consumer still confirms */
    sl_journal_close(&f->j);
    assert_int_equal(sl_journal_confirm(held, "store", 5), SL_OK);
    sl_journal_t *again = sl_journal_find(saved);
    assert_ptr_equal(again, held);
    sl_journal_close(&again);
    sl_journal_close(&held); /* last: flushes and closes */
    assert_null(sl_journal_find(saved));

    /* reopened: the same id, the late confirmation stored */
    f->j = s_open(f->path, 0);
    assert_non_null(f->j);
    assert_string_equal(sl_journal_id(f->j), saved);
    uint64_t c = 0;
    assert_int_equal(sl_journal_cursor_get(f->j, "store", &c), SL_OK);
    assert_int_equal(c, 5);

    /* a new directory has a new id */
    char fresh[128];
    snprintf(fresh, sizeof fresh, "%s/journal-b", f->dir);
    sl_journal_t *b = s_open(fresh, 0);
    assert_non_null(b);
    assert_string_not_equal(sl_journal_id(b), saved);
    sl_journal_close(&b);
}

#define S_THREADS 8
#define S_PER_THREAD 500

typedef struct {
    sl_journal_t *j;
    int id;
    uint64_t seqs[S_PER_THREAD];
    int rc;
} s_worker_t;

static void *s_worker(void *arg)
{
    s_worker_t *w = arg;
    char buf[32];
    for (int i = 0; i < S_PER_THREAD; i++) {
        snprintf(buf, sizeof buf, "%d:%d", w->id, i);
        sl_slice_t e[2] = {{buf, (uint32_t)strlen(buf)}, {buf, (uint32_t)strlen(buf)}};
        int rc = sl_journal_append(w->j, e, 2, &w->seqs[i]);
        if (rc) {
            w->rc = rc;
            break;
        }
    }
    return NULL;
}

typedef struct {
    int per_thread_next[S_THREADS];
    uint64_t last;
    int n;
    int bad;
} s_check_t;

static int s_check(void *arg, uint64_t seq, int64_t time_us, const void *data, size_t len)
{
    s_check_t *c = arg;
    char buf[32];
    if (len >= sizeof buf || seq != c->last + 1) {
        c->bad = 1;
        return 1;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    int t = -1, i = -1;
    if (sscanf(buf, "%d:%d", &t, &i) != 2 || t < 0 || t >= S_THREADS) {
        c->bad = 1;
        return 1;
    }
    /* each entry twice in a row, each thread's entries in its order */
    int want = c->per_thread_next[t] / 2;
    if (i != want) {
        c->bad = 1;
        return 1;
    }
    c->per_thread_next[t]++;
    c->last = seq;
    c->n++;
    return 0;
}

/*  Group commit: concurrent appenders each get consecutive sequences, all
    of them are durable and in order, and (with fsync on) commits are
    shared. */
static void test_group_commit_threads(void **state)
{
    s_fix_t *f = *state;
    /* reopen with fsync on: that is what group commit is for */
    sl_journal_close(&f->j);
    char err[256] = "";
    sl_journal_opts_t o = {.path = f->path};
    f->j = sl_journal_open(&o, err, sizeof err);
    assert_non_null(f->j);

    pthread_t th[S_THREADS];
    s_worker_t *ws = calloc(S_THREADS, sizeof *ws);
    int64_t t0 = sl_mono_us();
    for (int i = 0; i < S_THREADS; i++) {
        ws[i].j = f->j;
        ws[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, s_worker, &ws[i]), 0);
    }
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ws[i].rc, SL_OK);
        for (int k = 1; k < S_PER_THREAD; k++) {
            assert_true(ws[i].seqs[k] > ws[i].seqs[k - 1]);
        }
    }
    int64_t dt = sl_mono_us() - t0;
    free(ws);
    assert_int_equal(sl_journal_last(f->j), S_THREADS * S_PER_THREAD * 2);
    s_check_t c = {0};
    assert_int_equal(sl_journal_read(f->j, 0, 1 << 30, s_check, &c), S_THREADS * S_PER_THREAD * 2);
    assert_false(c.bad);
    fprintf(stderr, "group commit: %d appends from %d threads in %.1f ms\n",
            S_THREADS * S_PER_THREAD, S_THREADS, (double)dt / 1000.0);
}

/*  A full map refuses the group and leaves the journal usable. */
static void test_map_full(void **state)
{
    s_fix_t *f = *state;
    sl_journal_close(&f->j);
    s_rmrf(f->path);
    f->j = s_open(f->path, 256 * 1024);
    assert_non_null(f->j);
    static char big[8192];
    memset(big, 'x', sizeof big);
    sl_slice_t e = {big, sizeof big};
    int rc = SL_OK;
    uint64_t ok = 0;
    for (int i = 0; i < 1000 && rc == SL_OK; i++) {
        rc = sl_journal_append(f->j, &e, 1, NULL);
        if (rc == SL_OK) {
            ok++;
        }
    }
    assert_int_equal(rc, SL_EFULL);
    assert_true(ok > 0);
    assert_int_equal(sl_journal_last(f->j), ok);
    /* trimming makes room again */
    uint64_t removed = 0;
    assert_int_equal(sl_journal_trim(f->j, ok, sl_now_us() + 1000000, 1000, &removed), SL_OK);
    assert_int_equal(removed, ok);
    /* LMDB reuses freed pages one commit later */
    assert_int_equal(sl_journal_cursor_set(f->j, "in", ok), SL_OK);
    assert_int_equal(sl_journal_cursor_set(f->j, "in", ok), SL_OK);
    assert_int_equal(sl_journal_append(f->j, &e, 1, NULL), SL_OK);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[256] = "";
    sl_journal_opts_t o = {.path = "/dev/null/journal"};
    assert_null(sl_journal_open(&o, err, sizeof err));
    assert_true(strstr(err, "/dev/null") != NULL);
    sl_journal_opts_t none = {0};
    assert_null(sl_journal_open(&none, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_wait, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cursor_replay_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_trim, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_confirm_flush_trim, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_registry_refs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_threads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_full, s_setup, s_teardown),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
