/*  Unit tests for transforms (core/transform.c): golden files in
    tests/transform/ (YAML), bad rules with their JSON Pointer, a bad rule
    reported by the topology loader at FILE:LINE:COL, malformed bodies.

    A golden file is YAML:
      rules: [...]                 the shared rules
      tenants: {acme: [...]}       optional
      cases:                       each: an input event and what comes out
        - in: {tenant, kind, key, body}
          out: {tenant, kind, key, body}   fields given must be equal
                                           (body as a whole)
          route: route1                    optional: the output (default out)
          dropped: true                    instead of out: filtered away
      errors:                      optional: rule lists that must not compile
        - rules: [...]             (or tenants: {...})
          where: /0/rename/to
          message: "rule 1: ..."   a substring of the reason */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sluice/mpjson.h"
#include "sluice/topology.h"
#include "sluice/transform.h"

#define GOLDEN_DIR SL_SOURCE_DIR "/tests/transform"

static const char *const s_outputs[] = {"out",    "route1", "route2", "route3", "route4",
                                        "route5", "route6", "route7", "route8", NULL};

/* --- YAML to jansson (plain scalars typed as YAML 1.2 core) --------------- */

static json_t *s_yaml_node(yaml_document_t *doc, yaml_node_t *n)
{
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)n->data.scalar.value;
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
            return json_string(v);
        }
        if (strcmp(v, "true") == 0) {
            return json_true();
        }
        if (strcmp(v, "false") == 0) {
            return json_false();
        }
        if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || v[0] == '\0') {
            return json_null();
        }
        json_t *num = json_loads(v, JSON_DECODE_ANY, NULL);
        if (num && json_is_number(num)) {
            return num;
        }
        json_decref(num);
        return json_string(v);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            json_array_append_new(a, s_yaml_node(doc, yaml_document_get_node(doc, *it)));
        }
        return a;
    }
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        json_object_set_new(o, (const char *)k->data.scalar.value,
                            s_yaml_node(doc, yaml_document_get_node(doc, p->value)));
    }
    return o;
}

static json_t *s_yaml_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    yaml_parser_t parser;
    yaml_document_t doc;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        fail_msg("%s: YAML error at line %zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem);
    }
    json_t *j = s_yaml_node(&doc, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return j;
}

/* --- events --------------------------------------------------------------- */

static sl_slice_t s_str(json_t *o, const char *k, const char *def)
{
    json_t *v = json_object_get(o, k);
    const char *s = v ? json_string_value(v) : def;
    return (sl_slice_t){s, (uint32_t)strlen(s)};
}

/*  Build an event from {tenant, kind, key, body}; body bytes go in buf. */
static void s_event(json_t *in, sl_event_t *ev, sl_buf_t *buf)
{
    memset(ev, 0, sizeof *ev);
    ev->version = 1;
    ev->tenant = s_str(in, "tenant", "default");
    ev->kind = s_str(in, "kind", "tag.set");
    ev->key = s_str(in, "key", "");
    json_t *body = json_object_get(in, "body");
    sl_buf_reset(buf);
    if (body) {
        assert_int_equal(sl_jansson_to_msgpack(body, buf), 0);
        ev->body = (sl_slice_t){(const char *)buf->data, (uint32_t)buf->len};
    }
}

static void s_expect_slice(const char *file, int i, const char *what, json_t *want, sl_slice_t got)
{
    if (!want) {
        return;
    }
    const char *w = json_string_value(want);
    if (strlen(w) != got.len || memcmp(w, got.ptr, got.len) != 0) {
        fail_msg("%s case %d: %s: want '%s', got '%.*s'", file, i + 1, what, w, (int)got.len,
                 got.ptr);
    }
}

