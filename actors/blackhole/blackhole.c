/*  blackhole: counts and drops every event (a sink for benchmarks). */
#include "sluice/actor.h"

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    return SL_OK;
}

static const sl_opt_t s_options[] = {{0}};

const sl_actor_kind_t sl_actor_blackhole = {
    .name = "blackhole",
    .description = "Counts and drops every event (the count is in metrics).",
    .options = s_options,
    .handle = s_handle,
};
