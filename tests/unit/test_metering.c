/*
 * test_metering.c — metering core (issue #4: energy, tariffs, demand,
 * max/min, statistics, monthly freezes) and calendar arithmetic.
 *
 * Every expected figure is computed here in closed form (or by a plain
 * summation over the known piecewise-constant load profile), never by
 * calling the code under test. Windows are synthetic bm_results whose
 * unused quantities are NaN, as a wiring that lacks them reports.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bm/caltime.h"
#include "bm/metering.h"

#define REL_CLOSE(got, want, rel)                                                                      \
	do {                                                                                                \
		double g_ = (got), w_ = (want);                                                                 \
		if (!(fabs(g_ - w_) <= (rel) * fabs(w_) + 1e-9)) {                                              \
			print_error("%s = %.12g, want %.12g (rel %.3g)\n", #got, g_, w_, (double)(rel));            \
			fail();                                                                                     \
		}                                                                                               \
	} while (0)

static bm_results R; /* large: keep it off the stack */
static bm_metering MT;

static void res_clear(uint8_t n)
{
	memset(&R, 0, sizeof R);
	R.n_circuits = n;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		for (unsigned q = 0; q < BM_Q_COUNT; q++)
			R.v[c][q] = NAN;
}

/* Balanced powers: each phase a third of the total. */
static void set_pqs(unsigned c, double p, double q, double s)
{
	for (unsigned k = 0; k < 3; k++) {
		R.v[c][BM_Q_P1 + k] = p / 3.0;
		R.v[c][BM_Q_Q1 + k] = q / 3.0;
		R.v[c][BM_Q_S1 + k] = s / 3.0;
	}
	R.v[c][BM_Q_P] = p;
	R.v[c][BM_Q_Q] = q;
	R.v[c][BM_Q_S] = s;
}

static void set_current(unsigned c, double i)
{
	R.v[c][BM_Q_I1] = R.v[c][BM_Q_I2] = R.v[c][BM_Q_I3] = R.v[c][BM_Q_Iavg] = i;
}

/* ---- calendar ------------------------------------------------------------ */

static void test_caltime_table(void **state)
{
	(void)state;
	static const struct {
		int64_t t;
		int y, m, d, hh, mm, ss, wd;
	} k[] = {
		{0, 1970, 1, 1, 0, 0, 0, 4},
		{-1, 1969, 12, 31, 23, 59, 59, 3},
		{946684800, 2000, 1, 1, 0, 0, 0, 6},
		{951782400, 2000, 2, 29, 0, 0, 0, 2},
		{951868800, 2000, 3, 1, 0, 0, 0, 3},
		{1456704000, 2016, 2, 29, 0, 0, 0, 1},
		{1709164800, 2024, 2, 29, 0, 0, 0, 4},
		{1767225600, 2026, 1, 1, 0, 0, 0, 4},
		{2147483647, 2038, 1, 19, 3, 14, 7, 2},
		{-2208988800, 1900, 1, 1, 0, 0, 0, 1},
		{4107542400, 2100, 3, 1, 0, 0, 0, 1},
		{13574563200, 2400, 2, 29, 0, 0, 0, 2},
		{-11670912000, 1600, 3, 1, 0, 0, 0, 3},
	};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
		bm_caltime t;
		bm_caltime_split(k[i].t, 0, &t);
		assert_int_equal(t.year, k[i].y);
		assert_int_equal(t.month, k[i].m);
		assert_int_equal(t.day, k[i].d);
		assert_int_equal(t.hour, k[i].hh);
		assert_int_equal(t.minute, k[i].mm);
		assert_int_equal(t.second, k[i].ss);
		assert_int_equal(t.weekday, k[i].wd);
		int64_t back = 0;
		assert_int_equal(bm_caltime_join(&t, 0, &back), BM_OK);
		assert_true(back == k[i].t);
	}
	/* offsets: 2026-01-01T00:00Z is 01:00 at UTC+1 and 23:00 on 31 Dec at UTC-1 */
	bm_caltime t;
	bm_caltime_split(1767225600, 3600, &t);
	assert_int_equal(t.year, 2026);
	assert_int_equal(t.hour, 1);
	bm_caltime_split(1767225600, -3600, &t);
	assert_int_equal(t.year, 2025);
	assert_int_equal(t.month, 12);
	assert_int_equal(t.day, 31);
	assert_int_equal(t.hour, 23);
	int64_t u = 0;
	assert_int_equal(bm_caltime_join(&t, -3600, &u), BM_OK);
	assert_true(u == 1767225600);
	/* invalid fields */
	bm_caltime bad = {2025, 2, 29, 0, 0, 0, 0};
	assert_int_equal(bm_caltime_join(&bad, 0, &u), BM_E_INVAL);
	bad = (bm_caltime){2024, 13, 1, 0, 0, 0, 0};
	assert_int_equal(bm_caltime_join(&bad, 0, &u), BM_E_INVAL);
	bad = (bm_caltime){2024, 2, 29, 24, 0, 0, 0};
	assert_int_equal(bm_caltime_join(&bad, 0, &u), BM_E_INVAL);
}

/* Walks every day from 1600-01-01 to 2400-12-31 with a naive calendar of its
 * own and checks split / join / days on each (and a time of day). */
