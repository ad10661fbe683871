/*  sluice/log.h: structured logs, one JSON object per line on stderr:
    {"time":"...","level":"info","node":"a","actor":"gen","message":"...",...fields}
    Thread-safe; a line is written with one write(2). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

typedef enum {
    SL_LOG_DEBUG = 0,
    SL_LOG_INFO = 1,
    SL_LOG_WARN = 2,
    SL_LOG_ERROR = 3,
} sl_log_level_t;

/*  Set the minimum level written (default SL_LOG_INFO). */
void sl_log_set_level(sl_log_level_t level);
/*  Parse "debug", "info", "warn", "error"; SL_EINVAL if unknown. */
int sl_log_level_parse(const char *name, sl_log_level_t *out);
/*  Name of the node this process runs (NULL = omitted). Copied. */
void sl_log_set_node(const char *node);
/*  Redirect output to a file descriptor (default 2). For tests. */
void sl_log_set_fd(int fd);

/*  Log one line. `actor` may be NULL. `fields` is NULL or a string holding
    zero or more JSON members without braces, e.g. "\"count\":3,\"path\":\"x\"";
    they are appended to the object as they are. The message is escaped. */
void sl_log(sl_log_level_t level, const char *actor, const char *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sl_logv(sl_log_level_t level, const char *actor, const char *fields, const char *fmt,
             va_list ap);

#define sl_debug(actor, ...) sl_log(SL_LOG_DEBUG, (actor), NULL, __VA_ARGS__)
#define sl_info(actor, ...) sl_log(SL_LOG_INFO, (actor), NULL, __VA_ARGS__)
#define sl_warn(actor, ...) sl_log(SL_LOG_WARN, (actor), NULL, __VA_ARGS__)
#define sl_error(actor, ...) sl_log(SL_LOG_ERROR, (actor), NULL, __VA_ARGS__)

#endif
