/*  Store: applying every kind of event and its change records,
    idempotency, tenancy, cursors, dead letters, map full, reads. Each test
    uses its own directory under /tmp, removed at the end. */
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
#include "sluice/event.h"
#include "sluice/log.h"
#include "sluice/mpjson.h"
#include "sluice/store.h"

typedef struct {
    char dir[64];
    sl_store_t *s;
} s_fix_t;

static void s_rmrf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static sl_store_t *s_open(const char *dir, int isolated, const char *const *tenants,
                          int64_t map_size)
{
    char err[256] = "";
    sl_store_opts_t o = {
        .path = dir, .isolated = isolated, .tenants = tenants, .map_size = map_size, .nosync = 1};
    sl_store_t *s = sl_store_open(&o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
    }
    return s;
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sl_store_XXXXXX");
    if (!mkdtemp(f->dir)) {
        return -1;
    }
    f->s = s_open(f->dir, 0, NULL, 0);
    *state = f;
    return f->s ? 0 : -1;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    sl_store_close(&f->s);
    s_rmrf(f->dir);
    free(f);
    return 0;
}

/*  An event from JSON text: body as given, a fresh id unless `id` given. */
typedef struct {
    sl_event_t ev;
    sl_buf_t scratch;
} s_ev_t;

static void s_ev(s_ev_t *e, const char *tenant, const char *kind, const char *body)
{
    char json[4096], err[256];
    snprintf(json, sizeof json,
             "{\"tenant\":\"%s\",\"kind\":\"%s\",\"source\":\"test\",\"time\":"
             "\"2026-11-25T08:00:00Z\",\"body\":%s}",
             tenant, kind, body);
    int rc = sl_event_from_json(json, strlen(json), &e->ev, &e->scratch, err, sizeof err);
    if (rc != SL_OK) {
        fprintf(stderr, "event: %s\n", err);
    }
    assert_int_equal(rc, SL_OK);
}

/*  Apply one event in its own batch; returns the result. */
static sl_apply_t s_apply1(sl_store_t *s, const char *tenant, const char *kind, const char *body,
                           char *reason, size_t reasonlen)
{
    s_ev_t e = {0};
    sl_store_batch_t *b;
    sl_apply_t r;
    s_ev(&e, tenant, kind, body);
    assert_int_equal(sl_store_batch_begin(s, &b), SL_OK);
    assert_int_equal(sl_store_apply(b, &e.ev, &r, reason, reasonlen), SL_OK);
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    sl_buf_free(&e.scratch);
    return r;
}

static sl_apply_t s_apply(sl_store_t *s, const char *tenant, const char *kind, const char *body)
{
    return s_apply1(s, tenant, kind, body, NULL, 0);
}

typedef struct {
    json_t *recs;
} s_collect_t;

static int s_collect_fn(void *arg, uint64_t seq, const sl_event_t *ev)
{
    s_collect_t *c = arg;
    json_t *rec = sl_msgpack_to_jansson((const uint8_t *)ev->body.ptr, ev->body.len);
    assert_non_null(rec);
    assert_int_equal(json_integer_value(json_object_get(rec, "seq")), (json_int_t)seq);
    assert_true(sl_slice_eq(ev->kind, "change"));
    json_array_append_new(c->recs, rec);
    return 0;
}

/*  The tenant's change records after `after` as a JSON array. */
static json_t *s_changes(sl_store_t *s, const char *tenant, uint64_t after)
{
    s_collect_t c = {json_array()};
    int n = sl_store_changes(s, tenant, after, 0, s_collect_fn, &c);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, json_array_size(c.recs));
    return c.recs;
}

static void test_asset_upsert(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(s_apply(f->s, "acme", "asset.upsert",
                             "{\"qualified_name\":\"db/t1\",\"type\":\"table\",\"name\":\"t1\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(
        s_apply(f->s, "acme", "asset.upsert", "{\"qualified_name\":\"db/t1\",\"type\":\"table\"}"),
        SL_APPLY_NOOP);
    assert_int_equal(
        s_apply(f->s, "acme", "asset.upsert",
                "{\"qualified_name\":\"db/t1\",\"description\":\"orders\",\"name\":\"t1\"}"),
        SL_APPLY_CHANGED);
    json_t *recs = s_changes(f->s, "acme", 0);
    assert_int_equal(json_array_size(recs), 2);
    json_t *exp =
        json_loads("[{\"seq\":1,\"entity\":\"asset\",\"key\":\"db/t1\",\"op\":\"create\","
                   "\"changes\":{\"type\":{\"before\":null,\"after\":\"table\"},"
                   "\"name\":{\"before\":null,\"after\":\"t1\"}}},"
                   "{\"seq\":2,\"entity\":\"asset\",\"key\":\"db/t1\",\"op\":\"update\","
                   "\"changes\":{\"description\":{\"before\":null,\"after\":\"orders\"}}}]",
                   0, NULL);
    for (size_t i = 0; i < 2; i++) {
        json_t *r = json_array_get(recs, i), *e = json_array_get(exp, i);
        const char *k;
        json_t *v;
        json_object_foreach(e, k, v)
        {
            assert_true(json_equal(json_object_get(r, k), v));
        }
        assert_string_equal(json_string_value(json_object_get(r, "tenant")), "acme");
    }
    json_decref(exp);
    json_decref(recs);
    uint64_t seq;
    assert_int_equal(sl_store_last_seq(f->s, "acme", &seq), SL_OK);
    assert_int_equal(seq, 2);
}

static void test_cursors_reopen(void **state)
{
    s_fix_t *f = *state;
    uint64_t seq = 9;
    assert_int_equal(sl_store_cursor_get(f->s, "acme", "walker", &seq), SL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(sl_store_cursor_set(f->s, "acme", "walker", 42), SL_OK);
    sl_store_close(&f->s);
    f->s = s_open(f->dir, 0, NULL, 0);
    assert_non_null(f->s);
    assert_int_equal(sl_store_cursor_get(f->s, "acme", "walker", &seq), SL_OK);
    assert_int_equal(seq, 42);
    assert_int_equal(sl_store_cursor_get(f->s, "other", "walker", &seq), SL_OK);
    assert_int_equal(seq, 0);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_asset_upsert, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cursors_reopen, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
