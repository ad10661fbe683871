/*  sluice/metrics.h: per actor instance counters and histograms, read by
    the admin listener in Prometheus text format.

    Writers are the instance's own thread (relaxed atomic adds: no locks on
    the hot path); readers are the admin thread. The registry's list of
    instances changes only on start, stop and reload, under its mutex. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdatomic.h>
#include <pthread.h>
#include "sluice/common.h"

/*  Log2 buckets in microseconds: bucket i counts values <= 2^i us, for
    i in 0..SL_HIST_BUCKETS-2; the last bucket is +Inf. 2^25 us ~ 33 s. */
#define SL_HIST_BUCKETS 27

typedef struct {
    _Atomic uint64_t buckets[SL_HIST_BUCKETS];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
} sl_hist_t;

void sl_hist_observe(sl_hist_t *h, uint64_t us);
/*  Value at quantile q (0..1) by bucket upper bound, in us; 0 if empty. */
uint64_t sl_hist_quantile(const sl_hist_t *h, double q);

typedef struct sl_actor_metrics {
    char actor[64];
    char kind[32];
    int worker;
    _Atomic uint64_t events_in;
    _Atomic uint64_t events_out;
    _Atomic uint64_t dropped;         /* malformed or refused input */
    _Atomic uint64_t errors;          /* handle/tick failures */
    _Atomic uint64_t enqueued;        /* events sent to this instance by upstreams;
                                         queue depth = enqueued - events_in */
    _Atomic uint64_t tenant_mismatch; /* events in over a CURVE link stamped
                                         with another tenant than the link's
                                         (also counted in dropped) */
    _Atomic uint64_t no_link_key;     /* events out whose tenant has no key
                                         for the CURVE link they were to
                                         cross (not sent) */
    _Atomic int ready;
    int is_sink; /* e2e latency observed here */
    sl_hist_t handle_us;
    sl_hist_t e2e_us;
    struct sl_actor_metrics *next;
} sl_actor_metrics_t;

typedef struct sl_metrics {
    pthread_mutex_t lock;
    sl_actor_metrics_t *head;
    _Atomic uint64_t malformed; /* messages that failed to decode */
    _Atomic int ready;          /* engine: every actor signalled ready */
    _Atomic int stopping;
} sl_metrics_t;

sl_metrics_t *sl_metrics_new(void);
void sl_metrics_destroy(sl_metrics_t **m);
/*  Add a zeroed instance entry; the registry owns it. NULL on ENOMEM. */
sl_actor_metrics_t *sl_metrics_add(sl_metrics_t *m, const char *actor, const char *kind, int worker,
                                   int is_sink);
/*  Unlink and free an entry (on stop or reload). */
void sl_metrics_remove(sl_metrics_t *m, sl_actor_metrics_t *am);
/*  Append the Prometheus text exposition (version 0.0.4) of everything:
      sluice_events_in_total{actor,kind,worker}      counter
      sluice_events_out_total{...}                   counter
      sluice_events_dropped_total{...}               counter
      sluice_errors_total{...}                       counter
      sluice_queue_depth{...}                        gauge
      sluice_link_tenant_mismatch_total{...}         counter
      sluice_link_no_key_total{...}                  counter
      sluice_handle_seconds{...}                     histogram
      sluice_e2e_latency_seconds{...}                histogram (sinks only)
      sluice_malformed_messages_total                counter
      sluice_ready                                   gauge
      sluice_dead_letters_total{actor,reason}        counter (process-wide,
                                                     when any was counted)
      sluice_curve_refused_total{tenant}             counter (process-wide,
                                                     when any was counted)
      and every process-wide counter (sl_metrics_count) */
int sl_metrics_render(sl_metrics_t *m, sl_buf_t *out);

