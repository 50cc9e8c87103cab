/*
 * webapi.c — the JSON API of the web page (docs/api.md): what the page shows
 * and changes, answered from the published state and the register map.
 *
 * Invariants:
 *  - Every value is read through the register map (bm_rm_read on a view of
 *    one published snapshot), so the page, Modbus and the documents agree on
 *    names, units and availability; what the model lacks is left out.
 *  - Every change is validated by the same code as a Modbus write or the
 *    configuration file (the register map, through bm_conf_apply_settings),
 *    then made by control.c: saved, applied, logged with source "web" and
 *    the account. A refused change answers 400 naming the field; nothing
 *    changes.
 *  - Requests come from the web server's worker threads: the snapshot copy
 *    and each answer are made under `ws.lock`, so answers are consistent and
 *    the sample thread waits at most for one copy.
 */
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bm/caltime.h"
#include "bm/pq.h"
#include "bm/quantity.h"
#include "cli.h"
#include "conffile.h"
#include "run.h"
#include "web.h"

static struct {
	pthread_mutex_t lock;
	bm_run_shared *sh;
	bm_snapshot s;
	bm_rm_view view;
	bm_rm_session ses; /* reads of access / unlock_left: never unlocked */
} ws = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define ACCOUNT_ADMIN 1.0

void bm_webapi_init(bm_run_shared *sh)
{
	ws.sh = sh;
	ws.s.fresh = false;
}

/* Under ws.lock: the published state, copied when it changed. */
static void refresh(void)
{
	bm_snapshot_refresh(ws.sh, &ws.s, &ws.view);
}

static void reply(bm_web_resp *resp, int status, cJSON *j)
{
	resp->status = status;
	resp->body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
}

static void fail(bm_web_resp *resp, int status, const char *msg, const char *field)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "error", msg);
	if (field)
		cJSON_AddStringToObject(j, "field", field);
	reply(resp, status, j);
}

