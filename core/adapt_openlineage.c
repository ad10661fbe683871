/*  OpenLineage RunEvents -> asset.upsert and lineage.edge. */
#include <string.h>

#include "sluice/adapters.h"

int sl_openlineage_event(const char *body, size_t len, const sl_name_map_t *map, const char *tenant,
                         sl_buf_t *out, char *err, size_t errlen)
{
    return sl_adapt__fail(err, errlen, SL_ESTATE, "openlineage: not implemented yet");
}
