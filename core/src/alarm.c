/*
 * alarm.c — alarms, relay outputs and digital inputs (see alarm.h for the
 * alarm logic and the relay modes; spec: MPM4000 manual §5.9, §5.10,
 * §7.5.6, §7.5.7).
 *
 * Invariants:
 *  - Time only moves forward: every entry point takes t = max(t_s, io->t_s),
 *    so a late or NaN time can neither shorten a delay nor reopen a relay
 *    early.
 *  - An alarm is in one of three states: idle, pending (trigger condition
 *    holding since since_s, delay running) or active. Only an active alarm
 *    has an extreme; every on event is followed by exactly one off event
 *    (release, configuration change or disabling).
 *  - A relay at or beyond caps.n_do is never closed; a relay event is queued
 *    exactly when a bit of do_state changes, so the events replay the
 *    relay's history.
 *  - The event queue holds the oldest events: when full, the newest is
 *    dropped and counted in ev_lost (the log then shows a gap at its end,
 *    not a hole in the middle).
 */
#include <math.h>
#include <string.h>

#include "bm/alarm.h"
#include "bm/quantity.h"

/* Delays and hold times are compared with this slack: the sample clock is a
 * sum of window lengths, and 5 windows of 0.2 s may add up to 0.9999999999999
 * s. 1 µs is a tenth of a sample period at the highest rate (102.4 kS/s), so
 * no real delay is shortened by a window. */
#define T_EPS 1e-6

#define THRESHOLD_MAX 1e12 /* the largest power the metering accepts (W, var, VA) */
#define DELAY_MAX 3600.0

#define IS_UNDER(id) (BM_AL_##id == BM_AL_UNDER_I || BM_AL_##id == BM_AL_UNDER_U || BM_AL_##id == BM_AL_UNDER_UL)

const bm_al_info bm_al_table[BM_AL_TYPE_COUNT] = {
#define BM_AL_INFO(id, name, desc, unit) {name, desc, unit, IS_UNDER(id)},
	BM_AL_TYPES(BM_AL_INFO)
#undef BM_AL_INFO
};

/* ---- configuration ---------------------------------------------------- */

void bm_io_default(bm_io_cfg *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof *cfg);
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
			cfg->al[c][k].release_pct = bm_al_table[k].under ? 105.0 : 95.0;
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		cfg->di[i].level = 1;
	for (unsigned r = 0; r < BM_DO_MAX; r++) {
		cfg->dout[r].mode = BM_DO_ALARM;
		cfg->dout[r].pulse_s = 1.0;
	}
}

static bool in_range(double x, double lo, double hi)
{
	return isfinite(x) && x >= lo && x <= hi; /* false for NaN too */
}

/* Relays the caps have, as a mask of relay_mask bits. */
static uint8_t do_mask(const bm_io_caps *caps)
{
	return (uint8_t)((1u << (caps->n_do < BM_DO_MAX ? caps->n_do : BM_DO_MAX)) - 1u);
}

static bm_err al_validate(const bm_al_cfg *a, const bm_io_caps *caps, int c, int k, bm_cfg_issue *issue)
{
	if (a->enabled > 1)
		return bm_cfg_fail(issue, "alarm.enabled", "must be 0 or 1", c, k);
	if (a->buzzer > 1)
		return bm_cfg_fail(issue, "alarm.buzzer", "must be 0 or 1", c, k);
	if (!in_range(a->threshold, 0.0, THRESHOLD_MAX))
		return bm_cfg_fail(issue, "alarm.threshold", "must be 0..1e12", c, k);
	if (bm_al_table[k].under) {
		if (!in_range(a->release_pct, 100.0, 200.0))
			return bm_cfg_fail(issue, "alarm.release_pct", "must be 100..200 % for an under alarm", c, k);
	} else if (!in_range(a->release_pct, 50.0, 100.0)) {
		return bm_cfg_fail(issue, "alarm.release_pct", "must be 50..100 % for an over alarm", c, k);
	}
	if (!in_range(a->delay_s, 0.0, DELAY_MAX))
		return bm_cfg_fail(issue, "alarm.delay_s", "must be 0..3600 s", c, k);
	if (a->relay_mask & ~do_mask(caps))
		return bm_cfg_fail(issue, "alarm.relay_mask", "relay not on this model", c, k);
	if (a->enabled && k == BM_AL_OVER_T && !(caps->temperature >> c & 1u))
		return bm_cfg_fail(issue, "alarm.enabled", "temperature input not on this model", c, k);
	if (a->enabled && k == BM_AL_OVER_IRES && !(caps->residual >> c & 1u))
		return bm_cfg_fail(issue, "alarm.enabled", "residual-current input not on this model", c, k);
	return BM_OK;
}

