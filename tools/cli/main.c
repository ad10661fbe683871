/*  sluice: the command line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sluice/common.h"
#include "tools/cli/cli.h"

static const char *s_usage =
    "usage: sluice COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  check FILE                 validate a topology file; exit 0 valid, 1 invalid, 2 usage\n"
    "  run FILE [--node NAME] [--tenant T]  run a topology (one node, one tenant of it)\n"
    "  actors [KIND]              options of each actor kind\n"
    "  store stats|check|cursors|migrate FILE  counts; log/store agreement; followers'\n"
    "                             cursors; rewrite a format-1 store\n"
    "  query FILE READ ...        read the store: asset, assets, lineage, incidents, changes\n"
    "  dlq list|show|purge|replay FILE  dead letters: list, show, purge, replay\n"
    "  schema check OLD NEW       compatibility of two schema versions; exit 0 yes, 1 no\n"
    "  test TOPOLOGY TESTS        run a topology's unit tests; exit 0 pass, 1 fail\n"
    "  backfill montecarlo FILE --since TIME   apply Monte Carlo incidents to the store\n"
    "  lineage recompute FILE [--dry-run]  recompute propagation; report the differences\n"
    "  keygen --tenant T [--dir DIR]  make a tenant's CURVE key pair\n"
    "  token create|list|revoke FILE          API tokens of the store (docs/auth.md)\n"
    "  version                    print the version\n"
    "\n"
    "Every command takes --help.\n";

int sl_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
    }
    return 0;
}

int sl_cli_usage(const char *prog, const char *help, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n%s", help);
    va_end(ap);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(s_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(s_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "check") == 0) {
        return sl_cmd_check(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "run") == 0) {
        return sl_cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "actors") == 0) {
        return sl_cmd_actors(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "query") == 0) {
        return sl_cmd_query(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "store") == 0) {
        return sl_cmd_store(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "dlq") == 0) {
        return sl_cmd_dlq(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "schema") == 0) {
        return sl_cmd_schema(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "test") == 0) {
        return sl_cmd_test(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "backfill") == 0) {
        return sl_cmd_backfill(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "lineage") == 0) {
        return sl_cmd_lineage(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "keygen") == 0) {
        return sl_cmd_keygen(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "token") == 0) {
        return sl_cmd_token(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (sl_cli_wants_help(argc - 1, argv + 1)) {
            puts("usage: sluice version\n\nPrints the version of sluice.");
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr, "usage: sluice version\n");
            return 2;
        }
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    fprintf(stderr, "sluice: unknown command '%s'\n\n%s", cmd, s_usage);
    return 2;
}