static void test_caltime_walk(void **state)
{
	(void)state;
	static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t days = -11670912000 / 86400 - 31 - 29; /* 1600-03-01 minus Jan, Feb (leap) */
	int wd = (int)(((days + 4) % 7 + 7) % 7);
	for (int y = 1600; y <= 2400; y++) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (int m = 1; m <= 12; m++) {
			int n = md[m - 1] + (m == 2 && leap);
			assert_int_equal((int)bm_caltime_month_days(y, (unsigned)m), n);
			for (int d = 1; d <= n; d++) {
				assert_true(bm_caltime_days_from_civil(y, (unsigned)m, (unsigned)d) == days);
				int64_t t = days * 86400 + 13 * 3600 + 7 * 60 + 42;
				bm_caltime c;
				bm_caltime_split(t - 19800, 19800, &c); /* UTC+5:30 */
				if (c.year != y || c.month != m || c.day != d || c.hour != 13 || c.minute != 7 ||
				    c.second != 42 || c.weekday != wd) {
					print_error("%d-%d-%d: split gave %d-%d-%d wd %d\n", y, m, d, c.year, c.month, c.day,
					            c.weekday);
					fail();
				}
				int64_t back;
				assert_int_equal(bm_caltime_join(&c, 19800, &back), BM_OK);
				assert_true(back == t - 19800);
				days++;
				wd = (wd + 1) % 7;
			}
		}
	}
}

/* ---- configuration ---------------------------------------------------------- */

static void test_validate(void **state)
{
	(void)state;
	bm_metering_cfg cfg, bad;
	bm_cfg_issue is;
	bm_metering_default(&cfg);
	assert_int_equal(bm_metering_validate(&cfg, &is), BM_OK);
	cfg.tariff_mode = BM_MT_TARIFF_RTC;
	cfg.n_periods = 3;
	cfg.period[0] = (bm_mt_period){0, 1};
	cfg.period[1] = (bm_mt_period){480, 2};
	cfg.period[2] = (bm_mt_period){1320, 3};
	assert_int_equal(bm_metering_validate(&cfg, &is), BM_OK);
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, 1767225600, &is), BM_OK);

	/* non-ascending (equal) start */
	bad = cfg;
	bad.period[2].start_min = 480;
	memset(&is, 0, sizeof is);
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	assert_string_equal(is.field, "period.start_min");
	assert_int_equal(is.input, 2);
	assert_non_null(strstr(is.reason, "ascending"));
	/* descending */
	bad = cfg;
	bad.period[1].start_min = 1400;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	assert_int_equal(is.input, 2);
	/* out of range start */
	bad = cfg;
	bad.period[2].start_min = 1440;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	assert_string_equal(is.field, "period.start_min");
	assert_int_equal(is.input, 2);
	/* bad tariff numbers */
	bad = cfg;
	bad.period[1].tariff = 7;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	assert_string_equal(is.field, "period.tariff");
	assert_int_equal(is.input, 1);
	bad = cfg;
	bad.period[0].tariff = 0;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.n_periods = 7;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.manual_tariff = 0;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_E_INVAL);
	assert_string_equal(is.field, "manual_tariff");
	/* others */
	bad = cfg;
	bad.demand_period_min = 61;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.demand_period_min = 0;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.freeze_day = 29;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.freeze_hour = 24;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.rollover_wh = 999.0;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	bad.rollover_wh = NAN;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	bad = cfg;
	bad.load_threshold_a[2] = -1.0;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	assert_int_equal(is.circuit, 2);
	bad = cfg;
	bad.utc_offset_s = 15 * 3600;
	assert_int_equal(bm_metering_validate(&bad, &is), BM_E_INVAL);
	assert_int_equal(bm_metering_validate(NULL, &is), BM_E_INVAL);
	/* every rejection left the old table in place */
	assert_memory_equal(&MT.cfg, &cfg, sizeof cfg);
	/* a good change is taken */
	bad = cfg;
	bad.period[1].tariff = 6;
	assert_int_equal(bm_metering_set_config(&MT, &bad, &is), BM_OK);
	assert_int_equal(MT.cfg.period[1].tariff, 6);
	/* bad init arguments */
	assert_int_equal(bm_metering_init(&MT, &cfg, 0, 0, NULL), BM_E_INVAL);
	assert_int_equal(bm_metering_init(&MT, &cfg, BM_MAX_CIRCUITS + 1, 0, NULL), BM_E_INVAL);
	/* window argument checks */
	assert_int_equal(bm_metering_init(&MT, &cfg, 2, 0, NULL), BM_OK);
	res_clear(2);
	assert_int_equal(bm_metering_window(&MT, &R, 0.0, 0), BM_E_INVAL);
	assert_int_equal(bm_metering_window(&MT, &R, NAN, 0), BM_E_INVAL);
	assert_int_equal(bm_metering_window(&MT, &R, 3601.0, 0), BM_E_INVAL);
	res_clear(1);
	assert_int_equal(bm_metering_window(&MT, &R, 1.0, 1), BM_E_INVAL);
	memset(&MT, 0, sizeof MT);
	res_clear(2);
	assert_int_equal(bm_metering_window(&MT, &R, 1.0, 1), BM_E_STATE);
}

/* ---- energy ------------------------------------------------------------------ */

static void test_quadrants(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, 0, NULL), BM_OK);
	/* one hour each: Wh = W */
	static const double pq[4][2] = {{300, 60}, {-600, 90}, {-900, -120}, {1200, -150}};
	int64_t t = 0;
	for (unsigned i = 0; i < 4; i++) {
		res_clear(1);
		double s = hypot(pq[i][0], pq[i][1]);
		set_pqs(0, pq[i][0], pq[i][1], s);
		t += 3600;
		assert_int_equal(bm_metering_window(&MT, &R, 3600.0, t), BM_OK);
	}
	for (unsigned ph = 0; ph < BM_MT_PHASES; ph++) {
		double k = ph == BM_MT_TOTAL ? 1.0 : 1.0 / 3.0;
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EP_IMP), k * (300 + 1200), 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EP_EXP), k * (600 + 900), 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EQ_Q1), k * 60, 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EQ_Q2), k * 90, 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EQ_Q3), k * 120, 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EQ_Q4), k * 150, 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EQ_IMP), k * (60 + 90), 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_EQ_EXP), k * (120 + 150), 1e-12);
		REL_CLOSE(bm_metering_energy_wh(&MT, 0, ph, BM_MT_ES),
		          k * (hypot(300, 60) + hypot(600, 90) + hypot(900, 120) + hypot(1200, 150)), 1e-12);
	}
	assert_true(bm_metering_energy_wh_i64(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP) == 1500);
	assert_true(bm_metering_energy_wh_i64(&MT, 0, 0, BM_MT_EP_IMP) == 500);
	/* tariff registers (manual tariff 1) get the circuit totals */
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), 1500, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_EXP), 1500, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EQ_IMP), 150, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EQ_EXP), 270, 1e-12);
	assert_true(isnan(bm_metering_energy_wh(&MT, 1, 0, BM_MT_EP_IMP)));
	assert_true(isnan(bm_metering_tariff_wh(&MT, 0, 7, BM_MT_T_EP_IMP)));
	/* reset */
	bm_metering_reset_energy(&MT);
	assert_true(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP) == 0.0);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), 1500, 1e-12);
	bm_metering_reset_tariff_energy(&MT);
	assert_true(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP) == 0.0);
}

