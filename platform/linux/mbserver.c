/*
 * mbserver.c — Modbus TCP and RTU servers on Linux (see mbserver.h).
 *
 * Purpose: move bytes between sockets, a serial port and the core's sans-I/O
 * codec (bm/modbus.h), and keep the time the codec needs for RTU frame ends.
 *
 * Invariants:
 *  - After start, only the server thread touches the connections, the serial
 *    port and the RTU receiver. Other threads reach the server through `lock`
 *    (counters, a pending serial setting, the stop flag) and the wake pipe.
 *  - Every complete ADU in a connection's buffer is answered in the round it
 *    arrived, so at most one incomplete ADU (< BM_MB_TCP_MAX bytes) is left
 *    over: a buffer of 2 * BM_MB_TCP_MAX always has room for one more.
 *  - One recv() per readable connection per round: a client that pipelines
 *    without pause gets one buffer's worth of answers per round, the others
 *    get theirs in the same round.
 *  - Nothing in the loop waits for a client: sockets are non-blocking and a
 *    response that does not fit in the socket's send buffer closes its
 *    connection (the client stopped reading; queueing for it would let it
 *    hold memory or, with a blocking send, stall everyone). The serial write
 *    waits only while the tty's output buffer is full, and not longer than
 *    the frame's wire time plus a second; it does not wait for the bytes to
 *    leave (see serial_write).
 *  - Every session_open has exactly one session_close (a closed connection,
 *    or stop()).
 *  - A descriptor that keeps reporting errors (a serial adapter unplugged, a
 *    pty whose other end closed, accept() out of descriptors) is left out of
 *    poll() for QUIET_NS, so the loop does not spin on it.
 */
#define _DEFAULT_SOURCE /* cfmakeraw(), CRTSCTS: not in POSIX */
#include "msg.h"
#include "mbserver.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum {
	CONN_BUF = 2 * BM_MB_TCP_MAX,
	MAX_CLIENTS_DEFAULT = 32,
	MAX_CLIENTS_LIMIT = 1024,
	ACCEPTS_PER_ROUND = 64, /* a connect storm still lets the round serve requests */
	SERIAL_READS_PER_ROUND = 16,
	LISTEN_BACKLOG = 128
};

#define IDLE_DEFAULT_S 60.0
#define IDLE_MAX_S 1e7                    /* ~4 months: keeps idle_ns far from overflow */
#define QUIET_NS (200ull * 1000 * 1000)   /* pause for a descriptor in error */
#define SERIAL_WRITE_SLACK_MS 1000        /* on top of the frame's wire time */

typedef struct conn {
	int fd;           /* -1: the slot is free */
	void *session;
	uint64_t last_ns; /* when bytes last arrived (or the accept) */
	size_t len;
	uint8_t buf[CONN_BUF];
} conn;

struct bm_mbsrv {
	bm_mbsrv_hooks hooks;
	unsigned max_clients;
	uint64_t idle_ns;
	int wake_rd, wake_wr;
	int listen_fd; /* -1: no TCP server */
	int port;
	uint64_t listen_quiet_until;
	conn *conns;         /* max_clients slots */
	struct pollfd *pfd;  /* 3 + max_clients */
	int *pfd_slot;       /* pfd index -> conn slot (or -1) */
	bool round_started;  /* before_requests was called this round */

	int serial_fd; /* -1: no RTU server */
	char *device;
	bm_mbsrv_rtu_cfg rtu; /* settings in force (server thread) */
	void *rtu_session;
	bool rtu_session_open;
	bm_mb_rtu_rx rx;
	uint64_t serial_quiet_until;

	pthread_t thread;
	bool thread_started;

	/* Shared with other threads: under lock. */
	pthread_mutex_t lock;
	bool stop;
	bool rtu_pending;
	bm_mbsrv_rtu_cfg rtu_next;
	bm_mbsrv_counters cnt;
};



static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The codec's free-running microsecond clock: wraps every ~71 minutes, which
 * bm_mb_rtu_rx handles. */
