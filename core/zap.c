/*  The ZAP handler: one thread with a REP socket on inproc://zeromq.zap.01
    of CZMQ's shared context, answering each CURVE handshake from a policy
    table (domain = tenant -> the tenant's public key). See sluice/zap.h. */
#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/zap.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_LOG_PER_SEC 10 /* refusals logged one by one per second */

typedef struct {
    char tenant[SL_CURVE_TENANT_MAX + 1];
    uint8_t pub[32];
} s_rule_t;

/*  s_life guards starting and stopping (held while the thread starts or
    ends), s_lock the rules (taken by the handler for each request). */
static pthread_mutex_t s_life = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_actor;
static int s_users;
static _Atomic int s_bound; /* set by the handler before it signals */
static s_rule_t *s_rules;
static int s_n_rules;
/* refusal log rate limit (handler thread only) */
static int64_t s_log_second;
static int s_log_count;
static uint64_t s_log_suppressed;

/*  The user id for a CURVE client key on `domain`, or NULL if refused. */
static const char *s_lookup(const char *domain, const uint8_t *key, char *user, size_t len)
{
    const char *found = NULL;
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < s_n_rules && !found; i++) {
        if (strcmp(s_rules[i].tenant, domain) == 0 && memcmp(s_rules[i].pub, key, 32) == 0) {
            snprintf(user, len, "%s", s_rules[i].tenant);
            found = user;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return found;
}

static void s_log_refusal(const char *domain, const char *address, const char *mechanism,
                          const uint8_t *key)
{
    int64_t sec = sl_mono_us() / 1000000;
    if (sec != s_log_second) {
        if (s_log_suppressed) {
            sl_warn("zap", "%llu more CURVE clients refused (not logged one by one)",
                    (unsigned long long)s_log_suppressed);
        }
        s_log_second = sec;
        s_log_count = 0;
        s_log_suppressed = 0;
    }
    if (s_log_count >= S_LOG_PER_SEC) {
        s_log_suppressed++;
        return;
    }
    s_log_count++;
    char txt[41] = "";
    if (key) {
        sl_curve_public_txt(key, txt);
    }
    char dom[SL_CURVE_TENANT_MAX + 1];
    snprintf(dom, sizeof dom, "%s", domain);
    for (char *c = dom; *c; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            *c = '?'; /* the domain is ours, but keep the log line clean */
        }
    }
    if (key) {
        sl_warn("zap", "CURVE client from %s refused on tenant '%s' endpoints: key %s is not %s's",
                address, dom, txt, dom);
    } else {
        sl_warn("zap", "client from %s refused on tenant '%s' endpoints: mechanism %s (CURVE only)",
                address, dom, mechanism);
    }
}

/*  Serve one request; always answer (a handshake waits for it). */
static void s_serve(void *rep)
{
    zmsg_t *req = zmsg_recv(rep);
    if (!req) {
        return;
    }
    char *version = zmsg_popstr(req);
    char *request_id = zmsg_popstr(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    zframe_t *identity = zmsg_pop(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);
    char user[SL_CURVE_TENANT_MAX + 1] = "";
    const char *status = "400", *text = "refused";
    int wellformed = version && strcmp(version, "1.0") == 0 && request_id && domain && address &&
                     mechanism && strlen(domain) <= SL_CURVE_TENANT_MAX;
    int curve = wellformed && strcmp(mechanism, "CURVE") == 0 && key && zframe_size(key) == 32 &&
                zmsg_size(req) == 0;
    if (curve && s_lookup(domain, zframe_data(key), user, sizeof user)) {
        status = "200";
        text = "OK";
    } else {
        sl_metrics_curve_refused(wellformed ? domain : "other");
        s_log_refusal(wellformed ? domain : "?", address ? address : "?",
                      mechanism ? mechanism : "?", curve ? zframe_data(key) : NULL);
        user[0] = '\0';
    }
    zmsg_t *rep_msg = zmsg_new();
    if (rep_msg) {
        zmsg_addstr(rep_msg, "1.0");
        zmsg_addstr(rep_msg, request_id ? request_id : "");
        zmsg_addstr(rep_msg, status);
        zmsg_addstr(rep_msg, text);
        zmsg_addstr(rep_msg, user);
        zmsg_addmem(rep_msg, NULL, 0);
        if (zmsg_send(&rep_msg, rep) != 0) {
            zmsg_destroy(&rep_msg);
        }
    }
    free(version);
    free(request_id);
    free(domain);
    free(address);
    free(mechanism);
    zframe_destroy(&identity);
    zframe_destroy(&key);
    zmsg_destroy(&req);
}

static void s_handler(zsock_t *pipe, void *arg)
{
    (void)arg;
    void *rep = zmq_socket(zsys_init(), ZMQ_REP);
    int linger = 0;
    if (rep) {
        zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    }
    if (!rep || zmq_bind(rep, S_ZAP_ENDPOINT) != 0) {
        sl_error("zap", "cannot bind %s: %s", S_ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        if (rep) {
            zmq_close(rep);
        }
        s_bound = 0;
        zsock_signal(pipe, 1);
        return;
    }
    s_bound = 1;
    zsock_signal(pipe, 0);
    for (;;) {
        zmq_pollitem_t items[2] = {
            {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
            {rep, 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, -1) < 0) {
            continue;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            int term = !cmd || strcmp(cmd, "$TERM") == 0;
            free(cmd);
            if (term) {
                break;
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            s_serve(rep);
        }
    }
    zmq_unbind(rep, S_ZAP_ENDPOINT);
    zmq_close(rep);
}

int sl_zap_start(char *err, size_t errlen)
{
    int rc = SL_OK;
    pthread_mutex_lock(&s_life);
    if (s_users == 0) {
        zsys_init();
        s_bound = 0;
        /*  zactor_new returns once the handler signalled, bound or not:
            the pipe orders its write of s_bound before this read. */
        s_actor = zactor_new(s_handler, NULL);
        if (!s_actor || !s_bound) {
            snprintf(err, errlen, "cannot start the ZAP handler (is %s taken?)", S_ZAP_ENDPOINT);
            zactor_destroy(&s_actor);
            rc = SL_EIO;
        }
    }
    if (rc == SL_OK) {
        s_users++;
    }
    pthread_mutex_unlock(&s_life);
    return rc;
}

void sl_zap_stop(void)
{
    pthread_mutex_lock(&s_life);
    if (s_users > 0 && --s_users == 0) {
        zactor_destroy(&s_actor);
        pthread_mutex_lock(&s_lock);
        free(s_rules);
        s_rules = NULL;
        s_n_rules = 0;
        pthread_mutex_unlock(&s_lock);
    }
    pthread_mutex_unlock(&s_life);
}

int sl_zap_allow(const sl_curve_key_t *keys, int n)
{
    s_rule_t *rules = n > 0 ? calloc((size_t)n, sizeof *rules) : NULL;
    if (n > 0 && !rules) {
        return SL_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        snprintf(rules[i].tenant, sizeof rules[i].tenant, "%s", keys[i].tenant);
        memcpy(rules[i].pub, keys[i].pub, 32);
    }
    pthread_mutex_lock(&s_lock);
    free(s_rules);
    s_rules = rules;
    s_n_rules = n;
    pthread_mutex_unlock(&s_lock);
    return SL_OK;
}

void *sl_zap_context(void)
{
    return zsys_init();
}

int sl_zap_running(void)
{
    pthread_mutex_lock(&s_life);
    int running = s_actor != NULL;
    pthread_mutex_unlock(&s_life);
    return running;
}
