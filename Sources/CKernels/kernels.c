#include "ckernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define DD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DD_CLONES
#endif
#define DD_INLINE static inline __attribute__((always_inline))

/* Eight floats: AVX registers where the clone has them, two SSE (or NEON) registers elsewhere. */
typedef float dd_v8 __attribute__((vector_size(32)));
typedef float dd_v8u __attribute__((vector_size(32), aligned(4)));

DD_INLINE dd_v8 dd_load(const float *p) { return *(const dd_v8u *)p; }
DD_INLINE void dd_store(float *p, dd_v8 v) { *(dd_v8u *)p = v; }
DD_INLINE dd_v8 dd_splat(float a) { return (dd_v8){a, a, a, a, a, a, a, a}; }

long dd_packed_size(int N, int K) { return (long)((N + DD_PANEL - 1) / DD_PANEL) * DD_PANEL * K; }

void dd_pack_panels(const float *W, int N, int K, float *packed) {
    int panels = (N + DD_PANEL - 1) / DD_PANEL;
    for (int p = 0; p < panels; p++)
        for (int k = 0; k < K; k++)
            for (int c = 0; c < DD_PANEL; c++) {
                int n = p * DD_PANEL + c;
                packed[((long)p * K + k) * DD_PANEL + c] = n < N ? W[(long)n * K + k] : 0.0f;
            }
}

/* MR rows × NP panels: 2·MR·NP accumulators (≤ 12 of the 16 AVX registers), each output one sum
 * in k order. Few rows take more panels at once, so there are always enough independent sums to
 * hide the FMA latency. */
#define DD_KERNEL(MR, NP)                                                                                    \
    DD_INLINE void dd_kernel_##MR##_##NP(int K, const float *A, long lda, const float *P, const float *bias, \
                                         const float *C0, long ldc0, float *C, long ldc) {                   \
        dd_v8 acc[MR][2 * NP];                                                                               \
        for (int i = 0; i < MR; i++)                                                                         \
            for (int v = 0; v < 2 * NP; v++) acc[i][v] = dd_splat(0);                                        \
        const long stride = (long)K * DD_PANEL;                                                              \
        for (int k = 0; k < K; k++) {                                                                        \
            dd_v8 w[2 * NP];                                                                                 \
            for (int q = 0; q < NP; q++) {                                                                   \
                w[2 * q] = dd_load(P + q * stride + (long)k * DD_PANEL);                                     \
                w[2 * q + 1] = dd_load(P + q * stride + (long)k * DD_PANEL + 8);                             \
            }                                                                                                \
            for (int i = 0; i < MR; i++) {                                                                   \
                dd_v8 a = dd_splat(A[i * lda + k]);                                                          \
                for (int v = 0; v < 2 * NP; v++) acc[i][v] += a * w[v];                                      \
            }                                                                                                \
        }                                                                                                    \
        for (int i = 0; i < MR; i++)                                                                         \
            for (int v = 0; v < 2 * NP; v++) {                                                               \
                dd_v8 s = acc[i][v];                                                                         \
                if (bias) s += dd_load(bias + v * 8);                                                        \
                if (C0) s += dd_load(C0 + i * ldc0 + v * 8);                                                 \
                dd_store(C + i * ldc + v * 8, s);                                                            \
            }                                                                                                \
    }
DD_KERNEL(1, 6)
DD_KERNEL(1, 1)
DD_KERNEL(2, 3)
DD_KERNEL(2, 1)
DD_KERNEL(3, 2)
DD_KERNEL(3, 1)
DD_KERNEL(4, 1)
DD_KERNEL(5, 1)
DD_KERNEL(6, 1)

/* The panels p0 ..< p0 + np for MR rows (1 … 6): as many panels a call as MR leaves registers for. */
#define DD_ROWS(MR, NP)                                                                                     \
    case MR: {                                                                                              \
        int p = 0;                                                                                          \
        for (; p + NP <= np; p += NP) {                                                                     \
            long n = (long)(p0 + p) * DD_PANEL;                                                             \
            dd_kernel_##MR##_##NP(K, A, lda, packed + (long)(p0 + p) * K * DD_PANEL, bias ? bias + n : 0,    \
                                  C0 ? C0 + n : 0, ldc0, C + n, ldc);                                       \
        }                                                                                                   \
        for (; p < np; p++) {                                                                               \
            long n = (long)(p0 + p) * DD_PANEL;                                                             \
            dd_kernel_##MR##_1(K, A, lda, packed + (long)(p0 + p) * K * DD_PANEL, bias ? bias + n : 0,       \
                               C0 ? C0 + n : 0, ldc0, C + n, ldc);                                          \
        }                                                                                                   \
        break;                                                                                              \
    }