static void test_nan_ignored(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, 1000, NULL), BM_OK);
	/* 1P2W-like: only phase 1 and totals; U12, I2, P2... NaN */
	res_clear(1);
	R.v[0][BM_Q_P1] = R.v[0][BM_Q_P] = 720.0;
	R.v[0][BM_Q_U1] = 230.0;
	R.v[0][BM_Q_I1] = 3.0;
	R.v[0][BM_Q_F] = 50.0;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, 1010), BM_OK);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, 0, BM_MT_EP_IMP), 2.0, 1e-12);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP), 2.0, 1e-12);
	assert_true(bm_metering_energy_wh(&MT, 0, 1, BM_MT_EP_IMP) == 0.0);
	assert_true(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_ES) == 0.0);
	bm_mt_extreme mx, mn;
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U1, &mx, &mn), BM_OK);
	assert_true(mx.value == 230.0 && mn.value == 230.0 && mx.unix_s == 1010);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U12, &mx, &mn), BM_E_NOTFOUND);
	assert_true(isnan(mx.value));
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_P2, &mx, &mn), BM_E_NOTFOUND);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_F, &mx, &mn), BM_OK);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_COUNT, &mx, &mn), BM_E_INVAL);
	/* a later window with NaN U1 keeps the old extremes */
	res_clear(1);
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, 1020), BM_OK);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U1, &mx, &mn), BM_OK);
	assert_true(mx.value == 230.0 && mx.unix_s == 1010);
	REL_CLOSE(bm_metering_load_time_s(&MT, 0), 10.0, 1e-12); /* only the first had current */
	REL_CLOSE(bm_metering_run_time_s(&MT), 20.0, 1e-12);
}

static void test_rollover(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.rollover_wh = 1000.0;
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, 0, NULL), BM_OK);
	res_clear(1);
	set_pqs(0, 1000.0, 0.0, 0.0);
	assert_int_equal(bm_metering_window(&MT, &R, 3600.0, 3600), BM_OK);
	/* total EP and T1 EP reach 1000 Wh: both wrap to 0 (phases hold 333.3) */
	assert_true(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP) == 0.0);
	assert_true(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP) == 0.0);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, 0, BM_MT_EP_IMP), 1000.0 / 3.0, 1e-12);
	assert_int_equal(bm_metering_take_rollovers(&MT, 0), 2);
	assert_int_equal(bm_metering_take_rollovers(&MT, 0), 0);
	res_clear(1);
	set_pqs(0, 600.0, 0.0, 0.0);
	assert_int_equal(bm_metering_window(&MT, &R, 3600.0, 7200), BM_OK);
	assert_int_equal(bm_metering_take_rollovers(&MT, 0), 0);
	assert_int_equal(bm_metering_window(&MT, &R, 3600.0, 10800), BM_OK);
	/* 1200 Wh: wraps, the 200 Wh excess kept; phases at 1000/3 + 400 = 733.3 */
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP), 200.0, 1e-12);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, 0, BM_MT_EP_IMP), 1000.0 / 3.0 + 400.0, 1e-12);
	assert_int_equal(bm_metering_take_rollovers(&MT, 0), 2);
	res_clear(1);
	set_pqs(0, 1000.0, 0.0, 0.0);
	assert_int_equal(bm_metering_window(&MT, &R, 3600.0, 14400), BM_OK);
	/* phase 1: 733.3 + 333.3 = 1066.7 -> 66.7, all three phases wrap */
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, 1, BM_MT_EP_IMP), 2000.0 / 3.0 + 400.0 - 1000.0, 1e-9);
	assert_int_equal(bm_metering_take_rollovers(&MT, 0), 3 + 1 + 1);
}

/* One circuit, constant load: a year of 60-s windows and 1e6 windows of
 * 0.2 s, against P·t within 0.001 %. */
static void test_year_accuracy(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	const double p = 1234.5678, q = -321.125, s = hypot(p, q);
	const int64_t t0 = 1767225600;
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t0, NULL), BM_OK);
	res_clear(1);
	set_pqs(0, p, q, s);
	for (int64_t k = 1; k <= 525600; k++)
		assert_int_equal(bm_metering_window(&MT, &R, 60.0, t0 + 60 * k), BM_OK);
	double hours = 525600.0 / 60.0;
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP), p * hours, 1e-5);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EQ_Q4), -q * hours, 1e-5);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_ES), s * hours, 1e-5);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, 2, BM_MT_EP_IMP), p / 3.0 * hours, 1e-5);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), p * hours, 1e-5);
	/* the int64 Wh register is the floor of the exact value (within 1 Wh) */
	assert_true(llabs(bm_metering_energy_wh_i64(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP) - (int64_t)floor(p * hours)) <= 1);
	REL_CLOSE(bm_metering_run_time_s(&MT), 525600.0 * 60.0, 1e-12);

	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t0, NULL), BM_OK);
	for (int64_t k = 1; k <= 1000000; k++)
		assert_int_equal(bm_metering_window(&MT, &R, 0.2, t0 + k / 5), BM_OK);
	hours = 1e6 * 0.2 / 3600.0;
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP), p * hours, 1e-5);
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EQ_EXP), -q * hours, 1e-5);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), p * hours, 1e-5);
	assert_int_equal(MT.jumps, 0);
}

