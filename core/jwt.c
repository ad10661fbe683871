/*  RS256 JWTs and JWKS key sets (see sluice/jwt.h): the only module that
    includes OpenSSL. Key sets are fetched with the HTTP client of
    connectors (core/httpc.c, libcurl loaded on first use), rarely: at the
    first token, on an unknown kid and when they are old, never more often
    than min_interval, so a flood of tokens with made-up kids cannot turn
    into a flood of requests to the identity provider. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "sluice/dl.h"
#include "sluice/httpc.h"
#include "sluice/jwt.h"
#include "sluice/log.h"

#define S_MIN_BITS 2048
#define S_MAX_SIG 1024 /* bytes: an 8192-bit modulus */

/*  libcrypto is loaded when first needed (an Okta key set), not linked: a
    topology without Okta never maps it (idle memory, docs/performance.md;
    the same reasoning as core/httpc.c for libcurl). The openssl headers give the
    types and constants, stable across the soname libcrypto.so.3; only the
    functions below are resolved, once, into s_c. */
#define S_LIBCRYPTO "libcrypto.so.3" /* Debian 12: package libssl3 */

typedef struct {
    __typeof__(&OSSL_PARAM_BLD_new) OSSL_PARAM_BLD_new;
    __typeof__(&BN_bin2bn) BN_bin2bn;
    __typeof__(&OSSL_PARAM_BLD_push_BN) OSSL_PARAM_BLD_push_BN;
    __typeof__(&OSSL_PARAM_BLD_to_param) OSSL_PARAM_BLD_to_param;
    __typeof__(&EVP_PKEY_CTX_new_from_name) EVP_PKEY_CTX_new_from_name;
    __typeof__(&EVP_PKEY_fromdata_init) EVP_PKEY_fromdata_init;
    __typeof__(&EVP_PKEY_fromdata) EVP_PKEY_fromdata;
    __typeof__(&EVP_PKEY_free) EVP_PKEY_free;
    __typeof__(&EVP_PKEY_CTX_free) EVP_PKEY_CTX_free;
    __typeof__(&OSSL_PARAM_free) OSSL_PARAM_free;
    __typeof__(&OSSL_PARAM_BLD_free) OSSL_PARAM_BLD_free;
    __typeof__(&BN_free) BN_free;
    __typeof__(&EVP_MD_fetch) EVP_MD_fetch;
    __typeof__(&EVP_MD_free) EVP_MD_free;
    __typeof__(&EVP_PKEY_get_size) EVP_PKEY_get_size;
    __typeof__(&EVP_MD_CTX_new) EVP_MD_CTX_new;
    __typeof__(&EVP_DigestVerifyInit) EVP_DigestVerifyInit;
    __typeof__(&EVP_DigestVerify) EVP_DigestVerify;
    __typeof__(&EVP_MD_CTX_free) EVP_MD_CTX_free;
} s_crypto_t;

#define S_SYM(f) #f, offsetof(s_crypto_t, f)
static const sl_dl_sym_t s_crypto_syms[] = {
    {S_SYM(OSSL_PARAM_BLD_new)},
    {S_SYM(BN_bin2bn)},
    {S_SYM(OSSL_PARAM_BLD_push_BN)},
    {S_SYM(OSSL_PARAM_BLD_to_param)},
    {S_SYM(EVP_PKEY_CTX_new_from_name)},
    {S_SYM(EVP_PKEY_fromdata_init)},
    {S_SYM(EVP_PKEY_fromdata)},
    {S_SYM(EVP_PKEY_free)},
    {S_SYM(EVP_PKEY_CTX_free)},
    {S_SYM(OSSL_PARAM_free)},
    {S_SYM(OSSL_PARAM_BLD_free)},
    {S_SYM(BN_free)},
    {S_SYM(EVP_MD_fetch)},
    {S_SYM(EVP_MD_free)},
    {S_SYM(EVP_PKEY_get_size)},
    {S_SYM(EVP_MD_CTX_new)},
    {S_SYM(EVP_DigestVerifyInit)},
    {S_SYM(EVP_DigestVerify)},
    {S_SYM(EVP_MD_CTX_free)},
};

