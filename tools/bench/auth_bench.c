/*  auth_bench: the credential check of one request, on one core, with
    the real parts (docs/performance.md "Credentials").

      auth_bench [--seconds S] [--tokens N] [--assets A]

    token  sl_auth_authenticate + sl_auth_authorize of an API token: parse
           the Authorization header, one LMDB read transaction (the store's
           key and the token's record, in a store holding N tokens, default
           10000), a keyed BLAKE2b hash, a constant-time compare, expiry and
           revocation, then the tenant and role decision
    jwt    the same for an Okta access token (RS256, 2048-bit key made here
           with OpenSSL) whose key is already cached: split, base64url,
           header and claims JSON, one RSA verification, claim checks, role
           mapping. The key set is fetched once, before the clock, from a
           key endpoint on loopback (core/http.c), as a real one would be.

    Each pass repeats one check until it reaches S seconds (default 3); the
    mean per check of the best of three passes is printed, then p50 and p99
    of 20000 checks timed one by one (CLOCK_MONOTONIC around each: the
    clock's own cost, about 20 ns, is included).

    With --assets A, the store quota's measurement too: A asset.upsert
    events of one tenant (plus as many of another) are applied to the
    store, then sl_store_tenant_bytes of the first is timed (best of 5).
    Prints one JSON object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "sluice/auth.h"
#include "sluice/event.h"
#include "sluice/http.h"
#include "sluice/store.h"

#define S_SAMPLES 20000

typedef struct {
    sl_auth_t *auth;
    const char *header;
    sl_role_t need;
} s_case_t;

static int s_check(const s_case_t *c)
{
    sl_principal_t who;
    sl_auth_err_t e;
    char tenant[SL_AUTH_TENANT_MAX + 1];
    int rc = sl_auth_authenticate(c->auth, c->header, &who, &e);
    if (rc == SL_OK) {
        rc = sl_auth_authorize(&who, NULL, c->need, tenant, &e);
    }
    return rc;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*  {"mean_ns", "p50_ns", "p99_ns", "checks"} of one case. */
static int s_measure(const char *name, const s_case_t *c, double seconds)
{
    if (s_check(c) != SL_OK) {
        fprintf(stderr, "auth_bench: the %s check fails\n", name);
        return -1;
    }
    double best = 1e18;
    long total = 0;
    for (int pass = 0; pass < 3; pass++) {
        long n = 0;
        int64_t t0 = sl_mono_us(), t1 = t0;
        while (t1 - t0 < (int64_t)(seconds * 1e6)) {
            for (int i = 0; i < 256; i++) {
                if (s_check(c) != SL_OK) {
                    return -1;
                }
            }
            n += 256;
            t1 = sl_mono_us();
        }
        double ns = (double)(t1 - t0) * 1000.0 / (double)n;
        if (ns < best) {
            best = ns;
        }
        total += n;
    }
    int64_t *lat = malloc(S_SAMPLES * sizeof *lat);
    if (!lat) {
        return -1;
    }
    for (int i = 0; i < S_SAMPLES; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        s_check(c);
        clock_gettime(CLOCK_MONOTONIC, &b);
        lat[i] = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    }
    qsort(lat, S_SAMPLES, sizeof *lat, s_cmp);
    printf("\"%s\": {\"mean_ns\": %.0f, \"p50_ns\": %lld, \"p99_ns\": %lld, \"checks\": %ld}", name,
           best, (long long)lat[S_SAMPLES / 2], (long long)lat[S_SAMPLES * 99 / 100], total);
    free(lat);
    return 0;
}