/* ---- tariffs ------------------------------------------------------------------ */

static void test_manual_tariff(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.manual_tariff = 3;
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, 0, NULL), BM_OK);
	assert_int_equal(bm_metering_tariff(&MT), 3);
	res_clear(1);
	set_pqs(0, 360.0, -36.0, 400.0);
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, 10), BM_OK); /* 1 Wh */
	cfg.manual_tariff = 5;
	assert_int_equal(bm_metering_set_config(&MT, &cfg, NULL), BM_OK);
	assert_int_equal(bm_metering_tariff(&MT), 5);
	assert_int_equal(bm_metering_window(&MT, &R, 20.0, 30), BM_OK); /* 2 Wh */
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 3, BM_MT_T_EP_IMP), 1.0, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 3, BM_MT_T_EQ_EXP), 0.1, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 5, BM_MT_T_EP_IMP), 2.0, 1e-12);
	for (unsigned t = 1; t <= 6; t++)
		if (t != 3 && t != 5)
			assert_true(bm_metering_tariff_wh(&MT, 0, t, BM_MT_T_EP_IMP) == 0.0);
}

/* A window straddling a tariff switch (08:00) that is also a 15-min demand
 * boundary is split by time; and 0.3-s windows place a switch to the
 * sample-clock fraction inside the RTC second. */
static void test_straddle(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.tariff_mode = BM_MT_TARIFF_RTC;
	cfg.n_periods = 2;
	cfg.period[0] = (bm_mt_period){0, 1};
	cfg.period[1] = (bm_mt_period){480, 2};
	cfg.utc_offset_s = 7200;
	const int64_t day = 1767225600 - 7200; /* 2026-01-01 00:00 local (UTC+2) */
	const int64_t t0 = day + 7 * 3600 + 45 * 60; /* 07:45, a demand boundary */
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t0, NULL), BM_OK);
	assert_int_equal(bm_metering_tariff(&MT), 1);
	res_clear(1);
	int64_t t = t0;
	for (int k = 0; k < 128; k++) { /* 896 s at 1000 W */
		set_pqs(0, 1000.0, 0.0, 1000.0);
		t += 7;
		assert_int_equal(bm_metering_window(&MT, &R, 7.0, t), BM_OK);
	}
	set_pqs(0, 2000.0, 500.0, 3000.0); /* 07:59:56 .. 08:00:03: 4 s before, 3 s after */
	t += 7;
	assert_int_equal(bm_metering_window(&MT, &R, 7.0, t), BM_OK);
	assert_int_equal(bm_metering_tariff(&MT), 2);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), (896.0 * 1000 + 4 * 2000) / 3600.0, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 2, BM_MT_T_EP_IMP), 3.0 * 2000 / 3600.0, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EQ_IMP), 4.0 * 500 / 3600.0, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 2, BM_MT_T_EQ_IMP), 3.0 * 500 / 3600.0, 1e-12);
	bm_mt_demand d;
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, (896.0 * 1000 + 4 * 2000) / 900.0, 1e-12);
	REL_CLOSE(d.max, d.last, 0);
	assert_true(d.max_unix == day + 8 * 3600);
	REL_CLOSE(d.present, 2000.0, 1e-12); /* 3 s of the new interval */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_S, &d), BM_OK);
	REL_CLOSE(d.last, (896.0 * 1000 + 4 * 3000) / 900.0, 1e-12);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_Q, &d), BM_OK);
	REL_CLOSE(d.last, 4.0 * 500 / 900.0, 1e-12);

	/* 0.3-s windows from 07:59:59 local: the switch lies 0.1 s into the
	 * fourth window (the RTC reads whole seconds: floor of the true end). */
	const int64_t t1 = day + 8 * 3600 - 1;
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t1, NULL), BM_OK);
	res_clear(1);
	set_pqs(0, 3600.0, 0.0, 3600.0);
	for (int k = 1; k <= 20; k++)
		assert_int_equal(bm_metering_window(&MT, &R, 0.3, t1 + (3 * k) / 10), BM_OK);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), 1.0, 1e-9);       /* 1 s at 3600 W */
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 2, BM_MT_T_EP_IMP), 5.0, 1e-9);       /* 5 s */
	assert_int_equal(MT.jumps, 0);
}

/* ---- a simulated month -------------------------------------------------------- */

/* Load profile by local hour h and day d (0-based): circuit 0 imports
 * P = 1000 + 100 h W with Q = +200 var; circuit 1 exports 500 W with
 * Q = -100 var. U1 = 220 + d V on circuit 0. */
static double prof_p0(int h) { return 1000.0 + 100.0 * h; }

/* The test's own tariff table (same as the configuration below). */
static int tariff_of_minute(int m)
{
	if (m < 7 * 60)
		return 1;
	if (m < 11 * 60 + 30)
		return 2;
	if (m < 17 * 60)
		return 3;
	if (m < 21 * 60)
		return 4;
	return 5;
}

