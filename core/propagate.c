/*  Propagation along lineage: policy, affected pairs, recomputation
    (sluice/propagate.h; the rules in docs/propagation.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/follower.h"
#include "sluice/mpjson.h"
#include "sluice/nodeset.h"
#include "sluice/propagate.h"

/* ---------------------------------------------------------------- policy */

struct sl_prop_policy {
    char tenant[128]; /* "*" for the default */
    int tags;         /* 0 none, 1 all, 2 the patterns */
    char **tag_pats;
    size_t n_tag_pats;
    int owners;
    int description;
    int incidents;
    int max_depth; /* 0 = unlimited */
    char **edge_types;
    size_t n_edge_types; /* 0 = every type */
};

struct sl_prop_policies {
    sl_prop_policy_t *p; /* p[0] is "*" */
    size_t n;
    uint64_t hash;
};

static void s_policy_free(sl_prop_policy_t *p)
{
    for (size_t i = 0; i < p->n_tag_pats; i++) {
        free(p->tag_pats[i]);
    }
    for (size_t i = 0; i < p->n_edge_types; i++) {
        free(p->edge_types[i]);
    }
    free(p->tag_pats);
    free(p->edge_types);
}

void sl_prop_policies_free(sl_prop_policies_t **pp)
{
    if (!pp || !*pp) {
        return;
    }
    for (size_t i = 0; i < (*pp)->n; i++) {
        s_policy_free(&(*pp)->p[i]);
    }
    free((*pp)->p);
    free(*pp);
    *pp = NULL;
}

/*  A list of non-empty strings into *out (replacing what was there). */
static int s_strs(json_t *arr, char ***out, size_t *n, const char *what, char *err, size_t errlen,
                  char *where, size_t wherelen, const char *ptr)
{
    size_t i;
    json_t *e;
    char **v = calloc(json_array_size(arr) + 1, sizeof *v);
    if (!v) {
        return SL_ENOMEM;
    }
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0) {
            snprintf(err, errlen, "%s: expected a non-empty string", what);
            snprintf(where, wherelen, "%s/%zu", ptr, i);
            for (size_t j = 0; j < i; j++) {
                free(v[j]);
            }
            free(v);
            return SL_EINVAL;
        }
        v[i] = strdup(json_string_value(e));
    }
    for (size_t j = 0; j < *n; j++) {
        free((*out)[j]);
    }
    free(*out);
    *out = v;
    *n = json_array_size(arr);
    return SL_OK;
}

static int s_policy_fill(sl_prop_policy_t *p, const char *key, json_t *o, char *err, size_t errlen,
                         char *where, size_t wherelen)
{
    const char *f;
    json_t *v;
    char ptr[160];
    if (!json_is_object(o)) {
        snprintf(err, errlen, "policy of '%s': expected a map", key);
        snprintf(where, wherelen, "/%s", key);
        return SL_EINVAL;
    }
    json_object_foreach(o, f, v)
    {
        snprintf(ptr, sizeof ptr, "/%s/%s", key, f);
        if (strcmp(f, "tags") == 0) {
            const char *t = json_string_value(v);
            if (json_is_boolean(v) || (t && (!strcmp(t, "all") || !strcmp(t, "none")))) {
                p->tags = json_is_true(v) || (t && !strcmp(t, "all"));
            } else if (json_is_array(v)) {
                int rc = s_strs(v, &p->tag_pats, &p->n_tag_pats, "tags", err, errlen, where,
                                wherelen, ptr);
                if (rc != SL_OK) {
                    return rc;
                }
                p->tags = 2;
            } else {
                snprintf(err, errlen,
                         "tags: expected true, false, \"all\", \"none\" or a list of tag names "
                         "(a trailing '*' makes a prefix)");
                snprintf(where, wherelen, "%s", ptr);
                return SL_EINVAL;
            }
        } else if (!strcmp(f, "owners") || !strcmp(f, "description") || !strcmp(f, "incidents")) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "%s: expected true or false", f);
                snprintf(where, wherelen, "%s", ptr);
                return SL_EINVAL;
            }
            *(f[0] == 'o'   ? &p->owners
              : f[0] == 'd' ? &p->description
                            : &p->incidents) = json_is_true(v);
        } else if (strcmp(f, "max_depth") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 1000000) {
                snprintf(err, errlen, "max_depth: expected an integer >= 0 (0 = unlimited)");
                snprintf(where, wherelen, "%s", ptr);
                return SL_EINVAL;
            }
            p->max_depth = (int)json_integer_value(v);
        } else if (strcmp(f, "edge_types") == 0) {
            int rc = json_is_array(v) ? s_strs(v, &p->edge_types, &p->n_edge_types, "edge_types",
                                               err, errlen, where, wherelen, ptr)
                                      : SL_EINVAL;
            if (rc == SL_EINVAL && !json_is_array(v)) {
                snprintf(err, errlen, "edge_types: expected a list of edge types");
                snprintf(where, wherelen, "%s", ptr);
            }
            if (rc != SL_OK) {
                return rc;
            }
        } else {
            snprintf(err, errlen,
                     "unknown policy key '%s' (expected tags, owners, description, incidents, "
                     "max_depth, edge_types)",
                     f);
            snprintf(where, wherelen, "%s", ptr);
            return SL_EINVAL;
        }
    }
    return SL_OK;
}