static cJSON *num(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* One item's value as JSON, or NULL when the meter does not have it. */
static cJSON *item_json(const bm_rm_info *in)
{
	uint16_t regs[BM_RM_ITEM_MAX_REGS];
	if (bm_rm_read(&ws.view, &ws.ses, 0, -1, in->addr, in->regs, regs) != 0)
		return NULL;
	switch (in->type) {
	case BM_RT_F32: return num(bm_rm_get_f32(regs));
	case BM_RT_I16: return cJSON_CreateNumber((int16_t)regs[0]);
	case BM_RT_I32: return cJSON_CreateNumber((int32_t)(uint32_t)bm_rm_get_u64(regs, 2));
	case BM_RT_I64: return cJSON_CreateNumber((double)(int64_t)bm_rm_get_u64(regs, 4));
	case BM_RT_STR: {
		char s[2 * BM_RM_ITEM_MAX_REGS + 1];
		unsigned n = 0;
		for (unsigned i = 0; i < in->regs; i++) {
			s[n++] = (char)(regs[i] >> 8);
			s[n++] = (char)(regs[i] & 0xFF);
		}
		s[n] = '\0';
		return cJSON_CreateString(s);
	}
	case BM_RT_DATETIME: {
		char s[48];
		snprintf(s, sizeof s, "%04u-%02u-%02uT%02u:%02u:%02u", regs[0], regs[1], regs[2], regs[3], regs[4], regs[5]);
		return cJSON_CreateString(s);
	}
	default: return cJSON_CreateNumber((double)bm_rm_get_u64(regs, in->regs));
	}
}

/* The value of a query parameter (decoded), or NULL. */
static bool query_get(const char *q, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t o = 0;
			for (size_t i = kl + 1; i < len && o + 1 < cap; i++) {
				char c = p[i];
				if (c == '%' && i + 2 < len) {
					char hex[3] = {p[i + 1], p[i + 2], 0};
					c = (char)strtol(hex, NULL, 16);
					i += 2;
				} else if (c == '+') {
					c = ' ';
				}
				out[o++] = c;
			}
			out[o] = '\0';
			return true;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

static void get_values(const bm_web_req *req, bm_web_resp *resp)
{
	char names[4096];
	if (!query_get(req->query, "names", names, sizeof names) || !names[0]) {
		fail(resp, 400, "names: a comma-separated list of register names or patterns", "names");
		return;
	}
	cJSON *j = cJSON_CreateObject(), *vals = cJSON_AddObjectToObject(j, "values");
	unsigned matched = 0;
	for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bm_rm_iter it;
		bm_rm_info in;
		bool any = false;
		bm_rm_iter_init(&it, ws.s.set.meter.n_circuits);
		while (bm_rm_next(&it, &in)) {
			if (strcmp(in.name, tok) != 0 && fnmatch(tok, in.name, 0) != 0)
				continue;
			any = true;
			cJSON *v = item_json(&in);
			if (v && !cJSON_GetObjectItemCaseSensitive(vals, in.name))
				cJSON_AddItemToObject(vals, in.name, v);
			else
				cJSON_Delete(v);
		}
		if (!any) {
			cJSON_Delete(j);
			fail(resp, 400, "no register of that name", tok);
			return;
		}
		matched++;
	}
	(void)matched;
	reply(resp, 200, j);
}

static void add_live(cJSON *j)
{
	cJSON_AddNumberToObject(j, "rtc", (double)ws.s.rtc);
	cJSON_AddNumberToObject(j, "windows", (double)ws.s.windows);
	cJSON_AddNumberToObject(j, "tariff", bm_metering_tariff(&ws.s.mt));
	cJSON *cs = cJSON_AddArrayToObject(j, "circuits");
	for (unsigned c = 0; ws.s.windows && c < ws.s.r.n_circuits; c++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "circuit", c + 1);
		cJSON_AddStringToObject(o, "wiring", bm_wiring_name(ws.s.set.meter.circuit[c].wiring));
		for (int q = 0; q < BM_Q_COUNT; q++)
			cJSON_AddItemToObject(o, bm_quantity_table[q].name, num(ws.s.r.v[c][q]));
		cJSON_AddItemToObject(o, "EP_imp_kWh", num(bm_metering_energy_wh(&ws.s.mt, c, BM_MT_TOTAL, BM_MT_EP_IMP) / 1e3));
		cJSON_AddItemToObject(o, "EP_exp_kWh", num(bm_metering_energy_wh(&ws.s.mt, c, BM_MT_TOTAL, BM_MT_EP_EXP) / 1e3));
		bm_mt_demand d;
		if (bm_metering_demand(&ws.s.mt, c, BM_MT_D_P, &d) == BM_OK) {
			cJSON_AddItemToObject(o, "DP", num(d.present));
			cJSON_AddItemToObject(o, "DP_max", num(d.max));
		}
		if (ws.s.set.caps.temperature >> c & 1u)
			cJSON_AddItemToObject(o, "temperature", num(ws.s.temp_c[c]));
		if (ws.s.set.caps.residual >> c & 1u)
			cJSON_AddItemToObject(o, "residual", num(ws.s.res_ma[c]));
		cJSON *al = cJSON_AddArrayToObject(o, "alarms");
		uint32_t st = bm_io_alarm_status(&ws.s.io, c);
		for (unsigned k = 0; k < BM_AL_TYPE_COUNT; k++)
			if (st >> k & 1u)
				cJSON_AddItemToArray(al, cJSON_CreateString(bm_al_table[k].name));
		cJSON_AddItemToArray(cs, o);
	}
	if (ws.s.set.caps.n_do)
		cJSON_AddNumberToObject(j, "relays", ws.s.io.do_state);
	if (ws.s.set.caps.n_di) {
		cJSON_AddNumberToObject(j, "inputs", ws.s.io.di_state);
		cJSON_AddNumberToObject(j, "input_alarms", bm_io_di_alarm_status(&ws.s.io));
	}
}

