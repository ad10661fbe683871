/*  Per-tenant quotas (see sluice/quota.h). The hot path is one mutex and a
    short linear search: an ingest serves a handful of tenants per
    process, and a request takes its events from the bucket once. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sluice/actor.h"
#include "sluice/log.h"
#include "sluice/quota.h"
#include "sluice/store.h"

#define S_TENANTS_MAX 1024 /* buckets kept; a tenant past it shares the last */
#define S_TENANT_MAX 64

typedef struct {
    char tenant[S_TENANT_MAX + 1];
    double rate; /* events per second; 0 = no limit */
    double burst;
    uint64_t size; /* bytes; 0 = no limit */
    /* state */
    double tokens;
    int64_t last_us;
    uint64_t used; /* last measurement */
    int measured;
} s_bucket_t;

struct sl_quota {
    char name[64];
    char *store_path;
    int64_t interval_us;
    s_bucket_t def; /* "*": the settings of tenants not named */
    int has_def;
    int any_size;
    pthread_mutex_t mu;
    s_bucket_t *b;
    int n, cap;
    int n_named;
    /* the measuring thread */
    pthread_t thread;
    int thread_on;
    pthread_cond_t cv;
    int stop;
    int rounds;
};

/*  One tenant's settings. */
static int s_limits(json_t *v, const char *tenant, s_bucket_t *b, char *err, size_t errlen,
                    char *where, size_t wherelen)
{
    char at[160], e1[256];
    sl_opt_json_pointer(at, sizeof at, "/tenants", tenant);
    if (!json_is_object(v)) {
        return sl_opt_check_fail(
            err, errlen, where, wherelen, at,
            "quotas.tenants.%s: expected a map with events_per_second, burst, store_size", tenant);
    }
    memset(b, 0, sizeof *b);
    snprintf(b->tenant, sizeof b->tenant, "%s", tenant);
    int64_t burst = -1;
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x)
    {
        char kat[300];
        sl_opt_json_pointer(kat, sizeof kat, at, key);
        if (strcmp(key, "events_per_second") == 0) {
            double r = json_is_number(x) ? json_number_value(x) : -1;
            if (!(r > 0 && r <= 1e9)) {
                return sl_opt_check_fail(
                    err, errlen, where, wherelen, kat,
                    "quotas.tenants.%s.events_per_second: expected a number above 0", tenant);
            }
            b->rate = r;
        } else if (strcmp(key, "burst") == 0) {
            if (!json_is_integer(x) || json_integer_value(x) < 1 ||
                json_integer_value(x) > 1000000000) {
                return sl_opt_check_fail(
                    err, errlen, where, wherelen, kat,
                    "quotas.tenants.%s.burst: expected an integer of 1 or more", tenant);
            }
            burst = json_integer_value(x);
        } else if (strcmp(key, "store_size") == 0) {
            int64_t sz = 0;
            if (sl_opt_parse_json(SL_OPT_SIZE, "store_size", x, &sz, e1, sizeof e1) != SL_OK ||
                sz < 1) {
                return sl_opt_check_fail(err, errlen, where, wherelen, kat, "quotas.tenants.%s.%s",
                                         tenant,
                                         e1[0] ? e1 : "store_size: expected a size above 0");
            }
            b->size = (uint64_t)sz;
        } else {
            return sl_opt_check_fail(
                err, errlen, where, wherelen, kat,
                "quotas.tenants.%s: unknown key '%.64s' (expected: events_per_second, "
                "burst, store_size)",
                tenant, key);
        }
    }
    if (burst > 0 && b->rate == 0) {
        return sl_opt_check_fail(err, errlen, where, wherelen, at,
                                 "quotas.tenants.%s: burst needs events_per_second", tenant);
    }
    b->burst = burst > 0 ? (double)burst : b->rate < 1 ? 1 : b->rate;
    b->tokens = b->burst;
    return SL_OK;
}

