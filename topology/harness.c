/*  Topology unit tests (sluice/harness.h): the tests file, the derived plan
    and the comparison of what came out with what was expected.

    The derived plan reuses the jsonl_in and jsonl_out kinds as injection
    source and capture sink: they already turn event API JSON into events
    and back, finish at end of file and flush on stop, so the engine runs
    the test exactly as it runs a topology, with no test-only code paths. */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "sluice/engine.h"
#include "sluice/event.h"
#include "sluice/harness.h"
#include "sluice/metrics.h"

enum { S_COUNT = 1, S_EQUALS, S_EXISTS, S_ABSENT };

typedef struct {
    int op;
    char *field;    /* NULL for count */
    json_t *expect; /* for equals */
    int64_t count;
    int event; /* -1 = every event */
    sl_pos_t pos;
} s_cond_t;

typedef struct {
    char *actor;
    int output;  /* index into the kind's outputs */
    char *label; /* actor or actor.output, as written */
    int no_output;
    s_cond_t *conds;
    int n_conds;
    sl_pos_t pos;
} s_out_t;

typedef struct {
    char *actor;
    sl_buf_t lines; /* the events as NDJSON */
    int n_events;
    sl_pos_t pos;
} s_in_t;

typedef struct {
    char *name;
    s_in_t *ins;
    int n_ins;
    s_out_t *outs;
    int n_outs;
    sl_pos_t pos;
} s_test_t;

struct sl_harness {
    char *file;
    const sl_plan_t *plan;
    s_test_t *tests;
    int n_tests;
};

typedef struct {
    const char *file;
    yaml_document_t *doc;
    sl_errors_t *errors;
    const sl_plan_t *plan;
} s_ctx_t;

static int s_printf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_printf(sl_buf_t *b, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return SL_ENOMEM;
    }
    int rc = sl_buf_append(b, s, (size_t)n);
    free(s);
    return rc;
}