static int s_policy_copy(sl_prop_policy_t *dst, const sl_prop_policy_t *src, const char *tenant)
{
    *dst = *src;
    snprintf(dst->tenant, sizeof dst->tenant, "%s", tenant);
    dst->tag_pats = calloc(src->n_tag_pats + 1, sizeof(char *));
    dst->edge_types = calloc(src->n_edge_types + 1, sizeof(char *));
    if (!dst->tag_pats || !dst->edge_types) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < src->n_tag_pats; i++) {
        dst->tag_pats[i] = strdup(src->tag_pats[i]);
    }
    for (size_t i = 0; i < src->n_edge_types; i++) {
        dst->edge_types[i] = strdup(src->edge_types[i]);
    }
    return SL_OK;
}

int sl_prop_policies_parse(const char *text, sl_prop_policies_t **out, char *err, size_t errlen,
                           char *where, size_t wherelen)
{
    char wbuf[8];
    json_error_t je;
    json_t *root = NULL, *v;
    const char *key;
    int rc = SL_OK;
    if (!where) {
        where = wbuf;
        wherelen = sizeof wbuf;
    }
    where[0] = 0;
    *out = NULL;
    sl_prop_policies_t *ps = calloc(1, sizeof *ps);
    if (!ps) {
        return SL_ENOMEM;
    }
    ps->hash = 0xcbf29ce484222325ull;
    for (const char *c = text ? text : ""; *c; c++) {
        ps->hash = (ps->hash ^ (uint8_t)*c) * 0x100000001b3ull;
    }
    if (text && text[0]) {
        if (!(root = json_loads(text, JSON_REJECT_DUPLICATES, &je)) || !json_is_object(root)) {
            snprintf(err, errlen, "policy: expected a map of \"*\" and tenant names to policies");
            rc = SL_EINVAL;
            goto out;
        }
    }
    size_t n = 1 + (root ? json_object_size(root) : 0);
    if (!(ps->p = calloc(n, sizeof *ps->p))) {
        rc = SL_ENOMEM;
        goto out;
    }
    sl_prop_policy_t *def = &ps->p[0];
    ps->n = 1;
    snprintf(def->tenant, sizeof def->tenant, "*");
    def->tags = 1;
    def->incidents = 1;
    def->tag_pats = calloc(1, sizeof(char *));
    def->edge_types = calloc(1, sizeof(char *));
    if (!def->tag_pats || !def->edge_types) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (root && (v = json_object_get(root, "*")) &&
        (rc = s_policy_fill(def, "*", v, err, errlen, where, wherelen)) != SL_OK) {
        goto out;
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "*") == 0) {
            continue;
        }
        if (!sl_name_ok(key, 100)) {
            snprintf(err, errlen, "policy: '%s' is not a tenant name", key);
            snprintf(where, wherelen, "/%s", key);
            rc = SL_EINVAL;
            goto out;
        }
        sl_prop_policy_t *t = &ps->p[ps->n];
        if ((rc = s_policy_copy(t, def, key)) != SL_OK) {
            goto out;
        }
        ps->n++;
        if ((rc = s_policy_fill(t, key, v, err, errlen, where, wherelen)) != SL_OK) {
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc != SL_OK) {
        sl_prop_policies_free(&ps);
    }
    *out = ps;
    return rc;
}

