/*  montecarlo_poll: back-fill of Monte Carlo incidents from its GraphQL API.

    At start and every `interval`, asks getIncidents (or getAlerts) for
    everything updated since the persisted watermark, page by page (Relay:
    first/after until hasNextPage is false or endCursor is missing or
    repeats), turns each node into an incident.upsert through the webhook
    adapter (sl_montecarlo_webhook over a webhook-shaped copy of the node),
    so a back-filled and a webhook-delivered version of one incident have
    the same shape and converge in the store, which keeps the newest
    update. Then the watermark advances.

    The watermark is a small JSON state file, not a store cursor: the
    actor does not open the store (LMDB options belong to the store actor)
    and the topology may have no store at all. The file keeps the newest
    updatedTime seen and the watermark of the poll before; a restart
    resumes from the latter, so the last poll is fetched once more. That
    covers events emitted but not yet applied when the process died; the
    re-fetched ones have the same deterministic ids and change nothing.

    Errors: 429, 5xx and transport errors are retried with jittered
    exponential back-off (1 s doubling up to 60 s, Retry-After honoured),
    never past the next poll. 401/403 is a configuration error: one error
    line, then no more requests until the topology is reloaded. Names no
    mapping rule covers go to the dead letters (a "dead_letter" event, as
    the HTTP ingest does). docs/montecarlo.md is the reference.

    The same poll runs once, outside the engine, for `sluice backfill
    montecarlo` (sl_montecarlo_poll_backfill below). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sluice/actor.h"
#include "sluice/adapters.h"
#include "sluice/log.h"
#include "sluice/montecarlo_api.h"

#define S_TICK_US 200000 /* how often the actor checks whether a poll is due */

/*  Where the events of a poll go: sl_emit in the actor, the store in the
    CLI. dead_reason is non-NULL for a dead letter. Returns SL_OK or an
    error that stops the poll. */
typedef int (*sl_mc_sink_fn)(void *arg, const sl_event_t *ev, const char *dead_reason);
/*  Progress of a poll: pages and nodes so far. */
typedef void (*sl_mc_progress_fn)(void *arg, int pages, int64_t nodes, int64_t events);

typedef struct {
    /* options */
    char *url;
    char *api_id;
    char *api_token;
    char *query;
    int64_t interval;
    int64_t page_size;
    char *tenant;
    char *mapping;
    int64_t timeout;
    char *state;
    int64_t lookback;
    char *resolve;
    /* runtime */
    const char *name;
    sl_actor_t *a;
    sl_mc_api_t *api;
    sl_mc_resolver_t *resolver; /* getTable look-ups, when `resolve` is set */
    sl_name_map_t *map;
    int alerts;          /* getAlerts instead of getIncidents */
    int auth_failed;     /* 401/403: no more requests until reload */
    char *state_file;    /* our copy: the engine frees option strings */
    int64_t next_due;    /* monotonic us of the next poll */
    int64_t since;       /* where the next poll starts (us), -1 = everything */
    int64_t watermark;   /* newest updatedTime seen (us), -1 none */
    int64_t resume_from; /* where the last poll started, -1 none */
    sl_buf_t scratch;
    sl_buf_t out;
    sl_mc_sink_fn sink;
    void *sink_arg;
    sl_mc_progress_fn progress;
    void *progress_arg;
    int pages;
    int64_t nodes, events, skipped, dead;
} s_poll_t;

static int s_stopping(void *arg)
{
    s_poll_t *s = arg;
    return s->a && sl_actor_stopping(s->a);
}

/* ----------------------------------------------------------- state file */

