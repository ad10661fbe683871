/*  The HTTP client of connectors over libcurl, loaded on first use (see
    sluice/httpc.h).

    Only the functions below are resolved, once, into s_api; curl.h is
    included for its types and constants only, which are part of libcurl's
    stable ABI (soname libcurl.so.4 since 2006), so what we compile against
    and what we load agree. The handle is never closed: libcurl and the TLS
    library under it register exit handlers and keep global state. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "sluice/dl.h"
#include "sluice/httpc.h"

#define S_LIBCURL "libcurl.so.4" /* Debian 12: package libcurl4 */
#define S_TIMEOUT_US 30000000
#define S_CONNECT_TIMEOUT_MAX_US 10000000
#define S_MAX_BODY ((size_t)64 << 20)
#define S_RETRY_AFTER_MAX 86400 /* seconds; more is taken as the day */

typedef struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
} s_api_t;

/*  Name and place in s_api_t of each function we resolve. */
#define S_SYM(f) "curl_" #f, offsetof(s_api_t, f)
static const sl_dl_sym_t s_syms[] = {
    {S_SYM(global_init)},   {S_SYM(easy_init)},    {S_SYM(easy_setopt)},
    {S_SYM(easy_perform)},  {S_SYM(easy_getinfo)}, {S_SYM(easy_cleanup)},
    {S_SYM(easy_strerror)}, {S_SYM(slist_append)}, {S_SYM(slist_free_all)},
};

static s_api_t s_api;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static int s_load_rc = SL_ENOTFOUND;
static char s_load_err[256];

struct sl_httpc {
    CURL *curl;
    struct curl_slist *headers;
    size_t max_body;
    sl_httpc_reply_t *reply; /* during a request */
    int too_big;             /* the answer passed max_body */
    int oom;                 /* the answer could not be stored */
    char errbuf[CURL_ERROR_SIZE];
};

static void s_load(void)
{
    if (sl_dl_open(S_LIBCURL, "libcurl4", s_syms, sizeof s_syms / sizeof s_syms[0], &s_api,
                   s_load_err, sizeof s_load_err) != SL_OK) {
        return;
    }
    CURLcode cc = s_api.global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        snprintf(s_load_err, sizeof s_load_err, "libcurl does not initialise: %s",
                 s_api.easy_strerror(cc));
        s_load_rc = SL_EIO;
        return;
    }
    s_load_rc = SL_OK;
}

int sl_httpc_load(char *err, size_t errlen)
{
    pthread_once(&s_once, s_load);
    if (s_load_rc != SL_OK && err && errlen) {
        snprintf(err, errlen, "%s", s_load_err);
    }
    return s_load_rc;
}

static size_t s_on_body(char *p, size_t size, size_t n, void *arg)
{
    sl_httpc_t *c = arg;
    sl_buf_t *b = &c->reply->body;
    size_t len = size * n;
    if (len > c->max_body - b->len) {
        c->too_big = 1;
        return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    }
    if (sl_buf_append(b, p, len) != SL_OK) {
        c->oom = 1;
        return 0;
    }
    return len;
}

static size_t s_on_header(char *p, size_t size, size_t n, void *arg)
{
    sl_httpc_t *c = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        /*  Delta-seconds only; an HTTP-date leaves it 0 (the caller's
            own back-off applies). */
        char v[16];
        size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, vl);
        v[vl] = '\0';
        char *end;
        errno = 0;
        long s = strtol(v, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') {
            end++;
        }
        if (errno == 0 && *end == '\0' && end != v && s > 0) {
            c->reply->retry_after_s = s < S_RETRY_AFTER_MAX ? s : S_RETRY_AFTER_MAX;
        }
    }
    return len;
}

static long s_ms(int64_t us)
{
    return (long)((us + 999) / 1000);
}

