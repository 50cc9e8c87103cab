/*
 * bench_modbus.c — the meter's Modbus TCP server under load, beside a
 * reference server on libmodbus's mapping API (bench/mb_refserver.c),
 * measured back to back in the same run.
 *
 * Servers, both on 127.0.0.1, each on a free port:
 *  - reference: <build>/bench/mb_refserver PORT (select() loop, modbus_receive
 *    + modbus_reply, 20000 holding registers);
 *  - meter: <build>/app/branchmeter run --speed 1 --no-state
 *    --modbus-tcp 127.0.0.1:PORT --json --interval 1, its DSP running in real
 *    time on the simulator for the whole bench.
 * Load, for N = 1 and 16 clients, reference then meter each time: N threads,
 * each with its own libmodbus TCP context (unit 1), 200 warm-up requests, then
 * FC 03 reads of 100 registers at 10000 for MEASURE_S seconds, every
 * request's latency recorded (CLOCK_MONOTONIC). Printed: requests/s, p50 and
 * p99 latency, errors; the ratios meter / reference; whether the goal
 * (throughput ratio >= 1 and meter p99 < 200 µs at 16 clients) is met; the
 * meter's "missed_windows" from its last JSON line after SIGTERM.
 *
 * Exit: 0; 1 on any request error, missed windows > 0, or a server that
 * fails. A branchmeter without --modbus-tcp (usage error at start) skips the
 * meter phase with a note, exit 0. The servers are stopped on every exit
 * path (atexit, SIGINT/SIGTERM/SIGHUP, and PR_SET_PDEATHSIG if this program
 * dies); each runs in its own process group, which is what gets the signal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#define ADDR 10000
#define NREG 100
#define UNIT 1
#define WARMUP 200
#define MEASURE_S 3.0
#define MAX_ERRORS 100 /* per client: stop it after this many */
#define GOAL_P99_US 200.0

/* ---- child processes -------------------------------------------------- */

typedef struct child {
	const char *name;
	volatile pid_t pid; /* -1 = none (read by the signal handler) */
	int out_fd;         /* reference: a pipe; meter: a temp file (pread) */
	int err_fd;         /* meter: a temp file; -1 = inherited */
	int status;         /* after reaping */
} child;

static child ref_srv = {"reference", -1, -1, -1, 0};
static child meter_srv = {"meter", -1, -1, -1, 0};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* SIGTERM, wait up to grace_s, then SIGKILL. Returns true if it exited on
 * its own after SIGTERM (status in c->status). */
static bool stop_child(child *c, double grace_s)
{
	if (c->pid <= 0)
		return true;
	pid_t pid = c->pid;
	kill(-pid, SIGTERM); /* its process group: helpers it started too */
	double t_end = now() + grace_s;
	for (;;) {
		pid_t r = waitpid(pid, &c->status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (now() >= t_end) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR) {
			}
			c->pid = -1;
			return false;
		}
		sleep_s(0.01);
	}
	c->pid = -1;
	return true;
}

/* Reaps c if it has exited; true if so (status in c->status). */
static bool child_exited(child *c)
{
	if (c->pid <= 0)
		return true;
	pid_t r = waitpid(c->pid, &c->status, WNOHANG);
	if (r == c->pid) {
		c->pid = -1;
		return true;
	}
	return false;
}

static void cleanup(void)
{
	stop_child(&meter_srv, 3.0);
	stop_child(&ref_srv, 3.0);
}

