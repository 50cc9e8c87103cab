/*
 * modbus.c — Modbus PDU handler, RTU and TCP framing, RTU frame-end detector
 * (see bm/modbus.h; issue #5).
 *
 * Invariants:
 *  - Every byte written to a response goes through a bound known before the
 *    write: a normal response is at most BM_MB_PDU_MAX bytes by construction
 *    (2 + 2*125 for reads, the request's own length for echoes, and FC 43
 *    checks each object against the room left), so no input can make the
 *    handler write past resp[BM_MB_PDU_MAX - 1]; the ADU layers add their
 *    fixed 3 (RTU) or 7 (TCP) bytes around it.
 *  - Nothing in a request is trusted before its length is checked: each
 *    function first checks the PDU length its format implies, then reads
 *    fields.
 *  - Checks follow the specification's state diagrams (function 01, then
 *    quantity / byte count / length 03, then address range 02, then ops), so
 *    ops->read and ops->write only ever see 1..125 / 1..123 registers with
 *    addr + count <= 0x10000.
 *  - Results from ops are not trusted either: a return outside 0..255 becomes
 *    exception 04, so a buggy register space cannot make a malformed reply.
 *  - A register space without read, write or devid (NULL) does not support
 *    the functions that need it: they answer 01.
 *  - Times in the RTU detector are differences of a free-running uint32_t
 *    microsecond counter, so the counter may wrap; a silence longer than
 *    2^32 µs (71 min) aliases, which poll() from a timer never lets happen.
 * No malloc, no clock, no I/O; the caller owns every buffer.
 */
#include "bm/modbus.h"

#include <string.h>

#define FC_READ_HOLDING 0x03u
#define FC_READ_INPUT 0x04u
#define FC_WRITE_SINGLE 0x06u
#define FC_DIAGNOSTICS 0x08u
#define FC_WRITE_MULTIPLE 0x10u
#define FC_MEI 0x2Bu
#define MEI_DEVICE_ID 0x0Eu
#define DEVID_CONFORMITY 0x82u /* regular identification, stream and individual access */
#define DEVID_HDR 7u           /* fc, MEI type, code, conformity, more, next id, count */
/* Longest object value: one object alone must fit a PDU, or "more follows"
 * could never make progress (253 - 7 header - 2 id/length = 244). */
#define DEVID_OBJ_MAX (BM_MB_PDU_MAX - DEVID_HDR - 2u)

_Static_assert(2u + 2u * BM_MB_READ_MAX <= BM_MB_PDU_MAX, "a full read must fit a PDU");
_Static_assert(6u + 2u * BM_MB_WRITE_MAX <= BM_MB_PDU_MAX, "a full write request must fit a PDU");
_Static_assert(BM_MB_RTU_MAX == 1u + BM_MB_PDU_MAX + 2u, "RTU ADU = address + PDU + CRC");
_Static_assert(BM_MB_TCP_MAX == 7u + BM_MB_PDU_MAX, "TCP ADU = MBAP + PDU");
_Static_assert(DEVID_OBJ_MAX <= 255u, "an object length is one byte");

/* --------------------------------------------------------------- helpers */

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An exception code from ops: 1..255 as given, anything else is a device
 * failure (04) rather than a reply that claims success or carries junk. */
static uint8_t ops_code(int rc)
{
	return (rc > 0 && rc <= 0xFF) ? (uint8_t)rc : BM_MB_EX_DEVICE_FAILURE;
}

/* The 2-byte exception response; 0 (nothing sent) for a broadcast. */
static int exception(uint8_t fc, uint8_t code, bool broadcast, uint8_t *resp, bm_mb_stats *st)
{
	if (broadcast)
		return 0;
	resp[0] = (uint8_t)(fc | 0x80u);
	resp[1] = code;
	if (st)
		st->exceptions++;
	return 2;
}

/* strlen bounded by max, without strnlen (POSIX, not C11). */
static size_t text_len(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n] != '\0')
		n++;
	return n;
}

/* ----------------------------------------------------------- functions */

