/*
 * test_alarm.c — alarms, relays and digital inputs (core/src/alarm.c).
 *
 * Time is accelerated: windows end every 0.2 s of sample clock, and each
 * window's values are a synthetic array (NaN everywhere, then the
 * quantities the alarm under test looks at). The expectations are worked
 * out here, from alarm.h's rules, not read back from the implementation:
 *  - every alarm type (table-driven, delay 1 s and 0): no trigger below the
 *    threshold; active exactly delay_s after the condition began, not one
 *    window earlier; a dip restarts the delay; the hysteresis band and the
 *    release point itself keep it active; past the release point it ends at
 *    once; the on event carries the triggering value, the off event the
 *    extreme; NaN phases are left out, any phase triggers and all must clear;
 *  - line undervoltage: <= triggers, > release point clears;
 *  - disabled alarms, and set_config ending alarms;
 *  - relays in alarm mode (delay, hold, pulse, association, beyond n_do) and
 *    manual mode (commands, pulse ended by bm_io_tick, BM_E_STATE);
 *  - digital inputs: counts, SOE ring, input events, input alarms at both
 *    levels driving relays, inputs beyond n_di;
 *  - the buzzer; validation field by field; the event queue's overflow.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bm/alarm.h"
#include "bm/quantity.h"

#define DT 0.2
#define RTC0 1767225600000LL /* 2026-01-01 00:00:00 UTC */

static bm_io io;
static bm_io_cfg cfg;
static bm_io_caps caps;
static double V[BM_MAX_CIRCUITS][BM_Q_COUNT];
static bm_al_values vals[BM_MAX_CIRCUITS];
static int win; /* windows run so far; window w ends at w * DT */

static double tw(int w)
{
	return w * DT;
}

static int64_t rtc_at(double t)
{
	return RTC0 + (int64_t)llround(t * 1000.0);
}

static void clear_values(void)
{
	for (int c = 0; c < BM_MAX_CIRCUITS; c++) {
		for (int q = 0; q < BM_Q_COUNT; q++)
			V[c][q] = NAN;
		vals[c].v = V[c];
		vals[c].demand[0] = vals[c].demand[1] = vals[c].demand[2] = NAN;
		vals[c].temperature_c = NAN;
		vals[c].residual_ma = NAN;
	}
}

static int setup(void **state)
{
	(void)state;
	bm_io_default(&cfg);
	caps = (bm_io_caps){BM_DO_MAX, BM_DI_MAX, 0x1, 0x1};
	clear_values();
	memset(&io, 0, sizeof io);
	win = 0;
	return 0;
}

static void start(uint8_t n_circuits)
{
	bm_cfg_issue is = {0};
	assert_int_equal(bm_io_init(&io, &cfg, &caps, n_circuits, &is), BM_OK);
}

static void window(void)
{
	win++;
	bm_io_window(&io, vals, tw(win), rtc_at(tw(win)));
}

static size_t take(bm_io_event *ev, size_t cap)
{
	return bm_io_take_events(&io, ev, cap);
}

static void no_events(void)
{
	bm_io_event ev[4];
	assert_int_equal(take(ev, 4), 0);
}

static void expect_event(const bm_io_event *e, int kind, int circuit, int index, double value, int64_t rtc_ms)
{
	assert_int_equal(e->kind, kind);
	assert_int_equal(e->circuit, circuit);
	assert_int_equal(e->index, index);
	assert_true(e->value == value);
	assert_int_equal(e->rtc_ms, rtc_ms);
}

/* The only event pending is this one. */
static void expect_one(int kind, int circuit, int index, double value, int64_t rtc_ms)
{
	bm_io_event ev[4];
	assert_int_equal(take(ev, 4), 1);
	expect_event(&ev[0], kind, circuit, index, value, rtc_ms);
}

static bool active(unsigned c, bm_al_type k)
{
	return bm_io_alarm_status(&io, c) >> k & 1u;
}

/* ---- what each alarm type looks at (from alarm.h, written out) -------- */

enum { SRC_Q, SRC_DEMAND, SRC_TEMP, SRC_RES };

typedef struct tdesc {
	bm_al_type k;
	int n;       /* values: 3 phases or 1 */
	int q[3];    /* quantity indices (SRC_Q) or demand index */
	int src;
	bool neg;    /* fed negative: the alarm compares |x| */
	bool under;
} tdesc;

static const tdesc TD[BM_AL_TYPE_COUNT] = {
	{BM_AL_OVER_I, 3, {BM_Q_I1, BM_Q_I2, BM_Q_I3}, SRC_Q, false, false},
	{BM_AL_UNDER_I, 3, {BM_Q_I1, BM_Q_I2, BM_Q_I3}, SRC_Q, false, true},
	{BM_AL_OVER_U, 3, {BM_Q_U1, BM_Q_U2, BM_Q_U3}, SRC_Q, false, false},
	{BM_AL_UNDER_U, 3, {BM_Q_U1, BM_Q_U2, BM_Q_U3}, SRC_Q, false, true},
	{BM_AL_OVER_UL, 3, {BM_Q_U12, BM_Q_U23, BM_Q_U31}, SRC_Q, false, false},
	{BM_AL_UNDER_UL, 3, {BM_Q_U12, BM_Q_U23, BM_Q_U31}, SRC_Q, false, true},
	{BM_AL_OVER_P, 1, {BM_Q_P}, SRC_Q, true, false},
	{BM_AL_OVER_Q, 1, {BM_Q_Q}, SRC_Q, true, false},
	{BM_AL_OVER_S, 1, {BM_Q_S}, SRC_Q, false, false},
	{BM_AL_OVER_DP, 1, {0}, SRC_DEMAND, false, false},
	{BM_AL_OVER_DQ, 1, {1}, SRC_DEMAND, false, false},
	{BM_AL_OVER_DS, 1, {2}, SRC_DEMAND, false, false},
	{BM_AL_OVER_THDU, 3, {BM_Q_THDU1, BM_Q_THDU2, BM_Q_THDU3}, SRC_Q, false, false},
	{BM_AL_OVER_THDI, 3, {BM_Q_THDI1, BM_Q_THDI2, BM_Q_THDI3}, SRC_Q, false, false},
	{BM_AL_OVER_T, 1, {0}, SRC_TEMP, false, false},
	{BM_AL_OVER_IRES, 1, {0}, SRC_RES, false, false},
};

