/*
 * regmap.h — the register map: every value and setting of the meter at a
 * Modbus address (issue #5; spec: MPM4000 manual §6, §7.5; DESIGN.md
 * "Register map").
 *
 * Purpose: one table (core/src/regmap.c) is the single source of truth for
 * the map. The servers read and write through it, `branchmeter read/write`
 * finds registers by name in it, and `branchmeter registers` prints
 * docs/registers.md and docs/registers.csv from it (a test fails when the
 * committed documents differ).
 *
 * Invariants:
 *  - Registers are computed on demand from one bm_rm_view: the caller fills
 *    the view from one published snapshot, so every register of one read
 *    comes from the same window.
 *  - Each item (a value of 1..16 registers) is read or written whole: a
 *    request that starts or ends inside an item, or covers an address no
 *    item has (a gap, past the map, a circuit the meter does not have, a
 *    relay, input, temperature or residual-current input the model lacks:
 *    settings.caps), answers exception 02.
 *  - A write changes a copy of the settings, which bm_settings_validate()
 *    checks as a whole before actions->commit() is called once: an
 *    out-of-range value or a non-ascending tariff table answers 03 and
 *    changes nothing; a read-only item or a locked one answers 02.
 *  - Floats are IEEE-754 binary32, 64-bit integers four registers, all
 *    big-endian with the high word first; strings two ASCII characters a
 *    register, high byte first, NUL padded. A value not available reads as
 *    NaN (floats) or 0 (integers).
 *  - No allocation, no clock: the caller passes a monotonic second count for
 *    unlock expiry.
 */
#ifndef BM_REGMAP_H
#define BM_REGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/alarm.h"
#include "bm/err.h"
#include "bm/evlog.h"
#include "bm/meter.h"
#include "bm/metering.h"
#include "bm/settings.h"

#define BM_RM_VERSION 1
#define BM_RM_CCFG_BASE 2000      /* circuit configuration, circuit 1 */
#define BM_RM_CCFG_STRIDE 200
#define BM_RM_ACFG_BASE 3000      /* circuit alarm configuration, circuit 1 */
#define BM_RM_ACFG_STRIDE 200
#define BM_RM_CIRCUIT_BASE 10000  /* circuit measurement and metering, circuit 1 */
#define BM_RM_CIRCUIT_STRIDE 4000
#define BM_RM_UNLOCK_S 300u       /* an unlock lasts 5 min after the last accepted write */
#define BM_RM_MAX_FAILS 5u        /* wrong passwords in a row before a lockout */
#define BM_RM_LOCKOUT_S 60u
#define BM_RM_ITEM_MAX_REGS 16

typedef enum bm_rm_type {
	BM_RT_U16 = 0,
	BM_RT_I16,
	BM_RT_U32,
	BM_RT_I32,
	BM_RT_U64,
	BM_RT_I64,
	BM_RT_F32,
	BM_RT_STR,      /* ASCII, regs*2 characters */
	BM_RT_DATETIME, /* 6 × U16: year, month, day, hour, minute, second (local time) */
	BM_RT_COUNT
} bm_rm_type;

typedef enum bm_rm_access { BM_RA_R = 0, BM_RA_RW, BM_RA_W } bm_rm_access;

/* What a write needs unlocked (the session's level bits). */
enum { BM_RM_LEVEL_NONE = 0, BM_RM_LEVEL_SETTINGS = 1, BM_RM_LEVEL_RESET = 2 };

/* Values of the reset command register. */
typedef enum bm_rm_reset {
	BM_RM_RESET_ENERGY = 1,        /* per-phase and total energy registers */
	BM_RM_RESET_MAX_DEMAND = 2,
	BM_RM_RESET_MAXMIN = 3,
	BM_RM_RESET_TARIFF_ENERGY = 4, /* T1..T6 and the month so far */
	BM_RM_RESET_FACTORY = 5,       /* settings back to defaults (energy kept) */
	BM_RM_RESET_COUNT
} bm_rm_reset;

/* Identity strings (also served by FC 43/14). */
typedef struct bm_rm_ident {
	char vendor[33];
	char model[41];    /* product code, e.g. "MPM4410-A" (the register holds 32 characters) */
	char firmware[17]; /* "0.1.0" */
	char serial[17];   /* its last four digits are the universal password */
} bm_rm_ident;

