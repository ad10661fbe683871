/*  sluice store migrate: format 1 -> 2 (docs/store.md "Formats").

    Format 1 kept asset values as msgpack maps of named fields, both
    lineage tables (`down`, `up`) with full names, and the propagation
    blocks in LMDB's main database. Format 2 (core/store_lineage.c,
    core/store_codec.h) keeps ids. The rewrite runs in transactions of at
    most S_MIG_STEP records (opts->step), each leaving the environment
    readable by the migration again, so a crash or a full disk at any point
    is repaired by running it again (opts->max_txns stops a run after that
    many commits, as a crash would: tests/unit/test_store.c does so after
    each one in turn):

      1. blocks: main database -> `blocks` (one transaction; they are few);
      2. assets: every value not yet in format 2 gets an id and is
         rewritten (a format-2 value is skipped);
      3. edges: each dup of the old `down` is written both ways by id and
         deleted from `down`; `up` mirrors `down` and is dropped unread;
      4. `down` and `up` dropped and meta "format" = 2, in one transaction.

    Until step 4 commits, the store refuses to open (s_format_check sees
    `down`): nothing runs on a half-migrated store. Everything else (the
    change log, incidents, cursors, copies, tokens) names assets and is the
    same in both formats. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/store_codec.h"
#include "core/store_internal.h"
#include "sluice/log.h"
#include "sluice/mpjson.h"

#define S_MIG_STEP 5000

typedef struct {
    MDB_env *env;
    s_env_t e;
    MDB_dbi down, up;
    const char *dir;
    sl_store_migration_t *m;
    char *err;
    size_t errlen;
    int step;     /* records per transaction */
    int max_txns; /* 0, or stop (SL_EAGAIN) after this many (tests) */
    int *txns;    /* committed so far, over every environment */
} s_mig_t;

static int s_fail(s_mig_t *g, int mrc, const char *what)
{
    snprintf(g->err, g->errlen, "%s: %s: %s", g->dir, what, mdb_strerror(mrc));
    return sl_store__mdb_rc(mrc) == SL_EFULL ? SL_EFULL : SL_EIO;
}
/*  SL_EAGAIN once the transaction budget is spent
: the caller stops as a
    crash between two commits would. */
static int s_budget(s_mig_t *g)
{
    if (g->max_txns > 0 && *g->txns >= g->max_txns) {
        snprintf(g->err, g->errlen, "%s: stopped after %d transactions", g->dir, *g->txns);
        return SL_EAGAIN;
    }
    return SL_OK;
}

static int s_commit(s_mig_t *g, MDB_txn *txn, const char *what)
{
    int mrc = mdb_txn_commit(txn);
    if (mrc != 0) {
        return s_fail(g, mrc, what);
    }
    (*g->txns)++;
    return SL_OK;
}

/*  Step 1: blocks were written to the main database (keys tenant\0qn; the
    main database's other keys are database names, which hold no NUL). */
static int s_blocks(s_mig_t *g)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_dbi main;
    MDB_val k, v;
    sl_buf_t keys = {0}; /* (be32 length, key) of the moved records */
    int rc = s_budget(g), mrc;
    if (rc != SL_OK) {
        return rc;
    }
    mrc = mdb_txn_begin(g->env, NULL, 0, &txn);
    if (mrc == 0 && (mrc = mdb_dbi_open(txn, NULL, 0, &main)) == 0) {
        mrc = mdb_cursor_open(txn, main, &cur);
    }
    if (mrc != 0) {
        if (txn) {
            mdb_txn_abort(txn);
        }
        return s_fail(g, mrc, "blocks");
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == SL_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!memchr(k.mv_data, 0, k.mv_size)) {
            continue;
        }
        uint32_t n = (uint32_t)k.mv_size;
        if ((mrc = mdb_put(txn, g->e.dbi[S_DB_BLOCKS], &k, &v, 0)) != 0) {
            break;
        }
        if (sl_buf_append(&keys, &n, sizeof n) != SL_OK ||
            sl_buf_append(&keys, k.mv_data, k.mv_size) != SL_OK) {
            rc = SL_ENOMEM;
        }
    }
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND) {
        mrc = 0;
    }
    for (size_t i = 0; rc == SL_OK && mrc == 0 && i < keys.len;) {
        uint32_t n;
        memcpy(&n, (const uint8_t *)keys.data + i, sizeof n);
        MDB_val dk = {n, (uint8_t *)keys.data + i + sizeof n};
        mrc = mdb_del(txn, main, &dk, NULL);
        i += sizeof n + n;
        g->m->blocks++;
    }
    int moved = keys.len > 0;
    sl_buf_free(&keys);
    if (rc != SL_OK || mrc != 0 || !moved) {
        mdb_txn_abort(txn); /* nothing moved (done before): not a commit */
        return rc != SL_OK ? rc : mrc ? s_fail(g, mrc, "blocks") : SL_OK;
    }
    return s_commit(g, txn, "blocks commit");
}

