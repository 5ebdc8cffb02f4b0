#ifndef DUBDECK_CKERNELS_H
#define DUBDECK_CKERNELS_H
/* The speaker encoder's inner loops (matrix-vector products, an LSTM layer, the windowed DFT power
 * spectrum), in C so they are optimised and vectorised in every build (debug too), with AVX2
 * versions chosen at run time where the CPU has it. */

/* out[r] = dot(W[r, 0..<cols], x) + (bias ? bias[r] : 0), for r in 0..<rows. */
void dd_gemv(const float *W, int rows, int cols, const float *x, const float *bias, float *out);

/* One LSTM layer (PyTorch gate order i, f, g, o) over B ≤ 4 sequences of T frames at once: x is
 * B × T × in, wih 4H × in, whh 4H × H, bias 4H (b_ih + b_hh); hseq receives B × T × H hidden states;
 * every weight row is loaded once per step for all B. scratch: B × 4H × (T + 1) floats. */
void dd_lstm_layer_batch(const float *wih, const float *whh, const float *bias, int in, int H, int T, int B,
                         const float *x, float *hseq, float *scratch);

/* dd_lstm_layer_batch on `nthreads` threads, each owning a share of the hidden units (its rows of
 * the weights stay in its cache). scratch: B × 4H × T + 2 × B × H floats. */
void dd_lstm_layer_mt(const float *wih, const float *whh, const float *bias, int in, int H, int T, int B,
                      const float *x, float *hseq, float *scratch, int nthreads);

/* power[k] = |sum_j frame[j] e^{-2πi kj/n}|² for k in 0..<bins, from cos/sin tables (bins × n). */
void dd_dft_power(const float *cos_table, const float *sin_table, int bins, int n, const float *frame, float *power);

#endif
