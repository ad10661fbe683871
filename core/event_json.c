/*  The event envelope as JSON, at the edges (HTTP ingest, JSONL files,
    sinks). Reading goes through jansson; writing is direct text into the
    caller's buffer (no json_t tree), since sinks write many events.

    This file has its own small msgpack writer (JSON body -> msgpack) and
    reader (msgpack body -> JSON); event.c keeps its own as static functions
    so the hot-path codec stays self-contained. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sluice/event.h"
#include "sluice/mpjson.h"

/*  A JSON text may be larger than its msgpack body (escapes, "1," per small
    int): allow four times the body bound before even parsing. */
#define S_JSON_MAX_INPUT ((size_t)SL_EVENT_MAX_BODY * 4)

/* ------------------------------------------------------------------------ */
/*  msgpack writer (JSON -> msgpack) */

static int s_mp_raw(sl_buf_t *b, uint8_t tag, uint64_t v, int n)
{
    uint8_t tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < n; i++) {
        tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    return sl_buf_append(b, tmp, (size_t)n + 1);
}

int sl_mp_int(sl_buf_t *b, int64_t v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u < 0x80) {
            uint8_t c = (uint8_t)u;
            return sl_buf_append(b, &c, 1);
        }
        if (u <= 0xff) {
            return s_mp_raw(b, 0xcc, u, 1);
        }
        if (u <= 0xffff) {
            return s_mp_raw(b, 0xcd, u, 2);
        }
        if (u <= 0xffffffffu) {
            return s_mp_raw(b, 0xce, u, 4);
        }
        return s_mp_raw(b, 0xcf, u, 8);
    }
    if (v >= -32) {
        uint8_t c = (uint8_t)(int8_t)v;
        return sl_buf_append(b, &c, 1);
    }
    if (v >= INT8_MIN) {
        return s_mp_raw(b, 0xd0, (uint64_t)v, 1);
    }
    if (v >= INT16_MIN) {
        return s_mp_raw(b, 0xd1, (uint64_t)v, 2);
    }
    if (v >= INT32_MIN) {
        return s_mp_raw(b, 0xd2, (uint64_t)v, 4);
    }
    return s_mp_raw(b, 0xd3, (uint64_t)v, 8);
}

static int s_mp_double(sl_buf_t *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return s_mp_raw(b, 0xcb, u, 8);
}

int sl_mp_str(sl_buf_t *b, const char *s, size_t n)
{
    int rc;
    if (n < 32) {
        uint8_t c = (uint8_t)(0xa0 | n);
        rc = sl_buf_append(b, &c, 1);
    } else if (n <= 0xff) {
        rc = s_mp_raw(b, 0xd9, n, 1);
    } else if (n <= 0xffff) {
        rc = s_mp_raw(b, 0xda, n, 2);
    } else {
        rc = s_mp_raw(b, 0xdb, n, 4);
    }
    return rc ? rc : sl_buf_append(b, s, n);
}

int sl_mp_container(sl_buf_t *b, int is_map, size_t n)
{
    if (n < 16) {
        uint8_t c = (uint8_t)((is_map ? 0x80 : 0x90) | n);
        return sl_buf_append(b, &c, 1);
    }
    if (n <= 0xffff) {
        return s_mp_raw(b, is_map ? 0xde : 0xdc, n, 2);
    }
    return s_mp_raw(b, is_map ? 0xdf : 0xdd, n, 4);
}

