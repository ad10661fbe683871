/*  Plans: error lists, lookups, filling an actor's state, freeing, and the
    kind lookup seam that tests replace. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/internal.h"

static sl_topology_kind_find_fn s_find = NULL;
static sl_topology_kinds_fn s_kinds = NULL;

void sl_topology_set_kinds(sl_topology_kind_find_fn find, sl_topology_kinds_fn kinds)
{
    s_find = find;
    s_kinds = kinds;
}

const sl_actor_kind_t *sl_topo_kind_find(const char *name)
{
    return s_find ? s_find(name) : sl_actor_kind_find(name);
}

const sl_actor_kind_t *const *sl_topo_kinds(void)
{
    return s_kinds ? s_kinds() : sl_actor_kinds();
}

void sl_errors_add(sl_errors_t *e, const char *file, sl_pos_t pos, const char *fmt, ...)
{
    if (!e || !fmt) {
        return;
    }
    char *msg = NULL, *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        /* out of memory: an error list that drops a line beats a crash */
        return;
    }
    if (asprintf(&line, "%s:%d:%d: %s", file ? file : "<string>", pos.line, pos.col, msg) < 0) {
        free(msg);
        return;
    }
    free(msg);
    char **lines = realloc(e->lines, (size_t)(e->count + 1) * sizeof *lines);
    if (!lines) {
        free(line);
        return;
    }
    e->lines = lines;
    e->lines[e->count++] = line;
}

void sl_errors_free(sl_errors_t *e)
{
    if (!e) {
        return;
    }
    for (int i = 0; i < e->count; i++) {
        free(e->lines[i]);
    }
    free(e->lines);
    e->lines = NULL;
    e->count = 0;
}

void sl_topo_error(sl_topo_ctx_t *c, sl_pos_t pos, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    int before = c->errors->count;
    sl_errors_add(c->errors, c->file, pos, "%s", n < 0 ? "out of memory" : msg);
    free(msg);
    if (c->errors->count == before) {
        return;
    }
    int k = c->errors->count - c->first_error;
    if (k > c->err_cap) {
        int cap = c->err_cap ? c->err_cap * 2 : 16;
        while (cap < k) {
            cap *= 2;
        }
        sl_pos_t *p = realloc(c->err_pos, (size_t)cap * sizeof *p);
        if (!p) {
            return;
        }
        c->err_pos = p;
        c->err_cap = cap;
    }
    c->err_pos[k - 1] = pos;
}

int sl_topo_error_count(const sl_topo_ctx_t *c)
{
    return c->errors->count - c->first_error;
}

static int s_pos_before(sl_pos_t a, sl_pos_t b)
{
    return a.line < b.line || (a.line == b.line && a.col < b.col);
}

void sl_topo_errors_sort(sl_topo_ctx_t *c)
{
    int n = sl_topo_error_count(c);
    if (n > c->err_cap) {
        return; /* a position was lost to an allocation failure: keep order */
    }
    char **lines = c->errors->lines + c->first_error;
    /* insertion sort: stable, and error lists are short */
    for (int i = 1; i < n; i++) {
        sl_pos_t p = c->err_pos[i];
        char *l = lines[i];
        int j = i - 1;
        while (j >= 0 && s_pos_before(p, c->err_pos[j])) {
            c->err_pos[j + 1] = c->err_pos[j];
            lines[j + 1] = lines[j];
            j--;
        }
        c->err_pos[j + 1] = p;
        lines[j + 1] = l;
    }
}

int sl_topo_name_ok(const char *s)
{
    return sl_name_ok(s, 0);
}

const sl_plan_actor_t *sl_plan_actor(const sl_plan_t *plan, const char *name)
{
    if (!plan || !name) {
        return NULL;
    }
    for (int i = 0; i < plan->n_actors; i++) {
        if (plan->actors[i].name && strcmp(plan->actors[i].name, name) == 0) {
            return &plan->actors[i];
        }
    }
    return NULL;
}

const sl_plan_node_t *sl_plan_node(const sl_plan_t *plan, const char *name)
{
    if (!plan || !name) {
        return NULL;
    }
    for (int i = 0; i < plan->n_nodes; i++) {
        if (plan->nodes[i].name && strcmp(plan->nodes[i].name, name) == 0) {
            return &plan->nodes[i];
        }
    }
    return NULL;
}

int sl_plan_curve_links(const sl_plan_t *plan)
{
    return plan && plan->n_nodes > 0 && !plan->insecure_links;
}

