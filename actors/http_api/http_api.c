/*  http_api: the query API over HTTP/JSON (docs/api.md is the reference).

    A source without outputs: it handles no events, it serves reads of the
    topology's store on its own HTTP threads (core/http.c, one thread per
    connection) until the engine stops it. Every request is authenticated
    before anything else (core/http.c with this actor's `auth`; role
    reader) and every read sees only the keys of the request's tenant: the
    credential's (X-Tenant-ID only chooses among the tenants it covers),
    or without credentials (auth none) the X-Tenant-ID header. The store handle is shared with the
   store actor of the same process (sl_store_open shares one environment per path), and LMDB read
   transactions run concurrently with its writes. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/http_api/tokens.h"
#include "sluice/actor.h"
#include "sluice/http.h"
#include "sluice/log.h"
#include "sluice/mpjson.h"
#include "sluice/store.h"

#define S_TENANT_MAX 64
#define S_QN_MAX 4096
#define S_STREAM_BATCH 256            /* change records per read transaction */
#define S_KEEPALIVE_US (15 * 1000000) /* SSE comment when nothing happened */
#define S_RECHECK_US (5 * 1000000)    /* a stream's credential is checked again this often */

typedef struct {
    char *listen;
    char *path;
    int64_t max_connections;
    int64_t timeout_us;
    int isolated;
    sl_strlist_t tenants;
    char *auth;
    /* run state */
    sl_auth_t *authn;
    sl_api_tokens_t tokens; /* the token routes (tokens.c) */
    char name[64];
    const char *store_path;
    const char **allowed;
    pthread_mutex_t mu; /* guards the lazy open of store */
    int mu_ok;
    sl_store_t *store;
    sl_http_t *http;
} s_api_t;

/*  One Server-Sent Events follower. */
typedef struct {
    s_api_t *api;
    char tenant[S_TENANT_MAX + 1];
    sl_store_t *store;
    uint64_t after;
    int greeted;
    int rc;
    sl_buf_t *out;
    char *authz;        /* the Authorization header, to check again (NULL: no checks) */
    int64_t recheck_us; /* when */
} s_follow_t;

/* ------------------------------------------------------------ helpers */

/*  The tenant of a request, or a 400 in resp. */
static int s_tenant(const sl_http_req_t *req, sl_http_resp_t *resp, const char **tenant)
{
    if (req->who) {
        /*  Checked against the credential by the glue; only a platform
            admin can come without one. */
        if (!req->tenant) {
            sl_http_error(resp, 400, "missing_tenant",
                          "a platform admin names the tenant to read with X-Tenant-ID");
            return SL_EINVAL;
        }
        *tenant = req->tenant;
        return SL_OK;
    }
    const char *t = sl_http_header(req, "X-Tenant-ID");
    if (!t || !*t) {
        sl_http_error(resp, 400, "missing_tenant", "the X-Tenant-ID header is required");
        return SL_EINVAL;
    }
    if (!sl_name_ok(t, S_TENANT_MAX)) {
        sl_http_error(resp, 400, "bad_tenant",
                      "X-Tenant-ID must be 1 to %d characters of A-Z a-z 0-9 _ -", S_TENANT_MAX);
        return SL_EINVAL;
    }
    *tenant = t;
    return SL_OK;
}

/*  The store, opened at the first request rather than in init: the engine
    starts actors in reverse file order, and sl_store_open shares one
    handle per path whose map size and sync mode the first opener sets.
    Opening later lets the store actor (with its options) open it first. */
static sl_store_t *s_store(s_api_t *api, sl_http_resp_t *resp)
{
    char err[256] = "";
    pthread_mutex_lock(&api->mu);
    if (!api->store) {
        sl_store_opts_t so = {
            .path = api->store_path,
            .isolated = api->isolated,
            .tenants = api->allowed,
        };
        api->store = sl_store_open(&so, err, sizeof err);
        if (!api->store) {
            sl_error(api->name, "cannot open store %s: %s", api->store_path, err);
        }
    }
    sl_store_t *st = api->store;
    pthread_mutex_unlock(&api->mu);
    if (!st) {
        sl_http_error(resp, 503, "store_unavailable", "the store cannot be opened: %s", err);
    }
    return st;
}