/*  Parse into q (q NULL: only check). */
static int s_parse(const char *json, sl_quota_t *q, char *err, size_t errlen, char *where,
                   size_t wherelen)
{
    json_error_t je;
    int rc = SL_OK;
    json_t *root = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        rc = sl_opt_check_fail(err, errlen, where, wherelen, "",
                               "quotas: expected a map with tenants (and size_interval)");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "size_interval") == 0) {
            int64_t us = 0;
            char e1[256];
            if (sl_opt_parse_json(SL_OPT_DURATION, "quotas.size_interval", v, &us, e1, sizeof e1) !=
                    SL_OK ||
                us < 10000 || us > 3600LL * 1000000) {
                rc = sl_opt_check_fail(err, errlen, where, wherelen, "/size_interval", "%s",
                                       us ? "quotas.size_interval: must be from 10ms to 1h" : e1);
                goto done;
            }
            if (q) {
                q->interval_us = us;
            }
        } else if (strcmp(key, "tenants") == 0) {
            if (!json_is_object(v) || json_object_size(v) == 0 ||
                json_object_size(v) > S_TENANTS_MAX) {
                rc = sl_opt_check_fail(
                    err, errlen, where, wherelen, "/tenants",
                    "quotas.tenants: expected a map of 1 to %d tenants (or \"*\")", S_TENANTS_MAX);
                goto done;
            }
            const char *t;
            json_t *lim;
            json_object_foreach(v, t, lim)
            {
                s_bucket_t b;
                if (strcmp(t, "*") != 0 && !sl_name_ok(t, S_TENANT_MAX)) {
                    char at[160];
                    sl_opt_json_pointer(at, sizeof at, "/tenants", t);
                    rc = sl_opt_check_fail(
                        err, errlen, where, wherelen, at,
                        "quotas.tenants: '%.64s' is not a tenant name (or \"*\")", t);
                    goto done;
                }
                if ((rc = s_limits(lim, t, &b, err, errlen, where, wherelen)) != SL_OK) {
                    goto done;
                }
                if (!q) {
                    continue;
                }
                q->any_size |= b.size > 0;
                if (strcmp(t, "*") == 0) {
                    q->def = b;
                    q->has_def = 1;
                } else {
                    q->b[q->n++] = b;
                }
            }
        } else {
            char at[160];
            sl_opt_json_pointer(at, sizeof at, "", key);
            rc = sl_opt_check_fail(err, errlen, where, wherelen, at,
                                   "quotas: unknown key '%.64s' (expected: tenants, size_interval)",
                                   key);
            goto done;
        }
    }
    if (!json_object_get(root, "tenants")) {
        rc = sl_opt_check_fail(err, errlen, where, wherelen, "", "quotas: missing tenants");
    }
done:
    json_decref(root);
    return rc;
}

int sl_quota_config_check(const char *json, char *err, size_t errlen, char *where, size_t wherelen)
{
    return s_parse(json, NULL, err, errlen, where, wherelen) ? 1 : 0;
}

/*  The bucket of a tenant, made from "*" on first sight. NULL: no limit. */
static s_bucket_t *s_bucket(sl_quota_t *q, const char *tenant)
{
    for (int i = 0; i < q->n; i++) {
        if (strcmp(q->b[i].tenant, tenant) == 0) {
            return &q->b[i];
        }
    }
    if (!q->has_def) {
        return NULL;
    }
    if (q->n == q->cap) {
        return &q->b[q->n - 1]; /* full: tenants past the bound share one */
    }
    s_bucket_t *b = &q->b[q->n++];
    *b = q->def;
    snprintf(b->tenant, sizeof b->tenant, "%s", tenant);
    b->last_us = 0;
    b->measured = 0;
    b->used = 0;
    return b;
}

static void s_refill(s_bucket_t *b, int64_t now)
{
    if (b->last_us) {
        b->tokens += (double)(now - b->last_us) * b->rate / 1e6;
        if (b->tokens > b->burst) {
            b->tokens = b->burst;
        }
    }
    b->last_us = now;
}

