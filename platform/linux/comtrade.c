/*
 * comtrade.c — COMTRADE .cfg parser, .dat decoder, file reader and the
 * channel-to-meter-input mapping (see comtrade.h for the API contract).
 *
 * Invariants:
 *  - Input is hostile. Every line is copied into a bounded buffer before it
 *    is split; every number is checked for syntax and finiteness; every count
 *    read from the file is bounded before it sizes an allocation (channels by
 *    BM_COMTRADE_MAX_CHANNELS, rates by BM_COMTRADE_MAX_RATES). Sample counts
 *    never size anything: records are decoded one at a time.
 *  - One decoder serves memory and files: in file mode the window buf[0..len)
 *    is refilled from the FILE with fread, so a .dat of any size needs one
 *    window of memory (64 KiB, or more when one record or line is longer).
 *  - Record positions (1-based) decide the rate section, not the sample
 *    numbers written in the file: recorders disagree on whether those start
 *    at 0 or 1, while endsamp counts records either way.
 *  - Error messages start with the file name and the .cfg line, or the .dat
 *    record with its byte offset (binary) or its line (ASCII).
 */
#include "comtrade.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__GNUC__)
#define CT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CT_PRINTF(f, a)
#endif

/* The float32 decoding reinterprets 4 bytes as a float. */
_Static_assert(sizeof(float) == 4, "float must be IEEE-754 binary32");

#define CT_MAX_FIELDS 16           /* more than any cfg line has (13) */
#define CT_WINDOW (64u * 1024u)    /* file read window, bytes */
#define CT_MAX_ENDSAMP 9999999999ull /* 10 digits, as the standard allows */
#define CT_MAX_RATE_HZ 1e9         /* no recorder samples faster */
#define CT_MAP_MAX 4096u           /* longest accepted --map string */
#define CT_MAX_SCALE 1e100         /* |k|, |c| bound: see parse_analog */

/* ---------------------------------------------------------------- errors */

static void seterr(char *err, size_t errlen, const char *fmt, ...) CT_PRINTF(3, 4);
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------- small helpers */

static bool is_blank_char(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and tabs in place; returns the first kept character. */
static char *trim(char *s)
{
	size_t n;

	while (is_blank_char(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank_char(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool ci_eq(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++;
		b++;
	}
	return *a == *b;
}

/* Copies a name, cutting it to BM_COMTRADE_FIELD_MAX bytes: names only label
 * channels, so a long one is not worth refusing a recording for. */
static void copy_name(char dst[BM_COMTRADE_FIELD_MAX + 1], const char *src)
{
	size_t n = strlen(src);

	if (n > BM_COMTRADE_FIELD_MAX)
		n = BM_COMTRADE_FIELD_MAX;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Splits s at commas into at most `max` trimmed fields. Returns the number
 * of fields, or max + 1 when there are more. */
static int split_fields(char *s, char **f, int max)
{
	int n = 0;
	char *p = s;

	for (;;) {
		char *c = strchr(p, ',');

		if (n == max)
			return max + 1;
		if (c != NULL)
			*c = '\0';
		f[n++] = trim(p);
		if (c == NULL)
			return n;
		p = c + 1;
	}
}

/* Unsigned decimal integer, digits only (no sign, no spaces). */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return false;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* A finite decimal number. The character check keeps strtod from accepting
 * "nan", "inf" or hex floats, which no COMTRADE writer produces. */
static bool parse_dbl(const char *s, double *out)
{
	char *end;
	double v;

	if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* ------------------------------------------------------- unit and phase */

static bm_comtrade_kind unit_kind(const char *u, double *scale)
{
	static const struct {
		const char *name;
		bm_comtrade_kind kind;
		double scale;
	} units[] = {
		{ "V", BM_COMTRADE_VOLTAGE, 1.0 },   { "kV", BM_COMTRADE_VOLTAGE, 1e3 },
		{ "mV", BM_COMTRADE_VOLTAGE, 1e-3 }, { "A", BM_COMTRADE_CURRENT, 1.0 },
		{ "kA", BM_COMTRADE_CURRENT, 1e3 },  { "mA", BM_COMTRADE_CURRENT, 1e-3 },
		/* degrees Celsius as recorders write them: SI symbol without and
		 * with the degree sign (UTF-8, Latin-1), spelt out, and UCUM's */
		{ "C", BM_COMTRADE_TEMPERATURE, 1.0 },
		{ "\xC2\xB0" "C", BM_COMTRADE_TEMPERATURE, 1.0 },
		{ "\xB0" "C", BM_COMTRADE_TEMPERATURE, 1.0 },
		{ "degC", BM_COMTRADE_TEMPERATURE, 1.0 },
		{ "deg C", BM_COMTRADE_TEMPERATURE, 1.0 },
		{ "Cel", BM_COMTRADE_TEMPERATURE, 1.0 },
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (ci_eq(u, units[i].name)) {
			*scale = units[i].scale;
			return units[i].kind;
		}
	}
	*scale = 1.0;
	return BM_COMTRADE_OTHER;
}

int bm_comtrade_phase_parse(const char *ph)
{
	static const struct {
		const char *name;
		int phase;
	} names[] = {
		{ "a", BM_COMTRADE_PH_A }, { "l1", BM_COMTRADE_PH_A }, { "r", BM_COMTRADE_PH_A },
		{ "1", BM_COMTRADE_PH_A }, { "b", BM_COMTRADE_PH_B }, { "l2", BM_COMTRADE_PH_B },
		{ "s", BM_COMTRADE_PH_B }, { "2", BM_COMTRADE_PH_B }, { "c", BM_COMTRADE_PH_C },
		{ "l3", BM_COMTRADE_PH_C }, { "t", BM_COMTRADE_PH_C }, { "3", BM_COMTRADE_PH_C },
		{ "n", BM_COMTRADE_PH_N },
	};
	char s[33];
	size_t n = 0;
	const char *t;

	if (ph == NULL)
		return BM_COMTRADE_PH_NONE;
	for (; *ph != '\0'; ph++) {
		char c = *ph;

		if (c == ' ' || c == '\t' || c == '-' || c == '_' || c == '.')
			continue;
		if (n >= sizeof s - 1)
			return BM_COMTRADE_PH_NONE;
		s[n++] = (char)tolower((unsigned char)c);
	}
	s[n] = '\0';
	t = s;
	if (strncmp(t, "phase", 5) == 0)
		t += 5;
	else if (strncmp(t, "ph", 2) == 0 && t[2] != '\0')
		t += 2;
	n = strlen(t);
	/* "AN", "L1N": phase to neutral is the phase itself. */
	if (n >= 2 && t[n - 1] == 'n')
		n--;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strlen(names[i].name) == n && strncmp(t, names[i].name, n) == 0)
			return names[i].phase;
	}
	return BM_COMTRADE_PH_NONE;
}

const char *bm_comtrade_type_name(bm_comtrade_type t)
{
	switch (t) {
	case BM_COMTRADE_ASCII: return "ASCII";
	case BM_COMTRADE_BINARY: return "BINARY";
	case BM_COMTRADE_BINARY32: return "BINARY32";
	case BM_COMTRADE_FLOAT32: return "FLOAT32";
	default: return "?";
	}
}

size_t bm_comtrade_record_size(const bm_comtrade_cfg *cfg)
{
	size_t w;

	switch (cfg->type) {
	case BM_COMTRADE_BINARY: w = 2; break;
	case BM_COMTRADE_BINARY32:
	case BM_COMTRADE_FLOAT32: w = 4; break;
	default: return 0;
	}
	/* sample number + timestamp, analog values, digital bits in 16-bit words */
	return 8 + w * cfg->n_analog + 2 * (((size_t)cfg->n_digital + 15) / 16);
}

/* ------------------------------------------------------------ cfg lines */

typedef struct cfg_reader {
	const char *p;
	size_t len, pos;
	unsigned long line;  /* number of the line in buf */
	const char *name;
	char *err;
	size_t errlen;
	char buf[BM_COMTRADE_CFG_LINE_MAX + 1];
} cfg_reader;

static bm_err cfg_fail(cfg_reader *L, bm_err code, const char *fmt, ...) CT_PRINTF(3, 4);
static bm_err cfg_fail(cfg_reader *L, bm_err code, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	seterr(L->err, L->errlen, "%s:%lu: %s", L->name, L->line, msg);
	return code;
}

/* Next line into L->buf. BM_OK, BM_E_EOF (no more lines) or BM_E_FORMAT. */
static bm_err cfg_next(cfg_reader *L)
{
	size_t start = L->pos, end, n;

	if (L->pos >= L->len)
		return BM_E_EOF;
	end = start;
	while (end < L->len && L->p[end] != '\n')
		end++;
	L->line++;
	L->pos = end < L->len ? end + 1 : end;
	n = end - start;
	if (n > 0 && L->p[start + n - 1] == '\r')
		n--;
	if (n > BM_COMTRADE_CFG_LINE_MAX)
		return cfg_fail(L, BM_E_FORMAT, "line too long (%zu bytes, at most %u)", n,
		                BM_COMTRADE_CFG_LINE_MAX);
	if (memchr(L->p + start, '\0', n) != NULL)
		return cfg_fail(L, BM_E_FORMAT, "NUL byte in a text line");
	memcpy(L->buf, L->p + start, n);
	L->buf[n] = '\0';
	return BM_OK;
}

/* Next line, which must exist. */
static bm_err cfg_expect(cfg_reader *L, const char *what)
{
	bm_err rc = cfg_next(L);

	if (rc == BM_E_EOF) {
		L->line++;
		return cfg_fail(L, BM_E_FORMAT, "unexpected end of file, expected %s", what);
	}
	return rc;
}

static bool line_blank(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!is_blank_char(*s) && *s != '\x1a') /* ^Z ends some DOS files */
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ cfg parse */

static bm_err parse_counts(cfg_reader *L, bm_comtrade_cfg *cfg)
{
	char *f[CT_MAX_FIELDS];
	uint64_t tt, na, nd;
	size_t la, ld;
	int n = split_fields(L->buf, f, 3);

	if (n != 3)
		return cfg_fail(L, BM_E_FORMAT, "expected TT,##A,##D channel counts");
	la = strlen(f[1]);
	ld = strlen(f[2]);
	if (la < 2 || toupper((unsigned char)f[1][la - 1]) != 'A' ||
	    ld < 2 || toupper((unsigned char)f[2][ld - 1]) != 'D')
		return cfg_fail(L, BM_E_FORMAT, "expected TT,##A,##D channel counts, found \"%.16s,%.16s,%.16s\"",
		                f[0], f[1], f[2]);
	f[1][la - 1] = '\0';
	f[2][ld - 1] = '\0';
	if (!parse_u64(f[0], &tt) || !parse_u64(f[1], &na) || !parse_u64(f[2], &nd))
		return cfg_fail(L, BM_E_FORMAT, "channel counts are not numbers");
	if (na > BM_COMTRADE_MAX_CHANNELS || nd > BM_COMTRADE_MAX_CHANNELS ||
	    tt > BM_COMTRADE_MAX_CHANNELS)
		return cfg_fail(L, BM_E_UNSUPPORTED, "too many channels (%llu total, %llu analog, %llu digital; at most %u)",
		                (unsigned long long)tt, (unsigned long long)na,
		                (unsigned long long)nd, BM_COMTRADE_MAX_CHANNELS);
	if (tt != na + nd)
		return cfg_fail(L, BM_E_FORMAT, "wrong channel count: TT=%llu but %lluA + %lluD = %llu",
		                (unsigned long long)tt, (unsigned long long)na,
		                (unsigned long long)nd, (unsigned long long)(na + nd));
	if (tt == 0)
		return cfg_fail(L, BM_E_FORMAT, "no channels");
	cfg->n_analog = (unsigned)na;
	cfg->n_digital = (unsigned)nd;
	return BM_OK;
}

/* An optional number: empty keeps *out (the default). */
static bool opt_dbl(const char *s, double *out)
{
	return *s == '\0' || parse_dbl(s, out);
}

static bm_err parse_analog(cfg_reader *L, unsigned i, bm_comtrade_analog *ch)
{
	char *f[CT_MAX_FIELDS];
	uint64_t idx;
	double scale, ratio = 1.0;
	int n = split_fields(L->buf, f, 13);

	if (n < 10 || n > 13)
		return cfg_fail(L, BM_E_FORMAT,
		                "analog channel %u: expected 10 to 13 fields (An,ch_id,ph,ccbm,uu,a,b,skew,min,max[,primary,secondary,PS]), found %d%s",
		                i + 1, n > 13 ? 13 : n, n > 13 ? " or more" : "");
	if (!parse_u64(f[0], &idx) || idx != (uint64_t)i + 1)
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: index \"%.16s\" should be %u (wrong channel count?)",
		                i + 1, f[0], i + 1);
	copy_name(ch->id, f[1]);
	copy_name(ch->ph, f[2]);
	copy_name(ch->ccbm, f[3]);
	copy_name(ch->unit, f[4]);
	if (!parse_dbl(f[5], &ch->a))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: multiplier a \"%.24s\" is not a number", i + 1, f[5]);
	if (!parse_dbl(f[6], &ch->b))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: offset b \"%.24s\" is not a number", i + 1, f[6]);
	ch->skew_us = 0.0;
	if (!opt_dbl(f[7], &ch->skew_us))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: skew \"%.24s\" is not a number", i + 1, f[7]);
	if (!opt_dbl(f[8], &ch->min) || !opt_dbl(f[9], &ch->max))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: min/max \"%.24s\",\"%.24s\" are not numbers",
		                i + 1, f[8], f[9]);
	/* 1991 lines stop after max: primary and secondary default to 1:1 P. */
	ch->primary = 1.0;
	ch->secondary = 1.0;
	ch->ps = 'P';
	if (n > 10 && !opt_dbl(f[10], &ch->primary))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: primary \"%.24s\" is not a number", i + 1, f[10]);
	if (n > 11 && !opt_dbl(f[11], &ch->secondary))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: secondary \"%.24s\" is not a number", i + 1, f[11]);
	if (ch->primary < 0.0 || ch->secondary < 0.0)
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: negative primary or secondary", i + 1);
	if (n > 12 && f[12][0] != '\0') {
		char c = (char)toupper((unsigned char)f[12][0]);

		if (f[12][1] != '\0' || (c != 'P' && c != 'S'))
			return cfg_fail(L, BM_E_FORMAT, "analog channel %u: PS flag \"%.8s\" is not P or S", i + 1, f[12]);
		ch->ps = c;
	}
	ch->kind = unit_kind(ch->unit, &scale);
	ch->phase = bm_comtrade_phase_parse(ch->ph);
	if (ch->ps == 'S' && ch->primary > 0.0 && ch->secondary > 0.0)
		ratio = ch->primary / ch->secondary;
	ch->k = ch->a * ratio * scale;
	ch->c = ch->b * ratio * scale;
	/* Bounded so that k*raw + c stays finite for every binary raw value
	 * (float32 reaches 3.4e38); ASCII values are checked as decoded. */
	if (!(fabs(ch->k) <= CT_MAX_SCALE) || !(fabs(ch->c) <= CT_MAX_SCALE))
		return cfg_fail(L, BM_E_FORMAT, "analog channel %u: scaling out of range (|a|, |b| after ratio and unit > %g)",
		                i + 1, CT_MAX_SCALE);
	return BM_OK;
}

