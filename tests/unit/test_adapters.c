/*  Unit tests for the adapters (Monte Carlo, OpenLineage) and the name
    map: golden files under tests/adapters/ (input payload -> expected
    events), signature vectors, redelivery, size limits, mapping rules.

    Golden layout, per adapter directory (montecarlo/, openlineage/):
      <case>.json       an input body (files ending .out.json or .map.json
                        and mapping.json are not inputs)
      <case>.out.json   the expected events (a JSON array), or
      <case>.err        the expected error: "<code> <message>"
      <case>.map.json   the name map for this case (else mapping.json in
                        the directory, else none)
    SL_UPDATE_GOLDEN=1 rewrites .out.json / .err from what the adapters
    answer instead of checking; read the diff before committing it. */
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

#include "sluice/adapters.h"
#include "sluice/event.h"

#define GOLDEN_DIR SL_SOURCE_DIR "/tests/adapters"

typedef int (*s_adapter_fn)(const char *body, size_t len, const sl_name_map_t *map,
                            const char *tenant, sl_buf_t *out, char *err, size_t errlen);

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    if (len) {
        *len = (size_t)n;
    }
    return b;
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_ends(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *s_code(int rc)
{
    switch (rc) {
    case SL_EPROTO:
        return "EPROTO";
    case SL_ENOTFOUND:
        return "ENOTFOUND";
    case SL_ERANGE:
        return "ERANGE";
    case SL_EINVAL:
        return "EINVAL";
    default:
        return "OTHER";
    }
}

static sl_name_map_t *s_map_file(const char *path)
{
    size_t n;
    char err[256];
    char *text = s_read(path, &n);
    if (!text) {
        return NULL;
    }
    sl_name_map_t *m = sl_name_map_new(text, n, err, sizeof err);
    if (!m) {
        fail_msg("%s: %s", path, err);
    }
    free(text);
    return m;
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*  Every element of the output must be an event the JSON edge accepts. */
static void s_check_events(const char *name, json_t *arr)
{
    static sl_buf_t scratch;
    size_t i;
    json_t *e;
    assert_true(json_is_array(arr));
    json_array_foreach(arr, i, e)
    {
        char *text = json_dumps(e, JSON_COMPACT);
        sl_event_t ev;
        char err[256];
        int rc = sl_event_from_json(text, strlen(text), &ev, &scratch, err, sizeof err);
        if (rc != SL_OK) {
            fail_msg("%s[%zu]: not a valid event: %s", name, i, err);
        }
        free(text);
    }
    sl_buf_free(&scratch);
}

static void s_golden_dir(const char *sub, s_adapter_fn fn)
{
    char dir[512], path[1100], base[1024];
    snprintf(dir, sizeof dir, "%s/%s", GOLDEN_DIR, sub);
    snprintf(path, sizeof path, "%s/mapping.json", dir);
    sl_name_map_t *def = s_map_file(path);
    int update = getenv("SL_UPDATE_GOLDEN") != NULL;
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        if (!s_ends(de->d_name, ".json") || s_ends(de->d_name, ".out.json") ||
            s_ends(de->d_name, ".map.json") || strcmp(de->d_name, "mapping.json") == 0) {
            continue;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, s_cmp);
    assert_true(n >= 5);
    for (int i = 0; i < n; i++) {
        size_t len;
        char err[512];
        sl_buf_t out = {0};
        snprintf(base, sizeof base, "%s/%.*s", dir, (int)(strlen(names[i]) - 5), names[i]);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *body = s_read(path, &len);
        assert_non_null(body);
        snprintf(path, sizeof path, "%s.map.json", base);
        sl_name_map_t *own = s_map_file(path);
        int rc = fn(body, len, own ? own : def, "acme", &out, err, sizeof err);
        char outp[1100], errp[1100];
        snprintf(outp, sizeof outp, "%s.out.json", base);
        snprintf(errp, sizeof errp, "%s.err", base);
        if (rc == SL_OK) {
            json_error_t jerr;
            json_t *got = json_loadb((const char *)out.data, out.len, 0, &jerr);
            if (!got) {
                fail_msg("%s: output is not JSON: %s", names[i], jerr.text);
            }
            s_check_events(names[i], got);
            if (update) {
                char *text = json_dumps(got, JSON_INDENT(2) | JSON_ENSURE_ASCII);
                size_t tl = strlen(text);
                text = realloc(text, tl + 2);
                memcpy(text + tl, "\n", 2);
                s_write(outp, text);
                free(text);
                unlink(errp);
            } else {
                json_t *want = json_load_file(outp, 0, &jerr);
                if (!want) {
                    fail_msg("%s: no expected output (%s): %s", names[i], outp, jerr.text);
                }
                if (!json_equal(got, want)) {
                    char *g = json_dumps(got, JSON_COMPACT);
                    fail_msg("%s: output differs from %s; got\n%s", names[i], outp, g);
                }
                json_decref(want);
            }
            json_decref(got);
        } else {
            char line[700];
            snprintf(line, sizeof line, "%s %s\n", s_code(rc), err);
            assert_int_equal(out.len, 0); /* nothing appended on error */
            assert_non_null(strchr(err, ' '));
            assert_null(strchr(err, '\n'));
            if (update) {
                s_write(errp, line);
                unlink(outp);
            } else {
                char *want = s_read(errp, NULL);
                if (!want) {
                    fail_msg("%s: failed (%s) but %s is missing", names[i], line, errp);
                }
                if (strcmp(want, line) != 0) {
                    fail_msg("%s: error differs: got '%s', want '%s'", names[i], line, want);
                }
                free(want);
            }
        }
        sl_buf_free(&out);
        sl_name_map_destroy(&own);
        free(body);
        free(names[i]);
    }
    sl_name_map_destroy(&def);
}

static void test_golden_montecarlo(void **state)
{
    (void)state;
    s_golden_dir("montecarlo", sl_montecarlo_webhook);
}

static void test_golden_openlineage(void **state)
{
    (void)state;
    s_golden_dir("openlineage", sl_openlineage_event);
}

/* ------------------------------------------------------------------------ */

static json_t *s_run(s_adapter_fn fn, const char *body, size_t len, const sl_name_map_t *map)
{
    sl_buf_t out = {0};
    char err[256];
    int rc = fn(body, len, map, "acme", &out, err, sizeof err);
    if (rc != SL_OK) {
        fail_msg("adapter failed: %s", err);
    }
    json_t *j = json_loadb((const char *)out.data, out.len, 0, NULL);
    assert_non_null(j);
    sl_buf_free(&out);
    return j;
}

static sl_name_map_t *s_map(const char *json)
{
    char err[256];
    sl_name_map_t *m = sl_name_map_new(json, strlen(json), err, sizeof err);
    if (!m) {
        fail_msg("map: %s", err);
    }
    return m;
}

/*  The same delivery 3 times -> the same id; reformatted (same content) ->
    the same id; a different update of the same incident -> another id. */
static void test_redelivery_same_id(void **state)
{
    (void)state;
    sl_name_map_t *m = s_map("{\"prefix\": \"snowflake://acme-prod/\"}");
    size_t n, n2;
    char *open = s_read(GOLDEN_DIR "/montecarlo/anomaly_open.json", &n);
    char *ack = s_read(GOLDEN_DIR "/montecarlo/update_ack.json", &n2);
    json_t *a = s_run(sl_montecarlo_webhook, open, n, m);
    for (int i = 0; i < 2; i++) {
        json_t *b = s_run(sl_montecarlo_webhook, open, n, m);
        assert_true(json_equal(a, b));
        json_decref(b);
    }
    json_t *parsed = json_loads(open, 0, NULL);
    char *compact = json_dumps(parsed, JSON_COMPACT);
    json_t *c = s_run(sl_montecarlo_webhook, compact, strlen(compact), m);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "id")),
                        json_string_value(json_object_get(json_array_get(c, 0), "id")));
    json_t *d = s_run(sl_montecarlo_webhook, ack, n2, m);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(a, 0), "id")),
                            json_string_value(json_object_get(json_array_get(d, 0), "id")));
    /*  Another tenant: another id (ids are per tenant in the store, but
        they must not collide in a shared journal either). */
    sl_buf_t out = {0};
    char err[128];
    assert_int_equal(sl_montecarlo_webhook(open, n, m, "other", &out, err, sizeof err), SL_OK);
    json_t *e = json_loadb((const char *)out.data, out.len, 0, NULL);
    assert_string_not_equal(json_string_value(json_object_get(json_array_get(a, 0), "id")),
                            json_string_value(json_object_get(json_array_get(e, 0), "id")));
    /*  Appends: the buffer keeps what was there. */
    size_t had = out.len;
    assert_int_equal(sl_montecarlo_webhook(open, n, m, NULL, &out, err, sizeof err), SL_OK);
    assert_true(out.len > had);
    json_t *nt = json_loadb((const char *)out.data + had, out.len - had, 0, NULL);
    assert_null(json_object_get(json_array_get(nt, 0), "tenant"));
    json_decref(nt);
    sl_buf_free(&out);
    json_decref(e);
    json_decref(a);
    json_decref(c);
    json_decref(d);
    json_decref(parsed);
    free(compact);
    free(open);
    free(ack);
    sl_name_map_destroy(&m);
    sl_name_map_destroy(&m);
}