/*  Step 2, one transaction: up to S_MIG_STEP assets from key `from`
    (empty: the first); *done when the table is through. */
static int s_assets_step(s_mig_t *g, sl_buf_t *from, int *done)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    sl_buf_t val = {0};
    char tenant[S_MAX_TENANT + 1], qn[S_MAX_NAME + 1];
    int rc = s_budget(g), mrc;
    if (rc != SL_OK) {
        return rc;
    }
    if ((mrc = mdb_txn_begin(g->env, NULL, 0, &txn)) != 0) {
        return s_fail(g, mrc, "assets");
    }
    if ((mrc = mdb_cursor_open(txn, g->e.dbi[S_DB_ASSETS], &cur)) != 0) {
        mdb_txn_abort(txn);
        return s_fail(g, mrc, "assets");
    }
    k.mv_size = from->len;
    k.mv_data = from->data;
    mrc = mdb_cursor_get(cur, &k, &v, from->len ? MDB_SET_RANGE : MDB_FIRST);
    int n = 0;
    /*  n counts rewritten assets: skipping the done ones is free. */
    while (mrc == 0 && rc == SL_OK && n < g->step) {
        const char *z = memchr(k.mv_data, 0, k.mv_size);
        size_t tl = z ? (size_t)(z - (const char *)k.mv_data) : 0;
        size_t ql = z ? k.mv_size - tl - 1 : 0;
        uint64_t id;
        if (sl_asset_id(v.mv_data, v.mv_size, &id) == SL_OK) {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* format 2 already */
            continue;
        }
        json_t *a = sl_msgpack_to_jansson(v.mv_data, v.mv_size);
        if (!z || tl > S_MAX_TENANT || ql > S_MAX_NAME || !json_is_object(a)) {
            json_decref(a);
            snprintf(g->err, g->errlen, "%s: assets: a value that is not an asset (damage)",
                     g->dir);
            rc = SL_EPROTO;
            break;
        }
        memcpy(tenant, k.mv_data, tl);
        tenant[tl] = 0;
        memcpy(qn, z + 1, ql);
        qn[ql] = 0;
        sl_buf_reset(&val);
        if ((rc = sl_store__id_new(txn, &g->e, tenant, qn, &id)) != SL_OK ||
            json_object_set_new(a, "id", json_integer((json_int_t)id)) != 0 ||
            (rc = sl_asset_pack(a, &val)) != SL_OK) {
            json_decref(a);
            snprintf(g->err, g->errlen, "%s: assets: %s", g->dir,
                     rc == SL_EFULL ? "map full" : "cannot rewrite an asset");
            rc = rc ? rc : SL_ENOMEM;
            break;
        }
        json_decref(a);
        /*  The key is copied first: k points into the page the put
            rewrites. A plain put through the cursor leaves it on the
            record, so MDB_NEXT goes on from there. */
        char kc[S_MAX_TENANT + S_MAX_NAME + 2];
        memcpy(kc, k.mv_data, k.mv_size);
        MDB_val kv = {k.mv_size, kc}, nv = {val.len, val.data};
        if ((mrc = mdb_cursor_put(cur, &kv, &nv, 0)) != 0) {
            rc = s_fail(g, mrc, "assets");
            break;
        }
        g->m->assets++;
        n++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    *done = mrc == MDB_NOTFOUND;
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = s_fail(g, mrc, "assets");
    }
    sl_buf_reset(from);
    if (rc == SL_OK && !*done && sl_buf_append(from, k.mv_data, k.mv_size) != SL_OK) {
        rc = SL_ENOMEM;
    }
    mdb_cursor_close(cur);
    sl_buf_free(&val);
    if (rc != SL_OK || n == 0) {
        mdb_txn_abort(txn); /* n == 0: every one was done before */
        return rc;
    }
    return s_commit(g, txn, "assets commit");
}

