/*  http_ingest: events in over HTTP, durable before acknowledged
    (docs/ingest.md is the reference).

    A small pool of HTTP threads (core/http.c, epoll) parses a request's
    events, stamps them and encodes them as envelopes, then hands them to
    this actor's committer thread and answers later (sl_http_later): the
    committer appends everything queued since its last commit to the
    journal (core/journal.c) in one call, so one fsync covers them all, and
    only then sends each request its 2xx. No HTTP thread ever waits for an
    fsync. The actor's own thread (tick) hands newly journaled entries on
    in order (core/ingest.c, shared with zmq_ingest), with journal marks
    after them: the store confirms each mark into the journal after the
    commit that covers it, so a restart replays everything not confirmed
    and entries are trimmed once confirmed (docs/ingest.md
    "Confirmation").

    One instance per journal (LMDB has one writer per environment and the
    cursor is one sequence), so workers > 1 is refused. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sluice/actor.h"
#include "sluice/adapters.h"
#include "sluice/http.h"
#include "sluice/ingest.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/montecarlo_api.h"
#include "sluice/quota.h"
#include "sluice/schema.h"

#define S_TENANT_MAX 64
#define S_WAIT_US 2000  /* a tick waits this long for new entries */
#define S_RETRY_AFTER 1 /* seconds, on 429 and 503 */
#define S_REASON 512
#define S_TALLY 16 /* tenants of one request counted for quotas */

/*  A parsed request waiting for the committer. */
typedef struct s_job {
    struct s_job *next;
    sl_http_later_t *later;
    sl_buf_t enc; /* envelopes back to back */
    size_t *ends; /* end offset of each */
    long n;
    sl_buf_t ids;
    char *note; /* may be NULL */
} s_job_t;

typedef struct {
    char *listen;
    char *journal;
    int64_t max_body;
    int64_t timeout_us;
    int64_t max_connections;
    int64_t max_lag;
    int64_t threads;
    char *tenant;
    int64_t replay_window_us;
    int64_t redeliver_us;
    int64_t retention_us;
    int64_t map_size;
    int fsync;
    char *mapping;
    char *mc_secret;
    char *mc_token;
    char *schemas;
    char *schema_map;
    char *auth;
    char *montecarlo;
    char *quotas;
    char *mc_api;
    /* run state */
    sl_mc_resolver_t *resolver; /* MCONs through getTable (montecarlo_api), or NULL */
    sl_auth_t *authn;           /* the listener's credential checks */
    sl_mc_secrets_t *mc;        /* Monte Carlo webhook secrets, per tenant */
    sl_quota_t *quota;          /* NULL: no quotas */
    sl_schema_gate_t *gate;     /* NULL: no synchronous validation */
    sl_name_map_t *map;
    char name[64];
    sl_ingest_t *in; /* the journal and what is handed on (core/ingest.c) */
    sl_journal_t *j; /* sl_ingest_journal(in): appends from any thread */
    sl_http_t *http;
    _Atomic int full; /* the journal's map is full */
    sl_actor_t *a;
    /* the committer */
    pthread_t committer;
    int committer_on;
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    s_job_t *qhead;
    s_job_t **qtail;
    int qstop;
    int qidle; /* the committer waits on qcv */
} s_ingest_t;

/* ------------------------------------------------------------ requests */

typedef enum { S_CT_JSON = 1, S_CT_NDJSON } s_ctype_t;

/*  Content-Type without parameters, case-insensitive. 0 if not one we take. */
static s_ctype_t s_ctype(const char *ct)
{
    if (!ct) {
        return 0;
    }
    while (*ct == ' ') {
        ct++;
    }
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) {
        n--;
    }
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) {
        return S_CT_JSON;
    }
    if ((n == 20 && strncasecmp(ct, "application/x-ndjson", 20) == 0) ||
        (n == 18 && strncasecmp(ct, "application/ndjson", 18) == 0)) {
        return S_CT_NDJSON;
    }
    return 0;
}

/*  A 400 that names the event's index in the batch:
    {"error": {"code", "message", "index"}}. */