int sl_quota_take(sl_quota_t *q, const char *tenant, uint64_t n, unsigned *retry_after_s)
{
    if (!q || !tenant) {
        return SL_OK;
    }
    int rc = SL_OK;
    pthread_mutex_lock(&q->mu);
    s_bucket_t *b = s_bucket(q, tenant);
    if (b && b->rate > 0) {
        s_refill(b, sl_mono_us());
        if ((double)n > b->burst) {
            rc = SL_ERANGE;
        } else if (b->tokens >= (double)n) {
            b->tokens -= (double)n;
        } else {
            double wait = ((double)n - b->tokens) / b->rate;
            unsigned s = (unsigned)wait + 1;
            if (retry_after_s) {
                *retry_after_s = s;
            }
            rc = SL_EAGAIN;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void sl_quota_give(sl_quota_t *q, const char *tenant, uint64_t n)
{
    if (!q || !tenant) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    s_bucket_t *b = s_bucket(q, tenant);
    if (b && b->rate > 0) {
        b->tokens += (double)n;
        if (b->tokens > b->burst) {
            b->tokens = b->burst;
        }
    }
    pthread_mutex_unlock(&q->mu);
}

int64_t sl_quota_size_interval(const sl_quota_t *q)
{
    return q->interval_us;
}

int sl_quota_size(sl_quota_t *q, const char *tenant, uint64_t *used, uint64_t *limit)
{
    if (!q || !tenant || !q->any_size) {
        return SL_OK;
    }
    int rc = SL_OK;
    pthread_mutex_lock(&q->mu);
    s_bucket_t *b = s_bucket(q, tenant);
    if (b && b->size > 0 && b->measured && b->used >= b->size) {
        if (used) {
            *used = b->used;
        }
        if (limit) {
            *limit = b->size;
        }
        rc = SL_EFULL;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int sl_quota_measured(sl_quota_t *q)
{
    if (!q) {
        return 1;
    }
    pthread_mutex_lock(&q->mu);
    int done = !q->any_size || q->rounds > 0;
    pthread_mutex_unlock(&q->mu);
    return done;
}

/*  One round: every tenant with a size limit (named, or seen through
    "*", or with data in the store when "*" limits sizes). */
static void s_measure(sl_quota_t *q, sl_store_t *st)
{
    char **tenants = q->has_def && q->def.size ? sl_store_tenants(st) : NULL;
    pthread_mutex_lock(&q->mu);
    for (char **t = tenants; t && *t; t++) {
        s_bucket(q, *t);
    }
    int n = q->n;
    char(*names)[S_TENANT_MAX + 1] = calloc((size_t)n + 1, sizeof *names);
    for (int i = 0; names && i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s", q->b[i].size ? q->b[i].tenant : "");
    }
    pthread_mutex_unlock(&q->mu);
    for (char **t = tenants; t && *t; t++) {
        free(*t);
    }
    free(tenants);
    if (!names) {
        return;
    }
    for (int i = 0; i < n; i++) {
        uint64_t bytes = 0;
        if (!names[i][0]) {
            continue;
        }
        int rc = sl_store_tenant_bytes(st, names[i], &bytes);
        if (rc && rc != SL_EINVAL) {
            sl_warn(q->name, "cannot measure the store size of tenant %s: %s", names[i],
                    sl_strerror(rc));
            continue;
        }
        pthread_mutex_lock(&q->mu);
        s_bucket_t *b = s_bucket(q, names[i]);
        if (b) {
            int was_over = b->measured && b->used >= b->size;
            b->used = bytes;
            b->measured = 1;
            int over = b->used >= b->size;
            if (over != was_over) {
                sl_log(over ? SL_LOG_WARN : SL_LOG_INFO, q->name, NULL,
                       "tenant %s %s its store quota (%llu of %llu bytes)", names[i],
                       over ? "is at or over" : "is under", (unsigned long long)b->used,
                       (unsigned long long)b->size);
            }
        }
        pthread_mutex_unlock(&q->mu);
    }
    free(names);
    pthread_mutex_lock(&q->mu);
    q->rounds++;
    pthread_mutex_unlock(&q->mu);
}

static void *s_thread(void *arg)
{
    sl_quota_t *q = arg;
    sl_store_t *st = NULL;
    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (q->interval_us % 1000000) * 1000;
        ts.tv_sec += (time_t)(q->interval_us / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!q->stop && pthread_cond_timedwait(&q->cv, &q->mu, &ts) != ETIMEDOUT) {
        }
        if (q->stop) {
            break;
        }
        pthread_mutex_unlock(&q->mu);
        if (!st) {
            char err[256] = "";
            sl_store_opts_t so = {.path = q->store_path};
            st = sl_store_open(&so, err, sizeof err);
            if (!st) {
                sl_warn(q->name, "store quotas: cannot open %s: %s", q->store_path, err);
            }
        }
        if (st) {
            s_measure(q, st);
        }
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    sl_store_close(&st);
    return NULL;
}

void sl_quota_destroy(sl_quota_t **pq)
{
    if (!pq || !*pq) {
        return;
    }
    sl_quota_t *q = *pq;
    if (q->thread_on) {
        pthread_mutex_lock(&q->mu);
        q->stop = 1;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->b);
    free(q->store_path);
    free(q);
    *pq = NULL;
}

sl_quota_t *sl_quota_new(const char *json, const char *store_path, const char *log_name, char *err,
                         size_t errlen)
{
    char where[256];
    sl_quota_t *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(q->name, sizeof q->name, "%s", log_name ? log_name : "quota");
    q->interval_us = 10LL * 1000000;
    q->cap = S_TENANTS_MAX + 1;
    q->b = calloc((size_t)q->cap, sizeof *q->b);
    q->store_path = strdup(store_path ? store_path : "var/sluice");
    if (!q->b || !q->store_path) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    char why[300];
    if (s_parse(json, q, why, sizeof why, where, sizeof where) != SL_OK) {
        snprintf(err, errlen, "%s", why);
        goto fail;
    }
    q->n_named = q->n;
    if (q->any_size) {
        if (pthread_create(&q->thread, NULL, s_thread, q) != 0) {
            snprintf(err, errlen, "cannot start the store-size thread");
            goto fail;
        }
        q->thread_on = 1;
    }
    return q;
fail:
    sl_quota_destroy(&q);
    return NULL;
}
