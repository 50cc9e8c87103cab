/*
 * sim.c — the simulator's generator and its truth (see sim.h).
 *
 * Model: every channel is a sum of sinusoids at whole multiples of one
 * shared phase theta(t), x(t) = sum_h Re(C_h * e^(j*h*theta)), with
 * theta' = omega(t) = 2*pi*f(t). The complex amplitudes C_h come from the
 * scenario through primary phasors (docs/simulator.md "Signal model"):
 *
 *   voltage p:  U_p,1 = sqrt2 * V * unb_p * e^(j*alpha_p),
 *               U_p,h = sqrt2 * V * unb_p * pct_h/100 * e^(j*(h*alpha_p + psi_h))
 *   current p:  I_p,1 = sqrt2 * I * unb_p * e^(j*beta_p),  beta_p = alpha_p - phi,
 *               I_p,h = sqrt2 * I * unb_p * pct_h/100 * e^(j*(h*beta_p + chi_h))
 *
 * with alpha_p = 0, -120, +120 degrees (ABC; ACB swaps L2 and L3) plus the
 * angle deviation, and phi = atan2(Q, P) of the load profile's point, so a
 * harmonic's phase is relative to its own fundamental and the set rotates
 * with the phase sequence (3rd zero-, 5th negative-, 7th positive-sequence).
 * Three-wire circuits have each order's zero-sequence part removed (the
 * three currents sum to zero); the neutral input carries In = -(i1+i2+i3),
 * the current in the neutral as seen by a CT pointing to the load like the
 * phase CTs (all four conductor currents then sum to zero).
 *
 * Sensors: CT and VCT outputs are k * i; a Rogowski coil outputs
 * M * di/dt with M = (secondary_mV/1000) / primary_a / (2*pi*50), and di/dt
 * is analytic: d/dt Re(C e^(jh theta)) = omega(t) * Re(j*h*C e^(jh theta)),
 * so its coefficient is j*h*M*C and each sample is scaled by omega(t). The
 * slow change of the amplitudes themselves (load profile) is not
 * differentiated: the steepest default ramp changes the current by ~1e-4
 * per second against omega = 314 per second, so it would add ~3e-7 of the
 * output (on/off cycling steps would give a real coil a spike; here they
 * just switch the amplitude at a block edge).
 *
 * Speed (docs/simulator.md "Speed"): the generator works in blocks of
 * BM_SIM_BLOCK samples aligned to the sample index, and the caller's frames
 * are copied out of the block being delivered. Per block: one cos and one
 * sin of theta, then per sample a rotation by that sample's phase step; the
 * harmonics' cos/sin by complex multiplication (e^(jh theta) =
 * e^(j(h-1) theta) * e^(j theta), error ~h * 1e-16), shared by all
 * channels; the amplitudes once, without trigonometry; per channel one
 * contiguous (vectorisable) pass over the block per term, and the neutral
 * of a four-wire circuit from its phases' sums. Noise uses a 128-layer
 * ziggurat, two values per 64-bit draw 98.8 % of the time, since
 * Box-Muller's log/sqrt/sincos per pair would cost more than the signal.
 *
 * Auxiliary inputs (temperature, residual current, digital inputs) are not
 * in the frames: they are pure functions of the scenario and a sample index
 * (see "auxiliary inputs" below), computed on request, so they touch neither
 * the blocks nor the PRNG.
 *
 * Invariants: blocks are built strictly in order, each once, from the
 * scenario, the block index and the state carried from the previous block
 * (theta, PRNG); bm_sim_generate only copies frames out of them. So any
 * split of the calls gives bit-identical frames.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define TWO_PI 6.283185307179586476925286766559
#define SQRT2 1.4142135623730950488016887242097
#define DEG (TWO_PI / 360.0)
#define DAY_S 86400.0

/* make_block draws noise in pairs over BM_SIM_BLOCK * channels values. */
_Static_assert(BM_SIM_BLOCK % 2 == 0 && BM_SIM_BLOCK >= 8, "BM_SIM_BLOCK must be even");

/* Input ranges of the simulated ADC (docs/simulator.md "ADC"). */
#define ADC_U_PEAK (720.0 * SQRT2) /* V: the 720 V maximum phase input */
#define ADC_MV_PEAK 0.9            /* V: VCT / coil input, 0..900 mV peak */
#define ADC_CT_FACTOR (2.0 * SQRT2) /* x CT secondary: twice rated, peak */

/* ------------------------------------------------------------------ PRNG */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna). A struct the hot loop keeps in
 * registers: every function using it is inline and never lets it escape. */
typedef struct rng_t {
	uint64_t s0, s1, s2, s3;
} rng_t;

static inline uint64_t rng_next(rng_t *r)
{
	uint64_t res = rotl(r->s1 * 5, 7) * 9;
	uint64_t t = r->s1 << 17;
	r->s2 ^= r->s0;
	r->s3 ^= r->s1;
	r->s1 ^= r->s2;
	r->s0 ^= r->s3;
	r->s2 ^= t;
	r->s3 = rotl(r->s3, 45);
	return res;
}

