/*  Reads of the store: JSON documents in the shapes of sluice/store.h.
    Each read runs in one LMDB read transaction (a consistent snapshot;
    writers are never blocked) and builds a jansson tree that is dumped
    into the caller's buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store_codec.h"
#include "core/store_internal.h"
#include "sluice/log.h"
#include "sluice/mpjson.h"
#include "sluice/nodeset.h"

typedef struct {
    s_env_t *e;
    MDB_txn *txn;
    const char *tenant;
    sl_buf_t k;
} s_rd_t;

static int s_begin(sl_store_t *s, const char *tenant, s_rd_t *r)
{
    memset(r, 0, sizeof *r);
    if (sl_store__env(s, tenant, &r->e) != SL_OK) {
        return SL_EINVAL;
    }
    r->tenant = tenant;
    return sl_store__mdb_rc(mdb_txn_begin(r->e->env, NULL, MDB_RDONLY, &r->txn));
}

static void s_end(s_rd_t *r)
{
    if (r->txn) {
        mdb_txn_abort(r->txn);
        r->txn = NULL;
    }
    sl_buf_free(&r->k);
}

/*  Lookup by tenant\0name. SL_ENOTFOUND if absent. */
static int s_get(s_rd_t *r, int db, const char *name, MDB_val *v)
{
    int rc = sl_store__key(&r->k, r->tenant, 1, name);
    if (rc != SL_OK) {
        return rc;
    }
    MDB_val k = {r->k.len, r->k.data};
    return sl_store__mdb_rc(mdb_get(r->txn, r->e->dbi[db], &k, v));
}

/*  Does key k start with tenant\0 prefix? */
static int s_has_prefix(const MDB_val *k, const void *pfx, size_t n)
{
    return k->mv_size >= n && memcmp(k->mv_data, pfx, n) == 0;
}

/*  LMDB's default key order: bytes, then length. */
static int s_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

static int s_set(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0 ? SL_OK : SL_ENOMEM;
}

static json_t *s_or_null(json_t *v)
{
    return v ? json_incref(v) : json_null();
}

static int s_finish(json_t *doc, sl_buf_t *out, int rc)
{
    if (rc == SL_OK) {
        rc = doc ? sl_store__dump(doc, out) : SL_ENOMEM;
    }
    json_decref(doc);
    return rc;
}

/* ---- cursors: opaque to clients, hex of the last key returned */

static int s_hex(const void *p, size_t n, json_t **out)
{
    static const char d[] = "0123456789abcdef";
    char *t = malloc(2 * n + 1);
    const uint8_t *b = p;
    if (!t) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        t[2 * i] = d[b[i] >> 4];
        t[2 * i + 1] = d[b[i] & 15];
    }
    t[2 * n] = 0;
    *out = json_string(t);
    free(t);
    return *out ? SL_OK : SL_ENOMEM;
}

static int s_unhex(const char *t, sl_buf_t *out)
{
    size_t n = t ? strlen(t) : 0;
    sl_buf_reset(out);
    if (n % 2 || n > 4 * S_MAX_NAME) {
        return SL_EINVAL;
    }
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = t[i + j];
            int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (x < 0) {
                return SL_EINVAL;
            }
            v = v << 4 | x;
        }
        uint8_t byte = (uint8_t)v;
        if (sl_buf_append(out, &byte, 1) != SL_OK) {
            return SL_ENOMEM;
        }
    }
    return SL_OK;
}

/* ---- incidents */

static json_t *s_incident_json(json_t *inc)
{
    static const char *const fields[] = {
        "source",   "external_id", "qualified_names", "type",          "sub_types", "title",
        "severity", "priority",    "status",          "source_status", "owner",     "url",
    };
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof fields / sizeof *fields; i++) {
        json_t *v = json_object_get(inc, fields[i]);
        if (!v &&
            (strcmp(fields[i], "qualified_names") == 0 || strcmp(fields[i], "sub_types") == 0)) {
            v = json_array();
            json_object_set_new(o, fields[i], v);
            continue;
        }
        json_object_set_new(o, fields[i], s_or_null(v));
    }
    if (!o) {
        return NULL;
    }
    json_object_set_new(o, "created_at", sl_store__time(json_object_get(inc, "created_at")));
    json_object_set_new(o, "updated_at", sl_store__time(json_object_get(inc, "updated_at")));
    json_object_set_new(o, "resolved_at", sl_store__time(json_object_get(inc, "resolved_at")));
    json_t *hist = json_array();
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(inc, "history"), i, h)
    {
        json_t *e = json_pack("{s:o,s:o}", "status", s_or_null(json_object_get(h, "status")), "at",
                              sl_store__time(json_object_get(h, "at")));
        if (e && json_object_get(h, "source_status")) {
            json_object_set(e, "source_status", json_object_get(h, "source_status"));
        }
        json_array_append_new(hist, e);
    }
    json_object_set_new(o, "history", hist);
    return o;
}

static int s_is_open(json_t *inc)
{
    const char *st = json_string_value(json_object_get(inc, "status"));
    return !st || strcmp(st, "resolved") != 0;
}

/*  The incident stored under tenant\0ikey (source\0external_id). */
static json_t *s_incident_get(s_rd_t *r, const void *ikey, size_t ilen)
{
    sl_buf_t k = {0};
    MDB_val key, v;
    json_t *inc = NULL;
    if (sl_buf_append(&k, r->tenant, strlen(r->tenant) + 1) == SL_OK &&
        sl_buf_append(&k, ikey, ilen) == SL_OK) {
        key.mv_size = k.len;
        key.mv_data = k.data;
        if (mdb_get(r->txn, r->e->dbi[S_DB_INC], &key, &v) == 0) {
            inc = sl_store__tree(&v);
        }
    }
    sl_buf_free(&k);
    return inc;
}

/*  Open incidents of asset qn appended to arr (skipping keys in seen; each
    added key goes into seen). extra: members added to each item. */
