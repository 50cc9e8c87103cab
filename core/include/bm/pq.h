/*
 * pq.h — harmonic analysis (IEC 61000-4-7 / 61000-4-30 class A method),
 * attached to a bm_meter when the platform can afford it.
 *
 * Purpose: per window and channel, the RMS of every harmonic order 1..50 as
 * a harmonic subgroup (default, IEC 61000-4-30 class A) or group. The meter
 * then derives THD, odd/even distortion, harmonic RMS and K-factor
 * (quantity.h). Unbalance, phase sequence and angles come from the exact
 * fundamental phasors and need no attachment.
 *
 * Method (docs/power-quality.md): the core keeps each analysed channel's
 * recent samples in a ring. When a window ends, the same window shifted back
 * BM_PQ_LAG samples (so the interpolator can look ahead; it is still exactly
 * N cycles long) is resampled to M = 2^k points — M at least the window's
 * sample count, so nothing aliases — with a 12-tap least-squares
 * fractional-delay interpolator (error 2e-7 at the fundamental, 1e-4 at the
 * 50th harmonic of 65 Hz; linear interpolation would lose 0.0047 %·h²;
 * below 12 kS/s 32 taps, within 2e-5 up to 0.4·fs). One
 * real FFT of M points then puts order h at line h·N exactly. Lines are
 * corrected for the known response of Rogowski integrators and calibration
 * filters, order by order.
 *
 * Invariants: caller-owned (large: see BM_PQ_RING); no allocation; the FFT
 * comes from the platform (fft.h). Orders above 0.4·fs read NaN.
 */
#ifndef BM_PQ_H
#define BM_PQ_H

#include <stdbool.h>
#include <stdint.h>

#include "bm/err.h"
#include "bm/fft.h"
#include "bm/meter.h"
#include "bm/opts.h"

/* Samples kept per analysed channel (power of two): at least one window plus
 * a block and the interpolator's reach. 8192 covers 12 cycles at 45 Hz up to
 * 25.6 kS/s; an MCU at 6.4 kS/s can use 2048. */
#ifndef BM_PQ_RING
#define BM_PQ_RING 8192u
#endif
/* Largest FFT (points). */
#ifndef BM_PQ_FFT_MAX
#define BM_PQ_FFT_MAX 8192u
#endif
#define BM_PQ_TAPS 12     /* interpolator taps at 12 kS/s and above */
#define BM_PQ_TAPS_LOW 32 /* below: the band reaches closer to the Nyquist frequency */
#define BM_PQ_TAPS_FROM 12000u
#define BM_PQ_PHASES 256  /* interpolator table phases (linear between) */
#define BM_PQ_LAG 8       /* analysed window = measurement window − LAG samples */
/* FFT lines the orders need at most: 50 orders of 12 cycles, plus a group's
 * half width. */
#define BM_PQ_LINES (BM_H_MAX_PQ * 12 + 8)
#define BM_H_MAX_PQ 50

#if (BM_PQ_RING & (BM_PQ_RING - 1)) != 0
#error "BM_PQ_RING must be a power of two"
#endif

struct bm_meter;

typedef struct bm_pq {
	bm_fft_ops fft;
	uint32_t m;            /* FFT points */
	bool groups;           /* harmonic groups instead of subgroups */
	uint8_t n_rows;
	uint8_t rows[BM_MAX_CH + 3];
	uint64_t next;         /* absolute index of the next sample the rings take */
	float ring[BM_MAX_CH + 3][BM_PQ_RING];
	uint8_t taps;          /* BM_PQ_TAPS or BM_PQ_TAPS_LOW */
	float table[BM_PQ_PHASES + 1][BM_PQ_TAPS_LOW];
	/* the window's resampling plan, shared by all channels: for output point
	 * j, the first input sample (offset into `lin`) and the weights (12-tap
	 * case; the 32-tap case blends the table per channel) */
	uint32_t off[BM_PQ_FFT_MAX];
	uint16_t q0[BM_PQ_FFT_MAX];
	float phase[BM_PQ_FFT_MAX];
	float coef[BM_PQ_FFT_MAX][BM_PQ_TAPS];
	float lin[BM_PQ_RING];  /* one channel's window samples, unwrapped */
	float work[BM_PQ_FFT_MAX];
	float spec[BM_PQ_FFT_MAX + 2];
	double line2[BM_PQ_LINES]; /* RMS² of each line of the window being analysed */
} bm_pq;

/*
 * FFT points the meter's configuration needs: a power of two of at least
 * 2048 and of the longest window (N cycles at 45 Hz). 0 if more than
 * BM_PQ_FFT_MAX (sample rate too high for harmonics in this build).
 */
uint32_t bm_pq_fft_points(uint32_t sample_rate, uint8_t nominal_hz);

/*
 * Attaches harmonic analysis to an initialised meter (before the first
 * feed). fft->n must equal bm_pq_fft_points() for the meter's
 * configuration. groups: false = subgroups (default), true = groups.
 * Returns BM_OK, BM_E_INVAL (missing or wrong-size fft), BM_E_NOSPACE
 * (window longer than this build's ring or FFT), BM_E_STATE (the meter has
 * already been fed).
 */
bm_err bm_meter_attach_pq(struct bm_meter *m, bm_pq *pq, const bm_fft_ops *fft, bool groups);

/*
 * The RMS of harmonic order h (1..BM_H_MAX) of circuit c's channel ch as the
 * meter shows it: ch 0..2 U1..U3 (three-wire circuits: against the
 * artificial neutral), 3..5 I1..I3, 6 In. NaN where the wiring defines no
 * such channel, the analysis is off, or h is out of range.
 */
double bm_pq_harmonic_rms(const bm_results *r, const bm_meter_cfg *cfg, unsigned c, unsigned ch, unsigned h);
#define BM_PQ_CHANNELS 7

#endif /* BM_PQ_H */
