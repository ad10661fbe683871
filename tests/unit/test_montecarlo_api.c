/*  Monte Carlo's GraphQL client and the getTable look-up: the cache (hits,
    negative answers, TTL, least-recently-used eviction at the size bound),
    429/5xx retried with back-off, Retry-After honoured across requests,
    the time budget, 401 fatal, the name map through the look-up, and the
    topology option. The API is a small in-process stand-in on a real
    HTTP socket answering as tools/mock/mock_montecarlo does (the getTable
    fixture for its MCON, data.getTable null for another), with a script
    of statuses to inject. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sluice/adapters.h"
#include "sluice/http.h"
#include "sluice/montecarlo_api.h"

#define S_MCON_A                                                                                   \
    "MCON++3f9a2c1e-8b7d-4e21-9c55-0a6b7d8e9f10++b7e1c2d3-0000-4000-8000-00000000abcd++table++"    \
    "analytics:orders.fct_orders"
#define S_MCON_B                                                                                   \
    "MCON++3f9a2c1e-8b7d-4e21-9c55-0a6b7d8e9f10++b7e1c2d3-0000-4000-8000-00000000abcd++table++"    \
    "raw:shop.customers"
#define S_MCON_UNKNOWN "MCON++3f9a2c1e++0000++table++nope:no.table"

typedef struct {
    sl_http_t *h;
    char url[64];
    int requests;
    int script[16]; /* statuses of the next requests (0: answer normally) */
    int n_script;
    unsigned retry_after; /* with an injected 429 */
    char *fixture;        /* graphql_getTable.json */
} s_api_t;

static s_api_t s_api;

static int s_handler(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_api_t *a = arg;
    int n = __atomic_fetch_add(&a->requests, 1, __ATOMIC_SEQ_CST);
    int status = n < a->n_script ? a->script[n] : 0;
    const char *tok = sl_http_header(req, "x-mcd-token");
    if (status == 401 || !tok || strcmp(tok, "tok") != 0) {
        return sl_http_json(resp, 401, "{\"errors\":[{\"message\":\"Unauthorized\"}]}", 40);
    }
    if (status == 429) {
        resp->retry_after_s = a->retry_after;
        return sl_http_json(resp, 429, "{\"errors\":[{\"message\":\"Too many requests\"}]}", 45);
    }
    if (status == 500) {
        return sl_http_json(resp, 500, "{\"errors\":[{\"message\":\"Internal error\"}]}", 42);
    }
    json_t *q = json_loadb((const char *)req->body, req->body_len, 0, NULL);
    const char *mcon = json_string_value(json_object_get(json_object_get(q, "variables"), "mcon"));
    json_t *fx = json_loads(a->fixture, 0, NULL);
    json_t *t = json_object_get(json_object_get(fx, "data"), "getTable");
    json_t *ans = NULL;
    if (mcon && strcmp(mcon, S_MCON_A) == 0) {
        ans = json_incref(fx);
    } else if (mcon && strcmp(mcon, S_MCON_B) == 0) {
        json_t *b = json_deep_copy(t);
        json_object_set_new(b, "mcon", json_string(S_MCON_B));
        json_object_set_new(b, "fullTableId", json_string("raw:shop.customers"));
        ans = json_pack("{s:{s:o}}", "data", "getTable", b);
    } else {
        ans = json_pack("{s:{s:n},s:[{s:s}]}", "data", "getTable", "errors", "message",
                        "Object not found");
    }
    char *text = json_dumps(ans, JSON_COMPACT);
    int rc = sl_http_json(resp, 200, text, strlen(text));
    free(text);
    json_decref(ans);
    json_decref(fx);
    json_decref(q);
    return rc;
}

