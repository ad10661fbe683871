/*  sluice backfill montecarlo FILE --since TIME [--actor NAME]

    Runs the poll of the topology's montecarlo_poll actor once, from TIME,
    and applies the incidents straight to the topology's store: the running
    pipeline has no command channel yet, and LMDB lets a second process
    write beside it (the writer lock orders the two). The events are the
    actor's (same deterministic ids), so a back-fill beside a running poll
    or webhook changes nothing twice; the store keeps the newest update.
    The actor's watermark is left alone. docs/montecarlo.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/actor.h"
#include "sluice/store.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

/*  actors/montecarlo_poll/montecarlo_poll.c: one poll outside the engine. */
typedef int (*sl_mc_sink_fn)(void *arg, const sl_event_t *ev, const char *dead_reason);
typedef void (*sl_mc_progress_fn)(void *arg, int pages, int64_t nodes, int64_t events);
int sl_montecarlo_poll_backfill(void *state, const char *name, int64_t since_us, sl_mc_sink_fn sink,
                                void *sink_arg, sl_mc_progress_fn progress, void *progress_arg,
                                int64_t *nodes, int64_t *events);

#define S_BATCH 256

static const char *s_help =
    "usage: sluice backfill montecarlo FILE --since TIME [--actor NAME]\n"
    "\n"
    "Fetches every Monte Carlo incident updated since TIME with the options\n"
    "(url, api_id, api_token, query, mapping, tenant, ...) of the topology's\n"
    "montecarlo_poll actor, and applies them to the topology's store (its\n"
    "`store: {path}`), beside a running pipeline if there is one.\n"
    "\n"
    "  --since TIME    RFC 3339 time (2026-11-25T00:00:00Z), or a duration\n"
    "                  back from now (90m, 24h)\n"
    "  --actor NAME    the montecarlo_poll actor to take the options of\n"
    "                  (required when the topology has several)\n"
    "\n"
    "Prints progress on a terminal and a summary line. The actor's watermark\n"
    "is not moved. Exit status: 0 done, 1 failure, 2 usage.\n";

typedef struct {
    sl_store_t *store;
    sl_store_batch_t *batch;
    int in_batch;
    int64_t changed, noop, dup, dead;
    int tty;
    int rc;
} s_apply_t;

#define s_usage(msg) sl_cli_usage("sluice backfill", s_help, "%s", msg)

static int s_commit(s_apply_t *ap)
{
    int rc = SL_OK;
    if (ap->batch) {
        rc = sl_store_batch_commit(&ap->batch);
        ap->in_batch = 0;
        if (rc != SL_OK) {
            fprintf(stderr, "sluice backfill: store commit failed: %s\n", sl_strerror(rc));
        }
    }
    return rc;
}

static int s_sink(void *arg, const sl_event_t *ev, const char *dead_reason)
{
    s_apply_t *ap = arg;
    int rc;
    char reason[256] = "";
    if (dead_reason) {
        /*  Outside a batch: one write transaction at a time per thread. */
        if ((rc = s_commit(ap)) != SL_OK) {
            return rc;
        }
        if ((rc = sl_store_dead_letter_from(ap->store, ev, "backfill", dead_reason)) == SL_OK) {
            ap->dead++;
        }
        return rc;
    }
    if (!ap->batch && (rc = sl_store_batch_begin(ap->store, &ap->batch)) != SL_OK) {
        fprintf(stderr, "sluice backfill: cannot begin a store batch: %s\n", sl_strerror(rc));
        return rc;
    }
    sl_apply_t res;
    if ((rc = sl_store_apply(ap->batch, ev, &res, reason, sizeof reason)) != SL_OK) {
        sl_store_batch_abort(&ap->batch);
        fprintf(stderr, "sluice backfill: store: %s\n", sl_strerror(rc));
        return rc;
    }
    switch (res) {
    case SL_APPLY_CHANGED:
        ap->changed++;
        break;
    case SL_APPLY_NOOP:
        ap->noop++;
        break;
    case SL_APPLY_DUPLICATE:
        ap->dup++;
        break;
    case SL_APPLY_DEAD:
        ap->dead++;
        fprintf(stderr, "%ssluice backfill: dead letter: %s\n", ap->tty ? "\n" : "", reason);
        break;
    }
    if (++ap->in_batch >= S_BATCH) {
        return s_commit(ap);
    }
    return SL_OK;
}

static void s_progress(void *arg, int pages, int64_t nodes, int64_t events)
{
    s_apply_t *ap = arg;
    if (ap->tty) {
        fprintf(stderr, "\r\033[Kpage %d: %lld incidents, %lld events, %lld changed", pages,
                (long long)nodes, (long long)events, (long long)ap->changed);
        fflush(stderr);
    }
}

/*  TIME: RFC 3339, or a duration back from now. */
static int s_since(const char *text, int64_t *us)
{
    if (sl_time_parse(text, strlen(text), us) == SL_OK) {
        return SL_OK;
    }
    const sl_opt_t o = {.name = "since", .type = SL_OPT_DURATION};
    int64_t d = 0;
    char err[128];
    if (sl_opt_parse(&o, text, &d, err, sizeof err) != SL_OK || d < 0) {
        return SL_EINVAL;
    }
    *us = sl_now_us() - d;
    return SL_OK;
}