bm_err bm_io_validate(const bm_io_cfg *cfg, const bm_io_caps *caps, bm_cfg_issue *issue)
{
	if (!cfg || !caps)
		return bm_cfg_fail(issue, "io", "missing", -1, -1);
	if (caps->n_do > BM_DO_MAX || caps->n_di > BM_DI_MAX)
		return bm_cfg_fail(issue, "io.caps", "more relays or inputs than BM_DO_MAX / BM_DI_MAX", -1, -1);
	for (int c = 0; c < BM_MAX_CIRCUITS; c++)
		for (int k = 0; k < BM_AL_TYPE_COUNT; k++) {
			bm_err e = al_validate(&cfg->al[c][k], caps, c, k, issue);
			if (e != BM_OK)
				return e;
		}
	for (int i = 0; i < BM_DI_MAX; i++) {
		const bm_di_cfg *d = &cfg->di[i];
		if (d->alarm > 1)
			return bm_cfg_fail(issue, "input.alarm", "must be 0 or 1", -1, i);
		if (d->level > 1)
			return bm_cfg_fail(issue, "input.level", "must be 0 (open) or 1 (closed)", -1, i);
		if (d->buzzer > 1)
			return bm_cfg_fail(issue, "input.buzzer", "must be 0 or 1", -1, i);
		if (!in_range(d->delay_s, 0.0, DELAY_MAX))
			return bm_cfg_fail(issue, "input.delay_s", "must be 0..3600 s", -1, i);
		if (d->relay_mask & ~do_mask(caps))
			return bm_cfg_fail(issue, "input.relay_mask", "relay not on this model", -1, i);
		if (d->alarm && i >= caps->n_di)
			return bm_cfg_fail(issue, "input.alarm", "digital input not on this model", -1, i);
	}
	for (int r = 0; r < BM_DO_MAX; r++) {
		const bm_do_cfg *o = &cfg->dout[r];
		if (o->mode >= BM_DO_MODE_COUNT)
			return bm_cfg_fail(issue, "relay.mode", "must be 0 (manual) or 1 (alarm)", -1, r);
		if (o->pulse > 1)
			return bm_cfg_fail(issue, "relay.pulse", "must be 0 or 1", -1, r);
		if (!in_range(o->delay_s, 0.0, DELAY_MAX))
			return bm_cfg_fail(issue, "relay.delay_s", "must be 0..3600 s", -1, r);
		if (!in_range(o->hold_s, 0.0, DELAY_MAX))
			return bm_cfg_fail(issue, "relay.hold_s", "must be 0..3600 s", -1, r);
		if (!in_range(o->pulse_s, 0.1, DELAY_MAX))
			return bm_cfg_fail(issue, "relay.pulse_s", "must be 0.1..3600 s", -1, r);
	}
	return BM_OK;
}

/* ---- events ----------------------------------------------------------- */

static void ev_push(bm_io *io, uint8_t kind, int8_t circuit, uint8_t index, double value, int64_t rtc_ms)
{
	if (io->ev_n >= BM_IO_EVENTS_MAX) {
		io->ev_lost++;
		return;
	}
	bm_io_event *e = &io->ev[io->ev_n++];
	e->kind = kind;
	e->circuit = circuit;
	e->index = index;
	e->value = value;
	e->rtc_ms = rtc_ms;
}

enum { EV_ON = 0, EV_OFF = 1, EV_INPUT = 2, EV_RELAY = 3 };

size_t bm_io_take_events(bm_io *io, bm_io_event *out, size_t cap)
{
	if (!io || !out)
		return 0;
	size_t n = io->ev_n < cap ? io->ev_n : cap;
	memcpy(out, io->ev, n * sizeof *out);
	memmove(io->ev, io->ev + n, (io->ev_n - n) * sizeof *io->ev);
	io->ev_n = (uint8_t)(io->ev_n - n);
	return n;
}