static bm_err parse_digital(cfg_reader *L, unsigned n_analog, unsigned i, bm_comtrade_digital *ch)
{
	char *f[CT_MAX_FIELDS];
	uint64_t idx;
	const char *y;
	int n = split_fields(L->buf, f, 5);

	/* 1991: Dn,ch_id,y   1999/2013: Dn,ch_id,ph,ccbm,y */
	if (n != 3 && n != 5)
		return cfg_fail(L, BM_E_FORMAT, "digital channel %u: expected 5 fields (Dn,ch_id,ph,ccbm,y) or 3 (1991), found %d%s",
		                i + 1, n > 5 ? 5 : n, n > 5 ? " or more" : "");
	/* Dn counts from 1; some writers number on from the analog channels. */
	if (!parse_u64(f[0], &idx) || (idx != (uint64_t)i + 1 && idx != (uint64_t)n_analog + i + 1))
		return cfg_fail(L, BM_E_FORMAT, "digital channel %u: index \"%.16s\" should be %u (wrong channel count?)",
		                i + 1, f[0], i + 1);
	copy_name(ch->id, f[1]);
	if (n == 5) {
		copy_name(ch->ph, f[2]);
		copy_name(ch->ccbm, f[3]);
	}
	y = f[n - 1];
	if (y[0] == '\0' || strcmp(y, "0") == 0)
		ch->normal = 0;
	else if (strcmp(y, "1") == 0)
		ch->normal = 1;
	else
		return cfg_fail(L, BM_E_FORMAT, "digital channel %u: normal state \"%.8s\" is not 0 or 1", i + 1, y);
	return BM_OK;
}

