/*
 * test_regmap.c — the register map (bm/regmap.h): the table, reads through
 * one view, and writes through password sessions into validated settings.
 *
 * Why: the map is the product's public interface (addresses are forever)
 * and its only door to the settings, so the tests pin both the shape of the
 * table (no overlaps, no item crossing a circuit stride, one name per item)
 * and the write rules (locked → 02, bad value → 03 and nothing changes, one
 * commit per accepted write).
 *
 * Every expected register is encoded here by hand (IEEE-754 bits split into
 * big-endian words, strings two characters a register, dates from a naive
 * day-counting calendar), never with the regmap's own codecs, except in the
 * test of those codecs. Energies, demand and max/min come from the metering
 * API the map reads (and are cross-checked against the closed-form load
 * profile fed to it).
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

#include "bm/modbus.h"
#include "bm/pq.h"
#include "bm/regmap.h"
#include "bm/settings.h"

#define EX_ADDR BM_MB_EX_ILLEGAL_ADDRESS
#define EX_VALUE BM_MB_EX_ILLEGAL_VALUE

/* 2026-01-31T23:45:00Z: on a 15-minute demand boundary, 15 min before the
 * monthly freeze of 1 February 00:00 (UTC, the metering's offset). */
#define T0 (1767225600 + 30 * 86400 + 23 * 3600 + 45 * 60)
#define N_WIN 190 /* two whole demand intervals and 100 s */
#define WIN_S 10
#define T_END (T0 + N_WIN * WIN_S)
#define NOW 50000u /* monotonic seconds the sessions see */

/* Large structures: static, off the stack. */
static bm_results R;   /* what the view shows */
static bm_results WIN; /* what the metering was fed */
static bm_metering MT;
static bm_settings SET;
static bm_rm_ident ID;
static bm_rm_view V;

#define MAX_ITEMS 6000
static bm_rm_info INFO[MAX_ITEMS];
static size_t N_INFO;

/* ---- independent encoders / decoders -------------------------------------- */

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static void enc_f32(uint16_t *w, double x)
{
	uint32_t u = f32_bits((float)x);
	w[0] = (uint16_t)(u >> 16);
	w[1] = (uint16_t)(u & 0xFFFFu);
}

static float dec_f32(const uint16_t *w)
{
	uint32_t u = ((uint32_t)w[0] << 16) | w[1];
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* n words, most significant first (words above the 64 bits are 0) */
static void enc_int(uint16_t *w, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		w[n - 1 - i] = i < 4 ? (uint16_t)((v >> (16 * i)) & 0xFFFFu) : 0u;
}

static uint64_t dec_int(const uint16_t *w, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v * 65536u + w[i];
	return v;
}

static void enc_str(uint16_t *w, const char *s, unsigned regs)
{
	size_t n = strlen(s);
	for (unsigned i = 0; i < regs; i++) {
		unsigned hi = 2 * i < n ? (unsigned char)s[2 * i] : 0u;
		unsigned lo = 2 * i + 1 < n ? (unsigned char)s[2 * i + 1] : 0u;
		w[i] = (uint16_t)(hi * 256u + lo);
	}
}

/* A naive calendar (day by day from 1970), for local time checks. */
static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int y, int m)
{
	static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return md[m - 1] + (m == 2 && is_leap(y));
}

static int64_t naive_join(int y, int mo, int d, int h, int mi, int s)
{
	int64_t days = 0;
	for (int yy = 1970; yy < y; yy++)
		days += is_leap(yy) ? 366 : 365;
	for (int mm = 1; mm < mo; mm++)
		days += mdays(y, mm);
	days += d - 1;
	return days * 86400 + h * 3600 + mi * 60 + s;
}

static void naive_split(int64_t local, uint16_t out[6])
{
	int64_t days = local / 86400, sod = local % 86400;
	int y = 1970, m = 1;
	while (days >= (is_leap(y) ? 366 : 365))
		days -= is_leap(y) ? 366 : 365, y++;
	while (days >= mdays(y, m))
		days -= mdays(y, m), m++;
	out[0] = (uint16_t)y;
	out[1] = (uint16_t)m;
	out[2] = (uint16_t)(days + 1);
	out[3] = (uint16_t)(sod / 3600);
	out[4] = (uint16_t)(sod / 60 % 60);
	out[5] = (uint16_t)(sod % 60);
}

static void expect_regs(const uint16_t *got, const uint16_t *want, unsigned n, const char *what)
{
	for (unsigned i = 0; i < n; i++)
		if (got[i] != want[i]) {
			print_error("%s: register %u = 0x%04x, want 0x%04x\n", what, i, got[i], want[i]);
			fail();
		}
}

/* ---- the view --------------------------------------------------------------- */

static void set_pqs(bm_results *r, unsigned c, double p, double q)
{
	double s = sqrt(p * p + q * q);
	for (unsigned k = 0; k < 3; k++) {
		r->v[c][BM_Q_P1 + k] = p / 3.0;
		r->v[c][BM_Q_Q1 + k] = q / 3.0;
		r->v[c][BM_Q_S1 + k] = s / 3.0;
	}
	r->v[c][BM_Q_P] = p;
	r->v[c][BM_Q_Q] = q;
	r->v[c][BM_Q_S] = s;
}

/* Circuit c draws P = 36 kW·(c+1), Q = 12 kvar·(c+1) at 230+c V, 10+c A. */
static double load_p(unsigned c)
{
	return 36000.0 * (c + 1);
}

static double load_q(unsigned c)
{
	return 12000.0 * (c + 1);
}

/* The load is doubled for the first 900 s (the first demand interval, the
 * month before the freeze): energy in Wh of `x` W over the whole run. */
#define FIRST_S 900
static double energy_of(double x)
{
	return x * (2.0 * FIRST_S + (N_WIN * WIN_S - FIRST_S)) / 3600.0;
}

static bm_rm_info find(const char *name)
{
	bm_rm_info in;
	if (bm_rm_find(name, &in) != BM_OK) {
		print_error("bm_rm_find(%s) failed\n", name);
		fail();
	}
	return in;
}

static uint16_t addr_of(const char *name)
{
	return find(name).addr;
}

/* Builds the view: default settings (4 circuits), R with distinct values,
 * metering fed N_WIN windows across the 1 Feb freeze (double load before). */
static void view_setup(void)
{
	bm_settings_default(&SET, NULL);
	assert_int_equal(SET.meter.n_circuits, 4);
	/* a meter with every part, so every item of the map is there
	 * (test_absent_parts takes them away) */
	SET.caps.n_do = BM_DO_MAX;
	SET.caps.n_di = BM_DI_MAX;
	SET.caps.temperature = 0x0F;
	SET.caps.residual = 0x0F;

	memset(&WIN, 0, sizeof WIN);
	WIN.n_circuits = 4;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		for (unsigned q = 0; q < BM_Q_COUNT; q++)
			WIN.v[c][q] = NAN;
		set_pqs(&WIN, c, load_p(c), load_q(c));
		for (unsigned k = 0; k < 3; k++) {
			WIN.v[c][BM_Q_U1 + k] = 230.0 + c;
			WIN.v[c][BM_Q_I1 + k] = 10.0 + c;
		}
		WIN.v[c][BM_Q_F] = 50.0;
	}
	bm_cfg_issue is;
	assert_int_equal(bm_metering_init(&MT, &SET.metering, 4, T0, &is), BM_OK);
	for (int k = 0; k < N_WIN; k++) {
		double m = k * WIN_S < FIRST_S ? 2.0 : 1.0;
		for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
			set_pqs(&WIN, c, m * load_p(c), m * load_q(c));
		assert_int_equal(bm_metering_window(&MT, &WIN, WIN_S, T0 + (int64_t)WIN_S * (k + 1)), BM_OK);
	}

	memset(&R, 0, sizeof R);
	R.n_circuits = 4;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		for (unsigned q = 0; q < BM_Q_COUNT; q++)
			R.v[c][q] = 100.0 * c + q + 0.5;
	R.v[0][BM_Q_U2] = NAN;
	R.v[3][BM_Q_PF] = NAN;
	R.h.valid = false;

	memset(&ID, 0, sizeof ID);
	strcpy(ID.vendor, "Branchmeter Project");
	strcpy(ID.model, "MPM4410-A");
	strcpy(ID.firmware, "0.1.0");
	strcpy(ID.serial, "BM00001234");

	memset(&V, 0, sizeof V);
	V.r = &R;
	V.mt = &MT;
	V.set = &SET;
	V.id = &ID;
	V.rtc_unix = T_END;
	V.windows = 0x123456789ull;
	V.status = 3;
}

static int read_at(const bm_rm_session *s, uint32_t now, int cv, uint16_t addr, uint16_t count, uint16_t *out)
{
	return bm_rm_read(&V, s, now, cv, addr, count, out);
}

/* Reads one whole item by name (full view, no session). */
static void read_item(const char *name, uint16_t *out)
{
	bm_rm_info in = find(name);
	int ex = read_at(NULL, NOW, -1, in.addr, in.regs, out);
	if (ex) {
		print_error("read %s at %u: exception %d\n", name, in.addr, ex);
		fail();
	}
}

static void expect_f32(const char *name, double x)
{
	uint16_t got[2], want[2];
	read_item(name, got);
	enc_f32(want, x);
	expect_regs(got, want, 2, name);
}

static void expect_int(const char *name, uint64_t x)
{
	bm_rm_info in = find(name);
	uint16_t got[4], want[4];
	read_item(name, got);
	enc_int(want, x, in.regs);
	expect_regs(got, want, in.regs, name);
}

/* ---- fake actions ----------------------------------------------------------- */

typedef struct fake {
	int commits, resets, clocks;
	bm_settings committed;
	bm_rm_reset last_reset;
	int64_t last_clock;
	int ret;
} fake;

static fake F;

static int fk_commit(void *ctx, const bm_settings *next)
{
	fake *f = ctx;
	f->commits++;
	f->committed = *next;
	return f->ret;
}

static int fk_reset(void *ctx, bm_rm_reset what)
{
	fake *f = ctx;
	f->resets++;
	f->last_reset = what;
	return f->ret;
}

static int fk_clock(void *ctx, int64_t t)
{
	fake *f = ctx;
	f->clocks++;
	f->last_clock = t;
	return f->ret;
}

static int fk_relay(void *ctx, unsigned r, bool close)
{
	(void)ctx;
	(void)r;
	(void)close;
	return 0;
}

static const bm_rm_actions ACT = {fk_commit, fk_reset, fk_clock, fk_relay};

static int wr(bm_rm_session *s, uint32_t now, uint16_t addr, uint16_t count, const uint16_t *regs)
{
	const char *what = NULL;
	int ex = bm_rm_write(&V, s, now, -1, &ACT, &F, addr, count, regs, &what);
	if (ex)
		assert_non_null(what); /* a refusal always says why */
	return ex;
}

static int wr1(bm_rm_session *s, uint32_t now, uint16_t addr, uint16_t value)
{
	return wr(s, now, addr, 1, &value);
}

static int wr_f32(bm_rm_session *s, uint32_t now, uint16_t addr, double x)
{
	uint16_t w[2];
	enc_f32(w, x);
	return wr(s, now, addr, 2, w);
}

