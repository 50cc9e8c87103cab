/*
 * sim.h — the built-in signal simulator: a sample source of the Linux
 * platform layer that produces the meter's sample frames from a scenario.
 *
 * Purpose: drive `branchmeter run` without hardware, and give tests signals
 * with a known truth. A scenario (INI file, docs/simulator.md, commented in
 * scenarios/default.ini) describes the grid (voltage, frequency and its
 * drift, unbalance, phase sequence, harmonics, noise, ADC resolution) and up
 * to four circuits (wiring, sensors, a daily load profile, current
 * harmonics, per-phase unbalance, on/off cycling, and the auxiliary inputs
 * of an expansion module: a temperature or a residual current per circuit),
 * plus digital inputs that change over time. The generator emits frames
 * in the layout of config.h: channels 0..2 the L1-N, L2-N, L3-N voltages at
 * the VT secondary, channel 3 + 4*c + p circuit c's current input p (I1, I2,
 * I3, In) as the sensor's output in secondary units (A for a CT, V for a
 * voltage CT or a Rogowski coil). The auxiliary inputs (temperature,
 * residual current, digital inputs) are not part of the frames: a real
 * expansion module reports them as values, so the simulator gives them as
 * values (bm_sim_temperature() .. bm_sim_next_input_change(), and in the
 * truth).
 *
 * Invariants:
 *  - A bm_sim_scenario is plain data. bm_sim_validate() is the one check
 *    every scenario passes (the loaders run it, and bm_sim_init refuses a
 *    scenario that fails it), so a scenario that loads also yields a meter
 *    configuration that bm_config_validate() accepts.
 *  - Loaders parse into a fresh scenario and copy it to *out only on
 *    success: a rejected file changes nothing.
 *  - Truth: a meter configured with bm_sim_meter_config(sc) measures the
 *    primary values bm_sim_truth_now() reports (to within the meter's accuracy;
 *    noise and ADC quantisation add what a real input would).
 *  - Determinism: the frames depend only on the scenario (including its
 *    seed) and the sample index, never on how the caller splits the calls
 *    to bm_sim_generate(): amplitudes are refreshed at blocks of
 *    BM_SIM_BLOCK samples aligned to the absolute sample index, the phase is
 *    integrated per sample in double, and the noise comes from our own
 *    PRNG (xoshiro256**, seeded by splitmix64) in sample-then-channel order.
 *    The auxiliary values are pure functions of the scenario and the sample
 *    index too (no state, no noise); adding them changed no frame.
 *  - Errors: BM_E_FORMAT for malformed input (syntax, unknown section or
 *    key, malformed number or list, a key given twice), BM_E_INVAL for a
 *    well-formed value out of range (including more than BM_MAX_CIRCUITS
 *    circuits), BM_E_IO / BM_E_NOTFOUND when a file cannot be read. The
 *    message (when err is not NULL) is one line naming the file, the line and
 *    the key: "site.ini:12: [grid] frequency = 80: must be 40..70 Hz".
 *
 * Not thread-safe per object; separate objects are independent. Nothing here
 * keeps global state.
 */
#ifndef BM_SIM_H
#define BM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/config.h"
#include "bm/err.h"
#include "bm/opts.h"

/* Limits of a scenario. A file beyond them is refused. */
#define BM_SIM_MAX_HARMONICS 32 /* entries in one harmonics list */
#define BM_SIM_MAX_ORDER 63     /* highest harmonic order */
#define BM_SIM_MAX_POINTS 48    /* points of one load profile */
#define BM_SIM_MAX_TERMS (1 + BM_SIM_MAX_HARMONICS) /* sinusoids per channel */
#define BM_SIM_MAX_RES_STEPS 16   /* entries of one residual_steps list */
#define BM_SIM_MAX_INPUTS 4       /* digital inputs di1..di4 of [inputs] */
#define BM_SIM_MAX_INPUT_STEPS 32 /* entries of one di list */
#define BM_SIM_MAX_STEP_S 1e9     /* latest step time, s after the start */

