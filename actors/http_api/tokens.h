/*  http_api's token routes (role admin; docs/auth.md "API tokens over
    HTTP"): internal to actors/http_api/.
      GET    /v1/tokens        the tenant's tokens (a platform admin without
                               X-Tenant-ID: every token)
      POST   /v1/tokens        {"role", "name"?, "expires_in"? (seconds)}:
                               a token of the tenant, shown once (201)
      DELETE /v1/tokens/{id}   revoke one of the tenant's tokens (204)
    A tenant admin manages its own tenant's tokens only, and roles up to
    admin: platform-admin tokens are made with the command line only. */
#ifndef SLUICE_HTTP_API_TOKENS_H
#define SLUICE_HTTP_API_TOKENS_H

#include "sluice/http.h"
#include "sluice/store.h"

typedef struct {
    /*  The store (opened when first needed), or NULL with an error in resp. */
    sl_store_t *(*store)(void *arg, sl_http_resp_t *resp);
    void *arg;
    const char *name; /* for log lines */
} sl_api_tokens_t;

/*  Add the routes; t must outlive the server. SL_E* from sl_http_route. */
int sl_api_tokens_route(sl_http_t *h, sl_api_tokens_t *t);

#endif
