/*  Logger: every line is one JSON object, messages are escaped, the level
    filter holds, fields are appended, and lines from many threads never
    interleave. Output goes to a pipe via sl_log_set_fd. */
#include <fcntl.h>
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
#include <jansson.h>

#include "sluice/common.h"
#include "sluice/log.h"

typedef struct {
    int rd;
    int wr;
} s_pipe_t;

static int s_setup(void **state)
{
    s_pipe_t *p = calloc(1, sizeof *p);
    int fds[2];
    if (!p || pipe(fds) != 0) {
        free(p);
        return -1;
    }
    p->rd = fds[0];
    p->wr = fds[1];
    /* Non-blocking reads so a test that expects nothing does not hang. */
    fcntl(p->rd, F_SETFL, fcntl(p->rd, F_GETFL) | O_NONBLOCK);
    sl_log_set_fd(p->wr);
    sl_log_set_level(SL_LOG_INFO);
    sl_log_set_node(NULL);
    *state = p;
    return 0;
}

static int s_teardown(void **state)
{
    s_pipe_t *p = *state;
    sl_log_set_fd(2);
    sl_log_set_level(SL_LOG_INFO);
    sl_log_set_node(NULL);
    close(p->rd);
    close(p->wr);
    free(p);
    return 0;
}

/*  Everything written so far (the writer is synchronous: write(2) returned). */
static char *s_drain(s_pipe_t *p)
{
    sl_buf_t b = {0};
    char chunk[4096];
    for (;;) {
        ssize_t n = read(p->rd, chunk, sizeof chunk);
        if (n <= 0) {
            break;
        }
        assert_int_equal(sl_buf_append(&b, chunk, (size_t)n), 0);
    }
    assert_int_equal(sl_buf_append(&b, "", 1), 0);
    return (char *)b.data;
}

/*  Parse exactly one line; the text must end in its newline. */
static json_t *s_one_line(s_pipe_t *p)
{
    char *text = s_drain(p);
    size_t n = strlen(text);
    assert_true(n > 0);
    assert_int_equal(text[n - 1], '\n');
    assert_null(memchr(text, '\n', n - 1));
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j) {
        fail_msg("not JSON (%s): %s", err.text, text);
    }
    assert_true(json_is_object(j));
    free(text);
    return j;
}

static void test_basic_line(void **state)
{
    s_pipe_t *p = *state;
    sl_log_set_node("a");
    sl_log(SL_LOG_INFO, "gen", NULL, "started %d workers", 3);
    json_t *j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "node")), "a");
    assert_string_equal(json_string_value(json_object_get(j, "actor")), "gen");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "started 3 workers");
    /* 2026-11-25T08:00:00.123456Z */
    const char *t = json_string_value(json_object_get(j, "time"));
    assert_non_null(t);
    assert_int_equal(strlen(t), 27);
    assert_int_equal(t[4], '-');
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[19], '.');
    assert_int_equal(t[26], 'Z');
    /* key order as documented */
    const char *keys[] = {"time", "level", "node", "actor", "message"};
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(j, k, v)
    {
        (void)v;
        assert_true(i < 5);
        assert_string_equal(k, keys[i]);
        i++;
    }
    json_decref(j);
}

static void test_null_actor_fields_node(void **state)
{
    s_pipe_t *p = *state;
    sl_log(SL_LOG_WARN, NULL, NULL, "plain");
    json_t *j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_null(json_object_get(j, "actor"));
    assert_null(json_object_get(j, "node"));
    assert_string_equal(json_string_value(json_object_get(j, "message")), "plain");
    json_decref(j);

    sl_log(SL_LOG_ERROR, NULL, "", NULL);
    j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "message")), "");
    json_decref(j);
}

static void test_escaping(void **state)
{
    s_pipe_t *p = *state;
    const char *nasty = "quote\" back\\slash\nnew\tline\r\x01 ctrl é";
    sl_log(SL_LOG_INFO, "we\"ird\nactor", NULL, "%s", nasty);
    sl_log_set_node("n\"ode");
    json_t *j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "message")), nasty);
    assert_string_equal(json_string_value(json_object_get(j, "actor")), "we\"ird\nactor");
    json_decref(j);

    sl_log(SL_LOG_INFO, NULL, NULL, "x");
    j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "node")), "n\"ode");
    json_decref(j);

    /* invalid UTF-8 from outside input still gives a valid JSON line */
    sl_log(SL_LOG_INFO, NULL, NULL, "bad \xff\xfe utf8 \xc3");
    j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "message")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd");
    json_decref(j);
}