static void put(const tdesc *d, int c, int p, double x)
{
	double y = d->neg ? -x : x;
	switch (d->src) {
	case SRC_Q:
		V[c][d->q[p]] = y;
		break;
	case SRC_DEMAND:
		vals[c].demand[d->q[0]] = y;
		break;
	case SRC_TEMP:
		vals[c].temperature_c = y;
		break;
	default:
		vals[c].residual_ma = y;
		break;
	}
}

static void put_all(const tdesc *d, int c, double x)
{
	for (int p = 0; p < d->n; p++)
		put(d, c, p, x);
}

/* ---- every alarm type ----------------------------------------------------- */

static void check_type(const tdesc *d, double delay)
{
	setup(NULL);
	const double thr = 100.0, s = d->under ? -1.0 : 1.0;
	bm_al_cfg *a = &cfg.al[0][d->k];
	a->enabled = 1;
	a->threshold = thr;
	a->delay_s = delay;
	const double rel = thr * a->release_pct / 100.0;
	/* x > 0: past the threshold by x; x < 0: short of it by |x|. */
#define VAL(x) (thr + s * (x))
	start(1);
	assert_true(bm_al_table[d->k].under == d->under);

	/* Short of the threshold (between it and the release point): nothing. */
	put_all(d, 0, VAL(-1));
	for (int i = 0; i < 8; i++) {
		window();
		assert_false(active(0, d->k));
	}
	no_events();

	int ndel = (int)lround(delay / DT);
	if (ndel > 1) {
		/* Holds for less than the delay, dips for one window: no alarm. */
		for (int i = 0; i < ndel - 1; i++) {
			put_all(d, 0, VAL(0));
			window();
			assert_false(active(0, d->k));
		}
		put_all(d, 0, VAL(-1));
		window();
		assert_false(active(0, d->k));
	}
	/* At the threshold (and past it): active exactly ndel windows after the
	 * first; the dip above restarted the count. */
	for (int j = 0; j <= ndel; j++) {
		put_all(d, 0, VAL(j));
		window();
		assert_int_equal(active(0, d->k), j >= ndel);
	}
	expect_one(0, 0, d->k, VAL(ndel), rtc_at(tw(win)));

	/* A peak, then the hysteresis band and the release point itself. */
	put_all(d, 0, VAL(30));
	window();
	put_all(d, 0, VAL(-4));
	window();
	window();
	assert_true(active(0, d->k));
	put_all(d, 0, rel);
	window();
	assert_true(active(0, d->k));
	no_events();

	/* Past the release point: ends at once, reporting the extreme. */
	put_all(d, 0, VAL(-6));
	window();
	assert_false(active(0, d->k));
	expect_one(1, 0, d->k, VAL(30), rtc_at(tw(win)));

	if (d->n == 3) {
		/* Phase 3 absent (three-wire style): any phase triggers, every
		 * present phase must clear. */
		put(d, 0, 0, VAL(10));
		put(d, 0, 1, VAL(-6));
		put(d, 0, 2, NAN);
		for (int j = 0; j <= ndel; j++) {
			window();
			assert_int_equal(active(0, d->k), j >= ndel);
		}
		expect_one(0, 0, d->k, VAL(10), rtc_at(tw(win)));
		put(d, 0, 0, VAL(-6));
		put(d, 0, 1, VAL(-4)); /* in the band: not all released */
		window();
		assert_true(active(0, d->k));
		put(d, 0, 1, VAL(-6));
		window();
		assert_false(active(0, d->k));
		expect_one(1, 0, d->k, VAL(10), rtc_at(tw(win)));

		/* Each phase alone triggers, and alone holds the alarm. */
		for (int p = 0; p < 3; p++) {
			put_all(d, 0, VAL(-6));
			put(d, 0, p, VAL(7));
			for (int j = 0; j <= ndel; j++)
				window();
			assert_true(active(0, d->k));
			expect_one(0, 0, d->k, VAL(7), rtc_at(tw(win)));
			put_all(d, 0, VAL(-6));
			put(d, 0, p, VAL(-4));
			window();
			assert_true(active(0, d->k));
			put(d, 0, p, VAL(-6));
			window();
			assert_false(active(0, d->k));
			expect_one(1, 0, d->k, VAL(7), rtc_at(tw(win)));
		}

		/* One phase present (1P2W style), and not phase 1: it alone
		 * triggers. */
		put(d, 0, 0, NAN);
		put(d, 0, 1, VAL(3));
		for (int j = 0; j <= ndel; j++)
			window();
		assert_true(active(0, d->k));
		expect_one(0, 0, d->k, VAL(3), rtc_at(tw(win)));
	}
	/* No value at all: the release condition holds. */
	double ext = VAL(3); /* three phases: still active from above */
	if (d->n != 3) {
		ext = VAL(5);
		put_all(d, 0, ext);
		for (int j = 0; j <= ndel; j++)
			window();
		expect_one(0, 0, d->k, ext, rtc_at(tw(win)));
	}
	assert_true(active(0, d->k));
	put_all(d, 0, NAN);
	window();
	assert_false(active(0, d->k));
	expect_one(1, 0, d->k, ext, rtc_at(tw(win)));
	/* ... and nothing can trigger. */
	for (int j = 0; j <= ndel + 2; j++)
		window();
	assert_false(active(0, d->k));
	no_events();
	assert_int_equal(io.ev_lost, 0);
#undef VAL
}

static void test_every_type(void **state)
{
	(void)state;
	for (int k = 0; k < BM_AL_TYPE_COUNT; k++) {
		assert_int_equal(TD[k].k, k);
		check_type(&TD[k], 1.0);
		check_type(&TD[k], 0.0);
		check_type(&TD[k], 0.4);
	}
	assert_string_equal(bm_al_table[BM_AL_OVER_I].name, "over_i");
	assert_string_equal(bm_al_table[BM_AL_UNDER_UL].unit, "V");
	assert_string_equal(bm_al_table[BM_AL_OVER_IRES].unit, "mA");
	assert_non_null(bm_al_table[BM_AL_OVER_THDI].desc);
}