int sl_plan_keyed_tenants(const sl_plan_t *plan)
{
    int n = 0;
    for (int i = 0; plan && i < plan->n_tenants; i++) {
        n += plan->tenants[i].keys != NULL;
    }
    return n;
}

const sl_plan_tenant_t *sl_plan_keyed_tenant(const sl_plan_t *plan, int t)
{
    for (int i = 0; plan && i < plan->n_tenants; i++) {
        if (plan->tenants[i].keys && t-- == 0) {
            return &plan->tenants[i];
        }
    }
    return NULL;
}

int sl_plan_uses_keys(const sl_plan_t *plan)
{
    if (!plan) {
        return 0;
    }
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *a = &plan->actors[i];
        if (a->kind && (a->kind->flags & SL_KIND_KEYS)) {
            return 1;
        }
        for (int j = 0; sl_plan_curve_links(plan) && a->node && j < a->n_inputs; j++) {
            const sl_plan_actor_t *u = sl_plan_actor(plan, a->inputs[j].actor);
            if (u && u->node && strcmp(u->node, a->node) != 0) {
                return 1;
            }
        }
    }
    return 0;
}

int sl_plan_link_slots(const sl_plan_t *plan)
{
    int n = sl_plan_curve_links(plan) ? sl_plan_keyed_tenants(plan) : 1;
    return n > 0 ? n : 1;
}

int sl_plan_tcp_port(const sl_plan_t *plan, const sl_plan_actor_t *pa, int w, int t)
{
    const sl_plan_node_t *node = pa->node ? sl_plan_node(plan, pa->node) : NULL;
    int k = 0;
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *x = &plan->actors[i];
        if (x == pa) {
            break;
        }
        if (x->node && pa->node && strcmp(x->node, pa->node) == 0) {
            k += x->workers;
        }
    }
    return (node ? node->port : 7600) + (k + w) * sl_plan_link_slots(plan) + t;
}

int sl_plan_actor_fill(const sl_plan_actor_t *pa, void *state)
{
    if (!pa || !pa->kind) {
        return SL_EINVAL;
    }
    int rc = sl_opt_apply_defaults(pa->kind, state);
    if (rc) {
        goto fail;
    }
    for (int i = 0; i < pa->n_opts; i++) {
        const sl_plan_opt_t *po = &pa->opts[i];
        const sl_opt_t *o = sl_opt_find(pa->kind, po->key);
        if (!o) {
            rc = SL_EINVAL;
            goto fail;
        }
        void *dst = (char *)state + o->offset;
        if (o->type == SL_OPT_STRLIST) {
            rc = sl_opt_set_list(o, po->items, po->n_items, dst);
        } else {
            rc = po->text ? sl_opt_parse(o, po->text, dst, NULL, 0) : SL_EINVAL;
        }
        if (rc) {
            goto fail;
        }
    }
    return SL_OK;
fail:
    /* a half-filled state would leak or be mistaken for a valid one */
    sl_opt_free(pa->kind, state);
    return rc;
}

static void s_opt_free(sl_plan_opt_t *o)
{
    free(o->key);
    if (o->text && o->secret) {
        explicit_bzero(o->text, strlen(o->text));
    }
    free(o->text);
    for (int i = 0; i < o->n_items; i++) {
        if (o->items[i] && o->secret) {
            explicit_bzero(o->items[i], strlen(o->items[i]));
        }
        free(o->items[i]);
    }
    free(o->items);
}

static void s_actor_free(sl_plan_actor_t *a)
{
    free(a->name);
    free(a->node);
    for (int i = 0; i < a->n_inputs; i++) {
        free(a->inputs[i].actor);
        free(a->inputs[i].output);
    }
    free(a->inputs);
    for (int i = 0; i < a->n_opts; i++) {
        s_opt_free(&a->opts[i]);
    }
    free(a->opts);
    free(a->fingerprint);
}

void sl_plan_destroy(sl_plan_t **plan)
{
    if (!plan || !*plan) {
        return;
    }
    sl_plan_t *p = *plan;
    free(p->file);
    free(p->name);
    free(p->store_path);
    for (int i = 0; i < p->n_tenants; i++) {
        free(p->tenants[i].name);
        free(p->tenants[i].keys);
    }
    free(p->tenants);
    free(p->tenant);
    free(p->admin);
    free(p->auth);
    for (int i = 0; i < p->n_nodes; i++) {
        free(p->nodes[i].name);
        free(p->nodes[i].host);
        free(p->nodes[i].admin);
    }
    free(p->nodes);
    for (int i = 0; i < p->n_actors; i++) {
        s_actor_free(&p->actors[i]);
    }
    free(p->actors);
    free(p);
    *plan = NULL;
}
