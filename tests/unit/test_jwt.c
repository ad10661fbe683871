/*  JWTs and key sets: tokens signed here with OpenSSL (a key made by the
    test), verified by core/jwt.c; the cache against a real HTTP key
    endpoint on loopback (core/http.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "sluice/http.h"
#include "sluice/jwt.h"

#define ISS "https://acme.okta.com/oauth2/default"
#define AUD "api://default"

static EVP_PKEY *s_key;   /* kid k1 */
static EVP_PKEY *s_other; /* another key, for forged signatures and rotation */

static void s_b64(const void *bin, size_t n, sl_buf_t *out)
{
    char *b = malloc(n * 2 + 8);
    assert_non_null(b);
    sodium_bin2base64(b, n * 2 + 8, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(sl_buf_append(out, b, strlen(b)), 0);
    free(b);
}

/*  header.payload.signature, signed with k (NUL-terminated in the buffer). */
static char *s_jwt(EVP_PKEY *k, const char *header, const char *payload)
{
    sl_buf_t t = {0};
    s_b64(header, strlen(header), &t);
    assert_int_equal(sl_buf_append(&t, ".", 1), 0);
    s_b64(payload, strlen(payload), &t);
    unsigned char sig[1024];
    size_t sl = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &sl, t.data, t.len), 1);
    EVP_MD_CTX_free(md);
    assert_int_equal(sl_buf_append(&t, ".", 1), 0);
    s_b64(sig, sl, &t);
    assert_int_equal(sl_buf_append(&t, "", 1), 0);
    return (char *)t.data;
}

static void s_bn(EVP_PKEY *k, const char *name, sl_buf_t *out)
{
    BIGNUM *bn = NULL;
    assert_true(EVP_PKEY_get_bn_param(k, name, &bn));
    unsigned char bin[1024];
    int n = BN_bn2bin(bn, bin);
    s_b64(bin, (size_t)n, out);
    BN_free(bn);
}

static void s_jwk(EVP_PKEY *k, const char *kid, const char *extra, sl_buf_t *out)
{
    char head[256];
    snprintf(head, sizeof head, "{\"kty\":\"RSA\",\"kid\":\"%s\"%s,\"e\":\"", kid, extra);
    sl_buf_append(out, head, strlen(head));
    s_bn(k, OSSL_PKEY_PARAM_RSA_E, out);
    sl_buf_append(out, "\",\"n\":\"", 7);
    s_bn(k, OSSL_PKEY_PARAM_RSA_N, out);
    sl_buf_append(out, "\"}", 2);
}

static sl_jwks_t *s_keys_k1(void)
{
    sl_buf_t j = {0};
    char err[256];
    sl_buf_append(&j, "{\"keys\":[", 9);
    s_jwk(s_key, "k1", ",\"alg\":\"RS256\",\"use\":\"sig\"", &j);
    sl_buf_append(&j, "]}", 2);
    sl_jwks_t *ks = sl_jwks_parse((const char *)j.data, j.len, err, sizeof err);
    assert_non_null(ks);
    sl_buf_free(&j);
    return ks;
}

static int s_setup(void **state)
{
    (void)state;
    s_key = EVP_RSA_gen(2048);
    s_other = EVP_RSA_gen(2048);
    return s_key && s_other ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(s_key);
    EVP_PKEY_free(s_other);
    return 0;
}

static const char *H = "{\"kid\":\"k1\",\"alg\":\"RS256\"}";

static char *s_claims(char *buf, size_t len, const char *iss, const char *aud, long exp, long iat,
                      const char *extra)
{
    snprintf(buf, len, "{\"iss\":\"%s\",\"aud\":%s,\"exp\":%ld,\"iat\":%ld,\"sub\":\"u1\"%s}", iss,
             aud, exp, iat, extra);
    return buf;
}

static int s_verify(sl_jwks_t *ks, const char *tok, sl_jwt_t *out, sl_auth_err_t *e, int64_t now)
{
    sl_jwt_rules_t r = {
        .issuer = ISS, .audience = AUD, .roles_claim = "groups", .skew_s = 30, .now_s = now};
    return sl_jwt_verify(ks, tok, strlen(tok), &r, out, e);
}

