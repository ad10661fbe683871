/*  HTTP server glue for actors on libmicrohttpd (see sluice/http.h).

    MHD runs one thread per connection: a Server-Sent Events stream then
    waits for data inside MHD's content reader without holding up any other
    client, and MHD_stop_daemon joins those threads. We take the raw request
    target from MHD's URI log callback rather than MHD's own decoded path:
    MHD turns "%2F" into "/" before we could tell them apart, and a
    qualified name is full of both.

    A pool server (opts.threads > 0) runs MHD's internal thread pool (poll)
    instead, with suspend/resume so that a request answered later
    (sl_http_later) holds no thread while it waits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "sluice/http.h"
#include "sluice/log.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t; /* older MHD callbacks return int */
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define S_CT_JSON "application/json"
#define S_WAIT_MS 50          /* a stream with nothing to send looks again after this */
#define S_READER_BLOCK 16384u /* bytes MHD asks of a stream at a time */

typedef struct {
    char *method;
    char *prefix;
    size_t plen;
    unsigned flags;
    sl_http_handler_fn fn;
    void *arg;
} s_route_t;

struct sl_http {
    char *listen;
    char name[64];
    int max_connections;
    int timeout_s;
    size_t max_body;
    struct sockaddr_storage ss;
    socklen_t sslen;
    s_route_t *routes;
    int n_routes;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int stopping;
    int threads;        /* 0: thread per connection */
    pthread_mutex_t mu; /* later replies */
    pthread_cond_t cv;  /* outstanding went down */
    int outstanding;    /* sl_http_later given, not yet done */
    sl_auth_t *auth;    /* borrowed; NULL: no checks */
};

/*  The credential checks of one request (sl_http_opts_t.auth): run as
    soon as the headers are in, before the body is read, and kept for the
    dispatch. */
typedef struct {
    int done; /* the checks ran and passed */
    sl_principal_t who;
    char tenant[SL_AUTH_TENANT_MAX + 1];
} s_authz_t;

typedef struct s_conn s_conn_t;

/*  A request answered later: lives until its reply is queued (or the
    connection ends). Guarded by the server's mu. */
struct sl_http_later {
    s_conn_t *c;
    int suspended; /* MHD_suspend_connection was called */
    int done;      /* resp holds the reply */
    sl_http_resp_t resp;
};

/*  Per connection: the raw target (from the URI log callback) and the body. */
struct s_conn {
    char *uri;
    sl_buf_t body;
    int seen;
    sl_http_t *h;
    struct MHD_Connection *conn;
    sl_http_later_t *later;
    s_authz_t authz; /* the checks, run once the headers are in */
};

/*  A streamed response in flight. */
typedef struct {
    sl_http_t *h;
    struct MHD_Connection *conn;
    sl_http_stream_t st;
    sl_buf_t pending;
    size_t off;
    int64_t last_us;
    int ended;
} s_stream_t;

/* ------------------------------------------------------------ helpers */

