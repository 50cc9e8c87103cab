/*
 * measure.c — windowing, accumulation and the per-window quantities.
 *
 * Invariants (derivation and error budget in docs/measurement.md):
 *  - Time runs as half windows ("segments") of N/2 cycles of the frequency
 *    each was sized for; a window is two consecutive segments. Segment ends
 *    are real numbers, so windows are exactly N cycles long.
 *  - Sample n (at position x relative to `origin`) adds to segment [s, e)
 *    with weight H(e − x) − H(s − x), the integral of its linear-interpolation
 *    hat over the segment. Weights of every sample sum to 1 across segments,
 *    and Σw·g(x) is the trapezoid integral of g with fractional ends, whose
 *    error over whole cycles is O(h³) per end: below 1e-7 of the window.
 *  - Interior samples (weight 1) take the fast loop; only the 2 samples at
 *    each segment end take the weighted path.
 *  - The next window's length is chosen when its predecessor ends: the
 *    boundary samples it shares are held back until then, so a window is
 *    sized from the freshest frequency and still gets exact weights.
 *  - Accumulation order depends only on absolute sample positions, so the
 *    results do not depend on how the caller split its input.
 */
#include <math.h>
#include <string.h>

#include "meter_priv.h"

#define TWO_PI 6.283185307179586
#define SQRT2 1.4142135623730951
#define PI 3.141592653589793

static double half_len(const bm_meter *m, double f)
{
	return 0.5 * m->ncyc * m->fs / f;
}

static void seg_reset(bm_seg_acc *a, double start, double len, double f)
{
	memset(a, 0, sizeof *a);
	a->start = start;
	a->end = start + len;
	a->f = f;
}

static bool wiring_has_in(bm_wiring w)
{
	return w == BM_WIRING_3P4W_4CT || w == BM_WIRING_3P4W_3CT || w == BM_WIRING_1P3W;
}

void bm_ms_init(bm_meter *m)
{
	const bm_meter_cfg *cfg = &m->cfg;
	m->n_rows = 0;
	m->n_prod = 0;
	m->n_raw = 0;
	for (uint8_t k = 0; k < BM_VOLTAGE_INPUTS; k++)
		m->rows[m->n_rows++] = k;
	for (uint8_t k = 0; k < 3; k++) {
		m->prod_a[m->n_prod] = k;
		m->prod_b[m->n_prod] = (uint8_t)((k + 1) % 3);
		m->prod_slot[m->n_prod++] = k;
	}
	for (unsigned c = 0; c < cfg->n_circuits; c++) {
		bm_wiring w = cfg->circuit[c].wiring;
		unsigned ph = bm_wiring_phases(w);
		bool tw = bm_wiring_three_wire(w);
		for (unsigned p = 0; p < 3; p++) {
			if (!(ph & (1u << p)))
				continue;
			uint8_t row = (uint8_t)bm_ch_current(c, p);
			m->rows[m->n_rows++] = row;
			m->prod_a[m->n_prod] = (uint8_t)(tw ? BM_ROW_ART0 + p : p);
			m->prod_b[m->n_prod] = row;
			m->prod_slot[m->n_prod++] = (uint8_t)(3 + 3 * c + p);
		}
		if (wiring_has_in(w))
			m->rows[m->n_rows++] = (uint8_t)bm_ch_current(c, 3);
	}
	for (unsigned ch = 0; ch < m->n_ch; ch++)
		if (m->fe[ch].kind == FE_RCOIL)
			m->raw[m->n_raw++] = (uint8_t)ch;

	/* the segments themselves are sized by warm_up(), before any is used */
	m->origin = 0;
	m->cur = 0;
	m->nxt = 1;
	m->first = 2;
	m->ref = 0;
	m->zc_hyst = (float)(0.5 * cfg->u_min_v);
}

/* Weighted contribution of one sample (all rows in `col`, at position x). */
static void acc_weighted(const bm_meter *m, bm_seg_acc *a, const float *col, double x, double w)
{
	double th = TWO_PI * a->f / m->fs * (x - a->start);
	double wc = w * cos(th), ws = w * sin(th);
	for (unsigned k = 0; k < m->n_rows; k++) {
		unsigned r = m->rows[k];
		double v = col[r];
		a->s1[r] += w * v;
		a->s2[r] += w * v * v;
		a->sc[r] += wc * v;
		a->ss[r] += ws * v;
	}
	for (unsigned k = 0; k < m->n_prod; k++)
		a->sp[m->prod_slot[k]] += w * (double)col[m->prod_a[k]] * (double)col[m->prod_b[k]];
	for (unsigned k = 0; k < m->n_raw; k++) {
		unsigned ch = m->raw[k];
		a->s1[BM_MAX_CH + ch] += w * col[BM_ROW_RAW0 + ch];
	}
	a->w += w;
}

static void column(const bm_meter *m, unsigned i, float col[BM_ROWS])
{
	for (unsigned r = 0; r < BM_ROWS; r++)
		col[r] = m->rowp[r][i];
}