static void test_power_is_absolute(void **state)
{
	setup(state);
	cfg.al[0][BM_AL_OVER_P].enabled = 1;
	cfg.al[0][BM_AL_OVER_P].threshold = 1000.0;
	cfg.al[0][BM_AL_OVER_Q].enabled = 1;
	cfg.al[0][BM_AL_OVER_Q].threshold = 1000.0;
	start(1);
	V[0][BM_Q_P] = -1500.0; /* exporting */
	V[0][BM_Q_Q] = 999.0;
	V[0][BM_Q_P1] = 5000.0; /* per phase: not looked at */
	window();
	assert_true(active(0, BM_AL_OVER_P));
	assert_false(active(0, BM_AL_OVER_Q));
	expect_one(0, 0, BM_AL_OVER_P, 1500.0, rtc_at(tw(win)));
	V[0][BM_Q_P] = -2000.0;
	window();
	V[0][BM_Q_P] = 900.0;
	window();
	expect_one(1, 0, BM_AL_OVER_P, 2000.0, rtc_at(tw(win)));
}

static void test_line_undervoltage(void **state)
{
	setup(state);
	bm_al_cfg *a = &cfg.al[0][BM_AL_UNDER_UL];
	a->enabled = 1;
	a->threshold = 360.0;
	a->release_pct = 105.0; /* release point 378 V */
	start(1);
	/* The spec's table would alarm on >= here: a high line voltage must not. */
	V[0][BM_Q_U12] = V[0][BM_Q_U23] = V[0][BM_Q_U31] = 420.0;
	V[0][BM_Q_U1] = V[0][BM_Q_U2] = V[0][BM_Q_U3] = 100.0; /* phase voltages: not looked at */
	window();
	assert_false(active(0, BM_AL_UNDER_UL));
	V[0][BM_Q_U23] = 360.000001;
	window();
	assert_false(active(0, BM_AL_UNDER_UL));
	V[0][BM_Q_U23] = 360.0; /* <= triggers */
	window();
	assert_true(active(0, BM_AL_UNDER_UL));
	expect_one(0, 0, BM_AL_UNDER_UL, 360.0, rtc_at(tw(win)));
	V[0][BM_Q_U23] = 378.0; /* at the release point: not > */
	window();
	assert_true(active(0, BM_AL_UNDER_UL));
	V[0][BM_Q_U23] = 378.001;
	window();
	assert_false(active(0, BM_AL_UNDER_UL));
	expect_one(1, 0, BM_AL_UNDER_UL, 360.0, rtc_at(tw(win)));
}

static void test_disabled_and_set_config(void **state)
{
	setup(state);
	for (int k = 0; k < BM_AL_TYPE_COUNT; k++) {
		cfg.al[0][k].threshold = 10.0;
		cfg.al[0][k].relay_mask = 1;
		cfg.al[0][k].buzzer = 1;
	}
	start(1);
	for (int k = 0; k < BM_AL_TYPE_COUNT; k++)
		put_all(&TD[k], 0, 1e6);
	for (int i = 0; i < 5; i++)
		window();
	for (int k = 0; k < BM_AL_TYPE_COUNT; k++)
		put_all(&TD[k], 0, 0.0);
	for (int i = 0; i < 5; i++)
		window();
	assert_int_equal(bm_io_alarm_status(&io, 0), 0);
	assert_int_equal(io.do_state, 0);
	assert_int_equal(io.buzzer, 0);
	no_events();

	/* Enable two over alarms through set_config; both become active. */
	bm_io_cfg c2 = cfg;
	c2.al[0][BM_AL_OVER_I].enabled = 1;
	c2.al[0][BM_AL_OVER_U].enabled = 1;
	assert_int_equal(bm_io_set_config(&io, &c2, NULL), BM_OK);
	put_all(&TD[BM_AL_OVER_I], 0, 50.0);
	put_all(&TD[BM_AL_OVER_U], 0, 50.0);
	window();
	V[0][BM_Q_I2] = 70.0;
	window();
	assert_int_equal(bm_io_alarm_status(&io, 0), (1u << BM_AL_OVER_I) | (1u << BM_AL_OVER_U));
	assert_int_equal(io.buzzer, 1);
	bm_io_event ev[8];
	assert_int_equal(take(ev, 8), 3); /* two alarms, one relay */
	int64_t t_rtc = rtc_at(tw(win));

	/* An unrelated change (another alarm's threshold) ends nothing. */
	bm_io_cfg c3 = c2;
	c3.al[0][BM_AL_OVER_P].threshold = 5.0;
	assert_int_equal(bm_io_set_config(&io, &c3, NULL), BM_OK);
	no_events();
	assert_int_equal(bm_io_alarm_status(&io, 0), (1u << BM_AL_OVER_I) | (1u << BM_AL_OVER_U));

	/* Disabling an active alarm ends it with its extreme, stamped with the
	 * last update's RTC; a threshold change ends the other. */
	c3.al[0][BM_AL_OVER_I].enabled = 0;
	c3.al[0][BM_AL_OVER_U].threshold = 20.0;
	assert_int_equal(bm_io_set_config(&io, &c3, NULL), BM_OK);
	assert_int_equal(bm_io_alarm_status(&io, 0), 0);
	assert_int_equal(io.buzzer, 0);
	assert_int_equal(io.do_state, 0); /* hold 0: the relay follows at once */
	assert_int_equal(take(ev, 8), 3);
	expect_event(&ev[0], 1, 0, BM_AL_OVER_I, 70.0, t_rtc);
	expect_event(&ev[1], 1, 0, BM_AL_OVER_U, 50.0, t_rtc);
	expect_event(&ev[2], 3, -1, 0, 0.0, t_rtc);

	/* The re-configured alarm starts over: active again in the next window. */
	window();
	assert_int_equal(bm_io_alarm_status(&io, 0), 1u << BM_AL_OVER_U);
	assert_int_equal(take(ev, 8), 2);
	expect_event(&ev[0], 0, 0, BM_AL_OVER_U, 50.0, rtc_at(tw(win)));

	/* An invalid configuration changes nothing. */
	static bm_io before;
	memcpy(&before, &io, sizeof io);
	bm_io_cfg bad = c3;
	bad.al[0][BM_AL_OVER_U].threshold = -1.0;
	bm_cfg_issue is = {0};
	assert_int_equal(bm_io_set_config(&io, &bad, &is), BM_E_INVAL);
	assert_string_equal(is.field, "alarm.threshold");
	assert_memory_equal(&before, &io, sizeof io);
}

