/*  sluice store stats|check|cursors|migrate FILE: the topology's store,
    from outside.

    Both open the store the topology names (top-level `store: {path}`, with
    its tenancy and tenants) and only read it, so they may run beside a
    running `sluice run` (LMDB readers never block its writer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sluice/follower.h"
#include "sluice/store.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice store stats FILE [--pretty]\n"
    "       sluice store check FILE [--consumer NAME]...\n"
    "       sluice store cursors FILE [--tenant T] [--drop NAME]\n"
    "       sluice store migrate FILE\n"
    "\n"
    "stats   prints the counts and sizes of the topology's store as JSON:\n"
    "        {\"tenants\": {\"<tenant>\": {\"assets\", \"edges\", "
    "\"incidents\",\n"
    "        \"changes\", \"dead_letters\"}}, \"map_size\", \"used_bytes\",\n"
    "        \"writable\", \"reason\"}\n"
    "check   verifies that the change log and the store agree: per tenant the\n"
    "        log's sequence numbers run without a gap to the last (from 1, or\n"
    "        from where retention trimmed it), every asset "
    "the\n"
    "        log leaves alive is in the store, every asset it deleted is not,\n"
    "        the store holds no asset the log does not, and each named\n"
    "        consumer's cursor is at most the log's end; and that the lineage\n"
    "        tables agree: every asset's id names it, every edge's ends have\n"
    "        names and each edge is stored both ways.\n"
    "cursors lists every consumer's cursor per tenant (TENANT CONSUMER SEQ\n"
    "        [mark]) with the log's first and last seq; --drop NAME forgets\n"
    "        that consumer's cursor (of --tenant T, or of every tenant): a\n"
    "        follower removed from the topology then no longer holds the change\n"
    "        log's retention back. Names starting with '.' are marks (the\n"
    "        lineage walker's fences), not readers.\n"
    "migrate rewrites a store written by a sluice before 2026-11-26 (format\n"
    "        1: names in the lineage tables) in this build's format 2, which\n"
    "        `sluice run` needs; stop every process using the store first. A\n"
    "        migration that stops half-way (crash, full disk) is finished by\n"
    "        running it again; a store already in format 2 is left as is.\n"
    "\n"
    "The store is the one the topology file names (store: {path}). Exit\n"
    "status: 0 ok, 1 failure (no store, or check found a disagreement),\n"
    "2 usage.\n";

sl_store_t *sl_cli_store_open(const char *file, const char *prog, sl_plan_t **planp)
{
    return sl_cli_store_open_new(file, prog, planp, 0);
}

sl_store_t *sl_cli_store_open_new(const char *file, const char *prog, sl_plan_t **planp, int create)
{
    sl_errors_t errors = {0};
    sl_store_t *store = NULL;
    const char **tenants = NULL;
    sl_plan_t *plan = sl_topology_load(file, &errors);
    if (!plan) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        fprintf(stderr, "%s: %s: invalid topology\n", prog, file);
        goto done;
    }
    if (!plan->store_path) {
        fprintf(stderr, "%s: %s has no store section (store: {path: DIR})\n", prog, file);
        goto done;
    }
    /*  Opening creates a missing store: look first, so a typo in the path
        is an error and not a new, empty store. */
    struct stat st;
    if (!create && (stat(plan->store_path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr,
                "%s: no store at %s (named by %s): nothing has been "
                "stored there "
                "yet, or the path is wrong\n",
                prog, plan->store_path, file);
        goto done;
    }
    if (plan->n_tenants > 0) {
        tenants = calloc((size_t)plan->n_tenants + 1, sizeof *tenants);
        if (!tenants) {
            fprintf(stderr, "%s: out of memory\n", prog);
            goto done;
        }
        for (int i = 0; i < plan->n_tenants; i++) {
            tenants[i] = plan->tenants[i].name;
        }
    }
    char err[256] = "";
    sl_store_opts_t o = {
        .path = plan->store_path,
        .isolated = plan->tenancy == SL_TENANCY_ISOLATED,
        .tenants = tenants,
    };
    store = sl_store_open(&o, err, sizeof err);
    if (!store) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, plan->store_path, err);
    }
done:
    free(tenants);
    if (planp && store) {
        *planp = plan;
        plan = NULL;
    }
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return store;
}

