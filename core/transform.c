/*  Declarative event transforms: rules compiled from JSON, run over msgpack.

    The body is decoded into a table of nodes (one per map entry, nested maps
    as children, every other value kept as its raw msgpack bytes) only when a
    rule first touches a body field. Strings made by rules live in an arena
    of fixed blocks, so a pointer taken during an event stays valid until
    the event is done. Node table, arena and output buffer are kept from one
    event to the next: once they have grown to the largest event, a run
    allocates nothing. The body is re-encoded only if a rule changed it. */
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/mpjson.h"
#include "sluice/transform.h"

#define S_MAX_SEGS 32     /* segments of a field path */
#define S_MAX_REGEX 512   /* bytes of a regex pattern (regcomp cost) */
#define S_MAX_RULES 10000 /* rules of one list */
#define S_BLOCK 65536     /* arena block */

/* --- values ------------------------------------------------------------- */

enum { V_NONE, V_STR, V_RAW, V_MAP };

typedef struct {
    uint8_t type;
    const uint8_t *p; /* V_STR: the bytes; V_RAW: one msgpack value */
    uint32_t len;
    int node; /* V_MAP: the node whose children are the entries */
} s_val_t;

typedef struct {
    const uint8_t *k;
    uint32_t klen;
    s_val_t v;
    int first, last, next; /* children (V_MAP) and sibling, -1 = none */
    int dead;
} s_node_t;

typedef struct s_block {
    struct s_block *next;
    size_t cap, used;
    uint8_t data[];
} s_block_t;

/* --- compiled program ------------------------------------------------- */

enum { P_BODY, P_TENANT, P_KIND, P_KEY };

typedef struct {
    int root;
    int nseg;
    char *seg[S_MAX_SEGS];
    uint32_t seglen[S_MAX_SEGS];
} s_path_t;

typedef struct {
    s_val_t v; /* V_STR or V_RAW, bytes owned by `own` */
    uint8_t *own;
    int is_num;
    int is_int;
    int64_t i;
    double d;
} s_const_t;

enum { C_AND, C_OR, C_NOT, C_EXISTS, C_EQ, C_IN, C_PREFIX, C_REGEX, C_LT, C_LE, C_GT, C_GE };

typedef struct s_cond {
    int op;
    s_path_t path;
    s_const_t *vals;
    int n_vals;
    regex_t re;
    int has_re;
    struct s_cond *kids;
    int n_kids;
} s_cond_t;

enum {
    R_RENAME,
    R_SET,
    R_DROP,
    R_COPY,
    R_MAP,
    R_LOWER,
    R_UPPER,
    R_TRIM,
    R_SPLIT,
    R_FILTER,
    R_ROUTE
};

static const char *const s_rule_names[] = {"rename", "set",  "drop",  "copy",   "map",   "lower",
                                           "upper",  "trim", "split", "filter", "route", NULL};

typedef struct {
    s_path_t *tpl_path; /* NULL: literal */
    char *lit;
    uint32_t lit_len;
} s_part_t;

typedef struct {
    char *key;
    uint32_t klen;
    s_const_t val;
} s_entry_t;

typedef struct {
    int op;
    s_cond_t *when; /* `if`, or NULL */
    s_path_t from, to;
    s_path_t *paths; /* drop, lower, upper, trim; split's `into` (root -1 = skip) */
    int n_paths;
    s_const_t value; /* set constant */
    s_part_t *parts; /* set template */
    int n_parts;
    s_entry_t *ents; /* map */
    int n_ents;
    int has_def;
    s_const_t def;
    char *seps; /* split */
    int keep;   /* filter */
    s_cond_t *cond;
    int output; /* route */
} s_rule_t;

typedef struct {
    s_rule_t *rules;
    int n;
} s_prog_t;

typedef struct {
    char *name;
    size_t len;
    s_prog_t prog;
} s_tenant_t;

struct sl_transform {
    s_prog_t shared;
    s_tenant_t *tenants;
    int n_tenants;
    /* per event */
    const sl_event_t *ev;
    s_node_t *nodes;
    int n_nodes, cap_nodes;
    int decoded, dirty, failed;
    s_val_t env[3]; /* tenant, kind, key */
    s_block_t *blocks, *cur;
    sl_buf_t out, tmp, cstr;
};

/* --- msgpack reading ---------------------------------------------------- */

enum { K_NIL, K_BOOL, K_UINT, K_INT, K_FLOAT, K_STR, K_BIN, K_EXT, K_ARR, K_MAP };

typedef struct {
    int kind;
    uint64_t n; /* STR/BIN/EXT bytes, ARR items, MAP pairs */
    uint64_t u;
    int64_t i;
    double d;
} s_head_t;

static uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/*  Read one header at p[*off]; *off moves past it (not past a payload). */
static int s_head(const uint8_t *p, size_t len, size_t *off, s_head_t *h)
{
    if (*off >= len) {
        return SL_ERANGE;
    }
    uint8_t c = p[(*off)++];
    int extra = 0;
    memset(h, 0, sizeof *h);
    if (c <= 0x7f) {
        h->kind = K_UINT;
        h->u = c;
        return 0;
    }
    if (c >= 0xe0) {
        h->kind = K_INT;
        h->i = (int8_t)c;
        return 0;
    }
    if (c >= 0x80 && c <= 0x8f) {
        h->kind = K_MAP;
        h->n = c & 0x0f;
        return 0;
    }
    if (c >= 0x90 && c <= 0x9f) {
        h->kind = K_ARR;
        h->n = c & 0x0f;
        return 0;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        h->kind = K_STR;
        h->n = c & 0x1f;
        return *off + h->n <= len ? 0 : SL_ERANGE;
    }
    switch (c) {
    case 0xc0:
        h->kind = K_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        h->kind = K_BOOL;
        h->u = c == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        h->kind = K_BIN;
        extra = 1 << (c - 0xc4);
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        h->kind = K_EXT;
        extra = 1 << (c - 0xc7);
        break;
    case 0xca:
    case 0xcb: {
        int n = c == 0xca ? 4 : 8;
        if (*off + (size_t)n > len) {
            return SL_ERANGE;
        }
        uint64_t bits = s_be(p + *off, n);
        *off += (size_t)n;
        h->kind = K_FLOAT;
        if (n == 4) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            h->d = f;
        } else {
            memcpy(&h->d, &bits, 8);
        }
        return 0;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int n = 1 << ((c - 0xcc) & 3);
        if (*off + (size_t)n > len) {
            return SL_ERANGE;
        }
        uint64_t v = s_be(p + *off, n);
        *off += (size_t)n;
        if (c <= 0xcf) {
            h->kind = K_UINT;
            h->u = v;
        } else {
            h->kind = K_INT;
            h->i = n == 1 ? (int8_t)v : n == 2 ? (int16_t)v : n == 4 ? (int32_t)v : (int64_t)v;
        }
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        h->kind = K_EXT;
        h->n = (1u << (c - 0xd4)) + 1;
        return *off + h->n <= len ? 0 : SL_ERANGE;
    case 0xd9:
    case 0xda:
    case 0xdb:
        h->kind = K_STR;
        extra = 1 << (c - 0xd9);
        break;
    case 0xdc:
    case 0xdd:
        h->kind = K_ARR;
        extra = c == 0xdc ? 2 : 4;
        break;
    case 0xde:
    case 0xdf:
        h->kind = K_MAP;
        extra = c == 0xde ? 2 : 4;
        break;
    default:
        return SL_EPROTO; /* 0xc1 */
    }
    if (*off + (size_t)extra > len) {
        return SL_ERANGE;
    }
    h->n = s_be(p + *off, extra);
    *off += (size_t)extra;
    if (h->kind == K_EXT) {
        h->n += 1; /* the type byte */
    }
    if ((h->kind == K_STR || h->kind == K_BIN || h->kind == K_EXT) && h->n > len - *off) {
        return SL_ERANGE;
    }
    return 0;
}

/*  Skip one whole value without recursion. */
static int s_skip(const uint8_t *p, size_t len, size_t *off)
{
    uint64_t pending = 1;
    while (pending) {
        s_head_t h;
        int rc = s_head(p, len, off, &h);
        if (rc) {
            return rc;
        }
        pending--;
        if (h.kind == K_STR || h.kind == K_BIN || h.kind == K_EXT) {
            *off += h.n;
        } else if (h.kind == K_ARR) {
            pending += h.n;
        } else if (h.kind == K_MAP) {
            pending += 2 * h.n;
        }
        if (pending > len - *off) {
            return SL_ERANGE; /* every item needs at least a byte */
        }
    }
    return 0;
}

