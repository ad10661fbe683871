/*  Per-tenant name mapping rules (external names -> qualified names) and
    what the adapters share: deterministic event ids and the output array.

    The map is parsed once into plain structs and never changes, so the
    adapters can read it from any thread without a lock. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "sluice/adapters.h"
#include "sluice/event.h"

enum { S_CASE_UNSET = -1, S_CASE_PRESERVE = 0, S_CASE_LOWER = 1, S_CASE_UPPER = 2 };

typedef struct {
    char *key; /* warehouse / namespace the rule applies to; NULL for the default */
    char *prefix;
    char *ctype;
    char *sep;
    int fold;  /* S_CASE_* */
    int split; /* -1 unset, 0, 1 */
} s_rule_t;

struct sl_name_map {
    s_rule_t def;
    s_rule_t *wh;
    size_t n_wh;
    s_rule_t *ns;
    size_t n_ns;
    json_t *names;          /* object: external name -> qualified name */
    json_t *lineage;        /* array of eventType strings; NULL = ["COMPLETE"] */
    sl_mc_lookup_fn lookup; /* MCONs through getTable, or NULL */
    void *lookup_arg;
    int lookup_always;
};

void sl_name_map_set_lookup(sl_name_map_t *map, sl_mc_lookup_fn fn, void *arg, int always)
{
    if (map) {
        map->lookup = fn;
        map->lookup_arg = arg;
        map->lookup_always = always;
    }
}

int sl_adapt__fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /*  One line always: a name from outside may carry a newline. */
        for (char *p = err; *p; p++) {
            if (*p == '\n' || *p == '\r') {
                *p = ' ';
            }
        }
    }
    return rc;
}

/* ------------------------------------------------------------ parsing */

static void s_rule_free(s_rule_t *r)
{
    free(r->key);
    free(r->prefix);
    free(r->ctype);
    free(r->sep);
    memset(r, 0, sizeof *r);
}

static int s_str_opt(json_t *o, const char *where, const char *k, char **out, char *err,
                     size_t errlen)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        return SL_OK;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return sl_adapt__fail(err, errlen, SL_EINVAL, "%s.%s: expected a string", where, k);
    }
    if (json_string_length(v) > SL_QNAME_MAX / 2) {
        return sl_adapt__fail(err, errlen, SL_EINVAL, "%s.%s: longer than %d bytes", where, k,
                              SL_QNAME_MAX / 2);
    }
    if (!(*out = strdup(json_string_value(v)))) {
        return SL_ENOMEM;
    }
    return SL_OK;
}

static int s_rule_parse(json_t *o, const char *where, int allow_split, s_rule_t *r, char *err,
                        size_t errlen)
{
    static const char *const keys[] = {"prefix", "connection_type", "case", "separator", "split"};
    const char *k;
    json_t *v;
    char *fold = NULL;
    int rc;
    r->fold = S_CASE_UNSET;
    r->split = -1;
    if (!json_is_object(o)) {
        return sl_adapt__fail(err, errlen, SL_EINVAL, "%s: expected an object", where);
    }
    json_object_foreach(o, k, v)
    {
        size_t i, n = sizeof keys / sizeof *keys - (allow_split ? 0 : 1);
        for (i = 0; i < n && strcmp(keys[i], k) != 0; i++) {
        }
        if (i == n) {
            return sl_adapt__fail(err, errlen, SL_EINVAL, "%s: unknown key '%s'", where, k);
        }
    }
    if ((rc = s_str_opt(o, where, "prefix", &r->prefix, err, errlen)) != SL_OK ||
        (rc = s_str_opt(o, where, "connection_type", &r->ctype, err, errlen)) != SL_OK ||
        (rc = s_str_opt(o, where, "separator", &r->sep, err, errlen)) != SL_OK ||
        (rc = s_str_opt(o, where, "case", &fold, err, errlen)) != SL_OK) {
        return rc;
    }
    if (fold) {
        r->fold = strcmp(fold, "lower") == 0      ? S_CASE_LOWER
                  : strcmp(fold, "upper") == 0    ? S_CASE_UPPER
                  : strcmp(fold, "preserve") == 0 ? S_CASE_PRESERVE
                                                  : S_CASE_UNSET;
        free(fold);
        if (r->fold == S_CASE_UNSET) {
            return sl_adapt__fail(err, errlen, SL_EINVAL,
                                  "%s.case: expected lower, upper or preserve", where);
        }
    }
    v = json_object_get(o, "split");
    if (v && !json_is_null(v)) {
        /*  Topologies are YAML: "true" may arrive as a string. */
        if (json_is_boolean(v)) {
            r->split = json_is_true(v);
        } else if (json_is_string(v) && (strcmp(json_string_value(v), "true") == 0 ||
                                         strcmp(json_string_value(v), "false") == 0)) {
            r->split = strcmp(json_string_value(v), "true") == 0;
        } else {
            return sl_adapt__fail(err, errlen, SL_EINVAL, "%s.split: expected true or false",
                                  where);
        }
    }
    return SL_OK;
}

