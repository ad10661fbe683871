/*  The store's in-memory lineage graph (docs/store.md "Graph cache").

    Closures and propagation walks visit every reached asset once; reading
    each one's edges from LMDB is a B-tree lookup of its name, which at a
    million assets misses the CPU caches almost every time (about 1 us per
    asset). The cache keeps, per (environment, tenant), every asset that
    has an edge numbered by a nodeset and its downstream edges as arrays of
    (asset number, type number, propagate): a walk is then a hash lookup
    per name and array reads.

    It is never the truth, only a copy of the `down` database at a known
    version: each batch that writes an edge bumps the tenant's edge version
    (the value of its `tenants` record, be64) in the same transaction, and
    after the commit the batch's edge writes are applied to the cache if it
    was at the version before. A reader takes the cache only if its version
    equals the one its read transaction sees; otherwise (a commit whose
    edges are not applied yet, or another process that wrote the store) it
    reads LMDB, and a cache left behind by another process is rebuilt from
    a snapshot on the next use. */
#include <stdlib.h>
#include <string.h>

#include "core/store_internal.h"
#include "sluice/nodeset.h"

typedef struct {
    uint32_t to;
    uint16_t type;
    uint8_t prop;
    uint8_t pad;
} s_gedge_t;

typedef struct {
    s_gedge_t *e;
    uint32_t n, cap;
} s_adj_t;

struct s_graph {
    struct s_graph *next;
    s_env_t *env;
    char tenant[S_MAX_TENANT + 1];
    uint64_t version;
    int stale; /* behind a version no batch of this process wrote: rebuild */
    sl_nodeset_t *names;
    s_adj_t *down; /* indexed by name number */
    size_t cap;
    sl_nodeset_t *types;
    pthread_rwlock_t lock;
};

static void s_graph_free(s_graph_t *g)
{
    if (!g) {
        return;
    }
    for (size_t i = 0; i < sl_nodeset_count(g->names); i++) {
        free(g->down[i].e);
    }
    free(g->down);
    sl_nodeset_free(&g->names);
    sl_nodeset_free(&g->types);
    pthread_rwlock_destroy(&g->lock);
    free(g);
}

void sl_store__graph_free_all(sl_store_t *s)
{
    s_graph_t *g = s->graphs;
    while (g) {
        s_graph_t *n = g->next;
        s_graph_free(g);
        g = n;
    }
    s->graphs = NULL;
}

/*  The tenant's edge version as a read or write transaction sees it. */
uint64_t sl_store__edge_version(MDB_txn *txn, s_env_t *e, const char *tenant)
{
    MDB_val k = {strlen(tenant), (void *)tenant}, v;
    if (mdb_get(txn, e->dbi[S_DB_TENANTS], &k, &v) != 0 || v.mv_size != 8) {
        return 0;
    }
    return sl_store__rd64(v.mv_data);
}

int sl_store__edge_version_bump(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t *old)
{
    uint8_t be[8];
    *old = sl_store__edge_version(txn, e, tenant);
    sl_store__be64(be, *old + 1);
    MDB_val k = {strlen(tenant), (void *)tenant}, v = {8, be};
    return mdb_put(txn, e->dbi[S_DB_TENANTS], &k, &v, 0);
}

static int64_t s_node(s_graph_t *g, const char *name, size_t len)
{
    int added;
    int64_t n = sl_nodeset_add(g->names, name, len, &added);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n >= g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        s_adj_t *d = realloc(g->down, cap * sizeof *d);
        if (!d) {
            return -1;
        }
        memset(d + g->cap, 0, (cap - g->cap) * sizeof *d);
        g->down = d;
        g->cap = cap;
    }
    return n;
}

static int s_add_nodes(s_graph_t *g, int64_t f, int64_t t, const char *type, size_t yl, int prop)
{
    int64_t y = sl_nodeset_add(g->types, type, yl, NULL);
    if (f < 0 || t < 0 || y < 0 || y > UINT16_MAX) {
        return SL_ENOMEM;
    }
    s_adj_t *a = &g->down[f];
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->e[i].to == (uint32_t)t && a->e[i].type == (uint16_t)y) {
            a->e[i].prop = (uint8_t)prop;
            return SL_OK;
        }
    }
    if (a->n == a->cap) {
        uint32_t cap = a->cap ? a->cap * 2 : 2;
        s_gedge_t *e = realloc(a->e, cap * sizeof *e);
        if (!e) {
            return SL_ENOMEM;
        }
        a->e = e;
        a->cap = cap;
    }
    a->e[a->n++] = (s_gedge_t){(uint32_t)t, (uint16_t)y, (uint8_t)prop, 0};
    return SL_OK;
}

