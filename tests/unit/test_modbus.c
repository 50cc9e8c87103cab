/*
 * test_modbus.c — unit tests of the Modbus codec (core/src/modbus.c).
 *
 * Purpose: prove, byte for byte, the normal and exception responses of every
 * function the header promises (03, 04, 06, 16, 08/00, 43/14), the RTU and
 * TCP framing around them, and the RTU t3.5 frame-end detector; and that no
 * input at all makes the codec answer more than the caps or write past the
 * caller's buffer.
 *
 * Invariants:
 *  - Expected bytes are written out by hand in each test (CRCs from the
 *    specifications' examples, or computed once with an independent bitwise
 *    CRC and written down), never produced by the code under test.
 *  - The register space is a fake (fk_*): 1000 registers holding their own
 *    address, 100..199 read-only (02), 500..509 failing reads (04), value
 *    0xDEAD refused (03), 0xFA11 failing (04), 0xBAD0 answered with a bogus
 *    negative code; units 1 and 255 served. It checks the codec's contract
 *    (counts 1..125 / 1..123, addr + count <= 0x10000) on every call and
 *    records each call, so "once, with all registers" can be asserted.
 *  - Every response buffer is followed by guard bytes that are checked after
 *    each call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "bm/modbus.h"

/* ------------------------------------------------ the fake register space */

#define NREG 1000u
#define GUARD 32u
#define GUARD_BYTE 0xA5u

typedef struct fake {
	uint16_t reg[NREG];
	unsigned reads, writes, devids;
	uint8_t unit;
	uint16_t addr, count;
	uint16_t wregs[BM_MB_WRITE_MAX];
	bool broadcast;
	const char *id[BM_MB_ID_COUNT];
} fake;

static fake F;
static bm_mb_stats S;

static bool overlaps(uint16_t addr, uint16_t count, unsigned lo, unsigned hi)
{
	return addr < hi && (unsigned)addr + count > lo;
}

static bool fk_unit_ok(void *ctx, uint8_t unit)
{
	assert_ptr_equal(ctx, &F);
	return unit == 1 || unit == 255;
}

static int fk_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	fake *f = ctx;
	assert_ptr_equal(ctx, &F);
	assert_true(count >= 1 && count <= BM_MB_READ_MAX);
	assert_true((uint32_t)addr + count <= 0x10000u);
	f->reads++;
	f->unit = unit;
	f->addr = addr;
	f->count = count;
	if ((uint32_t)addr + count > NREG)
		return BM_MB_EX_ILLEGAL_ADDRESS;
	if (overlaps(addr, count, 500, 510))
		return BM_MB_EX_DEVICE_FAILURE;
	memcpy(regs, f->reg + addr, count * sizeof *regs);
	return 0;
}

static int fk_write(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool broadcast)
{
	fake *f = ctx;
	assert_ptr_equal(ctx, &F);
	assert_true(count >= 1 && count <= BM_MB_WRITE_MAX);
	assert_true((uint32_t)addr + count <= 0x10000u);
	f->writes++;
	f->unit = unit;
	f->addr = addr;
	f->count = count;
	f->broadcast = broadcast;
	memcpy(f->wregs, regs, count * sizeof *regs);
	/* all checks first, then all stores: all or nothing */
	if ((uint32_t)addr + count > NREG || overlaps(addr, count, 100, 200))
		return BM_MB_EX_ILLEGAL_ADDRESS;
	for (unsigned i = 0; i < count; i++) {
		if (regs[i] == 0xDEAD)
			return BM_MB_EX_ILLEGAL_VALUE;
		if (regs[i] == 0xFA11)
			return BM_MB_EX_DEVICE_FAILURE;
		if (regs[i] == 0xBAD0)
			return -7; /* a buggy register space */
	}
	memcpy(f->reg + addr, regs, count * sizeof *regs);
	return 0;
}

static const char *fk_devid(void *ctx, uint8_t unit, uint8_t id)
{
	fake *f = ctx;
	(void)unit;
	assert_ptr_equal(ctx, &F);
	assert_true(id < BM_MB_ID_COUNT);
	f->devids++;
	return f->id[id];
}

static const bm_mb_ops OPS = { fk_unit_ok, fk_read, fk_write, fk_devid };

static int fk_setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof F);
	for (unsigned i = 0; i < NREG; i++)
		F.reg[i] = (uint16_t)i;
	static const char *const ids[BM_MB_ID_COUNT] = { "BM", "P1", "1.0", "u", "name", NULL, "app" };
	memcpy(F.id, ids, sizeof ids);
	memset(&S, 0, sizeof S);
	return 0;
}

/* ---------------------------------------------------------------- helpers */

/* A byte string and its length, as two arguments. */
#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* assert_memory_equal for B(): a macro argument cannot carry B's comma. */
static void mem_eq(const uint8_t *got, const uint8_t *exp, size_t n)
{
	assert_memory_equal(got, exp, n);
}

static void check_guard(const uint8_t *buf, size_t cap)
{
	for (size_t i = 0; i < GUARD; i++)
		assert_int_equal(buf[cap + i], GUARD_BYTE);
}

/* One PDU for unit 1: the response must be exactly exp. */
static void pdu_with(const bm_mb_ops *ops, const uint8_t *req, size_t len, const uint8_t *exp, size_t elen)
{
	uint8_t resp[BM_MB_PDU_MAX + GUARD];
	memset(resp, GUARD_BYTE, sizeof resp);
	int n = bm_mb_pdu_handle(ops, &F, 1, false, req, len, resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, (int)elen);
	assert_memory_equal(resp, exp, elen);
	check_guard(resp, BM_MB_PDU_MAX);
}

static void pdu(const uint8_t *req, size_t len, const uint8_t *exp, size_t elen)
{
	pdu_with(&OPS, req, len, exp, elen);
}

/* The exception response (fc | 0x80, code) for a request. */
static void pdu_ex(const uint8_t *req, size_t len, uint8_t code)
{
	uint8_t exp[2] = { (uint8_t)(req[0] | 0x80u), code };
	pdu(req, len, exp, 2);
}

/* A broadcast PDU: never a reply. */
static void pdu_bcast(const uint8_t *req, size_t len)
{
	uint8_t resp[BM_MB_PDU_MAX + GUARD];
	memset(resp, GUARD_BYTE, sizeof resp);
	assert_int_equal(bm_mb_pdu_handle(&OPS, &F, 0, true, req, len, resp, BM_MB_PDU_MAX, &S), 0);
	check_guard(resp, BM_MB_PDU_MAX);
}

static size_t rtu(uint8_t addr, const uint8_t *frame, size_t len, uint8_t *out)
{
	memset(out, GUARD_BYTE, BM_MB_RTU_MAX + GUARD);
	size_t n = bm_mb_rtu_handle(&OPS, &F, addr, frame, len, out, BM_MB_RTU_MAX, &S);
	check_guard(out, BM_MB_RTU_MAX);
	return n;
}

static size_t tcp(const bm_mb_ops *ops, const uint8_t *adu, size_t len, uint8_t *out)
{
	memset(out, GUARD_BYTE, BM_MB_TCP_MAX + GUARD);
	size_t n = bm_mb_tcp_handle(ops, &F, adu, len, out, BM_MB_TCP_MAX, &S);
	check_guard(out, BM_MB_TCP_MAX);
	return n;
}

/* Independent bitwise CRC-16/MODBUS. */
static uint16_t ref_crc16(const uint8_t *p, size_t n)
{
	uint16_t c = 0xFFFF;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c & 1u) ? (uint16_t)((c >> 1) ^ 0xA001u) : (uint16_t)(c >> 1);
	}
	return c;
}

static void add_crc(uint8_t *f, size_t n)
{
	uint16_t c = ref_crc16(f, n);
	f[n] = (uint8_t)c;
	f[n + 1] = (uint8_t)(c >> 8);
}

/* ------------------------------------------------------------- CRC, timing */

static void test_crc16(void **state)
{
	(void)state;
	/* Serial Line V1.02 example: 02 07 -> CRC 0x1241, sent 41 12 */
	assert_int_equal(bm_mb_crc16(B(0x02, 0x07)), 0x1241);
	/* read 10 holding registers of slave 1: 01 03 00 00 00 0A C5 CD */
	assert_int_equal(bm_mb_crc16(B(0x01, 0x03, 0x00, 0x00, 0x00, 0x0A)), 0xCDC5);
	/* the classic slave 17 example: 11 03 00 6B 00 03 76 87 */
	assert_int_equal(bm_mb_crc16(B(0x11, 0x03, 0x00, 0x6B, 0x00, 0x03)), 0x8776);
	/* the CRC catalogue's check value of CRC-16/MODBUS */
	assert_int_equal(bm_mb_crc16((const uint8_t *)"123456789", 9), 0x4B37);
	assert_int_equal(bm_mb_crc16(NULL, 0), 0xFFFF);
	/* a whole frame with its CRC appended leaves residue 0 */
	assert_int_equal(bm_mb_crc16(B(0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD)), 0x0000);
	/* and agrees with the bitwise reference on every length 0..256 */
	uint8_t buf[256];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof buf; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t n = 0; n <= sizeof buf; n++)
		assert_int_equal(bm_mb_crc16(buf, n), ref_crc16(buf, n));
}

