/*  Dead-letter store: recording (actor, attempts), listing with filters and
    cursors, show, purge (numbers never reused), replay (a fixed event
    leaves, a still-bad one stays with attempts + 1), the per actor and
    reason counts of the metrics. Each test uses its own directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sluice/common.h"
#include "sluice/event.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/store.h"

#include "store_events.h"

typedef struct {
    char dir[64];
    sl_store_t *s;
} s_fix_t;

static sl_store_t *s_open(const char *dir, const char *const *tenants)
{
    char err[256] = "";
    sl_store_opts_t o = {.path = dir, .tenants = tenants, .nosync = 1};
    sl_store_t *s = sl_store_open(&o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
    }
    return s;
}

static const char *const s_acme_only[] = {"acme", NULL};
static const char *const s_both[] = {"acme", "globex", NULL};

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sl_dlq_XXXXXX");
    if (!f || !mkdtemp(f->dir)) {
        return -1;
    }
    f->s = s_open(f->dir, s_acme_only);
    *state = f;
    return f->s ? 0 : -1;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[128];
    sl_store_close(&f->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/*  Apply in one batch named `actor`; returns the result. */
static sl_apply_t s_apply(sl_store_t *s, const char *actor, const char *tenant, const char *kind,
                          const char *body)
{
    s_ev_t e = {0};
    sl_store_batch_t *b;
    sl_apply_t r;
    s_ev(&e, tenant, kind, body);
    assert_int_equal(sl_store_batch_begin(s, &b), SL_OK);
    sl_store_batch_set_actor(b, actor);
    assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    sl_buf_free(&e.scratch);
    return r;
}

static json_t *s_list(sl_store_t *s, const sl_dead_filter_t *f, const char *cursor)
{
    sl_buf_t b = {0};
    assert_int_equal(sl_store_dead_letters_list_json(s, f, cursor, &b), SL_OK);
    json_t *d = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_non_null(d);
    sl_buf_free(&b);
    return d;
}

/*  The ids of a list, space separated. */
static void s_ids(json_t *d, char *out, size_t len)
{
    size_t i;
    json_t *it;
    out[0] = 0;
    json_array_foreach(json_object_get(d, "items"), i, it)
    {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? " " : "",
                 json_string_value(json_object_get(it, "id")));
    }
}

static void s_ids_are(sl_store_t *s, const sl_dead_filter_t *f, const char *want)
{
    char got[512];
    json_t *d = s_list(s, f, NULL);
    s_ids(d, got, sizeof got);
    assert_string_equal(got, want);
    json_decref(d);
}

/*  acme/1 tag.set without a tag (store), acme/2 unknown kind (store),
    globex/1 tenant not allowed (store), acme/3 a valid event rejected by
    "schema_check", acme/4 by "transform". */
static void s_fill(sl_store_t *s)
{
    s_ev_t e = {0};
    assert_int_equal(s_apply(s, "catalog", "acme", "tag.set", "{\"qualified_name\":\"a\"}"),
                     SL_APPLY_DEAD);
    assert_int_equal(s_apply(s, "catalog", "acme", "asset.explode", "{\"qualified_name\":\"a\"}"),
                     SL_APPLY_DEAD);
    assert_int_equal(s_apply(s, "catalog", "globex", "asset.upsert",
                             "{\"qualified_name\":\"g\",\"type\":\"t\"}"),
                     SL_APPLY_DEAD);
    s_ev(&e, "acme", "asset.upsert", "{\"qualified_name\":\"b\",\"type\":\"table\"}");
    assert_int_equal(sl_store_dead_letter_from(s, &e.ev, "schema_check",
                                               "body.severity: must be one of SEV-1, SEV-2"),
                     SL_OK);
    sl_buf_free(&e.scratch);
    s_ev(&e, "acme", "asset.upsert", "{\"qualified_name\":\"c\",\"type\":\"table\"}");
    assert_int_equal(sl_store_dead_letter_from(s, &e.ev, "transform", "route: no output 'x'"),
                     SL_OK);
    sl_buf_free(&e.scratch);
}