/* Everything a read sees, filled by the caller from one snapshot. */
typedef struct bm_rm_view {
	const bm_results *r;     /* last window; NULL before the first (values read NaN) */
	const bm_metering *mt;
	const bm_settings *set;
	const bm_rm_ident *id;
	int64_t rtc_unix;        /* the RTC now */
	uint64_t windows;        /* windows measured since start */
	uint16_t status;         /* bit 0: frequency locked; bit 1: state restored at start */
	/* alarms, relays, inputs (may be NULL: they read 0) and the auxiliary
	 * inputs' last values per circuit (NULL: NaN) */
	const bm_io *io;
	const double *temp_c;
	const double *res_ma;
	/* the event log (may be absent: ev_get NULL, events read 0) */
	uint32_t ev_last;        /* number of the newest event */
	bm_err (*ev_get)(void *ev_ctx, uint32_t seq, bm_event *out);
	void *ev_ctx;
} bm_rm_view;

#define BM_RM_EVENTS 20  /* events E1..E20 mapped at once (event_select pages) */

/* Password state of one client (a TCP connection, the serial line). Zero it
 * to start locked. */
typedef struct bm_rm_session {
	uint8_t level;          /* BM_RM_LEVEL_* bits unlocked */
	uint8_t fails;          /* wrong passwords in a row */
	uint32_t until_s;       /* level valid while now_s < until_s */
	uint32_t lockout_s;     /* unlock refused while now_s < lockout_s */
	uint32_t ev_sel;        /* event shown as E1 (0: the newest) */
} bm_rm_session;

/* What a write may ask of the meter. Each returns 0 or an exception code
 * (04 when it could not be done). */
typedef struct bm_rm_actions {
	int (*commit)(void *ctx, const bm_settings *next); /* already validated */
	int (*reset)(void *ctx, bm_rm_reset what);
	int (*set_clock)(void *ctx, int64_t unix_s);
	int (*relay)(void *ctx, unsigned r, bool close); /* manual relay command; 03 if in alarm mode */
} bm_rm_actions;

/*
 * Reads count registers at addr. `circuit_view` -1 serves the whole map; 0..3
 * serves circuit c's blocks at circuit 1's addresses (the per-circuit unit
 * ids), the other circuits' blocks then answer 02. Returns 0 or 02 (regs
 * untouched then); 03 for count 0 or NULL pointers.
 */
int bm_rm_read(const bm_rm_view *v, const bm_rm_session *s, uint32_t now_s, int circuit_view, uint16_t addr,
               uint16_t count, uint16_t *regs);

/* Writes count registers at addr (see the invariants). Returns 0 or an
 * exception code; *what (if not NULL) says why a write was refused. */
int bm_rm_write(const bm_rm_view *v, bm_rm_session *s, uint32_t now_s, int circuit_view,
                const bm_rm_actions *act, void *ctx, uint16_t addr, uint16_t count, const uint16_t *regs,
                const char **what);

/* The FC 43/14 object `id` (bm/modbus.h BM_MB_ID_*), or NULL. */
const char *bm_rm_devid(const bm_rm_ident *id, uint8_t object_id);

/* --- the table, for documents and clients --------------------------------- */

typedef struct bm_rm_info {
	char name[40];      /* "C1.U1", "vt_ratio", "C2.T3.EP_imp_Wh" ... */
	uint16_t addr;
	uint8_t regs;
	uint8_t type;       /* bm_rm_type */
	uint8_t access;     /* bm_rm_access */
	uint8_t level;      /* BM_RM_LEVEL_* a write needs */
	int8_t circuit;     /* 0..3, or -1 for meter-wide */
	const char *unit;   /* "V", "kWh", "" ... */
	const char *requires; /* what the model must have: "" always, "relay 2", "input 1", "inputs",
	                         "temperature", "residual current" (else exception 02) */
	char desc[160];
} bm_rm_info;

/* Iterates over every item of the map for `n_circuits` circuits, in address
 * order. bm_rm_iter_init() starts it; bm_rm_next() returns false at the end. */
typedef struct bm_rm_iter {
	uint16_t group, circuit, block, item;
	uint8_t n_circuits;
} bm_rm_iter;
void bm_rm_iter_init(bm_rm_iter *it, unsigned n_circuits);
bool bm_rm_next(bm_rm_iter *it, bm_rm_info *out);

/* The item named `name` (exact, case-sensitive), for a meter with all
 * BM_MAX_CIRCUITS circuits. BM_OK or BM_E_NOTFOUND. */
bm_err bm_rm_find(const char *name, bm_rm_info *out);

const char *bm_rm_type_name(unsigned type); /* "U16" ... "DATETIME" */

/* Register codecs, for clients: a value of `type` to / from registers. */
void bm_rm_put_f32(uint16_t *regs, float v);
float bm_rm_get_f32(const uint16_t *regs);
void bm_rm_put_u64(uint16_t *regs, uint64_t v, unsigned n_regs); /* 1, 2 or 4 registers */
uint64_t bm_rm_get_u64(const uint16_t *regs, unsigned n_regs);

#endif /* BM_REGMAP_H */
