/*
 * fir.c — least-squares design of the front end's short FIR filters.
 *
 * Purpose: each channel that needs more than a plain integer delay gets an
 * FIR of BM_FIR_TAPS taps, designed once at init:
 *  - a fractional delay (phase calibration), target e^{-jθτ};
 *  - the correction part of the Rogowski integrator, target
 *    sinc(θ/2)·e^{-jθτ} with τ = integer + 1/2, which together with a running
 *    sum y[n] = y[n-1] + (C*x)[n] makes an integrator that is exact in gain
 *    and phase (pure integer delay) over the band (see docs/measurement.md).
 * Design: minimise ∫_0^θmax |H(θ) − T(θ)|² dθ (normal equations solved by
 * Cholesky in double). The band edge θmax covers the 50th harmonic of 65 Hz.
 *
 * Invariants: no allocation; runs at init only (uses sin/cos from libm).
 */
#include <math.h>
#include <stdbool.h>

#include "meter_priv.h"

#define QUAD_N 512 /* Simpson intervals over [0, θmax]: far below 1e-9 error for these smooth targets */

/*
 * Weight of the fit: the band around the fundamental matters most (it
 * carries nearly all the power and sets Q and the power factor), so the
 * weight falls as the 4th power above theta_low. With 8 taps this keeps
 * the error below 1e-7 at 45–65 Hz while the 50th harmonic stays within
 * about 0.1 %, which the harmonic analysis corrects per order exactly.
 */
static double weight(double th, double theta_low)
{
	double x = theta_low / (th + theta_low);
	return x * x * x * x;
}

static double target_mag(double th, bool integrator)
{
	if (!integrator)
		return 1.0;
	double x = 0.5 * th;
	return x < 1e-8 ? 1.0 : sin(x) / x;
}

/* Cholesky solve of the n×n SPD system g·h = r in place. Returns false if
 * the matrix is not positive definite (cannot happen for the Gram matrix
 * of distinct cosines over a non-empty band unless it underflows). */
/* Solves with the lower-triangular factor chol_solve left in g. */
static void chol_back(double g[BM_FIR_MAX][BM_FIR_MAX], double r[BM_FIR_MAX], int n)
{
	for (int i = 0; i < n; i++) {
		double s = r[i];
		for (int k = 0; k < i; k++)
			s -= g[i][k] * r[k];
		r[i] = s / g[i][i];
	}
	for (int i = n - 1; i >= 0; i--) {
		double s = r[i];
		for (int k = i + 1; k < n; k++)
			s -= g[k][i] * r[k];
		r[i] = s / g[i][i];
	}
}

static bool chol_solve(double g[BM_FIR_MAX][BM_FIR_MAX], double r[BM_FIR_MAX], int n)
{
	for (int j = 0; j < n; j++) {
		double d = g[j][j];
		for (int k = 0; k < j; k++)
			d -= g[j][k] * g[j][k];
		if (!(d > 0.0))
			return false;
		d = sqrt(d);
		g[j][j] = d;
		for (int i = j + 1; i < n; i++) {
			double s = g[i][j];
			for (int k = 0; k < j; k++)
				s -= g[i][k] * g[j][k];
			g[i][j] = s / d;
		}
	}
	chol_back(g, r, n);
	return true;
}

