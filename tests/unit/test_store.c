/*
 * test_store.c — unit tests of the record store (core/src/store.c) and the
 * Linux file NVM (platform/linux/nvm_file.c).
 *
 * Purpose: prove that a power failure or an I/O error at ANY byte of a save
 * or an erase, or a flipped bit ANYWHERE in a copy, still loads the last good
 * copy (or the new one, once its write completed), and that the verdict
 * (bm_store_info) says what happened.
 *
 * Invariants:
 *  - The NVM here is an in-memory array with fault injection (mem_*): a byte
 *    budget after which power "fails" (the write in progress keeps its first
 *    bytes and, in garbage mode, gets the complement of the rest; every later
 *    op fails until mem_reboot()), a failing nth write / sync / read, and bit
 *    flips done directly on the array. Every op asserts it stays in range.
 *  - A "reboot" is a fresh bm_store on the same array, so nothing cached in
 *    the store can hide what is on the medium.
 *  - Expected images are built by this file's own encoder (craft()) and
 *    bit-by-bit CRC (ref_crc32()) from the layout documented in bm/store.h,
 *    not by calling the code under test.
 *  - `test_store --write-corpus DIR` writes the fuzz seeds (tests/fuzz/
 *    corpus/fuzz_store/) with the same table as tests/fuzz/fuzz_store.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bm/store.h"
#include "nvm_file.h"

/* ------------------------------------------------------ in-memory NVM */

#define MEM_SIZE 1024

typedef struct memnvm {
	uint8_t mem[MEM_SIZE];
	long budget;      /* bytes that still reach the medium; < 0: no power failure */
	bool garbage;     /* the torn write's remaining bytes become ~new */
	bool dead;        /* power failed: every op fails until mem_reboot() */
	int fail_write;   /* > 0: the fail_write-th next write fails, writing nothing */
	int fail_sync;    /* > 0: the fail_sync-th next sync fails */
	int fail_read;    /* > 0: the fail_read-th next read fails */
	unsigned writes, syncs, reads;
} memnvm;

static memnvm M;

static bm_err mem_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
	memnvm *m = ctx;
	assert_true(len > 0 && addr <= MEM_SIZE && len <= MEM_SIZE - addr);
	m->reads++;
	if (m->dead || (m->fail_read > 0 && --m->fail_read == 0))
		return BM_E_IO;
	memcpy(buf, m->mem + addr, len);
	return BM_OK;
}

static bm_err mem_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
	memnvm *m = ctx;
	const uint8_t *p = buf;
	assert_true(len > 0 && addr <= MEM_SIZE && len <= MEM_SIZE - addr);
	m->writes++;
	if (m->dead || (m->fail_write > 0 && --m->fail_write == 0))
		return BM_E_IO;
	if (m->budget >= 0 && (size_t)m->budget < len) {
		size_t k = (size_t)m->budget;
		memcpy(m->mem + addr, p, k);
		if (m->garbage)
			for (size_t i = k; i < len; i++)
				m->mem[addr + i] = (uint8_t)~p[i];
		m->budget = 0;
		m->dead = true;
		return BM_E_IO;
	}
	memcpy(m->mem + addr, p, len);
	if (m->budget >= 0)
		m->budget -= (long)len;
	return BM_OK;
}

static bm_err mem_sync(void *ctx)
{
	memnvm *m = ctx;
	m->syncs++;
	if (m->dead || (m->fail_sync > 0 && --m->fail_sync == 0))
		return BM_E_IO;
	return BM_OK;
}

static const bm_nvm mem_ops = { mem_read, mem_write, mem_sync, &M, MEM_SIZE };

static void mem_reset(uint8_t fill)
{
	memset(&M, 0, sizeof M);
	memset(M.mem, fill, sizeof M.mem);
	M.budget = -1;
}

/* Power comes back: faults off, medium as the failure left it. */
static void mem_reboot(void)
{
	M.budget = -1;
	M.dead = false;
	M.garbage = false;
	M.fail_write = M.fail_sync = M.fail_read = 0;
}

/* ---------------------------------------------------------- the table */

enum { T_CFG = 1, T_ENERGY = 7, T_FREEZE = 300 };
/* Slots: 20+40 -> 64, 20+100 -> 128, 20+13 -> 48 bytes; 480 in all.
 * tests/fuzz/fuzz_store.c uses the same table. */
static const bm_store_rec table[] = { { T_CFG, 40 }, { T_ENERGY, 100 }, { T_FREEZE, 13 } };
#define NTYPES (sizeof table / sizeof table[0])

static bm_store S;
static int cur_case = -1, cur_k = -1, cur_garbage = -1; /* shown when a check fails */

static void store_up(void)
{
	assert_int_equal(bm_store_init(&S, &mem_ops, table, NTYPES), BM_OK);
}

/* Test payloads: two seeds whose difference times 29 is not 0 or +-1 mod 256
 * (1, 2, 3, 4, 5...) differ at every byte (bits 1..7 differ). */
static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(((seed * 29u + i * 14u + 0x22u) & 0xFEu) | (seed & 1u));
}

/* ------------------------------------------- reference encoder and CRC */

static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
	}
	return ~c;
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Slot addresses as documented in store.h, computed here independently. */
static uint32_t doc_addr(uint16_t type, int slot)
{
	uint32_t a = 0;
	for (size_t i = 0; i < NTYPES; i++) {
		uint32_t sz = (20u + table[i].max_len + 15u) & ~15u;
		if (table[i].id == type)
			return a + (slot ? sz : 0u);
		a += 2 * sz;
	}
	fail_msg("unknown type %u", type);
	return 0;
}

