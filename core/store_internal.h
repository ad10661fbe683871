/*  Internal to the store (core/store*.c): the one place that includes
    lmdb.h. Layout of every database: docs/store.md. */
#ifndef SLUICE_STORE_INTERNAL_H
#define SLUICE_STORE_INTERNAL_H

#include <pthread.h>

#include <jansson.h>
#include <lmdb.h>

#include "sluice/store.h"

/*  Named databases of one environment. */
enum {
    S_DB_ASSETS,  /* tenant\0qn -> asset (core/store_codec.h: mark, be40 id, map) */
    S_DB_DOWN,    /* lineage_down: tenant\0 be40 from -> be40 to, be16 tf (dupfixed) */
    S_DB_UP,      /* lineage_up: tenant\0 be40 to -> be40 from, be16 tf, job */
    S_DB_INC,     /* tenant\0source\0external_id -> incident (msgpack map) */
    S_DB_INC_IDX, /* dupsort: tenant\0qn -> source\0external_id */
    S_DB_CHANGES, /* tenant\0be64 seq -> change record (msgpack map) */
    S_DB_CURSORS, /* tenant\0consumer -> be64 seq */
    S_DB_APPLIED, /* id(16) tenant -> be64 applied-at (us) */
    S_DB_DEAD,    /* tenant\0be64 seq -> dead letter (msgpack map) */
    S_DB_TENANTS, /* tenant -> "" (tenants that have data) */
    S_DB_PROP,    /* tenant\0 H(target) H(value) H(source) -> propagated copy */
    S_DB_PIDX,    /* tenant\0 H(value) H(source) H(target) -> "" (copies of one pair) */
    S_DB_TOKENS,  /* API tokens (core/auth): layout in docs/auth.md */
    S_DB_BLOCKS,  /* tenant\0qn -> propagation blocks: tag patterns, each + \0 */
    S_DB_NAMES,   /* tenant\0 be40 id -> qualified name */
    S_DB_META,    /* format, id counters, edge type codes (store_lineage.c) */
    S_DB_COUNT
};

/*  LMDB's default key bound is 511 bytes (also the bound of a dupsort
    value): tenants and names are checked against these before any put. */
#define S_MAX_TENANT 100
#define S_MAX_NAME 400
#define S_MAX_DUP 500

typedef struct s_graph s_graph_t; /* core/store_graph.c */

typedef struct {
    MDB_env *env;
    MDB_dbi dbi[S_DB_COUNT];
    char *tenant;            /* isolated: the env's tenant; NULL when shared */
    int64_t last_compact_us; /* last applied-id compaction (batch lock held) */
    int64_t last_trim_us;    /* last change-log trim (batch lock held) */
} s_env_t;

struct sl_store {
    struct sl_store *next; /* registry list */
    char *path;            /* realpath: the registry key */
    int refs;              /* guarded by the registry mutex */
    int isolated;
    int nosync;
    int64_t map_size;
    int64_t retention_us;
    char **allowed; /* NULL-terminated copy of opts->tenants, or NULL */
    s_env_t *envs;  /* shared: one; isolated: one per allowed tenant */
    size_t nenvs;
    s_env_t *rejected; /* isolated: dead letters of tenants not allowed */

    pthread_mutex_t wlock; /* held by the open batch: one at a time */
    pthread_t owner;       /* thread holding the open batch */
    int batch_open;        /* guarded by mu */
    struct sl_store_batch *batch;

    pthread_mutex_t gmu; /* the graph caches list */
    s_graph_t *graphs;
    int graph_cache;              /* keep in-memory lineage graphs (store_graph.c) */
    int64_t changes_retention_us; /* -1: trim once followers passed; else age */

    pthread_mutex_t mu; /* health */
    int writable;
    int full_logged;
    char reason[256];
};