static int s_rules_parse(json_t *o, const char *where, int allow_split, s_rule_t **out, size_t *n,
                         char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    int rc;
    if (!o || json_is_null(o)) {
        return SL_OK;
    }
    if (!json_is_object(o)) {
        return sl_adapt__fail(err, errlen, SL_EINVAL, "%s: expected an object", where);
    }
    if (json_object_size(o) == 0) {
        return SL_OK;
    }
    if (!(*out = calloc(json_object_size(o), sizeof **out))) {
        return SL_ENOMEM;
    }
    json_object_foreach(o, k, v)
    {
        char w[160];
        snprintf(w, sizeof w, "%s.%.100s", where, k);
        s_rule_t *r = &(*out)[(*n)++];
        if (!(r->key = strdup(k))) {
            return SL_ENOMEM;
        }
        if ((rc = s_rule_parse(v, w, allow_split, r, err, errlen)) != SL_OK) {
            return rc;
        }
    }
    return SL_OK;
}

sl_name_map_t *sl_name_map_new(const char *json, size_t len, char *err, size_t errlen)
{
    static const char *const top[] = {"prefix",     "connection_type", "case",  "separator",
                                      "warehouses", "namespaces",      "names", "lineage_events"};
    sl_name_map_t *m = calloc(1, sizeof *m);
    json_t *root = NULL;
    const char *k;
    json_t *v;
    int rc = SL_ENOMEM;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!m) {
        goto fail;
    }
    m->def.fold = S_CASE_UNSET;
    m->def.split = -1;
    if (!json || len == 0) {
        return m;
    }
    json_error_t jerr;
    if (!(root = json_loadb(json, len, JSON_DECODE_ANY, &jerr))) {
        rc = sl_adapt__fail(err, errlen, SL_EINVAL, "mapping: invalid JSON: %s", jerr.text);
        goto fail;
    }
    if (json_is_null(root)) {
        json_decref(root);
        return m;
    }
    if (!json_is_object(root)) {
        rc = sl_adapt__fail(err, errlen, SL_EINVAL, "mapping: expected an object");
        goto fail;
    }
    json_object_foreach(root, k, v)
    {
        size_t i, n = sizeof top / sizeof *top;
        for (i = 0; i < n && strcmp(top[i], k) != 0; i++) {
        }
        if (i == n) {
            rc = sl_adapt__fail(err, errlen, SL_EINVAL,
                                "mapping: unknown key '%.100s' (expected prefix, connection_type, "
                                "case, separator, warehouses, namespaces, names, lineage_events)",
                                k);
            goto fail;
        }
    }
    json_t *def = json_pack("{}");
    if (!def) {
        goto fail;
    }
    static const char *const rk[] = {"prefix", "connection_type", "case", "separator"};
    for (size_t i = 0; i < 4; i++) {
        if (json_object_get(root, rk[i])) {
            json_object_set(def, rk[i], json_object_get(root, rk[i]));
        }
    }
    rc = s_rule_parse(def, "mapping", 0, &m->def, err, errlen);
    json_decref(def);
    if (rc != SL_OK ||
        (rc = s_rules_parse(json_object_get(root, "warehouses"), "mapping.warehouses", 0, &m->wh,
                            &m->n_wh, err, errlen)) != SL_OK ||
        (rc = s_rules_parse(json_object_get(root, "namespaces"), "mapping.namespaces", 1, &m->ns,
                            &m->n_ns, err, errlen)) != SL_OK) {
        goto fail;
    }
    v = json_object_get(root, "names");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v)) {
            rc = sl_adapt__fail(err, errlen, SL_EINVAL, "mapping.names: expected an object");
            goto fail;
        }
        json_t *q;
        json_object_foreach(v, k, q)
        {
            if (!json_is_string(q) || json_string_length(q) == 0 ||
                json_string_length(q) >= SL_QNAME_MAX ||
                strlen(json_string_value(q)) != json_string_length(q)) {
                rc = sl_adapt__fail(err, errlen, SL_EINVAL,
                                    "mapping.names.%.100s: expected a non-empty string "
                                    "(a qualified name)",
                                    k);
                goto fail;
            }
        }
        m->names = json_incref(v);
    }
    v = json_object_get(root, "lineage_events");
    if (v && !json_is_null(v)) {
        size_t i;
        json_t *e;
        if (!json_is_array(v)) {
            rc = sl_adapt__fail(err, errlen, SL_EINVAL,
                                "mapping.lineage_events: expected a list of eventTypes");
            goto fail;
        }
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e)) {
                rc = sl_adapt__fail(err, errlen, SL_EINVAL,
                                    "mapping.lineage_events[%zu]: expected a string (START, "
                                    "RUNNING, COMPLETE, ABORT, FAIL, OTHER)",
                                    i);
                goto fail;
            }
        }
        m->lineage = json_incref(v);
    }
    json_decref(root);
    return m;