/* Weight-1 samples i0..i1-1 (position of i0 is x0) into segment a.
 * A range is at most one block (BM_BLOCK samples): it is summed in float
 * lanes (4 per quantity, which compilers vectorise and which the Cortex-M4F's
 * single-precision FPU runs natively), then added to the double totals.
 * Rounding per range is ~1e-7 relative and random, so a window's sums stay
 * within ~1e-8; the lane order is fixed by the range, which depends only on
 * absolute sample positions, so results do not depend on input splitting. */
static void acc_fast(bm_meter *m, bm_seg_acc *a, unsigned i0, unsigned i1, double x0)
{
	float c[BM_BLOCK + 4], s[BM_BLOCK + 4];
	const unsigned n = i1 - i0, n4 = n & ~3u;
	const double om = TWO_PI * a->f / m->fs;
	const double cr = cos(om), sr = sin(om);
	double th0 = om * (x0 - a->start);
	double cd = cos(th0), sd = sin(th0);
	for (unsigned k = 0; k < n; k++) { /* rotation in double: ≤ BM_BLOCK steps, drift ~1e-14 */
		c[k] = (float)cd;
		s[k] = (float)sd;
		double t = cd * cr - sd * sr;
		sd = sd * cr + cd * sr;
		cd = t;
	}
	for (unsigned k = 0; k < m->n_rows; k++) {
		unsigned r = m->rows[k];
		const float *x = &m->rowp[r][i0];
		float s1[4] = {0}, s2[4] = {0}, sc[4] = {0}, ss[4] = {0};
		for (unsigned j = 0; j < n4; j += 4)
			for (unsigned l = 0; l < 4; l++) {
				float v = x[j + l];
				s1[l] += v;
				s2[l] += v * v;
				sc[l] += v * c[j + l];
				ss[l] += v * s[j + l];
			}
		for (unsigned j = n4; j < n; j++) {
			float v = x[j];
			s1[0] += v;
			s2[0] += v * v;
			sc[0] += v * c[j];
			ss[0] += v * s[j];
		}
		a->s1[r] += (double)(s1[0] + s1[1]) + (double)(s1[2] + s1[3]);
		a->s2[r] += (double)(s2[0] + s2[1]) + (double)(s2[2] + s2[3]);
		a->sc[r] += (double)(sc[0] + sc[1]) + (double)(sc[2] + sc[3]);
		a->ss[r] += (double)(ss[0] + ss[1]) + (double)(ss[2] + ss[3]);
	}
	for (unsigned k = 0; k < m->n_prod; k++) {
		const float *xa = &m->rowp[m->prod_a[k]][i0], *xb = &m->rowp[m->prod_b[k]][i0];
		float sp[4] = {0};
		for (unsigned j = 0; j < n4; j += 4)
			for (unsigned l = 0; l < 4; l++)
				sp[l] += xa[j + l] * xb[j + l];
		for (unsigned j = n4; j < n; j++)
			sp[0] += xa[j] * xb[j];
		a->sp[m->prod_slot[k]] += (double)(sp[0] + sp[1]) + (double)(sp[2] + sp[3]);
	}
	for (unsigned k = 0; k < m->n_raw; k++) {
		unsigned ch = m->raw[k];
		const float *x = &m->rowp[BM_ROW_RAW0 + ch][i0];
		float s1[4] = {0};
		for (unsigned j = 0; j < n4; j += 4)
			for (unsigned l = 0; l < 4; l++)
				s1[l] += x[j + l];
		for (unsigned j = n4; j < n; j++)
			s1[0] += x[j];
		a->s1[BM_MAX_CH + ch] += (double)(s1[0] + s1[1]) + (double)(s1[2] + s1[3]);
	}
	a->w += n;
}

/* Positive-going zero crossings of the reference voltage, with hysteresis,
 * for the coarse frequency that catches steps the phase method cannot. */
static void zc_scan(bm_meter *m)
{
	if (m->ref < 0)
		return;
	const float *x = m->rowp[m->ref];
	for (unsigned i = 0; i < BM_BLOCK; i++) {
		float v = x[i];
		if (!m->zc_armed) {
			if (v < -m->zc_hyst)
				m->zc_armed = true;
		} else if (v >= 0.0f) {
			float p = m->zc_prev; /* < 0: armed and not yet crossed */
			double t = (double)(m->n0 + i) - 1.0 + (double)(-p) / ((double)v - (double)p);
			m->zc_t[m->zc_n % 8u] = t;
			m->zc_n++;
			m->zc_armed = false;
		}
		m->zc_prev = v;
	}
}

/* Coarse frequency from the last crossings, 0 if too few or stale. */
static double zc_freq(const bm_meter *m)
{
	uint32_t k = m->zc_n < 8u ? m->zc_n : 8u;
	if (k < 3)
		return 0.0;
	double tl = m->zc_t[(m->zc_n - 1) % 8u], tf = m->zc_t[(m->zc_n - k) % 8u];
	double now = (double)(m->n0 + BM_BLOCK);
	if (now - tl > 0.1 * m->fs || tl <= tf) /* nothing for 100 ms: signal gone */
		return 0.0;
	return (double)(k - 1) * m->fs / (tl - tf);
}

static double clamp_pf(double v)
{
	return v > 1.0 ? 1.0 : (v < -1.0 ? -1.0 : v);
}

