/*  Fuzz the msgpack envelope reader: a ZeroMQ message of arbitrary bytes
    through the batch reader must never crash or read out of bounds, and
    every event it accepts must survive encode -> decode unchanged. */
#include <stdlib.h>
#include <string.h>

#include "sluice/event.h"

static int s_same(sl_slice_t a, sl_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_buf_t buf;
    sl_batch_reader_t r;
    sl_event_t ev, back;
    size_t used;
    int rc;

    (void)sl_msgpack_check(data, size, &used);
    if (sl_batch_reader_init(&r, data, size) != SL_OK) {
        return 0;
    }
    while ((rc = sl_batch_reader_next(&r, &ev)) == 1) {
        sl_buf_reset(&buf);
        if (sl_event_encode(&ev, &buf) != SL_OK) {
            abort(); /* a decoded event is always encodable */
        }
        if (sl_event_decode(buf.data, buf.len, &used, &back) != SL_OK || used != buf.len) {
            abort();
        }
        if (memcmp(ev.id, back.id, 16) != 0 || memcmp(ev.trace, back.trace, 16) != 0 ||
            !s_same(ev.tenant, back.tenant) || !s_same(ev.kind, back.kind) ||
            !s_same(ev.schema, back.schema) || !s_same(ev.source, back.source) ||
            !s_same(ev.key, back.key) || !s_same(ev.body, back.body) ||
            ev.schema_version != back.schema_version || ev.time_us != back.time_us ||
            ev.ingest_us != back.ingest_us || ev.hops != back.hops || ev.version != back.version) {
            abort();
        }
        /*  The JSON writer must cope with any body the decoder accepted. */
        sl_buf_reset(&buf);
        if (sl_event_to_json(&ev, &buf) != SL_OK) {
            abort();
        }
    }
    return 0;
}