static void test_timing(void **state)
{
	(void)state;
	/* 11 bits per character: ceil(16.5e6 / baud) and ceil(38.5e6 / baud) */
	assert_int_equal(bm_mb_rtu_t15_us(9600), 1719);
	assert_int_equal(bm_mb_rtu_t35_us(9600), 4011);
	assert_int_equal(bm_mb_rtu_t15_us(19200), 860);
	assert_int_equal(bm_mb_rtu_t35_us(19200), 2006);
	assert_int_equal(bm_mb_rtu_t15_us(2400), 6875);
	assert_int_equal(bm_mb_rtu_t35_us(2400), 16042);
	assert_int_equal(bm_mb_rtu_t15_us(1200), 13750);
	assert_int_equal(bm_mb_rtu_t35_us(1200), 32084);
	/* 0 is 9600 */
	assert_int_equal(bm_mb_rtu_t15_us(0), 1719);
	assert_int_equal(bm_mb_rtu_t35_us(0), 4011);
	/* above 19200 baud: fixed */
	assert_int_equal(bm_mb_rtu_t15_us(19201), 750);
	assert_int_equal(bm_mb_rtu_t35_us(19201), 1750);
	assert_int_equal(bm_mb_rtu_t15_us(38400), 750);
	assert_int_equal(bm_mb_rtu_t35_us(115200), 1750);
	assert_int_equal(bm_mb_rtu_t35_us(UINT32_MAX), 1750);
	/* absurdly low: no overflow */
	assert_int_equal(bm_mb_rtu_t35_us(1), 38500000);
}

/* ------------------------------------------------------------ FC 03 / 04 */

static void test_read_normal(void **state)
{
	(void)state;
	F.reg[0] = 0x1234;
	F.reg[1] = 0xABCD;
	pdu(B(0x03, 0x00, 0x00, 0x00, 0x02), B(0x03, 0x04, 0x12, 0x34, 0xAB, 0xCD));
	assert_int_equal(F.reads, 1);
	assert_int_equal(F.unit, 1);
	pdu(B(0x04, 0x00, 0x0A, 0x00, 0x01), B(0x04, 0x02, 0x00, 0x0A));
	assert_int_equal(F.addr, 10);
	assert_int_equal(F.count, 1);
	pdu(B(0x03, 0x03, 0xE7, 0x00, 0x01), B(0x03, 0x02, 0x03, 0xE7)); /* the last register, 999 */

	/* 125 registers from 875: the largest read, 252 bytes */
	uint8_t resp[BM_MB_PDU_MAX + GUARD];
	memset(resp, GUARD_BYTE, sizeof resp);
	int n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x03, 0x03, 0x6B, 0x00, 0x7D), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, 252);
	assert_int_equal(resp[0], 0x03);
	assert_int_equal(resp[1], 250);
	for (unsigned i = 0; i < 125; i++) {
		assert_int_equal(resp[2 + 2 * i], (875 + i) >> 8);
		assert_int_equal(resp[3 + 2 * i], (875 + i) & 0xFF);
	}
	check_guard(resp, BM_MB_PDU_MAX);
	assert_int_equal(S.requests, 4);
	assert_int_equal(S.exceptions, 0);
}

static void test_read_exceptions(void **state)
{
	(void)state;
	static const uint8_t fcs[] = { 0x03, 0x04 };
	for (size_t k = 0; k < 2; k++) {
		uint8_t fc = fcs[k], x = (uint8_t)(fc | 0x80);
		F.reads = 0;
		/* quantity 0 and 126: 03, before the register space is asked */
		pdu(B(fc, 0x00, 0x00, 0x00, 0x00), B(x, 0x03));
		pdu(B(fc, 0x00, 0x00, 0x00, 0x7E), B(x, 0x03));
		pdu(B(fc, 0x00, 0x00, 0xFF, 0xFF), B(x, 0x03));
		/* quantity is judged before the address: 03, not 02 */
		pdu(B(fc, 0xFF, 0xFF, 0x00, 0x00), B(x, 0x03));
		/* addr + count past 0xFFFF: 02 by the codec */
		pdu(B(fc, 0xFF, 0xFF, 0x00, 0x02), B(x, 0x02));
		pdu(B(fc, 0xFF, 0x84, 0x00, 0x7D), B(x, 0x02)); /* 0xFF84 + 125 = 0x10001 */
		assert_int_equal(F.reads, 0);
		/* exactly up to 0xFFFF is the register space's to refuse */
		pdu(B(fc, 0xFF, 0x83, 0x00, 0x7D), B(x, 0x02));
		pdu(B(fc, 0xFF, 0xFF, 0x00, 0x01), B(x, 0x02));
		assert_int_equal(F.reads, 2);
		/* past the 1000 registers; a failing read */
		pdu(B(fc, 0x03, 0xE0, 0x00, 0x09), B(x, 0x02));
		pdu(B(fc, 0x01, 0xF0, 0x00, 0x10), B(x, 0x04));
		/* truncated and overlong PDUs */
		pdu(B(fc), B(x, 0x03));
		pdu(B(fc, 0x00), B(x, 0x03));
		pdu(B(fc, 0x00, 0x00), B(x, 0x03));
		pdu(B(fc, 0x00, 0x00, 0x00), B(x, 0x03));
		pdu(B(fc, 0x00, 0x00, 0x00, 0x01, 0x00), B(x, 0x03));
		assert_int_equal(F.reads, 4);
	}
	assert_int_equal(S.exceptions, S.requests);
}

/* A register space whose read answers a code that is not an exception. */
static int bogus_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	(void)ctx;
	(void)unit;
	(void)addr;
	(void)count;
	regs[0] = 0x7777;
	return 0x1234;
}

static void test_bogus_ops(void **state)
{
	(void)state;
	/* a code outside 1..255 from ops becomes 04 */
	bm_mb_ops ops = OPS;
	ops.read = bogus_read;
	pdu_with(&ops, B(0x03, 0x00, 0x00, 0x00, 0x01), B(0x83, 0x04));
	pdu(B(0x06, 0x00, 0x05, 0xBA, 0xD0), B(0x86, 0x04));
	/* a register space without an operation does not support its functions */
	bm_mb_ops none = { NULL, NULL, NULL, NULL };
	pdu_with(&none, B(0x03, 0x00, 0x00, 0x00, 0x01), B(0x83, 0x01));
	pdu_with(&none, B(0x04, 0x00, 0x00, 0x00, 0x01), B(0x84, 0x01));
	pdu_with(&none, B(0x06, 0x00, 0x00, 0x00, 0x01), B(0x86, 0x01));
	pdu_with(&none, B(0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x01), B(0x90, 0x01));
	pdu_with(&none, B(0x2B, 0x0E, 0x01, 0x00), B(0xAB, 0x01));
	pdu_with(&none, B(0x08, 0x00, 0x00, 0x12, 0x34), B(0x08, 0x00, 0x00, 0x12, 0x34));
}

/* ------------------------------------------------------------------ FC 06 */

static void test_write_single(void **state)
{
	(void)state;
	pdu(B(0x06, 0x00, 0x05, 0x12, 0x34), B(0x06, 0x00, 0x05, 0x12, 0x34));
	assert_int_equal(F.reg[5], 0x1234);
	assert_int_equal(F.writes, 1);
	assert_int_equal(F.addr, 5);
	assert_int_equal(F.count, 1);
	assert_int_equal(F.wregs[0], 0x1234);
	assert_false(F.broadcast);
	assert_int_equal(F.unit, 1);
	/* read-only register, refused value, failure, beyond the space */
	pdu(B(0x06, 0x00, 0x64, 0x00, 0x01), B(0x86, 0x02));
	assert_int_equal(F.reg[100], 100);
	pdu(B(0x06, 0x00, 0x06, 0xDE, 0xAD), B(0x86, 0x03));
	assert_int_equal(F.reg[6], 6);
	pdu(B(0x06, 0x00, 0x06, 0xFA, 0x11), B(0x86, 0x04));
	pdu(B(0x06, 0xFF, 0xFF, 0x00, 0x00), B(0x86, 0x02));
	assert_int_equal(F.writes, 5);
	/* truncated and overlong: 03, nothing written */
	pdu(B(0x06), B(0x86, 0x03));
	pdu(B(0x06, 0x00), B(0x86, 0x03));
	pdu(B(0x06, 0x00, 0x05), B(0x86, 0x03));
	pdu(B(0x06, 0x00, 0x05, 0x12), B(0x86, 0x03));
	pdu(B(0x06, 0x00, 0x05, 0x12, 0x34, 0x00), B(0x86, 0x03));
	assert_int_equal(F.writes, 5);
}

/* ------------------------------------------------------------------ FC 16 */

