/*
 * test_model.c — model codes (core/src/model.c).
 *
 * What is checked, against expectations written out in the tables here
 * (from the KPM312 datasheet "Rated Parameters" / "Expandable Functions"
 * and the MPM4000 manual §2.2, §4.5, §5.9):
 *  - every derived field of valid codes of both families: the manual's
 *    three examples, "KPM312" alone, ratings in any channel order, options
 *    in any order, with or without '-', in any letter case;
 *  - invalid codes are BM_E_INVAL with a why that names the problem, and
 *    *out keeps every byte it had (filled with a pattern first);
 *  - describe() text for a few models, and truncation into every buffer
 *    length from 0 up: NUL-terminated, a prefix of the full text, guard
 *    bytes after the buffer untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bm/model.h"

typedef struct valid_case {
	const char *in, *code;
	uint8_t family, n_circuits, sensor;
	double rated[4];
	uint8_t n_do, n_di, temperature, residual, radio, ethernet;
	char supply;
} valid_case;

#define KPM BM_FAMILY_KPM312
#define MPM BM_FAMILY_MPM4000
#define CT BM_SENSOR_CT
#define RC BM_SENSOR_RCOIL
#define VC BM_SENSOR_VCT
#define NONE BM_RADIO_NONE
#define R4G BM_RADIO_4G
#define WIFI BM_RADIO_WIFI
#define LORA BM_RADIO_LORA
#define A5 {5, 5, 5, 5}
#define Z0 {0, 0, 0, 0}

static const valid_case valid[] = {
	/* in, normalised code, family, circuits, sensor, rated, DO, DI, temp, residual, radio, eth, supply */
	{"KPM312", "KPM312", KPM, 4, CT, A5, 0, 0, 0, 0, NONE, 0, 0},
	{"kpm312", "KPM312", KPM, 4, CT, A5, 0, 0, 0, 0, NONE, 0, 0},
	{"kpm312-1a2b3c4d-r-k-wi-t", "KPM312-1A2B3C4D-R-K-WI-T", KPM, 4, CT, {5, 100, 400, 800}, 4, 4, 0x0F, 0, WIFI, 0, 0},
	{"KPM312-1A2B3C4D-R-K-Wi-T", "KPM312-1A2B3C4D-R-K-WI-T", KPM, 4, CT, {5, 100, 400, 800}, 4, 4, 0x0F, 0, WIFI, 0, 0},
	{"KPM312-1B2B-RKS", "KPM312-1B2B-RKS", KPM, 4, CT, {100, 100, 5, 5}, 4, 4, 0, 0x0F, NONE, 0, 0},
	{"KPM312-3D", "KPM312-3D", KPM, 4, CT, {5, 5, 800, 5}, 0, 0, 0, 0, NONE, 0, 0},
	{"KPM312-1A2A", "KPM312-1A2A", KPM, 4, CT, A5, 0, 0, 0, 0, NONE, 0, 0}, /* datasheet's example */
	{"KPM312-4D3C2B1A", "KPM312-4D3C2B1A", KPM, 4, CT, {5, 100, 400, 800}, 0, 0, 0, 0, NONE, 0, 0},
	{"KPM312-2C4B", "KPM312-2C4B", KPM, 4, CT, {5, 400, 5, 100}, 0, 0, 0, 0, NONE, 0, 0},
	/* the same options in different orders and separators */
	{"KPM312-RKT", "KPM312-RKT", KPM, 4, CT, A5, 4, 4, 0x0F, 0, NONE, 0, 0},
	{"KPM312-R-K-T", "KPM312-R-K-T", KPM, 4, CT, A5, 4, 4, 0x0F, 0, NONE, 0, 0},
	{"KPM312-TKR", "KPM312-TKR", KPM, 4, CT, A5, 4, 4, 0x0F, 0, NONE, 0, 0},
	{"KPM312-t-rk", "KPM312-T-RK", KPM, 4, CT, A5, 4, 4, 0x0F, 0, NONE, 0, 0},
	{"KPM312-RK-4G", "KPM312-RK-4G", KPM, 4, CT, A5, 4, 4, 0, 0, R4G, 0, 0},
	{"KPM312-4GRK", "KPM312-4GRK", KPM, 4, CT, A5, 4, 4, 0, 0, R4G, 0, 0},
	{"KPM312-4g", "KPM312-4G", KPM, 4, CT, A5, 0, 0, 0, 0, R4G, 0, 0},
	{"KPM312-1C-4G", "KPM312-1C-4G", KPM, 4, CT, {400, 5, 5, 5}, 0, 0, 0, 0, R4G, 0, 0},
	{"KPM312-L", "KPM312-L", KPM, 4, CT, A5, 0, 0, 0, 0, LORA, 0, 0},
	{"KPM312-K", "KPM312-K", KPM, 4, CT, A5, 0, 4, 0, 0, NONE, 0, 0},
	{"KPM312-R", "KPM312-R", KPM, 4, CT, A5, 4, 0, 0, 0, NONE, 0, 0},
	{"KPM312-SWI", "KPM312-SWI", KPM, 4, CT, A5, 0, 0, 0, 0x0F, WIFI, 0, 0},
	{"KPM312-wIs", "KPM312-WIS", KPM, 4, CT, A5, 0, 0, 0, 0x0F, WIFI, 0, 0},
	{"KPM312-4D3C2B1A-L-S", "KPM312-4D3C2B1A-L-S", KPM, 4, CT, {5, 100, 400, 800}, 0, 0, 0, 0x0F, LORA, 0, 0},
	{"KPM312-1D-T-L-K-R", "KPM312-1D-T-L-K-R", KPM, 4, CT, {800, 5, 5, 5}, 4, 4, 0x0F, 0, LORA, 0, 0},
	/* the MPM4000 manual's examples (§2.2) and more */
	{"MPM4410-A", "MPM4410-A", MPM, 4, RC, Z0, 1, 0, 0, 0, NONE, 1, 'A'},
	{"MPM4221-D", "MPM4221-D", MPM, 2, VC, Z0, 1, 0, 0, 0x01, NONE, 1, 'D'},
	{"MPM4312-H", "MPM4312-H", MPM, 3, RC, Z0, 1, 0, 0x01, 0, NONE, 1, 'H'},
	{"mpm4122-d", "MPM4122-D", MPM, 1, VC, Z0, 1, 0, 0x01, 0, NONE, 1, 'D'},
	{"MPM4411-a", "MPM4411-A", MPM, 4, RC, Z0, 1, 0, 0, 0x01, NONE, 1, 'A'},
	{"MPM4120-H", "MPM4120-H", MPM, 1, VC, Z0, 1, 0, 0, 0, NONE, 1, 'H'},
};

