/*  The compact asset value: layout in core/store_codec.h, the measurement
    behind it in docs/RATIONALE.md ("Store: the asset value codec").

    Field names become one-byte codes, times become deltas, and the tag
    entries the store writes ({"own": {"set_by", "set_at", "propagate"}})
    become an int or a short array. Everything else goes through as plain
    msgpack, decoded by sl_msgpack_to_jansson so that every generic part
    reads exactly as the rest of sluice reads msgpack. The generic writer
    is this file's own (not sl_jansson_to_msgpack): it keeps object keys
    with NUL bytes whole, and writes floats in 5 bytes when they fit.

    The decoder walks the outer map with its own bounded reader: every
    head checks the bytes left, skipping is iterative (a count of values
    still owed, never more than the bytes left), and the generic parts are
    handed to sl_msgpack_to_jansson as exact slices, which bounds depth. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/store_codec.h"
#include "sluice/event.h"
#include "sluice/mpjson.h"

/*  Keys of the outer map. S_ID is not written: the id is in the head. */
enum {
    S_UNKNOWN = 0,
    S_VERSION = 1,
    S_CREATED = 2,
    S_UPDATED_DELTA = 3,
    S_UPDATED = 4,
    S_PLACEHOLDER = 5,
    S_TYPE = 6,
    S_NAME = 7,
    S_DESCRIPTION = 8,
    S_OWNERS = 9,
    S_ATTRIBUTES = 10,
    S_SOURCES = 11,
    S_TAGS = 12,
    S_CODES = 13,
    S_ID = S_CODES
};

static const struct {
    const char *name;
    size_t len;
} s_fields[S_CODES + 1] = {
    [S_VERSION] = {"version", 7},
    [S_CREATED] = {"created_at", 10},
    [S_UPDATED] = {"updated_at", 10},
    [S_PLACEHOLDER] = {"placeholder", 11},
    [S_TYPE] = {"type", 4},
    [S_NAME] = {"name", 4},
    [S_DESCRIPTION] = {"description", 11},
    [S_OWNERS] = {"owners", 6},
    [S_ATTRIBUTES] = {"attributes", 10},
    [S_TAGS] = {"tags", 4},
    [S_ID] = {"id", 2},
};

/*  The code of a field name (S_UPDATED for "updated_at", S_ID for "id"),
    S_UNKNOWN for any other name. */
static int s_field(const char *k, size_t n)
{
    for (int c = 1; c <= S_CODES; c++) {
        if (s_fields[c].name && s_fields[c].len == n && memcmp(s_fields[c].name, k, n) == 0) {
            return c;
        }
    }
    return S_UNKNOWN;
}

/* ------------------------------------------------------------------------ */
/*  Writer */

static int s_put_str(sl_buf_t *out, const char *s, size_t n)
{
    return n > UINT32_MAX ? SL_ERANGE : sl_mp_str(out, s, n);
}

static int s_put_code(sl_buf_t *out, int code)
{
    uint8_t c = (uint8_t)code;
    return sl_buf_append(out, &c, 1);
}

/*  A tag entry of the shape the store writes, exactly:
    {"own": {"set_by": string, "set_at": integer, "propagate": boolean}}. */
typedef struct {
    const char *by;
    size_t bylen;
    int64_t at;
    int prop;
} s_own_t;

static int s_own(json_t *entry, s_own_t *o)
{
    json_t *own = json_object_get(entry, "own");
    if (!json_is_object(entry) || json_object_size(entry) != 1 || !json_is_object(own) ||
        json_object_size(own) != 3) {
        return 0;
    }
    json_t *by = json_object_get(own, "set_by");
    json_t *at = json_object_get(own, "set_at");
    json_t *prop = json_object_get(own, "propagate");
    if (!json_is_string(by) || !json_is_integer(at) || !json_is_boolean(prop) ||
        json_string_length(by) > UINT32_MAX) {
        return 0;
    }
    o->by = json_string_value(by);
    o->bylen = json_string_length(by);
    o->at = json_integer_value(at);
    o->prop = json_is_true(prop);
    return 1;
}