/* --- msgpack writing ------------------------------------------------------ */

/*  sl_buf_append with the common case inline: the output buffer has grown
    to the largest event after a few, and encoding appends many small
    pieces. */
static inline int s_app(sl_buf_t *b, const void *p, size_t n)
{
    if (b->cap - b->len >= n) {
        if (n) {
            memcpy(b->data + b->len, p, n);
        }
        b->len += n;
        return 0;
    }
    return sl_buf_append(b, p, n);
}

static int s_put_hdr(sl_buf_t *b, uint8_t fix, uint8_t fixmax, uint8_t c8, uint8_t c16, uint8_t c32,
                     uint64_t n)
{
    uint8_t h[5];
    size_t hl;
    if (n <= fixmax) {
        h[0] = (uint8_t)(fix | n);
        hl = 1;
    } else if (c8 && n <= 0xff) {
        h[0] = c8;
        h[1] = (uint8_t)n;
        hl = 2;
    } else if (n <= 0xffff) {
        h[0] = c16;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[0] = c32;
        h[1] = (uint8_t)(n >> 24);
        h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8);
        h[4] = (uint8_t)n;
        hl = 5;
    }
    return s_app(b, h, hl);
}

static int s_put_str(sl_buf_t *b, const uint8_t *s, uint32_t n)
{
    int rc = s_put_hdr(b, 0xa0, 31, 0xd9, 0xda, 0xdb, n);
    return rc ? rc : s_app(b, s, n);
}

/* --- arena and nodes ---------------------------------------------------- */

static uint8_t *s_alloc(sl_transform_t *t, size_t n)
{
    for (s_block_t *b = t->cur; b; b = b->next) {
        if (b->cap - b->used >= n) {
            t->cur = b;
            uint8_t *p = b->data + b->used;
            b->used += n;
            return p;
        }
    }
    size_t cap = n > S_BLOCK ? n : S_BLOCK;
    s_block_t *nb = malloc(sizeof *nb + cap);
    if (!nb) {
        return NULL;
    }
    nb->cap = cap;
    nb->used = n;
    nb->next = NULL;
    s_block_t **tail = &t->blocks;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = nb;
    t->cur = nb;
    return nb->data;
}

static void s_arena_reset(sl_transform_t *t)
{
    for (s_block_t *b = t->blocks; b; b = b->next) {
        b->used = 0;
    }
    t->cur = t->blocks;
}

static int s_node_new(sl_transform_t *t, const uint8_t *k, uint32_t klen)
{
    if (t->n_nodes == t->cap_nodes) {
        int cap = t->cap_nodes ? t->cap_nodes * 2 : 64;
        s_node_t *nn = realloc(t->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            return SL_ENOMEM;
        }
        t->nodes = nn;
        t->cap_nodes = cap;
    }
    s_node_t *n = &t->nodes[t->n_nodes];
    memset(n, 0, sizeof *n);
    n->k = k;
    n->klen = klen;
    n->first = n->last = n->next = -1;
    return t->n_nodes++;
}

static void s_child_add(sl_transform_t *t, int parent, int child)
{
    s_node_t *p = &t->nodes[parent];
    if (p->last >= 0) {
        t->nodes[p->last].next = child;
    } else {
        p->first = child;
    }
    p->last = child;
}

/*  Decode the map p[*off..] (header included) into children of `node`.
    A nested map whose keys are not all strings stays raw. */
static int s_decode_map(sl_transform_t *t, const uint8_t *p, size_t len, size_t *off, int node,
                        int depth)
{
    s_head_t h;
    int rc = s_head(p, len, off, &h);
    if (rc) {
        return rc;
    }
    if (h.kind != K_MAP) {
        return SL_EPROTO;
    }
    if (depth > SL_EVENT_MAX_DEPTH || h.n > len - *off) {
        return SL_ERANGE;
    }
    for (uint64_t i = 0; i < h.n; i++) {
        s_head_t kh;
        rc = s_head(p, len, off, &kh);
        if (rc) {
            return rc;
        }
        if (kh.kind != K_STR) {
            return SL_EPROTO;
        }
        int c = s_node_new(t, p + *off, (uint32_t)kh.n);
        if (c < 0) {
            return c;
        }
        *off += kh.n;
        s_child_add(t, node, c);
        size_t start = *off;
        s_head_t vh;
        rc = s_head(p, len, off, &vh);
        if (rc) {
            return rc;
        }
        if (vh.kind == K_STR) {
            t->nodes[c].v = (s_val_t){V_STR, p + *off, (uint32_t)vh.n, -1};
            *off += vh.n;
            continue;
        }
        if (vh.kind == K_MAP) {
            size_t at = start;
            t->nodes[c].v = (s_val_t){V_MAP, NULL, 0, c};
            int saved = t->n_nodes;
            rc = s_decode_map(t, p, len, &at, c, depth + 1);
            if (rc == SL_EPROTO) {
                /* non-string keys: keep the map as bytes */
                t->n_nodes = saved;
                t->nodes[c].first = t->nodes[c].last = -1;
                at = start;
                rc = s_skip(p, len, &at);
                t->nodes[c].v = (s_val_t){V_RAW, p + start, (uint32_t)(at - start), -1};
            }
            if (rc) {
                return rc;
            }
            *off = at;
            continue;
        }
        *off = start;
        rc = s_skip(p, len, off);
        if (rc) {
            return rc;
        }
        t->nodes[c].v = (s_val_t){V_RAW, p + start, (uint32_t)(*off - start), -1};
    }
    return 0;
}

static int s_body(sl_transform_t *t)
{
    if (t->decoded) {
        return t->failed;
    }
    t->decoded = 1;
    t->n_nodes = 0;
    int root = s_node_new(t, NULL, 0);
    if (root < 0) {
        return t->failed = root;
    }
    t->nodes[root].v = (s_val_t){V_MAP, NULL, 0, root};
    const sl_event_t *ev = t->ev;
    if (ev->body.len == 0) {
        return 0;
    }
    size_t off = 0;
    int rc = s_decode_map(t, (const uint8_t *)ev->body.ptr, ev->body.len, &off, root, 1);
    if (rc == 0 && off != ev->body.len) {
        rc = SL_EPROTO;
    }
    return t->failed = rc;
}

static int s_encode_node(sl_transform_t *t, int node, sl_buf_t *b, int depth);

static int s_encode_val(sl_transform_t *t, const s_val_t *v, sl_buf_t *b, int depth)
{
    switch (v->type) {
    case V_STR:
        return s_put_str(b, v->p, v->len);
    case V_RAW:
        return s_app(b, v->p, v->len);
    case V_MAP:
        return s_encode_node(t, v->node, b, depth);
    default:
        return sl_buf_append(b, "\xc0", 1);
    }
}

static int s_encode_node(sl_transform_t *t, int node, sl_buf_t *b, int depth)
{
    if (depth > SL_EVENT_MAX_DEPTH) {
        return SL_ERANGE;
    }
    uint32_t n = 0;
    for (int c = t->nodes[node].first; c >= 0; c = t->nodes[c].next) {
        n += !t->nodes[c].dead;
    }
    int rc = s_put_hdr(b, 0x80, 15, 0, 0xde, 0xdf, n);
    for (int c = t->nodes[node].first; !rc && c >= 0; c = t->nodes[c].next) {
        if (t->nodes[c].dead) {
            continue;
        }
        rc = s_put_str(b, t->nodes[c].k, t->nodes[c].klen);
        s_val_t v = t->nodes[c].v;
        rc = rc ? rc : s_encode_val(t, &v, b, depth + 1);
    }
    return rc;
}

/* --- field access ------------------------------------------------------- */

static int s_child(sl_transform_t *t, int node, const char *k, uint32_t klen)
{
    for (int c = t->nodes[node].first; c >= 0; c = t->nodes[c].next) {
        const s_node_t *n = &t->nodes[c];
        if (n->klen == klen && !n->dead && (klen == 0 || n->k[0] == (uint8_t)k[0]) &&
            memcmp(n->k, k, klen) == 0) {
            return c;
        }
    }
    return -1;
}