static int s_open_incidents(s_rd_t *r, const char *qn, json_t *arr, json_t *seen, const char *via,
                            int depth)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = sl_store__key(&r->k, r->tenant, 1, qn), mrc;
    if (rc != SL_OK) {
        return rc;
    }
    if ((mrc = mdb_cursor_open(r->txn, r->e->dbi[S_DB_INC_IDX], &cur)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    k.mv_size = r->k.len;
    k.mv_data = r->k.data;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (mrc == 0 && rc == SL_OK) {
        char id[2 * S_MAX_NAME + 2];
        size_t n = v.mv_size < sizeof id - 1 ? v.mv_size : sizeof id - 1;
        memcpy(id, v.mv_data, n);
        id[n] = 0;
        for (size_t i = 0; i < n; i++) {
            if (id[i] == 0) {
                id[i] = '/'; /* the incident's key as the log shows it */
            }
        }
        if (!json_object_get(seen, id)) {
            json_t *inc = s_incident_get(r, v.mv_data, v.mv_size);
            if (inc && s_is_open(inc)) {
                json_t *o = s_incident_json(inc);
                if (o && via) {
                    json_object_set_new(o, "upstream_asset", json_string(via));
                    json_object_set_new(o, "distance", json_integer(depth));
                }
                if (!o || json_array_append_new(arr, o) != 0) {
                    rc = SL_ENOMEM;
                }
                json_object_set_new(seen, id, json_true());
            }
            json_decref(inc);
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
    }
    return rc;
}

/* ---- lineage walks */

typedef struct {
    json_t *nodes; /* array of {"qualified_name","type","depth"} */
    json_t *seen;  /* qn -> index in nodes */
    json_t *edges; /* array */
    json_t *eseen; /* edge identity -> true */
    int limit;
    int truncated;
} s_walk_t;

/*  The asset's type (JSON null if none) and id, from one read of its
    value; *id 0 if the asset is gone or damaged. */
static json_t *s_asset_type(s_rd_t *r, const char *qn, uint64_t *id)
{
    MDB_val v;
    sl_slice_t t;
    *id = 0;
    if (s_get(r, S_DB_ASSETS, qn, &v) != SL_OK || sl_asset_id(v.mv_data, v.mv_size, id) != SL_OK) {
        return json_null();
    }
    json_t *j =
        sl_asset_type(v.mv_data, v.mv_size, &t) == SL_OK ? json_stringn(t.ptr, t.len) : NULL;
    return j ? j : json_null();
}

typedef struct {
    s_rd_t *r;
    s_walk_t *w;
    const char *qn;
    int dir; /* 0 down, 1 up */
    int depth;
    json_t *next;
    int (*on_node)(s_rd_t *r, const char *qn, int depth, void *arg);
    void *arg;
} s_step_t;

/*  One edge of the walk: its far end becomes a node (unless the limit is
    reached), the edge is listed once. */
static int s_walk_edge(void *arg, const s_edge_t *e)
{
    s_step_t *st = arg;
    s_walk_t *w = st->w;
    int rc = SL_OK;
    json_t *other = json_stringn(e->name, e->nlen);
    const char *os = json_string_value(other);
    if (!os) {
        return SL_ENOMEM;
    }
    int known = json_object_get(w->seen, os) != NULL;
    if (!known) {
        if ((int)json_array_size(w->nodes) >= w->limit) {
            w->truncated = 1;
        } else {
            uint64_t id;
            json_t *node = json_pack("{s:O,s:o,s:i}", "qualified_name", other, "type",
                                     s_asset_type(st->r, os, &id), "depth", st->depth);
            if (!node || json_array_append_new(w->nodes, node) != 0 ||
                json_object_set_new(w->seen, os, json_true()) != 0 ||
                json_array_append_new(st->next, json_pack("[O,I]", other, (json_int_t)id)) != 0) {
                rc = SL_ENOMEM;
            } else if (st->on_node) {
                rc = st->on_node(st->r, os, st->depth, st->arg);
            }
            known = 1;
        }
    }
    if (known && w->edges && rc == SL_OK) {
        const char *from = st->dir == 0 ? st->qn : os;
        const char *to = st->dir == 0 ? os : st->qn;
        json_t *type = json_stringn(e->type, e->tlen);
        char *id = NULL;
        if (type && asprintf(&id, "%s\n%s\n%s", from, to, json_string_value(type)) > 0 &&
            !json_object_get(w->eseen, id)) {
            json_t *ej = json_pack("{s:s,s:s,s:O,s:o,s:b}", "from", from, "to", to, "type", type,
                                   "job", e->jlen ? json_stringn(e->job, e->jlen) : json_null(),
                                   "propagate", e->prop);
            if (!ej || json_array_append_new(w->edges, ej) != 0 ||
                json_object_set_new(w->eseen, id, json_true()) != 0) {
                rc = SL_ENOMEM;
            }
        }
        free(id);
        json_decref(type);
    }
    json_decref(other);
    return rc;
}

/*  Breadth first from the root along one adjacency (0 down, 1 up).
    on_node, if set, is called for each node beyond the root. */
static int s_walk(s_rd_t *r, const char *root, int dir, int maxdepth, s_walk_t *w,
                  int (*on_node)(s_rd_t *r, const char *qn, int depth, void *arg), void *arg)
{
    uint64_t rid;
    json_decref(s_asset_type(r, root, &rid));
    json_t *frontier = json_pack("[[s,I]]", root, (json_int_t)rid); /* [name, id] */
    int rc = frontier ? SL_OK : SL_ENOMEM;
    s_step_t st = {.r = r, .w = w, .dir = dir, .on_node = on_node, .arg = arg};
    for (int depth = 1; rc == SL_OK && depth <= maxdepth && json_array_size(frontier); depth++) {
        size_t i;
        json_t *q;
        if (!(st.next = json_array())) {
            rc = SL_ENOMEM;
            break;
        }
        st.depth = depth;
        json_array_foreach(frontier, i, q)
        {
            uint64_t id = (uint64_t)json_integer_value(json_array_get(q, 1));
            st.qn = json_string_value(json_array_get(q, 0));
            if (id == 0) {
                continue; /* gone or damaged: no edges to follow */
            }
            if ((rc = sl_store__edges_each(r->txn, r->e, r->tenant, id, dir,
                                           S_EDGE_NAMES | S_EDGE_JOB, s_walk_edge, &st)) != SL_OK) {
                break;
            }
        }
        json_decref(frontier);
        frontier = st.next;
        st.next = NULL;
    }
    json_decref(frontier);
    json_decref(st.next);
    return rc;
}

/* ---- assets */

static json_t *s_tags_json(json_t *tags)
{
    json_t *arr = json_array();
    const char *name;
    json_t *entry;
    json_object_foreach(tags, name, entry)
    {
        json_t *own = json_object_get(entry, "own");
        json_t *srcs = json_object_get(entry, "sources");
        json_t *t = json_pack("{s:s,s:s,s:o}", "name", name, "origin",
                              json_is_object(own) ? "own" : "propagated", "sources",
                              json_is_array(srcs) ? json_incref(srcs) : json_array());
        if (!t) {
            json_decref(arr);
            return NULL;
        }
        json_object_set_new(t, "set_by", s_or_null(json_object_get(own, "set_by")));
        json_object_set_new(t, "set_at", sl_store__time(json_object_get(own, "set_at")));
        json_object_set_new(t, "propagate", s_or_null(json_object_get(own, "propagate")));
        json_array_append_new(arr, t);
    }
    return arr;
}

static json_t *s_asset_json(const char *qn, json_t *a, int full)
{
    json_t *o = json_pack("{s:s,s:o,s:o}", "qualified_name", qn, "type",
                          s_or_null(json_object_get(a, "type")), "name",
                          s_or_null(json_object_get(a, "name")));
    if (!o) {
        return NULL;
    }
    if (full) {
        json_t *ow = json_object_get(a, "owners"), *at = json_object_get(a, "attributes");
        json_object_set_new(o, "description", s_or_null(json_object_get(a, "description")));
        json_object_set_new(o, "owners", ow ? json_incref(ow) : json_array());
        json_object_set_new(o, "attributes", at ? json_incref(at) : json_object());
        json_object_set_new(o, "tags", s_tags_json(json_object_get(a, "tags")));
    }
    json_object_set_new(o, "version", s_or_null(json_object_get(a, "version")));
    json_object_set_new(o, "created_at", sl_store__time(json_object_get(a, "created_at")));
    json_object_set_new(o, "updated_at", sl_store__time(json_object_get(a, "updated_at")));
    json_object_set_new(o, "placeholder",
                        json_boolean(json_is_true(json_object_get(a, "placeholder"))));
    return o;
}

/*  The copies at an asset, gathered for its document. */
typedef struct {
    s_rd_t *r;
    json_t *tags;   /* the document's tags array */
    json_t *owners; /* owner -> [sources] */
    json_t *incs;   /* incident key -> [sources] */
    json_t *desc;   /* the nearest description copy: {"qualified_name", "path_length"} */
    int rc;
} s_copies_t;

static json_t *s_copy_source(const sl_store_copy_t *c)
{
    return json_pack("{s:s,s:i,s:s}", "qualified_name", c->source, "path_length", (int)c->depth,
                     "via", c->via);
}

/*  Append src to the array at obj[key] (created). */
static int s_push(json_t *obj, const char *key, json_t *src)
{
    json_t *arr = json_object_get(obj, key);
    if (!arr && (!(arr = json_array()) || json_object_set_new(obj, key, arr) != 0)) {
        json_decref(src);
        return SL_ENOMEM;
    }
    return json_array_append_new(arr, src) == 0 ? SL_OK : SL_ENOMEM;
}

static int s_copy_fn(void *arg, const sl_store_copy_t *c)
{
    s_copies_t *g = arg;
    json_t *src = s_copy_source(c);
    if (!src) {
        return SL_ENOMEM;
    }
    if (strncmp(c->value, "tag:", 4) == 0) {
        const char *name = c->value + 4;
        size_t i;
        json_t *t, *found = NULL;
        json_array_foreach(g->tags, i, t)
        {
            if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) {
                found = t;
            }
        }
        if (!found) {
            found = json_pack("{s:s,s:s,s:[],s:n,s:n,s:n}", "name", name, "origin", "propagated",
                              "sources", "set_by", "set_at", "propagate");
            if (!found || json_array_append_new(g->tags, found) != 0) {
                json_decref(src);
                return SL_ENOMEM;
            }
        }
        return json_array_append_new(json_object_get(found, "sources"), src) == 0 ? SL_OK
                                                                                  : SL_ENOMEM;
    }
    if (strncmp(c->value, "owner:", 6) == 0) {
        return s_push(g->owners, c->value + 6, src);
    }
    if (strncmp(c->value, "incident:", 9) == 0) {
        return s_push(g->incs, c->value + 9, src);
    }
    if (strcmp(c->value, "description") == 0) {
        json_int_t best = g->desc ? json_integer_value(json_object_get(g->desc, "path_length")) : 0;
        if (!g->desc || (json_int_t)c->depth < best) {
            json_decref(g->desc);
            g->desc = src;
            return SL_OK;
        }
    }
    json_decref(src);
    return SL_OK;
}

static int s_min_depth(json_t *sources)
{
    size_t i;
    json_t *s;
    int best = 0;
    json_array_foreach(sources, i, s)
    {
        int d = (int)json_integer_value(json_object_get(s, "path_length"));
        if (i == 0 || d < best) {
            best = d;
        }
    }
    return best;
}

/*  incidents.upstream: each open incident with copies here, with its
    sources; counts by severity beside it. */
static int s_upstream(s_rd_t *r, json_t *incs, json_t *up, json_t *by_sev)
{
    const char *key;
    json_t *sources;
    json_object_foreach(incs, key, sources)
    {
        const char *slash = strchr(key, '/');
        sl_buf_t ik = {0};
        if (!slash || sl_buf_append(&ik, key, (size_t)(slash - key)) != SL_OK ||
            sl_buf_append(&ik, "", 1) != SL_OK ||
            sl_buf_append(&ik, slash + 1, strlen(slash + 1)) != SL_OK) {
            sl_buf_free(&ik);
            continue;
        }
        json_t *inc = s_incident_get(r, ik.data, ik.len);
        sl_buf_free(&ik);
        if (!inc || !s_is_open(inc)) {
            json_decref(inc); /* resolved since: its copies are on their way out */
            continue;
        }
        json_t *o = s_incident_json(inc);
        json_t *nearest = json_array_get(sources, 0);
        int best = s_min_depth(sources);
        size_t i;
        json_t *sv;
        json_array_foreach(sources, i, sv)
        {
            if (json_integer_value(json_object_get(sv, "path_length")) == best) {
                nearest = sv;
                break;
            }
        }
        const char *sev = json_string_value(json_object_get(inc, "severity"));
        json_decref(inc);
        if (!o) {
            return SL_ENOMEM;
        }
        json_object_set(o, "sources", sources);
        json_object_set(o, "upstream_asset", json_object_get(nearest, "qualified_name"));
        json_object_set_new(o, "distance", json_integer(best));
        if (json_array_append_new(up, o) != 0) {
            return SL_ENOMEM;
        }
        const char *k = sev && sev[0] ? sev : "unknown";
        json_object_set_new(by_sev, k,
                            json_integer(json_integer_value(json_object_get(by_sev, k)) + 1));
    }
    return SL_OK;
}

int sl_store_asset_json(sl_store_t *s, const char *tenant, const char *qn, sl_buf_t *out)
{
    s_rd_t r;
    MDB_val v;
    json_t *a = NULL, *doc = NULL, *open = NULL, *up = NULL, *seen = NULL, *by_sev = NULL;
    sl_store_view_t *view = NULL;
    s_copies_t g = {0};
    int rc;
    if (!qn || !qn[0] || strlen(qn) > S_MAX_NAME || !out) {
        return SL_EINVAL;
    }
    if ((rc = s_begin(s, tenant, &r)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_get(&r, S_DB_ASSETS, qn, &v)) != SL_OK) {
        goto fail;
    }
    if (!(a = sl_store__asset_tree(&v)) || !(doc = s_asset_json(qn, a, 1))) {
        rc = SL_ENOMEM;
        goto fail;
    }
    open = json_array();
    up = json_array();
    seen = json_object();
    by_sev = json_object();
    g.r = &r;
    g.tags = json_object_get(doc, "tags");
    g.owners = json_object();
    g.incs = json_object();
    view = sl_store__view_on(s, r.e, r.txn, tenant);
    if (!open || !up || !seen || !by_sev || !g.owners || !g.incs || !view) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if ((rc = s_open_incidents(&r, qn, open, seen, NULL, 0)) != SL_OK ||
        (rc = sl_store_view_copies_at(view, qn, s_copy_fn, &g)) != SL_OK ||
        (rc = s_upstream(&r, g.incs, up, by_sev)) != SL_OK) {
        goto fail;
    }
    /*  Propagated owners; a description only where the asset has none. */
    json_t *po = json_array(), *srcs;
    const char *owner;
    json_object_foreach(g.owners, owner, srcs)
    {
        json_array_append_new(po, json_pack("{s:s,s:O}", "owner", owner, "sources", srcs));
    }
    if ((rc = s_set(doc, "propagated_owners", po)) != SL_OK) {
        goto fail;
    }
    json_t *own_desc = json_object_get(doc, "description");
    if (g.desc && (!json_is_string(own_desc) || json_string_length(own_desc) == 0)) {
        MDB_val sv;
        const char *src = json_string_value(json_object_get(g.desc, "qualified_name"));
        json_t *sa = s_get(&r, S_DB_ASSETS, src, &sv) == SL_OK ? sl_store__asset_tree(&sv) : NULL;
        json_t *text = json_object_get(sa, "description");
        if (json_is_string(text) && json_string_length(text) > 0) {
            json_object_set(doc, "description", text);
            json_object_set(doc, "description_source", g.desc);
        }
        json_decref(sa);
    }
    rc = s_set(
        doc, "incidents",
        json_pack("{s:O,s:O,s:O}", "open", open, "upstream", up, "upstream_by_severity", by_sev));
fail:
    sl_store_view_end(&view);
    s_end(&r);
    json_decref(a);
    json_decref(open);
    json_decref(up);
    json_decref(seen);
    json_decref(by_sev);
    json_decref(g.owners);
    json_decref(g.incs);
    json_decref(g.desc);
    return s_finish(doc, out, rc);
}

int sl_store_assets_json(sl_store_t *s, const char *tenant, const char *prefix, int limit,
                         const char *cursor, sl_buf_t *out)
{
    s_rd_t r;
    sl_buf_t pfx = {0}, after = {0};
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    json_t *doc = NULL, *items = NULL, *next = json_null();
    int rc, mrc;
    if (!out || limit < 1 || limit > 1000 || (prefix && strlen(prefix) > S_MAX_NAME) ||
        s_unhex(cursor, &after) != SL_OK) {
        sl_buf_free(&after);
        return SL_EINVAL;
    }
    if ((rc = s_begin(s, tenant, &r)) != SL_OK) {
        goto fail;
    }
    if ((rc = sl_store__key(&pfx, tenant, 1, prefix ? prefix : "")) != SL_OK) {
        goto fail;
    }
    if ((rc = sl_store__mdb_rc(mdb_cursor_open(r.txn, r.e->dbi[S_DB_ASSETS], &cur))) != SL_OK) {
        goto fail;
    }
    /*  Start at the prefix, or just after the cursor's key if later. */
    if ((rc = sl_store__key(&r.k, tenant, 1, "")) != SL_OK ||
        (rc = sl_buf_append(&r.k, after.data, after.len)) != SL_OK) {
        goto fail;
    }
    int use_after = after.len && s_cmp(r.k.data, r.k.len, pfx.data, pfx.len) > 0;
    sl_buf_t *start = use_after ? &r.k : &pfx;
    k.mv_size = start->len;
    k.mv_data = start->data;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0 && use_after && s_cmp(k.mv_data, k.mv_size, start->data, start->len) == 0) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    items = json_array();
    size_t tl = strlen(tenant) + 1;
    while (items && mrc == 0 && s_has_prefix(&k, pfx.data, pfx.len)) {
        if ((int)json_array_size(items) == limit) {
            json_t *last = json_array_get(items, json_array_size(items) - 1);
            const char *lq = json_string_value(json_object_get(last, "qualified_name"));
            json_decref(next);
            if ((rc = s_hex(lq, strlen(lq), &next)) != SL_OK) {
                goto fail;
            }
            break;
        }
        json_t *qn = json_stringn((const char *)k.mv_data + tl, k.mv_size - tl);
        json_t *a = sl_store__asset_tree(&v);
        json_t *o = qn && a ? s_asset_json(json_string_value(qn), a, 0) : NULL;
        json_decref(qn);
        json_decref(a);
        if (!o || json_array_append_new(items, o) != 0) {
            rc = SL_ENOMEM;
            goto fail;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (!items) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
        goto fail;
    }
    doc = json_pack("{s:O,s:O}", "items", items, "next_cursor", next);
fail:
    if (cur) {
        mdb_cursor_close(cur);
    }
    s_end(&r);
    sl_buf_free(&pfx);
    sl_buf_free(&after);
    json_decref(items);
    json_decref(next);
    return s_finish(doc, out, rc);
}

int sl_store_lineage_json(sl_store_t *s, const char *tenant, const char *qn, sl_direction_t dir,
                          int depth, int limit, sl_buf_t *out)
{
    s_rd_t r;
    MDB_val v;
    json_t *doc = NULL;
    s_walk_t w = {0};
    int rc;
    if (!qn || !qn[0] || strlen(qn) > S_MAX_NAME || !out || depth < 1 || depth > 10 || limit < 1 ||
        limit > 10000 || (dir != SL_DIR_DOWN && dir != SL_DIR_UP && dir != SL_DIR_BOTH)) {
        return SL_EINVAL;
    }
    if ((rc = s_begin(s, tenant, &r)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_get(&r, S_DB_ASSETS, qn, &v)) != SL_OK) {
        goto fail;
    }
    uint64_t rid;
    w.nodes = json_pack("[{s:s,s:o,s:i}]", "qualified_name", qn, "type", s_asset_type(&r, qn, &rid),
                        "depth", 0);
    w.seen = json_pack("{s:b}", qn, 1);
    w.edges = json_array();
    w.eseen = json_object();
    w.limit = limit;
    if (!w.nodes || !w.seen || !w.edges || !w.eseen) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if ((dir & SL_DIR_DOWN) && (rc = s_walk(&r, qn, 0, depth, &w, NULL, NULL)) != SL_OK) {
        goto fail;
    }
    if (dir & SL_DIR_UP) {
        /*  Nodes found downstream are not walked up again from here: the
            walk up starts over from the root with its own seen set for the
            frontier, but shares the node list. */
        if ((rc = s_walk(&r, qn, 1, depth, &w, NULL, NULL)) != SL_OK) {
            goto fail;
        }
    }
    doc = json_pack("{s:s,s:O,s:O,s:b}", "root", qn, "nodes", w.nodes, "edges", w.edges,
                    "truncated", w.truncated);
fail:
    s_end(&r);
    json_decref(w.nodes);
    json_decref(w.seen);
    json_decref(w.edges);
    json_decref(w.eseen);
    return s_finish(doc, out, rc);
}

/* ---- incidents listing */

static int s_inc_match(json_t *inc, const char *status, const char *source)
{
    const char *st = json_string_value(json_object_get(inc, "status"));
    const char *src = json_string_value(json_object_get(inc, "source"));
    if (status && (!st || strcmp(st, status) != 0)) {
        return 0;
    }
    if (source && (!src || strcmp(src, source) != 0)) {
        return 0;
    }
    return 1;
}

int sl_store_incidents_json(sl_store_t *s, const char *tenant, const char *status,
                            const char *asset, const char *source, int limit, const char *cursor,
                            sl_buf_t *out)
{
    s_rd_t r;
    sl_buf_t after = {0}, pfx = {0};
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    json_t *doc = NULL, *items = NULL, *next = json_null();
    int rc, mrc;
    if (!out || limit < 1 || limit > 1000 || s_unhex(cursor, &after) != SL_OK ||
        (status && strcmp(status, "open") != 0 && strcmp(status, "acknowledged") != 0 &&
         strcmp(status, "resolved") != 0) ||
        (asset && (!asset[0] || strlen(asset) > S_MAX_NAME)) ||
        (source && (!source[0] || strlen(source) > S_MAX_NAME))) {
        sl_buf_free(&after);
        return SL_EINVAL;
    }
    if ((rc = s_begin(s, tenant, &r)) != SL_OK) {
        goto fail;
    }
    items = json_array();
    size_t tl = strlen(tenant) + 1;
    /*  Either the index of one asset (dup values: source\0external_id) or
        the incidents themselves (keys: tenant\0source\0external_id). */
    int by_asset = asset != NULL;
    int db = by_asset ? S_DB_INC_IDX : S_DB_INC;
    if ((rc = sl_store__mdb_rc(mdb_cursor_open(r.txn, r.e->dbi[db], &cur))) != SL_OK) {
        goto fail;
    }
    if (by_asset) {
        rc = sl_store__key(&pfx, tenant, 1, asset);
    } else {
        rc = sl_store__key(&pfx, tenant, source ? 2 : 1, source ? source : "", "");
    }
    if (rc != SL_OK) {
        goto fail;
    }
    k.mv_size = pfx.len;
    k.mv_data = pfx.data;
    if (by_asset) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (mrc == 0 && after.len) {
            MDB_val d = {after.len, after.data};
            mrc = mdb_cursor_get(cur, &k, &d, MDB_GET_BOTH_RANGE);
            v = d;
            if (mrc == 0 && d.mv_size == after.len &&
                memcmp(d.mv_data, after.data, after.len) == 0) {
                mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
            }
        }
    } else {
        sl_buf_t start = {0};
        if ((rc = sl_buf_append(&start, tenant, tl)) != SL_OK ||
            (rc = sl_buf_append(&start, after.data, after.len)) != SL_OK) {
            sl_buf_free(&start);
            goto fail;
        }
        int use_after = after.len && s_cmp(start.data, start.len, pfx.data, pfx.len) > 0;
        MDB_val sk = use_after ? (MDB_val){start.len, start.data} : k;
        mrc = mdb_cursor_get(cur, &sk, &v, MDB_SET_RANGE);
        if (mrc == 0 && use_after && sk.mv_size == start.len &&
            memcmp(sk.mv_data, start.data, start.len) == 0) {
            mrc = mdb_cursor_get(cur, &sk, &v, MDB_NEXT);
        }
        k = sk;
        sl_buf_free(&start);
    }
    while (items && mrc == 0 && (by_asset || s_has_prefix(&k, pfx.data, pfx.len))) {
        const void *ikey = by_asset ? v.mv_data : (const char *)k.mv_data + tl;
        size_t ilen = by_asset ? v.mv_size : k.mv_size - tl;
        json_t *inc = by_asset ? s_incident_get(&r, ikey, ilen) : sl_store__tree(&v);
        if (inc && s_inc_match(inc, status, source)) {
            if ((int)json_array_size(items) == limit) {
                json_decref(inc);
                break;
            }
            json_t *o = s_incident_json(inc);
            json_decref(next);
            if (!o || json_array_append_new(items, o) != 0 ||
                (rc = s_hex(ikey, ilen, &next)) != SL_OK) {
                json_decref(inc);
                rc = rc ? rc : SL_ENOMEM;
                next = NULL;
                goto fail;
            }
        }
        json_decref(inc);
        mrc = mdb_cursor_get(cur, &k, &v, by_asset ? MDB_NEXT_DUP : MDB_NEXT);
    }
    if (!items) {
        rc = SL_ENOMEM;
        goto fail;
    }
    if (mrc != 0) {
        /*  The end: no further page. */
        json_decref(next);
        next = json_null();
        if (mrc != MDB_NOTFOUND) {
            rc = sl_store__mdb_rc(mrc);
            goto fail;
        }
    } else if (!by_asset && !s_has_prefix(&k, pfx.data, pfx.len)) {
        json_decref(next);
        next = json_null();
    }
    doc = json_pack("{s:O,s:O}", "items", items, "next_cursor", next ? next : json_null());
fail:
    if (cur) {
        mdb_cursor_close(cur);
    }
    s_end(&r);
    sl_buf_free(&after);
    sl_buf_free(&pfx);
    json_decref(items);
    json_decref(next);
    return s_finish(doc, out, rc);
}

