/*
 * refsig.h — an independent float64 reference for the measurement tests and
 * benchmarks: synthetic signals as sums of harmonics with known truth.
 *
 * Purpose: the truth of every quantity is computed in the frequency domain
 * from the harmonic phasors that define the signal (RMS = sqrt(Σ|X_h|²),
 * P = Σ Re(U_h·I_h*), Q = Im(U_1·I_1*), ...), never from samples and never by
 * calling the code under test. The generator turns the same description into
 * sensor-output samples (CT amperes, VCT volts, Rogowski volts = M·di/dt
 * taken analytically) for bm_meter_feed.
 *
 * Definitions encoded here are the documented ones (docs/measurement.md):
 * three-wire powers against the artificial neutral, three-wire S as IEEE 1459
 * effective apparent power, total S arithmetic otherwise, PF = P/S,
 * DPF = cos φ1, totals DPF = P1/|P1 + jQ1|, undefined quantities NaN.
 */
#ifndef BM_REFSIG_H
#define BM_REFSIG_H

#include <stddef.h>
#include <stdint.h>

#include "bm/config.h"
#include "bm/quantity.h"

#define REF_MAXH 12

typedef struct ref_harm {
	int h;        /* order, 1 = fundamental */
	double mag;   /* RMS, primary units */
	double phase; /* radians at t = 0 */
} ref_harm;

/* x(t) = Σ √2·mag·cos(h·2π·f·t + phase) */
typedef struct ref_wave {
	int n;
	ref_harm hm[REF_MAXH];
} ref_wave;

typedef struct ref_scene {
	double f;                               /* Hz, constant */
	ref_wave u[3];                          /* L1..L3 to N, primary V */
	ref_wave i[BM_MAX_CIRCUITS][BM_PHASE_INPUTS]; /* primary A; [3] = In as measured */
	double noise;                           /* white noise RMS, fraction of each input's nominal */
	double dc;                              /* DC offset at every input, fraction of nominal */
	uint64_t seed;
} ref_scene;

void ref_wave_add(ref_wave *w, int h, double mag, double phase);
/* w = -(a + b + c) (c may be NULL), per harmonic */
void ref_wave_neg_sum(ref_wave *w, const ref_wave *a, const ref_wave *b, const ref_wave *c);

/* Fill `frames` (stride = bm_config_channels(cfg)) with samples n0..n0+n-1
 * at cfg->sample_rate, as sensor outputs for the sensors in cfg. */
void ref_generate(const ref_scene *sc, const bm_meter_cfg *cfg, uint64_t n0, size_t n, float *frames);

/* Truth of every quantity of circuit c (NaN where the wiring defines none). */
void ref_truth(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, double out[BM_Q_COUNT]);

#endif
