/*  Propagation reads of the store (sluice/store.h "propagation"): the
    views the lineage walker computes with, and the provenance document.
    Writes of copies and blocks are in core/store.c with the other kinds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/store_internal.h"
#include "sluice/mpjson.h"

struct sl_store_view {
    sl_store_t *s;
    uint64_t ev; /* the tenant's edge version in this snapshot */
    s_env_t *e;
    MDB_txn *txn;
    int borrowed; /* txn belongs to the caller (sl_store__view_on) */
    int released; /* txn reset (no snapshot held) until the next refresh */
    char tenant[S_MAX_TENANT + 1];
    int has_blocks;
    sl_buf_t k, k2; /* scratch keys */
    sl_buf_t one;   /* sl_store_view_copy's strings */
};

/* ---------------------------------------------------------- encodings */

void sl_store__h16(uint8_t out[S_H], const char *s, size_t n)
{
    /*  Two SipHash-2-4 of fixed keys: not a secret, just 128 well-mixed
        bits so that fixed-size keys stand for names of any length. */
    static const uint8_t k1[crypto_shorthash_KEYBYTES] = "sluice/prop/k1!";
    static const uint8_t k2[crypto_shorthash_KEYBYTES] = "sluice/prop/k2!";
    crypto_shorthash(out, (const unsigned char *)s, n, k1);
    crypto_shorthash(out + 8, (const unsigned char *)s, n, k2);
}

/*  The target's part of a key: its first S_PROP_NAME bytes, a 0, its
    digest. Keys sort by target name, so the copies at one target, and at
    targets whose names share a prefix (a schema's tables), are neighbours
    in the B-tree. */
static int s_target_part(sl_buf_t *k, const char *target)
{
    size_t n = strlen(target);
    uint8_t h[S_H];
    sl_store__h16(h, target, n);
    int rc = sl_buf_append(k, target, n < S_PROP_NAME ? n : S_PROP_NAME);
    if (rc == SL_OK) {
        rc = sl_buf_append(k, "", 1);
    }
    return rc ? rc : sl_buf_append(k, h, S_H);
}

/*  tenant\0, then the target part before (PROP) or after (PIDX) the
    value's and source's digests. */
static int s_copy_key(sl_buf_t *k, const char *tenant, const char *target, const char *value,
                      const char *source, int target_first)
{
    uint8_t h[2 * S_H];
    sl_store__h16(h, value, strlen(value));
    sl_store__h16(h + S_H, source, strlen(source));
    sl_buf_reset(k);
    int rc = sl_buf_append(k, tenant, strlen(tenant) + 1);
    if (rc == SL_OK && target_first) {
        rc = s_target_part(k, target);
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(k, h, sizeof h);
    }
    return rc || target_first ? rc : s_target_part(k, target);
}

int sl_store__prop_key(sl_buf_t *k, const char *tenant, const char *target, const char *value,
                       const char *source)
{
    return s_copy_key(k, tenant, target, value, source, 1);
}

int sl_store__pidx_key(sl_buf_t *k, const char *tenant, const char *value, const char *source,
                       const char *target)
{
    return s_copy_key(k, tenant, target, value, source, 0);
}

static int s_be32(sl_buf_t *v, uint32_t d)
{
    uint8_t b[4] = {(uint8_t)(d >> 24), (uint8_t)(d >> 16), (uint8_t)(d >> 8), (uint8_t)d};
    return sl_buf_append(v, b, 4);
}

int sl_store__prop_val(sl_buf_t *v, uint32_t depth, const char *target, const char *value,
                       const char *source, const char *via)
{
    int rc;
    sl_buf_reset(v);
    if ((rc = s_be32(v, depth)) != SL_OK || (rc = sl_buf_append(v, target, strlen(target) + 1)) ||
        (value && (rc = sl_buf_append(v, value, strlen(value) + 1)) != SL_OK) ||
        (source && (rc = sl_buf_append(v, source, strlen(source) + 1)) != SL_OK)) {
        return rc;
    }
    return sl_buf_append(v, via, strlen(via));
}