static void test_month(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.utc_offset_s = 3600;
	cfg.tariff_mode = BM_MT_TARIFF_RTC;
	cfg.n_periods = 5;
	cfg.period[0] = (bm_mt_period){0, 1};
	cfg.period[1] = (bm_mt_period){7 * 60, 2};
	cfg.period[2] = (bm_mt_period){11 * 60 + 30, 3};
	cfg.period[3] = (bm_mt_period){17 * 60, 4};
	cfg.period[4] = (bm_mt_period){21 * 60, 5};
	cfg.demand_method = BM_MT_DEMAND_FIXED;
	cfg.demand_period_min = 15;
	cfg.freeze_day = 1;
	cfg.freeze_hour = 0;
	const int64_t t0 = 1772319600; /* 2026-03-01 00:00 at UTC+1 */
	const int days = 31;
	assert_int_equal(bm_metering_init(&MT, &cfg, 2, t0, NULL), BM_OK);
	int64_t t = t0;
	const int64_t n = (int64_t)days * 8640 + 1; /* one window past the freeze */
	for (int64_t k = 0; k < n; k++) {
		int64_t st = t - t0; /* window start, seconds since Mar 1 00:00 local */
		int h = (int)(st / 3600 % 24), d = (int)(st / 86400);
		res_clear(2);
		set_pqs(0, prof_p0(h), 200.0, hypot(prof_p0(h), 200.0));
		set_current(0, 5.0);
		R.v[0][BM_Q_U1] = 220.0 + d;
		R.v[0][BM_Q_F] = 50.0;
		set_pqs(1, -500.0, -100.0, hypot(500.0, 100.0));
		set_current(1, 0.005); /* below the 0.01 A load threshold */
		t += 10;
		assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	}
	/* closed form: per day, minute by minute */
	double e0[7] = {0}, e1[7] = {0};
	for (int m = 0; m < 1440; m++) {
		e0[tariff_of_minute(m)] += prof_p0(m / 60) / 60.0;
		e1[tariff_of_minute(m)] += 500.0 / 60.0;
	}
	/* the extra window (Apr 1 00:00:00..10) is tariff 1, next month */
	const double x0 = prof_p0(0) * 10.0 / 3600.0, x1 = 500.0 * 10.0 / 3600.0;
	for (int tr = 1; tr <= 6; tr++) {
		REL_CLOSE(bm_metering_tariff_wh(&MT, 0, (unsigned)tr, BM_MT_T_EP_IMP), days * e0[tr] + (tr == 1 ? x0 : 0), 1e-9);
		REL_CLOSE(bm_metering_tariff_wh(&MT, 1, (unsigned)tr, BM_MT_T_EP_EXP), days * e1[tr] + (tr == 1 ? x1 : 0), 1e-9);
		assert_true(bm_metering_tariff_wh(&MT, 0, (unsigned)tr, BM_MT_T_EP_EXP) == 0.0);
		assert_true(bm_metering_tariff_wh(&MT, 1, (unsigned)tr, BM_MT_T_EP_IMP) == 0.0);
	}
	/* the freeze of March */
	assert_int_equal(bm_metering_take_freezes(&MT), 1);
	bm_mt_month mo;
	assert_int_equal(bm_metering_month(&MT, 0, &mo), BM_OK);
	assert_int_equal(bm_metering_month(&MT, 1, &mo) == BM_E_NOTFOUND, 1);
	assert_int_equal(bm_metering_month(&MT, 0, &mo), BM_OK);
	assert_int_equal(mo.year, 2026);
	assert_int_equal(mo.month, 4); /* labelled by the freeze moment: 1 April 00:00 */
	assert_true(mo.freeze_unix == t0 + (int64_t)days * 86400);
	double ep = 0, eq = 0;
	for (int tr = 1; tr <= 6; tr++) {
		REL_CLOSE(mo.e_wh[0][tr - 1][BM_MT_T_EP_IMP], days * e0[tr], 1e-9);
		REL_CLOSE(mo.e_wh[1][tr - 1][BM_MT_T_EP_EXP], days * e1[tr], 1e-9);
		ep += days * e0[tr];
	}
	eq = 200.0 * 24 * days;
	REL_CLOSE(mo.e_wh[0][0][BM_MT_T_EQ_IMP], 200.0 * 7 * days, 1e-9);
	REL_CLOSE(mo.e_wh[1][4][BM_MT_T_EQ_EXP], 100.0 * 3 * days, 1e-9);
	REL_CLOSE(mo.pf[0], ep / sqrt(ep * ep + eq * eq), 1e-9);
	assert_true(mo.pf[1] == 0.0); /* export only: no import active energy */
	/* demand: each 15-min interval lies in one hour, so demand = P(h) */
	bm_mt_demand dm;
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &dm), BM_OK);
	REL_CLOSE(dm.last, prof_p0(23), 1e-12);
	REL_CLOSE(dm.max, prof_p0(23), 1e-12);
	assert_true(dm.max_unix == t0 + 23 * 3600 + 15 * 60); /* first interval at 3300 W */
	REL_CLOSE(dm.present, prof_p0(0), 1e-12);
	assert_int_equal(bm_metering_demand(&MT, 1, BM_MT_D_P, &dm), BM_OK);
	REL_CLOSE(dm.last, -500.0, 1e-12);
	REL_CLOSE(dm.max, -500.0, 1e-12); /* signed: export is negative */
	assert_int_equal(bm_metering_demand(&MT, 1, BM_MT_D_Q, &dm), BM_OK);
	REL_CLOSE(dm.max, -100.0, 1e-12);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_S, &dm), BM_OK);
	REL_CLOSE(dm.max, hypot(prof_p0(23), 200.0), 1e-12);
	/* max/min */
	bm_mt_extreme mx, mn;
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U1, &mx, &mn), BM_OK);
	REL_CLOSE(mx.value, 220.0 + 31, 0); /* Apr 1 is d = 31 */
	assert_true(mx.unix_s == t0 + 31 * 86400 + 10);
	REL_CLOSE(mn.value, 220.0, 0);
	assert_true(mn.unix_s == t0 + 10);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_P, &mx, &mn), BM_OK);
	REL_CLOSE(mx.value, prof_p0(23), 0);
	assert_true(mx.unix_s == t0 + 23 * 3600 + 10);
	REL_CLOSE(mn.value, prof_p0(0), 0);
	assert_int_equal(bm_metering_maxmin(&MT, 1, BM_MT_MM_P, &mx, &mn), BM_OK);
	REL_CLOSE(mx.value, -500.0, 0);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U12, &mx, &mn), BM_E_NOTFOUND);
	/* statistics */
	REL_CLOSE(bm_metering_run_time_s(&MT), (double)n * 10.0, 1e-12);
	REL_CLOSE(bm_metering_load_time_s(&MT, 0), (double)n * 10.0, 1e-12);
	assert_true(bm_metering_load_time_s(&MT, 1) == 0.0);
	assert_int_equal(MT.jumps, 0);
}

