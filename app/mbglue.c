/*
 * mbglue.c — the running meter's Modbus servers: the core's register map
 * (bm/regmap.h) behind the core's protocol (bm/modbus.h) behind the Linux
 * server (mbserver.h). docs/modbus.md describes what a client sees.
 *
 * Invariants:
 *  - The server thread serves every request from its own copy of the
 *    published state (`sv`), refreshed at most once per poll round and only
 *    when a new window or new settings were published: all registers of one
 *    read come from one window, and the sample thread waits at most for one
 *    copy.
 *  - Unit ids (TCP): 0, 255 and the device address serve the whole map;
 *    101..100+n serve circuit n's blocks at circuit 1's addresses; any other
 *    unit answers exception 0x0B. RTU serves the device address (and
 *    broadcast writes).
 *  - Each connection (and the serial line) has its own password session.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/modbus.h"
#include "mbserver.h"
#include "run.h"
#include "state.h"

#define CIRCUIT_UNIT0 101

static struct {
	bm_run_shared *sh;
	bm_snapshot s;
	bm_rm_view view;
	struct bm_mbsrv *srv;
} sv;

typedef struct session {
	bm_rm_session ses;
	int kind;
	uint16_t w_addr, w_count; /* the write in progress, for its event */
} session;

static unsigned ev_source(const session *s)
{
	return s && s->kind == BM_MBSRV_RTU ? BM_EV_SRC_MODBUS_RTU : BM_EV_SRC_MODBUS_TCP;
}

static uint32_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

/* Copies the published state if it changed (called by the server thread). */
static void refresh(void *user)
{
	(void)user;
	bm_snapshot_refresh(sv.sh, &sv.s, &sv.view);
}

static int unit_view(uint8_t unit)
{
	if (unit == 0 || unit == 255 || unit == sv.s.set.comm.address)
		return -1;
	if (unit >= CIRCUIT_UNIT0 && unit < CIRCUIT_UNIT0 + sv.s.set.meter.n_circuits)
		return unit - CIRCUIT_UNIT0;
	return -2;
}

static bool op_unit_ok(void *ctx, uint8_t unit)
{
	(void)ctx;
	return unit_view(unit) != -2;
}

static int op_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	session *s = ctx;
	int v = unit_view(unit);
	if (v == -2)
		v = -1; /* RTU: the codec has checked the address already */
	return bm_rm_read(&sv.view, &s->ses, now_s(), v, addr, count, regs);
}

static bm_mbsrv_rtu_cfg rtu_cfg;

static void rtu_from_settings(const bm_settings *set, bm_mbsrv_rtu_cfg *r)
{
	r->baud = set->comm.baud;
	r->parity = set->comm.parity == BM_PARITY_ODD ? 'O' : set->comm.parity == BM_PARITY_EVEN ? 'E' : 'N';
	r->stop_bits = set->comm.stop_bits;
	r->addr = set->comm.address;
}

/* The actions of a Modbus write: control.c does the work; the server's own
 * copy is then refreshed, so the next request (even in the same round) reads
 * what was written. */
static int act_commit(void *ctx, const bm_settings *next)
{
	session *ses = ctx;
	bool serial = memcmp(&sv.s.set.comm, &next->comm, sizeof next->comm) != 0;
	if (bm_ctl_commit(sv.sh, next, ev_source(ses), ses ? ses->w_addr : 0, ses ? ses->w_count : 0, 0) != BM_OK)
		return BM_MB_EX_DEVICE_FAILURE;
	sv.s.fresh = false;
	refresh(NULL);
	if (serial && sv.srv && rtu_cfg.device) {
		/* answered at the old settings first: the server applies this
		 * from its next round */
		rtu_from_settings(next, &rtu_cfg);
		bm_mbsrv_set_rtu(sv.srv, &rtu_cfg);
	}
	return 0;
}

static int act_reset(void *ctx, bm_rm_reset what)
{
	bm_err e = bm_ctl_reset(sv.sh, what, ev_source(ctx), 0);
	sv.s.fresh = false;
	refresh(NULL);
	return e == BM_OK ? 0 : e == BM_E_INVAL ? BM_MB_EX_ILLEGAL_VALUE : BM_MB_EX_DEVICE_FAILURE;
}

static int act_clock(void *ctx, int64_t unix_s)
{
	if (bm_ctl_clock(sv.sh, unix_s, ev_source(ctx), 0) != BM_OK)
		return BM_MB_EX_DEVICE_FAILURE;
	refresh(NULL);
	return 0;
}

static int act_relay(void *ctx, unsigned r, bool close)
{
	bm_err e = bm_ctl_relay(sv.sh, r, close, ev_source(ctx), 0);
	sv.s.fresh = false;
	refresh(NULL);
	return e == BM_OK ? 0 : e == BM_E_STATE ? BM_MB_EX_ILLEGAL_VALUE : BM_MB_EX_ILLEGAL_ADDRESS;
}

