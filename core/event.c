/*  The event envelope: UUIDv7 ids, msgpack encode/decode, batches, RFC 3339.

    The msgpack writer and reader are hand-written rather than msgpack-c: the
    envelope has a fixed shape, so the writer sizes the output once and then
    stores bytes without per-field checks, and the reader must be zero-copy,
    allocation-free and bounds-checked on every byte, which msgpack-c's
    unpacker (it builds an object tree in a zone) is not. docs/RATIONALE.md
    has the measurement. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sluice/event.h"

/* ------------------------------------------------------------------------ */
/*  UUIDv7 */

/*  Random bytes are drawn from the kernel in blocks: one getrandom() per id
    would cost a syscall on the ingest hot path. The pool is dropped in a
    forked child so parent and child never hand out the same bits. */
#define S_POOL_SIZE 512

static struct {
    pthread_mutex_t lock;
    uint64_t ms;     /* 48-bit millisecond of the last id */
    uint64_t rand_a; /* 12 bits */
    uint64_t rand_b; /* 62 bits */
    uint8_t pool[S_POOL_SIZE];
    size_t pool_off;
} s_uuid = {.lock = PTHREAD_MUTEX_INITIALIZER, .pool_off = S_POOL_SIZE};

static pthread_once_t s_uuid_once = PTHREAD_ONCE_INIT;

static void s_uuid_atfork_prepare(void)
{
    pthread_mutex_lock(&s_uuid.lock);
}

static void s_uuid_atfork_parent(void)
{
    pthread_mutex_unlock(&s_uuid.lock);
}

static void s_uuid_atfork_child(void)
{
    s_uuid.pool_off = S_POOL_SIZE;
    pthread_mutex_unlock(&s_uuid.lock);
}

static void s_uuid_init(void)
{
    pthread_atfork(s_uuid_atfork_prepare, s_uuid_atfork_parent, s_uuid_atfork_child);
}

static void s_random_fill(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            /*  No entropy source at all (ENOSYS, a seccomp filter): ids that
                might collide across processes are worse than stopping. */
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

/*  Caller holds the lock. */
static uint64_t s_pool_u64(void)
{
    if (s_uuid.pool_off + 8 > S_POOL_SIZE) {
        s_random_fill(s_uuid.pool, S_POOL_SIZE);
        s_uuid.pool_off = 0;
    }
    uint64_t v;
    memcpy(&v, s_uuid.pool + s_uuid.pool_off, 8);
    s_uuid.pool_off += 8;
    return v;
}

int sl_event_kind_internal(sl_slice_t kind)
{
    return kind.len >= 12 && memcmp(kind.ptr, "propagation.", 12) == 0;
}

void sl_event_id_new(uint8_t id[16])
{
    pthread_once(&s_uuid_once, s_uuid_init);
    uint64_t now = (uint64_t)(sl_now_us() / 1000) & 0xffffffffffffull;

    pthread_mutex_lock(&s_uuid.lock);
    if (now > s_uuid.ms) {
        /*  New millisecond: fresh random bits, with the top bit of rand_a
            clear so the counter below has room before it overflows. */
        s_uuid.ms = now;
        s_uuid.rand_a = s_pool_u64() & 0x7ff;
        s_uuid.rand_b = s_pool_u64() & 0x3fffffffffffffffull;
    } else {
        /*  Same millisecond, or the wall clock stepped back: stay on the last
            millisecond and add a random step (1..2^24) to the 74 random bits
            (RFC 9562 method 2), so ids keep sorting in creation order
            without becoming guessable. */
        uint64_t step = (s_pool_u64() & 0xffffff) + 1;
        s_uuid.rand_b += step;
        if (s_uuid.rand_b > 0x3fffffffffffffffull) {
            s_uuid.rand_b &= 0x3fffffffffffffffull;
            s_uuid.rand_a++;
            if (s_uuid.rand_a > 0xfff) {
                /*  Counter exhausted: borrow the next millisecond. */
                s_uuid.ms++;
                s_uuid.rand_a = s_pool_u64() & 0x7ff;
                s_uuid.rand_b = s_pool_u64() & 0x3fffffffffffffffull;
            }
        }
    }
    uint64_t ms = s_uuid.ms, ra = s_uuid.rand_a, rb = s_uuid.rand_b;
    pthread_mutex_unlock(&s_uuid.lock);

    for (int i = 0; i < 6; i++) {
        id[i] = (uint8_t)(ms >> (40 - 8 * i));
    }
    id[6] = (uint8_t)(0x70 | (ra >> 8));
    id[7] = (uint8_t)ra;
    id[8] = (uint8_t)(0x80 | (rb >> 56));
    for (int i = 9; i < 16; i++) {
        id[i] = (uint8_t)(rb >> (8 * (15 - i)));
    }
}

void sl_uuid_format(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *o++ = '-';
        }
        *o++ = hex[id[i] >> 4];
        *o++ = hex[id[i] & 15];
    }
    *o = '\0';
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int sl_uuid_parse(const char *text, size_t len, uint8_t id[16])
{
    if (!text || len != 36) {
        return SL_EPROTO;
    }
    uint8_t tmp[16];
    size_t n = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return SL_EPROTO;
            }
            i++;
            continue;
        }
        int hi = s_hexval(text[i]), lo = s_hexval(text[i + 1]);
        if (hi < 0 || lo < 0) {
            return SL_EPROTO;
        }
        tmp[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(id, tmp, 16);
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/*  msgpack writer: the caller reserved room, so these only store bytes. */

static uint8_t *s_put_be(uint8_t *o, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        *o++ = (uint8_t)(v >> (8 * i));
    }
    return o;
}

