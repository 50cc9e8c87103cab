/*
 * meter.h — the measuring core: samples in, one result set per window out.
 *
 * Purpose: front end (scaling, calibration, Rogowski integration, computed
 * currents) and measurement (RMS, powers, power factors, frequency) for all
 * circuits, over windows of 10 cycles (50 Hz) / 12 cycles (60 Hz) that are
 * synchronised to the measured frequency (IEC 61000-4-30 §5.2 / 61000-4-7).
 *
 * Invariants:
 *  - Caller owns the bm_meter (it is large: keep it static on an MCU);
 *    bm_meter_init() zeroes and wires it; no allocation, no clock, no I/O.
 *  - Time is the sample index: sample n is at n / sample_rate seconds after
 *    init. A window's ends are real numbers (fractions of a sample), so every
 *    window spans exactly N cycles of the frequency it was sized for; samples
 *    are weighted by the integral of their linear-interpolation hat over the
 *    window (trapezoid rule with fractional ends), so consecutive windows
 *    share boundary samples and the weights of every sample add up to 1.
 *  - Frames are gathered into internal blocks aligned to the absolute sample
 *    index, so the results are bit-identical however the input is split.
 *
 * Method (docs/measurement.md has the derivation and the error budget):
 *  each window is two half windows of N/2 cycles. Per half and channel the
 *  core accumulates Σw·x, Σw·x², and the fundamental's Σw·x·cos, Σw·x·sin;
 *  per voltage/current pair Σw·u·i. RMS values and active power are taken
 *  with the window mean removed (DC offset removal that is exact over whole
 *  cycles). Frequency comes from the fundamental's phase advance between
 *  the two halves, so it is immune to harmonics; a zero-crossing counter
 *  catches large steps. Each window is sized from the frequency measured
 *  when the one before it ends. Windows start once the crossing counter has
 *  a first frequency (~40 ms; 0.2 s without a voltage), after a lead half
 *  window and a probe window that are not published, so results begin
 *  about 0.55 s after init at 50 Hz.
 */
#ifndef BM_METER_H
#define BM_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/config.h"
#include "bm/err.h"
#include "bm/opts.h"
#include "bm/quantity.h"

/* Result flags of one window. */
#define BM_WIN_LOCKED 0x01u /* tracking locked: the last two windows were sized from whole-window phase estimates */
#define BM_WIN_NOREF 0x02u  /* no voltage above u_min: window sized at nominal, F = NaN */

/* Highest harmonic order analysed. */
#define BM_H_MAX 50

/* Harmonic RMS per order (index = order, 1..BM_H_MAX; [0] unused), primary
 * units; NaN where not analysed or above 0.45·fs. Filled only when harmonic
 * analysis is attached (pq.h); `valid` says so. */
typedef struct bm_harmonics {
	bool valid;
	float u[3][BM_H_MAX + 1];  /* voltage inputs L1..L3 against N */
	float ua[3][BM_H_MAX + 1]; /* against the artificial neutral (three-wire circuits) */
	float i[BM_MAX_CIRCUITS][BM_PHASE_INPUTS][BM_H_MAX + 1]; /* I1 I2 I3 In */
} bm_harmonics;

/* One window's results for all circuits. */
typedef struct bm_results {
	uint32_t seq;        /* window number since init, from 0 */
	uint32_t flags;      /* BM_WIN_* */
	double start;        /* window start, samples since init (fractional) */
	double length;       /* window length in samples (fractional) */
	double f_window;     /* frequency the window was sized for, Hz */
	uint8_t n_circuits;
	double v[BM_MAX_CIRCUITS][BM_Q_COUNT];
	/* Fundamental phasors (RMS, primary units, radians relative to the
	 * window start at f_window), by frame channel index. Kept for power
	 * quality and tests. Zero for unused channels. */
	double ph_re[BM_MAX_CH];
	double ph_im[BM_MAX_CH];
	double rms[BM_MAX_CH]; /* AC RMS of each channel after the front end */
	bm_harmonics h;
} bm_results;

/* Internal state; fields are private (see meter_priv.h). */
typedef struct bm_fe_ch {
	uint8_t kind;        /* FE_OFF, FE_PLAIN, FE_FIR, FE_RCOIL */
	uint8_t shift;       /* integer part of the delay handled by the history */
	float gain;          /* primary units per secondary unit (plain / FIR) */
	float offset;        /* subtracted, secondary units */
	float in_gain;       /* Rogowski: calibration gain on the raw input */
	double dc;           /* Rogowski: input DC estimate (secondary) */
	double y;            /* Rogowski: integrator state, primary A */
	double y_gain;       /* Rogowski: A per (V*sample) */
	float h[BM_FIR_TAPS];
	float hist[BM_FE_HIST + BM_BLOCK];
} bm_fe_ch;

