/*
 * scenario.c — simulator scenarios: the INI parser, the built-in default,
 * the validator and the matching meter configuration (see sim.h).
 *
 * Invariants:
 *  - One table (`keys` below) names every key, its section, its kind and its
 *    range. The parser checks each value against it as it reads the line (so
 *    the message can name the line), and bm_sim_validate() walks the same
 *    table over a finished scenario (so scenarios built in C get the same
 *    rules). docs/simulator.md documents this table.
 *  - Parsing fills a fresh scenario inside a parse context; *out is written
 *    once, at the very end, only when every check passed.
 *  - The first error wins and stops the parse; every message names the file
 *    and line ("x.ini:12: [grid] frequency = 80: must be 40..70 Hz").
 *
 * Why our own line reader around inih: the packaged inih (Debian 55) is
 * built without INI_HANDLER_LINENO, so the handler never learns the line.
 * inih calls its reader exactly once per line and calls the handler before
 * asking for the next line, so a reader that counts lines knows the line of
 * every handler call. The reader also (a) refuses lines longer than inih's
 * buffer, which inih would silently split into two "lines", (b) sees section
 * headers, so an unknown or empty section is reported even though inih only
 * calls the handler for keys, and (c) tells the handler whether a line is an
 * indented continuation, which inih passes with the previous key's name: we
 * accept continuations for lists only and report any other repeat of a key.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "msg.h"
#include "inilines.h"
#include "sim.h"

#define MAX_FILE_BYTES (1u << 20)
#define SEC_INPUTS (2 + BM_MAX_CIRCUITS) /* section index of [inputs] */
#define N_SEC (3 + BM_MAX_CIRCUITS)      /* meter, grid, circuit1.., inputs */
#define LEVEL_CIRCUIT 4             /* sensor key without ".I1".. suffix */

/* Default values of keys a file leaves out (docs/simulator.md). */
#define DEF_PRIMARY_A 100.0
#define PROFILE_PCT_MAX 300.0
#define RESIDUAL_MA_MAX 100000.0

/* ---------------------------------------------------------------- table */

enum sec_kind { S_METER, S_GRID, S_CIRCUIT, S_INPUTS };

enum val_kind {
	K_U32,     /* unsigned integer */
	K_NOMHZ,   /* 50 or 60 */
	K_ADCBITS, /* 0 or 8..24 */
	K_U64,     /* any 64-bit unsigned (seed) */
	K_DOUBLE,
	K_TRIPLE,  /* three doubles, comma-separated */
	K_HARM,    /* list "order:percent[@phase]" */
	K_PROFILE, /* list "HH:MM[:SS]=percent[@pf]" */
	K_WIRING,
	K_SEQ,     /* ABC / ACB */
	K_START,   /* ISO 8601 local time */
	K_STYPE,   /* sensor keys, optional .I1/.I2/.I3/.In suffix */
	K_SPRI,
	K_SSEC,
	K_SNOM,
	K_OPTNUM,  /* an optional double: giving it sets its bool (opt_flag) */
	K_STEPS,   /* residual steps: list "T:MA" */
	K_INPUT    /* a digital input's steps: list "T:S" */
};

typedef struct key_def {
	uint8_t sec;      /* enum sec_kind */
	uint8_t kind;     /* enum val_kind */
	const char *name;
	size_t off;       /* into bm_sim_scenario (meter, grid) or bm_sim_circuit */
	double lo, hi;    /* range of a number (each number of a triple) */
	const char *unit;
} key_def;

#define SC(f) offsetof(bm_sim_scenario, f)
#define CC(f) offsetof(bm_sim_circuit, f)

static const key_def keys[] = {
	{S_METER, K_U32, "sample_rate", SC(sample_rate), BM_FS_MIN, BM_FS_MAX, "S/s"},
	{S_METER, K_NOMHZ, "nominal_hz", SC(nominal_hz), 50, 60, "Hz"},
	{S_METER, K_DOUBLE, "vt_ratio", SC(vt_ratio), 1, 10000, ""},
	{S_GRID, K_DOUBLE, "voltage", SC(voltage_v), 1, 1e6, "V"},
	{S_GRID, K_DOUBLE, "frequency", SC(frequency_hz), 40, 70, "Hz"},
	{S_GRID, K_DOUBLE, "frequency_wander", SC(wander_hz), 0, 5, "Hz"},
	{S_GRID, K_DOUBLE, "frequency_wander_period", SC(wander_period_s), 0.01, 1e6, "s"},
	{S_GRID, K_DOUBLE, "frequency_ramp", SC(ramp_hz_per_s), -1, 1, "Hz/s"},
	{S_GRID, K_TRIPLE, "unbalance", SC(unbalance), 0, 2, ""},
	{S_GRID, K_TRIPLE, "angle_deviation", SC(angle_dev_deg), -30, 30, "degrees"},
	{S_GRID, K_SEQ, "phase_sequence", SC(acb), 0, 1, ""},
	{S_GRID, K_HARM, "harmonics", SC(harmonics), 0, 100, "%"},
	{S_GRID, K_DOUBLE, "noise", SC(noise_pct), 0, 10, "%"},
	{S_GRID, K_ADCBITS, "adc_bits", SC(adc_bits), 0, 24, "bits"},
	{S_GRID, K_U64, "seed", SC(seed), 0, 0, ""},
	{S_GRID, K_START, "start", SC(start), 0, 0, ""},
	{S_CIRCUIT, K_WIRING, "wiring", CC(wiring), 0, 0, ""},
	{S_CIRCUIT, K_STYPE, "sensor", 0, 0, 0, ""},
	{S_CIRCUIT, K_SPRI, "primary", 0, 1, 999999, "A"},
	{S_CIRCUIT, K_SSEC, "secondary", 0, 0.001, 99999, "A or mV"},
	{S_CIRCUIT, K_SNOM, "nominal", 0, 0.001, 999999, "A"},
	{S_CIRCUIT, K_PROFILE, "profile", CC(profile), -PROFILE_PCT_MAX, PROFILE_PCT_MAX, "%"},
	{S_CIRCUIT, K_HARM, "harmonics", CC(harmonics), 0, 100, "%"},
	{S_CIRCUIT, K_TRIPLE, "unbalance", CC(unbalance), 0, 2, ""},
	{S_CIRCUIT, K_DOUBLE, "cycle_period", CC(cycle_period_s), 0, 86400, "s"},
	{S_CIRCUIT, K_DOUBLE, "cycle_duty", CC(cycle_duty), 0, 1, ""},
	{S_CIRCUIT, K_DOUBLE, "cycle_off", CC(cycle_off_pct), 0, 100, "%"},
	{S_CIRCUIT, K_OPTNUM, "temperature", CC(temperature_c), -40, 200, "degC"},
	{S_CIRCUIT, K_DOUBLE, "temperature_rise", CC(temperature_rise_k), 0, 200, "K"},
	{S_CIRCUIT, K_OPTNUM, "residual", CC(residual_ma), 0, RESIDUAL_MA_MAX, "mA"},
	{S_CIRCUIT, K_STEPS, "residual_steps", CC(n_res_steps), 0, RESIDUAL_MA_MAX, "mA"},
	{S_INPUTS, K_INPUT, "di1", SC(input[0]), 0, 1, ""},
	{S_INPUTS, K_INPUT, "di2", SC(input[1]), 0, 1, ""},
	{S_INPUTS, K_INPUT, "di3", SC(input[2]), 0, 1, ""},
	{S_INPUTS, K_INPUT, "di4", SC(input[3]), 0, 1, ""},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const input_names[BM_PHASE_INPUTS] = {"I1", "I2", "I3", "In"};

_Static_assert(BM_SIM_MAX_INPUTS == 4, "the key table names di1..di4");

/* Offset of the bool that says a K_OPTNUM key was given. */
static size_t opt_flag(const key_def *k)
{
	return k->off == CC(temperature_c) ? CC(has_temperature) : CC(has_residual);
}

/* Index 0..3 of a di key (its offset into bm_sim_scenario). */
static unsigned input_index(const key_def *k)
{
	return (unsigned)((k->off - SC(input)) / sizeof(bm_sim_input));
}

/* -------------------------------------------------------------- helpers */

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif


/* ASCII, locale-free. */
static bool ieq(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
		if (ca != cb)
			return false;
		if (ca == 0)
			return true;
	}
}

