/*
 * metering.c — energy, tariffs, demand, max/min, statistics and monthly
 * freezes from measurement windows (see metering.h for the conventions).
 *
 * Invariants:
 *  - Energy counters only grow (import and export are separate registers)
 *    until they reach the rollover threshold, where they wrap (the excess is
 *    kept, so no energy is lost) and the circuit's rollover event counts up.
 *  - Local time = UTC + cfg.utc_offset_s; all calendar boundaries (tariff
 *    period starts, demand boundaries, freeze moments) are whole local
 *    seconds, so a window [start, end] is cut only at integer seconds and
 *    the parts' fractions add up to exactly 1 (the last part takes the rest).
 *  - The demand (sub-)interval in progress is either complete from its
 *    boundary (d_partial false) or flagged partial (after init off a
 *    boundary, an RTC jump or a configuration change) and then never
 *    reported as a completed demand.
 */
#include <math.h>
#include <string.h>

#include "bm/caltime.h"
#include "bm/metering.h"

#define MWH_PER_WS (1.0 / 3.6) /* 1 mWh = 3.6 W·s */
#define POWER_MAX 1e12         /* larger |P|, |Q|, |S| are taken as faults: no energy */
#define DAY 86400

_Static_assert(BM_Q_P1 + 3 == BM_Q_P && BM_Q_Q1 + 3 == BM_Q_Q && BM_Q_S1 + 3 == BM_Q_S,
               "per-phase powers must directly precede their total");

static const uint8_t mm_quantity[BM_MT_MM_COUNT] = {
#define BM_MT_MM_MAP(n) BM_Q_##n,
	BM_MT_MM_ITEMS(BM_MT_MM_MAP)
#undef BM_MT_MM_MAP
};

/* ---- configuration ---------------------------------------------------- */

void bm_metering_default(bm_metering_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->utc_offset_s = 0;
	cfg->rollover_wh = 1e12;
	cfg->tariff_mode = BM_MT_TARIFF_MANUAL;
	cfg->manual_tariff = 1;
	cfg->n_periods = 1;
	cfg->period[0].start_min = 0;
	cfg->period[0].tariff = 1;
	for (unsigned i = 1; i < BM_MT_PERIODS; i++)
		cfg->period[i].tariff = 1;
	cfg->demand_method = BM_MT_DEMAND_FIXED;
	cfg->demand_period_min = 15;
	cfg->mm_clear = BM_MT_CLEAR_NEVER;
	cfg->freeze_day = 1;
	cfg->freeze_hour = 0;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		cfg->load_threshold_a[c] = 0.01;
}