static int s_state_load(s_poll_t *s)
{
    json_error_t jerr;
    s->watermark = s->resume_from = -1;
    if (!s->state_file) {
        return SL_OK;
    }
    json_t *root = json_load_file(s->state_file, 0, &jerr);
    if (!root) {
        if (access(s->state_file, F_OK) != 0) {
            return SL_OK; /* first start */
        }
        sl_error(s->name, "state file %s: %s (line %d); remove it to poll from `lookback`",
                 s->state_file, jerr.text, jerr.line);
        return SL_EPROTO;
    }
    const char *k[] = {"watermark", "resume_from"};
    int64_t *dst[] = {&s->watermark, &s->resume_from};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, k[i]);
        if (json_is_string(v) &&
            sl_time_parse(json_string_value(v), json_string_length(v), dst[i]) != SL_OK) {
            sl_error(s->name, "state file %s: field '%s': expected an RFC 3339 time", s->state_file,
                     k[i]);
            json_decref(root);
            return SL_EPROTO;
        }
    }
    json_decref(root);
    return SL_OK;
}

/*  Write the state atomically: a temporary file, fsync, rename, fsync of
    the directory. */
static int s_state_save(s_poll_t *s)
{
    char tmp[4096], wm[32], rf[32], dir[4096];
    if (!s->state_file) {
        return SL_OK;
    }
    if (s->watermark >= 0) {
        sl_time_format(s->watermark, wm);
    }
    if (s->resume_from >= 0) {
        sl_time_format(s->resume_from, rf);
    }
    json_t *root = json_pack("{s:s?,s:s?,s:s,s:s}", "watermark", s->watermark >= 0 ? wm : NULL,
                             "resume_from", s->resume_from >= 0 ? rf : NULL, "query",
                             s->alerts ? "getAlerts" : "getIncidents", "url", s->url);
    char *text = root ? json_dumps(root, JSON_SORT_KEYS) : NULL;
    json_decref(root);
    if (!text) {
        return SL_ENOMEM;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", s->state_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t n = strlen(text);
    int ok =
        fd >= 0 && write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    free(text);
    if (!ok || rename(tmp, s->state_file) != 0) {
        sl_error(s->name, "cannot write state file %s: %s", s->state_file, strerror(errno));
        unlink(tmp);
        return SL_EIO;
    }
    snprintf(dir, sizeof dir, "%s", s->state_file);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(slash == dir ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return SL_OK;
}

/* ----------------------------------------------------------------- HTTP */

/*  POST one GraphQL request (core/montecarlo_api.c retries 429, 5xx and
    transport errors until deadline); a 401/403 stops polling. */
static int s_request(s_poll_t *s, const char *body, int64_t deadline, json_t **root)
{
    int rc = sl_mc_api_query(s->api, body, deadline, root, NULL, 0);
    if (rc == SL_EINVAL && sl_mc_api_auth_failed(s->api)) {
        s->auth_failed = 1;
    }
    return rc;
}

/* ------------------------------------------------------------- the poll */

static const char s_q_incidents[] =
    "query BackfillIncidents($startTime: DateTime, $endTime: DateTime, $first: Int, "
    "$after: String) { getIncidents(startTime: $startTime, endTime: $endTime, first: $first, "
    "after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { uuid "
    "warehouse { uuid name connectionType } createdTime updatedTime owner severity priority "
    "feedback incidentType incidentSubTypes tableMcons } } } }";

static const char s_q_alerts[] =
    "query BackfillAlerts($updatedAfter: DateTime, $updatedBefore: DateTime, $first: Int, "
    "$after: String) { getAlerts(first: $first, after: $after, updatedTime: {after: "
    "$updatedAfter, before: $updatedBefore}) { pageInfo { hasNextPage endCursor } edges { "
    "cursor node { id uuid title type subTypes status severity priority feedback createdTime "
    "updatedTime url owner { email } tables { mcon tableId } } } } }";

/*  A node as a webhook delivery would carry it: the adapter reads the
    GraphQL field names (createdTime, tableMcons, warehouse{...}, ...)
    already; the id, the type and the sub-types get the webhook's names. */
static json_t *s_webhook_shape(s_poll_t *s, json_t *node)
{
    json_t *w = json_deep_copy(node);
    if (!w) {
        return NULL;
    }
    json_t *id = json_object_get(node, "uuid");
    if (!json_is_string(id)) {
        id = json_object_get(node, "id");
    }
    if (json_is_string(id)) {
        json_object_set(w, "incident_id", id);
    }
    json_object_del(w, "uuid");
    json_object_del(w, "id");
    json_t *t = json_object_get(node, s->alerts ? "type" : "incidentType");
    if (json_is_string(t)) {
        json_object_set(w, "incident_type", t);
    }
    json_object_del(w, "incidentType");
    json_object_del(w, "type");
    json_t *st = json_object_get(node, "subTypes");
    if (json_is_array(st)) {
        json_object_set(w, "sub_types", st);
        json_object_del(w, "subTypes");
    }
    /*  feedback decides the status when there is one; getAlerts may carry
        only a status. */
    json_t *fb = json_object_get(node, "feedback");
    if ((!fb || json_is_null(fb)) && json_is_string(json_object_get(node, "status"))) {
        json_object_del(w, "feedback");
    } else {
        json_object_del(w, "status");
    }
    /*  getIncidents has no url: the one Monte Carlo's webhooks send. */
    if (!json_object_get(node, "url") && json_is_string(id)) {
        char url[256];
        snprintf(url, sizeof url, "https://getmontecarlo.com/incidents/%s", json_string_value(id));
        json_object_set_new(w, "url", json_string(url));
    }
    return w;
}

static int s_dead(s_poll_t *s, const char *reason, const char *payload, size_t plen)
{
    sl_event_t ev;
    char err[256];
    sl_buf_t b = {0};
    size_t keep = plen > SL_EVENT_MAX_BODY / 2 ? SL_EVENT_MAX_BODY / 2 : plen;
    int rc = SL_ENOMEM;
    if (sl_buf_append(&b, "{\"kind\":\"dead_letter\"", 21) ||
        (s->tenant &&
         (sl_buf_append(&b, ",\"tenant\":\"", 11) ||
          sl_json_escape(&b, s->tenant, strlen(s->tenant)) || sl_buf_append(&b, "\"", 1))) ||
        sl_buf_append(&b, ",\"body\":{\"source\":\"montecarlo\",\"reason\":\"", 41) ||
        sl_json_escape(&b, reason, strlen(reason)) || sl_buf_append(&b, "\",\"payload\":\"", 13) ||
        sl_json_escape(&b, payload, keep) || sl_buf_append(&b, "\"}}", 3)) {
        goto fail;
    }
    if ((rc = sl_event_from_json((const char *)b.data, b.len, &ev, &s->scratch, err, sizeof err)) !=
        SL_OK) {
        sl_error(s->name, "dead letter: %s", err);
        goto fail;
    }
    ev.ingest_us = sl_now_us();
    s->dead++;
    rc = s->sink(s->sink_arg, &ev, reason);
fail:
    sl_buf_free(&b);
    return rc;
}

/*  One node -> events to the sink. *newest tracks the newest updatedTime. */
static int s_node(s_poll_t *s, json_t *node, int64_t since, int64_t *newest)
{
    char err[512];
    int64_t up = -1;
    json_t *ut = json_object_get(node, "updatedTime");
    if (!json_is_object(node)) {
        sl_warn(s->name, "page item is not an object; skipped");
        return SL_OK;
    }
    if (json_is_string(ut)) {
        sl_time_parse(json_string_value(ut), json_string_length(ut), &up);
    }
    s->nodes++;
    /*  The server filters by time already; this keeps a server that does
        not (or filters by creation time) from re-sending old history. */
    if (since >= 0 && up >= 0 && up < since) {
        s->skipped++;
        return SL_OK;
    }
    json_t *w = s_webhook_shape(s, node);
    char *body = w ? json_dumps(w, JSON_COMPACT) : NULL;
    json_decref(w);
    if (!body) {
        return SL_ENOMEM;
    }
    sl_buf_reset(&s->out);
    int rc = sl_montecarlo_webhook(body, strlen(body), s->map, s->tenant, &s->out, err, sizeof err);
    if (rc == SL_ENOTFOUND) {
        sl_warn(s->name, "incident dead-lettered: %s", err);
        rc = s_dead(s, err, body, strlen(body));
        free(body);
        if (rc == SL_OK && up > *newest) {
            *newest = up;
        }
        return rc;
    }
    if (rc != SL_OK) {
        sl_warn(s->name, "incident skipped: %s", err);
        free(body);
        return rc == SL_ENOMEM ? rc : SL_OK;
    }
    free(body);
    json_t *arr = json_loadb((const char *)s->out.data, s->out.len, 0, NULL);
    size_t i;
    json_t *e;
    rc = json_is_array(arr) ? SL_OK : SL_EPROTO;
    json_array_foreach(arr, i, e)
    {
        char *one = json_dumps(e, JSON_COMPACT);
        sl_event_t ev;
        if (!one) {
            rc = SL_ENOMEM;
            break;
        }
        rc = sl_event_from_json(one, strlen(one), &ev, &s->scratch, err, sizeof err);
        free(one);
        if (rc != SL_OK) {
            sl_warn(s->name, "adapter made a bad event: %s", err);
            break;
        }
        ev.ingest_us = sl_now_us();
        if ((rc = s->sink(s->sink_arg, &ev, NULL)) != SL_OK) {
            break;
        }
        s->events++;
    }
    json_decref(arr);
    if (rc == SL_OK && up > *newest) {
        *newest = up;
    }
    return rc;
}

/*  Every page updated since `since` (us, -1 = from the beginning) to the
    sink; retries end at deadline. *newest gets the newest updatedTime. */
static int s_poll(s_poll_t *s, int64_t since, int64_t deadline, int64_t *newest)
{
    const char *field = s->alerts ? "getAlerts" : "getIncidents";
    char since_s[32], now_s[32];
    char *after = NULL;
    int rc = SL_OK;
    sl_time_format(since >= 0 ? since : 0, since_s);
    sl_time_format(sl_now_us() + 60000000, now_s); /* a little ahead: clock skew */
    s->pages = 0;
    s->nodes = s->events = s->skipped = s->dead = 0;
    for (;;) {
        json_t *vars = s->alerts
                           ? json_pack("{s:s,s:s,s:I}", "updatedAfter", since_s, "updatedBefore",
                                       now_s, "first", (json_int_t)s->page_size)
                           : json_pack("{s:s,s:s,s:I}", "startTime", since_s, "endTime", now_s,
                                       "first", (json_int_t)s->page_size);
        if (vars && after) {
            json_object_set_new(vars, "after", json_string(after));
        }
        json_t *req = vars ? json_pack("{s:s,s:o}", "query", s->alerts ? s_q_alerts : s_q_incidents,
                                       "variables", vars)
                           : NULL;
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        json_t *root = NULL;
        if (!body) {
            rc = SL_ENOMEM;
            break;
        }
        rc = s_request(s, body, deadline, &root);
        free(body);
        if (rc != SL_OK) {
            break;
        }
        json_t *conn = json_object_get(json_object_get(root, "data"), field);
        json_t *edges = json_object_get(conn, "edges");
        if (!json_is_object(conn) || !json_is_array(edges)) {
            json_t *msg =
                json_object_get(json_array_get(json_object_get(root, "errors"), 0), "message");
            sl_error(s->name, "GraphQL API %s: no data.%s.edges in the answer%s%s", s->url, field,
                     json_is_string(msg) ? ": " : "",
                     json_is_string(msg) ? json_string_value(msg) : "");
            json_decref(root);
            rc = SL_EPROTO;
            break;
        }
        s->pages++;
        size_t i;
        json_t *e;
        json_array_foreach(edges, i, e)
        {
            if ((rc = s_node(s, json_object_get(e, "node"), since, newest)) != SL_OK) {
                break;
            }
        }
        if (s->progress) {
            s->progress(s->progress_arg, s->pages, s->nodes, s->events);
        }
        json_t *pi = json_object_get(conn, "pageInfo");
        const char *end = json_string_value(json_object_get(pi, "endCursor"));
        int more = json_is_true(json_object_get(pi, "hasNextPage")) && end && *end &&
                   (!after || strcmp(after, end) != 0);
        char *next = more ? strdup(end) : NULL;
        json_decref(root);
        free(after);
        after = next;
        if (rc != SL_OK || !more) {
            break;
        }
        if (!after) {
            rc = SL_ENOMEM;
            break;
        }
        if (s_stopping(s)) {
            rc = SL_ESTOPPED;
            break;
        }
    }
    free(after);
    return rc;
}

/* ---------------------------------------------------------- set-up */

static int s_setup(s_poll_t *s)
{
    char err[256] = "";
    if (!s->url || !s->api_id || !s->api_token) {
        sl_error(s->name, "url, api_id and api_token are required");
        return SL_EINVAL;
    }
    if (strcmp(s->query, "getIncidents") == 0) {
        s->alerts = 0;
    } else if (strcmp(s->query, "getAlerts") == 0) {
        s->alerts = 1;
    } else {
        sl_error(s->name, "query: expected getIncidents or getAlerts, got '%s'", s->query);
        return SL_EINVAL;
    }
    if (s->interval < 1000000 || s->page_size < 1 || s->page_size > 1000 || s->timeout < 1000 ||
        s->lookback < 0) {
        sl_error(s->name, "interval must be >= 1s, page_size 1..1000, timeout >= 1ms, "
                          "lookback >= 0");
        return SL_EINVAL;
    }
    if (strchr(s->api_id, '\n') || strchr(s->api_token, '\n') || strchr(s->api_id, '\r') ||
        strchr(s->api_token, '\r')) {
        sl_error(s->name, "api_id and api_token must be one line");
        return SL_EINVAL;
    }
    s->map = sl_name_map_new(s->mapping, s->mapping ? strlen(s->mapping) : 0, err, sizeof err);
    if (!s->map) {
        sl_error(s->name, "%s", err);
        return SL_EINVAL;
    }
    sl_mc_api_opts_t ao = {
        .url = s->url,
        .api_id = s->api_id,
        .api_token = s->api_token,
        .timeout_us = s->timeout,
        .log_name = s->name,
        .on_auth = "polling stopped until the topology is reloaded",
        .stopping = s_stopping,
        .stopping_arg = s,
    };
    if (!(s->api = sl_mc_api_new(&ao, err, sizeof err))) {
        sl_error(s->name, "%s", err);
        return SL_EIO;
    }
    if (s->resolve) {
        /*  Its own client: a look-up never waits behind a page. */
        ao.on_auth = "name look-ups stopped until the topology is reloaded (names no rule maps "
                     "are dead-lettered)";
        s->resolver = sl_mc_resolver_from_json(s->resolve, "resolve", &ao, err, sizeof err);
        if (!s->resolver) {
            sl_error(s->name, "%s", err);
            return SL_EINVAL;
        }
        sl_mc_resolver_attach(s->resolver, s->map);
    }
    return SL_OK;
}

static void s_teardown(s_poll_t *s)
{
    sl_name_map_destroy(&s->map);
    sl_mc_resolver_destroy(&s->resolver);
    sl_mc_api_destroy(&s->api);
    sl_buf_free(&s->scratch);
    sl_buf_free(&s->out);
    free(s->state_file);
    s->state_file = NULL;
}

/* ---------------------------------------------------------- the actor */

static int s_emit(void *arg, const sl_event_t *ev, const char *dead_reason)
{
    s_poll_t *s = arg;
    (void)dead_reason;
    return sl_emit(s->a, 0, ev);
}

static int s_init(sl_actor_t *a, void *state)
{
    s_poll_t *s = state;
    s->a = a;
    s->name = sl_actor_name(a);
    s->sink = s_emit;
    s->sink_arg = s;
    if (sl_actor_workers(a) != 1) {
        sl_error(s->name, "montecarlo_poll runs one worker, not %d", sl_actor_workers(a));
        return SL_EINVAL;
    }
    /*  The state file: the `state` option, else next to the store. */
    char path[4096];
    if (s->state) {
        snprintf(path, sizeof path, "%s", s->state);
    } else {
        const char *dir = sl_actor_store_path(a);
        snprintf(path, sizeof path, "%s/%s.montecarlo_poll.json", dir ? dir : "var/sluice",
                 s->name);
        char mk[4096];
        snprintf(mk, sizeof mk, "%s", dir ? dir : "var/sluice");
        for (char *p = mk + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                mkdir(mk, 0755);
                *p = '/';
            }
        }
        mkdir(mk, 0755);
    }
    s->state_file = strdup(path);
    if (!s->state_file) {
        return SL_ENOMEM;
    }
    int rc = s_setup(s);
    if (rc == SL_OK) {
        rc = s_state_load(s);
    }
    if (rc != SL_OK) {
        s_teardown(s);
        return rc;
    }
    /*  A restart resumes where the last poll started; the first start
        goes back `lookback` (0: everything). */
    s->since = s->resume_from >= 0 ? s->resume_from
               : s->watermark >= 0 ? s->watermark
               : s->lookback > 0   ? sl_now_us() - s->lookback
                                   : -1;
    char wm[32] = "none", rf[32] = "none";
    if (s->watermark >= 0) {
        sl_time_format(s->watermark, wm);
    }
    if (s->since >= 0) {
        sl_time_format(s->since, rf);
    }
    sl_info(s->name, "polling %s (%s) every %llds; watermark %s, first poll from %s (state %s)",
            s->url, s->query, (long long)(s->interval / 1000000), wm, rf, s->state_file);
    s->next_due = 0; /* a poll at start */
    sl_actor_set_tick(a, S_TICK_US);
    return SL_OK;
}

static int s_tick(sl_actor_t *a, void *state)
{
    s_poll_t *s = state;
    int64_t now = sl_mono_us();
    char wm[32] = "none";
    if (s->auth_failed || now < s->next_due) {
        return SL_OK;
    }
    s->next_due = now + s->interval;
    int64_t newest = s->watermark;
    int rc = s_poll(s, s->since, now + s->interval, &newest);
    if (rc == SL_ESTOPPED) {
        return SL_OK;
    }
    if (rc != SL_OK) {
        if (s->auth_failed) {
            sl_actor_set_tick(a, -1); /* nothing more until a reload */
        }
        return rc;
    }
    /*  Persisted: where this poll started (a restart resumes there, see
        the top comment) and the newest update seen; in this process the
        next poll starts at the newest update. */
    s->resume_from = s->since;
    s->watermark = newest;
    if (newest >= 0) {
        s->since = newest;
        sl_time_format(newest, wm);
    }
    rc = s_state_save(s);
    sl_info(s->name,
            "poll: %d pages, %lld incidents, %lld events, %lld older skipped, %lld dead "
            "letters; watermark %s",
            s->pages, (long long)s->nodes, (long long)s->events, (long long)s->skipped,
            (long long)s->dead, wm);
    return rc;
}

static void s_exit(sl_actor_t *a, void *state)
{
    (void)a;
    s_teardown(state);
}

/* ----------------------------------------------- `sluice backfill montecarlo` */

/*  Run one poll outside the engine with the options of a montecarlo_poll
    actor (state filled by sl_plan_actor_fill, state_size bytes of the
    kind): every incident updated since `since_us` goes to sink, progress
    after each page. Does not touch the actor's watermark. Returns SL_OK,
    SL_EINVAL (bad options, or 401/403), SL_ETIMEDOUT (retries ran past
    `interval`), SL_EPROTO, SL_ENOMEM, or the sink's error. *nodes and
    *events (may be NULL) get the counts. Declared in
    tools/cli/cmd_backfill.c, its only caller. */
int sl_montecarlo_poll_backfill(void *state, const char *name, int64_t since_us, sl_mc_sink_fn sink,
                                void *sink_arg, sl_mc_progress_fn progress, void *progress_arg,
                                int64_t *nodes, int64_t *events);

int sl_montecarlo_poll_backfill(void *state, const char *name, int64_t since_us, sl_mc_sink_fn sink,
                                void *sink_arg, sl_mc_progress_fn progress, void *progress_arg,
                                int64_t *nodes, int64_t *events)
{
    s_poll_t *s = state;
    s->name = name;
    s->sink = sink;
    s->sink_arg = sink_arg;
    s->progress = progress;
    s->progress_arg = progress_arg;
    s->state_file = NULL; /* the watermark stays the actor's */
    s->watermark = s->resume_from = -1;
    int rc = s_setup(s);
    int64_t newest = -1;
    if (rc == SL_OK) {
        rc = s_poll(s, since_us, sl_mono_us() + s->interval, &newest);
    }
    if (nodes) {
        *nodes = s->nodes;
    }
    if (events) {
        *events = s->events;
    }
    s_teardown(s);
    return rc;
}

/*  At topology load: the `resolve` object (FILE:LINE:COL of a bad key). */
static int s_check_option(const char *option, const char *json, const sl_opt_values_t *opts,
                          char *err, size_t errlen, char *where, size_t wherelen)
{
    (void)opts;
    if (strcmp(option, "resolve") != 0) {
        return 0;
    }
    return sl_mc_resolver_check_json(json, option, 0, err, errlen, where, wherelen);
}

static const sl_opt_t s_options[] = {
    {"url", SL_OPT_STR, NULL, offsetof(s_poll_t, url), SL_OPT_REQUIRED,
     "GraphQL endpoint, e.g. https://api.getmontecarlo.com/graphql"},
    {"api_id", SL_OPT_SECRET, NULL, offsetof(s_poll_t, api_id), SL_OPT_REQUIRED,
     "API key id, sent as x-mcd-id (use ${ENV} or file:)"},
    {"api_token", SL_OPT_SECRET, NULL, offsetof(s_poll_t, api_token), SL_OPT_REQUIRED,
     "API key secret, sent as x-mcd-token (use ${ENV} or file:)"},
    {"query", SL_OPT_STR, "getIncidents", offsetof(s_poll_t, query), 0,
     "getIncidents or getAlerts"},
    {"interval", SL_OPT_DURATION, "5m", offsetof(s_poll_t, interval), 0,
     "time between polls; also bounds the retries of one poll"},
    {"page_size", SL_OPT_INT, "100", offsetof(s_poll_t, page_size), 0,
     "nodes per page (Relay `first`), 1..1000"},
    {"tenant", SL_OPT_STR, NULL, offsetof(s_poll_t, tenant), 0,
     "tenant of the events (none: the event's default)"},
    {"mapping", SL_OPT_JSON, NULL, offsetof(s_poll_t, mapping), 0,
     "name mapping rules, as the webhook adapter's (docs/adapters.md)"},
    {"timeout", SL_OPT_DURATION, "30s", offsetof(s_poll_t, timeout), 0, "timeout of one request"},
    {"state", SL_OPT_STR, NULL, offsetof(s_poll_t, state), 0,
     "watermark file (default: <store path>/<actor>.montecarlo_poll.json)"},
    {"lookback", SL_OPT_DURATION, "168h", offsetof(s_poll_t, lookback), 0,
     "how far back the first poll goes when there is no watermark (0: everything)"},
    {"resolve", SL_OPT_JSON, NULL, offsetof(s_poll_t, resolve), 0,
     "look MCONs up with getTable (unset: never): {lookup: unmapped (only MCONs no rule maps) "
     "| always, ttl: 1h, cache_size: 10000, timeout: 5s (one look-up, retries included)}; "
     "url, api_id and api_token default to this actor's (docs/adapters.md)"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "out", .desc = "incident.upsert events (and dead_letter for unmappable names)"},
    {0},
};

const sl_actor_kind_t sl_actor_montecarlo_poll = {
    .name = "montecarlo_poll",
    .description = "Polls Monte Carlo's GraphQL API (getIncidents or getAlerts) for incidents "
                   "updated since a persisted watermark: incident.upsert, as the webhook adapter.",
    .flags = SL_KIND_SOURCE,
    .state_size = sizeof(s_poll_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .tick = s_tick,
    .exit = s_exit,
    .check_option = s_check_option,
};