static bool in_range(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* A token [b, e) with surrounding blanks removed. */
typedef struct tok {
	const char *b, *e;
} tok;

static tok trim(const char *b, const char *e)
{
	while (b < e && is_ws(*b))
		b++;
	while (e > b && is_ws(e[-1]))
		e--;
	return (tok){b, e};
}

static const char *find(tok t, char c)
{
	for (const char *p = t.b; p < t.e; p++)
		if (*p == c)
			return p;
	return NULL;
}

/*
 * A decimal number: [+-] digits [. digits] [e [+-] digits], at least one
 * mantissa digit, nothing else (no hex, inf, nan, blanks). The syntax is
 * ours; the conversion is strtod's (correctly rounded), on a bounded copy.
 * Returns false when malformed.
 */
static bool parse_num(tok t, double *out)
{
	char buf[64];
	size_t len = (size_t)(t.e - t.b);
	if (len == 0 || len >= sizeof buf)
		return false;
	const char *p = t.b;
	if (p < t.e && (*p == '+' || *p == '-'))
		p++;
	size_t digits = 0;
	while (p < t.e && isdigit((unsigned char)*p))
		p++, digits++;
	if (p < t.e && *p == '.') {
		p++;
		while (p < t.e && isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (digits == 0)
		return false;
	if (p < t.e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < t.e && (*p == '+' || *p == '-'))
			p++;
		size_t ed = 0;
		while (p < t.e && isdigit((unsigned char)*p))
			p++, ed++;
		if (ed == 0)
			return false;
	}
	if (p != t.e)
		return false;
	memcpy(buf, t.b, len);
	buf[len] = '\0';
	char *end = NULL;
	double v = strtod(buf, &end);
	if (end != buf + len || !isfinite(v)) /* a ',' locale or an overflow */
		return false;
	*out = v;
	return true;
}

/* Unsigned decimal integer, digits only, at most 20 digits, no overflow. */
static bool parse_u64(tok t, uint64_t *out)
{
	size_t len = (size_t)(t.e - t.b);
	if (len == 0 || len > 20)
		return false;
	uint64_t v = 0;
	for (const char *p = t.b; p < t.e; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Exactly `n` digits as an int. */
static bool digits_n(const char *p, const char *e, int n, int *out)
{
	if (e - p < n)
		return false;
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12)
		return 0;
	return d[m - 1] + (m == 2 && leap(y));
}

static bool start_ok(const bm_sim_start *st)
{
	return st->year >= 1970 && st->year <= 2199 && st->month >= 1 && st->month <= 12 && st->day >= 1 &&
	       st->day <= days_in_month(st->year, st->month) && st->hour >= 0 && st->hour <= 23 &&
	       st->minute >= 0 && st->minute <= 59 && st->second >= 0 && st->second <= 59 &&
	       (!st->has_offset || (st->offset_min >= -1439 && st->offset_min <= 1439));
}

/*
 * "YYYY-MM-DDTHH:MM:SS" (T or one blank), optional "Z" or "+hh:mm"/"-hh:mm".
 * Returns BM_OK, BM_E_FORMAT (shape) or BM_E_INVAL (a field out of range).
 */
static bm_err parse_start(tok t, bm_sim_start *st)
{
	const char *p = t.b, *e = t.e;
	bm_sim_start v = {0};
	if (e - p < 19)
		return BM_E_FORMAT;
	if (!digits_n(p, e, 4, &v.year) || p[4] != '-' || !digits_n(p + 5, e, 2, &v.month) || p[7] != '-' ||
	    !digits_n(p + 8, e, 2, &v.day) || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
	    !digits_n(p + 11, e, 2, &v.hour) || p[13] != ':' || !digits_n(p + 14, e, 2, &v.minute) ||
	    p[16] != ':' || !digits_n(p + 17, e, 2, &v.second))
		return BM_E_FORMAT;
	p += 19;
	if (p < e && (*p == 'Z' || *p == 'z')) {
		v.has_offset = true;
		p++;
	} else if (p < e && (*p == '+' || *p == '-')) {
		int hh, mm;
		int sign = *p == '-' ? -1 : 1;
		if (e - p != 6 || !digits_n(p + 1, e, 2, &hh) || p[3] != ':' || !digits_n(p + 4, e, 2, &mm))
			return BM_E_FORMAT;
		if (hh > 23 || mm > 59)
			return BM_E_INVAL;
		v.has_offset = true;
		v.offset_min = sign * (hh * 60 + mm);
		p += 6;
	}
	if (p != e)
		return BM_E_FORMAT;
	if (!start_ok(&v))
		return BM_E_INVAL;
	*st = v;
	return BM_OK;
}

/* "HH:MM" or "HH:MM:SS" into seconds after midnight. */
static bm_err parse_tod(tok t, uint32_t *out)
{
	int h, m, s = 0;
	ptrdiff_t len = t.e - t.b;
	if ((len != 5 && len != 8) || !digits_n(t.b, t.e, 2, &h) || t.b[2] != ':' || !digits_n(t.b + 3, t.e, 2, &m))
		return BM_E_FORMAT;
	if (len == 8 && (t.b[5] != ':' || !digits_n(t.b + 6, t.e, 2, &s)))
		return BM_E_FORMAT;
	if (h > 23 || m > 59 || s > 59)
		return BM_E_INVAL;
	*out = (uint32_t)(h * 3600 + m * 60 + s);
	return BM_OK;
}

/* ------------------------------------------------------------- defaults */

static void harm_set(bm_sim_harmonics *hs, const bm_sim_harmonic *list, size_t n)
{
	memset(hs, 0, sizeof *hs);
	for (size_t i = 0; i < n && i < BM_SIM_MAX_HARMONICS; i++)
		hs->h[hs->n++] = list[i];
}

static void profile_set(bm_sim_circuit *c, const bm_sim_point *pts, size_t n)
{
	memset(c->profile, 0, sizeof c->profile);
	c->n_points = 0;
	for (size_t i = 0; i < n && i < BM_SIM_MAX_POINTS; i++)
		c->profile[c->n_points++] = pts[i];
}

/* Sensors of all four inputs alike (the circuit-level keys). */
static void sensors_set(bm_sim_circuit *c, bm_sensor_type type, double primary, double secondary, double nominal)
{
	for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
		bm_sensor_default(&c->sensor[p], type, primary);
		c->sensor[p].secondary = secondary;
		c->sensor[p].nominal_a = nominal;
	}
}

/* What a [circuitN] section with no keys means. */
static void circuit_blank(bm_sim_circuit *c)
{
	memset(c, 0, sizeof *c);
	c->wiring = BM_WIRING_3P4W_4CT;
	for (unsigned p = 0; p < BM_PHASE_INPUTS; p++)
		bm_sensor_default(&c->sensor[p], BM_SENSOR_CT, DEF_PRIMARY_A);
	c->n_points = 1;
	c->profile[0] = (bm_sim_point){0, 50.0, 1.0};
	c->unbalance[0] = c->unbalance[1] = c->unbalance[2] = 1.0;
	c->cycle_duty = 0.5;
}

/* What a file that sets nothing means (before its circuits are added). */
static void scenario_blank(bm_sim_scenario *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->sample_rate = 12800;
	sc->nominal_hz = 50;
	sc->vt_ratio = 1.0;
	sc->voltage_v = 230.0;
	sc->frequency_hz = 50.0;
	sc->wander_period_s = 60.0;
	for (int p = 0; p < 3; p++)
		sc->unbalance[p] = 1.0;
	sc->seed = 1;
	sc->start = (bm_sim_start){2026, 1, 1, 0, 0, 0, false, 0};
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		circuit_blank(&sc->circuit[c]);
}

/*
 * Keep in step with scenarios/default.ini: test_sim parses that file and
 * compares every field with this function's result.
 */
void bm_sim_default(bm_sim_scenario *sc)
{
	scenario_blank(sc);
	sc->sample_rate = 12800;
	sc->nominal_hz = 50;
	sc->vt_ratio = 1.0;
	sc->voltage_v = 230.0;
	sc->frequency_hz = 50.0;
	sc->wander_hz = 0.03;
	sc->wander_period_s = 120.0;
	sc->ramp_hz_per_s = 0.0;
	sc->unbalance[0] = 1.0;
	sc->unbalance[1] = 0.995;
	sc->unbalance[2] = 1.004;
	sc->angle_dev_deg[0] = 0.0;
	sc->angle_dev_deg[1] = 0.3;
	sc->angle_dev_deg[2] = -0.2;
	sc->acb = false;
	static const bm_sim_harmonic uh[] = {
		{3, 0.8, 0}, {5, 2.2, 180}, {7, 1.1, 0}, {9, 0.3, 0}, {11, 0.6, 180}, {13, 0.4, 0},
	};
	harm_set(&sc->harmonics, uh, sizeof uh / sizeof uh[0]);
	sc->noise_pct = 0.02;
	sc->adc_bits = 16;
	sc->seed = 20260105;
	sc->start = (bm_sim_start){2026, 1, 5, 8, 0, 0, false, 0};
	sc->n_circuits = BM_MAX_CIRCUITS < 4 ? BM_MAX_CIRCUITS : 4;

	/* 1: office lighting and PCs. */
	bm_sim_circuit *c = &sc->circuit[0];
	c->wiring = BM_WIRING_3P4W_4CT;
	sensors_set(c, BM_SENSOR_CT, 100.0, 5.0, 100.0);
	static const bm_sim_point p1[] = {
		{0 * 3600, 8, 0.92},           {6 * 3600 + 1800, 10, 0.92}, {7 * 3600 + 1800, 45, 0.95},
		{9 * 3600, 70, 0.96},          {12 * 3600, 60, 0.96},       {13 * 3600, 70, 0.96},
		{17 * 3600 + 1800, 55, 0.95}, {19 * 3600, 15, 0.93},       {22 * 3600, 8, 0.92},
	};
	profile_set(c, p1, sizeof p1 / sizeof p1[0]);
	static const bm_sim_harmonic h1[] = {{3, 22, 180}, {5, 12, 0}, {7, 6, 180}, {9, 3, 0}, {11, 2, 0}};
	harm_set(&c->harmonics, h1, sizeof h1 / sizeof h1[0]);
	c->unbalance[0] = 1.0;
	c->unbalance[1] = 1.12;
	c->unbalance[2] = 0.9;

#if BM_MAX_CIRCUITS >= 2
	/* 2: HVAC compressor and fans, cycling. */
	c = &sc->circuit[1];
	c->wiring = BM_WIRING_3P4W_3CT;
	sensors_set(c, BM_SENSOR_RCOIL, 1000.0, 85.0, 400.0);
	static const bm_sim_point p2[] = {
		{0, 20, 0.78}, {6 * 3600, 35, 0.8}, {10 * 3600, 60, 0.82}, {15 * 3600, 70, 0.82}, {20 * 3600, 35, 0.8},
	};
	profile_set(c, p2, sizeof p2 / sizeof p2[0]);
	static const bm_sim_harmonic h2[] = {{5, 4, 0}, {7, 2.5, 0}, {11, 1, 0}};
	harm_set(&c->harmonics, h2, sizeof h2 / sizeof h2[0]);
	c->unbalance[0] = 1.0;
	c->unbalance[1] = 1.01;
	c->unbalance[2] = 0.99;
	c->cycle_period_s = 900;
	c->cycle_duty = 0.6;
	c->cycle_off_pct = 15;
#endif
#if BM_MAX_CIRCUITS >= 3
	/* 3: a variable-frequency drive (six-pulse rectifier). */
	c = &sc->circuit[2];
	c->wiring = BM_WIRING_3P3W_3CT;
	sensors_set(c, BM_SENSOR_VCT, 400.0, 333.0, 250.0);
	static const bm_sim_point p3[] = {
		{0, 15, 0.95}, {7 * 3600, 60, 0.97}, {18 * 3600, 40, 0.96}, {22 * 3600, 15, 0.95},
	};
	profile_set(c, p3, sizeof p3 / sizeof p3[0]);
	static const bm_sim_harmonic h3[] = {{5, 35, 180}, {7, 18, 0}, {11, 7, 180}, {13, 4, 0}};
	harm_set(&c->harmonics, h3, sizeof h3 / sizeof h3[0]);
#endif
#if BM_MAX_CIRCUITS >= 4
	/* 4: PV inverter, exporting by day (a winter day: short, low sun). */
	c = &sc->circuit[3];
	c->wiring = BM_WIRING_3P4W_4CT;
	sensors_set(c, BM_SENSOR_CT, 200.0, 5.0, 200.0);
	static const bm_sim_point p4[] = {
		{0, 0.3, 1},                 {7 * 3600 + 45 * 60, 0.3, 1}, {8 * 3600 + 1800, -8, 0.98},
		{10 * 3600, -35, 0.99},      {12 * 3600 + 1800, -55, 1},   {14 * 3600 + 1800, -35, -0.99},
		{16 * 3600, -8, -0.98},      {16 * 3600 + 45 * 60, 0.3, 1},
	};
	profile_set(c, p4, sizeof p4 / sizeof p4[0]);
	static const bm_sim_harmonic h4[] = {{3, 2, 0}, {5, 3, 180}, {7, 2, 0}, {11, 1, 0}};
	harm_set(&c->harmonics, h4, sizeof h4 / sizeof h4[0]);
#endif
}

/* ------------------------------------------------------------ validator */

/* Reasons shared by the validator and the parser. */
#define AUX_BOTH                                                                                               \
	"a circuit has a temperature or a residual-current input, not both (the KPM312 expansion module: "        \
	"\"S cannot work with T\")"
#define RISE_ALONE "needs temperature (the value at no load) in the same section"
#define STEPS_ALONE "needs residual (the value before the first step) in the same section"

static bm_err check_harm(const bm_sim_harmonics *hs, const char *sec, const char *key, char *err, size_t errlen)
{
	if (hs->n > BM_SIM_MAX_HARMONICS) {
		bm_msgf(err, errlen, "[%s] %s: more than %d entries", sec, key, BM_SIM_MAX_HARMONICS);
		return BM_E_INVAL;
	}
	for (unsigned i = 0; i < hs->n; i++) {
		const bm_sim_harmonic *h = &hs->h[i];
		if (h->order < 2 || h->order > BM_SIM_MAX_ORDER || !in_range(h->percent, 0, 100) ||
		    !in_range(h->phase_deg, -360, 360)) {
			bm_msgf(err, errlen, "[%s] %s: entry %u: order must be 2..%d, percent 0..100, phase -360..360",
			        sec, key, i + 1, BM_SIM_MAX_ORDER);
			return BM_E_INVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (hs->h[j].order == h->order) {
				bm_msgf(err, errlen, "[%s] %s: order %u given twice", sec, key, h->order);
				return BM_E_INVAL;
			}
	}
	return BM_OK;
}

static bm_err check_sensor(const bm_sensor_cfg *s, const char *sec, unsigned p, char *err, size_t errlen)
{
	const char *in = input_names[p];
	if ((unsigned)s->type >= BM_SENSOR_COUNT) {
		bm_msgf(err, errlen, "[%s] sensor.%s: unknown sensor type", sec, in);
		return BM_E_INVAL;
	}
	if (!in_range(s->primary_a, 1, 999999)) {
		bm_msgf(err, errlen, "[%s] primary.%s: must be 1..999999 A", sec, in);
		return BM_E_INVAL;
	}
	if (s->type == BM_SENSOR_CT) {
		if (!in_range(s->secondary, 0.001, 10)) {
			bm_msgf(err, errlen, "[%s] secondary.%s: a CT's secondary must be 0.001..10 A", sec, in);
			return BM_E_INVAL;
		}
		if (!in_range(s->primary_a / s->secondary, 1, 10000)) {
			bm_msgf(err, errlen, "[%s] primary.%s: CT ratio primary/secondary must be 1..10000", sec, in);
			return BM_E_INVAL;
		}
	} else if (!in_range(s->secondary, 1, 99999)) {
		bm_msgf(err, errlen, "[%s] secondary.%s: a %s's secondary must be 1..99999 mV", sec, in,
		        bm_sensor_name(s->type));
		return BM_E_INVAL;
	}
	if (!in_range(s->nominal_a, 0.001, 999999)) {
		bm_msgf(err, errlen, "[%s] nominal.%s: must be 0.001..999999 A", sec, in);
		return BM_E_INVAL;
	}
	return BM_OK;
}

static bm_err check_profile(const bm_sim_circuit *c, const char *sec, char *err, size_t errlen)
{
	if (c->n_points < 1 || c->n_points > BM_SIM_MAX_POINTS) {
		bm_msgf(err, errlen, "[%s] profile: needs 1..%d points", sec, BM_SIM_MAX_POINTS);
		return BM_E_INVAL;
	}
	for (unsigned i = 0; i < c->n_points; i++) {
		const bm_sim_point *pt = &c->profile[i];
		if (pt->tod_s >= 86400 || (i > 0 && pt->tod_s <= c->profile[i - 1].tod_s)) {
			bm_msgf(err, errlen, "[%s] profile: point %u: times must increase within 00:00..23:59:59", sec,
			        i + 1);
			return BM_E_INVAL;
		}
		if (!in_range(pt->percent, -PROFILE_PCT_MAX, PROFILE_PCT_MAX) || !in_range(pt->pf, -1, 1)) {
			bm_msgf(err, errlen, "[%s] profile: point %u: percent must be -%g..%g, pf -1..1", sec, i + 1,
			        PROFILE_PCT_MAX, PROFILE_PCT_MAX);
			return BM_E_INVAL;
		}
	}
	return BM_OK;
}

/* A step list: at most `max` steps, times strictly increasing within
 * 0..BM_SIM_MAX_STEP_S, values lo..hi (a digital input's: 0 or 1). */
static bm_err check_steps(const bm_sim_step *st, unsigned n, unsigned max, const key_def *k, const char *sec,
                          char *err, size_t errlen)
{
	bool binary = k->kind == K_INPUT;
	if (n > max) {
		bm_msgf(err, errlen, "[%s] %s: more than %u steps", sec, k->name, max);
		return BM_E_INVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!in_range(st[i].t_s, 0, BM_SIM_MAX_STEP_S) || (i > 0 && st[i].t_s <= st[i - 1].t_s)) {
			bm_msgf(err, errlen, "[%s] %s: step %u: times must increase within 0..%g s", sec, k->name, i + 1,
			        BM_SIM_MAX_STEP_S);
			return BM_E_INVAL;
		}
		if (binary ? (st[i].value != 0.0 && st[i].value != 1.0) : !in_range(st[i].value, k->lo, k->hi)) {
			if (binary)
				bm_msgf(err, errlen, "[%s] %s: step %u: state must be 0 or 1", sec, k->name, i + 1);
			else
				bm_msgf(err, errlen, "[%s] %s: step %u: must be %g..%g %s", sec, k->name, i + 1, k->lo, k->hi,
				        k->unit);
			return BM_E_INVAL;
		}
	}
	return BM_OK;
}

/* The auxiliary inputs' cross-field rules (ranges are the key table's). */
static bm_err check_aux(const bm_sim_circuit *c, const char *sec, char *err, size_t errlen)
{
	if (c->has_temperature && c->has_residual) {
		bm_msgf(err, errlen, "[%s] temperature, residual: " AUX_BOTH, sec);
		return BM_E_INVAL;
	}
	if (!c->has_temperature && c->temperature_rise_k != 0.0) {
		bm_msgf(err, errlen, "[%s] temperature_rise: " RISE_ALONE, sec);
		return BM_E_INVAL;
	}
	if (!c->has_residual && c->n_res_steps > 0) {
		bm_msgf(err, errlen, "[%s] residual_steps: " STEPS_ALONE, sec);
		return BM_E_INVAL;
	}
	return BM_OK;
}

static bm_err check_key(const key_def *k, const void *base, const char *sec, char *err, size_t errlen)
{
	const char *f = (const char *)base + k->off;
	switch (k->kind) {
	case K_U32: {
		uint32_t v;
		memcpy(&v, f, sizeof v);
		if (v < k->lo || v > k->hi)
			goto range;
		return BM_OK;
	}
	case K_NOMHZ:
		if (*(const uint8_t *)f != 50 && *(const uint8_t *)f != 60) {
			bm_msgf(err, errlen, "[%s] %s: must be 50 or 60", sec, k->name);
			return BM_E_INVAL;
		}
		return BM_OK;
	case K_ADCBITS: {
		uint8_t v = *(const uint8_t *)f;
		if (v != 0 && (v < 8 || v > 24)) {
			bm_msgf(err, errlen, "[%s] %s: must be 0 (off) or 8..24", sec, k->name);
			return BM_E_INVAL;
		}
		return BM_OK;
	}
	case K_DOUBLE: {
		double v;
		memcpy(&v, f, sizeof v);
		if (!in_range(v, k->lo, k->hi))
			goto range;
		return BM_OK;
	}
	case K_TRIPLE: {
		double v[3];
		memcpy(v, f, sizeof v);
		for (int i = 0; i < 3; i++)
			if (!in_range(v[i], k->lo, k->hi))
				goto range;
		return BM_OK;
	}
	case K_HARM:
		return check_harm((const bm_sim_harmonics *)(const void *)f, sec, k->name, err, errlen);
	case K_OPTNUM: {
		bool present = *((const bool *)(const void *)((const char *)base + opt_flag(k)));
		double v;
		memcpy(&v, f, sizeof v);
		if (present && !in_range(v, k->lo, k->hi))
			goto range;
		return BM_OK;
	}
	case K_STEPS: {
		const bm_sim_circuit *c = base;
		return check_steps(c->res_step, c->n_res_steps, BM_SIM_MAX_RES_STEPS, k, sec, err, errlen);
	}
	case K_INPUT: {
		const bm_sim_scenario *sc = base;
		unsigned i = input_index(k);
		if (!(sc->input_mask & (1u << i)))
			return BM_OK;
		return check_steps(sc->input[i].step, sc->input[i].n_steps, BM_SIM_MAX_INPUT_STEPS, k, sec, err, errlen);
	}
	case K_WIRING: {
		bm_wiring w;
		memcpy(&w, f, sizeof w);
		if ((unsigned)w >= BM_WIRING_COUNT) {
			bm_msgf(err, errlen, "[%s] %s: unknown wiring mode", sec, k->name);
			return BM_E_INVAL;
		}
		return BM_OK;
	}
	case K_START: {
		bm_sim_start st;
		memcpy(&st, f, sizeof st);
		if (!start_ok(&st)) {
			bm_msgf(err, errlen, "[%s] %s: not a valid date and time (years 1970..2199)", sec, k->name);
			return BM_E_INVAL;
		}
		return BM_OK;
	}
	default: /* K_U64, K_SEQ: every value is valid; profile, sensors below */
		return BM_OK;
	}
range:
	bm_msgf(err, errlen, "[%s] %s: must be %g..%g%s%s", sec, k->name, k->lo, k->hi, *k->unit ? " " : "",
	        k->unit);
	return BM_E_INVAL;
}

bm_err bm_sim_validate(const bm_sim_scenario *sc, char *err, size_t errlen)
{
	if (!sc) {
		bm_msgf(err, errlen, "no scenario");
		return BM_E_INVAL;
	}
	if (sc->n_circuits < 1 || sc->n_circuits > BM_MAX_CIRCUITS) {
		bm_msgf(err, errlen, "needs 1..%d circuits", BM_MAX_CIRCUITS);
		return BM_E_INVAL;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		const key_def *k = &keys[i];
		bm_err e = BM_OK;
		if (k->sec == S_METER)
			e = check_key(k, sc, "meter", err, errlen);
		else if (k->sec == S_GRID)
			e = check_key(k, sc, "grid", err, errlen);
		else if (k->sec == S_INPUTS)
			e = check_key(k, sc, "inputs", err, errlen);
		else
			for (unsigned c = 0; c < sc->n_circuits && !e; c++) {
				char sec[24];
				snprintf(sec, sizeof sec, "circuit%u", c + 1);
				e = check_key(k, &sc->circuit[c], sec, err, errlen);
			}
		if (e)
			return e;
	}
	for (unsigned c = 0; c < sc->n_circuits; c++) {
		char sec[24];
		snprintf(sec, sizeof sec, "circuit%u", c + 1);
		bm_err e = check_profile(&sc->circuit[c], sec, err, errlen);
		for (unsigned p = 0; p < BM_PHASE_INPUTS && !e; p++)
			e = check_sensor(&sc->circuit[c].sensor[p], sec, p, err, errlen);
		if (!e)
			e = check_aux(&sc->circuit[c], sec, err, errlen);
		if (e)
			return e;
	}
	if (sc->input_mask & ~((1u << BM_SIM_MAX_INPUTS) - 1u)) {
		bm_msgf(err, errlen, "[inputs] input_mask 0x%02x: only di1..di%d exist", (unsigned)sc->input_mask,
		        BM_SIM_MAX_INPUTS);
		return BM_E_INVAL;
	}
	return BM_OK;
}

bm_err bm_sim_meter_config(const bm_sim_scenario *sc, bm_meter_cfg *cfg)
{
	if (!sc || !cfg || bm_sim_validate(sc, NULL, 0) != BM_OK)
		return BM_E_INVAL;
	bm_config_default(cfg);
	cfg->sample_rate = sc->sample_rate;
	cfg->nominal_hz = sc->nominal_hz;
	cfg->u_nominal_v = sc->voltage_v;
	cfg->u_min_v = 0.01 * sc->voltage_v; /* as bm_config_default: 1 % of nominal */
	cfg->vt_ratio = sc->vt_ratio;
	cfg->n_circuits = sc->n_circuits;
	for (unsigned c = 0; c < sc->n_circuits; c++) {
		bm_circuit_cfg *cc = &cfg->circuit[c];
		const bm_sim_circuit *s = &sc->circuit[c];
		cc->wiring = s->wiring;
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			bm_cal cal = cc->sensor[p].cal; /* keep the default calibration */
			cc->sensor[p] = s->sensor[p];
			cc->sensor[p].cal = cal;
		}
		cc->i_min_a = 0.001 * s->sensor[0].nominal_a; /* as bm_config_default: 0.1 % */
	}
	return bm_config_validate(cfg, NULL) == BM_OK ? BM_OK : BM_E_INVAL;
}

/* --------------------------------------------------------------- parser */

typedef struct sval {
	bool set;
	int line;
	double v;
} sval;

/* A key kept for a check at the end of the file: its line and value. */
typedef struct kept {
	int line; /* 0: not given */
	char val[52];
} kept;

/* Sensor keys of one circuit as written: [0..3] per input, [4] circuit;
 * and the keys whose partner may come later in the section. */
typedef struct cstage {
	bool declared;
	int line;
	sval type[5], pri[5], sec[5], nom[5];
	kept rise, steps; /* temperature_rise, residual_steps */
} cstage;

typedef struct parse_ctx {
	bm_ini_lines src; /* the line reader (inilines.h) */
	bm_sim_scenario sc;
	const char *name;
	char *err;
	size_t errlen;
	bm_err rc;
	int err_line;
	/* reader */
	const char *pos;
	int line;
	bool cont;      /* the line being handled continues the previous key */
	bool have_name; /* inih has a previous key name (continuations possible) */
	/* what was seen */
	bool seen[N_SEC][N_KEYS][5];
	bool nominal_hz_set;
	cstage cs[BM_MAX_CIRCUITS];
} parse_ctx;

static void fail_at(parse_ctx *x, bm_err rc, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void fail_at(parse_ctx *x, bm_err rc, const char *fmt, ...)
{
	if (x->rc != BM_OK)
		return;
	x->rc = rc;
	x->err_line = x->line;
	if (!x->err || x->errlen == 0)
		return;
	int n = x->line > 0 ? snprintf(x->err, x->errlen, "%s:%d: ", x->name, x->line)
	                    : snprintf(x->err, x->errlen, "%s: ", x->name);
	if (n < 0 || (size_t)n >= x->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Section index: 0 meter, 1 grid, 2 + c circuit c, SEC_INPUTS inputs; -1
 * unknown (already reported). */
static int section_index(parse_ctx *x, const char *s, size_t len)
{
	char buf[64];
	if (len >= sizeof buf) {
		fail_at(x, BM_E_FORMAT, "unknown section [%.40s...]", s);
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (ieq(buf, "meter"))
		return 0;
	if (ieq(buf, "grid"))
		return 1;
	if (ieq(buf, "inputs"))
		return SEC_INPUTS;
	static const char pre[] = "circuit";
	bool is_circuit = len > 7;
	for (size_t i = 0; i < 7 && is_circuit; i++)
		if (tolower((unsigned char)buf[i]) != pre[i])
			is_circuit = false;
	if (is_circuit && buf[7] >= '1' && buf[7] <= '9') {
		uint64_t n;
		if (parse_u64((tok){buf + 7, buf + len}, &n)) {
			if (n > BM_MAX_CIRCUITS) {
				fail_at(x, BM_E_INVAL, "[%s]: at most %d circuits ([circuit1]..[circuit%d])", buf,
				        BM_MAX_CIRCUITS, BM_MAX_CIRCUITS);
				return -1;
			}
			return 2 + (int)n - 1;
		}
	}
	fail_at(x, BM_E_FORMAT, "unknown section [%s] (expected [meter], [grid], [circuit1]..[circuit%d] or [inputs])",
	        buf, BM_MAX_CIRCUITS);
	return -1;
}

static bool is_circuit_sec(int si)
{
	return si >= 2 && si < SEC_INPUTS;
}

static void declare(parse_ctx *x, int si)
{
	if (is_circuit_sec(si) && !x->cs[si - 2].declared) {
		x->cs[si - 2].declared = true;
		x->cs[si - 2].line = x->line;
	}
}

/*
 * inih's reader callback: copies one line (one call = one line, so inih's
 * line count and ours agree), classifies it the way inih will (same order
 * of tests as its ini_parse_stream), and stops the parse after an error.
 */
static char *reader(char *str, int num, void *stream)
{
	parse_ctx *x = stream;
	if (x->rc != BM_OK)
		return NULL;
	const char *name = NULL;
	size_t name_len = 0;
	int max = 0;
	x->src.pos = x->pos;
	x->src.line = x->line;
	x->src.have_name = x->have_name;
	bm_ini_kind k = bm_ini_next_line(&x->src, str, num, &name, &name_len, &max);
	x->pos = x->src.pos;
	x->line = x->src.line;
	x->cont = x->src.cont;
	x->have_name = x->src.have_name;
	if (k == BM_INI_END)
		return NULL;
	if (k == BM_INI_TOO_LONG) {
		fail_at(x, BM_E_FORMAT, "line too long (at most %d characters; continue a list on an indented line)", max);
		return NULL;
	}
	if (k == BM_INI_SECTION) {
		int si = section_index(x, name, name_len);
		if (si < 0)
			return NULL;
		declare(x, si);
	}
	return str;
}

/* Value text for messages: bounded, so a message always fits one line. */
#define VAL_FMT "%.48s%s"
#define VAL_ARG(v) (v), (strlen(v) > 48 ? "..." : "")

static void bad_value(parse_ctx *x, bm_err rc, const char *sec, const char *key, const char *val, const char *why)
{
	fail_at(x, rc, "[%s] %s = " VAL_FMT ": %s", sec, key, VAL_ARG(val), why);
}

static void range_fail(parse_ctx *x, const key_def *k, const char *sec, const char *key, const char *val)
{
	char why[96];
	snprintf(why, sizeof why, "must be %g..%g%s%s", k->lo, k->hi, *k->unit ? " " : "", k->unit);
	bad_value(x, BM_E_INVAL, sec, key, val, why);
}

/*
 * Next entry of a comma-separated list in [*p, end). Blank text has no
 * entries, and one trailing comma is allowed (the list continues on the
 * next, indented line); any other empty entry comes back empty for the
 * caller to refuse. Returns false at the end.
 */
static bool next_entry(const char **p, const char *end, tok *t)
{
	if (*p > end)
		return false;
	const char *c = memchr(*p, ',', (size_t)(end - *p));
	const char *te = c ? c : end;
	*t = trim(*p, te);
	*p = te + 1;
	if (t->b == t->e && !c)
		return false; /* blank text, or nothing after a trailing comma */
	return true;
}

/* One chunk of a harmonics list (a line), appended to hs. */
static void parse_harm_chunk(parse_ctx *x, bm_sim_harmonics *hs, const char *sec, const char *key, const char *val)
{
	const char *p = val, *end = val + strlen(val);
	tok t;
	while (x->rc == BM_OK && next_entry(&p, end, &t)) {
		if (t.b == t.e) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "empty list entry (expected order:percent[@phase])");
			return;
		}
		const char *colon = find(t, ':');
		if (!colon) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "expected order:percent[@phase], e.g. 5:3.5@30");
			return;
		}
		const char *at = find((tok){colon + 1, t.e}, '@');
		uint64_t order;
		double pct, ph = 0;
		if (!parse_u64(trim(t.b, colon), &order) || !parse_num(trim(colon + 1, at ? at : t.e), &pct) ||
		    (at && !parse_num(trim(at + 1, t.e), &ph))) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "malformed number (expected order:percent[@phase])");
			return;
		}
		if (order < 2 || order > BM_SIM_MAX_ORDER) {
			bad_value(x, BM_E_INVAL, sec, key, val, "harmonic order must be 2..63");
			return;
		}
		if (!in_range(pct, 0, 100)) {
			bad_value(x, BM_E_INVAL, sec, key, val, "harmonic percent must be 0..100");
			return;
		}
		if (!in_range(ph, -360, 360)) {
			bad_value(x, BM_E_INVAL, sec, key, val, "harmonic phase must be -360..360 degrees");
			return;
		}
		for (unsigned i = 0; i < hs->n; i++)
			if (hs->h[i].order == order) {
				bad_value(x, BM_E_INVAL, sec, key, val, "harmonic order given twice");
				return;
			}
		if (hs->n >= BM_SIM_MAX_HARMONICS) {
			bad_value(x, BM_E_INVAL, sec, key, val, "more than 32 harmonics");
			return;
		}
		hs->h[hs->n++] = (bm_sim_harmonic){(uint8_t)order, pct, ph};
	}
}

