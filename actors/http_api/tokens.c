/*  Token management over HTTP for a tenant's admins (see tokens.h). The
    same records as `sluice token` (core/store_tokens.c): what one makes,
    the other lists and revokes. A token is in the body of the 201 only;
    nothing logs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "actors/http_api/tokens.h"
#include "sluice/event.h"
#include "sluice/log.h"

#define S_EXPIRES_MAX (100LL * 365 * 86400) /* seconds */

/*  Token management needs a credential: with auth none there is nobody to
    hand tokens to. 0 if the request may go on. */
static int s_needs_credential(const sl_http_req_t *req, sl_http_resp_t *resp)
{
    if (req->who) {
        return 0;
    }
    sl_http_error(resp, 403, "forbidden_role",
                  "token management needs credentials (auth with tokens: true)");
    return -1;
}

static int s_store_error(sl_http_resp_t *resp, int rc)
{
    if (rc == SL_ESTATE) {
        return sl_http_error(resp, 503, "token_store",
                             "API tokens need a shared-tenancy store (this one is isolated)");
    }
    return sl_http_error(resp, 500, "store_error", "token store: %s", sl_strerror(rc));
}

static int s_info_json(const sl_token_info_t *t, json_t *arr)
{
    char created[32], expires[32];
    sl_time_format(t->created_us, created);
    if (t->expires_us) {
        sl_time_format(t->expires_us, expires);
    }
    const char *status = t->revoked_us                                   ? "revoked"
                         : t->expires_us && sl_now_us() >= t->expires_us ? "expired"
                                                                         : "active";
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", t->id, "tenant", t->tenant, "role",
                  sl_role_name((sl_role_t)t->role), "name", t->name, "status", status, "created",
                  created, "expires", t->expires_us ? json_string(expires) : json_null());
    return o && json_array_append_new(arr, o) == 0 ? 0 : -1;
}

typedef struct {
    const char *tenant; /* NULL: every tenant */
    json_t *items;
    int failed;
} s_list_t;

static int s_list_one(void *arg, const sl_token_info_t *t)
{
    s_list_t *l = arg;
    if (l->tenant && strcmp(l->tenant, t->tenant) != 0) {
        return 0;
    }
    if (s_info_json(t, l->items) != 0) {
        l->failed = 1;
        return 1;
    }
    return 0;
}

static int s_json_reply(sl_http_resp_t *resp, unsigned status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        return SL_ENOMEM;
    }
    int rc = sl_http_json(resp, status, text, strlen(text));
    explicit_bzero(text, strlen(text)); /* a 201 holds a token */
    free(text);
    return rc;
}

static int s_list(sl_api_tokens_t *t, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    sl_store_t *st = t->store(t->arg, resp);
    if (!st) {
        return SL_OK;
    }
    s_list_t l = {.tenant = req->tenant, .items = json_array()};
    int rc = l.items ? sl_store_tokens_each(st, s_list_one, &l) : SL_ENOMEM;
    if (rc < 0 || l.failed) {
        json_decref(l.items);
        return rc == SL_ENOMEM || l.failed ? SL_ENOMEM : s_store_error(resp, rc);
    }
    return s_json_reply(resp, 200, json_pack("{s:o}", "items", l.items));
}