/*  The node of a body path, or -1. */
static int s_find(sl_transform_t *t, const s_path_t *p)
{
    if (s_body(t)) {
        return -1;
    }
    int node = 0;
    for (int i = 0; i < p->nseg; i++) {
        if (t->nodes[node].v.type != V_MAP) {
            return -1;
        }
        node = s_child(t, t->nodes[node].v.node, p->seg[i], p->seglen[i]);
        if (node < 0) {
            return -1;
        }
    }
    return node;
}

static const s_val_t *s_get(sl_transform_t *t, const s_path_t *p)
{
    if (p->root != P_BODY) {
        return &t->env[p->root - 1];
    }
    int n = s_find(t, p);
    return n >= 0 ? &t->nodes[n].v : NULL;
}

/*  Text form of a scalar (numbers in decimal, booleans true/false, nil
    empty). 0, or -1 if the value has none (map, array, bin, ext). */
static int s_text(sl_transform_t *t, const s_val_t *v, const uint8_t **p, uint32_t *len)
{
    if (v->type == V_STR) {
        *p = v->p;
        *len = v->len;
        return 0;
    }
    if (v->type != V_RAW) {
        return -1;
    }
    size_t off = 0;
    s_head_t h;
    if (s_head(v->p, v->len, &off, &h)) {
        return -1;
    }
    char buf[40];
    int n;
    switch (h.kind) {
    case K_NIL:
        *p = (const uint8_t *)"";
        *len = 0;
        return 0;
    case K_BOOL:
        *p = (const uint8_t *)(h.u ? "true" : "false");
        *len = h.u ? 4 : 5;
        return 0;
    case K_UINT:
        n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)h.u);
        break;
    case K_INT:
        n = snprintf(buf, sizeof buf, "%lld", (long long)h.i);
        break;
    case K_FLOAT:
        n = snprintf(buf, sizeof buf, "%.15g", h.d);
        if (strtod(buf, NULL) != h.d) {
            n = snprintf(buf, sizeof buf, "%.17g", h.d);
        }
        break;
    default:
        return -1;
    }
    uint8_t *dst = s_alloc(t, (size_t)n);
    if (!dst) {
        return -1;
    }
    memcpy(dst, buf, (size_t)n);
    *p = dst;
    *len = (uint32_t)n;
    return 0;
}

/*  Numeric value of a number (not of a numeric string). */
static int s_num(const s_val_t *v, int *is_int, int64_t *i, double *d)
{
    if (v->type != V_RAW) {
        return 0;
    }
    size_t off = 0;
    s_head_t h;
    if (s_head(v->p, v->len, &off, &h)) {
        return 0;
    }
    if (h.kind == K_UINT) {
        *is_int = h.u <= INT64_MAX;
        *i = (int64_t)h.u;
        *d = (double)h.u;
        return 1;
    }
    if (h.kind == K_INT) {
        *is_int = 1;
        *i = h.i;
        *d = (double)h.i;
        return 1;
    }
    if (h.kind == K_FLOAT) {
        *is_int = 0;
        *d = h.d;
        return 1;
    }
    return 0;
}

static int s_clone(sl_transform_t *t, int dst, const s_val_t *v);

/*  Write v at path p, making missing parent maps. -1 if a parent is not a
    map (the rule does nothing). */
static int s_set(sl_transform_t *t, const s_path_t *p, const s_val_t *v)
{
    if (p->root != P_BODY) {
        const uint8_t *s;
        uint32_t len;
        if (s_text(t, v, &s, &len)) {
            return -1;
        }
        t->env[p->root - 1] = (s_val_t){V_STR, s, len, -1};
        return 0;
    }
    if (s_body(t)) {
        return -1;
    }
    int node = 0;
    for (int i = 0; i < p->nseg; i++) {
        if (t->nodes[node].v.type != V_MAP) {
            return -1;
        }
        int parent = t->nodes[node].v.node;
        int c = s_child(t, parent, p->seg[i], p->seglen[i]);
        if (c < 0) {
            c = s_node_new(t, (const uint8_t *)p->seg[i], p->seglen[i]);
            if (c < 0) {
                t->failed = c;
                return -1;
            }
            t->nodes[c].v = (s_val_t){V_MAP, NULL, 0, c};
            s_child_add(t, parent, c);
        }
        node = c;
    }
    t->dirty = 1;
    if (v->type == V_MAP) {
        return s_clone(t, node, v);
    }
    t->nodes[node].v = *v;
    t->nodes[node].first = t->nodes[node].last = -1;
    return 0;
}

/*  Copy a map value into node dst: encoded first, then decoded, so a map
    copied inside itself cannot loop. */
static int s_clone(sl_transform_t *t, int dst, const s_val_t *v)
{
    sl_buf_reset(&t->tmp);
    int rc = s_encode_val(t, v, &t->tmp, 0);
    uint8_t *copy = rc ? NULL : s_alloc(t, t->tmp.len);
    if (!copy) {
        t->failed = rc ? rc : SL_ENOMEM;
        return -1;
    }
    memcpy(copy, t->tmp.data, t->tmp.len);
    t->nodes[dst].v = (s_val_t){V_MAP, NULL, 0, dst};
    t->nodes[dst].first = t->nodes[dst].last = -1;
    size_t off = 0;
    rc = s_decode_map(t, copy, t->tmp.len, &off, dst, 1);
    if (rc) {
        t->failed = rc;
        return -1;
    }
    return 0;
}

static void s_del(sl_transform_t *t, const s_path_t *p)
{
    if (p->root != P_BODY) {
        t->env[p->root - 1] = (s_val_t){V_STR, (const uint8_t *)"", 0, -1};
        return;
    }
    int n = s_find(t, p);
    if (n > 0) {
        t->nodes[n].dead = 1;
        t->dirty = 1;
    }
}

/* --- conditions --------------------------------------------------------- */

static int s_const_eq(sl_transform_t *t, const s_val_t *v, const s_const_t *c)
{
    if (c->is_num) {
        int is_int;
        int64_t i;
        double d;
        if (!s_num(v, &is_int, &i, &d)) {
            return 0;
        }
        return (c->is_int && is_int) ? i == c->i : d == c->d;
    }
    if (c->v.type == V_STR) {
        return v->type == V_STR && v->len == c->v.len && memcmp(v->p, c->v.p, v->len) == 0;
    }
    return v->type == V_RAW && v->len == c->v.len && memcmp(v->p, c->v.p, v->len) == 0;
}

static int s_cond(sl_transform_t *t, const s_cond_t *c)
{
    switch (c->op) {
    case C_AND:
        for (int i = 0; i < c->n_kids; i++) {
            if (!s_cond(t, &c->kids[i])) {
                return 0;
            }
        }
        return 1;
    case C_OR:
        for (int i = 0; i < c->n_kids; i++) {
            if (s_cond(t, &c->kids[i])) {
                return 1;
            }
        }
        return 0;
    case C_NOT:
        return !s_cond(t, &c->kids[0]);
    default:
        break;
    }
    const s_val_t *v = s_get(t, &c->path);
    if (!v) {
        return 0;
    }
    switch (c->op) {
    case C_EXISTS:
        return 1;
    case C_EQ:
    case C_IN:
        for (int i = 0; i < c->n_vals; i++) {
            if (s_const_eq(t, v, &c->vals[i])) {
                return 1;
            }
        }
        return 0;
    case C_PREFIX:
        return v->type == V_STR && v->len >= c->vals[0].v.len &&
               memcmp(v->p, c->vals[0].v.p, c->vals[0].v.len) == 0;
    case C_REGEX:
        if (v->type != V_STR) {
            return 0;
        }
        sl_buf_reset(&t->cstr);
        if (sl_buf_append(&t->cstr, v->p, v->len) || sl_buf_append(&t->cstr, "", 1)) {
            t->failed = SL_ENOMEM;
            return 0;
        }
        return regexec(&c->re, (const char *)t->cstr.data, 0, NULL, 0) == 0;
    default: {
        int is_int;
        int64_t i;
        double d;
        if (!s_num(v, &is_int, &i, &d)) {
            return 0;
        }
        const s_const_t *k = &c->vals[0];
        int cmp;
        if (is_int && k->is_int) {
            cmp = i < k->i ? -1 : i > k->i;
        } else {
            if (d != d) {
                return 0;
            }
            cmp = d < k->d ? -1 : d > k->d;
        }
        return c->op == C_LT   ? cmp < 0
               : c->op == C_LE ? cmp <= 0
               : c->op == C_GT ? cmp > 0
                               : cmp >= 0;
    }
    }
}

