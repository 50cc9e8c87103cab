/*
 * fft.h — the one FFT the core uses, supplied by the platform.
 *
 * Purpose: the harmonic analysis needs one real forward FFT of n points per
 * channel and window. The core does not carry an FFT of its own: the Linux
 * platform fills this with KissFFT (platform/linux/fft_kiss.c, Debian
 * libkissfft-dev, BSD); an MCU port fills it with CMSIS-DSP's
 * arm_rfft_fast_f32 (docs/porting.md).
 *
 * Contract: `rfft(ctx, in, out)` transforms n real samples `in` into n/2+1
 * complex bins written as out[2k] = Re X_k, out[2k+1] = Im X_k for
 * k = 0..n/2, with X_k = Σ_m in[m]·e^{-j2πkm/n} (no scaling). It must not
 * modify `in`, allocate, or fail; n is a power of two the port supports.
 */
#ifndef BM_FFT_H
#define BM_FFT_H

#include <stdint.h>

typedef struct bm_fft_ops {
	void *ctx;
	uint32_t n;
	void (*rfft)(void *ctx, const float *in, float *out);
} bm_fft_ops;

#endif /* BM_FFT_H */
