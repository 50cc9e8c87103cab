/*
 * bench_pq.c — real-time factor of the pipeline with harmonic analysis
 * (issue #3), beside a limit kernel measured in the same run.
 *
 * Signal: 4 circuits × 3P4W_4CT = 19 channels at 12.8 kS/s, 10 s, with
 * harmonics; generated once into memory. Best of 5.
 *  - limit kernel: one pass over the frames accumulating Σx² and Σu·i (as
 *    bench_measure), plus one real FFT of M points (KissFFT, the same plan the
 *    pipeline uses) per channel and window;
 *  - pipeline: bm_meter_feed with harmonic analysis attached: everything of
 *    bench_measure plus, per window and channel, resampling to M points, the
 *    FFT, subgroups of 50 orders, THD, K-factor, unbalance, sequence, angles.
 * Goal: within 2× of the limit kernel.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bm/meter.h"
#include "bm/pq.h"
#include "fft_kiss.h"

#define SECONDS 10
#define FS 12800
#define NCH 19
#define RUNS 5

static bm_meter meter;
static bm_pq pq;
static volatile double sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void generate(float *fr, size_t n)
{
	const double w = 2 * 3.14159265358979 * 50.0;
	for (size_t k = 0; k < n; k++) {
		double t = (double)k / FS;
		for (int p = 0; p < 3; p++) {
			double a = w * t - p * 2.0943951023931953;
			fr[k * NCH + p] = (float)(325.0 * cos(a) + 10.0 * cos(5 * a) + 3.0 * cos(7 * a));
		}
		for (int c = 0; c < 4; c++)
			for (int p = 0; p < 4; p++) {
				double a = w * t - p * 2.0943951023931953 - 0.3 * (c + 1);
				fr[k * NCH + 3 + 4 * c + p] =
				    (float)(3.0 * (cos(a) + 0.3 * cos(3 * a) + 0.2 * cos(5 * a) + 0.1 * cos(7 * a) + 0.02 * cos(25 * a)));
			}
	}
}

static double limit_kernel(const float *fr, size_t n, const bm_fft_ops *ops, float *buf, float *spec)
{
	double s2[NCH] = {0}, sp[12] = {0};
	const size_t win = FS / 5; /* 10 cycles at 50 Hz */
	for (size_t k = 0; k < n; k++) {
		const float *f = fr + k * NCH;
		for (int ch = 0; ch < NCH; ch++)
			s2[ch] += (double)f[ch] * f[ch];
		for (int c = 0; c < 4; c++)
			for (int p = 0; p < 3; p++)
				sp[c * 3 + p] += (double)f[p] * f[3 + 4 * c + p];
		if ((k + 1) % win == 0) /* one FFT per channel per window */
			for (int ch = 0; ch < NCH; ch++) {
				for (size_t j = 0; j < win; j++)
					buf[j] = fr[(k + 1 - win + j) * NCH + ch];
				ops->rfft(ops->ctx, buf, spec);
				sink += spec[2 * 50];
			}
	}
	double s = 0;
	for (int ch = 0; ch < NCH; ch++)
		s += s2[ch];
	for (int k = 0; k < 12; k++)
		s += sp[k];
	return s;
}

/* Initialisation (filter and interpolator design) is a start-up cost, not
 * part of the real-time factor, so it is outside the timed region. */
static void setup(const bm_meter_cfg *cfg, const bm_fft_ops *ops)
{
	bm_meter_init(&meter, cfg, NULL);
	if (ops && bm_meter_attach_pq(&meter, &pq, ops, false) != BM_OK) {
		fputs("bench_pq: cannot attach harmonic analysis\n", stderr);
		exit(1);
	}
}

static unsigned pipeline(const float *fr, size_t n)
{
	unsigned windows = 0;
	size_t off = 0;
	while (off < n) {
		bool ready = false;
		off += bm_meter_feed(&meter, fr + off * NCH, NCH, n - off, &ready);
		if (ready) {
			windows++;
			sink += bm_meter_results(&meter)->v[0][BM_Q_THDI1];
		}
	}
	return windows;
}

int main(void)
{
	const size_t n = (size_t)SECONDS * FS;
	float *fr = malloc(n * NCH * sizeof(float));
	bm_meter_cfg cfg;
	bm_config_default(&cfg);
	uint32_t M = bm_pq_fft_points(cfg.sample_rate, cfg.nominal_hz);
	float *buf = calloc(M, sizeof(float)), *spec = calloc(M + 2, sizeof(float));
	bm_fft_kiss kiss;
	bm_fft_ops ops;
	if (!fr || !buf || !spec || bm_fft_kiss_init(&kiss, M, &ops) != BM_OK)
		return 1;
	generate(fr, n);
	double best_k = 1e9, best_p = 1e9, best_m = 1e9;
	unsigned wins = 0;
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		sink += limit_kernel(fr, n, &ops, buf, spec);
		double t1 = now();
		setup(&cfg, &ops);
		double tp0 = now();
		wins = pipeline(fr, n);
		double tp = now() - tp0;
		setup(&cfg, NULL);
		double tm0 = now();
		pipeline(fr, n);
		double tm = now() - tm0;
		if (t1 - t0 < best_k)
			best_k = t1 - t0;
		if (tp < best_p)
			best_p = tp;
		if (tm < best_m)
			best_m = tm;
	}
	printf("bench_pq: 4 circuits x 3P4W_4CT, 19 channels at %d S/s, %d s, %u windows, FFT %u points (KissFFT), best of %d\n",
	       FS, SECONDS, wins, M, RUNS);
	printf("  limit kernel (pass + 1 FFT/channel/window)  %7.0fx real time\n", SECONDS / best_k);
	printf("  pipeline with harmonics                     %7.0fx real time   ratio to limit %.2f  (goal <= 2)\n",
	       SECONDS / best_p, best_p / best_k);
	printf("  pipeline without harmonics (reference)      %7.0fx real time\n", SECONDS / best_m);
	printf("  sizeof(bm_pq) = %zu bytes\n", sizeof(bm_pq));
	bm_fft_kiss_free(&kiss);
	free(fr);
	free(buf);
	free(spec);
	return 0;
}