/*  The next NUL-terminated string of [*p, end), or NULL. */
static const char *s_next(const char **p, const char *end)
{
    const char *s = *p, *z = memchr(s, 0, (size_t)(end - s));
    if (!z) {
        return NULL;
    }
    *p = z + 1;
    return s;
}

static uint32_t s_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*  A PROP value: be32 depth, then target, value, source, via. The last
    part is not NUL-terminated in the store: s_copy_strings copies the
    value with a NUL after it before parsing. */
int sl_store__prop_parse(const MDB_val *v, sl_store_copy_t *out)
{
    const char *p = (const char *)v->mv_data + 4, *end = (const char *)v->mv_data + v->mv_size;
    if (v->mv_size < 5) {
        return SL_EPROTO;
    }
    out->depth = s_rd32(v->mv_data);
    if (!(out->target = s_next(&p, end)) || !(out->value = s_next(&p, end)) ||
        !(out->source = s_next(&p, end))) {
        return SL_EPROTO;
    }
    out->via = p; /* up to end: see s_copy_strings */
    return SL_OK;
}

int sl_store__blocked(const MDB_val *v, const char *tag, size_t taglen)
{
    const char *p = v->mv_data, *end = p + v->mv_size, *pat;
    while (p < end && (pat = s_next(&p, end))) {
        size_t n = strlen(pat);
        if (n && pat[n - 1] == '*' ? taglen >= n - 1 && memcmp(pat, tag, n - 1) == 0
                                   : n == taglen && memcmp(pat, tag, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- views */

int sl_store_view_begin(sl_store_t *s, const char *tenant, sl_store_view_t **vp)
{
    sl_store_view_t *v = calloc(1, sizeof *v);
    int rc;
    *vp = NULL;
    if (!v) {
        return SL_ENOMEM;
    }
    if (!tenant || strlen(tenant) > S_MAX_TENANT || sl_store__env(s, tenant, &v->e) != SL_OK) {
        free(v);
        return SL_EINVAL;
    }
    snprintf(v->tenant, sizeof v->tenant, "%s", tenant);
    v->s = s;
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(v->e->env, NULL, MDB_RDONLY, &v->txn))) != SL_OK) {
        free(v);
        return rc;
    }
    if ((rc = sl_store_view_refresh(v)) != SL_OK) {
        sl_store_view_end(&v);
        return rc;
    }
    *vp = v;
    return SL_OK;
}

static int s_prefix_any(sl_store_view_t *v, int db, const void *pfx, size_t n)
{
    MDB_cursor *cur;
    MDB_val k = {n, (void *)pfx}, d;
    if (mdb_cursor_open(v->txn, v->e->dbi[db], &cur) != 0) {
        return 1; /* unknown: assume yes */
    }
    int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    int any = mrc == 0 && k.mv_size >= n && memcmp(k.mv_data, pfx, n) == 0;
    mdb_cursor_close(cur);
    return any;
}

void sl_store_view_release(sl_store_view_t *v)
{
    if (v && !v->borrowed && !v->released) {
        mdb_txn_reset(v->txn);
        v->released = 1;
    }
}

int sl_store_view_refresh(sl_store_view_t *v)
{
    if (!v->released) {
        mdb_txn_reset(v->txn);
    }
    v->released = 0;
    int rc = sl_store__mdb_rc(mdb_txn_renew(v->txn));
    if (rc == SL_OK) {
        v->has_blocks = s_prefix_any(v, S_DB_BLOCKS, v->tenant, strlen(v->tenant) + 1);
        v->ev = sl_store__edge_version(v->txn, v->e, v->tenant);
    }
    return rc;
}

void sl_store_view_end(sl_store_view_t **vp)
{
    if (!vp || !*vp) {
        return;
    }
    sl_store_view_t *v = *vp;
    if (v->txn && !v->borrowed) {
        mdb_txn_abort(v->txn);
    }
    sl_buf_free(&v->k);
    sl_buf_free(&v->k2);
    sl_buf_free(&v->one);
    free(v);
    *vp = NULL;
}

sl_store_view_t *sl_store__view_on(sl_store_t *s, s_env_t *e, MDB_txn *txn, const char *tenant)
{
    sl_store_view_t *v = calloc(1, sizeof *v);
    if (v) {
        v->s = s;
        v->e = e;
        v->txn = txn;
        v->borrowed = 1;
        snprintf(v->tenant, sizeof v->tenant, "%s", tenant);
        v->has_blocks = s_prefix_any(v, S_DB_BLOCKS, v->tenant, strlen(v->tenant) + 1);
        v->ev = sl_store__edge_version(txn, e, v->tenant);
    }
    return v;
}

/*  tenant\0name (name may lack a NUL). */
static int s_key(sl_store_view_t *v, sl_buf_t *k, const char *name, size_t n)
{
    sl_buf_reset(k);
    int rc = sl_buf_append(k, v->tenant, strlen(v->tenant) + 1);
    return rc ? rc : sl_buf_append(k, name, n);
}

typedef struct {
    sl_store_edge_fn fn;
    void *arg;
} s_vedge_t;

static int s_vedge(void *arg, const s_edge_t *e)
{
    s_vedge_t *ve = arg;
    return ve->fn(ve->arg, e->name, e->nlen, e->type, e->tlen, e->prop);
}

int sl_store_view_edges(sl_store_view_t *v, const char *qn, size_t qnlen, sl_direction_t dir,
                        sl_store_edge_fn fn, void *arg)
{
    int rc;
    if (qnlen > S_MAX_NAME || (dir != SL_DIR_DOWN && dir != SL_DIR_UP)) {
        return SL_EINVAL;
    }
    s_graph_t *g =
        dir == SL_DIR_DOWN ? sl_store__graph_get(v->s, v->e, v->txn, v->tenant, v->ev) : NULL;
    if (g) {
        rc = sl_store__graph_down(g, qn, qnlen, fn, arg);
        sl_store__graph_release(g);
        return rc;
    }
    uint64_t id;
    rc = sl_store__id_of(v->txn, v->e, v->tenant, qn, qnlen, &id);
    if (rc == SL_ENOTFOUND || rc == SL_EPROTO) {
        return SL_OK; /* no such asset (or a damaged one): no edges */
    }
    s_vedge_t ve = {fn, arg};
    return rc ? rc
              : sl_store__edges_each(v->txn, v->e, v->tenant, id, dir == SL_DIR_DOWN ? 0 : 1,
                                     S_EDGE_NAMES, s_vedge, &ve);
}

/*  Is the incident under INC key k (tenant\0source\0id) open? Its tree
    in *tree if wanted. */
static int s_inc_open(sl_store_view_t *v, const MDB_val *val)
{
    sl_slice_t st;
    if (sl_msgpack_map_str(val->mv_data, val->mv_size, "status", &st) != SL_OK) {
        return 1;
    }
    (void)v;
    return !(st.len == 8 && memcmp(st.ptr, "resolved", 8) == 0);
}

/*  "incident:" + source/id from an INC_IDX value or INC key tail
    (source\0id). */
static int s_inc_value(sl_buf_t *out, const char *p, size_t n)
{
    sl_buf_reset(out);
    int rc = sl_buf_append(out, "incident:", 9);
    for (size_t i = 0; rc == SL_OK && i < n; i++) {
        char ch = p[i] ? p[i] : '/';
        rc = sl_buf_append(out, &ch, 1);
    }
    return rc ? rc : sl_buf_append(out, "", 1);
}

/*  The origins a decoded asset tree holds, then its open incidents. */
static int s_tree_origins(sl_store_view_t *v, const char *qn, json_t *a, sl_store_value_fn fn,
                          void *arg)
{
    const char *name;
    json_t *entry, *o;
    size_t i;
    int rc = SL_OK;
    sl_buf_t val = {0};
    json_object_foreach(json_object_get(a, "tags"), name, entry)
    {
        json_t *own = json_object_get(entry, "own");
        if (rc == SL_OK && json_is_object(own) && json_is_true(json_object_get(own, "propagate"))) {
            sl_buf_reset(&val);
            if ((rc = sl_buf_append(&val, "tag:", 4)) == SL_OK &&
                (rc = sl_buf_append(&val, name, strlen(name) + 1)) == SL_OK) {
                rc = fn(arg, (const char *)val.data);
            }
        }
    }
    json_array_foreach(json_object_get(a, "owners"), i, o)
    {
        if (rc == SL_OK && json_is_string(o) && json_string_length(o) > 0) {
            sl_buf_reset(&val);
            if ((rc = sl_buf_append(&val, "owner:", 6)) == SL_OK &&
                (rc = sl_buf_append(&val, json_string_value(o), json_string_length(o) + 1)) ==
                    SL_OK) {
                rc = fn(arg, (const char *)val.data);
            }
        }
    }
    if (rc == SL_OK && json_string_length(json_object_get(a, "description")) > 0) {
        rc = fn(arg, "description");
    }
    /*  Open incidents naming this asset. */
    MDB_cursor *cur;
    MDB_val k, d;
    int mrc;
    if (rc == SL_OK && (rc = s_key(v, &v->k2, qn, strlen(qn))) == SL_OK &&
        (mrc = mdb_cursor_open(v->txn, v->e->dbi[S_DB_INC_IDX], &cur)) == 0) {
        k.mv_size = v->k2.len;
        k.mv_data = v->k2.data;
        for (mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); mrc == 0 && rc == SL_OK;
             mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
            MDB_val ik, iv;
            sl_buf_t ikey = {0};
            if (sl_buf_append(&ikey, v->tenant, strlen(v->tenant) + 1) == SL_OK &&
                sl_buf_append(&ikey, d.mv_data, d.mv_size) == SL_OK) {
                ik.mv_size = ikey.len;
                ik.mv_data = ikey.data;
                if (mdb_get(v->txn, v->e->dbi[S_DB_INC], &ik, &iv) == 0 && s_inc_open(v, &iv) &&
                    (rc = s_inc_value(&val, d.mv_data, d.mv_size)) == SL_OK) {
                    rc = fn(arg, (const char *)val.data);
                }
            }
            sl_buf_free(&ikey);
        }
        mdb_cursor_close(cur);
    }
    sl_buf_free(&val);
    return rc;
}