const sl_prop_policy_t *sl_prop_policy_for(const sl_prop_policies_t *ps, const char *tenant)
{
    for (size_t i = 1; i < ps->n; i++) {
        if (strcmp(ps->p[i].tenant, tenant) == 0) {
            return &ps->p[i];
        }
    }
    return &ps->p[0];
}

uint64_t sl_prop_policies_hash(const sl_prop_policies_t *ps)
{
    return ps->hash;
}

static int s_pat_match(char *const *pats, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(pats[i]);
        if (pl && pats[i][pl - 1] == '*' ? len >= pl - 1 && memcmp(pats[i], s, pl - 1) == 0
                                         : pl == len && memcmp(pats[i], s, len) == 0) {
            return 1;
        }
    }
    return 0;
}

int sl_prop_policy_allows(const sl_prop_policy_t *p, const char *value)
{
    if (strncmp(value, "tag:", 4) == 0) {
        return p->tags == 1 || (p->tags == 2 && s_pat_match(p->tag_pats, p->n_tag_pats, value + 4,
                                                            strlen(value + 4)));
    }
    if (strncmp(value, "owner:", 6) == 0) {
        return p->owners;
    }
    if (strcmp(value, "description") == 0) {
        return p->description;
    }
    if (strncmp(value, "incident:", 9) == 0) {
        return p->incidents;
    }
    return 0;
}

static int s_edge_type_ok(const sl_prop_policy_t *p, const char *type, size_t tlen)
{
    return p->n_edge_types == 0 || s_pat_match(p->edge_types, p->n_edge_types, type, tlen);
}

/* ------------------------------------------------------------------ work */

/*  Pairs as "value\0source" names of a nodeset: each once, in order. */
struct sl_prop_work {
    sl_nodeset_t *set;
    sl_buf_t tmp;
};

sl_prop_work_t *sl_prop_work_new(void)
{
    sl_prop_work_t *w = calloc(1, sizeof *w);
    if (w && !(w->set = sl_nodeset_new())) {
        free(w);
        w = NULL;
    }
    return w;
}

void sl_prop_work_free(sl_prop_work_t **w)
{
    if (!w || !*w) {
        return;
    }
    sl_nodeset_free(&(*w)->set);
    sl_buf_free(&(*w)->tmp);
    free(*w);
    *w = NULL;
}

void sl_prop_work_clear(sl_prop_work_t *w)
{
    sl_nodeset_clear(w->set);
}

int sl_prop_work_add(sl_prop_work_t *w, const char *value, const char *source)
{
    sl_buf_reset(&w->tmp);
    if (sl_buf_append(&w->tmp, value, strlen(value) + 1) != SL_OK ||
        sl_buf_append(&w->tmp, source, strlen(source)) != SL_OK) {
        return SL_ENOMEM;
    }
    return sl_nodeset_add(w->set, (const char *)w->tmp.data, w->tmp.len, NULL) < 0 ? SL_ENOMEM
                                                                                   : SL_OK;
}

size_t sl_prop_work_count(const sl_prop_work_t *w)
{
    return sl_nodeset_count(w->set);
}

void sl_prop_work_get(const sl_prop_work_t *w, size_t i, const char **value, const char **source)
{
    const char *n = sl_nodeset_name(w->set, (int64_t)i, NULL);
    *value = n;
    *source = n ? n + strlen(n) + 1 : NULL;
}

int sl_prop_owner(const char *source, int workers)
{
    if (workers <= 1) {
        return 0;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = source; *c; c++) {
        h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    }
    return (int)(h % (uint64_t)workers);
}

/* ------------------------------------------------------- affected pairs */

typedef struct {
    sl_prop_work_t *w;
    const sl_prop_policy_t *p;
    const char *source; /* origins: the asset */
    int worker, workers;
    sl_store_view_t *v;
} s_aff_t;

static int s_aff_add(s_aff_t *a, const char *value, const char *source)
{
    if (sl_prop_owner(source, a->workers) != a->worker) {
        return SL_OK;
    }
    return sl_prop_work_add(a->w, value, source);
}

/*  An origin of the asset: only what the policy propagates. */
static int s_aff_origin(void *arg, const char *value)
{
    s_aff_t *a = arg;
    return sl_prop_policy_allows(a->p, value) ? s_aff_add(a, value, a->source) : SL_OK;
}

/*  A stored copy: always (a copy the policy no longer allows must go). */
static int s_aff_copy(void *arg, const sl_store_copy_t *c)
{
    return s_aff_add(arg, c->value, c->source);
}

