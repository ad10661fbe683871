/*  Checks that need the whole file: nodes, inputs, cycles, ports; then each
    actor's fingerprint. Works on a plan that may be partly broken (an
    unknown kind, a missing node), so every check tolerates NULLs. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology/internal.h"

static int s_actor_index(const sl_plan_t *plan, const char *name)
{
    for (int i = 0; i < plan->n_actors; i++) {
        if (strcmp(plan->actors[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

static void s_node_names(const sl_plan_t *plan, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < plan->n_nodes && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "", plan->nodes[i].name);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

static void s_output_names(const sl_actor_kind_t *kind, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; kind->outputs && kind->outputs[i].name && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "", kind->outputs[i].name);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

static void s_check_nodes(sl_topo_ctx_t *c, sl_plan_t *plan)
{
    char names[1024];
    s_node_names(plan, names, sizeof names);
    if (plan->n_nodes > 0 && c->admin_set) {
        sl_topo_error(c, c->admin_pos,
                      "admin: not used when nodes are declared (give each node its admin)");
    }
    for (int i = 0; i < plan->n_actors; i++) {
        sl_plan_actor_t *a = &plan->actors[i];
        sl_topo_actor_extra_t *x = &c->actor_extra[i];
        if (plan->n_nodes == 0) {
            if (a->node) {
                sl_topo_error(c, x->node_pos,
                              "actor '%s': 'node' given but the file declares no nodes", a->name);
            }
            continue;
        }
        if (!a->node) {
            if (!x->node_pos.line) {
                sl_topo_error(c, a->pos, "actor '%s': missing required key 'node' (nodes: %s)",
                              a->name, names);
            }
            continue;
        }
        if (!sl_plan_node(plan, a->node)) {
            sl_topo_error(c, x->node_pos, "actor '%s': unknown node '%s' (nodes: %s)", a->name,
                          (x->secret & SL_TOPO_SECRET_NODE) ? "(secret)" : a->node, names);
        }
    }
}

static void s_check_inputs(sl_topo_ctx_t *c, sl_plan_t *plan)
{
    for (int i = 0; i < plan->n_actors; i++) {
        sl_plan_actor_t *a = &plan->actors[i];
        int hide = (c->actor_extra[i].secret & SL_TOPO_SECRET_INPUTS) != 0;
        for (int j = 0; j < a->n_inputs; j++) {
            sl_plan_input_t *in = &a->inputs[j];
            char shown[600];
            snprintf(shown, sizeof shown, "%s%s%s", in->actor, in->output ? "." : "",
                     in->output ? in->output : "");
            const char *show = hide ? "(secret)" : shown;
            int up = s_actor_index(plan, in->actor);
            if (up < 0) {
                sl_topo_error(c, in->pos, "input '%s': no actor named '%s'", show,
                              hide ? "(secret)" : in->actor);
                continue;
            }
            if (up == i) {
                sl_topo_error(c, in->pos, "input '%s': actor '%s' cannot read its own output", show,
                              a->name);
                continue;
            }
            const sl_actor_kind_t *uk = plan->actors[up].kind;
            if (!uk) {
                continue;
            }
            if (!uk->outputs || !uk->outputs[0].name) {
                sl_topo_error(c, in->pos, "input '%s': actor '%s' (%s) has no outputs", show,
                              in->actor, uk->name);
                continue;
            }
            if (!in->output) {
                in->output = strdup(uk->outputs[0].name);
                if (!in->output) {
                    sl_topo_error(c, in->pos, "out of memory");
                    continue;
                }
                in->output_index = 0;
            } else {
                in->output_index = sl_actor_kind_output(uk, in->output);
                if (in->output_index < 0) {
                    char outs[512];
                    s_output_names(uk, outs, sizeof outs);
                    sl_topo_error(c, in->pos,
                                  "input '%s': actor '%s' (%s) has no output '%s' (outputs: %s)",
                                  show, in->actor, uk->name, hide ? "(secret)" : in->output, outs);
                    continue;
                }
            }
            for (int k = 0; k < j; k++) {
                sl_plan_input_t *prev = &a->inputs[k];
                if (prev->output_index == in->output_index && prev->output_index >= 0 &&
                    strcmp(prev->actor, in->actor) == 0) {
                    sl_topo_error(c, in->pos, "duplicate input '%s.%s' (first at %d:%d)",
                                  hide ? "(secret)" : in->actor, hide ? "(secret)" : in->output,
                                  prev->pos.line, prev->pos.col);
                    break;
                }
            }
        }
        sl_topo_actor_extra_t *x = &c->actor_extra[i];
        if (a->kind && !(a->kind->flags & SL_KIND_SOURCE) && a->n_inputs == 0 && !x->inputs_bad) {
            sl_topo_error(c, x->inputs_pos.line ? x->inputs_pos : a->pos,
                          "actor '%s' (%s) has no inputs (only source kinds may have none)",
                          a->name, a->kind->name);
        }
    }
}

/* --- cycles -------------------------------------------------------------
    A cycle is legal only through a durable output: its followers read the
    change log by cursor, so nothing waits in a queue that could fill up
    around the loop. So: drop durable edges, and any cycle left is an error.
    One error per strongly connected component (Tarjan), naming a shortest
    cycle through its first actor in file order. */

