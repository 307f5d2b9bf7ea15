#ifndef XENTEST_CXENLIGHT_SHIM_H
#define XENTEST_CXENLIGHT_SHIM_H

#include <stdio.h>
#include <libxl.h>
#include <libxl_utils.h>
#include <xentoollog.h>

/// Swift 6 rejects C globals such as `stderr` (shared mutable state): the libxl logger needs one,
/// so it comes back from a function instead.
static inline FILE *xentest_stderr(void) { return stderr; }

#endif
