/*
 * snapshot.c — a server's own copy of the published state (the Modbus
 * server thread's, the web API's), and the register-map view of it.
 *
 * Invariant: the copy is taken under the shared lock and only when a new
 * window, new settings or a new clock were published (or `fresh` was
 * cleared after a change), so the sample thread waits at most for one
 * copy, and everything a request reads comes from one window.
 */
#include <string.h>

#include "run.h"

void bm_snapshot_refresh(bm_run_shared *sh, bm_snapshot *s, bm_rm_view *v)
{
	pthread_mutex_lock(&sh->lock);
	if (!s->fresh || sh->windows != s->windows || sh->set_gen != s->gen || sh->rtc_unix != s->rtc) {
		s->r = sh->snap;
		s->mt = sh->mt;
		s->set = sh->set;
		s->io = sh->io;
		memcpy(s->temp_c, sh->temp_c, sizeof s->temp_c);
		memcpy(s->res_ma, sh->res_ma, sizeof s->res_ma);
		s->windows = sh->windows;
		s->gen = sh->set_gen;
		s->rtc = sh->rtc_unix;
		s->status = sh->status;
		s->fresh = true;
	}
	pthread_mutex_unlock(&sh->lock);
	memset(v, 0, sizeof *v);
	v->r = s->windows ? &s->r : NULL;
	v->mt = &s->mt;
	v->set = &s->set;
	v->id = &sh->ident;
	v->io = &s->io;
	v->temp_c = s->temp_c;
	v->res_ma = s->res_ma;
	v->rtc_unix = s->rtc;
	v->windows = s->windows;
	v->status = s->status;
	v->ev_last = bm_events_last();
	v->ev_get = bm_events_get;
}