/*  Step 3, one transaction: up to S_MIG_STEP edges out of the old `down`. */
static int s_edges_step(s_mig_t *g, int *done)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    char tenant[S_MAX_TENANT + 1], type[S_MAX_DUP + 1], job[S_MAX_DUP + 1];
    int rc = s_budget(g), mrc;
    if (rc != SL_OK) {
        return rc;
    }
    if ((mrc = mdb_txn_begin(g->env, NULL, 0, &txn)) != 0) {
        return s_fail(g, mrc, "edges");
    }
    if ((mrc = mdb_cursor_open(txn, g->down, &cur)) != 0) {
        mdb_txn_abort(txn);
        return s_fail(g, mrc, "edges");
    }
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    int n = 0;
    for (; mrc == 0 && rc == SL_OK && n < g->step; n++) {
        /*  key tenant\0from; dup to\0type\0 flags job */
        const char *kz = memchr(k.mv_data, 0, k.mv_size);
        const char *p = v.mv_data, *z1 = memchr(p, 0, v.mv_size);
        const char *z2 = z1 ? memchr(z1 + 1, 0, v.mv_size - (size_t)(z1 + 1 - p)) : NULL;
        size_t tl = kz ? (size_t)(kz - (const char *)k.mv_data) : 0;
        uint64_t fid, tid;
        unsigned code;
        if (!kz || tl > S_MAX_TENANT || !z2 || (size_t)(z2 + 1 - p) >= v.mv_size) {
            g->m->skipped++; /* damage: dropped with the old table */
        } else {
            memcpy(tenant, k.mv_data, tl);
            tenant[tl] = 0;
            size_t yl = (size_t)(z2 - z1 - 1), jl = v.mv_size - (size_t)(z2 + 2 - p);
            memcpy(type, z1 + 1, yl);
            type[yl] = 0;
            memcpy(job, z2 + 2, jl < S_MAX_DUP ? jl : S_MAX_DUP);
            job[jl < S_MAX_DUP ? jl : S_MAX_DUP] = 0;
            int prop = z2[1] & 1;
            int a = sl_store__id_of(txn, &g->e, tenant, kz + 1, k.mv_size - tl - 1, &fid);
            int b = sl_store__id_of(txn, &g->e, tenant, p, (size_t)(z1 - p), &tid);
            if (a == SL_ENOTFOUND || b == SL_ENOTFOUND) {
                g->m->skipped++; /* an end that format 1 lost: nothing to attach to */
            } else if (a != SL_OK || b != SL_OK ||
                       (rc = sl_store__type_code(txn, &g->e, type, 1, &code)) != SL_OK ||
                       (rc = sl_store__edge_write(txn, &g->e, tenant, fid, tid, code, prop, job,
                                                  1)) != SL_OK) {
                rc = rc ? rc : SL_EIO;
                snprintf(g->err, g->errlen, "%s: edges: cannot rewrite an edge of %s (%s)", g->dir,
                         tenant, sl_strerror(rc));
                break;
            } else {
                g->m->edges++;
            }
        }
        if ((mrc = mdb_cursor_del(cur, 0)) != 0) {
            rc = s_fail(g, mrc, "edges");
            break;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    *done = mrc == MDB_NOTFOUND;
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = s_fail(g, mrc, "edges");
    }
    mdb_cursor_close(cur);
    if (rc != SL_OK || n == 0) {
        mdb_txn_abort(txn); /* n == 0: `down` was empty already */
        return rc;
    }
    return s_commit(g, txn, "edges commit");
}

/*  Step 4. */
static int s_finish(s_mig_t *g)
{
    MDB_txn *txn;
    MDB_val fk = {6, "format"}, fv = {strlen(S_FORMAT), S_FORMAT};
    int rc = s_budget(g), mrc;
    if (rc != SL_OK) {
        return rc;
    }
    if ((mrc = mdb_txn_begin(g->env, NULL, 0, &txn)) != 0) {
        return s_fail(g, mrc, "finish");
    }
    if ((mrc = mdb_drop(txn, g->up, 1)) != 0 || (mrc = mdb_drop(txn, g->down, 1)) != 0 ||
        (mrc = mdb_put(txn, g->e.dbi[S_DB_META], &fk, &fv, 0)) != 0) {
        mdb_txn_abort(txn);
        return s_fail(g, mrc, "finish");
    }
    return s_commit(g, txn, "finish");
}

/*  One environment: SL_OK (migrated, or already format 2: *did 0),
    SL_ENOTFOUND if it is not a store's. */
