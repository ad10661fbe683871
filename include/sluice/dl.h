/*  sluice/dl.h: libraries loaded on first use rather than linked (libcurl
    in core/httpc.c, libcrypto in core/jwt.c), so a process that never
    needs them never maps them (idle memory, docs/performance.md).

    A caller describes its table of function pointers (a struct) by the
    name and offset of each field; sl_dl_open loads the library and fills
    the table. Once loaded, a library stays loaded until the process
    exits (the libraries above keep global state and exit handlers). */
#ifndef SLUICE_DL_H
#define SLUICE_DL_H

#include <stddef.h>

#include "sluice/common.h"

typedef struct {
    const char *name; /* the symbol */
    size_t off;       /* offsetof(table struct, its pointer) */
} sl_dl_sym_t;

/*  dlopen `soname` (RTLD_NOW | RTLD_LOCAL) and store each symbol's address
    at table + syms[i].off. SL_OK; SL_ENOTFOUND with a reason in err: the
    library cannot be loaded (`package` names what installs it) or lacks a
    symbol (too old). Not thread-safe by itself: call it under a
    pthread_once. */
int sl_dl_open(const char *soname, const char *package, const sl_dl_sym_t *syms, size_t n,
               void *table, char *err, size_t errlen);

#endif
