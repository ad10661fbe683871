/*  ingest_bench: load generator for http_ingest (docs/performance.md
    "## Ingest"). Plain sockets, HTTP/1.1 keep-alive; prints one JSON line.

      ingest_bench --mode throughput --url HOST:PORT --conns N --batch B --seconds S
                   [--threads T]
          each connection posts NDJSON batches of B asset.upsert events (B = 1:
          a single JSON event) back to back; events/s counts 2xx only. T
          threads (default 2) share the connections: each sends one request
          on every connection it owns, then reads the replies in turn, so a
          128-connection run does not put 128 client threads on the cores
          the server is measured on (what wrk does with its event loop).
      ingest_bench --mode latency --url HOST:PORT --api HOST:PORT --rate R --seconds S
          single events at R events/s (spread over --conns connections); every
          --probe-th event is followed by GET /v1/assets/{qn} on the query API
          until it answers 200: end-to-end latency = first 200 - request sent.

    Events carry unique qualified names (snowflake://bench/<run>/c<conn>/<n>)
    so every one is a new asset and a new change. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sluice/common.h"

#define S_MAX_CONNS 256
#define S_MAX_SAMPLES (1 << 21)

typedef struct {
    char host[128];
    int port;
} s_addr_t;

static struct {
    const char *mode;
    s_addr_t url;
    s_addr_t api;
    int conns;
    int batch;
    double seconds;
    double rate;
    int probe_every;
    int threads;
    const char *tenant;
    char run[32];
} g = {.mode = "throughput",
       .conns = 8,
       .batch = 100,
       .seconds = 5,
       .rate = 1000,
       .probe_every = 10,
       .threads = 2,
       .tenant = "bench"};

static atomic_int g_stop;
static atomic_llong g_events, g_requests, g_errors, g_429;

/*  Request latencies (us) and end-to-end latencies (us), shared. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t *g_req_lat, *g_e2e_lat;
static long g_n_req, g_n_e2e;

static void s_sample(int64_t *arr, long *n, int64_t v)
{
    pthread_mutex_lock(&g_mu);
    if (*n < S_MAX_SAMPLES) {
        arr[(*n)++] = v;
    }
    pthread_mutex_unlock(&g_mu);
}

static int s_parse_addr(const char *s, s_addr_t *a)
{
    const char *c = strrchr(s, ':');
    if (!c || (size_t)(c - s) >= sizeof a->host) {
        return -1;
    }
    memcpy(a->host, s, (size_t)(c - s));
    a->host[c - s] = '\0';
    a->port = atoi(c + 1);
    return a->port > 0 ? 0 : -1;
}

static int s_connect(const s_addr_t *a)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    if (inet_pton(AF_INET, a->host, &sin.sin_addr) != 1) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int s_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/*  One response on a keep-alive connection: the status, or -1. The body
    is read and dropped (Content-Length only: the server never chunks
    these replies). */
typedef struct {
    char buf[65536];
    size_t len;
} s_rbuf_t;

static int s_read_response(int fd, s_rbuf_t *r)
{
    for (;;) {
        char *end = r->len ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t hlen = (size_t)(end - r->buf) + 4;
            int status = 0;
            if (sscanf(r->buf, "HTTP/1.%*d %d", &status) != 1) {
                return -1;
            }
            size_t clen = 0;
            char *cl = strcasestr(r->buf, "\r\nContent-Length:");
            if (cl && cl < end) {
                clen = (size_t)strtoull(cl + 17, NULL, 10);
            }
            while (r->len < hlen + clen) {
                if (r->len == sizeof r->buf) {
                    /* a long body: drop what we have, count the rest */
                    size_t drop = r->len - hlen;
                    clen -= drop;
                    r->len = hlen;
                    continue;
                }
                ssize_t n = read(fd, r->buf + r->len, sizeof r->buf - r->len);
                if (n <= 0) {
                    return -1;
                }
                r->len += (size_t)n;
            }
            size_t used = hlen + clen;
            memmove(r->buf, r->buf + used, r->len - used);
            r->len -= used;
            return status;
        }
        if (r->len == sizeof r->buf) {
            return -1;
        }
        ssize_t n = read(fd, r->buf + r->len, sizeof r->buf - r->len);
        if (n <= 0) {
            return -1;
        }
        r->len += (size_t)n;
    }
}

