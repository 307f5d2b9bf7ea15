#ifndef XENTEST_CSQLITE_SHIM_H
#define XENTEST_CSQLITE_SHIM_H

#include <sqlite3.h>

#endif