/* Samples per amplitude refresh; blocks are aligned to the sample index. */
#define BM_SIM_BLOCK 64u

/* One harmonic: `percent` of the fundamental's RMS, phase in degrees. */
typedef struct bm_sim_harmonic {
	uint8_t order;    /* 2..BM_SIM_MAX_ORDER, unique within a list */
	double percent;   /* 0..100 */
	double phase_deg; /* -360..360, see docs/simulator.md "Phases" */
} bm_sim_harmonic;

typedef struct bm_sim_harmonics {
	uint8_t n;
	bm_sim_harmonic h[BM_SIM_MAX_HARMONICS];
} bm_sim_harmonics;

/* One point of a daily load profile. */
typedef struct bm_sim_point {
	uint32_t tod_s;  /* seconds after local midnight, 0..86399, strictly
	                    increasing within a profile */
	double percent;  /* fundamental current in % of the circuit's nominal,
	                    -300..300; < 0 exports (P < 0) */
	double pf;       /* -1..1; the sign is the sign of Q: > 0 inductive
	                    (current lags when importing), < 0 capacitive */
} bm_sim_point;

/* A value that holds from `t_s` seconds after the scenario's start (the
 * first sample n with n / sample_rate >= t_s) until the next step. */
typedef struct bm_sim_step {
	double t_s;   /* 0..BM_SIM_MAX_STEP_S, strictly increasing within a list */
	double value; /* residual: mA, 0..100000; digital input: 0 or 1 */
} bm_sim_step;

/* One digital input of [inputs]: open (0) before its first step. */
typedef struct bm_sim_input {
	uint8_t n_steps;                          /* 0..BM_SIM_MAX_INPUT_STEPS */
	bm_sim_step step[BM_SIM_MAX_INPUT_STEPS]; /* value 0 (open) or 1 (closed) */
} bm_sim_input;

typedef struct bm_sim_circuit {
	bm_wiring wiring;
	/* Sensors of I1, I2, I3, In: type, primary_a, secondary (A for a CT, mV
	 * for VCT / RCOIL), nominal_a. `cal` is ignored (a simulated sensor is
	 * ideal). The load profile's 100 % is sensor[0].nominal_a. */
	bm_sensor_cfg sensor[BM_PHASE_INPUTS];
	uint8_t n_points;                        /* 1..BM_SIM_MAX_POINTS */
	bm_sim_point profile[BM_SIM_MAX_POINTS]; /* linear, wraps at midnight */
	bm_sim_harmonics harmonics;              /* current harmonics */
	double unbalance[3];   /* per-phase current factor, 0..2 */
	double cycle_period_s; /* on/off cycling period, 0 (off) or 1..86400 s */
	double cycle_duty;     /* fraction of each period that is "on", 0..1 */
	double cycle_off_pct;  /* load while "off", % of the profile, 0..100 */
	/* Auxiliary inputs (an expansion module has either, never both: the
	 * KPM312's "S cannot work with T"). */
	bool has_temperature;  /* false: the circuit has no temperature input */
	double temperature_c;  /* at no load, -40..200 degC */
	double temperature_rise_k; /* rise at 100 % load, 0..200 K; the value is
	                              temperature_c + rise * (|load %| / 100)^2 */
	bool has_residual;     /* false: no residual-current input */
	double residual_ma;    /* from the start until the first step, 0..100000 mA */
	uint8_t n_res_steps;   /* 0..BM_SIM_MAX_RES_STEPS */
	bm_sim_step res_step[BM_SIM_MAX_RES_STEPS]; /* value in mA, 0..100000 */
} bm_sim_circuit;

/* Local start time as written ("2026-01-05T08:00:00[Z|+hh:mm]"). */
typedef struct bm_sim_start {
	int year, month, day, hour, minute, second;
	bool has_offset; /* false: local time of the process's time zone */
	int offset_min;  /* UTC offset in minutes when has_offset, -1439..1439 */
} bm_sim_start;