/*  One event as JSON into b. */
static void s_event(sl_buf_t *b, int conn, long n)
{
    char ev[256];
    int len = snprintf(ev, sizeof ev,
                       "{\"kind\":\"asset.upsert\",\"body\":{\"qualified_name\":\"snowflake://"
                       "bench/%s/c%d/%ld\",\"type\":\"table\"}}",
                       g.run, conn, n);
    sl_buf_append(b, ev, (size_t)len);
}

/*  Send one POST (head and body in one write: one segment, one wake-up
    of the server for a small request). */
static int s_send(int fd, const sl_buf_t *body, int ndjson)
{
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST /v1/events HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
                      "X-Tenant-ID: %s\r\nContent-Length: %zu\r\n\r\n",
                      g.url.host, g.url.port, ndjson ? "application/x-ndjson" : "application/json",
                      g.tenant, body->len);
    if (body->len <= 4096) {
        char req[512 + 4096];
        memcpy(req, head, (size_t)hl);
        memcpy(req + hl, body->data, body->len);
        return s_write_all(fd, req, (size_t)hl + body->len);
    }
    if (s_write_all(fd, head, (size_t)hl) || s_write_all(fd, body->data, body->len)) {
        return -1;
    }
    return 0;
}

static int s_post(int fd, s_rbuf_t *r, const sl_buf_t *body, int ndjson)
{
    if (s_send(fd, body, ndjson)) {
        return -1;
    }
    return s_read_response(fd, r);
}

/* ------------------------------------------------------------ throughput */