/* --- running ------------------------------------------------------------ */

#define S_GO (-2)

static void s_case(sl_transform_t *t, const s_path_t *p, int op)
{
    const s_val_t *v = s_get(t, p);
    if (!v || v->type != V_STR) {
        return;
    }
    s_val_t nv = *v;
    if (op == R_TRIM) {
        while (nv.len && strchr(" \t\r\n\f\v", nv.p[0])) {
            nv.p++;
            nv.len--;
        }
        while (nv.len && strchr(" \t\r\n\f\v", nv.p[nv.len - 1])) {
            nv.len--;
        }
        if (nv.len == v->len) {
            return;
        }
    } else {
        uint8_t *d = s_alloc(t, nv.len ? nv.len : 1);
        if (!d) {
            t->failed = SL_ENOMEM;
            return;
        }
        for (uint32_t i = 0; i < nv.len; i++) {
            uint8_t ch = v->p[i];
            if (op == R_LOWER && ch >= 'A' && ch <= 'Z') {
                ch = (uint8_t)(ch + 32);
            } else if (op == R_UPPER && ch >= 'a' && ch <= 'z') {
                ch = (uint8_t)(ch - 32);
            }
            d[i] = ch;
        }
        nv.p = d;
    }
    s_set(t, p, &nv);
}

static void s_template(sl_transform_t *t, const s_rule_t *r)
{
    size_t total = 0;
    const uint8_t *tp[64];
    uint32_t tl[64];
    for (int i = 0; i < r->n_parts; i++) {
        const s_part_t *pt = &r->parts[i];
        if (pt->tpl_path) {
            const s_val_t *v = s_get(t, pt->tpl_path);
            if (!v || s_text(t, v, &tp[i], &tl[i])) {
                return; /* a missing field: the rule does nothing */
            }
        } else {
            tp[i] = (const uint8_t *)pt->lit;
            tl[i] = pt->lit_len;
        }
        total += tl[i];
    }
    if (total > SL_EVENT_MAX_BODY) {
        return;
    }
    uint8_t *d = s_alloc(t, total ? total : 1);
    if (!d) {
        t->failed = SL_ENOMEM;
        return;
    }
    size_t off = 0;
    for (int i = 0; i < r->n_parts; i++) {
        memcpy(d + off, tp[i], tl[i]);
        off += tl[i];
    }
    s_val_t v = {V_STR, d, (uint32_t)total, -1};
    s_set(t, &r->to, &v);
}

static int s_entry_cmp(const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    uint32_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static void s_map(sl_transform_t *t, const s_rule_t *r)
{
    const s_val_t *v = s_get(t, &r->from);
    const uint8_t *s;
    uint32_t len;
    if (!v) {
        return;
    }
    const s_const_t *out = r->has_def ? &r->def : NULL;
    if (s_text(t, v, &s, &len) == 0) {
        s_entry_t key = {.key = (char *)s, .klen = len};
        const s_entry_t *e =
            bsearch(&key, r->ents, (size_t)r->n_ents, sizeof *r->ents, s_entry_cmp);
        if (e) {
            out = &e->val;
        }
    }
    if (out) {
        s_set(t, &r->to, &out->v);
    }
}

static void s_split(sl_transform_t *t, const s_rule_t *r)
{
    const s_val_t *v = s_get(t, &r->from);
    if (!v || v->type != V_STR) {
        return;
    }
    s_val_t src = *v;
    uint32_t start = 0;
    for (int i = 0; i < r->n_paths; i++) {
        if (start > src.len) {
            break;
        }
        uint32_t end = start;
        if (i < r->n_paths - 1) {
            while (end < src.len && !strchr(r->seps, src.p[end])) {
                end++;
            }
        } else {
            end = src.len; /* the last part takes the rest */
        }
        if (r->paths[i].root >= 0) {
            s_val_t part = {V_STR, src.p + start, end - start, -1};
            s_set(t, &r->paths[i], &part);
        }
        start = end + 1;
    }
}

/*  A rename inside one map to a name not in use keeps the entry's place:
    only its key changes. 1 if done. */
static int s_rename_in_place(sl_transform_t *t, const s_rule_t *r)
{
    const s_path_t *f = &r->from, *to = &r->to;
    if (f->root != P_BODY || to->root != P_BODY || f->nseg != to->nseg) {
        return 0;
    }
    for (int i = 0; i < f->nseg - 1; i++) {
        if (f->seglen[i] != to->seglen[i] || memcmp(f->seg[i], to->seg[i], f->seglen[i]) != 0) {
            return 0;
        }
    }
    int n = s_find(t, f);
    if (n <= 0 || s_find(t, to) >= 0) {
        return n < 0; /* nothing to rename: done */
    }
    t->nodes[n].k = (const uint8_t *)to->seg[to->nseg - 1];
    t->nodes[n].klen = to->seglen[to->nseg - 1];
    t->dirty = 1;
    return 1;
}

/*  S_GO, SL_TRANSFORM_DROPPED or a route's output. */
static int s_exec(sl_transform_t *t, const s_prog_t *prog)
{
    for (int i = 0; i < prog->n && !t->failed; i++) {
        const s_rule_t *r = &prog->rules[i];
        if (r->when && !s_cond(t, r->when)) {
            continue;
        }
        const s_val_t *v;
        s_val_t copy;
        switch (r->op) {
        case R_RENAME:
            if (s_rename_in_place(t, r)) {
                break;
            }
            /* fall through */
        case R_COPY:
            v = s_get(t, &r->from);
            if (!v) {
                break;
            }
            copy = *v;
            if (s_set(t, &r->to, &copy) == 0 && r->op == R_RENAME) {
                s_del(t, &r->from);
            }
            break;
        case R_SET:
            if (r->parts) {
                s_template(t, r);
            } else {
                s_set(t, &r->to, &r->value.v);
            }
            break;
        case R_DROP:
            for (int k = 0; k < r->n_paths; k++) {
                s_del(t, &r->paths[k]);
            }
            break;
        case R_MAP:
            s_map(t, r);
            break;
        case R_LOWER:
        case R_UPPER:
        case R_TRIM:
            for (int k = 0; k < r->n_paths; k++) {
                s_case(t, &r->paths[k], r->op);
            }
            break;
        case R_SPLIT:
            s_split(t, r);
            break;
        case R_FILTER:
            if (s_cond(t, r->cond) != r->keep) {
                return SL_TRANSFORM_DROPPED;
            }
            break;
        case R_ROUTE:
            return r->output;
        }
    }
    return S_GO;
}

int sl_transform_run(sl_transform_t *t, const sl_event_t *in, sl_event_t *out, int *output)
{
    t->ev = in;
    t->decoded = t->dirty = t->failed = 0;
    s_arena_reset(t);
    t->env[0] = (s_val_t){V_STR, (const uint8_t *)in->tenant.ptr, in->tenant.len, -1};
    t->env[1] = (s_val_t){V_STR, (const uint8_t *)in->kind.ptr, in->kind.len, -1};
    t->env[2] = (s_val_t){V_STR, (const uint8_t *)in->key.ptr, in->key.len, -1};
    int o = s_exec(t, &t->shared);
    if (o == S_GO && !t->failed) {
        for (int i = 0; i < t->n_tenants; i++) {
            const s_tenant_t *tn = &t->tenants[i];
            if (tn->len == t->env[0].len && memcmp(tn->name, t->env[0].p, tn->len) == 0) {
                o = s_exec(t, &tn->prog);
                break;
            }
        }
    }
    if (t->failed) {
        return t->failed;
    }
    *output = o == S_GO ? 0 : o;
    *out = *in;
    if (o == SL_TRANSFORM_DROPPED) {
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        if (t->env[i].len > SL_EVENT_MAX_STR) {
            return SL_ERANGE;
        }
    }
    out->tenant = (sl_slice_t){(const char *)t->env[0].p, t->env[0].len};
    out->kind = (sl_slice_t){(const char *)t->env[1].p, t->env[1].len};
    out->key = (sl_slice_t){(const char *)t->env[2].p, t->env[2].len};
    if (t->dirty) {
        sl_buf_reset(&t->out);
        int rc = s_encode_node(t, 0, &t->out, 1);
        if (rc) {
            return rc;
        }
        if (t->out.len > SL_EVENT_MAX_BODY) {
            return SL_ERANGE;
        }
        out->body = (sl_slice_t){(const char *)t->out.data, (uint32_t)t->out.len};
    }
    return 0;
}

/* --- compiling ---------------------------------------------------------- */

typedef struct {
    sl_transform_err_t *err;
    const char *const *outputs;
    char ptr[256];
    size_t plen;
    int rule; /* 1-based, for messages */
    int failed;
} s_cc_t;

static size_t s_push(s_cc_t *cc, const char *seg)
{
    size_t old = cc->plen;
    char tmp[256];
    size_t n = 0;
    for (const char *s = seg; *s && n + 2 < sizeof tmp; s++) {
        if (*s == '~' || *s == '/') {
            tmp[n++] = '~';
            tmp[n++] = *s == '~' ? '0' : '1';
        } else {
            tmp[n++] = *s;
        }
    }
    tmp[n] = '\0';
    int w = snprintf(cc->ptr + cc->plen, sizeof cc->ptr - cc->plen, "/%s", tmp);
    if (w > 0) {
        cc->plen =
            cc->plen + (size_t)w < sizeof cc->ptr ? cc->plen + (size_t)w : sizeof cc->ptr - 1;
    }
    return old;
}

static size_t s_push_i(s_cc_t *cc, int i)
{
    char b[16];
    snprintf(b, sizeof b, "%d", i);
    return s_push(cc, b);
}

static void s_pop(s_cc_t *cc, size_t old)
{
    cc->plen = old;
    cc->ptr[old] = '\0';
}

__attribute__((format(printf, 2, 3))) static int s_fail(s_cc_t *cc, const char *fmt, ...)
{
    if (!cc->failed) {
        cc->failed = 1;
        char msg[260];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (cc->rule > 0) {
            snprintf(cc->err->msg, sizeof cc->err->msg, "rule %d: %s", cc->rule, msg);
        } else {
            snprintf(cc->err->msg, sizeof cc->err->msg, "%s", msg);
        }
        snprintf(cc->err->where, sizeof cc->err->where, "%s", cc->ptr);
    }
    return SL_EINVAL;
}

static const char *s_jtype(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "a map";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_NULL:
        return "null";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "a number";
    }
}

