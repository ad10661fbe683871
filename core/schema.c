/*  Schemas: load (YAML or JSON into a jansson tree), compile into a
    validator tree, validate msgpack bodies, compare two versions, and a
    registry of a directory of schema files.

    The validator walks the msgpack bytes once with its own bounds-checked
    reader and allocates nothing: the path of a failure is kept as a chain
    of stack frames and only turned into text when something fails. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <yaml.h>

#include "sluice/actor.h"
#include "sluice/event.h"
#include "sluice/mpjson.h"
#include "sluice/schema.h"

/* ------------------------------------------------------------------------ */
/*  compiled form */

enum {
    T_NULL = 0x01,
    T_BOOL = 0x02,
    T_INT = 0x04,
    T_NUM = 0x08, /* "number": integers too */
    T_STR = 0x10,
    T_ARR = 0x20,
    T_OBJ = 0x40,
};

enum { L_NULL, L_BOOL, L_INT, L_NUM, L_STR, L_JSON };

typedef struct {
    int kind;
    int64_t i;
    double d;
    const char *s;
    uint32_t len;
    json_t *j; /* borrowed from the document */
} s_lit_t;

enum { F_NONE, F_DATETIME, F_UUID, F_URI, F_EMAIL };
static const char *const s_format_names[] = {"", "date-time", "uuid", "uri", "email"};

typedef struct s_node s_node_t;

typedef struct {
    const char *name; /* borrowed from the document */
    uint32_t len;
    s_node_t *node; /* NULL: any value */
    int required;
} s_prop_t;

struct s_node {
    s_node_t *next_alloc;
    int never;      /* the schema `false` */
    unsigned types; /* 0 = any */
    s_lit_t *lits;  /* enum, or const (nlits 1, is_const) */
    int nlits;
    int is_const;
    int has_json_lit;
    char *lit_text; /* "SEV-1, SEV-2" for messages */
    regex_t *re;
    const char *pattern;
    int64_t min_len, max_len; /* -1 = none */
    int has_min, has_max;
    double minimum, maximum;
    int64_t min_items, max_items;
    int format;
    s_node_t *items; /* NULL = any */
    int has_items;
    s_prop_t *props;
    int nprops;
    int *req; /* indexes into props, in `required` order */
    int nreq;
    int addl;            /* 1 allowed (default), 0 forbidden */
    s_node_t *addl_node; /* schema for other properties, or NULL */
    const char *ref_name;
    s_node_t *ref;
    int has_own; /* any keyword besides $ref */
};

struct sl_schema {
    json_t *doc;
    s_node_t *root;
    s_node_t *nodes;
    char *name;
    uint32_t version;
    sl_compat_t compat;
    char *origin;
};

/* ------------------------------------------------------------------------ */
/*  YAML -> jansson */

typedef struct {
    yaml_parser_t parser;
    char *err;
    size_t errlen;
    const char *origin;
} s_yaml_t;

static int s_yerr(s_yaml_t *y, const yaml_mark_t *m, const char *msg)
{
    snprintf(y->err, y->errlen, "%s:%zu:%zu: %s", y->origin, m->line + 1, m->column + 1, msg);
    return SL_EPROTO;
}

static int s_is_int(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    if (i == n) {
        return 0;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int s_is_float(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        i++;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++, digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++, digits++;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) {
            i++;
        }
        size_t e = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == e) {
            return 0;
        }
    }
    return i == n;
}

static json_t *s_yaml_scalar(const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (n == 0 || (n == 1 && s[0] == '~') || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
            strcmp(s, "NULL") == 0) {
            return json_null();
        }
        if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
            return json_true();
        }
        if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
            return json_false();
        }
        if (s_is_int(s, n)) {
            errno = 0;
            long long v = strtoll(s, NULL, 10);
            if (errno == 0) {
                return json_integer(v);
            }
            return json_real(strtod(s, NULL));
        }
        if (s_is_float(s, n)) {
            return json_real(strtod(s, NULL));
        }
    }
    return json_stringn(s, n);
}

/*  Parse the value that starts with `ev` (already read; this function
    deletes it). */
static int s_yaml_value(s_yaml_t *y, yaml_event_t *ev, int depth, json_t **out)
{
    int rc = SL_EPROTO;
    json_t *v = NULL;
    yaml_event_t e2;
    *out = NULL;
    if (depth > SL_SCHEMA_MAX_DEPTH) {
        rc = s_yerr(y, &ev->start_mark, "nested too deep");
        goto fail;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        v = s_yaml_scalar(ev);
        if (!v) {
            rc = SL_ENOMEM;
            snprintf(y->err, y->errlen, "out of memory");
            goto fail;
        }
        break;
    case YAML_SEQUENCE_START_EVENT:
        v = json_array();
        for (;;) {
            if (!yaml_parser_parse(&y->parser, &e2)) {
                rc = s_yerr(y, &y->parser.problem_mark,
                            y->parser.problem ? y->parser.problem : "bad YAML");
                goto fail;
            }
            if (e2.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e2);
                break;
            }
            json_t *item;
            rc = s_yaml_value(y, &e2, depth + 1, &item);
            if (rc) {
                goto fail;
            }
            json_array_append_new(v, item);
        }
        break;
    case YAML_MAPPING_START_EVENT:
        v = json_object();
        for (;;) {
            if (!yaml_parser_parse(&y->parser, &e2)) {
                rc = s_yerr(y, &y->parser.problem_mark,
                            y->parser.problem ? y->parser.problem : "bad YAML");
                goto fail;
            }
            if (e2.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e2);
                break;
            }
            if (e2.type != YAML_SCALAR_EVENT) {
                rc = s_yerr(y, &e2.start_mark, "a map key must be a scalar");
                yaml_event_delete(&e2);
                goto fail;
            }
            char *key = strndup((const char *)e2.data.scalar.value, e2.data.scalar.length);
            yaml_mark_t km = e2.start_mark;
            yaml_event_delete(&e2);
            if (!key) {
                rc = SL_ENOMEM;
                goto fail;
            }
            if (strlen(key) == 0 || json_object_get(v, key)) {
                free(key);
                rc = s_yerr(y, &km, "empty or duplicate key");
                goto fail;
            }
            if (!yaml_parser_parse(&y->parser, &e2)) {
                free(key);
                rc = s_yerr(y, &y->parser.problem_mark,
                            y->parser.problem ? y->parser.problem : "bad YAML");
                goto fail;
            }
            json_t *item;
            rc = s_yaml_value(y, &e2, depth + 1, &item);
            if (rc) {
                free(key);
                goto fail;
            }
            json_object_set_new(v, key, item);
            free(key);
        }
        break;
    case YAML_ALIAS_EVENT:
        rc = s_yerr(y, &ev->start_mark, "aliases are not supported in schemas");
        goto fail;
    default:
        rc = s_yerr(y, &ev->start_mark, "unexpected YAML event");
        goto fail;
    }
    yaml_event_delete(ev);
    *out = v;
    return SL_OK;
fail:
    yaml_event_delete(ev);
    json_decref(v);
    return rc;
}

