/*
 * bench_sim.c — real-time factor of the signal simulator
 * (platform/linux/sim.h), the source `branchmeter run --speed max` drives.
 *
 * Signal: the built-in default scenario (4 circuits, 19 channels at
 * 12.8 kS/s, harmonics, 16-bit ADC), generated in 1024-frame calls as the
 * run loop does, once with the scenario's noise and once without. Each
 * figure is the best of 5 runs of 60 simulated seconds. Goal: >= 200x real
 * time on one core with noise on.
 */
#include <stdio.h>
#include <time.h>

#include "sim.h"

#define SECONDS 60
#define CHUNK 1024
#define RUNS 5

static bm_sim sim;
static float frames[CHUNK * BM_MAX_CH];
static volatile float sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double run(const bm_sim_scenario *sc)
{
	double best = 1e30;
	for (int r = 0; r < RUNS; r++) {
		if (bm_sim_init(&sim, sc) != BM_OK)
			return 0.0;
		size_t nch = bm_sim_channels(&sim), total = (size_t)SECONDS * sc->sample_rate;
		double t0 = now();
		for (size_t done = 0; done < total; done += CHUNK)
			bm_sim_generate(&sim, frames, nch, CHUNK);
		double dt = now() - t0;
		sink = frames[0];
		if (dt < best)
			best = dt;
	}
	return SECONDS / best;
}

int main(void)
{
	bm_sim_scenario sc;
	bm_sim_default(&sc);
	double with_noise = run(&sc);
	sc.noise_pct = 0.0;
	double without = run(&sc);
	printf("simulator, default scenario (%u circuits, %u channels, %u S/s, %u-bit ADC):\n", sc.n_circuits,
	       3u + 4u * sc.n_circuits, sc.sample_rate, sc.adc_bits);
	printf("  with noise    %7.0fx real time\n", with_noise);
	printf("  without noise %7.0fx real time\n", without);
	return with_noise > 0.0 ? 0 : 1;
}
