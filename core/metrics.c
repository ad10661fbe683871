/*  Metrics registry and Prometheus text exposition (format 0.0.4).

    Writers touch only atomics with relaxed order: a scrape may see a
    histogram's buckets, sum and count from slightly different moments,
    which Prometheus tolerates as long as each series is monotonic. To keep
    _count equal to the +Inf bucket (a rule of the format), render derives
    the count from the buckets it read instead of loading `count`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/metrics.h"

#define S_RELAXED memory_order_relaxed
#define S_FINITE (SL_HIST_BUCKETS - 1) /* buckets with a finite bound */

static int64_t s_start_us;

/*  Taken when the library is loaded, before main: the closest this module
    gets to the process start time without parsing /proc. */
__attribute__((constructor)) static void s_start_init(void)
{
    s_start_us = sl_now_us();
}

void sl_hist_observe(sl_hist_t *h, uint64_t us)
{
    /* Bucket i holds values in (2^(i-1), 2^i]: i = ceil(log2(us)). */
    unsigned i = us <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(us - 1);
    if (i >= S_FINITE) {
        i = SL_HIST_BUCKETS - 1;
    }
    atomic_fetch_add_explicit(&h->buckets[i], 1, S_RELAXED);
    atomic_fetch_add_explicit(&h->sum_us, us, S_RELAXED);
    atomic_fetch_add_explicit(&h->count, 1, S_RELAXED);
}

uint64_t sl_hist_quantile(const sl_hist_t *h, double q)
{
    uint64_t b[SL_HIST_BUCKETS];
    uint64_t total = 0;
    for (int i = 0; i < SL_HIST_BUCKETS; i++) {
        b[i] = atomic_load_explicit(&h->buckets[i], S_RELAXED);
        total += b[i];
    }
    if (total == 0) {
        return 0;
    }
    if (!(q > 0.0)) { /* also catches NaN */
        q = 0.0;
    } else if (q > 1.0) {
        q = 1.0;
    }
    /* Rank of the wanted observation, 1-based: the smallest value with at
       least q of all observations at or below it. */
    double r = q * (double)total;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r) {
        rank++;
    }
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (int i = 0; i < S_FINITE; i++) {
        seen += b[i];
        if (seen >= rank) {
            return (uint64_t)1 << i;
        }
    }
    /* In the +Inf bucket: like Prometheus' histogram_quantile, answer the
       highest finite bound rather than a made-up value. */
    return (uint64_t)1 << (S_FINITE - 1);
}

