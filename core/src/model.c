/*
 * model.c — model codes of both families: parse and describe (bm/model.h;
 * docs/models.md).
 *
 * Purpose: turn a code printed on the nameplate ("KPM312-1A2B-R-K-Wi-T",
 * "MPM4221-D") into what the meter has, so that everything a model lacks
 * can be left out (alarms refused, registers answering exception 02).
 *
 * Tokenising (case-insensitive; the code is upper-cased first):
 *  - KPM312: "KPM312", then nothing or '-'. The rest is parts separated by
 *    '-', none empty. A part that starts with a digit, except one that
 *    starts with "4G", is the channel ratings: pairs <1..4><A..D> written
 *    together; it may only be the first part ("1A-2B" and "R-1A" are
 *    refused). Every other part is options, read greedily left to right
 *    over {4G, WI, R, K, L, T, S} (two-letter tokens tried first), so "RKT",
 *    "R-K-T", "RK-4G" and "SWI" are all fine. No token is a prefix of
 *    another, so the greedy reading is also the only one. A rating glued to
 *    the options ("1A2BR", "1A4G") is refused: options after the ratings
 *    need a '-'. "4G" can never be a rating (ratings are A..D).
 *  - MPM4000: exactly "MPM4" <1..4> <1|2> <0|1|2> '-' <A|D|H>.
 * Invariants: no allocation, no stdio; a rejected code leaves *out
 * untouched, sets *why to a static English string naming the first problem
 * found and returns BM_E_INVAL; *why is not touched on success. A model
 * with more circuits than this build holds (BM_MAX_CIRCUITS) is
 * BM_E_UNSUPPORTED. bm_model_describe() always NUL-terminates within len.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sbuf.h"
#include "bm/model.h"

#define CODE_MAX (sizeof(((bm_model *)0)->code) - 1u) /* 39 characters */

_Static_assert(sizeof(((bm_model *)0)->code) == 40, "model.h documents 39 characters");

static bm_err fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return BM_E_INVAL;
}

static char upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
	return c >= 'A' && c <= 'Z'; /* after upper() */
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- KPM312 ------------------------------------------------------------- */

enum { O_4G = 0, O_WI, O_R, O_K, O_L, O_T, O_S, O_COUNT };

/* Two-letter tokens first: the greedy reading tries them before the single
 * letters (no overlap today, but "WI" must not be read as an unknown "W"). */
static const struct {
	const char *tok;
	const char *twice;
} opt_tab[O_COUNT] = {
	[O_4G] = {"4G", "option 4G (4G module) given twice"},
	[O_WI] = {"WI", "option Wi (WiFi module) given twice"},
	[O_R] = {"R", "option R (4 relay outputs) given twice"},
	[O_K] = {"K", "option K (4 digital inputs) given twice"},
	[O_L] = {"L", "option L (LoRa module) given twice"},
	[O_T] = {"T", "option T (temperature) given twice"},
	[O_S] = {"S", "option S (residual current) given twice"},
};

/* Primary current of rating letters A..D (datasheet "Rated Parameters"). */
static const double kpm_rating[4] = {5.0, 100.0, 400.0, 800.0};

static bm_err kpm_ratings(const char **pp, double rated[4], const char **why)
{
	const char *p = *pp;
	unsigned seen = 0;
	while (*p && *p != '-') {
		char ch = p[0], r = p[1];
		if (ch < '1' || ch > '4') {
			if (is_letter(ch))
				return fail(why, "options after the channel ratings need a '-' (e.g. KPM312-1A2B-R)");
			if (is_digit(ch))
				return fail(why, "channel number must be 1..4");
			return fail(why, "unexpected character in the channel ratings");
		}
		if (ch == '4' && r == 'G')
			return fail(why, "options after the channel ratings need a '-' (e.g. KPM312-1A-4G)");
		if (r == '\0' || r == '-' || is_digit(r))
			return fail(why, "a channel number without its rating letter (A..D)");
		if (r < 'A' || r > 'D')
			return fail(why, "rating letter must be A (5 A), B (100 A), C (400 A) or D (800 A)");
		unsigned c = (unsigned)(ch - '1');
		if (seen & (1u << c))
			return fail(why, "a channel is listed twice in the ratings");
		seen |= 1u << c;
		rated[c] = kpm_rating[r - 'A'];
		p += 2;
	}
	*pp = p;
	return BM_OK;
}

static bm_err kpm_options(const char **pp, unsigned *opts, const char **why)
{
	const char *p = *pp;
	while (*p && *p != '-') {
		unsigned o;
		for (o = 0; o < O_COUNT; o++)
			if (starts(p, opt_tab[o].tok))
				break;
		if (o == O_COUNT) {
			if (p[0] >= '1' && p[0] <= '4' && p[1] >= 'A' && p[1] <= 'D')
				return fail(why, "channel ratings must come before the options");
			if (is_letter(p[0]) || is_digit(p[0]))
				return fail(why, "unknown option (R, K, 4G, Wi, L, T or S)");
			return fail(why, "unexpected character in the options");
		}
		if (*opts & (1u << o))
			return fail(why, opt_tab[o].twice);
		*opts |= 1u << o;
		p += strlen(opt_tab[o].tok);
	}
	*pp = p;
	return BM_OK;
}

