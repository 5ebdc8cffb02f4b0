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

/* exp(x) for |x| ≤ 88 as 2^k · p(r) (Cephes' polynomial, relative error ~1e-7), branch-free so a
 * loop of it vectorises; inputs are clamped to the range where float exp is finite. */
static inline __attribute__((always_inline)) float dd_exp(float x) {
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

static inline __attribute__((always_inline)) void dd_sigmoid_array(float *v, int n) {
    for (int k = 0; k < n; k++) v[k] = 1.0f / (1.0f + dd_exp(-v[k]));
}

/* tanh(x) = 2σ(2x) − 1 (absolute error ~1e-7, enough: the encoder is checked to 1e-4). */
static inline __attribute__((always_inline)) void dd_tanh_array(float *v, int n) {
    for (int k = 0; k < n; k++) v[k] = 2.0f / (1.0f + dd_exp(-2.0f * v[k])) - 1.0f;
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

/* ---- The same layer on two threads, each owning half of the hidden units ----------------------
 * A thread computes the four gate rows (i, f, g, o) of its hidden units j for every sequence, so
 * its quarter-rows of W_hh (128 × 4 rows × 256 = 512 KiB) stay in its own cache across steps
 * instead of all 1 MiB being streamed from memory at every step. Two spin barriers per step. */
#include <pthread.h>
#include <stdatomic.h>

typedef struct {
    const float *wih, *whh, *bias, *x;
    float *hseq, *pre, *h;  /* h: B × H, shared */
    float *c;               /* B × H */
    int in, H, T, B, nthreads;
    atomic_int arrived;
    atomic_int generation;
    atomic_int go;  /* set once every thread is created: the count they share is final */
} dd_mt_job;

typedef struct { dd_mt_job *job; int id; } dd_mt_arg;

static void dd_barrier(dd_mt_job *job) {
    int gen = atomic_load_explicit(&job->generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&job->arrived, 1, memory_order_acq_rel) == job->nthreads - 1) {
        atomic_store_explicit(&job->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&job->generation, 1, memory_order_release);
    } else {
        while (atomic_load_explicit(&job->generation, memory_order_acquire) == gen) { }
    }
}

DD_CLONES
static void dd_mt_run(dd_mt_job *job, int id) {
    const int H = job->H, G = 4 * H, T = job->T, B = job->B, in = job->in;
    const int per = H / job->nthreads, j0 = id * per, j1 = (id == job->nthreads - 1) ? H : j0 + per;
    /* Input projections of this thread's rows. */
    for (int q = 0; q < 4; q++)
        for (int j = j0; j < j1; j++) {
            int r = q * H + j;
            const float *w = job->wih + (long)r * in;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    job->pre[((long)b * T + t) * G + r] = dd_dot(w, job->x + ((long)b * T + t) * in, in) + job->bias[r];
        }
    for (int b = 0; b < B; b++)
        for (int j = j0; j < j1; j++) { job->h[(long)b * H + j] = 0; job->c[(long)b * H + j] = 0; }
    float hnew[4][1024];
    dd_barrier(job);
    const float *hv[4] = {job->h, job->h + H, job->h + 2 * H, job->h + 3 * H};
    float dots[4][4];
    float gi[4][512], gf[4][512], gg[4][512], go[4][512];  /* this thread's units (≤ 512) per sequence */
    const int n = j1 - j0;
    if (n > 512) return;
    for (int t = 0; t < T; t++) {
        for (int j = j0; j < j1; j++) {
            /* Each of the unit's four weight rows is read once for every sequence. */
            for (int q = 0; q < 4; q++) dd_dot_multi(job->whh + (long)(q * H + j) * H, hv, B, H, dots[q]);
            for (int b = 0; b < B; b++) {
                const float *p = job->pre + ((long)b * T + t) * G;
                gi[b][j - j0] = p[j] + dots[0][b];
                gf[b][j - j0] = p[H + j] + dots[1][b];
                gg[b][j - j0] = p[2 * H + j] + dots[2][b];
                go[b][j - j0] = p[3 * H + j] + dots[3][b];
            }
        }
        /* The activations over whole arrays: plain loops the compiler vectorises. */
        for (int b = 0; b < B; b++) {
            dd_sigmoid_array(gi[b], n);
            dd_sigmoid_array(gf[b], n);
            dd_tanh_array(gg[b], n);
            dd_sigmoid_array(go[b], n);
            float *cb = job->c + (long)b * H + j0;
            float tc[512];
            for (int k = 0; k < n; k++) { cb[k] = gf[b][k] * cb[k] + gi[b][k] * gg[b][k]; tc[k] = cb[k]; }
            dd_tanh_array(tc, n);
            for (int k = 0; k < n; k++) hnew[b][j0 + k] = go[b][k] * tc[k];
        }
        dd_barrier(job);  /* everyone has read h of step t−1 */
        for (int b = 0; b < B; b++)
            for (int j = j0; j < j1; j++) {
                job->h[(long)b * H + j] = hnew[b][j];
                job->hseq[((long)b * T + t) * H + j] = hnew[b][j];
            }
        dd_barrier(job);  /* h of step t is complete */
    }
}

static void *dd_mt_thread(void *p) {
    dd_mt_arg *a = (dd_mt_arg *)p;
    while (!atomic_load_explicit(&a->job->go, memory_order_acquire)) { }
    dd_mt_run(a->job, a->id);
    return NULL;
}

void dd_lstm_layer_mt(const float *wih, const float *whh, const float *bias, int in, int H, int T, int B,
                      const float *x, float *hseq, float *scratch, int nthreads) {
    if (B < 1 || B > 4 || H > 1024 || nthreads < 1 || nthreads > 8) return;
    dd_mt_job job = {.wih = wih, .whh = whh, .bias = bias, .x = x, .hseq = hseq, .pre = scratch,
                     .h = scratch + (long)B * T * 4 * H, .c = scratch + (long)B * T * 4 * H + (long)B * H,
                     .in = in, .H = H, .T = T, .B = B, .nthreads = nthreads};
    atomic_init(&job.arrived, 0);
    atomic_init(&job.generation, 0);
    atomic_init(&job.go, 0);
    pthread_t threads[8];
    dd_mt_arg args[8];
    /* A thread that cannot be created leaves its share to fewer threads: the count is fixed before
     * any of them starts, so no barrier waits for a thread that does not exist. */
    for (int k = 1; k < nthreads; k++) {
        args[k] = (dd_mt_arg){&job, k};
        if (pthread_create(&threads[k], NULL, dd_mt_thread, &args[k]) != 0) { job.nthreads = k; break; }
    }
    atomic_store_explicit(&job.go, 1, memory_order_release);
    dd_mt_run(&job, 0);
    for (int k = 1; k < job.nthreads; k++) pthread_join(threads[k], NULL);
}
