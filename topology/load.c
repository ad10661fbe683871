/*  Topology files: YAML (libyaml's document API) into an sl_plan_t.

    This is the only module that includes yaml.h. Reading is forgiving in
    one way only: it goes on after an error, so an operator sees every
    problem of a file at once instead of fixing them one run at a time.
    Anything built for a part that had an error is still put in the plan (so
    one bad key does not hide the checks of its neighbours); the plan is
    thrown away at the end if any error was recorded. */
#include <stdint.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sluice/auth.h"
#include "topology/internal.h"

/*  Bounds that keep a hostile file (the fuzzer, an alias bomb) from eating
    the machine: secrets are small, JSON options are configuration. */
#define S_SECRET_FILE_MAX (1024 * 1024)
#define S_JSON_MAX (1024 * 1024)
#define S_JSON_DEPTH 64
#define S_WORKERS_MAX 1024
#define S_DEFAULT_PORT 7600

static const char *const s_top_keys =
    "version, name, store, tenancy, tenants, insecure_links, admin, auth, nodes, actors";

typedef struct {
    sl_topo_ctx_t *c;
    yaml_document_t *doc;
    sl_plan_t *plan;
    sl_pos_t auth_pos; /* of the top-level auth value */
} s_load_t;

/*  A value resolved from the file: text plus where it came from. */
typedef struct {
    char *text;
    int secret;
} s_val_t;

static sl_pos_t s_pos(const yaml_node_t *n)
{
    sl_pos_t p = {(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
    return p;
}

static yaml_node_t *s_node(s_load_t *l, int index)
{
    return yaml_document_get_node(l->doc, index);
}

static const char *s_kind_of(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a map";
    default:
        return "nothing";
    }
}

/*  What to show of a value in a message: never a secret's text. */
static const char *s_show(const char *text, int secret)
{
    return secret ? "(secret)" : text;
}

/*  The key of a map pair as a string, or NULL (reported) when the key is
    not a scalar or repeats an earlier key of the same map: libyaml keeps
    duplicates, and a silently ignored second value is exactly the kind of
    mistake an operator needs to hear about. */
static const char *s_key(s_load_t *l, yaml_node_t *map, yaml_node_pair_t *pair)
{
    yaml_node_t *k = s_node(l, pair->key);
    if (!k) {
        return NULL;
    }
    if (k->type != YAML_SCALAR_NODE) {
        sl_topo_error(l->c, s_pos(k), "expected a string key, got %s", s_kind_of(k));
        return NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        yaml_node_t *pk = s_node(l, p->key);
        if (pk && pk->type == YAML_SCALAR_NODE && pk->data.scalar.length == k->data.scalar.length &&
            memcmp(pk->data.scalar.value, k->data.scalar.value, k->data.scalar.length) == 0) {
            sl_pos_t first = s_pos(pk);
            sl_topo_error(l->c, s_pos(k), "duplicate key '%s' (first at %d:%d)",
                          (const char *)k->data.scalar.value, first.line, first.col);
            return NULL;
        }
    }
    return (const char *)k->data.scalar.value;
}

static int s_read_file(s_load_t *l, const char *ref, sl_pos_t pos, s_val_t *out)
{
    const char *path = ref;
    char *full = NULL, *buf = NULL;
    FILE *f = NULL;
    int rc = SL_EIO;
    if (*path == '\0') {
        sl_topo_error(l->c, pos, "'file:' needs a path (file:PATH)");
        return SL_EINVAL;
    }
    if (path[0] != '/' && l->c->dir && *l->c->dir) {
        if (asprintf(&full, "%s/%s", l->c->dir, path) < 0) {
            full = NULL;
            rc = SL_ENOMEM;
            goto fail;
        }
        path = full;
    }
    f = fopen(path, "rb");
    if (!f) {
        sl_topo_error(l->c, pos, "cannot read secret file '%s': %s", path, strerror(errno));
        goto fail;
    }
    buf = malloc(S_SECRET_FILE_MAX + 1);
    if (!buf) {
        rc = SL_ENOMEM;
        goto fail;
    }
    size_t n = fread(buf, 1, S_SECRET_FILE_MAX + 1, f);
    if (ferror(f)) {
        sl_topo_error(l->c, pos, "cannot read secret file '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (n > S_SECRET_FILE_MAX) {
        sl_topo_error(l->c, pos, "secret file '%s' is larger than %d bytes", path,
                      S_SECRET_FILE_MAX);
        goto fail;
    }
    if (memchr(buf, '\0', n)) {
        sl_topo_error(l->c, pos, "secret file '%s' contains a NUL byte", path);
        goto fail;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }
    buf[n] = '\0';
    fclose(f);
    free(full);
    out->text = buf;
    out->secret = 1;
    return SL_OK;
fail:
    if (f) {
        fclose(f);
    }
    if (buf) {
        explicit_bzero(buf, S_SECRET_FILE_MAX + 1);
    }
    free(buf);
    free(full);
    if (rc == SL_ENOMEM) {
        sl_topo_error(l->c, pos, "out of memory");
    }
    return rc;
}

/*  Resolve ${VAR} references, then a whole "file:PATH" value. */
static int s_resolve(s_load_t *l, const char *in, size_t len, sl_pos_t pos, s_val_t *out)
{
    sl_buf_t b = {0};
    int secret = 0;
    out->text = NULL;
    out->secret = 0;
    if (memchr(in, '\0', len)) {
        sl_topo_error(l->c, pos, "value contains a NUL character");
        return SL_EINVAL;
    }
    size_t i = 0;
    while (i < len) {
        if (in[i] == '$' && i + 1 < len && in[i + 1] == '{') {
            size_t j = i + 2;
            while (j < len && in[j] != '}') {
                j++;
            }
            size_t nlen = j - (i + 2);
            int ok = j < len && nlen > 0 && nlen < 256;
            for (size_t k = i + 2; ok && k < j; k++) {
                char ch = in[k];
                ok = ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (k > i + 2 && ch >= '0' && ch <= '9');
            }
            if (!ok) {
                sl_topo_error(l->c, pos,
                              "malformed '${' reference (expected ${NAME}, NAME of letters, "
                              "digits and '_')");
                goto fail;
            }
            char name[256];
            memcpy(name, in + i + 2, nlen);
            name[nlen] = '\0';
            const char *v = getenv(name);
            if (!v) {
                sl_topo_error(l->c, pos, "environment variable '%s' is not set", name);
                goto fail;
            }
            if (sl_buf_append(&b, v, strlen(v))) {
                goto oom;
            }
            secret = 1;
            i = j + 1;
            continue;
        }
        if (sl_buf_append(&b, in + i, 1)) {
            goto oom;
        }
        i++;
    }
    if (sl_buf_append(&b, "", 1)) {
        goto oom;
    }
    if (strncmp((char *)b.data, "file:", 5) == 0) {
        int rc = s_read_file(l, (char *)b.data + 5, pos, out);
        if (secret) {
            explicit_bzero(b.data, b.len);
        }
        sl_buf_free(&b);
        return rc;
    }
    out->text = (char *)b.data;
    out->secret = secret;
    return SL_OK;
oom:
    sl_topo_error(l->c, pos, "out of memory");
fail:
    if (secret && b.data) {
        explicit_bzero(b.data, b.len);
    }
    sl_buf_free(&b);
    return SL_EINVAL;
}

static void s_val_free(s_val_t *v)
{
    if (v->text && v->secret) {
        explicit_bzero(v->text, strlen(v->text));
    }
    free(v->text);
    v->text = NULL;
}

/*  A scalar value, resolved. `what` names it for "expected a string". */
static int s_scalar(s_load_t *l, yaml_node_t *n, const char *what, s_val_t *out)
{
    out->text = NULL;
    out->secret = 0;
    if (n->type != YAML_SCALAR_NODE) {
        sl_topo_error(l->c, s_pos(n), "%s: expected a string, got %s", what, s_kind_of(n));
        return SL_EINVAL;
    }
    return s_resolve(l, (const char *)n->data.scalar.value, n->data.scalar.length, s_pos(n), out);
}

/*  A scalar that must be a non-empty string; the result is owned by caller. */
static char *s_string(s_load_t *l, yaml_node_t *n, const char *what, int *secret)
{
    s_val_t v;
    if (s_scalar(l, n, what, &v)) {
        return NULL;
    }
    if (!*v.text) {
        sl_topo_error(l->c, s_pos(n), "%s: expected a non-empty string", what);
        s_val_free(&v);
        return NULL;
    }
    if (secret) {
        *secret = v.secret;
    }
    return v.text;
}

static int s_int_in(const char *text, long lo, long hi, long *out)
{
    const char *p = text;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (*p < '0' || *p > '9') {
        return SL_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi) {
        return SL_EINVAL;
    }
    *out = v;
    return SL_OK;
}

/*  "host:port" or "[v6]:port" with port 1..65535. */
static int s_hostport_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    long port;
    if (!colon || colon == s) {
        return 0;
    }
    if (s[0] == '[' && (colon[-1] != ']' || colon - s < 3)) {
        return 0;
    }
    if (s[0] != '[' && memchr(s, ':', (size_t)(colon - s))) {
        return 0; /* a bare IPv6 address needs brackets */
    }
    if (colon[1] == '+' || colon[1] == '-') {
        return 0;
    }
    return s_int_in(colon + 1, 1, 65535, &port) == SL_OK;
}

static char *s_address(s_load_t *l, yaml_node_t *n, const char *what)
{
    int secret = 0;
    char *s = s_string(l, n, what, &secret);
    if (s && !s_hostport_ok(s)) {
        sl_topo_error(l->c, s_pos(n), "%s: expected host:port, got '%s'", what, s_show(s, secret));
        free(s);
        return NULL;
    }
    return s;
}

static int s_is_map(s_load_t *l, yaml_node_t *n, const char *what)
{
    if (n->type == YAML_MAPPING_NODE) {
        return 1;
    }
    sl_topo_error(l->c, s_pos(n), "%s: expected a map, got %s", what, s_kind_of(n));
    return 0;
}

static int s_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return 0;
    }
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static int s_has_key(yaml_node_t *map, s_load_t *l, const char *key)
{
    if (map->type != YAML_MAPPING_NODE) {
        return 0;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = s_node(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0) {
            return 1;
        }
    }
    return 0;
}

