/*  Propagation (core/propagate.c) on a real store: each rule on a small
    graph, then a property test on random graphs and random changes where
    after every step the incrementally kept copies equal an independent
    full computation (an in-memory BFS written here), and a full
    recomputation of the store finds nothing to change.

    The walker's loop is played here in one thread: read the change log
    from a cursor, collect the affected pairs, recompute them, apply the
    operations to the store in one batch, repeat until quiet. */
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
#include "sluice/propagate.h"
#include "sluice/store.h"

#define T "acme"

typedef struct {
    char dir[64];
    sl_store_t *s;
    sl_prop_policies_t *pol;
    uint64_t cursor;
    uint64_t ops; /* operations applied by the last s_walk */
} s_fix_t;

static int s_setup_with(void **state, int no_graph_cache)
{
    s_fix_t *f = calloc(1, sizeof *f);
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/sl_prop_XXXXXX");
    if (!f || !mkdtemp(f->dir)) {
        return -1;
    }
    sl_store_opts_t o = {.path = f->dir, .nosync = 1, .no_graph_cache = no_graph_cache};
    f->s = sl_store_open(&o, err, sizeof err);
    if (!f->s || sl_prop_policies_parse(NULL, &f->pol, err, sizeof err, NULL, 0) != SL_OK) {
        return -1;
    }
    *state = f;
    return 0;
}

static int s_setup(void **state)
{
    return s_setup_with(state, 0);
}