/* ---- time --------------------------------------------------------------- */

static double advance(bm_io *io, double t_s, int64_t rtc_ms)
{
	if (t_s > io->t_s) /* false for NaN: the clock stays */
		io->t_s = t_s;
	io->rtc_ms = rtc_ms;
	return io->t_s;
}

static bool elapsed(double t, double from, double len)
{
	return t - from >= len - T_EPS;
}

/* ---- alarm state machine ---------------------------------------------- */

/* Ends an active alarm (off event with its extreme) and forgets a pending one. */
static void al_end(bm_io *io, bm_al_state *s, int8_t circuit, uint8_t index, int64_t rtc_ms)
{
	if (s->active)
		ev_push(io, EV_OFF, circuit, index, s->extreme, rtc_ms);
	s->active = 0;
	s->pending = 0;
	s->since_s = 0.0;
	s->extreme = 0.0;
}

/* One evaluation: trig (with the value that would trigger, tv), released,
 * and most (the most extreme value now, for the extreme while active). */
static void al_step(bm_io *io, bm_al_state *s, double delay_s, bool under, bool trig, double tv, bool released,
                    double most, double t, int8_t circuit, uint8_t index, int64_t rtc_ms)
{
	if (s->active) {
		if (released) {
			al_end(io, s, circuit, index, rtc_ms);
		} else if (!isnan(most) && (under ? most < s->extreme : most > s->extreme)) {
			s->extreme = most;
		}
		return;
	}
	if (!trig) {
		s->pending = 0; /* a dip restarts the delay */
		return;
	}
	if (!s->pending) {
		s->pending = 1;
		s->since_s = t;
	}
	if (elapsed(t, s->since_s, delay_s)) {
		s->active = 1;
		s->pending = 0;
		s->extreme = tv;
		ev_push(io, EV_ON, circuit, index, tv, rtc_ms);
	}
}

/* The values an alarm type looks at, NaN left out; returns how many. */
static unsigned gather(bm_al_type k, const bm_al_values *v, double out[3])
{
	static const uint8_t phase_q[][3] = {
		{BM_Q_I1, BM_Q_I2, BM_Q_I3},
		{BM_Q_U1, BM_Q_U2, BM_Q_U3},
		{BM_Q_U12, BM_Q_U23, BM_Q_U31},
		{BM_Q_THDU1, BM_Q_THDU2, BM_Q_THDU3},
		{BM_Q_THDI1, BM_Q_THDI2, BM_Q_THDI3},
	};
	double raw[3];
	unsigned n = 0;
	const double *q = v->v;
	int set = -1;

	switch (k) {
	case BM_AL_OVER_I:
	case BM_AL_UNDER_I:
		set = 0;
		break;
	case BM_AL_OVER_U:
	case BM_AL_UNDER_U:
		set = 1;
		break;
	case BM_AL_OVER_UL:
	case BM_AL_UNDER_UL:
		set = 2;
		break;
	case BM_AL_OVER_THDU:
		set = 3;
		break;
	case BM_AL_OVER_THDI:
		set = 4;
		break;
	case BM_AL_OVER_P:
		raw[n++] = q ? fabs(q[BM_Q_P]) : NAN;
		break;
	case BM_AL_OVER_Q:
		raw[n++] = q ? fabs(q[BM_Q_Q]) : NAN;
		break;
	case BM_AL_OVER_S:
		raw[n++] = q ? q[BM_Q_S] : NAN;
		break;
	case BM_AL_OVER_DP:
	case BM_AL_OVER_DQ:
	case BM_AL_OVER_DS:
		raw[n++] = v->demand[k - BM_AL_OVER_DP];
		break;
	case BM_AL_OVER_T:
		raw[n++] = v->temperature_c;
		break;
	case BM_AL_OVER_IRES:
		raw[n++] = v->residual_ma;
		break;
	case BM_AL_TYPE_COUNT:
		break;
	}
	if (set >= 0)
		for (unsigned p = 0; p < 3; p++)
			raw[n++] = q ? q[phase_q[set][p]] : NAN;
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++)
		if (!isnan(raw[i]))
			out[m++] = raw[i];
	return m;
}