static sl_store_t *s_open(const char *file)
{
    return sl_cli_store_open(file, "sluice store", NULL);
}

static int s_stats(const char *file, int pretty)
{
    sl_buf_t out = {0};
    int code = 1;
    sl_store_t *store = s_open(file);
    if (!store) {
        goto done;
    }
    int rc = sl_store_stats_json(store, &out);
    if (rc) {
        fprintf(stderr, "sluice store: stats: %s\n", sl_strerror(rc));
        goto done;
    }
    json_t *doc = NULL;
    if (pretty) {
        doc = json_loadb((const char *)out.data, out.len, 0, NULL);
    }
    if (doc) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    putchar('\n');
    code = 0;
done:
    sl_buf_free(&out);
    sl_store_close(&store);
    return code;
}

/* ----------------------------------------------------------------- check */

typedef struct {
    uint64_t first; /* the log's first seq (1 unless trimmed) */
    uint64_t next;  /* the seq expected next */
    uint64_t count; /* changes read */
    int broken;
    json_t *live; /* qualified name -> true (alive) / false (deleted) */
} s_scan_t;

static int s_on_change(void *arg, uint64_t seq, const sl_event_t *change)
{
    s_scan_t *sc = arg;
    if (sc->count == 0 && seq > sc->next) {
        sc->first = seq; /* the records before were trimmed (retention) */
        sc->next = seq;
    }
    if (seq != sc->next) {
        fprintf(stderr, "sluice store check: seq %llu where %llu was expected\n",
                (unsigned long long)seq, (unsigned long long)sc->next);
        sc->broken = 1;
        return 1;
    }
    sc->next = seq + 1;
    sc->count++;
    sl_slice_t entity, op, key;
    if (sl_change_str(change, "entity", &entity) || sl_change_str(change, "op", &op) ||
        sl_change_str(change, "key", &key)) {
        fprintf(stderr, "sluice store check: change %llu lacks entity, op or key\n",
                (unsigned long long)seq);
        sc->broken = 1;
        return 1;
    }
    if (!sl_slice_eq(entity, "asset")) {
        return 0;
    }
    char *qn = strndup(key.ptr, key.len);
    if (!qn) {
        sc->broken = 1;
        return 1;
    }
    json_object_set_new(sc->live, qn, json_boolean(!sl_slice_eq(op, "delete")));
    free(qn);
    return 0;
}

/*  The number of assets of `tenant` in a stats document (-1 if absent). */
static json_int_t s_stat_assets(json_t *stats, const char *tenant)
{
    json_t *n =
        json_object_get(json_object_get(json_object_get(stats, "tenants"), tenant), "assets");
    return json_is_integer(n) ? json_integer_value(n) : -1;
}