/* Uniform in (0, 1), never 0 (it feeds log). */
static inline double rng_uni(rng_t *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/*
 * Marsaglia & Tsang's ziggurat (J. Stat. Softw. 5(8), 2000), 128 layers,
 * fed 32-bit words so one 64-bit draw makes two values: the layer comes
 * from the low 7 bits and the signed magnitude from the high 25 bits, which
 * also avoids the original's layer/value correlation (there both came from
 * the same bits). Tables are scaled for that 2^24 magnitude.
 */
#define ZIG_M 16777216.0 /* 2^24 */

static void zig_init(bm_sim *s)
{
	double dn = 3.442619855899, tn = dn, vn = 9.91256303526217e-3;
	double q = vn / exp(-0.5 * dn * dn);
	s->zk[0] = (dn / q) * ZIG_M;
	s->zk[1] = 0.0;
	s->zw[0] = q / ZIG_M;
	s->zw[127] = dn / ZIG_M;
	s->zf[0] = 1.0;
	s->zf[127] = exp(-0.5 * dn * dn);
	for (int i = 126; i >= 1; i--) {
		dn = sqrt(-2.0 * log(vn / dn + exp(-0.5 * dn * dn)));
		s->zk[i + 1] = (dn / tn) * ZIG_M;
		tn = dn;
		s->zf[i] = exp(-0.5 * dn * dn);
		s->zw[i] = dn / ZIG_M;
	}
}

/* The ziggurat's rare paths (1.2 % of calls): the state travels by value,
 * so the hot loop's generator never has its address taken and stays in
 * registers. */
typedef struct zig_slow {
	double x;
	rng_t r;
} zig_slow;

static zig_slow gauss_slow(const bm_sim *s, rng_t r, uint32_t w)
{
	for (;;) {
		unsigned iz = w & 127u;
		double hz = (double)(w >> 7) - ZIG_M; /* [-2^24, 2^24) */
		double x = hz * s->zw[iz];
		if (fabs(hz) < s->zk[iz])
			return (zig_slow){x, r};
		if (iz == 0) { /* the tail beyond r */
			const double rr = 3.442619855899;
			double xx, y;
			do {
				xx = -log(rng_uni(&r)) / rr;
				y = -log(rng_uni(&r));
			} while (y + y < xx * xx);
			return (zig_slow){hz > 0 ? rr + xx : -rr - xx, r};
		}
		if (s->zf[iz] + rng_uni(&r) * (s->zf[iz - 1] - s->zf[iz]) < exp(-0.5 * x * x))
			return (zig_slow){x, r};
		w = (uint32_t)(rng_next(&r) >> 32);
	}
}

/* A standard normal value from the word w (and, rarely, more draws). */
static inline double gauss(const bm_sim *s, rng_t *r, uint32_t w)
{
	unsigned iz = w & 127u;
	double hz = (double)(w >> 7) - ZIG_M; /* [-2^24, 2^24) */
	if (fabs(hz) < s->zk[iz])
		return hz * s->zw[iz];
	zig_slow z = gauss_slow(s, *r, w);
	*r = z.r;
	return z.x;
}

/* ------------------------------------------------------------------ time */

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The start as Unix seconds: with an explicit offset exactly; without,
 * through mktime() in the process's time zone (docs: "Start time"). */
static double start_unix(const bm_sim_start *st)
{
	int64_t utc = days_from_civil(st->year, st->month, st->day) * 86400 + st->hour * 3600 + st->minute * 60 +
	              st->second;
	if (st->has_offset)
		return (double)(utc - (int64_t)st->offset_min * 60);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = st->year - 1900;
	tm.tm_mon = st->month - 1;
	tm.tm_mday = st->day;
	tm.tm_hour = st->hour;
	tm.tm_min = st->minute;
	tm.tm_sec = st->second;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	return t == (time_t)-1 ? (double)utc : (double)t;
}

static double sample_time(const bm_sim *s, uint64_t n)
{
	return (double)n / (double)s->sc.sample_rate;
}

/* f(t): nominal + ramp + sinusoidal wander, kept inside 40..70 Hz. */
static double freq_at(const bm_sim *s, uint64_t n)
{
	const bm_sim_scenario *sc = &s->sc;
	double t = sample_time(s, n);
	double f = sc->frequency_hz + sc->ramp_hz_per_s * t;
	if (sc->wander_hz > 0.0)
		f += sc->wander_hz * sin(TWO_PI * fmod(t / sc->wander_period_s, 1.0));
	return f < 40.0 ? 40.0 : f > 70.0 ? 70.0 : f;
}

/* ----------------------------------------------------------------- model */

/* Primary current phasors (peak) of one block; voltages are constant and
 * live in bm_sim. Each circuit's terms: order 1, then its harmonics list. */
typedef struct model {
	double tod;                      /* local time of day, s */
	struct {
		double pct, pf;
		uint8_t n;
		uint8_t ord[BM_SIM_MAX_TERMS];
		double re[BM_PHASE_INPUTS][BM_SIM_MAX_TERMS], im[BM_PHASE_INPUTS][BM_SIM_MAX_TERMS];
	} c[BM_MAX_CIRCUITS];
} model;

/* Load profile at a time of day: linear between points, wrapping through
 * midnight from the last point to the first. */
static void profile_at(const bm_sim_circuit *c, double tod, double *pct, double *pf)
{
	const bm_sim_point *pt = c->profile;
	unsigned n = c->n_points;
	if (n == 1) {
		*pct = pt[0].percent;
		*pf = pt[0].pf;
		return;
	}
	const bm_sim_point *a, *b;
	double ta, tb;
	unsigned i = 0;
	while (i < n && pt[i].tod_s <= tod)
		i++;
	if (i == 0 || i == n) { /* between the last point and the first, via midnight */
		a = &pt[n - 1];
		b = &pt[0];
		ta = a->tod_s;
		tb = b->tod_s + DAY_S;
		if (tod < ta)
			tod += DAY_S;
	} else {
		a = &pt[i - 1];
		b = &pt[i];
		ta = a->tod_s;
		tb = b->tod_s;
	}
	double w = (tod - ta) / (tb - ta);
	*pct = a->percent + w * (b->percent - a->percent);
	*pf = a->pf + w * (b->pf - a->pf);
}

/* A circuit's load at time t_abs (s since the start day's midnight; tod =
 * its time of day): the profile, times cycle_off while cycling is "off". */
static void circuit_load(const bm_sim_circuit *cc, double t_abs, double tod, double *pct, double *pf)
{
	profile_at(cc, tod, pct, pf);
	if (cc->cycle_period_s > 0.0) {
		double ph = fmod(t_abs, cc->cycle_period_s) / cc->cycle_period_s;
		if (ph >= cc->cycle_duty)
			*pct *= cc->cycle_off_pct / 100.0;
	}
}

static void phase_angles(const bm_sim_scenario *sc, double alpha[3])
{
	static const double abc[3] = {0.0, -120.0, 120.0};
	for (int p = 0; p < 3; p++) {
		int q = sc->acb && p > 0 ? 3 - p : p; /* ACB: L2 at +120, L3 at -120 */
		alpha[p] = (abc[q] + sc->angle_dev_deg[p]) * DEG;
	}
}

/* The constant phasors: voltages, e^(j*alpha_p), harmonic phase factors. */
static void init_phasors(bm_sim *s)
{
	const bm_sim_scenario *sc = &s->sc;
	double alpha[3];
	phase_angles(sc, alpha);
	memset(s->vidx, -1, sizeof s->vidx);
	s->nv = (uint8_t)(1 + sc->harmonics.n);
	for (unsigned k = 0; k < s->nv; k++) {
		const bm_sim_harmonic *h = k ? &sc->harmonics.h[k - 1] : NULL;
		unsigned ord = h ? h->order : 1;
		s->vord[k] = (uint8_t)ord;
		s->vidx[ord] = (int8_t)k;
		for (int p = 0; p < 3; p++) {
			double amp = SQRT2 * sc->voltage_v * sc->unbalance[p] * (h ? h->percent / 100.0 : 1.0);
			double ang = ord * alpha[p] + (h ? h->phase_deg * DEG : 0.0);
			s->vre[p][k] = amp * cos(ang);
			s->vim[p][k] = amp * sin(ang);
		}
	}
	for (int p = 0; p < 3; p++) {
		s->ea_re[p] = cos(alpha[p]);
		s->ea_im[p] = sin(alpha[p]);
	}
	for (unsigned c = 0; c < sc->n_circuits; c++)
		for (unsigned i = 0; i < sc->circuit[c].harmonics.n; i++) {
			s->hx_re[c][i] = cos(sc->circuit[c].harmonics.h[i].phase_deg * DEG);
			s->hx_im[c][i] = sin(sc->circuit[c].harmonics.h[i].phase_deg * DEG);
		}
}

/*
 * Current phasors of the block starting at sample n. No trigonometry: the
 * load angle's unit phasor e^(j*phi) is (P, Q) / S straight from the
 * profile's percent and pf, e^(j*beta_p) = e^(j*alpha_p) * e^(-j*phi), and
 * e^(j*h*beta_p) follows by repeated multiplication (error ~h * 1e-16).
 */
static void build_model(const bm_sim *s, uint64_t n, model *m)
{
	const bm_sim_scenario *sc = &s->sc;
	double t_abs = s->start_tod + sample_time(s, n); /* s since the start day's midnight */
	m->tod = fmod(t_abs, DAY_S);
	for (unsigned c = 0; c < sc->n_circuits; c++) {
		const bm_sim_circuit *cc = &sc->circuit[c];
		double pct, pf;
		circuit_load(cc, t_abs, m->tod, &pct, &pf);
		m->c[c].pct = pct;
		m->c[c].pf = pf;
		double irms = fabs(pct) / 100.0 * cc->sensor[0].nominal_a;
		double apf = fabs(pf) > 1.0 ? 1.0 : fabs(pf);
		double ph_re = (pct < 0 ? -1.0 : 1.0) * apf;                  /* cos phi */
		double ph_im = (signbit(pf) ? -1.0 : 1.0) * sqrt(1.0 - apf * apf); /* sin phi */
		unsigned phases = bm_wiring_phases(cc->wiring);
		unsigned nt = 1u + cc->harmonics.n, maxo = 1;
		m->c[c].n = (uint8_t)nt;
		m->c[c].ord[0] = 1;
		for (unsigned k = 1; k < nt; k++) {
			m->c[c].ord[k] = cc->harmonics.h[k - 1].order;
			if (m->c[c].ord[k] > maxo)
				maxo = m->c[c].ord[k];
		}
		for (int p = 0; p < 3; p++) {
			if (!(phases & (1u << p))) {
				for (unsigned k = 0; k < nt; k++)
					m->c[c].re[p][k] = m->c[c].im[p][k] = 0.0;
				continue;
			}
			/* b = e^(j*(alpha_p - phi)); pw[h] = b^h */
			double br = s->ea_re[p] * ph_re + s->ea_im[p] * ph_im;
			double bi = s->ea_im[p] * ph_re - s->ea_re[p] * ph_im;
			double pr[BM_SIM_MAX_ORDER + 1], pi[BM_SIM_MAX_ORDER + 1];
			pr[1] = br;
			pi[1] = bi;
			for (unsigned h = 2; h <= maxo; h++) {
				pr[h] = pr[h - 1] * br - pi[h - 1] * bi;
				pi[h] = pi[h - 1] * br + pr[h - 1] * bi;
			}
			double amp = SQRT2 * irms * cc->unbalance[p];
			m->c[c].re[p][0] = amp * br;
			m->c[c].im[p][0] = amp * bi;
			for (unsigned k = 1; k < nt; k++) {
				const bm_sim_harmonic *h = &cc->harmonics.h[k - 1];
				double a = amp * h->percent / 100.0, xr = s->hx_re[c][k - 1], xi = s->hx_im[c][k - 1];
				m->c[c].re[p][k] = a * (pr[h->order] * xr - pi[h->order] * xi);
				m->c[c].im[p][k] = a * (pi[h->order] * xr + pr[h->order] * xi);
			}
		}
		for (unsigned k = 0; k < nt; k++) {
			double sre = m->c[c].re[0][k] + m->c[c].re[1][k] + m->c[c].re[2][k];
			double sim = m->c[c].im[0][k] + m->c[c].im[1][k] + m->c[c].im[2][k];
			if (bm_wiring_three_wire(cc->wiring)) {
				/* No neutral: remove this order's zero-sequence part. */
				for (int p = 0; p < 3; p++) {
					m->c[c].re[p][k] -= sre / 3.0;
					m->c[c].im[p][k] -= sim / 3.0;
				}
				sre = m->c[c].re[0][k] + m->c[c].re[1][k] + m->c[c].re[2][k];
				sim = m->c[c].im[0][k] + m->c[c].im[1][k] + m->c[c].im[2][k];
			}
			m->c[c].re[3][k] = -sre;
			m->c[c].im[3][k] = -sim;
		}
	}
}

/* Secondary units per primary ampere (CT, VCT), or the coil's M (V*s/A). */
static double sensor_k(const bm_sensor_cfg *sn)
{
	switch (sn->type) {
	case BM_SENSOR_CT: return sn->secondary / sn->primary_a;
	case BM_SENSOR_VCT: return sn->secondary / 1000.0 / sn->primary_a;
	case BM_SENSOR_RCOIL: return sn->secondary / 1000.0 / sn->primary_a / (TWO_PI * 50.0);
	default: return 0.0;
	}
}

/* The voltage channels' coefficients and every channel's terms, orders
 * and sensor gain: all constant, set once by bm_sim_init. */
static void init_channels(bm_sim *s)
{
	const bm_sim_scenario *sc = &s->sc;
	for (int p = 0; p < 3; p++) {
		s->n_terms[p] = s->nv;
		s->deriv[p] = false;
		for (unsigned k = 0; k < s->nv; k++) {
			s->order[p][k] = s->vord[k];
			s->cre[p][k] = s->vre[p][k] / sc->vt_ratio;
			s->cim[p][k] = s->vim[p][k] / sc->vt_ratio;
		}
	}
	for (unsigned c = 0; c < sc->n_circuits; c++) {
		const bm_sim_circuit *cc = &sc->circuit[c];
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			size_t ch = bm_ch_current(c, p);
			s->n_terms[ch] = (uint8_t)(1 + cc->harmonics.n);
			s->deriv[ch] = cc->sensor[p].type == BM_SENSOR_RCOIL;
			s->gain[ch] = sensor_k(&cc->sensor[p]);
			s->order[ch][0] = 1;
			for (unsigned t = 1; t < s->n_terms[ch]; t++)
				s->order[ch][t] = cc->harmonics.h[t - 1].order;
		}
		/* In: nothing on a three-wire circuit; otherwise, when its sensor
		 * differentiates like the phases' (all coils or none), computed
		 * from the phase channels' sums scaled by the gain ratios. */
		size_t cn = bm_ch_current(c, 3);
		bool same = true;
		for (unsigned p = 0; p < 3; p++)
			same = same && s->deriv[bm_ch_current(c, p)] == s->deriv[cn];
		if (bm_wiring_three_wire(cc->wiring)) {
			s->n_terms[cn] = 0;
		} else if (same) {
			s->in_sum[cn] = true;
			for (unsigned p = 0; p < 3; p++)
				s->in_sum_g[cn][p] = s->gain[cn] / s->gain[bm_ch_current(c, p)];
		}
	}
}