static s_crypto_t s_c;
static pthread_once_t s_crypto_once = PTHREAD_ONCE_INIT;
static int s_crypto_rc = SL_ENOTFOUND;
static char s_crypto_err[256];

static void s_crypto_load(void)
{
    s_crypto_rc = sl_dl_open(S_LIBCRYPTO, "libssl3", s_crypto_syms,
                             sizeof s_crypto_syms / sizeof s_crypto_syms[0], &s_c, s_crypto_err,
                             sizeof s_crypto_err);
}

int sl_jwt_load(char *err, size_t errlen)
{
    pthread_once(&s_crypto_once, s_crypto_load);
    if (s_crypto_rc != SL_OK && err && errlen) {
        snprintf(err, errlen, "%s", s_crypto_err);
    }
    return s_crypto_rc;
}

struct sl_jwks {
    int n;
    char kid[SL_JWKS_KEYS_MAX][SL_JWT_KID_MAX + 1];
    EVP_PKEY *key[SL_JWKS_KEYS_MAX];
};

int sl_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t n = 0;
    const char *end = NULL;
    if (!in || !out) {
        return SL_EINVAL;
    }
    if (sodium_init() < 0) {
        return SL_ENOMEM;
    }
    if (len % 4 == 1) {
        return SL_EPROTO;
    }
    if ((len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0) > cap) {
        return SL_ERANGE;
    }
    /*  libsodium rejects padding, characters outside the alphabet and
        non-zero leftover bits: one encoding per value. */
    if (sodium_base642bin(out, cap, in, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != in + len) {
        return SL_EPROTO;
    }
    if (outlen) {
        *outlen = n;
    }
    return SL_OK;
}

/*  A base64url text into a new buffer. */
static uint8_t *s_b64_dup(const char *in, size_t len, size_t *outlen)
{
    size_t cap = len / 4 * 3 + 3;
    uint8_t *out = malloc(cap + 1);
    if (!out) {
        return NULL;
    }
    if (sl_base64url_decode(in, len, out, cap, outlen) != SL_OK) {
        free(out);
        return NULL;
    }
    out[*outlen] = '\0';
    return out;
}

/* ------------------------------------------------------------ key sets */

static EVP_PKEY *s_rsa_key(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = s_c.OSSL_PARAM_BLD_new();
    BIGNUM *bn = s_c.BN_bin2bn(n, (int)nlen, NULL), *be = s_c.BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!bld || !bn || !be || !s_c.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !s_c.OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        !(params = s_c.OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = s_c.EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        s_c.EVP_PKEY_fromdata_init(ctx) <= 0 ||
        s_c.EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        s_c.EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    s_c.EVP_PKEY_CTX_free(ctx);
    s_c.OSSL_PARAM_free(params);
    s_c.OSSL_PARAM_BLD_free(bld);
    s_c.BN_free(bn);
    s_c.BN_free(be);
    return pkey;
}

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/*  One JWK: 1 if added, 0 if skipped. */
static int s_jwk(sl_jwks_t *ks, json_t *k)
{
    const char *kty = s_str(k, "kty"), *kid = s_str(k, "kid"), *use = s_str(k, "use");
    const char *alg = s_str(k, "alg"), *n = s_str(k, "n"), *e = s_str(k, "e");
    if (!kty || strcmp(kty, "RSA") != 0 || !kid || !*kid || strlen(kid) > SL_JWT_KID_MAX || !n ||
        !e || (use && strcmp(use, "sig") != 0) || (alg && strcmp(alg, "RS256") != 0) ||
        ks->n >= SL_JWKS_KEYS_MAX) {
        return 0;
    }
    for (int i = 0; i < ks->n; i++) {
        if (strcmp(ks->kid[i], kid) == 0) {
            return 0; /* the first key of a kid wins */
        }
    }
    size_t nl = 0, el = 0;
    uint8_t *nb = s_b64_dup(n, strlen(n), &nl), *eb = s_b64_dup(e, strlen(e), &el);
    int added = 0;
    if (nb && eb && nl > 0 && el > 0 && el <= 8) {
        size_t skip = 0;
        while (skip < nl && nb[skip] == 0) {
            skip++;
        }
        if ((nl - skip) * 8 >= S_MIN_BITS && (nl - skip) <= S_MAX_SIG) {
            EVP_PKEY *pkey = s_rsa_key(nb + skip, nl - skip, eb, el);
            if (pkey) {
                snprintf(ks->kid[ks->n], sizeof ks->kid[ks->n], "%s", kid);
                ks->key[ks->n++] = pkey;
                added = 1;
            }
        }
    }
    free(nb);
    free(eb);
    return added;
}

sl_jwks_t *sl_jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    sl_jwks_t *ks = NULL;
    json_t *root = NULL;
    if (!json || len == 0 || len > SL_JWKS_MAX) {
        snprintf(err, errlen, "key set: empty or larger than %d bytes", SL_JWKS_MAX);
        return NULL;
    }
    if (sl_jwt_load(err, errlen) != SL_OK) {
        return NULL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errlen, "key set: not a JWKS document (no \"keys\" array)");
        goto fail;
    }
    if (!(ks = calloc(1, sizeof *ks))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        if (json_is_object(k)) {
            s_jwk(ks, k);
        }
    }
    if (ks->n == 0) {
        snprintf(err, errlen,
                 "key set: no usable key (RSA, for signatures, RS256, a kid, >= %d bits)",
                 S_MIN_BITS);
        goto fail;
    }
    json_decref(root);
    return ks;
