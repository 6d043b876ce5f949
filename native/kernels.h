/*
 * alocc's compiled convolution kernels (a Node-API addon, built at install time by scripts/build-native.js with the
 * machine's C compiler). They run on the wasm backend's own heap: JS passes HEAPF32 and the float offsets of each
 * tensor, so nothing is copied in or out. Every conv (forward, input gradient, filter gradient) is an im2col block
 * times a matrix in a register-tiled GEMM, split over a small pthread pool; wasm has no threads in Node and 128-bit
 * SIMD only, so these reach several times XNNPACK's speed on the same machine.
 * Layouts are tfjs's: NHWC activations, HWIO filters ([KH][KW][Ci][Co], i.e. a [KH*KW*Ci][Co] matrix).
 *
 * The addon is built for the baseline instruction set, so it loads on any CPU of its architecture. gemm.c,
 * conv.c and pooled.c (the hot code) are compiled once per instruction set, with ALOCC_ISA naming it (avx512, avx2,
 * baseline) and its -m flags; isa.c picks the best one the CPU runs at load time (setIsa forces one).
 *
 * kernels.h: what the files share. gemm.c: the register-tiled matrix product; conv.c: im2col and the three
 * convolutions; pooled.c: the knn features' conv, LeakyReLU and cell means (and maxima) in one pass; isa.c: the
 * per-ISA table; pool.c: the thread pool and per-thread scratch; ops.c: channel sums, elementwise and per-channel
 * ops, RMSprop, upsampling; addon.c: Node-API, the bounds checks (addon.h) and the convolutions' entry points;
 * addon-ops.c: the other ops' entry points.
 */
#ifndef ALOCC_KERNELS_H
#define ALOCC_KERNELS_H
#include <stddef.h>

#if defined(__AVX512F__)
#define VW 16
#define MR 8
#elif defined(__AVX__)
#define VW 8
#define MR 6
#else
#define VW 4
#define MR 4
#endif
#define KC 256
#define MAX_THREADS 64

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));
typedef int vi __attribute__((vector_size(VW * 4))); /* lane masks: a comparison of two vf gives -1 or 0 per lane */
static inline vf ld(const float *p) { return *(const vfu *)p; }
static inline void st(float *p, vf v) { *(vfu *)p = v; }
static inline int imin(int a, int b) { return a < b ? a : b; }
static inline size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }

/* Results of the kernels: an allocation that fails is reported, never dereferenced. */
enum { KERNEL_OK = 0, KERNEL_NO_MEMORY = 1, KERNEL_UNSUPPORTED = 2 };

typedef struct {
  int N, H, W, Ci, KH, KW, Co, OH, OW, SH, SW, PT, PL;
} geometry;
enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_LEAKYRELU = 3 };

/* The per-ISA objects give every ISA-specific symbol a suffix (conv_forward → conv_forward_avx2), so the three
 * copies link side by side; isa.c names them explicitly. */
#ifdef ALOCC_ISA
#define ISA_CAT_(a, b) a##_##b
#define ISA_CAT(a, b) ISA_CAT_(a, b)
#define gemm ISA_CAT(gemm, ALOCC_ISA)
#define conv_forward ISA_CAT(conv_forward, ALOCC_ISA)
#define conv_filter_grad ISA_CAT(conv_filter_grad, ALOCC_ISA)
#define conv_input_grad ISA_CAT(conv_input_grad, ALOCC_ISA)
#define conv_vector_width ISA_CAT(conv_vector_width, ALOCC_ISA)
#define pooled_conv_forward ISA_CAT(pooled_conv_forward, ALOCC_ISA)
#define conv_narrow_usable ISA_CAT(conv_narrow_usable, ALOCC_ISA)
#define conv_narrow_forward_wins ISA_CAT(conv_narrow_forward_wins, ALOCC_ISA)
#define conv_narrow_forward ISA_CAT(conv_narrow_forward, ALOCC_ISA)
#define conv_narrow_filter_grad ISA_CAT(conv_narrow_filter_grad, ALOCC_ISA)

/* C[M][N] (+)= A[M][K] · B[K][N] with A(i, k) = A[i*sa + k*sk]; N a multiple of VW. */
void gemm(int M, int N, int K, const float *A, long sa, long sk, const float *B, long ldb, float *C, long ldc, int accumulate);
int conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float *y, int act, float alpha);
int conv_filter_grad(const geometry *g, const float *x, const float *dy, float *dw);
int conv_input_grad(const geometry *g, const float *dy, const float *w, float *dx);
/* Stride-1 conv (padding g->PT, g->PL; output H×W), bias, LeakyReLU, averaged over pool×pool cells into
 * y[N][H/pool][W/pool][Co], or with with_max into y[N][2][H/pool][W/pool][Co], the cells' means then their maxima;
 * KERNEL_UNSUPPORTED beyond 512 outputs. */
int pooled_conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float alpha, int pool,
                        int with_max, float *y);
extern const int conv_vector_width;
/* conv-narrow.c: direct convs for Co a multiple of 8 up to 64 and a filter of at most NARROW_FILTER floats, the
 * rotation net's one-channel first conv and 8-output convs under AVX-512 (conv.c decides when). */
#define NARROW_FILTER 4608
int conv_narrow_usable(const geometry *g);
int conv_narrow_forward_wins(const geometry *g);
int conv_narrow_forward(const geometry *g, const float *x, const float *w, const float *bias, float *y, int act, float alpha);
int conv_narrow_filter_grad(const geometry *g, const float *x, const float *dy, float *dw);
#endif