static int s_bad(sl_http_resp_t *resp, const char *code, long index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int s_bad_indexed(sl_http_resp_t *resp, const char *code, long index, const char *full);

static int s_bad(sl_http_resp_t *resp, const char *code, long index, const char *fmt, ...)
{
    char msg[S_REASON];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (index < 0) {
        return sl_http_error(resp, 400, code, "%s", msg);
    }
    char full[S_REASON + 32];
    snprintf(full, sizeof full, "event %ld: %s", index, msg);
    return s_bad_indexed(resp, code, index, full);
}

/*  The 400 body of s_bad with the whole message given. */
static int s_bad_indexed(sl_http_resp_t *resp, const char *code, long index, const char *full)
{
    sl_buf_t *b = &resp->body;
    sl_buf_reset(b);
    resp->status = 400;
    resp->content_type = "application/json";
    char tail[48];
    int tl = snprintf(tail, sizeof tail, "\",\"index\":%ld}}", index);
    if (sl_buf_append(b, "{\"error\":{\"code\":\"", 18) || sl_json_escape(b, code, strlen(code)) ||
        sl_buf_append(b, "\",\"message\":\"", 13) || sl_json_escape(b, full, strlen(full)) ||
        sl_buf_append(b, tail, (size_t)tl)) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

/*  One request's events on their way to the journal. */
typedef struct {
    s_ingest_t *s;
    sl_http_resp_t *resp;
    const char *hdr_tenant; /* X-Tenant-ID, or NULL */
    int64_t now;
    sl_buf_t scratch; /* sl_event_from_json's */
    sl_buf_t enc;     /* encoded envelopes, back to back */
    sl_buf_t ids;     /* "\"id\",\"id\"" */
    size_t *ends;     /* end offset of each envelope in enc */
    int unchecked;    /* an adapter's dead-letter note: no schema applies */
    int bound;        /* the credential binds hdr_tenant: another tenant is a 403 */
    long n;
    long cap;
    struct {
        char tenant[S_TENANT_MAX + 1];
        uint64_t events, writes; /* writes: events that are not deletes */
    } tally[S_TALLY];            /* per tenant, for quotas */
    int n_tally;
} s_req_t;

static void s_req_free(s_req_t *r)
{
    sl_buf_free(&r->scratch);
    sl_buf_free(&r->enc);
    sl_buf_free(&r->ids);
    free(r->ends);
}

/*  Count an event against its tenant for the request's quota check. */
static int s_tally(s_req_t *r, const sl_event_t *ev, long index)
{
    int i = 0;
    while (i < r->n_tally && !sl_slice_eq(ev->tenant, r->tally[i].tenant)) {
        i++;
    }
    if (i == r->n_tally) {
        if (r->n_tally == S_TALLY || ev->tenant.len > S_TENANT_MAX) {
            s_bad(r->resp, "too_many_tenants", index,
                  "with quotas on, one request carries events of at most %d tenants", S_TALLY);
            return SL_EPROTO;
        }
        memcpy(r->tally[i].tenant, ev->tenant.ptr, ev->tenant.len);
        r->tally[i].tenant[ev->tenant.len] = '\0';
        r->n_tally++;
    }
    r->tally[i].events++;
    if (!sl_slice_eq(ev->kind, "asset.delete") && !sl_slice_eq(ev->kind, "tag.unset") &&
        !sl_slice_eq(ev->kind, "lineage.edge.delete")) {
        r->tally[i].writes++;
    }
    return SL_OK;
}

/*  The request's quotas, once all its events are parsed: each tenant's
    store size (only for events that add data: deletes pass, so a tenant
    over its size can make room), then its rate, all or nothing. 1 with
    429 in resp if refused. */
static int s_quota_check(s_ingest_t *s, s_req_t *r, sl_http_resp_t *resp)
{
    char t[S_TENANT_MAX + 1];
    unsigned retry = 1;
    if (!s->quota) {
        return 0;
    }
    for (int i = 0; i < r->n_tally; i++) {
        snprintf(t, sizeof t, "%s", r->tally[i].tenant);
        uint64_t used = 0, limit = 0;
        if (r->tally[i].writes > 0 && sl_quota_size(s->quota, t, &used, &limit) == SL_EFULL) {
            /*  429 like the rate quota (the contract: a quota
                exceeded is a 429); Retry-After is when sizes are measured
                again. */
            int64_t every = sl_quota_size_interval(s->quota) / 1000000;
            resp->retry_after_s = every > 0 ? (unsigned)every : 1;
            sl_http_error(resp, 429, "store_quota",
                          "tenant '%s' uses %llu bytes of the store, at or over its quota of "
                          "%llu (key and value bytes of its records, measured periodically): "
                          "writes are refused until data is deleted or the quota raised",
                          t, (unsigned long long)used, (unsigned long long)limit);
            sl_metrics_count("sluice_quota_refused_total",
                             "Requests refused by a tenant quota, by listener, tenant and quota.",
                             1, "listener", s->name, "tenant", t, "quota", "store_size", NULL);
            return 1;
        }
    }
    for (int i = 0; i < r->n_tally; i++) {
        snprintf(t, sizeof t, "%s", r->tally[i].tenant);
        int rc = sl_quota_take(s->quota, t, r->tally[i].events, &retry);
        if (rc == SL_OK) {
            continue;
        }
        for (int k = 0; k < i; k++) {
            char tk[S_TENANT_MAX + 1];
            snprintf(tk, sizeof tk, "%s", r->tally[k].tenant);
            sl_quota_give(s->quota, tk, r->tally[k].events);
        }
        if (rc == SL_ERANGE) {
            sl_http_error(resp, 429, "rate_quota",
                          "%llu events for tenant '%s' exceed its burst: split the request",
                          (unsigned long long)r->tally[i].events, t);
            retry = 1;
        } else {
            sl_http_error(resp, 429, "rate_quota",
                          "tenant '%s' is over its events per second: retry after %u s", t, retry);
        }
        resp->retry_after_s = retry;
        sl_metrics_count("sluice_quota_refused_total",
                         "Requests refused by a tenant quota, by listener, tenant and quota.", 1,
                         "listener", s->name, "tenant", t, "quota", "events_per_second", NULL);
        return 1;
    }
    return 0;
}

/*  Parse, check and encode one event (JSON text of one object). SL_EPROTO
    with a 400 in resp. */
static int s_event(s_req_t *r, const char *json, size_t len)
{
    s_ingest_t *s = r->s;
    long index = r->n;
    char err[S_REASON] = "";
    sl_event_t ev;
    int rc = sl_event_from_json(json, len, &ev, &r->scratch, err, sizeof err);
    if (rc == SL_ENOMEM) {
        return rc;
    }
    if (rc) {
        s_bad(r->resp, "bad_event", index, "%s", err[0] ? err : "malformed event");
        return SL_EPROTO;
    }
    if (sl_event_kind_internal(ev.kind)) {
        s_bad(r->resp, "internal_kind", index,
              "field 'kind': '%.*s' is emitted by the lineage walker only", (int)ev.kind.len,
              ev.kind.ptr);
        return SL_EPROTO;
    }
    /*  The tenant: the event's own, the header's, or the default; where
        two are given they must agree (docs/ingest.md). */
    if (ev.tenant.len > 0) {
        if (r->hdr_tenant && r->bound && !sl_slice_eq(ev.tenant, r->hdr_tenant)) {
            /*  Not a malformed event: a tenant the credential may not write. */
            s_bad(r->resp, "forbidden_tenant", index,
                  "field 'tenant': '%.*s' is not the tenant of the credential ('%s')",
                  (int)(ev.tenant.len > 64 ? 64 : ev.tenant.len), ev.tenant.ptr, r->hdr_tenant);
            r->resp->status = 403;
            sl_auth_err_t e = {.code = "forbidden_tenant"};
            snprintf(e.message, sizeof e.message, "an event names another tenant");
            sl_auth_refused(s->authn, 403, &e, NULL, "/v1/events");
            return SL_EPROTO;
        }
        if (r->hdr_tenant && !sl_slice_eq(ev.tenant, r->hdr_tenant)) {
            s_bad(r->resp, "tenant_mismatch", index,
                  "field 'tenant': '%.*s' disagrees with the X-Tenant-ID header '%s'",
                  (int)(ev.tenant.len > 64 ? 64 : ev.tenant.len), ev.tenant.ptr, r->hdr_tenant);
            return SL_EPROTO;
        }
        char t[S_TENANT_MAX + 2];
        size_t tl = ev.tenant.len > S_TENANT_MAX ? S_TENANT_MAX + 1 : ev.tenant.len;
        memcpy(t, ev.tenant.ptr, tl);
        t[tl] = '\0';
        if (!sl_name_ok(t, S_TENANT_MAX)) {
            s_bad(r->resp, "bad_event", index,
                  "field 'tenant': must be 1 to %d characters of A-Z a-z 0-9 _ -", S_TENANT_MAX);
            return SL_EPROTO;
        }
    } else if (r->hdr_tenant) {
        ev.tenant = (sl_slice_t){r->hdr_tenant, (uint32_t)strlen(r->hdr_tenant)};
    } else if (s->tenant) {
        ev.tenant = (sl_slice_t){s->tenant, (uint32_t)strlen(s->tenant)};
    } else {
        s_bad(r->resp, "missing_tenant", index,
              "field 'tenant': missing (and no X-Tenant-ID header, no default tenant)");
        return SL_EPROTO;
    }
    if (s->quota && s_tally(r, &ev, index) != SL_OK) {
        return SL_EPROTO;
    }
    ev.ingest_us = r->now;
    ev.hops = 0;
    if (ev.source.len == 0) {
        ev.source = (sl_slice_t){s->name, (uint32_t)strlen(s->name)};
    }
    if (s->gate && !r->unchecked) {
        /*  Before anything of the request is journaled: one bad event
            refuses the whole request, so the sender fixes and resends it
            all. */
        rc = sl_schema_gate_check(s->gate, &ev, err, sizeof err);
        if (rc) {
            char full[S_REASON + 32];
            snprintf(full, sizeof full, "events[%ld]: %s", index, err);
            s_bad_indexed(r->resp, "schema", index, full);
            return SL_EPROTO;
        }
    }
    rc = sl_event_encode(&ev, &r->enc);
    if (rc == SL_ENOMEM) {
        return rc;
    }
    if (rc) {
        s_bad(r->resp, "bad_event", index, "cannot encode the event: %s", sl_strerror(rc));
        return SL_EPROTO;
    }
    if (r->n == r->cap) {
        long cap = r->cap ? r->cap * 2 : 64;
        size_t *e = realloc(r->ends, (size_t)cap * sizeof *e);
        if (!e) {
            return SL_ENOMEM;
        }
        r->ends = e;
        r->cap = cap;
    }
    r->ends[r->n++] = r->enc.len;
    char id[37];
    sl_uuid_format(ev.id, id);
    if ((r->ids.len && sl_buf_append(&r->ids, ",", 1)) || sl_buf_append(&r->ids, "\"", 1) ||
        sl_buf_append(&r->ids, id, 36) || sl_buf_append(&r->ids, "\"", 1)) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

static const char *s_skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/*  p points at '{': the end of that object (after its '}'), or NULL if it
    does not close. Only strings and nesting are tracked: the event parser
    checks everything else. */
static const char *s_object_end(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p++) {
        char ch = *p;
        if (ch == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\') {
                    p++;
                }
            }
            if (p >= end) {
                return NULL;
            }
        } else if (ch == '{' || ch == '[') {
            if (++depth > SL_EVENT_MAX_DEPTH + 2) {
                return NULL;
            }
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0) {
                return p + 1;
            }
        }
    }
    return NULL;
}

