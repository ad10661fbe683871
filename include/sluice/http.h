/*  sluice/http.h: a small HTTP server for actors, over libmicrohttpd.

    An actor (the query API, later HTTP ingest) makes a server, adds routes
    (method + path prefix -> handler), starts it, and destroys it in exit.
    core/http.c is the only module of the HTTP API that includes
    microhttpd.h; MHD errors are translated there.

    Threads: by default MHD runs one thread per connection (so a
    Server-Sent Events stream can wait for data without holding up other
    clients), at most `max_connections` of them. With `threads` > 0 a pool
    of that many threads polls every connection (epoll) instead: fewer
    thread switches per request, but a handler that blocks holds up every
    connection of its thread, so a pool server serves no streams and a
    handler that must wait (a journal commit) answers later instead
    (sl_http_later). Handlers run concurrently either way: whatever a
    handler touches must be thread-safe.

    Requests: the path is taken exactly as received (still percent-encoded:
    a handler decides where an encoded "/" may appear, see
    sl_http_url_decode). The query string is split on '&' and each name and
    value decoded ('+' is a space there); a malformed query is answered
    400 before any handler runs. Request bodies are read up to `max_body`
    bytes (413 beyond). Nothing a client sends can crash the server: every
    length is bounded and every escape checked.

    Routing: the route with the longest matching prefix wins. A prefix
    matches the path itself, or the path followed by "/..." (so
    "/v1/assets" matches "/v1/assets" and "/v1/assets/x", not
    "/v1/assetsx"); an SL_HTTP_EXACT route matches only the path itself.
    If routes match the path but none has the request's method: 405 with an
    Allow header. Nothing matches: 404. HEAD is served as GET without a
    body. Error replies are JSON:
        {"error": {"code": "not_found", "message": "..."}}

    Credentials (sluice/auth.h): with opts.auth requiring them, every
    request is authenticated and authorized for its route's role
    (SL_HTTP_ROLE) as soon as its headers are in, before its body is read,
    its query parsed or any handler runs: 401 (with WWW-Authenticate:
    Bearer) without a valid credential, 403 when the role or the tenant
    does not allow it, 400 for a malformed X-Tenant-ID; a request that
    matches no route is still authenticated before its 404. Refusals are
    counted in /metrics and logged with the route's prefix, never the raw
    path. SL_HTTP_PUBLIC routes (webhooks) are exempt and check their own
    scheme. */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <sys/types.h>

#include "sluice/auth.h"
#include "sluice/common.h"

typedef struct sl_http sl_http_t;

#define SL_HTTP_MAX_PARAMS 32 /* query parameters per request (400 beyond) */
#define SL_HTTP_MAX_URI 8192  /* bytes of path + query (414 beyond) */

typedef struct {
    const char *listen;   /* "host:port", "[v6]:port"; port 0 = any free port */
    int max_connections;  /* concurrent connections (default 64) */
    int timeout_s;        /* idle connection timeout in seconds (default 30) */
    size_t max_body;      /* request body bytes (default 1 MiB) */
    const char *log_name; /* actor name for log lines (may be NULL) */
    int threads;          /* 0: a thread per connection; > 0: a pool of this many */
    sl_auth_t *auth;      /* credential checks (borrowed, must outlive the server);
                             NULL: none (see "Credentials" above) */
} sl_http_opts_t;

typedef struct {
    char *name;  /* decoded */
    char *value; /* decoded; "" for "?flag" */
} sl_http_param_t;

/*  Looks up a request header by name (case-insensitive); NULL if absent. */
typedef const char *(*sl_http_header_fn)(void *arg, const char *name);

/*  A request as a handler sees it. Every pointer is valid during the
    handler call only. */