static double wrap180(double d)
{
	d = fmod(d, 360.0);
	if (d <= -180.0)
		d += 360.0;
	else if (d > 180.0)
		d -= 360.0;
	return d;
}

static double arg_deg(double re, double im)
{
	return atan2(im, re) * (180.0 / PI);
}

/* Symmetrical components of three phasors: |positive|, |negative|, |zero|. */
static void sequences(const double re[3], const double im[3], double *pos, double *neg, double *zero)
{
	/* a = e^{j120°} */
	const double ar = -0.5, ai = 0.8660254037844386;
	double pr = re[0] + (ar * re[1] - ai * im[1]) + (ar * re[2] + ai * im[2]);
	double pi = im[0] + (ar * im[1] + ai * re[1]) + (ar * im[2] - ai * re[2]);
	double nr = re[0] + (ar * re[1] + ai * im[1]) + (ar * re[2] - ai * im[2]);
	double ni = im[0] + (ar * im[1] - ai * re[1]) + (ar * im[2] + ai * re[2]);
	double zr = re[0] + re[1] + re[2], zi = im[0] + im[1] + im[2];
	*pos = sqrt(pr * pr + pi * pi) / 3.0;
	*neg = sqrt(nr * nr + ni * ni) / 3.0;
	*zero = sqrt(zr * zr + zi * zi) / 3.0;
}

/*
 * Unbalance (IEC 61000-4-30 §5.7.1, from fundamental phasors), phase
 * sequence (spec §5.6.2) and angles (§5.6.3) of circuit c. Three-wire
 * circuits use the voltages against the artificial neutral and have no
 * zero sequence. Sequence: 0 correct (A→B→C), 1 reversed, 2 a phase missing
 * or weak — a voltage fundamental below 10 % of the nominal voltage, a
 * current fundamental below 2 % of the circuit's I1 sensor nominal (or its
 * minimum current, if higher). Angles in degrees, (−180, 180], against the
 * U1 fundamental; AUI = angle(U) − angle(I), positive when current lags.
 */
static void fundamental_pq(const bm_meter *m, unsigned c, const double *xr, const double *xi, const double U[3],
                           const double I[3], double *v)
{
	const bm_circuit_cfg *cc = &m->cfg.circuit[c];
	const unsigned ph = bm_wiring_phases(cc->wiring);
	const bool tw = bm_wiring_three_wire(cc->wiring);
	const unsigned nph = ph == 7u ? 3u : (ph == 3u ? 2u : 1u);
	double vr[3], vi[3], ir[3], ii[3], vm[3], im_[3];
	double mr = (xr[0] + xr[1] + xr[2]) / 3.0, mi = (xi[0] + xi[1] + xi[2]) / 3.0;
	for (unsigned p = 0; p < 3; p++) {
		unsigned ich = (unsigned)bm_ch_current(c, p);
		vr[p] = tw ? xr[p] - mr : xr[p];
		vi[p] = tw ? xi[p] - mi : xi[p];
		ir[p] = xr[ich];
		ii[p] = xi[ich];
		vm[p] = sqrt(vr[p] * vr[p] + vi[p] * vi[p]);
		im_[p] = sqrt(ir[p] * ir[p] + ii[p] * ii[p]);
	}
	/* a voltage is there when above the minimum: against N, its RMS; in
	 * three-wire, its fundamental against the artificial neutral */
	const double umin = m->cfg.u_min_v;
	bool uref = vm[0] > 0.0 && (tw ? vm[0] >= umin : U[0] > 0.0);
	double a0 = uref ? arg_deg(vr[0], vi[0]) : 0.0;
	for (unsigned p = 0; p < nph; p++) {
		bool ulive = vm[p] > 0.0 && (tw ? vm[p] >= umin : U[p] > 0.0);
		bool ilive = im_[p] > 0.0 && I[p] > 0.0;
		if (uref && ulive)
			v[BM_Q_AU1 + p] = wrap180(arg_deg(vr[p], vi[p]) - a0);
		if (uref && ilive)
			v[BM_Q_AI1 + p] = wrap180(arg_deg(ir[p], ii[p]) - a0);
		if (ulive && ilive)
			v[BM_Q_AUI1 + p] = wrap180(arg_deg(vr[p], vi[p]) - arg_deg(ir[p], ii[p]));
	}
	if (nph != 3)
		return;
	double pos, neg, zero;
	sequences(vr, vi, &pos, &neg, &zero);
	if (pos > 0.0) {
		v[BM_Q_Uunb2] = 100.0 * neg / pos;
		if (!tw)
			v[BM_Q_Uunb0] = 100.0 * zero / pos;
	}
	double uth = 0.1 * m->cfg.u_nominal_v;
	bool weak = vm[0] < uth || vm[1] < uth || vm[2] < uth;
	v[BM_Q_USeq] = weak ? 2.0 : (pos >= neg ? 0.0 : 1.0);

	sequences(ir, ii, &pos, &neg, &zero);
	if (pos > 0.0) {
		v[BM_Q_Iunb2] = 100.0 * neg / pos;
		if (!tw) /* three-wire currents have no zero sequence */
			v[BM_Q_Iunb0] = 100.0 * zero / pos;
	}
	double ith = 0.02 * cc->sensor[0].nominal_a;
	if (cc->i_min_a > ith)
		ith = cc->i_min_a;
	weak = im_[0] < ith || im_[1] < ith || im_[2] < ith;
	v[BM_Q_ISeq] = weak ? 2.0 : (pos >= neg ? 0.0 : 1.0);
}