/*  A JSON array of event objects. */
static int s_parse_array(s_req_t *r, const char *p, const char *end)
{
    p = s_skip_ws(p + 1, end); /* after '[' */
    if (p < end && *p == ']') {
        p = s_skip_ws(p + 1, end);
        if (p != end) {
            s_bad(r->resp, "malformed_json", -1, "malformed JSON: text after the array");
            return SL_EPROTO;
        }
        return SL_OK;
    }
    for (;;) {
        if (p >= end || *p != '{') {
            s_bad(r->resp, p < end ? "bad_event" : "malformed_json", r->n,
                  p < end ? "expected a JSON object" : "malformed JSON: the array does not close");
            return SL_EPROTO;
        }
        const char *e = s_object_end(p, end);
        if (!e) {
            s_bad(r->resp, "malformed_json", r->n, "malformed JSON: the object does not close");
            return SL_EPROTO;
        }
        int rc = s_event(r, p, (size_t)(e - p));
        if (rc) {
            return rc;
        }
        p = s_skip_ws(e, end);
        if (p < end && *p == ',') {
            p = s_skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            p = s_skip_ws(p + 1, end);
            if (p != end) {
                s_bad(r->resp, "malformed_json", -1, "malformed JSON: text after the array");
                return SL_EPROTO;
            }
            return SL_OK;
        }
        s_bad(r->resp, "malformed_json", r->n, "malformed JSON: expected ',' or ']'");
        return SL_EPROTO;
    }
}