sl_metrics_t *sl_metrics_new(void)
{
    sl_metrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        return NULL;
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void sl_metrics_destroy(sl_metrics_t **pm)
{
    if (!pm || !*pm) {
        return;
    }
    sl_metrics_t *m = *pm;
    sl_actor_metrics_t *am = m->head;
    while (am) {
        sl_actor_metrics_t *next = am->next;
        free(am);
        am = next;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
    *pm = NULL;
}

sl_actor_metrics_t *sl_metrics_add(sl_metrics_t *m, const char *actor, const char *kind, int worker,
                                   int is_sink)
{
    if (!m) {
        return NULL;
    }
    sl_actor_metrics_t *am = calloc(1, sizeof *am);
    if (!am) {
        return NULL;
    }
    snprintf(am->actor, sizeof am->actor, "%s", actor ? actor : "");
    snprintf(am->kind, sizeof am->kind, "%s", kind ? kind : "");
    am->worker = worker;
    am->is_sink = is_sink ? 1 : 0;

    /* Append so the exposition lists instances in start order. */
    pthread_mutex_lock(&m->lock);
    sl_actor_metrics_t **pp = &m->head;
    while (*pp) {
        pp = &(*pp)->next;
    }
    *pp = am;
    pthread_mutex_unlock(&m->lock);
    return am;
}

void sl_metrics_remove(sl_metrics_t *m, sl_actor_metrics_t *am)
{
    if (!m || !am) {
        return;
    }
    int found = 0;
    pthread_mutex_lock(&m->lock);
    for (sl_actor_metrics_t **pp = &m->head; *pp; pp = &(*pp)->next) {
        if (*pp == am) {
            *pp = am->next;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    /* Freed after unlocking: render holds the lock while it reads entries,
       so none can still be looking at this one. An entry that is not ours
       is left alone rather than freed twice. */
    if (found) {
        free(am);
    }
}

static int s_appendf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int s_appendf(sl_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int rc = sl_buf_reserve(b, 128);
    if (rc) {
        return rc;
    }
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return SL_EINVAL;
    }
    if ((size_t)n >= b->cap - b->len) {
        rc = sl_buf_reserve(b, (size_t)n + 1);
        if (rc) {
            return rc;
        }
        va_start(ap, fmt);
        vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return SL_OK;
}

/*  Label value escaping of the text format: backslash, double quote and
    line feed. Actor names come from operators' files, so do not trust them. */
static int s_label_value(sl_buf_t *b, const char *s)
{
    int rc = SL_OK;
    for (; *s && rc == SL_OK; s++) {
        switch (*s) {
        case '\\':
            rc = sl_buf_append(b, "\\\\", 2);
            break;
        case '"':
            rc = sl_buf_append(b, "\\\"", 2);
            break;
        case '\n':
            rc = sl_buf_append(b, "\\n", 2);
            break;
        default:
            rc = sl_buf_append(b, s, 1);
            break;
        }
    }
    return rc;
}

/*  `{actor="..",kind="..",worker="N"` without the closing brace, so a
    histogram can add its le label. */
static int s_labels_open(sl_buf_t *b, const sl_actor_metrics_t *am)
{
    int rc = sl_buf_append(b, "{actor=\"", 8);
    if (!rc) {
        rc = s_label_value(b, am->actor);
    }
    if (!rc) {
        rc = sl_buf_append(b, "\",kind=\"", 8);
    }
    if (!rc) {
        rc = s_label_value(b, am->kind);
    }
    if (!rc) {
        rc = s_appendf(b, "\",worker=\"%d\"", am->worker);
    }
    return rc;
}

static int s_family(sl_buf_t *b, const char *name, const char *type, const char *help)
{
    return s_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef enum {
    S_EVENTS_IN,
    S_EVENTS_OUT,
    S_DROPPED,
    S_ERRORS,
    S_QUEUE_DEPTH,
    S_TENANT_MISMATCH,
    S_NO_LINK_KEY,
} s_scalar_t;

static uint64_t s_scalar_value(const sl_actor_metrics_t *am, s_scalar_t which)
{
    switch (which) {
    case S_EVENTS_IN:
        return atomic_load_explicit(&am->events_in, S_RELAXED);
    case S_EVENTS_OUT:
        return atomic_load_explicit(&am->events_out, S_RELAXED);
    case S_DROPPED:
        return atomic_load_explicit(&am->dropped, S_RELAXED);
    case S_ERRORS:
        return atomic_load_explicit(&am->errors, S_RELAXED);
    case S_QUEUE_DEPTH: {
        /* events_in first: an event is enqueued before it is taken in, so
           read in this order the difference cannot go negative. Clamp
           anyway in case a writer does not follow that order. */
        uint64_t in = atomic_load_explicit(&am->events_in, S_RELAXED);
        uint64_t enq = atomic_load_explicit(&am->enqueued, S_RELAXED);
        return enq > in ? enq - in : 0;
    }
    case S_TENANT_MISMATCH:
        return atomic_load_explicit(&am->tenant_mismatch, S_RELAXED);
    case S_NO_LINK_KEY:
        return atomic_load_explicit(&am->no_link_key, S_RELAXED);
    }
    return 0;
}

static int s_render_scalar(sl_metrics_t *m, sl_buf_t *b, const char *name, const char *type,
                           const char *help, s_scalar_t which)
{
    int rc = s_family(b, name, type, help);
    for (sl_actor_metrics_t *am = m->head; am && !rc; am = am->next) {
        rc = sl_buf_append(b, name, strlen(name));
        if (!rc) {
            rc = s_labels_open(b, am);
        }
        if (!rc) {
            rc = s_appendf(b, "} %llu\n", (unsigned long long)s_scalar_value(am, which));
        }
    }
    return rc;
}

static int s_render_hist_one(sl_buf_t *b, const char *name, const sl_actor_metrics_t *am,
                             const sl_hist_t *h)
{
    int rc = SL_OK;
    uint64_t cum = 0;
    for (int i = 0; i < SL_HIST_BUCKETS && !rc; i++) {
        cum += atomic_load_explicit(&h->buckets[i], S_RELAXED);
        rc = s_appendf(b, "%s_bucket", name);
        if (!rc) {
            rc = s_labels_open(b, am);
        }
        if (rc) {
            break;
        }
        if (i < S_FINITE) {
            /* 2^i us has at most six decimals in seconds: print exactly. */
            uint64_t us = (uint64_t)1 << i;
            rc = s_appendf(b, ",le=\"%llu.%06llu\"} %llu\n", (unsigned long long)(us / 1000000),
                           (unsigned long long)(us % 1000000), (unsigned long long)cum);
        } else {
            rc = s_appendf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
    }
    uint64_t sum = atomic_load_explicit(&h->sum_us, S_RELAXED);
    if (!rc) {
        rc = s_appendf(b, "%s_sum", name);
    }
    if (!rc) {
        rc = s_labels_open(b, am);
    }
    if (!rc) {
        rc = s_appendf(b, "} %llu.%06llu\n", (unsigned long long)(sum / 1000000),
                       (unsigned long long)(sum % 1000000));
    }
    if (!rc) {
        rc = s_appendf(b, "%s_count", name);
    }
    if (!rc) {
        rc = s_labels_open(b, am);
    }
    if (!rc) {
        rc = s_appendf(b, "} %llu\n", (unsigned long long)cum);
    }
    return rc;
}

/* ------------------------------------------------------ dead letters */

typedef struct {
    char actor[64];
    char reason[64];
    uint64_t count;
} s_dead_t;

/*  Dead letters are rare (a bad event, not the hot path): a mutex and a
    linear search are enough. */
static pthread_mutex_t s_dead_lock = PTHREAD_MUTEX_INITIALIZER;
static s_dead_t *s_dead;
static size_t s_dead_n, s_dead_cap;

__attribute__((destructor)) static void s_dead_free(void)
{
    free(s_dead);
    s_dead = NULL;
    s_dead_n = s_dead_cap = 0;
}

void sl_metrics_reason_class(const char *reason, char *out, size_t len)
{
    char tmp[512];
    if (!out || !len) {
        return;
    }
    snprintf(tmp, sizeof tmp, "%s", reason ? reason : "");
    /*  Quoted parts are outside values (kinds, tenants, names): unbounded. */
    char *q = strpbrk(tmp, "'\"");
    if (q) {
        *q = 0;
    }
    char *colon = strrchr(tmp, ':');
    if (colon) {
        *colon = 0;
    }
    size_t n = strlen(tmp);
    while (n && (tmp[n - 1] == ' ' || tmp[n - 1] == ':')) {
        tmp[--n] = 0;
    }
    const char *p = tmp;
    while (*p == ' ') {
        p++;
    }
    if (n > 63) {
        tmp[63] = 0;
    }
    snprintf(out, len, "%s", *p ? p : "other");
    for (char *c = out; *c; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            *c = '?';
        }
    }
}

static s_dead_t *s_dead_find(const char *actor, const char *cls)
{
    for (size_t i = 0; i < s_dead_n; i++) {
        if (strcmp(s_dead[i].actor, actor) == 0 && strcmp(s_dead[i].reason, cls) == 0) {
            return &s_dead[i];
        }
    }
    return NULL;
}

void sl_metrics_dead_letter(const char *actor, const char *reason)
{
    char a[64], cls[64];
    snprintf(a, sizeof a, "%s", actor && actor[0] ? actor : "store");
    sl_metrics_reason_class(reason, cls, sizeof cls);
    pthread_mutex_lock(&s_dead_lock);
    s_dead_t *d = s_dead_find(a, cls);
    if (!d) {
        size_t actors = 0, reasons = 0;
        int known = 0;
        for (size_t i = 0; i < s_dead_n; i++) {
            int same = strcmp(s_dead[i].actor, a) == 0;
            reasons += same;
            known |= same;
            int first = 1;
            for (size_t j = 0; j < i && first; j++) {
                first = strcmp(s_dead[j].actor, s_dead[i].actor) != 0;
            }
            actors += first;
        }
        if (!known && actors >= SL_DEAD_ACTORS) {
            snprintf(a, sizeof a, "%s", "other");
        }
        if (reasons >= SL_DEAD_REASONS) {
            snprintf(cls, sizeof cls, "%s", "other");
        }
        d = s_dead_find(a, cls);
    }
    if (!d) {
        if (s_dead_n == s_dead_cap) {
            size_t cap = s_dead_cap ? s_dead_cap * 2 : 16;
            s_dead_t *n = realloc(s_dead, cap * sizeof *n);
            if (!n) {
                pthread_mutex_unlock(&s_dead_lock);
                return;
            }
            s_dead = n;
            s_dead_cap = cap;
        }
        d = &s_dead[s_dead_n++];
        memset(d, 0, sizeof *d);
        snprintf(d->actor, sizeof d->actor, "%s", a);
        snprintf(d->reason, sizeof d->reason, "%s", cls);
    }
    d->count++;
    pthread_mutex_unlock(&s_dead_lock);
}

uint64_t sl_metrics_dead_letters(const char *actor, const char *reason_class)
{
    pthread_mutex_lock(&s_dead_lock);
    s_dead_t *d = s_dead_find(actor ? actor : "", reason_class ? reason_class : "");
    uint64_t n = d ? d->count : 0;
    pthread_mutex_unlock(&s_dead_lock);
    return n;
}

static int s_render_dead(sl_buf_t *out)
{
    int rc = SL_OK;
    pthread_mutex_lock(&s_dead_lock);
    if (s_dead_n > 0) {
        rc = s_family(out, "sluice_dead_letters_total", "counter",
                      "Events written to the dead-letter store, by rejecting actor and reason "
                      "class.");
    }
    for (size_t i = 0; i < s_dead_n && !rc; i++) {
        rc = s_appendf(out, "sluice_dead_letters_total{actor=\"");
        if (!rc) {
            rc = s_label_value(out, s_dead[i].actor);
        }
        if (!rc) {
            rc = s_appendf(out, "\",reason=\"");
        }
        if (!rc) {
            rc = s_label_value(out, s_dead[i].reason);
        }
        if (!rc) {
            rc = s_appendf(out, "\"} %llu\n", (unsigned long long)s_dead[i].count);
        }
    }
    pthread_mutex_unlock(&s_dead_lock);
    return rc;
}

/* ------------------------------------------------------ CURVE refusals */

typedef struct {
    char tenant[72];
    uint64_t count;
} s_refused_t;

/*  Rare (an attack or a misconfigured peer) and bounded by the tenants of
    the topology: a fixed table under a mutex. */
static pthread_mutex_t s_refused_lock = PTHREAD_MUTEX_INITIALIZER;
static s_refused_t s_refused[SL_CURVE_REFUSED_TENANTS + 1];
static int s_refused_n;

void sl_metrics_curve_refused(const char *tenant)
{
    char t[72];
    snprintf(t, sizeof t, "%s", tenant && tenant[0] ? tenant : "other");
    pthread_mutex_lock(&s_refused_lock);
    int i = 0;
    while (i < s_refused_n && strcmp(s_refused[i].tenant, t) != 0) {
        i++;
    }
    if (i == s_refused_n && s_refused_n >= SL_CURVE_REFUSED_TENANTS) {
        snprintf(t, sizeof t, "%s", "other");
        for (i = 0; i < s_refused_n && strcmp(s_refused[i].tenant, t) != 0; i++) {
        }
    }
    if (i == s_refused_n) {
        snprintf(s_refused[i].tenant, sizeof s_refused[i].tenant, "%s", t);
        s_refused[i].count = 0;
        s_refused_n++;
    }
    s_refused[i].count++;
    pthread_mutex_unlock(&s_refused_lock);
}

uint64_t sl_metrics_curve_refusals(const char *tenant)
{
    uint64_t n = 0;
    pthread_mutex_lock(&s_refused_lock);
    for (int i = 0; i < s_refused_n; i++) {
        if (tenant && strcmp(s_refused[i].tenant, tenant) == 0) {
            n = s_refused[i].count;
        }
    }
    pthread_mutex_unlock(&s_refused_lock);
    return n;
}

static int s_render_curve(sl_buf_t *out)
{
    int rc = SL_OK;
    pthread_mutex_lock(&s_refused_lock);
    if (s_refused_n > 0) {
        rc = s_family(out, "sluice_curve_refused_total", "counter",
                      "CURVE clients refused by the ZAP handler, by the tenant whose endpoint "
                      "they tried.");
    }
    for (int i = 0; i < s_refused_n && !rc; i++) {
        rc = s_appendf(out, "sluice_curve_refused_total{tenant=\"");
        if (!rc) {
            rc = s_label_value(out, s_refused[i].tenant);
        }
        if (!rc) {
            rc = s_appendf(out, "\"} %llu\n", (unsigned long long)s_refused[i].count);
        }
    }
    pthread_mutex_unlock(&s_refused_lock);
    return rc;
}

/* ------------------------------------------------------ labelled counters */

struct sl_counter {
    const char *family;
    const char *help;
    char labels[512]; /* rendered: name="value",... */
    _Atomic uint64_t count;
    struct sl_counter *next;
};

static pthread_mutex_t s_ctr_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_counter_t *s_ctr_head;
static sl_counter_t **s_ctr_tail = &s_ctr_head;
static int s_ctr_n;

__attribute__((destructor)) static void s_ctr_free(void)
{
    while (s_ctr_head) {
        sl_counter_t *c = s_ctr_head;
        s_ctr_head = c->next;
        free(c);
    }
    s_ctr_tail = &s_ctr_head;
    s_ctr_n = 0;
}

/*  The label text of a series; `other` replaces every value. */
static int s_ctr_labels(char *out, size_t len, va_list ap, int other)
{
    sl_buf_t b = {0};
    int rc = SL_OK;
    const char *name;
    int first = 1;
    while (rc == SL_OK && (name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        char v[64];
        snprintf(v, sizeof v, "%s", other ? "other" : value ? value : "");
        rc = s_appendf(&b, "%s%s=\"", first ? "" : ",", name);
        rc = rc ? rc : s_label_value(&b, v);
        rc = rc ? rc : s_appendf(&b, "\"");
        first = 0;
    }
    if (rc == SL_OK && b.len >= len) {
        rc = SL_ERANGE;
    }
    if (rc == SL_OK) {
        memcpy(out, b.data ? (const char *)b.data : "", b.len);
        out[b.len] = '\0';
    }
    sl_buf_free(&b);
    return rc;
}

static sl_counter_t *s_ctr_find(const char *family, const char *labels)
{
    for (sl_counter_t *c = s_ctr_head; c; c = c->next) {
        if (strcmp(c->family, family) == 0 && strcmp(c->labels, labels) == 0) {
            return c;
        }
    }
    return NULL;
}

static sl_counter_t *s_counter_v(const char *family, const char *help, va_list ap)
{
    char labels[512];
    va_list a2;
    va_copy(a2, ap);
    int rc = s_ctr_labels(labels, sizeof labels, a2, 0);
    va_end(a2);
    if (rc) {
        return NULL;
    }
    pthread_mutex_lock(&s_ctr_lock);
    sl_counter_t *c = s_ctr_find(family, labels);
    if (!c && s_ctr_n >= SL_COUNTER_SERIES) {
        va_copy(a2, ap);
        rc = s_ctr_labels(labels, sizeof labels, a2, 1);
        va_end(a2);
        c = rc ? NULL : s_ctr_find(family, labels);
        if (rc) {
            pthread_mutex_unlock(&s_ctr_lock);
            return NULL;
        }
    }
    if (!c && (c = calloc(1, sizeof *c)) != NULL) {
        c->family = family;
        c->help = help;
        memcpy(c->labels, labels, sizeof labels);
        atomic_init(&c->count, 0);
        *s_ctr_tail = c;
        s_ctr_tail = &c->next;
        s_ctr_n++;
    }
    pthread_mutex_unlock(&s_ctr_lock);
    return c;
}

sl_counter_t *sl_metrics_counter(const char *family, const char *help, ...)
{
    va_list ap;
    va_start(ap, help);
    sl_counter_t *c = s_counter_v(family, help, ap);
    va_end(ap);
    return c;
}

void sl_counter_add(sl_counter_t *c, uint64_t n)
{
    if (c) {
        atomic_fetch_add_explicit(&c->count, n, S_RELAXED);
    }
}

void sl_metrics_count(const char *family, const char *help, uint64_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    sl_counter_add(s_counter_v(family, help, ap), n);
    va_end(ap);
}

uint64_t sl_metrics_counted(const char *family, ...)
{
    char labels[512];
    va_list ap;
    va_start(ap, family);
    int rc = s_ctr_labels(labels, sizeof labels, ap, 0);
    va_end(ap);
    if (rc) {
        return 0;
    }
    pthread_mutex_lock(&s_ctr_lock);
    sl_counter_t *c = s_ctr_find(family, labels);
    uint64_t n = c ? atomic_load_explicit(&c->count, S_RELAXED) : 0;
    pthread_mutex_unlock(&s_ctr_lock);
    return n;
}

/*  Every series of each family together, in the order families appeared. */
static int s_render_counters(sl_buf_t *out)
{
    int rc = SL_OK;
    pthread_mutex_lock(&s_ctr_lock);
    for (sl_counter_t *c = s_ctr_head; c && !rc; c = c->next) {
        int first = 1;
        for (sl_counter_t *p = s_ctr_head; p != c && first; p = p->next) {
            first = strcmp(p->family, c->family) != 0;
        }
        if (!first) {
            continue;
        }
        rc = s_family(out, c->family, "counter", c->help ? c->help : "");
        for (sl_counter_t *s = c; s && !rc; s = s->next) {
            if (strcmp(s->family, c->family) == 0) {
                rc = s_appendf(out, "%s{%s} %llu\n", s->family, s->labels,
                               (unsigned long long)atomic_load_explicit(&s->count, S_RELAXED));
            }
        }
    }
    pthread_mutex_unlock(&s_ctr_lock);
    return rc;
}

/* ------------------------------------------------------ journals */

typedef struct {
    char actor[64];
    uint64_t v[3]; /* entries, last, confirmed */
} s_journal_t;

static pthread_mutex_t s_journal_lock = PTHREAD_MUTEX_INITIALIZER;
static s_journal_t s_journals[SL_JOURNAL_GAUGES];
static int s_journals_n;

void sl_metrics_journal(const char *actor, uint64_t entries, uint64_t last, uint64_t confirmed)
{
    pthread_mutex_lock(&s_journal_lock);
    int i = 0;
    while (i < s_journals_n && strcmp(s_journals[i].actor, actor) != 0) {
        i++;
    }
    if (i == s_journals_n && s_journals_n < SL_JOURNAL_GAUGES) {
        snprintf(s_journals[i].actor, sizeof s_journals[i].actor, "%s", actor);
        s_journals_n++;
    }
    if (i < s_journals_n) {
        s_journals[i].v[0] = entries;
        s_journals[i].v[1] = last;
        s_journals[i].v[2] = confirmed;
    }
    pthread_mutex_unlock(&s_journal_lock);
}

static int s_render_journals(sl_buf_t *out)
{
    static const char *const names[3] = {"sluice_journal_entries", "sluice_journal_last_seq",
                                         "sluice_journal_confirmed_seq"};
    static const char *const help[3] = {
        "Entries an ingest journal holds (not trimmed yet).",
        "Newest durable sequence of an ingest journal.",
        "Sequence a restart replays after: the lowest confirmation of the journal's confirmers."};
    int rc = SL_OK;
    pthread_mutex_lock(&s_journal_lock);
    for (int f = 0; f < 3 && s_journals_n > 0 && !rc; f++) {
        rc = s_family(out, names[f], "gauge", help[f]);
        for (int i = 0; i < s_journals_n && !rc; i++) {
            rc = s_appendf(out, "%s{actor=\"", names[f]);
            if (!rc) {
                rc = s_label_value(out, s_journals[i].actor);
            }
            if (!rc) {
                rc = s_appendf(out, "\"} %llu\n", (unsigned long long)s_journals[i].v[f]);
            }
        }
    }
    pthread_mutex_unlock(&s_journal_lock);
    return rc;
}

int sl_metrics_render(sl_metrics_t *m, sl_buf_t *out)
{
    if (!m || !out) {
        return SL_EINVAL;
    }
    size_t start_len = out->len;
    int rc;

    pthread_mutex_lock(&m->lock);
    rc = s_render_scalar(m, out, "sluice_events_in_total", "counter",
                         "Events taken in by an actor instance.", S_EVENTS_IN);
    if (rc) {
        goto fail;
    }
    rc = s_render_scalar(m, out, "sluice_events_out_total", "counter",
                         "Events sent on by an actor instance.", S_EVENTS_OUT);
    if (rc) {
        goto fail;
    }
    rc = s_render_scalar(m, out, "sluice_events_dropped_total", "counter",
                         "Input events dropped as malformed or refused.", S_DROPPED);
    if (rc) {
        goto fail;
    }
    rc = s_render_scalar(m, out, "sluice_errors_total", "counter",
                         "Failures of an actor instance's handle or tick callback.", S_ERRORS);
    if (rc) {
        goto fail;
    }
    rc = s_render_scalar(m, out, "sluice_queue_depth", "gauge",
                         "Events sent to an actor instance and not yet taken in.", S_QUEUE_DEPTH);
    if (rc) {
        goto fail;
    }
    rc = s_render_scalar(m, out, "sluice_link_tenant_mismatch_total", "counter",
                         "Events dropped on arrival over a CURVE link because their tenant is "
                         "not the tenant whose key the link authenticated.",
                         S_TENANT_MISMATCH);
    if (rc) {
        goto fail;
    }
    rc = s_render_scalar(m, out, "sluice_link_no_key_total", "counter",
                         "Events not sent over a CURVE link because their tenant has no key.",
                         S_NO_LINK_KEY);
    if (rc) {
        goto fail;
    }

    rc = s_family(out, "sluice_handle_seconds", "histogram",
                  "Time an actor instance spent handling one event.");
    for (sl_actor_metrics_t *am = m->head; am && !rc; am = am->next) {
        rc = s_render_hist_one(out, "sluice_handle_seconds", am, &am->handle_us);
    }
    if (rc) {
        goto fail;
    }
    rc = s_family(out, "sluice_e2e_latency_seconds", "histogram",
                  "Time from ingest to a sink having applied the event.");
    for (sl_actor_metrics_t *am = m->head; am && !rc; am = am->next) {
        if (am->is_sink) {
            rc = s_render_hist_one(out, "sluice_e2e_latency_seconds", am, &am->e2e_us);
        }
    }
    if (rc) {
        goto fail;
    }
    pthread_mutex_unlock(&m->lock);

    int ready = atomic_load_explicit(&m->ready, S_RELAXED) &&
                !atomic_load_explicit(&m->stopping, S_RELAXED);
    rc = s_appendf(
        out,
        "# HELP sluice_malformed_messages_total Messages that failed to decode.\n"
        "# TYPE sluice_malformed_messages_total counter\n"
        "sluice_malformed_messages_total %llu\n"
        "# HELP sluice_ready 1 once every actor signalled ready, 0 while starting or stopping.\n"
        "# TYPE sluice_ready gauge\n"
        "sluice_ready %d\n"
        "# HELP sluice_up 1 while the process runs.\n"
        "# TYPE sluice_up gauge\n"
        "sluice_up 1\n"
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch in "
        "seconds.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds %lld.%06lld\n",
        (unsigned long long)atomic_load_explicit(&m->malformed, S_RELAXED), ready,
        (long long)(s_start_us / 1000000), (long long)(s_start_us % 1000000));
    if (!rc) {
        rc = s_render_dead(out);
    }
    if (!rc) {
        rc = s_render_curve(out);
    }
    if (!rc) {
        rc = s_render_counters(out);
    }
    if (!rc) {
        rc = s_render_journals(out);
    }
    if (rc) {
        out->len = start_len;
    }
    return rc;

fail:
    pthread_mutex_unlock(&m->lock);
    /* A half-written exposition would be misread by the scraper. */
    out->len = start_len;
    return rc;
}

/* ------------------------------------------------------------ health */

typedef struct {
    char component[64];
    char reason[SL_HEALTH_REASON];
} s_health_t;

static pthread_mutex_t s_health_lock = PTHREAD_MUTEX_INITIALIZER;
static s_health_t s_health[SL_HEALTH_MAX];
static int s_health_n;

void sl_health_set(const char *component, const char *reason)
{
    const char *c = component ? component : "";
    pthread_mutex_lock(&s_health_lock);
    int i = 0;
    while (i < s_health_n && strcmp(s_health[i].component, c) != 0) {
        i++;
    }
    if (i == s_health_n) {
        if (s_health_n < SL_HEALTH_MAX) {
            s_health_n++;
        } else {
            i = SL_HEALTH_MAX - 1; /* full: the last slot holds the newest */
        }
    }
    snprintf(s_health[i].component, sizeof s_health[i].component, "%s", c);
    snprintf(s_health[i].reason, sizeof s_health[i].reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&s_health_lock);
}

void sl_health_clear(const char *component)
{
    const char *c = component ? component : "";
    pthread_mutex_lock(&s_health_lock);
    for (int i = 0; i < s_health_n; i++) {
        if (strcmp(s_health[i].component, c) == 0) {
            memmove(&s_health[i], &s_health[i + 1],
                    (size_t)(s_health_n - i - 1) * sizeof s_health[0]);
            s_health_n--;
            break;
        }
    }
    pthread_mutex_unlock(&s_health_lock);
}

int sl_health_get(char *reason, size_t len)
{
    pthread_mutex_lock(&s_health_lock);
    int bad = s_health_n > 0;
    if (bad && reason && len) {
        snprintf(reason, len, "%s: %s", s_health[0].component, s_health[0].reason);
    }
    pthread_mutex_unlock(&s_health_lock);
    return bad;
}