bm_err bm_metering_validate(const bm_metering_cfg *cfg, bm_cfg_issue *issue)
{
	if (!cfg)
		return bm_cfg_fail(issue, "metering", "missing", -1, -1);
	/* UTC-12 .. UTC+14 are the offsets in use worldwide. */
	if (cfg->utc_offset_s < -43200 || cfg->utc_offset_s > 50400)
		return bm_cfg_fail(issue, "utc_offset_s", "must be -43200..50400 s (UTC-12..UTC+14)", -1, -1);
	/* 9.2e15 Wh = 9.2e18 mWh stays below INT64_MAX with room for one window. */
	if (!(isfinite(cfg->rollover_wh) && cfg->rollover_wh >= 1e3 && cfg->rollover_wh <= 9.2e15))
		return bm_cfg_fail(issue, "rollover_wh", "must be 1e3..9.2e15 Wh", -1, -1);
	if ((unsigned)cfg->tariff_mode >= BM_MT_TARIFF_MODE_COUNT)
		return bm_cfg_fail(issue, "tariff_mode", "must be manual or rtc", -1, -1);
	if (cfg->manual_tariff < 1 || cfg->manual_tariff > BM_MT_TARIFFS)
		return bm_cfg_fail(issue, "manual_tariff", "must be 1..6", -1, -1);
	/* The RTC table is checked whole even in manual mode, so switching the
	 * mode never activates a table that was never valid. */
	if (cfg->n_periods < 1 || cfg->n_periods > BM_MT_PERIODS)
		return bm_cfg_fail(issue, "n_periods", "must be 1..6", -1, -1);
	for (int i = 0; i < cfg->n_periods; i++) {
		if (cfg->period[i].start_min > 1439)
			return bm_cfg_fail(issue, "period.start_min", "must be 0..1439 minutes after midnight", -1, i);
		if (cfg->period[i].tariff < 1 || cfg->period[i].tariff > BM_MT_TARIFFS)
			return bm_cfg_fail(issue, "period.tariff", "must be 1..6", -1, i);
		if (i > 0 && cfg->period[i].start_min <= cfg->period[i - 1].start_min)
			return bm_cfg_fail(issue, "period.start_min",
			            "start times must be strictly ascending (spec 5.3.2)", -1, i);
	}
	if ((unsigned)cfg->demand_method >= BM_MT_DEMAND_METHOD_COUNT)
		return bm_cfg_fail(issue, "demand_method", "must be fixed or sliding", -1, -1);
	if (cfg->demand_period_min < 1 || cfg->demand_period_min > BM_MT_SLIDE_MAX)
		return bm_cfg_fail(issue, "demand_period_min", "must be 1..60 minutes", -1, -1);
	if ((unsigned)cfg->mm_clear >= BM_MT_CLEAR_COUNT)
		return bm_cfg_fail(issue, "mm_clear", "must be never, daily or monthly", -1, -1);
	if (cfg->freeze_day < 1 || cfg->freeze_day > 28)
		return bm_cfg_fail(issue, "freeze_day", "must be 1..28 (every month has it)", -1, -1);
	if (cfg->freeze_hour > 23)
		return bm_cfg_fail(issue, "freeze_hour", "must be 0..23", -1, -1);
	for (int c = 0; c < BM_MAX_CIRCUITS; c++) {
		double v = cfg->load_threshold_a[c];
		if (!(isfinite(v) && v >= 0.0 && v <= 1e6))
			return bm_cfg_fail(issue, "load_threshold_a", "must be 0..1000000 A", c, -1);
	}
	return BM_OK;
}

/* ---- counters ---------------------------------------------------------- */

static void ctr_add(bm_mt_ctr *k, double x_mwh, int64_t roll, uint32_t *events)
{
	if (!(x_mwh > 0.0))
		return;
	k->rem += x_mwh;
	if (k->rem >= 1.0) {
		double w = floor(k->rem);
		k->mwh += (int64_t)w;
		k->rem -= w;
	}
	if (roll > 0 && k->mwh >= roll) {
		int64_t n = k->mwh / roll;
		k->mwh -= n * roll;
		if (events)
			*events += (uint32_t)n;
	}
}

static double ctr_wh(const bm_mt_ctr *k)
{
	return ((double)k->mwh + k->rem) / 1000.0;
}

/* ---- calendar helpers (local seconds) ----------------------------------- */

static int64_t local_of(const bm_metering *mt, int64_t unix_s)
{
	return unix_s + mt->cfg.utc_offset_s;
}

static unsigned tariff_at(const bm_metering_cfg *cfg, int64_t local)
{
	if (cfg->tariff_mode == BM_MT_TARIFF_MANUAL)
		return cfg->manual_tariff;
	int64_t sod = bm_caltime_floormod(local, DAY);
	unsigned idx = cfg->n_periods - 1u; /* before the first start: yesterday's last period */
	for (unsigned i = 0; i < cfg->n_periods; i++)
		if ((int64_t)cfg->period[i].start_min * 60 <= sod)
			idx = i;
	return cfg->period[idx].tariff;
}

static int64_t demand_step_s(const bm_metering_cfg *cfg)
{
	return cfg->demand_method == BM_MT_DEMAND_SLIDING ? 60 : (int64_t)cfg->demand_period_min * 60;
}

/* FIXED: multiples of the period since local midnight, and midnight itself
 * (a period that does not divide 24 h gets a short last interval).
 * SLIDING: whole local minutes. */
static bool is_demand_boundary(const bm_metering_cfg *cfg, int64_t local)
{
	return bm_caltime_floormod(bm_caltime_floormod(local, DAY), demand_step_s(cfg)) == 0;
}

static int64_t freeze_key_at(const bm_metering_cfg *cfg, int64_t local)
{
	bm_caltime t;
	bm_caltime_split(local, 0, &t);
	int64_t key = (int64_t)t.year * 12 + t.month - 1;
	if (t.day < cfg->freeze_day || (t.day == cfg->freeze_day && t.hour < cfg->freeze_hour))
		key--;
	return key;
}

