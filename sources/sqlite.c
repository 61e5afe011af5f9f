/* sqlite.c - placeholder registration; the driver is being written. */
#include "../engine/source.h"

const src_driver src_sqlite_driver = {
    .version = SRC_DRIVER_VERSION,
    .name = "sqlite",
};
