/*  Monte Carlo webhooks -> incident.upsert, and the x-mcd-signature check.

    Monte Carlo leaves open where update fields sit and which types exist
    (REFERENCE.md), so reading is lenient where the meaning is clear (a
    field in `payload` or at the top level, a number where a string is
    expected, null as absent) and strict only about what identifies the
    incident and its assets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "sluice/adapters.h"
#include "sluice/event.h"

#define S_MAX_INPUT ((size_t)SL_EVENT_MAX_BODY * 4)

typedef struct {
    json_t *root;
    json_t *payload; /* NULL if absent */
    char *err;
    size_t errlen;
} s_ctx_t;

/*  A field inside payload first, then at the top level; null = absent.
 *where receives the name for error messages. */
static json_t *s_get(s_ctx_t *c, const char *k, const char **where)
{
    json_t *v = c->payload ? json_object_get(c->payload, k) : NULL;
    *where = "payload.";
    if (!v || json_is_null(v)) {
        v = json_object_get(c->root, k);
        *where = "";
    }
    return v && !json_is_null(v) ? v : NULL;
}

/*  1 if the key is present (even as null) in payload or at the top. */
static int s_has(s_ctx_t *c, const char *k)
{
    return (c->payload && json_object_get(c->payload, k)) || json_object_get(c->root, k);
}

/*  A scalar as text (strings as they are, numbers and booleans printed):
    a new json string, NULL if absent; SL_EPROTO for objects and arrays. */
static int s_text(s_ctx_t *c, const char *k, json_t **out)
{
    const char *where;
    json_t *v = s_get(c, k, &where);
    char tmp[64];
    *out = NULL;
    if (!v) {
        return SL_OK;
    }
    if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            return sl_adapt__fail(c->err, c->errlen, SL_EPROTO, "field '%s%s': contains NUL", where,
                                  k);
        }
        *out = json_incref(v);
    } else if (json_is_integer(v)) {
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = json_string(tmp);
    } else if (json_is_real(v)) {
        snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
        *out = json_string(tmp);
    } else if (json_is_boolean(v)) {
        *out = json_string(json_is_true(v) ? "true" : "false");
    } else {
        return sl_adapt__fail(c->err, c->errlen, SL_EPROTO,
                              "field '%s%s': expected a string, got an %s", where, k,
                              json_is_object(v) ? "object" : "array");
    }
    return *out ? SL_OK : SL_ENOMEM;
}

/*  A time: RFC 3339 text, or a number of seconds (milliseconds above
    1e11) since the epoch. *us = -1 if absent. */
static int s_time(s_ctx_t *c, const char *const *keys, int64_t *us)
{
    *us = -1;
    for (; *keys; keys++) {
        const char *where;
        json_t *v = s_get(c, *keys, &where);
        if (!v) {
            continue;
        }
        if (json_is_string(v) &&
            sl_time_parse(json_string_value(v), json_string_length(v), us) == SL_OK) {
            return SL_OK;
        }
        if (json_is_number(v)) {
            double d = json_number_value(v);
            if (isfinite(d) && d >= 0 && d < 253402300800e3) {
                *us = (int64_t)(d >= 1e11 ? d * 1e3 : d * 1e6);
                return SL_OK;
            }
        }
        return sl_adapt__fail(c->err, c->errlen, SL_EPROTO,
                              "field '%s%s': expected an RFC 3339 time", where, *keys);
    }
    return SL_OK;
}

static int s_add_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *e;
    if (!s || !*s) {
        return SL_OK;
    }
    json_array_foreach(arr, i, e)
    {
        if (strcmp(json_string_value(e), s) == 0) {
            return SL_OK;
        }
    }
    return json_array_append_new(arr, json_string(s)) == 0 ? SL_OK : SL_ENOMEM;
}

static const char *s_str(json_t *o, const char *k)
{
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

const char *sl_montecarlo_status(const char *feedback)
{
    static const char *const map[][2] = {
        {"no_status", "open"},
        {"open", "open"},
        {"active", "open"},
        {"investigating", "acknowledged"},
        {"work_in_progress", "acknowledged"},
        {"acknowledged", "acknowledged"},
        {"fixed", "resolved"},
        {"expected", "resolved"},
        {"no_action_needed", "resolved"},
        {"false_positive", "resolved"},
        {"resolved", "resolved"},
        {"closed", "resolved"},
    };
    if (!feedback) {
        return "open";
    }
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcasecmp(feedback, map[i][0]) == 0) {
            return map[i][1];
        }
    }
    return NULL;
}

/*  Webhook notification types -> the GraphQL incidentType vocabulary, so a
    webhook and a back-filled version of one incident agree. */
