/*
 * client.c — `branchmeter read` and `branchmeter write`: a Modbus client
 * (libmodbus) that speaks in register names.
 *
 * Purpose: the user types C1.U1 or vt_ratio=2 instead of an address, a type
 * and a word order. The core's table (bm/regmap.h) supplies all three, so
 * this client cannot disagree with the meter about where or how a value is
 * stored; it also works against any meter serving the same map.
 *
 * Invariants:
 *  - Every argument is checked against the table before anything is sent:
 *    an unknown name, a pattern that matches nothing, a read-only target or
 *    a value that does not parse for its type exits 2, and the meter sees no
 *    request at all.
 *  - Items are read and written whole (the meter answers 02 to a request
 *    that cuts one). Reads of items adjacent in address are merged up to
 *    FC 03's 125 registers ('C1.*' is ~1000 items: ~100 requests instead of
 *    1000); a merged read that fails is repeated item by item, so the
 *    exception names the item that caused it.
 *  - A Modbus exception is a result of one item: `read` reports it and reads
 *    the rest, `write` reports it and writes nothing more. A transport error
 *    (refused, timeout, bad CRC) ends the command at once: after a timeout a
 *    late reply could be taken for the answer to the next request.
 *  - Exit status: 0 all done, 1 the meter or the link failed, 2 usage.
 */
#include <errno.h>
#include <float.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modbus.h>

#include "bm/regmap.h"
#include "cli.h"

#define READ_MAX 125 /* FC 03 registers per request (MODBUS_MAX_READ_REGISTERS) */

/* ---- the link ----------------------------------------------------------- */

typedef struct link_opts {
	const char *tcp; /* HOST:PORT; the default when no --rtu */
	const char *rtu; /* serial device, or NULL */
	int baud;
	char parity;
	int stop;
	int unit;
	double timeout_s;
	bool serial_given; /* --baud, --parity or --stop seen */
} link_opts;

/* The exception code (1..11) an errno from libmodbus carries, or 0 when the
 * error is not an answer of the meter (socket, timeout, CRC ...). */
static int exception_of(int err)
{
	return err > MODBUS_ENOBASE && err <= EMBXGTAR ? err - MODBUS_ENOBASE : 0;
}

/* HOST:PORT, [V6]:PORT, HOST (port 502). False when the port is no port. */
static bool split_host_port(const char *s, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon = NULL;
	size_t hlen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (close[1] != '\0' && close[1] != ':'))
			return false;
		colon = close[1] == ':' ? close + 1 : NULL;
		s++;
		hlen = (size_t)(close - s);
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL; /* a bare IPv6 address: no port */
		hlen = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hlen == 0 || hlen >= hn)
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	const char *p = colon ? colon + 1 : "502";
	char *end;
	errno = 0;
	long v = strtol(p, &end, 10);
	if (p[0] < '0' || p[0] > '9' || *end != '\0' || errno || v < 1 || v > 65535)
		return false;
	snprintf(port, pn, "%ld", v);
	return true;
}

/* Opens and connects; NULL (and a message) on failure. */
static modbus_t *link_open(const char *cmd, const link_opts *lo)
{
	modbus_t *ctx;
	char where[300];
	if (lo->rtu) {
		snprintf(where, sizeof where, "%s", lo->rtu);
		ctx = modbus_new_rtu(lo->rtu, lo->baud, lo->parity, 8, lo->stop);
	} else {
		char host[256], port[8];
		if (!split_host_port(lo->tcp, host, sizeof host, port, sizeof port)) {
			fprintf(stderr, "branchmeter %s: --tcp needs HOST:PORT (got '%s')\n", cmd, lo->tcp);
			return NULL;
		}
		snprintf(where, sizeof where, "%s", lo->tcp);
		ctx = modbus_new_tcp_pi(host, port);
	}
	if (!ctx) {
		fprintf(stderr, "branchmeter %s: %s: %s\n", cmd, where, modbus_strerror(errno));
		return NULL;
	}
	if (modbus_set_slave(ctx, lo->unit) != 0) {
		fprintf(stderr, "branchmeter %s: unit %d: %s\n", cmd, lo->unit, modbus_strerror(errno));
		modbus_free(ctx);
		return NULL;
	}
	uint32_t sec = (uint32_t)lo->timeout_s;
	uint32_t usec = (uint32_t)((lo->timeout_s - sec) * 1e6);
	modbus_set_response_timeout(ctx, sec, usec);
	if (modbus_connect(ctx) != 0) {
		fprintf(stderr, "branchmeter %s: cannot connect to %s: %s\n", cmd, where, modbus_strerror(errno));
		modbus_free(ctx);
		return NULL;
	}
	return ctx;
}