static sl_store_t *s_store_of(void *arg, sl_http_resp_t *resp)
{
    return s_store(arg, resp);
}

/*  Answer with what a store read left in body, or the error it returned:
    `missing` for SL_ENOTFOUND (404), `invalid` for SL_EINVAL (400). */
static int s_reply(sl_http_resp_t *resp, int rc, const char *missing, const char *invalid)
{
    if (rc == SL_OK) {
        resp->status = 200;
        return SL_OK;
    }
    if (rc == SL_ENOTFOUND) {
        return sl_http_error(resp, 404, "not_found", "%s", missing);
    }
    if (rc == SL_EINVAL) {
        return sl_http_error(resp, 400, "bad_parameter", "%s", invalid);
    }
    return sl_http_error(resp, 500, "store_error", "store: %s", sl_strerror(rc));
}

static uint64_t s_parse_seq(const char *v, int *ok)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    *ok = v[0] >= '0' && v[0] <= '9' && *end == '\0' && !errno;
    return (uint64_t)x;
}

/*  ?after=: absent = 0; SL_EINVAL with a 400 in resp otherwise. */
static int s_after(const sl_http_req_t *req, sl_http_resp_t *resp, uint64_t *after)
{
    const char *v = sl_http_param(req, "after");
    int ok = 1;
    *after = v ? s_parse_seq(v, &ok) : 0;
    if (!ok) {
        sl_http_error(resp, 400, "bad_parameter",
                      "parameter 'after' must be a sequence number (0 or more)");
        return SL_EINVAL;
    }
    return SL_OK;
}

/* ------------------------------------------------------------ /v1/assets */

/*  The percent-decoded qualified name of a path, or an error answered. */
static int s_qn(const char *raw, size_t rawlen, char qn[S_QN_MAX + 1], sl_http_resp_t *resp)
{
    int rc = sl_http_url_decode(raw, rawlen, 0, qn, S_QN_MAX + 1, NULL);
    if (rc == SL_ERANGE) {
        sl_http_error(resp, 400, "bad_path", "qualified name longer than %d bytes", S_QN_MAX);
    } else if (rc) {
        sl_http_error(resp, 400, "bad_path", "qualified name: malformed percent-encoding");
    } else if (!qn[0]) {
        sl_http_error(resp, 404, "not_found", "no qualified name given");
        rc = SL_ENOTFOUND;
    }
    return rc;
}

static int s_asset_one(s_api_t *api, const char *tenant, const char *raw, size_t rawlen,
                       const sl_http_req_t *req, sl_http_resp_t *resp)
{
    char qn[S_QN_MAX + 1];
    int rc;
    if (s_qn(raw, rawlen, qn, resp) != SL_OK) {
        return SL_OK;
    }
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    rc = sl_store_asset_json(st, tenant, qn, &resp->body);
    return s_reply(resp, rc, "asset not found", "the store rejects this qualified name");
}

static int s_lineage(s_api_t *api, const char *tenant, const char *raw, size_t rawlen,
                     const sl_http_req_t *req, sl_http_resp_t *resp)
{
    char qn[S_QN_MAX + 1];
    int rc;
    if (s_qn(raw, rawlen, qn, resp) != SL_OK) {
        return SL_OK;
    }
    sl_direction_t dir = SL_DIR_DOWN;
    const char *d = sl_http_param(req, "direction");
    if (d) {
        if (strcmp(d, "down") == 0) {
            dir = SL_DIR_DOWN;
        } else if (strcmp(d, "up") == 0) {
            dir = SL_DIR_UP;
        } else if (strcmp(d, "both") == 0) {
            dir = SL_DIR_BOTH;
        } else {
            return sl_http_error(resp, 400, "bad_parameter",
                                 "parameter 'direction' must be down, up or both");
        }
    }
    int64_t depth = 0, limit = 0;
    if (sl_http_param_int(req, resp, "depth", 3, 1, 10, &depth) != SL_OK ||
        sl_http_param_int(req, resp, "limit", 1000, 1, 10000, &limit) != SL_OK) {
        return SL_OK;
    }
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    rc = sl_store_lineage_json(st, tenant, qn, dir, (int)depth, (int)limit, &resp->body);
    return s_reply(resp, rc, "asset not found", "the store rejects these lineage parameters");
}

