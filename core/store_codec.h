/*  Internal to the store (core/store*.c): the compact, lossless encoding of
    an asset value (S_DB_ASSETS). No LMDB here: the codec works on bytes and
    jansson trees only, so tests and fuzzers use it without an environment.

    The store works on an asset as a jansson object (core/store.c builds it:
    version, created_at, updated_at, placeholder, type, name, description,
    owners, attributes, tags) plus its interned "id". Spelled out as a
    msgpack map that costs ~590 bytes for a typical asset; most of it is
    field names and, per tag, {"own": {"set_by", "set_at", "propagate"}}.

    Layout of a value (docs/RATIONALE.md, "Store: the asset value codec"):

      [0]      0xC1 (SL_ASSET_MARK: a byte msgpack never uses)
      [1..5]   the id, 40 bits big-endian (1 .. 2^40-1): read without decoding
      [6..]    exactly one msgpack map, nothing after it; its keys are
               small positive ints for the known fields, strings otherwise:
        1  version        any JSON value, plain msgpack
        2  created_at     any JSON value, plain msgpack
        3  updated_at     int: updated_at - created_at (both ints, no overflow)
        4  updated_at     any JSON value, plain msgpack (the other cases)
        5  placeholder    any JSON value, plain msgpack
        6  type, 7 name, 8 description, 9 owners, 10 attributes: plain msgpack
        11 tag sources    array of distinct set_by strings (not a field)
        12 tags           (an object) map: tag name -> entry, one of
             int d          {"own": {"set_by": sources[0], "set_at": base + d,
                             "propagate": true}}
             [i, d]         the same with sources[i]
             [i, d, false]  the same with "propagate": false
             [v]            the JSON value v (an entry that is an int or an
                            array, escaped so it is not read as the above)
             anything else  the JSON value it decodes to (a map, a string...)
           base is created_at (0 if not an int) for the first compact entry,
           then the set_at of the previous compact entry (tags set together
           cost a byte or two). An "own" entry of any other shape, or whose
           delta would overflow int64, is stored as its plain map.
        "other"           any other field (or "tags" that is not an object):
                          its name as a string key, its value plain msgpack

    "Plain msgpack" is sl_msgpack_to_jansson's input: every JSON value comes
    back json_equal (keys with NUL bytes included): sl_mp_json, the writer
    of event bodies, without their size bound. Object key order is kept. */
#ifndef SLUICE_STORE_CODEC_H
#define SLUICE_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/common.h"

#define SL_ASSET_MARK 0xC1
/*  The largest id: 40 bits, the width of the fixed field. */
#define SL_ASSET_ID_MAX (((uint64_t)1 << 40) - 1)

/*  Append the value of `asset` (an object holding "id", an integer in
    1..SL_ASSET_ID_MAX) to `out`; the caller resets out. SL_EINVAL if asset
    is not an object or the id is missing, not an integer or out of range;
    SL_ERANGE if a value nests deeper than SL_EVENT_MAX_DEPTH (counted from
    each field, tag entry or tag source) or a string or container is beyond
    msgpack's 32-bit lengths; SL_ENOMEM. out is left as it was on error. */
int sl_asset_pack(json_t *asset, sl_buf_t *out);

/*  A new tree (with "id") for the value p[0..n), or NULL if it is malformed
    (anything sl_asset_pack cannot have written: never crashes, never reads
    outside p[0..n)) or out of memory. The caller owns the tree. */
json_t *sl_asset_unpack(const void *p, size_t n);

/*  The "type" string of a value without decoding the rest: SL_OK with
    out pointing into p, SL_ENOTFOUND if there is none (or it is not a
    string), SL_EPROTO if the value is malformed. */
int sl_asset_type(const void *p, size_t n, sl_slice_t *out);

/*  The id at the fixed offset, without decoding. SL_EPROTO if n < 6,
    p[0] != SL_ASSET_MARK or the id is 0. */
int sl_asset_id(const void *p, size_t n, uint64_t *id);

#endif