/* Write a record into mem[] exactly as the documented layout says. */
static void craft(uint8_t *mem, uint16_t type, int slot, uint16_t pver, uint32_t seq,
		  const uint8_t *payload, uint16_t len)
{
	uint8_t rec[20 + 200];
	assert_true(len <= 200);
	memcpy(rec, "BMRS", 4);
	rec[4] = 1;
	rec[5] = 0;
	le16(rec + 6, type);
	le16(rec + 8, len);
	le16(rec + 10, pver);
	le32(rec + 12, seq);
	memcpy(rec + 20, payload, len);
	uint8_t crcbuf[16 + 200];
	memcpy(crcbuf, rec, 16);
	memcpy(crcbuf + 16, payload, len);
	le32(rec + 16, ref_crc32(crcbuf, 16u + len));
	memcpy(mem + doc_addr(type, slot), rec, 20u + len);
}

/* Load `type` on a freshly initialised store and check everything. */
static void expect_load(uint16_t type, const uint8_t *want, size_t wlen, uint16_t pver,
			int slot, uint32_t seq, bm_store_outcome outcome)
{
	bm_store fresh;
	uint8_t buf[256];
	size_t len = 9999;
	uint16_t v = pver;
	bm_store_info info;
	assert_int_equal(bm_store_init(&fresh, &mem_ops, table, NTYPES), BM_OK);
	memset(buf, 0xEE, sizeof buf);
	bm_err e = bm_store_load(&fresh, type, buf, sizeof buf, &len, &v, &info);
	if (e != BM_OK || info.slot != slot || info.outcome != outcome)
		print_message("load type %u: %d slot %d outcome %d (case %d k %d garbage %d)\n",
			      type, e, info.slot, info.outcome, cur_case, cur_k, cur_garbage);
	assert_int_equal(e, BM_OK);
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, wlen);
	assert_int_equal(buf[wlen], 0xEE); /* nothing written past the payload */
	assert_int_equal(v, pver);
	assert_int_equal(info.slot, slot);
	assert_int_equal(info.seq, seq);
	assert_int_equal(info.outcome, outcome);
	assert_int_equal(info.state[slot], BM_STORE_SLOT_VALID);
}

static void expect_notfound(uint16_t type, bm_store_outcome outcome)
{
	bm_store fresh;
	uint8_t buf[256];
	size_t len = 9999;
	uint16_t v = 1;
	bm_store_info info;
	assert_int_equal(bm_store_init(&fresh, &mem_ops, table, NTYPES), BM_OK);
	memset(buf, 0xEE, sizeof buf);
	assert_int_equal(bm_store_load(&fresh, type, buf, sizeof buf, &len, &v, &info),
			 BM_E_NOTFOUND);
	assert_int_equal(len, 0);
	assert_int_equal(info.slot, -1);
	assert_int_equal(info.outcome, outcome);
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xEE);
}

/* ---------------------------------------------------------------- tests */

static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(bm_store_crc32("123456789", 9), 0xCBF43926u);
	assert_int_equal(bm_store_crc32(NULL, 0), 0u);
	assert_int_equal(bm_store_crc32("a", 1), 0xE8B7BE43u);
	uint8_t buf[300];
	srand(7);
	for (int r = 0; r < 200; r++) {
		size_t n = (size_t)(rand() % (int)sizeof buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		assert_int_equal(bm_store_crc32(buf, n), ref_crc32(buf, n));
	}
}

static void test_init_and_layout(void **state)
{
	(void)state;
	bm_store s;
	mem_reset(0);
	assert_int_equal(bm_store_init(NULL, &mem_ops, table, NTYPES), BM_E_INVAL);
	assert_int_equal(bm_store_init(&s, NULL, table, NTYPES), BM_E_INVAL);
	assert_int_equal(bm_store_init(&s, &mem_ops, NULL, NTYPES), BM_E_INVAL);
	assert_int_equal(bm_store_init(&s, &mem_ops, table, 0), BM_E_INVAL);
	bm_store_rec big[BM_STORE_MAX_TYPES + 1];
	for (size_t i = 0; i < BM_STORE_MAX_TYPES + 1; i++)
		big[i] = (bm_store_rec){ (uint16_t)(i + 1), 1 };
	assert_int_equal(bm_store_init(&s, &mem_ops, big, BM_STORE_MAX_TYPES + 1), BM_E_INVAL);
	const bm_store_rec zero_id[] = { { 1, 4 }, { 0, 4 } };
	assert_int_equal(bm_store_init(&s, &mem_ops, zero_id, 2), BM_E_INVAL);
	const bm_store_rec dup[] = { { 5, 4 }, { 6, 4 }, { 5, 8 } };
	assert_int_equal(bm_store_init(&s, &mem_ops, dup, 3), BM_E_INVAL);
	const bm_store_rec empty[] = { { 5, 0 } };
	assert_int_equal(bm_store_init(&s, &mem_ops, empty, 1), BM_E_INVAL);
	const bm_store_rec huge[] = { { 5, 400 }, { 6, 200 } }; /* 2*432 + 2*224 > 1024 */
	assert_int_equal(bm_store_init(&s, &mem_ops, huge, 2), BM_E_NOSPACE);
	bm_nvm noop = mem_ops;
	noop.sync = NULL;
	assert_int_equal(bm_store_init(&s, &noop, table, NTYPES), BM_E_INVAL);

	assert_int_equal(bm_store_init(&s, &mem_ops, table, NTYPES), BM_OK);
	assert_int_equal(s.used, 480u);
	for (size_t i = 0; i < NTYPES; i++)
		for (int k = 0; k < 2; k++) {
			uint32_t a, sz;
			assert_int_equal(bm_store_slot_addr(&s, table[i].id, k, &a, &sz), BM_OK);
			assert_int_equal(a, doc_addr(table[i].id, k));
			assert_int_equal(sz, (20u + table[i].max_len + 15u) & ~15u);
		}
	uint32_t a, sz;
	assert_int_equal(bm_store_slot_addr(&s, 2, 0, &a, &sz), BM_E_INVAL);
	assert_int_equal(bm_store_slot_addr(&s, T_CFG, 2, &a, &sz), BM_E_INVAL);
	assert_int_equal(M.reads + M.writes + M.syncs, 0u); /* init does no I/O */
}