static int s_path(s_cc_t *cc, const json_t *j, s_path_t *p, int whole_ok)
{
    memset(p, 0, sizeof *p);
    if (!json_is_string(j)) {
        return s_fail(cc, "expected a field path (body.NAME, tenant, kind or key), got %s",
                      s_jtype(j));
    }
    const char *s = json_string_value(j);
    if (strcmp(s, "tenant") == 0 || strcmp(s, "kind") == 0 || strcmp(s, "key") == 0) {
        p->root = s[0] == 't' ? P_TENANT : s[1] == 'i' ? P_KIND : P_KEY;
        return 0;
    }
    if (strncmp(s, "body.", 5) != 0) {
        return s_fail(cc, "field '%s': a path is body.NAME[.NAME...], tenant, kind or key", s);
    }
    p->root = P_BODY;
    const char *seg = s + 5;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (n == 0) {
            return s_fail(cc, "field '%s': empty name between dots", s);
        }
        if (p->nseg == S_MAX_SEGS) {
            return s_fail(cc, "field '%s': more than %d names", s, S_MAX_SEGS);
        }
        p->seg[p->nseg] = strndup(seg, n);
        if (!p->seg[p->nseg]) {
            return SL_ENOMEM;
        }
        p->seglen[p->nseg++] = (uint32_t)n;
        if (!dot) {
            break;
        }
        seg = dot + 1;
    }
    (void)whole_ok;
    return 0;
}

/*  s_path with `key` pushed on the error location (the usual case: a rule's
    field argument). */
static int s_path_at(s_cc_t *cc, const char *key, const json_t *j, s_path_t *p, int whole_ok)
{
    size_t old = s_push(cc, key);
    int rc = s_path(cc, j, p, whole_ok);
    s_pop(cc, old);
    return rc;
}