static void test_signature_vectors(void **state)
{
    (void)state;
    json_t *v = json_load_file(GOLDEN_DIR "/signature/signature_vectors.json", 0, NULL);
    assert_non_null(v);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(v, "vectors"), i, e)
    {
        char path[512], sig[129];
        size_t n;
        const char *secret = json_string_value(json_object_get(e, "secret"));
        const char *raw = json_string_value(json_object_get(e, "raw_body_signature"));
        const char *can = json_string_value(json_object_get(e, "canonical_signature"));
        const char *form = json_string_value(json_object_get(e, "canonical_form"));
        snprintf(path, sizeof path, "%s/signature/%s", GOLDEN_DIR,
                 json_string_value(json_object_get(e, "file")));
        char *body = s_read(path, &n);
        assert_non_null(body);
        assert_int_equal(sl_montecarlo_verify(secret, body, n, raw), SL_OK);
        assert_int_equal(sl_montecarlo_verify(secret, body, n, can), SL_OK);
        sl_buf_t c = {0};
        assert_int_equal(sl_montecarlo_canonical(body, n, &c), SL_OK);
        assert_int_equal(c.len, strlen(form));
        assert_memory_equal(c.data, form, c.len);
        sl_buf_free(&c);
        assert_int_equal(sl_montecarlo_sign(secret, body, n, 0, sig), SL_OK);
        assert_string_equal(sig, raw);
        assert_int_equal(sl_montecarlo_sign(secret, body, n, 1, sig), SL_OK);
        assert_string_equal(sig, can);
        /*  Upper-case hex and a "sha512=" prefix are the same signature. */
        char up[140];
        snprintf(up, sizeof up, "sha512=%s", raw);
        for (char *p = up + 7; *p; p++) {
            *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        }
        assert_int_equal(sl_montecarlo_verify(secret, body, n, up), SL_OK);
        /*  A wrong one: one digit changed, a wrong secret, a changed body,
            short, not hex, empty. */
        char bad[129];
        memcpy(bad, raw, 129);
        bad[10] = bad[10] == '0' ? '1' : '0';
        assert_int_equal(sl_montecarlo_verify(secret, body, n, bad), SL_EINVAL);
        assert_int_equal(sl_montecarlo_verify("other-secret", body, n, raw), SL_EINVAL);
        assert_int_equal(sl_montecarlo_verify("other-secret", body, n, can), SL_EINVAL);
        char *spaced = malloc(n + 1);
        spaced[0] = ' ';
        memcpy(spaced + 1, body, n);
        assert_int_equal(sl_montecarlo_verify(secret, spaced, n + 1, raw), SL_EINVAL);
        assert_int_equal(sl_montecarlo_verify(secret, spaced, n + 1, can), SL_OK); /* same JSON */
        free(spaced);
        assert_int_equal(sl_montecarlo_verify(secret, body, n, "abcd"), SL_EINVAL);
        memcpy(bad, raw, 129);
        bad[0] = 'z';
        assert_int_equal(sl_montecarlo_verify(secret, body, n, bad), SL_EINVAL);
        assert_int_equal(sl_montecarlo_verify(secret, body, n, ""), SL_EINVAL);
        assert_int_equal(sl_montecarlo_verify(secret, "not json", 8, can), SL_EINVAL);
        free(body);
    }
    assert_int_equal(i, 2);
    json_decref(v);
}

