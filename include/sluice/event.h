/*  sluice/event.h: the event envelope.

    Inside sluice an event is one msgpack map (envelope version 1); a ZeroMQ
    message carries either one event (a map) or a batch (a msgpack array of
    maps). At the edges an event is JSON (the public event API in DESIGN.md).
    docs/events.md documents both forms with golden vectors.

    Map keys of the msgpack form (all strings):
      "v"        uint    envelope version, 1
      "id"       bin 16  event id, UUIDv7 (time-ordered), the idempotency key
      "tenant"   str
      "kind"     str     e.g. "tag.set"
      "schema"   str     schema name ("" if none)
      "schema_v" uint    schema version (0 if none)
      "source"   str     actor or connector that made the event
      "key"      str     partition key (usually the asset's qualified name)
      "time"     int     time at the source, microseconds since the epoch
      "ingest"   int     time received at ingest, microseconds since the epoch
      "trace"    bin 16  trace id (all zero if none)
      "hops"     uint    number of actor hops so far (the encoder always
                         writes uint32, 0xce + 4 bytes, so a forwarding
                         hop can patch it in place)
      "body"     map     the event body
    Decoders ignore unknown keys (forward compatibility) and reject an
    envelope whose "v" is missing or greater than SL_EVENT_VERSION, or whose
    "id" is missing. */
#ifndef SLUICE_EVENT_H
#define SLUICE_EVENT_H

#include "sluice/common.h"

#define SL_EVENT_VERSION 1
/*  Bounds enforced by the decoder and the JSON reader. */
#define SL_EVENT_MAX_STR 4096        /* tenant, kind, schema, source, key */
#define SL_EVENT_MAX_BODY (4u << 20) /* body bytes (msgpack) */
#define SL_EVENT_MAX_DEPTH 64        /* nesting depth inside the body */

typedef struct sl_event {
    uint8_t version;
    uint8_t id[16];
    uint8_t trace[16];
    sl_slice_t tenant;
    sl_slice_t kind;
    sl_slice_t schema;
    uint32_t schema_version;
    sl_slice_t source;
    sl_slice_t key;
    int64_t time_us;
    int64_t ingest_us;
    uint32_t hops;
    sl_slice_t body; /* raw msgpack bytes of the body map; len 0 = empty map */
} sl_event_t;

/*  Fill `id` with a new UUIDv7: 48-bit Unix milliseconds, version 7, then
    random bits with a per-process monotonic counter so ids made in the same
    millisecond by this process still sort in creation order. Thread-safe. */
void sl_event_id_new(uint8_t id[16]);
/*  1 for the kinds only sluice itself emits ("propagation.*": the lineage
    walker's results for the store); ingest refuses them from outside. */
int sl_event_kind_internal(sl_slice_t kind);
/*  Canonical 8-4-4-4-12 lower-case text; out must hold 37 bytes. */
void sl_uuid_format(const uint8_t id[16], char out[37]);
/*  Parse canonical text (case-insensitive). SL_EPROTO if malformed. */
int sl_uuid_parse(const char *text, size_t len, uint8_t id[16]);

/*  Append one event as a msgpack map to `out`. SL_ENOMEM, SL_ERANGE
    (a field longer than its bound). The body must be a msgpack map
    (SL_EINVAL if its first byte is not a map header). */
int sl_event_encode(const sl_event_t *ev, sl_buf_t *out);

/*  Decode one msgpack map at p[0..len). On success *used is the number of
    bytes consumed and every slice of `ev` points into p (valid as long as p
    is). SL_EPROTO on malformed, SL_ERANGE on truncated or over-bound input.
    Never reads outside p[0..len). */
int sl_event_decode(const uint8_t *p, size_t len, size_t *used, sl_event_t *ev);

/*  Check that p[0..len) is exactly one well-formed msgpack value within the
    depth bound. Used for bodies. SL_EPROTO / SL_ERANGE otherwise. */
int sl_msgpack_check(const uint8_t *p, size_t len, size_t *used);

/*  Reading a ZeroMQ message that holds one event or a batch. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t off;
    uint32_t remaining;
} sl_batch_reader_t;

/*  SL_EPROTO if the message starts with neither a map nor an array. */
int sl_batch_reader_init(sl_batch_reader_t *r, const void *msg, size_t len);
/*  1 and *ev filled; 0 at the end; negative if the next event is
    malformed or bytes follow the last event (the rest of the message is
    then unreadable; later calls return SL_ESTATE). */
int sl_batch_reader_next(sl_batch_reader_t *r, sl_event_t *ev);

/*  Writing a batch: sl_batch_begin() writes a fixed 5-byte array32 header,
    events are appended with sl_event_encode(), sl_batch_end() patches the
    count in. The batch is a whole message: `out` must be empty at begin
    (the count is patched at offset 0). */
int sl_batch_begin(sl_buf_t *out);
void sl_batch_end(sl_buf_t *out, uint32_t count);

/*  JSON at the edges.

    sl_event_from_json() parses one JSON object in the public event API form:
      {"id": "<uuid>", "tenant": "...", "kind": "...", "time": "RFC 3339",
       "body": {...}, and optionally "schema", "schema_version", "source",
       "key", "received" (RFC 3339), "trace_id" (uuid or 32 hex), "hops"}
    Missing id: a new one is made. Missing time: now. Missing key: taken from
    body.qualified_name, else body.from, else body.external_id, else "".
    Strings and the msgpack body are stored in `scratch` (reset first), and
    ev's slices point into it: valid until scratch changes. On error returns
    SL_EPROTO and writes a one-line reason ("field 'kind': expected a string")
    to err (errlen bytes, always NUL-terminated). */
int sl_event_from_json(const char *json, size_t len, sl_event_t *ev, sl_buf_t *scratch, char *err,
                       size_t errlen);

/*  Append the event as one JSON object (no newline) to `out`, in the same
    form: every envelope field present, times as RFC 3339 with microseconds,
    body converted from msgpack (bin as base64 string, ext dropped). */
int sl_event_to_json(const sl_event_t *ev, sl_buf_t *out);

/*  RFC 3339 helpers (UTC "Z" or numeric offsets accepted on parse). */
int sl_time_parse(const char *text, size_t len, int64_t *us);
/*  Writes "2026-11-25T08:00:00.000000Z"; out must hold 32 bytes. */
void sl_time_format(int64_t us, char out[32]);

#endif