static int s_path_eq(const s_path_t *a, const s_path_t *b)
{
    if (a->root != b->root || a->nseg != b->nseg) {
        return 0;
    }
    for (int i = 0; i < a->nseg; i++) {
        if (a->seglen[i] != b->seglen[i] || memcmp(a->seg[i], b->seg[i], a->seglen[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static void s_path_free(s_path_t *p)
{
    for (int i = 0; i < p->nseg; i++) {
        free(p->seg[i]);
    }
    p->nseg = 0;
}

/*  A constant: a JSON value as a field value. */
static int s_const(s_cc_t *cc, const json_t *j, s_const_t *c)
{
    memset(c, 0, sizeof *c);
    if (json_is_string(j)) {
        size_t n = json_string_length(j);
        c->own = malloc(n + 1);
        if (!c->own) {
            return SL_ENOMEM;
        }
        memcpy(c->own, json_string_value(j), n + 1);
        c->v = (s_val_t){V_STR, c->own, (uint32_t)n, -1};
        return 0;
    }
    if (json_is_integer(j)) {
        c->is_num = c->is_int = 1;
        c->i = json_integer_value(j);
        c->d = (double)c->i;
    } else if (json_is_real(j)) {
        c->is_num = 1;
        c->d = json_real_value(j);
    }
    sl_buf_t b = {0};
    int rc = sl_jansson_to_msgpack((json_t *)j, &b);
    if (rc) {
        sl_buf_free(&b);
        return rc == SL_ENOMEM ? rc : s_fail(cc, "value cannot be stored");
    }
    c->own = b.data;
    c->v = (s_val_t){V_RAW, b.data, (uint32_t)b.len, -1};
    return 0;
}

static void s_cond_free(s_cond_t *c);

static int s_cond_compile(s_cc_t *cc, const json_t *j, s_cond_t *c, int depth);

static int s_cond_list(s_cc_t *cc, const json_t *j, s_cond_t *c, int depth, const char *what)
{
    if (c->op == C_NOT) {
        c->kids = calloc(1, sizeof *c->kids);
        if (!c->kids) {
            return SL_ENOMEM;
        }
        c->n_kids = 1;
        return s_cond_compile(cc, j, c->kids, depth + 1);
    }
    if (!json_is_array(j) || json_array_size(j) == 0) {
        return s_fail(cc, "'%s' expects a non-empty list of conditions, got %s", what, s_jtype(j));
    }
    size_t n = json_array_size(j);
    c->kids = calloc(n, sizeof *c->kids);
    if (!c->kids) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t old = s_push_i(cc, (int)i);
        c->n_kids++;
        int rc = s_cond_compile(cc, json_array_get(j, i), &c->kids[i], depth + 1);
        if (rc) {
            return rc;
        }
        s_pop(cc, old);
    }
    return 0;
}

static const char *const s_cmp_ops[] = {"equals", "in", "prefix", "regex", "lt",
                                        "le",     "gt", "ge",     NULL};
static const int s_cmp_codes[] = {C_EQ, C_IN, C_PREFIX, C_REGEX, C_LT, C_LE, C_GT, C_GE};

/*  Bound the regex engine's cost on a hostile pattern. glibc expands
    counted repetitions, so nested ones multiply ("((a{255}){255}){255}"
    is 16 million states); stacked quantifiers ("a+++++++") make its
    epsilon closures explode; back-references make matching exponential.
    So: the product of all repetition counts at most 1000 (and times the
    pattern's length at most 10000), no quantifier
    right after another, at most 100 quantifiers, no back-references (a
    glibc extension to ERE). Bracket expressions are skipped. */
static int s_regex_ok(const char *re)
{
    double product = 1;
    int quantifiers = 0, after_q = 0;
    for (const char *s = re; *s; s++) {
        if (*s == '[') {
            s++;
            s += *s == '^';
            s += *s == ']';
            while (*s && *s != ']') {
                if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
                    const char *close = strstr(s + 2, s[1] == ':'   ? ":]"
                                                      : s[1] == '.' ? ".]"
                                                                    : "=]");
                    s = close ? close + 1 : s;
                }
                s++;
            }
            if (!*s) {
                return 1; /* unterminated: regcomp refuses it */
            }
            after_q = 0;
            continue;
        }
        if (*s == '\\' && s[1]) {
            if (s[1] >= '1' && s[1] <= '9') {
                return 0;
            }
            s++;
            after_q = 0;
            continue;
        }
        if (*s == '*' || *s == '+' || *s == '?' || *s == '{') {
            if (after_q || ++quantifiers > 100) {
                return 0;
            }
            after_q = 1;
            if (*s == '{') {
                char *end;
                long n = strtol(s + 1, &end, 10);
                if (*end == ',') {
                    long m = strtol(end + 1, &end, 10);
                    n = m > n ? m : n;
                }
                product *= n > 1 ? (double)n : 1;
                if (product > 1000 || product * (double)strlen(re) > 10000) {
                    return 0;
                }
                const char *close = strchr(s, '}');
                s = close ? close : s;
            }
            continue;
        }
        after_q = 0;
    }
    return 1;
}

static int s_cmp_compile(s_cc_t *cc, const json_t *v, s_cond_t *c, const char *opname)
{
    int rc;
    if (c->op == C_IN) {
        if (!json_is_array(v)) {
            return s_fail(cc, "'in' expects a list of values, got %s", s_jtype(v));
        }
        size_t n = json_array_size(v);
        c->vals = calloc(n ? n : 1, sizeof *c->vals);
        if (!c->vals) {
            return SL_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            size_t old = s_push_i(cc, (int)i);
            if (json_is_object(e) || json_is_array(e)) {
                return s_fail(cc, "'in' values must be scalars, got %s", s_jtype(e));
            }
            rc = s_const(cc, e, &c->vals[c->n_vals]);
            if (rc) {
                return rc;
            }
            c->n_vals++;
            s_pop(cc, old);
        }
        return 0;
    }
    c->vals = calloc(1, sizeof *c->vals);
    if (!c->vals) {
        return SL_ENOMEM;
    }
    if (c->op == C_EQ) {
        if (json_is_object(v) || json_is_array(v)) {
            return s_fail(cc, "'equals' expects a scalar, got %s", s_jtype(v));
        }
    } else if (c->op == C_PREFIX || c->op == C_REGEX) {
        if (!json_is_string(v)) {
            return s_fail(cc, "'%s' expects a string, got %s", opname, s_jtype(v));
        }
    } else if (!json_is_number(v)) {
        return s_fail(cc, "'%s' expects a number, got %s", opname, s_jtype(v));
    }
    rc = s_const(cc, v, &c->vals[0]);
    if (rc) {
        return rc;
    }
    c->n_vals = 1;
    if (c->op == C_REGEX) {
        const char *pat = json_string_value(v);
        if (strlen(pat) > S_MAX_REGEX || !s_regex_ok(pat)) {
            return s_fail(cc,
                          "regex longer than %d bytes, with more than 100 quantifiers, a "
                          "quantifier after a quantifier, repetition counts whose product is "
                          "above 1000, or a back-reference",
                          S_MAX_REGEX);
        }
        int e = regcomp(&c->re, pat, REG_EXTENDED | REG_NOSUB);
        if (e) {
            char why[120];
            regerror(e, &c->re, why, sizeof why);
            regfree(&c->re);
            return s_fail(cc, "regex '%s': %s", pat, why);
        }
        c->has_re = 1;
    }
    return 0;
}

/*  {and|or: [...]}, {not: C}, {exists: PATH}, or {field: PATH, OP: V, ...}
    (several OPs: all must hold). */
static int s_cond_compile(s_cc_t *cc, const json_t *j, s_cond_t *c, int depth)
{
    memset(c, 0, sizeof *c);
    c->op = C_AND;
    if (depth > 32) {
        return s_fail(cc, "conditions nested deeper than 32 levels");
    }
    if (!json_is_object(j)) {
        return s_fail(cc,
                      "expected a condition (a map such as {field: kind, equals: tag.set}), "
                      "got %s",
                      s_jtype(j));
    }
    const char *k;
    json_t *v;
    const json_t *field = json_object_get(j, "field");
    if (!field) {
        if (json_object_size(j) != 1) {
            return s_fail(cc, "a condition without 'field' has exactly one of and, or, not, "
                              "exists");
        }
        json_object_foreach((json_t *)j, k, v)
        {
            size_t old = s_push(cc, k);
            int rc;
            if (strcmp(k, "and") == 0 || strcmp(k, "or") == 0 || strcmp(k, "not") == 0) {
                c->op = k[0] == 'a' ? C_AND : k[0] == 'o' ? C_OR : C_NOT;
                rc = s_cond_list(cc, v, c, depth, k);
            } else if (strcmp(k, "exists") == 0) {
                c->op = C_EXISTS;
                rc = s_path(cc, v, &c->path, 0);
            } else {
                rc = s_fail(cc,
                            "unknown condition '%s' (and, or, not, exists, or field with "
                            "equals, in, prefix, regex, lt, le, gt, ge)",
                            k);
            }
            if (rc) {
                return rc;
            }
            s_pop(cc, old);
        }
        return 0;
    }
    s_path_t path;
    size_t old = s_push(cc, "field");
    int rc = s_path(cc, field, &path, 0);
    s_pop(cc, old);
    s_path_free(&path);
    if (rc) {
        return rc;
    }
    size_t n = json_object_size(j) - 1;
    if (n == 0) {
        return s_fail(cc, "condition on a field needs one of equals, in, prefix, regex, lt, le, "
                          "gt, ge");
    }
    c->kids = calloc(n, sizeof *c->kids);
    if (!c->kids) {
        return SL_ENOMEM;
    }
    json_object_foreach((json_t *)j, k, v)
    {
        if (strcmp(k, "field") == 0) {
            continue;
        }
        old = s_push(cc, k);
        int op = -1;
        for (int i = 0; s_cmp_ops[i]; i++) {
            if (strcmp(k, s_cmp_ops[i]) == 0) {
                op = s_cmp_codes[i];
            }
        }
        if (op < 0) {
            return s_fail(cc, "unknown comparison '%s' (equals, in, prefix, regex, lt, le, gt, ge)",
                          k);
        }
        s_cond_t *kid = &c->kids[c->n_kids++];
        kid->op = op;
        rc = s_path(cc, field, &kid->path, 0);
        rc = rc ? rc : s_cmp_compile(cc, v, kid, k);
        if (rc) {
            return rc;
        }
        s_pop(cc, old);
    }
    return 0;
}

static void s_cond_free(s_cond_t *c)
{
    if (!c) {
        return;
    }
    s_path_free(&c->path);
    for (int i = 0; i < c->n_vals; i++) {
        free(c->vals[i].own);
    }
    free(c->vals);
    if (c->has_re) {
        regfree(&c->re);
    }
    for (int i = 0; i < c->n_kids; i++) {
        s_cond_free(&c->kids[i]);
    }
    free(c->kids);
}

/*  Required member `name` of rule map `m`. */
static const json_t *s_member(s_cc_t *cc, const json_t *m, const char *name, const char *rule)
{
    const json_t *v = json_object_get(m, name);
    if (!v) {
        s_fail(cc, "%s needs '%s'", rule, name);
    }
    return v;
}

/*  Reject members a rule does not know (a typo must not pass silently). */
static int s_only(s_cc_t *cc, const json_t *m, const char *rule, const char *const *names)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        int ok = 0;
        for (int i = 0; names[i]; i++) {
            ok |= strcmp(k, names[i]) == 0;
        }
        if (!ok) {
            size_t old = s_push(cc, k);
            char list[120] = "";
            for (int i = 0; names[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, names[i], sizeof list - strlen(list) - 1);
            }
            s_fail(cc, "%s has no '%s' (it takes %s)", rule, k, list);
            s_pop(cc, old);
            return SL_EINVAL;
        }
    }
    return 0;
}

static int s_paths(s_cc_t *cc, const json_t *v, s_rule_t *r)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_array(v) && n == 0) {
        return s_fail(cc, "expected a field path or a non-empty list of them");
    }
    r->paths = calloc(n, sizeof *r->paths);
    if (!r->paths) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t old = json_is_array(v) ? s_push_i(cc, (int)i) : cc->plen;
        int rc = s_path(cc, json_is_array(v) ? json_array_get(v, i) : v, &r->paths[i], 0);
        r->n_paths++;
        if (rc) {
            return rc;
        }
        s_pop(cc, old);
    }
    return 0;
}

