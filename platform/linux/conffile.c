/*
 * conffile.c — the configuration file of `branchmeter run --config FILE`:
 * the INI parser and the application of its [settings] (conffile.h).
 *
 * Invariants:
 *  - The parser fills a fresh bm_conf inside a parse context; *out is
 *    written once, at the very end, only when every check passed. The first
 *    error wins and stops the parse; its message names the file and line.
 *  - [settings] keys are register names: the register map is the one table
 *    of settings (no second list here). A key is a setting when the map says
 *    it is written with the settings (or reset) password and it is no
 *    command: access RW at level "settings" except the clock and the relay
 *    commands, plus the W registers that set a password.
 *  - Values reach bm_settings only through bm_rm_write(), so the file can
 *    never set anything a Modbus client could not, nor skip a check.
 *
 * Why our own line reader around inih (as scenario.c): the packaged inih
 * (Debian 55) is built without INI_HANDLER_LINENO, so the handler never
 * learns the line. inih calls its reader exactly once per line and calls the
 * handler before asking for the next one, so a reader that counts lines
 * knows the line of every handler call. The reader also refuses lines longer
 * than inih's buffer (which inih would silently split), sees section headers
 * (so an unknown section is reported even when empty), and flags indented
 * continuation lines, which inih would hand over as a second value of the
 * previous key.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "msg.h"
#include "bm/modbus.h"
#include "bm/regmap.h"
#include "conffile.h"
#include "inilines.h"

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

#define CLIENTS_MAX 1024u
#define IDLE_MIN_S 0.1
#define IDLE_MAX_S 86400.0
#define GPIO_LINE_MAX 65535u

/* Value text in messages: bounded, so a message stays one line. */
#define VAL_FMT "%.64s%s"
#define VAL_ARG(v) (v), (strlen(v) > 64 ? "..." : "")


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

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ------------------------------------------------------------ numbers */

/*
 * A decimal number: [+-] digits [. digits] [e [+-] digits], at least one
 * mantissa digit, nothing else (no hex, inf, nan, blanks). The syntax is
 * ours; the conversion is strtod's on a bounded copy.
 */
static bool parse_num(const char *s, double *out)
{
	char buf[64];
	size_t len = strlen(s);
	if (len == 0 || len >= sizeof buf)
		return false;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	size_t digits = 0;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		size_t ed = 0;
		while (isdigit((unsigned char)*p))
			p++, ed++;
		if (ed == 0)
			return false;
	}
	if (*p != '\0')
		return false;
	memcpy(buf, s, len + 1);
	char *end = NULL;
	double v = strtod(buf, &end);
	if (end != buf + len || !isfinite(v)) /* a ',' locale or an overflow */
		return false;
	*out = v;
	return true;
}

