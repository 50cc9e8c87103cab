/*
 * fuzz_conffile.c — libFuzzer target for the configuration file of
 * `branchmeter run --config` (bm_conf_load_string, platform/linux/conffile.c)
 * and, for every input it accepts, bm_conf_apply_settings() on default
 * settings.
 *
 * Invariants checked (abort on violation, so the fuzzer reports them):
 *  - the parser returns one of its documented codes; its message is
 *    NUL-terminated inside the buffer; on error the output is untouched;
 *  - an accepted file has terminated strings, at most BM_CONF_MAX_SETTINGS
 *    settings with lines in order, and clients / idle / GPIO lines in range;
 *  - applying it returns BM_OK or BM_E_INVAL (a loaded file is never
 *    malformed at apply time), with a terminated message; a refusal leaves
 *    the settings untouched, an acceptance leaves them valid.
 * The meter it applies to alternates (by input length) between a 4-circuit
 * meter with every option and a 1-circuit meter with one relay, so the
 * "not on this model" paths are reached too.
 * Seeds: tests/fuzz/corpus/conffile/ (the documented example, one file per
 * section and per error class).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"

#define MAX_INPUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[MAX_INPUT + 1];
	static bm_conf conf, before;
	static bm_settings set, set0;
	char err[200];

	if (size > MAX_INPUT)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* an embedded NUL ends the text early, as a C string */

	memset(&conf, 0x5A, sizeof conf);
	memcpy(&before, &conf, sizeof conf);
	memset(err, 'x', sizeof err);
	bm_err e = bm_conf_load_string(text, "fuzz.ini", &conf, err, sizeof err);
	if (!terminated(err, sizeof err))
		abort();
	if (e != BM_OK) {
		if (e != BM_E_FORMAT && e != BM_E_INVAL && e != BM_E_NOSPACE)
			abort();
		if (memcmp(&conf, &before, sizeof conf) != 0 || err[0] == '\0')
			abort();
		return 0;
	}

	if (!terminated(conf.path, sizeof conf.path) || !terminated(conf.model, sizeof conf.model) ||
	    !terminated(conf.tcp, sizeof conf.tcp) || !terminated(conf.rtu, sizeof conf.rtu))
		abort();
	if (conf.n_settings > BM_CONF_MAX_SETTINGS || conf.clients > 1024 ||
	    (conf.idle_s != 0 && !(conf.idle_s >= 0.1 && conf.idle_s <= 86400)))
		abort();
	for (unsigned i = 0; i < conf.n_settings; i++) {
		const bm_conf_setting *s = &conf.settings[i];
		if (!terminated(s->name, sizeof s->name) || !terminated(s->value, sizeof s->value) || s->line < 1 ||
		    (i > 0 && s->line <= conf.settings[i - 1].line))
			abort();
	}
	for (unsigned k = 0; k < BM_DO_MAX + BM_DI_MAX; k++) {
		const bm_conf_gpio *g = k < BM_DO_MAX ? &conf.dout[k] : &conf.din[k - BM_DO_MAX];
		if (g->used && (!terminated(g->chip, sizeof g->chip) || g->chip[0] == '\0' || g->line > 65535))
			abort();
	}

	bm_settings_default(&set, NULL);
	if (size & 1) {
		set.caps.n_do = BM_DO_MAX;
		set.caps.n_di = BM_DI_MAX;
		set.caps.temperature = 0xF;
		set.caps.residual = 0xF;
	} else {
		set.meter.n_circuits = 1;
		set.caps.n_do = 1;
	}
	memcpy(&set0, &set, sizeof set);
	memset(err, 'x', sizeof err);
	e = bm_conf_apply_settings(&conf, &set, err, sizeof err);
	if (!terminated(err, sizeof err))
		abort();
	if (e == BM_OK) {
		if (bm_settings_validate(&set, NULL) != BM_OK)
			abort();
	} else {
		if ((e != BM_E_INVAL && e != BM_E_NOSPACE) || err[0] == '\0' || memcmp(&set, &set0, sizeof set) != 0)
			abort();
	}
	return 0;
}