/* Digits only, 1..maxd of them. */
static bool parse_uint_digits(const char *s, size_t len, size_t maxd, int *out)
{
	int v = 0;

	if (len == 0 || len > maxd)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* "dd/mm/yyyy,hh:mm:ss.ffffff" (1991: "mm/dd/yy,..."); up to 9 fraction
 * digits (2013 nanosecond stamps). */
static bm_err parse_stamp(cfg_reader *L, int rev, const char *what, bm_comtrade_time *t)
{
	char *f[CT_MAX_FIELDS];
	const char *d, *s1, *s2, *tm, *c1, *c2, *dot;
	int a, b, y;
	size_t yl;
	int n = split_fields(L->buf, f, 2);

	if (n != 2)
		goto bad;
	d = f[0];
	s1 = strchr(d, '/');
	s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;
	if (s2 == NULL || strchr(s2 + 1, '/') != NULL)
		goto bad;
	yl = strlen(s2 + 1);
	if (!parse_uint_digits(d, (size_t)(s1 - d), 2, &a) ||
	    !parse_uint_digits(s1 + 1, (size_t)(s2 - s1 - 1), 2, &b) ||
	    (yl != 2 && yl != 4) || !parse_uint_digits(s2 + 1, yl, 4, &y))
		goto bad;
	if (yl == 2)
		y += y >= 70 ? 1900 : 2000;
	if (rev == 1991) {
		t->month = a;
		t->day = b;
	} else {
		t->day = a;
		t->month = b;
	}
	t->year = y;
	tm = f[1];
	c1 = strchr(tm, ':');
	c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL)
		goto bad;
	dot = strchr(c2 + 1, '.');
	if (!parse_uint_digits(tm, (size_t)(c1 - tm), 2, &t->hour) ||
	    !parse_uint_digits(c1 + 1, (size_t)(c2 - c1 - 1), 2, &t->min) ||
	    !parse_uint_digits(c2 + 1, dot != NULL ? (size_t)(dot - c2 - 1) : strlen(c2 + 1), 2, &t->sec))
		goto bad;
	t->nsec = 0;
	t->frac_digits = 0;
	if (dot != NULL) {
		const char *q = dot + 1;
		uint32_t ns = 0;
		int k = 0;

		for (; *q != '\0'; q++, k++) {
			if (*q < '0' || *q > '9' || k >= 9)
				goto bad;
			ns = ns * 10 + (uint32_t)(*q - '0');
		}
		t->frac_digits = k;
		for (int j = k; j < 9; j++)
			ns *= 10;
		t->nsec = ns;
	}
	/* Day and month 0 are accepted: simulators write zero dates. */
	if (t->month > 12 || t->day > 31 || t->hour > 23 || t->min > 59 || t->sec > 60)
		return cfg_fail(L, BM_E_FORMAT, "%s out of range", what);
	return BM_OK;
bad:
	return cfg_fail(L, BM_E_FORMAT, "%s: expected dd/mm/yyyy,hh:mm:ss.ssssss", what);
}

static bm_err parse_rates(cfg_reader *L, bm_comtrade_cfg *cfg)
{
	char *f[CT_MAX_FIELDS];
	uint64_t nr, prev = 0;
	bm_err rc;
	int n;

	rc = cfg_expect(L, "nrates");
	if (rc != BM_OK)
		return rc;
	n = split_fields(L->buf, f, 1);
	if (n != 1 || !parse_u64(f[0], &nr))
		return cfg_fail(L, BM_E_FORMAT, "nrates is not a number");
	if (nr > BM_COMTRADE_MAX_RATES)
		return cfg_fail(L, BM_E_UNSUPPORTED, "%llu sampling rates (at most %u)",
		                (unsigned long long)nr, BM_COMTRADE_MAX_RATES);
	if (nr == 0) {
		/* Timestamps only. The standard then has a "0,endsamp" line, but
		 * some writers go straight to the start stamp: peek. */
		size_t pos = L->pos;
		unsigned long line = L->line;
		uint64_t es;
		double samp;

		rc = cfg_expect(L, "the start time stamp");
		if (rc != BM_OK)
			return rc;
		if (strchr(L->buf, '/') != NULL) {
			L->pos = pos;
			L->line = line;
			return BM_OK;
		}
		n = split_fields(L->buf, f, 2);
		if (n != 2 || !parse_dbl(f[0], &samp) || !parse_u64(f[1], &es))
			return cfg_fail(L, BM_E_FORMAT, "expected samp,endsamp");
		if (samp != 0.0)
			return cfg_fail(L, BM_E_FORMAT, "nrates is 0 but samp is %.24s", f[0]);
		if (es > CT_MAX_ENDSAMP)
			return cfg_fail(L, BM_E_FORMAT, "endsamp %.24s out of range", f[1]);
		cfg->n_samples = es;
		return BM_OK;
	}
	cfg->rate = calloc((size_t)nr, sizeof *cfg->rate);
	if (cfg->rate == NULL)
		return cfg_fail(L, BM_E_NOSPACE, "out of memory");
	for (unsigned i = 0; i < (unsigned)nr; i++) {
		bm_comtrade_rate *r = &cfg->rate[i];

		rc = cfg_expect(L, "samp,endsamp");
		if (rc != BM_OK)
			return rc;
		n = split_fields(L->buf, f, 2);
		if (n != 2)
			return cfg_fail(L, BM_E_FORMAT, "rate %u: expected samp,endsamp", i + 1);
		if (!parse_dbl(f[0], &r->hz) || r->hz < 0.0 || r->hz > CT_MAX_RATE_HZ)
			return cfg_fail(L, BM_E_FORMAT, "rate %u: samp \"%.24s\" is not a rate in Hz", i + 1, f[0]);
		if (!parse_u64(f[1], &r->endsamp) || r->endsamp > CT_MAX_ENDSAMP)
			return cfg_fail(L, BM_E_FORMAT, "rate %u: endsamp \"%.24s\" is not a sample number", i + 1, f[1]);
		if (r->hz == 0.0) {
			/* "1 / 0,N" is how some writers say "timestamps only". */
			if (nr != 1)
				return cfg_fail(L, BM_E_FORMAT, "rate %u: samp 0 is only allowed as the single rate (timestamps only)", i + 1);
			cfg->n_samples = r->endsamp;
			free(cfg->rate);
			cfg->rate = NULL;
			return BM_OK;
		}
		if (r->endsamp <= prev)
			return cfg_fail(L, BM_E_FORMAT, "rate %u: endsamp %llu does not increase", i + 1,
			                (unsigned long long)r->endsamp);
		prev = r->endsamp;
	}
	cfg->n_rates = (unsigned)nr;
	cfg->n_samples = prev;
	return BM_OK;
}