static void link_close(modbus_t *ctx)
{
	modbus_close(ctx);
	modbus_free(ctx);
}

/* ---- items ---------------------------------------------------------------- */

typedef struct item {
	bm_rm_info in;
	int pattern; /* argv index of the argument that chose it: read, a pattern (-1: an exact name); write, NAME=VALUE */
	int result;  /* read: 0 ok, >0 exception, -1 not read */
	int skip;    /* read: a part the model lacks, matched by a pattern: left out */
	uint16_t regs[BM_RM_ITEM_MAX_REGS];
} item;

typedef struct item_list {
	item *v;
	size_t n, cap;
} item_list;

static item *list_add(item_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		item *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			fputs("branchmeter: out of memory\n", stderr);
			exit(1);
		}
		l->v = v;
		l->cap = cap;
	}
	item *it = &l->v[l->n++];
	memset(it, 0, sizeof *it);
	it->result = -1;
	return it;
}

/* ---- values as text and JSON ---------------------------------------------- */

/* A string item's characters: two a register, high byte first, up to the
 * first NUL. Anything but printable ASCII shows as '?' (the map promises
 * ASCII; a garbled reply must not put control bytes on a terminal). */
static void decode_str(const uint16_t *r, unsigned regs, char *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < 2 * regs; i++) {
		unsigned ch = i % 2 ? r[i / 2] & 0xFFu : r[i / 2] >> 8;
		if (ch == 0)
			break;
		out[n++] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
	}
	out[n] = '\0';
}

/* %.7g is a binary32's precision without the noise of its last bits
 * (2, not 2.00000003); from 1e7 on a float counts whole units or coarser,
 * so it prints as an integer rather than in exponent form. */
static void put_f32(FILE *f, float v, bool json)
{
	if (isnan(v))
		fputs(json ? "null" : "n/a", f);
	else if (isinf(v))
		fputs(json ? "null" : v > 0 ? "inf" : "-inf", f);
	else if (fabsf(v) >= 1e7f && fabsf(v) < 1e18f)
		fprintf(f, "%.0f", (double)v);
	else
		fprintf(f, "%.7g", (double)v);
}

static void put_value(FILE *f, const bm_rm_info *in, const uint16_t *r, bool json)
{
	char s[2 * BM_RM_ITEM_MAX_REGS + 1];
	switch (in->type) {
	case BM_RT_U16: fprintf(f, "%u", (unsigned)r[0]); break;
	case BM_RT_I16: fprintf(f, "%d", (int)(int16_t)r[0]); break;
	case BM_RT_U32: fprintf(f, "%" PRIu32, (uint32_t)bm_rm_get_u64(r, 2)); break;
	case BM_RT_I32: fprintf(f, "%" PRId32, (int32_t)(uint32_t)bm_rm_get_u64(r, 2)); break;
	case BM_RT_U64: fprintf(f, "%" PRIu64, bm_rm_get_u64(r, 4)); break;
	case BM_RT_I64: fprintf(f, "%" PRId64, (int64_t)bm_rm_get_u64(r, 4)); break;
	case BM_RT_F32: put_f32(f, bm_rm_get_f32(r), json); break;
	case BM_RT_STR:
		decode_str(r, in->regs, s);
		if (json)
			bm_json_string(f, s);
		else
			fputs(s, f);
		break;
	case BM_RT_DATETIME:
		snprintf(s, sizeof s, "%04u-%02u-%02u %02u:%02u:%02u", (unsigned)r[0] % 10000u, (unsigned)r[1] % 100u,
		         (unsigned)r[2] % 100u, (unsigned)r[3] % 100u, (unsigned)r[4] % 100u, (unsigned)r[5] % 100u);
		if (json)
			bm_json_string(f, s);
		else
			fputs(s, f);
		break;
	default: fputs(json ? "null" : "?", f); break;
	}
}

