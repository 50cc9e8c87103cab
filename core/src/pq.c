/*
 * pq.c — harmonic analysis over each measurement window (see pq.h for the
 * method and docs/power-quality.md for the derivation and accuracy).
 *
 * Invariants:
 *  - The rings hold every analysed row by absolute sample index (the
 *    measurement's index space: front-end outputs), written once per block
 *    before the block is measured, so a window's samples are all present
 *    when it ends.
 *  - The analysed window is [start − BM_PQ_LAG, end − BM_PQ_LAG): exactly the
 *    measurement window's length, so exactly N cycles, and the interpolator's
 *    reach (BM_PQ_TAPS/2 samples ahead) is already in the rings.
 *  - Orders whose frequency exceeds 0.4·fs, or whose group would pass the
 *    FFT's last line, are NaN.
 */
#include <math.h>
#include <string.h>

#include "bm/pq.h"
#include "meter_priv.h"

#define TWO_PI 6.283185307179586
#define RING_MASK (BM_PQ_RING - 1u)

uint32_t bm_pq_fft_points(uint32_t sample_rate, uint8_t nominal_hz)
{
	double ncyc = nominal_hz == 60 ? 12.0 : 10.0;
	double lmax = ncyc * sample_rate / 45.0; /* longest window: N cycles at 45 Hz */
	uint32_t m = 2048;
	while (m < lmax && m <= BM_PQ_FFT_MAX)
		m *= 2;
	return m <= BM_PQ_FFT_MAX ? m : 0;
}

bm_err bm_meter_attach_pq(bm_meter *m, bm_pq *pq, const bm_fft_ops *fft, bool groups)
{
	if (m->n0 != 0 || m->fill != 0)
		return BM_E_STATE;
	uint32_t pts = bm_pq_fft_points(m->cfg.sample_rate, m->cfg.nominal_hz);
	double lmax = m->ncyc * m->fs / 45.0;
	if (lmax + BM_BLOCK + BM_PQ_LAG + BM_PQ_TAPS_LOW + 4 > BM_PQ_RING || pts == 0)
		return BM_E_NOSPACE;
	if (!fft || !fft->rfft || fft->n != pts)
		return BM_E_INVAL;

	memset(pq, 0, sizeof *pq);
	pq->fft = *fft;
	pq->m = pts;
	pq->groups = groups;
	pq->taps = m->cfg.sample_rate >= BM_PQ_TAPS_FROM ? BM_PQ_TAPS : BM_PQ_TAPS_LOW;
	/* rows: voltages, artificial-neutral voltages if any circuit is three-wire,
	 * then every current row the measurement uses */
	for (uint8_t k = 0; k < 3; k++)
		pq->rows[pq->n_rows++] = k;
	if (m->three_wire_any)
		for (uint8_t k = 0; k < 3; k++)
			pq->rows[pq->n_rows++] = (uint8_t)(BM_ROW_ART0 + k);
	for (unsigned k = 3; k < m->n_rows; k++)
		pq->rows[pq->n_rows++] = m->rows[k];

	/* Interpolator table: phase q gives the value at i + q/PHASES from the
	 * samples i − T/2 + 1 .. i + T/2. Least squares over the band up to the
	 * 50th harmonic of 65 Hz (at most 0.8·π, i.e. 0.4·fs), weighted towards
	 * the fundamental (fir.c); one factorisation serves all phases. */
	const unsigned T = pq->taps;
	double thmax = TWO_PI * 65.0 * 50.0 / m->fs;
	if (thmax > 0.8 * 3.141592653589793)
		thmax = 0.8 * 3.141592653589793;
	static float bank[(BM_PQ_PHASES + 1) * BM_PQ_TAPS_LOW];
	if (!bm_fir_design_bank(bank, (int)T, BM_PQ_PHASES + 1, T / 2, -1.0 / BM_PQ_PHASES, thmax,
	                        TWO_PI * 300.0 / m->fs))
		return BM_E_INVAL;
	for (unsigned q = 0; q <= BM_PQ_PHASES; q++)
		for (unsigned j = 0; j < T; j++)
			pq->table[q][j] = bank[q * T + T - 1 - j];
	m->pq = pq;
	return BM_OK;
}