static void get_harmonics(const bm_web_req *req, bm_web_resp *resp)
{
	char cs[8];
	int c = query_get(req->query, "circuit", cs, sizeof cs) ? atoi(cs) : 1;
	if (c < 1 || c > ws.s.set.meter.n_circuits) {
		fail(resp, 400, "circuit: 1..the meter's circuits", "circuit");
		return;
	}
	static const char *const ch[BM_PQ_CHANNELS] = {"HU1", "HU2", "HU3", "HI1", "HI2", "HI3", "HIn"};
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "circuit", c);
	for (unsigned k = 0; k < BM_PQ_CHANNELS; k++) {
		cJSON *a = cJSON_AddArrayToObject(j, ch[k]);
		double f1 = ws.s.windows ? bm_pq_harmonic_rms(&ws.s.r, &ws.s.set.meter, (unsigned)c - 1, k, 1) : NAN;
		for (unsigned h = 1; h <= BM_H_MAX; h++) {
			double x = ws.s.windows ? bm_pq_harmonic_rms(&ws.s.r, &ws.s.set.meter, (unsigned)c - 1, k, h) : NAN;
			cJSON_AddItemToArray(a, num(f1 > 0 ? 100.0 * x / f1 : NAN));
		}
	}
	static const int extra[] = {BM_Q_THDU1, BM_Q_THDU2, BM_Q_THDU3, BM_Q_THDI1, BM_Q_THDI2, BM_Q_THDI3,
	                            BM_Q_K1,    BM_Q_K2,    BM_Q_K3};
	for (unsigned i = 0; i < sizeof extra / sizeof extra[0]; i++)
		cJSON_AddItemToObject(j, bm_quantity_table[extra[i]].name, num(ws.s.windows ? ws.s.r.v[c - 1][extra[i]] : NAN));
	reply(resp, 200, j);
}

static void get_events(const bm_web_req *req, bm_web_resp *resp)
{
	char b[16];
	uint32_t last = bm_events_last();
	uint32_t before = query_get(req->query, "before", b, sizeof b) ? (uint32_t)strtoul(b, NULL, 10) : last + 1;
	unsigned count = query_get(req->query, "count", b, sizeof b) ? (unsigned)strtoul(b, NULL, 10) : 50;
	if (count == 0 || count > 500)
		count = 50;
	cJSON *j = cJSON_CreateObject(), *a;
	cJSON_AddNumberToObject(j, "last", last);
	a = cJSON_AddArrayToObject(j, "events");
	for (uint32_t s = before > last + 1 ? last : before - 1; s >= 1 && count; s--) {
		bm_event e;
		if (bm_events_get(NULL, s, &e) != BM_OK)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "seq", e.seq);
		cJSON_AddNumberToObject(o, "time", (double)e.time);
		cJSON_AddStringToObject(o, "type", bm_ev_type_name(e.type));
		cJSON_AddStringToObject(o, "source", bm_ev_source_name(e.source));
		cJSON_AddNumberToObject(o, "circuit", e.circuit + 1);
		cJSON_AddNumberToObject(o, "code", e.code);
		cJSON_AddItemToObject(o, "value", num(e.value));
		cJSON_AddItemToObject(o, "value2", num(e.value2));
		if (e.source == BM_EV_SRC_WEB)
			cJSON_AddStringToObject(o, "account", e.value2 == ACCOUNT_ADMIN ? "admin" : "user");
		cJSON_AddItemToArray(a, o);
		count--;
	}
	reply(resp, 200, j);
}

static void get_registers(bm_web_resp *resp)
{
	static const char *const acc[] = {"R", "RW", "W"};
	cJSON *a = cJSON_CreateArray();
	bm_rm_iter it;
	bm_rm_info in;
	bm_rm_iter_init(&it, ws.s.set.meter.n_circuits);
	uint16_t regs[BM_RM_ITEM_MAX_REGS];
	while (bm_rm_next(&it, &in)) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", in.name);
		cJSON_AddNumberToObject(o, "address", in.addr);
		cJSON_AddNumberToObject(o, "count", in.regs);
		cJSON_AddStringToObject(o, "type", bm_rm_type_name(in.type));
		cJSON_AddStringToObject(o, "unit", in.unit);
		cJSON_AddStringToObject(o, "access", acc[in.access]);
		cJSON_AddStringToObject(o, "unlock", in.level & BM_RM_LEVEL_RESET ? "reset" : in.level ? "settings" : "");
		cJSON_AddStringToObject(o, "requires", in.requires);
		cJSON_AddBoolToObject(o, "present",
		                      in.access == BM_RA_W || bm_rm_read(&ws.view, &ws.ses, 0, -1, in.addr, in.regs, regs) == 0);
		cJSON_AddStringToObject(o, "description", in.desc);
		cJSON_AddItemToArray(a, o);
	}
	reply(resp, 200, a);
}