/* A whole number: [+-] digits (at most 20), magnitude in *mag. */
static bool parse_int(const char *s, bool *neg, uint64_t *mag)
{
	*neg = false;
	if (*s == '+' || *s == '-')
		*neg = *s++ == '-';
	size_t n = 0;
	uint64_t v = 0;
	for (; *s; s++, n++) {
		if (!isdigit((unsigned char)*s) || n >= 20)
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (n == 0)
		return false;
	*mag = v;
	return true;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	bool neg;
	uint64_t v;
	if (!parse_int(s, &neg, &v) || (neg && v != 0) || v > max)
		return false;
	*out = v;
	return true;
}

/* --------------------------------------------------- settings registers */

/* NULL if the item is a setting the file may set, else why not. */
static const char *not_a_setting(const bm_rm_info *in)
{
	if (in->access == BM_RA_R)
		return "a read-only register (a measurement or status), not a setting";
	if (in->access == BM_RA_W) {
		if (in->level != BM_RM_LEVEL_NONE && ends_with(in->name, "_password"))
			return NULL;
		if (strcmp(in->name, "period_start") == 0 || strcmp(in->name, "period_tariff") == 0)
			return "a command in the spec's encoding, not a setting: use Ta.start..Tf.start and "
			       "Ta.tariff..Tf.tariff";
		return "a command, not a setting";
	}
	if (in->level != BM_RM_LEVEL_SETTINGS)
		return "state of one Modbus connection, not a setting";
	if (strcmp(in->name, "rtc") == 0 || strcmp(in->name, "datetime") == 0)
		return "the clock is not a setting (set it over Modbus, or set the system clock)";
	if (ends_with(in->name, ".command"))
		return "a relay command, not a setting (the relay's mode is DOn.mode)";
	if (in->type == BM_RT_STR || in->type == BM_RT_DATETIME)
		return "not a number register: not settable from a file";
	return NULL;
}

/*
 * Encodes text as the registers of an item of `type` (`regs` registers,
 * big-endian, high word first, as a Modbus client sends them). NULL, or why
 * not with *rc the error class.
 */
static const char *encode_value(const char *text, unsigned type, unsigned regs, uint16_t out[4], bm_err *rc)
{
	*rc = BM_E_FORMAT;
	if (type == BM_RT_F32) {
		double v;
		if (!parse_num(text, &v))
			return "malformed number (expected a decimal number, e.g. 100 or 0.95 or 1e3)";
		if (fabs(v) > FLT_MAX) {
			*rc = BM_E_INVAL;
			return "out of range of a 32-bit float (F32)";
		}
		bm_rm_put_f32(out, (float)v);
		return NULL;
	}
	bool neg;
	uint64_t mag;
	static const char *const whole[BM_RT_COUNT] = {
		[BM_RT_U16] = "expected a whole number 0..65535 (U16)",
		[BM_RT_I16] = "expected a whole number -32768..32767 (I16)",
		[BM_RT_U32] = "expected a whole number 0..4294967295 (U32)",
		[BM_RT_I32] = "expected a whole number -2147483648..2147483647 (I32)",
		[BM_RT_U64] = "expected a whole number 0..18446744073709551615 (U64)",
		[BM_RT_I64] = "expected a whole number -9223372036854775808..9223372036854775807 (I64)",
	};
	if (type >= BM_RT_COUNT || !whole[type]) {
		*rc = BM_E_INVAL;
		return "not a number register: not settable from a file";
	}
	if (!parse_int(text, &neg, &mag))
		return whole[type];
	uint64_t pos_max, neg_max; /* largest magnitude either way */
	switch (type) {
	case BM_RT_U16: pos_max = 0xFFFFu, neg_max = 0; break;
	case BM_RT_I16: pos_max = 0x7FFFu, neg_max = 0x8000u; break;
	case BM_RT_U32: pos_max = 0xFFFFFFFFu, neg_max = 0; break;
	case BM_RT_I32: pos_max = 0x7FFFFFFFu, neg_max = 0x80000000u; break;
	case BM_RT_U64: pos_max = UINT64_MAX, neg_max = 0; break;
	default: pos_max = (uint64_t)INT64_MAX, neg_max = (uint64_t)INT64_MAX + 1u; break;
	}
	if (mag > (neg ? neg_max : pos_max)) {
		*rc = BM_E_INVAL;
		return whole[type];
	}
	uint64_t bits = neg ? (uint64_t)0 - mag : mag; /* two's complement, truncated to regs below */
	bm_rm_put_u64(out, bits, regs);
	return NULL;
}

/* ------------------------------------------------------ register lookup */

/*
 * Why an index: bm_rm_find() walks the whole map (4782 items over four
 * circuits, most of them measurements) and describes every item on its
 * way: ~0.1 ms per setting found and ~1 ms per name not found natively,
 * forty times that under the fuzzer's sanitizers. So the first lookup of
 * the process walks the map once into a sorted table of its names
 * (~270 KB), and every lookup is a binary search in it. The table is
 * read-only once built (pthread_once), so lookups are thread-safe; it holds
 * nothing but what the const register map says. Out of memory: every
 * lookup is a bm_rm_find().
 */
typedef struct rm_entry {
	char name[40];
	uint16_t addr;
	uint8_t regs, type, access, level;
	int8_t circuit;
	const char *requires;
} rm_entry;

static rm_entry *rm_ix;
static size_t rm_ix_n;
static pthread_once_t rm_ix_once = PTHREAD_ONCE_INIT;

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const rm_entry *)a)->name, ((const rm_entry *)b)->name);
}