static int s_template_compile(s_cc_t *cc, const char *s, s_rule_t *r)
{
    size_t cap = 8;
    r->parts = calloc(cap, sizeof *r->parts);
    if (!r->parts) {
        return SL_ENOMEM;
    }
    while (*s) {
        if (r->n_parts == 64) {
            return s_fail(cc, "template has more than 64 parts");
        }
        if ((size_t)r->n_parts == cap) {
            s_part_t *np = realloc(r->parts, cap * 2 * sizeof *np);
            if (!np) {
                return SL_ENOMEM;
            }
            memset(np + cap, 0, cap * sizeof *np);
            r->parts = np;
            cap *= 2;
        }
        s_part_t *pt = &r->parts[r->n_parts];
        const char *open = strstr(s, "{{");
        if (open == s) {
            const char *close = strstr(s + 2, "}}");
            if (!close) {
                return s_fail(cc, "template: '{{' without '}}'");
            }
            const char *a = s + 2, *b = close;
            while (a < b && *a == ' ') {
                a++;
            }
            while (b > a && b[-1] == ' ') {
                b--;
            }
            json_t *name = json_stringn(a, (size_t)(b - a));
            pt->tpl_path = calloc(1, sizeof *pt->tpl_path);
            if (!name || !pt->tpl_path) {
                json_decref(name);
                return SL_ENOMEM;
            }
            r->n_parts++;
            int rc = s_path(cc, name, pt->tpl_path, 0);
            json_decref(name);
            if (rc) {
                return rc;
            }
            s = close + 2;
            continue;
        }
        size_t n = open ? (size_t)(open - s) : strlen(s);
        pt->lit = strndup(s, n);
        if (!pt->lit) {
            return SL_ENOMEM;
        }
        pt->lit_len = (uint32_t)n;
        r->n_parts++;
        s += n;
    }
    return 0;
}

static int s_output(s_cc_t *cc, const json_t *v, int *out)
{
    if (!json_is_string(v)) {
        return s_fail(cc, "expected an output name, got %s", s_jtype(v));
    }
    char list[200] = "";
    for (int i = 0; cc->outputs[i]; i++) {
        if (strcmp(cc->outputs[i], json_string_value(v)) == 0) {
            *out = i;
            return 0;
        }
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, cc->outputs[i], sizeof list - strlen(list) - 1);
    }
    return s_fail(cc, "no output '%s' (outputs: %s)", json_string_value(v), list);
}

static int s_rule_compile(s_cc_t *cc, const json_t *j, s_rule_t *r)
{
    static const char *const from_to[] = {"from", "to", NULL};
    static const char *const set_k[] = {"field", "value", NULL};
    static const char *const map_k[] = {"field", "to", "values", "default", NULL};
    static const char *const split_k[] = {"field", "separators", "into", NULL};
    static const char *const filter_k[] = {"keep", "drop", NULL};
    static const char *const route_k[] = {"to", NULL};
    int rc;
    if (!json_is_object(j)) {
        return s_fail(cc,
                      "expected a rule (a map such as {rename: {from: body.a, to: body.b}}), "
                      "got %s",
                      s_jtype(j));
    }
    const char *opname = NULL;
    const json_t *arg = NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        if (strcmp(k, "if") == 0) {
            continue;
        }
        int op = -1;
        for (int i = 0; s_rule_names[i]; i++) {
            if (strcmp(k, s_rule_names[i]) == 0) {
                op = i;
            }
        }
        size_t old = s_push(cc, k);
        if (op < 0) {
            return s_fail(cc,
                          "unknown rule '%s' (rules: rename, set, drop, copy, map, lower, "
                          "upper, trim, split, filter, route; and an optional if)",
                          k);
        }
        if (opname) {
            return s_fail(cc, "one rule per list item: '%s' and '%s' given", opname, k);
        }
        s_pop(cc, old);
        opname = k;
        arg = v;
        r->op = op;
    }
    if (!opname) {
        return s_fail(cc, "a rule needs one of rename, set, drop, copy, map, lower, upper, trim, "
                          "split, filter, route");
    }
    const json_t *when = json_object_get(j, "if");
    if (when) {
        size_t old = s_push(cc, "if");
        r->when = calloc(1, sizeof *r->when);
        if (!r->when) {
            return SL_ENOMEM;
        }
        rc = s_cond_compile(cc, when, r->when, 0);
        if (rc) {
            return rc;
        }
        s_pop(cc, old);
    }
    size_t old = s_push(cc, opname);
    const json_t *a, *b, *seps;
    size_t o2;
    switch (r->op) {
    case R_DROP:
    case R_LOWER:
    case R_UPPER:
    case R_TRIM:
        rc = s_paths(cc, arg, r);
        break;
    case R_RENAME:
    case R_COPY:
        if (!json_is_object(arg)) {
            return s_fail(cc, "%s expects {from: FIELD, to: FIELD}, got %s", opname, s_jtype(arg));
        }
        rc = s_only(cc, arg, opname, from_to);
        if (rc || !(a = s_member(cc, arg, "from", opname)) ||
            !(b = s_member(cc, arg, "to", opname))) {
            return SL_EINVAL;
        }
        rc = s_path_at(cc, "from", a, &r->from, 0);
        if (!rc) {
            o2 = s_push(cc, "to");
            rc = s_path(cc, b, &r->to, 0);
            if (!rc && r->op == R_RENAME && s_path_eq(&r->from, &r->to)) {
                rc = s_fail(cc, "rename: from and to are the same field");
            }
            if (!rc) {
                s_pop(cc, o2);
            }
        }
        break;
    case R_SET:
        if (!json_is_object(arg)) {
            return s_fail(cc, "set expects {field: FIELD, value: VALUE}, got %s", s_jtype(arg));
        }
        rc = s_only(cc, arg, opname, set_k);
        if (rc || !(a = s_member(cc, arg, "field", opname)) ||
            !(b = s_member(cc, arg, "value", opname))) {
            return SL_EINVAL;
        }
        rc = s_path_at(cc, "field", a, &r->to, 0);
        if (rc) {
            break;
        }
        o2 = s_push(cc, "value");
        if (json_is_string(b) && strstr(json_string_value(b), "{{")) {
            rc = s_template_compile(cc, json_string_value(b), r);
        } else {
            rc = s_const(cc, b, &r->value);
        }
        if (!rc) {
            s_pop(cc, o2);
        }
        break;
    case R_MAP: {
        if (!json_is_object(arg)) {
            return s_fail(cc, "map expects {field: FIELD, values: {FROM: TO, ...}}, got %s",
                          s_jtype(arg));
        }
        rc = s_only(cc, arg, opname, map_k);
        if (rc || !(a = s_member(cc, arg, "field", opname)) ||
            !(b = s_member(cc, arg, "values", opname))) {
            return SL_EINVAL;
        }
        rc = s_path_at(cc, "field", a, &r->from, 0);
        const json_t *to = json_object_get(arg, "to");
        if (!rc) {
            rc = s_path_at(cc, "to", to ? to : a, &r->to, 0);
        }
        if (rc) {
            break;
        }
        o2 = s_push(cc, "values");
        if (!json_is_object(b)) {
            return s_fail(cc, "map values: expected a map of FROM: TO, got %s", s_jtype(b));
        }
        r->ents = calloc(json_object_size(b) + 1, sizeof *r->ents);
        if (!r->ents) {
            return SL_ENOMEM;
        }
        json_object_foreach((json_t *)b, k, v)
        {
            size_t o3 = s_push(cc, k);
            s_entry_t *e = &r->ents[r->n_ents];
            e->key = strdup(k);
            if (!e->key) {
                return SL_ENOMEM;
            }
            e->klen = (uint32_t)strlen(k);
            r->n_ents++;
            rc = s_const(cc, v, &e->val);
            if (rc) {
                return rc;
            }
            s_pop(cc, o3);
        }
        qsort(r->ents, (size_t)r->n_ents, sizeof *r->ents, s_entry_cmp);
        s_pop(cc, o2);
        const json_t *def = json_object_get(arg, "default");
        if (def) {
            o2 = s_push(cc, "default");
            rc = s_const(cc, def, &r->def);
            r->has_def = 1;
            if (!rc) {
                s_pop(cc, o2);
            }
        }
        break;
    }
    case R_SPLIT:
        if (!json_is_object(arg)) {
            return s_fail(cc,
                          "split expects {field: FIELD, separators: CHARS, into: [FIELD, ...]}, "
                          "got %s",
                          s_jtype(arg));
        }
        rc = s_only(cc, arg, opname, split_k);
        if (rc || !(a = s_member(cc, arg, "field", opname)) ||
            !(seps = s_member(cc, arg, "separators", opname)) ||
            !(b = s_member(cc, arg, "into", opname))) {
            return SL_EINVAL;
        }
        rc = s_path_at(cc, "field", a, &r->from, 0);
        if (rc) {
            break;
        }
        o2 = s_push(cc, "separators");
        if (!json_is_string(seps) || json_string_length(seps) == 0 ||
            strlen(json_string_value(seps)) != json_string_length(seps)) {
            return s_fail(cc, "separators: expected a non-empty string of characters");
        }
        r->seps = strdup(json_string_value(seps));
        if (!r->seps) {
            return SL_ENOMEM;
        }
        s_pop(cc, o2);
        o2 = s_push(cc, "into");
        if (!json_is_array(b) || json_array_size(b) == 0) {
            return s_fail(cc, "into: expected a non-empty list of fields (null skips a part)");
        }
        r->paths = calloc(json_array_size(b), sizeof *r->paths);
        if (!r->paths) {
            return SL_ENOMEM;
        }
        for (size_t i = 0; i < json_array_size(b); i++) {
            size_t o3 = s_push_i(cc, (int)i);
            const json_t *e = json_array_get(b, i);
            r->n_paths++;
            if (json_is_null(e)) {
                r->paths[i].root = -1;
            } else if ((rc = s_path(cc, e, &r->paths[i], 0))) {
                return rc;
            }
            s_pop(cc, o3);
        }
        s_pop(cc, o2);
        break;
    case R_FILTER:
        if (!json_is_object(arg) || json_object_size(arg) != 1) {
            return s_fail(cc, "filter expects {keep: CONDITION} or {drop: CONDITION}");
        }
        rc = s_only(cc, arg, opname, filter_k);
        if (rc) {
            return rc;
        }
        r->keep = json_object_get(arg, "keep") != NULL;
        o2 = s_push(cc, r->keep ? "keep" : "drop");
        r->cond = calloc(1, sizeof *r->cond);
        if (!r->cond) {
            return SL_ENOMEM;
        }
        rc = s_cond_compile(cc, json_object_get(arg, r->keep ? "keep" : "drop"), r->cond, 0);
        if (!rc) {
            s_pop(cc, o2);
        }
        break;
    case R_ROUTE:
        if (json_is_string(arg)) {
            rc = s_output(cc, arg, &r->output);
            break;
        }
        if (!json_is_object(arg)) {
            return s_fail(cc, "route expects {to: OUTPUT} (with the rule's if) or OUTPUT");
        }
        rc = s_only(cc, arg, opname, route_k);
        if (rc || !(a = s_member(cc, arg, "to", opname))) {
            return SL_EINVAL;
        }
        o2 = s_push(cc, "to");
        rc = s_output(cc, a, &r->output);
        if (!rc) {
            s_pop(cc, o2);
        }
        break;
    default:
        rc = SL_EINVAL;
    }
    if (!rc) {
        s_pop(cc, old);
    }
    return rc;
}

