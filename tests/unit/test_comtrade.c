/*
 * test_comtrade.c — unit tests of the COMTRADE reader (platform/linux/comtrade.c).
 *
 * Purpose: prove every data file type, revision, scaling rule, rate layout,
 * mapping rule and error path against values this file computes itself.
 *
 * Invariants:
 *  - Recordings come from the tiny generator below: 12 analog channels (3
 *    voltages on "Bus", 4 currents each on "Feeder1" and "Feeder2", one "Hz"
 *    channel) of sine waves with known raw values. The expected primary SI
 *    value is computed here from the table (a, b, unit factor, CT ratio),
 *    independently of the reader's own scaling code.
 *  - Binary recordings are generated into a temporary directory (mkdtemp)
 *    that teardown removes. The committed ASCII pairs in tests/data/comtrade
 *    were written by the same generator: `test_comtrade --write-fixtures
 *    tests/data/comtrade` rewrites them; the tests check them against the
 *    same specs. The hand-written bad inputs live in tests/data/comtrade/bad.
 *  - Every error test checks the exact bm_err and that the message names the
 *    file and the line (.cfg) or record / byte offset (.dat).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comtrade.h"

#ifndef BM_TEST_DATA
#define BM_TEST_DATA "tests/data"
#endif
#define FIXDIR BM_TEST_DATA "/comtrade"

/* ------------------------------------------------------------- generator */

#define NCH 12

typedef struct tch {
	const char *id;
	const char *ph[3]; /* phase written in styles 0, 1, 2 */
	const char *ccbm, *unit;
	double a, b, primary, secondary;
	char ps;
	double amp;        /* raw amplitude */
	double unit_si;    /* expected unit factor to SI */
} tch;

static const tch TCH[NCH] = {
	{ "VA", { "A", "L1", "phase A" }, "Bus", "kV", 1e-5, 0.0, 1, 1, 'P', 32500, 1e3 },
	{ "VB", { "B", "L2", "phase B" }, "Bus", "kV", 1e-5, 0.0, 1, 1, 'P', 32500, 1e3 },
	{ "VC", { "C", "L3", "phase C" }, "Bus", "kV", 1e-5, 0.0, 1, 1, 'P', 32500, 1e3 },
	{ "F1 IA", { "A", "L1", "phase A" }, "Feeder1", "A", 1e-3, 0.05, 1, 1, 'P', 20000, 1 },
	{ "F1 IB", { "B", "L2", "phase B" }, "Feeder1", "A", 1e-3, 0.05, 1, 1, 'P', 20000, 1 },
	{ "F1 IC", { "C", "L3", "phase C" }, "Feeder1", "A", 1e-3, 0.05, 1, 1, 'P', 20000, 1 },
	{ "F1 IN", { "N", "N", "phase N" }, "Feeder1", "A", 1e-4, -0.01, 1, 1, 'P', 5000, 1 },
	{ "F2 IA", { "A", "L1", "phase A" }, "Feeder2", "A", 2e-4, 0.0, 400, 5, 'S', 25000, 1 },
	{ "F2 IB", { "B", "L2", "phase B" }, "Feeder2", "A", 2e-4, 0.0, 400, 5, 'S', 25000, 1 },
	{ "F2 IC", { "C", "L3", "phase C" }, "Feeder2", "mA", 0.2, 1.0, 400, 5, 'S', 25000, 1e-3 },
	{ "F2 IN", { "N", "N", "phase N" }, "Feeder2", "kA", 1e-6, 0.0, 1, 1, 'P', 10000, 1e3 },
	{ "FREQ", { "", "", "" }, "Bus", "Hz", 1e-3, 50.0, 1, 1, 'P', 100, 1 },
};

typedef struct gen {
	const char *base;      /* file base name */
	int rev;               /* 1991, 1999, 2013 */
	bm_comtrade_type type;
	unsigned n;            /* samples */
	unsigned n_rates;      /* 0: timestamps only */
	double hz[3];
	unsigned endsamp[3];
	bool zero_line;        /* timestamps only: write the "0,n" line */
	bool ts_gap;           /* timestamps only: one non-uniform step */
	bool missing;          /* missing values at known places */
	unsigned n_dig;
	double timemult;
	int phase_style;
	bool upper;            /* X.CFG + X.DAT */
	bool crlf;
} gen;

/* The committed ASCII fixtures. */
static const gen FIX2013 = {
	.base = "feeders2013", .rev = 2013, .type = BM_COMTRADE_ASCII, .n = 240,
	.n_rates = 1, .hz = { 1600 }, .endsamp = { 240 }, .missing = true,
	.n_dig = 2, .timemult = 1, .phase_style = 0,
};
static const gen FIX1999 = {
	.base = "feeders1999", .rev = 1999, .type = BM_COMTRADE_ASCII, .n = 200,
	.n_rates = 2, .hz = { 1600, 800 }, .endsamp = { 120, 200 }, .n_dig = 2,
	.timemult = 1, .phase_style = 1, .crlf = true,
};

static double gen_a(const gen *g, unsigned ch)
{
	return TCH[ch].a / (g->type == BM_COMTRADE_BINARY32 ? 40.0 : 1.0);
}

static double gen_raw(const gen *g, unsigned ch, unsigned i)
{
	double base = TCH[ch].amp * sin(0.19 * i + 0.7 * ch);

	switch (g->type) {
	case BM_COMTRADE_ASCII: return round(base * 4) / 4; /* "123.25" */
	case BM_COMTRADE_BINARY: return round(base);
	case BM_COMTRADE_BINARY32: return round(base * 40);
	default: return (double)(float)(base + 0.3);
	}
}

static bool gen_missing(const gen *g, unsigned ch, unsigned i)
{
	return g->missing && ((i == 5 && ch == 1) || (i == 7 && ch == 4) || i == 9);
}

static double gen_expect(const gen *g, unsigned ch, unsigned i)
{
	const tch *t = &TCH[ch];
	double ratio = 1.0;

	if (gen_missing(g, ch, i))
		return NAN;
	if (t->ps == 'S' && g->rev != 1991) /* 1991 lines have no ratio */
		ratio = t->primary / t->secondary;
	return (gen_a(g, ch) * gen_raw(g, ch, i) + t->b) * t->unit_si * ratio;
}

static int gen_section(const gen *g, unsigned i)
{
	for (unsigned s = 0; s < g->n_rates; s++) {
		if (i + 1 <= g->endsamp[s])
			return (int)s;
	}
	return -1;
}

/* Written timestamps (ticks of timemult µs), one per sample. */
static uint32_t *gen_timestamps(const gen *g)
{
	uint32_t *ts = calloc(g->n, sizeof *ts);
	double t = 0;

	assert_non_null(ts);
	for (unsigned i = 0; i < g->n; i++) {
		if (g->n_rates == 0)
			t = 625.0 * i + (g->ts_gap && i >= 50 ? 300.0 : 0.0);
		ts[i] = (uint32_t)llround(t / g->timemult);
		if (g->n_rates > 0)
			t += 1e6 / g->hz[gen_section(g, i)];
	}
	return ts;
}

static void put_u16(FILE *f, uint32_t v)
{
	fputc((int)(v & 0xff), f);
	fputc((int)((v >> 8) & 0xff), f);
}

static void put_u32(FILE *f, uint32_t v)
{
	put_u16(f, v & 0xffff);
	put_u16(f, v >> 16);
}

static void gen_write(const gen *g, const char *dir, char *cfg_path, size_t n)
{
	const char *eol = g->crlf ? "\r\n" : "\n";
	char path[512];
	uint32_t *ts = gen_timestamps(g);
	FILE *f;

	snprintf(cfg_path, n, "%s/%s.%s", dir, g->base, g->upper ? "CFG" : "cfg");
	f = fopen(cfg_path, "wb");
	assert_non_null(f);
	fprintf(f, "Test Station,BM-GEN%s%s", g->rev == 1991 ? "" : g->rev == 1999 ? ",1999" : ",2013", eol);
	fprintf(f, "%u,%uA,%uD%s", NCH + g->n_dig, NCH, g->n_dig, eol);
	for (unsigned ch = 0; ch < NCH; ch++) {
		const tch *t = &TCH[ch];
		double lim = g->type == BM_COMTRADE_BINARY32 ? 2147483647.0 : 32767.0;

		fprintf(f, "%u,%s,%s,%s,%s,%.12g,%.12g,0,%.0f,%.0f", ch + 1, t->id,
		        t->ph[g->phase_style], t->ccbm, t->unit, gen_a(g, ch), t->b, -lim, lim);
		if (g->rev != 1991)
			fprintf(f, ",%.12g,%.12g,%c", t->primary, t->secondary, t->ps);
		fputs(eol, f);
	}
	for (unsigned d = 0; d < g->n_dig; d++) {
		/* 1991: numbered on from the analog channels, as some writers do. */
		if (g->rev == 1991)
			fprintf(f, "%u,DIG%u,0%s", NCH + d + 1, d + 1, eol);
		else
			fprintf(f, "%u,DIG%u,,Feeder1,%u%s", d + 1, d + 1, d % 2, eol);
	}
	fprintf(f, "50%s", eol);
	if (g->n_rates == 0) {
		fprintf(f, "0%s", eol);
		if (g->zero_line)
			fprintf(f, "0,%u%s", g->n, eol);
	} else {
		fprintf(f, "%u%s", g->n_rates, eol);
		for (unsigned s = 0; s < g->n_rates; s++)
			fprintf(f, "%.12g,%u%s", g->hz[s], g->endsamp[s], eol);
	}
	if (g->rev == 1991)
		fprintf(f, "01/15/24,10:20:30.123456%s01/15/24,10:20:30.223456%s", eol, eol);
	else
		fprintf(f, "15/01/2024,10:20:30.123456%s15/01/2024,10:20:30.223456%s", eol, eol);
	fprintf(f, "%s%s", bm_comtrade_type_name(g->type), eol);
	if (g->rev != 1991)
		fprintf(f, "%.12g%s", g->timemult, eol);
	if (g->rev == 2013)
		fprintf(f, "0,0%s3,0%s", eol, eol);
	assert_int_equal(fclose(f), 0);

	snprintf(path, sizeof path, "%s/%s.%s", dir, g->base, g->upper ? "DAT" : "dat");
	f = fopen(path, "wb");
	assert_non_null(f);
	for (unsigned i = 0; i < g->n; i++) {
		if (g->type == BM_COMTRADE_ASCII) {
			fprintf(f, "%u,%u", i + 1, ts[i]);
			for (unsigned ch = 0; ch < NCH; ch++) {
				if (gen_missing(g, ch, i))
					fputs(",", f);
				else
					fprintf(f, ",%.2f", gen_raw(g, ch, i));
			}
			for (unsigned d = 0; d < g->n_dig; d++)
				fprintf(f, ",%u", (i >> d) & 1u);
			fputs(eol, f);
			continue;
		}
		put_u32(f, i + 1);
		put_u32(f, ts[i]);
		for (unsigned ch = 0; ch < NCH; ch++) {
			bool miss = gen_missing(g, ch, i);
			double raw = gen_raw(g, ch, i);

			if (g->type == BM_COMTRADE_BINARY) {
				put_u16(f, miss ? 0x8000u : (uint32_t)(uint16_t)(int16_t)raw);
			} else if (g->type == BM_COMTRADE_BINARY32) {
				put_u32(f, miss ? 0x80000000u : (uint32_t)(int32_t)raw);
			} else {
				float fv = miss ? NAN : (float)raw;
				uint32_t u;

				memcpy(&u, &fv, 4);
				put_u32(f, u);
			}
		}
		for (unsigned w = 0; w < (g->n_dig + 15) / 16; w++)
			put_u16(f, (i * 0x9e37u + w) & 0xffffu);
	}
	assert_int_equal(fclose(f), 0);
	free(ts);
}