static void index_build(void)
{
	size_t n = 0, cap = 0;
	rm_entry *e = NULL;
	bm_rm_iter it;
	bm_rm_info in;
	bm_rm_iter_init(&it, BM_MAX_CIRCUITS);
	while (bm_rm_next(&it, &in)) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 1024;
			rm_entry *ne = realloc(e, nc * sizeof *ne);
			if (!ne) {
				free(e);
				return;
			}
			e = ne;
			cap = nc;
		}
		rm_entry *d = &e[n++];
		memcpy(d->name, in.name, sizeof d->name);
		d->addr = in.addr;
		d->regs = in.regs;
		d->type = in.type;
		d->access = in.access;
		d->level = in.level;
		d->circuit = in.circuit;
		d->requires = in.requires;
	}
	if (n > 1)
		qsort(e, n, sizeof *e, entry_cmp);
	rm_ix = e;
	rm_ix_n = n;
}

/* bm_rm_find() through the index: BM_OK or BM_E_NOTFOUND. Fills name,
 * addr, regs, type, access, level, circuit and requires (not desc). */
static bm_err rm_lookup(const char *name, bm_rm_info *out)
{
	rm_entry key;
	size_t len = strlen(name);
	if (len >= sizeof key.name)
		return BM_E_NOTFOUND;
	(void)pthread_once(&rm_ix_once, index_build);
	if (!rm_ix)
		return bm_rm_find(name, out);
	memcpy(key.name, name, len + 1);
	const rm_entry *d = bsearch(&key, rm_ix, rm_ix_n, sizeof *rm_ix, entry_cmp);
	if (!d)
		return BM_E_NOTFOUND;
	memcpy(out->name, d->name, sizeof out->name);
	out->addr = d->addr;
	out->regs = d->regs;
	out->type = d->type;
	out->access = d->access;
	out->level = d->level;
	out->circuit = d->circuit;
	out->requires = d->requires;
	out->unit = "";
	out->desc[0] = '\0';
	return BM_OK;
}

/* --------------------------------------------------------------- parser */

enum { SEC_METER = 0, SEC_MODBUS, SEC_SETTINGS, SEC_GPIO, SEC_WEB, SEC_COUNT };
static const char *const sec_names[SEC_COUNT] = {"meter", "modbus", "settings", "gpio", "web"};

/* Keys of the fixed sections. */
enum { K_MODEL, K_TCP, K_RTU, K_CLIENTS, K_IDLE, K_WEB_LISTEN, K_WEB_ASSETS, K_WEB_ADMIN, K_WEB_USER, K_FIXED_COUNT };
static const struct {
	uint8_t sec;
	const char *name;
} fixed_keys[K_FIXED_COUNT] = {
	{SEC_METER, "model"}, {SEC_MODBUS, "tcp"}, {SEC_MODBUS, "rtu"}, {SEC_MODBUS, "clients"}, {SEC_MODBUS, "idle"},
	{SEC_WEB, "listen"}, {SEC_WEB, "assets"}, {SEC_WEB, "admin_password"}, {SEC_WEB, "user_password"},
};

