/*  sluice lineage recompute FILE [--dry-run]: the full propagation
    computation, compared with what the store holds (docs/propagation.md).

    Every propagated copy is recomputed from scratch with the policy of the
    topology's lineage_walker; each difference is printed, and applied to
    the store unless --dry-run. A consistency check: after the walker has
    caught up, a dry run reports no difference. Safe beside a running
    `sluice run`: reads use their own snapshot, writes go through LMDB's
    single writer like the store actor's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/event.h"
#include "sluice/propagate.h"
#include "sluice/store.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice lineage recompute FILE [--dry-run] [--tenant T] [--walker NAME] [--show N]\n"
    "\n"
    "Recomputes every propagated value (tags, owners, descriptions, open\n"
    "incidents) of the topology's store from scratch with the policy of its\n"
    "lineage_walker actor (--walker NAME when it has several; the default\n"
    "policy when it has none), and compares the result with the copies the\n"
    "store holds. Each difference is printed (the first N per tenant,\n"
    "default 50; 0 = all):\n"
    "  set   TENANT TARGET VALUE from SOURCE (path LENGTH via ASSET)\n"
    "  unset TENANT TARGET VALUE from SOURCE\n"
    "then applied to the store, unless --dry-run.\n"
    "\n"
    "Exit status: 0 consistent (or the differences were applied), 1 a dry\n"
    "run found differences or the store cannot be read, 2 usage.\n";

#define S_BATCH 1000

typedef struct {
    const char *tenant;
    int dry;
    long show;
    uint64_t diffs;
    sl_store_t *store;
    sl_store_batch_t *batch;
    uint64_t in_batch;
    sl_buf_t scratch;
    int rc;
} s_run_t;

static int s_on_op(void *arg, const sl_prop_op_t *op)
{
    s_run_t *r = arg;
    r->diffs++;
    if (r->show == 0 || r->diffs <= (uint64_t)r->show) {
        if (op->set) {
            printf("set   %s %s %s from %s (path %u via %s)\n", r->tenant, op->target, op->value,
                   op->source, op->depth, op->via);
        } else {
            printf("unset %s %s %s from %s\n", r->tenant, op->target, op->value, op->source);
        }
    }
    if (r->dry) {
        return 0;
    }
    /*  Applied in batches of their own (the view is a snapshot: the
        writes do not disturb the walk that produces them). */
    sl_event_t ev;
    sl_apply_t res;
    char why[256];
    int rc = SL_OK;
    if (!r->batch) {
        rc = sl_store_batch_begin(r->store, &r->batch);
    }
    if (rc == SL_OK) {
        rc = sl_prop_op_event(op, r->tenant, "sluice-lineage-recompute", &ev, &r->scratch);
    }
    if (rc == SL_OK) {
        rc = sl_store_apply(r->batch, &ev, &res, why, sizeof why);
    }
    if (rc == SL_OK && ++r->in_batch >= S_BATCH) {
        rc = sl_store_batch_commit(&r->batch);
        r->in_batch = 0;
    }
    return rc;
}

static const char *s_policy_text(const sl_plan_t *plan, const char *walker, int *status)
{
    const sl_plan_actor_t *found = NULL;
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *pa = &plan->actors[i];
        if (strcmp(pa->kind->name, "lineage_walker") != 0 ||
            (walker && strcmp(pa->name, walker) != 0)) {
            continue;
        }
        if (found) {
            fprintf(stderr,
                    "sluice lineage: the topology has several lineage walkers (%s, %s): name one "
                    "with --walker\n",
                    found->name, pa->name);
            *status = 2;
            return NULL;
        }
        found = pa;
    }
    if (!found) {
        if (walker) {
            fprintf(stderr, "sluice lineage: no lineage_walker actor named '%s'\n", walker);
            *status = 2;
            return NULL;
        }
        fprintf(stderr, "sluice lineage: the topology has no lineage_walker: the default policy "
                        "applies\n");
        return "";
    }
    for (int i = 0; i < found->n_opts; i++) {
        if (strcmp(found->opts[i].key, "policy") == 0) {
            return found->opts[i].text ? found->opts[i].text : "";
        }
    }
    return "";
}

