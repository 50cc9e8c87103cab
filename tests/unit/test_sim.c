/*
 * test_sim.c — the signal simulator (platform/linux/sim.h, scenario.c).
 *
 * Purpose: prove the scenario parser refuses every class of bad input with
 * a message that names the line, that scenarios/default.ini is the built-in
 * default, and that the generated frames carry what the truth says: RMS per
 * channel, powers and their signs, sensor scaling (CT, VCT, Rogowski coil
 * against a finite difference), load-profile interpolation through
 * midnight, three-wire and neutral currents, phase sequence, noise and ADC,
 * and bit-identical output however the generation is split; and the
 * auxiliary inputs (temperature, residual current, digital inputs): their
 * keys, their values over time, and that they change no frame. (That the
 * core's meter, configured by bm_sim_meter_config(), measures the truth is
 * test_sim_meter's job.)
 *
 * Invariants: every expected value is computed here in double from the
 * scenario's own numbers (an independent model), never read back from the
 * generator's internals; RMS and mean powers are taken over whole cycles
 * (256 samples per 50 Hz cycle at 12.8 kS/s), where harmonics are exactly
 * orthogonal.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

#define PI 3.14159265358979323846

/* ---------------------------------------------------------------- helpers */

static void check_close_(double got, double want, double tol, const char *what, const char *file, int line)
{
	if (!(fabs(got - want) <= tol)) {
		print_error("%s:%d: %s: got %.9g, want %.9g (tolerance %.3g)\n", file, line, what, got, want, tol);
		_fail(file, line);
	}
}
#define check_close(got, want, tol, what) check_close_((got), (want), (tol), (what), __FILE__, __LINE__)
#define check_rel(got, want, rel, what) check_close_((got), (want), (rel) * fabs(want), (what), __FILE__, __LINE__)

/* The repository root: BM_TEST_DATA is <root>/tests/data. */
static const char *repo_path(const char *rel)
{
	static char buf[1100];
	char root[1024];
	snprintf(root, sizeof root, "%s", BM_TEST_DATA);
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(root, '/');
		assert_non_null(slash);
		*slash = '\0';
	}
	snprintf(buf, sizeof buf, "%s/%s", root, rel);
	return buf;
}

static void load_ok(const char *text, bm_sim_scenario *sc)
{
	char err[256] = "";
	bm_err e = bm_sim_load_string(text, "t.ini", sc, err, sizeof err);
	if (e != BM_OK)
		fail_msg("scenario refused (%d): %s", e, err);
}

/* n frames of s (stride = channels) in a fresh buffer. */
static float *gen(bm_sim *s, size_t n)
{
	size_t nch = bm_sim_channels(s);
	float *buf = malloc(n * nch * sizeof(float));
	assert_non_null(buf);
	assert_int_equal(bm_sim_generate(s, buf, nch, n), n);
	return buf;
}

static bm_sim *sim_new(const bm_sim_scenario *sc)
{
	bm_sim *s = malloc(sizeof *s);
	assert_non_null(s);
	assert_int_equal(bm_sim_init(s, sc), BM_OK);
	return s;
}

static double rms(const float *buf, size_t nch, size_t ch, size_t from, size_t n)
{
	double a = 0.0;
	for (size_t k = from; k < from + n; k++)
		a += (double)buf[k * nch + ch] * buf[k * nch + ch];
	return sqrt(a / (double)n);
}

static double mean_product(const float *buf, size_t nch, size_t a, size_t b, size_t from, size_t n)
{
	double acc = 0.0;
	for (size_t k = from; k < from + n; k++)
		acc += (double)buf[k * nch + a] * buf[k * nch + b];
	return acc / (double)n;
}

/* Fundamental phase of a channel (radians) over whole cycles. */
static double phase_of(const float *buf, size_t nch, size_t ch, size_t n, double samples_per_cycle)
{
	double re = 0.0, im = 0.0;
	for (size_t k = 0; k < n; k++) {
		double w = 2.0 * PI * (double)k / samples_per_cycle;
		re += buf[k * nch + ch] * cos(w);
		im -= buf[k * nch + ch] * sin(w);
	}
	return atan2(im, re);
}

static double wrap_deg(double d)
{
	while (d > 180.0)
		d -= 360.0;
	while (d <= -180.0)
		d += 360.0;
	return d;
}

/* ------------------------------------------------------------- default */

#define SAME(field)                                                                                           \
	do {                                                                                                      \
		if (memcmp(&a->field, &b->field, sizeof a->field) != 0)                                               \
			fail_msg("default.ini and bm_sim_default() differ in " #field);                                   \
	} while (0)

static void compare_scenarios(const bm_sim_scenario *a, const bm_sim_scenario *b)
{
	SAME(sample_rate);
	SAME(nominal_hz);
	SAME(vt_ratio);
	SAME(voltage_v);
	SAME(frequency_hz);
	SAME(wander_hz);
	SAME(wander_period_s);
	SAME(ramp_hz_per_s);
	SAME(unbalance);
	SAME(angle_dev_deg);
	SAME(acb);
	SAME(harmonics.n);
	for (unsigned i = 0; i < a->harmonics.n; i++) {
		SAME(harmonics.h[i].order);
		SAME(harmonics.h[i].percent);
		SAME(harmonics.h[i].phase_deg);
	}
	SAME(noise_pct);
	SAME(adc_bits);
	SAME(seed);
	SAME(start.year);
	SAME(start.month);
	SAME(start.day);
	SAME(start.hour);
	SAME(start.minute);
	SAME(start.second);
	SAME(start.has_offset);
	SAME(start.offset_min);
	SAME(n_circuits);
	for (unsigned c = 0; c < a->n_circuits; c++) {
		SAME(circuit[c].wiring);
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			SAME(circuit[c].sensor[p].type);
			SAME(circuit[c].sensor[p].primary_a);
			SAME(circuit[c].sensor[p].secondary);
			SAME(circuit[c].sensor[p].nominal_a);
		}
		SAME(circuit[c].n_points);
		for (unsigned i = 0; i < a->circuit[c].n_points; i++) {
			SAME(circuit[c].profile[i].tod_s);
			SAME(circuit[c].profile[i].percent);
			SAME(circuit[c].profile[i].pf);
		}
		SAME(circuit[c].harmonics.n);
		for (unsigned i = 0; i < a->circuit[c].harmonics.n; i++) {
			SAME(circuit[c].harmonics.h[i].order);
			SAME(circuit[c].harmonics.h[i].percent);
			SAME(circuit[c].harmonics.h[i].phase_deg);
		}
		SAME(circuit[c].unbalance);
		SAME(circuit[c].cycle_period_s);
		SAME(circuit[c].cycle_duty);
		SAME(circuit[c].cycle_off_pct);
		SAME(circuit[c].has_temperature);
		SAME(circuit[c].temperature_c);
		SAME(circuit[c].temperature_rise_k);
		SAME(circuit[c].has_residual);
		SAME(circuit[c].residual_ma);
		SAME(circuit[c].n_res_steps);
		for (unsigned i = 0; i < a->circuit[c].n_res_steps; i++)
			SAME(circuit[c].res_step[i]);
	}
	SAME(input_mask);
	for (unsigned i = 0; i < BM_SIM_MAX_INPUTS; i++) {
		SAME(input[i].n_steps);
		for (unsigned k = 0; k < a->input[i].n_steps; k++)
			SAME(input[i].step[k]);
	}
}

static void test_default_file_is_builtin(void **state)
{
	(void)state;
	bm_sim_scenario file, builtin;
	char err[256] = "";
	bm_err e = bm_sim_load_file(repo_path("scenarios/default.ini"), &file, err, sizeof err);
	if (e != BM_OK)
		fail_msg("scenarios/default.ini: %s", err);
	bm_sim_default(&builtin);
	compare_scenarios(&file, &builtin);
	assert_int_equal(bm_sim_validate(&builtin, err, sizeof err), BM_OK);
	/* The default's character: 4 circuits, one of each sensor type, export. */
	assert_int_equal(builtin.n_circuits, 4);
	assert_int_equal(builtin.circuit[1].sensor[0].type, BM_SENSOR_RCOIL);
	assert_int_equal(builtin.circuit[2].sensor[0].type, BM_SENSOR_VCT);
	assert_int_equal(builtin.circuit[2].wiring, BM_WIRING_3P3W_3CT);
	bm_sim *s = sim_new(&builtin);
	bm_sim_truth t;
	/* Start 08:00; 12:30 local is 4.5 h later: circuit 4 exports. */
	bm_sim_truth_at(s, (uint64_t)(4.5 * 3600 * 12800), &t);
	check_close(t.tod_s, 12.5 * 3600, 1e-6, "time of day");
	assert_true(t.c[3].p_total < 0.0);
	assert_true(t.c[0].p_total > 0.0);
	free(s);
}

static void test_examples_load(void **state)
{
	(void)state;
	static const char *const files[] = {"scenarios/rogowski.ini", "scenarios/harmonics.ini",
	                                    "scenarios/export.ini", "scenarios/alarms.ini"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		bm_sim_scenario sc;
		char err[256] = "";
		if (bm_sim_load_file(repo_path(files[i]), &sc, err, sizeof err) != BM_OK)
			fail_msg("%s: %s", files[i], err);
		bm_meter_cfg cfg;
		assert_int_equal(bm_sim_meter_config(&sc, &cfg), BM_OK);
		bm_sim *s = sim_new(&sc);
		float *buf = gen(s, 3000);
		for (size_t k = 0; k < 3000 * bm_sim_channels(s); k++)
			assert_true(isfinite(buf[k]));
		free(buf);
		free(s);
	}
}

/* ------------------------------------------------------------- parser */

typedef struct bad_case {
	const char *text;
	bm_err rc;
	int line;           /* expected in the message as "t.ini:<line>:", 0: no line */
	const char *needle; /* expected in the message */
} bad_case;

