/*  Admin HTTP listener on the shared HTTP glue (core/http.c), which owns
    libmicrohttpd, address parsing and the daemon. One catch-all route
    keeps this API's own plain error bodies ({"error":"not found"}) rather
    than the glue's structured ones, which probes and scrapers may already
    match. A pool of one polling thread serves it: every handler is short
    and only reads the metrics registry (under its lock) and its atomics.

    Credentials (sluice/auth.h, the topology's `auth.admin`): "local" (the
    default) refuses to start unless bound to a loopback address and then
    asks for none; "token" makes every request present a platform-admin
    credential (the listener serves the whole process, every tenant). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/admin.h"
#include "sluice/http.h"
#include "sluice/log.h"

#define S_CT_PROM "text/plain; version=0.0.4; charset=utf-8"

struct sl_admin {
    sl_http_t *http;
    sl_auth_t *auth;
    sl_metrics_t *metrics;
    int port;
};

static int s_json(sl_http_resp_t *resp, unsigned status, const char *json)
{
    return sl_http_json(resp, status, json, strlen(json));
}

static int s_metrics(sl_admin_t *a, sl_http_resp_t *resp)
{
    if (a->metrics) {
        int rc = sl_metrics_render(a->metrics, &resp->body);
        if (rc) {
            sl_log(SL_LOG_ERROR, "admin", NULL, "cannot render metrics: %s", sl_strerror(rc));
            return s_json(resp, 500, "{\"error\":\"cannot render metrics\"}");
        }
    }
    resp->status = 200;
    resp->content_type = S_CT_PROM;
    return SL_OK;
}

/*  503 with the first reported reason while a component reports itself
    unhealthy (sl_health_set), e.g. a store refusing writes on a full map. */
static int s_healthz(sl_http_resp_t *resp)
{
    char reason[SL_HEALTH_REASON + 64];
    if (!sl_health_get(reason, sizeof reason)) {
        return s_json(resp, 200, "{\"status\":\"ok\"}");
    }
    int rc = s_json(resp, 503, "{\"status\":\"unhealthy\",\"reason\":\"");
    if (rc == SL_OK) {
        rc = sl_json_escape(&resp->body, reason, strlen(reason));
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(&resp->body, "\"}", 2);
    }
    if (rc) {
        return s_json(resp, 503, "{\"status\":\"unhealthy\"}");
    }
    return SL_OK;
}

static int s_readyz(sl_admin_t *a, sl_http_resp_t *resp)
{
    if (a->metrics && atomic_load(&a->metrics->stopping)) {
        return s_json(resp, 503, "{\"status\":\"stopping\"}");
    }
    if (a->metrics && atomic_load(&a->metrics->ready)) {
        return s_json(resp, 200, "{\"status\":\"ready\"}");
    }
    return s_json(resp, 503, "{\"status\":\"starting\"}");
}

/*  Every request, any method: the glue passes HEAD as GET and drops the
    body of the reply itself. */
static int s_handle(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    sl_admin_t *a = arg;
    if (strcmp(req->method, "GET") != 0) {
        snprintf(resp->allow, sizeof resp->allow, "GET, HEAD");
        return s_json(resp, 405, "{\"error\":\"method not allowed\"}");
    }
    if (strcmp(req->path, "/metrics") == 0) {
        return s_metrics(a, resp);
    }
    if (strcmp(req->path, "/healthz") == 0) {
        return s_healthz(resp);
    }
    if (strcmp(req->path, "/readyz") == 0) {
        return s_readyz(a, resp);
    }
    return s_json(resp, 404, "{\"error\":\"not found\"}");
}

sl_admin_t *sl_admin_new(const char *addr, sl_metrics_t *metrics)
{
    return sl_admin_new_auth(addr, metrics, NULL, NULL);
}

sl_admin_t *sl_admin_new_auth(const char *addr, sl_metrics_t *metrics, const char *auth,
                              const char *store_path)
{
    sl_admin_t *a = NULL;
    char err[256] = "";

    if (!addr) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "no admin address given");
        goto fail;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "admin listener: %s", sl_strerror(SL_ENOMEM));
        goto fail;
    }
    a->metrics = metrics;

    sl_http_opts_t opts = {
        .listen = addr,
        .max_connections = 64,
        .timeout_s = 10,
        .max_body = 64 * 1024, /* no route takes a body */
        .log_name = "admin",
        .threads = 1,
    };
    a->http = sl_http_new(&opts, err, sizeof err);
    if (!a->http) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "admin listener: %s", err);
        goto fail;
    }
    if (!(a->auth = sl_http_auth_new(a->http, auth, store_path, 1, err, sizeof err))) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "admin listener on %s: %s", addr, err);
        goto fail;
    }
    int rc = sl_http_route(a->http, "*", "/", SL_HTTP_ROLE(SL_ROLE_PLATFORM), s_handle, a);
    if (rc) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "admin listener: %s", sl_strerror(rc));
        goto fail;
    }
    if (sl_http_start(a->http, err, sizeof err) != SL_OK) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "admin listener: %s", err);
        goto fail;
    }
    a->port = sl_http_port(a->http);
    sl_log(SL_LOG_INFO, "admin", NULL, "admin listener on %s (port %d), credentials: %s", addr,
           a->port, sl_auth_describe(a->auth));
    return a;

fail:
    if (a) {
        sl_http_destroy(&a->http);
        sl_auth_destroy(&a->auth);
    }
    free(a);
    return NULL;
}

int sl_admin_port(const sl_admin_t *admin)
{
    return admin ? admin->port : 0;
}

void sl_admin_destroy(sl_admin_t **padmin)
{
    if (!padmin || !*padmin) {
        return;
    }
    sl_admin_t *a = *padmin;
    /* Joins the glue's thread: no handler runs after this returns. */
    sl_http_destroy(&a->http);
    sl_auth_destroy(&a->auth);
    free(a);
    *padmin = NULL;
}