static int s_group_setup(void **state)
{
    (void)state;
    char err[256], path[512];
    snprintf(path, sizeof path, "%s/tests/adapters/graphql/graphql_getTable.json", SL_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    s_api.fixture = calloc(1, 8192);
    size_t n = fread(s_api.fixture, 1, 8191, f);
    fclose(f);
    if (n == 0) {
        return -1;
    }
    sl_http_opts_t o = {.listen = "127.0.0.1:0", .log_name = "api"};
    s_api.h = sl_http_new(&o, err, sizeof err);
    if (!s_api.h || sl_http_route(s_api.h, "POST", "/graphql", SL_HTTP_EXACT, s_handler, &s_api) ||
        sl_http_start(s_api.h, err, sizeof err)) {
        return -1;
    }
    snprintf(s_api.url, sizeof s_api.url, "http://127.0.0.1:%d/graphql", sl_http_port(s_api.h));
    return 0;
}

static int s_group_teardown(void **state)
{
    (void)state;
    sl_http_destroy(&s_api.h);
    free(s_api.fixture);
    return 0;
}

/*  A fresh look-up and a fresh script for each test. */
static sl_mc_resolver_t *s_resolver(int64_t ttl, int64_t size, int64_t budget, int always)
{
    __atomic_store_n(&s_api.requests, 0, __ATOMIC_SEQ_CST);
    s_api.n_script = 0;
    s_api.retry_after = 0;
    char err[256] = "";
    sl_mc_resolver_opts_t o = {
        .api = {.url = s_api.url,
                .api_id = "id",
                .api_token = "tok",
                .backoff_min_us = 10000,
                .log_name = "test"},
        .always = always,
        .ttl_us = ttl,
        .cache_size = size,
        .budget_us = budget,
    };
    sl_mc_resolver_t *r = sl_mc_resolver_new(&o, err, sizeof err);
    if (!r) {
        fprintf(stderr, "resolver: %s\n", err);
    }
    return r;
}

static int s_requests(void)
{
    return __atomic_load_n(&s_api.requests, __ATOMIC_SEQ_CST);
}

static void test_cache(void **state)
{
    (void)state;
    sl_mc_resolver_t *r = s_resolver(3600LL * 1000000, 2, 5000000, 0);
    assert_non_null(r);
    sl_mc_table_t t;
    char why[256];
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_string_equal(t.full_table_id, "analytics:orders.fct_orders");
    assert_string_equal(t.connection_type, "snowflake");
    assert_string_equal(t.warehouse_uuid, "b7e1c2d3-0000-4000-8000-00000000abcd");
    assert_int_equal(s_requests(), 1);
    /* a hit: no request */
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_int_equal(s_requests(), 1);
    /* unknown to Monte Carlo: not found, and remembered */
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_UNKNOWN, &t, why, sizeof why), SL_ENOTFOUND);
    assert_non_null(strstr(why, "no table with this MCON: Object not found"));
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_UNKNOWN, &t, why, sizeof why), SL_ENOTFOUND);
    assert_int_equal(s_requests(), 2);
    /* a third table in a cache of 2: the least recently used (A) goes */
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_B, &t, why, sizeof why), SL_OK);
    assert_string_equal(t.full_table_id, "raw:shop.customers");
    assert_int_equal(s_requests(), 3);
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_B, &t, why, sizeof why), SL_OK);
    assert_int_equal(s_requests(), 3);
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_int_equal(s_requests(), 4);
    sl_mc_resolver_stats_t st;
    sl_mc_resolver_stats(r, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.requests, 4);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 4);
    /* not an MCON at all */
    assert_int_equal(sl_mc_resolver_table(r, "", &t, why, sizeof why), SL_EINVAL);
    sl_mc_resolver_destroy(&r);
    sl_mc_resolver_destroy(&r); /* safe twice */
}

static void test_ttl(void **state)
{
    (void)state;
    sl_mc_resolver_t *r = s_resolver(1, 100, 5000000, 0); /* entries expire at once */
    sl_mc_table_t t;
    char why[256];
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_int_equal(s_requests(), 2);
    sl_mc_resolver_destroy(&r);
}

static void test_retry(void **state)
{
    (void)state;
    sl_mc_resolver_t *r = s_resolver(0, 0, 5000000, 0);
    s_api.script[0] = 429;
    s_api.script[1] = 500;
    s_api.n_script = 2;
    sl_mc_table_t t;
    char why[256];
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_int_equal(s_requests(), 3);
    assert_string_equal(t.full_table_id, "analytics:orders.fct_orders");
    sl_mc_resolver_destroy(&r);
}

/*  Retry-After beyond the budget: give up at once, and hold every request
    back until it passed (no request is sent meanwhile). */
