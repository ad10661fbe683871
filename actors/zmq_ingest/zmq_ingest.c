/*  zmq_ingest: events in over CurveZMQ, durable before acknowledged
    (docs/zmq_ingest.md is the reference).

    One ROUTER socket binds one endpoint per tenant with keys: tenant i (in
    the file's order) on `listen`'s port + i, with the tenant's key as
    server key and its name as ZAP domain, so only a producer holding that
    tenant's key pair gets through (core/zap.c), and libzmq marks each of
    its messages with User-Id = the tenant.

    A request is [request id, body] from a DEALER (a REQ socket's empty
    delimiter counts as an empty request id); the body is
    msgpack (one envelope map or an array of them) or JSON (one event
    object, or several one per line). A receiver thread takes every
    request waiting, parses and checks them, appends all their events to
    the journal in one call (one fsync), and only then answers each:
    [request id, {"accepted":N,"ids":[...]}] or [request id,
    {"error":{"code","message","index"}}]. One bad event refuses its whole
    request. The actor thread hands journaled events on (core/ingest.c).

    One instance per journal, so workers > 1 is refused. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sluice/actor.h"
#include "sluice/ingest.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/schema.h"
#include "sluice/zap.h"

#define S_REQUESTS_MAX 256 /* requests taken per journal commit */
#define S_REQID_MAX 255    /* bytes of a request id */
#define S_WAIT_US 2000     /* a tick waits this long for new entries */
#define S_POLL_MS 100      /* the receiver looks at the stop flag this often */
#define S_REASON 512

/*  A request on its way: where its events are in the shared buffer, its
    reply (an error, or the ids once durable). */
typedef struct {
    zmq_msg_t route;
    zmq_msg_t reqid;
    int has_reqid;
    size_t first, n; /* its events: ends[first .. first + n) */
    sl_buf_t reply;  /* error JSON, or the ids list until the commit */
    int failed;
} s_req_t;

typedef struct {
    char *listen;
    char *journal;
    int64_t max_message;
    int64_t max_lag;
    int64_t replay_window_us;
    int64_t redeliver_us;
    int64_t retention_us;
    int64_t map_size;
    int fsync;
    char *schemas;
    char *schema_map;
    /* run state */
    char name[64];
    sl_actor_t *a;
    sl_ingest_t *in;
    sl_schema_gate_t *gate;
    void *router;
    int n_tenants;
    pthread_t thread;
    int thread_on;
    _Atomic int stop;
    _Atomic int full;
    /* receiver thread only */
    s_req_t reqs[S_REQUESTS_MAX];
    sl_buf_t enc; /* envelopes of the current group, back to back */
    size_t *ends; /* end offset of each */
    size_t n_ends, cap_ends;
    sl_slice_t *slices;
    size_t cap_slices;
    sl_buf_t scratch;
} s_zin_t;

/* ------------------------------------------------------------ requests */

