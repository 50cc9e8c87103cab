/*
 * fuzz_scenario.c — libFuzzer target for the simulator's scenario parser
 * (bm_sim_load_string, platform/linux/scenario.c) and, for every input it
 * accepts, the generator that runs it.
 *
 * Invariants checked (abort on violation, so the fuzzer reports them):
 *  - the parser returns one of its documented codes, and its message is a
 *    NUL-terminated line inside the buffer;
 *  - on error the output scenario is untouched (nothing half-applied);
 *  - an accepted scenario validates, yields a meter configuration that
 *    bm_config_validate() accepts, initialises a generator, and produces
 *    finite samples and truth across a block boundary.
 * Seeds: tests/fuzz/corpus/fuzz_scenario/ (the example scenarios and one
 * file per key kind and error class).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MAX_INPUT (64 * 1024)
#define FRAMES 150 /* crosses a BM_SIM_BLOCK boundary twice */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[MAX_INPUT + 1];
	static bm_sim_scenario sc, before;
	static bm_sim sim;
	static float frames[FRAMES * BM_MAX_CH];
	char err[200];

	if (size > MAX_INPUT)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	memset(&sc, 0x5A, sizeof sc);
	memcpy(&before, &sc, sizeof sc);
	memset(err, 'x', sizeof err);
	bm_err e = bm_sim_load_string(text, "fuzz.ini", &sc, err, sizeof err);
	if (!memchr(err, '\0', sizeof err))
		abort();
	if (e != BM_OK) {
		if (e != BM_E_FORMAT && e != BM_E_INVAL && e != BM_E_NOSPACE)
			abort();
		if (memcmp(&sc, &before, sizeof sc) != 0)
			abort();
		return 0;
	}

	if (bm_sim_validate(&sc, NULL, 0) != BM_OK)
		abort();
	bm_meter_cfg cfg;
	if (bm_sim_meter_config(&sc, &cfg) != BM_OK || bm_config_validate(&cfg, NULL) != BM_OK)
		abort();
	if (bm_sim_init(&sim, &sc) != BM_OK)
		abort();
	size_t nch = bm_sim_channels(&sim);
	if (nch != bm_config_channels(&cfg) || nch > BM_MAX_CH)
		abort();
	/* two calls of odd sizes: the block logic across a boundary */
	if (bm_sim_generate(&sim, frames, nch, 37) != 37 ||
	    bm_sim_generate(&sim, frames + 37 * nch, nch, FRAMES - 37) != FRAMES - 37)
		abort();
	for (size_t i = 0; i < FRAMES * nch; i++)
		if (!isfinite(frames[i]))
			abort();
	bm_sim_truth t;
	bm_sim_truth_now(&sim, &t);
	if (!isfinite(t.frequency_hz) || !isfinite(t.unix_s))
		abort();
	for (unsigned c = 0; c < t.n_circuits; c++)
		if (!isfinite(t.c[c].p_total) || !isfinite(t.c[c].s_total) || !isfinite(t.c[c].i_rms[3]))
			abort();
	return 0;
}
