/*  Unit tests for schemas: the validator over the corpus of
    tests/schema/cases/ (one file per keyword: a schema, valid documents,
    invalid documents with the exact expected error), the compatibility
    cases of tests/schema/compat/, compile errors, malformed msgpack, the
    registry and the shipped schemas/ with real-shaped bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sluice/mpjson.h"
#include "sluice/schema.h"

#define CASES_DIR SL_SOURCE_DIR "/tests/schema/cases"
#define COMPAT_DIR SL_SOURCE_DIR "/tests/schema/compat"
#define SCHEMAS_DIR SL_SOURCE_DIR "/schemas"

static sl_schema_t *s_compile_json(json_t *j, const char *origin)
{
    char err[512] = "";
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    sl_schema_t *s = sl_schema_compile(text, strlen(text), origin, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s: compile failed: %s\n", origin, err);
    }
    free(text);
    assert_non_null(s);
    return s;
}

static int s_validate_json(const sl_schema_t *s, json_t *doc, char *err, size_t errlen)
{
    sl_buf_t mp = {0};
    assert_int_equal(sl_jansson_to_msgpack(doc, &mp), SL_OK);
    int rc = sl_schema_validate(s, mp.data, mp.len, "body", err, errlen);
    sl_buf_free(&mp);
    return rc;
}

static int s_validate_text(const sl_schema_t *s, const char *json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loads(json, 0, &je);
    assert_non_null(doc);
    int rc = s_validate_json(s, doc, err, errlen);
    json_decref(doc);
    return rc;
}

static void test_cases(void **state)
{
    DIR *d = opendir(CASES_DIR);
    struct dirent *e;
    int files = 0, valid = 0, invalid = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".json")) {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", CASES_DIR, e->d_name);
        json_error_t je;
        json_t *c = json_load_file(path, 0, &je);
        if (!c) {
            fprintf(stderr, "%s:%d: %s\n", path, je.line, je.text);
        }
        assert_non_null(c);
        sl_schema_t *s = s_compile_json(json_object_get(c, "schema"), e->d_name);
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(c, "valid"), i, v)
        {
            char err[512] = "";
            int rc = s_validate_json(s, v, err, sizeof err);
            if (rc != SL_OK) {
                fprintf(stderr, "%s: valid[%zu] rejected: %s\n", e->d_name, i, err);
            }
            assert_int_equal(rc, SL_OK);
            valid++;
        }
        json_array_foreach(json_object_get(c, "invalid"), i, v)
        {
            char err[512] = "";
            const char *want = json_string_value(json_object_get(v, "error"));
            int rc = s_validate_json(s, json_object_get(v, "doc"), err, sizeof err);
            if (rc != SL_EINVAL || strcmp(err, want) != 0) {
                fprintf(stderr, "%s: invalid[%zu]: rc %d, got '%s', want '%s'\n", e->d_name, i, rc,
                        err, want);
            }
            assert_int_equal(rc, SL_EINVAL);
            assert_string_equal(err, want);
            invalid++;
        }
        sl_schema_destroy(&s);
        sl_schema_destroy(&s); /* safe twice */
        json_decref(c);
        files++;
    }
    closedir(d);
    assert_true(files >= 11);
    assert_true(valid >= 40);
    assert_true(invalid >= 50);
}

static int s_mode_rc(const sl_schema_t *o, const sl_schema_t *n, sl_compat_t m, sl_buf_t *rep)
{
    int rc = sl_schema_compat(o, n, m, rep);
    assert_true(rc == SL_OK || rc == SL_EINVAL);
    return rc == SL_OK;
}

