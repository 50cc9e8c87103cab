/*
 * alarm.h — alarms, relay outputs and digital inputs (issue #6; spec:
 * MPM4000 manual §5.9, §5.10, §7.5.6, §7.5.7; KPM312 datasheet: 4 DI with
 * logic alarm input, 4 DO with I/U/P limit output and remote control).
 *
 * Purpose: from each measurement window's values (and the inputs' states),
 * decide which alarms are active, what each relay does, and what happened
 * (events for the event log). The port supplies the window values, the
 * input states and the time; it drives the relays from bm_io.do_state.
 *
 * Alarm logic (spec §5.10.1 table; "values" are the phases the wiring
 * defines, NaN values are left out; with no value the alarm cannot trigger
 * and its release condition holds):
 *  - over alarms (current, phase voltage, line voltage, THD-U, THD-I, power,
 *    demand, temperature, residual current): trigger when ANY value >=
 *    threshold; release when ALL values < threshold * release_pct / 100.
 *  - under alarms (current, phase voltage, line voltage): trigger when ANY
 *    value <= threshold; release when ALL values > threshold * release_pct
 *    / 100. (The spec's table repeats the overvoltage comparison for line
 *    undervoltage; this is the undervoltage reading, docs/alarms.md.)
 *  - Power alarms compare |P|, |Q|, S of the total; demand alarms the
 *    present demand of the interval in progress.
 *  - The trigger condition must hold continuously for delay_s (sample
 *    clock) before the alarm becomes active; the release takes effect at
 *    once. While active, the alarm tracks its extreme value (largest for
 *    over, smallest for under), reported with its end.
 *  - A digital-input logic alarm is active while its input is at the
 *    configured level, after delay_s.
 *
 * Relays (bm_do_cfg):
 *  - MANUAL: the relay follows the last command (bm_io_command); in pulse
 *    mode a close command closes it for pulse_s, then it opens by itself.
 *  - ALARM: the relay closes delay_s after any associated alarm becomes
 *    active and opens when all have released, but not before hold_s after it
 *    closed; in pulse mode it closes for pulse_s at each activation instead.
 *
 * Invariants: plain caller-owned structs, no allocation, no clock: time
 * comes in (t_s, sample-clock seconds since start, never decreasing; rtc_ms,
 * Unix milliseconds, for timestamps only). Configuration is validated by
 * bm_io_validate() (called by bm_settings_validate()).
 */
#ifndef BM_ALARM_H
#define BM_ALARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/config.h"
#include "bm/err.h"
#include "bm/opts.h"

#define BM_DO_MAX 4  /* relay outputs (KPM312 'R': 4; MPM4000: 1) */
#define BM_DI_MAX 4  /* digital inputs (KPM312 'K': 4) */
#define BM_SOE_MAX 32 /* sequence-of-events records kept */

/* Per-circuit alarm types, in this order (bit n of the status word). */
#define BM_AL_TYPES(X) \
	X(OVER_I, "over_i", "Overcurrent: any phase current >= threshold", "A") \
	X(UNDER_I, "under_i", "Undercurrent: any phase current <= threshold", "A") \
	X(OVER_U, "over_u", "Phase overvoltage: any phase voltage >= threshold", "V") \
	X(UNDER_U, "under_u", "Phase undervoltage: any phase voltage <= threshold", "V") \
	X(OVER_UL, "over_ul", "Line overvoltage: any line voltage >= threshold", "V") \
	X(UNDER_UL, "under_ul", "Line undervoltage: any line voltage <= threshold", "V") \
	X(OVER_P, "over_p", "Over active power: |P| >= threshold", "W") \
	X(OVER_Q, "over_q", "Over reactive power: |Q| >= threshold", "var") \
	X(OVER_S, "over_s", "Over apparent power: S >= threshold", "VA") \
	X(OVER_DP, "over_dp", "Over demand of P: present demand >= threshold", "W") \
	X(OVER_DQ, "over_dq", "Over demand of Q: present demand >= threshold", "var") \
	X(OVER_DS, "over_ds", "Over demand of S: present demand >= threshold", "VA") \
	X(OVER_THDU, "over_thdu", "Over THD-U: any phase THD-U >= threshold", "%") \
	X(OVER_THDI, "over_thdi", "Over THD-I: any phase THD-I >= threshold", "%") \
	X(OVER_T, "over_t", "Over temperature: temperature >= threshold", "degC") \
	X(OVER_IRES, "over_ires", "Over residual current: residual current >= threshold", "mA")

