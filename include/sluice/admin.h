/*  sluice/admin.h: the admin HTTP listener of a node (libmicrohttpd, its
    own thread):
      GET /metrics   Prometheus text of the metrics registry
      GET /healthz   200 {"status":"ok"} while the process runs, or 503
                     {"status":"unhealthy","reason":"..."} while a
                     component reports itself unhealthy (sl_health_set)
      GET /readyz    200 {"status":"ready"} once metrics->ready is set,
                     else 503 {"status":"starting"} (or "stopping")
    Anything else is 404 {"error":"not found"}; a method other than GET or
    HEAD is 405. */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include "sluice/metrics.h"

typedef struct sl_admin sl_admin_t;

/*  Listen on "host:port" (port 0 = any free port; see sl_admin_port).
    NULL with a logged reason if the address is bad or busy. */
sl_admin_t *sl_admin_new(const char *addr, sl_metrics_t *metrics);
int sl_admin_port(const sl_admin_t *admin);
void sl_admin_destroy(sl_admin_t **admin);

#endif