static sl_store_t *s_open_store(const sl_plan_t *plan)
{
    const char **tenants = calloc((size_t)plan->n_tenants + 1, sizeof *tenants);
    char err[256] = "";
    int64_t map_size = 0;
    if (!tenants) {
        return NULL;
    }
    for (int i = 0; i < plan->n_tenants; i++) {
        tenants[i] = plan->tenants[i].name;
    }
    /*  The store actor's map size, so this process does not shrink it. */
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *pa = &plan->actors[i];
        const sl_opt_t *o = sl_opt_find(pa->kind, "map_size");
        if (strcmp(pa->kind->name, "store") != 0 || !o) {
            continue;
        }
        for (int k = 0; k < pa->n_opts; k++) {
            if (strcmp(pa->opts[k].key, "map_size") == 0 && pa->opts[k].text) {
                sl_opt_parse(o, pa->opts[k].text, &map_size, err, sizeof err);
            }
        }
    }
    const char *path = plan->store_path ? plan->store_path : "var/sluice";
    sl_store_opts_t so = {
        .path = path,
        .isolated = plan->tenancy == SL_TENANCY_ISOLATED,
        .tenants = plan->n_tenants ? tenants : NULL,
        .map_size = map_size,
    };
    sl_store_t *store = sl_store_open(&so, err, sizeof err);
    if (!store) {
        fprintf(stderr, "sluice backfill: cannot open store %s: %s\n", path, err);
    }
    free(tenants);
    return store;
}

int sl_cmd_backfill(int argc, char **argv)
{
    const char *source = NULL, *file = NULL, *since_s = NULL, *actor = NULL;
    sl_errors_t errors = {0};
    sl_plan_t *plan = NULL;
    const sl_plan_actor_t *pa = NULL;
    void *state = NULL;
    s_apply_t ap = {0};
    int status = 1;

    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            since_s = argv[++i];
        } else if (strcmp(argv[i], "--actor") == 0 && i + 1 < argc) {
            actor = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "sluice backfill: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        } else if (!source) {
            source = argv[i];
        } else if (!file) {
            file = argv[i];
        } else {
            return s_usage("too many arguments");
        }
    }
    if (!source || strcmp(source, "montecarlo") != 0) {
        return s_usage("the source must be montecarlo");
    }
    if (!file || !since_s) {
        return s_usage("FILE and --since TIME are required");
    }
    int64_t since = 0;
    if (s_since(since_s, &since) != SL_OK) {
        return s_usage("--since: expected an RFC 3339 time or a duration such as 24h");
    }
    if (!(plan = sl_topology_load(file, &errors))) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        fprintf(stderr, "sluice backfill: %s: invalid topology\n", file);
        goto done;
    }
    for (int i = 0; i < plan->n_actors; i++) {
        const sl_plan_actor_t *c = &plan->actors[i];
        if (strcmp(c->kind->name, "montecarlo_poll") != 0 ||
            (actor && strcmp(c->name, actor) != 0)) {
            continue;
        }
        if (pa) {
            fprintf(stderr,
                    "sluice backfill: %s has several montecarlo_poll actors (%s, %s): "
                    "name one with --actor\n",
                    file, pa->name, c->name);
            goto done;
        }
        pa = c;
    }
    if (!pa) {
        fprintf(stderr, "sluice backfill: %s has no montecarlo_poll actor%s%s\n", file,
                actor ? " named " : "", actor ? actor : "");
        goto done;
    }
    if (!(state = calloc(1, pa->kind->state_size)) || sl_plan_actor_fill(pa, state) != SL_OK) {
        fprintf(stderr, "sluice backfill: out of memory\n");
        goto done;
    }
    if (!(ap.store = s_open_store(plan))) {
        goto done;
    }
    ap.tty = isatty(STDERR_FILENO);
    int64_t nodes = 0, events = 0;
    int rc = sl_montecarlo_poll_backfill(state, pa->name, since, s_sink, &ap, s_progress, &ap,
                                         &nodes, &events);
    if (rc == SL_OK) {
        rc = s_commit(&ap);
    } else {
        sl_store_batch_abort(&ap.batch);
    }
    if (ap.tty) {
        fputs("\r\033[K", stderr);
    }
    char from[32];
    sl_time_format(since, from);
    printf("backfill montecarlo from %s: %lld incidents, %lld events: %lld changed, %lld "
           "unchanged, %lld duplicates, %lld dead letters%s\n",
           from, (long long)nodes, (long long)events, (long long)ap.changed, (long long)ap.noop,
           (long long)ap.dup, (long long)ap.dead, rc == SL_OK ? "" : " (incomplete)");
    if (rc != SL_OK) {
        fprintf(stderr, "sluice backfill: failed: %s (the log lines above say why)\n",
                sl_strerror(rc));
        goto done;
    }
    status = 0;
done:
    if (state) {
        sl_opt_free(pa->kind, state);
        free(state);
    }
    sl_store_close(&ap.store);
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return status;
}
