/*
 * run.c — `branchmeter run`: the meter in real time (or faster) on the
 * simulator or a looping COMTRADE recording, printing a live summary.
 *
 * Threads (DESIGN.md "Linux threads"): the sample thread generates or reads
 * frames, feeds the core and publishes each finished window into a snapshot
 * under a mutex held only for a copy, so no reader can stall it; the main
 * thread prints from the snapshot every --interval seconds. Pacing: at
 * --speed N the sample thread keeps the sample clock at N × wall time; with
 * --speed max it never sleeps. --duration counts sample-clock seconds, so a
 * run's results do not depend on the machine's speed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "comtrade.h"
#include "conffile.h"
#include "gpio.h"
#include "web.h"
#include "bm/metering.h"
#include "fft_kiss.h"
#include "sim.h"
#include "run.h"
#include "state.h"

#define CHUNK 512

typedef struct run_ctx {
	/* configuration */
	bm_meter_cfg cfg;    /* the source's own (sample rate, circuits, sensors) */
	double speed;        /* 0 = max */
	double duration_s;   /* 0 = until a signal */
	bool use_sim;
	bm_sim *sim;
	bm_comtrade_reader *rd;
	bm_comtrade_map map;
	int64_t t0_unix;     /* source time at sample 0 */
	double save_every_s; /* sample-clock seconds between saves; 0 = no state */
	bool groups;
	/* shared with the services, under sh.lock */
	bm_run_shared sh;
	struct {
		double ep_imp, ep_exp, eq_imp, eq_exp; /* totals, Wh / varh */
		bm_mt_demand dp;                       /* demand of P */
	} e[BM_MAX_CIRCUITS];
	unsigned tariff;
	uint64_t samples;
	double sim_unix;     /* simulated wall clock of the last window (sim only) */
	bool gpio_inputs;    /* the digital inputs come from GPIO lines, not the source */
	/* COMTRADE expansion channels: sums since the last window (mean
	 * temperature, RMS residual current) */
	double aux_t[BM_MAX_CIRCUITS], aux_r2[BM_MAX_CIRCUITS];
	unsigned aux_nt[BM_MAX_CIRCUITS], aux_nr[BM_MAX_CIRCUITS];
	bool finished;
	char error[512];
} run_ctx;

static bm_meter meter;
static bm_pq pq;
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
	fputs("usage: branchmeter run [--source sim|sim:FILE|comtrade:FILE] [--map MAP] [--speed N|max]\n"
	      "                       [--duration S] [--interval S] [--json] [--state-dir D | --no-state]\n"
	      "                       [--modbus-tcp [HOST:]PORT|off] [--modbus-rtu DEVICE]\n"
	      "  Runs the meter on the built-in simulator (default scenario, or an INI scenario file,\n"
	      "  see docs/simulator.md) or on a COMTRADE recording played in a loop, and prints a\n"
	      "  live per-circuit summary.\n"
	      "  --speed N     sample clock runs N times wall time (default 1); 'max' = as fast as possible\n"
	      "  --duration S  stop after S seconds of sample clock (default: run until Ctrl-C)\n"
	      "  --interval S  print every S seconds of wall time (default 1)\n"
	      "  --json        print each summary as one JSON line\n"
	      "  --map MAP     COMTRADE channel mapping (see branchmeter analyze --help)\n"
	      "  --state-dir D keep energies, demand, max/min and monthly freezes in D across\n"
	      "                restarts (default $XDG_STATE_HOME/branchmeter, else\n"
	      "                ~/.local/state/branchmeter); --no-state keeps nothing\n"
	      "  --save-interval S  save the state every S seconds of sample clock (default 5)\n"
	      "                and on exit (Ctrl-C, SIGTERM, --duration)\n"
	      "  --modbus-tcp [HOST:]PORT|off  Modbus TCP server address (default: the settings'\n"
	      "                tcp_enabled / tcp_port, 502, on all interfaces; docs/modbus.md)\n"
	      "  --modbus-rtu DEVICE  Modbus RTU server on this serial port, with the settings'\n"
	      "                address, baud, parity and stop bits (default 1, 9600 8N1)\n"
	      "  --modbus-clients N  TCP connections served at once (default 32)\n"
	      "  --modbus-idle S  close a TCP connection idle this long (default 60)\n"
	      "  --web [HOST:]PORT|off  the web page and JSON API (docs/api.md; default off here,\n"
	      "                make run: 127.0.0.1:8080); --web-assets DIR serves the page from DIR\n"
	      "  --web-admin-password PW, --web-user-password PW  set the accounts' passwords (kept as\n"
	      "                salted hashes in the state directory); without one, the admin password\n"
	      "                is generated at the first start and printed once\n"
	      "  --web-session-idle S  log a web session out after S seconds without a request (900)\n"
	      "  --config FILE  a configuration file (docs/configuration.md): model, Modbus, settings\n"
	      "                by register name (applied at every start), GPIO lines; options given\n"
	      "                here win over the file\n"
	      "  --model CODE  the meter's model code, KPM312-... or MPM4...-X (docs/models.md); it decides\n"
	      "                the relays, inputs and expansion inputs (default MPM4<circuits><input>0-A)\n",
	      f);
}