#define S_PAIRS(n)                                                                                 \
    yaml_node_pair_t *pair = (n)->data.mapping.pairs.start;                                        \
    pair < (n)->data.mapping.pairs.top;                                                            \
    pair++
#define S_PAIR_COUNT(n) ((int)((n)->data.mapping.pairs.top - (n)->data.mapping.pairs.start))

/* --- JSON options ----------------------------------------------------- */

static int s_json_number(const char *s)
{
    if (*s == '-') {
        s++;
    }
    if (*s == '0') {
        s++;
    } else if (*s >= '1' && *s <= '9') {
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    } else {
        return 0;
    }
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9') {
            return 0;
        }
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') {
            s++;
        }
        if (*s < '0' || *s > '9') {
            return 0;
        }
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }
    return *s == '\0';
}

static int s_json(s_load_t *l, yaml_node_t *n, int depth, sl_buf_t *b, int *secret)
{
    if (depth > S_JSON_DEPTH || b->len > S_JSON_MAX) {
        sl_topo_error(l->c, s_pos(n),
                      "value is nested deeper than %d levels or larger than %d "
                      "bytes (aliases?)",
                      S_JSON_DEPTH, S_JSON_MAX);
        return SL_ERANGE;
    }
    int rc = SL_OK;
    if (n->type == YAML_SCALAR_NODE) {
        if (s_is_null(n)) {
            return sl_buf_append(b, "null", 4);
        }
        s_val_t v;
        rc = s_scalar(l, n, "value", &v);
        if (rc) {
            return rc;
        }
        *secret |= v.secret;
        int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !v.secret;
        if (plain && (strcmp(v.text, "true") == 0 || strcmp(v.text, "false") == 0 ||
                      s_json_number(v.text))) {
            rc = sl_buf_append(b, v.text, strlen(v.text));
        } else {
            rc = sl_buf_append(b, "\"", 1);
            rc = rc ? rc : sl_json_escape(b, v.text, strlen(v.text));
            rc = rc ? rc : sl_buf_append(b, "\"", 1);
        }
        s_val_free(&v);
        return rc;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        rc = sl_buf_append(b, "[", 1);
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             !rc && it < n->data.sequence.items.top; it++) {
            yaml_node_t *child = s_node(l, *it);
            if (it > n->data.sequence.items.start) {
                rc = sl_buf_append(b, ",", 1);
            }
            rc = rc ? rc : (child ? s_json(l, child, depth + 1, b, secret) : SL_EPROTO);
        }
        return rc ? rc : sl_buf_append(b, "]", 1);
    }
    if (n->type == YAML_MAPPING_NODE) {
        rc = sl_buf_append(b, "{", 1);
        int first = 1;
        for (S_PAIRS(n)) {
            if (rc) {
                break;
            }
            const char *k = s_key(l, n, pair);
            yaml_node_t *v = s_node(l, pair->value);
            if (!k || !v) {
                rc = SL_EINVAL;
                break;
            }
            if (!first) {
                rc = sl_buf_append(b, ",", 1);
            }
            first = 0;
            rc = rc ? rc : sl_buf_append(b, "\"", 1);
            rc = rc ? rc : sl_json_escape(b, k, strlen(k));
            rc = rc ? rc : sl_buf_append(b, "\":", 2);
            rc = rc ? rc : s_json(l, v, depth + 1, b, secret);
        }
        return rc ? rc : sl_buf_append(b, "}", 1);
    }
    return SL_EPROTO;
}