static void test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		const valid_case *v = &valid[i];
		bm_model m;
		memset(&m, 0xA5, sizeof m);
		const char *why = "untouched";
		assert_int_equal(bm_model_parse(v->in, &m, &why), BM_OK);
		assert_string_equal(why, "untouched");
#define SAME(got, want) \
	do { \
		if ((got) != (want)) \
			fail_msg("\"%s\": %s is %g, not %g", v->in, #got, (double)(got), (double)(want)); \
	} while (0)
		assert_string_equal(m.code, v->code);
		SAME(m.family, v->family);
		SAME(m.n_circuits, v->n_circuits);
		SAME(m.sensor, v->sensor);
		for (unsigned c = 0; c < 4; c++)
			SAME(m.rated_a[c], v->rated[c]);
		SAME(m.caps.n_do, v->n_do);
		SAME(m.caps.n_di, v->n_di);
		SAME(m.caps.temperature, v->temperature);
		SAME(m.caps.residual, v->residual);
		SAME(m.radio, v->radio);
		SAME(m.ethernet, v->ethernet);
		SAME(m.supply, v->supply);
#undef SAME
		/* the rest of code[] is zero: the struct compares whole */
		for (size_t k = strlen(m.code); k < sizeof m.code; k++)
			assert_int_equal(m.code[k], 0);
		/* the normalised code parses to the same model */
		bm_model again;
		assert_int_equal(bm_model_parse(m.code, &again, NULL), BM_OK);
		assert_memory_equal(&again, &m, sizeof m);
	}
}

typedef struct invalid_case {
	const char *in, *why; /* why: a substring of the expected reason */
} invalid_case;