/*  1 if the entry is written compact after an entry at `base`: *d the
    delta. Writer and reader walk the entries in the same order. */
static int s_compact(json_t *entry, int64_t base, s_own_t *o, int64_t *d)
{
    return s_own(entry, o) && !__builtin_sub_overflow(o->at, base, d);
}

/*  The distinct set_by strings of one asset, numbered in order of first
    use; a small open-addressing table so that an asset with many tags
    from many sources stays linear. */
typedef struct {
    s_own_t *src;   /* by/bylen of each distinct source */
    uint32_t *slot; /* index + 1, 0 when empty */
    size_t n, mask;
} s_sources_t;

static uint64_t s_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    }
    return h;
}

/*  The number of source s (added if `add` and absent); SIZE_MAX if absent. */
static size_t s_sources_find(s_sources_t *t, const char *s, size_t n, int add)
{
    for (size_t i = s_hash(s, n) & t->mask;; i = (i + 1) & t->mask) {
        uint32_t k = t->slot[i];
        if (k == 0) {
            if (!add) {
                return SIZE_MAX;
            }
            t->src[t->n] = (s_own_t){.by = s, .bylen = n};
            t->slot[i] = (uint32_t)++t->n;
            return t->n - 1;
        }
        if (t->src[k - 1].bylen == n && memcmp(t->src[k - 1].by, s, n) == 0) {
            return k - 1;
        }
    }
}

/*  Number the sources of the entries that will be written compact. */
static int s_sources_collect(s_sources_t *t, json_t *tags, int64_t base)
{
    size_t ntags = json_object_size(tags), cap = 8;
    const char *k;
    json_t *e;
    s_own_t o;
    int64_t d;
    if (ntags == 0) {
        return SL_OK;
    }
    if (ntags > UINT32_MAX / 2) {
        return SL_ERANGE;
    }
    while (cap < ntags * 2) {
        cap *= 2;
    }
    t->src = malloc(ntags * sizeof *t->src);
    t->slot = calloc(cap, sizeof *t->slot);
    if (!t->src || !t->slot) {
        return SL_ENOMEM;
    }
    t->mask = cap - 1;
    json_object_foreach(tags, k, e)
    {
        if (s_compact(e, base, &o, &d)) {
            (void)s_sources_find(t, o.by, o.bylen, 1);
            base = o.at;
        }
    }
    return SL_OK;
}

static int s_put_tags(sl_buf_t *out, json_t *tags, int64_t base, s_sources_t *t)
{
    const char *k;
    size_t klen;
    json_t *e;
    s_own_t o;
    int64_t d;
    int rc = json_object_size(tags) > UINT32_MAX ? SL_ERANGE
                                                 : sl_mp_container(out, 1, json_object_size(tags));
    json_object_keylen_foreach(tags, k, klen, e)
    {
        if (rc == SL_OK) {
            rc = s_put_str(out, k, klen);
        }
        if (rc != SL_OK) {
            break;
        }
        if (s_compact(e, base, &o, &d)) {
            size_t i = s_sources_find(t, o.by, o.bylen, 0);
            assert(i != SIZE_MAX); /* numbered by s_sources_collect, same walk */
            base = o.at;
            if (i == 0 && o.prop) {
                rc = sl_mp_int(out, d);
            } else if ((rc = sl_mp_container(out, 0, o.prop ? 2 : 3)) == SL_OK &&
                       (rc = sl_mp_int(out, (int64_t)i)) == SL_OK &&
                       (rc = sl_mp_int(out, d)) == SL_OK && !o.prop) {
                rc = sl_buf_append(out, "\xc2", 1);
            }
        } else if (json_is_integer(e) || json_is_array(e)) {
            /*  Would read as a compact entry: escape it as [e]. */
            if ((rc = sl_mp_container(out, 0, 1)) == SL_OK) {
                rc = sl_mp_json(out, e, 1);
            }
        } else {
            rc = sl_mp_json(out, e, 1);
        }
        if (rc != SL_OK) {
            break;
        }
    }
    return rc;
}