fail:
    sl_jwks_destroy(&ks);
    json_decref(root);
    return NULL;
}

int sl_jwks_count(const sl_jwks_t *keys)
{
    return keys ? keys->n : 0;
}

void sl_jwks_destroy(sl_jwks_t **pks)
{
    if (!pks || !*pks) {
        return;
    }
    for (int i = 0; i < (*pks)->n; i++) {
        s_c.EVP_PKEY_free((*pks)->key[i]);
    }
    free(*pks);
    *pks = NULL;
}

/* ------------------------------------------------------------ tokens */

typedef struct {
    const char *h, *p, *s; /* the three parts */
    size_t hl, pl, sl;
    json_t *header;
} s_parts_t;

static int s_split(const char *tok, size_t len, s_parts_t *x, sl_auth_err_t *e)
{
    memset(x, 0, sizeof *x);
    if (!tok || len == 0 || len > SL_JWT_MAX) {
        return sl_auth_fail(e, SL_EAUTH, "malformed", "not a JWT (empty or longer than %d bytes)",
                            SL_JWT_MAX);
    }
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok))) {
        return sl_auth_fail(e, SL_EAUTH, "malformed",
                            "not a JWT (expected three dot-separated parts)");
    }
    x->h = tok;
    x->hl = (size_t)(d1 - tok);
    x->p = d1 + 1;
    x->pl = (size_t)(d2 - x->p);
    x->s = d2 + 1;
    x->sl = len - (size_t)(x->s - tok);
    if (x->hl == 0 || x->pl == 0 || x->sl == 0) {
        return sl_auth_fail(e, SL_EAUTH, "malformed", "not a JWT (an empty part)");
    }
    size_t n = 0;
    uint8_t *hb = s_b64_dup(x->h, x->hl, &n);
    if (!hb) {
        return sl_auth_fail(e, SL_EAUTH, "malformed", "JWT header: not base64url");
    }
    json_error_t je;
    x->header = json_loadb((const char *)hb, n, JSON_REJECT_DUPLICATES, &je);
    free(hb);
    if (!json_is_object(x->header)) {
        json_decref(x->header);
        x->header = NULL;
        return sl_auth_fail(e, SL_EAUTH, "malformed", "JWT header: not a JSON object");
    }
    const char *alg = s_str(x->header, "alg");
    if (!alg || strcmp(alg, "RS256") != 0) {
        json_decref(x->header);
        x->header = NULL;
        return sl_auth_fail(e, SL_EAUTH, "bad_alg", "JWT: alg must be RS256");
    }
    if (json_object_get(x->header, "crit")) {
        json_decref(x->header);
        x->header = NULL;
        return sl_auth_fail(e, SL_EAUTH, "malformed",
                            "JWT: critical header extensions are not supported");
    }
    const char *kid = s_str(x->header, "kid");
    if (!kid || !*kid || strlen(kid) > SL_JWT_KID_MAX) {
        json_decref(x->header);
        x->header = NULL;
        return sl_auth_fail(e, SL_EAUTH, "malformed", "JWT header: missing or overlong kid");
    }
    return SL_OK;
}

