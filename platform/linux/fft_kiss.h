/*
 * fft_kiss.h — the core's FFT (bm/fft.h) on Linux, by KissFFT
 * (Debian libkissfft-dev, BSD-3-Clause, float build).
 *
 * Invariant: bm_fft_kiss_init allocates KissFFT's plan once; the rfft call
 * itself never allocates.
 */
#ifndef BM_FFT_KISS_H
#define BM_FFT_KISS_H

#include "bm/err.h"
#include "bm/fft.h"

typedef struct bm_fft_kiss {
	void *plan; /* kiss_fftr_cfg */
} bm_fft_kiss;

/* Plans a real forward FFT of n points and fills *ops. BM_E_INVAL for an odd
 * or zero n, BM_E_NOSPACE if KissFFT cannot allocate. */
bm_err bm_fft_kiss_init(bm_fft_kiss *k, uint32_t n, bm_fft_ops *ops);
void bm_fft_kiss_free(bm_fft_kiss *k);

#endif