/* NAME = VALUE UNIT */
static void print_line(FILE *f, const bm_rm_info *in, const uint16_t *r)
{
	fprintf(f, "%s = ", in->name);
	put_value(f, in, r, false);
	if (in->unit && in->unit[0] && !(in->type == BM_RT_F32 && isnan(bm_rm_get_f32(r))))
		fprintf(f, " %s", in->unit);
	fputc('\n', f);
}

/* ---- options shared by read and write -------------------------------------- */

static const char read_usage[] =
	"usage: branchmeter read [--tcp HOST:PORT | --rtu DEVICE] [--baud N] [--parity N|E|O] [--stop 1|2]\n"
	"                        [--unit N] [--timeout S] [--json] NAME...\n"
	"  Reads registers of a meter by name (FC 03) and prints 'NAME = VALUE UNIT' per item.\n"
	"  NAME is a name from the register map ('branchmeter registers'), e.g. C1.U1, vt_ratio,\n"
	"  C2.T3.EP_imp_Wh, datetime, or a shell pattern such as 'C1.U*' or 'C*.P' (quote it);\n"
	"  a pattern covers only the circuits the meter has.\n"
	"  --tcp HOST:PORT  Modbus TCP server (default 127.0.0.1:502)\n"
	"  --rtu DEVICE     Modbus RTU on a serial port instead, e.g. /dev/ttyUSB0\n"
	"  --baud N         RTU baud rate (default 9600)\n"
	"  --parity N|E|O   RTU parity (default N)\n"
	"  --stop 1|2       RTU stop bits (default 1)\n"
	"  --unit N         unit id / slave address (default 1)\n"
	"  --timeout S      response timeout in seconds (default 1)\n"
	"  --json           one JSON object {\"NAME\": value, ...}; n/a is null\n"
	"  Exit status: 0 all read, 1 an exception or a link error, 2 usage.\n";

static const char write_usage[] =
	"usage: branchmeter write [--tcp HOST:PORT | --rtu DEVICE] [--baud N] [--parity N|E|O] [--stop 1|2]\n"
	"                         [--unit N] [--timeout S] [--password P] NAME=VALUE...\n"
	"  Writes settings of a meter by name, in the order given, and prints each as read back.\n"
	"  VALUE: a decimal number for F32 and integer registers; for datetime\n"
	"  YYYY-MM-DDTHH:MM:SS (or with a space, quoted). Strings are not writable.\n"
	"  --password P     write P to 'unlock' first (settings password, default 1000;\n"
	"                   resets need the reset password)\n"
	"  Transport options as for 'branchmeter read' (default --tcp 127.0.0.1:502, --unit 1).\n"
	"  Every argument is checked before anything is sent; the first refused write stops.\n"
	"  Exit status: 0 all written, 1 refused or a link error, 2 usage.\n";

enum { O_TCP = 256, O_RTU, O_BAUD, O_PARITY, O_STOP, O_UNIT, O_TIMEOUT, O_JSON, O_PASSWORD, O_HELP };

static bool arg_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (s[0] == '\0' || s[0] == ' ' || *end != '\0' || errno || v < lo || v > hi) {
		fprintf(stderr, "branchmeter %s: %s needs a whole number from %ld to %ld (got '%s')\n", cmd, opt, lo, hi,
		        s);
		return false;
	}
	*out = v;
	return true;
}

/* Parses the options; returns -1 to go on, else the exit status. `json` and
 * `password` are NULL for the command that does not have that option. */
