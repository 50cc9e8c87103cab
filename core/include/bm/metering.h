/*
 * metering.h — energy, six tariffs, demand, max/min, run / load time and
 * monthly freezes, per circuit, from the measurement windows (issue #4,
 * core logic only; persistence and the app come separately).
 *
 * Spec: MPM4000 manual §5.2 (energy), §5.3 (tariffs), §5.4 (demand), §5.7
 * (max/min); KPM312 datasheet (running / load time, monthly average power
 * factor and multi-tariff energy of past months).
 *
 * Invariants:
 *  - Caller owns bm_metering (plain struct, no pointers, no allocation, no
 *    clock, no I/O); bm_metering_init() zeroes and wires it. Time comes in
 *    with every window: its exact duration from the sample clock (dt_s) and
 *    the RTC's Unix time at the window's end (rtc_unix).
 *  - Energy is integrated as value × dt_s (sample clock). Every counter is an
 *    int64 count of mWh plus a double remainder in [0, 1) mWh carried from
 *    window to window, so nothing is lost to rounding for decades.
 *  - The RTC (plus cfg.utc_offset_s for local time) only decides WHERE energy
 *    goes (tariff, demand interval, month) and the timestamps. Internally the
 *    meter keeps a continuous time: each window ends at the previous end +
 *    dt_s, clamped into [rtc_unix, rtc_unix + 1] (the RTC has whole seconds),
 *    so sub-second boundaries are placed by the sample clock.
 *  - A window that straddles a boundary (tariff switch, demand (sub-)interval
 *    end, monthly freeze moment) is split between the two sides in proportion
 *    to its time on each side.
 *  - RTC jump: rtc_unix < previous rtc_unix (backwards), or rtc_unix >
 *    previous + dt_s + 2 s (forwards). The window's energy is counted in full
 *    in the energy registers and in the tariff / month in force at the NEW
 *    time (no split); the demand interval in progress is closed WITHOUT
 *    being counted as completed (for SLIDING the sub-interval history is
 *    emptied), and demand restarts cleanly at the next boundary after the
 *    new time: no completed demand contains energy twice or a made-up
 *    window. Monthly freezes are keyed by month, so a jump back across a
 *    freeze moment never freezes the same month twice, and a jump forward
 *    across one (or several) freezes once.
 *
 * Sign conventions (DESIGN.md): P > 0 import, Q > 0 inductive.
 *  Quadrants (IEC 62053-23 numbering, counter-clockwise in the P-Q plane):
 *   Q1: P >= 0, Q >= 0  import, inductive
 *   Q2: P <  0, Q >= 0  export, inductive (Q > 0 by our sign convention)
 *   Q3: P <  0, Q <  0  export, capacitive
 *   Q4: P >= 0, Q <  0  import, capacitive
 *  Reactive import = Q >= 0 (Q1 + Q2), reactive export = Q < 0 (Q3 + Q4),
 *  as IEC 62053-23 defines "import/export" for reactive energy.
 */
#ifndef BM_METERING_H
#define BM_METERING_H

#include <stdbool.h>
#include <stdint.h>

#include "bm/config.h"
#include "bm/err.h"
#include "bm/meter.h"
#include "bm/opts.h"

#define BM_MT_TARIFFS 6       /* T1..T6 */
#define BM_MT_PERIODS 6       /* Ta..Tf */
#define BM_MT_MONTHS 12       /* monthly freezes kept (KPM312 keeps 3) */
#define BM_MT_SLIDE_MAX 60    /* 1-minute sub-intervals of a 60-min period */
#define BM_MT_PHASES 4        /* L1, L2, L3, total (index 3) */
#define BM_MT_TOTAL 3

/* Per-phase / total energy registers. */
typedef enum bm_mt_ekind {
	BM_MT_EP_IMP = 0, /* active import (P > 0), Wh */
	BM_MT_EP_EXP,     /* active export (P < 0), Wh, positive */
	BM_MT_EQ_Q1,      /* reactive, quadrant 1, varh (see header comment) */
	BM_MT_EQ_Q2,
	BM_MT_EQ_Q3,
	BM_MT_EQ_Q4,
	BM_MT_EQ_IMP,     /* reactive import = Q1 + Q2 (Q >= 0) */
	BM_MT_EQ_EXP,     /* reactive export = Q3 + Q4 (Q < 0), positive */
	BM_MT_ES,         /* apparent, VAh */
	BM_MT_EKIND_COUNT
} bm_mt_ekind;