void bm_pq_capture(bm_meter *m)
{
	bm_pq *pq = m->pq;
	for (unsigned k = 0; k < pq->n_rows; k++) {
		const float *x = m->rowp[pq->rows[k]];
		float *ring = pq->ring[k];
		uint32_t at = (uint32_t)(m->n0 & RING_MASK);
		/* BM_BLOCK divides BM_PQ_RING, so a block never wraps */
		memcpy(&ring[at], x, BM_BLOCK * sizeof x[0]);
	}
	pq->next = m->n0 + BM_BLOCK;
}

/* |actual / ideal| gain of the channel's front-end filter at θ (rad/sample):
 * the harmonic lines are divided by it. Computed rows take I1's filter (exact
 * when a circuit's sensors are alike), artificial-neutral rows L1's. */
static double response(const bm_meter *m, unsigned row, double th)
{
	unsigned ch = row;
	if (row >= BM_ROW_ART0)
		ch = 0;
	else if (row >= BM_VOLTAGE_INPUTS && m->fe[row].kind == FE_OFF)
		ch = BM_VOLTAGE_INPUTS + BM_PHASE_INPUTS * ((row - BM_VOLTAGE_INPUTS) / BM_PHASE_INPUTS);
	const bm_fe_ch *f = &m->fe[ch];
	if (f->kind != FE_FIR && f->kind != FE_RCOIL)
		return 1.0;
	double re, im;
	bm_fir_response(f->h, BM_FIR_TAPS, th, &re, &im);
	double g = sqrt(re * re + im * im);
	if (f->kind == FE_RCOIL) {
		double x = 0.5 * th;
		g /= x < 1e-9 ? 1.0 : sin(x) / x;
	}
	return g;
}

/* Where the orders of row `row` go in the results. */
static float *dest(bm_harmonics *h, unsigned row)
{
	if (row < BM_VOLTAGE_INPUTS)
		return h->u[row];
	if (row >= BM_ROW_ART0)
		return h->ua[row - BM_ROW_ART0];
	unsigned c = (row - BM_VOLTAGE_INPUTS) / BM_PHASE_INPUTS, p = (row - BM_VOLTAGE_INPUTS) % BM_PHASE_INPUTS;
	return h->i[c][p];
}

/* The resampling plan of one window: output point j sits at t0 + j·len/M;
 * its 12 weights are the table's two nearest phases blended linearly, and
 * its first input sample is counted from floor(t0) − BM_PQ_TAPS/2. Done
 * once per window, for all channels. */
static void plan_window(bm_pq *pq, double t0, double len)
{
	const uint32_t M = pq->m;
	const unsigned T = pq->taps;
	const double step = len / M;
	const double first = floor(t0) - T / 2;
	for (uint32_t j = 0; j < M; j++) {
		double t = t0 + j * step;
		double fl = floor(t);
		double q = (t - fl) * BM_PQ_PHASES;
		unsigned q0 = (unsigned)q;
		if (q0 >= BM_PQ_PHASES)
			q0 = BM_PQ_PHASES - 1;
		pq->off[j] = (uint32_t)(fl - first) - (T / 2 - 1);
		pq->phase[j] = (float)(q - q0);
		pq->q0[j] = (uint16_t)q0;
		if (T != BM_PQ_TAPS)
			continue; /* 32 taps: blended per channel, see lines_fft */
		float fr = pq->phase[j];
		const float *c0 = pq->table[q0], *c1 = pq->table[q0 + 1];
		for (unsigned i = 0; i < BM_PQ_TAPS; i++)
			pq->coef[j][i] = c0[i] + fr * (c1[i] - c0[i]);
	}
}

/* Line powers (RMS²) of ring k over the planned window: resample to M
 * points, one real FFT; line j of the FFT is j/N of the frequency. */
