/*
 * mb_refserver.c — the reference Modbus TCP server of bench_modbus: a plain
 * server on libmodbus's mapping API, as libmodbus documents it for many
 * clients (one thread, a select() loop over the listener and every
 * connection, modbus_receive + modbus_reply against a modbus_mapping_t).
 *
 * Usage: mb_refserver PORT
 *   Listens on 127.0.0.1:PORT with 20000 holding registers (all zero; FC 03
 *   of 100 registers at 10000 is valid), prints "listening PORT" on stdout
 *   once the listener is open, and serves until SIGTERM or SIGINT (exit 0).
 *   Exits 1 if it cannot listen, 2 on a usage error.
 *
 * Not a benchmark itself (not named bench_*), so scripts/bench.sh does not
 * run it; bench_modbus starts and stops it.
 *
 * Accepted sockets get TCP_NODELAY, as libmodbus's own client sockets have,
 * so the reference is not slowed by Nagle's algorithm.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#define N_HOLDING 20000
#define BACKLOG 64

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mb_refserver PORT\n");
		return 2;
	}
	char *end;
	long port = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "mb_refserver: bad port '%s'\n", argv[1]);
		return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: select() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	modbus_t *ctx = modbus_new_tcp("127.0.0.1", (int)port);
	if (!ctx) {
		fprintf(stderr, "mb_refserver: modbus_new_tcp: %s\n", modbus_strerror(errno));
		return 1;
	}
	modbus_mapping_t *map = modbus_mapping_new(0, 0, N_HOLDING, 0);
	if (!map) {
		fprintf(stderr, "mb_refserver: modbus_mapping_new: %s\n", modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	int listener = modbus_tcp_listen(ctx, BACKLOG);
	if (listener < 0) {
		fprintf(stderr, "mb_refserver: listen on 127.0.0.1:%ld: %s\n", port, modbus_strerror(errno));
		modbus_mapping_free(map);
		modbus_free(ctx);
		return 1;
	}
	printf("listening %ld\n", port);
	fflush(stdout);

	fd_set all;
	FD_ZERO(&all);
	FD_SET(listener, &all);
	int fdmax = listener;
	uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
	while (!stop_flag) {
		fd_set rd = all;
		if (select(fdmax + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mb_refserver: select: %s\n", strerror(errno));
			break;
		}
		for (int fd = 0; fd <= fdmax && !stop_flag; fd++) {
			if (!FD_ISSET(fd, &rd))
				continue;
			if (fd == listener) {
				struct sockaddr_in addr;
				socklen_t len = sizeof addr;
				int s = accept(listener, (struct sockaddr *)&addr, &len);
				if (s < 0)
					continue;
				if (s >= FD_SETSIZE) { /* select() cannot watch it */
					close(s);
					continue;
				}
				int one = 1;
				setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				FD_SET(s, &all);
				if (s > fdmax)
					fdmax = s;
				continue;
			}
			modbus_set_socket(ctx, fd);
			int rc = modbus_receive(ctx, query);
			if (rc > 0) {
				modbus_reply(ctx, query, rc, map);
			} else if (rc < 0) { /* closed by the client, or an error */
				close(fd);
				FD_CLR(fd, &all);
				while (fdmax > listener && !FD_ISSET(fdmax, &all))
					fdmax--;
			}
			/* rc == 0: a request for another unit, ignored */
		}
	}
	for (int fd = 0; fd <= fdmax; fd++)
		if (FD_ISSET(fd, &all))
			close(fd);
	modbus_set_socket(ctx, -1);
	modbus_mapping_free(map);
	modbus_free(ctx);
	return 0;
}
