/*  sluice/httpc.h: the HTTP client of connectors (calls to external APIs),
    over libcurl.

    libcurl is not linked into sluice: it is loaded (dlopen) the first time
    a client is made. A topology without an actor that calls out never maps
    it, nor what Debian's libcurl needs (OpenSSL, nghttp2, LDAP, SASL, SSH,
    RTMP, brotli, zstd ...): 2.5 MiB of resident memory in every process
    otherwise (docs/performance.md, docs/RATIONALE.md). core/httpc.c is the
    only module that includes curl.h; libcurl's errors are translated there.
    Once loaded, libcurl stays loaded until the process exits.

    A client talks to one URL with a fixed set of headers, keeps its
    connection alive between requests, and is used by one thread at a time
    (one per actor instance). Proxies come from the environment
    (https_proxy, no_proxy), as everywhere with libcurl; only http and
    https are allowed; compressed answers are decoded; redirects are not
    followed (an API that moves answers 3xx and the caller says so). */
#ifndef SLUICE_HTTPC_H
#define SLUICE_HTTPC_H

#include <stdint.h>

#include "sluice/common.h"

typedef struct sl_httpc sl_httpc_t;

typedef struct {
    const char *url;            /* required; copied */
    int64_t timeout_us;         /* a whole request (default 30 s) */
    int64_t connect_timeout_us; /* connecting (default the smaller of timeout and 10 s) */
    size_t max_body;            /* bytes of an answer kept (default 64 MiB) */
} sl_httpc_opts_t;

/*  What one request got. Zero-initialise; each request resets it. */
typedef struct {
    long status;        /* HTTP status of the answer; 0 when none came */
    long retry_after_s; /* its Retry-After in seconds (0 when absent or a date) */
    sl_buf_t body;      /* its body, not NUL-terminated; the caller frees it
                           (sl_buf_free) and may reuse it for the next request */
    char error[256];    /* why, when the request returned an error */
} sl_httpc_reply_t;

/*  Load libcurl (once per process; thread-safe). SL_OK, or SL_ENOTFOUND
    with the loader's reason in err (libcurl.so.4 missing: Debian package
    libcurl4), or SL_EIO when libcurl fails to initialise. An actor calls
    it (or sl_httpc_new) in init, so a missing library stops the start
    with that message instead of failing the first request. */
int sl_httpc_load(char *err, size_t errlen);

/*  A client of opts->url. NULL with a reason in err: no url, libcurl
    cannot be loaded (see sl_httpc_load), out of memory. */
sl_httpc_t *sl_httpc_new(const sl_httpc_opts_t *opts, char *err, size_t errlen);

/*  Send "name: value" with every request. The value may be a secret: the
    client keeps it in libcurl's header list only and wipes its own
    temporary copy. SL_EINVAL (empty name, or a name or value with a CR,
    LF or a ':' in the name), SL_ENOMEM. */
int sl_httpc_header(sl_httpc_t *c, const char *name, const char *value);

/*  One request: method "GET" (body ignored) or "POST", "PUT", "PATCH",
    "DELETE" with `len` bytes of `body` (not copied; valid during the
    call). Blocks up to the client's timeout. Returns
      SL_OK         an answer came, whatever its status (r->status)
      SL_ETIMEDOUT  no complete answer within the timeout
      SL_ERANGE     the answer's body is larger than max_body
      SL_EIO        no answer: DNS, connection refused, TLS, reset ...
      SL_ENOMEM
    with the reason in r->error for each error. 429, 5xx and the retry
    policy are the caller's: the client never retries. */
int sl_httpc_request(sl_httpc_t *c, const char *method, const void *body, size_t len,
                     sl_httpc_reply_t *r);

/*  Close the connection and free. Safe twice; NULLs the pointer. */
void sl_httpc_destroy(sl_httpc_t **c);

#endif