static uint8_t *s_put_uint(uint8_t *o, uint64_t v)
{
    if (v < 0x80) {
        *o++ = (uint8_t)v;
    } else if (v <= 0xff) {
        *o++ = 0xcc;
        *o++ = (uint8_t)v;
    } else if (v <= 0xffff) {
        *o++ = 0xcd;
        o = s_put_be(o, v, 2);
    } else if (v <= 0xffffffffu) {
        *o++ = 0xce;
        o = s_put_be(o, v, 4);
    } else {
        *o++ = 0xcf;
        o = s_put_be(o, v, 8);
    }
    return o;
}

/*  Smallest form, non-negative values as uint (what every msgpack encoder
    does, and what makes the golden vectors canonical). */
static uint8_t *s_put_int(uint8_t *o, int64_t v)
{
    if (v >= 0) {
        return s_put_uint(o, (uint64_t)v);
    }
    if (v >= -32) {
        *o++ = (uint8_t)(int8_t)v;
    } else if (v >= INT8_MIN) {
        *o++ = 0xd0;
        *o++ = (uint8_t)(int8_t)v;
    } else if (v >= INT16_MIN) {
        *o++ = 0xd1;
        o = s_put_be(o, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        *o++ = 0xd2;
        o = s_put_be(o, (uint64_t)v, 4);
    } else {
        *o++ = 0xd3;
        o = s_put_be(o, (uint64_t)v, 8);
    }
    return o;
}

/*  Strings here are bounded by SL_EVENT_MAX_STR, so str32 is never needed. */
static uint8_t *s_put_str(uint8_t *o, const char *s, uint32_t n)
{
    if (n < 32) {
        *o++ = (uint8_t)(0xa0 | n);
    } else if (n <= 0xff) {
        *o++ = 0xd9;
        *o++ = (uint8_t)n;
    } else {
        *o++ = 0xda;
        o = s_put_be(o, n, 2);
    }
    if (n) {
        memcpy(o, s, n);
    }
    return o + n;
}

static uint8_t *s_put_key(uint8_t *o, const char *k, size_t n)
{
    *o++ = (uint8_t)(0xa0 | n);
    memcpy(o, k, n);
    return o + n;
}

static uint8_t *s_put_bin16(uint8_t *o, const uint8_t b[16])
{
    *o++ = 0xc4;
    *o++ = 16;
    memcpy(o, b, 16);
    return o + 16;
}

#define S_KEY(o, lit) s_put_key((o), (lit), sizeof(lit) - 1)

int sl_event_encode(const sl_event_t *ev, sl_buf_t *out)
{
    const sl_slice_t *strs[5] = {&ev->tenant, &ev->kind, &ev->schema, &ev->source, &ev->key};
    /*  Keys and fixed-size values (13 keys of at most 9 bytes each, ints of
        at most 9, two bin16), plus each string with a 3-byte header. */
    size_t need = 13 * 9 + 5 * 9 + 2 * 18 + 1;
    for (int i = 0; i < 5; i++) {
        if (strs[i]->len > SL_EVENT_MAX_STR) {
            return SL_ERANGE;
        }
        need += 3 + strs[i]->len;
    }
    if (ev->body.len > SL_EVENT_MAX_BODY) {
        return SL_ERANGE;
    }
    if (ev->body.len > 0) {
        uint8_t b0 = (uint8_t)ev->body.ptr[0];
        if (!((b0 & 0xf0) == 0x80 || b0 == 0xde || b0 == 0xdf)) {
            return SL_EINVAL;
        }
    }
    need += ev->body.len;
    int rc = sl_buf_reserve(out, need);
    if (rc) {
        return rc;
    }

    uint8_t *o = out->data + out->len;
    *o++ = 0x8d; /* fixmap, 13 entries: every field, always, in this order */
    o = S_KEY(o, "v");
    o = s_put_uint(o, SL_EVENT_VERSION);
    o = S_KEY(o, "id");
    o = s_put_bin16(o, ev->id);
    o = S_KEY(o, "tenant");
    o = s_put_str(o, ev->tenant.ptr, ev->tenant.len);
    o = S_KEY(o, "kind");
    o = s_put_str(o, ev->kind.ptr, ev->kind.len);
    o = S_KEY(o, "schema");
    o = s_put_str(o, ev->schema.ptr, ev->schema.len);
    o = S_KEY(o, "schema_v");
    o = s_put_uint(o, ev->schema_version);
    o = S_KEY(o, "source");
    o = s_put_str(o, ev->source.ptr, ev->source.len);
    o = S_KEY(o, "key");
    o = s_put_str(o, ev->key.ptr, ev->key.len);
    o = S_KEY(o, "time");
    o = s_put_int(o, ev->time_us);
    o = S_KEY(o, "ingest");
    o = s_put_int(o, ev->ingest_us);
    o = S_KEY(o, "trace");
    o = s_put_bin16(o, ev->trace);
    o = S_KEY(o, "hops");
    /*  Always uint32: a hop that forwards an event unchanged patches these
        four bytes in place instead of encoding the event again. */
    *o++ = 0xce;
    o = s_put_be(o, ev->hops, 4);
    o = S_KEY(o, "body");
    if (ev->body.len == 0) {
        *o++ = 0x80;
    } else {
        memcpy(o, ev->body.ptr, ev->body.len);
        o += ev->body.len;
    }
    out->len = (size_t)(o - out->data);
    assert(out->len <= out->cap);
    return SL_OK;
}

/* ------------------------------------------------------------------------ */
/*  msgpack reader. Every read is checked against the end; a value that runs
    past it is SL_ERANGE (truncated), a byte that is not msgpack (0xc1) or a
    type we did not ask for is SL_EPROTO. */

enum { S_NIL, S_BOOL, S_UINT, S_INT, S_FLOAT, S_STR, S_BIN, S_ARRAY, S_MAP, S_EXT };

typedef struct {
    int type;
    uint64_t u; /* S_UINT value, S_BOOL value, length or element count */
    int64_t i;  /* S_INT value (always negative) */
    double f;   /* S_FLOAT value */
    int8_t ext; /* S_EXT type */
} s_head_t;

static inline uint64_t s_get_be(const uint8_t *p, int n)
{
    if (n == 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        return __builtin_bswap64(w);
    }
    if (n == 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        return __builtin_bswap32(w);
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/*  Read the header of the value at p[*off]; on return *off is past the
    header (payload of str/bin/ext not consumed, not yet bounds-checked). */
static int s_head(const uint8_t *p, size_t len, size_t *off, s_head_t *h)
{
    size_t o = *off;
    if (o >= len) {
        return SL_ERANGE;
    }
    uint8_t b = p[o++];
    size_t n = 0; /* bytes of length/value that follow */
    h->ext = 0;
    if (b <= 0x7f) {
        h->type = S_UINT;
        h->u = b;
    } else if (b <= 0x8f) {
        h->type = S_MAP;
        h->u = b & 0x0f;
    } else if (b <= 0x9f) {
        h->type = S_ARRAY;
        h->u = b & 0x0f;
    } else if (b <= 0xbf) {
        h->type = S_STR;
        h->u = b & 0x1f;
    } else if (b >= 0xe0) {
        h->type = S_INT;
        h->i = (int8_t)b;
    } else {
        static const uint8_t size[32] = {
            0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8, /* c0..cf */
            1, 2, 4, 8, 1, 1, 1, 1, 1, 1, 2, 4, 2, 4, 2, 4, /* d0..df */
        };
        if (b == 0xc1) {
            return SL_EPROTO;
        }
        n = size[b - 0xc0];
        if (b >= 0xd4 && b <= 0xd8) {
            n = 1; /* fixext: type byte only, payload is fixed */
        } else if (b >= 0xc7 && b <= 0xc9) {
            n += 1; /* ext 8/16/32: length, then type byte */
        }
        if (len - o < n) {
            return SL_ERANGE;
        }
        uint64_t v = b >= 0xc7 && b <= 0xc9 ? s_get_be(p + o, (int)n - 1) : s_get_be(p + o, (int)n);
        switch (b) {
        case 0xc0:
            h->type = S_NIL;
            break;
        case 0xc2:
        case 0xc3:
            h->type = S_BOOL;
            h->u = b == 0xc3;
            break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            h->type = S_BIN;
            h->u = v;
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            h->type = S_EXT;
            h->u = v;
            h->ext = (int8_t)p[o + n - 1];
            break;
        case 0xca: {
            uint32_t w = (uint32_t)v;
            float f;
            memcpy(&f, &w, 4);
            h->type = S_FLOAT;
            h->f = f;
            break;
        }
        case 0xcb:
            h->type = S_FLOAT;
            memcpy(&h->f, &v, 8);
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            h->type = S_UINT;
            h->u = v;
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            /*  Sign-extend from n bytes; a non-negative value is still an
                integer, just reported as S_UINT so callers see one kind. */
            int64_t s = (int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n);
            if (s >= 0) {
                h->type = S_UINT;
                h->u = (uint64_t)s;
            } else {
                h->type = S_INT;
                h->i = s;
            }
            break;
        }
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            h->type = S_EXT;
            h->u = (uint64_t)1 << (b - 0xd4);
            h->ext = (int8_t)v;
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            h->type = S_STR;
            h->u = v;
            break;
        case 0xdc:
        case 0xdd:
            h->type = S_ARRAY;
            h->u = v;
            break;
        default:
            h->type = S_MAP;
            h->u = v;
            break; /* 0xde, 0xdf */
        }
        o += n;
    }
    *off = o;
    return SL_OK;
}

/*  Skip one complete value at p[*off], containers included, without
    recursion: a stack of "items left" per open container, at most
    max_depth deep. Every item consumes at least one byte, so the loop is
    bounded by len. */
static int s_skip(const uint8_t *p, size_t len, size_t *off, int max_depth)
{
    uint64_t left[SL_EVENT_MAX_DEPTH];
    int depth = 0;
    uint64_t need = 1;
    size_t o = *off;
    assert(max_depth <= SL_EVENT_MAX_DEPTH);
    for (;;) {
        while (need == 0) {
            if (depth == 0) {
                *off = o;
                return SL_OK;
            }
            need = left[--depth];
        }
        need--;
        if (o >= len) {
            return SL_ERANGE;
        }
        /*  Fast path for the one-byte headers that make up most bodies
            (small ints, nil, bools, short strings); everything else goes
            through s_head. */
        uint8_t b = p[o];
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            o++;
            continue;
        }
        if ((b & 0xe0) == 0xa0) {
            size_t n = b & 0x1f;
            if (len - o - 1 < n) {
                return SL_ERANGE;
            }
            o += 1 + n;
            continue;
        }
        if (b == 0xd9) {
            if (len - o < 2 || len - o - 2 < p[o + 1]) {
                return SL_ERANGE;
            }
            o += 2 + (size_t)p[o + 1];
            continue;
        }
        if (b >= 0xcc && b <= 0xd3) {
            size_t n = (size_t)1 << ((b - 0xcc) & 3); /* cc..cf, d0..d3: 1,2,4,8 */
            if (len - o - 1 < n) {
                return SL_ERANGE;
            }
            o += 1 + n;
            continue;
        }
        s_head_t h;
        int rc = s_head(p, len, &o, &h);
        if (rc) {
            return rc;
        }
        switch (h.type) {
        case S_STR:
        case S_BIN:
        case S_EXT:
            if (len - o < h.u) {
                return SL_ERANGE;
            }
            o += h.u;
            break;
        case S_ARRAY:
        case S_MAP:
            if (depth >= max_depth) {
                return SL_ERANGE;
            }
            if (h.u > 0) {
                left[depth++] = need;
                need = h.type == S_MAP ? h.u * 2 : h.u;
            }
            break;
        default:
            break;
        }
    }
}

int sl_msgpack_check(const uint8_t *p, size_t len, size_t *used)
{
    size_t off = 0;
    int rc = s_skip(p, len, &off, SL_EVENT_MAX_DEPTH);
    if (rc) {
        return rc;
    }
    if (off != len) {
        return SL_EPROTO; /* trailing bytes: not exactly one value */
    }
    if (used) {
        *used = off;
    }
    return SL_OK;
}

static const char s_empty[1] = "";

/*  A string field: str within SL_EVENT_MAX_STR, or nil for empty. */
static int s_get_str(const uint8_t *p, size_t len, size_t *off, sl_slice_t *out)
{
    s_head_t h;
    int rc;
    if (*off < len && (p[*off] & 0xe0) == 0xa0) {
        h.type = S_STR;
        h.u = p[(*off)++] & 0x1f;
    } else if ((rc = s_head(p, len, off, &h)) != SL_OK) {
        return rc;
    }
    if (h.type == S_NIL) {
        *out = (sl_slice_t){s_empty, 0};
        return SL_OK;
    }
    if (h.type != S_STR) {
        return SL_EPROTO;
    }
    if (h.u > SL_EVENT_MAX_STR || len - *off < h.u) {
        return SL_ERANGE;
    }
    *out = (sl_slice_t){(const char *)p + *off, (uint32_t)h.u};
    *off += h.u;
    return SL_OK;
}

/*  An id field: bin 16, or the 36-character text form. */
static int s_get_id(const uint8_t *p, size_t len, size_t *off, uint8_t id[16], int nil_ok)
{
    s_head_t h;
    int rc = s_head(p, len, off, &h);
    if (rc) {
        return rc;
    }
    if (h.type == S_NIL && nil_ok) {
        memset(id, 0, 16);
        return SL_OK;
    }
    if (h.type != S_BIN && h.type != S_STR) {
        return SL_EPROTO;
    }
    if (len - *off < h.u) {
        return SL_ERANGE;
    }
    if (h.type == S_BIN) {
        if (h.u != 16) {
            return SL_EPROTO;
        }
        memcpy(id, p + *off, 16);
    } else if (sl_uuid_parse((const char *)p + *off, h.u, id) != SL_OK) {
        return SL_EPROTO;
    }
    *off += h.u;
    return SL_OK;
}

/*  An integer field within [lo, hi]; nil reads as 0. */
static int s_get_int(const uint8_t *p, size_t len, size_t *off, int64_t lo, int64_t hi,
                     int64_t *out)
{
    s_head_t h;
    int rc = s_head(p, len, off, &h);
    if (rc) {
        return rc;
    }
    if (h.type == S_NIL) {
        *out = 0;
        return SL_OK;
    }
    if (h.type == S_UINT) {
        if (h.u > (uint64_t)hi) {
            return SL_ERANGE;
        }
        *out = (int64_t)h.u;
        return SL_OK;
    }
    if (h.type == S_INT) {
        if (h.i < lo) {
            return SL_ERANGE;
        }
        *out = h.i;
        return SL_OK;
    }
    return SL_EPROTO;
}

enum {
    S_F_V = 1 << 0,
    S_F_ID = 1 << 1,
    S_F_TENANT = 1 << 2,
    S_F_KIND = 1 << 3,
    S_F_SCHEMA = 1 << 4,
    S_F_SCHEMA_V = 1 << 5,
    S_F_SOURCE = 1 << 6,
    S_F_KEY = 1 << 7,
    S_F_TIME = 1 << 8,
    S_F_INGEST = 1 << 9,
    S_F_TRACE = 1 << 10,
    S_F_HOPS = 1 << 11,
    S_F_BODY = 1 << 12,
};

static int s_key_field(const uint8_t *k, uint64_t n)
{
#define S_IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 1:
        return S_IS("v") ? S_F_V : 0;
    case 2:
        return S_IS("id") ? S_F_ID : 0;
    case 3:
        return S_IS("key") ? S_F_KEY : 0;
    case 4:
        return S_IS("kind")   ? S_F_KIND
               : S_IS("time") ? S_F_TIME
               : S_IS("hops") ? S_F_HOPS
               : S_IS("body") ? S_F_BODY
                              : 0;
    case 5:
        return S_IS("trace") ? S_F_TRACE : 0;
    case 6:
        return S_IS("tenant")   ? S_F_TENANT
               : S_IS("schema") ? S_F_SCHEMA
               : S_IS("source") ? S_F_SOURCE
               : S_IS("ingest") ? S_F_INGEST
                                : 0;
    case 8:
        return S_IS("schema_v") ? S_F_SCHEMA_V : 0;
    default:
        return 0;
    }
#undef S_IS
}

