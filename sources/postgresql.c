/* postgresql.c - placeholder registration; the driver is being written. */
#include "../engine/source.h"

const src_driver src_postgresql_driver = {
    .version = SRC_DRIVER_VERSION,
    .name = "postgresql",
};