fail:
    if (rc == SL_ENOMEM) {
        sl_adapt__fail(err, errlen, rc, "mapping: out of memory");
    }
    json_decref(root);
    sl_name_map_destroy(&m);
    return NULL;
}

void sl_name_map_destroy(sl_name_map_t **map)
{
    if (!map || !*map) {
        return;
    }
    sl_name_map_t *m = *map;
    s_rule_free(&m->def);
    for (size_t i = 0; i < m->n_wh; i++) {
        s_rule_free(&m->wh[i]);
    }
    for (size_t i = 0; i < m->n_ns; i++) {
        s_rule_free(&m->ns[i]);
    }
    free(m->wh);
    free(m->ns);
    json_decref(m->names);
    json_decref(m->lineage);
    free(m);
    *map = NULL;
}

/* ------------------------------------------------------------ mapping */

static const s_rule_t *s_find(const s_rule_t *r, size_t n, const char *key)
{
    for (size_t i = 0; key && i < n; i++) {
        if (strcmp(r[i].key, key) == 0) {
            return &r[i];
        }
    }
    return NULL;
}

/*  Snowflake and Redshift names are case-insensitive and catalogs show
    them lower-cased (REFERENCE.md); elsewhere case is part of the name. */
static int s_default_fold(const char *ctype)
{
    if (ctype && (strcasecmp(ctype, "snowflake") == 0 || strcasecmp(ctype, "redshift") == 0)) {
        return S_CASE_LOWER;
    }
    return S_CASE_PRESERVE;
}

