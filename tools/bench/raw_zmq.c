/*  raw_zmq: the ceiling sluice is measured against. Plain libzmq PUSH/PULL,
    one hop, one message per zmq_send, sender and receiver in two threads of
    one process (one libzmq context with its default single I/O thread).

      raw_zmq [--transport inproc|tcp] [--mode thr|lat] [--size BYTES]
              [--count N] [--seconds S] [--rate MSGS_PER_S] [--port PORT]
              [--curve 1]

    --curve 1 (tcp only): the same hop over CurveZMQ, the receiver a CURVE
    server and the sender a client with key pairs made at start (no ZAP
    handler: authentication only costs at the handshake, encryption costs
    per message, which is what this measures).

    thr: the sender sends `count` messages as fast as zmq_send takes them
         (blocking at the high-water mark); the rate is count / (time from
         the first send to the last receive). With --count 0 (default) a
         pilot of 100k messages sizes count so the run lasts about --seconds
         (or more: 1.3 x the pilot estimate).
    lat: the sender sends at a fixed --rate for --seconds, each message
         stamped with CLOCK_MONOTONIC (same process, so one clock); the
         receiver records one-way latency of every message. Reported as
         exact p50/p99/max and, for comparison with sluice's log2 histogram,
         the same quantiles rounded up to a power-of-two microsecond bound.

    Prints one JSON object per line (one result per run). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

typedef struct {
    const char *transport;
    const char *mode;
    size_t size;
    long long count;
    double seconds;
    double rate;
    int port;
    int curve;
    char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
    char endpoint[128];
    void *ctx;
    /* results */
    int64_t first_send_ns;
    int64_t last_recv_ns;
    long long received;
    uint64_t *lat_ns;
    long long n_lat;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int bound;
    void *pull; /* bound once, reused by every run (pilot and measured) */
} s_bench_t;

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void s_die(const char *what)
{
    fprintf(stderr, "raw_zmq: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void *s_receiver(void *arg)
{
    s_bench_t *b = arg;
    void *pull = b->pull; /* handed over by the thread create/join barriers */
    pthread_mutex_lock(&b->lock);
    b->bound = 1;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);

    char *buf = malloc(b->size + 16);
    long long n = 0;
    int lat = strcmp(b->mode, "lat") == 0;
    for (;;) {
        int rc = zmq_recv(pull, buf, b->size + 16, 0);
        if (rc < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            s_die("zmq_recv");
        }
        if (rc == 1) { /* end marker */
            break;
        }
        int64_t now = s_now_ns();
        if (lat) {
            int64_t sent;
            memcpy(&sent, buf, sizeof sent);
            if (b->n_lat < b->count) {
                b->lat_ns[b->n_lat++] = (uint64_t)(now - sent);
            }
        }
        __atomic_store_n(&b->last_recv_ns, now, __ATOMIC_RELEASE);
        n++;
    }
    b->received = n;
    free(buf);
    return NULL;
}

static void s_sleep_until(int64_t t_ns)
{
    struct timespec ts = {.tv_sec = t_ns / 1000000000LL, .tv_nsec = t_ns % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/*  One run: start the receiver, connect, send, send the end marker, join. */
static void s_run(s_bench_t *b)
{
    b->received = 0;
    b->n_lat = 0;
    b->bound = 0;
    b->last_recv_ns = 0;
    pthread_t th;
    pthread_create(&th, NULL, s_receiver, b);
    pthread_mutex_lock(&b->lock);
    while (!b->bound) {
        pthread_cond_wait(&b->cond, &b->lock);
    }
    pthread_mutex_unlock(&b->lock);

    void *push = zmq_socket(b->ctx, ZMQ_PUSH);
    if (!push) {
        s_die("zmq_socket PUSH");
    }
    int linger = -1;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    if (b->curve && (zmq_setsockopt(push, ZMQ_CURVE_SERVERKEY, b->server_pub, 40) != 0 ||
                     zmq_setsockopt(push, ZMQ_CURVE_PUBLICKEY, b->client_pub, 40) != 0 ||
                     zmq_setsockopt(push, ZMQ_CURVE_SECRETKEY, b->client_sec, 40) != 0)) {
        s_die("CURVE client options");
    }
    if (zmq_connect(push, b->endpoint) != 0) {
        s_die("zmq_connect");
    }
    char *msg = malloc(b->size);
    memset(msg, 'x', b->size);
    int lat = strcmp(b->mode, "lat") == 0;
    /* One warm-up message (also completes the TCP handshake), not counted. */
    if (zmq_send(push, msg, b->size, 0) < 0) {
        s_die("zmq_send");
    }
    /* The receiver counts it; it is subtracted below. Wait for it so the
       connection exists before the clock starts. */
    while (__atomic_load_n(&b->last_recv_ns, __ATOMIC_ACQUIRE) == 0) {
        s_sleep_until(s_now_ns() + 100000);
    }
    b->n_lat = 0;
    b->first_send_ns = s_now_ns();
    if (lat) {
        double interval_ns = 1e9 / b->rate;
        for (long long i = 0; i < b->count; i++) {
            int64_t due = b->first_send_ns + (int64_t)((double)i * interval_ns);
            if (s_now_ns() < due) {
                s_sleep_until(due);
            }
            int64_t now = s_now_ns();
            memcpy(msg, &now, sizeof now);
            if (zmq_send(push, msg, b->size, 0) < 0) {
                s_die("zmq_send");
            }
        }
    } else {
        for (long long i = 0; i < b->count; i++) {
            if (zmq_send(push, msg, b->size, 0) < 0) {
                s_die("zmq_send");
            }
        }
    }
    if (zmq_send(push, "E", 1, 0) < 0) {
        s_die("zmq_send end");
    }
    pthread_join(th, NULL);
    b->received -= 1; /* the warm-up message */
    zmq_close(push);
    free(msg);
}

static int s_cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static double s_quantile_us(const uint64_t *v, long long n, double q)
{
    if (n == 0) {
        return 0;
    }
    long long rank = (long long)(q * (double)n + 0.999999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return (double)v[rank - 1] / 1000.0;
}

/*  The upper bound of sluice's log2 bucket holding `us`: 2^ceil(log2 us). */
static unsigned long long s_bucket_us(double us)
{
    unsigned long long b = 1;
    while ((double)b < us) {
        b <<= 1;
    }
    return b;
}

int main(int argc, char **argv)
{
    s_bench_t b = {.transport = "inproc",
                   .mode = "thr",
                   .size = 300,
                   .count = 0,
                   .seconds = 3,
                   .rate = 20000,
                   .port = 0};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "raw_zmq: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--transport") == 0) {
            b.transport = v;
        } else if (strcmp(argv[i], "--mode") == 0) {
            b.mode = v;
        } else if (strcmp(argv[i], "--size") == 0) {
            b.size = (size_t)strtoull(v, NULL, 10);
        } else if (strcmp(argv[i], "--count") == 0) {
            b.count = strtoll(v, NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            b.seconds = strtod(v, NULL);
        } else if (strcmp(argv[i], "--rate") == 0) {
            b.rate = strtod(v, NULL);
        } else if (strcmp(argv[i], "--port") == 0) {
            b.port = atoi(v);
        } else if (strcmp(argv[i], "--curve") == 0) {
            b.curve = atoi(v) != 0;
        } else {
            fprintf(stderr, "raw_zmq: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (b.size < sizeof(int64_t) + 1 || b.seconds <= 0 || b.rate <= 0) {
        fprintf(stderr, "raw_zmq: size must be >= 9, seconds and rate > 0\n");
        return 2;
    }
    if (strcmp(b.transport, "inproc") == 0) {
        snprintf(b.endpoint, sizeof b.endpoint, "inproc://raw-zmq-bench");
    } else if (strcmp(b.transport, "tcp") == 0) {
        if (b.port <= 0) {
            fprintf(stderr, "raw_zmq: tcp needs --port\n");
            return 2;
        }
        snprintf(b.endpoint, sizeof b.endpoint, "tcp://127.0.0.1:%d", b.port);
    } else {
        fprintf(stderr, "raw_zmq: transport is inproc or tcp\n");
        return 2;
    }
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    b.ctx = zmq_ctx_new();
    if (!b.ctx) {
        s_die("zmq_ctx_new");
    }
    b.pull = zmq_socket(b.ctx, ZMQ_PULL);
    if (!b.pull) {
        s_die("zmq_socket PULL");
    }
    if (b.curve) {
        int one = 1;
        if (strcmp(b.transport, "tcp") != 0) {
            fprintf(stderr, "raw_zmq: --curve needs --transport tcp\n");
            return 2;
        }
        if (zmq_curve_keypair(b.server_pub, b.server_sec) != 0 ||
            zmq_curve_keypair(b.client_pub, b.client_sec) != 0 ||
            zmq_setsockopt(b.pull, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
            zmq_setsockopt(b.pull, ZMQ_CURVE_SECRETKEY, b.server_sec, 40) != 0) {
            s_die("CURVE server options");
        }
    }
    if (zmq_bind(b.pull, b.endpoint) != 0) {
        s_die("zmq_bind");
    }

    if (strcmp(b.mode, "thr") == 0) {
        if (b.count <= 0) {
            b.count = 100000;
            s_run(&b);
            double pilot = (double)b.count / ((double)(b.last_recv_ns - b.first_send_ns) / 1e9);
            b.count = (long long)(pilot * b.seconds * 1.3); /* the pilot underestimates */
            if (b.count < 100000) {
                b.count = 100000;
            }
        }
        s_run(&b);
        if (b.received != b.count) {
            fprintf(stderr, "raw_zmq: sent %lld, received %lld\n", b.count, b.received);
            return 1;
        }
        double secs = (double)(b.last_recv_ns - b.first_send_ns) / 1e9;
        printf("{\"bench\":\"raw_zmq\",\"mode\":\"thr\",\"transport\":\"%s\",\"curve\":%d,"
               "\"size\":%zu,\"count\":%lld,\"seconds\":%.4f,\"msgs_per_s\":%.0f}\n",
               b.transport, b.curve, b.size, b.count, secs, (double)b.count / secs);
    } else if (strcmp(b.mode, "lat") == 0) {
        if (b.count <= 0) {
            b.count = (long long)(b.rate * b.seconds);
        }
        b.lat_ns = malloc((size_t)b.count * sizeof *b.lat_ns);
        if (!b.lat_ns) {
            fprintf(stderr, "raw_zmq: out of memory\n");
            return 1;
        }
        s_run(&b);
        qsort(b.lat_ns, (size_t)b.n_lat, sizeof *b.lat_ns, s_cmp_u64);
        double p50 = s_quantile_us(b.lat_ns, b.n_lat, 0.50);
        double p99 = s_quantile_us(b.lat_ns, b.n_lat, 0.99);
        double pmax = b.n_lat ? (double)b.lat_ns[b.n_lat - 1] / 1000.0 : 0;
        double secs = (double)(b.last_recv_ns - b.first_send_ns) / 1e9;
        printf("{\"bench\":\"raw_zmq\",\"mode\":\"lat\",\"transport\":\"%s\",\"curve\":%d,"
               "\"size\":%zu,"
               "\"rate\":%.0f,\"count\":%lld,\"achieved_rate\":%.0f,\"p50_us\":%.1f,"
               "\"p99_us\":%.1f,\"max_us\":%.1f,\"p50_bucket_us\":%llu,\"p99_bucket_us\":%llu}\n",
               b.transport, b.curve, b.size, b.rate, b.n_lat, (double)b.n_lat / secs, p50, p99,
               pmax, s_bucket_us(p50), s_bucket_us(p99));
        free(b.lat_ns);
    } else {
        fprintf(stderr, "raw_zmq: mode is thr or lat\n");
        return 2;
    }
    zmq_close(b.pull);
    zmq_ctx_term(b.ctx);
    return 0;
}