static void lines_fft(bm_meter *m, unsigned k, double t0, double len, unsigned nlines)
{
	bm_pq *pq = m->pq;
	const uint32_t M = pq->m;
	const float *ring = pq->ring[k];
	/* unwrap the window's samples (at most two copies) */
	const unsigned T = pq->taps;
	uint64_t a = m->origin + (uint64_t)(int64_t)(floor(t0) - T / 2);
	uint32_t n = (uint32_t)(ceil(t0 + len) - floor(t0)) + T + 2;
	uint32_t at = (uint32_t)(a & RING_MASK), first = BM_PQ_RING - at < n ? BM_PQ_RING - at : n;
	memcpy(pq->lin, &ring[at], first * sizeof(float));
	memcpy(pq->lin + first, ring, (n - first) * sizeof(float));
	if (T == BM_PQ_TAPS) {
		for (uint32_t j = 0; j < M; j++) {
			const float *x = pq->lin + pq->off[j], *c = pq->coef[j];
			float acc = 0.0f;
			for (unsigned i = 0; i < BM_PQ_TAPS; i++)
				acc += c[i] * x[i];
			pq->work[j] = acc;
		}
	} else { /* low sample rates: few points, so blend the table here */
		for (uint32_t j = 0; j < M; j++) {
			const float *x = pq->lin + pq->off[j];
			const float *c0 = pq->table[pq->q0[j]], *c1 = pq->table[pq->q0[j] + 1];
			const float fr = pq->phase[j];
			float acc = 0.0f;
			for (unsigned i = 0; i < BM_PQ_TAPS_LOW; i++)
				acc += (c0[i] + fr * (c1[i] - c0[i])) * x[i];
			pq->work[j] = acc;
		}
	}
	pq->fft.rfft(pq->fft.ctx, pq->work, pq->spec);
	const double norm = 2.0 / ((double)M * M); /* line RMS² = 2|X|²/M² */
	for (unsigned j = 0; j < nlines; j++)
		pq->line2[j] = (pq->spec[2 * j] * (double)pq->spec[2 * j] + pq->spec[2 * j + 1] * (double)pq->spec[2 * j + 1]) * norm;
}

void bm_pq_window(bm_meter *m, double start, double len, double f)
{
	bm_pq *pq = m->pq;
	bm_harmonics *hr = &m->res.h;
	const uint32_t N = m->ncyc;
	const double t0 = start - BM_PQ_LAG;

	for (unsigned q = 0; q <= BM_H_MAX; q++) {
		for (unsigned p = 0; p < 3; p++)
			hr->u[p][q] = hr->ua[p][q] = NAN;
		for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
			for (unsigned p = 0; p < BM_PHASE_INPUTS; p++)
				hr->i[c][p][q] = NAN;
	}
	/* the highest order this window can give: below 0.4·fs and with its
	 * group's lines inside the spectrum */
	unsigned hmax = BM_H_MAX;
	while (hmax > 0 && (hmax * f > 0.4 * m->fs || hmax * N + N / 2 + 1 > pq->m / 2))
		hmax--;
	const unsigned nlines = hmax * N + N / 2 + 1;
	plan_window(pq, t0, len);

	for (unsigned k = 0; k < pq->n_rows; k++) {
		lines_fft(m, k, t0, len, nlines);

		const unsigned row = pq->rows[k];
		float *out = dest(hr, row);
		for (unsigned h = 1; h <= hmax; h++) {
			int lo = pq->groups ? -(int)N / 2 : -1, hi = -lo;
			double g2 = 0.0;
			for (int d = lo; d <= hi; d++) {
				unsigned line = h * N + (unsigned)d;
				double th = TWO_PI * f * line / ((double)N * m->fs);
				double g = response(m, row, th);
				double a2 = pq->line2[line] / (g * g);
				/* a group's outermost lines are shared with the next group */
				g2 += (pq->groups && (d == lo || d == hi)) ? 0.5 * a2 : a2;
			}
			out[h] = (float)sqrt(g2);
		}
	}
	hr->valid = true;
}