/* Sliding demand: per-minute varying load, 15 one-minute sub-intervals. */
static double prof_min(int m) { return 1000.0 + 10.0 * (m % 37) + (m % 2 ? 250.0 : 0.0); }

static void test_sliding(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.demand_method = BM_MT_DEMAND_SLIDING;
	cfg.demand_period_min = 15;
	const int64_t t0 = 1767225600 + 30; /* mid-minute: the first minute is partial */
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t0, NULL), BM_OK);
	int64_t t = t0;
	const int minutes = 300;
	bm_mt_demand d;
	for (int m = -1; m < minutes; m++) { /* m = -1: the partial half minute */
		int w = m < 0 ? 6 : 12;    /* 5-s windows */
		for (int k = 0; k < w; k++) {
			res_clear(1);
			set_pqs(0, m < 0 ? 99999.0 : prof_min(m), 0.0, 0.0);
			t += 5;
			assert_int_equal(bm_metering_window(&MT, &R, 5.0, t), BM_OK);
		}
		assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
		if (m < 14) {
			assert_true(isnan(d.last)); /* fewer than 15 whole minutes yet */
		} else {
			double s = 0;
			for (int i = m - 14; i <= m; i++)
				s += prof_min(i);
			REL_CLOSE(d.last, s / 15.0, 1e-12);
			assert_true(d.max_unix % 60 == 0);
		}
	}
	double best = -1;
	int64_t best_t = 0;
	for (int m = 14; m < minutes; m++) {
		double s = 0;
		for (int i = m - 14; i <= m; i++)
			s += prof_min(i);
		if (s / 15.0 > best + 1e-9) {
			best = s / 15.0;
			best_t = 1767225600 + 60 + 60 * (int64_t)(m + 1);
		}
	}
	REL_CLOSE(d.max, best, 1e-12);
	assert_true(d.max_unix == best_t);
	/* present: the last 14 whole minutes and the minute in progress (20 s) */
	res_clear(1);
	set_pqs(0, 5000.0, 0.0, 0.0);
	for (int k = 0; k < 4; k++) {
		t += 5;
		assert_int_equal(bm_metering_window(&MT, &R, 5.0, t), BM_OK);
	}
	double e = 20.0 * 5000.0, dur = 20.0;
	for (int i = minutes - 14; i < minutes; i++) {
		e += 60.0 * prof_min(i);
		dur += 60.0;
	}
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.present, e / dur, 1e-12);
	bm_metering_reset_max_demand(&MT);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	assert_true(isnan(d.max));
}

/* ---- RTC jumps ---------------------------------------------------------------- */

static void run(double p, int64_t *t, int64_t until, int step)
{
	while (*t < until) {
		res_clear(1);
		set_pqs(0, p, 0.0, 0.0);
		*t += step;
		assert_int_equal(bm_metering_window(&MT, &R, (double)step, *t), BM_OK);
	}
}

static void test_rtc_backwards(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	const int64_t h10 = 1767225600 + 10 * 3600; /* 10:00 UTC */
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, h10, NULL), BM_OK);
	int64_t t = h10;
	bm_mt_demand d;
	run(1000.0, &t, h10 + 900, 10);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 1000.0, 1e-12);
	run(2000.0, &t, h10 + 1200, 10); /* 10:15..10:20 in progress */
	/* clock set back to 10:05:00 */
	res_clear(1);
	set_pqs(0, 2000.0, 0.0, 0.0);
	t = h10 + 300;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	assert_int_equal(MT.jumps, 1);
	run(3000.0, &t, h10 + 900, 10); /* partial: 10:05..10:15 */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 1000.0, 1e-12); /* neither 10:15 interval was completed */
	run(4000.0, &t, h10 + 1800, 10);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 4000.0, 1e-12); /* clean: nothing of 2000 or 3000 in it */
	REL_CLOSE(d.max, 4000.0, 1e-12);
	assert_true(d.max_unix == h10 + 1800);
	/* energy kept every window, the jump window included */
	double wh = (900.0 * 1000 + 300.0 * 2000 + 10 * 2000 + 600.0 * 3000 + 900.0 * 4000) / 3600.0;
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP), wh, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&MT, 0, 1, BM_MT_T_EP_IMP), wh, 1e-12);
}

static void test_rtc_forwards(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	const int64_t h10 = 1767225600 + 10 * 3600;
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, h10, NULL), BM_OK);
	int64_t t = h10;
	bm_mt_demand d;
	run(1000.0, &t, h10 + 420, 10); /* to 10:07 */
	/* small corrections are not jumps: +1 s (dt + 1) then -0 s */
	res_clear(1);
	set_pqs(0, 1000.0, 0.0, 0.0);
	t += 11;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	assert_int_equal(MT.jumps, 0);
	/* jump forward to 11:52:30 */
	set_pqs(0, 5000.0, 0.0, 0.0);
	t = h10 + 6600 + 150;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	assert_int_equal(MT.jumps, 1);
	run(6000.0, &t, h10 + 7200, 10); /* partial to 12:00 */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	assert_true(isnan(d.last));
	assert_true(isnan(d.max));
	run(7000.0, &t, h10 + 8100, 10);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 7000.0, 1e-12);
	assert_true(d.max_unix == h10 + 8100);
	double wh = (420.0 * 1000 + 10 * 1000 + 10 * 5000 + 450.0 * 6000 + 900.0 * 7000) / 3600.0;
	REL_CLOSE(bm_metering_energy_wh(&MT, 0, BM_MT_TOTAL, BM_MT_EP_IMP), wh, 1e-12);
}