DD_INLINE void dd_rows(int MR, int K, const float *A, long lda, const float *packed, int p0, int np,
                       const float *bias, const float *C0, long ldc0, float *C, long ldc) {
    switch (MR) {
        DD_ROWS(1, 6)
        DD_ROWS(2, 3)
        DD_ROWS(3, 2)
        DD_ROWS(4, 1)
        DD_ROWS(5, 1)
        DD_ROWS(6, 1)
    default: break;
    }
}

DD_INLINE void dd_gemm(int M, int K, const float *A, long lda, const float *packed, int p0, int np,
                       const float *bias, const float *C0, long ldc0, float *C, long ldc) {
    /* Six rows at a time (the last block smaller); within a block every panel once. A panel of
     * 256 inputs is 16 KiB: it stays in L1 while the rows of the block go past it. */
    for (int m = 0; m < M; m += 6) {
        int rows = M - m < 6 ? M - m : 6;
        dd_rows(rows, K, A + (long)m * lda, lda, packed, p0, np, bias, C0 ? C0 + (long)m * ldc0 : 0, ldc0,
                C + (long)m * ldc, ldc);
    }
}

DD_CLONES
void dd_gemm_panels(int M, int K, const float *A, long lda, const float *packed, int p0, int np,
                    const float *bias, const float *C0, long ldc0, float *C, long ldc) {
    dd_gemm(M, K, A, lda, packed, p0, np, bias, C0, ldc0, C, ldc);
}

/* exp(x) for |x| ≤ 88 as 2^k · p(r) (Cephes' polynomial, relative error ~1e-7), branch-free so a
 * loop of it vectorises; inputs are clamped to the range where float exp is finite. */
DD_INLINE float dd_exp(float x) {
    x = x > 88.0f ? 88.0f : (x < -88.0f ? -88.0f : x);
    float k = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int i; } u;
    u.i = ((int)k + 127) << 23;
    return p * u.f;
}

DD_INLINE float dd_sigmoid(float x) { return 1.0f / (1.0f + dd_exp(-x)); }

/* tanh(x) = 2σ(2x) − 1 (absolute error ~1e-7, enough: the encoder is checked to 1e-4). */
DD_INLINE float dd_tanh(float x) { return 2.0f / (1.0f + dd_exp(-2.0f * x)) - 1.0f; }

/* The cell update of units j0 ..< j0 + n of one sequence from its 4H gate pre-activations. */
DD_INLINE void dd_lstm_cell(const float *restrict g, int H, int j0, int n, float *restrict c, float *restrict h,
                            float *restrict hseq) {
    for (int j = j0; j < j0 + n; j++) {
        float i = dd_sigmoid(g[j]), f = dd_sigmoid(g[H + j]), u = dd_tanh(g[2 * H + j]), o = dd_sigmoid(g[3 * H + j]);
        float cn = f * c[j] + i * u;
        c[j] = cn;
        float hn = o * dd_tanh(cn);
        h[j] = hn;
        hseq[j] = hn;
    }
}

/* ---- One layer on n threads, each owning a share of the hidden units ---------------------------
 * A thread computes the four gates (i, f, g, o) of its units for every sequence, so its panels of
 * W_hh (with two threads 4 × 128 outputs × 256 inputs = 512 KiB) stay in its own cache across
 * steps. The hidden state is double-buffered (step t reads buffer t % 2 and writes the other), so
 * one barrier a step is enough: after it, everyone has written step t and nobody reads t − 1. */

typedef struct {
    const float *wih, *whh, *bias, *x;
    float *hseq, *pre, *gates, *h, *c;
    int in, H, T, B, nthreads;
    atomic_int arrived;
    atomic_int generation;
    atomic_int go; /* set once every thread is created: the count they share is final */
} dd_layer_job;

typedef struct { dd_layer_job *job; int id; } dd_layer_arg;

