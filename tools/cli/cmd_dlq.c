/*  sluice dlq list|show|purge|replay FILE: the dead-letter store of the
    topology FILE, from outside the running process.

    LMDB is multi-process safe: these commands open the same environment as
    a running `sluice run` (readers never block; purge and replay take the
    single writer lock between the pipeline's batches), so they work while
    the pipeline runs (docs/dlq.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sluice/actor.h"
#include "sluice/event.h"
#include "sluice/harness.h"
#include "sluice/store.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice dlq list FILE [FILTERS] [--limit N] [--cursor ID] [--table]\n"
    "       sluice dlq show FILE ID [--tenant T]\n"
    "       sluice dlq purge FILE [FILTERS] [--limit N] [--yes]\n"
    "       sluice dlq replay FILE --to ACTOR [FILTERS] [--limit N]\n"
    "\n"
    "The dead letters of topology FILE's store (events an actor could not\n"
    "handle: the event, the reason, the actor, the time, the attempts).\n"
    "\n"
    "list    one JSON object per line, in id order: {\"id\": \"TENANT/SEQ\",\n"
    "        \"tenant\", \"seq\", \"time\", \"actor\", \"attempts\", \"reason\",\n"
    "        \"event\"}; --table prints columns instead. With --limit, the last\n"
    "        line on stderr names the --cursor of the next page.\n"
    "show    one dead letter by id: TENANT/SEQ, or SEQ with --tenant.\n"
    "purge   deletes the selected dead letters (no filter: all of them). Without\n"
    "        --yes it only prints what it would delete.\n"
    "replay  re-injects the selected events into actor ACTOR of the topology.\n"
    "        A store actor: the events are applied to the store in one batch;\n"
    "        each applied one leaves the dead letters, each that fails again\n"
    "        stays with attempts + 1 and the new reason. Works while the\n"
    "        pipeline runs. Any other actor (not a source): ACTOR and every\n"
    "        actor downstream of it run in this process on the topology's\n"
    "        store until drained; the replayed dead letters are removed, one\n"
    "        that fails again is dead-lettered anew by the actor rejecting it\n"
    "        (attempts 1). Prints {selected, replayed, applied, dead_again,\n"
    "        skipped}; dead letters the store wrote are skipped (replay them\n"
    "        --to the store actor).\n"
    "\n"
    "FILTERS:\n"
    "  --tenant T        this tenant only\n"
    "  --actor A         rejected by actor A (\"store\": the store itself)\n"
    "  --reason TEXT     reason contains TEXT\n"
    "  --since TIME      written at or after TIME (RFC 3339, or a duration\n"
    "                    ago: 90s, 15m, 2h)\n"
    "  --until TIME      written before TIME\n"
    "\n"
    "Exit status: 0 ok, 1 failure (replay: some events failed again),\n"
    "2 usage.\n";

typedef struct {
    const char *tenant, *actor, *reason, *since, *until, *limit, *cursor, *to;
    int table, yes;
    const char *pos[3];
    int npos;
} s_args_t;

#define s_usage(...) sl_cli_usage("sluice dlq", s_help, __VA_ARGS__)

/*  RFC 3339, or a duration before now. */
static int s_time(const char *name, const char *text, int64_t *us)
{
    static const sl_opt_t dur = {"duration", SL_OPT_DURATION, NULL, 0, 0, ""};
    int64_t d = 0;
    char err[128];
    if (!text) {
        *us = 0;
        return 0;
    }
    if (sl_time_parse(text, strlen(text), us) == SL_OK) {
        return 0;
    }
    if (sl_opt_parse(&dur, text, &d, err, sizeof err) == SL_OK && d >= 0) {
        *us = sl_now_us() - d;
        return 0;
    }
    s_usage("%s: expected an RFC 3339 time or a duration (90s, 15m, 2h), got '%s'", name, text);
    return -1;
}

/*  The store the replay target (or the topology) names: the store actor's
    own path, tenancy and map size when it sets them, else the topology's. */