static void test_compat_cases(void **state)
{
    DIR *d = opendir(COMPAT_DIR);
    struct dirent *e;
    int files = 0;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".json")) {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", COMPAT_DIR, e->d_name);
        json_error_t je;
        json_t *c = json_load_file(path, 0, &je);
        assert_non_null(c);
        sl_schema_t *o = s_compile_json(json_object_get(c, "old"), "old");
        sl_schema_t *n = s_compile_json(json_object_get(c, "new"), "new");
        int bw = s_mode_rc(o, n, SL_COMPAT_BACKWARD, NULL);
        int fw = s_mode_rc(o, n, SL_COMPAT_FORWARD, NULL);
        sl_buf_t rep = {0};
        int full = s_mode_rc(o, n, SL_COMPAT_FULL, &rep);
        assert_int_equal(s_mode_rc(o, n, SL_COMPAT_NONE, NULL), 1);
        sl_buf_append(&rep, "", 1);
        if (bw != json_is_true(json_object_get(c, "backward")) ||
            fw != json_is_true(json_object_get(c, "forward")) ||
            full != json_is_true(json_object_get(c, "full"))) {
            fprintf(stderr, "%s: backward %d forward %d full %d\n%s", e->d_name, bw, fw, full,
                    (char *)rep.data);
        }
        assert_int_equal(bw, json_is_true(json_object_get(c, "backward")));
        assert_int_equal(fw, json_is_true(json_object_get(c, "forward")));
        assert_int_equal(full, json_is_true(json_object_get(c, "full")));
        /*  The full report names exactly the expected lines (any order). */
        size_t i, lines = 0;
        json_t *want;
        for (const char *p = (char *)rep.data; *p; p++) {
            lines += *p == '\n';
        }
        json_array_foreach(json_object_get(c, "report"), i, want)
        {
            char line[600];
            snprintf(line, sizeof line, "%s\n", json_string_value(want));
            if (!strstr((char *)rep.data, line)) {
                fprintf(stderr, "%s: report lacks '%s':\n%s", e->d_name, json_string_value(want),
                        (char *)rep.data);
            }
            assert_non_null(strstr((char *)rep.data, line));
        }
        if (lines != json_array_size(json_object_get(c, "report"))) {
            fprintf(stderr, "%s: report:\n%s", e->d_name, (char *)rep.data);
        }
        assert_int_equal(lines, json_array_size(json_object_get(c, "report")));
        sl_buf_free(&rep);
        sl_schema_destroy(&o);
        sl_schema_destroy(&n);
        json_decref(c);
        files++;
    }
    closedir(d);
    assert_true(files >= 8);
}

static void s_bad(const char *text, const char *want)
{
    char err[512] = "";
    sl_schema_t *s = sl_schema_compile(text, strlen(text), "t.yaml", err, sizeof err);
    if (s || !strstr(err, want)) {
        fprintf(stderr, "schema '%s': got '%s', want '%s'\n", text, err, want);
    }
    assert_null(s);
    assert_non_null(strstr(err, want));
}

static void test_compile_errors(void **state)
{
    s_bad("type: object\nproperties: {a: {tpye: string}}\n",
          "t.yaml: properties.a: unknown keyword 'tpye'");
    s_bad("type: strnig\n", "type: unknown type 'strnig'");
    s_bad("enum: []\n", "enum: expected a non-empty list");
    s_bad("pattern: \"a(\"\n", "pattern:");
    s_bad("minLength: -1\n", "minLength: expected a non-negative integer");
    s_bad("minLength: 3\nmaxLength: 2\n", "minLength is greater than maxLength");
    s_bad("minItems: 1.5\n", "minItems: expected a non-negative integer");
    s_bad("minimum: x\n", "minimum: expected a number");
    s_bad("format: ipv4\n", "format: expected date-time, uuid, uri or email");
    s_bad("items: [ {type: string} ]\n", "tuple forms are not supported");
    s_bad("additionalProperties: 3\n", "additionalProperties: expected true, false or a schema");
    s_bad("properties: {a: {$ref: \"#/$defs/nope\"}}\n", "$ref '#/$defs/nope': not found");
    s_bad("$defs: {a: {$ref: \"#/$defs/b\"}, b: {$ref: \"#/$defs/a\"}}\n$ref: \"#/$defs/a\"\n",
          "a cycle of references");
    s_bad("$ref: \"#\"\n", "a cycle of references");
    s_bad("properties: {a: {$defs: {}}}\n", "only at the top level");
    s_bad("required: [a, a]\n", "'a' listed twice");
    s_bad("type: [string\n", "t.yaml:2:1:");
    s_bad("a: &x 1\nb: *x\n", "aliases are not supported");
    s_bad("a: 1\na: 2\n", "duplicate key");
    s_bad("{\"type\": \"object\",}", "t.yaml:1:");
    s_bad("version: 0\n", "version: expected a positive integer");
    s_bad("name: a@b\n", "name: expected a non-empty string without '@'");
    s_bad("compatibility: sideways\n", "compatibility: expected backward, forward, full or none");
    s_bad("", "empty schema");
    s_bad("- 1\n- 2\n", "expected a schema");
    s_bad("--- {}\n--- {}\n", "one document per schema file");
}

