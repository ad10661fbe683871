/*  Fuzz the topology loader: any bytes must give a plan or errors, never a
    crash, a leak or undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>

#include "sluice/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_errors_t e = {0};
    sl_plan_t *plan = sl_topology_load_string("fuzz.yaml", NULL, (const char *)data, size, &e);
    if (plan) {
        for (int i = 0; i < plan->n_actors; i++) {
            const sl_plan_actor_t *a = &plan->actors[i];
            void *st = calloc(1, a->kind->state_size + 1);
            if (st && sl_plan_actor_fill(a, st) == SL_OK) {
                sl_opt_free(a->kind, st);
            }
            free(st);
        }
    } else if (e.count == 0) {
        abort(); /* a rejected file must say why */
    }
    sl_plan_destroy(&plan);
    sl_errors_free(&e);
    return 0;
}
