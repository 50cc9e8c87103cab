/*
 * fuzz_comtrade_cfg.c — libFuzzer target for the COMTRADE .cfg parser and
 * the channel mapping (platform/linux/comtrade.c).
 *
 * Purpose: any byte string fed to bm_comtrade_cfg_parse() must end in BM_OK
 * or an error code with a NUL-terminated message — never a crash, a leak, an
 * out-of-bounds access or an allocation sized by the input beyond the
 * documented limits. On success the parsed struct must satisfy the header's
 * invariants, checked here; the automatic and an override mapping run on it.
 * The same input, cut to 200 bytes, is also tried as a --map string against a
 * fixed cfg, so the override parser is fuzzed too.
 *
 * Invariants checked: counts within BM_COMTRADE_MAX_*, names terminated and
 * within BM_COMTRADE_FIELD_MAX, rates positive and endsamp increasing,
 * timemult > 0, k and c finite, map sources within the analog channels.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comtrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static const char fixed_cfg[] =
	"S,D,2013\n9,8A,1D\n"
	"1,VA,A,Bus,V,1,0,0,-1,1,1,1,P\n2,VB,B,Bus,V,1,0,0,-1,1,1,1,P\n"
	"3,VC,C,Bus,V,1,0,0,-1,1,1,1,P\n4,IA,A,F1,A,1,0,0,-1,1,1,1,P\n"
	"5,IB,B,F1,A,1,0,0,-1,1,1,1,P\n6,IC,C,F1,A,1,0,0,-1,1,1,1,P\n"
	"7,IN,N,F1,A,1,0,0,-1,1,1,1,P\n8,F,,,Hz,1,0,0,-1,1,1,1,P\n1,T,,,0\n"
	"50\n1\n1000,10\n01/01/2024,00:00:00\n01/01/2024,00:00:00\nASCII\n1\n";

static void check_name(const char *s)
{
	CHECK(memchr(s, '\0', BM_COMTRADE_FIELD_MAX + 1) != NULL);
}

static void check_map(const bm_comtrade_cfg *cfg, const bm_comtrade_map *m, bm_err rc)
{
	if (rc != BM_OK)
		return;
	CHECK(m->n_circuits <= BM_MAX_CIRCUITS);
	for (size_t i = 0; i < BM_MAX_CH; i++)
		CHECK(m->src[i] >= -1 && m->src[i] < (int)cfg->n_analog);
	for (unsigned c = 0; c < m->n_circuits; c++)
		CHECK((unsigned)m->wiring[c] < BM_WIRING_COUNT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bm_comtrade_cfg fixed;
	static int fixed_ok = -1;
	bm_comtrade_cfg cfg;
	bm_comtrade_map m;
	char err[256], spec[201];
	bm_err rc;

	err[0] = '\0';
	rc = bm_comtrade_cfg_parse((const char *)data, size, "fuzz.cfg", &cfg, err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (rc == BM_OK) {
		CHECK(cfg.n_analog + cfg.n_digital >= 1);
		CHECK(cfg.n_analog + cfg.n_digital <= BM_COMTRADE_MAX_CHANNELS);
		CHECK(cfg.n_rates <= BM_COMTRADE_MAX_RATES);
		CHECK(cfg.timemult > 0.0 && isfinite(cfg.timemult));
		CHECK(cfg.ts_unit_us == 1.0 || cfg.ts_unit_us == 0.001);
		CHECK(cfg.rev_year == 1991 || cfg.rev_year == 1999 || cfg.rev_year == 2013);
		check_name(cfg.station);
		check_name(cfg.device);
		for (unsigned i = 0; i < cfg.n_analog; i++) {
			const bm_comtrade_analog *a = &cfg.analog[i];

			check_name(a->id);
			check_name(a->ph);
			check_name(a->ccbm);
			check_name(a->unit);
			CHECK(fabs(a->k) <= 1e100 && fabs(a->c) <= 1e100);
			CHECK(a->ps == 'P' || a->ps == 'S');
			CHECK(a->phase >= BM_COMTRADE_PH_NONE && a->phase <= BM_COMTRADE_PH_N);
		}
		for (unsigned i = 0; i < cfg.n_digital; i++)
			CHECK(cfg.digital[i].normal <= 1);
		for (unsigned i = 0; i < cfg.n_rates; i++) {
			CHECK(cfg.rate[i].hz > 0.0);
			CHECK(i == 0 || cfg.rate[i].endsamp > cfg.rate[i - 1].endsamp);
		}
		CHECK(cfg.n_rates == 0 || cfg.n_samples == cfg.rate[cfg.n_rates - 1].endsamp);
		(void)bm_comtrade_record_size(&cfg);
		rc = bm_comtrade_map_build(&cfg, NULL, &m, err, sizeof err);
		check_map(&cfg, &m, rc);
		rc = bm_comtrade_map_build(&cfg, "U1=1,U2=2,U3=3,C1.I1=4,C1.I2=5,C1.I3=6,C1.In=7",
		                           &m, err, sizeof err);
		check_map(&cfg, &m, rc);
		CHECK(memchr(err, '\0', sizeof err) != NULL);
	} else {
		CHECK(cfg.analog == NULL && cfg.digital == NULL && cfg.rate == NULL);
	}
	bm_comtrade_cfg_free(&cfg);

	/* The input as a --map override on a fixed 8-channel cfg. */
	if (fixed_ok < 0)
		fixed_ok = bm_comtrade_cfg_parse(fixed_cfg, sizeof fixed_cfg - 1, "fixed.cfg", &fixed,
		                                 err, sizeof err) == BM_OK;
	CHECK(fixed_ok == 1);
	{
		size_t n = size < sizeof spec - 1 ? size : sizeof spec - 1;

		memcpy(spec, data, n);
		spec[n] = '\0';
		rc = bm_comtrade_map_build(&fixed, spec, &m, err, sizeof err);
		check_map(&fixed, &m, rc);
	}
	return 0;
}