#define C1 "[circuit1]\n"
static const bad_case bad[] = {
	/* unknown section / key */
	{"[grid]\nvoltage = 230\n[gird]\n" C1, BM_E_FORMAT, 3, "unknown section [gird]"},
	{C1 "[grid]\nvoltag = 230\n", BM_E_FORMAT, 3, "unknown key 'voltag'"},
	{C1 "wiring = 3P4W_4CT\nsensor.I5 = CT\n", BM_E_FORMAT, 3, "unknown key 'sensor.I5'"},
	{C1 "profile.In = 00:00=5\n", BM_E_FORMAT, 2, "unknown key"},
	{"voltage = 230\n" C1, BM_E_FORMAT, 1, "before the first [section]"},
	/* malformed numbers and lists */
	{"[grid]\nfrequency = 5O\n" C1, BM_E_FORMAT, 2, "frequency = 5O: malformed number"},
	{"[grid]\nfrequency = 0x32\n" C1, BM_E_FORMAT, 2, "malformed"},
	{"[grid]\nfrequency = nan\n" C1, BM_E_FORMAT, 2, "malformed"},
	{"[grid]\nfrequency = 50 Hz\n" C1, BM_E_FORMAT, 2, "malformed"},
	{"[grid]\nvoltage = 1e999\n" C1, BM_E_FORMAT, 2, "malformed"},
	{"[meter]\nsample_rate = 12800.5\n" C1, BM_E_FORMAT, 2, "whole number"},
	{"[meter]\nsample_rate = -1\n" C1, BM_E_FORMAT, 2, "whole number"},
	{"[grid]\nseed = 18446744073709551616\n" C1, BM_E_FORMAT, 2, "seed"},
	{"[grid]\nunbalance = 1, 1\n" C1, BM_E_FORMAT, 2, "three numbers"},
	{"[grid]\nunbalance = 1, 1, 1, 1\n" C1, BM_E_FORMAT, 2, "three numbers"},
	{"[grid]\nharmonics = 3:2,,5:1\n" C1, BM_E_FORMAT, 2, "empty list entry"},
	{"[grid]\nharmonics = 3\n" C1, BM_E_FORMAT, 2, "order:percent"},
	{"[grid]\nharmonics = 3:x\n" C1, BM_E_FORMAT, 2, "malformed"},
	{"[grid]\nharmonics = 3:2@\n" C1, BM_E_FORMAT, 2, "malformed"},
	{C1 "profile = 8:00=50\n", BM_E_FORMAT, 2, "HH:MM"},
	{C1 "profile = 08:00\n", BM_E_FORMAT, 2, "HH:MM=percent"},
	{C1 "profile = 08:00=50@\n", BM_E_FORMAT, 2, "malformed"},
	{C1 "wiring = 3P5W\n", BM_E_FORMAT, 2, "expected 3P4W_4CT"},
	{C1 "sensor = HALL\n", BM_E_FORMAT, 2, "expected CT, VCT or RCOIL"},
	{"[grid]\nphase_sequence = CBA\n" C1, BM_E_FORMAT, 2, "ABC or ACB"},
	{"[grid]\nstart = 2026-01-05 8:00\n" C1, BM_E_FORMAT, 2, "YYYY-MM-DD"},
	{"[grid]\nstart = 2026-01-05T08:00:00+1\n" C1, BM_E_FORMAT, 2, "YYYY-MM-DD"},
	/* syntax, structure */
	{"[grid]\nvoltage 230\n" C1, BM_E_FORMAT, 2, "syntax error"},
	{"[grid\nvoltage = 230\n" C1, BM_E_FORMAT, 1, "syntax error"},
	{"[grid]\nvoltage = 230\nvoltage = 231\n" C1, BM_E_FORMAT, 3, "given twice"},
	{C1 "sensor = CT\nSENSOR = VCT\n", BM_E_FORMAT, 3, "given twice"},
	{"[grid]\nvoltage = 230\n  240\n" C1, BM_E_FORMAT, 3, "only lists"},
	{"[grid]\nvoltage = 230\n", BM_E_FORMAT, 0, "no [circuit1]"},
	{"[circuit1]\n[circuit3]\n", BM_E_FORMAT, 2, "without [circuit2]"},
	{"[circuit0]\n", BM_E_FORMAT, 1, "unknown section"},
	/* out of range */
	{"[grid]\nfrequency = 80\n" C1, BM_E_INVAL, 2, "must be 40..70 Hz"},
	{"[grid]\nfrequency = 39.9\n" C1, BM_E_INVAL, 2, "40..70"},
	{"[grid]\nvoltage = 0\n" C1, BM_E_INVAL, 2, "voltage"},
	{"[grid]\nnoise = 11\n" C1, BM_E_INVAL, 2, "noise"},
	{"[grid]\nharmonics = 3:100.5\n" C1, BM_E_INVAL, 2, "percent must be 0..100"},
	{"[grid]\nharmonics = 1:5\n" C1, BM_E_INVAL, 2, "order must be 2..63"},
	{"[grid]\nharmonics = 64:5\n" C1, BM_E_INVAL, 2, "order must be 2..63"},
	{"[grid]\nharmonics = 5:5@400\n" C1, BM_E_INVAL, 2, "phase"},
	{"[grid]\nharmonics = 5:1, 7:1, 5:2\n" C1, BM_E_INVAL, 2, "given twice"},
	{"[grid]\nadc_bits = 4\n" C1, BM_E_INVAL, 2, "0 (off) or 8..24"},
	{"[grid]\nunbalance = 1, 2.5, 1\n" C1, BM_E_INVAL, 2, "0..2"},
	{"[grid]\nstart = 2026-02-30T08:00:00\n" C1, BM_E_INVAL, 2, "out of range"},
	{"[grid]\nstart = 2026-01-05T24:00:00\n" C1, BM_E_INVAL, 2, "out of range"},
	{"[meter]\nnominal_hz = 55\n" C1, BM_E_INVAL, 2, "50 or 60"},
	{"[meter]\nsample_rate = 1000\n" C1, BM_E_INVAL, 2, "2000..102400"},
	{"[meter]\nvt_ratio = 0.5\n" C1, BM_E_INVAL, 2, "vt_ratio"},
	{C1 "[circuit2]\n[circuit3]\n[circuit4]\n[circuit5]\n", BM_E_INVAL, 5, "at most 4 circuits"},
	{C1 "profile = 08:00=50, 07:00=60\n", BM_E_INVAL, 2, "increase"},
	{C1 "profile = 08:00=50, 08:00=60\n", BM_E_INVAL, 2, "increase"},
	{C1 "profile = 24:00=50\n", BM_E_INVAL, 2, "00:00..23:59:59"},
	{C1 "profile = 08:00=50@1.01\n", BM_E_INVAL, 2, "power factor"},
	{C1 "profile = 08:00=301\n", BM_E_INVAL, 2, "-300..300"},
	{C1 "cycle_duty = 1.5\n", BM_E_INVAL, 2, "cycle_duty"},
	{C1 "primary = 0.5\n", BM_E_INVAL, 2, "1..999999"},
	/* a CT's secondary beyond 10 A: blamed on the line that set it */
	{C1 "sensor = CT\nprimary = 100\nsecondary = 20\n", BM_E_INVAL, 4, "0.001..10 A"},
	/* a VCT's secondary below 1 mV, set on the circuit, inherited by I1 */
	{C1 "sensor = VCT\nsecondary = 0.5\nprimary = 100\n", BM_E_INVAL, 3, "1..99999 mV"},
	/* CT ratio below 1 */
	{C1 "primary = 2\nsecondary = 5\n", BM_E_INVAL, 3, "ratio"},
	/* temperature */
	{C1 "temperature = warm\n", BM_E_FORMAT, 2, "[circuit1] temperature = warm: malformed number"},
	{C1 "temperature =\n", BM_E_FORMAT, 2, "[circuit1] temperature = : malformed number"},
	{C1 "temperature = 200.5\n", BM_E_INVAL, 2, "[circuit1] temperature = 200.5: must be -40..200 degC"},
	{C1 "temperature = -41\n", BM_E_INVAL, 2, "temperature = -41: must be -40..200 degC"},
	{C1 "temperature = 20\ntemperature = 30\n", BM_E_FORMAT, 3, "[circuit1] temperature: given twice"},
	{C1 "temperature = 20\ntemperature_rise = 201\n", BM_E_INVAL, 3,
	 "[circuit1] temperature_rise = 201: must be 0..200 K"},
	{C1 "temperature = 20\ntemperature_rise = -1\n", BM_E_INVAL, 3, "temperature_rise = -1: must be 0..200 K"},
	{C1 "temperature = 20\ntemperature_rise = 1K\n", BM_E_FORMAT, 3, "temperature_rise = 1K: malformed"},
	{C1 "temperature_rise = 10\nwiring = 1P2W\n", BM_E_INVAL, 2,
	 "[circuit1] temperature_rise = 10: needs temperature"},
	{C1 "temperature = 20\n[circuit2]\ntemperature_rise = 10\n", BM_E_INVAL, 4,
	 "[circuit2] temperature_rise = 10: needs temperature"},
	/* residual current */
	{C1 "residual = -1\n", BM_E_INVAL, 2, "[circuit1] residual = -1: must be 0..100000 mA"},
	{C1 "residual = 100001\n", BM_E_INVAL, 2, "residual = 100001: must be 0..100000 mA"},
	{C1 "residual = 5 mA\n", BM_E_FORMAT, 2, "residual = 5 mA: malformed number"},
	{C1 "residual = 5\nresidual = 6\n", BM_E_FORMAT, 3, "[circuit1] residual: given twice"},
	{C1 "residual_steps = 60:40\n", BM_E_INVAL, 2, "[circuit1] residual_steps = 60:40: needs residual"},
	{C1 "residual = 5\nresidual_steps = 60\n", BM_E_FORMAT, 3,
	 "[circuit1] residual_steps = 60: malformed step (expected seconds:mA"},
	{C1 "residual = 5\nresidual_steps = 60:40,,90:5\n", BM_E_FORMAT, 3, "residual_steps = 60:40,,90:5: empty list entry"},
	{C1 "residual = 5\nresidual_steps = 60:x\n", BM_E_FORMAT, 3, "residual_steps = 60:x: malformed step"},
	{C1 "residual = 5\nresidual_steps = 1m:5\n", BM_E_FORMAT, 3, "malformed step"},
	{C1 "residual = 5\nresidual_steps = 60:40, 50:5\n", BM_E_INVAL, 3,
	 "residual_steps = 60:40, 50:5: step times must increase"},
	{C1 "residual = 5\nresidual_steps = 60:40, 60:5\n", BM_E_INVAL, 3, "step times must increase"},
	{C1 "residual = 5\nresidual_steps = -1:40\n", BM_E_INVAL, 3, "step time must be 0..1e+09 s"},
	{C1 "residual = 5\nresidual_steps = 2e9:40\n", BM_E_INVAL, 3, "step time must be 0..1e+09 s"},
	{C1 "residual = 5\nresidual_steps = 60:100001\n", BM_E_INVAL, 3,
	 "residual_steps = 60:100001: residual current must be 0..100000 mA"},
	{C1 "residual = 5\nresidual_steps = 1:1\nresidual_steps = 2:2\n", BM_E_FORMAT, 4,
	 "[circuit1] residual_steps: given twice"},
	{C1 "residual = 5\nresidual_steps = 1:1\n[circuit2]\nresidual_steps = 2:2\n", BM_E_INVAL, 5,
	 "[circuit2] residual_steps = 2:2: needs residual"},
	/* not both on one circuit: the second key is blamed */
	{C1 "temperature = 20\nresidual = 5\n", BM_E_INVAL, 3,
	 "[circuit1] residual = 5: a circuit has a temperature or a residual-current input, not both"},
	{C1 "residual = 5\nwiring = 1P2W\ntemperature = 20\n", BM_E_INVAL, 4,
	 "[circuit1] temperature = 20: a circuit has a temperature or a residual-current input, not both"},
	{C1 "residual = 5\ntemperature = 20\n", BM_E_INVAL, 3, "S cannot work with T"},
	/* [inputs] */
	{"[input]\ndi1 = 1:1\n" C1, BM_E_FORMAT, 1, "unknown section [input]"},
	{"[inputs]\ndi5 = 1:1\n" C1, BM_E_FORMAT, 2, "[inputs] unknown key 'di5'"},
	{"[inputs]\ndi1.I1 = 1:1\n" C1, BM_E_FORMAT, 2, "[inputs] unknown key 'di1.I1'"},
	{"[inputs]\nwiring = 1P2W\n" C1, BM_E_FORMAT, 2, "[inputs] unknown key 'wiring'"},
	{C1 "di1 = 1:1\n", BM_E_FORMAT, 2, "[circuit1] unknown key 'di1'"},
	{"[inputs]\ndi1 = 30\n" C1, BM_E_FORMAT, 2, "[inputs] di1 = 30: malformed step (expected seconds:state"},
	{"[inputs]\ndi1 = 30:0.5\n" C1, BM_E_FORMAT, 2, "di1 = 30:0.5: malformed step"},
	{"[inputs]\ndi1 = 30:-1\n" C1, BM_E_FORMAT, 2, "malformed step"},
	{"[inputs]\ndi1 = nan:1\n" C1, BM_E_FORMAT, 2, "malformed step"},
	{"[inputs]\ndi2 = 30:1,\n  ,40:0\n" C1, BM_E_FORMAT, 3, "[inputs] di2 = ,40:0: empty list entry"},
	{"[inputs]\ndi1 = 30:2\n" C1, BM_E_INVAL, 2, "[inputs] di1 = 30:2: state must be 0 (open) or 1 (closed)"},
	{"[inputs]\ndi3 = 30:1, 20:0\n" C1, BM_E_INVAL, 2, "[inputs] di3 = 30:1, 20:0: step times must increase"},
	{"[inputs]\ndi4 = 1e10:1\n" C1, BM_E_INVAL, 2, "di4 = 1e10:1: step time must be 0..1e+09 s"},
	{"[inputs]\ndi1 = 1:1\nDI1 = 2:0\n" C1, BM_E_FORMAT, 3, "[inputs] DI1: given twice"},
	{"[inputs]\n[circuit1]\ntemperature = 20\n  30\n", BM_E_FORMAT, 4, "only lists"},
};