/* One chunk of a load profile (a line), appended to the circuit's points. */
static void parse_profile_chunk(parse_ctx *x, bm_sim_circuit *cc, const char *sec, const char *key,
                                const char *val)
{
	const char *p = val, *end = val + strlen(val);
	tok t;
	while (x->rc == BM_OK && next_entry(&p, end, &t)) {
		if (t.b == t.e) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "empty list entry (expected HH:MM=percent[@pf])");
			return;
		}
		const char *eq = find(t, '=');
		if (!eq) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "expected HH:MM=percent[@pf], e.g. 08:30=60@0.9");
			return;
		}
		const char *at = find((tok){eq + 1, t.e}, '@');
		uint32_t tod;
		double pct, pf = 1.0;
		bm_err e = parse_tod(trim(t.b, eq), &tod);
		if (e) {
			bad_value(x, e, sec, key, val,
			          e == BM_E_INVAL ? "time of day must be 00:00..23:59:59" : "expected a time HH:MM or HH:MM:SS");
			return;
		}
		if (!parse_num(trim(eq + 1, at ? at : t.e), &pct) || (at && !parse_num(trim(at + 1, t.e), &pf))) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "malformed number (expected HH:MM=percent[@pf])");
			return;
		}
		if (!in_range(pct, -PROFILE_PCT_MAX, PROFILE_PCT_MAX)) {
			bad_value(x, BM_E_INVAL, sec, key, val, "percent of nominal must be -300..300");
			return;
		}
		if (!in_range(pf, -1, 1)) {
			bad_value(x, BM_E_INVAL, sec, key, val, "power factor must be -1..1");
			return;
		}
		if (cc->n_points > 0 && tod <= cc->profile[cc->n_points - 1].tod_s) {
			bad_value(x, BM_E_INVAL, sec, key, val, "times must increase through the day");
			return;
		}
		if (cc->n_points >= BM_SIM_MAX_POINTS) {
			bad_value(x, BM_E_INVAL, sec, key, val, "more than 48 profile points");
			return;
		}
		cc->profile[cc->n_points++] = (bm_sim_point){tod, pct, pf};
	}
}

