/*
 * main.c — bare-metal firmware stub for the Cortex-M4F cross-check.
 *
 * Purpose: use the portable core the way an MCU port does, so that the
 * linker keeps the core's code and scripts/cross-check.sh can report its
 * flash and RAM cost: a static bm_meter (no heap), the default 4-circuit
 * configuration, and a loop that feeds frames from a static buffer, meters
 * each finished window, and answers Modbus RTU frames from a UART buffer
 * through the register map (docs/porting.md shows the same steps). It is
 * linked with newlib (nosys.specs) but never run.
 *
 * Invariants: no malloc, no OS call, no libm. The buffer stands in for the
 * ADC's DMA buffer; it is filled from a sine recurrence (50 Hz at 12.8 kS/s,
 * 256 samples per cycle) so the core sees plausible signals.
 */
#include <stdbool.h>
#include <stddef.h>

#include "bm/alarm.h"
#include "bm/config.h"
#include "bm/meter.h"
#include "bm/metering.h"
#include "bm/modbus.h"
#include "bm/regmap.h"
#include "bm/settings.h"

#define FRAMES 64 /* frames per half of a DMA double buffer */

/* cos and sin of 2*pi/256: one sample of a 50 Hz cycle at 12.8 kS/s. */
#define STEP_COS 0.99969881869620422f
#define STEP_SIN 0.02454122852291229f

/* cos and sin of the phase offsets 0, -120, +120 degrees (L1, L2, L3) and of
 * a 30 degree current lag. */
static const float phase_cos[3] = {1.0f, -0.5f, -0.5f};
static const float phase_sin[3] = {0.0f, -0.8660254f, 0.8660254f};
#define LAG_COS 0.8660254f
#define LAG_SIN 0.5f

static bm_meter meter; /* ~all of the core's RAM: keep it static */
static bm_meter_cfg cfg;
static float frames[FRAMES][BM_MAX_CH];

volatile unsigned long bm_mcu_windows;
static uint64_t bm_mcu_windows_count(void);
static bm_metering mt;
static bm_io io;      /* alarms and the relay: an MPM4000 has one */
volatile uint8_t relay_pins; /* stands in for the relay's GPIO */
static bm_settings settings;
static bm_rm_ident ident = {"branchmeter", "MPM4420-A", "0.1.0", "BM0000001234"};
static bm_rm_session rtu_session;
static bm_mb_rtu_rx rx;
static bm_results last; /* the published window the register map reads */
/* Stand-ins for the UART: the receive interrupt's bytes and a microsecond
 * timer; a real port fills them from its drivers. */
volatile uint8_t uart_rx_byte;
volatile uint32_t timer_us;
volatile uint8_t uart_tx[BM_MB_RTU_MAX];
volatile size_t uart_tx_len;

static int mb_read(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, uint16_t *regs)
{
	(void)unit;
	bm_rm_view v = {.r = &last, .mt = &mt, .set = &settings, .id = &ident, .windows = bm_mcu_windows_count()};
	return bm_rm_read(&v, ctx, timer_us / 1000000u, -1, addr, count, regs);
}

static int commit(void *ctx, const bm_settings *next)
{
	(void)ctx;
	settings = *next; /* a port also writes it to its NVM (bm/store.h) */
	return 0;
}

static int reset(void *ctx, bm_rm_reset what)
{
	(void)ctx;
	if (what == BM_RM_RESET_ENERGY)
		bm_metering_reset_energy(&mt);
	return 0;
}

static const bm_rm_actions actions = {commit, reset, NULL, NULL};

static int mb_write(void *ctx, uint8_t unit, uint16_t addr, uint16_t count, const uint16_t *regs, bool broadcast)
{
	(void)unit;
	(void)broadcast;
	bm_rm_view v = {.r = &last, .mt = &mt, .set = &settings, .id = &ident, .windows = bm_mcu_windows_count()};
	return bm_rm_write(&v, ctx, timer_us / 1000000u, -1, &actions, NULL, addr, count, regs, NULL);
}

static const char *mb_devid(void *ctx, uint8_t unit, uint8_t id)
{
	(void)ctx;
	(void)unit;
	return bm_rm_devid(&ident, id);
}

static const bm_mb_ops mb_ops = {NULL, mb_read, mb_write, mb_devid};