static void test_parser_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const bad_case *b = &bad[i];
		bm_sim_scenario out, before;
		memset(&out, 0xA5, sizeof out);
		memcpy(&before, &out, sizeof out);
		char err[256] = "";
		bm_err e = bm_sim_load_string(b->text, "t.ini", &out, err, sizeof err);
		if (e != b->rc)
			fail_msg("case %zu: rc %d, want %d (%s) for:\n%s", i, e, b->rc, err, b->text);
		if (memcmp(&out, &before, sizeof out) != 0)
			fail_msg("case %zu: output changed on error", i);
		if (!strstr(err, b->needle))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, b->needle);
		char where[32];
		snprintf(where, sizeof where, b->line ? "t.ini:%d: " : "t.ini: ", b->line);
		if (strncmp(err, where, strlen(where)) != 0)
			fail_msg("case %zu: message '%s' does not start with '%s'", i, err, where);
	}
}

static void test_parser_long_line_and_limits(void **state)
{
	(void)state;
	char err[256];
	bm_sim_scenario sc;
	/* A 300-character line: inih would split it; we refuse it. */
	char text[1024];
	int n = snprintf(text, sizeof text, "[circuit1]\n; ");
	memset(text + n, 'x', 300);
	snprintf(text + n + 300, sizeof text - (size_t)n - 300, "\nwiring = 1P2W\n");
	assert_int_equal(bm_sim_load_string(text, "t.ini", &sc, err, sizeof err), BM_E_FORMAT);
	assert_non_null(strstr(err, "t.ini:2: line too long"));

	/* 33 harmonics over continuation lines: the 33rd is refused. */
	char big[2048];
	n = snprintf(big, sizeof big, "[grid]\nharmonics = 2:1,\n");
	for (int h = 3; h <= 34; h++)
		n += snprintf(big + n, sizeof big - (size_t)n, "  %d:1,\n", h);
	snprintf(big + n, sizeof big - (size_t)n, "[circuit1]\n");
	assert_int_equal(bm_sim_load_string(big, "t.ini", &sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "t.ini:34: "));
	assert_non_null(strstr(err, "more than 32"));

	/* 49 profile points */
	n = snprintf(big, sizeof big, "[circuit1]\nprofile = 00:00=1,\n");
	for (int k = 1; k < 49; k++)
		n += snprintf(big + n, sizeof big - (size_t)n, "  %02d:%02d=1,\n", k / 3, (k % 3) * 20);
	assert_int_equal(bm_sim_load_string(big, "t.ini", &sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "t.ini:50: "));
	assert_non_null(strstr(err, "more than 48"));

	/* NULL err is allowed; a NULL text is an argument error. */
	assert_int_equal(bm_sim_load_string("[gird]\n", NULL, &sc, NULL, 0), BM_E_FORMAT);
	assert_int_equal(bm_sim_load_string(NULL, "x", &sc, err, sizeof err), BM_E_INVAL);
	/* A tiny err buffer is truncated, never overrun. */
	char tiny[8];
	memset(tiny, 'z', sizeof tiny);
	assert_int_equal(bm_sim_load_string("[gird]\n", "t.ini", &sc, tiny, 5), BM_E_FORMAT);
	assert_int_equal(tiny[4], '\0');
	assert_int_equal(tiny[5], 'z');
}

static void test_parser_files(void **state)
{
	(void)state;
	char err[256];
	bm_sim_scenario sc;
	assert_int_equal(bm_sim_load_file("/nonexistent/x.ini", &sc, err, sizeof err), BM_E_NOTFOUND);
	assert_non_null(strstr(err, "/nonexistent/x.ini"));
	assert_int_equal(bm_sim_load_file("/", &sc, err, sizeof err), BM_E_IO);
}

static void test_parser_accepts(void **state)
{
	(void)state;
	bm_sim_scenario sc;
	load_ok("\xEF\xBB\xBF; a BOM, comments, odd case, continuations\n"
	        "# hash comment\n"
	        "[Grid]\n"
	        "Voltage = 120 ; inline comment\n"
	        "frequency = 60\n"
	        "harmonics = 3:1.5,\n"
	        "    5:2@-30 ,\n"
	        "\n"
	        "    ; a comment between continuation lines\n"
	        "    7:0.5@180\n"
	        "phase_sequence = acb\n"
	        "start = 2026-03-01T23:30:15-05:30\n"
	        "seed = 18446744073709551615\n"
	        "[CIRCUIT1]\n"
	        "wiring = 1p3w\n"
	        "sensor = rcoil\n"
	        "primary = 2000\n"
	        "sensor.In = CT\n"
	        "primary.In = 500\n"
	        "profile = 00:00=10, 06:00:30=50@-0.5,\n"
	        "          23:59:59=-20@0.8\n"
	        "[circuit2]\n",
	        &sc);
	check_close(sc.voltage_v, 120, 0, "voltage");
	assert_int_equal(sc.nominal_hz, 60); /* derived from the frequency */
	assert_int_equal(sc.harmonics.n, 3);
	assert_int_equal(sc.harmonics.h[1].order, 5);
	check_close(sc.harmonics.h[1].phase_deg, -30, 0, "phase");
	check_close(sc.harmonics.h[2].phase_deg, 180, 0, "phase");
	assert_true(sc.acb);
	assert_true(sc.start.has_offset);
	assert_int_equal(sc.start.offset_min, -330);
	assert_int_equal(sc.start.second, 15);
	assert_true(sc.seed == UINT64_MAX);
	assert_int_equal(sc.n_circuits, 2);
	const bm_sim_circuit *c = &sc.circuit[0];
	assert_int_equal(c->wiring, BM_WIRING_1P3W);
	assert_int_equal(c->sensor[0].type, BM_SENSOR_RCOIL);
	check_close(c->sensor[0].primary_a, 2000, 0, "primary");
	check_close(c->sensor[0].secondary, 170, 1e-12, "85 mV/kA default");
	check_close(c->sensor[0].nominal_a, 2000, 0, "nominal = primary");
	assert_int_equal(c->sensor[3].type, BM_SENSOR_CT);
	check_close(c->sensor[3].primary_a, 500, 0, "In primary");
	check_close(c->sensor[3].secondary, 5, 0, "In takes the CT default, not the coil's mV");
	assert_int_equal(c->n_points, 3);
	assert_int_equal(c->profile[1].tod_s, 6 * 3600 + 30);
	check_close(c->profile[1].pf, -0.5, 0, "pf");
	check_close(c->profile[0].pf, 1, 0, "pf default");
	check_close(c->profile[2].percent, -20, 0, "export");
	/* an empty section is a circuit of defaults */
	assert_int_equal(sc.circuit[1].wiring, BM_WIRING_3P4W_4CT);
	assert_int_equal(sc.circuit[1].sensor[0].type, BM_SENSOR_CT);
	check_close(sc.circuit[1].sensor[0].primary_a, 100, 0, "default primary");
	check_close(sc.circuit[1].profile[0].percent, 50, 0, "default profile");

	/* an empty harmonics value means none */
	load_ok("[grid]\nharmonics =\n" C1, &sc);
	assert_int_equal(sc.harmonics.n, 0);
}