/* Current channels' coefficients for the block starting at sample n. */
static void refresh(bm_sim *s, uint64_t n)
{
	model m;
	build_model(s, n, &m);
	for (unsigned c = 0; c < s->sc.n_circuits; c++) {
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			size_t ch = bm_ch_current(c, p);
			const double k = s->gain[ch];
			for (unsigned t = 0; t < m.c[c].n; t++) {
				double re = m.c[c].re[p][t] * k, im = m.c[c].im[p][t] * k;
				if (s->deriv[ch]) { /* j * h * C; omega is applied per sample */
					double h = (double)m.c[c].ord[t];
					s->cre[ch][t] = -h * im;
					s->cim[ch][t] = h * re;
				} else {
					s->cre[ch][t] = re;
					s->cim[ch][t] = im;
				}
			}
		}
	}
}

/* cos and sin of a small angle (|d| < 0.25) by Taylor series to < 1e-20. */
static inline void small_sincos(double d, double *c, double *sn)
{
	double d2 = d * d;
	*sn = d * (1 - d2 * (1.0 / 6) * (1 - d2 * (1.0 / 20) * (1 - d2 * (1.0 / 42) * (1 - d2 * (1.0 / 72) *
	             (1 - d2 * (1.0 / 110) * (1 - d2 * (1.0 / 156)))))));
	*c = 1 - d2 * 0.5 * (1 - d2 * (1.0 / 12) * (1 - d2 * (1.0 / 30) * (1 - d2 * (1.0 / 56) *
	         (1 - d2 * (1.0 / 90) * (1 - d2 * (1.0 / 132) * (1 - d2 * (1.0 / 182)))))));
}

