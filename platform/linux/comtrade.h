/*
 * comtrade.h — COMTRADE recording reader (IEEE C37.111-1991/1999/2013).
 *
 * Purpose: play a disturbance / waveform recording (`X.cfg` + `X.dat`) into
 * the meter. Layers, each usable on its own:
 *
 *   1. bm_comtrade_cfg_parse()  — the .cfg text (in memory) into a struct.
 *   2. bm_comtrade_dec_*()      — decode .dat records frame by frame, from a
 *                                  memory buffer (fuzzing, tests) or, inside
 *                                  the reader, from a file read in chunks.
 *   3. bm_comtrade_open/read()  — the file API: open X.cfg, find X.dat or
 *                                  X.DAT beside it, stream frames in chunks.
 *   4. bm_comtrade_map_build()  — which COMTRADE analog channel feeds which
 *                                  meter input (automatic or `--map`), and
 *      bm_comtrade_map_frame()  — one row of values into a meter frame;
 *      bm_comtrade_map_aux()    — the same row's circuit temperatures and
 *                                  residual currents (not frame channels).
 *
 * Supported: data file types ASCII, BINARY (int16), BINARY32 (int32) and
 * FLOAT32, little-endian; revisions 1991 (no rev year, short channel lines),
 * 1999 and 2013 (timemult, time code and time quality lines); any number of
 * sampling-rate sections, or none (timestamps only: the rate is derived when
 * the timestamps are uniform). See docs/comtrade.md.
 *
 * Invariants:
 *  - Every value a frame returns is in PRIMARY SI units: v = a*raw + b, times
 *    primary/secondary when the channel's P/S flag is 'S' (and both are > 0),
 *    times 1000 / 0.001 for kV, kA / mV, mA. A missing sample is NaN.
 *  - Nothing in a file is trusted: every count is bounded before it sizes
 *    anything (BM_COMTRADE_MAX_CHANNELS, BM_COMTRADE_MAX_RATES, line lengths),
 *    a binary .dat's size must be whole records, and the .dat is never read
 *    into memory whole (the reader holds one window of at most a few hundred
 *    KiB). The only allocations are the channel/rate tables of a parsed cfg
 *    and the reader's window, all bounded by those limits.
 *  - Errors: functions return a bm_err and, when `err` is not NULL, write one
 *    line of English into err[0..errlen-1] naming the file and the .cfg line
 *    ("x.cfg:7: ...") or the .dat record and byte offset / line. On error
 *    nothing needs freeing except what the function's comment says.
 *  - Error codes: BM_E_FORMAT malformed file content; BM_E_UNSUPPORTED valid
 *    but beyond this reader (more than BM_COMTRADE_MAX_CHANNELS channels or
 *    BM_COMTRADE_MAX_RATES rates, an unknown revision year, a .cff file, a
 *    channel layout the automatic mapping cannot resolve); BM_E_INVAL bad
 *    argument (including a bad --map string); BM_E_NOTFOUND missing file;
 *    BM_E_IO read error; BM_E_NOSPACE out of memory; BM_E_EOF end of data.
 *
 * Not thread-safe per object; separate objects are independent.
 */
#ifndef BM_COMTRADE_H
#define BM_COMTRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bm/config.h"
#include "bm/err.h"
#include "bm/opts.h"

/* Limits. A file beyond them is refused, never allowed to size memory. */
#define BM_COMTRADE_MAX_CHANNELS 4096u  /* analog + digital (TT) */
#define BM_COMTRADE_MAX_RATES 256u      /* sampling-rate sections */
#define BM_COMTRADE_CFG_LINE_MAX 1024u  /* bytes per .cfg line, without EOL */
#define BM_COMTRADE_CFG_MAX_BYTES (8u << 20) /* whole .cfg file */
#define BM_COMTRADE_FIELD_MAX 64u       /* stored name length; longer is cut */
#define BM_COMTRADE_DAT_FIELD_MAX 64u   /* bytes of one ASCII .dat field */