typedef struct parse_ctx {
	bm_ini_lines src; /* the line reader (inilines.h) */
	bm_conf c;
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
	/* keys seen */
	bool seen_fixed[K_FIXED_COUNT];
	int fixed_line[K_FIXED_COUNT];
	int dout_line[BM_DO_MAX], din_line[BM_DI_MAX];
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

static void bad_value(parse_ctx *x, bm_err rc, const char *sec, const char *key, const char *val, const char *why)
{
	fail_at(x, rc, "[%s] %s = " VAL_FMT ": %s", sec, key, VAL_ARG(val), why);
}

/* Section index, or -1 (reported). */
static int section_index(parse_ctx *x, const char *s, size_t len)
{
	char buf[32];
	if (len < sizeof buf) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		for (int i = 0; i < SEC_COUNT; i++)
			if (ieq(buf, sec_names[i]))
				return i;
	}
	fail_at(x, BM_E_FORMAT, "unknown section [%.*s%s] (expected [meter], [modbus], [settings], [gpio] or [web])",
	        (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "");
	return -1;
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
		fail_at(x, BM_E_FORMAT, "line too long (at most %d characters)", max);
		return NULL;
	}
	if (k == BM_INI_SECTION) {
		int si = section_index(x, name, name_len);
		if (si < 0)
			return NULL;
	}
	return str;
}

/* Copies a value into a field of `cap` bytes; false (reported) if it does
 * not fit or is empty. */
static bool put_text(parse_ctx *x, char *dst, size_t cap, const char *sec, const char *key, const char *val)
{
	size_t n = strlen(val);
	if (n == 0) {
		bad_value(x, BM_E_FORMAT, sec, key, val, "empty value");
		return false;
	}
	if (n >= cap) {
		char why[64];
		snprintf(why, sizeof why, "too long (at most %zu characters)", cap - 1);
		bad_value(x, BM_E_FORMAT, sec, key, val, why);
		return false;
	}
	memcpy(dst, val, n + 1);
	return true;
}

static bool has_space(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return true;
	return false;
}

/* [modbus] tcp: "off" or "[HOST:]PORT", PORT 0..65535 (0: any free port). */
static void parse_tcp(parse_ctx *x, const char *sec, const char *key, const char *val)
{
	if (!put_text(x, x->c.tcp, sizeof x->c.tcp, sec, key, val))
		return;
	if (strcmp(val, "off") == 0)
		return;
	const char *colon = strrchr(val, ':');
	const char *port = colon ? colon + 1 : val;
	uint64_t p;
	bool neg;
	if (has_space(val) || (colon && colon == val) || !parse_int(port, &neg, &p) || neg || *port == '+' ||
	    *port == '-') {
		bad_value(x, BM_E_FORMAT, sec, key, val, "expected [HOST:]PORT (e.g. 1502 or 127.0.0.1:1502) or off");
		return;
	}
	if (p > 65535) {
		bad_value(x, BM_E_INVAL, sec, key, val, "port must be 0..65535 (0: any free port)");
		return;
	}
	if (colon && (size_t)(colon - val) > 255)
		bad_value(x, BM_E_FORMAT, sec, key, val, "host name too long (at most 255 characters)");
}

static int gpio_key(const char *name, bool *is_out)
{
	if ((name[0] != 'D' && name[0] != 'd') || name[1] == '\0' || name[2] < '1' || name[2] > '9' || name[3] != '\0')
		return -1;
	if (name[1] == 'O' || name[1] == 'o')
		*is_out = true;
	else if (name[1] == 'I' || name[1] == 'i')
		*is_out = false;
	else
		return -1;
	int n = name[2] - '1';
	return n < (*is_out ? BM_DO_MAX : BM_DI_MAX) ? n : -1;
}