static void test_empty_store(void **state)
{
	(void)state;
	const uint8_t fills[] = { 0x00, 0xFF };
	for (size_t f = 0; f < 2; f++) {
		mem_reset(fills[f]);
		for (size_t i = 0; i < NTYPES; i++)
			expect_notfound(table[i].id, BM_STORE_NEVER_WRITTEN);
	}
	/* Garbage: no valid copy, and it says so differently. */
	mem_reset(0x5A);
	expect_notfound(T_ENERGY, BM_STORE_NO_VALID_COPY);
	assert_string_equal(bm_store_outcome_str(BM_STORE_NEVER_WRITTEN), "never written: defaults");
	assert_string_equal(bm_store_outcome_str(BM_STORE_NO_VALID_COPY), "no valid copy: defaults");
	assert_non_null(bm_store_outcome_str((bm_store_outcome)99));
}

static void test_alternation(void **state)
{
	(void)state;
	mem_reset(0);
	store_up();
	uint8_t p[100];
	for (unsigned n = 1; n <= 6; n++) {
		size_t len = 10 + n * 13;
		pattern(p, len, n);
		assert_int_equal(bm_store_save(&S, T_ENERGY, p, len, 2), BM_OK);
		int slot = (n - 1) % 2;
		expect_load(T_ENERGY, p, len, 2, slot, n, BM_STORE_LOADED);
		/* the store's image is exactly the documented one */
		uint8_t want[MEM_SIZE];
		memcpy(want, M.mem, sizeof want);
		craft(want, T_ENERGY, slot, 2, n, p, (uint16_t)len);
		assert_memory_equal(want, M.mem, sizeof want);
	}
	assert_int_equal(M.syncs, 6u);
	/* zero-length payloads are records too */
	assert_int_equal(bm_store_save(&S, T_CFG, NULL, 0, 9), BM_OK);
	expect_load(T_CFG, p, 0, 9, 0, 1, BM_STORE_LOADED);
}

static void test_sequence_wrap(void **state)
{
	(void)state;
	uint8_t p[40];
	mem_reset(0);
	pattern(p, 40, 1);
	craft(M.mem, T_CFG, 0, 1, UINT32_MAX - 1u, p, 40);
	expect_load(T_CFG, p, 40, 1, 0, UINT32_MAX - 1u, BM_STORE_LOADED);
	store_up();
	const uint32_t seqs[] = { UINT32_MAX, 0, 1, 2 };
	for (int n = 0; n < 4; n++) {
		pattern(p, 40, (unsigned)n + 2);
		assert_int_equal(bm_store_save(&S, T_CFG, p, 40, 1), BM_OK);
		expect_load(T_CFG, p, 40, 1, (n + 1) % 2, seqs[n], BM_STORE_LOADED);
	}
	/* Direct: 0xFFFFFFFF vs 0 and 0x7FFFFFFF vs 0x80000000, both orders. */
	const uint32_t pairs[][2] = { { UINT32_MAX, 0 }, { 0x7FFFFFFFu, 0x80000000u },
				      { 5, 6 }, { 0xFFFFFFF0u, 3 } };
	for (size_t i = 0; i < 4; i++)
		for (int newer = 0; newer < 2; newer++) {
			mem_reset(0);
			uint8_t a[40], b[40];
			pattern(a, 40, 10);
			pattern(b, 40, 11);
			uint32_t older = pairs[i][0], newest = pairs[i][1];
			craft(M.mem, T_CFG, newer, 1, newest, b, 40);
			craft(M.mem, T_CFG, !newer, 1, older, a, 40);
			expect_load(T_CFG, b, 40, 1, newer, newest, BM_STORE_LOADED);
		}
}

/* A (seq 1) = pattern 1, B (seq 2) = pattern 2, len each. */
static void two_copies(uint16_t type, size_t len, uint8_t *p1, uint8_t *p2)
{
	mem_reset(0);
	store_up();
	pattern(p1, len, 1);
	pattern(p2, len, 2);
	assert_int_equal(bm_store_save(&S, type, p1, len, 1), BM_OK);
	assert_int_equal(bm_store_save(&S, type, p2, len, 1), BM_OK);
}

static void check_outside(const uint8_t *before, uint32_t a, uint32_t sz)
{
	assert_memory_equal(M.mem, before, a);
	assert_memory_equal(M.mem + a + sz, before + a + sz, MEM_SIZE - a - sz);
}

static void check_outside_unchanged(const uint8_t *before, uint16_t type, int slot)
{
	uint32_t a = doc_addr(type, slot), sz = 0;
	for (size_t i = 0; i < NTYPES; i++)
		if (table[i].id == type)
			sz = (20u + table[i].max_len + 15u) & ~15u;
	assert_memory_equal(M.mem, before, a);
	assert_memory_equal(M.mem + a + sz, before + a + sz, MEM_SIZE - a - sz);
}