static sl_pos_t s_pos(const yaml_node_t *n)
{
    return (sl_pos_t){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static yaml_node_t *s_node(s_ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static const char *s_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/*  A map's value for `key`, or NULL. */
static yaml_node_t *s_get(s_ctx_t *c, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = s_scalar(s_node(c, p->key));
        if (k && strcmp(k, key) == 0) {
            return s_node(c, p->value);
        }
    }
    return NULL;
}

/*  Every key of `map` must be one of `known` (NULL-terminated). */
static int s_keys_ok(s_ctx_t *c, yaml_node_t *map, const char *what, const char *const *known)
{
    int ok = 1;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = s_node(c, p->key);
        const char *k = s_scalar(kn);
        int found = 0;
        for (int i = 0; k && known[i]; i++) {
            found |= strcmp(k, known[i]) == 0;
        }
        if (!found) {
            sl_errors_add(c->errors, c->file, s_pos(kn), "%s: unknown key '%s'", what,
                          k ? k : "(not a string)");
            ok = 0;
        }
    }
    return ok;
}

/*  A YAML value as JSON: plain scalars take their YAML 1.1 core types
    (null, booleans, numbers), quoted ones stay strings. */
static json_t *s_to_json(s_ctx_t *c, yaml_node_t *n, int depth)
{
    if (!n || depth > SL_EVENT_MAX_DEPTH) {
        return NULL;
    }
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top;
             p++) {
            const char *k = s_scalar(s_node(c, p->key));
            json_t *v = s_to_json(c, s_node(c, p->value), depth + 1);
            if (!k || !v || json_object_set_new(o, k, v) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++) {
            json_t *v = s_to_json(c, s_node(c, *it), depth + 1);
            if (!v || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    const char *s = s_scalar(n);
    if (!s) {
        return NULL;
    }
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (!*s || strcmp(s, "null") == 0 || strcmp(s, "~") == 0) {
            return json_null();
        }
        if (strcmp(s, "true") == 0) {
            return json_true();
        }
        if (strcmp(s, "false") == 0) {
            return json_false();
        }
        char *end;
        errno = 0;
        long long i = strtoll(s, &end, 10);
        if (!*end && errno == 0) {
            return json_integer(i);
        }
        double d = strtod(s, &end);
        if (!*end && end != s) {
            return json_real(d);
        }
    }
    return json_stringn(s, n->data.scalar.length);
}

static int s_bool(s_ctx_t *c, yaml_node_t *n, const char *what, int *out)
{
    const char *s = s_scalar(n);
    if (s && strcmp(s, "true") == 0) {
        *out = 1;
        return 1;
    }
    if (s && strcmp(s, "false") == 0) {
        *out = 0;
        return 1;
    }
    sl_errors_add(c->errors, c->file, s_pos(n), "%s: expected true or false", what);
    return 0;
}

static int s_int(s_ctx_t *c, yaml_node_t *n, const char *what, int64_t *out)
{
    const char *s = s_scalar(n);
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : -1;
    if (!s || !*s || *end || v < 0) {
        sl_errors_add(c->errors, c->file, s_pos(n), "%s: expected an integer >= 0", what);
        return 0;
    }
    *out = v;
    return 1;
}

/*  "actor" or "actor.output" against the plan. */
static int s_target(s_ctx_t *c, yaml_node_t *n, s_out_t *o)
{
    const char *s = s_scalar(n);
    if (!s) {
        sl_errors_add(c->errors, c->file, s_pos(n), "expected an actor name (NAME or NAME.OUTPUT)");
        return 0;
    }
    o->pos = s_pos(n);
    o->label = strdup(s);
    if (!o->label) {
        return 0;
    }
    const char *dot = strchr(s, '.');
    o->actor = dot ? strndup(s, (size_t)(dot - s)) : strdup(s);
    if (!o->actor) {
        return 0;
    }
    const sl_plan_actor_t *pa = sl_plan_actor(c->plan, o->actor);
    if (!pa) {
        sl_errors_add(c->errors, c->file, o->pos, "no actor '%s' in topology '%s'", o->actor,
                      c->plan->name);
        return 0;
    }
    if (!pa->kind->outputs || !pa->kind->outputs[0].name) {
        sl_errors_add(c->errors, c->file, o->pos,
                      "actor '%s' (%s) is a sink: nothing comes out of it to assert on", o->actor,
                      pa->kind->name);
        return 0;
    }
    o->output = dot ? sl_actor_kind_output(pa->kind, dot + 1) : 0;
    if (o->output < 0) {
        sl_errors_add(c->errors, c->file, o->pos, "actor '%s' (%s) has no output '%s'", o->actor,
                      pa->kind->name, dot + 1);
        return 0;
    }
    return 1;
}

static int s_cond(s_ctx_t *c, yaml_node_t *n, s_cond_t *k)
{
    static const char *const known[] = {"field", "equals", "exists", "absent",
                                        "count", "event",  NULL};
    k->pos = s_pos(n);
    k->event = -1;
    if (n->type != YAML_MAPPING_NODE) {
        sl_errors_add(c->errors, c->file, k->pos,
                      "condition: expected a map such as {count: 1} or {field: F, equals: V}");
        return 0;
    }
    if (!s_keys_ok(c, n, "condition", known)) {
        return 0;
    }
    yaml_node_t *field = s_get(c, n, "field"), *eq = s_get(c, n, "equals"),
                *ex = s_get(c, n, "exists"), *ab = s_get(c, n, "absent"),
                *cnt = s_get(c, n, "count"), *ev = s_get(c, n, "event");
    int ops = (eq != NULL) + (ex != NULL) + (ab != NULL) + (cnt != NULL);
    if (ops != 1) {
        sl_errors_add(c->errors, c->file, k->pos,
                      "condition: expected exactly one of equals, exists, absent, count");
        return 0;
    }
    if (cnt) {
        if (field || ev) {
            sl_errors_add(c->errors, c->file, k->pos, "condition: count takes no field or event");
            return 0;
        }
        k->op = S_COUNT;
        return s_int(c, cnt, "count", &k->count);
    }
    if (!field || !s_scalar(field) || !*s_scalar(field)) {
        sl_errors_add(c->errors, c->file, field ? s_pos(field) : k->pos,
                      "condition: expected a field (a dotted path such as body.tag)");
        return 0;
    }
    k->field = strdup(s_scalar(field));
    if (ev) {
        int64_t i;
        if (!s_int(c, ev, "event", &i)) {
            return 0;
        }
        k->event = (int)(i > 1000000 ? 1000000 : i);
    }
    if (eq) {
        k->op = S_EQUALS;
        k->expect = s_to_json(c, eq, 0);
        if (!k->expect) {
            sl_errors_add(c->errors, c->file, s_pos(eq), "equals: not a value");
            return 0;
        }
        return 1;
    }
    int b;
    if (!s_bool(c, ex ? ex : ab, ex ? "exists" : "absent", &b)) {
        return 0;
    }
    /* exists: false is absent, absent: false is exists */
    k->op = (ex != NULL) == (b != 0) ? S_EXISTS : S_ABSENT;
    return 1;
}

static int s_input(s_ctx_t *c, yaml_node_t *n, s_in_t *in)
{
    static const char *const known[] = {"actor", "events", NULL};
    in->pos = s_pos(n);
    if (n->type != YAML_MAPPING_NODE) {
        sl_errors_add(c->errors, c->file, in->pos, "input: expected a map with actor and events");
        return 0;
    }
    if (!s_keys_ok(c, n, "input", known)) {
        return 0;
    }
    yaml_node_t *an = s_get(c, n, "actor"), *evs = s_get(c, n, "events");
    const char *actor = s_scalar(an);
    if (!actor) {
        sl_errors_add(c->errors, c->file, an ? s_pos(an) : in->pos,
                      "input: expected an actor name");
        return 0;
    }
    in->actor = strdup(actor);
    if (!sl_plan_actor(c->plan, actor)) {
        sl_errors_add(c->errors, c->file, s_pos(an), "no actor '%s' in topology '%s'", actor,
                      c->plan->name);
        in->n_events = -1; /* failed: the events are still checked */
    }
    if (!evs || evs->type != YAML_SEQUENCE_NODE) {
        sl_errors_add(c->errors, c->file, evs ? s_pos(evs) : in->pos,
                      "input: expected a list of events");
        return 0;
    }
    int ok = in->n_events == 0;
    in->n_events = 0;
    sl_buf_t scratch = {0};
    for (yaml_node_item_t *it = evs->data.sequence.items.start; it < evs->data.sequence.items.top;
         it++) {
        yaml_node_t *en = s_node(c, *it);
        json_t *j = en && en->type == YAML_MAPPING_NODE ? s_to_json(c, en, 0) : NULL;
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text) {
            sl_errors_add(c->errors, c->file, en ? s_pos(en) : in->pos,
                          "event: expected an event API object (a map)");
            ok = 0;
            continue;
        }
        sl_event_t ev;
        char err[256];
        if (sl_event_from_json(text, strlen(text), &ev, &scratch, err, sizeof err) != SL_OK) {
            sl_errors_add(c->errors, c->file, s_pos(en), "event: %s", err);
            ok = 0;
        } else if (sl_buf_append(&in->lines, text, strlen(text)) != SL_OK ||
                   sl_buf_append(&in->lines, "\n", 1) != SL_OK) {
            ok = 0;
        }
        in->n_events++;
        free(text);
    }
    sl_buf_free(&scratch);
    return ok && in->n_events >= 0;
}

static int s_test(s_ctx_t *c, yaml_node_t *n, s_test_t *t)
{
    static const char *const known[] = {"name", "inputs", "outputs", "no_output", NULL};
    t->pos = s_pos(n);
    if (n->type != YAML_MAPPING_NODE) {
        sl_errors_add(c->errors, c->file, t->pos,
                      "test: expected a map with name, inputs, outputs, no_output");
        return 0;
    }
    int ok = s_keys_ok(c, n, "test", known);
    yaml_node_t *nn = s_get(c, n, "name"), *ins = s_get(c, n, "inputs"),
                *outs = s_get(c, n, "outputs"), *none = s_get(c, n, "no_output");
    if (!s_scalar(nn) || !*s_scalar(nn)) {
        sl_errors_add(c->errors, c->file, nn ? s_pos(nn) : t->pos, "test: expected a name");
        return 0;
    }
    t->name = strdup(s_scalar(nn));
    if (!ins || ins->type != YAML_SEQUENCE_NODE ||
        ins->data.sequence.items.top == ins->data.sequence.items.start) {
        sl_errors_add(c->errors, c->file, ins ? s_pos(ins) : t->pos,
                      "test '%s': expected inputs, a non-empty list", t->name);
        return 0;
    }
    int n_outs = 0;
    for (yaml_node_t *l = outs;; l = none) {
        if (l && l->type != YAML_SEQUENCE_NODE) {
            sl_errors_add(c->errors, c->file, s_pos(l), "test '%s': expected a list", t->name);
            return 0;
        }
        n_outs += l ? (int)(l->data.sequence.items.top - l->data.sequence.items.start) : 0;
        if (l == none) {
            break;
        }
    }
    if (n_outs == 0) {
        sl_errors_add(c->errors, c->file, t->pos,
                      "test '%s': expected outputs or no_output (something to assert)", t->name);
        return 0;
    }
    int n_ins = (int)(ins->data.sequence.items.top - ins->data.sequence.items.start);
    t->ins = calloc((size_t)n_ins, sizeof *t->ins);
    t->outs = calloc((size_t)n_outs, sizeof *t->outs);
    if (!t->ins || !t->outs) {
        return 0;
    }
    for (yaml_node_item_t *it = ins->data.sequence.items.start; it < ins->data.sequence.items.top;
         it++) {
        ok &= s_input(c, s_node(c, *it), &t->ins[t->n_ins++]);
    }
    static const char *const out_known[] = {"actor", "conditions", NULL};
    for (yaml_node_item_t *it = outs ? outs->data.sequence.items.start : NULL;
         outs && it < outs->data.sequence.items.top; it++) {
        yaml_node_t *on = s_node(c, *it);
        s_out_t *o = &t->outs[t->n_outs++];
        o->pos = s_pos(on);
        if (on->type != YAML_MAPPING_NODE || !s_keys_ok(c, on, "output", out_known)) {
            if (on->type != YAML_MAPPING_NODE) {
                sl_errors_add(c->errors, c->file, o->pos,
                              "output: expected a map with actor and conditions");
            }
            ok = 0;
            continue;
        }
        yaml_node_t *an = s_get(c, on, "actor"), *cn = s_get(c, on, "conditions");
        if (!an) {
            sl_errors_add(c->errors, c->file, o->pos, "output: expected an actor");
            ok = 0;
            continue;
        }
        ok &= s_target(c, an, o);
        if (!cn || cn->type != YAML_SEQUENCE_NODE ||
            cn->data.sequence.items.top == cn->data.sequence.items.start) {
            sl_errors_add(c->errors, c->file, cn ? s_pos(cn) : o->pos,
                          "output: expected conditions, a non-empty list");
            ok = 0;
            continue;
        }
        int nc = (int)(cn->data.sequence.items.top - cn->data.sequence.items.start);
        o->conds = calloc((size_t)nc, sizeof *o->conds);
        if (!o->conds) {
            return 0;
        }
        for (yaml_node_item_t *ci = cn->data.sequence.items.start; ci < cn->data.sequence.items.top;
             ci++) {
            ok &= s_cond(c, s_node(c, *ci), &o->conds[o->n_conds++]);
        }
    }
    for (yaml_node_item_t *it = none ? none->data.sequence.items.start : NULL;
         none && it < none->data.sequence.items.top; it++) {
        s_out_t *o = &t->outs[t->n_outs++];
        o->no_output = 1;
        ok &= s_target(c, s_node(c, *it), o);
    }
    return ok;
}

static void s_test_free(s_test_t *t)
{
    free(t->name);
    for (int i = 0; i < t->n_ins; i++) {
        free(t->ins[i].actor);
        sl_buf_free(&t->ins[i].lines);
    }
    free(t->ins);
    for (int i = 0; i < t->n_outs; i++) {
        s_out_t *o = &t->outs[i];
        free(o->actor);
        free(o->label);
        for (int j = 0; j < o->n_conds; j++) {
            free(o->conds[j].field);
            json_decref(o->conds[j].expect);
        }
        free(o->conds);
    }
    free(t->outs);
}

void sl_harness_destroy(sl_harness_t **hp)
{
    if (!hp || !*hp) {
        return;
    }
    sl_harness_t *h = *hp;
    for (int i = 0; i < h->n_tests; i++) {
        s_test_free(&h->tests[i]);
    }
    free(h->tests);
    free(h->file);
    free(h);
    *hp = NULL;
}

/*  "FILE:LINE:COL: ..." -> LINE * 2^20 + COL, for sorting one file's errors. */
static long s_err_key(const char *line, size_t skip)
{
    if (strlen(line) <= skip) {
        return 0;
    }
    char *end;
    long l = strtol(line + skip, &end, 10);
    long c = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
    return l * (1L << 20) + c;
}

/*  Errors in file order, as `sluice check` reports a topology's. */
static void s_errors_sort(sl_errors_t *e, int first, const char *path)
{
    size_t skip = strlen(path) + 1;
    for (int i = first + 1; e && i < e->count; i++) {
        char *l = e->lines[i];
        long k = s_err_key(l, skip);
        int j = i - 1;
        while (j >= first && s_err_key(e->lines[j], skip) > k) {
            e->lines[j + 1] = e->lines[j];
            j--;
        }
        e->lines[j + 1] = l;
    }
}

sl_harness_t *sl_harness_load(const char *path, const sl_plan_t *plan, sl_errors_t *errors)
{
    int first_error = errors ? errors->count : 0;
    sl_harness_t *h = calloc(1, sizeof *h);
    FILE *f = fopen(path, "rb");
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0, ok = 0;
    if (!h || !(h->file = strdup(path))) {
        goto done;
    }
    h->plan = plan;
    if (!f) {
        sl_errors_add(errors, path, (sl_pos_t){0, 0}, "cannot open: %s", strerror(errno));
        goto done;
    }
    if (!yaml_parser_initialize(&parser)) {
        goto done;
    }
    have_parser = 1;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        sl_errors_add(
            errors, path,
            (sl_pos_t){(int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1},
            "invalid YAML: %s", parser.problem ? parser.problem : "parse error");
        goto done;
    }
    have_doc = 1;
    s_ctx_t c = {.file = path, .doc = &doc, .errors = errors, .plan = plan};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *tests = s_get(&c, root, "tests");
    if (!root || root->type != YAML_MAPPING_NODE || !tests || tests->type != YAML_SEQUENCE_NODE) {
        sl_errors_add(errors, path, root ? s_pos(root) : (sl_pos_t){1, 1},
                      "expected a map with 'tests', a list of tests");
        goto done;
    }
    static const char *const known[] = {"tests", NULL};
    ok = s_keys_ok(&c, root, "tests file", known);
    int n = (int)(tests->data.sequence.items.top - tests->data.sequence.items.start);
    if (n == 0) {
        sl_errors_add(errors, path, s_pos(tests), "no tests");
        ok = 0;
    }
    h->tests = calloc((size_t)n + 1, sizeof *h->tests);
    if (!h->tests) {
        ok = 0;
        goto done;
    }
    for (yaml_node_item_t *it = tests->data.sequence.items.start;
         it < tests->data.sequence.items.top; it++) {
        s_test_t *t = &h->tests[h->n_tests++];
        ok &= s_test(&c, s_node(&c, *it), t);
        for (int j = 0; t->name && j < h->n_tests - 1; j++) {
            if (h->tests[j].name && strcmp(h->tests[j].name, t->name) == 0) {
                sl_errors_add(errors, path, t->pos, "duplicate test name '%s'", t->name);
                ok = 0;
            }
        }
    }
done:
    if (have_doc) {
        yaml_document_delete(&doc);
    }
    if (have_parser) {
        yaml_parser_delete(&parser);
    }
    if (f) {
        fclose(f);
    }
    if (!ok) {
        if (h && errors && errors->count == first_error) {
            sl_errors_add(errors, path, (sl_pos_t){0, 0}, "out of memory");
        }
        sl_harness_destroy(&h);
        s_errors_sort(errors, first_error, path);
    }
    return h;
}

int sl_harness_count(const sl_harness_t *h)
{
    return h ? h->n_tests : 0;
}

const char *sl_harness_name(const sl_harness_t *h, int i)
{
    return h && i >= 0 && i < h->n_tests ? h->tests[i].name : NULL;
}

/* --- the derived plan ---------------------------------------------------- */

static int s_index(const sl_plan_t *p, const char *name)
{
    const sl_plan_actor_t *a = sl_plan_actor(p, name);
    return a ? (int)(a - p->actors) : -1;
}

/*  mark[i] |= bit for every actor reachable from the seeds, downstream
    (forward) or upstream (backward). */
static void s_reach(const sl_plan_t *p, char *mark, char bit, int forward)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = 0; i < p->n_actors; i++) {
            const sl_plan_actor_t *a = &p->actors[i];
            for (int j = 0; j < a->n_inputs; j++) {
                int u = s_index(p, a->inputs[j].actor);
                if (u < 0) {
                    continue;
                }
                int from = forward ? u : i, to = forward ? i : u;
                if ((mark[from] & bit) && !(mark[to] & bit)) {
                    mark[to] |= bit;
                    changed = 1;
                }
            }
        }
    }
}