int sl_jwt_kid(const char *token, size_t len, char kid[SL_JWT_KID_MAX + 1], sl_auth_err_t *e)
{
    s_parts_t x;
    int rc = s_split(token, len, &x, e);
    if (rc) {
        return rc;
    }
    snprintf(kid, SL_JWT_KID_MAX + 1, "%s", s_str(x.header, "kid"));
    json_decref(x.header);
    return SL_OK;
}

/*  A NumericDate claim: 1 with *out if present and a number, 0 if absent,
    -1 if present but not a number. */
static int s_date(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (!v) {
        return 0;
    }
    if (!json_is_number(v)) {
        return -1;
    }
    double d = json_number_value(v);
    if (!(d > -1e15 && d < 1e15)) {
        return -1;
    }
    *out = (int64_t)d;
    return 1;
}

static void s_value(sl_jwt_t *out, const char *v, size_t len)
{
    if (len == 0 || len > SL_JWT_VALUE_MAX || out->n_values >= SL_JWT_VALUES_MAX) {
        return;
    }
    memcpy(out->values[out->n_values], v, len);
    out->values[out->n_values][len] = '\0';
    out->n_values++;
}

static void s_values(json_t *claim, sl_jwt_t *out)
{
    if (json_is_array(claim)) {
        size_t i;
        json_t *v;
        json_array_foreach(claim, i, v)
        {
            if (json_is_string(v)) {
                s_value(out, json_string_value(v), json_string_length(v));
            }
        }
    } else if (json_is_string(claim)) {
        const char *p = json_string_value(claim);
        while (*p) {
            size_t n = strcspn(p, " ");
            s_value(out, p, n);
            p += n;
            p += strspn(p, " ");
        }
    }
}

static int s_claims(json_t *c, const sl_jwt_rules_t *r, sl_jwt_t *out, sl_auth_err_t *e)
{
    const char *iss = s_str(c, "iss");
    if (!iss || !r->issuer || strcmp(iss, r->issuer) != 0) {
        return sl_auth_fail(e, SL_EAUTH, "wrong_issuer", "JWT: iss is not the configured issuer");
    }
    json_t *aud = json_object_get(c, "aud");
    int aud_ok = 0;
    if (json_is_string(aud)) {
        aud_ok = r->audience && strcmp(json_string_value(aud), r->audience) == 0;
    } else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a)
        {
            if (json_is_string(a) && r->audience &&
                strcmp(json_string_value(a), r->audience) == 0) {
                aud_ok = 1;
            }
        }
    }
    if (!aud_ok) {
        return sl_auth_fail(e, SL_EAUTH, "wrong_audience",
                            "JWT: aud is not the configured audience");
    }
    int64_t now = r->now_s ? r->now_s : sl_now_us() / 1000000;
    int64_t skew = r->skew_s > 0 ? r->skew_s : 0;
    int has_exp = s_date(c, "exp", &out->exp), has_iat = s_date(c, "iat", &out->iat);
    int has_nbf = s_date(c, "nbf", &out->nbf);
    if (has_exp != 1 || has_iat != 1 || has_nbf < 0) {
        return sl_auth_fail(e, SL_EAUTH, "missing_claim",
                            "JWT: exp and iat must be present as numbers (and nbf, if present)");
    }
    if (now > out->exp + skew) {
        return sl_auth_fail(e, SL_EAUTH, "expired", "JWT: expired");
    }
    if (has_nbf == 1 && now + skew < out->nbf) {
        return sl_auth_fail(e, SL_EAUTH, "not_yet_valid", "JWT: not valid yet (nbf)");
    }
    if (now + skew < out->iat) {
        return sl_auth_fail(e, SL_EAUTH, "not_yet_valid", "JWT: issued in the future (iat)");
    }
    const char *sub = s_str(c, "sub");
    if (!sub) {
        sub = s_str(c, "uid");
    }
    snprintf(out->sub, sizeof out->sub, "%s", sub ? sub : "");
    if (r->roles_claim) {
        s_values(json_object_get(c, r->roles_claim), out);
    }
    return SL_OK;
}

