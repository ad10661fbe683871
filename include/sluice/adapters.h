/*  sluice/adapters.h: external formats -> sluice events.

    Pure functions over one request body: no sockets, no threads, no state
    other than the (immutable) name map, unless a look-up is attached to
    the map (sl_name_map_set_lookup: MCONs through Monte Carlo's API). The HTTP ingest calls them
   from its routes; tests call them over the fixtures (tests/adapters/ golden files).
    docs/adapters.md documents every mapping rule.

    Output: each adapter appends ONE JSON array of events in the public
    event API form (DESIGN.md "Events") to `out`:
        [{"id": "<uuid>", "tenant": "acme", "kind": "incident.upsert",
          "source": "montecarlo", "key": "...", "time": "...", "body": {...}}]
    "tenant" is left out when the tenant argument is NULL; "time" is left
    out when the payload carries no time (ingest then stamps it). Each
    element is accepted by sl_event_from_json(). Ids are deterministic: the
    same delivery (same effective content) always yields the same ids, so a
    redelivered webhook is dropped by the store's idempotency. The first 48
    bits of an id are the source time in ms when the payload has one, else
    0 (so the store's applied-id compaction still ages them out).

    Errors: 0 (SL_OK) or a negative SL_E* code; on error `out` is left as
    it was and `err` (errlen bytes, always NUL-terminated) holds a one-line
    reason that names the field or the name:
      SL_EPROTO     not JSON, not an object, a required field missing or of
                    the wrong type ("field 'run.runId': missing") -> HTTP 400
      SL_ENOTFOUND  a name no mapping rule can turn into a qualified name
                    ("table 'raw:x.y': no mapping rule (...)") -> dead letter
      SL_ERANGE     a string or the output longer than its bound
      SL_ENOMEM     out of memory
    All functions are thread-safe (the map is read-only after _new). */
#ifndef SLUICE_ADAPTERS_H
#define SLUICE_ADAPTERS_H

#include "sluice/common.h"

/* ------------------------------------------------------------ name map */

/*  Per-tenant rules that turn external names into catalog qualified names,
    plus the per-tenant adapter options. Parsed from JSON (a topology's
    `mapping:` option, SL_OPT_JSON). Every key is optional:

    {"prefix": "snowflake://acme-prod/",   Monte Carlo names: prefix of the result
     "connection_type": "snowflake",      sets the default case (snowflake,
                                          redshift: lower; others: preserve)
     "case": "lower",                     lower | upper | preserve
     "separator": "/",                    joins database, schema, table
     "warehouses": {"<MC warehouse uuid, name or connection type>":
                      {"prefix", "connection_type", "case", "separator"}},
     "namespaces": {"<OpenLineage namespace>":
                      {"prefix", "connection_type", "case", "separator",
                       "split": true}},
     "names": {"<exact external name>": "<qualified name>"},
     "lineage_events": ["COMPLETE"]}      OpenLineage eventTypes that create edges

    Monte Carlo names (`table_name`, `fullTableId` "db:schema.table", MCON
    "MCON++acct++warehouse++table++db:schema.table") need a prefix (from
    the warehouse's rule or the top level): without one they are
    unmappable (SL_ENOTFOUND). OpenLineage datasets map to
    "<namespace>/<name>" by default, the name split on '.' into segments
    for SQL warehouse schemes (snowflake://, postgres://, bigquery, ...),
    so "snowflake://acme-prod" + "analytics.orders.fct_orders" and Monte
    Carlo's "analytics:orders.fct_orders" with prefix
    "snowflake://acme-prod/" meet at the same asset. */
typedef struct sl_name_map sl_name_map_t;

/*  A map from JSON text (NULL or "" or "null" = defaults). NULL on error
    with a reason naming the key in err ("mapping.case: expected lower,
    upper or preserve"). */
sl_name_map_t *sl_name_map_new(const char *json, size_t len, char *err, size_t errlen);
/*  Safe twice; NULLs the pointer. */
void sl_name_map_destroy(sl_name_map_t **map);

