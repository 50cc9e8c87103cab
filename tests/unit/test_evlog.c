/*
 * test_evlog.c — the persistent event ring (core/src/evlog.c).
 *
 * What is checked, against expectations kept in the test (a plain array of
 * the events appended):
 *  - append / get round-trip every field; numbering continues after reopen;
 *  - the ring wraps: only the last `capacity` events are found, in order;
 *  - blank media (0x00 and 0xFF) hold no events;
 *  - a torn append (power cut with only a prefix, a suffix, or one garbage
 *    byte of the slot written, at every byte position) never yields a wrong
 *    event: the older events all read back, and the torn one is either
 *    absent or exactly right; numbering then continues without duplicates;
 *  - a bit flip anywhere in a slot makes that event absent, nothing else;
 *  - write / sync / read errors are reported; bad arguments are refused.
 * The NVM is an in-memory array (the same model as test_store.c's).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bm/evlog.h"

#define CAP 16u
#define BASE 64u
#define SIZE (BASE + CAP * BM_EV_SLOT + 32u)

static struct {
	uint8_t mem[SIZE];
	int fail_write, fail_sync, fail_read;
	/* torn: the next write stores only bytes [tear_lo, tear_hi) of its data */
	bool tear;
	size_t tear_lo, tear_hi;
} M;

static bm_err m_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
	(void)ctx;
	if (M.fail_read)
		return BM_E_IO;
	memcpy(buf, M.mem + addr, len);
	return BM_OK;
}

static bm_err m_write(void *ctx, uint32_t addr, const void *buf, size_t len)
{
	(void)ctx;
	if (M.fail_write)
		return BM_E_IO;
	if (M.tear) {
		for (size_t i = M.tear_lo; i < M.tear_hi && i < len; i++)
			M.mem[addr + i] = ((const uint8_t *)buf)[i];
		M.tear = false;
		return BM_E_IO; /* the power went: the caller never sees success */
	}
	memcpy(M.mem + addr, buf, len);
	return BM_OK;
}

static bm_err m_sync(void *ctx)
{
	(void)ctx;
	return M.fail_sync ? BM_E_IO : BM_OK;
}

static const bm_nvm NVM = {m_read, m_write, m_sync, NULL, SIZE};

static bm_event mk(uint32_t i)
{
	bm_event e = {0, 1767225600 + (int64_t)i * 61, (uint16_t)(1 + i % 13), (uint8_t)(i % 7),
	              (int8_t)((int)(i % 5) - 1), (uint16_t)(i * 7), (float)i * 0.5f, -(float)i};
	return e;
}

static void same(const bm_event *a, const bm_event *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_true(a->time == b->time);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->circuit, b->circuit);
	assert_int_equal(a->code, b->code);
	assert_true(a->value == b->value);
	assert_true(a->value2 == b->value2);
}

static void reset_mem(uint8_t fill)
{
	memset(&M, 0, sizeof M);
	memset(M.mem, fill, sizeof M.mem);
}

static void test_roundtrip_and_reopen(void **state)
{
	(void)state;
	reset_mem(0);
	bm_evlog log;
	assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP), BM_OK);
	assert_int_equal(log.last, 0);
	bm_event got;
	assert_int_equal(bm_evlog_get(&log, 1, &got), BM_E_NOTFOUND);
	bm_event want[10];
	for (uint32_t i = 0; i < 10; i++) {
		want[i] = mk(i);
		assert_int_equal(bm_evlog_append(&log, &want[i]), BM_OK);
		assert_int_equal(want[i].seq, i + 1);
	}
	/* nothing outside the ring's range was touched */
	for (size_t i = 0; i < BASE; i++)
		assert_int_equal(M.mem[i], 0);
	bm_evlog again;
	assert_int_equal(bm_evlog_open(&again, &NVM, BASE, CAP), BM_OK);
	assert_int_equal(again.last, 10);
	assert_int_equal(again.held, 10);
	for (uint32_t i = 0; i < 10; i++) {
		assert_int_equal(bm_evlog_get(&again, i + 1, &got), BM_OK);
		same(&got, &want[i]);
	}
	assert_int_equal(bm_evlog_get(&again, 11, &got), BM_E_NOTFOUND);
	assert_int_equal(bm_evlog_get(&again, 0, &got), BM_E_NOTFOUND);
	bm_event next = mk(99);
	assert_int_equal(bm_evlog_append(&again, &next), BM_OK);
	assert_int_equal(next.seq, 11);
}

static void test_wrap(void **state)
{
	(void)state;
	reset_mem(0xFF); /* erased flash */
	bm_evlog log;
	assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP), BM_OK);
	assert_int_equal(log.last, 0);
	static bm_event want[5 * CAP];
	for (uint32_t i = 0; i < 5 * CAP; i++) {
		want[i] = mk(i);
		assert_int_equal(bm_evlog_append(&log, &want[i]), BM_OK);
	}
	bm_evlog r;
	assert_int_equal(bm_evlog_open(&r, &NVM, BASE, CAP), BM_OK);
	assert_int_equal(r.last, 5 * CAP);
	assert_int_equal(r.held, CAP);
	bm_event got;
	for (uint32_t s = 1; s <= 5 * CAP; s++) {
		bm_err e = bm_evlog_get(&r, s, &got);
		if (s <= 4 * CAP) {
			assert_int_equal(e, BM_E_NOTFOUND);
		} else {
			assert_int_equal(e, BM_OK);
			same(&got, &want[s - 1]);
		}
	}
}

