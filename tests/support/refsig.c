/* refsig.c — the float64 reference model (see refsig.h). */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "refsig.h"

#define PI 3.14159265358979323846

void ref_wave_add(ref_wave *w, int h, double mag, double phase)
{
	if (w->n < REF_MAXH)
		w->hm[w->n++] = (ref_harm){h, mag, phase};
}

static double complex phasor(const ref_wave *w, int h)
{
	double complex z = 0;
	for (int k = 0; w && k < w->n; k++)
		if (w->hm[k].h == h)
			z += w->hm[k].mag * cexp(I * w->hm[k].phase);
	return z;
}

static int orders(const ref_wave *const *ws, int nw, int out[REF_MAXH * 4])
{
	int n = 0;
	for (int k = 0; k < nw; k++)
		for (int j = 0; ws[k] && j < ws[k]->n; j++) {
			int h = ws[k]->hm[j].h, seen = 0;
			for (int q = 0; q < n; q++)
				seen |= out[q] == h;
			if (!seen)
				out[n++] = h;
		}
	return n;
}

void ref_wave_neg_sum(ref_wave *w, const ref_wave *a, const ref_wave *b, const ref_wave *c)
{
	const ref_wave *ws[3] = {a, b, c};
	int hs[REF_MAXH * 4];
	int n = orders(ws, 3, hs);
	memset(w, 0, sizeof *w);
	for (int k = 0; k < n; k++) {
		double complex z = -(phasor(a, hs[k]) + phasor(b, hs[k]) + phasor(c, hs[k]));
		ref_wave_add(w, hs[k], cabs(z), carg(z));
	}
}

static double rms(const ref_wave *w)
{
	const ref_wave *ws[1] = {w};
	int hs[REF_MAXH * 4];
	int n = orders(ws, 1, hs);
	double s = 0;
	for (int k = 0; k < n; k++) {
		double a = cabs(phasor(w, hs[k]));
		s += a * a;
	}
	return sqrt(s);
}

/* Σ_h Re(A_h · conj(B_h)) */
static double power(const ref_wave *a, const ref_wave *b)
{
	const ref_wave *ws[2] = {a, b};
	int hs[REF_MAXH * 4];
	int n = orders(ws, 2, hs);
	double s = 0;
	for (int k = 0; k < n; k++)
		s += creal(phasor(a, hs[k]) * conj(phasor(b, hs[k])));
	return s;
}

/* Deterministic Gaussian noise: splitmix64 + Box–Muller. */
static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
	double u1 = ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
	double u2 = ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * PI * u2);
}

static double value(const ref_wave *w, double wt, int deriv)
{
	double s = 0;
	for (int k = 0; k < w->n; k++) {
		double a = w->hm[k].h * wt + w->hm[k].phase, amp = sqrt(2.0) * w->hm[k].mag;
		s += deriv ? -amp * w->hm[k].h * sin(a) : amp * cos(a);
	}
	return s;
}

void ref_generate(const ref_scene *sc, const bm_meter_cfg *cfg, uint64_t n0, size_t n, float *frames)
{
	const size_t nch = bm_config_channels(cfg);
	const double fs = cfg->sample_rate, w0 = 2.0 * PI * sc->f;
	for (size_t k = 0; k < n; k++) {
		uint64_t idx = n0 + k;
		uint64_t rs = sc->seed * 0x100000001B3ull + idx * 977ull;
		double t = (double)idx / fs, wt = w0 * t;
		float *fr = frames + k * nch;
		for (unsigned p = 0; p < 3; p++) {
			double nom = cfg->u_nominal_v / cfg->vt_ratio;
			fr[p] = (float)(value(&sc->u[p], wt, 0) / cfg->vt_ratio + nom * (sc->noise * gauss(&rs) + sc->dc));
		}
		for (unsigned c = 0; c < cfg->n_circuits; c++)
			for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
				const bm_sensor_cfg *s = &cfg->circuit[c].sensor[p];
				double x, nom;
				switch (s->type) {
				case BM_SENSOR_CT:
					x = value(&sc->i[c][p], wt, 0) * s->secondary / s->primary_a;
					nom = s->nominal_a * s->secondary / s->primary_a;
					break;
				case BM_SENSOR_VCT:
					x = value(&sc->i[c][p], wt, 0) * s->secondary * 1e-3 / s->primary_a;
					nom = s->nominal_a * s->secondary * 1e-3 / s->primary_a;
					break;
				default: { /* v = M·di/dt, M·2π·50 = secondary/primary */
					double M = s->secondary * 1e-3 / s->primary_a / (2.0 * PI * 50.0);
					x = M * w0 * value(&sc->i[c][p], wt, 1);
					nom = s->nominal_a * s->secondary * 1e-3 / s->primary_a;
					break;
				}
				}
				fr[bm_ch_current(c, p)] = (float)(x + nom * (sc->noise * gauss(&rs) + sc->dc));
			}
	}
}