/*  depth counts containers open including this one (the body map is 1). */
static int s_pack(sl_buf_t *b, json_t *v, int depth, size_t start, size_t max, const char **why)
{
    int rc = SL_OK;
    if (b->len - start > max) {
        *why = "larger than the body bound";
        return SL_ERANGE;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth > SL_EVENT_MAX_DEPTH) {
            *why = "nested too deeply";
            return SL_ERANGE;
        }
        const char *k;
        size_t klen;
        json_t *e;
        if (json_object_size(v) > UINT32_MAX) {
            *why = "too many members";
            return SL_ERANGE;
        }
        rc = sl_mp_container(b, 1, json_object_size(v));
        /*  With the key's length: a key may hold a NUL byte (one read
            from msgpack), and strlen would cut it. */
        json_object_keylen_foreach(v, k, klen, e)
        {
            if (rc == SL_OK) {
                rc = klen > UINT32_MAX ? SL_ERANGE : sl_mp_str(b, k, klen);
            }
            if (rc == SL_OK) {
                rc = s_pack(b, e, depth + 1, start, max, why);
            }
        }
        return rc;
    }
    case JSON_ARRAY: {
        if (depth > SL_EVENT_MAX_DEPTH) {
            *why = "nested too deeply";
            return SL_ERANGE;
        }
        size_t i;
        json_t *e;
        if (json_array_size(v) > UINT32_MAX) {
            *why = "too many elements";
            return SL_ERANGE;
        }
        rc = sl_mp_container(b, 0, json_array_size(v));
        json_array_foreach(v, i, e)
        {
            if (rc == SL_OK) {
                rc = s_pack(b, e, depth + 1, start, max, why);
            }
        }
        return rc;
    }
    case JSON_STRING:
        return json_string_length(v) > UINT32_MAX
                   ? SL_ERANGE
                   : sl_mp_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return sl_mp_int(b, json_integer_value(v));
    case JSON_REAL:
        return s_mp_double(b, json_real_value(v));
    case JSON_TRUE:
        return sl_buf_append(b, "\xc3", 1);
    case JSON_FALSE:
        return sl_buf_append(b, "\xc2", 1);
    default:
        return sl_buf_append(b, "\xc0", 1);
    }
}

/* ------------------------------------------------------------------------ */
/*  JSON -> event */

typedef struct {
    size_t off;
    uint32_t len;
} s_span_t;

__attribute__((format(printf, 4, 5))) static int s_fail(char *err, size_t errlen, int rc,
                                                        const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /*  jansson quotes the offending input in its message: keep the
            reason on one line whatever that input held. */
        for (char *c = err; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                *c = ' ';
            }
        }
    }
    return rc;
}

/*  A string field: absent or null leaves *s NULL; anything but a string of
    at most SL_EVENT_MAX_STR bytes is an error. */
static int s_field_str(json_t *root, const char *name, json_t **s, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, name);
    *s = NULL;
    if (!v || json_is_null(v)) {
        return SL_OK;
    }
    if (!json_is_string(v)) {
        return s_fail(err, errlen, SL_EPROTO, "field '%s': expected a string", name);
    }
    if (json_string_length(v) > SL_EVENT_MAX_STR) {
        return s_fail(err, errlen, SL_EPROTO, "field '%s': longer than 4096 bytes", name);
    }
    *s = v;
    return SL_OK;
}

static int s_field_u32(json_t *root, const char *name, uint32_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, name);
    *out = 0;
    if (!v || json_is_null(v)) {
        return SL_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > (json_int_t)UINT32_MAX) {
        return s_fail(err, errlen, SL_EPROTO,
                      "field '%s': expected an integer from 0 to 4294967295", name);
    }
    *out = (uint32_t)json_integer_value(v);
    return SL_OK;
}

static int s_field_time(json_t *root, const char *name, int64_t *out, int *present, char *err,
                        size_t errlen)
{
    json_t *v = json_object_get(root, name);
    *present = 0;
    if (!v || json_is_null(v)) {
        return SL_OK;
    }
    if (!json_is_string(v) ||
        sl_time_parse(json_string_value(v), json_string_length(v), out) != SL_OK) {
        return s_fail(err, errlen, SL_EPROTO,
                      "field '%s': expected an RFC 3339 time (years 0000-9999)", name);
    }
    *present = 1;
    return SL_OK;
}

static int s_stash(sl_buf_t *scratch, json_t *s, s_span_t *span)
{
    span->off = scratch->len;
    span->len = s ? (uint32_t)json_string_length(s) : 0;
    return s ? sl_buf_append(scratch, json_string_value(s), span->len) : SL_OK;
}

static int s_hex16(const char *t, size_t n, uint8_t out[16])
{
    if (n != 32) {
        return SL_EPROTO;
    }
    for (size_t i = 0; i < 16; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = t[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0) {
                return SL_EPROTO;
            }
            v = v << 4 | d;
        }
        out[i] = (uint8_t)v;
    }
    return SL_OK;
}