/* --- actors ------------------------------------------------------------ */

static void s_option_names(const sl_actor_kind_t *kind, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (const sl_opt_t *o = kind->options; o && o->name && used < len; o++) {
        int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", o->name);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
    if (!out[0]) {
        snprintf(out, len, "none");
    }
}

/*  Check a scalar option's text now, so a bad value is reported with its
    position instead of failing later at start. */
static void s_check_value(s_load_t *l, const sl_plan_actor_t *a, const sl_opt_t *o,
                          const sl_plan_opt_t *po)
{
    union {
        char *s;
        int64_t i;
        double d;
        int b;
        sl_strlist_t list;
    } tmp;
    char err[200];
    memset(&tmp, 0, sizeof tmp);
    int rc = sl_opt_parse(o, po->text, &tmp, err, sizeof err);
    if (rc == SL_EINVAL) {
        if (po->secret) {
            /* the reason quotes the value after ", got": keep only the
               expectation (see core/config.c) */
            char *cut = strstr(err, ", got '");
            if (cut) {
                *cut = '\0';
            }
        }
        sl_topo_error(l->c, po->vpos, "actor '%s', option '%s': %s", a->name, po->key,
                      err[0] ? err : "invalid value");
    } else if (rc) {
        sl_topo_error(l->c, po->vpos, "out of memory");
    }
    if (o->type == SL_OPT_STR || o->type == SL_OPT_SECRET || o->type == SL_OPT_JSON) {
        if (tmp.s && o->type == SL_OPT_SECRET) {
            explicit_bzero(tmp.s, strlen(tmp.s));
        }
        free(tmp.s);
    } else if (o->type == SL_OPT_STRLIST) {
        for (int i = 0; i < tmp.list.count; i++) {
            free(tmp.list.items[i]);
        }
        free(tmp.list.items);
    }
}

/*  The node a JSON Pointer ("/2/rename/to") names inside n, or the
    deepest node on the way there: a kind's check reports a part of a JSON
    option, and the operator needs that part's position. */
static yaml_node_t *s_json_where(s_load_t *l, yaml_node_t *n, const char *where)
{
    char seg[256];
    while (n && *where == '/') {
        where++;
        size_t len = 0;
        for (; *where && *where != '/'; where++) {
            char ch = *where;
            if (ch == '~' && (where[1] == '0' || where[1] == '1')) {
                ch = where[1] == '0' ? '~' : '/';
                where++;
            }
            if (len + 1 < sizeof seg) {
                seg[len++] = ch;
            }
        }
        seg[len] = '\0';
        yaml_node_t *next = NULL;
        if (n->type == YAML_SEQUENCE_NODE) {
            char *end;
            long i = strtol(seg, &end, 10);
            long count = (long)(n->data.sequence.items.top - n->data.sequence.items.start);
            if (*seg && !*end && i >= 0 && i < count) {
                next = s_node(l, n->data.sequence.items.start[i]);
            }
        } else if (n->type == YAML_MAPPING_NODE) {
            for (S_PAIRS(n)) {
                yaml_node_t *k = s_node(l, pair->key);
                if (k && k->type == YAML_SCALAR_NODE &&
                    strcmp((const char *)k->data.scalar.value, seg) == 0) {
                    next = s_node(l, pair->value);
                    break;
                }
            }
        }
        if (!next) {
            break;
        }
        n = next;
    }
    return n;
}

static void s_option(s_load_t *l, sl_plan_actor_t *a, const char *key, yaml_node_t *k,
                     yaml_node_t *v)
{
    const sl_actor_kind_t *kind = a->kind;
    const sl_opt_t *o = sl_opt_find(kind, key);
    if (!o) {
        char names[512];
        s_option_names(kind, names, sizeof names);
        sl_topo_error(l->c, s_pos(k), "unknown option '%s' for kind '%s' (options: %s)", key,
                      kind->name, names);
        return;
    }
    sl_plan_opt_t *po = &a->opts[a->n_opts];
    memset(po, 0, sizeof *po);
    po->pos = s_pos(k);
    po->vpos = s_pos(v);
    po->key = strdup(key);
    if (!po->key) {
        sl_topo_error(l->c, po->pos, "out of memory");
        return;
    }
    a->n_opts++;
    if (o->type == SL_OPT_JSON) {
        sl_buf_t b = {0};
        int rc = s_json(l, v, 0, &b, &po->secret);
        if (rc == SL_OK) {
            rc = sl_buf_append(&b, "", 1);
        }
        if (rc == SL_ENOMEM) {
            sl_topo_error(l->c, po->vpos, "out of memory");
        }
        if (rc) {
            sl_buf_free(&b);
            return;
        }
        po->text = (char *)b.data;
        return; /* the kind's check_option runs once every option is read */
    }
    char what[300];
    snprintf(what, sizeof what, "actor '%s', option '%s'", a->name, key);
    if (o->type == SL_OPT_STRLIST) {
        /* a single scalar is a list of one: "topics: a" reads naturally */
        int count = v->type == YAML_SEQUENCE_NODE
                        ? (int)(v->data.sequence.items.top - v->data.sequence.items.start)
                        : 1;
        if (v->type == YAML_MAPPING_NODE) {
            sl_topo_error(l->c, po->vpos, "%s: expected a list of strings, got a map", what);
            return;
        }
        po->items = calloc((size_t)count + 1, sizeof *po->items);
        if (!po->items) {
            sl_topo_error(l->c, po->vpos, "out of memory");
            return;
        }
        for (int i = 0; i < count; i++) {
            yaml_node_t *item =
                v->type == YAML_SEQUENCE_NODE ? s_node(l, v->data.sequence.items.start[i]) : v;
            s_val_t sv;
            if (!item || s_scalar(l, item, what, &sv)) {
                continue;
            }
            po->secret |= sv.secret;
            po->items[po->n_items++] = sv.text;
        }
        if (v->type == YAML_SCALAR_NODE && po->n_items == 1) {
            po->text = strdup(po->items[0]);
        }
        return;
    }
    s_val_t sv;
    if (v->type != YAML_SCALAR_NODE) {
        sl_topo_error(l->c, po->vpos, "%s: expected %s %s, got %s", what,
                      o->type == SL_OPT_INT ? "an" : "a", sl_opt_type_name(o->type), s_kind_of(v));
        return;
    }
    if (s_scalar(l, v, what, &sv)) {
        return;
    }
    po->text = sv.text;
    po->secret = sv.secret;
    s_check_value(l, a, o, po);
}

struct sl_opt_values {
    const sl_plan_actor_t *a;
};

const char *sl_opt_value(const sl_opt_values_t *opts, const char *name)
{
    for (int i = 0; opts && name && i < opts->a->n_opts; i++) {
        if (strcmp(opts->a->opts[i].key, name) == 0) {
            return opts->a->opts[i].text;
        }
    }
    return NULL;
}

/*  The kind's check of each JSON option, after every option of the actor
    is read: a check may need a sibling (sl_opt_value), whatever the order
    of the keys in the file. v is the actor's mapping node. */
static void s_check_options(s_load_t *l, sl_plan_actor_t *a, yaml_node_t *v)
{
    const sl_actor_kind_t *kind = a->kind;
    if (!kind || !kind->check_option) {
        return;
    }
    sl_opt_values_t values = {.a = a};
    for (int i = 0; i < a->n_opts; i++) {
        sl_plan_opt_t *po = &a->opts[i];
        const sl_opt_t *o = sl_opt_find(kind, po->key);
        if (!o || o->type != SL_OPT_JSON || !po->text) {
            continue;
        }
        char err[300] = "", where[256] = "";
        if (!kind->check_option(po->key, po->text, &values, err, sizeof err, where, sizeof where)) {
            continue;
        }
        yaml_node_t *val = NULL;
        for (S_PAIRS(v)) {
            yaml_node_t *k = s_node(l, pair->key); /* s_key reported bad keys already */
            if (k && k->type == YAML_SCALAR_NODE &&
                strcmp((const char *)k->data.scalar.value, po->key) == 0) {
                val = s_node(l, pair->value);
                break;
            }
        }
        yaml_node_t *at = val ? s_json_where(l, val, where) : NULL;
        sl_topo_error(l->c, at ? s_pos(at) : po->vpos, "actor '%s', option '%s': %s", a->name,
                      po->key,
                      po->secret ? "invalid value (secret)" : (err[0] ? err : "invalid value"));
    }
}

/*  "actor" or "actor.output". */
static void s_input(s_load_t *l, sl_plan_actor_t *a, yaml_node_t *item, int *secret)
{
    s_val_t v;
    if (s_scalar(l, item, "input", &v)) {
        return;
    }
    *secret |= v.secret;
    const char *dot = strchr(v.text, '.');
    size_t alen = dot ? (size_t)(dot - v.text) : strlen(v.text);
    if (alen == 0 || (dot && dot[1] == '\0')) {
        sl_topo_error(l->c, s_pos(item), "input '%s': expected an actor name or actor.output",
                      s_show(v.text, v.secret));
        s_val_free(&v);
        return;
    }
    sl_plan_input_t *in = &a->inputs[a->n_inputs];
    memset(in, 0, sizeof *in);
    in->actor = strndup(v.text, alen);
    in->output = dot ? strdup(dot + 1) : NULL;
    in->output_index = -1;
    in->pos = s_pos(item);
    s_val_free(&v);
    if (!in->actor || (dot && !in->output)) {
        free(in->actor);
        free(in->output);
        sl_topo_error(l->c, in->pos, "out of memory");
        return;
    }
    a->n_inputs++;
}

static void s_inputs(s_load_t *l, sl_plan_actor_t *a, sl_topo_actor_extra_t *x, yaml_node_t *k,
                     yaml_node_t *v)
{
    x->inputs_pos = s_pos(k);
    x->inputs_bad = 1;
    if (v->type != YAML_SEQUENCE_NODE) {
        sl_topo_error(l->c, s_pos(v),
                      "actor '%s': inputs: expected a list of actor or actor.output, got %s",
                      a->name, s_kind_of(v));
        return;
    }
    int count = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count == 0) {
        x->inputs_bad = 0;
        return;
    }
    if (a->kind && (a->kind->flags & SL_KIND_SOURCE)) {
        sl_topo_error(l->c, s_pos(k), "actor '%s' (%s) is a source and takes no inputs", a->name,
                      a->kind->name);
        return;
    }
    a->inputs = calloc((size_t)count, sizeof *a->inputs);
    if (!a->inputs) {
        sl_topo_error(l->c, s_pos(v), "out of memory");
        return;
    }
    int secret = 0;
    for (int i = 0; i < count; i++) {
        yaml_node_t *item = s_node(l, v->data.sequence.items.start[i]);
        if (item) {
            s_input(l, a, item, &secret);
        }
    }
    if (secret) {
        x->secret |= SL_TOPO_SECRET_INPUTS;
    }
    x->inputs_bad = a->n_inputs < count;
}

