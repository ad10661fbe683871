/*  Authentication and authorization of HTTP requests (see sluice/auth.h,
    docs/auth.md).

    The check of a request is on every request's path, so it allocates
    nothing: an API token is one LMDB read transaction and one keyed hash;
    an Okta token is one RSA verification with a cached key. Refusals are
    the rare path: they are counted and logged (rate limited, so a client
    hammering with a bad token cannot flood the log). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "sluice/actor.h"
#include "sluice/auth.h"
#include "sluice/jwt.h"
#include "sluice/log.h"
#include "sluice/metrics.h"
#include "sluice/store.h"

#define S_MAP_MAX 256    /* role_map entries */
#define S_LOG_PER_SEC 20 /* refusals logged one by one per second */
#define S_FAMILY_FAIL "sluice_auth_failures_total"
#define S_HELP_FAIL                                                                                \
    "HTTP requests refused by authentication or authorization, by listener, status and reason."
#define S_FAMILY_OK "sluice_auth_ok_total"
#define S_HELP_OK "HTTP requests whose credential was accepted, by listener and method."

/* ------------------------------------------------------------ roles */

static const char *const s_roles[] = {"none", "reader", "writer", "admin", "platform-admin"};

const char *sl_role_name(sl_role_t role)
{
    return role >= SL_ROLE_NONE && role <= SL_ROLE_PLATFORM ? s_roles[role] : "none";
}