/* ---- changes, stats, dead letters */

typedef struct {
    sl_buf_t *out;
    int n;
    int rc;
} s_chg_arg_t;

static int s_chg_fn(void *arg, uint64_t seq, const sl_event_t *ev)
{
    s_chg_arg_t *a = arg;
    if (a->n++ && (a->rc = sl_buf_append(a->out, ",", 1)) != SL_OK) {
        return 1;
    }
    a->rc = sl_msgpack_to_json((const uint8_t *)ev->body.ptr, ev->body.len, a->out);
    return a->rc != SL_OK;
}

int sl_store_changes_json(sl_store_t *s, const char *tenant, uint64_t after, int limit,
                          sl_buf_t *out)
{
    uint64_t last = 0;
    char tail[64];
    size_t mark;
    int rc;
    if (!out || limit < 1 || limit > 10000) {
        return SL_EINVAL;
    }
    mark = out->len;
    if ((rc = sl_store_last_seq(s, tenant, &last)) != SL_OK ||
        (rc = sl_buf_append(out, "{\"items\":[", 10)) != SL_OK) {
        goto fail;
    }
    s_chg_arg_t a = {out, 0, SL_OK};
    rc = sl_store_changes(s, tenant, after, (uint64_t)limit, s_chg_fn, &a);
    if (rc < 0 || (rc = a.rc) != SL_OK) {
        goto fail;
    }
    snprintf(tail, sizeof tail, "],\"last_seq\":%llu}", (unsigned long long)last);
    if ((rc = sl_buf_append(out, tail, strlen(tail))) != SL_OK) {
        goto fail;
    }
    return SL_OK;
fail:
    out->len = mark;
    return rc;
}