static void test_meter_config(void **state)
{
	(void)state;
	bm_sim_scenario sc;
	bm_sim_default(&sc);
	bm_meter_cfg cfg;
	assert_int_equal(bm_sim_meter_config(&sc, &cfg), BM_OK);
	assert_int_equal(bm_config_validate(&cfg, NULL), BM_OK);
	assert_int_equal(cfg.sample_rate, sc.sample_rate);
	assert_int_equal(cfg.nominal_hz, 50);
	assert_int_equal(cfg.n_circuits, 4);
	check_close(cfg.vt_ratio, 1, 0, "vt");
	check_close(cfg.u_nominal_v, 230, 0, "u nominal");
	for (unsigned c = 0; c < 4; c++) {
		assert_int_equal(cfg.circuit[c].wiring, sc.circuit[c].wiring);
		for (unsigned p = 0; p < 4; p++) {
			assert_int_equal(cfg.circuit[c].sensor[p].type, sc.circuit[c].sensor[p].type);
			check_close(cfg.circuit[c].sensor[p].primary_a, sc.circuit[c].sensor[p].primary_a, 0, "pri");
			check_close(cfg.circuit[c].sensor[p].secondary, sc.circuit[c].sensor[p].secondary, 0, "sec");
			check_close(cfg.circuit[c].sensor[p].cal.gain, 1, 0, "calibration left at default");
		}
	}
	assert_int_equal(bm_config_channels(&cfg), 19);

	/* A scenario built in C is validated like a file. */
	sc.circuit[0].harmonics.h[0].order = 1;
	assert_int_equal(bm_sim_meter_config(&sc, &cfg), BM_E_INVAL);
	char err[256];
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit1] harmonics"));
	static bm_sim s;
	assert_int_equal(bm_sim_init(&s, &sc), BM_E_INVAL);
	bm_sim_default(&sc);
	sc.n_circuits = 0;
	assert_int_equal(bm_sim_init(&s, &sc), BM_E_INVAL);
	bm_sim_default(&sc);
	sc.circuit[3].profile[2].tod_s = 1; /* out of order */
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit4] profile"));
}

/* ---------------------------------------------------------- generation */

static void test_determinism(void **state)
{
	(void)state;
	bm_sim_scenario sc;
	bm_sim_default(&sc);
	const size_t n = 10 * 12800;
	bm_sim *a = sim_new(&sc);
	float *one = gen(a, n);
	const size_t nch = bm_sim_channels(a);

	bm_sim *b = sim_new(&sc);
	float *chunks = malloc(n * nch * sizeof(float));
	assert_non_null(chunks);
	uint32_t lcg = 12345;
	size_t done = 0;
	while (done < n) {
		lcg = lcg * 1664525u + 1013904223u;
		size_t take = 1 + (lcg >> 8) % 700; /* 1..700: across block edges */
		if (take > n - done)
			take = n - done;
		assert_int_equal(bm_sim_generate(b, chunks + done * nch, nch, take), take);
		done += take;
	}
	assert_int_equal(memcmp(one, chunks, n * nch * sizeof(float)), 0);
	assert_true(bm_sim_samples(a) == n && bm_sim_samples(b) == n);

	/* A wider stride leaves the extra floats alone and gives the same data. */
	bm_sim *c = sim_new(&sc);
	size_t stride = nch + 3;
	float *wide = malloc(1000 * stride * sizeof(float));
	assert_non_null(wide);
	for (size_t k = 0; k < 1000 * stride; k++)
		wide[k] = -7.0f;
	assert_int_equal(bm_sim_generate(c, wide, stride, 1000), 1000);
	for (size_t k = 0; k < 1000; k++) {
		assert_int_equal(memcmp(&wide[k * stride], &one[k * nch], nch * sizeof(float)), 0);
		for (size_t x = nch; x < stride; x++)
			assert_true(wide[k * stride + x] == -7.0f);
	}
	assert_int_equal(bm_sim_generate(c, wide, nch - 1, 10), 0); /* stride too small */

	/* Another seed changes the noise, and only the noise. */
	sc.seed += 1;
	bm_sim *d = sim_new(&sc);
	float *other = gen(d, 2000);
	assert_true(memcmp(one, other, 2000 * nch * sizeof(float)) != 0);
	double diff = 0.0;
	for (size_t k = 0; k < 2000 * nch; k++)
		diff = fmax(diff, fabs((double)one[k] - other[k]));
	assert_true(diff < 1.0); /* noise is 0.02 % of nominal: volts at most */

	free(one);
	free(chunks);
	free(wide);
	free(other);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* A scenario with every kind of channel, constant load, no noise, no ADC. */
static const char *const mixed =
	"[meter]\nsample_rate = 12800\nvt_ratio = 2\n"
	"[grid]\nvoltage = 230\nharmonics = 3:2@30, 5:4, 7:1.5@-45\n"
	"unbalance = 1, 0.97, 1.02\nangle_deviation = 0, 1, -2\nstart = 2026-01-05T12:00:00Z\n"
	"[circuit1]\nwiring = 3P4W_4CT\nsensor = CT\nprimary = 100\nsecondary = 5\n"
	"profile = 00:00=60@0.9\nharmonics = 3:30, 5:10@45\nunbalance = 1, 1.2, 0.8\n"
	"[circuit2]\nwiring = 3P3W_3CT\nsensor = VCT\nprimary = 400\nsecondary = 333\nnominal = 250\n"
	"profile = 00:00=80@-0.7\nharmonics = 3:20, 5:30@180, 7:12\nunbalance = 1, 0.9, 1.1\n"
	"[circuit3]\nwiring = 1P2W\nsensor = CT\nprimary = 50\nsecondary = 1\nprofile = 00:00=-40@0.95\n"
	"[circuit4]\nwiring = 3P4W_3CT\nsensor = RCOIL\nprimary = 1000\nsecondary = 85\nnominal = 400\n"
	"profile = 00:00=50@0.8\nharmonics = 5:6, 11:2@90\n";

static double sensor_k(const bm_sensor_cfg *s)
{
	switch (s->type) {
	case BM_SENSOR_CT: return s->secondary / s->primary_a;
	case BM_SENSOR_VCT: return s->secondary / 1000.0 / s->primary_a;
	default: return s->secondary / 1000.0 / s->primary_a / (2.0 * PI * 50.0);
	}
}

static void test_rms_and_power_match_truth(void **state)
{
	(void)state;
	bm_sim_scenario sc;
	load_ok(mixed, &sc);
	bm_sim *s = sim_new(&sc);
	bm_sim_truth t;
	bm_sim_truth_now(s, &t);
	const size_t n = 2560 * 4; /* 40 cycles */
	float *buf = gen(s, n);
	const size_t nch = bm_sim_channels(s);
	assert_int_equal(nch, 19);

	/* Voltages: secondary x vt_ratio is the primary truth. */
	for (size_t p = 0; p < 3; p++) {
		check_rel(rms(buf, nch, p, 0, n) * 2.0, t.u_rms[p], 1e-4, "U rms");
		/* independent: fundamental x sqrt(1 + sum pct^2) */
		double f = 230.0 * sc.unbalance[p] * sqrt(1 + 0.02 * 0.02 + 0.04 * 0.04 + 0.015 * 0.015);
		check_rel(t.u_rms[p], f, 1e-12, "U truth");
	}
	/* Voltage angles follow ABC with the deviations. */
	check_close(t.u_angle_deg[1], -119.0, 1e-9, "L2 angle");
	check_close(t.u_angle_deg[2], 118.0, 1e-9, "L3 angle");

	/* CT and VCT currents: secondary / k is the primary truth. */
	for (unsigned c = 0; c < 3; c++)
		for (unsigned p = 0; p < 4; p++) {
			double k = sensor_k(&sc.circuit[c].sensor[p]);
			double got = rms(buf, nch, bm_ch_current(c, p), 0, n) / k;
			check_close(got, t.c[c].i_rms[p], 1e-4 * t.c[c].i_rms[0] + 1e-9, "I rms");
		}
	/* independent: circuit 1 I1 = 60 A x sqrt(1 + 0.3^2 + 0.1^2) */
	check_rel(t.c[0].i_rms[0], 60.0 * sqrt(1 + 0.09 + 0.01), 1e-12, "I1 truth");
	check_rel(t.c[0].i_rms[1], 1.2 * 60.0 * sqrt(1 + 0.09 + 0.01), 1e-12, "I2 truth");
	/* 1P2W: I2, I3 silent; In is the return current */
	assert_true(t.c[2].i_rms[1] == 0.0 && t.c[2].i_rms[2] == 0.0);
	check_close(rms(buf, nch, bm_ch_current(2, 1), 0, n), 0.0, 0.0, "1P2W I2");
	check_rel(t.c[2].i_rms[3], t.c[2].i_rms[0], 1e-12, "1P2W In");

	/* Active power from the samples (mean u*i) equals the truth; on the
	 * three-wire circuit 2 per phase against the artificial neutral. */
	for (unsigned c = 0; c < 3; c++) {
		unsigned phases = bm_wiring_phases(sc.circuit[c].wiring);
		double total = 0.0;
		for (unsigned p = 0; p < 3; p++) {
			if (!(phases & (1u << p)))
				continue;
			double k = sensor_k(&sc.circuit[c].sensor[p]);
			double pw = mean_product(buf, nch, p, bm_ch_current(c, p), 0, n) * 2.0 / k;
			if (c == 1) {
				double a = 0.0;
				for (size_t j = 0; j < n; j++) {
					const float *f = &buf[j * nch];
					a += (f[p] - (f[0] + f[1] + f[2]) / 3.0) * f[bm_ch_current(c, p)];
				}
				total += pw;
				pw = a / (double)n * 2.0 / k;
			}
			check_close(pw, t.c[c].p[p], 1e-4 * t.c[c].s[p], "P");
		}
		if (c == 1) /* the total does not depend on the reference */
			check_close(total, t.c[c].p_total, 1e-4 * t.c[c].s_total, "3-wire total P");
	}
	/* independent: circuit 1 phase 1 P = U1*I1*pf + U3*I3*cos(h phase diff)
	 * (30 deg voltage 3rd vs 0 deg current 3rd at 3*phi) */
	double phi = acos(0.9);
	double u1 = 230.0, i1 = 60.0;
	double p_exp = u1 * i1 * 0.9 + (u1 * 0.02) * (i1 * 0.3) * cos(30 * PI / 180 + 3 * phi) +
	               (u1 * 0.04) * (i1 * 0.1) * cos(5 * phi - 45 * PI / 180);
	check_rel(t.c[0].p[0], p_exp, 1e-12, "P truth, independent");
	check_rel(t.c[0].q[0], u1 * i1 * sin(phi), 1e-12, "Q truth");
	check_rel(t.c[0].dpf[0], 0.9, 1e-12, "DPF");
	/* signs: capacitive (pf < 0) gives Q < 0; export gives P < 0 */
	assert_true(t.c[1].q_total < 0.0 && t.c[1].p_total > 0.0);
	assert_true(t.c[2].p[0] < 0.0 && t.c[2].q[0] > 0.0);
	check_rel(t.c[2].dpf[0], -0.95, 1e-12, "export DPF has the sign of P");
	assert_true(t.c[2].pf_total < 0.0);
	free(buf);
	free(s);
}

static void test_rogowski(void **state)
{
	(void)state;
	/* Circuit 1: a 5 A : 5 A CT, its output IS the primary current.
	 * Circuit 2: the same load on a 1000 A / 85 mV coil. */
	const char *text = "[meter]\nsample_rate = 102400\n[grid]\nfrequency = 50\n"
	                   "[circuit1]\nwiring = 3P4W_4CT\nsensor = CT\nprimary = 5\nsecondary = 5\nnominal = 400\n"
	                   "profile = 00:00=75@0.85\nharmonics = 3:20@10, 5:8, 13:3@-60\n"
	                   "[circuit2]\nwiring = 3P4W_4CT\nsensor = RCOIL\nprimary = 1000\nsecondary = 85\n"
	                   "nominal = 400\nprofile = 00:00=75@0.85\nharmonics = 3:20@10, 5:8, 13:3@-60\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	const size_t n = 2048 * 10; /* 10 cycles at 102.4 kS/s */
	float *buf = gen(s, n);
	const size_t nch = bm_sim_channels(s);
	const double M = 0.085 / 1000.0 / (2 * PI * 50);
	const double fs = 102400.0;
	/* Central difference of the reference current: error (h w / fs)^2 / 6,
	 * 1.4e-4 for the 13th. */
	for (unsigned p = 0; p < 4; p++) {
		double peak = 0.0, err = 0.0;
		for (size_t k = 1; k + 1 < n; k++) {
			double didt = ((double)buf[(k + 1) * nch + bm_ch_current(0, p)] -
			               (double)buf[(k - 1) * nch + bm_ch_current(0, p)]) * fs / 2.0;
			double v = buf[k * nch + bm_ch_current(1, p)];
			peak = fmax(peak, fabs(M * didt));
			err = fmax(err, fabs(v - M * didt));
		}
		if (err > 2e-3 * peak)
			fail_msg("input %u: coil output off by %.3g of %.3g peak", p, err, peak);
	}
	/* Analytic RMS: a pure 50 Hz current I gives I * 85 mV / 1000 A. */
	const char *pure = "[circuit1]\nwiring = 1P2W\nsensor = RCOIL\nprimary = 1000\nsecondary = 85\n"
	                   "nominal = 1000\nprofile = 00:00=40\n";
	bm_sim_scenario sp;
	load_ok(pure, &sp);
	bm_sim *q = sim_new(&sp);
	float *b2 = gen(q, 2560);
	check_rel(rms(b2, bm_sim_channels(q), bm_ch_current(0, 0), 0, 2560), 400.0 * 0.085 / 1000.0, 1e-5,
	          "coil RMS at 50 Hz");
	/* At 60 Hz the same coil gives 1.2 times as much (di/dt), and with
	 * harmonics each order h weighs h times. */
	const char *h60 = "[grid]\nfrequency = 60\n[circuit1]\nwiring = 1P2W\nsensor = RCOIL\nprimary = 1000\n"
	                  "secondary = 85\nnominal = 1000\nprofile = 00:00=40\nharmonics = 5:10\n";
	load_ok(h60, &sp);
	bm_sim *r = sim_new(&sp);
	float *b3 = gen(r, 12800); /* 60 cycles at 60 Hz */
	double want = 400.0 * 0.085 / 1000.0 * 1.2 * sqrt(1 + (5 * 0.1) * (5 * 0.1));
	check_rel(rms(b3, bm_sim_channels(r), bm_ch_current(0, 0), 0, 12800), want, 1e-5, "coil RMS 60 Hz + 5th");
	free(buf);
	free(b2);
	free(b3);
	free(s);
	free(q);
	free(r);
}

static void test_ct_vct_scaling(void **state)
{
	(void)state;
	const char *text = "[grid]\nvoltage = 11000\n[meter]\nvt_ratio = 100\n"
	                   "[circuit1]\nwiring = 1P2W\nsensor = CT\nprimary = 200\nsecondary = 1\nnominal = 150\n"
	                   "profile = 00:00=100\n"
	                   "[circuit2]\nwiring = 1P2W\nsensor = VCT\nprimary = 600\nsecondary = 333\nnominal = 600\n"
	                   "profile = 00:00=50\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	float *buf = gen(s, 2560);
	size_t nch = bm_sim_channels(s);
	check_rel(rms(buf, nch, 0, 0, 2560), 110.0, 1e-6, "VT secondary");
	check_rel(rms(buf, nch, bm_ch_current(0, 0), 0, 2560), 150.0 * 1.0 / 200.0, 1e-6, "CT 200/1 at 150 A");
	check_rel(rms(buf, nch, bm_ch_current(1, 0), 0, 2560), 300.0 * 0.333 / 600.0, 1e-6, "VCT 600 A/333 mV");
	free(buf);
	free(s);
}

static void test_profile_interpolation_and_midnight(void **state)
{
	(void)state;
	const char *text = "[meter]\nsample_rate = 2000\n[grid]\nstart = 2026-01-05T21:00:00Z\n"
	                   "[circuit1]\nnominal = 100\n"
	                   "profile = 02:00=50@0.8, 12:00=100@1, 22:00=10@0.9\n"
	                   "[circuit2]\nnominal = 100\nprofile = 00:00=80@0.9\n"
	                   "cycle_period = 600\ncycle_duty = 0.25\ncycle_off = 10\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	const double fs = 2000.0;
	bm_sim_truth t;
	struct {
		double hours_after_start, pct, pf;
	} pts[] = {
		{0.0, 100 + (10 - 100) * 0.9, 1 + (0.9 - 1) * 0.9}, /* 21:00: 9/10 of 12:00..22:00 */
		{1.0, 10.0, 0.9},                                  /* 22:00 exactly */
		{2.0, 10 + 40 * 0.25, 0.9 - 0.1 * 0.25},           /* 23:00: wrap segment 22:00..02:00 */
		{3.0, 10 + 40 * 0.5, 0.9 - 0.1 * 0.5},             /* 00:00, after midnight */
		{5.0, 50.0, 0.8},                                  /* 02:00 */
		{10.0, 50 + 50 * 0.5, 0.8 + 0.2 * 0.5},            /* 07:00 */
		{24.0 + 15.0, 100.0, 1.0},                         /* 12:00 two days on */
	};
	for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
		bm_sim_truth_at(s, (uint64_t)(pts[i].hours_after_start * 3600 * fs), &t);
		check_close(t.c[0].load_percent, pts[i].pct, 1e-9, "profile percent");
		check_close(t.c[0].load_pf, pts[i].pf, 1e-9, "profile pf");
		check_rel(t.c[0].i1_rms[0], pts[i].pct, 1e-9, "current follows profile (nominal 100 A)");
	}
	/* The truth holds one value per block; a block's value is its start's. */
	bm_sim_truth_at(s, 1000 * BM_SIM_BLOCK + 17, &t);
	bm_sim_truth t0;
	bm_sim_truth_at(s, 1000 * BM_SIM_BLOCK, &t0);
	check_close(t.c[0].load_percent, t0.c[0].load_percent, 0, "block value");
	/* Cycling: 21:00 is a whole number of 600 s periods after midnight, so
	 * the first 150 s are on, the rest at 10 %. */
	bm_sim_truth_at(s, (uint64_t)(100 * fs), &t);
	check_close(t.c[1].load_percent, 80, 1e-12, "cycle on");
	bm_sim_truth_at(s, (uint64_t)(200 * fs), &t);
	check_close(t.c[1].load_percent, 8, 1e-12, "cycle off");
	bm_sim_truth_at(s, (uint64_t)(650 * fs), &t);
	check_close(t.c[1].load_percent, 80, 1e-12, "cycle on again");

	/* Wall clock: start (UTC) + samples / fs. */
	assert_true(bm_sim_time(s) == 1767646800.0);
	free(gen(s, 4000));
	assert_true(bm_sim_time(s) == 1767646802.0);
	bm_sim_truth_now(s, &t);
	check_close(t.unix_s, 1767646802.0, 0, "truth time");
	check_close(t.tod_s, 21 * 3600 + 2, 1e-9, "truth tod");
	free(s);

	/* A UTC offset moves the Unix time, not the local time of day. */
	load_ok("[grid]\nstart = 2026-01-05T21:00:00+01:00\n" C1, &sc);
	s = sim_new(&sc);
	assert_true(bm_sim_time(s) == 1767646800.0 - 3600.0);
	bm_sim_truth_now(s, &t);
	check_close(t.tod_s, 21 * 3600, 0, "tod");
	free(s);
}

