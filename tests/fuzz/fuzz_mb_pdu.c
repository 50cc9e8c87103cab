/*
 * fuzz_mb_pdu.c — libFuzzer target for the Modbus PDU handler
 * (bm_mb_pdu_handle in core/src/modbus.c).
 *
 * Input: byte 0 is flags (bit 0 broadcast; bits 1..2 the device
 * identification variant: normal, mandatory objects missing, long objects
 * that need "more follows", all absent), the rest is the request PDU.
 *
 * Invariants checked (__builtin_trap on violation, so the fuzzer reports):
 *  - the response buffer is malloc'ed with exactly BM_MB_PDU_MAX bytes, so
 *    AddressSanitizer stops any write past it;
 *  - BM_E_INVAL only for an empty PDU; a broadcast never answers; otherwise
 *    2..BM_MB_PDU_MAX bytes: an exception (fc | 0x80, code 1..4, 2 bytes) or
 *    a normal response whose shape matches its function exactly (read: 2 +
 *    2 * quantity, writes and FC 08: the echo, FC 43: objects that add up to
 *    the length, in increasing id order, "more follows" consistent);
 *  - the register space (fk_*) only ever sees the codec's contract: read
 *    1..125, write 1..123 registers, addr + count <= 0x10000, the broadcast
 *    flag of the request, no read at all for a broadcast.
 * Seeds: tests/fuzz/corpus/mb_pdu/ (one valid request per function).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bm/modbus.h"

#define NREG 64u

static uint16_t reg[NREG];
static bool bcast;
static int variant;
static char longtext[BM_MB_ID_COUNT][200];

static int fk_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	(void)ctx;
	(void)unit;
	if (bcast || count < 1 || count > BM_MB_READ_MAX || (uint32_t)addr + count > 0x10000u)
		__builtin_trap();
	if ((uint32_t)addr + count > NREG)
		return BM_MB_EX_ILLEGAL_ADDRESS;
	if (addr == 13)
		return BM_MB_EX_DEVICE_FAILURE;
	memcpy(regs, reg + addr, count * sizeof *regs);
	return 0;
}

static int fk_write(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool broadcast)
{
	(void)ctx;
	(void)unit;
	if (broadcast != bcast || count < 1 || count > BM_MB_WRITE_MAX || (uint32_t)addr + count > 0x10000u)
		__builtin_trap();
	if ((uint32_t)addr + count > NREG || addr < 8)
		return BM_MB_EX_ILLEGAL_ADDRESS; /* 0..7 read-only */
	for (unsigned i = 0; i < count; i++)
		if (regs[i] == 0xFFFF)
			return BM_MB_EX_ILLEGAL_VALUE;
	memcpy(reg + addr, regs, count * sizeof *regs);
	return 0;
}

static const char *fk_devid(void *ctx, uint8_t unit, uint8_t id)
{
	static const char *const normal[BM_MB_ID_COUNT] = { "bm", "BM-4", "0.1", NULL, "branchmeter", NULL, "fw" };
	(void)ctx;
	(void)unit;
	if (bcast || id >= BM_MB_ID_COUNT)
		__builtin_trap();
	switch (variant) {
	case 0:
		return normal[id];
	case 1:
		return id <= 2 ? NULL : normal[id];
	case 2:
		return longtext[id] + id * 10; /* 199 - 10 * id characters */
	default:
		return NULL;
	}
}

static const bm_mb_ops ops = { NULL, fk_read, fk_write, fk_devid };

/* The normal response to req[0..len) has the shape its function defines. */
static void check_normal(const uint8_t *req, size_t len, const uint8_t *r, int n)
{
	switch (req[0]) {
	case 0x03:
	case 0x04: {
		unsigned q = (unsigned)req[3] << 8 | req[4];
		if (len != 5 || q < 1 || q > BM_MB_READ_MAX || n != 2 + 2 * (int)q || r[1] != 2 * q)
			__builtin_trap();
		break;
	}
	case 0x06:
	case 0x10:
		if (n != 5 || memcmp(r, req, 5) != 0)
			__builtin_trap();
		break;
	case 0x08:
		if ((size_t)n != len || memcmp(r, req, len) != 0 || r[1] != 0 || r[2] != 0)
			__builtin_trap();
		break;
	case 0x2B: {
		if (len != 4 || n < 7 || r[1] != 0x0E || r[2] != req[2] || r[3] != 0x82)
			__builtin_trap();
		int pos = 7, last = -1;
		for (unsigned k = 0; k < r[6]; k++) {
			if (pos + 2 > n || r[pos] <= last || r[pos] >= BM_MB_ID_COUNT)
				__builtin_trap();
			last = r[pos];
			pos += 2 + r[pos + 1];
		}
		if (pos != n || r[6] == 0)
			__builtin_trap();
		if (r[4] == 0x00 ? r[5] != 0 : (r[4] != 0xFF || r[5] <= last || req[2] == 4))
			__builtin_trap();
		break;
	}
	default:
		__builtin_trap(); /* no other function has a normal response */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *resp;
	if (resp == NULL) {
		resp = malloc(BM_MB_PDU_MAX); /* exactly the cap: ASan guards the end */
		for (int k = 0; k < BM_MB_ID_COUNT; k++) {
			memset(longtext[k], 'a' + k, sizeof longtext[k] - 1);
			longtext[k][sizeof longtext[k] - 1] = '\0';
		}
	}
	if (size < 1 || resp == NULL)
		return 0;
	bcast = data[0] & 1u;
	variant = (data[0] >> 1) & 3;
	const uint8_t *req = data + 1;
	size_t len = size - 1;
	for (unsigned i = 0; i < NREG; i++)
		reg[i] = (uint16_t)(i * 0x0101u);

	bm_mb_stats st = { 0, 0, 0, 0 };
	int n = bm_mb_pdu_handle(&ops, NULL, (uint8_t)(data[0] >> 3), bcast, req, len, resp, BM_MB_PDU_MAX, &st);
	if (len == 0) {
		if (n != BM_E_INVAL)
			__builtin_trap();
		return 0;
	}
	if (st.requests != 1 || n < 0 || n > (int)BM_MB_PDU_MAX)
		__builtin_trap();
	if (bcast) {
		if (n != 0 || st.exceptions != 0)
			__builtin_trap();
		return 0;
	}
	if (n < 2)
		__builtin_trap();
	if (resp[0] == (req[0] | 0x80u)) {
		if (n != 2 || resp[1] < 1 || resp[1] > 4 || st.exceptions != 1)
			__builtin_trap();
	} else {
		if (resp[0] != req[0] || st.exceptions != 0)
			__builtin_trap();
		check_normal(req, len, resp, n);
	}
	return 0;
}