/*  Dead letters, counted process-wide (like health) by the store when a
    dead letter is committed, labelled by the rejecting actor and the
    reason's class (sl_metrics_reason_class). Cardinality is bounded: at
    most SL_DEAD_REASONS classes per actor and SL_DEAD_ACTORS actors; past
    that, the class (or actor) is "other". Thread-safe. */
#define SL_DEAD_REASONS 50
#define SL_DEAD_ACTORS 64
void sl_metrics_dead_letter(const char *actor, const char *reason);
/*  The class of a reason: the text before its first quote, then before
    its last ':', trimmed, at most 63 bytes ("tag.set: body.tag: expected a
    non-empty string" -> "tag.set: body.tag"; "unknown kind 'x'" ->
    "unknown kind"); "other" if nothing is left. */
void sl_metrics_reason_class(const char *reason, char *out, size_t len);
/*  The count of one (actor, class) pair (tests). */
uint64_t sl_metrics_dead_letters(const char *actor, const char *reason_class);

/*  CURVE clients refused by the ZAP handler (core/zap.c), counted
    process-wide by the tenant whose endpoint refused them ("other" past
    SL_CURVE_REFUSED_TENANTS distinct tenants). Thread-safe. */
#define SL_CURVE_REFUSED_TENANTS 64
void sl_metrics_curve_refused(const char *tenant);
/*  The count for one tenant (tests). */
uint64_t sl_metrics_curve_refusals(const char *tenant);
/*  Journal gauges, process-wide like dead letters, set by each journaling
    actor (http_ingest) about its journal:
      sluice_journal_entries{actor}        entries held (not trimmed yet)
      sluice_journal_last_seq{actor}       newest durable sequence
      sluice_journal_confirmed_seq{actor}  what a restart replays after:
                                           the lowest confirmation of its
                                           confirmers (or its own cursor)
    At most SL_JOURNAL_GAUGES actors (more are not shown). Thread-safe. */
#define SL_JOURNAL_GAUGES 64
void sl_metrics_journal(const char *actor, uint64_t entries, uint64_t last, uint64_t confirmed);

/*  Process health, beside the metrics: a component that cannot do its work
    reports it here (the store actor when its LMDB map is full and it
    refuses writes), and the admin /healthz answers 503
    {"status":"unhealthy","reason":"<component>: <reason>"} while any
    report is set. Keyed by component (e.g. the actor name); at most
    SL_HEALTH_MAX at once (further ones are folded into the last slot).
    Thread-safe; reports are process-wide, like the admin listener. */
#define SL_HEALTH_MAX 16
#define SL_HEALTH_REASON 256
void sl_health_set(const char *component, const char *reason);
/*  Remove the component's report (fixed, or the component stopped). */
void sl_health_clear(const char *component);
/*  0 when healthy; 1 with the first report as "component: reason" in
    `reason` (truncated to len, always NUL-terminated) otherwise. */
int sl_health_get(char *reason, size_t len);

/*  Process-wide labelled counters, like the dead letters: what belongs to
    no actor instance (auth refusals and acceptances, quota refusals).
    `family` is a Prometheus counter name and `help` its HELP text (both
    static strings); then label name/value pairs, ending with NULL. A
    series, once made, lives as long as the process; at most
    SL_COUNTER_SERIES of them: past that, a new series is folded into one
    whose label values are all "other". Label values are escaped, and cut
    at 63 bytes. Thread-safe. */
#define SL_COUNTER_SERIES 512
typedef struct sl_counter sl_counter_t;
/*  The series (made on first use), to add to without a lookup; NULL when
    out of memory. */
sl_counter_t *sl_metrics_counter(const char *family, const char *help, ...)
    __attribute__((sentinel));
void sl_counter_add(sl_counter_t *c, uint64_t n);
/*  Look up (or make) and add n. */
void sl_metrics_count(const char *family, const char *help, uint64_t n, ...)
    __attribute__((sentinel));
/*  The value of one series (tests); 0 if there is none. */
uint64_t sl_metrics_counted(const char *family, ...) __attribute__((sentinel));

#endif
