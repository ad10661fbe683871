/*  jsonl_in: reads events (event API JSON, one per line) from a file, then
    stops. A line that is not a valid event is counted as dropped and logged
    with its line number; reading goes on. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/actor.h"
#include "sluice/log.h"

#define S_LINES_PER_TICK 512

typedef struct {
    char *path;
    FILE *f;
    char *line;
    size_t line_cap;
    int64_t line_no;
    sl_buf_t scratch;
} s_in_t;

static int s_init(sl_actor_t *a, void *state)
{
    s_in_t *s = state;
    s->f = fopen(s->path, "r");
    if (!s->f) {
        sl_error(sl_actor_name(a), "cannot open %s: %s", s->path, strerror(errno));
        return SL_EIO;
    }
    sl_actor_set_tick(a, 0);
    return SL_OK;
}

static int s_tick(sl_actor_t *a, void *state)
{
    s_in_t *s = state;
    for (int i = 0; i < S_LINES_PER_TICK; i++) {
        if (sl_actor_stopping(a)) {
            return SL_DONE;
        }
        ssize_t n = getline(&s->line, &s->line_cap, s->f);
        if (n < 0) {
            return SL_DONE;
        }
        s->line_no++;
        while (n > 0 && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r')) {
            n--;
        }
        if (n == 0) {
            continue;
        }
        sl_event_t ev;
        char err[256];
        if (sl_event_from_json(s->line, (size_t)n, &ev, &s->scratch, err, sizeof err) != SL_OK) {
            char fields[128];
            snprintf(fields, sizeof fields, "\"line\":%lld", (long long)s->line_no);
            sl_log(SL_LOG_WARN, sl_actor_name(a), fields, "%s:%lld: %s", s->path,
                   (long long)s->line_no, err);
            sl_actor_count_error(a);
            continue;
        }
        if (ev.ingest_us == 0) {
            ev.ingest_us = sl_now_us();
        }
        if (ev.source.len == 0) {
            ev.source = (sl_slice_t){sl_actor_name(a), (uint32_t)strlen(sl_actor_name(a))};
        }
        int rc = sl_emit(a, 0, &ev);
        if (rc) {
            return rc == SL_ESTOPPED ? SL_DONE : rc;
        }
    }
    return SL_OK;
}

static void s_exit(sl_actor_t *a, void *state)
{
    s_in_t *s = state;
    if (s->f) {
        fclose(s->f);
        s->f = NULL;
    }
    free(s->line);
    s->line = NULL;
    sl_buf_free(&s->scratch);
}

static const sl_opt_t s_options[] = {
    {"path", SL_OPT_STR, NULL, offsetof(s_in_t, path), SL_OPT_REQUIRED,
     "file of events, one JSON object per line"},
    {0},
};

static const sl_output_t s_outputs[] = {
    {.name = "out", .desc = "the events read"},
    {0},
};

const sl_actor_kind_t sl_actor_jsonl_in = {
    .name = "jsonl_in",
    .description = "Reads events (event API JSON, one per line) from a file, then stops.",
    .flags = SL_KIND_SOURCE,
    .state_size = sizeof(s_in_t),
    .options = s_options,
    .outputs = s_outputs,
    .init = s_init,
    .tick = s_tick,
    .exit = s_exit,
};