static void on_fatal_signal(int sig)
{
	pid_t p;
	if ((p = meter_srv.pid) > 0) {
		kill(-p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	if ((p = ref_srv.pid) > 0) {
		kill(-p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	_exit(128 + sig);
}

static int temp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/bench_modbus.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "bench_modbus: mkstemp %s: %s\n", path, strerror(errno));
		return -1;
	}
	unlink(path);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Starts argv[0] with stdout into out_fd (dup'ed; closed in the parent if
 * close_out), stderr into err_fd (-1 = inherited). */
static bool spawn(child *c, char *const argv[], int out_fd, bool close_out, int err_fd)
{
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench_modbus: fork: %s\n", strerror(errno));
		return false;
	}
	if (pid == 0) {
		setpgid(0, 0); /* its own group, stopped as a whole */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		dup2(out_fd, STDOUT_FILENO);
		if (err_fd >= 0)
			dup2(err_fd, STDERR_FILENO);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "bench_modbus: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here, so no kill(-pid) can come before it */
	c->pid = pid;
	if (close_out)
		close(out_fd);
	return true;
}

/* The whole content of a temp file (NUL-terminated, malloc'ed). */
static char *slurp(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	size_t n = (size_t)st.st_size, got = 0;
	char *buf = malloc(n + 1);
	if (!buf)
		return NULL;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	return buf;
}

static void print_indented(const char *what, const char *text)
{
	if (!text || !*text)
		return;
	printf("  %s:\n", what);
	const char *p = text;
	int lines = 0;
	while (*p && lines < 20) {
		const char *e = strchr(p, '\n');
		int len = e ? (int)(e - p) : (int)strlen(p);
		printf("    | %.*s\n", len, p);
		lines++;
		p = e ? e + 1 : p + len;
	}
}

static const char *describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

/* A port free on 127.0.0.1 right now (bind to 0, read it, close). */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	int port = -1;
	if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(s);
	return port;
}

static bool port_accepts(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return false;
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	bool ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	return ok;
}

/* Starts mb_refserver on a free port, waits for "listening PORT". Returns the
 * port, or -1. A few tries, in case the port was taken meanwhile. */
static int start_reference(const char *exe)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = free_port();
		if (port < 0) {
			fprintf(stderr, "bench_modbus: no free port: %s\n", strerror(errno));
			return -1;
		}
		int p[2];
		if (pipe(p) < 0) {
			fprintf(stderr, "bench_modbus: pipe: %s\n", strerror(errno));
			return -1;
		}
		fcntl(p[0], F_SETFD, FD_CLOEXEC);
		fcntl(p[1], F_SETFD, FD_CLOEXEC);
		char port_s[16];
		snprintf(port_s, sizeof port_s, "%d", port);
		char *argv[] = {(char *)exe, port_s, NULL};
		if (!spawn(&ref_srv, argv, p[1], true, -1)) {
			close(p[0]);
			return -1;
		}
		ref_srv.out_fd = p[0];
		char line[128];
		size_t n = 0;
		double t_end = now() + 5.0;
		bool eof = false;
		while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
			double left = t_end - now();
			if (left <= 0)
				break;
			struct pollfd pf = {p[0], POLLIN, 0};
			int r = poll(&pf, 1, (int)(left * 1000) + 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			ssize_t k = read(p[0], line + n, sizeof line - 1 - n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				eof = true;
				break;
			}
			n += (size_t)k;
		}
		line[n] = '\0';
		char want[32];
		snprintf(want, sizeof want, "listening %d", port);
		if (strncmp(line, want, strlen(want)) == 0)
			return port;
		/* it did not come up: stop it, retry if it simply exited */
		bool exited = eof && child_exited(&ref_srv);
		stop_child(&ref_srv, 1.0);
		close(p[0]);
		ref_srv.out_fd = -1;
		if (!exited) {
			fprintf(stderr, "bench_modbus: %s did not say '%s' within 5 s\n", exe, want);
			return -1;
		}
	}
	fprintf(stderr, "bench_modbus: %s did not start (3 tries)\n", exe);
	return -1;
}

enum { METER_FAILED = -1, METER_SKIPPED = -2 };

/* Starts the meter on a free port and waits until the port accepts
 * connections. Returns the port, METER_SKIPPED (no --modbus-tcp in this
 * build) or METER_FAILED (reported). */