/*  Canonical forms of odd values (quotes, escapes, floats, booleans, None,
    unicode) against what Python's urlencode produced. */
static void test_canonical_python(void **state)
{
    (void)state;
    json_t *v = json_load_file(GOLDEN_DIR "/signature/canonical_vectors.json", 0, NULL);
    assert_non_null(v);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(v, "vectors"), i, e)
    {
        char path[512];
        size_t n;
        snprintf(path, sizeof path, "%s/signature/%s", GOLDEN_DIR,
                 json_string_value(json_object_get(e, "file")));
        char *body = s_read(path, &n);
        assert_non_null(body);
        sl_buf_t c = {0};
        assert_int_equal(sl_montecarlo_canonical(body, n, &c), SL_OK);
        assert_int_equal(sl_buf_append(&c, "", 1), SL_OK);
        assert_string_equal((char *)c.data,
                            json_string_value(json_object_get(e, "canonical_form")));
        sl_buf_free(&c);
        free(body);
    }
    assert_true(i >= 1);
    sl_buf_t c = {0};
    assert_int_equal(sl_montecarlo_canonical("[1]", 3, &c), SL_EPROTO);
    assert_int_equal(sl_montecarlo_canonical("{", 1, &c), SL_EPROTO);
    assert_int_equal(c.len, 0);
    sl_buf_free(&c);
    json_decref(v);
}