int sl_event_from_json(const char *json, size_t len, sl_event_t *ev, sl_buf_t *scratch, char *err,
                       size_t errlen)
{
    json_t *root = NULL, *s, *v;
    json_error_t jerr;
    s_span_t tenant, kind, schema, source, key, body = {0, 0};
    int rc = SL_EPROTO, present;
    char line[96];

    if (err && errlen) {
        err[0] = '\0';
    }
    memset(ev, 0, sizeof *ev);
    sl_buf_reset(scratch);
    if (!json) {
        rc = s_fail(err, errlen, SL_EPROTO, "no input");
        goto fail;
    }
    if (len > S_JSON_MAX_INPUT) {
        rc = s_fail(err, errlen, SL_EPROTO, "event larger than 16 MiB of JSON");
        goto fail;
    }
    root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(line, sizeof line, "line %d, column %d", jerr.line, jerr.column);
        rc = s_fail(err, errlen, SL_EPROTO, "invalid JSON at %s: %s", line, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        rc = s_fail(err, errlen, SL_EPROTO, "expected a JSON object");
        goto fail;
    }
    ev->version = SL_EVENT_VERSION;

    v = json_object_get(root, "v");
    if (v && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) < 1 ||
         json_integer_value(v) > SL_EVENT_VERSION)) {
        rc = s_fail(err, errlen, SL_EPROTO, "field 'v': unsupported envelope version");
        goto fail;
    }

    v = json_object_get(root, "id");
    if (!v || json_is_null(v)) {
        sl_event_id_new(ev->id);
    } else if (!json_is_string(v) ||
               sl_uuid_parse(json_string_value(v), json_string_length(v), ev->id) != SL_OK) {
        rc = s_fail(err, errlen, SL_EPROTO, "field 'id': expected a UUID string");
        goto fail;
    }

    v = json_object_get(root, "kind");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        rc = s_fail(err, errlen, SL_EPROTO, "field 'kind': expected a non-empty string");
        goto fail;
    }
    if ((rc = s_field_str(root, "kind", &s, err, errlen)) != SL_OK ||
        (rc = s_stash(scratch, s, &kind)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_field_str(root, "tenant", &s, err, errlen)) != SL_OK ||
        (rc = s_stash(scratch, s, &tenant)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_field_str(root, "schema", &s, err, errlen)) != SL_OK ||
        (rc = s_stash(scratch, s, &schema)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_field_str(root, "source", &s, err, errlen)) != SL_OK ||
        (rc = s_stash(scratch, s, &source)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_field_u32(root, "schema_version", &ev->schema_version, err, errlen)) != SL_OK ||
        (rc = s_field_u32(root, "hops", &ev->hops, err, errlen)) != SL_OK) {
        goto fail;
    }
    if ((rc = s_field_time(root, "time", &ev->time_us, &present, err, errlen)) != SL_OK) {
        goto fail;
    }
    if (!present) {
        ev->time_us = sl_now_us();
    }
    if ((rc = s_field_time(root, "received", &ev->ingest_us, &present, err, errlen)) != SL_OK) {
        goto fail;
    }

    v = json_object_get(root, "trace_id");
    if (v && !json_is_null(v)) {
        const char *t = json_string_value(v);
        size_t n = json_string_length(v);
        if (!json_is_string(v) ||
            (sl_uuid_parse(t, n, ev->trace) != SL_OK && s_hex16(t, n, ev->trace) != SL_OK)) {
            rc = s_fail(err, errlen, SL_EPROTO,
                        "field 'trace_id': expected a UUID or 32 hex digits");
            goto fail;
        }
    }

    json_t *jbody = json_object_get(root, "body");
    if (jbody && !json_is_null(jbody)) {
        const char *why = "out of memory";
        if (!json_is_object(jbody)) {
            rc = s_fail(err, errlen, SL_EPROTO, "field 'body': expected an object");
            goto fail;
        }
        if (json_object_size(jbody) > 0) {
            body.off = scratch->len;
            rc = s_pack(scratch, jbody, 1, body.off, SL_EVENT_MAX_BODY, &why);
            if (rc == SL_OK && scratch->len - body.off > SL_EVENT_MAX_BODY) {
                why = "larger than the body bound";
                rc = SL_ERANGE;
            }
            if (rc) {
                rc = s_fail(err, errlen, rc == SL_ENOMEM ? SL_ENOMEM : SL_EPROTO,
                            "field 'body': %s (%s)", why, "at most 64 levels and 4 MiB as msgpack");
                goto fail;
            }
            body.len = (uint32_t)(scratch->len - body.off);
        }
    } else {
        jbody = NULL;
    }

    /*  The partition key: given, else the entity the body names. */
    if ((rc = s_field_str(root, "key", &s, err, errlen)) != SL_OK) {
        goto fail;
    }
    if (!s && jbody) {
        static const char *const from[] = {"body.qualified_name", "body.from", "body.external_id"};
        for (size_t i = 0; i < 3 && !s; i++) {
            v = json_object_get(jbody, from[i] + 5);
            if (json_is_string(v)) {
                if (json_string_length(v) > SL_EVENT_MAX_STR) {
                    rc = s_fail(err, errlen, SL_EPROTO, "field 'key': %s is longer than 4096 bytes",
                                from[i]);
                    goto fail;
                }
                s = v;
            }
        }
    }
    if ((rc = s_stash(scratch, s, &key)) != SL_OK) {
        goto fail;
    }

    /*  Slices last: scratch may have moved while it grew. */
    const char *base = (const char *)scratch->data;
    ev->tenant = (sl_slice_t){base ? base + tenant.off : "", tenant.len};
    ev->kind = (sl_slice_t){base ? base + kind.off : "", kind.len};
    ev->schema = (sl_slice_t){base ? base + schema.off : "", schema.len};
    ev->source = (sl_slice_t){base ? base + source.off : "", source.len};
    ev->key = (sl_slice_t){base ? base + key.off : "", key.len};
    ev->body = (sl_slice_t){base ? base + body.off : "", body.len};
    json_decref(root);
    return SL_OK;