static int s_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int sl_http_url_decode(const char *in, size_t len, int plus_is_space, char *out, size_t cap,
                       size_t *outlen)
{
    size_t n = 0;
    if (!in || !out || cap == 0) {
        return SL_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 1 < len ? s_hex((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < len ? s_hex((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                out[0] = '\0';
                return SL_EPROTO;
            }
            c = hi * 16 + lo;
            if (c == 0) {
                /* a NUL would cut every C string made from it */
                out[0] = '\0';
                return SL_EPROTO;
            }
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == 0) {
            out[0] = '\0';
            return SL_EPROTO;
        }
        if (n + 1 >= cap) {
            out[0] = '\0';
            return SL_ERANGE;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (outlen) {
        *outlen = n;
    }
    return SL_OK;
}

int sl_http_url_encode(const char *in, size_t len, sl_buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = sl_buf_reserve(out, len * 3 + 1);
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out->data[out->len++] = c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = (uint8_t)hex[c >> 4];
            out->data[out->len++] = (uint8_t)hex[c & 15];
        }
    }
    return SL_OK;
}

void sl_http_params_free(sl_http_param_t *params, int n)
{
    for (int i = 0; i < n; i++) {
        free(params[i].name);
        free(params[i].value);
        params[i].name = NULL;
        params[i].value = NULL;
    }
}

/*  Decode in[0..len) into a new string. */
static int s_decode_dup(const char *in, size_t len, char **out)
{
    char *s = malloc(len + 1);
    if (!s) {
        return SL_ENOMEM;
    }
    int rc = sl_http_url_decode(in, len, 1, s, len + 1, NULL);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

int sl_http_query_parse(const char *query, sl_http_param_t *params, int *n, char *bad,
                        size_t badlen)
{
    int rc = SL_OK;
    int count = 0;
    const char *p = query ? query : "";

    if (bad && badlen) {
        bad[0] = '\0';
    }
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            if (count >= SL_HTTP_MAX_PARAMS) {
                rc = SL_ERANGE;
                goto fail;
            }
            params[count].name = NULL;
            params[count].value = NULL;
            rc = s_decode_dup(p, nlen, &params[count].name);
            if (rc == SL_OK) {
                rc = eq ? s_decode_dup(eq + 1, len - nlen - 1, &params[count].value)
                        : s_decode_dup("", 0, &params[count].value);
            }
            if (rc) {
                free(params[count].name);
                params[count].name = NULL;
                if (bad && badlen) {
                    snprintf(bad, badlen, "%.*s", (int)(nlen < 64 ? nlen : 64), p);
                }
                goto fail;
            }
            count++;
        }
        p += len;
        if (*p == '&') {
            p++;
        }
    }
    *n = count;
    return SL_OK;

fail:
    sl_http_params_free(params, count);
    *n = 0;
    return rc;
}

const char *sl_http_param(const sl_http_req_t *req, const char *name)
{
    for (int i = 0; i < req->n_params; i++) {
        if (strcmp(req->params[i].name, name) == 0) {
            return req->params[i].value;
        }
    }
    return NULL;
}

const char *sl_http_header(const sl_http_req_t *req, const char *name)
{
    return req->header ? req->header(req->header_arg, name) : NULL;
}

int sl_http_json(sl_http_resp_t *resp, unsigned status, const char *json, size_t len)
{
    sl_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = S_CT_JSON;
    return sl_buf_append(&resp->body, json, len);
}

int sl_http_error(sl_http_resp_t *resp, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    sl_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = S_CT_JSON;
    int rc = sl_buf_append(&resp->body, "{\"error\":{\"code\":\"", 18);
    if (rc == SL_OK) {
        rc = sl_json_escape(&resp->body, code, strlen(code));
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(&resp->body, "\",\"message\":\"", 13);
    }
    if (rc == SL_OK) {
        rc = sl_json_escape(&resp->body, msg, strlen(msg));
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(&resp->body, "\"}}", 3);
    }
    return rc;
}

int sl_http_param_int(const sl_http_req_t *req, sl_http_resp_t *resp, const char *name, int64_t def,
                      int64_t min, int64_t max, int64_t *out)
{
    const char *v = sl_http_param(req, name);
    if (!v) {
        *out = def;
        return SL_OK;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno || x < min || x > max) {
        sl_http_error(resp, 400, "bad_parameter",
                      "parameter '%s' must be an integer from %lld to %lld", name, (long long)min,
                      (long long)max);
        return SL_EINVAL;
    }
    *out = (int64_t)x;
    return SL_OK;
}

void sl_http_resp_free(sl_http_resp_t *resp)
{
    sl_buf_free(&resp->body);
}

/* ------------------------------------------------------------ routing */

/*  Length of the route's prefix if it matches `path`, else -1. */
static long s_match(const s_route_t *r, const char *path)
{
    if (strncmp(path, r->prefix, r->plen) != 0) {
        return -1;
    }
    char next = path[r->plen];
    if (next == '\0') {
        return (long)r->plen;
    }
    if (r->flags & SL_HTTP_EXACT) {
        return -1;
    }
    if (next == '/' || (r->plen > 0 && r->prefix[r->plen - 1] == '/')) {
        return (long)r->plen;
    }
    return -1;
}

sl_http_later_t *sl_http_later(const sl_http_req_t *req)
{
    s_conn_t *c = req ? req->priv : NULL;
    if (!c || !c->h || c->h->threads <= 0 || c->later) {
        return NULL;
    }
    sl_http_t *h = c->h;
    sl_http_later_t *l = calloc(1, sizeof *l);
    if (!l) {
        return NULL;
    }
    pthread_mutex_lock(&h->mu);
    if (atomic_load(&h->stopping)) {
        pthread_mutex_unlock(&h->mu);
        free(l);
        return NULL;
    }
    l->c = c;
    c->later = l;
    h->outstanding++;
    pthread_mutex_unlock(&h->mu);
    return l;
}

void sl_http_later_done(sl_http_later_t *l, sl_http_resp_t *resp)
{
    sl_http_t *h = l->c->h;
    pthread_mutex_lock(&h->mu);
    l->resp = *resp;
    memset(resp, 0, sizeof *resp);
    if (l->resp.status == 0) {
        l->resp.status = 200;
    }
    if (!l->resp.content_type) {
        l->resp.content_type = S_CT_JSON;
    }
    l->done = 1;
    if (l->suspended) {
        /*  Its thread calls s_handle again, which queues the reply. */
        MHD_resume_connection(l->c->conn);
    }
    h->outstanding--;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/*  The route for path and method: the best match, or NULL with *any_match
    telling whether a prefix matched at all (405 rather than 404) and the
    methods of the matching routes in allow. */
static const s_route_t *s_route_find(const sl_http_t *h, const char *path, const char *m,
                                     long *best_out, int *any_match, char *allow, size_t alen_max)
{
    long best = -1;
    for (int i = 0; i < h->n_routes; i++) {
        long l = s_match(&h->routes[i], path);
        if (l > best) {
            best = l;
        }
    }
    *best_out = best;
    *any_match = best >= 0;
    if (allow && alen_max) {
        allow[0] = '\0';
    }
    if (best < 0) {
        return NULL;
    }
    const s_route_t *any = NULL; /* a "*" route: only if no route names the method */
    size_t alen = 0;
    for (int i = 0; i < h->n_routes; i++) {
        const s_route_t *r = &h->routes[i];
        if (s_match(r, path) != best) {
            continue;
        }
        if (strcmp(r->method, m) == 0) {
            return r;
        }
        if (strcmp(r->method, "*") == 0) {
            if (!any) {
                any = r;
            }
            continue;
        }
        if (allow) {
            int w = snprintf(allow + alen, alen_max - alen, "%s%s", alen ? ", " : "", r->method);
            if (w > 0 && (size_t)w < alen_max - alen) {
                alen += (size_t)w;
            }
        }
    }
    return any;
}

/*  The role a route needs: its flags' role, platform-admin if it names
    none (a route someone forgot to mark is closed, not open). */
static sl_role_t s_route_role(const s_route_t *r)
{
    unsigned role = (r->flags & SL_HTTP_ROLE_MASK) >> SL_HTTP_ROLE_SHIFT;
    return role >= SL_ROLE_READER && role <= SL_ROLE_PLATFORM ? (sl_role_t)role : SL_ROLE_PLATFORM;
}

/*  Authenticate and authorize a request for its route (before anything
    else about it is looked at). 0 with z filled, or non-zero with the
    refusal in resp. A request that matches no route is authenticated
    (401 without a credential) before it is told 404, so an unknown
    caller learns nothing about the routes. */
static int s_authorize(sl_http_t *h, const char *method, const char *uri, sl_http_header_fn header,
                       void *header_arg, s_authz_t *z, sl_http_resp_t *resp)
{
    memset(z, 0, sizeof *z);
    if (!sl_auth_required(h->auth)) {
        z->done = 1;
        return 0;
    }
    char *path = strndup(uri, strcspn(uri, "?"));
    if (!path) {
        sl_http_error(resp, 503, "out_of_memory", "out of memory");
        return -1;
    }
    long best;
    int any_match;
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const s_route_t *r = s_route_find(h, path, m, &best, &any_match, NULL, 0);
    free(path);
    if (r && (r->flags & SL_HTTP_PUBLIC)) {
        z->done = 1;
        return 0;
    }
    const char *route = r ? r->prefix : "(no route)";
    sl_auth_err_t e;
    const char *authz = header ? header(header_arg, "Authorization") : NULL;
    int rc = sl_auth_authenticate(h->auth, authz, &z->who, &e);
    if (rc == SL_OK && r) {
        const char *t = header ? header(header_arg, "X-Tenant-ID") : NULL;
        rc = sl_auth_authorize(&z->who, t, s_route_role(r), z->tenant, &e);
    }
    if (rc == SL_OK) {
        sl_auth_accepted(h->auth, &z->who);
        z->done = 1;
        return 0;
    }
    unsigned status = rc == SL_EAUTH ? 401 : rc == SL_EPERM ? 403 : rc == SL_EINVAL ? 400 : 503;
    sl_auth_refused(h->auth, status, &e, z->who.subject, route);
    sl_http_error(resp, status, e.code && *e.code ? e.code : "unauthorized", "%s", e.message);
    if (status == 401) {
        resp->www_authenticate = strcmp(e.code, "missing") == 0
                                     ? "Bearer realm=\"sluice\""
                                     : "Bearer realm=\"sluice\", error=\"invalid_token\"";
    } else if (status == 503) {
        resp->retry_after_s = 1;
    }
    return -1;
}

static void s_dispatch(sl_http_t *h, const char *method, const char *uri, sl_http_header_fn header,
                       void *header_arg, const uint8_t *body, size_t body_len, void *priv,
                       const s_authz_t *pre, sl_http_resp_t *resp);

void sl_http_dispatch(sl_http_t *h, const char *method, const char *uri, sl_http_header_fn header,
                      void *header_arg, const uint8_t *body, size_t body_len, sl_http_resp_t *resp)
{
    s_dispatch(h, method, uri, header, header_arg, body, body_len, NULL, NULL, resp);
}

static void s_dispatch(sl_http_t *h, const char *method, const char *uri, sl_http_header_fn header,
                       void *header_arg, const uint8_t *body, size_t body_len, void *priv,
                       const s_authz_t *pre, sl_http_resp_t *resp)
{
    sl_http_req_t req;
    char bad[80];
    char *path = NULL;
    s_authz_t z;

    memset(resp, 0, sizeof *resp);
    memset(&req, 0, sizeof req);
    if (!uri || strlen(uri) > SL_HTTP_MAX_URI) {
        sl_http_error(resp, 414, "uri_too_long", "request target longer than %d bytes",
                      SL_HTTP_MAX_URI);
        return;
    }
    if (uri[0] != '/') {
        sl_http_error(resp, 400, "bad_request", "request target must begin with '/'");
        return;
    }
    if (!pre || !pre->done) {
        if (s_authorize(h, method, uri, header, header_arg, &z, resp) != 0) {
            return;
        }
        pre = &z;
    }
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    path = malloc(plen + 1);
    if (!path) {
        sl_http_error(resp, 503, "out_of_memory", "out of memory");
        return;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';
    req.path = path;
    req.query = q ? q + 1 : "";
    /* a fragment never reaches a server, but a hand-made request may carry one */
    int rc = sl_http_query_parse(req.query, req.params, &req.n_params, bad, sizeof bad);
    if (rc == SL_ERANGE) {
        sl_http_error(resp, 400, "bad_parameter", "more than %d query parameters",
                      SL_HTTP_MAX_PARAMS);
        goto done;
    }
    if (rc == SL_ENOMEM) {
        sl_http_error(resp, 503, "out_of_memory", "out of memory");
        goto done;
    }
    if (rc) {
        sl_http_error(resp, 400, "bad_parameter",
                      "query parameter '%s': malformed percent-encoding", bad);
        goto done;
    }

    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    long best;
    int any_match;
    const s_route_t *route =
        s_route_find(h, path, m, &best, &any_match, resp->allow, sizeof resp->allow);
    if (!any_match) {
        sl_http_error(resp, 404, "not_found", "no route for %.200s", path);
        goto done;
    }
    if (!route) {
        char allow[sizeof resp->allow];
        memcpy(allow, resp->allow, sizeof allow);
        sl_http_error(resp, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
                      method, allow);
        memcpy(resp->allow, allow, sizeof allow);
        goto done;
    }
    resp->allow[0] = '\0';
    req.method = m;
    req.rest = path + best;
    req.body = body;
    req.body_len = body_len;
    req.header = header;
    req.header_arg = header_arg;
    req.priv = priv;
    if (sl_auth_required(h->auth) && !(route->flags & SL_HTTP_PUBLIC)) {
        req.who = &pre->who;
        req.tenant = pre->tenant[0] ? pre->tenant : NULL;
    }
    rc = route->fn(route->arg, &req, resp);
    if (rc < 0) {
        if (resp->stream.next && resp->stream.free) {
            resp->stream.free(resp->stream.arg);
        }
        memset(&resp->stream, 0, sizeof resp->stream);
        sl_http_error(resp, rc == SL_ENOMEM ? 503 : 500, "internal", "%s", sl_strerror(rc));
        goto done;
    }
    if (resp->status == 0) {
        resp->status = 200;
    }
    if (!resp->content_type) {
        resp->content_type = S_CT_JSON;
    }

done:
    sl_http_params_free(req.params, req.n_params);
    free(path);
}

/* ------------------------------------------------------------ server */

static void s_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    sl_http_t *h = cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
        text[--n] = '\0';
    }
    sl_log(SL_LOG_WARN, h->name[0] ? h->name : "http", NULL, "libmicrohttpd: %s", text);
}

static void *s_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    s_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->uri = strdup(uri ? uri : "");
    if (!c->uri) {
        free(c);
        return NULL;
    }
    return c;
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    s_conn_t *c = *con_cls;
    if (c) {
        if (c->later) {
            /* done (a connection waiting for its reply stays suspended) */
            sl_http_resp_free(&c->later->resp);
            free(c->later);
        }
        free(c->uri);
        sl_buf_free(&c->body);
        free(c);
        *con_cls = NULL;
    }
}