static int s_env(const char *dir, const sl_store_migrate_opts_t *o, int *txns,
                 sl_store_migration_t *m, int *did, char *err, size_t errlen)
{
    s_mig_t g = {.dir = dir,
                 .m = m,
                 .err = err,
                 .errlen = errlen,
                 .step = o && o->step > 0 ? o->step : S_MIG_STEP,
                 .max_txns = o ? o->max_txns : 0,
                 .txns = txns};
    int64_t map_size = o ? o->map_size : 0;
    MDB_txn *txn = NULL;
    struct stat st;
    char path[4200];
    int rc = SL_OK, mrc, done = 0;
    *did = 0;
    /*  Room for the old tables and the new ones side by side. */
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    size_t need = stat(path, &st) == 0 ? (size_t)st.st_size * 2 + ((size_t)64 << 20) : 0;
    size_t map = map_size > 0 ? (size_t)map_size : (size_t)1 << 30;
    if ((mrc = mdb_env_create(&g.env)) != 0 || (mrc = mdb_env_set_maxdbs(g.env, S_DB_COUNT + 4)) ||
        (mrc = mdb_env_set_mapsize(g.env, map > need ? map : need)) != 0 ||
        (mrc = mdb_env_open(g.env, dir, MDB_NOTLS, 0644)) != 0) {
        rc = s_fail(&g, mrc, "open");
        goto out;
    }
    g.e.env = g.env;
    if ((mrc = mdb_txn_begin(g.env, NULL, 0, &txn)) != 0) {
        rc = s_fail(&g, mrc, "open");
        goto out;
    }
    MDB_dbi assets;
    if (mdb_dbi_open(txn, "assets", 0, &assets) != 0) {
        mdb_txn_abort(txn); /* not a store (an ingest journal): not counted */
        rc = SL_ENOTFOUND;
        goto out;
    }
    if (mdb_dbi_open(txn, "down", 0, &g.down) != 0) {
        mdb_txn_abort(txn); /* no `down`: format 2 already */
        goto out;
    }
    if ((mrc = mdb_dbi_open(txn, "up", MDB_CREATE | MDB_DUPSORT, &g.up)) != 0 ||
        (mrc = sl_store__dbs_open(txn, &g.e)) != 0) {
        mdb_txn_abort(txn);
        rc = s_fail(&g, mrc, "open");
        goto out;
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) {
        rc = s_fail(&g, mrc, "open");
        goto out;
    }
    *did = 1;
    sl_buf_t from = {0};
    if ((rc = s_blocks(&g)) == SL_OK) {
        while (rc == SL_OK && !done) {
            rc = s_assets_step(&g, &from, &done);
        }
    }
    sl_buf_free(&from);
    for (done = 0; rc == SL_OK && !done;) {
        rc = s_edges_step(&g, &done);
    }
    if (rc == SL_OK) {
        rc = s_finish(&g);
    }
out:
    if (g.env) {
        mdb_env_close(g.env);
    }
    return rc;
}

int sl_store_migrate(const char *path, const sl_store_migrate_opts_t *o, sl_store_migration_t *m,
                     char *err, size_t errlen)
{
    int txns = 0;
    char dir[4200];
    struct stat st;
    int rc = SL_OK, did;
    memset(m, 0, sizeof *m);
    err[0] = 0;
    /*  The store's own environment (shared tenancy), then one per
        directory under it (isolated: each tenant's and `.rejected`). */
    snprintf(dir, sizeof dir, "%s/data.mdb", path);
    if (stat(dir, &st) == 0) {
        if ((rc = s_env(path, o, &txns, m, &did, err, errlen)) == SL_OK) {
            m->envs++;
            m->migrated += (uint64_t)did;
        } else if (rc != SL_ENOTFOUND) {
            return rc;
        }
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: no store here", path);
        return SL_ENOTFOUND;
    }
    struct dirent *de;
    while (rc == SL_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        snprintf(dir, sizeof dir, "%s/%s/data.mdb", path, de->d_name);
        if (stat(dir, &st) != 0) {
            continue;
        }
        snprintf(dir, sizeof dir, "%s/%s", path, de->d_name);
        if ((rc = s_env(dir, o, &txns, m, &did, err, errlen)) == SL_OK) {
            m->envs++;
            m->migrated += (uint64_t)did;
        } else if (rc == SL_ENOTFOUND) {
            rc = SL_OK;
        }
    }
    closedir(d);
    if (rc == SL_OK && m->envs == 0) {
        snprintf(err, errlen, "%s: no store here", path);
        return SL_ENOTFOUND;
    }
    return rc;
}