static uint32_t now_us32(void)
{
	return (uint32_t)(now_ns() / 1000u);
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	int fdfl = fcntl(fd, F_GETFD);
	if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

static void count(bm_mbsrv *s, uint64_t *field)
{
	pthread_mutex_lock(&s->lock);
	(*field)++;
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------ settings */

static bool baud_speed(uint32_t baud, speed_t *sp)
{
	static const struct {
		uint32_t baud;
		speed_t sp;
	} tab[] = {
		{ 1200, B1200 },   { 2400, B2400 },   { 4800, B4800 },   { 9600, B9600 },
		{ 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		if (tab[i].baud == baud) {
			if (sp)
				*sp = tab[i].sp;
			return true;
		}
	}
	return false;
}

static char parity_upper(char p)
{
	return (p == 'n' || p == 'e' || p == 'o') ? (char)(p - 'a' + 'A') : p;
}

/* Everything of an RTU setting except the device. */
static bm_err rtu_validate(const bm_mbsrv_rtu_cfg *r, char *err, size_t errlen)
{
	if (!baud_speed(r->baud, NULL)) {
		bm_msgf(err, errlen, "modbus rtu: unsupported baud %lu (1200, 2400, 4800, 9600, 19200, 38400, 57600 or 115200)",
			(unsigned long)r->baud);
		return BM_E_INVAL;
	}
	char p = parity_upper(r->parity);
	if (p != 'N' && p != 'E' && p != 'O') {
		bm_msgf(err, errlen, "modbus rtu: parity %d ('%c') must be 'N', 'E' or 'O'", r->parity,
			(r->parity >= 0x20 && r->parity < 0x7f) ? r->parity : '?');
		return BM_E_INVAL;
	}
	if (r->stop_bits != 1 && r->stop_bits != 2) {
		bm_msgf(err, errlen, "modbus rtu: stop_bits %u must be 1 or 2", (unsigned)r->stop_bits);
		return BM_E_INVAL;
	}
	if (r->addr < 1 || r->addr > 247) {
		bm_msgf(err, errlen, "modbus rtu: addr %u out of range 1..247", (unsigned)r->addr);
		return BM_E_INVAL;
	}
	return BM_OK;
}

static bm_err cfg_validate(const bm_mbsrv_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->max_clients > MAX_CLIENTS_LIMIT) {
		bm_msgf(err, errlen, "modbus tcp: max_clients %u out of range 1..%d", cfg->max_clients,
			MAX_CLIENTS_LIMIT);
		return BM_E_INVAL;
	}
	if (cfg->tcp_port < -1 || cfg->tcp_port > 65535) {
		bm_msgf(err, errlen, "modbus tcp: tcp_port %d out of range -1..65535", cfg->tcp_port);
		return BM_E_INVAL;
	}
	/* Written so that NaN fails too. */
	if (!(cfg->idle_s >= 0.0 && cfg->idle_s <= IDLE_MAX_S)) {
		bm_msgf(err, errlen, "modbus tcp: idle_s %g out of range 0..%g (0 = %g)", cfg->idle_s, IDLE_MAX_S,
			IDLE_DEFAULT_S);
		return BM_E_INVAL;
	}
	if (cfg->rtu.device) {
		if (cfg->rtu.device[0] == '\0') {
			bm_msgf(err, errlen, "modbus rtu: device is an empty string");
			return BM_E_INVAL;
		}
		return rtu_validate(&cfg->rtu, err, errlen);
	}
	return BM_OK;
}

/* ------------------------------------------------------------ serial */

/* Raw 8 data bits at r's speed, parity and stop bits. TCSADRAIN: a
 * response still being sent finishes at the settings it began with (the
 * reply to the very write that changed them). Input is kept: a master that
 * switched as soon as it had the reply may have sent its next request
 * already, and bytes received at the old settings fail the CRC anyway. */
static bm_err serial_apply(int fd, const char *dev, const bm_mbsrv_rtu_cfg *r, char *err, size_t errlen)
{
	struct termios t;
	speed_t sp = B9600;

	(void)baud_speed(r->baud, &sp); /* validated */
	if (tcgetattr(fd, &t) != 0) {
		bm_msgf(err, errlen, "modbus rtu: %s: tcgetattr: %s", dev, strerror(errno));
		return BM_E_IO;
	}
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
	t.c_cflag |= CS8 | CLOCAL | CREAD;
	t.c_iflag &= ~(tcflag_t)(INPCK | IGNPAR | IXON | IXOFF | IXANY);
	switch (parity_upper(r->parity)) {
	case 'E':
		t.c_cflag |= PARENB;
		break;
	case 'O':
		t.c_cflag |= PARENB | PARODD;
		break;
	default:
		break;
	}
	/* With parity on, a byte that fails it reads as 0 (INPCK without
	 * IGNPAR/PARMRK): its frame then fails the CRC and is dropped, which
	 * is what the serial-line specification asks for. */
	if (t.c_cflag & PARENB)
		t.c_iflag |= INPCK;
	if (r->stop_bits == 2)
		t.c_cflag |= CSTOPB;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, sp) != 0 || cfsetospeed(&t, sp) != 0) {
		bm_msgf(err, errlen, "modbus rtu: %s: cfsetspeed %lu: %s", dev, (unsigned long)r->baud,
			strerror(errno));
		return BM_E_IO;
	}
	int rc;
	while ((rc = tcsetattr(fd, TCSADRAIN, &t)) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		bm_msgf(err, errlen, "modbus rtu: %s: tcsetattr (%lu %c%u): %s", dev, (unsigned long)r->baud,
			parity_upper(r->parity), (unsigned)r->stop_bits, strerror(errno));
		return BM_E_IO;
	}
	return BM_OK;
}

