/*  sluice query FILE asset|assets|lineage|incidents|changes ... --tenant T

    The same reads as the HTTP query API (docs/api.md), straight from the
    topology's store, printed as the JSON the API would answer. LMDB lets
    this run beside a `sluice run` that writes the same store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/store.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice query FILE READ [ARGS] --tenant T\n"
    "\n"
    "Reads the store of topology FILE (its `store: {path}`, else var/sluice) and\n"
    "prints JSON, as the HTTP query API does (docs/api.md). READ is one of:\n"
    "\n"
    "  asset QN                        one asset with tags, owners and incidents\n"
    "  assets [--prefix P] [--limit N] [--cursor C]\n"
    "                                  list assets (limit 1..1000, default 100)\n"
    "  lineage QN [--direction down|up|both] [--depth N] [--limit N]\n"
    "                                  lineage subgraph (default down, depth 3 (1..10),\n"
    "                                  limit 1000 nodes (1..10000))\n"
    "  incidents [--status open|acknowledged|resolved] [--asset QN] [--source S]\n"
    "            [--limit N] [--cursor C]\n"
    "  changes [--after SEQ] [--limit N]\n"
    "                                  change log records after SEQ (default 0)\n"
    "\n"
    "  --tenant T                      required: the tenant whose data is read\n"
    "\n"
    "Exit status: 0 found, 1 not found or error, 2 usage.\n";

typedef struct {
    const char *tenant;
    const char *prefix;
    const char *cursor;
    const char *direction;
    const char *status;
    const char *asset;
    const char *source;
    const char *after;
    const char *depth;
    const char *limit;
} s_args_t;

#define s_usage(...) sl_cli_usage("sluice query", s_help, __VA_ARGS__)

/*  Integer option in [min, max], def if absent; -1 after a usage message. */
static int s_int(const char *name, const char *v, long def, long min, long max, long *out)
{
    if (!v) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end || errno || x < min || x > max) {
        fprintf(stderr, "sluice query: %s must be an integer from %ld to %ld, got '%s'\n", name,
                min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

static sl_store_t *s_open(const char *file, int *status)
{
    sl_errors_t errors = {0};
    sl_store_t *store = NULL;
    const char **tenants = NULL;
    sl_plan_t *plan = sl_topology_load(file, &errors);
    char err[256] = "";

    *status = 1;
    if (!plan) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        if (errors.count == 0) {
            fprintf(stderr, "%s: invalid topology\n", file);
        }
        goto fail;
    }
    const char *path = plan->store_path ? plan->store_path : "var/sluice";
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        /* opening would create an empty store: say there is none */
        fprintf(stderr, "sluice query: no store at %s\n", path);
        goto fail;
    }
    tenants = calloc((size_t)plan->n_tenants + 1, sizeof *tenants);
    if (!tenants) {
        fprintf(stderr, "sluice query: out of memory\n");
        goto fail;
    }
    for (int i = 0; i < plan->n_tenants; i++) {
        tenants[i] = plan->tenants[i].name;
    }
    sl_store_opts_t so = {
        .path = path,
        .isolated = plan->tenancy == SL_TENANCY_ISOLATED,
        .tenants = plan->n_tenants ? tenants : NULL,
    };
    store = sl_store_open(&so, err, sizeof err);
    if (!store) {
        fprintf(stderr, "sluice query: cannot open store %s: %s\n", path, err);
        goto fail;
    }
    *status = 0;

fail:
    free(tenants);
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return store;
}