/* Power fails after k bytes of a save, for every k. */
static void test_torn_every_byte(void **state)
{
	(void)state;
	const struct { uint16_t type; size_t len; } cases[] = {
		{ T_ENERGY, 100 }, { T_ENERGY, 5 }, { T_CFG, 40 }, { T_FREEZE, 13 }, { T_FREEZE, 0 },
	};
	uint8_t p1[100], p2[100], p3[100], p4[100], snap[MEM_SIZE];
	unsigned checked = 0;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint16_t type = cases[c].type;
		size_t len = cases[c].len, total = 20 + len;
		two_copies(type, len, p1, p2);
		pattern(p3, len, 3); /* differs from p1 at every byte */
		pattern(p4, len, 5);
		memcpy(snap, M.mem, sizeof snap);
		for (int garbage = 0; garbage < 2; garbage++)
			for (size_t k = 0; k <= total; k++) {
				memcpy(M.mem, snap, sizeof snap);
				mem_reboot();
				cur_case = (int)c, cur_k = (int)k, cur_garbage = garbage;
				store_up(); /* cold: the save must find the newest itself */
				M.budget = (long)k;
				M.garbage = garbage;
				bm_err e = bm_store_save(&S, type, p3, len, 1);
				assert_int_equal(e, k < total ? BM_E_IO : BM_OK);
				mem_reboot();
				check_outside_unchanged(snap, type, 0);
				if (k == total) {
					expect_load(type, p3, len, 1, 0, 3, BM_STORE_LOADED);
				} else if (k == 0 && !garbage) {
					expect_load(type, p2, len, 1, 1, 2, BM_STORE_LOADED);
				} else if (len == 0 && !garbage && k <= 12) {
					/* only bytes 0..11, equal to the old header, landed */
					expect_load(type, p2, len, 1, 1, 2, BM_STORE_LOADED);
				} else {
					expect_load(type, p2, len, 1, 1, 2, BM_STORE_FELL_BACK);
				}
				/* Life goes on: the next save (same store, warm) works and a
				 * torn one after it keeps that. */
				assert_int_equal(bm_store_save(&S, type, p4, len, 1), BM_OK);
				int s4 = k == total ? 1 : 0;
				expect_load(type, p4, len, 1, s4, 3 + (k == total), BM_STORE_LOADED);
				M.budget = (long)(k / 2);
				M.garbage = true;
				assert_int_equal(bm_store_save(&S, type, p1, len, 1), BM_E_IO);
				mem_reboot();
				expect_load(type, p4, len, 1, s4, 3 + (k == total), BM_STORE_FELL_BACK);
				checked++;
			}
	}
	print_message("torn saves checked: %u\n", checked);
}

/* The very first save torn: nothing good existed, so defaults. */
static void test_torn_first_save(void **state)
{
	(void)state;
	uint8_t p[100];
	pattern(p, 100, 4);
	for (size_t k = 0; k <= 120; k++) {
		mem_reset(0xFF);
		store_up();
		M.budget = (long)k;
		bm_err e = bm_store_save(&S, T_ENERGY, p, 100, 1);
		mem_reboot();
		if (k == 120) {
			assert_int_equal(e, BM_OK);
			expect_load(T_ENERGY, p, 100, 1, 0, 1, BM_STORE_LOADED);
		} else {
			assert_int_equal(e, BM_E_IO);
			/* payload first: until a header byte lands the slot is blank */
			expect_notfound(T_ENERGY, k <= 100 ? BM_STORE_NEVER_WRITTEN
							   : BM_STORE_NO_VALID_COPY);
		}
	}
}

/* Every single-bit flip of either copy. */
static void test_bitflip_every_bit(void **state)
{
	(void)state;
	uint8_t p1[100], p2[100], snap[MEM_SIZE];
	unsigned checked = 0;
	const struct { uint16_t type; size_t len; } cases[] = {
		{ T_ENERGY, 100 }, { T_CFG, 17 }, { T_FREEZE, 0 }
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint16_t type = cases[c].type;
		size_t len = cases[c].len;
		two_copies(type, len, p1, p2);
		memcpy(snap, M.mem, sizeof snap);
		for (int slot = 0; slot < 2; slot++) {
			uint32_t a = doc_addr(type, slot), sz = doc_addr(type, 1) - doc_addr(type, 0);
			for (size_t bit = 0; bit < sz * 8; bit++) {
				memcpy(M.mem, snap, sizeof snap);
				M.mem[a + bit / 8] ^= (uint8_t)(1u << (bit % 8));
				if (bit / 8 >= 20 + len) { /* padding after the payload */
					expect_load(type, p2, len, 1, 1, 2, BM_STORE_LOADED);
				} else if (slot == 1) { /* newest damaged: the previous copy */
					expect_load(type, p1, len, 1, 0, 1, BM_STORE_FELL_BACK);
				} else { /* older damaged: still the newest, and it says so */
					expect_load(type, p2, len, 1, 1, 2, BM_STORE_FELL_BACK);
				}
				checked++;
			}
		}
		/* both copies damaged: defaults */
		memcpy(M.mem, snap, sizeof snap);
		M.mem[doc_addr(type, 0) + 19] ^= 0x10;
		M.mem[doc_addr(type, 1) + 7] ^= 0x01;
		expect_notfound(type, BM_STORE_NO_VALID_COPY);
	}
	print_message("bit flips checked: %u\n", checked);
}