typedef struct bm_sim_scenario {
	/* [meter] */
	uint32_t sample_rate;      /* S/s, BM_FS_MIN..BM_FS_MAX */
	uint8_t nominal_hz;        /* 50 or 60 */
	double vt_ratio;           /* 1..10000 */
	/* [grid] */
	double voltage_v;          /* fundamental phase-N RMS, primary V, 1..1e6 */
	double frequency_hz;       /* 40..70 */
	double wander_hz;          /* sinusoidal wander amplitude, 0..5 Hz */
	double wander_period_s;    /* its period, 0.01..1e6 s */
	double ramp_hz_per_s;      /* linear ramp, -1..1 Hz/s (f clamped 40..70) */
	double unbalance[3];       /* per-phase voltage factor, 0..2 */
	double angle_dev_deg[3];   /* per-phase angle deviation, -30..30 degrees */
	bool acb;                  /* phase sequence ACB (L2 leads L1 by 120°) */
	bm_sim_harmonics harmonics; /* voltage harmonics */
	double noise_pct;          /* Gaussian noise, RMS % of nominal, 0..10 */
	uint8_t adc_bits;          /* 0 (off) or 8..24 */
	uint64_t seed;
	bm_sim_start start;
	/* [circuit1] .. [circuitN] */
	uint8_t n_circuits;        /* 1..BM_MAX_CIRCUITS */
	bm_sim_circuit circuit[BM_MAX_CIRCUITS];
	/* [inputs] */
	uint8_t input_mask;        /* bit i: input i+1 (di1..di4) is defined */
	bm_sim_input input[BM_SIM_MAX_INPUTS]; /* only defined ones are used */
} bm_sim_scenario;

/*
 * The true primary values at one sample (from the scenario's formulas, not
 * from the generated samples). RMS values include harmonics; "1" suffixes
 * are fundamentals. Powers follow DESIGN.md: P > 0 import, Q fundamental
 * (> 0 inductive), S = U*I per phase and the arithmetic sum in total, PF =
 * P/S, DPF = P1/S1 (cos phi1 with the sign of P1); PF and DPF are 0 where S
 * is 0. Phases a wiring mode does not define read 0. On a three-wire
 * circuit a phase's P, Q, S use the voltage to the artificial neutral
 * (u_p - (u1+u2+u3)/3), as the meter does; the totals P and Q do not
 * depend on that choice.
 */
typedef struct bm_sim_truth_circuit {
	double load_percent;       /* profile x cycling, % of nominal (signed) */
	double load_pf;            /* profile PF (sign = sign of Q) */
	double i_rms[BM_PHASE_INPUTS];  /* I1 I2 I3 In, A (In = -(i1+i2+i3)) */
	double i1_rms[BM_PHASE_INPUTS]; /* fundamentals, A */
	double p[3], q[3], s[3], pf[3], dpf[3];
	double p_total, q_total, s_total, pf_total;
	double temperature_c;      /* NaN when the circuit has no temperature input */
	double residual_ma;        /* NaN when it has no residual-current input */
} bm_sim_truth_circuit;

typedef struct bm_sim_truth {
	uint64_t sample;           /* the sample index this describes */
	double unix_s;             /* simulated wall-clock time, Unix seconds */
	double tod_s;              /* local time of day, 0..86400 s */
	double frequency_hz;
	double u_rms[3];           /* L1-N, L2-N, L3-N primary V */
	double u1_rms[3];          /* fundamentals */
	double u_angle_deg[3];     /* fundamental angles at theta = 0 */
	uint8_t n_circuits;
	bm_sim_truth_circuit c[BM_MAX_CIRCUITS];
	uint8_t inputs;            /* bit i: input i+1 closed (bm_sim_inputs) */
} bm_sim_truth;

/* Generator state. Caller-owned (about 110 KB: keep it static or malloc
 * it); fields are private. */