/*  What Monte Carlo's getTable says about an MCON. */
typedef struct {
    char full_table_id[256]; /* "db:schema.table" */
    char warehouse_uuid[48];
    char warehouse_name[128];
    char connection_type[32];
} sl_mc_table_t;

/*  A look-up of one MCON (getTable through sl_mc_resolver_t,
    include/sluice/montecarlo_api.h): SL_OK with *t filled, or an error
    code with a one-line reason in why. Thread-safe. */
typedef int (*sl_mc_lookup_fn)(void *arg, const char *mcon, sl_mc_table_t *t, char *why,
                               size_t whylen);

/*  Attach a look-up to the map (before the map is shared between
    threads; fn NULL detaches). always = 0: an MCON no rule maps is looked
    up; 1: every MCON is, and the answer is what the rules map. The
    answer's fullTableId is mapped by the rule of the first of warehouse
    uuid, warehouse name, connection type that has one (else the
    defaults), with the connection type's default case. An MCON the
    look-up fails on is SL_ENOTFOUND with the look-up's reason. With a
    look-up attached the Monte Carlo adapter may use the network; it stays
    thread-safe. */
void sl_name_map_set_lookup(sl_name_map_t *map, sl_mc_lookup_fn fn, void *arg, int always);

/*  Map one Monte Carlo name (table_name, fullTableId or MCON) to a
    qualified name. `warehouse` (may be NULL) is a warehouse uuid, name or
    connection type known from the context (GraphQL answers carry it).
    map may be NULL (only "names" overrides and prefixes make MC names
    mappable, so then every name is SL_ENOTFOUND). Writes a NUL-terminated
    name to out (cap bytes; SL_ERANGE if too small). */
int sl_name_map_montecarlo(const sl_name_map_t *map, const char *name, const char *warehouse,
                           char *out, size_t cap, char *err, size_t errlen);

/*  Map an OpenLineage dataset (namespace, name). map may be NULL. */
int sl_name_map_openlineage(const sl_name_map_t *map, const char *ns, const char *name, char *out,
                            size_t cap, char *err, size_t errlen);

/*  1 if OpenLineage events of this eventType create lineage edges
    (default: COMPLETE only). map may be NULL. */
int sl_name_map_lineage_event(const sl_name_map_t *map, const char *event_type);

/*  An OpenLineage job (namespace, name): "<prefix or namespace/>" + name,
    the name kept whole (job names are not dotted paths). */
int sl_name_map_openlineage_job(const sl_name_map_t *map, const char *ns, const char *name,
                                char *out, size_t cap, char *err, size_t errlen);

#define SL_QNAME_MAX 1024 /* bytes of a qualified name made by a map */

/* --------------------------------------------------------- Monte Carlo */

/*  One webhook delivery (envelope v0.1) -> [incident.upsert].
    Update fields (alert_feedback, declared_alert_severity, owner,
    priority, status, times) are read inside `payload` first, then at the
    top level. Unknown `type` values are kept. Affected tables come from
    event_list[].table_name / fullTableId / mcon (and payload.tables /
    table_mcons) through the map: an unmappable one fails the whole
    delivery with SL_ENOTFOUND. A delivery with no incident_id is
    SL_EPROTO ("field 'payload.incident_id': missing"). */
int sl_montecarlo_webhook(const char *body, size_t len, const sl_name_map_t *map,
                          const char *tenant, sl_buf_t *out, char *err, size_t errlen);

/*  Status of a Monte Carlo alert feedback / status value (any case):
    "open" (NULL, no_status, open), "acknowledged" (investigating,
    work_in_progress, acknowledged), "resolved" (fixed, expected,
    no_action_needed, false_positive, resolved, closed), else NULL. */
const char *sl_montecarlo_status(const char *feedback);

/*  x-mcd-signature check: hex HMAC-SHA512 keyed with `secret` over the raw
    body, or over the canonical form (Python urlencode of the parsed top
    level, nested values in Python str() form; see docs/adapters.md).
    Constant-time comparison. SL_OK if either matches; SL_EINVAL if the
    signature does not match or is not 128 hex digits (an optional
    "sha512=" prefix is accepted); SL_ENOMEM. */