/*  /v1/assets/{qn}/provenance?tag=T (or ?value=incident:SRC/ID, owner:X,
    description): why the asset holds it, one shortest path per source. */
static int s_provenance(s_api_t *api, const char *tenant, const char *raw, size_t rawlen,
                        const sl_http_req_t *req, sl_http_resp_t *resp)
{
    char qn[S_QN_MAX + 1], value[S_QN_MAX + 16];
    if (s_qn(raw, rawlen, qn, resp) != SL_OK) {
        return SL_OK;
    }
    const char *tag = sl_http_param(req, "tag"), *val = sl_http_param(req, "value");
    if (!tag == !val || (tag && !tag[0]) || (val && !val[0])) {
        return sl_http_error(resp, 400, "bad_parameter",
                             "give exactly one of 'tag' (a tag name) or 'value' (tag:NAME, "
                             "owner:NAME, description, incident:SOURCE/ID)");
    }
    if (strlen(tag ? tag : val) > S_QN_MAX) {
        return sl_http_error(resp, 400, "bad_parameter", "value longer than %d bytes", S_QN_MAX);
    }
    snprintf(value, sizeof value, "%s%s", tag ? "tag:" : "", tag ? tag : val);
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    int rc = sl_store_provenance_json(st, tenant, qn, value, &resp->body);
    return s_reply(resp, rc, "asset not found", "the store rejects this name or value");
}

static int s_asset_list(s_api_t *api, const char *tenant, const sl_http_req_t *req,
                        sl_http_resp_t *resp)
{
    int64_t limit = 0;
    if (sl_http_param_int(req, resp, "limit", 100, 1, 1000, &limit) != SL_OK) {
        return SL_OK;
    }
    const char *prefix = sl_http_param(req, "prefix");
    const char *cursor = sl_http_param(req, "cursor");
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    int rc = sl_store_assets_json(st, tenant, prefix ? prefix : "", (int)limit,
                                  cursor ? cursor : "", &resp->body);
    return s_reply(resp, rc, "not found", "parameter 'cursor' is not a cursor this API gave out");
}

/*  /v1/assets, /v1/assets/{qn}, /v1/assets/{qn}/lineage,
    /v1/assets/{qn}/provenance. The qualified name is the raw rest of the
    path, percent-decoded: "%2F" and a plain "/" both decode to "/". A raw
    path ending in "/lineage" or "/provenance" is that route, so a name
    that itself ends so must encode that slash ("%2Flineage") to be read
    as an asset. */
static int s_assets(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_api_t *api = arg;
    const char *tenant = NULL;
    if (s_tenant(req, resp, &tenant) != SL_OK) {
        return SL_OK;
    }
    const char *rest = req->rest;
    if (rest[0] == '\0') {
        return s_asset_list(api, tenant, req, resp);
    }
    rest++; /* the '/' after the prefix */
    size_t len = strlen(rest);
    static const char suffix[] = "/lineage";
    size_t sl = sizeof suffix - 1;
    if (len > sl && memcmp(rest + len - sl, suffix, sl) == 0) {
        return s_lineage(api, tenant, rest, len - sl, req, resp);
    }
    static const char prov[] = "/provenance";
    size_t pl = sizeof prov - 1;
    if (len > pl && memcmp(rest + len - pl, prov, pl) == 0) {
        return s_provenance(api, tenant, rest, len - pl, req, resp);
    }
    return s_asset_one(api, tenant, rest, len, req, resp);
}

/* ------------------------------------------------------------ /v1/incidents */

