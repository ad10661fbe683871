/*  HTTP glue: URL decoding, query parsing, routing and error JSON without a
    socket; then a real server over loopback (headers, a body, a stream,
    and a stop that does not hang with a stream client connected). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "sluice/http.h"

/* ------------------------------------------------------------ decoding */

static void test_url_decode(void **state)
{
    (void)state;
    char out[128];
    size_t n = 0;
    const char *qn = "snowflake%3A%2F%2Facme-prod%2Fanalytics%2Forders%2Ffct_orders";
    assert_int_equal(sl_http_url_decode(qn, strlen(qn), 0, out, sizeof out, &n), SL_OK);
    assert_string_equal(out, "snowflake://acme-prod/analytics/orders/fct_orders");
    assert_int_equal(n, strlen(out));
    assert_int_equal(sl_http_url_decode("a+b%2b", 6, 1, out, sizeof out, NULL), SL_OK);
    assert_string_equal(out, "a b+");
    assert_int_equal(sl_http_url_decode("a+b", 3, 0, out, sizeof out, NULL), SL_OK);
    assert_string_equal(out, "a+b");
    assert_int_equal(sl_http_url_decode("%e2%82%AC", 9, 0, out, sizeof out, NULL), SL_OK);
    assert_string_equal(out, "\xe2\x82\xac");
    /* malformed escapes */
    assert_int_equal(sl_http_url_decode("%G1", 3, 0, out, sizeof out, NULL), SL_EPROTO);
    assert_int_equal(sl_http_url_decode("x%1G", 4, 0, out, sizeof out, NULL), SL_EPROTO);
    assert_int_equal(sl_http_url_decode("x%4", 3, 0, out, sizeof out, NULL), SL_EPROTO);
    assert_int_equal(sl_http_url_decode("%", 1, 0, out, sizeof out, NULL), SL_EPROTO);
    assert_int_equal(sl_http_url_decode("a%00b", 5, 0, out, sizeof out, NULL), SL_EPROTO);
    /* the length bound is respected, never overrun */
    assert_int_equal(sl_http_url_decode("abcdef", 6, 0, out, 4, NULL), SL_ERANGE);
    assert_int_equal(sl_http_url_decode("abc", 3, 0, out, 4, NULL), SL_OK);
    assert_string_equal(out, "abc");
    assert_int_equal(sl_http_url_decode("", 0, 0, out, 1, NULL), SL_OK);
    assert_string_equal(out, "");
}

static void test_url_encode(void **state)
{
    (void)state;
    sl_buf_t b = {0};
    const char *qn = "snowflake://acme-prod/a b~_.";
    assert_int_equal(sl_http_url_encode(qn, strlen(qn), &b), SL_OK);
    assert_int_equal(sl_buf_append(&b, "", 1), SL_OK);
    assert_string_equal((char *)b.data, "snowflake%3A%2F%2Facme-prod%2Fa%20b~_.");
    char out[128];
    assert_int_equal(sl_http_url_decode((char *)b.data, b.len - 1, 0, out, sizeof out, NULL),
                     SL_OK);
    assert_string_equal(out, qn);
    sl_buf_free(&b);
}

