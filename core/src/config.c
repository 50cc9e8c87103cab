/*
 * config.c — defaults and the one validator of the measurement configuration.
 *
 * Invariant: bm_config_validate() is the single gate; the ranges here are
 * the ones docs/configuration.md and the register map publish. Ranges come
 * from the spec (MPM4000 §7.5.1–7.5.3, KPM312 datasheet) where it gives one,
 * otherwise from what the algorithms need (stated beside the check).
 */
#include <math.h>
#include <string.h>

#include "bm/config.h"

static const char *const wiring_names[BM_WIRING_COUNT] = {
	"3P4W_4CT", "3P4W_3CT", "3P3W_3CT", "3P3W_2CT", "1P3W", "1P2W",
};
static const char *const sensor_names[BM_SENSOR_COUNT] = {"CT", "VCT", "RCOIL"};

const char *bm_wiring_name(bm_wiring w)
{
	return (unsigned)w < BM_WIRING_COUNT ? wiring_names[w] : "?";
}

const char *bm_sensor_name(bm_sensor_type t)
{
	return (unsigned)t < BM_SENSOR_COUNT ? sensor_names[t] : "?";
}

/* ASCII case-insensitive compare; the core has no locale. */
static bool name_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		char ca = *a, cb = *b;
		if (ca >= 'a' && ca <= 'z')
			ca = (char)(ca - 'a' + 'A');
		if (cb >= 'a' && cb <= 'z')
			cb = (char)(cb - 'a' + 'A');
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

bm_err bm_wiring_parse(const char *s, bm_wiring *out)
{
	for (unsigned i = 0; s && i < BM_WIRING_COUNT; i++)
		if (name_eq(s, wiring_names[i])) {
			*out = (bm_wiring)i;
			return BM_OK;
		}
	return BM_E_NOTFOUND;
}

bm_err bm_sensor_parse(const char *s, bm_sensor_type *out)
{
	for (unsigned i = 0; s && i < BM_SENSOR_COUNT; i++)
		if (name_eq(s, sensor_names[i])) {
			*out = (bm_sensor_type)i;
			return BM_OK;
		}
	if (s && (name_eq(s, "ROGOWSKI") || name_eq(s, "RCOIL"))) {
		*out = BM_SENSOR_RCOIL;
		return BM_OK;
	}
	return BM_E_NOTFOUND;
}

unsigned bm_wiring_measured(bm_wiring w)
{
	switch (w) {
	case BM_WIRING_3P4W_4CT: return 0xFu;
	case BM_WIRING_3P4W_3CT: return 0x7u;
	case BM_WIRING_3P3W_3CT: return 0x7u;
	case BM_WIRING_3P3W_2CT: return 0x5u; /* I1, I3 */
	case BM_WIRING_1P3W: return 0x3u;
	case BM_WIRING_1P2W: return 0x1u;
	default: return 0;
	}
}

unsigned bm_wiring_phases(bm_wiring w)
{
	switch (w) {
	case BM_WIRING_1P3W: return 0x3u;
	case BM_WIRING_1P2W: return 0x1u;
	default: return 0x7u;
	}
}

bool bm_wiring_three_wire(bm_wiring w)
{
	return w == BM_WIRING_3P3W_3CT || w == BM_WIRING_3P3W_2CT;
}

void bm_sensor_default(bm_sensor_cfg *s, bm_sensor_type type, double primary_a)
{
	memset(s, 0, sizeof *s);
	s->type = type;
	s->primary_a = primary_a;
	switch (type) {
	case BM_SENSOR_CT: s->secondary = 5.0; break;
	case BM_SENSOR_VCT: s->secondary = 333.0; break;
	/* 85 mV per kA at 50 Hz, the spec's example coil (§7.5.2). */
	case BM_SENSOR_RCOIL: s->secondary = 85.0 * primary_a / 1000.0; break;
	default: break;
	}
	if (type == BM_SENSOR_RCOIL && s->secondary < 1.0)
		s->secondary = 1.0;
	s->nominal_a = primary_a;
	s->cal.gain = 1.0;
}

void bm_config_default(bm_meter_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->sample_rate = 12800;
	cfg->nominal_hz = 50;
	cfg->u_nominal_v = 230.0;
	cfg->vt_ratio = 1.0;
	cfg->u_min_v = 0.01 * cfg->u_nominal_v; /* 1 % of nominal */
	for (unsigned k = 0; k < BM_VOLTAGE_INPUTS; k++)
		cfg->ucal[k].gain = 1.0;
	cfg->n_circuits = BM_MAX_CIRCUITS;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		bm_circuit_cfg *cc = &cfg->circuit[c];
		cc->wiring = BM_WIRING_3P4W_4CT;
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++)
			bm_sensor_default(&cc->sensor[p], BM_SENSOR_CT, 5.0);
		cc->i_min_a = 0.001 * cc->sensor[0].nominal_a; /* 0.1 % of nominal */
	}
}