int sl_store_view_origins(sl_store_view_t *v, const char *qn, sl_store_value_fn fn, void *arg,
                          int *exists)
{
    MDB_val k, d;
    int rc;
    if (exists) {
        *exists = 0;
    }
    if (strlen(qn) > S_MAX_NAME) {
        return SL_EINVAL;
    }
    if ((rc = s_key(v, &v->k, qn, strlen(qn))) != SL_OK) {
        return rc;
    }
    k.mv_size = v->k.len;
    k.mv_data = v->k.data;
    int mrc = mdb_get(v->txn, v->e->dbi[S_DB_ASSETS], &k, &d);
    if (mrc == MDB_NOTFOUND) {
        return SL_OK;
    }
    if (mrc != 0) {
        return sl_store__mdb_rc(mrc);
    }
    if (exists) {
        *exists = 1;
    }
    json_t *a = sl_store__asset_tree(&d);
    if (!a) {
        return SL_ENOMEM;
    }
    rc = s_tree_origins(v, qn, a, fn, arg);
    json_decref(a);
    return rc;
}

typedef struct {
    sl_store_pair_fn fn;
    void *arg;
    const char *qn;
} s_pairs_arg_t;

static int s_origin_to_pair(void *arg, const char *value)
{
    s_pairs_arg_t *p = arg;
    /*  Incidents are passed from the incidents' own scan (below), so an
        incident naming several assets is read once. */
    if (strncmp(value, "incident:", 9) == 0) {
        return SL_OK;
    }
    return p->fn(p->arg, value, p->qn);
}