/* THD, odd/even distortion and harmonic RMS of one spectrum, in v[]. */
static void distortion(const float *x, double *thd, double *odd, double *even, double *hrms)
{
	double g1 = x[1], so = 0.0, se = 0.0;
	bool any = false;
	for (unsigned h = 2; h <= BM_H_MAX; h++) {
		if (isnan(x[h]))
			continue;
		any = true;
		double a2 = (double)x[h] * x[h];
		if (h & 1u)
			so += a2;
		else
			se += a2;
	}
	if (!any || isnan(g1)) {
		*thd = *odd = *even = *hrms = NAN;
		return;
	}
	*hrms = sqrt(so + se);
	if (g1 > 0.0) {
		*thd = 100.0 * sqrt(so + se) / g1;
		*odd = 100.0 * sqrt(so) / g1;
		*even = 100.0 * sqrt(se) / g1;
	} else {
		*thd = *odd = *even = NAN;
	}
}

void bm_pq_derive(const bm_meter *m, unsigned c, double *v)
{
	const bm_harmonics *hr = &m->res.h;
	const bm_wiring w = m->cfg.circuit[c].wiring;
	const unsigned ph = bm_wiring_phases(w);
	if (!hr->valid)
		return;
	for (unsigned p = 0; p < 3; p++) {
		if (!(ph & (1u << p)))
			continue;
		/* A phase below the minimum voltage / current reads 0 like its U or
		 * I: harmonic RMS 0, and no distortion ratios (NaN) — its
		 * "harmonics" would be noise over a zero fundamental. */
		const float *u = bm_wiring_three_wire(w) ? hr->ua[p] : hr->u[p];
		if (u[1] >= m->cfg.u_min_v && u[1] > 0.0f)
			distortion(u, &v[BM_Q_THDU1 + p], &v[BM_Q_HDoU1 + p], &v[BM_Q_HDeU1 + p], &v[BM_Q_HRU1 + p]);
		else
			v[BM_Q_HRU1 + p] = 0.0;
		const float *i = hr->i[c][p];
		if (!(v[BM_Q_I1 + p] > 0.0)) {
			v[BM_Q_HRI1 + p] = 0.0;
			continue;
		}
		distortion(i, &v[BM_Q_THDI1 + p], &v[BM_Q_HDoI1 + p], &v[BM_Q_HDeI1 + p], &v[BM_Q_HRI1 + p]);
		/* K-factor, UL 1561: Σ h²·I_h² / Σ I_h² over the analysed orders */
		double num = 0.0, den = 0.0;
		for (unsigned h = 1; h <= BM_H_MAX; h++)
			if (!isnan(i[h])) {
				double a2 = (double)i[h] * i[h];
				num += (double)h * h * a2;
				den += a2;
			}
		v[BM_Q_K1 + p] = den > 0.0 ? num / den : NAN;
	}
}

double bm_pq_harmonic_rms(const bm_results *r, const bm_meter_cfg *cfg, unsigned c, unsigned ch, unsigned h)
{
	if (!r || !cfg || !r->h.valid || c >= r->n_circuits || c >= BM_MAX_CIRCUITS || h < 1 || h > BM_H_MAX)
		return NAN;
	const bm_wiring w = cfg->circuit[c].wiring;
	const unsigned ph = bm_wiring_phases(w);
	if (ch < 3)
		return (ph & (1u << ch)) ? (bm_wiring_three_wire(w) ? r->h.ua[ch][h] : r->h.u[ch][h]) : NAN;
	if (ch < 6)
		return (ph & (1u << (ch - 3))) ? r->h.i[c][ch - 3][h] : NAN;
	if (ch == 6 && (w == BM_WIRING_3P4W_4CT || w == BM_WIRING_3P4W_3CT || w == BM_WIRING_1P3W))
		return r->h.i[c][3][h];
	return NAN;
}