/* Window quantities from the two halves a (first) and b (second). */
static void compute_results(bm_meter *m, const bm_seg_acc *a, const bm_seg_acc *b)
{
	const bm_meter_cfg *cfg = &m->cfg;
	bm_results *r = &m->res;
	const double W = a->w + b->w;
	double mean[BM_MAX_CH + 3];
	double xr[BM_MAX_CH], xi[BM_MAX_CH];

	memset(r, 0, sizeof *r);
	r->seq = m->win_seq++;
	r->start = (double)m->origin + a->start;
	r->length = W;
	r->f_window = a->f;
	r->n_circuits = cfg->n_circuits;
	if (m->locked_run >= 2)
		r->flags |= BM_WIN_LOCKED;
	if (m->ref < 0)
		r->flags |= BM_WIN_NOREF;
	if (m->pq)
		bm_pq_window(m, a->start, W, a->f);

	for (unsigned k = 0; k < m->n_rows; k++) {
		unsigned ch = m->rows[k];
		double mu = (a->s1[ch] + b->s1[ch]) / W;
		double ac = (a->s2[ch] + b->s2[ch]) / W - mu * mu;
		mean[ch] = mu;
		r->rms[ch] = ac > 0.0 ? sqrt(ac) : 0.0;
		/* both halves hold N/2 whole cycles, so their phase origins agree */
		xr[ch] = SQRT2 / W * (a->sc[ch] + b->sc[ch]);
		xi[ch] = -SQRT2 / W * (a->ss[ch] + b->ss[ch]);
		r->ph_re[ch] = xr[ch];
		r->ph_im[ch] = xi[ch];
	}
	double um = (mean[0] + mean[1] + mean[2]) / 3.0;
	for (unsigned p = 0; p < 3; p++)
		mean[BM_ROW_ART0 + p] = mean[p] - um;
	double cov[3 + 3 * BM_MAX_CIRCUITS];
	for (unsigned k = 0; k < m->n_prod; k++) {
		unsigned s = m->prod_slot[k];
		cov[s] = (a->sp[s] + b->sp[s]) / W - mean[m->prod_a[k]] * mean[m->prod_b[k]];
	}

	const double umin = cfg->u_min_v;
	double U[3], UL[3];
	for (unsigned p = 0; p < 3; p++)
		U[p] = r->rms[p] >= umin ? r->rms[p] : 0.0;
	for (unsigned p = 0; p < 3; p++) {
		unsigned q = (p + 1) % 3;
		double v2 = r->rms[p] * r->rms[p] + r->rms[q] * r->rms[q] - 2.0 * cov[p];
		double v = v2 > 0.0 ? sqrt(v2) : 0.0;
		UL[p] = v >= umin ? v : 0.0;
	}
	double F[3];
	for (unsigned p = 0; p < 3; p++)
		F[p] = U[p] > 0.0 ? m->f_phase[p] : NAN;

	for (unsigned c = 0; c < cfg->n_circuits; c++) {
		const bm_circuit_cfg *cc = &cfg->circuit[c];
		double *v = r->v[c];
		const unsigned ph = bm_wiring_phases(cc->wiring);
		const bool tw = bm_wiring_three_wire(cc->wiring);
		const unsigned nph = ph == 7u ? 3u : (ph == 3u ? 2u : 1u);
		for (unsigned q = 0; q < BM_Q_COUNT; q++)
			v[q] = NAN;

		/* voltages */
		if (!tw) {
			double sum = 0.0;
			for (unsigned p = 0; p < nph; p++) {
				v[BM_Q_U1 + p] = U[p];
				sum += U[p];
			}
			v[BM_Q_Uavg] = sum / nph;
		}
		if (nph == 3) {
			v[BM_Q_U12] = UL[0];
			v[BM_Q_U23] = UL[1];
			v[BM_Q_U31] = UL[2];
			v[BM_Q_ULavg] = (UL[0] + UL[1] + UL[2]) / 3.0;
			if (!tw) {
				double zr = (xr[0] + xr[1] + xr[2]) / 3.0, zi = (xi[0] + xi[1] + xi[2]) / 3.0;
				v[BM_Q_U0] = sqrt(zr * zr + zi * zi);
			}
		} else if (nph == 2) {
			v[BM_Q_U12] = UL[0];
			v[BM_Q_ULavg] = UL[0];
		}
		for (unsigned p = 0; p < nph; p++)
			v[BM_Q_F1 + p] = F[p];
		v[BM_Q_F] = m->ref >= 0 ? m->f_phase[m->ref] : NAN;

		/* currents */
		double I[3] = {0, 0, 0}, isum = 0.0;
		for (unsigned p = 0; p < nph; p++) {
			double x = r->rms[bm_ch_current(c, p)];
			I[p] = x >= cc->i_min_a ? x : 0.0;
			v[BM_Q_I1 + p] = I[p];
			isum += I[p];
		}
		v[BM_Q_Iavg] = isum / nph;
		if (wiring_has_in(cc->wiring)) {
			double x = r->rms[bm_ch_current(c, 3)];
			v[BM_Q_In] = x >= cc->i_min_a ? x : 0.0;
		}

		/* powers */
		double Pt = 0.0, Qt = 0.0, St = 0.0, P1t = 0.0;
		double vr0 = (xr[0] + xr[1] + xr[2]) / 3.0, vi0 = (xi[0] + xi[1] + xi[2]) / 3.0;
		for (unsigned p = 0; p < nph; p++) {
			unsigned ich = (unsigned)bm_ch_current(c, p);
			double ur = xr[p], ui = xi[p];
			if (tw) { /* against the artificial neutral (Σi = 0 in three-wire) */
				ur -= vr0;
				ui -= vi0;
			}
			bool live = I[p] > 0.0 && (tw ? (UL[0] + UL[1] + UL[2]) > 0.0 : U[p] > 0.0);
			double P = 0.0, Q = 0.0, P1 = 0.0, S = 0.0, Sf = 0.0;
			if (live) {
				P = cov[3 + 3 * c + p];
				/* S1 = U·I* with I = (xr - j xi)* ... conj of the current phasor */
				P1 = ur * xr[ich] + ui * xi[ich];
				Q = ui * xr[ich] - ur * xi[ich];
				Sf = sqrt(P1 * P1 + Q * Q);
				S = U[p] * I[p];
			}
			Pt += P;
			Qt += Q;
			P1t += P1;
			St += S;
			if (!tw) {
				v[BM_Q_P1 + p] = P;
				v[BM_Q_Q1 + p] = Q;
				v[BM_Q_S1 + p] = S;
				v[BM_Q_PF1 + p] = S > 0.0 ? clamp_pf(P / S) : 1.0;
				v[BM_Q_DPF1 + p] = Sf > 0.0 ? clamp_pf(P1 / Sf) : 1.0;
			}
		}
		if (tw) {
			/* IEEE 1459 effective apparent power: S = 3·Ue·Ie */
			double ue2 = (UL[0] * UL[0] + UL[1] * UL[1] + UL[2] * UL[2]) / 9.0;
			double ie2 = (I[0] * I[0] + I[1] * I[1] + I[2] * I[2]) / 3.0;
			St = 3.0 * sqrt(ue2 * ie2);
		}
		v[BM_Q_P] = Pt;
		v[BM_Q_Q] = Qt;
		v[BM_Q_S] = St;
		v[BM_Q_PF] = St > 0.0 ? clamp_pf(Pt / St) : 1.0;
		double sf = sqrt(P1t * P1t + Qt * Qt);
		v[BM_Q_DPF] = sf > 0.0 ? clamp_pf(P1t / sf) : 1.0;

		fundamental_pq(m, c, xr, xi, U, I, v);
		bm_pq_derive(m, c, v);
	}
}

