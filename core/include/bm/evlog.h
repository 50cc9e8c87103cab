/*
 * evlog.h — the event log: a persistent ring of timestamped events in NVM
 * (issue #6 "Event log"; spec: MPM4000 manual §6.3 "alarm event logs,
 * configuration file changes").
 *
 * Purpose: what happened to the meter and when — power on and off,
 * configuration changes and which interface made them, resets, clock
 * changes, energy rollovers, monthly freezes, password lockouts (alarms,
 * inputs and relays will add theirs) — kept across power cuts, readable
 * through registers (bm/regmap.h) and by `branchmeter events`.
 *
 * Layout in NVM: `capacity` slots of BM_EV_SLOT bytes from `base`. Event
 * number `seq` (1, 2, 3 ... never reused) lives in slot (seq - 1) % capacity,
 * so the ring overwrites the oldest. A slot holds magic, the event and a
 * CRC-32 over the rest; a slot that fails its check is not an event.
 *
 * Invariants:
 *  - Appending writes one slot and syncs: a power cut during it leaves at
 *    worst that one slot invalid (that event is lost; the others stand),
 *    never a wrong event. The lost event's number is then given to the next
 *    one: numbers are unique among the events stored.
 *  - bm_evlog_open() finds the newest valid slot, so numbering continues
 *    after a restart; events older than `capacity` numbers are gone.
 *  - No allocation, no clock: the caller gives each event its time.
 */
#ifndef BM_EVLOG_H
#define BM_EVLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "bm/err.h"
#include "bm/nvm.h"

#define BM_EV_SLOT 32u

typedef enum bm_ev_type {
	BM_EV_NONE = 0,
	BM_EV_POWER_ON = 1,    /* code: 1 state restored, 2 restored from the older copy, 0 started empty */
	BM_EV_POWER_OFF = 2,   /* a clean stop (a power cut leaves no event: the next POWER_ON follows) */
	BM_EV_CONFIG = 3,      /* code: first register written; value: registers written */
	BM_EV_RESET = 4,       /* code: bm_rm_reset */
	BM_EV_CLOCK = 5,       /* value: seconds the clock moved (new - old) */
	BM_EV_ROLLOVER = 6,    /* circuit; value: the threshold, Wh; value2: registers that wrapped */
	BM_EV_FREEZE = 7,      /* value: year*100 + month of the freeze; value2: freezes (a clock jump may skip months) */
	BM_EV_LOCKOUT = 8,     /* wrong passwords: unlock refused for a while */
	BM_EV_LOG_CLEARED = 9, /* reserved */
	BM_EV_ALARM_ON = 10,   /* circuit; code: alarm type; value: the value that triggered */
	BM_EV_ALARM_OFF = 11,  /* circuit; code: alarm type; value: the extreme value while active */
	BM_EV_INPUT = 12,      /* code: input number; value: new state */
	BM_EV_RELAY = 13,      /* code: relay number; value: new state */
	BM_EV_TYPE_COUNT
} bm_ev_type;

/* Which interface caused an event. */
typedef enum bm_ev_source {
	BM_EV_SRC_METER = 0,  /* the meter itself */
	BM_EV_SRC_MODBUS_TCP,
	BM_EV_SRC_MODBUS_RTU,
	BM_EV_SRC_PANEL,
	BM_EV_SRC_WEB,
	BM_EV_SRC_MQTT,
	BM_EV_SRC_CONFIG_FILE,
	BM_EV_SRC_COUNT
} bm_ev_source;

typedef struct bm_event {
	uint32_t seq;     /* set by bm_evlog_append */
	int64_t time;     /* RTC, Unix seconds */
	uint16_t type;    /* bm_ev_type */
	uint8_t source;   /* bm_ev_source */
	int8_t circuit;   /* 0..3, or -1 for the meter */
	uint16_t code;    /* type-specific, see bm_ev_type */
	float value;      /* type-specific */
	float value2;     /* type-specific (0 if unused) */
} bm_event;

typedef struct bm_evlog {
	const bm_nvm *nvm;
	uint32_t base;
	uint32_t capacity; /* slots */
	uint32_t last;     /* number of the newest event, 0 if none */
	uint32_t held;     /* valid events in the ring (<= capacity) */
} bm_evlog;

/* Opens the ring at [base, base + capacity * BM_EV_SLOT) of nvm and scans it.
 * BM_OK; BM_E_INVAL (capacity 0 or the range past nvm->size); BM_E_IO. */
bm_err bm_evlog_open(bm_evlog *log, const bm_nvm *nvm, uint32_t base, uint32_t capacity);

/* Numbers ev (ev->seq is set), writes and syncs it. BM_OK or BM_E_IO (the
 * number is used up even then). */
bm_err bm_evlog_append(bm_evlog *log, bm_event *ev);

/* Event number seq. BM_OK; BM_E_NOTFOUND (never written, overwritten, or its
 * slot is damaged); BM_E_IO. */
bm_err bm_evlog_get(const bm_evlog *log, uint32_t seq, bm_event *out);

/* Names for documents and `branchmeter events`. */
const char *bm_ev_type_name(unsigned type);     /* "power-on" ... ; "?" if unknown */
const char *bm_ev_source_name(unsigned source); /* "meter", "modbus-tcp" ... */

#endif /* BM_EVLOG_H */