/* FC 03 / 04. The request is fc, addr, quantity (5 bytes). */
static int fc_read(const bm_mb_ops *ops, void *ctx, uint8_t unit, bool broadcast, const uint8_t *req, size_t len,
		   uint8_t *resp, bm_mb_stats *st)
{
	uint8_t fc = req[0];
	if (ops->read == NULL)
		return exception(fc, BM_MB_EX_ILLEGAL_FUNCTION, broadcast, resp, st);
	if (broadcast)
		return 0; /* a read has nobody to answer to: not executed */
	if (len != 5)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	uint16_t addr = get_be16(req + 1), n = get_be16(req + 3);
	if (n < 1 || n > BM_MB_READ_MAX)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	if ((uint32_t)addr + n > 0x10000u)
		return exception(fc, BM_MB_EX_ILLEGAL_ADDRESS, broadcast, resp, st);

	/* zeroed so a register space that skips a register leaks no stack */
	uint16_t regs[BM_MB_READ_MAX];
	memset(regs, 0, sizeof regs);
	int rc = ops->read(ctx, unit, addr, n, regs);
	if (rc != 0)
		return exception(fc, ops_code(rc), broadcast, resp, st);
	resp[0] = fc;
	resp[1] = (uint8_t)(2u * n);
	for (unsigned i = 0; i < n; i++)
		put_be16(resp + 2 + 2 * i, regs[i]);
	return 2 + 2 * (int)n;
}

/* FC 06: fc, addr, value (5 bytes); the normal response echoes the request. */
static int fc_write_single(const bm_mb_ops *ops, void *ctx, uint8_t unit, bool broadcast, const uint8_t *req,
			   size_t len, uint8_t *resp, bm_mb_stats *st)
{
	uint8_t fc = req[0];
	if (ops->write == NULL)
		return exception(fc, BM_MB_EX_ILLEGAL_FUNCTION, broadcast, resp, st);
	if (len != 5)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	/* any value 0..0xFFFF is in range for the codec; one register always
	 * fits the address space */
	uint16_t addr = get_be16(req + 1), v = get_be16(req + 3);
	int rc = ops->write(ctx, unit, addr, 1, &v, broadcast);
	if (rc != 0)
		return exception(fc, ops_code(rc), broadcast, resp, st);
	if (broadcast)
		return 0;
	memcpy(resp, req, 5);
	return 5;
}

/* FC 16: fc, addr, quantity, byte count, values; answered fc, addr, quantity. */
static int fc_write_multiple(const bm_mb_ops *ops, void *ctx, uint8_t unit, bool broadcast, const uint8_t *req,
			     size_t len, uint8_t *resp, bm_mb_stats *st)
{
	uint8_t fc = req[0];
	if (ops->write == NULL)
		return exception(fc, BM_MB_EX_ILLEGAL_FUNCTION, broadcast, resp, st);
	if (len < 6)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	uint16_t addr = get_be16(req + 1), n = get_be16(req + 3);
	uint8_t bytes = req[5];
	if (n < 1 || n > BM_MB_WRITE_MAX || bytes != 2u * n || len != 6u + bytes)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	if ((uint32_t)addr + n > 0x10000u)
		return exception(fc, BM_MB_EX_ILLEGAL_ADDRESS, broadcast, resp, st);

	uint16_t regs[BM_MB_WRITE_MAX];
	for (unsigned i = 0; i < n; i++)
		regs[i] = get_be16(req + 6 + 2 * i);
	/* one call with every register: the register space's all-or-nothing */
	int rc = ops->write(ctx, unit, addr, n, regs, broadcast);
	if (rc != 0)
		return exception(fc, ops_code(rc), broadcast, resp, st);
	if (broadcast)
		return 0;
	memcpy(resp, req, 5);
	return 5;
}

/* FC 08: fc, sub-function, data. Only 0x0000 (return query data) is served,
 * and it echoes the whole request PDU. */
static int fc_diagnostics(bool broadcast, const uint8_t *req, size_t len, uint8_t *resp, bm_mb_stats *st)
{
	uint8_t fc = req[0];
	if (len < 3 || len > BM_MB_PDU_MAX)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	if (get_be16(req + 1) != 0x0000u)
		return exception(fc, BM_MB_EX_ILLEGAL_FUNCTION, broadcast, resp, st);
	if (broadcast)
		return 0; /* executed: echoing has no effect to execute */
	memcpy(resp, req, len);
	return (int)len;
}