static void test_yaml_and_names(void **state)
{
    const char *y = "name: thing\nversion: 3\ncompatibility: full\ntype: object\n"
                    "required: [n, ok]\nproperties:\n  n: {type: integer, maximum: 10}\n"
                    "  ok: {type: boolean}\n  x: {type: number}\n  s: {type: string}\n"
                    "  z: {type: 'null'}\n";
    char err[256];
    sl_schema_t *s = sl_schema_compile(y, strlen(y), "y", err, sizeof err);
    assert_non_null(s);
    assert_string_equal(sl_schema_name(s), "thing");
    assert_int_equal(sl_schema_version(s), 3);
    assert_int_equal(sl_schema_compat_mode(s), SL_COMPAT_FULL);
    assert_int_equal(s_validate_text(s,
                                     "{\"n\": 3, \"ok\": true, \"x\": 1e3, \"s\": \"true\","
                                     " \"z\": null}",
                                     err, sizeof err),
                     SL_OK);
    assert_int_equal(s_validate_text(s, "{\"n\": 11, \"ok\": true}", err, sizeof err), SL_EINVAL);
    assert_string_equal(err, "body.n: must be <= 10");
    /*  No prefix: the path starts at the key. */
    sl_buf_t mp = {0};
    json_t *doc = json_loads("{\"n\": 1}", 0, NULL);
    sl_jansson_to_msgpack(doc, &mp);
    assert_int_equal(sl_schema_validate(s, mp.data, mp.len, NULL, err, sizeof err), SL_EINVAL);
    assert_string_equal(err, "ok: required");
    json_decref(doc);
    sl_buf_free(&mp);
    /*  An empty body is the empty map. */
    assert_int_equal(sl_schema_validate(s, NULL, 0, "body", err, sizeof err), SL_EINVAL);
    assert_string_equal(err, "body.n: required");
    sl_schema_destroy(&s);

    sl_compat_t m;
    assert_int_equal(sl_compat_parse("FORWARD", &m), SL_OK);
    assert_int_equal(m, SL_COMPAT_FORWARD);
    assert_int_equal(sl_compat_parse("sideways", &m), SL_EINVAL);
    assert_string_equal(sl_compat_name(SL_COMPAT_FULL), "full");
}

