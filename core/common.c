/*  Error text, byte buffers, slices, clocks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sluice/common.h"

const char *sl_strerror(int err)
{
    switch (err) {
    case SL_OK:
        return "success";
    case SL_DONE:
        return "done";
    case SL_EINVAL:
        return "invalid argument";
    case SL_ENOMEM:
        return "out of memory";
    case SL_EIO:
        return "input/output error";
    case SL_EPROTO:
        return "malformed input";
    case SL_ENOTFOUND:
        return "not found";
    case SL_EFULL:
        return "full";
    case SL_EAGAIN:
        return "try again";
    case SL_ERANGE:
        return "out of range or truncated";
    case SL_ETIMEDOUT:
        return "timed out";
    case SL_ESTATE:
        return "wrong state";
    case SL_EEXIST:
        return "already exists";
    case SL_ESTOPPED:
        return "stopping";
    case SL_EAUTH:
        return "not authenticated";
    case SL_EPERM:
        return "not permitted";
    default:
        return "unknown error";
    }
}

int sl_slice_eq(sl_slice_t s, const char *cstr)
{
    size_t n = strlen(cstr);
    return s.len == n && (n == 0 || memcmp(s.ptr, cstr, n) == 0);
}

int sl_buf_reserve(sl_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return SL_OK;
    }
    size_t need = b->len + extra;
    if (need < b->len) {
        return SL_ENOMEM;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        return SL_ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return SL_OK;
}

int sl_buf_append(sl_buf_t *b, const void *data, size_t len)
{
    if (len == 0) {
        return SL_OK;
    }
    int rc = sl_buf_reserve(b, len);
    if (rc) {
        return rc;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return SL_OK;
}

void sl_buf_reset(sl_buf_t *b)
{
    b->len = 0;
}

void sl_buf_free(sl_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int sl_json_escape(sl_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = sl_buf_reserve(b, len + 2);
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t n = 0;
        switch (c) {
        case '"':
            memcpy(esc, "\\\"", 2);
            n = 2;
            break;
        case '\\':
            memcpy(esc, "\\\\", 2);
            n = 2;
            break;
        case '\n':
            memcpy(esc, "\\n", 2);
            n = 2;
            break;
        case '\r':
            memcpy(esc, "\\r", 2);
            n = 2;
            break;
        case '\t':
            memcpy(esc, "\\t", 2);
            n = 2;
            break;
        default:
            if (c < 0x20) {
                esc[0] = '\\';
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
        }
        if (n) {
            rc = sl_buf_append(b, esc, n);
        } else {
            rc = sl_buf_append(b, &s[i], 1);
        }
        if (rc) {
            return rc;
        }
    }
    return SL_OK;
}

int64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int sl_name_ok(const char *s, size_t max)
{
    size_t n = 0;
    if (!s) {
        return 0;
    }
    for (; s[n]; n++) {
        char ch = s[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-';
        if (!ok || (max && n >= max)) {
            return 0;
        }
    }
    return n > 0;
}

int sl_mkdirs(const char *path, unsigned mode)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char ch = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST) {
                return -1;
            }
            tmp[i] = ch;
        }
    }
    return 0;
}