/* The real meter applies a commit to the settings the next view shows. */
static void apply(void)
{
	SET = F.committed;
}

static void fake_reset(void)
{
	memset(&F, 0, sizeof F);
}

static uint16_t rd1(const bm_rm_session *s, uint32_t now, uint16_t addr)
{
	uint16_t w = 0xDEAD;
	assert_int_equal(read_at(s, now, -1, addr, 1, &w), 0);
	return w;
}

/* ---- table ------------------------------------------------------------------ */

static unsigned type_regs(unsigned t)
{
	switch (t) {
	case BM_RT_U16:
	case BM_RT_I16: return 1;
	case BM_RT_U32:
	case BM_RT_I32:
	case BM_RT_F32: return 2;
	case BM_RT_U64:
	case BM_RT_I64: return 4;
	case BM_RT_DATETIME: return 6;
	default: return 0; /* STR: any */
	}
}

static size_t collect(unsigned n_circuits)
{
	bm_rm_iter it;
	bm_rm_iter_init(&it, n_circuits);
	size_t n = 0;
	while (n < MAX_ITEMS && bm_rm_next(&it, &INFO[n]))
		n++;
	assert_true(n < MAX_ITEMS);
	N_INFO = n;
	return n;
}

static int cmp_name(const void *a, const void *b)
{
	const bm_rm_info *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static void test_table_invariants(void **state)
{
	(void)state;
	size_t n = collect(4);
	assert_true(n > 1000);
	size_t per_circuit[BM_MAX_CIRCUITS] = {0}, meter = 0;
	for (size_t i = 0; i < n; i++) {
		const bm_rm_info *in = &INFO[i];
		/* strictly increasing, no overlap */
		if (i + 1 < n && !((uint32_t)in->addr + in->regs <= INFO[i + 1].addr)) {
			print_error("%s at %u+%u overlaps %s at %u\n", in->name, in->addr, in->regs, INFO[i + 1].name,
			            INFO[i + 1].addr);
			fail();
		}
		/* size matches the type */
		assert_true(in->regs >= 1 && in->regs <= BM_RM_ITEM_MAX_REGS);
		assert_true(in->type < BM_RT_COUNT);
		if (in->type == BM_RT_STR)
			assert_true(in->regs >= 1);
		else if (in->regs != type_regs(in->type)) {
			print_error("%s: %u registers for type %s\n", in->name, in->regs, bm_rm_type_name(in->type));
			fail();
		}
		assert_true(in->access <= BM_RA_W);
		assert_true(in->level <= (BM_RM_LEVEL_SETTINGS | BM_RM_LEVEL_RESET));
		if (in->access == BM_RA_R)
			assert_int_equal(in->level, 0);
		assert_non_null(in->unit);
		assert_true(strlen(in->name) > 0 && strlen(in->desc) > 0);
		/* strides */
		uint32_t lo, hi;
		if (in->circuit < 0) {
			lo = 0;
			hi = BM_RM_CCFG_BASE;
			meter++;
		} else {
			int c = in->circuit;
			assert_true(c < 4);
			per_circuit[c]++;
			char prefix[8] = {'C', (char)('1' + c), '.', '\0'};
			assert_memory_equal(in->name, prefix, 3);
			if (in->addr < BM_RM_ACFG_BASE) {
				lo = 2000u + 200u * (unsigned)c;
				hi = 2200u + 200u * (unsigned)c;
			} else if (in->addr < BM_RM_CIRCUIT_BASE) {
				lo = 3000u + 200u * (unsigned)c;
				hi = 3200u + 200u * (unsigned)c;
			} else {
				lo = 10000u + 4000u * (unsigned)c;
				hi = 14000u + 4000u * (unsigned)c;
			}
		}
		if (!(in->addr >= lo && (uint32_t)in->addr + in->regs <= hi)) {
			print_error("%s at %u+%u leaves [%u, %u)\n", in->name, in->addr, in->regs, lo, hi);
			fail();
		}
	}
	/* every circuit has the same items */
	for (unsigned c = 1; c < 4; c++)
		assert_int_equal(per_circuit[c], per_circuit[0]);
	/* names unique */
	static const bm_rm_info *byname[MAX_ITEMS];
	for (size_t i = 0; i < n; i++)
		byname[i] = &INFO[i];
	qsort(byname, n, sizeof byname[0], cmp_name);
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(byname[i]->name, byname[i + 1]->name) == 0) {
			print_error("duplicate name %s (%u, %u)\n", byname[i]->name, byname[i]->addr, byname[i + 1]->addr);
			fail();
		}
	/* bm_rm_find finds each name at its address */
	for (size_t i = 0; i < n; i++) {
		bm_rm_info f;
		assert_int_equal(bm_rm_find(INFO[i].name, &f), BM_OK);
		assert_int_equal(f.addr, INFO[i].addr);
		assert_int_equal(f.regs, INFO[i].regs);
		assert_int_equal(f.type, INFO[i].type);
		assert_int_equal(f.circuit, INFO[i].circuit);
	}
	bm_rm_info f;
	assert_int_equal(bm_rm_find("C5.U1", &f), BM_E_NOTFOUND);
	assert_int_equal(bm_rm_find("c1.u1", &f), BM_E_NOTFOUND); /* case-sensitive */
	assert_int_equal(bm_rm_find("", &f), BM_E_NOTFOUND);
	assert_int_equal(bm_rm_find(NULL, &f), BM_E_INVAL);

	/* a few fixed addresses (part of the product) */
	assert_int_equal(addr_of("map_version"), 0);
	assert_int_equal(addr_of("unlock"), 1000);
	assert_int_equal(addr_of("vt_ratio"), 1011);
	assert_int_equal(addr_of("tariff_select"), 1071);
	assert_int_equal(addr_of("address"), 1121);
	assert_int_equal(addr_of("C1.ct_ratio"), 2003);
	assert_int_equal(addr_of("C2.I1.primary"), 2211);
	assert_int_equal(addr_of("C1.U1"), 10000);
	assert_int_equal(addr_of("C3.P"), 10000 + 2 * 4000 + 2 * BM_Q_P);
	assert_int_equal(addr_of("C4.U1"), 22000);

	/* fewer circuits: the iterator stops after the last one */
	for (unsigned nc = 0; nc <= 4; nc++) {
		size_t m = collect(nc);
		assert_int_equal(m, meter + nc * per_circuit[0]);
		for (size_t i = 0; i < m; i++)
			assert_true(INFO[i].circuit < (int)nc);
		if (nc == 2) {
			assert_int_equal(INFO[m - 1].circuit, 1);
			assert_true(INFO[m - 1].addr < 18000);
		}
	}
	assert_int_equal(collect(9), n); /* clamped to BM_MAX_CIRCUITS */

	/* type names */
	static const char *const tn[] = {"U16", "I16", "U32", "I32", "U64", "I64", "F32", "STR", "DATETIME"};
	for (unsigned t = 0; t < BM_RT_COUNT; t++)
		assert_string_equal(bm_rm_type_name(t), tn[t]);
	assert_string_equal(bm_rm_type_name(BM_RT_COUNT), "?");
}

/* Every address of the map: an item's start reads whole (02 when cut short
 * or entered in the middle), write-only items read 0, and every address no
 * item covers answers 02. A read-only item refuses writes even unlocked. */
static void test_table_every_address(void **state)
{
	(void)state;
	view_setup();
	size_t n = collect(4);
	static uint8_t cover[65536]; /* 0 none, 1 item start, 2 inside */
	static uint16_t start_of[65536];
	memset(cover, 0, sizeof cover);
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < INFO[i].regs; k++) {
			cover[INFO[i].addr + k] = k == 0 ? 1 : 2;
			start_of[INFO[i].addr + k] = (uint16_t)i;
		}
	bm_rm_session ses = {0};
	uint16_t buf[BM_RM_ITEM_MAX_REGS + 2];
	for (uint32_t a = 0; a < 65536; a++) {
		if (cover[a] == 1) {
			const bm_rm_info *in = &INFO[start_of[a]];
			int ex = read_at(&ses, NOW, -1, (uint16_t)a, in->regs, buf);
			if (ex) {
				print_error("%s at %u: exception %d\n", in->name, a, ex);
				fail();
			}
			if (in->access == BM_RA_W)
				for (unsigned k = 0; k < in->regs; k++)
					assert_int_equal(buf[k], 0);
			if (in->regs > 1)
				assert_int_equal(read_at(&ses, NOW, -1, (uint16_t)a, (uint16_t)(in->regs - 1), buf), EX_ADDR);
		} else {
			assert_int_equal(read_at(&ses, NOW, -1, (uint16_t)a, 1, buf), EX_ADDR);
		}
	}
	/* read-only items refuse writes, even with both levels unlocked */
	fake_reset();
	assert_int_equal(wr1(&ses, NOW, 1000, 1234), 0);
	for (size_t i = 0; i < n; i++) {
		if (INFO[i].access != BM_RA_R)
			continue;
		uint16_t z[BM_RM_ITEM_MAX_REGS] = {0};
		assert_int_equal(wr(&ses, NOW, INFO[i].addr, INFO[i].regs, z), EX_ADDR);
	}
	assert_int_equal(F.commits + F.resets + F.clocks, 0);
}

/* Read-modify-write: writing back what every settings item reads is
 * accepted and leaves every register as it was (encode and decode are
 * inverse), one commit per write. */
static void test_table_write_back(void **state)
{
	(void)state;
	view_setup();
	/* make a few values less trivial first */
	SET.meter.vt_ratio = 37.5;
	SET.meter.u_min_v = 2.3; /* not a float: reads back as the float nearest */
	SET.metering.utc_offset_s = -18000;
	SET.metering.tariff_mode = BM_MT_TARIFF_RTC;
	SET.metering.n_periods = 3;
	SET.metering.period[0] = (bm_mt_period){0, 2};
	SET.metering.period[1] = (bm_mt_period){7 * 60 + 30, 1};
	SET.metering.period[2] = (bm_mt_period){22 * 60, 3};
	for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) /* ct_ratio writes all four */
		SET.meter.circuit[1].sensor[p].primary_a = 200.0;
	assert_int_equal(bm_settings_validate(&SET, NULL), BM_OK);
	size_t n = collect(4);
	static uint16_t before[10000], after[10000];
	for (size_t i = 0; i < n && INFO[i].addr < 10000; i++)
		assert_int_equal(read_at(NULL, NOW, -1, INFO[i].addr, INFO[i].regs, before + INFO[i].addr), 0);
	bm_rm_session ses = {0};
	fake_reset();
	assert_int_equal(wr1(&ses, NOW, 1000, 1234), 0);
	int writes = 0;
	for (size_t i = 0; i < n && INFO[i].addr < 10000; i++) {
		const bm_rm_info *in = &INFO[i];
		if (in->access != BM_RA_RW || !strcmp(in->name, "rtc") || !strcmp(in->name, "datetime") ||
		    !strcmp(in->name, "access") || !strcmp(in->name, "event_select") || strstr(in->name, ".command"))
			continue;
		int c0 = F.commits;
		int ex = wr(&ses, NOW, in->addr, in->regs, before + in->addr);
		if (ex) {
			print_error("writing back %s: exception %d\n", in->name, ex);
			fail();
		}
		assert_int_equal(F.commits, c0 + 1);
		apply();
		writes++;
	}
	assert_true(writes > 150);
	for (size_t i = 0; i < n && INFO[i].addr < 10000; i++)
		assert_int_equal(read_at(NULL, NOW, -1, INFO[i].addr, INFO[i].regs, after + INFO[i].addr), 0);
	for (size_t i = 0; i < n && INFO[i].addr < 10000; i++)
		expect_regs(after + INFO[i].addr, before + INFO[i].addr, INFO[i].regs, INFO[i].name);
	assert_true(SET.meter.vt_ratio == 37.5);
	assert_true(SET.meter.circuit[1].sensor[0].primary_a == 200.0);
}

