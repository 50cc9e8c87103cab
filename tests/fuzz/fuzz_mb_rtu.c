/*
 * fuzz_mb_rtu.c — libFuzzer target for Modbus RTU: the frame handler
 * (bm_mb_rtu_handle) and the t3.5 frame-end detector (bm_mb_rtu_rx_*) of
 * core/src/modbus.c.
 *
 * Input: byte 0 is flags: bits 0..1 the server address (1, 2, 17, 247),
 * bits 2..4 the baud (1200..115200), bits 5..7 where the microsecond clock
 * starts (up to 21 ms before it wraps). The rest is used twice:
 *  1. as one frame for bm_mb_rtu_handle, as is and with a correct CRC
 *     appended (random bytes almost never carry one);
 *  2. as a byte stream for the detector: a control byte c, then (c & 7) + 1
 *     data bytes pushed at once, after a silence chosen by c >> 4 (fractions
 *     of t3.5, t3.5 - 1 and exactly t3.5); bit 3 asks for a poll after a
 *     second silence chosen by the same code. Every frame the detector ends
 *     goes to bm_mb_rtu_handle (as is and with a CRC) too.
 *
 * Invariants checked (__builtin_trap on violation):
 *  - the output buffer is malloc'ed with exactly BM_MB_RTU_MAX bytes (ASan
 *    guards it); a response is 0 or 5..256 bytes, for our address only,
 *    with a correct CRC; nothing answers a broadcast;
 *  - the detector ends a frame exactly when the silence before a push is at
 *    least t3.5 (with the pushed bytes' n character times taken off) or the
 *    silence before a poll is at least t3.5, computed here independently
 *    from the baud; the frame it hands out is exactly the bytes pushed since
 *    the last end, or length 0 when they were more than 256; wait_us is 0
 *    exactly when poll would end the frame, and counts down otherwise.
 * Seeds: tests/fuzz/corpus/mb_rtu/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bm/modbus.h"

#define NREG 64u

static uint16_t reg[NREG];

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
	if (broadcast != (unit == 0) || count < 1 || count > BM_MB_WRITE_MAX || (uint32_t)addr + count > 0x10000u)
		__builtin_trap();
	if ((uint32_t)addr + count > NREG)
		return BM_MB_EX_ILLEGAL_ADDRESS;
	memcpy(reg + addr, regs, count * sizeof *regs);
	return 0;
}

static const char *fk_devid(void *ctx, uint8_t unit, uint8_t id)
{
	static const char *const ids[BM_MB_ID_COUNT] = { "bm", "BM-4", "0.1", "https://example.org", NULL, NULL, "fw" };
	(void)ctx;
	if (unit == 0 || id >= BM_MB_ID_COUNT)
		__builtin_trap();
	return ids[id];
}

static const bm_mb_ops ops = { NULL, fk_read, fk_write, fk_devid };

static uint8_t addr;
static uint8_t *out;

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

static void handle_one(const uint8_t *f, size_t len)
{
	bm_mb_stats st = { 0, 0, 0, 0 };
	size_t n = bm_mb_rtu_handle(&ops, NULL, addr, f, len, out, BM_MB_RTU_MAX, &st);
	bool good = len >= 4 && len <= BM_MB_RTU_MAX && ref_crc16(f, len) == 0;
	if (n > BM_MB_RTU_MAX || (n > 0 && n < 5))
		__builtin_trap();
	if (!good && (n != 0 || st.bad_frames != 1 || st.requests != 0))
		__builtin_trap();
	if (good && (f[0] != addr) && (n != 0 || st.ignored != 1))
		__builtin_trap();
	if (good && f[0] == addr && n == 0)
		__builtin_trap(); /* a request to us is always answered */
	if (n > 0 && (out[0] != addr || ref_crc16(out, n) != 0 || (out[1] & 0x7Fu) != (f[1] & 0x7Fu)))
		__builtin_trap();
}

/* The frame as given, and with a correct CRC in place of its last 2 bytes
 * added (so the fuzzer needs not find CRCs). */