/* ------------------------------------------------------------- fixtures */

static char g_dir[64];

static int group_setup(void **state)
{
	(void)state;
	strcpy(g_dir, "/tmp/bm_comtrade_XXXXXX");
	return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	/* The directory holds only files this test wrote. */
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", g_dir, name);
}

/* ------------------------------------------------------------- checking */

static void assert_close(double got, double want, const char *what, unsigned i, unsigned ch)
{
	if (isnan(want)) {
		if (!isnan(got))
			fail_msg("%s sample %u ch %u: want missing (NaN), got %.17g", what, i, ch + 1, got);
		return;
	}
	if (!(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want))))
		fail_msg("%s sample %u ch %u: want %.17g, got %.17g", what, i, ch + 1, want, got);
}

/* Opens cfg_path and checks every frame of a generated recording. */
static void check_recording(const char *cfg_path, const gen *g, size_t chunk)
{
	bm_comtrade_reader r;
	char err[512] = "";
	uint32_t *ts = gen_timestamps(g);
	double *vals = calloc(chunk * NCH, sizeof *vals);
	bm_comtrade_frame *fr = calloc(chunk, sizeof *fr);
	unsigned i = 0;
	bm_err rc;

	assert_non_null(vals);
	assert_non_null(fr);
	rc = bm_comtrade_open(&r, cfg_path, err, sizeof err);
	if (rc != BM_OK)
		fail_msg("open %s: %s (%s)", cfg_path, err, bm_strerror(rc));
	assert_int_equal(r.cfg.rev_year, g->rev);
	assert_int_equal(r.cfg.type, g->type);
	assert_int_equal(r.cfg.n_analog, NCH);
	assert_int_equal(r.cfg.n_digital, g->n_dig);
	assert_int_equal(r.cfg.n_rates, g->n_rates);
	assert_true(r.n_records == g->n);
	assert_true(r.cfg.line_hz == 50.0);
	assert_true(r.cfg.timemult == g->timemult);
	assert_int_equal(r.cfg.start.day, 15);
	assert_int_equal(r.cfg.start.month, 1);
	assert_int_equal(r.cfg.start.year, 2024);
	assert_int_equal(r.cfg.start.hour, 10);
	assert_int_equal(r.cfg.start.sec, 30);
	assert_int_equal(r.cfg.start.nsec, 123456000);
	assert_int_equal(r.cfg.trigger.nsec, 223456000);
	assert_string_equal(r.cfg.analog[7].ccbm, "Feeder2");
	assert_int_equal(r.cfg.analog[7].ps, g->rev == 1991 ? 'P' : 'S');
	assert_int_equal(r.cfg.analog[0].kind, BM_COMTRADE_VOLTAGE);
	assert_int_equal(r.cfg.analog[9].kind, BM_COMTRADE_CURRENT);
	assert_int_equal(r.cfg.analog[11].kind, BM_COMTRADE_OTHER);
	if (g->n_rates > 0)
		assert_true(r.rate_hz == g->hz[0]);
	else
		assert_true(fabs(r.rate_hz - 1600.0) < 1e-6);

	for (;;) {
		size_t got = 0;

		rc = bm_comtrade_read(&r, vals, fr, chunk, &got, err, sizeof err);
		if (rc == BM_E_EOF)
			break;
		if (rc != BM_OK)
			fail_msg("read %s: %s", cfg_path, err);
		for (size_t k = 0; k < got; k++, i++) {
			int sec = gen_section(g, i);

			assert_true(i < g->n);
			assert_true(fr[k].sample == i + 1);
			assert_close(fr[k].t_us, ts[i] * g->timemult, "t_us", i, 0);
			assert_int_equal(fr[k].rate_index, sec);
			if (sec >= 0)
				assert_true(fr[k].rate_hz == g->hz[sec]);
			else
				assert_true(fabs(fr[k].rate_hz - 1600.0) < 1e-6);
			for (unsigned ch = 0; ch < NCH; ch++)
				assert_close(vals[k * NCH + ch], gen_expect(g, ch, i), g->base, i, ch);
		}
	}
	assert_int_equal(i, g->n);
	/* EOF is sticky and rewind starts over. */
	{
		size_t got = 1;

		assert_int_equal(bm_comtrade_read(&r, vals, fr, chunk, &got, err, sizeof err), BM_E_EOF);
		assert_int_equal(got, 0);
		assert_int_equal(bm_comtrade_rewind(&r, err, sizeof err), BM_OK);
		assert_int_equal(bm_comtrade_read(&r, vals, fr, 1, &got, err, sizeof err), BM_OK);
		assert_int_equal(got, 1);
		assert_true(fr[0].sample == 1);
		assert_close(vals[0], gen_expect(g, 0, 0), "rewind", 0, 0);
	}
	bm_comtrade_close(&r);
	bm_comtrade_close(&r); /* idempotent */
	free(ts);
	free(vals);
	free(fr);
}

static void gen_and_check(const gen *g, size_t chunk)
{
	char cfg[512];

	gen_write(g, g_dir, cfg, sizeof cfg);
	check_recording(cfg, g, chunk);
}

/* Expects `rc` and a message containing every one of the NULL-ended needles. */
static void assert_err(bm_err rc, bm_err want, const char *err, ...)
{
	va_list ap;
	const char *s;

	if (rc != want)
		fail_msg("want %s (%d), got %s (%d): %s", bm_strerror(want), want, bm_strerror(rc), rc, err);
	va_start(ap, err);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, s) == NULL) {
			va_end(ap);
			fail_msg("message \"%s\" does not contain \"%s\"", err, s);
		}
	}
	va_end(ap);
}

/* ------------------------------------------------------------- data types */

static void test_ascii_2013(void **state)
{
	gen g = FIX2013;

	(void)state;
	g.base = "ascii2013";
	g.n = 3000; /* > one 64 KiB window: exercises refills */
	g.endsamp[0] = 3000;
	gen_and_check(&g, 37);
}

static void test_binary_int16_1999(void **state)
{
	gen g = { .base = "bin16", .rev = 1999, .type = BM_COMTRADE_BINARY, .n = 4000,
	          .n_rates = 1, .hz = { 3200 }, .endsamp = { 4000 }, .missing = true,
	          .n_dig = 18, .timemult = 1, .phase_style = 1 };

	(void)state;
	gen_and_check(&g, 37);
}

static void test_binary32_2013(void **state)
{
	gen g = { .base = "bin32", .rev = 2013, .type = BM_COMTRADE_BINARY32, .n = 500,
	          .n_rates = 1, .hz = { 1600 }, .endsamp = { 500 }, .missing = true,
	          .n_dig = 3, .timemult = 1, .phase_style = 2 };

	(void)state;
	gen_and_check(&g, 64);
}

static void test_float32_2013(void **state)
{
	gen g = { .base = "flt32", .rev = 2013, .type = BM_COMTRADE_FLOAT32, .n = 300,
	          .n_rates = 1, .hz = { 1600 }, .endsamp = { 300 }, .missing = true,
	          .n_dig = 0, .timemult = 1, .phase_style = 0 };

	(void)state;
	gen_and_check(&g, 1);
}

static void test_ascii_1991_upper_case(void **state)
{
	gen g = { .base = "old1991", .rev = 1991, .type = BM_COMTRADE_ASCII, .n = 150,
	          .n_rates = 1, .hz = { 1200 }, .endsamp = { 150 }, .n_dig = 2,
	          .timemult = 1, .phase_style = 0, .upper = true, .crlf = true };

	(void)state;
	gen_and_check(&g, 1000);
}

static void test_binary_1991(void **state)
{
	gen g = { .base = "bin1991", .rev = 1991, .type = BM_COMTRADE_BINARY, .n = 100,
	          .n_rates = 1, .hz = { 1200 }, .endsamp = { 100 }, .n_dig = 1,
	          .timemult = 1 };

	(void)state;
	gen_and_check(&g, 16);
}

/* X.cfg with X.DAT beside it (files copied from a DOS-era recorder). */
static void test_dat_upper_case_fallback(void **state)
{
	gen g = { .base = "mixed", .rev = 2013, .type = BM_COMTRADE_FLOAT32, .n = 20,
	          .n_rates = 1, .hz = { 1000 }, .endsamp = { 20 }, .timemult = 1 };
	char cfg[512], lo[512], up[512];

	(void)state;
	gen_write(&g, g_dir, cfg, sizeof cfg);
	tmp_path(lo, sizeof lo, "mixed.dat");
	tmp_path(up, sizeof up, "mixed.DAT");
	assert_int_equal(rename(lo, up), 0);
	check_recording(cfg, &g, 5);
}

static void test_committed_fixtures(void **state)
{
	(void)state;
	check_recording(FIXDIR "/feeders2013.cfg", &FIX2013, 50);
	check_recording(FIXDIR "/feeders1999.cfg", &FIX1999, 7);
}

