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
#include <lmdb.h>

#include "sluice/common.h"
#include "sluice/event.h"
#include "sluice/follower.h"
#include "sluice/log.h"
#include "sluice/mpjson.h"
#include "sluice/store.h"

#include "store_events.h"

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

/*  The record's entity/key/op/changes equal the expected JSON text. */
static void s_rec_is(json_t *rec, const char *expect)
{
    json_error_t je;
    json_t *e = json_loads(expect, 0, &je);
    if (!e) {
        fail_msg("bad expectation: %s", je.text);
    }
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v)
    {
        if (!json_equal(json_object_get(rec, k), v)) {
            char *got = json_dumps(rec, JSON_COMPACT);
            fprintf(stderr, "field %s differs\n got: %s\nwant: %s\n", k, got, expect);
            free(got);
            fail();
        }
    }
    json_decref(e);
}

static json_t *s_doc(int rc, sl_buf_t *b)
{
    assert_int_equal(rc, SL_OK);
    json_t *d = json_loadb((const char *)b->data, b->len, 0, NULL);
    assert_non_null(d);
    sl_buf_reset(b);
    return d;
}

static json_t *s_asset(sl_store_t *s, const char *tenant, const char *qn)
{
    sl_buf_t b = {0};
    json_t *d = s_doc(sl_store_asset_json(s, tenant, qn, &b), &b);
    sl_buf_free(&b);
    return d;
}

static uint64_t s_last(sl_store_t *s, const char *tenant)
{
    uint64_t seq = 99;
    assert_int_equal(sl_store_last_seq(s, tenant, &seq), SL_OK);
    return seq;
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
    assert_int_equal(s_apply(f->s, "acme", "asset.upsert",
                             "{\"qualified_name\":\"db/t1\",\"description\":\"orders\","
                             "\"owners\":[\"ann\"],\"attributes\":{\"rows\":3}}"),
                     SL_APPLY_CHANGED);
    json_t *recs = s_changes(f->s, "acme", 0);
    assert_int_equal(json_array_size(recs), 2);
    s_rec_is(json_array_get(recs, 0),
             "{\"seq\":1,\"tenant\":\"acme\",\"entity\":\"asset\",\"key\":\"db/t1\","
             "\"op\":\"create\",\"changes\":{\"type\":{\"before\":null,\"after\":\"table\"},"
             "\"name\":{\"before\":null,\"after\":\"t1\"}}}");
    s_rec_is(json_array_get(recs, 1),
             "{\"seq\":2,\"entity\":\"asset\",\"key\":\"db/t1\",\"op\":\"update\","
             "\"changes\":{\"description\":{\"before\":null,\"after\":\"orders\"},"
             "\"owners\":{\"before\":null,\"after\":[\"ann\"]},"
             "\"attributes\":{\"before\":null,\"after\":{\"rows\":3}}}}");
    const char *eid = json_string_value(json_object_get(json_array_get(recs, 0), "event_id"));
    assert_non_null(eid);
    assert_int_equal(strlen(eid), 36);
    json_decref(recs);
    assert_int_equal(s_last(f->s, "acme"), 2);

    json_t *a = s_asset(f->s, "acme", "db/t1");
    s_rec_is(a, "{\"qualified_name\":\"db/t1\",\"type\":\"table\",\"name\":\"t1\","
                "\"description\":\"orders\",\"owners\":[\"ann\"],\"attributes\":{\"rows\":3},"
                "\"tags\":[],\"version\":2,\"placeholder\":false,"
                "\"created_at\":\"2026-11-25T08:00:00.000000Z\","
                "\"incidents\":{\"open\":[],\"upstream\":[],\"upstream_by_severity\":{}}}");
    json_decref(a);
    sl_buf_t b = {0};
    assert_int_equal(sl_store_asset_json(f->s, "acme", "db/none", &b), SL_ENOTFOUND);
    assert_int_equal(sl_store_asset_json(f->s, "acme", "", &b), SL_EINVAL);
    sl_buf_free(&b);
}