int sl_store_view_all_origins(sl_store_view_t *v, sl_store_pair_fn fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val k, d;
    size_t tl = strlen(v->tenant) + 1;
    int rc = SL_OK, mrc;
    sl_buf_t qn = {0}, val = {0};
    for (int db = S_DB_ASSETS; rc == SL_OK && db <= S_DB_INC; db += S_DB_INC - S_DB_ASSETS) {
        if ((mrc = mdb_cursor_open(v->txn, v->e->dbi[db], &cur)) != 0) {
            rc = sl_store__mdb_rc(mrc);
            break;
        }
        k.mv_size = tl;
        k.mv_data = v->tenant;
        for (mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
             mrc == 0 && rc == SL_OK && k.mv_size > tl && memcmp(k.mv_data, v->tenant, tl) == 0;
             mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            const char *tail = (const char *)k.mv_data + tl;
            size_t tn = k.mv_size - tl;
            if (db == S_DB_ASSETS) {
                sl_buf_reset(&qn);
                if ((rc = sl_buf_append(&qn, tail, tn)) != SL_OK ||
                    (rc = sl_buf_append(&qn, "", 1)) != SL_OK) {
                    break;
                }
                json_t *a = sl_store__asset_tree(&d);
                s_pairs_arg_t pa = {fn, arg, (const char *)qn.data};
                rc = a ? s_tree_origins(v, pa.qn, a, s_origin_to_pair, &pa) : SL_ENOMEM;
                json_decref(a);
                continue;
            }
            if (!s_inc_open(v, &d)) {
                continue;
            }
            json_t *inc = sl_store__tree(&d);
            size_t i;
            json_t *q;
            if (!inc || (rc = s_inc_value(&val, tail, tn)) != SL_OK) {
                json_decref(inc);
                rc = rc ? rc : SL_ENOMEM;
                break;
            }
            json_array_foreach(json_object_get(inc, "qualified_names"), i, q)
            {
                if (rc == SL_OK && json_is_string(q)) {
                    rc = fn(arg, (const char *)val.data, json_string_value(q));
                }
            }
            json_decref(inc);
        }
        if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
            rc = sl_store__mdb_rc(mrc);
        }
        mdb_cursor_close(cur);
    }
    sl_buf_free(&qn);
    sl_buf_free(&val);
    return rc;
}