static const char *s_mhd_header(void *arg, const char *name)
{
    return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

/*  1 once the client has closed its side (or the socket failed). Waits up
    to S_WAIT_MS for that, so it doubles as the stream's pause. */
static int s_client_gone(s_stream_t *s)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) {
        poll(NULL, 0, S_WAIT_MS);
        return 0;
    }
    struct pollfd pfd = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    int n = poll(&pfd, 1, S_WAIT_MS);
    if (n <= 0) {
        return 0;
    }
    if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
        return 1;
    }
    char byte;
    ssize_t r = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0) {
        return 1;
    }
    /* the client sent more (a pipelined request): not ours to read now */
    poll(NULL, 0, S_WAIT_MS);
    return 0;
}

static ssize_t s_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    s_stream_t *s = cls;
    (void)pos;
    for (;;) {
        if (s->off < s->pending.len) {
            size_t n = s->pending.len - s->off;
            if (n > max) {
                n = max;
            }
            memcpy(buf, s->pending.data + s->off, n);
            s->off += n;
            return (ssize_t)n;
        }
        if (s->ended || atomic_load(&s->h->stopping)) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        sl_buf_reset(&s->pending);
        s->off = 0;
        int rc = s->st.next(s->st.arg, &s->pending);
        if (rc != SL_OK) {
            s->ended = 1;
            continue; /* send what it gave, then end */
        }
        int64_t now = sl_mono_us();
        if (s->pending.len > 0) {
            s->last_us = now;
            continue;
        }
        if (s->st.idle_us > 0 && s->st.idle_text && now - s->last_us >= s->st.idle_us) {
            s->last_us = now;
            if (sl_buf_append(&s->pending, s->st.idle_text, strlen(s->st.idle_text)) != SL_OK) {
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            continue;
        }
        if (s_client_gone(s)) {
            /* not an error of ours: END_WITH_ERROR would log a warning */
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
    }
}

static void s_stream_free(void *cls)
{
    s_stream_t *s = cls;
    if (s->st.free) {
        s->st.free(s->st.arg);
    }
    sl_buf_free(&s->pending);
    free(s);
}

static MHD_Result_t s_queue(struct MHD_Connection *conn, sl_http_t *h, sl_http_resp_t *resp)
{
    struct MHD_Response *r = NULL;
    s_stream_t *s = NULL;

    if (resp->stream.next) {
        s = calloc(1, sizeof *s);
        if (!s) {
            if (resp->stream.free) {
                resp->stream.free(resp->stream.arg);
            }
            return MHD_NO;
        }
        s->h = h;
        s->conn = conn;
        s->st = resp->stream;
        s->last_us = sl_mono_us();
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, S_READER_BLOCK, s_stream_read, s,
                                              s_stream_free);
        if (!r) {
            s_stream_free(s);
            return MHD_NO;
        }
    } else {
        /* MHD copies: the body buffer stays ours */
        r = MHD_create_response_from_buffer(resp->body.len,
                                            resp->body.len ? (void *)resp->body.data : (void *)"",
                                            MHD_RESPMEM_MUST_COPY);
        if (!r) {
            return MHD_NO;
        }
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : S_CT_JSON);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, s ? "no-cache" : "no-store");
    if (s) {
        /* proxies must pass events on at once */
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
    }
    if (resp->allow[0]) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    }
    if (resp->www_authenticate) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, resp->www_authenticate);
    }
    if (resp->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", resp->retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    MHD_Result_t ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static MHD_Result_t s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
    sl_http_t *h = cls;
    s_conn_t *c = *con_cls;
    sl_http_resp_t resp;
    (void)url;
    (void)version;

    if (!c) {
        /* the URI log callback could not allocate */
        memset(&resp, 0, sizeof resp);
        sl_http_error(&resp, 503, "out_of_memory", "out of memory");
        MHD_Result_t ret = resp.body.len ? s_queue(conn, h, &resp) : MHD_NO;
        sl_http_resp_free(&resp);
        return ret;
    }
    if (!c->seen) {
        c->seen = 1;
        /*  The credential first, before the body: an unauthenticated
            client cannot make the server read megabytes, nor learn
            anything about the route (a 413 included). */
        memset(&resp, 0, sizeof resp);
        if (c->uri[0] == '/' && strlen(c->uri) <= SL_HTTP_MAX_URI &&
            s_authorize(h, method, c->uri, s_mhd_header, conn, &c->authz, &resp) != 0) {
            MHD_Result_t ret = s_queue(conn, h, &resp);
            sl_http_resp_free(&resp);
            return ret;
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->max_body) {
            memset(&resp, 0, sizeof resp);
            sl_http_error(&resp, 413, "body_too_large", "request body larger than %zu bytes",
                          h->max_body);
            MHD_Result_t ret = s_queue(conn, h, &resp);
            sl_http_resp_free(&resp);
            return ret;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (c->body.len + *upload_data_size > h->max_body ||
            sl_buf_append(&c->body, upload_data, *upload_data_size) != SL_OK) {
            /* a chunked body past the bound: drop the connection */
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->later) {
        /*  Resumed: the reply is there. */
        sl_http_later_t *l = c->later;
        pthread_mutex_lock(&h->mu);
        int done = l->done;
        pthread_mutex_unlock(&h->mu);
        if (!done) {
            return MHD_YES;
        }
        c->later = NULL;
        MHD_Result_t ret = s_queue(conn, h, &l->resp);
        sl_http_resp_free(&l->resp);
        free(l);
        return ret;
    }
    c->h = h;
    c->conn = conn;
    s_dispatch(h, method, c->uri, s_mhd_header, conn, c->body.len ? c->body.data : NULL,
               c->body.len, h->threads > 0 ? c : NULL, &c->authz, &resp);
    if (c->later) {
        /*  The handler answers later: its resp is not the reply. */
        if (resp.stream.next && resp.stream.free) {
            resp.stream.free(resp.stream.arg);
        }
        sl_http_resp_free(&resp);
        sl_http_later_t *l = c->later;
        pthread_mutex_lock(&h->mu);
        if (!l->done) {
            MHD_suspend_connection(conn);
            l->suspended = 1;
            pthread_mutex_unlock(&h->mu);
            return MHD_YES;
        }
        pthread_mutex_unlock(&h->mu);
        c->later = NULL;
        MHD_Result_t ret = s_queue(conn, h, &l->resp);
        sl_http_resp_free(&l->resp);
        free(l);
        return ret;
    }
    MHD_Result_t ret = s_queue(conn, h, &resp);
    sl_http_resp_free(&resp);
    return ret;
}

/*  Split "host:port" or "[v6]:port" and resolve it to one socket address.
    An empty host or "*" means every interface. Numeric ports only. */
static int s_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen,
                        const char **why)
{
    char host[128];
    const char *colon;
    const char *hstart = addr;
    size_t hlen;

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            *why = "expected [ipv6]:port";
            return SL_EINVAL;
        }
        hstart = addr + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) {
            *why = "expected host:port";
            return SL_EINVAL;
        }
        hlen = (size_t)(colon - addr);
        if (memchr(addr, ':', hlen)) {
            *why = "an IPv6 host must be written in brackets";
            return SL_EINVAL;
        }
    }
    if (hlen >= sizeof host) {
        *why = "host name too long";
        return SL_EINVAL;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';

    const char *port = colon + 1;
    char *end = NULL;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno || p < 0 || p > 65535) {
        *why = "port must be a number from 0 to 65535";
        return SL_EINVAL;
    }

    struct addrinfo hints = {0};
    struct addrinfo *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    const char *node = (hlen == 0 || strcmp(host, "*") == 0) ? NULL : host;
    int gai = getaddrinfo(node, port, &hints, &res);
    if (gai != 0 || !res) {
        *why = gai ? gai_strerror(gai) : "no address";
        return SL_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return SL_OK;
}

