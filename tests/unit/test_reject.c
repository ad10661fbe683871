/*  Rejection helper: every rejection counted, at most log_per_sec logged
    one by one in a second and the rest summarised at close, dead letters
    written to a real temporary store (opened first by the test, as the
    store actor would), and a store that cannot be opened tried once. */
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
#include "sluice/event.h"
#include "sluice/log.h"
#include "sluice/reject.h"
#include "sluice/store.h"

typedef struct {
    char dir[64];
    char logpath[80];
    FILE *log;
    sl_store_t *store;
    sl_event_t ev;
    sl_buf_t scratch;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    if (!f) {
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/sl_reject_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->logpath, sizeof f->logpath, "%s.log", f->dir);
    f->log = fopen(f->logpath, "w+");
    char err[256] = "";
    sl_store_opts_t o = {.path = f->dir, .nosync = 1};
    f->store = sl_store_open(&o, err, sizeof err);
    static const char json[] = "{\"tenant\":\"acme\",\"kind\":\"tag.set\",\"source\":\"test\","
                               "\"time\":\"2026-11-25T08:00:00Z\",\"body\":{\"asset\":\"a\"}}";
    int rc = sl_event_from_json(json, strlen(json), &f->ev, &f->scratch, err, sizeof err);
    *state = f;
    if (!f->log || !f->store || rc != SL_OK) {
        return -1;
    }
    sl_log_set_fd(fileno(f->log));
    sl_log_set_level(SL_LOG_INFO);
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[200];
    sl_log_set_fd(2);
    sl_store_close(&f->store);
    sl_buf_free(&f->scratch);
    if (f->log) {
        fclose(f->log);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", f->dir, f->logpath);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/*  Lines of the log so far that contain `text`. */
static int s_log_count(s_fix_t *f, const char *text)
{
    char line[4096];
    int n = 0;
    rewind(f->log);
    while (fgets(line, sizeof line, f->log)) {
        n += strstr(line, text) != NULL;
    }
    fseek(f->log, 0, SEEK_END);
    return n;
}

static int s_count_dl(void *arg, const sl_dead_letter_t *dl)
{
    int *n = arg;
    assert_string_equal(dl->actor, "check");
    assert_non_null(strstr(dl->reason, "body.tag: missing"));
    (*n)++;
    return 0;
}

static void test_counts_and_rate_limit(void **state)
{
    s_fix_t *f = *state;
    sl_reject_t r;
    /*  Ten rejections inside one second: three logged, seven summarised.
        Retried (bounded) when the batch happened to straddle a second. */
    int tries = 0;
    for (;;) {
        assert_true(++tries <= 20);
        assert_int_equal(ftruncate(fileno(f->log), 0), 0);
        rewind(f->log);
        sl_reject_init(&r, "check", f->dir, "rejected");
        r.log_per_sec = 3;
        int64_t sec = sl_mono_us() / 1000000;
        for (int i = 0; i < 10; i++) {
            assert_int_equal(sl_reject_event(&r, &f->ev, "body.tag: missing"), SL_OK);
        }
        int same = sl_mono_us() / 1000000 == sec;
        sl_reject_close(&r);
        assert_null(r.store);
        if (same) {
            break;
        }
    }
    assert_int_equal(r.rejected, 10);
    assert_int_equal(r.dead_letters, 10);
    assert_int_equal(r.dead_letter_errors, 0);
    assert_int_equal(s_log_count(f, "\"message\":\"rejected "), 3);
    assert_int_equal(s_log_count(f, "\"reason\":\"body.tag: missing\""), 3);
    assert_int_equal(s_log_count(f, "7 more events rejected (not logged one by one)"), 1);
    sl_reject_close(&r); /* twice: nothing more logged */
    assert_int_equal(s_log_count(f, "more events rejected"), 1);

    /*  Every try wrote its ten dead letters to the shared store. */
    int n = 0;
    assert_true(sl_store_dead_letters_each(f->store, NULL, NULL, s_count_dl, &n) >= 0);
    assert_int_equal(n, 10 * tries);
}

static void test_no_store(void **state)
{
    s_fix_t *f = *state;
    sl_reject_t r;
    sl_reject_init(&r, "sink", NULL, "not written");
    assert_int_equal(sl_reject_event(&r, &f->ev, "kind"), SL_OK);
    sl_reject_close(&r);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(r.dead_letters, 0);
    assert_int_equal(s_log_count(f, "\"message\":\"not written "), 1);
}

static void test_store_cannot_open(void **state)
{
    s_fix_t *f = *state;
    sl_reject_t r;
    /*  A regular file where the store directory should be. */
    sl_reject_init(&r, "check", f->logpath, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sl_reject_event(&r, &f->ev, "bad"), SL_OK);
    }
    assert_true(r.store_failed);
    sl_reject_close(&r);
    assert_int_equal(r.rejected, 3);
    assert_int_equal(r.dead_letters, 0);
    assert_int_equal(r.dead_letter_errors, 0);
    assert_int_equal(s_log_count(f, "cannot open store"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_and_rate_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_cannot_open, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