/* ------------------------------------------------------------- rates, time */

static void test_multiple_rates(void **state)
{
	gen a = { .base = "rates_ascii", .rev = 2013, .type = BM_COMTRADE_ASCII, .n = 210,
	          .n_rates = 3, .hz = { 1600, 800, 3200 }, .endsamp = { 100, 150, 210 },
	          .n_dig = 1, .timemult = 1 };
	gen b = a;

	(void)state;
	gen_and_check(&a, 13);
	b.base = "rates_bin";
	b.type = BM_COMTRADE_BINARY;
	gen_and_check(&b, 64);
}

static void test_timemult(void **state)
{
	gen g = { .base = "tmult", .rev = 2013, .type = BM_COMTRADE_BINARY, .n = 100,
	          .n_rates = 1, .hz = { 1600 }, .endsamp = { 100 }, .timemult = 2.5 };

	(void)state;
	gen_and_check(&g, 9);
}

static void test_timestamps_only(void **state)
{
	gen a = { .base = "tsonly_a", .rev = 2013, .type = BM_COMTRADE_ASCII, .n = 120,
	          .n_rates = 0, .zero_line = true, .timemult = 1 };
	gen b = { .base = "tsonly_b", .rev = 2013, .type = BM_COMTRADE_BINARY32, .n = 120,
	          .n_rates = 0, .zero_line = false, .timemult = 1 };
	gen c = { .base = "tsonly_c", .rev = 1999, .type = BM_COMTRADE_FLOAT32, .n = 90,
	          .n_rates = 0, .zero_line = true, .timemult = 5 };

	(void)state;
	gen_and_check(&a, 10);
	gen_and_check(&b, 10);
	gen_and_check(&c, 10); /* 625 µs = 125 ticks of 5 µs */
}

static void test_timestamps_nonuniform(void **state)
{
	gen a = { .base = "gap_a", .rev = 2013, .type = BM_COMTRADE_ASCII, .n = 120,
	          .n_rates = 0, .zero_line = true, .ts_gap = true, .timemult = 1 };
	gen b = a;
	char cfg[512], err[512];
	bm_comtrade_reader r;

	(void)state;
	gen_write(&a, g_dir, cfg, sizeof cfg);
	assert_err(bm_comtrade_open(&r, cfg, err, sizeof err), BM_E_FORMAT, err,
	           "gap_a.dat", "non-uniform timestamps without a sampling rate", NULL);
	b.base = "gap_b";
	b.type = BM_COMTRADE_BINARY;
	gen_write(&b, g_dir, cfg, sizeof cfg);
	assert_err(bm_comtrade_open(&r, cfg, err, sizeof err), BM_E_FORMAT, err,
	           "gap_b.dat", "non-uniform timestamps without a sampling rate", NULL);
}

static void test_nanosecond_stamps(void **state)
{
	static const char cfgtxt[] =
		"S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,2\n"
		"01/02/2024,00:00:00.123456789\n01/02/2024,00:00:00.123456789\nASCII\n1\n";
	static const char dat[] = "1,0,1\n2,1000000,2\n";
	bm_comtrade_cfg cfg;
	bm_comtrade_dec d;
	bm_comtrade_frame fr;
	double v;
	char err[256];

	(void)state;
	assert_int_equal(bm_comtrade_cfg_parse(cfgtxt, strlen(cfgtxt), "ns.cfg", &cfg, err, sizeof err), BM_OK);
	assert_int_equal(cfg.start.frac_digits, 9);
	assert_int_equal(cfg.start.nsec, 123456789);
	assert_true(cfg.ts_unit_us == 0.001);
	bm_comtrade_dec_init(&d, &cfg, "ns.dat", dat, strlen(dat));
	assert_int_equal(bm_comtrade_dec_next(&d, &fr, &v, err, sizeof err), BM_OK);
	assert_int_equal(bm_comtrade_dec_next(&d, &fr, &v, err, sizeof err), BM_OK);
	assert_true(fabs(fr.t_us - 1000.0) < 1e-9); /* 1e6 ns */
	assert_true(v == 2.0);
	assert_int_equal(bm_comtrade_dec_next(&d, &fr, &v, err, sizeof err), BM_E_EOF);
	bm_comtrade_cfg_free(&cfg);
}

/* ------------------------------------------------------------- scaling */

/* A cfg from "ph,ccbm,uu,a,b,primary,secondary,PS" rows, ASCII, 1 kHz;
 * channel i's ch_id is ids[i], or "ch<i+1>" when ids is NULL. */
static bm_err parse_rows_ids(bm_comtrade_cfg *cfg, const char *const *ids, const char *const *rows,
                             unsigned n, char *err, size_t errlen)
{
	char text[8192];
	size_t o = 0;

	o += (size_t)snprintf(text + o, sizeof text - o, "S,D,2013\n%u,%uA,0D\n", n, n);
	for (unsigned i = 0; i < n; i++) {
		char ph[32], ccbm[32], uu[16], a[32], b[32], pri[32], sec[32], ps[4];

		assert_int_equal(sscanf(rows[i], "%31[^,],%31[^,],%15[^,],%31[^,],%31[^,],%31[^,],%31[^,],%3s",
		                        ph, ccbm, uu, a, b, pri, sec, ps), 8);
		char id[32];

		if (ids != NULL)
			snprintf(id, sizeof id, "%s", ids[i]);
		else
			snprintf(id, sizeof id, "ch%u", i + 1);
		o += (size_t)snprintf(text + o, sizeof text - o, "%u,%s,%s,%s,%s,%s,%s,0,-32767,32767,%s,%s,%s\n",
		                      i + 1, id, strcmp(ph, "-") == 0 ? "" : ph,
		                      strcmp(ccbm, "-") == 0 ? "" : ccbm, strcmp(uu, "-") == 0 ? "" : uu,
		                      a, b, pri, sec, ps);
	}
	o += (size_t)snprintf(text + o, sizeof text - o,
	                      "60\n1\n1000,1\n01/01/2024,00:00:00.000000\n01/01/2024,00:00:00.000000\nASCII\n1\n");
	assert_true(o < sizeof text);
	return bm_comtrade_cfg_parse(text, o, "rows.cfg", cfg, err, errlen);
}

static bm_err parse_rows(bm_comtrade_cfg *cfg, const char *const *rows, unsigned n,
                         char *err, size_t errlen)
{
	return parse_rows_ids(cfg, NULL, rows, n, err, errlen);
}

static void test_units_and_ratio(void **state)
{
	static const char *const rows[] = {
		"A,Bus,kV,0.01,0.5,1,1,P",      /* (0.01*r + 0.5) kV */
		"B,Bus,mV,2,0,1,1,P",           /* mV -> V */
		"C,Bus,V,0.1,0,20000,100,S",    /* VT 200 */
		"A,F1,kA,0.001,0,1,1,P",        /* kA -> A */
		"B,F1,mA,10,5,1,1,p",           /* mA, lower-case p */
		"C,F1,A,0.002,0.1,600,5,s",     /* CT 120, lower-case s */
		"N,F1,A,0.002,0,600,0,S",       /* secondary 0: no ratio */
		"-,-,Hz,0.001,50,1,1,P",        /* other: value as is */
		"-,-,-,1,0,1,1,P",              /* no unit */
	};
	static const double k[] = { 10, 2e-3, 20, 1, 1e-2, 0.24, 0.002, 1e-3, 1 };
	static const double c[] = { 500, 0, 0, 0, 5e-3, 12, 0, 50, 0 };
	static const char dat[] = "1,0,100,-100,1000,7,-3,250,10,20,-5\n";
	bm_comtrade_cfg cfg;
	bm_comtrade_dec d;
	double v[9];
	const double raw[9] = { 100, -100, 1000, 7, -3, 250, 10, 20, -5 };
	char err[256];

	(void)state;
	assert_int_equal(parse_rows(&cfg, rows, 9, err, sizeof err), BM_OK);
	assert_true(cfg.line_hz == 60.0);
	for (unsigned i = 0; i < 9; i++) {
		assert_close(cfg.analog[i].k, k[i], "k", 0, i);
		assert_close(cfg.analog[i].c, c[i], "c", 0, i);
	}
	assert_int_equal(cfg.analog[4].ps, 'P');
	assert_int_equal(cfg.analog[5].ps, 'S');
	assert_int_equal(cfg.analog[7].kind, BM_COMTRADE_OTHER);
	assert_int_equal(cfg.analog[8].kind, BM_COMTRADE_OTHER);
	assert_int_equal(cfg.analog[1].kind, BM_COMTRADE_VOLTAGE);
	assert_int_equal(cfg.analog[3].kind, BM_COMTRADE_CURRENT);
	bm_comtrade_dec_init(&d, &cfg, "rows.dat", dat, strlen(dat));
	assert_int_equal(bm_comtrade_dec_next(&d, NULL, v, err, sizeof err), BM_OK);
	for (unsigned i = 0; i < 9; i++)
		assert_close(v[i], k[i] * raw[i] + c[i], "value", 0, i);
	/* Written out: 0.01*100+0.5 = 1.5 kV = 1500 V; 0.002*250+0.1 = 0.6 A sec = 72 A. */
	assert_close(v[0], 1500.0, "kV", 0, 0);
	assert_close(v[5], 72.0, "CT", 0, 5);
	assert_int_equal(bm_comtrade_dec_next(&d, NULL, v, err, sizeof err), BM_E_EOF);
	bm_comtrade_cfg_free(&cfg);
}