static void test_retry_after(void **state)
{
    (void)state;
    sl_mc_resolver_t *r = s_resolver(0, 0, 300000, 0);
    s_api.script[0] = 429;
    s_api.n_script = 1;
    s_api.retry_after = 30;
    sl_mc_table_t t;
    char why[256];
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_ETIMEDOUT);
    assert_int_equal(s_requests(), 1);
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_B, &t, why, sizeof why), SL_ETIMEDOUT);
    assert_non_null(strstr(why, "rate limited"));
    assert_int_equal(s_requests(), 1);
    sl_mc_resolver_destroy(&r);
}

/*  5xx until the budget runs out: an error, not cached. */
static void test_budget(void **state)
{
    (void)state;
    sl_mc_resolver_t *r = s_resolver(0, 0, 100000, 0);
    for (int i = 0; i < 16; i++) {
        s_api.script[i] = 500;
    }
    s_api.n_script = 16;
    sl_mc_table_t t;
    char why[256];
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_ETIMEDOUT);
    assert_non_null(strstr(why, "answered 500"));
    int n = s_requests();
    assert_true(n >= 2 && n < 16);
    s_api.n_script = 0;
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_OK);
    assert_int_equal(s_requests(), n + 1);
    sl_mc_resolver_destroy(&r);
}

static void test_auth(void **state)
{
    (void)state;
    sl_mc_resolver_t *r = s_resolver(0, 0, 5000000, 0);
    s_api.script[0] = 401;
    s_api.n_script = 1;
    sl_mc_table_t t;
    char why[256];
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_A, &t, why, sizeof why), SL_EINVAL);
    assert_non_null(strstr(why, "401 Unauthorized"));
    /* fatal: no request any more */
    assert_int_equal(sl_mc_resolver_table(r, S_MCON_B, &t, why, sizeof why), SL_EINVAL);
    assert_int_equal(s_requests(), 1);
    sl_mc_resolver_destroy(&r);
}

static void test_name_map(void **state)
{
    (void)state;
    char err[512], qn[SL_QNAME_MAX];
    /*  Only a rule by connection type: the MCON's warehouse uuid has no
        rule, so the rules alone cannot map it; getTable names the type. */
    const char *rules = "{\"warehouses\": {\"snowflake\": {\"prefix\": \"snowflake://acme-prod/\"},"
                        " \"11111111-0000-4000-8000-000000000000\": {\"prefix\": \"pg://x/\"}}}";
    sl_name_map_t *map = sl_name_map_new(rules, strlen(rules), err, sizeof err);
    assert_non_null(map);
    assert_int_equal(sl_name_map_montecarlo(map, S_MCON_A, NULL, qn, sizeof qn, err, sizeof err),
                     SL_ENOTFOUND);
    sl_mc_resolver_t *r = s_resolver(0, 0, 5000000, 0);
    sl_mc_resolver_attach(r, map);
    assert_int_equal(sl_name_map_montecarlo(map, S_MCON_A, NULL, qn, sizeof qn, err, sizeof err),
                     SL_OK);
    assert_string_equal(qn, "snowflake://acme-prod/analytics/orders/fct_orders");
    assert_int_equal(s_requests(), 1);
    /* what the rules map is not looked up (unmapped mode) */
    const char *mapped = "MCON++a++11111111-0000-4000-8000-000000000000++table++db:s.t";
    assert_int_equal(sl_name_map_montecarlo(map, mapped, NULL, qn, sizeof qn, err, sizeof err),
                     SL_OK);
    assert_string_equal(qn, "pg://x/db/s/t");
    assert_int_equal(s_requests(), 1);
    /* unknown to Monte Carlo: not found, with both reasons */
    assert_int_equal(
        sl_name_map_montecarlo(map, S_MCON_UNKNOWN, NULL, qn, sizeof qn, err, sizeof err),
        SL_ENOTFOUND);
    assert_non_null(strstr(err, "no mapping rule maps it; getTable: Monte Carlo has no table"));
    /* a plain name cannot be looked up: the rules decide */
    assert_int_equal(
        sl_name_map_montecarlo(map, "raw:shop.customers", NULL, qn, sizeof qn, err, sizeof err),
        SL_ENOTFOUND);
    assert_int_equal(s_requests(), 2);

    /* the webhook adapter through the map */
    sl_buf_t out = {0};
    const char *hook =
        "{\"type\": \"open_anomaly_incident\", \"payload\": {\"incident_id\": "
        "\"6c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e\", \"event_list\": [{\"mcon\": \"" S_MCON_A
        "\"}]}}";
    assert_int_equal(sl_montecarlo_webhook(hook, strlen(hook), map, "acme", &out, err, sizeof err),
                     SL_OK);
    assert_non_null(strstr((const char *)out.data,
                           "\"qualified_names\":[\"snowflake://acme-prod/analytics/orders/"
                           "fct_orders\"]"));
    assert_int_equal(s_requests(), 2); /* cached */
    sl_buf_free(&out);

    /* always: every MCON is asked, also one the rules map */
    sl_mc_resolver_t *r2 = s_resolver(0, 0, 5000000, 1);
    sl_mc_resolver_attach(r2, map);
    assert_int_equal(sl_name_map_montecarlo(map, S_MCON_B, NULL, qn, sizeof qn, err, sizeof err),
                     SL_OK);
    assert_string_equal(qn, "snowflake://acme-prod/raw/shop/customers");
    assert_int_equal(s_requests(), 1);
    sl_name_map_destroy(&map);
    sl_mc_resolver_destroy(&r);
    sl_mc_resolver_destroy(&r2);
}

