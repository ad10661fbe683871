/*  How many bytes a tenant's data takes (see sluice/store.h), for the
    store-size quota. A scan rather than a running counter kept by every
    write: the apply path (core/store.c) stays untouched, and a quota
    needs an answer every few seconds, not per write (docs/RATIONALE.md
    "Quotas"). */
#include <string.h>

#include "core/store_internal.h"

/*  Key and value bytes of every record of `dbi` whose key starts with
    prefix[0..plen). */
static int s_scan(MDB_txn *txn, MDB_dbi dbi, const char *prefix, size_t plen, uint64_t *bytes)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) {
        return SL_EIO;
    }
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        *bytes += k.mv_size + v.mv_size;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? SL_OK : SL_EIO;
}

int sl_store_tenant_bytes(sl_store_t *s, const char *tenant, uint64_t *bytes)
{
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    if (!bytes) {
        return SL_EINVAL;
    }
    *bytes = 0;
    int rc = sl_store__env(s, tenant, &e);
    if (rc) {
        return rc;
    }
    if (s->isolated) {
        MDB_envinfo info;
        MDB_stat st;
        if (mdb_env_info(e->env, &info) != 0 || mdb_env_stat(e->env, &st) != 0) {
            return SL_EIO;
        }
        *bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
        return SL_OK;
    }
    if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn) != 0) {
        return SL_EIO;
    }
    char prefix[S_MAX_TENANT + 2];
    size_t tl = strlen(tenant);
    memcpy(prefix, tenant, tl);
    prefix[tl] = '\0';
    rc = SL_OK;
    for (int i = 0; i < S_DB_COUNT && rc == SL_OK; i++) {
        if (i == S_DB_APPLIED || i == S_DB_TOKENS) {
            continue; /* keyed by event id / token id, not by tenant */
        }
        if (i == S_DB_TENANTS) {
            /* the tenant's mark: its name alone */
            MDB_val k = {tl, prefix}, v;
            if (mdb_get(txn, e->dbi[i], &k, &v) == 0) {
                *bytes += k.mv_size + v.mv_size;
            }
            continue;
        }
        rc = s_scan(txn, e->dbi[i], prefix, tl + 1, bytes);
    }
    mdb_txn_abort(txn);
    return rc;
}