/* Per-tariff registers (circuit totals). */
typedef enum bm_mt_tkind {
	BM_MT_T_EP_IMP = 0,
	BM_MT_T_EP_EXP,
	BM_MT_T_EQ_IMP,
	BM_MT_T_EQ_EXP,
	BM_MT_TKIND_COUNT
} bm_mt_tkind;

/* Demand quantities (circuit totals). */
typedef enum bm_mt_dq { BM_MT_D_P = 0, BM_MT_D_Q, BM_MT_D_S, BM_MT_DQ_COUNT } bm_mt_dq;

/* Max/min items (spec §5.7 plus frequency), in this order. */
#define BM_MT_MM_ITEMS(X) \
	X(U1) X(U2) X(U3) X(Uavg) X(U12) X(U23) X(U31) X(ULavg) X(I1) X(I2) X(I3) X(Iavg) \
	X(P1) X(P2) X(P3) X(P) X(Q1) X(Q2) X(Q3) X(Q) X(S1) X(S2) X(S3) X(S) X(F)
typedef enum bm_mt_mm {
#define BM_MT_MM_ENUM(n) BM_MT_MM_##n,
	BM_MT_MM_ITEMS(BM_MT_MM_ENUM)
#undef BM_MT_MM_ENUM
	BM_MT_MM_COUNT
} bm_mt_mm;

typedef enum bm_mt_tariff_mode { BM_MT_TARIFF_MANUAL = 0, BM_MT_TARIFF_RTC, BM_MT_TARIFF_MODE_COUNT } bm_mt_tariff_mode;
typedef enum bm_mt_demand_method { BM_MT_DEMAND_FIXED = 0, BM_MT_DEMAND_SLIDING, BM_MT_DEMAND_METHOD_COUNT } bm_mt_demand_method;
typedef enum bm_mt_clear { BM_MT_CLEAR_NEVER = 0, BM_MT_CLEAR_DAILY, BM_MT_CLEAR_MONTHLY, BM_MT_CLEAR_COUNT } bm_mt_clear;

/* One RTC tariff period: from start_min (minutes after local midnight) until
 * the next period's start, tariff `tariff` (1..6) applies. */
typedef struct bm_mt_period {
	uint16_t start_min; /* 0..1439, strictly ascending within the table */
	uint8_t tariff;     /* 1..6 */
} bm_mt_period;

typedef struct bm_metering_cfg {
	int32_t utc_offset_s;       /* local = UTC + this; -43200..50400 (whole minutes not required) */
	double rollover_wh;         /* counters wrap at this many Wh: 1e3..9.2e15, default 1e12 */
	bm_mt_tariff_mode tariff_mode;
	uint8_t manual_tariff;      /* 1..6 (manual mode; spec register 1071) */
	uint8_t n_periods;          /* 1..6 periods used (RTC mode) */
	bm_mt_period period[BM_MT_PERIODS];
	bm_mt_demand_method demand_method;
	uint8_t demand_period_min;  /* 1..60, default 15 */
	bm_mt_clear mm_clear;       /* periodic max/min clearing */
	uint8_t freeze_day;         /* 1..28 (local), default 1 */
	uint8_t freeze_hour;        /* 0..23 (local), default 0 */
	double load_threshold_a[BM_MAX_CIRCUITS]; /* 0..1e6 A, default 0.01 */
} bm_metering_cfg;

/* An energy counter: mwh whole milli-watt-hours + rem (0 <= rem < 1) mWh. */
typedef struct bm_mt_ctr {
	int64_t mwh;
	double rem;
} bm_mt_ctr;

typedef struct bm_mt_extreme {
	double value;   /* NaN: no value yet */
	int64_t unix_s; /* RTC time of the window that set it */
} bm_mt_extreme;

typedef struct bm_mt_demand {
	double present;      /* running average of the interval in progress; NaN if none yet */
	double last;         /* last completed demand; NaN if none yet */
	double max;          /* largest completed demand (signed for P, Q); NaN if none */
	int64_t max_unix;    /* end of the interval that set max (Unix seconds) */
} bm_mt_demand;

/* The energy counters alone (whole mWh) and the running / load times: a
 * small record to save often (a few kB for 4 circuits against the whole
 * state's ~25 kB), while the rest is saved rarely. */
typedef struct bm_mt_counters {
	uint32_t n_circuits;
	int64_t e[BM_MAX_CIRCUITS][BM_MT_PHASES][BM_MT_EKIND_COUNT];
	int64_t t[BM_MAX_CIRCUITS][BM_MT_TARIFFS][BM_MT_TKIND_COUNT];
	int64_t month_e[BM_MAX_CIRCUITS][BM_MT_TARIFFS][BM_MT_TKIND_COUNT];
	double run_s;
	double load_s[BM_MAX_CIRCUITS];
} bm_mt_counters;