static void get_device(bm_web_resp *resp)
{
	const bm_rm_ident *id = &ws.sh->ident;
	char sum[160];
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "vendor", id->vendor);
	cJSON_AddStringToObject(j, "model", id->model);
	cJSON_AddStringToObject(j, "firmware", id->firmware);
	cJSON_AddStringToObject(j, "serial", id->serial);
	cJSON_AddStringToObject(j, "model_summary", bm_model_describe(&ws.sh->model, sum, sizeof sum));
	cJSON_AddNumberToObject(j, "circuits", ws.s.set.meter.n_circuits);
	cJSON_AddNumberToObject(j, "sample_rate", ws.s.set.meter.sample_rate);
	cJSON_AddNumberToObject(j, "rtc", (double)ws.s.rtc);
	bm_caltime t;
	bm_caltime_split(ws.s.rtc, ws.s.set.metering.utc_offset_s, &t);
	char dt[32];
	snprintf(dt, sizeof dt, "%04d-%02u-%02uT%02u:%02u:%02u", (int)t.year, t.month, t.day, t.hour, t.minute, t.second);
	cJSON_AddStringToObject(j, "datetime", dt);
	cJSON_AddNumberToObject(j, "uptime_s", bm_metering_run_time_s(&ws.s.mt));
	reply(resp, 200, j);
}

/* PATCH /api/settings: {"NAME": value, ...} through the configuration file's
 * validated path (the register map), all or nothing. */
static void patch_settings(const bm_web_req *req, bm_web_resp *resp)
{
	cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
	if (!body || !cJSON_IsObject(body)) {
		cJSON_Delete(body);
		fail(resp, 400, "the body must be a JSON object of setting names and values", NULL);
		return;
	}
	size_t cap = 64 + req->body_len * 2, len = 0;
	char *ini = malloc(cap);
	const char *keys[BM_CONF_MAX_SETTINGS];
	unsigned n = 0;
	len += (size_t)snprintf(ini, cap, "[settings]\n");
	for (cJSON *e = body->child; e; e = e->next) {
		char val[64];
		if (cJSON_IsNumber(e))
			snprintf(val, sizeof val, "%.17g", e->valuedouble);
		else if (cJSON_IsBool(e))
			snprintf(val, sizeof val, "%d", cJSON_IsTrue(e) ? 1 : 0);
		else {
			free(ini);
			fail(resp, 400, "a setting's value must be a number (or true/false)", e->string);
			cJSON_Delete(body);
			return;
		}
		if (n >= BM_CONF_MAX_SETTINGS || strpbrk(e->string, "=\n\r;#[]") || !e->string[0]) {
			free(ini);
			fail(resp, 400, n >= BM_CONF_MAX_SETTINGS ? "too many settings" : "not a setting name", e->string);
			cJSON_Delete(body);
			return;
		}
		keys[n++] = e->string;
		len += (size_t)snprintf(ini + len, cap - len, "%s = %s\n", e->string, val);
	}
	if (n == 0) {
		free(ini);
		cJSON_Delete(body);
		fail(resp, 400, "no settings given", NULL);
		return;
	}
	static bm_conf conf; /* under ws.lock */
	static bm_settings next;
	char err[512];
	bm_err e = bm_conf_load_string(ini, "web", &conf, err, sizeof err);
	free(ini);
	if (e == BM_OK) {
		next = ws.s.set;
		e = bm_conf_apply_settings(&conf, &next, err, sizeof err);
	}
	if (e != BM_OK) {
		/* "web:LINE: [settings] NAME = VALUE: REASON": line 2 is the first key */
		int line = 0;
		sscanf(err, "web:%d:", &line);
		const char *field = line >= 2 && (unsigned)(line - 2) < n ? keys[line - 2] : NULL;
		const char *why = strstr(err, "]");
		why = why ? strstr(why, ": ") : NULL;
		fail(resp, 400, why ? why + 2 : err, field);
		cJSON_Delete(body);
		return;
	}
	if (bm_ctl_commit(ws.sh, &next, BM_EV_SRC_WEB, 0, n, ACCOUNT_ADMIN) != BM_OK) {
		cJSON_Delete(body);
		fail(resp, 500, "the settings could not be saved", NULL);
		return;
	}
	ws.s.fresh = false;
	cJSON *j = cJSON_CreateObject(), *ch = cJSON_AddArrayToObject(j, "changed");
	for (unsigned i = 0; i < n; i++)
		cJSON_AddItemToArray(ch, cJSON_CreateString(keys[i]));
	reply(resp, 200, j);
	cJSON_Delete(body);
}