static int64_t freeze_moment_local(const bm_metering_cfg *cfg, int64_t key)
{
	int64_t y = bm_caltime_floordiv(key, 12);
	unsigned m = (unsigned)(key - y * 12) + 1u;
	return bm_caltime_days_from_civil((int32_t)y, m, cfg->freeze_day) * DAY + (int64_t)cfg->freeze_hour * 3600;
}

/* Smallest boundary of any kind strictly after the whole local second x. */
static int64_t next_boundary(const bm_metering_cfg *cfg, int64_t x)
{
	int64_t sod = bm_caltime_floormod(x, DAY), day = x - sod;
	int64_t step = demand_step_s(cfg);
	int64_t b = day + (sod / step + 1) * step;
	if (b > day + DAY)
		b = day + DAY;
	if (cfg->tariff_mode == BM_MT_TARIFF_RTC) {
		int64_t tb = day + DAY + (int64_t)cfg->period[0].start_min * 60;
		for (unsigned i = 0; i < cfg->n_periods; i++) {
			int64_t s = day + (int64_t)cfg->period[i].start_min * 60;
			if (s > x) {
				tb = s;
				break;
			}
		}
		if (tb < b)
			b = tb;
	}
	int64_t fm = freeze_moment_local(cfg, freeze_key_at(cfg, x) + 1);
	return fm < b ? fm : b;
}

static int64_t mm_key_at(const bm_metering_cfg *cfg, int64_t local)
{
	if (cfg->mm_clear == BM_MT_CLEAR_DAILY)
		return bm_caltime_floordiv(local, DAY);
	if (cfg->mm_clear == BM_MT_CLEAR_MONTHLY) {
		bm_caltime t;
		bm_caltime_split(local, 0, &t);
		return (int64_t)t.year * 12 + t.month - 1;
	}
	return 0;
}

/* ---- demand ------------------------------------------------------------ */

/* Drops the (sub-)interval in progress and the sliding history; demand
 * restarts at the next boundary, or right now if `now` is one. */
static void demand_restart(bm_metering *mt, int64_t now_unix)
{
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		memset(mt->c[c].d_acc, 0, sizeof mt->c[c].d_acc);
		memset(mt->c[c].d_slide, 0, sizeof mt->c[c].d_slide);
	}
	memset(mt->d_slide_dur, 0, sizeof mt->d_slide_dur);
	mt->d_dur = 0.0;
	mt->d_slide_head = 0;
	mt->d_slide_n = 0;
	mt->d_partial = !is_demand_boundary(&mt->cfg, local_of(mt, now_unix));
}

static void demand_complete(bm_mt_circuit *cc, unsigned q, double value, int64_t at_unix)
{
	cc->d_last[q] = value;
	if (isnan(cc->d_max[q]) || value > cc->d_max[q]) {
		cc->d_max[q] = value;
		cc->d_max_unix[q] = at_unix;
	}
}

/* A demand boundary at at_unix: close the (sub-)interval in progress. */
static void demand_boundary(bm_metering *mt, int64_t at_unix)
{
	bool sliding = mt->cfg.demand_method == BM_MT_DEMAND_SLIDING;
	unsigned n = mt->cfg.demand_period_min;
	if (!mt->d_partial && mt->d_dur > 0.0) {
		if (!sliding) {
			for (unsigned c = 0; c < mt->n_circuits; c++)
				for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++)
					demand_complete(&mt->c[c], q, mt->c[c].d_acc[q] / mt->d_dur, at_unix);
		} else {
			unsigned h = mt->d_slide_head;
			mt->d_slide_dur[h] = mt->d_dur;
			for (unsigned c = 0; c < mt->n_circuits; c++)
				for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++)
					mt->c[c].d_slide[h][q] = mt->c[c].d_acc[q];
			mt->d_slide_head = (uint8_t)((h + 1u) % n);
			if (mt->d_slide_n < n)
				mt->d_slide_n++;
			if (mt->d_slide_n == n) {
				double dur = 0.0;
				for (unsigned i = 0; i < n; i++)
					dur += mt->d_slide_dur[i];
				for (unsigned c = 0; c < mt->n_circuits; c++)
					for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++) {
						double e = 0.0;
						for (unsigned i = 0; i < n; i++)
							e += mt->c[c].d_slide[i][q];
						demand_complete(&mt->c[c], q, e / dur, at_unix);
					}
			}
		}
	}
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		memset(mt->c[c].d_acc, 0, sizeof mt->c[c].d_acc);
	mt->d_dur = 0.0;
	mt->d_partial = false;
}

