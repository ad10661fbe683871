/*  Libraries loaded on first use (see sluice/dl.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "sluice/dl.h"

int sl_dl_open(const char *soname, const char *package, const sl_dl_sym_t *syms, size_t n,
               void *table, char *err, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "cannot load %s: %s (Debian: %s)", soname, dlerror(), package);
        return SL_ENOTFOUND;
    }
    for (size_t i = 0; i < n; i++) {
        void *fn = dlsym(h, syms[i].name);
        if (!fn) {
            snprintf(err, errlen, "%s has no %s: too old?", soname, syms[i].name);
            return SL_ENOTFOUND;
        }
        /*  POSIX: a pointer from dlsym converts to a function pointer. */
        memcpy((char *)table + syms[i].off, &fn, sizeof fn);
    }
    return SL_OK;
}