static int s_check_tenant(sl_store_t *store, const char *tenant, json_t *stats,
                          char *const *consumers, int n_consumers)
{
    int bad = 0;
    sl_buf_t buf = {0};
    s_scan_t sc = {.first = 1, .next = 1, .live = json_object()};
    if (!sc.live) {
        return 1;
    }
    uint64_t last = 0;
    int rc = sl_store_last_seq(store, tenant, &last);
    if (rc == SL_OK) {
        rc = sl_store_changes(store, tenant, 0, 0, s_on_change, &sc);
    }
    if (rc < 0) {
        fprintf(stderr, "sluice store check: tenant %s: reading the log: %s\n", tenant,
                sl_strerror(rc));
        bad = 1;
        goto done;
    }
    if (sc.broken || sc.next != last + 1) {
        fprintf(stderr,
                "sluice store check: tenant %s: log holds %llu changes, last seq "
                "%llu\n",
                tenant, (unsigned long long)sc.count, (unsigned long long)last);
        bad = 1;
        goto done;
    }
    json_int_t alive = 0;
    const char *qn;
    json_t *v;
    json_object_foreach(sc.live, qn, v)
    {
        sl_buf_reset(&buf);
        rc = sl_store_asset_json(store, tenant, qn, &buf);
        int present = rc == SL_OK;
        if (rc != SL_OK && rc != SL_ENOTFOUND) {
            fprintf(stderr, "sluice store check: tenant %s: reading %s: %s\n", tenant, qn,
                    sl_strerror(rc));
            bad = 1;
        } else if (present != json_is_true(v)) {
            fprintf(stderr, "sluice store check: tenant %s: asset %s is %s the store but %s\n",
                    tenant, qn, present ? "in" : "not in",
                    json_is_true(v) ? "alive in the log" : "deleted in the log");
            bad = 1;
        }
        alive += json_is_true(v) ? 1 : 0;
    }
    /*  A trimmed log no longer names every asset: the count is checked
        only against a whole one. */
    json_int_t stored = s_stat_assets(stats, tenant);
    if (sc.first == 1 && stored >= 0 && stored != alive) {
        fprintf(stderr,
                "sluice store check: tenant %s: the store holds %lld assets, the "
                "log accounts "
                "for %lld\n",
                tenant, (long long)stored, (long long)alive);
        bad = 1;
    }
    for (int i = 0; i < n_consumers; i++) {
        uint64_t cur = 0;
        rc = sl_store_cursor_get(store, tenant, consumers[i], &cur);
        if (rc != SL_OK && rc != SL_ENOTFOUND) {
            fprintf(stderr, "sluice store check: tenant %s: cursor %s: %s\n", tenant, consumers[i],
                    sl_strerror(rc));
            bad = 1;
        } else if (cur > last) {
            fprintf(stderr,
                    "sluice store check: tenant %s: cursor %s is at %llu, past the "
                    "log's end "
                    "%llu\n",
                    tenant, consumers[i], (unsigned long long)cur, (unsigned long long)last);
            bad = 1;
        } else {
            printf("tenant %s: cursor %s at %llu of %llu\n", tenant, consumers[i],
                   (unsigned long long)cur, (unsigned long long)last);
        }
    }
    sl_store_lineage_check_t lc;
    char why[512];
    if ((rc = sl_store_lineage_check(store, tenant, &lc, why, sizeof why)) != SL_OK) {
        fprintf(stderr, "sluice store check: tenant %s: lineage: %s\n", tenant,
                why[0] ? why : sl_strerror(rc));
        bad = 1;
    }
    if (!bad) {
        printf("tenant %s: ok: %llu changes (seq %llu..%llu%s), %lld assets agree; %llu ids "
               "named, %llu edges stored both ways\n",
               tenant, (unsigned long long)sc.count, (unsigned long long)sc.first,
               (unsigned long long)last, sc.first > 1 ? ", older ones trimmed" : "",
               (long long)alive, (unsigned long long)lc.names, (unsigned long long)lc.edges);
    }
done:
    json_decref(sc.live);
    sl_buf_free(&buf);
    return bad;
}

static int s_check(const char *file, char *const *consumers, int n_consumers)
{
    int code = 1;
    char **tenants = NULL;
    json_t *stats = NULL;
    sl_buf_t out = {0};
    sl_store_t *store = s_open(file);
    if (!store) {
        goto done;
    }
    int rc = sl_store_stats_json(store, &out);
    if (rc) {
        fprintf(stderr, "sluice store check: stats: %s\n", sl_strerror(rc));
        goto done;
    }
    stats = json_loadb((const char *)out.data, out.len, 0, NULL);
    if (!stats) {
        fprintf(stderr, "sluice store check: stats are not JSON\n");
        goto done;
    }
    tenants = sl_store_tenants(store);
    if (!tenants) {
        fprintf(stderr, "sluice store check: out of memory\n");
        goto done;
    }
    int bad = 0;
    for (int i = 0; tenants[i]; i++) {
        bad |= s_check_tenant(store, tenants[i], stats, consumers, n_consumers);
    }
    code = bad ? 1 : 0;
done:
    for (int i = 0; tenants && tenants[i]; i++) {
        free(tenants[i]);
    }
    free(tenants);
    json_decref(stats);
    sl_buf_free(&out);
    sl_store_close(&store);
    return code;
}

/* --------------------------------------------------------------- cursors */

static int s_print_cursor(void *arg, const char *consumer, uint64_t seq)
{
    printf("%s %s %llu%s\n", (const char *)arg, consumer, (unsigned long long)seq,
           consumer[0] == '.' ? " mark" : "");
    return 0;
}

static int s_first_seq(void *arg, uint64_t seq, const sl_event_t *change)
{
    (void)change;
    *(uint64_t *)arg = seq;
    return 1;
}