/*  The same walks reading LMDB's edges (no in-memory graph). */
static int s_setup_lmdb(void **state)
{
    return s_setup_with(state, 1);
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[128];
    sl_store_close(&f->s);
    sl_prop_policies_free(&f->pol);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void s_policy(s_fix_t *f, const char *json)
{
    char err[256], where[64];
    sl_prop_policies_free(&f->pol);
    int rc = sl_prop_policies_parse(json, &f->pol, err, sizeof err, where, sizeof where);
    if (rc != SL_OK) {
        fail_msg("policy: %s at %s", err, where);
    }
}

/*  Apply one user event (JSON body). */
static void s_do(s_fix_t *f, const char *kind, const char *body)
{
    char json[2048], err[256];
    sl_event_t ev;
    sl_buf_t scratch = {0};
    sl_store_batch_t *b;
    sl_apply_t r;
    snprintf(json, sizeof json, "{\"tenant\":\"" T "\",\"kind\":\"%s\",\"body\":%s}", kind, body);
    assert_int_equal(sl_event_from_json(json, strlen(json), &ev, &scratch, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    assert_int_equal(sl_store_apply(b, &ev, &r, err, sizeof err), SL_OK);
    if (r == SL_APPLY_DEAD) {
        fail_msg("%s %s: dead letter: %s", kind, body, err);
    }
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    sl_buf_free(&scratch);
}

typedef struct {
    s_fix_t *f;
    sl_store_view_t *v;
    sl_prop_work_t *w;
    sl_store_batch_t *b;
    uint64_t n;
} s_loop_t;

static int s_collect(void *arg, uint64_t seq, const sl_event_t *change)
{
    s_loop_t *l = arg;
    l->f->cursor = seq;
    return sl_prop_affected(l->v, sl_prop_policy_for(l->f->pol, T), change, 0, 1, l->w);
}

static int s_apply_op(void *arg, const sl_prop_op_t *op)
{
    s_loop_t *l = arg;
    sl_event_t ev;
    sl_buf_t scratch = {0};
    sl_apply_t r;
    char why[256];
    assert_int_equal(sl_prop_op_event(op, T, "test", &ev, &scratch), SL_OK);
    assert_int_equal(sl_store_apply(l->b, &ev, &r, why, sizeof why), SL_OK);
    if (r == SL_APPLY_DEAD) {
        fail_msg("op on %s: %s", op->target, why);
    }
    sl_buf_free(&scratch);
    l->n++;
    return 0;
}

/*  The walker's loop until nothing is left to do. */
static void s_walk(s_fix_t *f)
{
    s_loop_t l = {f, NULL, sl_prop_work_new(), NULL, 0};
    f->ops = 0;
    for (int round = 0; round < 100; round++) {
        assert_int_equal(sl_store_view_begin(f->s, T, &l.v), SL_OK);
        assert_true(sl_store_changes(f->s, T, f->cursor, 0, s_collect, &l) >= 0);
        size_t n = sl_prop_work_count(l.w);
        if (n == 0) {
            sl_store_view_end(&l.v);
            sl_prop_work_free(&l.w);
            return;
        }
        assert_int_equal(sl_store_batch_begin(f->s, &l.b), SL_OK);
        for (size_t i = 0; i < n; i++) {
            const char *value, *source;
            sl_prop_work_get(l.w, i, &value, &source);
            assert_int_equal(sl_prop_recompute(l.v, sl_prop_policy_for(f->pol, T), value, source,
                                               s_apply_op, &l, NULL),
                             SL_OK);
        }
        assert_int_equal(sl_store_batch_commit(&l.b), SL_OK);
        f->ops += l.n;
        l.n = 0;
        sl_prop_work_clear(l.w);
        sl_store_view_end(&l.v);
    }
    fail_msg("the walk did not settle in 100 rounds");
}

static int s_count_op(void *arg, const sl_prop_op_t *op)
{
    (void)op;
    (*(uint64_t *)arg)++;
    return 0;
}

/*  A full recomputation finds nothing to change. */
static void s_consistent(s_fix_t *f)
{
    sl_store_view_t *v;
    uint64_t n = 0;
    assert_int_equal(sl_store_view_begin(f->s, T, &v), SL_OK);
    assert_int_equal(sl_prop_recompute_all(v, sl_prop_policy_for(f->pol, T), s_count_op, &n, NULL),
                     SL_OK);
    sl_store_view_end(&v);
    assert_int_equal(n, 0);
}

/*  The copy's depth, or 0 if there is none. */
static int s_depth(s_fix_t *f, const char *target, const char *value, const char *source)
{
    sl_store_view_t *v;
    sl_store_copy_t c;
    assert_int_equal(sl_store_view_begin(f->s, T, &v), SL_OK);
    int rc = sl_store_view_copy(v, target, value, source, &c);
    int d = rc == SL_OK ? (int)c.depth : 0;
    sl_store_view_end(&v);
    assert_true(rc == SL_OK || rc == SL_ENOTFOUND);
    return d;
}

static void s_edge(s_fix_t *f, const char *from, const char *to)
{
    char body[256];
    snprintf(body, sizeof body, "{\"from\":\"%s\",\"to\":\"%s\"}", from, to);
    s_do(f, "lineage.edge", body);
}

static void s_tag(s_fix_t *f, const char *qn, const char *tag, int set)
{
    char body[256];
    snprintf(body, sizeof body, "{\"qualified_name\":\"%s\",\"tag\":\"%s\"}", qn, tag);
    s_do(f, set ? "tag.set" : "tag.unset", body);
}

/* ------------------------------------------------------------- rules */

static void test_chain_and_unset(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "a", "b");
    s_edge(f, "b", "c");
    s_tag(f, "a", "pii", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "b", "tag:pii", "a"), 1);
    assert_int_equal(s_depth(f, "c", "tag:pii", "a"), 2);
    assert_int_equal(s_depth(f, "a", "tag:pii", "a"), 0);
    s_consistent(f);
    /*  The asset shows it, with its source and path length. */
    sl_buf_t b = {0};
    assert_int_equal(sl_store_asset_json(f->s, T, "c", &b), SL_OK);
    json_t *a = json_loadb((const char *)b.data, b.len, 0, NULL);
    json_t *t0 = json_array_get(json_object_get(a, "tags"), 0);
    assert_string_equal(json_string_value(json_object_get(t0, "name")), "pii");
    assert_string_equal(json_string_value(json_object_get(t0, "origin")), "propagated");
    json_t *s0 = json_array_get(json_object_get(t0, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "qualified_name")), "a");
    assert_int_equal(json_integer_value(json_object_get(s0, "path_length")), 2);
    json_decref(a);
    /*  Provenance: the path a -> b -> c. */
    sl_buf_reset(&b);
    assert_int_equal(sl_store_provenance_json(f->s, T, "c", "tag:pii", &b), SL_OK);
    a = json_loadb((const char *)b.data, b.len, 0, NULL);
    json_t *p0 = json_array_get(json_object_get(a, "paths"), 0);
    char *path = json_dumps(json_object_get(p0, "path"), JSON_COMPACT);
    assert_string_equal(path, "[\"a\",\"b\",\"c\"]");
    assert_true(json_is_true(json_object_get(p0, "complete")));
    assert_true(json_is_false(json_object_get(a, "own")));
    free(path);
    json_decref(a);
    sl_buf_free(&b);

    s_tag(f, "a", "pii", 0);
    s_walk(f);
    assert_int_equal(s_depth(f, "b", "tag:pii", "a"), 0);
    assert_int_equal(s_depth(f, "c", "tag:pii", "a"), 0);
    s_consistent(f);
}