/*  Edit distance (insert, delete, substitute, swap of neighbours), for
    "did you mean": names are short, so the quadratic table is fine. */
static size_t s_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) {
        return SIZE_MAX;
    }
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= m; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) {
                best = d[i - 1][j] + 1;
            }
            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[n][m];
}

/*  The registered kind closest to `name`, if it is close enough to be a
    typo; NULL otherwise. */
static const char *s_kind_suggest(const char *name)
{
    const sl_actor_kind_t *const *kinds = sl_topo_kinds();
    const char *best = NULL;
    size_t best_d = SIZE_MAX, limit = strlen(name) / 3 + 1;
    for (int i = 0; kinds && kinds[i]; i++) {
        size_t d = s_distance(name, kinds[i]->name);
        if (d < best_d) {
            best_d = d;
            best = kinds[i]->name;
        }
    }
    return best_d <= limit ? best : NULL;
}

static void s_actor(s_load_t *l, yaml_node_t *k, yaml_node_t *v, const char *name)
{
    sl_plan_t *plan = l->plan;
    int index = plan->n_actors;
    sl_plan_actor_t *a = &plan->actors[index];
    sl_topo_actor_extra_t *x = &l->c->actor_extra[index];
    a->name = strdup(name);
    if (!a->name) {
        sl_topo_error(l->c, s_pos(k), "out of memory");
        return;
    }
    plan->n_actors++;
    a->pos = s_pos(k);
    a->workers = 1;
    if (!sl_topo_name_ok(name)) {
        sl_topo_error(l->c, a->pos,
                      "invalid actor name '%s' (use letters, digits, '_' and '-'; '.' separates "
                      "actor.output)",
                      name);
    }
    if (v->type != YAML_MAPPING_NODE) {
        sl_topo_error(l->c, s_pos(v),
                      "actor '%s': expected a map with kind, inputs and options, "
                      "got %s",
                      name, s_kind_of(v));
        return;
    }
    /* the kind first: it decides which other keys are options */
    int have_kind = 0;
    for (S_PAIRS(v)) {
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (!pk || !pv || pk->type != YAML_SCALAR_NODE ||
            strcmp((const char *)pk->data.scalar.value, "kind") != 0) {
            continue;
        }
        have_kind = 1;
        int secret = 0;
        char *kind = s_string(l, pv, "kind", &secret);
        if (kind) {
            a->kind = sl_topo_kind_find(kind);
            if (!a->kind) {
                /*  A suggestion, not the whole list: the list grows with
                    every kind, and `sluice actors` prints it. */
                const char *near = secret ? NULL : s_kind_suggest(kind);
                if (near) {
                    sl_topo_error(l->c, s_pos(pv),
                                  "unknown actor kind '%s' (did you mean '%s'? `sluice actors` "
                                  "lists every kind)",
                                  s_show(kind, secret), near);
                } else {
                    sl_topo_error(l->c, s_pos(pv),
                                  "unknown actor kind '%s' (`sluice actors` lists every kind)",
                                  s_show(kind, secret));
                }
            }
            if (secret) {
                x->secret |= SL_TOPO_SECRET_KIND;
            }
            free(kind);
        }
        break;
    }
    if (!have_kind) {
        sl_topo_error(l->c, a->pos, "actor '%s': missing required key 'kind'", name);
    }
    a->opts = calloc((size_t)S_PAIR_COUNT(v) + 1, sizeof *a->opts);
    if (!a->opts) {
        sl_topo_error(l->c, s_pos(v), "out of memory");
        return;
    }
    for (S_PAIRS(v)) {
        const char *key = s_key(l, v, pair);
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (!key || !pv) {
            continue;
        }
        if (strcmp(key, "kind") == 0) {
            continue;
        } else if (strcmp(key, "node") == 0) {
            int secret = 0;
            x->node_pos = s_pos(pv);
            a->node = s_string(l, pv, "node", &secret);
            if (secret) {
                x->secret |= SL_TOPO_SECRET_NODE;
            }
        } else if (strcmp(key, "inputs") == 0) {
            s_inputs(l, a, x, pk, pv);
        } else if (strcmp(key, "workers") == 0) {
            s_val_t sv;
            long w;
            if (s_scalar(l, pv, "workers", &sv)) {
                continue;
            }
            if (s_int_in(sv.text, 1, S_WORKERS_MAX, &w)) {
                sl_topo_error(l->c, s_pos(pv),
                              "actor '%s': workers: expected an integer >= 1 (at most %d), got "
                              "'%s'",
                              name, S_WORKERS_MAX, s_show(sv.text, sv.secret));
            } else {
                a->workers = (int)w;
            }
            if (sv.secret) {
                x->secret |= SL_TOPO_SECRET_WORKERS;
            }
            s_val_free(&sv);
        } else if (a->kind) {
            s_option(l, a, key, pk, pv);
        }
        /* without a kind there is no config map to check the other keys
           against: the missing kind is the one error to report */
    }
    s_check_options(l, a, v);
    for (const sl_opt_t *o = a->kind ? a->kind->options : NULL; o && o->name; o++) {
        if (!(o->flags & SL_OPT_REQUIRED)) {
            continue;
        }
        int found = 0;
        for (int i = 0; i < a->n_opts && !found; i++) {
            found = strcmp(a->opts[i].key, o->name) == 0;
        }
        if (!found) {
            sl_topo_error(l->c, a->pos, "actor '%s': missing required option '%s' (kind %s)", name,
                          o->name, a->kind->name);
        }
    }
}