static const invalid_case invalid[] = {
	/* anything */
	{"", "empty"},
	{"XYZ", "unknown model family"},
	{"KPM31", "unknown model family"},
	{"KPM-312", "unknown model family"},
	{"MPM3410-A", "unknown model family"},
	{" KPM312", "unknown model family"},
	{"KPM312-R-K-4G-T---------------------------------------------", "too long"}, /* 60 characters */
	/* KPM312 ratings */
	{"KPM312-1E", "rating letter"},
	{"KPM312-1Z", "rating letter"},
	{"KPM312-1G", "rating letter"},
	{"KPM312-1A1B", "listed twice"},
	{"KPM312-2C3D2C", "listed twice"},
	{"KPM312-5A", "channel number must be 1..4"},
	{"KPM312-0A", "channel number must be 1..4"},
	{"KPM312-1A9B", "channel number must be 1..4"},
	{"KPM312-1", "without its rating letter"},
	{"KPM312-12B", "without its rating letter"},
	{"KPM312-1A2-R", "without its rating letter"},
	{"KPM312-1A2BR", "need a '-'"},
	{"KPM312-1A4G", "need a '-'"},
	{"KPM312-1A-2B", "one part"},
	{"KPM312-R-1A", "before the options"},
	{"KPM312-R1A", "before the options"},
	{"KPM312-1A!", "unexpected character"},
	/* KPM312 options */
	{"KPM312-TS", "S (residual current) cannot be combined with T (temperature)"},
	{"KPM312-T-R-S", "cannot be combined"},
	{"KPM312-4G-WI", "4G, WiFi and LoRa: one module at most"},
	{"KPM312-L4G", "one module at most"},
	{"KPM312-WI-L", "one module at most"},
	{"KPM312-RR", "option R (4 relay outputs) given twice"},
	{"KPM312-R-K-R", "option R"},
	{"KPM312-KK", "option K"},
	{"KPM312-TT", "option T"},
	{"KPM312-SS", "option S"},
	{"KPM312-LL", "option L"},
	{"KPM312-4G4G", "option 4G"},
	{"KPM312-WI-WI", "option Wi"},
	{"KPM312-X", "unknown option"},
	{"KPM312-W", "unknown option"},
	{"KPM312-WL", "unknown option"},
	{"KPM312-4", "without its rating letter"},
	{"KPM312-R5", "unknown option"},
	{"KPM312-R!", "unexpected character"},
	{"KPM312-R K", "unexpected character"},
	{"KPM312-", "empty part"},
	{"KPM312-R-", "empty part"},
	{"KPM312--R", "empty part"},
	{"KPM312R", "expected '-' after KPM312"},
	{"KPM3120", "expected '-' after KPM312"},
	/* MPM4000 */
	{"MPM4510-A", "circuits"},
	{"MPM4010-A", "circuits"},
	{"MPM4X10-A", "circuits"},
	{"MPM4430-A", "current input"},
	{"MPM4400-A", "current input"},
	{"MPM4413-A", "expansion"},
	{"MPM441X-A", "expansion"},
	{"MPM4410", "supply letter missing"},
	{"MPM4410-", "supply letter missing"},
	{"MPM4410-Z", "supply letter must be A (220 V AC), D (24 V DC) or H (480 V AC)"},
	{"MPM4410-B", "supply letter must be"},
	{"MPM4410-AX", "after the supply letter"},
	{"MPM4410-A-", "after the supply letter"},
	{"MPM4410A", "expected '-'"},
	{"MPM44100-A", "expected '-'"},
	{"MPM441", "too short"},
	{"MPM4", "too short"},
	{"MPM4000", "circuits"},
};

static void test_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		const invalid_case *v = &invalid[i];
		bm_model m, pattern;
		memset(&pattern, 0x5A, sizeof pattern);
		m = pattern;
		const char *why = NULL;
		assert_int_equal(bm_model_parse(v->in, &m, &why), BM_E_INVAL);
		assert_non_null(why);
		if (!strstr(why, v->why))
			fail_msg("\"%s\": why \"%s\" lacks \"%s\"", v->in, why, v->why);
		assert_memory_equal(&m, &pattern, sizeof m);
		/* why may be NULL */
		assert_int_equal(bm_model_parse(v->in, &m, NULL), BM_E_INVAL);
		assert_memory_equal(&m, &pattern, sizeof m);
	}
}

static void test_edges(void **state)
{
	(void)state;
	bm_model m, pattern;
	memset(&pattern, 0x33, sizeof pattern);
	m = pattern;
	const char *why = NULL;
	assert_int_equal(bm_model_parse(NULL, &m, &why), BM_E_INVAL);
	assert_non_null(strstr(why, "empty"));
	assert_memory_equal(&m, &pattern, sizeof m);
	assert_int_equal(bm_model_parse("KPM312", NULL, &why), BM_E_INVAL);
	assert_non_null(why);

	/* 39 characters is the longest code read; 40 is too long (and the text
	 * after the 40th is never read). */
	char s[64];
	memset(s, 'Z', sizeof s);
	memcpy(s, "XYZ", 3);
	s[39] = '\0';
	assert_int_equal(bm_model_parse(s, &m, &why), BM_E_INVAL);
	assert_non_null(strstr(why, "unknown model family"));
	s[39] = 'Z';
	s[40] = '\0';
	assert_int_equal(bm_model_parse(s, &m, &why), BM_E_INVAL);
	assert_non_null(strstr(why, "too long"));
	memcpy(s, "KPM312-R", 8);
	memset(s + 8, '-', 31);
	s[39] = '\0';
	assert_int_equal(bm_model_parse(s, &m, &why), BM_E_INVAL);
	assert_non_null(strstr(why, "empty part"));
	assert_memory_equal(&m, &pattern, sizeof m);

	/* Longest valid code: every field used. */
	assert_int_equal(bm_model_parse("KPM312-4D3C2B1A-R-K-4G-T", &m, &why), BM_OK);
	assert_int_equal(m.radio, BM_RADIO_4G);
}