/*  Everything that flows out of qn: its origins and the copies it holds. */
static int s_aff_out_of(s_aff_t *a, const char *qn)
{
    a->source = qn;
    int rc = sl_store_view_origins(a->v, qn, s_aff_origin, a, NULL);
    return rc ? rc : sl_store_view_copies_at(a->v, qn, s_aff_copy, a);
}

static int s_aff_up(void *arg, const char *other, size_t olen, const char *type, size_t tlen,
                    int propagate)
{
    s_aff_t *a = arg;
    char *qn = strndup(other, olen);
    (void)type;
    (void)tlen;
    (void)propagate;
    if (!qn) {
        return SL_ENOMEM;
    }
    int rc = s_aff_out_of(a, qn);
    free(qn);
    return rc;
}

static int s_aff_incident_asset(void *arg, const char *qn)
{
    s_aff_t *a = arg;
    return s_aff_add(a, a->source, qn); /* source holds the value here */
}

/*  Owner pairs from an owners list (array) in the record. */
static int s_aff_owners(s_aff_t *a, json_t *owners, const char *qn)
{
    size_t i;
    json_t *o;
    int rc = SL_OK;
    sl_buf_t val = {0};
    json_array_foreach(owners, i, o)
    {
        if (rc == SL_OK && json_is_string(o)) {
            sl_buf_reset(&val);
            if ((rc = sl_buf_append(&val, "owner:", 6)) == SL_OK &&
                (rc = sl_buf_append(&val, json_string_value(o), json_string_length(o) + 1)) ==
                    SL_OK &&
                sl_prop_policy_allows(a->p, (const char *)val.data)) {
                rc = s_aff_add(a, (const char *)val.data, qn);
            }
        }
    }
    sl_buf_free(&val);
    return rc;
}

int sl_prop_affected(sl_store_view_t *v, const sl_prop_policy_t *p, const sl_event_t *change,
                     int worker, int workers, sl_prop_work_t *w)
{
    sl_slice_t ent, key;
    char keybuf[1024];
    if (sl_change_str(change, "entity", &ent) != SL_OK) {
        return SL_EPROTO;
    }
    if (sl_slice_eq(ent, "propagation")) {
        return SL_OK;
    }
    if (sl_change_str(change, "key", &key) != SL_OK) {
        return SL_EPROTO;
    }
    if (key.len == 0 || key.len >= sizeof keybuf || memchr(key.ptr, 0, key.len)) {
        return SL_EPROTO;
    }
    memcpy(keybuf, key.ptr, key.len);
    keybuf[key.len] = 0;
    json_t *rec = sl_msgpack_to_jansson((const uint8_t *)change->body.ptr, change->body.len);
    json_t *ch = json_object_get(rec, "changes");
    s_aff_t a = {w, p, keybuf, worker, workers, v};
    int rc = SL_OK;
    if (!rec) {
        return SL_ENOMEM;
    }
    if (sl_slice_eq(ent, "tag")) {
        json_t *t = json_object_get(json_object_get(ch, "tag"), "after");
        if (!json_is_string(t)) {
            t = json_object_get(json_object_get(ch, "tag"), "before");
        }
        if (json_is_string(t)) {
            char val[512];
            snprintf(val, sizeof val, "tag:%s", json_string_value(t));
            /*  Always: a tag unset or no longer propagating must retract. */
            rc = s_aff_add(&a, val, keybuf);
        }
    } else if (sl_slice_eq(ent, "owner") || sl_slice_eq(ent, "asset")) {
        json_t *o = json_object_get(ch, "owners");
        if ((rc = s_aff_owners(&a, json_object_get(o, "before"), keybuf)) == SL_OK) {
            rc = s_aff_owners(&a, json_object_get(o, "after"), keybuf);
        }
        if (rc == SL_OK && json_object_get(ch, "description") && p->description) {
            rc = s_aff_add(&a, "description", keybuf);
        }
    } else if (sl_slice_eq(ent, "edge")) {
        /*  An edge changes what flows out of its `from` (named in the
            record's changes: its key "from->to" is ambiguous). */
        json_t *f = json_object_get(ch, "from");
        json_t *from = json_is_string(json_object_get(f, "after")) ? json_object_get(f, "after")
                                                                   : json_object_get(f, "before");
        if (!json_is_string(from)) {
            json_decref(rec);
            return SL_EPROTO;
        }
        rc = s_aff_out_of(&a, json_string_value(from));
    } else if (sl_slice_eq(ent, "block")) {
        /*  A block at an asset changes what flows into it: out of its
            upstream assets, and (the copies it holds) through it. */
        rc = s_aff_out_of(&a, keybuf);
        if (rc == SL_OK) {
            rc = sl_store_view_edges(v, keybuf, strlen(keybuf), SL_DIR_UP, s_aff_up, &a);
        }
    } else if (sl_slice_eq(ent, "incident")) {
        char val[1100];
        int open;
        snprintf(val, sizeof val, "incident:%s", keybuf);
        {
            /*  Always (an incident the policy does not propagate may still
                have copies from before a policy change). */
            a.source = val;
            rc = sl_store_view_incident(v, keybuf, s_aff_incident_asset, &a, &open);
            if (rc == SL_ENOTFOUND) {
                rc = SL_OK;
            }
            size_t i;
            json_t *q;
            json_array_foreach(json_object_get(json_object_get(ch, "qualified_names"), "before"), i,
                               q)
            {
                if (rc == SL_OK && json_is_string(q)) {
                    rc = s_aff_add(&a, val, json_string_value(q));
                }
            }
        }
    }
    json_decref(rec);
    return rc;
}

