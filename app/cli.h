/*
 * cli.h — the `branchmeter` commands and what they share.
 *
 * Invariant: the app only wires platform sources to the core; every number
 * it prints comes from bm_results, formatted by output.c.
 */
#ifndef BM_CLI_H
#define BM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "bm/meter.h"

#ifndef BM_VERSION
#define BM_VERSION "0.0.0"
#endif

int bm_cmd_analyze(int argc, char **argv);
int bm_cmd_run(int argc, char **argv);

struct bm_comtrade_reader;
struct bm_comtrade_map;
/* The meter configuration for playing a recording at `rate` S/s (recording.c);
 * nominal 0 = from the recording. BM_E_UNSUPPORTED / BM_E_INVAL with a message. */
bm_err bm_recording_config(bm_meter_cfg *cfg, const struct bm_comtrade_reader *rd, const struct bm_comtrade_map *map,
                           double rate, int nominal, double umin, double imin, char *err, size_t errlen);

/* Per-circuit running means of every quantity over accepted windows. */
typedef struct bm_means {
	unsigned windows;
	unsigned n_circuits;
	double sum[BM_MAX_CIRCUITS][BM_Q_COUNT];
	unsigned cnt[BM_MAX_CIRCUITS][BM_Q_COUNT];
} bm_means;

void bm_means_add(bm_means *mm, const bm_results *r);
double bm_means_get(const bm_means *mm, unsigned c, int q);

/* Output helpers (output.c). NaN prints as null in JSON and "n/a" in text. */
void bm_json_number(FILE *f, double v);
void bm_json_string(FILE *f, const char *s);
/* One JSON object of circuit c's values: {"circuit":c+1,"U1":...} */
void bm_json_circuit(FILE *f, unsigned c, const char *name, const char *wiring, const double v[BM_Q_COUNT]);
/* A readable table of all circuits (values[c][q]); names may be NULL. */
void bm_print_table(FILE *f, unsigned n_circuits, const double v[][BM_Q_COUNT], const char *const *names,
                    const bm_meter_cfg *cfg);

/* Parses a positive number argument; false and a message on error. */
bool bm_arg_double(const char *opt, const char *s, double lo, double hi, double *out);

#endif
