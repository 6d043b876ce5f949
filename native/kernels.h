/*
 * alocc's compiled convolution kernels (a Node-API addon, built at install time by scripts/build-native.js with the
 * machine's C compiler and -march=native). They run on the wasm backend's own heap: JS passes HEAPF32 and the float
 * offsets of each tensor, so nothing is copied in or out. Every conv (forward, input gradient, filter gradient) is an
 * im2col block times a matrix in a register-tiled GEMM, split over a small pthread pool; wasm has no threads in Node
 * and 128-bit SIMD only, so these reach several times XNNPACK's speed on the same machine.
 * Layouts are tfjs's: NHWC activations, HWIO filters ([KH][KW][Ci][Co], i.e. a [KH*KW*Ci][Co] matrix).
 *
 * kernels.h: what the files share. gemm.c: the register-tiled matrix product; pool.c: the thread pool and per-thread
 * scratch; conv.c: im2col and the three convolutions; ops.c: channel sums and elementwise ops; addon.c: Node-API.
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
static inline vf ld(const float *p) { return *(const vfu *)p; }
static inline void st(float *p, vf v) { *(vfu *)p = v; }
static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int round_up(int a, int b) { return (a + b - 1) / b * b; }


/* C[M][N] (+)= A[M][K] · B[K][N] with A(i, k) = A[i*sa + k*sk]; N a multiple of VW. */
void gemm(int M, int N, int K, const float *A, long sa, long sk, const float *B, long ldb, float *C, long ldc, int accumulate);

/* Runs job(arg, tid) on every active thread (the caller is tid 0) and returns when all are done. */
typedef void (*job_fn)(void *arg, int tid);
extern int active_threads;
int pool_start(int n);
void parallel(job_fn job, void *arg);
/* Scratch buffer `which` (0 or 1) of thread `tid`, at least `floats` long; it only grows. */
float *thread_scratch(int tid, int which, size_t floats);

typedef struct {
  int N, H, W, Ci, KH, KW, Co, OH, OW, SH, SW, PT, PL;
} geometry;
enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_LEAKYRELU = 3 };
void conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float *y, int act, float alpha);
void conv_filter_grad(const geometry *g, const float *x, const float *dy, float *dw);
void conv_input_grad(const geometry *g, const float *dy, const float *w, float *dx);

/* out[c] = scale · Σ_r x[r][c] */
void column_sums(const float *x, long rows, int cols, float scale, float *out);
enum { MAP_LEAKYRELU = 0, MAP_LEAKYRELU_GRAD = 1 };
/* LEAKYRELU: out = a > 0 ? a : alpha·a; LEAKYRELU_GRAD (a = x, b = dy): out = a > 0 ? b : alpha·b. */
void elementwise(int op, const float *a, const float *b, float *out, long n, float alpha);
#endif