static int s_fail(s_req_t *r, const char *code, long index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int s_fail(s_req_t *r, const char *code, long index, const char *fmt, ...)
{
    char msg[S_REASON];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_buf_reset(&r->reply);
    r->failed = 1;
    char tail[48] = "}}";
    if (index >= 0) {
        snprintf(tail, sizeof tail, ",\"index\":%ld}}", index);
    }
    if (sl_buf_append(&r->reply, "{\"error\":{\"code\":\"", 18) ||
        sl_buf_append(&r->reply, code, strlen(code)) ||
        sl_buf_append(&r->reply, "\",\"message\":\"", 13) ||
        sl_json_escape(&r->reply, msg, strlen(msg)) || sl_buf_append(&r->reply, "\"", 1) ||
        sl_buf_append(&r->reply, tail, strlen(tail))) {
        return SL_ENOMEM;
    }
    return SL_EPROTO;
}

/*  Stamp, check and encode one event of request r (its index-th). The
    tenant is the one whose key the producer holds: an event may leave it
    out, but not name another. */
static int s_event(s_zin_t *s, s_req_t *r, long index, sl_event_t *ev, const char *tenant,
                   int64_t now)
{
    if (sl_event_kind_internal(ev->kind)) {
        return s_fail(r, "internal_kind", index,
                      "field 'kind': '%.*s' is emitted by the lineage walker only",
                      (int)(ev->kind.len > 64 ? 64 : ev->kind.len), ev->kind.ptr);
    }
    if (ev->tenant.len == 0) {
        ev->tenant = (sl_slice_t){tenant, (uint32_t)strlen(tenant)};
    } else if (!sl_slice_eq(ev->tenant, tenant)) {
        sl_actor_count_tenant_mismatch(s->a, 1);
        return s_fail(r, "tenant_mismatch", index,
                      "field 'tenant': '%.*s' is not '%s', whose key this producer holds",
                      (int)(ev->tenant.len > 64 ? 64 : ev->tenant.len), ev->tenant.ptr, tenant);
    }
    ev->ingest_us = now;
    ev->hops = 0;
    if (ev->source.len == 0) {
        ev->source = (sl_slice_t){s->name, (uint32_t)strlen(s->name)};
    }
    char why[S_REASON] = "";
    if (s->gate && sl_schema_gate_check(s->gate, ev, why, sizeof why) != SL_OK) {
        return s_fail(r, "schema", index, "events[%ld]: %s", index, why);
    }
    int rc = sl_event_encode(ev, &s->enc);
    if (rc == SL_ENOMEM) {
        return rc;
    }
    if (rc) {
        return s_fail(r, "bad_event", index, "cannot encode the event: %s", sl_strerror(rc));
    }
    if (s->n_ends == s->cap_ends) {
        size_t cap = s->cap_ends ? s->cap_ends * 2 : 1024;
        size_t *e = realloc(s->ends, cap * sizeof *e);
        if (!e) {
            return SL_ENOMEM;
        }
        s->ends = e;
        s->cap_ends = cap;
    }
    s->ends[s->n_ends++] = s->enc.len;
    r->n++;
    char id[37];
    sl_uuid_format(ev->id, id);
    if ((r->reply.len && sl_buf_append(&r->reply, ",", 1)) || sl_buf_append(&r->reply, "\"", 1) ||
        sl_buf_append(&r->reply, id, 36) || sl_buf_append(&r->reply, "\"", 1)) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

static int s_msgpack(s_zin_t *s, s_req_t *r, const uint8_t *p, size_t len, const char *tenant,
                     int64_t now)
{
    sl_batch_reader_t br;
    if (len > UINT32_MAX || sl_batch_reader_init(&br, p, len) != SL_OK) {
        return s_fail(r, "malformed", -1, "not a msgpack envelope or array of envelopes");
    }
    sl_event_t ev;
    long index = 0;
    int rc;
    while ((rc = sl_batch_reader_next(&br, &ev)) == 1) {
        rc = s_event(s, r, index++, &ev, tenant, now);
        if (rc) {
            return rc;
        }
    }
    if (rc < 0) {
        return s_fail(r, "malformed", index, "malformed msgpack envelope: %s", sl_strerror(rc));
    }
    return SL_OK;
}

/*  One JSON object, or several one per line. */
static int s_json(s_zin_t *s, s_req_t *r, const char *p, size_t len, const char *tenant,
                  int64_t now)
{
    const char *end = p + len;
    long index = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *a = p, *b = nl ? nl : end;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) {
            a++;
        }
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) {
            b--;
        }
        p = nl ? nl + 1 : end;
        if (a == b) {
            continue;
        }
        char err[S_REASON] = "";
        sl_event_t ev;
        int rc = sl_event_from_json(a, (size_t)(b - a), &ev, &s->scratch, err, sizeof err);
        if (rc == SL_ENOMEM) {
            return rc;
        }
        if (rc) {
            return s_fail(r, "bad_event", index, "%s", err[0] ? err : "malformed event");
        }
        rc = s_event(s, r, index++, &ev, tenant, now);
        if (rc) {
            return rc;
        }
    }
    return SL_OK;
}

/*  Parse request r's body: on failure its events are taken back out of
    the group and r holds the error reply. */