static int s_cursors(const char *file, const char *only, const char *drop)
{
    sl_store_t *store = sl_cli_store_open(file, "sluice store", NULL);
    char **tenants = NULL;
    int code = 0, dropped = 0;
    if (!store) {
        return 1;
    }
    if (only) {
        tenants = calloc(2, sizeof *tenants);
        if (tenants) {
            tenants[0] = strdup(only);
        }
    } else {
        tenants = sl_store_tenants(store);
    }
    for (int i = 0; tenants && tenants[i]; i++) {
        if (drop) {
            int rc = sl_store_cursor_drop(store, tenants[i], drop);
            if (rc == SL_OK) {
                printf("%s %s dropped\n", tenants[i], drop);
                dropped++;
            } else if (rc != SL_ENOTFOUND) {
                fprintf(stderr, "sluice store: tenant %s: %s\n", tenants[i], sl_strerror(rc));
                code = 1;
            }
            continue;
        }
        uint64_t first = 0, last = 0;
        sl_store_changes(store, tenants[i], 0, 1, s_first_seq, &first);
        sl_store_last_seq(store, tenants[i], &last);
        printf("%s log %llu..%llu\n", tenants[i], (unsigned long long)first,
               (unsigned long long)last);
        if (sl_store_cursors_each(store, tenants[i], s_print_cursor, tenants[i]) < 0) {
            code = 1;
        }
    }
    if (drop && !dropped && code == 0) {
        fprintf(stderr, "sluice store: no cursor named '%s'\n", drop);
        code = 1;
    }
    for (int i = 0; tenants && tenants[i]; i++) {
        free(tenants[i]);
    }
    free(tenants);
    sl_store_close(&store);
    return code;
}

static int s_migrate(const char *file)
{
    sl_errors_t errors = {0};
    sl_plan_t *plan = sl_topology_load(file, &errors);
    int code = 1;
    if (!plan) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        fprintf(stderr, "sluice store migrate: %s: invalid topology\n", file);
    } else if (!plan->store_path) {
        fprintf(stderr, "sluice store migrate: %s has no store section (store: {path: DIR})\n",
                file);
    } else {
        sl_store_migration_t m;
        char err[512];
        int rc = sl_store_migrate(plan->store_path, NULL, &m, err, sizeof err);
        if (rc != SL_OK) {
            fprintf(stderr, "sluice store migrate: %s\n", err[0] ? err : sl_strerror(rc));
        } else {
            printf("%s: %llu environment(s), %llu rewritten: %llu assets, %llu edges, "
                   "%llu blocks moved, %llu edges skipped\n",
                   plan->store_path, (unsigned long long)m.envs, (unsigned long long)m.migrated,
                   (unsigned long long)m.assets, (unsigned long long)m.edges,
                   (unsigned long long)m.blocks, (unsigned long long)m.skipped);
            code = 0;
        }
    }
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return code;
}

int sl_cmd_store(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    if (argc < 3 || argv[2][0] == '-') {
        fputs(s_help, stderr);
        return 2;
    }
    const char *sub = argv[1];
    const char *file = argv[2];
    if (strcmp(sub, "stats") == 0) {
        int pretty = 0;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--pretty") != 0) {
                fputs(s_help, stderr);
                return 2;
            }
            pretty = 1;
        }
        return s_stats(file, pretty);
    }
    if (strcmp(sub, "check") == 0) {
        char **consumers = calloc((size_t)argc, sizeof *consumers);
        int n = 0;
        if (!consumers) {
            return 1;
        }
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--consumer") != 0 || i + 1 >= argc) {
                free(consumers);
                fputs(s_help, stderr);
                return 2;
            }
            consumers[n++] = argv[++i];
        }
        int code = s_check(file, consumers, n);
        free(consumers);
        return code;
    }
    if (strcmp(sub, "cursors") == 0) {
        const char *tenant = NULL, *drop = NULL;
        for (int i = 3; i < argc; i++) {
            if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc) {
                tenant = argv[++i];
            } else if (strcmp(argv[i], "--drop") == 0 && i + 1 < argc) {
                drop = argv[++i];
            } else {
                fputs(s_help, stderr);
                return 2;
            }
        }
        return s_cursors(file, tenant, drop);
    }
    if (strcmp(sub, "migrate") == 0 && argc == 3) {
        return s_migrate(file);
    }
    fputs(s_help, stderr);
    return 2;
}