sl_http_t *sl_http_new(const sl_http_opts_t *opts, char *err, size_t errlen)
{
    sl_http_t *h = NULL;
    const char *why = NULL;

    if (!opts || !opts->listen) {
        snprintf(err, errlen, "no listen address");
        goto fail;
    }
    h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "%s", sl_strerror(SL_ENOMEM));
        goto fail;
    }
    if (s_parse_addr(opts->listen, &h->ss, &h->sslen, &why) != SL_OK) {
        snprintf(err, errlen, "bad listen address \"%s\": %s", opts->listen, why);
        goto fail;
    }
    h->listen = strdup(opts->listen);
    if (!h->listen) {
        snprintf(err, errlen, "%s", sl_strerror(SL_ENOMEM));
        goto fail;
    }
    snprintf(h->name, sizeof h->name, "%s", opts->log_name ? opts->log_name : "http");
    h->max_connections = opts->max_connections > 0 ? opts->max_connections : 64;
    h->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 30;
    h->max_body = opts->max_body > 0 ? opts->max_body : (size_t)1 << 20;
    h->threads = opts->threads > 0 ? opts->threads : 0;
    h->auth = opts->auth;
    atomic_init(&h->stopping, 0);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    return h;

fail:
    if (h) {
        free(h->listen);
        free(h);
    }
    return NULL;
}