static const char *s_incident_type(const char *t, char *tmp, size_t cap)
{
    static const char *const map[][2] = {
        {"anomaly", "ANOMALIES"},
        {"anomalies", "ANOMALIES"},
        {"custom_rule_anomaly", "CUSTOM_RULE_ANOMALIES"},
        {"custom_rule_anomalies", "CUSTOM_RULE_ANOMALIES"},
        {"schema_change", "SCHEMA_CHANGES"},
        {"schema_changes", "SCHEMA_CHANGES"},
        {"json_schema_change", "JSON_SCHEMA_CHANGES"},
        {"deleted_table", "DELETED_TABLES"},
        {"deleted_tables", "DELETED_TABLES"},
        {"dbt_error", "DBT_ERRORS"},
        {"dbt_errors", "DBT_ERRORS"},
        {"etl_error", "ETL_ERRORS"},
        {"etl_errors", "ETL_ERRORS"},
        {"metric_anomaly", "METRIC_ANOMALIES"},
        {"metric_anomalies", "METRIC_ANOMALIES"},
    };
    size_t n = strlen(t);
    const char *p = t;
    if (strncmp(p, "open_", 5) == 0) {
        p += 5;
        n -= 5;
    }
    if (n > 9 && strcmp(p + n - 9, "_incident") == 0) {
        n -= 9;
    }
    if (n >= cap) {
        return t;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        if (strcasecmp(tmp, map[i][0]) == 0) {
            return map[i][1];
        }
    }
    return t; /* unknown types are kept as sent */
}

/*  "SEV_2" (GraphQL) and "SEV-2" (webhooks) are one severity. */
static json_t *s_severity(json_t *v)
{
    if (!json_is_string(v)) {
        return json_incref(v);
    }
    const char *s = json_string_value(v);
    if (strncasecmp(s, "SEV_", 4) == 0 || strncasecmp(s, "SEV-", 4) == 0) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "SEV-%.20s", s + 4);
        return json_string(tmp);
    }
    return json_incref(v);
}

static int s_map_table(s_ctx_t *c, const sl_name_map_t *map, const char *name, const char *wh,
                       json_t *names)
{
    char qn[SL_QNAME_MAX];
    int rc = sl_name_map_montecarlo(map, name, wh, qn, sizeof qn, c->err, c->errlen);
    if (rc != SL_OK) {
        return rc;
    }
    return s_add_unique(names, qn);
}

/*  Collect the affected tables: event_list[] items, payload.tables[]
    (strings or {mcon, tableId, fullTableId}), table_mcons[]. */
static int s_tables(s_ctx_t *c, const sl_name_map_t *map, const char *wh, json_t *names,
                    json_t *subs, json_t **title, json_t *details)
{
    static const char *const keys[] = {"mcon",        "table_mcon", "full_table_id",
                                       "fullTableId", "table_name", "tableId"};
    const char *where;
    json_t *list = s_get(c, "event_list", &where);
    size_t i;
    json_t *e;
    int rc;
    if (list && !json_is_array(list)) {
        return sl_adapt__fail(c->err, c->errlen, SL_EPROTO, "field '%sevent_list': expected a list",
                              where);
    }
    json_array_foreach(list, i, e)
    {
        if (!json_is_object(e)) {
            return sl_adapt__fail(c->err, c->errlen, SL_EPROTO,
                                  "field '%sevent_list[%zu]': expected an object", where, i);
        }
        const char *t = NULL;
        for (size_t k = 0; k < sizeof keys / sizeof *keys && !t; k++) {
            t = s_str(e, keys[k]);
        }
        const char *ewh = s_str(e, "warehouse_uuid");
        if (t && (rc = s_map_table(c, map, t, ewh ? ewh : wh, names)) != SL_OK) {
            return rc;
        }
        const char *st[] = {s_str(e, "sub_type"), s_str(e, "anomaly_type"), s_str(e, "event_type")};
        for (size_t k = 0; k < 3; k++) {
            if ((rc = s_add_unique(subs, st[k])) != SL_OK) {
                return rc;
            }
        }
        json_t *rule = json_object_get(json_object_get(e, "payload"), "rule");
        if (!rule) {
            rule = json_object_get(c->payload, "rule");
        }
        json_t *data = json_object_get(e, "data");
        if ((rc = s_add_unique(subs, s_str(rule, "rule_type"))) != SL_OK) {
            return rc;
        }
        const char *ttl = s_str(rule, "description");
        ttl = ttl ? ttl : s_str(data, "metric_display_name");
        ttl = ttl ? ttl : s_str(e, "event_details");
        if (!*title && ttl && !(*title = json_string(ttl))) {
            return SL_ENOMEM;
        }
        if ((rc = s_add_unique(details, s_str(e, "event_details"))) != SL_OK) {
            return rc;
        }
    }
    static const char *const lists[] = {"tables", "table_mcons", "tableMcons"};
    for (size_t k = 0; k < 3; k++) {
        json_t *l = s_get(c, lists[k], &where);
        if (l && !json_is_array(l)) {
            return sl_adapt__fail(c->err, c->errlen, SL_EPROTO, "field '%s%s': expected a list",
                                  where, lists[k]);
        }
        json_array_foreach(l, i, e)
        {
            const char *t = json_is_string(e) ? json_string_value(e) : s_str(e, "mcon");
            t = t ? t : s_str(e, "fullTableId");
            t = t ? t : s_str(e, "tableId");
            if (!t) {
                return sl_adapt__fail(c->err, c->errlen, SL_EPROTO,
                                      "field '%s%s[%zu]': expected a table name or MCON", where,
                                      lists[k], i);
            }
            if ((rc = s_map_table(c, map, t, wh, names)) != SL_OK) {
                return rc;
            }
        }
    }
    return SL_OK;
}

