/*
 * run.h — the running meter's shared state (`branchmeter run`), for run.c
 * (sample thread, main thread) and the services that serve it (mbglue.c).
 *
 * Invariants (DESIGN.md "Linux threads"):
 *  - The sample thread owns the meter; it publishes each window's results,
 *    the metering state and the settings in force under `lock`, held only
 *    for copies, so no client can stall it.
 *  - Settings change only through bm_rm_write() (validated whole) and the
 *    commit in mbglue.c, which saves them before it applies them (an
 *    acknowledged write survives a power cut); the sample thread applies a
 *    new generation at its next chunk.
 */
#ifndef BM_APP_RUN_H
#define BM_APP_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bm/alarm.h"
#include "bm/metering.h"
#include "bm/model.h"
#include "bm/regmap.h"
#include "bm/settings.h"

typedef struct bm_run_shared {
	pthread_mutex_t lock;
	pthread_cond_t wake;      /* the main thread: a save is due, or the run ended */
	bm_results snap;          /* last window */
	bm_metering mt;           /* the sample thread's metering, updated under lock */
	bm_io io;                 /* alarms, relays, inputs: updated under lock */
	double temp_c[BM_MAX_CIRCUITS], res_ma[BM_MAX_CIRCUITS]; /* expansion inputs, last window (NaN: none) */
	bm_model model;
	bm_settings set;          /* the settings in force */
	bm_settings factory;      /* what a factory reset restores */
	uint32_t set_gen;         /* bumped by every change of `set` */
	bool set_dirty;           /* settings (or the clock offset) to save */
	bool save_due, whole_due; /* metering state to save; whole: not just the counters */
	int64_t rtc_offset_s;     /* RTC = source time + this */
	int64_t src_unix;         /* source time at the last window's end (whole seconds) */
	int64_t rtc_unix;         /* the RTC at the last window's end */
	uint64_t windows;
	uint64_t missed;          /* windows published over one window late (real-time speed) */
	double lag_max_s;
	uint16_t status;          /* bm_rm_view.status */
	bm_rm_ident ident;
	struct bm_state *st;      /* the state directory, or NULL (--no-state) */
} bm_run_shared;

/* Vendor, model, firmware and serial number (ident.c). */
void bm_ident_fill(bm_rm_ident *id, const bm_meter_cfg *cfg);

/* The event log (events.c): open events.nvm in the state directory (else
 * events are kept in memory only); add from any thread but the sample
 * thread; read for the registers. */
bm_err bm_events_open(const char *dir, char *err, size_t errlen);
void bm_events_close(void);
void bm_events_add(int64_t time, unsigned type, unsigned source, int circuit, unsigned code, double value,
                   double value2);
uint32_t bm_events_last(void);
bm_err bm_events_get(void *ctx, uint32_t seq, bm_event *out);

/* Changes from any interface (control.c): saved, applied, logged with the
 * source (bm_ev_source) and, for the web, the account (1 admin) as value2.
 * BM_OK; BM_E_IO (not saved: nothing changed); BM_E_INVAL; relay:
 * BM_E_STATE (alarm mode), BM_E_INVAL (no such relay). */
bm_err bm_ctl_commit(bm_run_shared *sh, const bm_settings *next, unsigned source, unsigned code, double value,
                     double account);
bm_err bm_ctl_reset(bm_run_shared *sh, bm_rm_reset what, unsigned source, double account);
bm_err bm_ctl_clock(bm_run_shared *sh, int64_t unix_s, unsigned source, double account);
bm_err bm_ctl_relay(bm_run_shared *sh, unsigned r, bool close, unsigned source, double account);

/* A server's copy of the published state (snapshot.c): refreshed when a new
 * window, settings or clock were published, or when fresh is false; *v is
 * set to a register-map view of it. */
typedef struct bm_snapshot {
	bm_results r;
	bm_metering mt;
	bm_settings set;
	bm_io io;
	double temp_c[BM_MAX_CIRCUITS], res_ma[BM_MAX_CIRCUITS];
	uint64_t windows;
	uint32_t gen;
	int64_t rtc;
	uint16_t status;
	bool fresh;
} bm_snapshot;
void bm_snapshot_refresh(bm_run_shared *sh, bm_snapshot *s, bm_rm_view *v);

/* The web API (webapi.c): handlers for the web server's hooks (web.h). */
struct bm_web_req;
struct bm_web_resp;
void bm_webapi_init(bm_run_shared *sh);
void bm_webapi_handle(void *user, const struct bm_web_req *req, struct bm_web_resp *resp);
char *bm_webapi_live(void *user);

/* Modbus servers (mbglue.c). */
struct bm_mbsrv;
typedef struct bm_mb_opts {
	const char *tcp;       /* "off", "[HOST:]PORT", or NULL = from the settings */
	const char *rtu;       /* serial device or NULL */
	unsigned max_clients;
	double idle_s;
} bm_mb_opts;
/* Starts what the options and settings ask for; prints where it listens
 * (unless quiet). false with a message when an explicitly asked-for server
 * cannot start. */
bool bm_mb_start(bm_run_shared *sh, const bm_mb_opts *o, bool quiet, struct bm_mbsrv **out);
void bm_mb_stop(struct bm_mbsrv *s);

#endif