static int parse_opts(const char *cmd, const char *usage, int argc, char **argv, link_opts *lo, bool *json,
                      long *password)
{
	static const struct option opts[] = {
		{"tcp", required_argument, NULL, O_TCP},
		{"rtu", required_argument, NULL, O_RTU},
		{"baud", required_argument, NULL, O_BAUD},
		{"parity", required_argument, NULL, O_PARITY},
		{"stop", required_argument, NULL, O_STOP},
		{"unit", required_argument, NULL, O_UNIT},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"json", no_argument, NULL, O_JSON},
		{"password", required_argument, NULL, O_PASSWORD},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	*lo = (link_opts){.tcp = NULL, .rtu = NULL, .baud = 9600, .parity = 'N', .stop = 1, .unit = 1, .timeout_s = 1.0};
	long v;
	optind = 1;
	for (int ch; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (ch) {
		case O_TCP: lo->tcp = optarg; break;
		case O_RTU: lo->rtu = optarg; break;
		case O_BAUD:
			if (!arg_int(cmd, "--baud", optarg, 50, 4000000, &v))
				return 2;
			lo->baud = (int)v;
			lo->serial_given = true;
			break;
		case O_PARITY:
			if (strlen(optarg) != 1 || !strchr("NEOneo", optarg[0])) {
				fprintf(stderr, "branchmeter %s: --parity is N, E or O (got '%s')\n", cmd, optarg);
				return 2;
			}
			lo->parity = (char)(optarg[0] & ~0x20); /* upper case */
			lo->serial_given = true;
			break;
		case O_STOP:
			if (!arg_int(cmd, "--stop", optarg, 1, 2, &v))
				return 2;
			lo->stop = (int)v;
			lo->serial_given = true;
			break;
		case O_UNIT:
			if (!arg_int(cmd, "--unit", optarg, 0, 255, &v))
				return 2;
			lo->unit = (int)v;
			break;
		case O_TIMEOUT:
			if (!bm_arg_double("--timeout", optarg, 0.01, 600, &lo->timeout_s))
				return 2;
			break;
		case O_JSON:
			if (!json)
				goto bad;
			*json = true;
			break;
		case O_PASSWORD:
			if (!password)
				goto bad;
			if (!arg_int(cmd, "--password", optarg, 0, 65535, password))
				return 2;
			break;
		case O_HELP: fputs(usage, stdout); return 0;
		default:
		bad:
			if (ch != '?')
				fprintf(stderr, "branchmeter %s: unknown option '%s'\n", cmd, argv[optind - 1]);
			fputs(usage, stderr);
			return 2;
		}
	}
	if (lo->tcp && lo->rtu) {
		fprintf(stderr, "branchmeter %s: --tcp or --rtu, not both\n", cmd);
		return 2;
	}
	if (lo->serial_given && !lo->rtu) {
		fprintf(stderr, "branchmeter %s: --baud, --parity and --stop are for --rtu\n", cmd);
		return 2;
	}
	/* RTU: 0 is a broadcast, which gets no reply; TCP: libmodbus takes
	 * 0..247 and 255 (the "no gateway" unit id). */
	if (lo->rtu ? lo->unit < 1 || lo->unit > 247 : lo->unit > 247 && lo->unit != MODBUS_TCP_SLAVE) {
		fprintf(stderr, "branchmeter %s: --unit must be %s (got %d)\n", cmd, lo->rtu ? "1..247" : "0..247 or 255",
		        lo->unit);
		return 2;
	}
	if (!lo->rtu && !lo->tcp)
		lo->tcp = "127.0.0.1:502";
	if (optind >= argc) {
		fprintf(stderr, "branchmeter %s: nothing to %s\n", cmd, cmd);
		fputs(usage, stderr);
		return 2;
	}
	return -1;
}

/* ---- read ------------------------------------------------------------------ */

/* Items named by argv[first..argc): exact names first (so C1.HU1[3] needs no
 * escaping), else fnmatch patterns, each item once. False when a name is
 * unknown or a pattern matches nothing (every such argument is reported). */
