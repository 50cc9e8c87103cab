/*
 * fuzz_regmap.c — libFuzzer target: Modbus requests through the codec into
 * the real register map (core/src/regmap.c), as the meter serves them.
 *
 * Input: a sequence of requests, each a length byte n (1..253) and n PDU
 * bytes; the first byte of the input picks the unit (whole meter or a
 * circuit view) and the clock's step. Between requests time advances, so
 * unlock expiry and the lockout are reached. The view holds real settings,
 * a metering state fed a few windows and a results set with NaN and finite
 * values, so every kind of register is computed.
 *
 * Invariants checked (__builtin_trap on violation):
 *  - every committed settings value passes bm_settings_validate() (a write
 *    can never leave the meter with settings another path would refuse);
 *  - a response is 2..BM_MB_PDU_MAX bytes; an exception code is 1..4;
 *  - a read that succeeded answers exactly 2 * count data bytes;
 *  - a write that answered an exception committed nothing.
 * Seeds: tests/fuzz/corpus/regmap/ (unlock, reads of each area, writes).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bm/modbus.h"
#include "bm/regmap.h"

static bm_settings set;
static bm_metering mt;
static bm_results res;
static bm_rm_ident ident = {"branchmeter", "MPM4420-A", "0.1.0", "BM0000001234"};
static bm_rm_session ses;
static bm_io io;
static uint32_t now;
static int commits, resets, clocks;

static bm_rm_view view(void)
{
	static const double temp[BM_MAX_CIRCUITS] = {21.5, 22.5, 23.5, 24.5};
	bm_rm_view v = {.r = &res, .mt = &mt, .set = &set, .id = &ident, .rtc_unix = 1767225600, .windows = 42,
	                .status = 1, .io = &io, .temp_c = temp};
	return v;
}

static int a_commit(void *ctx, const bm_settings *next)
{
	(void)ctx;
	if (bm_settings_validate(next, NULL) != BM_OK)
		__builtin_trap();
	set = *next;
	commits++;
	return 0;
}

static int a_reset(void *ctx, bm_rm_reset what)
{
	(void)ctx;
	if (what < 1 || what >= BM_RM_RESET_COUNT)
		__builtin_trap();
	resets++;
	return 0;
}

static int a_clock(void *ctx, int64_t t)
{
	(void)ctx;
	if (t < 946684800 || t > 4102444799)
		__builtin_trap();
	clocks++;
	return 0;
}

static int a_relay(void *ctx, unsigned r, bool close)
{
	(void)ctx;
	if (r >= set.caps.n_do)
		__builtin_trap();
	bm_err e = bm_io_command(&io, r, close, 1.0, 1767225600000);
	return e == BM_OK ? 0 : 3;
}

static const bm_rm_actions acts = {a_commit, a_reset, a_clock, a_relay};
static int unit_view;

static int op_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	(void)ctx;
	(void)unit;
	bm_rm_view v = view();
	return bm_rm_read(&v, &ses, now, unit_view, addr, count, regs);
}

static int op_write(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool bc)
{
	(void)ctx;
	(void)unit;
	(void)bc;
	bm_rm_view v = view();
	int before = commits;
	int ex = bm_rm_write(&v, &ses, now, unit_view, &acts, NULL, addr, count, regs, NULL);
	if (ex != 0 && commits != before)
		__builtin_trap();
	if (ex < 0 || ex > 4)
		__builtin_trap();
	return ex;
}

static const char *op_devid(void *ctx, uint8_t unit, uint8_t id)
{
	(void)ctx;
	(void)unit;
	return bm_rm_devid(&ident, id);
}

static const bm_mb_ops ops = {NULL, op_read, op_write, op_devid};

static void setup(void)
{
	bm_settings_default(&set, NULL);
	/* a KPM312 with relays, inputs and temperature: every kind of item is there */
	set.caps.n_do = 4;
	set.caps.n_di = 4;
	set.caps.temperature = 0x0F;
	bm_io_init(&io, &set.io, &set.caps, set.meter.n_circuits, NULL);
	bm_metering_init(&mt, &set.metering, set.meter.n_circuits, 1767225600, NULL);
	memset(&res, 0, sizeof res);
	res.n_circuits = set.meter.n_circuits;
	for (unsigned c = 0; c < res.n_circuits; c++)
		for (unsigned q = 0; q < BM_Q_COUNT; q++)
			res.v[c][q] = (q % 7 == 3) ? NAN : 10.0 * c + q;
	for (int w = 0; w < 3; w++)
		bm_metering_window(&mt, &res, 0.2, 1767225600 + w);
	memset(&ses, 0, sizeof ses);
	now = 1000;
	commits = resets = clocks = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	unit_view = (data[0] & 7) < 4 ? -1 : (int)(data[0] & 3);
	uint32_t step = (uint32_t)(data[0] >> 3) * 13u; /* 0..403 s between requests */
	size_t i = 1;
	uint8_t resp[BM_MB_PDU_MAX];
	while (i < size) {
		size_t n = data[i++];
		if (n == 0 || n > BM_MB_PDU_MAX || i + n > size)
			break;
		int r = bm_mb_pdu_handle(&ops, NULL, 1, false, data + i, n, resp, sizeof resp, NULL);
		if (r < 2 || r > BM_MB_PDU_MAX)
			__builtin_trap();
		if (resp[0] & 0x80) {
			if (r != 2 || resp[1] < 1 || resp[1] > 4)
				__builtin_trap();
		} else if ((resp[0] == 3 || resp[0] == 4) && n == 5) {
			unsigned count = (unsigned)data[i + 3] << 8 | data[i + 4];
			if (resp[1] != 2 * count || (size_t)r != 2 + 2 * count)
				__builtin_trap();
		}
		i += n;
		now += step;
	}
	return 0;
}
