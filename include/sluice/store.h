/*  sluice/store.h: the metadata store on LMDB, its change log and reads.

    One LMDB environment per store path (shared tenancy: every key starts
    with the tenant and a 0 byte), or one per tenant under <path>/<tenant>/
    (isolated tenancy). LMDB allows one environment per file per process,
    so sl_store_open() shares one handle per path within the process
    (reference counted): the store actor, the query API and the lineage
    walker of one node all open the topology's store.

    Only core/store*.c include lmdb.h; LMDB errors are translated here:
    MDB_MAP_FULL -> SL_EFULL, MDB_NOTFOUND -> SL_ENOTFOUND, others SL_EIO.

    Writes happen in batches: one LMDB write transaction per batch, many
    events applied in it, one commit (fsync unless nosync). Every applied
    change appends a record to the tenant's change log (per-tenant sequence
    numbers from 1, no gaps) in the same transaction, so the store and its
    log can never disagree, also after a crash. Applying an event whose id
    was already applied (within the retention window) changes nothing and
    logs nothing. Events that cannot be applied go to the dead-letter table
    with a reason, in the same transaction.

    Reads produce JSON (the shapes of DESIGN.md "Events"): the query API
    and `sluice query` print them as they are. Every read takes a tenant and
    sees only that tenant's keys. */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include "sluice/common.h"
#include "sluice/event.h"

typedef struct sl_store sl_store_t;
typedef struct sl_store_batch sl_store_batch_t;

typedef struct {
    const char *path;             /* directory; created if missing */
    int isolated;                 /* 1: one environment per tenant */
    const char *const *tenants;   /* isolated: the allowed tenants (NULL-terminated);
                                     shared: NULL = any tenant allowed */
    int64_t map_size;             /* bytes per environment (default 1 GiB) */
    int nosync;                   /* 1: no fsync at commit (tests, benches) */
    int64_t retention_us;         /* applied event ids kept this long (default 7 days) */
    int no_graph_cache;           /* 1: no in-memory lineage graph (docs/store.md
                                     "Graph cache"): walks read LMDB */
    int64_t changes_retention_us; /* change records older than this that every
                                     follower has passed are deleted (docs/store.md
                                     "Change log retention"); 0 = 7 days,
                                     INT64_MAX = for ever, -1 = at once */
} sl_store_opts_t;

/*  Open (or share) the store at opts->path. NULL with a reason in err. */
sl_store_t *sl_store_open(const sl_store_opts_t *opts, char *err, size_t errlen);
/*  Drop this reference; the last one closes the environments. Safe twice. */
void sl_store_close(sl_store_t **s);

/*  What sl_store_lineage_check counted. */
typedef struct {
    uint64_t assets, names, edges, edges_up;
} sl_store_lineage_check_t;

/*  Check the tenant's ids and lineage tables agree (docs/store.md
    "Lineage and ids"): every asset's id names it, every name is an asset
    with that id, every edge's ends have names and its type a code, each
    edge is stored both ways with one flag. SL_OK, or SL_EPROTO with the
    first disagreement in why. One read snapshot. */
int sl_store_lineage_check(sl_store_t *s, const char *tenant, sl_store_lineage_check_t *r,
                           char *why, size_t whylen);

/*  What sl_store_migrate did. */
typedef struct {
    uint64_t envs;     /* LMDB environments found */
    uint64_t migrated; /* of which were rewritten (the others were current) */
    uint64_t assets, edges, blocks;
    uint64_t skipped; /* damaged edges, or edges to an asset that was lost */
} sl_store_migration_t;

typedef struct {
    int64_t map_size; /* 0: 1 GiB, or twice the file and 64 MiB if larger */
    int step;         /* records per transaction (0: 5000) */
    int max_txns;     /* 0; else stop after this many commits: SL_EAGAIN */
} sl_store_migrate_opts_t;

/*  Rewrite every environment of the store at path (its own and, isolated,
    each directory under it) from format 1 to this build's (docs/store.md
    "Formats"). Resumable: after a crash or a full map, run it again. The
    store must not be open anywhere (stop `sluice run` first). opts may be
    NULL. */