static bm_err serial_open(bm_mbsrv *s, const bm_mbsrv_rtu_cfg *r, char *err, size_t errlen)
{
	int fd = open(r->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		bm_msgf(err, errlen, "modbus rtu: cannot open %s: %s", r->device, strerror(errno));
		return BM_E_IO;
	}
	if (!isatty(fd)) {
		bm_msgf(err, errlen, "modbus rtu: %s is not a serial port (tty)", r->device);
		close(fd);
		return BM_E_IO;
	}
	bm_err e = serial_apply(fd, r->device, r, err, errlen);
	if (e != BM_OK) {
		close(fd);
		return e;
	}
	/* Whatever arrived before we opened the port is no frame of ours. */
	(void)tcflush(fd, TCIFLUSH);
	if (r->rs485) {
		/* The driver switches the transmitter with RTS around each
		 * write; without it (USB adapters with automatic direction,
		 * ptys) the port still works, as RS-232, so this is a note. */
		struct serial_rs485 rs;
		memset(&rs, 0, sizeof rs);
		rs.flags = SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
		if (ioctl(fd, TIOCSRS485, &rs) != 0)
			fprintf(stderr, "modbus rtu: %s: RS-485 mode (TIOCSRS485) not available: %s; using the port as is\n",
				r->device, strerror(errno));
	}
	s->serial_fd = fd;
	return BM_OK;
}

/* The whole response, or as much as the line takes before a deadline (the
 * frame's time on the wire plus a slack). The bytes normally all fit in
 * the tty's output buffer at once, so this returns while they are still on
 * the wire: waiting for them (tcdrain) would stall every TCP client for the
 * frame's wire time (2 s for 256 bytes at 1200 baud). A setting change
 * waits for them instead (TCSADRAIN in serial_apply). */
static void serial_write(bm_mbsrv *s, const uint8_t *p, size_t n)
{
	uint64_t wire_ms = (uint64_t)n * 11u * 1000u / (s->rtu.baud ? s->rtu.baud : 9600u) + 1u;
	uint64_t deadline = now_ns() + (wire_ms + SERIAL_WRITE_SLACK_MS) * 1000000ull;
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(s->serial_fd, p + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return;
		uint64_t now = now_ns();
		if (now >= deadline)
			return;
		struct pollfd pf = { .fd = s->serial_fd, .events = POLLOUT };
		int ms = (int)((deadline - now + 999999u) / 1000000u);
		if (poll(&pf, 1, ms) < 0 && errno != EINTR)
			return;
	}
}

static bool is_broadcast_exec(uint8_t fc)
{
	/* What bm_mb_pdu_handle executes for a broadcast (bm/modbus.h). */
	return fc == 0x06 || fc == 0x10 || fc == 0x08;
}

static void begin_requests(bm_mbsrv *s)
{
	if (s->round_started)
		return;
	s->round_started = true;
	if (s->hooks.before_requests)
		s->hooks.before_requests(s->hooks.user);
}