static int s_incidents(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_api_t *api = arg;
    const char *tenant = NULL;
    if (s_tenant(req, resp, &tenant) != SL_OK) {
        return SL_OK;
    }
    if (req->rest[0]) {
        return sl_http_error(resp, 404, "not_found", "no route for %.200s", req->path);
    }
    const char *status = sl_http_param(req, "status");
    if (status && strcmp(status, "open") != 0 && strcmp(status, "acknowledged") != 0 &&
        strcmp(status, "resolved") != 0) {
        return sl_http_error(resp, 400, "bad_parameter",
                             "parameter 'status' must be open, acknowledged or resolved");
    }
    int64_t limit = 0;
    if (sl_http_param_int(req, resp, "limit", 100, 1, 1000, &limit) != SL_OK) {
        return SL_OK;
    }
    const char *asset = sl_http_param(req, "asset");
    const char *source = sl_http_param(req, "source");
    const char *cursor = sl_http_param(req, "cursor");
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    int rc = sl_store_incidents_json(st, tenant, status, asset && *asset ? asset : NULL,
                                     source && *source ? source : NULL, (int)limit,
                                     cursor ? cursor : "", &resp->body);
    return s_reply(resp, rc, "not found", "parameter 'cursor' is not a cursor this API gave out");
}

/* ------------------------------------------------------------ /v1/changes */

static int s_changes(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_api_t *api = arg;
    const char *tenant = NULL;
    uint64_t after = 0;
    int64_t limit = 0;
    if (s_tenant(req, resp, &tenant) != SL_OK || s_after(req, resp, &after) != SL_OK ||
        sl_http_param_int(req, resp, "limit", 100, 1, 1000, &limit) != SL_OK) {
        return SL_OK;
    }
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    int rc = sl_store_changes_json(st, tenant, after, (int)limit, &resp->body);
    return s_reply(resp, rc, "not found", "the store rejects these parameters");
}

static int s_follow_one(void *arg, uint64_t seq, const sl_event_t *change)
{
    s_follow_t *f = arg;
    char head[64];
    int n = snprintf(head, sizeof head, "id: %llu\nevent: change\ndata: ", (unsigned long long)seq);
    size_t mark = f->out->len;
    int rc = sl_buf_append(f->out, head, (size_t)n);
    if (rc == SL_OK) {
        rc = change->body.len
                 ? sl_msgpack_to_json((const uint8_t *)change->body.ptr, change->body.len, f->out)
                 : sl_buf_append(f->out, "{}", 2);
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(f->out, "\n\n", 2);
    }
    if (rc) {
        f->out->len = mark;
        f->rc = rc;
        return 1;
    }
    f->after = seq;
    return 0;
}

/*  Next chunk of the stream: whatever was committed since the last call
    (the HTTP glue calls again after ~50 ms when this adds nothing). */
/*  A stream outlives the check of the request that opened it: its
    credential is checked again every few seconds, so a revoked or expired
    token ends the streams it opened. 0 while it is still good. */
static int s_follow_recheck(s_follow_t *f)
{
    int64_t now = sl_mono_us();
    if (!f->authz || now < f->recheck_us) {
        return 0;
    }
    f->recheck_us = now + S_RECHECK_US;
    sl_principal_t who;
    sl_auth_err_t e;
    char tenant[SL_AUTH_TENANT_MAX + 1];
    int rc = sl_auth_authenticate(f->api->authn, f->authz, &who, &e);
    if (rc == SL_OK) {
        rc = sl_auth_authorize(&who, f->tenant, SL_ROLE_READER, tenant, &e);
    }
    if (rc == SL_OK || rc == SL_EIO) {
        return 0; /* a store or key set that cannot be read now ends nothing */
    }
    sl_auth_refused(f->api->authn, rc == SL_EAUTH ? 401 : 403, &e, who.subject,
                    "/v1/changes/stream");
    return -1;
}

static int s_follow_next(void *arg, sl_buf_t *out)
{
    s_follow_t *f = arg;
    if (s_follow_recheck(f) != 0) {
        return SL_DONE; /* the stream ends; the client's reconnect gets the 401 */
    }
    if (!f->greeted) {
        /* a first byte at once, so the client sees the headers now */
        char hello[96];
        int n = snprintf(hello, sizeof hello, "retry: 1000\n: changes of %s after %llu\n\n",
                         f->tenant, (unsigned long long)f->after);
        f->greeted = 1;
        return sl_buf_append(out, hello, (size_t)n);
    }
    uint64_t last = 0;
    int rc = sl_store_last_seq(f->store, f->tenant, &last);
    if (rc == SL_ENOTFOUND) {
        return SL_OK; /* nothing of this tenant yet */
    }
    if (rc) {
        return rc;
    }
    if (last <= f->after) {
        return SL_OK;
    }
    f->out = out;
    f->rc = SL_OK;
    rc = sl_store_changes(f->store, f->tenant, f->after, S_STREAM_BATCH, s_follow_one, f);
    f->out = NULL;
    if (rc < 0) {
        return rc;
    }
    return f->rc;
}