/* ---- reads ---------------------------------------------------------------- */

static void test_codecs(void **state)
{
	(void)state;
	uint16_t w[4];
	bm_rm_put_f32(w, 1.0f);
	assert_int_equal(w[0], 0x3F80);
	assert_int_equal(w[1], 0x0000);
	bm_rm_put_f32(w, -229.5f);
	assert_int_equal(w[0], 0xC365);
	assert_int_equal(w[1], 0x8000);
	bm_rm_put_f32(w, 0.1f); /* 0x3DCCCCCD */
	assert_int_equal(w[0], 0x3DCC);
	assert_int_equal(w[1], 0xCCCD);
	w[0] = 0x4049;
	w[1] = 0x0FDB;
	assert_true(bm_rm_get_f32(w) == 3.14159274101257324f);
	w[0] = 0x7FC0;
	w[1] = 0;
	assert_true(isnan(bm_rm_get_f32(w)));
	bm_rm_put_u64(w, 0x0123456789ABCDEFull, 4);
	assert_int_equal(w[0], 0x0123);
	assert_int_equal(w[1], 0x4567);
	assert_int_equal(w[2], 0x89AB);
	assert_int_equal(w[3], 0xCDEF);
	assert_true(bm_rm_get_u64(w, 4) == 0x0123456789ABCDEFull);
	assert_true(bm_rm_get_u64(w, 2) == 0x01234567ull);
	bm_rm_put_u64(w, 0xFFFFB9B0u, 2); /* -18000 as I32 */
	assert_int_equal(w[0], 0xFFFF);
	assert_int_equal(w[1], 0xB9B0);
	bm_rm_put_u64(w, 0x1234, 1);
	assert_int_equal(w[0], 0x1234);
	assert_true(bm_rm_get_u64(w, 1) == 0x1234);
	/* devid */
	view_setup();
	assert_string_equal(bm_rm_devid(&ID, BM_MB_ID_VENDOR), "Branchmeter Project");
	assert_string_equal(bm_rm_devid(&ID, BM_MB_ID_PRODUCT_CODE), "MPM4410-A");
	assert_string_equal(bm_rm_devid(&ID, BM_MB_ID_REVISION), "0.1.0");
	assert_null(bm_rm_devid(NULL, BM_MB_ID_VENDOR));
}

static void test_read_values(void **state)
{
	(void)state;
	view_setup();
	SET.meter.vt_ratio = 37.5;
	SET.meter.circuit[1].sensor[0].primary_a = 150.0;
	SET.metering.utc_offset_s = -18000; /* the metering itself ran at UTC */
	SET.metering.n_periods = 2;
	SET.metering.period[0].start_min = 7 * 60 + 30;
	SET.metering.period[1].start_min = 18 * 60 + 45;
	SET.metering.period[1].tariff = 4;
	uint16_t w[128], e[128];

	/* quantities: C1.U1 = 0.5 and C3.P = 229.5, hand-encoded */
	read_item("C1.U1", w);
	assert_int_equal(w[0], 0x3F00);
	assert_int_equal(w[1], 0x0000);
	assert_int_equal(read_at(NULL, NOW, -1, 18058, 2, w), 0); /* C3.P */
	assert_int_equal(w[0], 0x4365);
	assert_int_equal(w[1], 0x8000);
	for (unsigned c = 0; c < 4; c++) {
		char nm[16] = {'C', (char)('1' + c), '.', 'S', '\0'};
		expect_f32(nm, 100.0 * c + BM_Q_S + 0.5);
	}
	/* NaN reads NaN */
	read_item("C1.U2", w);
	assert_true(isnan(dec_f32(w)));
	read_item("C4.PF", w);
	assert_true(isnan(dec_f32(w)));
	/* 100 registers at 10000: 50 quantities of circuit 1 in one read */
	assert_int_equal(read_at(NULL, NOW, -1, 10000, 100, w), 0);
	for (unsigned q = 0; q < 50; q++) {
		if (q == BM_Q_U2) {
			assert_true(isnan(dec_f32(w + 2 * q)));
			continue;
		}
		enc_f32(e + 2 * q, q + 0.5);
		expect_regs(w + 2 * q, e + 2 * q, 2, bm_quantity_table[q].name);
	}

	/* energies: F32 kWh and I64 Wh, as the metering holds them; and the
	 * closed form P·t / 3600 */
	static const char *const ek[9] = {"EP_imp", "EP_exp", "EQ_q1", "EQ_q2", "EQ_q3", "EQ_q4", "EQ_imp", "EQ_exp", "ES"};
	static const char *const eu[9] = {"_Wh", "_Wh", "_varh", "_varh", "_varh", "_varh", "_varh", "_varh", "_VAh"};
	for (unsigned c = 0; c < 4; c++)
		for (unsigned ph = 0; ph < 4; ph++)
			for (unsigned k = 0; k < 9; k++) {
				char nf[40], ni[40], pre[8] = "";
				if (ph)
					strcpy(pre, ph == 1 ? "L1." : ph == 2 ? "L2." : "L3.");
				unsigned phase = ph ? ph - 1 : BM_MT_TOTAL;
				sprintf(nf, "C%u.%s%s", c + 1, pre, ek[k]);
				sprintf(ni, "C%u.%s%s%s", c + 1, pre, ek[k], eu[k]);
				double wh = bm_metering_energy_wh(&MT, c, phase, (bm_mt_ekind)k);
				int64_t whi = bm_metering_energy_wh_i64(&MT, c, phase, (bm_mt_ekind)k);
				expect_f32(nf, wh / 1000.0);
				expect_int(ni, (uint64_t)whi);
			}
	double ep = energy_of(load_p(2)); /* Wh */
	read_item("C3.EP_imp", w);
	assert_true(fabs(dec_f32(w) - ep / 1000.0) <= 1e-6 * ep / 1000.0);
	read_item("C3.EP_imp_Wh", w);
	assert_true(fabs((double)(int64_t)dec_int(w, 4) - ep) <= 1.0);
	read_item("C3.L2.EQ_q1_varh", w);
	assert_true(fabs((double)(int64_t)dec_int(w, 4) - energy_of(load_q(2) / 3.0)) <= 1.0);
	assert_true(ep > 1000.0);
	read_item("C3.EP_exp", w);
	assert_true(dec_f32(w) == 0.0f);
	/* tariff energy (manual tariff 1) */
	for (unsigned c = 0; c < 4; c++)
		for (unsigned t = 1; t <= 6; t++) {
			char nf[40], ni[40];
			sprintf(nf, "C%u.T%u.EP_imp", c + 1, t);
			sprintf(ni, "C%u.T%u.EQ_imp_varh", c + 1, t);
			expect_f32(nf, bm_metering_tariff_wh(&MT, c, t, BM_MT_T_EP_IMP) / 1000.0);
			expect_int(ni, (uint64_t)bm_metering_tariff_wh_i64(&MT, c, t, BM_MT_T_EQ_IMP));
		}
	read_item("C2.T1.EP_imp_Wh", w);
	assert_true(fabs((double)(int64_t)dec_int(w, 4) - energy_of(load_p(1))) <= 1.0);
	read_item("C2.T2.EP_imp_Wh", w);
	assert_true(dec_int(w, 4) == 0);
	/* demand: intervals completed at T0 + 900 (2P, the maximum) and
	 * T0 + 1800 (P, the last) */
	for (unsigned c = 0; c < 4; c++) {
		bm_mt_demand d;
		assert_int_equal(bm_metering_demand(&MT, c, BM_MT_D_P, &d), BM_OK);
		char n1[24], n2[24], n3[24], n4[24];
		sprintf(n1, "C%u.DP", c + 1);
		sprintf(n2, "C%u.DP_last", c + 1);
		sprintf(n3, "C%u.DP_max", c + 1);
		sprintf(n4, "C%u.DP_max_time", c + 1);
		expect_f32(n1, d.present);
		expect_f32(n2, d.last);
		expect_f32(n3, d.max);
		expect_int(n4, (uint64_t)(T0 + 900));
		read_item(n1, w);
		assert_true(fabs(dec_f32(w) - load_p(c)) <= 1e-6 * load_p(c));
		read_item(n2, w);
		assert_true(fabs(dec_f32(w) - load_p(c)) <= 1e-6 * load_p(c));
		read_item(n3, w);
		assert_true(fabs(dec_f32(w) - 2.0 * load_p(c)) <= 1e-6 * load_p(c));
	}
	/* max/min, load and run time, tariff in use */
	expect_f32("C2.U1_max", 231.0);
	expect_f32("C2.U1_min", 231.0);
	{
		bm_mt_extreme mx, mn;
		assert_int_equal(bm_metering_maxmin(&MT, 1, BM_MT_MM_U1, &mx, &mn), BM_OK);
		expect_int("C2.U1_max_time", (uint64_t)mx.unix_s);
		expect_int("C2.U1_min_time", (uint64_t)mn.unix_s);
		assert_true(mx.unix_s > T0 && mx.unix_s <= T_END);
	}
	expect_f32("C4.P_max", 2.0 * load_p(3));
	expect_f32("C4.P_min", load_p(3));
	read_item("C1.Uavg_max", w); /* never fed: no value */
	assert_true(isnan(dec_f32(w)));
	expect_int("C1.Uavg_max_time", 0);
	expect_int("C1.load_time", N_WIN * WIN_S);
	expect_int("run_time", N_WIN * WIN_S);
	expect_int("tariff", 1);
	/* the monthly freeze of 1 Feb 00:00 (UTC) */
	expect_int("C1.M1.month", 202602);
	expect_int("C1.M1.time", (uint64_t)(T0 + 900));
	bm_mt_month mo;
	assert_int_equal(bm_metering_month(&MT, 0, &mo), BM_OK);
	for (unsigned c = 0; c < 4; c++) {
		char nm[32];
		sprintf(nm, "C%u.M1.T1.EP_imp", c + 1);
		expect_f32(nm, mo.e_wh[c][0][BM_MT_T_EP_IMP] / 1000.0);
		read_item(nm, w);
		double want = 2.0 * load_p(c) * FIRST_S / 3600.0 / 1000.0;
		assert_true(fabs(dec_f32(w) - want) <= 1e-6 * want);
		sprintf(nm, "C%u.M1.PF", c + 1);
		expect_f32(nm, mo.pf[c]);
	}
	read_item("C1.M2.T1.EP_imp", w); /* only one freeze */
	assert_true(isnan(dec_f32(w)));
	expect_int("C1.M2.month", 0);
	/* harmonics: not analysed → NaN; analysed → % of the fundamental */
	read_item("C1.HU1[3]", w);
	assert_true(isnan(dec_f32(w)));
	R.h.valid = true;
	R.h.u[0][1] = 230.0f;
	R.h.u[0][3] = 23.0f;
	R.h.i[1][0][1] = 5.0f;
	R.h.i[1][0][5] = 1.0f;
	expect_f32("C1.HU1[3]", 100.0 * 23.0 / 230.0);
	expect_f32("C2.HI1[5]", 100.0 * 1.0 / 5.0);
	expect_f32("C2.HI1[5]", 100.0 * bm_pq_harmonic_rms(&R, &SET.meter, 1, 3, 5) /
	                            bm_pq_harmonic_rms(&R, &SET.meter, 1, 3, 1));
	R.h.valid = false;

	/* identity and status */
	expect_int("map_version", 1);
	expect_int("circuits", 4);
	expect_int("sample_rate", 12800);
	expect_int("status", 3);
	expect_int("windows", 0x23456789u); /* low 32 bits */
	expect_int("rtc", (uint64_t)T_END);
	read_item("vendor", w);
	enc_str(e, "Branchmeter Project", 16);
	expect_regs(w, e, 16, "vendor");
	assert_int_equal(w[0], ('B' << 8) | 'r');
	assert_int_equal(w[9], ('t' << 8) | 0);
	assert_int_equal(w[10], 0);
	read_item("serial", w);
	static const uint16_t ser[8] = {0x424D, 0x3030, 0x3030, 0x3132, 0x3334, 0, 0, 0}; /* "BM00001234" */
	expect_regs(w, ser, 8, "serial");
	read_item("firmware", w);
	enc_str(e, "0.1.0", 8);
	expect_regs(w, e, 8, "firmware");
	read_item("model", w);
	enc_str(e, "MPM4410-A", 16);
	expect_regs(w, e, 16, "model");
	/* datetime: T_END = 2026-02-01 00:16:40 UTC is 2026-01-31 19:16:40 at UTC-5 */
	read_item("datetime", w);
	naive_split(T_END - 18000, e);
	expect_regs(w, e, 6, "datetime");
	assert_int_equal(w[0], 2026);
	assert_int_equal(w[1], 1);
	assert_int_equal(w[2], 31);
	assert_int_equal(w[3], 19);
	assert_int_equal(w[4], 16);
	assert_int_equal(w[5], 40);
	/* settings */
	expect_f32("vt_ratio", 37.5);
	read_item("vt_ratio", w);
	assert_int_equal(w[0], 0x4216); /* 37.5 = 0x42160000 */
	assert_int_equal(w[1], 0x0000);
	expect_f32("C2.I1.primary", 150.0);
	expect_f32("C1.I1.primary", 5.0);
	expect_f32("C2.ct_ratio", 30.0);
	expect_f32("C1.ct_ratio", 1.0);
	expect_f32("u_min", 2.3);
	expect_int("baud", 9600);
	read_item("baud", w);
	assert_int_equal(w[0], 0);
	assert_int_equal(w[1], 9600);
	expect_int("utc_offset", 0xFFFFB9B0u);
	expect_int("address", 1);
	expect_int("ip", 0xC0A8011Fu);
	expect_int("rollover", 1000000000000ull);
	expect_int("nominal_hz", 50);
	expect_int("C3.wiring", 0);
	expect_f32("C4.load_threshold", 0.01);
	expect_int("Ta.start", 730);
	expect_int("Tb.start", 1845);
	expect_int("Tb.tariff", 4);
	expect_int("periods", 2);
	/* write-only registers read 0, even unlocked */
	bm_rm_session ses = {0};
	fake_reset();
	assert_int_equal(wr1(&ses, NOW, 1000, 1234), 0);
	assert_int_equal(F.commits, 0);
	static const uint16_t wo[] = {1000, 1002, 1003, 1004, 1072, 1073};
	for (size_t i = 0; i < sizeof wo / sizeof wo[0]; i++)
		assert_int_equal(rd1(&ses, NOW, wo[i]), 0);
	assert_int_equal(rd1(&ses, NOW, 1001), 3);
	/* the whole identity block in one read */
	assert_int_equal(read_at(NULL, NOW, -1, 0, 18, w), 0);
	assert_int_equal(w[0], 1);
	assert_int_equal(w[1], 4);
}

