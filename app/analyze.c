/*
 * analyze.c — `branchmeter analyze REC.cfg`: a COMTRADE recording through the
 * same core as the live meter.
 *
 * Invariants:
 *  - The meter is configured from the recording: values are already primary
 *    SI units (the reader applies a, b and the P/S ratio), so every input is a
 *    1:1 CT and VT ratio 1; the sample rate is the recording's; the nominal
 *    frequency is its line frequency (50 unless it says 60, or --nominal).
 *  - A change of sampling rate between rate sections restarts the meter (as
 *    a real meter re-synchronises); windows ending within 0.5 s after a
 *    (re)start are settling and are left out of the means (at most 0.5 s, as
 *    documented in docs/analyze.md).
 *  - Missing samples are taken as 0 by the reader's mapping and counted.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "comtrade.h"
#include "fft_kiss.h"

#define CHUNK 4096
#define SETTLE_S 0.5

static bm_meter meter;
static bm_pq pq;

static void usage(FILE *f)
{
	fputs("usage: branchmeter analyze REC.cfg [--json] [--per-window] [--map MAP] [--nominal 50|60]\n"
	      "                                   [--umin V] [--imin A] [--groups]\n"
	      "  Runs a COMTRADE recording (C37.111-1999/2013; ASCII, BINARY, BINARY32, FLOAT32)\n"
	      "  through the meter and prints each quantity's mean over the complete windows,\n"
	      "  per circuit (windows ending in the first 0.5 s are settling and left out).\n"
	      "  --json        one JSON object {\"circuits\":[{\"circuit\":1,\"U1\":...},...],...}\n"
	      "  --per-window  one JSON line per window instead of the means\n"
	      "  --map MAP     channel mapping, e.g. U1=1,U2=2,U3=3,C1.I1=4,C1.I2=5,C1.I3=6\n"
	      "                (1-based analog channels; default: by unit, phase and ccbm)\n"
	      "  --nominal HZ  50 (10-cycle windows) or 60 (12-cycle); default from the .cfg\n"
	      "  --umin V      voltages below this read 0 (default 1 V)\n"
	      "  --imin A      currents below this read 0 (default 0)\n"
	      "  --groups      harmonic groups (IEC 61000-4-7) instead of subgroups (61000-4-30 class A)\n"
	      "  Harmonics: HU1..3, HI1..3, HIn as % of the fundamental for orders 1..50 (array index\n"
	      "  0 = order 1), with _rms arrays in V / A; docs/power-quality.md.\n",
	      f);
}

int bm_cmd_analyze(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},      {"per-window", no_argument, NULL, 'w'},
		{"map", required_argument, NULL, 'm'}, {"nominal", required_argument, NULL, 'n'},
		{"umin", required_argument, NULL, 'u'}, {"imin", required_argument, NULL, 'i'},
		{"groups", no_argument, NULL, 'g'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false, per_window = false, groups = false;
	const char *map_arg = NULL;
	int nominal = 0;
	double umin = 1.0, imin = 0.0, d;
	optind = 1;
	for (int ch; (ch = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (ch) {
		case 'j': json = true; break;
		case 'w': per_window = true; break;
		case 'm': map_arg = optarg; break;
		case 'n':
			if (!bm_arg_double("--nominal", optarg, 50, 60, &d) || (d != 50 && d != 60)) {
				fputs("branchmeter: --nominal is 50 or 60\n", stderr);
				return 2;
			}
			nominal = (int)d;
			break;
		case 'u':
			if (!bm_arg_double("--umin", optarg, 0, 1e6, &umin))
				return 2;
			break;
		case 'i':
			if (!bm_arg_double("--imin", optarg, 0, 1e6, &imin))
				return 2;
			break;
		case 'g': groups = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	char err[512];
	static bm_comtrade_reader rd;
	bm_err e = bm_comtrade_open(&rd, path, err, sizeof err);
	if (e) {
		fprintf(stderr, "branchmeter: %s\n", err);
		return 1;
	}
	bm_comtrade_map map;
	e = bm_comtrade_map_build(&rd.cfg, map_arg, &map, err, sizeof err);
	if (e) {
		fprintf(stderr, "branchmeter: %s\n", err);
		bm_comtrade_close(&rd);
		return 1;
	}

	const unsigned na = rd.cfg.n_analog;
	double *vals = malloc((size_t)CHUNK * (na ? na : 1) * sizeof(double));
	bm_comtrade_frame *fr = malloc(CHUNK * sizeof *fr);
	float *frames = malloc((size_t)CHUNK * BM_MAX_CH * sizeof(float));
	if (!vals || !fr || !frames) {
		fputs("branchmeter: out of memory\n", stderr);
		return 1;
	}

	bm_meter_cfg cfg;
	static bm_means means;
	bm_fft_kiss fft = {0};
	bool warned_pq = false;
	double cur_rate = -1.0, section_start_s = 0.0;
	uint64_t total = 0, missing = 0, section_n0 = 0;
	unsigned skipped = 0, restarts = 0;
	int rc = 0;
	for (;;) {
		size_t n = 0;
		e = bm_comtrade_read(&rd, vals, fr, CHUNK, &n, err, sizeof err);
		if (e != BM_OK && e != BM_E_EOF && n == 0) {
			fprintf(stderr, "branchmeter: %s\n", err);
			rc = 1;
			break;
		}
		size_t k = 0;
		while (k < n) {
			double rate = fr[k].rate_hz;
			if (rate != cur_rate) { /* first frame, or a new rate section */
				if (bm_recording_config(&cfg, &rd, &map, rate, nominal, umin, imin, err, sizeof err) != BM_OK ||
				    bm_meter_init(&meter, &cfg, NULL) != BM_OK) {
					fprintf(stderr, "branchmeter: %s\n", err);
					rc = 1;
					goto done;
				}
				/* harmonics: a plan for this rate's FFT size; without one the
				 * meter still measures and the harmonic values are null */
				if (!bm_attach_harmonics(&meter, &pq, &fft, groups) && !warned_pq) {
					fprintf(stderr, "branchmeter: note: no harmonic analysis at %u S/s in this build\n",
					        cfg.sample_rate);
					warned_pq = true;
				}
				if (cur_rate > 0)
					restarts++;
				section_start_s += cur_rate > 0 ? (double)(total - section_n0) / cur_rate : 0.0;
				section_n0 = total;
				cur_rate = rate;
			}
			size_t m = k;
			while (m < n && fr[m].rate_hz == cur_rate)
				m++;
			for (size_t j = k; j < m; j++)
				missing += bm_comtrade_map_frame(&map, vals + j * na, na, frames + (j - k) * BM_MAX_CH,
				                                 BM_MAX_CH);
			size_t off = 0;
			while (off < m - k) {
				bool ready = false;
				off += bm_meter_feed(&meter, frames + off * BM_MAX_CH, BM_MAX_CH, m - k - off, &ready);
				if (!ready)
					continue;
				const bm_results *r = bm_meter_results(&meter);
				double t_end = (r->start + r->length) / cfg.sample_rate;
				bool settling = t_end <= SETTLE_S;
				if (per_window) {
					printf("{\"window\":%u,\"t\":", r->seq);
					bm_json_number(stdout, section_start_s + r->start / cfg.sample_rate);
					printf(",\"length_s\":");
					bm_json_number(stdout, r->length / cfg.sample_rate);
					printf(",\"settling\":%s,\"locked\":%s,\"circuits\":[", settling ? "true" : "false",
					       (r->flags & BM_WIN_LOCKED) ? "true" : "false");
					for (unsigned c = 0; c < r->n_circuits; c++) {
						double hr[BM_HCH][BM_H_MAX + 1], hp[BM_HCH][BM_H_MAX + 1];
						bm_harm_view(r, &cfg, c, hr);
						bm_harm_percent(hr, hp);
						if (c)
							putchar(',');
						bm_json_circuit(stdout, c, NULL, NULL, r->v[c], hr, hp);
					}
					puts("]}");
				}
				if (settling)
					skipped++;
				else
					bm_means_add(&means, r, &cfg);
			}
			total += m - k;
			k = m;
		}
		if (e == BM_E_EOF || (e != BM_OK && n > 0)) {
			if (e != BM_OK && e != BM_E_EOF) {
				fprintf(stderr, "branchmeter: %s\n", err);
				rc = 1;
			}
			break;
		}
	}