static void s_follow_free(void *arg)
{
    s_follow_t *f = arg;
    if (f->authz) {
        explicit_bzero(f->authz, strlen(f->authz));
        free(f->authz);
    }
    free(f);
}

static int s_stream(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_api_t *api = arg;
    const char *tenant = NULL;
    uint64_t after = 0;
    if (s_tenant(req, resp, &tenant) != SL_OK || s_after(req, resp, &after) != SL_OK) {
        return SL_OK;
    }
    /* an EventSource that reconnects says where it was */
    const char *last = sl_http_header(req, "Last-Event-ID");
    if (last && *last) {
        int ok = 1;
        uint64_t seq = s_parse_seq(last, &ok);
        if (!ok) {
            return sl_http_error(resp, 400, "bad_parameter",
                                 "header 'Last-Event-ID' must be a sequence number");
        }
        after = seq;
    }
    sl_store_t *st = s_store(api, resp);
    if (!st) {
        return SL_OK;
    }
    s_follow_t *f = calloc(1, sizeof *f);
    if (!f) {
        return SL_ENOMEM;
    }
    f->api = api;
    f->store = st;
    snprintf(f->tenant, sizeof f->tenant, "%s", tenant);
    f->after = after;
    const char *authz = req->who ? sl_http_header(req, "Authorization") : NULL;
    if (authz && !(f->authz = strdup(authz))) {
        free(f);
        return SL_ENOMEM;
    }
    f->recheck_us = sl_mono_us() + S_RECHECK_US;
    resp->status = 200;
    resp->content_type = "text/event-stream";
    resp->stream.next = s_follow_next;
    resp->stream.free = s_follow_free;
    resp->stream.arg = f;
    resp->stream.idle_us = S_KEEPALIVE_US;
    resp->stream.idle_text = ": keep-alive\n\n";
    return SL_OK;
}

/* ------------------------------------------------------------ actor */

static void s_exit(sl_actor_t *a, void *state)
{
    s_api_t *s = state;
    (void)a;
    /* the server first: it joins every handler that could read the store */
    sl_http_destroy(&s->http);
    sl_auth_destroy(&s->authn);
    sl_store_close(&s->store);
    free((void *)s->allowed);
    s->allowed = NULL;
    if (s->mu_ok) {
        pthread_mutex_destroy(&s->mu);
        s->mu_ok = 0;
    }
}

