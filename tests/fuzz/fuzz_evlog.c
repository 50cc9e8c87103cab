/*
 * fuzz_evlog.c — libFuzzer target for the event ring's reader
 * (core/src/evlog.c): any NVM image (a damaged events.nvm, flash with
 * garbage) must open, and every number it reports must read as an event
 * of that number or as not found; appending then continues the numbering.
 *
 * Input: the NVM image (up to 64 slots are used as the ring).
 * Invariants (trap on violation): open never fails for a readable image;
 * get(seq) succeeds only with ev.seq == seq; held <= capacity; an append
 * after open gets last + 1 and reads back.
 * Seeds: tests/fuzz/corpus/evlog/ (a few valid rings).
 */
#include <stdint.h>
#include <string.h>

#include "bm/evlog.h"

static uint8_t mem[64 * BM_EV_SLOT];

static bm_err m_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
	(void)ctx;
	memcpy(buf, mem + addr, len);
	return BM_OK;
}

static bm_err m_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
	(void)ctx;
	memcpy(mem + addr, buf, len);
	return BM_OK;
}

static bm_err m_sync(void *ctx)
{
	(void)ctx;
	return BM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(mem, 0, sizeof mem);
	if (size > sizeof mem)
		size = sizeof mem;
	memcpy(mem, data, size);
	uint32_t cap = size >= BM_EV_SLOT ? (uint32_t)(size / BM_EV_SLOT) : 1u;
	bm_nvm nvm = {m_read, m_write, m_sync, NULL, (uint32_t)sizeof mem};
	bm_evlog log;
	if (bm_evlog_open(&log, &nvm, 0, cap) != BM_OK)
		__builtin_trap();
	if (log.held > log.capacity)
		__builtin_trap();
	for (uint32_t s = log.last > cap ? log.last - cap + 1 : 1; log.last && s <= log.last; s++) {
		bm_event ev;
		bm_err e = bm_evlog_get(&log, s, &ev);
		if (e == BM_OK && ev.seq != s)
			__builtin_trap();
		if (e != BM_OK && e != BM_E_NOTFOUND)
			__builtin_trap();
	}
	if (log.last < UINT32_MAX) {
		bm_event ev = {0, 1767225600, BM_EV_CONFIG, 1, -1, 1011, 2.0f, 0.0f}, got;
		uint32_t want = log.last + 1;
		if (bm_evlog_append(&log, &ev) != BM_OK || ev.seq != want)
			__builtin_trap();
		if (bm_evlog_get(&log, want, &got) != BM_OK || got.code != 1011)
			__builtin_trap();
	}
	return 0;
}
