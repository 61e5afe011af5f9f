/* registry.c - the table of built-in source drivers.
 *
 * Sources layer, above the drivers: adding a database is one file in sources/
 * plus one line here (and its service_type in schemas/language.yaml, which a
 * unit test holds against this table). Not here: helpers the drivers share
 * (util.c), lookups over a table (dialect.c).
 */
#include "sources/source.h"

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
    return src_dialect_find(src_drivers, service_type);
}