static void check_describe(const char *code, const char *want)
{
	bm_model m;
	const char *why = NULL;
	assert_int_equal(bm_model_parse(code, &m, &why), BM_OK);
	char buf[160];
	assert_ptr_equal(bm_model_describe(&m, buf, sizeof buf), buf);
	assert_string_equal(buf, want);
}

static void test_describe(void **state)
{
	(void)state;
	check_describe("KPM312-1A2B3C4D-R-K-Wi-T",
		"KPM312: 4 circuits, CTs 5/100/400/800 A, 4 relays, 4 digital inputs, WiFi, temperature on every circuit");
	check_describe("MPM4411-A", "MPM4000: 4 circuits, Rogowski coils, 1 relay, residual current on circuit 1, supply 220 V AC");
	check_describe("MPM4410-A", "MPM4000: 4 circuits, Rogowski coils, 1 relay, supply 220 V AC");
	check_describe("MPM4221-D", "MPM4000: 2 circuits, voltage CTs, 1 relay, residual current on circuit 1, supply 24 V DC");
	check_describe("MPM4312-H", "MPM4000: 3 circuits, Rogowski coils, 1 relay, temperature on circuit 1, supply 480 V AC");
	check_describe("MPM4112-H", "MPM4000: 1 circuit, Rogowski coils, 1 relay, temperature on circuit 1, supply 480 V AC");
	check_describe("KPM312", "KPM312: 4 circuits, CTs 5 A");
	check_describe("KPM312-3D", "KPM312: 4 circuits, CTs 5/5/800/5 A");
	check_describe("KPM312-1B2B-RKS-L",
		"KPM312: 4 circuits, CTs 100/100/5/5 A, 4 relays, 4 digital inputs, LoRa, residual current on every circuit");
	check_describe("KPM312-K-4G", "KPM312: 4 circuits, CTs 5 A, 4 digital inputs, 4G");

	/* A hand-made model: other masks, one input, no family. */
	bm_model m;
	assert_int_equal(bm_model_parse("KPM312-R", &m, NULL), BM_OK);
	m.caps.temperature = 0x0B;
	m.caps.n_do = 1;
	m.caps.n_di = 1;
	char buf[160];
	bm_model_describe(&m, buf, sizeof buf);
	assert_string_equal(buf,
		"KPM312: 4 circuits, CTs 5 A, 1 relay, 1 digital input, temperature on circuits 1, 2 and 4");
	m.caps.temperature = 0x06;
	m.family = 7;
	m.radio = 9;
	m.rated_a[0] = -1.0;
	bm_model_describe(&m, buf, sizeof buf);
	assert_string_equal(buf,
		"unknown family: 4 circuits, CTs ?/5/5/5 A, 1 relay, 1 digital input, temperature on circuits 2 and 3");
	bm_model_describe(NULL, buf, sizeof buf);
	assert_string_equal(buf, "no model");
	assert_null(bm_model_describe(&m, NULL, 10));
}

static void test_describe_truncates(void **state)
{
	(void)state;
	bm_model m;
	assert_int_equal(bm_model_parse("KPM312-1A2B3C4D-R-K-WI-T", &m, NULL), BM_OK);
	char full[200];
	bm_model_describe(&m, full, sizeof full);
	size_t n = strlen(full);
	assert_true(n > 40 && n + 1 < sizeof full);
	enum { GUARD = 16 };
	for (unsigned len = 0; len <= n + 2; len++) {
		char buf[200 + GUARD];
		memset(buf, '#', sizeof buf);
		assert_ptr_equal(bm_model_describe(&m, buf, len), buf);
		for (unsigned g = len; g < len + GUARD; g++)
			assert_int_equal(buf[g], '#');
		if (len == 0)
			continue;
		size_t k = strnlen(buf, len);
		assert_true(k < len);                       /* NUL-terminated inside */
		assert_int_equal(k, len - 1 < n ? len - 1 : n); /* as much as fits */
		assert_memory_equal(buf, full, k);           /* a prefix of the full text */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),    cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_edges),    cmocka_unit_test(test_describe),
		cmocka_unit_test(test_describe_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
