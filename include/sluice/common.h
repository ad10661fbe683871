/*  sluice/common.h: the one error vocabulary, small shared types and clocks.

    Every function that can fail returns 0 (SL_OK) or a negative SL_E* code;
    sl_strerror() gives the text. Positive values are reserved for results
    that are not errors (SL_DONE). */
#ifndef SLUICE_COMMON_H
#define SLUICE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_VERSION "0.1.0"

enum {
    SL_OK = 0,
    SL_DONE = 1,       /* not an error: a source has nothing more to give */
    SL_EINVAL = -1,    /* invalid argument or option */
    SL_ENOMEM = -2,    /* allocation failed */
    SL_EIO = -3,       /* I/O error (file, socket) */
    SL_EPROTO = -4,    /* malformed input (msgpack, JSON, YAML) */
    SL_ENOTFOUND = -5, /* no such entity, file, actor */
    SL_EFULL = -6,     /* a bounded resource is full */
    SL_EAGAIN = -7,    /* try again later (would block) */
    SL_ERANGE = -8,    /* value or length out of range, truncated input */
    SL_ETIMEDOUT = -9, /* bounded wait ran out */
    SL_ESTATE = -10,   /* object is in a state that forbids the call */
    SL_EEXIST = -11,   /* already exists */
    SL_ESTOPPED = -12, /* engine or actor is stopping */
    SL_EAUTH = -13,    /* no valid credential (HTTP 401) */
    SL_EPERM = -14,    /* a valid credential, not allowed this (HTTP 403) */
};

/*  Text for an SL_E* code; never NULL. */
const char *sl_strerror(int err);

/*  A view of bytes owned by someone else: not NUL-terminated. */
typedef struct {
    const char *ptr;
    uint32_t len;
} sl_slice_t;

#define SL_SLICE(s) ((sl_slice_t){(s), (uint32_t)strlen(s)})
/*  1 if the slice equals the NUL-terminated string. */
int sl_slice_eq(sl_slice_t s, const char *cstr);

/*  A growable byte buffer. Zero-initialise to use; sl_buf_free() releases.
    Reuse one buffer across events to keep hot paths allocation-free. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} sl_buf_t;

/*  Make room for at least `extra` more bytes. SL_ENOMEM on failure. */
int sl_buf_reserve(sl_buf_t *b, size_t extra);
int sl_buf_append(sl_buf_t *b, const void *data, size_t len);
void sl_buf_reset(sl_buf_t *b);
void sl_buf_free(sl_buf_t *b);

/*  1 if `s` is 1..max characters of A-Z a-z 0-9 _ - (max 0: no bound): the
    names of actors, nodes and tenants, everywhere they are checked. */
int sl_name_ok(const char *s, size_t max);

/*  mkdir -p: make `path` and its missing parents with `mode` (existing
    ones are left as they are). 0, or -1 with errno set. */
int sl_mkdirs(const char *path, unsigned mode);

/*  Append `len` bytes of `s` JSON-escaped (no surrounding quotes). */
int sl_json_escape(sl_buf_t *b, const char *s, size_t len);

/*  Wall clock in microseconds since the Unix epoch. */
int64_t sl_now_us(void);
/*  Monotonic clock in microseconds (for durations and ticks). */
int64_t sl_mono_us(void);

#endif
