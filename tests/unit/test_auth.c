/*  Authentication and authorization: roles, API tokens in a real LMDB
    store, the configuration checks, the decision matrix of
    sl_auth_authorize, webhook secrets per tenant, quotas, and the HTTP
    glue refusing before any handler runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/adapters.h"
#include "sluice/auth.h"
#include "sluice/http.h"
#include "sluice/metrics.h"
#include "sluice/quota.h"
#include "sluice/store.h"

static char s_dir[256];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/sluice-test-auth.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_roles(void **state)
{
    (void)state;
    sl_role_t r;
    assert_int_equal(sl_role_parse("reader", &r), SL_OK);
    assert_int_equal(r, SL_ROLE_READER);
    assert_int_equal(sl_role_parse("platform-admin", &r), SL_OK);
    assert_int_equal(r, SL_ROLE_PLATFORM);
    assert_int_equal(sl_role_parse("root", &r), SL_EINVAL);
    assert_int_equal(sl_role_parse("none", &r), SL_EINVAL);
    assert_string_equal(sl_role_name(SL_ROLE_WRITER), "writer");
    assert_true(SL_ROLE_READER < SL_ROLE_WRITER && SL_ROLE_WRITER < SL_ROLE_ADMIN &&
                SL_ROLE_ADMIN < SL_ROLE_PLATFORM);
}

static void test_token_shape(void **state)
{
    (void)state;
    char tok[SL_TOKEN_LEN + 1], id[SL_TOKEN_ID_LEN + 1], id2[SL_TOKEN_ID_LEN + 1];
    char tok2[SL_TOKEN_LEN + 1];
    assert_int_equal(sl_token_generate(tok, id), SL_OK);
    assert_int_equal(strlen(tok), SL_TOKEN_LEN);
    assert_int_equal(strncmp(tok, "slt_", 4), 0);
    assert_true(sl_token_shape(tok, strlen(tok), id2));
    assert_string_equal(id, id2);
    assert_int_equal(sl_token_generate(tok2, id2), SL_OK);
    assert_string_not_equal(tok, tok2);
    assert_false(sl_token_shape(tok, strlen(tok) - 1, NULL));
    tok[10] = 'G'; /* not hex in the id */
    assert_false(sl_token_shape(tok, strlen(tok), NULL));
    tok[10] = 'a';
    tok[30] = '+'; /* not base64url */
    assert_false(sl_token_shape(tok, strlen(tok), NULL));
    assert_false(sl_token_shape("eyJ.a.b", 7, NULL));
}

static void s_bad_config(const char *json, const char *msg, const char *where)
{
    char err[300] = "", w[200] = "";
    if (sl_auth_config_check(json, err, sizeof err, w, sizeof w) == 0) {
        fail_msg("accepted: %s", json);
    }
    if (!strstr(err, msg)) {
        fail_msg("%s: reason '%s' lacks '%s'", json, err, msg);
    }
    if (strcmp(w, where) != 0) {
        fail_msg("%s: where '%s', expected '%s'", json, w, where);
    }
}

