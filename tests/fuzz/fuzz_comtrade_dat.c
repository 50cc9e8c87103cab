/*
 * fuzz_comtrade_dat.c — libFuzzer target for the COMTRADE .dat decoder and
 * the file reader (platform/linux/comtrade.c).
 *
 * Purpose: the first input byte picks one of a few fixed configurations
 * (every data file type; rate sections, timestamps only, timemult, ns
 * stamps, digital words); the rest is the .dat. It is decoded frame by frame
 * from memory, then scanned (which derives the rate of timestamp-only
 * files), and — when bit 7 of the first byte is set — also written to a
 * temporary X.cfg/X.dat pair and read back through bm_comtrade_open/read, so
 * the stdio window and the size checks are fuzzed as well.
 *
 * Invariants checked: never more records than bytes allow, frames carry a
 * valid rate index, the decoder stays failed after an error, memory and file
 * modes agree on how many frames a good file has, and every message is
 * NUL-terminated.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comtrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define N_CFG 6

static const char *const cfg_text[N_CFG] = {
	/* ASCII 2013, two rate sections, 2 digital */
	"S,D,2013\n5,3A,2D\n1,VA,A,Bus,kV,0.01,0.5,0,-1,1,100,1,S\n"
	"2,IA,A,F1,A,0.001,0,0,-1,1,1,1,P\n3,IN,N,F1,mA,1,0,0,-1,1,1,1,P\n"
	"1,T1,,,0\n2,T2,,,1\n50\n2\n1000,4\n500,8\n"
	"01/01/2024,00:00:00.000000\n01/01/2024,00:00:00.000000\nASCII\n1\n0,0\nF,0\n",
	/* BINARY 1999, 17 digital (two words), declared count */
	"S,D,1999\n20,3A,17D\n1,VA,A,Bus,V,1,0,0,-1,1,1,1,P\n2,IA,A,F1,A,1,0,0,-1,1,1,1,P\n"
	"3,IB,B,F1,A,1,0,0,-1,1,1,1,P\n"
	"1,a,,,0\n2,b,,,0\n3,c,,,0\n4,d,,,0\n5,e,,,0\n6,f,,,0\n7,g,,,0\n8,h,,,0\n9,i,,,0\n"
	"10,j,,,0\n11,k,,,0\n12,l,,,0\n13,m,,,0\n14,n,,,0\n15,o,,,0\n16,p,,,0\n17,q,,,0\n"
	"60\n1\n4800,6\n01/01/2024,00:00:00\n01/01/2024,00:00:00\nBINARY\n1\n",
	/* BINARY32, timestamps only, no count */
	"S,D,2013\n2,2A,0D\n1,VA,A,Bus,V,1,0,0,-1,1,1,1,P\n"
	"2,IA,A,F1,A,1,0,0,-1,1,1,1,P\n50\n0\n"
	"01/01/2024,00:00:00\n01/01/2024,00:00:00\nBINARY32\n1\n",
	/* FLOAT32, timestamps only with a count, timemult 2 */
	"S,D,2013\n2,2A,0D\n1,VA,A,Bus,V,1,0,0,-1,1,1,1,P\n"
	"2,IA,A,F1,A,1,0,0,-1,1,1,1,P\n50\n0\n0,5\n"
	"01/01/2024,00:00:00\n01/01/2024,00:00:00\nFLOAT32\n2\n",
	/* ASCII 1991, timestamps only, no count */
	"S,D\n3,2A,1D\n1,VA,A,Bus,V,1,0,0,-1,1\n2,IA,A,F1,A,1,0,0,-1,1\n1,T,0\n60\n0\n"
	"01/01/24,00:00:00\n01/01/24,00:00:00\nASCII\n",
	/* BINARY with ns time stamps, one analog, no digital */
	"S,D,2013\n1,1A,0D\n1,VA,A,Bus,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,3\n"
	"01/01/2024,00:00:00.000000001\n01/01/2024,00:00:00.000000001\nBINARY\n1\n",
};

static bm_comtrade_cfg cfgs[N_CFG];
static char tmpdir[64];

static void cleanup(void)
{
	char p[128];

	snprintf(p, sizeof p, "%s/x.cfg", tmpdir);
	remove(p);
	snprintf(p, sizeof p, "%s/x.dat", tmpdir);
	remove(p);
	remove(tmpdir);
}

