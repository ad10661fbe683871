/*  Fuzz the JWT and credential parsers: arbitrary bytes as a token (the
    header, the kid, the signature check, the claims), as a key set, as an
    `auth` configuration, as an Authorization header. Nothing may crash,
    leak or read out of bounds; every refusal carries a code and a
    one-line message; a token that verifies has sane claims. The key set
    holds the public half of the key that signed the seeds
    (tests/fuzz/corpus/fuzz_jwt), so mutations of a valid token get as far
    as the claim checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/auth.h"
#include "sluice/jwt.h"

static const char s_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"fuzz1\",\"use\":\"sig\",\"e\":"
    "\"AQAB\",\"n\":\""
    "sVJrZkLEU__Vrd-IFYBL5-4zjZ_nhEU9uHtJBqs-krOrVGWg9t5efR5y5d2sVYMpBIyignAL0zo24ZY6IP8QxxzKoB"
    "A191GMfUcI1rYirw1lJ2yQWPN6CncUWkq7hSJH4T7usPl1cSlNNHVljjeHAKMzbgV4V8CXHMqwSMBxsog9p6IIUYIJ"
    "o4rxebqfmVeU0BkCo8MtzhwIx7a5dnKBZkIscctOrqrwmh-b5JtfnAWvfJSjFgDRRDtOyeUJkFuZDbnumvhaGNWzju"
    "itq-AOwjBIVzJINSF4GZj5UCQ7ADC7mN9PWlAaZkD5TvOrE1dhnnA-JKhZ6ngQGJeRKrMgfw"
    "\"}]}";

/*  01_valid.jwt of the corpus: must verify, or the key above is not the seeds'. */
static const char s_valid[] =
    "eyJraWQiOiJmdXp6MSIsImFsZyI6IlJTMjU2In0.eyJpc3MiOiJodHRwczovL2Z1enoub2t0YS5jb20vb2F1dGgyL2"
    "RlZmF1bHQiLCJhdWQiOiJhcGk6Ly9kZWZhdWx0Iiwic3ViIjoiMDB1ZnV6eiIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0"
    "IjoxNzAwMDAwMDAwLCJncm91cHMiOlsiYWNtZS1yZWFkZXJzIiwiYmV0YS13cml0ZXJzIl0sInNjcCI6ImEgYiJ9.A"
    "-2VOk9m7AFnsR5VCKfCmcbGwfhjyB8vJKfyGZysUjwEziFPx37O0NjNAsOP_Z9nA9TZdo7X6ifI498-KFizdYlecNY"
    "ild9hmAc9RnencQ_rm18Xin2YPqUdoPPBLd-TXSsCZlE-MchJJZ3dBJstooQ02MmNBzL0kbqnmo1nvluU4_S6IHYuH"
    "5EpX-LWzc2gRbxif5izPjs1qCbl97TX1eMtitWKjAE7lXa7sQKrwaGB2L5e4pwFDLxeDebARqO2gZ2RoREIsQCfNFQ"
    "azfYKc9PtbC3yH6Paj4EpZahU88r5TbiuhRsU7jXNdokudzDLJO8eCL7gxDUSX0FgG0K1YQ";

static char s_dir[] = "/tmp/sluice-fuzz-jwt.XXXXXX";
static sl_auth_t *s_auth;

static void s_cleanup(void)
{
    char cmd[64];
    sl_auth_destroy(&s_auth);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz_jwt: cannot remove %s\n", s_dir);
    }
}

static void s_check_err(int rc, const sl_auth_err_t *e)
{
    if (rc == SL_OK || rc == SL_ENOMEM) {
        return;
    }
    if (!e->code || !*e->code || strchr(e->message, '\n')) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_jwks_t *keys;
    char err[256], where[256];
    if (!keys) {
        keys = sl_jwks_parse(s_jwks, sizeof s_jwks - 1, err, sizeof err);
        sl_jwt_rules_t r = {.issuer = "https://fuzz.okta.com/oauth2/default",
                            .audience = "api://default",
                            .roles_claim = "groups",
                            .now_s = 1800000000};
        sl_jwt_t out;
        sl_auth_err_t e;
        if (!keys || sl_jwt_verify(keys, s_valid, sizeof s_valid - 1, &r, &out, &e) != SL_OK ||
            out.n_values != 2) {
            abort();
        }
        if (!mkdtemp(s_dir)) {
            abort();
        }
        sl_auth_opts_t ao = {.config = "{\"tokens\":true}", .store_path = s_dir, .name = "fuzz"};
        s_auth = sl_auth_new(&ao, err, sizeof err);
        if (!s_auth) {
            abort();
        }
        atexit(s_cleanup);
    }
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    /*  A token. */
    sl_jwt_rules_t rules = {.issuer = "https://fuzz.okta.com/oauth2/default",
                            .audience = "api://default",
                            .roles_claim = size % 2 ? "groups" : "scp",
                            .skew_s = 30,
                            .now_s = 1800000000};
    sl_jwt_t out;
    sl_auth_err_t e = {0};
    char kid[SL_JWT_KID_MAX + 1];
    int rc = sl_jwt_kid(text, size, kid, &e);
    s_check_err(rc, &e);
    rc = sl_jwt_verify(keys, text, size, &rules, &out, &e);
    if (rc == SL_OK) {
        if (out.n_values < 0 || out.n_values > SL_JWT_VALUES_MAX || strcmp(out.kid, "fuzz1") != 0 ||
            out.exp + 30 < rules.now_s) {
            abort();
        }
        for (int i = 0; i < out.n_values; i++) {
            if (strlen(out.values[i]) == 0 || strlen(out.values[i]) > SL_JWT_VALUE_MAX) {
                abort();
            }
        }
    } else if (rc != SL_ENOTFOUND) {
        s_check_err(rc, &e);
    }

    /*  A key set, a configuration, a header. */
    sl_jwks_t *ks = sl_jwks_parse(text, size, err, sizeof err);
    if (ks && (sl_jwks_count(ks) < 1 || sl_jwks_count(ks) > SL_JWKS_KEYS_MAX)) {
        abort();
    }
    sl_jwks_destroy(&ks);
    if (sl_auth_config_check(text, err, sizeof err, where, sizeof where) != 0 &&
        (!err[0] || (where[0] && where[0] != '/'))) {
        abort();
    }
    sl_principal_t who;
    rc = sl_auth_authenticate(s_auth, text, &who, &e);
    if (rc == SL_OK) {
        abort(); /* the store holds no token at all */
    }
    s_check_err(rc, &e);
    char id[SL_TOKEN_ID_LEN + 1];
    if (sl_token_shape(text, size, id) && strlen(id) != SL_TOKEN_ID_LEN) {
        abort();
    }
    uint8_t bin[256];
    size_t n = 0;
    if (sl_base64url_decode(text, size, bin, sizeof bin, &n) == SL_OK && n > sizeof bin) {
        abort();
    }
    free(text);
    return 0;
}