/*
 * One chunk of a step list (a line), "T:V, T:V, ...", appended to st[*n]:
 * residual steps (V in mA) or a digital input's (V is 0 or 1).
 */
static void parse_steps_chunk(parse_ctx *x, const key_def *k, bm_sim_step *st, uint8_t *n, unsigned max,
                              const char *sec, const char *key, const char *val)
{
	bool binary = k->kind == K_INPUT;
	const char *form = binary ? "(expected seconds:state, e.g. 30:1)" : "(expected seconds:mA, e.g. 60:40)";
	const char *p = val, *end = val + strlen(val);
	char why[96];
	tok t;
	while (x->rc == BM_OK && next_entry(&p, end, &t)) {
		if (t.b == t.e) {
			snprintf(why, sizeof why, "empty list entry %s", form);
			bad_value(x, BM_E_FORMAT, sec, key, val, why);
			return;
		}
		const char *colon = find(t, ':');
		double ts, v;
		uint64_t u = 0;
		bool ok = colon && parse_num(trim(t.b, colon), &ts);
		if (ok && binary) {
			ok = parse_u64(trim(colon + 1, t.e), &u);
			v = (double)u;
		} else if (ok) {
			ok = parse_num(trim(colon + 1, t.e), &v);
		}
		if (!ok) {
			snprintf(why, sizeof why, "malformed step %s", form);
			bad_value(x, BM_E_FORMAT, sec, key, val, why);
			return;
		}
		if (!in_range(ts, 0, BM_SIM_MAX_STEP_S)) {
			snprintf(why, sizeof why, "step time must be 0..%g s after the start", BM_SIM_MAX_STEP_S);
			bad_value(x, BM_E_INVAL, sec, key, val, why);
			return;
		}
		if (binary ? u > 1 : !in_range(v, k->lo, k->hi)) {
			if (binary)
				snprintf(why, sizeof why, "state must be 0 (open) or 1 (closed)");
			else
				snprintf(why, sizeof why, "residual current must be %g..%g mA", k->lo, k->hi);
			bad_value(x, BM_E_INVAL, sec, key, val, why);
			return;
		}
		if (*n > 0 && ts <= st[*n - 1].t_s) {
			bad_value(x, BM_E_INVAL, sec, key, val, "step times must increase");
			return;
		}
		if (*n >= max) {
			snprintf(why, sizeof why, "more than %u steps", max);
			bad_value(x, BM_E_INVAL, sec, key, val, why);
			return;
		}
		st[(*n)++] = (bm_sim_step){ts, v};
	}
}