typedef struct bm_sim {
	bm_sim_scenario sc;
	uint64_t n;              /* samples delivered (index of the next one) */
	double start_unix, start_tod;
	size_t n_ch;
	uint8_t max_order;       /* highest order any channel uses */
	double omega0;           /* 2*pi*f without drift */
	double wander_dphi;      /* wander phase step per sample, radians */
	/* constant primary phasors (peak), set by bm_sim_init */
	uint8_t nv;                                   /* voltage terms */
	uint8_t vord[BM_SIM_MAX_TERMS];
	double vre[3][BM_SIM_MAX_TERMS], vim[3][BM_SIM_MAX_TERMS];
	int8_t vidx[BM_SIM_MAX_ORDER + 1];            /* order -> voltage term */
	double ea_re[3], ea_im[3];                    /* e^(j*alpha_p) */
	double hx_re[BM_MAX_CIRCUITS][BM_SIM_MAX_HARMONICS]; /* e^(j*chi) per */
	double hx_im[BM_MAX_CIRCUITS][BM_SIM_MAX_HARMONICS]; /* current harmonic */
	/* the block being delivered: frames [blk_index * BM_SIM_BLOCK, +BLOCK) */
	bool blk_valid;
	uint64_t blk_index;
	float blk[BM_SIM_BLOCK * BM_MAX_CH];
	/* carried from block to block */
	double theta;            /* fundamental phase at the next block, [0, 2*pi) */
	uint64_t rng[4];         /* xoshiro256** */
	/* per channel, for the block being built: x = sum Re(c * e^(j*order*theta)) */
	uint8_t n_terms[BM_MAX_CH];
	bool deriv[BM_MAX_CH];   /* Rogowski coil: scaled by omega(t) */
	double gain[BM_MAX_CH];  /* secondary units per primary A (coil: M) */
	bool in_sum[BM_MAX_CH];  /* In channel computed from its circuit's phases */
	double in_sum_g[BM_MAX_CH][3]; /* with these gain ratios */
	uint8_t order[BM_MAX_CH][BM_SIM_MAX_TERMS];
	double cre[BM_MAX_CH][BM_SIM_MAX_TERMS];
	double cim[BM_MAX_CH][BM_SIM_MAX_TERMS];
	double sigma[BM_MAX_CH];    /* noise RMS, secondary units */
	double fs_peak[BM_MAX_CH];  /* ADC full scale, secondary units */
	double lsb[BM_MAX_CH];      /* 0 when quantisation is off */
	/* scratch of one block: cos/sin(h * theta_k), omega_k, noise */
	double cs[BM_SIM_MAX_ORDER + 1][BM_SIM_BLOCK];
	double sn[BM_SIM_MAX_ORDER + 1][BM_SIM_BLOCK];
	double omega[BM_SIM_BLOCK];
	double noise[BM_SIM_BLOCK * BM_MAX_CH];
	/* Gaussian ziggurat tables (128 layers) */
	double zk[128], zw[128], zf[128];
} bm_sim;

/*
 * Loads a scenario file (at most 1 MiB). Returns BM_OK, BM_E_NOTFOUND (no
 * such file), BM_E_IO, BM_E_FORMAT, BM_E_INVAL or BM_E_NOSPACE (out of
 * memory); *out is written only on BM_OK. err (may be NULL) receives one
 * line naming path, line and key (empty on success).
 */
bm_err bm_sim_load_file(const char *path, bm_sim_scenario *out, char *err, size_t errlen);

/*
 * Same from a NUL-terminated string; `name_for_messages` (may be NULL) is
 * what the messages call the text. Returns BM_OK, BM_E_FORMAT, BM_E_INVAL
 * or BM_E_NOSPACE (out of memory).
 */
bm_err bm_sim_load_string(const char *text, const char *name_for_messages, bm_sim_scenario *out, char *err,
                          size_t errlen);

/* The built-in scenario, identical to scenarios/default.ini. */
void bm_sim_default(bm_sim_scenario *out);

