/* refsig.c — the float64 reference model (see refsig.h). */
#include <complex.h>
#include <math.h>
#include <string.h>

#include "refsig.h"

#define PI 3.14159265358979323846

/* A component's identity: order and interharmonic fraction (exact
 * frequency). Components with equal keys add as phasors. */
typedef struct ref_key {
	int h;
	double frac;
} ref_key;

static void add_key(ref_wave *w, ref_key k, double mag, double phase)
{
	if (w->n < REF_MAXH)
		w->hm[w->n++] = (ref_harm){k.h, mag, phase, k.frac};
}

void ref_wave_add(ref_wave *w, int h, double mag, double phase)
{
	add_key(w, (ref_key){h, 0.0}, mag, phase);
}

void ref_wave_add_ih(ref_wave *w, double order, double mag, double phase)
{
	double fl = floor(order);
	add_key(w, (ref_key){(int)fl, order - fl}, mag, phase);
}

static double complex phasor_k(const ref_wave *w, ref_key key)
{
	double complex z = 0;
	for (int k = 0; w && k < w->n; k++)
		if (w->hm[k].h == key.h && w->hm[k].frac == key.frac)
			z += w->hm[k].mag * cexp(I * w->hm[k].phase);
	return z;
}

static double complex phasor(const ref_wave *w, int h)
{
	return phasor_k(w, (ref_key){h, 0.0});
}

static int orders(const ref_wave *const *ws, int nw, ref_key out[REF_MAXH * 4])
{
	int n = 0;
	for (int k = 0; k < nw; k++)
		for (int j = 0; ws[k] && j < ws[k]->n; j++) {
			ref_key key = {ws[k]->hm[j].h, ws[k]->hm[j].frac};
			int seen = 0;
			for (int q = 0; q < n; q++)
				seen |= out[q].h == key.h && out[q].frac == key.frac;
			if (!seen)
				out[n++] = key;
		}
	return n;
}

void ref_wave_neg_sum(ref_wave *w, const ref_wave *a, const ref_wave *b, const ref_wave *c)
{
	const ref_wave *ws[3] = {a, b, c};
	ref_key hs[REF_MAXH * 4];
	int n = orders(ws, 3, hs);
	memset(w, 0, sizeof *w);
	for (int k = 0; k < n; k++) {
		double complex z = -(phasor_k(a, hs[k]) + phasor_k(b, hs[k]) + phasor_k(c, hs[k]));
		add_key(w, hs[k], cabs(z), carg(z));
	}
}

static double rms(const ref_wave *w)
{
	const ref_wave *ws[1] = {w};
	ref_key hs[REF_MAXH * 4];
	int n = orders(ws, 1, hs);
	double s = 0;
	for (int k = 0; k < n; k++) {
		double a = cabs(phasor_k(w, hs[k]));
		s += a * a;
	}
	return sqrt(s);
}

/* Σ_h Re(A_h · conj(B_h)) */
static double power(const ref_wave *a, const ref_wave *b)
{
	const ref_wave *ws[2] = {a, b};
	ref_key hs[REF_MAXH * 4];
	int n = orders(ws, 2, hs);
	double s = 0;
	for (int k = 0; k < n; k++)
		s += creal(phasor_k(a, hs[k]) * conj(phasor_k(b, hs[k])));
	return s;
}

