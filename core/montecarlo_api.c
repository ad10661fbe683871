/*  montecarlo_api: Monte Carlo's GraphQL API over the connectors' HTTP
    client (core/httpc.c, libcurl loaded on first use), and the getTable
    look-up with its cache (include/sluice/montecarlo_api.h is the
    contract). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "sluice/actor.h"
#include "sluice/httpc.h"
#include "sluice/log.h"
#include "sluice/montecarlo_api.h"

#define S_MAX_RESPONSE ((size_t)64 << 20) /* bytes of one GraphQL answer */
#define S_BACKOFF_MAX_US 60000000
#define S_NEGATIVE_TTL_MAX_US 60000000 /* unknown tables are asked again after a minute */

struct sl_mc_api {
    pthread_mutex_t mu; /* one request at a time on the client */
    sl_httpc_t *http;
    sl_httpc_reply_t reply;
    char *url;
    char *log_name;
    char *on_auth;
    int64_t backoff_min;
    int (*stopping)(void *arg);
    void *stopping_arg;
    int64_t not_before; /* monotonic us: a Retry-After holds every request back */
    _Atomic int auth_failed;
    _Atomic uint64_t requests;
};

static int s_one_line(const char *s)
{
    return s && *s && !strpbrk(s, "\r\n");
}

sl_mc_api_t *sl_mc_api_new(const sl_mc_api_opts_t *o, char *err, size_t errlen)
{
    if (!o || !s_one_line(o->url) || !s_one_line(o->api_id) || !s_one_line(o->api_token)) {
        snprintf(err, errlen, "url, api_id and api_token are required, each on one line");
        return NULL;
    }
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
        snprintf(err, errlen, "url: expected an http:// or https:// URL");
        return NULL;
    }
    sl_mc_api_t *c = calloc(1, sizeof *c);
    if (!c || sodium_init() < 0) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->url = strdup(o->url);
    c->log_name = o->log_name ? strdup(o->log_name) : NULL;
    c->on_auth =
        strdup(o->on_auth ? o->on_auth : "no more requests until the topology is reloaded");
    c->backoff_min = o->backoff_min_us > 0 ? o->backoff_min_us : 1000000;
    c->stopping = o->stopping;
    c->stopping_arg = o->stopping_arg;
    if (!c->url || (o->log_name && !c->log_name) || !c->on_auth) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    sl_httpc_opts_t ho = {.url = o->url,
                          .timeout_us = o->timeout_us > 0 ? o->timeout_us : 30000000,
                          .max_body = S_MAX_RESPONSE};
    if (!(c->http = sl_httpc_new(&ho, err, errlen))) {
        goto fail;
    }
    int rc = sl_httpc_header(c->http, "Content-Type", "application/json");
    if (rc == SL_OK) {
        rc = sl_httpc_header(c->http, "Accept", "application/json");
    }
    if (rc == SL_OK) {
        rc = sl_httpc_header(c->http, "x-mcd-id", o->api_id);
    }
    if (rc == SL_OK) {
        rc = sl_httpc_header(c->http, "x-mcd-token", o->api_token);
    }
    if (rc != SL_OK) {
        snprintf(err, errlen, "api_id / api_token: %s", sl_strerror(rc));
        goto fail;
    }
    return c;
fail:
    sl_mc_api_destroy(&c);
    return NULL;
}

