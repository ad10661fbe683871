/*  sluice/mpjson.h: msgpack <-> JSON outside the event envelope.

    The store keeps its values as msgpack and works on them as jansson
    trees (read, merge, write back); reads turn msgpack into JSON text.
    The converters are the ones the event JSON form uses (core/event_json.c),
    so a body looks the same wherever it is printed: bin becomes a base64
    string, ext values are dropped, invalid UTF-8 becomes U+FFFD.

    json_t is only forward-declared here: callers that build trees include
    <jansson.h> themselves. */
#ifndef SLUICE_MPJSON_H
#define SLUICE_MPJSON_H

#include "sluice/common.h"

struct json_t;

/*  Append p[0..len) (exactly one msgpack value) as JSON text to `out`.
    SL_EPROTO / SL_ERANGE on malformed input (out is left as it was). */
int sl_msgpack_to_json(const uint8_t *p, size_t len, sl_buf_t *out);

/*  A new jansson tree for p[0..len) (exactly one msgpack value), or NULL if
    malformed, nested deeper than SL_EVENT_MAX_DEPTH, or out of memory.
    Unsigned integers above INT64_MAX become reals; non-string map keys
    become their text (numbers) or are dropped (containers, ext). */
struct json_t *sl_msgpack_to_jansson(const uint8_t *p, size_t len);

/*  Append `v` as msgpack to `out` (smallest encodings). SL_ENOMEM,
    SL_ERANGE (deeper than SL_EVENT_MAX_DEPTH or larger than
    SL_EVENT_MAX_BODY); out is left as it was on error. */
int sl_jansson_to_msgpack(struct json_t *v, sl_buf_t *out);

/*  Find the value of string key `key` in the msgpack map p[0..len) without
    decoding the rest: *vp / *vlen receive the value's bytes. SL_ENOTFOUND
    if absent, SL_EPROTO if p is not a well-formed map. */
int sl_msgpack_map_get(const uint8_t *p, size_t len, const char *key, const uint8_t **vp,
                       size_t *vlen);

/*  The string value of `key` in the map p[0..len) (a slice into p):
    SL_ENOTFOUND if absent, SL_EPROTO if not a string. */
int sl_msgpack_map_str(const uint8_t *p, size_t len, const char *key, sl_slice_t *out);

/*  A msgpack reader over p[0..len), at off. sl_mp_head reads the head of
    the next value: its type, and u (a non-negative integer, a bool, the
    entries of an array or map, the bytes of a str, bin or ext: for ext
    the type byte and the payload, left at r->off and checked to be
    there), i (a negative integer) or f (a float). SL_ERANGE if the bytes
    run out, SL_EPROTO for 0xc1 (never used). */
enum {
    SL_MP_NIL,
    SL_MP_BOOL,
    SL_MP_UINT,
    SL_MP_INT,
    SL_MP_FLOAT,
    SL_MP_STR,
    SL_MP_BIN,
    SL_MP_ARRAY,
    SL_MP_MAP,
    SL_MP_EXT
};
typedef struct {
    const uint8_t *p;
    size_t len, off;
} sl_mp_reader_t;
typedef struct {
    int type;
    uint64_t u;
    int64_t i;
    double f;
} sl_mp_head_t;
int sl_mp_head(sl_mp_reader_t *r, sl_mp_head_t *h);

/*  msgpack writers (the smallest encoding of each value), appending to
    out: an integer, a string of n bytes, a map (is_map 1) or array header
    of n entries. SL_ENOMEM. */
int sl_mp_int(sl_buf_t *out, int64_t v);
int sl_mp_str(sl_buf_t *out, const char *s, size_t n);
int sl_mp_container(sl_buf_t *out, int is_map, size_t n);
/*  The msgpack of a JSON value found at nesting depth `depth` (1: a
    top-level value), appended to out with no size bound: what
    sl_msgpack_to_jansson reads back json-equal (keys with NUL bytes
    included). SL_ERANGE past SL_EVENT_MAX_DEPTH or msgpack's 32-bit
    lengths (out then holds a partial value: the caller truncates),
    SL_ENOMEM. sl_jansson_to_msgpack is this at depth 1, bounded by
    SL_EVENT_MAX_BODY. */
int sl_mp_json(sl_buf_t *out, struct json_t *v, int depth);

#endif
