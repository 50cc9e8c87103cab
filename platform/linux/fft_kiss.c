/* fft_kiss.c — bm_fft_ops over KissFFT's real FFT (see fft_kiss.h). */
#include <kiss_fftr.h>
#include <stdlib.h>

#include "fft_kiss.h"

/* kiss_fft_cpx is {float r, i}: bins land as out[2k], out[2k+1], which is
 * the layout bm/fft.h promises. */
_Static_assert(sizeof(kiss_fft_cpx) == 2 * sizeof(float), "kiss_fft_cpx must be two floats");

static void rfft(void *ctx, const float *in, float *out)
{
	kiss_fftr((kiss_fftr_cfg)ctx, in, (kiss_fft_cpx *)out);
}

bm_err bm_fft_kiss_init(bm_fft_kiss *k, uint32_t n, bm_fft_ops *ops)
{
	if (n == 0 || (n & 1u))
		return BM_E_INVAL;
	kiss_fftr_cfg cfg = kiss_fftr_alloc((int)n, 0, NULL, NULL);
	if (!cfg)
		return BM_E_NOSPACE;
	k->plan = cfg;
	ops->ctx = cfg;
	ops->n = n;
	ops->rfft = rfft;
	return BM_OK;
}

void bm_fft_kiss_free(bm_fft_kiss *k)
{
	if (k->plan)
		kiss_fftr_free(k->plan);
	k->plan = NULL;
}