int sl_store_migrate(const char *path, const sl_store_migrate_opts_t *opts, sl_store_migration_t *m,
                     char *err, size_t errlen);

/* ---------------------------------------------------------------- writes */

/*  Result of applying one event. */
typedef enum {
    SL_APPLY_CHANGED = 0,   /* applied; one or more change records logged */
    SL_APPLY_NOOP = 1,      /* valid, but changed nothing (same values, or an
                               older incident update than the stored one) */
    SL_APPLY_DUPLICATE = 2, /* this event id was already applied */
    SL_APPLY_DEAD = 3,      /* not applicable: written to the dead letters */
} sl_apply_t;

/*  Begin a batch (one write transaction). Only one batch per store at a
    time; a second caller waits (LMDB's writer lock). SL_EFULL if the store
    is refusing writes after a full map (see sl_store_health). */
int sl_store_batch_begin(sl_store_t *s, sl_store_batch_t **b);

/*  Apply one event inside the batch. Kinds: asset.upsert, asset.delete,
    tag.set, tag.unset, owner.set, lineage.edge, lineage.edge.delete,
    incident.upsert (bodies as in DESIGN.md). *result says what happened;
    `reason` (may be NULL) receives the dead-letter reason. Returns SL_OK for
    every outcome above (a dead letter is not an error of the store);
    SL_EFULL when the map is full (the whole batch must then be aborted) or
    SL_EIO. */
int sl_store_apply(sl_store_batch_t *b, const sl_event_t *ev, sl_apply_t *result, char *reason,
                   size_t reasonlen);

/*  Commit: SL_OK, or SL_EFULL (map full: nothing of the batch is kept, the
    store refuses further writes until restarted with a larger map_size,
    health says why), or SL_EIO. The batch is freed either way. */
int sl_store_batch_commit(sl_store_batch_t **b);
void sl_store_batch_abort(sl_store_batch_t **b);

/*  Write an event to the dead-letter table outside any batch (for actors
    that reject events before the store, e.g. schema check). The same as
    sl_store_dead_letter_from(s, ev, "store", reason). */
int sl_store_dead_letter(sl_store_t *s, const sl_event_t *ev, const char *reason);

/* ---------------------------------------------------------- dead letters */

/*  Dead letters (docs/dlq.md): per tenant, numbered from 1 (the number is
    never reused, also after a purge); each keeps the event (its envelope),
    the reason, the actor that rejected it, the time, and the attempts (1
    when written, +1 on each replay that fails again). Written by
    sl_store_apply (actor: the batch's, see sl_store_batch_set_actor), by
    sl_store_dead_letter[_from], and counted per actor and reason class in
    the process metrics (sl_metrics_dead_letter) once committed.

    A dead letter's id is "TENANT/SEQ" (a tenant cannot contain '/'). */

/*  As sl_store_dead_letter, naming the rejecting actor (NULL or empty:
    "store"; at most 63 bytes are kept). SL_EINVAL, SL_EFULL, SL_EIO. */
int sl_store_dead_letter_from(sl_store_t *s, const sl_event_t *ev, const char *actor,
                              const char *reason);

/*  The actor recorded with the dead letters sl_store_apply writes in this
    batch (default "store"): the store actor passes its topology name. */
void sl_store_batch_set_actor(sl_store_batch_t *b, const char *actor);

/*  Which dead letters: every field is optional (NULL / 0 = no filter). */
typedef struct {
    const char *tenant; /* exactly this tenant */
    const char *actor;  /* exactly this actor */
    const char *reason; /* reason contains this text (case-sensitive) */
    int64_t since_us;   /* written at or after (us since the epoch) */
    int64_t until_us;   /* written before */
    uint64_t limit;     /* at most this many (0 = all) */
} sl_dead_filter_t;

/*  One dead letter, as passed to a sl_dead_fn: strings NUL-terminated,
    everything valid during the call only. */
typedef struct {
    const char *tenant;
    uint64_t seq;
    const char *id;   /* "tenant/seq" */
    const char *time; /* RFC 3339, when written */
    int64_t time_us;
    const char *actor;
    const char *reason;
    uint64_t attempts;
    const uint8_t *raw; /* the event envelope (msgpack; sl_event_decode), or NULL */
    size_t rawlen;      /* 0 when the event was too large to keep */
} sl_dead_letter_t;