static void test_level_filter(void **state)
{
    s_pipe_t *p = *state;
    sl_debug("a", "hidden by default");
    char *text = s_drain(p);
    assert_string_equal(text, "");
    free(text);

    sl_log_set_level(SL_LOG_WARN);
    sl_info("a", "hidden");
    sl_warn("a", "shown");
    sl_error("a", "shown too");
    text = s_drain(p);
    assert_null(strstr(text, "hidden"));
    char *second = strchr(text, '\n');
    assert_non_null(second);
    assert_non_null(strstr(text, "\"level\":\"warn\""));
    assert_non_null(strstr(second, "\"level\":\"error\""));
    free(text);

    sl_log_set_level(SL_LOG_DEBUG);
    sl_debug("a", "now shown");
    json_t *j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "debug");
    json_decref(j);

    sl_log_level_t lv = SL_LOG_INFO;
    assert_int_equal(sl_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, SL_LOG_DEBUG);
    assert_int_equal(sl_log_level_parse("error", &lv), 0);
    assert_int_equal(lv, SL_LOG_ERROR);
    assert_int_equal(sl_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, SL_LOG_WARN);
    assert_int_equal(sl_log_level_parse("info", &lv), 0);
    assert_int_equal(lv, SL_LOG_INFO);
    assert_int_equal(sl_log_level_parse("loud", &lv), SL_EINVAL);
    assert_int_equal(sl_log_level_parse(NULL, &lv), SL_EINVAL);
    assert_int_equal(lv, SL_LOG_INFO);
}

static void test_fields(void **state)
{
    s_pipe_t *p = *state;
    sl_log(SL_LOG_INFO, "store", "\"count\":3,\"path\":\"x\"", "committed");
    json_t *j = s_one_line(p);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "x");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "committed");
    json_decref(j);
}

static void test_long_line(void **state)
{
    s_pipe_t *p = *state;
    /* Longer than both stack buffers: exercises the heap fallback. Kept
       under the pipe's capacity so the write does not block. */
    size_t n = 20000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) {
        big[i] = (i % 50 == 0) ? '"' : (char)('a' + i % 26);
    }
    big[n] = '\0';
    sl_log(SL_LOG_INFO, "a", "\"n\":1", "%s", big);
    json_t *j = s_one_line(p);
    assert_string_equal(json_string_value(json_object_get(j, "message")), big);
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 1);
    json_decref(j);
    free(big);
}

/*  Several threads log at once while the test thread reads the pipe; every
    line must parse and every message must arrive exactly once. */
#define S_THREADS 4
#define S_LINES 500

static void *s_logger(void *arg)
{
    int id = (int)(intptr_t)arg;
    char pad[6000]; /* some lines exceed PIPE_BUF */
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < S_LINES; i++) {
        size_t plen = (i % 7 == 0) ? sizeof pad - 1 : (size_t)(i % 40);
        char fields[64];
        snprintf(fields, sizeof fields, "\"t\":%d,\"i\":%d", id, i);
        sl_log(SL_LOG_INFO, "conc", fields, "line %d of %d %.*s", i, id, (int)plen, pad);
    }
    return NULL;
}

static void test_concurrent_lines(void **state)
{
    s_pipe_t *p = *state;
    pthread_t th[S_THREADS];
    for (int t = 0; t < S_THREADS; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, s_logger, (void *)(intptr_t)t), 0);
    }
    /* Read concurrently: the pipe would fill up otherwise. Blocking reads
       end at EOF, which comes once the writers are done and we close. */
    fcntl(p->rd, F_SETFL, fcntl(p->rd, F_GETFL) & ~O_NONBLOCK);
    int seen[S_THREADS][S_LINES];
    memset(seen, 0, sizeof seen);
    sl_buf_t acc = {0};
    int total = 0;
    while (total < S_THREADS * S_LINES) {
        char chunk[8192];
        ssize_t n = read(p->rd, chunk, sizeof chunk);
        if (n <= 0) {
            break;
        }
        assert_int_equal(sl_buf_append(&acc, chunk, (size_t)n), 0);
        /* Parse the complete lines we have. */
        size_t start = 0;
        for (size_t i = 0; i < acc.len; i++) {
            if (acc.data[i] != '\n') {
                continue;
            }
            json_error_t err;
            json_t *j = json_loadb((const char *)acc.data + start, i - start, 0, &err);
            if (!j) {
                fail_msg("interleaved or invalid line (%s): %.*s", err.text, (int)(i - start),
                         (const char *)acc.data + start);
            }
            int t = (int)json_integer_value(json_object_get(j, "t"));
            int k = (int)json_integer_value(json_object_get(j, "i"));
            assert_in_range(t, 0, S_THREADS - 1);
            assert_in_range(k, 0, S_LINES - 1);
            seen[t][k]++;
            total++;
            json_decref(j);
            start = i + 1;
        }
        memmove(acc.data, acc.data + start, acc.len - start);
        acc.len -= start;
    }
    for (int t = 0; t < S_THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    assert_int_equal(total, S_THREADS * S_LINES);
    assert_int_equal(acc.len, 0);
    for (int t = 0; t < S_THREADS; t++) {
        for (int k = 0; k < S_LINES; k++) {
            assert_int_equal(seen[t][k], 1);
        }
    }
    sl_buf_free(&acc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_null_actor_fields_node, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_escaping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fields, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_long_line, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_lines, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