static void test_tags_owners(void **state)
{
    s_fix_t *f = *state;
    /*  A tag on a missing asset makes a placeholder first. */
    assert_int_equal(s_apply(f->s, "acme", "tag.set", "{\"qualified_name\":\"a\",\"tag\":\"pii\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_apply(f->s, "acme", "tag.set", "{\"qualified_name\":\"a\",\"tag\":\"pii\"}"),
                     SL_APPLY_NOOP);
    assert_int_equal(s_apply(f->s, "acme", "tag.set",
                             "{\"qualified_name\":\"a\",\"tag\":\"pii\",\"propagate\":false}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(
        s_apply(f->s, "acme", "owner.set", "{\"qualified_name\":\"a\",\"owners\":[\"bo\",\"cy\"]}"),
        SL_APPLY_CHANGED);
    assert_int_equal(
        s_apply(f->s, "acme", "owner.set", "{\"qualified_name\":\"a\",\"owners\":[\"bo\",\"cy\"]}"),
        SL_APPLY_NOOP);
    json_t *a = s_asset(f->s, "acme", "a");
    s_rec_is(a, "{\"placeholder\":true,\"owners\":[\"bo\",\"cy\"],\"version\":4,"
                "\"tags\":[{\"name\":\"pii\",\"origin\":\"own\",\"sources\":[],"
                "\"set_by\":\"test\",\"set_at\":\"2026-11-25T08:00:00.000000Z\","
                "\"propagate\":false}]}");
    json_decref(a);
    assert_int_equal(
        s_apply(f->s, "acme", "tag.unset", "{\"qualified_name\":\"a\",\"tag\":\"pii\"}"),
        SL_APPLY_CHANGED);
    assert_int_equal(
        s_apply(f->s, "acme", "tag.unset", "{\"qualified_name\":\"a\",\"tag\":\"pii\"}"),
        SL_APPLY_NOOP);
    assert_int_equal(
        s_apply(f->s, "acme", "tag.unset", "{\"qualified_name\":\"zz\",\"tag\":\"pii\"}"),
        SL_APPLY_NOOP);
    json_t *recs = s_changes(f->s, "acme", 0);
    assert_int_equal(json_array_size(recs), 5);
    s_rec_is(json_array_get(recs, 0),
             "{\"seq\":1,\"entity\":\"asset\",\"key\":\"a\",\"op\":\"create\","
             "\"changes\":{\"placeholder\":{\"before\":null,\"after\":true}}}");
    s_rec_is(json_array_get(recs, 1),
             "{\"seq\":2,\"entity\":\"tag\",\"key\":\"a\",\"op\":\"create\","
             "\"changes\":{\"tag\":{\"before\":null,\"after\":\"pii\"},"
             "\"propagate\":{\"before\":null,\"after\":true},"
             "\"set_by\":{\"before\":null,\"after\":\"test\"}}}");
    s_rec_is(json_array_get(recs, 2),
             "{\"seq\":3,\"entity\":\"tag\",\"key\":\"a\",\"op\":\"update\","
             "\"changes\":{\"tag\":{\"before\":\"pii\",\"after\":\"pii\"},"
             "\"propagate\":{\"before\":true,\"after\":false}}}");
    s_rec_is(json_array_get(recs, 3),
             "{\"seq\":4,\"entity\":\"owner\",\"key\":\"a\",\"op\":\"create\","
             "\"changes\":{\"owners\":{\"before\":null,\"after\":[\"bo\",\"cy\"]}}}");
    s_rec_is(json_array_get(recs, 4),
             "{\"seq\":5,\"entity\":\"tag\",\"key\":\"a\",\"op\":\"delete\","
             "\"changes\":{\"tag\":{\"before\":\"pii\",\"after\":null},"
             "\"propagate\":{\"before\":false,\"after\":null},"
             "\"set_by\":{\"before\":\"test\",\"after\":null}}}");
    json_decref(recs);
    /*  A real upsert clears the placeholder flag. */
    assert_int_equal(
        s_apply(f->s, "acme", "asset.upsert", "{\"qualified_name\":\"a\",\"type\":\"view\"}"),
        SL_APPLY_CHANGED);
    recs = s_changes(f->s, "acme", 5);
    s_rec_is(json_array_get(recs, 0),
             "{\"seq\":6,\"op\":\"update\",\"changes\":{\"type\":{\"before\":null,\"after\":"
             "\"view\"},\"placeholder\":{\"before\":true,\"after\":false}}}");
    json_decref(recs);
}

static void test_lineage(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    assert_int_equal(
        s_apply(f->s, "acme", "asset.upsert", "{\"qualified_name\":\"a\",\"type\":\"table\"}"),
        SL_APPLY_CHANGED);
    assert_int_equal(s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"a\",\"to\":\"b\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"a\",\"to\":\"b\"}"),
                     SL_APPLY_NOOP);
    assert_int_equal(
        s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"a\",\"to\":\"b\",\"job\":\"etl\"}"),
        SL_APPLY_CHANGED);
    assert_int_equal(
        s_apply(f->s, "acme", "lineage.edge",
                "{\"from\":\"b\",\"to\":\"c\",\"type\":\"control\",\"propagate\":false}"),
        SL_APPLY_CHANGED);
    json_t *recs = s_changes(f->s, "acme", 1);
    assert_int_equal(json_array_size(recs), 5);
    s_rec_is(json_array_get(recs, 0),
             "{\"seq\":2,\"entity\":\"asset\",\"key\":\"b\",\"op\":\"create\","
             "\"changes\":{\"placeholder\":{\"before\":null,\"after\":true}}}");
    s_rec_is(json_array_get(recs, 1),
             "{\"seq\":3,\"entity\":\"edge\",\"key\":\"a->b\",\"op\":\"create\","
             "\"changes\":{\"from\":{\"before\":null,\"after\":\"a\"},"
             "\"to\":{\"before\":null,\"after\":\"b\"},"
             "\"type\":{\"before\":null,\"after\":\"data\"},"
             "\"propagate\":{\"before\":null,\"after\":true}}}");
    s_rec_is(json_array_get(recs, 2),
             "{\"seq\":4,\"entity\":\"edge\",\"key\":\"a->b\",\"op\":\"update\","
             "\"changes\":{\"from\":{\"before\":\"a\",\"after\":\"a\"},"
             "\"to\":{\"before\":\"b\",\"after\":\"b\"},"
             "\"type\":{\"before\":\"data\",\"after\":\"data\"},"
             "\"job\":{\"before\":null,\"after\":\"etl\"}}}");
    s_rec_is(json_array_get(recs, 3), "{\"seq\":5,\"key\":\"c\",\"entity\":\"asset\"}");
    json_decref(recs);

    json_t *l = s_doc(sl_store_lineage_json(f->s, "acme", "a", SL_DIR_DOWN, 3, 100, &b), &b);
    s_rec_is(l, "{\"root\":\"a\",\"truncated\":false,"
                "\"nodes\":[{\"qualified_name\":\"a\",\"type\":\"table\",\"depth\":0},"
                "{\"qualified_name\":\"b\",\"type\":null,\"depth\":1},"
                "{\"qualified_name\":\"c\",\"type\":null,\"depth\":2}],"
                "\"edges\":[{\"from\":\"a\",\"to\":\"b\",\"type\":\"data\",\"job\":\"etl\","
                "\"propagate\":true},{\"from\":\"b\",\"to\":\"c\",\"type\":\"control\","
                "\"job\":null,\"propagate\":false}]}");
    json_decref(l);
    l = s_doc(sl_store_lineage_json(f->s, "acme", "c", SL_DIR_UP, 1, 100, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "nodes")), 2);
    json_decref(l);
    l = s_doc(sl_store_lineage_json(f->s, "acme", "b", SL_DIR_BOTH, 1, 2, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "nodes")), 2);
    assert_true(json_is_true(json_object_get(l, "truncated")));
    json_decref(l);
    /*  Closures: every edge counts, a cycle is followed once. */
    uint64_t n = 99;
    assert_int_equal(sl_store_closure_count(f->s, "acme", "a", SL_DIR_DOWN, 0, &n), SL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sl_store_closure_count(f->s, "acme", "a", SL_DIR_DOWN, 1, &n), SL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"c\",\"to\":\"a\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(sl_store_closure_count(f->s, "acme", "b", SL_DIR_DOWN, 0, &n), SL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sl_store_closure_count(f->s, "acme", "b", SL_DIR_UP, 2, &n), SL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(s_apply(f->s, "acme", "lineage.edge.delete", "{\"from\":\"c\",\"to\":\"a\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(sl_store_closure_count(f->s, "acme", "nope", SL_DIR_DOWN, 0, &n),
                     SL_ENOTFOUND);
    assert_int_equal(sl_store_closure_count(f->s, "acme", "a", SL_DIR_BOTH, 0, &n), SL_EINVAL);
    assert_int_equal(sl_store_lineage_json(f->s, "acme", "a", SL_DIR_DOWN, 11, 100, &b), SL_EINVAL);
    assert_int_equal(sl_store_lineage_json(f->s, "acme", "nope", SL_DIR_DOWN, 1, 100, &b),
                     SL_ENOTFOUND);

    assert_int_equal(s_apply(f->s, "acme", "lineage.edge.delete", "{\"from\":\"a\",\"to\":\"b\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_apply(f->s, "acme", "lineage.edge.delete", "{\"from\":\"a\",\"to\":\"b\"}"),
                     SL_APPLY_NOOP);
    recs = s_changes(f->s, "acme", 8);
    s_rec_is(json_array_get(recs, 0),
             "{\"seq\":9,\"entity\":\"edge\",\"key\":\"a->b\",\"op\":\"delete\","
             "\"changes\":{\"from\":{\"before\":\"a\",\"after\":null},"
             "\"to\":{\"before\":\"b\",\"after\":null},"
             "\"type\":{\"before\":\"data\",\"after\":null},"
             "\"job\":{\"before\":\"etl\",\"after\":null},"
             "\"propagate\":{\"before\":true,\"after\":null}}}");
    json_decref(recs);
    l = s_doc(sl_store_lineage_json(f->s, "acme", "b", SL_DIR_UP, 3, 100, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "nodes")), 1);
    json_decref(l);
    sl_buf_free(&b);
}

static void test_asset_delete(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    s_apply(f->s, "acme", "asset.upsert", "{\"qualified_name\":\"m\",\"type\":\"table\"}");
    s_apply(f->s, "acme", "tag.set", "{\"qualified_name\":\"m\",\"tag\":\"pii\"}");
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"u\",\"to\":\"m\"}");
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"m\",\"to\":\"d\"}");
    uint64_t before = s_last(f->s, "acme");
    assert_int_equal(s_apply(f->s, "acme", "asset.delete", "{\"qualified_name\":\"m\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_apply(f->s, "acme", "asset.delete", "{\"qualified_name\":\"m\"}"),
                     SL_APPLY_NOOP);
    json_t *recs = s_changes(f->s, "acme", before);
    assert_int_equal(json_array_size(recs), 4);
    s_rec_is(json_array_get(recs, 0), "{\"entity\":\"tag\",\"key\":\"m\",\"op\":\"delete\"}");
    s_rec_is(json_array_get(recs, 1), "{\"entity\":\"edge\",\"key\":\"m->d\",\"op\":\"delete\"}");
    s_rec_is(json_array_get(recs, 2), "{\"entity\":\"edge\",\"key\":\"u->m\",\"op\":\"delete\"}");
    s_rec_is(json_array_get(recs, 3),
             "{\"entity\":\"asset\",\"key\":\"m\",\"op\":\"delete\","
             "\"changes\":{\"type\":{\"before\":\"table\",\"after\":null}}}");
    json_decref(recs);
    assert_int_equal(sl_store_asset_json(f->s, "acme", "m", &b), SL_ENOTFOUND);
    json_t *l = s_doc(sl_store_lineage_json(f->s, "acme", "u", SL_DIR_BOTH, 5, 100, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "nodes")), 1);
    assert_int_equal(json_array_size(json_object_get(l, "edges")), 0);
    json_decref(l);
    l = s_doc(sl_store_lineage_json(f->s, "acme", "d", SL_DIR_BOTH, 5, 100, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "edges")), 0);
    json_decref(l);
    /*  A loop is one edge: deleted and logged once (the upstream edges are
        read after the downstream ones are gone). */
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"loop\",\"to\":\"loop\"}");
    before = s_last(f->s, "acme");
    assert_int_equal(s_apply(f->s, "acme", "asset.delete", "{\"qualified_name\":\"loop\"}"),
                     SL_APPLY_CHANGED);
    recs = s_changes(f->s, "acme", before);
    assert_int_equal(json_array_size(recs), 2);
    s_rec_is(json_array_get(recs, 0),
             "{\"entity\":\"edge\",\"key\":\"loop->loop\",\"op\":\"delete\"}");
    s_rec_is(json_array_get(recs, 1), "{\"entity\":\"asset\",\"key\":\"loop\",\"op\":\"delete\"}");
    json_decref(recs);
    sl_buf_free(&b);
}

