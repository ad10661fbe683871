/*  The metadata store on LMDB: environments, batches, applying events, the
    change log, cursors and dead letters. Reads are in store_read.c; the
    storage layout is documented in docs/store.md.

    Values are msgpack maps; an event is applied by reading the stored
    value into a jansson tree, merging the body in, diffing field by field
    (the diff is the change record) and writing the tree back. The trees
    keep the code plain; the cost per event is a few microseconds against
    a commit that costs milliseconds with fsync (docs/store.md). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/store_codec.h"
#include "core/store_internal.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/mpjson.h"

#define S_DEFAULT_MAP ((int64_t)1 << 30)
#define S_DEFAULT_RETENTION ((int64_t)7 * 24 * 3600 * 1000000)
/*  Compaction of applied ids runs at most this often, and deletes at most
    this many ids per pass, so it never makes one batch slow. */
#define S_COMPACT_EVERY_US ((int64_t)5 * 1000000)
#define S_COMPACT_MAX 10000
/*  The change log's trim: every 100 ms at most, 20 000 records a pass
    (200 000 a second when behind; a pass deletes from the tree's left
    edge, a few ms). */
#define S_TRIM_EVERY_US ((int64_t)100000)
#define S_TRIM_MAX 20000

static const char *const s_db_names[S_DB_COUNT] = {
    "assets",
    "lineage_down",
    "lineage_up",
    "incidents",
    "incidents_by_asset",
    "changes",
    "cursors",
    "applied",
    "dead",
    "tenants",
    "propagated",
    "propagated_by_pair",
    "tokens",
    "blocks",
    "names",
    "meta",
};

static pthread_mutex_t s_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_store_t *s_registry;

/* ------------------------------------------------------------ helpers */

int sl_store__mdb_rc(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return SL_OK;
    case MDB_NOTFOUND:
        return SL_ENOTFOUND;
    case MDB_MAP_FULL:
        return SL_EFULL;
    case ENOMEM:
        return SL_ENOMEM;
    default:
        return SL_EIO;
    }
}

void sl_store__be64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

uint64_t sl_store__rd64(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

int sl_store__key(sl_buf_t *k, const char *tenant, int nparts, ...)
{
    va_list ap;
    int rc;
    sl_buf_reset(k);
    rc = sl_buf_append(k, tenant, strlen(tenant) + 1);
    va_start(ap, nparts);
    for (int i = 0; rc == SL_OK && i < nparts; i++) {
        const char *p = va_arg(ap, const char *);
        rc = sl_buf_append(k, p, strlen(p) + (i + 1 < nparts ? 1 : 0));
    }
    va_end(ap);
    return rc;
}

json_t *sl_store__tree(const MDB_val *v)
{
    return sl_msgpack_to_jansson(v->mv_data, v->mv_size);
}

json_t *sl_store__asset_tree(const MDB_val *v)
{
    return sl_asset_unpack(v->mv_data, v->mv_size);
}

int sl_store__dump(json_t *v, sl_buf_t *out)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        return SL_ENOMEM;
    }
    int rc = sl_buf_append(out, text, strlen(text));
    free(text);
    return rc;
}

json_t *sl_store__time(json_t *us)
{
    char tm[32];
    if (!json_is_integer(us) || json_integer_value(us) == 0) {
        return json_null();
    }
    sl_time_format(json_integer_value(us), tm);
    return json_string(tm);
}

/*  A tenant name is a key prefix, isolated a directory name, and a JSON
    key of stats: printable ASCII without '/', not starting with '.'. */
static int s_tenant_ok(const char *t, size_t n)
{
    if (n == 0 || n > S_MAX_TENANT || t[0] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] < 0x21 || t[i] > 0x7e || t[i] == '/') {
            return 0;
        }
    }
    return 1;
}

static int s_allowed(const sl_store_t *s, const char *tenant)
{
    if (!s->allowed) {
        return 1;
    }
    for (char **a = s->allowed; *a; a++) {
        if (strcmp(*a, tenant) == 0) {
            return 1;
        }
    }
    return 0;
}

int sl_store__env(sl_store_t *s, const char *tenant, s_env_t **e)
{
    if (!s || !tenant || !s_tenant_ok(tenant, strlen(tenant)) || !s_allowed(s, tenant)) {
        return SL_EINVAL;
    }
    if (!s->isolated) {
        *e = &s->envs[0];
        return SL_OK;
    }
    for (size_t i = 0; i < s->nenvs; i++) {
        if (strcmp(s->envs[i].tenant, tenant) == 0) {
            *e = &s->envs[i];
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

static void s_set_full(sl_store_t *s, const char *what)
{
    int log = 0;
    pthread_mutex_lock(&s->mu);
    if (s->writable) {
        s->writable = 0;
        snprintf(s->reason, sizeof s->reason,
                 "LMDB map full at %s (map_size %lld bytes): writes refused until reopened "
                 "with a larger map_size",
                 what, (long long)s->map_size);
    }
    if (!s->full_logged) {
        s->full_logged = 1;
        log = 1;
    }
    pthread_mutex_unlock(&s->mu);
    if (log) {
        sl_error("store", "%s: %s", s->path, s->reason);
    }
}

int sl_store_health(sl_store_t *s, char *reason, size_t reasonlen)
{
    int rc;
    if (!s) {
        return SL_EINVAL;
    }
    pthread_mutex_lock(&s->mu);
    rc = s->writable ? SL_OK : SL_EFULL;
    if (reason && reasonlen) {
        snprintf(reason, reasonlen, "%s", s->writable ? "" : s->reason);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------- open / close */

static int s_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) {
        return SL_EINVAL;
    }
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return SL_EIO;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return SL_EIO;
    }
    return SL_OK;
}

int sl_store__dbs_open(MDB_txn *txn, s_env_t *e)
{
    for (int i = 0; i < S_DB_COUNT; i++) {
        unsigned f = MDB_CREATE;
        if (i == S_DB_DOWN || i == S_DB_UP || i == S_DB_INC_IDX) {
            f |= MDB_DUPSORT;
        }
        if (i == S_DB_DOWN) {
            f |= MDB_DUPFIXED;
        }
        int rc = mdb_dbi_open(txn, s_db_names[i], f, &e->dbi[i]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/*  The layout of an existing environment must be this build's: format 1
    (names in the lineage tables, msgpack maps of named fields as assets:
    a `down` database and no `meta`) is refused with the way forward;
    a newer format is refused. */
static int s_format_check(MDB_txn *txn, const char *dir, char *err, size_t errlen)
{
    MDB_dbi dbi;
    MDB_val k = {6, "format"}, v;
    /*  `down` first: a migration that stopped half-way has made `meta`
        already, and sets its format only as it drops `down`. */
    if (mdb_dbi_open(txn, "down", 0, &dbi) == 0) {
        snprintf(err, errlen,
                 "%s: store format 1 (written before 2026-11-26): run `sluice store migrate "
                 "FILE` once to rewrite it in format %s",
                 dir, S_FORMAT);
        return SL_ESTATE;
    }
    if (mdb_dbi_open(txn, "meta", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 &&
        (v.mv_size != strlen(S_FORMAT) || memcmp(v.mv_data, S_FORMAT, v.mv_size) != 0)) {
        snprintf(err, errlen,
                 "%s: store format %.*s is not this build's (%s): use the sluice that wrote it",
                 dir, (int)(v.mv_size < 16 ? v.mv_size : 16), (const char *)v.mv_data, S_FORMAT);
        return SL_ESTATE;
    }
    return SL_OK;
}

static int s_env_open(s_env_t *e, const char *dir, const sl_store_t *s, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc;
    if (s_mkdirs(dir) != SL_OK) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
        return SL_EIO;
    }
    if ((rc = mdb_env_create(&e->env)) != 0) {
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(e->env, S_DB_COUNT + 2)) != 0 ||
        (rc = mdb_env_set_mapsize(e->env, (size_t)s->map_size)) != 0) {
        goto fail;
    }
    /*  NOTLS: read transactions are not tied to threads, so actors on
        engine threads and the HTTP server's threads can all read. */
    unsigned flags = MDB_NOTLS | (s->nosync ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_open(e->env, dir, flags, 0644)) != 0) {
        goto fail;
    }
    if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn)) != 0) {
        goto fail;
    }
    if ((rc = s_format_check(txn, dir, err, errlen)) != SL_OK) {
        mdb_txn_abort(txn);
        mdb_env_close(e->env);
        e->env = NULL;
        return rc;
    }
    if ((rc = sl_store__dbs_open(txn, e)) != 0) {
        goto fail;
    }
    MDB_val fk = {6, "format"}, fv = {strlen(S_FORMAT), S_FORMAT};
    if ((rc = mdb_put(txn, e->dbi[S_DB_META], &fk, &fv, MDB_NOOVERWRITE)) != 0 &&
        rc != MDB_KEYEXIST) {
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        goto fail;
    }
    return SL_OK;
fail:
    if (txn) {
        mdb_txn_abort(txn);
    }
    snprintf(err, errlen, "cannot open LMDB environment %s: %s", dir, mdb_strerror(rc));
    if (e->env) {
        mdb_env_close(e->env);
        e->env = NULL;
    }
    return sl_store__mdb_rc(rc) == SL_EFULL ? SL_EFULL : SL_EIO;
}

static void s_store_free(sl_store_t *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->nenvs; i++) {
        if (s->envs[i].env) {
            mdb_env_close(s->envs[i].env);
        }
        free(s->envs[i].tenant);
    }
    free(s->envs);
    if (s->rejected) {
        if (s->rejected->env) {
            mdb_env_close(s->rejected->env);
        }
        free(s->rejected);
    }
    if (s->allowed) {
        for (char **a = s->allowed; *a; a++) {
            free(*a);
        }
        free(s->allowed);
    }
    sl_store__graph_free_all(s);
    pthread_mutex_destroy(&s->gmu);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->wlock);
    free(s->path);
    free(s);
}

sl_store_t *sl_store_open(const sl_store_opts_t *opts, char *err, size_t errlen)
{
    char real[PATH_MAX];
    char dir[PATH_MAX + 128];
    char dummy[8];
    sl_store_t *s = NULL;
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    snprintf(err, errlen, "out of memory");
    if (!opts || !opts->path || !opts->path[0]) {
        snprintf(err, errlen, "store: a path is required");
        return NULL;
    }
    if (opts->isolated && (!opts->tenants || !opts->tenants[0])) {
        snprintf(err, errlen, "store: an isolated store needs a list of tenants");
        return NULL;
    }
    if (opts->map_size < 0 || opts->retention_us < 0) {
        snprintf(err, errlen, "store: map_size and retention must not be negative");
        return NULL;
    }
    for (const char *const *t = opts->tenants; t && *t; t++) {
        if (!s_tenant_ok(*t, strlen(*t))) {
            snprintf(err, errlen,
                     "store: tenant '%.100s' is not a valid name (1..%d printable ASCII "
                     "bytes, no '/', not "
                     "starting with '.')",
                     *t, S_MAX_TENANT);
            return NULL;
        }
    }
    if (s_mkdirs(opts->path) != SL_OK || !realpath(opts->path, real)) {
        snprintf(err, errlen, "store: cannot create %s: %s", opts->path, strerror(errno));
        return NULL;
    }

    pthread_mutex_lock(&s_registry_lock);
    for (s = s_registry; s; s = s->next) {
        if (strcmp(s->path, real) == 0) {
            break;
        }
    }
    if (s) {
        if (s->isolated != (opts->isolated != 0)) {
            snprintf(err, errlen, "store: %s is already open with another tenancy", real);
            s = NULL;
        } else {
            s->refs++;
        }
        pthread_mutex_unlock(&s_registry_lock);
        return s;
    }

    s = calloc(1, sizeof *s);
    if (!s) {
        goto fail;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->gmu, NULL);
    s->graph_cache = !opts->no_graph_cache;
    s->changes_retention_us =
        opts->changes_retention_us ? opts->changes_retention_us : S_DEFAULT_RETENTION;
    s->writable = 1;
    s->refs = 1;
    s->isolated = opts->isolated != 0;
    s->nosync = opts->nosync != 0;
    s->map_size = opts->map_size ? opts->map_size : S_DEFAULT_MAP;
    s->retention_us = opts->retention_us ? opts->retention_us : S_DEFAULT_RETENTION;
    if (!(s->path = strdup(real))) {
        goto fail;
    }
    if (opts->tenants) {
        size_t n = 0;
        while (opts->tenants[n]) {
            n++;
        }
        if (!(s->allowed = calloc(n + 1, sizeof *s->allowed))) {
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            if (!(s->allowed[i] = strdup(opts->tenants[i]))) {
                goto fail;
            }
        }
    }
    s->nenvs = 1;
    if (s->isolated) {
        s->nenvs = 0;
        while (s->allowed[s->nenvs]) {
            s->nenvs++;
        }
    }
    if (!(s->envs = calloc(s->nenvs, sizeof *s->envs))) {
        goto fail;
    }
    if (!s->isolated) {
        if (s_env_open(&s->envs[0], real, s, err, errlen) != SL_OK) {
            goto fail;
        }
    } else {
        for (size_t i = 0; i < s->nenvs; i++) {
            if (!(s->envs[i].tenant = strdup(s->allowed[i]))) {
                goto fail;
            }
            snprintf(dir, sizeof dir, "%s/%s", real, s->allowed[i]);
            if (s_env_open(&s->envs[i], dir, s, err, errlen) != SL_OK) {
                goto fail;
            }
        }
        /*  Events of tenants that are not allowed are kept apart from
            every tenant's data; '.' cannot start a tenant name. */
        if (!(s->rejected = calloc(1, sizeof *s->rejected))) {
            goto fail;
        }
        snprintf(dir, sizeof dir, "%s/.rejected", real);
        if (s_env_open(s->rejected, dir, s, err, errlen) != SL_OK) {
            goto fail;
        }
    }
    s->next = s_registry;
    s_registry = s;
    pthread_mutex_unlock(&s_registry_lock);
    return s;
fail:
    pthread_mutex_unlock(&s_registry_lock);
    s_store_free(s);
    return NULL;
}

void sl_store_close(sl_store_t **sp)
{
    if (!sp || !*sp) {
        return;
    }
    sl_store_t *s = *sp;
    *sp = NULL;
    pthread_mutex_lock(&s_registry_lock);
    if (--s->refs > 0) {
        pthread_mutex_unlock(&s_registry_lock);
        return;
    }
    for (sl_store_t **p = &s_registry; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&s_registry_lock);
    s_store_free(s);
}

/* ------------------------------------------------------------ batches */

typedef struct {
    char tenant[S_MAX_TENANT + 1];
    s_env_t *env;
    uint64_t seq;  /* last change seq (valid if seq_loaded) */
    uint64_t dseq; /* last dead-letter seq (valid if dseq_loaded) */
    int seq_loaded;
    int dseq_loaded;
    int marked;      /* written to S_DB_TENANTS in this batch */
    int edges_dirty; /* an edge was written: bump the edge version */
} s_bten_t;

struct sl_store_batch {
    sl_store_t *s;
    MDB_txn **txns; /* per env (index nenvs: the rejected env) */
    s_bten_t *tens;
    size_t ntens;
    size_t captens;
    int err; /* a failed batch stays failed: commit returns this */
    int64_t now;
    char now_text[32]; /* RFC 3339 of now: the change records' time */
    sl_buf_t k, v, k2; /* scratch */
    sl_buf_t chg;      /* a change record's `changes`, as msgpack */
    sl_buf_t gmut;     /* edge writes, for the graph caches (store_graph.c) */
    char actor[64];    /* recorded with the dead letters apply writes */
    int replay;        /* replaying dead letters: apply writes none */
    sl_buf_t dlm;      /* "actor\0reason\0" per dead letter: metrics at commit */
};

