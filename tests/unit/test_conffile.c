/*
 * test_conffile.c — the configuration file of `branchmeter run --config`
 * (platform/linux/conffile.h).
 *
 * Purpose: prove that every section and key lands in its field, that every
 * class of bad input is refused with a message naming the file and the line
 * (and leaves the output untouched), and that [settings] reach bm_settings
 * only as register writes: values land in the right fields, a value the
 * register map refuses leaves the settings unchanged, non-settings are
 * refused, the key order does not matter where each step can be valid, and
 * every setting of the map can be set from a file.
 *
 * Invariants: expected values are written here from the documents
 * (docs/registers.md, docs/configuration.md), never read back through the
 * code under test; files are written into a mkdtemp directory.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bm/regmap.h"
#include "bm/settings.h"
#include "conffile.h"

#define EXAMPLE_INI BM_TEST_DATA "/../../docs/examples/branchmeter.ini"

/* ------------------------------------------------------------- fixtures */

static char g_dir[64];
static bm_conf CONF, CONF2; /* large: off the stack */

static int group_setup(void **state)
{
	(void)state;
	strcpy(g_dir, "/tmp/bm_conffile_XXXXXX");
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

/* Writes `text` (len bytes; strlen if len is 0) to g_dir/name; the path in buf. */
static void write_file(char *path, size_t n, const char *name, const char *text, size_t len)
{
	snprintf(path, n, "%s/%s", g_dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	if (len == 0)
		len = strlen(text);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Loads text through a file named name; returns the code, message in err. */
static bm_err load_text(const char *name, const char *text, bm_conf *out, char *err, size_t errlen, char *path,
                        size_t pathlen)
{
	write_file(path, pathlen, name, text, 0);
	return bm_conf_load(path, out, err, errlen);
}

/* The default settings of a 4-circuit meter with every option fitted. */
static void full_settings(bm_settings *s)
{
	bm_settings_default(s, NULL);
	s->caps.n_do = BM_DO_MAX;
	s->caps.n_di = BM_DI_MAX;
	s->caps.temperature = 0xF;
	s->caps.residual = 0xF;
	assert_int_equal(bm_settings_validate(s, NULL), BM_OK);
}

/* A conf with settings given as "name", "value" pairs, lines 1.. */
static void hand_conf(bm_conf *c, const char *const *pairs, unsigned n)
{
	memset(c, 0, sizeof *c);
	strcpy(c->path, "hand.ini");
	for (unsigned i = 0; i < n; i++) {
		snprintf(c->settings[i].name, sizeof c->settings[i].name, "%s", pairs[2 * i]);
		snprintf(c->settings[i].value, sizeof c->settings[i].value, "%s", pairs[2 * i + 1]);
		c->settings[i].line = (int)i + 1;
	}
	c->n_settings = n;
}

/* --------------------------------------------------------------- loading */

static void test_every_key(void **state)
{
	(void)state;
	char path[256], err[256];
	static const char text[] =
		"; a comment\n"
		"# another comment\n"
		"\n"
		"[meter]\n"
		"model = KPM312-1A2B3C4D-R-K-T   ; inline comment\n"
		"[modbus]\n"
		"tcp = 127.0.0.1:1502\n"
		"rtu = /dev/ttyUSB0\n"
		"clients = 32\n"
		"idle = 2.5\n"
		"[settings]\n"
		"vt_ratio = 100\n"
		"C1.I1.primary = 200\n"
		"C1.over_i.enabled = 1\n"
		"settings_password = 1234\n"
		"[gpio]\n"
		"DO1 = gpiochip0:17\n"
		"DO4 = /dev/gpiochip1:3:active_high\n"
		"DI1 = gpiochip0:22:active_low\n"
		"di3 = pinctrl-bcm2711:5\n";
	memset(&CONF, 0x5A, sizeof CONF);
	assert_int_equal(load_text("all.ini", text, &CONF, err, sizeof err, path, sizeof path), BM_OK);
	assert_string_equal(err, "");
	assert_string_equal(CONF.path, path);
	assert_string_equal(CONF.model, "KPM312-1A2B3C4D-R-K-T");
	assert_string_equal(CONF.tcp, "127.0.0.1:1502");
	assert_string_equal(CONF.rtu, "/dev/ttyUSB0");
	assert_int_equal(CONF.clients, 32);
	assert_true(CONF.idle_s == 2.5);
	assert_int_equal(CONF.n_settings, 4);
	static const char *const want[4][2] = {
		{"vt_ratio", "100"}, {"C1.I1.primary", "200"}, {"C1.over_i.enabled", "1"}, {"settings_password", "1234"}};
	for (unsigned i = 0; i < 4; i++) {
		assert_string_equal(CONF.settings[i].name, want[i][0]);
		assert_string_equal(CONF.settings[i].value, want[i][1]);
		assert_int_equal(CONF.settings[i].line, 12 + (int)i);
	}
	assert_true(CONF.dout[0].used);
	assert_string_equal(CONF.dout[0].chip, "gpiochip0");
	assert_int_equal(CONF.dout[0].line, 17);
	assert_false(CONF.dout[0].active_low);
	assert_false(CONF.dout[1].used);
	assert_false(CONF.dout[2].used);
	assert_true(CONF.dout[3].used);
	assert_string_equal(CONF.dout[3].chip, "/dev/gpiochip1");
	assert_int_equal(CONF.dout[3].line, 3);
	assert_false(CONF.dout[3].active_low);
	assert_true(CONF.din[0].used);
	assert_string_equal(CONF.din[0].chip, "gpiochip0");
	assert_int_equal(CONF.din[0].line, 22);
	assert_true(CONF.din[0].active_low);
	assert_false(CONF.din[1].used);
	assert_true(CONF.din[2].used);
	assert_string_equal(CONF.din[2].chip, "pinctrl-bcm2711");
	assert_int_equal(CONF.din[2].line, 5);
	assert_false(CONF.din[3].used);
}

static void test_empty_and_variants(void **state)
{
	(void)state;
	char path[256], err[256];
	/* nothing given: everything empty / zero */
	memset(&CONF, 0x5A, sizeof CONF);
	assert_int_equal(load_text("empty.ini", "", &CONF, err, sizeof err, path, sizeof path), BM_OK);
	assert_string_equal(CONF.model, "");
	assert_string_equal(CONF.tcp, "");
	assert_string_equal(CONF.rtu, "");
	assert_int_equal(CONF.clients, 0);
	assert_true(CONF.idle_s == 0);
	assert_int_equal(CONF.n_settings, 0);
	for (unsigned i = 0; i < BM_DO_MAX; i++)
		assert_false(CONF.dout[i].used);
	for (unsigned i = 0; i < BM_DI_MAX; i++)
		assert_false(CONF.din[i].used);

	/* empty sections, CRLF, a BOM, sections in any case, repeated */
	static const char text[] = "\xEF\xBB\xBF[Meter]\r\n[MODBUS]\r\ntcp = off\r\nclients=1\r\nidle = 86400\r\n"
	                           "[settings]\r\n[gpio]\r\n[settings]\r\nTa.start = 0800\r\n";
	assert_int_equal(load_text("crlf.ini", text, &CONF, err, sizeof err, path, sizeof path), BM_OK);
	assert_string_equal(CONF.tcp, "off");
	assert_int_equal(CONF.clients, 1);
	assert_true(CONF.idle_s == 86400);
	assert_int_equal(CONF.n_settings, 1);
	assert_string_equal(CONF.settings[0].name, "Ta.start");
	assert_string_equal(CONF.settings[0].value, "0800");
	assert_int_equal(CONF.settings[0].line, 9);

	/* tcp forms: a port alone, port 0 (any free port), a host name */
	static const char *const tcp_ok[] = {"1502", "0", "localhost:65535", "[::1]:502"};
	for (unsigned i = 0; i < sizeof tcp_ok / sizeof tcp_ok[0]; i++) {
		char t[128];
		snprintf(t, sizeof t, "[modbus]\ntcp = %s\n", tcp_ok[i]);
		assert_int_equal(bm_conf_load_string(t, "t.ini", &CONF, err, sizeof err), BM_OK);
		assert_string_equal(CONF.tcp, tcp_ok[i]);
	}
	/* a string parses the same; the name defaults to "<string>" */
	assert_int_equal(bm_conf_load_string("[modbus]\nclients = 1024\n", NULL, &CONF, err, sizeof err), BM_OK);
	assert_int_equal(CONF.clients, 1024);
	assert_string_equal(CONF.path, "<string>");
	assert_int_equal(bm_conf_load_string("[modbus]\nclients = 0\n", NULL, &CONF, err, sizeof err), BM_E_INVAL);
	assert_string_equal(err, "<string>:2: [modbus] clients = 0: must be 1..1024 connections");
	/* NULL arguments */
	assert_int_equal(bm_conf_load_string(NULL, "x", &CONF, err, sizeof err), BM_E_INVAL);
	assert_int_equal(bm_conf_load_string("", "x", NULL, err, sizeof err), BM_E_INVAL);
	assert_int_equal(bm_conf_load(NULL, &CONF, err, sizeof err), BM_E_INVAL);
	/* no message buffer: still the code */
	assert_int_equal(bm_conf_load_string("[x]\n", "x", &CONF, NULL, 0), BM_E_FORMAT);
}

typedef struct bad_case {
	const char *text;
	bm_err rc;
	int line;
	const char *msg; /* the message after "path:line: " */
} bad_case;

static const bad_case bad[] = {
	/* structure */
	{"[web]\nadmin_password = short\n", BM_E_INVAL, 2,
	 "[web] admin_password = (hidden): a password has at least 8 characters"},
	{"[web]\nport = 1\n", BM_E_FORMAT, 2,
	 "[web] unknown key 'port' (expected listen, assets, admin_password or user_password)"},
	{"[foo]\n", BM_E_FORMAT, 1, "unknown section [foo] (expected [meter], [modbus], [settings], [gpio] or [web])"},
	{"[meter]\n\n[grid]\nvoltage = 1\n", BM_E_FORMAT, 3, "unknown section [grid]"},
	{"model = x\n", BM_E_FORMAT, 1, "model: a key before the first [section]"},
	{"[meter]\nmodel = x\ngarbage\n", BM_E_FORMAT, 3, "syntax error: expected [section], key = value or a ; comment"},
	{"[meter\n", BM_E_FORMAT, 1, "syntax error"},
	{"[settings]\nvt_ratio = 100\n  address = 5\n", BM_E_FORMAT, 3,
	 "[settings] an indented line continues the previous key (vt_ratio)"},
	/* [meter] */
	{"[meter]\nmodell = x\n", BM_E_FORMAT, 2, "[meter] unknown key 'modell' (expected model)"},
	{"[meter]\nmodel = A\nmodel = B\n", BM_E_FORMAT, 3, "[meter] model: given twice (first at line 2)"},
	{"[meter]\nmodel =\n", BM_E_FORMAT, 2, "[meter] model = : empty value"},
	{"[meter]\nmodel = KPM312-1A2B3C4D-R-K-T-0123456789ABCDEFGH\n", BM_E_FORMAT, 2,
	 "[meter] model = KPM312-1A2B3C4D-R-K-T-0123456789ABCDEFGH: too long (at most 39 characters)"},
	{"[meter]\nmodel = KPM312 R\n", BM_E_FORMAT, 2, "[meter] model = KPM312 R: a model code has no blanks"},
	/* [modbus] */
	{"[modbus]\nport = 502\n", BM_E_FORMAT, 2, "[modbus] unknown key 'port' (expected tcp, rtu, clients or idle)"},
	{"[modbus]\ntcp = 502\nTCP = 503\n", BM_E_FORMAT, 3, "[modbus] TCP: given twice (first at line 2)"},
	{"[modbus]\ntcp = localhost:\n", BM_E_FORMAT, 2, "[modbus] tcp = localhost:: expected [HOST:]PORT"},
	{"[modbus]\ntcp = :502\n", BM_E_FORMAT, 2, "[modbus] tcp = :502: expected [HOST:]PORT"},
	{"[modbus]\ntcp = on\n", BM_E_FORMAT, 2, "[modbus] tcp = on: expected [HOST:]PORT"},
	{"[modbus]\ntcp = -5\n", BM_E_FORMAT, 2, "[modbus] tcp = -5: expected [HOST:]PORT"},
	{"[modbus]\ntcp = 65536\n", BM_E_INVAL, 2, "[modbus] tcp = 65536: port must be 0..65535 (0: any free port)"},
	{"[modbus]\nrtu = /dev/tty USB0\n", BM_E_FORMAT, 2, "[modbus] rtu = /dev/tty USB0: expected a serial device path"},
	{"[modbus]\nrtu =\n", BM_E_FORMAT, 2, "[modbus] rtu = : empty value"},
	{"[modbus]\nclients = 12a\n", BM_E_FORMAT, 2, "[modbus] clients = 12a: expected a whole number"},
	{"[modbus]\nclients = 1.5\n", BM_E_FORMAT, 2, "[modbus] clients = 1.5: expected a whole number"},
	{"[modbus]\nclients = 1025\n", BM_E_INVAL, 2, "[modbus] clients = 1025: must be 1..1024 connections"},
	{"[modbus]\nclients = -1\n", BM_E_INVAL, 2, "[modbus] clients = -1: must be 1..1024 connections"},
	{"[modbus]\nidle = fast\n", BM_E_FORMAT, 2, "[modbus] idle = fast: malformed number"},
	{"[modbus]\nidle = nan\n", BM_E_FORMAT, 2, "[modbus] idle = nan: malformed number"},
	{"[modbus]\nidle = 0x10\n", BM_E_FORMAT, 2, "[modbus] idle = 0x10: malformed number"},
	{"[modbus]\nidle = 0.05\n", BM_E_INVAL, 2, "[modbus] idle = 0.05: must be 0.1..86400 s"},
	{"[modbus]\nidle = 1e9\n", BM_E_INVAL, 2, "[modbus] idle = 1e9: must be 0.1..86400 s"},
	/* [gpio] */
	{"[gpio]\nDO5 = gpiochip0:1\n", BM_E_FORMAT, 2, "[gpio] unknown key 'DO5' (expected DO1..DO4 or DI1..DI4)"},
	{"[gpio]\nDI0 = gpiochip0:1\n", BM_E_FORMAT, 2, "[gpio] unknown key 'DI0'"},
	{"[gpio]\nrelay1 = gpiochip0:1\n", BM_E_FORMAT, 2, "[gpio] unknown key 'relay1'"},
	{"[gpio]\nDO1 = gpiochip0:1\ndo1 = gpiochip0:2\n", BM_E_FORMAT, 3, "[gpio] do1: given twice (first at line 2)"},
	{"[gpio]\nDO1 = gpiochip0\n", BM_E_FORMAT, 2, "[gpio] DO1 = gpiochip0: expected CHIP:LINE or CHIP:LINE:active_low"},
	{"[gpio]\nDO1 = :17\n", BM_E_FORMAT, 2, "[gpio] DO1 = :17: expected CHIP:LINE"},
	{"[gpio]\nDO1 = gpiochip0:x\n", BM_E_FORMAT, 2, "[gpio] DO1 = gpiochip0:x: expected CHIP:LINE"},
	{"[gpio]\nDO1 = gpiochip0:-1\n", BM_E_FORMAT, 2, "[gpio] DO1 = gpiochip0:-1: expected CHIP:LINE"},
	{"[gpio]\nDO1 = gpiochip0:\n", BM_E_FORMAT, 2, "[gpio] DO1 = gpiochip0:: expected CHIP:LINE"},
	{"[gpio]\nDO1 = gpio chip0:1\n", BM_E_FORMAT, 2, "[gpio] DO1 = gpio chip0:1: expected CHIP:LINE"},
	{"[gpio]\nDO1 = gpiochip0:70000\n", BM_E_INVAL, 2, "[gpio] DO1 = gpiochip0:70000: line offset must be 0..65535"},
	{"[gpio]\nDI2 = gpiochip0:3:inverted\n", BM_E_FORMAT, 2,
	 "[gpio] DI2 = gpiochip0:3:inverted: the flag after the line must be active_low or active_high"},
	{"[gpio]\nDI2 = gpiochip0:3:active_low:x\n", BM_E_FORMAT, 2,
	 "[gpio] DI2 = gpiochip0:3:active_low:x: the flag after the line must be active_low or active_high"},
	{"[gpio]\nDO1 = gpiochip0:17\nDI4 = gpiochip0:17:active_low\n", BM_E_INVAL, 3,
	 "[gpio] DI4 = gpiochip0:17:active_low: gpiochip0:17 is DO1 already"},
	{"[gpio]\nDO1 = a123456789b123456789c123456789d123456789e123456789f123456789g1234:1\n", BM_E_FORMAT, 2,
	 /* a value in a message is cut at 64 characters */
	 "[gpio] DO1 = a123456789b123456789c123456789d123456789e123456789f123456789g123...: chip name too long (at "
	 "most 63 characters)"},
	/* [settings]: names */
	{"[settings]\nfoo = 1\n", BM_E_FORMAT, 2,
	 "[settings] unknown register 'foo' (names as in docs/registers.md, case-sensitive)"},
	{"[settings]\nVT_RATIO = 1\n", BM_E_FORMAT, 2, "[settings] unknown register 'VT_RATIO'"},
	{"[settings]\nC5.I1.primary = 1\n", BM_E_FORMAT, 2, "[settings] unknown register 'C5.I1.primary'"},
	{"[settings]\nvt_ratio = 2\nvt_ratio = 3\n", BM_E_FORMAT, 3, "[settings] vt_ratio: given twice (first at line 2)"},
	/* [settings]: registers that are not settings */
	{"[settings]\nC1.U1 = 1\n", BM_E_INVAL, 2,
	 "[settings] C1.U1 = 1: a read-only register (a measurement or status), not a setting"},
	{"[settings]\nmap_version = 1\n", BM_E_INVAL, 2, "[settings] map_version = 1: a read-only register"},
	{"[settings]\ndatetime = 1\n", BM_E_INVAL, 2, "[settings] datetime = 1: the clock is not a setting"},
	{"[settings]\nrtc = 1767225600\n", BM_E_INVAL, 2, "[settings] rtc = 1767225600: the clock is not a setting"},
	{"[settings]\nDO1.command = 1\n", BM_E_INVAL, 2, "[settings] DO1.command = 1: a relay command, not a setting"},
	{"[settings]\naccess = 0\n", BM_E_INVAL, 2, "[settings] access = 0: state of one Modbus connection, not a setting"},
	{"[settings]\nevent_select = 0\n", BM_E_INVAL, 2, "[settings] event_select = 0: state of one Modbus connection"},
	{"[settings]\nunlock = 1000\n", BM_E_INVAL, 2, "[settings] unlock = 1000: a command, not a setting"},
	{"[settings]\nreset = 1\n", BM_E_INVAL, 2, "[settings] reset = 1: a command, not a setting"},
	{"[settings]\nperiod_start = 10800\n", BM_E_INVAL, 2,
	 "[settings] period_start = 10800: a command in the spec's encoding, not a setting: use Ta.start"},
	/* [settings]: values against the register's type */
	{"[settings]\nvt_ratio = abc\n", BM_E_FORMAT, 2, "[settings] vt_ratio = abc: malformed number"},
	{"[settings]\nvt_ratio = inf\n", BM_E_FORMAT, 2, "[settings] vt_ratio = inf: malformed number"},
	{"[settings]\nvt_ratio = 1e39\n", BM_E_INVAL, 2, "[settings] vt_ratio = 1e39: out of range of a 32-bit float (F32)"},
	{"[settings]\nvt_ratio =\n", BM_E_FORMAT, 2, "[settings] vt_ratio = : empty value"},
	{"[settings]\nnominal_hz = 50.0\n", BM_E_FORMAT, 2,
	 "[settings] nominal_hz = 50.0: expected a whole number 0..65535 (U16)"},
	{"[settings]\nnominal_hz = 65536\n", BM_E_INVAL, 2, "[settings] nominal_hz = 65536: expected a whole number 0..65535"},
	{"[settings]\nnominal_hz = -1\n", BM_E_INVAL, 2, "[settings] nominal_hz = -1: expected a whole number 0..65535"},
	{"[settings]\nbaud = 4294967296\n", BM_E_INVAL, 2, "[settings] baud = 4294967296: expected a whole number 0..4294967295 (U32)"},
	{"[settings]\nutc_offset = 2147483648\n", BM_E_INVAL, 2,
	 "[settings] utc_offset = 2147483648: expected a whole number -2147483648..2147483647 (I32)"},
	{"[settings]\nutc_offset = -2147483649\n", BM_E_INVAL, 2,
	 "[settings] utc_offset = -2147483649: expected a whole number -2147483648..2147483647 (I32)"},
	{"[settings]\nrollover = 18446744073709551616\n", BM_E_FORMAT, 2,
	 "[settings] rollover = 18446744073709551616: expected a whole number 0..18446744073709551615 (U64)"},
	{"[settings]\nip = 192.168.1.2\n", BM_E_FORMAT, 2, "[settings] ip = 192.168.1.2: expected a whole number 0..4294967295"},
	{"[settings]\nC1.I1.primary = 0123456789012345678901234567890123456789012345678901234567890123\n", BM_E_FORMAT,
	 2, "[settings] C1.I1.primary = 0123456789012345678901234567890123456789012345678901234567890123: too long (at "
	    "most 63 characters)"},
};

static void test_errors(void **state)
{
	(void)state;
	char path[256], err[512];
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[32], want[512];
		snprintf(name, sizeof name, "bad%u.ini", i);
		memset(&CONF, 0x5A, sizeof CONF);
		memcpy(&CONF2, &CONF, sizeof CONF);
		memset(err, 'x', sizeof err);
		bm_err rc = load_text(name, bad[i].text, &CONF, err, sizeof err, path, sizeof path);
		snprintf(want, sizeof want, "%s:%d: %s", path, bad[i].line, bad[i].msg);
		if (rc != bad[i].rc || strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %u (%s): rc %d (want %d)\n  got:  %s\n  want: %s...", i, bad[i].text, rc, bad[i].rc,
			         memchr(err, '\0', sizeof err) ? err : "(not terminated)", want);
		/* one line, and nothing written to the output */
		assert_null(strchr(err, '\n'));
		assert_memory_equal(&CONF, &CONF2, sizeof CONF);
	}
}

static void test_file_errors(void **state)
{
	(void)state;
	char path[256], err[512], want[320];
	/* a file that does not exist */
	snprintf(path, sizeof path, "%s/missing.ini", g_dir);
	assert_int_equal(bm_conf_load(path, &CONF, err, sizeof err), BM_E_IO);
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	assert_string_equal(err, want);
	/* a directory */
	assert_int_equal(bm_conf_load(g_dir, &CONF, err, sizeof err), BM_E_IO);
	assert_non_null(strstr(err, g_dir));
	/* a NUL byte */
	write_file(path, sizeof path, "nul.ini", "[meter]\nmodel = A\0B\n", 20);
	assert_int_equal(bm_conf_load(path, &CONF, err, sizeof err), BM_E_FORMAT);
	snprintf(want, sizeof want, "%s: contains a NUL byte (not a text file)", path);
	assert_string_equal(err, want);
	/* larger than 1 MiB (of comments) */
	size_t big = BM_CONF_MAX_BYTES + 10;
	char *text = malloc(big + 1);
	assert_non_null(text);
	for (size_t i = 0; i < big; i += 64) {
		size_t n = big - i < 64 ? big - i : 64;
		memset(text + i, ';', n);
		text[i + n - 1] = '\n';
	}
	text[big] = '\0';
	write_file(path, sizeof path, "big.ini", text, big);
	assert_int_equal(bm_conf_load(path, &CONF, err, sizeof err), BM_E_FORMAT);
	snprintf(want, sizeof want, "%s: larger than 1048576 bytes", path);
	assert_string_equal(err, want);
	/* exactly 1 MiB is fine */
	write_file(path, sizeof path, "max.ini", text, BM_CONF_MAX_BYTES);
	assert_int_equal(bm_conf_load(path, &CONF, err, sizeof err), BM_OK);
	free(text);
	/* a line longer than inih's buffer */
	char line[400];
	memset(line, 'a', sizeof line);
	memcpy(line, "[meter]\nmodel = ", 16);
	line[sizeof line - 1] = '\0';
	assert_int_equal(load_text("long.ini", line, &CONF, err, sizeof err, path, sizeof path), BM_E_FORMAT);
	snprintf(want, sizeof want, "%s:2: line too long (at most", path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	/* a short message buffer is still terminated */
	char tiny[8];
	assert_int_equal(bm_conf_load_string("[foo]\n", "long-name.ini", &CONF, tiny, sizeof tiny), BM_E_FORMAT);
	assert_string_equal(tiny, "long-na");
}

/* More than BM_CONF_MAX_SETTINGS distinct settings: refused at the next. */
static void test_too_many_settings(void **state)
{
	(void)state;
	size_t cap = 64 * 1024, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "[settings]\n");
	bm_rm_iter it;
	bm_rm_info in;
	unsigned n = 0;
	bm_rm_iter_init(&it, BM_MAX_CIRCUITS);
	while (n <= BM_CONF_MAX_SETTINGS && bm_rm_next(&it, &in)) {
		if (in.access != BM_RA_RW || in.level != BM_RM_LEVEL_SETTINGS || in.type == BM_RT_DATETIME ||
		    strcmp(in.name, "rtc") == 0 || strstr(in.name, ".command"))
			continue;
		len += (size_t)snprintf(text + len, cap - len, "%s = 1\n", in.name);
		assert_true(len < cap);
		n++;
	}
	assert_int_equal(n, BM_CONF_MAX_SETTINGS + 1);
	char err[256], want[128];
	memset(&CONF, 0x5A, sizeof CONF);
	memcpy(&CONF2, &CONF, sizeof CONF);
	assert_int_equal(bm_conf_load_string(text, "many.ini", &CONF, err, sizeof err), BM_E_FORMAT);
	snprintf(want, sizeof want, "many.ini:%d: [settings] ", BM_CONF_MAX_SETTINGS + 2);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	assert_non_null(strstr(err, ": more than 512 settings"));
	assert_memory_equal(&CONF, &CONF2, sizeof CONF);
	/* the first 512 are fine */
	char *cut = text;
	for (unsigned k = 0; k < BM_CONF_MAX_SETTINGS + 1; k++)
		cut = strchr(cut, '\n') + 1;
	*cut = '\0';
	assert_int_equal(bm_conf_load_string(text, "many.ini", &CONF, err, sizeof err), BM_OK);
	assert_int_equal(CONF.n_settings, BM_CONF_MAX_SETTINGS);
	free(text);
}

/* -------------------------------------------------------------- applying */

static void test_apply_fields(void **state)
{
	(void)state;
	char path[256], err[512];
	static const char text[] = "[settings]\n"
	                           "vt_ratio = 100\n"
	                           "C2.I1.primary = 200\n"
	                           "C1.over_i.threshold = 12.5\n"
	                           "C1.over_i.enabled = 1\n"
	                           "C4.under_u.release = 110\n"
	                           "periods = 3\n" /* before the starts it needs: retried */
	                           "Tb.start = 0800\n"
	                           "Tc.start = 1730\n"
	                           "Tb.tariff = 2\n"
	                           "Tc.tariff = 3\n"
	                           "tariff_mode = 1\n"
	                           "utc_offset = -3600\n"
	                           "baud = 19200\n"
	                           "ip = 3232235778\n"
	                           "rollover = 1000000\n"
	                           "C3.wiring = 5\n"
	                           "C1.ct_ratio = 40\n"
	                           "DO2.mode = 0\n"
	                           "DO2.pulse_time = 0.5\n"
	                           "DI3.alarm = 1\n"
	                           "U2.cal_gain = 1.25\n";
	assert_int_equal(load_text("apply.ini", text, &CONF, err, sizeof err, path, sizeof path), BM_OK);
	bm_settings s, before;
	full_settings(&s);
	before = s;
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_OK);
	assert_string_equal(err, "");
	assert_true(s.meter.vt_ratio == 100.0);
	assert_true(s.meter.circuit[1].sensor[0].primary_a == 200.0);
	/* ct_ratio: every CT input of circuit 1 gets primary = 40 x secondary, its nominal scaled alike */
	for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
		const bm_sensor_cfg *a = &s.meter.circuit[0].sensor[p], *b = &before.meter.circuit[0].sensor[p];
		assert_int_equal(b->type, BM_SENSOR_CT);
		assert_true(a->secondary == b->secondary);
		assert_true(a->primary_a == 40.0 * b->secondary);
		assert_true(fabs(a->nominal_a - b->nominal_a * a->primary_a / b->primary_a) < 1e-9);
	}
	assert_true(s.io.al[0][BM_AL_OVER_I].threshold == 12.5);
	assert_int_equal(s.io.al[0][BM_AL_OVER_I].enabled, 1);
	assert_true(s.io.al[3][BM_AL_UNDER_U].release_pct == 110.0);
	assert_int_equal(s.metering.n_periods, 3);
	assert_int_equal(s.metering.period[0].start_min, 0);
	assert_int_equal(s.metering.period[1].start_min, 8 * 60);
	assert_int_equal(s.metering.period[2].start_min, 17 * 60 + 30);
	assert_int_equal(s.metering.period[1].tariff, 2);
	assert_int_equal(s.metering.period[2].tariff, 3);
	assert_int_equal(s.metering.tariff_mode, 1);
	assert_int_equal(s.metering.utc_offset_s, -3600);
	assert_int_equal(s.comm.baud, 19200);
	assert_int_equal(s.comm.ip, 0xC0A80102u);
	assert_true(s.metering.rollover_wh == 1e6);
	assert_int_equal(s.meter.circuit[2].wiring, 5);
	assert_int_equal(s.io.dout[1].mode, BM_DO_MANUAL);
	assert_true(s.io.dout[1].pulse_s == (double)0.5f);
	assert_int_equal(s.io.di[2].alarm, 1);
	assert_true(s.meter.ucal[1].gain == 1.25);
	assert_int_equal(bm_settings_validate(&s, NULL), BM_OK);
	/* nothing else moved: undo the expected changes and compare */
	bm_settings t = s;
	t.meter.vt_ratio = before.meter.vt_ratio;
	t.meter.circuit[1].sensor[0] = before.meter.circuit[1].sensor[0];
	for (unsigned p = 0; p < BM_PHASE_INPUTS; p++)
		t.meter.circuit[0].sensor[p] = before.meter.circuit[0].sensor[p];
	t.io.al[0][BM_AL_OVER_I] = before.io.al[0][BM_AL_OVER_I];
	t.io.al[3][BM_AL_UNDER_U] = before.io.al[3][BM_AL_UNDER_U];
	t.metering.n_periods = before.metering.n_periods;
	memcpy(t.metering.period, before.metering.period, sizeof t.metering.period);
	t.metering.tariff_mode = before.metering.tariff_mode;
	t.metering.utc_offset_s = before.metering.utc_offset_s;
	t.comm.baud = before.comm.baud;
	t.comm.ip = before.comm.ip;
	t.metering.rollover_wh = before.metering.rollover_wh;
	t.meter.circuit[2].wiring = before.meter.circuit[2].wiring;
	t.io.dout[1] = before.io.dout[1];
	t.io.di[2] = before.io.di[2];
	t.meter.ucal[1] = before.meter.ucal[1];
	assert_memory_equal(&t, &before, sizeof t);
}