static int s_add(s_graph_t *g, const char *from, size_t fl, const char *to, size_t tl,
                 const char *type, size_t yl, int prop)
{
    int64_t f = s_node(g, from, fl), t = s_node(g, to, tl);
    return f < 0 || t < 0 ? SL_ENOMEM : s_add_nodes(g, f, t, type, yl, prop);
}

static void s_del(s_graph_t *g, const char *from, const char *to, const char *type)
{
    int64_t f = sl_nodeset_find(g->names, from, strlen(from));
    int64_t t = sl_nodeset_find(g->names, to, strlen(to));
    int64_t y = sl_nodeset_find(g->types, type, strlen(type));
    if (f < 0 || t < 0 || y < 0) {
        return;
    }
    s_adj_t *a = &g->down[f];
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->e[i].to == (uint32_t)t && a->e[i].type == (uint16_t)y) {
            a->e[i] = a->e[--a->n];
            return;
        }
    }
}

/*  The tenant's ids of a build, in id order, with their names (in the
    build's snapshot) and node numbers (-1 until an edge names them). */
typedef struct {
    uint64_t id;
    const char *name;
    size_t len;
    int64_t node;
} s_idnode_t;

/*  The node of id (made on first use); -1 if the id has no name (damage),
    -2 out of memory. */
static int64_t s_node_of(s_graph_t *g, s_idnode_t *m, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == n || m[lo].id != id) {
        return -1;
    }
    if (m[lo].node < 0 && (m[lo].node = s_node(g, m[lo].name, m[lo].len)) < 0) {
        return -2;
    }
    return m[lo].node;
}

/*  Fill g from the `lineage_down` database as txn sees it: the tenant's
    `names` first (in id order: the map from ids to nodes is a sorted
    array), then its edges. Only assets with an edge become nodes; an
    edge naming an id without a name (damage) is skipped. */
static int s_build(s_graph_t *g, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t tl = strlen(g->tenant) + 1;
    int rc = SL_OK, mrc;
    s_idnode_t *map = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < sl_nodeset_count(g->names); i++) {
        free(g->down[i].e);
        g->down[i] = (s_adj_t){0};
    }
    sl_nodeset_clear(g->names);
    sl_nodeset_clear(g->types);
    g->version = sl_store__edge_version(txn, g->env, g->tenant);
    if ((mrc = mdb_cursor_open(txn, g->env->dbi[S_DB_NAMES], &cur)) != 0) {
        return sl_store__mdb_rc(mrc);
    }
    k.mv_size = tl;
    k.mv_data = g->tenant;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && rc == SL_OK && k.mv_size == tl + S_ID && memcmp(k.mv_data, g->tenant, tl) == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            s_idnode_t *m = realloc(map, cap * sizeof *m);
            if (!m) {
                rc = SL_ENOMEM;
                break;
            }
            map = m;
        }
        map[n++] =
            (s_idnode_t){sl_store__rd40((const uint8_t *)k.mv_data + tl), v.mv_data, v.mv_size, -1};
    }
    mdb_cursor_close(cur);
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
    }
    if (rc == SL_OK && (mrc = mdb_cursor_open(txn, g->env->dbi[S_DB_DOWN], &cur)) != 0) {
        rc = sl_store__mdb_rc(mrc);
    }
    if (rc != SL_OK) {
        free(map);
        g->stale = 1;
        return rc;
    }
    k.mv_size = tl;
    k.mv_data = g->tenant;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && rc == SL_OK && k.mv_size == tl + S_ID && memcmp(k.mv_data, g->tenant, tl) == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        int64_t f = s_node_of(g, map, n, sl_store__rd40((const uint8_t *)k.mv_data + tl));
        int64_t t = v.mv_size >= S_ID + 2 ? s_node_of(g, map, n, sl_store__rd40(p)) : -1;
        const char *type;
        size_t yl;
        unsigned code = v.mv_size >= S_ID + 2 ? ((unsigned)p[S_ID] << 8 | p[S_ID + 1]) >> 1 : 0;
        if (f == -2 || t == -2) {
            rc = SL_ENOMEM;
            break;
        }
        if (f < 0 || t < 0 || sl_store__type_name(txn, g->env, code, &type, &yl) != SL_OK) {
            continue; /* damage (an id or a type code without a name): skipped */
        }
        rc = s_add_nodes(g, f, t, type, yl, p[S_ID + 1] & 1);
    }
    mdb_cursor_close(cur);
    free(map);
    if (rc == SL_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sl_store__mdb_rc(mrc);
    }
    g->stale = rc != SL_OK;
    return rc;
}