static int start_meter(const char *exe)
{
	if (access(exe, X_OK) != 0) {
		printf("meter: cannot run %s (%s); build the branchmeter target\n", exe, strerror(errno));
		return METER_FAILED;
	}
	int port = free_port();
	if (port < 0)
		return METER_FAILED;
	meter_srv.out_fd = temp_fd();
	meter_srv.err_fd = temp_fd();
	if (meter_srv.out_fd < 0 || meter_srv.err_fd < 0)
		return METER_FAILED;
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	char *argv[] = {(char *)exe, "run",   "--speed", "1", "--no-state", "--modbus-tcp", addr,
	                "--json",    "--interval", "1", NULL};
	if (!spawn(&meter_srv, argv, meter_srv.out_fd, false, meter_srv.err_fd))
		return METER_FAILED;
	double t_end = now() + 15.0;
	while (now() < t_end) {
		if (child_exited(&meter_srv)) {
			char *err = slurp(meter_srv.err_fd);
			char st[64];
			describe_status(meter_srv.status, st, sizeof st);
			bool usage = WIFEXITED(meter_srv.status) && WEXITSTATUS(meter_srv.status) == 2;
			int rc = METER_FAILED;
			if (usage && err && strstr(err, "modbus-tcp")) {
				printf("meter: skipped (branchmeter has no --modbus-tcp yet)\n");
				rc = METER_SKIPPED;
			} else {
				printf("meter: %s exited at start (%s)\n", exe, st);
				print_indented("its stderr", err);
			}
			free(err);
			return rc;
		}
		if (port_accepts(port))
			return port;
		sleep_s(0.02);
	}
	printf("meter: %s does not accept connections on %s after 15 s\n", exe, addr);
	char *err = slurp(meter_srv.err_fd);
	print_indented("its stderr", err);
	free(err);
	stop_child(&meter_srv, 3.0);
	return METER_FAILED;
}

/* ---- load ------------------------------------------------------------- */

typedef struct worker {
	int port;
	pthread_barrier_t *bar;
	uint32_t *lat; /* ns */
	size_t n, cap;
	uint64_t errors;
	char first_err[160];
	double t0, t1;
} worker;

static void note_error(worker *w, const char *what)
{
	if (w->errors++ == 0)
		snprintf(w->first_err, sizeof w->first_err, "%s: %s", what, modbus_strerror(errno));
}

static bool reconnect(worker *w, modbus_t *ctx)
{
	modbus_close(ctx);
	if (modbus_connect(ctx) == 0)
		return true;
	note_error(w, "reconnect");
	return false;
}

/* One FC 03 read; false (and the error counted) if it failed. */
static bool one_read(worker *w, modbus_t *ctx, bool *connected)
{
	uint16_t regs[NREG];
	int rc = modbus_read_registers(ctx, ADDR, NREG, regs);
	if (rc == NREG)
		return true;
	if (rc >= 0) {
		errno = EMBBADDATA;
		note_error(w, "short read");
	} else {
		note_error(w, "read");
	}
	/* any error may leave a late reply in the socket: start afresh */
	*connected = reconnect(w, ctx);
	return false;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	bool connected = false;
	modbus_t *ctx = modbus_new_tcp("127.0.0.1", w->port);
	if (!ctx) {
		note_error(w, "modbus_new_tcp");
	} else {
		modbus_set_slave(ctx, UNIT);
		modbus_set_response_timeout(ctx, 1, 0);
		connected = modbus_connect(ctx) == 0;
		if (!connected)
			note_error(w, "connect");
	}
	for (int k = 0; k < WARMUP && connected && w->errors < MAX_ERRORS; k++)
		one_read(w, ctx, &connected);
	pthread_barrier_wait(w->bar);
	w->t0 = now();
	w->t1 = w->t0;
	const double t_end = w->t0 + MEASURE_S;
	struct timespec a, b;
	while (connected && w->errors < MAX_ERRORS) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		bool ok = one_read(w, ctx, &connected);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (ok) {
			if (w->n == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 65536;
				uint32_t *p = realloc(w->lat, cap * sizeof *p);
				if (!p) {
					errno = ENOMEM;
					note_error(w, "latency array");
					break;
				}
				w->lat = p;
				w->cap = cap;
			}
			int64_t ns = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
			w->lat[w->n++] = (uint32_t)(ns > UINT32_MAX ? UINT32_MAX : ns);
		}
		if (b.tv_sec + b.tv_nsec * 1e-9 >= t_end)
			break;
	}
	w->t1 = now();
	if (ctx) {
		modbus_close(ctx);
		modbus_free(ctx);
	}
	return NULL;
}

typedef struct result {
	bool ran;
	double rps, p50_us, p99_us;
	uint64_t requests, errors;
	char first_err[160];
} result;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p·n values at or below. */
static double pct_us(const uint32_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t k = (size_t)(p * (double)n + 0.999999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1] / 1000.0;
}