static void handle(const uint8_t *f, size_t len)
{
	static uint8_t tmp[BM_MB_RTU_MAX + 2];
	handle_one(f, len);
	if (len >= 2 && len <= BM_MB_RTU_MAX) {
		memcpy(tmp, f, len);
		uint16_t c = ref_crc16(tmp, len);
		tmp[len] = (uint8_t)c;
		tmp[len + 1] = (uint8_t)(c >> 8);
		handle_one(tmp, len + 2);
	}
}

/* The silence for a gap code: 0..13 eighths of t3.5, t3.5 - 1, t3.5. */
static uint32_t gap_us(unsigned code, uint32_t t35)
{
	if (code == 14)
		return t35 - 1;
	if (code == 15)
		return t35;
	return (uint32_t)((uint64_t)t35 * code / 8u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t addrs[4] = { 1, 2, 17, 247 };
	static const uint32_t bauds[8] = { 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200 };
	if (out == NULL)
		out = malloc(BM_MB_RTU_MAX); /* exactly the cap: ASan guards the end */
	if (size < 1 || out == NULL)
		return 0;
	addr = addrs[data[0] & 3u];
	uint32_t baud = bauds[(data[0] >> 2) & 7u];
	uint32_t now = UINT32_MAX - (uint32_t)(data[0] >> 5) * 3000u;
	for (unsigned i = 0; i < NREG; i++)
		reg[i] = (uint16_t)(i * 0x0101u);
	data++;
	size--;

	handle(data, size);

	/* the detector, against an independent model of it */
	uint32_t t35 = baud > 19200 ? 1750u : (38500000u + baud - 1) / baud;
	uint32_t ch = (11000000u + baud - 1) / baud;
	static bm_mb_rtu_rx rx;
	static uint8_t frame[BM_MB_RTU_MAX];
	static uint8_t model[4096]; /* bytes pushed since the last frame end */
	size_t mlen = 0, flen;
	uint32_t last = now;
	bm_mb_rtu_rx_init(&rx, baud);
	if (rx.t35_us != t35 || bm_mb_rtu_rx_wait_us(&rx, now) != UINT32_MAX)
		__builtin_trap();
	size_t i = 0;
	while (i < size) {
		unsigned c = data[i++];
		size_t n = (c & 7u) + 1;
		if (n > size - i)
			n = size - i;
		if (n == 0)
			break;
		uint32_t gap = gap_us(c >> 4, t35);
		now = last + gap + (uint32_t)n * ch; /* the first byte began `gap` after the last one */
		flen = 9999;
		bool ended = bm_mb_rtu_rx_push(&rx, data + i, n, now, frame, sizeof frame, &flen);
		if (ended != (mlen > 0 && gap >= t35))
			__builtin_trap();
		if (ended) {
			if (flen != (mlen > BM_MB_RTU_MAX ? 0 : mlen) || memcmp(frame, model, flen) != 0)
				__builtin_trap();
			handle(frame, flen);
			mlen = 0;
		}
		if (mlen + n <= sizeof model)
			memcpy(model + mlen, data + i, n);
		mlen += n; /* past the model's room only the count matters: overlong */
		i += n;
		last = now;

		if (c & 8u) {
			uint32_t later = now + gap_us(c >> 4, t35);
			uint32_t w = bm_mb_rtu_rx_wait_us(&rx, later);
			bool due = later - last >= t35;
			if ((w == 0) != due || (!due && w != t35 - (later - last)))
				__builtin_trap();
			flen = 9999;
			ended = bm_mb_rtu_rx_poll(&rx, later, frame, sizeof frame, &flen);
			if (ended != due)
				__builtin_trap();
			if (ended) {
				if (flen != (mlen > BM_MB_RTU_MAX ? 0 : mlen) || memcmp(frame, model, flen) != 0)
					__builtin_trap();
				handle(frame, flen);
				mlen = 0;
				if (bm_mb_rtu_rx_wait_us(&rx, later) != UINT32_MAX)
					__builtin_trap();
			}
			/* a later push's silence counts from the last byte, not the poll */
		}
	}
	/* whatever is held ends at a late enough poll */
	flen = 9999;
	bool ended = bm_mb_rtu_rx_poll(&rx, last + t35, frame, sizeof frame, &flen);
	if (ended != (mlen > 0) || (ended && flen != (mlen > BM_MB_RTU_MAX ? 0 : mlen)))
		__builtin_trap();
	if (ended)
		handle(frame, flen);
	return 0;
}
