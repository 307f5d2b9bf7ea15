#ifndef XENTEST_CPOSTGRES_SHIM_H
#define XENTEST_CPOSTGRES_SHIM_H

#include <libpq-fe.h>

#endif
