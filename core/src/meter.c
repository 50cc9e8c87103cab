/*
 * meter.c — glue of the measuring core: validates the configuration, gathers
 * frames into blocks aligned to the absolute sample index, and runs the
 * front end and the measurement on each full block (see meter.h).
 */
#include <string.h>

#include "meter_priv.h"

bm_err bm_meter_init(bm_meter *m, const bm_meter_cfg *cfg, bm_cfg_issue *issue)
{
	bm_err e = bm_config_validate(cfg, issue);
	if (e)
		return e;
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	m->n_ch = (uint32_t)bm_config_channels(cfg);
	m->ncyc = cfg->nominal_hz == 60 ? 12u : 10u;
	m->fs = (double)cfg->sample_rate;
	e = bm_fe_init(m);
	if (e) {
		if (issue) {
			issue->field = "cal.phase_deg";
			issue->reason = "filter design failed";
			issue->circuit = -1;
			issue->input = -1;
		}
		return e;
	}
	bm_ms_init(m);
	return BM_OK;
}

size_t bm_meter_feed(bm_meter *m, const float *frames, size_t stride, size_t n, bool *ready)
{
	size_t used = 0;
	m->ready = false;
	if (ready)
		*ready = false;
	if (stride < m->n_ch)
		return 0;
	while (used < n) {
		const float *blk = NULL;
		size_t blk_stride = m->n_ch;
		if (m->fill == 0 && n - used >= BM_BLOCK) {
			/* a whole block in the caller's buffer: read it in place */
			blk = frames + used * stride;
			blk_stride = stride;
			used += BM_BLOCK;
		} else {
			size_t take = BM_BLOCK - m->fill;
			if (take > n - used)
				take = n - used;
			for (size_t k = 0; k < take; k++)
				memcpy(&m->inbuf[(size_t)(m->fill + k) * m->n_ch], &frames[(used + k) * stride],
				       m->n_ch * sizeof(float));
			m->fill += (uint32_t)take;
			used += take;
			if (m->fill == BM_BLOCK)
				blk = m->inbuf;
		}
		if (blk) {
			bm_fe_process(m, blk, blk_stride);
			bm_ms_process(m);
			m->n0 += BM_BLOCK;
			m->fill = 0;
			if (m->ready) {
				if (ready)
					*ready = true;
				break;
			}
		}
	}
	return used;
}

const bm_results *bm_meter_results(const bm_meter *m)
{
	return &m->res;
}

unsigned bm_meter_latency(void)
{
	return BM_FE_DELAY + BM_BLOCK;
}
