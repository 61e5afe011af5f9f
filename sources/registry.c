/* registry.c - the table of built-in source drivers.
 *
 * Sources layer, above the drivers: adding a database is one file in sources/
 * plus one line here. Not here: helpers the drivers share (util.c).
 */
#include "sources/source.h"

#include <string.h>

extern const src_driver src_postgresql_driver;
extern const src_driver src_mysql_driver;
extern const src_driver src_sqlite_driver;

const src_driver *const src_drivers[] = {
    &src_postgresql_driver,
    &src_mysql_driver,
    &src_sqlite_driver,
    NULL,
};

const src_driver *src_driver_find(const char *service_type)
{
    if (!service_type) return NULL;
    if (strcmp(service_type, "mariadb") == 0) service_type = "mysql";
    for (int i = 0; src_drivers[i]; i++)
        if (strcmp(src_drivers[i]->name, service_type) == 0) return src_drivers[i];
    return NULL;
}

const char *src_driver_names(void) { return "postgresql, mysql, sqlite"; }