typedef struct bm_seg_acc {
	double start, end;             /* half window, samples relative to origin */
	double f;                      /* frequency its oscillator runs at, Hz */
	double w;                      /* Σ weights (= end - start) */
	double s1[BM_MAX_CH + BM_MAX_CH]; /* channels, then Rogowski raw inputs */
	double s2[BM_MAX_CH];
	double sc[BM_MAX_CH];
	double ss[BM_MAX_CH];
	double sp[3 + 3 * BM_MAX_CIRCUITS]; /* u1u2 u2u3 u3u1, then u·i per circuit/phase */
} bm_seg_acc;

/* A finished half window's or window's voltage phasors (private). */
typedef struct bm_ph_rec {
	double re[3], im[3];
	double start, len, f;      /* start (relative to origin) and length in samples, sizing frequency */
} bm_ph_rec;

typedef struct bm_meter {
	bm_meter_cfg cfg;
	uint32_t n_ch;             /* frame channels */
	uint32_t ncyc;             /* cycles per window: 10 or 12 */
	double fs;
	/* front end */
	bm_fe_ch fe[BM_MAX_CH];
	bool three_wire_any;
	/* block gathering */
	uint32_t fill;             /* frames in inbuf */
	uint64_t n0;               /* absolute index of the block being gathered */
	float inbuf[BM_BLOCK * BM_MAX_CH];
	/* planar outputs of the front end: channels, then 3 artificial-neutral
	 * voltages, then Rogowski pre-integration inputs (for DC tracking) */
	float out[BM_MAX_CH + 3 + BM_MAX_CH][BM_BLOCK];
	/* where each row of the block lives: plain channels are read in place
	 * from their history (no copy), everything else from `out` */
	const float *rowp[BM_MAX_CH + 3 + BM_MAX_CH];
	/* what to accumulate (built at init) */
	uint8_t n_rows, n_prod, n_raw;
	uint8_t rows[BM_MAX_CH];
	uint8_t prod_a[3 + 3 * BM_MAX_CIRCUITS], prod_b[3 + 3 * BM_MAX_CIRCUITS], prod_slot[3 + 3 * BM_MAX_CIRCUITS];
	uint8_t raw[BM_MAX_CH];
	/* windowing: positions are samples relative to `origin`, re-based every
	 * half window so doubles keep 1e-12-sample precision for years */
	uint64_t origin;
	uint8_t cur, nxt, first;   /* accumulator slots: in progress, next, finished first half */
	bm_seg_acc acc[3];
	/* boundary samples of the next half window, held back until the present
	 * one is finished so that its corrections (Rogowski DC, start-up offset)
	 * reach them too, and so that the next window can still be sized then */
	uint8_t n_pend;
	double pend_x[2], pend_w[2];
	float pend[2][BM_MAX_CH + 3 + BM_MAX_CH];
	double next_win_f;         /* frequency chosen for the next window */
	/* phasor records for the frequency estimates: the last three half
	 * windows and the last two windows (starts relative to origin) */
	bm_ph_rec half_rec[3];
	uint32_t n_half;
	bm_ph_rec win_rec[2];
	uint32_t n_win;
	uint8_t seg_phase;         /* 0 lead half, 1 first half, 2 second half */
	uint32_t windows_done;     /* windows finished, the probe included */
	bool started;              /* windows run (after the warm-up) */
	double f_phase[3];         /* per-voltage frequency of the window in progress */
	uint32_t locked_run;
	int ref;                   /* reference voltage channel or -1 */
	/* zero-crossing counter on the reference channel (coarse frequency) */
	float zc_prev;
	bool zc_armed;
	float zc_hyst;
	double zc_t[8];            /* absolute sample times of the last crossings */
	uint32_t zc_n;
	/* harmonic analysis, when attached (pq.h) */
	struct bm_pq *pq;
	/* results */
	uint32_t win_seq;
	bool ready;
	bm_results res;
} bm_meter;

/*
 * Validates cfg (see bm_config_validate) and prepares the meter.
 * Returns BM_OK or BM_E_INVAL (and fills *issue when not NULL).
 */
bm_err bm_meter_init(bm_meter *m, const bm_meter_cfg *cfg, bm_cfg_issue *issue);

/*
 * Feeds up to n frames of `stride` floats each (stride >= channels of the
 * configuration, layout in config.h). Returns the number of frames consumed.
 * When a window has completed, it stops early and sets *ready (if not NULL);
 * read the window with bm_meter_results() before feeding more.
 */
size_t bm_meter_feed(bm_meter *m, const float *frames, size_t stride, size_t n, bool *ready);

/* The last completed window (valid after *ready was set). */
const bm_results *bm_meter_results(const bm_meter *m);

/* Samples of latency between a window's end and its report (front-end
 * delay plus block gathering, at most). */
unsigned bm_meter_latency(void);

#endif /* BM_METER_H */