/*  Entries of a named database of the shared environment at dir. */
static size_t s_db_entries(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st = {0};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    if (mdb_dbi_open(txn, db, 0, &dbi) == 0) {
        assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

/*  Format 2: every asset has an id named in `names` (gone with the asset,
    a new one when it comes back), edge types have codes (a store takes at
    most 32768 types: the next is a dead letter, not a stuck batch), and a
    store of another format is refused with the reason. */
static void test_ids_and_types(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    char reason[256] = "";
    s_apply(f->s, "acme", "asset.upsert", "{\"qualified_name\":\"m\",\"type\":\"table\"}");
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"u\",\"to\":\"m\",\"job\":\"j1\"}");
    s_apply(f->s, "globex", "lineage.edge", "{\"from\":\"u\",\"to\":\"m\"}");
    assert_int_equal(s_db_entries(f->dir, "names"), 4);
    assert_int_equal(s_apply(f->s, "acme", "asset.delete", "{\"qualified_name\":\"m\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_db_entries(f->dir, "names"), 3);
    assert_int_equal(s_db_entries(f->dir, "lineage_up"), 1); /* globex's */
    /*  Back under a new id: the old edges stay gone, a new one reads back
        with its job both ways. */
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"m\",\"to\":\"u\",\"job\":\"j2\"}");
    json_t *l = s_doc(sl_store_lineage_json(f->s, "acme", "m", SL_DIR_BOTH, 3, 100, &b), &b);
    s_rec_is(l, "{\"edges\":[{\"from\":\"m\",\"to\":\"u\",\"type\":\"data\",\"job\":\"j2\","
                "\"propagate\":true}]}");
    json_decref(l);
    l = s_doc(sl_store_lineage_json(f->s, "acme", "u", SL_DIR_UP, 3, 100, &b), &b);
    s_rec_is(l, "{\"edges\":[{\"from\":\"m\",\"to\":\"u\",\"type\":\"data\",\"job\":\"j2\","
                "\"propagate\":true}]}");
    json_decref(l);

    /*  32768 edge types fill the codes (one batch; "data" has code 0). */
    sl_store_batch_t *bt;
    sl_apply_t r;
    s_ev_t e = {0};
    char body[128];
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    for (int i = 1; i <= 32767; i++) {
        snprintf(body, sizeof body, "{\"from\":\"x\",\"to\":\"y\",\"type\":\"t%d\"}", i);
        s_ev(&e, "acme", "lineage.edge", body);
        assert_int_equal(sl_store_apply(bt, &e.ev, &r, NULL, 0), SL_OK);
        assert_int_equal(r, SL_APPLY_CHANGED);
    }
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    sl_buf_free(&e.scratch);
    assert_int_equal(s_apply1(f->s, "acme", "lineage.edge",
                              "{\"from\":\"x\",\"to\":\"y\",\"type\":\"one-too-many\"}", reason,
                              sizeof reason),
                     SL_APPLY_DEAD);
    assert_non_null(strstr(reason, "more than 32768 edge types"));
    /*  A known type still works, in every tenant. */
    assert_int_equal(s_apply(f->s, "globex", "lineage.edge",
                             "{\"from\":\"x\",\"to\":\"y\",\"type\":\"t32767\"}"),
                     SL_APPLY_CHANGED);
    uint64_t n = 0;
    assert_int_equal(sl_store_closure_count(f->s, "acme", "x", SL_DIR_DOWN, 0, &n), SL_OK);
    assert_int_equal(n, 1);

    /*  The lineage tables agree (store check), until one name is lost. */
    sl_store_lineage_check_t lc;
    char why[512];
    assert_int_equal(sl_store_lineage_check(f->s, "acme", &lc, why, sizeof why), SL_OK);
    assert_int_equal(lc.assets, 4); /* u, m (again), x, y */
    assert_int_equal(lc.names, 4);
    assert_int_equal(lc.edges, 32767 + 1); /* x -> y of each type, m -> u */
    assert_int_equal(lc.edges_up, lc.edges);
    sl_store_close(&f->s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, f->dir, MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "names", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k = {5, "acme"}, v;
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), 0);
    assert_int_equal(mdb_cursor_del(cur, 0), 0);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_non_null(f->s = s_open(f->dir, 0, NULL, 0));
    assert_int_equal(sl_store_lineage_check(f->s, "acme", &lc, why, sizeof why), SL_EPROTO);
    assert_non_null(strstr(why, "is not named after it in `names`"));
    assert_int_equal(sl_store_lineage_check(f->s, "globex", &lc, why, sizeof why), SL_OK);

    /*  Another format is refused, and says which. */
    sl_store_close(&f->s);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, f->dir, MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    k = (MDB_val){6, "format"};
    v = (MDB_val){1, "9"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    char err[256] = "";
    sl_store_opts_t o = {.path = f->dir, .nosync = 1};
    assert_null(sl_store_open(&o, err, sizeof err));
    assert_non_null(strstr(err, "store format 9 is not this build's (2)"));
    sl_buf_free(&b);
}

/*  Everything the reads show of the format-1 fixture's store at dir, as
    one text (asset documents, both tenants' lineage, stats). */
static char *s_reads(const char *dir)
{
    static const char *const names[][2] = {
        {"acme", "snowflake://acme-prod/analytics/orders/raw_orders"},
        {"acme", "snowflake://acme-prod/analytics/orders/fct_orders"},
        {"acme", "snowflake://acme-prod/analytics/orders/mart_orders"},
        {"acme", "snowflake://acme-prod/analytics/orders/export"},
        {"acme", "tableau://acme/sales/orders"},
        {"globex", "snowflake://acme-prod/analytics/orders/raw_orders"},
        {"globex", "snowflake://acme-prod/analytics/orders/other"},
    };
    sl_store_t *s = s_open(dir, 0, NULL, 0);
    sl_buf_t b = {0};
    assert_non_null(s);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        assert_int_equal(sl_store_asset_json(s, names[i][0], names[i][1], &b), SL_OK);
        assert_int_equal(
            sl_store_lineage_json(s, names[i][0], names[i][1], SL_DIR_BOTH, 10, 100, &b), SL_OK);
    }
    assert_int_equal(sl_store_assets_json(s, "acme", "", 100, NULL, &b), SL_OK);
    assert_int_equal(sl_buf_append(&b, "", 1), SL_OK);
    sl_store_close(&s);
    return (char *)b.data;
}

/*  A migration stopped after any of its commits (as a crash would leave
    it) leaves a store that is refused until the migration is run again,
    and ends where an uninterrupted one does. */
static void test_migrate_resume(void **state)
{
    (void)state;
    char a[] = "/tmp/sl_mig_a_XXXXXX", b[] = "/tmp/sl_mig_b_XXXXXX", cmd[512], err[512];
    assert_non_null(mkdtemp(a));
    assert_non_null(mkdtemp(b));
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "tar -C '%s' -xzf '%s/tests/fixtures/store_v1/store-v1.tar.gz'",
                 i ? b : a, SL_SOURCE_DIR);
        assert_int_equal(system(cmd), 0);
    }
    char sa[600], sb[600];
    snprintf(sa, sizeof sa, "%s/store", a);
    snprintf(sb, sizeof sb, "%s/store", b);
    sl_store_migration_t m;
    assert_int_equal(sl_store_migrate(sa, NULL, &m, err, sizeof err), SL_OK);
    assert_int_equal(m.assets, 7);
    assert_int_equal(m.edges, 5);
    char *want = s_reads(sa);
    /*  b: one record per transaction, one transaction per run. */
    sl_store_migrate_opts_t o = {.step = 1, .max_txns = 1};
    int runs = 0, rc;
    sl_store_opts_t so = {.path = sb, .nosync = 1};
    while ((rc = sl_store_migrate(sb, &o, &m, err, sizeof err)) == SL_EAGAIN) {
        runs++;
        assert_true(runs < 100);
        sl_store_t *st = sl_store_open(&so, err, sizeof err);
        if (st) {
            sl_store_close(&st);
            fail_msg("a half-migrated store opened after %d runs", runs);
        }
        assert_non_null(strstr(err, "store format 1"));
    }
    assert_int_equal(rc, SL_OK);
    assert_true(runs >= 7 + 5); /* blocks, each asset, each edge, the end */
    char *got = s_reads(sb);
    assert_string_equal(got, want);
    assert_int_equal(sl_store_migrate(sb, NULL, &m, err, sizeof err), SL_OK);
    assert_int_equal(m.migrated, 0);
    free(want);
    free(got);
    s_rmrf(a);
    s_rmrf(b);
}

