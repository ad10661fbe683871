/*  Fuzz the JSON edge: sl_event_from_json over arbitrary bytes must never
    crash; an event it accepts must go to JSON and back to the same msgpack
    encoding. */
#include <stdlib.h>
#include <string.h>

#include "sluice/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sl_buf_t scratch, scratch2, json, enc, enc2;
    sl_event_t ev, back;
    char err[128];

    if (sl_event_from_json((const char *)data, size, &ev, &scratch, err, sizeof err) != SL_OK) {
        if (strlen(err) == 0 || strchr(err, '\n')) {
            abort(); /* every failure has a one-line reason */
        }
        return 0;
    }
    sl_buf_reset(&json);
    sl_buf_reset(&enc);
    sl_buf_reset(&enc2);
    if (sl_event_to_json(&ev, &json) != SL_OK || sl_event_encode(&ev, &enc) != SL_OK) {
        abort();
    }
    if (sl_event_from_json((const char *)json.data, json.len, &back, &scratch2, err, sizeof err) !=
        SL_OK) {
        abort();
    }
    if (sl_event_encode(&back, &enc2) != SL_OK || enc.len != enc2.len ||
        memcmp(enc.data, enc2.data, enc.len) != 0) {
        abort();
    }
    size_t used;
    if (sl_event_decode(enc.data, enc.len, &used, &back) != SL_OK || used != enc.len) {
        abort();
    }
    return 0;
}