/* --- nodes, tenants, store ------------------------------------------- */

static void s_node_entry(s_load_t *l, yaml_node_t *k, yaml_node_t *v, const char *name)
{
    sl_plan_t *plan = l->plan;
    int index = plan->n_nodes;
    sl_plan_node_t *n = &plan->nodes[index];
    n->name = strdup(name);
    if (!n->name) {
        sl_topo_error(l->c, s_pos(k), "out of memory");
        return;
    }
    plan->n_nodes++;
    n->pos = s_pos(k);
    n->port = S_DEFAULT_PORT;
    if (!sl_topo_name_ok(name)) {
        sl_topo_error(l->c, n->pos, "invalid node name '%s' (use letters, digits, '_' and '-')",
                      name);
    }
    char what[300];
    snprintf(what, sizeof what, "node '%s'", name);
    if (!s_is_map(l, v, what)) {
        return;
    }
    for (S_PAIRS(v)) {
        const char *key = s_key(l, v, pair);
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (!key || !pv) {
            continue;
        }
        if (strcmp(key, "host") == 0) {
            snprintf(what, sizeof what, "node '%s': host", name);
            n->host = s_string(l, pv, what, NULL);
        } else if (strcmp(key, "port") == 0) {
            s_val_t sv;
            long port;
            snprintf(what, sizeof what, "node '%s': port", name);
            if (s_scalar(l, pv, what, &sv)) {
                continue;
            }
            if (s_int_in(sv.text, 1, 65535, &port)) {
                sl_topo_error(l->c, s_pos(pv),
                              "node '%s': port: expected an integer between 1 and 65535, got "
                              "'%s'",
                              name, s_show(sv.text, sv.secret));
            } else {
                n->port = (int)port;
            }
            l->c->node_secret[index] |= sv.secret;
            s_val_free(&sv);
        } else if (strcmp(key, "admin") == 0) {
            snprintf(what, sizeof what, "node '%s': admin", name);
            n->admin = s_address(l, pv, what);
        } else {
            sl_topo_error(l->c, s_pos(pk),
                          "unknown key '%s' in node '%s' (expected: host, port, admin)", key, name);
        }
    }
    if (!n->host && !s_has_key(v, l, "host")) {
        sl_topo_error(l->c, n->pos, "node '%s': missing required key 'host'", name);
    }
}

