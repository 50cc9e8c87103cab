/*
 * bench_metering.c — what metering costs per window, beside the measurement
 * of that window, and what the state directory writes per hour (issue #4).
 *
 * - bm_metering_window() for a 4-circuit meter over 2·10⁶ windows of 0.2 s
 *   (a simulated 4.6 days, RTC mode with 6 periods, sliding demand), best of 3,
 *   beside the measurement's own cost per window (bm_meter_feed of 0.2 s of 19
 *   channels at 12.8 kS/s, measured in the same run);
 * - bytes written per hour at the default save interval (5 s): the counter
 *   record's slot every save (720), the whole state's every 60th (12).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/meter.h"
#include "bm/metering.h"
#include "bm/store.h"

static bm_meter meter;
static bm_metering mt;
static bm_results res;
static volatile double sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void)
{
	bm_metering_cfg cfg;
	bm_metering_default(&cfg);
	cfg.tariff_mode = BM_MT_TARIFF_RTC;
	cfg.n_periods = 6;
	for (unsigned k = 0; k < 6; k++)
		cfg.period[k] = (bm_mt_period){(uint16_t)(k * 240), (uint8_t)(k + 1)};
	cfg.demand_method = BM_MT_DEMAND_SLIDING;
	res.n_circuits = 4;
	for (unsigned c = 0; c < 4; c++)
		for (int q = 0; q < BM_Q_COUNT; q++)
			res.v[c][q] = 100.0 + q + c;
	const unsigned n = 2000000;
	double best_mt = 1e9;
	for (int r = 0; r < 3; r++) {
		if (bm_metering_init(&mt, &cfg, 4, 1767225600, NULL) != BM_OK)
			return 1;
		double t0 = now();
		for (unsigned k = 0; k < n; k++) {
			res.v[0][BM_Q_P] = 1000.0 + (k & 255);
			bm_metering_window(&mt, &res, 0.2, 1767225600 + (int64_t)((k + 1) / 5));
		}
		double t = now() - t0;
		if (t < best_mt)
			best_mt = t;
	}
	sink += bm_metering_energy_wh(&mt, 0, BM_MT_TOTAL, BM_MT_EP_IMP);

	/* the measurement of one window, for scale: 10 s of signal */
	bm_meter_cfg mc;
	bm_config_default(&mc);
	const size_t fs = 12800, len = 10 * fs;
	float *fr = malloc(len * 19 * sizeof(float));
	if (!fr)
		return 1;
	for (size_t k = 0; k < len; k++)
		for (int ch = 0; ch < 19; ch++)
			fr[k * 19 + ch] = (float)(3.0 * cos(2 * 3.14159265358979 * 50.0 * k / fs - ch));
	double best_ms = 1e9;
	unsigned wins = 0;
	for (int r = 0; r < 3; r++) {
		bm_meter_init(&meter, &mc, NULL);
		wins = 0;
		double t0 = now();
		for (size_t off = 0; off < len;) {
			bool ready = false;
			off += bm_meter_feed(&meter, fr + off * 19, 19, len - off, &ready);
			wins += ready;
		}
		double t = now() - t0;
		if (t < best_ms)
			best_ms = t;
	}
	free(fr);
	double per_mt = best_mt / n * 1e9, per_ms = best_ms / (wins ? wins : 1) * 1e9;
	size_t slot = (BM_STORE_HDR_SIZE + sizeof(bm_metering) + BM_STORE_ALIGN - 1) / BM_STORE_ALIGN * BM_STORE_ALIGN;
	size_t cslot = (BM_STORE_HDR_SIZE + sizeof(bm_mt_counters) + BM_STORE_ALIGN - 1) / BM_STORE_ALIGN * BM_STORE_ALIGN;
	printf("bench_metering: 4 circuits, RTC tariffs (6 periods), sliding demand, best of 3\n");
	printf("  metering per window        %9.0f ns\n", per_mt);
	printf("  measurement per window     %9.0f ns   metering / measurement = %.4f\n", per_ms, per_mt / per_ms);
	printf("  state written per hour     %9.1f kB   (%zu-byte counters every 5 s, %zu-byte whole state every 5 min)\n",
	       (cslot * 720.0 + slot * 12.0) / 1000.0, cslot, slot);
	printf("  sizeof(bm_metering) = %zu bytes\n", sizeof(bm_metering));
	return 0;
}