static void test_apply_passwords(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(bm_conf_load_string("[settings]\nsettings_password = 1234\nreset_password = 0\n", "pw.ini", &CONF,
	                                     err, sizeof err),
	                 BM_OK);
	bm_settings s;
	full_settings(&s);
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_OK);
	assert_int_equal(s.settings_password, 1234);
	assert_int_equal(s.reset_password, 0);
	/* out of range: the register map's reason */
	assert_int_equal(bm_conf_load_string("[settings]\nreset_password = 10000\n", "pw.ini", &CONF, err, sizeof err),
	                 BM_OK);
	bm_settings before = s;
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_E_INVAL);
	assert_string_equal(err, "pw.ini:2: [settings] reset_password = 10000: passwords are 0..9999");
	assert_memory_equal(&s, &before, sizeof s);
}

static void test_apply_refused_unchanged(void **state)
{
	(void)state;
	char path[256], err[512], want[512];
	/* good values before and after a bad one: nothing is applied */
	static const char text[] = "[settings]\naddress = 5\nvt_ratio = 0\nbaud = 19200\n";
	assert_int_equal(load_text("refuse.ini", text, &CONF, err, sizeof err, path, sizeof path), BM_OK);
	bm_settings s, before;
	full_settings(&s);
	before = s;
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_E_INVAL);
	snprintf(want, sizeof want, "%s:3: [settings] vt_ratio = 0: must be 1..10000", path);
	assert_string_equal(err, want);
	assert_memory_equal(&s, &before, sizeof s);

	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"[settings]\nbaud = 1234\n", "r.ini:2: [settings] baud = 1234: "},
		{"[settings]\naddress = 0\n", "r.ini:2: [settings] address = 0: "},
		{"[settings]\nC1.over_i.enabled = 300\n",
		 "r.ini:2: [settings] C1.over_i.enabled = 300: out of range for this setting"},
		{"[settings]\nTa.start = 2460\n",
		 "r.ini:2: [settings] Ta.start = 2460: start time: HH*100 + MM with HH 0..23, MM 0..59"},
		{"[settings]\nTb.tariff = 7\n", "r.ini:2: [settings] Tb.tariff = 7: tariff must be 1..6"},
		{"[settings]\nC1.ct_ratio = 0.5\n", "r.ini:2: [settings] C1.ct_ratio = 0.5: ct_ratio must be 1..10000"},
		{"[settings]\nC1.I1.primary = 1e6\n", "r.ini:2: [settings] C1.I1.primary = 1e6: "},
		/* no order reaches it one write at a time: the first key in the file is blamed */
		{"[settings]\nC1.I1.primary = 100000\nC1.I1.secondary = 10\n", "r.ini:2: [settings] C1.I1.primary = 100000: "},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(bm_conf_load_string(cases[i].text, "r.ini", &CONF, err, sizeof err), BM_OK);
		full_settings(&s);
		before = s;
		bm_err rc = bm_conf_apply_settings(&CONF, &s, err, sizeof err);
		if (rc != BM_E_INVAL || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %u: rc %d\n  got:  %s\n  want: %s...", i, rc, err, cases[i].msg);
		assert_true(strlen(err) > strlen(cases[i].msg) || cases[i].msg[strlen(cases[i].msg) - 1] != ' ');
		assert_memory_equal(&s, &before, sizeof s);
	}
}