/* Object `id` of device identification: its text; the mandatory basic
 * objects (0..2) read as "" when the register space has none. */
static const char *devid_text(const bm_mb_ops *ops, void *ctx, uint8_t unit, uint8_t id)
{
	const char *s = ops->devid(ctx, unit, id);
	if (s == NULL && id <= BM_MB_ID_REVISION)
		s = "";
	return s;
}

/* FC 43 / MEI 14: fc, MEI type, read device id code, object id (4 bytes). */
static int fc_mei(const bm_mb_ops *ops, void *ctx, uint8_t unit, bool broadcast, const uint8_t *req, size_t len,
		  uint8_t *resp, bm_mb_stats *st)
{
	uint8_t fc = req[0];
	if (len < 2)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	if (req[1] != MEI_DEVICE_ID || ops->devid == NULL)
		return exception(fc, BM_MB_EX_ILLEGAL_FUNCTION, broadcast, resp, st);
	if (broadcast)
		return 0; /* a read: not executed */
	if (len != 4)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);
	uint8_t code = req[2], first = req[3], last;
	if (code < 1 || code > 4)
		return exception(fc, BM_MB_EX_ILLEGAL_VALUE, broadcast, resp, st);

	if (code == 4) {
		/* individual access: exactly that object, or 02 */
		if (first >= BM_MB_ID_COUNT || devid_text(ops, ctx, unit, first) == NULL)
			return exception(fc, BM_MB_EX_ILLEGAL_ADDRESS, broadcast, resp, st);
		last = first;
	} else {
		/* 1 basic 0..2; 2 regular 0..6; 3 extended = regular, as we
		 * have no objects 0x80..0xFF. An object id the device does not
		 * know (outside the category, or absent) restarts at 0, as the
		 * specification asks. */
		last = code == 1 ? BM_MB_ID_REVISION : BM_MB_ID_APP_NAME;
		if (first > last || devid_text(ops, ctx, unit, first) == NULL)
			first = 0;
	}

	size_t pos = DEVID_HDR;
	uint8_t more = 0x00, next = 0x00, nobj = 0;
	for (unsigned id = first; id <= last; id++) {
		const char *s = devid_text(ops, ctx, unit, (uint8_t)id);
		if (s == NULL)
			continue;
		size_t n = text_len(s, DEVID_OBJ_MAX);
		if (pos + 2 + n > BM_MB_PDU_MAX) {
			/* never for the first object (DEVID_OBJ_MAX), so the
			 * client always makes progress */
			more = 0xFF;
			next = (uint8_t)id;
			break;
		}
		resp[pos] = (uint8_t)id;
		resp[pos + 1] = (uint8_t)n;
		memcpy(resp + pos + 2, s, n);
		pos += 2 + n;
		nobj++;
	}
	resp[0] = fc;
	resp[1] = MEI_DEVICE_ID;
	resp[2] = code;
	resp[3] = DEVID_CONFORMITY;
	resp[4] = more;
	resp[5] = next;
	resp[6] = nobj;
	return (int)pos;
}

int bm_mb_pdu_handle(const bm_mb_ops *ops, void *ctx, uint8_t unit, bool broadcast, const uint8_t *req, size_t len,
		     uint8_t *resp, size_t cap, bm_mb_stats *stats)
{
	if (ops == NULL || req == NULL || resp == NULL || len == 0 || cap < BM_MB_PDU_MAX)
		return BM_E_INVAL;
	if (stats)
		stats->requests++;
	switch (req[0]) {
	case FC_READ_HOLDING:
	case FC_READ_INPUT:
		return fc_read(ops, ctx, unit, broadcast, req, len, resp, stats);
	case FC_WRITE_SINGLE:
		return fc_write_single(ops, ctx, unit, broadcast, req, len, resp, stats);
	case FC_WRITE_MULTIPLE:
		return fc_write_multiple(ops, ctx, unit, broadcast, req, len, resp, stats);
	case FC_DIAGNOSTICS:
		return fc_diagnostics(broadcast, req, len, resp, stats);
	case FC_MEI:
		return fc_mei(ops, ctx, unit, broadcast, req, len, resp, stats);
	default:
		return exception(req[0], BM_MB_EX_ILLEGAL_FUNCTION, broadcast, resp, stats);
	}
}