/* ---- monthly freeze ---------------------------------------------------- */

static void freeze(bm_metering *mt, int64_t key)
{
	bm_mt_month *m = &mt->months[mt->month_head];
	memset(m, 0, sizeof *m);
	int64_t y = bm_caltime_floordiv(key, 12);
	m->year = (int32_t)y;
	m->month = (uint8_t)(key - y * 12 + 1);
	m->freeze_unix = freeze_moment_local(&mt->cfg, key) - mt->cfg.utc_offset_s;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		double ep = 0.0, eq = 0.0;
		for (unsigned t = 0; t < BM_MT_TARIFFS; t++) {
			for (unsigned k = 0; k < BM_MT_TKIND_COUNT; k++)
				m->e_wh[c][t][k] = ctr_wh(&mt->c[c].month_e[t][k]);
			ep += m->e_wh[c][t][BM_MT_T_EP_IMP];
			eq += m->e_wh[c][t][BM_MT_T_EQ_IMP] + m->e_wh[c][t][BM_MT_T_EQ_EXP];
		}
		m->pf[c] = (ep > 0.0 || eq > 0.0) ? ep / sqrt(ep * ep + eq * eq) : NAN;
		memset(mt->c[c].month_e, 0, sizeof mt->c[c].month_e);
	}
	mt->month_head = (uint8_t)((mt->month_head + 1u) % BM_MT_MONTHS);
	if (mt->n_months < BM_MT_MONTHS)
		mt->n_months++;
	mt->freezes++;
	mt->freeze_key = key;
}

static void freeze_check(bm_metering *mt, int64_t local)
{
	int64_t key = freeze_key_at(&mt->cfg, local);
	if (key > mt->freeze_key)
		freeze(mt, key);
}

/* ---- init / config ----------------------------------------------------- */

static void clear_maxmin(bm_mt_circuit *cc)
{
	for (unsigned i = 0; i < BM_MT_MM_COUNT; i++) {
		cc->mm_max[i].value = NAN;
		cc->mm_max[i].unix_s = 0;
		cc->mm_min[i].value = NAN;
		cc->mm_min[i].unix_s = 0;
	}
}

static void clear_max_demand(bm_mt_circuit *cc)
{
	for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++) {
		cc->d_max[q] = NAN;
		cc->d_max_unix[q] = 0;
	}
}

static int64_t roll_mwh(const bm_metering_cfg *cfg)
{
	return (int64_t)llround(cfg->rollover_wh * 1000.0);
}

bm_err bm_metering_init(bm_metering *mt, const bm_metering_cfg *cfg, uint8_t n_circuits, int64_t rtc_unix,
                        bm_cfg_issue *issue)
{
	if (!mt)
		return BM_E_INVAL;
	if (n_circuits < 1 || n_circuits > BM_MAX_CIRCUITS)
		return bm_cfg_fail(issue, "n_circuits", "must be 1..4", -1, -1);
	bm_err e = bm_metering_validate(cfg, issue);
	if (e)
		return e;
	memset(mt, 0, sizeof *mt);
	mt->cfg = *cfg;
	mt->n_circuits = n_circuits;
	mt->rollover_mwh = roll_mwh(cfg);
	mt->t_s = rtc_unix;
	mt->t_f = 0.0;
	mt->last_rtc = rtc_unix;
	int64_t local = local_of(mt, rtc_unix);
	mt->tariff = (uint8_t)tariff_at(cfg, local);
	mt->mm_key = mm_key_at(cfg, local);
	mt->freeze_key = freeze_key_at(cfg, local);
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		clear_maxmin(&mt->c[c]);
		clear_max_demand(&mt->c[c]);
		for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++)
			mt->c[c].d_last[q] = NAN;
	}
	demand_restart(mt, rtc_unix);
	mt->ready = true;
	return BM_OK;
}