/*
 * Builds block b (frames b*BM_SIM_BLOCK ..) into s->blk. Blocks are built
 * in order, each exactly once, so theta and the PRNG advance identically
 * however the caller splits its requests. Within a block the work is
 * channel-major (each term a vectorisable loop over the block's samples);
 * the noise is drawn first, sample-major, so its order is fixed too.
 */
static void make_block(bm_sim *s, uint64_t b)
{
	const bm_sim_scenario *sc = &s->sc;
	const uint64_t n0 = b * BM_SIM_BLOCK;
	const size_t nch = s->n_ch;
	const unsigned maxo = s->max_order;
	const double inv_fs = 1.0 / (double)sc->sample_rate;
	const unsigned B = BM_SIM_BLOCK;
	refresh(s, n0);

	/* Frequency and phase per sample. The wander's sine is exact at the
	 * block start and rotated from there (error ~1e-14 Hz). */
	bool wander = sc->wander_hz > 0.0, ramp = sc->ramp_hz_per_s != 0.0;
	double wc = 1.0, ws = 0.0, rc = 1.0, rs = 0.0;
	if (wander) {
		double ph = TWO_PI * fmod(sample_time(s, n0) / sc->wander_period_s, 1.0);
		wc = cos(ph);
		ws = sin(ph);
		rc = cos(s->wander_dphi);
		rs = sin(s->wander_dphi);
	}
	/* theta is integrated in double per sample; its cos/sin are exact at
	 * the block start and then rotated by each sample's increment d (a
	 * small angle, |d| < 0.23, whose cos/sin the Taylor series give to
	 * < 1e-20), so the block costs one cos and one sin, not 64 of each;
	 * the rotation's rounding (< 64 * 2e-16) is dropped at the next block.
	 * The harmonics' cos/sin follow from order 1 in registers. */
	double theta = s->theta;
	double c1 = cos(theta), s1 = sin(theta);
	double cd = 0.0, sd = 0.0;
	if (!wander && !ramp)
		small_sincos(s->omega0 * inv_fs, &cd, &sd);
	for (unsigned k = 0; k < B; k++) {
		double om = s->omega0;
		if (wander || ramp) {
			double f = sc->frequency_hz;
			if (ramp)
				f += sc->ramp_hz_per_s * sample_time(s, n0 + k);
			if (wander) {
				f += sc->wander_hz * ws;
				double t = wc * rc - ws * rs;
				ws = ws * rc + wc * rs;
				wc = t;
			}
			f = f < 40.0 ? 40.0 : f > 70.0 ? 70.0 : f;
			om = TWO_PI * f;
			small_sincos(om * inv_fs, &cd, &sd);
		}
		s->omega[k] = om;
		s->cs[1][k] = c1;
		s->sn[1][k] = s1;
		double ch = c1, sh = s1;
		for (unsigned h = 2; h <= maxo; h++) {
			double t = ch * c1 - sh * s1;
			sh = sh * c1 + ch * s1;
			ch = t;
			s->cs[h][k] = ch;
			s->sn[h][k] = sh;
		}
		double t = c1 * cd - s1 * sd;
		s1 = s1 * cd + c1 * sd;
		c1 = t;
		theta += om * inv_fs;
		if (theta >= TWO_PI)
			theta -= TWO_PI;
	}
	s->theta = theta;

	/* Unit normals for every channel of every sample, sample-major, two
	 * per 64-bit draw; scaled by each channel's sigma below. */
	bool noise = sc->noise_pct > 0.0;
	if (noise) {
		rng_t r = {s->rng[0], s->rng[1], s->rng[2], s->rng[3]};
		for (size_t i = 0; i < (size_t)B * nch; i += 2) { /* B * nch is even */
			uint64_t u = rng_next(&r);
			s->noise[i] = gauss(s, &r, (uint32_t)u);
			s->noise[i + 1] = gauss(s, &r, (uint32_t)(u >> 32));
		}
		s->rng[0] = r.s0;
		s->rng[1] = r.s1;
		s->rng[2] = r.s2;
		s->rng[3] = r.s3;
	}

	const double qmax = sc->adc_bits ? (double)(1u << (sc->adc_bits - 1)) : 0.0;
	double yb[BM_PHASE_INPUTS][BM_SIM_BLOCK]; /* a circuit's I1..In; voltages use [0] */
	for (size_t ch = 0; ch < nch; ch++) {
		unsigned in = ch < BM_VOLTAGE_INPUTS ? 0 : (unsigned)((ch - BM_VOLTAGE_INPUTS) % BM_PHASE_INPUTS);
		double *y = yb[in];
		if (s->in_sum[ch]) {
			/* In = -(i1 + i2 + i3), from the phases' sums (the sensors
			 * differ at most in gain): a quarter of a circuit's work. */
			const double g0 = s->in_sum_g[ch][0], g1 = s->in_sum_g[ch][1], g2 = s->in_sum_g[ch][2];
			for (unsigned k = 0; k < B; k++)
				y[k] = -(g0 * yb[0][k] + g1 * yb[1][k] + g2 * yb[2][k]);
		} else {
			/* One pass over the block per term: contiguous, vectorisable. */
			const unsigned nt = s->n_terms[ch];
			for (unsigned k = 0; k < B; k++)
				y[k] = 0.0;
			for (unsigned t = 0; t < nt; t++) {
				const double cr = s->cre[ch][t], ci = s->cim[ch][t];
				const double *restrict C = s->cs[s->order[ch][t]];
				const double *restrict S = s->sn[s->order[ch][t]];
				for (unsigned k = 0; k < B; k++)
					y[k] += cr * C[k] - ci * S[k];
			}
		}
		/* Then, in one pass: coil scaling, noise, ADC, float. */
		const double *om = s->deriv[ch] ? s->omega : NULL;
		const double *nz = noise ? &s->noise[ch] : NULL;
		const double sigma = s->sigma[ch];
		float *out = &s->blk[ch];
		if (s->lsb[ch] > 0.0) {
			/* Clamp to the ADC's codes, then round to the nearest code:
			 * adding and subtracting 1.5 * 2^52 leaves an integer (ties to
			 * even in the default rounding mode; |q| < 2^23 here). */
			const double lsb = s->lsb[ch], inv = 1.0 / lsb, lo = -qmax, hi = qmax - 1.0;
			const double magic = 6755399441055744.0;
			for (unsigned k = 0; k < B; k++) {
				double v = om ? y[k] * om[k] : y[k];
				if (nz)
					v += sigma * nz[k * nch];
				double q = v * inv;
				q = q < lo ? lo : q > hi ? hi : q;
				q = (q + magic) - magic;
				out[k * nch] = (float)(q * lsb);
			}
		} else {
			for (unsigned k = 0; k < B; k++) {
				double v = om ? y[k] * om[k] : y[k];
				if (nz)
					v += sigma * nz[k * nch];
				out[k * nch] = (float)v;
			}
		}
	}
	s->blk_index = b;
	s->blk_valid = true;
}

