/*
 * fuzz_mb_tcp.c — libFuzzer target for Modbus TCP framing
 * (bm_mb_tcp_frame_len, bm_mb_tcp_handle in core/src/modbus.c).
 *
 * Input: byte 0 is flags (bit 0: no unit_ok, every unit served; else units
 * 1 and 255 only); the rest is what a connection received, handled as a
 * server does: frame_len, handle that many bytes, move on, until frame_len
 * asks for more bytes (0) or gives up on the stream (an error).
 *
 * Invariants checked (__builtin_trap on violation):
 *  - the output buffer is malloc'ed with exactly BM_MB_TCP_MAX bytes (ASan
 *    guards it);
 *  - frame_len returns 0, BM_E_FORMAT or 8..260 and never more than it was
 *    given; it agrees with the header as the implementation guide defines it
 *    (protocol 0, length 2..254), and every shorter prefix of a complete ADU
 *    gives 0;
 *  - every complete ADU is answered with 9..260 bytes: same transaction id,
 *    protocol 0, a length field that matches, the same unit; a refused unit
 *    gets exactly exception 0x0B.
 * Seeds: tests/fuzz/corpus/mb_tcp/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bm/modbus.h"

#define NREG 64u

static uint16_t reg[NREG];

static bool fk_unit_ok(void *ctx, uint8_t unit)
{
	(void)ctx;
	return unit == 1 || unit == 255;
}

static int fk_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	(void)ctx;
	(void)unit;
	if (count < 1 || count > BM_MB_READ_MAX || (uint32_t)addr + count > 0x10000u)
		__builtin_trap();
	if ((uint32_t)addr + count > NREG)
		return BM_MB_EX_ILLEGAL_ADDRESS;
	memcpy(regs, reg + addr, count * sizeof *regs);
	return 0;
}

static int fk_write(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool broadcast)
{
	(void)ctx;
	(void)unit;
	if (broadcast || count < 1 || count > BM_MB_WRITE_MAX || (uint32_t)addr + count > 0x10000u)
		__builtin_trap();
	if ((uint32_t)addr + count > NREG)
		return BM_MB_EX_ILLEGAL_ADDRESS;
	memcpy(reg + addr, regs, count * sizeof *regs);
	return 0;
}

static const char *fk_devid(void *ctx, uint8_t unit, uint8_t id)
{
	static const char *const ids[BM_MB_ID_COUNT] = { "bm", "BM-4", "0.1", NULL, "branchmeter", "4ch", "fw" };
	(void)ctx;
	(void)unit;
	if (id >= BM_MB_ID_COUNT)
		__builtin_trap();
	return ids[id];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *out;
	static const bm_mb_ops with_units = { fk_unit_ok, fk_read, fk_write, fk_devid };
	static const bm_mb_ops any_unit = { NULL, fk_read, fk_write, fk_devid };
	if (out == NULL)
		out = malloc(BM_MB_TCP_MAX); /* exactly the cap: ASan guards the end */
	if (size < 1 || out == NULL)
		return 0;
	const bm_mb_ops *ops = (data[0] & 1u) ? &any_unit : &with_units;
	for (unsigned i = 0; i < NREG; i++)
		reg[i] = (uint16_t)(i * 0x0101u);
	data++;
	size--;

	size_t off = 0;
	for (;;) {
		const uint8_t *a = data + off;
		size_t avail = size - off;
		int fl = bm_mb_tcp_frame_len(a, avail);
		/* the independent verdict on the header */
		bool bad = (avail > 2 && a[2] != 0) || (avail > 3 && a[3] != 0) || (avail > 4 && a[4] != 0) ||
			   (avail > 5 && (a[5] < 2 || a[5] > 254));
		if (bad) {
			if (fl != BM_E_FORMAT)
				__builtin_trap();
			break;
		}
		if (avail < 6 || avail < 6u + a[5]) {
			if (fl != 0)
				__builtin_trap();
			break;
		}
		if (fl != 6 + a[5])
			__builtin_trap();
		/* every prefix of a complete ADU needs more bytes */
		for (size_t k = 0; k < (size_t)fl; k++)
			if (bm_mb_tcp_frame_len(a, k) != 0)
				__builtin_trap();

		bm_mb_stats st = { 0, 0, 0, 0 };
		size_t n = bm_mb_tcp_handle(ops, NULL, a, (size_t)fl, out, BM_MB_TCP_MAX, &st);
		if (n < 9 || n > BM_MB_TCP_MAX || out[0] != a[0] || out[1] != a[1] || out[2] != 0 || out[3] != 0 ||
		    ((size_t)out[4] << 8 | out[5]) != n - 6 || out[6] != a[6] || st.requests != 1 || st.bad_frames != 0)
			__builtin_trap();
		bool served = ops->unit_ok == NULL || ops->unit_ok(NULL, a[6]);
		if (!served && (n != 9 || out[7] != (a[7] | 0x80u) || out[8] != BM_MB_EX_GATEWAY_TARGET))
			__builtin_trap();
		if (served && (out[7] & 0x7Fu) != (a[7] & 0x7Fu))
			__builtin_trap();
		/* and a slice that is not exactly one ADU is not answered */
		if (avail > (size_t)fl && bm_mb_tcp_handle(ops, NULL, a, (size_t)fl + 1, out, BM_MB_TCP_MAX, &st) != 0)
			__builtin_trap();
		if (bm_mb_tcp_handle(ops, NULL, a, (size_t)fl - 1, out, BM_MB_TCP_MAX, &st) != 0)
			__builtin_trap();
		off += (size_t)fl;
	}
	return 0;
}