static void copy_small(char dst[8], const char *src)
{
	size_t n = strlen(src);

	if (n > 7)
		n = 7;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The lines after ft: timemult (1999), time_code,local_code and
 * tmq_code,leapsec (2013). Each is optional; after them only blank lines. */
static bm_err parse_tail(cfg_reader *L, bm_comtrade_cfg *cfg)
{
	char *f[CT_MAX_FIELDS];
	bm_err rc;
	int n, step = 0;

	while ((rc = cfg_next(L)) == BM_OK) {
		if (line_blank(L->buf)) {
			step = 3; /* trailing blank lines end the cfg */
			continue;
		}
		switch (step) {
		case 0:
			n = split_fields(L->buf, f, 1);
			if (n != 1 || !parse_dbl(f[0], &cfg->timemult) || cfg->timemult <= 0.0)
				return cfg_fail(L, BM_E_FORMAT, "timemult is not a positive number");
			break;
		case 1:
			n = split_fields(L->buf, f, 2);
			if (n != 2)
				return cfg_fail(L, BM_E_FORMAT, "expected time_code,local_code");
			copy_small(cfg->time_code, f[0]);
			copy_small(cfg->local_code, f[1]);
			break;
		case 2: {
			uint64_t ls;

			n = split_fields(L->buf, f, 2);
			if (n != 2 || !parse_u64(f[1], &ls) || ls > 3)
				return cfg_fail(L, BM_E_FORMAT, "expected tmq_code,leapsec");
			copy_small(cfg->tmq_code, f[0]);
			cfg->leapsec = (int)ls;
			break;
		}
		default:
			return cfg_fail(L, BM_E_FORMAT, "unexpected text after the end of the configuration");
		}
		step++;
	}
	return rc == BM_E_EOF ? BM_OK : rc;
}

static bm_err parse_cfg(cfg_reader *L, bm_comtrade_cfg *cfg)
{
	char *f[CT_MAX_FIELDS];
	bm_err rc;
	int n;

	/* A UTF-8 byte order mark is harmless: skip it. */
	if (L->len >= 3 && memcmp(L->p, "\xEF\xBB\xBF", 3) == 0)
		L->pos = 3;

	rc = cfg_expect(L, "station_name,rec_dev_id,rev_year");
	if (rc != BM_OK)
		return rc;
	n = split_fields(L->buf, f, 3);
	if (n < 2 || n > 3)
		return cfg_fail(L, BM_E_FORMAT, "expected station_name,rec_dev_id[,rev_year]");
	copy_name(cfg->station, f[0]);
	copy_name(cfg->device, f[1]);
	cfg->rev_year = 1991;
	if (n == 3 && f[2][0] != '\0') {
		uint64_t y;

		if (!parse_u64(f[2], &y))
			return cfg_fail(L, BM_E_FORMAT, "rev_year \"%.16s\" is not a year", f[2]);
		if (y != 1991 && y != 1999 && y != 2013)
			return cfg_fail(L, BM_E_UNSUPPORTED, "revision year %llu not supported (1991, 1999, 2013)",
			                (unsigned long long)y);
		cfg->rev_year = (int)y;
	}

	rc = cfg_expect(L, "TT,##A,##D");
	if (rc != BM_OK)
		return rc;
	rc = parse_counts(L, cfg);
	if (rc != BM_OK)
		return rc;
	if (cfg->n_analog > 0) {
		cfg->analog = calloc(cfg->n_analog, sizeof *cfg->analog);
		if (cfg->analog == NULL)
			return cfg_fail(L, BM_E_NOSPACE, "out of memory");
	}
	if (cfg->n_digital > 0) {
		cfg->digital = calloc(cfg->n_digital, sizeof *cfg->digital);
		if (cfg->digital == NULL)
			return cfg_fail(L, BM_E_NOSPACE, "out of memory");
	}
	for (unsigned i = 0; i < cfg->n_analog; i++) {
		rc = cfg_expect(L, "an analog channel line");
		if (rc == BM_OK)
			rc = parse_analog(L, i, &cfg->analog[i]);
		if (rc != BM_OK)
			return rc;
	}
	for (unsigned i = 0; i < cfg->n_digital; i++) {
		rc = cfg_expect(L, "a digital channel line");
		if (rc == BM_OK)
			rc = parse_digital(L, cfg->n_analog, i, &cfg->digital[i]);
		if (rc != BM_OK)
			return rc;
	}

	rc = cfg_expect(L, "the line frequency");
	if (rc != BM_OK)
		return rc;
	n = split_fields(L->buf, f, 1);
	if (n != 1 || !parse_dbl(f[0], &cfg->line_hz) || cfg->line_hz < 0.0 || cfg->line_hz > 1e6)
		return cfg_fail(L, BM_E_FORMAT, "line frequency \"%.24s\" is not a frequency", n >= 1 ? f[0] : "");

	rc = parse_rates(L, cfg);
	if (rc != BM_OK)
		return rc;

	rc = cfg_expect(L, "the start time stamp");
	if (rc == BM_OK)
		rc = parse_stamp(L, cfg->rev_year, "start time stamp", &cfg->start);
	if (rc != BM_OK)
		return rc;
	rc = cfg_expect(L, "the trigger time stamp");
	if (rc == BM_OK)
		rc = parse_stamp(L, cfg->rev_year, "trigger time stamp", &cfg->trigger);
	if (rc != BM_OK)
		return rc;
	/* 2013: a start stamp with nanosecond digits makes .dat ticks ns. */
	cfg->ts_unit_us = cfg->start.frac_digits > 6 ? 0.001 : 1.0;

	rc = cfg_expect(L, "the data file type");
	if (rc != BM_OK)
		return rc;
	n = split_fields(L->buf, f, 1);
	if (n == 1 && ci_eq(f[0], "ASCII"))
		cfg->type = BM_COMTRADE_ASCII;
	else if (n == 1 && ci_eq(f[0], "BINARY"))
		cfg->type = BM_COMTRADE_BINARY;
	else if (n == 1 && ci_eq(f[0], "BINARY32"))
		cfg->type = BM_COMTRADE_BINARY32;
	else if (n == 1 && ci_eq(f[0], "FLOAT32"))
		cfg->type = BM_COMTRADE_FLOAT32;
	else
		return cfg_fail(L, BM_E_FORMAT, "unknown data file type \"%.24s\" (ASCII, BINARY, BINARY32, FLOAT32)",
		                n >= 1 ? f[0] : "");

	cfg->timemult = 1.0;
	return parse_tail(L, cfg);
}

bm_err bm_comtrade_cfg_parse(const char *text, size_t len, const char *name,
                             bm_comtrade_cfg *cfg, char *err, size_t errlen)
{
	cfg_reader *L;
	bm_err rc;

	if (cfg == NULL)
		return BM_E_INVAL;
	memset(cfg, 0, sizeof *cfg);
	if (text == NULL && len > 0) {
		seterr(err, errlen, "no cfg text");
		return BM_E_INVAL;
	}
	/* Heap, not stack: the line buffer is a kilobyte and callers may be
	 * deep (the fuzzer, the app's thread). */
	L = calloc(1, sizeof *L);
	if (L == NULL) {
		seterr(err, errlen, "%s: out of memory", name != NULL ? name : "cfg");
		return BM_E_NOSPACE;
	}
	L->p = text;
	L->len = len;
	L->name = name != NULL ? name : "cfg";
	L->err = err;
	L->errlen = errlen;
	rc = parse_cfg(L, cfg);
	free(L);
	if (rc != BM_OK)
		bm_comtrade_cfg_free(cfg);
	return rc;
}

void bm_comtrade_cfg_free(bm_comtrade_cfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->analog);
	free(cfg->digital);
	free(cfg->rate);
	memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------------------ .dat decode */

void bm_comtrade_dec_init(bm_comtrade_dec *d, const bm_comtrade_cfg *cfg,
                          const char *name, const void *data, size_t len)
{
	memset(d, 0, sizeof *d);
	d->cfg = cfg;
	d->name = name != NULL ? name : "dat";
	/* Never NULL, so memchr/memcpy over an empty window stay defined. */
	static const uint8_t empty[1];

	d->buf = data != NULL ? (const uint8_t *)data : empty;
	d->len = data != NULL ? len : 0;
	d->eof = true;
	d->rec_size = bm_comtrade_record_size(cfg);
	/* Generous room per field (a float written with 17 digits, padding)
	 * yet bounded: at most 64 * 4098 bytes for the largest cfg. */
	d->line_max = (size_t)BM_COMTRADE_DAT_FIELD_MAX *
	              (2 + (size_t)cfg->n_analog + cfg->n_digital) + 64;
}

/* File mode: make `need` bytes available from pos unless the file ends. */
static bm_err dec_fill(bm_comtrade_dec *d, size_t need, char *err, size_t errlen)
{
	size_t rem;

	if (d->len - d->pos >= need || d->eof || d->fp == NULL)
		return BM_OK;
	rem = d->len - d->pos;
	memmove(d->own, d->own + d->pos, rem);
	d->off += d->pos;
	d->pos = 0;
	d->len = rem;
	d->buf = d->own;
	while (d->len < d->cap && d->len < need) {
		size_t got = fread(d->own + d->len, 1, d->cap - d->len, d->fp);

		d->len += got;
		if (got == 0) {
			if (ferror(d->fp)) {
				seterr(err, errlen, "%s: read error at byte offset %llu", d->name,
				       (unsigned long long)(d->off + d->len));
				d->failed = true;
				return BM_E_IO;
			}
			d->eof = true;
			break;
		}
	}
	return BM_OK;
}

/* Message prefix naming the .dat and the record: "x.dat: record K at byte
 * offset X" (binary) or "x.dat:line L (record K)" (ASCII). */
static void dec_where(const bm_comtrade_dec *d, uint64_t rec, char *buf, size_t n)
{
	if (d->rec_size > 0)
		snprintf(buf, n, "%s: record %llu at byte offset %llu", d->name,
		         (unsigned long long)rec, (unsigned long long)d->rec_off);
	else
		snprintf(buf, n, "%s:line %lu (record %llu)", d->name, d->line,
		         (unsigned long long)rec);
}

static bm_err dec_fail(bm_comtrade_dec *d, char *err, size_t errlen, const char *fmt, ...) CT_PRINTF(4, 5);
static bm_err dec_fail(bm_comtrade_dec *d, char *err, size_t errlen, const char *fmt, ...)
{
	char where[512], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dec_where(d, d->count + 1, where, sizeof where);
	seterr(err, errlen, "%s: %s", where, msg);
	d->failed = true;
	return BM_E_FORMAT;
}

/* No record left: the count must match what the cfg declares. */
static bm_err dec_end(bm_comtrade_dec *d, char *err, size_t errlen)
{
	uint64_t want = d->cfg->n_samples;

	if (want != 0 && d->count != want) {
		seterr(err, errlen, "%s: data ends after %llu records (byte offset %llu), but the cfg declares %llu samples",
		       d->name, (unsigned long long)d->count,
		       (unsigned long long)(d->off + d->pos), (unsigned long long)want);
		d->failed = true;
		return BM_E_FORMAT;
	}
	return BM_E_EOF;
}

/* Rate section of the record about to be decoded (position count + 1). */
static bm_err dec_rate(bm_comtrade_dec *d, bm_comtrade_frame *fr, char *err, size_t errlen)
{
	const bm_comtrade_cfg *cfg = d->cfg;
	uint64_t k = d->count + 1;

	if (cfg->n_samples != 0 && k > cfg->n_samples)
		return dec_fail(d, err, errlen, "more records than the %llu samples the cfg declares",
		                (unsigned long long)cfg->n_samples);
	if (cfg->n_rates > 0) {
		while (d->rate_idx + 1 < cfg->n_rates && k > cfg->rate[d->rate_idx].endsamp)
			d->rate_idx++;
		if (fr != NULL) {
			fr->rate_index = (int)d->rate_idx;
			fr->rate_hz = cfg->rate[d->rate_idx].hz;
		}
	} else if (fr != NULL) {
		fr->rate_index = -1;
		fr->rate_hz = d->ts_rate_hz;
	}
	return BM_OK;
}

static uint32_t rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void decode_binary(const bm_comtrade_dec *d, const uint8_t *p,
                          bm_comtrade_frame *fr, double *values)
{
	const bm_comtrade_cfg *cfg = d->cfg;
	uint32_t ts = rd_u32(p + 4);

	if (fr != NULL) {
		fr->sample = rd_u32(p);
		fr->t_us = ts == 0xFFFFFFFFu ? NAN : (double)ts * cfg->timemult * cfg->ts_unit_us;
	}
	if (values == NULL)
		return;
	p += 8;
	for (unsigned i = 0; i < cfg->n_analog; i++) {
		const bm_comtrade_analog *ch = &cfg->analog[i];
		double raw;

		switch (cfg->type) {
		case BM_COMTRADE_BINARY: {
			/* -32768 (0x8000) marks a missing value; the written range is
			 * -32767..32767. */
			uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8;

			raw = u == 0x8000u ? NAN : (double)((int32_t)u - (u >= 0x8000u ? 65536 : 0));
			p += 2;
			break;
		}
		case BM_COMTRADE_BINARY32: {
			uint32_t u = rd_u32(p);

			raw = u == 0x80000000u ? NAN
			                        : (double)((int64_t)u - (u >= 0x80000000u ? INT64_C(4294967296) : 0));
			p += 4;
			break;
		}
		default: { /* FLOAT32 */
			uint32_t u = rd_u32(p);
			float fv;

			memcpy(&fv, &u, sizeof fv);
			raw = isfinite(fv) ? (double)fv : NAN;
			p += 4;
			break;
		}
		}
		values[i] = ch->k * raw + ch->c;
	}
	/* Digital words follow; the meter does not use them yet. */
}

static bm_err next_binary(bm_comtrade_dec *d, bm_comtrade_frame *fr, double *values,
                          char *err, size_t errlen)
{
	size_t avail;
	bm_err rc = dec_fill(d, d->rec_size, err, errlen);

	if (rc != BM_OK)
		return rc;
	avail = d->len - d->pos;
	if (avail == 0)
		return dec_end(d, err, errlen);
	d->rec_off = d->off + d->pos;
	if (avail < d->rec_size)
		return dec_fail(d, err, errlen, "truncated: %zu of %zu bytes", avail, d->rec_size);
	rc = dec_rate(d, fr, err, errlen);
	if (rc != BM_OK)
		return rc;
	decode_binary(d, d->buf + d->pos, fr, values);
	d->pos += d->rec_size;
	d->count++;
	return BM_OK;
}

/* One ASCII record "n,timestamp,a1..aA,d1..dD" (line without EOL). */
static bm_err decode_ascii(bm_comtrade_dec *d, const char *s, size_t len,
                           bm_comtrade_frame *fr, double *values, char *err, size_t errlen)
{
	const bm_comtrade_cfg *cfg = d->cfg;
	size_t want = 2 + (size_t)cfg->n_analog + cfg->n_digital;
	const char *end = s + len;
	char tmp[BM_COMTRADE_DAT_FIELD_MAX + 1];
	size_t j;

	for (j = 0; j < want; j++) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		const char *fe = c != NULL ? c : end;
		size_t n;
		char *v;

		if (c == NULL && j + 1 < want)
			return dec_fail(d, err, errlen, "%zu fields, expected %zu", j + 1, want);
		if (c != NULL && j + 1 == want)
			return dec_fail(d, err, errlen, "more than the %zu fields expected", want);
		n = (size_t)(fe - s);
		if (n > BM_COMTRADE_DAT_FIELD_MAX)
			return dec_fail(d, err, errlen, "field %zu is too long", j + 1);
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (memchr(tmp, '\0', n) != NULL)
			return dec_fail(d, err, errlen, "NUL byte in field %zu", j + 1);
		v = trim(tmp);
		s = fe + (c != NULL ? 1 : 0);

		if (j == 0) {
			uint64_t sn;

			if (!parse_u64(v, &sn))
				return dec_fail(d, err, errlen, "sample number \"%.24s\" is not a number", v);
			if (fr != NULL)
				fr->sample = sn;
		} else if (j == 1) {
			uint64_t ts = 0;

			if (v[0] != '\0' && !parse_u64(v, &ts))
				return dec_fail(d, err, errlen, "timestamp \"%.24s\" is not a number", v);
			if (fr != NULL)
				fr->t_us = v[0] == '\0' ? NAN
				                        : (double)ts * cfg->timemult * cfg->ts_unit_us;
		} else if (j < 2 + (size_t)cfg->n_analog) {
			size_t i = j - 2;
			double raw = NAN;

			if (v[0] != '\0' && !parse_dbl(v, &raw))
				return dec_fail(d, err, errlen, "analog channel %zu value \"%.24s\" is not a number",
				                i + 1, v);
			raw = cfg->analog[i].k * raw + cfg->analog[i].c;
			if (isinf(raw))
				return dec_fail(d, err, errlen, "analog channel %zu value \"%.24s\" out of range",
				                i + 1, v);
			if (values != NULL)
				values[i] = raw;
		} else if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
			return dec_fail(d, err, errlen, "digital channel %zu value \"%.24s\" is not 0 or 1",
			                j - 1 - (size_t)cfg->n_analog, v);
		}
	}
	return BM_OK;
}

