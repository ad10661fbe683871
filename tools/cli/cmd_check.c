/*  sluice check FILE [--tenant T] */
#include <stdio.h>
#include <string.h>

#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice check FILE [--tenant T]\n"
    "\n"
    "Validates a topology file without starting anything. Every error is\n"
    "printed on stderr as FILE:LINE:COL: message. With --tenant, validates\n"
    "tenant T's copy of a 'tenancy: isolated' file, as `sluice run --tenant T`\n"
    "runs it.\n"
    "Exit status: 0 valid, 1 invalid, 2 usage.\n";

int sl_cmd_check(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    const char *tenant = NULL;
    if (argc == 4 && strcmp(argv[2], "--tenant") == 0) {
        tenant = argv[3];
    } else if (argc != 2) {
        fputs(s_help, stderr);
        return 2;
    }
    if (argv[1][0] == '-') {
        fputs(s_help, stderr);
        return 2;
    }
    sl_errors_t errors = {0};
    sl_plan_t *plan = sl_topology_load_tenant(argv[1], tenant, &errors);
    if (!plan) {
        for (int i = 0; i < errors.count; i++) {
            fprintf(stderr, "%s\n", errors.lines[i]);
        }
        if (errors.count == 0) {
            fprintf(stderr, "%s: invalid topology\n", argv[1]);
        }
        sl_errors_free(&errors);
        return 1;
    }
    int instances = 0;
    for (int i = 0; i < plan->n_actors; i++) {
        instances += plan->actors[i].workers;
    }
    printf("%s: ok: topology '%s', %d actors (%d instances), %d nodes\n", argv[1], plan->name,
           plan->n_actors, instances, plan->n_nodes);
    sl_plan_destroy(&plan);
    sl_errors_free(&errors);
    return 0;
}