static void s_case(const char *file, int i, sl_transform_t *t, json_t *c)
{
    sl_buf_t buf = {0};
    sl_event_t in, out;
    s_event(json_object_get(c, "in"), &in, &buf);
    int output = -5;
    int rc = sl_transform_run(t, &in, &out, &output);
    if (rc) {
        fail_msg("%s case %d: run failed: %s", file, i + 1, sl_strerror(rc));
    }
    if (json_is_true(json_object_get(c, "dropped"))) {
        if (output != SL_TRANSFORM_DROPPED) {
            fail_msg("%s case %d: expected dropped, went to %s", file, i + 1,
                     output >= 0 ? s_outputs[output] : "?");
        }
        sl_buf_free(&buf);
        return;
    }
    if (output < 0) {
        fail_msg("%s case %d: dropped, expected an event", file, i + 1);
    }
    json_t *route = json_object_get(c, "route");
    const char *want_out = route ? json_string_value(route) : "out";
    if (strcmp(s_outputs[output], want_out) != 0) {
        fail_msg("%s case %d: output %s, expected %s", file, i + 1, s_outputs[output], want_out);
    }
    json_t *exp = json_object_get(c, "out");
    if (exp) {
        s_expect_slice(file, i, "tenant", json_object_get(exp, "tenant"), out.tenant);
        s_expect_slice(file, i, "kind", json_object_get(exp, "kind"), out.kind);
        s_expect_slice(file, i, "key", json_object_get(exp, "key"), out.key);
        json_t *want = json_object_get(exp, "body");
        if (want) {
            json_t *got = out.body.len
                              ? sl_msgpack_to_jansson((const uint8_t *)out.body.ptr, out.body.len)
                              : json_object();
            assert_non_null(got);
            if (!json_equal(want, got)) {
                char *ws = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
                char *gs = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
                fail_msg("%s case %d: body\n  want %s\n  got  %s", file, i + 1, ws, gs);
            }
            json_decref(got);
        }
    }
    sl_buf_free(&buf);
}

static char *s_dump(json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void s_errors(const char *file, json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        char *rules = s_dump(json_object_get(e, "rules"));
        char *tenants = s_dump(json_object_get(e, "tenants"));
        sl_transform_t *t = NULL;
        sl_transform_err_t err;
        int rc = sl_transform_new(&t, rules ? rules : "[]", tenants, s_outputs, &err);
        if (rc != SL_EINVAL) {
            fail_msg("%s error %zu: compiled (rc %d), expected an error", file, i + 1, rc);
        }
        const char *where = json_string_value(json_object_get(e, "where"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (where && strcmp(where, err.where) != 0) {
            fail_msg("%s error %zu: where '%s', expected '%s' (%s)", file, i + 1, err.where, where,
                     err.msg);
        }
        if (msg && !strstr(err.msg, msg)) {
            fail_msg("%s error %zu: message '%s' lacks '%s'", file, i + 1, err.msg, msg);
        }
        /* the same through sl_transform_check */
        sl_transform_err_t e2;
        assert_int_equal(sl_transform_check(tenants ? "tenants" : "rules",
                                            tenants ? tenants : rules, s_outputs, &e2),
                         SL_EINVAL);
        assert_string_equal(e2.where, err.where);
        free(rules);
        free(tenants);
    }
}

static void test_golden(void **st)
{
    DIR *d = opendir(GOLDEN_DIR);
    assert_non_null(d);
    struct dirent *de;
    int files = 0, cases = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0) {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, de->d_name);
        json_t *g = s_yaml_file(path);
        files++;
        json_t *rules = json_object_get(g, "rules");
        if (rules) {
            char *rs = s_dump(rules);
            char *ts = s_dump(json_object_get(g, "tenants"));
            sl_transform_t *t = NULL;
            sl_transform_err_t err;
            int rc = sl_transform_new(&t, rs, ts, s_outputs, &err);
            if (rc) {
                fail_msg("%s: rules do not compile: %s at %s", de->d_name, err.msg, err.where);
            }
            size_t i;
            json_t *c;
            json_array_foreach(json_object_get(g, "cases"), i, c)
            {
                s_case(de->d_name, (int)i, t, c);
                cases++;
            }
            sl_transform_destroy(&t);
            sl_transform_destroy(&t); /* safe twice */
            free(rs);
            free(ts);
        }
        json_t *errors = json_object_get(g, "errors");
        if (errors) {
            s_errors(de->d_name, errors);
        }
        json_decref(g);
    }
    closedir(d);
    assert_true(files >= 5);
    assert_true(cases >= 40);
}