static sl_store_t *s_open(sl_plan_t *plan, const sl_plan_actor_t *act)
{
    const char **tenants = NULL;
    const char *path = plan->store_path ? plan->store_path : "var/sluice";
    int isolated = plan->tenancy == SL_TENANCY_ISOLATED;
    int64_t map_size = 0;
    int n = plan->n_tenants;
    char *const *items = NULL;
    char err[256] = "";
    for (int i = 0; act && i < act->n_opts; i++) {
        const sl_plan_opt_t *o = &act->opts[i];
        const sl_opt_t *def = sl_opt_find(act->kind, o->key);
        if (strcmp(o->key, "path") == 0 && o->text) {
            path = o->text;
        } else if (strcmp(o->key, "tenants") == 0 && o->items) {
            items = o->items;
            n = o->n_items;
        } else if (def && strcmp(o->key, "isolated") == 0 && o->text) {
            sl_opt_parse(def, o->text, &isolated, err, sizeof err);
        } else if (def && strcmp(o->key, "map_size") == 0 && o->text) {
            sl_opt_parse(def, o->text, &map_size, err, sizeof err);
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        /*  Opening would create an empty store: say there is none. */
        fprintf(stderr, "sluice dlq: no store at %s (named by %s)\n", path, plan->file);
        return NULL;
    }
    if (n > 0 && !(tenants = calloc((size_t)n + 1, sizeof *tenants))) {
        fprintf(stderr, "sluice dlq: out of memory\n");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        tenants[i] = items ? items[i] : plan->tenants[i].name;
    }
    sl_store_opts_t so = {
        .path = path, .isolated = isolated, .tenants = tenants, .map_size = map_size};
    sl_store_t *store = sl_store_open(&so, err, sizeof err);
    if (!store) {
        fprintf(stderr, "sluice dlq: cannot open store %s: %s\n", path, err);
    }
    free(tenants);
    return store;
}

/* ------------------------------------------------------------- printing */

typedef struct {
    int table;
    int header;
    uint64_t n;
    char last[160];
    int rc;
} s_print_t;

/*  One field of a table row: no tabs or newlines inside. */
static void s_cell(const char *s, size_t max)
{
    size_t n = 0;
    for (; *s && n < max; s++, n++) {
        putchar(*s == '\t' || *s == '\n' ? ' ' : *s);
    }
    if (*s) {
        fputs("...", stdout);
    }
}

static int s_print_fn(void *arg, const sl_dead_letter_t *dl)
{
    s_print_t *p = arg;
    snprintf(p->last, sizeof p->last, "%s", dl->id);
    p->n++;
    if (p->table) {
        sl_event_t ev;
        size_t used;
        char kind[64] = "?";
        if (dl->rawlen && sl_event_decode(dl->raw, dl->rawlen, &used, &ev) == SL_OK) {
            snprintf(kind, sizeof kind, "%.*s", (int)ev.kind.len, ev.kind.ptr);
        }
        if (!p->header++) {
            printf("%-16s  %-27s  %-16s  %8s  %-20s  %s\n", "ID", "TIME", "ACTOR", "ATTEMPTS",
                   "KIND", "REASON");
        }
        printf("%-16s  %-27s  %-16s  %8llu  %-20s  ", dl->id, dl->time, dl->actor,
               (unsigned long long)dl->attempts, kind);
        s_cell(dl->reason, 200);
        putchar('\n');
        return 0;
    }
    /*  The same document as `show` and the list API. */
    sl_buf_t j = {0};
    json_t *ev = json_null();
    sl_event_t e;
    size_t used;
    if (dl->rawlen && sl_event_decode(dl->raw, dl->rawlen, &used, &e) == SL_OK &&
        sl_event_to_json(&e, &j) == SL_OK) {
        json_t *parsed = json_loadb((const char *)j.data, j.len, 0, NULL);
        if (parsed) {
            json_decref(ev);
            ev = parsed;
        }
    }
    sl_buf_free(&j);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:s,s:o}", "id", dl->id, "tenant", dl->tenant,
                          "seq", (json_int_t)dl->seq, "time", dl->time, "actor", dl->actor,
                          "attempts", (json_int_t)dl->attempts, "reason", dl->reason, "event", ev);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) {
        p->rc = SL_ENOMEM;
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

/* ------------------------------------------------------------- commands */

static int s_show(sl_store_t *store, const char *id, const char *tenant_opt)
{
    char tenant[128];
    const char *slash = strrchr(id, '/');
    const char *num = slash ? slash + 1 : id;
    char *end = NULL;
    errno = 0;
    unsigned long long seq = strtoull(num, &end, 10);
    if (num[0] < '0' || num[0] > '9' || *end || errno) {
        return s_usage("ID must be TENANT/SEQ or SEQ, not '%s'", id);
    }
    if (slash) {
        snprintf(tenant, sizeof tenant, "%.*s", (int)(slash - id), id);
    } else if (tenant_opt) {
        snprintf(tenant, sizeof tenant, "%s", tenant_opt);
    } else {
        return s_usage("ID '%s' needs its tenant: TENANT/%s, or --tenant T", id, id);
    }
    sl_buf_t out = {0};
    int rc = sl_store_dead_letter_json(store, tenant, seq, &out);
    if (rc == SL_OK) {
        fwrite(out.data, 1, out.len, stdout);
        putchar('\n');
    } else if (rc == SL_ENOTFOUND) {
        fprintf(stderr, "sluice dlq: no dead letter %s/%llu\n", tenant, seq);
    } else {
        fprintf(stderr, "sluice dlq: show: %s\n", sl_strerror(rc));
    }
    sl_buf_free(&out);
    return rc == SL_OK ? 0 : 1;
}

static int s_list(sl_store_t *store, const sl_dead_filter_t *f, const s_args_t *a, int dry)
{
    s_print_t p = {.table = a->table};
    int rc = sl_store_dead_letters_each(store, f, a->cursor, s_print_fn, &p);
    if (rc == SL_EINVAL) {
        return s_usage("bad --cursor '%s' (expected an id, TENANT/SEQ)", a->cursor);
    }
    if (rc < 0) {
        fprintf(stderr, "sluice dlq: %s\n", sl_strerror(rc));
        return 1;
    }
    if (p.rc) {
        fprintf(stderr, "sluice dlq: %s\n", sl_strerror(p.rc));
        return 1;
    }
    if (dry) {
        fprintf(stderr,
                "sluice dlq: would delete %llu dead letter%s; run again with --yes to delete\n",
                (unsigned long long)p.n, p.n == 1 ? "" : "s");
    } else if (f->limit && p.n == f->limit) {
        fprintf(stderr, "sluice dlq: more may follow: --cursor %s\n", p.last);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ------------------------------------------------ replay into the pipeline */

/*  A dead letter replayed through the pipeline: enough to find it again. */
typedef struct {
    char tenant[128];
    uint64_t seq;
    int64_t time_us;
    char actor[64];
    uint8_t id[16];
    int back; /* came back as a new dead letter */
} s_sel_t;

typedef struct {
    const sl_plan_t *plan;
    s_sel_t *items;
    size_t n, cap;
    uint64_t selected, skipped;
    sl_buf_t lines; /* the events, event API JSON, one per line */
    int rc;
} s_collect_t;

/*  1 if `actor` is the store itself or a store actor of the plan: the store
    recorded the event's id as applied, so through the pipeline the store
    would drop it as a duplicate (docs/dlq.md): replay those --to the store. */
static int s_by_store(const sl_plan_t *plan, const char *actor)
{
    if (strcmp(actor, "store") == 0) {
        return 1;
    }
    const sl_plan_actor_t *a = sl_plan_actor(plan, actor);
    return a && strcmp(a->kind->name, "store") == 0;
}

static int s_collect_fn(void *arg, const sl_dead_letter_t *dl)
{
    s_collect_t *c = arg;
    sl_event_t ev;
    size_t used;
    c->selected++;
    if (s_by_store(c->plan, dl->actor) || !dl->rawlen ||
        sl_event_decode(dl->raw, dl->rawlen, &used, &ev) != SL_OK) {
        c->skipped++;
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        s_sel_t *items = realloc(c->items, cap * sizeof *items);
        if (!items) {
            c->rc = SL_ENOMEM;
            return 1;
        }
        c->items = items;
        c->cap = cap;
    }
    if ((c->rc = sl_event_to_json(&ev, &c->lines)) != SL_OK ||
        (c->rc = sl_buf_append(&c->lines, "\n", 1)) != SL_OK) {
        return 1;
    }
    s_sel_t *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->tenant, sizeof it->tenant, "%s", dl->tenant);
    snprintf(it->actor, sizeof it->actor, "%s", dl->actor);
    it->seq = dl->seq;
    it->time_us = dl->time_us;
    memcpy(it->id, ev.id, sizeof it->id);
    return 0;
}

/*  A dead letter written during the replay: is it one of ours, back? */
static int s_back_fn(void *arg, const sl_dead_letter_t *dl)
{
    s_collect_t *c = arg;
    sl_event_t ev;
    size_t used;
    if (!dl->rawlen || sl_event_decode(dl->raw, dl->rawlen, &used, &ev) != SL_OK) {
        return 0;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].tenant, dl->tenant) == 0 &&
            memcmp(c->items[i].id, ev.id, sizeof ev.id) == 0) {
            c->items[i].back = 1;
        }
    }
    return 0;
}