/*  SHA-256 fetched once: OpenSSL 3 looks an EVP_sha256() up in its
    provider tables at every init otherwise (docs/RATIONALE.md "Auth"). */
static pthread_once_t s_md_once = PTHREAD_ONCE_INIT;
static EVP_MD *s_sha256;

static void s_md_init(void)
{
    if (sl_jwt_load(NULL, 0) == SL_OK) {
        s_sha256 = s_c.EVP_MD_fetch(NULL, "SHA256", NULL);
    }
}

__attribute__((destructor)) static void s_md_free(void)
{
    if (s_sha256) {
        s_c.EVP_MD_free(s_sha256);
        s_sha256 = NULL;
    }
}

static int s_find(const sl_jwks_t *ks, const char *kid)
{
    for (int i = 0; ks && i < ks->n; i++) {
        if (strcmp(ks->kid[i], kid) == 0) {
            return i;
        }
    }
    return -1;
}

int sl_jwt_verify(const sl_jwks_t *keys, const char *token, size_t len, const sl_jwt_rules_t *rules,
                  sl_jwt_t *out, sl_auth_err_t *e)
{
    s_parts_t x;
    uint8_t sig[S_MAX_SIG];
    size_t sl = 0;
    json_t *claims = NULL;
    uint8_t *pb = NULL;
    EVP_MD_CTX *md = NULL;
    if (!rules || !out) {
        return SL_EINVAL;
    }
    memset(out, 0, sizeof *out);
    int rc = s_split(token, len, &x, e);
    if (rc) {
        return rc;
    }
    snprintf(out->kid, sizeof out->kid, "%s", s_str(x.header, "kid"));
    json_decref(x.header);
    int i = s_find(keys, out->kid);
    if (i < 0) {
        return sl_auth_fail(e, SL_ENOTFOUND, "unknown_key", "JWT: no key with this kid");
    }
    EVP_PKEY *pkey = keys->key[i];
    rc = sl_base64url_decode(x.s, x.sl, sig, sizeof sig, &sl);
    if (rc || (int)sl != s_c.EVP_PKEY_get_size(pkey)) {
        return sl_auth_fail(e, SL_EAUTH, "bad_signature", "JWT: signature of the wrong length");
    }
    pthread_once(&s_md_once, s_md_init);
    if (!s_sha256 || !(md = s_c.EVP_MD_CTX_new())) {
        return SL_ENOMEM;
    }
    /*  The signed input is the text of header "." payload as received. */
    if (s_c.EVP_DigestVerifyInit(md, NULL, s_sha256, NULL, pkey) != 1 ||
        s_c.EVP_DigestVerify(md, sig, sl, (const unsigned char *)token, x.hl + 1 + x.pl) != 1) {
        s_c.EVP_MD_CTX_free(md);
        return sl_auth_fail(e, SL_EAUTH, "bad_signature", "JWT: signature does not verify");
    }
    s_c.EVP_MD_CTX_free(md);
    size_t pn = 0;
    if (!(pb = s_b64_dup(x.p, x.pl, &pn))) {
        return sl_auth_fail(e, SL_EAUTH, "malformed", "JWT payload: not base64url");
    }
    json_error_t je;
    claims = json_loadb((const char *)pb, pn, JSON_REJECT_DUPLICATES, &je);
    free(pb);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return sl_auth_fail(e, SL_EAUTH, "malformed", "JWT payload: not a JSON object");
    }
    rc = s_claims(claims, rules, out, e);
    json_decref(claims);
    return rc;
}