static void test_options(void **state)
{
    (void)state;
    char err[256], where[64];
    const char *good = "{\"url\": \"https://api.getmontecarlo.com/graphql\", \"api_id\": \"i\", "
                       "\"api_token\": \"t\", \"lookup\": \"always\", \"ttl\": \"30m\", "
                       "\"cache_size\": 500, \"timeout\": \"2s\"}";
    assert_int_equal(
        sl_mc_resolver_check_json(good, "montecarlo_api", 1, err, sizeof err, where, sizeof where),
        0);
    struct {
        const char *json;
        int need_api;
        const char *err;
        const char *where;
    } bad[] = {
        {"{\"url\": \"http://x\", \"api_id\": \"i\", \"api_token\": \"t\", \"tll\": \"1h\"}", 1,
         "unknown key 'tll'", "/tll"},
        {"{\"url\": \"http://x\", \"api_id\": \"i\"}", 1, "montecarlo_api.api_token: required", ""},
        {"{\"url\": \"ftp://x\", \"api_id\": \"i\", \"api_token\": \"t\"}", 1,
         "http:// or https://", "/url"},
        {"{\"lookup\": \"sometimes\"}", 0, "expected unmapped or always", "/lookup"},
        {"{\"ttl\": \"soon\"}", 0, "montecarlo_api.ttl: expected a duration", "/ttl"},
        {"{\"cache_size\": 0}", 0, "cache_size: expected an integer", "/cache_size"},
        {"{\"api_token\": \"a\\nb\"}", 0, "one non-empty line", "/api_token"},
        {"[1]", 0, "expected an object", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = where[0] = '\0';
        assert_int_not_equal(sl_mc_resolver_check_json(bad[i].json, "montecarlo_api",
                                                       bad[i].need_api, err, sizeof err, where,
                                                       sizeof where),
                             0);
        if (!strstr(err, bad[i].err) || strcmp(where, bad[i].where) != 0) {
            fail_msg("case %zu: err '%s' where '%s'", i, err, where);
        }
    }
    /* from a topology option; defaults from the actor */
    sl_mc_api_opts_t api = {.url = s_api.url, .api_id = "id", .api_token = "tok"};
    sl_mc_resolver_t *r =
        sl_mc_resolver_from_json("{\"cache_size\": \"3\"}", "resolve", &api, err, sizeof err);
    assert_non_null(r);
    sl_mc_resolver_destroy(&r);
    assert_null(sl_mc_resolver_from_json("{\"ttl\": 5}", "resolve", &api, err, sizeof err));
    assert_null(sl_mc_resolver_from_json("{}", "montecarlo_api", NULL, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache),    cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_retry),    cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_budget),   cmocka_unit_test(test_auth),
        cmocka_unit_test(test_name_map), cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