int sl_montecarlo_webhook(const char *body, size_t len, const sl_name_map_t *map,
                          const char *tenant, sl_buf_t *out, char *err, size_t errlen)
{
    s_ctx_t c = {.err = err, .errlen = errlen};
    json_t *inc = NULL, *names = NULL, *subs = NULL, *details = NULL, *title = NULL, *v = NULL;
    json_t *events = NULL;
    const char *where;
    char tbuf[128], whbuf[128] = "";
    int rc = SL_ENOMEM;
    json_error_t jerr;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!body || len > S_MAX_INPUT) {
        return sl_adapt__fail(err, errlen, SL_ERANGE, "body: larger than %zu bytes", S_MAX_INPUT);
    }
    if (!(c.root = json_loadb(body, len, 0, &jerr))) {
        return sl_adapt__fail(err, errlen, SL_EPROTO, "invalid JSON at line %d column %d: %s",
                              jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(c.root)) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO, "body: expected a JSON object");
        goto fail;
    }
    c.payload = json_object_get(c.root, "payload");
    if (c.payload && json_is_null(c.payload)) {
        c.payload = NULL;
    }
    if (c.payload && !json_is_object(c.payload)) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO, "field 'payload': expected an object");
        goto fail;
    }
    json_t *id = NULL;
    if ((rc = s_text(&c, "incident_id", &id)) != SL_OK) {
        goto fail;
    }
    if (!id || json_string_length(id) == 0) {
        json_decref(id);
        rc = sl_adapt__fail(err, errlen, SL_EPROTO,
                            "field 'payload.incident_id': missing (expected the incident's uuid)");
        goto fail;
    }
    rc = SL_ENOMEM;
    if (!(inc = json_pack("{s:s,s:o}", "source", "montecarlo", "external_id", id)) ||
        !(names = json_array()) || !(subs = json_array()) || !(details = json_array())) {
        goto fail;
    }
    /*  The warehouse, when the delivery names it, picks the mapping rule. */
    json_t *wh = s_get(&c, "warehouse", &where);
    const char *whs = json_is_string(wh) ? json_string_value(wh) : NULL;
    if (json_is_object(wh)) {
        static const char *const wk[] = {"uuid", "name", "connectionType", "connection_type"};
        char probe[SL_QNAME_MAX], perr[8];
        for (size_t k = 0; k < 4 && !whs; k++) {
            const char *cand = s_str(wh, wk[k]);
            /*  Take the first candidate the map has a rule for. */
            if (cand && sl_name_map_montecarlo(map, "a.b", cand, probe, sizeof probe, perr,
                                               sizeof perr) == SL_OK) {
                snprintf(whbuf, sizeof whbuf, "%s", cand);
                whs = whbuf;
            }
        }
    }
    if ((rc = s_tables(&c, map, whs, names, subs, &title, details)) != SL_OK) {
        goto fail;
    }
    rc = SL_ENOMEM;
    if (json_array_size(names) > 0 && json_object_set(inc, "qualified_names", names) != 0) {
        goto fail;
    }
    json_t *t = NULL;
    if ((rc = s_text(&c, "incident_type", &t)) != SL_OK) {
        goto fail;
    }
    if (!t && (rc = s_text(&c, "type", &t)) != SL_OK) {
        goto fail;
    }
    if (t) {
        json_object_set_new(inc, "type",
                            json_string(s_incident_type(json_string_value(t), tbuf, sizeof tbuf)));
        json_decref(t);
    }
    static const char *const sublists[] = {"sub_types", "incident_sub_types", "incidentSubTypes"};
    for (size_t k = 0; k < 3; k++) {
        json_t *l = s_get(&c, sublists[k], &where);
        size_t i;
        json_t *e;
        json_array_foreach(l, i, e)
        {
            if (json_is_string(e) && (rc = s_add_unique(subs, json_string_value(e))) != SL_OK) {
                goto fail;
            }
        }
    }
    if (json_array_size(subs) > 0) {
        json_object_set(inc, "sub_types", subs);
    }
    if ((rc = s_text(&c, "title", &v)) != SL_OK) {
        goto fail;
    }
    if (v) {
        json_decref(title);
        title = v;
        v = NULL;
    }
    if (title) {
        json_object_set(inc, "title", title);
    }
    if (json_array_size(details) > 0) {
        sl_buf_t d = {0};
        size_t i;
        json_t *e;
        json_array_foreach(details, i, e)
        {
            if ((i && sl_buf_append(&d, "\n", 1) != SL_OK) ||
                sl_buf_append(&d, json_string_value(e), json_string_length(e)) != SL_OK) {
                sl_buf_free(&d);
                rc = SL_ENOMEM;
                goto fail;
            }
        }
        json_object_set_new(inc, "details", json_stringn((const char *)d.data, d.len));
        sl_buf_free(&d);
    }
    json_t *sev = s_get(&c, "declared_alert_severity", &where);
    sev = sev ? sev : s_get(&c, "severity", &where);
    if (sev && (json_is_string(sev) || json_is_number(sev))) {
        json_object_set_new(inc, "severity", s_severity(sev));
    }
    json_t *pri = s_get(&c, "priority", &where);
    if (pri && (json_is_string(pri) || json_is_number(pri))) {
        json_object_set(inc, "priority", pri);
    }
    /*  Status: alert_feedback when the delivery carries the key (null =
        no feedback = open), else a status field; neither: left out, so an
        update that does not speak about the status does not reopen. */
    const char *fk = s_has(&c, "alert_feedback") ? "alert_feedback"
                     : s_has(&c, "feedback")     ? "feedback"
                     : s_has(&c, "status")       ? "status"
                                                 : NULL;
    if (fk) {
        if ((rc = s_text(&c, fk, &v)) != SL_OK) {
            goto fail;
        }
        const char *st = sl_montecarlo_status(v ? json_string_value(v) : NULL);
        if (st) {
            json_object_set_new(inc, "status", json_string(st));
        }
        if (v) {
            json_object_set(inc, "source_status", v);
            json_decref(v);
            v = NULL;
        }
    }
    json_t *owner = s_get(&c, "owner", &where);
    if (json_is_object(owner)) {
        owner = json_object_get(owner, "email");
    }
    if (json_is_string(owner) && json_string_length(owner) > 0) {
        json_object_set(inc, "owner", owner);
    }
    if ((rc = s_text(&c, "url", &v)) != SL_OK) {
        goto fail;
    }
    if (v) {
        json_object_set_new(inc, "url", v);
        v = NULL;
    }
    static const char *const created[] = {"created_time", "created_at", "createdTime", "first_seen",
                                          NULL};
    static const char *const updated[] = {"updated_time", "updated_at", "updatedTime", "last_seen",
                                          NULL};
    int64_t cus, uus;
    char ts[32];
    if ((rc = s_time(&c, created, &cus)) != SL_OK || (rc = s_time(&c, updated, &uus)) != SL_OK) {
        goto fail;
    }
    if (cus >= 0) {
        sl_time_format(cus, ts);
        json_object_set_new(inc, "created_at", json_string(ts));
    }
    if (uus >= 0) {
        sl_time_format(uus, ts);
        json_object_set_new(inc, "updated_at", json_string(ts));
    }
    rc = SL_ENOMEM;
    if (!(events = json_array())) {
        goto fail;
    }
    rc = sl_adapt__event(events, tenant, "incident.upsert", "montecarlo",
                         json_string_value(json_object_get(inc, "external_id")),
                         uus >= 0 ? uus : cus, json_incref(inc));
    if (rc == SL_OK) {
        rc = sl_adapt__dump(events, out);
    }
    if (rc != SL_OK && (!err || !err[0])) {
        sl_adapt__fail(err, errlen, rc, "montecarlo: %s", sl_strerror(rc));
    }