/* Choose the reference voltage and the crossing hysteresis for what follows. */
static void update_reference(bm_meter *m)
{
	int ref = -1;
	for (int k = 0; k < BM_VOLTAGE_INPUTS; k++)
		if (m->res.rms[k] >= m->cfg.u_min_v && m->res.rms[k] > 0.0) {
			ref = k;
			break;
		}
	if (ref != m->ref) {
		m->zc_n = 0;
		m->zc_armed = false;
		m->ref = ref;
	}
	if (ref >= 0)
		m->zc_hyst = (float)(0.1 * SQRT2 * m->res.rms[ref]);
}

/* K(ν) = (1/T)∫₀ᵀ e^{j2πντ} dτ = e^{jπνT}·sin(πνT)/(πνT). */
static void kfun(double nu, double t, double *re, double *im)
{
	double x = PI * nu * t;
	double s = fabs(x) < 1e-12 ? 1.0 : sin(x) / x;
	*re = cos(x) * s;
	*im = sin(x) * s;
}

/*
 * The fundamental's phasor at the start of a stretch, freed of the sizing
 * error. A stretch of T seconds demodulated at f' measures, for a fundamental
 * A (RMS phasor at the start) of frequency f,
 *     X = A·K(f − f') + conj(A)·K(−(f + f')),
 * the second term being the negative-frequency image. Given an estimate of
 * f, A = (X·conj(K₁) − conj(X)·K₂) / (|K₁|² − |K₂|²). Without this, a stretch
 * sized δ off biases the phase by ~δ/(2f) (1e-3 rad at 0.1 Hz).
 */
static void unimage(const bm_meter *m, const bm_ph_rec *r, unsigned p, double f, double *ar, double *ai)
{
	double t = r->len / m->fs, k1r, k1i, k2r, k2i;
	kfun(f - r->f, t, &k1r, &k1i);
	kfun(-(f + r->f), t, &k2r, &k2i);
	double xr = r->re[p], xi = r->im[p];
	double nr = (xr * k1r + xi * k1i) - (xr * k2r + xi * k2i);
	double ni = (xi * k1r - xr * k1i) - (xr * k2i - xi * k2r);
	double den = k1r * k1r + k1i * k1i - k2r * k2r - k2i * k2i;
	*ar = nr / den;
	*ai = ni / den;
}