/* Checks every range and cross-field rule. BM_OK or BM_E_INVAL. */
bm_err bm_sim_validate(const bm_sim_scenario *sc, char *err, size_t errlen);

/*
 * The meter configuration that measures this scenario: bm_config_default()
 * with sample rate, nominal frequency and voltage, VT ratio, circuits,
 * wiring and sensors from the scenario; calibration and thresholds stay at
 * their defaults. Returns BM_OK or BM_E_INVAL (scenario or configuration
 * invalid; *cfg is then unspecified).
 */
bm_err bm_sim_meter_config(const bm_sim_scenario *sc, bm_meter_cfg *cfg);

/* Prepares the generator at sample 0. BM_OK or BM_E_INVAL (bad scenario). */
bm_err bm_sim_init(bm_sim *s, const bm_sim_scenario *sc);

/* Channels per frame: 3 + 4 * n_circuits (= bm_config_channels()). */
size_t bm_sim_channels(const bm_sim *s);

/*
 * Writes the next n frames: frame k's channel ch goes to
 * frames[k * stride + ch]; floats beyond the channel count are untouched.
 * Returns n, or 0 when stride < bm_sim_channels(s) or frames is NULL.
 */
size_t bm_sim_generate(bm_sim *s, float *frames, size_t stride, size_t n);

/* Samples generated so far (the index of the next sample). */
uint64_t bm_sim_samples(const bm_sim *s);

/* Simulated wall-clock time of the next sample: start + samples / fs, Unix s. */
double bm_sim_time(const bm_sim *s);

/* The truth at the next sample: bm_sim_truth_at(s, bm_sim_samples(s), t). */
void bm_sim_truth_now(const bm_sim *s, bm_sim_truth *t);

/* The truth at any sample index (the block containing it; the auxiliary
 * values as the functions below give them at that sample). */
void bm_sim_truth_at(const bm_sim *s, uint64_t sample, bm_sim_truth *t);

/*
 * Auxiliary inputs (docs/simulator.md "Auxiliary inputs"). All of them are
 * taken at the simulator's current time, the sample bm_sim_truth_now() uses
 * (index bm_sim_samples(s), time t = bm_sim_samples(s) / sample_rate
 * seconds after the start, i.e. bm_sim_time()). For values at another
 * sample, use bm_sim_truth_at(). A circuit index >= the scenario's circuits
 * has no inputs. None of them changes the generator's state.
 */

/* Whether circuit c (0-based) has a temperature / a residual-current input. */
bool bm_sim_has_temperature(const bm_sim *s, unsigned c);
bool bm_sim_has_residual(const bm_sim *s, unsigned c);

/*
 * Circuit c's temperature in degC: temperature + temperature_rise *
 * (|load %| / 100)^2, with the load the currents have at that sample
 * (profile x cycling, held per BM_SIM_BLOCK block like the amplitudes; the
 * truth's load_percent). No thermal lag. NaN without a temperature input.
 */
double bm_sim_temperature(const bm_sim *s, unsigned c);

/* Circuit c's residual current in mA: `residual`, then each step's value
 * from its time on (exact to the sample, not held per block). NaN without a
 * residual input. */
double bm_sim_residual_ma(const bm_sim *s, unsigned c);

/* Digital inputs: bit i = input i+1 closed. An input is open before its
 * first step, and always open when the scenario does not define it. */
uint8_t bm_sim_inputs(const bm_sim *s);

/* Which inputs the scenario defines (bit i = di(i+1)); 0 without [inputs]. */
uint8_t bm_sim_input_mask(const bm_sim *s);

/*
 * Seconds after the start of the next step, strictly after the current time,
 * that changes the state of a defined input (a step that repeats the state
 * is skipped); INFINITY when none is left. bm_sim_inputs() shows the
 * change from the first sample n with n / sample_rate >= that time.
 */
double bm_sim_next_input_change(const bm_sim *s);

#endif /* BM_SIM_H */
