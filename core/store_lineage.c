/*  Asset ids and the lineage tables (docs/store.md "Lineage and ids").

    Every asset has an id, a 40-bit number given when the asset is created
    (the tenant's counter in `meta`), kept at a fixed offset of its value
    (core/store_codec.h) and named back by `names`. The lineage tables hold
    ids, not names: an edge costs 7 bytes downstream and 7 plus its job
    upstream instead of both qualified names twice, which is what brings an
    asset with 5 tags and 3 edges under 1 KiB of pages (docs/RATIONALE.md).

      names         tenant\0 be40 id -> qualified name
      lineage_down  dupsort, dupfixed: tenant\0 be40 from -> be40 to, be16 tf
      lineage_up    dupsort: tenant\0 be40 to -> be40 from, be16 tf, job
      meta          "format" -> "2"; "id\0" tenant -> be64 next id;
                    "type\0" name -> be16 code; "code\0" be16 -> name;
                    "types" -> be16 next code

    tf is the edge type's code shifted left once, with the propagate flag
    in the low bit: (to, type) identifies an edge, the flag is one of its
    attributes, so a look-up tries the pair (code << 1) and (code << 1 | 1)
    as a range. Type codes are per environment and never reused. */
#include <limits.h>
#include <string.h>

#include "core/store_codec.h"
#include "core/store_internal.h"

void sl_store__be40(uint8_t out[S_ID], uint64_t id)
{
    for (int i = 0; i < S_ID; i++) {
        out[i] = (uint8_t)(id >> (8 * (S_ID - 1 - i)));
    }
}

