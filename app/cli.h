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
#include "bm/pq.h"

#ifndef BM_VERSION
#define BM_VERSION "0.0.0"
#endif

int bm_cmd_analyze(int argc, char **argv);
int bm_cmd_run(int argc, char **argv);
int bm_cmd_registers(int argc, char **argv);
int bm_cmd_events(int argc, char **argv);
/* Modbus client by register name (client.c): exit 0 ok, 1 refused or link error, 2 usage. */
int bm_cmd_read(int argc, char **argv);
int bm_cmd_write(int argc, char **argv);

struct bm_comtrade_reader;
struct bm_comtrade_map;
/* The meter configuration for playing a recording at `rate` S/s (recording.c);
 * nominal 0 = from the recording. BM_E_UNSUPPORTED / BM_E_INVAL with a message. */
bm_err bm_recording_config(bm_meter_cfg *cfg, const struct bm_comtrade_reader *rd, const struct bm_comtrade_map *map,
                           double rate, int nominal, double umin, double imin, char *err, size_t errlen);

/* A circuit's harmonic spectra: HU1 HU2 HU3 HI1 HI2 HI3 HIn, RMS per order
 * (index = order 1..BM_H_MAX), NaN where the wiring or the analysis gives
 * none. Three-wire circuits show the voltages against the artificial
 * neutral. */
#define BM_HCH 7
extern const char *const bm_harm_names[BM_HCH];
void bm_harm_view(const bm_results *r, const bm_meter_cfg *cfg, unsigned c, double rms[BM_HCH][BM_H_MAX + 1]);

struct bm_fft_kiss;
/* Plans an FFT for the meter's configuration into *fft (freeing a previous
 * plan) and attaches harmonic analysis; false when this build cannot analyse
 * harmonics at that sample rate (the meter still measures). */
bool bm_attach_harmonics(bm_meter *m, bm_pq *pq, struct bm_fft_kiss *fft, bool groups);

/* Per-circuit running means of every quantity (and of each harmonic order's
 * RMS and percentage) over accepted windows. */
typedef struct bm_means {
	unsigned windows;
	unsigned n_circuits;
	double sum[BM_MAX_CIRCUITS][BM_Q_COUNT];
	unsigned cnt[BM_MAX_CIRCUITS][BM_Q_COUNT];
	double hsum[BM_MAX_CIRCUITS][BM_HCH][BM_H_MAX + 1][2]; /* [0] RMS, [1] % */
	unsigned hcnt[BM_MAX_CIRCUITS][BM_HCH][BM_H_MAX + 1];
} bm_means;

void bm_means_add(bm_means *mm, const bm_results *r, const bm_meter_cfg *cfg);
double bm_means_get(const bm_means *mm, unsigned c, int q);
/* Mean spectra of circuit c: rms and % per order (NaN where never defined). */
void bm_means_harm(const bm_means *mm, unsigned c, double rms[BM_HCH][BM_H_MAX + 1], double pct[BM_HCH][BM_H_MAX + 1]);
/* Percent of the fundamental from RMS spectra. */
void bm_harm_percent(const double rms[BM_HCH][BM_H_MAX + 1], double pct[BM_HCH][BM_H_MAX + 1]);

/* ,"HU1":[% orders 1..50],"HU1_rms":[...],... for one circuit (nothing
 * when the analysis is off). */
void bm_json_harmonics(FILE *f, const double rms[BM_HCH][BM_H_MAX + 1], const double pct[BM_HCH][BM_H_MAX + 1]);
/* A table of % per order (rows) and channel (columns) for one circuit. */
void bm_print_harmonics(FILE *f, unsigned c, const double pct[BM_HCH][BM_H_MAX + 1]);

/* Output helpers (output.c). NaN prints as null in JSON and "n/a" in text. */
void bm_json_number(FILE *f, double v);
void bm_json_string(FILE *f, const char *s);
/* One JSON object of circuit c's values: {"circuit":c+1,"U1":...}; the
 * harmonic arrays follow when h is not NULL. */
void bm_json_circuit(FILE *f, unsigned c, const char *name, const char *wiring, const double v[BM_Q_COUNT],
                     const double (*hrms)[BM_H_MAX + 1], const double (*hpct)[BM_H_MAX + 1]);
/* The same without the closing brace, for callers that add members. */
void bm_json_circuit_body(FILE *f, unsigned c, const char *name, const char *wiring, const double v[BM_Q_COUNT],
                          const double (*hrms)[BM_H_MAX + 1], const double (*hpct)[BM_H_MAX + 1]);
/* A readable table of all circuits (values[c][q]); names may be NULL. */
void bm_print_table(FILE *f, unsigned n_circuits, const double v[][BM_Q_COUNT], const char *const *names,
                    const bm_meter_cfg *cfg);

/* Parses a positive number argument; false and a message on error. */
bool bm_arg_double(const char *opt, const char *s, double lo, double hi, double *out);

#endif
