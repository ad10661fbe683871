/*  Admin HTTP listener on libmicrohttpd. This is the only file that includes
    microhttpd.h; MHD runs its own polling thread, so handlers here run on
    that thread and only read the metrics registry (under its lock) and its
    atomics. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "sluice/admin.h"
#include "sluice/log.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t; /* older MHD callbacks return int */
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define S_CT_JSON "application/json"
#define S_CT_PROM "text/plain; version=0.0.4; charset=utf-8"

struct sl_admin {
    struct MHD_Daemon *daemon;
    sl_metrics_t *metrics;
    int port;
    char addr[128];
};

/*  MHD's own diagnostics (bind failures and the like) go to our log. */
static void s_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    /* MHD messages end in a newline; the log line has its own. */
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
        text[--n] = '\0';
    }
    sl_log(SL_LOG_WARN, "admin", NULL, "libmicrohttpd: %s", text);
}

static MHD_Result_t s_reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                            void *body, size_t len, int must_free)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (must_free) {
            free(body);
        }
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    /* Probes and scrapes must never be answered from a cache. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    MHD_Result_t ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static MHD_Result_t s_reply_json(struct MHD_Connection *conn, unsigned status, const char *json)
{
    /* Static strings: MHD may keep the pointer until the response is sent. */
    return s_reply(conn, status, S_CT_JSON, (void *)json, strlen(json), 0);
}

static MHD_Result_t s_metrics(sl_admin_t *a, struct MHD_Connection *conn)
{
    sl_buf_t b = {0};
    if (a->metrics) {
        int rc = sl_metrics_render(a->metrics, &b);
        if (rc) {
            sl_buf_free(&b);
            sl_log(SL_LOG_ERROR, "admin", NULL, "cannot render metrics: %s", sl_strerror(rc));
            return s_reply_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                "{\"error\":\"cannot render metrics\"}");
        }
    }
    if (b.len == 0) {
        /* MHD frees with free(): never hand it NULL data for a body. */
        sl_buf_free(&b);
        return s_reply(conn, MHD_HTTP_OK, S_CT_PROM, (void *)"", 0, 0);
    }
    return s_reply(conn, MHD_HTTP_OK, S_CT_PROM, b.data, b.len, 1);
}

/*  503 with the first reported reason while a component reports itself
    unhealthy (sl_health_set), e.g. a store refusing writes on a full map. */
static MHD_Result_t s_healthz(struct MHD_Connection *conn)
{
    char reason[SL_HEALTH_REASON + 64];
    if (!sl_health_get(reason, sizeof reason)) {
        return s_reply_json(conn, MHD_HTTP_OK, "{\"status\":\"ok\"}");
    }
    sl_buf_t b = {0};
    int rc = sl_buf_append(&b, "{\"status\":\"unhealthy\",\"reason\":\"", 32);
    if (rc == SL_OK) {
        rc = sl_json_escape(&b, reason, strlen(reason));
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(&b, "\"}", 2);
    }
    if (rc) {
        sl_buf_free(&b);
        return s_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"status\":\"unhealthy\"}");
    }
    return s_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, S_CT_JSON, b.data, b.len, 1);
}

static MHD_Result_t s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
    sl_admin_t *a = cls;
    (void)version;
    (void)upload_data;
    (void)con_cls;

    /* Answering before any request body is read is fine for this API: no
       route takes a body, and MHD closes the connection after such a reply. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_data_size = 0;
        return s_reply_json(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "{\"error\":\"method not allowed\"}");
    }
    if (strcmp(url, "/metrics") == 0) {
        return s_metrics(a, conn);
    }
    if (strcmp(url, "/healthz") == 0) {
        return s_healthz(conn);
    }
    if (strcmp(url, "/readyz") == 0) {
        if (a->metrics && atomic_load(&a->metrics->stopping)) {
            return s_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"status\":\"stopping\"}");
        }
        if (a->metrics && atomic_load(&a->metrics->ready)) {
            return s_reply_json(conn, MHD_HTTP_OK, "{\"status\":\"ready\"}");
        }
        return s_reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"status\":\"starting\"}");
    }
    return s_reply_json(conn, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
}

/*  Split "host:port" or "[v6]:port" and resolve it to one socket address.
    An empty host or "*" means every interface. Numeric ports only. */
static int s_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen,
                        const char **why)
{
    char host[128];
    const char *colon;
    const char *hstart = addr;
    size_t hlen;

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            *why = "expected [ipv6]:port";
            return SL_EINVAL;
        }
        hstart = addr + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) {
            *why = "expected host:port";
            return SL_EINVAL;
        }
        hlen = (size_t)(colon - addr);
        if (memchr(addr, ':', hlen)) {
            *why = "an IPv6 host must be written in brackets";
            return SL_EINVAL;
        }
    }
    if (hlen >= sizeof host) {
        *why = "host name too long";
        return SL_EINVAL;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';

    const char *port = colon + 1;
    char *end = NULL;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno || p < 0 || p > 65535) {
        *why = "port must be a number from 0 to 65535";
        return SL_EINVAL;
    }

    struct addrinfo hints = {0};
    struct addrinfo *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    const char *node = (hlen == 0 || strcmp(host, "*") == 0) ? NULL : host;
    int gai = getaddrinfo(node, port, &hints, &res);
    if (gai != 0 || !res) {
        *why = gai ? gai_strerror(gai) : "no address";
        return SL_EINVAL;
    }
    /* The first answer wins; getaddrinfo orders them by preference. */
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return SL_OK;
}

sl_admin_t *sl_admin_new(const char *addr, sl_metrics_t *metrics)
{
    sl_admin_t *a = NULL;
    const char *why = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;

    if (!addr) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "no admin address given");
        goto fail;
    }
    if (s_parse_addr(addr, &ss, &sslen, &why) != SL_OK) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "bad admin address \"%s\": %s", addr, why);
        goto fail;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        sl_log(SL_LOG_ERROR, "admin", NULL, "admin listener: %s", sl_strerror(SL_ENOMEM));
        goto fail;
    }
    a->metrics = metrics;
    snprintf(a->addr, sizeof a->addr, "%s", addr);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    a->daemon =
        MHD_start_daemon(flags, port, NULL, NULL, s_handle, a,
                         /* first, or MHD logs the options before it to stderr */
                         MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!a->daemon) {
        sl_log(SL_LOG_ERROR, "admin", NULL,
               "cannot listen on \"%s\": address busy, not local, or not permitted", addr);
        goto fail;
    }

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : port;
    if (a->port == 0) {
        /* Older MHD without BIND_PORT: ask the socket itself. */
        info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        struct sockaddr_storage bound;
        socklen_t blen = sizeof bound;
        if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0) {
            a->port = bound.ss_family == AF_INET6
                          ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
        }
    }
    sl_log(SL_LOG_INFO, "admin", NULL, "admin listener on %s (port %d)", addr, a->port);
    return a;

fail:
    free(a);
    return NULL;
}

int sl_admin_port(const sl_admin_t *admin)
{
    return admin ? admin->port : 0;
}

void sl_admin_destroy(sl_admin_t **padmin)
{
    if (!padmin || !*padmin) {
        return;
    }
    sl_admin_t *a = *padmin;
    if (a->daemon) {
        /* Joins MHD's thread: no handler runs after this returns. */
        MHD_stop_daemon(a->daemon);
    }
    free(a);
    *padmin = NULL;
}