void ref_wire_currents(ref_scene *sc, unsigned c, bm_wiring w)
{
	switch (w) {
	case BM_WIRING_3P4W_4CT:
		ref_wave_neg_sum(&sc->i[c][3], &sc->i[c][0], &sc->i[c][1], &sc->i[c][2]);
		break;
	case BM_WIRING_3P3W_3CT:
	case BM_WIRING_3P3W_2CT:
		ref_wave_neg_sum(&sc->i[c][1], &sc->i[c][0], &sc->i[c][2], NULL);
		break;
	case BM_WIRING_1P3W:
		memset(&sc->i[c][2], 0, sizeof sc->i[c][2]);
		break;
	case BM_WIRING_1P2W:
		memset(&sc->i[c][1], 0, 2 * sizeof sc->i[c][1]);
		break;
	default:
		break;
	}
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
		/* h + 0.0 is exactly h: harmonics give the same bits as before */
		double o = w->hm[k].h + w->hm[k].frac;
		double a = o * wt + w->hm[k].phase, amp = sqrt(2.0) * w->hm[k].mag;
		s += deriv ? -amp * o * sin(a) : amp * cos(a);
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

/* ref_generate_fast: the same samples from one sin/cos per sample. Order h
 * takes e^{jh·ωt} as the h-th power of e^{jωt} (rounding grows like
 * h·1e-16, far below float resolution); interharmonics and orders beyond
 * the table take their own sin/cos. */
#define REF_POW_MAX 64

typedef struct ref_coef {
	int n;
	int h[REF_MAXH];
	double frac[REF_MAXH], ca[REF_MAXH], sa[REF_MAXH], phase[REF_MAXH], amp[REF_MAXH];
} ref_coef;

static void coef_of(const ref_wave *w, ref_coef *k)
{
	k->n = w->n;
	for (int j = 0; j < w->n; j++) {
		k->h[j] = w->hm[j].h;
		k->frac[j] = w->hm[j].frac;
		k->amp[j] = sqrt(2.0) * w->hm[j].mag;
		k->phase[j] = w->hm[j].phase;
		k->ca[j] = k->amp[j] * cos(w->hm[j].phase);
		k->sa[j] = k->amp[j] * sin(w->hm[j].phase);
	}
}

/* Σ amp·cos(o·ωt + φ), or its derivative by ωt (deriv) */
static double value_fast(const ref_coef *k, double wt, const double *zr, const double *zi, int deriv)
{
	double s = 0.0;
	for (int j = 0; j < k->n; j++) {
		int h = k->h[j];
		double o = h + k->frac[j];
		if (k->frac[j] == 0.0 && h >= 0 && h < REF_POW_MAX) {
			/* e^{j(hωt + φ)} = (cos φ + j sin φ)(zr + j zi) */
			if (deriv)
				s -= o * (k->sa[j] * zr[h] + k->ca[j] * zi[h]);
			else
				s += k->ca[j] * zr[h] - k->sa[j] * zi[h];
		} else {
			double a = o * wt + k->phase[j];
			s += deriv ? -k->amp[j] * o * sin(a) : k->amp[j] * cos(a);
		}
	}
	return s;
}

void ref_generate_fast(const ref_scene *sc, const bm_meter_cfg *cfg, uint64_t n0, size_t n, float *frames)
{
	const size_t nch = bm_config_channels(cfg);
	const double fs = cfg->sample_rate, w0 = 2.0 * PI * sc->f;
	ref_coef ku[3], ki[BM_MAX_CIRCUITS][BM_PHASE_INPUTS];
	int hmax = 1;
	for (unsigned p = 0; p < 3; p++)
		coef_of(&sc->u[p], &ku[p]);
	for (unsigned c = 0; c < cfg->n_circuits; c++)
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++)
			coef_of(&sc->i[c][p], &ki[c][p]);
	for (unsigned p = 0; p < 3 + BM_PHASE_INPUTS * cfg->n_circuits; p++) {
		const ref_coef *k = p < 3 ? &ku[p] : &ki[(p - 3) / BM_PHASE_INPUTS][(p - 3) % BM_PHASE_INPUTS];
		for (int j = 0; j < k->n; j++)
			if (k->h[j] > hmax && k->h[j] < REF_POW_MAX)
				hmax = k->h[j];
	}
	for (size_t s = 0; s < n; s++) {
		uint64_t idx = n0 + s;
		uint64_t rs = sc->seed * 0x100000001B3ull + idx * 977ull;
		double t = (double)idx / fs, wt = w0 * t;
		double zr[REF_POW_MAX], zi[REF_POW_MAX];
		zr[0] = 1.0;
		zi[0] = 0.0;
		zr[1] = cos(wt);
		zi[1] = sin(wt);
		for (int h = 2; h <= hmax; h++) {
			zr[h] = zr[h - 1] * zr[1] - zi[h - 1] * zi[1];
			zi[h] = zr[h - 1] * zi[1] + zi[h - 1] * zr[1];
		}
		float *fr = frames + s * nch;
		for (unsigned p = 0; p < 3; p++) {
			double nom = cfg->u_nominal_v / cfg->vt_ratio;
			fr[p] = (float)(value_fast(&ku[p], wt, zr, zi, 0) / cfg->vt_ratio + nom * (sc->noise * gauss(&rs) + sc->dc));
		}
		for (unsigned c = 0; c < cfg->n_circuits; c++)
			for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
				const bm_sensor_cfg *sn = &cfg->circuit[c].sensor[p];
				double x, nom;
				switch (sn->type) {
				case BM_SENSOR_CT:
					x = value_fast(&ki[c][p], wt, zr, zi, 0) * sn->secondary / sn->primary_a;
					nom = sn->nominal_a * sn->secondary / sn->primary_a;
					break;
				case BM_SENSOR_VCT:
					x = value_fast(&ki[c][p], wt, zr, zi, 0) * sn->secondary * 1e-3 / sn->primary_a;
					nom = sn->nominal_a * sn->secondary * 1e-3 / sn->primary_a;
					break;
				default: {
					double M = sn->secondary * 1e-3 / sn->primary_a / (2.0 * PI * 50.0);
					x = M * w0 * value_fast(&ki[c][p], wt, zr, zi, 1);
					nom = sn->nominal_a * sn->secondary * 1e-3 / sn->primary_a;
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

/* ---- power quality ---------------------------------------------------- */

static int ref_ncyc(const bm_meter_cfg *cfg)
{
	return cfg->nominal_hz == 60 ? 12 : 10;
}

/* FFT points: a power of two, at least 2048 and at least the longest
 * window (N cycles at 45 Hz). */
static double ref_fft_points(const bm_meter_cfg *cfg)
{
	double lmax = ref_ncyc(cfg) * (double)cfg->sample_rate / 45.0, m = 2048.0;
	while (m < lmax)
		m *= 2.0;
	return m;
}

static double sinc(double x)
{
	return fabs(x) < 1e-12 ? 1.0 : sin(PI * x) / (PI * x);
}

#define REF_LINES ((REF_HMAX + 1) * 12 + 8)

void ref_harmonics(const ref_wave *w, const bm_meter_cfg *cfg, double f, int groups, double g[REF_HMAX + 1],
                   double bound[REF_HMAX + 1])
{
	const int N = ref_ncyc(cfg);
	const double M = ref_fft_points(cfg), fs = cfg->sample_rate;
	const ref_wave *ws[1] = {w};
	ref_key ks[REF_MAXH * 4];
	int nk = orders(ws, 1, ks);
	/* exact lines: phasor per line; off-line components: (ν, RMS) */
	double complex line[REF_LINES];
	double off_nu[REF_MAXH * 4], off_a[REF_MAXH * 4];
	int noff = 0;
	for (int l = 0; l < REF_LINES; l++)
		line[l] = 0;
	for (int k = 0; k < nk; k++) {
		double complex z = phasor_k(w, ks[k]);
		if (cabs(z) < 1e-9) /* a cancellation (u_p - ū of a floating input): exactly 0 */
			z = 0;
		double nu = (ks[k].h + ks[k].frac) * N;
		double L = floor(nu + 0.5);
		if (fabs(nu - L) < 1e-6) {
			if (L >= 0 && L < REF_LINES)
				line[(int)L] += z;
		} else {
			off_nu[noff] = nu;
			off_a[noff++] = cabs(z);
		}
	}
	g[0] = 0.0;
	if (bound)
		bound[0] = 0.0;
	for (int h = 1; h <= REF_HMAX; h++) {
		if (h * f > 0.4 * fs || h * N + N / 2 + 1 > M / 2) {
			g[h] = NAN;
			if (bound)
				bound[h] = NAN;
			continue;
		}
		int lo = groups ? -N / 2 : -1, hi = -lo;
		double g2 = 0.0, b = 0.0;
		for (int d = lo; d <= hi; d++) {
			double wgt = (groups && (d == lo || d == hi)) ? 0.5 : 1.0;
			double a = cabs(line[h * N + d]);
			g2 += wgt * a * a;
		}
		for (int q = 0; q < noff; q++) {
			double b2 = 0.0;
			for (int d = lo; d <= hi; d++) {
				double wgt = (groups && (d == lo || d == hi)) ? 0.5 : 1.0;
				double L = h * N + d;
				double x = off_a[q] * (fabs(sinc(off_nu[q] - L)) + fabs(sinc(off_nu[q] + L)));
				b2 += wgt * x * x;
			}
			b += sqrt(b2);
		}
		g[h] = sqrt(g2);
		if (bound)
			bound[h] = b;
	}
}

void ref_pq_waves(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, ref_wave u[3], ref_wave i[4],
                  unsigned *defined)
{
	const bm_wiring w = cfg->circuit[c].wiring;
	const int tw = w == BM_WIRING_3P3W_3CT || w == BM_WIRING_3P3W_2CT;
	for (int p = 0; p < 3; p++) {
		if (tw) {
			ref_wave mean, negmean;
			ref_wave_neg_sum(&mean, &sc->u[0], &sc->u[1], &sc->u[2]);
			for (int k = 0; k < mean.n; k++)
				mean.hm[k].mag /= 3.0; /* mean = -ū */
			ref_wave_neg_sum(&negmean, &sc->u[p], &mean, NULL); /* -(u_p - ū) */
			ref_wave_neg_sum(&u[p], &negmean, NULL, NULL);      /* u_p - ū */
		} else {
			u[p] = sc->u[p];
		}
	}
	for (int p = 0; p < 4; p++)
		i[p] = sc->i[c][p];
	switch (w) {
	case BM_WIRING_3P4W_4CT: *defined = 0xFu; break;
	case BM_WIRING_3P4W_3CT:
		ref_wave_neg_sum(&i[3], &i[0], &i[1], &i[2]);
		*defined = 0xFu;
		break;
	case BM_WIRING_3P3W_3CT: *defined = 0x7u; break;
	case BM_WIRING_3P3W_2CT:
		ref_wave_neg_sum(&i[1], &i[0], &i[2], NULL);
		*defined = 0x7u;
		break;
	case BM_WIRING_1P3W:
		ref_wave_neg_sum(&i[3], &i[0], &i[1], NULL);
		*defined = 0xBu;
		break;
	default: *defined = 0x1u; break;
	}
}

static void ref_distortion(const double g[REF_HMAX + 1], double *thd, double *odd, double *even, double *hr)
{
	double so = 0.0, se = 0.0;
	int any = 0;
	for (int h = 2; h <= REF_HMAX; h++) {
		if (isnan(g[h]))
			continue;
		any = 1;
		if (h & 1)
			so += g[h] * g[h];
		else
			se += g[h] * g[h];
	}
	*thd = *odd = *even = *hr = NAN;
	if (!any || isnan(g[1]))
		return;
	*hr = sqrt(so + se);
	if (g[1] > 0.0) {
		*thd = 100.0 * sqrt(so + se) / g[1];
		*odd = 100.0 * sqrt(so) / g[1];
		*even = 100.0 * sqrt(se) / g[1];
	}
}

/* (-180, 180] */
static double ref_wrap180(double d)
{
	while (d > 180.0)
		d -= 360.0;
	while (d <= -180.0)
		d += 360.0;
	return d;
}

static double deg(double complex z)
{
	return carg(z) * (180.0 / PI);
}

/* |positive|, |negative|, |zero| of three phasors, a = e^{j120°} */
static void symmetrical(const double complex x[3], double *pos, double *neg, double *zero)
{
	const double complex a = cexp(I * 2.0 * PI / 3.0);
	*pos = cabs(x[0] + a * x[1] + a * a * x[2]) / 3.0;
	*neg = cabs(x[0] + a * a * x[1] + a * x[2]) / 3.0;
	*zero = cabs(x[0] + x[1] + x[2]) / 3.0;
}

void ref_truth_pq(const ref_scene *sc, const bm_meter_cfg *cfg, unsigned c, ref_pq_mode mode, double v[BM_Q_COUNT],
                  double hu[3][REF_HMAX + 1], double hi[4][REF_HMAX + 1], double bu[3][REF_HMAX + 1],
                  double bi[4][REF_HMAX + 1])
{
	const bm_circuit_cfg *cc = &cfg->circuit[c];
	const bm_wiring w = cc->wiring;
	const int nph = w == BM_WIRING_1P2W ? 1 : (w == BM_WIRING_1P3W ? 2 : 3);
	const int tw = w == BM_WIRING_3P3W_3CT || w == BM_WIRING_3P3W_2CT;
	ref_wave u[3], cur[4];
	unsigned defined;
	double gu[3][REF_HMAX + 1], gi[4][REF_HMAX + 1], b[REF_HMAX + 1];

	ref_truth(sc, cfg, c, v);
	ref_pq_waves(sc, cfg, c, u, cur, &defined);
	for (int p = 0; p < 4; p++)
		for (int h = 0; h <= REF_HMAX; h++) {
			gi[p][h] = NAN;
			if (p < 3)
				gu[p][h] = NAN;
			if (bi)
				bi[p][h] = NAN;
			if (bu && p < 3)
				bu[p][h] = NAN;
		}
	if (mode != REF_PQ_OFF) {
		const int groups = mode == REF_PQ_GROUPS;
		for (int p = 0; p < 3; p++) {
			ref_harmonics(&u[p], cfg, sc->f, groups, gu[p], b);
			if (bu)
				memcpy(bu[p], b, sizeof b);
		}
		for (int p = 0; p < 4; p++)
			if (defined & (1u << p)) {
				ref_harmonics(&cur[p], cfg, sc->f, groups, gi[p], b);
				if (bi)
					memcpy(bi[p], b, sizeof b);
			}
		for (int p = 0; p < nph; p++) {
			ref_distortion(gu[p], &v[BM_Q_THDU1 + p], &v[BM_Q_HDoU1 + p], &v[BM_Q_HDeU1 + p], &v[BM_Q_HRU1 + p]);
			ref_distortion(gi[p], &v[BM_Q_THDI1 + p], &v[BM_Q_HDoI1 + p], &v[BM_Q_HDeI1 + p], &v[BM_Q_HRI1 + p]);
			double num = 0.0, den = 0.0;
			for (int h = 1; h <= REF_HMAX; h++)
				if (!isnan(gi[p][h])) {
					num += (double)h * h * gi[p][h] * gi[p][h];
					den += gi[p][h] * gi[p][h];
				}
			v[BM_Q_K1 + p] = den > 0.0 ? num / den : NAN;
		}
	}
	if (hu)
		memcpy(hu, gu, sizeof gu);
	if (hi)
		memcpy(hi, gi, sizeof gi);

	/* fundamental phasors: angles, unbalance, sequence */
	double complex uf[3], jf[3];
	int ulive[3], ilive[3];
	for (int p = 0; p < 3; p++) {
		uf[p] = phasor(&u[p], 1);
		jf[p] = phasor(&cur[p], 1);
		/* cancellations (u_p - ū of a floating input) are exactly 0 */
		if (cabs(uf[p]) < 1e-9)
			uf[p] = 0;
		if (cabs(jf[p]) < 1e-9)
			jf[p] = 0;
		ulive[p] = cabs(uf[p]) > 0.0 && (tw || rms(&sc->u[p]) >= cfg->u_min_v);
		ilive[p] = cabs(jf[p]) > 0.0 && rms(&cur[p]) >= cc->i_min_a;
	}
	const int uref = ulive[0];
	for (int p = 0; p < nph; p++) {
		if (uref && ulive[p])
			v[BM_Q_AU1 + p] = ref_wrap180(deg(uf[p]) - deg(uf[0]));
		if (uref && ilive[p])
			v[BM_Q_AI1 + p] = ref_wrap180(deg(jf[p]) - deg(uf[0]));
		if (ulive[p] && ilive[p])
			v[BM_Q_AUI1 + p] = ref_wrap180(deg(uf[p]) - deg(jf[p]));
	}
	if (nph != 3)
		return;
	double pos, neg, zero;
	symmetrical(uf, &pos, &neg, &zero);
	if (pos > 0.0) {
		v[BM_Q_Uunb2] = 100.0 * neg / pos;
		if (!tw)
			v[BM_Q_Uunb0] = 100.0 * zero / pos;
	}
	double uth = 0.1 * cfg->u_nominal_v;
	int weak = cabs(uf[0]) < uth || cabs(uf[1]) < uth || cabs(uf[2]) < uth;
	v[BM_Q_USeq] = weak ? 2.0 : (pos >= neg ? 0.0 : 1.0);
	symmetrical(jf, &pos, &neg, &zero);
	if (pos > 0.0) {
		v[BM_Q_Iunb2] = 100.0 * neg / pos;
		if (!tw)
			v[BM_Q_Iunb0] = 100.0 * zero / pos;
	}
	double ith = 0.02 * cc->sensor[0].nominal_a;
	if (cc->i_min_a > ith)
		ith = cc->i_min_a;
	weak = cabs(jf[0]) < ith || cabs(jf[1]) < ith || cabs(jf[2]) < ith;
	v[BM_Q_ISeq] = weak ? 2.0 : (pos >= neg ? 0.0 : 1.0);
}
