/*  sluice/nodeset.h: a set of names numbered in insertion order.

    Graph walks (lineage closures, propagation) need "have I seen this
    asset?" for up to millions of names without a malloc per name. A
    nodeset keeps the names in one arena and numbers them 0, 1, 2, ... in
    the order they were added, so a breadth-first walk uses the set itself
    as its queue: entry i is expanded after every entry before it. Callers
    keep per-node data (depth, parent) in arrays indexed by that number.

    Open addressing with linear probing on a 64-bit hash (8 bytes per
    step); each slot carries 32 bits of the hash, so a probe rarely touches
    another name. The table doubles at 50% load: 32 to 48 bytes per name
    plus the name itself. */
#ifndef SLUICE_NODESET_H
#define SLUICE_NODESET_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_nodeset sl_nodeset_t;

sl_nodeset_t *sl_nodeset_new(void);
void sl_nodeset_free(sl_nodeset_t **set);
/*  Forget every name (keeps the memory for reuse). */
void sl_nodeset_clear(sl_nodeset_t *set);

/*  The number of `name` (len bytes, may contain any byte but NUL), added
    if absent (*added = 1, else 0; added may be NULL). -1 when out of
    memory. */
int64_t sl_nodeset_add(sl_nodeset_t *set, const char *name, size_t len, int *added);
/*  The number of `name`, or -1 if absent. */
int64_t sl_nodeset_find(const sl_nodeset_t *set, const char *name, size_t len);
/*  Name number i (NUL-terminated; *len its length if len is not NULL);
    valid until the next add or clear. */
const char *sl_nodeset_name(const sl_nodeset_t *set, int64_t i, size_t *len);
size_t sl_nodeset_count(const sl_nodeset_t *set);
/*  Bytes held (arena, entries and table): for memory accounting. */
size_t sl_nodeset_bytes(const sl_nodeset_t *set);

#endif