typedef enum bm_al_type {
#define BM_AL_ENUM(id, name, desc, unit) BM_AL_##id,
	BM_AL_TYPES(BM_AL_ENUM)
#undef BM_AL_ENUM
	BM_AL_TYPE_COUNT
} bm_al_type;

typedef struct bm_al_info {
	const char *name, *desc, *unit;
	bool under; /* an under alarm (release above the threshold) */
} bm_al_info;
extern const bm_al_info bm_al_table[BM_AL_TYPE_COUNT];

typedef struct bm_al_cfg {
	uint8_t enabled;     /* 0 / 1 */
	uint8_t buzzer;      /* 0 / 1: sounds the buzzer while active */
	uint8_t relay_mask;  /* bit r: drives relay r+1 in alarm mode */
	double threshold;    /* in the type's unit; >= 0 */
	double release_pct;  /* over: 50..100, under: 100..200 (default 95 / 105) */
	double delay_s;      /* activation delay, 0..3600 s */
} bm_al_cfg;

typedef struct bm_di_cfg {
	uint8_t alarm;       /* 0 / 1: a logic alarm while the input is at `level` */
	uint8_t level;       /* 1: alarm while closed (default), 0: while open */
	uint8_t buzzer;
	uint8_t relay_mask;
	double delay_s;      /* 0..3600 s */
} bm_di_cfg;

typedef enum bm_do_mode { BM_DO_MANUAL = 0, BM_DO_ALARM, BM_DO_MODE_COUNT } bm_do_mode;

typedef struct bm_do_cfg {
	uint8_t mode;        /* bm_do_mode, default ALARM */
	uint8_t pulse;       /* 0 / 1 */
	double delay_s;      /* alarm mode: close this long after an alarm, 0..3600 s */
	double hold_s;       /* alarm mode: stay closed at least this long, 0..3600 s */
	double pulse_s;      /* pulse length, 0.1..3600 s (default 1) */
} bm_do_cfg;

/* What the meter has (from the model code, bm/model.h): alarms and outputs
 * it lacks are not evaluated and their registers are absent. */
typedef struct bm_io_caps {
	uint8_t n_do;                    /* 0..BM_DO_MAX */
	uint8_t n_di;                    /* 0..BM_DI_MAX */
	uint8_t temperature;             /* bit c: circuit c has a temperature input */
	uint8_t residual;                /* bit c: circuit c has a residual-current input */
} bm_io_caps;

typedef struct bm_io_cfg {
	bm_al_cfg al[BM_MAX_CIRCUITS][BM_AL_TYPE_COUNT];
	bm_di_cfg di[BM_DI_MAX];
	bm_do_cfg dout[BM_DO_MAX];
} bm_io_cfg;

/* Values of one window for one circuit. */
typedef struct bm_al_values {
	const double *v;        /* bm_results.v[c] (quantities, NaN = not defined) */
	double demand[3];       /* present demand of P, Q, S; NaN if none */
	double temperature_c;   /* NaN if none */
	double residual_ma;     /* NaN if none */
} bm_al_values;

/* An event for the event log. */
typedef struct bm_io_event {
	uint8_t kind;     /* 0 alarm on, 1 alarm off, 2 input change, 3 relay change */
	int8_t circuit;   /* alarms: 0..3, or -1 for a digital-input alarm; input / relay: -1 */
	uint8_t index;    /* alarm: bm_al_type, or the input number 0..3 for an input alarm;
	                     input / relay: its number 0..3 */
	double value;     /* alarm on: the value that triggered; off: the extreme while active;
	                     input / relay: the new state 0 / 1 */
	int64_t rtc_ms;   /* when (Unix milliseconds) */
} bm_io_event;

#define BM_IO_EVENTS_MAX 64 /* events held until taken */

typedef struct bm_al_state {
	uint8_t active;
	uint8_t pending;    /* trigger condition holding, delay running */
	double since_s;     /* when the condition started to hold */
	double extreme;
} bm_al_state;

typedef struct bm_soe {
	int64_t rtc_ms;
	uint8_t input;      /* 0..3 */
	uint8_t state;      /* new state */
} bm_soe;