static void test_read_errors(void **state)
{
	(void)state;
	view_setup();
	uint16_t w[130];
	for (unsigned i = 0; i < 130; i++)
		w[i] = 0xA5A5;
	assert_int_equal(read_at(NULL, NOW, -1, 10001, 2, w), EX_ADDR); /* second half of C1.U1 */
	assert_int_equal(read_at(NULL, NOW, -1, 10001, 1, w), EX_ADDR);
	assert_int_equal(read_at(NULL, NOW, -1, 10000, 1, w), EX_ADDR); /* first half */
	assert_int_equal(read_at(NULL, NOW, -1, 10000, 3, w), EX_ADDR); /* one and a half */
	assert_int_equal(read_at(NULL, NOW, -1, 70, 10, w), EX_ADDR);   /* a gap */
	assert_int_equal(read_at(NULL, NOW, -1, 60, 10, w), EX_ADDR);   /* serial, then the gap */
	assert_int_equal(read_at(NULL, NOW, -1, 12, 3, w), EX_ADDR);    /* half a datetime */
	assert_int_equal(read_at(NULL, NOW, -1, 21, 1, w), EX_ADDR);    /* inside a string */
	assert_int_equal(read_at(NULL, NOW, -1, 65000, 1, w), EX_ADDR); /* past the map */
	assert_int_equal(read_at(NULL, NOW, -1, 65535, 1, w), EX_ADDR);
	assert_int_equal(read_at(NULL, NOW, -1, 65535, 125, w), EX_ADDR); /* wraps past 65535 */
	assert_int_equal(read_at(NULL, NOW, -1, 0, 0, w), EX_VALUE);
	for (unsigned i = 0; i < 130; i++)
		assert_int_equal(w[i], 0xA5A5); /* a refused read writes nothing */
	/* circuits the meter does not have */
	assert_int_equal(read_at(NULL, NOW, -1, 18000, 2, w), 0);
	assert_int_equal(read_at(NULL, NOW, -1, 2400, 1, w), 0);
	SET.meter.n_circuits = 2;
	assert_int_equal(read_at(NULL, NOW, -1, 18000, 2, w), EX_ADDR);
	assert_int_equal(read_at(NULL, NOW, -1, 22000, 2, w), EX_ADDR);
	assert_int_equal(read_at(NULL, NOW, -1, 2400, 1, w), EX_ADDR); /* C3.wiring */
	assert_int_equal(read_at(NULL, NOW, -1, 14000, 2, w), 0);
	expect_int("circuits", 2);
	SET.meter.n_circuits = 4;
	/* circuit views: circuit 3's values at circuit 1's addresses */
	assert_int_equal(read_at(NULL, NOW, 2, 10000, 2, w), 0);
	uint16_t e[2];
	enc_f32(e, 200.5);
	expect_regs(w, e, 2, "view 2: U1");
	assert_int_equal(read_at(NULL, NOW, 2, 10000 + 2 * BM_Q_P, 2, w), 0);
	assert_int_equal(w[0], 0x4365); /* 229.5 */
	assert_int_equal(read_at(NULL, NOW, 2, 14000, 2, w), EX_ADDR);
	assert_int_equal(read_at(NULL, NOW, 2, 18000, 2, w), EX_ADDR);
	assert_int_equal(read_at(NULL, NOW, 2, 2200, 1, w), EX_ADDR);
	SET.meter.circuit[2].wiring = BM_WIRING_1P2W;
	assert_int_equal(read_at(NULL, NOW, 2, 2000, 1, w), 0);
	assert_int_equal(w[0], BM_WIRING_1P2W);
	assert_int_equal(read_at(NULL, NOW, 2, 0, 2, w), 0); /* meter-wide items stay */
	assert_int_equal(w[0], 1);
	assert_int_equal(read_at(NULL, NOW, 3, 10000, 2, w), 0);
	enc_f32(e, 300.5);
	expect_regs(w, e, 2, "view 3: U1");
	SET.meter.n_circuits = 2;
	assert_int_equal(read_at(NULL, NOW, 2, 10000, 2, w), EX_ADDR); /* a view of a missing circuit */
	SET.meter.n_circuits = 4;
	/* before the first window: quantities read NaN, the rest still works */
	V.r = NULL;
	read_item("C2.U1", w);
	assert_true(isnan(dec_f32(w)));
	read_item("C2.HU1[2]", w);
	assert_true(isnan(dec_f32(w)));
	expect_int("map_version", 1);
	V.r = &R;
	R.n_circuits = 2; /* a result set for fewer circuits than the settings */
	read_item("C3.U1", w);
	assert_true(isnan(dec_f32(w)));
	R.n_circuits = 4;
	/* nothing in the view but settings: NaN and 0 */
	V.mt = NULL;
	V.id = NULL;
	read_item("C1.EP_imp", w);
	assert_true(isnan(dec_f32(w)));
	expect_int("C1.EP_imp_Wh", 0);
	expect_int("tariff", 0);
	read_item("vendor", w);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(w[i], 0);
}

/* ---- writes: sessions -------------------------------------------------------- */