static void test_diamond_and_cycle(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "a", "b");
    s_edge(f, "a", "c");
    s_edge(f, "b", "d");
    s_edge(f, "c", "d");
    s_edge(f, "d", "a"); /* a cycle back to the source */
    s_edge(f, "d", "e");
    s_tag(f, "a", "pii", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "d", "tag:pii", "a"), 2);
    assert_int_equal(s_depth(f, "e", "tag:pii", "a"), 3);
    assert_int_equal(s_depth(f, "a", "tag:pii", "a"), 0); /* never onto its source */
    s_consistent(f);
    /*  A tag inside the cycle: it goes round once and stops. */
    s_tag(f, "d", "gold", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "a", "tag:gold", "d"), 1);
    assert_int_equal(s_depth(f, "b", "tag:gold", "d"), 2);
    assert_int_equal(s_depth(f, "d", "tag:gold", "d"), 0);
    s_consistent(f);
}

static void test_blocks(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "raw", "mask");
    s_edge(f, "mask", "report");
    s_tag(f, "raw", "pii", 1);
    s_tag(f, "raw", "finance", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "report", "tag:pii", "raw"), 2);
    /*  A block added retracts what it stops; other tags still pass. */
    s_do(f, "block.set", "{\"qualified_name\":\"mask\",\"tag\":\"pii\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "mask", "tag:pii", "raw"), 0);
    assert_int_equal(s_depth(f, "report", "tag:pii", "raw"), 0);
    assert_int_equal(s_depth(f, "report", "tag:finance", "raw"), 2);
    s_consistent(f);
    /*  A prefix block, then both removed: everything flows again. */
    s_do(f, "block.set", "{\"qualified_name\":\"report\",\"tag\":\"fin*\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "report", "tag:finance", "raw"), 0);
    assert_int_equal(s_depth(f, "mask", "tag:finance", "raw"), 1);
    s_do(f, "block.unset", "{\"qualified_name\":\"mask\",\"tag\":\"pii\"}");
    s_do(f, "block.unset", "{\"qualified_name\":\"report\",\"tag\":\"fin*\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "report", "tag:pii", "raw"), 2);
    assert_int_equal(s_depth(f, "report", "tag:finance", "raw"), 2);
    s_consistent(f);
}

static void test_two_sources(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "s1", "t");
    s_edge(f, "s2", "m");
    s_edge(f, "m", "t");
    s_tag(f, "s1", "pii", 1);
    s_tag(f, "s2", "pii", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "t", "tag:pii", "s1"), 1);
    assert_int_equal(s_depth(f, "t", "tag:pii", "s2"), 2);
    s_tag(f, "s1", "pii", 0);
    s_walk(f);
    assert_int_equal(s_depth(f, "t", "tag:pii", "s1"), 0);
    assert_int_equal(s_depth(f, "t", "tag:pii", "s2"), 2); /* still held from s2 */
    s_consistent(f);
}