fail:
    if (rc == SL_ENOMEM && err && !err[0]) {
        sl_adapt__fail(err, errlen, rc, "montecarlo: out of memory");
    }
    json_decref(v);
    json_decref(events);
    json_decref(title);
    json_decref(details);
    json_decref(subs);
    json_decref(names);
    json_decref(inc);
    json_decref(c.root);
    return rc;
}

/* ------------------------------------------------------------ signature */

/*  Python str() of a parsed JSON value: repr() inside containers, the
    string itself at the top. See docs/adapters.md for the parts of
    str.isprintable() this approximates. */
static int s_py(sl_buf_t *b, json_t *v, int top);

static int s_py_printable(uint32_t cp)
{
    if (cp < 0xa0) {
        return cp >= 0x20 && cp < 0x7f;
    }
    /*  Separators (Zs, Zl, Zp but space), format (Cf), surrogates, private
        use and noncharacters are escaped by repr(). */
    if (cp == 0xa0 || cp == 0xad || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f) ||
        (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x2064) ||
        (cp >= 0x2066 && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff ||
        (cp >= 0xd800 && cp <= 0xf8ff) || (cp >= 0xfff9 && cp <= 0xfffb) ||
        (cp & 0xfffe) == 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef) || cp == 0x061c || cp == 0x180e ||
        (cp >= 0xe0000 && cp <= 0xe007f) || cp >= 0xf0000 || (cp >= 0x0600 && cp <= 0x0605) ||
        cp == 0x06dd || cp == 0x070f || cp == 0x08e2 || (cp >= 0x1d173 && cp <= 0x1d17a) ||
        cp == 0x110bd || cp == 0x110cd) {
        return 0;
    }
    return 1;
}