/* [gpio] DOn / DIn = CHIP:LINE[:active_low|:active_high] */
static void parse_gpio(parse_ctx *x, const char *sec, const char *key, const char *val)
{
	bool is_out;
	int idx = gpio_key(key, &is_out);
	if (idx < 0) {
		fail_at(x, BM_E_FORMAT, "[%s] unknown key '%.40s' (expected DO1..DO%d or DI1..DI%d)", sec, key, BM_DO_MAX,
		        BM_DI_MAX);
		return;
	}
	int *lines = is_out ? x->dout_line : x->din_line;
	if (lines[idx]) {
		fail_at(x, BM_E_FORMAT, "[%s] %s: given twice (first at line %d)", sec, key, lines[idx]);
		return;
	}
	lines[idx] = x->line;
	static const char spec[] = "expected CHIP:LINE or CHIP:LINE:active_low, e.g. gpiochip0:17";
	char buf[160];
	size_t n = strlen(val);
	if (n == 0 || n >= sizeof buf || has_space(val)) {
		bad_value(x, BM_E_FORMAT, sec, key, val, spec);
		return;
	}
	memcpy(buf, val, n + 1);
	char *c1 = strchr(buf, ':');
	if (!c1 || c1 == buf) {
		bad_value(x, BM_E_FORMAT, sec, key, val, spec);
		return;
	}
	*c1 = '\0';
	char *line_s = c1 + 1, *c2 = strchr(line_s, ':');
	const char *flag = NULL;
	if (c2) {
		*c2 = '\0';
		flag = c2 + 1;
	}
	bm_conf_gpio g = {.used = true};
	uint64_t ln;
	if (*line_s == '+' || !parse_uint(line_s, UINT64_MAX, &ln)) {
		bad_value(x, BM_E_FORMAT, sec, key, val, spec);
		return;
	}
	if (ln > GPIO_LINE_MAX) {
		bad_value(x, BM_E_INVAL, sec, key, val, "line offset must be 0..65535");
		return;
	}
	if (flag) {
		if (strcmp(flag, "active_low") == 0)
			g.active_low = true;
		else if (strcmp(flag, "active_high") != 0) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "the flag after the line must be active_low or active_high");
			return;
		}
	}
	if (strlen(buf) >= sizeof g.chip) {
		bad_value(x, BM_E_FORMAT, sec, key, val, "chip name too long (at most 63 characters)");
		return;
	}
	strcpy(g.chip, buf);
	g.line = (unsigned)ln;
	for (int k = 0; k < BM_DO_MAX + BM_DI_MAX; k++) {
		const bm_conf_gpio *o = k < BM_DO_MAX ? &x->c.dout[k] : &x->c.din[k - BM_DO_MAX];
		if (o->used && o->line == g.line && strcmp(o->chip, g.chip) == 0) {
			char why[96];
			snprintf(why, sizeof why, "%s:%u is %s%d already", g.chip, g.line, k < BM_DO_MAX ? "DO" : "DI",
			         (k < BM_DO_MAX ? k : k - BM_DO_MAX) + 1);
			bad_value(x, BM_E_INVAL, sec, key, val, why);
			return;
		}
	}
	(is_out ? x->c.dout : x->c.din)[idx] = g;
}

/* [settings] NAME = VALUE */
static void parse_setting(parse_ctx *x, const char *sec, const char *key, const char *val)
{
	bm_rm_info in;
	if (rm_lookup(key, &in) != BM_OK) {
		fail_at(x, BM_E_FORMAT, "[%s] unknown register '%.40s%s' (names as in docs/registers.md, case-sensitive)",
		        sec, key, strlen(key) > 40 ? "..." : "");
		return;
	}
	for (unsigned i = 0; i < x->c.n_settings; i++)
		if (strcmp(x->c.settings[i].name, key) == 0) {
			fail_at(x, BM_E_FORMAT, "[%s] %s: given twice (first at line %d)", sec, key, x->c.settings[i].line);
			return;
		}
	const char *why = not_a_setting(&in);
	if (why) {
		bad_value(x, BM_E_INVAL, sec, key, val, why);
		return;
	}
	if (x->c.n_settings >= BM_CONF_MAX_SETTINGS) {
		fail_at(x, BM_E_FORMAT, "[%s] %s: more than %d settings", sec, key, BM_CONF_MAX_SETTINGS);
		return;
	}
	bm_conf_setting *s = &x->c.settings[x->c.n_settings];
	if (!put_text(x, s->value, sizeof s->value, sec, key, val))
		return;
	uint16_t regs[4];
	bm_err rc;
	why = encode_value(val, in.type, in.regs, regs, &rc);
	if (why) {
		bad_value(x, rc, sec, key, val, why);
		return;
	}
	strcpy(s->name, key); /* fits: a register name of this length was found */
	s->line = x->line;
	x->c.n_settings++;
}