static size_t s_env_index(sl_store_t *s, s_env_t *e)
{
    return e == s->rejected ? s->nenvs : (size_t)(e - s->envs);
}

/*  Remember a failure of the batch; a full map also stops the store. */
static int s_fail_batch(sl_store_batch_t *b, int mrc, const char *what)
{
    int rc = sl_store__mdb_rc(mrc);
    if (rc == SL_ENOTFOUND) {
        rc = SL_EIO;
    }
    if (rc == SL_EFULL) {
        s_set_full(b->s, what);
    } else {
        sl_error("store", "%s: LMDB %s failed: %s", b->s->path, what, mdb_strerror(mrc));
    }
    if (!b->err) {
        b->err = rc;
    }
    return rc;
}

/*  s_fail_batch for an SL_ code of the store's own layers. SL_ERANGE (a
    counter of the tenant ran out) fails the batch like an I/O error: the
    events are redelivered and the log says why. */
static int s_fail_rc(sl_store_batch_t *b, int rc, const char *what)
{
    return s_fail_batch(b, rc == SL_EFULL ? MDB_MAP_FULL : rc == SL_ENOMEM ? ENOMEM : EIO, what);
}

/*  Drop applied ids older than the retention window. UUIDv7 ids begin with
    their millisecond time, so the oldest come first in the key order; the
    stored applied-at time also has to be old, so a client id whose time
    bits are in the past is still kept for the whole window. */
static int s_compact(sl_store_batch_t *b, s_env_t *e, MDB_txn *txn)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int64_t cutoff = b->now - b->s->retention_us;
    int mrc = mdb_cursor_open(txn, e->dbi[S_DB_APPLIED], &c);
    int n = 0;
    if (mrc != 0) {
        return s_fail_batch(b, mrc, "cursor open");
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (mrc == 0 && n < S_COMPACT_MAX) {
        if (k.mv_size < 16 || v.mv_size != 8) {
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        const uint8_t *id = k.mv_data;
        int64_t ms = 0;
        for (int i = 0; i < 6; i++) {
            ms = ms << 8 | id[i];
        }
        if (ms * 1000 >= cutoff) {
            break;
        }
        if ((int64_t)sl_store__rd64(v.mv_data) < cutoff) {
            if ((mrc = mdb_cursor_del(c, 0)) != 0) {
                break;
            }
            n++;
            /*  After a delete LMDB leaves the cursor on the next item:
                MDB_NEXT then returns that one, it does not skip it. */
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        return s_fail_batch(b, mrc, "compaction");
    }
    return SL_OK;
}

static int s_last_seq(MDB_txn *txn, MDB_dbi dbi, const char *tenant, uint64_t *seq);

/*  The lowest cursor of the tenant's followers (consumers whose names do
    not start with '.': those are marks, such as the walker's fences), or
    UINT64_MAX when it has none. */
static uint64_t s_min_cursor(MDB_txn *txn, s_env_t *e, const char *tenant, size_t tl)
{
    MDB_cursor *c;
    MDB_val k = {tl + 1, (void *)tenant}, v;
    uint64_t min = UINT64_MAX;
    if (mdb_cursor_open(txn, e->dbi[S_DB_CURSORS], &c) != 0) {
        return 0; /* unknown: trim nothing */
    }
    for (int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size > tl + 1 && memcmp(k.mv_data, tenant, tl + 1) == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (((const char *)k.mv_data)[tl + 1] == '.' || v.mv_size != 8) {
            continue;
        }
        uint64_t seq = sl_store__rd64(v.mv_data);
        min = seq < min ? seq : min;
    }
    mdb_cursor_close(c);
    return min;
}

/*  Change-log retention (docs/store.md "Change log retention"): delete a
    tenant's records older than changes_retention that every follower has
    passed, oldest first, at most S_TRIM_MAX per pass, never the last
    one (it carries the sequence on). */
static int s_trim_changes(sl_store_batch_t *b, s_env_t *e, MDB_txn *txn)
{
    MDB_cursor *tc = NULL, *cc = NULL;
    MDB_val tk, tv, k, v;
    int64_t cutoff = b->now - b->s->changes_retention_us;
    int n = 0, mrc;
    if (b->s->changes_retention_us == 0) {
        return SL_OK; /* 0: keep the log for ever */
    }
    if (b->s->changes_retention_us == -1) {
        cutoff = INT64_MAX; /* as soon as every follower has passed */
    }
    if ((mrc = mdb_cursor_open(txn, e->dbi[S_DB_TENANTS], &tc)) != 0 ||
        (mrc = mdb_cursor_open(txn, e->dbi[S_DB_CHANGES], &cc)) != 0) {
        if (tc) {
            mdb_cursor_close(tc);
        }
        return s_fail_batch(b, mrc, "cursor open");
    }
    for (mrc = mdb_cursor_get(tc, &tk, &tv, MDB_FIRST); mrc == 0 && n < S_TRIM_MAX;
         mrc = mdb_cursor_get(tc, &tk, &tv, MDB_NEXT)) {
        char tenant[S_MAX_TENANT + 1];
        uint8_t key[S_MAX_TENANT + 9];
        size_t tl = tk.mv_size;
        uint64_t last = 0;
        if (tl == 0 || tl > S_MAX_TENANT) {
            continue;
        }
        memcpy(tenant, tk.mv_data, tl);
        tenant[tl] = 0;
        uint64_t upto = s_min_cursor(txn, e, tenant, tl);
        if (upto == 0 || s_last_seq(txn, e->dbi[S_DB_CHANGES], tenant, &last) != SL_OK) {
            continue;
        }
        memcpy(key, tenant, tl + 1);
        memset(key + tl + 1, 0, 8);
        k.mv_size = tl + 9;
        k.mv_data = key;
        int crc = mdb_cursor_get(cc, &k, &v, MDB_SET_RANGE);
        while (crc == 0 && n < S_TRIM_MAX && k.mv_size == tl + 9 &&
               memcmp(k.mv_data, tenant, tl + 1) == 0) {
            uint64_t seq = sl_store__rd64((const uint8_t *)k.mv_data + tl + 1);
            sl_slice_t ts;
            int64_t at = INT64_MAX;
            if (sl_msgpack_map_str(v.mv_data, v.mv_size, "time", &ts) == SL_OK) {
                sl_time_parse(ts.ptr, ts.len, &at);
            }
            if (seq >= last || seq > upto || at >= cutoff) {
                break;
            }
            if ((crc = mdb_cursor_del(cc, 0)) != 0) {
                break;
            }
            n++;
            crc = mdb_cursor_get(cc, &k, &v, MDB_NEXT); /* the next one: LMDB moved on */
        }
        if (crc != 0 && crc != MDB_NOTFOUND) {
            mrc = crc;
            break;
        }
    }
    mdb_cursor_close(cc);
    mdb_cursor_close(tc);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        return s_fail_batch(b, mrc, "change-log trim");
    }
    return SL_OK;
}

/*  The batch's write transaction on env e, begun on first use. */
static int s_txn(sl_store_batch_t *b, s_env_t *e, MDB_txn **txn)
{
    size_t i = s_env_index(b->s, e);
    if (!b->txns[i]) {
        int mrc = mdb_txn_begin(e->env, NULL, 0, &b->txns[i]);
        if (mrc != 0) {
            b->txns[i] = NULL;
            return s_fail_batch(b, mrc, "txn begin");
        }
        int64_t every = b->s->retention_us / 2 < S_COMPACT_EVERY_US ? b->s->retention_us / 2
                                                                    : S_COMPACT_EVERY_US;
        if (b->now - e->last_compact_us >= every) {
            e->last_compact_us = b->now;
            int rc = s_compact(b, e, b->txns[i]);
            if (rc != SL_OK) {
                return rc;
            }
        }
        /*  The log's trim runs more often (every S_TRIM_EVERY_US, at most
            S_TRIM_MAX records): a busy store logs tens of thousands of
            records a second and the trim has to keep up. */
        if (b->now - e->last_trim_us >= S_TRIM_EVERY_US || b->s->retention_us < S_TRIM_EVERY_US) {
            e->last_trim_us = b->now;
            int rc = s_trim_changes(b, e, b->txns[i]);
            if (rc != SL_OK) {
                return rc;
            }
        }
    }
    *txn = b->txns[i];
    return SL_OK;
}

int sl_store_batch_begin(sl_store_t *s, sl_store_batch_t **bp)
{
    sl_store_batch_t *b;
    if (!s || !bp) {
        return SL_EINVAL;
    }
    *bp = NULL;
    if (sl_store_health(s, NULL, 0) != SL_OK) {
        return SL_EFULL;
    }
    pthread_mutex_lock(&s->mu);
    int mine = s->batch_open && pthread_equal(s->owner, pthread_self());
    pthread_mutex_unlock(&s->mu);
    if (mine) {
        return SL_ESTATE; /* a second batch on this thread would wait for itself */
    }
    if (!(b = calloc(1, sizeof *b)) || !(b->txns = calloc(s->nenvs + 1, sizeof *b->txns))) {
        free(b);
        return SL_ENOMEM;
    }
    pthread_mutex_lock(&s->wlock);
    pthread_mutex_lock(&s->mu);
    s->owner = pthread_self();
    s->batch_open = 1;
    s->batch = b;
    pthread_mutex_unlock(&s->mu);
    b->s = s;
    snprintf(b->actor, sizeof b->actor, "%s", "store");
    b->now = sl_now_us();
    sl_time_format(b->now, b->now_text);
    *bp = b;
    return SL_OK;
}

int sl_store__batch_in_flight(sl_store_t *s)
{
    pthread_mutex_lock(&s->mu);
    int open = s->batch_open;
    pthread_mutex_unlock(&s->mu);
    return open;
}

static void s_batch_free(sl_store_batch_t *b)
{
    sl_store_t *s = b->s;
    for (size_t i = 0; i <= s->nenvs; i++) {
        if (b->txns[i]) {
            mdb_txn_abort(b->txns[i]);
        }
    }
    pthread_mutex_lock(&s->mu);
    s->batch_open = 0;
    s->batch = NULL;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->wlock);
    free(b->txns);
    free(b->tens);
    sl_buf_free(&b->k);
    sl_buf_free(&b->v);
    sl_buf_free(&b->k2);
    sl_buf_free(&b->chg);
    sl_buf_free(&b->gmut);
    sl_buf_free(&b->dlm);
    free(b);
}

void sl_store_batch_abort(sl_store_batch_t **bp)
{
    if (!bp || !*bp) {
        return;
    }
    s_batch_free(*bp);
    *bp = NULL;
}

/*  Isolated environments commit one after the other: each environment is
    consistent on its own (a tenant's data and its log are never split), a
    crash between two commits loses the later tenants' part of the batch
    only, which the producer redelivers (ids make that idempotent). */
int sl_store_batch_commit(sl_store_batch_t **bp)
{
    if (!bp || !*bp) {
        return SL_EINVAL;
    }
    sl_store_batch_t *b = *bp;
    int rc = b->err;
    *bp = NULL;
    for (size_t i = 0; rc == SL_OK && i <= b->s->nenvs; i++) {
        if (!b->txns[i]) {
            continue;
        }
        /*  The edge version of each tenant whose edges changed moves with
            the edges, in the same transaction. */
        int mrc = 0;
        for (size_t t = 0; mrc == 0 && t < b->ntens; t++) {
            s_bten_t *bt = &b->tens[t];
            uint64_t old;
            if (!bt->edges_dirty || s_env_index(b->s, bt->env) != i) {
                continue;
            }
            mrc = sl_store__edge_version_bump(b->txns[i], bt->env, bt->tenant, &old);
            if (mrc == 0 &&
                sl_store__graph_note_version(&b->gmut, (uint32_t)i, bt->tenant, old) != SL_OK) {
                mrc = ENOMEM;
            }
        }
        if (mrc != 0) {
            mdb_txn_abort(b->txns[i]);
            b->txns[i] = NULL;
            rc = s_fail_batch(b, mrc, "edge version");
            break;
        }
        mrc = mdb_txn_commit(b->txns[i]);
        b->txns[i] = NULL;
        if (mrc != 0) {
            rc = s_fail_batch(b, mrc, "commit");
        }
    }
    if (rc == SL_OK && b->gmut.len) {
        sl_store__graph_committed(b->s, &b->gmut);
    }
    /*  Counted once kept: an aborted batch is redelivered and counted then.
        (Isolated: an environment committed before a failing one is not
        counted; the metric may undercount there, never double count.) */
    for (size_t i = 0; rc == SL_OK && i < b->dlm.len;) {
        const char *actor = (const char *)b->dlm.data + i;
        const char *why = actor + strlen(actor) + 1;
        sl_metrics_dead_letter(actor, why);
        i += strlen(actor) + strlen(why) + 2;
    }
    s_batch_free(b);
    return rc;
}

/* ------------------------------------------------------ applying */

/*  The per-event context. */
typedef struct {
    sl_store_batch_t *b;
    const sl_event_t *ev;
    s_bten_t *t;
    MDB_txn *txn;
    s_env_t *e;
    json_t *body;
    const char *kind;
    char evid[37];
    int64_t at; /* the event's time (now if it has none) */
    int dead;
    int changed;
    char *reason;
    size_t reasonlen;
    char why[512];
} s_ctx_t;

__attribute__((format(printf, 2, 3))) static int s_reject(s_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    /*  The reason quotes outside bytes (a kind, a tenant): keep it one
        line of ASCII so every JSON writer takes it. */
    for (char *p = c->why; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            *p = '?';
        }
    }
    c->dead = 1;
    return SL_OK;
}

static int s_put(s_ctx_t *c, int db, const void *k, size_t kn, const void *v, size_t vn,
                 unsigned flags)
{
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    int mrc = mdb_put(c->txn, c->e->dbi[db], &key, &val, flags);
    if (mrc == MDB_KEYEXIST && (flags & (MDB_NOOVERWRITE | MDB_NODUPDATA))) {
        return SL_OK;
    }
    return mrc == 0 ? SL_OK : s_fail_batch(c->b, mrc, "put");
}

static int s_del(s_ctx_t *c, int db, const void *k, size_t kn, const void *v, size_t vn)
{
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    int mrc = mdb_del(c->txn, c->e->dbi[db], &key, v ? &val : NULL);
    if (mrc == MDB_NOTFOUND) {
        return SL_OK;
    }
    return mrc == 0 ? SL_OK : s_fail_batch(c->b, mrc, "delete");
}

/*  0 found (v filled), SL_ENOTFOUND, or a batch failure. */
static int s_get(s_ctx_t *c, int db, const void *k, size_t kn, MDB_val *v)
{
    MDB_val key = {kn, (void *)k};
    int mrc = mdb_get(c->txn, c->e->dbi[db], &key, v);
    if (mrc == MDB_NOTFOUND) {
        return SL_ENOTFOUND;
    }
    return mrc == 0 ? SL_OK : s_fail_batch(c->b, mrc, "get");
}

/*  The tenant's state in this batch (last seqs), found or added. */
static int s_bten(sl_store_batch_t *b, const char *tenant, s_env_t *e, s_bten_t **out)
{
    for (size_t i = 0; i < b->ntens; i++) {
        if (b->tens[i].env == e && strcmp(b->tens[i].tenant, tenant) == 0) {
            *out = &b->tens[i];
            return SL_OK;
        }
    }
    if (b->ntens == b->captens) {
        size_t cap = b->captens ? b->captens * 2 : 4;
        s_bten_t *n = realloc(b->tens, cap * sizeof *n);
        if (!n) {
            return SL_ENOMEM;
        }
        b->tens = n;
        b->captens = cap;
    }
    s_bten_t *t = &b->tens[b->ntens++];
    memset(t, 0, sizeof *t);
    snprintf(t->tenant, sizeof t->tenant, "%s", tenant);
    t->env = e;
    *out = t;
    return SL_OK;
}