static void test_missing_values_memory(void **state)
{
	static const char *const rows[] = { "A,B,V,1,0,1,1,P", "A,F,A,1,0,1,1,P" };
	bm_comtrade_cfg cfg;
	bm_comtrade_dec d;
	bm_comtrade_frame fr;
	uint8_t rec[12];
	double v[2];
	char err[256];

	(void)state;
	assert_int_equal(parse_rows(&cfg, rows, 2, err, sizeof err), BM_OK);
	/* ASCII: empty fields, also an empty timestamp (allowed with a rate). */
	{
		static const char dat[] = " 1 , , 5 ,  \n";

		bm_comtrade_dec_init(&d, &cfg, "m.dat", dat, strlen(dat));
		assert_int_equal(bm_comtrade_dec_next(&d, &fr, v, err, sizeof err), BM_OK);
		assert_true(isnan(fr.t_us));
		assert_true(v[0] == 5.0);
		assert_true(isnan(v[1]));
	}
	/* int16: 0x8000 is missing; 0xFFFF is -1, a real value. */
	cfg.type = BM_COMTRADE_BINARY;
	memcpy(rec, "\x01\0\0\0\xff\xff\xff\xff\x00\x80\xff\xff", 12);
	bm_comtrade_dec_init(&d, &cfg, "m.dat", rec, 12);
	assert_int_equal(bm_comtrade_dec_next(&d, &fr, v, err, sizeof err), BM_OK);
	assert_true(isnan(fr.t_us));
	assert_true(isnan(v[0]));
	assert_true(v[1] == -1.0);
	bm_comtrade_cfg_free(&cfg);
}

/* ------------------------------------------------------------- mapping */

static void test_phase_parse(void **state)
{
	static const struct {
		const char *s;
		int ph;
	} cases[] = {
		{ "A", 0 }, { "b", 1 }, { "C", 2 }, { "N", 3 }, { "L1", 0 }, { "l2", 1 },
		{ "L3", 2 }, { "R", 0 }, { "S", 1 }, { "T", 2 }, { "1", 0 }, { "2", 1 },
		{ "3", 2 }, { "AN", 0 }, { "A-N", 0 }, { "phase A", 0 }, { "Phase c", 2 },
		{ "L1-N", 0 }, { "ph B", 1 }, { " n ", 3 }, { "AB", -1 }, { "", -1 },
		{ "X", -1 }, { "4", -1 }, { "L4", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (bm_comtrade_phase_parse(cases[i].s) != cases[i].ph)
			fail_msg("phase \"%s\": want %d, got %d", cases[i].s, cases[i].ph,
			         bm_comtrade_phase_parse(cases[i].s));
	}
	assert_int_equal(bm_comtrade_phase_parse(NULL), -1);
}

static void test_map_auto_two_circuits(void **state)
{
	char cfgp[512], err[512];
	bm_comtrade_reader r;
	bm_comtrade_map m;
	gen g = FIX2013;

	(void)state;
	for (int style = 0; style < 3; style++) {
		g.base = style == 0 ? "map0" : style == 1 ? "map1" : "map2";
		g.phase_style = style;
		gen_write(&g, g_dir, cfgp, sizeof cfgp);
		assert_int_equal(bm_comtrade_open(&r, cfgp, err, sizeof err), BM_OK);
		assert_int_equal(bm_comtrade_map_build(&r.cfg, NULL, &m, err, sizeof err), BM_OK);
		assert_int_equal(m.n_circuits, 2);
		assert_string_equal(m.name[0], "Feeder1");
		assert_string_equal(m.name[1], "Feeder2");
		assert_int_equal(m.wiring[0], BM_WIRING_3P4W_4CT);
		assert_int_equal(m.wiring[1], BM_WIRING_3P4W_4CT);
		for (int ch = 0; ch < 11; ch++)
			assert_int_equal(m.src[ch], ch); /* generator order = meter order */
		for (int ch = 11; ch < BM_MAX_CH; ch++)
			assert_int_equal(m.src[ch], -1);
		/* The same through an empty override. */
		assert_int_equal(bm_comtrade_map_build(&r.cfg, "", &m, err, sizeof err), BM_OK);
		assert_int_equal(m.n_circuits, 2);
		bm_comtrade_close(&r);
	}
}

static void test_map_auto_wiring(void **state)
{
	static const struct {
		const char *rows[6];
		unsigned n;
		bm_err rc;
		bm_wiring w;
		const char *msg;
	} cases[] = {
		{ { "A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P" }, 3, BM_OK, BM_WIRING_3P4W_3CT, NULL },
		{ { "A,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P" }, 2, BM_OK, BM_WIRING_3P3W_2CT, NULL },
		{ { "L1,F1,A,1,0,1,1,P", "L2,F1,A,1,0,1,1,P" }, 2, BM_OK, BM_WIRING_1P3W, NULL },
		{ { "A,F1,kA,1,0,1,1,P", "A,Bus,V,1,0,1,1,P" }, 2, BM_OK, BM_WIRING_1P2W, NULL },
		{ { "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P" }, 2, BM_E_UNSUPPORTED, 0, "circuit C1 (\"F1\")" },
		{ { "A,F1,A,1,0,1,1,P", "N,F1,A,1,0,1,1,P" }, 2, BM_E_UNSUPPORTED, 0, "I1 In" },
		{ { "A,F1,A,1,0,1,1,P", "A,F1,A,1,0,1,1,P" }, 2, BM_E_UNSUPPORTED, 0, "channels 1 and 2 both look like C1.I1" },
		{ { "A,Bus,V,1,0,1,1,P", "AN,Bus2,kV,1,0,1,1,P" }, 2, BM_E_UNSUPPORTED, 0, "both look like U1" },
		{ { "-,x,Hz,1,0,1,1,P", "AB,Bus,V,1,0,1,1,P" }, 2, BM_E_UNSUPPORTED, 0, "use --map" },
		{ { "A,F1,A,1,0,1,1,P", "A,F2,A,1,0,1,1,P", "A,F3,A,1,0,1,1,P", "A,F4,A,1,0,1,1,P",
		    "A,F5,A,1,0,1,1,P" }, 5, BM_E_UNSUPPORTED, 0, "more than 4 circuits" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bm_comtrade_cfg cfg;
		bm_comtrade_map m;
		char err[512] = "";
		bm_err rc;

		assert_int_equal(parse_rows(&cfg, cases[i].rows, cases[i].n, err, sizeof err), BM_OK);
		rc = bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err);
		if (cases[i].rc == BM_OK) {
			if (rc != BM_OK)
				fail_msg("case %zu: %s", i, err);
			assert_int_equal(m.wiring[0], cases[i].w);
		} else {
			assert_err(rc, cases[i].rc, err, cases[i].msg, NULL);
			assert_int_equal(m.n_circuits, 0);
		}
		bm_comtrade_cfg_free(&cfg);
	}
}

static void test_map_override(void **state)
{
	static const char *const rows[] = {
		"A,Bus,V,1,0,1,1,P", "B,Bus,V,1,0,1,1,P", "C,Bus,V,1,0,1,1,P",
		"A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P",
		"A,F2,A,1,0,1,1,P", "-,-,Hz,1,0,1,1,P",
	};
	static const struct {
		const char *map;
		const char *msg;
	} bad[] = {
		{ "U1", "expected TARGET=N" },
		{ "U1=1,,U2=2", "item 2 is empty" },
		{ "X1=1", "unknown target \"X1\"" },
		{ "C5.I1=4", "unknown target \"C5.I1\"" },
		{ "C1.I4=4", "unknown target" },
		{ "U1=0", "channel must be 1..8" },
		{ "U1=9", "channel must be 1..8" },
		{ "U1=one", "channel must be 1..8" },
		{ "U1=1,u1=2", "U1 given twice" },
		{ "U1=1,U2=1", "analog channel 1 mapped twice (U1 and U2)" },
		{ "U1=4", "is a current" },
		{ "C1.I1=1", "is a voltage" },
		{ "C1.I2=5", "circuit C1 (\"F1\")" },
		{ "C2.I1=7", "circuit C1 (\"C1\")" }, /* C1 left empty */
	};
	static const char *const good = " U1=1, U2=2 ,U3=3,C1.I1=4,C1.I2=5,C1.I3=6,c2.i1=7,C2.I2=8 ";
	bm_comtrade_cfg cfg;
	bm_comtrade_map m;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_rows(&cfg, rows, 8, err, sizeof err), BM_OK);
	/* "Hz" is "other": allowed on any target when the user says so. */
	if (bm_comtrade_map_build(&cfg, good, &m, err, sizeof err) != BM_OK)
		fail_msg("%s", err);
	assert_int_equal(m.n_circuits, 2);
	assert_int_equal(m.src[0], 0);
	assert_int_equal(m.src[2], 2);
	assert_int_equal(m.src[bm_ch_current(0, 2)], 5);
	assert_int_equal(m.src[bm_ch_current(1, 0)], 6);
	assert_int_equal(m.src[bm_ch_current(1, 1)], 7);
	assert_int_equal(m.src[bm_ch_current(1, 3)], -1);
	assert_int_equal(m.wiring[0], BM_WIRING_3P4W_3CT);
	assert_int_equal(m.wiring[1], BM_WIRING_1P3W);
	assert_string_equal(m.name[0], "F1");
	assert_string_equal(m.name[1], "F2");
	/* Auto on the same cfg: F2 has I1 only -> 1P2W. */
	assert_int_equal(bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err), BM_OK);
	assert_int_equal(m.wiring[1], BM_WIRING_1P2W);
	/* A subset: swap phases, one circuit. */
	assert_int_equal(bm_comtrade_map_build(&cfg, "U1=2,U2=1,C1.I1=6,C1.I3=4", &m, err, sizeof err), BM_OK);
	assert_int_equal(m.src[0], 1);
	assert_int_equal(m.src[1], 0);
	assert_int_equal(m.src[2], -1);
	assert_int_equal(m.n_circuits, 1);
	assert_int_equal(m.wiring[0], BM_WIRING_3P3W_2CT);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bm_err rc = bm_comtrade_map_build(&cfg, bad[i].map, &m, err, sizeof err);

		assert_err(rc, BM_E_INVAL, err, bad[i].msg, NULL);
		assert_int_equal(m.n_circuits, 0);
		assert_int_equal(m.src[0], -1);
	}
	{
		char longmap[5000];

		memset(longmap, 'U', sizeof longmap - 1);
		longmap[sizeof longmap - 1] = '\0';
		assert_err(bm_comtrade_map_build(&cfg, longmap, &m, err, sizeof err), BM_E_INVAL, err,
		           "longer than", NULL);
	}
	bm_comtrade_cfg_free(&cfg);
}