static void s_parse(s_zin_t *s, s_req_t *r, zmq_msg_t *body)
{
    const uint8_t *p = zmq_msg_data(body);
    size_t len = zmq_msg_size(body);
    size_t enc_len = s->enc.len, ends = s->n_ends;
    r->first = s->n_ends;
    const char *tenant = zmq_msg_gets(body, "User-Id");
    int rc;
    if (!tenant || !*tenant) {
        rc = s_fail(r, "unauthenticated", -1, "the connection is not authenticated by CURVE");
    } else if (sl_ingest_lag(s->in) >= (uint64_t)s->max_lag) {
        rc = s_fail(r, "saturated", -1, "%llu events are waiting to be handed on: retry later",
                    (unsigned long long)sl_ingest_lag(s->in));
    } else if (atomic_load(&s->full)) {
        rc = s_fail(r, "journal_full", -1, "the journal is full: retry later");
    } else if (len == 0) {
        rc = s_fail(r, "empty", -1, "the request has no events");
    } else if ((p[0] >= 0x80 && p[0] <= 0x9f) || p[0] == 0xdc || p[0] == 0xdd || p[0] == 0xde ||
               p[0] == 0xdf) {
        rc = s_msgpack(s, r, p, len, tenant, sl_now_us());
    } else {
        size_t i = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) {
            i++;
        }
        rc = i < len && p[i] == '{'
                 ? s_json(s, r, (const char *)p, len, tenant, sl_now_us())
                 : s_fail(r, "malformed", -1, "the body is neither msgpack nor a JSON object");
    }
    if (rc == SL_OK && r->n == 0) {
        rc = s_fail(r, "empty", -1, "the request has no events");
    }
    if (rc == SL_ENOMEM) {
        s_fail(r, "out_of_memory", -1, "out of memory");
    }
    if (rc) {
        s->enc.len = enc_len;
        s->n_ends = ends;
        r->n = 0;
    }
}

static void s_reply(s_zin_t *s, s_req_t *r)
{
    /*  The ack: routing id, the request id if it sent one, the JSON. A
        producer gone meanwhile gets nothing (ROUTER drops it) and retries
        elsewhen: the event ids make that idempotent. */
    zmq_msg_send(&r->route, s->router, ZMQ_SNDMORE);
    if (r->has_reqid) {
        zmq_msg_send(&r->reqid, s->router, ZMQ_SNDMORE);
    }
    zmq_send(s->router, r->reply.data ? (const char *)r->reply.data : "", r->reply.len, 0);
}

/*  Receive one request (every frame); 0 if there was none waiting. A
    request is [route, body] or [route, request id, body] (a REQ socket's
    empty delimiter is an empty request id); more frames are refused. */
static int s_receive(s_zin_t *s, s_req_t *r)
{
    zmq_msg_t parts[2];
    int n = 0;
    zmq_msg_init(&r->route);
    zmq_msg_init(&r->reqid);
    zmq_msg_init(&parts[0]);
    zmq_msg_init(&parts[1]);
    sl_buf_reset(&r->reply);
    r->has_reqid = 0;
    r->failed = 0;
    r->n = 0;
    if (zmq_msg_recv(&r->route, s->router, ZMQ_DONTWAIT) < 0) {
        return 0;
    }
    int more = zmq_msg_more(&r->route);
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s->router, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (n < 2) {
            zmq_msg_move(&parts[n], &part);
        }
        n++;
        zmq_msg_close(&part);
    }
    zmq_msg_t *body = &parts[n == 2 ? 1 : 0];
    if (n == 2) {
        zmq_msg_move(&r->reqid, &parts[0]);
        r->has_reqid = 1;
    }
    if (n < 1 || n > 2) {
        s_fail(r, "malformed", -1, "a request is [request id,] body, not %d frames", n);
    } else if (zmq_msg_size(&r->reqid) > S_REQID_MAX) {
        s_fail(r, "malformed", -1, "the request id is longer than %d bytes", S_REQID_MAX);
        zmq_msg_close(&r->reqid);
        zmq_msg_init(&r->reqid);
        r->has_reqid = 0;
    } else {
        s_parse(s, r, body);
    }
    zmq_msg_close(&parts[0]);
    zmq_msg_close(&parts[1]);
    return 1;
}

static void s_answer_group(s_zin_t *s, int n, int rc)
{
    if (rc == SL_EFULL && !atomic_exchange(&s->full, 1)) {
        sl_error(s->name,
                 "journal %s is full: requests refused until entries are trimmed (raise "
                 "map_size or lower retention)",
                 sl_ingest_path(s->in));
        sl_health_set(s->name, "the ingest journal is full");
    }
    for (int i = 0; i < n; i++) {
        s_req_t *r = &s->reqs[i];
        if (!r->failed && rc) {
            s_fail(r, rc == SL_EFULL ? "journal_full" : "journal_error", -1,
                   "the journal refused the events: %s", sl_strerror(rc));
        } else if (!r->failed) {
            sl_buf_t ids = r->reply;
            char head[64];
            int hl = snprintf(head, sizeof head, "{\"accepted\":%zu,\"ids\":[", r->n);
            r->reply = (sl_buf_t){0};
            if (sl_buf_append(&r->reply, head, (size_t)hl) ||
                sl_buf_append(&r->reply, ids.data, ids.len) || sl_buf_append(&r->reply, "]}", 2)) {
                s_fail(r, "out_of_memory", -1, "out of memory");
            }
            sl_buf_free(&ids);
        }
        s_reply(s, r);
        zmq_msg_close(&r->route);
        zmq_msg_close(&r->reqid);
    }
}