static void test_record_list_show(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    s_fill(f->s);

    s_ids_are(f->s, NULL, "acme/1 acme/2 acme/3 acme/4 globex/1");
    s_ids_are(f->s, &(sl_dead_filter_t){.tenant = "globex"}, "globex/1");
    s_ids_are(f->s, &(sl_dead_filter_t){.actor = "catalog"}, "acme/1 acme/2 globex/1");
    s_ids_are(f->s, &(sl_dead_filter_t){.actor = "schema_check"}, "acme/3");
    s_ids_are(f->s, &(sl_dead_filter_t){.tenant = "acme", .reason = "unknown kind"}, "acme/2");
    s_ids_are(f->s, &(sl_dead_filter_t){.reason = "no such text"}, "");
    s_ids_are(f->s, &(sl_dead_filter_t){.since_us = sl_now_us() + 60000000}, "");
    s_ids_are(f->s, &(sl_dead_filter_t){.until_us = sl_now_us() - 60000000}, "");
    s_ids_are(f->s, &(sl_dead_filter_t){.since_us = sl_now_us() - 60000000},
              "acme/1 acme/2 acme/3 acme/4 globex/1");

    /*  Pages: the cursor is the last id; null at the end. */
    sl_dead_filter_t two = {.limit = 2};
    json_t *d = s_list(f->s, &two, NULL);
    char ids[256];
    s_ids(d, ids, sizeof ids);
    assert_string_equal(ids, "acme/1 acme/2");
    assert_string_equal(json_string_value(json_object_get(d, "next_cursor")), "acme/2");
    json_decref(d);
    d = s_list(f->s, &two, "acme/2");
    s_ids(d, ids, sizeof ids);
    assert_string_equal(ids, "acme/3 acme/4");
    json_decref(d);
    d = s_list(f->s, &(sl_dead_filter_t){.limit = 10}, "acme/4");
    s_ids(d, ids, sizeof ids);
    assert_string_equal(ids, "globex/1");
    assert_true(json_is_null(json_object_get(d, "next_cursor")));
    json_decref(d);
    assert_int_equal(sl_store_dead_letters_list_json(f->s, NULL, "no-slash", &b), SL_EINVAL);

    /*  Show: every field; the event as its JSON form. */
    assert_int_equal(sl_store_dead_letter_json(f->s, "acme", 1, &b), SL_OK);
    d = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "id")), "acme/1");
    assert_string_equal(json_string_value(json_object_get(d, "actor")), "catalog");
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(d, "reason")),
                        "tag.set: body.tag: missing (expected a non-empty string)");
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "event"), "kind")),
                        "tag.set");
    assert_non_null(json_string_value(json_object_get(d, "time")));
    json_decref(d);
    sl_buf_reset(&b);
    assert_int_equal(sl_store_dead_letter_json(f->s, "acme", 99, &b), SL_ENOTFOUND);
    assert_int_equal(sl_store_dead_letter_json(f->s, "nobody", 1, &b), SL_ENOTFOUND);

    /*  The old API writes actor "store"; the old reader still works. */
    s_ev_t e = {0};
    s_ev(&e, "acme", "tag.set", "{}");
    assert_int_equal(sl_store_dead_letter(f->s, &e.ev, "old api"), SL_OK);
    sl_buf_free(&e.scratch);
    s_ids_are(f->s, &(sl_dead_filter_t){.actor = "store"}, "acme/5");
    assert_int_equal(sl_store_dead_letters_json(f->s, "acme", 10, &b), SL_OK);
    d = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 5);
    json_decref(d);
    sl_buf_free(&b);
}

static void test_purge(void **state)
{
    s_fix_t *f = *state;
    uint64_t n = 99;
    sl_buf_t b = {0};
    s_fill(f->s);
    assert_int_equal(
        sl_store_dead_letters_purge(f->s, &(sl_dead_filter_t){.reason = "nothing like it"}, &n),
        SL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(sl_store_dead_letters_purge(
                         f->s, &(sl_dead_filter_t){.tenant = "acme", .actor = "catalog"}, &n),
                     SL_OK);
    assert_int_equal(n, 2);
    s_ids_are(f->s, NULL, "acme/3 acme/4 globex/1");
    /*  Purge the newest: its number is not given out again. */
    assert_int_equal(sl_store_dead_letters_purge(f->s, &(sl_dead_filter_t){.tenant = "acme"}, &n),
                     SL_OK);
    assert_int_equal(n, 2);
    s_ids_are(f->s, NULL, "globex/1");
    s_ev_t e = {0};
    s_ev(&e, "acme", "tag.set", "{}");
    assert_int_equal(sl_store_dead_letter_from(f->s, &e.ev, "x", "again"), SL_OK);
    sl_buf_free(&e.scratch);
    s_ids_are(f->s, NULL, "acme/5 globex/1");
    /*  Stats count the dead letters, not the last number. */
    assert_int_equal(sl_store_stats_json(f->s, &b), SL_OK);
    json_t *d = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(d, "tenants"), "acme"), "dead_letters")),
                     1);
    json_decref(d);
    sl_buf_free(&b);
    /*  All. */
    assert_int_equal(sl_store_dead_letters_purge(f->s, NULL, &n), SL_OK);
    assert_int_equal(n, 2);
    s_ids_are(f->s, NULL, "");
}

