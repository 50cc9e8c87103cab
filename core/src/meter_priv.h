/*
 * meter_priv.h — internals shared by the core's measurement files
 * (fir.c, frontend.c, measure.c, meter.c). Not part of the public API.
 */
#ifndef BM_METER_PRIV_H
#define BM_METER_PRIV_H

#include <stdbool.h>

#include "bm/meter.h"
#include "bm/pq.h"

enum { FE_OFF = 0, FE_PLAIN, FE_FIR, FE_RCOIL };

/* Leak of the Rogowski integrator per sample (frontend.c). */
#define BM_COIL_LEAK 1e-7

/* Extra planar output rows after the BM_MAX_CH channel rows. */
#define BM_ROW_ART0 BM_MAX_CH            /* 3 artificial-neutral voltages */
#define BM_ROW_RAW0 (BM_MAX_CH + 3)      /* Rogowski pre-integration inputs */
#define BM_ROWS (BM_MAX_CH + 3 + BM_MAX_CH)

/* Longest FIR the designer handles (the harmonic resampler uses 12). */
#define BM_FIR_MAX 40
bool bm_fir_design(float h[BM_FIR_TAPS], double tau, bool integrator, double theta_max, double theta_low);
/* n taps; theta_low <= 0 weights the band flat. */
bool bm_fir_design_n(float *h, int n, double tau, bool integrator, double theta_max, double theta_low);
/* A bank of `count` designs of n taps with delays tau0 + b·dtau, for one
 * band and weight (plain fractional delays), into h[b*n + k]. */
bool bm_fir_design_bank(float *h, int n, int count, double tau0, double dtau, double theta_max, double theta_low);
void bm_fir_response(const float *h, int n, double th, double *re, double *im);

/* ∫_{-∞}^{x} hat(t) dt for the unit triangle on [-1, 1]: the weight of
 * sample n in [s, e) is hat_cdf(e − n) − hat_cdf(s − n) (measure.c). */
static inline double bm_hat_cdf(double x)
{
	if (x <= -1.0)
		return 0.0;
	if (x <= 0.0)
		return 0.5 * (1.0 + x) * (1.0 + x);
	if (x < 1.0)
		return 1.0 - 0.5 * (1.0 - x) * (1.0 - x);
	return 1.0;
}

/* Front end (frontend.c). */
bm_err bm_fe_init(bm_meter *m);
void bm_fe_process(bm_meter *m, const float *in, size_t stride);
/* Computed currents and artificial-neutral rows for block samples i0.. */
void bm_fe_derive(bm_meter *m, unsigned i0);
/* The same for one column of all rows (indexed by row). */
void bm_fe_derive_col(const bm_meter *m, float *col);

/* Band edge the FIRs are designed for, radians per sample. */
double bm_fe_theta_max(const bm_meter *m);

/* Harmonic analysis (pq.c), when m->pq is attached. */
void bm_pq_capture(bm_meter *m);
void bm_pq_window(bm_meter *m, double start, double len, double f);
void bm_pq_derive(const bm_meter *m, unsigned c, double *v);

/* Measurement (measure.c). */
void bm_ms_init(bm_meter *m);
void bm_ms_process(bm_meter *m);

#endif /* BM_METER_PRIV_H */