static void test_incidents(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"src\",\"to\":\"mid\"}");
    s_apply(f->s, "acme", "lineage.edge", "{\"from\":\"mid\",\"to\":\"dash\"}");
    uint64_t before = s_last(f->s, "acme");
    assert_int_equal(
        s_apply(f->s, "acme", "incident.upsert",
                "{\"source\":\"mc\",\"external_id\":\"i1\",\"qualified_names\":[\"src\"],"
                "\"title\":\"late\",\"severity\":\"high\",\"priority\":2,"
                "\"updated_at\":\"2026-11-25T09:00:00Z\"}"),
        SL_APPLY_CHANGED);
    json_t *recs = s_changes(f->s, "acme", before);
    s_rec_is(json_array_get(recs, 0),
             "{\"entity\":\"incident\",\"key\":\"mc/i1\",\"op\":\"create\",\"changes\":{"
             "\"source\":{\"before\":null,\"after\":\"mc\"},"
             "\"external_id\":{\"before\":null,\"after\":\"i1\"},"
             "\"qualified_names\":{\"before\":null,\"after\":[\"src\"]},"
             "\"title\":{\"before\":null,\"after\":\"late\"},"
             "\"severity\":{\"before\":null,\"after\":\"high\"},"
             "\"priority\":{\"before\":null,\"after\":2},"
             "\"status\":{\"before\":null,\"after\":\"open\"},"
             "\"created_at\":{\"before\":null,\"after\":\"2026-11-25T09:00:00.000000Z\"},"
             "\"updated_at\":{\"before\":null,\"after\":\"2026-11-25T09:00:00.000000Z\"}}}");
    json_decref(recs);
    /*  The asset itself sees it; downstream assets once the lineage
        walker has propagated it (its copies applied here by hand). */
    json_t *a = s_asset(f->s, "acme", "src");
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "incidents"), "open")), 1);
    json_decref(a);
    a = s_asset(f->s, "acme", "dash");
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "incidents"), "upstream")),
                     0);
    json_decref(a);
    before = s_last(f->s, "acme");
    assert_int_equal(s_apply(f->s, "acme", "propagation.set",
                             "{\"target\":\"mid\",\"value\":\"incident:mc/i1\",\"source\":"
                             "\"src\",\"depth\":1,\"via\":\"src\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_apply(f->s, "acme", "propagation.set",
                             "{\"target\":\"dash\",\"value\":\"incident:mc/i1\",\"source\":"
                             "\"src\",\"depth\":2,\"via\":\"mid\"}"),
                     SL_APPLY_CHANGED);
    /*  The same copy again: nothing changes, nothing is logged. */
    assert_int_equal(s_apply(f->s, "acme", "propagation.set",
                             "{\"target\":\"dash\",\"value\":\"incident:mc/i1\",\"source\":"
                             "\"src\",\"depth\":2,\"via\":\"mid\"}"),
                     SL_APPLY_NOOP);
    recs = s_changes(f->s, "acme", before);
    assert_int_equal(json_array_size(recs), 2);
    s_rec_is(json_array_get(recs, 1),
             "{\"entity\":\"propagation\",\"key\":\"dash\",\"op\":\"create\",\"changes\":{"
             "\"value\":{\"before\":null,\"after\":\"incident:mc/i1\"},"
             "\"source\":{\"before\":null,\"after\":\"src\"},"
             "\"path_length\":{\"before\":null,\"after\":2},"
             "\"via\":{\"before\":null,\"after\":\"mid\"}}}");
    json_decref(recs);
    a = s_asset(f->s, "acme", "dash");
    json_t *up = json_object_get(json_object_get(a, "incidents"), "upstream");
    assert_int_equal(json_array_size(up), 1);
    s_rec_is(json_array_get(up, 0), "{\"external_id\":\"i1\",\"status\":\"open\","
                                    "\"upstream_asset\":\"src\",\"distance\":2,"
                                    "\"sources\":[{\"qualified_name\":\"src\",\"path_length\":2,"
                                    "\"via\":\"mid\"}]}");
    s_rec_is(json_object_get(a, "incidents"), "{\"upstream_by_severity\":{\"high\":1}}");
    json_decref(a);

    /*  An incident on an asset the catalog does not know yet: the asset
        appears as a placeholder (logged before the incident) and shows it. (Tenant beta: the
        listings below count acme's incidents.) */
    before = s_last(f->s, "beta");
    assert_int_equal(s_apply(f->s, "beta", "incident.upsert",
                             "{\"source\":\"mc\",\"external_id\":\"i9\","
                             "\"qualified_names\":[\"unknown_table\"],"
                             "\"updated_at\":\"2026-11-25T09:00:00Z\"}"),
                     SL_APPLY_CHANGED);
    recs = s_changes(f->s, "beta", before);
    assert_int_equal(json_array_size(recs), 2);
    s_rec_is(json_array_get(recs, 0), "{\"entity\":\"asset\",\"key\":\"unknown_table\","
                                      "\"op\":\"create\"}");
    s_rec_is(json_array_get(recs, 1), "{\"entity\":\"incident\",\"key\":\"mc/i9\"}");
    json_decref(recs);
    a = s_asset(f->s, "beta", "unknown_table");
    assert_true(json_is_true(json_object_get(a, "placeholder")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "incidents"), "open")), 1);
    json_decref(a);

    /*  Resolved: history and resolved_at. */
    before = s_last(f->s, "acme");
    assert_int_equal(s_apply(f->s, "acme", "incident.upsert",
                             "{\"source\":\"mc\",\"external_id\":\"i1\",\"status\":\"resolved\","
                             "\"updated_at\":\"2026-11-25T11:00:00Z\"}"),
                     SL_APPLY_CHANGED);
    recs = s_changes(f->s, "acme", before);
    s_rec_is(json_array_get(recs, 0),
             "{\"op\":\"update\",\"changes\":{"
             "\"status\":{\"before\":\"open\",\"after\":\"resolved\"},"
             "\"updated_at\":{\"before\":\"2026-11-25T09:00:00.000000Z\",\"after\":"
             "\"2026-11-25T11:00:00.000000Z\"},"
             "\"resolved_at\":{\"before\":null,\"after\":\"2026-11-25T11:00:00.000000Z\"}}}");
    json_decref(recs);
    /*  An older update after the newer one changes nothing. */
    before = s_last(f->s, "acme");
    assert_int_equal(
        s_apply(f->s, "acme", "incident.upsert",
                "{\"source\":\"mc\",\"external_id\":\"i1\",\"status\":\"acknowledged\","
                "\"updated_at\":\"2026-11-25T10:00:00Z\"}"),
        SL_APPLY_NOOP);
    assert_int_equal(s_last(f->s, "acme"), before);
    a = s_asset(f->s, "acme", "dash");
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "incidents"), "upstream")),
                     0);
    json_decref(a);

    json_t *l =
        s_doc(sl_store_incidents_json(f->s, "acme", "resolved", NULL, NULL, 10, NULL, &b), &b);
    json_t *it = json_array_get(json_object_get(l, "items"), 0);
    s_rec_is(it, "{\"status\":\"resolved\",\"resolved_at\":\"2026-11-25T11:00:00.000000Z\","
                 "\"history\":[{\"status\":\"open\",\"at\":\"2026-11-25T09:00:00.000000Z\"},"
                 "{\"status\":\"resolved\",\"at\":\"2026-11-25T11:00:00.000000Z\"}]}");
    json_decref(l);

    /*  Listing: filters and pages. */
    for (int i = 2; i <= 5; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"source\":\"%s\",\"external_id\":\"i%d\",\"qualified_names\":[\"mid\"]}",
                 i % 2 ? "mc" : "bigeye", i);
        assert_int_equal(s_apply(f->s, "acme", "incident.upsert", body), SL_APPLY_CHANGED);
    }
    l = s_doc(sl_store_incidents_json(f->s, "acme", "open", NULL, NULL, 10, NULL, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 4);
    assert_true(json_is_null(json_object_get(l, "next_cursor")));
    json_decref(l);
    l = s_doc(sl_store_incidents_json(f->s, "acme", NULL, NULL, "mc", 10, NULL, &b), &b);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 3);
    json_decref(l);
    int total = 0;
    char cursor[512] = "";
    for (int page = 0; page < 10; page++) {
        l = s_doc(sl_store_incidents_json(f->s, "acme", NULL, "mid", NULL, 1, cursor, &b), &b);
        total += (int)json_array_size(json_object_get(l, "items"));
        json_t *nc = json_object_get(l, "next_cursor");
        if (json_is_null(nc)) {
            json_decref(l);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(nc));
        json_decref(l);
    }
    assert_int_equal(total, 4);
    assert_int_equal(sl_store_incidents_json(f->s, "acme", "bogus", NULL, NULL, 10, NULL, &b),
                     SL_EINVAL);
    assert_int_equal(sl_store_incidents_json(f->s, "acme", NULL, NULL, NULL, 10, "xyz", &b),
                     SL_EINVAL);
    sl_buf_free(&b);
}