static void dd_barrier(dd_layer_job *job) {
    if (job->nthreads == 1) return;
    int gen = atomic_load_explicit(&job->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&job->arrived, 1, memory_order_acq_rel) == job->nthreads - 1) {
        atomic_store_explicit(&job->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&job->generation, 1, memory_order_release);
    } else {
        while (atomic_load_explicit(&job->generation, memory_order_acquire) == gen) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

long dd_lstm_scratch_size(int H, int T, int B) { return (long)B * T * 4 * H + (long)B * 4 * H + 3L * B * H; }

DD_CLONES
static void dd_layer_run(dd_layer_job *job, int id) {
    const int H = job->H, G = 4 * H, T = job->T, B = job->B;
    /* Shares in whole panels: 16 units. */
    const int per = ((H / job->nthreads + DD_PANEL - 1) / DD_PANEL) * DD_PANEL;
    const int j0 = id * per < H ? id * per : H, j1 = j0 + per < H ? j0 + per : H, n = j1 - j0;
    const int np = n / DD_PANEL;
    /* Input projections of this thread's outputs, for every frame of every sequence. */
    for (int q = 0; q < 4 && np > 0; q++)
        dd_gemm(B * T, job->in, job->x, job->in, job->wih, (q * H + j0) / DD_PANEL, np, job->bias, 0, 0, job->pre, G);
    for (int b = 0; b < B; b++)
        for (int j = j0; j < j1; j++) { job->h[(long)b * H + j] = 0; job->c[(long)b * H + j] = 0; }
    dd_barrier(job);
    for (int t = 0; t < T; t++) {
        const float *hin = job->h + (long)(t & 1) * B * H;
        float *hout = job->h + (long)((t + 1) & 1) * B * H;
        for (int q = 0; q < 4 && np > 0; q++)
            dd_gemm(B, H, hin, H, job->whh, (q * H + j0) / DD_PANEL, np, 0, job->pre + (long)t * G, (long)T * G,
                    job->gates, G);
        for (int b = 0; b < B; b++)
            dd_lstm_cell(job->gates + (long)b * G, H, j0, n, job->c + (long)b * H, hout + (long)b * H,
                         job->hseq + ((long)b * T + t) * H);
        dd_barrier(job);
    }
}

static void *dd_layer_thread(void *p) {
    dd_layer_arg *a = (dd_layer_arg *)p;
    while (!atomic_load_explicit(&a->job->go, memory_order_acquire)) { }
    dd_layer_run(a->job, a->id);
    return NULL;
}

void dd_lstm_layer(const float *wih, const float *whh, const float *bias, int in, int H, int T, int B,
                   const float *x, float *hseq, float *scratch, int nthreads) {
    if (B < 1 || B > 8 || H % DD_PANEL != 0 || H > 4096 || nthreads < 1 || nthreads > 8) return;
    const long G = 4L * H;
    dd_layer_job job = {.wih = wih, .whh = whh, .bias = bias, .x = x, .hseq = hseq, .pre = scratch,
                        .gates = scratch + (long)B * T * G, .h = scratch + (long)B * T * G + B * G,
                        .c = scratch + (long)B * T * G + B * G + 2L * B * H,
                        .in = in, .H = H, .T = T, .B = B, .nthreads = nthreads};
    atomic_init(&job.arrived, 0);
    atomic_init(&job.generation, 0);
    atomic_init(&job.go, 0);
    pthread_t threads[8];
    dd_layer_arg args[8];
    /* A thread that cannot be created leaves its share to fewer threads: the count is fixed before
     * any of them starts, so no barrier waits for a thread that does not exist. */
    for (int k = 1; k < nthreads; k++) {
        args[k] = (dd_layer_arg){&job, k};
        if (pthread_create(&threads[k], NULL, dd_layer_thread, &args[k]) != 0) { job.nthreads = k; break; }
    }
    atomic_store_explicit(&job.go, 1, memory_order_release);
    dd_layer_run(&job, 0);
    for (int k = 1; k < job.nthreads; k++) pthread_join(threads[k], NULL);
}

void dd_yin_difference(const float *x, int n, int maxLag, float *out) {
    double running = 0;
    for (int t = 1; t <= maxLag; t++) {
        float d = 0;
        for (int i = 0; i < n; i++) {
            float e = x[i] - x[i + t];
            d += e * e;
        }
        running += d;
        out[t - 1] = running > 0 ? (float)((double)d * t / running) : 1.0f;
    }
}
