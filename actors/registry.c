/*  The registry of actor kinds, built from actors/kinds.h. */
#include <string.h>

#include "sluice/actor.h"

#define SL_ACTOR(sym) extern const sl_actor_kind_t sl_actor_##sym;
#include "actors/kinds.h"
#undef SL_ACTOR

static const sl_actor_kind_t *const s_kinds[] = {
#define SL_ACTOR(sym) &sl_actor_##sym,
#include "actors/kinds.h"
#undef SL_ACTOR
    NULL,
};

const sl_actor_kind_t *const *sl_actor_kinds(void)
{
    return s_kinds;
}

const sl_actor_kind_t *sl_actor_kind_find(const char *name)
{
    for (int i = 0; s_kinds[i]; i++) {
        if (strcmp(s_kinds[i]->name, name) == 0) {
            return s_kinds[i];
        }
    }
    return NULL;
}

int sl_actor_kind_output(const sl_actor_kind_t *kind, const char *name)
{
    for (int i = 0; kind->outputs && kind->outputs[i].name; i++) {
        if (strcmp(kind->outputs[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}