int sl_montecarlo_verify(const char *secret, const char *body, size_t len,
                         const char *signature_hex);

/*  Hex HMAC-SHA512 of body under secret: out gets 128 hex digits + NUL.
    With canonical = 1, of the canonical form (SL_EPROTO if body is not a
    JSON object). For senders (the mock) and tests. */
int sl_montecarlo_sign(const char *secret, const char *body, size_t len, int canonical,
                       char out[129]);

/*  Append the canonical form of a JSON object body to out. SL_EPROTO if
    not a JSON object. */
int sl_montecarlo_canonical(const char *body, size_t len, sl_buf_t *out);

/*  Constant-time comparison of a URL token with the expected secret
    (equal length and bytes): 1 if equal. */
int sl_token_equal(const char *expected, const char *given);

/*  Webhook secrets per tenant (http_ingest's `montecarlo` option; see
    docs/auth.md "Webhooks"): JSON
        {"<tenant>": {"secret": "<x-mcd-signature HMAC key>",
                      "token": "<URL token>"}}
    at least one of the two per tenant. Each value authenticates exactly
    one tenant: a secret or token given to two tenants is refused. Values
    are zeroed when freed and never appear in an error. */
typedef struct sl_mc_secrets sl_mc_secrets_t;

/*  At topology load: 0 if good, else non-zero with a reason and a JSON
    Pointer (as an actor kind's check_option). */
int sl_mc_secrets_check(const char *json, char *err, size_t errlen, char *where, size_t wherelen);
/*  From JSON text (NULL: none yet). NULL with a reason. */
sl_mc_secrets_t *sl_mc_secrets_new(const char *json, char *err, size_t errlen);
/*  Add one tenant's secret and/or token (either may be NULL). SL_EEXIST
    if the tenant is already there or a value is another tenant's;
    SL_EINVAL for a bad tenant or empty values. */
int sl_mc_secrets_add(sl_mc_secrets_t *s, const char *tenant, const char *secret,
                      const char *token);
int sl_mc_secrets_count(const sl_mc_secrets_t *s);
/*  The tenant whose URL token equals `token` (compared in constant time
    with every token), or NULL. */
const char *sl_mc_secrets_by_token(const sl_mc_secrets_t *s, const char *token);
/*  The tenant whose secret made `signature` over body (raw or canonical,
    as sl_montecarlo_verify), or NULL. `tenant` (may be NULL) limits the
    search to that tenant's secret. */
const char *sl_mc_secrets_by_signature(const sl_mc_secrets_t *s, const char *tenant,
                                       const char *body, size_t len, const char *signature);
/*  Safe twice; NULLs the pointer. */
void sl_mc_secrets_destroy(sl_mc_secrets_t **s);

/* ---------------------------------------------------------- OpenLineage */

/*  One RunEvent -> asset.upsert for the job (type "job") and each input
    and output dataset (type "table", schema facet fields as
    attributes.fields), then, if the map says its eventType creates edges,
    lineage.edge input -> job and job -> output (job set to the job's
    qualified name). SL_EPROTO naming the field when run.runId,
    job.namespace, job.name, eventTime or producer is missing or not a
    string, or eventTime is not RFC 3339. */
int sl_openlineage_event(const char *body, size_t len, const sl_name_map_t *map, const char *tenant,
                         sl_buf_t *out, char *err, size_t errlen);

/* ------------------------------------------- shared by the adapters only */

struct json_t;

/*  Append one event to the json array `events`: a deterministic id from
    (tenant, kind, body with sorted keys), time_us (< 0: none) as the
    48-bit prefix and "time". Takes a reference to body (steals it).
    SL_ENOMEM. */
int sl_adapt__event(struct json_t *events, const char *tenant, const char *kind, const char *source,
                    const char *key, int64_t time_us, struct json_t *body);

/*  Dump the array to out (SL_ENOMEM, SL_ERANGE past SL_EVENT_MAX_BODY * 4). */
int sl_adapt__dump(struct json_t *events, sl_buf_t *out);

/*  printf into err (always NUL-terminated); returns rc. */
int sl_adapt__fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
