/*
 * fuzz_store.c — libFuzzer target for the record store (core/src/store.c):
 * the input is the raw NVM image an in-memory backend serves.
 *
 * Invariants checked (abort on violation, so the fuzzer reports them):
 *  - no op ever reaches outside the image (the backend aborts), and load
 *    never writes the caller's buffer past the payload it reports;
 *  - for every record type, load returns BM_OK / BM_E_UNSUPPORTED only for a
 *    copy that an independent check here (layout of bm/store.h, bit-by-bit
 *    CRC-32) finds valid, whose bytes are the ones returned, and that is not
 *    older than the other slot's valid copy; BM_E_NOTFOUND only when neither
 *    slot is valid; BM_E_IO only when a read fault was injected;
 *  - after any image, a save of a known payload lands, loads back exactly,
 *    and changes no byte outside that type's two slots.
 * Input: bytes 0..479 are the image (shorter input is padded with 0x00);
 * byte 480, when present and nonzero, makes the n-th NVM read fail.
 * Seeds: tests/fuzz/corpus/fuzz_store/, written by
 * `test_store --write-corpus DIR` (same table as tests/unit/test_store.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bm/store.h"

#define IMG 480u

/* Same table as test_store.c: slots 64, 128 and 48 bytes, 480 in all. */
static const bm_store_rec table[] = { { 1, 40 }, { 7, 100 }, { 300, 13 } };
#define NTYPES (sizeof table / sizeof table[0])

static uint8_t img[IMG];
static unsigned fail_read; /* > 0: that read (counting down) fails */

static bm_err mem_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
	(void)ctx;
	if (len == 0 || addr > IMG || len > IMG - addr)
		abort();
	if (fail_read > 0 && --fail_read == 0)
		return BM_E_IO;
	memcpy(buf, img + addr, len);
	return BM_OK;
}

static bm_err mem_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
	(void)ctx;
	if (len == 0 || addr > IMG || len > IMG - addr)
		abort();
	memcpy(img + addr, buf, len);
	return BM_OK;
}

static bm_err mem_sync(void *ctx)
{
	(void)ctx;
	return BM_OK;
}

static const bm_nvm ops = { mem_read, mem_write, mem_sync, NULL, IMG };

static uint32_t ref_crc32(const uint8_t *p, size_t n, uint32_t c)
{
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
	}
	return c;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t slot_size(size_t t)
{
	return (20u + table[t].max_len + 15u) & ~15u;
}

static uint32_t slot_at(size_t t, int slot)
{
	uint32_t a = 0;
	for (size_t i = 0; i < t; i++)
		a += 2 * slot_size(i);
	return a + (slot ? slot_size(t) : 0u);
}

/* Independent validity check of one slot; fills *seq, *len, *pver. */
static int ref_valid(size_t t, int slot, uint32_t *seq, uint16_t *len, uint16_t *pver)
{
	const uint8_t *r = img + slot_at(t, slot);
	uint16_t n = (uint16_t)(r[8] | r[9] << 8);
	if (memcmp(r, "BMRS", 4) != 0 || r[4] != 1 || (uint16_t)(r[6] | r[7] << 8) != table[t].id ||
	    n > table[t].max_len)
		return 0;
	uint32_t c = ref_crc32(r, 16, 0xFFFFFFFFu);
	c = ~ref_crc32(r + 20, n, c);
	if (c != rd32(r + 16))
		return 0;
	*seq = rd32(r + 12);
	*len = n;
	*pver = (uint16_t)(r[10] | r[11] << 8);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bm_store s;
	uint8_t buf[256 + 16];
	unsigned inject = size > IMG ? data[IMG] : 0;

	memset(img, 0, sizeof img);
	memcpy(img, data, size < IMG ? size : IMG);
	if (bm_store_init(&s, &ops, table, NTYPES) != BM_OK)
		abort();

	for (size_t t = 0; t < NTYPES; t++) {
		size_t len = 12345;
		uint16_t v = 1;
		bm_store_info info;
		memset(buf, 0xA5, sizeof buf);
		fail_read = inject;
		bm_err e = bm_store_load(&s, table[t].id, buf, 256, &len, &v, &info);
		int injected = inject > 0 && fail_read == 0;
		fail_read = 0;

		uint32_t seq[2] = { 0, 0 };
		uint16_t rlen[2] = { 0, 0 }, rpv[2] = { 0, 0 };
		int ok[2];
		for (int k = 0; k < 2; k++)
			ok[k] = ref_valid(t, k, &seq[k], &rlen[k], &rpv[k]);

		if (e == BM_E_IO) {
			if (!injected)
				abort();
			continue;
		}
		if (e == BM_E_NOTFOUND) {
			if (ok[0] || ok[1] || info.slot != -1 || len != 0)
				abort();
			if (info.outcome != BM_STORE_NEVER_WRITTEN && info.outcome != BM_STORE_NO_VALID_COPY)
				abort();
			continue;
		}
		if (e != BM_OK && e != BM_E_UNSUPPORTED)
			abort();
		if (info.slot != 0 && info.slot != 1)
			abort();
		int k = info.slot;
		if (!ok[k] || len != rlen[k] || v != rpv[k] || info.seq != seq[k] ||
		    (e == BM_OK) != (rpv[k] == 1))
			abort();
		if (memcmp(buf, img + slot_at(t, k) + 20, len) != 0)
			abort();
		for (size_t i = len; i < sizeof buf; i++)
			if (buf[i] != 0xA5)
				abort();
		/* the other valid copy, if any, is not newer */
		if (ok[!k]) {
			uint32_t d = seq[!k] - seq[k];
			if (d != 0 && d < 0x80000000u)
				abort();
		}
		if (info.state[k] != BM_STORE_SLOT_VALID)
			abort();
		if ((info.outcome == BM_STORE_FELL_BACK) != (info.state[!k] == BM_STORE_SLOT_CORRUPT))
			abort();
	}

	/* Whatever the image, a save lands and reads back, and stays in its slots. */
	for (size_t t = 0; t < NTYPES; t++) {
		static uint8_t before[IMG];
		uint8_t p[100];
		size_t n = ((size > 0 ? data[size - 1] : 0u) + t * 7u) % (table[t].max_len + 1u);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(i * 31u + t);
		memcpy(before, img, sizeof img);
		if (bm_store_save(&s, table[t].id, p, n, 2) != BM_OK)
			abort();
		uint32_t a = slot_at(t, 0), z = a + 2 * slot_size(t);
		if (memcmp(img, before, a) != 0 || memcmp(img + z, before + z, IMG - z) != 0)
			abort();
		size_t len;
		uint16_t v = 2;
		bm_store_info info;
		if (bm_store_load(&s, table[t].id, buf, 256, &len, &v, &info) != BM_OK || len != n ||
		    memcmp(buf, p, n) != 0 || info.outcome == BM_STORE_NO_VALID_COPY)
			abort();
	}
	return 0;
}
