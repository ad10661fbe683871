/*  sluice/auth.h: who is calling over HTTP, and what they may do
    (docs/auth.md is the reference).

    Credentials: API tokens (`sluice token create`; the store keeps a keyed
    hash, core/store_tokens.c) and Okta OIDC access tokens (RS256 JWTs,
    core/jwt.c), both as "Authorization: Bearer <credential>". A credential
    grants roles per tenant; the roles are ordered and each includes the
    ones below it:
        reader          queries (the query API)
        writer          events and webhooks (ingest)
        admin           tokens, dead-letter replay, reload
        platform-admin  every role of every tenant
    The tenant of a request comes from its credential; an X-Tenant-ID header
    is accepted only when it names a tenant the credential covers (a
    platform admin chooses any tenant with it).

    Configuration: the topology's `auth` (top level, or an actor's `auth`
    option, which wins), as JSON text:
        "none"                      no credentials at all (local development)
        {"tokens": true,            API tokens from the store (default true)
         "okta": {"issuer": "https://acme.okta.com/oauth2/default",
                  "audience": "api://default",          (default)
                  "jwks_url": "<issuer>/v1/keys",       (default)
                  "roles_claim": "groups",              (default; or "scp", ...)
                  "role_map": {"<claim value>": "acme:reader" | ["acme:writer", ...]
                                                   | "platform-admin"},
                  "clock_skew": "30s",                  (default; at most 5m)
                  "jwks_min_interval": "30s",           (refetch on an unknown kid at
                                                         most this often)
                  "jwks_max_age": "1h",                 (keys are refetched after this)
                  "timeout": "5s"},                     (one JWKS fetch)
         "admin": "local" | "token"}
                                    the admin listener: "local" (default) must
                                    be bound to a loopback address and asks
                                    for no credential; "token": every request
                                    needs a platform-admin credential
    Without any `auth` a listener bound to a loopback address serves
    without credentials (a warning is logged) and any other listener
    refuses to start: exposure to a network is always a decision written
    in the topology.

    Nothing here touches the network unless `okta` is configured. Secrets
    (tokens, JWTs) are never logged, counted or echoed: log lines and
    error bodies carry the token id or the JWT's subject at most. */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stdint.h>

#include "sluice/common.h"

typedef enum {
    SL_ROLE_NONE = 0,
    SL_ROLE_READER = 1,
    SL_ROLE_WRITER = 2,
    SL_ROLE_ADMIN = 3,
    SL_ROLE_PLATFORM = 4, /* platform-admin: every tenant */
} sl_role_t;

/*  "reader", "writer", "admin", "platform-admin" ("none" for 0). */
const char *sl_role_name(sl_role_t role);
/*  The role named `name`; SL_EINVAL if none is. */
int sl_role_parse(const char *name, sl_role_t *role);

#define SL_AUTH_TENANT_MAX 64 /* tenant names: sl_name_ok(t, 64) */
#define SL_AUTH_GRANTS 16     /* grants of one credential (more are refused) */
#define SL_AUTH_PLATFORM "*"  /* the tenant of a platform-admin grant */

typedef struct {
    char tenant[SL_AUTH_TENANT_MAX + 1]; /* SL_AUTH_PLATFORM with SL_ROLE_PLATFORM */
    sl_role_t role;
} sl_grant_t;

typedef enum {
    SL_AUTH_ANON = 0, /* no credential asked (auth none) */
    SL_AUTH_TOKEN,    /* an API token */
    SL_AUTH_JWT,      /* an Okta access token */
    SL_AUTH_WEBHOOK,  /* a webhook's own scheme (signature, URL token) */
} sl_auth_method_t;

/*  Who a credential is, and what it grants. */
typedef struct {
    sl_auth_method_t method;
    char subject[96]; /* "token:<id>" or "okta:<sub>": for logs, never secret */
    int n_grants;
    sl_grant_t grants[SL_AUTH_GRANTS];
} sl_principal_t;

/*  Why a credential or a request was refused: `code` is a short static
    class for metrics labels and the JSON error code ("expired",
    "unknown_token", "forbidden_tenant", ...); `message` is for the client
    and the log (never holds a secret). */
typedef struct {
    const char *code;
    char message[256];
} sl_auth_err_t;

/*  Fill e (may be NULL): code (a static string) and a printf message;
    returns rc. */