static void test_edge_deleted_in_the_middle(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "a", "b");
    s_edge(f, "b", "c");
    s_edge(f, "a", "d");
    s_edge(f, "d", "x");
    s_edge(f, "x", "c");
    s_tag(f, "a", "pii", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "c", "tag:pii", "a"), 2);
    s_do(f, "lineage.edge.delete", "{\"from\":\"b\",\"to\":\"c\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "c", "tag:pii", "a"), 3); /* the other, longer path */
    s_do(f, "lineage.edge.delete", "{\"from\":\"d\",\"to\":\"x\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "c", "tag:pii", "a"), 0);
    assert_int_equal(s_depth(f, "x", "tag:pii", "a"), 0);
    assert_int_equal(s_depth(f, "b", "tag:pii", "a"), 1);
    /*  An edge that stops propagating retracts like a deletion. */
    s_do(f, "lineage.edge", "{\"from\":\"a\",\"to\":\"b\",\"propagate\":false}");
    s_walk(f);
    assert_int_equal(s_depth(f, "b", "tag:pii", "a"), 0);
    s_consistent(f);
}

/*  Names holding "->" (the edge record's key is "from->to"): the record's
    own from/to are what count. */
static void test_arrow_names(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "x->y", "p->q");
    s_tag(f, "x->y", "pii", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "p->q", "tag:pii", "x->y"), 1);
    s_do(f, "lineage.edge.delete", "{\"from\":\"x->y\",\"to\":\"p->q\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "p->q", "tag:pii", "x->y"), 0);
    s_consistent(f);
    /*  A fence can only set a mark, never a follower's cursor. */
    char json[256], err[256];
    sl_event_t ev;
    sl_buf_t scratch = {0};
    sl_store_batch_t *b;
    sl_apply_t r;
    snprintf(json, sizeof json,
             "{\"tenant\":\"" T "\",\"kind\":\"propagation.fence\",\"body\":"
             "{\"consumer\":\"walker/0\",\"token\":99}}");
    assert_int_equal(sl_event_from_json(json, strlen(json), &ev, &scratch, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_batch_begin(f->s, &b), SL_OK);
    assert_int_equal(sl_store_apply(b, &ev, &r, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_batch_commit(&b), SL_OK);
    assert_int_equal(r, SL_APPLY_DEAD);
    assert_non_null(strstr(err, ".fence/"));
    uint64_t cur = 7;
    assert_int_equal(sl_store_cursor_get(f->s, T, "walker/0", &cur), SL_OK);
    assert_int_equal(cur, 0);
    sl_buf_free(&scratch);
}

static void test_new_edge_carries_inherited(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "z", "a");
    s_tag(f, "z", "pii", 1);
    s_tag(f, "a", "gold", 1);
    s_walk(f);
    s_edge(f, "a", "b");
    s_edge(f, "b", "c");
    s_walk(f);
    assert_int_equal(s_depth(f, "c", "tag:gold", "a"), 2);
    assert_int_equal(s_depth(f, "c", "tag:pii", "z"), 3);
    s_consistent(f);
}

static void test_incident_resolved(void **state)
{
    s_fix_t *f = *state;
    s_edge(f, "src", "mid");
    s_edge(f, "mid", "dash");
    s_do(f, "incident.upsert",
         "{\"source\":\"mc\",\"external_id\":\"i1\",\"qualified_names\":[\"src\"],"
         "\"severity\":\"SEV-1\",\"updated_at\":\"2026-11-25T09:00:00Z\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "dash", "incident:mc/i1", "src"), 2);
    sl_buf_t b = {0};
    assert_int_equal(sl_store_asset_json(f->s, T, "dash", &b), SL_OK);
    json_t *a = json_loadb((const char *)b.data, b.len, 0, NULL);
    json_t *inc = json_object_get(a, "incidents");
    assert_int_equal(json_array_size(json_object_get(inc, "upstream")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(inc, "upstream_by_severity"), "SEV-1")),
        1);
    json_decref(a);
    sl_buf_free(&b);
    s_do(f, "incident.upsert",
         "{\"source\":\"mc\",\"external_id\":\"i1\",\"status\":\"resolved\","
         "\"updated_at\":\"2026-11-25T10:00:00Z\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "dash", "incident:mc/i1", "src"), 0);
    assert_int_equal(s_depth(f, "mid", "incident:mc/i1", "src"), 0);
    s_consistent(f);
}

static void test_policy(void **state)
{
    s_fix_t *f = *state;
    s_policy(f, "{\"*\":{\"max_depth\":1,\"edge_types\":[\"data\"],\"owners\":true,"
                "\"description\":true,\"tags\":[\"pii\",\"class.*\"]}}");
    s_edge(f, "a", "b");
    s_edge(f, "b", "c");
    s_do(f, "lineage.edge", "{\"from\":\"a\",\"to\":\"k\",\"type\":\"control\"}");
    s_tag(f, "a", "pii", 1);
    s_tag(f, "a", "class.secret", 1);
    s_tag(f, "a", "other", 1);
    s_do(f, "tag.set", "{\"qualified_name\":\"a\",\"tag\":\"local\",\"propagate\":false}");
    s_do(f, "asset.upsert",
         "{\"qualified_name\":\"a\",\"description\":\"orders\",\"owners\":[\"ann\"]}");
    s_do(f, "asset.upsert", "{\"qualified_name\":\"b\",\"description\":\"\"}");
    s_walk(f);
    assert_int_equal(s_depth(f, "b", "tag:pii", "a"), 1);
    assert_int_equal(s_depth(f, "b", "tag:class.secret", "a"), 1);
    assert_int_equal(s_depth(f, "b", "tag:other", "a"), 0); /* not in the policy */
    assert_int_equal(s_depth(f, "b", "tag:local", "a"), 0); /* propagate: false */
    assert_int_equal(s_depth(f, "c", "tag:pii", "a"), 0);   /* max_depth 1 */
    assert_int_equal(s_depth(f, "k", "tag:pii", "a"), 0);   /* a control edge */
    assert_int_equal(s_depth(f, "b", "owner:ann", "a"), 1);
    sl_buf_t b = {0};
    assert_int_equal(sl_store_asset_json(f->s, T, "b", &b), SL_OK);
    json_t *doc = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "description")), "orders");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "propagated_owners"), 0), "owner")),
                        "ann");
    json_decref(doc);
    sl_buf_free(&b);
    /*  Owner changed at the source: the old copy goes, the new one comes. */
    s_do(f, "owner.set", "{\"qualified_name\":\"a\",\"owners\":[\"bob\"]}");
    s_walk(f);
    assert_int_equal(s_depth(f, "b", "owner:ann", "a"), 0);
    assert_int_equal(s_depth(f, "b", "owner:bob", "a"), 1);
    s_consistent(f);
    /*  A tag set on a descendant only ever flows down from there. */
    s_tag(f, "b", "pii", 1);
    s_walk(f);
    assert_int_equal(s_depth(f, "c", "tag:pii", "b"), 1);
    s_consistent(f);
}