fail:
    if (rc == SL_ENOMEM && err && errlen && !err[0]) {
        snprintf(err, errlen, "out of memory");
    }
    json_decref(root);
    memset(ev, 0, sizeof *ev);
    return rc == SL_ENOMEM ? SL_ENOMEM : SL_EPROTO;
}

/* ------------------------------------------------------------------------ */
/*  event -> JSON */

/*  JSON must be valid UTF-8: a str from msgpack might not be, so invalid
    bytes become U+FFFD instead of producing a document nobody can parse. */
static size_t s_utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return need;
}

static int s_json_str(sl_buf_t *out, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t run = 0, i = 0;
    int rc = sl_buf_append(out, "\"", 1);
    while (rc == SL_OK && i < n) {
        size_t k = s_utf8_seq(u + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        rc = sl_json_escape(out, s + run, i - run);
        if (rc == SL_OK) {
            rc = sl_buf_append(out, "\\ufffd", 6);
        }
        run = ++i;
    }
    if (rc == SL_OK && n > run) {
        rc = sl_json_escape(out, s + run, n - run);
    }
    return rc ? rc : sl_buf_append(out, "\"", 1);
}

static int s_json_base64(sl_buf_t *out, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = sl_buf_reserve(out, (n + 2) / 3 * 4 + 2);
    if (rc) {
        return rc;
    }
    char *o = (char *)out->data + out->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o++ = '"';
    out->len = (size_t)(o - (char *)out->data);
    return SL_OK;
}

/*  Shortest text that reads back as the same double, always with a '.' or
    an exponent so it reads back as a real, not an integer. */
static int s_json_double(sl_buf_t *out, double d)
{
    char tmp[40];
    if (!isfinite(d)) {
        return sl_buf_append(out, "null", 4); /* JSON has no NaN or Inf */
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) {
            break;
        }
    }
    if (!strpbrk(tmp, ".eEn")) {
        strcat(tmp, ".0");
    }
    return sl_buf_append(out, tmp, strlen(tmp));
}

typedef sl_mp_reader_t s_rd_t;