/* Keys in an order whose first steps are refused still apply. */
static void test_apply_order(void **state)
{
	(void)state;
	char err[512];
	static const char text[] = "[settings]\n"
	                           "C1.I1.secondary = 333\n" /* mV: needs the type first */
	                           "C1.I1.nominal = 800\n"
	                           "C1.I1.type = 1\n"
	                           "C1.I1.primary = 400\n"
	                           "u_min = 500\n" /* needs u_nominal first */
	                           "u_nominal = 6000\n";
	assert_int_equal(bm_conf_load_string(text, "order.ini", &CONF, err, sizeof err), BM_OK);
	bm_settings s;
	full_settings(&s);
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_OK);
	const bm_sensor_cfg *in = &s.meter.circuit[0].sensor[0];
	assert_int_equal(in->type, BM_SENSOR_VCT);
	assert_true(in->secondary == 333.0);
	assert_true(in->primary_a == 400.0);
	assert_true(in->nominal_a == 800.0);
	assert_true(s.meter.u_min_v == 500.0);
	assert_true(s.meter.u_nominal_v == 6000.0);
}

/* The meter's circuits and the model's options, from the settings. */
static void test_apply_model_limits(void **state)
{
	(void)state;
	char err[512];
	bm_settings s, before;
	full_settings(&s);
	s.meter.n_circuits = 2;
	s.caps.n_do = 1;
	s.caps.n_di = 0;
	s.caps.temperature = 0x1;
	assert_int_equal(bm_settings_validate(&s, NULL), BM_OK);
	before = s;
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"[settings]\nC3.I1.primary = 100\n", "m.ini:2: [settings] C3.I1.primary = 100: this meter has 2 circuits"},
		{"[settings]\nC4.over_i.enabled = 1\n", "m.ini:2: [settings] C4.over_i.enabled = 1: this meter has 2 circuits"},
		{"[settings]\nDO2.mode = 0\n", "m.ini:2: [settings] DO2.mode = 0: not on this model (needs relay 2)"},
		{"[settings]\nDI1.alarm = 1\n", "m.ini:2: [settings] DI1.alarm = 1: not on this model (needs input 1)"},
		{"[settings]\nC2.over_t.enabled = 1\n",
		 "m.ini:2: [settings] C2.over_t.enabled = 1: not on this model (needs temperature)"},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(bm_conf_load_string(cases[i].text, "m.ini", &CONF, err, sizeof err), BM_OK);
		bm_err rc = bm_conf_apply_settings(&CONF, &s, err, sizeof err);
		if (rc != BM_E_INVAL || strcmp(err, cases[i].msg) != 0)
			fail_msg("case %u: rc %d\n  got:  %s\n  want: %s", i, rc, err, cases[i].msg);
		assert_memory_equal(&s, &before, sizeof s);
	}
	/* what the model has is fine */
	assert_int_equal(bm_conf_load_string("[settings]\nDO1.mode = 0\nC1.over_t.enabled = 1\nC2.I1.primary = 50\n",
	                                     "m.ini", &CONF, err, sizeof err),
	                 BM_OK);
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_OK);
	assert_int_equal(s.io.dout[0].mode, 0);
	assert_int_equal(s.io.al[0][BM_AL_OVER_T].enabled, 1);
	assert_true(s.meter.circuit[1].sensor[0].primary_a == 50.0);
}

