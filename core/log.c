/*  JSON-lines logger. Each line is built in a stack buffer (heap only for
    long lines) and handed to the kernel with one write(2) under a mutex, so
    lines from different threads never interleave, also on pipes where a
    write larger than PIPE_BUF is not atomic. Logging is not a hot path; the
    mutex is cheaper to reason about than per-fd atomicity rules. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/common.h"
#include "sluice/log.h"

#define S_LINE_STACK 2048
#define S_MSG_STACK 1024
#define S_NODE_MAX 128

typedef struct {
    char *p;
    size_t len;
    size_t cap;
    int heap;   /* p is malloc'd */
    int failed; /* out of memory: the line is dropped */
} s_line_t;

static const char *const s_level_names[] = {"debug", "info", "warn", "error"};

static _Atomic int s_level = SL_LOG_INFO;
static _Atomic int s_fd = 2;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_node[S_NODE_MAX]; /* "" = omitted; guarded by s_lock */

void sl_log_set_level(sl_log_level_t level)
{
    atomic_store_explicit(&s_level, (int)level, memory_order_relaxed);
}

int sl_log_level_parse(const char *name, sl_log_level_t *out)
{
    if (!name || !out) {
        return SL_EINVAL;
    }
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, s_level_names[i]) == 0) {
            *out = (sl_log_level_t)i;
            return SL_OK;
        }
    }
    /* Operators write "warning" as often as "warn". */
    if (strcmp(name, "warning") == 0) {
        *out = SL_LOG_WARN;
        return SL_OK;
    }
    return SL_EINVAL;
}

void sl_log_set_node(const char *node)
{
    pthread_mutex_lock(&s_lock);
    if (node) {
        snprintf(s_node, sizeof s_node, "%s", node);
    } else {
        s_node[0] = '\0';
    }
    pthread_mutex_unlock(&s_lock);
}

void sl_log_set_fd(int fd)
{
    atomic_store_explicit(&s_fd, fd, memory_order_relaxed);
}

/*  Grow the line onto the heap once the stack buffer is full. */
static int s_line_reserve(s_line_t *l, size_t extra)
{
    if (l->failed) {
        return -1;
    }
    if (l->cap - l->len >= extra) {
        return 0;
    }
    size_t cap = l->cap * 2;
    while (cap - l->len < extra) {
        cap *= 2;
    }
    char *p;
    if (l->heap) {
        p = realloc(l->p, cap);
    } else {
        p = malloc(cap);
        if (p) {
            memcpy(p, l->p, l->len);
        }
    }
    if (!p) {
        l->failed = 1;
        return -1;
    }
    l->p = p;
    l->cap = cap;
    l->heap = 1;
    return 0;
}

static void s_line_put(s_line_t *l, const char *s, size_t n)
{
    if (s_line_reserve(l, n) == 0) {
        memcpy(l->p + l->len, s, n);
        l->len += n;
    }
}

static void s_line_puts(s_line_t *l, const char *s)
{
    s_line_put(l, s, strlen(s));
}

/*  Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. A log
    line must stay valid JSON even when a message quotes outside bytes. */
static size_t s_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t min;
    uint32_t cp;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/*  JSON string body of s (no quotes); invalid UTF-8 becomes U+FFFD. */
static void s_line_escape(s_line_t *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        /* Copy the longest run that needs no escaping in one go. */
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' && u[run] != '\\') {
            run++;
        }
        if (run > i) {
            s_line_put(l, s + i, run - i);
            i = run;
            continue;
        }
        switch (c) {
        case '"':
            s_line_put(l, "\\\"", 2);
            i++;
            continue;
        case '\\':
            s_line_put(l, "\\\\", 2);
            i++;
            continue;
        case '\n':
            s_line_put(l, "\\n", 2);
            i++;
            continue;
        case '\r':
            s_line_put(l, "\\r", 2);
            i++;
            continue;
        case '\t':
            s_line_put(l, "\\t", 2);
            i++;
            continue;
        default:
            break;
        }
        if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            s_line_put(l, esc, sizeof esc);
            i++;
            continue;
        }
        size_t len = s_utf8_len(u + i, n - i);
        if (len == 0) {
            s_line_put(l, "\\ufffd", 6);
            i++;
        } else {
            s_line_put(l, s + i, len);
            i += len;
        }
    }
}