int sl_mp_head(sl_mp_reader_t *r, sl_mp_head_t *h)
{
    /*  Bytes of the argument after each of 0xc0..0xdf. */
    static const uint8_t size[32] = {
        0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 1, 1, 1, 1, 1, 1, 2, 4, 2, 4, 2, 4,
    };
    if (r->off >= r->len) {
        return SL_ERANGE;
    }
    uint8_t b = r->p[r->off++];
    uint64_t v = 0;
    size_t n = 0;
    h->u = 0;
    h->i = 0;
    h->f = 0;
    if (b >= 0xc0 && b <= 0xdf) {
        if (b == 0xc1) {
            return SL_EPROTO;
        }
        n = size[b - 0xc0];
        if (r->len - r->off < n) {
            return SL_ERANGE;
        }
        for (size_t k = 0; k < n; k++) {
            v = v << 8 | r->p[r->off + k];
        }
        r->off += n;
    }
    if (b <= 0x7f) {
        h->type = SL_MP_UINT, h->u = b;
    } else if (b <= 0x8f) {
        h->type = SL_MP_MAP, h->u = b & 15;
    } else if (b <= 0x9f) {
        h->type = SL_MP_ARRAY, h->u = b & 15;
    } else if (b <= 0xbf) {
        h->type = SL_MP_STR, h->u = b & 31;
    } else if (b >= 0xe0) {
        h->type = SL_MP_INT, h->i = (int8_t)b;
    } else if (b == 0xc0) {
        h->type = SL_MP_NIL;
    } else if (b == 0xc2 || b == 0xc3) {
        h->type = SL_MP_BOOL, h->u = b == 0xc3;
    } else if (b >= 0xc4 && b <= 0xc6) {
        h->type = SL_MP_BIN, h->u = v;
    } else if (b >= 0xc7 && b <= 0xc9) {
        h->type = SL_MP_EXT, h->u = v + 1; /* the type byte, then the payload */
    } else if (b == 0xca) {
        float fl;
        uint32_t w = (uint32_t)v;
        memcpy(&fl, &w, 4);
        h->type = SL_MP_FLOAT, h->f = fl;
    } else if (b == 0xcb) {
        h->type = SL_MP_FLOAT;
        memcpy(&h->f, &v, 8);
    } else if (b >= 0xcc && b <= 0xcf) {
        h->type = SL_MP_UINT, h->u = v;
    } else if (b >= 0xd0 && b <= 0xd3) {
        uint64_t sign = (uint64_t)1 << (8 * n - 1);
        if (v & sign) {
            /*  v - 2^(8n), without an unsigned-to-signed conversion. */
            uint64_t mag = ~v & (sign - 1 + sign);
            h->type = SL_MP_INT, h->i = -(int64_t)mag - 1;
        } else {
            h->type = SL_MP_UINT, h->u = v;
        }
    } else if (b >= 0xd4 && b <= 0xd8) {
        r->off -= 1; /* the "size" byte read above was the ext type */
        h->type = SL_MP_EXT, h->u = ((uint64_t)1 << (b - 0xd4)) + 1;
    } else if (b >= 0xd9 && b <= 0xdb) {
        h->type = SL_MP_STR, h->u = v;
    } else if (b == 0xdc || b == 0xdd) {
        h->type = SL_MP_ARRAY, h->u = v;
    } else {
        h->type = SL_MP_MAP, h->u = v;
    }
    if ((h->type == SL_MP_STR || h->type == SL_MP_BIN || h->type == SL_MP_EXT) &&
        r->len - r->off < h->u) {
        return SL_ERANGE;
    }
    return SL_OK;
}

/*  sl_mp_head in the shape the readers below use. */
static inline int s_rd_head(s_rd_t *r, int *type, uint64_t *u, int64_t *i, double *f)
{
    sl_mp_head_t h;
    int rc = sl_mp_head(r, &h);
    *type = h.type, *u = h.u, *i = h.i, *f = h.f;
    return rc;
}

/*  Write the next value as JSON. Ext values are dropped: *dropped = 1 and
    nothing written. Map keys that are not strings are written as their
    text (numbers, base64 of bin); a pair whose key is a container or ext
    is dropped. depth bounds recursion (the body was checked already). */
