/*  sluice test TOPOLOGY TESTS.yaml: unit tests for a topology. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/harness.h"
#include "sluice/log.h"
#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice test TOPOLOGY TESTS.yaml [--test NAME] [--timeout SECONDS]\n"
    "                   [--log-level LEVEL]\n"
    "\n"
    "Runs the tests of TESTS.yaml against TOPOLOGY, as `vector test` does: each\n"
    "test injects events at named actors and asserts what comes out of others\n"
    "(field equals, exists, absent, count) or that nothing comes out\n"
    "(docs/testing.md). Only the actors between the injection points and the\n"
    "asserted actors run, in this process, on a fresh engine per test; a store\n"
    "runs on a temporary directory. A failed test prints, per condition, what\n"
    "was expected and what came out.\n"
    "\n"
    "  --test NAME          run only the test of that name\n"
    "  --timeout SECONDS    bound on each test's run until the pipeline drains\n"
    "                       (default 30)\n"
    "  --log-level LEVEL    debug, info, warn, error (default error)\n"
    "\n"
    "Exit status: 0 every test passed, 1 a test failed, 2 usage or an invalid\n"
    "topology or tests file (errors as FILE:LINE:COL: message).\n";

static void s_print_errors(const sl_errors_t *errors)
{
    for (int i = 0; i < errors->count; i++) {
        fprintf(stderr, "%s\n", errors->lines[i]);
    }
}

int sl_cmd_test(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    const char *files[2] = {NULL, NULL}, *only = NULL;
    int n_files = 0;
    double timeout = 30;
    sl_log_set_level(SL_LOG_ERROR);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--test") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;
            timeout = strtod(argv[++i], &end);
            if (*end || timeout <= 0 || timeout > 86400) {
                fprintf(stderr, "sluice test: --timeout expects seconds > 0\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            sl_log_level_t level;
            if (sl_log_level_parse(argv[++i], &level) != SL_OK) {
                fprintf(stderr, "sluice test: unknown log level '%s' (debug, info, warn, error)\n",
                        argv[i]);
                return 2;
            }
            sl_log_set_level(level);
        } else if (argv[i][0] == '-' || n_files == 2) {
            fprintf(stderr, "sluice test: unexpected argument '%s'\n\n%s", argv[i], s_help);
            return 2;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (n_files != 2) {
        fputs(s_help, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int exit_code = 2;
    sl_errors_t errors = {0};
    sl_harness_t *h = NULL;
    sl_buf_t report = {0};
    sl_plan_t *plan = sl_topology_load(files[0], &errors);
    if (!plan) {
        s_print_errors(&errors);
        goto done;
    }
    h = sl_harness_load(files[1], plan, &errors);
    if (!h) {
        s_print_errors(&errors);
        goto done;
    }
    int ran = 0, failed = 0;
    for (int i = 0; i < sl_harness_count(h); i++) {
        if (only && strcmp(only, sl_harness_name(h, i)) != 0) {
            continue;
        }
        sl_buf_reset(&report);
        int rc = sl_harness_run(h, i, (int)(timeout * 1000), &report);
        if (rc < 0) {
            fprintf(stderr, "sluice test: test '%s': %s\n", sl_harness_name(h, i), sl_strerror(rc));
            exit_code = 1;
            goto done;
        }
        ran++;
        failed += rc == 0;
        fwrite(report.data, 1, report.len, stdout);
        fflush(stdout);
    }
    if (only && ran == 0) {
        fprintf(stderr, "sluice test: %s has no test named '%s'\n", files[1], only);
        goto done;
    }
    printf("%d passed, %d failed\n", ran - failed, failed);
    exit_code = failed ? 1 : 0;
done:
    sl_buf_free(&report);
    sl_harness_destroy(&h);
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return exit_code;
}