/* One frame from the receiver (len 0: overlong, already dropped). */
static void rtu_serve(bm_mbsrv *s, const uint8_t *f, size_t len)
{
	uint8_t out[BM_MB_RTU_MAX];
	bool good = len >= 4 && len <= BM_MB_RTU_MAX &&
		    bm_mb_crc16(f, len - 2) == (uint16_t)(f[len - 2] | (unsigned)f[len - 1] << 8);

	pthread_mutex_lock(&s->lock);
	s->cnt.rtu_frames++;
	if (!good)
		s->cnt.rtu_bad++;
	pthread_mutex_unlock(&s->lock);
	if (!good)
		return;
	begin_requests(s);
	size_t n = bm_mb_rtu_handle(s->hooks.ops, s->rtu_session, s->rtu.addr, f, len, out, sizeof out, NULL);
	if (n > 0 && n <= sizeof out) {
		count(s, &s->cnt.requests);
		serial_write(s, out, n);
	} else if (f[0] == 0 && is_broadcast_exec(f[1])) {
		count(s, &s->cnt.requests);
	}
}

static void serial_read(bm_mbsrv *s, uint64_t now)
{
	uint8_t chunk[BM_MB_RTU_MAX];
	uint8_t frame[BM_MB_RTU_MAX];
	size_t flen;

	for (int i = 0; i < SERIAL_READS_PER_ROUND; i++) {
		ssize_t n = read(s->serial_fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* EIO (adapter gone, pty peer closed) or EOF: look again
			 * later rather than spin on a descriptor that stays
			 * "readable". */
			s->serial_quiet_until = now + QUIET_NS;
			return;
		}
		if (bm_mb_rtu_rx_push(&s->rx, chunk, (size_t)n, now_us32(), frame, sizeof frame, &flen))
			rtu_serve(s, frame, flen);
		if ((size_t)n < sizeof chunk)
			return;
	}
}

/* Picks up a setting stored by bm_mbsrv_set_rtu, between two rounds: a
 * response written in the last round (the reply to the configuration write)
 * leaves at the old settings, since serial_apply waits for it. */
static void serial_reconfigure(bm_mbsrv *s, const bm_mbsrv_rtu_cfg *r)
{
	char err[256];
	bm_mbsrv_rtu_cfg next = *r;

	next.device = s->device;
	if (serial_apply(s->serial_fd, s->device, &next, err, sizeof err) != BM_OK) {
		fprintf(stderr, "%s; keeping the previous settings\n", err);
		return;
	}
	s->rtu = next;
	bm_mb_rtu_rx_init(&s->rx, s->rtu.baud);
}

/* ------------------------------------------------------------ TCP */

static bm_err tcp_listen(bm_mbsrv *s, const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	const char *h = host ? host : "0.0.0.0";
	int last_errno = 0;
	const char *what = "socket";

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%d", port);
	int gai = getaddrinfo(h, portstr, &hints, &res);
	if (gai != 0) {
		bm_msgf(err, errlen, "modbus tcp: tcp_host %s: %s", h, gai_strerror(gai));
		return BM_E_IO;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			what = "socket";
			continue;
		}
		int one = 1;
		/* A restarted meter must get its port back while the old
		 * connections sit in TIME_WAIT. */
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (set_nonblock_cloexec(fd) != 0) {
			last_errno = errno;
			what = "fcntl";
		} else if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			last_errno = errno;
			what = "bind";
		} else if (listen(fd, LISTEN_BACKLOG) != 0) {
			last_errno = errno;
			what = "listen";
		} else {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof ss;
			if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
				last_errno = errno;
				what = "getsockname";
			} else {
				if (ss.ss_family == AF_INET)
					s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
				else if (ss.ss_family == AF_INET6)
					s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
				else
					s->port = port;
				s->listen_fd = fd;
				freeaddrinfo(res);
				return BM_OK;
			}
		}
		close(fd);
	}
	freeaddrinfo(res);
	bm_msgf(err, errlen, "modbus tcp: cannot listen on %s port %d: %s: %s", h, port, what,
		strerror(last_errno ? last_errno : EADDRNOTAVAIL));
	return BM_E_IO;
}

static void conn_close(bm_mbsrv *s, conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	if (s->hooks.session_close)
		s->hooks.session_close(s->hooks.user, c->session);
	c->session = NULL;
}