/*  Keys (and dups) under prefix p in db. */
static int64_t s_count(MDB_txn *txn, MDB_dbi dbi, const void *p, size_t n)
{
    MDB_cursor *cur;
    MDB_val k = {n, (void *)p}, v;
    int64_t count = 0;
    if (mdb_cursor_open(txn, dbi, &cur) != 0) {
        return -1;
    }
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && s_has_prefix(&k, p, n)) {
        count++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return count;
}

static uint64_t s_last(MDB_txn *txn, MDB_dbi dbi, const char *tenant)
{
    uint8_t key[S_MAX_TENANT + 9];
    size_t tl = strlen(tenant);
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t seq = 0;
    memcpy(key, tenant, tl + 1);
    memset(key + tl + 1, 0xff, 8);
    if (mdb_cursor_open(txn, dbi, &cur) != 0) {
        return 0;
    }
    k.mv_data = key;
    k.mv_size = tl + 9;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    mrc = mrc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (mrc == 0 && k.mv_size == tl + 9 && memcmp(k.mv_data, key, tl + 1) == 0) {
        seq = sl_store__rd64((const uint8_t *)k.mv_data + tl + 1);
    }
    mdb_cursor_close(cur);
    return seq;
}

/*  Dead letters of a tenant: its keys but the purge mark (`tenant\0`). */
static int64_t s_dead_count(MDB_txn *txn, MDB_dbi dbi, const char *t, size_t n)
{
    MDB_val k = {n + 1, (void *)t}, v;
    int64_t count = s_count(txn, dbi, t, n + 1);
    return count > 0 && mdb_get(txn, dbi, &k, &v) == 0 ? count - 1 : count;
}