int sl_store_view_incident(sl_store_view_t *v, const char *key, sl_store_name_fn fn, void *arg,
                           int *open)
{
    const char *slash = strchr(key, '/');
    MDB_val k, d;
    *open = 0;
    if (!slash || slash == key || strlen(key) > 2 * S_MAX_NAME + 1) {
        return SL_EINVAL;
    }
    sl_buf_reset(&v->k);
    int rc = sl_buf_append(&v->k, v->tenant, strlen(v->tenant) + 1);
    if (rc == SL_OK && (rc = sl_buf_append(&v->k, key, (size_t)(slash - key))) == SL_OK &&
        (rc = sl_buf_append(&v->k, "", 1)) == SL_OK) {
        rc = sl_buf_append(&v->k, slash + 1, strlen(slash + 1));
    }
    if (rc != SL_OK) {
        return rc;
    }
    k.mv_size = v->k.len;
    k.mv_data = v->k.data;
    if ((rc = sl_store__mdb_rc(mdb_get(v->txn, v->e->dbi[S_DB_INC], &k, &d))) != SL_OK) {
        return rc;
    }
    *open = s_inc_open(v, &d);
    json_t *inc = sl_store__tree(&d), *q;
    size_t i;
    if (!inc) {
        return SL_ENOMEM;
    }
    json_array_foreach(json_object_get(inc, "qualified_names"), i, q)
    {
        if (rc == SL_OK && json_is_string(q)) {
            rc = fn(arg, json_string_value(q));
        }
    }
    json_decref(inc);
    return rc;
}