static int s_init(sl_actor_t *a, void *state)
{
    s_api_t *s = state;
    char err[256] = "";
    int rc = SL_EINVAL;

    snprintf(s->name, sizeof s->name, "%s", sl_actor_name(a));
    if (s->max_connections < 1 || s->max_connections > 10000) {
        sl_error(s->name, "max_connections must be from 1 to 10000");
        goto fail;
    }
    if (s->timeout_us < 1000000 || s->timeout_us > 3600LL * 1000000) {
        sl_error(s->name, "timeout must be from 1s to 1h");
        goto fail;
    }
    const char *path = s->path ? s->path : sl_actor_store_path(a);
    s->store_path = path ? path : "var/sluice";
    if (s->isolated && s->tenants.count == 0) {
        sl_error(s->name, "isolated: list the store's tenants in `tenants`");
        goto fail;
    }
    if ((rc = sl_strlist_nullterm(&s->tenants, &s->allowed)) != SL_OK) {
        goto fail;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        rc = SL_ENOMEM;
        goto fail;
    }
    s->mu_ok = 1;
    sl_http_opts_t ho = {
        .listen = s->listen,
        .max_connections = (int)s->max_connections,
        .timeout_s = (int)(s->timeout_us / 1000000),
        .max_body = 64 * 1024, /* reads, and a token request's few fields */
        .log_name = s->name,
    };
    s->http = sl_http_new(&ho, err, sizeof err);
    if (!s->http) {
        sl_error(s->name, "%s", err);
        goto fail;
    }
    /*  Tokens live in the topology's store, where `sluice token` puts them. */
    s->authn = sl_http_auth_new(s->http, s->auth, sl_actor_store_path(a), 0, err, sizeof err);
    if (!s->authn) {
        sl_error(s->name, "auth: %s", err);
        rc = SL_EINVAL;
        goto fail;
    }
    const unsigned r = SL_HTTP_ROLE(SL_ROLE_READER);
    s->tokens = (sl_api_tokens_t){.store = s_store_of, .arg = s, .name = s->name};
    if ((rc = sl_api_tokens_route(s->http, &s->tokens)) ||
        (rc = sl_http_route(s->http, "GET", "/v1/assets", r, s_assets, s)) ||
        (rc = sl_http_route(s->http, "GET", "/v1/incidents", r, s_incidents, s)) ||
        (rc = sl_http_route(s->http, "GET", "/v1/changes", SL_HTTP_EXACT | r, s_changes, s)) ||
        (rc =
             sl_http_route(s->http, "GET", "/v1/changes/stream", SL_HTTP_EXACT | r, s_stream, s))) {
        sl_error(s->name, "routes: %s", sl_strerror(rc));
        goto fail;
    }
    rc = sl_http_start(s->http, err, sizeof err);
    if (rc) {
        sl_error(s->name, "%s", err);
        goto fail;
    }
    sl_info(s->name, "query API on %s (port %d), store %s; credentials: %s", s->listen,
            sl_http_port(s->http), path, sl_auth_describe(s->authn));
    if (!s->auth) {
        sl_warn(s->name,
                "no auth configured: %s serves reads without credentials (loopback "
                "only); set auth to require them",
                s->listen);
    }
    return SL_OK;

fail:
    s_exit(a, s);
    return rc ? rc : SL_EINVAL;
}

static const sl_opt_t s_options[] = {
    {"listen", SL_OPT_STR, NULL, offsetof(s_api_t, listen), SL_OPT_REQUIRED,
     "host:port to serve the query API on ([v6]:port for IPv6)"},
    {"path", SL_OPT_STR, NULL, offsetof(s_api_t, path), 0,
     "store directory to read; must be the store actor's path. Default: the topology's "
     "store path (`store: {path}`), else var/sluice"},
    {"isolated", SL_OPT_BOOL, "false", offsetof(s_api_t, isolated), 0,
     "the store has one environment per tenant (as the store actor's `isolated`)"},
    {"tenants", SL_OPT_STRLIST, NULL, offsetof(s_api_t, tenants), 0,
     "the store's tenants (as the store actor's `tenants`; required when isolated)"},
    {"max_connections", SL_OPT_INT, "64", offsetof(s_api_t, max_connections), 0,
     "concurrent connections, change streams included (1..10000)"},
    {"timeout", SL_OPT_DURATION, "30s", offsetof(s_api_t, timeout_us), 0,
     "an idle connection is closed after this long (1s..1h)"},
    {"auth", SL_OPT_JSON, NULL, offsetof(s_api_t, auth), 0,
     "credentials for every read (role reader): none, or {tokens, okta}; default: the "
     "topology's top-level auth (docs/auth.md)"},
    {0},
};

/*  `auth` is checked at topology load, at its position in the file. */
static int s_check_option(const char *option, const char *json, const sl_opt_values_t *opts,
                          char *err, size_t errlen, char *where, size_t wherelen)
{
    (void)opts;
    if (strcmp(option, "auth") == 0) {
        return sl_auth_config_check(json, err, errlen, where, wherelen);
    }
    return 0;
}

const sl_actor_kind_t sl_actor_http_api = {
    .name = "http_api",
    .description = "Serves the query API (assets, lineage, incidents, changes and a "
                   "Server-Sent Events change stream) over HTTP/JSON from the store; "
                   "tenant from the credential (docs/auth.md). See docs/api.md.",
    .flags = SL_KIND_SOURCE,
    .state_size = sizeof(s_api_t),
    .options = s_options,
    .init = s_init,
    .exit = s_exit,
    .check_option = s_check_option,
};