int sl_auth_fail(sl_auth_err_t *e, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------------- configuration */

/*  Check the JSON text of an `auth` value at topology load. 0 if good;
    otherwise non-zero with a reason in err and a JSON Pointer to the part
    at fault in where ("" = the whole value), as an actor kind's
    check_option does. */
int sl_auth_config_check(const char *json, char *err, size_t errlen, char *where, size_t wherelen);

typedef struct sl_auth sl_auth_t;

typedef struct {
    const char *config;     /* JSON text of `auth`; NULL: none written */
    const char *store_path; /* the topology's store: API tokens (NULL: none, and
                               then `tokens` cannot be on) */
    const char *name;       /* listener name, for logs and metrics labels */
    int loopback;           /* the listener is bound to a loopback address */
    int admin;              /* this is the admin listener (see "admin") */
} sl_auth_opts_t;

/*  The checks of one listener. NULL with a reason in err: a bad config,
    or a listener that would serve a network without credentials. The
    store (API tokens) is opened at the first token presented, not here
    (the store actor should be its first opener: see sl_store_open). */
sl_auth_t *sl_auth_new(const sl_auth_opts_t *opts, char *err, size_t errlen);
/*  Safe twice; NULLs the pointer. */
void sl_auth_destroy(sl_auth_t **auth);

/*  1 if requests need a credential; 0 for auth none (or the defaults on a
    loopback listener, or a local admin listener). */
int sl_auth_required(const sl_auth_t *auth);
/*  A one-line description of the checks ("API tokens, Okta
    (https://...)", "none"), for the actor's start line. */
const char *sl_auth_describe(const sl_auth_t *auth);

/* ---------------------------------------------------------- requests */

/*  Who presents `authorization` (an Authorization header's value; NULL
    when absent). Thread-safe. Returns
      SL_OK      *who filled (at least one grant)
      SL_EAUTH   no valid credential (answer 401): missing, malformed,
                 unknown, revoked, expired, badly signed, wrong issuer or
                 audience, not yet valid
      SL_EPERM   a valid credential that grants no role here (403)
      SL_EIO     the token store or the key set cannot be read (503)
    with e filled on failure. */
int sl_auth_authenticate(sl_auth_t *auth, const char *authorization, sl_principal_t *who,
                         sl_auth_err_t *e);

/*  May `who` act as `need` on the tenant of this request? `header` is
    the X-Tenant-ID value (NULL when absent). On SL_OK `tenant` (at least
    SL_AUTH_TENANT_MAX + 1 bytes) receives the request's tenant, or "" when
    a platform admin named none. SL_EPERM (403: the role is too low, or
    the header names a tenant the credential does not cover) or SL_EINVAL
    (400: a malformed header, or a credential of several tenants without a
    header to choose) with e filled. Pure. */
int sl_auth_authorize(const sl_principal_t *who, const char *header, sl_role_t need, char *tenant,
                      sl_auth_err_t *e);

/*  Count a refusal in the process metrics
    (sluice_auth_failures_total{listener,status,reason}) and log it, rate
    limited (at most 20 lines a second per listener, the rest summarised).
    `route` is the matched route prefix, never the raw path (a webhook URL
    may carry a secret); `subject` may be NULL. Thread-safe. */
void sl_auth_refused(sl_auth_t *auth, unsigned status, const sl_auth_err_t *e, const char *subject,
                     const char *route);
/*  Count an accepted credential (sluice_auth_ok_total{listener,method}). */
void sl_auth_accepted(sl_auth_t *auth, const sl_principal_t *who);
/*  The listener name given to sl_auth_new. */
const char *sl_auth_name(const sl_auth_t *auth);

/* ---------------------------------------------------------- API tokens */

/*  An API token is "slt_" + 16 hex digits (its id, public: listed, logged)
    + "_" + 43 base64url characters (256 random bits). */
#define SL_TOKEN_PREFIX "slt_"
#define SL_TOKEN_ID_LEN 16
#define SL_TOKEN_LEN (4 + SL_TOKEN_ID_LEN + 1 + 43)

/*  A new random token (NUL-terminated, SL_TOKEN_LEN characters) and its id
    (NUL-terminated hex). SL_ENOMEM if libsodium cannot start. */
int sl_token_generate(char token[SL_TOKEN_LEN + 1], char id[SL_TOKEN_ID_LEN + 1]);
/*  1 with the id copied out if `text` has the shape of a token, else 0. */
int sl_token_shape(const char *text, size_t len, char id[SL_TOKEN_ID_LEN + 1]);

#endif