static void test_circuits(void **state)
{
	setup(state);
	for (int c = 0; c < BM_MAX_CIRCUITS; c++) {
		cfg.al[c][BM_AL_OVER_I].enabled = 1;
		cfg.al[c][BM_AL_OVER_I].threshold = 10.0;
	}
	start(2);
	V[1][BM_Q_I3] = 11.0;
	V[3][BM_Q_I1] = 99.0; /* circuit 3 is not there */
	window();
	assert_int_equal(bm_io_alarm_status(&io, 0), 0);
	assert_int_equal(bm_io_alarm_status(&io, 1), 1u << BM_AL_OVER_I);
	assert_int_equal(bm_io_alarm_status(&io, 3), 0);
	assert_int_equal(bm_io_alarm_status(&io, 99), 0);
	expect_one(0, 1, BM_AL_OVER_I, 11.0, rtc_at(tw(win)));
}

/* ---- relays ----------------------------------------------------------- */

/* Over-current alarm on circuit 0 at 100 A, no delay, driving relay mask. */
static void over_i(uint8_t mask)
{
	cfg.al[0][BM_AL_OVER_I].enabled = 1;
	cfg.al[0][BM_AL_OVER_I].threshold = 100.0;
	cfg.al[0][BM_AL_OVER_I].relay_mask = mask;
}

static void current(double a)
{
	V[0][BM_Q_I1] = a;
}

static void test_relay_alarm_mode(void **state)
{
	setup(state);
	over_i(0x1);
	cfg.dout[0].delay_s = 0.4;
	cfg.dout[0].hold_s = 1.0;
	start(1);
	bm_io_event ev[16];
	/* Windows w: the current, and relay 0's expected state. */
	static const struct {
		double a;
		int closed;
	} plan[] = {
		{50, 0},  {50, 0},                                            /* w1-2 */
		{150, 0}, {150, 0}, {150, 1},                                 /* w3 alarm; w5 = w3 + 0.4 s closes */
		{50, 1},  {50, 1},  {50, 1},  {50, 1}, {50, 0},               /* w6 released; hold to w5 + 1 s = w10 */
		{50, 0},  {150, 0}, {50, 0},  {50, 0}, {50, 0},               /* w12 alarm, w13 gone before the delay */
		{150, 0}, {150, 0}, {150, 1}, {150, 1}, {150, 1}, {150, 1},   /* w16 alarm, w18 closes */
		{150, 1}, {150, 1}, {150, 1}, {50, 0},                        /* w25 released after the hold: opens */
	};
	for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
		current(plan[i].a);
		window();
		assert_int_equal(io.do_state, plan[i].closed);
	}
	assert_int_equal(take(ev, 16), 10);
	int k = 0;
	expect_event(&ev[k++], 0, 0, BM_AL_OVER_I, 150.0, rtc_at(tw(3)));
	expect_event(&ev[k++], 3, -1, 0, 1.0, rtc_at(tw(5)));
	expect_event(&ev[k++], 1, 0, BM_AL_OVER_I, 150.0, rtc_at(tw(6)));
	expect_event(&ev[k++], 3, -1, 0, 0.0, rtc_at(tw(10)));
	expect_event(&ev[k++], 0, 0, BM_AL_OVER_I, 150.0, rtc_at(tw(12)));
	expect_event(&ev[k++], 1, 0, BM_AL_OVER_I, 150.0, rtc_at(tw(13)));
	expect_event(&ev[k++], 0, 0, BM_AL_OVER_I, 150.0, rtc_at(tw(16)));
	expect_event(&ev[k++], 3, -1, 0, 1.0, rtc_at(tw(18)));
	expect_event(&ev[k++], 1, 0, BM_AL_OVER_I, 150.0, rtc_at(tw(25)));
	expect_event(&ev[k++], 3, -1, 0, 0.0, rtc_at(tw(25)));

	/* The relay delay also runs on bm_io_tick between windows. */
	current(150);
	window(); /* w26: alarm */
	bm_io_tick(&io, tw(win) + 0.3, 0);
	assert_int_equal(io.do_state, 0);
	bm_io_tick(&io, tw(win) + 0.4, 0);
	assert_int_equal(io.do_state, 1);
}

static void test_relay_pulse(void **state)
{
	setup(state);
	over_i(0x1);
	cfg.dout[0].pulse = 1;
	cfg.dout[0].pulse_s = 0.6;
	cfg.dout[0].hold_s = 5.0; /* not for pulses */
	start(1);
	static const struct {
		double a;
		int closed;
	} plan[] = {
		{50, 0},  {50, 0},                                     /* w1-2 */
		{150, 1}, {150, 1}, {150, 1}, {150, 0}, {150, 0},      /* w3 closes; w6 = w3 + 0.6 s opens, alarm on */
		{150, 0}, {150, 0}, {50, 0},  {150, 1}, {150, 1},      /* w10 released, w11 again: a new pulse */
		{50, 1},  {50, 0},  {50, 0},                           /* w14 opens though released in w13 */
	};
	for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
		current(plan[i].a);
		window();
		assert_int_equal(io.do_state, plan[i].closed);
	}
	bm_io_event ev[16];
	size_t n = take(ev, 16);
	int relay_n = 0;
	double want[] = {1, 0, 1, 0};
	int64_t when[] = {rtc_at(tw(3)), rtc_at(tw(6)), rtc_at(tw(11)), rtc_at(tw(14))};
	for (size_t i = 0; i < n; i++)
		if (ev[i].kind == 3) {
			assert_true(relay_n < 4);
			expect_event(&ev[i], 3, -1, 0, want[relay_n], when[relay_n]);
			relay_n++;
		}
	assert_int_equal(relay_n, 4);
}