/* The UART side: one received byte in, a frame out after a t3.5 silence. */
static void modbus_poll(void)
{
	static uint8_t frame[BM_MB_RTU_MAX];
	uint8_t out[BM_MB_RTU_MAX];
	size_t flen = 0;
	uint8_t b = uart_rx_byte;
	bool done = bm_mb_rtu_rx_push(&rx, &b, 1, timer_us, frame, sizeof frame, &flen) ||
	            bm_mb_rtu_rx_poll(&rx, timer_us, frame, sizeof frame, &flen);
	if (!done)
		return;
	size_t n = bm_mb_rtu_handle(&mb_ops, &rtu_session, settings.comm.address, frame, flen, out, sizeof out, NULL);
	for (size_t i = 0; i < n; i++)
		uart_tx[i] = out[i];
	uart_tx_len = n;
}

/* Read with a debugger; volatile so the result reads stay in the image. */
volatile float bm_mcu_p_total;

static uint64_t bm_mcu_windows_count(void)
{
	return bm_mcu_windows;
}

/* Fills `frames` with the next FRAMES samples: 230 V phase voltages and 5 A
 * currents lagging 30 degrees on every circuit, in secondary units (VT 1,
 * CT 5 A : 5 A). (*c, *s) is the rotating phasor of L1. */
static void fill(float *c, float *s)
{
	const float u_pk = 325.27f, i_pk = 7.0711f;

	for (size_t n = 0; n < FRAMES; n++) {
		for (unsigned p = 0; p < 3; p++) {
			/* sin(theta + a) and sin(theta + a - lag) */
			float su = *s * phase_cos[p] + *c * phase_sin[p];
			float cu = *c * phase_cos[p] - *s * phase_sin[p];
			float si = su * LAG_COS - cu * LAG_SIN;

			frames[n][p] = u_pk * su;
			for (unsigned k = 0; k < BM_MAX_CIRCUITS; k++)
				frames[n][bm_ch_current(k, p)] = i_pk * si;
		}
		for (unsigned k = 0; k < BM_MAX_CIRCUITS; k++)
			frames[n][bm_ch_current(k, 3)] = 0.0f; /* balanced: In = 0 */
		float c1 = *c * STEP_COS - *s * STEP_SIN;
		float s1 = *s * STEP_COS + *c * STEP_SIN;
		*c = c1;
		*s = s1;
	}
}

int main(void)
{
	float c = 1.0f, s = 0.0f;

	bm_config_default(&cfg);
	bm_settings_default(&settings, &cfg);
	bm_mb_rtu_rx_init(&rx, settings.comm.baud);
	settings.caps.n_do = 1;
	settings.io.al[0][BM_AL_OVER_I].enabled = 1;
	settings.io.al[0][BM_AL_OVER_I].threshold = 6.0;
	settings.io.al[0][BM_AL_OVER_I].relay_mask = 1;
	if (bm_meter_init(&meter, &cfg, NULL) != BM_OK ||
	    bm_io_init(&io, &settings.io, &settings.caps, cfg.n_circuits, NULL) != BM_OK ||
	    bm_metering_init(&mt, &settings.metering, cfg.n_circuits, 1767225600, NULL) != BM_OK)
		for (;;) {
		}
	for (;;) {
		fill(&c, &s);
		size_t done = 0;
		while (done < FRAMES) {
			bool ready = false;
			done += bm_meter_feed(&meter, frames[done], BM_MAX_CH, FRAMES - done, &ready);
			if (ready) {
				const bm_results *r = bm_meter_results(&meter);
				bm_mcu_p_total = (float)r->v[0][BM_Q_P];
				/* the RTC would come from the MCU's RTC peripheral */
				bm_metering_window(&mt, r, r->length / cfg.sample_rate, 1767225600 + (int64_t)bm_mcu_windows / 5);
				last = *r;
				bm_al_values vals[BM_MAX_CIRCUITS];
				for (unsigned k = 0; k < cfg.n_circuits; k++) {
					bm_al_values v0 = {r->v[k], {0.0, 0.0, 0.0}, 0.0, 0.0};
					vals[k] = v0;
				}
				bm_io_window(&io, vals, (double)bm_mcu_windows * 0.2, 1767225600000 + (int64_t)bm_mcu_windows * 200);
				relay_pins = io.do_state;
				bm_mcu_windows++;
			}
		}
		modbus_poll();
	}
}