static void test_map_frame(void **state)
{
	bm_comtrade_map m;
	const double row[4] = { 230.5, NAN, 5.25, -1.5 };
	float frame[BM_MAX_CH + 2];

	(void)state;
	memset(&m, 0, sizeof m);
	for (int i = 0; i < BM_MAX_CH; i++)
		m.src[i] = -1;
	m.src[0] = 0;
	m.src[1] = 1;
	m.src[bm_ch_current(0, 0)] = 2;
	m.src[bm_ch_current(0, 3)] = 3;
	m.src[bm_ch_current(1, 0)] = 7; /* beyond the row: treated as unmapped */
	for (size_t i = 0; i < sizeof frame / sizeof frame[0]; i++)
		frame[i] = 99.0f;
	assert_int_equal(bm_comtrade_map_frame(&m, row, 4, frame, BM_MAX_CH + 2), 1);
	assert_true(frame[0] == 230.5f);
	assert_true(frame[1] == 0.0f); /* missing -> 0, counted */
	assert_true(frame[2] == 0.0f);
	assert_true(frame[3] == 5.25f);
	assert_true(frame[6] == -1.5f);
	assert_true(frame[7] == 0.0f);
	assert_true(frame[BM_MAX_CH + 1] == 0.0f);
	/* A short stride writes only that much. */
	frame[3] = 99.0f;
	assert_int_equal(bm_comtrade_map_frame(&m, row, 4, frame, 3), 1);
	assert_true(frame[3] == 99.0f);
}

/* ------------------------------------------- temperature, residual current */

static void test_temperature_units(void **state)
{
	static const char *const rows[] = {
		"-,F1,C,1,0,1,1,P", "-,F1,degC,1,0,1,1,P", "-,F1,deg C,1,0,1,1,P",
		"-,F1,\xC2\xB0" "C,1,0,1,1,P", "-,F1,\xB0" "C,1,0,1,1,P", "-,F1,Cel,1,0,1,1,P",
		"-,F1,DEGC,0.1,-40,1,1,P",
		/* not temperatures (in degC) */
		"-,F1,K,1,0,1,1,P", "-,F1,degF,1,0,1,1,P", "-,F1,CC,1,0,1,1,P", "-,F1,Ce,1,0,1,1,P",
	};
	bm_comtrade_cfg cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse_rows(&cfg, rows, 11, err, sizeof err), BM_OK);
	for (unsigned i = 0; i < 7; i++) {
		if (cfg.analog[i].kind != BM_COMTRADE_TEMPERATURE)
			fail_msg("unit \"%s\" is not a temperature", cfg.analog[i].unit);
	}
	for (unsigned i = 7; i < 11; i++) {
		if (cfg.analog[i].kind != BM_COMTRADE_OTHER)
			fail_msg("unit \"%s\" should be other", cfg.analog[i].unit);
	}
	/* a temperature keeps its value: a*raw + b, no unit factor */
	assert_close(cfg.analog[6].k, 0.1, "k", 0, 6);
	assert_close(cfg.analog[6].c, -40, "c", 0, 6);
	bm_comtrade_cfg_free(&cfg);
}

static void test_map_aux_auto(void **state)
{
	static const char *const ids[] = {
		"VA", "VB", "VC",
		"F1 IA", "F1 IB", "F1 IC", "F1 IRES", "F1 TEMP",
		"F2 IA", "F2 IB", "F2 IC", "F2 IN", "F2 3I0", "Bus temp", "Bus Ires",
	};
	static const char *const rows[] = {
		"A,Bus,kV,1,0,1,1,P", "B,Bus,kV,1,0,1,1,P", "C,Bus,kV,1,0,1,1,P",
		"A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P",
		"N,F1,mA,1,0,1,1,P", /* IRES: residual, although its ph is N */
		"-,F1,degC,1,0,1,1,P",
		"A,F2,A,1,0,1,1,P", "B,F2,A,1,0,1,1,P", "C,F2,A,1,0,1,1,P", "N,F2,A,1,0,1,1,P",
		"-,F2,A,1,0,1,1,P",  /* 3I0 */
		"-,Bus,C,1,0,1,1,P", /* no circuit "Bus": ignored */
		"N,Bus,A,1,0,1,1,P", /* likewise */
	};
	bm_comtrade_cfg cfg;
	bm_comtrade_map m;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_rows_ids(&cfg, ids, rows, 15, err, sizeof err), BM_OK);
	if (bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err) != BM_OK)
		fail_msg("%s", err);
	assert_int_equal(m.n_circuits, 2);
	assert_int_equal(m.wiring[0], BM_WIRING_3P4W_3CT); /* IRES is not In */
	assert_int_equal(m.wiring[1], BM_WIRING_3P4W_4CT);
	assert_int_equal(m.src[bm_ch_current(0, 3)], -1);
	assert_int_equal(m.src[bm_ch_current(1, 3)], 11);
	assert_int_equal(m.res_src[0], 6);
	assert_int_equal(m.temp_src[0], 7);
	assert_int_equal(m.res_src[1], 12);
	assert_int_equal(m.temp_src[1], -1);
	for (unsigned c = 2; c < BM_MAX_CIRCUITS; c++) {
		assert_int_equal(m.temp_src[c], -1);
		assert_int_equal(m.res_src[c], -1);
	}
	/* No frame channel takes a temperature or residual channel. */
	for (int ch = 0; ch < BM_MAX_CH; ch++)
		assert_true(m.src[ch] != 6 && m.src[ch] != 7 && m.src[ch] != 12 && m.src[ch] != 13 && m.src[ch] != 14);
	bm_comtrade_cfg_free(&cfg);
}

/* Each residual rule on its own, and R as a phase name. */
static void test_map_aux_residual_rules(void **state)
{
	static const struct {
		const char *ids[5];
		const char *rows[5];
		unsigned n;
		int res;      /* expected res_src[0] */
		bm_wiring w;  /* expected wiring of C1 */
	} cases[] = {
		/* by ch_id: RES, IRES, I0, 3I0, case-insensitive, whatever the ph */
		{ { "a", "b", "c", "Ires" }, { "A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P", "A,F1,mA,1,0,1,1,P" },
		  4, 3, BM_WIRING_3P4W_3CT },
		{ { "a", "b", "c", "res" }, { "A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P", "-,F1,A,1,0,1,1,P" },
		  4, 3, BM_WIRING_3P4W_3CT },
		{ { "a", "b", "c", "i0" }, { "A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P", "N,F1,A,1,0,1,1,P" },
		  4, 3, BM_WIRING_3P4W_3CT },
		{ { "a", "b", "c", "3I0 earth" }, { "A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P", "-,F1,kA,1,0,1,1,P" },
		  4, 3, BM_WIRING_3P4W_3CT },
		/* by ph: N0, 0 */
		{ { "a", "x" }, { "A,F1,A,1,0,1,1,P", "N0,F1,A,1,0,1,1,P" }, 2, 1, BM_WIRING_1P2W },
		{ { "a", "x" }, { "A,F1,A,1,0,1,1,P", "n-0,F1,A,1,0,1,1,P" }, 2, 1, BM_WIRING_1P2W },
		{ { "a", "x" }, { "A,F1,A,1,0,1,1,P", "0,F1,A,1,0,1,1,P" }, 2, 1, BM_WIRING_1P2W },
		/* ph R: residual beside A/B/C ... */
		{ { "a", "b", "c", "x" }, { "A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P", "R,F1,A,1,0,1,1,P" },
		  4, 3, BM_WIRING_3P4W_3CT },
		/* ... even when another ccbm names its phases R/S/T */
		{ { "a", "x", "r2", "s2", "t2" }, { "A,F1,A,1,0,1,1,P", "r,F1,A,1,0,1,1,P", "R,F2,A,1,0,1,1,P", "S,F2,A,1,0,1,1,P",
		  "T,F2,A,1,0,1,1,P" }, 5, 1, BM_WIRING_1P2W },
		/* ... but phase 1 when its ccbm has S or T: R/S/T naming */
		{ { "r", "s", "t" }, { "R,F1,A,1,0,1,1,P", "S,F1,A,1,0,1,1,P", "T,F1,A,1,0,1,1,P" }, 3, -1, BM_WIRING_3P4W_3CT },
		{ { "r", "t" }, { "R,F1,A,1,0,1,1,P", "T,F1,A,1,0,1,1,P" }, 2, -1, BM_WIRING_3P3W_2CT },
		/* not residual: N is the neutral, a voltage is never one */
		{ { "a", "n" }, { "A,F1,A,1,0,1,1,P", "N,F1,A,1,0,1,1,P" }, 2, -1, 0 },
		{ { "a", "Vres" }, { "A,F1,A,1,0,1,1,P", "N0,F1,V,1,0,1,1,P" }, 2, -1, BM_WIRING_1P2W },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bm_comtrade_cfg cfg;
		bm_comtrade_map m;
		char err[512] = "";
		bm_err rc;

		assert_int_equal(parse_rows_ids(&cfg, cases[i].ids, cases[i].rows, cases[i].n, err, sizeof err), BM_OK);
		rc = bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err);
		if (i == 11) {
			/* A + N: In without I2, I3 fits no wiring (as before) */
			assert_err(rc, BM_E_UNSUPPORTED, err, "I1 In", NULL);
		} else {
			if (rc != BM_OK)
				fail_msg("case %zu: %s", i, err);
			if (m.res_src[0] != cases[i].res)
				fail_msg("case %zu: res_src[0] = %d, want %d", i, m.res_src[0], cases[i].res);
			if (m.wiring[0] != cases[i].w)
				fail_msg("case %zu: wiring %d, want %d", i, m.wiring[0], cases[i].w);
			assert_int_equal(m.temp_src[0], -1);
		}
		bm_comtrade_cfg_free(&cfg);
	}
}