/*  A closure handed out in slices gives the same operations as at once,
    and the store ends in the same state. */
static int s_count_set(void *arg, const sl_prop_op_t *op)
{
    ((uint64_t *)arg)[op->set]++;
    return 0;
}

static void test_job_slices(void **state)
{
    s_fix_t *f = *state;
    char from[16], to[16];
    for (int i = 0; i < 10; i++) {
        snprintf(from, sizeof from, "c%d", i);
        snprintf(to, sizeof to, "c%d", i + 1);
        s_edge(f, from, to);
    }
    s_tag(f, "c0", "pii", 1);
    sl_store_view_t *v;
    sl_prop_job_t *job = NULL;
    uint64_t ops[2] = {0, 0};
    size_t done = 0;
    int slices = 0, rc;
    assert_int_equal(sl_store_view_begin(f->s, T, &v), SL_OK);
    assert_int_equal(
        sl_prop_job_start(v, sl_prop_policy_for(f->pol, T), "tag:pii", "c0", NULL, &job), SL_OK);
    sl_store_view_end(&v); /* emit reads nothing */
    assert_true(sl_prop_job_bytes(job) > 0);
    while ((rc = sl_prop_job_emit(job, 3, s_count_set, ops, &done)) == 0) {
        assert_int_equal(done, 3);
        slices++;
    }
    assert_int_equal(rc, 1);
    assert_int_equal(slices, 3); /* 3 + 3 + 3, then the last 1 */
    assert_int_equal(done, 1);
    assert_int_equal(ops[1], 10);
    assert_int_equal(ops[0], 0);
    sl_prop_job_free(&job);
    s_walk(f);
    assert_int_equal(s_depth(f, "c10", "tag:pii", "c0"), 10);
    s_consistent(f);
}