/*
 * Frequency from the phase advance of voltage p between two records a (older)
 * and b, starting from the guess f: the unimaged phasors give the phases at
 * the two starts exactly, so f = f + wrap(Δφ − 2πf·gap)/(2π·gap); twice, as
 * the image removal itself uses f. Unambiguous within ±1/(2·gap) of the guess
 * (±5 Hz for half windows one apart at 50 Hz).
 */
static double est_freq(const bm_meter *m, const bm_ph_rec *a, const bm_ph_rec *b, unsigned p, double f)
{
	const double gap = (b->start - a->start) / m->fs;
	for (int it = 0; it < 2; it++) {
		double ar, ai, br, bi;
		unimage(m, a, p, f, &ar, &ai);
		unimage(m, b, p, f, &br, &bi);
		double dphi = atan2(bi * ar - br * ai, br * ar + bi * ai);
		f += remainder(dphi - TWO_PI * f * gap, TWO_PI) / (TWO_PI * gap);
	}
	return f;
}

/* A record from accumulated sums over [start, start + len). */
static void make_rec(bm_ph_rec *r, const bm_seg_acc *x, const bm_seg_acc *y)
{
	double w = x->w + (y ? y->w : 0.0);
	for (unsigned p = 0; p < 3; p++) {
		r->re[p] = SQRT2 / w * (x->sc[p] + (y ? y->sc[p] : 0.0));
		r->im[p] = -SQRT2 / w * (x->ss[p] + (y ? y->ss[p] : 0.0));
	}
	r->start = x->start;
	r->len = w;
	r->f = y ? y->f : x->f;
}

/* Rogowski coils at a window's end: learn the input DC from the window's
 * mean — only if the window held whole cycles, within 0.002 Hz of the
 * measured frequency f (a mean over a fraction of a cycle more puts ~δf/f of
 * the amplitude into the estimate and would ramp the integrator), and then
 * only a mean above that leakage (below). Whole
 * windows, not half windows: an interharmonic at (h + k/N)·f holds whole
 * cycles only in a whole window. The correction also reaches the held-back
 * boundary samples and the rest of the block in hand, so the integrator's
 * slope changes exactly at the boundary. The integrator's own offset is left
 * alone (each window removes its mean; the integrator's slow leak bounds
 * its drift): shifting it would put a step into the harmonic analysis. */
static void coil_feedback(bm_meter *m, const bm_seg_acc *a, const bm_seg_acc *b, double f, unsigned i_next)
{
	const double W = a->w + b->w;
	/* relative sizing error of this window */
	const double rel = isfinite(f) ? fabs(f - b->f) / f : 1.0;
	for (unsigned k = 0; k < m->n_raw; k++) {
		unsigned ch = m->raw[k];
		bm_fe_ch *fc = &m->fe[ch];
		double d = (a->s1[BM_MAX_CH + ch] + b->s1[BM_MAX_CH + ch]) / W;
		/* Over N(1 + rel) cycles the AC leaks up to ~amplitude × rel into
		 * the mean. The coil's input amplitude is the output current's
		 * times ω/(gain·fs); three times that covers its harmonics (which
		 * di/dt amplifies). Learn only a mean clearly above that: a real
		 * offset, or any mean once the window fits (rel ~1e-7). */
		double mo = (a->s1[ch] + b->s1[ch]) / W;
		double i2 = (a->s2[ch] + b->s2[ch]) / W - mo * mo;
		double amp = sqrt(i2 > 0.0 ? 2.0 * i2 : 0.0) * TWO_PI * b->f / (fc->y_gain * m->fs);
		bool whole = m->ref < 0 || (rel < 0.002 / 50.0 && fabs(d) > 3.0 * amp * rel);
		if (whole) {
			fc->dc += d;
			for (unsigned i = i_next; i < BM_BLOCK; i++)
				m->out[BM_ROW_RAW0 + ch][i] -= (float)d;
			for (unsigned k2 = 0; k2 < m->n_pend; k2++)
				m->pend[k2][BM_ROW_RAW0 + ch] -= (float)d;
			/* The block in hand was integrated with the old DC: every input
			 * that feeds an output from i_next on takes the new one, and
			 * those outputs lose the ramp the old one added (the FIR's DC
			 * gain times the integrator gain per sample). */
			int lo = (int)i_next - (int)fc->shift - (BM_FIR_TAPS - 1);
			if (lo < -(int)BM_FE_HIST)
				lo = -(int)BM_FE_HIST;
			float *x = fc->hist + BM_FE_HIST;
			for (int i = lo; i < BM_BLOCK; i++)
				x[i] -= (float)d;
			double hsum = 0.0;
			for (unsigned t = 0; t < BM_FIR_TAPS; t++)
				hsum += fc->h[t];
			const double step = fc->y_gain * d * hsum;
			for (unsigned j = i_next; j < BM_BLOCK; j++)
				m->out[ch][j] -= (float)(step * (double)(j - i_next + 1));
			fc->y -= step * (double)(BM_BLOCK - i_next);
		}
	}
	if (m->n_raw) {
		bm_fe_derive(m, i_next);
		for (unsigned k2 = 0; k2 < m->n_pend; k2++)
			bm_fe_derive_col(m, m->pend[k2]);
	}
}