static void test_idempotency(void **state)
{
    s_fix_t *f = *state;
    s_ev_t e = {0};
    sl_store_batch_t *b;
    sl_apply_t r;
    s_ev(&e, "acme", "tag.set", "{\"qualified_name\":\"x\",\"tag\":\"t\"}");
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
    assert_int_equal(r, SL_APPLY_CHANGED);
    assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
    assert_int_equal(r, SL_APPLY_DUPLICATE);
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    uint64_t seq = s_last(f->s, "acme");
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
    assert_int_equal(r, SL_APPLY_DUPLICATE);
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    assert_int_equal(s_last(f->s, "acme"), seq);
    /*  The same id in another tenant is another event. */
    memcpy((char *)e.ev.tenant.ptr, "beta", 4);
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
    assert_int_equal(r, SL_APPLY_CHANGED);
    sl_store_batch_abort(&b);
    sl_buf_free(&e.scratch);
}

/*  Applied ids are forgotten after the retention window: the same event
    is then applied again (and changes nothing, being the same). */
static void test_idempotency_retention(void **state)
{
    s_fix_t *f = *state;
    char dir[128], err[256];
    snprintf(dir, sizeof dir, "%s/ret", f->dir);
    sl_store_opts_t o = {.path = dir, .nosync = 1, .retention_us = 2000};
    sl_store_t *s = sl_store_open(&o, err, sizeof err);
    assert_non_null(s);
    s_ev_t e = {0};
    s_ev(&e, "acme", "tag.set", "{\"qualified_name\":\"x\",\"tag\":\"t\"}");
    sl_event_id_new(e.ev.id); /* its time is now, not the event's */
    sl_apply_t r = SL_APPLY_DEAD;
    int64_t deadline = sl_mono_us() + 5000000;
    for (int i = 0; sl_mono_us() < deadline; i++) {
        sl_store_batch_t *b;
        assert_int_equal(sl_store_batch_begin(s, &b), SL_OK);
        assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
        assert_int_equal(sl_store_batch_commit(&b), SL_OK);
        if (i == 0) {
            assert_int_equal(r, SL_APPLY_CHANGED);
        } else if (r != SL_APPLY_DUPLICATE) {
            break;
        }
        usleep(500);
    }
    assert_int_equal(r, SL_APPLY_NOOP);
    assert_int_equal(s_last(s, "acme"), 2); /* placeholder and tag */
    sl_store_close(&s);
    sl_buf_free(&e.scratch);
}