static int s_py_str(sl_buf_t *b, const char *s, size_t n)
{
    char q = '\'';
    if (memchr(s, '\'', n) && !memchr(s, '"', n)) {
        q = '"';
    }
    int rc = sl_buf_append(b, &q, 1);
    for (size_t i = 0; i < n && rc == SL_OK;) {
        unsigned char ch = (unsigned char)s[i];
        uint32_t cp;
        size_t k;
        if (ch < 0x80) {
            cp = ch;
            k = 1;
        } else if ((ch & 0xe0) == 0xc0 && i + 1 < n) {
            cp = (uint32_t)(ch & 0x1f) << 6 | (s[i + 1] & 0x3f);
            k = 2;
        } else if ((ch & 0xf0) == 0xe0 && i + 2 < n) {
            cp = (uint32_t)(ch & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
            k = 3;
        } else if (i + 3 < n) {
            cp = (uint32_t)(ch & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                 (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
            k = 4;
        } else {
            cp = 0xfffd;
            k = 1;
        }
        char tmp[16];
        if (cp == (uint32_t)q || cp == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)cp;
            rc = sl_buf_append(b, tmp, 2);
        } else if (cp == '\t' || cp == '\n' || cp == '\r') {
            tmp[0] = '\\';
            tmp[1] = cp == '\t' ? 't' : cp == '\n' ? 'n' : 'r';
            rc = sl_buf_append(b, tmp, 2);
        } else if (s_py_printable(cp)) {
            rc = sl_buf_append(b, s + i, k);
        } else if (cp <= 0xff) {
            snprintf(tmp, sizeof tmp, "\\x%02x", cp);
            rc = sl_buf_append(b, tmp, 4);
        } else if (cp <= 0xffff) {
            snprintf(tmp, sizeof tmp, "\\u%04x", cp);
            rc = sl_buf_append(b, tmp, 6);
        } else {
            snprintf(tmp, sizeof tmp, "\\U%08x", cp);
            rc = sl_buf_append(b, tmp, 10);
        }
        i += k;
    }
    return rc == SL_OK ? sl_buf_append(b, &q, 1) : rc;
}

/*  Python's repr(float): the shortest text that reads back, in
    scientific form below 1e-4 and from 1e16 up. */
static int s_py_float(sl_buf_t *b, double d)
{
    char t[64], m[40];
    if (isnan(d)) {
        return sl_buf_append(b, "nan", 3);
    }
    if (isinf(d)) {
        return sl_buf_append(b, d < 0 ? "-inf" : "inf", d < 0 ? 4 : 3);
    }
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*e", p - 1, d);
        if (strtod(t, NULL) == d) {
            break;
        }
    }
    /*  t is "-d.ddde+XX": digits and a decimal exponent. */
    char *e = strchr(t, 'e');
    int exp10 = atoi(e + 1);
    size_t nd = 0;
    int neg = t[0] == '-';
    for (char *q = t + neg; q < e; q++) {
        if (*q != '.') {
            m[nd++] = *q;
        }
    }
    while (nd > 1 && m[nd - 1] == '0') {
        nd--;
    }
    m[nd] = '\0';
    sl_buf_t *o = b;
    int rc = neg ? sl_buf_append(o, "-", 1) : SL_OK;
    if (exp10 < -4 || exp10 >= 16) {
        char tail[16];
        rc = rc ? rc : sl_buf_append(o, m, 1);
        if (nd > 1) {
            rc = rc ? rc : sl_buf_append(o, ".", 1);
            rc = rc ? rc : sl_buf_append(o, m + 1, nd - 1);
        }
        snprintf(tail, sizeof tail, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        return rc ? rc : sl_buf_append(o, tail, strlen(tail));
    }
    if (exp10 < 0) {
        rc = rc ? rc : sl_buf_append(o, "0.", 2);
        for (int i = 0; i < -exp10 - 1 && !rc; i++) {
            rc = sl_buf_append(o, "0", 1);
        }
        return rc ? rc : sl_buf_append(o, m, nd);
    }
    size_t ip = (size_t)exp10 + 1;
    for (size_t i = 0; i < ip && !rc; i++) {
        rc = sl_buf_append(o, i < nd ? &m[i] : "0", 1);
    }
    rc = rc ? rc : sl_buf_append(o, ".", 1);
    if (nd > ip) {
        return rc ? rc : sl_buf_append(o, m + ip, nd - ip);
    }
    return rc ? rc : sl_buf_append(o, "0", 1);
}

static int s_py(sl_buf_t *b, json_t *v, int top)
{
    char tmp[32];
    int rc = SL_OK;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (top) {
            return sl_buf_append(b, json_string_value(v), json_string_length(v));
        }
        return s_py_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return sl_buf_append(b, tmp, strlen(tmp));
    case JSON_REAL:
        return s_py_float(b, json_real_value(v));
    case JSON_TRUE:
        return sl_buf_append(b, "True", 4);
    case JSON_FALSE:
        return sl_buf_append(b, "False", 5);
    case JSON_NULL:
        return sl_buf_append(b, "None", 4);
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        rc = sl_buf_append(b, "[", 1);
        json_array_foreach(v, i, e)
        {
            if (rc == SL_OK && i) {
                rc = sl_buf_append(b, ", ", 2);
            }
            if (rc == SL_OK) {
                rc = s_py(b, e, 0);
            }
        }
        return rc ? rc : sl_buf_append(b, "]", 1);
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        int first = 1;
        rc = sl_buf_append(b, "{", 1);
        json_object_foreach(v, k, e)
        {
            if (rc == SL_OK && !first) {
                rc = sl_buf_append(b, ", ", 2);
            }
            first = 0;
            if (rc == SL_OK) {
                rc = s_py_str(b, k, strlen(k));
            }
            if (rc == SL_OK) {
                rc = sl_buf_append(b, ": ", 2);
            }
            if (rc == SL_OK) {
                rc = s_py(b, e, 0);
            }
        }
        return rc ? rc : sl_buf_append(b, "}", 1);
    }
    }
    return SL_EPROTO;
}

