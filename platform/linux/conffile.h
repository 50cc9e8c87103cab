/*
 * conffile.h — the configuration file of `branchmeter run --config FILE`
 * (docs/configuration.md "Configuration file (`--config`)", commented
 * example docs/examples/branchmeter.ini).
 *
 * Purpose: read an INI file with four sections — [meter] (the model code),
 * [modbus] (the servers' addresses and limits), [settings] (any writable
 * setting by its register name) and [gpio] (relays and digital inputs on
 * GPIO lines) — into plain data, and apply its [settings] to a bm_settings
 * through the register map's own write path.
 *
 * Invariants:
 *  - Two steps, so each has one job: bm_conf_load*() checks the file's
 *    shape (sections, keys, number syntax, register names, that a register
 *    is a setting); bm_conf_apply_settings() checks the values against the
 *    meter (its circuits, its model's caps, bm_settings_validate()) exactly
 *    as a Modbus write of the same register would, because it is one.
 *  - Nothing half-done: a load that fails leaves *out untouched; an apply
 *    that fails leaves *set untouched (both work on a copy).
 *  - Every message is one line naming the file and the line:
 *    "meter.ini:12: [settings] vt_ratio = 0: must be 1..10000".
 *  - bm_conf is plain data without pointers: it may be copied and built by
 *    hand (the apply step re-checks everything it uses). No configuration
 *    is kept here; the one thing kept is a read-only index of the register
 *    map's names, built at the first lookup (pthread_once), so names are
 *    found in O(log n) rather than by bm_rm_find()'s walk of the map.
 *  - Thread-safe: separate bm_conf / bm_settings objects are independent.
 */
#ifndef BM_PLAT_CONFFILE_H
#define BM_PLAT_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "bm/alarm.h"
#include "bm/err.h"
#include "bm/settings.h"

#define BM_CONF_MAX_SETTINGS 512
#define BM_CONF_MAX_BYTES (1u << 20) /* bm_conf_load() refuses larger files */

/* One [settings] line: a register name (docs/registers.md) and its value as
 * written; line is the file's line (0: not from a file). */
typedef struct bm_conf_setting {
	char name[40];
	char value[64];
	int line;
} bm_conf_setting;

/* A GPIO line: chip ("gpiochip0", "/dev/gpiochip0" or a chip label), line
 * offset on it, and whether the line is active low. used: the file names it. */
typedef struct bm_conf_gpio {
	char chip[64];
	unsigned line;
	bool active_low;
	bool used;
} bm_conf_gpio;

typedef struct bm_conf {
	char path[512];            /* the file's name, for messages */
	char model[40];            /* [meter] model, "" if not given (validated by the caller) */
	char tcp[300];             /* [modbus] tcp: "[HOST:]PORT" or "off"; "" if not given */
	char rtu[256];             /* [modbus] rtu: serial device; "" if not given */
	unsigned clients;          /* [modbus] clients 1..1024; 0 if not given */
	double idle_s;             /* [modbus] idle 0.1..86400 s; 0 if not given */
	char web[300];             /* [web] listen: "[HOST:]PORT" or "off"; "" if not given */
	char web_assets[512];      /* [web] assets: the page's folder; "" if not given */
	char web_admin[128];       /* [web] admin_password (>= 8 characters); "" if not given */
	char web_user[128];        /* [web] user_password (>= 8 characters); "" if not given */
	unsigned n_settings;
	bm_conf_setting settings[BM_CONF_MAX_SETTINGS]; /* in file order */
	bm_conf_gpio dout[BM_DO_MAX], din[BM_DI_MAX];  /* [gpio] DO1..DO4, DI1..DI4 */
} bm_conf;

/*
 * Parses `text` (a whole file's contents, NUL-terminated) named `name` in
 * messages (NULL: "<string>"). Returns BM_OK with *out filled; else *out is
 * untouched and err (if not NULL) holds "name:line: [section] key = value:
 * reason":
 *  - BM_E_FORMAT: syntax, an unknown section or key, a key given twice, a
 *    continuation line, a malformed number or GPIO spec, an unknown
 *    register name, more than BM_CONF_MAX_SETTINGS settings, a value too
 *    long for its field;
 *  - BM_E_INVAL: a well-formed value out of range (clients, idle, a port, a
 *    number out of its register type's range), a register that is not a
 *    setting (read-only, a command, the clock, per-connection state), a
 *    GPIO line used twice;
 *  - BM_E_NOSPACE: out of memory.
 * Register names are looked up in the register map (as bm_rm_find(), exact
 * and case-sensitive); setting values are kept as text (their syntax is
 * checked against the register's type).
 */
bm_err bm_conf_load_string(const char *text, const char *name, bm_conf *out, char *err, size_t errlen);

/* Reads the file (at most BM_CONF_MAX_BYTES, no NUL bytes) and parses it
 * with bm_conf_load_string(). Also BM_E_IO when it cannot be opened or read
 * ("path: <errno text>"), BM_E_FORMAT when too large or binary. */
bm_err bm_conf_load(const char *path, bm_conf *out, char *err, size_t errlen);

/*
 * Applies c's [settings] to *set, each through the register map's write
 * path: bm_rm_write() on a view whose settings are a working copy of *set,
 * a fully unlocked session and actions whose commit copies the validated
 * result back. So each value gets exactly the checks a Modbus write of the
 * same register gets (n_circuits and the caps come from *set).
 *
 * Order: settings are written in file order; one the meter refuses with a
 * value error is tried again after the others, for as long as a round makes
 * progress (so "C1.I1.primary = 60000" may come before the
 * "C1.I1.secondary = 10" that makes its CT ratio valid). The values of
 * registers with type F32 are rounded to binary32 as over Modbus.
 *
 * Returns BM_OK with *set updated, or (with *set untouched):
 *  - BM_E_INVAL with "path:line: [settings] name = value: reason": a value
 *    the meter refuses (the reason is the register map's), a circuit the
 *    meter does not have, a register the model lacks, a register that is
 *    not a setting;
 *  - BM_E_FORMAT: a malformed value or an unknown register name (only for a
 *    bm_conf built by hand: bm_conf_load refuses those);
 *  - BM_E_NOSPACE: out of memory.
 * No settings in c: BM_OK, *set untouched.
 */
bm_err bm_conf_apply_settings(const bm_conf *c, bm_settings *set, char *err, size_t errlen);

#endif /* BM_PLAT_CONFFILE_H */