static void test_map_aux_auto_errors(void **state)
{
	static const struct {
		const char *ids[4];
		const char *rows[4];
		unsigned n;
		const char *msg;
	} cases[] = {
		{ { "ia", "t1", "t2" }, { "A,F1,A,1,0,1,1,P", "-,F1,C,1,0,1,1,P", "-,F1,degC,1,0,1,1,P" }, 3,
		  "analog channels 2 and 3 both look like C1.T (the temperature of ccbm \"F1\"); use --map" },
		{ { "ia", "IRES", "3I0" }, { "A,F1,A,1,0,1,1,P", "-,F1,mA,1,0,1,1,P", "-,F1,A,1,0,1,1,P" }, 3,
		  "analog channels 2 and 3 both look like C1.R (the residual current of ccbm \"F1\"); use --map" },
		/* a temperature and a residual current alone are not a recording */
		{ { "IRES", "t" }, { "-,F1,mA,1,0,1,1,P", "-,F1,C,1,0,1,1,P" }, 2, "no analog channel is a voltage or current" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bm_comtrade_cfg cfg;
		bm_comtrade_map m;
		char err[512] = "";

		assert_int_equal(parse_rows_ids(&cfg, cases[i].ids, cases[i].rows, cases[i].n, err, sizeof err), BM_OK);
		assert_err(bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err), BM_E_UNSUPPORTED, err, cases[i].msg, NULL);
		assert_int_equal(m.n_circuits, 0);
		for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
			assert_true(m.temp_src[c] == -1 && m.res_src[c] == -1);
		bm_comtrade_cfg_free(&cfg);
	}
}

static void test_map_aux_override(void **state)
{
	static const char *const rows[] = {
		"A,Bus,V,1,0,1,1,P", "B,Bus,V,1,0,1,1,P", "C,Bus,V,1,0,1,1,P",
		"A,F1,A,1,0,1,1,P", "B,F1,A,1,0,1,1,P", "C,F1,A,1,0,1,1,P",
		"A,F2,A,1,0,1,1,P", "-,-,Hz,1,0,1,1,P",
		"-,F1,degC,1,0,1,1,P",   /* 9 */
		"-,F2,mA,1,0,1,1,P",     /* 10 */
		"-,F2,Cel,1,0,1,1,P",    /* 11 */
	};
	static const struct {
		const char *map;
		const char *msg;
	} bad[] = {
		{ "C1.I1=4,C1.T=4", "analog channel 4 mapped twice (C1.I1 and C1.T)" },
		{ "C1.I1=4,C1.T=5", "--map: C1.T=5: analog channel 5 \"ch5\" has unit \"A\", not a temperature (C, degC" },
		{ "C1.I1=4,C1.T=8", "C1.T=8: analog channel 8 \"ch8\" has unit \"Hz\", not a temperature" },
		{ "C1.I1=4,C1.R=1", "--map: C1.R=1: analog channel 1 \"ch1\" has unit \"V\", not a current (A, mA, kA)" },
		{ "C1.I1=4,C1.R=9", "C1.R=9: analog channel 9 \"ch9\" has unit \"degC\", not a current" },
		{ "C1.I1=4,C1.R=8", "has unit \"Hz\", not a current" },
		{ "C1.I1=4,C1.T=9,c1.t=11", "C1.T given twice" },
		{ "C1.I1=4,C1.R=10,C1.r=5", "C1.R given twice" },
		{ "C1.I1=4,C1.T=9,C2.T=9", "analog channel 9 mapped twice (C1.T and C2.T)" },
		{ "C1.I1=4,C1.R=10,C2.I1=10", "analog channel 10 mapped twice (C1.R and C2.I1)" },
		{ "U1=9", "U1=9: analog channel 9 \"ch9\" is a temperature (unit \"degC\"), not a voltage" },
		{ "C1.I1=11", "C1.I1=11: analog channel 11 \"ch11\" is a temperature (unit \"Cel\"), not a current" },
		{ "C1.I1=4,C2.T=9", "--map: C2.T=9: circuit C2 has no current input (map C2.I1.. too)" },
		{ "C1.I1=4,C4.R=10", "C4.R=10: circuit C4 has no current input" },
		{ "C5.T=9", "unknown target \"C5.T\"" },
		{ "C1.X=9", "unknown target \"C1.X\"" },
		{ "C1.TT=9", "unknown target \"C1.TT\"" },
		{ "C1.T=12", "channel must be 1..11" },
	};
	static const char *const good = "U1=1,U2=2,U3=3,C1.I1=4,C1.I2=5,C1.I3=6, c1.t=9 ,C2.I1=7,C2.R=10,C2.T=11,C1.R=8";
	bm_comtrade_cfg cfg;
	bm_comtrade_map m;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_rows(&cfg, rows, 11, err, sizeof err), BM_OK);
	/* C1.R=8: "Hz" is not a current: refused (only U/I targets take "other"). */
	assert_err(bm_comtrade_map_build(&cfg, good, &m, err, sizeof err), BM_E_INVAL, err, "C1.R=8", NULL);
	if (bm_comtrade_map_build(&cfg, "U1=1,U2=2,U3=3,C1.I1=4,C1.I2=5,C1.I3=6, c1.t=9 ,C2.I1=7,C2.R=10,C2.T=11",
	                          &m, err, sizeof err) != BM_OK)
		fail_msg("%s", err);
	assert_int_equal(m.n_circuits, 2); /* T and R targets do not add circuits */
	assert_int_equal(m.temp_src[0], 8);
	assert_int_equal(m.res_src[0], -1);
	assert_int_equal(m.res_src[1], 9);
	assert_int_equal(m.temp_src[1], 10); /* the user may give a circuit both */
	assert_int_equal(m.wiring[0], BM_WIRING_3P4W_3CT);
	assert_int_equal(m.wiring[1], BM_WIRING_1P2W);
	for (unsigned c = 2; c < BM_MAX_CIRCUITS; c++)
		assert_true(m.temp_src[c] == -1 && m.res_src[c] == -1);
	/* Without T/R targets: none, even where the automatic rule would find one. */
	assert_int_equal(bm_comtrade_map_build(&cfg, "C1.I1=4", &m, err, sizeof err), BM_OK);
	assert_int_equal(m.temp_src[0], -1);
	/* Automatic on the same cfg: F1's degC channel; F2's mA channel "ch10"
	 * has no residual name or phase, so it is nothing. */
	assert_int_equal(bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err), BM_OK);
	assert_int_equal(m.temp_src[0], 8);
	assert_int_equal(m.temp_src[1], 10);
	assert_int_equal(m.res_src[1], -1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bm_err rc = bm_comtrade_map_build(&cfg, bad[i].map, &m, err, sizeof err);

		assert_err(rc, BM_E_INVAL, err, bad[i].msg, NULL);
		assert_int_equal(m.n_circuits, 0);
		for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
			assert_true(m.temp_src[c] == -1 && m.res_src[c] == -1);
	}
	bm_comtrade_cfg_free(&cfg);
}

/* Values: temperature as is, residual current in mA, from decoded rows. */
static void test_map_aux_values(void **state)
{
	static const char *const ids[] = { "IA", "IRES", "T", "IB", "IRES2", "T2" };
	static const char *const rows[] = {
		"A,F1,A,1,0,1,1,P",
		"N,F1,mA,0.5,0,1,1,P",     /* raw 80 -> 40 mA */
		"-,F1,degC,0.1,-40,1,1,P", /* raw 1125 -> 72.5 degC */
		"A,F2,A,1,0,1,1,P",
		"-,F2,A,0.001,0,200,1,S",  /* raw 30 -> 0.03 A secondary x 200 = 6 A = 6000 mA */
		"-,F2,C,1,0,1,1,P",
	};
	static const char dat[] = "1,0,10,80,1125,3,30,\n"; /* F2's temperature missing */
	bm_comtrade_cfg cfg;
	bm_comtrade_dec d;
	bm_comtrade_map m;
	double v[6], temp[BM_MAX_CIRCUITS], res[BM_MAX_CIRCUITS];
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_rows_ids(&cfg, ids, rows, 6, err, sizeof err), BM_OK);
	assert_int_equal(bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err), BM_OK);
	assert_int_equal(m.n_circuits, 2);
	bm_comtrade_dec_init(&d, &cfg, "v.dat", dat, strlen(dat));
	assert_int_equal(bm_comtrade_dec_next(&d, NULL, v, err, sizeof err), BM_OK);
	bm_comtrade_map_aux(&m, v, 6, temp, res);
	assert_close(res[0], 40.0, "residual mA", 0, 1);
	assert_close(temp[0], 72.5, "temperature", 0, 2);
	assert_close(res[1], 6000.0, "residual mA, secondary ratio", 0, 4);
	assert_true(isnan(temp[1])); /* missing value */
	for (unsigned c = 2; c < BM_MAX_CIRCUITS; c++)
		assert_true(isnan(temp[c]) && isnan(res[c]));
	/* a row shorter than the mapping: unmapped */
	bm_comtrade_map_aux(&m, v, 2, temp, res);
	assert_close(res[0], 40.0, "residual mA", 0, 1);
	assert_true(isnan(temp[0]) && isnan(res[1]));
	/* no row at all */
	bm_comtrade_map_aux(&m, NULL, 6, temp, res);
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		assert_true(isnan(temp[c]) && isnan(res[c]));
	/* circuits beyond n_circuits are never read, whatever their sources say */
	m.n_circuits = 1;
	bm_comtrade_map_aux(&m, v, 6, temp, res);
	assert_true(isnan(temp[1]) && isnan(res[1]));
	assert_close(temp[0], 72.5, "temperature", 0, 2);
	/* the frame is unchanged by the auxiliary channels */
	{
		float frame[BM_MAX_CH];

		assert_int_equal(bm_comtrade_map_frame(&m, v, 6, frame, BM_MAX_CH), 0);
		assert_true(frame[bm_ch_current(0, 0)] == 10.0f);
		assert_true(frame[bm_ch_current(0, 3)] == 0.0f);
	}
	bm_comtrade_cfg_free(&cfg);
}

/* ------------------------------------------------------------- bad input */

static void open_expect(const char *name, bm_err want, const char *needle1, const char *needle2)
{
	char path[512], err[512] = "";
	bm_comtrade_reader r;
	bm_err rc;

	snprintf(path, sizeof path, "%s/bad/%s", FIXDIR, name);
	rc = bm_comtrade_open(&r, path, err, sizeof err);
	assert_err(rc, want, err, needle1, needle2, NULL);
	/* The reader is left closed and zeroed. */
	assert_null(r.cfg.analog);
	assert_null(r.dec.fp);
	bm_comtrade_close(&r);
}