/* ------------------------------------------------------------------- RTU */

/* Nibble table of the reflected polynomial 0xA001: 32 bytes of rodata. */
static const uint16_t crc16_nibble[16] = {
	0x0000u, 0xCC01u, 0xD801u, 0x1400u, 0xF001u, 0x3C00u, 0x2800u, 0xE401u,
	0xA001u, 0x6C00u, 0x7800u, 0xB401u, 0x5000u, 0x9C01u, 0x8801u, 0x4400u,
};

uint16_t bm_mb_crc16(const uint8_t *p, size_t n)
{
	uint16_t c = 0xFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		c = (uint16_t)((c >> 4) ^ crc16_nibble[c & 0x0Fu]);
		c = (uint16_t)((c >> 4) ^ crc16_nibble[c & 0x0Fu]);
	}
	return c;
}

/* `tenths` / 10 character times of 11 bits at `baud` (0: 9600) in µs,
 * rounded up. No overflow: 1.1e6 * 35 is below 2^32. */
static uint32_t char_times_us(uint32_t baud, uint32_t tenths)
{
	uint32_t x = 1100000u * tenths;
	if (baud == 0)
		baud = 9600;
	return x / baud + (x % baud != 0);
}

uint32_t bm_mb_rtu_t15_us(uint32_t baud)
{
	/* Serial Line V1.02 §2.5.1.1: fixed values above 19200 baud, where the
	 * computed ones would be too short for UART and interrupt latency. */
	return baud > 19200u ? 750u : char_times_us(baud, 15);
}

uint32_t bm_mb_rtu_t35_us(uint32_t baud)
{
	return baud > 19200u ? 1750u : char_times_us(baud, 35);
}

size_t bm_mb_rtu_handle(const bm_mb_ops *ops, void *ctx, uint8_t addr, const uint8_t *frame, size_t len,
			uint8_t *out, size_t cap, bm_mb_stats *stats)
{
	if (ops == NULL || frame == NULL || out == NULL || cap < BM_MB_RTU_MAX)
		return 0;
	if (len < 4 || len > BM_MB_RTU_MAX) {
		if (stats)
			stats->bad_frames++;
		return 0;
	}
	uint16_t crc = bm_mb_crc16(frame, len - 2);
	if (frame[len - 2] != (uint8_t)crc || frame[len - 1] != (uint8_t)(crc >> 8)) {
		if (stats)
			stats->bad_frames++;
		return 0;
	}
	if (frame[0] == 0) {
		/* broadcast: writes are executed, nothing is ever answered */
		if (stats)
			stats->ignored++;
		(void)bm_mb_pdu_handle(ops, ctx, 0, true, frame + 1, len - 3, out + 1, cap - 1, stats);
		return 0;
	}
	if (frame[0] != addr) {
		if (stats)
			stats->ignored++;
		return 0;
	}
	int n = bm_mb_pdu_handle(ops, ctx, addr, false, frame + 1, len - 3, out + 1, cap - 1, stats);
	if (n <= 0 || n > (int)BM_MB_PDU_MAX)
		return 0; /* not reached: the PDU is at least 1 byte, unicast answers */
	out[0] = addr;
	crc = bm_mb_crc16(out, 1u + (size_t)n);
	out[1 + n] = (uint8_t)crc;
	out[2 + n] = (uint8_t)(crc >> 8);
	return 3u + (size_t)n;
}

void bm_mb_rtu_rx_init(bm_mb_rtu_rx *rx, uint32_t baud)
{
	if (rx == NULL)
		return;
	memset(rx, 0, sizeof *rx);
	rx->t35_us = bm_mb_rtu_t35_us(baud);
	rx->char_us = char_times_us(baud, 10);
}

/* Hands the held frame out (0 bytes if it was overlong) and empties rx.
 * A caller without room for a frame loses it: its cap broke the contract. */
static bool rx_take(bm_mb_rtu_rx *rx, uint8_t *frame, size_t cap, size_t *flen)
{
	bool ok = frame != NULL && flen != NULL && cap >= BM_MB_RTU_MAX;
	if (ok) {
		*flen = rx->overlong ? 0 : rx->len;
		if (*flen > 0)
			memcpy(frame, rx->buf, *flen);
	}
	rx->len = 0;
	rx->overlong = false;
	rx->active = false;
	return ok;
}

bool bm_mb_rtu_rx_push(bm_mb_rtu_rx *rx, const uint8_t *p, size_t n, uint32_t now_us, uint8_t *frame, size_t cap,
		       size_t *flen)
{
	if (rx == NULL)
		return false;
	if (n == 0 || p == NULL)
		return bm_mb_rtu_rx_poll(rx, now_us, frame, cap, flen);

	bool ended = false;
	if (rx->active) {
		/* The first new byte began n character times before now_us: the
		 * silence is the time from last_us to then. In 64 bits, since n
		 * character times at a low baud may exceed 32 bits (n capped so
		 * the product cannot overflow: char_us < 2^24). Elapsed time is
		 * a uint32_t difference, so the counter may wrap. */
		uint64_t chars = n;
		if (chars > UINT32_MAX)
			chars = UINT32_MAX;
		uint32_t elapsed = now_us - rx->last_us;
		uint64_t need = (uint64_t)rx->t35_us + chars * rx->char_us;
		if (elapsed >= need)
			ended = rx_take(rx, frame, cap, flen);
	}
	for (size_t i = 0; i < n; i++) {
		if (rx->len < BM_MB_RTU_MAX)
			rx->buf[rx->len++] = p[i];
		else
			rx->overlong = true;
	}
	rx->active = true;
	rx->last_us = now_us;
	return ended;
}

bool bm_mb_rtu_rx_poll(bm_mb_rtu_rx *rx, uint32_t now_us, uint8_t *frame, size_t cap, size_t *flen)
{
	if (rx == NULL || !rx->active || (uint32_t)(now_us - rx->last_us) < rx->t35_us)
		return false;
	return rx_take(rx, frame, cap, flen);
}

uint32_t bm_mb_rtu_rx_wait_us(const bm_mb_rtu_rx *rx, uint32_t now_us)
{
	if (rx == NULL || !rx->active)
		return UINT32_MAX;
	uint32_t elapsed = now_us - rx->last_us;
	return elapsed >= rx->t35_us ? 0 : rx->t35_us - elapsed;
}

/* ------------------------------------------------------------------- TCP */

int bm_mb_tcp_frame_len(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (buf == NULL)
		return BM_E_INVAL;
	/* Judge each header byte as soon as it is there, so a stream that can
	 * never be framed is closed at once rather than waited on. Protocol id
	 * (bytes 2, 3) must be 0; the length (bytes 4, 5) 2..254, so its high
	 * byte is 0 too. */
	for (size_t i = 2; i < 5 && i < len; i++)
		if (buf[i] != 0)
			return BM_E_FORMAT;
	if (len < 6)
		return 0;
	unsigned n = buf[5];
	if (n < 2 || n > BM_MB_TCP_MAX - 6u)
		return BM_E_FORMAT;
	return len < 6u + n ? 0 : (int)(6u + n);
}

size_t bm_mb_tcp_handle(const bm_mb_ops *ops, void *ctx, const uint8_t *adu, size_t len, uint8_t *out, size_t cap,
			bm_mb_stats *stats)
{
	if (ops == NULL || adu == NULL || out == NULL || cap < BM_MB_TCP_MAX)
		return 0;
	int fl = bm_mb_tcp_frame_len(adu, len);
	if (fl <= 0 || (size_t)fl != len) {
		if (stats)
			stats->bad_frames++;
		return 0;
	}
	uint8_t unit = adu[6];
	int n;
	if (ops->unit_ok != NULL && !ops->unit_ok(ctx, unit)) {
		if (stats)
			stats->requests++;
		n = exception(adu[7], BM_MB_EX_GATEWAY_TARGET, false, out + 7, stats);
	} else {
		n = bm_mb_pdu_handle(ops, ctx, unit, false, adu + 7, len - 7, out + 7, cap - 7, stats);
	}
	if (n <= 0 || n > (int)BM_MB_PDU_MAX)
		return 0; /* not reached: a well-formed ADU is always answered */
	out[0] = adu[0];
	out[1] = adu[1];
	out[2] = 0;
	out[3] = 0;
	put_be16(out + 4, (uint16_t)(1 + n));
	out[6] = unit;
	return 7u + (size_t)n;
}