sl_httpc_t *sl_httpc_new(const sl_httpc_opts_t *o, char *err, size_t errlen)
{
    if (!o || !o->url || !*o->url) {
        snprintf(err, errlen, "HTTP client: no url");
        return NULL;
    }
    if (sl_httpc_load(err, errlen) != SL_OK) {
        return NULL;
    }
    sl_httpc_t *c = calloc(1, sizeof *c);
    if (!c || !(c->curl = s_api.easy_init())) {
        free(c);
        snprintf(err, errlen, "HTTP client: %s", sl_strerror(SL_ENOMEM));
        return NULL;
    }
    int64_t timeout = o->timeout_us > 0 ? o->timeout_us : S_TIMEOUT_US;
    int64_t connect = o->connect_timeout_us > 0            ? o->connect_timeout_us
                      : timeout < S_CONNECT_TIMEOUT_MAX_US ? timeout
                                                           : S_CONNECT_TIMEOUT_MAX_US;
    c->max_body = o->max_body ? o->max_body : S_MAX_BODY;
    CURL *e = c->curl;
    /*  CURLOPT_URL copies the string; every option here only stores. */
    CURLcode cc = s_api.easy_setopt(e, CURLOPT_URL, o->url);
    if (cc == CURLE_OK) {
        cc = s_api.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "HTTP client for %s: %s", o->url, s_api.easy_strerror(cc));
        sl_httpc_destroy(&c);
        return NULL;
    }
    s_api.easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_body);
    s_api.easy_setopt(e, CURLOPT_WRITEDATA, c);
    s_api.easy_setopt(e, CURLOPT_HEADERFUNCTION, s_on_header);
    s_api.easy_setopt(e, CURLOPT_HEADERDATA, c);
    s_api.easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    s_api.easy_setopt(e, CURLOPT_TIMEOUT_MS, s_ms(timeout));
    s_api.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s_ms(connect));
    s_api.easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    s_api.easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    return c;
}

int sl_httpc_header(sl_httpc_t *c, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl == 0 || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
        return SL_EINVAL;
    }
    char *line = malloc(nl + vl + 3);
    if (!line) {
        return SL_ENOMEM;
    }
    memcpy(line, name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, value, vl + 1);
    struct curl_slist *l = s_api.slist_append(c->headers, line);
    explicit_bzero(line, nl + vl + 3);
    free(line);
    if (!l) {
        return SL_ENOMEM; /* the list is unchanged */
    }
    c->headers = l;
    s_api.easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    return SL_OK;
}

int sl_httpc_request(sl_httpc_t *c, const char *method, const void *body, size_t len,
                     sl_httpc_reply_t *r)
{
    CURL *e = c->curl;
    r->status = 0;
    r->retry_after_s = 0;
    r->error[0] = '\0';
    sl_buf_reset(&r->body);
    c->reply = r;
    c->too_big = c->oom = 0;
    c->errbuf[0] = '\0';
    if (strcmp(method, "GET") == 0) {
        s_api.easy_setopt(e, CURLOPT_HTTPGET, 1L); /* also drops a previous body */
        s_api.easy_setopt(e, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    } else {
        s_api.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        s_api.easy_setopt(e, CURLOPT_POSTFIELDS, len ? body : "");
        s_api.easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                          strcmp(method, "POST") == 0 ? (char *)NULL : method);
    }
    CURLcode cc = s_api.easy_perform(e);
    c->reply = NULL;
    if (cc == CURLE_OK) {
        s_api.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        return SL_OK;
    }
    int rc = SL_EIO;
    if (c->too_big) {
        snprintf(r->error, sizeof r->error, "answer larger than %zu bytes", c->max_body);
        rc = SL_ERANGE;
    } else if (c->oom || cc == CURLE_OUT_OF_MEMORY) {
        snprintf(r->error, sizeof r->error, "%s", sl_strerror(SL_ENOMEM));
        rc = SL_ENOMEM;
    } else {
        snprintf(r->error, sizeof r->error, "%s",
                 c->errbuf[0] ? c->errbuf : s_api.easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEDOUT : SL_EIO;
    }
    return rc;
}

void sl_httpc_destroy(sl_httpc_t **cp)
{
    sl_httpc_t *c = cp ? *cp : NULL;
    if (!c) {
        return;
    }
    if (c->curl) {
        s_api.easy_cleanup(c->curl);
    }
    if (c->headers) {
        s_api.slist_free_all(c->headers);
    }
    free(c);
    *cp = NULL;
}