/*  Every dead letter of the narrow filter must be a replayed one (the
    filter API selects by time, not by id: a record of another event written
    in the same microsecond keeps them all). */
static int s_only_ours_fn(void *arg, const sl_dead_letter_t *dl)
{
    s_collect_t *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].tenant, dl->tenant) == 0 && c->items[i].seq == dl->seq &&
            c->items[i].time_us == dl->time_us) {
            return 0;
        }
    }
    c->rc = SL_EEXIST;
    return 1;
}

/*  Replay into a non-store actor: run it and everything downstream of it
    in this process (sl_harness_inject) on the topology's real store, then
    drop the replayed dead letters. One that failed again was dead-lettered
    again by the actor that rejected it: that new record (attempts 1, the new
    reason) replaces the old one. */
static int s_replay_pipeline(sl_plan_t *plan, const sl_dead_filter_t *f, const char *to)
{
    const sl_plan_actor_t *sa = NULL;
    for (int i = 0; i < plan->n_actors && !sa; i++) {
        if (strcmp(plan->actors[i].kind->name, "store") == 0) {
            sa = &plan->actors[i];
        }
    }
    s_collect_t c = {.plan = plan};
    sl_buf_t report = {0};
    uint64_t applied = 0, dead = 0, kept = 0;
    int status = 1;
    sl_store_t *store = s_open(plan, sa);
    if (!store) {
        return 1;
    }
    int rc = sl_store_dead_letters_each(store, f, NULL, s_collect_fn, &c);
    /*  Closed while the pipeline, in this process, opens the store. */
    sl_store_close(&store);
    if (rc < 0 || c.rc) {
        fprintf(stderr, "sluice dlq: replay: %s\n", sl_strerror(rc < 0 ? rc : c.rc));
        goto done;
    }
    if (c.skipped) {
        fprintf(stderr,
                "sluice dlq: replay: %llu dead letter%s written by a store actor (or without "
                "their event) left as they are: replay them --to the store actor\n",
                (unsigned long long)c.skipped, c.skipped == 1 ? "" : "s");
    }
    int64_t t0 = sl_now_us();
    if (c.n) {
        sl_harness_opts_t ho = {.store_path = plan->store_path};
        rc = sl_harness_inject(plan, to, (const char *)c.lines.data, c.lines.len, &ho, &report);
        if (rc == SL_ENOTFOUND || rc == SL_EINVAL) {
            fprintf(stderr, "sluice dlq: replay: %.*s", (int)report.len, (const char *)report.data);
            status = 2;
            goto done;
        }
        if (rc) {
            fprintf(stderr, "sluice dlq: replay into '%s' failed, no dead letter removed: %.*s", to,
                    (int)report.len, (const char *)report.data);
            goto done;
        }
    }
    if (!(store = s_open(plan, sa))) {
        goto done;
    }
    sl_dead_filter_t nf = {.since_us = t0};
    if ((rc = sl_store_dead_letters_each(store, &nf, NULL, s_back_fn, &c)) < 0) {
        fprintf(stderr, "sluice dlq: replay: %s\n", sl_strerror(rc));
        goto done;
    }
    for (size_t i = 0; i < c.n; i++) {
        const s_sel_t *it = &c.items[i];
        sl_dead_filter_t one = {.tenant = it->tenant,
                                .actor = it->actor,
                                .since_us = it->time_us,
                                .until_us = it->time_us + 1};
        uint64_t n = 0;
        applied += !it->back;
        dead += it->back;
        c.rc = 0;
        rc = sl_store_dead_letters_each(store, &one, NULL, s_only_ours_fn, &c);
        if (rc >= 0 && !c.rc) {
            rc = sl_store_dead_letters_purge(store, &one, &n);
        }
        if (rc < 0 || c.rc) {
            kept++;
            fprintf(stderr, "sluice dlq: replay: %s/%llu kept: %s\n", it->tenant,
                    (unsigned long long)it->seq,
                    rc < 0 ? sl_strerror(rc) : "another dead letter has its time");
        }
    }
    printf("{\"selected\":%llu,\"replayed\":%llu,\"applied\":%llu,\"dead_again\":%llu,"
           "\"skipped\":%llu}\n",
           (unsigned long long)c.selected, (unsigned long long)c.n, (unsigned long long)applied,
           (unsigned long long)dead, (unsigned long long)c.skipped);
    status = dead || kept ? 1 : 0;
done:
    sl_store_close(&store);
    sl_buf_free(&report);
    sl_buf_free(&c.lines);
    free(c.items);
    return status;
}