static void s_const_free(s_const_t *c)
{
    free(c->own);
    c->own = NULL;
}

static void s_rule_free(s_rule_t *r)
{
    if (r->when) {
        s_cond_free(r->when);
        free(r->when);
    }
    if (r->cond) {
        s_cond_free(r->cond);
        free(r->cond);
    }
    s_path_free(&r->from);
    s_path_free(&r->to);
    for (int i = 0; i < r->n_paths; i++) {
        s_path_free(&r->paths[i]);
    }
    free(r->paths);
    s_const_free(&r->value);
    for (int i = 0; i < r->n_parts; i++) {
        if (r->parts[i].tpl_path) {
            s_path_free(r->parts[i].tpl_path);
            free(r->parts[i].tpl_path);
        }
        free(r->parts[i].lit);
    }
    free(r->parts);
    for (int i = 0; i < r->n_ents; i++) {
        free(r->ents[i].key);
        s_const_free(&r->ents[i].val);
    }
    free(r->ents);
    s_const_free(&r->def);
    free(r->seps);
}

static void s_prog_free(s_prog_t *p)
{
    for (int i = 0; i < p->n; i++) {
        s_rule_free(&p->rules[i]);
    }
    free(p->rules);
    p->rules = NULL;
    p->n = 0;
}

static int s_prog_compile(s_cc_t *cc, const json_t *j, s_prog_t *p)
{
    if (!json_is_array(j)) {
        return s_fail(cc, "expected a list of rules, got %s", s_jtype(j));
    }
    size_t n = json_array_size(j);
    if (n > S_MAX_RULES) {
        return s_fail(cc, "more than %d rules", S_MAX_RULES);
    }
    p->rules = calloc(n ? n : 1, sizeof *p->rules);
    if (!p->rules) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t old = s_push_i(cc, (int)i);
        cc->rule = (int)i + 1;
        p->n++;
        int rc = s_rule_compile(cc, json_array_get(j, i), &p->rules[i]);
        if (rc) {
            return rc;
        }
        s_pop(cc, old);
    }
    cc->rule = 0;
    return 0;
}

static json_t *s_parse(s_cc_t *cc, const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        s_fail(cc, "not valid JSON: %s", je.text);
    }
    return j;
}

static int s_tenants_compile(s_cc_t *cc, const json_t *j, sl_transform_t *t)
{
    if (!json_is_object(j)) {
        return s_fail(cc, "expected a map of tenant: [rules], got %s", s_jtype(j));
    }
    t->tenants = calloc(json_object_size(j) + 1, sizeof *t->tenants);
    if (!t->tenants) {
        return SL_ENOMEM;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        s_tenant_t *tn = &t->tenants[t->n_tenants];
        tn->name = strdup(k);
        if (!tn->name) {
            return SL_ENOMEM;
        }
        tn->len = strlen(k);
        t->n_tenants++;
        size_t old = s_push(cc, k);
        int rc = s_prog_compile(cc, v, &tn->prog);
        if (rc) {
            if (!cc->failed) {
                return rc;
            }
            /* say which tenant in the message too */
            char msg[sizeof cc->err->msg + 80];
            snprintf(msg, sizeof msg, "tenant '%.60s', %s", k, cc->err->msg);
            msg[sizeof cc->err->msg - 1] = '\0';
            memcpy(cc->err->msg, msg, sizeof cc->err->msg);
            return rc;
        }
        s_pop(cc, old);
    }
    return 0;
}

void sl_transform_destroy(sl_transform_t **tp)
{
    if (!tp || !*tp) {
        return;
    }
    sl_transform_t *t = *tp;
    s_prog_free(&t->shared);
    for (int i = 0; i < t->n_tenants; i++) {
        free(t->tenants[i].name);
        s_prog_free(&t->tenants[i].prog);
    }
    free(t->tenants);
    free(t->nodes);
    while (t->blocks) {
        s_block_t *n = t->blocks->next;
        free(t->blocks);
        t->blocks = n;
    }
    sl_buf_free(&t->out);
    sl_buf_free(&t->tmp);
    sl_buf_free(&t->cstr);
    free(t);
    *tp = NULL;
}

static const char *const s_default_outputs[] = {"out", NULL};

int sl_transform_new(sl_transform_t **out, const char *rules, const char *tenants,
                     const char *const *outputs, sl_transform_err_t *err)
{
    sl_transform_err_t spare;
    err = err ? err : &spare;
    memset(err, 0, sizeof *err);
    *out = NULL;
    s_cc_t cc = {.err = err, .outputs = outputs ? outputs : s_default_outputs};
    sl_transform_t *t = calloc(1, sizeof *t);
    if (!t) {
        return SL_ENOMEM;
    }
    int rc = 0;
    err->option = "rules";
    json_t *j = s_parse(&cc, rules ? rules : "[]");
    rc = j ? s_prog_compile(&cc, j, &t->shared) : SL_EINVAL;
    json_decref(j);
    if (!rc && tenants) {
        err->option = "tenants";
        j = s_parse(&cc, tenants);
        rc = j ? s_tenants_compile(&cc, j, t) : SL_EINVAL;
        json_decref(j);
    }
    if (rc) {
        if (rc == SL_ENOMEM && !cc.failed) {
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        sl_transform_destroy(&t);
        return rc;
    }
    *out = t;
    return 0;
}

int sl_transform_check(const char *option, const char *json, const char *const *outputs,
                       sl_transform_err_t *err)
{
    sl_transform_t *t = NULL;
    int is_tenants = option && strcmp(option, "tenants") == 0;
    int rc = sl_transform_new(&t, is_tenants ? NULL : json, is_tenants ? json : NULL, outputs, err);
    sl_transform_destroy(&t);
    return rc;
}