static void test_write_multiple(void **state)
{
	(void)state;
	pdu(B(0x10, 0x00, 0x0A, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00, 0x02), B(0x10, 0x00, 0x0A, 0x00, 0x02));
	assert_int_equal(F.writes, 1);
	assert_int_equal(F.addr, 10);
	assert_int_equal(F.count, 2);
	assert_int_equal(F.wregs[0], 1);
	assert_int_equal(F.wregs[1], 2);
	assert_int_equal(F.reg[10], 1);
	assert_int_equal(F.reg[11], 2);
	assert_int_equal(F.reg[12], 12);

	/* 123 registers at 300: one call with all of them */
	uint8_t req[6 + 246];
	req[0] = 0x10;
	req[1] = 0x01;
	req[2] = 0x2C;
	req[3] = 0x00;
	req[4] = 0x7B;
	req[5] = 246;
	for (unsigned i = 0; i < 123; i++) {
		req[6 + 2 * i] = 0xC0;
		req[7 + 2 * i] = (uint8_t)i;
	}
	pdu(req, sizeof req, B(0x10, 0x01, 0x2C, 0x00, 0x7B));
	assert_int_equal(F.writes, 2);
	assert_int_equal(F.count, 123);
	for (unsigned i = 0; i < 123; i++) {
		assert_int_equal(F.wregs[i], 0xC000 | i);
		assert_int_equal(F.reg[300 + i], 0xC000 | i);
	}
	assert_int_equal(F.reg[423], 423);
}

static void test_write_multiple_exceptions(void **state)
{
	(void)state;
	/* quantity 0, 124 (byte count 248), 0xFFFF: 03 without a call */
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x00, 0x00), B(0x90, 0x03));
	uint8_t req[6 + 248];
	memset(req, 0, sizeof req);
	req[0] = 0x10;
	req[4] = 124;
	req[5] = 248;
	pdu(req, sizeof req, B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00, 0xFF, 0xFF, 0xFE, 0x00, 0x01), B(0x90, 0x03));
	/* byte count not 2 * quantity, data shorter or longer than byte count */
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x02, 0x03, 0x00, 0x01, 0x00), B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x02, 0x05, 0x00, 0x01, 0x00, 0x02, 0x00), B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00), B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00), B(0x90, 0x03));
	/* truncated headers */
	pdu(B(0x10), B(0x90, 0x03));
	pdu(B(0x10, 0x00), B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00), B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00, 0x00), B(0x90, 0x03));
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x01), B(0x90, 0x03));
	/* quantity before address: 03 at 0xFFFF with quantity 0 */
	pdu(B(0x10, 0xFF, 0xFF, 0x00, 0x00, 0x00), B(0x90, 0x03));
	/* past 0xFFFF: 02 by the codec */
	pdu(B(0x10, 0xFF, 0xFF, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00, 0x02), B(0x90, 0x02));
	assert_int_equal(F.writes, 0);

	/* all or nothing: one call with both registers, nothing stored */
	pdu(B(0x10, 0x00, 0x14, 0x00, 0x02, 0x04, 0x00, 0x07, 0xDE, 0xAD), B(0x90, 0x03));
	assert_int_equal(F.writes, 1);
	assert_int_equal(F.count, 2);
	assert_int_equal(F.wregs[0], 0x0007);
	assert_int_equal(F.wregs[1], 0xDEAD);
	assert_int_equal(F.reg[20], 20);
	assert_int_equal(F.reg[21], 21);
	/* 95..104 reaches into the read-only range: nothing of 95..99 stored */
	uint8_t w[6 + 20] = { 0x10, 0x00, 0x5F, 0x00, 0x0A, 0x14 };
	pdu(w, sizeof w, B(0x90, 0x02));
	assert_int_equal(F.writes, 2);
	assert_int_equal(F.addr, 95);
	assert_int_equal(F.count, 10);
	for (unsigned i = 95; i < 105; i++)
		assert_int_equal(F.reg[i], i);
	/* beyond the space, failing, bogus code */
	pdu(B(0x10, 0x03, 0xE7, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00, 0x02), B(0x90, 0x02));
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0xFA, 0x11), B(0x90, 0x04));
	pdu(B(0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0xBA, 0xD0), B(0x90, 0x04));
	assert_int_equal(F.writes, 5);
	assert_int_equal(S.exceptions, S.requests);
}

/* ------------------------------------------------------------------ FC 08 */

static void test_diagnostics(void **state)
{
	(void)state;
	pdu(B(0x08, 0x00, 0x00, 0xA5, 0x37), B(0x08, 0x00, 0x00, 0xA5, 0x37));
	pdu(B(0x08, 0x00, 0x00), B(0x08, 0x00, 0x00));
	pdu(B(0x08, 0x00, 0x00, 0x01, 0x02, 0x03), B(0x08, 0x00, 0x00, 0x01, 0x02, 0x03));
	/* the largest: a whole 253-byte PDU comes back */
	uint8_t req[BM_MB_PDU_MAX];
	for (size_t i = 0; i < sizeof req; i++)
		req[i] = (uint8_t)(i * 7);
	req[0] = 0x08;
	req[1] = req[2] = 0;
	pdu(req, sizeof req, req, sizeof req);
	/* longer than a PDU can be (only reachable through pdu_handle) */
	uint8_t big[BM_MB_PDU_MAX + 1];
	memset(big, 0, sizeof big);
	big[0] = 0x08;
	pdu(big, sizeof big, B(0x88, 0x03));
	/* other sub-functions: 01 */
	pdu(B(0x08, 0x00, 0x01, 0x00, 0x00), B(0x88, 0x01));
	pdu(B(0x08, 0x00, 0x0A, 0x00, 0x00), B(0x88, 0x01));
	pdu(B(0x08, 0xFF, 0x00), B(0x88, 0x01));
	/* no sub-function */
	pdu(B(0x08), B(0x88, 0x03));
	pdu(B(0x08, 0x00), B(0x88, 0x03));
	assert_int_equal(F.reads + F.writes, 0);
}

/* ------------------------------------------------------------------ FC 43 */

static void test_devid_stream(void **state)
{
	(void)state;
	/* basic */
	pdu(B(0x2B, 0x0E, 0x01, 0x00),
	    B(0x2B, 0x0E, 0x01, 0x82, 0x00, 0x00, 0x03, 0x00, 0x02, 'B', 'M', 0x01, 0x02, 'P', '1', 0x02, 0x03,
	      '1', '.', '0'));
	/* regular: object 5 (NULL) is skipped */
	pdu(B(0x2B, 0x0E, 0x02, 0x00),
	    B(0x2B, 0x0E, 0x02, 0x82, 0x00, 0x00, 0x06, 0x00, 0x02, 'B', 'M', 0x01, 0x02, 'P', '1', 0x02, 0x03,
	      '1', '.', '0', 0x03, 0x01, 'u', 0x04, 0x04, 'n', 'a', 'm', 'e', 0x06, 0x03, 'a', 'p', 'p'));
	/* extended: no extended objects, so the regular ones, code 03 echoed */
	pdu(B(0x2B, 0x0E, 0x03, 0x00),
	    B(0x2B, 0x0E, 0x03, 0x82, 0x00, 0x00, 0x06, 0x00, 0x02, 'B', 'M', 0x01, 0x02, 'P', '1', 0x02, 0x03,
	      '1', '.', '0', 0x03, 0x01, 'u', 0x04, 0x04, 'n', 'a', 'm', 'e', 0x06, 0x03, 'a', 'p', 'p'));
	/* starting inside the category */
	pdu(B(0x2B, 0x0E, 0x01, 0x01),
	    B(0x2B, 0x0E, 0x01, 0x82, 0x00, 0x00, 0x02, 0x01, 0x02, 'P', '1', 0x02, 0x03, '1', '.', '0'));
	pdu(B(0x2B, 0x0E, 0x02, 0x04),
	    B(0x2B, 0x0E, 0x02, 0x82, 0x00, 0x00, 0x02, 0x04, 0x04, 'n', 'a', 'm', 'e', 0x06, 0x03, 'a', 'p', 'p'));
	/* an object id the category or the device does not have: restart at 0 */
	static const uint8_t basic[] = { 0x2B, 0x0E, 0x01, 0x82, 0x00, 0x00, 0x03, 0x00, 0x02, 'B', 'M',
					 0x01, 0x02, 'P', '1', 0x02, 0x03, '1', '.', '0' };
	pdu(B(0x2B, 0x0E, 0x01, 0x03), basic, sizeof basic);
	pdu(B(0x2B, 0x0E, 0x01, 0x80), basic, sizeof basic);
	pdu(B(0x2B, 0x0E, 0x01, 0xFF), basic, sizeof basic);
	pdu(B(0x2B, 0x0E, 0x02, 0x05),
	    B(0x2B, 0x0E, 0x02, 0x82, 0x00, 0x00, 0x06, 0x00, 0x02, 'B', 'M', 0x01, 0x02, 'P', '1', 0x02, 0x03,
	      '1', '.', '0', 0x03, 0x01, 'u', 0x04, 0x04, 'n', 'a', 'm', 'e', 0x06, 0x03, 'a', 'p', 'p'));
	pdu(B(0x2B, 0x0E, 0x03, 0x07),
	    B(0x2B, 0x0E, 0x03, 0x82, 0x00, 0x00, 0x06, 0x00, 0x02, 'B', 'M', 0x01, 0x02, 'P', '1', 0x02, 0x03,
	      '1', '.', '0', 0x03, 0x01, 'u', 0x04, 0x04, 'n', 'a', 'm', 'e', 0x06, 0x03, 'a', 'p', 'p'));
	/* mandatory objects the register space lacks read as empty strings */
	F.id[0] = F.id[1] = F.id[2] = NULL;
	pdu(B(0x2B, 0x0E, 0x01, 0x00), B(0x2B, 0x0E, 0x01, 0x82, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00));
	F.id[3] = F.id[4] = F.id[6] = NULL;
	pdu(B(0x2B, 0x0E, 0x02, 0x00), B(0x2B, 0x0E, 0x02, 0x82, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00));
	assert_int_equal(S.exceptions, 0);
}