static void parse_fixed(parse_ctx *x, int si, const char *sec, const char *key, const char *val)
{
	int k = 0;
	for (; k < K_FIXED_COUNT; k++)
		if (fixed_keys[k].sec == si && ieq(fixed_keys[k].name, key))
			break;
	if (k == K_FIXED_COUNT) {
		fail_at(x, BM_E_FORMAT, "[%s] unknown key '%.40s'%s", sec, key,
		        si == SEC_METER    ? " (expected model)"
		        : si == SEC_WEB ? " (expected listen, assets, admin_password or user_password)"
		                        : " (expected tcp, rtu, clients or idle)");
		return;
	}
	if (x->seen_fixed[k]) {
		fail_at(x, BM_E_FORMAT, "[%s] %s: given twice (first at line %d)", sec, key, x->fixed_line[k]);
		return;
	}
	x->seen_fixed[k] = true;
	x->fixed_line[k] = x->line;
	switch (k) {
	case K_MODEL:
		if (put_text(x, x->c.model, sizeof x->c.model, sec, key, val) && has_space(val))
			bad_value(x, BM_E_FORMAT, sec, key, val, "a model code has no blanks (e.g. KPM312-1A2B3C4D-R-K-T)");
		break;
	case K_TCP: parse_tcp(x, sec, key, val); break;
	case K_WEB_LISTEN:
		if (put_text(x, x->c.web, sizeof x->c.web, sec, key, val) && has_space(val))
			bad_value(x, BM_E_FORMAT, sec, key, val, "expected [HOST:]PORT or off");
		break;
	case K_WEB_ASSETS: put_text(x, x->c.web_assets, sizeof x->c.web_assets, sec, key, val); break;
	case K_WEB_ADMIN:
	case K_WEB_USER:
		if (put_text(x, k == K_WEB_ADMIN ? x->c.web_admin : x->c.web_user, sizeof x->c.web_admin, sec, key, val) &&
		    strlen(val) < 8)
			bad_value(x, BM_E_INVAL, sec, key, "(hidden)", "a password has at least 8 characters");
		break;
	case K_RTU:
		if (put_text(x, x->c.rtu, sizeof x->c.rtu, sec, key, val) && has_space(val))
			bad_value(x, BM_E_FORMAT, sec, key, val, "expected a serial device path, e.g. /dev/ttyUSB0");
		break;
	case K_CLIENTS: {
		uint64_t v;
		bool neg;
		if (!parse_int(val, &neg, &v)) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "expected a whole number");
			return;
		}
		if (neg || v < 1 || v > CLIENTS_MAX) {
			bad_value(x, BM_E_INVAL, sec, key, val, "must be 1..1024 connections");
			return;
		}
		x->c.clients = (unsigned)v;
		break;
	}
	default: { /* K_IDLE */
		double v;
		if (!parse_num(val, &v)) {
			bad_value(x, BM_E_FORMAT, sec, key, val, "malformed number");
			return;
		}
		if (!(v >= IDLE_MIN_S && v <= IDLE_MAX_S)) {
			bad_value(x, BM_E_INVAL, sec, key, val, "must be 0.1..86400 s");
			return;
		}
		x->c.idle_s = v;
		break;
	}
	}
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
		fail_at(x, BM_E_FORMAT, "%.40s: a key before the first [section]", name);
		return 0;
	}
	int si = section_index(x, section, strlen(section));
	if (si < 0)
		return 0;
	if (x->cont) {
		fail_at(x, BM_E_FORMAT,
		        "[%s] an indented line continues the previous key (%.40s); start each key at the beginning of "
		        "its line",
		        section, name);
		return 0;
	}
	switch (si) {
	case SEC_SETTINGS: parse_setting(x, section, name, value); break;
	case SEC_GPIO: parse_gpio(x, section, name, value); break;
	default: parse_fixed(x, si, section, name, value); break;
	}
	return x->rc == BM_OK;
}