typedef struct {
    const sl_plan_t *plan;
    int *index, *low, *stack, *on_stack, *comp;
    int next_index, sp, n_comp;
} s_scc_t;

/*  Edge up -> down when `down` reads a non-durable output of `up`. */
static int s_edge(const sl_plan_t *plan, int up, int down)
{
    const sl_plan_actor_t *d = &plan->actors[down];
    const sl_plan_actor_t *u = &plan->actors[up];
    if (up == down) {
        return 0; /* reported as "cannot read its own output" */
    }
    for (int j = 0; j < d->n_inputs; j++) {
        const sl_plan_input_t *in = &d->inputs[j];
        if (in->output_index < 0 || !u->kind || strcmp(in->actor, u->name) != 0) {
            continue;
        }
        if (!(u->kind->outputs[in->output_index].flags & SL_OUTPUT_DURABLE)) {
            return 1;
        }
    }
    return 0;
}

static void s_tarjan(s_scc_t *s, int v)
{
    int n = s->plan->n_actors;
    s->index[v] = s->low[v] = s->next_index++;
    s->stack[s->sp++] = v;
    s->on_stack[v] = 1;
    for (int w = 0; w < n; w++) {
        if (!s_edge(s->plan, v, w)) {
            continue;
        }
        if (s->index[w] < 0) {
            s_tarjan(s, w);
            if (s->low[w] < s->low[v]) {
                s->low[v] = s->low[w];
            }
        } else if (s->on_stack[w] && s->index[w] < s->low[v]) {
            s->low[v] = s->index[w];
        }
    }
    if (s->low[v] == s->index[v]) {
        int w;
        do {
            w = s->stack[--s->sp];
            s->on_stack[w] = 0;
            s->comp[w] = s->n_comp;
        } while (w != v);
        s->n_comp++;
    }
}

static void s_report_cycle(sl_topo_ctx_t *c, const sl_plan_t *plan, const int *comp, int start,
                           int *prev, int *queue)
{
    int n = plan->n_actors, head = 0, tail = 0, last = -1;
    for (int i = 0; i < n; i++) {
        prev[i] = -2;
    }
    prev[start] = -1;
    queue[tail++] = start;
    /* breadth first inside the component: the first actor with an edge
       back to `start` closes a shortest cycle */
    while (head < tail && last < 0) {
        int v = queue[head++];
        if (s_edge(plan, v, start)) {
            last = v;
            break;
        }
        for (int w = 0; w < n; w++) {
            if (comp[w] == comp[start] && prev[w] == -2 && s_edge(plan, v, w)) {
                prev[w] = v;
                queue[tail++] = w;
            }
        }
    }
    if (last < 0) {
        return;
    }
    int len = 0;
    for (int v = last; v >= 0; v = prev[v]) {
        queue[len++] = v; /* reversed path last .. start */
    }
    sl_buf_t b = {0};
    for (int i = len - 1; i >= 0; i--) {
        const char *name = plan->actors[queue[i]].name;
        sl_buf_append(&b, name, strlen(name));
        sl_buf_append(&b, " -> ", 4);
    }
    sl_buf_append(&b, plan->actors[start].name, strlen(plan->actors[start].name));
    if (sl_buf_append(&b, "", 1) == SL_OK) {
        sl_topo_error(c, plan->actors[start].pos, "cycle without a durable change-log output: %s",
                      (char *)b.data);
    }
    sl_buf_free(&b);
}