static void test_good_and_claims(void **state)
{
    (void)state;
    sl_jwks_t *ks = s_keys_k1();
    assert_int_equal(sl_jwks_count(ks), 1);
    char p[1024];
    const int64_t now = 1800000000;
    sl_jwt_t out;
    sl_auth_err_t e;
    char *t = s_jwt(s_key, H,
                    s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now - 10,
                             ",\"groups\":[\"acme-readers\",\"x\",7,\"beta-writers\"]"));
    assert_int_equal(s_verify(ks, t, &out, &e, now), SL_OK);
    assert_string_equal(out.sub, "u1");
    assert_string_equal(out.kid, "k1");
    assert_int_equal(out.n_values, 3); /* the number is skipped */
    assert_string_equal(out.values[0], "acme-readers");
    assert_string_equal(out.values[2], "beta-writers");
    free(t);

    /* audience in an array; a scope string */
    t = s_jwt(s_key, H,
              s_claims(p, sizeof p, ISS, "[\"other\",\"" AUD "\"]", now + 600, now,
                       ",\"groups\":\"sluice.read  sluice.write\""));
    assert_int_equal(s_verify(ks, t, &out, &e, now), SL_OK);
    assert_int_equal(out.n_values, 2);
    assert_string_equal(out.values[1], "sluice.write");
    free(t);

    /* within the skew: expired 20 s ago, issued 20 s ahead */
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now - 20, now + 20, ""));
    assert_int_equal(s_verify(ks, t, &out, &e, now), SL_OK);
    free(t);
    sl_jwks_destroy(&ks);
    assert_null(ks);
    sl_jwks_destroy(&ks);
}