done:
	if (rc == 0 && !per_window) {
		if (means.windows == 0) {
			fprintf(stderr, "branchmeter: %s: no complete window after settling (%llu samples); a recording "
			                "needs at least about 0.7 s\n",
			        path, (unsigned long long)total);
			rc = 1;
		} else if (json) {
			printf("{\"file\":");
			bm_json_string(stdout, path);
			printf(",\"station\":");
			bm_json_string(stdout, rd.cfg.station);
			printf(",\"sample_rate\":%u,\"nominal_hz\":%u,\"samples\":%llu,\"windows\":%u,"
			       "\"settling_windows\":%u,\"restarts\":%u,\"missing_values\":%llu,\"circuits\":[",
			       cfg.sample_rate, cfg.nominal_hz, (unsigned long long)total, means.windows, skipped, restarts,
			       (unsigned long long)missing);
			for (unsigned c = 0; c < cfg.n_circuits; c++) {
				double v[BM_Q_COUNT], hr[BM_HCH][BM_H_MAX + 1], hp[BM_HCH][BM_H_MAX + 1];
				for (int q = 0; q < BM_Q_COUNT; q++)
					v[q] = bm_means_get(&means, c, q);
				bm_means_harm(&means, c, hr, hp);
				if (c)
					putchar(',');
				bm_json_circuit(stdout, c, map.n_circuits ? map.name[c] : NULL, bm_wiring_name(cfg.circuit[c].wiring),
				                v, hr, hp);
			}
			puts("]}");
		} else {
			double v[BM_MAX_CIRCUITS][BM_Q_COUNT];
			const char *names[BM_MAX_CIRCUITS] = {0};
			for (unsigned c = 0; c < cfg.n_circuits; c++) {
				names[c] = map.n_circuits ? map.name[c] : NULL;
				for (int q = 0; q < BM_Q_COUNT; q++)
					v[c][q] = bm_means_get(&means, c, q);
			}
			printf("%s: %s, %u S/s, %u Hz nominal, %llu samples, %u windows averaged (%u settling left out)\n",
			       path, rd.cfg.station, cfg.sample_rate, cfg.nominal_hz, (unsigned long long)total,
			       means.windows, skipped);
			if (missing)
				printf("note: %llu missing values were taken as 0\n", (unsigned long long)missing);
			bm_print_table(stdout, cfg.n_circuits, v, names, &cfg);
			for (unsigned c = 0; c < cfg.n_circuits; c++) {
				double hr[BM_HCH][BM_H_MAX + 1], hp[BM_HCH][BM_H_MAX + 1];
				bm_means_harm(&means, c, hr, hp);
				bm_print_harmonics(stdout, c, hp);
			}
		}
	}
	free(vals);
	free(fr);
	free(frames);
	bm_fft_kiss_free(&fft);
	bm_comtrade_close(&rd);
	return rc;
}