static bool select_items(int first, int argc, char **argv, item_list *l)
{
	static uint8_t seen[65536 / 8]; /* by address: an item asked for twice is read once */
	memset(seen, 0, sizeof seen);
	bool ok = true;
	for (int a = first; a < argc; a++) {
		const char *name = argv[a];
		bm_rm_info in;
		if (bm_rm_find(name, &in) == BM_OK) {
			if (!(seen[in.addr / 8] & (1u << (in.addr % 8)))) {
				seen[in.addr / 8] |= (uint8_t)(1u << (in.addr % 8));
				item *it = list_add(l);
				it->in = in;
				it->pattern = -1;
			}
			continue;
		}
		unsigned matched = 0;
		if (strpbrk(name, "*?[")) {
			bm_rm_iter iter;
			bm_rm_iter_init(&iter, BM_MAX_CIRCUITS);
			while (bm_rm_next(&iter, &in)) {
				if (fnmatch(name, in.name, 0) != 0)
					continue;
				matched++;
				if (seen[in.addr / 8] & (1u << (in.addr % 8)))
					continue;
				seen[in.addr / 8] |= (uint8_t)(1u << (in.addr % 8));
				item *it = list_add(l);
				it->in = in;
				it->pattern = a;
			}
		}
		if (!matched) {
			fprintf(stderr, "branchmeter read: %s '%s' (see 'branchmeter registers')\n",
			        strpbrk(name, "*?[") ? "no register matches" : "no register named", name);
			ok = false;
		}
	}
	return ok;
}

/* Reads n items that follow each other in address with one FC 03.
 * Returns 0, an exception code, or -1 for a link error (errno set). */
static int read_span(modbus_t *ctx, item *it, size_t n)
{
	uint16_t buf[READ_MAX];
	unsigned count = (unsigned)it[n - 1].in.addr + it[n - 1].in.regs - it[0].in.addr;
	if (modbus_read_registers(ctx, it[0].in.addr, (int)count, buf) != (int)count) {
		int ex = exception_of(errno);
		return ex ? ex : -1;
	}
	for (size_t k = 0; k < n; k++) {
		memcpy(it[k].regs, buf + (it[k].in.addr - it[0].in.addr), it[k].in.regs * sizeof(uint16_t));
		it[k].result = 0;
	}
	return 0;
}

/* Patterns stop at the circuits the meter has: 'C*.P' on a two-circuit
 * meter means C1.P and C2.P, not two exceptions. Names given exactly are
 * kept (asking for C4.P on that meter is an error worth seeing). Returns 0,
 * or -1 for a link error; an exception to reading `circuits` keeps all. */
static int drop_absent_circuits(modbus_t *ctx, item_list *l, int argc, char **argv, int *status)
{
	bool any = false;
	for (size_t i = 0; i < l->n; i++)
		any |= l->v[i].pattern >= 0 && l->v[i].in.circuit > 0;
	bm_rm_info ci;
	if (!any || bm_rm_find("circuits", &ci) != BM_OK)
		return 0;
	item probe = {.in = ci, .pattern = -1, .result = -1};
	int r = read_span(ctx, &probe, 1);
	if (r < 0)
		return -1;
	if (r > 0)
		return 0;
	int nc = probe.regs[0];
	/* a pattern left with nothing, e.g. 'C4.*' on that meter, is an error */
	for (int a = 0; a < argc; a++) {
		bool had = false, kept = false;
		for (size_t i = 0; i < l->n; i++)
			if (l->v[i].pattern == a) {
				had = true;
				kept |= l->v[i].in.circuit < nc;
			}
		if (had && !kept) {
			fprintf(stderr, "branchmeter read: nothing matches '%s' on this meter (it has %d circuit%s)\n", argv[a],
			        nc, nc == 1 ? "" : "s");
			*status = 1;
		}
	}
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].pattern < 0 || l->v[i].in.circuit < nc)
			l->v[w++] = l->v[i];
	l->n = w;
	return 0;
}

