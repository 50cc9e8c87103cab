/*
 * opts.h — compile-time options of the portable core, each with a default.
 *
 * Purpose: one place that sizes every caller-owned structure of the core (lwIP
 * `opt.h` style). A port overrides an option by defining it before this file
 * is included (for example with -DBM_MAX_CIRCUITS=2 or a `bm_port_opts.h`
 * pulled in via -DBM_PORT_OPTS). Impossible combinations stop the build here.
 *
 * Invariants: every structure size in the core derives from these macros; the
 * core never allocates memory, so these are the whole memory budget.
 */
#ifndef BM_OPTS_H
#define BM_OPTS_H

#ifdef BM_PORT_OPTS
#include "bm_port_opts.h"
#endif

/* Number of branch circuits the meter measures (the products have 1 to 4). */
#ifndef BM_MAX_CIRCUITS
#define BM_MAX_CIRCUITS 4
#endif

/* Current inputs per circuit: I1, I2, I3, In. */
#define BM_PHASE_INPUTS 4

/* Voltage inputs shared by all circuits: L1-N, L2-N, L3-N. */
#define BM_VOLTAGE_INPUTS 3

/* Input channels of one sample frame: 3 voltages + 4 currents per circuit. */
#define BM_MAX_CH (BM_VOLTAGE_INPUTS + BM_PHASE_INPUTS * BM_MAX_CIRCUITS)

/*
 * Samples per internal processing block. Incoming frames are gathered into
 * blocks aligned to the absolute sample index, so results are bit-identical
 * however the caller splits its input. Results appear at most one block
 * (5 ms at 12.8 kS/s) after a window ends.
 */
#ifndef BM_BLOCK
#define BM_BLOCK 64
#endif

/* Taps of the per-channel FIR (fractional delay / Rogowski integrator). */
#ifndef BM_FIR_TAPS
#define BM_FIR_TAPS 8
#endif

/*
 * Common delay of every front-end output, in samples. A channel may be
 * advanced or delayed around it by phase calibration; the FIR needs
 * BM_FIR_TAPS/2 samples of room either side.
 */
#ifndef BM_FE_DELAY
#define BM_FE_DELAY 8
#endif

/* Input history kept per channel by the front end. */
#define BM_FE_HIST (BM_FE_DELAY + BM_FE_DELAY + BM_FIR_TAPS)

/* Allowed sample rates (S/s). Windows must stay much longer than a block. */
#ifndef BM_FS_MIN
#define BM_FS_MIN 2000u
#endif
#ifndef BM_FS_MAX
#define BM_FS_MAX 102400u
#endif

#if BM_MAX_CIRCUITS < 1 || BM_MAX_CIRCUITS > 4
#error "BM_MAX_CIRCUITS must be 1..4"
#endif
#if BM_BLOCK < 8 || BM_BLOCK > 256 || (BM_BLOCK % 4) != 0
#error "BM_BLOCK must be a multiple of 4 in 8..256"
#endif
#if (BM_FIR_TAPS % 2) != 0 || BM_FIR_TAPS < 4 || BM_FIR_TAPS > 16
#error "BM_FIR_TAPS must be even, 4..16"
#endif
#if BM_FE_DELAY < BM_FIR_TAPS / 2 + 1
#error "BM_FE_DELAY too small for BM_FIR_TAPS"
#endif

#endif /* BM_OPTS_H */