static json_t *s_yaml_load(const char *text, size_t len, const char *origin, char *err,
                           size_t errlen)
{
    s_yaml_t y = {.err = err, .errlen = errlen, .origin = origin};
    json_t *root = NULL;
    yaml_event_t ev;
    if (!yaml_parser_initialize(&y.parser)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    int state = 0; /* 0 before the document, 1 got the value */
    for (;;) {
        if (!yaml_parser_parse(&y.parser, &ev)) {
            s_yerr(&y, &y.parser.problem_mark, y.parser.problem ? y.parser.problem : "bad YAML");
            goto fail;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
            t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (state) {
            s_yerr(&y, &ev.start_mark, "one document per schema file");
            yaml_event_delete(&ev);
            goto fail;
        }
        if (s_yaml_value(&y, &ev, 0, &root)) {
            goto fail;
        }
        state = 1;
    }
    yaml_parser_delete(&y.parser);
    if (!root) {
        snprintf(err, errlen, "%s: empty schema", origin);
    }
    return root;
fail:
    yaml_parser_delete(&y.parser);
    json_decref(root);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/*  compiler */

typedef struct {
    const char *name;
    int spelling;
    s_node_t *node;
} s_def_t;

typedef struct {
    sl_schema_t *s;
    char path[512];
    size_t plen;
    char *err;
    size_t errlen;
    s_def_t *defs_tab; /* compiled $defs (spelling 0) and definitions (1) */
    int ndefs;
    int nnodes;
} s_comp_t;

static int s_cerr(s_comp_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int s_cerr(s_comp_t *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s%s%s", c->s->origin, c->path, c->plen ? ": " : "", msg);
    return SL_EINVAL;
}

static size_t s_push(s_comp_t *c, const char *seg)
{
    size_t old = c->plen;
    int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s", c->plen ? "." : "", seg);
    if (n > 0) {
        c->plen += (size_t)n;
        if (c->plen >= sizeof c->path) {
            c->plen = sizeof c->path - 1;
        }
    }
    return old;
}

static void s_pop(s_comp_t *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static s_node_t *s_node_new(s_comp_t *c)
{
    s_node_t *n = calloc(1, sizeof *n);
    if (!n) {
        return NULL;
    }
    n->min_len = n->max_len = n->min_items = n->max_items = -1;
    n->addl = 1;
    n->next_alloc = c->s->nodes;
    c->s->nodes = n;
    c->nnodes++;
    return n;
}

static int s_count(s_comp_t *c, json_t *v, const char *kw, int64_t *out)
{
    double d;
    if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
    } else {
        return s_cerr(c, "%s: expected a non-negative integer", kw);
    }
    if (d < 0 || d != floor(d) || d > 1e15) {
        return s_cerr(c, "%s: expected a non-negative integer", kw);
    }
    *out = (int64_t)d;
    return SL_OK;
}

static int s_lit_make(s_comp_t *c, json_t *v, s_lit_t *l)
{
    memset(l, 0, sizeof *l);
    switch (json_typeof(v)) {
    case JSON_NULL:
        l->kind = L_NULL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        l->kind = L_BOOL;
        l->i = json_is_true(v);
        break;
    case JSON_INTEGER:
        l->kind = L_INT;
        l->i = json_integer_value(v);
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
            l->kind = L_INT;
            l->i = (int64_t)d;
        } else {
            l->kind = L_NUM;
            l->d = d;
        }
        break;
    }
    case JSON_STRING:
        l->kind = L_STR;
        l->s = json_string_value(v);
        l->len = (uint32_t)json_string_length(v);
        break;
    default:
        l->kind = L_JSON;
        l->j = v;
        break;
    }
    return SL_OK;
}

/*  "SEV-1, SEV-2": strings bare, everything else as JSON. */
static char *s_lit_text(json_t *arr)
{
    sl_buf_t b = {0};
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i) {
            sl_buf_append(&b, ", ", 2);
        }
        if (json_is_string(v)) {
            sl_buf_append(&b, json_string_value(v), json_string_length(v));
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (t) {
                sl_buf_append(&b, t, strlen(t));
                free(t);
            }
        }
        if (b.len > 300) {
            b.len = 300;
            sl_buf_append(&b, "...", 3);
            break;
        }
    }
    if (sl_buf_append(&b, "", 1) != SL_OK) {
        sl_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static int s_type_bit(const char *t, unsigned *bit)
{
    static const struct {
        const char *name;
        unsigned bit;
    } map[] = {{"null", T_NULL},  {"boolean", T_BOOL}, {"integer", T_INT}, {"number", T_NUM},
               {"string", T_STR}, {"array", T_ARR},    {"object", T_OBJ}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(t, map[i].name) == 0) {
            *bit = map[i].bit;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

static int s_compile(s_comp_t *c, json_t *j, int depth, s_node_t **out);

static int s_sub(s_comp_t *c, json_t *j, const char *seg, int depth, s_node_t **out)
{
    size_t old = s_push(c, seg);
    int rc = s_compile(c, j, depth + 1, out);
    if (rc == SL_OK) {
        s_pop(c, old);
    }
    return rc;
}

static int s_compile(s_comp_t *c, json_t *j, int depth, s_node_t **out)
{
    const char *kw;
    json_t *v;
    if (depth > SL_SCHEMA_MAX_DEPTH) {
        return s_cerr(c, "nested too deep");
    }
    s_node_t *n = s_node_new(c);
    if (!n) {
        return s_cerr(c, "out of memory");
    }
    *out = n;
    if (json_is_true(j)) {
        return SL_OK;
    }
    if (json_is_false(j)) {
        n->never = 1;
        n->has_own = 1;
        return SL_OK;
    }
    if (!json_is_object(j)) {
        return s_cerr(c, "expected a schema (a map, true or false)");
    }
    json_t *required = NULL;
    json_object_foreach(j, kw, v)
    {
        if (strcmp(kw, "title") == 0 || strcmp(kw, "description") == 0 ||
            strcmp(kw, "$comment") == 0 || strcmp(kw, "default") == 0 ||
            strcmp(kw, "examples") == 0 || strcmp(kw, "$id") == 0 || strcmp(kw, "$schema") == 0) {
            continue;
        }
        if (strcmp(kw, "name") == 0 || strcmp(kw, "version") == 0 ||
            strcmp(kw, "compatibility") == 0 || strcmp(kw, "$defs") == 0 ||
            strcmp(kw, "definitions") == 0) {
            if (depth != 0) {
                return s_cerr(c, "%s: only at the top level of a schema file", kw);
            }
            continue; /* read by the caller */
        }
        if (strcmp(kw, "$ref") == 0) {
            if (!json_is_string(v)) {
                return s_cerr(c, "$ref: expected a string");
            }
            n->ref_name = json_string_value(v);
            continue;
        }
        n->has_own = 1;
        if (strcmp(kw, "type") == 0) {
            unsigned bit;
            if (json_is_string(v)) {
                if (s_type_bit(json_string_value(v), &bit)) {
                    return s_cerr(c, "type: unknown type '%s'", json_string_value(v));
                }
                n->types = bit;
            } else if (json_is_array(v) && json_array_size(v) > 0) {
                size_t i;
                json_t *t;
                json_array_foreach(v, i, t)
                {
                    if (!json_is_string(t) || s_type_bit(json_string_value(t), &bit)) {
                        return s_cerr(c, "type: expected type names");
                    }
                    n->types |= bit;
                }
            } else {
                return s_cerr(c, "type: expected a type name or a non-empty list of them");
            }
        } else if (strcmp(kw, "enum") == 0 || strcmp(kw, "const") == 0) {
            json_t *arr = v;
            int is_const = kw[0] == 'c';
            if (n->lits) {
                return s_cerr(c, "%s: enum and const together", kw);
            }
            if (is_const) {
                arr = json_pack("[O]", v);
            } else if (!json_is_array(v) || json_array_size(v) == 0) {
                return s_cerr(c, "enum: expected a non-empty list");
            } else {
                json_incref(arr);
            }
            if (!arr) {
                return s_cerr(c, "out of memory");
            }
            n->nlits = (int)json_array_size(arr);
            n->lits = calloc((size_t)n->nlits, sizeof *n->lits);
            n->lit_text = s_lit_text(arr);
            n->is_const = is_const;
            if (!n->lits || !n->lit_text) {
                json_decref(arr);
                return s_cerr(c, "out of memory");
            }
            for (int i = 0; i < n->nlits; i++) {
                /*  const's value is the document's own v, kept alive. */
                json_t *item = is_const ? v : json_array_get(arr, (size_t)i);
                s_lit_make(c, item, &n->lits[i]);
                n->has_json_lit |= n->lits[i].kind == L_JSON;
            }
            json_decref(arr);
        } else if (strcmp(kw, "pattern") == 0) {
            if (!json_is_string(v)) {
                return s_cerr(c, "pattern: expected a string");
            }
            n->re = calloc(1, sizeof *n->re);
            if (!n->re) {
                return s_cerr(c, "out of memory");
            }
            int e = regcomp(n->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
            if (e != 0) {
                char why[128];
                regerror(e, n->re, why, sizeof why);
                free(n->re);
                n->re = NULL;
                return s_cerr(c, "pattern: %s (POSIX extended regular expressions)", why);
            }
            n->pattern = json_string_value(v);
        } else if (strcmp(kw, "minLength") == 0) {
            if (s_count(c, v, kw, &n->min_len)) {
                return SL_EINVAL;
            }
        } else if (strcmp(kw, "maxLength") == 0) {
            if (s_count(c, v, kw, &n->max_len)) {
                return SL_EINVAL;
            }
        } else if (strcmp(kw, "minItems") == 0) {
            if (s_count(c, v, kw, &n->min_items)) {
                return SL_EINVAL;
            }
        } else if (strcmp(kw, "maxItems") == 0) {
            if (s_count(c, v, kw, &n->max_items)) {
                return SL_EINVAL;
            }
        } else if (strcmp(kw, "minimum") == 0 || strcmp(kw, "maximum") == 0) {
            if (!json_is_number(v)) {
                return s_cerr(c, "%s: expected a number", kw);
            }
            if (kw[1] == 'i') {
                n->has_min = 1;
                n->minimum = json_number_value(v);
            } else {
                n->has_max = 1;
                n->maximum = json_number_value(v);
            }
        } else if (strcmp(kw, "format") == 0) {
            const char *f = json_is_string(v) ? json_string_value(v) : "";
            for (int i = 1; i < (int)(sizeof s_format_names / sizeof s_format_names[0]); i++) {
                if (strcmp(f, s_format_names[i]) == 0) {
                    n->format = i;
                }
            }
            if (!n->format) {
                return s_cerr(c, "format: expected date-time, uuid, uri or email");
            }
        } else if (strcmp(kw, "items") == 0) {
            if (!json_is_object(v) && !json_is_boolean(v)) {
                return s_cerr(c, "items: expected one schema (tuple forms are not supported)");
            }
            n->has_items = 1;
            if (s_sub(c, v, "items", depth, &n->items)) {
                return SL_EINVAL;
            }
        } else if (strcmp(kw, "additionalProperties") == 0) {
            if (json_is_boolean(v)) {
                n->addl = json_is_true(v);
            } else if (json_is_object(v)) {
                if (s_sub(c, v, "additionalProperties", depth, &n->addl_node)) {
                    return SL_EINVAL;
                }
            } else {
                return s_cerr(c, "additionalProperties: expected true, false or a schema");
            }
        } else if (strcmp(kw, "properties") == 0) {
            if (!json_is_object(v)) {
                return s_cerr(c, "properties: expected a map of names to schemas");
            }
            size_t np = json_object_size(v);
            if (np > 1024) {
                return s_cerr(c, "properties: more than 1024");
            }
            n->props = calloc(np ? np : 1, sizeof *n->props);
            if (!n->props) {
                return s_cerr(c, "out of memory");
            }
            const char *pname;
            json_t *pv;
            size_t old = s_push(c, "properties");
            json_object_foreach(v, pname, pv)
            {
                s_prop_t *p = &n->props[n->nprops++];
                p->name = pname;
                p->len = (uint32_t)strlen(pname);
                if (s_sub(c, pv, pname, depth, &p->node)) {
                    return SL_EINVAL;
                }
            }
            s_pop(c, old);
        } else if (strcmp(kw, "required") == 0) {
            if (!json_is_array(v)) {
                return s_cerr(c, "required: expected a list of names");
            }
            required = v;
        } else {
            return s_cerr(c, "unknown keyword '%s'", kw);
        }
    }
    if (n->min_len >= 0 && n->max_len >= 0 && n->min_len > n->max_len) {
        return s_cerr(c, "minLength is greater than maxLength");
    }
    if (n->min_items >= 0 && n->max_items >= 0 && n->min_items > n->max_items) {
        return s_cerr(c, "minItems is greater than maxItems");
    }
    if (required) {
        size_t nr = json_array_size(required), i;
        json_t *r;
        if (nr > 1024) {
            return s_cerr(c, "required: more than 1024 names");
        }
        /*  Names required but not described are properties of any value. */
        s_prop_t *grown = realloc(n->props, ((size_t)n->nprops + nr + 1) * sizeof *grown);
        n->req = calloc(nr + 1, sizeof *n->req);
        if (!grown || !n->req) {
            if (grown) {
                n->props = grown;
            }
            return s_cerr(c, "out of memory");
        }
        n->props = grown;
        json_array_foreach(required, i, r)
        {
            if (!json_is_string(r)) {
                return s_cerr(c, "required: expected a list of names");
            }
            const char *name = json_string_value(r);
            int k;
            for (k = 0; k < n->nprops; k++) {
                if (strcmp(n->props[k].name, name) == 0) {
                    break;
                }
            }
            if (k == n->nprops) {
                n->props[k] = (s_prop_t){.name = name, .len = (uint32_t)strlen(name)};
                n->nprops++;
            }
            if (n->props[k].required) {
                return s_cerr(c, "required: '%s' listed twice", name);
            }
            n->props[k].required = 1;
            n->req[n->nreq++] = k;
        }
    }
    return SL_OK;
}

static s_node_t *s_find_def(s_comp_t *c, const char *ref)
{
    if (strcmp(ref, "#") == 0) {
        return c->s->root;
    }
    const char *name = NULL;
    int spelling = 0;
    if (strncmp(ref, "#/$defs/", 8) == 0) {
        name = ref + 8;
    } else if (strncmp(ref, "#/definitions/", 14) == 0) {
        name = ref + 14;
        spelling = 1;
    }
    for (int i = 0; name && i < c->ndefs; i++) {
        if (c->defs_tab[i].spelling == spelling && strcmp(c->defs_tab[i].name, name) == 0) {
            return c->defs_tab[i].node;
        }
    }
    return NULL;
}

static int s_compile_defs(s_comp_t *c, json_t *defs, const char *kw)
{
    const char *name;
    json_t *v;
    if (!json_is_object(defs)) {
        return s_cerr(c, "%s: expected a map of names to schemas", kw);
    }
    size_t nd = json_object_size(defs);
    s_def_t *grown = realloc(c->defs_tab, ((size_t)c->ndefs + nd + 1) * sizeof *grown);
    if (!grown) {
        return s_cerr(c, "out of memory");
    }
    c->defs_tab = grown;
    size_t old = s_push(c, kw);
    json_object_foreach(defs, name, v)
    {
        s_node_t *node;
        if (!json_is_object(v) && !json_is_boolean(v)) {
            return s_cerr(c, "%s: expected a schema", name);
        }
        if (s_sub(c, v, name, 0, &node)) {
            return SL_EINVAL;
        }
        c->defs_tab[c->ndefs++] = (s_def_t){name, kw[0] == 'd', node};
    }
    s_pop(c, old);
    return SL_OK;
}

static int s_resolve(s_comp_t *c)
{
    for (s_node_t *n = c->s->nodes; n; n = n->next_alloc) {
        if (n->ref_name) {
            n->ref = s_find_def(c, n->ref_name);
            if (!n->ref) {
                return s_cerr(c, "$ref '%s': not found (use #/$defs/NAME inside the file)",
                              n->ref_name);
            }
        }
    }
    /*  A chain of $ref that consumes no data would loop for ever. */
    for (s_node_t *n = c->s->nodes; n; n = n->next_alloc) {
        const s_node_t *m = n;
        int steps = 0;
        while (m->ref && steps <= c->nnodes) {
            m = m->ref;
            steps++;
        }
        if (m->ref) {
            return s_cerr(c, "$ref '%s': a cycle of references", n->ref_name);
        }
    }
    return SL_OK;
}

void sl_schema_destroy(sl_schema_t **sp)
{
    if (!sp || !*sp) {
        return;
    }
    sl_schema_t *s = *sp;
    s_node_t *n = s->nodes;
    while (n) {
        s_node_t *next = n->next_alloc;
        if (n->re) {
            regfree(n->re);
            free(n->re);
        }
        free(n->lits);
        free(n->lit_text);
        free(n->props);
        free(n->req);
        free(n);
        n = next;
    }
    json_decref(s->doc);
    free(s->name);
    free(s->origin);
    free(s);
    *sp = NULL;
}

sl_schema_t *sl_schema_compile(const char *text, size_t len, const char *origin, char *err,
                               size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!origin) {
        origin = "schema";
    }
    if (!text) {
        snprintf(err, errlen, "%s: no text", origin);
        return NULL;
    }
    if (len > SL_SCHEMA_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %u bytes", origin, SL_SCHEMA_MAX_BYTES);
        return NULL;
    }
    sl_schema_t *s = calloc(1, sizeof *s);
    if (!s || !(s->origin = strdup(origin))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->compat = SL_COMPAT_BACKWARD;
    s_comp_t c = {.s = s, .err = err, .errlen = errlen};
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
        i++;
    }
    if (i < len && text[i] == '{') {
        json_error_t je;
        s->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!s->doc) {
            snprintf(err, errlen, "%s:%d:%d: %s", origin, je.line, je.column, je.text);
            goto fail;
        }
    } else {
        s->doc = s_yaml_load(text, len, origin, err, errlen);
        if (!s->doc) {
            goto fail;
        }
    }
    json_t *root = s->doc;
    if (json_is_object(root)) {
        json_t *v = json_object_get(root, "name");
        if (v) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                strchr(json_string_value(v), '@') || json_string_length(v) > 200) {
                s_cerr(&c, "name: expected a non-empty string without '@'");
                goto fail;
            }
            s->name = strdup(json_string_value(v));
            if (!s->name) {
                goto fail;
            }
        }
        v = json_object_get(root, "version");
        if (v) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > UINT32_MAX) {
                s_cerr(&c, "version: expected a positive integer");
                goto fail;
            }
            s->version = (uint32_t)json_integer_value(v);
        }
        v = json_object_get(root, "compatibility");
        if (v && (!json_is_string(v) || sl_compat_parse(json_string_value(v), &s->compat))) {
            s_cerr(&c, "compatibility: expected backward, forward, full or none");
            goto fail;
        }
        json_t *defs = json_object_get(root, "$defs");
        json_t *defs2 = json_object_get(root, "definitions");
        if (defs && s_compile_defs(&c, defs, "$defs")) {
            goto fail;
        }
        if (defs2 && s_compile_defs(&c, defs2, "definitions")) {
            goto fail;
        }
    }
    if (s_compile(&c, root, 0, &s->root)) {
        goto fail;
    }
    if (s_resolve(&c)) {
        goto fail;
    }
    free(c.defs_tab);
    return s;
