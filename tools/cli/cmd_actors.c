/*  sluice actors [KIND]: reference documentation printed from config maps. */
#include <stdio.h>
#include <string.h>

#include "sluice/actor.h"
#include "tools/cli/cli.h"

static const char *s_help =
    "usage: sluice actors [KIND]\n"
    "\n"
    "Lists every actor kind, or shows one kind: its outputs and options\n"
    "(type, default, whether required, description), from its config map.\n";

static void s_print_kind(const sl_actor_kind_t *k)
{
    printf("%s\n    %s\n", k->name, k->description);
    printf("  inputs: %s\n", (k->flags & SL_KIND_SOURCE) ? "none (a source)" : "one or more");
    printf("  outputs:");
    if (!k->outputs || !k->outputs[0].name) {
        printf(" none (a sink)\n");
    } else {
        printf("\n");
        for (int i = 0; k->outputs[i].name; i++) {
            printf("    %-12s %s%s%s\n", k->outputs[i].name,
                   k->outputs[i].desc ? k->outputs[i].desc : "", i == 0 ? " (default)" : "",
                   (k->outputs[i].flags & SL_OUTPUT_DURABLE) ? " (durable change log)" : "");
        }
    }
    printf("  options:");
    if (!k->options || !k->options[0].name) {
        printf(" none\n");
        return;
    }
    printf("\n");
    for (int i = 0; k->options[i].name; i++) {
        const sl_opt_t *o = &k->options[i];
        char def[96];
        if (o->flags & SL_OPT_REQUIRED) {
            snprintf(def, sizeof def, "required");
        } else if (o->def) {
            snprintf(def, sizeof def, "default %s", o->def);
        } else {
            snprintf(def, sizeof def, "optional");
        }
        printf("    %-12s %-9s %-16s %s\n", o->name, sl_opt_type_name(o->type), def,
               o->desc ? o->desc : "");
    }
}

int sl_cmd_actors(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv)) {
        fputs(s_help, stdout);
        return 0;
    }
    if (argc > 2) {
        fputs(s_help, stderr);
        return 2;
    }
    if (argc == 2) {
        const sl_actor_kind_t *k = sl_actor_kind_find(argv[1]);
        if (!k) {
            fprintf(stderr, "sluice actors: unknown actor kind '%s' (known:", argv[1]);
            const sl_actor_kind_t *const *all = sl_actor_kinds();
            for (int i = 0; all[i]; i++) {
                fprintf(stderr, "%s %s", i ? "," : "", all[i]->name);
            }
            fprintf(stderr, ")\n");
            return 1;
        }
        s_print_kind(k);
        return 0;
    }
    const sl_actor_kind_t *const *all = sl_actor_kinds();
    for (int i = 0; all[i]; i++) {
        if (i) {
            printf("\n");
        }
        s_print_kind(all[i]);
    }
    return 0;
}