/*  Non-zero stops the walk. */
typedef int (*sl_dead_fn)(void *arg, const sl_dead_letter_t *dl);

/*  Call fn for each dead letter matching f (NULL: all), in id order
    (environment, tenant, seq), starting after the id `after` (NULL or "":
    from the start; a cursor from a previous page). Returns the number
    passed, or SL_EINVAL (bad filter or cursor), SL_EIO. One read
    transaction per environment. */
int sl_store_dead_letters_each(sl_store_t *s, const sl_dead_filter_t *f, const char *after,
                               sl_dead_fn fn, void *arg);

/*  {"items": [{"id", "tenant", "seq", "time", "actor", "attempts", "reason",
     "event": {event JSON} | null}], "next_cursor": "tenant/seq" | null};
    f->limit 1..1000 (0 = 100). next_cursor is set when more may follow. */
int sl_store_dead_letters_list_json(sl_store_t *s, const sl_dead_filter_t *f, const char *cursor,
                                    sl_buf_t *out);

/*  One item of the list above, by tenant and seq. SL_ENOTFOUND. */
int sl_store_dead_letter_json(sl_store_t *s, const char *tenant, uint64_t seq, sl_buf_t *out);

/*  Delete the dead letters matching f (NULL or empty: all) in one write
    transaction; *deleted (may be NULL) gets the count. SL_EFULL, SL_EIO. */
int sl_store_dead_letters_purge(sl_store_t *s, const sl_dead_filter_t *f, uint64_t *deleted);

typedef struct {
    uint64_t selected;   /* dead letters matching the filter */
    uint64_t applied;    /* applied now (changed or no-op): removed */
    uint64_t duplicate;  /* already applied by another path: removed */
    uint64_t still_dead; /* failed again: kept, attempts + 1, new reason */
} sl_dead_replay_t;

/*  Apply the matching dead letters to the store again, in one batch (so
    at most one write transaction per environment). A dead letter the
    store itself wrote had its event id recorded as applied: that record is
    dropped first so the event really runs again. Nothing writes a new dead
    letter. SL_OK (see *r), SL_EFULL, SL_EIO, SL_ESTATE if this thread holds
    a batch. Safe beside a running store actor in another process: LMDB
    serialises the writers. */
int sl_store_dead_letters_replay(sl_store_t *s, const sl_dead_filter_t *f, sl_dead_replay_t *r);

/* ---------------------------------------------------------- change log */

/*  A change record, as the store emits it on its `changes` output and as
    GET /v1/changes returns it (JSON):
      {"seq": 42, "tenant": "acme", "time": "...", "event_id": "<uuid>",
       "entity": "asset" | "tag" | "owner" | "edge" | "incident",
       "key": "<qualified name, or from->to for an edge, or source/external_id>",
       "op": "create" | "update" | "delete",
       "changes": {"<field>": {"before": ..., "after": ...}, ...}}
    As an event: kind "change", key = the record's key ("from->to" for an
    edge), body = the record above as a msgpack map. */

/*  Call `fn` for each change record of `tenant` with seq > after, in order,
    at most `limit` (0 = no limit), as an event (kind "change"; slices valid
    during the call). Stops early if fn returns non-zero. Returns the number
    of records passed, or a negative SL_E* code. */
typedef int (*sl_change_fn)(void *arg, uint64_t seq, const sl_event_t *change);
int sl_store_changes(sl_store_t *s, const char *tenant, uint64_t after, uint64_t limit,
                     sl_change_fn fn, void *arg);
/*  Highest sequence number of the tenant's log (0 if empty). */
int sl_store_last_seq(sl_store_t *s, const char *tenant, uint64_t *seq);
/*  Tenants that have any data, NULL-terminated, malloc'ed (free each and
    the array). */
char **sl_store_tenants(sl_store_t *s);

/*  Per-consumer cursors (the last seq a consumer has handled), kept in the
    same environment; 0 if never set. */