/*  One object per line; blank lines are skipped. */
static int s_parse_ndjson(s_req_t *r, const char *p, const char *end)
{
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *a = s_skip_ws(p, le);
        const char *b = le;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) {
            b--;
        }
        if (b > a) {
            int rc = s_event(r, a, (size_t)(b - a));
            if (rc) {
                return rc;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return SL_OK;
}

static int s_commit_reply(s_ingest_t *s, const sl_http_req_t *req, s_req_t *r0,
                          sl_http_resp_t *resp, const char *note);

/*  429 with Retry-After when the actor is max_lag behind: refuse before
    parsing rather than buffer without bound. 1 if refused. */
static int s_saturated(s_ingest_t *s, sl_http_resp_t *resp)
{
    uint64_t lag = sl_ingest_lag(s->in);
    if (lag >= (uint64_t)s->max_lag) {
        sl_http_error(resp, 429, "saturated",
                      "%llu events are waiting to be handed on (max_lag %lld): retry later",
                      (unsigned long long)lag, (long long)s->max_lag);
        resp->retry_after_s = S_RETRY_AFTER;
        return 1;
    }
    return 0;
}

static int s_post_events(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_ingest_t *s = arg;
    s_ctype_t ct = s_ctype(sl_http_header(req, "Content-Type"));
    if (!ct) {
        return sl_http_error(resp, 415, "unsupported_media_type",
                             "Content-Type must be application/json or application/x-ndjson");
    }
    /*  With credentials the tenant is the credential's (the glue checked
        X-Tenant-ID against it); a platform admin may name none. */
    const char *t = req->who ? req->tenant : sl_http_header(req, "X-Tenant-ID");
    if (t && !sl_name_ok(t, S_TENANT_MAX)) {
        return sl_http_error(resp, 400, "bad_tenant",
                             "X-Tenant-ID must be 1 to %d characters of A-Z a-z 0-9 _ -",
                             S_TENANT_MAX);
    }
    if (s_saturated(s, resp)) {
        return SL_OK;
    }
    const char *p = (const char *)req->body;
    const char *end = p ? p + req->body_len : p;
    const char *first = p ? s_skip_ws(p, end) : NULL;
    if (!first || first == end) {
        return sl_http_error(resp, 400, "empty_body", "the request has no events");
    }
    s_req_t r = {.s = s, .resp = resp, .hdr_tenant = t && *t ? t : NULL, .now = sl_now_us()};
    r.bound = req->who && r.hdr_tenant && req->who->grants[0].role != SL_ROLE_PLATFORM;
    int rc;
    if (ct == S_CT_NDJSON) {
        rc = s_parse_ndjson(&r, first, end);
    } else if (*first == '[') {
        rc = s_parse_array(&r, first, end);
    } else if (*first == '{') {
        rc = s_event(&r, first, (size_t)(end - first));
    } else {
        rc = SL_EPROTO;
        s_bad(resp, "malformed_json", -1, "malformed JSON: expected an object or an array");
    }
    if (rc == SL_EPROTO) {
        s_req_free(&r);
        return SL_OK; /* the 400 is in resp */
    }
    if (rc) {
        s_req_free(&r);
        return rc;
    }
    if (s_quota_check(s, &r, resp)) {
        s_req_free(&r);
        return SL_OK;
    }
    rc = s_commit_reply(s, req, &r, resp, NULL);
    s_req_free(&r);
    return rc;
}

/*  The reply to `n` journaled events (append result rc): 202 with the ids
    once durable; 503 with Retry-After if the journal refused. `note` (may
    be NULL) is added to the 202 as "dead_letter". */
static int s_answer(s_ingest_t *s, int rc, long n, const sl_buf_t *ids, const char *note,
                    sl_http_resp_t *resp)
{
    if (rc == SL_EFULL) {
        if (!atomic_exchange(&s->full, 1)) {
            sl_error(s->name,
                     "journal %s is full: requests answered 503 until entries are "
                     "trimmed (raise map_size or lower retention)",
                     sl_ingest_path(s->in));
            sl_health_set(s->name, "the ingest journal is full");
        }
        sl_http_error(resp, 503, "journal_full", "the journal is full: retry later");
        resp->retry_after_s = S_RETRY_AFTER;
        return SL_OK;
    }
    if (rc) {
        sl_http_error(resp, 503, "journal_error", "the journal refused the events: %s",
                      sl_strerror(rc));
        resp->retry_after_s = S_RETRY_AFTER;
        return SL_OK;
    }
    if (atomic_load(&s->full) && atomic_exchange(&s->full, 0)) {
        sl_info(s->name, "journal %s accepts events again", sl_ingest_path(s->in));
        sl_health_clear(s->name);
    }
    char head[64];
    int hl = snprintf(head, sizeof head, "{\"accepted\":%ld,\"ids\":[", n);
    resp->status = 202;
    resp->content_type = "application/json";
    if (sl_buf_append(&resp->body, head, (size_t)hl) ||
        sl_buf_append(&resp->body, ids->data, ids->len) || sl_buf_append(&resp->body, "]", 1) ||
        (note && (sl_buf_append(&resp->body, ",\"dead_letter\":\"", 16) ||
                  sl_json_escape(&resp->body, note, strlen(note)) ||
                  sl_buf_append(&resp->body, "\"", 1))) ||
        sl_buf_append(&resp->body, "}", 1)) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

/*  Slices of a request's envelopes, appended to es. */
static void s_slices(const sl_buf_t *enc, const size_t *ends, long n, sl_slice_t *es)
{
    size_t off = 0;
    for (long i = 0; i < n; i++) {
        es[i] = (sl_slice_t){(const char *)enc->data + off, (uint32_t)(ends[i] - off)};
        off = ends[i];
    }
}

static void s_job_free(s_job_t *job)
{
    sl_buf_free(&job->enc);
    sl_buf_free(&job->ids);
    free(job->ends);
    free(job->note);
    free(job);
}

/*  The committer: everything queued since the last commit goes into the
    journal in one append (one transaction, one fsync), then each request
    gets its reply. */
static void *s_committer(void *arg)
{
    s_ingest_t *s = arg;
    sl_slice_t *es = NULL;
    long es_cap = 0;
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        while (!s->qhead && !s->qstop) {
            s->qidle = 1;
            pthread_cond_wait(&s->qcv, &s->qmu);
            s->qidle = 0;
        }
        if (!s->qhead) {
            break;
        }
        s_job_t *jobs = s->qhead;
        s->qhead = NULL;
        s->qtail = &s->qhead;
        pthread_mutex_unlock(&s->qmu);

        long total = 0;
        for (s_job_t *job = jobs; job; job = job->next) {
            total += job->n;
        }
        int rc = SL_OK;
        if (total > es_cap) {
            sl_slice_t *e = realloc(es, (size_t)total * sizeof *e);
            if (e) {
                es = e;
                es_cap = total;
            } else {
                rc = SL_ENOMEM;
            }
        }
        if (rc == SL_OK) {
            long k = 0;
            for (s_job_t *job = jobs; job; job = job->next) {
                s_slices(&job->enc, job->ends, job->n, es + k);
                k += job->n;
            }
            rc = total > INT32_MAX ? SL_ERANGE : sl_journal_append(s->j, es, (int)total, NULL);
        }
        while (jobs) {
            s_job_t *job = jobs;
            jobs = job->next;
            sl_http_resp_t resp;
            memset(&resp, 0, sizeof resp);
            if (s_answer(s, rc, job->n, &job->ids, job->note, &resp) != SL_OK) {
                sl_http_error(&resp, 503, "out_of_memory", "out of memory");
            }
            sl_http_later_done(job->later, &resp);
            sl_http_resp_free(&resp);
            s_job_free(job);
        }
        pthread_mutex_lock(&s->qmu);
    }
    pthread_mutex_unlock(&s->qmu);
    free(es);
    return NULL;
}

/*  Journal a parsed request's events and answer (s_answer): through the
    committer when the server can answer later, else here (the append
    waits for its group's commit). */
static int s_commit_reply(s_ingest_t *s, const sl_http_req_t *req, s_req_t *r0,
                          sl_http_resp_t *resp, const char *note)
{
    s_req_t r = *r0; /* freed by the caller */
    int rc;
    if (r.n == 0) {
        return sl_http_error(resp, 400, "empty_body", "the request has no events");
    }
    sl_http_later_t *later = s->committer_on ? sl_http_later(req) : NULL;
    if (later) {
        s_job_t *job = calloc(1, sizeof *job);
        char *nt = note ? strdup(note) : NULL;
        if (!job || (note && !nt)) {
            free(job);
            free(nt);
            sl_http_resp_t e;
            memset(&e, 0, sizeof e);
            sl_http_error(&e, 503, "out_of_memory", "out of memory");
            sl_http_later_done(later, &e);
            sl_http_resp_free(&e);
            return SL_OK;
        }
        /*  The job takes the request's buffers. */
        job->later = later;
        job->enc = r0->enc;
        job->ends = r0->ends;
        job->n = r0->n;
        job->ids = r0->ids;
        job->note = nt;
        r0->enc = (sl_buf_t){0};
        r0->ids = (sl_buf_t){0};
        r0->ends = NULL;
        r0->n = r0->cap = 0;
        pthread_mutex_lock(&s->qmu);
        *s->qtail = job;
        s->qtail = &job->next;
        if (s->qidle) {
            pthread_cond_signal(&s->qcv);
        }
        pthread_mutex_unlock(&s->qmu);
        return SL_OK;
    }
    sl_slice_t *es = malloc((size_t)r.n * sizeof *es);
    if (!es) {
        return SL_ENOMEM;
    }
    s_slices(&r.enc, r.ends, r.n, es);
    rc = sl_journal_append(s->j, es, (int)r.n, NULL);
    free(es);
    return s_answer(s, rc, r.n, &r.ids, note, resp);
}

/* ------------------------------------------------------------ adapters */

/*  The tenant of an adapter request: X-Tenant-ID, else the default. */
static const char *s_adapter_tenant(s_ingest_t *s, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    if (req->who && req->tenant) {
        return req->tenant; /* the credential's (the glue checked the header) */
    }
    const char *t = sl_http_header(req, "X-Tenant-ID");
    if (t && *t) {
        if (!sl_name_ok(t, S_TENANT_MAX)) {
            sl_http_error(resp, 400, "bad_tenant",
                          "X-Tenant-ID must be 1 to %d characters of A-Z a-z 0-9 _ -",
                          S_TENANT_MAX);
            return NULL;
        }
        return t;
    }
    if (!s->tenant) {
        sl_http_error(resp, 400, "missing_tenant",
                      "no X-Tenant-ID header and no default tenant (option `tenant`)");
        return NULL;
    }
    return s->tenant;
}

/*  An adapter's result (a JSON array of events, or an error) into the
    journal. SL_ENOTFOUND (a name no rule maps) is not the sender's fault
    and retrying will not help: the payload is journaled as one event of
    kind "dead_letter" carrying the reason and the raw body, which the
    store files as a dead letter, and the 202 says so. */
static int s_adapted(s_ingest_t *s, const char *source, const char *tenant,
                     const sl_http_req_t *req, sl_http_resp_t *resp, int rc, sl_buf_t *out,
                     const char *err)
{
    s_req_t r = {.s = s, .resp = resp, .hdr_tenant = tenant, .now = sl_now_us()};
    r.bound = 1; /* the tenant comes from the credential or the webhook secret */
    const char *note = NULL;
    if (rc == SL_EPROTO) {
        return sl_http_error(resp, 400, "bad_payload", "%s", err[0] ? err : "malformed payload");
    }
    if (rc == SL_ERANGE) {
        return sl_http_error(resp, 400, "too_large", "%s", err[0] ? err : "payload too large");
    }
    if (rc == SL_ENOTFOUND) {
        sl_buf_reset(out);
        size_t keep = req->body_len > SL_EVENT_MAX_BODY / 2 ? SL_EVENT_MAX_BODY / 2 : req->body_len;
        if (sl_buf_append(out, "{\"kind\":\"dead_letter\",\"body\":{\"source\":\"", 40) ||
            sl_json_escape(out, source, strlen(source)) ||
            sl_buf_append(out, "\",\"reason\":\"", 12) || sl_json_escape(out, err, strlen(err)) ||
            sl_buf_append(out, "\",\"payload\":\"", 13) ||
            sl_json_escape(out, (const char *)req->body, keep) || sl_buf_append(out, "\"}}", 3)) {
            return SL_ENOMEM;
        }
        sl_warn(s->name, "%s delivery dead-lettered: %s", source, err);
        note = err;
        r.unchecked = 1;
        rc = s_event(&r, (const char *)out->data, out->len);
    } else if (rc == SL_OK) {
        const char *p = (const char *)out->data;
        const char *end = p + out->len;
        p = s_skip_ws(p, end);
        if (p == end || *p != '[') {
            s_req_free(&r);
            return sl_http_error(resp, 500, "adapter_error", "the adapter made no event array");
        }
        rc = s_parse_array(&r, p, end);
    }
    if (rc == SL_EPROTO) {
        s_req_free(&r);
        return SL_OK; /* the 400 is in resp (an adapter made a bad event) */
    }
    if (rc == SL_OK && s_quota_check(s, &r, resp)) {
        s_req_free(&r);
        return SL_OK;
    }
    if (rc == SL_OK) {
        rc = s_commit_reply(s, req, &r, resp, note);
    }
    s_req_free(&r);
    return rc;
}

/*  A webhook refused: counted and logged like any refused credential. */
static int s_webhook_refused(s_ingest_t *s, sl_http_resp_t *resp, unsigned status, const char *code,
                             const char *message)
{
    sl_auth_err_t e = {.code = code};
    snprintf(e.message, sizeof e.message, "%s", message);
    sl_auth_refused(s->authn, status, &e, NULL, "/v1/webhooks/montecarlo");
    return sl_http_error(resp, status, status == 401 ? "unauthorized" : code, "%s", message);
}

/*  POST /v1/webhooks/montecarlo: x-mcd-signature (HMAC-SHA512 with one
    tenant's secret), or POST /v1/webhooks/montecarlo/{token}. The secret
    or token that matches says the tenant (docs/auth.md "Webhooks"); an
    X-Tenant-ID header must agree with it. Checked before anything else. */
static int s_montecarlo(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_ingest_t *s = arg;
    const char *tenant = NULL;
    if (sl_mc_secrets_count(s->mc) == 0) {
        return sl_http_error(resp, 404, "not_configured",
                             "Monte Carlo webhooks are not configured here (montecarlo, or "
                             "montecarlo_secret / montecarlo_token with tenant)");
    }
    const char *hdr = sl_http_header(req, "X-Tenant-ID");
    if (hdr && !*hdr) {
        hdr = NULL;
    }
    if (req->rest[0]) {
        char tok[256];
        if (req->rest[0] != '/' || strchr(req->rest + 1, '/') ||
            sl_http_url_decode(req->rest + 1, strlen(req->rest + 1), 0, tok, sizeof tok, NULL) ||
            !(tenant = sl_mc_secrets_by_token(s->mc, tok))) {
            return s_webhook_refused(s, resp, 401, "bad_webhook_token", "unknown webhook token");
        }
    } else {
        const char *sig = sl_http_header(req, "x-mcd-signature");
        if (!sig) {
            return s_webhook_refused(s, resp, 401, "missing_signature",
                                     "x-mcd-signature header missing");
        }
        /*  Every tenant's secret, whatever the header says: a good signature
            with a header that disagrees is a 403, not a 401. */
        tenant = sl_mc_secrets_by_signature(s->mc, NULL, req->body ? (const char *)req->body : "",
                                            req->body_len, sig);
        if (!tenant) {
            return s_webhook_refused(s, resp, 401, "bad_signature",
                                     "x-mcd-signature does not match");
        }
    }
    if (hdr && strcmp(hdr, tenant) != 0) {
        return s_webhook_refused(s, resp, 403, "forbidden_tenant",
                                 "X-Tenant-ID names another tenant than the webhook secret's");
    }
    if (s_ctype(sl_http_header(req, "Content-Type")) != S_CT_JSON) {
        return sl_http_error(resp, 415, "unsupported_media_type",
                             "Content-Type must be application/json");
    }
    if (s_saturated(s, resp)) {
        return SL_OK;
    }
    if (!req->body || req->body_len == 0) {
        return sl_http_error(resp, 400, "empty_body", "the request has no body");
    }
    sl_buf_t out = {0};
    char err[S_REASON] = "";
    int rc = sl_montecarlo_webhook((const char *)req->body, req->body_len, s->map, tenant, &out,
                                   err, sizeof err);
    rc = s_adapted(s, "montecarlo", tenant, req, resp, rc, &out, err);
    sl_buf_free(&out);
    return rc;
}

/*  POST /api/v1/lineage: one OpenLineage RunEvent. */
static int s_openlineage(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_ingest_t *s = arg;
    if (s_ctype(sl_http_header(req, "Content-Type")) != S_CT_JSON) {
        return sl_http_error(resp, 415, "unsupported_media_type",
                             "Content-Type must be application/json");
    }
    const char *tenant = s_adapter_tenant(s, req, resp);
    if (!tenant || s_saturated(s, resp)) {
        return SL_OK;
    }
    if (!req->body || req->body_len == 0) {
        return sl_http_error(resp, 400, "empty_body", "the request has no body");
    }
    sl_buf_t out = {0};
    char err[S_REASON] = "";
    int rc = sl_openlineage_event((const char *)req->body, req->body_len, s->map, tenant, &out, err,
                                  sizeof err);
    rc = s_adapted(s, "openlineage", tenant, req, resp, rc, &out, err);
    sl_buf_free(&out);
    return rc;
}

/* ------------------------------------------------------------ actor thread */

static int s_tick(sl_actor_t *a, void *state)
{
    s_ingest_t *s = state;
    s->a = a;
    return sl_ingest_tick(s->in, a, S_WAIT_US);
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_ingest_t *s = state;
    (void)a;
    /*  The server first: its threads append to the journal, and it waits
        for the committer to answer every request it holds. */
    sl_http_destroy(&s->http);
    if (s->committer_on) {
        pthread_mutex_lock(&s->qmu);
        s->qstop = 1;
        pthread_cond_signal(&s->qcv);
        pthread_mutex_unlock(&s->qmu);
        pthread_join(s->committer, NULL);
        s->committer_on = 0;
        pthread_cond_destroy(&s->qcv);
        pthread_mutex_destroy(&s->qmu);
    }
    s->j = NULL;
    sl_ingest_close(&s->in);
    sl_auth_destroy(&s->authn);
    sl_mc_secrets_destroy(&s->mc);
    sl_quota_destroy(&s->quota);
    sl_name_map_destroy(&s->map);
    sl_mc_resolver_destroy(&s->resolver);
    sl_schema_gate_destroy(&s->gate);
    if (atomic_load(&s->full)) {
        sl_health_clear(s->name);
    }
}

static int s_init(sl_actor_t *a, void *state)
{
    s_ingest_t *s = state;
    char err[256] = "";
    int rc = SL_EINVAL;
    snprintf(s->name, sizeof s->name, "%s", sl_actor_name(a));
    s->a = a;
    if (sl_actor_workers(a) != 1) {
        sl_error(s->name, "http_ingest runs one worker (one journal, one cursor), not %d",
                 sl_actor_workers(a));
        goto fail;
    }
    if (s->max_connections < 1 || s->max_connections > 10000) {
        sl_error(s->name, "max_connections must be from 1 to 10000");
        goto fail;
    }
    if (s->threads < 0 || s->threads > 256) {
        sl_error(s->name, "threads must be from 0 (one per CPU core) to 256");
        goto fail;
    }
    if (s->timeout_us < 1000000 || s->timeout_us > 3600LL * 1000000) {
        sl_error(s->name, "timeout must be from 1s to 1h");
        goto fail;
    }
    if (s->max_body < 1024 || s->max_body > (int64_t)1 << 30) {
        sl_error(s->name, "max_body must be from 1KiB to 1GiB");
        goto fail;
    }
    if (s->max_lag < 1 || s->replay_window_us < 0 || s->retention_us < 0 || s->map_size < 1 ||
        s->redeliver_us < 0) {
        sl_error(s->name,
                 "max_lag and map_size must be >= 1, replay_window, redeliver and retention >= 0");
        goto fail;
    }
    if (s->tenant && !sl_name_ok(s->tenant, S_TENANT_MAX)) {
        sl_error(s->name, "tenant must be 1 to %d characters of A-Z a-z 0-9 _ -", S_TENANT_MAX);
        goto fail;
    }
    if (!(s->mc = sl_mc_secrets_new(s->montecarlo, err, sizeof err))) {
        sl_error(s->name, "%s", err);
        goto fail;
    }
    if ((s->mc_secret || s->mc_token) && !s->tenant) {
        sl_error(s->name, "montecarlo_secret and montecarlo_token need `tenant` (the tenant their "
                          "deliveries belong to), or give them per tenant in `montecarlo`");
        goto fail;
    }
    if ((s->mc_secret || s->mc_token) &&
        (rc = sl_mc_secrets_add(s->mc, s->tenant, s->mc_secret, s->mc_token)) != SL_OK) {
        sl_error(s->name, "montecarlo_secret / montecarlo_token: %s",
                 rc == SL_EEXIST ? "tenant already in `montecarlo`, or a value is another "
                                   "tenant's (each authenticates one tenant)"
                                 : sl_strerror(rc));
        rc = SL_EINVAL;
        goto fail;
    }
    if (s->quotas) {
        const char *sp = sl_actor_store_path(a);
        if (!(s->quota = sl_quota_new(s->quotas, sp, s->name, err, sizeof err))) {
            sl_error(s->name, "%s", err);
            goto fail;
        }
    }
    s->map = sl_name_map_new(s->mapping, s->mapping ? strlen(s->mapping) : 0, err, sizeof err);
    if (!s->map) {
        sl_error(s->name, "%s", err);
        goto fail;
    }
    if (s->mc_api) {
        sl_mc_api_opts_t ao = {.log_name = s->name,
                               .on_auth = "name look-ups stopped until the topology is reloaded "
                                          "(names no rule maps are dead-lettered)"};
        s->resolver = sl_mc_resolver_from_json(s->mc_api, "montecarlo_api", &ao, err, sizeof err);
        if (!s->resolver) {
            sl_error(s->name, "%s", err);
            goto fail;
        }
        sl_mc_resolver_attach(s->resolver, s->map);
    }
    if (s->schema_map && !s->schemas) {
        sl_error(s->name, "schema_map needs schemas (the directory of schema files)");
        goto fail;
    }
    if (s->schemas) {
        char why[1024] = "";
        s->gate = sl_schema_gate_new(s->schemas, s->schema_map, NULL, why, sizeof why);
        if (!s->gate) {
            sl_error(s->name, "%s", why);
            goto fail;
        }
    }
    sl_ingest_opts_t io = SL_INGEST_OPTS(s, a);
    s->in = sl_ingest_open(&io, err, sizeof err);
    if (!s->in) {
        sl_error(s->name, "%s", err);
        rc = SL_EIO;
        goto fail;
    }
    s->j = sl_ingest_journal(s->in);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    s->qtail = &s->qhead;
    if (pthread_create(&s->committer, NULL, s_committer, s) != 0) {
        pthread_cond_destroy(&s->qcv);
        pthread_mutex_destroy(&s->qmu);
        sl_error(s->name, "cannot start the committer thread");
        rc = SL_ENOMEM;
        goto fail;
    }
    s->committer_on = 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    sl_http_opts_t ho = {
        .threads = s->threads > 0 ? (int)s->threads : (cores > 0 ? (int)cores : 2),
        .listen = s->listen,
        .max_connections = (int)s->max_connections,
        .timeout_s = (int)(s->timeout_us / 1000000),
        .max_body = (size_t)s->max_body,
        .log_name = s->name,
    };
    s->http = sl_http_new(&ho, err, sizeof err);
    if (!s->http) {
        sl_error(s->name, "%s", err);
        rc = SL_EINVAL;
        goto fail;
    }
    s->authn = sl_http_auth_new(s->http, s->auth, sl_actor_store_path(a), 0, err, sizeof err);
    if (!s->authn) {
        sl_error(s->name, "auth: %s", err);
        rc = SL_EINVAL;
        goto fail;
    }
    const unsigned w = SL_HTTP_ROLE(SL_ROLE_WRITER);
    if ((rc = sl_http_route(s->http, "POST", "/v1/events", SL_HTTP_EXACT | w, s_post_events, s)) ||
        (rc = sl_http_route(s->http, "POST", "/v1/webhooks/montecarlo", SL_HTTP_PUBLIC,
                            s_montecarlo, s)) ||
        (rc = sl_http_route(s->http, "POST", "/api/v1/lineage", SL_HTTP_EXACT | w, s_openlineage,
                            s))) {
        sl_error(s->name, "routes: %s", sl_strerror(rc));
        goto fail;
    }
    rc = sl_http_start(s->http, err, sizeof err);
    if (rc) {
        sl_error(s->name, "%s", err);
        goto fail;
    }
    /*  As often as possible: each tick waits up to S_WAIT_US on the
        journal, so an idle ingest sleeps and a busy one never waits for a
        timer. */
    sl_actor_set_tick(a, 0);
    sl_info(s->name, "ingest on %s (port %d), journal %s (fsync %s)%s%s; credentials: %s",
            s->listen, sl_http_port(s->http), sl_ingest_path(s->in), s->fsync ? "on" : "off",
            s->gate ? ", events validated against the schemas of " : "", s->gate ? s->schemas : "",
            sl_auth_describe(s->authn));
    if (!s->auth) {
        sl_warn(s->name,
                "no auth configured: %s accepts events without credentials (loopback "
                "only); set auth to require them",
                s->listen);
    }
    return SL_OK;
fail:
    s_exit(a, s);
    return rc ? rc : SL_EINVAL;
}

/*  At topology load: the map's schemas exist, and two mapped versions of
    one schema are compatible (a topology error at the entry at fault). */
static int s_check_option(const char *option, const char *json, const sl_opt_values_t *opts,
                          char *err, size_t errlen, char *where, size_t wherelen)
{
    if (strcmp(option, "auth") == 0) {
        return sl_auth_config_check(json, err, errlen, where, wherelen);
    }
    if (strcmp(option, "montecarlo") == 0) {
        return sl_mc_secrets_check(json, err, errlen, where, wherelen);
    }
    if (strcmp(option, "montecarlo_api") == 0) {
        return sl_mc_resolver_check_json(json, option, 1, err, errlen, where, wherelen);
    }
    if (strcmp(option, "quotas") == 0) {
        return sl_quota_config_check(json, err, errlen, where, wherelen);
    }
    if (strcmp(option, "schema_map") != 0) {
        return 0;
    }
    return sl_schema_map_check(sl_opt_value(opts, "schemas"), json, err, errlen, where, wherelen);
}

static const sl_opt_t s_options[] = {
    {"listen", SL_OPT_STR, NULL, offsetof(s_ingest_t, listen), SL_OPT_REQUIRED,
     "host:port to accept events on ([v6]:port for IPv6)"},
    SL_INGEST_OPTIONS(s_ingest_t),
    {"max_body", SL_OPT_SIZE, "10MiB", offsetof(s_ingest_t, max_body), 0,
     "largest request body (413 beyond)"},
    {"timeout", SL_OPT_DURATION, "30s", offsetof(s_ingest_t, timeout_us), 0,
     "an idle connection is closed after this long (1s..1h)"},
    {"max_connections", SL_OPT_INT, "256", offsetof(s_ingest_t, max_connections), 0,
     "concurrent connections (1..10000)"},
    {"threads", SL_OPT_INT, "0", offsetof(s_ingest_t, threads), 0,
     "HTTP threads polling the connections (0: one per CPU core); they never wait for the "
     "journal's fsync, a committer thread does"},
    {"tenant", SL_OPT_STR, NULL, offsetof(s_ingest_t, tenant), 0,
     "tenant of events that carry none and come without an X-Tenant-ID header"},
    {"mapping", SL_OPT_JSON, NULL, offsetof(s_ingest_t, mapping), 0,
     "name mapping rules of the adapters (Monte Carlo and OpenLineage names -> qualified "
     "names; docs/adapters.md)"},
    {"montecarlo_secret", SL_OPT_SECRET, NULL, offsetof(s_ingest_t, mc_secret), 0,
     "HMAC-SHA512 secret of x-mcd-signature on POST /v1/webhooks/montecarlo, for the tenant "
     "`tenant` (several tenants: `montecarlo`)"},
    {"montecarlo_token", SL_OPT_SECRET, NULL, offsetof(s_ingest_t, mc_token), 0,
     "secret URL token of the tenant `tenant`: POST /v1/webhooks/montecarlo/{token} needs no "
     "signature"},
    {"montecarlo", SL_OPT_JSON, NULL, offsetof(s_ingest_t, montecarlo), 0,
     "Monte Carlo webhook secrets per tenant: {tenant: {secret, token}}; the secret or token "
     "that matches says the tenant, and each belongs to one tenant (docs/auth.md)"},
    {"auth", SL_OPT_JSON, NULL, offsetof(s_ingest_t, auth), 0,
     "credentials for /v1/events and /api/v1/lineage (role writer): none, or {tokens, okta}; "
     "default: the topology's top-level auth (docs/auth.md)"},
    {"montecarlo_api", SL_OPT_JSON, NULL, offsetof(s_ingest_t, mc_api), 0,
     "look webhook MCONs up with Monte Carlo's getTable (unset: no network access): {url, "
     "api_id, api_token (x-mcd-id / x-mcd-token: use ${ENV} or file:), lookup: unmapped (only "
     "MCONs no rule maps) | always, ttl: 1h, cache_size: 10000, timeout: 5s (one look-up, "
     "retries included)} (docs/adapters.md)"},
    {"quotas", SL_OPT_JSON, NULL, offsetof(s_ingest_t, quotas), 0,
     "per-tenant quotas: {tenants: {tenant or \"*\": {events_per_second, burst, store_size}}, "
     "size_interval}; over either, 429 with Retry-After (docs/auth.md)"},
    {"schemas", SL_OPT_STR, NULL, offsetof(s_ingest_t, schemas), 0,
     "directory of schema files: when set, every event of a request (adapters' too) is "
     "validated before it is journaled, and one invalid event makes the whole request a 400 "
     "naming it (docs/schemas.md)"},
    {"schema_map", SL_OPT_JSON, NULL, offsetof(s_ingest_t, schema_map), 0,
     "with schemas: event kind -> \"name@version\"; default: each built-in kind -> <kind>@1. "
     "A kind the map does not name is refused"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "events", .desc = "accepted events, in journal order"},
    {0},
};

const sl_actor_kind_t sl_actor_http_ingest = {
    .name = "http_ingest",
    .description = "Accepts events over HTTP (POST /v1/events: one JSON event, an array or "
                   "NDJSON; Monte Carlo webhooks; OpenLineage at /api/v1/lineage), journals them "
                   "durably (group commit) before the 202, and hands "
                   "them on in order. See docs/ingest.md.",
    .flags = SL_KIND_SOURCE | SL_KIND_MARKS,
    .state_size = sizeof(s_ingest_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .tick = s_tick,
    .exit = s_exit,
    .check_option = s_check_option,
};
