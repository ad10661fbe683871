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
      tenants:                           # optional map name -> tenant
        acme: { keys: keys/acme, port_offset: 0 }
      insecure_links: false              # true: plain TCP between nodes
      admin: 127.0.0.1:9464              # admin listener when there are no nodes
      auth: { tokens: true }             # credentials of the HTTP listeners (docs/auth.md)
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
    binds T ports from port + k * T, one per link tenant (sl_plan_tcp_port).

    Links between nodes are CurveZMQ (docs/topology.md, "Links"): each
    tenant with `keys` (the directory sluice keygen writes, relative to the
    topology file) has its own endpoint per instance, and only that
    tenant's events cross on it; T is the number of such tenants. A file
    whose actors on different nodes are linked needs at least one, unless
    it sets `insecure_links: true` (plain TCP, T = 1). Keys are checked
    (files, permissions, pair) at load whenever they are used: by CURVE
    links or by a kind flagged SL_KIND_KEYS.

    Isolated tenancy (`tenancy: isolated`) runs one tenant's copy of the
    topology per process: sl_topology_load_tenant(path, T) keeps only
    tenant T, puts the store under <store path>/T, and adds T's
    `port_offset` to every port: nodes' ports and admin listeners, the
    top-level admin, and every actor option named `listen`.

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
    char *keys;      /* directory of the tenant's CURVE certificates (relative
                        paths resolved against the topology file's
                        directory), or NULL */
    int port_offset; /* isolated tenancy: added to every port */
    sl_pos_t pos;
    sl_pos_t keys_pos; /* of the keys value */
    sl_pos_t offset_pos;
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
    char *tenant;       /* isolated: the one tenant this plan runs, or NULL */
    int insecure_links; /* plain TCP between nodes */
    char *admin;        /* top-level admin address or NULL */
    char *auth;         /* top-level `auth` as JSON text, or NULL (sluice/auth.h);
                           also given to every actor whose kind has an `auth`
                           option and that does not set its own */
    int auth_secret;    /* auth used a ${ENV} or file: value */
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
/*  Load `path` for one tenant of an isolated topology (see above): the
    file must say `tenancy: isolated` and declare the tenant, else an
    error. tenant NULL is sl_topology_load. */
sl_plan_t *sl_topology_load_tenant(const char *path, const char *tenant, sl_errors_t *errors);
void sl_plan_destroy(sl_plan_t **plan);

const sl_plan_actor_t *sl_plan_actor(const sl_plan_t *plan, const char *name);
const sl_plan_node_t *sl_plan_node(const sl_plan_t *plan, const char *name);

/*  1 if links between nodes are CurveZMQ: the plan has nodes and does not
    set insecure_links. */
int sl_plan_curve_links(const sl_plan_t *plan);
/*  The tenants that have keys, in file order: their count, and the t-th. */
int sl_plan_keyed_tenants(const sl_plan_t *plan);
const sl_plan_tenant_t *sl_plan_keyed_tenant(const sl_plan_t *plan, int t);
/*  1 if the plan uses the tenants' keys: CURVE links between actors on
    different nodes, or an actor of a kind flagged SL_KIND_KEYS. */
int sl_plan_uses_keys(const sl_plan_t *plan);
/*  T, the endpoints per instance: the keyed tenants with CURVE links (at
    least 1), else 1. */
int sl_plan_link_slots(const sl_plan_t *plan);
/*  The TCP port of worker w of actor pa for link slot t (0..T-1): its
    node's port + (its index among the node's instances) * T + t. */
int sl_plan_tcp_port(const sl_plan_t *plan, const sl_plan_actor_t *pa, int w, int t);

/*  Fill an actor instance's state from the plan's options: defaults first,
    then each option through its config map entry. Errors here were already
    caught by validation, so this returns SL_EINVAL only on a programming
    error or SL_ENOMEM. */
int sl_plan_actor_fill(const sl_plan_actor_t *pa, void *state);

#endif