fail:
    free(c.defs_tab);
    if (!err[0]) {
        snprintf(err, errlen, "%s: out of memory", origin);
    }
    sl_schema_destroy(&s);
    return NULL;
}

sl_schema_t *sl_schema_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SL_SCHEMA_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, SL_SCHEMA_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return NULL;
    }
    sl_schema_t *s = sl_schema_compile(buf, n, path, err, errlen);
    free(buf);
    return s;
}

const char *sl_schema_name(const sl_schema_t *s)
{
    return s && s->name ? s->name : "";
}

uint32_t sl_schema_version(const sl_schema_t *s)
{
    return s ? s->version : 0;
}

sl_compat_t sl_schema_compat_mode(const sl_schema_t *s)
{
    return s ? s->compat : SL_COMPAT_BACKWARD;
}

/* ------------------------------------------------------------------------ */
/*  msgpack reader (bounds-checked) */

enum { V_NIL, V_BOOL, V_INT, V_UINT, V_FLOAT, V_STR, V_BIN, V_ARR, V_MAP, V_EXT };

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_rd_t;

typedef struct {
    int t;
    int64_t i;     /* V_INT, V_BOOL */
    uint64_t u;    /* V_UINT (> INT64_MAX), and the count of V_ARR / V_MAP */
    double d;      /* V_FLOAT */
    const char *s; /* V_STR */
    uint32_t len;
} s_val_t;

static inline uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/*  Read one value's header; scalars and str/bin/ext payloads are consumed,
    containers only their header. SL_EPROTO if truncated or reserved. */