static int s_replay(sl_plan_t *plan, const sl_dead_filter_t *f, const char *to)
{
    const sl_plan_actor_t *act = NULL;
    for (int i = 0; i < plan->n_actors; i++) {
        if (strcmp(plan->actors[i].name, to) == 0) {
            act = &plan->actors[i];
        }
    }
    if (!act) {
        fprintf(stderr, "sluice dlq: replay: %s has no actor '%s'\n", plan->file, to);
        return 2;
    }
    if (act->kind->flags & SL_KIND_SOURCE) {
        fprintf(stderr,
                "sluice dlq: replay: actor '%s' is a %s, a source: it takes no input; "
                "replay into one of its consumers (docs/dlq.md)\n",
                to, act->kind->name);
        return 2;
    }
    if (strcmp(act->kind->name, "store") != 0) {
        return s_replay_pipeline(plan, f, to);
    }
    sl_store_t *store = s_open(plan, act);
    if (!store) {
        return 1;
    }
    sl_dead_replay_t r;
    int rc = sl_store_dead_letters_replay(store, f, &r);
    sl_store_close(&store);
    if (rc) {
        fprintf(stderr, "sluice dlq: replay: %s\n", sl_strerror(rc));
        return 1;
    }
    printf("{\"selected\":%llu,\"applied\":%llu,\"duplicate\":%llu,\"still_dead\":%llu}\n",
           (unsigned long long)r.selected, (unsigned long long)r.applied,
           (unsigned long long)r.duplicate, (unsigned long long)r.still_dead);
    return r.still_dead ? 1 : 0;
}