static void al_eval(bm_io *io, unsigned c, bm_al_type k, const bm_al_values *v, double t, int64_t rtc_ms)
{
	const bm_al_cfg *a = &io->cfg.al[c][k];
	bool under = bm_al_table[k].under;
	double x[3];
	unsigned n = gather(k, v, x);
	double thr = a->threshold, rel = a->threshold * a->release_pct / 100.0;
	bool trig = false, released = true;
	double tv = NAN, most = NAN;

	for (unsigned i = 0; i < n; i++) {
		/* With no values none of this runs: no trigger, and released. */
		if (under ? x[i] <= thr : x[i] >= thr) {
			trig = true;
			if (isnan(tv) || (under ? x[i] < tv : x[i] > tv))
				tv = x[i];
		}
		if (!(under ? x[i] > rel : x[i] < rel))
			released = false;
		if (isnan(most) || (under ? x[i] < most : x[i] > most))
			most = x[i];
	}
	al_step(io, &io->al[c][k], a->delay_s, under, trig, tv, released, most, t, (int8_t)c, (uint8_t)k, rtc_ms);
}

static void di_eval(bm_io *io, double t, int64_t rtc_ms)
{
	for (unsigned i = 0; i < BM_DI_MAX; i++) {
		const bm_di_cfg *d = &io->cfg.di[i];
		double state = (double)(io->di_state >> i & 1u);
		bool at = d->alarm && i < io->caps.n_di && (io->di_state >> i & 1u) == d->level;
		/* The "value" of an input alarm is the input's state (the level). */
		al_step(io, &io->di_al[i], d->delay_s, false, at, state, !at, state, t, -1, (uint8_t)i, rtc_ms);
	}
}

/* ---- relays ----------------------------------------------------------- */

static void do_set(bm_io *io, unsigned r, bool close, double t, int64_t rtc_ms)
{
	uint8_t bit = (uint8_t)(1u << r);
	if (close == !!(io->do_state & bit))
		return;
	if (close) {
		io->do_state |= bit;
		io->do_closed_at[r] = t;
	} else {
		io->do_state &= (uint8_t)~bit;
	}
	ev_push(io, EV_RELAY, -1, (uint8_t)r, close ? 1.0 : 0.0, rtc_ms);
}

/* Relays with an active alarm associated (bit r). */
static uint8_t associated(const bm_io *io)
{
	unsigned m = 0;
	for (unsigned c = 0; c < io->n_circuits; c++)
		for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
			if (io->al[c][k].active)
				m |= io->cfg.al[c][k].relay_mask;
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		if (io->di_al[i].active)
			m |= io->cfg.di[i].relay_mask;
	return (uint8_t)m;
}

static void buzzer_update(bm_io *io)
{
	uint8_t b = 0;
	for (unsigned c = 0; c < io->n_circuits; c++)
		for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
			if (io->al[c][k].active && io->cfg.al[c][k].buzzer)
				b = 1;
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		if (io->di_al[i].active && io->cfg.di[i].buzzer)
			b = 1;
	io->buzzer = b;
}

static void relays(bm_io *io, double t, int64_t rtc_ms)
{
	uint8_t assoc = associated(io);
	for (unsigned r = 0; r < BM_DO_MAX; r++) {
		const bm_do_cfg *o = &io->cfg.dout[r];
		uint8_t bit = (uint8_t)(1u << r);
		bool closed = io->do_state & bit;
		if (r >= io->caps.n_do) {
			do_set(io, r, false, t, rtc_ms); /* a no-op: nothing closes it (invariant) */
			continue;
		}
		if (o->mode == BM_DO_MANUAL) {
			if (o->pulse && closed && io->do_pulse_end[r] > 0.0 && elapsed(t, io->do_pulse_end[r], 0.0)) {
				io->do_manual &= (uint8_t)~bit; /* the command is spent */
				io->do_pulse_end[r] = 0.0;
				do_set(io, r, false, t, rtc_ms);
			}
			continue;
		}
		bool a = assoc & bit, prev = io->do_prev_alarm & bit;
		if (a && !prev)
			io->do_arm_at[r] = t; /* rising edge: the relay's delay starts */
		else if (!a)
			io->do_arm_at[r] = -1.0; /* fell before the delay: no close */
		io->do_prev_alarm = (uint8_t)(a ? io->do_prev_alarm | bit : io->do_prev_alarm & ~bit);
		bool due = io->do_arm_at[r] >= 0.0 && elapsed(t, io->do_arm_at[r], o->delay_s);
		if (o->pulse) {
			if (due) {
				/* One pulse per activation: the arm is consumed, so an alarm
				 * that stays active does not pulse again. */
				io->do_arm_at[r] = -1.0;
				io->do_pulse_end[r] = t + o->pulse_s;
				do_set(io, r, true, t, rtc_ms);
			} else if (closed && io->do_pulse_end[r] > 0.0 && elapsed(t, io->do_pulse_end[r], 0.0)) {
				io->do_pulse_end[r] = 0.0;
				do_set(io, r, false, t, rtc_ms);
			}
		} else if (!closed) {
			if (due)
				do_set(io, r, true, t, rtc_ms);
		} else if (!a && elapsed(t, io->do_closed_at[r], o->hold_s)) {
			do_set(io, r, false, t, rtc_ms);
		}
	}
}