static bm_err next_ascii(bm_comtrade_dec *d, bm_comtrade_frame *fr, double *values,
                         char *err, size_t errlen)
{
	for (;;) {
		const uint8_t *nl;
		size_t start, n;
		bool blank = true;
		bm_err rc;

		nl = memchr(d->buf + d->pos, '\n', d->len - d->pos);
		/* fread may return short before EOF shows: read until a newline,
		 * the end of the file, or a full window (a line too long). */
		while (nl == NULL && !d->eof && d->fp != NULL) {
			size_t avail = d->len - d->pos;

			if (avail >= d->cap) {
				d->line++;
				d->rec_off = d->off + d->pos;
				return dec_fail(d, err, errlen, "line too long (over %zu bytes)", d->line_max);
			}
			rc = dec_fill(d, avail + 1, err, errlen);
			if (rc != BM_OK)
				return rc;
			nl = memchr(d->buf + d->pos, '\n', d->len - d->pos);
		}
		if (d->pos >= d->len)
			return dec_end(d, err, errlen);
		start = d->pos;
		n = nl != NULL ? (size_t)(nl - (d->buf + start)) : d->len - start;
		d->pos = start + n + (nl != NULL ? 1 : 0);
		d->line++;
		d->rec_off = d->off + start;
		if (n > 0 && d->buf[start + n - 1] == '\r')
			n--;
		if (n > d->line_max)
			return dec_fail(d, err, errlen, "line too long (%zu bytes, at most %zu)", n, d->line_max);
		for (size_t i = 0; i < n && blank; i++) {
			uint8_t c = d->buf[start + i];

			blank = c == ' ' || c == '\t' || c == 0x1a;
		}
		if (blank)
			continue;
		rc = dec_rate(d, fr, err, errlen);
		if (rc == BM_OK)
			rc = decode_ascii(d, (const char *)d->buf + start, n, fr, values, err, errlen);
		if (rc != BM_OK)
			return rc;
		d->count++;
		return BM_OK;
	}
}

bm_err bm_comtrade_dec_next(bm_comtrade_dec *d, bm_comtrade_frame *frame,
                            double *values, char *err, size_t errlen)
{
	if (d == NULL || d->cfg == NULL)
		return BM_E_INVAL;
	if (d->failed) {
		seterr(err, errlen, "%s: decoding stopped at an earlier error", d->name);
		return BM_E_FORMAT;
	}
	if (d->cfg->type == BM_COMTRADE_ASCII)
		return next_ascii(d, frame, values, err, errlen);
	return next_binary(d, frame, values, err, errlen);
}

static bm_err dec_rewind(bm_comtrade_dec *d, char *err, size_t errlen)
{
	if (d->fp != NULL) {
		if (fseek(d->fp, 0, SEEK_SET) != 0) {
			seterr(err, errlen, "%s: cannot seek: %s", d->name, strerror(errno));
			return BM_E_IO;
		}
		clearerr(d->fp);
		d->buf = d->own;
		d->len = 0;
		d->eof = false;
	}
	d->pos = 0;
	d->off = 0;
	d->count = 0;
	d->rec_off = 0;
	d->line = 0;
	d->rate_idx = 0;
	d->failed = false;
	return BM_OK;
}

bm_err bm_comtrade_dec_scan(bm_comtrade_dec *d, uint64_t *n_records,
                            double *rate_hz, char *err, size_t errlen)
{
	const bm_comtrade_cfg *cfg;
	bool ts_only;
	double first = 0, prev = 0, dmin = INFINITY, dmax = -INFINITY;
	uint64_t n = 0;
	bm_comtrade_frame fr;
	bm_err rc;

	if (d == NULL || d->cfg == NULL)
		return BM_E_INVAL;
	cfg = d->cfg;
	ts_only = cfg->n_rates == 0;
	while ((rc = bm_comtrade_dec_next(d, &fr, NULL, err, errlen)) == BM_OK) {
		if (ts_only) {
			if (isnan(fr.t_us)) {
				char where[512];

				dec_where(d, d->count, where, sizeof where);
				seterr(err, errlen, "%s: missing timestamp in a file without a sampling rate", where);
				return BM_E_FORMAT;
			}
			if (n == 0) {
				first = fr.t_us;
			} else {
				double dt = fr.t_us - prev;

				dmin = dt < dmin ? dt : dmin;
				dmax = dt > dmax ? dt : dmax;
			}
			prev = fr.t_us;
		}
		n++;
	}
	if (rc != BM_E_EOF)
		return rc;
	if (ts_only) {
		double tick = cfg->timemult * cfg->ts_unit_us, mean, hz;

		if (n < 2) {
			seterr(err, errlen, "%s: cannot derive a sampling rate from %llu sample(s): the cfg has none",
			       d->name, (unsigned long long)n);
			return BM_E_FORMAT;
		}
		mean = (prev - first) / (double)(n - 1);
		/* Integer µs stamps of 12.8 kS/s alternate 78/79: allow one tick
		 * of jitter, nothing that looks like a gap. */
		if (!(dmin > 0.0) || dmax - dmin > tick + 1e-3 * mean) {
			seterr(err, errlen, "%s: non-uniform timestamps without a sampling rate (spacing %.6g to %.6g us)",
			       d->name, dmin, dmax);
			return BM_E_FORMAT;
		}
		hz = 1e6 / mean;
		if (!isfinite(hz) || hz > CT_MAX_RATE_HZ) {
			seterr(err, errlen, "%s: derived sampling rate out of range", d->name);
			return BM_E_FORMAT;
		}
		d->ts_rate_hz = hz;
	}
	if (n_records != NULL)
		*n_records = n;
	if (rate_hz != NULL)
		*rate_hz = ts_only ? d->ts_rate_hz : cfg->rate[0].hz;
	return dec_rewind(d, err, errlen);
}