/* "a, b, c" */
static bool parse_triple(const char *val, double v[3])
{
	const char *p = val, *end = val + strlen(val);
	for (int i = 0; i < 3; i++) {
		const char *c = i < 2 ? memchr(p, ',', (size_t)(end - p)) : NULL;
		if (i < 2 && !c)
			return false;
		if (!parse_num(trim(p, c ? c : end), &v[i]))
			return false;
		p = c ? c + 1 : end;
	}
	return true;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	parse_ctx *x = user;
	if (x->rc != BM_OK)
		return 0;
	x->have_name = true;
	if (!value)
		value = "";
	if (!*section) {
		fail_at(x, BM_E_FORMAT, "%s: a key before the first [section]", name);
		return 0;
	}
	int si = section_index(x, section, strlen(section));
	if (si < 0)
		return 0;
	declare(x, si);
	unsigned want = si == 0 ? S_METER : si == 1 ? S_GRID : si == SEC_INPUTS ? S_INPUTS : S_CIRCUIT;

	/* Key, with an optional ".I1" .. ".In" input suffix for sensor keys. */
	char base[32];
	int level = LEVEL_CIRCUIT;
	const char *dot = strchr(name, '.');
	size_t blen = dot ? (size_t)(dot - name) : strlen(name);
	if (blen >= sizeof base) {
		fail_at(x, BM_E_FORMAT, "[%s] unknown key '%.40s...'", section, name);
		return 0;
	}
	memcpy(base, name, blen);
	base[blen] = '\0';
	const key_def *k = NULL;
	size_t ki = 0;
	for (; ki < N_KEYS; ki++)
		if (keys[ki].sec == want && ieq(keys[ki].name, base)) {
			k = &keys[ki];
			break;
		}
	bool sensor_key = k && (k->kind == K_STYPE || k->kind == K_SPRI || k->kind == K_SSEC || k->kind == K_SNOM);
	if (k && dot) {
		level = -1;
		for (int p = 0; p < BM_PHASE_INPUTS && sensor_key; p++)
			if (ieq(dot + 1, input_names[p]))
				level = p;
		if (level < 0)
			k = NULL;
	}
	if (!k) {
		fail_at(x, BM_E_FORMAT, "[%s] unknown key '%s'", section, name);
		return 0;
	}
	bool list = k->kind == K_HARM || k->kind == K_PROFILE || k->kind == K_STEPS || k->kind == K_INPUT;
	if (x->cont && !list) {
		fail_at(x, BM_E_FORMAT,
		        "[%s] %s: an indented line continues the previous key; only lists (harmonics, profile, "
		        "residual_steps, di1..di4) may continue",
		        section, name);
		return 0;
	}
	bool *seen = &x->seen[si][ki][level];
	if (!x->cont && *seen) {
		fail_at(x, BM_E_FORMAT, "[%s] %s: given twice", section, name);
		return 0;
	}
	*seen = true;

	void *field = (k->sec == S_CIRCUIT ? (char *)&x->sc.circuit[si - 2] : (char *)&x->sc) + k->off;
	cstage *cs = is_circuit_sec(si) ? &x->cs[si - 2] : NULL;
	tok t = trim(value, value + strlen(value));
	double d;
	uint64_t u;
	switch (k->kind) {
	case K_U32:
	case K_NOMHZ:
	case K_ADCBITS:
		if (!parse_u64(t, &u)) {
			bad_value(x, BM_E_FORMAT, section, name, value, "expected a whole number");
			return 0;
		}
		if (k->kind == K_NOMHZ && u != 50 && u != 60) {
			bad_value(x, BM_E_INVAL, section, name, value, "must be 50 or 60");
			return 0;
		}
		if (k->kind == K_ADCBITS && u != 0 && (u < 8 || u > 24)) {
			bad_value(x, BM_E_INVAL, section, name, value, "must be 0 (off) or 8..24");
			return 0;
		}
		if (u < k->lo || u > k->hi) {
			range_fail(x, k, section, name, value);
			return 0;
		}
		if (k->kind == K_U32) {
			uint32_t v32 = (uint32_t)u;
			memcpy(field, &v32, sizeof v32);
		} else {
			*(uint8_t *)field = (uint8_t)u;
		}
		if (k->kind == K_NOMHZ)
			x->nominal_hz_set = true;
		return 1;
	case K_U64:
		if (!parse_u64(t, &u)) {
			bad_value(x, BM_E_FORMAT, section, name, value, "expected a whole number 0..18446744073709551615");
			return 0;
		}
		memcpy(field, &u, sizeof u);
		return 1;
	case K_DOUBLE:
		if (!parse_num(t, &d)) {
			bad_value(x, BM_E_FORMAT, section, name, value, "malformed number");
			return 0;
		}
		if (!in_range(d, k->lo, k->hi)) {
			range_fail(x, k, section, name, value);
			return 0;
		}
		memcpy(field, &d, sizeof d);
		if (k->off == CC(temperature_rise_k) && cs) { /* checked at the end */
			cs->rise.line = x->line;
			snprintf(cs->rise.val, sizeof cs->rise.val, "%s", value);
		}
		return 1;
	case K_TRIPLE: {
		double v[3];
		if (!parse_triple(value, v)) {
			bad_value(x, BM_E_FORMAT, section, name, value, "expected three numbers for L1, L2, L3");
			return 0;
		}
		for (int i = 0; i < 3; i++)
			if (!in_range(v[i], k->lo, k->hi)) {
				range_fail(x, k, section, name, value);
				return 0;
			}
		memcpy(field, v, sizeof v);
		return 1;
	}
	case K_HARM: {
		bm_sim_harmonics *hs = field;
		if (!x->cont)
			hs->n = 0;
		parse_harm_chunk(x, hs, section, name, value);
		return x->rc == BM_OK;
	}
	case K_PROFILE: {
		bm_sim_circuit *cc = &x->sc.circuit[si - 2];
		if (!x->cont)
			cc->n_points = 0;
		parse_profile_chunk(x, cc, section, name, value);
		return x->rc == BM_OK;
	}
	case K_WIRING: {
		bm_wiring w;
		if (t.b == t.e || bm_wiring_parse(value, &w) != BM_OK) {
			bad_value(x, BM_E_FORMAT, section, name, value,
			          "expected 3P4W_4CT, 3P4W_3CT, 3P3W_3CT, 3P3W_2CT, 1P3W or 1P2W");
			return 0;
		}
		memcpy(field, &w, sizeof w);
		return 1;
	}
	case K_SEQ:
		if (ieq(value, "ABC") || ieq(value, "123"))
			*(bool *)field = false;
		else if (ieq(value, "ACB") || ieq(value, "132"))
			*(bool *)field = true;
		else {
			bad_value(x, BM_E_FORMAT, section, name, value, "expected ABC or ACB");
			return 0;
		}
		return 1;
	case K_START: {
		bm_err e = parse_start(t, field);
		if (e) {
			bad_value(x, e, section, name, value,
			          e == BM_E_INVAL ? "date or time out of range (years 1970..2199)"
			                          : "expected YYYY-MM-DDTHH:MM:SS, optionally followed by Z or +hh:mm");
			return 0;
		}
		return 1;
	}
	case K_STYPE: {
		bm_sensor_type st;
		if (bm_sensor_parse(value, &st) != BM_OK) {
			bad_value(x, BM_E_FORMAT, section, name, value, "expected CT, VCT or RCOIL");
			return 0;
		}
		cs->type[level] = (sval){true, x->line, (double)st};
		return 1;
	}
	case K_SPRI:
	case K_SSEC:
	case K_SNOM: {
		if (!parse_num(t, &d)) {
			bad_value(x, BM_E_FORMAT, section, name, value, "malformed number");
			return 0;
		}
		if (!in_range(d, k->lo, k->hi)) {
			range_fail(x, k, section, name, value);
			return 0;
		}
		sval *sv = k->kind == K_SPRI ? cs->pri : k->kind == K_SSEC ? cs->sec : cs->nom;
		sv[level] = (sval){true, x->line, d};
		return 1;
	}
	case K_OPTNUM: {
		bm_sim_circuit *cc = &x->sc.circuit[si - 2];
		if (!parse_num(t, &d)) {
			bad_value(x, BM_E_FORMAT, section, name, value, "malformed number");
			return 0;
		}
		if (!in_range(d, k->lo, k->hi)) {
			range_fail(x, k, section, name, value);
			return 0;
		}
		/* Whichever of the two comes second is the one to blame. */
		if (k->off == CC(temperature_c) ? cc->has_residual : cc->has_temperature) {
			bad_value(x, BM_E_INVAL, section, name, value, AUX_BOTH);
			return 0;
		}
		memcpy(field, &d, sizeof d);
		*(bool *)((char *)cc + opt_flag(k)) = true;
		return 1;
	}
	case K_STEPS: {
		bm_sim_circuit *cc = &x->sc.circuit[si - 2];
		if (!x->cont) {
			cc->n_res_steps = 0;
			cs->steps.line = x->line;
			snprintf(cs->steps.val, sizeof cs->steps.val, "%s", value);
		}
		parse_steps_chunk(x, k, cc->res_step, &cc->n_res_steps, BM_SIM_MAX_RES_STEPS, section, name, value);
		return x->rc == BM_OK;
	}
	case K_INPUT: {
		unsigned i = input_index(k);
		bm_sim_input *in = &x->sc.input[i];
		if (!x->cont)
			in->n_steps = 0;
		x->sc.input_mask = (uint8_t)(x->sc.input_mask | (1u << i));
		parse_steps_chunk(x, k, in->step, &in->n_steps, BM_SIM_MAX_INPUT_STEPS, section, name, value);
		return x->rc == BM_OK;
	}
	default:
		break;
	}
	fail_at(x, BM_E_FORMAT, "[%s] %s: internal: unhandled key kind", section, name);
	return 0;
}