bm_err bm_metering_set_config(bm_metering *mt, const bm_metering_cfg *cfg, bm_cfg_issue *issue)
{
	if (!mt || !mt->ready)
		return BM_E_STATE;
	bm_err e = bm_metering_validate(cfg, issue);
	if (e)
		return e;
	bm_metering_cfg old = mt->cfg;
	mt->cfg = *cfg;
	mt->rollover_mwh = roll_mwh(cfg);
	int64_t local = local_of(mt, mt->t_s);
	if (old.utc_offset_s != cfg->utc_offset_s || old.demand_method != cfg->demand_method ||
	    old.demand_period_min != cfg->demand_period_min) {
		demand_restart(mt, mt->t_s);
		if (mt->t_f > 0.0) /* the present time is t_s + t_f: never on a boundary */
			mt->d_partial = true;
	}
	if (old.mm_clear != cfg->mm_clear || old.utc_offset_s != cfg->utc_offset_s)
		mt->mm_key = mm_key_at(cfg, local);
	mt->tariff = (uint8_t)tariff_at(cfg, local);
	return BM_OK;
}

/* ---- the window -------------------------------------------------------- */

/* Energies (mWh) of one window for one circuit's totals, for the tariff /
 * month split, and the powers for demand. */
typedef struct win_c {
	double t_mwh[BM_MT_TKIND_COUNT];
	double pqs[BM_MT_DQ_COUNT];
} win_c;

static double clean(double x)
{
	return (isfinite(x) && fabs(x) <= POWER_MAX) ? x : 0.0;
}

/* Adds fraction f of the window to the tariff in force, the month and the
 * demand (sub-)interval. */
static void attribute(bm_metering *mt, const win_c *w, double f, double dt_s, bool demand)
{
	if (!(f > 0.0))
		return;
	unsigned t = mt->tariff - 1u;
	for (unsigned c = 0; c < mt->n_circuits; c++) {
		bm_mt_circuit *cc = &mt->c[c];
		for (unsigned k = 0; k < BM_MT_TKIND_COUNT; k++) {
			ctr_add(&cc->t[t][k], w[c].t_mwh[k] * f, mt->rollover_mwh, &cc->rollovers);
			ctr_add(&cc->month_e[t][k], w[c].t_mwh[k] * f, 0, NULL);
		}
		if (demand)
			for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++)
				cc->d_acc[q] += w[c].pqs[q] * dt_s * f;
	}
	if (demand)
		mt->d_dur += dt_s * f;
}

static void boundary_events(bm_metering *mt, int64_t at_unix)
{
	int64_t local = local_of(mt, at_unix);
	mt->tariff = (uint8_t)tariff_at(&mt->cfg, local);
	if (is_demand_boundary(&mt->cfg, local))
		demand_boundary(mt, at_unix);
	freeze_check(mt, local);
}

static void energy_registers(bm_metering *mt, bm_mt_circuit *cc, const double *v, double dt_s)
{
	double k_mwh = dt_s * MWH_PER_WS;
	for (unsigned ph = 0; ph < BM_MT_PHASES; ph++) {
		double p = clean(v[BM_Q_P1 + ph]), q = clean(v[BM_Q_Q1 + ph]), s = clean(v[BM_Q_S1 + ph]);
		double e[BM_MT_EKIND_COUNT] = {0};
		e[p >= 0.0 ? BM_MT_EP_IMP : BM_MT_EP_EXP] = fabs(p) * k_mwh;
		unsigned quad = p >= 0.0 ? (q >= 0.0 ? BM_MT_EQ_Q1 : BM_MT_EQ_Q4) : (q >= 0.0 ? BM_MT_EQ_Q2 : BM_MT_EQ_Q3);
		e[quad] = fabs(q) * k_mwh;
		e[q >= 0.0 ? BM_MT_EQ_IMP : BM_MT_EQ_EXP] = fabs(q) * k_mwh;
		e[BM_MT_ES] = fabs(s) * k_mwh;
		for (unsigned k = 0; k < BM_MT_EKIND_COUNT; k++)
			ctr_add(&cc->e[ph][k], e[k], mt->rollover_mwh, &cc->rollovers);
	}
}

static void maxmin_update(bm_mt_circuit *cc, const double *v, int64_t rtc_unix)
{
	for (unsigned i = 0; i < BM_MT_MM_COUNT; i++) {
		double x = v[mm_quantity[i]];
		if (!isfinite(x))
			continue;
		if (isnan(cc->mm_max[i].value) || x > cc->mm_max[i].value) {
			cc->mm_max[i].value = x;
			cc->mm_max[i].unix_s = rtc_unix;
		}
		if (isnan(cc->mm_min[i].value) || x < cc->mm_min[i].value) {
			cc->mm_min[i].value = x;
			cc->mm_min[i].unix_s = rtc_unix;
		}
	}
}

