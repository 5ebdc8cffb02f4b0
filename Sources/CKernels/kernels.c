#include "ckernels.h"
#include <math.h>

#if defined(__x86_64__) && defined(__clang__)
#define DD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DD_CLONES
#endif

/* Eight independent partial sums: the compiler keeps them in vector lanes. */
static inline __attribute__((always_inline)) float dd_dot(const float *a, const float *b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; l++) s[l] += a[i + l] * b[i + l];
    }
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

DD_CLONES
void dd_gemv(const float *W, int rows, int cols, const float *x, const float *bias, float *out) {
    for (int r = 0; r < rows; r++) out[r] = dd_dot(W + (long)r * cols, x, cols) + (bias ? bias[r] : 0.0f);
}

static inline float dd_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

DD_CLONES
void dd_lstm_layer(const float *wih, const float *whh, const float *bias, int in, int H, int T,
                   const float *x, float *hseq, float *scratch) {
    const int G = 4 * H;
    float *pre = scratch;               /* T × G: the input projection of every frame */
    float *gates = scratch + (long)T * G;
    for (int t = 0; t < T; t++) {
        const float *xt = x + (long)t * in;
        for (int r = 0; r < G; r++) pre[(long)t * G + r] = dd_dot(wih + (long)r * in, xt, in) + bias[r];
    }
    float h[1024], c[1024];
    if (H > 1024) return;
    for (int j = 0; j < H; j++) { h[j] = 0; c[j] = 0; }
    for (int t = 0; t < T; t++) {
        const float *p = pre + (long)t * G;
        for (int r = 0; r < G; r++) gates[r] = p[r] + dd_dot(whh + (long)r * H, h, H);
        for (int j = 0; j < H; j++) {
            float i = dd_sigmoid(gates[j]), f = dd_sigmoid(gates[H + j]);
            float g = tanhf(gates[2 * H + j]), o = dd_sigmoid(gates[3 * H + j]);
            c[j] = f * c[j] + i * g;
            h[j] = o * tanhf(c[j]);
            hseq[(long)t * H + j] = h[j];
        }
    }
}

/* w · v[b] for b < NB, w loaded once: one specialised body per batch size (no branch inside). */
#define DD_DOT_MULTI(NB)                                                                   \
    static inline __attribute__((always_inline)) void dd_dot_multi##NB(const float *w, const float *const *v, int n, float *out) { \
        float s[NB][8] = {{0}};                                                            \
        int i = 0;                                                                         \
        for (; i + 8 <= n; i += 8)                                                         \
            for (int b = 0; b < NB; b++)                                                   \
                for (int l = 0; l < 8; l++) s[b][l] += w[i + l] * v[b][i + l];             \
        for (int b = 0; b < NB; b++) {                                                     \
            float *p = s[b];                                                               \
            float t = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));   \
            for (int k = i; k < n; k++) t += w[k] * v[b][k];                               \
            out[b] = t;                                                                    \
        }                                                                                  \
    }
DD_DOT_MULTI(1)
DD_DOT_MULTI(2)
DD_DOT_MULTI(3)
DD_DOT_MULTI(4)

static inline __attribute__((always_inline)) void dd_dot_multi(const float *w, const float *const *v, int B, int n, float *out) {
    switch (B) {
    case 1: dd_dot_multi1(w, v, n, out); break;
    case 2: dd_dot_multi2(w, v, n, out); break;
    case 3: dd_dot_multi3(w, v, n, out); break;
    default: dd_dot_multi4(w, v, n, out); break;
    }
}

DD_CLONES
void dd_lstm_layer_batch(const float *wih, const float *whh, const float *bias, int in, int H, int T, int B,
                         const float *x, float *hseq, float *scratch) {
    if (B < 1 || B > 4 || H > 1024) return;
    const int G = 4 * H;
    float *pre = scratch;                   /* B × T × G */
    float *gates = scratch + (long)B * T * G; /* B × G */
    /* Input projections: each weight row against every frame of every sequence. */
    for (int r = 0; r < G; r++) {
        const float *w = wih + (long)r * in;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                pre[((long)b * T + t) * G + r] = dd_dot(w, x + ((long)b * T + t) * in, in) + bias[r];
    }
    static __thread float h[4][1024], c[4][1024];
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) { h[b][j] = 0; c[b][j] = 0; }
    const float *hv[4] = {h[0], h[1], h[2], h[3]};
    float out[4];
    for (int t = 0; t < T; t++) {
        for (int r = 0; r < G; r++) {
            dd_dot_multi(whh + (long)r * H, hv, B, H, out);
            for (int b = 0; b < B; b++) gates[(long)b * G + r] = pre[((long)b * T + t) * G + r] + out[b];
        }
        for (int b = 0; b < B; b++) {
            const float *g4 = gates + (long)b * G;
            for (int j = 0; j < H; j++) {
                float i = dd_sigmoid(g4[j]), f = dd_sigmoid(g4[H + j]);
                float g = tanhf(g4[2 * H + j]), o = dd_sigmoid(g4[3 * H + j]);
                c[b][j] = f * c[b][j] + i * g;
                h[b][j] = o * tanhf(c[b][j]);
                hseq[((long)b * T + t) * H + j] = h[b][j];
            }
        }
    }
}

DD_CLONES
void dd_dft_power(const float *cos_table, const float *sin_table, int bins, int n, const float *frame, float *power) {
    for (int k = 0; k < bins; k++) {
        float re = dd_dot(cos_table + (long)k * n, frame, n);
        float im = dd_dot(sin_table + (long)k * n, frame, n);
        power[k] = re * re + im * im;
    }
}