/*  Highest seq under tenant\0 in a be64-keyed database (0 if none). */
static int s_last_seq(MDB_txn *txn, MDB_dbi dbi, const char *tenant, uint64_t *seq)
{
    uint8_t key[S_MAX_TENANT + 9];
    size_t tl = strlen(tenant);
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc;
    *seq = 0;
    memcpy(key, tenant, tl + 1);
    memset(key + tl + 1, 0xff, 8);
    if ((mrc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    k.mv_data = key;
    k.mv_size = tl + 9;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    } else if (mrc == MDB_NOTFOUND) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (mrc == 0 && k.mv_size == tl + 9 && memcmp(k.mv_data, key, tl + 1) == 0) {
        *seq = sl_store__rd64((const uint8_t *)k.mv_data + tl + 1);
    }
    mdb_cursor_close(cur);
    return mrc == 0 || mrc == MDB_NOTFOUND ? SL_OK : sl_store__mdb_rc(mrc);
}

static int s_mark_tenant(s_ctx_t *c)
{
    if (c->t->marked) {
        return SL_OK;
    }
    c->t->marked = 1;
    return s_put(c, S_DB_TENANTS, c->t->tenant, strlen(c->t->tenant), "", 0, MDB_NOOVERWRITE);
}

/*  Append one change record to the tenant's log, its `changes` already a
    msgpack map (mp, n bytes). */
static int s_log_mp(s_ctx_t *c, const char *entity, const char *key, const char *op, const void *mp,
                    size_t n)
{
    uint8_t k[S_MAX_TENANT + 9];
    size_t tl = strlen(c->t->tenant);
    int rc;
    if (!c->t->seq_loaded) {
        rc = s_last_seq(c->txn, c->e->dbi[S_DB_CHANGES], c->t->tenant, &c->t->seq);
        if (rc != SL_OK) {
            return rc == SL_ENOMEM ? rc : s_fail_batch(c->b, MDB_PANIC, "log seq");
        }
        c->t->seq_loaded = 1;
    }
    uint64_t seq = c->t->seq + 1;
    /*  The record's envelope is written as msgpack directly (the same
        bytes the tree would give): only `changes` goes through jansson. */
    sl_buf_t *v = &c->b->v;
    const char *strs[] = {"tenant",   c->t->tenant, "time",   c->b->now_text,
                          "event_id", c->evid,      "entity", entity,
                          "key",      key,          "op",     op};
    sl_buf_reset(v);
    rc = sl_buf_append(v, "\x88", 1); /* fixmap of 8 */
    if (rc == SL_OK) {
        rc = sl_mp_str(v, "seq", 3);
    }
    if (rc == SL_OK) {
        rc = sl_mp_int(v, (int64_t)seq);
    }
    for (size_t i = 0; rc == SL_OK && i < sizeof strs / sizeof *strs; i++) {
        rc = sl_mp_str(v, strs[i], strlen(strs[i]));
    }
    if (rc == SL_OK) {
        rc = sl_mp_str(v, "changes", 7);
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(v, mp, n);
    }
    if (rc != SL_OK) {
        return rc;
    }
    memcpy(k, c->t->tenant, tl + 1);
    sl_store__be64(k + tl + 1, seq);
    if ((rc = s_put(c, S_DB_CHANGES, k, tl + 9, c->b->v.data, c->b->v.len, 0)) != SL_OK) {
        return rc;
    }
    c->t->seq = seq;
    c->changed++;
    return s_mark_tenant(c);
}

/*  Append one change record to the tenant's log. `changes` is stolen. */
static int s_log(s_ctx_t *c, const char *entity, const char *key, const char *op, json_t *changes)
{
    if (!changes) {
        return SL_ENOMEM;
    }
    sl_buf_reset(&c->b->chg);
    int rc = sl_jansson_to_msgpack(changes, &c->b->chg);
    json_decref(changes);
    return rc ? rc : s_log_mp(c, entity, key, op, c->b->chg.data, c->b->chg.len);
}

/*  {"before": b, "after": a} into changes[field] (references taken). */
static int s_change_new(json_t *changes, const char *field, json_t *before, json_t *after)
{
    /*  Built by hand: json_pack parses its format on every call, and this
        runs for every changed field of every event. */
    json_t *ch = json_object();
    if (!ch || !before || !after || json_object_set_new_nocheck(ch, "before", before) != 0 ||
        json_object_set_new_nocheck(ch, "after", after) != 0 ||
        json_object_set_new(changes, field, ch) != 0) {
        if (!ch) {
            json_decref(before);
            json_decref(after);
        }
        json_decref(ch);
        return SL_ENOMEM;
    }
    return SL_OK;
}

static int s_change(json_t *changes, const char *field, json_t *before, json_t *after)
{
    return s_change_new(changes, field, before ? json_incref(before) : json_null(),
                        after ? json_incref(after) : json_null());
}

/*  The same for strings (NULL: null). */
static int s_change_s(json_t *changes, const char *field, const char *before, const char *after)
{
    return s_change_new(changes, field, before ? json_string(before) : json_null(),
                        after ? json_string(after) : json_null());
}

/*  {"field": {"before": b, "after": a}} entry of a change record, as
    msgpack. kind 's': b and a are strings, 'i': int64_t *, 'b': int *
    (booleans); NULL = nil. */
static int s_mp_change(sl_buf_t *m, const char *field, char kind, const void *before,
                       const void *after)
{
    int rc = sl_mp_str(m, field, strlen(field));
    if (rc == SL_OK) {
        rc = sl_mp_container(m, 1, 2);
    }
    const void *v[2] = {before, after};
    for (int i = 0; i < 2 && rc == SL_OK; i++) {
        rc = sl_mp_str(m, i ? "after" : "before", i ? 5 : 6);
        if (rc != SL_OK) {
            break;
        }
        if (!v[i]) {
            rc = sl_buf_append(m, "\xc0", 1);
        } else if (kind == 'i') {
            rc = sl_mp_int(m, *(const int64_t *)v[i]);
        } else if (kind == 'b') {
            rc = sl_buf_append(m, *(const int *)v[i] ? "\xc3" : "\xc2", 1);
        } else {
            rc = sl_mp_str(m, v[i], strlen(v[i]));
        }
    }
    return rc;
}

/* ---- body fields: every type is checked, outside input never crashes */

static int s_name_ok(s_ctx_t *c, const char *field, json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return s_reject(c, "%s: body.%s: expected a non-empty string", c->kind, field);
    }
    if (json_string_length(v) > S_MAX_NAME) {
        return s_reject(c, "%s: body.%s: longer than %d bytes", c->kind, field, S_MAX_NAME);
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return s_reject(c, "%s: body.%s: contains a NUL byte", c->kind, field);
    }
    return SL_OK;
}

/*  A required name (key material): *out NULL and c->dead if not usable. */
static int s_req_name(s_ctx_t *c, const char *field, const char **out)
{
    json_t *v = json_object_get(c->body, field);
    *out = NULL;
    if (!v) {
        return s_reject(c, "%s: body.%s: missing (expected a non-empty string)", c->kind, field);
    }
    s_name_ok(c, field, v);
    if (!c->dead) {
        *out = json_string_value(v);
    }
    return SL_OK;
}

/*  An optional field of a JSON type; null counts as absent. */
static json_t *s_opt(s_ctx_t *c, const char *field, json_type type, const char *what)
{
    json_t *v = json_object_get(c->body, field);
    if (!v || json_is_null(v)) {
        return NULL;
    }
    if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v))) {
        s_reject(c, "%s: body.%s: expected %s", c->kind, field, what);
        return NULL;
    }
    return v;
}

static json_t *s_opt_str_array(s_ctx_t *c, const char *field)
{
    json_t *v = s_opt(c, field, JSON_ARRAY, "an array of strings");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            s_reject(c, "%s: body.%s[%zu]: expected a string", c->kind, field, i);
            return NULL;
        }
    }
    return v;
}

static int s_opt_bool(s_ctx_t *c, const char *field, int def)
{
    json_t *v = s_opt(c, field, JSON_TRUE, "a boolean");
    return v ? json_is_true(v) : def;
}

/*  A time as RFC 3339 text or integer microseconds; *present 0 if absent. */
static int64_t s_opt_time(s_ctx_t *c, const char *field, int *present)
{
    json_t *v = json_object_get(c->body, field);
    int64_t us = 0;
    *present = 0;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (json_is_integer(v)) {
        us = json_integer_value(v);
    } else if (!json_is_string(v) ||
               sl_time_parse(json_string_value(v), json_string_length(v), &us) != SL_OK) {
        s_reject(c, "%s: body.%s: expected an RFC 3339 time", c->kind, field);
        return 0;
    }
    *present = 1;
    return us;
}

/* ---- assets */

static int s_asset_get(s_ctx_t *c, const char *qn, json_t **asset)
{
    MDB_val v;
    int rc;
    *asset = NULL;
    if ((rc = sl_store__key(&c->b->k, c->t->tenant, 1, qn)) != SL_OK) {
        return rc;
    }
    rc = s_get(c, S_DB_ASSETS, c->b->k.data, c->b->k.len, &v);
    if (rc == SL_ENOTFOUND) {
        return SL_OK;
    }
    if (rc != SL_OK) {
        return rc;
    }
    *asset = sl_store__asset_tree(&v);
    if (!*asset || !json_is_object(*asset)) {
        /*  Only the store writes these values: a bad one is damage. */
        json_decref(*asset);
        *asset = NULL;
        sl_error("store", "%s: asset value of '%s' is malformed", c->b->s->path, qn);
        return s_fail_batch(c->b, MDB_CORRUPTED, "read asset");
    }
    return SL_OK;
}

static int s_asset_put(s_ctx_t *c, const char *qn, json_t *asset)
{
    int rc;
    sl_buf_reset(&c->b->v);
    if ((rc = sl_asset_pack(asset, &c->b->v)) != SL_OK) {
        return rc;
    }
    if ((rc = sl_store__key(&c->b->k, c->t->tenant, 1, qn)) != SL_OK) {
        return rc;
    }
    return s_put(c, S_DB_ASSETS, c->b->k.data, c->b->k.len, c->b->v.data, c->b->v.len, 0);
}