static char *s_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int s_add_input(sl_plan_actor_t *a, const char *actor, const char *output, int index)
{
    sl_plan_input_t *in = realloc(a->inputs, (size_t)(a->n_inputs + 1) * sizeof *in);
    if (!in) {
        return SL_ENOMEM;
    }
    a->inputs = in;
    in = &a->inputs[a->n_inputs];
    memset(in, 0, sizeof *in);
    in->actor = strdup(actor);
    in->output = strdup(output);
    in->output_index = index;
    a->n_inputs++;
    return in->actor && in->output ? SL_OK : SL_ENOMEM;
}

static int s_add_opt(sl_plan_actor_t *a, const char *key, const char *text)
{
    sl_plan_opt_t *o = realloc(a->opts, (size_t)(a->n_opts + 1) * sizeof *o);
    if (!o) {
        return SL_ENOMEM;
    }
    a->opts = o;
    o = &a->opts[a->n_opts];
    memset(o, 0, sizeof *o);
    o->key = strdup(key);
    o->text = strdup(text);
    a->n_opts++;
    return o->key && o->text ? SL_OK : SL_ENOMEM;
}

static int s_copy_opts(sl_plan_actor_t *d, const sl_plan_actor_t *s)
{
    d->opts = calloc((size_t)s->n_opts + 1, sizeof *d->opts);
    if (!d->opts) {
        return SL_ENOMEM;
    }
    for (int i = 0; i < s->n_opts; i++) {
        const sl_plan_opt_t *so = &s->opts[i];
        sl_plan_opt_t *o = &d->opts[d->n_opts++];
        *o = *so;
        o->key = s_strdup0(so->key);
        o->text = s_strdup0(so->text);
        o->items = so->n_items ? calloc((size_t)so->n_items, sizeof *o->items) : NULL;
        o->n_items = 0;
        if (!o->key || (so->text && !o->text) || (so->n_items && !o->items)) {
            return SL_ENOMEM;
        }
        for (int k = 0; k < so->n_items; k++) {
            o->items[o->n_items] = strdup(so->items[k]);
            if (!o->items[o->n_items]) {
                return SL_ENOMEM;
            }
            o->n_items++;
        }
    }
    return SL_OK;
}