/* Finite and within [lo, hi]. NaN fails every comparison, so test positively. */
static bool in_range(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

bm_err bm_cfg_fail(bm_cfg_issue *issue, const char *field, const char *reason, int circuit, int input)
{
	if (issue) {
		issue->field = field;
		issue->reason = reason;
		issue->circuit = circuit;
		issue->input = input;
	}
	return BM_E_INVAL;
}

/* Largest phase calibration (degrees) the front end can apply: the channel
 * may move BM_FE_DELAY - BM_FIR_TAPS/2 samples either way. */
static double max_phase_deg(const bm_meter_cfg *cfg)
{
	double samples = (double)(BM_FE_DELAY - BM_FIR_TAPS / 2);
	return samples * 360.0 * cfg->nominal_hz / (double)cfg->sample_rate;
}

static bm_err check_cal(const bm_meter_cfg *cfg, const bm_cal *cal, double offset_max, bm_cfg_issue *issue,
                        int circuit, int input)
{
	if (!in_range(cal->gain, 0.5, 2.0))
		return bm_cfg_fail(issue, "cal.gain", "must be 0.5..2", circuit, input);
	double pm = max_phase_deg(cfg);
	if (!in_range(cal->phase_deg, -pm, pm))
		return bm_cfg_fail(issue, "cal.phase_deg", "exceeds the front end's delay range at this sample rate", circuit,
		            input);
	if (!in_range(cal->offset, -offset_max, offset_max))
		return bm_cfg_fail(issue, "cal.offset", "out of range", circuit, input);
	return BM_OK;
}

bm_err bm_config_validate(const bm_meter_cfg *cfg, bm_cfg_issue *issue)
{
	if (!cfg)
		return bm_cfg_fail(issue, "config", "missing", -1, -1);
	if (cfg->sample_rate < BM_FS_MIN || cfg->sample_rate > BM_FS_MAX)
		return bm_cfg_fail(issue, "sample_rate", "must be 2000..102400 S/s", -1, -1);
	if (cfg->nominal_hz != 50 && cfg->nominal_hz != 60)
		return bm_cfg_fail(issue, "nominal_hz", "must be 50 or 60", -1, -1);
	if (!in_range(cfg->vt_ratio, 1.0, 10000.0))
		return bm_cfg_fail(issue, "vt_ratio", "must be 1..10000", -1, -1);
	if (!in_range(cfg->u_nominal_v, 1.0, 1e6))
		return bm_cfg_fail(issue, "u_nominal_v", "must be 1..1000000 V", -1, -1);
	if (!in_range(cfg->u_min_v, 0.0, cfg->u_nominal_v))
		return bm_cfg_fail(issue, "u_min_v", "must be 0..nominal voltage", -1, -1);
	for (int k = 0; k < BM_VOLTAGE_INPUTS; k++) {
		bm_err e = check_cal(cfg, &cfg->ucal[k], 100.0, issue, -1, k);
		if (e)
			return e;
	}
	if (cfg->n_circuits < 1 || cfg->n_circuits > BM_MAX_CIRCUITS)
		return bm_cfg_fail(issue, "n_circuits", "must be 1..4", -1, -1);
	for (int c = 0; c < cfg->n_circuits; c++) {
		const bm_circuit_cfg *cc = &cfg->circuit[c];
		if ((unsigned)cc->wiring >= BM_WIRING_COUNT)
			return bm_cfg_fail(issue, "wiring", "unknown wiring mode", c, -1);
		if (!in_range(cc->i_min_a, 0.0, 1e6))
			return bm_cfg_fail(issue, "i_min_a", "must be 0..1000000 A", c, -1);
		unsigned used = bm_wiring_measured(cc->wiring);
		for (int p = 0; p < BM_PHASE_INPUTS; p++) {
			if (!(used & (1u << p)))
				continue;
			const bm_sensor_cfg *s = &cc->sensor[p];
			if (!in_range(s->primary_a, 1.0, 999999.0))
				return bm_cfg_fail(issue, "primary_a", "must be 1..999999 A", c, p);
			switch (s->type) {
			case BM_SENSOR_CT:
				if (!in_range(s->secondary, 0.001, 10.0))
					return bm_cfg_fail(issue, "secondary", "CT secondary must be 0.001..10 A", c, p);
				if (!in_range(s->primary_a / s->secondary, 1.0, 10000.0))
					return bm_cfg_fail(issue, "primary_a", "CT ratio must be 1..10000", c, p);
				break;
			case BM_SENSOR_VCT:
			case BM_SENSOR_RCOIL:
				if (!in_range(s->secondary, 1.0, 99999.0))
					return bm_cfg_fail(issue, "secondary", "must be 1..99999 mV", c, p);
				break;
			default:
				return bm_cfg_fail(issue, "type", "unknown sensor type", c, p);
			}
			if (!in_range(s->nominal_a, 0.001, 999999.0))
				return bm_cfg_fail(issue, "nominal_a", "must be 0.001..999999 A", c, p);
			double offmax = 10.0; /* A (CT) or V (VCT, coil) at the input */
			bm_err e = check_cal(cfg, &s->cal, offmax, issue, c, p);
			if (e)
				return e;
		}
	}
	return BM_OK;
}