static void tcp_accept(bm_mbsrv *s, uint64_t now)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		int fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				/* EMFILE and friends: the listener stays
				 * readable; let the backlog wait. */
				s->listen_quiet_until = now + QUIET_NS;
			return;
		}
		conn *c = NULL;
		for (unsigned k = 0; k < s->max_clients; k++) {
			if (s->conns[k].fd < 0) {
				c = &s->conns[k];
				break;
			}
		}
		if (!c || set_nonblock_cloexec(fd) != 0) {
			/* Accept-then-close: the client gets an immediate
			 * EOF instead of waiting in the backlog. */
			close(fd);
			count(s, &s->cnt.refused);
			continue;
		}
		int one = 1;
		/* Responses are written whole; Nagle would only hold back the
		 * second of two pipelined answers for the client's delayed ACK. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		c->len = 0;
		c->last_ns = now;
		c->session = s->hooks.session_open ? s->hooks.session_open(s->hooks.user, BM_MBSRV_TCP) : NULL;
		count(s, &s->cnt.connections);
	}
}

/* A response goes out whole in one send() or the connection is closed:
 * a partial send means the client's window and our buffer are full. */
static bool tcp_send(int fd, const uint8_t *p, size_t n)
{
	for (;;) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		return w == (ssize_t)n;
	}
}

/* Reads once, then answers every complete ADU in order. */
static void conn_service(bm_mbsrv *s, conn *c, uint64_t now)
{
	uint8_t out[BM_MB_TCP_MAX];
	ssize_t n;

	do
		n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) { /* the client closed, or reset */
		conn_close(s, c);
		return;
	}
	c->len += (size_t)n;
	c->last_ns = now;

	size_t off = 0;
	while (off < c->len) {
		int fl = bm_mb_tcp_frame_len(c->buf + off, c->len - off);
		if (fl < 0) {
			/* The stream cannot be framed any more. */
			conn_close(s, c);
			count(s, &s->cnt.closed_bad);
			return;
		}
		if (fl == 0 || (size_t)fl > c->len - off)
			break;
		begin_requests(s);
		size_t r = bm_mb_tcp_handle(s->hooks.ops, c->session, c->buf + off, (size_t)fl, out, sizeof out, NULL);
		off += (size_t)fl;
		if (r == 0 || r > sizeof out)
			continue;
		count(s, &s->cnt.requests);
		if (!tcp_send(c->fd, out, r)) {
			conn_close(s, c);
			count(s, &s->cnt.closed_bad);
			return;
		}
	}
	if (off > 0) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	if (c->len == sizeof c->buf) {
		/* Cannot happen with a codec that keeps its promise (an ADU
		 * is at most BM_MB_TCP_MAX); framing is lost if it does. */
		conn_close(s, c);
		count(s, &s->cnt.closed_bad);
	}
}

/* ------------------------------------------------------------ loop */