static void s_check_cycles(sl_topo_ctx_t *c, const sl_plan_t *plan)
{
    int n = plan->n_actors;
    int *mem = calloc((size_t)n * 7 + 1, sizeof *mem);
    if (!mem) {
        sl_topo_error(c, (sl_pos_t){1, 1}, "out of memory");
        return;
    }
    s_scc_t s = {.plan = plan,
                 .index = mem,
                 .low = mem + n,
                 .stack = mem + 2 * n,
                 .on_stack = mem + 3 * n,
                 .comp = mem + 4 * n};
    for (int i = 0; i < n; i++) {
        s.index[i] = -1;
    }
    for (int i = 0; i < n; i++) {
        if (s.index[i] < 0) {
            s_tarjan(&s, i);
        }
    }
    /* sizes of components; report each component of two or more once, at
       its first actor in file order */
    int *size = mem + 5 * n, *queue = mem + 6 * n;
    int *prev = calloc((size_t)n + 1, sizeof *prev);
    if (!prev) {
        free(mem);
        sl_topo_error(c, (sl_pos_t){1, 1}, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        size[s.comp[i]]++;
    }
    for (int i = 0; i < n; i++) {
        int k = s.comp[i];
        if (size[k] >= 2) {
            size[k] = 0;
            s_report_cycle(c, plan, s.comp, i, prev, queue);
        }
    }
    free(prev);
    free(mem);
}

/*  A node's actor instances bind port, port + 1, ... (T per instance):
    all must be ports. */
static void s_check_ports(sl_topo_ctx_t *c, const sl_plan_t *plan)
{
    long slots = sl_plan_link_slots(plan);
    for (int i = 0; i < plan->n_nodes; i++) {
        const sl_plan_node_t *nd = &plan->nodes[i];
        long count = 0;
        for (int j = 0; j < plan->n_actors; j++) {
            const sl_plan_actor_t *a = &plan->actors[j];
            if (a->node && strcmp(a->node, nd->name) == 0) {
                count += a->workers;
            }
        }
        if (count > 0 && nd->port + count * slots - 1 > 65535) {
            sl_topo_error(c, nd->pos,
                          slots > 1 ? "node '%s': port %d + %ld actor instances x %ld link "
                                      "tenants runs past port 65535"
                                    : "node '%s': port %d + %ld actor instances runs past port "
                                      "65535",
                          nd->name, nd->port, count, slots);
        }
    }
}

/* --- fingerprints -------------------------------------------------------
    Canonical text of what makes an actor run the way it does. Secrets enter
    as a BLAKE2b hash, so a changed secret still restarts the actor while
    the text stays printable. The hash is keyed with a per-process random
    key: fingerprints are only compared within one process (reload), and an
    unkeyed hash of a short password could be guessed offline. */

static unsigned char s_fp_key[crypto_generichash_KEYBYTES];
static int s_fp_ready = 0;
static pthread_once_t s_fp_once = PTHREAD_ONCE_INIT;

static void s_fp_init(void)
{
    if (sodium_init() < 0) {
        return;
    }
    randombytes_buf(s_fp_key, sizeof s_fp_key);
    s_fp_ready = 1;
}

static int s_fp_value(sl_buf_t *b, const char *text, int secret)
{
    if (secret) {
        unsigned char h[16];
        char hex[33];
        pthread_once(&s_fp_once, s_fp_init);
        if (!s_fp_ready) {
            return SL_EINVAL;
        }
        crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), s_fp_key,
                           sizeof s_fp_key);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        int rc = sl_buf_append(b, "secret:", 7);
        return rc ? rc : sl_buf_append(b, hex, 32);
    }
    int rc = sl_buf_append(b, "\"", 1);
    rc = rc ? rc : sl_json_escape(b, text, strlen(text));
    return rc ? rc : sl_buf_append(b, "\"", 1);
}

static int s_cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int s_cmp_opt(const void *x, const void *y)
{
    return strcmp((*(const sl_plan_opt_t *const *)x)->key, (*(const sl_plan_opt_t *const *)y)->key);
}