static void test_relay_association(void **state)
{
	setup(state);
	over_i(0x4);
	cfg.al[0][BM_AL_OVER_U].enabled = 1;
	cfg.al[0][BM_AL_OVER_U].threshold = 250.0;
	cfg.al[0][BM_AL_OVER_U].relay_mask = 0x6;
	start(1);
	current(150);
	window();
	assert_int_equal(io.do_state, 0x4); /* relays 0, 1, 3 not associated */
	V[0][BM_Q_U2] = 260.0;
	window();
	assert_int_equal(io.do_state, 0x6);
	current(10);
	window();
	assert_int_equal(io.do_state, 0x6); /* relay 2: still OVER_U */
	V[0][BM_Q_U2] = 230.0;
	window();
	assert_int_equal(io.do_state, 0x0);

	/* A relay the model lacks never closes, even if a mask (written past
	 * validation) names it; it cannot be commanded either. */
	setup(state);
	caps.n_do = 1;
	over_i(0x1);
	bm_cfg_issue is = {0};
	bm_io_cfg bad = cfg;
	bad.al[0][BM_AL_OVER_I].relay_mask = 0x2;
	assert_int_equal(bm_io_init(&io, &bad, &caps, 1, &is), BM_E_INVAL);
	assert_string_equal(is.field, "alarm.relay_mask");
	assert_non_null(strstr(is.reason, "not on this model"));
	start(1);
	io.cfg.al[0][BM_AL_OVER_I].relay_mask = 0xF;
	current(150);
	window();
	window();
	assert_int_equal(io.do_state, 0x1);
	assert_int_equal(bm_io_command(&io, 1, true, tw(win), 0), BM_E_INVAL);
	assert_int_equal(bm_io_command(&io, BM_DO_MAX, true, tw(win), 0), BM_E_INVAL);
}

static void test_relay_manual(void **state)
{
	setup(state);
	over_i(0x7);
	cfg.dout[0].mode = BM_DO_MANUAL;
	cfg.dout[1].mode = BM_DO_MANUAL;
	cfg.dout[1].pulse = 1;
	cfg.dout[1].pulse_s = 0.5;
	start(1);
	assert_int_equal(bm_io_command(&io, 0, true, 0.1, 1001), BM_OK);
	assert_int_equal(io.do_state, 0x1);
	current(150); /* an associated alarm moves only the alarm-mode relay 2 */
	window();     /* t 0.2 */
	assert_int_equal(io.do_state, 0x5);
	assert_int_equal(bm_io_command(&io, 2, true, 0.25, 1002), BM_E_STATE);
	assert_int_equal(bm_io_command(&io, 0, false, 0.3, 1003), BM_OK);
	assert_int_equal(io.do_state, 0x4);
	assert_int_equal(bm_io_command(&io, 0, false, 0.35, 1004), BM_OK); /* already open: no event */
	current(10);
	window(); /* t 0.4 */
	assert_int_equal(io.do_state, 0x0);
	assert_int_equal(bm_io_command(&io, 1, true, 1.0, 1005), BM_OK);
	assert_int_equal(io.do_state, 0x2);
	bm_io_tick(&io, 1.2, 1006);
	bm_io_tick(&io, 1.49, 1007);
	assert_int_equal(io.do_state, 0x2);
	bm_io_tick(&io, 1.5, 1008);
	assert_int_equal(io.do_state, 0x0);
	assert_int_equal(io.do_manual, 0); /* the pulse spent the command */
	bm_io_tick(&io, 3.0, 1009);
	assert_int_equal(io.do_state, 0x0);

	bm_io_event ev[16];
	assert_int_equal(take(ev, 16), 8);
	expect_event(&ev[0], 3, -1, 0, 1.0, 1001);
	expect_event(&ev[1], 0, 0, BM_AL_OVER_I, 150.0, rtc_at(0.2));
	expect_event(&ev[2], 3, -1, 2, 1.0, rtc_at(0.2));
	expect_event(&ev[3], 3, -1, 0, 0.0, 1003);
	expect_event(&ev[4], 1, 0, BM_AL_OVER_I, 150.0, rtc_at(0.4));
	expect_event(&ev[5], 3, -1, 2, 0.0, rtc_at(0.4));
	expect_event(&ev[6], 3, -1, 1, 1.0, 1005);
	expect_event(&ev[7], 3, -1, 1, 0.0, 1008);

	/* Switching a commanded manual relay to alarm mode opens it. */
	assert_int_equal(bm_io_command(&io, 0, true, 3.1, 1010), BM_OK);
	bm_io_cfg c2 = cfg;
	c2.dout[0].mode = BM_DO_ALARM;
	assert_int_equal(bm_io_set_config(&io, &c2, NULL), BM_OK);
	assert_int_equal(io.do_state, 0x0);
	assert_int_equal(take(ev, 16), 2);
	expect_event(&ev[1], 3, -1, 0, 0.0, 1010);
}

/* ---- digital inputs ----------------------------------------------------- */

