/*
 * caltime.h — pure proleptic-Gregorian calendar arithmetic (no OS, no tz db).
 *
 * Purpose: the metering core needs local calendar time (tariff periods,
 * demand alignment, daily / monthly clearing, monthly freezes) from the RTC's
 * Unix time and one configured fixed UTC offset. libc's gmtime/mktime are
 * not available (or not reentrant) on every target, so this is our own,
 * using the days-from-civil / civil-from-days algorithms (H. Hinnant).
 *
 * Invariants: no state, no clock reads; valid for every int64 Unix time
 * whose year fits in int32; floor division everywhere, so times before 1970
 * and negative offsets split correctly. Seconds since the epoch ignore leap
 * seconds, as Unix time does. Weekday: 0 = Sunday .. 6 = Saturday.
 */
#ifndef BM_CALTIME_H
#define BM_CALTIME_H

#include <stdint.h>

#include "bm/err.h"

typedef struct bm_caltime {
	int32_t year;    /* e.g. 2026 */
	uint8_t month;   /* 1..12 */
	uint8_t day;     /* 1..31 */
	uint8_t hour;    /* 0..23 */
	uint8_t minute;  /* 0..59 */
	uint8_t second;  /* 0..59 */
	uint8_t weekday; /* 0 Sunday .. 6 Saturday */
} bm_caltime;

/* Days from 1970-01-01 to y-m-d (negative before). m 1..12, d 1..31; no
 * range check (d beyond the month's end just counts on). */
int64_t bm_caltime_days_from_civil(int32_t y, unsigned m, unsigned d);

/* Inverse of bm_caltime_days_from_civil. */
void bm_caltime_civil_from_days(int64_t days, int32_t *y, unsigned *m, unsigned *d);

/* Days in month m (1..12) of year y; 0 for a month out of range. */
unsigned bm_caltime_month_days(int32_t y, unsigned m);

/* Floor division / modulo by a positive divisor (for local-time maths). */
int64_t bm_caltime_floordiv(int64_t a, int64_t b);
int64_t bm_caltime_floormod(int64_t a, int64_t b);

/* Splits Unix time + UTC offset (seconds, east positive) into local fields. */
void bm_caltime_split(int64_t unix_s, int32_t utc_offset_s, bm_caltime *out);

/*
 * Joins local fields (weekday ignored) back into Unix time.
 * Returns BM_OK, or BM_E_INVAL when a field is out of range (month 1..12,
 * day 1..days of that month, hour 0..23, minute 0..59, second 0..59).
 */
bm_err bm_caltime_join(const bm_caltime *t, int32_t utc_offset_s, int64_t *unix_s);

#endif /* BM_CALTIME_H */