/* ----------------------------------------------------------- recompute */

/*  A recomputation of one pair: the closure (breadth first) and the
    difference with the stored copies, computed at start; the operations
    are handed out in slices (sl_prop_job_emit). */
struct sl_prop_job {
    const sl_prop_policy_t *p;
    sl_store_view_t *v;
    char *value, *source;
    sl_nodeset_t *seen; /* index 0: the source */
    uint32_t *depth;
    int32_t *via;   /* index of the node the shortest path arrives from */
    uint8_t *state; /* per node: 0 new (set), 1 stored and equal, 2 stored, differs (set) */
    size_t cap;
    sl_nodeset_t *gone; /* stored copies no longer reached: unset */
    const char *tag;    /* the tag name for blocks, or NULL */
    size_t taglen;
    uint32_t cur_depth;
    int32_t cur;
    int valid;
    size_t next_unset, next_set; /* emission progress */
    sl_prop_stats_t *st;
};

static int s_grow(sl_prop_job_t *w, size_t n)
{
    if (n < w->cap) {
        return SL_OK;
    }
    size_t cap = w->cap ? w->cap * 2 : 256;
    while (cap <= n) {
        cap *= 2;
    }
    uint32_t *d = realloc(w->depth, cap * sizeof *d);
    if (d) {
        w->depth = d;
    }
    int32_t *v = realloc(w->via, cap * sizeof *v);
    if (v) {
        w->via = v;
    }
    uint8_t *m = realloc(w->state, cap);
    if (m) {
        w->state = m;
    }
    if (!d || !v || !m) {
        return SL_ENOMEM;
    }
    w->cap = cap;
    return SL_OK;
}

static int s_walk_edge(void *arg, const char *other, size_t olen, const char *type, size_t tlen,
                       int propagate)
{
    sl_prop_job_t *w = arg;
    int added;
    if (!propagate || !s_edge_type_ok(w->p, type, tlen)) {
        return SL_OK;
    }
    int64_t known = sl_nodeset_find(w->seen, other, olen);
    if (known >= 0) {
        /*  Reached already (or the source): nothing loops. Among the
            parents of a shortest path, via is the one with the smallest
            name, so it does not depend on the order edges are read in. */
        if (known > 0 && w->depth[known] == w->cur_depth + 1 &&
            strcmp(sl_nodeset_name(w->seen, w->cur, NULL),
                   sl_nodeset_name(w->seen, w->via[known], NULL)) < 0) {
            w->via[known] = w->cur;
        }
        return SL_OK;
    }
    if (w->tag && sl_store_view_blocked(w->v, other, olen, w->tag, w->taglen)) {
        return SL_OK;
    }
    int64_t n = sl_nodeset_add(w->seen, other, olen, &added);
    if (n < 0 || s_grow(w, (size_t)n) != SL_OK) {
        return SL_ENOMEM;
    }
    w->depth[n] = w->cur_depth + 1;
    w->via[n] = w->cur;
    w->state[n] = 0;
    return SL_OK;
}

static int s_has(void *arg, const char *value)
{
    sl_prop_job_t *w = arg;
    if (strcmp(value, w->value) == 0) {
        w->valid = 1;
    }
    return SL_OK;
}