static void print_read(const item_list *l, bool json)
{
	if (json) {
		fputc('{', stdout);
		bool first = true;
		for (size_t i = 0; i < l->n; i++) {
			const item *it = &l->v[i];
			if (it->skip)
				continue;
			if (!first)
				fputs(", ", stdout);
			first = false;
			bm_json_string(stdout, it->in.name);
			fputs(": ", stdout);
			if (it->result == 0)
				put_value(stdout, &it->in, it->regs, true);
			else
				fputs("null", stdout);
		}
		fputs("}\n", stdout);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		const item *it = &l->v[i];
		if (it->result == 0)
			print_line(stdout, &it->in, it->regs);
	}
}

int bm_cmd_read(int argc, char **argv)
{
	link_opts lo;
	bool json = false;
	int rc = parse_opts("read", read_usage, argc, argv, &lo, &json, NULL);
	if (rc >= 0)
		return rc;
	item_list l = {0};
	if (!select_items(optind, argc, argv, &l)) {
		free(l.v);
		return 2;
	}
	modbus_t *ctx = link_open("read", &lo);
	if (!ctx) {
		free(l.v);
		return 1;
	}
	int status = 0;
	const char *where = lo.rtu ? lo.rtu : lo.tcp;
	if (drop_absent_circuits(ctx, &l, argc, argv, &status) < 0) {
		fprintf(stderr, "branchmeter read: %s: %s\n", where, modbus_strerror(errno));
		status = 1;
		l.n = 0;
	}
	for (size_t i = 0; i < l.n;) {
		size_t j = i + 1;
		unsigned span = l.v[i].in.regs;
		while (j < l.n && l.v[j].in.addr == l.v[j - 1].in.addr + l.v[j - 1].in.regs &&
		       span + l.v[j].in.regs <= READ_MAX)
			span += l.v[j++].in.regs;
		int r = read_span(ctx, &l.v[i], j - i);
		for (size_t k = i; r > 0 && k < j; k++) {
			int rk = j - i == 1 ? r : read_span(ctx, &l.v[k], 1);
			if (rk < 0) {
				r = -1;
				break;
			}
			if (rk > 0) {
				l.v[k].result = rk;
				/* a part the model may lack (a relay, an input, an expansion
				 * input), matched by a pattern: simply not there */
				if (rk == 2 && l.v[k].pattern >= 0 && l.v[k].in.requires[0]) {
					l.v[k].skip = 1;
					continue;
				}
				/* 02: a circuit the meter (or this unit id's view) lacks */
				fprintf(stderr, "branchmeter read: %s: %s%s\n", l.v[k].in.name, modbus_strerror(MODBUS_ENOBASE + rk),
				        rk == 2 ? " (not on this meter or unit id)" : "");
				status = 1;
			}
		}
		if (r < 0) {
			fprintf(stderr, "branchmeter read: %s: %s (at %s)\n", where, modbus_strerror(errno),
			        l.v[i].in.name);
			status = 1;
			break;
		}
		i = j;
	}
	link_close(ctx);
	print_read(&l, json);
	free(l.v);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return status;
}