/* One instruction set's kernels (isa.c). */
typedef struct {
  const char *name;
  const int *vector_width; /* the object's own VW: floats per SIMD register */
  int (*conv_forward)(const geometry *, const float *, const float *, const float *, float *, int, float);
  int (*conv_filter_grad)(const geometry *, const float *, const float *, float *);
  int (*conv_input_grad)(const geometry *, const float *, const float *, float *);
  int (*pooled_conv_forward)(const geometry *, const float *, const float *, const float *, float, int, int, float *);
} isa_kernels;
/* The ISAs compiled in, best first, and how many; whether this CPU runs ISAS[i]. */
extern const isa_kernels ISAS[];
extern const int ISA_COUNT;
int isa_supported(int i);

/* Runs job(arg, tid) on every active thread (the caller is tid 0) and returns when all are done. */
typedef void (*job_fn)(void *arg, int tid);
extern int active_threads;
int pool_start(int n);
void parallel(job_fn job, void *arg);
/* Claims into *taken the next of `count` blocks of a job from its shared counter (every thread of the job pulls
 * from the same one, so faster threads take more); false once all are taken. */
static inline int next_block(long *counter, long count, long *taken) {
  *taken = __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
  return *taken < count;
}
/* Scratch buffer `which` (0 or 1) of thread `tid`, at least `floats` long; it only grows. NULL when the allocation
 * fails. Kernels reserve every active thread's scratch on the calling thread before parallel(), so a failure is
 * seen there and the jobs only get buffers that exist. */
float *thread_scratch(int tid, int which, size_t floats);
int reserve_scratch(int which, size_t floats);

/* out[c] = max_r x[r·stride + c] for c < cols: each anomaly-map cell's nearest memory cell (src/score/cell-search.ts) */
void column_max(const float *x, long rows, int cols, long stride, float *out);
/* out [t, ⌈side/2⌉, ⌈side/2⌉, ch] = x [t, side, side, ch] max-pooled over 2×2 cells at stride 2, the cells clipped at an
 * odd side's last row and column (tfjs's 'same' max pool, whose padding never wins) */
void max_pool2(const float *x, long t, int side, int ch, float *out);
void max_pool2_grad(const float *x, const float *dy, long t, int side, int ch, float *dx);
/* batchnorm.c: BatchNorm in training over rows of ch channels (ch must divide 256: bn_channels_usable): y =
 * (x − mean)·γ/sqrt(variance + eps) + β with the batch's mean and (biased) variance, which it also writes; and its
 * gradient dx, dγ, dβ given dy, the same x, mean and variance. */
int bn_channels_usable(int ch);
void bn_train_forward(const float *x, long rows, int ch, const float *gamma, const float *beta, float eps, float *y,
                      float *mean, float *variance);
void bn_train_backward(const float *x, const float *dy, long rows, int ch, const float *gamma, const float *mean,
                       const float *variance, float eps, float *dx, float *dgamma, float *dbeta);
/* out[c] = scale · Σ_r x[r][c] */
int column_sums(const float *x, long rows, int cols, float scale, float *out);
/* out[c] = Σ_r x[r][c]·(y[r][c] − mean[c]), each term rounded as tfjs rounds it: the BatchNorm gradient's second sum. */
int column_product_sums(const float *x, const float *y, const float *mean, long rows, int cols, float *out);
enum {
  MAP_LEAKYRELU = 0, MAP_LEAKYRELU_GRAD = 1, MAP_CHANNEL_AFFINE = 2, MAP_SQUARE_GRAD = 10,
  /* channel_op's: out = x·v, x + v, x − v, v − x, x / v, v / x, v, with v one value per channel */
  MAP_CHANNEL_MUL = 3, MAP_CHANNEL_ADD, MAP_CHANNEL_SUB, MAP_CHANNEL_SUB_FROM, MAP_CHANNEL_DIV, MAP_CHANNEL_DIV_INTO,
  MAP_CHANNEL_SPREAD
};
/* LEAKYRELU: out = a > 0 ? a : alpha·a; LEAKYRELU_GRAD (a = x, b = dy): out = a > 0 ? b : alpha·b; SQUARE_GRAD
 * (a = x, b = dy): out = b·(a·2). */
void elementwise(int op, const float *a, const float *b, float *out, long n, float alpha);
/* BatchNorm with given statistics: out[r][k] = (x[r][k] − mean[k])·mult[k] + offset[k] over rows of `channels`
 * values (n a multiple of it); coefficients = [mean | mult | offset], `channels` floats each. */
void channel_affine(const float *x, const float *coefficients, float *out, long n, int channels);
/* out[r][k] = x[r][k] op v[k] over rows of `channels` values (n a multiple of it), op one of MAP_CHANNEL_MUL …
 * MAP_CHANNEL_SPREAD (which reads no x). */
void channel_op(int op, const float *x, const float *v, float *out, long n, int channels);
/* One RMSprop update of n weights, gradients clipped to ±clip first: in = value, mean square, moment, gradient;
 * out = their new values (the first three); k = learning rate, decay, 1 − decay, momentum, epsilon, clip. */
void rmsprop(const float *const in[4], float *const out[3], long n, const float k[6]);
/* Nearest-neighbour upsampling of x [n][h][w][c] by whole factors fh × fw into y [n][h·fh][w·fw][c] (grad 0), or its
 * gradient (grad 1): in = dy [n][h·fh][w·fw][c], out = dx [n][h][w][c], each pixel the sum of its block. */
void upsample(int grad, const float *in, float *out, long n, int h, int w, int c, int fh, int fw);
/* values[0, n) ← the n IEEE half floats stored in the upper half of those floats' bytes, exactly (half.c). */
void widen_halves_in_place(float *values, long n);
#endif