static bool run_load(int port, int clients, result *r)
{
	memset(r, 0, sizeof *r);
	worker *w = calloc((size_t)clients, sizeof *w);
	pthread_t *th = calloc((size_t)clients, sizeof *th);
	pthread_barrier_t bar;
	if (!w || !th || pthread_barrier_init(&bar, NULL, (unsigned)clients) != 0) {
		fprintf(stderr, "bench_modbus: out of memory\n");
		free(w);
		free(th);
		return false;
	}
	int started = 0;
	for (; started < clients; started++) {
		w[started].port = port;
		w[started].bar = &bar;
		if (pthread_create(&th[started], NULL, worker_main, &w[started]) != 0)
			break;
	}
	if (started < clients) { /* cannot happen in practice; the barrier would hang */
		fprintf(stderr, "bench_modbus: pthread_create failed\n");
		exit(1); /* atexit stops the servers */
	}
	for (int k = 0; k < clients; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&bar);

	size_t total = 0;
	double t0 = 1e300, t1 = -1e300;
	for (int k = 0; k < clients; k++) {
		total += w[k].n;
		r->errors += w[k].errors;
		if (w[k].errors && !r->first_err[0])
			snprintf(r->first_err, sizeof r->first_err, "%s", w[k].first_err);
		if (w[k].t0 < t0)
			t0 = w[k].t0;
		if (w[k].t1 > t1)
			t1 = w[k].t1;
	}
	uint32_t *all = malloc((total ? total : 1) * sizeof *all);
	if (!all) {
		fprintf(stderr, "bench_modbus: out of memory\n");
		exit(1);
	}
	size_t off = 0;
	for (int k = 0; k < clients; k++) {
		memcpy(all + off, w[k].lat, w[k].n * sizeof *all);
		off += w[k].n;
		free(w[k].lat);
	}
	qsort(all, total, sizeof *all, cmp_u32);
	r->ran = true;
	r->requests = total;
	r->rps = t1 > t0 ? (double)total / (t1 - t0) : 0;
	r->p50_us = pct_us(all, total, 0.50);
	r->p99_us = pct_us(all, total, 0.99);
	free(all);
	free(w);
	free(th);
	return true;
}

/* ---- report ----------------------------------------------------------- */

static void print_row(int clients, const char *who, const result *r)
{
	if (!r->ran) {
		printf("  %7d  %-9s  %10s  %8s  %8s  %6s\n", clients, who, "-", "-", "-", "-");
		return;
	}
	printf("  %7d  %-9s  %10.0f  %8.1f  %8.1f  %6llu\n", clients, who, r->rps, r->p50_us, r->p99_us,
	       (unsigned long long)r->errors);
}

/* "missed_windows": N on the last line that has it; -1 if none. */
static long long missed_windows(const char *out)
{
	const char *key = "\"missed_windows\"", *last = NULL;
	for (const char *p = out; p && (p = strstr(p, key)) != NULL; p += strlen(key))
		last = p;
	if (!last)
		return -1;
	const char *p = last + strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != ':')
		return -1;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	char *end;
	errno = 0;
	long long v = strtoll(p, &end, 10);
	if (end == p || errno)
		return -1;
	return v;
}