int sl_http_route(sl_http_t *h, const char *method, const char *prefix, unsigned flags,
                  sl_http_handler_fn fn, void *arg)
{
    if (!h || !method || !prefix || prefix[0] != '/' || !fn) {
        return SL_EINVAL;
    }
    if (h->daemon) {
        return SL_ESTATE;
    }
    s_route_t *routes = realloc(h->routes, (size_t)(h->n_routes + 1) * sizeof *routes);
    if (!routes) {
        return SL_ENOMEM;
    }
    h->routes = routes;
    s_route_t *r = &routes[h->n_routes];
    memset(r, 0, sizeof *r);
    r->method = strdup(method);
    r->prefix = strdup(prefix);
    if (!r->method || !r->prefix) {
        free(r->method);
        free(r->prefix);
        return SL_ENOMEM;
    }
    r->plen = strlen(prefix);
    r->flags = flags;
    r->fn = fn;
    r->arg = arg;
    h->n_routes++;
    return SL_OK;
}

int sl_http_start(sl_http_t *h, char *err, size_t errlen)
{
    if (!h) {
        return SL_EINVAL;
    }
    if (h->daemon) {
        return SL_ESTATE;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    /*  MHD takes a pool size of 1 as "no pool": one polling thread then. */
    unsigned pool = h->threads > 1 ? (unsigned)h->threads : 0;
    if (h->threads > 0) {
        /*  poll, not epoll: with epoll, libmicrohttpd 0.9.75 now and then
            never served a resumed connection again (1 run in 10 of the
            128-connection benchmark stalled until the idle timeout); with
            poll, none in 25, at the same speed. */
        flags |= MHD_ALLOW_SUSPEND_RESUME | MHD_USE_POLL;
    } else {
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO;
    }
    if (h->ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    uint16_t port = h->ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&h->ss)->sin6_port)
                                                : ntohs(((struct sockaddr_in *)&h->ss)->sin_port);
    h->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, s_handle, h,
        /* first, or MHD logs the options before it to stderr */
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->ss,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)h->max_connections, MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, h,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, h,
        /* last: MHD warns of a size without a pool */
        pool ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on \"%s\": address busy, not local, or not permitted",
                 h->listen);
        return SL_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    if (h->port == 0) {
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        struct sockaddr_storage bound;
        socklen_t blen = sizeof bound;
        if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0) {
            h->port = bound.ss_family == AF_INET6
                          ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
        }
    }
    return SL_OK;
}