static int s_read(s_rd_t *r, s_val_t *v)
{
    if (r->p >= r->end) {
        return SL_EPROTO;
    }
    uint8_t b = *r->p++;
    size_t avail = (size_t)(r->end - r->p);
    size_t n = 0;
    int w = 0;
    if (b <= 0x7f) {
        v->t = V_INT;
        v->i = b;
        return SL_OK;
    }
    if (b >= 0xe0) {
        v->t = V_INT;
        v->i = (int8_t)b;
        return SL_OK;
    }
    if ((b & 0xf0) == 0x80) {
        v->t = V_MAP;
        v->u = b & 0x0f;
        return SL_OK;
    }
    if ((b & 0xf0) == 0x90) {
        v->t = V_ARR;
        v->u = b & 0x0f;
        return SL_OK;
    }
    if ((b & 0xe0) == 0xa0) {
        n = b & 0x1f;
        v->t = V_STR;
        goto payload;
    }
    switch (b) {
    case 0xc0:
        v->t = V_NIL;
        return SL_OK;
    case 0xc2:
    case 0xc3:
        v->t = V_BOOL;
        v->i = b == 0xc3;
        return SL_OK;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        w = 1 << (b - 0xc4);
        v->t = V_BIN;
        break;
    case 0xd9:
    case 0xda:
    case 0xdb:
        w = 1 << (b - 0xd9);
        v->t = V_STR;
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        w = 1 << (b - 0xc7);
        if (avail < (size_t)w + 1) {
            return SL_EPROTO;
        }
        n = (size_t)s_be(r->p, w) + 1; /* type byte + data */
        r->p += w;
        avail -= (size_t)w;
        v->t = V_EXT;
        goto payload;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        n = ((size_t)1 << (b - 0xd4)) + 1;
        v->t = V_EXT;
        goto payload;
    case 0xca:
        if (avail < 4) {
            return SL_EPROTO;
        }
        {
            uint32_t x = (uint32_t)s_be(r->p, 4);
            float f;
            memcpy(&f, &x, 4);
            v->t = V_FLOAT;
            v->d = f;
        }
        r->p += 4;
        return SL_OK;
    case 0xcb:
        if (avail < 8) {
            return SL_EPROTO;
        }
        {
            uint64_t x = s_be(r->p, 8);
            memcpy(&v->d, &x, 8);
            v->t = V_FLOAT;
        }
        r->p += 8;
        return SL_OK;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        w = 1 << (b - 0xcc);
        if (avail < (size_t)w) {
            return SL_EPROTO;
        }
        uint64_t u = s_be(r->p, w);
        r->p += w;
        if (u > INT64_MAX) {
            v->t = V_UINT;
            v->u = u;
        } else {
            v->t = V_INT;
            v->i = (int64_t)u;
        }
        return SL_OK;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        w = 1 << (b - 0xd0);
        if (avail < (size_t)w) {
            return SL_EPROTO;
        }
        uint64_t u = s_be(r->p, w);
        r->p += w;
        v->t = V_INT;
        if (w == 1) {
            v->i = (int8_t)u;
        } else if (w == 2) {
            v->i = (int16_t)u;
        } else if (w == 4) {
            v->i = (int32_t)u;
        } else {
            v->i = (int64_t)u;
        }
        return SL_OK;
    }
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
        w = (b & 1) ? 4 : 2;
        if (avail < (size_t)w) {
            return SL_EPROTO;
        }
        v->u = s_be(r->p, w);
        r->p += w;
        v->t = b >= 0xde ? V_MAP : V_ARR;
        return SL_OK;
    default:
        return SL_EPROTO; /* 0xc1, reserved */
    }
    /* str/bin with a length of w bytes */
    if (avail < (size_t)w) {
        return SL_EPROTO;
    }
    n = (size_t)s_be(r->p, w);
    r->p += w;
    avail -= (size_t)w;
payload:
    if (avail < n) {
        return SL_EPROTO;
    }
    v->s = (const char *)r->p;
    v->len = (uint32_t)n;
    r->p += n;
    return SL_OK;
}

/*  Skip `count` values (iterative: no recursion on hostile nesting). */
static int s_skip(s_rd_t *r, uint64_t count)
{
    s_val_t v;
    while (count > 0) {
        if (s_read(r, &v)) {
            return SL_EPROTO;
        }
        count--;
        if (v.t == V_ARR) {
            count += v.u;
        } else if (v.t == V_MAP) {
            count += 2 * v.u;
        }
    }
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/*  formats */

static int s_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

static int s_num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/*  RFC 3339 date-time: 2026-11-25T08:00:00(.frac)?(Z|+hh:mm). */
static int s_fmt_datetime(const char *s, size_t n)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 20 || !s_digits(s, 4) || s[4] != '-' || !s_digits(s + 5, 2) || s[7] != '-' ||
        !s_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !s_digits(s + 11, 2) || s[13] != ':' || !s_digits(s + 14, 2) || s[16] != ':' ||
        !s_digits(s + 17, 2)) {
        return 0;
    }
    int y = s_num(s, 4), mo = s_num(s + 5, 2), d = s_num(s + 8, 2);
    int h = s_num(s + 11, 2), mi = s_num(s + 14, 2), se = s_num(s + 17, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60) {
        return 0;
    }
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 0;
    }
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == f) {
            return 0;
        }
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        return i + 1 == n;
    }
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        return n - i == 6 && s_digits(s + i + 1, 2) && s[i + 3] == ':' && s_digits(s + i + 4, 2) &&
               s_num(s + i + 1, 2) < 24 && s_num(s + i + 4, 2) < 60;
    }
    return 0;
}

static int s_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int s_fmt_uuid(const char *s, size_t n)
{
    if (n != 36) {
        return 0;
    }
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }
        } else if (!s_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int s_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int s_alnum(char c)
{
    return s_alpha(c) || (c >= '0' && c <= '9');
}

/*  An absolute URI (RFC 3986): scheme ":" then URI characters only
    (percent-escapes checked); non-ASCII is an IRI, not a URI. */
static int s_fmt_uri(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !s_alpha(s[0])) {
        return 0;
    }
    while (i < n && (s_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
        i++;
    }
    if (i >= n || s[i] != ':' || i + 1 == n) {
        return 0;
    }
    for (i++; i < n; i++) {
        char c = s[i];
        if (s_alnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=", c)) {
            if (c == '\0') {
                return 0;
            }
            continue;
        }
        if (c == '%' && i + 2 < n && s_hex(s[i + 1]) && s_hex(s[i + 2])) {
            i += 2;
            continue;
        }
        return 0;
    }
    return 1;
}

/*  local@domain: dot-atom local part, host name labels (RFC 5321 shape,
    no quoted local parts or address literals). */
static int s_fmt_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || n > 254) {
        return 0;
    }
    size_t ll = (size_t)(at - s), dl = n - ll - 1;
    if (ll == 0 || ll > 64 || dl == 0 || s[0] == '.' || s[ll - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < ll; i++) {
        char c = s[i];
        if (c == '.' && s[i + 1] == '.') {
            return 0;
        }
        if (!s_alnum(c) && !strchr(".!#$%&'*+/=?^_`{|}~-", c)) {
            return 0;
        }
        if (c == '\0') {
            return 0;
        }
    }
    const char *d = at + 1;
    size_t label = 0;
    for (size_t i = 0; i < dl; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!s_alnum(c) && !(c == '-' && label > 0)) {
            return 0;
        }
        if (++label > 63) {
            return 0;
        }
    }
    return label > 0 && d[dl - 1] != '-';
}

static int s_format_ok(int f, const char *s, size_t n)
{
    switch (f) {
    case F_DATETIME:
        return s_fmt_datetime(s, n);
    case F_UUID:
        return s_fmt_uuid(s, n);
    case F_URI:
        return s_fmt_uri(s, n);
    case F_EMAIL:
        return s_fmt_email(s, n);
    default:
        return 1;
    }
}

/* ------------------------------------------------------------------------ */
/*  validator */

typedef struct s_frame {
    const struct s_frame *up;
    const char *key; /* NULL: an array index */
    uint32_t klen;
    uint64_t idx;
} s_frame_t;

typedef struct {
    const char *prefix;
    char *err;
    size_t errlen;
} s_vcx_t;

static void s_path(sl_buf_t *b, const char *prefix, const s_frame_t *fr)
{
    const s_frame_t *chain[SL_EVENT_MAX_DEPTH * 2 + 8];
    int n = 0;
    for (; fr && n < (int)(sizeof chain / sizeof chain[0]); fr = fr->up) {
        chain[n++] = fr;
    }
    sl_buf_append(b, prefix, strlen(prefix));
    for (int i = n - 1; i >= 0; i--) {
        char tmp[32];
        if (chain[i]->key) {
            if (b->len) {
                sl_buf_append(b, ".", 1);
            }
            sl_buf_append(b, chain[i]->key, chain[i]->klen > 200 ? 200 : chain[i]->klen);
        } else {
            int k = snprintf(tmp, sizeof tmp, "[%llu]", (unsigned long long)chain[i]->idx);
            sl_buf_append(b, tmp, (size_t)k);
        }
    }
    if (b->len == 0) {
        sl_buf_append(b, "(root)", 6);
    }
}