/* One monthly freeze: energy of the month (since the previous freeze or
 * since init / reset) per tariff, and its average power factor. */
typedef struct bm_mt_month {
	int64_t freeze_unix;  /* the freeze moment (Unix seconds) */
	int32_t year;         /* local year and month of the freeze moment (a freeze
	                         on 1 April 00:00 holds March's energy: month 4) */
	uint8_t month;
	double e_wh[BM_MAX_CIRCUITS][BM_MT_TARIFFS][BM_MT_TKIND_COUNT];
	/* EP / sqrt(EP² + EQ²), EP = active import, EQ = reactive import +
	 * reactive export (|Q| energy), summed over all tariffs; NaN when both
	 * are zero. */
	double pf[BM_MAX_CIRCUITS];
} bm_mt_month;

/* Per-circuit state. Fields are readable; change them only through the API. */
typedef struct bm_mt_circuit {
	bm_mt_ctr e[BM_MT_PHASES][BM_MT_EKIND_COUNT];
	bm_mt_ctr t[BM_MT_TARIFFS][BM_MT_TKIND_COUNT];
	bm_mt_ctr month_e[BM_MT_TARIFFS][BM_MT_TKIND_COUNT]; /* month so far (no rollover) */
	uint32_t rollovers;          /* rollover events not yet taken */
	/* demand */
	double d_acc[BM_MT_DQ_COUNT]; /* W·s (var·s, VA·s) of the (sub-)interval in progress */
	double d_slide[BM_MT_SLIDE_MAX][BM_MT_DQ_COUNT];
	double d_last[BM_MT_DQ_COUNT], d_max[BM_MT_DQ_COUNT];
	int64_t d_max_unix[BM_MT_DQ_COUNT];
	/* max/min */
	bm_mt_extreme mm_max[BM_MT_MM_COUNT], mm_min[BM_MT_MM_COUNT];
	/* statistics */
	double load_s;
} bm_mt_circuit;

typedef struct bm_metering {
	bm_metering_cfg cfg;
	uint8_t n_circuits;
	bool ready;
	int64_t rollover_mwh;   /* cfg.rollover_wh in mWh */
	/* continuous time at the last window's end: UTC seconds t_s + t_f (0..1) */
	int64_t t_s;
	double t_f;
	int64_t last_rtc;
	uint8_t tariff;         /* in use, 1..6 */
	/* demand timing (shared by all circuits) */
	bool d_partial;         /* interval in progress started mid-way: not to be completed */
	double d_dur;           /* sample-clock seconds in the (sub-)interval in progress */
	double d_slide_dur[BM_MT_SLIDE_MAX];
	uint8_t d_slide_head;   /* next slot to write */
	uint8_t d_slide_n;      /* completed sub-intervals held (<= period) */
	/* periodic events */
	int64_t mm_key;         /* local day or month number of the last max/min clear check */
	int64_t freeze_key;     /* year*12 + month-1 of the last freeze moment handled */
	uint8_t n_months;       /* freezes held, 0..BM_MT_MONTHS */
	uint8_t month_head;     /* slot of the next freeze */
	uint32_t freezes;       /* freeze events not yet taken */
	bm_mt_month months[BM_MT_MONTHS];
	/* statistics */
	double run_s;
	uint32_t jumps;         /* RTC jumps seen (diagnostics) */
	bm_mt_circuit c[BM_MAX_CIRCUITS];
} bm_metering;

/* Caller-owned budget: 32 KiB covers 4 circuits with 12 months and 60 sliding
 * sub-intervals; static RAM on the MCU. */
_Static_assert(sizeof(bm_metering) <= 32768, "bm_metering grew beyond its 32 KiB budget");

/* Defaults: UTC, rollover 1e12 Wh, manual tariff 1, one RTC period (00:00 T1),
 * fixed 15-min demand, no max/min clearing, freeze day 1 00:00, load
 * threshold 0.01 A. */
void bm_metering_default(bm_metering_cfg *cfg);

/* Returns BM_OK, or BM_E_INVAL and fills *issue (if not NULL) with the first
 * problem: field, reason, circuit (load threshold) and input (period index). */
bm_err bm_metering_validate(const bm_metering_cfg *cfg, bm_cfg_issue *issue);