/* Fill `buf` with n frames from the source; false on a source error. */
static bool source_read(run_ctx *rc, float *buf, size_t n)
{
	if (rc->use_sim) {
		bm_sim_generate(rc->sim, buf, BM_MAX_CH, n);
		return true;
	}
	static double vals[CHUNK * 64];
	const unsigned na = rc->rd->cfg.n_analog;
	size_t got = 0;
	while (got < n) {
		size_t want = n - got, r = 0;
		if (want * na > sizeof vals / sizeof vals[0])
			want = sizeof vals / sizeof vals[0] / (na ? na : 1);
		bm_err e = bm_comtrade_read(rc->rd, vals, NULL, want, &r, rc->error, sizeof rc->error);
		if (e == BM_E_EOF || (e == BM_OK && r == 0)) {
			if (bm_comtrade_rewind(rc->rd, rc->error, sizeof rc->error) != BM_OK)
				return false;
			continue;
		}
		if (e != BM_OK && r == 0)
			return false;
		for (size_t j = 0; j < r; j++) {
			bm_comtrade_map_frame(&rc->map, vals + j * na, na, buf + (got + j) * BM_MAX_CH, BM_MAX_CH);
			double t[BM_MAX_CIRCUITS], ma[BM_MAX_CIRCUITS];
			bm_comtrade_map_aux(&rc->map, vals + j * na, na, t, ma);
			for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++) {
				if (isfinite(t[c])) {
					rc->aux_t[c] += t[c];
					rc->aux_nt[c]++;
				}
				if (isfinite(ma[c])) {
					rc->aux_r2[c] += ma[c] * ma[c];
					rc->aux_nr[c]++;
				}
			}
		}
		got += r;
	}
	return true;
}

static bm_fft_kiss fft;

/* Applies a new settings generation in the sample thread, between chunks:
 * a new measurement configuration restarts the meter (the next window then
 * starts at this sample); metering takes its new configuration in place. */
static void apply_settings(run_ctx *rc, uint64_t n, uint64_t *meter_base, uint32_t *gen, bm_meter_cfg *in_force)
{
	pthread_mutex_lock(&rc->sh.lock);
	if (rc->sh.set_gen == *gen) {
		pthread_mutex_unlock(&rc->sh.lock);
		return;
	}
	*gen = rc->sh.set_gen;
	bm_settings set = rc->sh.set;
	bm_cfg_issue is;
	if (bm_metering_set_config(&rc->sh.mt, &set.metering, &is) != BM_OK)
		fprintf(stderr, "branchmeter: metering settings not applied: %s: %s\n", is.field, is.reason);
	if (bm_io_set_config(&rc->sh.io, &set.io, &is) != BM_OK)
		fprintf(stderr, "branchmeter: alarm settings not applied: %s: %s\n", is.field, is.reason);
	pthread_mutex_unlock(&rc->sh.lock);
	if (memcmp(&set.meter, in_force, sizeof set.meter) != 0) {
		if (bm_meter_init(&meter, &set.meter, &is) != BM_OK) {
			fprintf(stderr, "branchmeter: measurement settings not applied: %s: %s\n", is.field, is.reason);
			return;
		}
		bm_attach_harmonics(&meter, &pq, &fft, rc->groups);
		*in_force = set.meter;
		*meter_base = n;
	}
}