/* ------------------------------------------------------------ cached key sets */

struct sl_jwks_cache {
    char *url;
    char name[64];
    int64_t min_interval_us, max_age_us, timeout_us;
    pthread_rwlock_t lock; /* keys */
    sl_jwks_t *keys;
    int64_t fetched_us; /* mono time of the keys */
    pthread_mutex_t fetch_mu;
    int64_t attempt_us; /* mono time of the last fetch attempt; guarded by fetch_mu */
    _Atomic uint64_t fetches;
};

/*  https, or http to a loopback host (a local mock, a sidecar): 1 for
    https, 2 for loopback http, 0 (with a reason) otherwise. No user info
    (a password in a URL would be logged), no spaces or control bytes. */
static int s_url_ok(const char *url, char *err, size_t errlen)
{
    const char *host;
    int http = 0;
    if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        host = url + 7;
        http = 1;
    } else {
        snprintf(err, errlen, "jwks_url must be https:// (http:// only to a loopback host)");
        return 0;
    }
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(err, errlen, "jwks_url: no spaces or control characters");
            return 0;
        }
    }
    size_t hl = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/?#");
    size_t auth_end = strcspn(host, "/?#");
    if (memchr(host, '@', auth_end)) {
        snprintf(err, errlen, "jwks_url: no user or password in the URL");
        return 0;
    }
    if (hl == 0 || (host[0] == '[' && host[hl - 1] != ']')) {
        snprintf(err, errlen, "jwks_url has no host");
        return 0;
    }
    if (!http) {
        return 1;
    }
    if ((hl == 9 && strncasecmp(host, "localhost", 9) == 0) ||
        (hl == 5 && strncmp(host, "[::1]", 5) == 0) ||
        (hl >= 9 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == hl)) {
        return 2;
    }
    snprintf(err, errlen, "jwks_url must be https:// (http:// only to a loopback host)");
    return 0;
}

int sl_jwks_url_check(const char *url, char *err, size_t errlen)
{
    return url && s_url_ok(url, err, errlen) ? 0 : -1;
}

sl_jwks_cache_t *sl_jwks_cache_new(const sl_jwks_cache_opts_t *o, char *err, size_t errlen)
{
    if (!o || !o->url) {
        snprintf(err, errlen, "no jwks_url");
        return NULL;
    }
    int ok = s_url_ok(o->url, err, errlen);
    if (!ok) {
        return NULL;
    }
    /*  libcurl and libcrypto are loaded now, not at the first token: a
        missing library stops the start with its reason. Nothing is
        fetched yet. */
    if (sl_httpc_load(err, errlen) != SL_OK || sl_jwt_load(err, errlen) != SL_OK) {
        return NULL;
    }
    sl_jwks_cache_t *c = calloc(1, sizeof *c);
    if (!c || !(c->url = strdup(o->url))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->name, sizeof c->name, "%s", o->log_name ? o->log_name : "auth");
    c->min_interval_us = o->min_interval_us >= 0 ? o->min_interval_us : 30000000;
    c->max_age_us = o->max_age_us > 0 ? o->max_age_us : 3600LL * 1000000;
    c->timeout_us = o->timeout_us > 0 ? o->timeout_us : 5000000;
    pthread_rwlock_init(&c->lock, NULL);
    pthread_mutex_init(&c->fetch_mu, NULL);
    atomic_init(&c->fetches, 0);
    return c;
}

void sl_jwks_cache_destroy(sl_jwks_cache_t **pc)
{
    if (!pc || !*pc) {
        return;
    }
    sl_jwks_cache_t *c = *pc;
    sl_jwks_destroy(&c->keys);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->fetch_mu);
    free(c->url);
    free(c);
    *pc = NULL;
}

uint64_t sl_jwks_cache_fetches(const sl_jwks_cache_t *c)
{
    return c ? atomic_load(&((sl_jwks_cache_t *)c)->fetches) : 0;
}