static void s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* nowhere left to report a logging failure */
        }
        p += w;
        n -= (size_t)w;
    }
}

/*  Redeclared here with the format attribute so -Wformat=2 checks our own
    vsnprintf calls; the header leaves it off so wrappers without the
    attribute do not start warning. */
void sl_logv(sl_log_level_t level, const char *actor, const char *fields, const char *fmt,
             va_list ap) __attribute__((format(printf, 4, 0)));

void sl_logv(sl_log_level_t level, const char *actor, const char *fields, const char *fmt,
             va_list ap)
{
    if ((int)level < atomic_load_explicit(&s_level, memory_order_relaxed)) {
        return;
    }
    int li = (int)level;
    if (li < SL_LOG_DEBUG) {
        li = SL_LOG_DEBUG;
    } else if (li > SL_LOG_ERROR) {
        li = SL_LOG_ERROR;
    }

    /* Message first, outside the lock: it may be long. */
    char msg_stack[S_MSG_STACK];
    char *msg = msg_stack;
    if (!fmt) {
        msg_stack[0] = '\0';
    } else {
        va_list ap2;
        va_copy(ap2, ap);
        int n = vsnprintf(msg_stack, sizeof msg_stack, fmt, ap2);
        va_end(ap2);
        if (n < 0) {
            msg_stack[0] = '\0';
        } else if ((size_t)n >= sizeof msg_stack) {
            char *big = malloc((size_t)n + 1);
            if (big) {
                va_copy(ap2, ap);
                vsnprintf(big, (size_t)n + 1, fmt, ap2);
                va_end(ap2);
                msg = big;
            }
            /* else: keep the truncated text rather than lose the line */
        }
    }

    int64_t now = sl_now_us();
    time_t secs = (time_t)(now / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[64];
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000000));

    char line_stack[S_LINE_STACK];
    s_line_t l = {.p = line_stack, .cap = sizeof line_stack};

    pthread_mutex_lock(&s_lock);
    s_line_puts(&l, "{\"time\":\"");
    s_line_puts(&l, ts);
    s_line_puts(&l, "\",\"level\":\"");
    s_line_puts(&l, s_level_names[li]);
    s_line_puts(&l, "\"");
    if (s_node[0]) {
        s_line_puts(&l, ",\"node\":\"");
        s_line_escape(&l, s_node);
        s_line_puts(&l, "\"");
    }
    if (actor) {
        s_line_puts(&l, ",\"actor\":\"");
        s_line_escape(&l, actor);
        s_line_puts(&l, "\"");
    }
    s_line_puts(&l, ",\"message\":\"");
    s_line_escape(&l, msg);
    s_line_puts(&l, "\"");
    if (fields && fields[0]) {
        s_line_puts(&l, ",");
        s_line_puts(&l, fields);
    }
    s_line_puts(&l, "}\n");

    int fd = atomic_load_explicit(&s_fd, memory_order_relaxed);
    if (l.failed) {
        static const char oom[] =
            "{\"level\":\"error\",\"message\":\"log line dropped: out of memory\"}\n";
        s_write_all(fd, oom, sizeof oom - 1);
    } else {
        s_write_all(fd, l.p, l.len);
    }
    pthread_mutex_unlock(&s_lock);

    if (l.heap) {
        free(l.p);
    }
    if (msg != msg_stack) {
        free(msg);
    }
}

void sl_log(sl_log_level_t level, const char *actor, const char *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_logv(level, actor, fields, fmt, ap);
    va_end(ap);
}