static void test_query_parse(void **state)
{
    (void)state;
    sl_http_param_t p[SL_HTTP_MAX_PARAMS];
    int n = -1;
    char bad[80];
    assert_int_equal(sl_http_query_parse("a=1&b=x%20y+z&flag&&c=&d=%3D%26", p, &n, bad, sizeof bad),
                     SL_OK);
    assert_int_equal(n, 5);
    assert_string_equal(p[0].name, "a");
    assert_string_equal(p[0].value, "1");
    assert_string_equal(p[1].value, "x y z");
    assert_string_equal(p[2].name, "flag");
    assert_string_equal(p[2].value, "");
    assert_string_equal(p[3].name, "c");
    assert_string_equal(p[3].value, "");
    assert_string_equal(p[4].value, "=&");
    sl_http_params_free(p, n);

    assert_int_equal(sl_http_query_parse("", p, &n, bad, sizeof bad), SL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(sl_http_query_parse("ok=1&prefix=%G1", p, &n, bad, sizeof bad), SL_EPROTO);
    assert_int_equal(n, 0);
    assert_string_equal(bad, "prefix");
    assert_int_equal(sl_http_query_parse("x%ZZ=1", p, &n, bad, sizeof bad), SL_EPROTO);
    assert_string_equal(bad, "x%ZZ");

    sl_buf_t q = {0};
    for (int i = 0; i <= SL_HTTP_MAX_PARAMS; i++) {
        char one[16];
        snprintf(one, sizeof one, "%sp%d=1", i ? "&" : "", i);
        assert_int_equal(sl_buf_append(&q, one, strlen(one)), SL_OK);
    }
    assert_int_equal(sl_buf_append(&q, "", 1), SL_OK);
    assert_int_equal(sl_http_query_parse((char *)q.data, p, &n, bad, sizeof bad), SL_ERANGE);
    assert_int_equal(n, 0);
    sl_buf_free(&q);
}

/* ------------------------------------------------------------ routing */

typedef struct {
    char tag[32];
    char rest[256];
    char method[16];
    char tenant[64];
    char x[64];
    size_t body_len;
    int calls;
} s_seen_t;

static s_seen_t s_seen;

static const char *s_fake_header(void *arg, const char *name)
{
    (void)arg;
    return strcasecmp(name, "X-Tenant-ID") == 0 ? "acme" : NULL;
}

static int s_handler(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_seen.calls++;
    snprintf(s_seen.tag, sizeof s_seen.tag, "%s", (const char *)arg);
    snprintf(s_seen.rest, sizeof s_seen.rest, "%s", req->rest);
    snprintf(s_seen.method, sizeof s_seen.method, "%s", req->method);
    const char *t = sl_http_header(req, "x-tenant-id");
    snprintf(s_seen.tenant, sizeof s_seen.tenant, "%s", t ? t : "");
    const char *x = sl_http_param(req, "x");
    snprintf(s_seen.x, sizeof s_seen.x, "%s", x ? x : "");
    s_seen.body_len = req->body_len;
    if (strcmp((const char *)arg, "fail") == 0) {
        sl_http_json(resp, 200, "{}", 2);
        return SL_EIO;
    }
    int64_t limit = 0;
    if (sl_http_param_int(req, resp, "limit", 100, 1, 1000, &limit) != SL_OK) {
        return SL_OK;
    }
    char json[64];
    int n = snprintf(json, sizeof json, "{\"limit\":%lld}", (long long)limit);
    return sl_http_json(resp, 200, json, (size_t)n);
}

static sl_http_t *s_server(void)
{
    char err[256];
    sl_http_opts_t o = {.listen = "127.0.0.1:0", .max_connections = 8, .timeout_s = 5};
    sl_http_t *h = sl_http_new(&o, err, sizeof err);
    assert_non_null(h);
    assert_int_equal(sl_http_route(h, "GET", "/v1/assets", 0, s_handler, "assets"), SL_OK);
    assert_int_equal(sl_http_route(h, "GET", "/v1/changes", SL_HTTP_EXACT, s_handler, "changes"),
                     SL_OK);
    assert_int_equal(sl_http_route(h, "GET", "/v1/changes/stream", 0, s_handler, "stream"), SL_OK);
    assert_int_equal(sl_http_route(h, "POST", "/v1/events", 0, s_handler, "events"), SL_OK);
    assert_int_equal(sl_http_route(h, "PUT", "/v1/events", 0, s_handler, "events-put"), SL_OK);
    assert_int_equal(sl_http_route(h, "GET", "/v1/fail", 0, s_handler, "fail"), SL_OK);
    return h;
}

/*  Dispatch; the body is returned NUL-terminated in a static buffer. */
static const char *s_dispatch(sl_http_t *h, const char *method, const char *uri,
                              sl_http_resp_t *resp)
{
    static char body[1024];
    memset(&s_seen, 0, sizeof s_seen);
    sl_http_dispatch(h, method, uri, s_fake_header, NULL, NULL, 0, resp);
    size_t n = resp->body.len < sizeof body - 1 ? resp->body.len : sizeof body - 1;
    memcpy(body, resp->body.data ? (const char *)resp->body.data : "", n);
    body[n] = '\0';
    return body;
}

static void test_routing(void **state)
{
    (void)state;
    sl_http_t *h = s_server();
    sl_http_resp_t r;
    const char *b;

    b = s_dispatch(h, "GET", "/v1/assets/snowflake%3A%2F%2Fx%2Fy/lineage?x=a%20b", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_seen.tag, "assets");
    assert_string_equal(s_seen.rest, "/snowflake%3A%2F%2Fx%2Fy/lineage");
    assert_string_equal(s_seen.x, "a b");
    assert_string_equal(s_seen.tenant, "acme");
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(b, "{\"limit\":100}");
    sl_http_resp_free(&r);

    b = s_dispatch(h, "GET", "/v1/assets?limit=7", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_seen.rest, "");
    assert_string_equal(b, "{\"limit\":7}");
    sl_http_resp_free(&r);

    /* HEAD is served as GET */
    s_dispatch(h, "HEAD", "/v1/assets", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_seen.method, "GET");
    sl_http_resp_free(&r);

    /* longest prefix wins; exact routes take no suffix */
    s_dispatch(h, "GET", "/v1/changes/stream?after=3", &r);
    assert_string_equal(s_seen.tag, "stream");
    sl_http_resp_free(&r);
    s_dispatch(h, "GET", "/v1/changes", &r);
    assert_string_equal(s_seen.tag, "changes");
    sl_http_resp_free(&r);
    b = s_dispatch(h, "GET", "/v1/changes/other", &r);
    assert_int_equal(r.status, 404);
    assert_int_equal(s_seen.calls, 0);
    assert_non_null(strstr(b, "\"code\":\"not_found\""));
    sl_http_resp_free(&r);

    /* no prefix match inside a segment */
    b = s_dispatch(h, "GET", "/v1/assetsx", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(b, "{\"error\":{\"code\":\"not_found\",\"message\":\"no route for "
                           "/v1/assetsx\"}}");
    sl_http_resp_free(&r);
    s_dispatch(h, "GET", "/", &r);
    assert_int_equal(r.status, 404);
    sl_http_resp_free(&r);

    /* 405 names what is allowed */
    b = s_dispatch(h, "DELETE", "/v1/assets/x", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET");
    assert_non_null(strstr(b, "\"code\":\"method_not_allowed\""));
    sl_http_resp_free(&r);
    s_dispatch(h, "GET", "/v1/events", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST, PUT");
    sl_http_resp_free(&r);
    s_dispatch(h, "PUT", "/v1/events", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(s_seen.tag, "events-put");
    sl_http_resp_free(&r);

    /* bad parameters: 400 naming the parameter */
    b = s_dispatch(h, "GET", "/v1/assets?limit=0", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(b, "\"code\":\"bad_parameter\""));
    assert_non_null(strstr(b, "'limit'"));
    sl_http_resp_free(&r);
    b = s_dispatch(h, "GET", "/v1/assets?limit=12x", &r);
    assert_int_equal(r.status, 400);
    sl_http_resp_free(&r);
    b = s_dispatch(h, "GET", "/v1/assets?limit=-5", &r);
    assert_int_equal(r.status, 400);
    sl_http_resp_free(&r);
    b = s_dispatch(h, "GET", "/v1/assets?limit=99999999999999999999999", &r);
    assert_int_equal(r.status, 400);
    sl_http_resp_free(&r);
    b = s_dispatch(h, "GET", "/v1/assets?prefix=%G1", &r);
    assert_int_equal(r.status, 400);
    assert_int_equal(s_seen.calls, 0);
    assert_non_null(strstr(b, "query parameter 'prefix'"));
    sl_http_resp_free(&r);

    /* a handler error is a 500 JSON error, not what it left in resp */
    b = s_dispatch(h, "GET", "/v1/fail", &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(b, "\"code\":\"internal\""));
    sl_http_resp_free(&r);

    /* hostile targets */
    s_dispatch(h, "GET", "v1/assets", &r);
    assert_int_equal(r.status, 400);
    sl_http_resp_free(&r);
    char *huge = malloc(SL_HTTP_MAX_URI + 16);
    assert_non_null(huge);
    memset(huge, 'a', SL_HTTP_MAX_URI + 15);
    huge[0] = '/';
    huge[SL_HTTP_MAX_URI + 15] = '\0';
    s_dispatch(h, "GET", huge, &r);
    assert_int_equal(r.status, 414);
    sl_http_resp_free(&r);
    free(huge);

    sl_http_destroy(&h);
    assert_null(h);
    sl_http_destroy(&h);
}

static void test_error_json(void **state)
{
    (void)state;
    sl_http_resp_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(sl_http_error(&r, 404, "not_found", "asset \"%s\" not found", "a\\b"), SL_OK);
    assert_int_equal(r.status, 404);
    assert_int_equal(sl_buf_append(&r.body, "", 1), SL_OK);
    assert_string_equal((char *)r.body.data,
                        "{\"error\":{\"code\":\"not_found\",\"message\":\"asset \\\"a\\\\b\\\" not "
                        "found\"}}");
    sl_http_resp_free(&r);
}

static void test_bad_options(void **state)
{
    (void)state;
    char err[256];
    sl_http_opts_t o = {.listen = "nonsense"};
    assert_null(sl_http_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "nonsense"));
    o.listen = "127.0.0.1:99999";
    assert_null(sl_http_new(&o, err, sizeof err));
    o.listen = NULL;
    assert_null(sl_http_new(&o, err, sizeof err));
    o.listen = "127.0.0.1:0";
    sl_http_t *h = sl_http_new(&o, err, sizeof err);
    assert_non_null(h);
    assert_int_equal(sl_http_route(h, "GET", "nope", 0, s_handler, NULL), SL_EINVAL);
    sl_http_destroy(&h);
}

/* ------------------------------------------------------------ real server */

typedef struct {
    long status;
    char ctype[128];
    char allow[64];
    sl_buf_t body;
} s_resp_t;

static size_t s_on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    s_resp_t *r = ud;
    return sl_buf_append(&r->body, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

static size_t s_on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    s_resp_t *r = ud;
    size_t n = size * nmemb;
    if (n > 7 && strncasecmp(ptr, "Allow: ", 7) == 0) {
        size_t l = n - 7;
        while (l > 0 && (ptr[7 + l - 1] == '\r' || ptr[7 + l - 1] == '\n')) {
            l--;
        }
        snprintf(r->allow, sizeof r->allow, "%.*s", (int)l, ptr + 7);
    }
    return n;
}

static long s_request(int port, const char *method, const char *target, const char *tenant,
                      const char *body, s_resp_t *r)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, target);
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hdrs = NULL;
    char th[128];
    if (tenant) {
        snprintf(th, sizeof th, "X-Tenant-ID: %s", tenant);
        hdrs = curl_slist_append(hdrs, th);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
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
    curl_slist_free_all(hdrs);
    assert_int_equal(sl_buf_append(&r->body, "", 1), 0);
    return r->status;
}

/*  A stream of `limit` numbered chunks (0 = endless, one every call). */
typedef struct {
    int n;
    int limit;
    atomic_int *freed;
} s_counter_t;

static int s_count_next(void *arg, sl_buf_t *out)
{
    s_counter_t *c = arg;
    if (c->limit && c->n >= c->limit) {
        return SL_DONE;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "data: %d\n\n", c->n++);
    return sl_buf_append(out, line, (size_t)n);
}

static void s_count_free(void *arg)
{
    s_counter_t *c = arg;
    atomic_fetch_add(c->freed, 1);
    free(c);
}

static atomic_int s_freed;

static int s_stream_handler(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    (void)arg;
    int64_t limit = 0;
    if (sl_http_param_int(req, resp, "limit", 0, 0, 1000, &limit) != SL_OK) {
        return SL_OK;
    }
    s_counter_t *c = calloc(1, sizeof *c);
    if (!c) {
        return SL_ENOMEM;
    }
    c->limit = (int)limit;
    c->freed = &s_freed;
    resp->content_type = "text/event-stream";
    resp->stream.next = s_count_next;
    resp->stream.free = s_count_free;
    resp->stream.arg = c;
    return SL_OK;
}

/*  A stream that never has anything: only keep-alives. */
static int s_idle_next(void *arg, sl_buf_t *out)
{
    (void)arg;
    (void)out;
    return SL_OK;
}

static int s_idle_handler(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    (void)arg;
    (void)req;
    resp->content_type = "text/event-stream";
    resp->stream.next = s_idle_next;
    resp->stream.idle_us = 100 * 1000;
    resp->stream.idle_text = ": keep-alive\n\n";
    return SL_OK;
}

typedef struct {
    int port;
    const char *target;
    atomic_size_t got;
    CURLcode rc;
} s_client_t;

static size_t s_client_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    s_client_t *c = ud;
    (void)ptr;
    atomic_fetch_add(&c->got, size * nmemb);
    return size * nmemb;
}

static void *s_client_thread(void *arg)
{
    s_client_t *c = arg;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, c->target);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_client_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    c->rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    return NULL;
}

static void s_wait_bytes(s_client_t *c, size_t n)
{
    int64_t until = sl_mono_us() + 10 * 1000000;
    while (atomic_load(&c->got) < n) {
        assert_true(sl_mono_us() < until);
        usleep(10 * 1000);
    }
}

static void test_server(void **state)
{
    (void)state;
    char err[256];
    sl_http_t *h = s_server();
    assert_int_equal(sl_http_route(h, "GET", "/count", 0, s_stream_handler, NULL), SL_OK);
    assert_int_equal(sl_http_route(h, "GET", "/idle", 0, s_idle_handler, NULL), SL_OK);
    assert_int_equal(sl_http_port(h), 0);
    assert_int_equal(sl_http_start(h, err, sizeof err), SL_OK);
    int port = sl_http_port(h);
    assert_true(port > 0);
    assert_int_equal(sl_http_route(h, "GET", "/late", 0, s_handler, NULL), SL_ESTATE);

    s_resp_t r;
    /* the raw target reaches the handler: %2F stays encoded */
    memset(&s_seen, 0, sizeof s_seen);
    assert_int_equal(
        s_request(port, "GET", "/v1/assets/snowflake%3A%2F%2Fa%2Fb?x=%C3%A9+1", "t1", NULL, &r),
        200);
    assert_string_equal(s_seen.rest, "/snowflake%3A%2F%2Fa%2Fb");
    assert_string_equal(s_seen.x, "\xc3\xa9 1");
    assert_string_equal(s_seen.tenant, "t1");
    assert_string_equal(r.ctype, "application/json");
    sl_buf_free(&r.body);

    assert_int_equal(s_request(port, "GET", "/nothing", NULL, NULL, &r), 404);
    assert_non_null(strstr((char *)r.body.data, "\"not_found\""));
    sl_buf_free(&r.body);
    assert_int_equal(s_request(port, "POST", "/v1/assets", NULL, "{}", &r), 405);
    assert_string_equal(r.allow, "GET");
    sl_buf_free(&r.body);
    assert_int_equal(s_request(port, "GET", "/v1/assets?prefix=%G1", NULL, NULL, &r), 400);
    sl_buf_free(&r.body);

    /* a body reaches a POST route */
    memset(&s_seen, 0, sizeof s_seen);
    assert_int_equal(s_request(port, "POST", "/v1/events", NULL, "{\"a\":1}", &r), 200);
    assert_int_equal(s_seen.body_len, 7);
    sl_buf_free(&r.body);
    /* too large: 413 */
    char *big = malloc((1u << 20) + 2);
    assert_non_null(big);
    memset(big, 'x', (1u << 20) + 1);
    big[(1u << 20) + 1] = '\0';
    assert_int_equal(s_request(port, "POST", "/v1/events", NULL, big, &r), 413);
    sl_buf_free(&r.body);
    free(big);

    /* a finite stream ends cleanly with every chunk */
    atomic_store(&s_freed, 0);
    assert_int_equal(s_request(port, "GET", "/count?limit=3", NULL, NULL, &r), 200);
    assert_string_equal(r.ctype, "text/event-stream");
    assert_string_equal((char *)r.body.data, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    sl_buf_free(&r.body);
    int64_t until = sl_mono_us() + 5 * 1000000;
    while (atomic_load(&s_freed) < 1 && sl_mono_us() < until) {
        usleep(5000);
    }
    assert_int_equal(atomic_load(&s_freed), 1);

    /* keep-alives on an idle stream; a client that goes away ends it */
    s_client_t idle = {.port = port, .target = "/idle"};
    pthread_t ti;
    assert_int_equal(pthread_create(&ti, NULL, s_client_thread, &idle), 0);
    s_wait_bytes(&idle, 2 * strlen(": keep-alive\n\n"));

    /* an endless stream and a stop with its client connected */
    s_client_t endless = {.port = port, .target = "/count"};
    pthread_t te;
    assert_int_equal(pthread_create(&te, NULL, s_client_thread, &endless), 0);
    s_wait_bytes(&endless, 1000);
    int64_t t0 = sl_mono_us();
    sl_http_destroy(&h);
    int64_t took = sl_mono_us() - t0;
    assert_null(h);
    assert_true(took < 2 * 1000000);
    assert_int_equal(pthread_join(te, NULL), 0);
    assert_int_equal(pthread_join(ti, NULL), 0);
    assert_int_equal(atomic_load(&s_freed), 2);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),  cmocka_unit_test(test_url_encode),
        cmocka_unit_test(test_query_parse), cmocka_unit_test(test_routing),
        cmocka_unit_test(test_error_json),  cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_server),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