/*  A body at the ingest's default limit (1 MiB) maps; one past the
    adapter's own bound is SL_ERANGE. */
static void test_size_limit(void **state)
{
    (void)state;
    sl_name_map_t *m = s_map("{\"prefix\": \"snowflake://acme-prod/\"}");
    const size_t limit = 1u << 20;
    const char *head = "{\"payload\": {\"incident_id\": \"big\", \"event_list\": [{\"table_name\": "
                       "\"a:b.c\", \"event_details\": \"";
    const char *tail = "\"}]}}";
    char *body = malloc(limit + 1);
    assert_non_null(body);
    size_t hl = strlen(head), tl = strlen(tail);
    memcpy(body, head, hl);
    memset(body + hl, 'x', limit - hl - tl);
    memcpy(body + limit - tl, tail, tl);
    sl_buf_t out = {0};
    char err[256];
    assert_int_equal(sl_montecarlo_webhook(body, limit, m, "acme", &out, err, sizeof err), SL_OK);
    json_t *j = json_loadb((const char *)out.data, out.len, 0, NULL);
    json_t *b = json_object_get(json_array_get(j, 0), "body");
    assert_int_equal(json_string_length(json_object_get(b, "details")), limit - hl - tl);
    json_decref(j);
    sl_buf_free(&out);
    free(body);
    size_t huge = (size_t)SL_EVENT_MAX_BODY * 4 + 1;
    body = calloc(1, huge);
    assert_non_null(body);
    assert_int_equal(sl_montecarlo_webhook(body, huge, m, "acme", &out, err, sizeof err),
                     SL_ERANGE);
    assert_int_equal(sl_openlineage_event(body, huge, m, "acme", &out, err, sizeof err), SL_ERANGE);
    assert_int_equal(out.len, 0);
    free(body);
    sl_name_map_destroy(&m);
}

static void s_expect_map_err(const char *json, const char *want)
{
    char err[256];
    sl_name_map_t *m = sl_name_map_new(json, strlen(json), err, sizeof err);
    if (m) {
        fail_msg("map accepted: %s", json);
    }
    if (!strstr(err, want)) {
        fail_msg("map error '%s' lacks '%s'", err, want);
    }
}

