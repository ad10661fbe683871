/*  sluice/admin.h: the admin HTTP listener of a node (libmicrohttpd, its
    own thread):
      GET /metrics   Prometheus text of the metrics registry
      GET /healthz   200 {"status":"ok"} while the process runs, or 503
                     {"status":"unhealthy","reason":"..."} while a
                     component reports itself unhealthy (sl_health_set)
      GET /readyz    200 {"status":"ready"} once metrics->ready is set,
                     else 503 {"status":"starting"} (or "stopping")
    Anything else is 404 {"error":"not found"}; a method other than GET or
    HEAD is 405. Who may ask: see sl_admin_new_auth. */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include "sluice/metrics.h"

typedef struct sl_admin sl_admin_t;

/*  Listen on "host:port" (port 0 = any free port; see sl_admin_port).
    NULL with a logged reason if the address is bad or busy, or is not a
    loopback address (no `auth` given: see sl_admin_new_auth). */
sl_admin_t *sl_admin_new(const char *addr, sl_metrics_t *metrics);
/*  The same with the topology's `auth` (JSON text, NULL: none written)
    and store (API tokens; NULL: none): auth.admin "local" (default)
    needs a loopback address and asks for no credential; "token" asks every
    request for a platform-admin credential (401/403 otherwise, counted
    and logged); auth none serves anyone anywhere. */
sl_admin_t *sl_admin_new_auth(const char *addr, sl_metrics_t *metrics, const char *auth,
                              const char *store_path);
int sl_admin_port(const sl_admin_t *admin);
void sl_admin_destroy(sl_admin_t **admin);

#endif