static void test_currents_sum_to_zero(void **state)
{
	(void)state;
	/* Unbalanced, with triplen harmonics that a three-wire circuit cannot
	 * carry, and a neutral CT on a four-wire one. */
	const char *text = "[circuit1]\nwiring = 3P3W_3CT\nprofile = 00:00=70@0.9\n"
	                   "harmonics = 3:40, 5:10, 9:5\nunbalance = 1, 1.5, 0.6\n"
	                   "[circuit2]\nwiring = 3P3W_2CT\nprofile = 00:00=70@0.9\nharmonics = 3:40\n"
	                   "unbalance = 0.5, 1, 1.5\n"
	                   "[circuit3]\nwiring = 3P4W_4CT\nprofile = 00:00=70@0.9\nharmonics = 3:40, 5:10\n"
	                   "unbalance = 1, 1.5, 0.6\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	const size_t n = 2560;
	float *buf = gen(s, n);
	size_t nch = bm_sim_channels(s);
	bm_sim_truth t;
	bm_sim_truth_now(s, &t);
	for (unsigned c = 0; c < 3; c++) {
		double peak = 0.0, worst = 0.0;
		for (size_t k = 0; k < n; k++) {
			double sum = 0.0;
			for (unsigned p = 0; p < 4; p++) {
				double v = buf[k * nch + bm_ch_current(c, p)];
				sum += v;
				peak = fmax(peak, fabs(v));
			}
			worst = fmax(worst, fabs(sum));
		}
		if (worst > 1e-6 * peak)
			fail_msg("circuit %u: i1+i2+i3+in = %.3g (peak %.3g)", c + 1, worst, peak);
	}
	/* three-wire: no neutral current at all, and no 3rd harmonic left */
	check_close(t.c[0].i_rms[3], 0.0, 1e-9, "3P3W In");
	check_close(t.c[1].i_rms[3], 0.0, 1e-9, "3P3W In");
	check_close(rms(buf, nch, bm_ch_current(0, 3), 0, n), 0.0, 1e-6, "3P3W In channel");
	/* four-wire: In = -(i1+i2+i3) is large (3rd harmonics add up) */
	assert_true(t.c[2].i_rms[3] > 0.5 * t.c[2].i_rms[0]);
	/* and the channels carry that truth (100/5 CT: primary = 20 x secondary) */
	check_rel(rms(buf, nch, bm_ch_current(0, 0), 0, n) * 20.0, t.c[0].i_rms[0], 1e-4, "3P3W I1 rms");
	check_rel(rms(buf, nch, bm_ch_current(2, 3), 0, n) * 20.0, t.c[2].i_rms[3], 1e-4, "3P4W In rms");
	free(buf);
	free(s);
}