static void test_policy_errors(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"[1]", ""},
        {"{\"*\":{\"tags\":3}}", "/*/tags"},
        {"{\"*\":{\"color\":true}}", "/*/color"},
        {"{\"acme\":{\"max_depth\":-1}}", "/acme/max_depth"},
        {"{\"acme\":{\"edge_types\":[\"\"]}}", "/acme/edge_types/0"},
        {"{\"bad tenant\":{}}", "/bad tenant"},
        {"{\"acme\":{\"owners\":\"yes\"}}", "/acme/owners"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_prop_policies_t *p = NULL;
        char err[256] = "", where[64] = "";
        assert_int_equal(
            sl_prop_policies_parse(bad[i][0], &p, err, sizeof err, where, sizeof where), SL_EINVAL);
        assert_null(p);
        assert_true(err[0]);
        assert_string_equal(where, bad[i][1]);
    }
    /*  A tenant's entry overrides only what it gives. */
    sl_prop_policies_t *p = NULL;
    char err[256];
    assert_int_equal(sl_prop_policies_parse("{\"*\":{\"owners\":true},\"beta\":{\"tags\":false}}",
                                            &p, err, sizeof err, NULL, 0),
                     SL_OK);
    assert_true(sl_prop_policy_allows(sl_prop_policy_for(p, "beta"), "owner:x"));
    assert_false(sl_prop_policy_allows(sl_prop_policy_for(p, "beta"), "tag:x"));
    assert_true(sl_prop_policy_allows(sl_prop_policy_for(p, "acme"), "tag:x"));
    assert_true(sl_prop_policy_allows(sl_prop_policy_for(p, "acme"), "incident:mc/1"));
    assert_false(sl_prop_policy_allows(sl_prop_policy_for(p, "acme"), "description"));
    sl_prop_policies_free(&p);
}

/* ------------------------------------------------------- property test */

#define PN 14 /* assets */
#define PTAGS 2

typedef struct {
    int edge[PN][PN]; /* 0 none, 1 propagating, 2 not propagating */
    int tag[PN][PTAGS];
    int block[PN][PTAGS];
    int inc[PN]; /* an open incident on the asset */
} s_model_t;

static uint64_t s_rng = 88172645463325252ull;
static unsigned s_rand(unsigned n)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (unsigned)(s_rng % n);
}

/*  Expected depth of value (tag t, or the incident when t < 0) from src at
    dst: BFS on the model. */
static void s_model_bfs(const s_model_t *m, int src, int t, int depth[PN])
{
    int q[PN], qh = 0, qt = 0;
    for (int i = 0; i < PN; i++) {
        depth[i] = -1;
    }
    depth[src] = 0;
    q[qt++] = src;
    while (qh < qt) {
        int u = q[qh++];
        for (int v = 0; v < PN; v++) {
            if (m->edge[u][v] == 1 && depth[v] < 0 && !(t >= 0 && m->block[v][t])) {
                depth[v] = depth[u] + 1;
                q[qt++] = v;
            }
        }
    }
}