static void s_tenant(s_load_t *l, yaml_node_t *k, yaml_node_t *v, const char *name)
{
    sl_plan_t *plan = l->plan;
    sl_plan_tenant_t *t = &plan->tenants[plan->n_tenants];
    t->name = strdup(name);
    if (!t->name) {
        sl_topo_error(l->c, s_pos(k), "out of memory");
        return;
    }
    plan->n_tenants++;
    t->pos = s_pos(k);
    if (!sl_topo_name_ok(name)) {
        sl_topo_error(l->c, t->pos, "invalid tenant name '%s' (use letters, digits, '_' and '-')",
                      name);
    }
    if (s_is_null(v)) {
        return; /* "acme:" alone: a tenant without keys of its own */
    }
    char what[300];
    snprintf(what, sizeof what, "tenant '%s'", name);
    if (!s_is_map(l, v, what)) {
        return;
    }
    for (S_PAIRS(v)) {
        const char *key = s_key(l, v, pair);
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (!key || !pv) {
            continue;
        }
        if (strcmp(key, "keys") == 0) {
            snprintf(what, sizeof what, "tenant '%s': keys", name);
            t->keys_pos = s_pos(pv);
            t->keys = s_string(l, pv, what, NULL);
            if (t->keys && t->keys[0] != '/' && l->c->dir && *l->c->dir) {
                /* like file: secrets, relative to the topology file */
                char *full = NULL;
                if (asprintf(&full, "%s/%s", l->c->dir, t->keys) < 0) {
                    sl_topo_error(l->c, t->keys_pos, "out of memory");
                    full = NULL;
                }
                free(t->keys);
                t->keys = full;
            }
        } else if (strcmp(key, "port_offset") == 0) {
            s_val_t sv;
            long off;
            t->offset_pos = s_pos(pk);
            snprintf(what, sizeof what, "tenant '%s': port_offset", name);
            if (s_scalar(l, pv, what, &sv)) {
                continue;
            }
            if (s_int_in(sv.text, 0, 65535, &off)) {
                sl_topo_error(l->c, s_pos(pv),
                              "tenant '%s': port_offset: expected an integer between 0 and "
                              "65535, got '%s'",
                              name, s_show(sv.text, sv.secret));
            } else {
                t->port_offset = (int)off;
            }
            s_val_free(&sv);
        } else {
            sl_topo_error(l->c, s_pos(pk),
                          "unknown key '%s' in tenant '%s' (expected: keys, port_offset)", key,
                          name);
        }
    }
}

static void s_store(s_load_t *l, yaml_node_t *k, yaml_node_t *v)
{
    if (!s_is_map(l, v, "store")) {
        return;
    }
    for (S_PAIRS(v)) {
        const char *key = s_key(l, v, pair);
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (!key || !pv) {
            continue;
        }
        if (strcmp(key, "path") == 0) {
            l->plan->store_path = s_string(l, pv, "store: path", NULL);
        } else {
            sl_topo_error(l->c, s_pos(pk), "unknown key '%s' in store (expected: path)", key);
        }
    }
    if (!s_has_key(v, l, "path")) {
        sl_topo_error(l->c, s_pos(k), "store: missing required key 'path'");
    }
}

/*  A map of named entries (actors, nodes, tenants): allocate the plan's
    array for the worst case, then read each entry. */
typedef void (*s_entry_fn)(s_load_t *l, yaml_node_t *k, yaml_node_t *v, const char *name);

static void s_section(s_load_t *l, yaml_node_t *k, yaml_node_t *v, const char *what, void **arr,
                      size_t elem, s_entry_fn fn)
{
    if (!s_is_map(l, v, what)) {
        return;
    }
    int n = S_PAIR_COUNT(v);
    if (n == 0) {
        sl_topo_error(l->c, s_pos(k), "%s: expected at least one entry", what);
        return;
    }
    *arr = calloc((size_t)n, elem);
    if (!*arr) {
        sl_topo_error(l->c, s_pos(v), "out of memory");
        return;
    }
    if (fn == s_actor) {
        l->c->actor_extra = calloc((size_t)n, sizeof *l->c->actor_extra);
    } else if (fn == s_node_entry) {
        l->c->node_secret = calloc((size_t)n, sizeof *l->c->node_secret);
    }
    if ((fn == s_actor && !l->c->actor_extra) || (fn == s_node_entry && !l->c->node_secret)) {
        sl_topo_error(l->c, s_pos(v), "out of memory");
        return;
    }
    for (S_PAIRS(v)) {
        const char *key = s_key(l, v, pair);
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (key && pv) {
            fn(l, pk, pv, key);
        }
    }
}

/*  The top-level `auth`: checked here, at its position, and handed to
    every actor whose kind takes an `auth` option (s_auth_inherit). */
static void s_auth(s_load_t *l, yaml_node_t *v)
{
    sl_buf_t b = {0};
    int secret = 0;
    int rc = s_json(l, v, 0, &b, &secret);
    if (rc == SL_OK) {
        rc = sl_buf_append(&b, "", 1);
    }
    if (rc) {
        if (rc == SL_ENOMEM) {
            sl_topo_error(l->c, s_pos(v), "out of memory");
        }
        sl_buf_free(&b);
        return;
    }
    char err[300] = "", where[256] = "";
    if (sl_auth_config_check((const char *)b.data, err, sizeof err, where, sizeof where) != 0) {
        yaml_node_t *at = s_json_where(l, v, where);
        sl_topo_error(l->c, at ? s_pos(at) : s_pos(v), "auth: %s",
                      secret ? "invalid value (secret)" : err);
        sl_buf_free(&b);
        return;
    }
    free(l->plan->auth);
    l->plan->auth = (char *)b.data;
    l->plan->auth_secret = secret;
    l->auth_pos = s_pos(v);
}

/*  An actor whose kind has an `auth` option and that sets none gets the
    top-level one, as if written there: its fingerprint then changes with
    it, so a reload that changes `auth` restarts the listeners. */
static void s_auth_inherit(s_load_t *l)
{
    sl_plan_t *plan = l->plan;
    for (int i = 0; plan->auth && i < plan->n_actors; i++) {
        sl_plan_actor_t *a = &plan->actors[i];
        const sl_opt_t *o = a->kind ? sl_opt_find(a->kind, "auth") : NULL;
        if (!o || o->type != SL_OPT_JSON) {
            continue;
        }
        int found = 0;
        for (int k = 0; k < a->n_opts && !found; k++) {
            found = strcmp(a->opts[k].key, "auth") == 0;
        }
        if (found) {
            continue;
        }
        sl_plan_opt_t *opts = realloc(a->opts, (size_t)(a->n_opts + 1) * sizeof *opts);
        if (!opts) {
            sl_topo_error(l->c, a->pos, "out of memory");
            return;
        }
        a->opts = opts;
        sl_plan_opt_t *po = &a->opts[a->n_opts];
        memset(po, 0, sizeof *po);
        po->key = strdup("auth");
        po->text = strdup(plan->auth);
        if (!po->key || !po->text) {
            free(po->key);
            free(po->text);
            sl_topo_error(l->c, a->pos, "out of memory");
            return;
        }
        po->secret = plan->auth_secret;
        po->pos = l->auth_pos;
        po->vpos = l->auth_pos;
        a->n_opts++;
    }
}