static void test_inputs_soe(void **state)
{
	setup(state);
	start(1);
	bm_soe want[4 * 30];
	int n_want = 0;
	uint32_t count[BM_DI_MAX] = {0};
	uint8_t prev = 0;
	uint32_t x = 12345;
	bm_io_event ev[8];
	for (int step = 0; step < 30; step++) {
		x = x * 1103515245u + 12345u;
		uint8_t st = (uint8_t)(x >> 16 & 0xF);
		double t = 0.05 * (step + 1);
		int64_t rtc = RTC0 + 50 * step + 7;
		bm_io_inputs(&io, st, t, rtc);
		int n_ev = 0;
		for (int i = 0; i < BM_DI_MAX; i++)
			if ((st ^ prev) >> i & 1) {
				count[i]++;
				want[n_want++] = (bm_soe){rtc, (uint8_t)i, (uint8_t)(st >> i & 1)};
				n_ev++;
			}
		assert_int_equal(take(ev, 8), n_ev);
		for (int e = 0; e < n_ev; e++) {
			const bm_soe *w = &want[n_want - n_ev + e];
			expect_event(&ev[e], 2, -1, w->input, w->state, rtc);
		}
		prev = st;
		assert_int_equal(io.di_state, st);
	}
	assert_true(n_want > BM_SOE_MAX); /* the ring has wrapped */
	for (int i = 0; i < BM_DI_MAX; i++)
		assert_int_equal(io.di_count[i], count[i]);
	for (int i = 0; i < BM_SOE_MAX; i++) {
		bm_soe got;
		assert_int_equal(bm_io_soe(&io, (unsigned)i, &got), BM_OK);
		const bm_soe *w = &want[n_want - 1 - i];
		assert_int_equal(got.rtc_ms, w->rtc_ms);
		assert_int_equal(got.input, w->input);
		assert_int_equal(got.state, w->state);
	}
	bm_soe got;
	assert_int_equal(bm_io_soe(&io, BM_SOE_MAX, &got), BM_E_NOTFOUND);

	/* Before the ring fills: only what was recorded. */
	setup(state);
	start(1);
	assert_int_equal(bm_io_soe(&io, 0, &got), BM_E_NOTFOUND);
	bm_io_inputs(&io, 0x1, 1.0, 111);
	bm_io_inputs(&io, 0x1, 1.1, 112); /* no change */
	bm_io_inputs(&io, 0x0, 1.2, 113);
	assert_int_equal(bm_io_soe(&io, 0, &got), BM_OK);
	assert_int_equal(got.rtc_ms, 113);
	assert_int_equal(got.state, 0);
	assert_int_equal(bm_io_soe(&io, 1, &got), BM_OK);
	assert_int_equal(got.rtc_ms, 111);
	assert_int_equal(got.state, 1);
	assert_int_equal(bm_io_soe(&io, 2, &got), BM_E_NOTFOUND);
	assert_int_equal(io.di_count[0], 2);

	/* Inputs the model lacks are ignored. */
	setup(state);
	caps.n_di = 2;
	start(1);
	bm_io_inputs(&io, 0xC, 1.0, 1);
	assert_int_equal(io.di_state, 0);
	assert_int_equal(io.di_count[2] + io.di_count[3], 0);
	assert_int_equal(bm_io_soe(&io, 0, &got), BM_E_NOTFOUND);
	no_events();
	bm_io_inputs(&io, 0xE, 1.1, 2);
	assert_int_equal(io.di_state, 0x2);
	assert_int_equal(io.di_count[1], 1);
	assert_int_equal(io.soe_n, 1);
	/* An input alarm "while open" on a missing input (past validation)
	 * never starts: the input is not there, not open. */
	io.cfg.di[3] = (bm_di_cfg){1, 0, 1, 0x1, 0.0};
	bm_io_tick(&io, 2.0, 3);
	bm_io_inputs(&io, 0x0, 2.1, 4);
	assert_int_equal(bm_io_di_alarm_status(&io), 0);
	assert_int_equal(io.do_state, 0);
	assert_int_equal(io.buzzer, 0);
}

static void test_input_alarms(void **state)
{
	setup(state);
	cfg.di[0] = (bm_di_cfg){1, 1, 1, 0x1, 0.5}; /* alarm while closed, 0.5 s, buzzer */
	cfg.di[1] = (bm_di_cfg){1, 0, 0, 0x2, 0.0}; /* alarm while open */
	start(1);
	bm_io_event ev[16];
	bm_io_inputs(&io, 0x2, 0.1, 100); /* input 1 closed: its alarm never starts */
	assert_int_equal(bm_io_di_alarm_status(&io), 0);
	bm_io_inputs(&io, 0x3, 1.0, 200);
	bm_io_tick(&io, 1.4, 300);
	assert_int_equal(bm_io_di_alarm_status(&io), 0);
	assert_int_equal(io.do_state, 0);
	bm_io_tick(&io, 1.5, 400);
	assert_int_equal(bm_io_di_alarm_status(&io), 0x1);
	assert_int_equal(io.do_state, 0x1);
	assert_int_equal(io.buzzer, 1);
	assert_int_equal(take(ev, 16), 4);
	expect_event(&ev[0], 2, -1, 1, 1.0, 100);
	expect_event(&ev[1], 2, -1, 0, 1.0, 200);
	expect_event(&ev[2], 0, -1, 0, 1.0, 400);
	expect_event(&ev[3], 3, -1, 0, 1.0, 400);

	bm_io_inputs(&io, 0x1, 2.0, 500); /* input 1 opens: its alarm at once */
	assert_int_equal(bm_io_di_alarm_status(&io), 0x3);
	assert_int_equal(io.do_state, 0x3);
	bm_io_inputs(&io, 0x0, 2.5, 600); /* input 0 opens: its alarm ends */
	assert_int_equal(bm_io_di_alarm_status(&io), 0x2);
	assert_int_equal(io.do_state, 0x2);
	assert_int_equal(io.buzzer, 0);
	assert_int_equal(take(ev, 16), 6);
	expect_event(&ev[0], 2, -1, 1, 0.0, 500);
	expect_event(&ev[1], 0, -1, 1, 0.0, 500);
	expect_event(&ev[2], 3, -1, 1, 1.0, 500);
	expect_event(&ev[3], 2, -1, 0, 0.0, 600);
	expect_event(&ev[4], 1, -1, 0, 1.0, 600);
	expect_event(&ev[5], 3, -1, 0, 0.0, 600);

	/* A bounce restarts the delay. */
	bm_io_inputs(&io, 0x1, 3.0, 700);
	bm_io_inputs(&io, 0x0, 3.3, 710);
	bm_io_inputs(&io, 0x1, 3.4, 720);
	bm_io_tick(&io, 3.8, 730);
	assert_int_equal(bm_io_di_alarm_status(&io), 0x2);
	bm_io_tick(&io, 3.9, 740);
	assert_int_equal(bm_io_di_alarm_status(&io), 0x3);
	/* The window drives the input alarms' clock too. */
	bm_io_inputs(&io, 0x0, 4.0, 750);
	bm_io_inputs(&io, 0x1, 4.1, 760);
	win = 21; /* the next window ends at 4.4 s */
	window();
	assert_int_equal(bm_io_di_alarm_status(&io), 0x2);
	window(); /* t 4.6 */
	assert_int_equal(bm_io_di_alarm_status(&io), 0x3);
}

/* ---- buzzer, queue ------------------------------------------------------ */

static void test_buzzer(void **state)
{
	setup(state);
	over_i(0);
	cfg.al[0][BM_AL_OVER_I].buzzer = 1;
	cfg.al[0][BM_AL_OVER_U].enabled = 1;
	cfg.al[0][BM_AL_OVER_U].threshold = 250.0;
	start(1);
	V[0][BM_Q_U1] = 260.0;
	window();
	assert_true(active(0, BM_AL_OVER_U));
	assert_int_equal(io.buzzer, 0);
	current(150);
	window();
	assert_int_equal(io.buzzer, 1);
	current(10);
	window();
	assert_int_equal(io.buzzer, 0);
	assert_true(active(0, BM_AL_OVER_U));
}