static void tick(bm_io *io, double t, int64_t rtc_ms)
{
	di_eval(io, t, rtc_ms);
	buzzer_update(io);
	relays(io, t, rtc_ms);
}

/* ---- life cycle --------------------------------------------------------- */

bm_err bm_io_init(bm_io *io, const bm_io_cfg *cfg, const bm_io_caps *caps, uint8_t n_circuits, bm_cfg_issue *issue)
{
	if (!io)
		return bm_cfg_fail(issue, "io", "missing", -1, -1);
	if (n_circuits < 1 || n_circuits > BM_MAX_CIRCUITS)
		return bm_cfg_fail(issue, "n_circuits", "must be 1..BM_MAX_CIRCUITS", -1, -1);
	bm_err e = bm_io_validate(cfg, caps, issue);
	if (e != BM_OK)
		return e;
	memset(io, 0, sizeof *io);
	io->cfg = *cfg;
	io->caps = *caps;
	io->n_circuits = n_circuits;
	for (unsigned r = 0; r < BM_DO_MAX; r++)
		io->do_arm_at[r] = -1.0;
	return BM_OK;
}

static bool al_cfg_same(const bm_al_cfg *a, const bm_al_cfg *b)
{
	/* Field by field: the padding of a copied struct may differ. */
	return a->enabled == b->enabled && a->buzzer == b->buzzer && a->relay_mask == b->relay_mask &&
	       a->threshold == b->threshold && a->release_pct == b->release_pct && a->delay_s == b->delay_s;
}

static bool di_cfg_same(const bm_di_cfg *a, const bm_di_cfg *b)
{
	return a->alarm == b->alarm && a->level == b->level && a->buzzer == b->buzzer &&
	       a->relay_mask == b->relay_mask && a->delay_s == b->delay_s;
}

static bool do_cfg_same(const bm_do_cfg *a, const bm_do_cfg *b)
{
	return a->mode == b->mode && a->pulse == b->pulse && a->delay_s == b->delay_s && a->hold_s == b->hold_s &&
	       a->pulse_s == b->pulse_s;
}

bm_err bm_io_set_config(bm_io *io, const bm_io_cfg *cfg, bm_cfg_issue *issue)
{
	if (!io)
		return bm_cfg_fail(issue, "io", "missing", -1, -1);
	bm_err e = bm_io_validate(cfg, &io->caps, issue);
	if (e != BM_OK)
		return e;
	double t = io->t_s;
	int64_t rtc = io->rtc_ms;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
			if (!al_cfg_same(&io->cfg.al[c][k], &cfg->al[c][k]))
				al_end(io, &io->al[c][k], (int8_t)c, (uint8_t)k, rtc);
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		if (!di_cfg_same(&io->cfg.di[i], &cfg->di[i]))
			al_end(io, &io->di_al[i], -1, (uint8_t)i, rtc);
	for (unsigned r = 0; r < BM_DO_MAX; r++) {
		const bm_do_cfg *o = &cfg->dout[r];
		uint8_t bit = (uint8_t)(1u << r);
		if (do_cfg_same(&io->cfg.dout[r], o))
			continue;
		/* Start over: an alarm still active is seen as a new rising edge by
		 * the tick below and goes through the new delay. */
		io->do_arm_at[r] = -1.0;
		io->do_pulse_end[r] = 0.0;
		io->do_prev_alarm &= (uint8_t)~bit;
		if (o->mode == BM_DO_MANUAL && (io->do_manual & bit) && r < io->caps.n_do) {
			if (o->pulse)
				io->do_pulse_end[r] = t + o->pulse_s;
			do_set(io, r, true, t, rtc);
		} else {
			io->do_manual &= (uint8_t)~bit;
			do_set(io, r, false, t, rtc);
		}
	}
	io->cfg = *cfg;
	tick(io, t, rtc);
	return BM_OK;
}