/* ------------------------------------------------------------------- API */

bm_err bm_sim_init(bm_sim *s, const bm_sim_scenario *sc)
{
	if (!s || bm_sim_validate(sc, NULL, 0) != BM_OK)
		return BM_E_INVAL;
	memset(s, 0, sizeof *s);
	s->sc = *sc;
	s->n_ch = BM_VOLTAGE_INPUTS + (size_t)BM_PHASE_INPUTS * sc->n_circuits;
	s->start_unix = start_unix(&sc->start);
	s->start_tod = sc->start.hour * 3600.0 + sc->start.minute * 60.0 + sc->start.second;
	s->omega0 = TWO_PI * sc->frequency_hz;
	s->wander_dphi = TWO_PI / (sc->wander_period_s * (double)sc->sample_rate);
	uint64_t sm = sc->seed;
	s->rng[0] = splitmix64(&sm);
	s->rng[1] = splitmix64(&sm);
	s->rng[2] = splitmix64(&sm);
	s->rng[3] = splitmix64(&sm);
	zig_init(s);
	init_phasors(s);
	init_channels(s);

	unsigned maxo = 1;
	for (unsigned i = 0; i < sc->harmonics.n; i++)
		if (sc->harmonics.h[i].order > maxo)
			maxo = sc->harmonics.h[i].order;
	for (unsigned c = 0; c < sc->n_circuits; c++)
		for (unsigned i = 0; i < sc->circuit[c].harmonics.n; i++)
			if (sc->circuit[c].harmonics.h[i].order > maxo)
				maxo = sc->circuit[c].harmonics.h[i].order;
	s->max_order = (uint8_t)maxo;

	/* Noise and ADC per channel (docs/simulator.md "Noise" and "ADC"). */
	double lsb_scale = sc->adc_bits ? 2.0 / (double)(1u << sc->adc_bits) : 0.0;
	for (int p = 0; p < 3; p++) {
		s->sigma[p] = sc->noise_pct / 100.0 * sc->voltage_v / sc->vt_ratio;
		s->fs_peak[p] = ADC_U_PEAK;
		s->lsb[p] = s->fs_peak[p] * lsb_scale;
	}
	for (unsigned c = 0; c < sc->n_circuits; c++)
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			size_t ch = bm_ch_current(c, p);
			const bm_sensor_cfg *sn = &sc->circuit[c].sensor[p];
			/* output at the nominal current; a coil's at 50 Hz */
			double rated = sn->nominal_a * s->gain[ch] * (s->deriv[ch] ? TWO_PI * 50.0 : 1.0);
			s->sigma[ch] = sc->noise_pct / 100.0 * rated;
			s->fs_peak[ch] = sn->type == BM_SENSOR_CT ? ADC_CT_FACTOR * sn->secondary : ADC_MV_PEAK;
			s->lsb[ch] = s->fs_peak[ch] * lsb_scale;
		}
	return BM_OK;
}

