/* dialect.c - finding a driver in a driver table, and the registration check.
 *
 * Sources layer, beside util.c: it names no driver, so the compiler (which is
 * handed the table by its caller) links it without any database client
 * library. Not here: the table of built-in drivers (registry.c).
 */
#include "sources/source.h"

#include <string.h>

static int valid(const src_driver *drv)
{
    return drv->version == SRC_DRIVER_VERSION && drv->name && drv->quote_ident &&
           drv->placeholder;
}

const src_driver *src_dialect_find(const src_driver *const *table, const char *service_type)
{
    if (!table || !service_type) return NULL;
    for (int i = 0; table[i]; i++) {
        const src_driver *drv = table[i];
        int named = strcmp(drv->name, service_type) == 0;
        for (int k = 0; !named && drv->aliases && drv->aliases[k]; k++)
            named = strcmp(drv->aliases[k], service_type) == 0;
        if (named) return valid(drv) ? drv : NULL;
    }
    return NULL;
}

int src_drivers_check(const src_driver *const *table, diag *d)
{
    for (int i = 0; table && table[i]; i++) {
        const src_driver *drv = table[i];
        if (drv->version != SRC_DRIVER_VERSION) {
            diag_error(d, (src_loc){0}, "source driver '%s' has interface version %d, sql2es %d",
                       drv->name ? drv->name : "?", drv->version, SRC_DRIVER_VERSION);
            return DIAG_EINVAL;
        }
        if (!valid(drv)) {
            diag_error(d, (src_loc){0}, "source driver '%s' lacks its dialect (quote_ident, "
                       "placeholder)", drv->name ? drv->name : "?");
            return DIAG_EINVAL;
        }
    }
    return 0;
}