static void test_phase_sequence(void **state)
{
	(void)state;
	const char *abc = "[grid]\nphase_sequence = ABC\nharmonics = 5:3\n" C1 "harmonics = 5:10\n";
	const char *acb = "[grid]\nphase_sequence = ACB\nharmonics = 5:3\n" C1 "harmonics = 5:10\n";
	bm_sim_scenario sa, sb;
	load_ok(abc, &sa);
	load_ok(acb, &sb);
	bm_sim *a = sim_new(&sa), *b = sim_new(&sb);
	const size_t n = 2560;
	float *fa = gen(a, n), *fb = gen(b, n);
	size_t nch = bm_sim_channels(a);
	double d_abc = wrap_deg((phase_of(fa, nch, 1, n, 256) - phase_of(fa, nch, 0, n, 256)) * 180 / PI);
	double d_acb = wrap_deg((phase_of(fb, nch, 1, n, 256) - phase_of(fb, nch, 0, n, 256)) * 180 / PI);
	check_close(d_abc, -120.0, 1e-3, "ABC: L2 lags L1");
	check_close(d_acb, 120.0, 1e-3, "ACB: L2 leads L1");
	/* ACB is ABC with L2 and L3 swapped, voltages and currents alike. */
	for (size_t k = 0; k < n; k++) {
		assert_true(fb[k * nch + 0] == fa[k * nch + 0]);
		assert_true(fb[k * nch + 1] == fa[k * nch + 2]);
		assert_true(fb[k * nch + 2] == fa[k * nch + 1]);
		assert_true(fb[k * nch + bm_ch_current(0, 1)] == fa[k * nch + bm_ch_current(0, 2)]);
	}
	/* currents lag their own phase voltage by acos(pf) = 0 at pf 1 */
	double di = wrap_deg((phase_of(fb, nch, bm_ch_current(0, 1), n, 256) - phase_of(fb, nch, 1, n, 256)) * 180 / PI);
	check_close(di, 0.0, 1e-3, "current in phase with its voltage");
	free(fa);
	free(fb);
	free(a);
	free(b);
}

static void test_load_angle(void **state)
{
	(void)state;
	/* import inductive: current lags by acos(pf); capacitive leads;
	 * export inductive (Q > 0, P < 0): current at 180 - acos(pf) behind */
	const double a = acos(0.8) * 180.0 / PI; /* 36.87 degrees */
	struct {
		const char *profile;
		double lag_deg;
	} cases[] = {
		{"00:00=50@0.8", a},
		{"00:00=50@-0.8", -a},
		{"00:00=-50@0.8", 180 - a},
		{"00:00=-50@-0.8", -(180 - a)},
	};
	for (size_t i = 0; i < 4; i++) {
		char text[256];
		snprintf(text, sizeof text, "[circuit1]\nwiring = 1P2W\nprofile = %s\n", cases[i].profile);
		bm_sim_scenario sc;
		load_ok(text, &sc);
		bm_sim *s = sim_new(&sc);
		float *buf = gen(s, 2560);
		size_t nch = bm_sim_channels(s);
		double lag = wrap_deg((phase_of(buf, nch, 0, 2560, 256) - phase_of(buf, nch, 3, 2560, 256)) * 180 / PI);
		check_close(lag, cases[i].lag_deg, 1e-3, "current lag");
		bm_sim_truth t;
		bm_sim_truth_now(s, &t);
		double ph = cases[i].lag_deg * PI / 180;
		check_rel(t.c[0].p[0], 230.0 * 50.0 * cos(ph), 1e-12, "P sign");
		check_rel(t.c[0].q[0], 230.0 * 50.0 * sin(ph), 1e-12, "Q sign");
		free(buf);
		free(s);
	}
}

static void test_frequency_drift_is_continuous(void **state)
{
	(void)state;
	/* A fast wander and a ramp: no jumps at block edges, and the number of
	 * cycles over 10 s is the integral of f. */
	const char *text = "[meter]\nsample_rate = 12800\n[grid]\nfrequency = 50\nfrequency_wander = 0.5\n"
	                   "frequency_wander_period = 2\nfrequency_ramp = 0.05\n" C1 "wiring = 1P2W\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	const size_t n = 12800 * 10;
	float *buf = gen(s, n);
	size_t nch = bm_sim_channels(s);
	double peak = 230.0 * sqrt(2.0);
	double maxstep = 0.0;
	size_t crossings = 0;
	for (size_t k = 1; k < n; k++) {
		double a = buf[(k - 1) * nch], b = buf[k * nch];
		maxstep = fmax(maxstep, fabs(b - a));
		if (a < 0 && b >= 0)
			crossings++;
	}
	/* |du/dt| <= peak * 2 pi f_max; f_max = 50 + 0.5 + 0.5 */
	assert_true(maxstep <= peak * 2 * PI * 51.0 / 12800.0 * 1.0001);
	/* cycles = integral of f dt = 500 + 0.05 * 100 / 2 (+ wander: 0 over whole periods) */
	assert_true(crossings >= 502 && crossings <= 503);
	bm_sim_truth t;
	bm_sim_truth_at(s, (uint64_t)(0.5 * 12800), &t); /* a quarter wander period */
	check_close(t.frequency_hz, 50 + 0.5 + 0.05 * 0.5, 1e-9, "frequency truth");
	free(buf);
	free(s);
}

static void test_noise_and_adc(void **state)
{
	(void)state;
	const char *quiet = "[grid]\nseed = 7\n" C1 "wiring = 3P4W_4CT\nprofile = 00:00=50\n";
	const char *noisy = "[grid]\nseed = 7\nnoise = 1\n" C1 "wiring = 3P4W_4CT\nprofile = 00:00=50\n";
	bm_sim_scenario sq, sn;
	load_ok(quiet, &sq);
	load_ok(noisy, &sn);
	bm_sim *q = sim_new(&sq), *z = sim_new(&sn);
	const size_t n = 12800 * 8;
	float *fq = gen(q, n), *fz = gen(z, n);
	size_t nch = bm_sim_channels(q);
	/* noise = 1 % of nominal: 2.3 V on voltages, 5 A * 1 % on CTs */
	double sig[2] = {2.3, 0.05};
	size_t chs[2] = {0, bm_ch_current(0, 0)};
	for (int i = 0; i < 2; i++) {
		double m = 0, m2 = 0, m4 = 0;
		size_t beyond2 = 0;
		for (size_t k = 0; k < n; k++) {
			double e = ((double)fz[k * nch + chs[i]] - fq[k * nch + chs[i]]) / sig[i];
			m += e;
			m2 += e * e;
			m4 += e * e * e * e;
			beyond2 += fabs(e) > 2.0;
		}
		m /= n;
		m2 /= n;
		m4 /= n;
		check_close(m, 0.0, 0.01, "noise mean");
		check_close(sqrt(m2), 1.0, 0.01, "noise RMS");
		check_close(m4 / (m2 * m2), 3.0, 0.1, "noise kurtosis (Gaussian: 3)");
		check_close((double)beyond2 / n, 0.0455, 0.003, "P(|z| > 2)");
	}
	/* independent channels: correlation of two noise sequences ~ 0 */
	double cxy = 0;
	for (size_t k = 0; k < n; k++)
		cxy += ((double)fz[k * nch + 0] - fq[k * nch + 0]) / 2.3 *
		       (((double)fz[k * nch + 1] - fq[k * nch + 1]) / 2.3);
	check_close(cxy / n, 0.0, 0.02, "channels uncorrelated");
	free(fq);
	free(fz);
	free(q);
	free(z);

	/* ADC: 12 bits, every sample a code of the documented full scale; a
	 * load beyond it clips at the top code. */
	const char *adc = "[grid]\nadc_bits = 12\n" C1 "wiring = 1P2W\nsensor = CT\nprimary = 100\nsecondary = 5\n"
	                  "profile = 00:00=250\n";
	bm_sim_scenario sa;
	load_ok(adc, &sa);
	bm_sim *a = sim_new(&sa);
	float *fa = gen(a, 2560);
	nch = bm_sim_channels(a);
	double lsb_u = 2.0 * 720.0 * sqrt(2.0) / 4096.0;
	double fs_i = 2.0 * sqrt(2.0) * 5.0, lsb_i = 2.0 * fs_i / 4096.0;
	double imax = -1e9, imin = 1e9;
	for (size_t k = 0; k < 2560; k++) {
		double u = fa[k * nch] / lsb_u, i = fa[k * nch + 3] / lsb_i;
		check_close(u, nearbyint(u), 1e-3, "voltage on a code");
		check_close(i, nearbyint(i), 1e-3, "current on a code");
		imax = fmax(imax, fa[k * nch + 3]);
		imin = fmin(imin, fa[k * nch + 3]);
	}
	/* 250 % of a 5 A secondary peaks at 17.7 A > 14.1 A full scale */
	check_close(imax, fs_i - lsb_i, 1e-5, "clips at the top code");
	check_close(imin, -fs_i, 1e-5, "clips at the bottom code");
	/* 16 bits on a voltage: RMS error of quantisation ~ lsb / sqrt(12) */
	free(fa);
	free(a);
}

/* ---------------------------------------------------- auxiliary inputs */

