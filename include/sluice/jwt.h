/*  sluice/jwt.h: RS256 JSON Web Tokens (Okta access tokens) and the key
    sets (JWKS) that verify them.

    core/jwt.c is the only module that includes OpenSSL (loaded on first
    use, not linked: sl_jwt_load); it fetches key
    sets with the connectors' HTTP client (sluice/httpc.h, which loads
    libcurl when the cache is made: sl_jwks_cache_t). Verification is strict: the
    compact form with three base64url parts and no padding, a header with
    "alg": "RS256" exactly (never "none", never an HMAC that a public key
    could be abused as) and a "kid", no "crit" extensions, JSON without
    duplicate keys, a signature as long as the key's modulus. Claims
    checked: "iss" equal to the issuer, "aud" equal to (or, as an array,
    containing) the audience, "exp" (required) and "nbf" (optional) against
    the clock with the skew allowed, "iat" (required) not in the future
    beyond the skew.

    Errors: SL_OK, or SL_EAUTH with e->code one of "malformed", "bad_alg",
    "unknown_key", "bad_signature", "wrong_issuer", "wrong_audience",
    "expired", "not_yet_valid", "missing_claim"; SL_ENOTFOUND from
    sl_jwt_verify when the key set has no key of the token's kid (the cache
    then refetches); SL_ENOMEM; SL_EIO (a key set cannot be fetched). */
#ifndef SLUICE_JWT_H
#define SLUICE_JWT_H

#include <stdint.h>

#include "sluice/auth.h"
#include "sluice/common.h"

#define SL_JWT_MAX 16384     /* bytes of a token (longer: malformed) */
#define SL_JWT_KID_MAX 128   /* bytes of a kid */
#define SL_JWT_VALUES_MAX 64 /* values of the roles claim kept (more: ignored) */
#define SL_JWT_VALUE_MAX 128 /* bytes of one value (longer: ignored) */
#define SL_JWKS_MAX (1 << 20)
#define SL_JWKS_KEYS_MAX 64

/*  What the checks need. */
typedef struct {
    const char *issuer;
    const char *audience;
    const char *roles_claim; /* claim whose values are kept (NULL: none) */
    int64_t skew_s;          /* clock skew allowed, seconds */
    int64_t now_s;           /* 0: the wall clock */
} sl_jwt_rules_t;

/*  A verified token. */
typedef struct {
    char kid[SL_JWT_KID_MAX + 1];
    char sub[128]; /* "sub" (or "uid"), "" if absent */
    int64_t exp, nbf, iat;
    int n_values; /* of the roles claim: an array of strings, or a string
                     of space-separated values (an OAuth "scope") */
    char values[SL_JWT_VALUES_MAX][SL_JWT_VALUE_MAX + 1];
} sl_jwt_t;

/*  Load libcrypto (once per process; thread-safe): it is not linked, so a
    topology without Okta never maps it. SL_OK, or SL_ENOTFOUND with the
    loader's reason (libcrypto.so.3 missing, or too old). sl_jwks_parse and
    sl_jwks_cache_new call it. */
int sl_jwt_load(char *err, size_t errlen);

/* ------------------------------------------------------------ key sets */

typedef struct sl_jwks sl_jwks_t;

/*  The RSA signing keys of a JWKS document ({"keys": [{"kty": "RSA",
    "kid", "n", "e", "alg"?, "use"?}]}). Keys that are not RSA, are for
    encryption ("use": "enc"), name another alg, have no kid or a modulus
    under 2048 bits are skipped; a document without any usable key, or
    that is not a JWKS, is an error (NULL, reason in err). */
sl_jwks_t *sl_jwks_parse(const char *json, size_t len, char *err, size_t errlen);
int sl_jwks_count(const sl_jwks_t *keys);
void sl_jwks_destroy(sl_jwks_t **keys);

/* ------------------------------------------------------------ tokens */

/*  The kid of a token's header, after checking its shape and header
    (alg, crit); nothing is verified yet. SL_EAUTH with e. */
int sl_jwt_kid(const char *token, size_t len, char kid[SL_JWT_KID_MAX + 1], sl_auth_err_t *e);

/*  Verify the token's signature with `keys` and check its claims against
    rules; fills out. SL_ENOTFOUND when no key has the token's kid.
    Thread-safe (the key set is read-only). */
int sl_jwt_verify(const sl_jwks_t *keys, const char *token, size_t len, const sl_jwt_rules_t *rules,
                  sl_jwt_t *out, sl_auth_err_t *e);

/* ------------------------------------------------------------ cached key sets */

typedef struct sl_jwks_cache sl_jwks_cache_t;

typedef struct {
    const char *url;         /* https://...; http:// only to a loopback host */
    int64_t min_interval_us; /* between two fetches (an unknown kid, a failure) */
    int64_t max_age_us;      /* keys older than this are refetched */
    int64_t timeout_us;      /* of one fetch */
    const char *log_name;    /* for log lines */
} sl_jwks_cache_opts_t;

/*  0 if `url` may serve a key set (https://, or http:// to a loopback
    host); otherwise non-zero with a reason in err. */
int sl_jwks_url_check(const char *url, char *err, size_t errlen);

/*  A key set fetched from opts->url when first needed (never here), then
    again when a token names an unknown kid or the keys are older than
    max_age, at most once per min_interval (a failed fetch keeps the keys
    there are). NULL with a reason (a bad URL). */
sl_jwks_cache_t *sl_jwks_cache_new(const sl_jwks_cache_opts_t *opts, char *err, size_t errlen);
void sl_jwks_cache_destroy(sl_jwks_cache_t **cache);

/*  sl_jwt_verify with the cached keys, fetching as said above. SL_EAUTH
    with "unknown_key" when even fresh keys lack the kid; SL_EIO when there
    are no keys at all and none can be fetched. Thread-safe: a fetch runs
    on the calling thread while other callers verify with the keys there
    are. */
int sl_jwks_cache_verify(sl_jwks_cache_t *cache, const char *token, size_t len,
                         const sl_jwt_rules_t *rules, sl_jwt_t *out, sl_auth_err_t *e);

/*  Fetches attempted so far (tests, metrics). */
uint64_t sl_jwks_cache_fetches(const sl_jwks_cache_t *cache);

/* ------------------------------------------------------------ helpers */

/*  Decode base64url without padding into out (cap bytes); SL_EPROTO on a
    character outside the alphabet, padding, or an impossible length;
    SL_ERANGE if out is too small. */
int sl_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif
