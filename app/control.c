/*
 * control.c — the meter's changes, whichever interface asks for them
 * (Modbus, the web API, later the front panel and MQTT): settings, resets,
 * the clock, manual relay commands.
 *
 * Invariants: each change is saved before it takes effect, so what an
 * interface acknowledged survives a power cut; it is applied under the
 * shared lock (the sample thread picks up what is left between its chunks);
 * and it is written to the event log with the interface (and the web
 * account, in value2) that made it. Callers validate settings first
 * (bm_rm_write, bm_conf_apply_settings): nothing here accepts a value the
 * validator has not seen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "state.h"

/* Saves settings and clock offset; false when the state cannot be written. */
static bool persist(bm_run_shared *sh, const bm_settings *set, int64_t rtc_offset_s)
{
	bm_state *st = sh->st;
	if (!st || !st->open)
		return true;
	bm_saved_settings *ss = malloc(sizeof *ss);
	if (!ss)
		return false;
	ss->set = *set;
	ss->rtc_offset_s = rtc_offset_s;
	bool ok = bm_state_save_settings(st, ss) == BM_OK;
	free(ss);
	if (!ok)
		fprintf(stderr, "branchmeter: saving the settings failed: %s\n", bm_nvm_file_error(&st->file));
	return ok;
}

bm_err bm_ctl_commit(bm_run_shared *sh, const bm_settings *next, unsigned source, unsigned code, double value,
                     double account)
{
	pthread_mutex_lock(&sh->lock);
	int64_t off = sh->rtc_offset_s, now = sh->rtc_unix;
	pthread_mutex_unlock(&sh->lock);
	if (!persist(sh, next, off))
		return BM_E_IO;
	pthread_mutex_lock(&sh->lock);
	sh->set = *next;
	sh->set_gen++;
	/* alarms and relays take the new configuration now, so a relay command
	 * right after a mode change finds the new mode */
	bm_cfg_issue is;
	bm_io_set_config(&sh->io, &next->io, &is);
	pthread_mutex_unlock(&sh->lock);
	bm_events_add(now, BM_EV_CONFIG, source, -1, code, value, account);
	return BM_OK;
}

bm_err bm_ctl_reset(bm_run_shared *sh, bm_rm_reset what, unsigned source, double account)
{
	pthread_mutex_lock(&sh->lock);
	int64_t now = sh->rtc_unix;
	bm_settings *f = NULL;
	bool metering = true;
	switch (what) {
	case BM_RM_RESET_ENERGY: bm_metering_reset_energy(&sh->mt); break;
	case BM_RM_RESET_MAX_DEMAND: bm_metering_reset_max_demand(&sh->mt); break;
	case BM_RM_RESET_MAXMIN: bm_metering_reset_maxmin(&sh->mt); break;
	case BM_RM_RESET_TARIFF_ENERGY: bm_metering_reset_tariff_energy(&sh->mt); break;
	case BM_RM_RESET_FACTORY:
		metering = false;
		f = malloc(sizeof *f);
		if (f)
			*f = sh->factory;
		break;
	default: pthread_mutex_unlock(&sh->lock); return BM_E_INVAL;
	}
	bm_metering *copy = metering ? malloc(sizeof *copy) : NULL;
	if (copy)
		*copy = sh->mt;
	pthread_mutex_unlock(&sh->lock);
	bm_err e = BM_OK;
	if (what == BM_RM_RESET_FACTORY) {
		e = f ? bm_ctl_commit(sh, f, source, BM_RM_RESET_FACTORY, 0, account) : BM_E_NOSPACE;
		free(f);
	} else if (!copy) {
		e = BM_E_NOSPACE;
	} else if (sh->st && sh->st->open && bm_state_save_metering(sh->st, copy, true) != BM_OK) {
		/* saved whole at once, so a power cut cannot undo an acknowledged reset */
		fprintf(stderr, "branchmeter: saving the state after a reset failed: %s\n", bm_nvm_file_error(&sh->st->file));
		e = BM_E_IO;
	}
	free(copy);
	if (e == BM_OK)
		bm_events_add(now, BM_EV_RESET, source, -1, what, 0, account);
	return e;
}

bm_err bm_ctl_clock(bm_run_shared *sh, int64_t unix_s, unsigned source, double account)
{
	pthread_mutex_lock(&sh->lock);
	int64_t off = unix_s - sh->src_unix, was = sh->rtc_unix;
	bm_settings *set = malloc(sizeof *set);
	if (set)
		*set = sh->set;
	pthread_mutex_unlock(&sh->lock);
	bool ok = set && persist(sh, set, off);
	free(set);
	if (!ok)
		return BM_E_IO;
	pthread_mutex_lock(&sh->lock);
	sh->rtc_offset_s = off;
	sh->rtc_unix = unix_s; /* readers see the new clock now, not at the next window */
	pthread_mutex_unlock(&sh->lock);
	bm_events_add(unix_s, BM_EV_CLOCK, source, -1, 0, (double)(unix_s - was), account);
	return BM_OK;
}

bm_err bm_ctl_relay(bm_run_shared *sh, unsigned r, bool close, unsigned source, double account)
{
	(void)source;
	(void)account; /* the relay event itself comes from bm_io, through the event queue */
	pthread_mutex_lock(&sh->lock);
	/* at the time of the last window (the sample clock is the sample thread's) */
	bm_err e = bm_io_command(&sh->io, r, close, sh->io.t_s, sh->rtc_unix * 1000);
	pthread_mutex_unlock(&sh->lock);
	return e;
}
