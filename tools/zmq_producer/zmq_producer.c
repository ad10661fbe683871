/*  zmq_producer: push events to a zmq_ingest actor over CurveZMQ and wait
    for each acknowledgement (docs/zmq_ingest.md).

      zmq_producer --endpoint tcp://HOST:PORT --keys DIR --tenant T
                   [--server-key Z85] [--batch N] [--msgpack] [--window W]
                   [--timeout MS] [--push] [FILE]

    Reads events as JSON, one per line, from FILE (default stdin). Each
    request carries --batch lines (default 1): as NDJSON, or with --msgpack
    as one msgpack array of envelopes (ids assigned here when a line has
    none). Up to --window requests are in flight (default 1); each reply is
    printed as one line, the JSON zmq_ingest sent:
      {"accepted":N,"ids":[...]} or {"error":{"code","message","index"}}

    The key pair is tenant T's from DIR (as sluice keygen wrote it). The
    server is authenticated by T's public key too (zmq_ingest listens for
    each tenant with that tenant's key) unless --server-key gives another
    one. --push sends the events as one PUSH message instead, with no
    reply: what a link between nodes carries (tests use it to knock on a
    link's door).

    Exit status: 0 every request accepted (--push: sent over an
    authenticated connection), 1 some request refused, 2 usage, 3 the
    server refused this key (CURVE/ZAP), 4 no answer within --timeout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "sluice/curve.h"
#include "sluice/event.h"

#define S_MON "inproc://zmq-producer-monitor"

typedef struct {
    const char *endpoint, *keys, *tenant, *server_key, *file;
    long batch, window, timeout_ms;
    int msgpack, push;
    void *ctx, *sock, *mon;
    int handshake; /* 0 unknown, 1 succeeded, -1 refused (auth), -2 failed */
} s_prod_t;

static int s_usage(const char *why)
{
    fprintf(stderr,
            "zmq_producer: %s\n"
            "usage: zmq_producer --endpoint tcp://HOST:PORT --keys DIR --tenant T\n"
            "                    [--server-key Z85] [--batch N] [--msgpack] [--window W]\n"
            "                    [--timeout MS] [--push] [FILE]\n",
            why);
    return 2;
}

/*  Read the monitor's news: handshake success or refusal. */
static void s_monitor(s_prod_t *p)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, p->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= 2) {
            memcpy(&id, zmq_msg_data(&ev), 2);
        }
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, p->mon, 0);
        zmq_msg_close(&addr);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            p->handshake = 1;
        } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            p->handshake = -1;
        } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            p->handshake = p->handshake ? p->handshake : -2;
        }
    }
}

static int s_refused(s_prod_t *p)
{
    fprintf(stderr, "zmq_producer: %s refused the key of tenant '%s' (CURVE handshake %s)\n",
            p->endpoint, p->tenant,
            p->handshake == -1 ? "denied by the server's ZAP handler" : "failed");
    return 3;
}

/*  Append one JSON line to a request body. */
static int s_add(s_prod_t *p, sl_buf_t *body, sl_buf_t *scratch, const char *line, size_t len,
                 uint32_t *count)
{
    if (!p->msgpack && !p->push) {
        int rc = body->len ? sl_buf_append(body, "\n", 1) : SL_OK;
        rc = rc ? rc : sl_buf_append(body, line, len);
        (*count)++;
        return rc;
    }
    char err[256] = "";
    sl_event_t ev;
    if (sl_event_from_json(line, len, &ev, scratch, err, sizeof err) != SL_OK) {
        fprintf(stderr, "zmq_producer: line is not an event: %s\n", err);
        return SL_EPROTO;
    }
    if (body->len == 0 && sl_batch_begin(body) != SL_OK) {
        return SL_ENOMEM;
    }
    (*count)++;
    return sl_event_encode(&ev, body);
}

/*  Wait for one reply (or the monitor's refusal): 0 accepted, 1 refused
    request, 3 key refused, 4 timeout. */