size_t bm_sim_channels(const bm_sim *s)
{
	return s ? s->n_ch : 0;
}

uint64_t bm_sim_samples(const bm_sim *s)
{
	return s ? s->n : 0;
}

double bm_sim_time(const bm_sim *s)
{
	return s ? s->start_unix + sample_time(s, s->n) : 0.0;
}

size_t bm_sim_generate(bm_sim *s, float *frames, size_t stride, size_t n)
{
	if (!s || !frames || stride < s->n_ch)
		return 0;
	const size_t nch = s->n_ch;
	size_t done = 0;
	while (done < n) {
		uint64_t b = s->n / BM_SIM_BLOCK;
		if (!s->blk_valid || s->blk_index != b)
			make_block(s, b); /* always the next block: see make_block */
		size_t off = (size_t)(s->n % BM_SIM_BLOCK);
		size_t run = BM_SIM_BLOCK - off;
		if (run > n - done)
			run = n - done;
		for (size_t k = 0; k < run; k++)
			memcpy(frames + (done + k) * stride, &s->blk[(off + k) * nch], nch * sizeof(float));
		s->n += run;
		done += run;
	}
	return n;
}

/* ------------------------------------------------------ auxiliary inputs */

/*
 * Pure functions of the scenario and a sample index: no state, no noise, so
 * the frames and the PRNG are untouched. Step times compare against the
 * sample's exact time n / fs (correctly rounded, so a step at 60 s takes
 * effect at sample 60 * fs exactly), not against the block: these values are
 * not in the frames, and a step should not move by up to 63 samples.
 */