/*  The receiver: every waiting request, one journal append, the acks. */
static void *s_receiver(void *arg)
{
    s_zin_t *s = arg;
    while (!atomic_load(&s->stop)) {
        zmq_pollitem_t item = {s->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, S_POLL_MS) <= 0) {
            continue;
        }
        sl_buf_reset(&s->enc);
        s->n_ends = 0;
        int n = 0;
        while (n < S_REQUESTS_MAX && s_receive(s, &s->reqs[n])) {
            n++;
        }
        if (s->n_ends > s->cap_slices) {
            sl_slice_t *e = realloc(s->slices, s->n_ends * sizeof *e);
            if (e) {
                s->slices = e;
                s->cap_slices = s->n_ends;
            }
        }
        int rc = SL_OK;
        if (s->n_ends > 0) {
            if (s->n_ends > s->cap_slices) {
                rc = SL_ENOMEM;
            } else {
                size_t off = 0;
                for (size_t i = 0; i < s->n_ends; i++) {
                    s->slices[i] =
                        (sl_slice_t){(const char *)s->enc.data + off, (uint32_t)(s->ends[i] - off)};
                    off = s->ends[i];
                }
                rc = s->n_ends > INT32_MAX ? SL_ERANGE
                                           : sl_journal_append(sl_ingest_journal(s->in), s->slices,
                                                               (int)s->n_ends, NULL);
            }
            if (rc == SL_OK && atomic_load(&s->full) && atomic_exchange(&s->full, 0)) {
                sl_info(s->name, "journal %s accepts events again", sl_ingest_path(s->in));
                sl_health_clear(s->name);
            }
        }
        s_answer_group(s, n, rc);
    }
    return NULL;
}

/* ------------------------------------------------------------ actor */

static int s_tick(sl_actor_t *a, void *state)
{
    s_zin_t *s = state;
    return sl_ingest_tick(s->in, a, S_WAIT_US);
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_zin_t *s = state;
    (void)a;
    if (s->thread_on) {
        atomic_store(&s->stop, 1);
        pthread_join(s->thread, NULL);
        s->thread_on = 0;
    }
    if (s->router) {
        zmq_close(s->router);
        s->router = NULL;
    }
    sl_ingest_close(&s->in);
    sl_schema_gate_destroy(&s->gate);
    if (atomic_load(&s->full)) {
        sl_health_clear(s->name);
    }
    for (int i = 0; i < S_REQUESTS_MAX; i++) {
        sl_buf_free(&s->reqs[i].reply);
    }
    sl_buf_free(&s->enc);
    sl_buf_free(&s->scratch);
    free(s->ends);
    free(s->slices);
    s->ends = NULL;
    s->slices = NULL;
}

