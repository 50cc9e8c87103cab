/*
 * main.c — `branchmeter`: dispatches to the commands (cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("usage: branchmeter COMMAND [OPTIONS]\n"
	      "commands:\n"
	      "  run       the meter in real time on the simulator or a COMTRADE recording\n"
	      "  analyze   a COMTRADE recording through the meter: each quantity per circuit\n"
	      "  events    the event log of a meter's state directory\n"
	      "  registers the register map (Markdown or CSV; docs/registers.md)\n"
	      "  read      read registers of a meter by name over Modbus TCP or RTU (e.g. C1.U1, 'C1.EP_*')\n"
	      "  write     write settings of a meter by name (NAME=VALUE; --password to unlock)\n"
	      "  help      this text; 'branchmeter COMMAND --help' for a command's options\n"
	      "  version   the firmware version\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return bm_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "analyze") == 0)
		return bm_cmd_analyze(argc - 1, argv + 1);
	if (strcmp(cmd, "events") == 0)
		return bm_cmd_events(argc - 1, argv + 1);
	if (strcmp(cmd, "registers") == 0)
		return bm_cmd_registers(argc - 1, argv + 1);
	if (strcmp(cmd, "read") == 0)
		return bm_cmd_read(argc - 1, argv + 1);
	if (strcmp(cmd, "write") == 0)
		return bm_cmd_write(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("branchmeter %s\n", BM_VERSION);
		return 0;
	}
	fprintf(stderr, "branchmeter: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