static void test_write_sessions(void **state)
{
	(void)state;
	view_setup();
	fake_reset();
	bm_rm_session s = {0};
	uint32_t t = NOW;
	/* locked: 02, nothing committed */
	assert_int_equal(wr_f32(&s, t, 1011, 100.0), EX_ADDR);
	assert_int_equal(wr1(&s, t, 1121, 5), EX_ADDR);
	assert_int_equal(F.commits, 0);
	assert_int_equal(rd1(&s, t, 1001), 0);
	assert_int_equal(rd1(&s, t, 1005), 0);
	/* the settings password */
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	assert_int_equal(rd1(&s, t, 1001), 1);
	assert_int_equal(rd1(&s, t, 1005), 300);
	assert_int_equal(rd1(&s, t + 100, 1005), 200);
	assert_int_equal(rd1(&s, t, 1000), 0);
	/* an accepted write extends the unlock */
	assert_int_equal(wr_f32(&s, t + 100, 1011, 100.0), 0);
	assert_int_equal(F.commits, 1);
	assert_true(F.committed.meter.vt_ratio == 100.0);
	apply();
	assert_int_equal(rd1(&s, t + 100, 1005), 300);
	/* a refused one does not */
	assert_int_equal(wr_f32(&s, t + 200, 1011, 0.0), EX_VALUE);
	assert_int_equal(rd1(&s, t + 200, 1005), 200);
	/* expiry: 300 s after the last accepted write */
	assert_int_equal(rd1(&s, t + 399, 1001), 1);
	assert_int_equal(rd1(&s, t + 400, 1001), 0);
	assert_int_equal(rd1(&s, t + 400, 1005), 0);
	assert_int_equal(wr_f32(&s, t + 100 + 301, 1011, 50.0), EX_ADDR);
	assert_int_equal(F.commits, 1);

	/* a wrong password: 03 and the session is locked */
	t += 1000;
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	assert_int_equal(wr1(&s, t, 1000, 999), EX_VALUE);
	assert_int_equal(rd1(&s, t, 1001), 0);
	assert_int_equal(wr_f32(&s, t, 1011, 50.0), EX_ADDR);
	/* writing 0 to access locks; anything else is refused */
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	assert_int_equal(wr1(&s, t, 1001, 1), EX_VALUE);
	assert_int_equal(rd1(&s, t, 1001), 1);
	assert_int_equal(wr1(&s, t, 1001, 0), 0);
	assert_int_equal(rd1(&s, t, 1001), 0);
	assert_int_equal(wr_f32(&s, t, 1011, 50.0), EX_ADDR);
	assert_int_equal(F.commits, 1);

	/* four wrong in a row, then the right one: no lockout, counter restarts */
	t += 1000;
	memset(&s, 0, sizeof s);
	for (int k = 0; k < 4; k++)
		assert_int_equal(wr1(&s, t, 1000, (uint16_t)(1 + k)), EX_VALUE);
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	for (int k = 0; k < 4; k++)
		assert_int_equal(wr1(&s, t, 1000, (uint16_t)(1 + k)), EX_VALUE);
	assert_int_equal(wr1(&s, t + 1, 1000, 1000), 0);
	/* five wrong: lockout for 60 s, even for the right password */
	t += 1000;
	memset(&s, 0, sizeof s);
	for (int k = 0; k < 5; k++)
		assert_int_equal(wr1(&s, t + (uint32_t)k, 1000, 4242), EX_VALUE);
	uint32_t l = t + 4; /* the fifth */
	assert_int_equal(wr1(&s, l + 1, 1000, 1000), EX_VALUE);
	assert_int_equal(wr1(&s, l + 30, 1000, 1234), EX_VALUE);
	assert_int_equal(wr1(&s, l + 59, 1000, 1000), EX_VALUE);
	assert_int_equal(rd1(&s, l + 59, 1001), 0);
	assert_int_equal(wr_f32(&s, l + 59, 1011, 50.0), EX_ADDR);
	assert_int_equal(wr1(&s, l + 60, 1000, 1000), 0);
	assert_int_equal(rd1(&s, l + 60, 1001), 1);
	assert_int_equal(F.commits, 1);
	/* a lockout belongs to one session: another client is not affected */
	t += 1000;
	bm_rm_session s2 = {0};
	memset(&s, 0, sizeof s);
	for (int k = 0; k < 5; k++)
		assert_int_equal(wr1(&s, t, 1000, 4242), EX_VALUE);
	assert_int_equal(wr1(&s2, t, 1000, 1000), 0);

	/* the universal password (serial's last four digits) unlocks both */
	t += 1000;
	memset(&s, 0, sizeof s);
	assert_int_equal(wr1(&s, t, 1000, 1234), 0);
	assert_int_equal(rd1(&s, t, 1001), 3);
	assert_int_equal(wr1(&s, t, 1002, 1), 0);
	assert_int_equal(F.resets, 1);
	assert_int_equal(F.last_reset, BM_RM_RESET_ENERGY);
	assert_int_equal(wr_f32(&s, t, 1011, 20.0), 0);
	assert_int_equal(F.commits, 2);
	apply();
	/* a serial without four trailing digits has no universal password */
	strcpy(ID.serial, "BM-A1");
	memset(&s, 0, sizeof s);
	assert_int_equal(wr1(&s, t, 1000, 1234), EX_VALUE);
	assert_int_equal(wr1(&s, t, 1000, 1), EX_VALUE);
	/* leading zeros count as digits: "0042" is 42 */
	strcpy(ID.serial, "SN0042");
	assert_int_equal(wr1(&s, t, 1000, 1234), EX_VALUE);
	assert_int_equal(wr1(&s, t, 1000, 42), 0);
	assert_int_equal(rd1(&s, t, 1001), 3);
	strcpy(ID.serial, "BM00001234");

	/* the reset password unlocks resets only */
	t += 1000;
	memset(&s, 0, sizeof s);
	assert_int_equal(wr1(&s, t, 1000, 2000), 0);
	assert_int_equal(rd1(&s, t, 1001), 2);
	for (uint16_t k = 1; k <= 5; k++) {
		assert_int_equal(wr1(&s, t, 1002, k), 0);
		assert_int_equal(F.resets, 1 + k);
		assert_int_equal((int)F.last_reset, k);
	}
	assert_int_equal(wr1(&s, t, 1002, 0), EX_VALUE);
	assert_int_equal(wr1(&s, t, 1002, 6), EX_VALUE);
	assert_int_equal(wr1(&s, t, 1002, 0xFFFF), EX_VALUE);
	assert_int_equal(F.resets, 6);
	assert_int_equal(wr_f32(&s, t, 1011, 30.0), EX_ADDR); /* settings need the settings level */
	assert_int_equal(wr1(&s, t, 1003, 1111), EX_ADDR);
	assert_int_equal(F.commits, 2);
	/* the reset level is what reset_password needs */
	assert_int_equal(wr1(&s, t, 1004, 2222), 0);
	assert_int_equal(F.commits, 3);
	assert_int_equal(F.committed.reset_password, 2222);
	assert_int_equal(F.committed.settings_password, 1000);
	apply();
	/* a second password adds its level */
	t += 1000;
	memset(&s, 0, sizeof s);
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	assert_int_equal(wr1(&s, t, 1002, 1), EX_ADDR); /* settings level only */
	assert_int_equal(wr1(&s, t, 1004, 3333), EX_ADDR);
	assert_int_equal(wr1(&s, t, 1000, 2000), EX_VALUE); /* the old reset password */
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	assert_int_equal(wr1(&s, t, 1000, 2222), 0);
	assert_int_equal(rd1(&s, t, 1001), 3);
	assert_int_equal(F.resets, 6);
	/* the settings level can not be had through the reset password */
	memset(&s, 0, sizeof s);
	assert_int_equal(wr1(&s, t, 1000, 2222), 0);
	assert_int_equal(wr1(&s, t, 1003, 1111), EX_ADDR);

	/* a commit that fails is reported as is */
	memset(&s, 0, sizeof s);
	assert_int_equal(wr1(&s, t, 1000, 1000), 0);
	F.ret = BM_MB_EX_DEVICE_FAILURE;
	uint16_t v30[2];
	enc_f32(v30, 30.0);
	assert_int_equal(bm_rm_write(&V, &s, t, -1, &ACT, &F, 1011, 2, v30, NULL), BM_MB_EX_DEVICE_FAILURE);
	assert_int_equal(F.commits, 4);
	F.ret = 0;
}

/* ---- writes: settings -------------------------------------------------------- */

static bm_rm_session unlocked(uint32_t t)
{
	bm_rm_session s = {0};
	assert_int_equal(wr1(&s, t, 1000, 1234), 0);
	return s;
}

/* Writes that must be refused with `ex` and commit nothing. */
#define REFUSED(ex, call)                                  \
	do {                                                   \
		int c0_ = F.commits;                               \
		assert_int_equal((call), (ex));                    \
		assert_int_equal(F.commits, c0_);                  \
	} while (0)
/* Writes that must commit exactly once (then applied to the view). */
#define ACCEPTED(call)                                                 \
	do {                                                               \
		int c0_ = F.commits;                                           \
		assert_int_equal((call), 0);                                   \
		assert_int_equal(F.commits, c0_ + 1);                          \
		assert_int_equal(bm_settings_validate(&F.committed, NULL), BM_OK); \
		apply();                                                       \
	} while (0)