int sl_cmd_query(int argc, char **argv)
{
    s_args_t a = {0};
    const char *pos[3] = {0};
    int npos = 0;
    sl_buf_t out = {0};
    sl_store_t *store = NULL;
    int status = 1;
    long limit = 0, depth = 0;
    int rc;

    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = NULL;
        if (strcmp(o, "--tenant") == 0) {
            slot = &a.tenant;
        } else if (strcmp(o, "--prefix") == 0) {
            slot = &a.prefix;
        } else if (strcmp(o, "--cursor") == 0) {
            slot = &a.cursor;
        } else if (strcmp(o, "--direction") == 0) {
            slot = &a.direction;
        } else if (strcmp(o, "--status") == 0) {
            slot = &a.status;
        } else if (strcmp(o, "--asset") == 0) {
            slot = &a.asset;
        } else if (strcmp(o, "--source") == 0) {
            slot = &a.source;
        } else if (strcmp(o, "--after") == 0) {
            slot = &a.after;
        } else if (strcmp(o, "--depth") == 0) {
            slot = &a.depth;
        } else if (strcmp(o, "--limit") == 0) {
            slot = &a.limit;
        } else if (o[0] == '-' && o[1] == '-') {
            return s_usage("unknown option '%s'", o);
        } else {
            if (npos >= 3) {
                return s_usage("unexpected argument '%s'", o);
            }
            pos[npos++] = o;
            continue;
        }
        if (i + 1 >= argc) {
            return s_usage("%s needs a value", o);
        }
        *slot = argv[++i];
    }
    if (npos < 2) {
        return s_usage("%s", "expected FILE and a read");
    }
    if (!a.tenant || !a.tenant[0]) {
        return s_usage("%s", "--tenant is required");
    }
    const char *file = pos[0], *read = pos[1], *qn = pos[2];
    int needs_qn = strcmp(read, "asset") == 0 || strcmp(read, "lineage") == 0;
    if (strcmp(read, "asset") != 0 && strcmp(read, "assets") != 0 && strcmp(read, "lineage") != 0 &&
        strcmp(read, "incidents") != 0 && strcmp(read, "changes") != 0) {
        return s_usage("unknown read '%s'", read);
    }
    if (needs_qn && !qn) {
        return s_usage("%s needs a qualified name", read);
    }
    if (!needs_qn && qn) {
        return s_usage("unexpected argument '%s'", qn);
    }
    sl_direction_t dir = SL_DIR_DOWN;
    if (a.direction) {
        if (strcmp(a.direction, "down") == 0) {
            dir = SL_DIR_DOWN;
        } else if (strcmp(a.direction, "up") == 0) {
            dir = SL_DIR_UP;
        } else if (strcmp(a.direction, "both") == 0) {
            dir = SL_DIR_BOTH;
        } else {
            return s_usage("--direction must be down, up or both, not '%s'", a.direction);
        }
    }
    if (a.status && strcmp(a.status, "open") != 0 && strcmp(a.status, "acknowledged") != 0 &&
        strcmp(a.status, "resolved") != 0) {
        return s_usage("--status must be open, acknowledged or resolved, not '%s'", a.status);
    }
    uint64_t after = 0;
    if (a.after) {
        char *end = NULL;
        errno = 0;
        after = strtoull(a.after, &end, 10);
        if (a.after[0] < '0' || a.after[0] > '9' || *end || errno) {
            return s_usage("--after must be a sequence number, not '%s'", a.after);
        }
    }
    int lineage = strcmp(read, "lineage") == 0;
    if (s_int("--limit", a.limit, lineage ? 1000 : 100, 1, lineage ? 10000 : 1000, &limit) ||
        s_int("--depth", a.depth, 3, 1, 10, &depth)) {
        return 2;
    }

    store = s_open(file, &status);
    if (!store) {
        return status;
    }
    status = 1;
    if (strcmp(read, "asset") == 0) {
        rc = sl_store_asset_json(store, a.tenant, qn, &out);
    } else if (strcmp(read, "assets") == 0) {
        rc = sl_store_assets_json(store, a.tenant, a.prefix ? a.prefix : "", (int)limit,
                                  a.cursor ? a.cursor : "", &out);
    } else if (lineage) {
        rc = sl_store_lineage_json(store, a.tenant, qn, dir, (int)depth, (int)limit, &out);
    } else if (strcmp(read, "incidents") == 0) {
        rc = sl_store_incidents_json(store, a.tenant, a.status, a.asset, a.source, (int)limit,
                                     a.cursor ? a.cursor : "", &out);
    } else {
        rc = sl_store_changes_json(store, a.tenant, after, (int)limit, &out);
    }
    if (rc == SL_ENOTFOUND) {
        fprintf(stderr, "sluice query: %s '%s' not found for tenant %s\n", read, qn ? qn : "",
                a.tenant);
        goto done;
    }
    if (rc) {
        fprintf(stderr, "sluice query: %s: %s\n", read, sl_strerror(rc));
        goto done;
    }
    fwrite(out.data, 1, out.len, stdout);
    fputc('\n', stdout);
    status = fflush(stdout) == 0 ? 0 : 1;

done:
    sl_buf_free(&out);
    sl_store_close(&store);
    return status;
}