static void test_devid_individual(void **state)
{
	(void)state;
	pdu(B(0x2B, 0x0E, 0x04, 0x04), B(0x2B, 0x0E, 0x04, 0x82, 0x00, 0x00, 0x01, 0x04, 0x04, 'n', 'a', 'm', 'e'));
	pdu(B(0x2B, 0x0E, 0x04, 0x00), B(0x2B, 0x0E, 0x04, 0x82, 0x00, 0x00, 0x01, 0x00, 0x02, 'B', 'M'));
	/* absent: 05 is NULL, 07.. do not exist */
	pdu(B(0x2B, 0x0E, 0x04, 0x05), B(0xAB, 0x02));
	pdu(B(0x2B, 0x0E, 0x04, 0x07), B(0xAB, 0x02));
	pdu(B(0x2B, 0x0E, 0x04, 0x80), B(0xAB, 0x02));
	pdu(B(0x2B, 0x0E, 0x04, 0xFF), B(0xAB, 0x02));
	/* a mandatory object the register space lacks is "" */
	F.id[2] = NULL;
	pdu(B(0x2B, 0x0E, 0x04, 0x02), B(0x2B, 0x0E, 0x04, 0x82, 0x00, 0x00, 0x01, 0x02, 0x00));
}

static void test_devid_exceptions(void **state)
{
	(void)state;
	/* read device id codes outside 1..4 */
	pdu(B(0x2B, 0x0E, 0x00, 0x00), B(0xAB, 0x03));
	pdu(B(0x2B, 0x0E, 0x05, 0x00), B(0xAB, 0x03));
	pdu(B(0x2B, 0x0E, 0xFF, 0x00), B(0xAB, 0x03));
	/* other MEI types (0x0D: CANopen) */
	pdu(B(0x2B, 0x0D, 0x01, 0x00), B(0xAB, 0x01));
	pdu(B(0x2B, 0x00), B(0xAB, 0x01));
	/* truncated, overlong */
	pdu(B(0x2B), B(0xAB, 0x03));
	pdu(B(0x2B, 0x0E), B(0xAB, 0x03));
	pdu(B(0x2B, 0x0E, 0x01), B(0xAB, 0x03));
	pdu(B(0x2B, 0x0E, 0x01, 0x00, 0x00), B(0xAB, 0x03));
	assert_int_equal(S.exceptions, S.requests);
}

static void test_devid_more_follows(void **state)
{
	(void)state;
	char a[121], b[121], huge[300];
	memset(a, 'a', 120);
	a[120] = '\0';
	memset(b, 'b', 120);
	b[120] = '\0';
	F.id[4] = a;
	F.id[5] = b;
	/* 7 header + 4 (BM) + 4 (P1) + 5 (1.0) + 3 (u) + 122 (a) = 145; b would be 267 */
	uint8_t resp[BM_MB_PDU_MAX + GUARD];
	memset(resp, GUARD_BYTE, sizeof resp);
	int n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x02, 0x00), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, 145);
	mem_eq(resp, B(0x2B, 0x0E, 0x02, 0x82, 0xFF, 0x05, 0x05));
	mem_eq(resp + 20, B(0x03, 0x01, 'u', 0x04, 120));
	assert_memory_equal(resp + 25, a, 120);
	check_guard(resp, BM_MB_PDU_MAX);
	/* the client goes on from object 5: b and app, the end */
	n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x02, 0x05), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, 7 + 122 + 5);
	mem_eq(resp, B(0x2B, 0x0E, 0x02, 0x82, 0x00, 0x00, 0x02, 0x05, 120));
	assert_memory_equal(resp + 9, b, 120);
	mem_eq(resp + 129, B(0x06, 0x03, 'a', 'p', 'p'));

	/* one object too long for any PDU is cut to 244 bytes, so it fits
	 * alone and the client makes progress */
	memset(huge, 'h', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	F.id[0] = huge;
	n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x01, 0x00), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, BM_MB_PDU_MAX);
	mem_eq(resp, B(0x2B, 0x0E, 0x01, 0x82, 0xFF, 0x01, 0x01, 0x00, 244));
	for (int i = 9; i < n; i++)
		assert_int_equal(resp[i], 'h');
	check_guard(resp, BM_MB_PDU_MAX);
	n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x04, 0x00), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, BM_MB_PDU_MAX);
	mem_eq(resp, B(0x2B, 0x0E, 0x04, 0x82, 0x00, 0x00, 0x01, 0x00, 244));
	check_guard(resp, BM_MB_PDU_MAX);
	/* starting at 1, with an empty object: more follows again at 5 */
	F.id[1] = "";
	n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x02, 0x01), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, 7 + 2 + 5 + 3 + 122);
	mem_eq(resp, B(0x2B, 0x0E, 0x02, 0x82, 0xFF, 0x05, 0x04, 0x01, 0x00, 0x02, 0x03, '1', '.', '0', 0x03, 0x01,
		       'u', 0x04, 120));
	/* exactly filling the PDU: 7 + (2 + 237) + (2 + 0) + (2 + 3) = 253 */
	F.id[0] = huge + (299 - 237);
	n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x01, 0x00), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, BM_MB_PDU_MAX);
	mem_eq(resp, B(0x2B, 0x0E, 0x01, 0x82, 0x00, 0x00, 0x03, 0x00, 237));
	mem_eq(resp + 246, B(0x01, 0x00, 0x02, 0x03, '1', '.', '0'));
	check_guard(resp, BM_MB_PDU_MAX);
	/* one character more and object 2 must wait */
	F.id[0] = huge + (299 - 238);
	n = bm_mb_pdu_handle(&OPS, &F, 1, false, B(0x2B, 0x0E, 0x01, 0x00), resp, BM_MB_PDU_MAX, &S);
	assert_int_equal(n, 7 + 240 + 2);
	mem_eq(resp, B(0x2B, 0x0E, 0x01, 0x82, 0xFF, 0x02, 0x02, 0x00, 238));
	mem_eq(resp + 247, B(0x01, 0x00));
}

/* --------------------------------------------------------- other / args */

static void test_unknown_functions(void **state)
{
	(void)state;
	static const uint8_t fcs[] = { 0x00, 0x01, 0x02, 0x05, 0x07, 0x0F, 0x11, 0x14, 0x15, 0x16, 0x17, 0x18,
				       0x2A, 0x2C, 0x41, 0x64, 0x7F, 0x80, 0x83, 0xFF };
	for (size_t i = 0; i < sizeof fcs; i++) {
		pdu_ex(B(fcs[i], 0x00, 0x00, 0x00, 0x01), 0x01);
		pdu_ex(&fcs[i], 1, 0x01);
	}
	assert_int_equal(F.reads + F.writes + F.devids, 0);
	assert_int_equal(S.requests, 2 * sizeof fcs);
	assert_int_equal(S.exceptions, 2 * sizeof fcs);
}