/* ------------------------------------------------------------ file reader */

static bm_err open_file(const char *path, FILE **fp, char *err, size_t errlen)
{
	*fp = fopen(path, "rb");
	if (*fp == NULL) {
		int e = errno;

		seterr(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return e == ENOENT ? BM_E_NOTFOUND : BM_E_IO;
	}
	return BM_OK;
}

/* Reads a whole .cfg into a NUL-free heap buffer of at most MAX_BYTES. */
static bm_err read_cfg_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *fp;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	bm_err rc = open_file(path, &fp, err, errlen);

	if (rc != BM_OK)
		return rc;
	for (;;) {
		size_t got;

		if (n == cap) {
			size_t ncap = cap == 0 ? 16384 : cap * 2;
			char *nb;

			if (cap > BM_COMTRADE_CFG_MAX_BYTES) {
				seterr(err, errlen, "%s: larger than %u bytes: not a COMTRADE cfg", path,
				       BM_COMTRADE_CFG_MAX_BYTES);
				rc = BM_E_FORMAT;
				break;
			}
			nb = realloc(buf, ncap);
			if (nb == NULL) {
				seterr(err, errlen, "%s: out of memory", path);
				rc = BM_E_NOSPACE;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0) {
			if (ferror(fp)) {
				seterr(err, errlen, "%s: read error", path);
				rc = BM_E_IO;
			}
			break;
		}
	}
	fclose(fp);
	if (rc == BM_OK && n > BM_COMTRADE_CFG_MAX_BYTES) {
		seterr(err, errlen, "%s: larger than %u bytes: not a COMTRADE cfg", path,
		       BM_COMTRADE_CFG_MAX_BYTES);
		rc = BM_E_FORMAT;
	}
	if (rc != BM_OK) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = n;
	return BM_OK;
}

/* The .dat beside X.cfg: X.dat or X.DAT (upper case first when the .cfg
 * extension was upper case, as on files from DOS-era recorders). */
static bm_err open_dat(bm_comtrade_reader *r, const char *cfg_path, FILE **fp,
                       char *err, size_t errlen)
{
	size_t n = strlen(cfg_path);
	bool upper = cfg_path[n - 3] == 'C';
	const char *ext[2] = { upper ? ".DAT" : ".dat", upper ? ".dat" : ".DAT" };
	char *path[2];

	for (int i = 0; i < 2; i++) {
		path[i] = malloc(n + 1);
		if (path[i] == NULL) {
			if (i == 1)
				free(path[0]);
			seterr(err, errlen, "%s: out of memory", cfg_path);
			return BM_E_NOSPACE;
		}
		memcpy(path[i], cfg_path, n - 4);
		memcpy(path[i] + n - 4, ext[i], 5);
	}
	for (int i = 0; i < 2; i++) {
		*fp = fopen(path[i], "rb");
		if (*fp != NULL) {
			r->dat_path = path[i];
			free(path[1 - i]);
			return BM_OK;
		}
		if (errno != ENOENT) {
			seterr(err, errlen, "%s: cannot open: %s", path[i], strerror(errno));
			free(path[0]);
			free(path[1]);
			return BM_E_IO;
		}
	}
	seterr(err, errlen, "%s: data file not found (tried %s and %s)", cfg_path, path[0], path[1]);
	free(path[0]);
	free(path[1]);
	return BM_E_NOTFOUND;
}

/* Binary: the size must be whole records and match the declared count. */
static bm_err check_dat_size(bm_comtrade_reader *r, char *err, size_t errlen)
{
	struct stat st;
	size_t rs = r->dec.rec_size;
	uint64_t size, recs;

	if (fstat(fileno(r->dec.fp), &st) != 0 || !S_ISREG(st.st_mode))
		return BM_OK; /* a pipe: the decoder still catches truncation */
	size = (uint64_t)st.st_size;
	recs = size / rs;
	if (size % rs != 0) {
		seterr(err, errlen, "%s: record %llu at byte offset %llu is truncated: %llu of %zu bytes (file is %llu bytes)",
		       r->dat_path, (unsigned long long)(recs + 1),
		       (unsigned long long)(recs * rs), (unsigned long long)(size % rs), rs,
		       (unsigned long long)size);
		return BM_E_FORMAT;
	}
	if (recs == 0) {
		seterr(err, errlen, "%s: no records", r->dat_path);
		return BM_E_FORMAT;
	}
	if (r->cfg.n_samples != 0 && recs != r->cfg.n_samples) {
		seterr(err, errlen, "%s: holds %llu records of %zu bytes, but the cfg declares %llu samples",
		       r->dat_path, (unsigned long long)recs, rs,
		       (unsigned long long)r->cfg.n_samples);
		return BM_E_FORMAT;
	}
	r->n_records = recs;
	return BM_OK;
}

bm_err bm_comtrade_open(bm_comtrade_reader *r, const char *cfg_path,
                        char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, n, cap;
	FILE *fp = NULL;
	bm_err rc;

	if (r == NULL)
		return BM_E_INVAL;
	memset(r, 0, sizeof *r);
	if (cfg_path == NULL) {
		seterr(err, errlen, "no cfg path");
		return BM_E_INVAL;
	}
	n = strlen(cfg_path);
	if (n >= 5 && ci_eq(cfg_path + n - 4, ".cff")) {
		seterr(err, errlen, "%s: single-file COMTRADE (.cff) is not supported; use .cfg + .dat", cfg_path);
		return BM_E_UNSUPPORTED;
	}
	if (n < 5 || !ci_eq(cfg_path + n - 4, ".cfg")) {
		seterr(err, errlen, "%s: not a .cfg file name", cfg_path);
		return BM_E_INVAL;
	}
	rc = read_cfg_file(cfg_path, &text, &len, err, errlen);
	if (rc != BM_OK)
		return rc;
	rc = bm_comtrade_cfg_parse(text, len, cfg_path, &r->cfg, err, errlen);
	free(text);
	if (rc != BM_OK)
		return rc;
	rc = open_dat(r, cfg_path, &fp, err, errlen);
	if (rc != BM_OK)
		goto fail;

	bm_comtrade_dec_init(&r->dec, &r->cfg, r->dat_path, NULL, 0);
	cap = r->dec.rec_size > 0 ? r->dec.rec_size : r->dec.line_max + 2;
	if (cap < CT_WINDOW)
		cap = CT_WINDOW;
	r->dec.own = malloc(cap);
	if (r->dec.own == NULL) {
		fclose(fp);
		seterr(err, errlen, "%s: out of memory", cfg_path);
		rc = BM_E_NOSPACE;
		goto fail;
	}
	r->dec.fp = fp;
	r->dec.cap = cap;
	r->dec.buf = r->dec.own;
	r->dec.eof = false;
	if (r->dec.rec_size > 0) {
		rc = check_dat_size(r, err, errlen);
		if (rc != BM_OK)
			goto fail;
	} else {
		r->n_records = r->cfg.n_samples;
	}
	if (r->cfg.n_rates == 0) {
		/* Timestamps only: one pass to prove them uniform and get the rate. */
		rc = bm_comtrade_dec_scan(&r->dec, &r->n_records, &r->rate_hz, err, errlen);
		if (rc != BM_OK)
			goto fail;
	} else {
		r->rate_hz = r->cfg.rate[0].hz;
	}
	return BM_OK;
fail:
	bm_comtrade_close(r);
	return rc;
}

bm_err bm_comtrade_read(bm_comtrade_reader *r, double *values,
                        bm_comtrade_frame *frames, size_t max_frames,
                        size_t *n_read, char *err, size_t errlen)
{
	size_t na, i;

	if (n_read != NULL)
		*n_read = 0;
	if (r == NULL || r->dec.cfg == NULL || n_read == NULL ||
	    (values == NULL && r->cfg.n_analog > 0 && max_frames > 0)) {
		seterr(err, errlen, "bm_comtrade_read: bad arguments");
		return BM_E_INVAL;
	}
	na = r->cfg.n_analog;
	for (i = 0; i < max_frames; i++) {
		bm_err rc = bm_comtrade_dec_next(&r->dec, frames != NULL ? &frames[i] : NULL,
		                                 values != NULL ? values + i * na : NULL, err, errlen);

		if (rc == BM_E_EOF)
			break;
		if (rc != BM_OK) {
			*n_read = i;
			return rc;
		}
	}
	*n_read = i;
	return i > 0 || max_frames == 0 ? BM_OK : BM_E_EOF;
}

bm_err bm_comtrade_rewind(bm_comtrade_reader *r, char *err, size_t errlen)
{
	if (r == NULL || r->dec.cfg == NULL)
		return BM_E_INVAL;
	return dec_rewind(&r->dec, err, errlen);
}

void bm_comtrade_close(bm_comtrade_reader *r)
{
	if (r == NULL)
		return;
	if (r->dec.fp != NULL)
		fclose(r->dec.fp);
	free(r->dec.own);
	free(r->dat_path);
	bm_comtrade_cfg_free(&r->cfg);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ mapping */

static const char *const input_names[BM_PHASE_INPUTS] = { "I1", "I2", "I3", "In" };

/*
 * Map targets as one numbering ("slots"): 0..BM_MAX_CH-1 are the frame
 * channels, then each circuit's temperature (Cc.T), then each circuit's
 * residual current (Cc.R). One numbering lets the duplicate checks cover
 * every target alike.
 */
#define SLOT_T0 ((size_t)BM_MAX_CH)
#define SLOT_R0 (SLOT_T0 + BM_MAX_CIRCUITS)
#define N_SLOTS (SLOT_R0 + BM_MAX_CIRCUITS)

static int *slot_src(bm_comtrade_map *m, size_t slot)
{
	if (slot < SLOT_T0)
		return &m->src[slot];
	if (slot < SLOT_R0)
		return &m->temp_src[slot - SLOT_T0];
	return &m->res_src[slot - SLOT_R0];
}

/* "U1", "C2.In", "C1.T" or "C3.R" for a slot. */
static void target_name(size_t ch, char *buf, size_t n)
{
	unsigned c = (unsigned)ch;

	if (ch >= SLOT_R0)
		snprintf(buf, n, "C%u.R", (unsigned)(ch - SLOT_R0) + 1);
	else if (ch >= SLOT_T0)
		snprintf(buf, n, "C%u.T", (unsigned)(ch - SLOT_T0) + 1);
	else if (c < BM_VOLTAGE_INPUTS)
		snprintf(buf, n, "U%u", c + 1);
	else
		snprintf(buf, n, "C%u.%s", (c - BM_VOLTAGE_INPUTS) / BM_PHASE_INPUTS + 1,
		         input_names[(c - BM_VOLTAGE_INPUTS) % BM_PHASE_INPUTS]);
}

/* s lower-cased without blanks, '-', '_', '.' (as bm_comtrade_phase_parse
 * reads `ph`), cut to n - 1 bytes. */
static void squeeze(const char *s, char *out, size_t n)
{
	size_t k = 0;

	for (; *s != '\0' && k + 1 < n; s++) {
		if (*s == ' ' || *s == '\t' || *s == '-' || *s == '_' || *s == '.')
			continue;
		out[k++] = (char)tolower((unsigned char)*s);
	}
	out[k] = '\0';
}

/* Whether `hay` contains `needle` (ASCII, case-insensitive). */
static bool ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++) {
		size_t i = 0;

		while (i < n && hay[i] != '\0' && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

/*
 * Whether current channel i is a residual current (docs/comtrade.md
 * "Residual current and temperature"): ch_id containing RES or I0 (IRES,
 * 3I0, I0), ph N0 or 0, or ph R unless its ccbm also has an S or T current
 * (R/S/T phase naming, where R is phase 1).
 */
static bool is_residual(const bm_comtrade_cfg *cfg, unsigned i)
{
	const bm_comtrade_analog *ch = &cfg->analog[i];
	char ph[8];

	if (ch->kind != BM_COMTRADE_CURRENT)
		return false;
	if (ci_contains(ch->id, "RES") || ci_contains(ch->id, "I0"))
		return true;
	squeeze(ch->ph, ph, sizeof ph);
	if (strcmp(ph, "n0") == 0 || strcmp(ph, "0") == 0)
		return true;
	if (strcmp(ph, "r") != 0)
		return false;
	for (unsigned j = 0; j < cfg->n_analog; j++) {
		const bm_comtrade_analog *o = &cfg->analog[j];
		char oph[8];

		if (j == i || o->kind != BM_COMTRADE_CURRENT || strcmp(o->ccbm, ch->ccbm) != 0)
			continue;
		squeeze(o->ph, oph, sizeof oph);
		if (strcmp(oph, "s") == 0 || strcmp(oph, "t") == 0)
			return false;
	}
	return true;
}

static bool wiring_of(unsigned mask, bm_wiring *w)
{
	switch (mask) {
	case 0xF: *w = BM_WIRING_3P4W_4CT; return true;
	case 0x7: *w = BM_WIRING_3P4W_3CT; return true;
	case 0x5: *w = BM_WIRING_3P3W_2CT; return true;
	case 0x3: *w = BM_WIRING_1P3W; return true;
	case 0x1: *w = BM_WIRING_1P2W; return true;
	default: return false;
	}
}

/* Proposes each circuit's wiring; a combination no mode fits is `code`. */
static bm_err map_wiring(bm_comtrade_map *m, bm_err code, char *err, size_t errlen)
{
	for (unsigned c = 0; c < m->n_circuits; c++) {
		unsigned mask = 0;
		char have[32] = "";

		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			if (m->src[bm_ch_current(c, p)] >= 0) {
				mask |= 1u << p;
				strcat(have, " ");
				strcat(have, input_names[p]);
			}
		}
		if (!wiring_of(mask, &m->wiring[c])) {
			seterr(err, errlen,
			       "circuit C%u (\"%s\"): current inputs {%s } fit no wiring mode (I1 I2 I3 In, I1 I2 I3, I1 I3, I1 I2 or I1)",
			       c + 1, m->name[c], have);
			return code;
		}
	}
	return BM_OK;
}

static bm_err map_auto(const bm_comtrade_cfg *cfg, bm_comtrade_map *m, char *err, size_t errlen)
{
	unsigned mapped = 0;

	for (unsigned i = 0; i < cfg->n_analog; i++) {
		const bm_comtrade_analog *ch = &cfg->analog[i];
		size_t dst;
		unsigned c;
		char tn[24];

		if (ch->phase < BM_COMTRADE_PH_A || ch->phase > BM_COMTRADE_PH_N || is_residual(cfg, i))
			continue;
		if (ch->kind == BM_COMTRADE_VOLTAGE) {
			if (ch->phase == BM_COMTRADE_PH_N)
				continue; /* N-to-ground voltage: the meter has no input */
			dst = (size_t)ch->phase;
		} else if (ch->kind == BM_COMTRADE_CURRENT) {
			for (c = 0; c < m->n_circuits; c++) {
				if (strcmp(m->name[c], ch->ccbm) == 0)
					break;
			}
			if (c == m->n_circuits) {
				if (c == BM_MAX_CIRCUITS) {
					seterr(err, errlen,
					       "more than %d circuits: analog channel %u has a %dth ccbm \"%s\"; use --map",
					       BM_MAX_CIRCUITS, i + 1, BM_MAX_CIRCUITS + 1, ch->ccbm);
					return BM_E_UNSUPPORTED;
				}
				memcpy(m->name[c], ch->ccbm, sizeof m->name[c]);
				m->n_circuits++;
			}
			dst = bm_ch_current(c, (unsigned)ch->phase);
		} else {
			continue;
		}
		if (m->src[dst] >= 0) {
			target_name(dst, tn, sizeof tn);
			seterr(err, errlen, "analog channels %d and %u both look like %s (ph \"%s\", ccbm \"%s\"); use --map",
			       m->src[dst] + 1, i + 1, tn, ch->ph, ch->ccbm);
			return BM_E_UNSUPPORTED;
		}
		m->src[dst] = (int)i;
		mapped++;
	}
	if (mapped == 0) {
		seterr(err, errlen,
		       "no analog channel is a voltage or current with a known phase (units V/kV/mV, A/kA/mA; ph A/B/C/N); use --map");
		return BM_E_UNSUPPORTED;
	}
	/* Then temperatures and residual currents, to the circuits the phase
	 * currents formed (found by ccbm); a ccbm without one is not ours. */
	for (unsigned i = 0; i < cfg->n_analog; i++) {
		const bm_comtrade_analog *ch = &cfg->analog[i];
		size_t slot;
		unsigned c;
		int *dst;
		char tn[24];

		if (ch->kind == BM_COMTRADE_TEMPERATURE)
			slot = SLOT_T0;
		else if (is_residual(cfg, i))
			slot = SLOT_R0;
		else
			continue;
		for (c = 0; c < m->n_circuits; c++) {
			if (strcmp(m->name[c], ch->ccbm) == 0)
				break;
		}
		if (c == m->n_circuits)
			continue;
		slot += c;
		dst = slot_src(m, slot);
		if (*dst >= 0) {
			target_name(slot, tn, sizeof tn);
			seterr(err, errlen, "analog channels %d and %u both look like %s (%s of ccbm \"%s\"); use --map",
			       *dst + 1, i + 1, tn, slot < SLOT_R0 ? "the temperature" : "the residual current", ch->ccbm);
			return BM_E_UNSUPPORTED;
		}
		*dst = (int)i;
	}
	return map_wiring(m, BM_E_UNSUPPORTED, err, errlen);
}

/* Parses a --map target ("U2", "c1.in", "C2.T", "c3.r") into a slot. */
static bool parse_target(const char *t, size_t *ch)
{
	if ((t[0] == 'U' || t[0] == 'u') && t[1] >= '1' && t[1] <= '3' && t[2] == '\0') {
		*ch = (size_t)(t[1] - '1');
		return true;
	}
	if ((t[0] == 'C' || t[0] == 'c') && t[1] >= '1' && t[1] < '1' + BM_MAX_CIRCUITS &&
	    t[2] == '.' && t[3] != '\0' && t[4] == '\0') {
		size_t c = (size_t)(t[1] - '1');

		if (t[3] == 'T' || t[3] == 't') {
			*ch = SLOT_T0 + c;
			return true;
		}
		if (t[3] == 'R' || t[3] == 'r') {
			*ch = SLOT_R0 + c;
			return true;
		}
	}
	if ((t[0] == 'C' || t[0] == 'c') && t[1] >= '1' && t[1] < '1' + BM_MAX_CIRCUITS &&
	    t[2] == '.' && (t[3] == 'I' || t[3] == 'i') && t[4] != '\0' && t[5] == '\0') {
		unsigned c = (unsigned)(t[1] - '1'), p;

		if (t[4] >= '1' && t[4] <= '3')
			p = (unsigned)(t[4] - '1');
		else if (t[4] == 'n' || t[4] == 'N')
			p = 3;
		else
			return false;
		*ch = bm_ch_current(c, p);
		return true;
	}
	return false;
}

static bm_err map_override(const bm_comtrade_cfg *cfg, const char *spec, bm_comtrade_map *m,
                           char *err, size_t errlen)
{
	char buf[CT_MAP_MAX + 1];
	char *item, *next;
	unsigned k = 0;
	size_t n = strlen(spec);

	if (n > CT_MAP_MAX) {
		seterr(err, errlen, "--map: longer than %u characters", CT_MAP_MAX);
		return BM_E_INVAL;
	}
	memcpy(buf, spec, n + 1);
	for (item = buf; item != NULL; item = next) {
		char *eq, *tgt, *num, tn[24];
		uint64_t idx;
		size_t ch;
		const bm_comtrade_analog *a;

		k++;
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		item = trim(item);
		if (item[0] == '\0') {
			seterr(err, errlen, "--map: item %u is empty", k);
			return BM_E_INVAL;
		}
		eq = strchr(item, '=');
		if (eq == NULL) {
			seterr(err, errlen, "--map: item %u \"%.32s\": expected TARGET=N", k, item);
			return BM_E_INVAL;
		}
		*eq = '\0';
		tgt = trim(item);
		num = trim(eq + 1);
		if (!parse_target(tgt, &ch)) {
			seterr(err, errlen,
			       "--map: item %u: unknown target \"%.16s\" (U1..U3, or Cc.I1..Cc.In, Cc.T, Cc.R with c = 1..%d)",
			       k, tgt, BM_MAX_CIRCUITS);
			return BM_E_INVAL;
		}
		target_name(ch, tn, sizeof tn);
		if (!parse_u64(num, &idx) || idx < 1 || idx > cfg->n_analog) {
			seterr(err, errlen, "--map: %s=%.16s: channel must be 1..%u (analog channels in cfg order)",
			       tn, num, cfg->n_analog);
			return BM_E_INVAL;
		}
		if (*slot_src(m, ch) >= 0) {
			seterr(err, errlen, "--map: %s given twice", tn);
			return BM_E_INVAL;
		}
		for (size_t o = 0; o < N_SLOTS; o++) {
			if (*slot_src(m, o) == (int)idx - 1) {
				char on[24];

				target_name(o, on, sizeof on);
				seterr(err, errlen, "--map: analog channel %u mapped twice (%s and %s)",
				       (unsigned)idx, on, tn);
				return BM_E_INVAL;
			}
		}
		a = &cfg->analog[idx - 1];
		if (ch < BM_VOLTAGE_INPUTS && a->kind == BM_COMTRADE_CURRENT) {
			seterr(err, errlen, "--map: %s=%u: analog channel %u \"%s\" is a current (unit \"%s\"), not a voltage",
			       tn, (unsigned)idx, (unsigned)idx, a->id, a->unit);
			return BM_E_INVAL;
		}
		if (ch >= BM_VOLTAGE_INPUTS && ch < SLOT_T0 && a->kind == BM_COMTRADE_VOLTAGE) {
			seterr(err, errlen, "--map: %s=%u: analog channel %u \"%s\" is a voltage (unit \"%s\"), not a current",
			       tn, (unsigned)idx, (unsigned)idx, a->id, a->unit);
			return BM_E_INVAL;
		}
		if (ch < SLOT_T0 && a->kind == BM_COMTRADE_TEMPERATURE) {
			seterr(err, errlen, "--map: %s=%u: analog channel %u \"%s\" is a temperature (unit \"%s\"), not a %s",
			       tn, (unsigned)idx, (unsigned)idx, a->id, a->unit, ch < BM_VOLTAGE_INPUTS ? "voltage" : "current");
			return BM_E_INVAL;
		}
		if (ch >= SLOT_T0 && ch < SLOT_R0 && a->kind != BM_COMTRADE_TEMPERATURE) {
			seterr(err, errlen,
			       "--map: %s=%u: analog channel %u \"%s\" has unit \"%s\", not a temperature (C, degC, deg C, \xC2\xB0" "C, Cel)",
			       tn, (unsigned)idx, (unsigned)idx, a->id, a->unit);
			return BM_E_INVAL;
		}
		if (ch >= SLOT_R0 && a->kind != BM_COMTRADE_CURRENT) {
			seterr(err, errlen, "--map: %s=%u: analog channel %u \"%s\" has unit \"%s\", not a current (A, mA, kA)",
			       tn, (unsigned)idx, (unsigned)idx, a->id, a->unit);
			return BM_E_INVAL;
		}
		*slot_src(m, ch) = (int)idx - 1;
		if (ch >= BM_VOLTAGE_INPUTS && ch < SLOT_T0) {
			unsigned c = (unsigned)((ch - BM_VOLTAGE_INPUTS) / BM_PHASE_INPUTS);

			if (c + 1 > m->n_circuits)
				m->n_circuits = c + 1;
		}
	}
	/* A temperature or residual current belongs to a circuit with currents. */
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		for (size_t slot = SLOT_T0 + c; slot < N_SLOTS; slot += BM_MAX_CIRCUITS) {
			char tn[24];

			if (*slot_src(m, slot) < 0 || c < m->n_circuits)
				continue;
			target_name(slot, tn, sizeof tn);
			seterr(err, errlen, "--map: %s=%d: circuit C%u has no current input (map C%u.I1.. too)", tn,
			       *slot_src(m, slot) + 1, c + 1, c + 1);
			return BM_E_INVAL;
		}
	}
	/* Name each circuit by the ccbm of its first mapped input, else "Cc". */
	for (unsigned c = 0; c < m->n_circuits; c++) {
		snprintf(m->name[c], sizeof m->name[c], "C%u", c + 1);
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			int s = m->src[bm_ch_current(c, p)];

			if (s >= 0 && cfg->analog[s].ccbm[0] != '\0') {
				memcpy(m->name[c], cfg->analog[s].ccbm, sizeof m->name[c]);
				break;
			}
		}
	}
	return map_wiring(m, BM_E_INVAL, err, errlen);
}

