/*  sluice/montecarlo_api.h: Monte Carlo's GraphQL API (over the
    connectors' HTTP client, sluice/httpc.h), and the asset-name look-up
    (getTable) with its cache.

    The client is what the montecarlo_poll source and the look-up share:
    POST https://api.getmontecarlo.com/graphql with x-mcd-id / x-mcd-token,
    429, 5xx and transport errors retried with jittered exponential
    back-off (half fixed, half random, from backoff_min doubling to 60 s,
    Retry-After honoured) until the caller's deadline; 401 and 403 are
    fatal: one error line, and no request at all afterwards (every call
    fails at once) until the object is made anew (a topology reload).
    Secrets are never logged; libcurl is loaded only when a client is made.

    The look-up (sl_mc_resolver_t) asks getTable(mcon) what an MCON is:
    its fullTableId and warehouse (uuid, name, connectionType), which the
    name map's rules then turn into a qualified name
    (sl_name_map_set_lookup, docs/adapters.md "Look-up through the
    GraphQL API"). Answers are cached: found tables for `ttl`, tables
    Monte Carlo does not know for min(ttl, 1 min), at most `cache_size`
    entries (least recently used out first). Errors (429/5xx past the
    budget, 401/403) are not cached. Nothing here touches the network
    unless an actor's topology options configure it.

    Every function is thread-safe: requests on one client are made one at
    a time (a caller waits for the one in flight, within its deadline). */
#ifndef SLUICE_MONTECARLO_API_H
#define SLUICE_MONTECARLO_API_H

#include "sluice/adapters.h"
#include "sluice/common.h"

struct json_t;

typedef struct sl_mc_api sl_mc_api_t;

typedef struct {
    const char *url;        /* GraphQL endpoint (http or https) */
    const char *api_id;     /* x-mcd-id */
    const char *api_token;  /* x-mcd-token */
    int64_t timeout_us;     /* one request (default 30 s) */
    int64_t backoff_min_us; /* first back-off (default 1 s; tests use less) */
    const char *log_name;   /* actor name of the log lines */
    const char *on_auth;    /* what a 401/403 stops, ending its log line */
    /* optional: returns non-zero when the caller is stopping (back-off
       sleeps end early with SL_ESTOPPED) */
    int (*stopping)(void *arg);
    void *stopping_arg;
} sl_mc_api_opts_t;

/*  A client; NULL with a reason in err (url, api_id or api_token missing
    or not one line, out of memory). Strings are copied. */
sl_mc_api_t *sl_mc_api_new(const sl_mc_api_opts_t *opts, char *err, size_t errlen);
/*  Safe twice; NULLs the pointer. */
void sl_mc_api_destroy(sl_mc_api_t **api);

/*  POST one GraphQL request (JSON text) and parse the answer. SL_OK with
    *root a JSON object (the caller decrefs); SL_EINVAL on 401/403 (now or
    before: sl_mc_api_auth_failed); SL_EPROTO for another 4xx or an answer
    that is not a JSON object; SL_ETIMEDOUT when retries would pass
    deadline_us (monotonic); SL_ESTOPPED; SL_ENOMEM. `why` (may be NULL)
    gets a one-line reason on error. */
int sl_mc_api_query(sl_mc_api_t *api, const char *body, int64_t deadline_us, struct json_t **root,
                    char *why, size_t whylen);

/*  1 once a 401 or 403 was answered. */
int sl_mc_api_auth_failed(const sl_mc_api_t *api);
/*  Requests sent so far (retries included). */
uint64_t sl_mc_api_requests(const sl_mc_api_t *api);

/* ------------------------------------------------------------ look-up */

typedef struct sl_mc_resolver sl_mc_resolver_t;

typedef struct {
    sl_mc_api_opts_t api;
    int always;         /* 1: every MCON is looked up; 0: only those no rule maps */
    int64_t ttl_us;     /* default 1 h */
    int64_t cache_size; /* entries, default 10000 */
    int64_t budget_us;  /* one look-up, retries included (default 5 s) */
} sl_mc_resolver_opts_t;

sl_mc_resolver_t *sl_mc_resolver_new(const sl_mc_resolver_opts_t *opts, char *err, size_t errlen);
/*  Safe twice; NULLs the pointer. Destroy the maps it is attached to
    first. */
void sl_mc_resolver_destroy(sl_mc_resolver_t **r);

/*  From a topology option (JSON object):
      {"url", "api_id", "api_token",      the API (default: `api`'s, if given)
       "lookup": "unmapped" | "always",   default "unmapped"
       "ttl": "1h", "cache_size": 10000, "timeout": "5s"}
    `api` (may be NULL) gives the defaults and log_name / on_auth. NULL
    with a reason naming the option and key in err ("montecarlo_api.ttl:
    expected a duration ..."). */
sl_mc_resolver_t *sl_mc_resolver_from_json(const char *json, const char *option,
                                           const sl_mc_api_opts_t *api, char *err, size_t errlen);

/*  Check such an option at topology load: 0 if good, else non-zero with
    a reason and a JSON Pointer to the part at fault (check_option).
    need_api: url, api_id and api_token are required in the object. */
int sl_mc_resolver_check_json(const char *json, const char *option, int need_api, char *err,
                              size_t errlen, char *where, size_t wherelen);

/*  getTable(mcon), through the cache. SL_OK with *t filled; SL_ENOTFOUND
    (Monte Carlo has no such table); SL_EINVAL (401/403); SL_ETIMEDOUT
    (429/5xx/transport past the budget); SL_EPROTO (another 4xx, a
    malformed answer); SL_ENOMEM. A one-line reason in why. */
int sl_mc_resolver_table(sl_mc_resolver_t *r, const char *mcon, sl_mc_table_t *t, char *why,
                         size_t whylen);

/*  Make `map` look MCONs up through r (sl_name_map_set_lookup), in r's
    mode. Before the map is shared between threads. */
void sl_mc_resolver_attach(sl_mc_resolver_t *r, sl_name_map_t *map);

typedef struct {
    uint64_t hits;     /* answered from the cache */
    uint64_t misses;   /* asked the API */
    uint64_t requests; /* HTTP requests, retries included */
    uint64_t entries;  /* in the cache now */
} sl_mc_resolver_stats_t;
void sl_mc_resolver_stats(sl_mc_resolver_t *r, sl_mc_resolver_stats_t *st);

#endif