uint64_t sl_store__rd40(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < S_ID; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

/*  tenant\0 be40 id into key (S_MAX_TENANT + 1 + S_ID bytes); its length. */
static size_t s_idkey(uint8_t *key, const char *tenant, uint64_t id)
{
    size_t tl = strlen(tenant) + 1;
    memcpy(key, tenant, tl);
    sl_store__be40(key + tl, id);
    return tl + S_ID;
}

static int s_meta_key(uint8_t *key, size_t cap, const char *tag, const void *p, size_t n,
                      size_t *len)
{
    size_t tl = strlen(tag) + 1;
    if (tl + n > cap) {
        return SL_ERANGE;
    }
    memcpy(key, tag, tl);
    memcpy(key + tl, p, n);
    *len = tl + n;
    return SL_OK;
}

int sl_store__id_of(MDB_txn *txn, s_env_t *e, const char *tenant, const char *qn, size_t len,
                    uint64_t *id)
{
    uint8_t key[S_MAX_TENANT + S_MAX_NAME + 2];
    size_t tl = strlen(tenant) + 1;
    if (tl > S_MAX_TENANT + 1 || len > S_MAX_NAME) {
        return SL_EINVAL;
    }
    memcpy(key, tenant, tl);
    memcpy(key + tl, qn, len);
    MDB_val k = {tl + len, key}, v;
    int mrc = mdb_get(txn, e->dbi[S_DB_ASSETS], &k, &v);
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    return sl_asset_id(v.mv_data, v.mv_size, id) == SL_OK ? SL_OK : SL_EPROTO;
}

int sl_store__id_name(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t id, const char **name,
                      size_t *len)
{
    uint8_t key[S_MAX_TENANT + 1 + S_ID];
    MDB_val k = {s_idkey(key, tenant, id), key}, v;
    int mrc = mdb_get(txn, e->dbi[S_DB_NAMES], &k, &v);
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    *name = v.mv_data;
    *len = v.mv_size;
    return SL_OK;
}

/*  Take the next value of a counter in `meta` (stored big-endian in
    `width` bytes; absent: `first`): SL_ERANGE past max. */
static int s_counter(MDB_txn *txn, s_env_t *e, const uint8_t *key, size_t klen, int width,
                     uint64_t first, uint64_t max, uint64_t *out)
{
    MDB_val k = {klen, (void *)key}, v;
    uint8_t be[8];
    uint64_t next = first;
    int mrc = mdb_get(txn, e->dbi[S_DB_META], &k, &v);
    if (mrc == 0 && v.mv_size == (size_t)width) {
        next = 0;
        for (int i = 0; i < width; i++) {
            next = next << 8 | ((const uint8_t *)v.mv_data)[i];
        }
    } else if (mrc != 0 && mrc != MDB_NOTFOUND) {
        return sl_store__mdb_rc(mrc);
    }
    if (next > max) {
        return SL_ERANGE;
    }
    for (int i = 0; i < width; i++) {
        be[i] = (uint8_t)((next + 1) >> (8 * (width - 1 - i)));
    }
    v.mv_size = (size_t)width;
    v.mv_data = be;
    if ((mrc = mdb_put(txn, e->dbi[S_DB_META], &k, &v, 0)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    *out = next;
    return SL_OK;
}

int sl_store__id_new(MDB_txn *txn, s_env_t *e, const char *tenant, const char *qn, uint64_t *id)
{
    uint8_t mk[S_MAX_TENANT + 8], key[S_MAX_TENANT + 1 + S_ID];
    size_t ml;
    uint64_t next;
    int rc, mrc;
    if ((rc = s_meta_key(mk, sizeof mk, "id", tenant, strlen(tenant), &ml)) != SL_OK ||
        (rc = s_counter(txn, e, mk, ml, 8, 1, S_ID_MAX, &next)) != SL_OK) {
        return rc;
    }
    MDB_val nk = {s_idkey(key, tenant, next), key}, nv = {strlen(qn), (void *)qn};
    /*  Ids grow: the put lands at the end of the tenant's range, where
        LMDB splits a page unevenly and keeps the pages full. */
    if ((mrc = mdb_put(txn, e->dbi[S_DB_NAMES], &nk, &nv, 0)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    *id = next;
    return SL_OK;
}

int sl_store__id_drop(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t id)
{
    uint8_t key[S_MAX_TENANT + 1 + S_ID];
    MDB_val k = {s_idkey(key, tenant, id), key};
    int mrc = mdb_del(txn, e->dbi[S_DB_NAMES], &k, NULL);
    return mrc == 0 || mrc == MDB_NOTFOUND ? SL_OK : sl_store__mdb_rc(mrc);
}

int sl_store__type_code(MDB_txn *txn, s_env_t *e, const char *type, int create, unsigned *code)
{
    uint8_t mk[S_MAX_NAME + 8], be[2], rk[8];
    size_t ml, rl;
    uint64_t next;
    int rc, mrc;
    if ((rc = s_meta_key(mk, sizeof mk, "type", type, strlen(type), &ml)) != SL_OK) {
        return rc;
    }
    MDB_val k = {ml, mk}, v;
    if ((mrc = mdb_get(txn, e->dbi[S_DB_META], &k, &v)) == 0 && v.mv_size == 2) {
        const uint8_t *p = v.mv_data;
        *code = (unsigned)p[0] << 8 | p[1];
        return SL_OK;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        return sl_store__mdb_rc(mrc);
    }
    if (!create) {
        return SL_ENOTFOUND;
    }
    if ((rc = s_counter(txn, e, (const uint8_t *)"types", 6, 2, 0, S_TYPES_MAX, &next)) != SL_OK) {
        return rc;
    }
    be[0] = (uint8_t)(next >> 8);
    be[1] = (uint8_t)next;
    v.mv_size = 2;
    v.mv_data = be;
    s_meta_key(rk, sizeof rk, "code", be, 2, &rl);
    MDB_val rkey = {rl, rk}, rval = {strlen(type), (void *)type};
    if ((mrc = mdb_put(txn, e->dbi[S_DB_META], &k, &v, 0)) != 0 ||
        (mrc = mdb_put(txn, e->dbi[S_DB_META], &rkey, &rval, 0)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    *code = (unsigned)next;
    return SL_OK;
}

int sl_store__type_name(MDB_txn *txn, s_env_t *e, unsigned code, const char **name, size_t *len)
{
    uint8_t be[2] = {(uint8_t)(code >> 8), (uint8_t)code}, rk[8];
    size_t rl;
    s_meta_key(rk, sizeof rk, "code", be, 2, &rl);
    MDB_val k = {rl, rk}, v;
    int mrc = mdb_get(txn, e->dbi[S_DB_META], &k, &v);
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    *name = v.mv_data;
    *len = v.mv_size;
    return SL_OK;
}

/*  The dup of (other, code) with either flag in db under key, at the
    cursor: SL_OK (val filled), SL_ENOTFOUND. */
static int s_find(MDB_cursor *cur, MDB_val *key, uint64_t other, unsigned code, MDB_val *val)
{
    uint8_t want[S_ID + 2];
    sl_store__be40(want, other);
    want[S_ID] = (uint8_t)(code >> 7);
    want[S_ID + 1] = (uint8_t)(code << 1);
    MDB_val v = {sizeof want, want};
    int mrc = mdb_cursor_get(cur, key, &v, MDB_GET_BOTH_RANGE);
    if (mrc == MDB_NOTFOUND) {
        return SL_ENOTFOUND;
    }
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    const uint8_t *p = v.mv_data;
    if (v.mv_size < sizeof want || memcmp(p, want, S_ID + 1) != 0 ||
        (p[S_ID + 1] & 0xfe) != want[S_ID + 1]) {
        return SL_ENOTFOUND;
    }
    *val = v;
    return SL_OK;
}

static int s_get_dup(MDB_txn *txn, MDB_dbi dbi, const char *tenant, uint64_t id, uint64_t other,
                     unsigned code, MDB_val *val)
{
    uint8_t key[S_MAX_TENANT + 1 + S_ID];
    MDB_val k = {s_idkey(key, tenant, id), key};
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    int rc = s_find(cur, &k, other, code, val);
    mdb_cursor_close(cur);
    return rc;
}

int sl_store__edge_get(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t from, uint64_t to,
                       unsigned code, int *prop, const char **job, size_t *jlen)
{
    MDB_val v = {0, NULL};
    int rc = s_get_dup(txn, e->dbi[S_DB_UP], tenant, to, from, code, &v);
    if (rc != SL_OK) {
        return rc;
    }
    *prop = ((const uint8_t *)v.mv_data)[S_ID + 1] & 1;
    *job = (const char *)v.mv_data + S_ID + 2;
    *jlen = v.mv_size - S_ID - 2;
    return SL_OK;
}

int sl_store__edge_write(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t from, uint64_t to,
                         unsigned code, int prop, const char *job, int put)
{
    uint8_t key[S_MAX_TENANT + 1 + S_ID], dup[S_ID + 2 + S_MAX_DUP];
    size_t jl = job ? strlen(job) : 0;
    if (jl > S_MAX_DUP) {
        return SL_ERANGE;
    }
    int mrc = 0;
    for (int dir = 0; dir < 2 && mrc == 0; dir++) {
        MDB_val k = {s_idkey(key, tenant, dir == 0 ? from : to), key};
        sl_store__be40(dup, dir == 0 ? to : from);
        dup[S_ID] = (uint8_t)(code >> 7);
        dup[S_ID + 1] = (uint8_t)(code << 1 | (prop ? 1 : 0));
        MDB_val v = {S_ID + 2, dup};
        if (dir == 1 && jl) {
            memcpy(dup + S_ID + 2, job, jl);
            v.mv_size += jl;
        }
        MDB_dbi dbi = e->dbi[dir == 0 ? S_DB_DOWN : S_DB_UP];
        mrc = put ? mdb_put(txn, dbi, &k, &v, MDB_NODUPDATA) : mdb_del(txn, dbi, &k, &v);
        if (mrc == MDB_KEYEXIST || mrc == MDB_NOTFOUND) {
            mrc = 0;
        }
    }
    return sl_store__mdb_rc(mrc);
}

int sl_store__edges_each(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t id, int dir,
                         int flags, s_edge_fn fn, void *arg)
{
    uint8_t key[S_MAX_TENANT + 1 + S_ID];
    MDB_val k = {s_idkey(key, tenant, id), key}, v;
    MDB_cursor *cur, *jc = NULL; /* jc: lineage_up, for the jobs of down edges */
    int rc = SL_OK, mrc = mdb_cursor_open(txn, e->dbi[dir == 0 ? S_DB_DOWN : S_DB_UP], &cur);
    if (mrc == 0 && (flags & S_EDGE_JOB) && dir == 0 &&
        (mrc = mdb_cursor_open(txn, e->dbi[S_DB_UP], &jc)) != 0) {
        mdb_cursor_close(cur);
    }
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    /*  lineage_down is dupfixed: GET_MULTIPLE hands out a page of dups at
        a time, but the dups of one asset are few; one at a time keeps the
        two directions alike. */
    unsigned last = UINT_MAX; /* the last type code resolved (types repeat) */
    const char *lname = NULL;
    size_t llen = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); mrc == 0 && rc == SL_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        if (v.mv_size < S_ID + 2) {
            continue; /* damage: skipped, as `store check` reports */
        }
        const uint8_t *p = v.mv_data;
        s_edge_t ed = {.other = sl_store__rd40(p)};
        ed.code = ((unsigned)p[S_ID] << 8 | p[S_ID + 1]) >> 1;
        ed.prop = p[S_ID + 1] & 1;
        ed.job = "";
        if (dir == 1) {
            ed.job = (const char *)p + S_ID + 2;
            ed.jlen = v.mv_size - S_ID - 2;
        }
        if (ed.code != last) {
            if (sl_store__type_name(txn, e, ed.code, &lname, &llen) != SL_OK) {
                last = UINT_MAX;
                continue; /* a code without a name: damage, skipped */
            }
            last = ed.code;
        }
        ed.type = lname;
        ed.tlen = llen;
        if ((flags & S_EDGE_NAMES) &&
            sl_store__id_name(txn, e, tenant, ed.other, &ed.name, &ed.nlen) != SL_OK) {
            continue; /* an edge to an id without a name: damage, skipped */
        }
        if (jc) {
            uint8_t jk[S_MAX_TENANT + 1 + S_ID];
            MDB_val jkey = {s_idkey(jk, tenant, ed.other), jk}, jv;
            if (s_find(jc, &jkey, id, ed.code, &jv) == SL_OK) {
                ed.job = (const char *)jv.mv_data + S_ID + 2;
                ed.jlen = jv.mv_size - S_ID - 2;
            }
        }
        rc = fn(arg, &ed);
    }
    mdb_cursor_close(cur);
    if (jc) {
        mdb_cursor_close(jc);
    }
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
    }
    return rc;
}

/* ---- consistency (sluice store check) */

typedef struct {
    MDB_txn *txn;
    s_env_t *e;
    const char *tenant;
    size_t tl;
    sl_store_lineage_check_t *r;
    char *why;
    size_t whylen;
} s_chk_t;

/*  Walk the tenant's keys of db; fn returns SL_EPROTO (with why) to stop. */
static int s_chk_scan(s_chk_t *c, int db, int (*fn)(s_chk_t *c, const MDB_val *k, const MDB_val *v))
{
    MDB_cursor *cur;
    MDB_val k = {c->tl, (void *)c->tenant}, v;
    int rc = SL_OK, mrc = mdb_cursor_open(c->txn, c->e->dbi[db], &cur);
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && rc == SL_OK && k.mv_size > c->tl && memcmp(k.mv_data, c->tenant, c->tl) == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = fn(c, &k, &v);
    }
    mdb_cursor_close(cur);
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
    }
    return rc;
}

static int s_chk_asset(s_chk_t *c, const MDB_val *k, const MDB_val *v)
{
    uint64_t id;
    const char *name;
    size_t nl, ql = k->mv_size - c->tl;
    const char *qn = (const char *)k->mv_data + c->tl;
    c->r->assets++;
    if (sl_asset_id(v->mv_data, v->mv_size, &id) != SL_OK) {
        snprintf(c->why, c->whylen, "asset %.*s: its value has no id", (int)ql, qn);
        return SL_EPROTO;
    }
    if (sl_store__id_name(c->txn, c->e, c->tenant, id, &name, &nl) != SL_OK || nl != ql ||
        memcmp(name, qn, ql) != 0) {
        snprintf(c->why, c->whylen, "asset %.*s: id %llu is not named after it in `names`", (int)ql,
                 qn, (unsigned long long)id);
        return SL_EPROTO;
    }
    return SL_OK;
}

static int s_chk_name(s_chk_t *c, const MDB_val *k, const MDB_val *v)
{
    uint64_t id;
    c->r->names++;
    if (k->mv_size != c->tl + S_ID) {
        snprintf(c->why, c->whylen, "`names` holds a key that is not an id");
        return SL_EPROTO;
    }
    int rc = sl_store__id_of(c->txn, c->e, c->tenant, v->mv_data, v->mv_size, &id);
    if (rc != SL_OK || id != sl_store__rd40((const uint8_t *)k->mv_data + c->tl)) {
        snprintf(c->why, c->whylen, "id %llu names %.*s, which %s",
                 (unsigned long long)sl_store__rd40((const uint8_t *)k->mv_data + c->tl),
                 (int)(v->mv_size < 200 ? v->mv_size : 200), (const char *)v->mv_data,
                 rc == SL_OK ? "has another id" : "is not an asset");
        return SL_EPROTO;
    }
    return SL_OK;
}

/*  Each edge: both ends named, its type known, and its other direction
    there with the same flag. */
static int s_chk_edge(s_chk_t *c, const MDB_val *k, const MDB_val *v, int dir)
{
    const uint8_t *p = v->mv_data;
    const char *s;
    size_t n;
    uint64_t self = sl_store__rd40((const uint8_t *)k->mv_data + c->tl);
    if (k->mv_size != c->tl + S_ID || v->mv_size < S_ID + 2 ||
        (dir == 0 && v->mv_size != S_ID + 2)) {
        snprintf(c->why, c->whylen, "lineage_%s: a record of the wrong size", dir ? "up" : "down");
        return SL_EPROTO;
    }
    uint64_t other = sl_store__rd40(p);
    unsigned code = ((unsigned)p[S_ID] << 8 | p[S_ID + 1]) >> 1;
    int prop = p[S_ID + 1] & 1, mprop;
    if (sl_store__id_name(c->txn, c->e, c->tenant, self, &s, &n) != SL_OK ||
        sl_store__id_name(c->txn, c->e, c->tenant, other, &s, &n) != SL_OK) {
        snprintf(c->why, c->whylen, "lineage_%s: edge %llu - %llu names an id without a name",
                 dir ? "up" : "down", (unsigned long long)self, (unsigned long long)other);
        return SL_EPROTO;
    }
    if (sl_store__type_name(c->txn, c->e, code, &s, &n) != SL_OK) {
        snprintf(c->why, c->whylen, "lineage_%s: edge type code %u has no name",
                 dir ? "up" : "down", code);
        return SL_EPROTO;
    }
    if (dir == 1) {
        c->r->edges_up++;
        return SL_OK; /* the mirror of each down edge is checked from down */
    }
    c->r->edges++;
    if (sl_store__edge_get(c->txn, c->e, c->tenant, self, other, code, &mprop, &s, &n) != SL_OK ||
        mprop != prop) {
        snprintf(c->why, c->whylen, "edge %llu -> %llu (type %u) is in lineage_down only%s",
                 (unsigned long long)self, (unsigned long long)other, code,
                 mprop != prop ? " (or with another flag upstream)" : "");
        return SL_EPROTO;
    }
    return SL_OK;
}

static int s_chk_down(s_chk_t *c, const MDB_val *k, const MDB_val *v)
{
    return s_chk_edge(c, k, v, 0);
}

static int s_chk_up(s_chk_t *c, const MDB_val *k, const MDB_val *v)
{
    return s_chk_edge(c, k, v, 1);
}

int sl_store_lineage_check(sl_store_t *s, const char *tenant, sl_store_lineage_check_t *r,
                           char *why, size_t whylen)
{
    s_env_t *e;
    MDB_txn *txn;
    memset(r, 0, sizeof *r);
    why[0] = 0;
    if (!tenant || sl_store__env(s, tenant, &e) != SL_OK) {
        return SL_EINVAL;
    }
    int rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn));
    if (rc != SL_OK) {
        return rc;
    }
    s_chk_t c = {txn, e, tenant, strlen(tenant) + 1, r, why, whylen};
    if ((rc = s_chk_scan(&c, S_DB_ASSETS, s_chk_asset)) == SL_OK &&
        (rc = s_chk_scan(&c, S_DB_NAMES, s_chk_name)) == SL_OK &&
        (rc = s_chk_scan(&c, S_DB_DOWN, s_chk_down)) == SL_OK &&
        (rc = s_chk_scan(&c, S_DB_UP, s_chk_up)) == SL_OK && r->edges != r->edges_up) {
        snprintf(why, whylen, "lineage_down holds %llu edges, lineage_up %llu",
                 (unsigned long long)r->edges, (unsigned long long)r->edges_up);
        rc = SL_EPROTO;
    }
    mdb_txn_abort(txn);
    return rc;
}