static void test_bad_args(void **state)
{
	(void)state;
	uint8_t resp[BM_MB_PDU_MAX];
	const uint8_t req[] = { 0x03, 0x00, 0x00, 0x00, 0x01 };
	assert_int_equal(bm_mb_pdu_handle(&OPS, &F, 1, false, req, 0, resp, sizeof resp, &S), BM_E_INVAL);
	assert_int_equal(bm_mb_pdu_handle(NULL, &F, 1, false, req, 5, resp, sizeof resp, &S), BM_E_INVAL);
	assert_int_equal(bm_mb_pdu_handle(&OPS, &F, 1, false, NULL, 5, resp, sizeof resp, &S), BM_E_INVAL);
	assert_int_equal(bm_mb_pdu_handle(&OPS, &F, 1, false, req, 5, NULL, sizeof resp, &S), BM_E_INVAL);
	assert_int_equal(bm_mb_pdu_handle(&OPS, &F, 1, false, req, 5, resp, BM_MB_PDU_MAX - 1, &S), BM_E_INVAL);
	assert_int_equal(S.requests, 0);
	/* stats are optional */
	assert_int_equal(bm_mb_pdu_handle(&OPS, &F, 1, false, req, 5, resp, sizeof resp, NULL), 4);

	uint8_t out[BM_MB_TCP_MAX];
	const uint8_t f[] = { 0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD };
	assert_int_equal(bm_mb_rtu_handle(NULL, &F, 1, f, sizeof f, out, sizeof out, &S), 0);
	assert_int_equal(bm_mb_rtu_handle(&OPS, &F, 1, NULL, sizeof f, out, sizeof out, &S), 0);
	assert_int_equal(bm_mb_rtu_handle(&OPS, &F, 1, f, sizeof f, NULL, sizeof out, &S), 0);
	assert_int_equal(bm_mb_rtu_handle(&OPS, &F, 1, f, sizeof f, out, BM_MB_RTU_MAX - 1, &S), 0);
	assert_int_equal(bm_mb_rtu_handle(&OPS, &F, 1, f, sizeof f, out, BM_MB_RTU_MAX, NULL), 25);
	const uint8_t a[] = { 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x01 };
	assert_int_equal(bm_mb_tcp_handle(NULL, &F, a, sizeof a, out, sizeof out, &S), 0);
	assert_int_equal(bm_mb_tcp_handle(&OPS, &F, NULL, sizeof a, out, sizeof out, &S), 0);
	assert_int_equal(bm_mb_tcp_handle(&OPS, &F, a, sizeof a, NULL, sizeof out, &S), 0);
	assert_int_equal(bm_mb_tcp_handle(&OPS, &F, a, sizeof a, out, BM_MB_TCP_MAX - 1, &S), 0);
	assert_int_equal(bm_mb_tcp_handle(&OPS, &F, a, sizeof a, out, BM_MB_TCP_MAX, NULL), 11);
	assert_int_equal(bm_mb_tcp_frame_len(NULL, 0), 0);
	assert_int_equal(bm_mb_tcp_frame_len(NULL, 12), BM_E_INVAL);
}

static void test_pdu_broadcast(void **state)
{
	(void)state;
	/* reads and FC 43 are not executed */
	pdu_bcast(B(0x03, 0x00, 0x00, 0x00, 0x01));
	pdu_bcast(B(0x04, 0x00, 0x00, 0x00, 0x01));
	pdu_bcast(B(0x2B, 0x0E, 0x01, 0x00));
	assert_int_equal(F.reads + F.devids, 0);
	/* writes are, with broadcast set and unit 0 */
	pdu_bcast(B(0x06, 0x00, 0x07, 0x43, 0x21));
	assert_int_equal(F.writes, 1);
	assert_true(F.broadcast);
	assert_int_equal(F.unit, 0);
	assert_int_equal(F.reg[7], 0x4321);
	pdu_bcast(B(0x10, 0x00, 0x08, 0x00, 0x02, 0x04, 0x11, 0x11, 0x22, 0x22));
	assert_int_equal(F.writes, 2);
	assert_true(F.broadcast);
	assert_int_equal(F.reg[8], 0x1111);
	assert_int_equal(F.reg[9], 0x2222);
	/* diagnostics: executed (nothing to do), no reply */
	pdu_bcast(B(0x08, 0x00, 0x00, 0x12, 0x34));
	/* and no exception either */
	pdu_bcast(B(0x06, 0x00, 0x64, 0x00, 0x01));
	pdu_bcast(B(0x10, 0x00, 0x00, 0x00, 0x00, 0x00));
	pdu_bcast(B(0x06, 0x00));
	pdu_bcast(B(0x41));
	pdu_bcast(B(0x08, 0x00, 0x01));
	assert_int_equal(F.writes, 3);
	assert_int_equal(S.exceptions, 0);
	assert_int_equal(S.requests, 11);
}

/* ------------------------------------------------------------------- RTU */

static void test_rtu_normal(void **state)
{
	(void)state;
	uint8_t out[BM_MB_RTU_MAX + GUARD];
	/* 01 03 00 0A 00 02 -> registers 10, 11 */
	size_t n = rtu(1, B(0x01, 0x03, 0x00, 0x0A, 0x00, 0x02, 0xE4, 0x09), out);
	assert_int_equal(n, 9);
	mem_eq(out, B(0x01, 0x03, 0x04, 0x00, 0x0A, 0x00, 0x0B, 0x9B, 0xF6));
	n = rtu(1, B(0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC4, 0x0B), out);
	mem_eq(out, B(0x01, 0x03, 0x04, 0x00, 0x00, 0x00, 0x01, 0x3B, 0xF3));
	assert_int_equal(n, 9);
	/* FC 04 */
	n = rtu(1, B(0x01, 0x04, 0x00, 0x0A, 0x00, 0x01, 0x11, 0xC8), out);
	mem_eq(out, B(0x01, 0x04, 0x02, 0x00, 0x0A, 0x39, 0x37));
	assert_int_equal(n, 7);
	/* FC 06: the echo, CRC included */
	n = rtu(1, B(0x01, 0x06, 0x00, 0x05, 0x12, 0x34, 0x94, 0xBC), out);
	mem_eq(out, B(0x01, 0x06, 0x00, 0x05, 0x12, 0x34, 0x94, 0xBC));
	assert_int_equal(n, 8);
	assert_int_equal(F.reg[5], 0x1234);
	/* slave 17 reading 3 registers at 107 */
	n = rtu(17, B(0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87), out);
	mem_eq(out, B(0x11, 0x03, 0x06, 0x00, 0x6B, 0x00, 0x6C, 0x00, 0x6D));
	assert_int_equal(n, 11);
	assert_int_equal(ref_crc16(out, 9), (uint16_t)(out[9] | out[10] << 8));
	assert_int_equal(F.unit, 17);
	/* an exception: 01 2C -> 01 AC 01 */
	n = rtu(1, B(0x01, 0x2C, 0x01, 0xFD), out);
	mem_eq(out, B(0x01, 0xAC, 0x01, 0x9C, 0xC0));
	assert_int_equal(n, 5);
	assert_int_equal(S.requests, 6);
	assert_int_equal(S.exceptions, 1);
	assert_int_equal(S.bad_frames + S.ignored, 0);

	/* the largest frame, 256 bytes: FC 08 echoing a 253-byte PDU */
	uint8_t f[BM_MB_RTU_MAX];
	f[0] = 1;
	f[1] = 0x08;
	f[2] = f[3] = 0;
	for (size_t i = 4; i < 254; i++)
		f[i] = (uint8_t)i;
	add_crc(f, 254);
	n = rtu(1, f, sizeof f, out);
	assert_int_equal(n, BM_MB_RTU_MAX);
	assert_memory_equal(out, f, BM_MB_RTU_MAX);
}

static void test_rtu_errors(void **state)
{
	(void)state;
	uint8_t out[BM_MB_RTU_MAX + GUARD];
	/* bad CRC, either byte; a flipped data bit */
	assert_int_equal(rtu(1, B(0x01, 0x03, 0x00, 0x0A, 0x00, 0x02, 0xE4, 0x08), out), 0);
	assert_int_equal(rtu(1, B(0x01, 0x03, 0x00, 0x0A, 0x00, 0x02, 0xE5, 0x09), out), 0);
	assert_int_equal(rtu(1, B(0x01, 0x03, 0x00, 0x0A, 0x00, 0x02, 0x09, 0xE4), out), 0);
	assert_int_equal(rtu(1, B(0x01, 0x03, 0x00, 0x0B, 0x00, 0x02, 0xE4, 0x09), out), 0);
	assert_int_equal(S.bad_frames, 4);
	/* short frames: 0..3 bytes, even one whose "CRC" is right */
	assert_int_equal(rtu(1, NULL, 0, out), 0);
	assert_int_equal(rtu(1, B(0x01), out), 0);
	assert_int_equal(rtu(1, B(0x01, 0x03), out), 0);
	uint8_t s3[3] = { 0x01 };
	add_crc(s3, 1);
	assert_int_equal(rtu(1, s3, 3, out), 0);
	assert_int_equal(S.bad_frames, 7); /* the NULL frame is an argument error, not counted */
	/* 4 bytes with a good CRC is a frame: address, function, CRC */
	assert_int_equal(rtu(1, B(0x01, 0x2C, 0x01, 0xFD), out), 5);
	/* overlong: 257 bytes with a valid CRC */
	uint8_t big[BM_MB_RTU_MAX + 1];
	memset(big, 0, sizeof big);
	big[0] = 1;
	big[1] = 0x08;
	add_crc(big, sizeof big - 2);
	assert_int_equal(rtu(1, big, sizeof big, out), 0);
	assert_int_equal(S.bad_frames, 8);
	/* another address */
	assert_int_equal(rtu(2, B(0x01, 0x03, 0x00, 0x0A, 0x00, 0x02, 0xE4, 0x09), out), 0);
	assert_int_equal(rtu(1, B(0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87), out), 0);
	assert_int_equal(S.ignored, 2);
	assert_int_equal(F.reads, 0);
	assert_int_equal(S.requests, 1);
}