bool bm_fir_design_n(float *h, int n, double tau, bool integrator, double theta_max, double theta_low)
{
	double g[BM_FIR_MAX][BM_FIR_MAX];
	double r[BM_FIR_MAX];
	const double dt = theta_max / QUAD_N;

	if (n < 2 || n > BM_FIR_MAX)
		return false;
	for (int k = 0; k < n; k++) {
		for (int l = 0; l < n; l++)
			g[k][l] = 0.0;
		r[k] = 0.0;
	}
	/* G_kl = ∫ W cos((k−l)θ) dθ and r_l = ∫ W M(θ) cos((l − τ)θ) dθ by
	 * composite Simpson; theta_low <= 0 means a flat weight. */
	for (int q = 0; q <= QUAD_N; q++) {
		double th = q * dt;
		double wq = (q == 0 || q == QUAD_N) ? 1.0 : (q % 2 ? 4.0 : 2.0);
		double w = (theta_low > 0.0 ? weight(th, theta_low) : 1.0) * wq * dt / 3.0;
		double m = target_mag(th, integrator) * w;
		for (int l = 0; l < n; l++) {
			r[l] += m * cos((l - tau) * th);
			for (int k = 0; k <= l; k++)
				g[l][k] += w * cos((k - l) * th);
		}
	}
	for (int l = 0; l < n; l++)
		for (int k = l + 1; k < n; k++)
			g[l][k] = g[k][l];
	if (!chol_solve(g, r, n))
		return false;
	for (int k = 0; k < n; k++)
		h[k] = (float)r[k];
	return true;
}

bool bm_fir_design(float h[BM_FIR_TAPS], double tau, bool integrator, double theta_max, double theta_low)
{
	return bm_fir_design_n(h, BM_FIR_TAPS, tau, integrator, theta_max, theta_low);
}

bool bm_fir_design_bank(float *h, int n, int count, double tau0, double dtau, double theta_max, double theta_low)
{
	double g[BM_FIR_MAX][BM_FIR_MAX];
	const double dt = theta_max / QUAD_N;

	if (n < 2 || n > BM_FIR_MAX || count < 1)
		return false;
	for (int k = 0; k < n; k++)
		for (int l = 0; l < n; l++)
			g[k][l] = 0.0;
	/* the Gram matrix does not depend on the delay: build and factor it once */
	for (int q = 0; q <= QUAD_N; q++) {
		double th = q * dt;
		double wq = (q == 0 || q == QUAD_N) ? 1.0 : (q % 2 ? 4.0 : 2.0);
		double w = (theta_low > 0.0 ? weight(th, theta_low) : 1.0) * wq * dt / 3.0;
		for (int l = 0; l < n; l++)
			for (int k = 0; k <= l; k++)
				g[l][k] += w * cos((k - l) * th);
	}
	double r0[BM_FIR_MAX];
	for (int l = 0; l < n; l++)
		r0[l] = 0.0;
	if (!chol_solve(g, r0, n)) /* factors g in place (lower triangle) */
		return false;
	for (int b = 0; b < count; b++) {
		double tau = tau0 + b * dtau, r[BM_FIR_MAX];
		for (int l = 0; l < n; l++)
			r[l] = 0.0;
		/* cos((l − τ)θ) = cos(lθ)cos(τθ) + sin(lθ)sin(τθ): two calls per point */
		for (int q = 0; q <= QUAD_N; q++) {
			double th = q * dt;
			double wq = (q == 0 || q == QUAD_N) ? 1.0 : (q % 2 ? 4.0 : 2.0);
			double w = (theta_low > 0.0 ? weight(th, theta_low) : 1.0) * wq * dt / 3.0;
			double ct = cos(tau * th), st = sin(tau * th), c1 = cos(th), s1 = sin(th);
			double cl = 1.0, sl = 0.0; /* cos(lθ), sin(lθ) by rotation */
			for (int l = 0; l < n; l++) {
				r[l] += w * (cl * ct + sl * st);
				double t = cl * c1 - sl * s1;
				sl = sl * c1 + cl * s1;
				cl = t;
			}
		}
		chol_back(g, r, n);
		for (int k = 0; k < n; k++)
			h[b * n + k] = (float)r[k];
	}
	return true;
}

/* Complex response of h at θ, for tests and the harmonic correction. */
void bm_fir_response(const float *h, int n, double th, double *re, double *im)
{
	double a = 0.0, b = 0.0;
	for (int k = 0; k < n; k++) {
		a += h[k] * cos(k * th);
		b -= h[k] * sin(k * th);
	}
	*re = a;
	*im = b;
}