typedef enum bm_comtrade_type {
	BM_COMTRADE_ASCII = 0,
	BM_COMTRADE_BINARY,   /* int16 analog values */
	BM_COMTRADE_BINARY32, /* int32 analog values (2013) */
	BM_COMTRADE_FLOAT32   /* IEEE-754 float32 analog values (2013) */
} bm_comtrade_type;

/* What an analog channel measures, from its unit string (case-insensitive). */
typedef enum bm_comtrade_kind {
	BM_COMTRADE_OTHER = 0, /* any other unit, e.g. "Hz", "" */
	BM_COMTRADE_VOLTAGE,   /* V, kV, mV */
	BM_COMTRADE_CURRENT,   /* A, kA, mA */
	BM_COMTRADE_TEMPERATURE /* degrees Celsius: C, degC, deg C, °C (UTF-8 or
	                           Latin-1), Cel (UCUM); value as is */
} bm_comtrade_kind;

/* Phase recognised from the `ph` field (see bm_comtrade_phase_parse). */
enum {
	BM_COMTRADE_PH_NONE = -1,
	BM_COMTRADE_PH_A = 0,
	BM_COMTRADE_PH_B = 1,
	BM_COMTRADE_PH_C = 2,
	BM_COMTRADE_PH_N = 3
};

typedef struct bm_comtrade_analog {
	char id[BM_COMTRADE_FIELD_MAX + 1];   /* ch_id */
	char ph[BM_COMTRADE_FIELD_MAX + 1];   /* phase as written */
	char ccbm[BM_COMTRADE_FIELD_MAX + 1]; /* circuit component monitored */
	char unit[BM_COMTRADE_FIELD_MAX + 1]; /* uu as written */
	double a, b;          /* value = a*raw + b, in `unit` (file side) */
	double skew_us;       /* time skew of this channel, µs */
	double min, max;      /* raw range as declared */
	double primary, secondary; /* ratio; 1, 1 when absent (1991) */
	char ps;              /* 'P' or 'S' (upper case); 'P' when absent */
	bm_comtrade_kind kind;
	int phase;            /* BM_COMTRADE_PH_*, from `ph` */
	/* Derived once: primary SI value = k*raw + c. */
	double k, c;
} bm_comtrade_analog;

typedef struct bm_comtrade_digital {
	char id[BM_COMTRADE_FIELD_MAX + 1];
	char ph[BM_COMTRADE_FIELD_MAX + 1];
	char ccbm[BM_COMTRADE_FIELD_MAX + 1];
	uint8_t normal;       /* y: normal state 0 or 1 */
} bm_comtrade_digital;

typedef struct bm_comtrade_rate {
	double hz;            /* samp, > 0 */
	uint64_t endsamp;     /* number of the last sample at this rate */
} bm_comtrade_rate;

/* A date/time stamp of the cfg (start of data, trigger). Fields as written;
 * day and month 0 are accepted (some simulators write zeros). */
typedef struct bm_comtrade_time {
	int year, month, day;  /* 2-digit years are taken as 19yy (>= 70) or 20yy */
	int hour, min, sec;
	uint32_t nsec;         /* fraction of the second, ns */
	int frac_digits;       /* digits written after the decimal point */
} bm_comtrade_time;

typedef struct bm_comtrade_cfg {
	char station[BM_COMTRADE_FIELD_MAX + 1];
	char device[BM_COMTRADE_FIELD_MAX + 1];
	int rev_year;                 /* 1991 (absent), 1999 or 2013 */
	unsigned n_analog, n_digital; /* n_analog + n_digital <= MAX_CHANNELS */
	bm_comtrade_analog *analog;   /* n_analog entries, cfg order */
	bm_comtrade_digital *digital;
	double line_hz;               /* lf, >= 0 */
	unsigned n_rates;             /* 0: timestamps only */
	bm_comtrade_rate *rate;       /* n_rates entries, endsamp increasing */
	uint64_t n_samples;           /* last endsamp; 0 when not declared */
	bm_comtrade_time start, trigger;
	bm_comtrade_type type;
	double timemult;              /* > 0; 1 when absent */
	double ts_unit_us;            /* a .dat timestamp tick: 1 µs, or 0.001
	                                 when the start stamp has ns digits */
	char time_code[8], local_code[8]; /* 2013, as written ("" if absent) */
	char tmq_code[8];
	int leapsec;                  /* 2013; 0 if absent */
} bm_comtrade_cfg;