/*  urllib.parse.quote_plus with safe='': unreserved bytes as they are,
    space as '+', everything else %XX (upper-case hex). */
static int s_quote_plus(sl_buf_t *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = sl_buf_reserve(b, n * 3);
    if (rc != SL_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-' || c == '~') {
            b->data[b->len++] = c;
        } else if (c == ' ') {
            b->data[b->len++] = '+';
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = (uint8_t)hex[c >> 4];
            b->data[b->len++] = (uint8_t)hex[c & 15];
        }
    }
    return SL_OK;
}

int sl_montecarlo_canonical(const char *body, size_t len, sl_buf_t *out)
{
    json_error_t jerr;
    json_t *root = body && len <= S_MAX_INPUT ? json_loadb(body, len, 0, &jerr) : NULL;
    sl_buf_t val = {0};
    size_t mark = out->len;
    const char *k;
    json_t *v;
    int rc = SL_OK, first = 1;
    if (!json_is_object(root)) {
        json_decref(root);
        return SL_EPROTO;
    }
    json_object_foreach(root, k, v)
    {
        sl_buf_reset(&val);
        if ((!first && (rc = sl_buf_append(out, "&", 1)) != SL_OK) ||
            (rc = s_quote_plus(out, (const uint8_t *)k, strlen(k))) != SL_OK ||
            (rc = sl_buf_append(out, "=", 1)) != SL_OK || (rc = s_py(&val, v, 1)) != SL_OK ||
            (rc = s_quote_plus(out, val.data, val.len)) != SL_OK) {
            break;
        }
        first = 0;
    }
    if (rc != SL_OK) {
        out->len = mark;
    }
    sl_buf_free(&val);
    json_decref(root);
    return rc;
}

