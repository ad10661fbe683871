/*  sluice/propagate.h: what propagates along lineage, and the incremental
    computation the lineage walker runs (docs/propagation.md).

    The unit of work is a *pair* (value, source): one value ("tag:pii",
    "owner:ann", "description", "incident:montecarlo/42") held by one
    origin asset. Its copies are exactly the assets reachable from the
    source along propagating edges (policy: edge types, the edge's own
    propagate flag, blocks, maximum depth), each with its shortest path
    length and the asset its shortest path arrives from (via: of several,
    the one with the smallest name, so that it does not depend on the
    order edges are read in).
    Recomputing a pair compares that closure, computed in one read view,
    with the copies stored for the pair and yields the difference as
    operations (set / unset) for the store. A change of any kind names the
    pairs it can affect (sl_prop_affected); recomputing those against the
    current state is what keeps every copy right, whatever happened before:
    replaying the change log from any cursor converges on the state a full
    recomputation (sl_prop_recompute_all) gives. */
#ifndef SLUICE_PROPAGATE_H
#define SLUICE_PROPAGATE_H

#include "sluice/common.h"
#include "sluice/event.h"
#include "sluice/store.h"

/* ---------------------------------------------------------------- policy */

typedef struct sl_prop_policy sl_prop_policy_t;
typedef struct sl_prop_policies sl_prop_policies_t;

/*  Parse the walker's `policy` option: a JSON object whose keys are "*"
    (every tenant) and tenant names, each an object of
      tags:        true | false | "all" | "none" | [names or prefixes "x*"]
      owners:      bool   (default false)
      description: bool   (default false; shown only where empty)
      incidents:   bool   (default true: open incidents as upstream impact)
      max_depth:   int >= 0 (default 0 = unlimited)
      edge_types:  [str]  (default: every type)
    A tenant's entry overrides the fields it gives, the rest come from "*"
    (then from the defaults). NULL or "" = defaults for everyone. On error
    SL_EINVAL with a reason in err and a JSON Pointer to the fault in
    where (may be NULL). */
int sl_prop_policies_parse(const char *json, sl_prop_policies_t **out, char *err, size_t errlen,
                           char *where, size_t wherelen);
void sl_prop_policies_free(sl_prop_policies_t **p);
/*  The policy of `tenant` (never NULL). */
const sl_prop_policy_t *sl_prop_policy_for(const sl_prop_policies_t *p, const char *tenant);
/*  1 if the policy propagates this value at all. */
int sl_prop_policy_allows(const sl_prop_policy_t *p, const char *value);
/*  A fingerprint of the whole policy text as parsed (to notice a change
    between runs). */
uint64_t sl_prop_policies_hash(const sl_prop_policies_t *p);

/* ------------------------------------------------------------------ work */

/*  A set of pairs, each once, in the order first added. */
typedef struct sl_prop_work sl_prop_work_t;
sl_prop_work_t *sl_prop_work_new(void);
void sl_prop_work_free(sl_prop_work_t **w);
void sl_prop_work_clear(sl_prop_work_t *w);
int sl_prop_work_add(sl_prop_work_t *w, const char *value, const char *source);
size_t sl_prop_work_count(const sl_prop_work_t *w);
/*  Pair i (0 .. count-1): pointers valid until the next add or clear. */
void sl_prop_work_get(const sl_prop_work_t *w, size_t i, const char **value, const char **source);

/*  Which of `workers` owns pairs of this source (0 .. workers-1). */
int sl_prop_owner(const char *source, int workers);

/*  Add to w the pairs that change record `change` (an event of kind
    "change", as on store.changes) can affect, reading what it needs
    through v; only the pairs worker `worker` of `workers` owns. Change
    records of entity "propagation" (the walker's own results) affect
    nothing. */
int sl_prop_affected(sl_store_view_t *v, const sl_prop_policy_t *p, const sl_event_t *change,
                     int worker, int workers, sl_prop_work_t *w);

/* ----------------------------------------------------------- recompute */

typedef struct {
    int set; /* 1: set (create or update) the copy; 0: remove it */
    const char *target;
    const char *value;
    const char *source;
    const char *via; /* set only */
    uint32_t depth;  /* set only */
} sl_prop_op_t;

/*  Receives each operation; a non-zero return stops (and is returned). */
typedef int (*sl_prop_op_fn)(void *arg, const sl_prop_op_t *op);

typedef struct {
    uint64_t pairs;   /* pairs recomputed */
    uint64_t visited; /* assets reached by the walks */
    uint64_t sets;    /* operations yielded */
    uint64_t unsets;
    size_t peak_bytes; /* largest walk's working memory */
} sl_prop_stats_t;

/*  Recompute one pair in view v: ops for every difference between its
    closure and its stored copies (sets in breadth-first order). stats may
    be NULL (else added to). */
int sl_prop_recompute(sl_store_view_t *v, const sl_prop_policy_t *p, const char *value,
                      const char *source, sl_prop_op_fn fn, void *arg, sl_prop_stats_t *stats);

/*  The same in steps, so a very large closure does not hold up the rest:
    start computes the closure and the difference (memory: about 64 bytes
    plus the name per reached asset, until freed); each emit hands out at
    most max_ops operations (unsets first, then sets in breadth-first
    order) and returns 1 when all are out, 0 when more remain, or an error.
    *emitted (may be NULL) gets how many it handed out. The view must stay
    open until start returns only (emit reads nothing). */
typedef struct sl_prop_job sl_prop_job_t;
int sl_prop_job_start(sl_store_view_t *v, const sl_prop_policy_t *p, const char *value,
                      const char *source, sl_prop_stats_t *stats, sl_prop_job_t **job);
int sl_prop_job_emit(sl_prop_job_t *job, size_t max_ops, sl_prop_op_fn fn, void *arg,
                     size_t *emitted);
/*  Bytes the job holds. */
size_t sl_prop_job_bytes(const sl_prop_job_t *job);
void sl_prop_job_free(sl_prop_job_t **job);

/*  Recompute every pair of the tenant: each origin's pairs and each pair
    that has stored copies (so stale ones are removed), each once. */
int sl_prop_recompute_all(sl_store_view_t *v, const sl_prop_policy_t *p, sl_prop_op_fn fn,
                          void *arg, sl_prop_stats_t *stats);

/*  The op as an event for the store (kind propagation.set / .unset), id
    fresh, tenant and key (= target) given; body encoded into scratch. */
int sl_prop_op_event(const sl_prop_op_t *op, const char *tenant, const char *source_actor,
                     sl_event_t *ev, sl_buf_t *scratch);

#endif
