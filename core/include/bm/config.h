/*
 * config.h — the meter's measurement configuration and its one validator.
 *
 * Purpose: everything the front end and the measurement need to know about
 * the wiring and the sensors (spec: MPM4000 manual §4.4, §7.5.1–7.5.3; KPM312
 * datasheet "programmable voltage current transformation ratio").
 *
 * Invariants:
 *  - A bm_meter_cfg is plain data; bm_config_validate() is the only place
 *    that decides whether it is acceptable. Every path that changes the
 *    configuration (config file, Modbus, web) goes through it, so a rejected
 *    change is answered with the field and reason and nothing changes.
 *  - Primary units throughout (V, A), except sensor secondaries, whose units
 *    the sensor type gives (A for a CT, mV for a voltage CT or Rogowski coil).
 *
 * Frame layout (the samples a source hands to bm_meter_feed): channel 0..2
 * are the L1-N, L2-N, L3-N voltage inputs in secondary volts; channel
 * 3 + 4*c + p is circuit c's current input p (0 I1, 1 I2, 2 I3, 3 In) in the
 * sensor's secondary unit (A for a CT, V for a voltage CT or Rogowski coil).
 * Inputs that the wiring mode computes (I2 in 3P3W_2CT, In in 3P4W_3CT and
 * 1P3W) or does not use are ignored.
 */
#ifndef BM_CONFIG_H
#define BM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"
#include "bm/opts.h"

typedef enum bm_wiring {
	BM_WIRING_3P4W_4CT = 0, /* In measured by a 4th sensor */
	BM_WIRING_3P4W_3CT,     /* In computed as -(i1+i2+i3) */
	BM_WIRING_3P3W_3CT,     /* three-wire, I1 I2 I3 measured */
	BM_WIRING_3P3W_2CT,     /* three-wire, I2 computed as -(i1+i3) */
	BM_WIRING_1P3W,         /* split phase L1, L2, N; In computed */
	BM_WIRING_1P2W,         /* single phase L1, N */
	BM_WIRING_COUNT
} bm_wiring;

typedef enum bm_sensor_type {
	BM_SENSOR_CT = 0, /* conventional CT: primary A / secondary A */
	BM_SENSOR_VCT,    /* voltage-output CT: primary A gives secondary mV */
	BM_SENSOR_RCOIL,  /* Rogowski coil: primary A at 50 Hz gives secondary mV (di/dt) */
	BM_SENSOR_COUNT
} bm_sensor_type;

/* Per-channel calibration (spec §5.8 "current zero-point calibration"). */
typedef struct bm_cal {
	double gain;      /* multiplier, 0.5..2 (1 = none) */
	double phase_deg; /* sensor lag at the nominal frequency, degrees; the
	                     channel is advanced by it. See bm_config_validate. */
	double offset;    /* subtracted from the input, secondary units */
} bm_cal;

typedef struct bm_sensor_cfg {
	bm_sensor_type type;
	double primary_a;   /* 1..999999 A */
	double secondary;   /* CT: 0.001..10 A; VCT / RCOIL: 1..99999 mV */
	double nominal_a;   /* rated range, primary A (spec §7.5.2 "Nominal") */
	bm_cal cal;
} bm_sensor_cfg;

typedef struct bm_circuit_cfg {
	bm_wiring wiring;
	bm_sensor_cfg sensor[BM_PHASE_INPUTS]; /* I1, I2, I3, In */
	double i_min_a;     /* currents below this read 0 (spec §7.5.3), primary A */
} bm_circuit_cfg;

typedef struct bm_meter_cfg {
	uint32_t sample_rate;  /* S/s, BM_FS_MIN..BM_FS_MAX, default 12800 */
	uint8_t nominal_hz;    /* 50 or 60: windows of 10 or 12 cycles */
	double u_nominal_v;    /* nominal phase-to-neutral voltage, primary V */
	double vt_ratio;       /* 1..10000 (spec §7.5.1) */
	double u_min_v;        /* voltages below this read 0 (spec §7.5.3), primary V */
	bm_cal ucal[BM_VOLTAGE_INPUTS];
	uint8_t n_circuits;    /* 1..BM_MAX_CIRCUITS */
	bm_circuit_cfg circuit[BM_MAX_CIRCUITS];
} bm_meter_cfg;

/* Where a configuration was found wanting. `field` and `reason` are static
 * strings; `circuit` and `input` are 0-based or -1 when not applicable. */
typedef struct bm_cfg_issue {
	const char *field;
	const char *reason;
	int circuit;
	int input;
} bm_cfg_issue;

/* Fills `cfg` with the documented defaults (docs/configuration.md):
 * 12.8 kS/s, 50 Hz, 230 V, VT 1, 4 circuits of 3P4W_4CT with 5 A : 5 A CTs. */
void bm_config_default(bm_meter_cfg *cfg);

/* Sensor defaults for a type with the given primary rating: CT x/5 A,
 * VCT 333 mV, Rogowski 85 mV/kA at 50 Hz scaled to the primary. */
void bm_sensor_default(bm_sensor_cfg *s, bm_sensor_type type, double primary_a);

/* Returns BM_OK, or BM_E_INVAL and fills *issue (if not NULL). */
bm_err bm_config_validate(const bm_meter_cfg *cfg, bm_cfg_issue *issue);

/* For every validator of the core: fills *issue (if not NULL) and returns
 * BM_E_INVAL. */
bm_err bm_cfg_fail(bm_cfg_issue *issue, const char *field, const char *reason, int circuit, int input);

/* Number of channels in a sample frame for this configuration. */
static inline size_t bm_config_channels(const bm_meter_cfg *cfg)
{
	return BM_VOLTAGE_INPUTS + (size_t)BM_PHASE_INPUTS * cfg->n_circuits;
}

/* Frame channel index of circuit c's current input p (0 I1 .. 3 In). */
static inline size_t bm_ch_current(unsigned c, unsigned p)
{
	return BM_VOLTAGE_INPUTS + (size_t)BM_PHASE_INPUTS * c + p;
}

/* Names for tables, documents and config files. */
const char *bm_wiring_name(bm_wiring w);   /* "3P4W_4CT" ... */
const char *bm_sensor_name(bm_sensor_type t); /* "CT", "VCT", "RCOIL" */
/* Parse a name (case-insensitive); returns BM_E_NOTFOUND if unknown. */
bm_err bm_wiring_parse(const char *s, bm_wiring *out);
bm_err bm_sensor_parse(const char *s, bm_sensor_type *out);

/* Which inputs a wiring mode measures (bit p = input p needs a sensor) and
 * which it computes. */
unsigned bm_wiring_measured(bm_wiring w);
unsigned bm_wiring_phases(bm_wiring w); /* bit p: phase p+1 defined (U, I, P...) */
bool bm_wiring_three_wire(bm_wiring w);

#endif /* BM_CONFIG_H */