/*  A stored copy against the closure: gone if unreached, to update if its
    depth or via differ, else nothing. */
static int s_cmp_copy(void *arg, const sl_store_copy_t *c)
{
    sl_prop_job_t *w = arg;
    int64_t n = sl_nodeset_find(w->seen, c->target, strlen(c->target));
    if (n <= 0) {
        return sl_nodeset_add(w->gone, c->target, strlen(c->target), NULL) < 0 ? SL_ENOMEM : SL_OK;
    }
    const char *via = sl_nodeset_name(w->seen, w->via[n], NULL);
    w->state[n] = w->depth[n] != c->depth || strcmp(via, c->via) != 0 ? 2 : 1;
    return SL_OK;
}

void sl_prop_job_free(sl_prop_job_t **jp)
{
    if (!jp || !*jp) {
        return;
    }
    sl_prop_job_t *w = *jp;
    sl_nodeset_free(&w->seen);
    sl_nodeset_free(&w->gone);
    free(w->depth);
    free(w->via);
    free(w->state);
    free(w->value);
    free(w->source);
    free(w);
    *jp = NULL;
}

size_t sl_prop_job_bytes(const sl_prop_job_t *w)
{
    return sl_nodeset_bytes(w->seen) + sl_nodeset_bytes(w->gone) + w->cap * 9;
}

int sl_prop_job_start(sl_store_view_t *v, const sl_prop_policy_t *p, const char *value,
                      const char *source, sl_prop_stats_t *stats, sl_prop_job_t **out)
{
    sl_prop_job_t *w = calloc(1, sizeof *w);
    int rc = SL_OK;
    *out = NULL;
    if (!w || !(w->seen = sl_nodeset_new()) || !(w->gone = sl_nodeset_new()) ||
        !(w->value = strdup(value)) || !(w->source = strdup(source))) {
        sl_prop_job_free(&w);
        return SL_ENOMEM;
    }
    w->p = p;
    w->v = v;
    w->st = stats;
    if (stats) {
        stats->pairs++;
    }
    /*  Is the source an origin of the value now? */
    if (sl_prop_policy_allows(p, value)) {
        rc = sl_store_view_origins(v, source, s_has, w, NULL);
    }
    if (rc == SL_OK &&
        (sl_nodeset_add(w->seen, source, strlen(source), NULL) < 0 || s_grow(w, 0) != SL_OK)) {
        rc = SL_ENOMEM;
    }
    if (rc == SL_OK) {
        w->depth[0] = 0;
        w->via[0] = -1;
        w->state[0] = 1;
    }
    if (rc == SL_OK && w->valid) {
        if (strncmp(value, "tag:", 4) == 0 && sl_store_view_has_blocks(v)) {
            w->tag = w->value + 4;
            w->taglen = strlen(w->tag);
        }
        /*  Breadth first: the set is the queue, so depths are shortest
            path lengths (via: see s_walk_edge). */
        for (size_t i = 0; rc == SL_OK && i < sl_nodeset_count(w->seen); i++) {
            if (p->max_depth > 0 && w->depth[i] >= (uint32_t)p->max_depth) {
                continue;
            }
            size_t len;
            const char *qn = sl_nodeset_name(w->seen, (int64_t)i, &len);
            char *q = strndup(qn, len); /* the set may move while we add */
            if (!q) {
                rc = SL_ENOMEM;
                break;
            }
            w->cur = (int32_t)i;
            w->cur_depth = w->depth[i];
            rc = sl_store_view_edges(v, q, len, SL_DIR_DOWN, s_walk_edge, w);
            free(q);
        }
    }
    if (rc == SL_OK) {
        rc = sl_store_view_copies_of(v, value, source, s_cmp_copy, w);
    }
    if (stats) {
        stats->visited += sl_nodeset_count(w->seen) - 1;
        if (sl_prop_job_bytes(w) > stats->peak_bytes) {
            stats->peak_bytes = sl_prop_job_bytes(w);
        }
    }
    if (rc != SL_OK) {
        sl_prop_job_free(&w);
        return rc;
    }
    w->next_set = 1;
    *out = w;
    return SL_OK;
}

