/*  relay: forwards every event unchanged; measures the engine's cost per hop. */
#include "sluice/actor.h"

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    return sl_emit(a, 0, ev);
}

static const sl_opt_t s_options[] = {{0}};
static const sl_output_t s_outputs[] = {
    {.name = "out", .desc = "every input event, unchanged"},
    {0},
};

const sl_actor_kind_t sl_actor_relay = {
    .name = "relay",
    .description = "Forwards every event unchanged (measures the engine's own cost per hop).",
    .options = s_options,
    .outputs = s_outputs,
    .handle = s_handle,
};