/* Power cut during the append of event n+1 over a ring holding n events,
 * for every way of tearing the slot. */
static void test_torn_append(void **state)
{
	(void)state;
	const uint32_t n = CAP + 5; /* wrapped: the torn slot held an older event */
	for (int mode = 0; mode < 3; mode++) {
		for (size_t k = 0; k <= BM_EV_SLOT; k++) {
			reset_mem(0);
			bm_evlog log;
			assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP), BM_OK);
			static bm_event want[CAP + 8];
			for (uint32_t i = 0; i < n; i++) {
				want[i] = mk(i);
				assert_int_equal(bm_evlog_append(&log, &want[i]), BM_OK);
			}
			bm_event torn = mk(1000);
			M.tear = true;
			if (mode == 0) { /* a prefix reached the medium */
				M.tear_lo = 0;
				M.tear_hi = k;
			} else if (mode == 1) { /* a suffix */
				M.tear_lo = k;
				M.tear_hi = BM_EV_SLOT;
			} else { /* everything but one byte, which keeps its old value */
				M.tear_lo = 0;
				M.tear_hi = BM_EV_SLOT;
			}
			uint32_t slot = BASE + (n % CAP) * BM_EV_SLOT;
			uint8_t old = M.mem[slot + (k < BM_EV_SLOT ? k : 0)];
			assert_int_equal(bm_evlog_append(&log, &torn), BM_E_IO);
			if (mode == 2 && k < BM_EV_SLOT)
				M.mem[slot + k] = (uint8_t)(old ^ 0x5A); /* garbage in the byte being written */
			bm_evlog r;
			assert_int_equal(bm_evlog_open(&r, &NVM, BASE, CAP), BM_OK);
			bm_event got;
			/* every older event still in the ring reads back exactly */
			for (uint32_t s = n - CAP + 2; s <= n; s++) {
				assert_int_equal(bm_evlog_get(&r, s, &got), BM_OK);
				same(&got, &want[s - 1]);
			}
			/* the torn one: absent, or exactly right */
			if (r.last == n + 1) {
				assert_int_equal(bm_evlog_get(&r, n + 1, &got), BM_OK);
				same(&got, &torn);
			} else {
				assert_int_equal(r.last, n);
				assert_int_equal(bm_evlog_get(&r, n + 1, &got), BM_E_NOTFOUND);
			}
			/* numbering goes on without duplicates */
			bm_event next = mk(2000);
			assert_int_equal(bm_evlog_append(&r, &next), BM_OK);
			assert_int_equal(next.seq, r.last);
			assert_int_equal(bm_evlog_get(&r, next.seq, &got), BM_OK);
			same(&got, &next);
		}
	}
}

static void test_bit_flips(void **state)
{
	(void)state;
	for (size_t bit = 0; bit < BM_EV_SLOT * 8; bit++) {
		reset_mem(0);
		bm_evlog log;
		assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP), BM_OK);
		bm_event want[4];
		for (uint32_t i = 0; i < 4; i++) {
			want[i] = mk(i);
			assert_int_equal(bm_evlog_append(&log, &want[i]), BM_OK);
		}
		M.mem[BASE + 2 * BM_EV_SLOT + bit / 8] ^= (uint8_t)(1u << (bit % 8)); /* event 3 */
		bm_evlog r;
		assert_int_equal(bm_evlog_open(&r, &NVM, BASE, CAP), BM_OK);
		assert_int_equal(r.last, 4);
		bm_event got;
		for (uint32_t s = 1; s <= 4; s++) {
			if (s == 3) {
				assert_int_equal(bm_evlog_get(&r, s, &got), BM_E_NOTFOUND);
			} else {
				assert_int_equal(bm_evlog_get(&r, s, &got), BM_OK);
				same(&got, &want[s - 1]);
			}
		}
	}
}

static void test_errors(void **state)
{
	(void)state;
	reset_mem(0);
	bm_evlog log;
	assert_int_equal(bm_evlog_open(&log, &NVM, BASE, 0), BM_E_INVAL);
	assert_int_equal(bm_evlog_open(&log, &NVM, SIZE, 1), BM_E_INVAL);
	assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP + 2), BM_E_INVAL); /* past the end */
	assert_int_equal(bm_evlog_open(NULL, &NVM, BASE, CAP), BM_E_INVAL);
	M.fail_read = 1;
	assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP), BM_E_IO);
	M.fail_read = 0;
	assert_int_equal(bm_evlog_open(&log, &NVM, BASE, CAP), BM_OK);
	bm_event e = mk(1);
	M.fail_sync = 1;
	assert_int_equal(bm_evlog_append(&log, &e), BM_E_IO);
	M.fail_sync = 0;
	M.fail_write = 1;
	assert_int_equal(bm_evlog_append(&log, &e), BM_E_IO);
	M.fail_write = 0;
	assert_int_equal(bm_evlog_append(&log, &e), BM_OK);
	assert_int_equal(e.seq, 3); /* numbers of failed appends are used up */
	M.fail_read = 1;
	bm_event got;
	assert_int_equal(bm_evlog_get(&log, 3, &got), BM_E_IO);
	M.fail_read = 0;
	assert_string_equal(bm_ev_type_name(BM_EV_CONFIG), "config");
	assert_string_equal(bm_ev_type_name(999), "?");
	assert_string_equal(bm_ev_source_name(BM_EV_SRC_MODBUS_RTU), "modbus-rtu");
	assert_string_equal(bm_ev_source_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_reopen), cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_torn_append),          cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