static int s_fingerprint(sl_topo_ctx_t *c, const sl_plan_t *plan, int i)
{
    sl_plan_actor_t *a = &plan->actors[i];
    unsigned secret = c->actor_extra[i].secret;
    sl_buf_t b = {0};
    char num[64];
    char **ins = calloc((size_t)a->n_inputs + 1, sizeof *ins);
    const sl_plan_opt_t **opts = calloc((size_t)a->n_opts + 1, sizeof *opts);
    int rc = ins && opts ? SL_OK : SL_ENOMEM;

    rc = rc ? rc : sl_buf_append(&b, "kind=", 5);
    rc = rc ? rc : s_fp_value(&b, a->kind ? a->kind->name : "", secret & SL_TOPO_SECRET_KIND);
    rc = rc ? rc : sl_buf_append(&b, "\nnode=", 6);
    rc = rc ? rc : s_fp_value(&b, a->node ? a->node : "", secret & SL_TOPO_SECRET_NODE);
    /* the ports this actor's instances bind move when an actor before it on
       the same node changes its worker count, and with the link tenants:
       that is a change too */
    if (a->node) {
        const sl_plan_node_t *nd = sl_plan_node(plan, a->node);
        int node_secret = 0;
        if (nd) {
            node_secret = c->node_secret ? c->node_secret[nd - plan->nodes] : 0;
        }
        snprintf(num, sizeof num, "%d", nd ? sl_plan_tcp_port(plan, a, 0, 0) : 0);
        rc = rc ? rc : sl_buf_append(&b, "\nport=", 6);
        rc = rc ? rc : s_fp_value(&b, num, node_secret);
        rc = rc ? rc : sl_buf_append(&b, "\nlink=", 6);
        if (!sl_plan_curve_links(plan)) {
            rc = rc ? rc : sl_buf_append(&b, "plain", 5);
        }
        for (int t = 0; !rc && sl_plan_curve_links(plan) && t < sl_plan_keyed_tenants(plan); t++) {
            const char *tn = sl_plan_keyed_tenant(plan, t)->name;
            rc = t ? sl_buf_append(&b, ",", 1) : SL_OK;
            rc = rc ? rc : sl_buf_append(&b, tn, strlen(tn));
        }
    }
    snprintf(num, sizeof num, "%d", a->workers);
    rc = rc ? rc : sl_buf_append(&b, "\nworkers=", 9);
    rc = rc ? rc : s_fp_value(&b, num, secret & SL_TOPO_SECRET_WORKERS);
    for (int j = 0; !rc && j < a->n_inputs; j++) {
        const sl_plan_input_t *in = &a->inputs[j];
        if (asprintf(&ins[j], "%s.%s", in->actor, in->output ? in->output : "") < 0) {
            ins[j] = NULL;
            rc = SL_ENOMEM;
        }
    }
    if (!rc) {
        /* input order does not change what an actor receives */
        qsort(ins, (size_t)a->n_inputs, sizeof *ins, s_cmp_str);
    }
    for (int j = 0; !rc && j < a->n_inputs; j++) {
        rc = sl_buf_append(&b, "\ninput=", 7);
        rc = rc ? rc : s_fp_value(&b, ins[j], secret & SL_TOPO_SECRET_INPUTS);
    }
    for (int j = 0; !rc && j < a->n_opts; j++) {
        opts[j] = &a->opts[j];
    }
    if (!rc) {
        qsort(opts, (size_t)a->n_opts, sizeof *opts, s_cmp_opt);
    }
    for (int j = 0; !rc && j < a->n_opts; j++) {
        const sl_plan_opt_t *o = opts[j];
        rc = sl_buf_append(&b, "\nopt.", 5);
        rc = rc ? rc : sl_buf_append(&b, o->key, strlen(o->key));
        rc = rc ? rc : sl_buf_append(&b, "=", 1);
        if (o->items && !o->text) {
            /* a list: its items as one JSON array text */
            sl_buf_t list = {0};
            rc = rc ? rc : sl_buf_append(&list, "[", 1);
            for (int k = 0; !rc && k < o->n_items; k++) {
                rc = k ? sl_buf_append(&list, ",", 1) : SL_OK;
                rc = rc ? rc : sl_buf_append(&list, "\"", 1);
                rc = rc ? rc : sl_json_escape(&list, o->items[k], strlen(o->items[k]));
                rc = rc ? rc : sl_buf_append(&list, "\"", 1);
            }
            rc = rc ? rc : sl_buf_append(&list, "]", 2);
            rc = rc ? rc : s_fp_value(&b, (char *)list.data, o->secret);
            if (list.data && o->secret) {
                sodium_memzero(list.data, list.len);
            }
            sl_buf_free(&list);
        } else {
            rc = rc ? rc : s_fp_value(&b, o->text ? o->text : "", o->secret);
        }
    }
    rc = rc ? rc : sl_buf_append(&b, "\n", 2);
    for (int j = 0; ins && j < a->n_inputs; j++) {
        free(ins[j]);
    }
    free(ins);
    free(opts);
    if (rc) {
        sl_buf_free(&b);
        sl_topo_error(c, a->pos, "out of memory");
        return rc;
    }
    free(a->fingerprint);
    a->fingerprint = (char *)b.data;
    return SL_OK;
}