static void test_config(void **state)
{
    (void)state;
    char err[300], w[200];
    assert_int_equal(sl_auth_config_check("\"none\"", err, sizeof err, w, sizeof w), 0);
    assert_int_equal(sl_auth_config_check("{\"tokens\":true}", err, sizeof err, w, sizeof w), 0);
    assert_int_equal(sl_auth_config_check("{}", err, sizeof err, w, sizeof w), 0);
    assert_int_equal(
        sl_auth_config_check("{\"tokens\":false,\"admin\":\"token\",\"okta\":{\"issuer\":"
                             "\"https://a.okta.com/oauth2/default\",\"role_map\":{\"g\":[\"acme:"
                             "reader\",\"beta:admin\"],\"ops\":\"platform-admin\"},"
                             "\"clock_skew\":\"10s\",\"jwks_min_interval\":0}}",
                             err, sizeof err, w, sizeof w),
        0);
    s_bad_config("\"open\"", "expected none", "");
    s_bad_config("{\"tokens\":\"yes\"}", "auth.tokens", "/tokens");
    s_bad_config("{\"colour\":1}", "unknown key 'colour'", "/colour");
    s_bad_config("{\"tokens\":false}", "nothing could authenticate", "");
    s_bad_config("{\"admin\":\"open\"}", "auth.admin", "/admin");
    s_bad_config("{\"okta\":{\"role_map\":{\"g\":\"acme:reader\"}}}", "missing issuer", "/okta");
    s_bad_config("{\"okta\":{\"issuer\":\"https://a/oauth2/default\"}}", "missing role_map",
                 "/okta");
    s_bad_config("{\"okta\":{\"issuer\":\"https://a\",\"role_map\":{\"g\":\"acme:root\"}}}",
                 "tenant:role", "/okta/role_map/g");
    s_bad_config(
        "{\"okta\":{\"issuer\":\"https://a\",\"role_map\":{\"g\":\"acme:platform-admin\"}}}",
        "tenant:role", "/okta/role_map/g");
    s_bad_config(
        "{\"okta\":{\"issuer\":\"https://a\",\"role_map\":{\"a/b\":\"bad tenant:reader\"}}}",
        "tenant:role", "/okta/role_map/a~1b");
    s_bad_config("{\"okta\":{\"issuer\":\"http://idp.example.com/oauth2/default\",\"role_map\":"
                 "{\"g\":\"acme:reader\"}}}",
                 "https://", "/okta");
    s_bad_config("{\"okta\":{\"issuer\":\"https://a\",\"clock_skew\":\"10m\",\"role_map\":{\"g\":"
                 "\"acme:reader\"}}}",
                 "okta.clock_skew", "/okta/clock_skew");
    s_bad_config("{\"okta\":{\"issuer\":\"https://a\",\"secret\":1}}", "unknown key 'secret'",
                 "/okta/secret");
}

static void test_listener_defaults(void **state)
{
    (void)state;
    char err[300];
    sl_auth_opts_t o = {.name = "t", .store_path = s_dir};
    /* nothing written: loopback serves without credentials, others refuse */
    o.loopback = 0;
    assert_null(sl_auth_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "without `auth`"));
    o.loopback = 1;
    sl_auth_t *a = sl_auth_new(&o, err, sizeof err);
    assert_non_null(a);
    assert_false(sl_auth_required(a));
    sl_auth_destroy(&a);
    assert_null(a);
    sl_auth_destroy(&a);
    /* auth none anywhere */
    o.config = "\"none\"";
    o.loopback = 0;
    a = sl_auth_new(&o, err, sizeof err);
    assert_non_null(a);
    assert_false(sl_auth_required(a));
    sl_auth_destroy(&a);
    /* tokens anywhere */
    o.config = "{\"tokens\":true}";
    a = sl_auth_new(&o, err, sizeof err);
    assert_true(sl_auth_required(a));
    sl_auth_destroy(&a);
    /* the admin listener: local needs loopback, token needs credentials */
    o.admin = 1;
    assert_null(sl_auth_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "loopback"));
    o.loopback = 1;
    a = sl_auth_new(&o, err, sizeof err);
    assert_false(sl_auth_required(a));
    sl_auth_destroy(&a);
    o.config = "{\"admin\":\"token\"}";
    o.loopback = 0;
    a = sl_auth_new(&o, err, sizeof err);
    assert_true(sl_auth_required(a));
    sl_auth_destroy(&a);
    /* a bad config says where */
    o.config = "{\"okta\":{\"issuer\":7}}";
    assert_null(sl_auth_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "at /okta/issuer"));
}

/*  A token of tenant/role in the test store; returns it (static). */
static const char *s_token(const char *tenant, sl_role_t role, int64_t expires_us, char *id)
{
    static char tok[8][SL_TOKEN_LEN + 1];
    static int n;
    char *t = tok[n++ % 8];
    char err[256];
    sl_store_opts_t so = {.path = s_dir, .nosync = 1};
    sl_store_t *st = sl_store_open(&so, err, sizeof err);
    assert_non_null(st);
    sl_token_info_t info = {.role = role, .created_us = sl_now_us(), .expires_us = expires_us};
    snprintf(info.tenant, sizeof info.tenant, "%s", tenant);
    assert_int_equal(sl_token_generate(t, info.id), SL_OK);
    assert_int_equal(sl_store_token_add(st, t, &info), SL_OK);
    if (id) {
        strcpy(id, info.id);
    }
    sl_store_close(&st);
    return t;
}