int sl_role_parse(const char *name, sl_role_t *role)
{
    for (int i = SL_ROLE_READER; name && i <= SL_ROLE_PLATFORM; i++) {
        if (strcmp(name, s_roles[i]) == 0) {
            *role = (sl_role_t)i;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

int sl_auth_fail(sl_auth_err_t *e, int rc, const char *code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ------------------------------------------------------------ API tokens */

static int s_b64url_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int sl_token_generate(char token[SL_TOKEN_LEN + 1], char id[SL_TOKEN_ID_LEN + 1])
{
    uint8_t idb[SL_TOKEN_ID_LEN / 2], secret[32];
    char b64[64];
    if (sodium_init() < 0) {
        return SL_ENOMEM;
    }
    randombytes_buf(idb, sizeof idb);
    randombytes_buf(secret, sizeof secret);
    sodium_bin2hex(id, SL_TOKEN_ID_LEN + 1, idb, sizeof idb);
    sodium_bin2base64(b64, sizeof b64, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    const size_t pl = sizeof SL_TOKEN_PREFIX - 1;
    memcpy(token, SL_TOKEN_PREFIX, pl);
    memcpy(token + pl, id, SL_TOKEN_ID_LEN);
    token[pl + SL_TOKEN_ID_LEN] = '_';
    memcpy(token + pl + SL_TOKEN_ID_LEN + 1, b64, 43); /* 32 bytes: 43 characters */
    token[SL_TOKEN_LEN] = '\0';
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(b64, sizeof b64);
    return SL_OK;
}

int sl_token_shape(const char *text, size_t len, char id[SL_TOKEN_ID_LEN + 1])
{
    const size_t pl = sizeof SL_TOKEN_PREFIX - 1;
    if (!text || len != SL_TOKEN_LEN || memcmp(text, SL_TOKEN_PREFIX, pl) != 0 ||
        text[pl + SL_TOKEN_ID_LEN] != '_') {
        return 0;
    }
    for (size_t i = pl; i < pl + SL_TOKEN_ID_LEN; i++) {
        char c = text[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    for (size_t i = pl + SL_TOKEN_ID_LEN + 1; i < len; i++) {
        if (!s_b64url_char((unsigned char)text[i])) {
            return 0;
        }
    }
    if (id) {
        memcpy(id, text + pl, SL_TOKEN_ID_LEN);
        id[SL_TOKEN_ID_LEN] = '\0';
    }
    return 1;
}

/* ------------------------------------------------------------ configuration */

typedef struct {
    char *value;
    int n;
    sl_grant_t grants[SL_AUTH_GRANTS];
} s_map_entry_t;

typedef struct {
    int none;
    int tokens;
    int admin_token;
    int okta;
    char *issuer, *audience, *jwks_url, *roles_claim;
    int64_t skew_us, min_interval_us, max_age_us, timeout_us;
    s_map_entry_t *map; /* sorted by value */
    int n_map;
} s_conf_t;

static void s_conf_free(s_conf_t *c)
{
    free(c->issuer);
    free(c->audience);
    free(c->jwks_url);
    free(c->roles_claim);
    for (int i = 0; i < c->n_map; i++) {
        free(c->map[i].value);
    }
    free(c->map);
    memset(c, 0, sizeof *c);
}

/*  "platform-admin" or "TENANT:ROLE". */
static int s_grant_parse(const char *text, sl_grant_t *g)
{
    if (strcmp(text, "platform-admin") == 0) {
        snprintf(g->tenant, sizeof g->tenant, "%s", SL_AUTH_PLATFORM);
        g->role = SL_ROLE_PLATFORM;
        return SL_OK;
    }
    const char *colon = strchr(text, ':');
    if (!colon || (size_t)(colon - text) > SL_AUTH_TENANT_MAX) {
        return SL_EINVAL;
    }
    char t[SL_AUTH_TENANT_MAX + 1];
    memcpy(t, text, (size_t)(colon - text));
    t[colon - text] = '\0';
    sl_role_t r;
    if (!sl_name_ok(t, SL_AUTH_TENANT_MAX) || sl_role_parse(colon + 1, &r) != SL_OK ||
        r == SL_ROLE_PLATFORM) {
        return SL_EINVAL;
    }
    snprintf(g->tenant, sizeof g->tenant, "%s", t);
    g->role = r;
    return SL_OK;
}

static int s_map_cmp(const void *a, const void *b)
{
    return strcmp(((const s_map_entry_t *)a)->value, ((const s_map_entry_t *)b)->value);
}

static int s_role_map(json_t *m, s_conf_t *c, char *err, size_t errlen, char *where,
                      size_t wherelen)
{
    char at[300];
    if (!json_is_object(m)) {
        return sl_opt_check_fail(
            err, errlen, where, wherelen, "/okta/role_map",
            "okta.role_map: expected a map of claim value -> \"tenant:role\" (or a "
            "list of them, or \"platform-admin\")");
    }
    if (json_object_size(m) > S_MAP_MAX) {
        return sl_opt_check_fail(err, errlen, where, wherelen, "/okta/role_map",
                                 "okta.role_map: more than %d entries", S_MAP_MAX);
    }
    c->map = calloc(json_object_size(m) + 1, sizeof *c->map);
    if (!c->map) {
        return SL_ENOMEM;
    }
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
    {
        sl_opt_json_pointer(at, sizeof at, "/okta/role_map", key);
        if (!*key || strlen(key) > SL_JWT_VALUE_MAX) {
            return sl_opt_check_fail(err, errlen, where, wherelen, at,
                                     "okta.role_map: a claim value must be 1 to %d bytes",
                                     SL_JWT_VALUE_MAX);
        }
        s_map_entry_t *e = &c->map[c->n_map];
        if (!(e->value = strdup(key))) {
            return SL_ENOMEM;
        }
        c->n_map++;
        json_t *one = v;
        size_t count = json_is_array(v) ? json_array_size(v) : 1;
        if (count == 0 || count > SL_AUTH_GRANTS) {
            return sl_opt_check_fail(err, errlen, where, wherelen, at,
                                     "okta.role_map: 1 to %d grants per claim value",
                                     SL_AUTH_GRANTS);
        }
        for (size_t i = 0; i < count; i++) {
            if (json_is_array(v)) {
                one = json_array_get(v, i);
            }
            if (!json_is_string(one) ||
                s_grant_parse(json_string_value(one), &e->grants[e->n]) != SL_OK) {
                return sl_opt_check_fail(
                    err, errlen, where, wherelen, at,
                    "okta.role_map: expected \"tenant:role\" (role reader, writer or "
                    "admin) or \"platform-admin\"");
            }
            e->n++;
        }
    }
    qsort(c->map, (size_t)c->n_map, sizeof *c->map, s_map_cmp);
    return SL_OK;
}

/*  A duration setting of okta, bounded. */
static int s_dur(json_t *v, const char *name, int64_t lo, int64_t hi, int64_t *out, char *err,
                 size_t errlen, char *where, size_t wherelen)
{
    char at[96], e1[256];
    snprintf(at, sizeof at, "/okta/%s", name);
    char full[64];
    snprintf(full, sizeof full, "okta.%s", name);
    if (sl_opt_parse_json(SL_OPT_DURATION, full, v, out, e1, sizeof e1) != SL_OK) {
        return sl_opt_check_fail(err, errlen, where, wherelen, at, "%s", e1);
    }
    if (*out < lo || *out > hi) {
        return sl_opt_check_fail(err, errlen, where, wherelen, at,
                                 "%s: must be from %llds to %llds", full, (long long)(lo / 1000000),
                                 (long long)(hi / 1000000));
    }
    return SL_OK;
}

static int s_str_setting(json_t *v, const char *name, size_t max, char **out, char *err,
                         size_t errlen, char *where, size_t wherelen)
{
    char at[96];
    snprintf(at, sizeof at, "/okta/%s", name);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        return sl_opt_check_fail(err, errlen, where, wherelen, at,
                                 "okta.%s: expected a string of 1 to %zu bytes", name, max);
    }
    free(*out);
    *out = strdup(json_string_value(v));
    return *out ? SL_OK : SL_ENOMEM;
}

static int s_okta(json_t *o, s_conf_t *c, char *err, size_t errlen, char *where, size_t wherelen)
{
    if (!json_is_object(o)) {
        return sl_opt_check_fail(
            err, errlen, where, wherelen, "/okta",
            "okta: expected a map with issuer, audience, jwks_url, roles_claim, "
            "role_map");
    }
    c->okta = 1;
    const char *key;
    json_t *v;
    int rc = SL_OK;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "issuer") == 0) {
            rc = s_str_setting(v, key, 1024, &c->issuer, err, errlen, where, wherelen);
        } else if (strcmp(key, "audience") == 0) {
            rc = s_str_setting(v, key, 1024, &c->audience, err, errlen, where, wherelen);
        } else if (strcmp(key, "jwks_url") == 0) {
            rc = s_str_setting(v, key, 2048, &c->jwks_url, err, errlen, where, wherelen);
        } else if (strcmp(key, "roles_claim") == 0) {
            rc = s_str_setting(v, key, 64, &c->roles_claim, err, errlen, where, wherelen);
        } else if (strcmp(key, "role_map") == 0) {
            rc = s_role_map(v, c, err, errlen, where, wherelen);
        } else if (strcmp(key, "clock_skew") == 0) {
            rc = s_dur(v, key, 0, 300LL * 1000000, &c->skew_us, err, errlen, where, wherelen);
        } else if (strcmp(key, "jwks_min_interval") == 0) {
            rc = s_dur(v, key, 0, 3600LL * 1000000, &c->min_interval_us, err, errlen, where,
                       wherelen);
        } else if (strcmp(key, "jwks_max_age") == 0) {
            rc = s_dur(v, key, 1000000, 7 * 86400LL * 1000000, &c->max_age_us, err, errlen, where,
                       wherelen);
        } else if (strcmp(key, "timeout") == 0) {
            rc =
                s_dur(v, key, 100000, 60LL * 1000000, &c->timeout_us, err, errlen, where, wherelen);
        } else {
            char at[300];
            sl_opt_json_pointer(at, sizeof at, "/okta", key);
            rc = sl_opt_check_fail(
                err, errlen, where, wherelen, at,
                "okta: unknown key '%.64s' (expected: issuer, audience, jwks_url, "
                "roles_claim, role_map, clock_skew, jwks_min_interval, jwks_max_age, "
                "timeout)",
                key);
        }
        if (rc) {
            return rc;
        }
    }
    if (!c->issuer) {
        return sl_opt_check_fail(
            err, errlen, where, wherelen, "/okta",
            "okta: missing issuer (e.g. https://acme.okta.com/oauth2/default)");
    }
    if (c->n_map == 0) {
        return sl_opt_check_fail(
            err, errlen, where, wherelen, "/okta",
            "okta: missing role_map (claim value -> \"tenant:role\"): without it no "
            "Okta token grants anything");
    }
    if (!c->audience && !(c->audience = strdup("api://default"))) {
        return SL_ENOMEM;
    }
    if (!c->roles_claim && !(c->roles_claim = strdup("groups"))) {
        return SL_ENOMEM;
    }
    if (!c->jwks_url) {
        size_t n = strlen(c->issuer);
        while (n > 0 && c->issuer[n - 1] == '/') {
            n--;
        }
        if (asprintf(&c->jwks_url, "%.*s/v1/keys", (int)n, c->issuer) < 0) {
            c->jwks_url = NULL;
            return SL_ENOMEM;
        }
    }
    char why[256];
    if (sl_jwks_url_check(c->jwks_url, why, sizeof why) != 0) {
        return sl_opt_check_fail(err, errlen, where, wherelen, "/okta", "okta: %s", why);
    }
    return SL_OK;
}

static int s_conf_parse(const char *json, s_conf_t *c, char *err, size_t errlen, char *where,
                        size_t wherelen)
{
    json_error_t je;
    memset(c, 0, sizeof *c);
    c->tokens = 1;
    c->skew_us = 30LL * 1000000;
    c->min_interval_us = 30LL * 1000000;
    c->max_age_us = 3600LL * 1000000;
    c->timeout_us = 5LL * 1000000;
    where[0] = '\0';
    json_t *root = json_loads(json ? json : "", JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    int rc = SL_OK;
    if (json_is_string(root) && strcmp(json_string_value(root), "none") == 0) {
        c->none = 1;
        goto done;
    }
    if (!json_is_object(root)) {
        rc = sl_opt_check_fail(err, errlen, where, wherelen, "",
                               "auth: expected none, or a map with tokens, okta and admin");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "tokens") == 0) {
            if (!json_is_boolean(v)) {
                rc = sl_opt_check_fail(err, errlen, where, wherelen, "/tokens",
                                       "auth.tokens: expected true or false");
                goto done;
            }
            c->tokens = json_is_true(v);
        } else if (strcmp(key, "admin") == 0) {
            const char *m = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(m, "local") != 0 && strcmp(m, "token") != 0) {
                rc = sl_opt_check_fail(
                    err, errlen, where, wherelen, "/admin",
                    "auth.admin: expected local (loopback only, no credential) or token "
                    "(a platform-admin credential on every request)");
                goto done;
            }
            c->admin_token = strcmp(m, "token") == 0;
        } else if (strcmp(key, "okta") == 0) {
            if ((rc = s_okta(v, c, err, errlen, where, wherelen)) != SL_OK) {
                goto done;
            }
        } else {
            char at[300];
            sl_opt_json_pointer(at, sizeof at, "", key);
            rc =
                sl_opt_check_fail(err, errlen, where, wherelen, at,
                                  "auth: unknown key '%.64s' (expected: tokens, okta, admin)", key);
            goto done;
        }
    }
    if (!c->tokens && !c->okta) {
        rc = sl_opt_check_fail(
            err, errlen, where, wherelen, "",
            "auth: nothing could authenticate (tokens: false and no okta); write auth: "
            "none to serve without credentials");
    }
done:
    json_decref(root);
    if (rc == SL_ENOMEM) {
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}

int sl_auth_config_check(const char *json, char *err, size_t errlen, char *where, size_t wherelen)
{
    s_conf_t c;
    char w[300];
    int rc = s_conf_parse(json, &c, err, errlen, w, sizeof w);
    if (where && wherelen) {
        snprintf(where, wherelen, "%s", w);
    }
    s_conf_free(&c);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------ the object */

struct sl_auth {
    s_conf_t conf;
    int required;
    char name[64];
    char desc[300];
    char *store_path;
    pthread_mutex_t mu; /* store */
    sl_store_t *store;
    int store_logged;
    sl_jwks_cache_t *jwks;
    sl_counter_t *ok[SL_AUTH_WEBHOOK + 1];
    pthread_mutex_t log_mu;
    int64_t log_sec;
    int log_n;
    uint64_t log_suppressed;
};

void sl_auth_destroy(sl_auth_t **pa)
{
    if (!pa || !*pa) {
        return;
    }
    sl_auth_t *a = *pa;
    if (a->log_suppressed) {
        sl_warn(a->name, "%llu more refused requests (not logged one by one)",
                (unsigned long long)a->log_suppressed);
    }
    sl_jwks_cache_destroy(&a->jwks);
    sl_store_close(&a->store);
    s_conf_free(&a->conf);
    free(a->store_path);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->log_mu);
    free(a);
    *pa = NULL;
}

sl_auth_t *sl_auth_new(const sl_auth_opts_t *o, char *err, size_t errlen)
{
    char where[300], why[512];
    sl_auth_t *a = NULL;
    if (!o) {
        snprintf(err, errlen, "no options");
        return NULL;
    }
    const char *name = o->name ? o->name : "http";
    if (!(a = calloc(1, sizeof *a))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->log_mu, NULL);
    snprintf(a->name, sizeof a->name, "%s", name);
    if (o->store_path && !(a->store_path = strdup(o->store_path))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!o->config) {
        /*  Nothing written: loopback only, and say so. */
        if (!o->loopback) {
            snprintf(err, errlen,
                     "%s listens beyond this machine without `auth`: configure auth (API "
                     "tokens, okta) or write auth: none to serve without credentials",
                     o->admin ? "the admin listener" : "this listener");
            goto fail;
        }
        a->conf.none = 1;
        snprintf(a->desc, sizeof a->desc, "none (no auth configured; loopback only)");
        return a;
    }
    if (s_conf_parse(o->config, &a->conf, why, sizeof why, where, sizeof where) != SL_OK) {
        snprintf(err, errlen, "%s%s%s", why, where[0] ? " at " : "", where);
        goto fail;
    }
    if (a->conf.none) {
        snprintf(a->desc, sizeof a->desc, "none (auth: none)");
        return a;
    }
    if (o->admin && !a->conf.admin_token) {
        if (!o->loopback) {
            snprintf(err, errlen,
                     "the admin listener must be bound to a loopback address with auth.admin: "
                     "local (the default); set auth.admin: token to serve it beyond this "
                     "machine with a platform-admin credential");
            goto fail;
        }
        snprintf(a->desc, sizeof a->desc, "local (loopback only, auth.admin: local)");
        a->conf.none = 1;
        return a;
    }
    if (a->conf.tokens && !o->store_path) {
        snprintf(err, errlen,
                 "auth.tokens needs the topology's store (store: {path}): the tokens are kept "
                 "there (sluice token create)");
        goto fail;
    }
    a->required = 1;
    if (a->conf.okta) {
        sl_jwks_cache_opts_t jo = {
            .url = a->conf.jwks_url,
            .min_interval_us = a->conf.min_interval_us,
            .max_age_us = a->conf.max_age_us,
            .timeout_us = a->conf.timeout_us,
            .log_name = a->name,
        };
        if (!(a->jwks = sl_jwks_cache_new(&jo, why, sizeof why))) {
            snprintf(err, errlen, "okta: %s", why);
            goto fail;
        }
    }
    snprintf(a->desc, sizeof a->desc, "%s%s%s%s%s", a->conf.tokens ? "API tokens" : "",
             a->conf.tokens && a->conf.okta ? " and " : "", a->conf.okta ? "Okta (" : "",
             a->conf.okta ? a->conf.issuer : "", a->conf.okta ? ")" : "");
    for (int m = SL_AUTH_TOKEN; m <= SL_AUTH_JWT; m++) {
        a->ok[m] = sl_metrics_counter(S_FAMILY_OK, S_HELP_OK, "listener", a->name, "method",
                                      m == SL_AUTH_TOKEN ? "token" : "okta", NULL);
    }
    return a;
fail:
    sl_auth_destroy(&a);
    return NULL;
}

int sl_auth_required(const sl_auth_t *a)
{
    return a && a->required;
}

const char *sl_auth_describe(const sl_auth_t *a)
{
    return a ? a->desc : "none";
}

const char *sl_auth_name(const sl_auth_t *a)
{
    return a ? a->name : "http";
}

/* ------------------------------------------------------------ requests */

/*  The store, opened at the first token (see sl_auth_new). */
static sl_store_t *s_store(sl_auth_t *a)
{
    char err[256] = "";
    pthread_mutex_lock(&a->mu);
    if (!a->store) {
        sl_store_opts_t so = {.path = a->store_path};
        a->store = sl_store_open(&so, err, sizeof err);
        if (!a->store && !a->store_logged) {
            a->store_logged = 1;
            sl_error(a->name, "cannot open the token store %s: %s", a->store_path, err);
        }
    }
    sl_store_t *s = a->store;
    pthread_mutex_unlock(&a->mu);
    return s;
}

static void s_grant_add(sl_principal_t *who, const char *tenant, sl_role_t role)
{
    if (role == SL_ROLE_PLATFORM) {
        who->n_grants = 1;
        snprintf(who->grants[0].tenant, sizeof who->grants[0].tenant, "%s", SL_AUTH_PLATFORM);
        who->grants[0].role = SL_ROLE_PLATFORM;
        return;
    }
    for (int i = 0; i < who->n_grants; i++) {
        if (who->grants[i].role == SL_ROLE_PLATFORM) {
            return;
        }
        if (strcmp(who->grants[i].tenant, tenant) == 0) {
            if (role > who->grants[i].role) {
                who->grants[i].role = role;
            }
            return;
        }
    }
    if (who->n_grants < SL_AUTH_GRANTS) {
        sl_grant_t *g = &who->grants[who->n_grants++];
        snprintf(g->tenant, sizeof g->tenant, "%s", tenant);
        g->role = role;
    }
}

static int s_api_token(sl_auth_t *a, const char *cred, size_t len, const char *id,
                       sl_principal_t *who, sl_auth_err_t *e)
{
    sl_token_info_t info;
    sl_store_t *st = s_store(a);
    if (!st) {
        return sl_auth_fail(e, SL_EIO, "token_store", "the token store cannot be opened");
    }
    int rc = sl_store_token_check(st, id, cred, len, &info);
    if (rc == SL_ENOTFOUND) {
        return sl_auth_fail(e, SL_EAUTH, "unknown_token", "unknown API token");
    }
    if (rc == SL_ESTATE) {
        return sl_auth_fail(e, SL_EIO, "token_store",
                            "API tokens need a shared-tenancy store (this one is isolated)");
    }
    if (rc) {
        return sl_auth_fail(e, SL_EIO, "token_store", "the token store cannot be read");
    }
    snprintf(who->subject, sizeof who->subject, "token:%s", info.id);
    if (info.revoked_us) {
        return sl_auth_fail(e, SL_EAUTH, "revoked", "API token %s is revoked", info.id);
    }
    if (info.expires_us && sl_now_us() >= info.expires_us) {
        return sl_auth_fail(e, SL_EAUTH, "expired", "API token %s has expired", info.id);
    }
    if (info.role < SL_ROLE_READER || info.role > SL_ROLE_PLATFORM) {
        return sl_auth_fail(e, SL_EPERM, "no_role", "API token %s grants no known role", info.id);
    }
    who->method = SL_AUTH_TOKEN;
    s_grant_add(who, info.tenant, (sl_role_t)info.role);
    return SL_OK;
}

static const s_map_entry_t *s_map_find(const s_conf_t *c, const char *value)
{
    s_map_entry_t key = {.value = (char *)value};
    return bsearch(&key, c->map, (size_t)c->n_map, sizeof *c->map, s_map_cmp);
}

static int s_okta_token(sl_auth_t *a, const char *cred, size_t len, sl_principal_t *who,
                        sl_auth_err_t *e)
{
    sl_jwt_t jwt;
    sl_jwt_rules_t rules = {
        .issuer = a->conf.issuer,
        .audience = a->conf.audience,
        .roles_claim = a->conf.roles_claim,
        .skew_s = a->conf.skew_us / 1000000,
    };
    int rc = sl_jwks_cache_verify(a->jwks, cred, len, &rules, &jwt, e);
    if (rc == SL_ENOMEM) {
        return sl_auth_fail(e, SL_EIO, "out_of_memory", "out of memory");
    }
    if (rc) {
        return rc;
    }
    snprintf(who->subject, sizeof who->subject, "okta:%.80s", jwt.sub[0] ? jwt.sub : "?");
    who->method = SL_AUTH_JWT;
    for (int i = 0; i < jwt.n_values; i++) {
        const s_map_entry_t *m = s_map_find(&a->conf, jwt.values[i]);
        for (int k = 0; m && k < m->n; k++) {
            s_grant_add(who, m->grants[k].tenant, m->grants[k].role);
        }
    }
    if (who->n_grants == 0) {
        return sl_auth_fail(e, SL_EPERM, "no_role",
                            "the Okta token grants no role here (claim '%s')", a->conf.roles_claim);
    }
    return SL_OK;
}

int sl_auth_authenticate(sl_auth_t *a, const char *authorization, sl_principal_t *who,
                         sl_auth_err_t *e)
{
    memset(who, 0, sizeof *who);
    e->code = "";
    e->message[0] = '\0';
    if (!a || !a->required) {
        who->method = SL_AUTH_ANON;
        return SL_OK;
    }
    const char *p = authorization;
    if (!p || !*p) {
        return sl_auth_fail(e, SL_EAUTH, "missing",
                            "an Authorization: Bearer credential is required");
    }
    while (*p == ' ') {
        p++;
    }
    if (strncasecmp(p, "Bearer ", 7) != 0) {
        return sl_auth_fail(e, SL_EAUTH, "malformed",
                            "expected Authorization: Bearer <credential>");
    }
    p += 7;
    while (*p == ' ') {
        p++;
    }
    size_t len = strcspn(p, " \t");
    const char *rest = p + len;
    while (*rest == ' ' || *rest == '\t') {
        rest++;
    }
    if (len == 0 || *rest) {
        return sl_auth_fail(e, SL_EAUTH, "malformed",
                            "expected Authorization: Bearer <credential>");
    }
    char id[SL_TOKEN_ID_LEN + 1];
    if (sl_token_shape(p, len, id)) {
        if (!a->conf.tokens) {
            return sl_auth_fail(e, SL_EAUTH, "not_accepted", "API tokens are not accepted here");
        }
        return s_api_token(a, p, len, id, who, e);
    }
    size_t dots = 0;
    for (size_t i = 0; i < len; i++) {
        dots += p[i] == '.';
    }
    if (dots == 2) {
        if (!a->jwks) {
            return sl_auth_fail(e, SL_EAUTH, "not_accepted", "Okta tokens are not accepted here");
        }
        return s_okta_token(a, p, len, who, e);
    }
    return sl_auth_fail(e, SL_EAUTH, "malformed",
                        "the credential is neither an API token nor a JWT");
}

int sl_auth_authorize(const sl_principal_t *who, const char *header, sl_role_t need, char *tenant,
                      sl_auth_err_t *e)
{
    tenant[0] = '\0';
    e->code = "";
    e->message[0] = '\0';
    const char *h = header && *header ? header : NULL;
    if (h && !sl_name_ok(h, SL_AUTH_TENANT_MAX)) {
        return sl_auth_fail(e, SL_EINVAL, "bad_tenant",
                            "X-Tenant-ID must be 1 to %d characters of A-Z a-z 0-9 _ -",
                            SL_AUTH_TENANT_MAX);
    }
    if (!who || who->n_grants == 0) {
        return sl_auth_fail(e, SL_EPERM, "no_role", "the credential grants no role");
    }
    if (who->grants[0].role == SL_ROLE_PLATFORM) {
        if (h) {
            snprintf(tenant, SL_AUTH_TENANT_MAX + 1, "%s", h);
        }
        return SL_OK;
    }
    if (need >= SL_ROLE_PLATFORM) {
        return sl_auth_fail(e, SL_EPERM, "forbidden_role", "this needs the platform-admin role");
    }
    const sl_grant_t *g = NULL;
    if (h) {
        for (int i = 0; i < who->n_grants && !g; i++) {
            if (strcmp(who->grants[i].tenant, h) == 0) {
                g = &who->grants[i];
            }
        }
        if (!g) {
            return sl_auth_fail(e, SL_EPERM, "forbidden_tenant",
                                "the credential is not valid for tenant '%s'", h);
        }
    } else if (who->n_grants > 1) {
        return sl_auth_fail(e, SL_EINVAL, "ambiguous_tenant",
                            "the credential covers several tenants: name one with X-Tenant-ID");
    } else {
        g = &who->grants[0];
    }
    if (g->role < need) {
        return sl_auth_fail(e, SL_EPERM, "forbidden_role",
                            "role %s of tenant '%s' cannot do this (it needs %s)",
                            sl_role_name(g->role), g->tenant, sl_role_name(need));
    }
    snprintf(tenant, SL_AUTH_TENANT_MAX + 1, "%s", g->tenant);
    return SL_OK;
}

void sl_auth_accepted(sl_auth_t *a, const sl_principal_t *who)
{
    if (a && who && who->method >= SL_AUTH_TOKEN && who->method <= SL_AUTH_JWT) {
        sl_counter_add(a->ok[who->method], 1);
    }
}

void sl_auth_refused(sl_auth_t *a, unsigned status, const sl_auth_err_t *e, const char *subject,
                     const char *route)
{
    char st[8];
    const char *name = a ? a->name : "http";
    const char *code = e && e->code && *e->code ? e->code : "refused";
    snprintf(st, sizeof st, "%u", status);
    sl_metrics_count(S_FAMILY_FAIL, S_HELP_FAIL, 1, "listener", name, "status", st, "reason", code,
                     NULL);
    if (!a) {
        return;
    }
    int64_t sec = sl_mono_us() / 1000000;
    uint64_t summarise = 0;
    pthread_mutex_lock(&a->log_mu);
    if (sec != a->log_sec) {
        summarise = a->log_suppressed;
        a->log_suppressed = 0;
        a->log_sec = sec;
        a->log_n = 0;
    }
    int log = a->log_n < S_LOG_PER_SEC;
    if (log) {
        a->log_n++;
    } else {
        a->log_suppressed++;
    }
    pthread_mutex_unlock(&a->log_mu);
    if (summarise) {
        sl_warn(a->name, "%llu more refused requests (not logged one by one)",
                (unsigned long long)summarise);
    }
    if (!log) {
        return;
    }
    sl_buf_t f = {0};
    char head[64];
    int n = snprintf(head, sizeof head, "\"status\":%u,\"reason\":\"", status);
    int rc = sl_buf_append(&f, head, (size_t)n);
    rc = rc ? rc : sl_json_escape(&f, code, strlen(code));
    rc = rc ? rc : sl_buf_append(&f, "\",\"route\":\"", 11);
    rc = rc ? rc : sl_json_escape(&f, route ? route : "", route ? strlen(route) : 0);
    if (subject && *subject) {
        rc = rc ? rc : sl_buf_append(&f, "\",\"subject\":\"", 13);
        rc = rc ? rc : sl_json_escape(&f, subject, strlen(subject));
    }
    rc = rc ? rc : sl_buf_append(&f, "\"", 2); /* with the NUL */
    sl_log(SL_LOG_WARN, a->name, rc ? NULL : (const char *)f.data, "refused %u %s: %s", status,
           code, e && e->message[0] ? e->message : "");
    sl_buf_free(&f);
}