static void *sample_thread(void *arg)
{
	run_ctx *rc = arg;
	static float buf[CHUNK * BM_MAX_CH];
	const double fs = rc->cfg.sample_rate;
	const double t0 = mono();
	uint64_t n = 0, meter_base = 0;
	uint32_t gen = rc->sh.set_gen;
	static bm_meter_cfg in_force;
	in_force = meter.cfg;
	const uint64_t limit = rc->duration_s > 0 ? (uint64_t)(rc->duration_s * fs) : UINT64_MAX;
	double next_save = rc->save_every_s;
	while (!stop_flag && n < limit) {
		if (rc->speed > 0) { /* keep the sample clock at speed × wall time */
			double ahead = (double)n / fs / rc->speed - (mono() - t0);
			if (ahead > 0.002) {
				struct timespec ts = {0, (long)(ahead * 1e9)};
				if (ahead > 0.05)
					ts.tv_nsec = 50000000L;
				nanosleep(&ts, NULL);
				continue;
			}
		}
		apply_settings(rc, n, &meter_base, &gen, &in_force);
		/* a digital input change inside this chunk is stamped with its own
		 * time, not the window's (sequence of events) */
		double next_in = rc->use_sim && !rc->gpio_inputs ? bm_sim_next_input_change(rc->sim) : INFINITY;
		size_t want = CHUNK;
		if (limit - n < want)
			want = (size_t)(limit - n);
		if (!source_read(rc, buf, want)) {
			pthread_mutex_lock(&rc->sh.lock);
			rc->finished = true;
			pthread_mutex_unlock(&rc->sh.lock);
			stop_flag = 1;
			return NULL;
		}
		size_t off = 0;
		while (off < want) {
			bool ready = false;
			off += bm_meter_feed(&meter, buf + off * BM_MAX_CH, BM_MAX_CH, want - off, &ready);
			if (ready) {
				const bm_results *r = bm_meter_results(&meter);
				double end_s = ((double)meter_base + r->start + r->length) / fs;
				/* a window is missed when it comes out more than one window
				 * later than real time would have it (docs/modbus.md) */
				double lag = rc->speed > 0 ? (mono() - t0) - ((double)(n + off) / fs) / rc->speed : 0.0;
				pthread_mutex_lock(&rc->sh.lock);
				if (lag > rc->sh.lag_max_s)
					rc->sh.lag_max_s = lag;
				if (lag > r->length / fs / rc->speed && rc->speed > 0)
					rc->sh.missed++;
				rc->sh.src_unix = rc->t0_unix + (int64_t)floor(end_s);
				rc->sh.rtc_unix = rc->sh.src_unix + rc->sh.rtc_offset_s;
				bm_metering_window(&rc->sh.mt, r, r->length / fs, rc->sh.rtc_unix);
				if (rc->save_every_s > 0 && end_s >= next_save) {
					rc->sh.save_due = true; /* the main thread writes it: no fsync here */
					next_save = end_s + rc->save_every_s;
					pthread_cond_signal(&rc->sh.wake);
				}
				rc->sh.snap = *r;
				rc->sh.status = (uint16_t)((r->flags & BM_WIN_LOCKED ? 1u : 0u) | (rc->sh.status & 2u));
				/* alarms and relays from this window; the expansion inputs and
				 * the digital inputs as the source has them now */
				bm_al_values vals[BM_MAX_CIRCUITS];
				const int64_t rtc_ms = rc->sh.rtc_unix * 1000 + (int64_t)(fmod(end_s, 1.0) * 1000.0);
				static bm_sim_truth tr;
				if (rc->use_sim) /* the expansion inputs at the window's end, exactly */
					bm_sim_truth_at(rc->sim, (uint64_t)llround((double)meter_base + r->start + r->length), &tr);
				for (unsigned c = 0; c < r->n_circuits; c++) {
					const bm_io_caps *caps = &rc->sh.set.caps;
					if (rc->use_sim) {
						rc->sh.temp_c[c] = tr.c[c].temperature_c;
						rc->sh.res_ma[c] = tr.c[c].residual_ma;
					} else { /* the recording's channels over the samples read since the last window */
						rc->sh.temp_c[c] = rc->aux_nt[c] ? rc->aux_t[c] / rc->aux_nt[c] : NAN;
						rc->sh.res_ma[c] = rc->aux_nr[c] ? sqrt(rc->aux_r2[c] / rc->aux_nr[c]) : NAN;
						rc->aux_t[c] = rc->aux_r2[c] = 0.0;
						rc->aux_nt[c] = rc->aux_nr[c] = 0;
					}
					/* an input the model does not have is not there, whatever
					 * the source carries */
					if (!(caps->temperature >> c & 1u))
						rc->sh.temp_c[c] = NAN;
					if (!(caps->residual >> c & 1u))
						rc->sh.res_ma[c] = NAN;
					vals[c].v = r->v[c];
					vals[c].temperature_c = rc->sh.temp_c[c];
					vals[c].residual_ma = rc->sh.res_ma[c];
					for (unsigned q = 0; q < BM_MT_DQ_COUNT; q++) {
						bm_mt_demand d;
						vals[c].demand[q] = bm_metering_demand(&rc->sh.mt, c, (bm_mt_dq)q, &d) == BM_OK ? d.present : NAN;
					}
				}
				bm_io_window(&rc->sh.io, vals, end_s, rtc_ms);
				for (unsigned c = 0; c < r->n_circuits; c++) {
					rc->e[c].ep_imp = bm_metering_energy_wh(&rc->sh.mt, c, BM_MT_TOTAL, BM_MT_EP_IMP);
					rc->e[c].ep_exp = bm_metering_energy_wh(&rc->sh.mt, c, BM_MT_TOTAL, BM_MT_EP_EXP);
					rc->e[c].eq_imp = bm_metering_energy_wh(&rc->sh.mt, c, BM_MT_TOTAL, BM_MT_EQ_IMP);
					rc->e[c].eq_exp = bm_metering_energy_wh(&rc->sh.mt, c, BM_MT_TOTAL, BM_MT_EQ_EXP);
					bm_metering_demand(&rc->sh.mt, c, BM_MT_D_P, &rc->e[c].dp);
				}
				rc->tariff = bm_metering_tariff(&rc->sh.mt);
				rc->sh.windows++;
				rc->samples = n + off;
				if (rc->use_sim)
					rc->sim_unix = bm_sim_time(rc->sim);
				pthread_mutex_unlock(&rc->sh.lock);
			}
		}
		n += want;
		if (next_in <= (double)n / fs) {
			static bm_sim_truth tin;
			bm_sim_truth_at(rc->sim, (uint64_t)ceil(next_in * fs), &tin);
			pthread_mutex_lock(&rc->sh.lock);
			int64_t ms = (rc->t0_unix + rc->sh.rtc_offset_s) * 1000 + (int64_t)llround(next_in * 1000.0);
			bm_io_inputs(&rc->sh.io, tin.inputs, next_in, ms);
			pthread_mutex_unlock(&rc->sh.lock);
		}
	}
	pthread_mutex_lock(&rc->sh.lock);
	rc->samples = n;
	rc->finished = true;
	pthread_cond_signal(&rc->sh.wake);
	pthread_mutex_unlock(&rc->sh.lock);
	return NULL;
}

/* Writes the metering state when the sample thread asked for it (or at
 * exit), and the settings when they changed: a copy taken under the lock,
 * then the slow fsync outside it. */
static void save_if_due(run_ctx *rc, bm_state *st, bool final)
{
	static bm_metering copy;
	static bm_saved_settings sset;
	static unsigned saves;
	if (!st->open)
		return;
	pthread_mutex_lock(&rc->sh.lock);
	bool due = rc->sh.save_due || final, whole_asked = rc->sh.whole_due, set_due = rc->sh.set_dirty;
	if (due)
		copy = rc->sh.mt;
	if (set_due) {
		sset.set = rc->sh.set;
		sset.rtc_offset_s = rc->sh.rtc_offset_s;
	}
	rc->sh.save_due = rc->sh.whole_due = rc->sh.set_dirty = false;
	pthread_mutex_unlock(&rc->sh.lock);
	if (set_due && bm_state_save_settings(st, &sset) != BM_OK)
		fprintf(stderr, "branchmeter: saving the settings failed: %s\n", bm_nvm_file_error(&st->file));
	if (!due)
		return;
	/* the counters every time; the whole state every 60th time, at exit and
	 * after a reset (flash wear: docs/benchmarks.md) */
	bool whole = final || whole_asked || saves++ % 60 == 0;
	if (bm_state_save_metering(st, &copy, whole) != BM_OK)
		fprintf(stderr, "branchmeter: saving the state failed: %s\n", bm_nvm_file_error(&st->file));
}

/* Relays out to their GPIO lines, inputs in from theirs (the main thread,
 * every ~50 ms: a line access is a system call, kept off the sample path). */