/* A jump forward across the freeze moment freezes once; back across it and
 * forward again does not freeze the same month twice. */
static void test_freeze_jumps(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.freeze_day = 5;
	cfg.freeze_hour = 6;
	const int64_t jan1 = 1767225600;
	const int64_t feb5_6 = jan1 + (31 + 4) * 86400 + 6 * 3600;
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, jan1 + 86400, NULL), BM_OK);
	res_clear(1);
	set_pqs(0, 3600.0, 0.0, 0.0);
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, jan1 + 86400 + 10), BM_OK); /* 10 Wh */
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, jan1 + 4 * 86400 + 6 * 3600 + 5), BM_OK); /* across Jan 5 06:00 */
	assert_int_equal(bm_metering_take_freezes(&MT), 1);
	bm_mt_month mo;
	assert_int_equal(bm_metering_month(&MT, 0, &mo), BM_OK);
	REL_CLOSE(mo.e_wh[0][0][BM_MT_T_EP_IMP], 10.0, 1e-12); /* the jump window counts after */
	assert_int_equal(mo.month, 1);
	assert_true(mo.freeze_unix == jan1 + 4 * 86400 + 6 * 3600);
	/* back to Jan 4, and forward again over Jan 5 06:00 in normal windows */
	int64_t t = jan1 + 4 * 86400 + 6 * 3600 - 30;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	for (int k = 0; k < 6; k++) {
		t += 10;
		assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	}
	assert_int_equal(bm_metering_take_freezes(&MT), 0);
	/* forward over two freeze moments (Feb 5 and Mar 5): one freeze, March */
	t = feb5_6 + 28 * 86400 + 100;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	assert_int_equal(bm_metering_take_freezes(&MT), 1);
	assert_int_equal(bm_metering_month(&MT, 0, &mo), BM_OK);
	assert_int_equal(mo.month, 3);
	REL_CLOSE(mo.e_wh[0][0][BM_MT_T_EP_IMP], 10.0 * 8, 1e-12);
	/* normal crossing, split within a window: 4 s before, 6 s after Apr 5 06:00 */
	const int64_t apr5_6 = feb5_6 + (28 + 31) * 86400;
	t = apr5_6 - 4;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK); /* jump */
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t + 10), BM_OK);
	assert_int_equal(bm_metering_take_freezes(&MT), 1);
	assert_int_equal(bm_metering_month(&MT, 0, &mo), BM_OK);
	assert_int_equal(mo.month, 4);
	REL_CLOSE(mo.e_wh[0][0][BM_MT_T_EP_IMP], 10.0 + 10.0 + 4.0, 1e-12);
	/* 12 kept: ring ages */
	assert_int_equal(bm_metering_month(&MT, 2, &mo), BM_OK);
	assert_int_equal(mo.month, 1);
	assert_int_equal(bm_metering_month(&MT, 3, &mo), BM_E_NOTFOUND);
}

/* FIXED with a period that does not divide the day (7 min: 1440 = 205·7 + 5)
 * gets a short last interval before midnight; a change of demand period
 * restarts demand (interval in progress not completed); sliding over the
 * full 60 sub-intervals. */
static void test_demand_config(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.demand_period_min = 7;
	const int64_t mid = 1767225600 + 86400; /* 2026-01-02 00:00 UTC */
	int64_t t = mid - 12 * 60;             /* 23:48 = 205·7 min - 7 min: a boundary */
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t, NULL), BM_OK);
	bm_mt_demand d;
	run(1000.0, &t, mid - 5 * 60, 10); /* 23:48..23:55 complete */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 1000.0, 1e-12);
	assert_true(d.max_unix == mid - 300);
	run(2000.0, &t, mid, 10); /* 23:55..00:00: the short last interval */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 2000.0, 1e-12);
	assert_true(d.max_unix == mid);
	run(3000.0, &t, mid + 420, 10); /* 00:00..00:07 */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 3000.0, 1e-12);
	/* change to 15 min at 00:07: 00:07..00:15 is partial */
	cfg.demand_period_min = 15;
	run(4000.0, &t, mid + 600, 10);
	assert_int_equal(bm_metering_set_config(&MT, &cfg, NULL), BM_OK);
	run(5000.0, &t, mid + 900, 10);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 3000.0, 1e-12); /* unchanged: the partial interval is not reported */
	run(6000.0, &t, mid + 1800, 10);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 6000.0, 1e-12);
	/* sliding 60 */
	cfg.demand_method = BM_MT_DEMAND_SLIDING;
	cfg.demand_period_min = 60;
	assert_int_equal(bm_metering_set_config(&MT, &cfg, NULL), BM_OK);
	run(1000.0, &t, mid + 1800 + 59 * 60, 30);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 6000.0, 1e-12);
	run(1000.0, &t, mid + 1800 + 60 * 60, 30);
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, 1000.0, 1e-12);
	run(4600.0, &t, mid + 1800 + 61 * 60, 30); /* one minute of 4600 replaces one of 1000 */
	assert_int_equal(bm_metering_demand(&MT, 0, BM_MT_D_P, &d), BM_OK);
	REL_CLOSE(d.last, (59.0 * 1000 + 4600) / 60.0, 1e-12);
}

/* ---- max/min clearing ---------------------------------------------------------- */