static void *s_thru(void *arg)
{
    int conn = (int)(intptr_t)arg;
    int fd = s_connect(&g.url);
    s_rbuf_t *r = calloc(1, sizeof *r);
    sl_buf_t body = {0};
    long n = 0;
    while (!atomic_load(&g_stop)) {
        if (fd < 0) {
            atomic_fetch_add(&g_errors, 1);
            usleep(10000);
            fd = s_connect(&g.url);
            r->len = 0;
            continue;
        }
        sl_buf_reset(&body);
        for (int i = 0; i < g.batch; i++) {
            s_event(&body, conn, n + i);
            sl_buf_append(&body, "\n", 1);
        }
        int64_t t0 = sl_mono_us();
        int st = s_post(fd, r, &body, g.batch > 1);
        int64_t dt = sl_mono_us() - t0;
        if (st >= 200 && st < 300) {
            n += g.batch;
            atomic_fetch_add(&g_events, g.batch);
            atomic_fetch_add(&g_requests, 1);
            s_sample(g_req_lat, &g_n_req, dt);
        } else if (st == 429 || st == 503) {
            atomic_fetch_add(&g_429, 1);
            usleep(1000);
        } else {
            atomic_fetch_add(&g_errors, 1);
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    sl_buf_free(&body);
    free(r);
    return NULL;
}

/*  A throughput thread owning connections first, first + threads, ...:
    one request in flight on each. */
static void *s_thru_many(void *arg)
{
    int first = (int)(intptr_t)arg;
    int k = 0;
    int ids[S_MAX_CONNS], fds[S_MAX_CONNS];
    long ns[S_MAX_CONNS];
    int64_t t0[S_MAX_CONNS];
    s_rbuf_t *rs = calloc(S_MAX_CONNS, sizeof *rs);
    sl_buf_t body = {0};
    for (int c = first; c < g.conns; c += g.threads) {
        ids[k] = c;
        fds[k] = s_connect(&g.url);
        ns[k] = 0;
        k++;
    }
    while (!atomic_load(&g_stop)) {
        for (int i = 0; i < k; i++) {
            if (fds[i] < 0) {
                fds[i] = s_connect(&g.url);
                rs[i].len = 0;
                if (fds[i] < 0) {
                    atomic_fetch_add(&g_errors, 1);
                    continue;
                }
            }
            sl_buf_reset(&body);
            for (int e = 0; e < g.batch; e++) {
                s_event(&body, ids[i], ns[i] + e);
                sl_buf_append(&body, "\n", 1);
            }
            t0[i] = sl_mono_us();
            if (s_send(fds[i], &body, g.batch > 1)) {
                atomic_fetch_add(&g_errors, 1);
                close(fds[i]);
                fds[i] = -1;
            }
        }
        int busy = 0;
        for (int i = 0; i < k; i++) {
            if (fds[i] < 0) {
                continue;
            }
            int st = s_read_response(fds[i], &rs[i]);
            int64_t dt = sl_mono_us() - t0[i];
            if (st >= 200 && st < 300) {
                ns[i] += g.batch;
                atomic_fetch_add(&g_events, g.batch);
                atomic_fetch_add(&g_requests, 1);
                s_sample(g_req_lat, &g_n_req, dt);
            } else if (st == 429 || st == 503) {
                atomic_fetch_add(&g_429, 1);
                busy = 1;
            } else {
                atomic_fetch_add(&g_errors, 1);
                close(fds[i]);
                fds[i] = -1;
            }
        }
        if (busy) {
            usleep(1000);
        }
    }
    for (int i = 0; i < k; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    sl_buf_free(&body);
    free(rs);
    return NULL;
}

/* ------------------------------------------------------------ latency */

/*  Poll the query API until the asset is there; returns us since t0. */
static int64_t s_probe(int *fd, s_rbuf_t *r, int conn, long n, int64_t t0)
{
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET /v1/assets/snowflake%%3A%%2F%%2Fbench%%2F%s%%2Fc%d%%2F%ld HTTP/1.1\r\n"
                       "Host: %s:%d\r\nX-Tenant-ID: %s\r\n\r\n",
                       g.run, conn, n, g.api.host, g.api.port, g.tenant);
    for (int tries = 0; tries < 200000 && !atomic_load(&g_stop); tries++) {
        if (*fd < 0) {
            *fd = s_connect(&g.api);
            r->len = 0;
            if (*fd < 0) {
                return -1;
            }
        }
        if (s_write_all(*fd, req, (size_t)len)) {
            close(*fd);
            *fd = -1;
            continue;
        }
        int st = s_read_response(*fd, r);
        if (st == 200) {
            return sl_mono_us() - t0;
        }
        if (st < 0) {
            close(*fd);
            *fd = -1;
        }
        /*  Not yet: look again soon, without taking a core from the
            server being measured (the error this adds is <= 100 us). */
        usleep(100);
    }
    return -1;
}

static void *s_lat(void *arg)
{
    int conn = (int)(intptr_t)arg;
    int fd = s_connect(&g.url);
    int afd = -1;
    s_rbuf_t *r = calloc(1, sizeof *r);
    s_rbuf_t *ar = calloc(1, sizeof *ar);
    sl_buf_t body = {0};
    double per_conn = g.rate / g.conns;
    int64_t interval = (int64_t)(1e6 / per_conn);
    int64_t next = sl_mono_us() + (int64_t)conn * interval / g.conns;
    long n = 0;
    while (!atomic_load(&g_stop) && fd >= 0) {
        int64_t now = sl_mono_us();
        if (now < next) {
            usleep((useconds_t)(next - now));
        }
        next += interval;
        sl_buf_reset(&body);
        s_event(&body, conn, n);
        int64_t t0 = sl_mono_us();
        int st = s_post(fd, r, &body, 0);
        int64_t dt = sl_mono_us() - t0;
        if (st >= 200 && st < 300) {
            atomic_fetch_add(&g_events, 1);
            atomic_fetch_add(&g_requests, 1);
            s_sample(g_req_lat, &g_n_req, dt);
            if (n % g.probe_every == 0) {
                int64_t e = s_probe(&afd, ar, conn, n, t0);
                if (e >= 0) {
                    s_sample(g_e2e_lat, &g_n_e2e, e);
                }
            }
        } else {
            atomic_fetch_add(st == 429 ? &g_429 : &g_errors, 1);
        }
        n++;
        if (sl_mono_us() > next + 1000000) {
            next = sl_mono_us(); /* far behind: do not burst to catch up */
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (afd >= 0) {
        close(afd);
    }
    sl_buf_free(&body);
    free(r);
    free(ar);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double s_pct(int64_t *v, long n, double p)
{
    if (n == 0) {
        return 0;
    }
    long i = (long)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "ingest_bench: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--mode") == 0) {
            g.mode = v;
        } else if (strcmp(argv[i], "--url") == 0) {
            if (s_parse_addr(v, &g.url)) {
                fprintf(stderr, "ingest_bench: --url HOST:PORT (IPv4)\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--api") == 0) {
            if (s_parse_addr(v, &g.api)) {
                fprintf(stderr, "ingest_bench: --api HOST:PORT (IPv4)\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--conns") == 0) {
            g.conns = atoi(v);
        } else if (strcmp(argv[i], "--batch") == 0) {
            g.batch = atoi(v);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            g.seconds = atof(v);
        } else if (strcmp(argv[i], "--rate") == 0) {
            g.rate = atof(v);
        } else if (strcmp(argv[i], "--probe") == 0) {
            g.probe_every = atoi(v);
        } else if (strcmp(argv[i], "--threads") == 0) {
            g.threads = atoi(v);
        } else if (strcmp(argv[i], "--tenant") == 0) {
            g.tenant = v;
        } else {
            fprintf(stderr, "ingest_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    int lat = strcmp(g.mode, "latency") == 0;
    if (!g.url.port || (lat && !g.api.port) || g.conns < 1 || g.conns > S_MAX_CONNS ||
        g.batch < 1 || g.seconds <= 0 || g.rate <= 0 || g.probe_every < 1 || g.threads < 0) {
        fprintf(stderr, "usage: ingest_bench --mode throughput|latency --url HOST:PORT "
                        "[--api HOST:PORT] [--conns N] [--batch B] [--seconds S] [--rate R] "
                        "[--probe K] [--threads T (0: one per connection)] [--tenant T]\n");
        return 2;
    }
    snprintf(g.run, sizeof g.run, "r%lld", (long long)(sl_now_us() % 1000000000));
    g_req_lat = calloc(S_MAX_SAMPLES, sizeof *g_req_lat);
    g_e2e_lat = calloc(S_MAX_SAMPLES, sizeof *g_e2e_lat);
    pthread_t th[S_MAX_CONNS];
    int64_t t0 = sl_mono_us();
    int nth = g.conns;
    if (!lat && g.threads > 0 && g.threads < g.conns) {
        nth = g.threads;
    }
    for (int i = 0; i < nth; i++) {
        pthread_create(&th[i], NULL, lat ? s_lat : (nth < g.conns ? s_thru_many : s_thru),
                       (void *)(intptr_t)i);
    }
    struct timespec ts = {(time_t)g.seconds, (long)((g.seconds - (double)(time_t)g.seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&g_stop, 1);
    double el = (double)(sl_mono_us() - t0) / 1e6;
    for (int i = 0; i < nth; i++) {
        pthread_join(th[i], NULL);
    }
    qsort(g_req_lat, (size_t)g_n_req, sizeof *g_req_lat, s_cmp);
    qsort(g_e2e_lat, (size_t)g_n_e2e, sizeof *g_e2e_lat, s_cmp);
    double load[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) {
            load[0] = -1;
        }
        fclose(f);
    }
    printf("{\"bench\":\"ingest\",\"mode\":\"%s\",\"conns\":%d,\"batch\":%d,\"seconds\":%.2f,"
           "\"events\":%lld,\"requests\":%lld,\"events_per_s\":%.0f,\"requests_per_s\":%.0f,"
           "\"errors\":%lld,\"saturated\":%lld,\"req_p50_ms\":%.3f,\"req_p99_ms\":%.3f",
           g.mode, g.conns, lat ? 1 : g.batch, el, (long long)atomic_load(&g_events),
           (long long)atomic_load(&g_requests), (double)atomic_load(&g_events) / el,
           (double)atomic_load(&g_requests) / el, (long long)atomic_load(&g_errors),
           (long long)atomic_load(&g_429), s_pct(g_req_lat, g_n_req, 0.5),
           s_pct(g_req_lat, g_n_req, 0.99));
    if (lat) {
        printf(",\"rate\":%.0f,\"probes\":%ld,\"e2e_p50_ms\":%.3f,\"e2e_p99_ms\":%.3f", g.rate,
               g_n_e2e, s_pct(g_e2e_lat, g_n_e2e, 0.5), s_pct(g_e2e_lat, g_n_e2e, 0.99));
    }
    printf(",\"load\":[%.2f,%.2f,%.2f]}\n", load[0], load[1], load[2]);
    free(g_req_lat);
    free(g_e2e_lat);
    return 0;
}