static void s_model_check(s_fix_t *f, const s_model_t *m, int step)
{
    static const char *const tags[PTAGS] = {"tag:t0", "tag:t1"};
    char src[8], dst[8], inc[32];
    for (int s = 0; s < PN; s++) {
        snprintf(src, sizeof src, "n%d", s);
        snprintf(inc, sizeof inc, "incident:mc/i%d", s);
        for (int t = -1; t < PTAGS; t++) {
            int depth[PN];
            int origin = t < 0 ? m->inc[s] : m->tag[s][t];
            s_model_bfs(m, s, t, depth);
            for (int d = 0; d < PN; d++) {
                if (d == s) {
                    continue;
                }
                snprintf(dst, sizeof dst, "n%d", d);
                int want = origin && depth[d] > 0 ? depth[d] : 0;
                int got = s_depth(f, dst, t < 0 ? inc : tags[t], src);
                if (want != got) {
                    fail_msg("step %d: %s from %s at %s: want depth %d, got %d", step,
                             t < 0 ? inc : tags[t], src, dst, want, got);
                }
            }
        }
    }
}

static void test_property(void **state)
{
    s_fix_t *f = *state;
    s_model_t m;
    char body[256];
    memset(&m, 0, sizeof m);
    for (int i = 0; i < PN; i++) {
        snprintf(body, sizeof body, "{\"qualified_name\":\"n%d\"}", i);
        s_do(f, "asset.upsert", body);
    }
    for (int step = 0; step < 300; step++) {
        int a = (int)s_rand(PN), b = (int)s_rand(PN), t = (int)s_rand(PTAGS);
        switch (s_rand(7)) {
        case 0:
        case 1: /* add an edge (cycles allowed), sometimes not propagating */
            if (a == b) {
                break;
            }
            m.edge[a][b] = s_rand(5) == 0 ? 2 : 1;
            snprintf(body, sizeof body, "{\"from\":\"n%d\",\"to\":\"n%d\",\"propagate\":%s}", a, b,
                     m.edge[a][b] == 1 ? "true" : "false");
            s_do(f, "lineage.edge", body);
            break;
        case 2: /* delete one */
            m.edge[a][b] = 0;
            snprintf(body, sizeof body, "{\"from\":\"n%d\",\"to\":\"n%d\"}", a, b);
            s_do(f, "lineage.edge.delete", body);
            break;
        case 3: /* tag set / unset */
            m.tag[a][t] = !m.tag[a][t];
            snprintf(body, sizeof body, "{\"qualified_name\":\"n%d\",\"tag\":\"t%d\"}", a, t);
            s_do(f, m.tag[a][t] ? "tag.set" : "tag.unset", body);
            break;
        case 4: /* block / unblock */
            m.block[a][t] = !m.block[a][t];
            snprintf(body, sizeof body, "{\"qualified_name\":\"n%d\",\"tag\":\"t%d\"}", a, t);
            s_do(f, m.block[a][t] ? "block.set" : "block.unset", body);
            break;
        default: /* incident open / resolve */
            m.inc[a] = !m.inc[a];
            snprintf(body, sizeof body,
                     "{\"source\":\"mc\",\"external_id\":\"i%d\",\"qualified_names\":[\"n%d\"],"
                     "\"status\":\"%s\",\"updated_at\":%d}",
                     a, a, m.inc[a] ? "open" : "resolved", 1000000 + step);
            s_do(f, "incident.upsert", body);
            break;
        }
        /*  Sometimes several changes pile up before the walker runs. */
        if (s_rand(3) != 0) {
            s_walk(f);
            s_model_check(f, &m, step);
        }
    }
    s_walk(f);
    s_model_check(f, &m, 300);
    s_consistent(f);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_and_unset, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_diamond_and_cycle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_blocks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_two_sources, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_edge_deleted_in_the_middle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_new_edge_carries_inherited, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_arrow_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_incident_resolved, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_policy, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_job_slices, s_setup, s_teardown),
        cmocka_unit_test(test_policy_errors),
        cmocka_unit_test_setup_teardown(test_property, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_property, s_setup_lmdb, s_teardown),
        cmocka_unit_test_setup_teardown(test_edge_deleted_in_the_middle, s_setup_lmdb, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