static void test_maxmin_clear(void **state)
{
	(void)state;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.utc_offset_s = -5 * 3600;
	cfg.mm_clear = BM_MT_CLEAR_DAILY;
	const int64_t may10 = 1767225600 + (31 + 28 + 31 + 30 + 9) * 86400 + 5 * 3600; /* 00:00 local */
	int64_t t = may10 + 86400 - 60;                                                  /* 23:59 */
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t, NULL), BM_OK);
	bm_mt_extreme mx, mn;
	for (int k = 0; k < 12; k++) { /* two minutes: across midnight */
		res_clear(1);
		R.v[0][BM_Q_U1] = t < may10 + 86400 ? 240.0 - k : 230.0 + k;
		t += 10;
		assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
		assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U1, &mx, &mn), BM_OK);
		if (t <= may10 + 86400 - 1) {
			REL_CLOSE(mx.value, 240.0, 0);
			assert_true(mx.unix_s == may10 + 86400 - 50);
		}
	}
	/* after midnight only 230+6..230+11 */
	REL_CLOSE(mx.value, 241.0, 0);
	REL_CLOSE(mn.value, 236.0, 0);
	assert_true(mn.unix_s == may10 + 86400 + 10);
	/* manual clear */
	bm_metering_reset_maxmin(&MT);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_U1, &mx, &mn), BM_E_NOTFOUND);

	/* monthly: a day change mid-month keeps, the 1st clears */
	cfg.mm_clear = BM_MT_CLEAR_MONTHLY;
	const int64_t may31 = may10 + 21 * 86400;
	t = may31 - 86400 + 86400 - 30; /* May 30 23:59:30 */
	assert_int_equal(bm_metering_init(&MT, &cfg, 1, t, NULL), BM_OK);
	res_clear(1);
	R.v[0][BM_Q_I1] = 9.0;
	for (int k = 0; k < 6; k++) {
		t += 10;
		assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	}
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_I1, &mx, &mn), BM_OK);
	assert_true(mx.unix_s == may31 - 20); /* May 31 starts: not cleared */
	t = may31 + 86400 - 20;               /* jump to June 1 -00:00:20 */
	R.v[0][BM_Q_I1] = 1.0;
	assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_I1, &mx, &mn), BM_OK);
	REL_CLOSE(mx.value, 9.0, 0);
	R.v[0][BM_Q_I1] = 2.0;
	for (int k = 0; k < 3; k++) {
		t += 10;
		assert_int_equal(bm_metering_window(&MT, &R, 10.0, t), BM_OK);
	}
	assert_int_equal(bm_metering_maxmin(&MT, 0, BM_MT_MM_I1, &mx, &mn), BM_OK);
	REL_CLOSE(mx.value, 2.0, 0);
	REL_CLOSE(mn.value, 2.0, 0);
	assert_true(mx.unix_s == may31 + 86400 + 10); /* the window ending at 00:00 was May's */
}

/* The counter record: round trip in whole mWh, and a record of another
 * meter (circuits) or with a negative count is refused, changing nothing. */
static void test_counters(void **state)
{
	(void)state;
	static bm_metering other;
	static bm_mt_counters ctr;
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	assert_int_equal(bm_metering_init(&MT, &cfg, 2, 0, NULL), BM_OK);
	res_clear(2);
	set_pqs(0, 1234.5678, -321.0, 1300.0); /* 1234.5678 W for 1 h = 1234.5678 Wh */
	set_pqs(1, -50.0, 10.0, 51.0);
	set_current(0, 5.0);
	assert_int_equal(bm_metering_window(&MT, &R, 3600.0, 3600), BM_OK);
	bm_metering_get_counters(&MT, &ctr);
	assert_int_equal(ctr.n_circuits, 2);
	assert_true(ctr.e[0][BM_MT_TOTAL][BM_MT_EP_IMP] == 1234567); /* whole mWh */
	assert_true(ctr.e[1][BM_MT_TOTAL][BM_MT_EP_EXP] == 50000);
	assert_int_equal(bm_metering_init(&other, &cfg, 2, 0, NULL), BM_OK);
	assert_int_equal(bm_metering_put_counters(&other, &ctr), BM_OK);
	assert_true(bm_metering_energy_wh_i64(&other, 0, BM_MT_TOTAL, BM_MT_EP_IMP) == 1234);
	REL_CLOSE(bm_metering_energy_wh(&other, 0, BM_MT_TOTAL, BM_MT_EP_IMP), 1234.567, 1e-12);
	REL_CLOSE(bm_metering_energy_wh(&other, 0, BM_MT_TOTAL, BM_MT_EQ_EXP), 321.0, 1e-12);
	REL_CLOSE(bm_metering_tariff_wh(&other, 1, 1, BM_MT_T_EP_EXP), 50.0, 1e-12);
	REL_CLOSE(bm_metering_run_time_s(&other), 3600.0, 1e-12);
	REL_CLOSE(bm_metering_load_time_s(&other, 0), 3600.0, 1e-12);
	/* refused: another number of circuits, a negative count */
	assert_int_equal(bm_metering_init(&other, &cfg, 3, 0, NULL), BM_OK);
	assert_int_equal(bm_metering_put_counters(&other, &ctr), BM_E_INVAL);
	assert_int_equal(bm_metering_init(&other, &cfg, 2, 0, NULL), BM_OK);
	ctr.t[1][2][BM_MT_T_EQ_IMP] = -1;
	assert_int_equal(bm_metering_put_counters(&other, &ctr), BM_E_INVAL);
	assert_true(bm_metering_energy_wh(&other, 0, BM_MT_TOTAL, BM_MT_EP_IMP) == 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_caltime_table),
		cmocka_unit_test(test_caltime_walk),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_quadrants),
		cmocka_unit_test(test_nan_ignored),
		cmocka_unit_test(test_rollover),
		cmocka_unit_test(test_year_accuracy),
		cmocka_unit_test(test_manual_tariff),
		cmocka_unit_test(test_straddle),
		cmocka_unit_test(test_month),
		cmocka_unit_test(test_sliding),
		cmocka_unit_test(test_rtc_backwards),
		cmocka_unit_test(test_rtc_forwards),
		cmocka_unit_test(test_freeze_jumps),
		cmocka_unit_test(test_demand_config),
		cmocka_unit_test(test_maxmin_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