/*  A assets of tenants t1 and t2, then the time to measure t1. */
static int s_size(sl_store_t *st, long assets)
{
    sl_buf_t scratch = {0};
    char json[512], err[256];
    int64_t t0 = sl_mono_us();
    for (long i = 0; i < assets; i += 1000) {
        sl_store_batch_t *b = NULL;
        if (sl_store_batch_begin(st, &b) != SL_OK) {
            return -1;
        }
        for (long k = i; k < i + 1000 && k < assets; k++) {
            for (int t = 1; t <= 2; t++) {
                snprintf(
                    json, sizeof json,
                    "{\"tenant\":\"t%d\",\"kind\":\"asset.upsert\",\"body\":{"
                    "\"qualified_name\":\"snowflake://acme-prod/analytics/s%ld/table_%ld\","
                    "\"type\":\"table\",\"name\":\"table_%ld\",\"owners\":[\"data@acme.com\"]}}",
                    t, k % 100, k, k);
                sl_event_t ev;
                sl_apply_t res;
                if (sl_event_from_json(json, strlen(json), &ev, &scratch, err, sizeof err) ||
                    sl_store_apply(b, &ev, &res, NULL, 0)) {
                    sl_store_batch_abort(&b);
                    return -1;
                }
            }
        }
        if (sl_store_batch_commit(&b) != SL_OK) {
            return -1;
        }
    }
    int64_t load_us = sl_mono_us() - t0;
    int64_t best = INT64_MAX;
    uint64_t bytes = 0;
    for (int r = 0; r < 5; r++) {
        int64_t a = sl_mono_us();
        if (sl_store_tenant_bytes(st, "t1", &bytes) != SL_OK) {
            return -1;
        }
        int64_t d = sl_mono_us() - a;
        best = d < best ? d : best;
    }
    printf(", \"store_size\": {\"assets\": %ld, \"bytes\": %llu, \"measure_us\": %lld, "
           "\"load_s\": %.1f}",
           assets, (unsigned long long)bytes, (long long)best, (double)load_us / 1e6);
    sl_buf_free(&scratch);
    return 0;
}

