/*  API tokens in the store's "tokens" database (see sluice/store.h and
    docs/auth.md "Storage").

    Keys:
      "k"             -> the 32-byte key of the token hashes
      "t" + id (8)    -> a token record (below)
    A record, big-endian:
      0   version (1)          1
      1   role (1)             sl_role_t
      2   reserved (2)         0
      4   created_us (8)
      12  expires_us (8)       0: never
      20  revoked_us (8)       0: active
      28  hash (32)            BLAKE2b-256 of the whole token, keyed
      60  tenant length (1), tenant, name length (1), name

    Why a keyed hash and not a password hash: a token carries 256 random
    bits, so nothing can be guessed offline even from the hash alone, and a
    check must stay within a couple of microseconds (docs/RATIONALE.md
    "Auth"). The key, kept in the store, makes a leaked hash useless on
    its own to anyone matching tokens seen elsewhere. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/store_internal.h"

#define S_REC_VERSION 1
#define S_REC_FIXED 60
#define S_KEY_BYTES 32
#define S_HASH_BYTES 32

static int s_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/*  16 lower-case hex digits -> 8 bytes. */
static int s_id_bin(const char *id, uint8_t out[8])
{
    if (!id || strlen(id) != 16) {
        return SL_EINVAL;
    }
    for (int i = 0; i < 8; i++) {
        int hi = s_hexval((unsigned char)id[2 * i]), lo = s_hexval((unsigned char)id[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return SL_EINVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return SL_OK;
}

static int s_env(sl_store_t *s, s_env_t **e)
{
    if (!s) {
        return SL_EINVAL;
    }
    if (s->isolated) {
        return SL_ESTATE;
    }
    *e = &s->envs[0];
    return SL_OK;
}

static void s_hash(const uint8_t key[S_KEY_BYTES], const char *token, size_t len,
                   uint8_t out[S_HASH_BYTES])
{
    crypto_generichash(out, S_HASH_BYTES, (const unsigned char *)token, len, key, S_KEY_BYTES);
}

/*  Parse a record into info (id given). SL_EPROTO if it is not one. */
static int s_rec_parse(const MDB_val *v, const uint8_t id[8], sl_token_info_t *info,
                       const uint8_t **hash)
{
    const uint8_t *p = v->mv_data;
    size_t n = v->mv_size;
    if (n < S_REC_FIXED + 2 || p[0] != S_REC_VERSION) {
        return SL_EPROTO;
    }
    size_t tl = p[S_REC_FIXED];
    if (tl == 0 || tl > sizeof info->tenant - 1 || S_REC_FIXED + 1 + tl + 1 > n) {
        return SL_EPROTO;
    }
    size_t nl = p[S_REC_FIXED + 1 + tl];
    if (nl > sizeof info->name - 1 || S_REC_FIXED + 2 + tl + nl != n) {
        return SL_EPROTO;
    }
    memset(info, 0, sizeof *info);
    sodium_bin2hex(info->id, sizeof info->id, id, 8);
    info->role = p[1];
    info->created_us = (int64_t)sl_store__rd64(p + 4);
    info->expires_us = (int64_t)sl_store__rd64(p + 12);
    info->revoked_us = (int64_t)sl_store__rd64(p + 20);
    memcpy(info->tenant, p + S_REC_FIXED + 1, tl);
    memcpy(info->name, p + S_REC_FIXED + 2 + tl, nl);
    if (hash) {
        *hash = p + 28;
    }
    return SL_OK;
}

static int s_tenant_ok(const char *t)
{
    return t && (strcmp(t, "*") == 0 || sl_name_ok(t, 64));
}

int sl_store_token_add(sl_store_t *s, const char *token, const sl_token_info_t *info)
{
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    uint8_t id[8], key[S_KEY_BYTES], rec[S_REC_FIXED + 2 + 64 + SL_STORE_TOKEN_NAME_MAX];
    int rc = s_env(s, &e);
    if (rc) {
        return rc;
    }
    size_t tl = info ? strlen(info->tenant) : 0, nl = info ? strlen(info->name) : 0;
    if (!token || !info || s_id_bin(info->id, id) || !s_tenant_ok(info->tenant) || tl > 64 ||
        nl > SL_STORE_TOKEN_NAME_MAX || info->role < 1 || info->role > 4 ||
        (strcmp(info->tenant, "*") == 0) != (info->role == 4)) {
        return SL_EINVAL;
    }
    if (sodium_init() < 0) {
        return SL_ENOMEM;
    }
    if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn)) != 0) {
        return sl_store__mdb_rc(rc);
    }
    MDB_dbi dbi = e->dbi[S_DB_TOKENS];
    MDB_val k = {1, "k"}, v;
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        /*  The first token of this store: make its key. */
        randombytes_buf(key, sizeof key);
        v = (MDB_val){sizeof key, key};
        rc = mdb_put(txn, dbi, &k, &v, 0);
    } else if (rc == 0) {
        if (v.mv_size != sizeof key) {
            rc = EINVAL;
            goto fail;
        }
        memcpy(key, v.mv_data, sizeof key);
    }
    if (rc) {
        goto fail;
    }
    uint8_t kb[9] = {'t'};
    memcpy(kb + 1, id, 8);
    k = (MDB_val){sizeof kb, kb};
    memset(rec, 0, S_REC_FIXED);
    rec[0] = S_REC_VERSION;
    rec[1] = (uint8_t)info->role;
    sl_store__be64(rec + 4, (uint64_t)info->created_us);
    sl_store__be64(rec + 12, (uint64_t)info->expires_us);
    s_hash(key, token, strlen(token), rec + 28);
    rec[S_REC_FIXED] = (uint8_t)tl;
    memcpy(rec + S_REC_FIXED + 1, info->tenant, tl);
    rec[S_REC_FIXED + 1 + tl] = (uint8_t)nl;
    memcpy(rec + S_REC_FIXED + 2 + tl, info->name, nl);
    v = (MDB_val){S_REC_FIXED + 2 + tl + nl, rec};
    rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        mdb_txn_abort(txn);
        sodium_memzero(key, sizeof key);
        return SL_EEXIST;
    }
    if (rc) {
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        goto fail;
    }
    sodium_memzero(key, sizeof key);
    return SL_OK;