static int s_wait_reply(s_prod_t *p)
{
    int64_t left = p->timeout_ms;
    while (left > 0) {
        zmq_pollitem_t items[2] = {{p->sock, 0, ZMQ_POLLIN, 0}, {p->mon, 0, ZMQ_POLLIN, 0}};
        long step = left > 100 ? 100 : (long)left;
        if (zmq_poll(items, 2, step) < 0 && zmq_errno() != EINTR) {
            return 4;
        }
        left -= step;
        if (items[1].revents & ZMQ_POLLIN) {
            s_monitor(p);
            if (p->handshake < 0) {
                return s_refused(p);
            }
        }
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_t id, reply;
            zmq_msg_init(&id);
            zmq_msg_init(&reply);
            zmq_msg_recv(&id, p->sock, 0);
            if (zmq_msg_more(&id)) {
                zmq_msg_recv(&reply, p->sock, 0);
            } else {
                zmq_msg_move(&reply, &id);
            }
            const char *txt = zmq_msg_data(&reply);
            size_t n = zmq_msg_size(&reply);
            printf("%.*s\n", (int)n, txt);
            fflush(stdout);
            int ok = n > 12 && strncmp(txt, "{\"accepted\":", 12) == 0;
            zmq_msg_close(&id);
            zmq_msg_close(&reply);
            return ok ? 0 : 1;
        }
    }
    fprintf(stderr, "zmq_producer: no answer from %s within %ld ms\n", p->endpoint, p->timeout_ms);
    return 4;
}

static int s_send(s_prod_t *p, sl_buf_t *body, uint32_t count, long seq)
{
    if ((p->msgpack || p->push) && body->len) {
        sl_batch_end(body, count);
    }
    if (!p->push) {
        char id[32];
        int il = snprintf(id, sizeof id, "%ld", seq);
        if (zmq_send(p->sock, id, (size_t)il, ZMQ_SNDMORE) < 0) {
            return -1;
        }
    }
    return zmq_send(p->sock, body->data, body->len, 0) < 0 ? -1 : 0;
}

static int s_open(s_prod_t *p)
{
    sl_curve_key_t key;
    char err[1024];
    if (sl_curve_key_load(p->keys, p->tenant, &key, err, sizeof err) != SL_OK) {
        fprintf(stderr, "zmq_producer: %s\n", err);
        return 2;
    }
    p->ctx = zmq_ctx_new();
    p->sock = zmq_socket(p->ctx, p->push ? ZMQ_PUSH : ZMQ_DEALER);
    int rc = sl_curve_client(p->sock, &key);
    sl_curve_key_wipe(&key);
    if (rc == SL_OK && p->server_key) {
        uint8_t sk[32];
        if (strlen(p->server_key) != 40 || !zmq_z85_decode(sk, p->server_key)) {
            fprintf(stderr, "zmq_producer: --server-key is not a Z85 public key (40 chars)\n");
            return 2;
        }
        rc = zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, sk, 32) == 0 ? SL_OK : SL_EIO;
    }
    int linger = (int)p->timeout_ms, ipv6 = strstr(p->endpoint, "://[") != NULL;
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(p->sock, ZMQ_IPV6, &ipv6, sizeof ipv6);
    if (rc != SL_OK ||
        zmq_socket_monitor(p->sock, S_MON,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
        fprintf(stderr, "zmq_producer: socket setup: %s\n", zmq_strerror(zmq_errno()));
        return 2;
    }
    p->mon = zmq_socket(p->ctx, ZMQ_PAIR);
    if (zmq_connect(p->mon, S_MON) != 0 || zmq_connect(p->sock, p->endpoint) != 0) {
        fprintf(stderr, "zmq_producer: connect %s: %s\n", p->endpoint, zmq_strerror(zmq_errno()));
        return 2;
    }
    return 0;
}

/*  --push: wait for the handshake's outcome, then send and let linger
    deliver. */