static void test_dead_letters(void **state)
{
    s_fix_t *f = *state;
    char why[256];
    sl_buf_t b = {0};
    static const struct {
        const char *kind, *body, *reason;
    } cases[] = {
        {"tag.set", "{\"qualified_name\":\"a\",\"tag\":7}",
         "tag.set: body.tag: expected a non-empty string"},
        {"tag.set", "{\"qualified_name\":\"a\"}",
         "tag.set: body.tag: missing (expected a non-empty string)"},
        {"tag.set", "{\"qualified_name\":\"a\",\"tag\":\"x\",\"propagate\":\"yes\"}",
         "tag.set: body.propagate: expected a boolean"},
        {"asset.upsert", "{\"qualified_name\":\"a\",\"owners\":[1]}",
         "asset.upsert: body.owners[0]: expected a string"},
        {"asset.upsert", "{\"qualified_name\":\"a\",\"attributes\":[]}",
         "asset.upsert: body.attributes: expected an object"},
        {"asset.delete", "{}",
         "asset.delete: body.qualified_name: missing (expected a non-empty string)"},
        {"owner.set", "{\"qualified_name\":\"a\"}",
         "owner.set: body.owners: missing (expected an array of strings)"},
        {"lineage.edge", "{\"from\":\"a\",\"to\":\"\"}",
         "lineage.edge: body.to: expected a non-empty string"},
        {"lineage.edge", "{\"from\":\"a\",\"to\":\"b\",\"job\":{}}",
         "lineage.edge: body.job: expected a string"},
        {"incident.upsert", "{\"source\":\"mc\",\"external_id\":\"1\",\"status\":\"gone\"}",
         "incident.upsert: body.status: expected open, acknowledged or resolved"},
        {"incident.upsert", "{\"source\":\"mc\",\"external_id\":\"1\",\"updated_at\":\"soon\"}",
         "incident.upsert: body.updated_at: expected an RFC 3339 time"},
        {"incident.upsert", "{\"source\":\"mc\",\"external_id\":\"1\",\"severity\":[]}",
         "incident.upsert: body.severity: expected a string or a number"},
        {"bogus.kind", "{}", "unknown kind 'bogus.kind'"},
    };
    size_t n = sizeof cases / sizeof *cases;
    for (size_t i = 0; i < n; i++) {
        why[0] = 0;
        assert_int_equal(s_apply1(f->s, "acme", cases[i].kind, cases[i].body, why, sizeof why),
                         SL_APPLY_DEAD);
        assert_string_equal(why, cases[i].reason);
    }
    assert_int_equal(s_last(f->s, "acme"), 0);
    /*  A body that is not msgpack at all, made by hand. */
    sl_event_t ev;
    memset(&ev, 0, sizeof ev);
    sl_event_id_new(ev.id);
    ev.tenant = SL_SLICE("acme");
    ev.kind = SL_SLICE("tag.set");
    ev.body = (sl_slice_t){"\x82\xa1", 2};
    sl_store_batch_t *bt;
    sl_apply_t r;
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    assert_int_equal(sl_store_apply(bt, &ev, &r, why, sizeof why), SL_OK);
    assert_int_equal(r, SL_APPLY_DEAD);
    assert_string_equal(why, "tag.set: body: expected a msgpack map");
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    /*  Outside a batch, and inside one on the same thread. */
    sl_event_id_new(ev.id);
    assert_int_equal(sl_store_dead_letter(f->s, &ev, "schema: no such schema"), SL_OK);
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    sl_event_id_new(ev.id);
    assert_int_equal(sl_store_dead_letter(f->s, &ev, "inside"), SL_OK);
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);

    json_t *d = s_doc(sl_store_dead_letters_json(f->s, "acme", 1000, &b), &b);
    json_t *items = json_object_get(d, "items");
    assert_int_equal(json_array_size(items), n + 3);
    s_rec_is(json_array_get(items, 0), "{\"reason\":\"inside\"}");
    s_rec_is(json_array_get(items, 1), "{\"reason\":\"schema: no such schema\"}");
    json_t *last = json_array_get(items, n + 2);
    assert_int_equal(json_integer_value(json_object_get(last, "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(last, "reason")), cases[0].reason);
    s_rec_is(json_object_get(last, "event"),
             "{\"tenant\":\"acme\",\"kind\":\"tag.set\",\"body\":{\"qualified_name\":\"a\","
             "\"tag\":7}}");
    json_decref(d);
    sl_buf_free(&b);
}

/*  Outside bytes in the envelope (tenant, kind) and in reasons: dead
    letters, never a failed batch, and every read still JSON. */
static void test_hostile_envelope(void **state)
{
    s_fix_t *f = *state;
    char why[256];
    sl_buf_t b = {0};
    sl_event_t ev;
    sl_store_batch_t *bt;
    sl_apply_t r;
    memset(&ev, 0, sizeof ev);
    ev.tenant = SL_SLICE("acme");
    ev.kind = (sl_slice_t){"tag.set\xff\x00x", 10};
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    sl_event_id_new(ev.id);
    assert_int_equal(sl_store_apply(bt, &ev, &r, why, sizeof why), SL_OK);
    assert_int_equal(r, SL_APPLY_DEAD);
    assert_string_equal(why, "unknown kind 'tag.set?'");
    ev.kind = SL_SLICE("tag.set");
    ev.tenant = (sl_slice_t){"ac\xc3me", 5};
    sl_event_id_new(ev.id);
    assert_int_equal(sl_store_apply(bt, &ev, &r, why, sizeof why), SL_OK);
    assert_int_equal(r, SL_APPLY_DEAD);
    ev.tenant = SL_SLICE("../etc");
    sl_event_id_new(ev.id);
    assert_int_equal(sl_store_apply(bt, &ev, &r, why, sizeof why), SL_OK);
    assert_int_equal(r, SL_APPLY_DEAD);
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    ev.tenant = SL_SLICE("zeta");
    assert_int_equal(sl_store_dead_letter(f->s, &ev, "bad \xff\nbyte"), SL_OK);
    json_t *d = s_doc(sl_store_dead_letters_json(f->s, "zeta", 10, &b), &b);
    s_rec_is(json_array_get(json_object_get(d, "items"), 0), "{\"reason\":\"bad ??byte\"}");
    json_decref(d);
    d = s_doc(sl_store_dead_letters_json(f->s, ".invalid", 10, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 2);
    json_decref(d);
    d = s_doc(sl_store_dead_letters_json(f->s, "acme", 10, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    json_decref(d);
    d = s_doc(sl_store_stats_json(f->s, &b), &b);
    s_rec_is(json_object_get(d, "tenants"),
             "{\"acme\":{\"assets\":0,\"edges\":0,\"incidents\":0,\"changes\":0,"
             "\"dead_letters\":1},\"zeta\":{\"assets\":0,\"edges\":0,\"incidents\":0,"
             "\"changes\":0,\"dead_letters\":1}}");
    json_decref(d);
    sl_buf_free(&b);
}

/*  Random bodies of every kind: any outcome, but the store never fails. */
static json_t *s_random_value(unsigned *seed, int depth)
{
    switch (rand_r(seed) % (depth > 2 ? 6 : 8)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rand_r(seed) % 2);
    case 2:
        return json_integer((json_int_t)rand_r(seed) - RAND_MAX / 2);
    case 3:
        return json_real(rand_r(seed) / 7.0);
    case 4:
        return json_string(rand_r(seed) % 4 ? "x" : "");
    case 5: {
        static const char *const names[] = {"a", "b", "open", "resolved", "2026-11-25T08:00:00Z"};
        return json_string(names[rand_r(seed) % 5]);
    }
    case 6: {
        json_t *a = json_array();
        for (int i = rand_r(seed) % 3; i > 0; i--) {
            json_array_append_new(a, s_random_value(seed, depth + 1));
        }
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int i = rand_r(seed) % 3; i > 0; i--) {
            json_object_set_new(o, rand_r(seed) % 2 ? "k" : "tag", s_random_value(seed, depth + 1));
        }
        return o;
    }
    }
}

static void test_random_bodies(void **state)
{
    s_fix_t *f = *state;
    static const char *const kinds[] = {"asset.upsert",        "asset.delete",   "tag.set",
                                        "tag.unset",           "owner.set",      "lineage.edge",
                                        "lineage.edge.delete", "incident.upsert"};
    static const char *const fields[] = {"qualified_name",
                                         "type",
                                         "name",
                                         "description",
                                         "owners",
                                         "attributes",
                                         "tag",
                                         "propagate",
                                         "from",
                                         "to",
                                         "job",
                                         "source",
                                         "external_id",
                                         "qualified_names",
                                         "sub_types",
                                         "title",
                                         "severity",
                                         "priority",
                                         "status",
                                         "source_status",
                                         "owner",
                                         "url",
                                         "created_at",
                                         "updated_at"};
    unsigned seed = 12345;
    int outcome[4] = {0};
    sl_store_batch_t *bt;
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    for (int i = 0; i < 3000; i++) {
        json_t *body = json_object();
        for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
            if (rand_r(&seed) % 3 == 0) {
                json_object_set_new(body, fields[k], s_random_value(&seed, 0));
            }
        }
        char *text = json_dumps(body, JSON_COMPACT);
        s_ev_t e = {0};
        sl_apply_t r;
        s_ev(&e, "acme", kinds[rand_r(&seed) % 8], text);
        assert_int_equal(sl_store_apply(bt, &e.ev, &r, NULL, 0), SL_OK);
        outcome[r]++;
        sl_buf_free(&e.scratch);
        free(text);
        json_decref(body);
        if (i % 100 == 99) {
            assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
            assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
        }
    }
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    assert_true(outcome[SL_APPLY_CHANGED] > 0);
    assert_true(outcome[SL_APPLY_DEAD] > 0);
    /*  Every read of what was made is still a JSON document. */
    sl_buf_t b = {0};
    json_decref(s_doc(sl_store_assets_json(f->s, "acme", NULL, 1000, NULL, &b), &b));
    json_decref(s_doc(sl_store_incidents_json(f->s, "acme", NULL, NULL, NULL, 1000, NULL, &b), &b));
    json_decref(s_doc(sl_store_changes_json(f->s, "acme", 0, 10000, &b), &b));
    json_decref(s_doc(sl_store_dead_letters_json(f->s, "acme", 1000, &b), &b));
    json_decref(s_doc(sl_store_stats_json(f->s, &b), &b));
    const char *names[] = {"a", "b", "x", "open", "resolved"};
    for (size_t i = 0; i < 5; i++) {
        int rc = sl_store_lineage_json(f->s, "acme", names[i], SL_DIR_BOTH, 10, 10000, &b);
        if (rc != SL_ENOTFOUND) {
            json_decref(s_doc(rc, &b));
            json_decref(s_asset(f->s, "acme", names[i]));
        }
    }
    sl_buf_free(&b);
}

/*  Tenant A never sees tenant B, in any read path. */
static void test_tenant_separation(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    const char *ts[] = {"acme", "beta"};
    for (int i = 0; i < 2; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"qualified_name\":\"db/%s\",\"type\":\"table\"}", ts[i]);
        s_apply(f->s, ts[i], "asset.upsert", body);
        s_apply(f->s, ts[i], "asset.upsert", "{\"qualified_name\":\"db/shared\"}");
        s_apply(f->s, ts[i], "lineage.edge", "{\"from\":\"db/shared\",\"to\":\"db/x\"}");
        snprintf(body, sizeof body,
                 "{\"source\":\"mc\",\"external_id\":\"%s\",\"qualified_names\":[\"db/shared\"]}",
                 ts[i]);
        s_apply(f->s, ts[i], "incident.upsert", body);
        s_apply(f->s, ts[i], "nope", "{}");
    }
    s_apply(f->s, "beta", "lineage.edge", "{\"from\":\"db/shared\",\"to\":\"db/y\"}");
    assert_int_equal(sl_store_asset_json(f->s, "acme", "db/beta", &b), SL_ENOTFOUND);
    json_t *d = s_doc(sl_store_assets_json(f->s, "acme", "db/", 100, "", &b), &b);
    json_t *items = json_object_get(d, "items");
    assert_int_equal(json_array_size(items), 3); /* db/acme, db/shared, db/x */
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        assert_null(strstr(json_string_value(json_object_get(it, "qualified_name")), "beta"));
    }
    json_decref(d);
    d = s_doc(sl_store_lineage_json(f->s, "acme", "db/shared", SL_DIR_BOTH, 5, 100, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "nodes")), 2);
    json_decref(d);
    d = s_doc(sl_store_incidents_json(f->s, "acme", NULL, NULL, NULL, 100, NULL, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(d, "items"), 0), "external_id")),
                        "acme");
    json_decref(d);
    d = s_doc(sl_store_incidents_json(f->s, "acme", NULL, "db/shared", NULL, 100, NULL, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    json_decref(d);
    d = s_asset(f->s, "acme", "db/shared");
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "incidents"), "open")), 1);
    json_decref(d);
    d = s_doc(sl_store_changes_json(f->s, "acme", 0, 1000, &b), &b);
    json_array_foreach(json_object_get(d, "items"), i, it)
    {
        assert_string_equal(json_string_value(json_object_get(it, "tenant")), "acme");
    }
    assert_int_equal(json_integer_value(json_object_get(d, "last_seq")), s_last(f->s, "acme"));
    assert_true(s_last(f->s, "acme") < s_last(f->s, "beta"));
    json_decref(d);
    d = s_doc(sl_store_dead_letters_json(f->s, "acme", 100, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    json_decref(d);
    d = s_doc(sl_store_stats_json(f->s, &b), &b);
    s_rec_is(json_object_get(d, "tenants"),
             "{\"acme\":{\"assets\":3,\"edges\":1,\"incidents\":1,\"changes\":5,"
             "\"dead_letters\":1},\"beta\":{\"assets\":4,\"edges\":2,\"incidents\":1,"
             "\"changes\":7,\"dead_letters\":1}}");
    assert_true(json_is_true(json_object_get(d, "writable")));
    assert_true(json_integer_value(json_object_get(d, "used_bytes")) > 0);
    json_decref(d);
    char **tn = sl_store_tenants(f->s);
    assert_non_null(tn);
    assert_string_equal(tn[0], "acme");
    assert_string_equal(tn[1], "beta");
    assert_null(tn[2]);
    for (char **p = tn; *p; p++) {
        free(*p);
    }
    free(tn);
    sl_buf_free(&b);
}

static void test_isolated(void **state)
{
    s_fix_t *f = *state;
    char dir[128], why[256];
    sl_buf_t b = {0};
    const char *const tenants[] = {"acme", "beta", NULL};
    snprintf(dir, sizeof dir, "%s/iso", f->dir);
    sl_store_t *s = s_open(dir, 1, tenants, 0);
    assert_non_null(s);
    assert_int_equal(s_apply(s, "acme", "asset.upsert", "{\"qualified_name\":\"a\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_apply(s, "beta", "asset.upsert", "{\"qualified_name\":\"b\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(
        s_apply1(s, "evil", "asset.upsert", "{\"qualified_name\":\"e\"}", why, sizeof why),
        SL_APPLY_DEAD);
    assert_string_equal(why, "tenant 'evil' not allowed in an isolated store");
    char path[256];
    snprintf(path, sizeof path, "%s/acme/data.mdb", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/evil", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(sl_store_asset_json(s, "acme", "b", &b), SL_ENOTFOUND);
    assert_int_equal(sl_store_asset_json(s, "evil", "e", &b), SL_EINVAL);
    json_t *d = s_doc(sl_store_assets_json(s, "beta", NULL, 10, NULL, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    json_decref(d);
    d = s_doc(sl_store_dead_letters_json(s, "evil", 10, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 1);
    json_decref(d);
    assert_int_equal(s_last(s, "acme"), 1);
    assert_int_equal(s_last(s, "beta"), 1);
    d = s_doc(sl_store_stats_json(s, &b), &b);
    assert_int_equal(json_object_size(json_object_get(d, "tenants")), 2);
    json_decref(d);
    /*  The same path cannot be opened with the other tenancy. */
    assert_null(s_open(dir, 0, NULL, 0));
    sl_store_close(&s);
    sl_buf_free(&b);
}

static void test_seq_gap_free(void **state)
{
    s_fix_t *f = *state;
    for (int round = 0; round < 3; round++) {
        sl_store_batch_t *b;
        assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
        for (int i = 0; i < 20; i++) {
            s_ev_t e = {0};
            sl_apply_t r;
            char body[128];
            snprintf(body, sizeof body, "{\"qualified_name\":\"q%d\",\"name\":\"r%d\"}", i, round);
            s_ev(&e, i % 2 ? "acme" : "beta", "asset.upsert", body);
            assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
            assert_int_equal(r, SL_APPLY_CHANGED);
            sl_buf_free(&e.scratch);
        }
        assert_int_equal(sl_store_batch_commit(&b), SL_OK);
        /*  An aborted batch takes its seqs with it. */
        assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
        s_ev_t e = {0};
        sl_apply_t r;
        s_ev(&e, "acme", "asset.upsert", "{\"qualified_name\":\"lost\"}");
        assert_int_equal(sl_store_apply(b, &e.ev, &r, NULL, 0), SL_OK);
        sl_store_batch_abort(&b);
        sl_buf_free(&e.scratch);
        sl_store_close(&f->s);
        f->s = s_open(f->dir, 0, NULL, 0);
        assert_non_null(f->s);
    }
    json_t *recs = s_changes(f->s, "acme", 0);
    assert_int_equal(json_array_size(recs), 30);
    for (size_t i = 0; i < 30; i++) {
        assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, i), "seq")),
                         i + 1);
    }
    json_decref(recs);
    recs = s_changes(f->s, "acme", 28);
    assert_int_equal(json_array_size(recs), 2);
    json_decref(recs);
}

static void test_shared_handle(void **state)
{
    s_fix_t *f = *state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/../%s", f->dir, strrchr(f->dir, '/') + 1);
    sl_store_t *s2 = s_open(sub, 0, NULL, 0);
    assert_ptr_equal(s2, f->s);
    sl_store_close(&s2);
    assert_null(s2);
    sl_store_close(&s2); /* safe twice */
    assert_int_equal(s_apply(f->s, "acme", "asset.upsert", "{\"qualified_name\":\"still\"}"),
                     SL_APPLY_CHANGED);
}

static void test_map_full(void **state)
{
    s_fix_t *f = *state;
    char dir[128], why[256];
    sl_buf_t b = {0};
    snprintf(dir, sizeof dir, "%s/small", f->dir);
    sl_store_t *s = s_open(dir, 0, NULL, 256 * 1024);
    assert_non_null(s);
    assert_int_equal(s_apply(s, "acme", "asset.upsert", "{\"qualified_name\":\"first\"}"),
                     SL_APPLY_CHANGED);
    char *body = malloc(8192);
    char pad[2001];
    memset(pad, 'x', 2000);
    pad[2000] = 0;
    int rc = SL_OK, i;
    for (i = 0; i < 1000 && rc == SL_OK; i++) {
        sl_store_batch_t *bt;
        s_ev_t e = {0};
        sl_apply_t r;
        snprintf(body, 8192, "{\"qualified_name\":\"a%d\",\"description\":\"%s\"}", i, pad);
        s_ev(&e, "acme", "asset.upsert", body);
        assert_int_equal(sl_store_batch_begin(s, &bt), SL_OK);
        rc = sl_store_apply(bt, &e.ev, &r, NULL, 0);
        if (rc == SL_OK) {
            rc = sl_store_batch_commit(&bt);
        } else {
            sl_store_batch_abort(&bt);
        }
        sl_buf_free(&e.scratch);
    }
    free(body);
    assert_int_equal(rc, SL_EFULL);
    assert_int_equal(sl_store_health(s, why, sizeof why), SL_EFULL);
    assert_non_null(strstr(why, "map full"));
    sl_store_batch_t *bt;
    assert_int_equal(sl_store_batch_begin(s, &bt), SL_EFULL);
    assert_int_equal(sl_store_cursor_set(s, "acme", "c", 1), SL_EFULL);
    /*  Reads keep working. */
    json_t *d = s_asset(s, "acme", "first");
    json_decref(d);
    d = s_doc(sl_store_stats_json(s, &b), &b);
    assert_true(json_is_false(json_object_get(d, "writable")));
    assert_true(json_is_string(json_object_get(d, "reason")));
    json_decref(d);
    uint64_t seq = s_last(s, "acme");
    sl_store_close(&s);
    /*  A larger map: writable again, nothing lost, the log goes on. */
    s = s_open(dir, 0, NULL, 8 << 20);
    assert_non_null(s);
    assert_int_equal(sl_store_health(s, NULL, 0), SL_OK);
    assert_int_equal(s_last(s, "acme"), seq);
    assert_int_equal(s_apply(s, "acme", "asset.upsert", "{\"qualified_name\":\"after\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_last(s, "acme"), seq + 1);
    sl_store_close(&s);
    sl_buf_free(&b);
}

static void test_assets_listing(void **state)
{
    s_fix_t *f = *state;
    sl_buf_t b = {0};
    sl_store_batch_t *bt;
    assert_int_equal(sl_store_batch_begin(f->s, &bt), SL_OK);
    for (int i = 0; i < 25; i++) {
        s_ev_t e = {0};
        sl_apply_t r;
        char body[128];
        snprintf(body, sizeof body, "{\"qualified_name\":\"%s/t%02d\"}", i < 20 ? "sf" : "bq", i);
        s_ev(&e, "acme", "asset.upsert", body);
        assert_int_equal(sl_store_apply(bt, &e.ev, &r, NULL, 0), SL_OK);
        sl_buf_free(&e.scratch);
    }
    assert_int_equal(sl_store_batch_commit(&bt), SL_OK);
    char cursor[1024] = "";
    int total = 0, pages = 0;
    for (;;) {
        json_t *d = s_doc(sl_store_assets_json(f->s, "acme", "sf/", 7, cursor, &b), &b);
        json_t *items = json_object_get(d, "items");
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            char want[16];
            snprintf(want, sizeof want, "sf/t%02d", total + (int)i);
            assert_string_equal(json_string_value(json_object_get(it, "qualified_name")), want);
        }
        total += (int)json_array_size(items);
        pages++;
        json_t *nc = json_object_get(d, "next_cursor");
        if (json_is_null(nc)) {
            json_decref(d);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", json_string_value(nc));
        json_decref(d);
        assert_true(pages < 10);
    }
    assert_int_equal(total, 20);
    assert_int_equal(pages, 3);
    json_t *d = s_doc(sl_store_assets_json(f->s, "acme", NULL, 1000, NULL, &b), &b);
    assert_int_equal(json_array_size(json_object_get(d, "items")), 25);
    json_decref(d);
    assert_int_equal(sl_store_assets_json(f->s, "acme", NULL, 0, NULL, &b), SL_EINVAL);
    assert_int_equal(sl_store_assets_json(f->s, "acme", NULL, 1001, NULL, &b), SL_EINVAL);
    assert_int_equal(sl_store_assets_json(f->s, "acme", NULL, 10, "zz", &b), SL_EINVAL);
    sl_buf_free(&b);
}

/*  Change-log retention: records every follower has passed (marks whose
    names start with '.' do not count) are trimmed, oldest first, never the
    last one; the sequence goes on; a follower that finds the head trimmed
    is told (on_gap) or stopped (SL_ESTATE). */
typedef struct {
    uint64_t gap_after, gap_next, seen;
} s_gap_t;

static int s_gap_fn(void *arg, const char *tenant, uint64_t after, uint64_t next)
{
    s_gap_t *g = arg;
    (void)tenant;
    g->gap_after = after;
    g->gap_next = next;
    return 0;
}

static int s_gap_change(void *arg, const char *tenant, uint64_t seq, const sl_event_t *change)
{
    (void)tenant;
    (void)change;
    ((s_gap_t *)arg)->seen = seq;
    return 0;
}

typedef struct {
    char text[256];
} s_names_t;

static int s_name_fn(void *arg, const char *consumer, uint64_t seq)
{
    s_names_t *n = arg;
    size_t l = strlen(n->text);
    snprintf(n->text + l, sizeof n->text - l, "%s=%llu ", consumer, (unsigned long long)seq);
    return 0;
}

static uint64_t s_first(sl_store_t *s)
{
    json_t *recs = s_changes(s, "acme", 0);
    uint64_t first = (uint64_t)json_integer_value(json_object_get(json_array_get(recs, 0), "seq"));
    json_decref(recs);
    return first;
}

static void test_changes_retention(void **state)
{
    char dir[64] = "/tmp/sl_ret_XXXXXX", body[128], err[256];
    (void)state;
    assert_non_null(mkdtemp(dir));
    /*  retention_us 2: compaction (and the trim) at every batch. */
    sl_store_opts_t o = {.path = dir, .nosync = 1, .retention_us = 2, .changes_retention_us = -1};
    sl_store_t *s = sl_store_open(&o, err, sizeof err);
    assert_non_null(s);
    for (int i = 1; i <= 5; i++) {
        snprintf(body, sizeof body, "{\"qualified_name\":\"a%d\"}", i);
        assert_int_equal(s_apply(s, "acme", "asset.upsert", body), SL_APPLY_CHANGED);
    }
    /*  No follower: all but the last before each batch are gone. */
    assert_int_equal(s_first(s), 4);
    assert_int_equal(s_last(s, "acme"), 5);
    /*  A follower at 4 holds the rest; a mark at 0 does not count. */
    assert_int_equal(sl_store_cursor_set(s, "acme", "walker/0", 4), SL_OK);
    assert_int_equal(sl_store_cursor_set(s, "acme", ".fence/walker/0", 0), SL_OK);
    for (int i = 6; i <= 8; i++) {
        snprintf(body, sizeof body, "{\"qualified_name\":\"a%d\"}", i);
        assert_int_equal(s_apply(s, "acme", "asset.upsert", body), SL_APPLY_CHANGED);
    }
    assert_int_equal(s_first(s), 5);
    assert_int_equal(s_last(s, "acme"), 8);
    /*  The cursors, marks included, in name order; a dropped follower no
        longer holds the log back. */
    s_names_t names = {0};
    assert_int_equal(sl_store_cursors_each(s, "acme", s_name_fn, &names), 2);
    assert_string_equal(names.text, ".fence/walker/0=0 walker/0=4 ");
    assert_int_equal(sl_store_cursor_drop(s, "acme", "walker/0"), SL_OK);
    assert_int_equal(sl_store_cursor_drop(s, "acme", "walker/0"), SL_ENOTFOUND);
    assert_int_equal(s_apply(s, "acme", "asset.upsert", "{\"qualified_name\":\"a9\"}"),
                     SL_APPLY_CHANGED);
    assert_int_equal(s_first(s), 8);
    /*  A new follower: told of the trimmed head, then reads on. */
    s_gap_t g = {0};
    sl_follower_opts_t fo = {.consumer = "late", .tenant = "acme", .on_gap = s_gap_fn};
    sl_follower_t *f = sl_follower_new(s, &fo, s_gap_change, &g);
    assert_int_equal(sl_follower_catch_up(f), 2);
    assert_int_equal(g.gap_after, 0);
    assert_int_equal(g.gap_next, 8);
    assert_int_equal(g.seen, 9);
    sl_follower_destroy(&f);
    sl_follower_opts_t fo2 = {.consumer = "strict", .tenant = "acme"};
    f = sl_follower_new(s, &fo2, s_gap_change, &g);
    assert_int_equal(sl_follower_catch_up(f), SL_ESTATE);
    sl_follower_destroy(&f);
    sl_store_close(&s);
    s_rmrf(dir);
}

static void test_cursors_reopen(void **state)
{
    s_fix_t *f = *state;
    uint64_t seq = 9;
    assert_int_equal(sl_store_cursor_get(f->s, "acme", "walker", &seq), SL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(sl_store_cursor_set(f->s, "acme", "walker", 42), SL_OK);
    /*  Inside an open batch on this thread: written with the batch. */
    sl_store_batch_t *b;
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    assert_int_equal(sl_store_cursor_set(f->s, "acme", "api", 7), SL_OK);
    sl_store_batch_t *b2 = NULL;
    assert_int_equal(sl_store_batch_begin(f->s, &b2), SL_ESTATE);
    assert_null(b2);
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    sl_store_close(&f->s);
    f->s = s_open(f->dir, 0, NULL, 0);
    assert_non_null(f->s);
    assert_int_equal(sl_store_cursor_get(f->s, "acme", "walker", &seq), SL_OK);
    assert_int_equal(seq, 42);
    assert_int_equal(sl_store_cursor_get(f->s, "acme", "api", &seq), SL_OK);
    assert_int_equal(seq, 7);
    assert_int_equal(sl_store_cursor_get(f->s, "other", "walker", &seq), SL_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(sl_store_cursor_get(f->s, "", "walker", &seq), SL_EINVAL);
}

static void test_mpjson(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"a\":[1,-2,3.5,true,null,\"x\"],\"b\":{\"c\":\"d\"}}", 0, NULL);
    sl_buf_t mp = {0}, js = {0};
    assert_int_equal(sl_jansson_to_msgpack(v, &mp), SL_OK);
    json_t *back = sl_msgpack_to_jansson(mp.data, mp.len);
    assert_true(json_equal(v, back));
    assert_int_equal(sl_msgpack_to_json(mp.data, mp.len, &js), SL_OK);
    json_t *parsed = json_loadb((const char *)js.data, js.len, 0, NULL);
    assert_true(json_equal(v, parsed));
    sl_slice_t str;
    const uint8_t *vp;
    size_t vlen;
    assert_int_equal(sl_msgpack_map_get(mp.data, mp.len, "b", &vp, &vlen), SL_OK);
    assert_int_equal(sl_msgpack_map_str(vp, vlen, "c", &str), SL_OK);
    assert_true(sl_slice_eq(str, "d"));
    assert_int_equal(sl_msgpack_map_str(mp.data, mp.len, "zz", &str), SL_ENOTFOUND);
    assert_int_equal(sl_msgpack_map_str(mp.data, mp.len, "a", &str), SL_EPROTO);
    /*  Truncated input, every prefix: never a crash, never a tree. */
    for (size_t n = 0; n < mp.len; n++) {
        assert_null(sl_msgpack_to_jansson(mp.data, n));
        assert_int_not_equal(sl_msgpack_to_json(mp.data, n, &js), SL_OK);
    }
    assert_null(sl_msgpack_to_jansson((const uint8_t *)"\xdd\xff\xff\xff\xff", 5));
    json_decref(v);
    json_decref(back);
    json_decref(parsed);
    sl_buf_free(&mp);
    sl_buf_free(&js);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_asset_upsert, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tags_owners, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lineage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_asset_delete, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ids_and_types, s_setup, s_teardown),
        cmocka_unit_test(test_migrate_resume),
        cmocka_unit_test_setup_teardown(test_incidents, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_retention, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_envelope, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_random_bodies, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tenant_separation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_isolated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_gap_free, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_shared_handle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_assets_listing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cursors_reopen, s_setup, s_teardown),
        cmocka_unit_test(test_changes_retention),
        cmocka_unit_test(test_mpjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