/* A body with exactly these fields, or a 400 naming the odd one out. */
static cJSON *parse_fields(const bm_web_req *req, bm_web_resp *resp, const char *const *allowed)
{
	cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
	if (!body || !cJSON_IsObject(body)) {
		cJSON_Delete(body);
		fail(resp, 400, "the body must be a JSON object", NULL);
		return NULL;
	}
	for (cJSON *e = body->child; e; e = e->next) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(*a, e->string) == 0;
		if (!ok) {
			fail(resp, 400, "unknown field", e->string);
			cJSON_Delete(body);
			return NULL;
		}
	}
	return body;
}

static void post_relay(const bm_web_req *req, bm_web_resp *resp)
{
	static const char *const f[] = {"relay", "close", NULL};
	cJSON *b = parse_fields(req, resp, f);
	if (!b)
		return;
	cJSON *r = cJSON_GetObjectItemCaseSensitive(b, "relay"), *c = cJSON_GetObjectItemCaseSensitive(b, "close");
	if (!cJSON_IsNumber(r) || r->valuedouble != (int)r->valuedouble || r->valueint < 1 ||
	    r->valueint > (int)ws.s.set.caps.n_do) {
		fail(resp, 400, "relay: 1..the model's relays", "relay");
	} else if (!cJSON_IsBool(c)) {
		fail(resp, 400, "close: true or false", "close");
	} else {
		bm_err e = bm_ctl_relay(ws.sh, (unsigned)r->valueint - 1, cJSON_IsTrue(c), BM_EV_SRC_WEB, ACCOUNT_ADMIN);
		ws.s.fresh = false;
		if (e == BM_E_STATE)
			fail(resp, 409, "the relay is in alarm mode (set its mode to manual)", "relay");
		else if (e != BM_OK)
			fail(resp, 400, bm_strerror(e), "relay");
		else
			reply(resp, 200, cJSON_CreateObject());
	}
	cJSON_Delete(b);
}

static void post_reset(const bm_web_req *req, bm_web_resp *resp)
{
	static const char *const f[] = {"what", "reset_password", NULL};
	static const char *const names[] = {NULL, "energy", "max_demand", "maxmin", "tariff_energy", "factory"};
	cJSON *b = parse_fields(req, resp, f);
	if (!b)
		return;
	cJSON *w = cJSON_GetObjectItemCaseSensitive(b, "what"), *pw = cJSON_GetObjectItemCaseSensitive(b, "reset_password");
	int what = 0;
	for (int k = 1; k < BM_RM_RESET_COUNT && cJSON_IsString(w); k++)
		if (strcmp(w->valuestring, names[k]) == 0)
			what = k;
	char want[8];
	snprintf(want, sizeof want, "%u", ws.s.set.reset_password);
	if (!what)
		fail(resp, 400, "what: energy, max_demand, maxmin, tariff_energy or factory", "what");
	else if (!cJSON_IsString(pw) || strcmp(pw->valuestring, want) != 0)
		fail(resp, 403, "wrong reset password", "reset_password");
	else if (bm_ctl_reset(ws.sh, (bm_rm_reset)what, BM_EV_SRC_WEB, ACCOUNT_ADMIN) != BM_OK)
		fail(resp, 500, "the reset could not be saved", NULL);
	else {
		ws.s.fresh = false;
		reply(resp, 200, cJSON_CreateObject());
	}
	cJSON_Delete(b);
}