/*  Fast path for the canonical layout sl_event_encode() writes (13 keys in
    a fixed order): keys are compared as constants instead of looked up, and
    values in the forms the encoder uses are read inline. Anything else, and
    every error, goes to the general decoder, which gives the exact error.
    Returns 1 decoded, 0 not canonical (nothing written that matters). */
#define S_NEED(n)                                                                                  \
    do {                                                                                           \
        if ((size_t)(end - o) < (size_t)(n)) {                                                     \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)
#define S_FKEY(lit)                                                                                \
    do {                                                                                           \
        S_NEED(sizeof(lit));                                                                       \
        if (o[0] != (0xa0 | (sizeof(lit) - 1)) || !s_same(o + 1, lit, sizeof(lit) - 1)) {          \
            return 0;                                                                              \
        }                                                                                          \
        o += sizeof(lit);                                                                          \
    } while (0)

/*  Inline byte compare: keys are 1..8 bytes, and a libc memcmp call per key
    cost more than the rest of the decode (measured). */
__attribute__((always_inline)) static inline uint32_t s_ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

__attribute__((always_inline)) static inline uint16_t s_ld16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/*  Compare n (a constant 1..8 at every call) bytes with two overlapping
    whole-word loads per side: no byte loop, no partial stores to the stack
    (which stall store forwarding; measured as most of the decode time). */
__attribute__((always_inline)) static inline int s_same(const uint8_t *a, const char *b, size_t n)
{
    if (n >= 4) {
        return s_ld32(a) == s_ld32(b) && s_ld32(a + n - 4) == s_ld32(b + n - 4);
    }
    if (n >= 2) {
        return s_ld16(a) == s_ld16(b) && s_ld16(a + n - 2) == s_ld16(b + n - 2);
    }
    return n == 0 || a[0] == (uint8_t)b[0];
}

__attribute__((always_inline)) static inline int s_fast_str(const uint8_t **op, const uint8_t *end,
                                                            sl_slice_t *out)
{
    const uint8_t *o = *op;
    size_t n;
    S_NEED(1);
    if ((o[0] & 0xe0) == 0xa0) {
        n = o[0] & 0x1f;
        o += 1;
    } else if (o[0] == 0xd9) {
        S_NEED(2);
        n = o[1];
        o += 2;
    } else if (o[0] == 0xda) {
        S_NEED(3);
        n = (size_t)o[1] << 8 | o[2];
        o += 3;
    } else {
        return 0;
    }
    if (n > SL_EVENT_MAX_STR) {
        return 0;
    }
    S_NEED(n);
    *out = (sl_slice_t){n ? (const char *)o : s_empty, (uint32_t)n};
    *op = o + n;
    return 1;
}

__attribute__((always_inline)) static inline int s_fast_int(const uint8_t **op, const uint8_t *end,
                                                            int64_t *out)
{
    const uint8_t *o = *op;
    S_NEED(1);
    uint8_t b = o[0];
    if (b <= 0x7f) {
        *out = b;
        *op = o + 1;
        return 1;
    }
    if (b >= 0xcc && b <= 0xcf) {
        int n = 1 << (b - 0xcc);
        S_NEED(1 + n);
        uint64_t v = s_get_be(o + 1, n);
        if (v > INT64_MAX) {
            return 0;
        }
        *out = (int64_t)v;
        *op = o + 1 + n;
        return 1;
    }
    if (b >= 0xd0 && b <= 0xd3) {
        int n = 1 << (b - 0xd0);
        S_NEED(1 + n);
        uint64_t v = s_get_be(o + 1, n);
        *out = (int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n);
        *op = o + 1 + n;
        return 1;
    }
    if (b >= 0xe0) {
        *out = (int8_t)b;
        *op = o + 1;
        return 1;
    }
    return 0;
}

static int s_decode_canonical(const uint8_t *p, size_t len, size_t *used, sl_event_t *ev)
{
    const uint8_t *o = p, *end = p + len;
    int64_t v;
    S_NEED(1);
    if (o[0] != 0x8d) {
        return 0;
    }
    o++;
    S_FKEY("v");
    S_NEED(1);
    if (o[0] < 1 || o[0] > SL_EVENT_VERSION) {
        return 0;
    }
    ev->version = o[0];
    o++;
    S_FKEY("id");
    S_NEED(18);
    if (o[0] != 0xc4 || o[1] != 16) {
        return 0;
    }
    memcpy(ev->id, o + 2, 16);
    o += 18;
    S_FKEY("tenant");
    if (!s_fast_str(&o, end, &ev->tenant)) {
        return 0;
    }
    S_FKEY("kind");
    if (!s_fast_str(&o, end, &ev->kind)) {
        return 0;
    }
    S_FKEY("schema");
    if (!s_fast_str(&o, end, &ev->schema)) {
        return 0;
    }
    S_FKEY("schema_v");
    if (!s_fast_int(&o, end, &v) || v < 0 || v > UINT32_MAX) {
        return 0;
    }
    ev->schema_version = (uint32_t)v;
    S_FKEY("source");
    if (!s_fast_str(&o, end, &ev->source)) {
        return 0;
    }
    S_FKEY("key");
    if (!s_fast_str(&o, end, &ev->key)) {
        return 0;
    }
    S_FKEY("time");
    if (!s_fast_int(&o, end, &ev->time_us)) {
        return 0;
    }
    S_FKEY("ingest");
    if (!s_fast_int(&o, end, &ev->ingest_us)) {
        return 0;
    }
    S_FKEY("trace");
    S_NEED(18);
    if (o[0] != 0xc4 || o[1] != 16) {
        return 0;
    }
    memcpy(ev->trace, o + 2, 16);
    o += 18;
    S_FKEY("hops");
    if (!s_fast_int(&o, end, &v) || v < 0 || v > UINT32_MAX) {
        return 0;
    }
    ev->hops = (uint32_t)v;
    S_FKEY("body");
    S_NEED(1);
    if (o[0] == 0x80) {
        ev->body = (sl_slice_t){s_empty, 0};
        o++;
    } else {
        if (!((o[0] & 0xf0) == 0x80 || o[0] == 0xde || o[0] == 0xdf)) {
            return 0;
        }
        size_t start = (size_t)(o - p);
        size_t off = start;
        size_t lim = len - start > SL_EVENT_MAX_BODY ? start + SL_EVENT_MAX_BODY : len;
        if (s_skip(p, lim, &off, SL_EVENT_MAX_DEPTH) != SL_OK) {
            return 0;
        }
        ev->body = (sl_slice_t){(const char *)o, (uint32_t)(off - start)};
        o = p + off;
    }
    if (used) {
        *used = (size_t)(o - p);
    }
    return 1;
}
#undef S_FKEY
#undef S_NEED

int sl_event_decode(const uint8_t *p, size_t len, size_t *used, sl_event_t *ev)
{
    size_t off = 0;
    s_head_t h;
    int rc;
    unsigned seen = 0;
    int64_t v;

    if (p && s_decode_canonical(p, len, used, ev)) {
        return SL_OK;
    }
    memset(ev, 0, sizeof *ev);
    ev->tenant = ev->kind = ev->schema = ev->source = ev->key = ev->body = (sl_slice_t){s_empty, 0};
    if (!p) {
        rc = SL_ERANGE;
        goto fail;
    }
    rc = s_head(p, len, &off, &h);
    if (rc) {
        goto fail;
    }
    if (h.type != S_MAP) {
        rc = SL_EPROTO;
        goto fail;
    }
    for (uint64_t i = 0; i < h.u; i++) {
        s_head_t kh;
        if (off < len && (p[off] & 0xe0) == 0xa0) {
            /*  Keys are short strings: skip the general header reader. */
            kh.type = S_STR;
            kh.u = p[off++] & 0x1f;
        } else if ((rc = s_head(p, len, &off, &kh)) != SL_OK) {
            goto fail;
        }
        if (kh.type != S_STR) {
            rc = SL_EPROTO;
            goto fail;
        }
        if (len - off < kh.u) {
            rc = SL_ERANGE;
            goto fail;
        }
        int f = s_key_field(p + off, kh.u);
        off += kh.u;
        if (f & seen) {
            /*  A duplicate key would let two readers disagree on the value
                (first wins vs last wins): refuse it. */
            rc = SL_EPROTO;
            goto fail;
        }
        seen |= (unsigned)f;
        switch (f) {
        case S_F_V:
            rc = s_get_int(p, len, &off, 0, 255, &v);
            if (rc == SL_OK && (v < 1 || v > SL_EVENT_VERSION)) {
                rc = SL_EPROTO;
            }
            ev->version = (uint8_t)v;
            break;
        case S_F_ID:
            rc = s_get_id(p, len, &off, ev->id, 0);
            break;
        case S_F_TRACE:
            rc = s_get_id(p, len, &off, ev->trace, 1);
            break;
        case S_F_TENANT:
            rc = s_get_str(p, len, &off, &ev->tenant);
            break;
        case S_F_KIND:
            rc = s_get_str(p, len, &off, &ev->kind);
            break;
        case S_F_SCHEMA:
            rc = s_get_str(p, len, &off, &ev->schema);
            break;
        case S_F_SOURCE:
            rc = s_get_str(p, len, &off, &ev->source);
            break;
        case S_F_KEY:
            rc = s_get_str(p, len, &off, &ev->key);
            break;
        case S_F_SCHEMA_V:
            rc = s_get_int(p, len, &off, 0, UINT32_MAX, &v);
            ev->schema_version = (uint32_t)v;
            break;
        case S_F_HOPS:
            rc = s_get_int(p, len, &off, 0, UINT32_MAX, &v);
            ev->hops = (uint32_t)v;
            break;
        case S_F_TIME:
            rc = s_get_int(p, len, &off, INT64_MIN, INT64_MAX, &ev->time_us);
            break;
        case S_F_INGEST:
            rc = s_get_int(p, len, &off, INT64_MIN, INT64_MAX, &ev->ingest_us);
            break;
        case S_F_BODY: {
            size_t start = off;
            s_head_t bh;
            rc = s_head(p, len, &off, &bh);
            if (rc) {
                break;
            }
            if (bh.type == S_NIL) {
                break;
            }
            if (bh.type != S_MAP) {
                rc = SL_EPROTO;
                break;
            }
            /*  Bound the scan to SL_EVENT_MAX_BODY bytes: an oversized body
                fails as soon as it runs past the bound. */
            size_t end = len - start > SL_EVENT_MAX_BODY ? start + SL_EVENT_MAX_BODY : len;
            off = start;
            rc = s_skip(p, end, &off, SL_EVENT_MAX_DEPTH);
            if (rc == SL_OK && bh.u > 0) {
                /*  An empty map in any encoding reads as len 0, so that
                    encode(decode(x)) decodes to the same event. */
                ev->body = (sl_slice_t){(const char *)p + start, (uint32_t)(off - start)};
            }
            break;
        }
        default:
            /*  Unknown key: a newer minor field; skip its value. */
            rc = s_skip(p, len, &off, SL_EVENT_MAX_DEPTH);
            break;
        }
        if (rc) {
            goto fail;
        }
    }
    if (!(seen & S_F_V) || !(seen & S_F_ID)) {
        rc = SL_EPROTO;
        goto fail;
    }
    if (used) {
        *used = off;
    }
    return SL_OK;
fail:
    return rc;
}

/* ------------------------------------------------------------------------ */
/*  Batches */

int sl_batch_reader_init(sl_batch_reader_t *r, const void *msg, size_t len)
{
    s_head_t h;
    size_t off = 0;
    int rc;

    memset(r, 0, sizeof *r);
    if (!msg || len == 0) {
        rc = SL_EPROTO;
        goto fail;
    }
    /*  0xc1 (a control message) is not msgpack: s_head refuses it. */
    rc = s_head(msg, len, &off, &h);
    if (rc == SL_EPROTO || (rc == SL_OK && h.type != S_MAP && h.type != S_ARRAY)) {
        rc = SL_EPROTO;
        goto fail;
    }
    if (rc) {
        goto fail;
    }
    if (h.type == S_ARRAY && h.u > UINT32_MAX) {
        rc = SL_ERANGE;
        goto fail;
    }
    r->p = msg;
    r->len = len;
    if (h.type == S_MAP) {
        r->off = 0;
        r->remaining = 1;
    } else {
        r->off = off;
        r->remaining = (uint32_t)h.u;
    }
    return SL_OK;
fail:
    return rc;
}

int sl_batch_reader_next(sl_batch_reader_t *r, sl_event_t *ev)
{
    if (!r->p) {
        return SL_ESTATE; /* never initialised, or failed before */
    }
    if (r->remaining == 0) {
        if (r->off != r->len) {
            r->p = NULL;
            return SL_EPROTO; /* bytes after the last event */
        }
        return 0;
    }
    size_t used = 0;
    int rc = sl_event_decode(r->p + r->off, r->len - r->off, &used, ev);
    if (rc) {
        r->p = NULL;
        return rc;
    }
    r->off += used;
    r->remaining--;
    return 1;
}

int sl_batch_begin(sl_buf_t *out)
{
    static const uint8_t head[5] = {0xdd, 0, 0, 0, 0};
    /*  sl_batch_end() patches the count at offset 0: a batch is a whole
        message, so it must start an empty buffer. */
    assert(out->len == 0);
    return sl_buf_append(out, head, sizeof head);
}

void sl_batch_end(sl_buf_t *out, uint32_t count)
{
    assert(out->len >= 5 && out->data[0] == 0xdd);
    s_put_be(out->data + 1, count, 4);
}

/* ------------------------------------------------------------------------ */
/*  RFC 3339 */

/*  Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t s_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void s_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/*  Years 0000..9999: what a four-digit RFC 3339 year can say. */
#define S_TIME_MIN_US (-62167219200LL * 1000000)
#define S_TIME_MAX_US (253402300799LL * 1000000 + 999999)

static int s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int sl_time_parse(const char *text, size_t len, int64_t *us)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = text;
    size_t i = 19;
    int64_t frac = 0;
    int off_min = 0;

    if (!text || len < 20) {
        return SL_EPROTO;
    }
    int y = s_digits(s, 4), mo = s_digits(s + 5, 2), d = s_digits(s + 8, 2);
    int h = s_digits(s + 11, 2), mi = s_digits(s + 14, 2), sec = s_digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) {
        return SL_EPROTO;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) {
        return SL_EPROTO;
    }
    if (s[i] == '.') {
        /*  Digits past microseconds are dropped (truncated, not rounded). */
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 6) {
                frac = frac * 10 + (s[i] - '0');
            }
            i++;
        }
        if (i == start) {
            return SL_EPROTO;
        }
        for (size_t k = i - start; k < 6; k++) {
            frac *= 10;
        }
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        if (len - i < 6 || s[i + 3] != ':') {
            return SL_EPROTO;
        }
        int oh = s_digits(s + i + 1, 2), om = s_digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return SL_EPROTO;
        }
        off_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return SL_EPROTO;
    }
    if (i != len) {
        return SL_EPROTO;
    }
    /*  A leap second (:60) counts as the first second of the next minute,
        as POSIX time does. */
    int64_t secs =
        s_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off_min * 60;
    int64_t t = secs * 1000000 + frac;
    if (t < S_TIME_MIN_US || t > S_TIME_MAX_US) {
        return SL_ERANGE;
    }
    *us = t;
    return SL_OK;
}

void sl_time_format(int64_t us, char out[32])
{
    /*  Clamped to years 0000..9999 so the text is always valid RFC 3339 and
        parses back. */
    if (us < S_TIME_MIN_US) {
        us = S_TIME_MIN_US;
    } else if (us > S_TIME_MAX_US) {
        us = S_TIME_MAX_US;
    }
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    int m, d;
    s_civil_from_days(days, &y, &m, &d);
    int vals[7] = {(int)y,          m,        d, (int)(sod / 3600), (int)(sod / 60 % 60),
                   (int)(sod % 60), (int)frac};
    static const int widths[7] = {4, 2, 2, 2, 2, 2, 6};
    static const char seps[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char *o = out;
    for (int k = 0; k < 7; k++) {
        int v = vals[k];
        for (int w = widths[k] - 1; w >= 0; w--) {
            o[w] = (char)('0' + v % 10);
            v /= 10;
        }
        o += widths[k];
        *o++ = seps[k];
    }
    *o = '\0';
}