/* A bm_conf built by hand gets the same checks as a loaded one. */
static void test_apply_hand_built(void **state)
{
	(void)state;
	char err[512];
	bm_settings s, before;
	full_settings(&s);
	before = s;
	static const struct {
		const char *name, *value;
		bm_err rc;
		const char *msg;
	} cases[] = {
		{"C1.U1", "1", BM_E_INVAL, "hand.ini:1: [settings] C1.U1 = 1: a read-only register"},
		{"datetime", "1", BM_E_INVAL, "hand.ini:1: [settings] datetime = 1: the clock is not a setting"},
		{"DO1.command", "1", BM_E_INVAL, "hand.ini:1: [settings] DO1.command = 1: a relay command"},
		{"reset", "5", BM_E_INVAL, "hand.ini:1: [settings] reset = 5: a command, not a setting"},
		{"access", "0", BM_E_INVAL, "hand.ini:1: [settings] access = 0: state of one Modbus connection"},
		{"nope", "1", BM_E_FORMAT, "hand.ini:1: [settings] nope = 1: unknown register"},
		{"vt_ratio", "ten", BM_E_FORMAT, "hand.ini:1: [settings] vt_ratio = ten: malformed number"},
		{"vt_ratio", "", BM_E_FORMAT, "hand.ini:1: [settings] vt_ratio = : malformed number"},
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *pair[2] = {cases[i].name, cases[i].value};
		hand_conf(&CONF, pair, 1);
		bm_err rc = bm_conf_apply_settings(&CONF, &s, err, sizeof err);
		if (rc != cases[i].rc || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %u: rc %d\n  got:  %s\n  want: %s...", i, rc, err, cases[i].msg);
		assert_memory_equal(&s, &before, sizeof s);
	}
	/* a setting with no line: the message names the file only */
	const char *pair[2] = {"vt_ratio", "0"};
	hand_conf(&CONF, pair, 1);
	CONF.settings[0].line = 0;
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_E_INVAL);
	assert_string_equal(err, "hand.ini: [settings] vt_ratio = 0: must be 1..10000");
	/* nothing to apply; NULL arguments */
	hand_conf(&CONF, NULL, 0);
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_OK);
	assert_memory_equal(&s, &before, sizeof s);
	assert_int_equal(bm_conf_apply_settings(NULL, &s, err, sizeof err), BM_E_INVAL);
	assert_int_equal(bm_conf_apply_settings(&CONF, NULL, err, sizeof err), BM_E_INVAL);
	CONF.n_settings = BM_CONF_MAX_SETTINGS + 1;
	assert_int_equal(bm_conf_apply_settings(&CONF, &s, err, sizeof err), BM_E_INVAL);
	assert_memory_equal(&s, &before, sizeof s);
}