fail:
    if (txn) {
        mdb_txn_abort(txn);
    }
    sodium_memzero(key, sizeof key);
    return rc == EINVAL ? SL_EIO : sl_store__mdb_rc(rc);
}

int sl_store_token_check(sl_store_t *s, const char *id, const char *token, size_t len,
                         sl_token_info_t *info)
{
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    uint8_t bid[8], mac[S_HASH_BYTES];
    const uint8_t *want = NULL;
    int rc = s_env(s, &e);
    if (rc) {
        return rc;
    }
    if (!token || !info || s_id_bin(id, bid)) {
        return SL_ENOTFOUND;
    }
    if ((rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn)) != 0) {
        return SL_EIO;
    }
    MDB_dbi dbi = e->dbi[S_DB_TOKENS];
    MDB_val k = {1, "k"}, kv, v;
    uint8_t kb[9] = {'t'};
    memcpy(kb + 1, bid, 8);
    rc = mdb_get(txn, dbi, &k, &kv);
    if (rc == 0) {
        k = (MDB_val){sizeof kb, kb};
        rc = mdb_get(txn, dbi, &k, &v);
    }
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return SL_ENOTFOUND;
    }
    if (rc || kv.mv_size != S_KEY_BYTES || s_rec_parse(&v, bid, info, &want) != SL_OK) {
        mdb_txn_abort(txn);
        return SL_EIO;
    }
    /*  Hashed and compared inside the transaction: the mapped pages stay
        valid until it ends. */
    s_hash(kv.mv_data, token, len, mac);
    rc = sodium_memcmp(mac, want, sizeof mac) == 0 ? SL_OK : SL_ENOTFOUND;
    mdb_txn_abort(txn);
    if (rc) {
        memset(info, 0, sizeof *info);
    }
    return rc;
}

int sl_store_token_get(sl_store_t *s, const char *id, sl_token_info_t *info)
{
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    uint8_t bid[8];
    int rc = s_env(s, &e);
    if (rc) {
        return rc;
    }
    if (!info || s_id_bin(id, bid)) {
        return SL_ENOTFOUND;
    }
    if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn) != 0) {
        return SL_EIO;
    }
    uint8_t kb[9] = {'t'};
    memcpy(kb + 1, bid, 8);
    MDB_val k = {sizeof kb, kb}, v;
    rc = mdb_get(txn, e->dbi[S_DB_TOKENS], &k, &v);
    if (rc == 0) {
        rc = s_rec_parse(&v, bid, info, NULL) == SL_OK ? SL_OK : SL_EIO;
    } else {
        rc = rc == MDB_NOTFOUND ? SL_ENOTFOUND : SL_EIO;
    }
    mdb_txn_abort(txn);
    return rc;
}

int sl_store_token_revoke(sl_store_t *s, const char *id, int64_t now_us)
{
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    uint8_t bid[8];
    sl_token_info_t info;
    int rc = s_env(s, &e);
    if (rc) {
        return rc;
    }
    if (s_id_bin(id, bid)) {
        return SL_ENOTFOUND;
    }
    if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn)) != 0) {
        return sl_store__mdb_rc(rc);
    }
    uint8_t kb[9] = {'t'};
    memcpy(kb + 1, bid, 8);
    MDB_val k = {sizeof kb, kb}, v;
    rc = mdb_get(txn, e->dbi[S_DB_TOKENS], &k, &v);
    if (rc == 0 && s_rec_parse(&v, bid, &info, NULL) != SL_OK) {
        rc = EINVAL;
    }
    if (rc == 0 && info.revoked_us != 0) {
        mdb_txn_abort(txn);
        return SL_EEXIST;
    }
    if (rc == 0) {
        uint8_t rec[S_REC_FIXED + 2 + 64 + SL_STORE_TOKEN_NAME_MAX];
        memcpy(rec, v.mv_data, v.mv_size);
        sl_store__be64(rec + 20, (uint64_t)(now_us > 0 ? now_us : 1));
        MDB_val nv = {v.mv_size, rec};
        rc = mdb_put(txn, e->dbi[S_DB_TOKENS], &k, &nv, 0);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc == EINVAL ? SL_EIO : sl_store__mdb_rc(rc);
    }
    rc = mdb_txn_commit(txn);
    return sl_store__mdb_rc(rc);
}

int sl_store_tokens_each(sl_store_t *s, sl_token_fn fn, void *arg)
{
    s_env_t *e = NULL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = s_env(s, &e);
    if (rc) {
        return rc;
    }
    if (!fn) {
        return SL_EINVAL;
    }
    if ((rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, e->dbi[S_DB_TOKENS], &cur)) != 0) {
        if (txn) {
            mdb_txn_abort(txn);
        }
        return SL_EIO;
    }
    int count = 0;
    uint8_t first = 't';
    MDB_val k = {1, &first}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size != 9 || kp[0] != 't') {
            break;
        }
        sl_token_info_t info;
        if (s_rec_parse(&v, kp + 1, &info, NULL) == SL_OK) {
            count++;
            if (fn(arg, &info) != 0) {
                break;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    int bad = rc != 0 && rc != MDB_NOTFOUND;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return bad ? SL_EIO : count;
}