/*  Version and update time after a change of the asset or its parts. */
static int s_asset_touch(s_ctx_t *c, json_t *asset)
{
    json_int_t ver = json_integer_value(json_object_get(asset, "version"));
    if (json_object_set_new(asset, "version", json_integer(ver + 1)) != 0 ||
        json_object_set_new(asset, "updated_at", json_integer(c->at)) != 0) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

/*  A new asset's tree, with its id (named in `names`); NULL with *rc set
    when the id or the memory runs out. */
static json_t *s_asset_new(s_ctx_t *c, const char *qn, int placeholder, int *rc)
{
    uint64_t id;
    if ((*rc = sl_store__id_new(c->txn, c->e, c->t->tenant, qn, &id)) != SL_OK) {
        *rc = s_fail_rc(c->b, *rc, "asset id");
        return NULL;
    }
    *rc = SL_ENOMEM;
    json_t *a = json_object();
    if (a && (json_object_set_new_nocheck(a, "id", json_integer((json_int_t)id)) != 0 ||
              json_object_set_new_nocheck(a, "version", json_integer(0)) != 0 ||
              json_object_set_new_nocheck(a, "created_at", json_integer(c->at)) != 0 ||
              json_object_set_new_nocheck(a, "updated_at", json_integer(c->at)) != 0 ||
              (placeholder && json_object_set_new_nocheck(a, "placeholder", json_true()) != 0))) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/*  The asset, created as a placeholder (and logged) if missing: lineage,
    tags and owners may arrive before the asset itself. */
static int s_asset_ensure(s_ctx_t *c, const char *qn, json_t **asset)
{
    int rc = s_asset_get(c, qn, asset);
    if (rc != SL_OK || *asset) {
        return rc;
    }
    if (!(*asset = s_asset_new(c, qn, 1, &rc))) {
        return rc;
    }
    json_t *ch = json_object();
    if (!ch || s_change(ch, "placeholder", NULL, json_true()) != SL_OK) {
        json_decref(ch);
        return SL_ENOMEM;
    }
    if ((rc = s_asset_touch(c, *asset)) != SL_OK || (rc = s_asset_put(c, qn, *asset)) != SL_OK) {
        json_decref(ch);
        return rc;
    }
    return s_log(c, "asset", qn, "create", ch);
}

/*  The id of qn, the asset created as a placeholder if missing, without
    decoding one that exists (edges only need their ends' ids: one lookup
    instead of a tree). */
static int s_asset_id(s_ctx_t *c, const char *qn, uint64_t *id)
{
    MDB_val v;
    json_t *a = NULL;
    int rc = sl_store__key(&c->b->k, c->t->tenant, 1, qn);
    if (rc == SL_OK) {
        rc = s_get(c, S_DB_ASSETS, c->b->k.data, c->b->k.len, &v);
    }
    if (rc == SL_OK) {
        if (sl_asset_id(v.mv_data, v.mv_size, id) != SL_OK) {
            sl_error("store", "%s: asset value of '%s' is malformed", c->b->s->path, qn);
            return s_fail_batch(c->b, MDB_CORRUPTED, "read asset");
        }
        return SL_OK;
    }
    if (rc != SL_ENOTFOUND) {
        return rc;
    }
    if ((rc = s_asset_ensure(c, qn, &a)) == SL_OK) {
        *id = (uint64_t)json_integer_value(json_object_get(a, "id"));
    }
    json_decref(a);
    return rc;
}

static const char *const s_asset_fields[] = {"type", "name", "description", "owners", "attributes"};

static int s_apply_asset_upsert(s_ctx_t *c)
{
    const char *qn;
    json_t *asset = NULL, *ch = NULL;
    int rc = SL_OK, created = 0;
    s_req_name(c, "qualified_name", &qn);
    s_opt(c, "type", JSON_STRING, "a string");
    s_opt(c, "name", JSON_STRING, "a string");
    s_opt(c, "description", JSON_STRING, "a string");
    s_opt_str_array(c, "owners");
    s_opt(c, "attributes", JSON_OBJECT, "an object");
    if (c->dead) {
        return SL_OK;
    }
    if ((rc = s_asset_get(c, qn, &asset)) != SL_OK) {
        goto fail;
    }
    if (!asset) {
        created = 1;
        if (!(asset = s_asset_new(c, qn, 0, &rc))) {
            goto fail;
        }
    }
    if (!(ch = json_object())) {
        rc = SL_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < sizeof s_asset_fields / sizeof *s_asset_fields; i++) {
        const char *f = s_asset_fields[i];
        json_t *nv = json_object_get(c->body, f);
        json_t *ov = json_object_get(asset, f);
        if (!nv || json_is_null(nv)) {
            continue; /* absent fields are kept */
        }
        if (ov && json_equal(ov, nv)) {
            continue;
        }
        if ((rc = s_change(ch, f, ov, nv)) != SL_OK || json_object_set(asset, f, nv) != 0) {
            rc = rc ? rc : SL_ENOMEM;
            goto fail;
        }
    }
    if (json_is_true(json_object_get(asset, "placeholder"))) {
        if ((rc = s_change(ch, "placeholder", json_true(), json_false())) != SL_OK) {
            goto fail;
        }
        json_object_del(asset, "placeholder");
    }
    if (json_object_size(ch) == 0 && !created) {
        goto done; /* NOOP */
    }
    if ((rc = s_asset_touch(c, asset)) != SL_OK || (rc = s_asset_put(c, qn, asset)) != SL_OK) {
        goto fail;
    }
    rc = s_log(c, "asset", qn, created ? "create" : "update", ch);
    ch = NULL;
    if (rc != SL_OK) {
        goto fail;
    }
done:
fail:
    json_decref(ch);
    json_decref(asset);
    return rc;
}

static void s_copy_slice(char *out, size_t outlen, sl_slice_t s)
{
    size_t n = s.len < outlen - 1 ? s.len : outlen - 1;
    if (n) {
        memcpy(out, s.ptr, n);
    }
    out[n] = 0;
}

/* ---- tags and owners */

static int s_source(s_ctx_t *c, char *out, size_t outlen)
{
    s_copy_slice(out, outlen, c->ev->source);
    return SL_OK;
}

static int s_apply_tag_set(s_ctx_t *c)
{
    const char *qn, *tag;
    char src[256];
    json_t *asset = NULL, *ch = NULL, *own;
    int rc = SL_OK;
    s_req_name(c, "qualified_name", &qn);
    if (!c->dead) {
        s_req_name(c, "tag", &tag);
    }
    int prop = s_opt_bool(c, "propagate", 1);
    if (c->dead) {
        return SL_OK;
    }
    s_source(c, src, sizeof src);
    if ((rc = s_asset_ensure(c, qn, &asset)) != SL_OK) {
        goto fail;
    }
    json_t *tags = json_object_get(asset, "tags");
    if (!json_is_object(tags)) {
        if (!(tags = json_object()) || json_object_set_new(asset, "tags", tags) != 0) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    json_t *entry = json_object_get(tags, tag);
    if (!json_is_object(entry)) {
        if (!(entry = json_object()) || json_object_set_new(tags, tag, entry) != 0) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    own = json_object_get(entry, "own");
    if (json_is_object(own) && json_is_true(json_object_get(own, "propagate")) == prop) {
        goto done; /* already set, same flag: keep who set it first */
    }
    ch = json_object();
    if (!ch || s_change_s(ch, "tag", own ? tag : NULL, tag) != SL_OK ||
        s_change(ch, "propagate", own ? json_object_get(own, "propagate") : NULL,
                 json_boolean(prop)) != SL_OK) {
        rc = SL_ENOMEM;
        goto fail;
    }
    json_t *by = own ? json_object_get(own, "set_by") : NULL;
    if (!by || strcmp(json_string_value(by) ? json_string_value(by) : "", src) != 0) {
        if (s_change_s(ch, "set_by", json_string_value(by), src) != SL_OK) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    const char *op = own ? "update" : "create";
    json_t *nown =
        json_pack("{s:s,s:I,s:b}", "set_by", src, "set_at", (json_int_t)c->at, "propagate", prop);
    if (!nown || json_object_set_new(entry, "own", nown) != 0) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if ((rc = s_asset_touch(c, asset)) != SL_OK || (rc = s_asset_put(c, qn, asset)) != SL_OK) {
        goto fail;
    }
    rc = s_log(c, "tag", qn, op, ch);
    ch = NULL;
done:
fail:
    json_decref(ch);
    json_decref(asset);
    return rc;
}

static int s_apply_tag_unset(s_ctx_t *c)
{
    const char *qn, *tag;
    json_t *asset = NULL, *ch = NULL;
    int rc = SL_OK;
    s_req_name(c, "qualified_name", &qn);
    if (!c->dead) {
        s_req_name(c, "tag", &tag);
    }
    if (!c->dead) {
        s_opt_bool(c, "propagate", 1); /* accepted, checked, not needed */
    }
    if (c->dead) {
        return SL_OK;
    }
    if ((rc = s_asset_get(c, qn, &asset)) != SL_OK || !asset) {
        goto fail;
    }
    json_t *tags = json_object_get(asset, "tags");
    json_t *entry = json_object_get(tags, tag);
    json_t *own = json_object_get(entry, "own");
    if (!json_is_object(own)) {
        goto done; /* not set here (maybe propagated: the walker's) */
    }
    ch = json_object();
    if (!ch || s_change_s(ch, "tag", tag, NULL) != SL_OK ||
        s_change(ch, "propagate", json_object_get(own, "propagate"), NULL) != SL_OK ||
        s_change(ch, "set_by", json_object_get(own, "set_by"), NULL) != SL_OK) {
        rc = SL_ENOMEM;
        goto fail;
    }
    json_object_del(entry, "own");
    if (json_object_size(entry) == 0) {
        json_object_del(tags, tag);
    }
    if (json_object_size(tags) == 0) {
        json_object_del(asset, "tags");
    }
    if ((rc = s_asset_touch(c, asset)) != SL_OK || (rc = s_asset_put(c, qn, asset)) != SL_OK) {
        goto fail;
    }
    rc = s_log(c, "tag", qn, "delete", ch);
    ch = NULL;
done:
fail:
    json_decref(ch);
    json_decref(asset);
    return rc;
}

static int s_apply_owner_set(s_ctx_t *c)
{
    const char *qn;
    json_t *asset = NULL, *ch = NULL;
    int rc = SL_OK;
    s_req_name(c, "qualified_name", &qn);
    json_t *owners = c->dead ? NULL : s_opt_str_array(c, "owners");
    if (!c->dead && !owners) {
        s_reject(c, "%s: body.owners: missing (expected an array of strings)", c->kind);
    }
    if (c->dead) {
        return SL_OK;
    }
    if ((rc = s_asset_ensure(c, qn, &asset)) != SL_OK) {
        goto fail;
    }
    json_t *old = json_object_get(asset, "owners");
    if (old && json_equal(old, owners)) {
        goto done;
    }
    ch = json_object();
    if (!ch || s_change(ch, "owners", old, owners) != SL_OK) {
        rc = SL_ENOMEM;
        goto fail;
    }
    const char *op = old ? "update" : "create";
    if (json_object_set(asset, "owners", owners) != 0) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if ((rc = s_asset_touch(c, asset)) != SL_OK || (rc = s_asset_put(c, qn, asset)) != SL_OK) {
        goto fail;
    }
    rc = s_log(c, "owner", qn, op, ch);
    ch = NULL;
done:
fail:
    json_decref(ch);
    json_decref(asset);
    return rc;
}

/* ---- lineage */

/*  An edge as the apply paths see it: names (for the log and the graph
    cache) and the ids and type code the lineage tables hold. */
typedef struct {
    const char *from, *to, *type;
    uint64_t fid, tid;
    unsigned code;
} s_edge_ref_t;

#define S_NO_CODE UINT_MAX

/*  The edge's ids and type code, each that exists (a missing end: id 0, a
    type never used: S_NO_CODE). SL_OK when all three exist, SL_ENOTFOUND
    when one does not (then the edge does not either). */
static int s_edge_ids(s_ctx_t *c, s_edge_ref_t *r)
{
    const char *end[2] = {r->from, r->to};
    uint64_t *id[2] = {&r->fid, &r->tid};
    int found = 1;
    int rc = sl_store__type_code(c->txn, c->e, r->type, 0, &r->code);
    if (rc == SL_ENOTFOUND) {
        r->code = S_NO_CODE;
        found = 0;
    }
    for (int i = 0; i < 2 && (rc == SL_OK || rc == SL_ENOTFOUND); i++) {
        rc = sl_store__id_of(c->txn, c->e, c->t->tenant, end[i], strlen(end[i]), id[i]);
        if (rc == SL_ENOTFOUND) {
            *id[i] = 0;
            found = 0;
        }
    }
    if (rc == SL_EPROTO) {
        return s_fail_batch(c->b, MDB_CORRUPTED, "read asset");
    }
    if (rc != SL_OK && rc != SL_ENOTFOUND) {
        return s_fail_rc(c->b, rc, "edge ids");
    }
    return found ? SL_OK : SL_ENOTFOUND;
}

/*  The edge r (ids known): SL_OK with its flag and job (copied into job,
    jobcap bytes), or SL_ENOTFOUND. */
static int s_edge_find(s_ctx_t *c, const s_edge_ref_t *r, int *prop, char *job, size_t jobcap)
{
    const char *j;
    size_t jl;
    int rc = sl_store__edge_get(c->txn, c->e, c->t->tenant, r->fid, r->tid, r->code, prop, &j, &jl);
    if (rc == SL_OK) {
        size_t n = jl < jobcap - 1 ? jl : jobcap - 1;
        memcpy(job, j, n);
        job[n] = 0;
    }
    return rc == SL_OK || rc == SL_ENOTFOUND ? rc : s_fail_rc(c->b, rc, "edge get");
}

/*  Write (put = 1) or remove both directions of an edge. */
static int s_edge_write(s_ctx_t *c, const s_edge_ref_t *r, int prop, const char *job, int put)
{
    int rc =
        sl_store__edge_write(c->txn, c->e, c->t->tenant, r->fid, r->tid, r->code, prop, job, put);
    if (rc != SL_OK) {
        return s_fail_rc(c->b, rc, put ? "edge put" : "edge delete");
    }
    c->t->edges_dirty = 1;
    return sl_store__graph_note(&c->b->gmut, (uint32_t)s_env_index(c->b->s, c->e), c->t->tenant,
                                r->from, r->to, r->type, prop, put);
}

static int s_edge_key(char *out, size_t outlen, const char *from, const char *to)
{
    snprintf(out, outlen, "%s->%s", from, to);
    return SL_OK;
}

/*  Edge fields of the body: from, to, type (default "data"), job, propagate. */
static void s_edge_body(s_ctx_t *c, const char **from, const char **to, const char **type,
                        const char **job, int *prop)
{
    *type = "data";
    *job = "";
    s_req_name(c, "from", from);
    if (!c->dead) {
        s_req_name(c, "to", to);
    }
    if (!c->dead && json_object_get(c->body, "type") &&
        !json_is_null(json_object_get(c->body, "type"))) {
        if (s_name_ok(c, "type", json_object_get(c->body, "type")) == SL_OK && !c->dead) {
            *type = json_string_value(json_object_get(c->body, "type"));
        }
    }
    json_t *j = c->dead ? NULL : s_opt(c, "job", JSON_STRING, "a string");
    if (j) {
        if (strlen(json_string_value(j)) != json_string_length(j)) {
            s_reject(c, "%s: body.job: contains a NUL byte", c->kind);
        }
        *job = json_string_value(j);
    }
    *prop = c->dead ? 1 : s_opt_bool(c, "propagate", 1);
    if (!c->dead && (strlen(*from) > strlen(*to) ? strlen(*from) : strlen(*to)) + strlen(*type) +
                            strlen(*job) + 3 >
                        S_MAX_DUP) {
        s_reject(c, "%s: from/to, type and job together longer than %d bytes", c->kind,
                 S_MAX_DUP - 3);
    }
}

/*  An edge's change record, as msgpack: from, to and type always (its
    identity: the key "from->to" alone is ambiguous when a name holds
    "->"); the job when it changes (absent when empty on both sides);
    propagate when it changes. NULL ojob/oprop: created; NULL njob/nprop:
    deleted. */
static int s_edge_log(s_ctx_t *c, const char *from, const char *to, const char *op,
                      const char *type, const char *ojob, const char *njob, const int *oprop,
                      const int *nprop)
{
    char key[2 * S_MAX_NAME + 3];
    s_edge_key(key, sizeof key, from, to);
    sl_buf_t *m = &c->b->chg;
    const char *oj = ojob && ojob[0] ? ojob : NULL, *nj = njob && njob[0] ? njob : NULL;
    int jch = (oj || nj) && (!oj || !nj || strcmp(oj, nj) != 0);
    int pch = !oprop || !nprop || *oprop != *nprop;
    sl_buf_reset(m);
    int rc = sl_mp_container(m, 1, 3 + (size_t)jch + (size_t)pch);
    if (rc == SL_OK) {
        rc = s_mp_change(m, "from", 's', ojob ? from : NULL, njob ? from : NULL);
    }
    if (rc == SL_OK) {
        rc = s_mp_change(m, "to", 's', ojob ? to : NULL, njob ? to : NULL);
    }
    if (rc == SL_OK) {
        rc = s_mp_change(m, "type", 's', ojob ? type : NULL, njob ? type : NULL);
    }
    if (rc == SL_OK && jch) {
        rc = s_mp_change(m, "job", 's', oj, nj);
    }
    if (rc == SL_OK && pch) {
        rc = s_mp_change(m, "propagate", 'b', oprop, nprop);
    }
    return rc ? rc : s_log_mp(c, "edge", key, op, m->data, m->len);
}

static int s_apply_edge(s_ctx_t *c)
{
    s_edge_ref_t r;
    const char *job;
    char oldjob[S_MAX_DUP + 1];
    int prop, oldprop = 1, rc;
    s_edge_body(c, &r.from, &r.to, &r.type, &job, &prop);
    if (c->dead) {
        return SL_OK;
    }
    rc = s_edge_ids(c, &r);
    if (rc == SL_OK) {
        rc = s_edge_find(c, &r, &oldprop, oldjob, sizeof oldjob);
    }
    if (rc == SL_OK) {
        if (oldprop == prop && strcmp(oldjob, job) == 0) {
            return SL_OK; /* NOOP */
        }
        if ((rc = s_edge_write(c, &r, oldprop, oldjob, 0)) != SL_OK ||
            (rc = s_edge_write(c, &r, prop, job, 1)) != SL_OK) {
            return rc;
        }
        return s_edge_log(c, r.from, r.to, "update", r.type, oldjob, job, &oldprop, &prop);
    }
    if (rc != SL_ENOTFOUND) {
        return rc;
    }
    /*  Both ends exist (as placeholders if need be) before the edge; a type
        never seen gets its code. What s_edge_ids found is not looked up
        again. */
    if (r.code == S_NO_CODE) {
        rc = sl_store__type_code(c->txn, c->e, r.type, 1, &r.code);
        if (rc == SL_ERANGE) {
            return s_reject(c, "%s: body.type: more than %d edge types in this store", c->kind,
                            S_TYPES_MAX + 1);
        }
        if (rc != SL_OK) {
            return s_fail_rc(c->b, rc, "edge type");
        }
    }
    if ((!r.fid && (rc = s_asset_id(c, r.from, &r.fid)) != SL_OK) ||
        (!r.tid && (rc = s_asset_id(c, r.to, &r.tid)) != SL_OK) ||
        (rc = s_edge_write(c, &r, prop, job, 1)) != SL_OK) {
        return rc;
    }
    return s_edge_log(c, r.from, r.to, "create", r.type, NULL, job, NULL, &prop);
}

static int s_edge_deleted(s_ctx_t *c, const char *from, const char *to, const char *type, int prop,
                          const char *job)
{
    return s_edge_log(c, from, to, "delete", type, job, NULL, &prop, NULL);
}

static int s_apply_edge_delete(s_ctx_t *c)
{
    s_edge_ref_t r;
    const char *job;
    char oldjob[S_MAX_DUP + 1];
    int prop, oldprop = 1, rc;
    s_edge_body(c, &r.from, &r.to, &r.type, &job, &prop);
    if (c->dead) {
        return SL_OK;
    }
    rc = s_edge_ids(c, &r);
    if (rc == SL_OK) {
        rc = s_edge_find(c, &r, &oldprop, oldjob, sizeof oldjob);
    }
    if (rc == SL_ENOTFOUND) {
        return SL_OK;
    }
    if (rc != SL_OK || (rc = s_edge_write(c, &r, oldprop, oldjob, 0)) != SL_OK) {
        return rc;
    }
    return s_edge_deleted(c, r.from, r.to, r.type, oldprop, oldjob);
}

static int s_edge_json(void *arg, const s_edge_t *e)
{
    json_t *j = json_pack("[s%,I,I,s%,b,s%]", e->name, e->nlen, (json_int_t)e->other,
                          (json_int_t)e->code, e->type, e->tlen, e->prop, e->job, e->jlen);
    return j && json_array_append_new(arg, j) == 0 ? SL_OK : SL_ENOMEM;
}

/*  All edges of asset `id` in one direction (0 down, 1 up) as
    [[other, other id, type code, type, propagate, job]]: copies, since the
    edges are deleted while they are walked. */
static int s_edges_of(s_ctx_t *c, uint64_t id, int dir, json_t **out)
{
    if (!(*out = json_array())) {
        return SL_ENOMEM;
    }
    int rc = sl_store__edges_each(c->txn, c->e, c->t->tenant, id, dir, S_EDGE_NAMES | S_EDGE_JOB,
                                  s_edge_json, *out);
    return rc == SL_OK || rc == SL_ENOMEM ? rc : s_fail_rc(c->b, rc, "edges");
}

/* ---- asset.delete */

static int s_apply_asset_delete(s_ctx_t *c)
{
    const char *qn;
    json_t *asset = NULL, *ch = NULL, *edges = NULL;
    int rc;
    s_req_name(c, "qualified_name", &qn);
    if (c->dead) {
        return SL_OK;
    }
    if ((rc = s_asset_get(c, qn, &asset)) != SL_OK || !asset) {
        goto fail;
    }
    /*  Tags first, then edges, then the asset: a follower that replays the
        log sees the parts go before the whole. */
    const char *name;
    json_t *entry;
    json_object_foreach(json_object_get(asset, "tags"), name, entry)
    {
        json_t *own = json_object_get(entry, "own");
        if (!json_is_object(own)) {
            continue; /* propagated: the walker's, gone with the asset */
        }
        ch = json_object();
        if (!ch || s_change_s(ch, "tag", name, NULL) != SL_OK ||
            s_change(ch, "propagate", json_object_get(own, "propagate"), NULL) != SL_OK ||
            s_change(ch, "set_by", json_object_get(own, "set_by"), NULL) != SL_OK) {
            rc = SL_ENOMEM;
            goto fail;
        }
        rc = s_log(c, "tag", qn, "delete", ch);
        ch = NULL;
        if (rc != SL_OK) {
            goto fail;
        }
    }
    uint64_t id = (uint64_t)json_integer_value(json_object_get(asset, "id"));
    for (int dir = 0; dir < 2; dir++) {
        size_t i;
        json_t *e;
        if ((rc = s_edges_of(c, id, dir, &edges)) != SL_OK) {
            goto fail;
        }
        json_array_foreach(edges, i, e)
        {
            const char *o = json_string_value(json_array_get(e, 0));
            uint64_t oid = (uint64_t)json_integer_value(json_array_get(e, 1));
            s_edge_ref_t r = {.from = dir == 0 ? qn : o,
                              .to = dir == 0 ? o : qn,
                              .type = json_string_value(json_array_get(e, 3)),
                              .fid = dir == 0 ? id : oid,
                              .tid = dir == 0 ? oid : id,
                              .code = (unsigned)json_integer_value(json_array_get(e, 2))};
            int p = json_is_true(json_array_get(e, 4));
            const char *j = json_string_value(json_array_get(e, 5));
            if ((rc = s_edge_write(c, &r, p, j, 0)) != SL_OK ||
                (rc = s_edge_deleted(c, r.from, r.to, r.type, p, j)) != SL_OK) {
                goto fail;
            }
        }
        json_decref(edges);
        edges = NULL;
    }
    ch = json_object();
    const char *f;
    json_t *v;
    json_object_foreach(asset, f, v)
    {
        if (strcmp(f, "tags") == 0 || strcmp(f, "version") == 0 || strcmp(f, "created_at") == 0 ||
            strcmp(f, "updated_at") == 0 || strcmp(f, "id") == 0) {
            continue;
        }
        if (!ch || s_change(ch, f, v, NULL) != SL_OK) {
            rc = SL_ENOMEM;
            goto fail;
        }
    }
    /*  Its blocks go with it (copies at it are the walker's to retract:
        the edge deletions above make it recompute them). */
    if ((rc = sl_store__key(&c->b->k, c->t->tenant, 1, qn)) != SL_OK ||
        (rc = s_del(c, S_DB_ASSETS, c->b->k.data, c->b->k.len, NULL, 0)) != SL_OK ||
        (rc = s_del(c, S_DB_BLOCKS, c->b->k.data, c->b->k.len, NULL, 0)) != SL_OK) {
        goto fail;
    }
    if ((rc = sl_store__id_drop(c->txn, c->e, c->t->tenant, id)) != SL_OK) {
        rc = s_fail_rc(c->b, rc, "asset id");
        goto fail;
    }
    rc = s_log(c, "asset", qn, "delete", ch);
    ch = NULL;
fail:
    json_decref(edges);
    json_decref(ch);
    json_decref(asset);
    return rc;
}

/* ---- incidents */

static const char *const s_inc_fields[] = {
    "qualified_names", "type",          "sub_types", "title", "severity",   "priority",
    "status",          "source_status", "owner",     "url",   "created_at", "updated_at",
};

static int s_is_time_field(const char *f)
{
    return strcmp(f, "created_at") == 0 || strcmp(f, "updated_at") == 0 ||
           strcmp(f, "resolved_at") == 0 || strcmp(f, "at") == 0;
}

/*  A change value as the log shows it: times as RFC 3339 text. */
static json_t *s_shown(const char *field, json_t *v)
{
    if (v && s_is_time_field(field)) {
        return sl_store__time(v);
    }
    return v ? json_incref(v) : json_null();
}

static int s_inc_change(json_t *ch, const char *f, json_t *before, json_t *after)
{
    json_t *b = s_shown(f, before), *a = s_shown(f, after);
    json_t *pair =
        json_pack("{s:o,s:o}", "before", b ? b : json_null(), "after", a ? a : json_null());
    if (!pair || json_object_set_new(ch, f, pair) != 0) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

/*  The body's incident fields, checked and normalised (times as us). */
static json_t *s_inc_body(s_ctx_t *c)
{
    json_t *nv = json_object();
    int present;
    if (!nv) {
        return NULL;
    }
    json_t *names = s_opt_str_array(c, "qualified_names");
    size_t i;
    json_t *e;
    json_array_foreach(names, i, e)
    {
        if (!c->dead) {
            char f[48];
            snprintf(f, sizeof f, "qualified_names[%zu]", i);
            s_name_ok(c, f, e);
        }
    }
    if (names) {
        json_object_set(nv, "qualified_names", names);
    }
    static const char *const strs[] = {"type", "title", "source_status", "owner", "url", "status"};
    for (size_t k = 0; k < sizeof strs / sizeof *strs && !c->dead; k++) {
        json_t *v = s_opt(c, strs[k], JSON_STRING, "a string");
        if (v) {
            json_object_set(nv, strs[k], v);
        }
    }
    json_t *st = json_object_get(nv, "status");
    if (!c->dead && st && strcmp(json_string_value(st), "open") != 0 &&
        strcmp(json_string_value(st), "acknowledged") != 0 &&
        strcmp(json_string_value(st), "resolved") != 0) {
        s_reject(c, "%s: body.status: expected open, acknowledged or resolved", c->kind);
    }
    json_t *subs = c->dead ? NULL : s_opt_str_array(c, "sub_types");
    if (subs) {
        json_object_set(nv, "sub_types", subs);
    }
    static const char *const scalars[] = {"severity", "priority"};
    for (size_t k = 0; k < 2 && !c->dead; k++) {
        json_t *v = json_object_get(c->body, scalars[k]);
        if (!v || json_is_null(v)) {
            continue;
        }
        if (!json_is_string(v) && !json_is_number(v)) {
            s_reject(c, "%s: body.%s: expected a string or a number", c->kind, scalars[k]);
        } else {
            json_object_set(nv, scalars[k], v);
        }
    }
    static const char *const times[] = {"created_at", "updated_at"};
    for (size_t k = 0; k < 2 && !c->dead; k++) {
        int64_t us = s_opt_time(c, times[k], &present);
        if (present && !c->dead) {
            json_object_set_new(nv, times[k], json_integer(us));
        }
    }
    if (!c->dead && !json_object_get(nv, "updated_at")) {
        json_object_set_new(nv, "updated_at", json_integer(c->at));
    }
    return nv;
}

static int s_inc_index(s_ctx_t *c, json_t *names, const char *ikey, size_t ilen, int put)
{
    size_t i;
    json_t *e;
    int rc = SL_OK;
    json_array_foreach(names, i, e)
    {
        if (!json_is_string(e) ||
            (rc = sl_store__key(&c->b->k2, c->t->tenant, 1, json_string_value(e))) != SL_OK) {
            continue;
        }
        if (put) {
            rc = s_put(c, S_DB_INC_IDX, c->b->k2.data, c->b->k2.len, ikey, ilen, MDB_NODUPDATA);
        } else {
            rc = s_del(c, S_DB_INC_IDX, c->b->k2.data, c->b->k2.len, ikey, ilen);
        }
        if (rc != SL_OK) {
            break;
        }
    }
    return rc;
}

static int s_apply_incident(s_ctx_t *c)
{
    const char *src, *ext;
    json_t *nv = NULL, *old = NULL, *inc = NULL, *ch = NULL;
    char ikey[2 * S_MAX_NAME + 2], key[2 * S_MAX_NAME + 2];
    MDB_val v;
    int rc = SL_OK;
    s_req_name(c, "source", &src);
    if (!c->dead) {
        s_req_name(c, "external_id", &ext);
    }
    if (!c->dead && strlen(src) + strlen(ext) + 1 > S_MAX_NAME) {
        s_reject(c, "%s: source and external_id together longer than %d bytes", c->kind,
                 S_MAX_NAME - 1);
    }
    if (c->dead) {
        return SL_OK;
    }
    if (!(nv = s_inc_body(c)) || c->dead) {
        rc = nv ? SL_OK : SL_ENOMEM;
        goto fail;
    }
    size_t sl = strlen(src), el = strlen(ext);
    memcpy(ikey, src, sl + 1);
    memcpy(ikey + sl + 1, ext, el);
    size_t ilen = sl + 1 + el;
    snprintf(key, sizeof key, "%s/%s", src, ext);
    sl_buf_reset(&c->b->k);
    if ((rc = sl_buf_append(&c->b->k, c->t->tenant, strlen(c->t->tenant) + 1)) != SL_OK ||
        (rc = sl_buf_append(&c->b->k, ikey, ilen)) != SL_OK) {
        goto fail;
    }
    rc = s_get(c, S_DB_INC, c->b->k.data, c->b->k.len, &v);
    if (rc == SL_OK) {
        if (!(old = sl_store__tree(&v)) || !json_is_object(old)) {
            rc = s_fail_batch(c->b, MDB_CORRUPTED, "read incident");
            goto fail;
        }
    } else if (rc != SL_ENOTFOUND) {
        goto fail;
    }
    rc = SL_OK;
    json_int_t nu = json_integer_value(json_object_get(nv, "updated_at"));
    if (old && json_integer_value(json_object_get(old, "updated_at")) > nu) {
        goto done; /* an older update never overwrites a newer one */
    }
    inc = old ? json_deep_copy(old) : json_pack("{s:s,s:s}", "source", src, "external_id", ext);
    if (!inc || !(ch = json_object())) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if (!old) {
        if (!json_object_get(nv, "status")) {
            json_object_set_new(nv, "status", json_string("open"));
        }
        if (!json_object_get(nv, "created_at")) {
            json_object_set_new(nv, "created_at", json_integer(nu));
        }
        if ((rc = s_change_s(ch, "source", NULL, src)) != SL_OK ||
            (rc = s_change_s(ch, "external_id", NULL, ext)) != SL_OK) {
            goto fail;
        }
    }
    for (size_t i = 0; i < sizeof s_inc_fields / sizeof *s_inc_fields; i++) {
        const char *f = s_inc_fields[i];
        json_t *n = json_object_get(nv, f), *o = json_object_get(inc, f);
        if (!n || (o && json_equal(o, n))) {
            continue;
        }
        if ((rc = s_inc_change(ch, f, o, n)) != SL_OK) {
            goto fail;
        }
        json_object_set(inc, f, n);
    }
    json_t *ost = old ? json_object_get(old, "status") : NULL;
    json_t *nst = json_object_get(inc, "status");
    if (!ost || !json_equal(ost, nst)) {
        /*  A status change: history, and the resolved time. */
        json_t *hist = json_object_get(inc, "history");
        if (!json_is_array(hist)) {
            hist = json_array();
            json_object_set_new(inc, "history", hist);
        }
        json_t *h = json_pack("{s:O,s:I}", "status", nst, "at", nu);
        if (h && json_object_get(inc, "source_status")) {
            json_object_set(h, "source_status", json_object_get(inc, "source_status"));
        }
        if (!h || json_array_append_new(hist, h) != 0) {
            rc = SL_ENOMEM;
            goto fail;
        }
        json_t *ora = json_object_get(inc, "resolved_at");
        if (strcmp(json_string_value(nst), "resolved") == 0) {
            json_t *ra = json_integer(nu);
            rc = s_inc_change(ch, "resolved_at", ora, ra);
            json_object_set_new(inc, "resolved_at", ra);
        } else if (ora) {
            rc = s_inc_change(ch, "resolved_at", ora, NULL);
            json_object_del(inc, "resolved_at");
        }
        if (rc != SL_OK) {
            goto fail;
        }
    }
    if (json_object_size(ch) == 0) {
        goto done;
    }
    json_t *onames = old ? json_object_get(old, "qualified_names") : NULL;
    json_t *nnames = json_object_get(inc, "qualified_names");
    /*  An incident attaches to its assets: one that the catalog does not
        know yet becomes a placeholder, as for lineage, so that reading the
        asset shows the incident. */
    size_t ni;
    json_t *nm;
    json_array_foreach(nnames, ni, nm)
    {
        uint64_t id;
        if (json_is_string(nm) && (rc = s_asset_id(c, json_string_value(nm), &id)) != SL_OK) {
            goto fail;
        }
    }
    if (!onames || !nnames || !json_equal(onames, nnames)) {
        if ((rc = s_inc_index(c, onames, ikey, ilen, 0)) != SL_OK ||
            (rc = s_inc_index(c, nnames, ikey, ilen, 1)) != SL_OK) {
            goto fail;
        }
    }
    sl_buf_reset(&c->b->v);
    if ((rc = sl_jansson_to_msgpack(inc, &c->b->v)) != SL_OK) {
        goto fail;
    }
    sl_buf_reset(&c->b->k);
    if ((rc = sl_buf_append(&c->b->k, c->t->tenant, strlen(c->t->tenant) + 1)) != SL_OK ||
        (rc = sl_buf_append(&c->b->k, ikey, ilen)) != SL_OK ||
        (rc = s_put(c, S_DB_INC, c->b->k.data, c->b->k.len, c->b->v.data, c->b->v.len, 0)) !=
            SL_OK) {
        goto fail;
    }
    rc = s_log(c, "incident", key, old ? "update" : "create", ch);
    ch = NULL;
done:
fail:
    json_decref(ch);
    json_decref(inc);
    json_decref(old);
    json_decref(nv);
    return rc;
}

/* ---- dispatch */

/* ---- propagation (the lineage walker's copies) and blocks */

/*  A change record of a copy, written as msgpack directly (a 100k-copy
    walk logs 100k of these): value and source always (identity), then
    path_length and via as they change. */
static int s_copy_log(s_ctx_t *c, const char *target, const char *op, const sl_store_copy_t *old,
                      const char *value, const char *source, json_int_t depth, const char *via)
{
    sl_buf_t *m = &c->b->chg;
    int64_t od = old ? (int64_t)old->depth : 0, nd = depth;
    int dch = !old || !via || od != nd, vch = !old || !via || strcmp(old->via, via) != 0;
    sl_buf_reset(m);
    int rc = sl_mp_container(m, 1, 2 + (size_t)dch + (size_t)vch);
    if (rc == SL_OK) {
        rc = s_mp_change(m, "value", 's', old ? value : NULL, via ? value : NULL);
    }
    if (rc == SL_OK) {
        rc = s_mp_change(m, "source", 's', old ? source : NULL, via ? source : NULL);
    }
    if (rc == SL_OK && dch) {
        rc = s_mp_change(m, "path_length", 'i', old ? &od : NULL, via ? &nd : NULL);
    }
    if (rc == SL_OK && vch) {
        rc = s_mp_change(m, "via", 's', old ? old->via : NULL, via);
    }
    return rc ? rc : s_log_mp(c, "propagation", target, op, m->data, m->len);
}

/*  The stored copy (target, value, source), its strings in `keep`. */
static int s_copy_get(s_ctx_t *c, const char *target, const char *value, const char *source,
                      sl_buf_t *keep, sl_store_copy_t *out)
{
    MDB_val v;
    int rc = sl_store__prop_key(&c->b->k, c->t->tenant, target, value, source);
    if (rc == SL_OK) {
        rc = s_get(c, S_DB_PROP, c->b->k.data, c->b->k.len, &v);
    }
    if (rc != SL_OK) {
        return rc;
    }
    sl_buf_reset(keep);
    if ((rc = sl_buf_append(keep, v.mv_data, v.mv_size)) != SL_OK ||
        (rc = sl_buf_append(keep, "", 1)) != SL_OK) {
        return rc;
    }
    MDB_val kv = {v.mv_size, keep->data};
    if (sl_store__prop_parse(&kv, out) != SL_OK) {
        return s_fail_batch(c->b, MDB_CORRUPTED, "read propagated copy");
    }
    return SL_OK;
}

/*  Write (put) or remove both records of a copy. */
static int s_copy_write(s_ctx_t *c, const char *target, const char *value, const char *source,
                        uint32_t depth, const char *via, int put)
{
    int rc;
    for (int i = 0; i < 2; i++) {
        int db = i == 0 ? S_DB_PROP : S_DB_PIDX;
        rc = i == 0 ? sl_store__prop_key(&c->b->k, c->t->tenant, target, value, source)
                    : sl_store__pidx_key(&c->b->k, c->t->tenant, value, source, target);
        if (rc == SL_OK && put) {
            rc = i == 0 ? sl_store__prop_val(&c->b->v, depth, target, value, source, via)
                        : sl_store__prop_val(&c->b->v, depth, target, NULL, NULL, via);
        }
        if (rc == SL_OK) {
            rc = put ? s_put(c, db, c->b->k.data, c->b->k.len, c->b->v.data, c->b->v.len, 0)
                     : s_del(c, db, c->b->k.data, c->b->k.len, NULL, 0);
        }
        if (rc != SL_OK) {
            return rc;
        }
    }
    return SL_OK;
}

static int s_apply_prop_set(s_ctx_t *c)
{
    const char *target, *value, *source, *via;
    sl_buf_t keep = {0};
    sl_store_copy_t old;
    MDB_val av;
    s_req_name(c, "target", &target);
    if (!c->dead) {
        s_req_name(c, "value", &value);
    }
    if (!c->dead) {
        s_req_name(c, "source", &source);
    }
    if (!c->dead) {
        s_req_name(c, "via", &via);
    }
    json_t *dj = c->dead ? NULL : json_object_get(c->body, "depth");
    if (!c->dead && (!json_is_integer(dj) || json_integer_value(dj) < 1 ||
                     json_integer_value(dj) > INT32_MAX)) {
        s_reject(c, "%s: body.depth: expected an integer >= 1", c->kind);
    }
    if (c->dead) {
        return SL_OK;
    }
    json_int_t depth = json_integer_value(dj);
    /*  A target deleted since the walker looked: nothing to attach to
        (the deletion's own recomputation has it covered). */
    int rc = sl_store__key(&c->b->k, c->t->tenant, 1, target);
    if (rc == SL_OK) {
        rc = s_get(c, S_DB_ASSETS, c->b->k.data, c->b->k.len, &av);
    }
    if (rc == SL_ENOTFOUND) {
        return SL_OK;
    }
    if (rc != SL_OK) {
        return rc;
    }
    rc = s_copy_get(c, target, value, source, &keep, &old);
    int had = rc == SL_OK;
    if (rc == SL_ENOTFOUND || (had && ((json_int_t)old.depth != depth || strcmp(old.via, via)))) {
        rc = s_copy_write(c, target, value, source, (uint32_t)depth, via, 1);
        if (rc == SL_OK) {
            rc = s_copy_log(c, target, had ? "update" : "create", had ? &old : NULL, value, source,
                            depth, via);
        }
    }
    sl_buf_free(&keep);
    return rc;
}

static int s_apply_prop_unset(s_ctx_t *c)
{
    const char *target, *value, *source;
    sl_buf_t keep = {0};
    sl_store_copy_t old;
    s_req_name(c, "target", &target);
    if (!c->dead) {
        s_req_name(c, "value", &value);
    }
    if (!c->dead) {
        s_req_name(c, "source", &source);
    }
    if (c->dead) {
        return SL_OK;
    }
    int rc = s_copy_get(c, target, value, source, &keep, &old);
    if (rc == SL_OK) {
        rc = s_copy_write(c, target, value, source, 0, NULL, 0);
        if (rc == SL_OK) {
            rc = s_copy_log(c, target, "delete", &old, value, source, 0, NULL);
        }
    } else if (rc == SL_ENOTFOUND) {
        rc = SL_OK;
    }
    sl_buf_free(&keep);
    return rc;
}

static int s_apply_prop_fence(s_ctx_t *c)
{
    const char *consumer;
    s_req_name(c, "consumer", &consumer);
    /*  Only marks: a fence must never move a follower's cursor. */
    if (!c->dead && strncmp(consumer, ".fence/", 7) != 0) {
        s_reject(c, "%s: body.consumer: expected a fence mark name starting with '.fence/'",
                 c->kind);
    }
    json_t *tok = c->dead ? NULL : json_object_get(c->body, "token");
    if (!c->dead && (!json_is_integer(tok) || json_integer_value(tok) < 0)) {
        s_reject(c, "%s: body.token: expected an integer >= 0", c->kind);
    }
    if (c->dead) {
        return SL_OK;
    }
    uint8_t be[8];
    sl_store__be64(be, (uint64_t)json_integer_value(tok));
    int rc = sl_store__key(&c->b->k, c->t->tenant, 1, consumer);
    return rc ? rc : s_put(c, S_DB_CURSORS, c->b->k.data, c->b->k.len, be, 8, 0);
}

/*  block.set / block.unset: the patterns of S_DB_BLOCKS at the asset. */
static int s_apply_block(s_ctx_t *c, int set)
{
    const char *qn, *tag;
    json_t *a = NULL;
    MDB_val v;
    sl_buf_t nv = {0};
    int rc, found = 0;
    s_req_name(c, "qualified_name", &qn);
    if (!c->dead) {
        s_req_name(c, "tag", &tag);
    }
    if (c->dead) {
        return SL_OK;
    }
    if (set && (rc = s_asset_ensure(c, qn, &a)) != SL_OK) {
        json_decref(a);
        return rc;
    }
    json_decref(a);
    if ((rc = sl_store__key(&c->b->k2, c->t->tenant, 1, qn)) != SL_OK) {
        return rc;
    }
    rc = s_get(c, S_DB_BLOCKS, c->b->k2.data, c->b->k2.len, &v);
    if (rc != SL_OK && rc != SL_ENOTFOUND) {
        return rc;
    }
    /*  Rebuild the list without `tag`, noting whether it was there. */
    const char *p = rc == SL_OK ? v.mv_data : NULL, *end = p ? p + v.mv_size : NULL;
    while (p && p < end) {
        size_t n = strnlen(p, (size_t)(end - p));
        if (n == strlen(tag) && memcmp(p, tag, n) == 0) {
            found = 1;
        } else if ((rc = sl_buf_append(&nv, p, n)) != SL_OK ||
                   (rc = sl_buf_append(&nv, "", 1)) != SL_OK) {
            goto out;
        }
        p += n + 1;
    }
    rc = SL_OK;
    if (found == set) {
        goto out; /* NOOP */
    }
    if (set && ((rc = sl_buf_append(&nv, tag, strlen(tag))) != SL_OK ||
                (rc = sl_buf_append(&nv, "", 1)) != SL_OK)) {
        goto out;
    }
    if (nv.len + c->b->k2.len > 64 * 1024) {
        s_reject(c, "%s: too many blocks at '%s' (64 KiB)", c->kind, qn);
        goto out;
    }
    rc = nv.len ? s_put(c, S_DB_BLOCKS, c->b->k2.data, c->b->k2.len, nv.data, nv.len, 0)
                : s_del(c, S_DB_BLOCKS, c->b->k2.data, c->b->k2.len, NULL, 0);
    if (rc == SL_OK) {
        json_t *ch = json_object();
        rc = !ch || s_change_s(ch, "tag", set ? NULL : tag, set ? tag : NULL) != SL_OK
                 ? SL_ENOMEM
                 : s_log(c, "block", qn, set ? "create" : "delete", ch);
        if (rc == SL_ENOMEM) {
            json_decref(ch);
        }
    }
out:
    sl_buf_free(&nv);
    return rc;
}

static int s_apply_block_set(s_ctx_t *c)
{
    return s_apply_block(c, 1);
}

static int s_apply_block_unset(s_ctx_t *c)
{
    return s_apply_block(c, 0);
}

typedef struct {
    const char *kind;
    int (*fn)(s_ctx_t *c);
} s_kind_t;

static const s_kind_t s_kinds[] = {
    {"asset.upsert", s_apply_asset_upsert},
    {"asset.delete", s_apply_asset_delete},
    {"tag.set", s_apply_tag_set},
    {"tag.unset", s_apply_tag_unset},
    {"owner.set", s_apply_owner_set},
    {"lineage.edge", s_apply_edge},
    {"lineage.edge.delete", s_apply_edge_delete},
    {"incident.upsert", s_apply_incident},
    {"block.set", s_apply_block_set},
    {"block.unset", s_apply_block_unset},
    {"propagation.set", s_apply_prop_set},
    {"propagation.unset", s_apply_prop_unset},
    {"propagation.fence", s_apply_prop_fence},
};

/*  The highest dead-letter seq ever given out for the tenant: the last
    key, or the mark a purge left (key `tenant\0`, be64 value) when it
    deleted the last ones, so a number is never given out twice. */
static int s_dead_last(MDB_txn *txn, MDB_dbi dbi, const char *tenant, uint64_t *seq)
{
    int rc = s_last_seq(txn, dbi, tenant, seq);
    MDB_val k = {strlen(tenant) + 1, (void *)tenant}, v;
    if (rc == SL_OK && mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 8 &&
        sl_store__rd64(v.mv_data) > *seq) {
        *seq = sl_store__rd64(v.mv_data);
    }
    return rc;
}

/*  {"seq", "time", "reason", "event": bin (the envelope as msgpack),
    "actor", "attempts"}: the reason made one line of ASCII (a caller's
    reason may quote anything, and every JSON reader takes it). */
static int s_dead_encode(sl_buf_t *v, uint64_t seq, const char *time, size_t timelen,
                         const char *reason, const void *raw, size_t rawlen, const char *actor,
                         uint64_t attempts)
{
    char why[512];
    int rc;
    snprintf(why, sizeof why, "%s", reason);
    for (char *p = why; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            *p = '?';
        }
    }
    sl_buf_reset(v);
    uint8_t hdr[5] = {0xc6, (uint8_t)(rawlen >> 24), (uint8_t)(rawlen >> 16),
                      (uint8_t)(rawlen >> 8), (uint8_t)rawlen};
    if ((rc = sl_buf_append(v, "\x86", 1)) != SL_OK || (rc = sl_mp_str(v, "seq", 3)) != SL_OK ||
        (rc = sl_mp_int(v, (int64_t)seq)) != SL_OK || (rc = sl_mp_str(v, "time", 4)) != SL_OK ||
        (rc = sl_mp_str(v, time, timelen)) != SL_OK || (rc = sl_mp_str(v, "reason", 6)) != SL_OK ||
        (rc = sl_mp_str(v, why, strlen(why))) != SL_OK ||
        (rc = sl_mp_str(v, "event", 5)) != SL_OK || (rc = sl_buf_append(v, hdr, 5)) != SL_OK ||
        (rawlen && (rc = sl_buf_append(v, raw, rawlen)) != SL_OK) ||
        (rc = sl_mp_str(v, "actor", 5)) != SL_OK ||
        (rc = sl_mp_str(v, actor, strlen(actor))) != SL_OK ||
        (rc = sl_mp_str(v, "attempts", 8)) != SL_OK ||
        (rc = sl_mp_int(v, (int64_t)attempts)) != SL_OK) {
        return rc;
    }
    return SL_OK;
}

/*  The raw event as stored with a dead letter. */
static int s_dead_write(sl_store_batch_t *b, s_env_t *e, MDB_txn *txn, const char *tenant,
                        const sl_event_t *ev, const char *actor, const char *reason)
{
    s_bten_t *t;
    uint8_t k[S_MAX_TENANT + 9];
    size_t tl = strlen(tenant);
    sl_buf_t raw = {0};
    sl_buf_t *v = &b->v;
    int rc = s_bten(b, tenant, e, &t);
    if (rc != SL_OK) {
        return rc;
    }
    if (!t->dseq_loaded) {
        if ((rc = s_dead_last(txn, e->dbi[S_DB_DEAD], tenant, &t->dseq)) != SL_OK) {
            return s_fail_batch(b, MDB_PANIC, "dead seq");
        }
        t->dseq_loaded = 1;
    }
    if (sl_event_encode(ev, &raw) != SL_OK) {
        /*  Not encodable (a bound exceeded): keep the reason without it. */
        sl_buf_reset(&raw);
    }
    if ((rc = s_dead_encode(v, t->dseq + 1, b->now_text, strlen(b->now_text), reason, raw.data,
                            raw.len, actor, 1)) != SL_OK ||
        (rc = sl_buf_append(&b->dlm, actor, strlen(actor) + 1)) != SL_OK ||
        (rc = sl_buf_append(&b->dlm, reason, strlen(reason) + 1)) != SL_OK) {
        goto fail;
    }
    memcpy(k, tenant, tl + 1);
    sl_store__be64(k + tl + 1, t->dseq + 1);
    MDB_val key = {tl + 9, k}, val = {v->len, v->data};
    int mrc = mdb_put(txn, e->dbi[S_DB_DEAD], &key, &val, 0);
    if (mrc == 0 && !t->marked && e != b->s->rejected && s_tenant_ok(tenant, tl)) {
        /*  A tenant whose every event was refused still has data. */
        MDB_val tk = {tl, (void *)tenant}, tv = {0, ""};
        mrc = mdb_put(txn, e->dbi[S_DB_TENANTS], &tk, &tv, MDB_NOOVERWRITE);
        mrc = mrc == MDB_KEYEXIST ? 0 : mrc;
        t->marked = mrc == 0;
    }
    if (mrc != 0) {
        rc = s_fail_batch(b, mrc, "put dead letter");
        goto fail;
    }
    t->dseq++;
fail:
    sl_buf_free(&raw);
    return rc;
}

int sl_store_apply(sl_store_batch_t *b, const sl_event_t *ev, sl_apply_t *result, char *reason,
                   size_t reasonlen)
{
    s_ctx_t c;
    char tenant[S_MAX_TENANT + 1];
    char kind[64];
    uint8_t akey[16 + S_MAX_TENANT];
    int rc = SL_OK;
    if (!b || !ev || !result) {
        return SL_EINVAL;
    }
    if (b->err) {
        return b->err;
    }
    memset(&c, 0, sizeof c);
    c.b = b;
    c.ev = ev;
    *result = SL_APPLY_DEAD;
    if (reason && reasonlen) {
        reason[0] = 0;
    }
    s_copy_slice(kind, sizeof kind, ev->kind);
    c.kind = kind;
    sl_uuid_format(ev->id, c.evid);
    c.at = ev->time_us > 0 ? ev->time_us : b->now;

    /*  The tenant decides the environment; one that cannot be used goes to
        a dead letter (isolated: in the environment kept for those). */
    s_copy_slice(tenant, sizeof tenant, ev->tenant);
    int tenant_ok = s_tenant_ok(ev->tenant.ptr, ev->tenant.len);
    if (!tenant_ok) {
        s_reject(&c, "tenant: expected 1..%d printable ASCII bytes, no '/', not starting with '.'",
                 S_MAX_TENANT);
    } else if (!s_allowed(b->s, tenant)) {
        s_reject(&c, "tenant '%s' not allowed in %s store", tenant,
                 b->s->isolated ? "an isolated" : "this");
    }
    if (c.dead) {
        s_env_t *e = b->s->isolated ? b->s->rejected : &b->s->envs[0];
        MDB_txn *txn;
        if (!tenant_ok) {
            snprintf(tenant, sizeof tenant, "%s", ".invalid");
        }
        if ((rc = s_txn(b, e, &txn)) != SL_OK) {
            return rc;
        }
        if (!b->replay) {
            rc = s_dead_write(b, e, txn, tenant, ev, b->actor, c.why);
        }
        goto out;
    }
    if ((rc = sl_store__env(b->s, tenant, &c.e)) != SL_OK ||
        (rc = s_txn(b, c.e, &c.txn)) != SL_OK || (rc = s_bten(b, tenant, c.e, &c.t)) != SL_OK) {
        return rc == SL_EINVAL ? SL_EIO : rc;
    }

    /*  Idempotency: an id already applied changes nothing. The walker's
        propagation.* kinds are idempotent by what they write (a copy set
        twice is set once): their ids are not kept. */
    size_t tl = strlen(tenant);
    int remember = strncmp(kind, "propagation.", 12) != 0;
    memcpy(akey, ev->id, 16);
    memcpy(akey + 16, tenant, tl);
    MDB_val av;
    rc = remember ? s_get(&c, S_DB_APPLIED, akey, 16 + tl, &av) : SL_ENOTFOUND;
    if (rc == SL_OK) {
        *result = SL_APPLY_DUPLICATE;
        return SL_OK;
    }
    if (rc != SL_ENOTFOUND) {
        return rc;
    }

    if (ev->body.len == 0) {
        c.body = json_object();
    } else {
        c.body = sl_msgpack_to_jansson((const uint8_t *)ev->body.ptr, ev->body.len);
    }
    if (!c.body || !json_is_object(c.body)) {
        s_reject(&c, "%s: body: expected a msgpack map", kind);
    } else {
        const s_kind_t *k = NULL;
        for (size_t i = 0; i < sizeof s_kinds / sizeof *s_kinds; i++) {
            if (strcmp(s_kinds[i].kind, kind) == 0 && ev->kind.len == strlen(kind)) {
                k = &s_kinds[i];
            }
        }
        if (!k) {
            s_reject(&c, "unknown kind '%s'", kind);
        } else if ((rc = k->fn(&c)) != SL_OK) {
            goto out;
        }
    }
    if (c.dead && !b->replay) {
        if ((rc = s_dead_write(b, c.e, c.txn, tenant, ev, b->actor, c.why)) != SL_OK) {
            goto out;
        }
    }
    uint8_t at[8];
    sl_store__be64(at, (uint64_t)b->now);
    if (remember && (rc = s_put(&c, S_DB_APPLIED, akey, 16 + tl, at, 8, 0)) != SL_OK) {
        goto out;
    }
    *result = c.dead ? SL_APPLY_DEAD : c.changed ? SL_APPLY_CHANGED : SL_APPLY_NOOP;
out:
    if (rc == SL_OK && c.dead && reason && reasonlen) {
        snprintf(reason, reasonlen, "%s", c.why);
    }
    json_decref(c.body);
    if (rc != SL_OK && !b->err) {
        /*  A failure inside an event leaves it half applied: the batch
            must not commit. */
        b->err = rc;
    }
    return rc;
}

/* --------------------------------------- writes outside a batch */

/*  Run fn in a write transaction of env e: the open batch's if this thread
    holds it (a second write transaction would wait for ourselves), else a
    short one of its own. */
static int s_write(sl_store_t *s, s_env_t *e,
                   int (*fn)(sl_store_batch_t *b, s_env_t *e, MDB_txn *txn, void *arg), void *arg)
{
    sl_store_batch_t *b = NULL;
    int rc, own = 0;
    pthread_mutex_lock(&s->mu);
    if (s->batch_open && pthread_equal(s->owner, pthread_self())) {
        b = s->batch;
    }
    pthread_mutex_unlock(&s->mu);
    if (!b) {
        if ((rc = sl_store_batch_begin(s, &b)) != SL_OK) {
            return rc;
        }
        own = 1;
    } else if (b->err) {
        return b->err;
    }
    MDB_txn *txn;
    if ((rc = s_txn(b, e, &txn)) == SL_OK) {
        rc = fn(b, e, txn, arg);
    }
    if (own) {
        if (rc == SL_OK) {
            rc = sl_store_batch_commit(&b);
        } else {
            sl_store_batch_abort(&b);
        }
    }
    return rc;
}

typedef struct {
    const sl_event_t *ev;
    const char *reason;
    const char *tenant;
    char actor[64];
} s_dl_arg_t;

static int s_dl_fn(sl_store_batch_t *b, s_env_t *e, MDB_txn *txn, void *arg)
{
    s_dl_arg_t *a = arg;
    return s_dead_write(b, e, txn, a->tenant, a->ev, a->actor, a->reason);
}

int sl_store_dead_letter(sl_store_t *s, const sl_event_t *ev, const char *reason)
{
    return sl_store_dead_letter_from(s, ev, "store", reason);
}

void sl_store_batch_set_actor(sl_store_batch_t *b, const char *actor)
{
    if (b) {
        snprintf(b->actor, sizeof b->actor, "%s", actor && actor[0] ? actor : "store");
    }
}

int sl_store_dead_letter_from(sl_store_t *s, const sl_event_t *ev, const char *actor,
                              const char *reason)
{
    char tenant[S_MAX_TENANT + 1];
    s_env_t *e;
    if (!s || !ev) {
        return SL_EINVAL;
    }
    s_copy_slice(tenant, sizeof tenant, ev->tenant);
    if (!s_tenant_ok(ev->tenant.ptr, ev->tenant.len)) {
        snprintf(tenant, sizeof tenant, "%s", ".invalid");
    }
    if (sl_store__env(s, tenant, &e) != SL_OK) {
        e = s->isolated ? s->rejected : &s->envs[0];
    }
    s_dl_arg_t a = {ev, reason ? reason : "", tenant, ""};
    snprintf(a.actor, sizeof a.actor, "%s", actor && actor[0] ? actor : "store");
    /*  An actor name is a label and a JSON string: one line of ASCII. */
    for (char *p = a.actor; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            *p = '?';
        }
    }
    return s_write(s, e, s_dl_fn, &a);
}

/* ---------------------------------------------------------- cursors */

typedef struct {
    const char *tenant;
    const char *consumer;
    uint64_t seq;
    int drop; /* delete the cursor instead */
    int found;
} s_cur_arg_t;

static int s_cur_fn(sl_store_batch_t *b, s_env_t *e, MDB_txn *txn, void *arg)
{
    s_cur_arg_t *a = arg;
    uint8_t v[8];
    int rc = sl_store__key(&b->k2, a->tenant, 1, a->consumer);
    if (rc != SL_OK) {
        return rc;
    }
    sl_store__be64(v, a->seq);
    MDB_val key = {b->k2.len, b->k2.data}, val = {8, v};
    if (a->drop) {
        int mrc = mdb_del(txn, e->dbi[S_DB_CURSORS], &key, NULL);
        a->found = mrc == 0;
        return mrc == 0 || mrc == MDB_NOTFOUND ? SL_OK : s_fail_batch(b, mrc, "delete cursor");
    }
    int mrc = mdb_put(txn, e->dbi[S_DB_CURSORS], &key, &val, 0);
    return mrc == 0 ? SL_OK : s_fail_batch(b, mrc, "put cursor");
}

static int s_consumer_ok(const char *consumer)
{
    return consumer && consumer[0] && strlen(consumer) <= S_MAX_NAME;
}

int sl_store_cursor_set(sl_store_t *s, const char *tenant, const char *consumer, uint64_t seq)
{
    s_env_t *e;
    if (!s_consumer_ok(consumer) || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    s_cur_arg_t a = {tenant, consumer, seq, 0, 0};
    return s_write(s, e, s_cur_fn, &a);
}

int sl_store_cursor_drop(sl_store_t *s, const char *tenant, const char *consumer)
{
    s_env_t *e;
    if (!s_consumer_ok(consumer) || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    s_cur_arg_t a = {tenant, consumer, 0, 1, 0};
    int rc = s_write(s, e, s_cur_fn, &a);
    return rc != SL_OK ? rc : a.found ? SL_OK : SL_ENOTFOUND;
}

int sl_store_cursors_each(sl_store_t *s, const char *tenant, sl_store_cursor_fn fn, void *arg)
{
    s_env_t *e;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    size_t tl = tenant ? strlen(tenant) : 0;
    int rc, n = 0;
    if (!fn || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) != SL_OK) {
        return rc;
    }
    if ((rc = sl_store__mdb_rc(mdb_cursor_open(txn, e->dbi[S_DB_CURSORS], &c))) != SL_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    k.mv_size = tl + 1;
    k.mv_data = (void *)tenant;
    for (int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size > tl + 1 && memcmp(k.mv_data, tenant, tl + 1) == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char name[S_MAX_NAME + 1];
        size_t nl = k.mv_size - tl - 1;
        if (nl > S_MAX_NAME || v.mv_size != 8) {
            continue;
        }
        memcpy(name, (const char *)k.mv_data + tl + 1, nl);
        name[nl] = 0;
        n++;
        if (fn(arg, name, sl_store__rd64(v.mv_data)) != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return n;
}

int sl_store_cursor_get(sl_store_t *s, const char *tenant, const char *consumer, uint64_t *seq)
{
    s_env_t *e;
    MDB_txn *txn;
    sl_buf_t k = {0};
    MDB_val key, val;
    int rc;
    if (!seq || !s_consumer_ok(consumer) || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    *seq = 0;
    if ((rc = sl_store__key(&k, tenant, 1, consumer)) != SL_OK) {
        return rc;
    }
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) != SL_OK) {
        goto fail;
    }
    key.mv_size = k.len;
    key.mv_data = k.data;
    rc = sl_store__mdb_rc(mdb_get(txn, e->dbi[S_DB_CURSORS], &key, &val));
    if (rc == SL_OK && val.mv_size == 8) {
        *seq = sl_store__rd64(val.mv_data);
    }
    if (rc == SL_ENOTFOUND) {
        rc = SL_OK;
    }
    mdb_txn_abort(txn);
fail:
    sl_buf_free(&k);
    return rc;
}

/* ------------------------------------------------------- change log */

/*  A change event's id: deterministic, so a consumer that reads the same
    record twice (live, then again from the log) sees the same id; UUIDv7
    shaped (the record's time in the first 48 bits), then a hash of the
    tenant and the seq, unique per tenant. */
static void s_change_id(uint8_t id[16], const char *tenant, uint64_t seq, int64_t us)
{
    uint64_t ms = us > 0 ? (uint64_t)us / 1000 : 0;
    uint32_t h = 2166136261u;
    for (const char *p = tenant; *p; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    for (int i = 0; i < 6; i++) {
        id[i] = (uint8_t)(ms >> (40 - 8 * i));
    }
    id[6] = (uint8_t)(0x70 | ((h >> 8) & 0x0f));
    id[7] = (uint8_t)h;
    id[8] = (uint8_t)(0x80 | ((seq >> 56) & 0x3f));
    for (int i = 9; i < 16; i++) {
        id[i] = (uint8_t)(seq >> (8 * (15 - i)));
    }
}

int sl_store_changes(sl_store_t *s, const char *tenant, uint64_t after, uint64_t limit,
                     sl_change_fn fn, void *arg)
{
    s_env_t *e;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t key[S_MAX_TENANT + 9];
    MDB_val k, v;
    int rc, n = 0, mrc;
    if (!fn || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    if (after == UINT64_MAX) {
        return 0;
    }
    size_t tl = strlen(tenant);
    memcpy(key, tenant, tl + 1);
    sl_store__be64(key + tl + 1, after + 1);
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) != SL_OK) {
        goto fail;
    }
    if ((rc = sl_store__mdb_rc(mdb_cursor_open(txn, e->dbi[S_DB_CHANGES], &cur))) != SL_OK) {
        goto fail;
    }
    k.mv_data = key;
    k.mv_size = tl + 9;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && (limit == 0 || (uint64_t)n < limit) && n < INT_MAX) {
        if (k.mv_size != tl + 9 || memcmp(k.mv_data, key, tl + 1) != 0) {
            break;
        }
        uint64_t seq = sl_store__rd64((const uint8_t *)k.mv_data + tl + 1);
        sl_event_t ev;
        sl_slice_t ks = {"", 0}, ts;
        int64_t us = 0;
        memset(&ev, 0, sizeof ev);
        sl_msgpack_map_str(v.mv_data, v.mv_size, "key", &ks);
        if (sl_msgpack_map_str(v.mv_data, v.mv_size, "time", &ts) == SL_OK) {
            sl_time_parse(ts.ptr, ts.len, &us);
        }
        ev.version = SL_EVENT_VERSION;
        s_change_id(ev.id, tenant, seq, us);
        ev.tenant = (sl_slice_t){tenant, (uint32_t)tl};
        ev.kind = SL_SLICE("change");
        ev.schema = (sl_slice_t){"", 0};
        ev.source = SL_SLICE("store");
        ev.key = ks;
        ev.time_us = us;
        ev.body = (sl_slice_t){v.mv_data, (uint32_t)v.mv_size};
        n++;
        if (fn(arg, seq, &ev) != 0) {
            break;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
        goto fail;
    }
    rc = n;
fail:
    if (cur) {
        mdb_cursor_close(cur);
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    return rc;
}

int sl_store_last_seq(sl_store_t *s, const char *tenant, uint64_t *seq)
{
    s_env_t *e;
    MDB_txn *txn;
    int rc;
    if (!seq || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) != SL_OK) {
        return rc;
    }
    rc = s_last_seq(txn, e->dbi[S_DB_CHANGES], tenant, seq);
    mdb_txn_abort(txn);
    return rc;
}

char **sl_store_tenants(sl_store_t *s)
{
    char **out = NULL;
    size_t n = 0, cap = 0;
    if (!s) {
        return NULL;
    }
    for (size_t i = 0; i < s->nenvs; i++) {
        MDB_txn *txn;
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_txn_begin(s->envs[i].env, NULL, MDB_RDONLY, &txn) != 0) {
            goto fail;
        }
        if (mdb_cursor_open(txn, s->envs[i].dbi[S_DB_TENANTS], &cur) != 0) {
            mdb_txn_abort(txn);
            goto fail;
        }
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (mrc == 0) {
            if (n + 1 >= cap) {
                cap = cap ? cap * 2 : 8;
                char **nn = realloc(out, cap * sizeof *nn);
                if (!nn) {
                    break;
                }
                out = nn;
            }
            if (!(out[n] = strndup(k.mv_data, k.mv_size))) {
                break;
            }
            out[++n] = NULL;
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        if (mrc == 0) {
            goto fail; /* stopped early: out of memory */
        }
    }
    if (!out) {
        out = calloc(1, sizeof *out);
    }
    return out;
fail:
    for (size_t i = 0; out && i < n; i++) {
        free(out[i]);
    }
    free(out);
    return NULL;
}

/* ------------------------------------------------------ dead letters */

s_env_t *sl_store__env_at(sl_store_t *s, size_t i)
{
    if (i < s->nenvs) {
        return &s->envs[i];
    }
    return i == s->nenvs && s->rejected ? s->rejected : NULL;
}

s_env_t *sl_store__dead_env(sl_store_t *s, const char *tenant)
{
    s_env_t *e;
    if (sl_store__env(s, tenant, &e) == SL_OK) {
        return e;
    }
    return s->isolated ? s->rejected : &s->envs[0];
}

int sl_store__dead_parse(const MDB_val *k, const MDB_val *v, s_dead_t *d)
{
    const uint8_t *kp = k->mv_data;
    const uint8_t *z = k->mv_size >= 9 ? memchr(kp, 0, k->mv_size) : NULL;
    if (!z || (size_t)(z - kp) + 9 != k->mv_size || (size_t)(z - kp) > S_MAX_TENANT) {
        return SL_EPROTO;
    }
    memset(&d->dl, 0, sizeof d->dl);
    memcpy(d->tenant, kp, (size_t)(z - kp) + 1);
    d->dl.tenant = d->tenant;
    d->dl.seq = sl_store__rd64(z + 1);
    snprintf(d->id, sizeof d->id, "%s/%llu", d->tenant, (unsigned long long)d->dl.seq);
    d->dl.id = d->id;
    sl_slice_t sl;
    d->time[0] = d->reason[0] = 0;
    if (sl_msgpack_map_str(v->mv_data, v->mv_size, "time", &sl) == SL_OK) {
        s_copy_slice(d->time, sizeof d->time, sl);
        sl_time_parse(sl.ptr, sl.len, &d->dl.time_us);
    }
    if (sl_msgpack_map_str(v->mv_data, v->mv_size, "reason", &sl) == SL_OK) {
        s_copy_slice(d->reason, sizeof d->reason, sl);
    }
    /*  Dead letters written before actors were recorded came from the
        store or through sl_store_dead_letter: "store" either way. */
    snprintf(d->actor, sizeof d->actor, "%s", "store");
    if (sl_msgpack_map_str(v->mv_data, v->mv_size, "actor", &sl) == SL_OK && sl.len) {
        s_copy_slice(d->actor, sizeof d->actor, sl);
    }
    d->dl.time = d->time;
    d->dl.reason = d->reason;
    d->dl.actor = d->actor;
    d->dl.attempts = 1;
    const uint8_t *p;
    size_t n;
    if (sl_msgpack_map_get(v->mv_data, v->mv_size, "attempts", &p, &n) == SL_OK && n >= 1) {
        uint64_t a = 0;
        if (p[0] < 0x80) {
            a = p[0];
        } else if (p[0] >= 0xcc && p[0] <= 0xcf && n == 1 + ((size_t)1 << (p[0] - 0xcc))) {
            for (size_t i = 1; i < n; i++) {
                a = a << 8 | p[i];
            }
        }
        d->dl.attempts = a ? a : 1;
    }
    if (sl_msgpack_map_get(v->mv_data, v->mv_size, "event", &p, &n) == SL_OK && n > 5 &&
        p[0] == 0xc6) {
        d->dl.raw = p + 5;
        d->dl.rawlen = n - 5;
    }
    return SL_OK;
}

int sl_store__dead_match(const sl_dead_filter_t *f, const sl_dead_letter_t *dl)
{
    if (!f) {
        return 1;
    }
    if (f->tenant && f->tenant[0] && strcmp(f->tenant, dl->tenant) != 0) {
        return 0;
    }
    if (f->actor && f->actor[0] && strcmp(f->actor, dl->actor) != 0) {
        return 0;
    }
    if (f->reason && f->reason[0] && !strstr(dl->reason, f->reason)) {
        return 0;
    }
    if (f->since_us && dl->time_us < f->since_us) {
        return 0;
    }
    if (f->until_us && dl->time_us >= f->until_us) {
        return 0;
    }
    return 1;
}

/*  A selected dead letter, copied out of the cursor's pages (they may move
    once the transaction writes). */
typedef struct {
    s_env_t *e;
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
} s_dsel_t;

typedef struct {
    s_dsel_t *items;
    size_t n, cap;
} s_dsels_t;

static void s_dsels_free(s_dsels_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].val);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/*  Select the dead letters matching f in the batch's write transactions. */
static int s_dead_select(sl_store_batch_t *b, const sl_dead_filter_t *f, s_dsels_t *l)
{
    sl_store_t *s = b->s;
    s_dead_t *d = malloc(sizeof *d);
    int rc = d ? SL_OK : SL_ENOMEM;
    const char *only = f && f->tenant && f->tenant[0] ? f->tenant : NULL;
    if (only && strlen(only) > S_MAX_TENANT) {
        rc = SL_EINVAL;
    }
    for (size_t i = 0; rc == SL_OK && sl_store__env_at(s, i); i++) {
        s_env_t *e = sl_store__env_at(s, i);
        /*  A tenant allowed later keeps its earlier dead letters in the
            environment of the rejected ones. */
        if (only && sl_store__dead_env(s, only) != e && e != s->rejected) {
            continue;
        }
        MDB_txn *txn;
        MDB_cursor *cur;
        if ((rc = s_txn(b, e, &txn)) != SL_OK) {
            break;
        }
        int mrc = mdb_cursor_open(txn, e->dbi[S_DB_DEAD], &cur);
        if (mrc != 0) {
            rc = s_fail_batch(b, mrc, "cursor open");
            break;
        }
        MDB_val k = {only ? strlen(only) + 1 : 0, (void *)only}, v;
        mrc = mdb_cursor_get(cur, &k, &v, only ? MDB_SET_RANGE : MDB_FIRST);
        while (mrc == 0 && rc == SL_OK && (!f || !f->limit || l->n < f->limit)) {
            if (only &&
                (k.mv_size < strlen(only) + 1 || memcmp(k.mv_data, only, strlen(only) + 1))) {
                break;
            }
            if (sl_store__dead_parse(&k, &v, d) == SL_OK && sl_store__dead_match(f, &d->dl)) {
                if (l->n == l->cap) {
                    size_t cap = l->cap ? l->cap * 2 : 16;
                    s_dsel_t *nn = realloc(l->items, cap * sizeof *nn);
                    if (!nn) {
                        rc = SL_ENOMEM;
                        break;
                    }
                    l->items = nn;
                    l->cap = cap;
                }
                s_dsel_t *it = &l->items[l->n];
                it->e = e;
                it->klen = k.mv_size;
                it->vlen = v.mv_size;
                it->key = malloc(k.mv_size);
                it->val = malloc(v.mv_size);
                if (!it->key || !it->val) {
                    free(it->key);
                    free(it->val);
                    rc = SL_ENOMEM;
                    break;
                }
                memcpy(it->key, k.mv_data, k.mv_size);
                memcpy(it->val, v.mv_data, v.mv_size);
                l->n++;
            }
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
            rc = s_fail_batch(b, mrc, "dead letters scan");
        }
    }
    free(d);
    return rc;
}

/*  Delete one selected dead letter; if it is the tenant's last, leave the
    purge mark so its number is not given out again. */
static int s_dead_del(sl_store_batch_t *b, const s_dsel_t *it)
{
    MDB_txn *txn;
    int rc = s_txn(b, it->e, &txn);
    if (rc != SL_OK) {
        return rc;
    }
    MDB_dbi dbi = it->e->dbi[S_DB_DEAD];
    size_t tl = it->klen - 9;
    uint64_t seq = sl_store__rd64(it->key + tl + 1), last = 0;
    char tenant[S_MAX_TENANT + 1];
    memcpy(tenant, it->key, tl + 1);
    if ((rc = s_dead_last(txn, dbi, tenant, &last)) != SL_OK) {
        return s_fail_batch(b, MDB_PANIC, "dead seq");
    }
    MDB_val k = {it->klen, it->key};
    int mrc = mdb_del(txn, dbi, &k, NULL);
    if (mrc == 0 && seq >= last) {
        uint8_t be[8];
        sl_store__be64(be, seq);
        MDB_val mk = {tl + 1, tenant}, mv = {8, be};
        mrc = mdb_put(txn, dbi, &mk, &mv, 0);
    }
    return mrc == 0 || mrc == MDB_NOTFOUND ? SL_OK : s_fail_batch(b, mrc, "delete dead letter");
}

int sl_store_dead_letters_purge(sl_store_t *s, const sl_dead_filter_t *f, uint64_t *deleted)
{
    sl_store_batch_t *b = NULL;
    s_dsels_t l = {0};
    if (deleted) {
        *deleted = 0;
    }
    if (!s) {
        return SL_EINVAL;
    }
    int rc = sl_store_batch_begin(s, &b);
    if (rc != SL_OK) {
        return rc;
    }
    rc = s_dead_select(b, f, &l);
    for (size_t i = 0; rc == SL_OK && i < l.n; i++) {
        rc = s_dead_del(b, &l.items[i]);
    }
    if (rc == SL_OK) {
        rc = sl_store_batch_commit(&b);
    } else {
        sl_store_batch_abort(&b);
    }
    if (rc == SL_OK && deleted) {
        *deleted = l.n;
    }
    s_dsels_free(&l);
    return rc;
}

/*  A dead letter that failed again: same seq, time and event; the new
    reason, attempts + 1. */
static int s_dead_again(sl_store_batch_t *b, const s_dsel_t *it, const s_dead_t *d, const char *why)
{
    MDB_txn *txn;
    int rc = s_txn(b, it->e, &txn);
    if (rc != SL_OK) {
        return rc;
    }
    if ((rc = s_dead_encode(&b->v, d->dl.seq, d->time, strlen(d->time), why, d->dl.raw,
                            d->dl.rawlen, d->actor, d->dl.attempts + 1)) != SL_OK) {
        return rc;
    }
    MDB_val k = {it->klen, it->key}, v = {b->v.len, b->v.data};
    int mrc = mdb_put(txn, it->e->dbi[S_DB_DEAD], &k, &v, 0);
    return mrc == 0 ? SL_OK : s_fail_batch(b, mrc, "put dead letter");
}

/*  Replay one: SL_OK with *res set, or a batch failure. */
static int s_replay_one(sl_store_batch_t *b, const s_dsel_t *it, s_dead_t *d, sl_apply_t *res)
{
    MDB_val k = {it->klen, it->key}, v = {it->vlen, it->val};
    char why[512] = "";
    sl_event_t ev;
    size_t used;
    int rc;
    *res = SL_APPLY_DEAD;
    if (sl_store__dead_parse(&k, &v, d) != SL_OK) {
        return SL_OK;
    }
    if (!d->dl.rawlen || sl_event_decode(d->dl.raw, d->dl.rawlen, &used, &ev) != SL_OK) {
        return s_dead_again(b, it, d,
                            "replay: the event was too large to keep with the dead letter");
    }
    /*  The store records the id of an event it dead-letters as applied,
        in the same batch (so a redelivery is not dead-lettered twice): that
        record carries the dead letter's time to the microsecond. It is
        dropped so the event really runs again, and put back if it fails
        again. A record with another time means the id did reach the store
        by another way (an event another actor rejected, sent again): the
        replay is then a duplicate. */
    char tenant[S_MAX_TENANT + 1];
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    uint8_t akey[16 + S_MAX_TENANT];
    uint8_t own[8];
    int had_own = 0;
    size_t tl;
    s_copy_slice(tenant, sizeof tenant, ev.tenant);
    tl = strlen(tenant);
    memcpy(akey, ev.id, 16);
    memcpy(akey + 16, tenant, tl);
    MDB_val ak = {16 + tl, akey}, av;
    if (sl_store__env(b->s, tenant, &e) == SL_OK) {
        if ((rc = s_txn(b, e, &txn)) != SL_OK) {
            return rc;
        }
        int mrc = mdb_get(txn, e->dbi[S_DB_APPLIED], &ak, &av);
        if (mrc == 0 && av.mv_size == 8 && (int64_t)sl_store__rd64(av.mv_data) == d->dl.time_us) {
            memcpy(own, av.mv_data, 8);
            had_own = 1;
            mrc = mdb_del(txn, e->dbi[S_DB_APPLIED], &ak, NULL);
        }
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            return s_fail_batch(b, mrc, "applied id");
        }
    }
    if ((rc = sl_store_apply(b, &ev, res, why, sizeof why)) != SL_OK) {
        return rc;
    }
    if (*res == SL_APPLY_DEAD && txn) {
        /*  As before the replay: the next replay tells it apart again. */
        MDB_val ov = {8, own};
        int mrc = had_own ? mdb_put(txn, e->dbi[S_DB_APPLIED], &ak, &ov, 0)
                          : mdb_del(txn, e->dbi[S_DB_APPLIED], &ak, NULL);
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            return s_fail_batch(b, mrc, "applied id");
        }
    }
    if (*res == SL_APPLY_DEAD) {
        return s_dead_again(b, it, d, why);
    }
    return s_dead_del(b, it);
}

int sl_store_dead_letters_replay(sl_store_t *s, const sl_dead_filter_t *f, sl_dead_replay_t *r)
{
    sl_store_batch_t *b = NULL;
    s_dsels_t l = {0};
    sl_dead_replay_t cnt = {0};
    s_dead_t *d = NULL;
    if (r) {
        memset(r, 0, sizeof *r);
    }
    if (!s) {
        return SL_EINVAL;
    }
    int rc = sl_store_batch_begin(s, &b);
    if (rc != SL_OK) {
        return rc;
    }
    b->replay = 1;
    if (!(d = malloc(sizeof *d))) {
        rc = SL_ENOMEM;
    }
    if (rc == SL_OK) {
        rc = s_dead_select(b, f, &l);
    }
    cnt.selected = l.n;
    for (size_t i = 0; rc == SL_OK && i < l.n; i++) {
        sl_apply_t res;
        rc = s_replay_one(b, &l.items[i], d, &res);
        cnt.applied += res == SL_APPLY_CHANGED || res == SL_APPLY_NOOP;
        cnt.duplicate += res == SL_APPLY_DUPLICATE;
        cnt.still_dead += res == SL_APPLY_DEAD;
    }
    if (rc == SL_OK) {
        rc = sl_store_batch_commit(&b);
    } else {
        sl_store_batch_abort(&b);
    }
    if (rc == SL_OK && r) {
        *r = cnt;
    }
    free(d);
    s_dsels_free(&l);
    return rc;
}