int sl_store_cursor_get(sl_store_t *s, const char *tenant, const char *consumer, uint64_t *seq);
int sl_store_cursor_set(sl_store_t *s, const char *tenant, const char *consumer, uint64_t seq);
/*  Forget a consumer's cursor (a follower removed from the topology, so
    that it no longer holds the change log's retention back).
    SL_ENOTFOUND if there is none. */
int sl_store_cursor_drop(sl_store_t *s, const char *tenant, const char *consumer);
/*  Each cursor of the tenant (followers, and marks whose names start with
    '.'), in name order. Returns the number passed or a negative code. */
typedef int (*sl_store_cursor_fn)(void *arg, const char *consumer, uint64_t seq);
int sl_store_cursors_each(sl_store_t *s, const char *tenant, sl_store_cursor_fn fn, void *arg);

/* --------------------------------------------------------------- reads */

/*  Each appends one JSON document to `out`. SL_ENOTFOUND for an unknown
    asset; SL_EINVAL for a bad argument (the message in err, if given). */

/*  {"qualified_name", "type", "name", "description", "owners": [...],
     "attributes": {...}, "tags": [{"name", "origin": "own"|"propagated",
     "sources": [...], "set_by", "set_at", "propagate"}], "version",
     "created_at", "updated_at", "placeholder": bool,
     "incidents": {"open": [...], "upstream": [...]}} */
int sl_store_asset_json(sl_store_t *s, const char *tenant, const char *qn, sl_buf_t *out);

/*  {"items": [asset summaries], "next_cursor": "..." | null}; cursor is
    opaque (empty = from the start), limit 1..1000. */
int sl_store_assets_json(sl_store_t *s, const char *tenant, const char *prefix, int limit,
                         const char *cursor, sl_buf_t *out);

typedef enum { SL_DIR_DOWN = 1, SL_DIR_UP = 2, SL_DIR_BOTH = 3 } sl_direction_t;
/*  {"root": qn, "nodes": [{"qualified_name", "type", "depth"}],
     "edges": [{"from", "to", "type", "job", "propagate"}], "truncated": bool};
    depth 1..10, limit 1..10000 nodes. */
int sl_store_lineage_json(sl_store_t *s, const char *tenant, const char *qn, sl_direction_t dir,
                          int depth, int limit, sl_buf_t *out);

/*  The number of distinct assets reachable from qn along edges of one
    direction (SL_DIR_DOWN or SL_DIR_UP; every edge, whatever its type or
    propagate flag) within `depth` hops (0 = unlimited), qn itself not
    counted; cycles are followed once. Memory: 32 to 48 bytes plus the
    name per asset reached (sluice/nodeset.h). SL_ENOTFOUND if qn is not an asset; SL_EINVAL. */
int sl_store_closure_count(sl_store_t *s, const char *tenant, const char *qn, sl_direction_t dir,
                           int depth, uint64_t *count);

/*  {"items": [incidents], "next_cursor": ...}; status, asset, source may be
    NULL (no filter). */
int sl_store_incidents_json(sl_store_t *s, const char *tenant, const char *status,
                            const char *asset, const char *source, int limit, const char *cursor,
                            sl_buf_t *out);

/*  {"items": [change records], "last_seq": N} */
int sl_store_changes_json(sl_store_t *s, const char *tenant, uint64_t after, int limit,
                          sl_buf_t *out);

/*  {"tenants": {"acme": {"assets": N, "edges": N, "incidents": N,
     "changes": N, "dead_letters": N}}, "map_size": B, "used_bytes": B,
     "writable": bool, "reason": "..."} */
int sl_store_stats_json(sl_store_t *s, sl_buf_t *out);

/*  {"items": [{"seq", "time", "reason", "event": {event JSON}}], ...} */
int sl_store_dead_letters_json(sl_store_t *s, const char *tenant, int limit, sl_buf_t *out);

/*  0 healthy; SL_EFULL when writes are refused (map full), with a reason. */
int sl_store_health(sl_store_t *s, char *reason, size_t reasonlen);