static void test_store_tokens(void **state)
{
    (void)state;
    char err[256], id[SL_TOKEN_ID_LEN + 1];
    sl_store_opts_t so = {.path = s_dir, .nosync = 1};
    sl_store_t *st = sl_store_open(&so, err, sizeof err);
    assert_non_null(st);
    sl_token_info_t info = {.role = SL_ROLE_WRITER, .created_us = 1};
    snprintf(info.tenant, sizeof info.tenant, "acme");
    snprintf(info.name, sizeof info.name, "ci");
    char tok[SL_TOKEN_LEN + 1];
    assert_int_equal(sl_token_generate(tok, info.id), SL_OK);
    strcpy(id, info.id);
    assert_int_equal(sl_store_token_add(st, tok, &info), SL_OK);
    assert_int_equal(sl_store_token_add(st, tok, &info), SL_EEXIST);
    sl_token_info_t got;
    assert_int_equal(sl_store_token_check(st, id, tok, strlen(tok), &got), SL_OK);
    assert_string_equal(got.tenant, "acme");
    assert_string_equal(got.name, "ci");
    assert_int_equal(got.role, SL_ROLE_WRITER);
    assert_int_equal(got.revoked_us, 0);
    /* the same id with another secret: not found, nothing given away */
    char forged[SL_TOKEN_LEN + 1];
    strcpy(forged, tok);
    forged[SL_TOKEN_LEN - 1] = forged[SL_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(sl_store_token_check(st, id, forged, strlen(forged), &got), SL_ENOTFOUND);
    assert_string_equal(got.tenant, "");
    assert_int_equal(sl_store_token_check(st, "0000000000000000", tok, strlen(tok), &got),
                     SL_ENOTFOUND);
    assert_int_equal(sl_store_token_check(st, "xyz", tok, strlen(tok), &got), SL_ENOTFOUND);
    assert_int_equal(sl_store_token_get(st, id, &got), SL_OK);
    assert_string_equal(got.tenant, "acme");
    assert_int_equal(sl_store_token_get(st, "0000000000000000", &got), SL_ENOTFOUND);
    assert_int_equal(sl_store_token_get(st, "../etc", &got), SL_ENOTFOUND);
    /* bad records refused */
    sl_token_info_t bad = info;
    snprintf(bad.id, sizeof bad.id, "00000000000000zz");
    assert_int_equal(sl_store_token_add(st, tok, &bad), SL_EINVAL);
    bad = info;
    bad.role = SL_ROLE_PLATFORM; /* platform-admin needs tenant "*" */
    assert_int_equal(sl_store_token_add(st, tok, &bad), SL_EINVAL);
    bad = info;
    snprintf(bad.tenant, sizeof bad.tenant, "a/b");
    assert_int_equal(sl_store_token_add(st, tok, &bad), SL_EINVAL);
    /* revoke: kept, marked */
    assert_int_equal(sl_store_token_revoke(st, id, 42), SL_OK);
    assert_int_equal(sl_store_token_revoke(st, id, 43), SL_EEXIST);
    assert_int_equal(sl_store_token_revoke(st, "0000000000000000", 43), SL_ENOTFOUND);
    assert_int_equal(sl_store_token_check(st, id, tok, strlen(tok), &got), SL_OK);
    assert_int_equal(got.revoked_us, 42);
    assert_true(sl_store_tokens_each(st, NULL, NULL) < 0);
    sl_store_close(&st);
}

static int s_count_fn(void *arg, const sl_token_info_t *t)
{
    (void)t;
    (*(int *)arg)++;
    return 0;
}

static sl_auth_t *s_auth(const char *config)
{
    char err[300];
    sl_auth_opts_t o = {.name = "unit", .store_path = s_dir, .config = config};
    sl_auth_t *a = sl_auth_new(&o, err, sizeof err);
    if (!a) {
        fail_msg("%s", err);
    }
    return a;
}

static int s_authn(sl_auth_t *a, const char *header_value, sl_principal_t *who, const char *code)
{
    sl_auth_err_t e;
    int rc = sl_auth_authenticate(a, header_value, who, &e);
    if (code && (rc == SL_OK || strcmp(e.code, code) != 0)) {
        fail_msg("expected %s, got %d %s (%s)", code, rc, rc ? e.code : "ok", e.message);
    }
    return rc;
}

static void test_authenticate_tokens(void **state)
{
    (void)state;
    char hdr[200], id[SL_TOKEN_ID_LEN + 1];
    sl_principal_t who;
    sl_auth_t *a = s_auth("{\"tokens\":true}");
    const char *tok = s_token("acme", SL_ROLE_READER, 0, id);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    assert_int_equal(s_authn(a, hdr, &who, NULL), SL_OK);
    assert_int_equal(who.method, SL_AUTH_TOKEN);
    assert_int_equal(who.n_grants, 1);
    assert_string_equal(who.grants[0].tenant, "acme");
    assert_int_equal(who.grants[0].role, SL_ROLE_READER);
    char subj[64];
    snprintf(subj, sizeof subj, "token:%s", id);
    assert_string_equal(who.subject, subj);
    snprintf(hdr, sizeof hdr, "bearer   %s  ", tok); /* scheme case, spaces */
    assert_int_equal(s_authn(a, hdr, &who, NULL), SL_OK);

    s_authn(a, NULL, &who, "missing");
    s_authn(a, "", &who, "missing");
    s_authn(a, "Basic dXNlcjpwYXNz", &who, "malformed");
    s_authn(a, "Bearer", &who, "malformed");
    s_authn(a, "Bearer a b", &who, "malformed");
    s_authn(a, "Bearer not-a-token", &who, "malformed");
    s_authn(a, "Bearer eyJhbGciOiJSUzI1NiJ9.e30.AA", &who, "not_accepted"); /* no okta */
    char forged[SL_TOKEN_LEN + 1];
    strcpy(forged, tok);
    forged[SL_TOKEN_LEN - 2] = forged[SL_TOKEN_LEN - 2] == 'x' ? 'y' : 'x';
    snprintf(hdr, sizeof hdr, "Bearer %s", forged);
    s_authn(a, hdr, &who, "unknown_token");

    /* expired */
    const char *old = s_token("acme", SL_ROLE_READER, sl_now_us() - 1000000, NULL);
    snprintf(hdr, sizeof hdr, "Bearer %s", old);
    s_authn(a, hdr, &who, "expired");
    /* revoked, while the server holds the store open */
    const char *rv = s_token("acme", SL_ROLE_WRITER, 0, id);
    snprintf(hdr, sizeof hdr, "Bearer %s", rv);
    assert_int_equal(s_authn(a, hdr, &who, NULL), SL_OK);
    char err[256];
    sl_store_opts_t so = {.path = s_dir, .nosync = 1};
    sl_store_t *st = sl_store_open(&so, err, sizeof err);
    assert_int_equal(sl_store_token_revoke(st, id, sl_now_us()), SL_OK);
    int n = 0;
    assert_true(sl_store_tokens_each(st, s_count_fn, &n) >= 3);
    assert_int_equal(n, sl_store_tokens_each(st, s_count_fn, &(int){0}));
    sl_store_close(&st);
    s_authn(a, hdr, &who, "revoked");
    sl_auth_destroy(&a);

    /* tokens: false refuses API tokens even when they are good */
    a = s_auth("{\"tokens\":false,\"okta\":{\"issuer\":\"https://a\",\"role_map\":{\"g\":\"acme:"
               "reader\"}}}");
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    s_authn(a, hdr, &who, "not_accepted");
    sl_auth_destroy(&a);
}

static sl_principal_t s_who(int n, const char *const *tenants, const sl_role_t *roles)
{
    sl_principal_t w = {.method = SL_AUTH_TOKEN, .n_grants = n};
    for (int i = 0; i < n; i++) {
        snprintf(w.grants[i].tenant, sizeof w.grants[i].tenant, "%s", tenants[i]);
        w.grants[i].role = roles[i];
    }
    return w;
}

static void s_az(const sl_principal_t *w, const char *hdr, sl_role_t need, int rc,
                 const char *tenant_or_code)
{
    char t[SL_AUTH_TENANT_MAX + 1];
    sl_auth_err_t e;
    int got = sl_auth_authorize(w, hdr, need, t, &e);
    if (got != rc) {
        fail_msg("header %s need %d: expected %d, got %d (%s)", hdr ? hdr : "-", need, rc, got,
                 got ? e.message : t);
    }
    assert_string_equal(rc == SL_OK ? t : e.code, tenant_or_code);
}

static void test_authorize(void **state)
{
    (void)state;
    const char *acme[] = {"acme"}, *two[] = {"acme", "beta"}, *plat[] = {"*"};
    sl_role_t reader[] = {SL_ROLE_READER}, rw[] = {SL_ROLE_READER, SL_ROLE_WRITER};
    sl_role_t admin[] = {SL_ROLE_ADMIN}, pa[] = {SL_ROLE_PLATFORM};
    sl_principal_t r = s_who(1, acme, reader), m = s_who(2, two, rw);
    sl_principal_t ad = s_who(1, acme, admin), p = s_who(1, plat, pa);

    s_az(&r, NULL, SL_ROLE_READER, SL_OK, "acme");
    s_az(&r, "acme", SL_ROLE_READER, SL_OK, "acme");
    s_az(&r, "beta", SL_ROLE_READER, SL_EPERM, "forbidden_tenant"); /* spoofed header */
    s_az(&r, NULL, SL_ROLE_WRITER, SL_EPERM, "forbidden_role");
    s_az(&r, "bad/tenant", SL_ROLE_READER, SL_EINVAL, "bad_tenant");
    s_az(&ad, NULL, SL_ROLE_WRITER, SL_OK, "acme"); /* admin includes writer */
    s_az(&ad, NULL, SL_ROLE_PLATFORM, SL_EPERM, "forbidden_role");
    s_az(&m, NULL, SL_ROLE_READER, SL_EINVAL, "ambiguous_tenant");
    s_az(&m, "beta", SL_ROLE_WRITER, SL_OK, "beta");
    s_az(&m, "acme", SL_ROLE_WRITER, SL_EPERM, "forbidden_role");
    s_az(&m, "gamma", SL_ROLE_READER, SL_EPERM, "forbidden_tenant");
    s_az(&p, NULL, SL_ROLE_PLATFORM, SL_OK, "");
    s_az(&p, "beta", SL_ROLE_ADMIN, SL_OK, "beta");
    sl_principal_t none = {0};
    s_az(&none, NULL, SL_ROLE_READER, SL_EPERM, "no_role");
}

static void test_mc_secrets(void **state)
{
    (void)state;
    char err[300], where[100];
    assert_int_equal(sl_mc_secrets_check("{\"acme\":{\"secret\":\"s1\",\"token\":\"t1\"},"
                                         "\"beta\":{\"token\":\"t2\"}}",
                                         err, sizeof err, where, sizeof where),
                     0);
    /* one value, two tenants: refused, and the value is never echoed */
    assert_int_not_equal(sl_mc_secrets_check("{\"acme\":{\"secret\":\"hunter2\"},\"beta\":{"
                                             "\"token\":\"hunter2\"}}",
                                             err, sizeof err, where, sizeof where),
                         0);
    assert_null(strstr(err, "hunter2"));
    assert_string_equal(where, "/beta");
    assert_int_not_equal(sl_mc_secrets_check("{\"acme\":{}}", err, sizeof err, where, sizeof where),
                         0);
    assert_int_not_equal(sl_mc_secrets_check("{\"acme\":{\"secret\":\"x\",\"colour\":\"y\"}}", err,
                                             sizeof err, where, sizeof where),
                         0);
    assert_int_not_equal(
        sl_mc_secrets_check("{\"a b\":{\"secret\":\"x\"}}", err, sizeof err, where, sizeof where),
        0);

    sl_mc_secrets_t *s = sl_mc_secrets_new("{\"acme\":{\"secret\":\"sa\",\"token\":\"ta\"},"
                                           "\"beta\":{\"secret\":\"sb\"}}",
                                           err, sizeof err);
    assert_non_null(s);
    assert_int_equal(sl_mc_secrets_count(s), 2);
    assert_int_equal(sl_mc_secrets_add(s, "gamma", "sa", NULL), SL_EEXIST);
    assert_int_equal(sl_mc_secrets_add(s, "acme", "other", NULL), SL_EEXIST);
    assert_int_equal(sl_mc_secrets_add(s, "gamma", NULL, "tg"), SL_OK);
    assert_string_equal(sl_mc_secrets_by_token(s, "ta"), "acme");
    assert_string_equal(sl_mc_secrets_by_token(s, "tg"), "gamma");
    assert_null(sl_mc_secrets_by_token(s, "sa")); /* a secret is not a token */
    assert_null(sl_mc_secrets_by_token(s, "t"));
    const char *body = "{\"action\":\"incident\",\"n\":1}";
    char sig[129];
    assert_int_equal(sl_montecarlo_sign("sb", body, strlen(body), 0, sig), SL_OK);
    assert_string_equal(sl_mc_secrets_by_signature(s, NULL, body, strlen(body), sig), "beta");
    assert_string_equal(sl_mc_secrets_by_signature(s, "beta", body, strlen(body), sig), "beta");
    assert_null(sl_mc_secrets_by_signature(s, "acme", body, strlen(body), sig));
    assert_int_equal(sl_montecarlo_sign("sa", body, strlen(body), 1, sig), SL_OK);
    assert_string_equal(sl_mc_secrets_by_signature(s, NULL, body, strlen(body), sig), "acme");
    assert_null(sl_mc_secrets_by_signature(s, NULL, body, strlen(body), "00"));
    sl_mc_secrets_destroy(&s);
    assert_null(s);
    sl_mc_secrets_destroy(&s);
}

static void test_quota(void **state)
{
    (void)state;
    char err[300], where[100];
    assert_int_equal(sl_quota_config_check("{\"tenants\":{\"acme\":{\"events_per_second\":10,"
                                           "\"burst\":20},\"*\":{\"store_size\":\"1GiB\"}}}",
                                           err, sizeof err, where, sizeof where),
                     0);
    assert_int_not_equal(sl_quota_config_check("{\"tenants\":{\"acme\":{\"events_per_second\":0}}}",
                                               err, sizeof err, where, sizeof where),
                         0);
    assert_string_equal(where, "/tenants/acme/events_per_second");
    assert_int_not_equal(sl_quota_config_check("{\"tenants\":{\"acme\":{\"burst\":5}}}", err,
                                               sizeof err, where, sizeof where),
                         0);
    assert_int_not_equal(sl_quota_config_check("{\"tenants\":{\"acme\":{\"store_size\":\"big\"}}}",
                                               err, sizeof err, where, sizeof where),
                         0);
    assert_int_not_equal(sl_quota_config_check("{}", err, sizeof err, where, sizeof where), 0);

    sl_quota_t *q = sl_quota_new("{\"tenants\":{\"acme\":{\"events_per_second\":1,\"burst\":5},"
                                 "\"*\":{\"events_per_second\":1000}}}",
                                 s_dir, "unit", err, sizeof err);
    assert_non_null(q);
    unsigned retry = 0;
    assert_int_equal(sl_quota_take(q, "acme", 5, &retry), SL_OK);
    assert_int_equal(sl_quota_take(q, "acme", 2, &retry), SL_EAGAIN);
    assert_in_range(retry, 1, 3);
    assert_int_equal(sl_quota_take(q, "acme", 6, &retry), SL_ERANGE); /* over the burst */
    sl_quota_give(q, "acme", 2);
    assert_int_equal(sl_quota_take(q, "acme", 2, &retry), SL_OK);
    /* another tenant has its own bucket (from "*") */
    assert_int_equal(sl_quota_take(q, "beta", 900, &retry), SL_OK);
    assert_int_equal(sl_quota_take(q, "gamma", 900, &retry), SL_OK);
    assert_int_equal(sl_quota_size(q, "acme", NULL, NULL), SL_OK); /* no size limit */
    assert_true(sl_quota_measured(q));
    sl_quota_destroy(&q);
    assert_null(q);
}

/*  The glue refuses before any handler runs. */
static int s_handler(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    (*(int *)arg)++;
    return sl_http_json(resp, 200, req->tenant ? req->tenant : "-", 1);
}

typedef struct {
    const char *names[4];
    const char *values[4];
} s_hdrs_t;

static const char *s_hdr(void *arg, const char *name)
{
    s_hdrs_t *h = arg;
    for (int i = 0; i < 4 && h->names[i]; i++) {
        if (strcasecmp(h->names[i], name) == 0) {
            return h->values[i];
        }
    }
    return NULL;
}

static void test_glue(void **state)
{
    (void)state;
    char err[300], bearer[200];
    int calls = 0;
    sl_auth_t *a = s_auth("{\"tokens\":true}");
    sl_http_opts_t ho = {.listen = "127.0.0.1:0", .auth = a, .log_name = "glue"};
    sl_http_t *h = sl_http_new(&ho, err, sizeof err);
    assert_non_null(h);
    assert_true(sl_http_loopback(h));
    assert_int_equal(sl_http_route(h, "GET", "/r", SL_HTTP_ROLE(SL_ROLE_READER), s_handler, &calls),
                     0);
    assert_int_equal(
        sl_http_route(h, "POST", "/w", SL_HTTP_ROLE(SL_ROLE_WRITER), s_handler, &calls), 0);
    assert_int_equal(sl_http_route(h, "GET", "/closed", 0, s_handler, &calls), 0);
    assert_int_equal(sl_http_route(h, "POST", "/hook", SL_HTTP_PUBLIC, s_handler, &calls), 0);
    const char *tok = s_token("acme", SL_ROLE_READER, 0, NULL);
    snprintf(bearer, sizeof bearer, "Bearer %s", tok);
    s_hdrs_t none = {0}, good = {{"Authorization"}, {bearer}};
    s_hdrs_t spoof = {{"Authorization", "X-Tenant-ID"}, {bearer, "beta"}};
    sl_http_resp_t resp;
    uint64_t before = sl_metrics_counted("sluice_auth_failures_total", "listener", "unit", "status",
                                         "401", "reason", "missing", NULL);
    sl_http_dispatch(h, "GET", "/r?x=%zz", s_hdr, &none, NULL, 0, &resp);
    assert_int_equal(resp.status, 401); /* before the malformed query is looked at */
    assert_non_null(resp.www_authenticate);
    sl_http_resp_free(&resp);
    assert_int_equal(sl_metrics_counted("sluice_auth_failures_total", "listener", "unit", "status",
                                        "401", "reason", "missing", NULL),
                     before + 1);
    sl_http_dispatch(h, "GET", "/nowhere", s_hdr, &none, NULL, 0, &resp);
    assert_int_equal(resp.status, 401); /* no route: still 401 first */
    sl_http_resp_free(&resp);
    sl_http_dispatch(h, "GET", "/nowhere", s_hdr, &good, NULL, 0, &resp);
    assert_int_equal(resp.status, 404);
    sl_http_resp_free(&resp);
    sl_http_dispatch(h, "GET", "/r", s_hdr, &good, NULL, 0, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(calls, 1);
    assert_memory_equal(resp.body.data, "a", 1); /* req->tenant was acme */
    sl_http_resp_free(&resp);
    sl_http_dispatch(h, "GET", "/r", s_hdr, &spoof, NULL, 0, &resp);
    assert_int_equal(resp.status, 403);
    assert_non_null(strstr((const char *)resp.body.data, "forbidden_tenant"));
    sl_http_resp_free(&resp);
    sl_http_dispatch(h, "POST", "/w", s_hdr, &good, (const uint8_t *)"{}", 2, &resp);
    assert_int_equal(resp.status, 403); /* a reader cannot write */
    sl_http_resp_free(&resp);
    sl_http_dispatch(h, "GET", "/closed", s_hdr, &good, NULL, 0, &resp);
    assert_int_equal(resp.status, 403); /* a route without a role needs platform-admin */
    sl_http_resp_free(&resp);
    sl_http_dispatch(h, "POST", "/hook", s_hdr, &none, NULL, 0, &resp);
    assert_int_equal(resp.status, 200); /* public: its own scheme */
    assert_int_equal(calls, 2);
    sl_http_resp_free(&resp);
    sl_http_destroy(&h);
    sl_auth_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),        cmocka_unit_test(test_token_shape),
        cmocka_unit_test(test_config),       cmocka_unit_test(test_listener_defaults),
        cmocka_unit_test(test_store_tokens), cmocka_unit_test(test_authenticate_tokens),
        cmocka_unit_test(test_authorize),    cmocka_unit_test(test_mc_secrets),
        cmocka_unit_test(test_quota),        cmocka_unit_test(test_glue),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