/*  Append seg[0..n) folded. */
static int s_put(char *out, size_t cap, size_t *off, const char *s, size_t n, int fold)
{
    if (*off + n >= cap) {
        return SL_ERANGE;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (fold == S_CASE_LOWER && c < 0x80) {
            c = (unsigned char)tolower(c);
        } else if (fold == S_CASE_UPPER && c < 0x80) {
            c = (unsigned char)toupper(c);
        }
        out[(*off)++] = (char)c;
    }
    out[*off] = '\0';
    return SL_OK;
}

static int s_override(const sl_name_map_t *map, const char *key, char *out, size_t cap)
{
    json_t *q = map && map->names && key ? json_object_get(map->names, key) : NULL;
    if (!q) {
        return SL_ENOTFOUND;
    }
    if (json_string_length(q) >= cap) {
        return SL_ERANGE;
    }
    memcpy(out, json_string_value(q), json_string_length(q) + 1);
    return SL_OK;
}

/*  Map a Monte Carlo object id (db:schema.table, or a dotted name) by the
    rule of the first of keys[] the map has a rule for, else the
    defaults; ctype (may be NULL) sets the default case when no rule
    gives a connection type. `name` is what messages show. */
static int s_mc_map(const sl_name_map_t *map, const char *name, const char *obj,
                    const char *const *keys, size_t nkeys, const char *ctype_hint, char *out,
                    size_t cap, char *err, size_t errlen)
{
    int rc;
    const s_rule_t *r = NULL;
    for (size_t i = 0; map && !r && i < nkeys; i++) {
        r = keys[i] && keys[i][0] ? s_find(map->wh, map->n_wh, keys[i]) : NULL;
    }
    const s_rule_t *d = map ? &map->def : NULL;
    const char *prefix = r && r->prefix ? r->prefix : d ? d->prefix : NULL;
    const char *ctype = r && r->ctype ? r->ctype : d && d->ctype ? d->ctype : ctype_hint;
    const char *sep = r && r->sep ? r->sep : d && d->sep ? d->sep : "/";
    int fold = r && r->fold != S_CASE_UNSET   ? r->fold
               : r && r->ctype                ? s_default_fold(r->ctype)
               : d && d->fold != S_CASE_UNSET ? d->fold
                                              : s_default_fold(ctype);
    if (!prefix) {
        return sl_adapt__fail(err, errlen, SL_ENOTFOUND,
                              "table '%.200s': no mapping rule gives a prefix (set mapping.prefix, "
                              "mapping.warehouses or mapping.names)",
                              name);
    }
    /*  db:schema.table -> db, schema, table; a name without ':' is split
        on every '.'. */
    size_t off = 0;
    if ((rc = s_put(out, cap, &off, prefix, strlen(prefix), S_CASE_PRESERVE)) != SL_OK) {
        goto range;
    }
    const char *colon = strchr(obj, ':');
    const char *p = obj;
    int seg = 0;
    while (*p || seg == 0) {
        const char *end;
        if (seg == 0 && colon) {
            end = colon;
        } else if (colon && seg >= 2) {
            end = p + strlen(p); /* the table keeps any further dots */
        } else {
            end = strchr(p, '.');
            end = end ? end : p + strlen(p);
        }
        if (end == p) {
            return sl_adapt__fail(err, errlen, SL_ENOTFOUND,
                                  "table '%.200s': empty database, schema or table part", name);
        }
        if ((seg > 0 && (rc = s_put(out, cap, &off, sep, strlen(sep), S_CASE_PRESERVE)) != SL_OK) ||
            (rc = s_put(out, cap, &off, p, (size_t)(end - p), fold)) != SL_OK) {
            goto range;
        }
        seg++;
        if (!*end) {
            break;
        }
        p = end + 1;
        if (!*p) {
            return sl_adapt__fail(err, errlen, SL_ENOTFOUND,
                                  "table '%.200s': empty database, schema or table part", name);
        }
    }
    return SL_OK;
range:
    out[0] = '\0';
    return sl_adapt__fail(err, errlen, SL_ERANGE, "table '%.200s': qualified name too long", name);
}