/*  Open (creating) every database of e in txn: an LMDB code. */
int sl_store__dbs_open(MDB_txn *txn, s_env_t *e);
/*  Shared helpers (store.c) used by the reads (store_read.c). */
int sl_store__env(sl_store_t *s, const char *tenant, s_env_t **e);
int sl_store__mdb_rc(int rc);
/*  tenant\0 then the parts, each but the last followed by \0. */
int sl_store__key(sl_buf_t *k, const char *tenant, int nparts, ...);
/*  The stored msgpack value as a tree (NULL if malformed or no memory). */
json_t *sl_store__tree(const MDB_val *v);
/*  An asset value as its tree (core/store_codec.h), "id" included. */
json_t *sl_store__asset_tree(const MDB_val *v);
/*  Append a compact JSON text of `v` to out (steals nothing). */
int sl_store__dump(json_t *v, sl_buf_t *out);
/*  RFC 3339 text of a stored time, or JSON null for 0 / absent. */
json_t *sl_store__time(json_t *us);
void sl_store__be64(uint8_t out[8], uint64_t v);
uint64_t sl_store__rd64(const void *p);
/*  Dead letters (store.c). A parsed one: strings copied into `buf`. */
typedef struct {
    sl_dead_letter_t dl;
    char tenant[S_MAX_TENANT + 1];
    char id[S_MAX_TENANT + 24];
    char time[40];
    char actor[64];
    char reason[512];
} s_dead_t;
/*  Parse key `tenant\0 be64 seq` and its value; SL_EPROTO if the key is
    not a dead letter's (the purge mark `tenant\0`). */
int sl_store__dead_parse(const MDB_val *k, const MDB_val *v, s_dead_t *d);
/*  1 if the dead letter matches the filter (limit not considered). */
int sl_store__dead_match(const sl_dead_filter_t *f, const sl_dead_letter_t *dl);
/*  The environment holding `tenant`'s dead letters: its own, or (a tenant
    that is invalid or not allowed) the shared one / the rejected one. */
s_env_t *sl_store__dead_env(sl_store_t *s, const char *tenant);
/*  Environments in id order: envs[0..nenvs-1], then the rejected one. */
s_env_t *sl_store__env_at(sl_store_t *s, size_t i);

/* ---- asset ids and the lineage tables (core/store_lineage.c)

    Names are pointers into the transaction's map: valid until its end (a
    read transaction) or its next write (a write transaction). */
#define S_ID 5 /* ids are 40 bits, big-endian */
#define S_ID_MAX ((UINT64_C(1) << 40) - 1)
#define S_TYPES_MAX 32767 /* edge type codes per environment */
#define S_FORMAT "2"      /* meta "format": the layout of this file */
void sl_store__be40(uint8_t out[S_ID], uint64_t id);
uint64_t sl_store__rd40(const void *p);
/*  The id of asset qn (SL_ENOTFOUND if there is none). */
int sl_store__id_of(MDB_txn *txn, s_env_t *e, const char *tenant, const char *qn, size_t len,
                    uint64_t *id);
int sl_store__id_name(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t id, const char **name,
                      size_t *len);
/*  A new id for qn, named in `names`; SL_ERANGE past S_ID_MAX. */
int sl_store__id_new(MDB_txn *txn, s_env_t *e, const char *tenant, const char *qn, uint64_t *id);
int sl_store__id_drop(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t id);
/*  The code of an edge type, given one if create (SL_EFULL past
    S_TYPES_MAX), else SL_ENOTFOUND when the type was never used. */
int sl_store__type_code(MDB_txn *txn, s_env_t *e, const char *type, int create, unsigned *code);
int sl_store__type_name(MDB_txn *txn, s_env_t *e, unsigned code, const char **name, size_t *len);
typedef struct {
    uint64_t other;   /* the other end's id */
    const char *name; /* its name (S_EDGE_NAMES) */
    size_t nlen;
    const char *type;
    size_t tlen;
    unsigned code;
    int prop;
    const char *job; /* up: always; down: with S_EDGE_JOB (else "") */
    size_t jlen;
} s_edge_t;
enum { S_EDGE_NAMES = 1, S_EDGE_JOB = 2 };
typedef int (*s_edge_fn)(void *arg, const s_edge_t *e);
/*  Each edge of asset `id`, downstream (dir 0) or upstream (1). */
int sl_store__edges_each(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t id, int dir,
                         int flags, s_edge_fn fn, void *arg);