static int s_push(s_prod_t *p, sl_buf_t *body, uint32_t count)
{
    for (long left = p->timeout_ms; left > 0 && p->handshake == 0; left -= 100) {
        zmq_pollitem_t item = {p->mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) > 0) {
            s_monitor(p);
        }
    }
    if (p->handshake < 0) {
        return s_refused(p);
    }
    if (p->handshake == 0) {
        fprintf(stderr, "zmq_producer: no handshake with %s within %ld ms\n", p->endpoint,
                p->timeout_ms);
        return 4;
    }
    if (count && s_send(p, body, count, 0) != 0) {
        fprintf(stderr, "zmq_producer: send: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("{\"pushed\":%u}\n", count);
    return 0;
}

int main(int argc, char **argv)
{
    s_prod_t p = {.batch = 1, .window = 1, .timeout_ms = 10000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--msgpack") == 0) {
            p.msgpack = 1;
        } else if (strcmp(a, "--push") == 0) {
            p.push = 1;
        } else if (a[0] == '-' && a[1] == '-' && !v) {
            return s_usage("an option needs a value");
        } else if (strcmp(a, "--endpoint") == 0) {
            p.endpoint = argv[++i];
        } else if (strcmp(a, "--keys") == 0) {
            p.keys = argv[++i];
        } else if (strcmp(a, "--tenant") == 0) {
            p.tenant = argv[++i];
        } else if (strcmp(a, "--server-key") == 0) {
            p.server_key = argv[++i];
        } else if (strcmp(a, "--batch") == 0) {
            p.batch = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--window") == 0) {
            p.window = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "--timeout") == 0) {
            p.timeout_ms = strtol(argv[++i], NULL, 10);
        } else if (a[0] == '-' && a[1]) {
            return s_usage("unknown option");
        } else {
            p.file = a;
        }
    }
    if (!p.endpoint || !p.keys || !p.tenant) {
        return s_usage("--endpoint, --keys and --tenant are required");
    }
    if (p.batch < 1 || p.window < 1 || p.timeout_ms < 1) {
        return s_usage("--batch, --window and --timeout must be >= 1");
    }
    FILE *in = p.file && strcmp(p.file, "-") != 0 ? fopen(p.file, "r") : stdin;
    if (!in) {
        fprintf(stderr, "zmq_producer: %s: %s\n", p.file, strerror(errno));
        return 2;
    }
    int rc = s_open(&p);
    sl_buf_t body = {0}, scratch = {0};
    char *line = NULL;
    size_t cap = 0;
    long seq = 0, inflight = 0;
    uint32_t count = 0;
    int worst = 0;
    ssize_t n;
    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            n--;
        }
        if (n == 0) {
            continue;
        }
        if (s_add(&p, &body, &scratch, line, (size_t)n, &count) != SL_OK) {
            rc = 2;
            break;
        }
        if (p.push || count < (uint32_t)p.batch) {
            continue;
        }
        if (s_send(&p, &body, count, seq++) != 0) {
            rc = 4;
            break;
        }
        sl_buf_reset(&body);
        count = 0;
        if (++inflight >= p.window) {
            int r = s_wait_reply(&p);
            inflight--;
            worst = r > worst ? r : worst;
            rc = r >= 3 ? r : 0;
        }
    }
    if (rc == 0 && p.push) {
        rc = s_push(&p, &body, count);
    } else if (rc == 0 && count > 0) {
        rc = s_send(&p, &body, count, seq++) != 0 ? 4 : 0;
        inflight += rc == 0;
    }
    while (rc == 0 && inflight > 0) {
        int r = s_wait_reply(&p);
        inflight--;
        worst = r > worst ? r : worst;
        rc = r >= 3 ? r : 0;
    }
    if (rc == 0) {
        rc = worst;
    }
    free(line);
    sl_buf_free(&body);
    sl_buf_free(&scratch);
    if (in != stdin) {
        fclose(in);
    }
    if (p.sock) {
        /* a refused or silent server: nothing more to deliver */
        if (rc >= 3) {
            int zero = 0;
            zmq_setsockopt(p.sock, ZMQ_LINGER, &zero, sizeof zero);
        }
        zmq_socket_monitor(p.sock, NULL, 0);
        zmq_close(p.sock);
    }
    if (p.mon) {
        zmq_close(p.mon);
    }
    if (p.ctx) {
        zmq_ctx_term(p.ctx);
    }
    return rc;
}