/*  One GET of the key set; installs it if good. */
static void s_fetch(sl_jwks_cache_t *c)
{
    char err[256] = "";
    sl_httpc_reply_t r = {0};
    atomic_fetch_add(&c->fetches, 1);
    sl_httpc_opts_t ho = {.url = c->url, .timeout_us = c->timeout_us, .max_body = SL_JWKS_MAX};
    sl_httpc_t *h = sl_httpc_new(&ho, err, sizeof err);
    int rc = h ? sl_httpc_header(h, "Accept", "application/json") : SL_ENOMEM;
    if (rc == SL_OK) {
        rc = sl_httpc_request(h, "GET", NULL, 0, &r);
    }
    sl_httpc_destroy(&h);
    if (rc != SL_OK || r.status != 200) {
        if (rc != SL_OK) {
            sl_warn(c->name, "cannot fetch the Okta key set from %s: %s", c->url,
                    r.error[0] ? r.error
                    : err[0]   ? err
                               : sl_strerror(rc));
        } else {
            sl_warn(c->name, "cannot fetch the Okta key set from %s: HTTP %ld", c->url, r.status);
        }
        sl_buf_free(&r.body);
        return;
    }
    sl_buf_t body = r.body;
    sl_jwks_t *ks = sl_jwks_parse((const char *)body.data, body.len, err, sizeof err);
    sl_buf_free(&body);
    if (!ks) {
        sl_warn(c->name, "Okta key set from %s refused: %s", c->url, err);
        return;
    }
    sl_info(c->name, "fetched %d signing keys from %s", ks->n, c->url);
    pthread_rwlock_wrlock(&c->lock);
    sl_jwks_t *old = c->keys;
    c->keys = ks;
    c->fetched_us = sl_mono_us();
    pthread_rwlock_unlock(&c->lock);
    sl_jwks_destroy(&old);
}

/*  Fetch unless another caller did since `seen` or the last attempt is
    younger than min_interval. */
static void s_refresh(sl_jwks_cache_t *c, int64_t seen)
{
    pthread_mutex_lock(&c->fetch_mu);
    pthread_rwlock_rdlock(&c->lock);
    int64_t have = c->fetched_us;
    pthread_rwlock_unlock(&c->lock);
    int64_t now = sl_mono_us();
    if (have == seen && (c->attempt_us == 0 || now - c->attempt_us >= c->min_interval_us)) {
        c->attempt_us = now;
        s_fetch(c);
    }
    pthread_mutex_unlock(&c->fetch_mu);
}

int sl_jwks_cache_verify(sl_jwks_cache_t *c, const char *token, size_t len,
                         const sl_jwt_rules_t *rules, sl_jwt_t *out, sl_auth_err_t *e)
{
    char kid[SL_JWT_KID_MAX + 1];
    int rc = sl_jwt_kid(token, len, kid, e);
    if (rc) {
        return rc;
    }
    pthread_rwlock_rdlock(&c->lock);
    int64_t seen = c->fetched_us;
    int stale = !c->keys || sl_mono_us() - seen >= c->max_age_us;
    rc = c->keys ? sl_jwt_verify(c->keys, token, len, rules, out, e) : SL_ENOTFOUND;
    pthread_rwlock_unlock(&c->lock);
    if (rc != SL_ENOTFOUND) {
        if (stale) {
            s_refresh(c, seen); /* the old keys still verify; renew them for the next */
        }
        return rc;
    }
    s_refresh(c, seen);
    pthread_rwlock_rdlock(&c->lock);
    int none = !c->keys;
    rc = c->keys ? sl_jwt_verify(c->keys, token, len, rules, out, e) : SL_ENOTFOUND;
    pthread_rwlock_unlock(&c->lock);
    if (rc != SL_ENOTFOUND) {
        return rc;
    }
    if (none) {
        return sl_auth_fail(e, SL_EIO, "no_keys", "the Okta key set cannot be fetched");
    }
    return sl_auth_fail(e, SL_EAUTH, "unknown_key", "JWT: no key of the issuer has this kid");
}
