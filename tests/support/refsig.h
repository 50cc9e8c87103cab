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

/* Components per waveform: room for a rich spectrum (every odd order to
 * the 49th, some even ones, interharmonics). */
#define REF_MAXH 40

typedef struct ref_harm {
	int h;        /* order, 1 = fundamental */
	double mag;   /* RMS, primary units */
	double phase; /* radians at t = 0 */
	double frac;  /* interharmonic: the frequency is (h + frac)·f, 0 <= frac < 1;
	                 0 for a harmonic (what ref_wave_add writes) */
} ref_harm;

/* x(t) = Σ √2·mag·cos((h + frac)·2π·f·t + phase) */
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
/* A component at any real multiple `order` of f (an interharmonic when not
 * an integer). Components are kept apart by exact frequency. */
void ref_wave_add_ih(ref_wave *w, double order, double mag, double phase);
/* w = -(a + b + c) (c may be NULL), per harmonic */
void ref_wave_neg_sum(ref_wave *w, const ref_wave *a, const ref_wave *b, const ref_wave *c);

/* Make circuit c's currents physical for its wiring, from I1..I3 as set:
 * 3P4W_4CT: the 4th sensor sees the true neutral, In = -(I1 + I2 + I3);
 * three-wire: no neutral, so I2 = -(I1 + I3); 1P3W: no I3; 1P2W: I1 only. */
void ref_wire_currents(ref_scene *sc, unsigned c, bm_wiring w);

/* Fill `frames` (stride = bm_config_channels(cfg)) with samples n0..n0+n-1
 * at cfg->sample_rate, as sensor outputs for the sensors in cfg. */
void ref_generate(const ref_scene *sc, const bm_meter_cfg *cfg, uint64_t n0, size_t n, float *frames);

/* The same samples as ref_generate, about ten times faster for rich spectra
 * (harmonic phases as powers of one rotation per sample instead of one
 * cos() per component); agrees with ref_generate to float resolution. */
void ref_generate_fast(const ref_scene *sc, const bm_meter_cfg *cfg, uint64_t n0, size_t n, float *frames);

/* Truth of every quantity of circuit c (NaN where the wiring defines none). */
void ref_truth(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, double out[BM_Q_COUNT]);

/*
 * Power quality (harmonics, unbalance, sequence, angles: bm/pq.h,
 * bm/quantity.h, measure.c fundamental_pq), again from the phasors only.
 *
 * Per-order values follow the documented method: a window of exactly
 * N cycles (N = 10 at a 50 Hz nominal, 12 at 60 Hz) has lines f/N apart and
 * order h at line h·N. A SUBGROUP is the root sum of squares of lines
 * h·N−1, h·N, h·N+1; a GROUP (IEC 61000-4-7) of lines h·N−N/2 .. h·N+N/2
 * with the two outermost at half weight (they are shared with the next
 * group). A component whose frequency falls exactly on a line (harmonics;
 * interharmonics at (h + k/N)·f) is put on that line; one that does not
 * leaks over many lines, so it is left out of the value and reported in
 * `bound` instead: the largest change it can make to each order's value
 * (|line| <= A·(|sinc(ν−L)| + |sinc(ν+L)|) for a component of RMS A at ν
 * lines, root-sum-squared over the (sub)group's weighted lines, summed over
 * such components). Orders above 0.45·fs (or whose group would pass the
 * FFT's last line) are NaN, like the core's.
 */
#define REF_HMAX 50
typedef enum ref_pq_mode { REF_PQ_OFF = 0, REF_PQ_SUBGROUPS, REF_PQ_GROUPS } ref_pq_mode;

/* Per-order RMS of one waveform (index = order 1..REF_HMAX; [0] = 0) at
 * fundamental f for the configuration's sample rate and nominal frequency.
 * bound may be NULL. */
void ref_harmonics(const ref_wave *w, const bm_meter_cfg *cfg, double f, int groups, double g[REF_HMAX + 1],
                   double bound[REF_HMAX + 1]);

/* The waveforms circuit c's power quality sees: voltages (against the
 * artificial neutral u_p − ū for three-wire circuits, else against N) and
 * I1, I2, I3, In with the computed ones computed (I2 = −(i1+i3) in 3P3W_2CT,
 * In = −(i1+i2+i3) in 3P4W_3CT, −(i1+i2) in 1P3W). *defined gets bit p set
 * for the current inputs the wiring analyses (phases, plus In where the
 * wiring has one). */
void ref_pq_waves(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, ref_wave u[3], ref_wave i[4],
                  unsigned *defined);

/*
 * Everything ref_truth gives, plus the power-quality quantities of circuit c:
 *  THD = 100·sqrt(Σ_{h=2..50} G_h²)/G_1, HDo / HDe the same over odd / even
 *  orders, HR = sqrt(Σ_{h=2..50} G_h²), K = Σ h²·G_h² / Σ G_h² (h = 1..50),
 *  NaN orders left out of every sum (mode REF_PQ_OFF: all NaN);
 *  Uunb2 / Iunb2 = 100·|negative|/|positive|, Uunb0 / Iunb0 = 100·|zero| /
 *  |positive| from the fundamental phasors (three-wire: artificial-neutral
 *  voltages, no zero sequence; single-phase wirings: NaN);
 *  AU / AI against the U1 fundamental, AUI = angle(U) − angle(I), degrees in
 *  (−180, 180]; a voltage takes part when its RMS reaches u_min_v (three-wire:
 *  when its artificial-neutral fundamental is not zero), a current when its
 *  RMS reaches the circuit's i_min_a;
 *  USeq / ISeq 2 when a fundamental is below 10 % of u_nominal_v / below
 *  max(2 % of sensor[0].nominal_a, i_min_a), else 0 when |positive| >=
 *  |negative|, else 1.
 * hu and hi (may be NULL) get the per-order values of ref_pq_waves' voltages
 * and currents (rows the wiring does not analyse: NaN); bu / bi (may be NULL)
 * the leakage bounds of off-line interharmonics (see above).
 */
void ref_truth_pq(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, ref_pq_mode mode, double v[BM_Q_COUNT],
                  double hu[3][REF_HMAX + 1], double hi[4][REF_HMAX + 1], double bu[3][REF_HMAX + 1],
                  double bi[4][REF_HMAX + 1]);

#endif