static void test_write_errors(void **state)
{
	(void)state;
	uint8_t p1[100], p2[100], p3[100], p4[100], snap[MEM_SIZE];
	pattern(p3, 100, 3);
	pattern(p4, 100, 4);
	/* nth write call fails: 1 = payload, 2 = header; 3 = the sync fails */
	for (int which = 1; which <= 3; which++) {
		two_copies(T_ENERGY, 100, p1, p2);
		memcpy(snap, M.mem, sizeof snap);
		if (which < 3)
			M.fail_write = which;
		else
			M.fail_sync = 1;
		assert_int_equal(bm_store_save(&S, T_ENERGY, p3, 100, 1), BM_E_IO);
		/* the newest copy (B) is byte for byte intact */
		uint32_t b = doc_addr(T_ENERGY, 1);
		assert_memory_equal(M.mem + b, snap + b, 128);
		if (which == 1)
			expect_load(T_ENERGY, p2, 100, 1, 1, 2, BM_STORE_LOADED);
		else if (which == 2)
			expect_load(T_ENERGY, p2, 100, 1, 1, 2, BM_STORE_FELL_BACK);
		else /* writes landed, only durability is unknown: the new data */
			expect_load(T_ENERGY, p3, 100, 1, 0, 3, BM_STORE_LOADED);
		/* the same (warm) store writes slot A again, never over B */
		assert_int_equal(bm_store_save(&S, T_ENERGY, p4, 100, 1), BM_OK);
		assert_memory_equal(M.mem + b, snap + b, 128);
		expect_load(T_ENERGY, p4, 100, 1, 0, 3, BM_STORE_LOADED);
	}

	/* A read error while a cold store looks for the newest copy: no write. */
	two_copies(T_ENERGY, 100, p1, p2);
	store_up();
	unsigned writes = M.writes;
	M.fail_read = 2;
	assert_int_equal(bm_store_save(&S, T_ENERGY, p3, 100, 1), BM_E_IO);
	assert_int_equal(M.writes, writes);
	/* ... and while loading */
	for (int r = 1; r <= 8; r++) {
		bm_store fresh;
		uint8_t buf[100];
		size_t len;
		uint16_t v = 1;
		assert_int_equal(bm_store_init(&fresh, &mem_ops, table, NTYPES), BM_OK);
		mem_reboot();
		M.fail_read = r;
		bm_err e = bm_store_load(&fresh, T_ENERGY, buf, sizeof buf, &len, &v, NULL);
		/* per slot a header read and 2 payload chunks, then the final read */
		assert_int_equal(e, r <= 7 ? BM_E_IO : BM_OK);
	}
	mem_reboot();

	/* Erase with a failing write: error, and B (newest) is still there. */
	M.fail_write = 1;
	assert_int_equal(bm_store_erase(&S, T_ENERGY), BM_E_IO);
	expect_load(T_ENERGY, p2, 100, 1, 1, 2, BM_STORE_LOADED);
}

/* A read that returns different bytes the second time is not trusted. */
static bm_err flaky_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
	bm_err e = mem_read(ctx, addr, buf, len);
	if (e == BM_OK && len == 100) /* only the final whole-payload read */
		((uint8_t *)buf)[50] ^= 4;
	return e;
}

static void test_flaky_read(void **state)
{
	(void)state;
	uint8_t p1[100], p2[100], buf[100];
	two_copies(T_ENERGY, 100, p1, p2);
	bm_nvm ops = mem_ops;
	ops.read = flaky_read;
	bm_store s;
	size_t len;
	uint16_t v = 1;
	assert_int_equal(bm_store_init(&s, &ops, table, NTYPES), BM_OK);
	assert_int_equal(bm_store_load(&s, T_ENERGY, buf, sizeof buf, &len, &v, NULL), BM_E_IO);
}

static void test_payload_version(void **state)
{
	(void)state;
	uint8_t p[40], buf[40];
	mem_reset(0);
	store_up();
	pattern(p, 33, 6);
	assert_int_equal(bm_store_save(&S, T_CFG, p, 33, 3), BM_OK);
	expect_load(T_CFG, p, 33, 3, 0, 1, BM_STORE_LOADED);

	size_t len = 0;
	uint16_t v = 4; /* the firmware now expects version 4 */
	bm_store_info info;
	memset(buf, 0, sizeof buf);
	assert_int_equal(bm_store_load(&S, T_CFG, buf, sizeof buf, &len, &v, &info),
			 BM_E_UNSUPPORTED);
	assert_int_equal(v, 3);
	assert_int_equal(len, 33);
	assert_memory_equal(buf, p, 33); /* handed over for migration */
	assert_int_equal(info.outcome, BM_STORE_LOADED);
	assert_int_equal(info.state[0], BM_STORE_SLOT_VALID);

	/* The newest decides: v4 saved over v3 loads as v4. */
	assert_int_equal(bm_store_save(&S, T_CFG, p, 20, 4), BM_OK);
	v = 4;
	assert_int_equal(bm_store_load(&S, T_CFG, buf, sizeof buf, &len, &v, &info), BM_OK);
	assert_int_equal(len, 20);

	/* Too small a buffer: NOSPACE, *len says how much, buf untouched. */
	uint8_t small[8];
	memset(small, 0x77, sizeof small);
	v = 4;
	assert_int_equal(bm_store_load(&S, T_CFG, small, sizeof small, &len, &v, &info),
			 BM_E_NOSPACE);
	assert_int_equal(len, 20);
	for (size_t i = 0; i < sizeof small; i++)
		assert_int_equal(small[i], 0x77);
}

static void test_bad_args(void **state)
{
	(void)state;
	uint8_t p[200], buf[10];
	size_t len;
	uint16_t v = 1;
	mem_reset(0);
	store_up();
	pattern(p, sizeof p, 1);
	assert_int_equal(bm_store_save(&S, 2, p, 4, 1), BM_E_INVAL);
	assert_int_equal(bm_store_save(&S, T_CFG, p, 41, 1), BM_E_INVAL);
	assert_int_equal(bm_store_save(&S, T_CFG, NULL, 4, 1), BM_E_INVAL);
	assert_int_equal(bm_store_save(NULL, T_CFG, p, 4, 1), BM_E_INVAL);
	assert_int_equal(bm_store_load(&S, 2, buf, sizeof buf, &len, &v, NULL), BM_E_INVAL);
	assert_int_equal(bm_store_load(&S, T_CFG, NULL, 4, &len, &v, NULL), BM_E_INVAL);
	assert_int_equal(bm_store_load(&S, T_CFG, buf, sizeof buf, NULL, &v, NULL), BM_E_INVAL);
	assert_int_equal(bm_store_load(&S, T_CFG, buf, sizeof buf, &len, NULL, NULL), BM_E_INVAL);
	assert_int_equal(bm_store_erase(&S, 2), BM_E_INVAL);
	assert_int_equal(M.writes + M.reads, 0u);
}