int main(void)
{
	/* <build>/bench/bench_modbus → <build> */
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		fprintf(stderr, "bench_modbus: readlink /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return 1;
	*slash = '\0'; /* <build>/bench */
	char refserver[PATH_MAX + 32], meter_exe[PATH_MAX + 32];
	snprintf(refserver, sizeof refserver, "%s/mb_refserver", self);
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0'; /* <build> */
	snprintf(meter_exe, sizeof meter_exe, "%s/app/branchmeter", self);

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(cleanup);

	printf("bench_modbus: FC 03, %d registers at %d, unit %d, 127.0.0.1; per client %d warm-up requests,\n"
	       "  then %.0f s timed; %ld CPUs shared by the clients, the servers and the meter's DSP\n",
	       NREG, ADDR, UNIT, WARMUP, MEASURE_S, sysconf(_SC_NPROCESSORS_ONLN));

	int ref_port = start_reference(refserver);
	if (ref_port < 0)
		return 1;
	int meter_port = start_meter(meter_exe);
	if (meter_port == METER_FAILED)
		return 1;
	const bool have_meter = meter_port > 0;

	static const int clients[2] = {1, 16};
	result ref[2], met[2];
	memset(ref, 0, sizeof ref);
	memset(met, 0, sizeof met);
	bool failed = false, meter_died = false;
	for (int k = 0; k < 2 && !failed; k++) {
		if (child_exited(&ref_srv)) {
			char st[64];
			printf("reference: mb_refserver died (%s)\n", describe_status(ref_srv.status, st, sizeof st));
			failed = true;
			break;
		}
		if (!run_load(ref_port, clients[k], &ref[k]))
			return 1;
		if (!have_meter)
			continue;
		if (!child_exited(&meter_srv) && !run_load(meter_port, clients[k], &met[k]))
			return 1;
		if (child_exited(&meter_srv)) {
			char st[64];
			printf("meter: branchmeter died during the bench (%s)\n", describe_status(meter_srv.status, st, sizeof st));
			char *err = slurp(meter_srv.err_fd);
			print_indented("its stderr", err);
			free(err);
			failed = meter_died = true;
		}
	}

	/* stop the meter, read what it said */
	long long missed = -1;
	if (have_meter) {
		bool clean = meter_died || stop_child(&meter_srv, 5.0);
		char st[64];
		describe_status(meter_srv.status, st, sizeof st);
		char *out = slurp(meter_srv.out_fd);
		missed = out ? missed_windows(out) : -1;
		free(out);
		/* SIGTERM is its normal stop: exit 0 (or death by SIGTERM) is fine;
		 * a death during the bench was reported above */
		bool ok_exit = (WIFEXITED(meter_srv.status) && WEXITSTATUS(meter_srv.status) == 0) ||
		               (WIFSIGNALED(meter_srv.status) && WTERMSIG(meter_srv.status) == SIGTERM);
		if (!meter_died && !(clean && ok_exit)) {
			printf("meter: %s on SIGTERM (%s)\n", clean ? "bad exit" : "did not stop within 5 s, killed", st);
			char *err = slurp(meter_srv.err_fd);
			print_indented("its stderr", err);
			free(err);
			failed = true;
		}
	}
	stop_child(&ref_srv, 3.0);

	printf("  clients  server          req/s   p50 µs   p99 µs  errors\n");
	for (int k = 0; k < 2; k++) {
		print_row(clients[k], "reference", &ref[k]);
		print_row(clients[k], "meter", &met[k]);
	}
	for (int k = 0; k < 2; k++) {
		if (ref[k].errors) {
			printf("  reference, %d clients: %llu errors, first: %s\n", clients[k],
			       (unsigned long long)ref[k].errors, ref[k].first_err);
			failed = true;
		}
		if (met[k].errors) {
			printf("  meter, %d clients: %llu errors, first: %s\n", clients[k], (unsigned long long)met[k].errors,
			       met[k].first_err);
			failed = true;
		}
	}
	if (have_meter) {
		printf("  meter / reference:\n");
		for (int k = 0; k < 2; k++) {
			if (!ref[k].ran || !met[k].ran || ref[k].requests == 0 || met[k].requests == 0) {
				printf("  %7d  not measured\n", clients[k]);
				continue;
			}
			printf("  %7d  throughput %.2f   p50 %.2f   p99 %.2f\n", clients[k], met[k].rps / ref[k].rps,
			       met[k].p50_us / ref[k].p50_us, met[k].p99_us / ref[k].p99_us);
		}
		if (ref[1].ran && met[1].ran && ref[1].requests && met[1].requests) {
			double tr = met[1].rps / ref[1].rps;
			bool met_goal = tr >= 1.0 && met[1].p99_us < GOAL_P99_US && met[1].errors == 0;
			printf("  goal at 16 clients (throughput ratio >= 1, meter p99 < %.0f µs): %s (ratio %.2f, p99 %.1f µs)\n",
			       GOAL_P99_US, met_goal ? "met" : "NOT met", tr, met[1].p99_us);
		} else {
			printf("  goal at 16 clients: not measured\n");
		}
		if (missed < 0) {
			printf("  missed windows: not reported by this build\n");
		} else {
			printf("  missed windows: %lld\n", missed);
			if (missed > 0)
				failed = true;
		}
	} else {
		printf("  meter phase skipped: reference figures only\n");
	}
	return failed ? 1 : 0;
}
