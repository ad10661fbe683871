/*  Following the store's change log by cursor (see sluice/follower.h).

    Pushed change events are only a hint of where the log ends: what is
    handed on is decided by the per-tenant cursor, and anything the push
    lost (a full queue on the durable output, a restart) is read back from
    the log, so the callback sees every seq once per run, in order.
    Cursors are persisted after a read of the log has finished, never from
    inside one: the read holds an LMDB read transaction on this thread. */
#include <stdlib.h>
#include <string.h>

#include "sluice/follower.h"
#include "sluice/mpjson.h"

#define S_PERSIST_EVERY 1000
#define S_PERSIST_US 1000000
#define S_CHUNK 4096 /* changes per log read while catching up */

typedef struct {
    char *tenant;
    uint64_t cursor;    /* last seq handed on */
    uint64_t persisted; /* last seq written to the store */
} s_cur_t;

struct sl_follower {
    sl_store_t *store;
    char *consumer;
    char *tenant; /* NULL = every tenant */
    uint64_t persist_every;
    int64_t persist_us;
    int manual;
    int (*on_gap)(void *arg, const char *tenant, uint64_t after, uint64_t next);
    sl_follower_fn fn;
    void *arg;
    s_cur_t *curs;
    int n_curs;
    int cap_curs;
    uint64_t since_persist;
    int64_t last_persist;
};

/*  One read of the log: hands on what follows the cursor. */
typedef struct {
    sl_follower_t *f;
    s_cur_t *cur;
    int rc;
    int64_t n; /* changes handed on */
} s_read_t;

sl_follower_t *sl_follower_new(sl_store_t *store, const sl_follower_opts_t *opts, sl_follower_fn fn,
                               void *arg)
{
    if (!store || !opts || !opts->consumer || !opts->consumer[0] || !fn) {
        return NULL;
    }
    sl_follower_t *f = calloc(1, sizeof *f);
    if (!f) {
        goto fail;
    }
    f->store = store;
    f->fn = fn;
    f->arg = arg;
    f->persist_every = opts->persist_every ? opts->persist_every : S_PERSIST_EVERY;
    f->persist_us = opts->persist_us > 0 ? opts->persist_us : S_PERSIST_US;
    f->last_persist = sl_mono_us();
    f->manual = opts->manual;
    f->on_gap = opts->on_gap;
    f->consumer = strdup(opts->consumer);
    if (!f->consumer) {
        goto fail;
    }
    if (opts->tenant) {
        f->tenant = strdup(opts->tenant);
        if (!f->tenant) {
            goto fail;
        }
    }
    return f;
fail:
    if (f) {
        free(f->consumer);
        free(f);
    }
    return NULL;
}

void sl_follower_destroy(sl_follower_t **pf)
{
    if (!pf || !*pf) {
        return;
    }
    sl_follower_t *f = *pf;
    if (!f->manual) {
        sl_follower_flush(f);
    }
    for (int i = 0; i < f->n_curs; i++) {
        free(f->curs[i].tenant);
    }
    free(f->curs);
    free(f->tenant);
    free(f->consumer);
    free(f);
    *pf = NULL;
}

/*  The tenant's cursor, loaded from the store the first time. */
static int s_cursor(sl_follower_t *f, const char *tenant, size_t len, s_cur_t **out)
{
    for (int i = 0; i < f->n_curs; i++) {
        if (strlen(f->curs[i].tenant) == len && memcmp(f->curs[i].tenant, tenant, len) == 0) {
            *out = &f->curs[i];
            return SL_OK;
        }
    }
    if (f->n_curs == f->cap_curs) {
        int cap = f->cap_curs ? f->cap_curs * 2 : 4;
        s_cur_t *c = realloc(f->curs, (size_t)cap * sizeof *c);
        if (!c) {
            return SL_ENOMEM;
        }
        f->curs = c;
        f->cap_curs = cap;
    }
    char *name = strndup(tenant, len);
    if (!name) {
        return SL_ENOMEM;
    }
    uint64_t seq = 0;
    int rc = sl_store_cursor_get(f->store, name, f->consumer, &seq);
    if (rc == SL_ENOTFOUND) {
        seq = 0;
    } else if (rc) {
        free(name);
        return rc;
    }
    s_cur_t *c = &f->curs[f->n_curs++];
    c->tenant = name;
    c->cursor = seq;
    c->persisted = seq;
    *out = c;
    return SL_OK;
}

int sl_follower_flush(sl_follower_t *f)
{
    int first = SL_OK;
    for (int i = 0; i < f->n_curs; i++) {
        s_cur_t *c = &f->curs[i];
        if (c->cursor == c->persisted) {
            continue;
        }
        int rc = sl_store_cursor_set(f->store, c->tenant, f->consumer, c->cursor);
        if (rc == SL_OK) {
            c->persisted = c->cursor;
        } else if (first == SL_OK) {
            first = rc;
        }
    }
    f->since_persist = 0;
    f->last_persist = sl_mono_us();
    return first;
}

int sl_follower_tick(sl_follower_t *f)
{
    if (f->manual || sl_mono_us() - f->last_persist < f->persist_us) {
        return SL_OK;
    }
    return sl_follower_flush(f);
}

static int s_maybe_persist(sl_follower_t *f)
{
    if (!f->manual && f->since_persist >= f->persist_every) {
        return sl_follower_flush(f);
    }
    return sl_follower_tick(f);
}

/*  Hand one change on, advancing the cursor if the callback took it. */
static int s_deliver(sl_follower_t *f, s_cur_t *c, uint64_t seq, const sl_event_t *change)
{
    int rc = f->fn(f->arg, c->tenant, seq, change);
    if (rc < 0) {
        return rc;
    }
    c->cursor = seq;
    f->since_persist++;
    return SL_OK;
}