void ref_truth(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, double v[BM_Q_COUNT])
{
	const bm_circuit_cfg *cc = &cfg->circuit[c];
	const bm_wiring w = cc->wiring;
	const int nph = w == BM_WIRING_1P2W ? 1 : (w == BM_WIRING_1P3W ? 2 : 3);
	const int tw = w == BM_WIRING_3P3W_3CT || w == BM_WIRING_3P3W_2CT;
	ref_wave cur[3], line[3], art[3], neutral;
	for (int q = 0; q < BM_Q_COUNT; q++)
		v[q] = NAN;
	for (int p = 0; p < 3; p++)
		cur[p] = sc->i[c][p];
	if (w == BM_WIRING_3P3W_2CT)
		ref_wave_neg_sum(&cur[1], &cur[0], &cur[2], NULL);
	for (int p = 0; p < 3; p++) {
		ref_wave neg;
		ref_wave_neg_sum(&neg, &sc->u[(p + 1) % 3], NULL, NULL); /* -u_{p+1} */
		ref_wave_neg_sum(&line[p], &sc->u[p], &neg, NULL); /* -(u_p - u_{p+1}): same RMS */
	}
	/* voltages against the artificial neutral: u_p - ū */
	for (int p = 0; p < 3; p++) {
		ref_wave mean, negmean;
		ref_wave_neg_sum(&mean, &sc->u[0], &sc->u[1], &sc->u[2]);
		for (int k = 0; k < mean.n; k++)
			mean.hm[k].mag /= 3.0; /* mean = -ū */
		ref_wave_neg_sum(&negmean, &sc->u[p], &mean, NULL); /* -(u_p - ū) */
		ref_wave_neg_sum(&art[p], &negmean, NULL, NULL);      /* u_p - ū */
	}
	double U[3], Ir[3], UL[3];
	for (int p = 0; p < 3; p++) {
		U[p] = rms(&sc->u[p]);
		UL[p] = rms(&line[p]);
		Ir[p] = rms(&cur[p]);
	}
	if (!tw) {
		double s = 0;
		for (int p = 0; p < nph; p++) {
			v[BM_Q_U1 + p] = U[p];
			s += U[p];
		}
		v[BM_Q_Uavg] = s / nph;
	}
	if (nph == 3) {
		v[BM_Q_U12] = UL[0];
		v[BM_Q_U23] = UL[1];
		v[BM_Q_U31] = UL[2];
		v[BM_Q_ULavg] = (UL[0] + UL[1] + UL[2]) / 3;
		if (!tw)
			v[BM_Q_U0] = cabs(phasor(&sc->u[0], 1) + phasor(&sc->u[1], 1) + phasor(&sc->u[2], 1)) / 3;
	} else if (nph == 2) {
		v[BM_Q_U12] = v[BM_Q_ULavg] = UL[0];
	}
	double s = 0;
	for (int p = 0; p < nph; p++) {
		v[BM_Q_F1 + p] = sc->f;
		v[BM_Q_I1 + p] = Ir[p];
		s += Ir[p];
	}
	v[BM_Q_F] = sc->f;
	v[BM_Q_Iavg] = s / nph;
	if (w == BM_WIRING_3P4W_4CT) {
		v[BM_Q_In] = rms(&sc->i[c][3]);
	} else if (w == BM_WIRING_3P4W_3CT || w == BM_WIRING_1P3W) {
		ref_wave_neg_sum(&neutral, &cur[0], &cur[1], nph == 3 ? &cur[2] : NULL);
		v[BM_Q_In] = rms(&neutral);
	}
	double Pt = 0, Qt = 0, St = 0, P1t = 0;
	for (int p = 0; p < nph; p++) {
		const ref_wave *uw = tw ? &art[p] : &sc->u[p];
		double P = power(uw, &cur[p]);
		double complex s1 = phasor(uw, 1) * conj(phasor(&cur[p], 1));
		double S = U[p] * Ir[p];
		Pt += P;
		Qt += cimag(s1);
		P1t += creal(s1);
		St += S;
		if (!tw) {
			v[BM_Q_P1 + p] = P;
			v[BM_Q_Q1 + p] = cimag(s1);
			v[BM_Q_S1 + p] = S;
			v[BM_Q_PF1 + p] = P / S;
			v[BM_Q_DPF1 + p] = creal(s1) / cabs(s1);
		}
	}
	if (tw)
		St = 3 * sqrt((UL[0] * UL[0] + UL[1] * UL[1] + UL[2] * UL[2]) / 9 * (Ir[0] * Ir[0] + Ir[1] * Ir[1] + Ir[2] * Ir[2]) / 3);
	v[BM_Q_P] = Pt;
	v[BM_Q_Q] = Qt;
	v[BM_Q_S] = St;
	v[BM_Q_PF] = Pt / St;
	v[BM_Q_DPF] = P1t / hypot(P1t, Qt);
}