static int s_env_stats(s_env_t *e, json_t *tenants, int64_t *used)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_envinfo info;
    MDB_stat st;
    int mrc;
    if (mdb_env_info(e->env, &info) == 0 && mdb_env_stat(e->env, &st) == 0) {
        *used += (int64_t)(info.me_last_pgno + 1) * st.ms_psize;
    }
    if (!tenants) {
        return SL_OK;
    }
    if ((mrc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    if ((mrc = mdb_cursor_open(txn, e->dbi[S_DB_TENANTS], &cur)) != 0) {
        mdb_txn_abort(txn);
        return sl_store__mdb_rc(mrc);
    }
    int rc = SL_OK;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0 && rc == SL_OK) {
        char t[S_MAX_TENANT + 2];
        size_t n = k.mv_size <= S_MAX_TENANT ? k.mv_size : S_MAX_TENANT;
        memcpy(t, k.mv_data, n);
        t[n] = 0;
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "assets",
                              (json_int_t)s_count(txn, e->dbi[S_DB_ASSETS], t, n + 1), "edges",
                              (json_int_t)s_count(txn, e->dbi[S_DB_DOWN], t, n + 1), "incidents",
                              (json_int_t)s_count(txn, e->dbi[S_DB_INC], t, n + 1), "changes",
                              (json_int_t)s_last(txn, e->dbi[S_DB_CHANGES], t), "dead_letters",
                              (json_int_t)s_dead_count(txn, e->dbi[S_DB_DEAD], t, n));
        if (!o || json_object_set_new(tenants, t, o) != 0) {
            rc = SL_ENOMEM;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

int sl_store_stats_json(sl_store_t *s, sl_buf_t *out)
{
    json_t *doc = NULL, *tenants = json_object();
    int64_t used = 0;
    char reason[256];
    int rc = tenants ? SL_OK : SL_ENOMEM;
    if (!s || !out) {
        json_decref(tenants);
        return SL_EINVAL;
    }
    for (size_t i = 0; rc == SL_OK && i < s->nenvs; i++) {
        rc = s_env_stats(&s->envs[i], tenants, &used);
    }
    if (rc == SL_OK && s->rejected) {
        rc = s_env_stats(s->rejected, NULL, &used);
    }
    int healthy = sl_store_health(s, reason, sizeof reason) == SL_OK;
    if (rc == SL_OK) {
        doc = json_pack("{s:O,s:I,s:I,s:b,s:o}", "tenants", tenants, "map_size",
                        (json_int_t)s->map_size, "used_bytes", (json_int_t)used, "writable",
                        healthy, "reason", healthy ? json_null() : json_string(reason));
    }
    json_decref(tenants);
    return s_finish(doc, out, rc);
}

/*  One stored dead letter as {"seq","time","reason","event"}. */
static json_t *s_dead_json(const MDB_val *v)
{
    const uint8_t *ep;
    size_t elen;
    json_t *o = NULL, *ev = json_null();
    sl_slice_t reason = {"", 0}, tm = {"", 0};
    const uint8_t *sp;
    size_t slen;
    sl_msgpack_map_str(v->mv_data, v->mv_size, "reason", &reason);
    sl_msgpack_map_str(v->mv_data, v->mv_size, "time", &tm);
    json_t *seq = NULL;
    if (sl_msgpack_map_get(v->mv_data, v->mv_size, "seq", &sp, &slen) == SL_OK) {
        seq = sl_msgpack_to_jansson(sp, slen);
    }
    if (sl_msgpack_map_get(v->mv_data, v->mv_size, "event", &ep, &elen) == SL_OK && elen >= 5 &&
        ep[0] == 0xc6) {
        sl_event_t e;
        size_t used;
        sl_buf_t j = {0};
        if (elen > 5 && sl_event_decode(ep + 5, elen - 5, &used, &e) == SL_OK &&
            sl_event_to_json(&e, &j) == SL_OK) {
            json_t *parsed = json_loadb((const char *)j.data, j.len, 0, NULL);
            if (parsed) {
                json_decref(ev);
                ev = parsed;
            }
        }
        sl_buf_free(&j);
    }
    o = json_pack("{s:o,s:s%,s:s%,s:o}", "seq", seq ? seq : json_null(), "time", tm.ptr,
                  (size_t)tm.len, "reason", reason.ptr, (size_t)reason.len, "event", ev);
    return o;
}

int sl_store_dead_letters_json(sl_store_t *s, const char *tenant, int limit, sl_buf_t *out)
{
    s_rd_t r;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    json_t *doc = NULL, *items = json_array();
    int rc, mrc;
    if (!s || !tenant || !out || limit < 1 || limit > 1000 || !items) {
        json_decref(items);
        return SL_EINVAL;
    }
    memset(&r, 0, sizeof r);
    r.tenant = tenant;
    if (sl_store__env(s, tenant, &r.e) != SL_OK) {
        /*  Dead letters of a tenant that is not allowed are kept too (the
            isolated store keeps them apart from every tenant's data). */
        size_t tl = strlen(tenant);
        if (tl == 0 || tl > S_MAX_TENANT) {
            json_decref(items);
            return SL_EINVAL;
        }
        r.e = s->isolated ? s->rejected : &s->envs[0];
    }
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(r.e->env, NULL, MDB_RDONLY, &r.txn))) != SL_OK ||
        (rc = sl_store__mdb_rc(mdb_cursor_open(r.txn, r.e->dbi[S_DB_DEAD], &cur))) != SL_OK) {
        goto fail;
    }
    /*  Newest first: the ones an operator is looking for. */
    uint8_t key[S_MAX_TENANT + 9];
    size_t tl = strlen(tenant);
    memcpy(key, tenant, tl + 1);
    memset(key + tl + 1, 0xff, 8);
    k.mv_data = key;
    k.mv_size = tl + 9;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    mrc = mrc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    while (mrc == 0 && k.mv_size == tl + 9 && memcmp(k.mv_data, key, tl + 1) == 0 &&
           (int)json_array_size(items) < limit) {
        json_t *o = s_dead_json(&v);
        if (!o || json_array_append_new(items, o) != 0) {
            rc = SL_ENOMEM;
            goto fail;
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    doc = json_pack("{s:O}", "items", items);
fail:
    if (cur) {
        mdb_cursor_close(cur);
    }
    s_end(&r);
    json_decref(items);
    return s_finish(doc, out, rc);
}

/* ------------------------------------------------- dead letters (filtered) */

/*  "tenant/seq" -> tenant and seq. */
static int s_dead_id(const char *id, char *tenant, uint64_t *seq)
{
    const char *slash = id ? strrchr(id, '/') : NULL;
    char *end;
    if (!slash || slash == id || (size_t)(slash - id) > S_MAX_TENANT || !slash[1]) {
        return SL_EINVAL;
    }
    memcpy(tenant, id, (size_t)(slash - id));
    tenant[slash - id] = 0;
    *seq = strtoull(slash + 1, &end, 10);
    return *end || strchr(tenant, '/') ? SL_EINVAL : SL_OK;
}

int sl_store_dead_letters_each(sl_store_t *s, const sl_dead_filter_t *f, const char *after,
                               sl_dead_fn fn, void *arg)
{
    char atenant[S_MAX_TENANT + 1] = "";
    uint8_t akey[S_MAX_TENANT + 9];
    size_t aklen = 0;
    s_env_t *aenv = NULL;
    uint64_t aseq = 0;
    const char *only = f && f->tenant && f->tenant[0] ? f->tenant : NULL;
    s_dead_t *d;
    int n = 0, rc = SL_OK;
    if (!s || !fn || (only && strlen(only) > S_MAX_TENANT)) {
        return SL_EINVAL;
    }
    if (after && after[0]) {
        if (s_dead_id(after, atenant, &aseq) != SL_OK) {
            return SL_EINVAL;
        }
        aklen = strlen(atenant) + 9;
        memcpy(akey, atenant, aklen - 8);
        sl_store__be64(akey + aklen - 8, aseq);
        aenv = sl_store__dead_env(s, atenant);
    }
    if (!(d = malloc(sizeof *d))) {
        return SL_ENOMEM;
    }
    int started = aenv == NULL, stop = 0;
    for (size_t i = 0; !stop && rc == SL_OK && sl_store__env_at(s, i); i++) {
        s_env_t *e = sl_store__env_at(s, i);
        int here = e == aenv;
        if (!started && !here) {
            continue; /* before the cursor's environment */
        }
        started = 1;
        /*  A tenant allowed later keeps its earlier dead letters in the
            environment of the rejected ones. */
        if (only && sl_store__dead_env(s, only) != e && e != s->rejected) {
            continue;
        }
        MDB_txn *txn = NULL;
        MDB_cursor *cur = NULL;
        if ((rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) != SL_OK) {
            break;
        }
        if ((rc = sl_store__mdb_rc(mdb_cursor_open(txn, e->dbi[S_DB_DEAD], &cur))) != SL_OK) {
            mdb_txn_abort(txn);
            break;
        }
        /*  Start at the later of the cursor and the tenant's first key. */
        MDB_val k = {0, NULL}, v;
        size_t ol = only ? strlen(only) + 1 : 0;
        if (here && (!only || s_cmp(akey, aklen, only, ol) > 0)) {
            k = (MDB_val){aklen, akey};
        } else if (only) {
            k = (MDB_val){ol, (void *)only};
        }
        int mrc = k.mv_size ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                            : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (mrc == 0 && here && k.mv_size == aklen && memcmp(k.mv_data, akey, aklen) == 0) {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        while (mrc == 0 && !stop) {
            if (only && !s_has_prefix(&k, only, ol)) {
                break;
            }
            if (sl_store__dead_parse(&k, &v, d) == SL_OK && sl_store__dead_match(f, &d->dl)) {
                n++;
                if (fn(arg, &d->dl) != 0 || (f && f->limit && (uint64_t)n >= f->limit)) {
                    stop = 1;
                    break;
                }
            }
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            rc = sl_store__mdb_rc(mrc);
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
    }
    free(d);
    return rc == SL_OK ? n : rc;
}

/*  One dead letter as the list's item. */
static json_t *s_dead_item(const sl_dead_letter_t *dl)
{
    json_t *ev = NULL;
    sl_event_t e;
    size_t used;
    if (dl->rawlen && sl_event_decode(dl->raw, dl->rawlen, &used, &e) == SL_OK) {
        sl_buf_t j = {0};
        if (sl_event_to_json(&e, &j) == SL_OK) {
            ev = json_loadb((const char *)j.data, j.len, 0, NULL);
        }
        sl_buf_free(&j);
    }
    return json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:s,s:o}", "id", dl->id, "tenant", dl->tenant, "seq",
                     (json_int_t)dl->seq, "time", dl->time, "actor", dl->actor, "attempts",
                     (json_int_t)dl->attempts, "reason", dl->reason, "event",
                     ev ? ev : json_null());
}

typedef struct {
    json_t *items;
    char last[S_MAX_TENANT + 24];
    int rc;
} s_dlist_t;

static int s_dlist_fn(void *arg, const sl_dead_letter_t *dl)
{
    s_dlist_t *a = arg;
    json_t *o = s_dead_item(dl);
    if (!o || json_array_append_new(a->items, o) != 0) {
        a->rc = SL_ENOMEM;
        return 1;
    }
    snprintf(a->last, sizeof a->last, "%s", dl->id);
    return 0;
}

int sl_store_dead_letters_list_json(sl_store_t *s, const sl_dead_filter_t *f, const char *cursor,
                                    sl_buf_t *out)
{
    sl_dead_filter_t g = f ? *f : (sl_dead_filter_t){0};
    s_dlist_t a = {json_array(), "", SL_OK};
    json_t *doc = NULL;
    int rc;
    if (g.limit == 0) {
        g.limit = 100;
    }
    if (!s || !out || g.limit > 1000 || !a.items) {
        json_decref(a.items);
        return SL_EINVAL;
    }
    rc = sl_store_dead_letters_each(s, &g, cursor, s_dlist_fn, &a);
    if (rc >= 0) {
        rc = a.rc;
    }
    if (rc == SL_OK) {
        int more = json_array_size(a.items) == g.limit;
        doc = json_pack("{s:O,s:o}", "items", a.items, "next_cursor",
                        more ? json_string(a.last) : json_null());
    }
    json_decref(a.items);
    return s_finish(doc, out, rc);
}

int sl_store_dead_letter_json(sl_store_t *s, const char *tenant, uint64_t seq, sl_buf_t *out)
{
    s_env_t *e;
    MDB_txn *txn = NULL;
    uint8_t key[S_MAX_TENANT + 9];
    json_t *doc = NULL;
    s_dead_t *d = NULL;
    int rc;
    if (!s || !tenant || !tenant[0] || strlen(tenant) > S_MAX_TENANT || !out) {
        return SL_EINVAL;
    }
    e = sl_store__dead_env(s, tenant);
    size_t tl = strlen(tenant);
    memcpy(key, tenant, tl + 1);
    sl_store__be64(key + tl + 1, seq);
    if (!(d = malloc(sizeof *d))) {
        return SL_ENOMEM;
    }
    if ((rc = sl_store__mdb_rc(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) == SL_OK) {
        MDB_val k = {tl + 9, key}, v;
        rc = sl_store__mdb_rc(mdb_get(txn, e->dbi[S_DB_DEAD], &k, &v));
        if (rc == SL_OK && sl_store__dead_parse(&k, &v, d) == SL_OK) {
            doc = s_dead_item(&d->dl);
        }
        mdb_txn_abort(txn);
    }
    free(d);
    return s_finish(doc, out, rc);
}

/* ---- closures (benchmarks) */

int sl_store_closure_count(sl_store_t *s, const char *tenant, const char *qn, sl_direction_t dir,
                           int depth, uint64_t *count)
{
    s_rd_t r;
    MDB_val v;
    MDB_cursor *cur = NULL;
    sl_nodeset_t *seen = NULL;
    int rc, mrc = 0;
    if (!qn || !qn[0] || strlen(qn) > S_MAX_NAME || !count ||
        (dir != SL_DIR_DOWN && dir != SL_DIR_UP) || depth < 0) {
        return SL_EINVAL;
    }
    *count = 0;
    if ((rc = s_begin(s, tenant, &r)) != SL_OK) {
        return rc;
    }
    if ((rc = s_get(&r, S_DB_ASSETS, qn, &v)) != SL_OK) {
        goto out;
    }
    /*  Downstream, the in-memory graph when it is at this snapshot's
        version (store_graph.c); LMDB otherwise. */
    s_graph_t *g =
        dir == SL_DIR_DOWN
            ? sl_store__graph_get(s, r.e, r.txn, tenant, sl_store__edge_version(r.txn, r.e, tenant))
            : NULL;
    if (g) {
        int64_t n = sl_store__graph_closure(g, qn, strlen(qn), depth);
        sl_store__graph_release(g);
        if (n >= 0) {
            *count = (uint64_t)n;
            goto out;
        }
    }
    /*  LMDB: the ids are the walk's names (hex, as the set takes no NUL);
        the set is the queue: entries [lo, hi) are the assets at distance
        `level`, added in that order by the level before, so no per-node
        depth is kept. */
    uint64_t id;
    char hex[24];
    if ((rc = sl_store__id_of(r.txn, r.e, tenant, qn, strlen(qn), &id)) != SL_OK) {
        goto out;
    }
    if (!(seen = sl_nodeset_new()) ||
        sl_nodeset_add(seen, hex, (size_t)snprintf(hex, sizeof hex, "%llx", (unsigned long long)id),
                       NULL) < 0) {
        rc = SL_ENOMEM;
        goto out;
    }
    if ((mrc = mdb_cursor_open(r.txn, r.e->dbi[dir == SL_DIR_DOWN ? S_DB_DOWN : S_DB_UP], &cur)) !=
        0) {
        rc = sl_store__mdb_rc(mrc);
        goto out;
    }
    size_t tl = strlen(tenant) + 1;
    uint8_t key[S_MAX_TENANT + 1 + S_ID];
    memcpy(key, tenant, tl);
    size_t lo = 0, hi = 1;
    for (int level = 0; rc == SL_OK && lo < hi && (depth == 0 || level < depth); level++) {
        for (size_t i = lo; rc == SL_OK && i < hi; i++) {
            sl_store__be40(key + tl, strtoull(sl_nodeset_name(seen, (int64_t)i, NULL), NULL, 16));
            MDB_val k = {tl + S_ID, key};
            for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); mrc == 0;
                 mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
                /*  A dup begins with the far end's id (shorter: damage). */
                if (v.mv_size < S_ID) {
                    continue;
                }
                int n = snprintf(hex, sizeof hex, "%llx",
                                 (unsigned long long)sl_store__rd40(v.mv_data));
                if (sl_nodeset_add(seen, hex, (size_t)n, NULL) < 0) {
                    rc = SL_ENOMEM;
                    break;
                }
            }
            if (rc == SL_OK && mrc != MDB_NOTFOUND && mrc != 0) {
                rc = sl_store__mdb_rc(mrc);
            }
        }
        lo = hi;
        hi = sl_nodeset_count(seen);
    }
    if (rc == SL_OK) {
        *count = sl_nodeset_count(seen) - 1;
    }
out:
    if (cur) {
        mdb_cursor_close(cur);
    }
    s_end(&r);
    sl_nodeset_free(&seen);
    return rc;
}