static sl_plan_actor_t *s_new_actor(sl_plan_t *d, const char *name, const sl_actor_kind_t *kind)
{
    sl_plan_actor_t *a = &d->actors[d->n_actors++];
    a->name = strdup(name);
    a->fingerprint = strdup(name);
    a->kind = kind;
    a->workers = 1;
    return a->name && a->fingerprint ? a : NULL;
}

/*  Whether actor i runs: on a path from an injection to an assertion, or
    (no outputs: sl_harness_inject) anywhere downstream of the injection
    except sources, which take no inputs and so only run when injected. */
static int s_keep(const sl_plan_t *p, const s_test_t *t, const char *mark, int i)
{
    if (t->n_outs) {
        return mark[i] == 3;
    }
    return (mark[i] & 1) && !(p->actors[i].kind->flags & SL_KIND_SOURCE);
}

/*  The plan that runs test t: see sluice/harness.h. Files live in dir; the
    store too, unless store_path names the real one. */
static sl_plan_t *s_derive(const sl_plan_t *p, const s_test_t *t, const char *dir,
                           const char *store_path, char *err, size_t errlen)
{
    const sl_actor_kind_t *in_kind = sl_actor_kind_find("jsonl_in");
    const sl_actor_kind_t *out_kind = sl_actor_kind_find("jsonl_out");
    char *mark = calloc((size_t)p->n_actors + 1, 1);
    sl_plan_t *d = calloc(1, sizeof *d);
    char name[256], path[4096];
    if (!mark || !d || !in_kind || !out_kind) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* bit 1: downstream of an injection; bit 2: upstream of an assertion */
    for (int i = 0; i < t->n_ins; i++) {
        mark[s_index(p, t->ins[i].actor)] |= 1;
    }
    s_reach(p, mark, 1, 1);
    for (int i = 0; i < t->n_outs; i++) {
        int k = s_index(p, t->outs[i].actor);
        if (!t->outs[i].no_output && !(mark[k] & 1)) {
            snprintf(err, errlen, "output '%s' is not downstream of any input of the test",
                     t->outs[i].label);
            goto fail;
        }
        mark[k] |= 2;
    }
    s_reach(p, mark, 2, 0);

    d->file = s_strdup0(p->file);
    d->name = s_strdup0(p->name);
    d->version = p->version;
    d->tenancy = p->tenancy;
    snprintf(path, sizeof path, "%s/store", dir);
    d->store_path = store_path ? strdup(store_path) : p->store_path ? strdup(path) : NULL;
    d->tenants = calloc((size_t)p->n_tenants + 1, sizeof *d->tenants);
    d->actors = calloc((size_t)(p->n_actors + t->n_ins + t->n_outs) + 1, sizeof *d->actors);
    if (!d->tenants || !d->actors) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < p->n_tenants; i++) {
        d->tenants[i].name = s_strdup0(p->tenants[i].name);
        d->tenants[i].keys = s_strdup0(p->tenants[i].keys);
        d->n_tenants++;
    }
    for (int i = 0; i < p->n_actors; i++) {
        const sl_plan_actor_t *s = &p->actors[i];
        if (!s_keep(p, t, mark, i)) {
            continue;
        }
        int injected = -1;
        for (int k = 0; k < t->n_ins; k++) {
            if (strcmp(t->ins[k].actor, s->name) == 0) {
                injected = k; /* the first entry: its file holds them all */
                break;
            }
        }
        /* an injected source is replaced by a reader of the test's events,
           under its own name, so its consumers read them as its output */
        int replace = injected >= 0 && (s->kind->flags & SL_KIND_SOURCE);
        sl_plan_actor_t *a = s_new_actor(d, s->name, replace ? in_kind : s->kind);
        if (!a) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (replace) {
            snprintf(path, sizeof path, "%s/in-%d.jsonl", dir, injected);
            if (s_add_opt(a, "path", path)) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            continue;
        }
        a->workers = s->workers;
        if (s_copy_opts(a, s)) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        for (int j = 0; j < s->n_inputs; j++) {
            const sl_plan_input_t *in = &s->inputs[j];
            int u = s_index(p, in->actor);
            if (u < 0 || !s_keep(p, t, mark, u)) {
                continue;
            }
            /* a replaced source has only the reader's output, index 0 */
            const sl_plan_actor_t *up = &p->actors[u];
            int up_replaced = 0;
            for (int k = 0; k < t->n_ins; k++) {
                up_replaced |=
                    strcmp(t->ins[k].actor, up->name) == 0 && (up->kind->flags & SL_KIND_SOURCE);
            }
            if (up_replaced && in->output_index != 0) {
                continue;
            }
            if (s_add_input(a, in->actor, up_replaced ? "out" : in->output,
                            up_replaced ? 0 : in->output_index)) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        }
        if (injected >= 0) {
            snprintf(name, sizeof name, "%s__test_in", s->name);
            if (s_add_input(a, name, "out", 0)) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        }
    }
    /* readers for injected actors that keep their kind */
    for (int k = 0; k < t->n_ins; k++) {
        const sl_plan_actor_t *s = sl_plan_actor(p, t->ins[k].actor);
        if ((s->kind->flags & SL_KIND_SOURCE) || !s_keep(p, t, mark, (int)(s - p->actors))) {
            continue;
        }
        snprintf(name, sizeof name, "%s__test_in", s->name);
        if (sl_plan_actor(d, name)) {
            continue; /* a second inputs entry for the same actor: one file */
        }
        sl_plan_actor_t *a = s_new_actor(d, name, in_kind);
        snprintf(path, sizeof path, "%s/in-%d.jsonl", dir, k);
        if (!a || s_add_opt(a, "path", path)) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    for (int k = 0; k < t->n_outs; k++) {
        const s_out_t *o = &t->outs[k];
        if (!(mark[s_index(p, o->actor)] & 1)) {
            continue; /* nothing can come out of it in this test */
        }
        const sl_plan_actor_t *s = sl_plan_actor(p, o->actor);
        snprintf(name, sizeof name, "%s__test_out%d", o->actor, k);
        snprintf(path, sizeof path, "%s/out-%d.jsonl", dir, k);
        sl_plan_actor_t *a = s_new_actor(d, name, out_kind);
        int replaced = 0;
        for (int i = 0; i < t->n_ins; i++) {
            replaced |= strcmp(t->ins[i].actor, s->name) == 0 && (s->kind->flags & SL_KIND_SOURCE);
        }
        if (replaced && o->output != 0) {
            snprintf(err, errlen, "output '%s': an injected source has only its events as output",
                     o->label);
            goto fail;
        }
        if (!a || s_add_opt(a, "path", path) ||
            s_add_input(a, o->actor, replaced ? "out" : s->kind->outputs[o->output].name,
                        replaced ? 0 : o->output)) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    free(mark);
    return d;
fail:
    free(mark);
    sl_plan_destroy(&d);
    return NULL;
}

/* --- running and comparing ----------------------------------------------- */

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/*  The captured events, one JSON value each. */
static json_t *s_read_capture(const char *path)
{
    json_t *arr = json_array();
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (arr && f && (n = getline(&line, &cap, f)) > 0) {
        json_t *v = json_loadb(line, (size_t)n, JSON_DECODE_ANY, NULL);
        if (v) {
            json_array_append_new(arr, v);
        }
    }
    free(line);
    if (f) {
        fclose(f);
    }
    return arr;
}

static json_t *s_lookup(json_t *v, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    if (!copy) {
        return NULL;
    }
    for (char *seg = strtok_r(copy, ".", &save); v && seg; seg = strtok_r(NULL, ".", &save)) {
        if (json_is_object(v)) {
            v = json_object_get(v, seg);
        } else if (json_is_array(v)) {
            char *end;
            long i = strtol(seg, &end, 10);
            v = *end || i < 0 ? NULL : json_array_get(v, (size_t)i);
        } else {
            v = NULL;
        }
    }
    free(copy);
    return v;
}

static int s_same(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    return json_equal(a, b);
}

static void s_show(sl_buf_t *r, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    sl_buf_append(r, s ? s : "(absent)", strlen(s ? s : "(absent)"));
    free(s);
}

static void s_cond_text(sl_buf_t *r, const s_cond_t *k)
{
    if (k->op == S_COUNT) {
        s_printf(r, "count %lld", (long long)k->count);
        return;
    }
    if (k->event >= 0) {
        s_printf(r, "event %d: ", k->event);
    }
    s_printf(r, "%s ", k->field);
    if (k->op == S_EQUALS) {
        sl_buf_append(r, "equals ", 7);
        s_show(r, k->expect);
    } else {
        s_printf(r, "%s", k->op == S_EXISTS ? "exists" : "absent");
    }
}

/*  1 if event v meets field condition k; *got is the value seen. */
static int s_meets(const s_cond_t *k, json_t *v, json_t **got)
{
    *got = s_lookup(v, k->field);
    switch (k->op) {
    case S_EQUALS:
        return *got && s_same(*got, k->expect);
    case S_EXISTS:
        return *got != NULL;
    default:
        return *got == NULL;
    }
}

/*  Append the failure of condition k (if it fails) to r; 1 if it held. */
static int s_check(const char *file, const s_cond_t *k, json_t *events, sl_buf_t *r)
{
    size_t n = json_array_size(events);
    json_t *got = NULL;
    size_t bad = 0;
    int ok = 1;
    if (k->op == S_COUNT) {
        ok = (int64_t)n == k->count;
    } else if (k->event >= 0) {
        ok = (size_t)k->event < n && s_meets(k, json_array_get(events, (size_t)k->event), &got);
        bad = (size_t)k->event;
    } else {
        ok = n > 0;
        for (size_t i = 0; ok && i < n; i++) {
            if (!s_meets(k, json_array_get(events, i), &got)) {
                ok = 0;
                bad = i;
            }
        }
    }
    if (ok) {
        return 1;
    }
    s_printf(r, "    condition %s:%d:%d: ", file, k->pos.line, k->pos.col);
    s_cond_text(r, k);
    sl_buf_append(r, "\n      expected: ", 17);
    if (k->op == S_COUNT) {
        s_printf(r, "%lld event%s\n      got:      %zu event%s\n", (long long)k->count,
                 k->count == 1 ? "" : "s", n, n == 1 ? "" : "s");
    } else if (n == 0 || (k->event >= 0 && (size_t)k->event >= n)) {
        s_printf(r, "%s\n      got:      %zu event%s\n",
                 k->event >= 0 ? "an event at that index" : "at least one event", n,
                 n == 1 ? "" : "s");
    } else {
        if (k->op == S_EQUALS) {
            s_show(r, k->expect);
        } else {
            s_printf(r, "%s", k->op == S_EXISTS ? "the field present" : "the field absent");
        }
        sl_buf_append(r, "\n      got:      ", 17);
        s_show(r, got);
        s_printf(r, " (event %zu of %zu)\n", bad, n);
    }
    return 0;
}

static void s_show_events(sl_buf_t *r, json_t *events)
{
    size_t n = json_array_size(events);
    for (size_t i = 0; i < n && i < 10; i++) {
        s_printf(r, "      [%zu] ", i);
        s_show(r, json_array_get(events, i));
        sl_buf_append(r, "\n", 1);
    }
    if (n > 10) {
        s_printf(r, "      ... %zu more\n", n - 10);
    }
}

/*  Start the derived plan, wait for it to drain. 1 if it drained. */
static int s_drive(sl_plan_t **plan, int timeout_ms, sl_buf_t *r)
{
    char err[512] = "";
    int drained = 0;
    sl_metrics_t *metrics = sl_metrics_new();
    sl_engine_t *e = metrics ? sl_engine_new(NULL, metrics) : NULL;
    if (!e) {
        s_printf(r, "  cannot make an engine (out of memory)\n");
        sl_plan_destroy(plan);
        goto done;
    }
    if (sl_engine_start(e, plan, err, sizeof err) != SL_OK) {
        s_printf(r, "  the actors did not start: %s\n", err);
        goto done;
    }
    int64_t deadline = sl_mono_us() + (int64_t)timeout_ms * 1000;
    while (!sl_engine_finished(e) && sl_mono_us() < deadline) {
        sl_engine_poll(e, 50, -1);
    }
    drained = sl_engine_finished(e);
    if (!drained) {
        s_printf(r, "  the pipeline did not drain within %d ms (%d actor instances running)\n",
                 timeout_ms, sl_engine_running(e));
    }
done:
    sl_engine_destroy(&e);
    sl_metrics_destroy(&metrics);
    sl_plan_destroy(plan);
    return drained;
}

int sl_harness_run(sl_harness_t *h, int i, int timeout_ms, sl_buf_t *report)
{
    assert(h && i >= 0 && i < h->n_tests && report);
    const s_test_t *t = &h->tests[i];
    const char *tmp = getenv("TMPDIR");
    char dir[2048], path[4200], err[512] = "";
    snprintf(dir, sizeof dir, "%s/sluice-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        return SL_EIO;
    }
    int rc = SL_OK, passed = 1;
    sl_buf_t r = {0};
    for (int k = 0; k < t->n_ins; k++) {
        /* every entry for one actor goes to the file of its first entry */
        int first = k;
        for (int j = 0; j < k; j++) {
            if (strcmp(t->ins[j].actor, t->ins[k].actor) == 0) {
                first = j;
                break;
            }
        }
        snprintf(path, sizeof path, "%s/in-%d.jsonl", dir, first);
        FILE *f = fopen(path, "ab");
        if (!f) {
            rc = SL_EIO;
            goto done;
        }
        size_t n =
            t->ins[k].lines.len ? fwrite(t->ins[k].lines.data, 1, t->ins[k].lines.len, f) : 0;
        if (fclose(f) != 0 || n != t->ins[k].lines.len) {
            rc = SL_EIO;
            goto done;
        }
    }
    sl_plan_t *plan = s_derive(h->plan, t, dir, NULL, err, sizeof err);
    if (!plan) {
        s_printf(&r, "  %s\n", err);
        passed = 0;
    } else if (!s_drive(&plan, timeout_ms, &r)) {
        passed = 0;
    } else {
        for (int k = 0; k < t->n_outs; k++) {
            const s_out_t *o = &t->outs[k];
            snprintf(path, sizeof path, "%s/out-%d.jsonl", dir, k);
            json_t *events = s_read_capture(path);
            if (!events) {
                rc = SL_ENOMEM;
                goto done;
            }
            sl_buf_t fr = {0};
            int ok = 1;
            if (o->no_output) {
                size_t n = json_array_size(events);
                if (n > 0) {
                    s_printf(&fr, "    expected: no events\n    got:      %zu event%s\n", n,
                             n == 1 ? "" : "s");
                    ok = 0;
                }
            } else {
                for (int c = 0; c < o->n_conds; c++) {
                    ok &= s_check(h->file, &o->conds[c], events, &fr);
                }
            }
            if (!ok) {
                passed = 0;
                s_printf(&r, "  %s '%s' (%s:%d:%d):\n", o->no_output ? "no_output" : "output",
                         o->label, h->file, o->pos.line, o->pos.col);
                sl_buf_append(&r, fr.data, fr.len);
                s_printf(&r, "    events from %s:%s\n", o->label,
                         json_array_size(events) ? "" : " none");
                s_show_events(&r, events);
            }
            sl_buf_free(&fr);
            json_decref(events);
        }
    }
    s_printf(report, "%s  %s (%s:%d:%d)\n", passed ? "pass" : "FAIL", t->name, h->file, t->pos.line,
             t->pos.col);
    if (!passed) {
        sl_buf_append(report, r.data, r.len);
    }
    rc = passed;
done:
    sl_buf_free(&r);
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int sl_harness_inject(const sl_plan_t *plan, const char *actor, const char *ndjson, size_t len,
                      const sl_harness_opts_t *opts, sl_buf_t *report)
{
    assert(plan && actor && (ndjson || !len) && report);
    const sl_plan_actor_t *pa = sl_plan_actor(plan, actor);
    if (!pa) {
        s_printf(report, "no actor '%s' in topology '%s'\n", actor, plan->name);
        return SL_ENOTFOUND;
    }
    if (pa->kind->flags & SL_KIND_SOURCE) {
        s_printf(report, "actor '%s' is a %s, a source: it takes no input\n", actor,
                 pa->kind->name);
        return SL_EINVAL;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[2048], path[4200], err[512] = "";
    snprintf(dir, sizeof dir, "%s/sluice-inject-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        s_printf(report, "cannot make a temporary directory: %s\n", strerror(errno));
        return SL_EIO;
    }
    int rc = SL_OK;
    snprintf(path, sizeof path, "%s/in-0.jsonl", dir);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(ndjson, 1, len, f) != len) || fclose(f) != 0) {
        s_printf(report, "cannot write %s\n", path);
        rc = SL_EIO;
        goto done;
    }
    s_in_t in = {.actor = (char *)actor};
    s_test_t t = {.name = "inject", .ins = &in, .n_ins = 1};
    sl_plan_t *d = s_derive(plan, &t, dir, opts ? opts->store_path : NULL, err, sizeof err);
    if (!d) {
        s_printf(report, "%s\n", err);
        rc = SL_ENOMEM;
    } else if (!s_drive(&d, opts && opts->timeout_ms > 0 ? opts->timeout_ms : 30000, report)) {
        rc = SL_ETIMEDOUT;
    }
done:
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