static void s_b64(const void *bin, size_t n, sl_buf_t *out)
{
    char b[2048];
    sodium_bin2base64(b, sizeof b, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sl_buf_append(out, b, strlen(b));
}

static void s_bn(EVP_PKEY *k, const char *name, sl_buf_t *out)
{
    BIGNUM *bn = NULL;
    unsigned char bin[1024];
    EVP_PKEY_get_bn_param(k, name, &bn);
    int n = BN_bn2bin(bn, bin);
    s_b64(bin, (size_t)n, out);
    BN_free(bn);
}

typedef struct {
    sl_buf_t jwks;
} s_srv_t;

static int s_keys(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_srv_t *s = arg;
    (void)req;
    return sl_http_json(resp, 200, (const char *)s->jwks.data, s->jwks.len);
}

int main(int argc, char **argv)
{
    double seconds = 3;
    long ntok = 10000, assets = 0;
    char err[512], dir[] = "/tmp/sluice-auth-bench.XXXXXX";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--tokens") == 0) {
            ntok = atol(argv[i + 1]);
        } else if (strcmp(argv[i], "--assets") == 0) {
            assets = atol(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: auth_bench [--seconds S] [--tokens N] [--assets A]\n");
            return 2;
        }
    }
    if (seconds <= 0 || ntok < 1 || !mkdtemp(dir) || sodium_init() < 0) {
        fprintf(stderr, "usage: auth_bench [--seconds S] [--tokens N] [--assets A]\n");
        return 2;
    }

    /*  A store holding ntok tokens; the last one is checked. */
    sl_store_opts_t so = {.path = dir, .nosync = 1};
    sl_store_t *st = sl_store_open(&so, err, sizeof err);
    if (!st) {
        fprintf(stderr, "auth_bench: %s\n", err);
        return 1;
    }
    char tok[SL_TOKEN_LEN + 1], header[128];
    for (long i = 0; i < ntok; i++) {
        sl_token_info_t info = {.role = SL_ROLE_READER, .created_us = sl_now_us()};
        snprintf(info.tenant, sizeof info.tenant, "tenant%ld", i % 100);
        if (sl_token_generate(tok, info.id) != SL_OK ||
            sl_store_token_add(st, tok, &info) != SL_OK) {
            fprintf(stderr, "auth_bench: cannot add token %ld\n", i);
            return 1;
        }
    }
    snprintf(header, sizeof header, "Bearer %s", tok);

    /*  An Okta key endpoint on loopback, and a token of its key. */
    EVP_PKEY *key = EVP_RSA_gen(2048);
    s_srv_t srv = {{0}};
    const char *head = "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"k1\",\"e\":\"";
    sl_buf_append(&srv.jwks, head, strlen(head));
    s_bn(key, OSSL_PKEY_PARAM_RSA_E, &srv.jwks);
    sl_buf_append(&srv.jwks, "\",\"n\":\"", 7);
    s_bn(key, OSSL_PKEY_PARAM_RSA_N, &srv.jwks);
    sl_buf_append(&srv.jwks, "\"}]}", 4);
    sl_http_opts_t ho = {.listen = "127.0.0.1:0", .log_name = "keys"};
    sl_http_t *h = sl_http_new(&ho, err, sizeof err);
    if (!h || sl_http_route(h, "GET", "/oauth2/default/v1/keys", SL_HTTP_EXACT, s_keys, &srv) ||
        sl_http_start(h, err, sizeof err)) {
        fprintf(stderr, "auth_bench: %s\n", err);
        return 1;
    }
    char iss[128], conf[1024], claims[512];
    snprintf(iss, sizeof iss, "http://127.0.0.1:%d/oauth2/default", sl_http_port(h));
    snprintf(conf, sizeof conf,
             "{\"tokens\":true,\"okta\":{\"issuer\":\"%s\",\"role_map\":{\"acme-readers\":"
             "\"acme:reader\",\"acme-writers\":\"acme:writer\"}}}",
             iss);
    long now = (long)(sl_now_us() / 1000000);
    snprintf(claims, sizeof claims,
             "{\"ver\":1,\"jti\":\"AT.bench\",\"iss\":\"%s\",\"aud\":\"api://default\",\"iat\":%ld,"
             "\"exp\":%ld,\"cid\":\"0oa1bench\",\"uid\":\"00u1bench\",\"scp\":[\"openid\"],"
             "\"sub\":\"bench@acme.com\",\"groups\":[\"Everyone\",\"acme-writers\"]}",
             iss, now, now + 3600);
    sl_buf_t jwt = {0};
    const char *hdr = "{\"kid\":\"k1\",\"alg\":\"RS256\"}";
    sl_buf_append(&jwt, "Bearer ", 7);
    size_t start = jwt.len;
    s_b64(hdr, strlen(hdr), &jwt);
    sl_buf_append(&jwt, ".", 1);
    s_b64(claims, strlen(claims), &jwt);
    unsigned char sig[512];
    size_t sl = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(md, sig, &sl, jwt.data + start, jwt.len - start);
    EVP_MD_CTX_free(md);
    sl_buf_append(&jwt, ".", 1);
    s_b64(sig, sl, &jwt);
    sl_buf_append(&jwt, "", 1);

    sl_auth_opts_t ao = {.config = conf, .store_path = dir, .name = "bench"};
    sl_auth_t *auth = sl_auth_new(&ao, err, sizeof err);
    if (!auth) {
        fprintf(stderr, "auth_bench: %s\n", err);
        return 1;
    }
    s_case_t token = {auth, header, SL_ROLE_READER};
    s_case_t okta = {auth, (const char *)jwt.data, SL_ROLE_WRITER};
    printf("{\"tokens_in_store\": %ld, ", ntok);
    int rc = s_measure("api_token", &token, seconds);
    printf(", ");
    rc = rc ? rc : s_measure("jwt_cached_key", &okta, seconds);
    if (rc == 0 && assets > 0) {
        rc = s_size(st, assets);
    }
    printf("}\n");

    sl_auth_destroy(&auth);
    sl_http_destroy(&h);
    sl_store_close(&st);
    EVP_PKEY_free(key);
    sl_buf_free(&jwt);
    sl_buf_free(&srv.jwks);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "auth_bench: cannot remove %s\n", dir);
    }
    return rc ? 1 : 0;
}