void sl_mc_api_destroy(sl_mc_api_t **cp)
{
    if (!cp || !*cp) {
        return;
    }
    sl_mc_api_t *c = *cp;
    *cp = NULL;
    sl_httpc_destroy(&c->http);
    sl_buf_free(&c->reply.body);
    free(c->url);
    free(c->log_name);
    free(c->on_auth);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int sl_mc_api_auth_failed(const sl_mc_api_t *c)
{
    return atomic_load(&c->auth_failed);
}

uint64_t sl_mc_api_requests(const sl_mc_api_t *c)
{
    return atomic_load(&c->requests);
}

static int s_why(char *why, size_t whylen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_why(char *why, size_t whylen, int rc, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
        for (char *p = why; *p; p++) {
            if (*p == '\n' || *p == '\r') {
                *p = ' ';
            }
        }
    }
    return rc;
}

/*  Sleep until `until` (monotonic us) in slices; SL_ESTOPPED on a stop. */
static int s_sleep_until(sl_mc_api_t *c, int64_t until)
{
    for (;;) {
        if (c->stopping && c->stopping(c->stopping_arg)) {
            return SL_ESTOPPED;
        }
        int64_t left = until - sl_mono_us();
        if (left <= 0) {
            return SL_OK;
        }
        usleep((useconds_t)(left < 50000 ? left : 50000));
    }
}

/*  The client's lock, waiting at most until deadline (monotonic us): a
    caller never waits past its own budget behind another's retries. */
static int s_lock(sl_mc_api_t *c, int64_t deadline)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t left = deadline - sl_mono_us();
    int64_t ns = (int64_t)ts.tv_nsec + (left > 0 ? left : 0) * 1000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return pthread_mutex_clocklock(&c->mu, CLOCK_MONOTONIC, &ts) == 0 ? SL_OK : SL_ETIMEDOUT;
}

static int s_query_locked(sl_mc_api_t *c, const char *body, int64_t deadline, json_t **root,
                          char *why, size_t whylen)
{
    int64_t backoff = c->backoff_min;
    sl_httpc_reply_t *r = &c->reply;
    const char *name = c->log_name;
    for (int attempt = 1;; attempt++) {
        char what[320];
        if (atomic_load(&c->auth_failed)) {
            return s_why(why, whylen, SL_EINVAL,
                         "the API refused the credentials earlier (401/403): check api_id and "
                         "api_token");
        }
        if (sl_mono_us() < c->not_before) {
            /*  Monte Carlo asked for a pause (429 with Retry-After):
                every request waits it out, or gives up if it cannot. */
            if (c->not_before > deadline) {
                return s_why(why, whylen, SL_ETIMEDOUT,
                             "rate limited by the API (429, Retry-After) past this request's "
                             "time budget");
            }
            int rc = s_sleep_until(c, c->not_before);
            if (rc != SL_OK) {
                return s_why(why, whylen, rc, "stopping");
            }
        }
        atomic_fetch_add(&c->requests, 1);
        int rc = sl_httpc_request(c->http, "POST", body, strlen(body), r);
        long status = rc == SL_OK ? r->status : 0;
        if (rc == SL_ENOMEM) {
            return rc;
        }
        if (rc == SL_ERANGE) {
            sl_error(name, "GraphQL API %s: %s", c->url, r->error);
            return s_why(why, whylen, SL_EPROTO, "%s", r->error); /* the same again: no retry */
        }
        if (rc == SL_OK && status >= 200 && status <= 299) {
            json_error_t jerr;
            *root = json_loadb((const char *)r->body.data, r->body.len, 0, &jerr);
            if (!json_is_object(*root)) {
                sl_error(name, "GraphQL API %s: answer is not a JSON object (%s)", c->url,
                         jerr.text);
                json_decref(*root);
                *root = NULL;
                return s_why(why, whylen, SL_EPROTO, "the answer is not a JSON object");
            }
            return SL_OK;
        }
        if (rc == SL_OK && (status == 401 || status == 403)) {
            if (!atomic_exchange(&c->auth_failed, 1)) {
                sl_error(name,
                         "GraphQL API %s answered %ld %s: check api_id and api_token (x-mcd-id / "
                         "x-mcd-token); %s",
                         c->url, status, status == 401 ? "Unauthorized" : "Forbidden", c->on_auth);
            }
            return s_why(why, whylen, SL_EINVAL,
                         "the API answered %ld %s: check api_id and api_token", status,
                         status == 401 ? "Unauthorized" : "Forbidden");
        }
        if (rc == SL_OK && status != 429 && status < 500) {
            sl_error(name, "GraphQL API %s answered %ld: %.*s", c->url, status,
                     (int)(r->body.len < 200 ? r->body.len : 200),
                     r->body.len ? (const char *)r->body.data : "");
            return s_why(why, whylen, SL_EPROTO, "the API answered %ld", status);
        }
        if (rc != SL_OK) {
            snprintf(what, sizeof what, "%s", r->error);
        } else {
            snprintf(what, sizeof what, "answered %ld", status);
        }
        /*  Equal jitter: half the back-off fixed, half random, so clients
            that failed together do not retry together. A Retry-After also
            holds back every other request of this client. */
        int retry_after = r->retry_after_s > 0 && r->retry_after_s < 3600;
        int64_t wait = retry_after
                           ? (int64_t)r->retry_after_s * 1000000
                           : backoff / 2 + (int64_t)randombytes_uniform((uint32_t)(backoff / 2));
        if (retry_after) {
            c->not_before = sl_mono_us() + wait;
        }
        if (sl_mono_us() + wait > deadline) {
            sl_error(name, "GraphQL API %s %s; giving up after %d attempts", c->url, what, attempt);
            return s_why(why, whylen, SL_ETIMEDOUT, "the API %s (%d attempts)", what, attempt);
        }
        sl_warn(name, "GraphQL API %s %s; retry %d in %lld ms", c->url, what, attempt,
                (long long)(wait / 1000));
        if ((rc = s_sleep_until(c, sl_mono_us() + wait)) != SL_OK) {
            return s_why(why, whylen, rc, "stopping");
        }
        backoff = backoff * 2 > S_BACKOFF_MAX_US ? S_BACKOFF_MAX_US : backoff * 2;
    }
}