static int s_emit(s_rd_t *r, sl_buf_t *out, int depth, int as_key, int *dropped)
{
    int type, rc = SL_OK;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    char tmp[32];
    *dropped = 0;
    if ((rc = s_rd_head(r, &type, &u, &i, &f)) != SL_OK) {
        return rc;
    }
    if ((type == SL_MP_MAP || type == SL_MP_ARRAY) && depth > SL_EVENT_MAX_DEPTH) {
        return SL_ERANGE;
    }
    const char *q = as_key ? "\"" : "";
    switch (type) {
    case SL_MP_NIL:
        snprintf(tmp, sizeof tmp, "%snull%s", q, q);
        return sl_buf_append(out, tmp, strlen(tmp));
    case SL_MP_BOOL:
        snprintf(tmp, sizeof tmp, "%s%s%s", q, u ? "true" : "false", q);
        return sl_buf_append(out, tmp, strlen(tmp));
    case SL_MP_UINT:
        snprintf(tmp, sizeof tmp, "%s%llu%s", q, (unsigned long long)u, q);
        return sl_buf_append(out, tmp, strlen(tmp));
    case SL_MP_INT:
        snprintf(tmp, sizeof tmp, "%s%lld%s", q, (long long)i, q);
        return sl_buf_append(out, tmp, strlen(tmp));
    case SL_MP_FLOAT:
        if (as_key && (rc = sl_buf_append(out, "\"", 1)) != SL_OK) {
            return rc;
        }
        rc = s_json_double(out, f);
        return rc || !as_key ? rc : sl_buf_append(out, "\"", 1);
    case SL_MP_STR:
        rc = s_json_str(out, (const char *)r->p + r->off, u);
        r->off += u;
        return rc;
    case SL_MP_BIN:
        rc = s_json_base64(out, r->p + r->off, u);
        r->off += u;
        return rc;
    case SL_MP_EXT:
        r->off += u;
        *dropped = 1;
        return SL_OK;
    default:
        break;
    }
    /*  A container. As a key it cannot be JSON: emit it, then roll back. */
    size_t mark = out->len;
    int is_map = type == SL_MP_MAP, first = 1;
    rc = sl_buf_append(out, is_map ? "{" : "[", 1);
    for (uint64_t k = 0; rc == SL_OK && k < u; k++) {
        size_t item = out->len;
        int drop_k = 0, drop_v = 0;
        if (!first) {
            rc = sl_buf_append(out, ",", 1);
        }
        if (rc == SL_OK && is_map) {
            rc = s_emit(r, out, depth + 1, 1, &drop_k);
            if (rc == SL_OK) {
                rc = sl_buf_append(out, ":", 1);
            }
        }
        if (rc == SL_OK) {
            rc = s_emit(r, out, depth + 1, 0, &drop_v);
        }
        if (rc == SL_OK && (drop_k || drop_v)) {
            out->len = item;
        } else {
            first = 0;
        }
    }
    if (rc == SL_OK) {
        rc = sl_buf_append(out, is_map ? "}" : "]", 1);
    }
    if (rc == SL_OK && as_key) {
        out->len = mark;
        *dropped = 1;
    }
    return rc;
}

int sl_event_to_json(const sl_event_t *ev, sl_buf_t *out)
{
    size_t mark = out->len;
    char id[37], trace[37], tm[32], rcv[32];
    char num[64];
    int rc;

    sl_uuid_format(ev->id, id);
    sl_uuid_format(ev->trace, trace);
    sl_time_format(ev->time_us, tm);
    sl_time_format(ev->ingest_us, rcv);

#define S_LIT(s) sl_buf_append(out, (s), sizeof(s) - 1)
#define S_TRY(x)                                                                                   \
    do {                                                                                           \
        if ((rc = (x)) != SL_OK) {                                                                 \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)
    snprintf(num, sizeof num, "{\"v\":%d,\"id\":\"", SL_EVENT_VERSION);
    S_TRY(sl_buf_append(out, num, strlen(num)));
    S_TRY(sl_buf_append(out, id, 36));
    S_TRY(S_LIT("\",\"tenant\":"));
    S_TRY(s_json_str(out, ev->tenant.ptr, ev->tenant.len));
    S_TRY(S_LIT(",\"kind\":"));
    S_TRY(s_json_str(out, ev->kind.ptr, ev->kind.len));
    S_TRY(S_LIT(",\"schema\":"));
    S_TRY(s_json_str(out, ev->schema.ptr, ev->schema.len));
    snprintf(num, sizeof num, ",\"schema_version\":%u,\"source\":", ev->schema_version);
    S_TRY(sl_buf_append(out, num, strlen(num)));
    S_TRY(s_json_str(out, ev->source.ptr, ev->source.len));
    S_TRY(S_LIT(",\"key\":"));
    S_TRY(s_json_str(out, ev->key.ptr, ev->key.len));
    S_TRY(S_LIT(",\"time\":\""));
    S_TRY(sl_buf_append(out, tm, strlen(tm)));
    if (ev->ingest_us == 0) {
        /*  0 means "not received through ingest": say so rather than 1970. */
        S_TRY(S_LIT("\",\"received\":null,\"trace_id\":\""));
    } else {
        S_TRY(S_LIT("\",\"received\":\""));
        S_TRY(sl_buf_append(out, rcv, strlen(rcv)));
        S_TRY(S_LIT("\",\"trace_id\":\""));
    }
    S_TRY(sl_buf_append(out, trace, 36));
    snprintf(num, sizeof num, "\",\"hops\":%u,\"body\":", ev->hops);
    S_TRY(sl_buf_append(out, num, strlen(num)));
    if (ev->body.len == 0) {
        S_TRY(S_LIT("{}"));
    } else {
        const uint8_t *bp = (const uint8_t *)ev->body.ptr;
        s_rd_t r = {bp, ev->body.len, 0};
        int dropped;
        if (!((bp[0] & 0xf0) == 0x80 || bp[0] == 0xde || bp[0] == 0xdf) ||
            sl_msgpack_check(bp, ev->body.len, NULL) != SL_OK) {
            rc = SL_EPROTO;
            goto fail;
        }
        S_TRY(s_emit(&r, out, 1, 0, &dropped));
    }
    S_TRY(S_LIT("}"));
#undef S_TRY
#undef S_LIT
    return SL_OK;
fail:
    out->len = mark;
    return rc;
}

/* ------------------------------------------------------------------------ */
/*  msgpack <-> JSON outside the envelope (sluice/mpjson.h) */

int sl_msgpack_to_json(const uint8_t *p, size_t len, sl_buf_t *out)
{
    size_t mark = out->len;
    s_rd_t r = {p, len, 0};
    int dropped, rc;
    if (len == 0 || sl_msgpack_check(p, len, NULL) != SL_OK) {
        return SL_EPROTO;
    }
    rc = s_emit(&r, out, 1, 0, &dropped);
    if (rc == SL_OK && dropped) {
        rc = sl_buf_append(out, "null", 4); /* a lone ext value */
    }
    if (rc != SL_OK) {
        out->len = mark;
    }
    return rc;
}

/*  A jansson string for bytes that may not be UTF-8 (invalid bytes become
    U+FFFD, as in the JSON text form). */
static json_t *s_jstr(const char *s, size_t n)
{
    json_t *v = json_stringn(s, n);
    if (v) {
        return v;
    }
    sl_buf_t b = {0};
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        size_t k = s_utf8_seq(u + i, n - i);
        int rc = k ? sl_buf_append(&b, s + i, k) : sl_buf_append(&b, "\xef\xbf\xbd", 3);
        if (rc != SL_OK) {
            sl_buf_free(&b);
            return NULL;
        }
        i += k ? k : 1;
    }
    v = json_stringn(b.data ? (const char *)b.data : "", b.len);
    sl_buf_free(&b);
    return v;
}