/*  An MCON through the map's look-up (getTable), then the rules. */
static int s_mc_looked_up(const sl_name_map_t *map, const char *mcon, const char *warehouse,
                          const char *rules_said, char *out, size_t cap, char *err, size_t errlen)
{
    sl_mc_table_t t;
    char why[256] = "";
    int rc = map->lookup(map->lookup_arg, mcon, &t, why, sizeof why);
    if (rc == SL_ENOMEM) {
        return rc;
    }
    if (rc != SL_OK) {
        return sl_adapt__fail(err, errlen, SL_ENOTFOUND, "table '%.200s': %s%sgetTable: %s", mcon,
                              rules_said ? rules_said : "", rules_said ? "; " : "",
                              why[0] ? why : sl_strerror(rc));
    }
    if ((rc = s_override(map, t.full_table_id, out, cap)) != SL_ENOTFOUND) {
        return rc == SL_OK ? rc
                           : sl_adapt__fail(err, errlen, rc, "table '%.200s': name too long", mcon);
    }
    const char *keys[4] = {t.warehouse_uuid, t.warehouse_name, t.connection_type, warehouse};
    rc = s_mc_map(map, mcon, t.full_table_id, keys, 4, t.connection_type, out, cap, err, errlen);
    if (rc == SL_ENOTFOUND) {
        return sl_adapt__fail(err, errlen, rc,
                              "table '%.200s': getTable says '%.200s' on warehouse %s (%s), and no "
                              "mapping rule gives a prefix for it (set mapping.prefix or "
                              "mapping.warehouses)",
                              mcon, t.full_table_id, t.warehouse_uuid[0] ? t.warehouse_uuid : "?",
                              t.connection_type[0] ? t.connection_type : "no connection type");
    }
    return rc;
}

int sl_name_map_montecarlo(const sl_name_map_t *map, const char *name, const char *warehouse,
                           char *out, size_t cap, char *err, size_t errlen)
{
    char mwh[128] = "";
    const char *obj = name;
    int rc, mcon = 0;
    if (!name || !*name) {
        return sl_adapt__fail(err, errlen, SL_ENOTFOUND, "table name: empty");
    }
    if (cap == 0) {
        return SL_ERANGE;
    }
    if ((rc = s_override(map, name, out, cap)) != SL_ENOTFOUND) {
        return rc == SL_OK ? rc
                           : sl_adapt__fail(err, errlen, rc, "table '%.200s': name too long", name);
    }
    if (strncmp(name, "MCON++", 6) == 0) {
        /*  MCON++{account}++{warehouse}++{object_type}++{object_id} */
        const char *f[4];
        const char *p = name + 6;
        int n = 0;
        mcon = 1;
        for (; n < 3; n++) {
            const char *q = strstr(p, "++");
            if (!q) {
                break;
            }
            f[n] = p;
            p = q + 2;
        }
        if (n < 3 || !*p) {
            return sl_adapt__fail(err, errlen, SL_ENOTFOUND,
                                  "table '%.200s': malformed MCON (expected "
                                  "MCON++account++warehouse++type++id)",
                                  name);
        }
        size_t wl = (size_t)(f[2] - f[1] - 2);
        if (wl < sizeof mwh) {
            memcpy(mwh, f[1], wl);
            mwh[wl] = '\0';
        }
        obj = p;
        if ((rc = s_override(map, obj, out, cap)) != SL_ENOTFOUND) {
            return rc == SL_OK
                       ? rc
                       : sl_adapt__fail(err, errlen, rc, "table '%.200s': name too long", name);
        }
        if (map && map->lookup && map->lookup_always) {
            return s_mc_looked_up(map, name, warehouse, NULL, out, cap, err, errlen);
        }
    }
    const char *keys[2] = {warehouse, mwh};
    rc = s_mc_map(map, name, obj, keys, 2, NULL, out, cap, err, errlen);
    if (rc == SL_ENOTFOUND && mcon && map && map->lookup) {
        return s_mc_looked_up(map, name, warehouse, "no mapping rule maps it", out, cap, err,
                              errlen);
    }
    return rc;
}