/*  A bad rule is a topology error at the position of the part at fault. */
static void test_topology_position(void **st)
{
    const char *yaml = "version: 1\n"
                       "name: t\n"
                       "actors:\n"
                       "  gen: { kind: generate, count: 1 }\n"
                       "  tf:\n"
                       "    kind: transform\n"
                       "    inputs: [gen]\n"
                       "    rules:\n"
                       "      - rename: {from: body.a, to: body.b}\n"
                       "      - split: {field: body.id, separators: \":\", into: [body.x, bod.y]}\n"
                       "    tenants:\n"
                       "      acme:\n"
                       "        - route: {to: route9}\n"
                       "  out: { kind: blackhole, inputs: [tf, tf.route1] }\n";
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load_string("t.yaml", NULL, yaml, strlen(yaml), &e);
    assert_null(plan);
    for (int i = 0; i < e.count; i++) {
        print_message("%s\n", e.lines[i]);
    }
    assert_int_equal(e.count, 2);
    assert_non_null(strstr(e.lines[0], "t.yaml:10:65: actor 'tf', option 'rules': rule 2: "
                                       "field 'bod.y'"));
    assert_non_null(strstr(e.lines[1], "t.yaml:13:23: actor 'tf', option 'tenants': tenant "
                                       "'acme', rule 1: no output 'route9'"));
    sl_errors_free(&e);

    /* and a good one loads, with its routes usable as inputs */
    const char *good = "version: 1\n"
                       "name: t\n"
                       "actors:\n"
                       "  gen: { kind: generate, count: 1 }\n"
                       "  tf:\n"
                       "    kind: transform\n"
                       "    inputs: [gen]\n"
                       "    rules:\n"
                       "      - route: route2\n"
                       "        if: {field: kind, equals: tag.set}\n"
                       "  out: { kind: blackhole, inputs: [tf, tf.route2] }\n";
    plan = sl_topology_load_string("t.yaml", NULL, good, strlen(good), &e);
    assert_non_null(plan);
    assert_int_equal(e.count, 0);
    sl_plan_destroy(&plan);
}

/*  A body that is not a well-formed map is an error for rules that read
    it, and passes through rules that never touch it. */
static void test_malformed_body(void **st)
{
    sl_transform_t *t = NULL;
    assert_int_equal(sl_transform_new(&t, "[{\"lower\": \"body.a\"}]", NULL, s_outputs, NULL), 0);
    sl_event_t in = {.version = 1}, out;
    int output;
    static const uint8_t bad[][6] = {
        {0x81, 0xa1, 'a'}, {0x92, 1, 2}, {0x81, 0x01, 0x02}, {0x81, 0xa1, 'a', 0xc1}};
    static const size_t lens[] = {3, 3, 3, 4};
    for (size_t i = 0; i < 4; i++) {
        in.body = (sl_slice_t){(const char *)bad[i], (uint32_t)lens[i]};
        assert_true(sl_transform_run(t, &in, &out, &output) < 0);
    }
    sl_transform_destroy(&t);
    assert_int_equal(sl_transform_new(&t, "[{\"set\": {\"field\": \"kind\", \"value\": \"x\"}}]",
                                      NULL, NULL, NULL),
                     0);
    in.body = (sl_slice_t){(const char *)bad[0], 3};
    assert_int_equal(sl_transform_run(t, &in, &out, &output), 0);
    assert_int_equal(output, 0);
    assert_true(out.body.ptr == in.body.ptr); /* untouched: not re-encoded */
    assert_true(sl_slice_eq(out.kind, "x"));
    sl_transform_destroy(&t);
}

/*  Many events through one program: results stay right while the tables
    are reused (no state leaks from one event into the next). */
static void test_reuse(void **st)
{
    sl_transform_t *t = NULL;
    const char *rules =
        "[{\"set\": {\"field\": \"body.fqn\", \"value\": \"{{body.db}}.{{body.t}}\"}},"
        " {\"drop\": \"body.db\"}, {\"upper\": \"body.t\"}]";
    assert_int_equal(sl_transform_new(&t, rules, NULL, NULL, NULL), 0);
    sl_buf_t b = {0};
    for (int i = 0; i < 2000; i++) {
        char js[128];
        snprintf(js, sizeof js, "{\"body\": {\"db\": \"d%d\", \"t\": \"t%d\"}}", i, i);
        json_t *j = json_loads(js, 0, NULL);
        sl_event_t in, out;
        s_event(j, &in, &b);
        int output;
        assert_int_equal(sl_transform_run(t, &in, &out, &output), 0);
        json_t *got = sl_msgpack_to_jansson((const uint8_t *)out.body.ptr, out.body.len);
        char want[128];
        snprintf(want, sizeof want, "d%d.t%d", i, i);
        assert_string_equal(json_string_value(json_object_get(got, "fqn")), want);
        snprintf(want, sizeof want, "T%d", i);
        assert_string_equal(json_string_value(json_object_get(got, "t")), want);
        assert_null(json_object_get(got, "db"));
        json_decref(got);
        json_decref(j);
    }
    sl_buf_free(&b);
    sl_transform_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_topology_position),
        cmocka_unit_test(test_malformed_body),
        cmocka_unit_test(test_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