static void test_event_overflow(void **state)
{
	setup(state);
	cfg.dout[0].mode = BM_DO_MANUAL;
	start(1);
	for (int i = 0; i < BM_IO_EVENTS_MAX + 6; i++)
		assert_int_equal(bm_io_command(&io, 0, i % 2 == 0, 0.1 * i, 1000 + i), BM_OK);
	assert_int_equal(io.ev_lost, 6);
	bm_io_event ev[BM_IO_EVENTS_MAX];
	assert_int_equal(take(ev, 0), 0);
	assert_int_equal(take(ev, 10), 10);
	assert_int_equal(take(ev + 10, BM_IO_EVENTS_MAX), BM_IO_EVENTS_MAX - 10);
	for (int i = 0; i < BM_IO_EVENTS_MAX; i++) /* the oldest kept, in order */
		expect_event(&ev[i], 3, -1, 0, i % 2 == 0 ? 1.0 : 0.0, 1000 + i);
	no_events();
	assert_int_equal(bm_io_command(&io, 0, true, 100.0, 5000), BM_OK);
	expect_one(3, -1, 0, 1.0, 5000);
	assert_int_equal(io.ev_lost, 6);
}

/* ---- validation ----------------------------------------------------------- */

enum {
	F_AL_EN, F_AL_BUZ, F_AL_THR, F_AL_REL, F_AL_DEL, F_AL_MASK,
	F_DI_AL, F_DI_LEV, F_DI_BUZ, F_DI_DEL, F_DI_MASK,
	F_DO_MODE, F_DO_PULSE, F_DO_DEL, F_DO_HOLD, F_DO_PS,
};

typedef struct vrow {
	int f;
	int c, i; /* circuit (alarms), index (alarm type / input / relay) */
	double v;
	const char *field; /* NULL: valid */
} vrow;

static void apply(bm_io_cfg *c, const vrow *r)
{
	bm_al_cfg *a = &c->al[r->c < 0 ? 0 : r->c][r->i];
	bm_di_cfg *d = &c->di[r->i % BM_DI_MAX];
	bm_do_cfg *o = &c->dout[r->i % BM_DO_MAX];
	switch (r->f) {
	case F_AL_EN: a->enabled = (uint8_t)r->v; break;
	case F_AL_BUZ: a->buzzer = (uint8_t)r->v; break;
	case F_AL_THR: a->threshold = r->v; break;
	case F_AL_REL: a->release_pct = r->v; break;
	case F_AL_DEL: a->delay_s = r->v; break;
	case F_AL_MASK: a->relay_mask = (uint8_t)r->v; break;
	case F_DI_AL: d->alarm = (uint8_t)r->v; break;
	case F_DI_LEV: d->level = (uint8_t)r->v; break;
	case F_DI_BUZ: d->buzzer = (uint8_t)r->v; break;
	case F_DI_DEL: d->delay_s = r->v; break;
	case F_DI_MASK: d->relay_mask = (uint8_t)r->v; break;
	case F_DO_MODE: o->mode = (uint8_t)r->v; break;
	case F_DO_PULSE: o->pulse = (uint8_t)r->v; break;
	case F_DO_DEL: o->delay_s = r->v; break;
	case F_DO_HOLD: o->hold_s = r->v; break;
	default: o->pulse_s = r->v; break;
	}
}