static int s_recompute(const char *file, int dry, const char *tenant, const char *walker, long show)
{
    sl_plan_t *plan = NULL;
    sl_prop_policies_t *pol = NULL;
    char **tenants = NULL;
    int status = 1;
    char err[256], where[128];
    sl_store_t *store = sl_cli_store_open(file, "sluice lineage", &plan);
    if (!store) {
        return 1;
    }
    const char *text = s_policy_text(plan, walker, &status);
    if (!text) {
        goto out;
    }
    if (sl_prop_policies_parse(text, &pol, err, sizeof err, where, sizeof where) != SL_OK) {
        fprintf(stderr, "sluice lineage: policy%s: %s\n", where, err);
        goto out;
    }
    if (tenant) {
        tenants = calloc(2, sizeof *tenants);
        if (tenants) {
            tenants[0] = strdup(tenant);
        }
    } else {
        tenants = sl_store_tenants(store);
    }
    if (!tenants) {
        fprintf(stderr, "sluice lineage: out of memory\n");
        goto out;
    }
    uint64_t total = 0;
    status = 0;
    for (int i = 0; tenants[i]; i++) {
        s_run_t r = {.tenant = tenants[i], .dry = dry, .show = show, .store = store};
        sl_prop_stats_t st = {0};
        sl_store_view_t *v = NULL;
        int rc = sl_store_view_begin(store, tenants[i], &v);
        if (rc == SL_OK) {
            rc = sl_prop_recompute_all(v, sl_prop_policy_for(pol, tenants[i]), s_on_op, &r, &st);
        }
        sl_store_view_end(&v);
        if (rc == SL_OK && r.batch) {
            rc = sl_store_batch_commit(&r.batch);
        }
        sl_store_batch_abort(&r.batch);
        sl_buf_free(&r.scratch);
        if (rc != SL_OK) {
            fprintf(stderr, "sluice lineage: tenant %s: %s\n", tenants[i], sl_strerror(rc));
            status = 1;
            continue;
        }
        if (show && r.diffs > (uint64_t)show) {
            printf("... %llu more\n", (unsigned long long)(r.diffs - (uint64_t)show));
        }
        fprintf(stderr,
                "tenant %s: %llu values from their sources, %llu assets reached, %llu "
                "difference(s)%s\n",
                tenants[i], (unsigned long long)st.pairs, (unsigned long long)st.visited,
                (unsigned long long)r.diffs, r.diffs && !dry ? " applied" : "");
        total += r.diffs;
    }
    if (status == 0 && dry && total > 0) {
        status = 1;
    }
out:
    for (int i = 0; tenants && tenants[i]; i++) {
        free(tenants[i]);
    }
    free(tenants);
    sl_prop_policies_free(&pol);
    sl_plan_destroy(&plan);
    sl_store_close(&store);
    return status;
}

int sl_cmd_lineage(int argc, char **argv)
{
    const char *file = NULL, *tenant = NULL, *walker = NULL;
    int dry = 0;
    long show = 50;
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "recompute") != 0) {
        fputs(s_help, stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(argv[i], "--walker") == 0 && i + 1 < argc) {
            walker = argv[++i];
        } else if (strcmp(argv[i], "--show") == 0 && i + 1 < argc) {
            char *end;
            show = strtol(argv[++i], &end, 10);
            if (*end || show < 0) {
                fprintf(stderr, "sluice lineage: --show: expected a count >= 0\n");
                return 2;
            }
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "sluice lineage: unexpected argument '%s'\n%s", argv[i], s_help);
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        fputs(s_help, stderr);
        return 2;
    }
    return s_recompute(file, dry, tenant, walker, show);
}