static void s_hmac(const char *secret, const void *msg, size_t n,
                   unsigned char mac[crypto_auth_hmacsha512_BYTES])
{
    crypto_auth_hmacsha512_state st;
    /*  The _init form takes keys of any length (the one-shot API wants
        exactly 32 bytes). */
    crypto_auth_hmacsha512_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha512_update(&st, msg, n);
    crypto_auth_hmacsha512_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

int sl_montecarlo_sign(const char *secret, const char *body, size_t len, int canonical,
                       char out[129])
{
    unsigned char mac[crypto_auth_hmacsha512_BYTES];
    if (sodium_init() < 0) {
        return SL_ENOMEM;
    }
    if (canonical) {
        sl_buf_t c = {0};
        int rc = sl_montecarlo_canonical(body, len, &c);
        if (rc != SL_OK) {
            sl_buf_free(&c);
            return rc;
        }
        s_hmac(secret, c.data, c.len, mac);
        sl_buf_free(&c);
    } else {
        s_hmac(secret, body, len, mac);
    }
    sodium_bin2hex(out, 129, mac, sizeof mac);
    return SL_OK;
}

int sl_montecarlo_verify(const char *secret, const char *body, size_t len,
                         const char *signature_hex)
{
    unsigned char want[crypto_auth_hmacsha512_BYTES], mac[crypto_auth_hmacsha512_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    if (!secret || !signature_hex || !body) {
        return SL_EINVAL;
    }
    if (sodium_init() < 0) {
        return SL_ENOMEM;
    }
    if (strncasecmp(signature_hex, "sha512=", 7) == 0) {
        signature_hex += 7;
    }
    size_t hl = strlen(signature_hex);
    while (hl > 0 && (signature_hex[hl - 1] == ' ' || signature_hex[hl - 1] == '\t')) {
        hl--;
    }
    if (hl != 2 * sizeof want ||
        sodium_hex2bin(want, sizeof want, signature_hex, hl, NULL, &bin_len, &end) != 0 ||
        bin_len != sizeof want) {
        return SL_EINVAL;
    }
    s_hmac(secret, body, len, mac);
    if (sodium_memcmp(mac, want, sizeof mac) == 0) {
        return SL_OK;
    }
    sl_buf_t c = {0};
    int rc = sl_montecarlo_canonical(body, len, &c);
    if (rc == SL_ENOMEM) {
        sl_buf_free(&c);
        return rc;
    }
    if (rc == SL_OK) {
        s_hmac(secret, c.data, c.len, mac);
        rc = sodium_memcmp(mac, want, sizeof mac) == 0 ? SL_OK : SL_EINVAL;
    } else {
        rc = SL_EINVAL;
    }
    sl_buf_free(&c);
    return rc;
}

/* ------------------------------------------------------------ secrets per tenant */

typedef struct {
    char tenant[65];
    char *secret;
    char *token;
} s_sec_t;

struct sl_mc_secrets {
    s_sec_t *v;
    int n, cap;
};

static void s_sec_zfree(char *p)
{
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}

void sl_mc_secrets_destroy(sl_mc_secrets_t **ps)
{
    if (!ps || !*ps) {
        return;
    }
    sl_mc_secrets_t *s = *ps;
    for (int i = 0; i < s->n; i++) {
        s_sec_zfree(s->v[i].secret);
        s_sec_zfree(s->v[i].token);
    }
    free(s->v);
    free(s);
    *ps = NULL;
}

int sl_mc_secrets_count(const sl_mc_secrets_t *s)
{
    return s ? s->n : 0;
}

/*  1 if value is some tenant's secret or token already. */
static int s_sec_taken(const sl_mc_secrets_t *s, const char *value)
{
    for (int i = 0; value && i < s->n; i++) {
        if ((s->v[i].secret && strcmp(s->v[i].secret, value) == 0) ||
            (s->v[i].token && strcmp(s->v[i].token, value) == 0)) {
            return 1;
        }
    }
    return 0;
}

int sl_mc_secrets_add(sl_mc_secrets_t *s, const char *tenant, const char *secret, const char *token)
{
    if (!s || !tenant || !sl_name_ok(tenant, 64) || (!secret && !token) || (secret && !*secret) ||
        (token && !*token)) {
        return SL_EINVAL;
    }
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].tenant, tenant) == 0) {
            return SL_EEXIST;
        }
    }
    if (s_sec_taken(s, secret) || s_sec_taken(s, token) ||
        (secret && token && strcmp(secret, token) == 0)) {
        return SL_EEXIST;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 4;
        s_sec_t *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            return SL_ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s_sec_t *e = &s->v[s->n];
    memset(e, 0, sizeof *e);
    snprintf(e->tenant, sizeof e->tenant, "%s", tenant);
    e->secret = secret ? strdup(secret) : NULL;
    e->token = token ? strdup(token) : NULL;
    if ((secret && !e->secret) || (token && !e->token)) {
        s_sec_zfree(e->secret);
        s_sec_zfree(e->token);
        return SL_ENOMEM;
    }
    s->n++;
    return SL_OK;
}

static int s_sec_fail(char *err, size_t errlen, char *where, size_t wherelen, const char *tenant,
                      const char *msg)
{
    snprintf(err, errlen, "montecarlo%s%s: %s", tenant ? "." : "", tenant ? tenant : "", msg);
    if (where && wherelen) {
        snprintf(where, wherelen, "%s%s", tenant ? "/" : "", tenant ? tenant : "");
    }
    return SL_EINVAL;
}