bm_err bm_metering_window(bm_metering *mt, const bm_results *r, double dt_s, int64_t rtc_unix)
{
	if (!mt || !r)
		return BM_E_INVAL;
	if (!mt->ready)
		return BM_E_STATE;
	if (!(isfinite(dt_s) && dt_s > 0.0 && dt_s <= 3600.0) || r->n_circuits < mt->n_circuits)
		return BM_E_INVAL;

	win_c w[BM_MAX_CIRCUITS];
	double k_mwh = dt_s * MWH_PER_WS;
	for (unsigned c = 0; c < mt->n_circuits; c++) {
		const double *v = r->v[c];
		double p = clean(v[BM_Q_P]), q = clean(v[BM_Q_Q]), s = fabs(clean(v[BM_Q_S]));
		memset(&w[c], 0, sizeof w[c]);
		w[c].t_mwh[p >= 0.0 ? BM_MT_T_EP_IMP : BM_MT_T_EP_EXP] = fabs(p) * k_mwh;
		w[c].t_mwh[q >= 0.0 ? BM_MT_T_EQ_IMP : BM_MT_T_EQ_EXP] = fabs(q) * k_mwh;
		w[c].pqs[BM_MT_D_P] = p;
		w[c].pqs[BM_MT_D_Q] = q;
		w[c].pqs[BM_MT_D_S] = s;
		energy_registers(mt, &mt->c[c], v, dt_s);
	}

	bool jump = rtc_unix < mt->last_rtc || (double)(rtc_unix - mt->last_rtc) > dt_s + 2.0;
	if (jump) {
		/* The window lies before the new time: it closes the demand
		 * interval in progress uncounted; energy goes to the tariff and
		 * month in force at the new time. */
		mt->jumps++;
		int64_t local = local_of(mt, rtc_unix);
		freeze_check(mt, local);
		mt->tariff = (uint8_t)tariff_at(&mt->cfg, local);
		attribute(mt, w, 1.0, dt_s, false);
		demand_restart(mt, rtc_unix);
		mt->t_s = rtc_unix;
		mt->t_f = 0.0;
	} else {
		/* Continuous end = previous end + dt_s, kept within the RTC second. */
		int64_t es = mt->t_s;
		double ef = mt->t_f + dt_s;
		double wh = floor(ef);
		es += (int64_t)wh;
		ef -= wh;
		if (es < rtc_unix) {
			es = rtc_unix;
			ef = 0.0;
		} else if (es > rtc_unix + 1 || (es == rtc_unix + 1 && ef > 0.0)) {
			es = rtc_unix + 1;
			ef = 0.0;
		}
		int64_t base = mt->t_s;
		double cur = mt->t_f, end = (double)(es - base) + ef, total = end - cur, used = 0.0;
		while (total > 0.0) {
			int64_t at = base + (int64_t)floor(cur);
			int64_t b = next_boundary(&mt->cfg, local_of(mt, at)) - mt->cfg.utc_offset_s;
			double boff = (double)(b - base);
			if (boff > end)
				break;
			double f = (boff - cur) / total;
			attribute(mt, w, f, dt_s, true);
			used += f;
			cur = boff;
			boundary_events(mt, b);
		}
		attribute(mt, w, total > 0.0 ? 1.0 - used : 1.0, dt_s, true);
		mt->t_s = es;
		mt->t_f = ef;
	}
	mt->last_rtc = rtc_unix;

	/* statistics */
	mt->run_s += dt_s;
	for (unsigned c = 0; c < mt->n_circuits; c++) {
		double imax = -1.0;
		for (unsigned p = 0; p < 3; p++) {
			double i = r->v[c][BM_Q_I1 + p];
			if (isfinite(i) && i > imax)
				imax = i;
		}
		if (imax > mt->cfg.load_threshold_a[c])
			mt->c[c].load_s += dt_s;
	}

	/* max/min: periodic clearing when the local day / month changed (either
	 * way), then this window's values. A window ending exactly at midnight
	 * lies before it: the day is that of its last instant. */
	if (mt->cfg.mm_clear != BM_MT_CLEAR_NEVER) {
		int64_t last_s = mt->t_f > 0.0 ? mt->t_s : mt->t_s - 1;
		int64_t key = mm_key_at(&mt->cfg, local_of(mt, last_s));
		if (key != mt->mm_key) {
			for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
				clear_maxmin(&mt->c[c]);
			mt->mm_key = key;
		}
	}
	for (unsigned c = 0; c < mt->n_circuits; c++)
		maxmin_update(&mt->c[c], r->v[c], rtc_unix);
	return BM_OK;
}