/*  Next value as a tree; *drop = 1 (and NULL) for an ext value. */
static json_t *s_tree(s_rd_t *r, int depth, int *drop)
{
    int type;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    json_t *v = NULL;
    *drop = 0;
    if (s_rd_head(r, &type, &u, &i, &f) != SL_OK) {
        return NULL;
    }
    switch (type) {
    case SL_MP_NIL:
        return json_null();
    case SL_MP_BOOL:
        return json_boolean(u);
    case SL_MP_UINT:
        return u > INT64_MAX ? json_real((double)u) : json_integer((json_int_t)u);
    case SL_MP_INT:
        return json_integer((json_int_t)i);
    case SL_MP_FLOAT:
        return isfinite(f) ? json_real(f) : json_null();
    case SL_MP_STR:
        v = s_jstr((const char *)r->p + r->off, u);
        r->off += u;
        return v;
    case SL_MP_BIN: {
        sl_buf_t b = {0};
        if (s_json_base64(&b, r->p + r->off, u) == SL_OK) {
            v = json_stringn((const char *)b.data + 1, b.len - 2); /* without quotes */
        }
        sl_buf_free(&b);
        r->off += u;
        return v;
    }
    case SL_MP_EXT:
        r->off += u;
        *drop = 1;
        return NULL;
    default:
        break;
    }
    if (depth > SL_EVENT_MAX_DEPTH) {
        return NULL;
    }
    /*  Each element needs at least one byte: a count beyond the input is
        malformed, and must not drive the loop. */
    if (u > r->len - r->off) {
        return NULL;
    }
    v = type == SL_MP_MAP ? json_object() : json_array();
    for (uint64_t k = 0; v && k < u; k++) {
        json_t *key = NULL, *e;
        int dk = 0, de = 0;
        if (type == SL_MP_MAP) {
            key = s_tree(r, depth + 1, &dk);
            if (!key && !dk) {
                goto fail;
            }
        }
        e = s_tree(r, depth + 1, &de);
        if (!e && !de) {
            json_decref(key);
            goto fail;
        }
        if (type == SL_MP_ARRAY) {
            if (e && json_array_append_new(v, e) != 0) {
                goto fail;
            }
            continue;
        }
        if (dk || de || !key || json_is_object(key) || json_is_array(key)) {
            json_decref(key);
            json_decref(e);
            continue;
        }
        int rc;
        if (json_is_string(key)) {
            rc = json_object_setn_new(v, json_string_value(key), json_string_length(key), e);
        } else {
            char *text = json_dumps(key, JSON_ENCODE_ANY);
            rc = text ? json_object_set_new(v, text, e) : -1;
            free(text);
        }
        json_decref(key);
        if (rc != 0) {
            goto fail;
        }
    }
    return v;
fail:
    json_decref(v);
    return NULL;
}

