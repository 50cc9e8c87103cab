/*
 * modbus.h — the Modbus application protocol and its RTU and TCP framing,
 * sans-I/O (issue #5).
 *
 * Purpose: turn request bytes into response bytes. The caller moves bytes
 * (serial port, socket, MCU UART) and decides when an RTU frame has ended;
 * the register space behind the protocol is reached through bm_mb_ops, so
 * registers are computed on demand and several unit ids can be served.
 * Specification: "MODBUS Application Protocol Specification V1.1b3" (PDU,
 * exception codes, FC 43/14), "MODBUS over Serial Line V1.02" (RTU: CRC-16,
 * t1.5 / t3.5), "MODBUS Messaging on TCP/IP Implementation Guide V1.0b" (MBAP).
 *
 * Invariants:
 *  - No allocation, no clock, no I/O: buffers belong to the caller.
 *  - A response is written only into the caller's buffer and never exceeds
 *    BM_MB_PDU_MAX (PDU), BM_MB_RTU_MAX (RTU ADU) or BM_MB_TCP_MAX (TCP ADU).
 *  - The order of checks for each function follows the specification's state
 *    diagrams: function supported (else exception 01), quantity and byte
 *    count (else 03), address range (else 02, decided by ops), then the
 *    operation itself (02 / 03 / 04 from ops).
 *  - A write reaches ops->write once, with all its registers: all-or-nothing
 *    is the register space's promise, and it keeps it.
 *
 * Functions served: 03 and 04 (read; 1..125 registers), 06 (write one), 16
 * (write 1..123), 08 sub-function 00 (return query data: the request PDU is
 * echoed; other sub-functions answer 01), 43 MEI 14 (read device
 * identification, objects 0..6, conformity level 0x82). Anything else
 * answers exception 01.
 */
#ifndef BM_MODBUS_H
#define BM_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"

/* Exception codes (positive, as err.h promises). */
enum {
	BM_MB_EX_NONE = 0,
	BM_MB_EX_ILLEGAL_FUNCTION = 0x01,
	BM_MB_EX_ILLEGAL_ADDRESS = 0x02,
	BM_MB_EX_ILLEGAL_VALUE = 0x03,
	BM_MB_EX_DEVICE_FAILURE = 0x04,
	BM_MB_EX_GATEWAY_TARGET = 0x0B /* TCP: a unit id nobody answers for */
};

#define BM_MB_PDU_MAX 253  /* function code + data */
#define BM_MB_RTU_MAX 256  /* address + PDU + CRC */
#define BM_MB_TCP_MAX 260  /* 7-byte MBAP header + PDU */
#define BM_MB_READ_MAX 125 /* registers per FC 03 / 04 */
#define BM_MB_WRITE_MAX 123 /* registers per FC 16 */

/* Device identification object ids (FC 43/14). */
enum {
	BM_MB_ID_VENDOR = 0,
	BM_MB_ID_PRODUCT_CODE = 1,
	BM_MB_ID_REVISION = 2,
	BM_MB_ID_VENDOR_URL = 3,
	BM_MB_ID_PRODUCT_NAME = 4,
	BM_MB_ID_MODEL_NAME = 5,
	BM_MB_ID_APP_NAME = 6,
	BM_MB_ID_COUNT = 7
};

/*
 * The register space behind the protocol. `ctx` is the caller's (for example
 * one per TCP connection, so a password unlock can belong to a connection).
 * Register values are in host order; the codec does the big-endian bytes.
 */
typedef struct bm_mb_ops {
	/* Whether this unit id is served at all (TCP: else exception 0x0B). NULL:
	 * every unit id. RTU framing does not call it (it filters by address). */
	bool (*unit_ok)(void *ctx, uint8_t unit);
	/* Read `count` (1..125) registers from `addr` into regs. Returns 0 or an
	 * exception code (02 address, 04 failure). addr + count never exceeds
	 * 0x10000 here (the codec answers 02 first). */
	int (*read)(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs);
	/* Write `count` (1..123) registers at `addr`: all or nothing. Returns 0 or
	 * an exception code (02 address / read-only, 03 value, 04 failure).
	 * `broadcast` is true for RTU address 0 (no reply will be sent). */
	int (*write)(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool broadcast);
	/* Device identification object `id` (0..6): its text, or NULL if absent. */
	const char *(*devid)(void *ctx, uint8_t unit, uint8_t id);
} bm_mb_ops;

/* Counters a server may keep per port (diagnostics; all optional). */
typedef struct bm_mb_stats {
	uint32_t requests;     /* PDUs handled */
	uint32_t exceptions;   /* exception responses sent */
	uint32_t bad_frames;   /* RTU CRC / length errors, TCP MBAP errors */
	uint32_t ignored;      /* RTU frames for other addresses; broadcasts */
} bm_mb_stats;

/*
 * One request PDU (function code + data, `len` >= 1 bytes) for `unit`.
 * Writes the response PDU to resp (cap >= BM_MB_PDU_MAX) and returns its
 * length (> 0): the normal response or the 2-byte exception response
 * (function | 0x80, code). A PDU whose length does not match its function's
 * format answers exception 03. Returns BM_E_INVAL for len == 0, NULL
 * pointers or cap < BM_MB_PDU_MAX. With broadcast set, reads and FC 43 are
 * not executed (and return 0: no reply); writes and FC 08 are executed and
 * return 0 as well. stats may be NULL.
 */