static int s_fail(const s_vcx_t *cx, const s_frame_t *fr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(const s_vcx_t *cx, const s_frame_t *fr, const char *fmt, ...)
{
    sl_buf_t b = {0};
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_path(&b, cx->prefix, fr);
    if (cx->errlen) {
        snprintf(cx->err, cx->errlen, "%.*s: %s", (int)b.len, b.data ? (char *)b.data : "", msg);
    }
    sl_buf_free(&b);
    return SL_EINVAL;
}

static int s_malformed(const s_vcx_t *cx, const s_frame_t *fr)
{
    s_fail(cx, fr, "malformed msgpack");
    return SL_EPROTO;
}

static const char *s_type_text(unsigned types)
{
    switch (types) {
    case T_NULL:
        return "null";
    case T_BOOL:
        return "a boolean";
    case T_INT:
        return "an integer";
    case T_NUM:
    case T_NUM | T_INT:
        return "a number";
    case T_STR:
        return "a string";
    case T_ARR:
        return "an array";
    case T_OBJ:
        return "an object";
    default:
        return NULL;
    }
}

static int s_type_fail(const s_vcx_t *cx, const s_frame_t *fr, unsigned types)
{
    const char *one = s_type_text(types);
    if (one) {
        return s_fail(cx, fr, "expected %s", one);
    }
    static const char *const names[] = {"null",   "boolean", "integer", "number",
                                        "string", "array",   "object"};
    char list[128] = "";
    size_t len = 0;
    for (int i = 0; i < 7; i++) {
        if (types & (1u << i)) {
            len +=
                (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", names[i]);
        }
    }
    return s_fail(cx, fr, "expected one of %s", list);
}

static int s_lit_match(const s_node_t *n, const s_val_t *v, const uint8_t *start,
                       const uint8_t *end)
{
    json_t *tree = NULL;
    int hit = 0;
    for (int i = 0; i < n->nlits && !hit; i++) {
        const s_lit_t *l = &n->lits[i];
        switch (l->kind) {
        case L_NULL:
            hit = v->t == V_NIL;
            break;
        case L_BOOL:
            hit = v->t == V_BOOL && v->i == l->i;
            break;
        case L_INT:
            hit = (v->t == V_INT && v->i == l->i) || (v->t == V_FLOAT && v->d == (double)l->i);
            break;
        case L_NUM:
            hit = (v->t == V_FLOAT && v->d == l->d) || (v->t == V_INT && (double)v->i == l->d) ||
                  (v->t == V_UINT && (double)v->u == l->d);
            break;
        case L_STR:
            hit = v->t == V_STR && v->len == l->len && memcmp(v->s, l->s, l->len) == 0;
            break;
        case L_JSON:
            if ((v->t == V_ARR || v->t == V_MAP) && !tree) {
                tree = sl_msgpack_to_jansson(start, (size_t)(end - start));
            }
            hit = tree && json_equal(tree, l->j);
            break;
        }
    }
    json_decref(tree);
    return hit;
}

static int s_check(const s_vcx_t *cx, const s_node_t *n, s_rd_t *r, const s_frame_t *fr, int depth);

static int s_check_obj(const s_vcx_t *cx, const s_node_t *n, s_rd_t *r, const s_frame_t *fr,
                       int depth, uint64_t count)
{
    uint64_t seen[32] = {0}; /* 1024 properties + 1024 required at most */
    for (uint64_t k = 0; k < count; k++) {
        s_val_t key;
        if (s_read(r, &key)) {
            return s_malformed(cx, fr);
        }
        if (key.t != V_STR) {
            if (key.t == V_ARR || key.t == V_MAP) {
                if (s_skip(r, key.t == V_MAP ? 2 * key.u : key.u)) {
                    return s_malformed(cx, fr);
                }
            }
            return s_fail(cx, fr, "keys must be strings");
        }
        const s_prop_t *p = NULL;
        int idx = -1;
        for (int i = 0; i < n->nprops; i++) {
            if (n->props[i].len == key.len && memcmp(n->props[i].name, key.s, key.len) == 0) {
                p = &n->props[i];
                idx = i;
                break;
            }
        }
        s_frame_t child = {.up = fr, .key = key.s, .klen = key.len};
        const s_node_t *sub = NULL;
        if (p) {
            seen[idx >> 6] |= 1ull << (idx & 63);
            sub = p->node;
        } else if (n->addl_node) {
            sub = n->addl_node;
        } else if (!n->addl) {
            return s_fail(cx, &child, "not allowed (no such property)");
        }
        if (sub) {
            int rc = s_check(cx, sub, r, &child, depth + 1);
            if (rc) {
                return rc;
            }
        } else if (s_skip(r, 1)) {
            return s_malformed(cx, fr);
        }
    }
    for (int i = 0; i < n->nreq; i++) {
        int idx = n->req[i];
        if (!(seen[idx >> 6] & (1ull << (idx & 63)))) {
            s_frame_t child = {.up = fr, .key = n->props[idx].name, .klen = n->props[idx].len};
            return s_fail(cx, &child, "required");
        }
    }
    return SL_OK;
}

static int s_check(const s_vcx_t *cx, const s_node_t *n, s_rd_t *r, const s_frame_t *fr, int depth)
{
    if (depth > SL_EVENT_MAX_DEPTH + 1) {
        s_fail(cx, fr, "nested deeper than %d", SL_EVENT_MAX_DEPTH);
        return SL_EPROTO;
    }
    if (n->ref) {
        s_rd_t save = *r;
        int rc = s_check(cx, n->ref, r, fr, depth);
        if (rc || !n->has_own) {
            return rc;
        }
        *r = save;
    }
    const uint8_t *start = r->p;
    s_val_t v;
    if (s_read(r, &v)) {
        return s_malformed(cx, fr);
    }
    if (n->never) {
        return s_fail(cx, fr, "not allowed");
    }
    unsigned bit = 0;
    switch (v.t) {
    case V_NIL:
        bit = T_NULL;
        break;
    case V_BOOL:
        bit = T_BOOL;
        break;
    case V_INT:
    case V_UINT:
        bit = T_INT | T_NUM;
        break;
    case V_FLOAT:
        bit = T_NUM;
        if (v.d == floor(v.d) && isfinite(v.d)) {
            bit |= T_INT;
        }
        break;
    case V_STR:
        bit = T_STR;
        break;
    case V_ARR:
        bit = T_ARR;
        break;
    case V_MAP:
        bit = T_OBJ;
        break;
    default:
        bit = 0; /* bin, ext: no JSON type */
        break;
    }
    if (n->types && !(n->types & bit)) {
        if (v.t == V_ARR || v.t == V_MAP) {
            (void)s_skip(r, v.t == V_MAP ? 2 * v.u : v.u);
        }
        return s_type_fail(cx, fr, n->types);
    }
    if (n->nlits) {
        const uint8_t *end = r->p;
        if (v.t == V_ARR || v.t == V_MAP) {
            s_rd_t tmp = *r;
            if (s_skip(&tmp, v.t == V_MAP ? 2 * v.u : v.u)) {
                return s_malformed(cx, fr);
            }
            end = tmp.p;
        }
        if (!s_lit_match(n, &v, start, end)) {
            if (n->is_const) {
                return s_fail(cx, fr, "must be %s", n->lit_text);
            }
            return s_fail(cx, fr, "must be one of %s", n->lit_text);
        }
    }
    switch (v.t) {
    case V_STR:
        if (n->min_len >= 0 || n->max_len >= 0) {
            int64_t cps = 0;
            for (uint32_t i = 0; i < v.len; i++) {
                cps += ((uint8_t)v.s[i] & 0xc0) != 0x80;
            }
            if (n->min_len >= 0 && cps < n->min_len) {
                return s_fail(cx, fr, "must be at least %lld characters long",
                              (long long)n->min_len);
            }
            if (n->max_len >= 0 && cps > n->max_len) {
                return s_fail(cx, fr, "must be at most %lld characters long",
                              (long long)n->max_len);
            }
        }
        if (n->format && !s_format_ok(n->format, v.s, v.len)) {
            return s_fail(cx, fr, "must be a valid %s", s_format_names[n->format]);
        }
        if (n->re) {
            /*  regexec needs a NUL-terminated string (REG_STARTEND would
                not, but sanitizers' interceptors still strlen() it). */
            char small[256];
            char *tmp = v.len < sizeof small ? small : malloc((size_t)v.len + 1);
            int hit = 0;
            if (tmp) {
                memcpy(tmp, v.s, v.len);
                tmp[v.len] = '\0';
                hit = regexec(n->re, tmp, 0, NULL, 0) == 0;
                if (tmp != small) {
                    free(tmp);
                }
            }
            if (!hit) {
                return s_fail(cx, fr, "must match %s", n->pattern);
            }
        }
        return SL_OK;
    case V_INT:
    case V_UINT:
    case V_FLOAT: {
        long double x = v.t == V_INT    ? (long double)v.i
                        : v.t == V_UINT ? (long double)v.u
                                        : (long double)v.d;
        if (n->has_min && !(x >= (long double)n->minimum)) {
            return s_fail(cx, fr, "must be >= %.17g", n->minimum);
        }
        if (n->has_max && !(x <= (long double)n->maximum)) {
            return s_fail(cx, fr, "must be <= %.17g", n->maximum);
        }
        return SL_OK;
    }
    case V_ARR: {
        if (n->min_items >= 0 && v.u < (uint64_t)n->min_items) {
            (void)s_skip(r, v.u);
            return s_fail(cx, fr, "must have at least %lld item%s", (long long)n->min_items,
                          n->min_items == 1 ? "" : "s");
        }
        if (n->max_items >= 0 && v.u > (uint64_t)n->max_items) {
            return s_fail(cx, fr, "must have at most %lld item%s", (long long)n->max_items,
                          n->max_items == 1 ? "" : "s");
        }
        if (!n->items) {
            return s_skip(r, v.u) ? s_malformed(cx, fr) : SL_OK;
        }
        for (uint64_t i = 0; i < v.u; i++) {
            s_frame_t child = {.up = fr, .idx = i};
            int rc = s_check(cx, n->items, r, &child, depth + 1);
            if (rc) {
                return rc;
            }
        }
        return SL_OK;
    }
    case V_MAP:
        if (!n->nprops && n->addl && !n->addl_node) {
            return s_skip(r, 2 * v.u) ? s_malformed(cx, fr) : SL_OK;
        }
        return s_check_obj(cx, n, r, fr, depth, v.u);
    default:
        return SL_OK;
    }
}

int sl_schema_validate(const sl_schema_t *s, const uint8_t *p, size_t len, const char *prefix,
                       char *err, size_t errlen)
{
    static const uint8_t empty_map[1] = {0x80};
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!s || (!p && len)) {
        snprintf(err, errlen, "no schema or no body");
        return SL_EINVAL;
    }
    if (len == 0) {
        p = empty_map;
        len = 1;
    }
    s_vcx_t cx = {.prefix = prefix ? prefix : "", .err = err, .errlen = errlen};
    s_rd_t r = {p, p + len};
    int rc = s_check(&cx, s->root, &r, NULL, 0);
    if (rc == SL_OK && r.p != r.end) {
        snprintf(err, errlen, "%s: bytes follow the value", prefix && *prefix ? prefix : "(root)");
        return SL_EPROTO;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/*  compatibility */

int sl_compat_parse(const char *name, sl_compat_t *mode)
{
    static const char *const names[] = {"none", "backward", "forward", "full"};
    for (int i = 0; i < 4; i++) {
        if (name && strcasecmp(name, names[i]) == 0) {
            *mode = (sl_compat_t)i;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

const char *sl_compat_name(sl_compat_t mode)
{
    static const char *const names[] = {"none", "backward", "forward", "full"};
    return (unsigned)mode < 4 ? names[mode] : "?";
}

typedef struct {
    sl_buf_t *report;
    const char *mode;   /* "backward" / "forward" */
    const char *reader; /* "new" / "old" */
    const char *writer;
    int bad;
    int oom;
    const s_node_t *pairs[64][2]; /* (reader, writer) pairs being compared */
    int npairs;
} s_cmp_t;

static void s_cmp_bad(s_cmp_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_cmp_bad(s_cmp_t *c, const char *path, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->bad++;
    if (c->report) {
        char line[1024];
        int n = snprintf(line, sizeof line, "%s: %s: %s\n", c->mode, path, msg);
        if (n > 0 &&
            sl_buf_append(c->report, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1)) {
            c->oom = 1;
        }
    }
}

/*  A node with no constraint at all accepts every value. */
static const s_node_t *s_deref(const s_node_t *n)
{
    while (n && n->ref && !n->has_own) {
        n = n->ref;
    }
    return n;
}

static int s_open(const s_node_t *n)
{
    n = s_deref(n);
    return !n || (!n->has_own && !n->ref);
}

static unsigned s_eff_types(const s_node_t *n)
{
    unsigned t = n->types ? n->types : (T_NULL | T_BOOL | T_INT | T_NUM | T_STR | T_ARR | T_OBJ);
    if (t & T_NUM) {
        t |= T_INT;
    }
    return t;
}

static void s_cmp(s_cmp_t *c, const s_node_t *rd, const s_node_t *wr, const char *path, int depth);

static void s_child_path(char *out, size_t len, const char *path, const char *seg)
{
    snprintf(out, len, "%s%s%s", path, *path ? "." : "", seg);
}

static void s_lit_str(const s_lit_t *l, char *out, size_t len)
{
    if (l->kind == L_STR) {
        snprintf(out, len, "\"%.*s\"", (int)(l->len > 100 ? 100 : l->len), l->s);
    } else if (l->kind == L_INT) {
        snprintf(out, len, "%lld", (long long)l->i);
    } else if (l->kind == L_NUM) {
        snprintf(out, len, "%.17g", l->d);
    } else if (l->kind == L_BOOL) {
        snprintf(out, len, "%s", l->i ? "true" : "false");
    } else if (l->kind == L_NULL) {
        snprintf(out, len, "null");
    } else {
        char *t = json_dumps(l->j, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(out, len, "%.100s", t ? t : "?");
        free(t);
    }
}

static int s_lit_eq(const s_lit_t *a, const s_lit_t *b)
{
    if (a->kind != b->kind) {
        return 0;
    }
    switch (a->kind) {
    case L_NULL:
        return 1;
    case L_BOOL:
    case L_INT:
        return a->i == b->i;
    case L_NUM:
        return a->d == b->d;
    case L_STR:
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    default:
        return json_equal(a->j, b->j);
    }
}

static const s_prop_t *s_prop(const s_node_t *n, const char *name)
{
    for (int i = 0; i < n->nprops; i++) {
        if (strcmp(n->props[i].name, name) == 0) {
            return &n->props[i];
        }
    }
    return NULL;
}

/*  Every value `wr` (the writer's schema) accepts must be accepted by `rd`
    (the reader's). Reports each place where that cannot be shown. */
static void s_cmp(s_cmp_t *c, const s_node_t *rd, const s_node_t *wr, const char *path, int depth)
{
    char sub[512];
    rd = s_deref(rd);
    wr = s_deref(wr);
    if (s_open(rd)) {
        return;
    }
    if (depth > SL_SCHEMA_MAX_DEPTH) {
        s_cmp_bad(c, path, "nested too deep to compare");
        return;
    }
    if (wr && wr->never) {
        return; /* the writer writes nothing here */
    }
    /*  Recursive schemas: a pair already being compared is assumed fine. */
    for (int i = 0; i < c->npairs; i++) {
        if (c->pairs[i][0] == rd && c->pairs[i][1] == wr) {
            return;
        }
    }
    if (c->npairs >= 64) {
        s_cmp_bad(c, path, "schemas too deep to compare");
        return;
    }
    c->pairs[c->npairs][0] = rd;
    c->pairs[c->npairs][1] = wr;
    c->npairs++;
    if (s_open(wr)) {
        s_cmp_bad(c, path, "%s accepts any value here, %s constrains it", c->writer, c->reader);
        goto done;
    }
    if (rd->never) {
        s_cmp_bad(c, path, "%s allows a value here, %s allows none", c->writer, c->reader);
        goto done;
    }
    if (rd->ref && rd->has_own) {
        /*  Both the target and the own keywords must accept the writer. */
        s_cmp(c, rd->ref, wr, path, depth + 1);
    }
    if (wr->ref && wr->has_own && !wr->types && !wr->nlits) {
        wr = wr->ref; /* compare through the target (documented limit) */
        wr = s_deref(wr);
    }
    unsigned rt = s_eff_types(rd), wt = s_eff_types(wr);
    if (wr->nlits) {
        /*  The writer's values are exactly its enum. */
        for (int i = 0; i < wr->nlits; i++) {
            const s_lit_t *l = &wr->lits[i];
            int ok = 1;
            if (rd->nlits) {
                ok = 0;
                for (int k = 0; k < rd->nlits && !ok; k++) {
                    ok = s_lit_eq(l, &rd->lits[k]);
                }
            }
            unsigned lt = l->kind == L_NULL     ? T_NULL
                          : l->kind == L_BOOL   ? T_BOOL
                          : l->kind == L_INT    ? (T_INT | T_NUM)
                          : l->kind == L_NUM    ? T_NUM
                          : l->kind == L_STR    ? T_STR
                          : json_is_array(l->j) ? T_ARR
                                                : T_OBJ;
            if (ok && !(rt & lt)) {
                ok = 0;
            }
            if (!ok) {
                char lit[128];
                s_lit_str(l, lit, sizeof lit);
                s_cmp_bad(c, path, "%s allows %s, %s does not", c->writer, lit, c->reader);
            }
        }
        /*  Finer keywords over enum values are not compared. */
        goto done;
    }
    if (rd->nlits) {
        s_cmp_bad(c, path, "%s restricts the values to %s, %s does not", c->reader, rd->lit_text,
                  c->writer);
        goto done;
    }
    if (wt & ~rt) {
        static const char *const names[] = {"null",   "boolean", "integer", "number",
                                            "string", "array",   "object"};
        char list[128] = "";
        size_t len = 0;
        for (int i = 0; i < 7; i++) {
            if ((wt & ~rt) & (1u << i)) {
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "",
                                        names[i]);
            }
        }
        s_cmp_bad(c, path, "%s allows type %s, %s does not", c->writer, list, c->reader);
    }
    if (wt & rt & T_STR) {
        if (rd->min_len > 0 && (wr->min_len < 0 || wr->min_len < rd->min_len)) {
            s_cmp_bad(c, path, "%s requires minLength %lld, %s allows shorter", c->reader,
                      (long long)rd->min_len, c->writer);
        }
        if (rd->max_len >= 0 && (wr->max_len < 0 || wr->max_len > rd->max_len)) {
            s_cmp_bad(c, path, "%s requires maxLength %lld, %s allows longer", c->reader,
                      (long long)rd->max_len, c->writer);
        }
        if (rd->pattern && (!wr->pattern || strcmp(rd->pattern, wr->pattern) != 0)) {
            s_cmp_bad(c, path, "%s requires pattern %s, %s does not", c->reader, rd->pattern,
                      c->writer);
        }
        if (rd->format && rd->format != wr->format) {
            s_cmp_bad(c, path, "%s requires format %s, %s does not", c->reader,
                      s_format_names[rd->format], c->writer);
        }
    }
    if (wt & rt & (T_INT | T_NUM)) {
        if (rd->has_min && (!wr->has_min || wr->minimum < rd->minimum)) {
            s_cmp_bad(c, path, "%s requires minimum %.17g, %s allows less", c->reader, rd->minimum,
                      c->writer);
        }
        if (rd->has_max && (!wr->has_max || wr->maximum > rd->maximum)) {
            s_cmp_bad(c, path, "%s requires maximum %.17g, %s allows more", c->reader, rd->maximum,
                      c->writer);
        }
    }
    if (wt & rt & T_ARR) {
        if (rd->min_items > 0 && (wr->min_items < 0 || wr->min_items < rd->min_items)) {
            s_cmp_bad(c, path, "%s requires minItems %lld, %s allows fewer", c->reader,
                      (long long)rd->min_items, c->writer);
        }
        if (rd->max_items >= 0 && (wr->max_items < 0 || wr->max_items > rd->max_items)) {
            s_cmp_bad(c, path, "%s requires maxItems %lld, %s allows more", c->reader,
                      (long long)rd->max_items, c->writer);
        }
        if (rd->items && !s_open(rd->items)) {
            snprintf(sub, sizeof sub, "%s[]", path);
            s_cmp(c, rd->items, wr->items, sub, depth + 1);
        }
    }
    if (wt & rt & T_OBJ) {
        /*  Required: what the reader needs, the writer must always send. */
        for (int i = 0; i < rd->nreq; i++) {
            const s_prop_t *rp = &rd->props[rd->req[i]];
            const s_prop_t *wp = s_prop(wr, rp->name);
            if (!wp || !wp->required) {
                s_child_path(sub, sizeof sub, path, rp->name);
                s_cmp_bad(c, sub, "required by %s, optional in %s", c->reader, c->writer);
            }
        }
        /*  Properties the reader describes. */
        for (int i = 0; i < rd->nprops; i++) {
            const s_prop_t *rp = &rd->props[i];
            const s_prop_t *wp = s_prop(wr, rp->name);
            s_child_path(sub, sizeof sub, path, rp->name);
            if (wp) {
                s_cmp(c, rp->node, wp->node, sub, depth + 1);
            } else if (wr->addl_node) {
                s_cmp(c, rp->node, wr->addl_node, sub, depth + 1);
            } else if (wr->addl && !s_open(rp->node)) {
                s_cmp_bad(c, sub,
                          "%s constrains a property that %s leaves open "
                          "(additionalProperties)",
                          c->reader, c->writer);
            }
        }
        /*  Properties only the writer describes. */
        for (int i = 0; i < wr->nprops; i++) {
            const s_prop_t *wp = &wr->props[i];
            if (s_prop(rd, wp->name)) {
                continue;
            }
            s_child_path(sub, sizeof sub, path, wp->name);
            if (rd->addl_node) {
                s_cmp(c, rd->addl_node, wp->node, sub, depth + 1);
            } else if (!rd->addl) {
                s_cmp_bad(c, sub, "%s may send it, %s allows no other properties", c->writer,
                          c->reader);
            }
        }
        /*  Other properties. */
        if (!rd->addl || rd->addl_node) {
            if (wr->addl && !wr->addl_node) {
                if (!rd->addl) {
                    s_cmp_bad(c, path,
                              "%s allows other properties, %s does not "
                              "(additionalProperties)",
                              c->writer, c->reader);
                } else if (!s_open(rd->addl_node)) {
                    s_cmp_bad(c, path, "%s allows any other properties, %s constrains them",
                              c->writer, c->reader);
                }
            } else if (wr->addl_node) {
                if (!rd->addl) {
                    s_cmp_bad(c, path,
                              "%s allows other properties, %s does not "
                              "(additionalProperties)",
                              c->writer, c->reader);
                } else {
                    s_child_path(sub, sizeof sub, path, "*");
                    s_cmp(c, rd->addl_node, wr->addl_node, sub, depth + 1);
                }
            }
        }
    }
done:
    c->npairs--;
}

int sl_schema_compat(const sl_schema_t *old_s, const sl_schema_t *new_s, sl_compat_t mode,
                     sl_buf_t *report)
{
    int bad = 0, oom = 0;
    if (!old_s || !new_s) {
        return SL_EINVAL;
    }
    if (mode == SL_COMPAT_BACKWARD || mode == SL_COMPAT_FULL) {
        s_cmp_t c = {.report = report, .mode = "backward", .reader = "new", .writer = "old"};
        s_cmp(&c, new_s->root, old_s->root, "body", 0);
        bad += c.bad;
        oom |= c.oom;
    }
    if (mode == SL_COMPAT_FORWARD || mode == SL_COMPAT_FULL) {
        s_cmp_t c = {.report = report, .mode = "forward", .reader = "old", .writer = "new"};
        s_cmp(&c, old_s->root, new_s->root, "body", 0);
        bad += c.bad;
        oom |= c.oom;
    }
    if (oom) {
        return SL_ENOMEM;
    }
    return bad ? SL_EINVAL : SL_OK;
}

/* ------------------------------------------------------------------------ */
/*  registry */

struct sl_schema_registry {
    sl_schema_t **items;
    int count;
};

static int s_by_name_version(const void *a, const void *b)
{
    const sl_schema_t *x = *(sl_schema_t *const *)a, *y = *(sl_schema_t *const *)b;
    int c = strcmp(x->name, y->name);
    if (c) {
        return c;
    }
    return x->version < y->version ? -1 : x->version > y->version;
}

static int s_schema_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.') {
        return 0;
    }
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sl_schema_registry_t *sl_schema_registry_load(const char *dir, char *err, size_t errlen)
{
    sl_schema_registry_t *r = calloc(1, sizeof *r);
    char **names = NULL;
    int nnames = 0, cap = 0;
    DIR *d = NULL;
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "schemas %s: %s", dir, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!s_schema_file(e->d_name)) {
            continue;
        }
        if (nnames == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            names = nn;
        }
        names[nnames] = strdup(e->d_name);
        if (!names[nnames]) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        nnames++;
    }
    closedir(d);
    d = NULL;
    if (nnames) {
        qsort(names, (size_t)nnames, sizeof *names, s_str_cmp);
    }
    r->items = calloc((size_t)nnames + 1, sizeof *r->items);
    if (!r->items) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < nnames; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        sl_schema_t *s = sl_schema_load(path, err, errlen);
        if (!s) {
            goto fail;
        }
        r->items[r->count++] = s;
        if (!s->name || !s->version) {
            snprintf(err, errlen, "%s: a registered schema needs `name` and `version`", path);
            goto fail;
        }
        for (int k = 0; k < r->count - 1; k++) {
            if (strcmp(r->items[k]->name, s->name) == 0 && r->items[k]->version == s->version) {
                snprintf(err, errlen, "%s: %s@%u is also defined in %s", path, s->name, s->version,
                         r->items[k]->origin);
                goto fail;
            }
        }
    }
    if (r->count > 1) {
        qsort(r->items, (size_t)r->count, sizeof *r->items, s_by_name_version);
    }
    for (int i = 0; i < nnames; i++) {
        free(names[i]);
    }
    free(names);
    return r;
fail:
    if (d) {
        closedir(d);
    }
    for (int i = 0; i < nnames; i++) {
        free(names[i]);
    }
    free(names);
    sl_schema_registry_destroy(&r);
    return NULL;
}

void sl_schema_registry_destroy(sl_schema_registry_t **rp)
{
    if (!rp || !*rp) {
        return;
    }
    sl_schema_registry_t *r = *rp;
    for (int i = 0; i < r->count; i++) {
        sl_schema_destroy(&r->items[i]);
    }
    free(r->items);
    free(r);
    *rp = NULL;
}

const sl_schema_t *sl_schema_registry_find(const sl_schema_registry_t *r, const char *name,
                                           uint32_t version)
{
    const sl_schema_t *best = NULL;
    if (!r || !name) {
        return NULL;
    }
    for (int i = 0; i < r->count; i++) {
        const sl_schema_t *s = r->items[i];
        if (strcmp(s->name, name) != 0) {
            continue;
        }
        if (version ? s->version == version : (!best || s->version > best->version)) {
            best = s;
        }
    }
    return best;
}

const sl_schema_t *sl_schema_registry_ref(const sl_schema_registry_t *r, const char *ref)
{
    char name[256];
    uint32_t version = 0;
    if (!ref) {
        return NULL;
    }
    const char *at = strrchr(ref, '@');
    size_t n = at ? (size_t)(at - ref) : strlen(ref);
    if (n == 0 || n >= sizeof name) {
        return NULL;
    }
    memcpy(name, ref, n);
    name[n] = '\0';
    if (at) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(at + 1, &end, 10);
        if (errno || *end || end == at + 1 || v == 0 || v > UINT32_MAX) {
            return NULL;
        }
        version = (uint32_t)v;
    }
    return sl_schema_registry_find(r, name, version);
}

int sl_schema_registry_count(const sl_schema_registry_t *r)
{
    return r ? r->count : 0;
}

const sl_schema_t *sl_schema_registry_at(const sl_schema_registry_t *r, int i)
{
    return r && i >= 0 && i < r->count ? r->items[i] : NULL;
}

/* ------------------------------------------------------------ gates */

typedef struct {
    char *kind;
    const sl_schema_t *schema;
} s_route_t;

struct sl_schema_gate {
    sl_schema_registry_t *reg;
    const sl_schema_t *all; /* `schema`: every kind */
    s_route_t *routes;
    int nroutes;
};

/*  The built-in kinds of DESIGN.md "Events", each checked by its schema. */
static const char *const s_builtin_kinds[] = {
    "asset.upsert", "asset.delete",        "tag.set",         "tag.unset", "owner.set",
    "lineage.edge", "lineage.edge.delete", "incident.upsert", NULL,
};

/*  RFC 6901: '~' -> "~0", '/' -> "~1". */
static void s_pointer(char *out, size_t len, const char *key)
{
    size_t o = 0;
    if (len == 0) {
        return;
    }
    if (o + 1 < len) {
        out[o++] = '/';
    }
    for (; *key && o + 2 < len; key++) {
        if (*key == '~' || *key == '/') {
            out[o++] = '~';
            out[o++] = *key == '~' ? '0' : '1';
        } else {
            out[o++] = *key;
        }
    }
    out[o] = '\0';
}

static int s_gate_add(sl_schema_gate_t *g, const char *kind, const sl_schema_t *sc)
{
    s_route_t *grown = realloc(g->routes, ((size_t)g->nroutes + 1) * sizeof *grown);
    if (!grown) {
        return SL_ENOMEM;
    }
    g->routes = grown;
    g->routes[g->nroutes].kind = strdup(kind);
    if (!g->routes[g->nroutes].kind) {
        return SL_ENOMEM;
    }
    g->routes[g->nroutes].schema = sc;
    g->nroutes++;
    return SL_OK;
}

/*  Routes from a map (JSON text), or the built-in ones. SL_EINVAL with a
    reason in err and the entry at fault in where. */
static int s_gate_routes(sl_schema_gate_t *g, const char *dir, const char *map, char *err,
                         size_t errlen, char *where, size_t wherelen)
{
    if (!map) {
        for (int i = 0; s_builtin_kinds[i]; i++) {
            char ref[64];
            snprintf(ref, sizeof ref, "%s@1", s_builtin_kinds[i]);
            const sl_schema_t *sc = sl_schema_registry_ref(g->reg, ref);
            if (!sc) {
                snprintf(err, errlen, "kind '%s': schema '%s' is not in %s", s_builtin_kinds[i],
                         ref, dir);
                return SL_ENOTFOUND;
            }
            int rc = s_gate_add(g, s_builtin_kinds[i], sc);
            if (rc) {
                snprintf(err, errlen, "out of memory");
                return rc;
            }
        }
        return SL_OK;
    }
    json_error_t je;
    json_t *root = json_loads(map, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "expected a map of event kinds to \"name@version\"");
        return SL_EINVAL;
    }
    const char *kind;
    json_t *ref;
    int rc = SL_OK;
    json_object_foreach(root, kind, ref)
    {
        if (!json_is_string(ref)) {
            snprintf(err, errlen, "kind '%s': expected \"name@version\"", kind);
            s_pointer(where, wherelen, kind);
            rc = SL_EINVAL;
            break;
        }
        const sl_schema_t *sc = sl_schema_registry_ref(g->reg, json_string_value(ref));
        if (!sc) {
            snprintf(err, errlen, "kind '%s': schema '%s' is not in %s", kind,
                     json_string_value(ref), dir);
            s_pointer(where, wherelen, kind);
            rc = SL_ENOTFOUND;
            break;
        }
        if ((rc = s_gate_add(g, kind, sc)) != SL_OK) {
            snprintf(err, errlen, "out of memory");
            break;
        }
    }
    json_decref(root);
    return rc;
}

/*  When routes name two versions of one schema, each version must be
    compatible with the mapped one before it (nothing mapped between), in
    the mode the newer one declares. The first failure in err, the route
    of the newer version in where. */
static int s_gate_versions(const sl_schema_gate_t *g, char *err, size_t errlen, char *where,
                           size_t wherelen)
{
    for (int i = 0; i < g->nroutes; i++) {
        const sl_schema_t *a = g->routes[i].schema;
        for (int k = 0; k < g->nroutes; k++) {
            const sl_schema_t *b = g->routes[k].schema;
            if (strcmp(a->name, b->name) != 0 || b->version <= a->version) {
                continue;
            }
            int between = 0;
            for (int m = 0; m < g->nroutes; m++) {
                const sl_schema_t *c = g->routes[m].schema;
                between |= strcmp(c->name, a->name) == 0 && c->version > a->version &&
                           c->version < b->version;
            }
            if (between) {
                continue;
            }
            sl_buf_t rep = {0};
            sl_compat_t mode = sl_schema_compat_mode(b);
            int rc = sl_schema_compat(a, b, mode, &rep);
            if (rc == SL_OK) {
                sl_buf_free(&rep);
                continue;
            }
            /*  One line: each offending field, separated by "; ". */
            sl_buf_t one = {0};
            int bad = 0;
            for (size_t x = 0; x < rep.len && !bad; x++) {
                if (rep.data[x] != '\n') {
                    bad = sl_buf_append(&one, rep.data + x, 1);
                } else if (x + 1 < rep.len) {
                    bad = sl_buf_append(&one, "; ", 2);
                }
            }
            snprintf(err, errlen, "%s@%u is not %s compatible with %s@%u: %.*s", b->name,
                     b->version, sl_compat_name(mode), a->name, a->version, (int)one.len,
                     one.data ? (const char *)one.data : "");
            sl_buf_free(&one);
            s_pointer(where, wherelen, g->routes[k].kind);
            sl_buf_free(&rep);
            return rc == SL_ENOMEM ? SL_ENOMEM : SL_EINVAL;
        }
    }
    return SL_OK;
}

sl_schema_gate_t *sl_schema_gate_new(const char *dir, const char *map, const char *schema,
                                     char *err, size_t errlen)
{
    char where[8];
    err[0] = '\0';
    if (!dir) {
        snprintf(err, errlen, "no schema directory");
        return NULL;
    }
    if (map && schema) {
        snprintf(err, errlen, "give a schema for every event or a map by kind, not both");
        return NULL;
    }
    sl_schema_gate_t *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->reg = sl_schema_registry_load(dir, err, errlen);
    if (!g->reg) {
        goto fail;
    }
    if (schema) {
        g->all = sl_schema_registry_ref(g->reg, schema);
        if (!g->all) {
            snprintf(err, errlen, "schema '%s' is not in %s", schema, dir);
            goto fail;
        }
        return g;
    }
    char why[900] = "";
    if (s_gate_routes(g, dir, map, why, sizeof why, where, sizeof where) ||
        s_gate_versions(g, why, sizeof why, where, sizeof where)) {
        snprintf(err, errlen, "%s%s", map ? "map: " : "", why);
        goto fail;
    }
    return g;
fail:
    sl_schema_gate_destroy(&g);
    return NULL;
}

void sl_schema_gate_destroy(sl_schema_gate_t **gp)
{
    if (!gp || !*gp) {
        return;
    }
    sl_schema_gate_t *g = *gp;
    for (int i = 0; i < g->nroutes; i++) {
        free(g->routes[i].kind);
    }
    free(g->routes);
    sl_schema_registry_destroy(&g->reg);
    free(g);
    *gp = NULL;
}

int sl_schema_gate_check(const sl_schema_gate_t *g, const sl_event_t *ev, char *reason, size_t len)
{
    const sl_schema_t *sc = g->all;
    for (int i = 0; !sc && i < g->nroutes; i++) {
        if (sl_slice_eq(ev->kind, g->routes[i].kind)) {
            sc = g->routes[i].schema;
        }
    }
    if (!sc) {
        snprintf(reason, len, "kind '%.*s': no schema for this kind",
                 (int)(ev->kind.len > 200 ? 200 : ev->kind.len), ev->kind.ptr ? ev->kind.ptr : "");
        return SL_ENOTFOUND;
    }
    return sl_schema_validate(sc, (const uint8_t *)ev->body.ptr, ev->body.len, "body", reason, len);
}

int sl_schema_gate_kinds(const sl_schema_gate_t *g)
{
    return g ? g->nroutes : 0;
}

const sl_schema_registry_t *sl_schema_gate_registry(const sl_schema_gate_t *g)
{
    return g ? g->reg : NULL;
}

int sl_schema_map_check(const char *dir, const char *map, char *err, size_t errlen, char *where,
                        size_t wherelen)
{
    char why[256];
    err[0] = '\0';
    where[0] = '\0';
    if (!dir || !map) {
        return 0;
    }
    sl_schema_gate_t g = {0};
    g.reg = sl_schema_registry_load(dir, why, sizeof why);
    if (!g.reg) {
        return 0; /* not readable from here: the start reports it */
    }
    int rc = s_gate_routes(&g, dir, map, err, errlen, where, wherelen);
    if (rc == SL_OK) {
        rc = s_gate_versions(&g, err, errlen, where, wherelen);
    }
    for (int i = 0; i < g.nroutes; i++) {
        free(g.routes[i].kind);
    }
    free(g.routes);
    sl_schema_registry_destroy(&g.reg);
    return rc ? 1 : 0;
}

int sl_schema_check_option(const char *option, const char *json, const sl_opt_values_t *opts,
                           char *err, size_t errlen, char *where, size_t wherelen)
{
    if (strcmp(option, "schema_map") != 0) {
        return 0;
    }
    return sl_schema_map_check(sl_opt_value(opts, "schemas"), json, err, errlen, where, wherelen);
}