/* Parses a .cfg held in memory (`len` bytes, need not be NUL-terminated).
 * `name` is used in error messages (NULL: "cfg"). On BM_OK, *cfg owns heap
 * tables: release with bm_comtrade_cfg_free(). On error *cfg is left empty
 * (safe to free). Returns BM_OK, BM_E_FORMAT, BM_E_UNSUPPORTED, BM_E_INVAL
 * (NULL arguments) or BM_E_NOSPACE. */
bm_err bm_comtrade_cfg_parse(const char *text, size_t len, const char *name,
                             bm_comtrade_cfg *cfg, char *err, size_t errlen);

/* Frees the tables of a parsed cfg and zeroes it. NULL-safe, idempotent. */
void bm_comtrade_cfg_free(bm_comtrade_cfg *cfg);

/* Bytes of one binary .dat record; 0 for ASCII. */
size_t bm_comtrade_record_size(const bm_comtrade_cfg *cfg);

/* "ASCII", "BINARY", "BINARY32", "FLOAT32". */
const char *bm_comtrade_type_name(bm_comtrade_type t);

/* Phase of a `ph` string, case-insensitive: A/B/C/N, L1/L2/L3/N, R/S/T,
 * 1/2/3, with an optional "phase"/"ph" prefix and "-N"/"N" suffix ("AN",
 * "A-N", "phase A", "L1N"). Returns BM_COMTRADE_PH_NONE when not recognised
 * (e.g. "AB", ""). */
int bm_comtrade_phase_parse(const char *ph);

/* Per-sample information beside the values. */
typedef struct bm_comtrade_frame {
	uint64_t sample;   /* sample number as written in the record */
	double t_us;       /* timestamp * timemult in µs; NaN if missing */
	int rate_index;    /* index into cfg->rate[], -1 for timestamp-only */
	double rate_hz;    /* rate of this sample; for timestamp-only files the
	                      derived rate (0 until derived) */
} bm_comtrade_frame;

/*
 * .dat decoder. Caller-owned; all fields private (use the functions). It
 * keeps pointers to `cfg` and the buffer: both must outlive it.
 */
typedef struct bm_comtrade_dec {
	const bm_comtrade_cfg *cfg;
	const char *name;
	const uint8_t *buf;   /* window of the data */
	size_t len, pos;      /* bytes in the window, next byte to decode */
	uint64_t off;         /* .dat offset of buf[0] */
	uint64_t count;       /* records decoded */
	uint64_t rec_off;     /* .dat offset of the last record (or line) read */
	unsigned long line;   /* ASCII: line number of the last line read */
	unsigned rate_idx;    /* current rate section */
	double ts_rate_hz;    /* derived rate of a timestamp-only file */
	size_t rec_size;      /* binary record bytes; 0 for ASCII */
	size_t line_max;      /* ASCII: longest accepted line */
	/* file mode (bm_comtrade_reader): refilled from fp into own[0..cap) */
	FILE *fp;
	uint8_t *own;
	size_t cap;
	bool eof;
	bool failed;          /* a decode error happened: further calls fail */
} bm_comtrade_dec;

/* Starts decoding `len` bytes of .dat data at `data` for `cfg`. `name` is
 * used in messages (NULL: "dat"). Cannot fail. */
void bm_comtrade_dec_init(bm_comtrade_dec *d, const bm_comtrade_cfg *cfg,
                          const char *name, const void *data, size_t len);

/* Decodes the next record: fills *frame (may be NULL) and values[0 ..
 * cfg->n_analog-1] (may be NULL when n_analog is 0 or the values are not
 * wanted), in primary SI units, NaN for missing. Returns BM_OK, BM_E_EOF
 * after the last record (having checked the record count against the cfg),
 * BM_E_FORMAT (malformed or truncated record; the decoder then stays
 * failed), or BM_E_IO in file mode. */