typedef struct {
    const char *method; /* "GET", "POST", ...; HEAD is passed as "GET" */
    const char *path;   /* raw path, without the query string */
    const char *rest;   /* raw part of path after the route prefix ("" or "/...") */
    const char *query;  /* raw query string without '?', "" if none */
    sl_http_param_t params[SL_HTTP_MAX_PARAMS];
    int n_params;
    const uint8_t *body; /* request body (NULL if none) */
    size_t body_len;
    sl_http_header_fn header;
    void *header_arg;
    void *priv; /* the server's (sl_http_later) */
    /*  With credential checks (not on a public route): who is calling,
        and the request's tenant from the credential (X-Tenant-ID agreeing
        with it, or chosen by a platform admin); tenant is NULL when a
        platform admin named none. Both NULL without checks. */
    const sl_principal_t *who;
    const char *tenant;
} sl_http_req_t;

/*  A streamed body (Server-Sent Events). `next` appends the next chunk to
    `out` and returns SL_OK (an empty chunk means "nothing yet": the server
    waits about 50 ms and asks again), SL_DONE to end the stream, or a
    negative code to end it as well. It is called on the connection's
    thread; `free` runs once when the connection ends (also if `next` was
    never called). When nothing was sent for `idle_us`, `idle_text` is sent
    (an SSE keep-alive comment). The stream also ends, cleanly, when the
    client goes away or the server is destroyed. */
typedef struct {
    int (*next)(void *arg, sl_buf_t *out);
    void (*free)(void *arg);
    void *arg;
    int64_t idle_us;       /* 0 = never */
    const char *idle_text; /* static string */
} sl_http_stream_t;

/*  What a handler answers: a status, a content type (a static string;
    default application/json) and either a body or a stream. Zeroed (with
    status 0) before the handler runs. */
typedef struct {
    unsigned status;
    const char *content_type;
    sl_buf_t body;
    sl_http_stream_t stream;      /* used when stream.next is set */
    char allow[64];               /* Allow header of a 405 */
    unsigned retry_after_s;       /* > 0: a Retry-After header (429, 503) */
    const char *www_authenticate; /* static string: a WWW-Authenticate header (401) */
} sl_http_resp_t;

/*  A handler fills resp and returns SL_OK; a negative return becomes a 500
    JSON error (whatever was in resp is dropped). */
typedef int (*sl_http_handler_fn)(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp);

#define SL_HTTP_EXACT 0x1u /* route matches the prefix itself only */
/*  With credential checks: the role a route needs (SL_HTTP_ROLE(SL_ROLE_READER),
    ...). A route that names no role needs platform-admin: forgetting to
    mark a route closes it rather than opens it. */
#define SL_HTTP_ROLE_SHIFT 4
#define SL_HTTP_ROLE_MASK 0x70u
#define SL_HTTP_ROLE(r) (((unsigned)(r) << SL_HTTP_ROLE_SHIFT) & SL_HTTP_ROLE_MASK)
/*  The route authenticates its requests by its own scheme (a webhook's
    signature): no credential is asked, req.who and req.tenant stay NULL. */
#define SL_HTTP_PUBLIC 0x100u

/*  A server that does not listen yet. NULL with a reason in err (bad
    listen address, out of memory). */
sl_http_t *sl_http_new(const sl_http_opts_t *opts, char *err, size_t errlen);

/*  Add a route before sl_http_start. `method` is "GET", "POST", ..., or
    "*" for any method not routed otherwise at the same prefix (the handler
    then answers 405 itself where it must); `prefix` begins with '/'
    (copied). SL_EINVAL, SL_ENOMEM, SL_ESTATE if
    already started. */
int sl_http_route(sl_http_t *h, const char *method, const char *prefix, unsigned flags,
                  sl_http_handler_fn fn, void *arg);

/*  Listen. SL_EIO (address busy, not local, not permitted) with a reason. */
int sl_http_start(sl_http_t *h, char *err, size_t errlen);

/*  The port listened on (useful with port 0); 0 before start. */
int sl_http_port(const sl_http_t *h);

/*  1 if the listen address is a loopback address (127.0.0.0/8, ::1),
    known from sl_http_new on. */
int sl_http_loopback(const sl_http_t *h);

/*  Set the credential checks before sl_http_start (the checks of a
    listener may depend on its address: sl_http_loopback). Ignored once
    started. */
void sl_http_set_auth(sl_http_t *h, sl_auth_t *auth);