int sl_asset_pack(json_t *asset, sl_buf_t *out)
{
    size_t mark = out->len;
    json_t *idv = json_object_get(asset, "id");
    s_sources_t src = {0};
    int rc = SL_OK;
    if (!json_is_object(asset) || !json_is_integer(idv) || json_integer_value(idv) < 1 ||
        (uint64_t)json_integer_value(idv) > SL_ASSET_ID_MAX) {
        return SL_EINVAL;
    }
    uint64_t id = (uint64_t)json_integer_value(idv);
    json_t *created = json_object_get(asset, "created_at");
    json_t *tags = json_object_get(asset, "tags");
    int64_t base = json_is_integer(created) ? json_integer_value(created) : 0;
    const char *k;
    size_t klen;
    json_t *v;
    uint8_t head[6] = {SL_ASSET_MARK,       (uint8_t)(id >> 32), (uint8_t)(id >> 24),
                       (uint8_t)(id >> 16), (uint8_t)(id >> 8),  (uint8_t)id};

    if (json_is_object(tags) && (rc = s_sources_collect(&src, tags, base)) != SL_OK) {
        goto fail;
    }
    if ((rc = sl_buf_append(out, head, sizeof head)) != SL_OK ||
        (rc = sl_mp_container(out, 1, json_object_size(asset) - 1 + (src.n > 0))) != SL_OK) {
        goto fail;
    }
    json_object_keylen_foreach(asset, k, klen, v)
    {
        int code = s_field(k, klen);
        int64_t d;
        switch (code) {
        case S_ID:
            continue;
        case S_UNKNOWN:
            rc = s_put_str(out, k, klen);
            break;
        case S_UPDATED:
            if (json_is_integer(v) && json_is_integer(created) &&
                !__builtin_sub_overflow((int64_t)json_integer_value(v),
                                        (int64_t)json_integer_value(created), &d)) {
                if ((rc = s_put_code(out, S_UPDATED_DELTA)) == SL_OK) {
                    rc = sl_mp_int(out, d);
                }
                v = NULL; /* written */
            } else {
                rc = s_put_code(out, S_UPDATED);
            }
            break;
        case S_TAGS:
            if (!json_is_object(v)) {
                rc = s_put_str(out, k, klen); /* not ours: a plain field */
                break;
            }
            if (src.n > 0 && (rc = s_put_code(out, S_SOURCES)) == SL_OK &&
                (rc = sl_mp_container(out, 0, src.n)) == SL_OK) {
                for (size_t i = 0; rc == SL_OK && i < src.n; i++) {
                    rc = s_put_str(out, src.src[i].by, src.src[i].bylen);
                }
            }
            if (rc == SL_OK && (rc = s_put_code(out, S_TAGS)) == SL_OK) {
                rc = s_put_tags(out, v, base, &src);
            }
            v = NULL;
            break;
        default:
            rc = s_put_code(out, code);
            break;
        }
        if (rc == SL_OK && v) {
            rc = sl_mp_json(out, v, 1);
        }
        if (rc != SL_OK) {
            goto fail;
        }
    }
fail:
    free(src.src);
    free(src.slot);
    if (rc != SL_OK) {
        out->len = mark;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/*  Reader */

/*  The reader is core/event_json.c's (sl_mp_head). */
/*  Step over one value; *start / *len receive its bytes. Iterative: owed
    counts the values still to step over, and each needs at least a byte. */
static int s_skip(sl_mp_reader_t *r, size_t *start, size_t *len)
{
    uint64_t owed = 1;
    sl_mp_head_t h;
    int rc;
    *start = r->off;
    while (owed > 0) {
        if ((rc = sl_mp_head(r, &h)) != SL_OK) {
            return rc;
        }
        owed--;
        if (h.type == SL_MP_STR || h.type == SL_MP_BIN || h.type == SL_MP_EXT) {
            r->off += h.u;
        } else if (h.type == SL_MP_ARRAY) {
            owed += h.u;
        } else if (h.type == SL_MP_MAP) {
            owed += 2 * h.u;
        }
        if (owed > r->len - r->off) {
            return SL_ERANGE;
        }
    }
    *len = r->off - *start;
    return SL_OK;
}

/*  An integer that fits int64 as the whole of p[0..n). */
static int s_int(const uint8_t *p, size_t n, int64_t *v)
{
    sl_mp_reader_t r = {p, n, 0};
    sl_mp_head_t h;
    if (sl_mp_head(&r, &h) != SL_OK || r.off != n) {
        return SL_EPROTO;
    }
    if (h.type == SL_MP_INT) {
        *v = h.i;
        return SL_OK;
    }
    if (h.type == SL_MP_UINT && h.u <= INT64_MAX) {
        *v = (int64_t)h.u;
        return SL_OK;
    }
    return SL_EPROTO;
}

/*  A string head and its payload: the key of a map. *start / *len receive
    the whole of it (head included), for sl_msgpack_to_jansson. */
static int s_str(sl_mp_reader_t *r, size_t *start, size_t *len)
{
    sl_mp_head_t h;
    *start = r->off;
    if (sl_mp_head(r, &h) != SL_OK || h.type != SL_MP_STR) {
        return SL_EPROTO;
    }
    r->off += h.u;
    *len = r->off - *start;
    return SL_OK;
}

/*  A compact tag entry: int d, [i, d] or [i, d, propagate]. */
static json_t *s_own_new(json_t *srcs, uint64_t i, int64_t d, int prop, int64_t *base)
{
    json_t *by = json_array_get(srcs, i), *own, *entry;
    int64_t at;
    if (!json_is_string(by) || __builtin_add_overflow(*base, d, &at)) {
        return NULL;
    }
    *base = at;
    own = json_object();
    if (!own ||
        json_object_set_new(own, "set_by",
                            json_stringn(json_string_value(by), json_string_length(by))) != 0 ||
        json_object_set_new(own, "set_at", json_integer(at)) != 0 ||
        json_object_set_new(own, "propagate", json_boolean(prop)) != 0 ||
        !(entry = json_object())) {
        json_decref(own);
        return NULL;
    }
    if (json_object_set_new(entry, "own", own) != 0) { /* took own */
        json_decref(entry);
        return NULL;
    }
    return entry;
}

static json_t *s_entry(const uint8_t *p, size_t n, json_t *srcs, int64_t *base)
{
    sl_mp_reader_t r = {p, n, 0};
    sl_mp_head_t h, hi;
    int64_t d;
    if (sl_mp_head(&r, &h) != SL_OK) {
        return NULL;
    }
    if (h.type == SL_MP_UINT || h.type == SL_MP_INT) {
        return s_int(p, n, &d) == SL_OK ? s_own_new(srcs, 0, d, 1, base) : NULL;
    }
    if (h.type != SL_MP_ARRAY) {
        return sl_msgpack_to_jansson(p, n);
    }
    if (h.u == 1) {
        return sl_msgpack_to_jansson(p + r.off, n - r.off); /* an escaped value */
    }
    if (h.u != 2 && h.u != 3) {
        return NULL;
    }
    /*  [i, d] or [i, d, bool]: scalars only, so heads step over them. */
    size_t at_d;
    if (sl_mp_head(&r, &hi) != SL_OK || hi.type != SL_MP_UINT) {
        return NULL;
    }
    at_d = r.off;
    sl_mp_head_t hd, hp = {.type = SL_MP_BOOL, .u = 1};
    if (sl_mp_head(&r, &hd) != SL_OK || s_int(p + at_d, r.off - at_d, &d) != SL_OK) {
        return NULL;
    }
    if (h.u == 3 && (sl_mp_head(&r, &hp) != SL_OK || hp.type != SL_MP_BOOL)) {
        return NULL;
    }
    if (r.off != n) {
        return NULL;
    }
    return s_own_new(srcs, hi.u, d, (int)hp.u, base);
}

/*  The compact tags map p[0..n), its sources decoded already. */
static json_t *s_tags(const uint8_t *p, size_t n, json_t *srcs, int64_t base)
{
    sl_mp_reader_t r = {p, n, 0};
    sl_mp_head_t h;
    json_t *tags = NULL, *key = NULL, *e = NULL;
    if (sl_mp_head(&r, &h) != SL_OK || h.type != SL_MP_MAP || h.u > (n - r.off) / 2 ||
        !(tags = json_object())) {
        return NULL;
    }
    for (uint64_t k = 0; k < h.u; k++) {
        size_t ks, kn, vs, vn;
        if (s_str(&r, &ks, &kn) != SL_OK || s_skip(&r, &vs, &vn) != SL_OK ||
            !(key = sl_msgpack_to_jansson(p + ks, kn)) || !(e = s_entry(p + vs, vn, srcs, &base)) ||
            json_object_setn_new(tags, json_string_value(key), json_string_length(key), e) != 0) {
            goto fail;
        }
        e = NULL;
        json_decref(key);
        key = NULL;
    }
    return tags;
fail:
    json_decref(key);
    json_decref(tags);
    return NULL;
}

json_t *sl_asset_unpack(const void *vp, size_t n)
{
    const uint8_t *p = vp;
    sl_mp_reader_t r = {p, n, 6};
    sl_mp_head_t h;
    uint64_t id;
    unsigned seen = 0;
    size_t upd = 0, updn = 0, srcs = 0, srcsn = 0, tags = 0, tagsn = 0;
    json_t *a = NULL, *key = NULL, *v = NULL, *sv = NULL;
    int64_t base = 0, d, at;

    if (sl_asset_id(p, n, &id) != SL_OK || sl_mp_head(&r, &h) != SL_OK || h.type != SL_MP_MAP ||
        h.u > (n - r.off) / 2 || !(a = json_object()) ||
        json_object_set_new(a, "id", json_integer((json_int_t)id)) != 0) {
        goto fail;
    }
    for (uint64_t k = 0; k < h.u; k++) {
        size_t ks = r.off, kn, vs, vn;
        sl_mp_head_t kh;
        int code;
        if (sl_mp_head(&r, &kh) != SL_OK) {
            goto fail;
        }
        if (kh.type == SL_MP_UINT) {
            if (kh.u < 1 || kh.u >= S_CODES) {
                goto fail;
            }
            code = (int)kh.u;
        } else if (kh.type == SL_MP_STR) {
            r.off += kh.u;
            kn = r.off - ks;
            if (!(key = sl_msgpack_to_jansson(p + ks, kn))) {
                goto fail;
            }
            /*  A name the writer spells out: an unknown field, or "tags"
                that is not an object. Never "id" or a coded field. */
            code = s_field(json_string_value(key), json_string_length(key));
            if (code != S_UNKNOWN && code != S_TAGS) {
                goto fail;
            }
        } else {
            goto fail;
        }
        if (s_skip(&r, &vs, &vn) != SL_OK) {
            goto fail;
        }
        if (code != S_UNKNOWN) {
            unsigned bit = 1u << (code == S_UPDATED_DELTA ? S_UPDATED : code);
            if (seen & bit) {
                goto fail; /* a field twice */
            }
            seen |= bit;
        }
        if (key) {
            v = sl_msgpack_to_jansson(p + vs, vn);
            if (!v || json_object_setn_new(a, json_string_value(key), json_string_length(key), v)) {
                v = NULL;
                goto fail;
            }
            json_decref(key);
            key = NULL;
            continue;
        }
        /*  Deltas need created_at, wherever it is: hold their place (the
            key order is kept) and resolve them after the map. */
        switch (code) {
        case S_UPDATED_DELTA:
            upd = vs, updn = vn;
            v = json_null();
            break;
        case S_SOURCES:
            srcs = vs, srcsn = vn;
            continue;
        case S_TAGS:
            tags = vs, tagsn = vn;
            v = json_null();
            break;
        default:
            v = sl_msgpack_to_jansson(p + vs, vn);
            break;
        }
        const char *name = s_fields[code == S_UPDATED_DELTA ? S_UPDATED : code].name;
        if (!v || json_object_set_new(a, name, v) != 0) {
            v = NULL;
            goto fail;
        }
    }
    v = NULL;
    if (r.off != n) {
        goto fail; /* bytes after the map */
    }
    json_t *created = json_object_get(a, "created_at");
    if (json_is_integer(created)) {
        base = json_integer_value(created);
    }
    if (updn) {
        if (!json_is_integer(created) || s_int(p + upd, updn, &d) != SL_OK ||
            __builtin_add_overflow(base, d, &at) ||
            json_object_set_new(a, "updated_at", json_integer(at)) != 0) {
            goto fail;
        }
    }
    if (srcsn && (!(sv = sl_msgpack_to_jansson(p + srcs, srcsn)) || !json_is_array(sv))) {
        goto fail;
    }
    if (tagsn && (!(v = s_tags(p + tags, tagsn, sv, base)) || json_object_set_new(a, "tags", v))) {
        goto fail;
    }
    json_decref(sv);
    return a;
fail:
    json_decref(key);
    json_decref(sv);
    json_decref(a);
    return NULL;
}

int sl_asset_id(const void *vp, size_t n, uint64_t *id)
{
    const uint8_t *p = vp;
    uint64_t v = 0;
    if (n < 6 || p[0] != SL_ASSET_MARK) {
        return SL_EPROTO;
    }
    for (int i = 1; i <= 5; i++) {
        v = v << 8 | p[i];
    }
    if (v == 0) {
        return SL_EPROTO;
    }
    *id = v;
    return SL_OK;
}

int sl_asset_type(const void *vp, size_t n, sl_slice_t *out)
{
    const uint8_t *p = vp;
    sl_mp_reader_t r = {p, n, 6};
    sl_mp_head_t h;
    uint64_t id;
    if (sl_asset_id(p, n, &id) != SL_OK || sl_mp_head(&r, &h) != SL_OK || h.type != SL_MP_MAP ||
        h.u > (n - r.off) / 2) {
        return SL_EPROTO;
    }
    for (uint64_t k = 0; k < h.u; k++) {
        sl_mp_head_t kh;
        size_t vs, vn;
        if (sl_mp_head(&r, &kh) != SL_OK || (kh.type != SL_MP_UINT && kh.type != SL_MP_STR)) {
            return SL_EPROTO;
        }
        if (kh.type == SL_MP_STR) {
            r.off += kh.u; /* a spelled-out field: never "type" */
        }
        if (s_skip(&r, &vs, &vn) != SL_OK) {
            return SL_EPROTO;
        }
        if (kh.type == SL_MP_UINT && kh.u == S_TYPE) {
            sl_mp_reader_t v = {p, vs + vn, vs};
            sl_mp_head_t vh;
            if (sl_mp_head(&v, &vh) != SL_OK || vh.type != SL_MP_STR) {
                return SL_ENOTFOUND; /* a type that is not a string */
            }
            out->ptr = (const char *)p + v.off;
            out->len = (size_t)vh.u;
            return SL_OK;
        }
    }
    return SL_ENOTFOUND;
}
