/*  topology/internal.h: what the topology files share, and the test seam.

    Not installed, not for actor code. The loader never calls the registry
    directly: it goes through a kind lookup that tests can replace, so they
    can validate plans with fake kinds (several outputs, a durable output)
    without adding kinds to actors/. */
#ifndef SLUICE_TOPOLOGY_INTERNAL_H
#define SLUICE_TOPOLOGY_INTERNAL_H

#include "sluice/topology.h"

typedef const sl_actor_kind_t *(*sl_topology_kind_find_fn)(const char *name);
typedef const sl_actor_kind_t *const *(*sl_topology_kinds_fn)(void);

/*  Replace the kind lookup used by sl_topology_load*(); NULL, NULL restores
    the registry (sl_actor_kind_find, sl_actor_kinds). Not thread-safe: for
    tests, set before loading. `kinds` lists every kind for messages. */
void sl_topology_set_kinds(sl_topology_kind_find_fn find, sl_topology_kinds_fn kinds);

/*  --- Shared by topology/load.c, validate.c and plan.c --- */

/*  What a plan does not keep but validation needs: where a value was
    written and whether it came from a secret. */
#define SL_TOPO_SECRET_KIND 0x1u
#define SL_TOPO_SECRET_NODE 0x2u
#define SL_TOPO_SECRET_INPUTS 0x4u
#define SL_TOPO_SECRET_WORKERS 0x8u

typedef struct {
    sl_pos_t node_pos;   /* of the `node` value */
    sl_pos_t inputs_pos; /* of the `inputs` key */
    unsigned secret;     /* SL_TOPO_SECRET_* */
    int inputs_bad;      /* `inputs` written but unreadable: already reported */
} sl_topo_actor_extra_t;

typedef struct {
    const char *file;
    const char *dir;
    sl_errors_t *errors;
    int first_error;   /* errors->count when this load began */
    sl_pos_t *err_pos; /* position of each error since then */
    int err_cap;
    sl_topo_actor_extra_t *actor_extra; /* parallel to plan->actors */
    int *node_secret;                   /* parallel to plan->nodes: port was secret */
    int admin_set;
    sl_pos_t admin_pos;
    sl_pos_t tenancy_pos;  /* of the tenancy value (0:0 if absent) */
    sl_pos_t tenants_pos;  /* of the tenants key (0:0 if absent) */
    sl_pos_t insecure_pos; /* of the insecure_links key */
    const char *tenant;    /* isolated run's tenant, or NULL */
} sl_topo_ctx_t;

void sl_topo_error(sl_topo_ctx_t *c, sl_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sl_topo_error_count(const sl_topo_ctx_t *c);
/*  Sort this load's errors by position (stable), so a reader goes top down. */
void sl_topo_errors_sort(sl_topo_ctx_t *c);

const sl_actor_kind_t *sl_topo_kind_find(const char *name);
const sl_actor_kind_t *const *sl_topo_kinds(void);

/*  Cross-checks once the whole file is read: nodes, inputs, cycles, ports;
    then fingerprints. */
void sl_topo_validate(sl_topo_ctx_t *c, sl_plan_t *plan);

int sl_topo_name_ok(const char *s);

#endif
