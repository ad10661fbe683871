/*  journal: the ingest journal over LMDB, with group commit
    (include/sluice/journal.h has the contract). */
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sluice/event.h"
#include "sluice/journal.h"

#define S_MAX_ENTRY (16u << 20)
#define S_DEFAULT_MAP ((int64_t)1 << 30)

/*  One sl_journal_append call waiting for its group's commit; lives on the
    caller's stack, linked into the open group. */
typedef struct s_waiter {
    struct s_waiter *next;
    int done;
    int rc;
    pthread_cond_t cv; /* own condition: a commit wakes its group only */
} s_waiter_t;

/*  A consumer's confirmation: the newest in memory and the newest written. */
typedef struct {
    char name[256];
    uint64_t seq;
    uint64_t stored;
} s_confirm_t;

struct sl_journal {
    MDB_env *env;
    MDB_dbi entries;
    MDB_dbi cursors;
    /* the process-wide registry (under s_reg_mu) */
    struct sl_journal *reg_next;
    char *real; /* canonical path: one object per directory */
    char id[37];
    int refs;
    /* confirmations (under mu) */
    s_confirm_t conf[SL_JOURNAL_CONSUMERS];
    int n_conf;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* the writer finished (sl_journal_close waits on it) */
    pthread_cond_t new;       /* new durable entries, or closing */
    uint64_t next_seq;        /* next sequence to assign */
    _Atomic uint64_t durable; /* highest committed sequence (read without the lock) */
    int writing;              /* a group commit is running */
    int closing;
    /* the open group: [u32 len][bytes] per entry, sequences from pend_first */
    sl_buf_t pend;
    uint64_t pend_first;
    uint32_t pend_n;
    s_waiter_t *pend_waiters;
    sl_buf_t spare; /* the other buffer, swapped in while a group commits */
};

static pthread_mutex_t s_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static sl_journal_t *s_reg;

static int s_err(int mrc)
{
    switch (mrc) {
    case MDB_SUCCESS:
        return SL_OK;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        return SL_EFULL;
    case ENOMEM:
        return SL_ENOMEM;
    case MDB_NOTFOUND:
        return SL_ENOTFOUND;
    default:
        return SL_EIO;
    }
}

static void s_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/*  The journal's id from "meta", made on first open. */
static int s_load_id(sl_journal_t *j, MDB_txn *txn)
{
    MDB_dbi meta;
    int mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
    if (mrc) {
        return mrc;
    }
    MDB_val k = {2, "id"}, v;
    mrc = mdb_get(txn, meta, &k, &v);
    if (mrc == 0 && v.mv_size == 36) {
        memcpy(j->id, v.mv_data, 36);
        j->id[36] = '\0';
        return 0;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        return mrc;
    }
    uint8_t raw[16];
    sl_event_id_new(raw);
    sl_uuid_format(raw, j->id);
    v = (MDB_val){36, j->id};
    return mdb_put(txn, meta, &k, &v, 0);
}