/* --------------------------------------------------------- propagation

    What the lineage walker (core/propagate.c, actors/lineage_walker) reads
    and the store keeps for it (docs/propagation.md). A *value* is one
    propagatable thing, named as text: "tag:NAME", "owner:NAME",
    "description", "incident:SOURCE/EXTERNAL_ID". An asset is an *origin*
    of a value when it holds it itself: a tag set with propagate true, an
    owner, a non-empty description, an open (not resolved) incident naming
    it. A *copy* is a value at a target asset that came from one origin
    (the source) along a shortest path of `depth` edges whose last hop
    starts at `via`. The walker computes copies; the store applies them
    with the event kinds
      propagation.set    {target, value, source, depth, via}
      propagation.unset  {target, value, source}
      propagation.fence  {consumer, token}  (sets cursor `consumer` = token)
    and logs each copy that changes (entity "propagation", key = target).
    These three kinds are idempotent by what they write, so their event
    ids are not remembered. Blocks are user events:
      block.set / block.unset {qualified_name, tag}
    where tag is a tag name, a prefix ending in '*', or "*" (every tag):
    propagated copies of matching tags do not enter that asset, nor pass
    beyond it. */

typedef struct {
    const char *target;
    const char *value;
    const char *source;
    const char *via;
    uint32_t depth;
} sl_store_copy_t;

/*  A read view of one tenant: one LMDB read transaction (a consistent
    snapshot) used for many reads. Strings passed to callbacks are valid
    during the call only. Callbacks return non-zero to stop (that value is
    returned). */
typedef struct sl_store_view sl_store_view_t;

int sl_store_view_begin(sl_store_t *s, const char *tenant, sl_store_view_t **v);
/*  Move the view to the newest committed state (cheap: mdb_txn_renew). */
int sl_store_view_refresh(sl_store_view_t *v);
/*  Let go of the snapshot until the next refresh (an idle holder of an old
    snapshot keeps LMDB from reusing the pages freed since: the file
    grows). No read may use the view until it is refreshed. */
void sl_store_view_release(sl_store_view_t *v);
void sl_store_view_end(sl_store_view_t **v);

/*  Edges of qn: SL_DIR_DOWN (qn -> other) or SL_DIR_UP (other -> qn). */
typedef int (*sl_store_edge_fn)(void *arg, const char *other, size_t olen, const char *type,
                                size_t tlen, int propagate);
int sl_store_view_edges(sl_store_view_t *v, const char *qn, size_t qnlen, sl_direction_t dir,
                        sl_store_edge_fn fn, void *arg);

/*  The values asset qn is an origin of (see above), each once. *exists
    (may be NULL) is 0 when there is no such asset. */
typedef int (*sl_store_value_fn)(void *arg, const char *value);
int sl_store_view_origins(sl_store_view_t *v, const char *qn, sl_store_value_fn fn, void *arg,
                          int *exists);

/*  Every (origin asset, value) of the tenant: assets in key order, then
    open incidents. */
typedef int (*sl_store_pair_fn)(void *arg, const char *value, const char *source);
int sl_store_view_all_origins(sl_store_view_t *v, sl_store_pair_fn fn, void *arg);

/*  The assets incident `key` ("SOURCE/EXTERNAL_ID", split at the first
    '/') names; *open 1 unless it is resolved. SL_ENOTFOUND if absent. */
typedef int (*sl_store_name_fn)(void *arg, const char *qn);
int sl_store_view_incident(sl_store_view_t *v, const char *key, sl_store_name_fn fn, void *arg,
                           int *open);

/*  1 if a block at qn stops tag `tag` (name without "tag:"), else 0. */
int sl_store_view_blocked(sl_store_view_t *v, const char *qn, size_t qnlen, const char *tag,
                          size_t taglen);
/*  0 when the tenant has no block at all (lets a walk skip the lookups). */
int sl_store_view_has_blocks(sl_store_view_t *v);

/*  Copies at one target, or of one (value, source) pair, or one copy. */
typedef int (*sl_store_copy_fn)(void *arg, const sl_store_copy_t *copy);
int sl_store_view_copies_at(sl_store_view_t *v, const char *target, sl_store_copy_fn fn, void *arg);
int sl_store_view_copies_of(sl_store_view_t *v, const char *value, const char *source,
                            sl_store_copy_fn fn, void *arg);
/*  SL_ENOTFOUND if there is no such copy; strings valid until the next
    call on the view. */