/*
 * Zeroes and wires `mt` for n_circuits (1..BM_MAX_CIRCUITS) at RTC time
 * rtc_unix. The demand interval in progress counts only if rtc_unix is
 * exactly on a boundary. Returns BM_OK, or BM_E_INVAL (bad cfg — *issue
 * filled when not NULL — NULL pointers or n_circuits out of range).
 */
bm_err bm_metering_init(bm_metering *mt, const bm_metering_cfg *cfg, uint8_t n_circuits, int64_t rtc_unix,
                        bm_cfg_issue *issue);

/*
 * Replaces the configuration after validating it; a rejected one changes
 * nothing (BM_E_INVAL, *issue filled). Accepted: a change of UTC offset,
 * demand method or period restarts demand as after an RTC jump; a change of
 * max/min clearing re-arms it from now; a lower rollover threshold applies
 * at the next window. Returns BM_OK, BM_E_INVAL or BM_E_STATE (not init).
 */
bm_err bm_metering_set_config(bm_metering *mt, const bm_metering_cfg *cfg, bm_cfg_issue *issue);

/*
 * One measurement window: r (r->n_circuits >= the meter's), its sample-clock
 * duration dt_s (0 < dt_s <= 3600) and the RTC time at its end. NaN values
 * are skipped (no energy, no max/min); non-finite or |x| > 1e12 powers add
 * no energy. Returns BM_OK; BM_E_INVAL (NULL, bad dt_s or too few circuits:
 * nothing changes); BM_E_STATE (not initialised).
 */
bm_err bm_metering_window(bm_metering *mt, const bm_results *r, double dt_s, int64_t rtc_unix);

/* Resets (the caller checks the reset password). */
void bm_metering_reset_energy(bm_metering *mt);        /* per-phase / total registers */
void bm_metering_reset_tariff_energy(bm_metering *mt); /* T1..T6 and the month so far */
void bm_metering_reset_max_demand(bm_metering *mt);
void bm_metering_reset_maxmin(bm_metering *mt);

/* Energy register in Wh (double) / whole Wh (floor). phase 0..2 or
 * BM_MT_TOTAL. NaN / -1 for an index out of range. */
double bm_metering_energy_wh(const bm_metering *mt, unsigned c, unsigned phase, bm_mt_ekind k);
int64_t bm_metering_energy_wh_i64(const bm_metering *mt, unsigned c, unsigned phase, bm_mt_ekind k);
/* Tariff register, tariff 1..6. NaN / -1 for an index out of range. */
double bm_metering_tariff_wh(const bm_metering *mt, unsigned c, unsigned tariff, bm_mt_tkind k);
int64_t bm_metering_tariff_wh_i64(const bm_metering *mt, unsigned c, unsigned tariff, bm_mt_tkind k);
/* Tariff in use (1..6) after the last window (or init / set_config). */
unsigned bm_metering_tariff(const bm_metering *mt);

/* Demand of circuit c. BM_OK, or BM_E_INVAL for an index out of range. */
bm_err bm_metering_demand(const bm_metering *mt, unsigned c, bm_mt_dq q, bm_mt_demand *out);

/* Max and min of an item. BM_OK; BM_E_NOTFOUND when the item has no value
 * yet (never measured, or the wiring lacks it); BM_E_INVAL out of range. */
bm_err bm_metering_maxmin(const bm_metering *mt, unsigned c, bm_mt_mm item, bm_mt_extreme *max,
                          bm_mt_extreme *min);

/* Running time (sample-clock seconds) and load time of circuit c (seconds
 * of windows whose largest phase current I1..I3 exceeded the threshold;
 * NaN out of range). */
double bm_metering_run_time_s(const bm_metering *mt);
double bm_metering_load_time_s(const bm_metering *mt, unsigned c);

/* Monthly freeze `age` (0 = latest). BM_OK, BM_E_NOTFOUND when fewer are
 * held, BM_E_INVAL for NULL. */
bm_err bm_metering_month(const bm_metering *mt, unsigned age, bm_mt_month *out);

/* Events for the caller (event log, persistence): returns the count since
 * the last take and clears it. */
uint32_t bm_metering_take_rollovers(bm_metering *mt, unsigned c);
uint32_t bm_metering_take_freezes(bm_metering *mt);

/* The counters of `mt` into *out. */
void bm_metering_get_counters(const bm_metering *mt, bm_mt_counters *out);
/* Sets the counters from *in (remainders below 1 mWh start from 0); for
 * restoring a newer counter record over an older whole state. BM_OK;
 * BM_E_INVAL another number of circuits or a negative count. */
bm_err bm_metering_put_counters(bm_metering *mt, const bm_mt_counters *in);

#endif /* BM_METERING_H */