int sl_http_port(const sl_http_t *h)
{
    return h ? h->port : 0;
}

int sl_http_loopback(const sl_http_t *h)
{
    if (!h) {
        return 0;
    }
    if (h->ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&h->ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (h->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&h->ss;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) {
            return 1;
        }
        /* ::ffff:127.x.y.z */
        return IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

void sl_http_set_auth(sl_http_t *h, sl_auth_t *auth)
{
    if (h && !h->daemon) {
        h->auth = auth;
    }
}

sl_auth_t *sl_http_auth_new(sl_http_t *h, const char *config, const char *store_path, int admin,
                            char *err, size_t errlen)
{
    if (!h || h->daemon) {
        snprintf(err, errlen, "the server is missing or already started");
        return NULL;
    }
    sl_auth_opts_t o = {
        .config = config,
        .store_path = store_path,
        .name = h->name,
        .loopback = sl_http_loopback(h),
        .admin = admin,
    };
    sl_auth_t *a = sl_auth_new(&o, err, errlen);
    if (a) {
        h->auth = a;
    }
    return a;
}

void sl_http_destroy(sl_http_t **ph)
{
    if (!ph || !*ph) {
        return;
    }
    sl_http_t *h = *ph;
    if (h->daemon) {
        /*  Streams see the flag within S_WAIT_MS and end; MHD then joins
            every connection thread, so no handler runs after this. */
        pthread_mutex_lock(&h->mu);
        atomic_store(&h->stopping, 1);
        /*  A suspended connection must be resumed before MHD stops. */
        while (h->outstanding > 0) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        pthread_mutex_unlock(&h->mu);
        MHD_stop_daemon(h->daemon);
        h->daemon = NULL;
    }
    for (int i = 0; i < h->n_routes; i++) {
        free(h->routes[i].method);
        free(h->routes[i].prefix);
    }
    free(h->routes);
    free(h->listen);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    *ph = NULL;
}
