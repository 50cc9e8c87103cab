/*
 * mbserver.h — Modbus TCP and RTU servers on Linux: sockets, a serial port,
 * one poll() thread. The protocol is the core's (bm/modbus.h); this file
 * only moves bytes and keeps time.
 *
 * Invariants:
 *  - One thread serves everything (the listener, up to max_clients TCP
 *    connections, the serial line) with non-blocking I/O; a slow or hostile
 *    client can delay only itself: a connection whose output cannot be
 *    written is closed, one that sends nothing for idle_s is closed, one that
 *    sends an invalid MBAP header is closed.
 *  - Connections past max_clients are accepted and closed at once (the
 *    client sees a clean close, not a hang).
 *  - Every request is handled through hooks->ops with the session pointer of
 *    its connection (TCP) or of the serial line, so state such as a password
 *    unlock belongs to one connection.
 *  - The serial line: termios raw 8 data bits, the configured baud, parity
 *    and stop bits; RS-485 mode (TIOCSRS485, RTS on send) when asked for and
 *    the driver supports it (else a note, and the port works as RS-232).
 *    Frames end by a t3.5 silence (bm_mb_rtu_rx); broadcasts get no reply.
 */
#ifndef BM_MBSERVER_H
#define BM_MBSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/err.h"
#include "bm/modbus.h"

typedef struct bm_mbsrv_rtu_cfg {
	const char *device; /* e.g. /dev/ttyUSB0; NULL = no RTU server */
	uint32_t baud;      /* 1200..115200 (termios B-constants) */
	char parity;        /* 'N', 'E' or 'O' */
	uint8_t stop_bits;  /* 1 or 2 */
	uint8_t addr;       /* 1..247 */
	bool rs485;         /* try TIOCSRS485 */
} bm_mbsrv_rtu_cfg;

typedef struct bm_mbsrv_cfg {
	const char *tcp_host;  /* address to bind, NULL = all ("0.0.0.0"); "127.0.0.1" for local */
	int tcp_port;          /* 0 = pick a free port (see bm_mbsrv_tcp_port); -1 = no TCP server */
	unsigned max_clients;  /* 1..1024, default 32 */
	double idle_s;         /* close a TCP connection silent this long; default 60 */
	bm_mbsrv_rtu_cfg rtu;
} bm_mbsrv_cfg;

enum { BM_MBSRV_TCP = 0, BM_MBSRV_RTU = 1 };

typedef struct bm_mbsrv_hooks {
	const bm_mb_ops *ops;
	/* A new session (a TCP connection or the serial line): returns the ctx
	 * passed to ops for its requests (may be NULL). */
	void *(*session_open)(void *user, int kind);
	void (*session_close)(void *user, void *session);
	/* Called once per poll() round before its requests are handled (e.g.
	 * to take a fresh snapshot); may be NULL. */
	void (*before_requests)(void *user);
	void *user;
} bm_mbsrv_hooks;

typedef struct bm_mbsrv_counters {
	uint64_t requests;      /* requests answered or executed (both transports) */
	uint64_t connections;   /* TCP connections accepted and served */
	uint64_t refused;       /* TCP connections closed at once: over max_clients */
	uint64_t closed_idle;   /* TCP connections closed for idleness */
	uint64_t closed_bad;    /* TCP: invalid MBAP, unwritable output */
	uint64_t rtu_frames;    /* RTU frames received (any address) */
	uint64_t rtu_bad;       /* RTU frames dropped: CRC, length */
} bm_mbsrv_counters;

typedef struct bm_mbsrv bm_mbsrv;

/* Opens the listener and the serial port and starts the server thread.
 * BM_OK; BM_E_INVAL (a bad setting, message says which); BM_E_IO (bind,
 * open or termios failed; message says what and errno's text). */
bm_err bm_mbsrv_start(bm_mbsrv **out, const bm_mbsrv_cfg *cfg, const bm_mbsrv_hooks *hooks, char *err, size_t errlen);
/* Stops the thread, closes every connection, frees. NULL is fine. */
void bm_mbsrv_stop(bm_mbsrv *s);
/* The TCP port actually listened on (useful with tcp_port 0), or -1. */
int bm_mbsrv_tcp_port(const bm_mbsrv *s);
/* Changes the serial line's settings (baud, parity, stop bits, address)
 * from the server thread's next round: for a configuration write that must
 * be answered at the old settings first. BM_OK or BM_E_INVAL. */
bm_err bm_mbsrv_set_rtu(bm_mbsrv *s, const bm_mbsrv_rtu_cfg *rtu);
/* A copy of the counters (thread-safe). */
void bm_mbsrv_get_counters(const bm_mbsrv *s, bm_mbsrv_counters *out);

#endif /* BM_MBSERVER_H */