/* Once, at the end of the lead half window: a coil integrator starts from 0
 * wherever the current is, so it carries an offset of up to the current's
 * peak, which its leak would turn into a slow ramp (ε·offset per sample).
 * Remove it here, inside the unpublished probe window, so that no published
 * window (nor the harmonic analysis, 8 samples earlier) sees the step. */
static void coil_offset(bm_meter *m, const bm_seg_acc *a, unsigned i_next)
{
	for (unsigned k = 0; k < m->n_raw; k++) {
		unsigned ch = m->raw[k];
		double mean = a->s1[ch] / a->w;
		m->fe[ch].y -= mean;
		for (unsigned i = i_next; i < BM_BLOCK; i++)
			m->out[ch][i] -= (float)mean;
		for (unsigned k2 = 0; k2 < m->n_pend; k2++)
			m->pend[k2][ch] -= (float)mean;
	}
	if (m->n_raw) {
		bm_fe_derive(m, i_next);
		for (unsigned k2 = 0; k2 < m->n_pend; k2++)
			bm_fe_derive_col(m, m->pend[k2]);
	}
}

/*
 * The frequency of the window just finished and the one to size the next
 * window with, per voltage (fw) and for the reference (return value), in
 * order of preference:
 *  - after a step of more than 0.2 Hz (the crossing count against the
 *    present sizing): the crossing count (good to ~1e-3 Hz; interharmonics
 *    bias it), for sizing; the window's own halves for F;
 *  - the advance between the last two whole windows, or else between the
 *    half windows one apart (the one before this window's first half and its
 *    second half): a whole window apart, so interharmonics at (h + k/N)·f
 *    take the same phase in both and cancel, and image-free (unimage) —
 *    exact once the sizing is within a few hertz;
 *  - the advance between this window's two halves;
 *  - the crossing count; the nominal frequency without a reference voltage.
 */
static double window_frequency(bm_meter *m, const bm_ph_rec *w, double fz, double fw[3], bool *locked)
{
	const bm_ph_rec *h0 = m->n_half >= 3 ? &m->half_rec[0] : NULL; /* oldest of three */
	const bm_ph_rec *h1 = &m->half_rec[1], *h2 = &m->half_rec[2];
	const bm_ph_rec *pw = m->n_win >= 1 ? &m->win_rec[1] : NULL;
	const double guess = fz > 0.0 && fabs(fz - w->f) > 0.2 ? fz : w->f;
	*locked = false;
	/* the pair and the skip-one estimates span a whole window more; only
	 * when both ends were sized alike (no step between, and a mis-sized end
	 * would let harmonics leak into its fundamental) */
	const bool use_pair = pw && fabs(pw->f - w->f) < 0.05;
	const bool use_skip = !use_pair && h0 && fabs(h0->f - w->f) < 0.05;
	for (unsigned p = 0; p < 3; p++) {
		if (use_pair)
			fw[p] = est_freq(m, pw, w, p, guess);
		else if (use_skip)
			fw[p] = est_freq(m, h0, h2, p, guess);
		else
			fw[p] = est_freq(m, h1, h2, p, guess);
	}
	if (m->ref < 0)
		return m->cfg.nominal_hz;
	double fr = fw[m->ref];
	if (fz > 0.0 && fabs(fz - w->f) > 0.2)
		return fz; /* a step: the crossing count first */
	if (!isfinite(fr) || (fz > 0.0 && fabs(fr - fz) > 0.5))
		return fz > 0.0 ? fz : m->cfg.nominal_hz;
	*locked = use_pair;
	return fr;
}