static void post_clock(const bm_web_req *req, bm_web_resp *resp)
{
	static const char *const f[] = {"unix", "datetime", NULL};
	cJSON *b = parse_fields(req, resp, f);
	if (!b)
		return;
	cJSON *u = cJSON_GetObjectItemCaseSensitive(b, "unix"), *d = cJSON_GetObjectItemCaseSensitive(b, "datetime");
	int64_t t = 0;
	bool ok = false;
	if (cJSON_IsNumber(u) && !d) {
		t = (int64_t)u->valuedouble;
		ok = u->valuedouble == (double)t;
	} else if (cJSON_IsString(d) && !u) {
		int y, mo, da, h, mi, s;
		char tail;
		if (sscanf(d->valuestring, "%d-%d-%dT%d:%d:%d%c", &y, &mo, &da, &h, &mi, &s, &tail) == 6 && mo >= 1 &&
		    mo <= 12 && da >= 1 && da <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59) {
			bm_caltime ct = {y, (uint8_t)mo, (uint8_t)da, (uint8_t)h, (uint8_t)mi, (uint8_t)s, 0};
			ok = bm_caltime_join(&ct, ws.s.set.metering.utc_offset_s, &t) == BM_OK;
		}
	}
	if (!ok || t < 946684800 || t > 4102444799)
		fail(resp, 400, "unix (seconds) or datetime (YYYY-MM-DDTHH:MM:SS, local), 2000..2099", u ? "unix" : "datetime");
	else if (bm_ctl_clock(ws.sh, t, BM_EV_SRC_WEB, ACCOUNT_ADMIN) != BM_OK)
		fail(resp, 500, "the clock could not be saved", NULL);
	else {
		ws.s.fresh = false;
		reply(resp, 200, cJSON_CreateObject());
	}
	cJSON_Delete(b);
}

void bm_webapi_handle(void *user, const bm_web_req *req, bm_web_resp *resp)
{
	(void)user;
	pthread_mutex_lock(&ws.lock);
	refresh();
	const char *m = req->method, *p = req->path;
	bool get = strcmp(m, "GET") == 0;
	if (get && strcmp(p, "device") == 0)
		get_device(resp);
	else if (get && strcmp(p, "values") == 0)
		get_values(req, resp);
	else if (get && strcmp(p, "live") == 0) {
		cJSON *j = cJSON_CreateObject();
		add_live(j);
		reply(resp, 200, j);
	} else if (get && strcmp(p, "harmonics") == 0)
		get_harmonics(req, resp);
	else if (get && strcmp(p, "events") == 0)
		get_events(req, resp);
	else if (get && strcmp(p, "registers") == 0)
		get_registers(resp);
	else if (strcmp(m, "PATCH") == 0 && strcmp(p, "settings") == 0)
		patch_settings(req, resp);
	else if (strcmp(m, "POST") == 0 && strcmp(p, "relay") == 0)
		post_relay(req, resp);
	else if (strcmp(m, "POST") == 0 && strcmp(p, "reset") == 0)
		post_reset(req, resp);
	else if (strcmp(m, "POST") == 0 && strcmp(p, "clock") == 0)
		post_clock(req, resp);
	else
		fail(resp, 404, "no such API endpoint (docs/api.md)", NULL);
	pthread_mutex_unlock(&ws.lock);
}

char *bm_webapi_live(void *user)
{
	(void)user;
	pthread_mutex_lock(&ws.lock);
	refresh();
	cJSON *j = cJSON_CreateObject();
	add_live(j);
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	pthread_mutex_unlock(&ws.lock);
	return s;
}
