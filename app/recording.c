/*
 * recording.c — meter set-up shared by `analyze` and `run`: the configuration
 * that plays a COMTRADE recording, and the harmonic analysis attachment.
 *
 * Invariant: the reader already gives primary SI values, so every input is a
 * 1:1 CT and the VT ratio is 1; the sample rate must be a whole number the
 * core accepts; the nominal frequency is the recording's line frequency
 * (50 unless it says 60) unless the caller forces one.
 */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "comtrade.h"
#include "fft_kiss.h"

bm_err bm_recording_config(bm_meter_cfg *cfg, const bm_comtrade_reader *rd, const bm_comtrade_map *map, double rate,
                        int nominal, double umin, double imin, char *err, size_t errlen)
{
	bm_config_default(cfg);
	double r = floor(rate + 0.5);
	if (!(fabs(rate - r) <= 1e-6 * rate) || r < BM_FS_MIN || r > BM_FS_MAX) {
		snprintf(err, errlen, "%s: sampling rate %.6g S/s is not supported (whole numbers from %u to %u)",
		         rd->dat_path, rate, BM_FS_MIN, BM_FS_MAX);
		return BM_E_UNSUPPORTED;
	}
	cfg->sample_rate = (uint32_t)r;
	if (nominal)
		cfg->nominal_hz = (uint8_t)nominal;
	else
		cfg->nominal_hz = fabs(rd->cfg.line_hz - 60.0) < 1.0 ? 60 : 50;
	cfg->u_nominal_v = 230.0;
	cfg->u_min_v = umin;
	cfg->vt_ratio = 1.0;
	unsigned nc = map->n_circuits ? map->n_circuits : 1;
	cfg->n_circuits = (uint8_t)nc;
	for (unsigned c = 0; c < nc; c++) {
		bm_circuit_cfg *cc = &cfg->circuit[c];
		if (map->n_circuits)
			cc->wiring = map->wiring[c];
		else
			cc->wiring = map->src[1] >= 0 && map->src[2] >= 0 ? BM_WIRING_3P4W_3CT : BM_WIRING_1P2W;
		for (unsigned p = 0; p < BM_PHASE_INPUTS; p++) {
			bm_sensor_default(&cc->sensor[p], BM_SENSOR_CT, 1.0);
			cc->sensor[p].secondary = 1.0;
		}
		cc->i_min_a = imin;
	}
	bm_cfg_issue is;
	if (bm_config_validate(cfg, &is) != BM_OK) {
		snprintf(err, errlen, "%s: cannot configure the meter: %s %s", rd->dat_path, is.field, is.reason);
		return BM_E_INVAL;
	}
	return BM_OK;
}


bool bm_attach_harmonics(bm_meter *m, bm_pq *pq, bm_fft_kiss *fft, bool groups)
{
	bm_fft_kiss_free(fft);
	uint32_t pts = bm_pq_fft_points(m->cfg.sample_rate, m->cfg.nominal_hz);
	bm_fft_ops ops;
	return pts && bm_fft_kiss_init(fft, pts, &ops) == BM_OK && bm_meter_attach_pq(m, pq, &ops, groups) == BM_OK;
}