/* ---- resets ------------------------------------------------------------ */

void bm_metering_reset_energy(bm_metering *mt)
{
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		memset(mt->c[c].e, 0, sizeof mt->c[c].e);
}

void bm_metering_reset_tariff_energy(bm_metering *mt)
{
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		memset(mt->c[c].t, 0, sizeof mt->c[c].t);
		memset(mt->c[c].month_e, 0, sizeof mt->c[c].month_e);
	}
}

void bm_metering_reset_max_demand(bm_metering *mt)
{
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		clear_max_demand(&mt->c[c]);
}

void bm_metering_reset_maxmin(bm_metering *mt)
{
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		clear_maxmin(&mt->c[c]);
}

/* ---- getters ----------------------------------------------------------- */

double bm_metering_energy_wh(const bm_metering *mt, unsigned c, unsigned phase, bm_mt_ekind k)
{
	if (!mt || c >= mt->n_circuits || phase >= BM_MT_PHASES || (unsigned)k >= BM_MT_EKIND_COUNT)
		return NAN;
	return ctr_wh(&mt->c[c].e[phase][k]);
}

int64_t bm_metering_energy_wh_i64(const bm_metering *mt, unsigned c, unsigned phase, bm_mt_ekind k)
{
	if (!mt || c >= mt->n_circuits || phase >= BM_MT_PHASES || (unsigned)k >= BM_MT_EKIND_COUNT)
		return -1;
	return mt->c[c].e[phase][k].mwh / 1000;
}

double bm_metering_tariff_wh(const bm_metering *mt, unsigned c, unsigned tariff, bm_mt_tkind k)
{
	if (!mt || c >= mt->n_circuits || tariff < 1 || tariff > BM_MT_TARIFFS || (unsigned)k >= BM_MT_TKIND_COUNT)
		return NAN;
	return ctr_wh(&mt->c[c].t[tariff - 1][k]);
}

int64_t bm_metering_tariff_wh_i64(const bm_metering *mt, unsigned c, unsigned tariff, bm_mt_tkind k)
{
	if (!mt || c >= mt->n_circuits || tariff < 1 || tariff > BM_MT_TARIFFS || (unsigned)k >= BM_MT_TKIND_COUNT)
		return -1;
	return mt->c[c].t[tariff - 1][k].mwh / 1000;
}

unsigned bm_metering_tariff(const bm_metering *mt)
{
	return mt ? mt->tariff : 0;
}

bm_err bm_metering_demand(const bm_metering *mt, unsigned c, bm_mt_dq q, bm_mt_demand *out)
{
	if (!mt || !out || c >= mt->n_circuits || (unsigned)q >= BM_MT_DQ_COUNT)
		return BM_E_INVAL;
	const bm_mt_circuit *cc = &mt->c[c];
	double e = cc->d_acc[q], dur = mt->d_dur;
	if (mt->cfg.demand_method == BM_MT_DEMAND_SLIDING) {
		/* the last period-1 completed minutes plus the one in progress */
		unsigned n = mt->cfg.demand_period_min, take = mt->d_slide_n < n - 1u ? mt->d_slide_n : n - 1u;
		for (unsigned i = 0; i < take; i++) {
			unsigned slot = (mt->d_slide_head + n - 1u - i) % n;
			e += cc->d_slide[slot][q];
			dur += mt->d_slide_dur[slot];
		}
	}
	out->present = dur > 0.0 ? e / dur : NAN;
	out->last = cc->d_last[q];
	out->max = cc->d_max[q];
	out->max_unix = cc->d_max_unix[q];
	return BM_OK;
}