static void test_bad_cfg_files(void **state)
{
	(void)state;
	open_expect("truncated.cfg", BM_E_FORMAT, "truncated.cfg:12:", "unexpected end of file");
	open_expect("wrong_count.cfg", BM_E_FORMAT, "wrong_count.cfg:2:", "wrong channel count");
	open_expect("short_channels.cfg", BM_E_FORMAT, "short_channels.cfg:10:", "analog channel 8");
	open_expect("nonnumeric.cfg", BM_E_FORMAT, "nonnumeric.cfg:5:", "multiplier a \"0.01x\" is not a number");
	open_expect("nonnumeric_rate.cfg", BM_E_FORMAT, "nonnumeric_rate.cfg:12:", "samp \"1600Hz\"");
	open_expect("too_many_channels.cfg", BM_E_UNSUPPORTED, "too_many_channels.cfg:2:", "too many channels");
	open_expect("bad_type.cfg", BM_E_FORMAT, "bad_type.cfg:15:", "unknown data file type \"BINARY64\"");
	open_expect("long_line.cfg", BM_E_FORMAT, "long_line.cfg:4:", "line too long");
	open_expect("bad_rev.cfg", BM_E_UNSUPPORTED, "bad_rev.cfg:1:", "revision year 2035");
	open_expect("bad_ps.cfg", BM_E_FORMAT, "bad_ps.cfg:6:", "PS flag");
	open_expect("extra_line.cfg", BM_E_FORMAT, "extra_line.cfg:19:", "unexpected text");
	open_expect("missing_dat.cfg", BM_E_NOTFOUND, "missing_dat.cfg", "missing_dat.dat");
}

static void test_bad_paths(void **state)
{
	char err[512] = "";
	bm_comtrade_reader r;

	(void)state;
	assert_err(bm_comtrade_open(&r, FIXDIR "/bad/nothere.cfg", err, sizeof err), BM_E_NOTFOUND, err,
	           "nothere.cfg", NULL);
	assert_err(bm_comtrade_open(&r, FIXDIR "/bad/x.cff", err, sizeof err), BM_E_UNSUPPORTED, err,
	           "x.cff", NULL);
	assert_err(bm_comtrade_open(&r, FIXDIR "/bad/x.txt", err, sizeof err), BM_E_INVAL, err, "x.txt", NULL);
	assert_int_equal(bm_comtrade_open(NULL, "x.cfg", err, sizeof err), BM_E_INVAL);
	assert_int_equal(bm_comtrade_open(&r, NULL, NULL, 0), BM_E_INVAL);
}

static void test_bad_ascii_dat(void **state)
{
	char path[512], err[512] = "";
	bm_comtrade_reader r;
	double v[7 * 8];
	size_t got = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/bad/bad_ascii.cfg", FIXDIR);
	assert_int_equal(bm_comtrade_open(&r, path, err, sizeof err), BM_OK);
	/* The first record is good and is delivered before the error. */
	assert_err(bm_comtrade_read(&r, v, NULL, 8, &got, err, sizeof err), BM_E_FORMAT, err,
	           "bad_ascii.dat:line 2 (record 2)", "analog channel 3 value \"3x0\"", NULL);
	assert_int_equal(got, 1);
	assert_true(fabs(v[0] - 1.0) < 1e-12);
	/* A failed decoder stays failed. */
	assert_err(bm_comtrade_read(&r, v, NULL, 8, &got, err, sizeof err), BM_E_FORMAT, err,
	           "stopped", NULL);
	bm_comtrade_close(&r);
}

static void test_truncated_binary(void **state)
{
	gen g = { .base = "trunc", .rev = 2013, .type = BM_COMTRADE_BINARY, .n = 50,
	          .n_rates = 1, .hz = { 1600 }, .endsamp = { 50 }, .n_dig = 1, .timemult = 1 };
	char cfg[512], dat[512], err[512];
	bm_comtrade_reader r;
	size_t rs = 8 + 2 * NCH + 2;

	(void)state;
	gen_write(&g, g_dir, cfg, sizeof cfg);
	tmp_path(dat, sizeof dat, "trunc.dat");
	/* Cut the last record short: partial record. */
	assert_int_equal(truncate(dat, (off_t)(50 * rs - 3)), 0);
	assert_err(bm_comtrade_open(&r, cfg, err, sizeof err), BM_E_FORMAT, err,
	           "trunc.dat", "record 50 at byte offset 1666", "truncated", NULL);
	/* Whole records, but fewer than declared. */
	assert_int_equal(truncate(dat, (off_t)(40 * rs)), 0);
	assert_err(bm_comtrade_open(&r, cfg, err, sizeof err), BM_E_FORMAT, err,
	           "trunc.dat", "holds 40 records", "declares 50", NULL);

	/* The memory decoder reports the same with the byte offset. */
	{
		bm_comtrade_cfg c;
		bm_comtrade_dec d;
		uint8_t *buf = calloc(1, 3 * rs);
		FILE *f = fopen(dat, "rb");
		uint64_t n = 0;

		assert_non_null(buf);
		assert_non_null(f);
		assert_int_equal(fread(buf, 1, 3 * rs, f), 3 * rs);
		fclose(f);
		{
			FILE *cf = fopen(cfg, "rb");
			char text[4096];
			size_t tl;

			assert_non_null(cf);
			tl = fread(text, 1, sizeof text, cf);
			fclose(cf);
			assert_int_equal(bm_comtrade_cfg_parse(text, tl, cfg, &c, err, sizeof err), BM_OK);
		}
		bm_comtrade_dec_init(&d, &c, "mem.dat", buf, 3 * rs - 1);
		assert_err(bm_comtrade_dec_scan(&d, &n, NULL, err, sizeof err), BM_E_FORMAT, err,
		           "mem.dat: record 3 at byte offset 68", "truncated: 33 of 34 bytes", NULL);
		bm_comtrade_dec_init(&d, &c, "mem.dat", buf, 3 * rs);
		assert_err(bm_comtrade_dec_scan(&d, &n, NULL, err, sizeof err), BM_E_FORMAT, err,
		           "mem.dat", "ends after 3 records", "declares 50", NULL);
		free(buf);
		bm_comtrade_cfg_free(&c);
	}
}

static void test_ascii_dat_errors(void **state)
{
	static const char *const rows[] = { "A,B,kV,1,0,1,1,P", "A,F,A,1,0,1,1,P" };
	static const struct {
		const char *dat;
		const char *msg;
	} cases[] = {
		{ "1,0,1,2\n2,0,1\n", "x.dat:line 2 (record 2): 3 fields, expected 4" },
		{ "1,0,1,2,3\n", "more than the 4 fields" },
		{ "x,0,1,2\n", "sample number \"x\"" },
		{ "1,-5,1,2\n", "timestamp \"-5\"" },
		{ "1,0,1,nan\n", "analog channel 2 value \"nan\"" },
		{ "1,0,1e308,2\n", "analog channel 1 value \"1e308\" out of range" },
		{ "1,0,1,2\n\n\n2,0,1,2\n3,0,1,2\n", "x.dat:line 5 (record 3): more records than the 2 samples" },
		{ "1,0,1,2\n", "ends after 1 records" },
	};
	bm_comtrade_cfg cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse_rows(&cfg, rows, 2, err, sizeof err), BM_OK);
	cfg.rate[0].endsamp = cfg.n_samples = 2;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bm_comtrade_dec d;
		uint64_t n;

		bm_comtrade_dec_init(&d, &cfg, "x.dat", cases[i].dat, strlen(cases[i].dat));
		assert_err(bm_comtrade_dec_scan(&d, &n, NULL, err, sizeof err), BM_E_FORMAT, err,
		           cases[i].msg, NULL);
	}
	/* Blank lines and a DOS ^Z at the end are fine. */
	{
		static const char dat[] = "1,0,1,2\r\n\r\n2,1000,3,4\r\n\x1a";
		bm_comtrade_dec d;
		uint64_t n = 0;
		double hz = 0;

		bm_comtrade_dec_init(&d, &cfg, "x.dat", dat, strlen(dat));
		assert_int_equal(bm_comtrade_dec_scan(&d, &n, &hz, err, sizeof err), BM_OK);
		assert_int_equal(n, 2);
		assert_true(hz == 1000.0);
	}
	bm_comtrade_cfg_free(&cfg);
}