static void test_malformed_msgpack(void **state)
{
    const char *y = "type: object\nproperties: {a: {type: array, items: {type: string}}}\n";
    char err[256];
    sl_schema_t *s = sl_schema_compile(y, strlen(y), "y", err, sizeof err);
    assert_non_null(s);
    /*  {"a": ["xy"]} and every truncation of it. */
    const uint8_t good[] = {0x81, 0xa1, 'a', 0x91, 0xa2, 'x', 'y'};
    assert_int_equal(sl_schema_validate(s, good, sizeof good, "body", err, sizeof err), SL_OK);
    for (size_t n = 1; n < sizeof good; n++) {
        int rc = sl_schema_validate(s, good, n, "body", err, sizeof err);
        assert_int_equal(rc, SL_EPROTO);
    }
    /*  Trailing bytes, a reserved byte, a lying array32 count. */
    const uint8_t trail[] = {0x80, 0x00};
    assert_int_equal(sl_schema_validate(s, trail, sizeof trail, "body", err, sizeof err),
                     SL_EPROTO);
    const uint8_t reserved[] = {0x81, 0xa1, 'a', 0xc1};
    assert_int_equal(sl_schema_validate(s, reserved, sizeof reserved, "body", err, sizeof err),
                     SL_EPROTO);
    const uint8_t huge[] = {0x81, 0xa1, 'b', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(sl_schema_validate(s, huge, sizeof huge, "body", err, sizeof err), SL_EPROTO);
    /*  Non-string keys and bin values are reported, not crashed on. */
    const uint8_t intkey[] = {0x81, 0x01, 0x02};
    assert_int_equal(sl_schema_validate(s, intkey, sizeof intkey, "body", err, sizeof err),
                     SL_EINVAL);
    assert_string_equal(err, "body: keys must be strings");
    const uint8_t bin[] = {0x81, 0xa1, 'a', 0x91, 0xc4, 0x01, 0x00};
    assert_int_equal(sl_schema_validate(s, bin, sizeof bin, "body", err, sizeof err), SL_EINVAL);
    assert_string_equal(err, "body.a[0]: expected a string");
    /*  Deep nesting with a recursive schema stops at the depth bound. */
    const char *rec = "$defs: {n: {type: array, items: {$ref: \"#/$defs/n\"}}}\n"
                      "$ref: \"#/$defs/n\"\n";
    sl_schema_t *r = sl_schema_compile(rec, strlen(rec), "rec", err, sizeof err);
    assert_non_null(r);
    uint8_t deep[200];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x90;
    assert_int_equal(sl_schema_validate(r, deep, sizeof deep, "body", err, sizeof err), SL_EPROTO);
    assert_int_equal(sl_schema_validate(r, deep + 180, 20, "body", err, sizeof err), SL_OK);
    sl_schema_destroy(&r);
    sl_schema_destroy(&s);
}

static void test_registry_and_shipped(void **state)
{
    char err[512] = "";
    sl_schema_registry_t *r = sl_schema_registry_load(SCHEMAS_DIR, err, sizeof err);
    if (!r) {
        fprintf(stderr, "registry: %s\n", err);
    }
    assert_non_null(r);
    static const char *const kinds[] = {"asset.upsert",        "asset.delete",   "tag.set",
                                        "tag.unset",           "owner.set",      "lineage.edge",
                                        "lineage.edge.delete", "incident.upsert"};
    assert_int_equal(sl_schema_registry_count(r), 8);
    for (size_t i = 0; i < 8; i++) {
        char ref[64];
        snprintf(ref, sizeof ref, "%s@1", kinds[i]);
        assert_non_null(sl_schema_registry_ref(r, ref));
        assert_non_null(sl_schema_registry_ref(r, kinds[i]));
        assert_ptr_equal(sl_schema_registry_find(r, kinds[i], 1), sl_schema_registry_ref(r, ref));
    }
    assert_null(sl_schema_registry_ref(r, "tag.set@2"));
    assert_null(sl_schema_registry_ref(r, "tag.set@x"));
    assert_null(sl_schema_registry_ref(r, "nope@1"));
    const sl_schema_t *inc = sl_schema_registry_ref(r, "incident.upsert@1");
    const char *good =
        "{\"source\":\"montecarlo\",\"external_id\":\"inc-7f3a\",\"qualified_names\":"
        "[\"snowflake://acme-prod/analytics/raw/orders\"],\"type\":\"freshness_anomaly\","
        "\"sub_types\":[\"freshness\"],\"title\":\"orders not updated for 6 hours\","
        "\"severity\":\"SEV-2\",\"priority\":\"P2\",\"status\":\"open\",\"source_status\":"
        "\"no_status\",\"owner\":\"data-eng@acme.com\",\"url\":"
        "\"https://getmontecarlo.com/incidents/inc-7f3a\",\"created_at\":"
        "\"2026-11-25T08:04:00Z\",\"updated_at\":\"2026-11-25T08:04:30Z\"}";
    assert_int_equal(s_validate_text(inc, good, err, sizeof err), SL_OK);
    assert_int_equal(s_validate_text(inc,
                                     "{\"source\":\"mc\",\"external_id\":\"1\","
                                     "\"severity\":\"SEV-5\"}",
                                     err, sizeof err),
                     SL_EINVAL);
    assert_string_equal(err, "body.severity: must be one of SEV-1, SEV-2, SEV-3, SEV-4, null");
    assert_int_equal(s_validate_text(inc,
                                     "{\"source\":\"mc\",\"external_id\":\"1\","
                                     "\"updated_at\":\"yesterday\"}",
                                     err, sizeof err),
                     SL_EINVAL);
    assert_string_equal(err, "body.updated_at: must be a valid date-time");
    const sl_schema_t *au = sl_schema_registry_ref(r, "asset.upsert");
    assert_int_equal(
        s_validate_text(au, "{\"type\":\"table\",\"name\":\"nameless\"}", err, sizeof err),
        SL_EINVAL);
    assert_string_equal(err, "body.qualified_name: required");
    assert_int_equal(s_validate_text(au, "{\"qualified_name\":\"a\",\"owners\":[\"x\",\"y\",3]}",
                                     err, sizeof err),
                     SL_EINVAL);
    assert_string_equal(err, "body.owners[2]: expected a string");
    /*  Every shipped schema is compatible with itself in every mode. */
    for (int i = 0; i < sl_schema_registry_count(r); i++) {
        const sl_schema_t *s = sl_schema_registry_at(r, i);
        assert_int_equal(sl_schema_compat(s, s, SL_COMPAT_FULL, NULL), SL_OK);
    }
    sl_schema_registry_destroy(&r);
    sl_schema_registry_destroy(&r);

    /*  A directory with a duplicate name@version, or a nameless file. */
    char dir[] = "/tmp/sl-schema-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/a.yaml", dir);
    snprintf(p2, sizeof p2, "%s/b.json", dir);
    FILE *f = fopen(p1, "w");
    fputs("name: x\nversion: 1\ntype: object\n", f);
    fclose(f);
    f = fopen(p2, "w");
    fputs("{\"name\": \"x\", \"version\": 1}", f);
    fclose(f);
    r = sl_schema_registry_load(dir, err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, "x@1 is also defined in"));
    f = fopen(p2, "w");
    fputs("{\"name\": \"x\", \"version\": 2, \"type\": \"object\", \"required\": [\"q\"]}", f);
    fclose(f);
    r = sl_schema_registry_load(dir, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(sl_schema_version(sl_schema_registry_ref(r, "x")), 2);
    sl_schema_registry_destroy(&r);
    f = fopen(p2, "w");
    fputs("{\"type\": \"object\"}", f);
    fclose(f);
    r = sl_schema_registry_load(dir, err, sizeof err);
    assert_null(r);
    assert_non_null(strstr(err, "needs `name` and `version`"));
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    assert_null(sl_schema_registry_load("/nonexistent/dir", err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_compat_cases),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_yaml_and_names),
        cmocka_unit_test(test_malformed_msgpack),
        cmocka_unit_test(test_registry_and_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