static void test_erase(void **state)
{
	(void)state;
	uint8_t p1[100], p2[100], c[40], snap[MEM_SIZE];
	two_copies(T_ENERGY, 100, p1, p2);
	pattern(c, 40, 9);
	assert_int_equal(bm_store_save(&S, T_CFG, c, 40, 1), BM_OK);
	memcpy(snap, M.mem, sizeof snap);

	assert_int_equal(bm_store_erase(&S, T_ENERGY), BM_OK);
	expect_notfound(T_ENERGY, BM_STORE_NEVER_WRITTEN);
	expect_load(T_CFG, c, 40, 1, 0, 1, BM_STORE_LOADED);
	check_outside(snap, doc_addr(T_ENERGY, 0), 256);
	assert_int_equal(bm_store_save(&S, T_ENERGY, p1, 100, 1), BM_OK);
	expect_load(T_ENERGY, p1, 100, 1, 0, 1, BM_STORE_LOADED);
	assert_int_equal(bm_store_erase(&S, T_FREEZE), BM_OK); /* never written: fine */

	/* Torn erase at every byte: the newest copy or nothing, never the older. */
	const size_t slot = 128;
	for (size_t k = 0; k <= 2 * slot; k++) {
		memcpy(M.mem, snap, sizeof snap);
		mem_reboot();
		store_up();
		M.budget = (long)k;
		bm_err e = bm_store_erase(&S, T_ENERGY);
		assert_int_equal(e, k < 2 * slot ? BM_E_IO : BM_OK);
		mem_reboot();
		if (k <= slot) /* A (older) zeroed part-way: blank once its header is */
			expect_load(T_ENERGY, p2, 100, 1, 1, 2,
				    k > 0 && k < 20 ? BM_STORE_FELL_BACK : BM_STORE_LOADED);
		else if (k < 2 * slot)
			expect_notfound(T_ENERGY, k < slot + 20 ? BM_STORE_NO_VALID_COPY
							       : BM_STORE_NEVER_WRITTEN);
		else
			expect_notfound(T_ENERGY, BM_STORE_NEVER_WRITTEN);
		expect_load(T_CFG, c, 40, 1, 0, 1, BM_STORE_LOADED);
	}
}

static void test_types_independent(void **state)
{
	(void)state;
	uint8_t a[40], b[100], c[13], x[100], snap[MEM_SIZE];
	mem_reset(0);
	store_up();
	pattern(a, 40, 1);
	pattern(b, 100, 2);
	pattern(c, 13, 3);
	pattern(x, 100, 5);
	assert_int_equal(bm_store_save(&S, T_CFG, a, 40, 1), BM_OK);
	assert_int_equal(bm_store_save(&S, T_ENERGY, b, 100, 1), BM_OK);
	assert_int_equal(bm_store_save(&S, T_FREEZE, c, 13, 1), BM_OK);
	assert_int_equal(bm_store_save(&S, T_FREEZE, c, 13, 1), BM_OK);
	expect_load(T_CFG, a, 40, 1, 0, 1, BM_STORE_LOADED);
	expect_load(T_ENERGY, b, 100, 1, 0, 1, BM_STORE_LOADED);
	expect_load(T_FREEZE, c, 13, 1, 1, 2, BM_STORE_LOADED);
	memcpy(snap, M.mem, sizeof snap);

	/* torn saves of one type never touch another */
	for (size_t k = 0; k < 120; k += 7) {
		memcpy(M.mem, snap, sizeof snap);
		mem_reboot();
		store_up();
		M.budget = (long)k;
		assert_int_equal(bm_store_save(&S, T_ENERGY, x, 100, 1), BM_E_IO);
		mem_reboot();
		check_outside_unchanged(snap, T_ENERGY, 1);
		expect_load(T_CFG, a, 40, 1, 0, 1, BM_STORE_LOADED);
		expect_load(T_FREEZE, c, 13, 1, 1, 2, BM_STORE_LOADED);
	}

	/* a valid record of one type copied into another type's slot is refused */
	memcpy(M.mem, snap, sizeof snap);
	memcpy(M.mem + doc_addr(T_ENERGY, 1), M.mem + doc_addr(T_CFG, 0), 64);
	expect_load(T_ENERGY, b, 100, 1, 0, 1, BM_STORE_FELL_BACK);
	/* a length beyond the type's max is refused even with a good CRC */
	uint8_t big[60];
	pattern(big, sizeof big, 8);
	craft(M.mem, T_FREEZE, 0, 1, 7, big, 14);
	expect_load(T_FREEZE, c, 13, 1, 1, 2, BM_STORE_FELL_BACK);
	/* a wrong magic or header format version likewise, CRC made right */
	for (int field = 0; field < 2; field++) {
		memcpy(M.mem, snap, sizeof snap);
		craft(M.mem, T_FREEZE, 0, 1, 7, c, 13);
		uint8_t *r = M.mem + doc_addr(T_FREEZE, 0);
		r[field ? 4 : 3] = field ? 2 : 'X';
		uint8_t crcbuf[16 + 13];
		memcpy(crcbuf, r, 16);
		memcpy(crcbuf + 16, r + 20, 13);
		le32(r + 16, ref_crc32(crcbuf, sizeof crcbuf));
		expect_load(T_FREEZE, c, 13, 1, 1, 2, BM_STORE_FELL_BACK);
	}
	/* the crafted record itself is accepted (seq 7 beats 2) */
	memcpy(M.mem, snap, sizeof snap);
	craft(M.mem, T_FREEZE, 0, 1, 7, c, 13);
	expect_load(T_FREEZE, c, 13, 1, 0, 7, BM_STORE_LOADED);
}

/* ------------------------------------------------------- file backend */

#define FILE_SIZE 1024u

static char tmpdir[256];

static int file_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "%s/bm_store_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int file_teardown(void **state)
{
	(void)state;
	char cmd[300];
	chmod(tmpdir, 0700);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void file_open(bm_nvm_file *f, bm_nvm *nvm, bm_store *s)
{
	char err[300] = "";
	bm_err e = bm_nvm_file_open(f, nvm, tmpdir, "nvm.bin", FILE_SIZE, err, sizeof err);
	if (e != BM_OK)
		fail_msg("open: %s", err);
	assert_int_equal(nvm->size, FILE_SIZE);
	assert_int_equal(bm_store_init(s, nvm, table, NTYPES), BM_OK);
}

static bm_err file_load(bm_store *s, uint16_t type, uint8_t *buf, size_t *len,
			bm_store_info *info)
{
	uint16_t v = 1;
	return bm_store_load(s, type, buf, 256, len, &v, info);
}

static void test_file_roundtrip(void **state)
{
	(void)state;
	bm_nvm_file f;
	bm_nvm nvm;
	bm_store s;
	uint8_t a[40], b[100], buf[256];
	size_t len;
	bm_store_info info;
	pattern(a, 40, 1);
	pattern(b, 100, 2);

	file_open(&f, &nvm, &s);
	assert_true(f.created);
	assert_int_equal(file_load(&s, T_CFG, buf, &len, &info), BM_E_NOTFOUND);
	assert_int_equal(info.outcome, BM_STORE_NEVER_WRITTEN);
	assert_int_equal(bm_store_save(&s, T_CFG, a, 40, 1), BM_OK);
	assert_int_equal(bm_store_save(&s, T_ENERGY, b, 60, 1), BM_OK);
	assert_int_equal(bm_store_save(&s, T_ENERGY, b, 100, 1), BM_OK);
	bm_nvm_file_close(&f);
	bm_nvm_file_close(&f); /* twice is fine */

	char path[400];
	snprintf(path, sizeof path, "%s/nvm.bin", tmpdir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, FILE_SIZE);

	file_open(&f, &nvm, &s);
	assert_false(f.created);
	assert_false(f.grown);
	assert_int_equal(file_load(&s, T_CFG, buf, &len, &info), BM_OK);
	assert_int_equal(len, 40);
	assert_memory_equal(buf, a, 40);
	assert_int_equal(file_load(&s, T_ENERGY, buf, &len, &info), BM_OK);
	assert_int_equal(len, 100);
	assert_memory_equal(buf, b, 100);
	assert_int_equal(info.slot, 1);
	assert_int_equal(info.outcome, BM_STORE_LOADED);
	bm_nvm_file_close(&f);

	/* ops on a closed file fail with a message */
	assert_int_equal(nvm.read(nvm.ctx, 0, buf, 4), BM_E_IO);
	assert_non_null(strstr(bm_nvm_file_error(&f), "closed"));
	assert_int_equal(nvm.sync(nvm.ctx), BM_E_IO);
	unlink(path);
}

static void test_file_damaged(void **state)
{
	(void)state;
	bm_nvm_file f;
	bm_nvm nvm;
	bm_store s;
	uint8_t p1[100], p2[100], buf[256];
	size_t len;
	bm_store_info info;
	char path[400];
	snprintf(path, sizeof path, "%s/nvm.bin", tmpdir);
	pattern(p1, 100, 1);
	pattern(p2, 100, 2);

	/* ENERGY: A at 128 (p1, seq 1), B at 256 (p2, seq 2). */
	const struct { off_t cut; bm_err e; bm_store_outcome o; int slot; } cuts[] = {
		{ 256 + 20 + 3, BM_OK, BM_STORE_FELL_BACK, 0 }, /* B's payload cut short */
		{ 256 + 10, BM_OK, BM_STORE_FELL_BACK, 0 },     /* B's header cut short */
		{ 256, BM_OK, BM_STORE_LOADED, 0 },             /* B gone entirely: blank */
		{ 128 + 50, BM_E_NOTFOUND, BM_STORE_NO_VALID_COPY, -1 },
		{ 0, BM_E_NOTFOUND, BM_STORE_NEVER_WRITTEN, -1 },
	};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		unlink(path);
		file_open(&f, &nvm, &s);
		assert_int_equal(bm_store_save(&s, T_ENERGY, p1, 100, 1), BM_OK);
		assert_int_equal(bm_store_save(&s, T_ENERGY, p2, 100, 1), BM_OK);
		bm_nvm_file_close(&f);
		assert_int_equal(truncate(path, cuts[i].cut), 0);
		file_open(&f, &nvm, &s);
		assert_true(f.grown);
		assert_int_equal(file_load(&s, T_ENERGY, buf, &len, &info), cuts[i].e);
		assert_int_equal(info.outcome, cuts[i].o);
		assert_int_equal(info.slot, cuts[i].slot);
		if (cuts[i].e == BM_OK)
			assert_memory_equal(buf, p1, 100);
		/* and the store carries on: a save lands and loads */
		assert_int_equal(bm_store_save(&s, T_ENERGY, p2, 100, 1), BM_OK);
		assert_int_equal(file_load(&s, T_ENERGY, buf, &len, &info), BM_OK);
		assert_memory_equal(buf, p2, 100);
		bm_nvm_file_close(&f);
	}

	/* zero-filled and garbage-filled files */
	const uint8_t fills[] = { 0x00, 0x5A };
	for (size_t i = 0; i < 2; i++) {
		uint8_t img[FILE_SIZE];
		memset(img, fills[i], sizeof img);
		FILE *fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(img, 1, sizeof img, fp), sizeof img);
		fclose(fp);
		file_open(&f, &nvm, &s);
		for (size_t t = 0; t < NTYPES; t++) {
			assert_int_equal(file_load(&s, table[t].id, buf, &len, &info), BM_E_NOTFOUND);
			assert_int_equal(info.outcome, i == 0 ? BM_STORE_NEVER_WRITTEN
							      : BM_STORE_NO_VALID_COPY);
		}
		bm_nvm_file_close(&f);
	}

	/* a longer file is used as is, never shrunk */
	assert_int_equal(truncate(path, 3000), 0);
	file_open(&f, &nvm, &s);
	bm_nvm_file_close(&f);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3000);
	unlink(path);
}