bm_err bm_conf_load_string(const char *text, const char *name, bm_conf *out, char *err, size_t errlen)
{
	if (!name)
		name = "<string>";
	if (err && errlen > 0)
		err[0] = '\0';
	if (!text || !out) {
		bm_msgf(err, errlen, "%s: no text or no output", name);
		return BM_E_INVAL;
	}
	parse_ctx *x = calloc(1, sizeof *x);
	if (!x) {
		bm_msgf(err, errlen, "%s: out of memory", name);
		return BM_E_NOSPACE;
	}
	x->name = name;
	x->err = err;
	x->errlen = errlen;
	x->pos = text;
	snprintf(x->c.path, sizeof x->c.path, "%s", name);
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
	bm_err rc = x->rc;
	if (rc == BM_OK) {
		memcpy(out, &x->c, sizeof *out);
		if (err && errlen > 0)
			err[0] = '\0';
	}
	free(x);
	return rc;
}

bm_err bm_conf_load(const char *path, bm_conf *out, char *err, size_t errlen)
{
	if (err && errlen > 0)
		err[0] = '\0';
	if (!path || !out) {
		bm_msgf(err, errlen, "no file name or no output");
		return BM_E_INVAL;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		bm_msgf(err, errlen, "%s: %s", path, strerror(errno));
		return BM_E_IO;
	}
	char *buf = malloc(BM_CONF_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		bm_msgf(err, errlen, "%s: out of memory", path);
		return BM_E_NOSPACE;
	}
	size_t n = fread(buf, 1, BM_CONF_MAX_BYTES + 1, f);
	int rd_errno = ferror(f) ? errno : 0;
	bool rd_err = ferror(f) != 0;
	fclose(f);
	bm_err rc;
	if (rd_err) {
		bm_msgf(err, errlen, "%s: %s", path, rd_errno ? strerror(rd_errno) : "read error");
		rc = BM_E_IO;
	} else if (n > BM_CONF_MAX_BYTES) {
		bm_msgf(err, errlen, "%s: larger than %u bytes", path, BM_CONF_MAX_BYTES);
		rc = BM_E_FORMAT;
	} else if (memchr(buf, '\0', n)) {
		bm_msgf(err, errlen, "%s: contains a NUL byte (not a text file)", path);
		rc = BM_E_FORMAT;
	} else {
		buf[n] = '\0';
		rc = bm_conf_load_string(buf, path, out, err, errlen);
	}
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- apply */

/* One [settings] entry, resolved. */
typedef struct pending {
	uint16_t addr, count;
	uint16_t regs[4];
	bool done;
	const char *why; /* the last refusal (a static string of the register map) */
} pending;

typedef struct apply_ctx {
	bm_settings work;
	pending p[BM_CONF_MAX_SETTINGS];
} apply_ctx;

static int commit_copy(void *ctx, const bm_settings *next)
{
	((apply_ctx *)ctx)->work = *next;
	return 0;
}

static void apply_fail(const bm_conf *c, const bm_conf_setting *s, char *err, size_t errlen, const char *why)
{
	char loc[16] = "";
	if (s->line > 0)
		snprintf(loc, sizeof loc, "%d:", s->line);
	bm_msgf(err, errlen, "%.500s:%s [settings] %.40s = " VAL_FMT ": %s", c->path, loc, s->name, VAL_ARG(s->value),
	        why);
}

bm_err bm_conf_apply_settings(const bm_conf *c, bm_settings *set, char *err, size_t errlen)
{
	if (err && errlen > 0)
		err[0] = '\0';
	if (!c || !set) {
		bm_msgf(err, errlen, "no configuration or no settings");
		return BM_E_INVAL;
	}
	if (c->n_settings == 0)
		return BM_OK;
	if (c->n_settings > BM_CONF_MAX_SETTINGS || !memchr(c->path, '\0', sizeof c->path)) {
		bm_msgf(err, errlen, "configuration: bad setting count or path");
		return BM_E_INVAL;
	}
	apply_ctx *a = calloc(1, sizeof *a);
	if (!a) {
		bm_msgf(err, errlen, "%s: out of memory", c->path);
		return BM_E_NOSPACE;
	}
	a->work = *set;
	const unsigned n = c->n_settings;
	bm_err rc = BM_OK;

	/* Resolve every entry first: names, kinds and number syntax do not
	 * depend on the order, so such errors come out in file order. */
	for (unsigned i = 0; i < n && rc == BM_OK; i++) {
		const bm_conf_setting *s = &c->settings[i];
		bm_rm_info in;
		if (!memchr(s->name, '\0', sizeof s->name) || !memchr(s->value, '\0', sizeof s->value)) {
			bm_msgf(err, errlen, "%s: setting %u: name or value not terminated", c->path, i + 1);
			rc = BM_E_FORMAT;
			break;
		}
		if (rm_lookup(s->name, &in) != BM_OK) {
			apply_fail(c, s, err, errlen, "unknown register (names as in docs/registers.md, case-sensitive)");
			rc = BM_E_FORMAT;
			break;
		}
		const char *why = not_a_setting(&in);
		if (why) {
			apply_fail(c, s, err, errlen, why);
			rc = BM_E_INVAL;
			break;
		}
		if (in.circuit >= 0 && (unsigned)in.circuit >= set->meter.n_circuits) {
			char m[64];
			snprintf(m, sizeof m, "this meter has %u circuit%s", (unsigned)set->meter.n_circuits,
			         set->meter.n_circuits == 1 ? "" : "s");
			apply_fail(c, s, err, errlen, m);
			rc = BM_E_INVAL;
			break;
		}
		why = encode_value(s->value, in.type, in.regs, a->p[i].regs, &rc);
		if (why) {
			apply_fail(c, s, err, errlen, why);
			break;
		}
		rc = BM_OK;
		a->p[i].addr = in.addr;
		a->p[i].count = in.regs;
	}

	/* Write in file order; retry value refusals while a round makes
	 * progress (at most n rounds: each one completes at least one entry). */
	const bm_rm_view v = {.set = &a->work};
	const bm_rm_actions act = {.commit = commit_copy};
	bool progress = true;
	unsigned left = n;
	while (rc == BM_OK && left > 0 && progress) {
		progress = false;
		for (unsigned i = 0; i < n && rc == BM_OK; i++) {
			pending *p = &a->p[i];
			if (p->done)
				continue;
			/* a fresh fully unlocked session per write: nothing expires */
			bm_rm_session ses = {.level = BM_RM_LEVEL_SETTINGS | BM_RM_LEVEL_RESET, .until_s = UINT32_MAX};
			const char *what = NULL;
			int ex = bm_rm_write(&v, &ses, 0, -1, &act, a, p->addr, p->count, p->regs, &what);
			if (ex == 0) {
				p->done = true;
				progress = true;
				left--;
			} else if (ex == BM_MB_EX_ILLEGAL_VALUE) {
				/* the map names the field alone when the value does not fit
				 * its C type (enabled = 300): say what that means */
				p->why = !what ? "refused" : strchr(what, ' ') ? what : "out of range for this setting";
			} else {
				/* not there for this model (02), or an internal refusal */
				bm_rm_info in;
				char m[96];
				if (ex == BM_MB_EX_ILLEGAL_ADDRESS && rm_lookup(c->settings[i].name, &in) == BM_OK &&
				    in.requires && *in.requires)
					snprintf(m, sizeof m, "not on this model (needs %s)", in.requires);
				else
					snprintf(m, sizeof m, "refused (exception %d: %s)", ex, what ? what : "?");
				apply_fail(c, &c->settings[i], err, errlen, m);
				rc = BM_E_INVAL;
			}
		}
	}
	if (rc == BM_OK && left > 0) {
		for (unsigned i = 0; i < n; i++)
			if (!a->p[i].done) {
				apply_fail(c, &c->settings[i], err, errlen, a->p[i].why);
				break;
			}
		rc = BM_E_INVAL;
	}
	if (rc == BM_OK)
		*set = a->work;
	free(a);
	return rc;
}