/* Temperature at a load (the block's, as the currents have it). */
static double aux_temperature(const bm_sim_circuit *cc, double load_pct)
{
	if (!cc->has_temperature)
		return NAN;
	double x = fabs(load_pct) / 100.0;
	return cc->temperature_c + cc->temperature_rise_k * x * x;
}

/* The value of the last step at or before t, or `initial`; *next (may be
 * NULL) gets the index of the first step after t. */
static double step_value(const bm_sim_step *st, unsigned n, double initial, double t, unsigned *next)
{
	unsigned i = 0;
	while (i < n && st[i].t_s <= t)
		i++;
	if (next)
		*next = i;
	return i > 0 ? st[i - 1].value : initial;
}

static double aux_residual(const bm_sim *s, const bm_sim_circuit *cc, uint64_t sample)
{
	if (!cc->has_residual)
		return NAN;
	return step_value(cc->res_step, cc->n_res_steps, cc->residual_ma, sample_time(s, sample), NULL);
}

static uint8_t aux_inputs(const bm_sim *s, uint64_t sample)
{
	const bm_sim_scenario *sc = &s->sc;
	double t = sample_time(s, sample);
	uint8_t bits = 0;
	for (unsigned i = 0; i < BM_SIM_MAX_INPUTS; i++)
		if ((sc->input_mask & (1u << i)) && step_value(sc->input[i].step, sc->input[i].n_steps, 0.0, t, NULL) != 0.0)
			bits = (uint8_t)(bits | (1u << i));
	return bits;
}

static const bm_sim_circuit *aux_circuit(const bm_sim *s, unsigned c)
{
	return s && c < s->sc.n_circuits ? &s->sc.circuit[c] : NULL;
}

bool bm_sim_has_temperature(const bm_sim *s, unsigned c)
{
	const bm_sim_circuit *cc = aux_circuit(s, c);
	return cc && cc->has_temperature;
}

bool bm_sim_has_residual(const bm_sim *s, unsigned c)
{
	const bm_sim_circuit *cc = aux_circuit(s, c);
	return cc && cc->has_residual;
}

double bm_sim_temperature(const bm_sim *s, unsigned c)
{
	const bm_sim_circuit *cc = aux_circuit(s, c);
	if (!cc || !cc->has_temperature)
		return NAN;
	/* The load of the block holding the current sample, as build_model
	 * computes it for the currents (same function, same arguments). */
	uint64_t n0 = s->n - s->n % BM_SIM_BLOCK;
	double t_abs = s->start_tod + sample_time(s, n0);
	double pct, pf;
	circuit_load(cc, t_abs, fmod(t_abs, DAY_S), &pct, &pf);
	return aux_temperature(cc, pct);
}

double bm_sim_residual_ma(const bm_sim *s, unsigned c)
{
	const bm_sim_circuit *cc = aux_circuit(s, c);
	return cc ? aux_residual(s, cc, s->n) : NAN;
}

uint8_t bm_sim_inputs(const bm_sim *s)
{
	return s ? aux_inputs(s, s->n) : 0;
}

uint8_t bm_sim_input_mask(const bm_sim *s)
{
	return s ? s->sc.input_mask : 0;
}

double bm_sim_next_input_change(const bm_sim *s)
{
	if (!s)
		return INFINITY;
	const bm_sim_scenario *sc = &s->sc;
	double t = sample_time(s, s->n), best = INFINITY;
	for (unsigned i = 0; i < BM_SIM_MAX_INPUTS; i++) {
		if (!(sc->input_mask & (1u << i)))
			continue;
		const bm_sim_input *in = &sc->input[i];
		unsigned k;
		double state = step_value(in->step, in->n_steps, 0.0, t, &k);
		for (; k < in->n_steps && in->step[k].t_s < best; k++) {
			if (in->step[k].value != state) {
				best = in->step[k].t_s;
				break;
			}
		}
	}
	return best;
}