/*  The edge (from, to, type code): SL_OK with its flag and job, or
    SL_ENOTFOUND. */
int sl_store__edge_get(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t from, uint64_t to,
                       unsigned code, int *prop, const char **job, size_t *jlen);
/*  Write (put = 1) or remove both directions of an edge. */
int sl_store__edge_write(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t from, uint64_t to,
                         unsigned code, int prop, const char *job, int put);

/* ---- propagated copies (core/store_prop.c; docs/store.md "Propagation")

    A copy of `value` ("tag:pii", "owner:ann", "description",
    "incident:montecarlo/42") at `target`, propagated from `source` along a
    shortest path of `depth` edges whose last hop comes from `via`:
      propagated[tenant\0 T H(value) H(source)] =
          be32 depth, target\0 value\0 source\0 via
      propagated_by_pair[tenant\0 H(value) H(source) T] =
          be32 depth, target\0 via
    where T = the target's first S_PROP_NAME bytes, 0, H(target). H is 16
    bytes of SipHash-2-4 (two fixed keys). Keys stay under LMDB's 511-byte
    bound whatever the names' lengths, one prefix scan finds the copies at
    a target or of a pair, and copies at targets whose names share a
    prefix (a schema's tables) are neighbours in the B-tree. */
#define S_H 16
#define S_PROP_NAME 300
void sl_store__h16(uint8_t out[S_H], const char *s, size_t n);
int sl_store__prop_key(sl_buf_t *k, const char *tenant, const char *target, const char *value,
                       const char *source);
int sl_store__pidx_key(sl_buf_t *k, const char *tenant, const char *value, const char *source,
                       const char *target);
int sl_store__prop_val(sl_buf_t *v, uint32_t depth, const char *target, const char *value,
                       const char *source, const char *via);
int sl_store__prop_parse(const MDB_val *v, sl_store_copy_t *out);
/*  A view on a read transaction the caller owns (and ends after
    sl_store_view_end): reads that combine views with their own lookups
    see one snapshot. NULL when out of memory. */
sl_store_view_t *sl_store__view_on(sl_store_t *s, s_env_t *e, MDB_txn *txn, const char *tenant);
/* ---- the in-memory lineage graph (core/store_graph.c) */
uint64_t sl_store__edge_version(MDB_txn *txn, s_env_t *e, const char *tenant);
int sl_store__edge_version_bump(MDB_txn *txn, s_env_t *e, const char *tenant, uint64_t *old);
/*  The cache of (e, tenant) if it is at version `want` (read-locked until
    sl_store__graph_release), else NULL: read LMDB. txn is the caller's
    read transaction (a snapshot to rebuild from). */
s_graph_t *sl_store__graph_get(sl_store_t *s, s_env_t *e, MDB_txn *txn, const char *tenant,
                               uint64_t want);
void sl_store__graph_release(s_graph_t *g);
/*  Downstream edges of qn, as sl_store_view_edges passes them. */
int sl_store__graph_down(s_graph_t *g, const char *qn, size_t len, sl_store_edge_fn fn, void *arg);
/*  Assets reachable downstream of qn within depth (0 = any), -1 if out of
    memory. */
int64_t sl_store__graph_closure(s_graph_t *g, const char *qn, size_t len, int depth);
int sl_store__graph_note(sl_buf_t *m, uint32_t env, const char *tenant, const char *from,
                         const char *to, const char *type, int prop, int put);
int sl_store__graph_note_version(sl_buf_t *m, uint32_t env, const char *tenant, uint64_t old);
void sl_store__graph_committed(sl_store_t *s, const sl_buf_t *m);
void sl_store__graph_free_all(sl_store_t *s);
size_t sl_store__graph_bytes(sl_store_t *s);
/*  1 while a batch of this process is open (or finishing its commit). */
int sl_store__batch_in_flight(sl_store_t *s);

/*  The block patterns value of S_DB_BLOCKS: 1 if `tag` matches one. */
int sl_store__blocked(const MDB_val *v, const char *tag, size_t taglen);

#endif