static void test_rtu_broadcast(void **state)
{
	(void)state;
	uint8_t out[BM_MB_RTU_MAX + GUARD];
	/* a broadcast write is executed, with broadcast set, and not answered */
	assert_int_equal(rtu(1, B(0x00, 0x06, 0x00, 0x05, 0x12, 0x34, 0x95, 0x6D), out), 0);
	assert_int_equal(F.writes, 1);
	assert_true(F.broadcast);
	assert_int_equal(F.reg[5], 0x1234);
	assert_int_equal(rtu(1, B(0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x2B, 0x91), out), 0);
	assert_int_equal(F.writes, 2);
	assert_true(F.broadcast);
	assert_int_equal(F.reg[0], 0x0102);
	/* a broadcast read is not executed */
	assert_int_equal(rtu(1, B(0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0xC5, 0xDA), out), 0);
	assert_int_equal(F.reads, 0);
	/* a broadcast with a bad CRC is not executed */
	assert_int_equal(rtu(1, B(0x00, 0x06, 0x00, 0x05, 0x99, 0x99, 0x95, 0x6D), out), 0);
	assert_int_equal(F.writes, 2);
	assert_int_equal(S.ignored, 3);
	assert_int_equal(S.bad_frames, 1);
	assert_int_equal(S.exceptions, 0);
}

/* ------------------------------------------------------------------- TCP */

static const uint8_t ADU_READ[] = { 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x0A, 0x00, 0x02 };

static void test_tcp_normal(void **state)
{
	(void)state;
	uint8_t out[BM_MB_TCP_MAX + GUARD];
	assert_int_equal(bm_mb_tcp_frame_len(ADU_READ, sizeof ADU_READ), 12);
	size_t n = tcp(&OPS, ADU_READ, sizeof ADU_READ, out);
	assert_int_equal(n, 13);
	mem_eq(out, B(0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x04, 0x00, 0x0A, 0x00, 0x0B));
	/* transaction id and unit 255 echoed */
	n = tcp(&OPS, B(0xBE, 0xEF, 0x00, 0x00, 0x00, 0x06, 0xFF, 0x06, 0x00, 0x05, 0x12, 0x34), out);
	assert_int_equal(n, 12);
	mem_eq(out, B(0xBE, 0xEF, 0x00, 0x00, 0x00, 0x06, 0xFF, 0x06, 0x00, 0x05, 0x12, 0x34));
	assert_int_equal(F.unit, 255);
	assert_false(F.broadcast);
	/* an exception */
	n = tcp(&OPS, B(0x12, 0x34, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00), out);
	assert_int_equal(n, 9);
	mem_eq(out, B(0x12, 0x34, 0x00, 0x00, 0x00, 0x03, 0x01, 0x83, 0x03));
	/* the largest: FC 08 with a 253-byte PDU, length field 254 */
	uint8_t big[BM_MB_TCP_MAX];
	big[0] = 0x55;
	big[1] = 0xAA;
	big[2] = big[3] = big[4] = 0;
	big[5] = 254;
	big[6] = 1;
	big[7] = 0x08;
	big[8] = big[9] = 0;
	for (size_t i = 10; i < sizeof big; i++)
		big[i] = (uint8_t)(i ^ 0x3C);
	assert_int_equal(bm_mb_tcp_frame_len(big, sizeof big), BM_MB_TCP_MAX);
	n = tcp(&OPS, big, sizeof big, out);
	assert_int_equal(n, BM_MB_TCP_MAX);
	assert_memory_equal(out, big, BM_MB_TCP_MAX);
	assert_int_equal(S.requests, 4);
	assert_int_equal(S.exceptions, 1);
}

static void test_tcp_frame_len(void **state)
{
	(void)state;
	/* every partial prefix of a valid ADU needs more bytes */
	for (size_t k = 0; k < sizeof ADU_READ; k++)
		assert_int_equal(bm_mb_tcp_frame_len(ADU_READ, k), 0);
	/* more than one ADU: the first one's length */
	uint8_t two[24];
	memcpy(two, ADU_READ, 12);
	memcpy(two + 12, ADU_READ, 12);
	for (size_t k = 12; k <= sizeof two; k++)
		assert_int_equal(bm_mb_tcp_frame_len(two, k), 12);
	/* protocol id not 0: known bad from the byte that shows it */
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x01, 0x00, 0x06, 0x01, 0x03)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x01)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00)), 0);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x80)), BM_E_FORMAT);
	/* length field 0, 1, 255, 256 and more */
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x00, 0x00)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x00, 0xFF)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x01, 0x00)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x01)), BM_E_FORMAT);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF)), BM_E_FORMAT);
	/* 2 and 254 are the bounds */
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01)), 0);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x41)), 8);
	assert_int_equal(bm_mb_tcp_frame_len(B(0x00, 0x01, 0x00, 0x00, 0x00, 0xFE)), 0);
}

static void test_tcp_stream(void **state)
{
	(void)state;
	/* two ADUs back to back in one buffer, as one read() may bring them */
	uint8_t buf[] = { 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x0A, 0x00, 0x02,
			  0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06, 0x00, 0x0A, 0x12, 0x34,
			  0x00, 0x03, 0x00, 0x00 };
	uint8_t out[BM_MB_TCP_MAX + GUARD];
	size_t off = 0;
	int fl = bm_mb_tcp_frame_len(buf, sizeof buf);
	assert_int_equal(fl, 12);
	assert_int_equal(tcp(&OPS, buf, (size_t)fl, out), 13);
	mem_eq(out, B(0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x04, 0x00, 0x0A, 0x00, 0x0B));
	off += (size_t)fl;
	fl = bm_mb_tcp_frame_len(buf + off, sizeof buf - off);
	assert_int_equal(fl, 12);
	assert_int_equal(tcp(&OPS, buf + off, (size_t)fl, out), 12);
	assert_memory_equal(out, buf + off, 12);
	assert_int_equal(F.reg[10], 0x1234);
	off += (size_t)fl;
	/* the third one has only 4 bytes so far */
	assert_int_equal(bm_mb_tcp_frame_len(buf + off, sizeof buf - off), 0);
}

static void test_tcp_errors(void **state)
{
	(void)state;
	uint8_t out[BM_MB_TCP_MAX + GUARD];
	/* a unit nobody answers for: 0x0B for the request's function */
	size_t n = tcp(&OPS, B(0x12, 0x34, 0x00, 0x00, 0x00, 0x06, 0x07, 0x03, 0x00, 0x00, 0x00, 0x01), out);
	assert_int_equal(n, 9);
	mem_eq(out, B(0x12, 0x34, 0x00, 0x00, 0x00, 0x03, 0x07, 0x83, 0x0B));
	n = tcp(&OPS, B(0x00, 0x09, 0x00, 0x00, 0x00, 0x06, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00), out);
	mem_eq(out, B(0x00, 0x09, 0x00, 0x00, 0x00, 0x03, 0x00, 0x90, 0x0B));
	assert_int_equal(n, 9);
	assert_int_equal(F.reads + F.writes, 0);
	assert_int_equal(S.exceptions, 2);
	/* without unit_ok every unit is served */
	bm_mb_ops any = OPS;
	any.unit_ok = NULL;
	n = tcp(&any, B(0x00, 0x05, 0x00, 0x00, 0x00, 0x06, 0x07, 0x04, 0x00, 0x0A, 0x00, 0x01), out);
	mem_eq(out, B(0x00, 0x05, 0x00, 0x00, 0x00, 0x05, 0x07, 0x04, 0x02, 0x00, 0x0A));
	assert_int_equal(n, 11);
	assert_int_equal(F.unit, 7);
	/* not one whole well-formed ADU: nothing sent, counted */
	assert_int_equal(tcp(&OPS, ADU_READ, sizeof ADU_READ - 1, out), 0);
	uint8_t longer[13];
	memcpy(longer, ADU_READ, 12);
	longer[12] = 0;
	assert_int_equal(tcp(&OPS, longer, sizeof longer, out), 0);
	assert_int_equal(tcp(&OPS, B(0x00, 0x01, 0x00, 0x01, 0x00, 0x06, 0x01, 0x03, 0x00, 0x0A, 0x00, 0x02), out), 0);
	assert_int_equal(tcp(&OPS, B(0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01), out), 0);
	assert_int_equal(S.bad_frames, 4);
	/* a truncated PDU inside a well-formed ADU gets its exception */
	n = tcp(&OPS, B(0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03), out);
	assert_int_equal(n, 9);
	mem_eq(out, B(0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x01, 0x83, 0x03));
}

/* -------------------------------------------------------- RTU detector */

/* At 9600 baud: t3.5 = 4011 µs, one character 1146 µs. */
#define T35 4011u
#define CH 1146u

