/*  Admin listener: real HTTP over loopback with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "sluice/admin.h"
#include "sluice/log.h"

typedef struct {
    long status;
    char ctype[128];
    sl_buf_t body;
} s_resp_t;

static size_t s_on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    s_resp_t *r = ud;
    return sl_buf_append(&r->body, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/*  One request; the body is NUL-terminated. Returns the HTTP status. */
static long s_request(int port, const char *method, const char *path, s_resp_t *r)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
    assert_int_equal(sl_buf_append(&r->body, "", 1), 0);
    return r->status;
}

static const char *s_text(const s_resp_t *r)
{
    return (const char *)r->body.data;
}

typedef struct {
    sl_metrics_t *m;
    sl_admin_t *admin;
    int port;
} s_fixture_t;

static int s_setup(void **state)
{
    s_fixture_t *f = calloc(1, sizeof *f);
    if (!f) {
        return -1;
    }
    f->m = sl_metrics_new();
    f->admin = sl_admin_new("127.0.0.1:0", f->m);
    if (!f->m || !f->admin) {
        sl_admin_destroy(&f->admin);
        sl_metrics_destroy(&f->m);
        free(f);
        return -1;
    }
    f->port = sl_admin_port(f->admin);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fixture_t *f = *state;
    sl_admin_destroy(&f->admin);
    assert_null(f->admin);
    sl_admin_destroy(&f->admin); /* safe twice */
    sl_metrics_destroy(&f->m);
    free(f);
    return 0;
}

static void test_port(void **state)
{
    s_fixture_t *f = *state;
    assert_in_range(f->port, 1, 65535);
    assert_int_equal(sl_admin_port(NULL), 0);
}

static void test_metrics(void **state)
{
    s_fixture_t *f = *state;
    sl_actor_metrics_t *am = sl_metrics_add(f->m, "gen", "generate", 0, 0);
    assert_non_null(am);
    atomic_fetch_add(&am->events_out, 9);
    s_resp_t r;
    assert_int_equal(s_request(f->port, "GET", "/metrics", &r), 200);
    assert_non_null(strstr(r.ctype, "text/plain"));
    assert_non_null(strstr(r.ctype, "version=0.0.4"));
    assert_non_null(strstr(s_text(&r), "# TYPE sluice_events_out_total counter\n"));
    assert_non_null(strstr(
        s_text(&r), "\nsluice_events_out_total{actor=\"gen\",kind=\"generate\",worker=\"0\"} 9\n"));
    assert_non_null(strstr(s_text(&r), "\nsluice_up 1\n"));
    sl_buf_free(&r.body);

    /* HEAD: same status, no body */
    assert_int_equal(s_request(f->port, "HEAD", "/metrics", &r), 200);
    assert_string_equal(s_text(&r), "");
    sl_buf_free(&r.body);
}

static void test_healthz(void **state)
{
    s_fixture_t *f = *state;
    s_resp_t r;
    assert_int_equal(s_request(f->port, "GET", "/healthz", &r), 200);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(s_text(&r), "{\"status\":\"ok\"}");
    sl_buf_free(&r.body);
}

static void test_readyz(void **state)
{
    s_fixture_t *f = *state;
    s_resp_t r;
    assert_int_equal(s_request(f->port, "GET", "/readyz", &r), 503);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(s_text(&r), "{\"status\":\"starting\"}");
    sl_buf_free(&r.body);

    atomic_store(&f->m->ready, 1);
    assert_int_equal(s_request(f->port, "GET", "/readyz", &r), 200);
    assert_string_equal(s_text(&r), "{\"status\":\"ready\"}");
    sl_buf_free(&r.body);

    atomic_store(&f->m->stopping, 1);
    assert_int_equal(s_request(f->port, "GET", "/readyz", &r), 503);
    assert_string_equal(s_text(&r), "{\"status\":\"stopping\"}");
    sl_buf_free(&r.body);
}

static void test_not_found(void **state)
{
    s_fixture_t *f = *state;
    s_resp_t r;
    assert_int_equal(s_request(f->port, "GET", "/nope", &r), 404);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(s_text(&r), "{\"error\":\"not found\"}");
    sl_buf_free(&r.body);
    assert_int_equal(s_request(f->port, "GET", "/", &r), 404);
    sl_buf_free(&r.body);
    assert_int_equal(s_request(f->port, "GET", "/metrics/extra", &r), 404);
    sl_buf_free(&r.body);
}

static void test_method_not_allowed(void **state)
{
    s_fixture_t *f = *state;
    s_resp_t r;
    assert_int_equal(s_request(f->port, "POST", "/metrics", &r), 405);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(s_text(&r), "{\"error\":\"method not allowed\"}");
    sl_buf_free(&r.body);
    assert_int_equal(s_request(f->port, "DELETE", "/healthz", &r), 405);
    sl_buf_free(&r.body);
    /* the listener still serves after refusing */
    assert_int_equal(s_request(f->port, "GET", "/healthz", &r), 200);
    sl_buf_free(&r.body);
}

static void test_bad_addresses(void **state)
{
    s_fixture_t *f = *state;
    static const char *const bad[] = {
        "nonsense", "1.2.3.4:99999", "127.0.0.1:", "127.0.0.1:-1",  "127.0.0.1:80x", ":::1",
        "[::1",     "[::1]9464",     "",           "127.0.0.1: 80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_admin_t *a = sl_admin_new(bad[i], f->m);
        if (a) {
            sl_admin_destroy(&a);
            fail_msg("accepted bad address \"%s\"", bad[i]);
        }
    }
    assert_null(sl_admin_new(NULL, f->m));

    /* busy: the fixture already listens on this port */
    char busy[64];
    snprintf(busy, sizeof busy, "127.0.0.1:%d", f->port);
    assert_null(sl_admin_new(busy, f->m));
}

static void test_null_metrics(void **state)
{
    (void)state;
    sl_admin_t *a = sl_admin_new("127.0.0.1:0", NULL);
    assert_non_null(a);
    s_resp_t r;
    assert_int_equal(s_request(sl_admin_port(a), "GET", "/metrics", &r), 200);
    sl_buf_free(&r.body);
    assert_int_equal(s_request(sl_admin_port(a), "GET", "/readyz", &r), 503);
    sl_buf_free(&r.body);
    sl_admin_destroy(&a);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_port, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_metrics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_healthz, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readyz, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_not_found, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_addresses, s_setup, s_teardown),
        cmocka_unit_test(test_null_metrics),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