int sl_cmd_dlq(int argc, char **argv)
{
    s_args_t a = {0};
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = NULL;
        if (strcmp(o, "--table") == 0) {
            a.table = 1;
            continue;
        }
        if (strcmp(o, "--yes") == 0) {
            a.yes = 1;
            continue;
        }
        if (strcmp(o, "--tenant") == 0) {
            slot = &a.tenant;
        } else if (strcmp(o, "--actor") == 0) {
            slot = &a.actor;
        } else if (strcmp(o, "--reason") == 0) {
            slot = &a.reason;
        } else if (strcmp(o, "--since") == 0) {
            slot = &a.since;
        } else if (strcmp(o, "--until") == 0) {
            slot = &a.until;
        } else if (strcmp(o, "--limit") == 0) {
            slot = &a.limit;
        } else if (strcmp(o, "--cursor") == 0) {
            slot = &a.cursor;
        } else if (strcmp(o, "--to") == 0) {
            slot = &a.to;
        } else if (o[0] == '-' && o[1] == '-') {
            return s_usage("unknown option '%s'", o);
        } else {
            if (a.npos >= 3) {
                return s_usage("unexpected argument '%s'", o);
            }
            a.pos[a.npos++] = o;
            continue;
        }
        if (i + 1 >= argc) {
            return s_usage("%s needs a value", o);
        }
        *slot = argv[++i];
    }
    if (a.npos < 2) {
        return s_usage("%s", "expected a subcommand and FILE");
    }
    const char *cmd = a.pos[0], *file = a.pos[1];
    int show = strcmp(cmd, "show") == 0, list = strcmp(cmd, "list") == 0;
    int purge = strcmp(cmd, "purge") == 0, replay = strcmp(cmd, "replay") == 0;
    if (!show && !list && !purge && !replay) {
        return s_usage("unknown subcommand '%s'", cmd);
    }
    if (show != (a.npos == 3)) {
        return s_usage("%s", show ? "show needs an ID" : "unexpected argument");
    }
    if (replay != (a.to != NULL)) {
        return s_usage("%s", replay ? "replay needs --to ACTOR" : "--to is for replay");
    }
    if ((a.cursor || a.table) && !list) {
        return s_usage("%s", "--cursor and --table are for list");
    }
    if (a.yes && !purge) {
        return s_usage("%s", "--yes is for purge");
    }
    sl_dead_filter_t f = {.tenant = a.tenant, .actor = a.actor, .reason = a.reason};
    if (s_time("--since", a.since, &f.since_us) || s_time("--until", a.until, &f.until_us)) {
        return 2;
    }
    if (a.limit) {
        char *end = NULL;
        errno = 0;
        unsigned long long l = strtoull(a.limit, &end, 10);
        if (a.limit[0] < '1' || a.limit[0] > '9' || *end || errno) {
            return s_usage("--limit must be a positive integer, not '%s'", a.limit);
        }
        f.limit = l;
    }

    sl_errors_t errors = {0};
    sl_plan_t *plan = sl_topology_load(file, &errors);
    int status = 1;
    sl_store_t *store = NULL;
    if (!plan) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        fprintf(stderr, "sluice dlq: %s: invalid topology\n", file);
        goto done;
    }
    if (replay) {
        status = s_replay(plan, &f, a.to);
        goto done;
    }
    /*  The store of the topology's store actor (it may set its own path). */
    const sl_plan_actor_t *sa = NULL;
    for (int i = 0; i < plan->n_actors && !sa; i++) {
        if (strcmp(plan->actors[i].kind->name, "store") == 0) {
            sa = &plan->actors[i];
        }
    }
    if (!(store = s_open(plan, sa))) {
        goto done;
    }
    if (show) {
        status = s_show(store, a.pos[2], a.tenant);
    } else if (list || !a.yes) {
        status = s_list(store, &f, &a, purge);
    } else {
        uint64_t n = 0;
        int rc = sl_store_dead_letters_purge(store, &f, &n);
        if (rc) {
            fprintf(stderr, "sluice dlq: purge: %s\n", sl_strerror(rc));
        } else {
            printf("{\"deleted\":%llu}\n", (unsigned long long)n);
            status = 0;
        }
    }
done:
    sl_store_close(&store);
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return status;
}