static void test_rx_split_frame(void **state)
{
	(void)state;
	bm_mb_rtu_rx rx;
	uint8_t fr[BM_MB_RTU_MAX];
	size_t fl = 999;
	const uint8_t req[] = { 0x01, 0x03, 0x00, 0x0A, 0x00, 0x02, 0xE4, 0x09 };
	bm_mb_rtu_rx_init(&rx, 9600);
	assert_int_equal(rx.t35_us, T35);
	assert_int_equal(rx.char_us, CH);
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, 0), UINT32_MAX);
	assert_false(bm_mb_rtu_rx_poll(&rx, 100000, fr, sizeof fr, &fl));

	/* three reads with gaps below t3.5 between the bytes */
	uint32_t t = 1000;
	assert_false(bm_mb_rtu_rx_push(&rx, req, 3, t, fr, sizeof fr, &fl));
	t += 2 * CH + 3000; /* 2 bytes, their first started 3000 µs after the last */
	assert_false(bm_mb_rtu_rx_push(&rx, req + 3, 2, t, fr, sizeof fr, &fl));
	t += 3 * CH + T35 - 1; /* silence 1 µs short of t3.5 */
	assert_false(bm_mb_rtu_rx_push(&rx, req + 5, 3, t, fr, sizeof fr, &fl));
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t), T35);
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t + 1000), T35 - 1000);
	assert_false(bm_mb_rtu_rx_poll(&rx, t + T35 - 1, fr, sizeof fr, &fl));
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t + T35 - 1), 1);
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t + T35), 0);
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t + 10 * T35), 0);
	assert_true(bm_mb_rtu_rx_poll(&rx, t + T35, fr, sizeof fr, &fl));
	assert_int_equal(fl, sizeof req);
	assert_memory_equal(fr, req, sizeof req);
	/* consumed: nothing more, nothing waited for */
	assert_false(bm_mb_rtu_rx_poll(&rx, t + 2 * T35, fr, sizeof fr, &fl));
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t + 2 * T35), UINT32_MAX);

	/* and the frame is answered through the RTU layer */
	uint8_t out[BM_MB_RTU_MAX + GUARD];
	assert_int_equal(rtu(1, fr, fl, out), 9);
}

static void test_rx_gap_ends_frame(void **state)
{
	(void)state;
	bm_mb_rtu_rx rx;
	uint8_t fr[BM_MB_RTU_MAX];
	size_t fl = 0;
	const uint8_t a[] = { 0x11, 0x22, 0x33, 0x44 }, b[] = { 0x55, 0x66 };
	bm_mb_rtu_rx_init(&rx, 9600);
	/* exactly t3.5 of silence before b's first byte: a is a frame, returned
	 * by the push that brings b */
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, 5000, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_push(&rx, b, sizeof b, 5000 + T35 + 2 * CH, fr, sizeof fr, &fl));
	assert_int_equal(fl, 4);
	assert_memory_equal(fr, a, 4);
	/* b is held and ends by poll */
	assert_true(bm_mb_rtu_rx_poll(&rx, 5000 + 2 * T35 + 2 * CH, fr, sizeof fr, &fl));
	assert_int_equal(fl, 2);
	assert_memory_equal(fr, b, 2);

	/* 1 µs less: a and b are one frame */
	bm_mb_rtu_rx_init(&rx, 9600);
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, 5000, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, b, sizeof b, 5000 + T35 + 2 * CH - 1, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_poll(&rx, 5000 + 2 * T35 + 2 * CH, fr, sizeof fr, &fl));
	assert_int_equal(fl, 6);
	mem_eq(fr, B(0x11, 0x22, 0x33, 0x44, 0x55, 0x66));

	/* a push with no bytes is a poll */
	bm_mb_rtu_rx_init(&rx, 9600);
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, 0, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, NULL, 0, T35 - 1, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_push(&rx, NULL, 0, T35, fr, sizeof fr, &fl));
	assert_int_equal(fl, 4);

	/* 115200 baud: t3.5 fixed at 1750 µs, a character 96 µs */
	bm_mb_rtu_rx_init(&rx, 115200);
	assert_int_equal(rx.t35_us, 1750);
	assert_int_equal(rx.char_us, 96);
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, 0, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, b, sizeof b, 1750 + 2 * 96 - 1, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_push(&rx, a, sizeof a, (1750 + 2 * 96 - 1) + 1750 + 4 * 96, fr, sizeof fr, &fl));
	assert_int_equal(fl, 6);
}

static void test_rx_overlong(void **state)
{
	(void)state;
	bm_mb_rtu_rx rx;
	uint8_t fr[BM_MB_RTU_MAX];
	uint8_t junk[100];
	size_t fl = 999;
	memset(junk, 0x5A, sizeof junk);
	bm_mb_rtu_rx_init(&rx, 19200);
	assert_int_equal(rx.t35_us, 2006);
	/* 300 bytes in small gaps: one overlong frame, dropped (length 0) */
	uint32_t t = 0;
	for (int i = 0; i < 3; i++) {
		t += 100 * rx.char_us;
		assert_false(bm_mb_rtu_rx_push(&rx, junk, sizeof junk, t, fr, sizeof fr, &fl));
	}
	assert_int_equal(rx.len, BM_MB_RTU_MAX);
	assert_true(bm_mb_rtu_rx_poll(&rx, t + 2006, fr, sizeof fr, &fl));
	assert_int_equal(fl, 0);
	/* exactly 256 bytes is not overlong */
	t += 10000;
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 100, t, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 100, t + 100 * rx.char_us, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 56, t + 156 * rx.char_us, fr, sizeof fr, &fl));
	t += 156 * rx.char_us;
	/* ended by a push: the overlong-free 256 bytes come out, 1 byte held */
	assert_true(bm_mb_rtu_rx_push(&rx, junk, 1, t + 2006 + rx.char_us, fr, sizeof fr, &fl));
	assert_int_equal(fl, 256);
	/* an overlong frame ended by a push: length 0 */
	bm_mb_rtu_rx_init(&rx, 19200);
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 100, 0, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 100, 100 * rx.char_us, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 57, 157 * rx.char_us, fr, sizeof fr, &fl));
	fl = 999;
	assert_true(bm_mb_rtu_rx_push(&rx, junk, 8, 157 * rx.char_us + 2006 + 8 * rx.char_us, fr, sizeof fr, &fl));
	assert_int_equal(fl, 0);
	assert_true(bm_mb_rtu_rx_poll(&rx, 1000000, fr, sizeof fr, &fl));
	assert_int_equal(fl, 8);
	/* a caller without room for a frame loses it, and nothing breaks */
	assert_false(bm_mb_rtu_rx_push(&rx, junk, 8, 2000000, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_poll(&rx, 3000000, fr, BM_MB_RTU_MAX - 1, &fl));
	assert_false(bm_mb_rtu_rx_poll(&rx, 3000001, fr, sizeof fr, &fl));
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, 3000001), UINT32_MAX);
}

static void test_rx_wrap(void **state)
{
	(void)state;
	bm_mb_rtu_rx rx;
	uint8_t fr[BM_MB_RTU_MAX];
	size_t fl = 0;
	const uint8_t a[] = { 1, 2, 3 }, b[] = { 4, 5 };
	bm_mb_rtu_rx_init(&rx, 9600);
	/* the counter wraps between two bytes of one frame and during the silence */
	uint32_t t = UINT32_MAX - 2000u;
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, t, fr, sizeof fr, &fl));
	t += 2 * CH + 1000; /* wraps */
	assert_true(t < 5000);
	assert_false(bm_mb_rtu_rx_push(&rx, b, sizeof b, t, fr, sizeof fr, &fl));
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, t + 11), T35 - 11);
	assert_false(bm_mb_rtu_rx_poll(&rx, t + T35 - 1, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_poll(&rx, t + T35, fr, sizeof fr, &fl));
	assert_int_equal(fl, 5);
	mem_eq(fr, B(1, 2, 3, 4, 5));
	/* last byte just before the wrap, poll just after */
	t = UINT32_MAX - 10u;
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, t, fr, sizeof fr, &fl));
	assert_int_equal(bm_mb_rtu_rx_wait_us(&rx, 20), T35 - 31);
	assert_false(bm_mb_rtu_rx_poll(&rx, T35 - 12, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_poll(&rx, T35 - 11, fr, sizeof fr, &fl));
	assert_int_equal(fl, 3);
	/* a silence across the wrap ended by a push */
	t = UINT32_MAX - 100u;
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, t, fr, sizeof fr, &fl));
	assert_true(bm_mb_rtu_rx_push(&rx, b, sizeof b, t + T35 + 2 * CH, fr, sizeof fr, &fl));
	assert_int_equal(fl, 3);
	assert_memory_equal(fr, a, 3);
	/* a very long push at a low baud: n character times beyond 32 bits */
	uint8_t many[1000];
	memset(many, 0, sizeof many);
	bm_mb_rtu_rx_init(&rx, 1);
	assert_false(bm_mb_rtu_rx_push(&rx, a, sizeof a, 0, fr, sizeof fr, &fl));
	assert_false(bm_mb_rtu_rx_push(&rx, many, sizeof many, UINT32_MAX, fr, sizeof fr, &fl));
}