static void init_once(void)
{
	static int done;
	char err[256];

	if (done)
		return;
	done = 1;
	for (int i = 0; i < N_CFG; i++)
		CHECK(bm_comtrade_cfg_parse(cfg_text[i], strlen(cfg_text[i]), "fixed.cfg", &cfgs[i],
		                            err, sizeof err) == BM_OK);
	strcpy(tmpdir, "/tmp/fuzz_comtrade_XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	atexit(cleanup);
}

/* Decodes everything from memory; returns frames decoded and the final code. */
static uint64_t decode_all(const bm_comtrade_cfg *cfg, const uint8_t *dat, size_t n, bm_err *last)
{
	bm_comtrade_dec d;
	bm_comtrade_frame fr;
	double v[4];
	char err[256];
	uint64_t frames = 0;
	bm_err rc;

	bm_comtrade_dec_init(&d, cfg, "fuzz.dat", dat, n);
	while ((rc = bm_comtrade_dec_next(&d, &fr, v, err, sizeof err)) == BM_OK) {
		frames++;
		CHECK(fr.rate_index >= -1 && fr.rate_index < (int)cfg->n_rates);
		CHECK(fr.rate_index >= 0 || cfg->n_rates == 0);
		for (unsigned i = 0; i < cfg->n_analog; i++)
			CHECK(!isinf(v[i]));
	}
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (rc != BM_E_EOF)
		CHECK(bm_comtrade_dec_next(&d, &fr, v, err, sizeof err) == BM_E_FORMAT);
	if (cfg->type != BM_COMTRADE_ASCII)
		CHECK(frames * bm_comtrade_record_size(cfg) <= n);
	else
		CHECK(frames <= n / 2 + 1);
	*last = rc;
	return frames;
}

static void via_files(int sel, const uint8_t *dat, size_t n, uint64_t mem_frames, bm_err mem_rc)
{
	char cfgp[128], datp[128], err[256];
	bm_comtrade_reader r;
	double v[4 * 16];
	size_t got;
	uint64_t frames = 0;
	FILE *f;
	bm_err rc;

	snprintf(cfgp, sizeof cfgp, "%s/x.cfg", tmpdir);
	snprintf(datp, sizeof datp, "%s/x.dat", tmpdir);
	f = fopen(cfgp, "wb");
	CHECK(f != NULL);
	fputs(cfg_text[sel], f);
	fclose(f);
	f = fopen(datp, "wb");
	CHECK(f != NULL);
	if (n > 0)
		CHECK(fwrite(dat, 1, n, f) == n);
	fclose(f);

	rc = bm_comtrade_open(&r, cfgp, err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (rc != BM_OK)
		return;
	while ((rc = bm_comtrade_read(&r, v, NULL, 16, &got, err, sizeof err)) == BM_OK)
		frames += got;
	frames += rc == BM_E_EOF ? 0 : got;
	/* A file the reader accepts whole decodes the same from memory. */
	if (rc == BM_E_EOF)
		CHECK(mem_rc == BM_E_EOF && frames == mem_frames);
	bm_comtrade_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const bm_comtrade_cfg *cfg;
	int sel;
	uint64_t frames, n_rec = 0;
	double hz = 0;
	bm_comtrade_dec d;
	char err[256] = ""; /* scan leaves it untouched on success */
	bm_err rc, scan_rc;

	init_once();
	if (size < 1)
		return 0;
	sel = (data[0] & 0x7f) % N_CFG;
	cfg = &cfgs[sel];
	frames = decode_all(cfg, data + 1, size - 1, &rc);

	bm_comtrade_dec_init(&d, cfg, "fuzz.dat", data + 1, size - 1);
	scan_rc = bm_comtrade_dec_scan(&d, &n_rec, &hz, err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (scan_rc == BM_OK) {
		bm_comtrade_frame fr;
		double v[4];

		CHECK(rc == BM_E_EOF && n_rec == frames);
		CHECK(hz > 0.0 && isfinite(hz));
		/* Rewound: the first frame again, now with the rate. */
		if (n_rec > 0) {
			CHECK(bm_comtrade_dec_next(&d, &fr, v, err, sizeof err) == BM_OK);
			CHECK(fr.rate_hz > 0.0);
		}
	}
	if (data[0] & 0x80)
		via_files(sel, data + 1, size - 1, frames, rc);
	return 0;
}
