/*  jsonl_out: appends every event as one JSON line to a file. Lines are
    buffered and written at least every 100 ms, when 64 KiB are pending, and
    on stop. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "sluice/actor.h"
#include "sluice/log.h"

#define S_FLUSH_BYTES (64 * 1024)

typedef struct {
    char *path;
    int fd;
    sl_buf_t pending;
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
    s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        sl_error(sl_actor_name(a), "cannot open %s: %s", s->path, strerror(errno));
        return SL_EIO;
    }
    sl_actor_set_tick(a, 100 * 1000);
    return SL_OK;
}

static int s_handle(sl_actor_t *a, void *state, const sl_event_t *ev)
{
    s_out_t *s = state;
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
}

static const sl_opt_t s_options[] = {
    {"path", SL_OPT_STR, NULL, offsetof(s_out_t, path), SL_OPT_REQUIRED,
     "file to append events to, one JSON object per line"},
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
};