static bm_err parse_kpm(bm_model *m, const char **why)
{
	const char *p = m->code + strlen("KPM312");
	double rated[4] = {5.0, 5.0, 5.0, 5.0}; /* a channel not listed is A */
	unsigned opts = 0, parts = 0;
	if (*p != '\0' && *p != '-')
		return fail(why, "expected '-' after KPM312");
	while (*p == '-') {
		p++;
		if (*p == '\0' || *p == '-')
			return fail(why, "empty part: '-' with nothing after it");
		bm_err e;
		if (is_digit(p[0]) && !(p[0] == '4' && p[1] == 'G')) {
			if (opts)
				return fail(why, "channel ratings must come before the options");
			if (parts)
				return fail(why, "channel ratings must be written in one part (e.g. 1A2B)");
			e = kpm_ratings(&p, rated, why);
		} else {
			e = kpm_options(&p, &opts, why);
		}
		if (e)
			return e;
		parts++;
	}
	/* Both loops stop only at '\0' or '-', so the code has been read whole. */
	unsigned radios = ((opts >> O_4G) & 1u) + ((opts >> O_WI) & 1u) + ((opts >> O_L) & 1u);
	if (radios > 1)
		return fail(why, "4G, WiFi and LoRa: one module at most");
	if ((opts & (1u << O_T)) && (opts & (1u << O_S)))
		return fail(why, "S (residual current) cannot be combined with T (temperature)");

	m->family = BM_FAMILY_KPM312;
	m->n_circuits = 4;
	m->sensor = BM_SENSOR_CT;
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		m->rated_a[c] = rated[c];
	m->caps.n_do = (opts & (1u << O_R)) ? 4 : 0;
	m->caps.n_di = (opts & (1u << O_K)) ? 4 : 0;
	m->caps.temperature = (opts & (1u << O_T)) ? 0x0F : 0;
	m->caps.residual = (opts & (1u << O_S)) ? 0x0F : 0;
	m->radio = (opts & (1u << O_4G))   ? BM_RADIO_4G
	           : (opts & (1u << O_WI)) ? BM_RADIO_WIFI
	           : (opts & (1u << O_L))  ? BM_RADIO_LORA
	                                   : BM_RADIO_NONE;
	m->ethernet = 0;
	m->supply = 0;
	return BM_OK;
}

/* ---- MPM4000 ------------------------------------------------------------ */

static bm_err parse_mpm(bm_model *m, const char **why)
{
	const char *p = m->code + strlen("MPM4");
	if (strlen(p) < 3)
		return fail(why, "MPM4000 code too short: MPM4<circuits><input><expansion>-<supply>, e.g. MPM4410-A");
	if (p[0] < '1' || p[0] > '4')
		return fail(why, "MPM4000 circuits (5th character) must be 1..4");
	if (p[1] != '1' && p[1] != '2')
		return fail(why, "MPM4000 current input (6th character) must be 1 (Rogowski coil) or 2 (voltage CT)");
	if (p[2] < '0' || p[2] > '2')
		return fail(why, "MPM4000 expansion (7th character) must be 0 (none), 1 (residual current) or 2 (temperature)");
	if (p[3] == '\0' || (p[3] == '-' && p[4] == '\0'))
		return fail(why, "MPM4000 supply letter missing: -A (220 V AC), -D (24 V DC) or -H (480 V AC)");
	if (p[3] != '-')
		return fail(why, "MPM4000: expected '-' and the supply letter after the 7th character (e.g. MPM4410-A)");
	if (p[4] != 'A' && p[4] != 'D' && p[4] != 'H')
		return fail(why, "MPM4000 supply letter must be A (220 V AC), D (24 V DC) or H (480 V AC)");
	if (p[5] != '\0')
		return fail(why, "MPM4000: unexpected text after the supply letter");

	m->family = BM_FAMILY_MPM4000;
	m->n_circuits = (uint8_t)(p[0] - '0');
	m->sensor = p[1] == '1' ? BM_SENSOR_RCOIL : BM_SENSOR_VCT;
	/* rated_a stays 0: the sensor's ratio is configured, not coded. */
	m->caps.n_do = 1;
	m->caps.n_di = 0;
	m->caps.residual = p[2] == '1' ? 0x01 : 0; /* circuit 1 only (§4.5) */
	m->caps.temperature = p[2] == '2' ? 0x01 : 0;
	m->radio = BM_RADIO_NONE;
	m->ethernet = 1;
	m->supply = p[4];
	return BM_OK;
}

