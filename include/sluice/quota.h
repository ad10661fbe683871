/*  sluice/quota.h: per-tenant quotas of an ingest listener in shared
    tenancy (docs/auth.md "Quotas"): events per second, as a token bucket,
    and the size of the tenant's data in the store.

    Configuration (JSON; http_ingest's `quotas` option):
      {"tenants": {"<tenant>" | "*": {"events_per_second": 500,
                                      "burst": 1000,          (default: events_per_second)
                                      "store_size": "10GiB"}},
       "size_interval": "10s"}                                (default)
    "*" holds for every tenant not named. A tenant without a setting has no
    limit of that kind.

    Rates: a request's events are taken from the tenant's bucket all at
    once; refused, the request is answered 429 with Retry-After (the
    seconds until the bucket holds them). Sizes: a thread measures each
    limited tenant's bytes (sl_store_tenant_bytes) every size_interval,
    the first time one interval after start (so the store actor opens the
    store first); a tenant at or over its size is answered 507 until a
    measurement finds it under again. Until measured, a tenant is under.

    Buckets live in this object: two ingest actors keep two budgets.
    Thread-safe. */
#ifndef SLUICE_QUOTA_H
#define SLUICE_QUOTA_H

#include <stdint.h>

#include "sluice/common.h"

typedef struct sl_quota sl_quota_t;

/*  Check the JSON text at topology load: 0 if good, else non-zero with a
    reason and a JSON Pointer (as an actor kind's check_option). */
int sl_quota_config_check(const char *json, char *err, size_t errlen, char *where, size_t wherelen);

/*  Quotas from JSON text; store_path is the store measured for sizes (NULL:
    var/sluice; opened only if a size is limited). NULL with a reason. */
sl_quota_t *sl_quota_new(const char *json, const char *store_path, const char *log_name, char *err,
                         size_t errlen);
/*  Stops the measuring thread; safe twice; NULLs the pointer. */
void sl_quota_destroy(sl_quota_t **q);

/*  Take n events from the tenant's bucket. SL_OK (also without a rate
    limit); SL_EAGAIN with *retry_after_s (>= 1) when the bucket holds
    fewer; SL_ERANGE when n is larger than the burst (no wait helps: the
    request must be split). */
int sl_quota_take(sl_quota_t *q, const char *tenant, uint64_t n, unsigned *retry_after_s);
/*  Give back n events taken for a request refused after all. */
void sl_quota_give(sl_quota_t *q, const char *tenant, uint64_t n);

/*  SL_OK if the tenant may add data; SL_EFULL when its last measurement
    is at or over its store_size, with *used and *limit (bytes). */
int sl_quota_size(sl_quota_t *q, const char *tenant, uint64_t *used, uint64_t *limit);
/*  How often sizes are measured (us): the Retry-After of a size refusal. */
int64_t sl_quota_size_interval(const sl_quota_t *q);

/*  1 once every limited tenant was measured at least once (tests). */
int sl_quota_measured(sl_quota_t *q);

#endif