/* The value an input uses: its own key, else the circuit's, else none. */
static const sval *pick(const sval *v, unsigned p)
{
	if (v[p].set)
		return &v[p];
	if (v[LEVEL_CIRCUIT].set)
		return &v[LEVEL_CIRCUIT];
	return NULL;
}

/* Sensors of circuit c from its keys (docs/simulator.md "Sensors"). */
static void resolve_sensors(parse_ctx *x, unsigned c)
{
	cstage *cs = &x->cs[c];
	bm_sim_circuit *cc = &x->sc.circuit[c];
	char sec[24];
	snprintf(sec, sizeof sec, "circuit%u", c + 1);
	for (unsigned p = 0; p < BM_PHASE_INPUTS && x->rc == BM_OK; p++) {
		const sval *ty = pick(cs->type, p), *pr = pick(cs->pri, p), *nm = pick(cs->nom, p);
		/* An input with a sensor type of its own does not inherit the
		 * circuit's secondary: its unit may differ (A vs mV). */
		const sval *se = cs->sec[p].set ? &cs->sec[p] : (!cs->type[p].set ? pick(cs->sec, p) : NULL);
		bm_sensor_type type = ty ? (bm_sensor_type)(int)ty->v : BM_SENSOR_CT;
		double primary = pr ? pr->v : DEF_PRIMARY_A;
		bm_sensor_cfg *s = &cc->sensor[p];
		bm_sensor_default(s, type, primary);
		if (se)
			s->secondary = se->v;
		s->nominal_a = nm ? nm->v : primary;
		/* Report a bad combination at the line that set the offending value. */
		char msg[160];
		if (check_sensor(s, sec, p, msg, sizeof msg) != BM_OK) {
			const sval *blame = se ? se : pr ? pr : ty;
			x->line = blame ? blame->line : cs->line;
			fail_at(x, BM_E_INVAL, "%s", msg);
		}
	}
}