/* ---- updates ------------------------------------------------------------ */

void bm_io_window(bm_io *io, const bm_al_values *vals, double t_s, int64_t rtc_ms)
{
	if (!io)
		return;
	double t = advance(io, t_s, rtc_ms);
	if (vals)
		for (unsigned c = 0; c < io->n_circuits; c++)
			for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++) {
				if (io->cfg.al[c][k].enabled)
					al_eval(io, c, (bm_al_type)k, &vals[c], t, rtc_ms);
				else
					al_end(io, &io->al[c][k], (int8_t)c, (uint8_t)k, rtc_ms);
			}
	tick(io, t, rtc_ms);
}

void bm_io_inputs(bm_io *io, uint8_t state, double t_s, int64_t rtc_ms)
{
	if (!io)
		return;
	double t = advance(io, t_s, rtc_ms);
	uint8_t mask = (uint8_t)((1u << io->caps.n_di) - 1u);
	state &= mask;
	uint8_t changed = (uint8_t)((state ^ io->di_state) & mask);
	for (unsigned i = 0; i < io->caps.n_di; i++) {
		if (!(changed >> i & 1u))
			continue;
		uint8_t now = (uint8_t)(state >> i & 1u);
		io->di_count[i]++;
		bm_soe *s = &io->soe[io->soe_head];
		s->rtc_ms = rtc_ms;
		s->input = (uint8_t)i;
		s->state = now;
		io->soe_head = (uint8_t)((io->soe_head + 1u) % BM_SOE_MAX);
		if (io->soe_n < BM_SOE_MAX)
			io->soe_n++;
		ev_push(io, EV_INPUT, -1, (uint8_t)i, now, rtc_ms);
	}
	io->di_state = state;
	/* The input alarm's delay starts now, at the change's own time. */
	tick(io, t, rtc_ms);
}

void bm_io_tick(bm_io *io, double t_s, int64_t rtc_ms)
{
	if (!io)
		return;
	tick(io, advance(io, t_s, rtc_ms), rtc_ms);
}

bm_err bm_io_command(bm_io *io, unsigned r, bool close, double t_s, int64_t rtc_ms)
{
	if (!io || r >= BM_DO_MAX || r >= io->caps.n_do)
		return BM_E_INVAL;
	if (io->cfg.dout[r].mode != BM_DO_MANUAL)
		return BM_E_STATE;
	double t = advance(io, t_s, rtc_ms);
	tick(io, t, rtc_ms); /* what was due before the command happens first */
	uint8_t bit = (uint8_t)(1u << r);
	if (close) {
		io->do_manual |= bit;
		if (io->cfg.dout[r].pulse)
			io->do_pulse_end[r] = t + io->cfg.dout[r].pulse_s; /* a repeated close restarts the pulse */
	} else {
		io->do_manual &= (uint8_t)~bit;
		io->do_pulse_end[r] = 0.0;
	}
	do_set(io, r, close, t, rtc_ms);
	return BM_OK;
}

/* ---- status ------------------------------------------------------------- */

uint32_t bm_io_alarm_status(const bm_io *io, unsigned c)
{
	uint32_t w = 0;
	if (!io || c >= io->n_circuits)
		return 0;
	for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
		if (io->al[c][k].active)
			w |= 1u << k;
	return w;
}

uint32_t bm_io_di_alarm_status(const bm_io *io)
{
	uint32_t w = 0;
	if (!io)
		return 0;
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		if (io->di_al[i].active)
			w |= 1u << i;
	return w;
}

bm_err bm_io_soe(const bm_io *io, unsigned i, bm_soe *out)
{
	if (!io || !out || i >= io->soe_n)
		return BM_E_NOTFOUND;
	*out = io->soe[(io->soe_head + BM_SOE_MAX - 1u - i) % BM_SOE_MAX];
	return BM_OK;
}
