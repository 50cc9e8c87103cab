/*
 * sizes.c — sizeof the core's caller-owned structures, for the target's ABI.
 *
 * Purpose: scripts/cross-check.sh compiles this with the cross compiler (it
 * is never linked) and reads each array's size back with `nm -S`, so the
 * figures are the Cortex-M4's, not the host's. One array per structure, named
 * bm_sizeof_<type>.
 */
#include "bm/config.h"
#include "bm/meter.h"

char bm_sizeof_bm_meter[sizeof(bm_meter)];
char bm_sizeof_bm_meter_cfg[sizeof(bm_meter_cfg)];
char bm_sizeof_bm_results[sizeof(bm_results)];