bm_err bm_model_parse(const char *code, bm_model *out, const char **why)
{
	if (!code || code[0] == '\0')
		return fail(why, "empty model code");
	size_t n = 0;
	while (n <= CODE_MAX && code[n] != '\0')
		n++;
	if (n > CODE_MAX)
		return fail(why, "model code too long (39 characters at most)");
	if (!out)
		return fail(why, "no model to fill (out is NULL)");

	bm_model m;
	memset(&m, 0, sizeof m);
	for (size_t i = 0; i < n; i++)
		m.code[i] = upper(code[i]);
	bm_err e;
	if (starts(m.code, "KPM312"))
		e = parse_kpm(&m, why);
	else if (starts(m.code, "MPM4"))
		e = parse_mpm(&m, why);
	else
		e = fail(why, "unknown model family (codes start with KPM312 or MPM4)");
	if (e)
		return e;
	if (m.n_circuits > BM_MAX_CIRCUITS) {
		if (why)
			*why = "the model has more circuits than this build (BM_MAX_CIRCUITS)";
		return BM_E_UNSUPPORTED;
	}
	*out = m;
	return BM_OK;
}

/* ---- describe ----------------------------------------------------------- */


/* "5 circuits" / "1 relay": the count and the noun, with an 's' unless 1. */
static void s_count(sbuf *b, unsigned v, const char *noun)
{
	s_uint(b, v);
	s_put(b, " ");
	s_put(b, noun);
	if (v != 1u)
		s_put(b, "s");
}

/* A rating as a whole number of amperes; anything odd reads "?". */
static void s_amps(sbuf *b, double a)
{
	if (a >= 0.0 && a < 1e6)
		s_uint(b, (unsigned)(a + 0.5));
	else
		s_put(b, "?");
}

/* "temperature on every circuit" / "on circuit 1" / "on circuits 1, 2 and 4". */
static void s_mask(sbuf *b, const char *what, unsigned mask, unsigned n_circuits)
{
	mask &= 0xFFu;
	unsigned all = n_circuits >= 8u ? 0xFFu : (1u << n_circuits) - 1u;
	s_put(b, ", ");
	s_put(b, what);
	if (n_circuits > 1u && mask == all) {
		s_put(b, " on every circuit");
		return;
	}
	unsigned bits = 0;
	for (unsigned c = 0; c < 8u; c++)
		bits += (mask >> c) & 1u;
	s_put(b, bits == 1u ? " on circuit " : " on circuits ");
	unsigned done = 0;
	for (unsigned c = 0; c < 8u; c++) {
		if (!(mask & (1u << c)))
			continue;
		if (done)
			s_put(b, done + 1u == bits ? " and " : ", ");
		s_uint(b, c + 1u);
		done++;
	}
}

const char *bm_model_describe(const bm_model *m, char *buf, unsigned len)
{
	if (!buf || len == 0)
		return buf;
	sbuf b = {.p = buf, .cap = len, .len = 0};
	buf[0] = '\0';
	if (!m) {
		s_put(&b, "no model");
		return buf;
	}
	static const char *const family[BM_FAMILY_COUNT] = {"KPM312", "MPM4000"};
	s_put(&b, m->family < BM_FAMILY_COUNT ? family[m->family] : "unknown family");
	s_put(&b, ": ");
	s_count(&b, m->n_circuits, "circuit");

	unsigned nr = m->n_circuits < BM_MAX_CIRCUITS ? m->n_circuits : BM_MAX_CIRCUITS;
	switch (m->sensor) {
	case BM_SENSOR_CT: {
		s_put(&b, ", CTs");
		bool any = false, same = true;
		for (unsigned c = 0; c < nr; c++) {
			any = any || m->rated_a[c] > 0.0;
			same = same && m->rated_a[c] == m->rated_a[0];
		}
		if (!any)
			break;
		s_put(&b, " ");
		for (unsigned c = 0; c < (same ? 1u : nr); c++) {
			if (c)
				s_put(&b, "/");
			s_amps(&b, m->rated_a[c]);
		}
		s_put(&b, " A");
		break;
	}
	case BM_SENSOR_VCT:
		s_put(&b, ", voltage CTs");
		break;
	case BM_SENSOR_RCOIL:
		s_put(&b, ", Rogowski coils");
		break;
	default:
		break;
	}
	if (m->caps.n_do) {
		s_put(&b, ", ");
		s_count(&b, m->caps.n_do, "relay");
	}
	if (m->caps.n_di) {
		s_put(&b, ", ");
		s_count(&b, m->caps.n_di, "digital input");
	}
	static const char *const radio[BM_RADIO_COUNT] = {NULL, "4G", "WiFi", "LoRa"};
	if (m->radio < BM_RADIO_COUNT && radio[m->radio]) {
		s_put(&b, ", ");
		s_put(&b, radio[m->radio]);
	}
	if (m->caps.temperature)
		s_mask(&b, "temperature", m->caps.temperature, m->n_circuits);
	if (m->caps.residual)
		s_mask(&b, "residual current", m->caps.residual, m->n_circuits);
	switch (m->supply) {
	case 'A':
		s_put(&b, ", supply 220 V AC");
		break;
	case 'D':
		s_put(&b, ", supply 24 V DC");
		break;
	case 'H':
		s_put(&b, ", supply 480 V AC");
		break;
	default:
		break;
	}
	return buf;
}