/* --- tenants and keys --------------------------------------------------
    Links between nodes are CurveZMQ unless the file says insecure_links:
    then at least one tenant needs keys, and keys that are used must be
    there, private and a pair, so `sluice check` finds what `run` would. */

static void s_check_tenants(sl_topo_ctx_t *c, const sl_plan_t *plan)
{
    int keyed = sl_plan_keyed_tenants(plan);
    int uses_keys = 0;
    const sl_plan_input_t *cross = NULL;
    const sl_plan_actor_t *cross_a = NULL;
    for (int i = 0; i < plan->n_tenants; i++) {
        const sl_plan_tenant_t *t = &plan->tenants[i];
        if (t->offset_pos.line && plan->tenancy != SL_TENANCY_ISOLATED) {
            sl_topo_error(c, t->offset_pos,
                          "tenant '%s': port_offset is used only with tenancy: isolated", t->name);
        }
        if (t->keys && strlen(t->name) > SL_CURVE_TENANT_MAX) {
            sl_topo_error(c, t->pos,
                          "tenant '%s': a tenant with keys has a name of at most %d "
                          "characters",
                          t->name, SL_CURVE_TENANT_MAX);
        }
    }
    if (plan->insecure_links && plan->n_nodes == 0) {
        sl_topo_error(c, c->insecure_pos,
                      "insecure_links: the file declares no nodes, so there are no links");
    }
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *a = &plan->actors[i];
        if (a->kind && (a->kind->flags & SL_KIND_KEYS)) {
            uses_keys = 1;
            if (keyed == 0) {
                sl_topo_error(c, a->pos,
                              "actor '%s' (%s) authenticates by the tenants' CURVE keys: declare "
                              "tenants with keys (tenants: {T: {keys: DIR}}, made by sluice "
                              "keygen --tenant T --dir DIR)",
                              a->name, a->kind->name);
            }
        }
        /* only between declared nodes: an unknown one is reported already */
        for (int j = 0; a->node && sl_plan_node(plan, a->node) && j < a->n_inputs && !cross; j++) {
            const sl_plan_actor_t *u = sl_plan_actor(plan, a->inputs[j].actor);
            if (u && u->node && sl_plan_node(plan, u->node) && strcmp(u->node, a->node) != 0) {
                cross = &a->inputs[j];
                cross_a = a;
            }
        }
    }
    if (cross && sl_plan_curve_links(plan)) {
        uses_keys = 1;
        if (keyed == 0) {
            /* node and input names may be secrets: the position says which */
            sl_topo_error(c, cross->pos,
                          "actor '%s': this input comes from another node, and links between "
                          "nodes are CurveZMQ with one key pair per tenant: declare tenants with "
                          "keys (tenants: {T: {keys: DIR}}, made by sluice keygen --tenant T "
                          "--dir DIR), or set insecure_links: true for plain TCP",
                          cross_a->name);
        }
    }
    for (int i = 0; uses_keys && i < plan->n_tenants; i++) {
        const sl_plan_tenant_t *t = &plan->tenants[i];
        char err[1024];
        if (t->keys && strlen(t->name) <= SL_CURVE_TENANT_MAX &&
            sl_curve_key_load(t->keys, t->name, NULL, err, sizeof err) != SL_OK) {
            sl_topo_error(c, t->keys_pos, "tenant '%s': keys: %s", t->name, err);
        }
    }
}

void sl_topo_validate(sl_topo_ctx_t *c, sl_plan_t *plan)
{
    if (plan->n_actors > 0 && !c->actor_extra) {
        return;
    }
    s_check_nodes(c, plan);
    s_check_inputs(c, plan);
    s_check_cycles(c, plan);
    s_check_tenants(c, plan);
    s_check_ports(c, plan);
    for (int i = 0; i < plan->n_actors; i++) {
        s_fingerprint(c, plan, i);
    }
}