static void gpio_sync(run_ctx *rc, bm_gpio *g)
{
	static uint8_t last_in = 0xFF;
	uint8_t in = 0;
	bool in_ok = rc->gpio_inputs && bm_gpio_get_inputs(g, &in) == BM_OK;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&rc->sh.lock);
	uint8_t out = rc->sh.io.do_state;
	if (in_ok && in != last_in) {
		int64_t ms = ((int64_t)now.tv_sec + rc->sh.rtc_offset_s) * 1000 + now.tv_nsec / 1000000;
		bm_io_inputs(&rc->sh.io, in, rc->sh.io.t_s, ms);
		last_in = in;
	}
	pthread_mutex_unlock(&rc->sh.lock);
	if (bm_gpio_set_outputs(g, out) != BM_OK)
		fprintf(stderr, "branchmeter: GPIO: setting the relays failed\n");
}

/* Energy rollovers and monthly freezes the metering counted, into the event
 * log (the main thread's job: an append syncs the file). */
static void take_events(run_ctx *rc)
{
	uint32_t roll[BM_MAX_CIRCUITS] = {0}, freezes;
	bm_mt_month m;
	bool have_month = false;
	pthread_mutex_lock(&rc->sh.lock);
	for (unsigned c = 0; c < rc->sh.mt.n_circuits; c++)
		roll[c] = bm_metering_take_rollovers(&rc->sh.mt, c);
	freezes = bm_metering_take_freezes(&rc->sh.mt);
	if (freezes)
		have_month = bm_metering_month(&rc->sh.mt, 0, &m) == BM_OK;
	int64_t t = rc->sh.rtc_unix;
	double thr = rc->sh.mt.cfg.rollover_wh;
	bm_io_event ev[BM_IO_EVENTS_MAX];
	size_t nev = bm_io_take_events(&rc->sh.io, ev, BM_IO_EVENTS_MAX);
	pthread_mutex_unlock(&rc->sh.lock);
	for (size_t i = 0; i < nev; i++) {
		const bm_io_event *e = &ev[i];
		int64_t when = e->rtc_ms / 1000;
		if (e->kind <= 1) /* alarms: code = type, or 100 + input number for an input's alarm */
			bm_events_add(when, e->kind == 0 ? BM_EV_ALARM_ON : BM_EV_ALARM_OFF, BM_EV_SRC_METER, e->circuit,
			              e->circuit < 0 ? 101u + e->index : e->index, e->value, 0);
		else
			bm_events_add(when, e->kind == 2 ? BM_EV_INPUT : BM_EV_RELAY, BM_EV_SRC_METER, -1, e->index + 1u,
			              e->value, 0);
	}
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		if (roll[c])
			bm_events_add(t, BM_EV_ROLLOVER, BM_EV_SRC_METER, (int)c, 0, thr, roll[c]);
	if (freezes)
		bm_events_add(have_month ? m.freeze_unix : t, BM_EV_FREEZE, BM_EV_SRC_METER, -1, 0,
		              have_month ? m.year * 100.0 + m.month : 0, freezes);
}

