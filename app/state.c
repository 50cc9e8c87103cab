/* state.c — the persistent state directory (see state.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "state.h"

enum { REC_METERING = 1, REC_COUNTERS = 2, REC_SETTINGS = 3 };
#define STATE_FILE_SIZE (256u * 1024u)

static const bm_store_rec table[] = {
	{REC_METERING, (uint16_t)sizeof(bm_metering)},
	{REC_COUNTERS, (uint16_t)sizeof(bm_mt_counters)},
	{REC_SETTINGS, (uint16_t)sizeof(bm_saved_settings)},
};
_Static_assert(sizeof(bm_metering) <= BM_STORE_MAX_PAYLOAD, "the metering state must fit one record");

/* mkdir -p */
static int make_dirs(const char *dir)
{
	char path[1024];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof path)
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(path, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

bm_err bm_state_open(bm_state *st, const char *dir, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	pthread_mutex_init(&st->lock, NULL);
	if (make_dirs(dir) != 0) {
		snprintf(err, errlen, "%s: cannot create the state directory: %s", dir, strerror(errno));
		return BM_E_IO;
	}
	/* a fixed-size file with room for the records to come; the layout
	 * check below says if it ever gets too small */
	uint32_t addr = 0, len = 0;
	bm_err e = bm_nvm_file_open(&st->file, &st->nvm, dir, "meter.nvm", STATE_FILE_SIZE, err, errlen);
	if (e)
		return e;
	e = bm_store_init(&st->store, &st->nvm, table, sizeof table / sizeof table[0]);
	if (e == BM_OK)
		e = bm_store_slot_addr(&st->store, REC_SETTINGS, 1, &addr, &len);
	if (e != BM_OK || addr + len > STATE_FILE_SIZE) {
		snprintf(err, errlen, "%s: the state layout does not fit (%s)", dir, bm_strerror(e));
		bm_nvm_file_close(&st->file);
		return e ? e : BM_E_NOSPACE;
	}
	st->open = true;
	return BM_OK;
}

void bm_state_close(bm_state *st)
{
	if (st->open)
		bm_nvm_file_close(&st->file);
	st->open = false;
}

bm_err bm_state_load_metering(bm_state *st, bm_metering *mt, bm_store_info *info, const char **why)
{
	static bm_metering tmp;
	static bm_mt_counters ctr;
	size_t len = 0;
	uint16_t ver = BM_STATE_METERING_V;
	bool whole = false;
	bm_err e = bm_store_load(&st->store, REC_METERING, &tmp, sizeof tmp, &len, &ver, info);
	if (e == BM_OK && len == sizeof tmp && tmp.n_circuits == mt->n_circuits) {
		*mt = tmp;
		whole = true;
	}
	bm_store_info ci;
	ver = BM_STATE_COUNTERS_V;
	e = bm_store_load(&st->store, REC_COUNTERS, &ctr, sizeof ctr, &len, &ver, &ci);
	if (e == BM_OK && len == sizeof ctr && bm_metering_put_counters(mt, &ctr) == BM_OK) {
		*info = ci;
		*why = ci.outcome == BM_STORE_FELL_BACK || info->outcome == BM_STORE_FELL_BACK
		           ? bm_store_outcome_str(BM_STORE_FELL_BACK)
		           : (whole ? "loaded" : "energies restored; demand and max/min start anew");
		return BM_OK;
	}
	if (whole) { /* counters lost: the whole state is still a valid (older) copy */
		*why = "energies restored from the last full save (the counter record was lost)";
		return BM_OK;
	}
	*why = ci.outcome == BM_STORE_NEVER_WRITTEN ? "no saved state" : "no valid copy of the saved state";
	return BM_E_NOTFOUND;
}

bm_err bm_state_save_metering(bm_state *st, const bm_metering *mt, bool whole)
{
	static bm_mt_counters ctr;
	bm_err e = BM_OK;
	pthread_mutex_lock(&st->lock);
	if (whole)
		e = bm_store_save(&st->store, REC_METERING, mt, sizeof *mt, BM_STATE_METERING_V);
	if (e == BM_OK) {
		bm_metering_get_counters(mt, &ctr);
		e = bm_store_save(&st->store, REC_COUNTERS, &ctr, sizeof ctr, BM_STATE_COUNTERS_V);
	}
	pthread_mutex_unlock(&st->lock);
	return e;
}

bm_err bm_state_load_settings(bm_state *st, bm_saved_settings *out, const char **why)
{
	static bm_saved_settings tmp;
	size_t len = 0;
	uint16_t ver = BM_STATE_SETTINGS_V;
	bm_store_info info;
	bm_err e = bm_store_load(&st->store, REC_SETTINGS, &tmp, sizeof tmp, &len, &ver, &info);
	if (e != BM_OK || len != sizeof tmp) {
		*why = info.outcome == BM_STORE_NEVER_WRITTEN ? "no saved settings" : "no valid copy of the saved settings";
		return BM_E_NOTFOUND;
	}
	*out = tmp;
	*why = info.outcome == BM_STORE_FELL_BACK ? "settings restored from the older copy" : "settings restored";
	return BM_OK;
}

bm_err bm_state_save_settings(bm_state *st, const bm_saved_settings *in)
{
	pthread_mutex_lock(&st->lock);
	bm_err e = bm_store_save(&st->store, REC_SETTINGS, in, sizeof *in, BM_STATE_SETTINGS_V);
	pthread_mutex_unlock(&st->lock);
	return e;
}