int sl_store_view_copy(sl_store_view_t *v, const char *target, const char *value,
                       const char *source, sl_store_copy_t *out);
/*  Every (value, source) pair that has copies, each once. */
int sl_store_view_pairs(sl_store_view_t *v, sl_store_pair_fn fn, void *arg);

/*  "Why does asset qn hold `value`": {"qualified_name", "value", "own":
    bool, "paths": [{"source", "path_length", "path": [source, ..., qn]}]}
    with one shortest path per source (following each copy's via).
    SL_ENOTFOUND if qn is not an asset. */
int sl_store_provenance_json(sl_store_t *s, const char *tenant, const char *qn, const char *value,
                             sl_buf_t *out);

/* ---------------------------------------------------------- API tokens */

/*  API tokens (core/store_tokens.c; layout in docs/auth.md "Storage").
    The store's "tokens" database holds, per token, its id, tenant, role,
    name, times and a keyed BLAKE2b hash of the whole token
    (crypto_generichash, 32 bytes, keyed with a random 32-byte key kept in
    the same database and made with the first token). The token itself is
    never stored: a copy of the store lets nobody call the API. Shared
    tenancy only: on an isolated store every call answers SL_ESTATE. */

#define SL_STORE_TOKEN_NAME_MAX 64

typedef struct {
    char id[17];                            /* 16 hex digits: public, names the token */
    char tenant[65];                        /* "*" for a platform-admin token */
    int role;                               /* an sl_role_t (sluice/auth.h) */
    char name[SL_STORE_TOKEN_NAME_MAX + 1]; /* operator's label, may be "" */
    int64_t created_us;
    int64_t expires_us; /* 0: never */
    int64_t revoked_us; /* 0: not revoked */
} sl_token_info_t;

/*  Keep `token`'s hash under info->id with info's fields (revoked_us is
    ignored: a new token is active). SL_EINVAL (an id that is not 16 hex
    digits, a bad tenant, name or role), SL_EEXIST (the id is taken),
    SL_ESTATE (isolated), SL_EFULL, SL_EIO. */
int sl_store_token_add(sl_store_t *s, const char *token, const sl_token_info_t *info);

/*  Look the token up by its id and compare its hash (constant time). SL_OK
    with *info filled when it matches, also when it is revoked or expired
    (the caller decides); SL_ENOTFOUND for an unknown id or a mismatch;
    SL_ESTATE (isolated); SL_EIO. One read transaction, no allocation. */
int sl_store_token_check(sl_store_t *s, const char *id, const char *token, size_t len,
                         sl_token_info_t *info);

/*  A token's record by its id, without its secret (to decide who may
    revoke it). SL_ENOTFOUND, SL_ESTATE, SL_EIO. */
int sl_store_token_get(sl_store_t *s, const char *id, sl_token_info_t *info);

/*  Mark a token revoked at now_us (kept, so `list` shows it). SL_ENOTFOUND,
    SL_EEXIST (already revoked), SL_ESTATE, SL_EFULL, SL_EIO. */
int sl_store_token_revoke(sl_store_t *s, const char *id, int64_t now_us);

/*  Call fn for every token in id order; a non-zero return stops. Returns
    the number passed, or SL_ESTATE, SL_EIO. */
typedef int (*sl_token_fn)(void *arg, const sl_token_info_t *info);
int sl_store_tokens_each(sl_store_t *s, sl_token_fn fn, void *arg);

/* ---------------------------------------------------------- tenant usage */

/*  Bytes of a tenant's data, for store-size quotas (core/store_usage.c).
    Shared tenancy: the sum of key and value bytes of every record under
    the tenant's prefix in every database (assets, edges both ways,
    incidents and their index, change log, cursors, dead letters,
    propagated copies, the tenant's mark); applied event ids (kept for
    the retention window only) and tokens are not counted. Isolated: the
    pages in use of the tenant's environment times the page size. One read
    transaction, linear in the tenant's records. SL_EINVAL (bad or not
    allowed tenant), SL_EIO. */
int sl_store_tenant_bytes(sl_store_t *s, const char *tenant, uint64_t *bytes);

#endif