static void test_replay(void **state)
{
    s_fix_t *f = *state;
    sl_dead_replay_t r;
    sl_buf_t b = {0};
    s_fill(f->s);

    /*  Nothing fixed yet: the store's own dead letters fail again; the
        schema_check and transform ones are valid for the store. */
    assert_int_equal(
        sl_store_dead_letters_replay(f->s, &(sl_dead_filter_t){.actor = "catalog"}, &r), SL_OK);
    assert_int_equal(r.selected, 3);
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.still_dead, 3);
    assert_int_equal(sl_store_dead_letter_json(f->s, "acme", 2, &b), SL_OK);
    json_t *d = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 2);
    assert_string_equal(json_string_value(json_object_get(d, "reason")),
                        "unknown kind 'asset.explode'");
    json_decref(d);
    sl_buf_reset(&b);

    /*  The tenant is allowed now: the fixed event applies and leaves; the
        still-bad ones stay with attempts 3. */
    sl_store_close(&f->s);
    assert_non_null(f->s = s_open(f->dir, s_both));
    assert_int_equal(
        sl_store_dead_letters_replay(f->s, &(sl_dead_filter_t){.actor = "catalog"}, &r), SL_OK);
    assert_int_equal(r.selected, 3);
    assert_int_equal(r.applied, 1);
    assert_int_equal(r.still_dead, 2);
    s_ids_are(f->s, NULL, "acme/1 acme/2 acme/3 acme/4");
    assert_int_equal(sl_store_asset_json(f->s, "globex", "g", &b), SL_OK);
    sl_buf_reset(&b);
    uint64_t last = 0;
    assert_int_equal(sl_store_last_seq(f->s, "globex", &last), SL_OK);
    assert_int_equal(last, 1);
    assert_int_equal(sl_store_dead_letter_json(f->s, "acme", 1, &b), SL_OK);
    d = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 3);
    json_decref(d);
    sl_buf_reset(&b);

    /*  Rejected by other actors, valid for the store: applied. */
    assert_int_equal(sl_store_dead_letters_replay(
                         f->s, &(sl_dead_filter_t){.actor = "schema_check", .limit = 1}, &r),
                     SL_OK);
    assert_int_equal(r.applied, 1);
    assert_int_equal(sl_store_asset_json(f->s, "acme", "b", &b), SL_OK);
    sl_buf_reset(&b);
    s_ids_are(f->s, NULL, "acme/1 acme/2 acme/4");

    /*  The same event applied by another way first: a duplicate, removed,
        and the store unchanged. */
    json_t *tr = s_list(f->s, &(sl_dead_filter_t){.actor = "transform"}, NULL);
    const char *id = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(tr, "items"), 0), "event"), "id"));
    char body[512];
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"tenant\":\"acme\",\"kind\":\"asset.upsert\",\"body\":"
             "{\"qualified_name\":\"c\",\"type\":\"table\"}}",
             id);
    s_ev_t e = {0};
    char err[128];
    memset(&e, 0, sizeof e);
    assert_int_equal(sl_event_from_json(body, strlen(body), &e.ev, &e.scratch, err, sizeof err),
                     SL_OK);
    json_decref(tr);
    sl_store_batch_t *bt;
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    sl_apply_t res;
    assert_int_equal(sl_store_apply(bt, &e.ev, &res, NULL, 0), SL_OK);
    assert_int_equal(res, SL_APPLY_CHANGED);
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    sl_buf_free(&e.scratch);
    assert_int_equal(sl_store_last_seq(f->s, "acme", &last), SL_OK);
    uint64_t before = last;
    assert_int_equal(
        sl_store_dead_letters_replay(f->s, &(sl_dead_filter_t){.actor = "transform"}, &r), SL_OK);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(sl_store_last_seq(f->s, "acme", &last), SL_OK);
    assert_int_equal(last, before);
    s_ids_are(f->s, NULL, "acme/1 acme/2");

    /*  A redelivery of a still-bad event is still a duplicate (its id is
        still recorded), not a second dead letter. */
    json_t *one = s_list(f->s, &(sl_dead_filter_t){.tenant = "acme", .limit = 1}, NULL);
    json_t *ev = json_object_get(json_array_get(json_object_get(one, "items"), 0), "event");
    char *text = json_dumps(ev, JSON_COMPACT);
    assert_int_equal(sl_event_from_json(text, strlen(text), &e.ev, &e.scratch, err, sizeof err),
                     SL_OK);
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    assert_int_equal(sl_store_apply(bt, &e.ev, &res, NULL, 0), SL_OK);
    assert_int_equal(res, SL_APPLY_DUPLICATE);
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    free(text);
    json_decref(one);
    sl_buf_free(&e.scratch);
    s_ids_are(f->s, NULL, "acme/1 acme/2");

    /*  Not with a batch open on this thread. */
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    assert_int_equal(sl_store_dead_letters_replay(f->s, NULL, &r), SL_ESTATE);
    sl_store_batch_abort(&bt);
    sl_buf_free(&b);
}

