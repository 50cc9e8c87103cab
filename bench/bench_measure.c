/*
 * bench_measure.c — real-time factor of the measuring core (issue #2).
 *
 * Signal: one 4-circuit meter, every circuit 3P4W_4CT (3 voltages + 16
 * currents = 19 channels) at 12.8 kS/s, 10 s with harmonics and noise,
 * generated once into memory. Measured in the same run, with the same
 * compiler flags:
 *  - the limit kernel: one pass over the same frames accumulating, per
 *    channel, Σx² and, per phase, Σu·i — the least that RMS and active power
 *    need;
 *  - the pipeline: bm_meter_feed over the same frames (front end, windowing,
 *    all quantities), with CT inputs and again with Rogowski inputs.
 * Each figure is the best of 5 runs. Printed: real-time factors and the ratio
 * pipeline / limit kernel (goal: CT pipeline within 4× and ≥ 2000× real time).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bm/meter.h"

#define SECONDS 10
#define FS 12800
#define NCH 19
#define RUNS 5

static bm_meter meter;
static volatile double sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void generate(float *fr, size_t n, int rcoil)
{
	const double w = 2 * 3.14159265358979 * 50.0;
	uint64_t rs = 12345;
	for (size_t k = 0; k < n; k++) {
		double t = (double)k / FS;
		for (int p = 0; p < 3; p++) {
			double a = w * t - p * 2.0943951023931953;
			fr[k * NCH + p] = (float)(325.0 * cos(a) + 10.0 * cos(5 * a));
		}
		for (int c = 0; c < 4; c++)
			for (int p = 0; p < 4; p++) {
				double a = w * t - p * 2.0943951023931953 - 0.3 * (c + 1);
				rs = rs * 6364136223846793005ull + 1442695040888963407ull;
				double noise = ((double)(rs >> 11) / 9007199254740992.0 - 0.5) * 1e-4;
				double x = rcoil ? -0.085 * 0.5 * (sin(a) + 0.45 * sin(3 * a)) : 3.0 * (cos(a) + 0.15 * cos(3 * a));
				fr[k * NCH + 3 + 4 * c + p] = (float)(x + noise);
			}
	}
}

static double limit_kernel(const float *fr, size_t n)
{
	double s2[NCH] = {0}, sp[12] = {0};
	for (size_t k = 0; k < n; k++) {
		const float *f = fr + k * NCH;
		for (int ch = 0; ch < NCH; ch++)
			s2[ch] += (double)f[ch] * f[ch];
		for (int c = 0; c < 4; c++)
			for (int p = 0; p < 3; p++)
				sp[c * 3 + p] += (double)f[p] * f[3 + 4 * c + p];
	}
	double s = 0;
	for (int ch = 0; ch < NCH; ch++)
		s += s2[ch];
	for (int k = 0; k < 12; k++)
		s += sp[k];
	return s;
}

/* Timed: feeding only; bm_meter_init (filter design) is a start-up cost. */
static unsigned pipeline(const float *fr, size_t n, const bm_meter_cfg *cfg, double *seconds)
{
	bm_meter_init(&meter, cfg, NULL);
	double t0 = now();
	unsigned windows = 0;
	size_t off = 0;
	while (off < n) {
		bool ready = false;
		off += bm_meter_feed(&meter, fr + off * NCH, NCH, n - off, &ready);
		if (ready) {
			windows++;
			sink += bm_meter_results(&meter)->v[0][BM_Q_P];
		}
	}
	*seconds = now() - t0;
	return windows;
}

int main(void)
{
	const size_t n = (size_t)SECONDS * FS;
	float *ct = malloc(n * NCH * sizeof(float)), *rc = malloc(n * NCH * sizeof(float));
	if (!ct || !rc)
		return 1;
	generate(ct, n, 0);
	generate(rc, n, 1);
	bm_meter_cfg cfg_ct, cfg_rc;
	bm_config_default(&cfg_ct);
	cfg_rc = cfg_ct;
	for (int c = 0; c < 4; c++)
		for (int p = 0; p < 4; p++)
			bm_sensor_default(&cfg_rc.circuit[c].sensor[p], BM_SENSOR_RCOIL, 1000);

	double best_k = 1e9, best_ct = 1e9, best_rc = 1e9;
	unsigned wins = 0;
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		sink += limit_kernel(ct, n);
		double tk = now() - t0, tc, tr;
		wins = pipeline(ct, n, &cfg_ct, &tc);
		pipeline(rc, n, &cfg_rc, &tr);
		if (tk < best_k)
			best_k = tk;
		if (tc < best_ct)
			best_ct = tc;
		if (tr < best_rc)
			best_rc = tr;
	}
	printf("bench_measure: 4 circuits x 3P4W_4CT, 19 channels at %d S/s, %d s of signal, %u windows, best of %d\n",
	       FS, SECONDS, wins, RUNS);
	printf("  limit kernel (sum x^2, sum u*i)   %9.0fx real time\n", SECONDS / best_k);
	printf("  pipeline, CT inputs               %9.0fx real time   ratio to limit %.2f  (goal <= 4, >= 2000x)\n",
	       SECONDS / best_ct, best_ct / best_k);
	printf("  pipeline, Rogowski inputs         %9.0fx real time   ratio to limit %.2f\n", SECONDS / best_rc,
	       best_rc / best_k);
	printf("  sizeof(bm_meter) = %zu bytes\n", sizeof(bm_meter));
	free(ct);
	free(rc);
	return 0;
}