static s_graph_t *s_find(sl_store_t *s, s_env_t *e, const char *tenant)
{
    for (s_graph_t *g = s->graphs; g; g = g->next) {
        if (g->env == e && strcmp(g->tenant, tenant) == 0) {
            return g;
        }
    }
    return NULL;
}

s_graph_t *sl_store__graph_get(sl_store_t *s, s_env_t *e, MDB_txn *txn, const char *tenant,
                               uint64_t want)
{
    if (!s->graph_cache || strlen(tenant) > S_MAX_TENANT) {
        return NULL;
    }
    pthread_mutex_lock(&s->gmu);
    s_graph_t *g = s_find(s, e, tenant);
    if (!g && (g = calloc(1, sizeof *g)) != NULL) {
        g->env = e;
        memcpy(g->tenant, tenant, strlen(tenant) + 1);
        g->stale = 1;
        if (!(g->names = sl_nodeset_new()) || !(g->types = sl_nodeset_new()) ||
            pthread_rwlock_init(&g->lock, NULL) != 0) {
            sl_nodeset_free(&g->names);
            sl_nodeset_free(&g->types);
            free(g);
            g = NULL;
        } else {
            g->next = s->graphs;
            s->graphs = g;
        }
    }
    pthread_mutex_unlock(&s->gmu);
    if (!g) {
        return NULL;
    }
    pthread_rwlock_rdlock(&g->lock);
    if (!g->stale && g->version == want) {
        return g;
    }
    /*  Behind: a commit whose edges are being applied now (take LMDB this
        time), or written by another process (rebuild from this snapshot). */
    int rebuild = g->stale || (g->version < want && !sl_store__batch_in_flight(s));
    pthread_rwlock_unlock(&g->lock);
    if (!rebuild) {
        return NULL;
    }
    pthread_rwlock_wrlock(&g->lock);
    if (g->stale || g->version != want) {
        s_build(g, txn);
    }
    int ok = !g->stale && g->version == want;
    pthread_rwlock_unlock(&g->lock);
    if (!ok) {
        return NULL;
    }
    pthread_rwlock_rdlock(&g->lock);
    if (!g->stale && g->version == want) {
        return g;
    }
    pthread_rwlock_unlock(&g->lock);
    return NULL;
}

void sl_store__graph_release(s_graph_t *g)
{
    if (g) {
        pthread_rwlock_unlock(&g->lock);
    }
}

int sl_store__graph_down(s_graph_t *g, const char *qn, size_t len, sl_store_edge_fn fn, void *arg)
{
    int64_t f = sl_nodeset_find(g->names, qn, len);
    if (f < 0) {
        return SL_OK;
    }
    const s_adj_t *a = &g->down[f];
    int rc = SL_OK;
    for (uint32_t i = 0; i < a->n && rc == SL_OK; i++) {
        size_t ol, yl;
        const char *o = sl_nodeset_name(g->names, a->e[i].to, &ol);
        const char *y = sl_nodeset_name(g->types, a->e[i].type, &yl);
        rc = fn(arg, o, ol, y, yl, a->e[i].prop);
    }
    return rc;
}

int64_t sl_store__graph_closure(s_graph_t *g, const char *qn, size_t len, int depth)
{
    int64_t root = sl_nodeset_find(g->names, qn, len);
    if (root < 0) {
        return 0; /* an asset without edges */
    }
    size_t n = sl_nodeset_count(g->names);
    uint32_t *queue = malloc(n * sizeof *queue);
    uint8_t *seen = calloc((n + 7) / 8, 1);
    int64_t count = -1;
    if (queue && seen) {
        size_t head = 0, tail = 0, level_end;
        int d = 0;
        queue[tail++] = (uint32_t)root;
        seen[root / 8] |= (uint8_t)(1u << (root % 8));
        /*  Level by level: depth counts the levels expanded. */
        while (head < tail && (depth == 0 || d < depth)) {
            level_end = tail;
            for (; head < level_end; head++) {
                const s_adj_t *a = &g->down[queue[head]];
                for (uint32_t i = 0; i < a->n; i++) {
                    uint32_t t = a->e[i].to;
                    if (!(seen[t / 8] & (1u << (t % 8)))) {
                        seen[t / 8] |= (uint8_t)(1u << (t % 8));
                        queue[tail++] = t;
                    }
                }
            }
            d++;
        }
        count = (int64_t)tail - 1;
    }
    free(queue);
    free(seen);
    return count;
}