/* ------------------------------------------------------- random inputs */

static uint32_t rng = 0x2545F491u;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A PDU of at most max (>= 8) bytes: mostly a well-formed request of a
 * served function with values near the limits, sometimes damaged (cut,
 * lengthened, one byte changed), sometimes random bytes. */
static size_t gen_pdu(uint8_t *p, size_t max)
{
	size_t len;
	uint32_t addr = rnd() % 2 ? rnd() % 1100 : rnd() & 0xFFFF;
	uint32_t kind = rnd() % 8, n;
	for (size_t i = 0; i < max; i++)
		p[i] = (uint8_t)rnd();
	switch (kind) {
	case 0:
	case 1:
		p[0] = kind ? 0x03 : 0x04;
		put16(p + 1, addr);
		put16(p + 3, rnd() % 4 == 0 ? rnd() : 1 + rnd() % 130);
		len = 5;
		break;
	case 2:
		p[0] = 0x06;
		put16(p + 1, addr);
		if (rnd() % 4 == 0)
			put16(p + 3, 0xDEAD);
		len = 5;
		break;
	case 3:
		n = rnd() % 4 == 0 ? rnd() % 256 : 1 + rnd() % 125;
		p[0] = 0x10;
		put16(p + 1, addr);
		put16(p + 3, n);
		p[5] = (uint8_t)(rnd() % 8 == 0 ? rnd() : 2 * n);
		len = 6 + 2 * n < max ? 6 + 2 * n : max;
		break;
	case 4:
		p[0] = 0x08;
		if (rnd() % 4 != 0)
			p[1] = p[2] = 0;
		len = 3 + rnd() % (max - 2);
		break;
	case 5:
		p[0] = 0x2B;
		if (rnd() % 8 != 0)
			p[1] = 0x0E;
		p[2] = (uint8_t)(rnd() % 6);
		p[3] = (uint8_t)(rnd() % 4 == 0 ? rnd() : rnd() % 9);
		len = 4;
		break;
	default:
		len = 1 + rnd() % max;
		break;
	}
	if (rnd() % 4 == 0) {
		if (rnd() % 2)
			len = 1 + rnd() % max;
		else
			p[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
	}
	return len;
}

static void test_random_inputs(void **state)
{
	(void)state;
	uint8_t in[300 + 7 + 3];
	uint8_t out[BM_MB_TCP_MAX + GUARD];
	char longs[3][300];
	for (int k = 0; k < 3; k++) {
		memset(longs[k], 'x' + k, sizeof longs[k] - 1);
		longs[k][sizeof longs[k] - 1] = '\0';
	}
	unsigned answered = 0, ex = 0, rtu_out = 0, tcp_out = 0;
	for (unsigned it = 0; it < 30000; it++) {
		/* vary the device identification: NULL, short, long */
		for (int k = 0; k < BM_MB_ID_COUNT; k++) {
			uint32_t r = rnd() % 4;
			F.id[k] = r == 0 ? NULL : r == 1 ? "id" : longs[rnd() % 3] + rnd() % 299;
		}
		/* PDU */
		size_t len = gen_pdu(in, 300);
		memset(out, GUARD_BYTE, sizeof out);
		bool bc = rnd() % 8 == 0;
		int n = bm_mb_pdu_handle(&OPS, &F, 1, bc, in, len, out, BM_MB_PDU_MAX, &S);
		check_guard(out, BM_MB_PDU_MAX);
		assert_true(n >= 0 && n <= (int)BM_MB_PDU_MAX);
		if (bc)
			assert_int_equal(n, 0);
		else {
			assert_true(n >= 2);
			if (out[0] == (in[0] | 0x80)) {
				assert_int_equal(n, 2);
				assert_true(out[1] >= 1 && out[1] <= 4);
				ex++;
			} else {
				assert_int_equal(out[0], in[0]);
				answered++;
			}
		}

		/* RTU: random bytes or an ADU around a generated PDU, mostly a
		 * correct CRC */
		if (rnd() % 4 == 0) {
			len = rnd() % 300;
			for (size_t i = 0; i < len; i++)
				in[i] = (uint8_t)rnd();
		} else {
			len = 1 + gen_pdu(in + 1, 254);
			static const uint8_t addrs[] = { 0, 1, 1, 1, 2, 247, 255 };
			in[0] = addrs[rnd() % sizeof addrs];
			if (rnd() % 8 != 0) {
				add_crc(in, len);
				len += 2;
			}
		}
		memset(out, GUARD_BYTE, sizeof out);
		size_t m = bm_mb_rtu_handle(&OPS, &F, 1, in, len, out, BM_MB_RTU_MAX, &S);
		check_guard(out, BM_MB_RTU_MAX);
		assert_true(m <= BM_MB_RTU_MAX);
		if (m > 0) {
			rtu_out++;
			assert_true(m >= 5);
			assert_int_equal(out[0], 1);
			assert_int_equal(in[0], 1);
			assert_int_equal(ref_crc16(out, m), 0);
		}

		/* TCP: header from a generated PDU, sometimes a wrong length */
		size_t plen = gen_pdu(in + 7, 300);
		in[0] = (uint8_t)rnd();
		in[1] = (uint8_t)rnd();
		in[2] = in[3] = rnd() % 16 == 0 ? (uint8_t)rnd() : 0;
		unsigned lf = rnd() % 8 == 0 ? rnd() % 300 : (unsigned)(plen + 1);
		in[4] = (uint8_t)(lf >> 8);
		in[5] = (uint8_t)lf;
		static const uint8_t units[] = { 0, 1, 255, 7 };
		in[6] = units[rnd() % sizeof units];
		len = 7 + plen;
		int fl = bm_mb_tcp_frame_len(in, len);
		assert_true(fl == BM_E_FORMAT || (fl >= 0 && fl <= (int)BM_MB_TCP_MAX));
		if (fl > 0)
			len = (size_t)fl;
		memset(out, GUARD_BYTE, sizeof out);
		m = bm_mb_tcp_handle(&OPS, &F, in, len, out, BM_MB_TCP_MAX, &S);
		check_guard(out, BM_MB_TCP_MAX);
		assert_true(m <= BM_MB_TCP_MAX);
		assert_int_equal(m > 0, fl > 0);
		if (m > 0) {
			tcp_out++;
			assert_true(m >= 9);
			assert_memory_equal(out, in, 2);
			assert_int_equal(out[2] | out[3], 0);
			assert_int_equal(out[4] << 8 | out[5], m - 6);
			assert_int_equal(out[6], in[6]);
		}
	}
	/* the generator reaches both sides */
	print_message("random: PDU %u normal, %u exceptions; RTU %u and TCP %u answered\n", answered, ex, rtu_out,
		      tcp_out);
	assert_true(answered > 1000);
	assert_true(ex > 1000);
	assert_true(rtu_out > 1000);
	assert_true(tcp_out > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16),
		cmocka_unit_test(test_timing),
		cmocka_unit_test_setup(test_read_normal, fk_setup),
		cmocka_unit_test_setup(test_read_exceptions, fk_setup),
		cmocka_unit_test_setup(test_bogus_ops, fk_setup),
		cmocka_unit_test_setup(test_write_single, fk_setup),
		cmocka_unit_test_setup(test_write_multiple, fk_setup),
		cmocka_unit_test_setup(test_write_multiple_exceptions, fk_setup),
		cmocka_unit_test_setup(test_diagnostics, fk_setup),
		cmocka_unit_test_setup(test_devid_stream, fk_setup),
		cmocka_unit_test_setup(test_devid_individual, fk_setup),
		cmocka_unit_test_setup(test_devid_exceptions, fk_setup),
		cmocka_unit_test_setup(test_devid_more_follows, fk_setup),
		cmocka_unit_test_setup(test_unknown_functions, fk_setup),
		cmocka_unit_test_setup(test_bad_args, fk_setup),
		cmocka_unit_test_setup(test_pdu_broadcast, fk_setup),
		cmocka_unit_test_setup(test_rtu_normal, fk_setup),
		cmocka_unit_test_setup(test_rtu_errors, fk_setup),
		cmocka_unit_test_setup(test_rtu_broadcast, fk_setup),
		cmocka_unit_test_setup(test_tcp_normal, fk_setup),
		cmocka_unit_test_setup(test_tcp_frame_len, fk_setup),
		cmocka_unit_test_setup(test_tcp_stream, fk_setup),
		cmocka_unit_test_setup(test_tcp_errors, fk_setup),
		cmocka_unit_test_setup(test_rx_split_frame, fk_setup),
		cmocka_unit_test(test_rx_gap_ends_frame),
		cmocka_unit_test(test_rx_overlong),
		cmocka_unit_test(test_rx_wrap),
		cmocka_unit_test_setup(test_random_inputs, fk_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