int sl_store_view_has_blocks(sl_store_view_t *v)
{
    return v->has_blocks;
}

int sl_store_view_blocked(sl_store_view_t *v, const char *qn, size_t qnlen, const char *tag,
                          size_t taglen)
{
    MDB_val k, d;
    if (!v->has_blocks || s_key(v, &v->k2, qn, qnlen) != SL_OK) {
        return 0;
    }
    k.mv_size = v->k2.len;
    k.mv_data = v->k2.data;
    return mdb_get(v->txn, v->e->dbi[S_DB_BLOCKS], &k, &d) == 0 &&
           sl_store__blocked(&d, tag, taglen);
}

/*  Copy a stored copy's strings (its via is not NUL-terminated) into buf
    and point *c at them. */
static int s_copy_strings(sl_buf_t *buf, const MDB_val *d, sl_store_copy_t *c)
{
    sl_buf_reset(buf);
    int rc = sl_buf_append(buf, d->mv_data, d->mv_size);
    if (rc == SL_OK) {
        rc = sl_buf_append(buf, "", 1);
    }
    if (rc != SL_OK) {
        return rc;
    }
    MDB_val nd = {d->mv_size, buf->data};
    return sl_store__prop_parse(&nd, c);
}

/*  Walk keys under prefix p (n bytes) of db; fn gets each value. */
static int s_scan(sl_store_view_t *v, int db, const void *p, size_t n,
                  int (*fn)(sl_store_view_t *v, const MDB_val *k, const MDB_val *d, void *arg),
                  void *arg)
{
    MDB_cursor *cur;
    MDB_val k = {n, (void *)p}, d;
    int rc = SL_OK, mrc;
    if ((mrc = mdb_cursor_open(v->txn, v->e->dbi[db], &cur)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    for (mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
         mrc == 0 && rc == SL_OK && k.mv_size >= n && memcmp(k.mv_data, p, n) == 0;
         mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        rc = fn(v, &k, &d, arg);
    }
    mdb_cursor_close(cur);
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
    }
    return rc;
}

typedef struct {
    sl_store_copy_fn fn;
    void *arg;
    const char *value, *source;
    sl_buf_t buf;
    uint8_t last[2 * S_H]; /* pairs: the previous pair's hashes */
    int have_last;
    sl_store_pair_fn pfn;
} s_copies_t;

static int s_at_fn(sl_store_view_t *v, const MDB_val *k, const MDB_val *d, void *arg)
{
    s_copies_t *c = arg;
    sl_store_copy_t cp;
    (void)v;
    (void)k;
    int rc = s_copy_strings(&c->buf, d, &cp);
    return rc == SL_EPROTO ? SL_OK : rc ? rc : c->fn(c->arg, &cp);
}

int sl_store_view_copies_at(sl_store_view_t *v, const char *target, sl_store_copy_fn fn, void *arg)
{
    /*  The prefix is our own: callbacks may use the view's scratch keys. */
    sl_buf_t pfx = {0};
    s_copies_t c = {.fn = fn, .arg = arg};
    int rc = sl_buf_append(&pfx, v->tenant, strlen(v->tenant) + 1);
    if (rc == SL_OK) {
        rc = s_target_part(&pfx, target);
    }
    if (rc == SL_OK) {
        rc = s_scan(v, S_DB_PROP, pfx.data, pfx.len, s_at_fn, &c);
    }
    sl_buf_free(&pfx);
    sl_buf_free(&c.buf);
    return rc;
}

/*  PIDX value: be32 depth, target\0 via. */
static int s_of_fn(sl_store_view_t *v, const MDB_val *k, const MDB_val *d, void *arg)
{
    s_copies_t *c = arg;
    (void)v;
    (void)k;
    if (d->mv_size < 5) {
        return SL_OK;
    }
    sl_buf_reset(&c->buf);
    if (sl_buf_append(&c->buf, d->mv_data, d->mv_size) != SL_OK ||
        sl_buf_append(&c->buf, "", 1) != SL_OK) {
        return SL_ENOMEM;
    }
    const char *p = (const char *)c->buf.data + 4, *end = (const char *)c->buf.data + d->mv_size;
    sl_store_copy_t cp = {.value = c->value, .source = c->source, .depth = s_rd32(c->buf.data)};
    if (!(cp.target = s_next(&p, end))) {
        return SL_OK;
    }
    cp.via = p;
    return c->fn(c->arg, &cp);
}

int sl_store_view_copies_of(sl_store_view_t *v, const char *value, const char *source,
                            sl_store_copy_fn fn, void *arg)
{
    uint8_t pfx[S_MAX_TENANT + 1 + 2 * S_H];
    size_t tl = strlen(v->tenant) + 1;
    s_copies_t c = {.fn = fn, .arg = arg, .value = value, .source = source};
    memcpy(pfx, v->tenant, tl);
    sl_store__h16(pfx + tl, value, strlen(value));
    sl_store__h16(pfx + tl + S_H, source, strlen(source));
    int rc = s_scan(v, S_DB_PIDX, pfx, tl + 2 * S_H, s_of_fn, &c);
    sl_buf_free(&c.buf);
    return rc;
}

int sl_store_view_copy(sl_store_view_t *v, const char *target, const char *value,
                       const char *source, sl_store_copy_t *out)
{
    MDB_val k, d;
    int rc = sl_store__prop_key(&v->k, v->tenant, target, value, source);
    if (rc != SL_OK) {
        return rc;
    }
    k.mv_size = v->k.len;
    k.mv_data = v->k.data;
    if ((rc = sl_store__mdb_rc(mdb_get(v->txn, v->e->dbi[S_DB_PROP], &k, &d))) != SL_OK) {
        return rc;
    }
    return s_copy_strings(&v->one, &d, out);
}

/*  Keys of PIDX: tenant\0 H(value) H(source) target-part: one pair's
    copies are adjacent; the first of each pair names it (through PROP,
    whose key is tenant\0 target-part H(value) H(source)). */
static int s_pairs_fn(sl_store_view_t *v, const MDB_val *k, const MDB_val *d, void *arg)
{
    s_copies_t *c = arg;
    size_t tl = strlen(v->tenant) + 1;
    if (k->mv_size < tl + 3 * S_H + 1 || d->mv_size < 5) {
        return SL_OK;
    }
    const uint8_t *h = (const uint8_t *)k->mv_data + tl;
    size_t tpart = k->mv_size - tl - 2 * S_H;
    if (c->have_last && memcmp(c->last, h, 2 * S_H) == 0) {
        return SL_OK;
    }
    memcpy(c->last, h, 2 * S_H);
    c->have_last = 1;
    uint8_t pk[S_MAX_TENANT + 1 + S_PROP_NAME + 1 + 3 * S_H];
    if (tl + tpart + 2 * S_H > sizeof pk) {
        return SL_OK;
    }
    memcpy(pk, v->tenant, tl);
    memcpy(pk + tl, h + 2 * S_H, tpart);
    memcpy(pk + tl + tpart, h, 2 * S_H);
    MDB_val key = {tl + tpart + 2 * S_H, pk}, val;
    sl_store_copy_t cp;
    if (mdb_get(v->txn, v->e->dbi[S_DB_PROP], &key, &val) != 0 ||
        s_copy_strings(&c->buf, &val, &cp) != SL_OK) {
        return SL_OK;
    }
    return c->pfn(c->arg, cp.value, cp.source);
}

int sl_store_view_pairs(sl_store_view_t *v, sl_store_pair_fn fn, void *arg)
{
    s_copies_t c = {.pfn = fn, .arg = arg};
    int rc = s_scan(v, S_DB_PIDX, v->tenant, strlen(v->tenant) + 1, s_pairs_fn, &c);
    sl_buf_free(&c.buf);
    return rc;
}

/* ---------------------------------------------------------- provenance */

typedef struct {
    const char *value;
    json_t *sources; /* source -> depth, for each copy at the asset */
} s_prov_t;

static int s_prov_copy(void *arg, const sl_store_copy_t *cp)
{
    s_prov_t *p = arg;
    if (strcmp(cp->value, p->value) == 0) {
        json_object_set_new(p->sources, cp->source, json_integer(cp->depth));
    }
    return SL_OK;
}

typedef struct {
    const char *value;
    int found;
} s_has_t;

static int s_has_value(void *arg, const char *value)
{
    s_has_t *h = arg;
    h->found |= strcmp(value, h->value) == 0;
    return SL_OK;
}

int sl_store_provenance_json(sl_store_t *s, const char *tenant, const char *qn, const char *value,
                             sl_buf_t *out)
{
    sl_store_view_t *v = NULL;
    s_prov_t p = {value, json_object()};
    s_has_t has = {value, 0};
    json_t *doc = NULL, *paths = json_array();
    int exists = 0, rc;
    if (!qn || !qn[0] || strlen(qn) > S_MAX_NAME || !value || !value[0] ||
        strlen(value) > S_MAX_NAME || !out) {
        rc = SL_EINVAL;
        goto out;
    }
    if (!p.sources || !paths) {
        rc = SL_ENOMEM;
        goto out;
    }
    if ((rc = sl_store_view_begin(s, tenant, &v)) != SL_OK ||
        (rc = sl_store_view_origins(v, qn, s_has_value, &has, &exists)) != SL_OK) {
        goto out;
    }
    if (!exists) {
        rc = SL_ENOTFOUND;
        goto out;
    }
    if ((rc = sl_store_view_copies_at(v, qn, s_prov_copy, &p)) != SL_OK) {
        goto out;
    }
    const char *src;
    json_t *dj;
    json_object_foreach(p.sources, src, dj)
    {
        /*  Follow each copy's via back to the source: one shortest path.
            Bounded by the recorded depth, so a damaged chain cannot loop. */
        json_int_t depth = json_integer_value(dj);
        json_t *path = json_array();
        char *cur = strdup(qn);
        int complete = 0;
        json_array_append_new(path, json_string(qn));
        for (json_int_t step = 0; cur && step <= depth; step++) {
            if (strcmp(cur, src) == 0) {
                complete = 1;
                break;
            }
            sl_store_copy_t cp;
            if (sl_store_view_copy(v, cur, value, src, &cp) != SL_OK) {
                break;
            }
            free(cur);
            cur = strdup(cp.via);
            json_array_insert_new(path, 0, json_string(cp.via));
        }
        free(cur);
        json_t *item = json_pack("{s:s,s:I,s:o,s:b}", "source", src, "path_length", depth, "path",
                                 path, "complete", complete);
        if (!item || json_array_append_new(paths, item) != 0) {
            rc = SL_ENOMEM;
            goto out;
        }
    }
    doc = json_pack("{s:s,s:s,s:b,s:O}", "qualified_name", qn, "value", value, "own", has.found,
                    "paths", paths);
    rc = doc ? sl_store__dump(doc, out) : SL_ENOMEM;
out:
    sl_store_view_end(&v);
    json_decref(doc);
    json_decref(paths);
    json_decref(p.sources);
    return rc;
}
