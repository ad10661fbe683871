/*  sluice/topology.h: topology files.

    sl_topology_load() parses a YAML file (libyaml) into a plan and validates
    it completely before anything starts. Every problem found is recorded as
    "FILE:LINE:COL: message" (lines and columns 1-based, pointing at the
    offending key or value); loading reports all of them at once.

    File format (docs/topology.md is the reference):

      version: 1                         # required, must be 1
      name: edge-default                 # required
      store: { path: var/sluice }        # optional; path required when present
      tenancy: shared                    # shared | isolated (default shared)
      tenants:                           # optional map name -> { keys: DIR }
        acme: { keys: keys/acme }
      admin: 127.0.0.1:9464              # admin listener when there are no nodes
      nodes:                             # optional map name -> node
        a: { host: 127.0.0.1, port: 7600, admin: 127.0.0.1:9464 }
      actors:                            # required map name -> actor
        gen: { kind: generate, count: 10 }
        out: { kind: jsonl_out, inputs: [gen], path: out.jsonl }

    An actor's keys are kind (required), node (required iff nodes exist),
    inputs (list of "actor" or "actor.output"), workers (integer >= 1,
    default 1); every other key is an option of its kind, checked against
    the kind's config map (unknown option = error). A node's `port` is the
    base of the TCP ports its actors' inputs bind for links from other nodes
    (default 7600): instance k (in file order of actors, then worker index)
    binds port + k.

    Scalars may reference secrets: "${VAR}" anywhere in a string is replaced
    by the environment variable (unset = error naming VAR), and a whole value
    "file:PATH" is replaced by the file's content without a trailing newline
    (PATH relative to the topology file). Values so resolved are marked
    secret and never printed. */
#ifndef SLUICE_TOPOLOGY_H
#define SLUICE_TOPOLOGY_H

#include "sluice/actor.h"
#include "sluice/common.h"

typedef struct {
    int line;
    int col;
} sl_pos_t;

typedef struct {
    char *name;
    char *host;
    int port;
    char *admin; /* host:port or NULL */
    sl_pos_t pos;
} sl_plan_node_t;

typedef struct {
    char *name;
    char *keys; /* directory of the tenant's CURVE certificates, or NULL */
    sl_pos_t pos;
} sl_plan_tenant_t;

/*  One option as written: key and value. Scalars are kept as text; sequences
    as items (for STRLIST); anything else as JSON text (for JSON options). */
typedef struct {
    char *key;
    char *text;   /* scalar text, or JSON text for SL_OPT_JSON */
    char **items; /* for sequences of scalars; NULL otherwise */
    int n_items;
    int secret;    /* came from ${ENV} or file: */
    sl_pos_t pos;  /* of the key */
    sl_pos_t vpos; /* of the value */
} sl_plan_opt_t;

typedef struct {
    char *actor;  /* upstream actor name */
    char *output; /* output name (the kind's default output if not written) */
    int output_index;
    sl_pos_t pos;
} sl_plan_input_t;

typedef struct {
    char *name;
    const sl_actor_kind_t *kind;
    char *node; /* NULL when the file has no nodes */
    sl_plan_input_t *inputs;
    int n_inputs;
    int workers;
    sl_plan_opt_t *opts;
    int n_opts;
    char *fingerprint; /* canonical text of kind, node, inputs,
                          workers, options: equal = unchanged on reload */
    sl_pos_t pos;
} sl_plan_actor_t;

typedef enum { SL_TENANCY_SHARED = 0, SL_TENANCY_ISOLATED = 1 } sl_tenancy_t;

typedef struct sl_plan {
    char *file;
    int version;
    char *name;
    char *store_path; /* NULL if no store section */
    sl_tenancy_t tenancy;
    sl_plan_tenant_t *tenants;
    int n_tenants;
    char *admin; /* top-level admin address or NULL */
    sl_plan_node_t *nodes;
    int n_nodes;
    sl_plan_actor_t *actors; /* in file order */
    int n_actors;
} sl_plan_t;

/*  A list of "FILE:LINE:COL: message" lines. */
typedef struct {
    char **lines;
    int count;
} sl_errors_t;

void sl_errors_add(sl_errors_t *e, const char *file, sl_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sl_errors_free(sl_errors_t *e);

/*  Parse and validate `path`. Returns the plan, or NULL with every error in
    `errors` (which the caller frees). */
sl_plan_t *sl_topology_load(const char *path, sl_errors_t *errors);
/*  Same, from a string; `name` is used as FILE in messages and `dir` as the
    base for relative file: paths (NULL = current directory). */
sl_plan_t *sl_topology_load_string(const char *name, const char *dir, const char *yaml, size_t len,
                                   sl_errors_t *errors);
void sl_plan_destroy(sl_plan_t **plan);

const sl_plan_actor_t *sl_plan_actor(const sl_plan_t *plan, const char *name);
const sl_plan_node_t *sl_plan_node(const sl_plan_t *plan, const char *name);

/*  Fill an actor instance's state from the plan's options: defaults first,
    then each option through its config map entry. Errors here were already
    caught by validation, so this returns SL_EINVAL only on a programming
    error or SL_ENOMEM. */
int sl_plan_actor_fill(const sl_plan_actor_t *pa, void *state);

#endif