int sl_mc_api_query(sl_mc_api_t *c, const char *body, int64_t deadline, json_t **root, char *why,
                    size_t whylen)
{
    *root = NULL;
    if (atomic_load(&c->auth_failed)) {
        return s_why(why, whylen, SL_EINVAL,
                     "the API refused the credentials earlier (401/403): check api_id and "
                     "api_token");
    }
    if (s_lock(c, deadline) != SL_OK) {
        return s_why(why, whylen, SL_ETIMEDOUT,
                     "the API client was busy with other requests past this one's time budget");
    }
    int rc = s_query_locked(c, body, deadline, root, why, whylen);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ------------------------------------------------------------ look-up */

typedef struct s_entry {
    struct s_entry *hnext;       /* hash chain */
    struct s_entry *prev, *next; /* recency: most recent at head */
    uint32_t hash;
    int found;
    int64_t expires; /* monotonic us */
    sl_mc_table_t t;
    char mcon[]; /* NUL-terminated */
} s_entry_t;

struct sl_mc_resolver {
    sl_mc_api_t *api;
    int always;
    int64_t ttl, neg_ttl, budget;
    pthread_mutex_t mu; /* the cache */
    s_entry_t **buckets;
    size_t nbuckets;
    s_entry_t *head, *tail;
    size_t n, cap;
    uint64_t hits, misses;
};

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    return h;
}

sl_mc_resolver_t *sl_mc_resolver_new(const sl_mc_resolver_opts_t *o, char *err, size_t errlen)
{
    if (o->cache_size < 0 || o->cache_size > 10000000 || o->ttl_us < 0 || o->budget_us < 0) {
        snprintf(err, errlen, "cache_size must be 0..10000000, ttl and timeout >= 0");
        return NULL;
    }
    sl_mc_resolver_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    r->always = o->always;
    r->ttl = o->ttl_us > 0 ? o->ttl_us : 3600LL * 1000000;
    r->neg_ttl = r->ttl < S_NEGATIVE_TTL_MAX_US ? r->ttl : S_NEGATIVE_TTL_MAX_US;
    r->budget = o->budget_us > 0 ? o->budget_us : 5000000;
    r->cap = o->cache_size > 0 ? (size_t)o->cache_size : 10000;
    r->nbuckets = 64;
    while (r->nbuckets < r->cap && r->nbuckets < (1u << 20)) {
        r->nbuckets *= 2;
    }
    r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
    if (!r->buckets || !(r->api = sl_mc_api_new(&o->api, err, errlen))) {
        if (!r->buckets) {
            snprintf(err, errlen, "out of memory");
        }
        sl_mc_resolver_destroy(&r);
        return NULL;
    }
    return r;
}