static void test_metrics(void **state)
{
    s_fix_t *f = *state;
    char cls[64];
    sl_metrics_reason_class("tag.set: body.tag: expected a non-empty string", cls, sizeof cls);
    assert_string_equal(cls, "tag.set: body.tag");
    sl_metrics_reason_class("unknown kind 'x:y'", cls, sizeof cls);
    assert_string_equal(cls, "unknown kind");
    sl_metrics_reason_class("tenant 'globex' not allowed in this store", cls, sizeof cls);
    assert_string_equal(cls, "tenant");
    sl_metrics_reason_class("", cls, sizeof cls);
    assert_string_equal(cls, "other");

    uint64_t tag0 = sl_metrics_dead_letters("catalog", "tag.set: body.tag");
    s_fill(f->s);
    assert_int_equal(sl_metrics_dead_letters("catalog", "tag.set: body.tag"), tag0 + 1);
    assert_true(sl_metrics_dead_letters("catalog", "unknown kind") >= 1);
    assert_true(sl_metrics_dead_letters("schema_check", "body.severity") >= 1);
    /*  An aborted batch counts nothing. */
    uint64_t k0 = sl_metrics_dead_letters("catalog", "unknown kind");
    s_ev_t e = {0};
    sl_store_batch_t *b;
    sl_apply_t r;
    s_ev(&e, "acme", "nope", "{}");
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    sl_store_batch_set_actor(b, "catalog");
    assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
    sl_store_batch_abort(&b);
    sl_buf_free(&e.scratch);
    assert_int_equal(sl_metrics_dead_letters("catalog", "unknown kind"), k0);

    /*  Bounded: past SL_DEAD_REASONS classes per actor, "other". */
    for (int i = 0; i < SL_DEAD_REASONS + 10; i++) {
        char why[64];
        snprintf(why, sizeof why, "field%d: bad", i);
        sl_metrics_dead_letter("noisy", why);
    }
    assert_int_equal(sl_metrics_dead_letters("noisy", "other"), 10);
    assert_int_equal(sl_metrics_dead_letters("noisy", "field0"), 1);

    sl_metrics_t *m = sl_metrics_new();
    sl_buf_t out = {0};
    assert_int_equal(sl_metrics_render(m, &out), SL_OK);
    assert_int_equal(sl_buf_append(&out, "", 1), SL_OK);
    assert_non_null(strstr((const char *)out.data, "# TYPE sluice_dead_letters_total counter\n"));
    assert_non_null(strstr((const char *)out.data,
                           "sluice_dead_letters_total{actor=\"catalog\",reason=\"tenant\"} "));
    assert_non_null(strstr((const char *)out.data,
                           "sluice_dead_letters_total{actor=\"noisy\",reason=\"other\"} 10\n"));
    sl_buf_free(&out);
    sl_metrics_destroy(&m);
}

/*  Isolated: a tenant that is not allowed has its dead letters in the
    environment kept for those; they list after the allowed tenants' and
    replay into the tenant's own environment once it is allowed. */
static void test_isolated(void **state)
{
    s_fix_t *f = *state;
    char err[256];
    char dir[80];
    sl_dead_replay_t r;
    sl_buf_t b = {0};
    snprintf(dir, sizeof dir, "%s/iso", f->dir);
    sl_store_opts_t o = {.path = dir, .isolated = 1, .tenants = s_acme_only, .nosync = 1};
    sl_store_t *s = sl_store_open(&o, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s_apply(s, "catalog", "globex", "asset.upsert",
                             "{\"qualified_name\":\"g\",\"type\":\"t\"}"),
                     SL_APPLY_DEAD);
    assert_int_equal(s_apply(s, "catalog", "acme", "tag.set", "{}"), SL_APPLY_DEAD);
    s_ids_are(s, NULL, "acme/1 globex/1");
    json_t *d = s_list(s, &(sl_dead_filter_t){.limit = 1}, "acme/1");
    char ids[128];
    s_ids(d, ids, sizeof ids);
    assert_string_equal(ids, "globex/1");
    json_decref(d);
    s_ids_are(s, &(sl_dead_filter_t){.tenant = "globex"}, "globex/1");
    sl_store_close(&s);

    o.tenants = s_both;
    assert_non_null(s = sl_store_open(&o, err, sizeof err));
    s_ids_are(s, &(sl_dead_filter_t){.tenant = "globex"}, "globex/1");
    assert_int_equal(sl_store_dead_letters_replay(s, &(sl_dead_filter_t){.tenant = "globex"}, &r),
                     SL_OK);
    assert_int_equal(r.applied, 1);
    assert_int_equal(sl_store_asset_json(s, "globex", "g", &b), SL_OK);
    s_ids_are(s, NULL, "acme/1");
    sl_buf_free(&b);
    sl_store_close(&s);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_list_show, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_purge, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_metrics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_isolated, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