static const bm_rm_actions actions = {act_commit, act_reset, act_clock, act_relay};

static int op_write(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool broadcast)
{
	(void)broadcast;
	session *s = ctx;
	int v = unit_view(unit);
	if (v == -2)
		v = -1;
	s->w_addr = addr;
	s->w_count = count;
	uint32_t lockout = s->ses.lockout_s;
	int ex = bm_rm_write(&sv.view, &s->ses, now_s(), v, &actions, s, addr, count, regs, NULL);
	if (s->ses.lockout_s != lockout)
		bm_events_add(sv.view.rtc_unix, BM_EV_LOCKOUT, ev_source(s), -1, 0, 0, 0);
	return ex;
}

static const char *op_devid(void *ctx, uint8_t unit, uint8_t id)
{
	(void)ctx;
	(void)unit;
	return bm_rm_devid(&sv.sh->ident, id);
}

static const bm_mb_ops ops = {op_unit_ok, op_read, op_write, op_devid};

static void *session_open(void *user, int kind)
{
	(void)user;
	session *s = calloc(1, sizeof *s);
	if (s)
		s->kind = kind;
	return s;
}

static void session_close(void *user, void *ses)
{
	(void)user;
	free(ses);
}

bool bm_mb_start(bm_run_shared *sh, const bm_mb_opts *o, bool quiet, struct bm_mbsrv **out)
{
	*out = NULL;
	sv.sh = sh;
	sv.s.fresh = false;
	refresh(NULL);
	bm_mbsrv_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.max_clients = o->max_clients ? o->max_clients : 32;
	cfg.idle_s = o->idle_s > 0 ? o->idle_s : 60.0;
	static char host[256];
	bool explicit_tcp = o->tcp != NULL;
	cfg.tcp_port = -1;
	if (o->tcp && strcmp(o->tcp, "off") != 0) {
		const char *colon = strrchr(o->tcp, ':');
		const char *port = colon ? colon + 1 : o->tcp;
		char *end;
		long p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 0 || p > 65535) {
			fprintf(stderr, "branchmeter: --modbus-tcp '%s': expected [HOST:]PORT or off\n", o->tcp);
			return false;
		}
		if (colon) {
			snprintf(host, sizeof host, "%.*s", (int)(colon - o->tcp), o->tcp);
			cfg.tcp_host = host;
		}
		cfg.tcp_port = (int)p;
	} else if (!o->tcp && sv.s.set.comm.tcp_enabled) {
		cfg.tcp_port = sv.s.set.comm.tcp_port;
	}
	memset(&rtu_cfg, 0, sizeof rtu_cfg);
	if (o->rtu && sv.s.set.comm.rs485_enabled) {
		rtu_cfg.device = o->rtu;
		rtu_cfg.rs485 = true;
		rtu_from_settings(&sv.s.set, &rtu_cfg);
	} else if (o->rtu) {
		fprintf(stderr, "branchmeter: note: RS485 is disabled in the settings (rs485_enabled = 0): no RTU server\n");
	}
	cfg.rtu = rtu_cfg;
	if (cfg.tcp_port < 0 && !cfg.rtu.device) {
		if (!quiet)
			puts("  Modbus: off");
		return true;
	}
	static const bm_mbsrv_hooks hooks = {&ops, session_open, session_close, refresh, NULL};
	char err[512];
	if (bm_mbsrv_start(&sv.srv, &cfg, &hooks, err, sizeof err) != BM_OK) {
		fprintf(stderr, "branchmeter: Modbus: %s%s\n", err,
		        explicit_tcp || o->rtu ? "" : " (ports below 1024 need root; --modbus-tcp [HOST:]PORT chooses another)");
		if (explicit_tcp || o->rtu)
			return false;
		sv.srv = NULL;
		return true;
	}
	*out = sv.srv;
	if (!quiet) {
		if (cfg.tcp_port >= 0)
			printf("  Modbus TCP: %s:%d  (unit %u, 0 or 255: the meter; %d..%d: circuit 1..%u; docs/modbus.md)\n",
			       cfg.tcp_host ? cfg.tcp_host : "0.0.0.0", bm_mbsrv_tcp_port(sv.srv), sv.s.set.comm.address,
			       CIRCUIT_UNIT0, CIRCUIT_UNIT0 + sv.s.set.meter.n_circuits - 1, sv.s.set.meter.n_circuits);
		if (cfg.rtu.device)
			printf("  Modbus RTU: %s  %u %c%u, address %u\n", cfg.rtu.device, cfg.rtu.baud, cfg.rtu.parity,
			       cfg.rtu.stop_bits, cfg.rtu.addr);
		else
			puts("  Modbus RTU: off (--modbus-rtu DEVICE)");
	}
	return true;
}

void bm_mb_stop(struct bm_mbsrv *s)
{
	bm_mbsrv_stop(s);
	if (s == sv.srv)
		sv.srv = NULL;
}