/* Parse errors from memory: each exact code, file name and line. */
static void test_cfg_errors_memory(void **state)
{
	static const char head[] = "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n";
	static const char tail[] = "01/01/2024,00:00:00.0\n01/01/2024,00:00:00.0\nASCII\n1\n";
	static const struct {
		const char *text;
		bm_err rc;
		const char *msg;
	} cases[] = {
		{ "", BM_E_FORMAT, "m.cfg:1: unexpected end of file" },
		{ "S\n", BM_E_FORMAT, "m.cfg:1: expected station_name" },
		{ "S,D,1999x\n", BM_E_FORMAT, "m.cfg:1: rev_year" },
		{ "S,D\n0,0A,0D\n", BM_E_FORMAT, "m.cfg:2: no channels" },
		{ "S,D\n1,1X,0D\n", BM_E_FORMAT, "m.cfg:2: expected TT,##A,##D" },
		{ "S,D\n99999999999999999999999,1A,0D\n", BM_E_FORMAT, "m.cfg:2: channel counts are not numbers" },
		{ "S,D\n4097,4097A,0D\n", BM_E_UNSUPPORTED, "m.cfg:2: too many channels" },
		{ "S,D\n4097,4096A,1D\n", BM_E_UNSUPPORTED, "m.cfg:2: too many channels" },
		{ "S,D,2013\n1,1A,0D\n2,V,A,,V,1,0,0,-1,1,1,1,P\n", BM_E_FORMAT, "m.cfg:3: analog channel 1: index \"2\" should be 1" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P,X\n", BM_E_FORMAT, "m.cfg:3: analog channel 1: expected 10 to 13 fields" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,b,0,-1,1,1,1,P\n", BM_E_FORMAT, "m.cfg:3: analog channel 1: offset b" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,-1,1,P\n", BM_E_FORMAT, "m.cfg:3: analog channel 1: negative primary" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1e308,0,0,-1,1,1e10,1,S\n", BM_E_FORMAT, "m.cfg:3: analog channel 1: scaling out of range" },
		{ "S,D,2013\n1,0A,1D\n1,D1,,,2\n", BM_E_FORMAT, "m.cfg:3: digital channel 1: normal state" },
		{ "S,D,2013\n1,0A,1D\n1,D1,,0\n", BM_E_FORMAT, "m.cfg:3: digital channel 1: expected 5 fields" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\nfifty\n", BM_E_FORMAT, "m.cfg:4: line frequency" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n300\n", BM_E_UNSUPPORTED, "m.cfg:5: 300 sampling rates" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n2\n1000,10\n1000,10\n", BM_E_FORMAT, "m.cfg:7: rate 2: endsamp 10 does not increase" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n2\n0,10\n1000,20\n", BM_E_FORMAT, "m.cfg:6: rate 1: samp 0 is only allowed" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n0\n1000,10\n", BM_E_FORMAT, "m.cfg:6: nrates is 0 but samp is 1000" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,1\n2024-01-01,00:00:00\n", BM_E_FORMAT, "m.cfg:7: start time stamp: expected" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,1\n01/13/2024,00:00:00\n", BM_E_FORMAT, "m.cfg:7: start time stamp out of range" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,1\n01/01/2024,00:00:00.1234567890\n", BM_E_FORMAT, "m.cfg:7: start time stamp: expected" },
		{ "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,1\n01/01/2024,00:00:00\n", BM_E_FORMAT, "m.cfg:8: unexpected end of file, expected the trigger time stamp" },
		{ "S,D,2013\n1,1A,0D\n1,V\0,A,,V,1,0,0,-1,1,1,1,P\n", BM_E_FORMAT, "m.cfg:3: NUL byte" },
	};
	static const struct {
		const char *mid;  /* between head and tail */
		const char *after;
		bm_err rc;
		const char *msg;
	} tails[] = {
		{ "50\n1\n1000,1\n", "0\n", BM_E_FORMAT, "m.cfg:10: timemult" },
		{ "50\n1\n1000,1\n", "1\n0\n", BM_E_FORMAT, "m.cfg:11: expected time_code,local_code" },
		{ "50\n1\n1000,1\n", "1\n0,0\nF,7\n", BM_E_FORMAT, "m.cfg:12: expected tmq_code,leapsec" },
	};
	bm_comtrade_cfg cfg;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* The NUL case needs its true length. */
		size_t len = strlen(cases[i].text);

		if (strstr(cases[i].msg, "NUL") != NULL)
			len += 1 + strlen(cases[i].text + len + 1);
		memset(&cfg, 0x5a, sizeof cfg);
		assert_err(bm_comtrade_cfg_parse(cases[i].text, len, "m.cfg", &cfg, err, sizeof err),
		           cases[i].rc, err, cases[i].msg, NULL);
		assert_null(cfg.analog); /* left empty */
		assert_null(cfg.rate);
		bm_comtrade_cfg_free(&cfg);
	}
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		char text[1024];
		const char *t = tail;

		/* Replace the tail's timemult line by the case's lines. */
		snprintf(text, sizeof text, "%s%s%.*s%s", head, tails[i].mid,
		         (int)(strstr(t, "ASCII\n") + 6 - t), t, tails[i].after);
		assert_err(bm_comtrade_cfg_parse(text, strlen(text), "m.cfg", &cfg, err, sizeof err),
		           tails[i].rc, err, tails[i].msg, NULL);
	}
	assert_int_equal(bm_comtrade_cfg_parse(NULL, 5, "m.cfg", &cfg, err, sizeof err), BM_E_INVAL);
	assert_int_equal(bm_comtrade_cfg_parse("", 0, "m.cfg", NULL, err, sizeof err), BM_E_INVAL);
}

/* 1991 and lenient forms parse with defaults. */
static void test_cfg_1991_and_defaults(void **state)
{
	static const char text[] =
		"\xEF\xBB\xBF" "Old Station , Rec 7 \r\n"
		"3,2A,1D\r\n"
		"1,IA,A,Line 1,A,0.5,1,0,-2048,2047\r\n"
		"2,VA,A,Line 1,kV,0.01,0,,,\r\n"
		"1,Trip,1\r\n"
		"60\r\n"
		"1\r\n"
		"960,20\r\n"
		"12/31/99,23:59:59.5\r\n"
		"12/31/99,23:59:59.9\r\n"
		"binary\r\n"
		"\r\n"
		"\x1a";
	bm_comtrade_cfg cfg;
	char err[512];

	(void)state;
	if (bm_comtrade_cfg_parse(text, sizeof text - 1, "old.cfg", &cfg, err, sizeof err) != BM_OK)
		fail_msg("%s", err);
	assert_string_equal(cfg.station, "Old Station");
	assert_string_equal(cfg.device, "Rec 7");
	assert_int_equal(cfg.rev_year, 1991);
	assert_int_equal(cfg.n_analog, 2);
	assert_int_equal(cfg.n_digital, 1);
	assert_string_equal(cfg.digital[0].id, "Trip");
	assert_int_equal(cfg.digital[0].normal, 1);
	assert_true(cfg.analog[0].primary == 1.0 && cfg.analog[0].secondary == 1.0);
	assert_int_equal(cfg.analog[0].ps, 'P');
	assert_true(cfg.analog[1].k == 10.0);
	assert_int_equal(cfg.start.month, 12);
	assert_int_equal(cfg.start.day, 31);
	assert_int_equal(cfg.start.year, 1999);
	assert_int_equal(cfg.start.nsec, 500000000);
	assert_int_equal(cfg.type, BM_COMTRADE_BINARY);
	assert_true(cfg.timemult == 1.0);
	assert_true(cfg.n_samples == 20);
	assert_int_equal(bm_comtrade_record_size(&cfg), 8 + 4 + 2);
	bm_comtrade_cfg_free(&cfg);
	bm_comtrade_cfg_free(&cfg);
	bm_comtrade_cfg_free(NULL);

	/* nrates 0 straight to the start stamp; "1 / 0,N" means the same. */
	{
		static const char a[] = "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n0\n"
		                        "01/01/2024,00:00:00\n01/01/2024,00:00:00\nFLOAT32\n1\n";
		static const char b[] = "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n1\n0,77\n"
		                        "01/01/2024,00:00:00\n01/01/2024,00:00:00\nBINARY32\n1\n";

		assert_int_equal(bm_comtrade_cfg_parse(a, strlen(a), "a.cfg", &cfg, err, sizeof err), BM_OK);
		assert_int_equal(cfg.n_rates, 0);
		assert_true(cfg.n_samples == 0);
		bm_comtrade_cfg_free(&cfg);
		assert_int_equal(bm_comtrade_cfg_parse(b, strlen(b), "b.cfg", &cfg, err, sizeof err), BM_OK);
		assert_int_equal(cfg.n_rates, 0);
		assert_true(cfg.n_samples == 77);
		assert_null(cfg.rate);
		bm_comtrade_cfg_free(&cfg);
	}
}

static void test_ts_only_too_few(void **state)
{
	static const char text[] = "S,D,2013\n1,1A,0D\n1,V,A,,V,1,0,0,-1,1,1,1,P\n50\n0\n"
	                           "01/01/2024,00:00:00\n01/01/2024,00:00:00\nASCII\n1\n";
	bm_comtrade_cfg cfg;
	bm_comtrade_dec d;
	char err[512];
	uint64_t n;

	(void)state;
	assert_int_equal(bm_comtrade_cfg_parse(text, strlen(text), "t.cfg", &cfg, err, sizeof err), BM_OK);
	bm_comtrade_dec_init(&d, &cfg, "t.dat", "1,0,5\n", 6);
	assert_err(bm_comtrade_dec_scan(&d, &n, NULL, err, sizeof err), BM_E_FORMAT, err,
	           "t.dat", "from 1 sample(s)", NULL);
	bm_comtrade_dec_init(&d, &cfg, "t.dat", "1,0,5\n2,,6\n", 11);
	assert_err(bm_comtrade_dec_scan(&d, &n, NULL, err, sizeof err), BM_E_FORMAT, err,
	           "t.dat:line 2 (record 2): missing timestamp", NULL);
	bm_comtrade_dec_init(&d, &cfg, "t.dat", "1,100,5\n2,100,6\n", 16);
	assert_err(bm_comtrade_dec_scan(&d, &n, NULL, err, sizeof err), BM_E_FORMAT, err,
	           "non-uniform timestamps without a sampling rate", NULL);
	bm_comtrade_cfg_free(&cfg);
}

/* ------------------------------------------------------------- main */

static int write_fixtures(const char *dir)
{
	char cfg[512];

	gen_write(&FIX2013, dir, cfg, sizeof cfg);
	printf("wrote %s\n", cfg);
	gen_write(&FIX1999, dir, cfg, sizeof cfg);
	printf("wrote %s\n", cfg);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_2013),
		cmocka_unit_test(test_binary_int16_1999),
		cmocka_unit_test(test_binary32_2013),
		cmocka_unit_test(test_float32_2013),
		cmocka_unit_test(test_ascii_1991_upper_case),
		cmocka_unit_test(test_binary_1991),
		cmocka_unit_test(test_dat_upper_case_fallback),
		cmocka_unit_test(test_committed_fixtures),
		cmocka_unit_test(test_multiple_rates),
		cmocka_unit_test(test_timemult),
		cmocka_unit_test(test_timestamps_only),
		cmocka_unit_test(test_timestamps_nonuniform),
		cmocka_unit_test(test_nanosecond_stamps),
		cmocka_unit_test(test_units_and_ratio),
		cmocka_unit_test(test_missing_values_memory),
		cmocka_unit_test(test_phase_parse),
		cmocka_unit_test(test_map_auto_two_circuits),
		cmocka_unit_test(test_map_auto_wiring),
		cmocka_unit_test(test_map_override),
		cmocka_unit_test(test_map_frame),
		cmocka_unit_test(test_temperature_units),
		cmocka_unit_test(test_map_aux_auto),
		cmocka_unit_test(test_map_aux_residual_rules),
		cmocka_unit_test(test_map_aux_auto_errors),
		cmocka_unit_test(test_map_aux_override),
		cmocka_unit_test(test_map_aux_values),
		cmocka_unit_test(test_bad_cfg_files),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_bad_ascii_dat),
		cmocka_unit_test(test_truncated_binary),
		cmocka_unit_test(test_ascii_dat_errors),
		cmocka_unit_test(test_cfg_errors_memory),
		cmocka_unit_test(test_cfg_1991_and_defaults),
		cmocka_unit_test(test_ts_only_too_few),
	};

	if (argc == 3 && strcmp(argv[1], "--write-fixtures") == 0)
		return write_fixtures(argv[2]);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