bm_err bm_comtrade_dec_next(bm_comtrade_dec *d, bm_comtrade_frame *frame,
                            double *values, char *err, size_t errlen);

/* Decodes every remaining record to validate the whole data, counts them
 * (*n_records, may be NULL) and, for a timestamp-only cfg, derives the rate
 * from the timestamps (*rate_hz, may be NULL; the nominal rate of section 0
 * otherwise). Then rewinds the decoder to the first record; for a
 * timestamp-only file the derived rate is kept for the frames that follow.
 * Returns BM_OK, BM_E_FORMAT (including "non-uniform timestamps without a
 * sampling rate" and fewer than 2 samples in such a file), or BM_E_IO. */
bm_err bm_comtrade_dec_scan(bm_comtrade_dec *d, uint64_t *n_records,
                            double *rate_hz, char *err, size_t errlen);

/*
 * File reader. Caller-owned; `cfg` and `n_records` may be read, the rest is
 * private. Memory: the cfg tables and one window (64 KiB or a few records /
 * lines if they are longer).
 */
typedef struct bm_comtrade_reader {
	bm_comtrade_cfg cfg;
	char *dat_path;       /* the .dat found beside the .cfg */
	uint64_t n_records;   /* records in the .dat; 0 if not yet known (ASCII
	                         without a declared count) */
	double rate_hz;       /* rate of section 0, or the derived rate */
	bm_comtrade_dec dec;  /* points into cfg: never copy an open reader */
} bm_comtrade_reader;

/* Opens `cfg_path` (must end in .cfg, any case) and the .dat beside it (same
 * base name, ".dat" or ".DAT"). Checks a binary .dat's size against the
 * record size and the declared sample count; for timestamp-only files reads
 * the .dat once to derive the rate. On error the reader is left closed (no
 * need to call bm_comtrade_close, though it is harmless). Returns BM_OK,
 * BM_E_NOTFOUND (.cfg or .dat missing), BM_E_IO, BM_E_FORMAT,
 * BM_E_UNSUPPORTED, BM_E_INVAL, BM_E_NOSPACE. */
bm_err bm_comtrade_open(bm_comtrade_reader *r, const char *cfg_path,
                        char *err, size_t errlen);

/* Reads up to max_frames frames: values gets one row of cfg.n_analog doubles
 * per frame (room for max_frames rows), frames (may be NULL) one entry per
 * frame. *n_read = frames stored, also when an error stops the chunk early
 * (those frames are good). Returns BM_OK when *n_read > 0, BM_E_EOF when no
 * frame was left, or an error as bm_comtrade_dec_next. */
bm_err bm_comtrade_read(bm_comtrade_reader *r, double *values,
                        bm_comtrade_frame *frames, size_t max_frames,
                        size_t *n_read, char *err, size_t errlen);

/* Back to the first record (for looped playback). BM_OK or BM_E_IO. */
bm_err bm_comtrade_rewind(bm_comtrade_reader *r, char *err, size_t errlen);

/* Closes files, frees memory, zeroes *r. NULL-safe, idempotent. */
void bm_comtrade_close(bm_comtrade_reader *r);

/*
 * Mapping of COMTRADE analog channels to meter frame channels (config.h
 * layout: 0..2 = U1..U3, 3 + 4*c + p = circuit c's I1, I2, I3, In), and to
 * each circuit's auxiliary inputs (temperature, residual current), which are
 * values beside the frame.
 */
typedef struct bm_comtrade_map {
	int src[BM_MAX_CH];        /* 0-based analog index, or -1 (unmapped) */
	unsigned n_circuits;       /* 0..BM_MAX_CIRCUITS */
	bm_wiring wiring[BM_MAX_CIRCUITS]; /* proposed from the inputs present */
	char name[BM_MAX_CIRCUITS][BM_COMTRADE_FIELD_MAX + 1]; /* ccbm, or "C1".. */
	int temp_src[BM_MAX_CIRCUITS]; /* analog index of circuit c's temperature
	                                  (degC), or -1; only c < n_circuits */
	int res_src[BM_MAX_CIRCUITS];  /* analog index of its residual current
	                                  (a current channel), or -1 */
} bm_comtrade_map;

