/*  HTTP client: libcurl is mapped only once a client is made; then real
    requests over loopback against the sluice HTTP server (methods, headers,
    bodies, Retry-After, a body over the bound, a timeout, a refused
    connection). This program does not link libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/http.h"
#include "sluice/httpc.h"

/*  1 if a mapping of this process names `lib`. */
static int s_mapped(const char *lib)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int found = 0;
    assert_non_null(f);
    while (!found && fgets(line, sizeof line, f)) {
        found = strstr(line, lib) != NULL;
    }
    fclose(f);
    return found;
}

static void test_loaded_on_first_use(void **state)
{
    (void)state;
    char err[256];
    assert_false(s_mapped("/libcurl"));
    sl_httpc_opts_t o = {.url = "http://127.0.0.1:1/"};
    sl_httpc_t *c = sl_httpc_new(&o, err, sizeof err);
    assert_non_null(c);
    assert_true(s_mapped("/libcurl"));
    assert_int_equal(sl_httpc_load(err, sizeof err), SL_OK);
    sl_httpc_destroy(&c);
    assert_null(c);
    sl_httpc_destroy(&c);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char err[256] = "";
    sl_httpc_opts_t none = {0};
    assert_null(sl_httpc_new(&none, err, sizeof err));
    assert_non_null(strstr(err, "no url"));
    sl_httpc_opts_t o = {.url = "http://127.0.0.1:1/"};
    sl_httpc_t *c = sl_httpc_new(&o, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sl_httpc_header(c, "", "x"), SL_EINVAL);
    assert_int_equal(sl_httpc_header(c, "a:b", "x"), SL_EINVAL);
    assert_int_equal(sl_httpc_header(c, "x-a", "1\r\nx-b: 2"), SL_EINVAL);
    assert_int_equal(sl_httpc_header(c, "x-a\n", "1"), SL_EINVAL);
    assert_int_equal(sl_httpc_header(c, "x-a", "1"), SL_OK);
    sl_httpc_destroy(&c);
}

/* --------------------------------------------------------- the server */

static atomic_int s_release; /* lets /slow answer */

static int s_handler(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    const char *what = arg;
    resp->status = 200;
    resp->content_type = "text/plain";
    if (strcmp(what, "echo") == 0) {
        const char *tok = sl_http_header(req, "x-token");
        char head[128];
        int n = snprintf(head, sizeof head, "%s %s ", req->method, tok ? tok : "-");
        if (sl_buf_append(&resp->body, head, (size_t)n) ||
            sl_buf_append(&resp->body, req->body, req->body_len)) {
            return SL_ENOMEM;
        }
    } else if (strcmp(what, "busy") == 0) {
        resp->status = 429;
        resp->retry_after_s = 7;
    } else if (strcmp(what, "big") == 0) {
        char block[1024];
        memset(block, 'x', sizeof block);
        for (int i = 0; i < 4; i++) {
            if (sl_buf_append(&resp->body, block, sizeof block)) {
                return SL_ENOMEM;
            }
        }
    } else if (strcmp(what, "slow") == 0) {
        /*  Held until the test saw its client time out (bounded). */
        int64_t end = sl_mono_us() + 10 * 1000000;
        while (!atomic_load(&s_release) && sl_mono_us() < end) {
            usleep(10000);
        }
    }
    return SL_OK;
}

/*  A client of http://127.0.0.1:port/path with the other options of o. */
static sl_httpc_t *s_client(int port, const char *path, sl_httpc_opts_t o)
{
    char url[128], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    o.url = url; /* copied by the client */
    sl_httpc_t *c = sl_httpc_new(&o, err, sizeof err);
    assert_non_null(c);
    return c;
}

static void s_expect_body(const sl_httpc_reply_t *r, const char *want)
{
    assert_int_equal(r->body.len, strlen(want));
    assert_memory_equal(r->body.data, want, r->body.len);
}

static void test_requests(void **state)
{
    (void)state;
    char err[256];
    sl_http_opts_t ho = {.listen = "127.0.0.1:0", .log_name = "test"};
    sl_http_t *h = sl_http_new(&ho, err, sizeof err);
    assert_non_null(h);
    const char *routes[] = {"echo", "busy", "big", "slow"};
    for (int i = 0; i < 4; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "/%s", routes[i]);
        assert_int_equal(sl_http_route(h, "*", prefix, 0, s_handler, (void *)routes[i]), SL_OK);
    }
    assert_int_equal(sl_http_start(h, err, sizeof err), SL_OK);
    int port = sl_http_port(h);
    sl_httpc_reply_t r = {0};

    /* methods, a fixed (secret) header, a body */
    sl_httpc_opts_t o = {.timeout_us = 5000000};
    sl_httpc_t *c = s_client(port, "/echo", o);
    assert_int_equal(sl_httpc_header(c, "x-token", "s3cret"), SL_OK);
    assert_int_equal(sl_httpc_request(c, "POST", "{\"a\":1}", 7, &r), SL_OK);
    assert_int_equal(r.status, 200);
    s_expect_body(&r, "POST s3cret {\"a\":1}");
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_OK);
    s_expect_body(&r, "GET s3cret ");
    assert_int_equal(sl_httpc_request(c, "PUT", "x", 1, &r), SL_OK);
    s_expect_body(&r, "PUT s3cret x");
    assert_int_equal(sl_httpc_request(c, "POST", NULL, 0, &r), SL_OK);
    s_expect_body(&r, "POST s3cret ");
    assert_int_equal(r.retry_after_s, 0);
    sl_httpc_destroy(&c);

    /* a status is an answer, not an error; Retry-After is read */
    c = s_client(port, "/busy", o);
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_OK);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.retry_after_s, 7);
    sl_httpc_destroy(&c);
    c = s_client(port, "/nothing-here", o);
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_OK);
    assert_int_equal(r.status, 404);
    sl_httpc_destroy(&c);

    /* an answer over max_body */
    c = s_client(port, "/big", (sl_httpc_opts_t){.max_body = 1000});
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_ERANGE);
    assert_non_null(strstr(r.error, "larger than 1000 bytes"));
    assert_true(r.body.len <= 1000);
    sl_httpc_destroy(&c);
    c = s_client(port, "/big", (sl_httpc_opts_t){.max_body = 4096});
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_OK);
    assert_int_equal(r.body.len, 4096);
    sl_httpc_destroy(&c);

    /* no answer within the timeout */
    c = s_client(port, "/slow", (sl_httpc_opts_t){.timeout_us = 200000});
    int64_t t0 = sl_mono_us();
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_ETIMEDOUT);
    assert_true(sl_mono_us() - t0 < 5000000);
    assert_int_equal(r.status, 0);
    assert_true(r.error[0] != '\0');
    atomic_store(&s_release, 1);
    sl_httpc_destroy(&c);
    sl_http_destroy(&h);

    /* nobody listens any more */
    c = s_client(port, "/echo", o);
    assert_int_equal(sl_httpc_request(c, "GET", NULL, 0, &r), SL_EIO);
    assert_int_equal(r.status, 0);
    assert_true(r.error[0] != '\0');
    sl_httpc_destroy(&c);
    sl_buf_free(&r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_on_first_use), /* first: nothing loaded yet */
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
