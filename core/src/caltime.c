/*
 * caltime.c — calendar arithmetic for the metering core (see caltime.h).
 *
 * Invariant: integer arithmetic only, floor semantics for negative values;
 * the eras of 400 years (146097 days) make the algorithms branch-light and
 * exact over the whole int32 year range.
 */
#include "bm/caltime.h"

int64_t bm_caltime_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b) != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t bm_caltime_floormod(int64_t a, int64_t b)
{
	return a - bm_caltime_floordiv(a, b) * b;
}

int64_t bm_caltime_days_from_civil(int32_t y32, unsigned m, unsigned d)
{
	int64_t y = (int64_t)y32 - (m <= 2 ? 1 : 0);
	int64_t era = bm_caltime_floordiv(y, 400);
	int64_t yoe = y - era * 400;                                         /* 0..399 */
	int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1; /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                 /* 0..146096 */
	return era * 146097 + doe - 719468;
}

void bm_caltime_civil_from_days(int64_t z, int32_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = bm_caltime_floordiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int32_t)(yy + (mm <= 2 ? 1 : 0));
	*m = mm;
	*d = dd;
}

static int is_leap(int32_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned bm_caltime_month_days(int32_t y, unsigned m)
{
	static const uint8_t md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12)
		return 0;
	return md[m - 1] + (m == 2 && is_leap(y) ? 1u : 0u);
}

void bm_caltime_split(int64_t unix_s, int32_t utc_offset_s, bm_caltime *out)
{
	int64_t local = unix_s + utc_offset_s;
	int64_t days = bm_caltime_floordiv(local, 86400);
	int64_t sod = local - days * 86400;
	unsigned m, d;
	bm_caltime_civil_from_days(days, &out->year, &m, &d);
	out->month = (uint8_t)m;
	out->day = (uint8_t)d;
	out->hour = (uint8_t)(sod / 3600);
	out->minute = (uint8_t)(sod / 60 % 60);
	out->second = (uint8_t)(sod % 60);
	out->weekday = (uint8_t)bm_caltime_floormod(days + 4, 7); /* 1970-01-01 was a Thursday */
}

bm_err bm_caltime_join(const bm_caltime *t, int32_t utc_offset_s, int64_t *unix_s)
{
	if (!t || !unix_s || t->month < 1 || t->month > 12 || t->day < 1 ||
	    t->day > bm_caltime_month_days(t->year, t->month) || t->hour > 23 || t->minute > 59 || t->second > 59)
		return BM_E_INVAL;
	int64_t days = bm_caltime_days_from_civil(t->year, t->month, t->day);
	*unix_s = days * 86400 + t->hour * 3600 + t->minute * 60 + t->second - utc_offset_s;
	return BM_OK;
}