bm_err bm_metering_maxmin(const bm_metering *mt, unsigned c, bm_mt_mm item, bm_mt_extreme *max,
                          bm_mt_extreme *min)
{
	if (!mt || c >= mt->n_circuits || (unsigned)item >= BM_MT_MM_COUNT)
		return BM_E_INVAL;
	const bm_mt_circuit *cc = &mt->c[c];
	if (max)
		*max = cc->mm_max[item];
	if (min)
		*min = cc->mm_min[item];
	return isnan(cc->mm_max[item].value) ? BM_E_NOTFOUND : BM_OK;
}

double bm_metering_run_time_s(const bm_metering *mt)
{
	return mt ? mt->run_s : NAN;
}

double bm_metering_load_time_s(const bm_metering *mt, unsigned c)
{
	return (mt && c < mt->n_circuits) ? mt->c[c].load_s : NAN;
}

bm_err bm_metering_month(const bm_metering *mt, unsigned age, bm_mt_month *out)
{
	if (!mt || !out)
		return BM_E_INVAL;
	if (age >= mt->n_months)
		return BM_E_NOTFOUND;
	*out = mt->months[(mt->month_head + 2u * BM_MT_MONTHS - 1u - age) % BM_MT_MONTHS];
	return BM_OK;
}

uint32_t bm_metering_take_rollovers(bm_metering *mt, unsigned c)
{
	if (!mt || c >= mt->n_circuits)
		return 0;
	uint32_t n = mt->c[c].rollovers;
	mt->c[c].rollovers = 0;
	return n;
}

uint32_t bm_metering_take_freezes(bm_metering *mt)
{
	if (!mt)
		return 0;
	uint32_t n = mt->freezes;
	mt->freezes = 0;
	return n;
}

void bm_metering_get_counters(const bm_metering *mt, bm_mt_counters *out)
{
	memset(out, 0, sizeof *out);
	out->n_circuits = mt->n_circuits;
	for (unsigned c = 0; c < mt->n_circuits; c++) {
		const bm_mt_circuit *cc = &mt->c[c];
		for (unsigned p = 0; p < BM_MT_PHASES; p++)
			for (unsigned k = 0; k < BM_MT_EKIND_COUNT; k++)
				out->e[c][p][k] = cc->e[p][k].mwh;
		for (unsigned t = 0; t < BM_MT_TARIFFS; t++)
			for (unsigned k = 0; k < BM_MT_TKIND_COUNT; k++) {
				out->t[c][t][k] = cc->t[t][k].mwh;
				out->month_e[c][t][k] = cc->month_e[t][k].mwh;
			}
		out->load_s[c] = cc->load_s;
	}
	out->run_s = mt->run_s;
}

bm_err bm_metering_put_counters(bm_metering *mt, const bm_mt_counters *in)
{
	if (in->n_circuits != mt->n_circuits || !(in->run_s >= 0.0))
		return BM_E_INVAL;
	for (unsigned c = 0; c < mt->n_circuits; c++) {
		for (unsigned p = 0; p < BM_MT_PHASES; p++)
			for (unsigned k = 0; k < BM_MT_EKIND_COUNT; k++)
				if (in->e[c][p][k] < 0)
					return BM_E_INVAL;
		for (unsigned t = 0; t < BM_MT_TARIFFS; t++)
			for (unsigned k = 0; k < BM_MT_TKIND_COUNT; k++)
				if (in->t[c][t][k] < 0 || in->month_e[c][t][k] < 0)
					return BM_E_INVAL;
	}
	/* all checked: now change (a rejected record changes nothing) */
	for (unsigned c = 0; c < mt->n_circuits; c++) {
		bm_mt_circuit *cc = &mt->c[c];
		for (unsigned p = 0; p < BM_MT_PHASES; p++)
			for (unsigned k = 0; k < BM_MT_EKIND_COUNT; k++)
				cc->e[p][k] = (bm_mt_ctr){in->e[c][p][k], 0.0};
		for (unsigned t = 0; t < BM_MT_TARIFFS; t++)
			for (unsigned k = 0; k < BM_MT_TKIND_COUNT; k++) {
				cc->t[t][k] = (bm_mt_ctr){in->t[c][t][k], 0.0};
				cc->month_e[t][k] = (bm_mt_ctr){in->month_e[c][t][k], 0.0};
			}
		cc->load_s = in->load_s[c];
	}
	mt->run_s = in->run_s;
	return BM_OK;
}