static int s_sec_parse(const char *json, sl_mc_secrets_t *s, char *err, size_t errlen, char *where,
                       size_t wherelen)
{
    json_error_t je;
    int rc = SL_OK;
    json_t *root = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        rc = s_sec_fail(err, errlen, where, wherelen, NULL,
                        "expected a map of tenant -> {secret, token}");
        goto done;
    }
    const char *t;
    json_t *v;
    json_object_foreach(root, t, v)
    {
        if (!sl_name_ok(t, 64)) {
            rc = s_sec_fail(err, errlen, where, wherelen, NULL,
                            "a key is not a tenant name (1 to 64 of A-Z a-z 0-9 _ -)");
            goto done;
        }
        if (!json_is_object(v)) {
            rc = s_sec_fail(err, errlen, where, wherelen, t, "expected a map with secret, token");
            goto done;
        }
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "secret") != 0 && strcmp(k, "token") != 0) {
                rc = s_sec_fail(err, errlen, where, wherelen, t,
                                "unknown key (expected: secret, token)");
                goto done;
            }
            if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) > 1024 ||
                strlen(json_string_value(x)) != json_string_length(x)) {
                rc = s_sec_fail(err, errlen, where, wherelen, t,
                                "secret and token must be strings of 1 to 1024 bytes");
                goto done;
            }
        }
        const char *sec = json_string_value(json_object_get(v, "secret"));
        const char *tok = json_string_value(json_object_get(v, "token"));
        if (!sec && !tok) {
            rc = s_sec_fail(err, errlen, where, wherelen, t, "needs a secret or a token");
            goto done;
        }
        rc = sl_mc_secrets_add(s, t, sec, tok);
        if (rc == SL_EEXIST) {
            rc = s_sec_fail(err, errlen, where, wherelen, t,
                            "a secret or token is also another tenant's (or the tenant's own "
                            "secret and token are equal): each authenticates one tenant");
            goto done;
        }
        if (rc) {
            snprintf(err, errlen, "montecarlo: %s", sl_strerror(rc));
            goto done;
        }
    }
done:
    json_decref(root);
    return rc;
}

int sl_mc_secrets_check(const char *json, char *err, size_t errlen, char *where, size_t wherelen)
{
    sl_mc_secrets_t s = {0};
    sl_mc_secrets_t *p = &s;
    int rc = s_sec_parse(json, &s, err, errlen, where, wherelen);
    for (int i = 0; i < s.n; i++) {
        s_sec_zfree(s.v[i].secret);
        s_sec_zfree(s.v[i].token);
    }
    free(s.v);
    (void)p;
    return rc ? 1 : 0;
}

sl_mc_secrets_t *sl_mc_secrets_new(const char *json, char *err, size_t errlen)
{
    char where[128];
    sl_mc_secrets_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (json && s_sec_parse(json, s, err, errlen, where, sizeof where) != SL_OK) {
        sl_mc_secrets_destroy(&s);
        return NULL;
    }
    return s;
}

const char *sl_mc_secrets_by_token(const sl_mc_secrets_t *s, const char *token)
{
    const char *found = NULL;
    for (int i = 0; s && token && i < s->n; i++) {
        /*  Every token is compared, so the time taken says nothing about
            which one (if any) matched. */
        if (s->v[i].token && sl_token_equal(s->v[i].token, token) && !found) {
            found = s->v[i].tenant;
        }
    }
    return found;
}

const char *sl_mc_secrets_by_signature(const sl_mc_secrets_t *s, const char *tenant,
                                       const char *body, size_t len, const char *signature)
{
    unsigned char want[crypto_auth_hmacsha512_BYTES], mac[crypto_auth_hmacsha512_BYTES];
    size_t bin_len = 0;
    const char *end = NULL;
    if (!s || !body || !signature || sodium_init() < 0) {
        return NULL;
    }
    const char *hex = signature;
    if (strncasecmp(hex, "sha512=", 7) == 0) {
        hex += 7;
    }
    size_t hl = strlen(hex);
    while (hl > 0 && (hex[hl - 1] == ' ' || hex[hl - 1] == '\t')) {
        hl--;
    }
    if (hl != 2 * sizeof want ||
        sodium_hex2bin(want, sizeof want, hex, hl, NULL, &bin_len, &end) != 0 ||
        bin_len != sizeof want) {
        return NULL;
    }
    /*  The raw body under each secret, then the canonical form (made once)
        under each: the costly part is the canonical form, not the HMACs. */
    for (int i = 0; i < s->n; i++) {
        if (!s->v[i].secret || (tenant && strcmp(tenant, s->v[i].tenant) != 0)) {
            continue;
        }
        s_hmac(s->v[i].secret, body, len, mac);
        if (sodium_memcmp(mac, want, sizeof mac) == 0) {
            return s->v[i].tenant;
        }
    }
    sl_buf_t c = {0};
    const char *found = NULL;
    if (sl_montecarlo_canonical(body, len, &c) == SL_OK) {
        for (int i = 0; i < s->n && !found; i++) {
            if (!s->v[i].secret || (tenant && strcmp(tenant, s->v[i].tenant) != 0)) {
                continue;
            }
            s_hmac(s->v[i].secret, c.data, c.len, mac);
            if (sodium_memcmp(mac, want, sizeof mac) == 0) {
                found = s->v[i].tenant;
            }
        }
    }
    sl_buf_free(&c);
    return found;
}