static void test_write_settings(void **state)
{
	(void)state;
	view_setup();
	fake_reset();
	uint32_t t = NOW;
	bm_rm_session s = unlocked(t);
	uint16_t w[32];

	/* vt_ratio */
	ACCEPTED(wr_f32(&s, t, 1011, 100.0));
	assert_true(SET.meter.vt_ratio == 100.0);
	REFUSED(EX_VALUE, wr_f32(&s, t, 1011, 0.0));
	REFUSED(EX_VALUE, wr_f32(&s, t, 1011, 20000.0));
	REFUSED(EX_VALUE, wr_f32(&s, t, 1011, NAN));
	REFUSED(EX_VALUE, wr_f32(&s, t, 1011, INFINITY));
	REFUSED(EX_VALUE, wr_f32(&s, t, 1011, -5.0));
	assert_true(SET.meter.vt_ratio == 100.0);
	ACCEPTED(wr_f32(&s, t, 1011, 10000.0));
	ACCEPTED(wr_f32(&s, t, 1011, 1.0));

	/* all or nothing across 1010..1016 */
	w[0] = 60;
	enc_f32(w + 1, 2.0);
	enc_f32(w + 3, 0.0); /* u_nominal 0: bad */
	enc_f32(w + 5, 1.0);
	REFUSED(EX_VALUE, wr(&s, t, 1010, 7, w));
	assert_int_equal(SET.meter.nominal_hz, 50);
	assert_true(SET.meter.vt_ratio == 1.0);
	enc_f32(w + 3, 400.0);
	w[0] = 61; /* bad frequency first */
	REFUSED(EX_VALUE, wr(&s, t, 1010, 7, w));
	w[0] = 60;
	enc_f32(w + 5, 401.0); /* u_min above the nominal in the same write */
	REFUSED(EX_VALUE, wr(&s, t, 1010, 7, w));
	enc_f32(w + 5, 4.0);
	ACCEPTED(wr(&s, t, 1010, 7, w));
	assert_int_equal(SET.meter.nominal_hz, 60);
	assert_true(SET.meter.vt_ratio == 2.0);
	assert_true(SET.meter.u_nominal_v == 400.0);
	assert_true(SET.meter.u_min_v == 4.0);

	/* read-only, half an item, a gap, a missing circuit */
	w[0] = 1;
	REFUSED(EX_ADDR, wr(&s, t, 0, 1, w));
	REFUSED(EX_ADDR, wr(&s, t, 1005, 1, w));
	enc_f32(w, 5.0);
	REFUSED(EX_ADDR, wr(&s, t, 10000, 2, w));
	REFUSED(EX_ADDR, wr(&s, t, 1011, 1, w));
	REFUSED(EX_ADDR, wr(&s, t, 1012, 2, w));
	REFUSED(EX_ADDR, wr(&s, t, 1006, 1, w));
	REFUSED(EX_ADDR, wr(&s, t, 1009, 2, w)); /* a gap, then nominal_hz */
	w[0] = 0;
	w[1] = 60;
	w[2] = 0;
	REFUSED(EX_ADDR, wr(&s, t, 1009, 3, w));
	REFUSED(EX_ADDR, wr(&s, t, 1153, 2, w)); /* brightness, then past the block */
	REFUSED(EX_ADDR, wr(&s, t, 65535, 2, w));
	SET.meter.n_circuits = 2;
	REFUSED(EX_ADDR, wr1(&s, t, 2400, 1));
	ACCEPTED(wr1(&s, t, 2200, 1));
	assert_int_equal(SET.meter.circuit[1].wiring, BM_WIRING_3P4W_3CT);
	SET.meter.n_circuits = 4;
	/* a write that is partly read-only */
	w[0] = 1;
	w[1] = 1;
	REFUSED(EX_ADDR, wr(&s, t, 1004, 2, w));

	/* integers that must not wrap into range */
	REFUSED(EX_VALUE, wr1(&s, t, 1121, 257));
	REFUSED(EX_VALUE, wr1(&s, t, 1121, 0));
	REFUSED(EX_VALUE, wr1(&s, t, 1121, 248));
	assert_int_equal(SET.comm.address, 1);
	ACCEPTED(wr1(&s, t, 1121, 247));
	assert_int_equal(SET.comm.address, 247);
	REFUSED(EX_VALUE, wr1(&s, t, 1010, 50 + 256)); /* nominal_hz is 8-bit inside */
	REFUSED(EX_VALUE, wr1(&s, t, 1150, 257));      /* language */
	REFUSED(EX_VALUE, wr1(&s, t, 2000, 256));      /* wiring */
	REFUSED(EX_VALUE, wr1(&s, t, 1080, 256 + 1)); /* tariff_mode */
	/* baud */
	enc_int(w, 9601, 2);
	REFUSED(EX_VALUE, wr(&s, t, 1122, 2, w));
	enc_int(w, 9600 + 65536ull, 2);
	REFUSED(EX_VALUE, wr(&s, t, 1122, 2, w));
	enc_int(w, 19200, 2);
	ACCEPTED(wr(&s, t, 1122, 2, w));
	assert_int_equal(SET.comm.baud, 19200);
	enc_int(w, 115200, 2);
	ACCEPTED(wr(&s, t, 1122, 2, w));
	assert_int_equal(SET.comm.baud, 115200);
	/* utc_offset, a signed 32-bit value */
	enc_int(w, (uint32_t)(int32_t)-18000, 2);
	ACCEPTED(wr(&s, t, 1105, 2, w));
	assert_int_equal(SET.metering.utc_offset_s, -18000);
	enc_int(w, (uint32_t)(int32_t)-43201, 2);
	REFUSED(EX_VALUE, wr(&s, t, 1105, 2, w));
	enc_int(w, 50401, 2);
	REFUSED(EX_VALUE, wr(&s, t, 1105, 2, w));
	/* rollover, U64 Wh */
	enc_int(w, 5000000ull, 4);
	ACCEPTED(wr(&s, t, 1107, 4, w));
	assert_true(SET.metering.rollover_wh == 5e6);
	enc_int(w, 999, 4);
	REFUSED(EX_VALUE, wr(&s, t, 1107, 4, w));
	enc_int(w, 0xFFFFFFFFFFFFFFFFull, 4);
	REFUSED(EX_VALUE, wr(&s, t, 1107, 4, w));
	/* IP addresses and the netmask */
	enc_int(w, 0x0A000005u, 2);
	ACCEPTED(wr(&s, t, 1129, 2, w));
	assert_int_equal(SET.comm.ip, 0x0A000005u);
	enc_int(w, 0xFFFF00FFu, 2);
	REFUSED(EX_VALUE, wr(&s, t, 1131, 2, w));
	enc_int(w, 0xFFFF0000u, 2);
	ACCEPTED(wr(&s, t, 1131, 2, w));
	/* tariff_select */
	for (uint16_t k = 1; k <= 6; k++) {
		ACCEPTED(wr1(&s, t, 1071, k));
		assert_int_equal(SET.metering.manual_tariff, k);
	}
	REFUSED(EX_VALUE, wr1(&s, t, 1071, 0));
	REFUSED(EX_VALUE, wr1(&s, t, 1071, 7));
	assert_int_equal(SET.metering.manual_tariff, 6);

	/* 1072: period P starts at HHMM; appended in order; ascending */
	assert_int_equal(SET.metering.n_periods, 1);
	ACCEPTED(wr1(&s, t, 1072, 10000 + 730));
	assert_int_equal(SET.metering.period[0].start_min, 7 * 60 + 30);
	assert_int_equal(SET.metering.n_periods, 1);
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 30000 + 1300)); /* Tc before Tb */
	ACCEPTED(wr1(&s, t, 1072, 20000 + 1200));
	assert_int_equal(SET.metering.n_periods, 2);
	assert_int_equal(SET.metering.period[1].start_min, 12 * 60);
	expect_int("periods", 2);
	expect_int("Tb.start", 1200);
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 10000 + 1300)); /* Ta after Tb */
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 10000 + 1200)); /* equal */
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 20000 + 730));
	assert_int_equal(SET.metering.period[0].start_min, 7 * 60 + 30);
	assert_int_equal(SET.metering.period[1].start_min, 12 * 60);
	assert_int_equal(SET.metering.n_periods, 2);
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 10000 + 2400)); /* not a time */
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 10000 + 760));
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 730));         /* P = 0 */
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 60000 + 730)); /* Tf while two are in use */
	ACCEPTED(wr1(&s, t, 1072, 10000 + 0));
	assert_int_equal(SET.metering.period[0].start_min, 0);
	/* 1073: period P uses tariff T */
	ACCEPTED(wr1(&s, t, 1073, 23));
	assert_int_equal(SET.metering.period[1].tariff, 3);
	expect_int("Tb.tariff", 3);
	ACCEPTED(wr1(&s, t, 1073, 16));
	assert_int_equal(SET.metering.period[0].tariff, 6);
	REFUSED(EX_VALUE, wr1(&s, t, 1073, 33)); /* Tc not in use */
	REFUSED(EX_VALUE, wr1(&s, t, 1073, 20)); /* tariff 0 */
	REFUSED(EX_VALUE, wr1(&s, t, 1073, 27));
	REFUSED(EX_VALUE, wr1(&s, t, 1073, 3));  /* P = 0 */
	assert_int_equal(SET.metering.period[1].tariff, 3);

	/* the table as a whole: 1081..1093, ascending to another ascending */
	static const uint16_t tab1[13] = {3, 600, 1200, 1800, 0, 0, 0, 1, 2, 3, 1, 1, 1};
	ACCEPTED(wr(&s, t, 1081, 13, tab1));
	assert_int_equal(SET.metering.n_periods, 3);
	assert_int_equal(SET.metering.period[2].start_min, 18 * 60);
	assert_int_equal(SET.metering.period[2].tariff, 3);
	/* one at a time, the first of these is already out of order */
	REFUSED(EX_VALUE, wr1(&s, t, 1082, 1900));
	REFUSED(EX_VALUE, wr1(&s, t, 1072, 10000 + 1900));
	static const uint16_t tab2[13] = {3, 1900, 2000, 2100, 0, 0, 0, 4, 5, 6, 1, 1, 1};
	ACCEPTED(wr(&s, t, 1081, 13, tab2));
	assert_int_equal(SET.metering.period[0].start_min, 19 * 60);
	assert_int_equal(SET.metering.period[1].start_min, 20 * 60);
	assert_int_equal(SET.metering.period[2].start_min, 21 * 60);
	assert_int_equal(SET.metering.period[0].tariff, 4);
	assert_int_equal(SET.metering.period[2].tariff, 6);
	static const uint16_t tab3[13] = {4, 100, 200, 300, 250, 0, 0, 1, 1, 1, 1, 1, 1};
	REFUSED(EX_VALUE, wr(&s, t, 1081, 13, tab3)); /* Td before Tc */
	static const uint16_t tab4[13] = {2, 100, 200, 300, 250, 0, 0, 1, 1, 1, 1, 1, 7};
	REFUSED(EX_VALUE, wr(&s, t, 1081, 13, tab4)); /* tariff 7, even unused */
	static const uint16_t tab5[13] = {7, 100, 200, 300, 400, 500, 600, 1, 1, 1, 1, 1, 1};
	REFUSED(EX_VALUE, wr(&s, t, 1081, 13, tab5)); /* 7 periods */
	static const uint16_t tab6[13] = {0, 100, 200, 300, 400, 500, 600, 1, 1, 1, 1, 1, 1};
	REFUSED(EX_VALUE, wr(&s, t, 1081, 13, tab6));
	assert_int_equal(SET.metering.n_periods, 3);
	assert_int_equal(SET.metering.period[0].start_min, 19 * 60);
	/* fewer periods: the rest of the table stays but is not checked */
	static const uint16_t tab7[7] = {2, 100, 50};
	REFUSED(EX_VALUE, wr(&s, t, 1081, 3, tab7));
	static const uint16_t tab8[7] = {1, 100, 50};
	ACCEPTED(wr(&s, t, 1081, 3, tab8));
	assert_int_equal(SET.metering.n_periods, 1);
	/* 1072 appends after the table shrank, with the previous tariff */
	ACCEPTED(wr1(&s, t, 1072, 20000 + 1700));
	assert_int_equal(SET.metering.n_periods, 2);
	assert_int_equal(SET.metering.period[1].tariff, SET.metering.period[0].tariff);

	/* CT ratio: every CT input's primary = ratio × secondary */
	ACCEPTED(wr_f32(&s, t, 2003, 200.0));
	for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
		assert_true(SET.meter.circuit[0].sensor[p].primary_a == 1000.0);
		assert_true(SET.meter.circuit[0].sensor[p].nominal_a == 1000.0);
	}
	assert_true(SET.meter.circuit[1].sensor[0].primary_a == 5.0);
	expect_f32("C1.ct_ratio", 200.0);
	expect_f32("C1.I3.primary", 1000.0);
	REFUSED(EX_VALUE, wr_f32(&s, t, 2003, 0.5));
	REFUSED(EX_VALUE, wr_f32(&s, t, 2003, 20000.0));
	REFUSED(EX_VALUE, wr_f32(&s, t, 2003, NAN));
	/* a circuit whose inputs are not CTs has no CT ratio */
	SET.meter.circuit[3].sensor[0].type = BM_SENSOR_RCOIL;
	SET.meter.circuit[3].sensor[0].secondary = 85.0;
	read_item("C4.ct_ratio", w);
	assert_true(isnan(dec_f32(w)));
	for (unsigned p = 1; p < BM_PHASE_INPUTS; p++) {
		SET.meter.circuit[3].sensor[p].type = BM_SENSOR_VCT;
		SET.meter.circuit[3].sensor[p].secondary = 333.0;
	}
	assert_int_equal(bm_settings_validate(&SET, NULL), BM_OK);
	REFUSED(EX_VALUE, wr_f32(&s, t, 2603, 10.0));
	/* a circuit view writes its own circuit's settings at circuit 1's addresses */
	{
		uint16_t r2[2];
		enc_f32(r2, 40.0);
		int c0 = F.commits;
		assert_int_equal(bm_rm_write(&V, &s, t, 2, &ACT, &F, 2003, 2, r2, NULL), 0);
		assert_int_equal(F.commits, c0 + 1);
		apply();
		assert_true(SET.meter.circuit[2].sensor[0].primary_a == 200.0);
		assert_true(SET.meter.circuit[0].sensor[0].primary_a == 1000.0);
		assert_int_equal(bm_rm_write(&V, &s, t, 2, &ACT, &F, 2203, 2, r2, NULL), EX_ADDR);
		assert_int_equal(F.commits, c0 + 1);
	}
	/* sensor fields checked as a whole: a CT ratio above 10000 */
	REFUSED(EX_VALUE, wr_f32(&s, t, 2011, 60000.0));
	ACCEPTED(wr_f32(&s, t, 2011, 40000.0));

	/* passwords: settings_password 0..9999, applied to later unlocks */
	REFUSED(EX_VALUE, wr1(&s, t, 1003, 10000));
	ACCEPTED(wr1(&s, t, 1003, 4321));
	assert_int_equal(SET.settings_password, 4321);
	assert_int_equal(rd1(&s, t, 1003), 0);
	bm_rm_session s2 = {0};
	assert_int_equal(wr1(&s2, t, 1000, 1000), EX_VALUE);
	assert_int_equal(wr1(&s2, t, 1000, 4321), 0);
	assert_int_equal(rd1(&s2, t, 1001), 1);
	assert_int_equal(wr1(&s2, t, 1004, 1), EX_ADDR); /* reset_password needs the reset level */
	ACCEPTED(wr1(&s, t, 1004, 0));
	assert_int_equal(SET.reset_password, 0);
	REFUSED(EX_VALUE, wr1(&s, t, 1004, 10000));
	/* a password changed together with other settings in one write */
	w[0] = 5555;
	w[1] = 6666;
	ACCEPTED(wr(&s, t, 1003, 2, w));
	assert_int_equal(SET.settings_password, 5555);
	assert_int_equal(SET.reset_password, 6666);
	/* a write without the reset level is refused as a whole */
	REFUSED(EX_ADDR, wr(&s2, t, 1003, 2, w));

	/* display */
	REFUSED(EX_VALUE, wr1(&s, t, 1153, 0));
	REFUSED(EX_VALUE, wr1(&s, t, 1153, 6));
	ACCEPTED(wr1(&s, t, 1153, 5));
	assert_int_equal(SET.hmi.brightness, 5);
}

