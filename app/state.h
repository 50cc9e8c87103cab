/*
 * state.h — the meter's persistent state on Linux: one NVM file in the state
 * directory holding the records of the core's record store (bm/store.h).
 *
 * Records today: the settings (saved when they change), the metering counters (every energy register in whole mWh,
 * run and load time: ~2.7 kB, saved often) and the whole metering state
 * (demand, max/min, monthly freezes too: ~25 kB, saved rarely). The counters
 * are saved whenever the whole state is, so they are never older than it:
 * a restore takes the whole state, then the counters over it. A record of
 * another version or size is not restored (and the meter says so).
 */
#ifndef BM_APP_STATE_H
#define BM_APP_STATE_H

#include <pthread.h>
#include <stdbool.h>

#include "bm/metering.h"
#include "bm/settings.h"
#include "bm/store.h"
#include "nvm_file.h"

#define BM_STATE_METERING_V 1u
#define BM_STATE_COUNTERS_V 1u
#define BM_STATE_SETTINGS_V 1u

typedef struct bm_state {
	bm_nvm_file file;
	bm_nvm nvm;
	bm_store store;
	bool open;
	pthread_mutex_t lock; /* the store is used from the main and the server thread */
} bm_state;

/* Creates the directory (and its parents) if needed and opens its NVM file.
 * BM_OK or an error with a message naming the path. */
bm_err bm_state_open(bm_state *st, const char *dir, char *err, size_t errlen);
void bm_state_close(bm_state *st);

/* Restores the metering state if a compatible copy exists: BM_OK (restored,
 * *info says whether it fell back to the older copy), BM_E_NOTFOUND (nothing
 * usable: start from zero; *why says why). */
bm_err bm_state_load_metering(bm_state *st, bm_metering *mt, bm_store_info *info, const char **why);
/* whole: also the full state (else the counters alone). */
bm_err bm_state_save_metering(bm_state *st, const bm_metering *mt, bool whole);

/* The settings (configuration, passwords) and the clock's offset from the
 * source's time: BM_OK, or BM_E_NOTFOUND (none saved, or another version or
 * size: *why says which). */
typedef struct bm_saved_settings {
	bm_settings set;
	int64_t rtc_offset_s; /* RTC = source time + this (set over Modbus) */
} bm_saved_settings;
bm_err bm_state_load_settings(bm_state *st, bm_saved_settings *out, const char **why);
bm_err bm_state_save_settings(bm_state *st, const bm_saved_settings *in);

#endif