int bm_mb_pdu_handle(const bm_mb_ops *ops, void *ctx, uint8_t unit, bool broadcast, const uint8_t *req, size_t len,
                     uint8_t *resp, size_t cap, bm_mb_stats *stats);

/* --- RTU ------------------------------------------------------------------ */

/* CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of n bytes. The frame
 * carries it low byte first. */
uint16_t bm_mb_crc16(const uint8_t *p, size_t n);

/* Character times for 11-bit characters at `baud` (2400..115200 typical; 0
 * is treated as 9600): t1.5 and t3.5 in microseconds, rounded up. Above
 * 19200 baud the fixed 750 µs and 1750 µs of the serial-line specification. */
uint32_t bm_mb_rtu_t15_us(uint32_t baud);
uint32_t bm_mb_rtu_t35_us(uint32_t baud);

/*
 * One received RTU frame (the bytes between two silences of at least t3.5).
 * `addr` is this server's address (1..247). Returns the length of the
 * response ADU written to out (cap >= BM_MB_RTU_MAX), or 0 when nothing is to
 * be sent: a frame shorter than 4 bytes or longer than 256, a bad CRC,
 * another address, or a broadcast (address 0, executed if it is a write).
 * Never returns a negative value for any input bytes (NULL ops or out, or a
 * small cap, give 0 too).
 */
size_t bm_mb_rtu_handle(const bm_mb_ops *ops, void *ctx, uint8_t addr, const uint8_t *frame, size_t len,
                        uint8_t *out, size_t cap, bm_mb_stats *stats);

/*
 * The RTU frame-end detector for a byte stream with arrival times: bytes
 * come in with bm_mb_rtu_rx_push(); a frame ends when the line has been
 * silent for t3.5. On an MCU, call push from the UART interrupt and poll
 * from a timer; on Linux, push after each read() and poll when poll() times
 * out. Times are a free-running microsecond counter (wrap-around safe).
 * Bytes past BM_MB_RTU_MAX in one frame mark it overlong: it is dropped.
 */
typedef struct bm_mb_rtu_rx {
	uint8_t buf[BM_MB_RTU_MAX];
	uint16_t len;
	bool overlong;
	bool active;      /* bytes held since the last frame end */
	uint32_t last_us; /* arrival time of the last byte */
	uint32_t t35_us;
	uint32_t char_us; /* one 11-bit character at the real baud (push's n
	                   * character times; t3.5 is fixed above 19200 baud) */
} bm_mb_rtu_rx;

void bm_mb_rtu_rx_init(bm_mb_rtu_rx *rx, uint32_t baud);
/*
 * Bytes p[0..n) arrived, the last at now_us. If the bytes held before them
 * were followed by a silence of at least t3.5 (now_us - n character times is
 * after last_us + t3.5), those bytes are a finished frame that the caller has
 * not polled yet: they are returned first — the function copies them to
 * frame (cap >= BM_MB_RTU_MAX), sets *flen (0 for an overlong frame, as
 * poll) and returns true, and the new bytes start the next frame. Otherwise
 * returns false. n == 0 is a poll.
 */
bool bm_mb_rtu_rx_push(bm_mb_rtu_rx *rx, const uint8_t *p, size_t n, uint32_t now_us, uint8_t *frame, size_t cap,
                       size_t *flen);
/* At now_us: if bytes are held and the line has been silent for t3.5,
 * copies the frame out (true, *flen; 0 length for an overlong frame, which is
 * dropped) and starts afresh. */
bool bm_mb_rtu_rx_poll(bm_mb_rtu_rx *rx, uint32_t now_us, uint8_t *frame, size_t cap, size_t *flen);
/* Microseconds from now_us until poll would end the frame (0 if it would
 * now; UINT32_MAX if nothing is held): a timeout for poll(2). */
uint32_t bm_mb_rtu_rx_wait_us(const bm_mb_rtu_rx *rx, uint32_t now_us);

/* --- TCP ------------------------------------------------------------------ */

/*
 * Looks at the bytes received so far on a connection (buf[0..len)). Returns
 * the length of the complete ADU at the start of buf (> 0), 0 if more bytes
 * are needed, or BM_E_FORMAT for an invalid MBAP header (protocol id not 0,
 * length field < 2 or > 254): the connection should be closed, as the
 * implementation guide advises, since the stream can no longer be framed.
 * A bad header is reported as soon as its first bad byte is in buf.
 * BM_E_INVAL for a NULL buf with len > 0.
 */
int bm_mb_tcp_frame_len(const uint8_t *buf, size_t len);

/*
 * One complete ADU (as bm_mb_tcp_frame_len found it). Writes the response
 * ADU (same transaction id and unit id) to out (cap >= BM_MB_TCP_MAX) and
 * returns its length; 0 if nothing is to be sent (never for a well-formed
 * ADU). A unit id that ops->unit_ok refuses answers exception 0x0B.
 */
size_t bm_mb_tcp_handle(const bm_mb_ops *ops, void *ctx, const uint8_t *adu, size_t len, uint8_t *out, size_t cap,
                        bm_mb_stats *stats);

#endif /* BM_MODBUS_H */