void sl_mc_resolver_destroy(sl_mc_resolver_t **rp)
{
    if (!rp || !*rp) {
        return;
    }
    sl_mc_resolver_t *r = *rp;
    *rp = NULL;
    for (s_entry_t *e = r->head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    free(r->buckets);
    sl_mc_api_destroy(&r->api);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void s_unlink(sl_mc_resolver_t *r, s_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        r->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        r->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void s_push_front(sl_mc_resolver_t *r, s_entry_t *e)
{
    e->prev = NULL;
    e->next = r->head;
    if (r->head) {
        r->head->prev = e;
    }
    r->head = e;
    if (!r->tail) {
        r->tail = e;
    }
}

static void s_remove(sl_mc_resolver_t *r, s_entry_t *e)
{
    s_entry_t **pp = &r->buckets[e->hash & (r->nbuckets - 1)];
    while (*pp && *pp != e) {
        pp = &(*pp)->hnext;
    }
    if (*pp) {
        *pp = e->hnext;
    }
    s_unlink(r, e);
    r->n--;
    free(e);
}

static s_entry_t *s_lookup(sl_mc_resolver_t *r, const char *mcon, uint32_t h)
{
    for (s_entry_t *e = r->buckets[h & (r->nbuckets - 1)]; e; e = e->hnext) {
        if (e->hash == h && strcmp(e->mcon, mcon) == 0) {
            return e;
        }
    }
    return NULL;
}

static void s_cache_put(sl_mc_resolver_t *r, const char *mcon, uint32_t h, int found,
                        const sl_mc_table_t *t)
{
    size_t len = strlen(mcon);
    pthread_mutex_lock(&r->mu);
    s_entry_t *e = s_lookup(r, mcon, h);
    if (e) {
        s_remove(r, e); /* answered twice (two callers missed together): the newer wins */
    }
    while (r->n >= r->cap && r->tail) {
        s_remove(r, r->tail);
    }
    e = calloc(1, sizeof *e + len + 1);
    if (e) {
        memcpy(e->mcon, mcon, len + 1);
        e->hash = h;
        e->found = found;
        e->t = *t;
        e->expires = sl_mono_us() + (found ? r->ttl : r->neg_ttl);
        e->hnext = r->buckets[h & (r->nbuckets - 1)];
        r->buckets[h & (r->nbuckets - 1)] = e;
        s_push_front(r, e);
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
}

/*  1 and *t if the cache answers; -1 if it knows the table does not exist. */
static int s_cache_get(sl_mc_resolver_t *r, const char *mcon, uint32_t h, sl_mc_table_t *t)
{
    int ans = 0;
    pthread_mutex_lock(&r->mu);
    s_entry_t *e = s_lookup(r, mcon, h);
    if (e && e->expires <= sl_mono_us()) {
        s_remove(r, e);
        e = NULL;
    }
    if (e) {
        s_unlink(r, e);
        s_push_front(r, e);
        ans = e->found ? 1 : -1;
        *t = e->t;
        r->hits++;
    } else {
        r->misses++;
    }
    pthread_mutex_unlock(&r->mu);
    return ans;
}

static void s_copy(char *dst, size_t cap, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, cap, "%s", s && strlen(s) < cap ? s : "");
}

static const char s_q_table[] = "query GetTable($mcon: String) { getTable(mcon: $mcon) { mcon "
                                "fullTableId warehouse { uuid name connectionType } } }";

int sl_mc_resolver_table(sl_mc_resolver_t *r, const char *mcon, sl_mc_table_t *t, char *why,
                         size_t whylen)
{
    memset(t, 0, sizeof *t);
    if (!mcon || !*mcon || strlen(mcon) > 1024) {
        return s_why(why, whylen, SL_EINVAL, "not an MCON");
    }
    uint32_t h = s_hash(mcon);
    int c = s_cache_get(r, mcon, h, t);
    if (c > 0) {
        return SL_OK;
    }
    if (c < 0) {
        return s_why(why, whylen, SL_ENOTFOUND, "Monte Carlo has no table with this MCON (cached)");
    }
    json_t *req = json_pack("{s:s,s:{s:s}}", "query", s_q_table, "variables", "mcon", mcon);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        return SL_ENOMEM;
    }
    json_t *root = NULL;
    int rc = sl_mc_api_query(r->api, body, sl_mono_us() + r->budget, &root, why, whylen);
    free(body);
    if (rc != SL_OK) {
        return rc;
    }
    json_t *data = json_object_get(root, "data");
    json_t *tab = json_object_get(data, "getTable");
    json_t *msg = json_object_get(json_array_get(json_object_get(root, "errors"), 0), "message");
    if (json_is_object(data) && (!tab || json_is_null(tab))) {
        /*  GraphQL's "not found": no table, with or without an error. */
        s_why(why, whylen, SL_ENOTFOUND, "Monte Carlo has no table with this MCON%s%s",
              json_is_string(msg) ? ": " : "", json_is_string(msg) ? json_string_value(msg) : "");
        s_cache_put(r, mcon, h, 0, t);
        json_decref(root);
        return SL_ENOTFOUND;
    }
    json_t *ft = json_object_get(tab, "fullTableId");
    if (!json_is_object(tab) || !json_is_string(ft) || json_string_length(ft) == 0 ||
        json_string_length(ft) >= sizeof t->full_table_id ||
        strlen(json_string_value(ft)) != json_string_length(ft)) {
        rc = s_why(why, whylen, SL_EPROTO, "no data.getTable.fullTableId in the answer%s%s",
                   json_is_string(msg) ? ": " : "",
                   json_is_string(msg) ? json_string_value(msg) : "");
        json_decref(root);
        return rc;
    }
    json_t *wh = json_object_get(tab, "warehouse");
    s_copy(t->full_table_id, sizeof t->full_table_id, ft);
    s_copy(t->warehouse_uuid, sizeof t->warehouse_uuid, json_object_get(wh, "uuid"));
    s_copy(t->warehouse_name, sizeof t->warehouse_name, json_object_get(wh, "name"));
    s_copy(t->connection_type, sizeof t->connection_type, json_object_get(wh, "connectionType"));
    json_decref(root);
    s_cache_put(r, mcon, h, 1, t);
    return SL_OK;
}

static int s_lookup_cb(void *arg, const char *mcon, sl_mc_table_t *t, char *why, size_t whylen)
{
    return sl_mc_resolver_table(arg, mcon, t, why, whylen);
}

void sl_mc_resolver_attach(sl_mc_resolver_t *r, sl_name_map_t *map)
{
    sl_name_map_set_lookup(map, r ? s_lookup_cb : NULL, r, r ? r->always : 0);
}

void sl_mc_resolver_stats(sl_mc_resolver_t *r, sl_mc_resolver_stats_t *st)
{
    pthread_mutex_lock(&r->mu);
    st->hits = r->hits;
    st->misses = r->misses;
    st->entries = r->n;
    pthread_mutex_unlock(&r->mu);
    st->requests = sl_mc_api_requests(r->api);
}

/* ------------------------------------------------------------ options */

/*  Read the JSON option into o (strings point into root). 0, or non-zero
    with err and a JSON Pointer in where. */
static int s_parse(json_t *root, const char *opt, int need_api, sl_mc_resolver_opts_t *o, char *err,
                   size_t errlen, char *where, size_t wherelen)
{
    static const char *const keys[] = {"url", "api_id",     "api_token", "lookup",
                                       "ttl", "cache_size", "timeout"};
    const char *k;
    json_t *v;
    if (where && wherelen) {
        where[0] = '\0';
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen,
                 "%s: expected an object (url, api_id, api_token, lookup, ttl, "
                 "cache_size, timeout)",
                 opt);
        return SL_EINVAL;
    }
    json_object_foreach(root, k, v)
    {
        size_t i = 0;
        while (i < sizeof keys / sizeof *keys && strcmp(keys[i], k) != 0) {
            i++;
        }
        if (i == sizeof keys / sizeof *keys) {
            snprintf(err, errlen,
                     "%s: unknown key '%.60s' (expected url, api_id, api_token, lookup, ttl, "
                     "cache_size, timeout)",
                     opt, k);
            snprintf(where, wherelen, "/%.60s", k);
            return SL_EINVAL;
        }
        int str = i < 5 || i == 6;
        if (str && !json_is_string(v) && !(i == 5 && json_is_integer(v))) {
            snprintf(err, errlen, "%s.%s: expected a string", opt, k);
            snprintf(where, wherelen, "/%s", k);
            return SL_EINVAL;
        }
    }
    const char **api[3] = {&o->api.url, &o->api.api_id, &o->api.api_token};
    for (int i = 0; i < 3; i++) {
        json_t *s = json_object_get(root, keys[i]);
        if (s) {
            *api[i] = json_string_value(s);
        }
        if (need_api && !*api[i]) {
            snprintf(err, errlen, "%s.%s: required", opt, keys[i]);
            return SL_EINVAL;
        }
        if (*api[i] && !s_one_line(*api[i])) {
            snprintf(err, errlen, "%s.%s: must be one non-empty line", opt, keys[i]);
            snprintf(where, wherelen, "/%s", keys[i]);
            return SL_EINVAL;
        }
    }
    if (o->api.url && strncmp(o->api.url, "http://", 7) != 0 &&
        strncmp(o->api.url, "https://", 8) != 0) {
        snprintf(err, errlen, "%s.url: expected an http:// or https:// URL", opt);
        snprintf(where, wherelen, "/url");
        return SL_EINVAL;
    }
    const char *lk = json_string_value(json_object_get(root, "lookup"));
    if (lk && strcmp(lk, "unmapped") != 0 && strcmp(lk, "always") != 0) {
        snprintf(err, errlen, "%s.lookup: expected unmapped or always", opt);
        snprintf(where, wherelen, "/lookup");
        return SL_EINVAL;
    }
    o->always = lk && strcmp(lk, "always") == 0;
    static const sl_opt_t dur = {"duration", SL_OPT_DURATION, NULL, 0, 0, ""};
    static const sl_opt_t num = {"cache_size", SL_OPT_INT, NULL, 0, 0, ""};
    const char *dk[2] = {"ttl", "timeout"};
    int64_t *dv[2] = {&o->ttl_us, &o->budget_us};
    for (int i = 0; i < 2; i++) {
        const char *s = json_string_value(json_object_get(root, dk[i]));
        char why[160];
        if (s && (sl_opt_parse(&dur, s, dv[i], why, sizeof why) != SL_OK || *dv[i] < 1000)) {
            snprintf(err, errlen,
                     "%s.%s: expected a duration such as 500ms, 5s or 1h (at least 1ms)", opt,
                     dk[i]);
            snprintf(where, wherelen, "/%s", dk[i]);
            return SL_EINVAL;
        }
    }
    json_t *cs = json_object_get(root, "cache_size");
    if (cs) {
        char why[160];
        if (json_is_integer(cs)) {
            o->cache_size = (int64_t)json_integer_value(cs);
        } else if (!json_is_string(cs)) {
            o->cache_size = -1;
        } else if (sl_opt_parse(&num, json_string_value(cs), &o->cache_size, why, sizeof why) !=
                   SL_OK) {
            o->cache_size = -1;
        }
        if (o->cache_size < 1 || o->cache_size > 10000000) {
            snprintf(err, errlen, "%s.cache_size: expected an integer from 1 to 10000000", opt);
            snprintf(where, wherelen, "/cache_size");
            return SL_EINVAL;
        }
    }
    return SL_OK;
}

int sl_mc_resolver_check_json(const char *json, const char *option, int need_api, char *err,
                              size_t errlen, char *where, size_t wherelen)
{
    json_t *root = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    sl_mc_resolver_opts_t o = {.cache_size = 0};
    int rc = s_parse(root, option, need_api, &o, err, errlen, where, wherelen);
    json_decref(root);
    return rc;
}

sl_mc_resolver_t *sl_mc_resolver_from_json(const char *json, const char *option,
                                           const sl_mc_api_opts_t *api, char *err, size_t errlen)
{
    json_t *root = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    sl_mc_resolver_opts_t o = {.cache_size = 0};
    char where[64];
    if (api) {
        o.api = *api;
    }
    sl_mc_resolver_t *r = NULL;
    if (s_parse(root, option, api == NULL || !api->url, &o, err, errlen, where, sizeof where) ==
        SL_OK) {
        r = sl_mc_resolver_new(&o, err, errlen);
    }
    json_decref(root);
    return r;
}