static void test_validate(void **state)
{
	(void)state;
	static const vrow rows[] = {
		{F_AL_EN, 2, BM_AL_OVER_S, 2, "alarm.enabled"},
		{F_AL_BUZ, 1, BM_AL_UNDER_I, 2, "alarm.buzzer"},
		{F_AL_THR, 3, BM_AL_OVER_THDU, -0.001, "alarm.threshold"},
		{F_AL_THR, 0, BM_AL_OVER_P, 1.1e12, "alarm.threshold"},
		{F_AL_THR, 0, BM_AL_OVER_P, NAN, "alarm.threshold"},
		{F_AL_THR, 0, BM_AL_OVER_P, INFINITY, "alarm.threshold"},
		{F_AL_THR, 0, BM_AL_OVER_P, 0.0, NULL},
		{F_AL_THR, 0, BM_AL_OVER_P, 1e12, NULL},
		{F_AL_REL, 1, BM_AL_OVER_I, 49.9, "alarm.release_pct"},
		{F_AL_REL, 1, BM_AL_OVER_I, 100.1, "alarm.release_pct"},
		{F_AL_REL, 1, BM_AL_OVER_I, NAN, "alarm.release_pct"},
		{F_AL_REL, 1, BM_AL_OVER_I, 105.0, "alarm.release_pct"}, /* an under alarm's value */
		{F_AL_REL, 1, BM_AL_OVER_I, 50.0, NULL},
		{F_AL_REL, 1, BM_AL_OVER_I, 100.0, NULL},
		{F_AL_REL, 2, BM_AL_UNDER_UL, 99.9, "alarm.release_pct"},
		{F_AL_REL, 2, BM_AL_UNDER_UL, 200.1, "alarm.release_pct"},
		{F_AL_REL, 2, BM_AL_UNDER_UL, 95.0, "alarm.release_pct"},
		{F_AL_REL, 2, BM_AL_UNDER_UL, 100.0, NULL},
		{F_AL_REL, 2, BM_AL_UNDER_UL, 200.0, NULL},
		{F_AL_DEL, 0, BM_AL_OVER_DQ, -0.1, "alarm.delay_s"},
		{F_AL_DEL, 0, BM_AL_OVER_DQ, 3600.1, "alarm.delay_s"},
		{F_AL_DEL, 0, BM_AL_OVER_DQ, NAN, "alarm.delay_s"},
		{F_AL_DEL, 0, BM_AL_OVER_DQ, 3600.0, NULL},
		{F_AL_MASK, 0, BM_AL_OVER_T, 0x10, "alarm.relay_mask"},
		{F_AL_MASK, 0, BM_AL_OVER_T, 0x0F, NULL},
		{F_DI_AL, -1, 0, 2, "input.alarm"},
		{F_DI_LEV, -1, 1, 2, "input.level"},
		{F_DI_LEV, -1, 1, 0, NULL},
		{F_DI_BUZ, -1, 2, 2, "input.buzzer"},
		{F_DI_DEL, -1, 3, -1, "input.delay_s"},
		{F_DI_DEL, -1, 3, 3601, "input.delay_s"},
		{F_DI_DEL, -1, 3, NAN, "input.delay_s"},
		{F_DI_DEL, -1, 3, 3600, NULL},
		{F_DI_MASK, -1, 0, 0x10, "input.relay_mask"},
		{F_DO_MODE, -1, 0, 2, "relay.mode"},
		{F_DO_MODE, -1, 0, 0, NULL},
		{F_DO_PULSE, -1, 1, 2, "relay.pulse"},
		{F_DO_DEL, -1, 2, -1, "relay.delay_s"},
		{F_DO_DEL, -1, 2, 3600.5, "relay.delay_s"},
		{F_DO_DEL, -1, 2, NAN, "relay.delay_s"},
		{F_DO_HOLD, -1, 3, -0.5, "relay.hold_s"},
		{F_DO_HOLD, -1, 3, 3601, "relay.hold_s"},
		{F_DO_HOLD, -1, 3, INFINITY, "relay.hold_s"},
		{F_DO_HOLD, -1, 3, 3600, NULL},
		{F_DO_PS, -1, 0, 0.09, "relay.pulse_s"},
		{F_DO_PS, -1, 0, 0.0, "relay.pulse_s"},
		{F_DO_PS, -1, 0, 3601, "relay.pulse_s"},
		{F_DO_PS, -1, 0, NAN, "relay.pulse_s"},
		{F_DO_PS, -1, 0, 0.1, NULL},
		{F_DO_PS, -1, 0, 3600, NULL},
	};
	bm_io_caps full = {BM_DO_MAX, BM_DI_MAX, 0xF, 0xF};
	bm_io_cfg c;
	bm_io_default(&c);
	assert_int_equal(bm_io_validate(&c, &full, NULL), BM_OK);
	bm_io_caps none = {0, 0, 0, 0};
	assert_int_equal(bm_io_validate(&c, &none, NULL), BM_OK); /* the defaults fit every model */
	for (size_t n = 0; n < sizeof rows / sizeof rows[0]; n++) {
		const vrow *r = &rows[n];
		bm_io_default(&c);
		apply(&c, r);
		bm_cfg_issue is = {"?", "?", 99, 99};
		bm_err e = bm_io_validate(&c, &full, &is);
		if (!r->field) {
			assert_int_equal(e, BM_OK);
			continue;
		}
		assert_int_equal(e, BM_E_INVAL);
		assert_string_equal(is.field, r->field);
		assert_int_equal(is.circuit, r->c);
		assert_int_equal(is.input, r->i);
		assert_non_null(is.reason);
	}

	/* What the model lacks. */
	bm_io_caps some = {1, 2, 0x2, 0x4};
	static const vrow lack[] = {
		{F_AL_EN, 0, BM_AL_OVER_T, 1, "alarm.enabled"},
		{F_AL_EN, 1, BM_AL_OVER_T, 1, NULL},
		{F_AL_EN, 1, BM_AL_OVER_IRES, 1, "alarm.enabled"},
		{F_AL_EN, 2, BM_AL_OVER_IRES, 1, NULL},
		{F_AL_THR, 0, BM_AL_OVER_T, 50, NULL}, /* disabled: may be set */
		{F_AL_MASK, 3, BM_AL_OVER_I, 0x2, "alarm.relay_mask"},
		{F_AL_MASK, 3, BM_AL_OVER_I, 0x1, NULL},
		{F_DI_MASK, -1, 1, 0x2, "input.relay_mask"},
		{F_DI_AL, -1, 2, 1, "input.alarm"},
		{F_DI_AL, -1, 1, 1, NULL},
	};
	for (size_t n = 0; n < sizeof lack / sizeof lack[0]; n++) {
		const vrow *r = &lack[n];
		bm_io_default(&c);
		apply(&c, r);
		bm_cfg_issue is = {0};
		bm_err e = bm_io_validate(&c, &some, &is);
		if (!r->field) {
			assert_int_equal(e, BM_OK);
			continue;
		}
		assert_int_equal(e, BM_E_INVAL);
		assert_string_equal(is.field, r->field);
		assert_int_equal(is.circuit, r->c);
		assert_int_equal(is.input, r->i);
		assert_non_null(strstr(is.reason, "not on this model"));
	}

	/* Defaults as documented. */
	bm_io_default(&c);
	assert_int_equal(c.al[2][BM_AL_OVER_UL].enabled, 0);
	assert_true(c.al[2][BM_AL_OVER_UL].release_pct == 95.0);
	assert_true(c.al[2][BM_AL_UNDER_I].release_pct == 105.0);
	assert_int_equal(c.di[3].level, 1);
	assert_int_equal(c.dout[3].mode, BM_DO_ALARM);
	assert_true(c.dout[3].pulse_s == 1.0);

	/* init: circuits and caps. */
	bm_io x;
	memset(&x, 0x5A, sizeof x);
	bm_cfg_issue is = {0};
	assert_int_equal(bm_io_init(&x, &c, &full, 0, &is), BM_E_INVAL);
	assert_string_equal(is.field, "n_circuits");
	assert_int_equal(bm_io_init(&x, &c, &full, BM_MAX_CIRCUITS + 1, &is), BM_E_INVAL);
	bm_io_caps too_many = {BM_DO_MAX + 1, 0, 0, 0};
	assert_int_equal(bm_io_init(&x, &c, &too_many, 1, &is), BM_E_INVAL);
	assert_int_equal(((uint8_t *)&x)[0], 0x5A); /* untouched */
	assert_int_equal(bm_io_init(&x, &c, &full, BM_MAX_CIRCUITS, &is), BM_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_power_is_absolute),
		cmocka_unit_test(test_line_undervoltage),
		cmocka_unit_test(test_disabled_and_set_config),
		cmocka_unit_test(test_circuits),
		cmocka_unit_test(test_relay_alarm_mode),
		cmocka_unit_test(test_relay_pulse),
		cmocka_unit_test(test_relay_association),
		cmocka_unit_test(test_relay_manual),
		cmocka_unit_test(test_inputs_soe),
		cmocka_unit_test(test_input_alarms),
		cmocka_unit_test(test_buzzer),
		cmocka_unit_test(test_event_overflow),
		cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