static void test_map_errors(void **state)
{
    (void)state;
    s_expect_map_err("{\"prefx\": \"a\"}", "mapping: unknown key 'prefx'");
    s_expect_map_err("{\"case\": \"title\"}", "mapping.case: expected lower, upper or preserve");
    s_expect_map_err("{\"prefix\": 3}", "mapping.prefix: expected a string");
    s_expect_map_err("{\"warehouses\": []}", "mapping.warehouses: expected an object");
    s_expect_map_err("{\"warehouses\": {\"w\": {\"prefix\": \"p\", \"x\": 1}}}",
                     "mapping.warehouses.w: unknown key 'x'");
    s_expect_map_err("{\"namespaces\": {\"n\": {\"split\": \"maybe\"}}}",
                     "mapping.namespaces.n.split: expected true or false");
    s_expect_map_err("{\"names\": {\"a\": \"\"}}", "mapping.names.a: expected a non-empty string");
    s_expect_map_err("{\"lineage_events\": \"COMPLETE\"}",
                     "mapping.lineage_events: expected a list");
    s_expect_map_err("{\"lineage_events\": [1]}", "mapping.lineage_events[0]");
    s_expect_map_err("[1]", "mapping: expected an object");
    s_expect_map_err("{\"prefix\": ", "mapping: invalid JSON");
    char err[64];
    sl_name_map_t *m = sl_name_map_new("null", 4, err, sizeof err);
    assert_non_null(m);
    sl_name_map_destroy(&m);
    assert_null(m);
    m = sl_name_map_new(NULL, 0, err, sizeof err);
    assert_non_null(m);
    sl_name_map_destroy(&m);
    m = s_map("{\"namespaces\": {\"n\": {\"split\": \"true\"}}}"); /* YAML strings */
    sl_name_map_destroy(&m);
}

static void s_mc(const sl_name_map_t *m, const char *name, const char *wh, int rc, const char *want)
{
    char out[SL_QNAME_MAX], err[256];
    int got = sl_name_map_montecarlo(m, name, wh, out, sizeof out, err, sizeof err);
    if (got != rc) {
        fail_msg("%s: rc %d, want %d (%s)", name, got, rc, got ? err : out);
    }
    if (rc == SL_OK) {
        assert_string_equal(out, want);
    } else {
        if (!strstr(err, want)) {
            fail_msg("%s: error '%s' lacks '%s'", name, err, want);
        }
    }
}

static void s_ol(const sl_name_map_t *m, const char *ns, const char *name, const char *want)
{
    char out[SL_QNAME_MAX], err[256];
    int rc = sl_name_map_openlineage(m, ns, name, out, sizeof out, err, sizeof err);
    if (rc != SL_OK) {
        fail_msg("%s %s: %s", ns, name, err);
    }
    assert_string_equal(out, want);
}

