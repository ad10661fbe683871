/*  mock_okta: a local stand-in for an Okta authorization server's key
    endpoint, for tests (the keys themselves are made by the test with
    OpenSSL).

    serve: GET /oauth2/default/v1/keys answers as Okta's does: 200
    {"keys": [{"kty": "RSA", "alg": "RS256", "kid", "use": "sig", "e", "n"}]}
    with one key per *.pub.pem file (an RSA public key in PEM) in --keys
    DIR, read again at every request so a test can rotate keys by adding
    a file; the kid is the file name without ".pub.pem". GET /stats
    answers {"key_requests": N} (how often the keys were fetched: tests
    check the client's rate limit). --fail 500 answers the key endpoint
    500 (Okta down). Prints "port N" once listening; stops on SIGINT or
    SIGTERM.

      mock_okta serve --keys DIR [--listen H:P] [--fail 500] */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "sluice/http.h"

static volatile sig_atomic_t s_stop;

typedef struct {
    const char *dir;
    int fail500;
    int requests;
} s_mock_t;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/*  A big number of the key as base64url without padding. */
static int s_b64_param(EVP_PKEY *k, const char *name, sl_buf_t *out)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(k, name, &bn)) {
        return -1;
    }
    int n = BN_num_bytes(bn);
    unsigned char *bin = malloc((size_t)n + 1);
    size_t cap = sodium_base64_encoded_len((size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *b64 = malloc(cap);
    int rc = -1;
    if (bin && b64 && BN_bn2bin(bn, bin) == n) {
        sodium_bin2base64(b64, cap, bin, (size_t)n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        rc = sl_buf_append(out, b64, strlen(b64));
    }
    free(bin);
    free(b64);
    BN_free(bn);
    return rc;
}

/*  One JWK from a PEM file; 0 if appended. */
static int s_jwk(const char *dir, const char *file, int first, sl_buf_t *out)
{
    char path[2048], kid[256];
    size_t fl = strlen(file);
    if (fl <= 8 || strcmp(file + fl - 8, ".pub.pem") != 0 || fl - 8 >= sizeof kid) {
        return -1;
    }
    snprintf(kid, sizeof kid, "%.*s", (int)(fl - 8), file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        fprintf(stderr, "mock_okta: %s is not a PEM public key\n", path);
        return -1;
    }
    int rc = sl_buf_append(out, first ? "" : ",", first ? 0 : 1);
    rc = rc ? rc : sl_buf_append(out, "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"", 34);
    rc = rc ? rc : sl_json_escape(out, kid, strlen(kid));
    rc = rc ? rc : sl_buf_append(out, "\",\"use\":\"sig\",\"e\":\"", 19);
    rc = rc ? rc : s_b64_param(k, OSSL_PKEY_PARAM_RSA_E, out);
    rc = rc ? rc : sl_buf_append(out, "\",\"n\":\"", 7);
    rc = rc ? rc : s_b64_param(k, OSSL_PKEY_PARAM_RSA_N, out);
    rc = rc ? rc : sl_buf_append(out, "\"}", 2);
    EVP_PKEY_free(k);
    return rc;
}

static int s_keys(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_mock_t *m = arg;
    (void)req;
    int n = __atomic_add_fetch(&m->requests, 1, __ATOMIC_SEQ_CST);
    if (m->fail500) {
        fprintf(stderr, "mock_okta: keys request %d: 500 (injected)\n", n);
        return sl_http_json(resp, 500,
                            "{\"errorCode\":\"E0000009\",\"errorSummary\":\"Internal Server "
                            "Error\"}",
                            63);
    }
    DIR *d = opendir(m->dir);
    if (!d) {
        return sl_http_json(resp, 500, "{\"errorCode\":\"E0000009\"}", 24);
    }
    sl_buf_t body = {0};
    int count = 0, rc = sl_buf_append(&body, "{\"keys\":[", 9);
    struct dirent *e;
    while (rc == SL_OK && (e = readdir(d)) != NULL) {
        if (s_jwk(m->dir, e->d_name, count == 0, &body) == 0) {
            count++;
        }
    }
    closedir(d);
    rc = rc ? rc : sl_buf_append(&body, "]}", 2);
    fprintf(stderr, "mock_okta: keys request %d: %d keys\n", n, count);
    if (rc == SL_OK) {
        rc = sl_http_json(resp, 200, (const char *)body.data, body.len);
    }
    sl_buf_free(&body);
    return rc;
}

static int s_stats(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    s_mock_t *m = arg;
    (void)req;
    char b[64];
    int n = snprintf(b, sizeof b, "{\"key_requests\":%d}",
                     __atomic_load_n(&m->requests, __ATOMIC_SEQ_CST));
    return sl_http_json(resp, 200, b, (size_t)n);
}

int main(int argc, char **argv)
{
    s_mock_t m = {0};
    const char *listen = "127.0.0.1:0";
    char err[256] = "";
    if (argc < 2 || strcmp(argv[1], "serve") != 0) {
        fprintf(stderr, "usage: mock_okta serve --keys DIR [--listen H:P] [--fail 500]\n");
        return 2;
    }
    for (int i = 2; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keys") == 0 && v) {
            m.dir = v;
        } else if (strcmp(a, "--listen") == 0 && v) {
            listen = v;
        } else if (strcmp(a, "--fail") == 0 && v && strcmp(v, "500") == 0) {
            m.fail500 = 1;
        } else {
            fprintf(stderr, "mock_okta serve: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (!m.dir || sodium_init() < 0) {
        fprintf(stderr, "mock_okta serve: --keys DIR is required\n");
        return 2;
    }
    sl_http_opts_t o = {.listen = listen, .log_name = "mock_okta"};
    sl_http_t *h = sl_http_new(&o, err, sizeof err);
    if (!h ||
        sl_http_route(h, "GET", "/oauth2/default/v1/keys", SL_HTTP_EXACT, s_keys, &m) != SL_OK ||
        sl_http_route(h, "GET", "/stats", SL_HTTP_EXACT, s_stats, &m) != SL_OK ||
        sl_http_start(h, err, sizeof err) != SL_OK) {
        fprintf(stderr, "mock_okta: %s\n", err);
        sl_http_destroy(&h);
        return 1;
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    printf("port %d\n", sl_http_port(h));
    fflush(stdout);
    while (!s_stop) {
        usleep(50 * 1000);
    }
    sl_http_destroy(&h);
    return 0;
}