static void print_summary(run_ctx *rc, bool json)
{
	bm_results r;
	uint64_t windows, samples, missed;
	double unix_s, lag_max;
	unsigned tariff;
	__typeof__(rc->e) e;
	pthread_mutex_lock(&rc->sh.lock);
	r = rc->sh.snap;
	windows = rc->sh.windows;
	missed = rc->sh.missed;
	lag_max = rc->sh.lag_max_s;
	samples = rc->samples;
	unix_s = (double)rc->sh.rtc_unix;
	memcpy(e, rc->e, sizeof e);
	tariff = rc->tariff;
	uint32_t alarms[BM_MAX_CIRCUITS] = {0};
	for (unsigned c = 0; c < rc->sh.io.n_circuits && c < BM_MAX_CIRCUITS; c++)
		alarms[c] = bm_io_alarm_status(&rc->sh.io, c);
	unsigned relays = rc->sh.io.do_state, inputs = rc->sh.io.di_state, di_alarms = bm_io_di_alarm_status(&rc->sh.io);
	const unsigned n_do = rc->sh.set.caps.n_do, n_di = rc->sh.set.caps.n_di;
	pthread_mutex_unlock(&rc->sh.lock);
	double t = (double)samples / rc->cfg.sample_rate;
	if (windows == 0) {
		if (!json)
			printf("t=%.1f s: waiting for the first window\n", t);
		fflush(stdout);
		return;
	}
	if (json) {
		printf("{\"t\":%.3f,\"windows\":%llu,\"missed_windows\":%llu,\"lag_max_ms\":%.1f,\"rtc\":%.0f,"
		       "\"tariff\":%u,\"circuits\":[",
		       t, (unsigned long long)windows, (unsigned long long)missed, lag_max * 1e3, unix_s, tariff);
		for (unsigned c = 0; c < r.n_circuits; c++) {
			double hr[BM_HCH][BM_H_MAX + 1], hp[BM_HCH][BM_H_MAX + 1];
			bm_harm_view(&r, &rc->cfg, c, hr);
			bm_harm_percent(hr, hp);
			if (c)
				putchar(',');
			/* the metering figures ride in the same object */
			bm_json_circuit_body(stdout, c, NULL, bm_wiring_name(rc->cfg.circuit[c].wiring), r.v[c], hr, hp);
			printf(",\"EP_imp_Wh\":");
			bm_json_number(stdout, e[c].ep_imp);
			printf(",\"EP_exp_Wh\":");
			bm_json_number(stdout, e[c].ep_exp);
			printf(",\"EQ_imp_varh\":");
			bm_json_number(stdout, e[c].eq_imp);
			printf(",\"EQ_exp_varh\":");
			bm_json_number(stdout, e[c].eq_exp);
			printf(",\"DP_W\":");
			bm_json_number(stdout, e[c].dp.present);
			printf(",\"DP_max_W\":");
			bm_json_number(stdout, e[c].dp.max);
			printf(",\"alarms\":[");
			for (unsigned k = 0, first = 1; k < BM_AL_TYPE_COUNT; k++)
				if (alarms[c] >> k & 1u) {
					printf("%s\"%s\"", first ? "" : ",", bm_al_table[k].name);
					first = 0;
				}
			putchar(']');
			putchar('}');
		}
		putchar(']');
		if (n_do) /* what the model lacks is not shown */
			printf(",\"relays\":%u", relays);
		if (n_di)
			printf(",\"inputs\":%u,\"input_alarms\":%u", inputs, di_alarms);
		puts("}");
		fflush(stdout);
		return;
	}
	char clock[40] = "";
	if (unix_s > 0) {
		time_t tt = (time_t)unix_s;
		struct tm tm;
		localtime_r(&tt, &tm);
		strftime(clock, sizeof clock, "  %Y-%m-%d %H:%M:%S", &tm);
	}
	const double *v0 = r.v[0];
	char io_txt[64] = "";
	if (n_do)
		snprintf(io_txt, sizeof io_txt, "  relays %0*x", 1, relays);
	if (n_di)
		snprintf(io_txt + strlen(io_txt), sizeof io_txt - strlen(io_txt), "  inputs %x%s", inputs,
		         di_alarms ? "  INPUT ALARM" : "");
	printf("t=%.1f s%s  window %u  F=%.4f Hz  U=%.2f/%.2f/%.2f V%s%s\n", t, clock, r.seq, v0[BM_Q_F], v0[BM_Q_U1],
	       v0[BM_Q_U2], v0[BM_Q_U3], (r.flags & BM_WIN_LOCKED) ? "" : "  (tracking)", io_txt);
	for (unsigned c = 0; c < r.n_circuits; c++) {
		const double *v = r.v[c];
		static const char *const seq[] = {"ok", "reversed", "loss/weak"};
		double us = v[BM_Q_USeq], is = v[BM_Q_ISeq];
		printf("  C%u %-8s I=%8.3f %8.3f %8.3f A  P=%10.3f kW  Q=%10.3f kvar  S=%10.3f kVA  PF=%6.3f\n", c + 1,
		       bm_wiring_name(rc->cfg.circuit[c].wiring), v[BM_Q_I1], v[BM_Q_I2], v[BM_Q_I3], v[BM_Q_P] / 1e3,
		       v[BM_Q_Q] / 1e3, v[BM_Q_S] / 1e3, v[BM_Q_PF]);
		char dmax[24] = "n/a";
		if (isfinite(e[c].dp.max))
			snprintf(dmax, sizeof dmax, "%.3f kW", e[c].dp.max / 1e3);
		printf("     E+ %10.4f kWh  E- %10.4f kWh  Eq+ %10.4f kvarh  Eq- %10.4f kvarh  T%u  demand P %9.3f kW"
		       " (max %s)\n",
		       e[c].ep_imp / 1e3, e[c].ep_exp / 1e3, e[c].eq_imp / 1e3, e[c].eq_exp / 1e3, tariff,
		       e[c].dp.present / 1e3, dmax);
		if (alarms[c]) {
			printf("     ALARM:");
			for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
				if (alarms[c] >> k & 1u)
					printf(" %s", bm_al_table[k].name);
			putchar('\n');
		}
		printf("     THD-U %5.2f %%  THD-I %6.2f %6.2f %6.2f %%  K %5.2f  unbalance U %5.2f %% I %5.2f %%  "
		       "sequence U %s I %s\n",
		       v[BM_Q_THDU1], v[BM_Q_THDI1], v[BM_Q_THDI2], v[BM_Q_THDI3], v[BM_Q_K1], v[BM_Q_Uunb2], v[BM_Q_Iunb2],
		       isfinite(us) ? seq[(int)us] : "n/a", isfinite(is) ? seq[(int)is] : "n/a");
	}
	fflush(stdout);
}

