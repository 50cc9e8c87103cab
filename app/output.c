/*
 * output.c — formatting shared by `analyze` and `run`: JSON numbers and
 * strings (RFC 8259: NaN has no JSON form, so it is null), per-circuit JSON
 * objects, readable tables, and the running means of `analyze`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *const bm_harm_names[BM_HCH] = {"HU1", "HU2", "HU3", "HI1", "HI2", "HI3", "HIn"};

void bm_harm_view(const bm_results *r, const bm_meter_cfg *cfg, unsigned c, double rms[BM_HCH][BM_H_MAX + 1])
{
	for (unsigned k = 0; k < BM_HCH; k++)
		for (unsigned h = 0; h <= BM_H_MAX; h++)
			rms[k][h] = bm_pq_harmonic_rms(r, cfg, c, k, h);
}

void bm_harm_percent(const double rms[BM_HCH][BM_H_MAX + 1], double pct[BM_HCH][BM_H_MAX + 1])
{
	for (unsigned k = 0; k < BM_HCH; k++)
		for (unsigned h = 0; h <= BM_H_MAX; h++)
			pct[k][h] = rms[k][1] > 0.0 ? 100.0 * rms[k][h] / rms[k][1] : NAN;
}

void bm_means_add(bm_means *mm, const bm_results *r, const bm_meter_cfg *cfg)
{
	mm->windows++;
	mm->n_circuits = r->n_circuits;
	for (unsigned c = 0; c < r->n_circuits; c++) {
		for (int q = 0; q < BM_Q_COUNT; q++)
			if (isfinite(r->v[c][q])) {
				mm->sum[c][q] += r->v[c][q];
				mm->cnt[c][q]++;
			}
		double rms[BM_HCH][BM_H_MAX + 1], pct[BM_HCH][BM_H_MAX + 1];
		bm_harm_view(r, cfg, c, rms);
		bm_harm_percent(rms, pct);
		for (unsigned k = 0; k < BM_HCH; k++)
			for (unsigned h = 1; h <= BM_H_MAX; h++)
				if (isfinite(rms[k][h]) && isfinite(pct[k][h])) {
					mm->hsum[c][k][h][0] += rms[k][h];
					mm->hsum[c][k][h][1] += pct[k][h];
					mm->hcnt[c][k][h]++;
				}
	}
}

void bm_means_harm(const bm_means *mm, unsigned c, double rms[BM_HCH][BM_H_MAX + 1], double pct[BM_HCH][BM_H_MAX + 1])
{
	for (unsigned k = 0; k < BM_HCH; k++)
		for (unsigned h = 0; h <= BM_H_MAX; h++) {
			unsigned n = mm->hcnt[c][k][h];
			rms[k][h] = n ? mm->hsum[c][k][h][0] / n : NAN;
			pct[k][h] = n ? mm->hsum[c][k][h][1] / n : NAN;
		}
}

static void json_array(FILE *f, const double *x)
{
	fputc('[', f);
	for (unsigned h = 1; h <= BM_H_MAX; h++) {
		if (h > 1)
			fputc(',', f);
		bm_json_number(f, x[h]);
	}
	fputc(']', f);
}

void bm_json_harmonics(FILE *f, const double rms[BM_HCH][BM_H_MAX + 1], const double pct[BM_HCH][BM_H_MAX + 1])
{
	for (unsigned k = 0; k < BM_HCH; k++) {
		if (isnan(rms[k][1]))
			continue; /* the wiring has no such channel, or no analysis */
		fprintf(f, ",\"%s\":", bm_harm_names[k]);
		json_array(f, pct[k]);
		fprintf(f, ",\"%s_rms\":", bm_harm_names[k]);
		json_array(f, rms[k]);
	}
}