/*  Schemes whose dataset names are dotted database paths. */
static int s_sql_scheme(const char *ns, char *ctype, size_t cap)
{
    static const char *const schemes[] = {
        "snowflake",  "bigquery", "redshift", "postgres",  "postgresql", "mysql",
        "databricks", "trino",    "presto",   "hive",      "mssql",      "sqlserver",
        "oracle",     "db2",      "teradata", "awsathena", "athena",     "clickhouse",
        "duckdb",     "sqlite",   "spark",    "mariadb",   "synapse",    "azuresql"};
    const char *c = strstr(ns, "://");
    size_t n = c ? (size_t)(c - ns) : strlen(ns);
    ctype[0] = '\0';
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        if (strlen(schemes[i]) == n && strncasecmp(ns, schemes[i], n) == 0) {
            snprintf(ctype, cap, "%s", schemes[i]);
            return 1;
        }
    }
    return 0;
}

static int s_ol_name(const sl_name_map_t *map, const char *ns, const char *name, int job, char *out,
                     size_t cap, char *err, size_t errlen)
{
    char key[SL_QNAME_MAX * 2], ctype[32];
    int rc;
    if (!ns || !*ns || !name || !*name) {
        return sl_adapt__fail(err, errlen, SL_ENOTFOUND, "dataset '%.200s/%.200s': empty part",
                              ns ? ns : "", name ? name : "");
    }
    if (cap == 0) {
        return SL_ERANGE;
    }
    /*  "s3://b/" + "k" and "s3://b" + "k" are one dataset. */
    size_t nl = strlen(ns);
    while (nl > 1 && ns[nl - 1] == '/') {
        nl--;
    }
    const char *join = name[0] == '/' ? "" : "/";
    snprintf(key, sizeof key, "%.*s%s%s", (int)nl, ns, join, name);
    if ((rc = s_override(map, key, out, cap)) != SL_ENOTFOUND) {
        return rc == SL_OK ? rc : sl_adapt__fail(err, errlen, rc, "'%.200s': name too long", key);
    }
    const s_rule_t *r = map ? s_find(map->ns, map->n_ns, ns) : NULL;
    int sql = s_sql_scheme(ns, ctype, sizeof ctype);
    int split = job ? 0 : r && r->split >= 0 ? r->split : sql;
    int fold = job                            ? S_CASE_PRESERVE
               : r && r->fold != S_CASE_UNSET ? r->fold
                                              : s_default_fold(r && r->ctype ? r->ctype : ctype);
    const char *sep = r && r->sep ? r->sep : "/";
    size_t off = 0;
    if (r && r->prefix) {
        rc = s_put(out, cap, &off, r->prefix, strlen(r->prefix), S_CASE_PRESERVE);
    } else {
        rc = s_put(out, cap, &off, ns, nl, S_CASE_PRESERVE);
        if (rc == SL_OK) {
            rc = s_put(out, cap, &off, join, strlen(join), S_CASE_PRESERVE);
        }
    }
    const char *p = name;
    while (rc == SL_OK) {
        const char *end = split ? strchr(p, '.') : NULL;
        end = end ? end : p + strlen(p);
        if (p != name) {
            rc = s_put(out, cap, &off, sep, strlen(sep), S_CASE_PRESERVE);
        }
        if (rc == SL_OK) {
            rc = s_put(out, cap, &off, p, (size_t)(end - p), fold);
        }
        if (!*end) {
            break;
        }
        p = end + 1;
    }
    if (rc != SL_OK) {
        out[0] = '\0';
        return sl_adapt__fail(err, errlen, rc, "'%.200s': qualified name too long", key);
    }
    return SL_OK;
}

