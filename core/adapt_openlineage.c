/*  OpenLineage RunEvents -> asset.upsert (job and datasets) and
    lineage.edge (every input -> job -> every output).

    Every RunEvent describes the job and its datasets, so assets are made
    from any eventType; edges only from the eventTypes the map allows
    (COMPLETE by default: a START may name inputs a failed run never
    read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/adapters.h"
#include "sluice/event.h"

#define S_MAX_INPUT ((size_t)SL_EVENT_MAX_BODY * 4)

typedef struct {
    char *err;
    size_t errlen;
    const char *tenant;
    int64_t at;
    json_t *events;
} s_ctx_t;

/*  A required non-empty string at o[k]; NULL and an error naming `field`. */
static const char *s_req(s_ctx_t *c, json_t *o, const char *k, const char *field, int *rc)
{
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    if (!v || json_is_null(v)) {
        *rc = sl_adapt__fail(c->err, c->errlen, SL_EPROTO, "field '%s': missing", field);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *rc = sl_adapt__fail(c->err, c->errlen, SL_EPROTO,
                             "field '%s': expected a non-empty string", field);
        return NULL;
    }
    return json_string_value(v);
}

static const char *s_facet_str(json_t *facets, const char *facet, const char *k)
{
    json_t *v = json_object_get(json_object_get(facets, facet), k);
    return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

/*  schema facet fields -> [{name, type, description, fields}] (nested
    fields of structs kept); entries without a name are skipped. */
static json_t *s_fields(json_t *fields, int depth)
{
    json_t *out = json_array();
    size_t i;
    json_t *f;
    if (!out) {
        return NULL;
    }
    json_array_foreach(fields, i, f)
    {
        const char *n = json_is_object(f) ? json_string_value(json_object_get(f, "name")) : NULL;
        if (!n) {
            continue;
        }
        json_t *o = json_pack("{s:s}", "name", n);
        const char *t = json_string_value(json_object_get(f, "type"));
        const char *d = json_string_value(json_object_get(f, "description"));
        json_t *sub = json_object_get(f, "fields");
        if (!o || (t && json_object_set_new(o, "type", json_string(t)) != 0) ||
            (d && json_object_set_new(o, "description", json_string(d)) != 0) ||
            (json_is_array(sub) && json_array_size(sub) > 0 && depth < 8 &&
             json_object_set_new(o, "fields", s_fields(sub, depth + 1)) != 0) ||
            json_array_append_new(out, o) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static int s_dataset(s_ctx_t *c, const sl_name_map_t *map, json_t *ds, const char *list, size_t i,
                     char *qn, size_t cap)
{
    char field[64];
    int rc = SL_OK;
    if (!json_is_object(ds)) {
        return sl_adapt__fail(c->err, c->errlen, SL_EPROTO, "field '%s[%zu]': expected an object",
                              list, i);
    }
    snprintf(field, sizeof field, "%s[%zu].namespace", list, i);
    const char *ns = s_req(c, ds, "namespace", field, &rc);
    if (!ns) {
        return rc;
    }
    snprintf(field, sizeof field, "%s[%zu].name", list, i);
    const char *name = s_req(c, ds, "name", field, &rc);
    if (!name) {
        return rc;
    }
    if ((rc = sl_name_map_openlineage(map, ns, name, qn, cap, c->err, c->errlen)) != SL_OK) {
        return rc;
    }
    json_t *facets = json_object_get(ds, "facets");
    json_t *body = json_pack("{s:s,s:s,s:s}", "qualified_name", qn, "type", "table", "name", name);
    if (!body) {
        return SL_ENOMEM;
    }
    const char *doc = s_facet_str(facets, "documentation", "description");
    if (doc && json_object_set_new(body, "description", json_string(doc)) != 0) {
        json_decref(body);
        return SL_ENOMEM;
    }
    /*  Attributes replace as a whole in the store: only a dataset that
        brings its schema sets them, so a bare input does not wipe the
        fields an earlier output reported. */
    json_t *fields = json_object_get(json_object_get(facets, "schema"), "fields");
    if (json_is_array(fields)) {
        json_t *attrs = json_pack("{s:s,s:o}", "namespace", ns, "fields", s_fields(fields, 0));
        if (!attrs || json_object_set_new(body, "attributes", attrs) != 0) {
            json_decref(body);
            return SL_ENOMEM;
        }
    }
    return sl_adapt__event(c->events, c->tenant, "asset.upsert", "openlineage", qn, c->at, body);
}

static int s_edge(s_ctx_t *c, const char *from, const char *to, const char *job)
{
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:s}", "from", from, "to", to, "type", "data", "job", job);
    return sl_adapt__event(c->events, c->tenant, "lineage.edge", "openlineage", from, c->at, body);
}

int sl_openlineage_event(const char *body, size_t len, const sl_name_map_t *map, const char *tenant,
                         sl_buf_t *out, char *err, size_t errlen)
{
    s_ctx_t c = {.err = err, .errlen = errlen, .tenant = tenant};
    json_t *root = NULL;
    char(*in_qn)[SL_QNAME_MAX] = NULL, (*out_qn)[SL_QNAME_MAX] = NULL;
    char job_qn[SL_QNAME_MAX];
    json_error_t jerr;
    int rc = SL_OK;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!body || len > S_MAX_INPUT) {
        return sl_adapt__fail(err, errlen, SL_ERANGE, "body: larger than %zu bytes", S_MAX_INPUT);
    }
    if (!(root = json_loadb(body, len, 0, &jerr))) {
        return sl_adapt__fail(err, errlen, SL_EPROTO, "invalid JSON at line %d column %d: %s",
                              jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO, "body: expected a JSON object (a RunEvent)");
        goto fail;
    }
    json_t *job = json_object_get(root, "job");
    const char *run_id = s_req(&c, json_object_get(root, "run"), "runId", "run.runId", &rc);
    const char *job_ns = run_id ? s_req(&c, job, "namespace", "job.namespace", &rc) : NULL;
    const char *job_name = job_ns ? s_req(&c, job, "name", "job.name", &rc) : NULL;
    const char *etime = job_name ? s_req(&c, root, "eventTime", "eventTime", &rc) : NULL;
    const char *producer = etime ? s_req(&c, root, "producer", "producer", &rc) : NULL;
    if (!producer) {
        goto fail;
    }
    if (sl_time_parse(etime, strlen(etime), &c.at) != SL_OK) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO,
                            "field 'eventTime': expected an ISO-8601 time, got '%.64s'", etime);
        goto fail;
    }
    json_t *et = json_object_get(root, "eventType");
    if (et && !json_is_null(et) && !json_is_string(et)) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO, "field 'eventType': expected a string");
        goto fail;
    }
    const char *etype = json_is_string(et) ? json_string_value(et) : NULL;
    json_t *ins = json_object_get(root, "inputs"), *outs = json_object_get(root, "outputs");
    if (ins && !json_is_null(ins) && !json_is_array(ins)) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO, "field 'inputs': expected a list");
        goto fail;
    }
    if (outs && !json_is_null(outs) && !json_is_array(outs)) {
        rc = sl_adapt__fail(err, errlen, SL_EPROTO, "field 'outputs': expected a list");
        goto fail;
    }
    size_t n_in = json_array_size(ins), n_out = json_array_size(outs);
    rc = SL_ENOMEM;
    if (!(c.events = json_array()) || (n_in && !(in_qn = calloc(n_in, sizeof *in_qn))) ||
        (n_out && !(out_qn = calloc(n_out, sizeof *out_qn)))) {
        goto fail;
    }
    if ((rc = sl_name_map_openlineage_job(map, job_ns, job_name, job_qn, sizeof job_qn, err,
                                          errlen)) != SL_OK) {
        goto fail;
    }
    json_t *jb = json_pack("{s:s,s:s,s:s,s:{s:s}}", "qualified_name", job_qn, "type", "job", "name",
                           job_name, "attributes", "namespace", job_ns);
    const char *doc = s_facet_str(json_object_get(job, "facets"), "documentation", "description");
    if (jb && doc && json_object_set_new(jb, "description", json_string(doc)) != 0) {
        json_decref(jb);
        jb = NULL;
    }
    if ((rc = sl_adapt__event(c.events, tenant, "asset.upsert", "openlineage", job_qn, c.at, jb)) !=
        SL_OK) {
        goto fail;
    }
    for (size_t i = 0; i < n_in; i++) {
        if ((rc = s_dataset(&c, map, json_array_get(ins, i), "inputs", i, in_qn[i],
                            sizeof in_qn[i])) != SL_OK) {
            goto fail;
        }
    }
    for (size_t i = 0; i < n_out; i++) {
        if ((rc = s_dataset(&c, map, json_array_get(outs, i), "outputs", i, out_qn[i],
                            sizeof out_qn[i])) != SL_OK) {
            goto fail;
        }
    }
    if (sl_name_map_lineage_event(map, etype)) {
        for (size_t i = 0; i < n_in; i++) {
            if ((rc = s_edge(&c, in_qn[i], job_qn, job_qn)) != SL_OK) {
                goto fail;
            }
        }
        for (size_t i = 0; i < n_out; i++) {
            if ((rc = s_edge(&c, job_qn, out_qn[i], job_qn)) != SL_OK) {
                goto fail;
            }
        }
    }
    rc = sl_adapt__dump(c.events, out);
fail:
    if (rc != SL_OK && err && errlen && !err[0]) {
        sl_adapt__fail(err, errlen, rc, "openlineage: %s", sl_strerror(rc));
    }
    free(in_qn);
    free(out_qn);
    json_decref(c.events);
    json_decref(root);
    return rc;
}