json_t *sl_msgpack_to_jansson(const uint8_t *p, size_t len)
{
    s_rd_t r = {p, len, 0};
    int drop;
    if (len == 0) {
        return NULL;
    }
    json_t *v = s_tree(&r, 1, &drop);
    if (v && r.off != len) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int sl_jansson_to_msgpack(json_t *v, sl_buf_t *out)
{
    size_t mark = out->len;
    const char *why = NULL;
    int rc = s_pack(out, v, 1, mark, SL_EVENT_MAX_BODY, &why);
    if (rc != SL_OK) {
        out->len = mark;
    }
    return rc;
}

int sl_mp_json(sl_buf_t *out, json_t *v, int depth)
{
    const char *why = NULL;
    return s_pack(out, v, depth, out->len, SIZE_MAX, &why);
}

/*  Skip one value (bounded depth). */
static int s_rd_skip(s_rd_t *r, int depth)
{
    int type;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    int rc = s_rd_head(r, &type, &u, &i, &f);
    if (rc != SL_OK) {
        return rc;
    }
    if (type == SL_MP_STR || type == SL_MP_BIN || type == SL_MP_EXT) {
        r->off += u;
        return SL_OK;
    }
    if (type != SL_MP_MAP && type != SL_MP_ARRAY) {
        return SL_OK;
    }
    if (depth > SL_EVENT_MAX_DEPTH) {
        return SL_ERANGE;
    }
    uint64_t n = type == SL_MP_MAP ? u * 2 : u;
    if (u > r->len - r->off) {
        return SL_ERANGE;
    }
    for (uint64_t k = 0; k < n; k++) {
        if ((rc = s_rd_skip(r, depth + 1)) != SL_OK) {
            return rc;
        }
    }
    return SL_OK;
}

int sl_msgpack_map_get(const uint8_t *p, size_t len, const char *key, const uint8_t **vp,
                       size_t *vlen)
{
    s_rd_t r = {p, len, 0};
    int type;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    size_t klen = strlen(key);
    if (s_rd_head(&r, &type, &u, &i, &f) != SL_OK || type != SL_MP_MAP) {
        return SL_EPROTO;
    }
    for (uint64_t k = 0; k < u; k++) {
        uint64_t n = 0;
        int kt;
        if (s_rd_head(&r, &kt, &n, &i, &f) != SL_OK) {
            return SL_EPROTO;
        }
        int match = 0;
        if (kt == SL_MP_STR || kt == SL_MP_BIN || kt == SL_MP_EXT) {
            match = kt == SL_MP_STR && n == klen && memcmp(r.p + r.off, key, klen) == 0;
            r.off += n;
        } else if (kt == SL_MP_MAP || kt == SL_MP_ARRAY) {
            return SL_EPROTO; /* not a key the store writes */
        }
        size_t at = r.off;
        if (s_rd_skip(&r, 2) != SL_OK) {
            return SL_EPROTO;
        }
        if (match) {
            *vp = p + at;
            *vlen = r.off - at;
            return SL_OK;
        }
    }
    return SL_ENOTFOUND;
}

int sl_msgpack_map_str(const uint8_t *p, size_t len, const char *key, sl_slice_t *out)
{
    const uint8_t *vp;
    size_t vlen;
    int rc = sl_msgpack_map_get(p, len, key, &vp, &vlen);
    if (rc != SL_OK) {
        return rc;
    }
    s_rd_t r = {vp, vlen, 0};
    int type;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    if (s_rd_head(&r, &type, &u, &i, &f) != SL_OK || type != SL_MP_STR) {
        return SL_EPROTO;
    }
    out->ptr = (const char *)vp + r.off;
    out->len = (uint32_t)u;
    return SL_OK;
}
