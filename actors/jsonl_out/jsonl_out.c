/*  jsonl_out: appends every event as one JSON line to a file. Lines are
    buffered and written at least every 100 ms, when 64 KiB are pending, and
    on stop.

    With `schemas` (and `schema` or `schema_map`), the sink declares the
    schema its payloads must satisfy (docs/schemas.md, "Schemas at a
    sink"): an event that does not is not written; it goes to the
    dead-letter store (when the topology has one) and to the log. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "sluice/actor.h"
#include "sluice/log.h"
#include "sluice/schema.h"
#include "sluice/reject.h"

#define S_FLUSH_BYTES (64 * 1024)

typedef struct {
    char *path;
    char *schemas;
    char *schema;
    char *schema_map;
    int fd;
    sl_buf_t pending;
    sl_schema_gate_t *gate;
    sl_reject_t reject;
    uint64_t written;
} s_out_t;

static int s_flush(sl_actor_t *a, s_out_t *s)
{
    size_t off = 0;
    while (off < s->pending.len) {
        ssize_t n = write(s->fd, s->pending.data + off, s->pending.len - off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            sl_error(sl_actor_name(a), "write %s: %s", s->path, strerror(errno));
            /* keep what was not written: the next flush tries again */
            memmove(s->pending.data, s->pending.data + off, s->pending.len - off);
            s->pending.len -= off;
            return SL_EIO;
        }
        off += (size_t)n;
    }
    sl_buf_reset(&s->pending);
    return SL_OK;
}

static int s_init(sl_actor_t *a, void *state)
{
    s_out_t *s = state;
    s->fd = -1;
    if ((s->schema || s->schema_map) && !s->schemas) {
        sl_error(sl_actor_name(a), "schema and schema_map need schemas (the directory)");
        return SL_EINVAL;
    }
    if (s->schemas) {
        char err[1024] = "";
        s->gate = sl_schema_gate_new(s->schemas, s->schema_map, s->schema, err, sizeof err);
        if (!s->gate) {
            sl_error(sl_actor_name(a), "%s", err);
            return SL_EINVAL;
        }
        sl_reject_init(&s->reject, sl_actor_name(a), sl_actor_store_path(a), "not written");
    }
    s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        sl_error(sl_actor_name(a), "cannot open %s: %s", s->path, strerror(errno));
        sl_schema_gate_destroy(&s->gate);
        return SL_EIO;
    }
    sl_actor_set_tick(a, 100 * 1000);
    return SL_OK;
}

/*  An event the sink's schema refuses: logged, counted, dead-lettered. */
static void s_reject(sl_actor_t *a, s_out_t *s, const sl_event_t *ev, const char *reason)
{
    if (sl_reject_event(&s->reject, ev, reason) != SL_OK) {
        sl_actor_count_error(a);
    }
}

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    s_out_t *s = state;
    if (s->gate) {
        char reason[512];
        if (sl_schema_gate_check(s->gate, ev, reason, sizeof reason) != SL_OK) {
            s_reject(a, s, ev, reason);
            return SL_OK;
        }
    }
    s->written++;
    int rc = sl_event_to_json(ev, &s->pending);
    if (rc == SL_OK) {
        rc = sl_buf_append(&s->pending, "\n", 1);
    }
    if (rc == SL_OK && s->pending.len >= S_FLUSH_BYTES) {
        rc = s_flush(a, s);
    }
    return rc;
}

static int s_tick(sl_actor_t *a, void *state)
{
    s_out_t *s = state;
    return s->pending.len ? s_flush(a, s) : SL_OK;
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_out_t *s = state;
    if (s->fd >= 0) {
        if (s->pending.len) {
            s_flush(a, s);
        }
        fsync(s->fd);
        close(s->fd);
        s->fd = -1;
    }
    sl_buf_free(&s->pending);
    if (s->gate) {
        sl_reject_close(&s->reject);
        sl_info(sl_actor_name(a),
                "%llu written, %llu rejected by the schema (%llu dead letters written, %llu "
                "failed)",
                (unsigned long long)s->written, (unsigned long long)s->reject.rejected,
                (unsigned long long)s->reject.dead_letters,
                (unsigned long long)s->reject.dead_letter_errors);
    }
    sl_schema_gate_destroy(&s->gate);
    sl_reject_close(&s->reject);
}

static const sl_opt_t s_options[] = {
    {"path", SL_OPT_STR, NULL, offsetof(s_out_t, path), SL_OPT_REQUIRED,
     "file to append events to, one JSON object per line"},
    {"schemas", SL_OPT_STR, NULL, offsetof(s_out_t, schemas), 0,
     "directory of schema files: when set, only events that satisfy their schema are written; "
     "the others go to the dead-letter store and the log (docs/schemas.md)"},
    {"schema", SL_OPT_STR, NULL, offsetof(s_out_t, schema), 0,
     "with schemas: \"name@version\" every event must satisfy, whatever its kind"},
    {"schema_map", SL_OPT_JSON, NULL, offsetof(s_out_t, schema_map), 0,
     "with schemas, instead of schema: event kind -> \"name@version\"; default: each built-in "
     "kind -> <kind>@1. An event of a kind the map does not name is not written"},
    {0},
};

const sl_actor_kind_t sl_actor_jsonl_out = {
    .name = "jsonl_out",
    .description =
        "Appends every event as one JSON line to a file (flushed every 100 ms and on stop).",
    .state_size = sizeof(s_out_t),
    .options = s_options,
    .init = s_init,
    .handle = s_handle,
    .tick = s_tick,
    .exit = s_exit,
    .check_option = sl_schema_check_option,
};