static void wake(bm_mbsrv *s)
{
	ssize_t w;
	do
		w = write(s->wake_wr, "w", 1);
	while (w < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full, so the loop is awake already. */
}

static void drain_wake(bm_mbsrv *s)
{
	char b[64];
	ssize_t n;
	do
		n = read(s->wake_rd, b, sizeof b);
	while (n > 0 || (n < 0 && errno == EINTR));
}

static void deadline_min(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

static void *srv_thread(void *arg)
{
	bm_mbsrv *s = arg;

	for (;;) {
		bm_mbsrv_rtu_cfg next;
		bool stop, pending;

		pthread_mutex_lock(&s->lock);
		stop = s->stop;
		pending = s->rtu_pending;
		next = s->rtu_next;
		s->rtu_pending = false;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		if (pending && s->serial_fd >= 0)
			serial_reconfigure(s, &next);

		/* Timeout: the nearest of an RTU frame end, an idle deadline
		 * and the end of a descriptor's quiet time. */
		uint64_t now = now_ns();
		uint64_t dl = UINT64_MAX;
		nfds_t np = 0;
		int serial_ix = -1, listen_ix = -1;

		s->pfd[np] = (struct pollfd){ .fd = s->wake_rd, .events = POLLIN };
		s->pfd_slot[np++] = -1;
		if (s->listen_fd >= 0) {
			if (now >= s->listen_quiet_until) {
				listen_ix = (int)np;
				s->pfd[np] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
				s->pfd_slot[np++] = -1;
			} else {
				deadline_min(&dl, s->listen_quiet_until);
			}
		}
		if (s->serial_fd >= 0) {
			if (now >= s->serial_quiet_until) {
				serial_ix = (int)np;
				s->pfd[np] = (struct pollfd){ .fd = s->serial_fd, .events = POLLIN };
				s->pfd_slot[np++] = -1;
			} else {
				deadline_min(&dl, s->serial_quiet_until);
			}
			uint32_t w = bm_mb_rtu_rx_wait_us(&s->rx, (uint32_t)(now / 1000u));
			if (w != UINT32_MAX) {
				uint64_t ms = ((uint64_t)w + 999u) / 1000u;
				deadline_min(&dl, now + (ms ? ms : 1u) * 1000000ull);
			}
		}
		for (unsigned k = 0; k < s->max_clients; k++) {
			conn *c = &s->conns[k];
			if (c->fd < 0)
				continue;
			s->pfd[np] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			s->pfd_slot[np++] = (int)k;
			deadline_min(&dl, c->last_ns + s->idle_ns);
		}
		int timeout = -1;
		if (dl != UINT64_MAX) {
			uint64_t ms = dl > now ? (dl - now + 999999u) / 1000000u : 0;
			timeout = ms > 3600000u ? 3600000 : (int)ms;
		}

		int rc = poll(s->pfd, np, timeout);
		if (rc < 0 && errno != EINTR) {
			/* Only EFAULT / EINVAL / ENOMEM: back off, don't spin. */
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		if (rc < 0)
			continue;
		s->round_started = false;
		now = now_ns();
		if (s->pfd[0].revents)
			drain_wake(s);

		if (serial_ix >= 0 && s->pfd[serial_ix].revents) {
			if (s->pfd[serial_ix].revents & POLLIN)
				serial_read(s, now);
			else /* POLLHUP / POLLERR without data */
				s->serial_quiet_until = now + QUIET_NS;
		}
		if (s->serial_fd >= 0) {
			uint8_t frame[BM_MB_RTU_MAX];
			size_t flen;
			if (bm_mb_rtu_rx_poll(&s->rx, now_us32(), frame, sizeof frame, &flen))
				rtu_serve(s, frame, flen);
		}

		for (nfds_t i = 0; i < np; i++) {
			int k = s->pfd_slot[i];
			if (k < 0 || !s->pfd[i].revents)
				continue;
			conn *c = &s->conns[k];
			if (c->fd >= 0)
				conn_service(s, c, now);
		}
		/* Accept after serving, so a connection accepted now is not
		 * confused with the slot's previous owner in pfd_slot. */
		if (listen_ix >= 0 && (s->pfd[listen_ix].revents & POLLIN))
			tcp_accept(s, now);

		now = now_ns();
		for (unsigned k = 0; k < s->max_clients; k++) {
			conn *c = &s->conns[k];
			if (c->fd >= 0 && now - c->last_ns >= s->idle_ns) {
				conn_close(s, c);
				count(s, &s->cnt.closed_idle);
			}
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ API */

static void srv_free(bm_mbsrv *s)
{
	if (s->conns) {
		for (unsigned k = 0; k < s->max_clients; k++)
			if (s->conns[k].fd >= 0)
				conn_close(s, &s->conns[k]);
	}
	if (s->rtu_session_open && s->hooks.session_close)
		s->hooks.session_close(s->hooks.user, s->rtu_session);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->serial_fd >= 0)
		close(s->serial_fd);
	if (s->wake_rd >= 0)
		close(s->wake_rd);
	if (s->wake_wr >= 0)
		close(s->wake_wr);
	pthread_mutex_destroy(&s->lock);
	free(s->device);
	free(s->conns);
	free(s->pfd);
	free(s->pfd_slot);
	free(s);
}

bm_err bm_mbsrv_start(bm_mbsrv **out, const bm_mbsrv_cfg *cfg, const bm_mbsrv_hooks *hooks, char *err, size_t errlen)
{
	if (out)
		*out = NULL;
	if (!out || !cfg || !hooks || !hooks->ops) {
		bm_msgf(err, errlen, "modbus server: NULL argument (out, cfg, hooks or hooks->ops)");
		return BM_E_INVAL;
	}
	bm_err e = cfg_validate(cfg, err, errlen);
	if (e != BM_OK)
		return e;

	bm_mbsrv *s = calloc(1, sizeof *s);
	if (!s) {
		bm_msgf(err, errlen, "modbus server: out of memory");
		return BM_E_IO;
	}
	s->hooks = *hooks;
	s->max_clients = cfg->max_clients ? cfg->max_clients : MAX_CLIENTS_DEFAULT;
	s->idle_ns = (uint64_t)((cfg->idle_s > 0.0 ? cfg->idle_s : IDLE_DEFAULT_S) * 1e9);
	if (s->idle_ns == 0)
		s->idle_ns = 1;
	s->wake_rd = s->wake_wr = s->listen_fd = s->serial_fd = -1;
	s->port = -1;
	pthread_mutex_init(&s->lock, NULL);

	s->conns = calloc(s->max_clients, sizeof *s->conns);
	if (s->conns)
		for (unsigned k = 0; k < s->max_clients; k++)
			s->conns[k].fd = -1;
	s->pfd = calloc(3u + s->max_clients, sizeof *s->pfd);
	s->pfd_slot = calloc(3u + s->max_clients, sizeof *s->pfd_slot);
	if (!s->conns || !s->pfd || !s->pfd_slot) {
		bm_msgf(err, errlen, "modbus server: out of memory for %u connections", s->max_clients);
		srv_free(s);
		return BM_E_IO;
	}

	int p[2];
	if (pipe(p) != 0) {
		bm_msgf(err, errlen, "modbus server: pipe: %s", strerror(errno));
		srv_free(s);
		return BM_E_IO;
	}
	s->wake_rd = p[0];
	s->wake_wr = p[1];
	if (set_nonblock_cloexec(p[0]) != 0 || set_nonblock_cloexec(p[1]) != 0) {
		bm_msgf(err, errlen, "modbus server: fcntl on the wake pipe: %s", strerror(errno));
		srv_free(s);
		return BM_E_IO;
	}

	if (cfg->tcp_port >= 0) {
		e = tcp_listen(s, cfg->tcp_host, cfg->tcp_port, err, errlen);
		if (e != BM_OK) {
			srv_free(s);
			return e;
		}
	}
	if (cfg->rtu.device) {
		s->device = strdup(cfg->rtu.device);
		if (!s->device) {
			bm_msgf(err, errlen, "modbus server: out of memory");
			srv_free(s);
			return BM_E_IO;
		}
		s->rtu = cfg->rtu;
		s->rtu.device = s->device;
		e = serial_open(s, &s->rtu, err, errlen);
		if (e != BM_OK) {
			srv_free(s);
			return e;
		}
		bm_mb_rtu_rx_init(&s->rx, s->rtu.baud);
		s->rtu_session = hooks->session_open ? hooks->session_open(hooks->user, BM_MBSRV_RTU) : NULL;
		s->rtu_session_open = true;
	}

	int rc = pthread_create(&s->thread, NULL, srv_thread, s);
	if (rc != 0) {
		bm_msgf(err, errlen, "modbus server: pthread_create: %s", strerror(rc));
		srv_free(s);
		return BM_E_IO;
	}
	s->thread_started = true;
	*out = s;
	return BM_OK;
}

void bm_mbsrv_stop(bm_mbsrv *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		wake(s);
		pthread_join(s->thread, NULL);
	}
	srv_free(s);
}

int bm_mbsrv_tcp_port(const bm_mbsrv *s)
{
	return s && s->listen_fd >= 0 ? s->port : -1;
}

/* BM_E_INVAL also when the server has no serial line to set. */
bm_err bm_mbsrv_set_rtu(bm_mbsrv *s, const bm_mbsrv_rtu_cfg *rtu)
{
	if (!s || !rtu || s->serial_fd < 0)
		return BM_E_INVAL;
	if (rtu_validate(rtu, NULL, 0) != BM_OK)
		return BM_E_INVAL;
	pthread_mutex_lock(&s->lock);
	s->rtu_next = *rtu;
	s->rtu_next.device = NULL; /* the device cannot change; its pointer is not kept */
	s->rtu_pending = true;
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return BM_OK;
}

void bm_mbsrv_get_counters(const bm_mbsrv *s, bm_mbsrv_counters *out)
{
	if (!out)
		return;
	if (!s) {
		memset(out, 0, sizeof *out);
		return;
	}
	/* The mutex is not part of the server's observable state. */
	pthread_mutex_t *lock = (pthread_mutex_t *)&s->lock;
	pthread_mutex_lock(lock);
	*out = s->cnt;
	pthread_mutex_unlock(lock);
}
