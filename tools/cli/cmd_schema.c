/*  sluice schema check [--mode backward|forward|full|none] OLD NEW */
#include <stdio.h>
#include <string.h>

#include "sluice/schema.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice schema check [--mode backward|forward|full|none] OLD NEW\n"
    "\n"
    "Checks that schema file NEW may replace OLD (JSON Schema subset, YAML or\n"
    "JSON; docs/schemas.md). Modes, as in Confluent Schema Registry:\n"
    "  backward  readers of NEW can read data written with OLD\n"
    "  forward   readers of OLD can read data written with NEW\n"
    "  full      both\n"
    "  none      no check\n"
    "Default: the mode NEW declares with `compatibility:` (backward if none).\n"
    "Each offending field is printed on stdout, one per line.\n"
    "Exit status: 0 compatible, 1 not compatible, 2 usage or a schema file\n"
    "that cannot be read or compiled.\n";

static int s_check(int argc, char **argv)
{
    const char *mode_name = NULL, *files[2] = {NULL, NULL};
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            mode_name = argv[++i];
        } else if (strncmp(argv[i], "--mode=", 7) == 0) {
            mode_name = argv[i] + 7;
        } else if (argv[i][0] == '-' || nfiles == 2) {
            fputs(s_help, stderr);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    sl_compat_t mode = SL_COMPAT_BACKWARD;
    if (nfiles != 2 || (mode_name && sl_compat_parse(mode_name, &mode) != SL_OK)) {
        fputs(s_help, stderr);
        return 2;
    }
    char err[512];
    sl_schema_t *old_s = sl_schema_load(files[0], err, sizeof err);
    if (!old_s) {
        fprintf(stderr, "sluice schema: %s\n", err);
        return 2;
    }
    sl_schema_t *new_s = sl_schema_load(files[1], err, sizeof err);
    if (!new_s) {
        fprintf(stderr, "sluice schema: %s\n", err);
        sl_schema_destroy(&old_s);
        return 2;
    }
    if (!mode_name) {
        mode = sl_schema_compat_mode(new_s);
    }
    sl_buf_t report = {0};
    int rc = sl_schema_compat(old_s, new_s, mode, &report);
    int status;
    if (rc == SL_OK) {
        printf("%s -> %s: %s compatible\n", files[0], files[1], sl_compat_name(mode));
        status = 0;
    } else if (rc == SL_EINVAL) {
        fwrite(report.data, 1, report.len, stdout);
        fprintf(stderr, "%s -> %s: not %s compatible\n", files[0], files[1], sl_compat_name(mode));
        status = 1;
    } else {
        fprintf(stderr, "sluice schema: %s\n", sl_strerror(rc));
        status = 1;
    }
    sl_buf_free(&report);
    sl_schema_destroy(&old_s);
    sl_schema_destroy(&new_s);
    return status;
}

int sl_cmd_schema(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        if (sl_cli_wants_help(argc - 1, argv + 1)) {
            fputs(s_help, stdout);
            return 0;
        }
        return s_check(argc - 1, argv + 1);
    }
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    fputs(s_help, stderr);
    return 2;
}