static void test_file_errors(void **state)
{
	(void)state;
	bm_nvm_file f;
	bm_nvm nvm;
	char err[300], path[400];

	snprintf(path, sizeof path, "%s/missing", tmpdir);
	assert_int_equal(bm_nvm_file_open(&f, &nvm, path, "nvm.bin", 512, err, sizeof err),
			 BM_E_NOTFOUND);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_int_equal(f.fd, -1);

	/* the "directory" is a file */
	snprintf(path, sizeof path, "%s/plain", tmpdir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(bm_nvm_file_open(&f, &nvm, path, "nvm.bin", 512, err, sizeof err),
			 BM_E_INVAL);
	assert_non_null(strstr(err, "not a directory"));
	unlink(path);

	/* the state file is a directory */
	snprintf(path, sizeof path, "%s/nvm.bin", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(bm_nvm_file_open(&f, &nvm, tmpdir, "nvm.bin", 512, err, sizeof err),
			 BM_E_IO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(EISDIR)));
	rmdir(path);

	assert_int_equal(bm_nvm_file_open(&f, &nvm, tmpdir, "nvm.bin", 0, err, sizeof err),
			 BM_E_INVAL);

	/* an unwritable directory (root ignores modes: then try /sys) */
	snprintf(path, sizeof path, "%s/ro", tmpdir);
	assert_int_equal(mkdir(path, 0500), 0);
	const char *ro = geteuid() != 0 ? path : "/sys";
	bm_err e = bm_nvm_file_open(&f, &nvm, ro, "bm_store_test.bin", 512, err, sizeof err);
	if (e == BM_OK) {
		bm_nvm_file_close(&f);
		print_message("skipped: %s is writable for this user\n", ro);
	} else {
		assert_int_equal(e, BM_E_IO);
		assert_non_null(strstr(err, ro));
		assert_non_null(strstr(err, "cannot open for writing"));
		print_message("unwritable directory: %s\n", err);
	}
	chmod(path, 0700);
	rmdir(path);
}

/* ------------------------------------------------------- corpus writer */

/* 480 bytes of image, then `fault` (if nonzero): fuzz_store's n-th read fails. */
static int write_seed_fault(const char *dir, const char *name, uint8_t fault)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(M.mem, 1, 480, fp) != 480 || (fault && fputc(fault, fp) == EOF) ||
	    fclose(fp) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int write_seed(const char *dir, const char *name)
{
	return write_seed_fault(dir, name, 0);
}

/* Seeds for fuzz_store: 480-byte images (the table's layout) made by saving
 * through the store, then damaged in a few typical ways. */
static int write_corpus(const char *dir)
{
	uint8_t p[100];
	int rc = 0;
	mem_reset(0);
	rc |= write_seed(dir, "blank00");
	mem_reset(0xFF);
	rc |= write_seed(dir, "blankff");
	mem_reset(0);
	if (bm_store_init(&S, &mem_ops, table, NTYPES) != BM_OK)
		return 1;
	for (unsigned n = 1; n <= 3; n++)
		for (size_t t = 0; t < NTYPES; t++) {
			size_t len = table[t].max_len - (n == 2 ? 3u : 0u);
			pattern(p, len, n + (unsigned)t);
			if (bm_store_save(&S, table[t].id, p, len, 1) != BM_OK)
				return 1;
			if (n == 1 && t == 0)
				rc |= write_seed(dir, "one_record");
		}
	rc |= write_seed(dir, "all_types_both_slots");
	rc |= write_seed_fault(dir, "read_fault", 5);
	uint8_t keep[MEM_SIZE];
	memcpy(keep, M.mem, sizeof keep);
	M.mem[doc_addr(T_ENERGY, 0) + 40] ^= 0x08;
	rc |= write_seed(dir, "bitflip_newest");
	memcpy(M.mem, keep, sizeof keep);
	M.budget = 30;
	(void)bm_store_save(&S, T_CFG, p, 40, 1);
	mem_reboot();
	rc |= write_seed(dir, "torn_save");
	memcpy(M.mem, keep, sizeof keep);
	pattern(p, 13, 9);
	craft(M.mem, T_FREEZE, 0, 7, UINT32_MAX, p, 13);
	craft(M.mem, T_FREEZE, 1, 2, 0, p, 13);
	rc |= write_seed(dir, "wrap_and_version");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_init_and_layout),
		cmocka_unit_test(test_empty_store),
		cmocka_unit_test(test_alternation),
		cmocka_unit_test(test_sequence_wrap),
		cmocka_unit_test(test_torn_every_byte),
		cmocka_unit_test(test_torn_first_save),
		cmocka_unit_test(test_bitflip_every_bit),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_flaky_read),
		cmocka_unit_test(test_payload_version),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_erase),
		cmocka_unit_test(test_types_independent),
		cmocka_unit_test_setup_teardown(test_file_roundtrip, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_damaged, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, file_setup, file_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