int bm_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"source", required_argument, NULL, 's'},  {"speed", required_argument, NULL, 'x'},
		{"duration", required_argument, NULL, 'd'}, {"interval", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},          {"map", required_argument, NULL, 'm'},
		{"state-dir", required_argument, NULL, 'S'}, {"no-state", no_argument, NULL, 'N'},
		{"save-interval", required_argument, NULL, 'I'},
		{"modbus-tcp", required_argument, NULL, 'T'}, {"modbus-rtu", required_argument, NULL, 'R'},
		{"modbus-clients", required_argument, NULL, 'C'}, {"modbus-idle", required_argument, NULL, 'L'},
		{"model", required_argument, NULL, 'M'}, {"config", required_argument, NULL, 'F'},
		{"web", required_argument, NULL, 'W'}, {"web-assets", required_argument, NULL, 'A'},
		{"web-admin-password", required_argument, NULL, 'P'}, {"web-user-password", required_argument, NULL, 'U'},
		{"web-session-idle", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	bm_mb_opts mbo = {NULL, NULL, 32, 60.0};
	const char *model_arg = NULL, *config_arg = NULL;
	const char *web_arg = NULL, *web_assets = BM_WEB_ASSETS, *web_admin = NULL, *web_user = NULL;
	bm_web *web = NULL;
	double web_idle = 900.0;
	static bm_conf conf;
	bm_gpio *gpio = NULL;
	static run_ctx rc;
	static bm_state st;
	const char *state_dir = NULL;
	bool no_state = false;
	rc.save_every_s = 5.0;
	const char *source = "sim", *map_arg = NULL;
	double interval = 1.0;
	bool json = false;
	rc.speed = 1.0;
	optind = 1;
	for (int ch; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (ch) {
		case 's': source = optarg; break;
		case 'x':
			if (strcmp(optarg, "max") == 0)
				rc.speed = 0;
			else if (!bm_arg_double("--speed", optarg, 0.01, 1e6, &rc.speed))
				return 2;
			break;
		case 'd':
			if (!bm_arg_double("--duration", optarg, 0.001, 1e9, &rc.duration_s))
				return 2;
			break;
		case 'i':
			if (!bm_arg_double("--interval", optarg, 0.05, 3600, &interval))
				return 2;
			break;
		case 'j': json = true; break;
		case 'm': map_arg = optarg; break;
		case 'S': state_dir = optarg; break;
		case 'N': no_state = true; break;
		case 'I':
			if (!bm_arg_double("--save-interval", optarg, 0.1, 3600, &rc.save_every_s))
				return 2;
			break;
		case 'T': mbo.tcp = optarg; break;
		case 'M': model_arg = optarg; break;
		case 'F': config_arg = optarg; break;
		case 'W': web_arg = optarg; break;
		case 'A': web_assets = optarg; break;
		case 'P': web_admin = optarg; break;
		case 'U': web_user = optarg; break;
		case 'E':
			if (!bm_arg_double("--web-session-idle", optarg, 0.1, 86400, &web_idle))
				return 2;
			break;
		case 'R': mbo.rtu = optarg; break;
		case 'C': {
			double v;
			if (!bm_arg_double("--modbus-clients", optarg, 1, 1024, &v))
				return 2;
			mbo.max_clients = (unsigned)v;
			break;
		}
		case 'L':
			if (!bm_arg_double("--modbus-idle", optarg, 0.1, 86400, &mbo.idle_s))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	char err[512];
	if (config_arg) { /* the command line wins over the file */
		if (bm_conf_load(config_arg, &conf, err, sizeof err) != BM_OK) {
			fprintf(stderr, "branchmeter: %s\n", err);
			return 1;
		}
		if (!model_arg && conf.model[0])
			model_arg = conf.model;
		if (!mbo.tcp && conf.tcp[0])
			mbo.tcp = conf.tcp;
		if (!mbo.rtu && conf.rtu[0])
			mbo.rtu = conf.rtu;
		if (conf.clients)
			mbo.max_clients = conf.clients;
		if (conf.idle_s > 0)
			mbo.idle_s = conf.idle_s;
		if (!web_arg && conf.web[0])
			web_arg = conf.web;
		if (conf.web_assets[0] && strcmp(web_assets, BM_WEB_ASSETS) == 0)
			web_assets = conf.web_assets;
		if (!web_admin && conf.web_admin[0])
			web_admin = conf.web_admin;
		if (!web_user && conf.web_user[0])
			web_user = conf.web_user;
	}
	if (strcmp(source, "sim") == 0 || strncmp(source, "sim:", 4) == 0) {
		static bm_sim_scenario sc;
		if (source[3] == ':') {
			if (bm_sim_load_file(source + 4, &sc, err, sizeof err) != BM_OK) {
				fprintf(stderr, "branchmeter: %s\n", err);
				return 1;
			}
		} else {
			bm_sim_default(&sc);
		}
		rc.sim = malloc(sizeof *rc.sim);
		if (!rc.sim || bm_sim_meter_config(&sc, &rc.cfg) != BM_OK || bm_sim_init(rc.sim, &sc) != BM_OK) {
			fprintf(stderr, "branchmeter: cannot start the simulator\n");
			return 1;
		}
		rc.use_sim = true;
	} else if (strncmp(source, "comtrade:", 9) == 0) {
		rc.rd = calloc(1, sizeof *rc.rd);
		if (!rc.rd || bm_comtrade_open(rc.rd, source + 9, err, sizeof err) != BM_OK ||
		    bm_comtrade_map_build(&rc.rd->cfg, map_arg, &rc.map, err, sizeof err) != BM_OK) {
			fprintf(stderr, "branchmeter: %s\n", err);
			return 1;
		}
		if (rc.rd->cfg.n_rates > 1) {
			for (unsigned k = 1; k < rc.rd->cfg.n_rates; k++)
				if (rc.rd->cfg.rate[k].hz != rc.rd->cfg.rate[0].hz) {
					fprintf(stderr,
					        "branchmeter: %s: run plays recordings with one sampling rate; "
					        "use 'branchmeter analyze' for multi-rate recordings\n",
					        source + 9);
					return 1;
				}
		}
		if (bm_recording_config(&rc.cfg, rc.rd, &rc.map, rc.rd->rate_hz, 0, 1.0, 0.0, err, sizeof err) != BM_OK) {
			fprintf(stderr, "branchmeter: %s\n", err);
			return 1;
		}
	} else {
		fprintf(stderr, "branchmeter: unknown --source '%s' (sim, sim:FILE or comtrade:FILE)\n", source);
		return 2;
	}
	/* the RTC: the simulator's calendar, or the wall clock at start (plus
	 * an offset the clock registers set); local time from the process's
	 * time zone */
	rc.t0_unix = rc.use_sim ? (int64_t)floor(bm_sim_time(rc.sim)) : (int64_t)time(NULL);
	/* the model: what relays, inputs and expansion inputs there are */
	char defmodel[16];
	snprintf(defmodel, sizeof defmodel, "MPM4%u%u0-A", (unsigned)rc.cfg.n_circuits,
	         rc.cfg.circuit[0].sensor[0].type == BM_SENSOR_RCOIL ? 1u : 2u);
	const char *mwhy = NULL;
	if (bm_model_parse(model_arg ? model_arg : defmodel, &rc.sh.model, &mwhy) != BM_OK) {
		fprintf(stderr, "branchmeter: --model %s: %s (docs/models.md)\n", model_arg ? model_arg : defmodel, mwhy);
		return 2;
	}
	if (rc.sh.model.n_circuits != rc.cfg.n_circuits) {
		fprintf(stderr, "branchmeter: model %s has %u circuits, the source %u\n", rc.sh.model.code,
		        (unsigned)rc.sh.model.n_circuits, (unsigned)rc.cfg.n_circuits);
		return 2;
	}
	/* settings: the source's sensors and the documented defaults, unless
	 * the state directory holds settings saved for this source */
	bm_settings_default(&rc.sh.factory, &rc.cfg);
	rc.sh.factory.caps = rc.sh.model.caps;
	{ /* offset = the Unix time minus the same wall-clock reading taken as local */
		time_t tt = (time_t)rc.t0_unix;
		struct tm g;
		gmtime_r(&tt, &g);
		g.tm_isdst = -1;
		rc.sh.factory.metering.utc_offset_s = (int32_t)(tt - mktime(&g));
	}
	if (config_arg && bm_conf_apply_settings(&conf, &rc.sh.factory, err, sizeof err) != BM_OK) {
		fprintf(stderr, "branchmeter: %s\n", err);
		return 1;
	}
	rc.sh.set = rc.sh.factory;
	char sdir[1024] = "";
	if (!no_state) {
		const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
		if (state_dir)
			snprintf(sdir, sizeof sdir, "%s", state_dir);
		else if (xdg && *xdg)
			snprintf(sdir, sizeof sdir, "%s/branchmeter", xdg);
		else if (home && *home)
			snprintf(sdir, sizeof sdir, "%s/.local/state/branchmeter", home);
	}
	const char *set_why = "default settings";
	if (sdir[0]) {
		if (bm_state_open(&st, sdir, err, sizeof err) != BM_OK) {
			fprintf(stderr, "branchmeter: %s\n", err);
			return 1;
		}
		static bm_saved_settings saved;
		if (bm_state_load_settings(&st, &saved, &set_why) == BM_OK) {
			bm_cfg_issue is2;
			saved.set.caps = rc.sh.model.caps; /* the model given now rules */
			if (saved.set.meter.n_circuits != rc.cfg.n_circuits || saved.set.meter.sample_rate != rc.cfg.sample_rate)
				set_why = "saved settings are for another source (circuits or sample rate): defaults used";
			else if (bm_settings_validate(&saved.set, &is2) != BM_OK)
				set_why = "saved settings do not fit this model or are not valid: defaults used";
			else {
				rc.sh.set = saved.set;
				rc.sh.rtc_offset_s = saved.rtc_offset_s;
			}
		}
	}
	/* the file's settings win over saved ones at every start */
	if (config_arg && bm_conf_apply_settings(&conf, &rc.sh.set, err, sizeof err) != BM_OK) {
		fprintf(stderr, "branchmeter: %s\n", err);
		return 1;
	}
	rc.cfg = rc.sh.set.meter;
	rc.sh.src_unix = rc.t0_unix;
	rc.sh.rtc_unix = rc.t0_unix + rc.sh.rtc_offset_s;
	bm_cfg_issue is;
	if (bm_metering_init(&rc.sh.mt, &rc.sh.set.metering, rc.cfg.n_circuits, rc.sh.rtc_unix, &is) != BM_OK) {
		fprintf(stderr, "branchmeter: metering configuration rejected: %s: %s\n", is.field, is.reason);
		return 1;
	}
	/* persistent state: restore, then save as we go */
	bool restored = false;
	const char *why = "state not kept (--no-state)";
	if (sdir[0]) {
		bm_store_info info;
		restored = bm_state_load_metering(&st, &rc.sh.mt, &info, &why) == BM_OK;
		/* the settings rule over the configuration a restored state carries */
		if (restored && bm_metering_set_config(&rc.sh.mt, &rc.sh.set.metering, &is) != BM_OK)
			fprintf(stderr, "branchmeter: metering settings not applied: %s: %s\n", is.field, is.reason);
	} else {
		rc.save_every_s = 0;
	}
	rc.sh.status = restored ? 2u : 0u;
	rc.sh.st = sdir[0] ? &st : NULL;
	if (sdir[0] && bm_events_open(sdir, err, sizeof err) != BM_OK)
		fprintf(stderr, "branchmeter: %s: events are kept in memory only\n", err);
	bm_events_add(rc.sh.rtc_unix, BM_EV_POWER_ON, BM_EV_SRC_METER, -1, restored ? 1u : 0u, 0, 0);
	if (bm_meter_init(&meter, &rc.cfg, &is) != BM_OK) {
		fprintf(stderr, "branchmeter: configuration rejected: %s: %s (circuit %d, input %d)\n", is.field,
		        is.reason, is.circuit + 1, is.input + 1);
		return 1;
	}
	if (!bm_attach_harmonics(&meter, &pq, &fft, false))
		fprintf(stderr, "branchmeter: note: no harmonic analysis at %u S/s in this build\n", rc.cfg.sample_rate);
	bm_ident_fill(&rc.sh.ident, &rc.cfg);
	snprintf(rc.sh.ident.model, sizeof rc.sh.ident.model, "%s", rc.sh.model.code);
	if (bm_io_init(&rc.sh.io, &rc.sh.set.io, &rc.sh.set.caps, rc.cfg.n_circuits, &is) != BM_OK) {
		fprintf(stderr, "branchmeter: alarm settings rejected: %s: %s\n", is.field, is.reason);
		return 1;
	}
	for (unsigned c = 0; c < BM_MAX_CIRCUITS; c++)
		rc.sh.temp_c[c] = rc.sh.res_ma[c] = NAN;
	if (config_arg) { /* relays and inputs on GPIO lines */
		bool any = false;
		for (unsigned k = 0; k < BM_DO_MAX; k++)
			if (conf.dout[k].used) {
				any = true;
				if (k >= rc.sh.set.caps.n_do) {
					fprintf(stderr, "branchmeter: %s: [gpio] DO%u: model %s has %u relays\n", config_arg, k + 1,
					        rc.sh.model.code, (unsigned)rc.sh.set.caps.n_do);
					return 1;
				}
			}
		for (unsigned k = 0; k < BM_DI_MAX; k++)
			if (conf.din[k].used) {
				any = true;
				if (k >= rc.sh.set.caps.n_di) {
					fprintf(stderr, "branchmeter: %s: [gpio] DI%u: model %s has %u digital inputs\n", config_arg,
					        k + 1, rc.sh.model.code, (unsigned)rc.sh.set.caps.n_di);
					return 1;
				}
			}
		if (any && bm_gpio_open(&gpio, conf.dout, conf.din, "branchmeter", err, sizeof err) != BM_OK) {
			fprintf(stderr, "branchmeter: GPIO: %s\n", err);
			return 1;
		}
		rc.gpio_inputs = false;
		for (unsigned k = 0; k < BM_DI_MAX; k++)
			rc.gpio_inputs |= conf.din[k].used;
	}
	pthread_mutex_init(&rc.sh.lock, NULL);
	pthread_cond_init(&rc.sh.wake, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (!json) {
		char speed[32] = "max";
		if (rc.speed > 0)
			snprintf(speed, sizeof speed, "%gx real time", rc.speed);
		printf("branchmeter %s: %u circuits on %s, %u S/s, %u Hz nominal, speed %s\n", BM_VERSION,
		       rc.cfg.n_circuits, source, rc.cfg.sample_rate, rc.cfg.nominal_hz, speed);
		if (sdir[0])
			printf("  state: %s: %s\n", sdir, restored && strcmp(why, "loaded") == 0 ? "energies restored" : why);
		else
			printf("  state: %s\n", why);
		printf("  settings: %s%s%s\n", set_why, config_arg ? ", then " : "", config_arg ? config_arg : "");
		printf("  model: %s\n", bm_model_describe(&rc.sh.model, (char[160]){0}, 160));
		fflush(stdout);
	}
	struct bm_mbsrv *mbs = NULL;
	if (!bm_mb_start(&rc.sh, &mbo, json, &mbs))
		return 1;
	if (web_arg && strcmp(web_arg, "off") != 0) {
		static char accounts[1100];
		if (sdir[0])
			snprintf(accounts, sizeof accounts, "%s/web-accounts", sdir);
		else /* no state directory: accounts for this run only */
			snprintf(accounts, sizeof accounts, "%s/branchmeter-web-%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			         (long)getpid());
		bm_webapi_init(&rc.sh);
		bm_web_cfg wc = {0};
		wc.listen = web_arg;
		wc.assets = web_assets;
		wc.accounts_path = accounts;
		wc.admin_password = web_admin;
		wc.user_password = web_user;
		wc.session_idle_s = web_idle;
		static const bm_web_hooks wh = {bm_webapi_handle, bm_webapi_live, NULL};
		char generated[32] = "";
		if (bm_web_start(&web, &wc, &wh, generated, err, sizeof err) != BM_OK) {
			fprintf(stderr, "branchmeter: web: %s\n", err);
			bm_mb_stop(mbs);
			return 1;
		}
		if (!json) {
			const char *colon = strrchr(web_arg, ':');
			int hl = colon ? (int)(colon - web_arg) : 0;
			printf("  web: http://%.*s:%d/  (page and JSON API, docs/api.md)\n", hl ? hl : 7,
			       hl ? web_arg : "0.0.0.0", bm_web_port(web));
		}
		if (generated[0])
			/* once, on the console only: only a salted hash is stored */
			fprintf(json ? stderr : stdout, "  web: admin password (shown once): %s\n", generated);
	}
	if (!json) {
		puts("  DL/T 645 and MQTT: not in this build yet (on the roadmap)");
		puts("  Ctrl-C stops.");
		fflush(stdout);
	}
	if (json) { /* a first line saying what was restored */
		printf("{\"restored\":%s,\"state\":", restored ? "true" : "false");
		bm_json_string(stdout, why);
		printf(",\"circuits\":[");
		for (unsigned c = 0; c < rc.cfg.n_circuits; c++)
			printf("%s{\"EP_imp_Wh\":%.6f,\"EP_exp_Wh\":%.6f}", c ? "," : "",
			       bm_metering_energy_wh(&rc.sh.mt, c, BM_MT_TOTAL, BM_MT_EP_IMP),
			       bm_metering_energy_wh(&rc.sh.mt, c, BM_MT_TOTAL, BM_MT_EP_EXP));
		puts("]}");
		fflush(stdout);
	}
	pthread_t th;
	if (pthread_create(&th, NULL, sample_thread, &rc) != 0) {
		fputs("branchmeter: cannot start the sample thread\n", stderr);
		return 1;
	}
	double next = mono() + interval;
	for (;;) {
		bool fin;
		pthread_mutex_lock(&rc.sh.lock);
		fin = rc.finished;
		pthread_mutex_unlock(&rc.sh.lock);
		if (fin || stop_flag)
			break;
		take_events(&rc);
		if (gpio)
			gpio_sync(&rc, gpio);
		save_if_due(&rc, &st, false);
		double wait = next - mono();
		if (wait > 0) {
			/* sleep until the next print, a due save, the end, or 50 ms
			 * (signals are polled through stop_flag) */
			if (wait > 0.05)
				wait = 0.05;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			long ns = ts.tv_nsec + (long)(wait * 1e9);
			ts.tv_sec += ns / 1000000000L;
			ts.tv_nsec = ns % 1000000000L;
			pthread_mutex_lock(&rc.sh.lock);
			if (!rc.sh.save_due && !rc.sh.set_dirty && !rc.finished)
				pthread_cond_timedwait(&rc.sh.wake, &rc.sh.lock, &ts);
			pthread_mutex_unlock(&rc.sh.lock);
			continue;
		}
		print_summary(&rc, json);
		next += interval;
	}
	stop_flag = 1;
	pthread_join(th, NULL);
	bm_mb_stop(mbs);
	bm_web_stop(web);
	bm_gpio_close(gpio); /* relays open when the meter stops */
	take_events(&rc);
	save_if_due(&rc, &st, true);
	bm_events_add(rc.sh.rtc_unix, BM_EV_POWER_OFF, BM_EV_SRC_METER, -1, 0, 0, 0);
	bm_events_close();
	bm_state_close(&st);
	print_summary(&rc, json);
	int ret = 0;
	if (rc.error[0] && !rc.use_sim) {
		fprintf(stderr, "branchmeter: %s\n", rc.error);
		ret = 1;
	}
	if (rc.rd) {
		bm_comtrade_close(rc.rd);
		free(rc.rd);
	}
	free(rc.sim);
	bm_fft_kiss_free(&fft);
	return ret;
}