void bm_print_harmonics(FILE *f, unsigned c, const double pct[BM_HCH][BM_H_MAX + 1])
{
	unsigned show[BM_HCH], n = 0;
	for (unsigned k = 0; k < BM_HCH; k++)
		if (isfinite(pct[k][1]))
			show[n++] = k;
	if (n == 0)
		return;
	fprintf(f, "\nC%u harmonics, %% of fundamental\n%-5s", c + 1, "order");
	for (unsigned j = 0; j < n; j++)
		fprintf(f, " %9s", bm_harm_names[show[j]]);
	fputc('\n', f);
	for (unsigned h = 2; h <= BM_H_MAX; h++) {
		fprintf(f, "%-5u", h);
		for (unsigned j = 0; j < n; j++) {
			double x = pct[show[j]][h];
			if (isfinite(x))
				fprintf(f, " %9.4f", x);
			else
				fprintf(f, " %9s", "n/a");
		}
		fputc('\n', f);
	}
}

double bm_means_get(const bm_means *mm, unsigned c, int q)
{
	return mm->cnt[c][q] ? mm->sum[c][q] / mm->cnt[c][q] : NAN;
}

void bm_json_number(FILE *f, double v)
{
	if (!isfinite(v))
		fputs("null", f);
	else
		fprintf(f, "%.9g", v);
}

void bm_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void bm_json_circuit(FILE *f, unsigned c, const char *name, const char *wiring, const double v[BM_Q_COUNT],
                     const double (*hrms)[BM_H_MAX + 1], const double (*hpct)[BM_H_MAX + 1])
{
	bm_json_circuit_body(f, c, name, wiring, v, hrms, hpct);
	fputc('}', f);
}

void bm_json_circuit_body(FILE *f, unsigned c, const char *name, const char *wiring, const double v[BM_Q_COUNT],
                          const double (*hrms)[BM_H_MAX + 1], const double (*hpct)[BM_H_MAX + 1])
{
	fprintf(f, "{\"circuit\":%u", c + 1);
	if (name) {
		fputs(",\"name\":", f);
		bm_json_string(f, name);
	}
	if (wiring) {
		fputs(",\"wiring\":", f);
		bm_json_string(f, wiring);
	}
	for (int q = 0; q < BM_Q_COUNT; q++) {
		fprintf(f, ",\"%s\":", bm_quantity_table[q].name);
		bm_json_number(f, v[q]);
	}
	if (hrms && hpct)
		bm_json_harmonics(f, hrms, hpct);
}

static void cell(FILE *f, double v)
{
	if (!isfinite(v))
		fprintf(f, " %14s", "n/a");
	else if (fabs(v) >= 1e6)
		fprintf(f, " %14.1f", v);
	else
		fprintf(f, " %14.4f", v);
}

void bm_print_table(FILE *f, unsigned n_circuits, const double v[][BM_Q_COUNT], const char *const *names,
                    const bm_meter_cfg *cfg)
{
	fprintf(f, "%-8s %-5s", "", "unit");
	for (unsigned c = 0; c < n_circuits; c++) {
		char head[32];
		snprintf(head, sizeof head, "C%u", c + 1);
		fprintf(f, " %14s", head);
	}
	fputc('\n', f);
	if (names) {
		fprintf(f, "%-8s %-5s", "name", "");
		for (unsigned c = 0; c < n_circuits; c++)
			fprintf(f, " %14.14s", names[c] ? names[c] : "");
		fputc('\n', f);
	}
	if (cfg) {
		fprintf(f, "%-8s %-5s", "wiring", "");
		for (unsigned c = 0; c < n_circuits; c++)
			fprintf(f, " %14s", bm_wiring_name(cfg->circuit[c].wiring));
		fputc('\n', f);
	}
	for (int q = 0; q < BM_Q_COUNT; q++) {
		fprintf(f, "%-8s %-5s", bm_quantity_table[q].name, bm_quantity_table[q].unit);
		for (unsigned c = 0; c < n_circuits; c++)
			cell(f, v[c][q]);
		fputc('\n', f);
	}
}

bool bm_arg_double(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end = NULL;
	double v = s ? strtod(s, &end) : NAN;
	if (!s || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
		fprintf(stderr, "branchmeter: %s needs a number from %g to %g (got '%s')\n", opt, lo, hi, s ? s : "");
		return false;
	}
	*out = v;
	return true;
}