static int s_create(sl_api_tokens_t *t, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    json_error_t je;
    sl_role_t role;
    if (!req->tenant) {
        return sl_http_error(resp, 400, "missing_tenant",
                             "a platform admin names the token's tenant with X-Tenant-ID");
    }
    json_t *b =
        req->body ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
                  : NULL;
    const char *r = json_string_value(json_object_get(b, "role"));
    json_t *name = json_object_get(b, "name"), *exp = json_object_get(b, "expires_in");
    int rc = SL_OK;
    if (!json_is_object(b)) {
        rc = sl_http_error(resp, 400, "bad_body",
                           "expected a JSON object with role, and name and expires_in (seconds)");
    } else if (!r || sl_role_parse(r, &role) != SL_OK || role == SL_ROLE_PLATFORM) {
        rc = sl_http_error(resp, 400, "bad_body",
                           "field 'role': expected reader, writer or admin (platform-admin "
                           "tokens are made with the command line)");
    } else if (name &&
               (!json_is_string(name) || json_string_length(name) > SL_STORE_TOKEN_NAME_MAX)) {
        rc = sl_http_error(resp, 400, "bad_body", "field 'name': a string of at most %d bytes",
                           SL_STORE_TOKEN_NAME_MAX);
    } else if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 1 ||
                       json_integer_value(exp) > S_EXPIRES_MAX)) {
        rc = sl_http_error(resp, 400, "bad_body",
                           "field 'expires_in': seconds, an integer from 1 to %lld",
                           (long long)S_EXPIRES_MAX);
    } else {
        rc = 1;
    }
    if (rc != 1) {
        json_decref(b);
        return rc;
    }
    sl_token_info_t info = {.role = role, .created_us = sl_now_us()};
    info.expires_us = exp ? info.created_us + json_integer_value(exp) * 1000000 : 0;
    snprintf(info.tenant, sizeof info.tenant, "%s", req->tenant);
    snprintf(info.name, sizeof info.name, "%s", name ? json_string_value(name) : "");
    json_decref(b);
    sl_store_t *st = t->store(t->arg, resp);
    if (!st) {
        return SL_OK;
    }
    char tok[SL_TOKEN_LEN + 1];
    rc = SL_EEXIST;
    for (int attempt = 0; attempt < 3 && rc == SL_EEXIST; attempt++) {
        if ((rc = sl_token_generate(tok, info.id)) == SL_OK) {
            rc = sl_store_token_add(st, tok, &info);
        }
    }
    if (rc) {
        explicit_bzero(tok, sizeof tok);
        return s_store_error(resp, rc);
    }
    json_t *items = json_array();
    if (!items || s_info_json(&info, items) != 0) {
        explicit_bzero(tok, sizeof tok);
        json_decref(items);
        return SL_ENOMEM;
    }
    json_t *doc = json_incref(json_array_get(items, 0));
    json_decref(items);
    json_object_set_new(doc, "token", json_string(tok));
    explicit_bzero(tok, sizeof tok);
    sl_info(t->name, "token %s made for tenant %s, role %s, by %s", info.id, info.tenant,
            sl_role_name(role), req->who->subject);
    return s_json_reply(resp, 201, doc);
}

static int s_revoke(sl_api_tokens_t *t, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    const char *id = req->rest + 1;
    sl_store_t *st = t->store(t->arg, resp);
    if (!st) {
        return SL_OK;
    }
    sl_token_info_t info;
    int rc = sl_store_token_get(st, id, &info);
    /*  Another tenant's token is not found: a tenant admin learns nothing
        of other tenants' tokens. */
    if (rc == SL_ENOTFOUND ||
        (rc == SL_OK && req->tenant && strcmp(req->tenant, info.tenant) != 0) ||
        (rc == SL_OK && req->who->grants[0].role != SL_ROLE_PLATFORM &&
         info.role == SL_ROLE_PLATFORM)) {
        return sl_http_error(resp, 404, "not_found", "no such token");
    }
    if (rc) {
        return s_store_error(resp, rc);
    }
    rc = sl_store_token_revoke(st, info.id, sl_now_us());
    if (rc && rc != SL_EEXIST) {
        return s_store_error(resp, rc);
    }
    sl_info(t->name, "token %s of tenant %s revoked by %s", info.id, info.tenant,
            req->who->subject);
    resp->status = 204;
    return SL_OK;
}

static int s_tokens(void *arg, const sl_http_req_t *req, sl_http_resp_t *resp)
{
    sl_api_tokens_t *t = arg;
    if (s_needs_credential(req, resp) != 0) {
        return SL_OK;
    }
    if (req->rest[0] == '\0') {
        if (strcmp(req->method, "GET") == 0) {
            return s_list(t, req, resp);
        }
        if (strcmp(req->method, "POST") == 0) {
            return s_create(t, req, resp);
        }
        snprintf(resp->allow, sizeof resp->allow, "GET, POST");
        return sl_http_error(resp, 405, "method_not_allowed", "GET or POST here");
    }
    if (strcmp(req->method, "DELETE") == 0 && strchr(req->rest + 1, '/') == NULL) {
        return s_revoke(t, req, resp);
    }
    if (strchr(req->rest + 1, '/') == NULL) {
        snprintf(resp->allow, sizeof resp->allow, "DELETE");
        return sl_http_error(resp, 405, "method_not_allowed", "DELETE here");
    }
    return sl_http_error(resp, 404, "not_found", "no route for %.200s", req->path);
}

int sl_api_tokens_route(sl_http_t *h, sl_api_tokens_t *t)
{
    return sl_http_route(h, "*", "/v1/tokens", SL_HTTP_ROLE(SL_ROLE_ADMIN), s_tokens, t);
}