static void test_map_rules(void **state)
{
    (void)state;
    sl_name_map_t *m = s_map(
        "{\"prefix\": \"snowflake://acme-prod/\", \"connection_type\": \"snowflake\","
        " \"warehouses\": {\"bq-wh\": {\"prefix\": \"bigquery://\", \"connection_type\": "
        "\"bigquery\", \"separator\": \".\"},"
        "                  \"redshift\": {\"prefix\": \"redshift://dw/\", \"case\": \"upper\"}},"
        " \"namespaces\": {\"snowflake://acme-prod\": {\"prefix\": \"sf/\", \"split\": false}},"
        " \"names\": {\"raw:shop.customers\": \"pg://shop/customers\","
        "           \"s3://b/k\": \"lake://b/k\"},"
        " \"lineage_events\": [\"COMPLETE\", \"fail\"]}");
    s_mc(m, "Analytics:Orders.Fct_Orders", NULL, SL_OK,
         "snowflake://acme-prod/analytics/orders/fct_orders");
    s_mc(m, "orders.fct_orders", NULL, SL_OK, "snowflake://acme-prod/orders/fct_orders");
    s_mc(m, "fct", NULL, SL_OK, "snowflake://acme-prod/fct");
    s_mc(m, "db:sch.tab.with.dots", NULL, SL_OK, "snowflake://acme-prod/db/sch/tab.with.dots");
    s_mc(m, "MCON++acct++bq-wh++table++My-Proj:DataSet.Tab", NULL, SL_OK,
         "bigquery://My-Proj.DataSet.Tab");
    s_mc(m, "MCON++acct++unknown-wh++table++db:s.t", NULL, SL_OK, "snowflake://acme-prod/db/s/t");
    s_mc(m, "MCON++acct++w++table++raw:shop.customers", NULL, SL_OK, "pg://shop/customers");
    s_mc(m, "raw:shop.customers", "bq-wh", SL_OK, "pg://shop/customers");
    s_mc(m, "db:s.t", "redshift", SL_OK, "redshift://dw/DB/S/T");
    s_mc(m, "db:s.t", "bq-wh", SL_OK, "bigquery://db.s.t");
    s_mc(m, "MCON++acct++w", NULL, SL_ENOTFOUND, "malformed MCON");
    s_mc(m, "db:.t", NULL, SL_ENOTFOUND, "empty database, schema or table part");
    s_mc(m, ":s.t", NULL, SL_ENOTFOUND, "empty");
    s_mc(m, "a..b", NULL, SL_ENOTFOUND, "empty");
    s_mc(m, "", NULL, SL_ENOTFOUND, "empty");
    s_ol(m, "snowflake://acme-prod", "A.B.C", "sf/a.b.c");
    s_ol(m, "snowflake://other", "A.B.C", "snowflake://other/a/b/c");
    s_ol(m, "postgres://db:5432", "Shop.Public.T", "postgres://db:5432/Shop/Public/T");
    s_ol(m, "s3://b/", "k", "lake://b/k");
    s_ol(m, "s3://bucket/", "/dir/file.parquet", "s3://bucket/dir/file.parquet");
    s_ol(NULL, "bigquery", "proj.ds.t", "bigquery/proj/ds/t");
    char out[SL_QNAME_MAX], err[128];
    assert_int_equal(
        sl_name_map_openlineage_job(m, "dbt://prod", "a.b.c", out, sizeof out, err, sizeof err),
        SL_OK);
    assert_string_equal(out, "dbt://prod/a.b.c");
    assert_true(sl_name_map_lineage_event(m, "COMPLETE"));
    assert_true(sl_name_map_lineage_event(m, "FAIL"));
    assert_false(sl_name_map_lineage_event(m, "START"));
    assert_false(sl_name_map_lineage_event(m, NULL));
    assert_true(sl_name_map_lineage_event(NULL, "COMPLETE"));
    assert_false(sl_name_map_lineage_event(NULL, "RUNNING"));
    /*  Too small a buffer is SL_ERANGE, never a truncated name. */
    assert_int_equal(sl_name_map_montecarlo(m, "db:s.t", NULL, out, 10, err, sizeof err),
                     SL_ERANGE);
    sl_name_map_destroy(&m);
    /*  No prefix anywhere: Monte Carlo names are unmappable, with a reason. */
    s_mc(NULL, "db:s.t", NULL, SL_ENOTFOUND, "table 'db:s.t': no mapping rule gives a prefix");
}

static void test_status_and_token(void **state)
{
    (void)state;
    assert_string_equal(sl_montecarlo_status(NULL), "open");
    assert_string_equal(sl_montecarlo_status("no_status"), "open");
    assert_string_equal(sl_montecarlo_status("investigating"), "acknowledged");
    assert_string_equal(sl_montecarlo_status("WORK_IN_PROGRESS"), "acknowledged");
    assert_string_equal(sl_montecarlo_status("fixed"), "resolved");
    assert_string_equal(sl_montecarlo_status("EXPECTED"), "resolved");
    assert_string_equal(sl_montecarlo_status("no_action_needed"), "resolved");
    assert_string_equal(sl_montecarlo_status("false_positive"), "resolved");
    assert_null(sl_montecarlo_status("helpful"));
    assert_true(sl_token_equal("s3cret-token", "s3cret-token"));
    assert_false(sl_token_equal("s3cret-token", "s3cret-tokem"));
    assert_false(sl_token_equal("s3cret-token", "s3cret"));
    assert_false(sl_token_equal("", ""));
    assert_false(sl_token_equal("x", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_montecarlo),  cmocka_unit_test(test_golden_openlineage),
        cmocka_unit_test(test_redelivery_same_id), cmocka_unit_test(test_signature_vectors),
        cmocka_unit_test(test_canonical_python),   cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_map_errors),         cmocka_unit_test(test_map_rules),
        cmocka_unit_test(test_status_and_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