/*
 * Every setting of the map can be set from a file: for each, write back the
 * value it reads (formatted as a user would) and expect success; the file
 * accepts exactly the RW "settings" registers less the clock and the relay
 * commands, plus the two passwords.
 */
static void test_every_setting_settable(void **state)
{
	(void)state;
	bm_settings s;
	full_settings(&s);
	bm_rm_view v = {.set = &s};
	bm_rm_session ses = {0};
	bm_rm_iter it;
	bm_rm_info in;
	unsigned n_ok = 0, n_refused = 0;
	char err[512];
	bm_rm_iter_init(&it, BM_MAX_CIRCUITS);
	while (bm_rm_next(&it, &in)) {
		bool want = (in.access == BM_RA_RW && in.level == BM_RM_LEVEL_SETTINGS && strcmp(in.name, "rtc") != 0 &&
		             strcmp(in.name, "datetime") != 0 && !strstr(in.name, ".command")) ||
		            strcmp(in.name, "settings_password") == 0 || strcmp(in.name, "reset_password") == 0;
		uint16_t regs[BM_RM_ITEM_MAX_REGS];
		char value[64] = "0";
		if (want) {
			assert_int_equal(bm_rm_read(&v, &ses, 0, -1, in.addr, in.regs, regs), 0);
			uint64_t u = bm_rm_get_u64(regs, in.regs);
			switch (in.type) {
			case BM_RT_F32: snprintf(value, sizeof value, "%.9g", (double)bm_rm_get_f32(regs)); break;
			case BM_RT_I32: snprintf(value, sizeof value, "%d", (int)(int32_t)(uint32_t)u); break;
			case BM_RT_U16:
			case BM_RT_U32:
			case BM_RT_U64: snprintf(value, sizeof value, "%llu", (unsigned long long)u); break;
			default: fail_msg("%s: unexpected type %s", in.name, bm_rm_type_name(in.type));
			}
			if (strcmp(in.name, "settings_password") == 0)
				strcpy(value, "1000");
			if (strcmp(in.name, "reset_password") == 0)
				strcpy(value, "2000");
		}
		char text[160];
		snprintf(text, sizeof text, "[settings]\n%s = %s\n", in.name, value);
		bm_err rc = bm_conf_load_string(text, "each.ini", &CONF, err, sizeof err);
		if (!want) {
			/* found (the name index agrees with the map), and refused as no setting */
			if (rc != BM_E_INVAL || !strstr(err, "not a setting"))
				fail_msg("%s: rc %d: %s", in.name, rc, err);
			n_refused++;
			continue;
		}
		if (rc != BM_OK)
			fail_msg("%s = %s: %s", in.name, value, err);
		bm_settings t = s;
		if (bm_conf_apply_settings(&CONF, &t, err, sizeof err) != BM_OK)
			fail_msg("%s = %s: %s", in.name, value, err);
		n_ok++;
	}
	/* per circuit: wiring, i_min, ct_ratio, load_threshold, 4 inputs x 7, 16 alarms x 6 */
	assert_true(n_ok >= 4 * (4 + 28 + 96));
	assert_true(n_refused > 1000);
}

/* docs/examples/branchmeter.ini loads and applies. */
static void test_example_file(void **state)
{
	(void)state;
	char err[512];
	memset(&CONF, 0, sizeof CONF);
	if (bm_conf_load(EXAMPLE_INI, &CONF, err, sizeof err) != BM_OK)
		fail_msg("%s", err);
	assert_true(CONF.n_settings > 0);
	assert_true(CONF.model[0] != '\0');
	bm_settings s;
	full_settings(&s);
	if (bm_conf_apply_settings(&CONF, &s, err, sizeof err) != BM_OK)
		fail_msg("%s", err);
	assert_int_equal(bm_settings_validate(&s, NULL), BM_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_empty_and_variants),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_too_many_settings),
		cmocka_unit_test(test_apply_fields),
		cmocka_unit_test(test_apply_passwords),
		cmocka_unit_test(test_apply_refused_unchanged),
		cmocka_unit_test(test_apply_order),
		cmocka_unit_test(test_apply_model_limits),
		cmocka_unit_test(test_apply_hand_built),
		cmocka_unit_test(test_every_setting_settable),
		cmocka_unit_test(test_example_file),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