/* ------------------------------------------------ writes and commits */

/*  Mutation records in the batch's buffer:
      'E' put(1) prop(1) env(4) tenant\0 from\0 to\0 type\0
      'V' env(4) old(8) new(8) tenant\0     (one per tenant per env, at commit) */
int sl_store__graph_note(sl_buf_t *m, uint32_t env, const char *tenant, const char *from,
                         const char *to, const char *type, int prop, int put)
{
    uint8_t h[7] = {'E', (uint8_t)put, (uint8_t)prop};
    memcpy(h + 3, &env, 4);
    int rc = sl_buf_append(m, h, sizeof h);
    const char *s[] = {tenant, from, to, type};
    for (int i = 0; rc == SL_OK && i < 4; i++) {
        rc = sl_buf_append(m, s[i], strlen(s[i]) + 1);
    }
    return rc;
}

int sl_store__graph_note_version(sl_buf_t *m, uint32_t env, const char *tenant, uint64_t old)
{
    uint8_t h[21] = {'V'};
    uint64_t nv = old + 1;
    memcpy(h + 1, &env, 4);
    memcpy(h + 5, &old, 8);
    memcpy(h + 13, &nv, 8);
    int rc = sl_buf_append(m, h, sizeof h);
    return rc ? rc : sl_buf_append(m, tenant, strlen(tenant) + 1);
}

/*  After the batch committed: bring each cache that was at the version
    before the batch to the version after it. */
void sl_store__graph_committed(sl_store_t *s, const sl_buf_t *m)
{
    const uint8_t *end = m->data + m->len;
    pthread_mutex_lock(&s->gmu);
    for (const uint8_t *p = m->data; p < end;) {
        if (*p != 'V') {
            p += 7;
            for (int i = 0; i < 4; i++) {
                p += strlen((const char *)p) + 1;
            }
            continue;
        }
        uint32_t env;
        uint64_t old, nv;
        memcpy(&env, p + 1, 4);
        memcpy(&old, p + 5, 8);
        memcpy(&nv, p + 13, 8);
        const char *tenant = (const char *)p + 21;
        p += 21 + strlen(tenant) + 1;
        s_graph_t *g = s_find(s, sl_store__env_at(s, env), tenant);
        if (!g) {
            continue;
        }
        pthread_rwlock_wrlock(&g->lock);
        if (g->stale || g->version != old) {
            g->stale = 1; /* missed a version: rebuilt at the next use */
        } else {
            int rc = SL_OK;
            for (const uint8_t *q = m->data; q < end && rc == SL_OK;) {
                if (*q == 'V') {
                    q += 21;
                    q += strlen((const char *)q) + 1;
                    continue;
                }
                uint32_t qe;
                memcpy(&qe, q + 3, 4);
                int put = q[1], prop = q[2];
                const char *st[4];
                q += 7;
                for (int i = 0; i < 4; i++) {
                    st[i] = (const char *)q;
                    q += strlen(st[i]) + 1;
                }
                if (qe != env || strcmp(st[0], tenant) != 0) {
                    continue;
                }
                if (put) {
                    rc = s_add(g, st[1], strlen(st[1]), st[2], strlen(st[2]), st[3], strlen(st[3]),
                               prop);
                } else {
                    s_del(g, st[1], st[2], st[3]);
                }
            }
            g->version = nv;
            g->stale = rc != SL_OK;
        }
        pthread_rwlock_unlock(&g->lock);
    }
    pthread_mutex_unlock(&s->gmu);
}

size_t sl_store__graph_bytes(sl_store_t *s)
{
    size_t b = 0;
    pthread_mutex_lock(&s->gmu);
    for (s_graph_t *g = s->graphs; g; g = g->next) {
        pthread_rwlock_rdlock(&g->lock);
        b += sl_nodeset_bytes(g->names) + g->cap * sizeof(s_adj_t);
        for (size_t i = 0; i < sl_nodeset_count(g->names); i++) {
            b += g->down[i].cap * sizeof(s_gedge_t);
        }
        pthread_rwlock_unlock(&g->lock);
    }
    pthread_mutex_unlock(&s->gmu);
    return b;
}