static void test_aux_parse(void **state)
{
	(void)state;
	bm_sim_scenario sc;
	load_ok("[Inputs]\n"
	        "DI2 = 0:1, 10:0,\n"
	        "      20.5:1\n"
	        "di4 =\n"
	        "[circuit1]\n"
	        "Temperature = -12.5\n"
	        "temperature_rise = 60 ; K at 100 %\n"
	        "[circuit2]\n"
	        "residual_steps = 0:7, 60:40,\n"
	        "   120.25:5\n"
	        "residual = 30\n"
	        "[circuit3]\n"
	        "temperature = 25\n"
	        "[circuit4]\n"
	        "residual = 0\n",
	        &sc);
	const bm_sim_circuit *c = sc.circuit;
	assert_true(c[0].has_temperature);
	assert_false(c[0].has_residual);
	check_close(c[0].temperature_c, -12.5, 0, "temperature");
	check_close(c[0].temperature_rise_k, 60, 0, "rise");
	assert_false(c[1].has_temperature);
	assert_true(c[1].has_residual);
	check_close(c[1].residual_ma, 30, 0, "residual (after its steps in the file)");
	assert_int_equal(c[1].n_res_steps, 3);
	check_close(c[1].res_step[0].t_s, 0, 0, "t");
	check_close(c[1].res_step[1].value, 40, 0, "mA");
	check_close(c[1].res_step[2].t_s, 120.25, 0, "continued list");
	check_close(c[1].res_step[2].value, 5, 0, "mA");
	assert_true(c[2].has_temperature);
	check_close(c[2].temperature_rise_k, 0, 0, "rise default 0");
	assert_true(c[3].has_residual);
	assert_int_equal(c[3].n_res_steps, 0);
	/* di2 with a continuation, di4 defined without steps */
	assert_int_equal(sc.input_mask, 0x0A);
	assert_int_equal(sc.input[1].n_steps, 3);
	check_close(sc.input[1].step[2].t_s, 20.5, 0, "t");
	check_close(sc.input[1].step[2].value, 1, 0, "closed");
	check_close(sc.input[1].step[1].value, 0, 0, "open");
	assert_int_equal(sc.input[3].n_steps, 0);

	/* Without the keys: no inputs of any kind. */
	load_ok(C1, &sc);
	assert_false(sc.circuit[0].has_temperature);
	assert_false(sc.circuit[0].has_residual);
	assert_int_equal(sc.input_mask, 0);
	load_ok("[inputs]\n" C1, &sc); /* an empty [inputs] defines none */
	assert_int_equal(sc.input_mask, 0);

	/* Limits: 16 residual steps, 32 steps per input, over continuations. */
	char big[4096];
	int n = snprintf(big, sizeof big, C1 "residual = 1\nresidual_steps = 1:1,\n");
	for (int k = 2; k <= 16; k++)
		n += snprintf(big + n, sizeof big - (size_t)n, "  %d:%d%s\n", k, k, k < 16 ? "," : "");
	load_ok(big, &sc);
	assert_int_equal(sc.circuit[0].n_res_steps, 16);
	snprintf(big + n - 1, sizeof big - (size_t)n + 1, ",\n  17:17\n");
	char err[256];
	assert_int_equal(bm_sim_load_string(big, "t.ini", &sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "t.ini:19: [circuit1] residual_steps = 17:17: more than 16 steps"));

	n = snprintf(big, sizeof big, "[inputs]\ndi3 = 0:1,\n");
	for (int k = 1; k < 32; k++)
		n += snprintf(big + n, sizeof big - (size_t)n, "  %d:%d%s\n", k, k % 2 == 0, k < 31 ? "," : "");
	n += snprintf(big + n, sizeof big - (size_t)n, C1);
	load_ok(big, &sc);
	assert_int_equal(sc.input[2].n_steps, 32);
	n = snprintf(big, sizeof big, "[inputs]\ndi3 = 0:1,\n");
	for (int k = 1; k <= 32; k++)
		n += snprintf(big + n, sizeof big - (size_t)n, "  %d:%d,\n", k, k % 2 == 0);
	assert_int_equal(bm_sim_load_string(big, "t.ini", &sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "t.ini:34: [inputs] di3 = 32:1,: more than 32 steps"));
}

/* Scenarios built in C get the same rules from bm_sim_validate. */
static void test_aux_validate(void **state)
{
	(void)state;
	bm_sim_scenario sc, base;
	char err[256];
	load_ok("[inputs]\ndi1 = 1:1, 2:0\n" C1 "temperature = 20\n[circuit2]\nresidual = 3\nresidual_steps = 5:6\n",
	        &base);
	assert_int_equal(bm_sim_validate(&base, err, sizeof err), BM_OK);
	static bm_sim s;

	sc = base;
	sc.circuit[0].has_residual = true;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit1] temperature, residual: a circuit has a temperature or a residual"));
	assert_int_equal(bm_sim_init(&s, &sc), BM_E_INVAL);

	sc = base;
	sc.circuit[0].temperature_c = 250;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit1] temperature: must be -40..200 degC"));
	sc.circuit[0].has_temperature = false; /* an absent value is not checked */
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_OK);
	sc.circuit[0].temperature_rise_k = 5;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit1] temperature_rise: needs temperature"));

	sc = base;
	sc.circuit[0].temperature_rise_k = NAN;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "temperature_rise"));

	sc = base;
	sc.circuit[1].has_residual = false;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit2] residual_steps: needs residual"));

	sc = base;
	sc.circuit[1].res_step[1] = (bm_sim_step){5, 1};
	sc.circuit[1].n_res_steps = 2;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit2] residual_steps: step 2: times must increase"));
	sc.circuit[1].res_step[1] = (bm_sim_step){6, 100001};
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[circuit2] residual_steps: step 2: must be 0..100000 mA"));
	sc.circuit[1].n_res_steps = BM_SIM_MAX_RES_STEPS + 1;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "more than 16 steps"));

	sc = base;
	sc.input[0].step[1].value = 2;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[inputs] di1: step 2: state must be 0 or 1"));
	sc.input_mask = 0x02; /* di1 no longer defined: its steps are not used */
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_OK);
	sc.input[1].n_steps = 2;
	sc.input[1].step[0] = (bm_sim_step){3, 1};
	sc.input[1].step[1] = (bm_sim_step){3, 0};
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[inputs] di2: step 2: times must increase"));
	sc.input[1].step[0].t_s = -1;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "[inputs] di2: step 1: times must increase within 0..1e+09 s"));
	sc.input[1].n_steps = BM_SIM_MAX_INPUT_STEPS + 1;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "more than 32 steps"));
	sc = base;
	sc.input_mask = 0x11;
	assert_int_equal(bm_sim_validate(&sc, err, sizeof err), BM_E_INVAL);
	assert_non_null(strstr(err, "only di1..di4 exist"));
}

/* Advances s to sample n (n >= the current sample). */
static void run_to(bm_sim *s, uint64_t n)
{
	static float scratch[4096 * BM_MAX_CH];
	while (bm_sim_samples(s) < n) {
		uint64_t left = n - bm_sim_samples(s);
		size_t take = left < 4096 ? (size_t)left : 4096;
		assert_int_equal(bm_sim_generate(s, scratch, BM_MAX_CH, take), take);
	}
}

/* The temperature formula against the truth's load, through a profile
 * ramp, cycling and an exporting (negative) load. */
static void test_aux_temperature(void **state)
{
	(void)state;
	const char *text = "[meter]\nsample_rate = 2000\n[grid]\nstart = 2026-01-05T23:59:00Z\n"
	                   "[circuit1]\nwiring = 1P2W\nnominal = 100\n"
	                   "profile = 00:00=120@0.9, 00:30=-80@0.9, 23:59=10@1\n"
	                   "cycle_period = 50\ncycle_duty = 0.6\ncycle_off = 20\n"
	                   "temperature = -10\ntemperature_rise = 35\n"
	                   "[circuit2]\nwiring = 1P2W\nresidual = 1\n"
	                   "[circuit3]\nwiring = 1P2W\ntemperature = 40\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	const double fs = 2000.0;
	assert_true(bm_sim_has_temperature(s, 0));
	assert_false(bm_sim_has_residual(s, 0));
	assert_false(bm_sim_has_temperature(s, 1));
	assert_true(bm_sim_has_residual(s, 1));
	assert_true(bm_sim_has_temperature(s, 2));
	assert_false(bm_sim_has_temperature(s, 3)); /* beyond the circuits */
	assert_false(bm_sim_has_residual(s, 3));
	assert_false(bm_sim_has_temperature(s, 1000));
	assert_true(isnan(bm_sim_temperature(s, 1)));
	assert_true(isnan(bm_sim_temperature(s, 3)));
	assert_true(isnan(bm_sim_residual_ma(s, 0)));
	assert_true(isnan(bm_sim_residual_ma(s, 1000)));

	double lo = 1e9, hi = -1e9;
	bool saw_export = false, saw_off = false;
	bm_sim_truth t;
	/* 0..40 min in uneven strides (not block aligned) */
	for (uint64_t n = 0; n < (uint64_t)(2400 * fs); n += 12347) {
		run_to(s, n);
		bm_sim_truth_now(s, &t);
		double x = t.c[0].load_percent / 100.0;
		double want = -10.0 + 35.0 * x * x;
		check_close(bm_sim_temperature(s, 0), want, 1e-12, "temperature = t0 + rise * (load/100)^2");
		check_close(t.c[0].temperature_c, want, 1e-12, "truth temperature");
		check_close(bm_sim_temperature(s, 2), 40.0, 0, "no rise: constant");
		assert_true(isnan(t.c[1].temperature_c));
		assert_true(isnan(t.c[0].residual_ma));
		check_close(t.c[1].residual_ma, 1.0, 0, "residual");
		/* the load is also what the currents carry */
		check_rel(t.c[0].i1_rms[0], fabs(t.c[0].load_percent), 1e-9, "load = current");
		lo = fmin(lo, want);
		hi = fmax(hi, want);
		saw_export = saw_export || t.c[0].load_percent < -1.0;
		saw_off = saw_off || fabs(t.c[0].load_percent) < 30.0;
	}
	assert_true(saw_export && saw_off);
	assert_true(lo < -5 && hi > 30);

	/* The value is the block's, as the currents': constant within a block. */
	run_to(s, (uint64_t)(2400 * fs) / BM_SIM_BLOCK * BM_SIM_BLOCK + BM_SIM_BLOCK);
	double b0 = bm_sim_temperature(s, 0);
	run_to(s, bm_sim_samples(s) + BM_SIM_BLOCK - 1);
	check_close(bm_sim_temperature(s, 0), b0, 0, "held per block");
	free(s);
}

