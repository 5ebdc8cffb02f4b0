#ifndef DUBDECK_CKERNELS_H
#define DUBDECK_CKERNELS_H
/* The speaker encoder's inner loops, in C so they are optimised and vectorised in every build
 * (debug too), with AVX2+FMA (x86-64-v3) versions chosen at run time where the CPU has them.
 *
 * One matrix product serves every layer: a weight matrix W (N outputs × K inputs) is packed once
 * into panels of DD_PANEL outputs (panel p: K rows of DD_PANEL floats, the weights of outputs
 * 16p … 16p+15 for input k), so the product streams each panel in order and keeps 2 × MR vector
 * accumulators in registers. Each output is a plain sum over k in order, whatever the number of
 * rows, the panels asked for or the threads: the same input gives the same bits in every grouping. */

#define DD_PANEL 16

/* Floats a packed N × K matrix takes: ceil(N / 16) × 16 × K. */
long dd_packed_size(int N, int K);

/* Packs W (N × K, row-major, row n = output n's weights) into panels; outputs past N are zero. */
void dd_pack_panels(const float *W, int N, int K, float *packed);

/* C[m·ldc + n] = Σ_k A[m·lda + k] · W[n][k] (+ bias[n]) (+ C0[m·ldc0 + n]), for m < M and n in the
 * panels p0 ..< p0 + np (n = 16·p0 … 16·(p0 + np) − 1). bias and C0 may be NULL. Rows of A may
 * overlap (lda < K: the frames of a signal). */
void dd_gemm_panels(int M, int K, const float *A, long lda, const float *packed, int p0, int np,
                    const float *bias, const float *C0, long ldc0, float *C, long ldc);

/* Floats of scratch dd_lstm_layer needs. */
long dd_lstm_scratch_size(int H, int T, int B);

/* One LSTM layer (PyTorch gate order i, f, g, o) over B ≤ 8 sequences of T frames at once: x is
 * B × T × in; wih and whh are packed (4H × in, 4H × H), bias 4H (b_ih + b_hh); hseq receives
 * B × T × H hidden states. On `nthreads` threads (1 … 8), each owning a share of the hidden units:
 * its panels of the weights stay in its cache across steps; one barrier a step. H a multiple of 16. */
void dd_lstm_layer(const float *wih, const float *whh, const float *bias, int in, int H, int T, int B,
                   const float *x, float *hseq, float *scratch, int nthreads);

/* The pitch estimator's inner loop (YIN's cumulative mean normalised difference): for lags
 * 1 … maxLag, d(t) = Σ_{i<n} (x[i] − x[i+t])², then out[t−1] = d(t) · t / Σ_{j≤t} d(j) (1 where the
 * running sum is 0). x holds n + maxLag samples. */
void dd_yin_difference(const float *x, int n, int maxLag, float *out);

#endif