static void s_top(s_load_t *l, yaml_node_t *root)
{
    sl_plan_t *plan = l->plan;
    int have_version = 0, have_name = 0, have_actors = 0;
    if (root->type != YAML_MAPPING_NODE) {
        sl_topo_error(l->c, s_pos(root),
                      "expected a map at the top level (with version, name and actors), got %s",
                      s_kind_of(root));
        return;
    }
    for (S_PAIRS(root)) {
        const char *key = s_key(l, root, pair);
        yaml_node_t *pk = s_node(l, pair->key), *pv = s_node(l, pair->value);
        if (!key || !pv) {
            continue;
        }
        if (strcmp(key, "version") == 0) {
            s_val_t sv;
            have_version = 1;
            if (s_scalar(l, pv, "version", &sv)) {
                continue;
            }
            if (strcmp(sv.text, "1") != 0) {
                sl_topo_error(l->c, s_pos(pv), "unsupported version '%s' (expected 1)",
                              s_show(sv.text, sv.secret));
            }
            plan->version = 1;
            s_val_free(&sv);
        } else if (strcmp(key, "name") == 0) {
            have_name = 1;
            plan->name = s_string(l, pv, "name", NULL);
        } else if (strcmp(key, "store") == 0) {
            s_store(l, pk, pv);
        } else if (strcmp(key, "tenancy") == 0) {
            s_val_t sv;
            if (s_scalar(l, pv, "tenancy", &sv)) {
                continue;
            }
            l->c->tenancy_pos = s_pos(pv);
            if (strcmp(sv.text, "shared") == 0) {
                plan->tenancy = SL_TENANCY_SHARED;
            } else if (strcmp(sv.text, "isolated") == 0) {
                plan->tenancy = SL_TENANCY_ISOLATED;
            } else {
                sl_topo_error(l->c, s_pos(pv), "tenancy: expected shared or isolated, got '%s'",
                              s_show(sv.text, sv.secret));
            }
            s_val_free(&sv);
        } else if (strcmp(key, "insecure_links") == 0) {
            s_val_t sv;
            l->c->insecure_pos = s_pos(pk);
            if (s_scalar(l, pv, "insecure_links", &sv)) {
                continue;
            }
            static const sl_opt_t bool_opt = {.name = "insecure_links", .type = SL_OPT_BOOL};
            char why[200];
            if (sl_opt_parse(&bool_opt, sv.text, &plan->insecure_links, why, sizeof why)) {
                sl_topo_error(l->c, s_pos(pv), "insecure_links: expected true or false, got '%s'",
                              s_show(sv.text, sv.secret));
            }
            s_val_free(&sv);
        } else if (strcmp(key, "tenants") == 0) {
            l->c->tenants_pos = s_pos(pk);
            s_section(l, pk, pv, "tenants", (void **)&plan->tenants, sizeof *plan->tenants,
                      s_tenant);
        } else if (strcmp(key, "admin") == 0) {
            l->c->admin_set = 1;
            l->c->admin_pos = s_pos(pk);
            plan->admin = s_address(l, pv, "admin");
        } else if (strcmp(key, "auth") == 0) {
            s_auth(l, pv);
        } else if (strcmp(key, "nodes") == 0) {
            s_section(l, pk, pv, "nodes", (void **)&plan->nodes, sizeof *plan->nodes, s_node_entry);
        } else if (strcmp(key, "actors") == 0) {
            have_actors = 1;
            s_section(l, pk, pv, "actors", (void **)&plan->actors, sizeof *plan->actors, s_actor);
        } else {
            sl_topo_error(l->c, s_pos(pk), "unknown key '%s' (expected one of: %s)", key,
                          s_top_keys);
        }
    }
    if (!have_version) {
        sl_topo_error(l->c, s_pos(root), "missing required key 'version' (version: 1)");
    }
    if (!have_name) {
        sl_topo_error(l->c, s_pos(root), "missing required key 'name'");
    }
    if (!have_actors) {
        sl_topo_error(l->c, s_pos(root), "missing required key 'actors'");
    }
}

/* --- isolated tenancy ---------------------------------------------------- */

/*  "host:port" with `off` added to the port, in place of *addr. 0, or -1
    (reported at pos) if it is not host:port or runs past 65535. */
static int s_shift_address(s_load_t *l, char **addr, int off, sl_pos_t pos, const char *what,
                           int secret)
{
    char *colon = *addr ? strrchr(*addr, ':') : NULL;
    long port;
    if (!colon || !s_hostport_ok(*addr) || s_int_in(colon + 1, 1, 65535, &port)) {
        sl_topo_error(l->c, pos, "%s: cannot add the tenant's port_offset to '%s' (not host:port)",
                      what, s_show(*addr ? *addr : "", secret));
        return -1;
    }
    if (port + off > 65535) {
        sl_topo_error(l->c, pos, "%s: port %ld + port_offset %d runs past 65535", what, port, off);
        return -1;
    }
    char *out = NULL;
    if (asprintf(&out, "%.*s:%ld", (int)(colon - *addr), *addr, port + off) < 0) {
        sl_topo_error(l->c, pos, "out of memory");
        return -1;
    }
    if (secret) {
        explicit_bzero(*addr, strlen(*addr));
    }
    free(*addr);
    *addr = out;
    return 0;
}

/*  One tenant's copy of an isolated topology: only that tenant, its own
    store directory, every port moved by its port_offset. */