/* Residual steps and digital inputs at exact sample times. */
static void test_aux_steps_and_inputs(void **state)
{
	(void)state;
	/* 2000 S/s: a step at 1.0005 s is sample 2001 exactly; 0.0333 s falls
	 * between samples 66 and 67. */
	const char *text = "[meter]\nsample_rate = 2000\n"
	                   "[circuit1]\nwiring = 1P2W\nresidual = 3\nresidual_steps = 0.0333:10, 1.0005:20, 2:0\n"
	                   "[inputs]\n"
	                   "di1 = 0:0, 1:1, 2:1, 3:0\n" /* 0:0 and 2:1 repeat the state */
	                   "di3 = 1.5:1\n"
	                   "di4 =\n";
	bm_sim_scenario sc;
	load_ok(text, &sc);
	bm_sim *s = sim_new(&sc);
	bm_sim_truth t;

	check_close(bm_sim_residual_ma(s, 0), 3, 0, "before the first step");
	run_to(s, 66);
	check_close(bm_sim_residual_ma(s, 0), 3, 0, "66 / 2000 < 0.0333");
	run_to(s, 67);
	check_close(bm_sim_residual_ma(s, 0), 10, 0, "67 / 2000 >= 0.0333");
	run_to(s, 2000);
	check_close(bm_sim_residual_ma(s, 0), 10, 0, "1.0 s");
	run_to(s, 2001);
	check_close(bm_sim_residual_ma(s, 0), 20, 0, "1.0005 s, exactly");
	run_to(s, 3999);
	check_close(bm_sim_residual_ma(s, 0), 20, 0, "just before 2 s");
	run_to(s, 4000);
	check_close(bm_sim_residual_ma(s, 0), 0, 0, "2 s");
	/* the truth agrees at any sample, not only the current one */
	bm_sim_truth_at(s, 2000, &t);
	check_close(t.c[0].residual_ma, 10, 0, "truth 1.0 s");
	bm_sim_truth_at(s, 2001, &t);
	check_close(t.c[0].residual_ma, 20, 0, "truth 1.0005 s");
	bm_sim_truth_at(s, 66, &t);
	check_close(t.c[0].residual_ma, 3, 0, "truth 66");
	free(s);

	/* Inputs, walked as an application would: generate up to the next
	 * change, check the state just before and at it. */
	s = sim_new(&sc);
	assert_int_equal(bm_sim_input_mask(s), 0x0D);
	struct {
		double t;      /* next change expected from the current time */
		uint8_t after; /* state from that change on */
	} walk[] = {{1.0, 0x01}, {1.5, 0x05}, {3.0, 0x04}};
	assert_int_equal(bm_sim_inputs(s), 0x00);
	for (size_t i = 0; i < sizeof walk / sizeof walk[0]; i++) {
		double next = bm_sim_next_input_change(s);
		check_close(next, walk[i].t, 0, "next input change");
		uint64_t n = (uint64_t)ceil(next * 2000.0);
		uint8_t before = bm_sim_inputs(s);
		run_to(s, n - 1);
		assert_int_equal(bm_sim_inputs(s), before);
		check_close(bm_sim_next_input_change(s), next, 0, "same next change just before it");
		run_to(s, n);
		assert_int_equal(bm_sim_inputs(s), walk[i].after);
		bm_sim_truth_now(s, &t);
		assert_int_equal(t.inputs, walk[i].after);
	}
	assert_true(isinf(bm_sim_next_input_change(s)));
	run_to(s, 20000);
	assert_int_equal(bm_sim_inputs(s), 0x04);
	assert_true(isinf(bm_sim_next_input_change(s)));
	bm_sim_truth_at(s, 2500, &t);
	assert_int_equal(t.inputs, 0x01);
	free(s);

	/* No [inputs]: nothing defined, nothing closed, no change ahead. */
	load_ok(C1, &sc);
	s = sim_new(&sc);
	assert_int_equal(bm_sim_input_mask(s), 0);
	assert_int_equal(bm_sim_inputs(s), 0);
	assert_true(isinf(bm_sim_next_input_change(s)));
	free(s);
	/* NULL is harmless */
	assert_int_equal(bm_sim_inputs(NULL), 0);
	assert_int_equal(bm_sim_input_mask(NULL), 0);
	assert_true(isinf(bm_sim_next_input_change(NULL)));
	assert_true(isnan(bm_sim_temperature(NULL, 0)));
	assert_true(isnan(bm_sim_residual_ma(NULL, 0)));
	assert_false(bm_sim_has_temperature(NULL, 0));
}

/* scenarios/alarms.ini does what its comments promise. */
static void test_alarms_scenario(void **state)
{
	(void)state;
	bm_sim_scenario sc;
	char err[256] = "";
	if (bm_sim_load_file(repo_path("scenarios/alarms.ini"), &sc, err, sizeof err) != BM_OK)
		fail_msg("scenarios/alarms.ini: %s", err);
	assert_int_equal(sc.n_circuits, 2);
	bm_sim *s = sim_new(&sc);
	const double fs = 12800.0;
	bm_sim_truth t;
	/* Circuit 1 cycles 100 A / 30 A every 120 s, its temperature 75 / 34.05
	 * degC with it: an 80 A or a 70 degC threshold triggers and releases
	 * every period. */
	for (int period = 0; period < 5; period++) {
		double t0 = 120.0 * period;
		static const struct {
			double dt, amps, degc;
		} pts[] = {{0, 100, 75}, {59.99, 100, 75}, {60, 30, 34.05}, {119.99, 30, 34.05}};
		for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
			bm_sim_truth_at(s, (uint64_t)llround((t0 + pts[i].dt) * fs), &t);
			check_rel(t.c[0].i_rms[0], pts[i].amps, 1e-9, "circuit 1 current");
			check_close(t.c[0].temperature_c, pts[i].degc, 1e-9, "circuit 1 temperature");
			assert_true(isnan(t.c[0].residual_ma));
		}
	}
	/* Circuit 2: 5 mA, 40 mA from 60 s, 5 mA from 120 s. */
	static const struct {
		uint64_t n;
		double ma;
	} res[] = {{0, 5}, {768000 - 1, 5}, {768000, 40}, {1536000 - 1, 40}, {1536000, 5}, {100000000, 5}};
	for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
		bm_sim_truth_at(s, res[i].n, &t);
		check_close(t.c[1].residual_ma, res[i].ma, 0, "circuit 2 residual");
		assert_true(isnan(t.c[1].temperature_c));
	}
	/* di1 closed 30..90 s, di2 from 45 s. */
	static const struct {
		double ts;
		uint8_t in;
	} din[] = {{0, 0}, {29.9999, 0}, {30, 1}, {44.9999, 1}, {45, 3}, {89.9999, 3}, {90, 2}, {1000, 2}};
	for (size_t i = 0; i < sizeof din / sizeof din[0]; i++) {
		bm_sim_truth_at(s, (uint64_t)ceil(din[i].ts * fs), &t);
		assert_int_equal(t.inputs, din[i].in);
	}
	assert_int_equal(bm_sim_input_mask(s), 0x03);
	check_close(bm_sim_next_input_change(s), 30, 0, "first change");
	free(s);
}

/* Determinism: the auxiliary values do not depend on how the generation is
 * split, and adding them changes no frame. */
static void test_aux_determinism(void **state)
{
	(void)state;
	bm_sim_scenario sc, plain;
	char err[256] = "";
	if (bm_sim_load_file(repo_path("scenarios/alarms.ini"), &sc, err, sizeof err) != BM_OK)
		fail_msg("scenarios/alarms.ini: %s", err);
	/* the same scenario without any auxiliary input */
	plain = sc;
	for (unsigned c = 0; c < plain.n_circuits; c++) {
		plain.circuit[c].has_temperature = plain.circuit[c].has_residual = false;
		plain.circuit[c].temperature_rise_k = 0;
		plain.circuit[c].n_res_steps = 0;
	}
	plain.input_mask = 0;
	bm_sim *a = sim_new(&sc), *b = sim_new(&sc), *p = sim_new(&plain);
	const size_t nch = bm_sim_channels(a);
	enum { CHUNK = 1000 };
	float *fa = malloc(CHUNK * nch * sizeof(float)), *fb = malloc(CHUNK * nch * sizeof(float)),
	      *fp = malloc(CHUNK * nch * sizeof(float));
	assert_non_null(fa);
	assert_non_null(fb);
	assert_non_null(fp);
	uint32_t lcg = 777;
	/* 0..125 s: through every step and two temperature edges */
	const uint64_t end = 125 * 12800;
	unsigned checks = 0;
	while (bm_sim_samples(a) < end) {
		assert_int_equal(bm_sim_generate(a, fa, nch, CHUNK), CHUNK);
		assert_int_equal(bm_sim_generate(p, fp, nch, CHUNK), CHUNK);
		assert_int_equal(memcmp(fa, fp, CHUNK * nch * sizeof(float)), 0);
		/* b in random pieces up to the same sample */
		while (bm_sim_samples(b) < bm_sim_samples(a)) {
			lcg = lcg * 1664525u + 1013904223u;
			uint64_t take = 1 + (lcg >> 8) % 700;
			uint64_t left = bm_sim_samples(a) - bm_sim_samples(b);
			if (take > left)
				take = left;
			assert_int_equal(bm_sim_generate(b, fb, nch, (size_t)take), take);
		}
		for (unsigned c = 0; c < 2; c++) {
			double ta = bm_sim_temperature(a, c), tb = bm_sim_temperature(b, c);
			double ra = bm_sim_residual_ma(a, c), rb = bm_sim_residual_ma(b, c);
			assert_int_equal(memcmp(&ta, &tb, sizeof ta), 0);
			assert_int_equal(memcmp(&ra, &rb, sizeof ra), 0);
		}
		assert_int_equal(bm_sim_inputs(a), bm_sim_inputs(b));
		assert_true(bm_sim_next_input_change(a) == bm_sim_next_input_change(b));
		checks++;
	}
	assert_true(checks >= 1600);
	free(fa);
	free(fb);
	free(fp);
	free(a);
	free(b);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_file_is_builtin),
		cmocka_unit_test(test_examples_load),
		cmocka_unit_test(test_parser_errors),
		cmocka_unit_test(test_parser_long_line_and_limits),
		cmocka_unit_test(test_parser_files),
		cmocka_unit_test(test_parser_accepts),
		cmocka_unit_test(test_meter_config),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_rms_and_power_match_truth),
		cmocka_unit_test(test_rogowski),
		cmocka_unit_test(test_ct_vct_scaling),
		cmocka_unit_test(test_profile_interpolation_and_midnight),
		cmocka_unit_test(test_currents_sum_to_zero),
		cmocka_unit_test(test_phase_sequence),
		cmocka_unit_test(test_load_angle),
		cmocka_unit_test(test_frequency_drift_is_continuous),
		cmocka_unit_test(test_noise_and_adc),
		cmocka_unit_test(test_aux_parse),
		cmocka_unit_test(test_aux_validate),
		cmocka_unit_test(test_aux_temperature),
		cmocka_unit_test(test_aux_steps_and_inputs),
		cmocka_unit_test(test_alarms_scenario),
		cmocka_unit_test(test_aux_determinism),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