int sl_prop_job_emit(sl_prop_job_t *w, size_t max_ops, sl_prop_op_fn fn, void *arg, size_t *emitted)
{
    size_t n = 0;
    int rc = SL_OK;
    while (rc == SL_OK && n < max_ops && w->next_unset < sl_nodeset_count(w->gone)) {
        sl_prop_op_t op = {0,        sl_nodeset_name(w->gone, (int64_t)w->next_unset++, NULL),
                           w->value, w->source,
                           NULL,     0};
        rc = fn(arg, &op);
        n++;
        if (w->st) {
            w->st->unsets++;
        }
    }
    while (rc == SL_OK && n < max_ops && w->next_set < sl_nodeset_count(w->seen)) {
        size_t i = w->next_set++;
        if (w->state[i] == 1) {
            continue;
        }
        sl_prop_op_t op = {1,         sl_nodeset_name(w->seen, (int64_t)i, NULL), w->value,
                           w->source, sl_nodeset_name(w->seen, w->via[i], NULL),  w->depth[i]};
        rc = fn(arg, &op);
        n++;
        if (w->st) {
            w->st->sets++;
        }
    }
    if (emitted) {
        *emitted = n;
    }
    if (rc != SL_OK) {
        return rc;
    }
    return w->next_unset >= sl_nodeset_count(w->gone) && w->next_set >= sl_nodeset_count(w->seen);
}

int sl_prop_recompute(sl_store_view_t *v, const sl_prop_policy_t *p, const char *value,
                      const char *source, sl_prop_op_fn fn, void *arg, sl_prop_stats_t *stats)
{
    sl_prop_job_t *job = NULL;
    int rc = sl_prop_job_start(v, p, value, source, stats, &job);
    if (rc == SL_OK) {
        rc = sl_prop_job_emit(job, SIZE_MAX, fn, arg, NULL);
        rc = rc < 0 ? rc : SL_OK;
    }
    sl_prop_job_free(&job);
    return rc;
}

typedef struct {
    sl_prop_work_t *w;
} s_all_t;

static int s_all_pair(void *arg, const char *value, const char *source)
{
    s_all_t *a = arg;
    return sl_prop_work_add(a->w, value, source);
}

int sl_prop_recompute_all(sl_store_view_t *v, const sl_prop_policy_t *p, sl_prop_op_fn fn,
                          void *arg, sl_prop_stats_t *stats)
{
    s_all_t a = {sl_prop_work_new()};
    int rc = a.w ? SL_OK : SL_ENOMEM;
    if (rc == SL_OK) {
        rc = sl_store_view_all_origins(v, s_all_pair, &a);
    }
    if (rc == SL_OK) {
        rc = sl_store_view_pairs(v, s_all_pair, &a);
    }
    for (size_t i = 0; rc == SL_OK && i < sl_prop_work_count(a.w); i++) {
        const char *value, *source;
        sl_prop_work_get(a.w, i, &value, &source);
        rc = sl_prop_recompute(v, p, value, source, fn, arg, stats);
    }
    sl_prop_work_free(&a.w);
    return rc;
}

/* ------------------------------------------------------------- events */

int sl_prop_op_event(const sl_prop_op_t *op, const char *tenant, const char *source_actor,
                     sl_event_t *ev, sl_buf_t *scratch)
{
    int rc;
    sl_buf_reset(scratch);
    rc = sl_mp_container(scratch, 1, op->set ? 5 : 3);
    const char *kv[] = {"target", op->target, "value", op->value,
                        "source", op->source, "via",   op->via};
    for (int i = 0; rc == SL_OK && i < (op->set ? 8 : 6); i++) {
        rc = sl_mp_str(scratch, kv[i], strlen(kv[i]));
    }
    if (rc == SL_OK && op->set && (rc = sl_mp_str(scratch, "depth", 5)) == SL_OK) {
        rc = sl_mp_int(scratch, op->depth);
    }
    if (rc != SL_OK) {
        return rc;
    }
    memset(ev, 0, sizeof *ev);
    ev->version = 1;
    sl_event_id_new(ev->id);
    memcpy(ev->trace, ev->id, 16);
    ev->tenant = (sl_slice_t){tenant, strlen(tenant)};
    ev->kind =
        op->set ? (sl_slice_t){"propagation.set", 15} : (sl_slice_t){"propagation.unset", 17};
    ev->source = (sl_slice_t){source_actor, strlen(source_actor)};
    ev->key = (sl_slice_t){op->target, strlen(op->target)};
    ev->time_us = sl_now_us();
    ev->body = (sl_slice_t){(const char *)scratch->data, scratch->len};
    return SL_OK;
}