/* Keys that need a partner anywhere in their section, reported at their line. */
static void check_aux_keys(parse_ctx *x, unsigned c)
{
	const cstage *cs = &x->cs[c];
	const bm_sim_circuit *cc = &x->sc.circuit[c];
	char sec[24];
	snprintf(sec, sizeof sec, "circuit%u", c + 1);
	if (cs->rise.line && !cc->has_temperature) {
		x->line = cs->rise.line;
		bad_value(x, BM_E_INVAL, sec, "temperature_rise", cs->rise.val, RISE_ALONE);
	} else if (cs->steps.line && !cc->has_residual) {
		x->line = cs->steps.line;
		bad_value(x, BM_E_INVAL, sec, "residual_steps", cs->steps.val, STEPS_ALONE);
	}
}

static bm_err finish(parse_ctx *x)
{
	unsigned n = 0;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		if (x->cs[c].declared)
			n = c + 1;
	if (n == 0) {
		x->line = 0; /* about the whole file */
		fail_at(x, BM_E_FORMAT, "no [circuit1] section (a scenario needs 1..%d circuits)", BM_MAX_CIRCUITS);
		return x->rc;
	}
	for (unsigned c = 0; c < n; c++)
		if (!x->cs[c].declared) {
			x->line = x->cs[n - 1].line;
			fail_at(x, BM_E_FORMAT, "[circuit%u] without [circuit%u]: circuits are numbered from 1 without gaps",
			        n, c + 1);
			return x->rc;
		}
	x->sc.n_circuits = (uint8_t)n;
	for (unsigned c = 0; c < n && x->rc == BM_OK; c++)
		resolve_sensors(x, c);
	for (unsigned c = 0; c < n && x->rc == BM_OK; c++)
		check_aux_keys(x, c);
	if (x->rc)
		return x->rc;
	if (!x->nominal_hz_set)
		x->sc.nominal_hz = x->sc.frequency_hz < 55.0 ? 50 : 60;

	char msg[200];
	if (bm_sim_validate(&x->sc, msg, sizeof msg) != BM_OK) {
		bm_msgf(x->err, x->errlen, "%s: %s", x->name, msg);
		return x->rc = BM_E_INVAL;
	}
	bm_meter_cfg cfg;
	bm_config_default(&cfg);
	if (bm_sim_meter_config(&x->sc, &cfg) != BM_OK) {
		bm_cfg_issue is = {"?", "?", -1, -1};
		(void)bm_config_validate(&cfg, &is);
		bm_msgf(x->err, x->errlen, "%s: the meter configuration would be rejected: circuit %d input %d: %s %s",
		        x->name, is.circuit + 1, is.input + 1, is.field ? is.field : "?", is.reason ? is.reason : "?");
		return x->rc = BM_E_INVAL;
	}
	return BM_OK;
}