/*  Bind one endpoint per tenant with keys: port + i for the i-th. */
static int s_bind(s_zin_t *s, const sl_curve_key_t *keys, int n)
{
    const char *colon = strrchr(s->listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == s->listen || !end || *end || port < 1 || port + n - 1 > 65535) {
        sl_error(s->name,
                 "listen: expected host:port with room for %d ports (one per tenant), got "
                 "'%s'",
                 n, s->listen);
        return SL_EINVAL;
    }
    int ipv6 = s->listen[0] == '[', linger = 0;
    int64_t maxsize = s->max_message;
    zmq_setsockopt(s->router, ZMQ_IPV6, &ipv6, sizeof ipv6);
    zmq_setsockopt(s->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    sl_buf_t where = {0};
    int rc = SL_OK;
    for (int i = 0; i < n && rc == SL_OK; i++) {
        char ep[320];
        snprintf(ep, sizeof ep, "tcp://%.*s:%ld", (int)(colon - s->listen), s->listen, port + i);
        if (sl_curve_server(s->router, &keys[i]) != SL_OK || zmq_bind(s->router, ep) != 0) {
            sl_error(s->name, "bind %s (tenant %s): %s", ep, keys[i].tenant,
                     zmq_strerror(zmq_errno()));
            rc = SL_EIO;
            break;
        }
        char part[400];
        int pl = snprintf(part, sizeof part, "%s%s (%s)", i ? ", " : "", ep, keys[i].tenant);
        sl_buf_append(&where, part, (size_t)pl);
    }
    if (rc == SL_OK && sl_buf_append(&where, "", 1) == SL_OK) {
        sl_info(s->name, "zmq_ingest on %s, journal %s (fsync %s)", (char *)where.data,
                sl_ingest_path(s->in), s->fsync ? "on" : "off");
    }
    sl_buf_free(&where);
    return rc;
}

static int s_init(sl_actor_t *a, void *state)
{
    s_zin_t *s = state;
    char err[1024] = "";
    int rc = SL_EINVAL;
    snprintf(s->name, sizeof s->name, "%s", sl_actor_name(a));
    s->a = a;
    if (sl_actor_workers(a) != 1) {
        sl_error(s->name, "zmq_ingest runs one worker (one journal, one cursor), not %d",
                 sl_actor_workers(a));
        goto fail;
    }
    if (s->max_lag < 1 || s->replay_window_us < 0 || s->retention_us < 0 || s->map_size < 1 ||
        s->redeliver_us < 0 || s->max_message < 1024) {
        sl_error(s->name, "max_lag and map_size must be >= 1, max_message >= 1KiB, "
                          "replay_window, redeliver and retention >= 0");
        goto fail;
    }
    const sl_curve_key_t *keys = NULL;
    int n = sl_actor_keys(a, &keys);
    if (n < 1) {
        sl_error(s->name, "no tenant has keys: producers authenticate by their tenant's key");
        goto fail;
    }
    if (s->schema_map && !s->schemas) {
        sl_error(s->name, "schema_map needs schemas (the directory of schema files)");
        goto fail;
    }
    if (s->schemas) {
        s->gate = sl_schema_gate_new(s->schemas, s->schema_map, NULL, err, sizeof err);
        if (!s->gate) {
            sl_error(s->name, "%s", err);
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
    /*  CZMQ's context, where the ZAP handler runs (started by the engine
        before any actor, since the plan uses keys). */
    s->router = zmq_socket(sl_zap_context(), ZMQ_ROUTER);
    if (!s->router) {
        rc = SL_EIO;
        goto fail;
    }
    rc = s_bind(s, keys, n);
    if (rc) {
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, s_receiver, s) != 0) {
        sl_error(s->name, "cannot start the receiver thread");
        rc = SL_ENOMEM;
        goto fail;
    }
    s->thread_on = 1;
    sl_actor_set_tick(a, 0); /* each tick waits up to S_WAIT_US on the journal */
    return SL_OK;
fail:
    s_exit(a, s);
    return rc ? rc : SL_EINVAL;
}

static const sl_opt_t s_options[] = {
    {"listen", SL_OPT_STR, NULL, offsetof(s_zin_t, listen), SL_OPT_REQUIRED,
     "host:port of the first tenant with keys; the i-th (in the file's order) listens on port + "
     "i, with its own key"},
    {"max_message", SL_OPT_SIZE, "10MiB", offsetof(s_zin_t, max_message), 0,
     "largest request; a producer that sends a larger one is disconnected"},
    SL_INGEST_OPTIONS(s_zin_t),
    {"schemas", SL_OPT_STR, NULL, offsetof(s_zin_t, schemas), 0,
     "directory of schema files: when set, every event is validated before it is journaled, "
     "and one invalid event refuses its whole request (docs/schemas.md)"},
    {"schema_map", SL_OPT_JSON, NULL, offsetof(s_zin_t, schema_map), 0,
     "with schemas: event kind -> \"name@version\"; default: each built-in kind -> <kind>@1"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "events", .desc = "accepted events, in journal order"},
    {0},
};

const sl_actor_kind_t sl_actor_zmq_ingest = {
    .name = "zmq_ingest",
    .description = "Accepts events from producers over CurveZMQ (DEALER to ROUTER; msgpack "
                   "envelopes or JSON), each producer authenticated by its tenant's key pair; "
                   "journals them durably (group commit) before the ack, and hands them on in "
                   "order. See docs/zmq_ingest.md.",
    .flags = SL_KIND_SOURCE | SL_KIND_KEYS | SL_KIND_MARKS,
    .state_size = sizeof(s_zin_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .tick = s_tick,
    .exit = s_exit,
    .check_option = sl_schema_check_option,
};