static void finalize_segment(bm_meter *m, unsigned i_next)
{
	bm_seg_acc *a = &m->acc[m->cur];
	const uint8_t phase = m->seg_phase;
	const bool second = phase != 1; /* a lead half ends like a window */
	const double fz = m->ref >= 0 ? zc_freq(m) : 0.0;

	/* this half window's record */
	memmove(&m->half_rec[0], &m->half_rec[1], 2 * sizeof m->half_rec[0]);
	make_rec(&m->half_rec[2], a, NULL);
	if (m->n_half < 3)
		m->n_half++;

	uint8_t old_cur = m->cur, old_first = m->first;
	if (phase == 0)
		coil_offset(m, a, i_next);
	if (phase == 2) {
		/* a window is complete */
		const bm_seg_acc *h1 = &m->acc[old_first];
		bm_ph_rec w;
		make_rec(&w, h1, a);
		bool locked;
		double fw[3];
		double nf = window_frequency(m, &w, fz, fw, &locked);
		for (unsigned p = 0; p < 3; p++)
			m->f_phase[p] = fw[p];
		memmove(&m->win_rec[0], &m->win_rec[1], sizeof m->win_rec[0]);
		m->win_rec[1] = w;
		if (m->n_win < 2)
			m->n_win++;

		compute_results(m, h1, a);
		coil_feedback(m, h1, a, m->ref >= 0 ? m->f_phase[m->ref] : NAN, i_next);
		update_reference(m);
		/* The first window is a probe, sized by the crossing count alone
		 * (with voltage interharmonics that can be 20 mHz off): it feeds the
		 * tracker but is not published, so every published window is sized
		 * from the fundamental's phase. */
		if (m->windows_done++ == 0)
			m->win_seq = 0;
		else
			m->ready = true;

		if (!(nf >= 42.0 && nf <= 68.0)) {
			nf = m->cfg.nominal_hz;
			locked = false;
		}
		m->locked_run = locked ? m->locked_run + 1 : 0;
		m->next_win_f = nf;
	}
	m->seg_phase = phase == 1 ? 2 : 1;

	/* rotate slots: the next segment becomes current; a free one becomes next */
	uint8_t ncur = m->nxt;
	uint8_t free_slot = (uint8_t)(3 - ncur - (second ? old_first : old_cur));
	/* after a second half, `first` is free until the next first half ends */
	m->first = second ? old_first : old_cur;
	if (phase == 2) /* the next window's first half: sized now, still empty */
		seg_reset(&m->acc[ncur], m->acc[ncur].start, half_len(m, m->next_win_f), m->next_win_f);
	double f2 = m->acc[ncur].f;
	seg_reset(&m->acc[free_slot], m->acc[ncur].end, half_len(m, f2), f2);
	m->cur = ncur;
	m->nxt = free_slot;
	for (unsigned k = 0; k < m->n_pend; k++)
		acc_weighted(m, &m->acc[ncur], m->pend[k], m->pend_x[k], m->pend_w[k]);
	m->n_pend = 0;

	/* re-base positions on the new segment's start */
	double base = floor(m->acc[ncur].start);
	if (base > 0.0) {
		m->origin += (uint64_t)base;
		for (unsigned k = 0; k < 3; k++) {
			m->acc[k].start -= base;
			m->acc[k].end -= base;
			m->half_rec[k].start -= base;
		}
		for (unsigned k = 0; k < 2; k++)
			m->win_rec[k].start -= base;
	}
}

/*
 * Before the first window: only the crossing counter runs, until it has a
 * first frequency (3 crossings, ~40 ms) or 0.2 s have passed without one (no
 * voltage: windows at nominal length). Then, from the next block: a lead
 * half window and a probe window, sized for that frequency (to the crossing
 * count's ~1e-3 Hz, or ~2e-2 Hz with voltage interharmonics), which feed the
 * tracker but are not published; the first published window is sized from
 * the lead half and the probe's second half — a whole window apart, so
 * immune to interharmonics. Results begin about 0.55 s after init at 50 Hz.
 */
static void warm_up(bm_meter *m)
{
	zc_scan(m);
	double fz = zc_freq(m);
	if (!(fz > 0.0) && (double)(m->n0 + BM_BLOCK) < 0.2 * m->fs)
		return;
	double f0 = fz >= 42.0 && fz <= 68.0 ? fz : m->cfg.nominal_hz;
	m->origin = m->n0 + BM_BLOCK;
	seg_reset(&m->acc[m->cur], 0.0, half_len(m, f0), f0);
	seg_reset(&m->acc[m->nxt], m->acc[m->cur].end, half_len(m, f0), f0);
	m->next_win_f = f0;
	m->seg_phase = 0; /* a lead half window, then the probe window */
	m->started = true;
}

void bm_ms_process(bm_meter *m)
{
	if (m->pq)
		bm_pq_capture(m);
	if (!m->started) {
		warm_up(m);
		return;
	}
	zc_scan(m);
	unsigned i = 0;
	while (i < BM_BLOCK) {
		bm_seg_acc *a = &m->acc[m->cur];
		double x = (double)(int64_t)(m->n0 + i - m->origin);
		double lo = ceil(a->start + 1.0), hi = floor(a->end - 1.0);
		if (x >= lo && x <= hi) {
			double room = hi - x + 1.0;
			unsigned cnt = BM_BLOCK - i;
			if (room < (double)cnt)
				cnt = (unsigned)room;
			acc_fast(m, a, i, i + cnt, x);
			i += cnt;
			continue;
		}
		float col[BM_ROWS];
		column(m, i, col);
		double wc = bm_hat_cdf(a->end - x) - bm_hat_cdf(a->start - x);
		if (wc > 0.0)
			acc_weighted(m, a, col, x, wc);
		if (x + 1.0 > a->end) {
			bm_seg_acc *b = &m->acc[m->nxt];
			double wn = bm_hat_cdf(b->end - x) - bm_hat_cdf(b->start - x);
			if (wn > 0.0 && m->n_pend < 2) { /* at most 2: floor and ceil of the end */
				memcpy(m->pend[m->n_pend], col, sizeof col);
				m->pend_x[m->n_pend] = x;
				m->pend_w[m->n_pend] = wn;
				m->n_pend++;
			}
		}
		bool last = x >= ceil(a->end);
		i++;
		if (last)
			finalize_segment(m, i);
	}
}