/*  The credential checks of this listener from a topology's `auth` (JSON
    text; NULL: none written), made for its address (without `auth` only a
    loopback listener may serve) and name, and set on it (sl_http_set_auth).
    `admin`: the admin listener's rules (auth.admin). The caller destroys
    it (sl_auth_destroy) after sl_http_destroy. NULL with a reason. */
sl_auth_t *sl_http_auth_new(sl_http_t *h, const char *config, const char *store_path, int admin,
                            char *err, size_t errlen);

/*  Stop listening, end every stream, join every connection thread, free.
    Returns within about 100 ms even with stream clients connected. Safe
    twice; NULLs the pointer. */
void sl_http_destroy(sl_http_t **h);

/*  Route one request without a socket (what the server does per request;
    also for tests). `uri` is the raw request target ("/path?query").
    Fills resp (the caller frees it with sl_http_resp_free, and owns the
    stream if one was set). */
void sl_http_dispatch(sl_http_t *h, const char *method, const char *uri, sl_http_header_fn header,
                      void *header_arg, const uint8_t *body, size_t body_len, sl_http_resp_t *resp);
void sl_http_resp_free(sl_http_resp_t *resp);

/*  Answering later (pool servers only). A handler calls sl_http_later,
    returns SL_OK (whatever it put in resp is dropped) and, from any
    thread, calls sl_http_later_done exactly once with the reply; the
    connection sleeps meanwhile without holding a thread. NULL when the
    request cannot wait: a thread-per-connection server, sl_http_dispatch
    without a socket, or a server being destroyed; the handler then
    answers in resp as usual. sl_http_destroy waits for every pending
    request to be answered first, so whoever holds them must keep
    answering until it returns. */
typedef struct sl_http_later sl_http_later_t;
sl_http_later_t *sl_http_later(const sl_http_req_t *req);
/*  Takes resp's body (resp is zeroed); a stream is not allowed here. */
void sl_http_later_done(sl_http_later_t *l, sl_http_resp_t *resp);

/* --------------------------------------------------------- helpers */

/*  Percent-decode in[0..len) into out (cap bytes, NUL-terminated).
    plus_is_space: 1 for query strings. SL_EPROTO on a malformed escape
    ("%G1", "%4") or a decoded NUL byte; SL_ERANGE if out is too small.
    *outlen (may be NULL) receives the decoded length. */
int sl_http_url_decode(const char *in, size_t len, int plus_is_space, char *out, size_t cap,
                       size_t *outlen);

/*  Percent-encode everything but unreserved characters (A-Z a-z 0-9 - _ . ~). */
int sl_http_url_encode(const char *in, size_t len, sl_buf_t *out);

/*  Split a raw query string into decoded parameters (strings malloc'ed,
    free with sl_http_params_free). SL_EPROTO (malformed escape; `bad`
    receives the parameter's raw name), SL_ERANGE (more than
    SL_HTTP_MAX_PARAMS). */
int sl_http_query_parse(const char *query, sl_http_param_t *params, int *n, char *bad,
                        size_t badlen);
void sl_http_params_free(sl_http_param_t *params, int n);

/*  Decoded value of the first parameter `name`, or NULL. */
const char *sl_http_param(const sl_http_req_t *req, const char *name);
/*  Request header, or NULL. */
const char *sl_http_header(const sl_http_req_t *req, const char *name);

/*  Parse an integer parameter: absent -> *out = def, SL_OK; not a decimal
    integer in [min, max] -> SL_EINVAL with a JSON 400 in resp naming the
    parameter ("bad_parameter"). */
int sl_http_param_int(const sl_http_req_t *req, sl_http_resp_t *resp, const char *name, int64_t def,
                      int64_t min, int64_t max, int64_t *out);

/*  Set resp to a JSON error {"error": {"code", "message"}}; message printf. */
int sl_http_error(sl_http_resp_t *resp, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*  Set resp to status + the JSON text (copied). */
int sl_http_json(sl_http_resp_t *resp, unsigned status, const char *json, size_t len);

#endif
