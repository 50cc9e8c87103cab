/*
 * fuzz_model.c — libFuzzer target for the model-code parser and its
 * summary (core/src/model.c): any text must be accepted or refused with a
 * reason, never read past its end, and an accepted code must describe a
 * model that can exist.
 *
 * Input: any bytes, cut to 64 and NUL-terminated (so codes too long for
 * the 39 characters are also tried; an embedded NUL ends the code early).
 * Invariants (trap on violation): BM_OK or BM_E_INVAL with a non-empty why
 * (BM_E_UNSUPPORTED only if the build holds fewer than 4 circuits); a
 * refused code leaves the output untouched; an accepted one has
 * n_circuits 1..4, n_do in {0, 1, 4}, n_di in {0, 4}, no circuit with both
 * temperature and residual current, no input bit beyond its circuits, a
 * known family, radio and sensor, and its normalised code parses to the
 * same model byte for byte. describe() into a small buffer stays inside it
 * and ends with a NUL.
 * Seeds: tests/fuzz/corpus/model/ (valid and nearly valid codes).
 */
#include <stdint.h>
#include <string.h>

#include "bm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char code[65];
	if (size > 64)
		size = 64;
	memcpy(code, data, size);
	code[size] = '\0';

	bm_model m, pattern;
	memset(&pattern, 0xC3, sizeof pattern);
	m = pattern;
	const char *why = NULL;
	bm_err e = bm_model_parse(code, &m, &why);
	if (e != BM_OK) {
		if (e != BM_E_INVAL && !(e == BM_E_UNSUPPORTED && BM_MAX_CIRCUITS < 4))
			__builtin_trap();
		if (!why || !why[0] || memcmp(&m, &pattern, sizeof m) != 0)
			__builtin_trap();
		return 0;
	}
	if (m.n_circuits < 1 || m.n_circuits > 4 || m.family >= BM_FAMILY_COUNT || m.radio >= BM_RADIO_COUNT ||
	    m.sensor >= BM_SENSOR_COUNT)
		__builtin_trap();
	if (m.caps.n_do != 0 && m.caps.n_do != 1 && m.caps.n_do != 4)
		__builtin_trap();
	if (m.caps.n_di != 0 && m.caps.n_di != 4)
		__builtin_trap();
	unsigned all = (1u << m.n_circuits) - 1u;
	if ((m.caps.temperature & m.caps.residual) || (m.caps.temperature & ~all) || (m.caps.residual & ~all))
		__builtin_trap();
	if (m.code[sizeof m.code - 1] != '\0' || strlen(m.code) != strlen(code))
		__builtin_trap();
	bm_model again;
	if (bm_model_parse(m.code, &again, NULL) != BM_OK || memcmp(&again, &m, sizeof m) != 0)
		__builtin_trap();

	char buf[24 + 8];
	memset(buf, '#', sizeof buf);
	bm_model_describe(&m, buf, 24);
	if (memchr(buf, '\0', 24) == NULL)
		__builtin_trap();
	for (size_t i = 24; i < sizeof buf; i++)
		if (buf[i] != '#')
			__builtin_trap();
	char full[200];
	bm_model_describe(&m, full, sizeof full);
	if (strncmp(full, buf, strlen(buf)) != 0 || strlen(full) + 1 >= sizeof full)
		__builtin_trap();
	return 0;
}
