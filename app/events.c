/*
 * events.c — the meter's event log on Linux: the core's ring (bm/evlog.h)
 * in its own NVM file, events.nvm in the state directory, and
 * `branchmeter events`, which prints it (docs/events.md).
 *
 * Invariants: one log per process, guarded by a mutex (the main thread and
 * the Modbus thread both add events; the Modbus thread reads them for the
 * registers). The sample thread never touches it: an append syncs the file.
 * Without a state directory events are counted in memory only (the last
 * BM_EVENTS_RAM, so the registers still show them).
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/evlog.h"
#include "cli.h"
#include "nvm_file.h"
#include "run.h"

#define EV_CAPACITY 1024u
#define BM_EVENTS_RAM 64u

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static bm_nvm_file ev_file;
static bm_nvm ev_nvm;
static bm_evlog ev_log;
static bool ev_open;
static bm_event ram[BM_EVENTS_RAM]; /* without a state directory */
static uint32_t ram_last;

bm_err bm_events_open(const char *dir, char *err, size_t errlen)
{
	pthread_mutex_lock(&ev_lock);
	bm_err e = bm_nvm_file_open(&ev_file, &ev_nvm, dir, "events.nvm", EV_CAPACITY * BM_EV_SLOT, err, errlen);
	if (e == BM_OK && (e = bm_evlog_open(&ev_log, &ev_nvm, 0, EV_CAPACITY)) != BM_OK) {
		snprintf(err, errlen, "%s/events.nvm: cannot read the event log (%s)", dir, bm_strerror(e));
		bm_nvm_file_close(&ev_file);
	}
	ev_open = e == BM_OK;
	pthread_mutex_unlock(&ev_lock);
	return e;
}

void bm_events_close(void)
{
	pthread_mutex_lock(&ev_lock);
	if (ev_open)
		bm_nvm_file_close(&ev_file);
	ev_open = false;
	pthread_mutex_unlock(&ev_lock);
}

void bm_events_add(int64_t time, unsigned type, unsigned source, int circuit, unsigned code, double value,
                   double value2)
{
	bm_event ev = {0, time, (uint16_t)type, (uint8_t)source, (int8_t)circuit, (uint16_t)code, (float)value,
	               (float)value2};
	pthread_mutex_lock(&ev_lock);
	if (ev_open) {
		if (bm_evlog_append(&ev_log, &ev) != BM_OK)
			fprintf(stderr, "branchmeter: writing the event log failed: %s\n", bm_nvm_file_error(&ev_file));
	} else {
		ev.seq = ++ram_last;
		ram[(ev.seq - 1) % BM_EVENTS_RAM] = ev;
	}
	pthread_mutex_unlock(&ev_lock);
}

uint32_t bm_events_last(void)
{
	pthread_mutex_lock(&ev_lock);
	uint32_t n = ev_open ? ev_log.last : ram_last;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

bm_err bm_events_get(void *ctx, uint32_t seq, bm_event *out)
{
	(void)ctx;
	bm_err e = BM_E_NOTFOUND;
	pthread_mutex_lock(&ev_lock);
	if (ev_open) {
		e = bm_evlog_get(&ev_log, seq, out);
	} else if (seq && seq <= ram_last && ram_last - seq < BM_EVENTS_RAM) {
		*out = ram[(seq - 1) % BM_EVENTS_RAM];
		e = BM_OK;
	}
	pthread_mutex_unlock(&ev_lock);
	return e;
}

/* One event as a line of text (docs/events.md says what code and value
 * mean for each type). */
static void print_event(FILE *f, const bm_event *ev, bool json)
{
	char when[32];
	time_t t = (time_t)ev->time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json) {
		fprintf(f, "{\"seq\":%u,\"time\":%lld,\"utc\":\"%s\",\"type\":\"%s\",\"source\":\"%s\",\"circuit\":%d,"
		           "\"code\":%u,\"value\":",
		        ev->seq, (long long)ev->time, when, bm_ev_type_name(ev->type), bm_ev_source_name(ev->source),
		        ev->circuit + 1, ev->code);
		bm_json_number(f, ev->value);
		fputs(",\"value2\":", f);
		bm_json_number(f, ev->value2);
		fputs("}\n", f);
		return;
	}
	char circ[8] = "-";
	if (ev->circuit >= 0)
		snprintf(circ, sizeof circ, "C%d", ev->circuit + 1);
	fprintf(f, "%6u  %s  %-9s  %-11s %-3s code %-6u value %.9g", ev->seq, when, bm_ev_type_name(ev->type),
	        bm_ev_source_name(ev->source), circ, ev->code, ev->value);
	if (ev->value2 != 0.0f)
		fprintf(f, " / %.9g", ev->value2);
	fputc('\n', f);
}

int bm_cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state-dir", required_argument, NULL, 'S'}, {"last", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},           {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	double last = 0;
	bool json = false;
	optind = 1;
	for (int ch; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (ch) {
		case 'S': dir = optarg; break;
		case 'n':
			if (!bm_arg_double("--last", optarg, 1, 1e9, &last))
				return 2;
			break;
		case 'j': json = true; break;
		case 'h':
			puts("usage: branchmeter events [--state-dir D] [--last N] [--json]\n"
			     "  Prints the meter's event log (oldest first) from its state directory (default as\n"
			     "  for 'branchmeter run'); works while the meter runs. Over Modbus the same log is\n"
			     "  in registers 1190..1519 (docs/events.md).");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc)
		return 2;
	char path[1024];
	if (!dir) {
		const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
		if (xdg && *xdg)
			snprintf(path, sizeof path, "%s/branchmeter", xdg);
		else
			snprintf(path, sizeof path, "%s/.local/state/branchmeter", home ? home : ".");
		dir = path;
	}
	char err[512];
	if (bm_events_open(dir, err, sizeof err) != BM_OK) {
		fprintf(stderr, "branchmeter: %s\n", err);
		return 1;
	}
	uint32_t n = bm_events_last();
	uint32_t from = n > EV_CAPACITY ? n - EV_CAPACITY + 1 : 1;
	if (last > 0 && n >= (uint32_t)last && n - (uint32_t)last + 1 > from)
		from = n - (uint32_t)last + 1;
	unsigned shown = 0;
	for (uint32_t s = from; n && s <= n; s++) {
		bm_event ev;
		if (bm_events_get(NULL, s, &ev) == BM_OK) {
			print_event(stdout, &ev, json);
			shown++;
		}
	}
	if (!json)
		printf("%u events shown, newest number %u (%s/events.nvm keeps the last %u)\n", shown, n, dir, EV_CAPACITY);
	bm_events_close();
	return 0;
}