/* ------------------------------------------------------------------ truth */

void bm_sim_truth_at(const bm_sim *s, uint64_t sample, bm_sim_truth *t)
{
	memset(t, 0, sizeof *t);
	/* The generator holds a block's amplitudes for the whole block. */
	model m;
	build_model(s, sample - sample % BM_SIM_BLOCK, &m);
	const bm_sim_scenario *sc = &s->sc;
	t->sample = sample;
	t->unix_s = s->start_unix + sample_time(s, sample);
	t->tod_s = fmod(s->start_tod + sample_time(s, sample), DAY_S);
	t->frequency_hz = freq_at(s, sample);
	double u2[3] = {0};
	for (int p = 0; p < 3; p++) {
		for (unsigned k = 0; k < s->nv; k++)
			u2[p] += (s->vre[p][k] * s->vre[p][k] + s->vim[p][k] * s->vim[p][k]) / 2.0;
		t->u_rms[p] = sqrt(u2[p]);
		t->u1_rms[p] = hypot(s->vre[p][0], s->vim[p][0]) / SQRT2;
		t->u_angle_deg[p] = atan2(s->vim[p][0], s->vre[p][0]) / DEG;
	}
	t->n_circuits = sc->n_circuits;
	for (unsigned c = 0; c < sc->n_circuits; c++) {
		bm_sim_truth_circuit *tc = &t->c[c];
		unsigned phases = bm_wiring_phases(sc->circuit[c].wiring);
		tc->load_percent = m.c[c].pct;
		tc->load_pf = m.c[c].pf;
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			double i2 = 0.0;
			for (unsigned k = 0; k < m.c[c].n; k++)
				i2 += (m.c[c].re[p][k] * m.c[c].re[p][k] + m.c[c].im[p][k] * m.c[c].im[p][k]) / 2.0;
			tc->i_rms[p] = sqrt(i2);
			tc->i1_rms[p] = hypot(m.c[c].re[p][0], m.c[c].im[p][0]) / SQRT2;
		}
		/* The voltages a phase's powers use: phase-to-neutral, or on a
		 * three-wire circuit (no neutral) phase to the artificial neutral,
		 * u_p - (u1+u2+u3)/3, as a meter measures them. The totals P and Q
		 * are the same either way (the currents sum to zero); S differs. */
		double vre[3][BM_SIM_MAX_TERMS], vim[3][BM_SIM_MAX_TERMS];
		bool three_wire = bm_wiring_three_wire(sc->circuit[c].wiring);
		for (unsigned k = 0; k < s->nv; k++) {
			double mr = three_wire ? (s->vre[0][k] + s->vre[1][k] + s->vre[2][k]) / 3.0 : 0.0;
			double mi = three_wire ? (s->vim[0][k] + s->vim[1][k] + s->vim[2][k]) / 3.0 : 0.0;
			for (int p = 0; p < 3; p++) {
				vre[p][k] = s->vre[p][k] - mr;
				vim[p][k] = s->vim[p][k] - mi;
			}
		}
		for (unsigned p = 0; p < 3; p++) {
			if (!(phases & (1u << p)))
				continue;
			double u2p = 0.0;
			for (unsigned k = 0; k < s->nv; k++)
				u2p += (vre[p][k] * vre[p][k] + vim[p][k] * vim[p][k]) / 2.0;
			double pw = 0.0;
			for (unsigned k = 0; k < m.c[c].n; k++) {
				int vk = s->vidx[m.c[c].ord[k]];
				if (vk < 0)
					continue;
				/* Re(U * conj(I)) / 2 per order */
				pw += (vre[p][vk] * m.c[c].re[p][k] + vim[p][vk] * m.c[c].im[p][k]) / 2.0;
			}
			double p1 = (vre[p][0] * m.c[c].re[p][0] + vim[p][0] * m.c[c].im[p][0]) / 2.0;
			double q1 = (vim[p][0] * m.c[c].re[p][0] - vre[p][0] * m.c[c].im[p][0]) / 2.0;
			double s1 = hypot(vre[p][0], vim[p][0]) / SQRT2 * tc->i1_rms[p];
			tc->p[p] = pw;
			tc->q[p] = q1;
			tc->s[p] = sqrt(u2p) * tc->i_rms[p];
			tc->pf[p] = tc->s[p] > 0.0 ? pw / tc->s[p] : 0.0;
			tc->dpf[p] = s1 > 0.0 ? p1 / s1 : 0.0;
			tc->p_total += tc->p[p];
			tc->q_total += tc->q[p];
			tc->s_total += tc->s[p];
		}
		tc->pf_total = tc->s_total > 0.0 ? tc->p_total / tc->s_total : 0.0;
		tc->temperature_c = aux_temperature(&sc->circuit[c], m.c[c].pct);
		tc->residual_ma = aux_residual(s, &sc->circuit[c], sample);
	}
	t->inputs = aux_inputs(s, sample);
}

void bm_sim_truth_now(const bm_sim *s, bm_sim_truth *t)
{
	bm_sim_truth_at(s, s->n, t);
}