static void test_write_clock_and_commands(void **state)
{
	(void)state;
	view_setup();
	fake_reset();
	uint32_t t = NOW;
	bm_rm_session locked = {0};
	bm_rm_session s = unlocked(t);
	uint16_t w[16];

	/* rtc: Unix time through set_clock */
	enc_int(w, 1772366400u, 2); /* 2026-03-01T12:00:00Z */
	assert_int_equal(wr(&locked, t, 10, 2, w), EX_ADDR);
	assert_int_equal(F.clocks, 0);
	assert_int_equal(wr(&s, t, 10, 2, w), 0);
	assert_int_equal(F.clocks, 1);
	assert_true(F.last_clock == naive_join(2026, 3, 1, 12, 0, 0));
	assert_true(F.last_clock == 1772366400);
	enc_int(w, 900000000u, 2); /* 1998 */
	assert_int_equal(wr(&s, t, 10, 2, w), EX_VALUE);
	assert_int_equal(wr(&s, t, 10, 1, w), EX_ADDR);
	assert_int_equal(F.clocks, 1);
	assert_int_equal(F.commits, 0);

	/* datetime in local time (utc_offset +1 h) */
	SET.metering.utc_offset_s = 3600;
	static const uint16_t feb30[6] = {2026, 2, 30, 12, 0, 0};
	assert_int_equal(wr(&s, t, 12, 6, feb30), EX_VALUE);
	static const uint16_t bad[][6] = {
		{2026, 13, 1, 0, 0, 0}, {2026, 0, 1, 0, 0, 0}, {2026, 1, 0, 0, 0, 0},   {2026, 1, 1, 24, 0, 0},
		{2026, 1, 1, 0, 60, 0}, {2026, 1, 1, 0, 0, 60}, {1999, 12, 31, 0, 0, 0}, {2100, 1, 1, 0, 0, 0},
		{2026, 257, 1, 0, 0, 0}, {2026, 1, 257, 0, 0, 0}, {2026, 1, 1, 256, 0, 0}, {2025, 2, 29, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(wr(&s, t, 12, 6, bad[i]), EX_VALUE);
	assert_int_equal(F.clocks, 1);
	static const uint16_t mar1[6] = {2026, 3, 1, 12, 0, 0};
	assert_int_equal(wr(&locked, t, 12, 6, mar1), EX_ADDR);
	assert_int_equal(wr(&s, t, 12, 3, mar1), EX_ADDR);
	assert_int_equal(wr(&s, t, 12, 6, mar1), 0);
	assert_int_equal(F.clocks, 2);
	assert_true(F.last_clock == naive_join(2026, 3, 1, 12, 0, 0) - 3600);
	static const uint16_t leap[6] = {2028, 2, 29, 23, 59, 59};
	SET.metering.utc_offset_s = -34200; /* UTC-9:30 */
	assert_int_equal(wr(&s, t, 12, 6, leap), 0);
	assert_true(F.last_clock == naive_join(2028, 2, 29, 23, 59, 59) + 34200);
	/* and reading it back (with the RTC at that time) gives the same fields */
	V.rtc_unix = F.last_clock;
	read_item("datetime", w);
	expect_regs(w, leap, 6, "datetime back");
	assert_int_equal(F.commits, 0);

	/* a command written together with anything else: 03, nothing done */
	uint16_t both[8] = {0, 0, 2026, 3, 1, 12, 0, 0};
	enc_int(both, 1772366400u, 2);
	assert_int_equal(wr(&s, t, 10, 8, both), EX_VALUE);
	w[0] = 1;
	w[1] = 4444;
	assert_int_equal(wr(&s, t, 1002, 2, w), EX_VALUE); /* reset + settings_password */
	w[0] = 1234;
	w[1] = 0;
	assert_int_equal(wr(&s, t, 1000, 2, w), EX_VALUE); /* unlock + access */
	w[0] = 0;
	w[1] = 1;
	assert_int_equal(wr(&s, t, 1001, 2, w), EX_VALUE); /* access + reset */
	assert_int_equal(F.clocks, 3);
	assert_int_equal(F.resets, 0);
	assert_int_equal(F.commits, 0);
	assert_int_equal(rd1(&s, t, 1001), 3);
	/* the clock write extends the unlock too */
	assert_int_equal(rd1(&s, t + 250, 1005), 50);
	enc_int(w, 1772366400u, 2);
	assert_int_equal(wr(&s, t + 250, 10, 2, w), 0);
	assert_int_equal(rd1(&s, t + 250, 1005), 300);
	/* refused commands do not */
	assert_int_equal(wr1(&s, t + 260, 1002, 9), EX_VALUE);
	assert_int_equal(wr(&s, t + 260, 12, 6, feb30), EX_VALUE);
	assert_int_equal(rd1(&s, t + 260, 1005), 290);
}

/* ---- the settings validator -------------------------------------------------- */

static void test_settings_validate(void **state)
{
	(void)state;
	bm_settings d, b;
	bm_cfg_issue is;
	bm_settings_default(&d, NULL);
	assert_int_equal(bm_settings_validate(&d, &is), BM_OK);
	assert_int_equal(d.comm.baud, 9600);
	assert_int_equal(d.comm.address, 1);
	assert_int_equal(d.comm.tcp_port, 502);
	assert_int_equal(d.comm.ip, (192u << 24) | (168u << 16) | (1u << 8) | 31u);
	assert_int_equal(d.settings_password, 1000);
	assert_int_equal(d.reset_password, 2000);
	assert_int_equal(d.meter.n_circuits, 4);
	/* the meter part comes from the caller */
	bm_meter_cfg m;
	bm_config_default(&m);
	m.n_circuits = 2;
	m.vt_ratio = 60.0;
	bm_settings_default(&b, &m);
	assert_int_equal(b.meter.n_circuits, 2);
	assert_true(b.meter.vt_ratio == 60.0);
	assert_int_equal(bm_settings_validate(&b, NULL), BM_OK);
	assert_int_equal(bm_settings_validate(NULL, &is), BM_E_INVAL);
	/* baud rates: exactly the spec's seven */
	static const uint32_t ok_baud[] = {2400, 4800, 9600, 19200, 38400, 57600, 115200};
	for (size_t i = 0; i < sizeof ok_baud / sizeof ok_baud[0]; i++) {
		assert_true(bm_settings_baud_ok(ok_baud[i]));
		assert_false(bm_settings_baud_ok(ok_baud[i] + 1));
		assert_false(bm_settings_baud_ok(ok_baud[i] - 1));
	}
	assert_false(bm_settings_baud_ok(0));
	assert_false(bm_settings_baud_ok(1200));
	assert_false(bm_settings_baud_ok(230400));
	/* each rule, and the field it names */
#define BAD(field_name, stmt)                                       \
	do {                                                            \
		b = d;                                                      \
		stmt;                                                       \
		memset(&is, 0, sizeof is);                                  \
		assert_int_equal(bm_settings_validate(&b, &is), BM_E_INVAL); \
		assert_non_null(is.reason);                                 \
		assert_string_equal(is.field, field_name);                  \
	} while (0)
	BAD("vt_ratio", b.meter.vt_ratio = 0.5);                 /* the measurement validator */
	BAD("utc_offset_s", b.metering.utc_offset_s = 50401);     /* the metering validator */
	BAD("rs485_enabled", b.comm.rs485_enabled = 2);
	BAD("address", b.comm.address = 0);
	BAD("address", b.comm.address = 248);
	BAD("baud", b.comm.baud = 9601);
	BAD("parity", b.comm.parity = 3);
	BAD("stop_bits", b.comm.stop_bits = 0);
	BAD("stop_bits", b.comm.stop_bits = 3);
	BAD("tcp_enabled", b.comm.tcp_enabled = 2);
	BAD("tcp_port", b.comm.tcp_port = 0);
	BAD("dhcp", b.comm.dhcp = 2);
	BAD("netmask", b.comm.netmask = 0xFFFF00FFu);
	BAD("netmask", b.comm.netmask = 0x00FFFFFFu);
	BAD("web_enabled", b.comm.web_enabled = 2);
	BAD("web_port", b.comm.web_port = 0);
	BAD("ftp_enabled", b.comm.ftp_enabled = 2);
	BAD("ftp_port", b.comm.ftp_port = 0);
	BAD("language", b.hmi.language = 2);
	BAD("key_tone", b.hmi.key_tone = 2);
	BAD("backlight_min", b.hmi.backlight_min = 6);
	BAD("brightness", b.hmi.brightness = 0);
	BAD("brightness", b.hmi.brightness = 6);
	BAD("settings_password", b.settings_password = 10000);
	BAD("reset_password", b.reset_password = 10000);
#undef BAD
	/* the edges that are fine */
	b = d;
	b.comm.address = 247;
	b.comm.stop_bits = 2;
	b.comm.parity = BM_PARITY_EVEN;
	b.comm.netmask = 0xFFFFFFFFu;
	b.comm.tcp_port = 65535;
	b.hmi.backlight_min = 0;
	b.hmi.language = 0;
	b.settings_password = 9999;
	b.reset_password = 0;
	assert_int_equal(bm_settings_validate(&b, NULL), BM_OK);
}

/* ---- randomized ------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static uint32_t rnd_below(uint32_t n)
{
	return rnd() % n;
}

static uint16_t IMG[65536]; /* what every item read last */
static int16_t ITEM_AT[65536]; /* index in INFO of the item starting here, or -1 */

static void refresh_image(void)
{
	for (size_t i = 0; i < N_INFO && INFO[i].addr < 10000; i++)
		assert_int_equal(read_at(NULL, NOW, -1, INFO[i].addr, INFO[i].regs, IMG + INFO[i].addr), 0);
}

/* A value for one item: mostly plausible, sometimes hostile. */
static void random_item(const bm_rm_info *in, uint16_t *out)
{
	uint32_t k = rnd_below(16);
	memcpy(out, IMG + in->addr, in->regs * sizeof *out);
	if (k < 6)
		return; /* unchanged */
	if (in->type == BM_RT_F32) {
		static const double pick[] = {0.0, 0.5, 1.0, 2.0, 5.0, 50.0, 230.0, 1000.0, 9999.0, 20000.0, 1e7, -1.0, -0.0};
		double x = k < 13 ? pick[rnd_below(sizeof pick / sizeof pick[0])] : ldexp((double)rnd_below(1000), (int)rnd_below(40) - 20);
		if (k == 15)
			x = rnd_below(2) ? NAN : INFINITY;
		enc_f32(out, x);
		return;
	}
	if (k < 12) {
		uint64_t small = rnd_below(8);
		if (in->unit && !strcmp(in->unit, "hhmm"))
			small = rnd_below(24) * 100 + rnd_below(60);
		else if (!strcmp(in->name, "period_start"))
			small = (1 + rnd_below(6)) * 10000 + rnd_below(24) * 100 + rnd_below(60);
		else if (!strcmp(in->name, "period_tariff"))
			small = (1 + rnd_below(6)) * 10 + rnd_below(8);
		else if (!strcmp(in->name, "baud"))
			small = rnd_below(2) ? 19200 : 9601;
		else if (!strcmp(in->name, "rtc"))
			small = 946684800u + rnd_below(0x7FFFFFFF);
		enc_int(out, small, in->regs);
		return;
	}
	for (unsigned i = 0; i < in->regs; i++)
		out[i] = (uint16_t)rnd();
}

static bool is_command(const bm_rm_info *in)
{
	return !strcmp(in->name, "unlock") || !strcmp(in->name, "access") || !strcmp(in->name, "reset") ||
	       !strcmp(in->name, "rtc") || !strcmp(in->name, "datetime") || !strcmp(in->name, "event_select") ||
	       strstr(in->name, ".command") != NULL;
}

/* Items whose read-back differs from what was written by design. */
static bool reads_other(const bm_rm_info *in)
{
	return in->access == BM_RA_W || strstr(in->name, "ct_ratio") != NULL;
}

static void test_random_writes(void **state)
{
	(void)state;
	view_setup();
	fake_reset();
	size_t n = collect(4);
	for (size_t a = 0; a < 65536; a++)
		ITEM_AT[a] = -1;
	size_t n_settings = 0;
	for (size_t i = 0; i < n; i++) {
		ITEM_AT[INFO[i].addr] = (int16_t)i;
		if (INFO[i].addr < 10000)
			n_settings = i + 1;
	}
	refresh_image();
	bm_rm_session s = {0};
	uint32_t t = NOW;
	unsigned accepted = 0, refused = 0, commands = 0;
	static uint16_t buf[300];
	for (int iter = 0; iter < 6000; iter++) {
		t++;
		if (!(s.level == 3 && t < s.until_s)) {
			memset(&s, 0, sizeof s);
			assert_int_equal(wr1(&s, t, 1000, 1234), 0);
		}
		/* where: mostly the start of a settings item, sometimes anywhere */
		uint16_t addr, count = 0;
		uint32_t how = rnd_below(10);
		if (how < 7) {
			size_t i = rnd_below((uint32_t)n_settings);
			addr = INFO[i].addr;
			size_t items = 1 + (rnd_below(4) == 0 ? rnd_below(12) : 0);
			uint32_t regs = 0;
			for (size_t j = i; j < n_settings && j < i + items; j++)
				regs = INFO[j].addr + INFO[j].regs - addr;
			count = (uint16_t)(regs > 123 ? 123 : regs);
			if (rnd_below(8) == 0)
				count = (uint16_t)(count + rnd_below(3)) - 1; /* cut or run over */
		} else if (how < 9) {
			addr = (uint16_t)(990 + rnd_below(1200));
			count = (uint16_t)rnd_below(20);
		} else {
			addr = (uint16_t)rnd();
			count = (uint16_t)rnd_below(124);
		}
		if (count == 0)
			count = 1;
		/* what: per whole item where the range is aligned, else noise */
		bool command = false;
		for (uint32_t a = addr; a < (uint32_t)addr + count;) {
			int16_t it = a < 65536 ? ITEM_AT[a] : -1;
			if (it >= 0 && a + INFO[it].regs <= (uint32_t)addr + count) {
				random_item(&INFO[it], buf + (a - addr));
				command |= is_command(&INFO[it]);
				a += INFO[it].regs;
			} else {
				buf[a - addr] = (uint16_t)rnd();
				a++;
			}
		}
		fake f0 = F;
		const char *what = NULL;
		int ex = bm_rm_write(&V, &s, t, -1, &ACT, &F, addr, count, buf, &what);
		if (ex != 0) {
			assert_non_null(what);
			assert_int_equal(F.commits, f0.commits);
			assert_int_equal(F.resets, f0.resets);
			assert_int_equal(F.clocks, f0.clocks);
			refused++;
			continue;
		}
		if (command) {
			assert_int_equal(F.commits, f0.commits);
			commands++;
			continue;
		}
		accepted++;
		if (F.commits != f0.commits + 1) {
			print_error("write %u+%u: %d commits\n", addr, count, F.commits - f0.commits);
			fail();
		}
		assert_int_equal(F.resets + F.clocks, f0.resets + f0.clocks);
		bm_cfg_issue is;
		if (bm_settings_validate(&F.committed, &is) != BM_OK) {
			print_error("write %u+%u committed invalid settings: %s %s\n", addr, count, is.field, is.reason);
			fail();
		}
		apply();
		refresh_image();
		/* an accepted write reads back as written */
		for (uint32_t a = addr; a < (uint32_t)addr + count;) {
			int16_t it = ITEM_AT[a];
			assert_true(it >= 0);
			if (!reads_other(&INFO[it]))
				expect_regs(IMG + a, buf + (a - addr), INFO[it].regs, INFO[it].name);
			a += INFO[it].regs;
		}
	}
	print_message("random writes: %u accepted, %u refused, %u commands\n", accepted, refused, commands);
	/* the mix exercised both outcomes */
	assert_true(accepted > 300);
	assert_true(refused > 1000);
	assert_true(commands > 10);
}

static void test_random_reads(void **state)
{
	(void)state;
	view_setup();
	size_t n = collect(4);
	for (size_t a = 0; a < 65536; a++)
		ITEM_AT[a] = -1;
	for (size_t i = 0; i < n; i++)
		ITEM_AT[INFO[i].addr] = (int16_t)i;
	bm_rm_session s = {0};
	assert_int_equal(wr1(&s, NOW, 1000, 1000), 0);
	static uint16_t buf[300], one[BM_RM_ITEM_MAX_REGS];
	unsigned ok = 0;
	for (int iter = 0; iter < 6000; iter++) {
		uint16_t addr, count;
		uint32_t how = rnd_below(4);
		if (how < 2) {
			size_t i = rnd_below((uint32_t)n);
			addr = INFO[i].addr;
			count = (uint16_t)(1 + rnd_below(125));
		} else if (how < 3) {
			addr = (uint16_t)(rnd_below(2) ? 10000 + rnd_below(16000) : rnd_below(2500));
			count = (uint16_t)(1 + rnd_below(125));
		} else {
			addr = (uint16_t)rnd();
			count = (uint16_t)(1 + rnd_below(250));
		}
		int cv = rnd_below(5) == 0 ? (int)rnd_below(4) : -1;
		for (unsigned i = 0; i < 300; i++)
			buf[i] = 0x5AA5;
		int ex = bm_rm_read(&V, &s, NOW, cv, addr, count, buf);
		for (unsigned i = count; i < 300; i++)
			assert_int_equal(buf[i], 0x5AA5); /* guard */
		if (ex) {
			assert_int_equal(ex, EX_ADDR);
			for (unsigned i = 0; i < count; i++)
				assert_int_equal(buf[i], 0x5AA5);
			continue;
		}
		ok++;
		/* the same as reading each item alone */
		for (uint32_t a = addr; a < (uint32_t)addr + count;) {
			int16_t it = ITEM_AT[a];
			assert_true(it >= 0);
			assert_int_equal(bm_rm_read(&V, &s, NOW, cv, (uint16_t)a, INFO[it].regs, one), 0);
			for (unsigned k = 0; k < INFO[it].regs; k++)
				assert_int_equal(buf[a - addr + k], one[k]);
			a += INFO[it].regs;
		}
	}
	assert_true(ok > 500);
}

/* What the model lacks answers 02 (docs/models.md), to reads and writes,
 * and the `requires` column says what each item needs. */
static void test_absent_parts(void **state)
{
	(void)state;
	view_setup();
	SET.caps = (bm_io_caps){1, 0, 0x01, 0x02}; /* one relay, no inputs, T on C1, residual on C2 */
	size_t n = collect(4);
	bm_rm_session ses = {0};
	unsigned absent = 0, present = 0;
	uint16_t buf[BM_RM_ITEM_MAX_REGS];
	for (size_t i = 0; i < n; i++) {
		const bm_rm_info *in = &INFO[i];
		bool has = true;
		unsigned k;
		if (sscanf(in->requires, "relay %u", &k) == 1)
			has = k <= 1;
		else if (sscanf(in->requires, "input %u", &k) == 1 || !strcmp(in->requires, "inputs"))
			has = false;
		else if (!strcmp(in->requires, "temperature"))
			has = in->circuit == 0;
		else if (!strcmp(in->requires, "residual current"))
			has = in->circuit == 1;
		else
			assert_string_equal(in->requires, "");
		int ex = read_at(&ses, NOW, -1, in->addr, in->regs, buf);
		if (has) {
			assert_int_equal(ex, 0);
			present++;
		} else {
			if (ex != EX_ADDR) {
				print_error("%s (needs %s) read: exception %d, want 02\n", in->name, in->requires, ex);
				fail();
			}
			absent++;
		}
	}
	assert_true(absent > 50 && present > 4000);
	/* a write to an absent part is refused as absent, even unlocked */
	fake_reset();
	assert_int_equal(wr1(&ses, NOW, 1000, 1234), 0);
	assert_int_equal(wr1(&ses, NOW, addr_of("DO2.mode"), 0), EX_ADDR);
	assert_int_equal(wr1(&ses, NOW, addr_of("DO1.mode"), 0), 0);
	assert_int_equal(wr1(&ses, NOW, addr_of("DI1.alarm"), 1), EX_ADDR);
	assert_int_equal(wr1(&ses, NOW, addr_of("C2.over_t.enabled"), 1), EX_ADDR);
	assert_int_equal(wr1(&ses, NOW, addr_of("C1.over_t.enabled"), 1), 0);
	assert_int_equal(wr1(&ses, NOW, addr_of("C2.over_ires.enabled"), 1), 0);
	assert_int_equal(wr1(&ses, NOW, addr_of("C1.over_ires.enabled"), 1), EX_ADDR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_invariants),
		cmocka_unit_test(test_absent_parts),
		cmocka_unit_test(test_table_every_address),
		cmocka_unit_test(test_table_write_back),
		cmocka_unit_test(test_codecs),
		cmocka_unit_test(test_read_values),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_write_sessions),
		cmocka_unit_test(test_write_settings),
		cmocka_unit_test(test_write_clock_and_commands),
		cmocka_unit_test(test_settings_validate),
		cmocka_unit_test(test_random_writes),
		cmocka_unit_test(test_random_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
