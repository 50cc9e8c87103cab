/*
 * output.c — formatting shared by `analyze` and `run`: JSON numbers and
 * strings (RFC 8259: NaN has no JSON form, so it is null), per-circuit JSON
 * objects, readable tables, and the running means of `analyze`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void bm_means_add(bm_means *mm, const bm_results *r)
{
	mm->windows++;
	mm->n_circuits = r->n_circuits;
	for (unsigned c = 0; c < r->n_circuits; c++)
		for (int q = 0; q < BM_Q_COUNT; q++)
			if (isfinite(r->v[c][q])) {
				mm->sum[c][q] += r->v[c][q];
				mm->cnt[c][q]++;
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

void bm_json_circuit(FILE *f, unsigned c, const char *name, const char *wiring, const double v[BM_Q_COUNT])
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
	fputc('}', f);
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