static int s_on_log(void *arg, uint64_t seq, const sl_event_t *change)
{
    s_read_t *r = arg;
    if (seq <= r->cur->cursor) {
        return 0;
    }
    if (seq != r->cur->cursor + 1) {
        /*  The log has no gaps, but retention trims its head: a jump is
            that (the consumer is told) or a store not as we think. */
        if (!r->f->on_gap || r->f->on_gap(r->f->arg, r->cur->tenant, r->cur->cursor, seq) < 0) {
            r->rc = SL_ESTATE;
            return 1;
        }
    }
    r->rc = s_deliver(r->f, r->cur, seq, change);
    r->n += r->rc == SL_OK;
    return r->rc < 0 ? 1 : 0;
}

/*  Hand on the log's changes after the cursor, up to `upto` (0 = to the
    end). Returns the number handed on or a negative code. */
static int64_t s_read_log(sl_follower_t *f, s_cur_t *c, uint64_t upto)
{
    int64_t total = 0;
    for (;;) {
        uint64_t limit = S_CHUNK;
        if (upto) {
            if (c->cursor >= upto) {
                break;
            }
            if (upto - c->cursor < limit) {
                limit = upto - c->cursor;
            }
        }
        s_read_t r = {f, c, SL_OK, 0};
        int n = sl_store_changes(f->store, c->tenant, c->cursor, limit, s_on_log, &r);
        total += r.n;
        if (n < 0) {
            return n;
        }
        if (r.rc < 0) {
            return r.rc;
        }
        int rc = s_maybe_persist(f);
        if (rc) {
            return rc;
        }
        if ((uint64_t)n < limit) {
            break; /* the end of the log */
        }
    }
    return total;
}

int64_t sl_follower_catch_up(sl_follower_t *f)
{
    int64_t total = 0;
    char **tenants = NULL;
    if (!f->tenant) {
        tenants = sl_store_tenants(f->store);
        if (!tenants) {
            return SL_ENOMEM;
        }
    }
    int64_t rc = SL_OK;
    for (int i = 0; f->tenant ? i < 1 : tenants[i] != NULL; i++) {
        const char *t = f->tenant ? f->tenant : tenants[i];
        s_cur_t *c = NULL;
        rc = s_cursor(f, t, strlen(t), &c);
        if (rc) {
            goto done;
        }
        rc = s_read_log(f, c, 0);
        if (rc < 0) {
            goto done;
        }
        total += rc;
        rc = SL_OK;
    }
done:
    for (int i = 0; tenants && tenants[i]; i++) {
        free(tenants[i]);
    }
    free(tenants);
    return rc < 0 ? rc : total;
}

int sl_follower_feed(sl_follower_t *f, const sl_event_t *change)
{
    if (!sl_slice_eq(change->kind, "change")) {
        return SL_OK;
    }
    if (f->tenant && !sl_slice_eq(change->tenant, f->tenant)) {
        return SL_OK;
    }
    uint64_t seq;
    int rc = sl_change_seq(change, &seq);
    if (rc) {
        return rc;
    }
    s_cur_t *c = NULL;
    rc = s_cursor(f, change->tenant.ptr ? change->tenant.ptr : "", change->tenant.len, &c);
    if (rc) {
        return rc;
    }
    if (seq <= c->cursor) {
        return SL_OK; /* a duplicate, or already read from the log */
    }
    if (seq > c->cursor + 1) {
        int64_t n = s_read_log(f, c, seq - 1);
        if (n < 0) {
            return (int)n;
        }
        if (c->cursor != seq - 1) {
            return SL_ESTATE; /* the log ends before this change */
        }
    }
    rc = s_deliver(f, c, seq, change);
    if (rc) {
        return rc;
    }
    return s_maybe_persist(f);
}

uint64_t sl_follower_cursor(const sl_follower_t *f, const char *tenant)
{
    for (int i = 0; i < f->n_curs; i++) {
        if (strcmp(f->curs[i].tenant, tenant) == 0) {
            return f->curs[i].cursor;
        }
    }
    return 0;
}

/* ------------------------------------------------ reading the body */

static int s_uint(const uint8_t *p, size_t len, uint64_t *v)
{
    if (len < 1) {
        return SL_EPROTO;
    }
    uint8_t t = p[0];
    if (t <= 0x7f) {
        *v = t;
        return SL_OK;
    }
    size_t n = 0;
    if (t >= 0xcc && t <= 0xcf) {
        n = (size_t)1 << (t - 0xcc);
    } else if (t >= 0xd0 && t <= 0xd3) {
        n = (size_t)1 << (t - 0xd0);
    }
    if (n == 0 || len < 1 + n || (t >= 0xd0 && (p[1] & 0x80))) {
        return SL_EPROTO; /* not an integer, truncated, or negative */
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = x << 8 | p[1 + i];
    }
    *v = x;
    return SL_OK;
}

int sl_change_seq(const sl_event_t *change, uint64_t *seq)
{
    const uint8_t *v;
    size_t vlen;
    if (!change->body.ptr || sl_msgpack_map_get((const uint8_t *)change->body.ptr, change->body.len,
                                                "seq", &v, &vlen) != SL_OK) {
        return SL_EPROTO;
    }
    return s_uint(v, vlen, seq);
}

int sl_change_str(const sl_event_t *change, const char *field, sl_slice_t *out)
{
    if (!change->body.ptr) {
        return SL_EPROTO;
    }
    return sl_msgpack_map_str((const uint8_t *)change->body.ptr, change->body.len, field, out);
}