/* ---- write ----------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	if (s[0] == '\0' || s[0] == ' ' || s[0] == '+')
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_uint64(const char *s, uint64_t *out)
{
	if (s[0] < '0' || s[0] > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || errno)
		return false;
	*out = v;
	return true;
}

/* Two digits at s into *v; false unless both are digits. */
static bool digits(const char *s, unsigned n, unsigned *v)
{
	*v = 0;
	for (unsigned i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* YYYY-MM-DDTHH:MM:SS or with a space; only the shape and the field ranges
 * are checked here, the meter checks the calendar (30 February). */
static bool parse_datetime(const char *s, uint16_t *r)
{
	unsigned y, mo, d, h, mi, se;
	if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return false;
	uint16_t v[6] = {(uint16_t)y, (uint16_t)mo, (uint16_t)d, (uint16_t)h, (uint16_t)mi, (uint16_t)se};
	memcpy(r, v, sizeof v);
	return true;
}

/* VALUE for item `in` into its registers; NULL, or what is wrong. */
static const char *encode_value(const bm_rm_info *in, const char *s, uint16_t *r)
{
	int64_t i;
	uint64_t u;
	switch (in->type) {
	case BM_RT_U16:
		if (!parse_int(s, 0, UINT16_MAX, &i))
			return "needs a whole number 0..65535";
		r[0] = (uint16_t)i;
		return NULL;
	case BM_RT_I16:
		if (!parse_int(s, INT16_MIN, INT16_MAX, &i))
			return "needs a whole number -32768..32767";
		r[0] = (uint16_t)(int16_t)i;
		return NULL;
	case BM_RT_U32:
		if (!parse_int(s, 0, UINT32_MAX, &i))
			return "needs a whole number 0..4294967295";
		bm_rm_put_u64(r, (uint64_t)i, 2);
		return NULL;
	case BM_RT_I32:
		if (!parse_int(s, INT32_MIN, INT32_MAX, &i))
			return "needs a whole number -2147483648..2147483647";
		bm_rm_put_u64(r, (uint32_t)(int32_t)i, 2);
		return NULL;
	case BM_RT_U64:
		if (!parse_uint64(s, &u))
			return "needs a whole number 0..18446744073709551615";
		bm_rm_put_u64(r, u, 4);
		return NULL;
	case BM_RT_I64:
		if (!parse_int(s, INT64_MIN, INT64_MAX, &i))
			return "needs a whole number (64-bit signed)";
		bm_rm_put_u64(r, (uint64_t)i, 4);
		return NULL;
	case BM_RT_F32: {
		char *end;
		errno = 0;
		double v = strtod(s, &end);
		/* strtod also takes "nan", "inf" and hex: a setting is a decimal number */
		if (s[0] == '\0' || s[0] == ' ' || *end != '\0' || !isfinite(v) || fabs(v) > FLT_MAX ||
		    strpbrk(s, "xX"))
			return "needs a decimal number";
		bm_rm_put_f32(r, (float)v);
		return NULL;
	}
	case BM_RT_DATETIME:
		return parse_datetime(s, r) ? NULL : "needs YYYY-MM-DDTHH:MM:SS";
	case BM_RT_STR: return "is a string: not writable";
	default: return "has a type this client cannot write";
	}
}

/* Every NAME=VALUE, or false after reporting each bad one. */
static bool parse_assignments(int first, int argc, char **argv, item_list *l)
{
	bool ok = true;
	for (int a = first; a < argc; a++) {
		const char *arg = argv[a], *eq = strchr(arg, '=');
		char name[sizeof ((bm_rm_info *)0)->name];
		if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof name) {
			fprintf(stderr, "branchmeter write: '%s': expected NAME=VALUE\n", arg);
			ok = false;
			continue;
		}
		memcpy(name, arg, (size_t)(eq - arg));
		name[eq - arg] = '\0';
		bm_rm_info in;
		if (bm_rm_find(name, &in) != BM_OK) {
			fprintf(stderr, "branchmeter write: no register named '%s' (see 'branchmeter registers')\n", name);
			ok = false;
			continue;
		}
		if (in.access == BM_RA_R) {
			fprintf(stderr, "branchmeter write: %s is read-only\n", name);
			ok = false;
			continue;
		}
		item *it = list_add(l);
		it->in = in;
		it->pattern = a;
		const char *why = encode_value(&in, eq + 1, it->regs);
		if (why) {
			fprintf(stderr, "branchmeter write: %s=%s: %s %s\n", name, eq + 1, bm_rm_type_name(in.type), why);
			l->n--;
			ok = false;
		}
	}
	return ok;
}

/* Why the meter said no, in words: the meter sends only the exception, so
 * this maps it to what the user most likely has to do. A 02 after an
 * accepted --password is either the wrong password's level (the reset
 * password does not unlock settings) or a register this meter lacks (C2.*
 * on a one-circuit meter); the `access` register tells which. */
static const char *explain(modbus_t *ctx, int ex, const bm_rm_info *in, bool have_password)
{
	switch (ex) {
	case 1: return "the meter does not take this request";
	case 2: {
		if (in->level == BM_RM_LEVEL_NONE)
			return "no such register on this meter";
		if (!have_password)
			return "locked or not writable: give --password";
		bm_rm_info ai;
		uint16_t level;
		if (bm_rm_find("access", &ai) == BM_OK && modbus_read_registers(ctx, ai.addr, 1, &level) == 1 &&
		    (level & in->level) == in->level)
			return "no such register on this meter";
		return in->level & BM_RM_LEVEL_RESET ? "locked: this needs the reset password as --password"
		                                     : "locked: this needs the settings password as --password";
	}
	case 3: return "value refused by the meter's validation";
	case 4: return "the meter could not do it";
	case 6: return "the meter is busy: try again";
	default: return NULL;
	}
}

int bm_cmd_write(int argc, char **argv)
{
	link_opts lo;
	long password = -1;
	int rc = parse_opts("write", write_usage, argc, argv, &lo, NULL, &password);
	if (rc >= 0)
		return rc;
	item_list l = {0};
	bm_rm_info unlock;
	if (!parse_assignments(optind, argc, argv, &l)) {
		free(l.v);
		return 2;
	}
	if (password >= 0 && bm_rm_find("unlock", &unlock) != BM_OK) {
		fputs("branchmeter write: the register map has no 'unlock'\n", stderr);
		free(l.v);
		return 1;
	}
	modbus_t *ctx = link_open("write", &lo);
	if (!ctx) {
		free(l.v);
		return 1;
	}
	const char *where = lo.rtu ? lo.rtu : lo.tcp;
	int status = 0;
	/* The unlock belongs to this connection (the meter keeps it per client),
	 * so it is written on the same link as the settings. */
	if (password >= 0 && modbus_write_register(ctx, unlock.addr, (uint16_t)password) != 1) {
		int ex = exception_of(errno);
		if (ex == 3)
			fputs("branchmeter write: password refused (wrong password, or too many wrong ones:"
			      " unlock refused for a minute)\n",
			      stderr);
		else
			fprintf(stderr, "branchmeter write: unlock: %s%s%s\n", ex ? "" : where, ex ? "" : ": ",
			        modbus_strerror(errno));
		status = 1;
		l.n = 0;
	}
	for (size_t i = 0; i < l.n; i++) {
		item *it = &l.v[i];
		const char *value = strchr(argv[it->pattern], '=') + 1;
		int ok = it->in.regs == 1 ? modbus_write_register(ctx, it->in.addr, it->regs[0])
		                          : modbus_write_registers(ctx, it->in.addr, it->in.regs, it->regs);
		if (ok != (it->in.regs == 1 ? 1 : (int)it->in.regs)) {
			int err = errno, ex = exception_of(err);
			const char *why = ex ? explain(ctx, ex, &it->in, password >= 0) : NULL;
			if (ex)
				fprintf(stderr, "branchmeter write: %s=%s: %s%s%s%s\n", it->in.name, value, modbus_strerror(err),
				        why ? " (" : "", why ? why : "", why ? ")" : "");
			else
				fprintf(stderr, "branchmeter write: %s=%s: %s: %s\n", it->in.name, value, where,
				        modbus_strerror(err));
			if (i + 1 < l.n)
				fprintf(stderr, "branchmeter write: not written: %s%s\n", l.v[i + 1].in.name,
				        i + 2 < l.n ? " and what follows" : "");
			status = 1;
			break;
		}
		if (it->in.access == BM_RA_W) {
			printf("%s: written\n", it->in.name);
			continue;
		}
		/* what the meter now holds, e.g. a float's nearest binary32 */
		int r = read_span(ctx, it, 1);
		if (r != 0) {
			fprintf(stderr, "branchmeter write: %s written, but reading it back failed: %s\n", it->in.name,
			        r > 0 ? modbus_strerror(MODBUS_ENOBASE + r) : modbus_strerror(errno));
			status = 1;
			if (r < 0)
				break;
			continue;
		}
		print_line(stdout, &it->in, it->regs);
	}
	link_close(ctx);
	free(l.v);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return status;
}