static void s_refused(sl_jwks_t *ks, const char *tok, int64_t now, int rc, const char *code)
{
    sl_jwt_t out;
    sl_auth_err_t e = {0};
    int got = s_verify(ks, tok, &out, &e, now);
    if (got != rc || !e.code || strcmp(e.code, code) != 0) {
        fail_msg("expected %d %s, got %d %s (%s)", rc, code, got, e.code ? e.code : "-", e.message);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    sl_jwks_t *ks = s_keys_k1();
    char p[1024];
    const int64_t now = 1800000000;
    char *t;

    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now - 31, now - 600, ""));
    s_refused(ks, t, now, SL_EAUTH, "expired");
    free(t);
    t = s_jwt(s_key, H,
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ",\"nbf\":1800000100"));
    s_refused(ks, t, now, SL_EAUTH, "not_yet_valid");
    free(t);
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now + 120, ""));
    s_refused(ks, t, now, SL_EAUTH, "not_yet_valid");
    free(t);
    t = s_jwt(s_key, H,
              s_claims(p, sizeof p, "https://evil.okta.com/oauth2/default", "\"" AUD "\"",
                       now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "wrong_issuer");
    free(t);
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"api://other\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "wrong_audience");
    free(t);
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "[\"a\",\"b\"]", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "wrong_audience");
    free(t);
    /* a string where a NumericDate belongs; no exp */
    snprintf(p, sizeof p, "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":\"soon\",\"iat\":1}", ISS, AUD);
    t = s_jwt(s_key, H, p);
    s_refused(ks, t, now, SL_EAUTH, "missing_claim");
    free(t);
    snprintf(p, sizeof p, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":1}", ISS, AUD);
    t = s_jwt(s_key, H, p);
    s_refused(ks, t, now, SL_EAUTH, "missing_claim");
    free(t);

    /* signed by another key under the same kid */
    t = s_jwt(s_other, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "bad_signature");
    free(t);
    /* a changed payload under a good signature */
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    sl_jwt_t out;
    sl_auth_err_t e = {0};
    assert_int_equal(s_verify(ks, t, &out, &e, now), SL_EAUTH);
    free(t);

    /* alg: none and HS256 (the public key as an HMAC secret) are refused */
    t = s_jwt(s_key, "{\"kid\":\"k1\",\"alg\":\"none\"}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "bad_alg");
    free(t);
    t = s_jwt(s_key, "{\"kid\":\"k1\",\"alg\":\"HS256\"}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "bad_alg");
    free(t);
    t = s_jwt(s_key, "{\"kid\":\"k1\",\"alg\":\"RS256\",\"crit\":[\"x\"]}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "malformed");
    free(t);
    t = s_jwt(s_key, "{\"alg\":\"RS256\"}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_EAUTH, "malformed");
    free(t);
    /* a kid the set does not hold */
    t = s_jwt(s_key, "{\"kid\":\"k9\",\"alg\":\"RS256\"}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    s_refused(ks, t, now, SL_ENOTFOUND, "unknown_key");
    free(t);
    /* duplicate claims: which one would count? neither */
    snprintf(p, sizeof p, "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"iat\":%lld,\"iss\":\"x\"}",
             ISS, AUD, (long long)now + 600, (long long)now);
    t = s_jwt(s_key, H, p);
    s_refused(ks, t, now, SL_EAUTH, "malformed");
    free(t);

    /* shapes */
    s_refused(ks, "", now, SL_EAUTH, "malformed");
    s_refused(ks, "a.b", now, SL_EAUTH, "malformed");
    s_refused(ks, "a.b.c.d", now, SL_EAUTH, "malformed");
    s_refused(ks, "..", now, SL_EAUTH, "malformed");
    s_refused(ks, "eyJhbGciOiJSUzI1NiJ9=.e30.AA", now, SL_EAUTH, "malformed");
    s_refused(ks, "!!!.e30.AA", now, SL_EAUTH, "malformed");
    sl_jwks_destroy(&ks);
}

static void test_jwks_parse(void **state)
{
    (void)state;
    char err[256];
    EVP_PKEY *small = EVP_RSA_gen(1024);
    assert_non_null(small);
    sl_buf_t j = {0};
    sl_buf_append(&j, "{\"keys\":[", 9);
    s_jwk(small, "small", "", &j);
    sl_buf_append(&j, ",", 1);
    s_jwk(s_key, "enc", ",\"use\":\"enc\"", &j);
    sl_buf_append(&j, ",", 1);
    s_jwk(s_key, "es", ",\"alg\":\"ES256\"", &j);
    const char *ec = ",{\"kty\":\"EC\",\"kid\":\"ec\"},7,";
    sl_buf_append(&j, ec, strlen(ec));
    s_jwk(s_key, "good", "", &j);
    sl_buf_append(&j, "]}", 2);
    sl_jwks_t *ks = sl_jwks_parse((const char *)j.data, j.len, err, sizeof err);
    assert_non_null(ks);
    assert_int_equal(sl_jwks_count(ks), 1); /* only "good" */
    sl_jwks_destroy(&ks);
    sl_buf_free(&j);

    sl_buf_append(&j, "{\"keys\":[", 9);
    s_jwk(small, "small", "", &j);
    sl_buf_append(&j, "]}", 2);
    assert_null(sl_jwks_parse((const char *)j.data, j.len, err, sizeof err));
    assert_non_null(strstr(err, "no usable key"));
    sl_buf_free(&j);
    assert_null(sl_jwks_parse("{}", 2, err, sizeof err));
    assert_null(sl_jwks_parse("not json", 8, err, sizeof err));
    assert_null(sl_jwks_parse(NULL, 0, err, sizeof err));
    EVP_PKEY_free(small);
}

/* --- the cache against a key endpoint -------------------------------- */

typedef struct {
    EVP_PKEY *key;
    const char *kid;
    int requests;
    int fail;
} s_srv_t;

static int s_serve_keys(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_srv_t *s = arg;
    (void)req;
    __atomic_add_fetch(&s->requests, 1, __ATOMIC_SEQ_CST);
    if (s->fail) {
        return sl_http_json(resp, 500, "{}", 2);
    }
    sl_buf_t j = {0};
    sl_buf_append(&j, "{\"keys\":[", 9);
    s_jwk(s->key, s->kid, "", &j);
    sl_buf_append(&j, "]}", 2);
    int rc = sl_http_json(resp, 200, (const char *)j.data, j.len);
    sl_buf_free(&j);
    return rc;
}

static void test_cache(void **state)
{
    (void)state;
    char err[256], url[128], p[1024];
    s_srv_t srv = {.key = s_key, .kid = "k1"};
    sl_http_opts_t ho = {.listen = "127.0.0.1:0", .log_name = "keys"};
    sl_http_t *h = sl_http_new(&ho, err, sizeof err);
    assert_non_null(h);
    assert_int_equal(sl_http_route(h, "GET", "/keys", SL_HTTP_EXACT, s_serve_keys, &srv), 0);
    assert_int_equal(sl_http_start(h, err, sizeof err), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/keys", sl_http_port(h));

    /* http:// only to loopback */
    assert_int_not_equal(sl_jwks_url_check("http://example.com/keys", err, sizeof err), 0);
    assert_int_equal(sl_jwks_url_check("https://example.com/keys", err, sizeof err), 0);
    assert_int_equal(sl_jwks_url_check(url, err, sizeof err), 0);

    sl_jwks_cache_opts_t co = {.url = url, .min_interval_us = 3600LL * 1000000};
    sl_jwks_cache_t *c = sl_jwks_cache_new(&co, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(sl_jwks_cache_fetches(c), 0); /* nothing before a token */
    int64_t now = sl_now_us() / 1000000;
    sl_jwt_rules_t r = {.issuer = ISS, .audience = AUD, .skew_s = 30};
    sl_jwt_t out;
    sl_auth_err_t e;
    char *t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_OK);
    assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_OK);
    assert_int_equal(sl_jwks_cache_fetches(c), 1);
    free(t);
    /* unknown kids: no refetch within min_interval of the last fetch,
       however many tokens name one */
    t = s_jwt(s_key, "{\"kid\":\"k2\",\"alg\":\"RS256\"}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_EAUTH);
        assert_string_equal(e.code, "unknown_key");
    }
    assert_int_equal(sl_jwks_cache_fetches(c), 1);
    assert_int_equal(__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST), 1);
    sl_jwks_cache_destroy(&c);
    free(t);

    /* rotation: with no interval, a new kid is fetched at once */
    co.min_interval_us = 0;
    c = sl_jwks_cache_new(&co, err, sizeof err);
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_OK);
    free(t);
    srv.key = s_other;
    srv.kid = "k2";
    t = s_jwt(s_other, "{\"kid\":\"k2\",\"alg\":\"RS256\"}",
              s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_OK);
    free(t);
    /* the endpoint fails: the keys there are stay */
    srv.fail = 1;
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_EAUTH);
    assert_string_equal(e.code, "unknown_key"); /* k1 is gone from the set */
    free(t);
    sl_jwks_cache_destroy(&c);
    /* no keys at all and the endpoint down: SL_EIO (a 503, not a 401) */
    c = sl_jwks_cache_new(&co, err, sizeof err);
    t = s_jwt(s_key, H, s_claims(p, sizeof p, ISS, "\"" AUD "\"", now + 600, now, ""));
    assert_int_equal(sl_jwks_cache_verify(c, t, strlen(t), &r, &out, &e), SL_EIO);
    free(t);
    sl_jwks_cache_destroy(&c);
    sl_http_destroy(&h);
}

static void test_base64url(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 0;
    assert_int_equal(sl_base64url_decode("aGk", 3, out, sizeof out, &n), SL_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "hi", 2);
    assert_int_equal(sl_base64url_decode("aGk=", 4, out, sizeof out, &n), SL_EPROTO);
    assert_int_equal(sl_base64url_decode("a+k", 3, out, sizeof out, &n), SL_EPROTO);
    assert_int_equal(sl_base64url_decode("a", 1, out, sizeof out, &n), SL_EPROTO);
    assert_int_equal(sl_base64url_decode("aGl", 3, out, sizeof out, &n), SL_EPROTO); /* bits */
    assert_int_equal(sl_base64url_decode("aGVsbG8gd29ybGQgaGVsbG8", 23, out, 4, &n), SL_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url), cmocka_unit_test(test_good_and_claims),
        cmocka_unit_test(test_refusals),  cmocka_unit_test(test_jwks_parse),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