typedef struct bm_io {
	bm_io_cfg cfg;
	bm_io_caps caps;
	uint8_t n_circuits;
	double t_s;                                       /* time of the last update */
	bm_al_state al[BM_MAX_CIRCUITS][BM_AL_TYPE_COUNT];
	bm_al_state di_al[BM_DI_MAX];
	/* digital inputs */
	uint8_t di_state;                                 /* bit i: input i closed */
	uint32_t di_count[BM_DI_MAX];                     /* changes counted (both edges) */
	bm_soe soe[BM_SOE_MAX];                           /* ring, newest at soe_head - 1 */
	uint8_t soe_head, soe_n;
	/* relays */
	uint8_t do_state;                                 /* bit r: relay r closed */
	uint8_t do_manual;                                /* bit r: manual command (closed) */
	double do_closed_at[BM_DO_MAX];                   /* t_s when it closed */
	double do_pulse_end[BM_DO_MAX];                   /* pulse ends at (t_s), 0 none */
	double do_arm_at[BM_DO_MAX];                      /* alarm mode: alarm seen at (delay running), <0 none */
	uint8_t do_prev_alarm;                            /* bit r: associated alarm active last time */
	uint8_t buzzer;                                   /* 1 while an alarm with buzzer is active */
	/* events */
	bm_io_event ev[BM_IO_EVENTS_MAX];
	uint8_t ev_n;
	uint32_t ev_lost;                                 /* events dropped: not taken in time */
	int64_t rtc_ms;                                   /* RTC of the last update: stamps the events
	                                                     of bm_io_set_config(), which gets no time */
} bm_io;

/* Defaults: every alarm disabled, threshold 0, release 95 % (over) / 105 %
 * (under), no delay; inputs: no alarm, level 1; relays: alarm mode, no delay,
 * no hold, no pulse, pulse 1 s. */
void bm_io_default(bm_io_cfg *cfg);

/* BM_OK or BM_E_INVAL with *issue (field, circuit, input = alarm type /
 * input / relay index). An alarm enabled for something the caps lack is
 * refused ("not on this model"). */
bm_err bm_io_validate(const bm_io_cfg *cfg, const bm_io_caps *caps, bm_cfg_issue *issue);

/* Zeroes and wires io. BM_OK or BM_E_INVAL. */
bm_err bm_io_init(bm_io *io, const bm_io_cfg *cfg, const bm_io_caps *caps, uint8_t n_circuits, bm_cfg_issue *issue);
/* Replaces the configuration (validated); alarms whose configuration
 * changed restart inactive (an active one ends with an event). Relays whose
 * configuration changed start over open, except a manual relay with a close
 * command (closed; in pulse mode a new pulse). Events are stamped with the
 * last update's time (io->t_s, io->rtc_ms). BM_OK or BM_E_INVAL (nothing
 * changed). */
bm_err bm_io_set_config(bm_io *io, const bm_io_cfg *cfg, bm_cfg_issue *issue);

/* One window: values for circuits 0..n_circuits-1, at sample-clock time t_s
 * (the window's end) and RTC rtc_ms. Updates alarms, relays, the buzzer and
 * queues events. */
void bm_io_window(bm_io *io, const bm_al_values *vals, double t_s, int64_t rtc_ms);

/* The inputs' states now (bit i = input i closed), at t_s / rtc_ms: counts
 * changes, records them (SOE) and queues input events. Call it as often as
 * the inputs are read (and with the time of the change when it is known). */
void bm_io_inputs(bm_io *io, uint8_t state, double t_s, int64_t rtc_ms);

/* Time passes without a window (relay delays, pulses, input alarm delays
 * run on the sample clock): call between windows when outputs must be
 * timely; bm_io_window() does it too. */
void bm_io_tick(bm_io *io, double t_s, int64_t rtc_ms);

/* Manual command for relay r (0-based): close (1) or open (0). BM_OK;
 * BM_E_INVAL (no such relay); BM_E_STATE (the relay is in alarm mode). */
bm_err bm_io_command(bm_io *io, unsigned r, bool close, double t_s, int64_t rtc_ms);

/* Status words: bit n = alarm type n active on circuit c; inputs' alarms. */
uint32_t bm_io_alarm_status(const bm_io *io, unsigned c);
uint32_t bm_io_di_alarm_status(const bm_io *io);

/* Takes up to cap queued events (oldest first) into out; returns how many. */
size_t bm_io_take_events(bm_io *io, bm_io_event *out, size_t cap);

/* The i-th newest sequence-of-events record (0 = newest). BM_OK or
 * BM_E_NOTFOUND. */
bm_err bm_io_soe(const bm_io *io, unsigned i, bm_soe *out);

#endif /* BM_ALARM_H */