/*
 * Fills *out. With override == NULL (or ""), automatically:
 *  - voltage channels (V/kV/mV) map to U1/U2/U3 by phase; a neutral or
 *    unrecognised phase is ignored; two channels for one input is an error;
 *  - current channels (A/kA/mA) with a recognised phase are grouped into one
 *    circuit per distinct ccbm, in order of first appearance (more than
 *    BM_MAX_CIRCUITS is an error); phase A/B/C/N -> I1/I2/I3/In; except
 *  - residual currents: a current channel whose ch_id contains "RES" or "I0"
 *    (so also "IRES", "3I0"), or whose ph is "N0" or "0", or whose ph is "R"
 *    while no current channel of its ccbm has ph "S" or "T" (then R/S/T are
 *    phase names and R is I1), all case-insensitive, ph ignoring blanks and
 *    - _ . — it becomes the residual current of the circuit of its ccbm;
 *  - temperature channels (BM_COMTRADE_TEMPERATURE) become the temperature
 *    of the circuit of their ccbm.
 *    A residual or temperature channel whose ccbm formed no circuit is
 *    ignored; two for one circuit is an error.
 * With an override "TARGET=N,..." (TARGET U1|U2|U3|Cc.I1|Cc.I2|Cc.I3|Cc.In|
 * Cc.T|Cc.R, c = 1..BM_MAX_CIRCUITS, N = 1-based analog channel in cfg
 * order), exactly the listed inputs are mapped; n_circuits is the highest c
 * of an I target. Cc.T takes a temperature channel, Cc.R a current channel,
 * and circuit c must have a current input.
 * Each circuit's wiring is proposed from the inputs present: I1 I2 I3 In ->
 * 3P4W_4CT, I1 I2 I3 -> 3P4W_3CT, I1 I3 -> 3P3W_2CT, I1 I2 -> 1P3W, I1 ->
 * 1P2W; anything else is an error naming the circuit.
 * Returns BM_OK; BM_E_INVAL for a bad override (syntax, target, channel out
 * of range, duplicate target or channel, a current or temperature channel on
 * a U target, a voltage or temperature channel on an I target, a channel
 * that is not a temperature on a T target or not a current on an R target,
 * a T or R target of a circuit without current inputs); BM_E_UNSUPPORTED
 * when the automatic mapping finds nothing, an ambiguity, too many
 * circuits, or a circuit without a wiring mode. On error *out is an empty
 * map (every source -1).
 */
bm_err bm_comtrade_map_build(const bm_comtrade_cfg *cfg, const char *override,
                             bm_comtrade_map *out, char *err, size_t errlen);

/* Fills frame[0..stride-1] (meter layout) from one row of analog values
 * (n_analog doubles): mapped channels get their value, everything else 0.
 * A missing (NaN) value becomes 0; the return value counts those, so a
 * caller can report gaps. */
size_t bm_comtrade_map_frame(const bm_comtrade_map *m, const double *row,
                             size_t n_analog, float *frame, size_t stride);

/*
 * The auxiliary inputs of one row of analog values (n_analog doubles, as
 * read): temp_c[c] = circuit c's temperature in degC, res_ma[c] = its
 * residual current in mA (the row's primary amperes x 1000), both
 * instantaneous. NaN where the circuit has no such input (or c >=
 * n_circuits) and where the value is missing. These are samples: averaging
 * the temperature and taking the RMS of the residual current over a window
 * is the caller's job.
 */
void bm_comtrade_map_aux(const bm_comtrade_map *m, const double *vals, unsigned n_analog,
                         double temp_c[BM_MAX_CIRCUITS], double res_ma[BM_MAX_CIRCUITS]);

#endif /* BM_COMTRADE_H */