static sl_journal_t *s_open_env(const sl_journal_opts_t *opts, const char *real, char *err,
                                size_t errlen)
{
    sl_journal_t *j = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    int mrc = 0;
    const char *what = "";
    j = calloc(1, sizeof *j);
    if (!j || !(j->real = strdup(real))) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->new, &ca);
    pthread_condattr_destroy(&ca);

    what = "mdb_env_create";
    if ((mrc = mdb_env_create(&j->env)) != 0) {
        goto fail;
    }
    what = "map size";
    if ((mrc = mdb_env_set_mapsize(
             j->env, (size_t)(opts->map_size > 0 ? opts->map_size : S_DEFAULT_MAP))) != 0 ||
        (mrc = mdb_env_set_maxdbs(j->env, 4)) != 0) {
        goto fail;
    }
    /*  NOTLS: read transactions are made and ended on whichever thread
        reads; NOSYNC only where the caller asked (tests). */
    unsigned flags = MDB_NOTLS | (opts->nosync ? MDB_NOSYNC : 0);
    what = "mdb_env_open";
    if ((mrc = mdb_env_open(j->env, opts->path, flags, 0640)) != 0) {
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(j->env, &dead); /* slots of a killed process */
    what = "open databases";
    if ((mrc = mdb_txn_begin(j->env, NULL, 0, &txn)) != 0 ||
        (mrc = mdb_dbi_open(txn, "entries", MDB_CREATE, &j->entries)) != 0 ||
        (mrc = mdb_dbi_open(txn, "cursors", MDB_CREATE, &j->cursors)) != 0 ||
        (mrc = s_load_id(j, txn)) != 0) {
        goto fail;
    }
    /*  The next sequence follows the last entry, or the highest cursor if
        everything was trimmed: a sequence is never given out twice. */
    uint64_t last = 0;
    MDB_val k, v;
    if ((mrc = mdb_cursor_open(txn, j->entries, &c)) != 0) {
        goto fail;
    }
    mrc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (mrc == 0 && k.mv_size == 8) {
        last = s_get64(k.mv_data);
    } else if (mrc != MDB_NOTFOUND && mrc != 0) {
        goto fail;
    }
    mdb_cursor_close(c);
    c = NULL;
    if ((mrc = mdb_cursor_open(txn, j->cursors, &c)) != 0) {
        goto fail;
    }
    while ((mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        if (v.mv_size == 8 && s_get64(v.mv_data) > last) {
            last = s_get64(v.mv_data);
        }
    }
    if (mrc != MDB_NOTFOUND) {
        goto fail;
    }
    mdb_cursor_close(c);
    c = NULL;
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    txn = NULL;
    j->durable = last;
    j->next_seq = last + 1;
    return j;
fail:
    snprintf(err, errlen, "journal %s: %s: %s", opts->path, what, mdb_strerror(mrc));
    if (c) {
        mdb_cursor_close(c);
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    if (j->env) {
        mdb_env_close(j->env);
    }
    pthread_cond_destroy(&j->new);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->real);
    free(j);
    return NULL;
}

sl_journal_t *sl_journal_open(const sl_journal_opts_t *opts, char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (!opts || !opts->path || !opts->path[0]) {
        snprintf(err, errlen, "no journal path");
        return NULL;
    }
    /* the journal usually lives inside the store's directory, which the
       store actor may not have made yet */
    if (sl_mkdirs(opts->path, 0750) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", opts->path, strerror(errno));
        return NULL;
    }
    if (!realpath(opts->path, real)) {
        snprintf(err, errlen, "cannot resolve %s: %s", opts->path, strerror(errno));
        return NULL;
    }
    /*  Under the registry lock: two openers of one directory must not
        both open the environment. */
    pthread_mutex_lock(&s_reg_mu);
    sl_journal_t *j = s_reg;
    while (j && strcmp(j->real, real) != 0) {
        j = j->reg_next;
    }
    if (j) {
        j->refs++;
    } else if ((j = s_open_env(opts, real, err, errlen)) != NULL) {
        j->refs = 1;
        j->reg_next = s_reg;
        s_reg = j;
    }
    pthread_mutex_unlock(&s_reg_mu);
    return j;
}

sl_journal_t *sl_journal_find(const char *id)
{
    if (!id) {
        return NULL;
    }
    pthread_mutex_lock(&s_reg_mu);
    sl_journal_t *j = s_reg;
    while (j && strcmp(j->id, id) != 0) {
        j = j->reg_next;
    }
    if (j) {
        j->refs++;
    }
    pthread_mutex_unlock(&s_reg_mu);
    return j;
}

const char *sl_journal_id(const sl_journal_t *j)
{
    return j->id;
}

void sl_journal_close(sl_journal_t **jp)
{
    if (!jp || !*jp) {
        return;
    }
    sl_journal_t *j = *jp;
    *jp = NULL;
    pthread_mutex_lock(&s_reg_mu);
    if (--j->refs > 0) {
        pthread_mutex_unlock(&s_reg_mu);
        return;
    }
    for (sl_journal_t **pp = &s_reg; *pp; pp = &(*pp)->reg_next) {
        if (*pp == j) {
            *pp = j->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&s_reg_mu);
    /*  Best effort: a confirmation not written only makes the next
        replay longer. */
    (void)sl_journal_flush(j);
    pthread_mutex_lock(&j->mu);
    j->closing = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_cond_broadcast(&j->new);
    /*  A commit in progress finishes first: its appenders wait for it. */
    while (j->writing) {
        pthread_cond_wait(&j->cv, &j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    mdb_env_close(j->env);
    sl_buf_free(&j->pend);
    sl_buf_free(&j->spare);
    pthread_cond_destroy(&j->new);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->real);
    free(j);
}

/*  The confirmations not written yet (a copy, taken under the lock). */
static int s_conf_pending(sl_journal_t *j, s_confirm_t *todo)
{
    int n = 0;
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->n_conf; i++) {
        if (j->conf[i].seq > j->conf[i].stored) {
            todo[n++] = j->conf[i];
        }
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

/*  Write them in txn; never backwards (a cursor_set may have stored more). */
static int s_conf_put(sl_journal_t *j, MDB_txn *txn, const s_confirm_t *todo, int n)
{
    for (int i = 0; i < n; i++) {
        MDB_val k = {strlen(todo[i].name), (void *)todo[i].name}, v;
        int mrc = mdb_get(txn, j->cursors, &k, &v);
        if (mrc == 0 && v.mv_size == 8 && s_get64(v.mv_data) >= todo[i].seq) {
            continue;
        }
        uint8_t val[8];
        s_be64(val, todo[i].seq);
        v = (MDB_val){8, val};
        if ((mrc = mdb_put(txn, j->cursors, &k, &v, 0)) != 0) {
            return mrc;
        }
    }
    return 0;
}

/*  After their commit: written. */
static void s_conf_stored(sl_journal_t *j, const s_confirm_t *todo, int n)
{
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < j->n_conf; k++) {
            if (strcmp(j->conf[k].name, todo[i].name) == 0 && j->conf[k].stored < todo[i].seq) {
                j->conf[k].stored = todo[i].seq;
            }
        }
    }
    pthread_mutex_unlock(&j->mu);
}

/*  Write one group in one transaction, and the confirmations made since
    the last write (under load they never cost a commit of their own).
    Runs without the lock: only one thread is ever the writer
    (j->writing). */
static int s_commit_group(sl_journal_t *j, const sl_buf_t *g, uint64_t first, uint32_t n)
{
    s_confirm_t todo[SL_JOURNAL_CONSUMERS];
    int nc = s_conf_pending(j, todo);
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(j->env, NULL, 0, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    uint8_t stamp[8];
    s_be64(stamp, (uint64_t)sl_now_us());
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        memcpy(&len, g->data + off, 4);
        off += 4;
        uint8_t key[8];
        s_be64(key, first + i);
        MDB_val k = {8, key};
        MDB_val v = {8 + (size_t)len, NULL};
        /*  Keys only grow: APPEND skips the search; RESERVE writes the
            value in place. */
        mrc = mdb_put(txn, j->entries, &k, &v, MDB_APPEND | MDB_RESERVE);
        if (mrc) {
            mdb_txn_abort(txn);
            return s_err(mrc);
        }
        memcpy(v.mv_data, stamp, 8);
        memcpy((uint8_t *)v.mv_data + 8, g->data + off, len);
        off += len;
    }
    if (nc > 0 && (mrc = s_conf_put(j, txn, todo, nc)) != 0) {
        mdb_txn_abort(txn);
        return s_err(mrc);
    }
    mrc = mdb_txn_commit(txn);
    if (mrc == 0 && nc > 0) {
        s_conf_stored(j, todo, nc);
    }
    return s_err(mrc);
}

int sl_journal_append(sl_journal_t *j, const sl_slice_t *entries, int n, uint64_t *first_seq)
{
    if (!j || !entries || n < 1) {
        return SL_EINVAL;
    }
    size_t need = 0;
    for (int i = 0; i < n; i++) {
        if (entries[i].len == 0 || entries[i].len > S_MAX_ENTRY) {
            return SL_EINVAL;
        }
        need += 4 + entries[i].len;
    }
    s_waiter_t me = {0};
    pthread_cond_init(&me.cv, NULL);
    pthread_mutex_lock(&j->mu);
    if (j->closing) {
        pthread_mutex_unlock(&j->mu);
        pthread_cond_destroy(&me.cv);
        return SL_ESTOPPED;
    }
    if (sl_buf_reserve(&j->pend, need) != SL_OK) {
        pthread_mutex_unlock(&j->mu);
        pthread_cond_destroy(&me.cv);
        return SL_ENOMEM;
    }
    if (j->pend_n == 0) {
        j->pend_first = j->next_seq;
    }
    uint64_t first = j->next_seq;
    for (int i = 0; i < n; i++) {
        uint32_t len = entries[i].len;
        memcpy(j->pend.data + j->pend.len, &len, 4);
        memcpy(j->pend.data + j->pend.len + 4, entries[i].ptr, len);
        j->pend.len += 4 + len;
    }
    j->pend_n += (uint32_t)n;
    j->next_seq += (uint64_t)n;
    me.next = j->pend_waiters;
    j->pend_waiters = &me;

    while (!me.done) {
        if (!j->writing && j->pend_n > 0 && !j->closing) {
            /*  Become the writer of everything queued so far. */
            sl_buf_t g = j->pend;
            uint64_t gfirst = j->pend_first;
            uint32_t gn = j->pend_n;
            s_waiter_t *ws = j->pend_waiters;
            j->pend = j->spare;
            j->pend.len = 0;
            j->spare = (sl_buf_t){0};
            j->pend_n = 0;
            j->pend_waiters = NULL;
            j->writing = 1;
            pthread_mutex_unlock(&j->mu);

            int rc = s_commit_group(j, &g, gfirst, gn);

            pthread_mutex_lock(&j->mu);
            g.len = 0;
            if (!j->spare.data) {
                j->spare = g;
            } else {
                sl_buf_free(&g);
            }
            if (rc == SL_OK) {
                atomic_store(&j->durable, gfirst + gn - 1);
                pthread_cond_broadcast(&j->new);
            }
            /*  Wake this group, one by one, and one member of the next
                group (it becomes the writer): nobody else wakes for
                nothing. */
            for (s_waiter_t *w = ws; w; w = w->next) {
                w->rc = rc;
                w->done = 1;
                if (w != &me) {
                    pthread_cond_signal(&w->cv);
                }
            }
            j->writing = 0;
            if (j->pend_waiters) {
                pthread_cond_signal(&j->pend_waiters->cv);
            }
            pthread_cond_broadcast(&j->cv);
            continue;
        }
        if (j->closing && !j->writing) {
            /*  Queued but never written: the group is abandoned. */
            for (s_waiter_t *w = j->pend_waiters; w; w = w->next) {
                w->rc = SL_ESTOPPED;
                w->done = 1;
                if (w != &me) {
                    pthread_cond_signal(&w->cv);
                }
            }
            j->pend_waiters = NULL;
            j->pend_n = 0;
            j->pend.len = 0;
            pthread_cond_broadcast(&j->cv);
            continue;
        }
        pthread_cond_wait(&me.cv, &j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    pthread_cond_destroy(&me.cv);
    if (me.rc == SL_OK && first_seq) {
        *first_seq = first;
    }
    return me.rc;
}

uint64_t sl_journal_last(sl_journal_t *j)
{
    return atomic_load(&j->durable);
}

int sl_journal_wait(sl_journal_t *j, uint64_t after, int64_t timeout_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (timeout_us > 0 ? timeout_us : 0) * 1000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    int rc = SL_OK;
    pthread_mutex_lock(&j->mu);
    while (j->durable <= after && !j->closing) {
        if (pthread_cond_timedwait(&j->new, &j->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (j->durable > after) {
        rc = SL_OK;
    } else {
        rc = j->closing ? SL_ESTOPPED : SL_ETIMEDOUT;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int sl_journal_read(sl_journal_t *j, uint64_t after, int max, sl_journal_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    int mrc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    if ((mrc = mdb_cursor_open(txn, j->entries, &c)) != 0) {
        mdb_txn_abort(txn);
        return s_err(mrc);
    }
    uint8_t key[8];
    s_be64(key, after + 1);
    MDB_val k = {8, key}, v;
    int n = 0;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && n < max) {
        if (k.mv_size != 8 || v.mv_size < 8) {
            mrc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *p = v.mv_data;
        if (fn(arg, s_get64(k.mv_data), (int64_t)s_get64(p), p + 8, v.mv_size - 8) != 0) {
            break;
        }
        n++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        return s_err(mrc);
    }
    return n;
}

static int s_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    return len > 0 && len < 256;
}

int sl_journal_cursor_get(sl_journal_t *j, const char *name, uint64_t *seq)
{
    *seq = 0;
    if (!s_name_ok(name)) {
        return SL_EINVAL;
    }
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    MDB_val k = {strlen(name), (void *)name}, v;
    mrc = mdb_get(txn, j->cursors, &k, &v);
    if (mrc == 0 && v.mv_size == 8) {
        *seq = s_get64(v.mv_data);
    }
    mdb_txn_abort(txn);
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->n_conf; i++) {
        if (strcmp(j->conf[i].name, name) == 0 && j->conf[i].seq > *seq) {
            *seq = j->conf[i].seq;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return mrc == 0 || mrc == MDB_NOTFOUND ? SL_OK : s_err(mrc);
}

int sl_journal_confirm(sl_journal_t *j, const char *name, uint64_t seq)
{
    if (!s_name_ok(name)) {
        return SL_EINVAL;
    }
    if (seq > atomic_load(&j->durable)) {
        return SL_ERANGE;
    }
    int rc = SL_OK;
    pthread_mutex_lock(&j->mu);
    int i = 0;
    while (i < j->n_conf && strcmp(j->conf[i].name, name) != 0) {
        i++;
    }
    if (i == j->n_conf) {
        if (j->n_conf == SL_JOURNAL_CONSUMERS) {
            rc = SL_EFULL;
        } else {
            snprintf(j->conf[i].name, sizeof j->conf[i].name, "%s", name);
            j->conf[i].seq = j->conf[i].stored = 0;
            j->n_conf++;
        }
    }
    if (rc == SL_OK && seq > j->conf[i].seq) {
        j->conf[i].seq = seq;
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int sl_journal_flush(sl_journal_t *j)
{
    s_confirm_t todo[SL_JOURNAL_CONSUMERS];
    int n = s_conf_pending(j, todo);
    if (n == 0) {
        return SL_OK;
    }
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(j->env, NULL, 0, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    if ((mrc = s_conf_put(j, txn, todo, n)) != 0) {
        mdb_txn_abort(txn);
        return s_err(mrc);
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        return s_err(mrc);
    }
    s_conf_stored(j, todo, n);
    return SL_OK;
}

int sl_journal_cursor_set(sl_journal_t *j, const char *name, uint64_t seq)
{
    if (!s_name_ok(name)) {
        return SL_EINVAL;
    }
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(j->env, NULL, 0, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    uint8_t val[8];
    s_be64(val, seq);
    MDB_val k = {strlen(name), (void *)name}, v = {8, val};
    if ((mrc = mdb_put(txn, j->cursors, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return s_err(mrc);
    }
    return s_err(mdb_txn_commit(txn));
}

int sl_journal_trim(sl_journal_t *j, uint64_t upto, int64_t before_us, uint64_t max,
                    uint64_t *removed)
{
    uint64_t n = 0;
    if (removed) {
        *removed = 0;
    }
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    int mrc = mdb_txn_begin(j->env, NULL, 0, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    if ((mrc = mdb_cursor_open(txn, j->entries, &c)) != 0) {
        mdb_txn_abort(txn);
        return s_err(mrc);
    }
    MDB_val k, v;
    mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (mrc == 0 && n < max) {
        if (k.mv_size != 8 || v.mv_size < 8 || s_get64(k.mv_data) > upto ||
            (int64_t)s_get64(v.mv_data) >= before_us) {
            break;
        }
        if ((mrc = mdb_cursor_del(c, 0)) != 0) {
            break;
        }
        n++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return s_err(mrc);
    }
    if (n == 0) {
        mdb_txn_abort(txn); /* nothing to write: no fsync */
        return SL_OK;
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        return s_err(mrc);
    }
    if (removed) {
        *removed = n;
    }
    return SL_OK;
}

int sl_journal_stats(sl_journal_t *j, uint64_t *count, uint64_t *first)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    *count = 0;
    *first = 0;
    int mrc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, &txn);
    if (mrc) {
        return s_err(mrc);
    }
    MDB_stat st;
    if ((mrc = mdb_stat(txn, j->entries, &st)) == 0) {
        *count = st.ms_entries;
        if ((mrc = mdb_cursor_open(txn, j->entries, &c)) == 0) {
            MDB_val k, v;
            mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
            if (mrc == 0 && k.mv_size == 8) {
                *first = s_get64(k.mv_data);
            }
            mdb_cursor_close(c);
        }
    }
    mdb_txn_abort(txn);
    return mrc == 0 || mrc == MDB_NOTFOUND ? SL_OK : s_err(mrc);
}