int sl_name_map_openlineage(const sl_name_map_t *map, const char *ns, const char *name, char *out,
                            size_t cap, char *err, size_t errlen)
{
    return s_ol_name(map, ns, name, 0, out, cap, err, errlen);
}

int sl_name_map_openlineage_job(const sl_name_map_t *map, const char *ns, const char *name,
                                char *out, size_t cap, char *err, size_t errlen)
{
    return s_ol_name(map, ns, name, 1, out, cap, err, errlen);
}

int sl_name_map_lineage_event(const sl_name_map_t *map, const char *event_type)
{
    if (!event_type) {
        return 0;
    }
    if (!map || !map->lineage) {
        return strcasecmp(event_type, "COMPLETE") == 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(map->lineage, i, e)
    {
        if (strcasecmp(json_string_value(e), event_type) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ events */

int sl_adapt__event(json_t *events, const char *tenant, const char *kind, const char *source,
                    const char *key, int64_t time_us, json_t *body)
{
    uint8_t id[16];
    char ids[37], ts[32];
    char *canon = NULL;
    json_t *ev = NULL;
    int rc = SL_ENOMEM;
    if (!body) {
        return SL_ENOMEM;
    }
    /*  The id is a hash of what the event says, so a redelivery of the
        same content is the same event and the store drops it. */
    if (!(canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII))) {
        goto fail;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof id);
    crypto_generichash_update(&st, (const unsigned char *)(tenant ? tenant : ""),
                              strlen(tenant ? tenant : "") + 1);
    crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
    crypto_generichash_update(&st, (const unsigned char *)canon, strlen(canon));
    crypto_generichash_final(&st, id, sizeof id);
    uint64_t ms = time_us > 0 ? (uint64_t)(time_us / 1000) : 0;
    for (int i = 0; i < 6; i++) {
        id[i] = (uint8_t)(ms >> (8 * (5 - i)));
    }
    id[6] = (uint8_t)(0x80 | (id[6] & 0x0f)); /* version 8: custom */
    id[8] = (uint8_t)(0x80 | (id[8] & 0x3f)); /* RFC 4122 variant */
    sl_uuid_format(id, ids);
    if (!(ev = json_object()) || json_object_set_new(ev, "id", json_string(ids)) != 0 ||
        (tenant && json_object_set_new(ev, "tenant", json_string(tenant)) != 0) ||
        json_object_set_new(ev, "kind", json_string(kind)) != 0 ||
        json_object_set_new(ev, "source", json_string(source)) != 0 ||
        (key && json_object_set_new(ev, "key", json_string(key)) != 0)) {
        goto fail;
    }
    if (time_us >= 0) {
        sl_time_format(time_us, ts);
        if (json_object_set_new(ev, "time", json_string(ts)) != 0) {
            goto fail;
        }
    }
    if (json_object_set(ev, "body", body) != 0 || json_array_append(events, ev) != 0) {
        goto fail;
    }
    rc = SL_OK;
fail:
    free(canon);
    json_decref(ev);
    json_decref(body);
    return rc;
}

int sl_adapt__dump(json_t *events, sl_buf_t *out)
{
    size_t n = json_dumpb(events, NULL, 0, JSON_COMPACT);
    if (n == 0) {
        return SL_ENOMEM;
    }
    if (n > (size_t)SL_EVENT_MAX_BODY * 4) {
        return SL_ERANGE;
    }
    int rc = sl_buf_reserve(out, n);
    if (rc != SL_OK) {
        return rc;
    }
    if (json_dumpb(events, (char *)out->data + out->len, n, JSON_COMPACT) != n) {
        return SL_ENOMEM;
    }
    out->len += n;
    return SL_OK;
}

int sl_token_equal(const char *expected, const char *given)
{
    if (!expected || !given || !*expected) {
        return 0;
    }
    size_t n = strlen(expected);
    if (strlen(given) != n) {
        return 0;
    }
    return sodium_memcmp(expected, given, n) == 0;
}