static void s_isolate(s_load_t *l)
{
    sl_plan_t *p = l->plan;
    const char *t = l->c->tenant;
    if (p->tenancy != SL_TENANCY_ISOLATED) {
        sl_topo_error(l->c, l->c->tenancy_pos.line ? l->c->tenancy_pos : (sl_pos_t){1, 1},
                      "--tenant %s: the file's tenancy is shared (one process runs every "
                      "tenant); --tenant runs one tenant of a 'tenancy: isolated' file",
                      t);
        return;
    }
    int found = -1;
    for (int i = 0; i < p->n_tenants; i++) {
        if (p->tenants[i].name && strcmp(p->tenants[i].name, t) == 0) {
            found = i;
        }
    }
    if (found < 0) {
        char names[1024] = "";
        size_t used = 0;
        for (int i = 0; i < p->n_tenants && used < sizeof names; i++) {
            int n = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             p->tenants[i].name ? p->tenants[i].name : "");
            used += n > 0 ? (size_t)n : 0;
        }
        sl_topo_error(l->c, l->c->tenants_pos.line ? l->c->tenants_pos : (sl_pos_t){1, 1},
                      "--tenant %s: no such tenant in tenants (%s)", t,
                      p->n_tenants ? names : "none declared");
        return;
    }
    /* keep only the chosen tenant: links get one slot, keys are its own */
    sl_plan_tenant_t keep = p->tenants[found];
    for (int i = 0; i < p->n_tenants; i++) {
        if (i != found) {
            free(p->tenants[i].name);
            free(p->tenants[i].keys);
        }
    }
    p->tenants[0] = keep;
    p->n_tenants = 1;
    p->tenant = strdup(t);
    if (!p->tenant) {
        sl_topo_error(l->c, keep.pos, "out of memory");
        return;
    }
    if (p->store_path) {
        char *sp = NULL;
        if (asprintf(&sp, "%s/%s", p->store_path, t) < 0) {
            sl_topo_error(l->c, keep.pos, "out of memory");
            return;
        }
        free(p->store_path);
        p->store_path = sp;
    }
    int off = keep.port_offset;
    if (off == 0) {
        return;
    }
    for (int i = 0; i < p->n_nodes; i++) {
        sl_plan_node_t *n = &p->nodes[i];
        if (n->port + off > 65535) {
            sl_topo_error(l->c, n->pos, "node '%s': port %d + port_offset %d runs past 65535",
                          n->name, n->port, off);
        } else {
            n->port += off;
        }
        if (n->admin) {
            s_shift_address(l, &n->admin, off, n->pos, "admin", 0);
        }
    }
    if (p->admin) {
        s_shift_address(l, &p->admin, off, l->c->admin_pos, "admin", 0);
    }
    for (int i = 0; i < p->n_actors; i++) {
        sl_plan_actor_t *a = &p->actors[i];
        for (int j = 0; j < a->n_opts; j++) {
            sl_plan_opt_t *o = &a->opts[j];
            if (strcmp(o->key, "listen") == 0 && o->text) {
                char what[300];
                snprintf(what, sizeof what, "actor '%s', option 'listen'", a->name);
                s_shift_address(l, &o->text, off, o->vpos, what, o->secret);
            }
        }
    }
}

static void s_syntax_error(s_load_t *l, yaml_parser_t *p)
{
    sl_pos_t pos = {(int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1};
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset, not a line */
        sl_topo_error(l->c, pos, "YAML syntax error: %s at byte %zu", problem, p->problem_offset);
    } else if (p->context) {
        sl_topo_error(l->c, pos, "YAML syntax error: %s %s (started at %d:%d)", problem, p->context,
                      (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    } else {
        sl_topo_error(l->c, pos, "YAML syntax error: %s", problem);
    }
}

static sl_plan_t *s_load_string(const char *name, const char *dir, const char *yaml, size_t len,
                                const char *tenant, sl_errors_t *errors)
{
    sl_errors_t local = {0};
    sl_topo_ctx_t c = {0};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int parser_ok = 0, have_doc = 0;
    sl_plan_t *plan = NULL;

    c.file = name ? name : "<string>";
    c.dir = dir;
    c.errors = errors ? errors : &local;
    c.first_error = c.errors->count;
    c.tenant = tenant;
    s_load_t l = {.c = &c, .doc = &doc};

    plan = calloc(1, sizeof *plan);
    if (!plan || !(plan->file = strdup(c.file))) {
        sl_topo_error(&c, (sl_pos_t){1, 1}, "out of memory");
        goto fail;
    }
    l.plan = plan;
    if (!yaml) {
        yaml = "";
        len = 0;
    }
    if (!yaml_parser_initialize(&parser)) {
        sl_topo_error(&c, (sl_pos_t){1, 1}, "out of memory");
        goto fail;
    }
    parser_ok = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        s_syntax_error(&l, &parser);
        goto fail;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        sl_topo_error(&c, (sl_pos_t){1, 1},
                      "empty topology file (expected a map with version, name and actors)");
        goto fail;
    }
    s_top(&l, root);
    s_auth_inherit(&l);
    /* a second document would be silently ignored: say so instead */
    if (!yaml_parser_load(&parser, &extra)) {
        s_syntax_error(&l, &parser);
    } else {
        yaml_node_t *r2 = yaml_document_get_root_node(&extra);
        if (r2) {
            sl_topo_error(&c, s_pos(r2), "more than one YAML document (a topology file holds one)");
        }
        yaml_document_delete(&extra);
    }
    if (tenant && sl_topo_error_count(&c) == 0) {
        s_isolate(&l);
    }
    if (sl_topo_error_count(&c) == 0 || plan->n_actors > 0) {
        sl_topo_validate(&c, plan);
    }
    if (sl_topo_error_count(&c) > 0) {
        goto fail;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(c.err_pos);
    free(c.actor_extra);
    free(c.node_secret);
    sl_errors_free(&local);
    return plan;
fail:
    sl_topo_errors_sort(&c);
    if (have_doc) {
        yaml_document_delete(&doc);
    }
    if (parser_ok) {
        yaml_parser_delete(&parser);
    }
    free(c.err_pos);
    free(c.actor_extra);
    free(c.node_secret);
    sl_plan_destroy(&plan);
    sl_errors_free(&local);
    return NULL;
}

sl_plan_t *sl_topology_load_string(const char *name, const char *dir, const char *yaml, size_t len,
                                   sl_errors_t *errors)
{
    return s_load_string(name, dir, yaml, len, NULL, errors);
}

sl_plan_t *sl_topology_load(const char *path, sl_errors_t *errors)
{
    return sl_topology_load_tenant(path, NULL, errors);
}

sl_plan_t *sl_topology_load_tenant(const char *path, const char *tenant, sl_errors_t *errors)
{
    sl_errors_t local = {0};
    sl_errors_t *e = errors ? errors : &local;
    sl_buf_t b = {0};
    char *dir = NULL;
    sl_plan_t *plan = NULL;
    FILE *f = NULL;
    if (!path) {
        sl_errors_add(e, "<none>", (sl_pos_t){0, 0}, "no topology file given");
        goto fail;
    }
    f = fopen(path, "rb");
    if (!f) {
        sl_errors_add(e, path, (sl_pos_t){1, 1}, "cannot open topology file: %s", strerror(errno));
        goto fail;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (sl_buf_append(&b, chunk, n)) {
            sl_errors_add(e, path, (sl_pos_t){1, 1}, "out of memory");
            goto fail;
        }
    }
    if (ferror(f)) {
        sl_errors_add(e, path, (sl_pos_t){1, 1}, "cannot read topology file: %s", strerror(errno));
        goto fail;
    }
    /* file: secrets are relative to the topology file's directory */
    const char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path ? 1 : 0)) : strdup(".");
    if (!dir) {
        sl_errors_add(e, path, (sl_pos_t){1, 1}, "out of memory");
        goto fail;
    }
    plan = s_load_string(path, dir, b.data ? (const char *)b.data : "", b.len, tenant, e);
fail:
    if (f) {
        fclose(f);
    }
    free(dir);
    sl_buf_free(&b);
    sl_errors_free(&local);
    return plan;
}
