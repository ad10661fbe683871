/*  sluice check FILE */
#include <stdio.h>
#include <string.h>

#include "sluice/topology.h"
#include "tools/cli/cli.h"

static const char *s_help = "usage: sluice check FILE\n"
                            "\n"
                            "Validates a topology file without starting anything. Every error is\n"
                            "printed on stderr as FILE:LINE:COL: message.\n"
                            "Exit status: 0 valid, 1 invalid, 2 usage.\n";

int sl_cmd_check(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fputs(s_help, stderr);
        return 2;
    }
    sl_errors_t errors = {0};
    sl_plan_t *plan = sl_topology_load(argv[1], &errors);
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