bm_err bm_sim_load_string(const char *text, const char *name, bm_sim_scenario *out, char *err, size_t errlen)
{
	if (!name)
		name = "<string>";
	if (!text || !out) {
		bm_msgf(err, errlen, "%s: no text or no output", name);
		return BM_E_INVAL;
	}
	parse_ctx *x = calloc(1, sizeof *x);
	if (!x) {
		bm_msgf(err, errlen, "%s: out of memory", name);
		return BM_E_NOSPACE;
	}
	scenario_blank(&x->sc);
	x->name = name;
	x->err = err;
	x->errlen = errlen;
	x->pos = text;
	int r = ini_parse_stream(reader, x, handler, x);
	if (r == -2) {
		free(x);
		bm_msgf(err, errlen, "%s: out of memory", name);
		return BM_E_NOSPACE;
	}
	if (r > 0 && (x->rc == BM_OK || r < x->err_line)) {
		/* inih found a line that is neither [section], key = value nor a
		 * comment, before any error of ours. */
		x->rc = BM_OK;
		x->line = r;
		fail_at(x, BM_E_FORMAT, "syntax error: expected [section], key = value or a ; comment");
	}
	bm_err rc = x->rc != BM_OK ? x->rc : finish(x);
	if (rc == BM_OK) {
		memcpy(out, &x->sc, sizeof *out);
		if (err && errlen > 0)
			err[0] = '\0';
	}
	free(x);
	return rc;
}

bm_err bm_sim_load_file(const char *path, bm_sim_scenario *out, char *err, size_t errlen)
{
	if (!path || !out) {
		bm_msgf(err, errlen, "no file name or no output");
		return BM_E_INVAL;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		bm_msgf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? BM_E_NOTFOUND : BM_E_IO;
	}
	char *buf = malloc(MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		bm_msgf(err, errlen, "%s: out of memory", path);
		return BM_E_NOSPACE;
	}
	size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
	bool rd_err = ferror(f) != 0;
	fclose(f);
	bm_err rc;
	if (rd_err) {
		bm_msgf(err, errlen, "%s: read error", path);
		rc = BM_E_IO;
	} else if (n > MAX_FILE_BYTES) {
		bm_msgf(err, errlen, "%s: larger than %u bytes", path, MAX_FILE_BYTES);
		rc = BM_E_FORMAT;
	} else if (memchr(buf, '\0', n)) {
		bm_msgf(err, errlen, "%s: contains a NUL byte (not a text file)", path);
		rc = BM_E_FORMAT;
	} else {
		buf[n] = '\0';
		rc = bm_sim_load_string(buf, path, out, err, errlen);
	}
	free(buf);
	return rc;
}
