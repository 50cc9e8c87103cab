/*
 * main.c — bare-metal firmware stub for the Cortex-M4F cross-check.
 *
 * Purpose: use the portable core the way an MCU port does, so that the
 * linker keeps the core's code and scripts/cross-check.sh can report its
 * flash and RAM cost: a static bm_meter (no heap), the default 4-circuit
 * configuration, and a loop that feeds frames from a static buffer and reads
 * each finished window. It is linked with newlib (nosys.specs) but never run.
 *
 * Invariants: no malloc, no OS call, no libm. The buffer stands in for the
 * ADC's DMA buffer; it is filled from a sine recurrence (50 Hz at 12.8 kS/s,
 * 256 samples per cycle) so the core sees plausible signals.
 */
#include <stdbool.h>
#include <stddef.h>

#include "bm/config.h"
#include "bm/meter.h"

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

/* Read with a debugger; volatile so the result reads stay in the image. */
volatile float bm_mcu_p_total;
volatile unsigned long bm_mcu_windows;

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
	if (bm_meter_init(&meter, &cfg, NULL) != BM_OK)
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
				bm_mcu_windows++;
			}
		}
	}
}