/* An empty map: no circuits, every source -1. */
static void map_clear(bm_comtrade_map *m)
{
	memset(m, 0, sizeof *m);
	for (size_t s = 0; s < N_SLOTS; s++)
		*slot_src(m, s) = -1;
}

bm_err bm_comtrade_map_build(const bm_comtrade_cfg *cfg, const char *override,
                             bm_comtrade_map *out, char *err, size_t errlen)
{
	bm_err rc;

	if (cfg == NULL || out == NULL || (cfg->n_analog > 0 && cfg->analog == NULL)) {
		seterr(err, errlen, "bm_comtrade_map_build: bad arguments");
		return BM_E_INVAL;
	}
	map_clear(out);
	if (override != NULL && override[0] != '\0')
		rc = map_override(cfg, override, out, err, errlen);
	else
		rc = map_auto(cfg, out, err, errlen);
	if (rc != BM_OK)
		map_clear(out);
	return rc;
}

size_t bm_comtrade_map_frame(const bm_comtrade_map *m, const double *row,
                             size_t n_analog, float *frame, size_t stride)
{
	size_t missing = 0;

	for (size_t ch = 0; ch < stride; ch++) {
		int s = ch < BM_MAX_CH ? m->src[ch] : -1;
		double v;

		frame[ch] = 0.0f;
		if (s < 0 || (size_t)s >= n_analog)
			continue;
		v = row[s];
		if (isnan(v)) {
			missing++;
			continue;
		}
		frame[ch] = (float)v;
	}
	return missing;
}

void bm_comtrade_map_aux(const bm_comtrade_map *m, const double *vals, unsigned n_analog,
                         double temp_c[BM_MAX_CIRCUITS], double res_ma[BM_MAX_CIRCUITS])
{
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
		bool in = c < m->n_circuits && vals != NULL;
		int t = in ? m->temp_src[c] : -1, r = in ? m->res_src[c] : -1;

		/* a missing value is NaN already, and stays NaN */
		temp_c[c] = t >= 0 && (unsigned)t < n_analog ? vals[t] : NAN;
		res_ma[c] = r >= 0 && (unsigned)r < n_analog ? vals[r] * 1000.0 : NAN;
	}
}
